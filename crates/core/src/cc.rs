//! Congestion avoidance: Reno and CUBIC (RFC 9438), as Linux's `tcp_cong.c` and
//! `tcp_cubic.c` compute them, in packets.
//!
//! The connection keeps its window in bytes; it hands the algorithm the window in
//! segments and the segments an ACK newly covered, and takes back the new window and, on
//! a loss, the slow-start threshold. CUBIC's fixed-point arithmetic is Linux's (time in
//! 1/1024 s, `C` = 0.4 as `bic_scale` 41, β = 717/1024, fast convergence and the
//! Reno-friendly region on), so the window follows the same curve. HyStart is not
//! modelled: slow start ends at ssthresh or a loss.
use crate::Instant;
use std::time::Duration;

/// Which algorithm (`net.ipv4.tcp_congestion_control`, `TCP_CONGESTION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    Reno,
    #[default]
    Cubic,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Reno => "reno",
            Algorithm::Cubic => "cubic",
        }
    }

    /// By Linux's name; other algorithms are not available here (ENOENT in Linux).
    pub fn from_name(s: &str) -> Option<Algorithm> {
        match s {
            "reno" => Some(Algorithm::Reno),
            "cubic" => Some(Algorithm::Cubic),
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
    delay_min: Option<Duration>,
    epoch_start: Option<Instant>,
    ack_cnt: u32,
    /// The window Reno would have (`tcp_cwnd`), for the friendly region.
    tcp_cwnd: u32,
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
        c.delay_min = Some(c.delay_min.map_or(rtt, |d| d.min(rtt)));
    }

    /// The slow-start threshold after a loss (`ssthresh` op), in segments.
    pub(crate) fn ssthresh(&mut self, cwnd: u32) -> u32 {
        match self.algorithm {
            Algorithm::Reno => (cwnd / 2).max(2),
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

    /// A retransmission timeout: CUBIC starts a new epoch (`CA_EVENT_LOSS` resets it).
    pub(crate) fn on_timeout(&mut self) {
        if self.algorithm == Algorithm::Cubic {
            let last_max = self.cubic.last_max_cwnd;
            self.cubic = Cubic {
                last_max_cwnd: last_max,
                delay_min: self.cubic.delay_min,
                ..Cubic::default()
            };
        }
        self.cwnd_cnt = 0;
    }

    /// Congestion avoidance (`cong_avoid` op, above ssthresh): `acked` segments newly
    /// acknowledged; returns the new window in segments.
    pub(crate) fn avoid(&mut self, now: Instant, cwnd: u32, acked: u32) -> u32 {
        let cnt = match self.algorithm {
            Algorithm::Reno => cwnd,
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
            let since = now.saturating_duration_since(epoch) + self.delay_min.unwrap_or_default();
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
