//! The sender's side of a model-based congestion control — BBR, Linux's `tcp_bbr.c` —
//! which sets the window and a pacing rate from a model of the path (its bottleneck
//! bandwidth and round-trip time) instead of reacting to loss.
//!
//! Linux calls such an algorithm through `cong_control` on every ACK that is not older
//! than SND.UNA, in place of PRR and slow start/congestion avoidance
//! (`tcp_cong_control`), hands it a delivery-rate sample (`tcp_rate.c`, here
//! [`crate::rate`]), and paces the segments itself when the qdisc does not
//! (`tcp_internal_pacing`, here [`crate::pacing`]). Everything else — recovery, RACK,
//! undo, the RTO — runs as for CUBIC; only the window they would set is not used: on
//! entering recovery BBR keeps the window (`bbr_ssthresh` leaves the threshold
//! infinite) and conserves packets itself.
//!
//! The state — BBR's, the rate sampler's and the pacing clock — lives in one box that
//! only connections using BBR have.
use super::Conn;
use crate::bbr::{Bbr, RateSample, Sock};
use crate::cc::Algorithm;
use crate::ctx::Ctx;
use crate::pacing::Pacing;
use crate::rate::{Rate, Sampler};
use crate::Instant;
use synack_wire::SeqNum;

/// A BBR connection's model, sampler and pacing clock.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    pub(super) bbr: Bbr,
    pub(super) rate: Rate,
    pub(super) pacing: Pacing,
    /// The SACK scoreboard before the ACK being processed: what it newly holds after
    /// is what the ACK SACKed (kept here to reuse its memory).
    scoreboard: Vec<(SeqNum, SeqNum)>,
    /// For `get_random_u32_below` (BBR's first gain-cycle phase), seeded from the
    /// connection's secret-derived ISN and timestamp offset: replays exactly.
    rng: u32,
}

/// What the sender knew before an ACK, for the sample.
pub(super) struct BeforeAck {
    cwnd: u32,
    in_flight: u32,
}

impl Model {
    fn next_rand(&mut self) -> u32 {
        // xorshift32
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }
}

impl Conn {
    fn segs(&self, bytes: u32) -> u32 {
        bytes.div_ceil(u32::from(self.mss.max(1)))
    }

    /// The `tcp_sock` fields BBR reads, as it would see them now.
    fn sock(&self, now: Instant) -> Sock {
        let mss = u32::from(self.mss.max(1));
        let m = self.model.as_deref();
        Sock {
            now,
            now_ns: now.as_micros().saturating_mul(1000),
            wstamp_ns: m.map_or(0, |m| m.pacing.wstamp_ns),
            cwnd: self.cwnd / mss,
            cwnd_clamp: u32::MAX,
            ssthresh: if self.ssthresh == u32::MAX {
                0x7fff_ffff
            } else {
                self.ssthresh / mss
            },
            pacing_rate: m.map_or(0, |m| m.pacing.rate),
            max_pacing_rate: u64::MAX,
            mss,
            srtt_us: self.srtt_us,
            min_rtt_us: if self.min_rtt_us == 0 {
                u32::MAX
            } else {
                self.min_rtt_us
            },
            delivered: m.map_or(self.stats.delivered, |m| m.rate.delivered),
            delivered_mstamp: m.map_or(now, |m| m.rate.delivered_mstamp),
            lost: m.map_or(0, |m| m.rate.lost),
            in_flight: self.segs(self.pipe()),
            ca_state: self.ca_state(),
            app_limited: m.map_or(0, |m| m.rate.app_limited),
            rand: 0,
        }
    }

    /// Take what BBR wrote back: the window (in segments, held to at least one), the
    /// threshold, the pacing rate, the app-limited mark.
    fn take_sock(&mut self, sk: &Sock) {
        let mss = u32::from(self.mss.max(1));
        self.cwnd = sk.cwnd.max(1).saturating_mul(mss);
        self.ssthresh = if sk.ssthresh >= 0x7fff_ffff {
            u32::MAX
        } else {
            sk.ssthresh.saturating_mul(mss)
        };
        if let Some(m) = self.model.as_deref_mut() {
            m.pacing.rate = sk.pacing_rate;
            m.rate.app_limited = sk.app_limited;
        }
    }

    /// `tcp_init_congestion_control` / `tcp_reinit_congestion_control`: a connection
    /// reaching ESTABLISHED, or switching algorithm with TCP_CONGESTION, builds BBR's
    /// model (`bbr_init`: the window stays, the threshold becomes infinite, the pacing
    /// rate starts from the window over the smoothed RTT) — or drops it for another.
    pub(super) fn model_init(&mut self, now: Instant) {
        if self.cc.algorithm != Algorithm::Bbr {
            self.model = None;
            return;
        }
        if self.model.is_some() {
            return;
        }
        let mut sk = self.sock(now);
        let bbr = Bbr::new(&mut sk);
        let seed = self.iss.0 ^ self.ts_off.rotate_left(16) | 1;
        self.model = Some(Box::new(Model {
            bbr,
            rate: Rate::new(self.stats.delivered, now),
            pacing: Pacing::default(),
            scoreboard: Vec::new(),
            rng: seed,
        }));
        self.take_sock(&sk);
    }

