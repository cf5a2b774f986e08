//! Link behaviour with hand-made packets: latency, bandwidth, loss, duplication,
//! reordering, jitter, every rule kind and partitions.
mod util;
use std::time::Duration;
use synack_core::Instant;
use synack_sim::{Direction, LinkConfig, Match, Rule, SimEventKind};
use util::*;

fn lat(ms: u64) -> LinkConfig {
    LinkConfig::with_latency(Duration::from_millis(ms))
}

#[test]
fn latency_is_exact() {
    let mut n = net(1, lat(10));
    n.send_at(ms(0), &a_to_b(1, RST, b""));
    n.send_at(ms(1000), &a_to_b(2, RST, b""));
    n.send_at(us(1_234_567), &a_to_b(3, RST, b""));
    n.sim.run_until(ms(5000));
    assert_eq!(
        n.arrivals(),
        vec![(ms(10), 1), (ms(1010), 2), (us(1_244_567), 3)]
    );
}

#[test]
fn bandwidth_serialises_packets_in_a_fifo_queue() {
    // 1000-byte packets (40 header + 960 payload) at 1 Mbit/s take 8 ms each.
    let cfg = LinkConfig {
        bandwidth: 1_000_000,
        ..lat(10)
    };
    assert_eq!(cfg.serialisation(1000), Duration::from_millis(8));
    let mut n = net(1, cfg);
    for seq in 1..=3 {
        n.send_at(ms(0), &a_to_b(seq, RST, &[0u8; 960]));
    }
    // A fourth sent after the queue drained waits for nothing.
    n.send_at(ms(100), &a_to_b(4, RST, &[0u8; 960]));
    n.sim.run_until(ms(1000));
    assert_eq!(
        n.arrivals(),
        vec![(ms(18), 1), (ms(26), 2), (ms(34), 3), (ms(118), 4)]
    );
}

#[test]
fn loss_rate_is_within_bounds_over_10k_packets() {
    let mut n = net(
        42,
        LinkConfig {
            loss: 0.1,
            ..lat(1)
        },
    );
    for seq in 0..10_000 {
        n.send_at(
            Instant::from_micros(seq as u64 * 100),
            &a_to_b(seq, RST, b""),
        );
    }
    n.sim.run_until(ms(2000));
    let delivered = n.arrivals().len();
    let drops = n.drops();
    assert_eq!(delivered + drops.len(), 10_000);
    // Binomial(10000, 0.1): sd = 30; allow 5 sd.
    assert!((850..=1150).contains(&drops.len()), "{} lost", drops.len());
    assert!(drops.iter().all(|(_, r)| r == "loss"));
}

#[test]
fn duplication_delivers_twice_and_says_so() {
    let mut n = net(
        3,
        LinkConfig {
            duplicate: 0.2,
            ..lat(5)
        },
    );
    for seq in 0..1000 {
        n.send_at(ms(seq as u64), &a_to_b(seq, RST, b""));
    }
    n.sim.run_until(ms(2000));
    let arrivals = n.arrivals();
    let dups = n
        .sim
        .events_of(n.a)
        .filter(|e| matches!(e.kind, SimEventKind::Duplicated { .. }))
        .count();
    assert_eq!(arrivals.len(), 1000 + dups);
    assert!((120..=280).contains(&dups), "{dups} duplicates");
    // Both copies arrive at the same instant, after exactly the latency.
    for w in arrivals.windows(2) {
        if w[0].1 == w[1].1 {
            assert_eq!(w[0].0, w[1].0);
            assert_eq!(w[0].0, ms(w[0].1 as u64 + 5));
        }
    }
}

#[test]
fn reordering_lets_later_packets_overtake() {
    let mut n = net(
        5,
        LinkConfig {
            reorder: 0.3,
            ..lat(10)
        },
    );
    for seq in 0..500 {
        n.send_at(ms(seq as u64), &a_to_b(seq, RST, b""));
    }
    n.sim.run_until(ms(2000));
    let seqs: Vec<u32> = n.arrivals().iter().map(|a| a.1).collect();
    assert_eq!(seqs.len(), 500, "nothing lost");
    let inversions = seqs.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(inversions > 20, "{inversions} inversions");
    // A reordered packet is late by less than max(latency, 1 ms) on top of the latency.
    for (at, seq) in n.arrivals() {
        let sent = ms(seq as u64);
        assert!(at >= sent + Duration::from_millis(10) && at < sent + Duration::from_millis(20));
    }
}

#[test]
fn jitter_keeps_fifo_order() {
    let mut n = net(
        6,
        LinkConfig {
            jitter: Duration::from_millis(8),
            ..lat(10)
        },
    );
    for seq in 0..500 {
        n.send_at(ms(seq as u64), &a_to_b(seq, RST, b""));
    }
    n.sim.run_until(ms(2000));
    let arrivals = n.arrivals();
    let seqs: Vec<u32> = arrivals.iter().map(|a| a.1).collect();
    assert_eq!(seqs, (0..500).collect::<Vec<_>>());
    let delays: Vec<u64> = arrivals
        .iter()
        .map(|(at, seq)| at.as_micros() - *seq as u64 * 1000)
        .collect();
    assert!(delays.iter().all(|d| (10_000..18_000 + 8_000).contains(d)));
    assert!(delays.iter().any(|d| *d != delays[0]), "jitter varies");
}

