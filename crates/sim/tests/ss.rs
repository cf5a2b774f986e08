//! Socket tables taken during a run: they change nothing, and they show what the story
//! says.
use synack_core::{Instant, TcpState};
use synack_sim::scenarios::{self, Options};
use synack_sim::ss::{self, SockKind, SsOptions};

#[test]
fn snapshots_do_not_change_the_run() {
    let o = Options::default();
    for name in ["handshake", "accept-queue-overflow", "fin-wait-2-timeout"] {
        let (plain, v1) = scenarios::run(name, &o).unwrap();
        let (mut seen, v2) = scenarios::run_with(name, &o, |w| {
            for ms in [0, 30, 100, 1_000, 5_000, 61_000] {
                w.sim.snapshot_at(Instant::from_millis(ms));
            }
        })
        .unwrap();
        seen.sim.take_due_snapshots();
        assert_eq!(v1, v2, "{name}");
        assert_eq!(plain.sim.events(), seen.sim.events(), "{name}");
        assert_eq!(plain.sim.now(), seen.sim.now(), "{name}");
        let at: Vec<_> = seen.sim.snapshots().iter().map(|s| s.at).collect();
        assert!(at.windows(2).all(|w| w[0] <= w[1]), "{name}: {at:?}");
        // Each table sits after every event of its moment and before every later one.
        for s in seen.sim.snapshots() {
            let ev = seen.sim.events();
            assert!(ev[..s.events].iter().all(|e| e.at <= s.at), "{name}");
            assert!(ev[s.events..].iter().all(|e| e.at > s.at), "{name}");
        }
    }
}

#[test]
fn accept_queue_overflow_as_ss_shows_it() {
    let (w, _) = scenarios::run_with("accept-queue-overflow", &Options::default(), |w| {
        w.sim.snapshot_at(Instant::from_secs(1))
    })
    .unwrap();
    let snap = &w.sim.snapshots()[0];
    let server = &snap.hosts[w.server.0];
    let l = &server[0];
    assert_eq!(
        (l.kind, l.info.recv_q, l.info.send_q),
        (SockKind::Listener, 3, 2)
    );
    let reqs = server
        .iter()
        .filter(|r| r.kind == SockKind::Request)
        .count();
    let full = server
        .iter()
        .filter(|r| r.kind == SockKind::Full && r.info.state == TcpState::Established)
        .count();
    assert_eq!((reqs, full), (2, 3));
    assert!(server
        .iter()
        .filter(|r| r.kind == SockKind::Full)
        .all(|r| r.tcp_info.is_some()));
    let t = ss::ss_table(server, &SsOptions::parse("-tano").unwrap());
    assert!(
        t.starts_with(
            "State    Recv-Q Send-Q Local Address:Port Peer Address:Port Process            \n\
         LISTEN   3      2           10.0.0.2:80        0.0.0.0:*                       \n\
         SYN-RECV 0      0           10.0.0.2:80       10.0.0.1:"
        ),
        "{t}"
    );
}

#[test]
fn time_wait_records_are_timewait_rows() {
    let (w, _) = scenarios::run_with("handshake", &Options::default(), |w| {
        w.sim.snapshot_at(Instant::from_secs(1))
    })
    .unwrap();
    let client = &w.sim.snapshots()[0].hosts[w.client.0];
    assert_eq!(client.len(), 1);
    assert_eq!(client[0].kind, SockKind::TimeWait);
    assert_eq!(client[0].info.state, TcpState::TimeWait);
    let t = ss::ss_table(client, &SsOptions::parse("-tanoei").unwrap());
    assert!(
        t.contains(" timer:(timewait,59sec,0) ino:0 sk:1\n\t"),
        "{t}"
    );
}
