//! Delivery rate sampling, as Linux's `tcp_rate.c` does it (draft-cheng-iccrg-delivery-rate
//! -estimation): what a model-based congestion control (BBR) learns the path's bandwidth
//! from.
//!
//! Each data segment, when it leaves, records how much had been delivered by then and
//! when (Linux keeps this in the skb's control block, `tx.delivered`, `tx.delivered_mstamp`,
//! `tx.first_tx_mstamp`). When an ACK delivers segments — cumulatively or by SACK — the
//! most recently sent of them gives the sample: the segments delivered since it left,
//! over the longer of its send phase and its ACK phase (so that neither a burst of sends
//! nor a stretch ACK makes the rate look higher than the bottleneck's).
//!
//! synack's sender keeps data as byte ranges, not skbs; the records here are the skbs'
//! stand-ins, one per segment as first sent (a retransmission re-stamps the records it
//! covers, as Linux re-stamps the skb). Only connections whose algorithm needs samples
//! keep records (the CUBIC and Reno senders pay nothing for them).
use crate::bbr::RateSample;
use crate::Instant;
use std::collections::VecDeque;
use synack_wire::SeqNum;

/// At most this many segments are tracked (about 2.6 MB): enough for twice the
/// bandwidth-delay product of 1 Gbit/s over 200 ms. Segments sent beyond it give no sample.
const MAX_RECORDS: usize = 1 << 16;

/// One segment in flight and the delivery state when it (last) left.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TxRecord {
    start: SeqNum,
    end: SeqNum,
    /// When it left (`tcp_skb_timestamp_us`).
    tx: Instant,
    /// `tx.first_tx_mstamp`: the start of the send phase it belongs to.
    first_tx: Instant,
    /// `tx.delivered_mstamp`: when `delivered` was last updated before it left.
    delivered_mstamp: Instant,
    /// `tx.delivered`: segments delivered before it left.
    delivered: u32,
    app_limited: bool,
    /// Sent again (`TCPCB_RETRANS`): no RTT sample from it.
    retrans: bool,
    /// SACKed (`TCPCB_SACKED_ACKED`): delivered already, nothing more to learn from it.
    sacked: bool,
}

/// The connection's delivery state (`tp->delivered`, `delivered_mstamp`,
/// `first_tx_mstamp`, `app_limited`, `lost`, `rate_*`) and its segments' records.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rate {
    /// Segments delivered (cumulatively ACKed or SACKed), the SYN included.
    pub(crate) delivered: u32,
    pub(crate) delivered_mstamp: Instant,
    first_tx_mstamp: Instant,
    /// `tp->app_limited`: delivered + in flight when the application last left the
    /// window unfilled; samples until that much is delivered are app-limited (0: none).
    pub(crate) app_limited: u32,
    /// Segments ever marked lost (`tp->lost`), and how far the count has got.
    pub(crate) lost: u32,
    lost_high: Option<SeqNum>,
    /// The last sample that was not app-limited, or a faster one
    /// (`tp->rate_delivered`/`rate_interval_us`): TCP_INFO's tcpi_delivery_rate.
    rate_delivered: u32,
    rate_interval_us: u32,
    rate_app_limited: bool,
    records: VecDeque<TxRecord>,
}

/// What one ACK delivered, gathered as `tcp_rate_skb_delivered` does skb by skb.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sampler {
    prior_delivered: u32,
    prior_mstamp: Option<Instant>,
    is_app_limited: bool,
    last_end_seq: Option<SeqNum>,
    interval_us: i64,
    /// Segments this ACK delivered (the records it covered).
    newly: u32,
    /// Cumulatively ACKed records, and whether one was a retransmission
    /// (`FLAG_RETRANS_DATA_ACKED`: then no RTT from them).
    acked: u32,
    acked_retrans: bool,
    /// When the last of the cumulatively ACKed (non-retransmitted) records, and of the
    /// SACKed ones, left: `last_ackt`, `last_sackt`.
    last_ackt: Option<Instant>,
    last_sackt: Option<Instant>,
}

impl Rate {
    /// `tcp_init_sock`: `app_limited` starts at ~0, so the first samples (taken before
    /// anything is known) count as app-limited until the first delivery.
    pub(crate) fn new(delivered: u32, now: Instant) -> Rate {
        Rate {
            delivered,
            delivered_mstamp: now,
            first_tx_mstamp: now,
            app_limited: u32::MAX,
            lost: 0,
            lost_high: None,
            rate_delivered: 0,
            rate_interval_us: 0,
            rate_app_limited: false,
            records: VecDeque::new(),
        }
    }

