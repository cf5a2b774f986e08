//! Where a `Net`'s packets go: a TUN device, or an in-memory link to another `Net`.
//!
//! The driver owns its device outright (not under the stack's mutex), so it can wait on
//! it without holding the lock.
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;
use synack_tun::Tun;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::time::Instant as TInstant;

/// Packets read per round at most, so a flood cannot starve the timers and the
/// applications (the idea of net.core.netdev_max_backlog).
const BATCH: usize = 256;

/// Packets an in-memory link holds before it drops, like a full device queue.
pub(crate) const LINK_QUEUE: usize = 8192;

/// The TUN device as tokio's reactor sees it: a non-blocking descriptor.
pub(crate) struct TunIo(Tun);

impl AsRawFd for TunIo {
    fn as_raw_fd(&self) -> RawFd {
        self.0.raw_fd()
    }
}

/// One packet on an in-memory link, with the moment it reaches the other end.
pub(crate) struct Packet {
    due: TInstant,
    bytes: Vec<u8>,
}

/// One direction pair of an in-memory link: what the peer sends us, what we send it.
pub(crate) struct Memory {
    rx: mpsc::Receiver<Packet>,
    tx: mpsc::Sender<Packet>,
    /// Packets received from the channel but not yet due (the link's latency).
    held: VecDeque<Packet>,
    latency: Duration,
    /// False once the peer's driver is gone.
    rx_open: bool,
}

pub(crate) enum Device {
    Tun(Box<AsyncFd<TunIo>>),
    Memory(Memory),
}

impl Device {
    /// Register the TUN device with tokio's reactor (needs a runtime with IO enabled).
    pub(crate) fn tun(tun: Tun) -> io::Result<Device> {
        // tokio 1.54 deprecates the safe `AsyncFd::new` for the `unsafe fn register`,
        // whose contract is that `as_raw_fd` names one open descriptor for the AsyncFd's
        // whole life. `TunIo` keeps that contract by construction: it owns the `Tun`,
        // whose `File` stays open until the `TunIo` is dropped (with the AsyncFd), and
        // nothing swaps it. This crate forbids `unsafe`, so it calls the safe spelling.
        #[allow(deprecated)]
        let fd = AsyncFd::new(TunIo(tun))?;
        Ok(Device::Tun(Box::new(fd)))
    }

    /// Two devices joined back to back, each delivering what the other sends after
    /// `latency`.
    pub(crate) fn pair(latency: Duration) -> (Device, Device) {
        let (tx_ab, rx_ab) = mpsc::channel(LINK_QUEUE);
        let (tx_ba, rx_ba) = mpsc::channel(LINK_QUEUE);
        let a = Memory {
            rx: rx_ba,
            tx: tx_ab,
            held: VecDeque::new(),
            latency,
            rx_open: true,
        };
        let b = Memory {
            rx: rx_ab,
            tx: tx_ba,
            held: VecDeque::new(),
            latency,
            rx_open: true,
        };
        (Device::Memory(a), Device::Memory(b))
    }

    /// Wait until there may be something to read. Cancel-safe: the driver races it
    /// against its timer and its wake-ups.
    pub(crate) async fn wait(&mut self) -> io::Result<()> {
        match self {
            Device::Tun(fd) => {
                let mut guard = fd.readable_mut().await?;
                // Cleared before reading: a packet that arrives after this sets it again,
                // so none is left unnoticed; `recv_batch` then reads until WouldBlock.
                guard.clear_ready();
                Ok(())
            }
            Device::Memory(m) => {
                if !m.rx_open {
                    return std::future::pending().await;
                }
                match m.rx.recv().await {
                    Some(p) => m.held.push_back(p),
                    None => m.rx_open = false,
                }
                Ok(())
            }
        }
    }

    /// Hand every packet that is here (and due) to `f`, at most [`BATCH`] of them.
    /// Returns true when more may be waiting: the driver then goes round again at once
    /// instead of waiting.
    pub(crate) fn recv_batch(
        &mut self,
        now: TInstant,
        buf: &mut [u8],
        mut f: impl FnMut(&[u8]),
    ) -> io::Result<bool> {
        match self {
            Device::Tun(fd) => {
                for _ in 0..BATCH {
                    match fd.get_mut().0.recv(buf)? {
                        Some(n) => f(&buf[..n]),
                        None => return Ok(false),
                    }
                }
                Ok(true)
            }
            Device::Memory(m) => {
                // Move what the peer sent into `held` (cheap: the channel is bounded by
                // LINK_QUEUE), so that not-yet-due packets never count as work to do.
                for _ in 0..LINK_QUEUE {
                    if !m.rx_open {
                        break;
                    }
                    match m.rx.try_recv() {
                        Ok(p) => m.held.push_back(p),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => m.rx_open = false,
                    }
                }
                // One latency for every packet: the queue is in order of arrival.
                for _ in 0..BATCH {
                    match m.held.front() {
                        Some(p) if p.due <= now => {}
                        _ => return Ok(false),
                    }
                    if let Some(p) = m.held.pop_front() {
                        f(&p.bytes);
                    }
                }
                Ok(m.held.front().is_some_and(|p| p.due <= now))
            }
        }
    }

    /// Send one packet. A full queue drops it, as a full qdisc would: TCP retransmits.
    pub(crate) fn send(&mut self, now: TInstant, pkt: &[u8]) -> io::Result<()> {
        match self {
            Device::Tun(fd) => fd.get_mut().0.send(pkt),
            Device::Memory(m) => {
                let p = Packet {
                    due: now + m.latency,
                    bytes: pkt.to_vec(),
                };
                // Full: dropped. Closed: the peer is gone, as if the cable were pulled.
                let _ = m.tx.try_send(p);
                Ok(())
            }
        }
    }

    /// When a held packet becomes due (in-memory links with latency).
    /// A TUN device (real time), not an in-memory pair.
    pub(crate) fn is_tun(&self) -> bool {
        matches!(self, Device::Tun(_))
    }

    pub(crate) fn next_due(&self) -> Option<TInstant> {
        match self {
            Device::Tun(_) => None,
            Device::Memory(m) => m.held.front().map(|p| p.due),
        }
    }
}
