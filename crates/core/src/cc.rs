//! Congestion avoidance: Reno and CUBIC (RFC 9438), as Linux's `tcp_cong.c` and
//! `tcp_cubic.c` compute them, in packets. BBR, the third algorithm, is model-based and
//! sets the window itself (`crate::bbr`, driven from the connection's `model` module).
//!
//! The connection keeps its window in bytes; it hands the algorithm the window in
//! segments and the segments an ACK newly covered, and takes back the new window and, on
//! a loss, the slow-start threshold. CUBIC's fixed-point arithmetic is Linux's (time in
//! 1/1024 s, `C` = 0.4 as `bic_scale` 41, β = 717/1024, fast convergence and the
//! Reno-friendly region on), so the window follows the same curve. HyStart (on in the
//! linux profile) ends slow start early, as `tcp_cubic.c` does, on an ACK train as long as
//! half the minimum RTT or on an RTT grown by an eighth of it (4 to 16 ms).
use crate::Instant;
use std::time::Duration;

/// Which algorithm (`net.ipv4.tcp_congestion_control`, `TCP_CONGESTION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    Reno,
    #[default]
    Cubic,
    /// BBR v1 (`tcp_bbr.c`): the window and a pacing rate from the path's measured
    /// bandwidth and RTT.
    Bbr,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Reno => "reno",
            Algorithm::Cubic => "cubic",
            Algorithm::Bbr => "bbr",
        }
    }

    /// By Linux's name; other algorithms are not available here (ENOENT in Linux).
    pub fn from_name(s: &str) -> Option<Algorithm> {
        match s {
            "reno" => Some(Algorithm::Reno),
            "cubic" => Some(Algorithm::Cubic),
            "bbr" => Some(Algorithm::Bbr),
            _ => None,
        }
    }
}

/// β = 717/1024 ≈ 0.7.
const BETA: u64 = 717;
const BETA_SCALE: u64 = 1024;
/// `bic_scale` 41 → C = 41 × 10 / 1024 ≈ 0.4 (`cube_rtt_scale`).
const CUBE_RTT_SCALE: u64 = 41 * 10;
/// Time in 1/1024 s (`BICTCP_HZ` = 10).
const HZ_SHIFT: u32 = 10;
/// `cube_factor` = 2^(10 + 3·10) / cube_rtt_scale.
const CUBE_FACTOR: u64 = (1u64 << (10 + 3 * HZ_SHIFT)) / CUBE_RTT_SCALE;
/// `beta_scale` = 8·(1024 + β) / 3 / (1024 − β): the Reno-friendly slope.
const FRIENDLY_SCALE: u64 = 8 * (BETA_SCALE + BETA) / 3 / (BETA_SCALE - BETA);

/// One connection's congestion-avoidance state.
#[derive(Clone, Debug, Default)]
pub(crate) struct CongestionControl {
    pub(crate) algorithm: Algorithm,
    /// Segments acknowledged toward the next increase (`snd_cwnd_cnt`).
    cwnd_cnt: u32,
    cubic: Cubic,
}

#[derive(Clone, Debug, Default)]
struct Cubic {
    /// Segments per increase of one (`cnt`).
    cnt: u32,
    /// The window before the last reduction (`last_max_cwnd`).
    last_max_cwnd: u32,
    last_cwnd: u32,
    last_time: Option<Instant>,
    origin_point: u32,
    /// Time to reach `origin_point`, in 1/1024 s (`bic_K`).
    k: u64,
    delay_min: OptMicros,
    epoch_start: Option<Instant>,
    ack_cnt: u32,
    /// The window Reno would have (`tcp_cwnd`), for the friendly region.
    tcp_cwnd: u32,
    hystart: HyStart,
}

/// HyStart's state for the current slow-start round (`bictcp`'s `found`, `round_start`,
/// `last_ack`, `end_seq`, `curr_rtt`, `sample_cnt`).
#[derive(Clone, Debug, Default)]
struct HyStart {
    found: bool,
    /// `None` until the first ACK: the round then starts.
    round_start: Option<Instant>,
    last_ack: Instant,
    end_seq: u32,
    curr_rtt: OptMicros,
    sample_cnt: u32,
}