    /// `tcp_rate_skb_sent` for the segment `start..end`: new data gets a record; a
    /// retransmission re-stamps the records it covers. `idle`: nothing was in flight
    /// (`!tp->packets_out`), so a new send phase and ACK phase begin now.
    pub(crate) fn sent(&mut self, now: Instant, start: SeqNum, end: SeqNum, idle: bool) {
        if idle {
            self.first_tx_mstamp = now;
            self.delivered_mstamp = now;
        }
        let stamp = TxRecord {
            start,
            end,
            tx: now,
            first_tx: self.first_tx_mstamp,
            delivered_mstamp: self.delivered_mstamp,
            delivered: self.delivered,
            app_limited: self.app_limited != 0,
            retrans: false,
            sacked: false,
        };
        let newest = self.records.back().map(|r| r.end);
        if newest.is_none_or(|e| start >= e) {
            if self.records.len() < MAX_RECORDS {
                self.records.push_back(stamp);
            }
            return;
        }
        let from = self.records.partition_point(|r| r.end <= start);
        for r in self.records.range_mut(from..) {
            if r.start >= end {
                break;
            }
            *r = TxRecord {
                start: r.start,
                end: r.end,
                retrans: true,
                sacked: r.sacked,
                ..stamp
            };
        }
    }

    /// `tcp_rate_skb_delivered` for one record.
    fn delivered_one(&mut self, rec: &TxRecord, s: &mut Sampler) {
        self.delivered = self.delivered.wrapping_add(1);
        s.newly += 1;
        let after = rec.tx > self.first_tx_mstamp
            || (rec.tx == self.first_tx_mstamp && s.last_end_seq.is_none_or(|l| rec.end > l));
        if s.prior_mstamp.is_none() || after {
            s.prior_delivered = rec.delivered;
            s.prior_mstamp = Some(rec.delivered_mstamp);
            s.is_app_limited = rec.app_limited;
            s.last_end_seq = Some(rec.end);
            self.first_tx_mstamp = rec.tx;
            s.interval_us = rec.tx.as_micros() as i64 - rec.first_tx.as_micros() as i64;
        }
    }

    /// The cumulative ACK reached `ack`: every record below it is delivered (those
    /// SACKed before were counted then).
    pub(crate) fn acked(&mut self, ack: SeqNum, s: &mut Sampler) {
        while let Some(rec) = self.records.front().copied() {
            if rec.end > ack {
                break;
            }
            self.records.pop_front();
            if rec.sacked {
                continue;
            }
            s.acked += 1;
            if rec.retrans {
                s.acked_retrans = true;
            } else {
                s.last_ackt = Some(rec.tx);
            }
            self.delivered_one(&rec, s);
        }
    }

    /// The scoreboard went from `before` to `after` (sorted, disjoint ranges): the
    /// records inside a range of `after` that overlap what it newly holds are delivered
    /// (`tcp_sacktag_one`), each once. Only the new pieces are walked, so a long SACKed
    /// range costs nothing per ACK; a record is taken once the scoreboard holds all of it
    /// (Linux would split the skb; segments arrive whole).
    pub(crate) fn sacked(
        &mut self,
        before: &[(SeqNum, SeqNum)],
        after: &[(SeqNum, SeqNum)],
        s: &mut Sampler,
    ) {
        let mut j = 0;
        for &(l, r) in after {
            while before.get(j).is_some_and(|&(_, br)| br <= l) {
                j += 1;
            }
            // What l..r holds beyond the ranges of `before` overlapping it.
            let (mut at, mut k) = (l, j);
            while at < r {
                match before.get(k) {
                    Some(&(bl, br)) if bl < r => {
                        if at < bl {
                            self.sacked_piece(at, bl, (l, r), s);
                        }
                        at = at.max(br);
                        k += 1;
                    }
                    _ => {
                        self.sacked_piece(at, r, (l, r), s);
                        at = r;
                    }
                }
            }
        }
    }

    /// Records overlapping `from..to` (new to the scoreboard) and inside `range`.
    fn sacked_piece(&mut self, from: SeqNum, to: SeqNum, range: (SeqNum, SeqNum), s: &mut Sampler) {
        let mut i = self.records.partition_point(|r| r.end <= from);
        while let Some(rec) = self.records.get(i).copied() {
            if rec.start >= to {
                break;
            }
            i += 1;
            if rec.sacked || rec.start < range.0 || rec.end > range.1 {
                continue;
            }
            self.records[i - 1].sacked = true;
            if !rec.retrans {
                // `last_sackt`: when the highest newly SACKed segment left.
                if s.last_sackt.is_none_or(|t| rec.tx >= t) {
                    s.last_sackt = Some(rec.tx);
                }
            }
            self.delivered_one(&rec, s);
        }
    }

