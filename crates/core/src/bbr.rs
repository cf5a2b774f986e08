//! BBR v1 congestion control (Bottleneck Bandwidth and Round-trip propagation time), as
//! Linux 6.12's `net/ipv4/tcp_bbr.c` computes it, line for line.
//!
//! Instead of reading loss as congestion, BBR keeps a model of the path: the bottleneck
//! bandwidth (the windowed max of delivery-rate samples over 10 round trips, in packets
//! per µs << 24) and the propagation delay (the windowed min RTT over 10 s). It paces at
//! `pacing_gain × bw` and caps the window at `cwnd_gain × bw × min_rtt` (plus room for
//! ACK aggregation and TSO), moving through four modes: STARTUP (gain 2.89, until the
//! bandwidth stops growing 25% per round for 3 rounds), DRAIN (gain 1/2.89 until the
//! queue STARTUP built is gone), PROBE_BW (the steady state: gains 1.25, 0.75, then 1.0
//! for six rounds, each phase about one min_rtt) and PROBE_RTT (every 10 s without a new
//! min_rtt: 4 packets in flight for 200 ms and a round, to let the queue drain and see
//! the propagation delay again). A token-bucket policer (two sampling intervals of at
//! least 4 rounds, each losing at least 50/256 (~20%), at the same delivery rate) makes
//! it pace at the policed rate (`lt_bw`) for 48 rounds.
//!
//! The sender hands each hook the `tcp_sock` fields BBR reads and writes ([`Sock`]) and
//! Linux's rate sample ([`RateSample`]); the arithmetic is the kernel's, u32 wrapping and
//! truncations included, so the pacing rate and window match Linux bit for bit. Jiffies
//! (`tcp_jiffies32`, for the min_rtt and PROBE_RTT stamps) are the milliseconds of
//! `Sock::now`: the stack models `HZ=1000`, as its timers do.
//!
//! Also here: Kathleen Nichols' windowed min/max filter (`lib/win_minmax.c`), which BBR
//! uses for the bandwidth.
use crate::Instant;

/// `BW_SCALE`: bandwidth is in packets per µs << 24 (one unit ≈ 715 bit/s at 1500 bytes),
/// which covers 0.06 packets/s to 256 M packets/s in a u32.
const BW_SCALE: u32 = 24;
/// `BW_UNIT`.
const BW_UNIT: u64 = 1 << BW_SCALE;
/// `BBR_SCALE`: gains are fractions << 8.
const BBR_SCALE: u32 = 8;
/// `BBR_UNIT`: a gain of 1.0.
const BBR_UNIT: u32 = 1 << BBR_SCALE;

/// `CYCLE_LEN`: phases in the PROBE_BW pacing-gain cycle.
const CYCLE_LEN: u8 = 8;
/// `bbr_bw_rtts`: the bandwidth filter's window, in round trips.
const BBR_BW_RTTS: u32 = CYCLE_LEN as u32 + 2;
/// `bbr_min_rtt_win_sec`: the min_rtt filter's window.
const BBR_MIN_RTT_WIN_SEC: u32 = 10;
/// `bbr_probe_rtt_mode_ms`: the least time PROBE_RTT holds the window at 4.
const BBR_PROBE_RTT_MODE_MS: u32 = 200;
/// `bbr_min_tso_rate`: below this many bits/s, one-segment TSO bursts.
const BBR_MIN_TSO_RATE: u64 = 1_200_000;
/// `bbr_pacing_margin_percent`: pace 1% below the estimated bandwidth, to keep the
/// bottleneck queue short.
const BBR_PACING_MARGIN_PERCENT: u64 = 1;
/// `bbr_high_gain` = 2/ln 2 (739/256): the smallest gain that doubles the sending rate
/// each round, as slow start would.
const BBR_HIGH_GAIN: u32 = BBR_UNIT * 2885 / 1000 + 1;
/// `bbr_drain_gain` = 1/high_gain (88/256): drains STARTUP's queue in about one round.
const BBR_DRAIN_GAIN: u32 = BBR_UNIT * 1000 / 2885;
/// `bbr_cwnd_gain`: the steady-state window is 2 BDP, for delayed and stretched ACKs.
const BBR_CWND_GAIN: u32 = BBR_UNIT * 2;
/// `bbr_pacing_gain[]`: PROBE_BW's cycle — probe (1.25), drain what that queued (0.75),
/// then cruise at the estimated bandwidth (1.0 × 6).
const BBR_PACING_GAIN: [u16; CYCLE_LEN as usize] = [
    (BBR_UNIT * 5 / 4) as u16,
    (BBR_UNIT * 3 / 4) as u16,
    BBR_UNIT as u16,
    BBR_UNIT as u16,
    BBR_UNIT as u16,
    BBR_UNIT as u16,
    BBR_UNIT as u16,
    BBR_UNIT as u16,
];
/// `bbr_cycle_rand`: PROBE_BW starts at a random one of the first 7 phases after the
/// probe, so that flows do not probe in lockstep.
const BBR_CYCLE_RAND: u32 = 7;
/// `bbr_cwnd_min_target`: 4 packets, two delayed-ACK pairs in flight.
const BBR_CWND_MIN_TARGET: u32 = 4;
/// `bbr_full_bw_thresh`: bandwidth grown by 25% in a round means there may be more.
const BBR_FULL_BW_THRESH: u32 = BBR_UNIT * 5 / 4;
/// `bbr_full_bw_cnt`: three rounds without that growth and the pipe is full.
const BBR_FULL_BW_CNT: u8 = 3;
/// `bbr_lt_intvl_min_rtts`: the least round trips in a long-term sampling interval.
const BBR_LT_INTVL_MIN_RTTS: u8 = 4;
/// `bbr_lt_loss_thresh`: lost/delivered ≥ 50/256 (~20%) makes an interval "lossy".
const BBR_LT_LOSS_THRESH: u32 = 50;
/// `bbr_lt_bw_ratio`: two intervals within 1/8 of each other are "consistent"...
const BBR_LT_BW_RATIO: u32 = BBR_UNIT / 8;
/// `bbr_lt_bw_diff`: ...as are two within 4 kbit/s (in bytes/s).
const BBR_LT_BW_DIFF: u64 = 4000 / 8;
/// `bbr_lt_bw_max_rtts`: how long to pace at the policed rate before probing again.
const BBR_LT_BW_MAX_RTTS: u8 = 48;
/// `bbr_extra_acked_gain`: how much of the measured ACK aggregation to add to the window.
const BBR_EXTRA_ACKED_GAIN: u32 = BBR_UNIT;
/// `bbr_extra_acked_win_rtts`: the aggregation filter's window (5-10 rounds).
const BBR_EXTRA_ACKED_WIN_RTTS: u8 = 5;
/// `bbr_ack_epoch_acked_reset_thresh`: an epoch that (S)ACKed this much is too old.
const BBR_ACK_EPOCH_ACKED_RESET_THRESH: u32 = 1 << 20;
/// `bbr_extra_acked_max_us`: aggregation adds at most 100 ms of bandwidth to the window.
const BBR_EXTRA_ACKED_MAX_US: u64 = 100 * 1000;

/// `TCP_INIT_CWND`: the window while no RTT has been measured.
const TCP_INIT_CWND: u32 = 10;
/// `TCP_INFINITE_SSTHRESH`.
const TCP_INFINITE_SSTHRESH: u32 = 0x7fff_ffff;
/// `sk_pacing_shift` (sock_init_data's 10): TSQ and TSO size bursts at ~1 ms of pacing.
const SK_PACING_SHIFT: u32 = 10;
/// `GSO_LEGACY_MAX_SIZE`.
const GSO_LEGACY_MAX_SIZE: u64 = 65536;
/// `MAX_TCP_HEADER` = L1_CACHE_ALIGN(128 + MAX_HEADER) with Debian's amd64 6.12 config:
/// LL_MAX_HEADER 128 (WLAN with MAC80211_MESH) + 48 (IP tunnels), 64-byte cache lines →
/// align(304) = 320.
const MAX_TCP_HEADER: u64 = 320;
const USEC_PER_SEC: u64 = 1_000_000;
const USEC_PER_MSEC: u64 = 1000;
const NSEC_PER_USEC: u64 = 1000;
/// Jiffies per second: the stack's clock ticks in milliseconds (see the module doc).
const HZ: u32 = 1000;

/// `icsk_ca_state` values.
const TCP_CA_OPEN: u8 = 0;
const TCP_CA_RECOVERY: u8 = 3;
const TCP_CA_LOSS: u8 = 4;

/// `bbr_sndbuf_expand`: provision 3 × cwnd of send buffer, since BBR may slow-start even
/// during recovery.
pub(crate) const SNDBUF_EXPAND: u32 = 3;

/// One sample of the windowed filter (`struct minmax_sample`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MinMaxSample {
    t: u32,
    v: u32,
}

/// `struct minmax`: the best, 2nd and 3rd best values of a window, with their times, kept
/// spread over the window so that the best is replaced by a good one when it ages out —
/// constant space, almost always the exact windowed max.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MinMax {
    s: [MinMaxSample; 3],
}

impl MinMax {
    /// `minmax_get`.
    fn get(&self) -> u32 {
        self.s[0].v
    }

    /// `minmax_reset`.
    fn reset(&mut self, t: u32, meas: u32) -> u32 {
        self.s = [MinMaxSample { t, v: meas }; 3];
        self.s[0].v
    }

    /// `minmax_running_max`: a new max, or a window with nothing left, starts afresh.
    fn running_max(&mut self, win: u32, t: u32, meas: u32) -> u32 {
        let val = MinMaxSample { t, v: meas };
        if val.v >= self.s[0].v || val.t.wrapping_sub(self.s[2].t) > win {
            return self.reset(t, meas);
        }
        if val.v >= self.s[1].v {
            self.s[1] = val;
            self.s[2] = val;
        } else if val.v >= self.s[2].v {
            self.s[2] = val;
        }
        self.subwin_update(win, val)
    }

    /// `minmax_subwin_update`: as time passes, promote the 2nd and 3rd choices, and take
    /// fresh ones from the second quarter and the second half of the window.
    fn subwin_update(&mut self, win: u32, val: MinMaxSample) -> u32 {
        let dt = val.t.wrapping_sub(self.s[0].t);
        if dt > win {
            // The best aged out: the 2nd becomes best, the 3rd 2nd; the 2nd may be out of
            // the window too (the 3rd was checked on entry).
            self.s[0] = self.s[1];
            self.s[1] = self.s[2];
            self.s[2] = val;
            if val.t.wrapping_sub(self.s[0].t) > win {
                self.s[0] = self.s[1];
                self.s[1] = self.s[2];
                self.s[2] = val;
            }
        } else if self.s[1].t == self.s[0].t && dt > win / 4 {
            self.s[1] = val;
            self.s[2] = val;
        } else if self.s[2].t == self.s[1].t && dt > win / 2 {
            self.s[2] = val;
        }
        self.s[0].v
    }
}

/// Linux's `struct rate_sample` (tcp_rate.c), the fields BBR reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct RateSample {
    /// `tp->delivered` when the sampled segment was sent.
    pub(crate) prior_delivered: u32,
    /// Segments delivered over the interval; -1: no sample.
    pub(crate) delivered: i32,
    /// The sample's interval; <= 0: no sample.
    pub(crate) interval_us: i64,
    /// RTT of the newest segment this ACK delivered; -1: none.
    pub(crate) rtt_us: i64,
    /// Segments newly marked lost on this ACK.
    pub(crate) losses: u32,
    /// Segments newly cumulatively ACKed or SACKed.
    pub(crate) acked_sacked: u32,
    /// `tcp_packets_in_flight` before this ACK.
    pub(crate) prior_in_flight: u32,
    pub(crate) is_app_limited: bool,
    pub(crate) is_ack_delayed: bool,
}