    /// `tcp_pacing_check` before a data segment: false if it may go now.
    pub(super) fn model_paced(&mut self, now: Instant) -> bool {
        self.model
            .as_deref_mut()
            .is_some_and(|m| m.pacing.wait(now))
    }

    /// The pacing timer is armed: data waits for it (`wants_tx` says nothing to send).
    pub(super) fn pacing_pending(&self) -> bool {
        self.model
            .as_deref()
            .is_some_and(|m| m.pacing.deadline.is_some())
    }

    pub(super) fn pacing_deadline(&self) -> Option<Instant> {
        self.model.as_deref().and_then(|m| m.pacing.deadline)
    }

    pub(super) fn pacing_fire(&mut self, now: Instant) {
        if let Some(m) = self.model.as_deref_mut() {
            m.pacing.fire(now);
        }
    }

    /// A data segment `start..end` (`len` bytes of payload) went out — after
    /// `finish`, so `data_segs_out` counts it. `idle`: nothing was unacknowledged
    /// before it (`!tp->packets_out`), which also starts a transmission for BBR
    /// (`CA_EVENT_TX_START`) when it is new data.
    pub(super) fn model_sent(
        &mut self,
        now: Instant,
        start: SeqNum,
        end: SeqNum,
        len: u32,
        retrans: bool,
        idle: bool,
    ) -> bool {
        let data_segs_out = self.stats.data_segs_out;
        let mss = u32::from(self.mss.max(1));
        // The skb this segment opens, if it does: a retransmission is one of its own;
        // new data goes in skbs of `tcp_tso_autosize` segments (the floor BBR's,
        // `bbr_min_tso_segs`), as many as the window, the peer's window and the data
        // let one take (`tcp_write_xmit`'s quota and `tcp_mss_split_point`).
        let skb_segs = match self.model.as_deref() {
            Some(m) if !retrans => {
                let floor = crate::bbr::min_tso_segs(m.pacing.rate);
                let min_rtt = if self.min_rtt_us == 0 {
                    u32::MAX
                } else {
                    self.min_rtt_us
                };
                let goal = crate::pacing::tso_autosize(m.pacing.rate, mss, min_rtt, floor);
                let room = [
                    self.cwnd_left() / mss,
                    self.send_window_left() / mss,
                    u32::try_from(self.unsent())
                        .unwrap_or(u32::MAX)
                        .div_ceil(mss),
                ];
                goal.min(room.into_iter().min().unwrap_or(0).saturating_add(1))
            }
            _ => 1,
        };
        let Some(m) = self.model.as_deref_mut() else {
            return false;
        };
        let psh = m.pacing.sent(now, len, data_segs_out, skb_segs);
        m.rate.sent(now, start, end, idle);
        if idle && !retrans {
            let mut sk = self.sock(now);
            if let Some(m) = self.model.as_deref_mut() {
                m.bbr.cwnd_event_tx_start(&mut sk);
            }
            self.take_sock(&sk);
        }
        psh
    }

    /// `tcp_rate_check_app_limited`, when the application writes: less than a segment
    /// waits to be sent and the window has room (and no lost segment waits to be
    /// resent) — what is delivered until what is out now has arrived is app-limited.
    pub(super) fn model_check_app_limited(&mut self) {
        if self.model.is_none() {
            return;
        }
        let mss = u32::from(self.mss.max(1));
        let in_flight = self.segs(self.pipe());
        let lost_waiting = self.flight.recover.is_some() || self.flight.loss.is_some();
        if (self.unsent() as u64) < u64::from(mss) && in_flight < self.cwnd / mss && !lost_waiting {
            if let Some(m) = self.model.as_deref_mut() {
                m.rate.set_app_limited(in_flight);
            }
        }
    }

    /// Before the ACK is processed: the window to keep (whatever recovery would set
    /// for CUBIC), and the flight (`prior_in_flight`).
    pub(super) fn model_before_ack(&mut self) -> Option<BeforeAck> {
        let m = self.model.as_deref_mut()?;
        m.scoreboard.clear();
        m.scoreboard.extend_from_slice(&self.flight.sacked);
        Some(BeforeAck {
            cwnd: self.cwnd,
            in_flight: self.segs(self.pipe()),
        })
    }

