//! Receive-buffer auto-tuning (Dynamic Right-Sizing): Linux grows a socket's receive
//! buffer, from `tcp_rmem[1]` towards `tcp_rmem[2]`, to about twice what its application
//! reads in a round trip, so that a bulk flow's window is never what limits it — unless the
//! application set SO_RCVBUF or `tcp_moderate_rcvbuf` is 0. The round trip is the
//! receiver's own estimate (`rcv_rtt_est`): from timestamps echoed by the peer, else from
//! how long a window's worth of data takes to arrive.
//!
//! `tcp_rcv_rtt_update`, `tcp_rcv_rtt_measure(_ts)`, `tcp_rcv_space_adjust` and
//! `tcp_init_buffer_space`'s part of them (Linux 6.12, net/ipv4/tcp_input.c).
use crate::time::Instant;
use synack_wire::SeqNum;

/// Linux's `TCP_INIT_CWND`: the first estimate of what a round trip carries is ten
/// segments.
const INIT_SEGMENTS: u32 = 10;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Autotune {
    /// What the application read in the last measured round trip (`rcvq_space.space`).
    space: u32,
    /// Where the application's reading stood when the measure began (`rcvq_space.seq`).
    seq: SeqNum,
    /// When the measure began (`rcvq_space.time`).
    time: Instant,
    /// The receiver's round-trip estimate, µs × 8 (`rcv_rtt_est.rtt_us`); 0: none yet.
    rtt8: u32,
    /// The sequence number that ends the current window-based sample (`rcv_rtt_est.seq`).
    rtt_seq: SeqNum,
    /// When that sample began (`rcv_rtt_est.time`); `None` before the first.
    rtt_time: Option<Instant>,
    /// The timestamp echo last looked at (`rcv_rtt_last_tsecr`).
    last_tsecr: u32,
}

/// What the application's read asks of the buffer.
pub(crate) struct Read {
    pub now: Instant,
    /// How far the application has read (`copied_seq`), and RCV.NXT.
    pub copied: SeqNum,
    pub rcv_nxt: SeqNum,
    pub advmss: u32,
    /// The buffer's size now, and what auto-tuning may take it to (`tcp_rmem[2]`).
    pub rcvbuf: u32,
    pub max: u32,
    /// The share of the buffer that is payload, in 256ths (`scaling_ratio`).
    pub ratio: u8,
    /// `tcp_moderate_rcvbuf` on and no SO_RCVBUF.
    pub allowed: bool,
}

impl Autotune {
    /// `tcp_init_buffer_space`: a connection entering ESTABLISHED expects ten segments a
    /// round trip, or the window if smaller.
    pub(crate) fn new(now: Instant, copied: SeqNum, window: u32, advmss: u32) -> Autotune {
        Autotune {
            space: window.min(INIT_SEGMENTS * advmss),
            seq: copied,
            time: now,
            rtt8: 0,
            rtt_seq: copied,
            rtt_time: None,
            last_tsecr: 0,
        }
    }

    /// The estimate in µs (`tcpi_rcv_rtt`).
    pub(crate) fn rtt_us(&self) -> u32 {
        self.rtt8 >> 3
    }

    /// `tcpi_rcv_space`.
    pub(crate) fn space(&self) -> u32 {
        self.space
    }

    /// `tcp_rcv_rtt_update`: the smallest sample wins while samples come from whole
    /// windows (they can only overestimate); timestamp samples are smoothed.
    fn update(&mut self, sample_us: u32, window_based: bool) {
        let m = sample_us.saturating_mul(8);
        if self.rtt8 == 0 || m < self.rtt8 {
            self.rtt8 = m;
        } else if !window_based {
            self.rtt8 = (self.rtt8 - (self.rtt8 >> 3)).saturating_add(sample_us);
        }
    }

