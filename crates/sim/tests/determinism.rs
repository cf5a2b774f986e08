//! One seed, one history: the same seed replays byte for byte; another seed changes the
//! random faults.
mod util;
use std::time::Duration;
use synack_sim::scenarios::{self, Options, World};
use synack_sim::view::Renderer;
use synack_sim::LinkConfig;
use util::*;

/// The handshake story over a lossy, jittery, duplicating, reordering link, as JSON lines
/// and as the timeline.
fn stream(seed: u64) -> (Vec<String>, Vec<String>) {
    let mut w = World::new(&Options {
        seed,
        ..Default::default()
    })
    .unwrap();
    let rough = LinkConfig {
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.1,
        jitter: Duration::from_millis(5),
        ..LinkConfig::default()
    };
    let (c, s, l) = (w.client, w.server, w.link);
    w.sim.set_link(l, c, rough);
    w.sim.set_link(l, s, rough);
    let story = scenarios::find("handshake").unwrap();
    (story.run)(&mut w);
    let mut r = Renderer::new(&w.sim);
    let json = w
        .sim
        .events()
        .iter()
        .map(|e| r.json(e).to_string())
        .collect();
    let mut r = Renderer::new(&w.sim);
    (json, r.lines(w.sim.events()))
}

#[test]
fn same_seed_gives_an_identical_event_stream() {
    let (a, at) = stream(7);
    let (b, bt) = stream(7);
    assert!(a.len() > 20);
    assert_eq!(a, b);
    assert_eq!(at, bt);
}

fn drop_pattern(seed: u64) -> Vec<u32> {
    let mut n = net(
        seed,
        LinkConfig {
            loss: 0.5,
            ..LinkConfig::default()
        },
    );
    for seq in 0..200 {
        n.send_at(ms(seq as u64), &a_to_b(seq, RST, b""));
    }
    n.sim.run_until(ms(1000));
    n.drops().into_iter().map(|d| d.0).collect()
}

#[test]
fn different_seed_gives_a_different_drop_pattern() {
    assert_eq!(drop_pattern(1), drop_pattern(1));
    assert_ne!(drop_pattern(1), drop_pattern(2));
    assert_ne!(drop_pattern(2), drop_pattern(3));
}

#[test]
fn links_draw_from_independent_streams() {
    // Adding a second, busy link must not change what happens on the first.
    let base = drop_pattern(9);
    let mut n = net(
        9,
        LinkConfig {
            loss: 0.5,
            ..LinkConfig::default()
        },
    );
    let c = n.sim.add_host(
        "c",
        synack_core::Config::seed(),
        &["10.0.0.3".parse().unwrap()],
    );
    n.sim.add_link(
        n.b,
        c,
        LinkConfig {
            loss: 0.5,
            ..LinkConfig::default()
        },
        LinkConfig::default(),
    );
    for seq in 0..200 {
        n.sim.run_until(ms(seq as u64));
        n.sim
            .inject(n.b, &packet(B, [10, 0, 0, 3], 5, 6, seq, 0, RST, b""));
        n.sim.inject(n.a, &a_to_b(seq, RST, b""));
    }
    n.sim.run_until(ms(1000));
    let first: Vec<u32> = n.drops().into_iter().map(|d| d.0).collect();
    assert_eq!(first, base);
}
