//! The simulator's links, rules, captures and determinism, and every scenario's verdict.
use std::net::SocketAddr;
use std::time::Duration;
use synack_core::{Config, EventKind, Profile, TcpState};
use synack_sim::scenarios::{self, at, Options, World, CLIENT, SERVER};
use synack_sim::view::Renderer;
use synack_sim::{LinkConfig, Match, Rule, Sim, SimEventKind};

fn world(link: LinkConfig) -> World {
    let mut sim = Sim::new(9);
    let config = Config::seed();
    let client = sim.add_host("client", config.clone(), &[CLIENT]);
    let server = sim.add_host("server", config.clone(), &[SERVER]);
    sim.add_link(client, server, link, link);
    World {
        sim,
        client,
        server,
        config,
    }
}

fn first_state(w: &World, h: synack_sim::HostId, to: TcpState) -> Option<synack_core::Instant> {
    w.transitions(h, None, to).first().copied()
}

#[test]
fn every_scenario_passes_in_both_profiles() {
    for profile in [Profile::Seed, Profile::Linux] {
        for s in scenarios::all() {
            let mut w = World::new(&Options {
                profile,
                ..Default::default()
            })
            .unwrap();
            let v = (s.run)(&mut w);
            assert!(v.pass, "{} ({profile:?}): {}", s.name, v.line);
        }
    }
}

#[test]
fn syn_lost_verdict_states_the_document_timings() {
    let mut w = World::new(&Options::default()).unwrap();
    let v = (scenarios::find("syn-lost").unwrap().run)(&mut w);
    assert_eq!(
        v.line,
        "connect() failed with ETIMEDOUT at 63 s after 6 SYNs (sent at 0, 1, 3, 7, 15, 31 s)"
    );
}

#[test]
fn set_changes_the_story() {
    let opts = Options {
        sets: vec![("net.ipv4.tcp_syn_retries".into(), "2".into())],
        ..Default::default()
    };
    let mut w = World::new(&opts).unwrap();
    let v = (scenarios::find("syn-lost").unwrap().run)(&mut w);
    assert!(
        v.line.contains("at 7 s after 3 SYNs (sent at 0, 1, 3 s)"),
        "{}",
        v.line
    );
    let bad = Options {
        sets: vec![("net.ipv4.tcp_syn_retries".into(), "300".into())],
        ..Default::default()
    };
    let err = World::new(&bad).err().unwrap();
    assert!(
        err.contains("tcp_syn_retries") && err.contains("300"),
        "{err}"
    );
}

#[test]
fn latency_and_bandwidth_are_exact() {
    let link = LinkConfig {
        latency: Duration::from_millis(10),
        bandwidth: 1_000_000,
        ..Default::default()
    };
    let mut w = world(link);
    w.listen(16);
    w.connect();
    w.sim.run_for(Duration::from_secs(1));
    // The SYN (60 bytes of IPv4+TCP with options) takes 480 µs to serialise at 1 Mbit/s.
    assert_eq!(
        first_state(&w, w.server, TcpState::SynRecv),
        Some(at(0.01048))
    );
}

#[test]
fn loss_rate_follows_the_setting() {
    let link = LinkConfig {
        latency: Duration::from_millis(1),
        loss: 0.2,
        ..Default::default()
    };
    let mut w = world(link);
    let l = w.listen(16);
    let c = w.connect();
    let (s, srv) = (w.server, w.client);
    w.sim.run_until_cond(at(60.0), |sim| {
        sim.stack(s).poll(l).is_ok_and(|r| r.readable)
    });
    let (fd, _) = w.sim.call(s, |st, now| st.accept(now, l)).unwrap();
    let data = vec![1u8; 2_000_000];
    let mut off = 0;
    let mut got = 0;
    let mut buf = vec![0u8; 65536];
    while got < data.len() {
        if off < data.len() {
            off += w
                .sim
                .call(srv, |st, now| st.write(now, c, &data[off..]))
                .unwrap_or(0);
        }
        w.sim.step(at(10_000.0));
        while let Ok(n) = w.sim.call(s, |st, now| st.read(now, fd, &mut buf)) {
            if n == 0 {
                break;
            }
            got += n;
        }
    }
    let sends = w
        .sim
        .events()
        .iter()
        .filter(|e| matches!(e.kind, SimEventKind::Stack(EventKind::Send(_))))
        .count();
    let lost = w
        .sim
        .events()
        .iter()
        .filter(|e| matches!(e.kind, SimEventKind::LinkDrop { .. }))
        .count();
    let rate = lost as f64 / sends as f64;
    assert!(
        (0.17..0.23).contains(&rate),
        "loss rate {rate} over {sends} segments"
    );
}