    /// `tcp_rcv_rtt_measure`, on each in-order data segment: a sample is the time a
    /// whole window (as offered when the sample began) took to arrive.
    pub(crate) fn on_data(&mut self, now: Instant, rcv_nxt: SeqNum, window: u32) {
        if let Some(t) = self.rtt_time {
            if rcv_nxt < self.rtt_seq {
                return;
            }
            let us = now.saturating_duration_since(t).as_micros().max(1);
            self.update(us.min(u32::MAX as u128) as u32, true);
        }
        self.rtt_seq = rcv_nxt + window;
        self.rtt_time = Some(now);
    }

    /// `tcp_rcv_rtt_measure_ts`, on each segment with a timestamp: a new echo on a segment
    /// of at least the receive MSS estimate is a sample (`ms_since` is how many of our
    /// timestamp ticks, milliseconds, ago it was sent). A pure ACK only records the echo.
    pub(crate) fn on_timestamp(&mut self, tsecr: u32, len: u32, rcv_mss: u32, ms_since: u32) {
        if tsecr == self.last_tsecr {
            return;
        }
        self.last_tsecr = tsecr;
        if len > 0 && len >= rcv_mss && ms_since > 0 && ms_since < i32::MAX as u32 / 1000 {
            self.update(ms_since * 1000, false);
        }
    }

