//! The flight: what a connection keeps about data in flight and its recovery — the SACK
//! scoreboard, the retransmission records, RACK, the tail loss probe, F-RTO, PRR and the
//! undo record — and, on the receiving side, the SACK and D-SACK blocks still to report.
//!
//! Linux keeps all of it in every `tcp_sock`, 2.7 KB whatever the socket does. Most
//! connections spend most of their life idle, with nothing in flight and every one of
//! these fields at its resting value; so the state lives in a box that exists only while
//! it differs from that value (DESIGN.md principle 3, as the buffers do): reading an
//! absent flight sees the resting values, the first write allocates, and a connection
//! that has paused gives the box back once everything in it is at rest again. Nothing
//! is forgotten: a box holding anything else (an undo record a late D-SACK may still
//! use, a probe still unanswered) stays.
use crate::lazy::{AtRest, Lazy};
use crate::Instant;
use std::collections::VecDeque;
use synack_wire::SeqNum;
use thin_vec::ThinVec;

/// Data in flight and its recovery.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Flight {
    /// Retransmit from this sequence number next (the head after a fast retransmit, a
    /// hole below SACKed data in SACK recovery).
    pub(crate) rtx_at: Option<SeqNum>,
    /// The sender's SACK scoreboard: ranges above SND.UNA the peer has, sorted, disjoint.
    pub(crate) sacked: ThinVec<(SeqNum, SeqNum)>,
    /// In recovery, the highest sequence number retransmitted so far (RFC 6675 HighRxt);
    /// `None` before the first recovery and once nothing is in flight.
    pub(crate) high_rxt: Option<SeqNum>,
    /// Where segments sent with PSH ended (above SND.UNA, a few): a retransmission of
    /// the same bytes carries PSH again, as Linux's retransmitted skb keeps its flags.
    pub(crate) psh_ends: ThinVec<SeqNum>,
    /// The probe timer fired: the next segment out is the probe (new data, else the tail).
    pub(crate) tlp_now: bool,
    /// SND.NXT when the last probe went (`tlp_high_seq`): one probe per tail episode.
    pub(crate) tlp_high_seq: Option<SeqNum>,
    /// The last probe resent old data (`tlp_retrans`): if an ACK then passes it without
    /// a D-SACK saying the original arrived too, the probe repaired a loss.
    pub(crate) tlp_retrans: bool,
    /// The last new segment sent — start, payload length, FIN — what a probe resends
    /// when there is no new data (the tail of Linux's retransmit queue).
    pub(crate) tail: Option<(SeqNum, u32, bool)>,
    /// Retransmitted segments not yet acknowledged (`retrans_out`), and the end of the
    /// highest one (`None` once SND.UNA passed it): TCP_INFO's tcpi_retrans, Karn's rule.
    pub(crate) retrans_out: u32,
    pub(crate) retrans_high: Option<SeqNum>,
    pub(crate) dupacks: u32,
    /// Fast recovery's end (RFC 6582 `recover`, Linux's `high_seq` in CA_Recovery).
    pub(crate) recover: Option<SeqNum>,
    /// CA_CWR's end (`high_seq`): a window reduction without loss — here after the link
    /// refused a segment — held until data above it is acknowledged.
    pub(crate) cwr: Option<SeqNum>,
    /// Proportional Rate Reduction (RFC 6937, `tcp_cwnd_reduction`), in bytes: the window
    /// when recovery began, what the peer got since, and what we sent since.
    pub(crate) prior_cwnd: u32,
    pub(crate) prr_delivered: u32,
    pub(crate) prr_out: u32,
    /// When each new-data segment in flight left (end sequence, time): an RTT sample per
    /// ACK for CUBIC and HyStart, as Linux's skb timestamps give. Bounded; Karn's rule
    /// applies (no sample from an ACK that covers retransmitted data).
    pub(crate) sent_times: VecDeque<(SeqNum, Instant)>,
    /// SACK recovery's retransmissions: (start, end, when, SND.MAX then). One that is
    /// still missing an RTT after it left, while data sent after it has arrived, was lost
    /// too (RACK, RFC 8985 6.2: `tcp_rack_detect_loss` finds lost retransmissions).
    pub(crate) rtx_log: ThinVec<(SeqNum, SeqNum, Instant, SeqNum)>,
    /// RACK (RFC 8985 6.2): a retransmission was delivered, so everything first sent
    /// before it — all below SND.MAX when it left — and not SACKed is lost, above the
    /// highest SACK too (in recovery the reordering window is 0).
    pub(crate) rack_lost_high: Option<SeqNum>,
    /// Retransmissions found lost: resent before any further hole.
    pub(crate) lost_again: ThinVec<(SeqNum, SeqNum)>,
    /// The receiver's SACK blocks by recency (`selective_acks`): a byte of each of the
    /// out-of-order ranges that last grew, newest first, at most 4 (RFC 2018: the first
    /// block holds the segment that triggered the ACK).
    pub(crate) sack_recent: ThinVec<SeqNum>,
    /// A duplicate segment to report in the next ACK's first SACK block (RFC 2883,
    /// `tcp_dsack_set`).
    pub(crate) dsack: Option<(SeqNum, SeqNum)>,
    /// SACK compression (`tcp_comp_sack_*`): SACKs held back since the last ACK
    /// (`compressed_ack`), duplicate ACKs sent at once for this RCV.NXT
    /// (`dup_ack_counter`, `compressed_ack_rcv_nxt`) and when the held-back SACK goes.
    pub(crate) comp_acks: u8,
    pub(crate) comp_dupacks: u8,
    pub(crate) comp_rcv_nxt: Option<SeqNum>,
    pub(crate) comp_deadline: Option<Instant>,
    /// CA_Loss (`tcp_enter_loss`): SND.MAX when the retransmission timer fired (Linux's
    /// `high_seq`). The state lasts until the peer has all of it, or an undo ends it;
    /// duplicate ACKs do not start a fast recovery meanwhile.
    pub(crate) loss: Option<SeqNum>,
    /// F-RTO (RFC 5682, `tp->frto`) is judging this timeout: on the first ACK that moves
    /// SND.UNA it sends new data instead of more retransmissions; an ACK of data never
    /// retransmitted then proves the timeout spurious.
    pub(crate) frto: bool,
    /// F-RTO sent new data: where the retransmissions resume if the loss was real.
    pub(crate) frto_resume: Option<SeqNum>,
}

