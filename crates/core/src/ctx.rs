//! What a connection, listener or TIME_WAIT record needs from its stack while it
//! handles an input: the time, the settings, the counters, the event log, and the
//! transmit queue for segments that belong to no connection (RSTs, TIME_WAIT ACKs).
use crate::event::{Event, EventKind};
use crate::{Config, Counter, Counters, Instant, TcpState};
use std::collections::VecDeque;
use std::net::SocketAddr;
use synack_wire::{TcpFlags, TcpOptions, TcpSegment, Timestamps};

/// Most events kept between two `drain_events` calls; beyond it the oldest are dropped
/// (and counted), so a driver that forgets to drain cannot make memory grow without bound.
pub(crate) const MAX_EVENTS: usize = 1 << 20;

#[derive(Default)]
pub(crate) struct Events {
    pub(crate) on: bool,
    pub(crate) list: VecDeque<Event>,
    pub(crate) lost: u64,
}

impl Events {
    #[inline]
    pub(crate) fn push(&mut self, at: Instant, kind: impl FnOnce() -> EventKind) {
        if self.on {
            if self.list.len() >= MAX_EVENTS {
                self.list.pop_front();
                self.lost += 1;
            }
            self.list.push_back(Event { at, kind: kind() });
        }
    }
    pub(crate) fn state(
        &mut self,
        at: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        from: TcpState,
        to: TcpState,
    ) {
        if from != to {
            self.push(at, || EventKind::State {
                local,
                remote,
                from,
                to,
            });
        }
    }
}

/// A segment that belongs to no connection object: RST replies, TIME_WAIT ACKs,
/// active resets of connections that are already gone.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctrl {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: TcpFlags,
    pub(crate) win: u16,
    pub(crate) ts: Option<Timestamps>,
    /// A SYN-ACK's options (SYN cookies answer with a control segment).
    pub(crate) syn: Option<SynOptions>,
}

/// MSS, window scale and SACK-permitted of a stateless SYN-ACK.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SynOptions {
    pub(crate) mss: u16,
    pub(crate) wscale: Option<u8>,
    pub(crate) sack: bool,
}

impl Ctrl {
    pub(crate) fn options(&self) -> TcpOptions {
        TcpOptions {
            timestamps: self.ts,
            mss: self.syn.map(|s| s.mss),
            window_scale: self.syn.and_then(|s| s.wscale),
            sack_permitted: self.syn.is_some_and(|s| s.sack),
            ..Default::default()
        }
    }
}

/// Bound on queued control segments (RFC 5961 spirit: replies to junk must not pile up).
pub(crate) const MAX_CTRL: usize = 4096;

pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) cfg: &'a Config,
    pub(crate) counters: &'a mut Counters,
    pub(crate) events: &'a mut Events,
    pub(crate) ctrl: &'a mut VecDeque<Ctrl>,
    pub(crate) challenge: &'a mut ChallengeBudget,
    /// The link takes no packets now (`Stack::set_link_blocked`).
    pub(crate) link_blocked: bool,
}

/// When a socket last answered junk (Linux's `last_oow_ack_time`), in milliseconds of
/// the stack's clock, as Linux keeps it in jiffies: 4 bytes, so that it fits the compact
/// TIME_WAIT and request records too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct OowStamp(Option<u32>);

impl OowStamp {
    /// As one `u32` for packed records: 0 is "never" (a stamp of exactly 0 is kept as the
    /// millisecond before, an error Linux's jiffies-initialised field makes too).
    pub(crate) fn to_raw(self) -> u32 {
        match self.0 {
            None => 0,
            Some(0) => u32::MAX,
            Some(t) => t,
        }
    }

    pub(crate) fn from_raw(raw: u32) -> OowStamp {
        OowStamp((raw != 0).then_some(raw))
    }

    /// `__tcp_oow_rate_limited`: whether an answer now would come within
    /// tcp_invalid_ratelimit of the last one (then counted in `c` and not sent); if not,
    /// now becomes the last one.
    pub(crate) fn limited(&mut self, cx: &mut Ctx<'_>, c: Counter) -> bool {
        let now = cx.now.as_millis() as u32;
        if let Some(t) = self.0 {
            let elapsed = now.wrapping_sub(t) as i32;
            if elapsed >= 0 && (elapsed as u128) < cx.cfg.tcp_invalid_ratelimit.as_millis() {
                cx.incr(c);
                return true;
            }
        }
        self.0 = Some(now);
        false
    }

