//! synack on a Linux TUN device, with the real clock.
//!
//! The only crate with `unsafe`: the `TUNSETIFF` ioctl and `poll(2)` on the device. The
//! driver is the loop DESIGN.md describes — feed packets read from the device to
//! `Stack::handle_packet`, fire timers, write what `poll_transmit` gives, and sleep until a
//! packet arrives or `poll_timeout()` says — plus a small application on top (echo,
//! discard, source) for `synack serve`.
pub mod control;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;
use synack_core::{Instant, Stack};

/// An open TUN device (IFF_TUN | IFF_NO_PI: bare IP packets).
pub struct Tun {
    file: File,
    name: String,
}

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x400454ca;

#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl Tun {
    /// Create (or attach to) the TUN device `name` in the current network namespace.
    pub fn open(name: &str) -> io::Result<Tun> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("tun name {name:?}: 1 to {} bytes", libc::IFNAMSIZ - 1),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")?;
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TUN | IFF_NO_PI,
            _pad: [0; 22],
        };
        for (d, s) in req.name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `IfReq` lays out
        // (name, then the flags union member, padded to its 40 bytes); the fd is open.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: F_SETFL with O_NONBLOCK on an fd we own.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tun {
            file,
            name: name.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Give the kernel side of the device its addresses (`192.0.2.1/24`, `2001:db8::1/64`)
    /// and bring it up, with iproute2. IPv6 addresses skip duplicate-address detection
    /// (`nodad`), so they are usable at once.
    pub fn configure(&self, host_addrs: &[&str]) -> Result<(), String> {
        for a in host_addrs {
            let mut args = vec!["addr", "add", a, "dev", &self.name];
            if a.contains(':') {
                args.push("nodad");
            }
            ip(&args)?;
        }
        ip(&["link", "set", &self.name, "up"])
    }

    /// The device's descriptor (non-blocking), for an event loop such as tokio's
    /// `AsyncFd` to wait on; reads and writes still go through [`Tun::recv`]/[`Tun::send`].
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }

    /// Wait until a packet can be read, at most `timeout` (`None`: forever).
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut fds = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout
            .map(|d| d.as_millis().min(i32::MAX as u128) as libc::c_int)
            .unwrap_or(-1);
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut fds, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(r > 0)
    }

    /// One packet, or `None` when none is waiting.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.file.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn send(&mut self, pkt: &[u8]) -> io::Result<()> {
        match self.file.write(pkt) {
            Ok(_) => Ok(()),
            // A full device queue drops the packet, as a full qdisc would.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            // A device that is down (`ip link set dev NAME down`) refuses writes with EIO:
            // the packet is lost, as on an unplugged cable, and the stack lives on (its
            // retransmissions and keepalive notice, as Linux's would).
            Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Run `ip ARGS`; its complaint, if any, is the error.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The stack's clock: microseconds since the driver started.
pub struct Clock(std::time::Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(std::time::Instant::now())
    }
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.0.elapsed().as_micros() as u64)
    }
}

/// Secrets for a real network come from the OS, not from a fixed seed.
pub fn os_seed() -> io::Result<u64> {
    let mut b = [0u8; 8];
    File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Run the stack on the device until `app` says stop: packets in, timers, the
/// application, packets out, then sleep until something is due.
pub fn run(
    tun: &mut Tun,
    stack: &mut Stack,
    clock: &Clock,
    mut app: impl FnMut(&mut Stack, Instant) -> bool,
) -> io::Result<()> {
    let mut rx = vec![0u8; 65536];
    let mut tx = Vec::with_capacity(65536);
    loop {
        let now = clock.now();
        // A bounded batch per round (net.core.netdev_max_backlog's idea).
        for _ in 0..64 {
            match tun.recv(&mut rx)? {
                Some(n) => stack.handle_packet(now, &rx[..n]),
                None => break,
            }
        }
        stack.handle_timeout(now);
        if !app(stack, now) {
            while stack.poll_transmit(clock.now(), &mut tx) {
                tun.send(&tx)?;
            }
            return Ok(());
        }
        while stack.poll_transmit(clock.now(), &mut tx) {
            tun.send(&tx)?;
        }
        let wait = stack
            .poll_timeout()
            .map(|d| d.saturating_duration_since(clock.now()))
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        tun.wait(Some(wait))?;
    }
}
