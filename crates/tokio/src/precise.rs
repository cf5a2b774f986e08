//! A timer with microsecond precision for the driver of a real device.
//!
//! tokio's timers run on a 1 ms wheel: a sleep ends up to a millisecond after its
//! deadline. The stack's deadlines are finer — a BBR connection paced at 100 Mbit/s sends
//! an skb every ~0.9 ms and a retransmission 116 µs after the one before, on Linux's
//! hrtimers — so for the last millisecond before a deadline the driver waits on a
//! `timerfd` instead (CLOCK_MONOTONIC, the clock tokio's `Instant` reads on Linux),
//! registered with tokio's reactor like the TUN device: no thread blocks, no core spins.
use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant as TInstant;

/// Deadlines closer than this are waited for on the timerfd; tokio's wheel takes the
/// rest (waking a millisecond early at most, to hand over).
pub(crate) const SLACK: Duration = Duration::from_millis(1);

pub(crate) struct Precise {
    fd: AsyncFd<OwnedFd>,
}

impl Precise {
    pub(crate) fn new() -> io::Result<Precise> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // As for the TUN device (device.rs): the `OwnedFd` is the AsyncFd's own for its
        // whole life, which is `register`'s contract; this crate forbids `unsafe`.
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        Ok(Precise { fd })
    }

    /// Wait until `deadline`: on tokio's wheel while it is more than [`SLACK`] away,
    /// then on the timerfd.
    pub(crate) async fn sleep_until(&mut self, deadline: TInstant) -> io::Result<()> {
        if let Some(coarse) = deadline.checked_sub(SLACK) {
            if coarse > TInstant::now() {
                tokio::time::sleep_until(coarse).await;
            }
        }
        let left = deadline.saturating_duration_since(TInstant::now());
        if left.is_zero() {
            return Ok(());
        }
        // An expiry left over from a wait that was cut short (a packet came first)
        // must not end this one.
        self.drain();
        let value = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        timerfd_settime(
            self.fd.get_ref(),
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: zero,
                it_value: value,
            },
        )?;
        loop {
            let mut guard = self.fd.readable().await?;
            if self.drain() {
                return Ok(());
            }
            guard.clear_ready();
        }
    }

    /// Read a pending expiry count; whether there was one.
    fn drain(&self) -> bool {
        let mut n = [0u8; 8];
        matches!(rustix::io::read(self.fd.get_ref(), &mut n), Ok(8))
    }
}