    /// Segments newly marked lost: the data up to `top` (the sender's lost mark: below the
    /// highest SACK, or everything out after a timeout) that the peer does not have,
    /// counted once (`tp->lost`). `sacked(from, to)` gives the SACKed bytes in a range.
    pub(crate) fn mark_lost(
        &mut self,
        una: SeqNum,
        top: SeqNum,
        mss: u32,
        sacked: impl Fn(SeqNum, SeqNum) -> u32,
    ) -> u32 {
        let from = self.lost_high.map_or(una, |h| h.max(una));
        if top <= from {
            return 0;
        }
        let bytes = ((top - from) as u32).saturating_sub(sacked(from, top));
        self.lost_high = Some(top);
        let n = bytes.div_ceil(mss.max(1));
        self.lost = self.lost.wrapping_add(n);
        n
    }

    /// `tcp_rate_gen`: the sample of one ACK. `lost`: segments it newly marked lost;
    /// `min_rtt_us`: the connection's minimum RTT (a sample shorter than it is an
    /// artefact of ACK compression or reordering: discarded).
    pub(crate) fn gen(
        &mut self,
        now: Instant,
        s: &Sampler,
        lost: u32,
        prior_in_flight: u32,
        in_flight_now: u32,
        min_rtt_us: u32,
    ) -> RateSample {
        if self.app_limited != 0 && (self.delivered.wrapping_sub(self.app_limited) as i32) > 0 {
            self.app_limited = 0;
        }
        if s.newly > 0 {
            self.delivered_mstamp = now;
        }
        let rtt = s.last_sackt.or(s.last_ackt.filter(|_| !s.acked_retrans));
        let mut rs = RateSample {
            prior_delivered: s.prior_delivered,
            delivered: -1,
            interval_us: -1,
            rtt_us: rtt.map_or(-1, |t| now.saturating_duration_since(t).as_micros() as i64),
            losses: lost,
            acked_sacked: s.newly,
            prior_in_flight,
            is_app_limited: s.is_app_limited,
            // FLAG_ACK_MAYBE_DELAYED's gist: one segment ACKed, the last one out.
            is_ack_delayed: s.acked == 1 && s.newly == 1 && in_flight_now == 0,
        };
        let Some(prior) = s.prior_mstamp else {
            return rs;
        };
        rs.delivered = self.delivered.wrapping_sub(s.prior_delivered) as i32;
        let ack_us = now.as_micros() as i64 - prior.as_micros() as i64;
        let interval = s.interval_us.max(ack_us);
        if interval < i64::from(min_rtt_us) {
            return RateSample {
                interval_us: -1,
                ..rs
            };
        }
        rs.interval_us = interval;
        let faster = u64::from(rs.delivered.max(0) as u32) * u64::from(self.rate_interval_us)
            >= u64::from(self.rate_delivered) * interval as u64;
        if !rs.is_app_limited || faster {
            self.rate_delivered = rs.delivered.max(0) as u32;
            self.rate_interval_us = u32::try_from(interval).unwrap_or(u32::MAX);
            self.rate_app_limited = rs.is_app_limited;
        }
        rs
    }

    /// `tcp_rate_check_app_limited` found the application left the window unfilled.
    pub(crate) fn set_app_limited(&mut self, in_flight: u32) {
        self.app_limited = match self.delivered.wrapping_add(in_flight) {
            0 => 1,
            n => n,
        };
    }

    /// TCP_INFO's tcpi_delivery_rate (bytes/s) and tcpi_delivery_rate_app_limited.
    pub(crate) fn delivery_rate(&self, mss: u32) -> (u64, bool) {
        let rate = if self.rate_interval_us == 0 {
            0
        } else {
            u64::from(self.rate_delivered) * u64::from(mss) * 1_000_000
                / u64::from(self.rate_interval_us)
        };
        (rate, self.rate_app_limited)
    }