#[test]
fn duplication_and_reordering_happen_and_data_survives() {
    let link = LinkConfig {
        latency: Duration::from_millis(5),
        duplicate: 0.1,
        reorder: 0.2,
        ..Default::default()
    };
    let mut w = world(link);
    let l = w.listen(16);
    let c = w.connect();
    let s = w.server;
    let cl = w.client;
    w.sim.run_until_cond(at(60.0), |sim| {
        sim.stack(s).poll(l).is_ok_and(|r| r.readable)
    });
    let (fd, _) = w.sim.call(s, |st, now| st.accept(now, l)).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut off = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < data.len() {
        if off < data.len() {
            off += w
                .sim
                .call(cl, |st, now| st.write(now, c, &data[off..]))
                .unwrap_or(0);
        }
        assert!(w.sim.step(at(1000.0)));
        while let Ok(n) = w.sim.call(s, |st, now| st.read(now, fd, &mut buf)) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(got, data);
    let dups = w
        .sim
        .events()
        .iter()
        .filter(|e| matches!(e.kind, SimEventKind::Duplicated { .. }))
        .count();
    assert!(dups > 10);
    assert!(
        w.sim
            .stack(s)
            .counters()
            .get(synack_core::Counter::TcpOfoQueue)
            > 0,
        "reordering seen"
    );
}

#[test]
fn rules_nth_and_partition() {
    let mut w = world(LinkConfig::default());
    let (c, s) = (w.client, w.server);
    // Drop the 1st SYN only: the connection completes after one retransmission at 1 s.
    w.sim
        .add_rule(Rule::drop("drop the first SYN", Some(c), Some(s), Match::Syn).nth(1));
    w.listen(16);
    let fd = w.connect();
    w.sim.run_for(Duration::from_secs(5));
    assert_eq!(w.state(c, fd), TcpState::Established);
    assert_eq!(first_state(&w, c, TcpState::Established), Some(at(1.05)));
    // A partition from 10 s to 20 s: data written at 10 s arrives after it heals.
    w.sim.add_rule(Rule::partition(at(10.0), at(20.0)));
    w.run_until(10.0);
    w.sim.call(c, |st, now| st.write(now, fd, b"x")).unwrap();
    w.run_until(19.9);
    assert!(w
        .sim
        .stack(s)
        .sockets(w.sim.now())
        .iter()
        .filter(|x| x.state == TcpState::Established)
        .all(|x| x.recv_q == 0));
    w.run_until(40.0);
    assert!(w
        .sim
        .stack(s)
        .sockets(w.sim.now())
        .iter()
        .any(|x| x.state == TcpState::Established && x.recv_q == 1));
    let reasons: Vec<String> = w
        .sim
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            SimEventKind::LinkDrop { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons[0], "drop the first SYN");
    assert!(reasons[1..].iter().all(|r| r == "partition"));
}

fn json_of(seed: u64, name: &str) -> Vec<String> {
    let mut w = World::new(&Options {
        seed,
        ..Default::default()
    })
    .unwrap();
    w.sim
        .add_rule(Rule::drop("x", None, None, Match::Any).nth(3));
    (scenarios::find(name).unwrap().run)(&mut w);
    let mut r = Renderer::new(&w.sim);
    w.sim
        .events()
        .iter()
        .map(|e| r.json(e).to_string())
        .collect()
}

#[test]
fn same_seed_same_stream_different_seed_differs() {
    assert_eq!(json_of(1, "handshake"), json_of(1, "handshake"));
    assert_ne!(json_of(1, "handshake"), json_of(2, "handshake"));
}

#[test]
fn json_lines_carry_the_documented_fields() {
    for line in json_of(0, "handshake") {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(v["t_ms"].is_number() && v["host"].is_string(), "{line}");
        match v["event"].as_str().unwrap() {
            "send" | "recv" => {
                for k in ["flags", "seq", "ack", "len", "from", "to"] {
                    assert!(!v[k].is_null(), "{k} missing in {line}");
                }
            }
            "drop" => assert!(v["reason"].is_string()),
            "state" => assert!(v["from"].is_string() && v["to"].is_string()),
            "call" => assert!(v["call"].is_string() && v["result"].is_string()),
            "timer" => assert!(v["timer"].is_string()),
            other => panic!("unexpected event {other}"),
        }
    }
}

#[test]
fn pcaps_are_well_formed_and_tshark_reads_them_without_complaint() {
    let dir = std::env::temp_dir().join(format!("synack-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tshark = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok();
    if !tshark && std::env::var_os("CI").is_some() {
        panic!("tshark is required in CI (.ci/run installs it)");
    }
    for s in scenarios::all() {
        let mut w = World::new(&Options::default()).unwrap();
        w.sim.capture();
        (s.run)(&mut w);
        let p = w.sim.pcap(0).unwrap();
        let bytes = p.to_bytes();
        assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 101);
        assert!(!p.is_empty());
        let path = dir.join(format!("{}.pcap", s.name));
        p.write_to(&path).unwrap();
        if tshark {
            let out = std::process::Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args(["-Y", "_ws.malformed"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stdout.is_empty(),
                "{}: {}",
                s.name,
                String::from_utf8_lossy(&out.stdout)
            );
            let all = std::process::Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&all.stdout).lines().count(),
                p.len(),
                "{}",
                s.name
            );
        } else {
            eprintln!("skipping the tshark check: tshark is not installed");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = SocketAddr::new(CLIENT, 0);
}
