//! Time is an input: the core never reads a clock.
use std::fmt;
use std::num::NonZeroU64;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point in time, in microseconds since the driver's epoch (0 for the simulator).
///
/// Stored as microseconds + 1 in a `NonZeroU64`, so that `Option<Instant>` — a deadline
/// or stamp that may be unset, of which a connection has a dozen — takes 8 bytes, not 16.
/// The last microsecond (`u64::MAX`) is not representable; times saturate at `MAX`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(NonZeroU64);

impl Instant {
    pub const ZERO: Instant = Instant::from_micros(0);
    pub const MAX: Instant = Instant::from_micros(u64::MAX);

    pub const fn from_micros(us: u64) -> Self {
        match NonZeroU64::new(us.saturating_add(1)) {
            Some(n) => Instant(n),
            None => unreachable!(),
        }
    }
    pub const fn from_millis(ms: u64) -> Self {
        Instant::from_micros(ms.saturating_mul(1000))
    }
    pub const fn from_secs(s: u64) -> Self {
        Instant::from_micros(s.saturating_mul(1_000_000))
    }
    pub const fn as_micros(self) -> u64 {
        self.0.get() - 1
    }
    pub const fn as_millis(self) -> u64 {
        self.as_micros() / 1000
    }
    pub fn as_secs_f64(self) -> f64 {
        self.as_micros() as f64 / 1e6
    }
    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.as_micros().saturating_sub(earlier.as_micros()))
    }
}

impl Default for Instant {
    fn default() -> Self {
        Instant::ZERO
    }
}

fn dur_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant::from_micros(self.as_micros().saturating_add(dur_micros(d)))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant::from_micros(self.as_micros().saturating_sub(dur_micros(d)))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.as_micros();
        write!(f, "{}.{:06}s", us / 1_000_000, us % 1_000_000)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_instant_costs_nothing_extra() {
        assert_eq!(std::mem::size_of::<Option<Instant>>(), 8);
    }

    #[test]
    fn arithmetic_saturates_at_both_ends() {
        assert_eq!(Instant::ZERO.as_micros(), 0);
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::from_micros(u64::MAX - 1), Instant::MAX);
        let t = Instant::from_millis(1500);
        assert_eq!(t.as_micros(), 1_500_000);
        assert_eq!(
            t + Duration::from_micros(1),
            Instant::from_micros(1_500_001)
        );
        assert_eq!((t - Instant::from_secs(1)).as_millis(), 500);
        assert!(Instant::ZERO < t && t < Instant::MAX);
        assert_eq!(format!("{t:?}"), "1.500000s");
    }
}