    /// `tcp_oow_rate_limited`: as [`OowStamp::limited`], but a segment with data or a FIN
    /// (and no SYN) is always answered — it is not part of an ACK loop between two stacks
    /// that disagree about the window, which is what the limit breaks.
    pub(crate) fn limited_for(
        &mut self,
        cx: &mut Ctx<'_>,
        seg: &TcpSegment<'_>,
        c: Counter,
    ) -> bool {
        if seg.seq_len() > 0 && !seg.flags.syn() {
            return false;
        }
        self.limited(cx, c)
    }
}

/// The host-wide RFC 5961 challenge-ACK budget (`tcp_challenge_ack_limit`): per second, a
/// count drawn at random between half the limit and 1.5 times it, so that an attacker
/// cannot learn from the count (CVE-2016-5696). Deterministic from the stack's seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChallengeBudget {
    second: u64,
    left: u32,
    rng: u64,
}

impl ChallengeBudget {
    pub(crate) fn new(seed: u64) -> Self {
        ChallengeBudget {
            second: u64::MAX,
            left: 0,
            rng: seed ^ 0x9E37_79B9_7F4A_7C15 | 1,
        }
    }

    /// May a challenge ACK go now? (`tcp_send_challenge_ack`'s host-wide check.)
    pub(crate) fn take(&mut self, now: Instant, limit: u32) -> bool {
        if limit >= i32::MAX as u32 {
            return true;
        }
        let second = now.as_micros() / 1_000_000;
        if second != self.second {
            self.second = second;
            let half = (limit + 1) >> 1;
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            // get_random_u32_inclusive(half, limit + half - 1)
            let span = u64::from(limit.max(1));
            self.left = half + (self.rng % span) as u32;
        }
        if self.left > 0 {
            self.left -= 1;
            true
        } else {
            false
        }
    }
}

impl Ctx<'_> {
    pub(crate) fn incr(&mut self, c: Counter) {
        self.counters.incr(c);
    }
    pub(crate) fn add(&mut self, c: Counter, n: u64) {
        self.counters.add(c, n);
    }
    pub(crate) fn send_ctrl(&mut self, c: Ctrl) {
        if self.ctrl.len() < MAX_CTRL {
            self.ctrl.push_back(c);
        } else {
            self.counters.incr(Counter::IpInDiscards);
        }
    }
    /// The RST answering `seg` when no connection wants it (RFC 9293 "reset generation"):
    /// if it had ACK, `<SEQ=SEG.ACK><CTL=RST>`, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
    pub(crate) fn reset_reply(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &synack_wire::TcpSegment<'_>,
    ) {
        if seg.flags.rst() {
            return;
        }
        let c = if seg.flags.ack() {
            Ctrl {
                src,
                dst,
                seq: seg.ack,
                ack: 0,
                flags: TcpFlags::RST,
                win: 0,
                ts: None,
                syn: None,
            }
        } else {
            Ctrl {
                src,
                dst,
                seq: 0,
                ack: seg.seq.wrapping_add(seg.seq_len()),
                flags: TcpFlags::RST | TcpFlags::ACK,
                win: 0,
                ts: None,
                syn: None,
            }
        };
        self.incr(Counter::OutRsts);
        self.send_ctrl(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per second, between half the limit and one and a half times it are allowed (the
    /// count drawn at random each second); unlimited at i32::MAX.
    #[test]
    fn challenge_budget_per_second() {
        let mut b = ChallengeBudget::new(7);
        for second in 0..20u64 {
            let t = Instant::from_micros(second * 1_000_000 + 1);
            let n = (0..5000).take_while(|_| b.take(t, 1000)).count();
            assert!((500..1500).contains(&n), "second {second}: {n}");
        }
        assert!((0..100_000).all(|_| b.take(Instant::ZERO, i32::MAX as u32)));
    }
}
