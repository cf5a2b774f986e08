//! Pacing: spreading a window's segments over the round trip at a rate, instead of
//! sending them in a burst as ACKs open the window.
//!
//! Linux paces in one of two places: the `fq` qdisc, or — when the qdisc does not, and
//! the congestion control asks for it (`SK_PACING_NEEDED`: BBR does) — TCP itself
//! (`tcp_internal_pacing`): every skb sent moves the connection's earliest departure
//! time (`tcp_wstamp_ns`) on by its length at the pacing rate, and `tcp_write_xmit`
//! sends nothing before that time, arming a timer for it instead. synack has no qdisc,
//! so this is the pacing it does; CUBIC and Reno are not paced (as Linux without fq).
//!
//! The unit Linux paces is the skb, and a new-data skb holds several segments: as many
//! as `tcp_tso_autosize` allows — about a millisecond of the pacing rate, at least
//! `min_tso_segs` — which GSO (or the NIC) then puts on the wire back to back. So does
//! synack: the segments of one skb leave together, at one instant, and the departure
//! time moves on once for all of them. A retransmission is an skb of its own.
//!
//! Times are kept in nanoseconds as Linux's are (a 1448-byte segment at 1 Gbit/s takes
//! 11.6 µs: microseconds would lose 5% of the rate); the timer is due at the next whole
//! microsecond, the clock the stack is driven by.
use crate::Instant;

/// The first segments are not paced ("Original sch_fq does not pace first 10 MSS").
const UNPACED_SEGS: u32 = 10;
/// `sk_gso_max_size`: GSO_LEGACY_MAX_SIZE (64 KiB) less MAX_TCP_HEADER + 1 (320 + 1 on
/// x86-64).
const GSO_MAX_SIZE: u64 = 65_536 - 321;
/// `net.ipv4.tcp_tso_rtt_log` (9): on short paths, skbs get bigger by the GSO size over
/// 2^(min_rtt / 512 µs).
const TSO_RTT_LOG: u32 = 9;