    /// After the ACK: what it delivered, the sample, and BBR's `cong_control`
    /// (`bbr_main`) sets the window and the pacing rate.
    pub(super) fn model_after_ack(&mut self, cx: &mut Ctx<'_>, before: BeforeAck) {
        // The box is taken out while the scoreboard is read (and put back below).
        let Some(mut m) = self.model.take() else {
            return;
        };
        let una = self.snd_una;
        let mss = u32::from(self.mss.max(1));
        // Segments newly marked lost: the holes below the highest SACK once recovery
        // has judged them so (RACK, no reordering seen); a timeout counted its own.
        let lost = if self.ca_state() >= 3 {
            let sacked = |a: SeqNum, b: SeqNum| self.sacked_between(a, b);
            m.rate.mark_lost(una, self.lost_top(), mss, sacked)
        } else {
            0
        };
        let mut s = Sampler::default();
        m.rate.acked(una, &mut s);
        let before_sacked = std::mem::take(&mut m.scoreboard);
        m.rate.sacked(&before_sacked, &self.flight.sacked, &mut s);
        m.scoreboard = before_sacked;
        self.cwnd = before.cwnd;
        let in_flight_now = self.segs(self.pipe());
        let now = cx.now;
        let rs: RateSample = m.rate.gen(
            now,
            &s,
            lost,
            before.in_flight,
            in_flight_now,
            self.min_rtt_us,
        );
        self.model = Some(m);
        let mut sk = self.sock(now);
        if let Some(m) = self.model.as_deref_mut() {
            sk.rand = m.next_rand();
            m.bbr.main(&mut sk, &rs);
        }
        self.take_sock(&sk);
    }

    /// `tcp_enter_loss` → `tcp_set_ca_state(TCP_CA_Loss)` → `bbr_set_state`: everything
    /// out is lost (counted now), BBR restarts its round and its bandwidth plateau.
    pub(super) fn model_enter_loss(&mut self, now: Instant) {
        let Some(mut m) = self.model.take() else {
            return;
        };
        let (una, top, mss) = (self.snd_una, self.snd_max, u32::from(self.mss.max(1)));
        let sacked = |a: SeqNum, b: SeqNum| self.sacked_between(a, b);
        m.rate.mark_lost(una, top, mss, sacked);
        self.model = Some(m);
        let mut sk = self.sock(now);
        sk.ca_state = 4;
        if let Some(m) = self.model.as_deref_mut() {
            m.bbr.set_state(&sk, 4);
        }
    }

    /// `ca_ops->ssthresh` on a loss or CWR: BBR saves the window for after recovery
    /// and leaves the threshold as it is. `None` for the other algorithms.
    pub(super) fn model_ssthresh(&mut self) -> Option<u32> {
        // It reads only the window and the state: no clock needed.
        let sk = self.sock(Instant::ZERO);
        let m = self.model.as_deref_mut()?;
        m.bbr.ssthresh(&sk);
        Some(self.ssthresh)
    }

    /// `ca_ops->undo_cwnd`: BBR forgets its bandwidth plateau and policer estimate and
    /// keeps the window. `None` for the other algorithms.
    pub(super) fn model_undo(&mut self) -> Option<u32> {
        // It reads only the window: no clock needed.
        let sk = self.sock(Instant::ZERO);
        let m = self.model.as_deref_mut()?;
        Some(
            m.bbr
                .undo_cwnd(&sk)
                .saturating_mul(u32::from(self.mss.max(1))),
        )
    }

    /// `tcp_sndbuf_expand`'s segments per window: 3 for BBR, 2 otherwise.
    pub(super) fn sndbuf_per_cwnd(&self) -> u32 {
        if self.model.is_some() {
            crate::bbr::SNDBUF_EXPAND
        } else {
            2
        }
    }

    /// TCP_INFO's pacing and delivery rates, bytes/s, and whether the latter was
    /// app-limited (0 without BBR: only its connections keep the sampler).
    pub(super) fn model_rates(&self) -> (u64, u64, bool) {
        let mss = u32::from(self.mss.max(1));
        self.model.as_deref().map_or((0, 0, false), |m| {
            let (d, al) = m.rate.delivery_rate(mss);
            (m.pacing.rate, d, al)
        })
    }

    /// ss's `bbr:(bw:…,mrtt:…,pacing_gain:…,cwnd_gain:…)` and the mode.
    pub(super) fn model_info(&self, now: Instant) -> Option<crate::api::BbrInfo> {
        let sk = self.sock(now);
        let m = self.model.as_deref()?;
        let i = m.bbr.info(&sk);
        Some(crate::api::BbrInfo {
            bw: i.bw,
            min_rtt_us: i.min_rtt_us,
            pacing_gain: i.pacing_gain,
            cwnd_gain: i.cwnd_gain,
            mode: m.bbr.mode_name(),
        })
    }
}