    /// `tcp_rcv_space_adjust`, after a read: once a round trip has passed, if the
    /// application read more in it than in the last, the buffer grows to hold twice that
    /// plus sixteen segments, more again in proportion to the growth (the sender may be in
    /// slow start). Returns the new buffer size when it grows.
    pub(crate) fn after_read(&mut self, r: Read) -> Option<u32> {
        let elapsed = r.now.saturating_duration_since(self.time).as_micros();
        if self.rtt8 == 0 || elapsed < u128::from(self.rtt8 >> 3) {
            return None;
        }
        let inq = (r.rcv_nxt - r.copied).max(0) as u32;
        let copied = ((r.copied - self.seq).max(0) as u32).saturating_sub(inq);
        let mut grown = None;
        if copied > self.space {
            if r.allowed {
                // Saturating: a peer may make `copied` huge against a tiny `space`; the
                // result is capped by tcp_rmem[2] anyway.
                let space = u64::from(self.space.max(1));
                let mut rcvwin = (u64::from(copied) << 1) + 16 * u64::from(r.advmss);
                let grow = rcvwin.saturating_mul(u64::from(copied) - space) / space;
                rcvwin = rcvwin.saturating_add(grow.saturating_mul(2));
                // tcp_space_from_win: the memory a window of payload takes.
                let rcvbuf =
                    (rcvwin.saturating_mul(256) / u64::from(r.ratio.max(1))).min(u64::from(r.max));
                if rcvbuf > u64::from(r.rcvbuf) {
                    grown = Some(rcvbuf as u32);
                }
            }
            self.space = copied;
        }
        self.seq = r.copied;
        self.time = r.now;
        grown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    fn read(a: &mut Autotune, ms: u64, copied: u32, rcvbuf: u32) -> Option<u32> {
        a.after_read(Read {
            now: at(ms),
            copied: SeqNum(copied),
            rcv_nxt: SeqNum(copied),
            advmss: 1448,
            rcvbuf,
            max: 6 << 20,
            ratio: 160,
            allowed: true,
        })
    }

    #[test]
    fn the_window_based_estimate_keeps_the_smallest_sample() {
        let mut a = Autotune::new(at(0), SeqNum(0), 64_000, 1448);
        a.on_data(at(0), SeqNum(1000), 64_000);
        a.on_data(at(30), SeqNum(40_000), 64_000); // not a window yet
        assert_eq!(a.rtt_us(), 0);
        a.on_data(at(50), SeqNum(66_000), 64_000);
        assert_eq!(a.rtt_us(), 50_000);
        a.on_data(at(150), SeqNum(131_000), 64_000); // 100 ms: larger, ignored
        assert_eq!(a.rtt_us(), 50_000);
    }

    #[test]
    fn timestamps_smooth_and_pure_acks_only_record_the_echo() {
        let mut a = Autotune::new(at(0), SeqNum(0), 64_000, 1448);
        a.on_timestamp(7, 0, 1448, 40); // a pure ACK
        a.on_timestamp(7, 1448, 1448, 40); // same echo: nothing
        assert_eq!(a.rtt_us(), 0);
        a.on_timestamp(8, 1448, 1448, 40);
        assert_eq!(a.rtt_us(), 40_000);
        a.on_timestamp(9, 1448, 1448, 80); // smoothed: 40 + (80 - 40) / 8
        assert_eq!(a.rtt_us(), 45_000);
        a.on_timestamp(10, 500, 1448, 1); // smaller than a segment: no sample
        assert_eq!(a.rtt_us(), 45_000);
    }

    #[test]
    fn the_buffer_grows_with_what_a_round_trip_carries() {
        let mut a = Autotune::new(at(0), SeqNum(0), 64_000, 1448);
        assert_eq!(a.space(), 14_480);
        assert_eq!(read(&mut a, 10, 50_000, 131_072), None, "no estimate yet");
        a.update(20_000, false);
        assert_eq!(
            read(&mut a, 15, 60_000, 131_072),
            None,
            "less than a round trip"
        );
        // 60,000 bytes in the round trip against 14,480: rcvwin = 2·60,000 + 16·1448 =
        // 143,168, grown by 2·⌊143,168·45,520/14,480⌋ = 900,138 → 1,043,306 bytes of
        // payload, 1,669,289 of buffer at 160/256.
        assert_eq!(read(&mut a, 25, 60_000, 131_072), Some(1_669_289));
        assert_eq!(a.space(), 60_000);
        // The next round trip carried less: no growth, the measure restarts.
        assert_eq!(read(&mut a, 50, 100_000, 1_669_264), None);
        assert_eq!(a.space(), 60_000);
    }

    /// Found by the fuzzer's kept corpus under debug assertions: a timestamp echo from
    /// long ago is a sample near u32::MAX µs; and a reader far ahead of a tiny estimate.
    #[test]
    fn extreme_samples_and_reads_do_not_overflow() {
        let mut a = Autotune::new(at(0), SeqNum(0), 0, 0);
        a.update(u32::MAX / 8, false);
        a.update(u32::MAX, false);
        a.update(u32::MAX, false);
        assert!(a.rtt_us() > 0);
        a.on_timestamp(5, 1448, 1448, i32::MAX as u32 / 1000 - 1);
        let r = Read {
            now: at(10_000_000),
            copied: SeqNum(i32::MAX as u32),
            rcv_nxt: SeqNum(i32::MAX as u32),
            advmss: u32::MAX,
            rcvbuf: 4096,
            max: u32::MAX,
            ratio: 1,
            allowed: true,
        };
        assert_eq!(a.after_read(r), Some(u32::MAX));
    }

    #[test]
    fn growth_stops_at_the_maximum_and_not_allowed_means_never() {
        let mut a = Autotune::new(at(0), SeqNum(0), 64_000, 1448);
        a.update(1_000, false);
        assert_eq!(read(&mut a, 5, 4_000_000, 131_072), Some(6 << 20));
        let mut b = Autotune::new(at(0), SeqNum(0), 64_000, 1448);
        b.update(1_000, false);
        let r = Read {
            allowed: false,
            ..Read {
                now: at(5),
                copied: SeqNum(4_000_000),
                rcv_nxt: SeqNum(4_000_000),
                advmss: 1448,
                rcvbuf: 131_072,
                max: 6 << 20,
                ratio: 160,
                allowed: true,
            }
        };
        assert_eq!(b.after_read(r), None);
        assert_eq!(b.space(), 4_000_000, "the measure still follows the reads");
    }
}
