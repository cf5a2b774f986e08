//! Undoing a window reduction that turns out to have been needless (Linux's `undo_marker`,
//! `undo_retrans`, `prior_ssthresh`, `retrans_stamp`): a retransmission timeout or a fast
//! retransmit cut the window, then the peer shows the data had not been lost — it
//! echoes the timestamp of an original transmission (Eifel, RFC 3522), reports every
//! retransmission as a duplicate in D-SACK blocks (RFC 3708), or, under F-RTO, acknowledges
//! data that was never retransmitted (RFC 5682). The window and threshold go back to what
//! they were.
use crate::lazy::AtRest;
use crate::wire::SeqNum;

/// One reduction's undo record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Undo {
    /// SND.UNA when the reduction began (`undo_marker`); `None`: nothing to undo.
    pub(crate) marker: Option<SeqNum>,
    /// Retransmissions since then not yet reported as duplicates (`undo_retrans`); −1:
    /// none yet (0 means "every retransmission was needless").
    pub(crate) retrans: i32,
    /// The threshold before the cut (`prior_ssthresh`); 0: not to be restored.
    pub(crate) prior_ssthresh: u32,
    /// The window before the cut (`prior_cwnd`, what `tcp_reno_undo_cwnd` restores).
    pub(crate) prior_cwnd: u32,
    /// The episode's first retransmission went out (`retrans_stamp`), with this TSval (0
    /// without timestamps): an ACK echoing an older one was caused by an original
    /// transmission.
    pub(crate) first_rtx_tsval: Option<u32>,
}

static NOTHING: Undo = Undo::NONE;

impl AtRest for Undo {
    fn at_rest() -> &'static Undo {
        &NOTHING
    }
}

impl Undo {
    /// Nothing to undo.
    pub(crate) const NONE: Undo = Undo {
        marker: None,
        retrans: 0,
        prior_ssthresh: 0,
        prior_cwnd: 0,
        first_rtx_tsval: None,
    };

    /// `tcp_init_undo`: a reduction begins at `una` with `retrans_out` retransmissions
    /// still in flight (their D-SACKs may come later).
    pub(crate) fn init(&mut self, una: SeqNum, retrans_out: u32) {
        self.marker = Some(una);
        self.retrans = if retrans_out == 0 {
            -1
        } else {
            retrans_out.min(i32::MAX as u32) as i32
        };
    }

    /// A segment went out again (`tcp_retransmit_skb`), carrying `tsval` if timestamps
    /// are on.
    pub(crate) fn retransmitted(&mut self, tsval: Option<u32>) {
        if self.first_rtx_tsval.is_none() {
            self.first_rtx_tsval = Some(tsval.unwrap_or(0));
        }
        self.retrans = self.retrans.max(0).saturating_add(1);
    }

    /// A D-SACK named `segs` duplicate segments ending at `end` (`tcp_check_dsack`,
    /// `tcp_sacktag_one`): retransmissions the peer did not need.
    pub(crate) fn dsacked(&mut self, end: SeqNum, segs: u32) {
        if let Some(m) = self.marker {
            if self.retrans > 0 && end > m {
                self.retrans = (self.retrans - segs.min(i32::MAX as u32) as i32).max(0);
            }
        }
    }

    /// `tcp_packet_delayed`: the ACK (echoing `tsecr`, if it carries a timestamp) was
    /// caused by an original transmission, not by a retransmission. With no
    /// retransmission yet, any progress came from originals — except on a connection
    /// without SACK that reached `high_seq`, which holds its state instead.
    pub(crate) fn packet_delayed(&self, tsecr: Option<u32>, reno_at_high: bool) -> bool {
        match self.first_rtx_tsval {
            Some(first) => tsecr.is_some_and(|e| e != 0 && (e.wrapping_sub(first) as i32) < 0),
            None => !reno_at_high,
        }
    }

    /// `tcp_may_undo`: there is a reduction to undo and it was needless.
    pub(crate) fn may_undo(&self, tsecr: Option<u32>, reno_at_high: bool) -> bool {
        self.marker.is_some() && (self.retrans == 0 || self.packet_delayed(tsecr, reno_at_high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsacks_of_every_retransmission_allow_undo() {
        let mut u = Undo::default();
        u.init(SeqNum(1000), 0);
        assert_eq!(u.retrans, -1);
        assert!(
            u.may_undo(None, false),
            "nothing resent yet: progress is the originals'"
        );
        u.retransmitted(None);
        assert!(!u.may_undo(None, false), "no timestamps: no echo to tell");
        u.retransmitted(None);
        assert_eq!(u.retrans, 2);
        u.dsacked(SeqNum(900), 1); // below the marker: an older episode's duplicate
        assert_eq!(u.retrans, 2);
        u.dsacked(SeqNum(2000), 1);
        assert!(u.retrans == 1 && u.marker.is_some());
        u.dsacked(SeqNum(3000), 5);
        assert_eq!(u.retrans, 0);
        assert!(u.may_undo(None, false));
    }

    #[test]
    fn eifel_needs_an_echo_older_than_the_first_retransmission() {
        let mut u = Undo::default();
        u.init(SeqNum(1), 0);
        u.retransmitted(Some(5000));
        u.retransmitted(Some(5300)); // later retransmissions keep the first stamp
        assert!(u.may_undo(Some(4999), false));
        assert!(!u.may_undo(Some(5000), false));
        assert!(!u.may_undo(Some(0), false), "an echo of 0 is no echo");
        assert!(!u.may_undo(None, false));
        // Wrapping: 0xffff_fff0 is before 0x10.
        let mut w = Undo::default();
        w.init(SeqNum(1), 0);
        w.retransmitted(Some(0x10));
        assert!(w.may_undo(Some(0xffff_fff0), false));
    }

    #[test]
    fn nothing_retransmitted_yet_means_delayed_unless_reno_reached_high_seq() {
        let mut u = Undo::default();
        u.init(SeqNum(1), 0);
        assert!(u.packet_delayed(None, false));
        assert!(!u.packet_delayed(None, true));
        u.marker = None;
        assert!(!u.may_undo(None, false));
    }
}