/// `tcp_tso_autosize`: segments per new-data skb at this pacing rate (bytes/s) — the
/// bytes of 1/1024 s (`sk_pacing_shift` 10), plus more on paths under 16 ms, at most
/// 64 KiB, at least `min_tso`.
pub(crate) fn tso_autosize(rate: u64, mss: u32, min_rtt_us: u32, min_tso: u32) -> u32 {
    let mut bytes = rate >> 10;
    let r = min_rtt_us >> TSO_RTT_LOG;
    if r < 32 {
        bytes += GSO_MAX_SIZE >> r;
    }
    let segs = bytes.min(GSO_MAX_SIZE) / u64::from(mss.max(1));
    (segs as u32).max(min_tso)
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Pacing {
    /// `sk_pacing_rate`, bytes per second (0: not set yet).
    pub(crate) rate: u64,
    /// `tcp_wstamp_ns`: when the next skb may leave.
    pub(crate) wstamp_ns: u64,
    /// The pacing timer (`pacing_timer`), while a segment waits for its time.
    pub(crate) deadline: Option<Instant>,
    /// The skb going out: when (its segments leave at one instant), how many more
    /// segments it may take, its bytes, the credit for leaving late, and
    /// `data_segs_out` with it counted.
    skb_at: Option<Instant>,
    skb_left: u32,
    skb_segs: u32,
    skb_bytes: u64,
    skb_credit: u64,
    skb_segs_out: u32,
}

fn ns(t: Instant) -> u64 {
    t.as_micros().saturating_mul(1000)
}

impl Pacing {
    /// `tcp_pacing_check`: may a segment leave now? The rest of the skb going out at
    /// this instant may; otherwise that skb is done, and a new one waits for the
    /// departure time — the timer is armed for it.
    pub(crate) fn wait(&mut self, now: Instant) -> bool {
        if self.skb_left > 0 && self.skb_at == Some(now) {
            return false;
        }
        self.close_skb();
        if self.wstamp_ns <= ns(now) {
            return false;
        }
        if self.deadline.is_none() {
            self.deadline = Some(Instant::from_micros(self.wstamp_ns.div_ceil(1000)));
        }
        true
    }

    /// A data segment of `len` bytes left at `now`, `data_segs_out` counting it: part
    /// of the skb going out now if it has room, else the first of a new one of
    /// `skb_segs` segments (`__tcp_transmit_skb` stamps it at the later of now and the
    /// departure time). True if it is the last segment of an skb of several, which
    /// carries PSH (`__tcp_transmit_skb` marks every GSO skb; segmentation leaves the
    /// flag on its last segment).
    pub(crate) fn sent(
        &mut self,
        now: Instant,
        len: u32,
        data_segs_out: u32,
        skb_segs: u32,
    ) -> bool {
        if !(self.skb_left > 0 && self.skb_at == Some(now)) {
            self.close_skb();
            let prior = self.wstamp_ns;
            self.wstamp_ns = prior.max(ns(now));
            self.skb_credit = self.wstamp_ns - prior;
            self.skb_at = Some(now);
            self.skb_left = skb_segs.max(1);
            self.skb_segs = self.skb_left;
        }
        self.skb_left -= 1;
        self.skb_bytes += u64::from(len);
        self.skb_segs_out = data_segs_out;
        if self.skb_left == 0 {
            self.close_skb();
            return self.skb_segs > 1;
        }
        false
    }

    /// `tcp_update_skb_after_send` for the skb that went out: the departure time moves
    /// on by its length at the rate, less up to half of that for how late it left ("to
    /// take into account OS jitter").
    fn close_skb(&mut self) {
        if self.skb_at.take().is_none() {
            return;
        }
        let bytes = std::mem::take(&mut self.skb_bytes);
        self.skb_left = 0;
        if self.rate == 0 || self.rate == u64::MAX || self.skb_segs_out < UNPACED_SEGS {
            return;
        }
        let len_ns = bytes * 1_000_000_000 / self.rate;
        self.wstamp_ns += len_ns - (len_ns / 2).min(self.skb_credit);
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

    fn us(n: u64) -> Instant {
        Instant::from_micros(n)
    }

    #[test]
    fn skbs_of_one_segment_leave_at_the_rate_from_the_tenth() {
        let mut p = Pacing {
            rate: 125_000_000, // 1 Gbit/s
            ..Pacing::default()
        };
        let t0 = us(1000);
        for n in 1..=9 {
            assert!(!p.wait(t0));
            p.sent(t0, 1448, n, 1);
        }
        assert!(!p.wait(t0), "the first nine go at once");
        // The tenth (`data_segs_out >= 10` once it is counted) is the first paced:
        // 1448 B at 125 MB/s, 11,584 ns.
        p.sent(t0, 1448, 10, 1);
        assert_eq!(p.wstamp_ns, 1_000_000 + 11_584);
        assert!(p.wait(t0));
        assert_eq!(p.deadline, Some(us(1012)));
        p.fire(us(1012));
        assert_eq!(p.deadline, None);
        assert!(!p.wait(us(1012)));
    }

    #[test]
    fn the_segments_of_an_skb_leave_together_and_the_clock_moves_once() {
        let mut p = Pacing {
            rate: 1_000_000, // 1 byte per µs
            wstamp_ns: 0,
            ..Pacing::default()
        };
        let t = us(50_000);
        for n in 20..23 {
            assert!(!p.wait(t), "segment {n} of the skb");
            p.sent(t, 1000, n, 3);
        }
        // Three segments, 3000 µs, less half for leaving 50 ms late.
        assert_eq!(p.wstamp_ns, 50_000_000 + 1_500_000);
        assert!(p.wait(t));
        // On time now: the next skb, cut short at two segments (no more to send), takes
        // its full 2000 µs once the next try finds it done.
        let t = us(51_500);
        p.fire(t);
        assert!(!p.wait(t));
        p.sent(t, 1000, 23, 3);
        p.sent(t, 1000, 24, 3);
        assert_eq!(p.wstamp_ns, 51_500_000, "the skb is still open");
        assert!(p.wait(us(51_600)));
        assert_eq!(p.wstamp_ns, 53_500_000);
        assert_eq!(p.deadline, Some(us(53_500)));
    }

    #[test]
    fn a_late_skb_earns_up_to_half_its_time_back() {
        let mut p = Pacing {
            rate: 1_000_000,
            wstamp_ns: 5_000_000,
            ..Pacing::default()
        };
        // Leaves 1 ms late: the next departure is 500 µs after it, not 1000.
        p.sent(us(6000), 1000, 20, 1);
        assert_eq!(p.wstamp_ns, 6_500_000);
        // On time: the full 1000 µs.
        p.sent(us(6500), 1000, 21, 1);
        assert_eq!(p.wstamp_ns, 7_500_000);
    }

    #[test]
    fn skbs_hold_a_millisecond_of_the_rate() {
        // 100 Mbit/s, 50 ms: 12,207 bytes per 1/1024 s, 8 segments of 1448.
        assert_eq!(tso_autosize(12_500_000, 1448, 50_000, 2), 8);
        // 1 Gbit/s: capped at 64 KiB less headers, 45 segments.
        assert_eq!(tso_autosize(125_000_000, 1448, 50_000, 2), 45);
        // Slow: the floor.
        assert_eq!(tso_autosize(100_000, 1448, 50_000, 1), 1);
        assert_eq!(tso_autosize(400_000, 1000, 100_000, 2), 2);
        // A 1 ms path adds half the GSO size (r = 1).
        assert_eq!(
            tso_autosize(1_250_000, 1448, 1000, 2),
            (1220 + 32_607) / 1448
        );
    }
}
