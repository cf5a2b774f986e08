//! The soak in small: a few thousand connections through a link that loses, duplicates
//! and reorders 10% of packets each. Every byte checked both ways, nothing stuck, nothing
//! left in either stack at the end, the tables no bigger late in the run than early.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use synack_core::{Config, Errno, Profile, Shutdown, SockOpt, TcpState};
use synack_sim::soak::{run, SoakConfig};
use synack_sim::{LinkConfig, Match, Rule, Sim};

fn soak(profile: Profile, seed: u64, sets: &[(&str, &str)]) {
    let cfg = SoakConfig {
        connections: 3000,
        concurrency: 200,
        profile,
        seed,
        sets: sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..SoakConfig::default()
    };
    cfg.check().expect("known tunables");
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
    soak(Profile::Linux, 1, &[]);
}

/// BBR's paths — rate samples over a lossy, duplicating, reordering link, pacing timers
/// among thousands of connections — keep every byte and leave nothing behind.
#[test]
fn three_thousand_bbr_connections_through_ten_percent_faults() {
    soak(
        Profile::Linux,
        3,
        &[("net.ipv4.tcp_congestion_control", "bbr")],
    );
}

#[test]
fn a_soak_tunable_that_does_not_exist_is_an_error() {
    let cfg = SoakConfig {
        sets: vec![("net.ipv4.tcp_congestion_control".into(), "vegas".into())],
        ..SoakConfig::default()
    };
    assert!(cfg.check().is_err());
}

#[test]
fn three_thousand_connections_through_ten_percent_faults_seed() {
    soak(Profile::Seed, 2, &[]);
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

/// What the 10,000,000-connection soak met twice: the server's FIN lost on every one of
/// its transmissions. The server's orphan in LAST_ACK gives up after tcp_orphan_retries
/// without a RST; the client, half-closed with shutdown(), waits in FIN_WAIT_2 with no
/// time limit (as Linux does) — unless keepalive is on: its probe meets no socket, draws
/// a RST, and the read fails with ECONNRESET. The soak's clients use keepalive for this.
fn half_open(keepalive: bool) -> (Option<TcpState>, Result<usize, Errno>, Vec<u8>) {
    let mut sim = Sim::new(3);
    let client = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1));
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 0, 2)), 80);
    let c = sim.add_host("client", Config::linux(), &[client]);
    let s = sim.add_host("server", Config::linux(), &[server.ip()]);
    let link = LinkConfig::with_latency(Duration::from_millis(5));
    sim.add_link(c, s, link, link);
    sim.add_rule(Rule::drop("every server FIN", Some(s), None, Match::Fin));
    let l = sim.call(s, |st, now| {
        let l = st.socket(now).unwrap();
        st.bind(now, l, server).unwrap();
        st.listen(now, l, 16).unwrap();
        l
    });
    let fd = sim.call(c, |st, now| {
        let fd = st.socket(now).unwrap();
        if keepalive {
            st.setsockopt(now, fd, SockOpt::KeepAlive(true)).unwrap();
            st.setsockopt(now, fd, SockOpt::KeepIdle(300)).unwrap();
            st.setsockopt(now, fd, SockOpt::KeepIntvl(30)).unwrap();
        }
        assert_eq!(st.connect(now, fd, server), Err(Errno::EINPROGRESS));
        fd
    });
    sim.run_for(Duration::from_millis(100));
    sim.call(c, |st, now| {
        assert_eq!(st.write(now, fd, b"ping"), Ok(4));
        st.shutdown(now, fd, Shutdown::Write).unwrap();
    });
    sim.run_for(Duration::from_millis(100));
    // The server echoes and closes at EOF, as the soak's does (the close a little later,
    // so that its FIN leaves alone, not riding on the data).
    let a = sim.call(s, |st, now| {
        let (a, _) = st.accept(now, l).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(st.read(now, a, &mut buf), Ok(4));
        assert_eq!(st.read(now, a, &mut buf), Ok(0));
        assert_eq!(st.write(now, a, b"pong"), Ok(4));
        a
    });
    sim.run_for(Duration::from_millis(100));
    sim.call(s, |st, now| st.close(now, a).unwrap());
    sim.run_for(Duration::from_secs(200));
    // The orphan gave up (8 retransmissions: 102 s); the client still waits.
    assert_eq!(sim.stack(s).table_sizes().connections, 0);
    assert_eq!(sim.stack(s).table_sizes().orphans, 0);
    assert_eq!(sim.stack(c).state(fd), Ok(TcpState::FinWait2));
    sim.run_for(Duration::from_secs(1800));
    let mut got = vec![0u8; 16];
    let r = sim.call(c, |st, now| {
        let n = st.read(now, fd, &mut got).unwrap();
        got.truncate(n);
        st.read(now, fd, &mut [0u8; 16])
    });
    (sim.stack(c).state(fd).ok(), r, got)
}

#[test]
fn a_half_closed_client_whose_peer_gave_up_waits_until_keepalive_finds_it() {
    let (state, read, got) = half_open(false);
    assert_eq!(got, b"pong");
    assert_eq!(
        state,
        Some(TcpState::FinWait2),
        "no time limit after shutdown()"
    );
    assert_eq!(read, Err(Errno::EAGAIN));
    let (_, read, got) = half_open(true);
    assert_eq!(got, b"pong");
    assert_eq!(
        read,
        Err(Errno::ECONNRESET),
        "the keepalive probe drew a RST"
    );
}