/// `hystart_low_window`: HyStart watches slow start from 16 segments on.
const HYSTART_LOW_WINDOW: u32 = 16;
/// `hystart_ack_delta_us`: ACKs closer than this are a train.
const HYSTART_ACK_DELTA: Duration = Duration::from_micros(2000);
const HYSTART_MIN_SAMPLES: u32 = 8;
const HYSTART_DELAY_MIN: Duration = Duration::from_micros(4000);
const HYSTART_DELAY_MAX: Duration = Duration::from_micros(16000);

/// What ended slow start, for the counters (both may fire on one ACK, as in Linux).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HyStartExit {
    pub(crate) train: bool,
    pub(crate) delay: bool,
}

/// An RTT that may not be known yet, in whole microseconds (0: none), 4 bytes — Linux keeps
/// `delay_min` and `curr_rtt` as u32 µs too (a sample is at least 1 µs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct OptMicros(u32);

impl OptMicros {
    const NONE: OptMicros = OptMicros(0);
    fn some(d: Duration) -> OptMicros {
        OptMicros(u32::try_from(d.as_micros()).unwrap_or(u32::MAX).max(1))
    }
    fn get(self) -> Option<Duration> {
        (self.0 != 0).then(|| Duration::from_micros(u64::from(self.0)))
    }
}