    /// Records still held.
    #[cfg(test)]
    pub(crate) fn in_records(&self) -> usize {
        self.records.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Instant {
        Instant::from_micros(n)
    }

    /// Ten segments of 1000 bytes sent back to back at t = 0..9 µs, ACKed two at a time
    /// 200 µs apart after a 10 ms RTT: the ACK phase, not the send burst, sets the rate.
    #[test]
    fn a_paced_flight_samples_the_ack_rate() {
        let mut r = Rate::new(1, us(0));
        for i in 0..10u32 {
            r.sent(
                us(u64::from(i)),
                SeqNum(i * 1000),
                SeqNum((i + 1) * 1000),
                i == 0,
            );
        }
        let mut last = None;
        for k in 1..=5u32 {
            let mut s = Sampler::default();
            r.acked(SeqNum(k * 2000), &mut s);
            let rs = r.gen(us(10_000 + u64::from(k) * 200), &s, 0, 10, 10 - 2 * k, 1000);
            assert_eq!(rs.acked_sacked, 2);
            last = Some(rs);
        }
        let rs = last.unwrap();
        // The newest delivered segment left at 9 µs having seen delivered = 1 (the SYN),
        // delivered_mstamp 0: 10 segments over max(9 - 0, 11000 - 0) µs.
        assert_eq!(rs.prior_delivered, 1);
        assert_eq!(rs.delivered, 10);
        assert_eq!(rs.interval_us, 11_000);
        assert_eq!(rs.rtt_us, 11_000 - 9);
        assert_eq!(r.in_records(), 0);
        assert_eq!(r.delivered, 11);
    }

    #[test]
    fn sacked_segments_are_counted_once_and_sampled() {
        let mut r = Rate::new(0, us(0));
        for i in 0..6u32 {
            r.sent(
                us(u64::from(i) * 10),
                SeqNum(i * 100),
                SeqNum((i + 1) * 100),
                i == 0,
            );
        }
        // Segment 0 lost; 1..3 SACKed.
        let mut s = Sampler::default();
        let b = |l: u32, r: u32| (SeqNum(l), SeqNum(r));
        r.sacked(&[], &[b(100, 400)], &mut s);
        assert_eq!(s.newly, 3);
        assert_eq!(s.last_sackt, Some(us(30)));
        let rs = r.gen(us(5000), &s, 1, 6, 2, 100);
        assert_eq!(rs.delivered, 3);
        assert_eq!(rs.rtt_us, 5000 - 30);
        // The block grows to 5; the retransmission of 0 is then ACKed with everything.
        let mut s = Sampler::default();
        r.sacked(&[b(100, 400)], &[b(100, 500)], &mut s);
        assert_eq!(s.newly, 1);
        r.sent(us(6000), SeqNum(0), SeqNum(100), false);
        let mut s = Sampler::default();
        r.acked(SeqNum(600), &mut s);
        assert_eq!(
            s.newly, 2,
            "segment 0 (resent) and 5; 1..4 were counted when SACKed"
        );
        assert!(s.acked_retrans);
        let rs = r.gen(us(16_000), &s, 0, 2, 0, 100);
        assert_eq!(rs.rtt_us, -1, "Karn: the ACK covers a retransmission");
        assert_eq!(r.delivered, 6);
    }

    #[test]
    fn app_limited_until_the_mark_is_delivered() {
        let mut r = Rate::new(5, us(0));
        r.app_limited = 0;
        r.set_app_limited(3);
        assert_eq!(r.app_limited, 8);
        r.sent(us(0), SeqNum(0), SeqNum(10), true);
        let mut s = Sampler::default();
        r.acked(SeqNum(10), &mut s);
        let rs = r.gen(us(1000), &s, 0, 1, 0, 10);
        assert!(rs.is_app_limited);
        assert_eq!(r.app_limited, 8, "delivered 6 has not passed 8");
        for i in 1..4u32 {
            r.sent(us(1000), SeqNum(i * 10), SeqNum((i + 1) * 10), i == 1);
        }
        let mut s = Sampler::default();
        r.acked(SeqNum(40), &mut s);
        r.gen(us(2000), &s, 0, 3, 0, 10);
        assert_eq!(r.app_limited, 0, "delivered 9 passed 8");
    }

    #[test]
    fn losses_are_counted_once() {
        let mut r = Rate::new(0, us(0));
        let none = |_: SeqNum, _: SeqNum| 0;
        assert_eq!(r.mark_lost(SeqNum(0), SeqNum(3000), 1000, none), 3);
        assert_eq!(r.mark_lost(SeqNum(0), SeqNum(3000), 1000, none), 0);
        assert_eq!(
            r.mark_lost(SeqNum(1000), SeqNum(5000), 1000, |_, _| 1000),
            1
        );
        assert_eq!(r.lost, 4);
    }

    #[test]
    fn a_sample_shorter_than_the_minimum_rtt_is_discarded() {
        let mut r = Rate::new(0, us(0));
        r.sent(us(0), SeqNum(0), SeqNum(10), true);
        let mut s = Sampler::default();
        r.acked(SeqNum(10), &mut s);
        let rs = r.gen(us(500), &s, 0, 1, 0, 1000);
        assert_eq!((rs.delivered, rs.interval_us), (1, -1));
        assert_eq!(r.delivery_rate(10), (0, false));
    }
}