/// The `tcp_sock`/`sock` fields BBR reads and writes, handed in by the sender on each call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sock {
    /// `tp->tcp_mstamp` (µs); its milliseconds are also `tcp_jiffies32`.
    pub(crate) now: Instant,
    /// `tp->tcp_clock_cache` (ns, same clock).
    pub(crate) now_ns: u64,
    /// `tp->tcp_wstamp_ns`: earliest departure time of the next segment (ns).
    pub(crate) wstamp_ns: u64,
    /// `tcp_snd_cwnd`, in segments — BBR writes it.
    pub(crate) cwnd: u32,
    /// `tp->snd_cwnd_clamp`.
    pub(crate) cwnd_clamp: u32,
    /// `tp->snd_ssthresh`, segments — init and DRAIN write it.
    pub(crate) ssthresh: u32,
    /// `sk->sk_pacing_rate`, bytes/s — BBR writes it.
    pub(crate) pacing_rate: u64,
    /// `sk->sk_max_pacing_rate` (u64::MAX: none).
    pub(crate) max_pacing_rate: u64,
    /// `tp->mss_cache`.
    pub(crate) mss: u32,
    /// Smoothed RTT in µs, NOT scaled by 8 (Linux's `srtt_us >> 3`); 0: no sample yet.
    pub(crate) srtt_us: u32,
    /// `tcp_min_rtt(tp)` (u32::MAX: none yet).
    pub(crate) min_rtt_us: u32,
    /// `tp->delivered` (segments).
    pub(crate) delivered: u32,
    /// `tp->delivered_mstamp`.
    pub(crate) delivered_mstamp: Instant,
    /// `tp->lost` (segments ever marked lost).
    pub(crate) lost: u32,
    /// `tcp_packets_in_flight(tp)`.
    pub(crate) in_flight: u32,
    /// `icsk_ca_state`: 0 Open, 1 Disorder, 2 CWR, 3 Recovery, 4 Loss.
    pub(crate) ca_state: u8,
    /// `tp->app_limited` — BBR writes it (PROBE_RTT).
    pub(crate) app_limited: u32,
    /// A fresh random u32 from the caller's seeded generator (`get_random_u32_below`).
    pub(crate) rand: u32,
}

/// `enum bbr_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    /// Ramp up the sending rate rapidly to fill the pipe.
    #[default]
    Startup = 0,
    /// Drain the queue STARTUP created.
    Drain = 1,
    /// Discover and share bandwidth: pace around the estimate.
    ProbeBw = 2,
    /// Cut in-flight to the minimum to measure min_rtt.
    ProbeRtt = 3,
}

/// The one-bit fields of `struct bbr`, in [`Bbr::flags`].
mod flag {
    /// Use packet conservation (the first round of recovery)?
    pub(super) const PACKET_CONSERVATION: u8 = 1 << 0;
    /// This ACK starts a packet-timed round?
    pub(super) const ROUND_START: u8 = 1 << 1;
    /// Restarting after idle?
    pub(super) const IDLE_RESTART: u8 = 1 << 2;
    /// A PROBE_RTT round at 4 packets is done?
    pub(super) const PROBE_RTT_ROUND_DONE: u8 = 1 << 3;
    /// Taking long-term samples now?
    pub(super) const LT_IS_SAMPLING: u8 = 1 << 4;
    /// Use `lt_bw` as the bandwidth estimate (policed)?
    pub(super) const LT_USE_BW: u8 = 1 << 5;
    /// STARTUP filled the pipe?
    pub(super) const FULL_BW_REACHED: u8 = 1 << 6;
    /// An RTT sample seen yet (the initial pacing rate used it)?
    pub(super) const HAS_SEEN_RTT: u8 = 1 << 7;
}

/// `struct bbr` — one connection's BBR state: 104 bytes, as in Linux (the one-bit fields
/// share a byte; the other bitfields take the smallest integer that holds them).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bbr {
    /// Min RTT in the `bbr_min_rtt_win_sec` window (u32::MAX: none).
    min_rtt_us: u32,
    /// When `min_rtt_us` was taken (jiffies).
    min_rtt_stamp: u32,
    /// When PROBE_RTT may end (jiffies; 0: not yet at 4 packets).
    probe_rtt_done_stamp: u32,
    /// Max recent delivery rate, in packets/µs << 24, over round trips.
    bw: MinMax,
    /// Packet-timed rounds elapsed.
    rtt_cnt: u32,
    /// `tp->delivered` at the end of the current round.
    next_rtt_delivered: u32,
    /// When this gain-cycle phase started (µs of `delivered_mstamp`).
    cycle_mstamp: u64,
    /// LT estimated delivery rate, packets/µs << 24.
    lt_bw: u32,
    /// LT interval start: `tp->delivered`.
    lt_last_delivered: u32,
    /// LT interval start: `tp->delivered_mstamp`, in ms.
    lt_last_stamp: u32,
    /// LT interval start: `tp->lost`.
    lt_last_lost: u32,
    /// The window on entering loss recovery or PROBE_RTT, to restore after.
    prior_cwnd: u32,
    /// Recent bandwidth, to see whether the pipe is full.
    full_bw: u32,
    /// Start of the ACK-aggregation sampling epoch (µs).
    ack_epoch_mstamp: u64,
    /// Packets (S)ACKed in the sampling epoch (`:20`).
    ack_epoch_acked: u32,
    /// Max excess data ACKed in each of the two epochs.
    extra_acked: [u16; 2],
    /// Current pacing gain (<< 8, `:10`).
    pacing_gain: u16,
    /// Current cwnd gain (<< 8, `:10`).
    cwnd_gain: u16,
    mode: Mode,
    /// CA state on the previous ACK (`:3`).
    prev_ca_state: u8,
    /// Round trips in the long-term interval (`:7`).
    lt_rtt_cnt: u8,
    /// Rounds without large bandwidth gains (`:2`).
    full_bw_cnt: u8,
    /// Current index in the pacing-gain cycle (`:3`).
    cycle_idx: u8,
    /// Age of `extra_acked[extra_acked_win_idx]`, in round trips (`:5`).
    extra_acked_win_rtts: u8,
    /// Current index in `extra_acked` (`:1`).
    extra_acked_win_idx: u8,
    /// The one-bit fields ([`flag`]).
    flags: u8,
}

/// `tcp_bbr_info`, for TCP_INFO / ss: bw in bytes per second, min_rtt µs, gains (<<8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BbrInfo {
    pub(crate) bw: u64,
    pub(crate) min_rtt_us: u32,
    pub(crate) pacing_gain: u32,
    pub(crate) cwnd_gain: u32,
}

/// `before(a, b)` on wrapping u32 counters.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `after(a, b)` on wrapping u32 counters.
fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// `tcp_jiffies32`: milliseconds of the socket's clock (`HZ` = 1000), wrapping.
fn jiffies(sk: &Sock) -> u32 {
    sk.now.as_millis() as u32
}

/// `tcp_stamp_us_delta`: t1 − t0 in µs, 0 if negative, truncated to u32 as Linux's return
/// type does.
fn stamp_us_delta(t1: u64, t0: u64) -> u32 {
    (t1.wrapping_sub(t0) as i64).max(0) as u32
}

/// `bbr_rate_bytes_per_sec`: a rate in packets/µs << 24, times a gain, in bytes per
/// second, 1% under (the pacing margin). The order avoids u64 overflow up to 2.9 Tbit/s
/// at gain 2.89; beyond, it wraps as Linux's does.
fn rate_bytes_per_sec(sk: &Sock, rate: u64, gain: u32) -> u64 {
    let mut rate = rate.wrapping_mul(u64::from(sk.mss));
    rate = rate.wrapping_mul(u64::from(gain));
    rate >>= BBR_SCALE;
    rate = rate.wrapping_mul(USEC_PER_SEC / 100 * (100 - BBR_PACING_MARGIN_PERCENT));
    rate >> BW_SCALE
}

/// `bbr_bw_to_pacing_rate`, capped by `SO_MAX_PACING_RATE`.
fn bw_to_pacing_rate(sk: &Sock, bw: u32, gain: u32) -> u64 {
    rate_bytes_per_sec(sk, u64::from(bw), gain).min(sk.max_pacing_rate)
}

/// `bbr_min_tso_segs`: one-segment bursts below 1.2 Mbit/s, else two (the sender's
/// `tcp_tso_autosize` floor, and the quantization budget's).
pub(crate) fn min_tso_segs(pacing_rate: u64) -> u32 {
    if pacing_rate < (BBR_MIN_TSO_RATE >> 3) {
        1
    } else {
        2
    }
}

/// `bbr_tso_segs_goal`: `tcp_tso_autosize` without the device's GSO limit — about 1 ms
/// of the pacing rate per burst (`sk_pacing_shift` 10), from `bbr_min_tso_segs` up to
/// 127 segments and 64 KB less the headers.
fn tso_segs_goal(sk: &Sock) -> u32 {
    let bytes =
        (sk.pacing_rate >> SK_PACING_SHIFT).min(GSO_LEGACY_MAX_SIZE - 1 - MAX_TCP_HEADER) as u32;
    // mss_cache is never 0 in Linux; guarded so that no input can divide by zero.
    let segs = (bytes / sk.mss.max(1)).max(min_tso_segs(sk.pacing_rate));
    segs.min(0x7f)
}

impl Bbr {
    /// `bbr_init` (on a zeroed `icsk_ca_priv`, as `tcp_assign_congestion_control` leaves
    /// it): STARTUP, no bandwidth yet, ssthresh infinite, and pacing at high_gain × the
    /// initial window per RTT.
    pub(crate) fn new(sk: &mut Sock) -> Bbr {
        let mut bbr = Bbr {
            min_rtt_us: 0,
            min_rtt_stamp: 0,
            probe_rtt_done_stamp: 0,
            bw: MinMax::default(),
            rtt_cnt: 0,
            next_rtt_delivered: 0,
            cycle_mstamp: 0,
            lt_bw: 0,
            lt_last_delivered: 0,
            lt_last_stamp: 0,
            lt_last_lost: 0,
            prior_cwnd: 0,
            full_bw: 0,
            ack_epoch_mstamp: 0,
            ack_epoch_acked: 0,
            extra_acked: [0; 2],
            pacing_gain: 0,
            cwnd_gain: 0,
            mode: Mode::Startup,
            prev_ca_state: 0,
            lt_rtt_cnt: 0,
            full_bw_cnt: 0,
            cycle_idx: 0,
            extra_acked_win_rtts: 0,
            extra_acked_win_idx: 0,
            flags: 0,
        };
        bbr.prior_cwnd = 0;
        sk.ssthresh = TCP_INFINITE_SSTHRESH;
        bbr.rtt_cnt = 0;
        bbr.next_rtt_delivered = sk.delivered;
        bbr.prev_ca_state = TCP_CA_OPEN;
        bbr.set(flag::PACKET_CONSERVATION, false);

        bbr.probe_rtt_done_stamp = 0;
        bbr.set(flag::PROBE_RTT_ROUND_DONE, false);
        bbr.min_rtt_us = sk.min_rtt_us;
        bbr.min_rtt_stamp = jiffies(sk);

        bbr.bw.reset(bbr.rtt_cnt, 0);

        bbr.set(flag::HAS_SEEN_RTT, false);
        bbr.init_pacing_rate_from_rtt(sk);

        bbr.set(flag::ROUND_START, false);
        bbr.set(flag::IDLE_RESTART, false);
        bbr.set(flag::FULL_BW_REACHED, false);
        bbr.full_bw = 0;
        bbr.full_bw_cnt = 0;
        bbr.cycle_mstamp = 0;
        bbr.cycle_idx = 0;
        bbr.reset_lt_bw_sampling(sk);
        bbr.reset_startup_mode();

        bbr.ack_epoch_mstamp = sk.now.as_micros();
        bbr.ack_epoch_acked = 0;
        bbr.extra_acked_win_rtts = 0;
        bbr.extra_acked_win_idx = 0;
        bbr.extra_acked = [0; 2];
        bbr
    }