/// `after(a, b)` on sequence numbers.
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl CongestionControl {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        CongestionControl {
            algorithm,
            ..Default::default()
        }
    }

    /// `TCP_CONGESTION` on a live connection: the new algorithm starts fresh.
    pub(crate) fn set_algorithm(&mut self, a: Algorithm) {
        *self = CongestionControl::new(a);
    }

    /// An RTT sample (CUBIC keeps the smallest: `delay_min`).
    pub(crate) fn on_rtt(&mut self, rtt: Duration) {
        let c = &mut self.cubic;
        c.delay_min = OptMicros::some(c.delay_min.get().map_or(rtt, |d| d.min(rtt)));
    }

    /// The slow-start threshold after a loss (`ssthresh` op), in segments.
    pub(crate) fn ssthresh(&mut self, cwnd: u32) -> u32 {
        match self.algorithm {
            // BBR's is the connection's (`bbr_ssthresh`): never called for it.
            Algorithm::Reno | Algorithm::Bbr => (cwnd / 2).max(2),
            Algorithm::Cubic => {
                let c = &mut self.cubic;
                c.epoch_start = None;
                // Fast convergence: a flow whose window keeps falling yields sooner.
                c.last_max_cwnd = if cwnd < c.last_max_cwnd {
                    ((cwnd as u64 * (BETA_SCALE + BETA)) / (2 * BETA_SCALE)) as u32
                } else {
                    cwnd
                };
                ((cwnd as u64 * BETA / BETA_SCALE) as u32).max(2)
            }
        }
    }

    /// A retransmission timeout: CUBIC starts a new epoch and HyStart a new round
    /// (`cubictcp_state(TCP_CA_Loss)`: `bictcp_reset`, `bictcp_hystart_reset`).
    pub(crate) fn on_timeout(&mut self, now: Instant, snd_nxt: u32) {
        if self.algorithm == Algorithm::Cubic {
            let last_max = self.cubic.last_max_cwnd;
            self.cubic = Cubic {
                last_max_cwnd: last_max,
                delay_min: self.cubic.delay_min,
                ..Cubic::default()
            };
            self.hystart_reset(now, snd_nxt);
        }
        self.cwnd_cnt = 0;
    }

    /// `bictcp_hystart_reset`: a slow-start round begins with the data now sent.
    fn hystart_reset(&mut self, now: Instant, snd_nxt: u32) {
        self.cubic.hystart = HyStart {
            found: self.cubic.hystart.found,
            round_start: Some(now),
            last_ack: now,
            end_seq: snd_nxt,
            curr_rtt: OptMicros::NONE,
            sample_cnt: 0,
        };
    }

    /// `cubictcp_cong_avoid` in slow start: an ACK past the round's end starts a new one.
    pub(crate) fn slow_start_ack(&mut self, now: Instant, ack: u32, snd_nxt: u32, on: bool) {
        let h = &self.cubic.hystart;
        if self.algorithm == Algorithm::Cubic
            && on
            && (h.round_start.is_none() || after(ack, h.end_seq))
        {
            self.hystart_reset(now, snd_nxt);
        }
    }

    /// `cubictcp_acked`: the RTT of the newest segment an ACK covered. CUBIC keeps the
    /// smallest (`delay_min`) and, in slow start, HyStart looks for its exit; `Some` when
    /// slow start should end here (ssthresh = cwnd).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn acked(
        &mut self,
        now: Instant,
        rtt: Duration,
        cwnd: u32,
        in_slow_start: bool,
        snd_una: u32,
        snd_nxt: u32,
        on: bool,
    ) -> Option<HyStartExit> {
        if self.algorithm != Algorithm::Cubic {
            return None;
        }
        // Delay samples right after a recovery are not the path's.
        if self
            .cubic
            .epoch_start
            .is_some_and(|e| now.saturating_duration_since(e) < Duration::from_secs(1))
        {
            return None;
        }
        let delay = rtt.max(Duration::from_micros(1));
        self.on_rtt(delay);
        if self.cubic.hystart.found || !in_slow_start || !on {
            return None;
        }
        self.hystart_update(now, delay, cwnd, snd_una, snd_nxt)
    }

    /// `hystart_update` (hystart_detect = 3: ACK train and delay).
    fn hystart_update(
        &mut self,
        now: Instant,
        delay: Duration,
        cwnd: u32,
        snd_una: u32,
        snd_nxt: u32,
    ) -> Option<HyStartExit> {
        let round_over = self
            .cubic
            .hystart
            .round_start
            .is_none_or(|_| after(snd_una, self.cubic.hystart.end_seq));
        if round_over {
            self.hystart_reset(now, snd_nxt);
        }
        if cwnd < HYSTART_LOW_WINDOW {
            return None;
        }
        let delay_min = self.cubic.delay_min.get().unwrap_or(delay);
        let h = &mut self.cubic.hystart;
        let mut exit = HyStartExit::default();
        // The ACK train: ACKs back to back for longer than half the minimum RTT (no
        // pacing) — the window already covers the path.
        if now.saturating_duration_since(h.last_ack) <= HYSTART_ACK_DELTA {
            h.last_ack = now;
            let start = h.round_start.unwrap_or(now);
            if now.saturating_duration_since(start) > delay_min / 2 {
                h.found = true;
                exit.train = true;
            }
        }
        // The delay: the round's smallest RTT of eight grew by an eighth of the minimum
        // (4 to 16 ms) — a queue is building.
        let curr = h.curr_rtt.get().unwrap_or(delay);
        h.curr_rtt = OptMicros::some(curr.min(delay));
        if h.sample_cnt < HYSTART_MIN_SAMPLES {
            h.sample_cnt += 1;
        } else {
            let thresh = (delay_min / 8).clamp(HYSTART_DELAY_MIN, HYSTART_DELAY_MAX);
            if h.curr_rtt.get().unwrap_or(delay) > delay_min + thresh {
                h.found = true;
                exit.delay = true;
            }
        }
        (exit.train || exit.delay).then_some(exit)
    }

    /// Congestion avoidance (`cong_avoid` op, above ssthresh): `acked` segments newly
    /// acknowledged; returns the new window in segments.
    pub(crate) fn avoid(&mut self, now: Instant, cwnd: u32, acked: u32) -> u32 {
        let cnt = match self.algorithm {
            Algorithm::Reno | Algorithm::Bbr => cwnd,
            Algorithm::Cubic => self.cubic.update(now, cwnd, acked),
        };
        self.additive_increase(cwnd, cnt.max(1), acked)
    }

    /// `tcp_cong_avoid_ai`: one segment more per `w` segments acknowledged.
    fn additive_increase(&mut self, mut cwnd: u32, w: u32, acked: u32) -> u32 {
        if self.cwnd_cnt >= w {
            self.cwnd_cnt = 0;
            cwnd += 1;
        }
        self.cwnd_cnt += acked;
        if self.cwnd_cnt >= w {
            let delta = self.cwnd_cnt / w;
            self.cwnd_cnt -= delta * w;
            cwnd += delta;
        }
        cwnd
    }
}

