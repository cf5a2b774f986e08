//! TIME_WAIT (and orphaned FIN_WAIT_2) as a compact record, like Linux's
//! `inet_timewait_sock`: the 4-tuple, the two sequence numbers and the timestamp state
//! it needs to answer late segments — no buffers, no TCB.
use crate::ctx::{Ctrl, Ctx, OowStamp};
use crate::{Counter, TcpState};
use std::net::SocketAddr;
use std::time::Duration;
use synack_wire::{SeqNum, TcpFlags, TcpSegment, Timestamps};

pub(crate) struct TimeWait {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    /// `TimeWait`, or `FinWait2` for an orphan waiting for the peer's FIN.
    pub(crate) substate: TcpState,
    pub(crate) snd_nxt: u32,
    pub(crate) rcv_nxt: u32,
    pub(crate) rcv_wnd: u32,
    /// Our window scale: the ACKs advertise `rcv_wnd >> wscale`.
    pub(crate) wscale: u8,
    pub(crate) ts: bool,
    pub(crate) ts_recent: u32,
    /// How long ago `ts_recent` was taken; `None` once older than 24 days (unusable for
    /// PAWS).
    pub(crate) ts_recent_age: Option<Duration>,
    pub(crate) ts_off: u32,
    /// When the last rate-limited ACK left (`tw_last_oow_ack_time`).
    pub(crate) last_oow_ack: OowStamp,
}

/// What the stack does after a TIME_WAIT record saw a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TwVerdict {
    /// Nothing (or an ACK already queued); `restart` re-arms the timer to the full length.
    Keep { restart: bool },
    /// The record is gone.
    Kill,
    /// Gone, and the segment gets a RST.
    KillWithRst,
    /// A new SYN may reopen the 4-tuple: remove the record, hand the SYN to the listener
    /// with an ISN past the old connection's.
    Reopen { isn: u32 },
}

impl TimeWait {
    /// ACK from the record: SND.NXT, RCV.NXT, our timestamp and the last one seen.
    pub(crate) fn ack(&self, cx: &mut Ctx<'_>) {
        let ts = self.ts.then(|| Timestamps {
            val: (cx.now.as_millis() as u32).wrapping_add(self.ts_off),
            ecr: self.ts_recent,
        });
        cx.send_ctrl(Ctrl {
            src: self.local,
            dst: self.remote,
            seq: self.snd_nxt,
            ack: self.rcv_nxt,
            flags: TcpFlags::ACK,
            win: (self.rcv_wnd >> self.wscale).min(65535) as u16,
            ts,
            syn: None,
        });
    }

    /// `tcp_timewait_check_oow_rate_limit`: the ACK for an out-of-window segment, a
    /// duplicate or a timestamp-failed one, at most once per tcp_invalid_ratelimit.
    fn ack_oow(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>, c: Counter) {
        if !self.last_oow_ack.limited_for(cx, seg, c) {
            self.ack(cx);
        }
    }

    /// `tcp_paws_reject`: the timestamp is older than `ts_recent` (no slack here), unless
    /// `ts_recent` is 0 or older than 24 days; a reset escapes only once `ts_recent` is
    /// older than TCP_PAWS_MSL (60 s).
    fn paws_reject(&self, seg: &TcpSegment<'_>) -> bool {
        let Some(ts) = seg.options.timestamps.filter(|_| self.ts) else {
            return false;
        };
        let Some(age) = self.ts_recent_age else {
            return false;
        };
        if (self.ts_recent.wrapping_sub(ts.val) as i32) <= 0 || self.ts_recent == 0 {
            return false;
        }
        !(seg.flags.rst() && age >= Duration::from_secs(60))
    }

    /// Linux `tcp_timewait_state_process()`.
    pub(crate) fn on_segment(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>) -> TwVerdict {
        let seq = SeqNum(seg.seq);
        let end = seq + seg.seq_len();
        let rcv_nxt = SeqNum(self.rcv_nxt);
        let tsval = seg.options.timestamps.map(|t| t.val);
        let paws_reject = self.paws_reject(seg);

        if self.substate == TcpState::FinWait2 {
            let in_window = end >= rcv_nxt && seq <= rcv_nxt + self.rcv_wnd;
            if paws_reject || !in_window {
                self.ack_oow(cx, seg, Counter::TcpAckSkippedFinWait2);
                return TwVerdict::Keep { restart: false };
            }
            if seg.flags.rst() {
                return TwVerdict::Kill;
            }
            if seg.flags.syn() && seq >= rcv_nxt {
                return TwVerdict::KillWithRst;
            }
            if !seg.flags.ack() || end <= rcv_nxt || end == seq {
                return TwVerdict::Keep { restart: false };
            }
            if !seg.flags.fin() || end != rcv_nxt + 1 {
                // New data after a half-duplex close: reset.
                cx.incr(Counter::TcpAbortOnData);
                return TwVerdict::KillWithRst;
            }
            // The FIN: a true TIME_WAIT now.
            let (local, remote) = (self.local, self.remote);
            cx.events.state(
                cx.now,
                local,
                remote,
                TcpState::FinWait2,
                TcpState::TimeWait,
            );
            self.substate = TcpState::TimeWait;
            self.rcv_nxt = end.0;
            if let Some(v) = tsval {
                self.ts_recent = v;
                self.ts_recent_age = Some(Duration::ZERO);
            }
            self.ack(cx);
            return TwVerdict::Keep { restart: true };
        }

        if !paws_reject && seq == rcv_nxt && (seg.seq_len() == 0 || seg.flags.rst()) {
            if seg.flags.rst() {
                if cx.cfg.tcp_rfc1337 {
                    return TwVerdict::Keep { restart: false };
                }
                cx.incr(Counter::TwKilled);
                return TwVerdict::Kill;
            }
            if let Some(v) = tsval {
                if self.ts {
                    self.ts_recent = v;
                    self.ts_recent_age = Some(Duration::ZERO);
                }
            }
            return TwVerdict::Keep { restart: false };
        }

        // A new SYN may open a new incarnation (RFC 1122 4.2.2.13, RFC 6191).
        if seg.flags.syn() && !seg.flags.rst() && !seg.flags.ack() && !paws_reject {
            let newer_ts =
                self.ts && matches!(tsval, Some(v) if (v.wrapping_sub(self.ts_recent) as i32) > 0);
            if seq > rcv_nxt || newer_ts {
                cx.incr(Counter::TwRecycled);
                return TwVerdict::Reopen {
                    isn: self.snd_nxt.wrapping_add(65535 + 2),
                };
            }
        }
        if paws_reject {
            cx.incr(Counter::PawsEstab);
        }
        if !seg.flags.rst() {
            let restart = paws_reject || seg.flags.ack();
            self.ack_oow(cx, seg, Counter::TcpAckSkippedTimeWait);
            return TwVerdict::Keep { restart };
        }
        TwVerdict::Keep { restart: false }
    }
}