/// Send one packet of each kind from A to B (seq 1..=6) and return the seqs dropped.
fn dropped_kinds(rule: Rule) -> Vec<(u32, String)> {
    let mut n = net(1, lat(1));
    n.sim.add_rule(rule);
    let kinds = [SYN, SYN | ACK, ACK, FIN | ACK, RST, PSH | ACK];
    for (i, f) in kinds.iter().enumerate() {
        let payload: &[u8] = if *f == PSH | ACK { b"data" } else { b"" };
        n.send_at(ms(i as u64 * 10), &a_to_b(i as u32 + 1, *f, payload));
    }
    n.sim.run_until(ms(1000));
    n.drops()
}

#[test]
fn each_flag_rule_matches_its_segments_only() {
    for (m, want) in [
        (Match::Syn, vec![1]),
        (Match::SynAck, vec![2]),
        (Match::PureAck, vec![3]),
        (Match::Fin, vec![4]),
        (Match::Rst, vec![5]),
        (Match::Data, vec![6]),
        (Match::Any, vec![1, 2, 3, 4, 5, 6]),
    ] {
        let drops = dropped_kinds(Rule::drop("r", None, None, m));
        let seqs: Vec<u32> = drops.iter().map(|d| d.0).collect();
        assert_eq!(seqs, want, "{m}");
        assert!(drops.iter().all(|d| d.1 == "rule: r"));
    }
    assert_eq!("syn-ack".parse::<Match>(), Ok(Match::SynAck));
    assert!("bogus".parse::<Match>().is_err());
}

#[test]
fn nth_rule_drops_only_the_nth_match_in_its_direction() {
    let mut n = net(1, lat(1));
    let (a, b) = (n.a, n.b);
    n.sim.add_rule(
        Rule::drop(
            "drop the 3rd segment from a to b",
            Some(a),
            Some(b),
            Match::Any,
        )
        .nth(3),
    );
    // A rule for the other direction never fires on A's packets.
    n.sim
        .add_rule(Rule::new("b to a", Direction::OneWay(b, a), Match::Any));
    for seq in 1..=5 {
        n.send_at(ms(seq as u64), &a_to_b(seq, RST, b""));
    }
    n.sim.run_until(ms(100));
    assert_eq!(
        n.drops(),
        vec![(3, "rule: drop the 3rd segment from a to b".into())]
    );
    assert_eq!(n.arrivals().len(), 4);
}

#[test]
fn direction_between_matches_both_ways() {
    let mut n = net(1, lat(1));
    let (a, b) = (n.a, n.b);
    n.sim
        .add_rule(Rule::new("both", Direction::Between(b, a), Match::Rst));
    n.send_at(ms(0), &a_to_b(1, RST, b""));
    n.sim.inject(b, &packet(B, A, 2000, 1000, 9, 0, RST, b""));
    n.sim.run_until(ms(100));
    let all_drops = n
        .sim
        .events()
        .iter()
        .filter(|e| matches!(e.kind, SimEventKind::LinkDrop { .. }))
        .count();
    assert_eq!(all_drops, 2);
}

#[test]
fn time_window_rule_and_partition() {
    let mut n = net(1, lat(1));
    n.sim.add_rule(
        Rule::drop("only in [1 s, 2 s)", None, None, Match::Syn).during(ms(1000), ms(2000)),
    );
    n.sim.add_rule(Rule::partition(ms(5000), ms(9000)));
    for s in 0..12u32 {
        n.send_at(ms(s as u64 * 1000), &a_to_b(s, RST, b""));
        n.send_at(ms(s as u64 * 1000 + 500), &a_to_b(100 + s, SYN, b""));
    }
    n.sim.run_until(ms(20_000));
    let drops = n.drops();
    let rule: Vec<u32> = drops
        .iter()
        .filter(|d| d.1.starts_with("rule"))
        .map(|d| d.0)
        .collect();
    assert_eq!(rule, vec![101]);
    let part: Vec<u32> = drops
        .iter()
        .filter(|d| d.1 == "partition")
        .map(|d| d.0)
        .collect();
    assert_eq!(part, vec![5, 105, 6, 106, 7, 107, 8, 108]);
    assert_eq!(drops.len(), 9);
}

#[test]
fn delay_rule_holds_packets_back() {
    let mut n = net(1, lat(10));
    n.sim
        .add_rule(Rule::drop("hold FINs", None, None, Match::Fin).delay(Duration::from_secs(2)));
    n.send_at(ms(0), &a_to_b(1, FIN | ACK, b""));
    n.send_at(ms(1), &a_to_b(2, RST, b""));
    n.sim.run_until(ms(5000));
    assert_eq!(n.arrivals(), vec![(ms(11), 2), (ms(2010), 1)]);
    assert!(n.sim.events_of(n.a).any(
        |e| matches!(&e.kind, SimEventKind::Delayed { by, .. } if *by == Duration::from_secs(2))
    ));
}

#[test]
fn unroutable_and_unparseable_packets_are_reported_not_fatal() {
    let mut n = net(1, lat(1));
    n.sim
        .inject(n.a, &packet(A, [10, 9, 9, 9], 1, 2, 0, 0, RST, b""));
    n.sim.inject(n.a, b"\x45garbage");
    n.sim.inject(n.a, b"");
    n.sim.run_until(ms(100));
    let reasons: Vec<String> = n.drops().into_iter().map(|d| d.1).collect();
    assert_eq!(reasons, vec!["no route"]);
    let unparsed = n
        .sim
        .events_of(n.a)
        .filter(|e| matches!(e.kind, SimEventKind::LinkDrop { seg: None, .. }))
        .count();
    assert_eq!(unparsed, 2);
}
