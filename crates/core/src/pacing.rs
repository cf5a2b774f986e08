//! Pacing: spreading a window's segments over the round trip at a rate, instead of
//! sending them in a burst as ACKs open the window.
//!
//! Linux paces in one of two places: the `fq` qdisc, or — when the qdisc does not, and
//! the congestion control asks for it (`SK_PACING_NEEDED`: BBR does) — TCP itself
//! (`tcp_internal_pacing`): every segment sent moves the connection's earliest departure
//! time (`tcp_wstamp_ns`) on by its length at the pacing rate, and `tcp_write_xmit`
//! sends nothing before that time, arming a timer for it instead. synack has no qdisc,
//! so this is the pacing it does; CUBIC and Reno are not paced (as Linux without fq).
//!
//! Times are kept in nanoseconds as Linux's are (a 1448-byte segment at 1 Gbit/s takes
//! 11.6 µs: microseconds would lose 5% of the rate); the timer is due at the next whole
//! microsecond, the clock the stack is driven by.
use crate::Instant;

/// The first segments are not paced ("Original sch_fq does not pace first 10 MSS").
const UNPACED_SEGS: u32 = 10;

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Pacing {
    /// `sk_pacing_rate`, bytes per second (0: not set yet).
    pub(crate) rate: u64,
    /// `tcp_wstamp_ns`: when the next segment may leave.
    pub(crate) wstamp_ns: u64,
    /// The pacing timer (`pacing_timer`), while a segment waits for its time.
    pub(crate) deadline: Option<Instant>,
}

fn ns(t: Instant) -> u64 {
    t.as_micros().saturating_mul(1000)
}

impl Pacing {
    /// `tcp_pacing_check`: may a segment leave now? If not, the timer is armed for
    /// when it may.
    pub(crate) fn wait(&mut self, now: Instant) -> bool {
        if self.wstamp_ns <= ns(now) {
            return false;
        }
        if self.deadline.is_none() {
            self.deadline = Some(Instant::from_micros(self.wstamp_ns.div_ceil(1000)));
        }
        true
    }

    /// A data segment of `len` bytes left at `now` (`__tcp_transmit_skb` stamps it at
    /// the later of now and the earliest departure time; `tcp_update_skb_after_send`
    /// moves that time on by its length at the rate, less up to half of it for how
    /// late this one left, "to take into account OS jitter"). `data_segs_out` counts
    /// this one.
    pub(crate) fn sent(&mut self, now: Instant, len: u32, data_segs_out: u32) {
        let prior = self.wstamp_ns;
        self.wstamp_ns = prior.max(ns(now));
        if self.rate == 0 || self.rate == u64::MAX || data_segs_out < UNPACED_SEGS {
            return;
        }
        let len_ns = u64::from(len) * 1_000_000_000 / self.rate;
        let credit = self.wstamp_ns - prior;
        self.wstamp_ns += len_ns - (len_ns / 2).min(credit);
    }

    /// The timer fired: segments may go again.
    pub(crate) fn fire(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.deadline = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_leave_at_the_rate_from_the_tenth() {
        let mut p = Pacing {
            rate: 125_000_000, // 1 Gbit/s
            ..Pacing::default()
        };
        let t0 = Instant::from_micros(1000);
        for n in 1..=9 {
            assert!(!p.wait(t0));
            p.sent(t0, 1448, n);
        }
        assert!(!p.wait(t0), "the first nine go at once");
        // The tenth (`data_segs_out >= 10` once it is counted) is the first paced:
        // 1448 B at 125 MB/s, 11,584 ns.
        p.sent(t0, 1448, 10);
        assert_eq!(p.wstamp_ns, 1_000_000 + 11_584);
        assert!(p.wait(t0));
        assert_eq!(p.deadline, Some(Instant::from_micros(1012)));
        p.fire(Instant::from_micros(1012));
        assert_eq!(p.deadline, None);
        assert!(!p.wait(Instant::from_micros(1012)));
    }

    #[test]
    fn a_late_segment_earns_up_to_half_its_time_back() {
        let mut p = Pacing {
            rate: 1_000_000, // 1 byte per µs
            wstamp_ns: 5_000_000,
            deadline: None,
        };
        // Leaves 1 ms late: the next departure is 500 µs after it, not 1000.
        p.sent(Instant::from_micros(6000), 1000, 20);
        assert_eq!(p.wstamp_ns, 6_500_000);
        // On time: the full 1000 µs.
        p.sent(Instant::from_micros(6500), 1000, 21);
        assert_eq!(p.wstamp_ns, 7_500_000);
    }
}
