//! The soak in small: a few thousand connections through a link that loses, duplicates
//! and reorders 10% of packets each. Every byte checked both ways, nothing stuck, nothing
//! left in either stack at the end, the tables no bigger late in the run than early.
use std::time::Duration;
use synack_core::{Config, Profile};
use synack_sim::soak::{run, SoakConfig};

fn soak(profile: Profile, seed: u64) {
    let cfg = SoakConfig {
        connections: 3000,
        concurrency: 200,
        profile,
        seed,
        ..SoakConfig::default()
    };
    let r = run(&cfg, |_| {});
    assert!(r.clean(&cfg), "{r:#?}");
    assert_eq!(r.corrupted, 0);
    assert_eq!(r.leaked, 0);
    // Loss makes some connections fail, but nearly all complete.
    assert!(r.completed >= 2970, "{r:#?}");
    assert!(r.bytes > 3000 * 2000, "payloads were checked: {}", r.bytes);
    // The faults happened: retransmissions on both sides.
    let retrans = |c: &[(&str, u64)]| {
        c.iter()
            .find(|(n, _)| *n == "TcpRetransSegs")
            .map(|x| x.1)
            .unwrap_or(0)
    };
    assert!(retrans(&r.client_counters) > 100 && retrans(&r.server_counters) > 100);
    // Flat: the connection tables at the last tenth are within the bound set by the
    // concurrency, not growing with the count. The client's TIME_WAITs are those of the
    // last 60 s: connect() walks the port range from where it last stopped (Linux's
    // table_perturb), so a port comes back — and its TIME_WAIT is reused — only once the
    // range has gone round; they never exceed the range.
    let last = r.checkpoints.last().unwrap();
    assert_eq!(r.checkpoints.len(), 10);
    assert!(last.client.connections <= 200 + 16 && last.server.connections <= 2 * 200 + 16);
    let (lo, hi) = Config::for_profile(cfg.profile).ip_local_port_range;
    assert!(
        last.client.time_wait <= usize::from(hi - lo) + 1,
        "TIME_WAIT beyond the port range: {:?}",
        last.client
    );
    assert!(r.sim_time > Duration::from_secs(60));
}

#[test]
fn three_thousand_connections_through_ten_percent_faults_linux() {
    soak(Profile::Linux, 1);
}

#[test]
fn three_thousand_connections_through_ten_percent_faults_seed() {
    soak(Profile::Seed, 2);
}

#[test]
fn the_soak_replays_exactly() {
    let cfg = SoakConfig {
        connections: 300,
        concurrency: 50,
        seed: 7,
        ..SoakConfig::default()
    };
    let a = run(&cfg, |_| {});
    let b = run(&cfg, |_| {});
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}
