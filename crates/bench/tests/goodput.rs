//! The goodput harness at a small size: bytes arrive intact (every read is checked against
//! the pattern), goodput stays under the link rate, runs replay exactly, and synack
//! repairs a burst of losses with SACK and PRR, without a retransmission timeout.
use std::time::Duration;
use synack_bench::netpath::*;

fn short(rate: u64, rtt_ms: u64, loss: f64) -> PathConfig {
    let mut p = PathConfig::new(rate, Duration::from_millis(rtt_ms), loss);
    p.warmup = Duration::from_secs(1);
    p.measure = Duration::from_secs(2);
    p
}

#[test]
fn one_flow_each_stays_under_the_link_and_replays() {
    let p = short(10_000_000, 20, 0.01);
    let a = one_flow(&p).expect("both stacks run");
    for g in [&a.synack, &a.bbr, &a.smoltcp] {
        assert!(g.bytes > 0);
        assert!(
            g.mbits() <= 10.0 * 1.001,
            "{} Mbit/s on a 10 Mbit/s link",
            g.mbits()
        );
    }
    assert!(a.synack.random_drops > 0, "the path lost packets");
    // The harness's wire-level count of needless retransmissions is bounded by the
    // sender's own count of retransmissions.
    assert!(
        a.synack.duplicates <= a.synack.retransmits,
        "{:?}",
        a.synack
    );
    let b = one_flow(&p).unwrap();
    assert_eq!(a.synack.bytes, b.synack.bytes, "deterministic");
    assert_eq!(
        a.bbr.bytes, b.bbr.bytes,
        "deterministic, pacing timers included"
    );
    assert_eq!(a.smoltcp.bytes, b.smoltcp.bytes);
}

#[test]
fn a_loss_free_path_is_filled() {
    let a = one_flow(&short(10_000_000, 20, 0.0)).unwrap();
    assert!(a.synack.mbits() > 9.0, "{}", a.synack.mbits());
}

#[test]
fn a_burst_of_losses_is_repaired_without_a_timeout() {
    let mut p = PathConfig::new(100_000_000, Duration::from_millis(50), 0.0);
    p.warmup = Duration::from_secs(3);
    p.measure = Duration::from_secs(3);
    let g = burst_loss(&p, Duration::from_secs(4), 10).unwrap();
    assert_eq!(g.timeouts, 0, "{g:?}");
    assert!(g.fast_recoveries >= 1);
    assert!(g.mbits() > 80.0, "{g:?}");
    // Measured on the wire: from the first of the ten drops to the first ACK covering the
    // last of them. SACK recovery needs about two round trips (the duplicate ACKs come
    // back, the retransmissions go out and are acknowledged); an RTO would need at least
    // its 200 ms floor plus a round trip.
    let repaired = g.burst_repaired_after.expect("the burst was repaired");
    eprintln!("burst repaired after {:.1} ms", repaired * 1e3);
    assert!(repaired < 0.2, "{repaired} s: {g:?}");
}

#[test]
fn two_flows_share_the_bottleneck() {
    let mut p = PathConfig::new(20_000_000, Duration::from_millis(20), 0.0);
    p.warmup = Duration::from_secs(2);
    p.measure = Duration::from_secs(3);
    let g = two_flows(&p, Duration::from_millis(500), false).unwrap();
    assert_eq!(g.len(), 2);
    let total: f64 = g.iter().map(Goodput::mbits).sum();
    assert!(total > 15.0 && total <= 20.0 * 1.001, "{total}");
    assert!(g.iter().all(|f| f.bytes > 0), "both flows move");
}

#[test]
fn response_functions() {
    // Mathis at 1% loss, 100 ms, 1448 B: 1448·8/0.1·1.2247/0.1 ≈ 1.42 Mbit/s.
    let m = mathis(1448.0, Duration::from_millis(100), 0.01);
    assert!((m / 1e6 - 1.419).abs() < 0.01, "{m}");
    // CUBIC is never below Reno (the Reno-friendly region), above it on long paths.
    let c = cubic(1448.0, Duration::from_millis(200), 0.001);
    assert!(c > mathis(1448.0, Duration::from_millis(200), 0.001));
    assert!((jain(&[1.0, 1.0]) - 1.0).abs() < 1e-9);
    assert!((jain(&[1.0, 0.0]) - 0.5).abs() < 1e-9);
}

/// HyStart (Linux's CUBIC default) leaves slow start when the ACK train shows the window
/// covers the path, before the queue overflows: far fewer segments lost to the slow-start
/// overshoot than without it, on the same path.
#[test]
fn hystart_spares_the_slow_start_overshoot() {
    let mut p = PathConfig::new(100_000_000, Duration::from_millis(50), 0.0);
    p.warmup = Duration::from_secs(2);
    p.measure = Duration::from_secs(2);
    let on = synack_flow(&p, None, true).unwrap();
    let off = synack_flow(&p, None, false).unwrap();
    assert!(on.hystart_exits >= 1, "{on:?}");
    assert_eq!(off.hystart_exits, 0);
    assert!(
        on.retransmits * 4 < off.retransmits,
        "with HyStart {} retransmitted, without {}",
        on.retransmits,
        off.retransmits
    );
}