/// The integer cube root, rounded down (Linux's `cubic_root` is a table plus a Newton
/// step; this is exact, and deterministic everywhere).
fn cube_root(a: u64) -> u64 {
    let (mut lo, mut hi) = (0u64, 2_097_152u64); // 2^21: (2^21)^3 > u64::MAX / 8
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if mid.saturating_mul(mid).saturating_mul(mid) <= a {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

impl Cubic {
    /// `bictcp_update`: how many acknowledged segments per one segment of growth, so
    /// that the window follows W(t) = C·(t − K)³ + W_max (and never lags Reno).
    fn update(&mut self, now: Instant, cwnd: u32, acked: u32) -> u32 {
        self.ack_cnt += acked;
        let fresh = self.last_time.is_some_and(|t| {
            self.last_cwnd == cwnd
                && now.saturating_duration_since(t) <= Duration::from_micros(31_250)
        });
        if !fresh {
            self.last_cwnd = cwnd;
            self.last_time = Some(now);
            let epoch = *self.epoch_start.get_or_insert_with(|| {
                self.ack_cnt = acked;
                self.tcp_cwnd = cwnd;
                if self.last_max_cwnd <= cwnd {
                    self.k = 0;
                    self.origin_point = cwnd;
                } else {
                    self.k = cube_root(CUBE_FACTOR * (self.last_max_cwnd - cwnd) as u64);
                    self.origin_point = self.last_max_cwnd;
                }
                now
            });
            // t: time since the epoch began, plus the minimum RTT, in 1/1024 s.
            let since =
                now.saturating_duration_since(epoch) + self.delay_min.get().unwrap_or_default();
            let t = (since.as_micros() as u64) * 1024 / 1_000_000;
            let offs = t.abs_diff(self.k);
            let delta = (CUBE_RTT_SCALE * offs * offs * offs) >> (10 + 3 * HZ_SHIFT);
            let target = if t < self.k {
                (self.origin_point as u64).saturating_sub(delta)
            } else {
                self.origin_point as u64 + delta
            };
            self.cnt = if target > cwnd as u64 {
                (cwnd as u64 / (target - cwnd as u64)).max(1) as u32
            } else {
                100 * cwnd
            };
            // The first epoch, with no window to return to, grows at least 5% per RTT.
            if self.last_max_cwnd == 0 && self.cnt > 20 {
                self.cnt = 20;
            }
        }
        // The Reno-friendly region: never grow slower than Reno would.
        let delta = ((cwnd as u64 * FRIENDLY_SCALE) >> 3).max(1) as u32;
        while self.ack_cnt > delta {
            self.ack_cnt -= delta;
            self.tcp_cwnd += 1;
        }
        if self.tcp_cwnd > cwnd {
            let max_cnt = cwnd / (self.tcp_cwnd - cwnd);
            self.cnt = self.cnt.min(max_cnt);
        }
        self.cnt = self.cnt.max(2);
        self.cnt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Instant {
        Instant::from_micros(n)
    }

    /// ACKs 120 µs apart (a 100 Mbit/s bottleneck) with a flat 50 ms RTT: the round's
    /// train passes half the minimum RTT (25 ms) after about 208 ACKs — slow start ends
    /// there (`hystart_ack_delta_us`, `delay_min / 2`), not at a loss.
    #[test]
    fn hystart_ack_train_ends_slow_start_half_an_rtt_into_the_round() {
        let mut cc = CongestionControl::new(Algorithm::Cubic);
        let rtt = Duration::from_millis(50);
        cc.slow_start_ack(us(0), 1, 1000, true);
        // The next round starts with the first ACK past end_seq = 1000.
        let mut fired = None;
        for k in 0..400u64 {
            let now = us(1_000_000 + 120 * k);
            let una = 1001 + k as u32;
            if let Some(e) = cc.acked(now, rtt, 300, true, una, 5000, true) {
                fired = Some((k, e));
                break;
            }
        }
        let (k, e) = fired.expect("HyStart found the exit");
        assert!(e.train && !e.delay, "{e:?}");
        assert_eq!(k, 25_000 / 120 + 1, "the first ACK past 25 ms of train");
        // Found: no more exits until a loss resets it.
        assert_eq!(
            cc.acked(us(2_000_000), rtt, 300, true, 6000, 9000, true),
            None
        );
    }

    /// ACKs spread out (no train) whose RTT grows by more than 4 ms over the minimum: the
    /// ninth sample of the round ends slow start (HYSTART_MIN_SAMPLES, the delay test).
    #[test]
    fn hystart_delay_ends_slow_start_on_a_growing_rtt() {
        let mut cc = CongestionControl::new(Algorithm::Cubic);
        cc.on_rtt(Duration::from_millis(20));
        cc.slow_start_ack(us(0), 1, 1000, true);
        let mut exits = Vec::new();
        for k in 0..12u64 {
            let now = us(1_000_000 + 5_000 * k);
            let r = cc.acked(
                now,
                Duration::from_millis(25),
                32,
                true,
                1001 + k as u32,
                9000,
                true,
            );
            exits.push(r);
        }
        let first = exits.iter().position(Option::is_some).expect("an exit");
        assert_eq!(first, 8, "{exits:?}");
        assert!(exits[first].unwrap().delay);
        // Off (the seed profile), or below 16 segments: never.
        let mut off = CongestionControl::new(Algorithm::Cubic);
        off.on_rtt(Duration::from_millis(20));
        let mut small = off.clone();
        for k in 0..12u64 {
            let now = us(1_000_000 + 5_000 * k);
            let una = 1001 + k as u32;
            assert_eq!(
                off.acked(now, Duration::from_millis(25), 32, true, una, 9000, false),
                None
            );
            assert_eq!(
                small.acked(now, Duration::from_millis(25), 15, true, una, 9000, true),
                None
            );
        }
    }

    #[test]
    fn cube_roots() {
        for x in [0u64, 1, 7, 8, 26, 27, 1000, 999_999, 1 << 40, u64::MAX / 2] {
            let r = cube_root(x);
            assert!(r * r * r <= x, "{x}");
            assert!(
                (r + 1).saturating_mul(r + 1).saturating_mul(r + 1) > x,
                "{x}"
            );
        }
    }

    #[test]
    fn cubic_reduces_to_seven_tenths_then_plateaus_at_the_old_window_until_k() {
        let mut cc = CongestionControl::new(Algorithm::Cubic);
        cc.on_rtt(Duration::from_millis(100));
        assert_eq!(cc.ssthresh(100), 70);
        // K = cbrt(W_max (1 − β) / C) = cbrt(100 × 0.3 / 0.4) ≈ 4.2 s: 42 RTTs of 100 ms.
        let mut cwnd = 70;
        let mut now = Instant::from_micros(0);
        let mut by_rtt = Vec::new();
        for _ in 0..70u64 {
            // One RTT: a window's worth of ACKs.
            let window = cwnd;
            for _ in 0..window {
                cwnd = cc.avoid(now, cwnd, 1);
            }
            now += Duration::from_millis(100);
            by_rtt.push(cwnd);
        }
        // Concave: fast at first, slowing down as it nears W_max...
        assert!(
            by_rtt[4] - by_rtt[0] > by_rtt[24] - by_rtt[20],
            "{by_rtt:?}"
        );
        assert!(by_rtt[10] < 100, "{by_rtt:?}");
        // ...never above it before K...
        assert!(by_rtt[..42].iter().all(|&w| w <= 100), "{by_rtt:?}");
        assert!(by_rtt[35] >= 99, "{by_rtt:?}");
        // ...then convex, probing beyond it.
        assert!(by_rtt[69] > 105, "{by_rtt:?}");
    }

    #[test]
    fn reno_halves_and_adds_one_per_window() {
        let mut cc = CongestionControl::new(Algorithm::Reno);
        assert_eq!(cc.ssthresh(100), 50);
        let mut cwnd = 50;
        for _ in 0..50 {
            cwnd = cc.avoid(Instant::from_micros(0), cwnd, 1);
        }
        assert_eq!(cwnd, 51);
    }
}