    fn get(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    fn set(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// `bbr_full_bw_reached`: did STARTUP fill the pipe?
    fn full_bw_reached(&self) -> bool {
        self.get(flag::FULL_BW_REACHED)
    }

    /// `bbr_max_bw`: the windowed max delivery rate, packets/µs << 24.
    fn max_bw(&self) -> u32 {
        self.bw.get()
    }

    /// `bbr_bw`: the bandwidth estimate — the policed rate while one is detected.
    fn bw(&self) -> u32 {
        if self.get(flag::LT_USE_BW) {
            self.lt_bw
        } else {
            self.max_bw()
        }
    }

    /// `bbr_extra_acked`: the max extra data ACKed in the past 5-10 rounds.
    fn extra_acked(&self) -> u16 {
        self.extra_acked[0].max(self.extra_acked[1])
    }

    /// `bbr_init_pacing_rate_from_rtt`: high_gain × cwnd / RTT, with a nominal 1 ms RTT
    /// before the first sample.
    fn init_pacing_rate_from_rtt(&mut self, sk: &mut Sock) {
        let rtt_us = if sk.srtt_us != 0 {
            self.set(flag::HAS_SEEN_RTT, true);
            sk.srtt_us.max(1)
        } else {
            USEC_PER_MSEC as u32
        };
        let bw = u64::from(sk.cwnd) * BW_UNIT / u64::from(rtt_us);
        // bbr_bw_to_pacing_rate takes a u32: a window above ~256 packets per µs truncates.
        sk.pacing_rate = bw_to_pacing_rate(sk, bw as u32, BBR_HIGH_GAIN);
    }

    /// `bbr_set_pacing_rate`: pace at bw × gain — only ever faster until the pipe is full,
    /// so that a low early sample does not slow STARTUP down.
    fn set_pacing_rate(&mut self, sk: &mut Sock, bw: u32, gain: u32) {
        let rate = bw_to_pacing_rate(sk, bw, gain);
        if !self.get(flag::HAS_SEEN_RTT) && sk.srtt_us != 0 {
            self.init_pacing_rate_from_rtt(sk);
        }
        if self.full_bw_reached() || rate > sk.pacing_rate {
            sk.pacing_rate = rate;
        }
    }

    /// `bbr_save_cwnd`: remember the last good window, to restore after recovery or
    /// PROBE_RTT (which cut it: then the larger of the two).
    fn save_cwnd(&mut self, sk: &Sock) {
        if self.prev_ca_state < TCP_CA_RECOVERY && self.mode != Mode::ProbeRtt {
            self.prior_cwnd = sk.cwnd;
        } else {
            self.prior_cwnd = self.prior_cwnd.max(sk.cwnd);
        }
    }

    /// `bbr_cwnd_event(CA_EVENT_TX_START)`: the first send with nothing in flight. After an
    /// app-limited idle period, restart the aggregation epoch and pace at the estimate
    /// (not above it: more speed would only fill buffers), or end PROBE_RTT if it is due.
    pub(crate) fn cwnd_event_tx_start(&mut self, sk: &mut Sock) {
        if sk.app_limited == 0 {
            return;
        }
        self.set(flag::IDLE_RESTART, true);
        self.ack_epoch_mstamp = sk.now.as_micros();
        self.ack_epoch_acked = 0;
        if self.mode == Mode::ProbeBw {
            self.set_pacing_rate(sk, self.bw(), BBR_UNIT);
        } else if self.mode == Mode::ProbeRtt {
            self.check_probe_rtt_done(sk);
        }
    }

    /// `bbr_bdp`: ceil(bw × min_rtt × gain), in packets; the initial window before any
    /// RTT sample.
    fn bdp(&self, bw: u32, gain: u32) -> u32 {
        if self.min_rtt_us == u32::MAX {
            return TCP_INIT_CWND;
        }
        let w = u64::from(bw) * u64::from(self.min_rtt_us);
        // Rounded up ((x + BW_UNIT − 1) / BW_UNIT), so that a low estimate does not feed
        // on itself.
        (w.wrapping_mul(u64::from(gain)) >> BBR_SCALE).div_ceil(BW_UNIT) as u32
    }

    /// `bbr_quantization_budget`: room for three full-size TSO bursts (qdisc, NIC, the
    /// receiver's GRO/delayed ACK), an even window, and 2 more while probing so that even
    /// a tiny BDP gets in-flight above it.
    fn quantization_budget(&self, sk: &Sock, cwnd: u32) -> u32 {
        let mut cwnd = cwnd.wrapping_add(3 * tso_segs_goal(sk));
        cwnd = cwnd.wrapping_add(1) & !1;
        if self.mode == Mode::ProbeBw && self.cycle_idx == 0 {
            cwnd = cwnd.wrapping_add(2);
        }
        cwnd
    }

    /// `bbr_inflight`: the in-flight target for a bandwidth and gain.
    fn inflight(&self, sk: &Sock, bw: u32, gain: u32) -> u32 {
        let inflight = self.bdp(bw, gain);
        self.quantization_budget(sk, inflight)
    }

    /// `bbr_packets_in_net_at_edt`: with departure-time pacing, part of what is in flight
    /// is still queued here; estimate what will be in the network when the next segment
    /// leaves (plus that burst, when raising in-flight).
    fn packets_in_net_at_edt(&self, sk: &Sock, inflight_now: u32) -> u32 {
        let now_ns = sk.now_ns;
        let edt_ns = sk.wstamp_ns.max(now_ns);
        let interval_us = (edt_ns - now_ns) / NSEC_PER_USEC;
        let interval_delivered =
            (u64::from(self.bw()).wrapping_mul(interval_us) >> BW_SCALE) as u32;
        let mut inflight_at_edt = inflight_now;
        if u32::from(self.pacing_gain) > BBR_UNIT {
            inflight_at_edt = inflight_at_edt.wrapping_add(tso_segs_goal(sk));
        }
        if interval_delivered >= inflight_at_edt {
            return 0;
        }
        inflight_at_edt - interval_delivered
    }

    /// `bbr_ack_aggregation_cwnd`: the window increment for ACK aggregation, at most
    /// 100 ms of bandwidth, once the pipe is full.
    fn ack_aggregation_cwnd(&self) -> u32 {
        let mut aggr_cwnd = 0;
        if BBR_EXTRA_ACKED_GAIN != 0 && self.full_bw_reached() {
            let max_aggr_cwnd = (u64::from(self.bw()) * BBR_EXTRA_ACKED_MAX_US / BW_UNIT) as u32;
            aggr_cwnd = (BBR_EXTRA_ACKED_GAIN * u32::from(self.extra_acked())) >> BBR_SCALE;
            aggr_cwnd = aggr_cwnd.min(max_aggr_cwnd);
        }
        aggr_cwnd
    }

    /// `bbr_set_cwnd_to_recover_or_restore`: losses come off the window; the first round
    /// of recovery sends one packet per packet ACKed (packet conservation); leaving
    /// recovery restores the window from before it. Returns the window and whether packet
    /// conservation decides it.
    fn set_cwnd_to_recover_or_restore(
        &mut self,
        sk: &Sock,
        rs: &RateSample,
        acked: u32,
    ) -> (u32, bool) {
        let prev_state = self.prev_ca_state;
        let state = sk.ca_state;
        let mut cwnd = sk.cwnd;

        // An ACK for P packets releases at most 2P: the losses come off here, and
        // set_cwnd slow-starts back toward the target.
        if rs.losses > 0 {
            cwnd = (cwnd.wrapping_sub(rs.losses) as i32).max(1) as u32;
        }

        if state == TCP_CA_RECOVERY && prev_state != TCP_CA_RECOVERY {
            self.set(flag::PACKET_CONSERVATION, true);
            // The round starts now.
            self.next_rtt_delivered = sk.delivered;
            // Cut the window the app, TSQ or TSO deferral left unused.
            cwnd = sk.in_flight.wrapping_add(acked);
        } else if prev_state >= TCP_CA_RECOVERY && state < TCP_CA_RECOVERY {
            cwnd = cwnd.max(self.prior_cwnd);
            self.set(flag::PACKET_CONSERVATION, false);
        }
        // A 3-bit field in Linux.
        self.prev_ca_state = state & 7;

        if self.get(flag::PACKET_CONSERVATION) {
            return (cwnd.max(sk.in_flight.wrapping_add(acked)), true);
        }
        (cwnd, false)
    }

    /// `bbr_set_cwnd`: slow-start toward the target (while the estimate grows, or after
    /// losses cut the window), or snap down to it once the pipe is known full; at least 4,
    /// at most the clamp, and 4 in PROBE_RTT.
    fn set_cwnd(&mut self, sk: &mut Sock, rs: &RateSample, acked: u32, bw: u32, gain: u32) {
        let mut cwnd = sk.cwnd;
        // No packet fully ACKed: only the caps apply.
        if acked != 0 {
            let (c, conserving) = self.set_cwnd_to_recover_or_restore(sk, rs, acked);
            cwnd = c;
            if !conserving {
                let mut target_cwnd = self.bdp(bw, gain);
                // Room for the excess that aggregation of data or ACKs delivers at once.
                target_cwnd = target_cwnd.wrapping_add(self.ack_aggregation_cwnd());
                target_cwnd = self.quantization_budget(sk, target_cwnd);

                if self.full_bw_reached() {
                    // Only cut the window once the pipe was filled.
                    cwnd = cwnd.wrapping_add(acked).min(target_cwnd);
                } else if cwnd < target_cwnd || sk.delivered < TCP_INIT_CWND {
                    cwnd = cwnd.wrapping_add(acked);
                }
                cwnd = cwnd.max(BBR_CWND_MIN_TARGET);
            }
        }
        sk.cwnd = cwnd.min(sk.cwnd_clamp);
        if self.mode == Mode::ProbeRtt {
            sk.cwnd = sk.cwnd.min(BBR_CWND_MIN_TARGET);
        }
    }

    /// `bbr_is_next_cycle_phase`: a phase lasts about one min_rtt; the probe (1.25) also
    /// waits for in-flight to reach 1.25 BDP (unless packets are lost: a shallow buffer
    /// may not hold it), and the drain (0.75) ends early once in-flight is down to a BDP.
    fn is_next_cycle_phase(&self, sk: &Sock, rs: &RateSample) -> bool {
        let is_full_length =
            stamp_us_delta(sk.delivered_mstamp.as_micros(), self.cycle_mstamp) > self.min_rtt_us;
        let pacing_gain = u32::from(self.pacing_gain);

        if pacing_gain == BBR_UNIT {
            return is_full_length;
        }

        let inflight = self.packets_in_net_at_edt(sk, rs.prior_in_flight);
        let bw = self.max_bw();

        if pacing_gain > BBR_UNIT {
            return is_full_length
                && (rs.losses != 0 || inflight >= self.inflight(sk, bw, pacing_gain));
        }

        is_full_length || inflight <= self.inflight(sk, bw, BBR_UNIT)
    }

    /// `bbr_advance_cycle_phase`.
    fn advance_cycle_phase(&mut self, sk: &Sock) {
        self.cycle_idx = (self.cycle_idx + 1) & (CYCLE_LEN - 1);
        self.cycle_mstamp = sk.delivered_mstamp.as_micros();
    }

    /// `bbr_update_cycle_phase`: gain cycling, to converge to a fair share.
    fn update_cycle_phase(&mut self, sk: &Sock, rs: &RateSample) {
        if self.mode == Mode::ProbeBw && self.is_next_cycle_phase(sk, rs) {
            self.advance_cycle_phase(sk);
        }
    }

    /// `bbr_reset_startup_mode`.
    fn reset_startup_mode(&mut self) {
        self.mode = Mode::Startup;
    }

    /// `bbr_reset_probe_bw_mode`: enter PROBE_BW at a random phase, so that flows do not
    /// probe in step: 7 − `get_random_u32_below(bbr_cycle_rand)` (here `sk.rand % 7`),
    /// advanced by one — any phase but 0.75, which only follows a probe.
    fn reset_probe_bw_mode(&mut self, sk: &Sock) {
        self.mode = Mode::ProbeBw;
        self.cycle_idx = CYCLE_LEN - 1 - (sk.rand % BBR_CYCLE_RAND) as u8;
        self.advance_cycle_phase(sk);
    }

    /// `bbr_reset_mode`: back to STARTUP unless the pipe was known full.
    fn reset_mode(&mut self, sk: &Sock) {
        if !self.full_bw_reached() {
            self.reset_startup_mode();
        } else {
            self.reset_probe_bw_mode(sk);
        }
    }

    /// `bbr_reset_lt_bw_sampling_interval`: start a new long-term sampling interval.
    fn reset_lt_bw_sampling_interval(&mut self, sk: &Sock) {
        self.lt_last_stamp = (sk.delivered_mstamp.as_micros() / USEC_PER_MSEC) as u32;
        self.lt_last_delivered = sk.delivered;
        self.lt_last_lost = sk.lost;
        self.lt_rtt_cnt = 0;
    }

    /// `bbr_reset_lt_bw_sampling`: forget the long-term estimate entirely.
    fn reset_lt_bw_sampling(&mut self, sk: &Sock) {
        self.lt_bw = 0;
        self.set(flag::LT_USE_BW, false);
        self.set(flag::LT_IS_SAMPLING, false);
        self.reset_lt_bw_sampling_interval(sk);
    }

    /// `bbr_lt_bw_interval_done`: a lossy interval ended at rate `bw`. If the previous one
    /// had about the same rate (within 1/8 or 4 kbit/s), a policer is likely: pace at the
    /// average of the two.
    fn lt_bw_interval_done(&mut self, sk: &Sock, bw: u32) {
        if self.lt_bw != 0 {
            // Linux's abs() of the u32 difference goes through int.
            let diff = (bw.wrapping_sub(self.lt_bw) as i32).wrapping_abs() as u32;
            if diff.wrapping_mul(BBR_UNIT) <= BBR_LT_BW_RATIO.wrapping_mul(self.lt_bw)
                || rate_bytes_per_sec(sk, u64::from(diff), BBR_UNIT) <= BBR_LT_BW_DIFF
            {
                // The u32 sum wraps, as Linux's does.
                self.lt_bw = bw.wrapping_add(self.lt_bw) >> 1;
                self.set(flag::LT_USE_BW, true);
                // Try to avoid drops.
                self.pacing_gain = BBR_UNIT as u16;
                self.lt_rtt_cnt = 0;
                return;
            }
        }
        self.lt_bw = bw;
        self.reset_lt_bw_sampling_interval(sk);
    }

    /// `bbr_lt_bw_sampling`: token-bucket policers are common (SIGCOMM 2016). Sampling
    /// starts at the first loss (the bucket is empty then, so bursts do not inflate the
    /// rate), an interval covers 4-16 rounds and ends at a loss; two consecutive lossy
    /// intervals with consistent rates mean a policer, whose rate is used for 48 rounds.
    fn lt_bw_sampling(&mut self, sk: &Sock, rs: &RateSample) {
        if self.get(flag::LT_USE_BW) {
            if self.mode == Mode::ProbeBw && self.get(flag::ROUND_START) {
                // A 7-bit field in Linux (it never gets past 48).
                self.lt_rtt_cnt = (self.lt_rtt_cnt + 1) & 0x7f;
                if self.lt_rtt_cnt >= BBR_LT_BW_MAX_RTTS {
                    self.reset_lt_bw_sampling(sk);
                    // Restart gain cycling, to probe for more bandwidth.
                    self.reset_probe_bw_mode(sk);
                }
            }
            return;
        }

        if !self.get(flag::LT_IS_SAMPLING) {
            if rs.losses == 0 {
                return;
            }
            self.reset_lt_bw_sampling_interval(sk);
            self.set(flag::LT_IS_SAMPLING, true);
        }

        // An app-limited interval would underestimate: start over.
        if rs.is_app_limited {
            self.reset_lt_bw_sampling(sk);
            return;
        }

        if self.get(flag::ROUND_START) {
            self.lt_rtt_cnt = (self.lt_rtt_cnt + 1) & 0x7f;
        }
        if self.lt_rtt_cnt < BBR_LT_INTVL_MIN_RTTS {
            return;
        }
        if self.lt_rtt_cnt > 4 * BBR_LT_INTVL_MIN_RTTS {
            self.reset_lt_bw_sampling(sk);
            return;
        }

        // End the interval at a loss, when the policer's tokens are likely exhausted.
        if rs.losses == 0 {
            return;
        }

        let lost = sk.lost.wrapping_sub(self.lt_last_lost);
        let delivered = sk.delivered.wrapping_sub(self.lt_last_delivered);
        // Is lost/delivered ≥ lt_loss_thresh? If not, wait.
        if delivered == 0 || (lost << BBR_SCALE) < BBR_LT_LOSS_THRESH.wrapping_mul(delivered) {
            return;
        }

        // The interval's average delivery rate.
        let mut t = ((sk.delivered_mstamp.as_micros() / USEC_PER_MSEC) as u32)
            .wrapping_sub(self.lt_last_stamp);
        if (t as i32) < 1 {
            // Less than a millisecond: wait.
            return;
        }
        if u64::from(t) >= u64::from(u32::MAX) / USEC_PER_MSEC {
            // Too long to multiply without overflow: start over.
            self.reset_lt_bw_sampling(sk);
            return;
        }
        t *= USEC_PER_MSEC as u32;
        let bw = u64::from(delivered) * BW_UNIT / u64::from(t);
        self.lt_bw_interval_done(sk, bw as u32);
    }

    /// `bbr_update_bw`: count packet-timed rounds and feed the delivery rate into the
    /// 10-round max filter.
    fn update_bw(&mut self, sk: &Sock, rs: &RateSample) {
        self.set(flag::ROUND_START, false);
        if rs.delivered < 0 || rs.interval_us <= 0 {
            return;
        }

        // A round ends when a packet sent after the previous round's end is delivered.
        if !before(rs.prior_delivered, self.next_rtt_delivered) {
            self.next_rtt_delivered = sk.delivered;
            self.rtt_cnt = self.rtt_cnt.wrapping_add(1);
            self.set(flag::ROUND_START, true);
            self.set(flag::PACKET_CONSERVATION, false);
        }

        self.lt_bw_sampling(sk, rs);

        // delivered is scaled first: the ratio is << 1 for most connections.
        let bw = (i64::from(rs.delivered) << BW_SCALE) / rs.interval_us;
        let bw = bw as u64;

        // An app-limited sample shows the application's rate, not the network's: only
        // one that beats the model counts, so that BBR keeps the last measured rate
        // through the app-limited phase.
        if !rs.is_app_limited || bw >= u64::from(self.max_bw()) {
            self.bw.running_max(BBR_BW_RTTS, self.rtt_cnt, bw as u32);
        }
    }

    /// `bbr_update_ack_aggregation`: the degree of ACK aggregation, as the data ACKed in
    /// an epoch beyond what bw × the epoch's time explains (at most the window), kept as
    /// a max over 5-10 rounds in two halves.
    fn update_ack_aggregation(&mut self, sk: &Sock, rs: &RateSample) {
        if BBR_EXTRA_ACKED_GAIN == 0
            || rs.acked_sacked == 0
            || rs.delivered < 0
            || rs.interval_us <= 0
        {
            return;
        }

        if self.get(flag::ROUND_START) {
            self.extra_acked_win_rtts = (self.extra_acked_win_rtts + 1).min(0x1f);
            if self.extra_acked_win_rtts >= BBR_EXTRA_ACKED_WIN_RTTS {
                self.extra_acked_win_rtts = 0;
                self.extra_acked_win_idx ^= 1;
                self.extra_acked[usize::from(self.extra_acked_win_idx)] = 0;
            }
        }

        // Packets expected delivered over the epoch.
        let epoch_us = stamp_us_delta(sk.delivered_mstamp.as_micros(), self.ack_epoch_mstamp);
        let mut expected_acked = (u64::from(self.bw()) * u64::from(epoch_us) / BW_UNIT) as u32;

        // A slower ACK rate than expected, or a very old epoch: start a new one.
        if self.ack_epoch_acked <= expected_acked
            || self.ack_epoch_acked.wrapping_add(rs.acked_sacked)
                >= BBR_ACK_EPOCH_ACKED_RESET_THRESH
        {
            self.ack_epoch_acked = 0;
            self.ack_epoch_mstamp = sk.delivered_mstamp.as_micros();
            expected_acked = 0;
        }

        // The excess delivered beyond expectations.
        self.ack_epoch_acked = self
            .ack_epoch_acked
            .wrapping_add(rs.acked_sacked)
            .min(0xfffff);
        let mut extra_acked = self.ack_epoch_acked.wrapping_sub(expected_acked);
        extra_acked = extra_acked.min(sk.cwnd);
        let idx = usize::from(self.extra_acked_win_idx);
        if extra_acked > u32::from(self.extra_acked[idx]) {
            // A u16 in Linux: a window above 65535 truncates.
            self.extra_acked[idx] = extra_acked as u16;
        }
    }

    /// `bbr_check_full_bw_reached`: STARTUP filled the pipe when 3 non-app-limited rounds
    /// in a row did not grow the max bandwidth by 25% (three: the receive window grows,
    /// gets filled, and only then shows a higher rate; and noise can pass).
    fn check_full_bw_reached(&mut self, rs: &RateSample) {
        if self.full_bw_reached() || !self.get(flag::ROUND_START) || rs.is_app_limited {
            return;
        }

        let bw_thresh =
            ((u64::from(self.full_bw) * u64::from(BBR_FULL_BW_THRESH)) >> BBR_SCALE) as u32;
        if self.max_bw() >= bw_thresh {
            self.full_bw = self.max_bw();
            self.full_bw_cnt = 0;
            return;
        }
        // A 2-bit field in Linux (it stops at 3).
        self.full_bw_cnt = (self.full_bw_cnt + 1) & 3;
        let reached = self.full_bw_cnt >= BBR_FULL_BW_CNT;
        self.set(flag::FULL_BW_REACHED, reached);
    }

    /// `bbr_check_drain`: once the pipe is full, DRAIN (ssthresh at the BDP) until what
    /// is in the network at the next departure is down to a BDP, then PROBE_BW.
    fn check_drain(&mut self, sk: &mut Sock) {
        if self.mode == Mode::Startup && self.full_bw_reached() {
            self.mode = Mode::Drain;
            sk.ssthresh = self.inflight(sk, self.max_bw(), BBR_UNIT);
        }
        // Falls through: in-flight may already be small.
        if self.mode == Mode::Drain
            && self.packets_in_net_at_edt(sk, sk.in_flight)
                <= self.inflight(sk, self.max_bw(), BBR_UNIT)
        {
            self.reset_probe_bw_mode(sk);
        }
    }

    /// `bbr_check_probe_rtt_done`: 200 ms (and a round) at 4 packets are over: restore the
    /// window and go back to PROBE_BW, or STARTUP if the pipe was never full.
    fn check_probe_rtt_done(&mut self, sk: &mut Sock) {
        if !(self.probe_rtt_done_stamp != 0 && after(jiffies(sk), self.probe_rtt_done_stamp)) {
            return;
        }
        // Another 10 s until the next PROBE_RTT.
        self.min_rtt_stamp = jiffies(sk);
        sk.cwnd = sk.cwnd.max(self.prior_cwnd);
        self.reset_mode(sk);
    }

    /// `bbr_update_min_rtt`: the 10 s min_rtt filter, and PROBE_RTT when it expires. The
    /// flows then drain the bottleneck queue together to see the true propagation delay
    /// — about 2% of the time (200 ms / 10 s), and only for flows that were busy the whole
    /// 10 s: others see a low RTT in their natural pauses.
    fn update_min_rtt(&mut self, sk: &mut Sock, rs: &RateSample) {
        let now = jiffies(sk);
        let filter_expired = after(
            now,
            self.min_rtt_stamp.wrapping_add(BBR_MIN_RTT_WIN_SEC * HZ),
        );
        if rs.rtt_us >= 0
            && (rs.rtt_us < i64::from(self.min_rtt_us) || (filter_expired && !rs.is_ack_delayed))
        {
            self.min_rtt_us = rs.rtt_us as u32;
            self.min_rtt_stamp = now;
        }

        if BBR_PROBE_RTT_MODE_MS > 0
            && filter_expired
            && !self.get(flag::IDLE_RESTART)
            && self.mode != Mode::ProbeRtt
        {
            // Dip, to drain the queue; the mode is set first, so save_cwnd keeps the
            // larger of the saved and the current window.
            self.mode = Mode::ProbeRtt;
            self.save_cwnd(sk);
            self.probe_rtt_done_stamp = 0;
        }

        if self.mode == Mode::ProbeRtt {
            // Mark the samples app-limited: the low rate here is ours, not the path's.
            sk.app_limited = match sk.delivered.wrapping_add(sk.in_flight) {
                0 => 1,
                n => n,
            };
            // Hold the minimum in flight for max(200 ms, 1 round).
            if self.probe_rtt_done_stamp == 0 && sk.in_flight <= BBR_CWND_MIN_TARGET {
                // msecs_to_jiffies at HZ = 1000.
                self.probe_rtt_done_stamp = now.wrapping_add(BBR_PROBE_RTT_MODE_MS * HZ / 1000);
                self.set(flag::PROBE_RTT_ROUND_DONE, false);
                self.next_rtt_delivered = sk.delivered;
            } else if self.probe_rtt_done_stamp != 0 {
                if self.get(flag::ROUND_START) {
                    self.set(flag::PROBE_RTT_ROUND_DONE, true);
                }
                if self.get(flag::PROBE_RTT_ROUND_DONE) {
                    self.check_probe_rtt_done(sk);
                }
            }
        }
        // The restart after idle ends with the first new (S)ACK of data.
        if rs.delivered > 0 {
            self.set(flag::IDLE_RESTART, false);
        }
    }

    /// `bbr_update_gains`.
    fn update_gains(&mut self) {
        let (pacing, cwnd) = match self.mode {
            Mode::Startup => (BBR_HIGH_GAIN, BBR_HIGH_GAIN),
            // Slow, to drain; the window stays.
            Mode::Drain => (BBR_DRAIN_GAIN, BBR_HIGH_GAIN),
            Mode::ProbeBw => (
                if self.get(flag::LT_USE_BW) {
                    BBR_UNIT
                } else {
                    u32::from(BBR_PACING_GAIN[usize::from(self.cycle_idx)])
                },
                BBR_CWND_GAIN,
            ),
            Mode::ProbeRtt => (BBR_UNIT, BBR_UNIT),
        };
        self.pacing_gain = pacing as u16;
        self.cwnd_gain = cwnd as u16;
    }

    /// `bbr_update_model`.
    fn update_model(&mut self, sk: &mut Sock, rs: &RateSample) {
        self.update_bw(sk, rs);
        self.update_ack_aggregation(sk, rs);
        self.update_cycle_phase(sk, rs);
        self.check_full_bw_reached(rs);
        self.check_drain(sk);
        self.update_min_rtt(sk, rs);
        self.update_gains();
    }

    /// `bbr_main` (the `cong_control` hook, at the end of each ACK's processing): update
    /// the model, then set `sk.pacing_rate` and `sk.cwnd` from it.
    pub(crate) fn main(&mut self, sk: &mut Sock, rs: &RateSample) {
        self.update_model(sk, rs);

        let bw = self.bw();
        self.set_pacing_rate(sk, bw, u32::from(self.pacing_gain));
        self.set_cwnd(sk, rs, rs.acked_sacked, bw, u32::from(self.cwnd_gain));
    }

    /// `bbr_undo_cwnd`: the slow-down was spurious, so the full-pipe detection and the
    /// policer estimate start over; the window is kept (BBR did not cut it on the loss).
    pub(crate) fn undo_cwnd(&mut self, sk: &Sock) -> u32 {
        self.full_bw = 0;
        self.full_bw_cnt = 0;
        self.reset_lt_bw_sampling(sk);
        sk.cwnd
    }

    /// `bbr_ssthresh`: entering loss recovery — save the window for when it ends or is
    /// undone; ssthresh stays as it is.
    pub(crate) fn ssthresh(&mut self, sk: &Sock) -> u32 {
        self.save_cwnd(sk);
        sk.ssthresh
    }

    /// `bbr_set_state`: on an RTO (entering CA_Loss), treat it as the end of a round with
    /// a loss, for the full-pipe and policer estimates.
    pub(crate) fn set_state(&mut self, sk: &Sock, new_state: u8) {
        if new_state == TCP_CA_LOSS {
            let rs = RateSample {
                losses: 1,
                ..RateSample::default()
            };
            self.prev_ca_state = TCP_CA_LOSS;
            self.full_bw = 0;
            self.set(flag::ROUND_START, true);
            self.lt_bw_sampling(sk, &rs);
        }
    }

    /// `bbr_get_info`.
    pub(crate) fn info(&self, sk: &Sock) -> BbrInfo {
        let bw = u64::from(self.bw())
            .wrapping_mul(u64::from(sk.mss))
            .wrapping_mul(USEC_PER_SEC)
            >> BW_SCALE;
        BbrInfo {
            bw,
            min_rtt_us: self.min_rtt_us,
            pacing_gain: u32::from(self.pacing_gain),
            cwnd_gain: u32::from(self.cwnd_gain),
        }
    }

    /// The mode, by Linux's name, for people looking at it.
    pub(crate) fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Startup => "STARTUP",
            Mode::Drain => "DRAIN",
            Mode::ProbeBw => "PROBE_BW",
            Mode::ProbeRtt => "PROBE_RTT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket on the test path: 1000-byte segments, nothing measured beyond what the
    /// handshake gave (`srtt_us`, `min_rtt_us`), an initial window of 10.
    fn sock(srtt_us: u32, min_rtt_us: u32) -> Sock {
        Sock {
            now: Instant::ZERO,
            now_ns: 0,
            wstamp_ns: 0,
            cwnd: 10,
            cwnd_clamp: u32::MAX,
            ssthresh: 0,
            pacing_rate: 0,
            max_pacing_rate: u64::MAX,
            mss: 1000,
            srtt_us,
            min_rtt_us,
            delivered: 0,
            delivered_mstamp: Instant::ZERO,
            lost: 0,
            in_flight: 0,
            ca_state: TCP_CA_OPEN,
            app_limited: 0,
            rand: 0,
        }
    }

    /// A flow over a 1000 segments/s bottleneck (one 1000-byte segment per ms: a bw of
    /// 2^24 / 1000 = 16777) with a 100 ms propagation delay: a BDP of 100 segments.
    struct Flow {
        sk: Sock,
        bbr: Bbr,
    }

    impl Flow {
        fn new(rand: u32) -> Flow {
            let mut sk = sock(100_000, 100_000);
            sk.rand = rand;
            let bbr = Bbr::new(&mut sk);
            Flow { sk, bbr }
        }

        /// An ACK `dt_us` after the previous one, delivering `acked` segments and leaving
        /// `in_flight`: its rate sample is `acked` over `interval_us` with a 100 ms RTT, and
        /// it starts a round (unless `f` says otherwise). `f` adjusts the socket and the
        /// sample before BBR sees them.
        fn ack_with(
            &mut self,
            dt_us: u64,
            acked: u32,
            in_flight: u32,
            interval_us: i64,
            f: impl FnOnce(&mut Sock, &mut RateSample),
        ) {
            let sk = &mut self.sk;
            let now = sk.now.as_micros() + dt_us;
            let mut rs = RateSample {
                prior_delivered: sk.delivered,
                delivered: acked as i32,
                interval_us,
                rtt_us: 100_000,
                losses: 0,
                acked_sacked: acked,
                prior_in_flight: sk.in_flight,
                is_app_limited: false,
                is_ack_delayed: false,
            };
            sk.now = Instant::from_micros(now);
            sk.now_ns = now * 1000;
            sk.wstamp_ns = sk.now_ns;
            sk.delivered_mstamp = sk.now;
            sk.delivered += acked;
            sk.in_flight = in_flight;
            f(sk, &mut rs);
            self.bbr.main(sk, &rs);
        }

        fn ack(&mut self, dt_us: u64, acked: u32, in_flight: u32, interval_us: i64) {
            self.ack_with(dt_us, acked, in_flight, interval_us, |_, _| {});
        }

        /// Steady state: every 10 ms, 10 segments ACKed (the bottleneck rate), 140 in flight
        /// (enough for the probe phase to end on time).
        fn tick(&mut self) {
            self.ack(10_000, 10, 140, 10_000);
        }

        fn pacing_gain(&self) -> u32 {
            u32::from(self.bbr.pacing_gain)
        }

        fn ms(&self) -> u64 {
            self.sk.now.as_millis()
        }
    }

    /// STARTUP's rounds, one ACK per 100 ms round: (segments delivered, in flight after).
    /// The window doubles until the fifth round meets the bottleneck (100 per round).
    const STARTUP_ROUNDS: [(u32, u32); 9] = [
        (10, 0),
        (20, 0),
        (40, 0),
        (80, 0),
        (100, 60),
        (100, 160),
        (100, 260),
        (100, 260),
        (100, 100),
    ];

    /// A flow through STARTUP and DRAIN, in PROBE_BW at 900 ms (checked in
    /// `startup_fills_the_pipe_then_drains_into_probe_bw`).
    fn probe_bw_flow(rand: u32) -> Flow {
        let mut f = Flow::new(rand);
        for (delivered, in_flight) in STARTUP_ROUNDS {
            f.ack(100_000, delivered, in_flight, 100_000);
        }
        assert_eq!(f.bbr.mode_name(), "PROBE_BW");
        f
    }

    /// Linux's `rate × mss × gain >> 8 × 990000 >> 24` for this path's 1000-byte segments.
    fn rate(bw: u64, gain: u64) -> u64 {
        (((bw * 1000 * gain) >> 8) * 990_000) >> 24
    }

    /// Kathleen Nichols' filter keeps the max of the last `win` time units in three
    /// samples: a new max replaces everything; the 2nd and 3rd choices are refreshed from
    /// the second quarter and the second half of the window, and take over as the best
    /// ages out.
    #[test]
    fn minmax_keeps_the_windowed_max_in_three_samples() {
        let mut m = MinMax::default();
        assert_eq!(m.reset(0, 100), 100);
        // Within the first quarter (10 / 4 = 2): nothing but the max is kept.
        assert_eq!(m.running_max(10, 1, 90), 100);
        assert_eq!(m.s[1], MinMaxSample { t: 0, v: 100 });
        // Past a quarter: a 2nd (and 3rd) choice from the second quarter...
        assert_eq!(m.running_max(10, 3, 90), 100);
        assert_eq!(m.s[1], MinMaxSample { t: 3, v: 90 });
        assert_eq!(m.s[2], MinMaxSample { t: 3, v: 90 });
        // ...past half: a 3rd from the second half.
        assert_eq!(m.running_max(10, 6, 80), 100);
        assert_eq!(m.s[2], MinMaxSample { t: 6, v: 80 });
        // The max (t = 0) ages out at t = 11: the 2nd choice (90) becomes the max...
        assert_eq!(m.running_max(10, 11, 70), 90);
        assert_eq!(
            m.s,
            [
                MinMaxSample { t: 3, v: 90 },
                MinMaxSample { t: 6, v: 80 },
                MinMaxSample { t: 11, v: 70 }
            ]
        );
        // ...and it in turn at t = 14.
        assert_eq!(m.running_max(10, 14, 60), 80);
        // A new max forgets the rest.
        assert_eq!(m.running_max(10, 15, 200), 200);
        assert_eq!(m.s, [MinMaxSample { t: 15, v: 200 }; 3]);
        // A sample after a whole window with nothing in it starts afresh, however small.
        assert_eq!(m.running_max(10, 26, 5), 5);
        assert_eq!(m.get(), 5);
        // Time wraps as u32 (BBR's clock is its round count).
        let mut w = MinMax::default();
        w.reset(u32::MAX - 1, 50);
        assert_eq!(
            w.running_max(10, 3, 40),
            50,
            "5 rounds later, across the wrap"
        );
        assert_eq!(w.running_max(10, 9, 40), 40, "11 rounds later: aged out");
    }

    /// `bbr_init`: ssthresh infinite, STARTUP, and pacing at high_gain × 10 segments per
    /// RTT — a nominal 1 ms before any RTT sample, replaced by the first real one (the
    /// only time the pacing rate falls in STARTUP). Gains are 0 until the first ACK, as
    /// in Linux's zeroed `icsk_ca_priv`.
    #[test]
    fn init_paces_the_initial_window_over_the_rtt() {
        let mut sk = sock(0, u32::MAX);
        let mut bbr = Bbr::new(&mut sk);
        assert_eq!(sk.ssthresh, TCP_INFINITE_SSTHRESH);
        // bw = 10 × 2^24 / 1000 = 167772; × 1000 × 739 >> 8 × 990000 >> 24.
        assert_eq!(sk.pacing_rate, 28_578_488);
        assert_eq!(rate(167_772, 739), 28_578_488);
        assert_eq!(bbr.mode_name(), "STARTUP");
        assert_eq!(
            bbr.info(&sk),
            BbrInfo {
                bw: 0,
                min_rtt_us: u32::MAX,
                pacing_gain: 0,
                cwnd_gain: 0
            }
        );
        // No RTT yet: the BDP is TCP_INIT_CWND.
        assert_eq!(bbr.bdp(1_000_000, BBR_HIGH_GAIN), 10);

        // The first ACK brings a 100 ms RTT: 10 × 2^24 / 100000 = 1677 → 285662 B/s.
        sk.srtt_us = 100_000;
        sk.delivered = 10;
        sk.now = Instant::from_millis(100);
        sk.delivered_mstamp = sk.now;
        let rs = RateSample {
            prior_delivered: 0,
            delivered: 10,
            interval_us: 100_000,
            rtt_us: 100_000,
            acked_sacked: 10,
            ..RateSample::default()
        };
        bbr.main(&mut sk, &rs);
        assert_eq!(sk.pacing_rate, 285_662);
        assert!(bbr.get(flag::HAS_SEEN_RTT));
        assert_eq!(bbr.info(&sk).min_rtt_us, 100_000);
        assert_eq!(bbr.info(&sk).pacing_gain, 739);
        assert_eq!(bbr.info(&sk).cwnd_gain, 739);
        // With the handshake's RTT at init, the same rate from the start.
        let mut sk2 = sock(100_000, 100_000);
        Bbr::new(&mut sk2);
        assert_eq!(sk2.pacing_rate, 285_662);
    }

    /// STARTUP: the window grows by what each round delivered (it doubles, as slow start)
    /// while under high_gain × BDP, and pacing follows 739/256 × the max bandwidth. Three
    /// rounds without 25% more bandwidth and the pipe is full: DRAIN (pacing at 88/256,
    /// ssthresh = BDP + TSO budget) until in-flight is down to that, then PROBE_BW.
    #[test]
    fn startup_fills_the_pipe_then_drains_into_probe_bw() {
        let mut f = Flow::new(0);
        assert_eq!(f.sk.pacing_rate, 285_662);
        // Per round: (max bw, pacing rate, cwnd after). The target is
        // ceil(bw × 100 ms × 739/256) + 3 × 2 (TSO segments) rounded up to even.
        let expect = [
            (1677, 285_662, 20),     // target 29 + 6 → 36: 10 + 10
            (3355, 571_494, 40),     // 58 + 6 → 64
            (6710, 1_142_989, 80),   // 116 + 6 → 122
            (13421, 2_286_149, 160), // 231 + 6 → 238
            // The bottleneck: 16777 ≥ 13421 × 320 >> 8 = 16776, still 25% more.
            (16777, 2_857_814, 260), // 289 + 6 → 296 (160 < 296: + 100)
            (16777, 2_857_814, 360), // flat round 1 (< 16777 × 1.25 = 20971)
            (16777, 2_857_814, 360), // flat round 2; 360 ≥ 296: no more growth
        ];
        for (i, &(bw, pacing, cwnd)) in expect.iter().enumerate() {
            let (delivered, in_flight) = STARTUP_ROUNDS[i];
            f.ack(100_000, delivered, in_flight, 100_000);
            assert_eq!(f.bbr.max_bw(), bw, "round {}", i + 1);
            assert_eq!(rate(u64::from(bw), 739), pacing, "round {}", i + 1);
            assert_eq!(f.sk.pacing_rate, pacing, "round {}", i + 1);
            assert_eq!(f.sk.cwnd, cwnd, "round {}", i + 1);
            assert_eq!(f.bbr.mode_name(), "STARTUP", "round {}", i + 1);
            assert_eq!(f.pacing_gain(), 739);
        }
        assert_eq!(f.bbr.full_bw_cnt, 2);
        assert_eq!(f.sk.ssthresh, TCP_INFINITE_SSTHRESH);

        // Flat round 3: the pipe is full. DRAIN, ssthresh = ceil(16777 × 100000 / 2^24)
        // = 100 + 3 × 2 = 106; 262 in the network at the next departure (260 + one TSO
        // burst at the old gain > 1) is more than that: stay.
        f.ack(100_000, 100, 260, 100_000);
        assert!(f.bbr.full_bw_reached());
        assert_eq!(f.bbr.mode_name(), "DRAIN");
        assert_eq!(f.sk.ssthresh, 106);
        assert_eq!(f.pacing_gain(), 88);
        assert_eq!(f.bbr.info(&f.sk).cwnd_gain, 739);
        // Pacing at 88/256 × bw: lower, written now that the pipe is full.
        assert_eq!(f.sk.pacing_rate, 340_308);
        assert_eq!(rate(16777, 88), 340_308);
        // The window snaps down to 289 (BDP × 739/256) + 99 (ACK aggregation: 101 extra
        // ACKed, capped at 100 ms of bw = 99) + 6 = 394.
        assert_eq!(f.bbr.extra_acked(), 101);
        assert_eq!(f.bbr.ack_aggregation_cwnd(), 99);
        assert_eq!(f.sk.cwnd, 394);

        // 100 in flight ≤ 106: drained. PROBE_BW at phase 7 − rand % 7 = 7, advanced to
        // 0: the 1.25 probe; cwnd = 2 × BDP 200 + 99 + 6 + 2 (the probe's extra) = 308.
        f.ack(100_000, 100, 100, 100_000);
        assert_eq!(f.bbr.mode_name(), "PROBE_BW");
        assert_eq!(f.bbr.cycle_idx, 0);
        assert_eq!(f.pacing_gain(), 320);
        assert_eq!(f.bbr.info(&f.sk).cwnd_gain, 512);
        assert_eq!(f.sk.pacing_rate, 1_237_484);
        assert_eq!(f.sk.cwnd, 308);
        assert_eq!(
            f.bbr.info(&f.sk),
            BbrInfo {
                // 16777 × 1000 × 10^6 >> 24 bytes/s.
                bw: 999_987,
                min_rtt_us: 100_000,
                pacing_gain: 320,
                cwnd_gain: 512
            }
        );

        // Another random draw enters at another phase: rand 3 → 7 − 3 = 4, advanced to 5.
        let f = probe_bw_flow(3);
        assert_eq!(f.bbr.cycle_idx, 5);
        assert_eq!(f.pacing_gain(), 256);
        assert_eq!(f.sk.cwnd, 306);
    }

    /// STARTUP keeps going while each round brings 25% more bandwidth, however many
    /// rounds; a round that is app-limited does not count toward the three.
    #[test]
    fn growth_of_a_quarter_or_app_limited_rounds_keep_startup_going() {
        let mut f = Flow::new(0);
        // 80 → 100 → 125 → 156 per round: each ≥ 1.25 × the last (bw 13421, 16777, 20971,
        // 26172 vs thresholds 16776, 20971, 26213... the last is short).
        for n in [80, 100, 125] {
            f.ack(100_000, n, 0, 100_000);
        }
        assert_eq!(f.bbr.full_bw_cnt, 0);
        assert_eq!(f.bbr.full_bw, 20971);
        f.ack(100_000, 156, 0, 100_000);
        assert_eq!(f.bbr.full_bw_cnt, 1, "26172 < 20971 × 1.25 = 26213");
        // App-limited rounds are not evidence of a full pipe.
        for _ in 0..5 {
            f.ack_with(100_000, 100, 0, 100_000, |_, rs| rs.is_app_limited = true);
        }
        assert_eq!(f.bbr.full_bw_cnt, 1);
        assert_eq!(f.bbr.mode_name(), "STARTUP");
        f.ack(100_000, 156, 300, 100_000);
        f.ack(100_000, 156, 300, 100_000);
        assert_eq!(f.bbr.mode_name(), "DRAIN");
        // With in-flight already at the BDP, DRAIN ends on the ACK that entered it.
        let mut f = Flow::new(0);
        for n in [100, 100, 100, 100] {
            f.ack(100_000, n, 100, 100_000);
        }
        assert_eq!(f.bbr.mode_name(), "PROBE_BW");
    }

    /// PROBE_BW cycles 1.25, 0.75, then 1.0 six times, each phase ending at the first ACK
    /// more than min_rtt (100 ms) after it began — every 110 ms with ACKs each 10 ms — the
    /// probe only once in-flight reached 1.25 BDP. Pacing is bw × gain × 0.99.
    #[test]
    fn probe_bw_cycles_the_eight_gains_once_per_min_rtt() {
        let mut f = probe_bw_flow(0);
        assert_eq!(f.bbr.cycle_idx, 0);
        let start = f.ms();
        let mut seen = Vec::new();
        for i in 1..=(8 * 11 + 3) {
            // 140 in flight: above the probe's 132 (+2) target, above the drain's 106.
            f.ack(10_000, 10, 140, 10_000);
            assert_eq!(f.ms(), start + 10 * i);
            let gain = f.pacing_gain();
            let want = [320, 192, 256, 256, 256, 256, 256, 256][(i as usize / 11) % 8];
            assert_eq!(gain, want, "ACK {i}");
            let pacing = match gain {
                320 => 1_237_484,
                192 => 742_490,
                _ => 989_987,
            };
            assert_eq!(f.sk.pacing_rate, pacing, "ACK {i}");
            assert_eq!(rate(16777, u64::from(gain)), pacing);
            if seen.last() != Some(&gain) {
                seen.push(gain);
            }
        }
        assert_eq!(seen, [320, 192, 256, 320]);

        // The probe persists past min_rtt until in-flight reaches 1.25 × BDP (+ budget)...
        let mut f = probe_bw_flow(0);
        for _ in 0..30 {
            f.ack(10_000, 10, 120, 10_000);
        }
        assert_eq!(f.pacing_gain(), 320, "120 + 2 in the network < 134");
        // ...unless packets are lost.
        f.ack_with(10_000, 10, 120, 10_000, |_, rs| rs.losses = 1);
        assert_eq!(f.pacing_gain(), 192);
        // The drain phase ends early once in-flight is down to the BDP + budget (106).
        f.ack(10_000, 10, 106, 10_000);
        assert_eq!(f.pacing_gain(), 192, "the prior in-flight was 120");
        f.ack(10_000, 10, 106, 10_000);
        assert_eq!(f.pacing_gain(), 256);
    }

    /// After 10 s without a lower RTT, PROBE_RTT: cwnd 4 and the socket marked
    /// app-limited; once in-flight is down to 4, it stays 200 ms and a round; then the
    /// window saved on entry is restored, min_rtt re-stamped, and PROBE_BW resumes.
    #[test]
    fn probe_rtt_every_ten_seconds_holds_four_for_200_ms_and_a_round() {
        let mut f = probe_bw_flow(1);
        // min_rtt was stamped at 0 ms; the filter expires after jiffies 10000.
        while f.ms() < 10_000 {
            f.tick();
            assert_eq!(f.bbr.mode_name(), "PROBE_BW", "{} ms", f.ms());
        }
        let saved = f.sk.cwnd;
        assert_eq!(saved, 306);
        f.tick();
        assert_eq!(f.ms(), 10_010);
        assert_eq!(f.bbr.mode_name(), "PROBE_RTT");
        // The expired filter took this ACK's RTT, equal or not.
        assert_eq!(f.bbr.min_rtt_stamp, 10_010);
        assert_eq!(f.bbr.prior_cwnd, saved);
        assert_eq!(f.sk.cwnd, 4);
        assert_eq!(f.sk.app_limited, f.sk.delivered + 140);
        assert_eq!(f.pacing_gain(), 256);
        assert_eq!(f.bbr.info(&f.sk).cwnd_gain, 256);
        assert_eq!(f.bbr.probe_rtt_done_stamp, 0, "140 in flight: not yet");

        // Down to 4 in flight at 10020 ms: done at 10220 and after a round.
        f.ack_with(10_000, 10, 4, 10_000, |_, rs| rs.is_app_limited = true);
        assert_eq!(f.bbr.probe_rtt_done_stamp, 10_220);
        let round_end = f.sk.delivered;
        // ACKs that end no round: 200 ms pass, PROBE_RTT holds.
        while f.ms() < 10_300 {
            f.ack_with(10_000, 2, 4, 10_000, |_, rs| {
                rs.prior_delivered = round_end - 1;
                rs.is_app_limited = true;
            });
            assert_eq!(f.bbr.mode_name(), "PROBE_RTT", "{} ms", f.ms());
            assert_eq!(f.sk.cwnd, 4);
        }
        // The round ends: out.
        f.ack_with(10_000, 2, 4, 10_000, |_, rs| rs.is_app_limited = true);
        assert_eq!(f.bbr.mode_name(), "PROBE_BW");
        assert_eq!(f.bbr.min_rtt_stamp, 10_310);
        assert!(f.sk.cwnd > 4);

        // The other order: the round ends at once, the 200 ms later. An ACK that carries
        // no sample and ACKs nothing leaves exactly the restored window.
        let mut f = probe_bw_flow(1);
        while f.ms() < 10_010 {
            f.tick();
        }
        assert_eq!(f.bbr.mode_name(), "PROBE_RTT");
        f.ack_with(10_000, 10, 4, 10_000, |_, rs| rs.is_app_limited = true);
        f.ack_with(10_000, 2, 4, 10_000, |_, rs| rs.is_app_limited = true);
        assert!(f.bbr.get(flag::PROBE_RTT_ROUND_DONE));
        let no_sample = |_: &mut Sock, rs: &mut RateSample| {
            rs.delivered = -1;
            rs.interval_us = -1;
            rs.rtt_us = -1;
        };
        while f.ms() < 10_220 {
            f.ack_with(10_000, 0, 4, 10_000, no_sample);
            assert_eq!(f.bbr.mode_name(), "PROBE_RTT", "{} ms", f.ms());
        }
        f.ack_with(10_000, 0, 4, 10_000, no_sample);
        assert_eq!(f.ms(), 10_230);
        assert_eq!(f.bbr.mode_name(), "PROBE_BW");
        assert_eq!(f.sk.cwnd, 306);
        // rand 1: phase 7 − 1 = 6, advanced to 7.
        assert_eq!(f.bbr.cycle_idx, 7);
        // The next PROBE_RTT is 10 s away.
        while f.ms() < 20_230 {
            f.tick();
            assert_eq!(f.bbr.mode_name(), "PROBE_BW", "{} ms", f.ms());
        }
        f.tick();
        assert_eq!(f.bbr.mode_name(), "PROBE_RTT");
    }

    /// A lower RTT refreshes the filter and puts PROBE_RTT off; so does a restart from
    /// idle (the first ACK after it brings a fresh sample instead).
    #[test]
    fn a_new_min_rtt_or_an_idle_restart_puts_probe_rtt_off() {
        let mut f = probe_bw_flow(1);
        while f.ms() < 5_000 {
            f.tick();
        }
        f.ack_with(10_000, 10, 140, 10_000, |_, rs| rs.rtt_us = 99_000);
        assert_eq!((f.bbr.min_rtt_us, f.bbr.min_rtt_stamp), (99_000, 5_010));
        while f.ms() < 15_010 {
            f.tick();
            assert_eq!(f.bbr.mode_name(), "PROBE_BW", "{} ms", f.ms());
        }
        // Expired: PROBE_RTT. A delayed ACK's RTT does not refresh the filter.
        f.ack_with(10_000, 10, 140, 10_000, |_, rs| rs.is_ack_delayed = true);
        assert_eq!(f.bbr.mode_name(), "PROBE_RTT");
        assert_eq!((f.bbr.min_rtt_us, f.bbr.min_rtt_stamp), (99_000, 5_010));

        let mut f = probe_bw_flow(1);
        while f.ms() < 9_000 {
            f.tick();
        }
        // Idle and app-limited for 2 s; the first send after it.
        f.sk.now = Instant::from_millis(11_000);
        f.sk.app_limited = 1;
        f.bbr.cwnd_event_tx_start(&mut f.sk);
        assert!(f.bbr.get(flag::IDLE_RESTART));
        f.ack_with(100_000, 10, 10, 100_000, |_, rs| rs.rtt_us = 100_500);
        assert_eq!(f.bbr.mode_name(), "PROBE_BW");
        assert_eq!((f.bbr.min_rtt_us, f.bbr.min_rtt_stamp), (100_500, 11_100));
        assert!(!f.bbr.get(flag::IDLE_RESTART));
    }

    /// Recovery: losses come off the window, and its first round sends one segment per
    /// segment ACKed (cwnd = in flight + ACKed); the next rounds slow-start toward the
    /// target; leaving recovery restores the window saved by `ssthresh`.
    #[test]
    fn recovery_conserves_packets_then_restores_the_prior_window() {
        let mut f = probe_bw_flow(1);
        f.tick();
        assert_eq!(f.sk.cwnd, 306);
        f.sk.ssthresh = 77;
        assert_eq!(f.bbr.ssthresh(&f.sk), 77, "ssthresh is left as it is");
        assert_eq!(f.bbr.prior_cwnd, 306);

        let no_round = |ca_state: u8, losses: u32| {
            move |sk: &mut Sock, rs: &mut RateSample| {
                sk.ca_state = ca_state;
                rs.losses = losses;
                rs.prior_delivered = sk.delivered - 100;
            }
        };
        // Entering recovery: 3 lost, 5 ACKed, 50 left in flight: cwnd = 50 + 5.
        f.ack_with(10_000, 5, 50, 10_000, no_round(TCP_CA_RECOVERY, 3));
        assert_eq!(f.sk.cwnd, 55);
        assert!(f.bbr.get(flag::PACKET_CONSERVATION));
        assert_eq!(
            f.bbr.next_rtt_delivered, f.sk.delivered,
            "a round starts now"
        );
        // The same round: max(cwnd − losses, in flight + ACKed).
        f.ack_with(10_000, 4, 53, 10_000, no_round(TCP_CA_RECOVERY, 0));
        assert_eq!(f.sk.cwnd, 57);
        f.ack_with(10_000, 4, 50, 10_000, no_round(TCP_CA_RECOVERY, 2));
        assert_eq!(f.sk.cwnd, 55, "57 − 2 ≥ 50 + 4");
        // The round ends: conservation off, cwnd + ACKed (slow start toward the target).
        f.ack_with(10_000, 6, 50, 10_000, |sk, rs| {
            sk.ca_state = TCP_CA_RECOVERY;
            rs.losses = 1;
        });
        assert!(!f.bbr.get(flag::PACKET_CONSERVATION));
        assert_eq!(f.sk.cwnd, 60, "55 − 1 + 6");
        // Back to Open: max(cwnd, prior_cwnd) = 306, then min(306 + 10, target 306).
        f.ack_with(10_000, 10, 60, 10_000, no_round(TCP_CA_OPEN, 0));
        assert_eq!(f.sk.cwnd, 306);
        assert_eq!(f.bbr.prev_ca_state, TCP_CA_OPEN);

        // A second loss episode while still recovering keeps the larger saved window.
        f.sk.cwnd = 200;
        f.bbr.prev_ca_state = TCP_CA_RECOVERY;
        f.bbr.ssthresh(&f.sk);
        assert_eq!(f.bbr.prior_cwnd, 306);
        // Losses alone never take the window below 1 (max_t(s32, cwnd − losses, 1)).
        f.bbr.prev_ca_state = TCP_CA_OPEN;
        f.sk.cwnd = 5;
        let (cwnd, conserving) = f.bbr.set_cwnd_to_recover_or_restore(
            &f.sk,
            &RateSample {
                losses: 9,
                ..RateSample::default()
            },
            1,
        );
        assert_eq!((cwnd, conserving), (1, false));
    }

    /// The policer detector: from the first loss, two intervals of ≥ 4 rounds ending at a
    /// loss, each with lost/delivered ≥ 50/256, at rates within 1/8 of each other: pace at
    /// their average (gain 1.0) for 48 rounds, then probe again.
    #[test]
    fn a_policer_is_detected_and_its_rate_used_for_48_rounds() {
        let mut f = probe_bw_flow(1);
        // Each ACK (a round) delivers 8 and loses 2; its rate sample still says 16777.
        let lossy = |delivered: u32| {
            move |sk: &mut Sock, rs: &mut RateSample| {
                sk.lost += 2;
                rs.losses = 2;
                rs.delivered = delivered as i32;
                rs.interval_us = i64::from(delivered) * 1000;
            }
        };
        // 910 ms: sampling starts (after this ACK), round 1.
        f.ack_with(10_000, 8, 100, 0, lossy(8));
        assert!(f.bbr.get(flag::LT_IS_SAMPLING));
        assert_eq!((f.bbr.lt_last_stamp, f.bbr.lt_rtt_cnt), (910, 1));
        f.ack_with(10_000, 8, 100, 0, lossy(8));
        f.ack_with(10_000, 8, 100, 0, lossy(8));
        assert_eq!(f.bbr.lt_bw, 0);
        // 940 ms, round 4: 24 delivered, 6 lost in 30 ms: 6 × 256 ≥ 50 × 24.
        // lt_bw = 24 × 2^24 / 30000 = 13421; a new interval starts.
        f.ack_with(10_000, 8, 100, 0, lossy(8));
        assert_eq!(f.bbr.lt_bw, 13421);
        assert!(!f.bbr.get(flag::LT_USE_BW));
        assert_eq!(f.sk.pacing_rate, 989_987, "still the max filter's 16777");
        for _ in 0..3 {
            f.ack_with(10_000, 8, 100, 0, lossy(8));
        }
        // 980 ms: 34 delivered, 8 lost in 40 ms: 34 × 2^24 / 40000 = 14260, within 1/8
        // of 13421 (839 × 256 ≤ 32 × 13421): policed at (14260 + 13421) / 2 = 13840.
        f.ack_with(10_000, 10, 100, 0, lossy(10));
        assert!(f.bbr.get(flag::LT_USE_BW));
        assert_eq!(f.bbr.lt_bw, 13840);
        assert_eq!(f.bbr.bw(), 13840);
        assert_eq!(f.pacing_gain(), 256);
        assert_eq!(f.sk.pacing_rate, 816_679);
        assert_eq!(rate(13840, 256), 816_679);
        assert_eq!(f.bbr.info(&f.sk).bw, (13840 * 1000 * 1_000_000) >> 24);
        // The window follows the policed rate too: 2 × BDP = ceil(13840 × 100000 × 2 / 2^24)
        // = 165, + 82 (aggregation capped at 100 ms of 13840) + 6 = 253 → 254.
        assert_eq!(f.bbr.ack_aggregation_cwnd(), 82);
        assert_eq!(f.sk.cwnd, 254);

        // 48 rounds, whatever the gain cycle says (1.25 would be due at 1010 ms).
        for round in 1..48 {
            f.ack(10_000, 8, 100, 8_000);
            assert_eq!(f.pacing_gain(), 256, "round {round}");
            assert_eq!(f.sk.pacing_rate, 816_679, "round {round}");
        }
        f.ack(10_000, 8, 100, 8_000);
        assert!(!f.bbr.get(flag::LT_USE_BW));
        assert_eq!(f.bbr.lt_bw, 0);
        assert_eq!(
            f.bbr.cycle_idx, 7,
            "gain cycling restarted: 7 − 1 % 7 = 6, advanced"
        );
        assert_eq!(f.sk.pacing_rate, 989_987);
    }

    /// Loss below 50/256 of the delivered, an app-limited stretch, or intervals whose
    /// rates differ: no policer.
    #[test]
    fn light_loss_or_inconsistent_rates_are_not_a_policer() {
        // 1 lost per 8 delivered: 3 × 256 < 50 × 24; after 16 rounds the interval resets.
        let mut f = probe_bw_flow(1);
        for i in 0..40 {
            f.ack_with(10_000, 8, 100, 8_000, |sk, rs| {
                sk.lost += 1;
                rs.losses = 1;
            });
            assert_eq!(f.bbr.lt_bw, 0, "ACK {i}");
            assert!(f.bbr.lt_rtt_cnt <= 16);
        }
        // App-limited: sampling starts over.
        f.ack_with(10_000, 8, 100, 8_000, |_, rs| rs.is_app_limited = true);
        assert!(!f.bbr.get(flag::LT_IS_SAMPLING));

        // Two lossy intervals at 13421 and 20132 (48 × 2^24 / 40000): 6711 apart, more
        // than 1/8 and more than 4 kbit/s: the second becomes the new reference.
        let mut f = probe_bw_flow(1);
        let lossy = |lost: u32| {
            move |sk: &mut Sock, rs: &mut RateSample| {
                sk.lost += lost;
                rs.losses = lost;
                rs.delivered = 8;
            }
        };
        for _ in 0..4 {
            f.ack_with(10_000, 8, 100, 8_000, lossy(2));
        }
        assert_eq!(f.bbr.lt_bw, 13421);
        for _ in 0..4 {
            f.ack_with(10_000, 12, 100, 8_000, lossy(3));
        }
        assert_eq!(f.bbr.lt_bw, 20132);
        assert!(!f.bbr.get(flag::LT_USE_BW));
    }

    /// An RTO (CA_Loss) is the end of a round with a loss: full-pipe detection restarts
    /// and the policer sampler counts it. Undo resets both.
    #[test]
    fn loss_state_and_undo() {
        let mut f = probe_bw_flow(1);
        f.bbr.set_state(&f.sk, 3);
        assert_eq!(f.bbr.prev_ca_state, TCP_CA_OPEN, "only CA_Loss matters");
        f.bbr.set_state(&f.sk, TCP_CA_LOSS);
        assert_eq!(f.bbr.prev_ca_state, TCP_CA_LOSS);
        assert_eq!(f.bbr.full_bw, 0);
        assert!(f.bbr.get(flag::ROUND_START));
        assert!(f.bbr.get(flag::LT_IS_SAMPLING));
        assert_eq!(f.bbr.lt_rtt_cnt, 1);
        assert!(f.bbr.full_bw_reached(), "the pipe stays known full");

        f.sk.cwnd = 123;
        f.bbr.full_bw = 5;
        f.bbr.full_bw_cnt = 2;
        assert_eq!(f.bbr.undo_cwnd(&f.sk), 123);
        assert_eq!((f.bbr.full_bw, f.bbr.full_bw_cnt), (0, 0));
        assert!(!f.bbr.get(flag::LT_IS_SAMPLING));
    }

    /// The first send after an app-limited idle period paces at the estimate, not above;
    /// one that is not app-limited changes nothing.
    #[test]
    fn tx_start_after_idle_paces_at_the_estimate() {
        let mut f = probe_bw_flow(0);
        assert_eq!(f.sk.pacing_rate, 1_237_484);
        let before = (f.bbr.clone(), f.sk);
        f.bbr.cwnd_event_tx_start(&mut f.sk);
        assert_eq!((f.bbr.clone(), f.sk), before);
        f.sk.app_limited = 7;
        f.sk.now = Instant::from_millis(2_000);
        f.bbr.cwnd_event_tx_start(&mut f.sk);
        assert_eq!(f.sk.pacing_rate, 989_987);
        assert_eq!(f.bbr.ack_epoch_mstamp, 2_000_000);
        assert_eq!(f.bbr.ack_epoch_acked, 0);
    }

    /// The TSO budget: ~1 ms of the pacing rate, at least 2 segments from 1.2 Mbit/s up,
    /// 1 below, at most 127 and 65535 − 320 bytes.
    #[test]
    fn tso_segments_goal() {
        let mut sk = sock(0, u32::MAX);
        sk.pacing_rate = 149_999;
        assert_eq!((min_tso_segs(sk.pacing_rate), tso_segs_goal(&sk)), (1, 1));
        sk.pacing_rate = 150_000;
        assert_eq!((min_tso_segs(sk.pacing_rate), tso_segs_goal(&sk)), (2, 2));
        sk.pacing_rate = 10_240_000;
        assert_eq!(tso_segs_goal(&sk), 10);
        sk.pacing_rate = u64::MAX;
        assert_eq!(tso_segs_goal(&sk), 65);
        sk.mss = 100;
        assert_eq!(tso_segs_goal(&sk), 127);
        sk.mss = 0;
        assert_eq!(tso_segs_goal(&sk), 127);
        assert_eq!(SNDBUF_EXPAND, 3);
    }

    /// Linux's `struct bbr` is 104 bytes; so is this.
    #[test]
    fn the_state_is_as_small_as_linuxs() {
        assert_eq!(std::mem::size_of::<Bbr>(), 104);
    }

    /// Any input, however absurd: no panic (overflow checks are on in tests).
    #[test]
    fn no_input_panics() {
        use rand_chacha::ChaCha8Rng;
        use rand_core::{RngCore, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(0xbb2);
        fn u32_of(rng: &mut ChaCha8Rng) -> u32 {
            match rng.next_u32() % 5 {
                0 => 0,
                1 => u32::MAX,
                2 => rng.next_u32() % 16,
                3 => rng.next_u32() % 100_000,
                _ => rng.next_u32(),
            }
        }
        fn u64_of(rng: &mut ChaCha8Rng) -> u64 {
            match rng.next_u32() % 4 {
                0 => 0,
                1 => u64::MAX,
                2 => u64::from(rng.next_u32()),
                _ => rng.next_u64(),
            }
        }
        for _ in 0..300 {
            let mut sk = sock(u32_of(&mut rng), u32_of(&mut rng));
            sk.cwnd = u32_of(&mut rng);
            sk.mss = u32_of(&mut rng);
            sk.max_pacing_rate = u64_of(&mut rng);
            sk.now = Instant::from_micros(u64_of(&mut rng));
            let mut bbr = Bbr::new(&mut sk);
            for _ in 0..300 {
                sk.now = Instant::from_micros(match rng.next_u32() % 3 {
                    0 => sk
                        .now
                        .as_micros()
                        .wrapping_add(u64::from(rng.next_u32() % 1_000_000)),
                    _ => u64_of(&mut rng),
                });
                sk.now_ns = u64_of(&mut rng);
                sk.wstamp_ns = u64_of(&mut rng);
                sk.cwnd = u32_of(&mut rng);
                sk.cwnd_clamp = u32_of(&mut rng);
                sk.mss = u32_of(&mut rng);
                sk.srtt_us = u32_of(&mut rng);
                sk.delivered = u32_of(&mut rng);
                sk.delivered_mstamp = Instant::from_micros(u64_of(&mut rng));
                sk.lost = u32_of(&mut rng);
                sk.in_flight = u32_of(&mut rng);
                sk.ca_state = (rng.next_u32() % 9) as u8;
                sk.app_limited = u32_of(&mut rng);
                sk.rand = rng.next_u32();
                sk.pacing_rate = u64_of(&mut rng);
                let rs = RateSample {
                    prior_delivered: u32_of(&mut rng),
                    delivered: u32_of(&mut rng) as i32,
                    interval_us: u64_of(&mut rng) as i64,
                    rtt_us: u64_of(&mut rng) as i64,
                    losses: u32_of(&mut rng),
                    acked_sacked: u32_of(&mut rng),
                    prior_in_flight: u32_of(&mut rng),
                    is_app_limited: rng.next_u32() % 2 == 0,
                    is_ack_delayed: rng.next_u32() % 2 == 0,
                };
                match rng.next_u32() % 8 {
                    0 => {
                        bbr.ssthresh(&sk);
                    }
                    1 => {
                        bbr.undo_cwnd(&sk);
                    }
                    2 => bbr.set_state(&sk, (rng.next_u32() % 6) as u8),
                    3 => bbr.cwnd_event_tx_start(&mut sk),
                    _ => bbr.main(&mut sk, &rs),
                }
                let _ = (bbr.info(&sk), bbr.mode_name());
                assert!(bbr.pacing_gain < 1 << 10 && bbr.cwnd_gain < 1 << 10);
                assert!(bbr.cycle_idx < 8 && bbr.full_bw_cnt < 4 && bbr.lt_rtt_cnt < 128);
                assert!(bbr.extra_acked_win_rtts < 32 && bbr.ack_epoch_acked < 1 << 20);
                assert!(bbr.prev_ca_state < 8 && bbr.extra_acked_win_idx < 2);
            }
        }
    }
}