/// Every retransmission after a slow-start overshoot repairs a real loss: on a path
/// without random loss, the receiver is handed no data segment it already had (counted on
/// the wire by the harness, not by either stack). HyStart is off here so that the overshoot
/// is large (hundreds of holes). This failed before 2026-11-24 15:30 — the receiver kept
/// at most 32 out-of-order ranges and dropped segments that would open more (Linux bounds
/// its out-of-order queue by memory), and reported its lowest SACK ranges instead of the
/// newest (RFC 2018: the block of the segment that triggered the ACK first), so the sender
/// never learnt of most arrivals and resent them.
#[test]
fn no_retransmission_is_needless_after_a_slow_start_overshoot() {
    let mut p = PathConfig::new(100_000_000, Duration::from_millis(50), 0.0);
    p.warmup = Duration::from_secs(2);
    p.measure = Duration::from_secs(2);
    let g = synack_flow(&p, None, false).unwrap();
    assert!(g.queue_drops > 64, "the overshoot happened: {g:?}");
    assert_eq!(g.duplicates, 0, "{g:?}");
    assert_eq!(g.timeouts, 0, "{g:?}");
}

/// Receive-buffer auto-tuning (`tcp_moderate_rcvbuf`, Linux's default): with the default
/// buffers (tcp_rmem[1] 128 KiB: a window of about 80 KB) a 100 Mbit/s × 50 ms path
/// (625 KB in flight) is filled only because the receiver grows its buffer towards
/// tcp_rmem[2] with what its application reads per round trip — Linux 6.18 on the same
/// path grew it to 6 MiB within 1.5 s and ran at 97–98 Mbit/s
/// (`tools/kernel-check/autotune.py`). Without auto-tuning the window caps the flow at
/// about 80 KB per round trip.
#[test]
fn receive_buffers_grow_to_fill_the_path() {
    let mut p = PathConfig::new(100_000_000, Duration::from_millis(50), 0.0);
    p.warmup = Duration::from_secs(2);
    p.measure = Duration::from_secs(2);
    let defaults = |c: &mut synack_core::Config| {
        let d = synack_core::Config::linux();
        c.tcp_rmem = d.tcp_rmem;
        c.tcp_wmem = d.tcp_wmem;
        c.rmem_max = d.rmem_max;
        c.wmem_max = d.wmem_max;
    };
    let tuned = synack_flow_with(&p, None, defaults).unwrap();
    assert!(tuned.mbits() > 90.0, "{tuned:?}");
    let fixed = synack_flow_with(&p, None, |c| {
        defaults(c);
        c.tcp_moderate_rcvbuf = false;
    })
    .unwrap();
    assert!(fixed.mbits() < 15.0, "{fixed:?}");
    eprintln!(
        "auto-tuned {:.1} Mbit/s, fixed {:.1} Mbit/s",
        tuned.mbits(),
        fixed.mbits()
    );
}

/// BBR (`tcp_congestion_control = bbr`) does not read random loss as congestion: on a
/// path losing 1% of its packets it keeps the link nearly full, where CUBIC (and Reno)
/// settle at the Mathis rate — what Linux's BBR does too (tools/kernel-check/goodput.py
/// --cc bbr). Its segments are paced: after STARTUP's overshoot the bottleneck queue
/// hardly drops anything.
#[test]
fn bbr_keeps_a_lossy_path_full() {
    let p = short(100_000_000, 10, 0.01);
    let bbr = synack_flow_with(&p, None, |c| {
        c.tcp_congestion_control = synack_core::CongestionAlgorithm::Bbr
    })
    .expect("bbr flow");
    let cubic = synack_flow_with(&p, None, |_| {}).expect("cubic flow");
    assert!(bbr.mbits() > 85.0, "BBR: {} Mbit/s", bbr.mbits());
    assert!(bbr.mbits() > 4.0 * cubic.mbits(), "{bbr:?} vs {cubic:?}");
    assert!(bbr.timeouts == 0, "{bbr:?}");
    let mut steady = p;
    steady.loss = 0.0;
    let quiet = synack_flow_with(&steady, None, |c| {
        c.tcp_congestion_control = synack_core::CongestionAlgorithm::Bbr
    })
    .expect("bbr flow");
    assert!(quiet.mbits() > 95.0, "{quiet:?}");
    // STARTUP's overshoot (gain 2.89 into a one-BDP queue) loses some; after it, none.
    assert!(quiet.queue_drops < 400, "{quiet:?}");
}