static AT_REST: Flight = Flight::AT_REST;

impl Flight {
    /// A connection that never sent or received data out of the ordinary.
    const AT_REST: Flight = Flight {
        rtx_at: None,
        sacked: ThinVec::new(),
        high_rxt: None,
        psh_ends: ThinVec::new(),
        tlp_now: false,
        tlp_high_seq: None,
        tlp_retrans: false,
        tail: None,
        retrans_out: 0,
        retrans_high: None,
        dupacks: 0,
        recover: None,
        cwr: None,
        prior_cwnd: 0,
        prr_delivered: 0,
        prr_out: 0,
        sent_times: VecDeque::new(),
        rtx_log: ThinVec::new(),
        rack_lost_high: None,
        lost_again: ThinVec::new(),
        sack_recent: ThinVec::new(),
        dsack: None,
        comp_acks: 0,
        comp_dupacks: 0,
        comp_rcv_nxt: None,
        comp_deadline: None,
        loss: None,
        frto: false,
        frto_resume: None,
    };
}

impl AtRest for Flight {
    fn at_rest() -> &'static Flight {
        &AT_REST
    }

    fn fresh() -> Flight {
        Flight::AT_REST
    }

    /// Nothing is in flight (SND.UNA reached SND.MAX) and no reduction runs: the fields
    /// that only describe the flight go back to rest — the tail a probe would resend,
    /// HighRxt, PRR's counts — since the next flight or recovery sets them afresh
    /// before reading them, and the highest retransmission, now below every sequence
    /// number it will be compared with.
    fn settle(&mut self) {
        if self.recover.is_none() && self.loss.is_none() && self.cwr.is_none() {
            self.tail = None;
            self.retrans_high = None;
            self.high_rxt = None;
            self.prior_cwnd = 0;
            self.prr_delivered = 0;
            self.prr_out = 0;
            // Everything RACK found lost is below SND.UNA now.
            self.rack_lost_high = None;
        }
    }
}

/// A connection's flight: boxed while not at rest.
pub(crate) type LazyFlight = Lazy<Flight>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_do_not_allocate_writes_do_and_rest_releases() {
        let mut f = LazyFlight::default();
        assert_eq!(f.dupacks, 0);
        assert!(f.sacked.is_empty());
        assert!(!f.allocated());
        assert!(f.if_any().is_none());
        f.sent_times.push_back((SeqNum(5), Instant::ZERO));
        f.tail = Some((SeqNum(1), 4, false));
        assert!(f.allocated());
        f.release_if_at_rest(true);
        assert!(f.allocated(), "a send time is still in flight");
        f.sent_times.clear();
        f.release_if_at_rest(true);
        assert!(!f.allocated(), "only the tail was left, and it settles");
        f.tlp_high_seq = Some(SeqNum(9));
        f.release_if_at_rest(true);
        assert!(f.allocated(), "an unanswered probe is kept");
    }

    #[test]
    fn a_recovery_keeps_its_prr_counts() {
        let mut f = LazyFlight::default();
        f.recover = Some(SeqNum(100));
        f.prr_out = 3;
        f.release_if_at_rest(true);
        assert_eq!(f.prr_out, 3);
        f.recover = None;
        f.release_if_at_rest(true);
        assert!(!f.allocated());
    }
}
