//! Two stacks on a simulated link: the document's stories with Linux's exact timings.
mod common;
use common::*;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::Duration;
use synack_core::wire::TcpFlags;
use synack_core::*;

fn is_syn(s: &Seen) -> bool {
    s.flags.syn() && !s.flags.ack()
}
fn is_synack(s: &Seen) -> bool {
    s.flags.syn() && s.flags.ack()
}
fn secs(v: &[&Seen]) -> Vec<f64> {
    v.iter()
        .map(|s| (s.at.as_micros() as f64 / 1e3).round() / 1e3)
        .collect()
}

fn state_changes(st: &mut Stack) -> Vec<(Instant, TcpState, TcpState)> {
    st.drain_events()
        .filter_map(|e| match e.kind {
            EventKind::State { from, to, .. } => Some((e.at, from, to)),
            _ => None,
        })
        .collect()
}

#[test]
fn handshake_request_reply_close_and_time_wait() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, s) = p.establish();
    // The handshake took one RTT for the client, 1.5 for the server.
    assert_eq!(p.sent(true).iter().filter(|x| is_syn(x)).count(), 1);
    p.a.write(p.now, c, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    p.run_for(Duration::from_millis(100));
    let (req, _) = read_all(&mut p.b, p.now, s);
    assert_eq!(req, b"GET / HTTP/1.0\r\n\r\n");
    p.b.write(p.now, s, b"HTTP/1.0 200 OK\r\n\r\nhello")
        .unwrap();
    p.run_for(Duration::from_millis(100));
    let (resp, r) = read_all(&mut p.a, p.now, c);
    assert_eq!(resp, b"HTTP/1.0 200 OK\r\n\r\nhello");
    assert_eq!(r, Err(Errno::EAGAIN));

    // Four-way close, client first.
    p.a.close(p.now, c).unwrap();
    let closed_at = p.now;
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.b.state(s), Ok(TcpState::CloseWait));
    assert_eq!(read_all(&mut p.b, p.now, s).1, Ok(0), "EOF after the FIN");
    p.b.close(p.now, s).unwrap();
    p.run_for(Duration::from_millis(100));
    let tw = p.a.sockets(p.now);
    assert_eq!(tw.len(), 1);
    assert_eq!(tw[0].state, TcpState::TimeWait);
    assert_eq!(
        p.b.table_sizes().connections,
        0,
        "LAST_ACK ended with the ACK"
    );
    // TIME_WAIT lasts 60 s from the moment the FIN arrived.
    let changes = state_changes(&mut p.a);
    let entered = changes
        .iter()
        .find(|c| c.2 == TcpState::TimeWait)
        .unwrap()
        .0;
    assert!(entered > closed_at);
    p.run_until(entered + Duration::from_secs(60) - Duration::from_millis(1));
    assert_eq!(p.a.table_sizes().time_wait, 1);
    p.run_until(entered + Duration::from_secs(60));
    assert_eq!(p.a.table_sizes(), TableSizes::default());
    let closed = state_changes(&mut p.a);
    assert_eq!(
        closed,
        vec![(
            entered + Duration::from_secs(60),
            TcpState::TimeWait,
            TcpState::Closed
        )]
    );
    assert_eq!(p.a.counters().get(Counter::TimeWaited), 1);
}

#[test]
fn syn_lost_gives_up_after_63_seconds() {
    let mut p = Pair::new(Config::seed());
    p.filter = Some(Box::new(is_syn));
    let c = p.a.socket(p.now).unwrap();
    assert_eq!(
        p.a.connect(p.now, c, SocketAddr::new(B, 80)),
        Err(Errno::EINPROGRESS)
    );
    p.run_until(t(62.999));
    assert_eq!(p.a.state(c), Ok(TcpState::SynSent));
    p.run_until(t(63.0));
    assert_eq!(p.a.state(c), Ok(TcpState::Closed));
    assert_eq!(secs(&p.sent(true)), vec![0.0, 1.0, 3.0, 7.0, 15.0, 31.0]);
    assert_eq!(
        p.a.getsockopt(c, SockOptName::Error),
        Ok(SockOpt::Error(Some(Errno::ETIMEDOUT)))
    );
    assert_eq!(p.a.counters().get(Counter::AttemptFails), 1);
    assert_eq!(p.a.counters().get(Counter::TcpSynRetrans), 5);
}

#[test]
fn syn_lost_linux_profile_linear_then_doubling() {
    let mut p = Pair::new(Config::linux());
    p.filter = Some(Box::new(is_syn));
    let c = p.a.socket(p.now).unwrap();
    let _ = p.a.connect(p.now, c, SocketAddr::new(B, 80));
    p.run_until(t(200.0));
    assert_eq!(
        secs(&p.sent(true)),
        vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0]
    );
    let fail = p.a.drain_events().find_map(|e| match e.kind {
        EventKind::State {
            to: TcpState::Closed,
            ..
        } => Some(e.at),
        _ => None,
    });
    assert_eq!(fail, Some(t(131.0)));
}

#[test]
fn tcp_syncnt_and_linear_timeouts_match_packetdrill() {
    // seed/syn_retries.pkt: TCP_SYNCNT 2, linear 0: SYNs at 0, 1, 3; ETIMEDOUT at 7.
    // seed/syn_retries_linear.pkt: TCP_SYNCNT 1, linear 4: SYNs at 0, 1, 2; ETIMEDOUT at 3.
    for (syncnt, linear, times, fail) in [
        (2u8, 0u8, vec![0.0, 1.0, 3.0], 7.0),
        (1, 4, vec![0.0, 1.0, 2.0], 3.0),
    ] {
        let mut cfg = Config::linux();
        cfg.tcp_syn_linear_timeouts = linear;
        let mut p = Pair::new(cfg);
        p.filter = Some(Box::new(is_syn));
        let c = p.a.socket(p.now).unwrap();
        p.a.setsockopt(p.now, c, SockOpt::SynCnt(syncnt)).unwrap();
        let _ = p.a.connect(p.now, c, SocketAddr::new(B, 80));
        p.run_until(t(fail - 0.001));
        assert_eq!(p.a.state(c), Ok(TcpState::SynSent));
        p.run_until(t(fail));
        assert_eq!(p.a.state(c), Ok(TcpState::Closed));
        assert_eq!(secs(&p.sent(true)), times);
    }
}

/// The server's SYN-ACK timer as the document and `reqsk_timer_handler` describe it:
/// doubling from 1 s per timeout, restarted (same count) by every retransmitted SYN.
fn model_synacks(syn_arrivals: &[f64], retries: u32, until: f64) -> (Vec<f64>, Option<f64>) {
    let mut sent = vec![syn_arrivals[0]];
    let mut nt = 0u32;
    let mut deadline = syn_arrivals[0] + 1.0;
    let mut next_syn = 1;
    loop {
        let syn = syn_arrivals.get(next_syn).copied().unwrap_or(f64::MAX);
        if syn.min(deadline) > until {
            return (sent, None);
        }
        if syn <= deadline {
            sent.push(syn);
            deadline = syn + (1u64 << nt) as f64;
            next_syn += 1;
        } else {
            if nt >= retries {
                return (sent, Some(deadline));
            }
            sent.push(deadline);
            nt += 1;
            deadline += (1u64 << nt) as f64;
        }
    }
}

#[test]
fn synack_lost_both_sides_retry() {
    let mut p = Pair::new(Config::seed());
    p.filter = Some(Box::new(is_synack));
    let l = p.b.socket(p.now).unwrap();
    p.b.bind(p.now, l, SocketAddr::new(B, 80)).unwrap();
    p.b.listen(p.now, l, 128).unwrap();
    let c = p.a.socket(p.now).unwrap();
    let _ = p.a.connect(p.now, c, SocketAddr::new(B, 80));
    p.run_until(t(200.0));
    let syns = secs(&p.sent(true));
    assert_eq!(syns, vec![0.0, 1.0, 3.0, 7.0, 15.0, 31.0]);
    let arrivals: Vec<f64> = syns.iter().map(|s| s + 0.025).collect();
    let (expected, dropped_at) = model_synacks(&arrivals, 5, 200.0);
    let synacks = secs(&p.sent(false));
    let round = |v: Vec<f64>| {
        v.into_iter()
            .map(|x| (x * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(synacks, round(expected));
    assert!(dropped_at.is_some());
    assert_eq!(
        p.a.getsockopt(c, SockOptName::Error),
        Ok(SockOpt::Error(Some(Errno::ETIMEDOUT)))
    );
    assert_eq!(p.b.table_sizes().requests, 0);
}

#[test]
fn third_ack_lost_server_gives_up_client_established_then_reset() {
    let mut p = Pair::new(Config::seed());
    // Every pure ACK from the client is lost.
    p.filter = Some(Box::new(|s: &Seen| {
        s.from_a && s.flags == TcpFlags::ACK && s.len == 0
    }));
    let l = p.b.socket(p.now).unwrap();
    p.b.bind(p.now, l, SocketAddr::new(B, 80)).unwrap();
    p.b.listen(p.now, l, 128).unwrap();
    let c = p.a.socket(p.now).unwrap();
    let _ = p.a.connect(p.now, c, SocketAddr::new(B, 80));
    p.run_until(t(69.0));
    assert_eq!(p.a.state(c), Ok(TcpState::Established));
    assert_eq!(
        secs(&p.sent(false)),
        vec![0.025, 1.025, 3.025, 7.025, 15.025, 31.025]
    );
    assert_eq!(p.b.table_sizes().requests, 0, "dropped at 63.025 s");
    assert_eq!(p.b.accept(p.now, l), Err(Errno::EAGAIN));
    // Now the client speaks: the server has forgotten it and resets.
    p.a.write(p.now, c, b"hello").unwrap();
    p.run_for(Duration::from_secs(1));
    assert_eq!(read_all(&mut p.a, p.now, c).1, Err(Errno::ECONNRESET));
    assert_eq!(p.a.state(c), Ok(TcpState::Closed));
    let rst = p.sent(false).into_iter().last().unwrap().clone();
    assert!(rst.flags.rst());
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, s) = p.establish();
    state_changes(&mut p.a);
    state_changes(&mut p.b);
    p.a.close(p.now, c).unwrap();
    p.b.close(p.now, s).unwrap();
    p.run_for(Duration::from_secs(1));
    for st in [&mut p.a, &mut p.b] {
        let seq: Vec<TcpState> = state_changes(st).into_iter().map(|c| c.2).collect();
        assert_eq!(
            seq,
            vec![TcpState::FinWait1, TcpState::Closing, TcpState::TimeWait]
        );
        assert_eq!(st.table_sizes().time_wait, 1);
    }
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.a.table_sizes(), TableSizes::default());
    assert_eq!(
        p.b.table_sizes(),
        TableSizes {
            listeners: 1,
            ..Default::default()
        }
    );
}

#[test]
fn simultaneous_open_both_syn_received() {
    let mut p = Pair::new(Config::seed());
    let x = p.a.socket(p.now).unwrap();
    let y = p.b.socket(p.now).unwrap();
    p.a.bind(p.now, x, SocketAddr::new(A, 5000)).unwrap();
    p.b.bind(p.now, y, SocketAddr::new(B, 6000)).unwrap();
    assert_eq!(
        p.a.connect(p.now, x, SocketAddr::new(B, 6000)),
        Err(Errno::EINPROGRESS)
    );
    assert_eq!(
        p.b.connect(p.now, y, SocketAddr::new(A, 5000)),
        Err(Errno::EINPROGRESS)
    );
    p.run_for(Duration::from_secs(1));
    for st in [&mut p.a, &mut p.b] {
        let seq: Vec<TcpState> = state_changes(st).into_iter().map(|c| c.2).collect();
        assert_eq!(
            seq,
            vec![TcpState::SynSent, TcpState::SynRecv, TcpState::Established]
        );
    }
    p.a.write(p.now, x, b"ping").unwrap();
    p.b.write(p.now, y, b"pong").unwrap();
    p.run_for(Duration::from_secs(1));
    assert_eq!(read_all(&mut p.b, p.now, y).0, b"ping");
    assert_eq!(read_all(&mut p.a, p.now, x).0, b"pong");
    // SYN, SYN-ACK, ACK from each side; no retransmission.
    assert_eq!(p.a.counters().get(Counter::RetransSegs), 0);
}

#[test]
fn close_with_unread_data_sends_rst() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, s) = p.establish();
    p.a.write(p.now, c, b"unread").unwrap();
    p.run_for(Duration::from_millis(100));
    p.b.close(p.now, s).unwrap();
    p.run_for(Duration::from_millis(100));
    let last = p.sent(false).into_iter().last().unwrap().clone();
    assert_eq!(last.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(p.b.counters().get(Counter::TcpAbortOnClose), 1);
    assert_eq!(read_all(&mut p.a, p.now, c).1, Err(Errno::ECONNRESET));
    assert_eq!(
        p.b.table_sizes(),
        TableSizes {
            listeners: 1,
            ..Default::default()
        }
    );
}

#[test]
fn linger_zero_resets_and_skips_time_wait() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, _s) = p.establish();
    p.a.setsockopt(p.now, c, SockOpt::Linger(Some(0))).unwrap();
    p.a.close(p.now, c).unwrap();
    p.run_for(Duration::from_millis(100));
    let last = p.sent(true).into_iter().last().unwrap().clone();
    assert!(last.flags.rst());
    assert_eq!(p.a.table_sizes(), TableSizes::default(), "no TIME_WAIT");
}

#[test]
fn half_close_keeps_receiving_and_fin_wait2_lasts() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, s) = p.establish();
    p.a.shutdown(p.now, c, Shutdown::Write).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.state(c), Ok(TcpState::FinWait2));
    assert_eq!(read_all(&mut p.b, p.now, s).1, Ok(0));
    assert_eq!(p.a.write(p.now, c, b"x"), Err(Errno::EPIPE));
    p.run_for(Duration::from_secs(1000));
    assert_eq!(
        p.a.state(c),
        Ok(TcpState::FinWait2),
        "after shutdown() FIN_WAIT_2 is indefinite"
    );
    p.b.write(p.now, s, b"still talking").unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(read_all(&mut p.a, p.now, c).0, b"still talking");
    p.b.close(p.now, s).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.table_sizes().time_wait, 1);
}

#[test]
fn orphaned_fin_wait2_times_out_then_resets() {
    let mut cfg = Config::seed();
    cfg.tcp_fin_timeout = Duration::from_secs(2);
    let mut p = Pair::new(cfg);
    let (c, _l, s) = p.establish();
    p.a.close(p.now, c).unwrap();
    p.run_for(Duration::from_millis(100));
    let socks = p.a.sockets(p.now);
    assert_eq!(socks.len(), 1);
    assert_eq!(socks[0].state, TcpState::FinWait2);
    assert_eq!(
        p.a.table_sizes().connections,
        0,
        "a compact record, not a TCB"
    );
    p.run_for(Duration::from_secs(3));
    assert_eq!(p.a.table_sizes(), TableSizes::default());
    p.b.write(p.now, s, b"late").unwrap();
    p.run_for(Duration::from_millis(100));
    assert!(p.sent(true).into_iter().last().unwrap().flags.rst());
    // The FIN came first, so reads see EOF; the RST leaves EPIPE for writers.
    assert_eq!(read_all(&mut p.b, p.now, s).1, Ok(0));
    assert_eq!(p.b.write(p.now, s, b"more"), Err(Errno::EPIPE));
}

#[test]
fn close_wait_lasts_until_close() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, s) = p.establish();
    p.a.close(p.now, c).unwrap();
    p.run_for(Duration::from_secs(3600));
    assert_eq!(p.b.state(s), Ok(TcpState::CloseWait));
    p.b.close(p.now, s).unwrap();
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.b.table_sizes().connections, 0);
}

#[test]
fn keepalive_probes_then_reset() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, s) = p.establish();
    p.b.setsockopt(p.now, s, SockOpt::KeepIdle(10)).unwrap();
    p.b.setsockopt(p.now, s, SockOpt::KeepIntvl(2)).unwrap();
    p.b.setsockopt(p.now, s, SockOpt::KeepCnt(3)).unwrap();
    p.b.setsockopt(p.now, s, SockOpt::KeepAlive(true)).unwrap();
    let start = p.now;
    // The client answers the first probe, then vanishes.
    p.run_for(Duration::from_secs(11));
    assert_eq!(p.b.counters().get(Counter::TcpKeepAlive), 1);
    assert_eq!(p.b.state(s), Ok(TcpState::Established));
    p.filter = Some(Box::new(|s: &Seen| s.from_a));
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.b.state(s), Ok(TcpState::Closed));
    assert_eq!(read_all(&mut p.b, p.now, s).1, Err(Errno::ETIMEDOUT));
    let probes: Vec<f64> = p
        .sent(false)
        .iter()
        .filter(|x| x.len == 0 && x.flags == TcpFlags::ACK && x.at > start)
        .map(|x| (x.at - start).as_secs_f64())
        .collect();
    // Probe at idle (10 s), answered; next idle period ends 10 s after the answer,
    // then every 2 s; the 4th period resets.
    assert_eq!(probes.len(), 4, "{probes:?}");
    assert!((probes[0] - 10.0).abs() < 0.01);
    let _ = c;
}

#[test]
fn zero_window_holds_fin_in_fin_wait1() {
    let mut cfg = Config::seed();
    cfg.tcp_rmem = [4096, 8192, 8192];
    let mut p = Pair::new(cfg);
    let (c, _l, s) = p.establish();
    let data = vec![7u8; 64 * 1024];
    let mut sent = 0;
    while sent < data.len() {
        match p.a.write(p.now, c, &data[sent..]) {
            Ok(n) => sent += n,
            Err(Errno::EAGAIN) => p.run_for(Duration::from_millis(50)),
            Err(e) => panic!("{e}"),
        }
        if p.now > t(30.0) {
            break;
        }
    }
    p.a.close(p.now, c).unwrap();
    p.run_for(Duration::from_secs(20));
    let states: Vec<TcpState> = p.a.sockets(p.now).iter().map(|x| x.state).collect();
    assert_eq!(
        states,
        vec![TcpState::FinWait1],
        "the FIN waits behind the zero window"
    );
    assert!(p.a.counters().get(Counter::TcpWinProbe) > 0);
    // The application reads: the window opens, the data and then the FIN go out.
    let mut got = 0;
    for _ in 0..400 {
        got += read_all(&mut p.b, p.now, s).0.len();
        p.run_for(Duration::from_millis(200));
    }
    assert_eq!(got, sent);
    assert_eq!(read_all(&mut p.b, p.now, s).1, Ok(0));
}

#[test]
fn retries2_gives_up_after_about_924_seconds() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, _s) = p.establish();
    p.filter = Some(Box::new(|s: &Seen| s.from_a));
    let start = p.now;
    p.a.write(p.now, c, b"into the void").unwrap();
    p.run_for(Duration::from_secs(2000));
    assert_eq!(read_all(&mut p.a, p.now, c).1, Err(Errno::ETIMEDOUT));
    let ended =
        p.a.drain_events()
            .find_map(|e| {
                matches!(
                    e.kind,
                    EventKind::State {
                        to: TcpState::Closed,
                        ..
                    }
                )
                .then_some(e.at)
            })
            .unwrap();
    let took = (ended - start).as_secs_f64();
    assert!((924.6..924.6 + 120.0).contains(&took), "{took}");
    assert_eq!(p.a.counters().get(Counter::TcpAbortOnTimeout), 1);
}

/// A byte stream anyone can regenerate from the offset.
fn byte(i: u64) -> u8 {
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 37) as u8
}

fn gen(off: usize, out: &mut [u8]) {
    for (k, b) in out.iter_mut().enumerate() {
        *b = byte((off + k) as u64);
    }
}

/// Move `total` bytes from one side to the other; both ends hash what they saw.
fn transfer(p: &mut Pair, from_a: bool, src_fd: Fd, dst_fd: Fd, total: usize) {
    let (mut sent, mut got) = (0usize, 0usize);
    let (mut hs, mut hr) = (Sha256::new(), Sha256::new());
    let mut chunk = vec![0u8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let limit = p.now + Duration::from_secs(100_000);
    while got < total {
        while sent < total {
            let n = chunk.len().min(total - sent);
            gen(sent, &mut chunk[..n]);
            let src = if from_a { &mut p.a } else { &mut p.b };
            match src.write(p.now, src_fd, &chunk[..n]) {
                Ok(k) => {
                    hs.update(&chunk[..k]);
                    sent += k;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        assert!(p.step(limit), "transfer stalled at {got} of {total}");
        let dst = if from_a { &mut p.b } else { &mut p.a };
        while let Ok(k) = dst.read(p.now, dst_fd, &mut buf) {
            if k == 0 {
                break;
            }
            hr.update(&buf[..k]);
            got += k;
        }
    }
    assert_eq!(got, total);
    assert_eq!(hs.finalize(), hr.finalize(), "byte-exact");
}

#[test]
fn hundred_megabytes_each_way_over_a_lossy_reordering_duplicating_link() {
    let mut p = Pair::new(Config::seed());
    p.stream = Some(byte);
    let (c, _l, s) = p.establish();
    p.keep_log = false;
    p.faults = Faults {
        loss: 0.05,
        dup: 0.02,
        reorder: 0.05,
    };
    transfer(&mut p, true, c, s, 100 << 20);
    transfer(&mut p, false, s, c, 100 << 20);
    // Receive-buffer auto-tuning grew both receivers' buffers, within tcp_rmem[2].
    for (st, fd) in [(&mut p.b, s), (&mut p.a, c)] {
        let Ok(SockOpt::RcvBuf(b)) = st.getsockopt(fd, SockOptName::RcvBuf) else {
            panic!("SO_RCVBUF")
        };
        assert!(b > 131_072 && b <= 6_291_456, "{b}");
    }
    assert!(p.a.counters().get(Counter::RetransSegs) > 0);
    assert!(p.b.counters().get(Counter::RetransSegs) > 0);
    // Both close cleanly afterwards.
    p.faults = Faults::default();
    p.a.close(p.now, c).unwrap();
    p.b.close(p.now, s).unwrap();
    p.run_for(Duration::from_secs(200));
    assert_eq!(p.a.table_sizes(), TableSizes::default());
    assert_eq!(
        p.b.table_sizes(),
        TableSizes {
            listeners: 1,
            ..Default::default()
        }
    );
}

#[test]
fn same_seed_same_events_different_seed_different_isn() {
    let run = |seed: u64| {
        let mut cfg = Config::seed();
        cfg.seed = seed;
        let mut p = Pair::new(cfg);
        p.faults = Faults {
            loss: 0.1,
            dup: 0.05,
            reorder: 0.1,
        };
        let (c, _l, s) = p.establish();
        transfer(&mut p, true, c, s, 200_000);
        let ev: Vec<String> =
            p.a.drain_events()
                .chain(p.b.drain_events())
                .map(|e| format!("{e:?}"))
                .collect();
        (
            ev,
            p.log.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>(),
        )
    };
    let (e1, l1) = run(1);
    let (e2, l2) = run(1);
    assert_eq!(e1, e2);
    assert_eq!(l1, l2);
    let (e3, _) = run(2);
    assert_ne!(e1, e3);
}

#[test]
fn ephemeral_ports_run_out() {
    let mut cfg = Config::seed();
    // Four ports (Linux tries an even number: of 40000..=40002 only two would be used).
    cfg.ip_local_port_range = (40000, 40003);
    let mut p = Pair::new(cfg);
    for _ in 0..4 {
        let c = p.a.socket(p.now).unwrap();
        assert_eq!(
            p.a.connect(p.now, c, SocketAddr::new(B, 80)),
            Err(Errno::EINPROGRESS)
        );
    }
    let c = p.a.socket(p.now).unwrap();
    assert_eq!(
        p.a.connect(p.now, c, SocketAddr::new(B, 80)),
        Err(Errno::EADDRNOTAVAIL)
    );
    // Another destination can reuse the same ports.
    assert_eq!(
        p.a.connect(p.now, c, SocketAddr::new(B, 81)),
        Err(Errno::EINPROGRESS)
    );
}

#[test]
fn socket_limit_gives_emfile() {
    let mut cfg = Config::seed();
    cfg.max_sockets = 2;
    let mut p = Pair::new(cfg);
    let a = p.a.socket(p.now).unwrap();
    let b = p.a.socket(p.now).unwrap();
    assert_eq!((a, b), (Fd(3), Fd(4)));
    assert_eq!(p.a.socket(p.now), Err(Errno::EMFILE));
    p.a.close(p.now, a).unwrap();
    assert_eq!(p.a.socket(p.now), Ok(Fd(3)), "lowest free descriptor");
}

#[test]
fn errno_contract() {
    let mut p = Pair::new(Config::seed());
    let now = p.now;
    assert_eq!(p.a.read(now, Fd(99), &mut [0; 4]), Err(Errno::EBADF));
    let f = p.a.socket(now).unwrap();
    assert_eq!(p.a.read(now, f, &mut [0; 4]), Err(Errno::ENOTCONN));
    assert_eq!(p.a.write(now, f, b"x"), Err(Errno::EPIPE));
    assert_eq!(p.a.accept(now, f), Err(Errno::EINVAL));
    assert_eq!(p.a.shutdown(now, f, Shutdown::Both), Err(Errno::ENOTCONN));
    assert_eq!(
        p.a.bind(now, f, SocketAddr::new(B, 1)),
        Err(Errno::EADDRNOTAVAIL)
    );
    p.a.bind(now, f, SocketAddr::new(A, 7000)).unwrap();
    assert_eq!(
        p.a.bind(now, f, SocketAddr::new(A, 7001)),
        Err(Errno::EINVAL)
    );
    let g = p.a.socket(now).unwrap();
    assert_eq!(
        p.a.bind(now, g, SocketAddr::new(A, 7000)),
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(
        p.a.setsockopt(now, g, SockOpt::KeepCnt(0)),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        p.a.setsockopt(now, g, SockOpt::MaxSeg(10)),
        Err(Errno::EINVAL)
    );
    // Nobody listens on B:80: RST, ECONNREFUSED.
    let c = p.a.socket(now).unwrap();
    assert_eq!(
        p.a.connect(now, c, SocketAddr::new(B, 80)),
        Err(Errno::EINPROGRESS)
    );
    assert_eq!(
        p.a.connect(now, c, SocketAddr::new(B, 80)),
        Err(Errno::EALREADY)
    );
    assert_eq!(p.a.write(now, c, b"x"), Err(Errno::EAGAIN));
    p.run_for(Duration::from_secs(1));
    assert_eq!(
        p.a.getsockopt(c, SockOptName::Error),
        Ok(SockOpt::Error(Some(Errno::ECONNREFUSED)))
    );
    // A connected socket.
    let (x, _l, _s) = p.establish();
    assert_eq!(
        p.a.connect(p.now, x, SocketAddr::new(B, 80)),
        Err(Errno::EISCONN)
    );
    p.a.shutdown(p.now, x, Shutdown::Write).unwrap();
    assert_eq!(p.a.write(p.now, x, b"x"), Err(Errno::EPIPE));
}

#[test]
fn ipv6_connection_lifecycle() {
    use std::net::{IpAddr, Ipv6Addr};
    let a6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
    let b6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));
    let mut a = Stack::new(Config::seed(), &[a6]);
    let mut b = Stack::new(
        Config {
            seed: 5,
            ..Config::seed()
        },
        &[b6],
    );
    let mut now = Instant::ZERO;
    let shuttle = |a: &mut Stack, b: &mut Stack, now: Instant| {
        let mut buf = Vec::new();
        let mut sent = Vec::new();
        for _ in 0..100 {
            let mut moved = false;
            while a.poll_transmit(now, &mut buf) {
                sent.push(synack_core::wire::parse(&buf).unwrap().tcp.flags);
                b.handle_packet(now, &buf);
                moved = true;
            }
            while b.poll_transmit(now, &mut buf) {
                a.handle_packet(now, &buf);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        sent
    };
    let l = b.socket(now).unwrap();
    b.bind(now, l, SocketAddr::new(b6, 443)).unwrap();
    b.listen(now, l, 8).unwrap();
    let c = a.socket(now).unwrap();
    assert_eq!(
        a.connect(now, c, SocketAddr::new(b6, 443)),
        Err(Errno::EINPROGRESS)
    );
    shuttle(&mut a, &mut b, now);
    let (s, peer) = b.accept(now, l).unwrap();
    assert_eq!(peer.ip(), a6);
    // IPv6 MSS: MTU 1500 - 60.
    assert_eq!(
        a.getsockopt(c, SockOptName::MaxSeg),
        Ok(SockOpt::MaxSeg(1440 - 12))
    );
    a.write(now, c, &[9u8; 5000]).unwrap();
    shuttle(&mut a, &mut b, now);
    assert_eq!(read_all(&mut b, now, s).0.len(), 5000);
    a.close(now, c).unwrap();
    shuttle(&mut a, &mut b, now);
    b.close(now, s).unwrap();
    shuttle(&mut a, &mut b, now);
    assert_eq!(a.table_sizes().time_wait, 1);
    now += Duration::from_secs(61);
    a.handle_timeout(now);
    assert_eq!(a.table_sizes(), TableSizes::default());
}

#[test]
fn time_wait_overflow_skips_time_wait() {
    let mut cfg = Config::seed();
    cfg.tcp_max_tw_buckets = 1;
    let mut p = Pair::new(cfg);
    for _ in 0..2 {
        let (c, l, s) = p.establish();
        p.a.close(p.now, c).unwrap();
        p.run_for(Duration::from_millis(100));
        p.b.close(p.now, s).unwrap();
        p.run_for(Duration::from_millis(100));
        p.b.close(p.now, l).unwrap();
    }
    assert_eq!(p.a.table_sizes().time_wait, 1);
    assert_eq!(p.a.counters().get(Counter::TcpTimeWaitOverflow), 1);
}

#[test]
fn new_syn_reopens_a_server_side_time_wait() {
    let mut p = Pair::new(Config::seed());
    let x = p.a.socket(p.now).unwrap();
    p.a.bind(p.now, x, SocketAddr::new(A, 5555)).unwrap();
    let l = p.b.socket(p.now).unwrap();
    p.b.bind(p.now, l, SocketAddr::new(B, 80)).unwrap();
    p.b.listen(p.now, l, 8).unwrap();
    let _ = p.a.connect(p.now, x, SocketAddr::new(B, 80));
    p.run_for(Duration::from_millis(100));
    let (s, _) = p.b.accept(p.now, l).unwrap();
    // The server closes first: the server holds TIME_WAIT for 10.0.0.1:5555.
    p.b.close(p.now, s).unwrap();
    p.run_for(Duration::from_millis(100));
    p.a.close(p.now, x).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.b.table_sizes().time_wait, 1);
    // The client comes back from the same port at once: its SYN (new ISN, newer
    // timestamp) reopens the 4-tuple.
    let y = p.a.socket(p.now).unwrap();
    p.a.setsockopt(p.now, y, SockOpt::ReuseAddr(true)).unwrap();
    p.a.bind(p.now, y, SocketAddr::new(A, 5555)).unwrap();
    p.run_for(Duration::from_secs(2));
    assert_eq!(
        p.a.connect(p.now, y, SocketAddr::new(B, 80)),
        Err(Errno::EINPROGRESS)
    );
    p.run_for(Duration::from_millis(200));
    assert_eq!(p.a.state(y), Ok(TcpState::Established));
    assert_eq!(p.b.counters().get(Counter::TwRecycled), 1);
    assert!(p.b.accept(p.now, l).is_ok());
}

#[test]
fn tw_reuse_lets_connect_take_a_time_wait_tuple() {
    let mut cfg = Config::seed();
    cfg.ip_local_port_range = (40000, 40000);
    let mut p = Pair::new(cfg);
    let (c, _l, s) = p.establish();
    p.a.close(p.now, c).unwrap();
    p.run_for(Duration::from_millis(100));
    p.b.close(p.now, s).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.a.table_sizes().time_wait, 1);
    // Within 1 s of the last timestamp the 4-tuple is not reusable: the only port is taken.
    let d = p.a.socket(p.now).unwrap();
    assert_eq!(
        p.a.connect(p.now, d, SocketAddr::new(B, 80)),
        Err(Errno::EADDRNOTAVAIL)
    );
    p.run_for(Duration::from_secs(2));
    let e = p.a.socket(p.now).unwrap();
    assert_eq!(
        p.a.connect(p.now, e, SocketAddr::new(B, 80)),
        Err(Errno::EINPROGRESS)
    );
    p.run_for(Duration::from_millis(200));
    assert_eq!(p.a.state(e), Ok(TcpState::Established));
    // With tcp_tw_reuse 0 it would have failed.
    let mut cfg = Config::seed();
    cfg.ip_local_port_range = (40000, 40000);
    cfg.tcp_tw_reuse = 0;
    let mut q = Pair::new(cfg);
    let (c, _l, s) = q.establish();
    q.a.close(q.now, c).unwrap();
    q.run_for(Duration::from_millis(100));
    q.b.close(q.now, s).unwrap();
    q.run_for(Duration::from_secs(5));
    let f = q.a.socket(q.now).unwrap();
    assert_eq!(
        q.a.connect(q.now, f, SocketAddr::new(B, 80)),
        Err(Errno::EADDRNOTAVAIL)
    );
}

#[test]
fn reset_in_every_synchronized_state() {
    // A peer RST exactly at RCV.NXT ends the connection in each state, with Linux's errno.
    for (state, err) in [
        (TcpState::Established, Some(Errno::ECONNRESET)),
        (TcpState::FinWait2, Some(Errno::ECONNRESET)),
        (TcpState::CloseWait, Some(Errno::EPIPE)),
    ] {
        let mut p = Pair::new(Config::seed());
        let (c, _l, s) = p.establish();
        match state {
            TcpState::FinWait2 => p.a.shutdown(p.now, c, Shutdown::Write).unwrap(),
            TcpState::CloseWait => p.b.shutdown(p.now, s, Shutdown::Write).unwrap(),
            _ => {}
        }
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.a.state(c), Ok(state));
        // The server aborts: SO_LINGER 0.
        p.b.setsockopt(p.now, s, SockOpt::Linger(Some(0))).unwrap();
        p.b.close(p.now, s).unwrap();
        p.run_for(Duration::from_millis(100));
        assert_eq!(p.a.state(c), Ok(TcpState::Closed), "{state:?}");
        assert_eq!(
            p.a.getsockopt(c, SockOptName::Error),
            Ok(SockOpt::Error(err)),
            "{state:?}"
        );
    }
}

#[test]
fn too_many_orphans_are_reset_at_once() {
    let mut cfg = Config::seed();
    cfg.tcp_max_orphans = 1;
    let mut p = Pair::new(cfg);
    // The peer never acknowledges our FINs: each closed connection stays an orphan.
    let (c1, l, s1) = p.establish();
    let c2 = p.a.socket(p.now).unwrap();
    let _ = p.a.connect(p.now, c2, SocketAddr::new(B, 80));
    p.run_for(Duration::from_millis(200));
    let (s2, _) = p.b.accept(p.now, l).unwrap();
    p.filter = Some(Box::new(|s: &Seen| {
        !s.from_a && s.flags.ack() && !s.flags.rst()
    }));
    p.a.close(p.now, c1).unwrap();
    p.a.close(p.now, c2).unwrap();
    assert_eq!(p.a.table_sizes().orphans, 1);
    assert_eq!(p.a.counters().get(Counter::TcpAbortOnMemory), 1);
    p.run_for(Duration::from_millis(100));
    assert_eq!(
        p.b.state(s2),
        Ok(TcpState::Closed),
        "the second orphan was reset"
    );
    assert_eq!(p.b.state(s1), Ok(TcpState::CloseWait));
    // The first one gives up after its orphan retries and the count returns to 0.
    p.run_for(Duration::from_secs(300));
    assert_eq!(p.a.table_sizes().orphans, 0);
}

/// A Fast Open child that the application accepts, answers and closes before the driver
/// ever polled for output (a TUN server does all of it in one round) still opens with a
/// SYN-ACK that acknowledges the SYN's data, and its reply starts right after its SYN —
/// found against the kernel, where a bare SYN made Linux see a simultaneous open and the
/// reply lost its first byte.
#[test]
fn a_fast_open_child_closed_before_its_syn_ack_left_still_sends_a_syn_ack() {
    let mut cfg = Config::linux();
    cfg.set("net.ipv4.tcp_fastopen", "514").unwrap(); // server, no cookie needed
    let mut p = Peer::new(cfg);
    let l = p.st.socket(p.now).unwrap();
    p.st.bind(p.now, l, p.local).unwrap();
    p.st.setsockopt(p.now, l, SockOpt::FastOpen(8)).unwrap();
    p.st.listen(p.now, l, 8).unwrap();
    let syn_opts = synack_core::wire::TcpOptions {
        mss: Some(1000),
        window_scale: Some(7),
        ..Default::default()
    };
    // The SYN's data is taken at once; nothing is polled yet.
    p.st.handle_packet(p.now, &{
        let tcp = synack_core::wire::TcpSegment {
            src_port: p.remote.port(),
            dst_port: p.local.port(),
            seq: 0,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 32792,
            urgent: 0,
            options: syn_opts,
            payload: b"GET /",
        };
        let mut b = Vec::new();
        synack_core::wire::emit(
            &synack_core::wire::Packet {
                ip: synack_core::wire::IpInfo {
                    src: p.remote.ip(),
                    dst: p.local.ip(),
                    ttl: 64,
                },
                tcp,
            },
            &mut b,
        );
        b
    });
    let (fd, _) = p.st.accept(p.now, l).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(p.st.read(p.now, fd, &mut buf), Ok(5));
    assert_eq!(p.st.write(p.now, fd, b"HTTP/1.1 200 OK"), Ok(15));
    p.st.close(p.now, fd).unwrap();
    let o = p.out();
    assert!(!o.is_empty());
    assert_eq!(o[0].flags, TcpFlags::SYN | TcpFlags::ACK, "{o:?}");
    assert_eq!(o[0].ack, 6, "the SYN and its 5 bytes acknowledged");
    let iss = o[0].seq;
    let data: Vec<&Out> = o.iter().filter(|s| !s.payload.is_empty()).collect();
    let d = data
        .first()
        .expect("the reply goes with or right after the SYN-ACK");
    assert_eq!(
        d.seq,
        iss.wrapping_add(1),
        "the reply starts after the SYN: {o:?}"
    );
    assert_eq!(&d.payload[..1], b"H");
    // The peer's ACK of everything: the reply and the FIN are taken as delivered.
    p.now += Duration::from_millis(10);
    p.inject(
        TcpFlags::ACK,
        6,
        iss.wrapping_add(1 + 15 + 1),
        257,
        &[],
        synack_core::wire::TcpOptions::default(),
    );
    let again = p.out();
    assert!(
        again.iter().all(|s| !s.flags.syn() && s.payload.is_empty()),
        "nothing resent: {again:?}"
    );
}

/// Congestion window validation (`tcp_cwnd_validate`, `tcp_is_cwnd_limited`): a
/// request/response exchange that never fills the window does not grow it, however many
/// ACKs come back — Linux grows cwnd only when it limits the flow (in slow start: while
/// under twice what was out). A bulk transfer on the same connection then does grow it.
#[test]
fn an_application_limited_flow_does_not_inflate_the_window() {
    let mut p = Pair::new(Config::linux());
    let (c, _l, s) = p.establish();
    let cwnd = |p: &Pair| p.a.tcp_info(p.now, c).unwrap().snd_cwnd;
    assert_eq!(cwnd(&p), 10);
    for _ in 0..200 {
        p.a.write(p.now, c, &[7u8; 3000]).unwrap(); // three segments of a window of ten
        p.run_for(Duration::from_millis(60));
        let (got, _) = read_all(&mut p.b, p.now, s);
        assert_eq!(got.len(), 3000);
        p.b.write(p.now, s, b"ok").unwrap();
        p.run_for(Duration::from_millis(60));
        let _ = read_all(&mut p.a, p.now, c);
    }
    assert_eq!(
        cwnd(&p),
        10,
        "600 segments acknowledged, the window never full"
    );
    // Now fill it: slow start doubles it per round trip.
    p.a.write(p.now, c, &[7u8; 60_000]).unwrap();
    p.run_for(Duration::from_millis(200));
    let _ = read_all(&mut p.b, p.now, s);
    assert!(cwnd(&p) >= 20, "a window-limited flow grows: {}", cwnd(&p));
}

/// DESIGN.md 3: an idle connection holds no flight record (the scoreboard, recovery and
/// undo state): none after the handshake or a keepalive exchange, and the one a request
/// and its response needed is given back once the connection pauses — while one with an
/// undo record a late D-SACK could still use keeps it.
#[test]
fn idle_connections_hold_no_flight_record() {
    let mut p = Pair::new(Config::seed());
    let (c, _l, s) = p.establish();
    let flights = |p: &Pair| (p.a.table_sizes().flights, p.b.table_sizes().flights);
    assert_eq!(flights(&p), (0, 0), "after the handshake");
    for (st, fd) in [(&mut p.a, c), (&mut p.b, s)] {
        st.setsockopt(p.now, fd, SockOpt::KeepAlive(true)).unwrap();
        st.setsockopt(p.now, fd, SockOpt::KeepIdle(1)).unwrap();
        st.setsockopt(p.now, fd, SockOpt::KeepIntvl(1)).unwrap();
    }
    p.run_for(Duration::from_secs(5));
    assert!(
        p.a.counters().get(Counter::OutSegs) > 4,
        "keepalive probes went out"
    );
    assert_eq!(flights(&p), (0, 0), "after keepalive probes and their ACKs");
    p.a.setsockopt(p.now, c, SockOpt::KeepAlive(false)).unwrap();
    p.b.setsockopt(p.now, s, SockOpt::KeepAlive(false)).unwrap();
    for round in 0..3 {
        p.a.write(p.now, c, &[b'q'; 3000]).unwrap();
        p.run_for(Duration::from_millis(50));
        assert_eq!(read_all(&mut p.b, p.now, s).0.len(), 3000);
        let sent = p.b.write(p.now, s, &[b'r'; 12_000]).unwrap();
        assert_eq!(sent, 12_000);
        p.run_for(Duration::from_millis(1));
        if round == 0 {
            assert_eq!(flights(&p).1, 1, "data in flight has its record");
        }
        let mut got = 0;
        for _ in 0..40 {
            p.run_for(Duration::from_millis(25));
            got += read_all(&mut p.a, p.now, c).0.len();
        }
        assert_eq!(got, 12_000);
    }
    p.run_for(Duration::from_secs(2));
    assert_eq!(flights(&p), (0, 0), "given back after a pause");
    assert_eq!(p.a.counters().get(Counter::RetransSegs), 0);
}

/// getsockname() on a connection's descriptor reads the connection's own address (the
/// descriptor keeps no copy): an accepted socket, a connected one, a bound-then-connected
/// one, and a listener's keep answering — after a reset too — and closing a bound socket
/// frees its port for another bind().
#[test]
fn local_addresses_come_from_the_connection() {
    let mut p = Pair::new(Config::seed());
    let l = p.b.socket(p.now).unwrap();
    p.b.bind(p.now, l, SocketAddr::new(B, 80)).unwrap();
    p.b.listen(p.now, l, 8).unwrap();
    let c = p.a.socket(p.now).unwrap();
    p.a.bind(p.now, c, SocketAddr::new(A, 4242)).unwrap();
    let _ = p.a.connect(p.now, c, SocketAddr::new(B, 80));
    p.run_for(Duration::from_millis(100));
    let (s, peer) = p.b.accept(p.now, l).unwrap();
    assert_eq!(peer, SocketAddr::new(A, 4242));
    assert_eq!(p.b.local_addr(l), Ok(SocketAddr::new(B, 80)));
    assert_eq!(p.b.local_addr(s), Ok(SocketAddr::new(B, 80)));
    assert_eq!(p.a.local_addr(c), Ok(SocketAddr::new(A, 4242)));
    p.a.setsockopt(p.now, c, SockOpt::Linger(Some(0))).unwrap();
    p.b.close(p.now, l).unwrap();
    p.a.close(p.now, c).unwrap();
    p.run_for(Duration::from_millis(100));
    assert_eq!(
        p.b.local_addr(s),
        Ok(SocketAddr::new(B, 80)),
        "reset, not closed"
    );
    let again = p.a.socket(p.now).unwrap();
    assert_eq!(p.a.bind(p.now, again, SocketAddr::new(A, 4242)), Ok(()));
    let l2 = p.b.socket(p.now).unwrap();
    assert_eq!(p.b.bind(p.now, l2, SocketAddr::new(B, 80)), Ok(()));
}

/// A connection that lost a segment and repaired it keeps only its undo record (a late
/// D-SACK may still show the reduction needless, as in Linux) once it pauses: the flight
/// record goes.
#[test]
fn after_a_recovery_only_the_undo_record_stays() {
    let mut p = Pair::new(Config::linux());
    let (c, _l, s) = p.establish();
    let mut dropped = false;
    p.filter = Some(Box::new(move |seg: &Seen| {
        let drop = !dropped && !seg.from_a && seg.len > 0;
        dropped |= drop;
        drop
    }));
    let sent = p.b.write(p.now, s, &[7u8; 14_000]).unwrap();
    let mut got = 0;
    for _ in 0..100 {
        p.run_for(Duration::from_millis(20));
        got += read_all(&mut p.a, p.now, c).0.len();
    }
    assert_eq!(got, sent);
    assert!(p.b.counters().get(Counter::RetransSegs) >= 1);
    p.run_for(Duration::from_secs(2));
    assert_eq!(
        p.b.table_sizes().flights,
        0,
        "the flight record settled and went"
    );
    // The receiver's SACK record of the out-of-order data went too.
    assert_eq!(p.a.table_sizes().flights, 0);
}

/// A blocked link (`set_link_blocked`, Linux's qdisc refusing packets): new data stays
/// unsent — no retransmission, no backoff, one window reduction (CWR) — and is tried
/// again every 500 ms (`tcpi_probes` counts the tries); once the link takes packets, the
/// next try sends it and the probes end.
#[test]
fn a_blocked_link_holds_new_data_and_retries_every_half_second() {
    let mut p = Pair::new(Config::linux());
    let (c, _l, s) = p.establish();
    p.run_for(Duration::from_secs(1));
    let cwnd = p.b.tcp_info(p.now, s).unwrap().snd_cwnd;
    let before = p.sent(false).len();
    p.b.set_link_blocked(p.now, true);
    assert_eq!(p.b.write(p.now, s, b"held"), Ok(4));
    p.run_for(Duration::from_millis(2_300));
    assert_eq!(p.sent(false).len(), before, "nothing left while blocked");
    let info = p.b.tcp_info(p.now, s).unwrap();
    // The first try an RTO later (250 ms here), then every 500 ms: 5 tries by 2.3 s.
    assert_eq!((info.probes, info.backoff), (5, 0));
    // Data arriving meanwhile is acknowledged (a blocked link refuses only new data
    // here; the driver would drop the ACK if it could not queue it), and its ACK field
    // restarts the count, as every ACK does in Linux (`tcp_ack`: probes_out = 0).
    p.a.write(p.now, c, b"ping").unwrap();
    p.run_for(Duration::from_millis(200));
    assert_eq!(read_all(&mut p.b, p.now, s).0, b"ping");
    assert!(p.sent(false).len() > before, "the ping was acknowledged");
    let info = p.b.tcp_info(p.now, s).unwrap();
    assert!(info.probes <= 1, "{}", info.probes);
    // tcp_enter_cwr on the refused segment: CA_CWR, the threshold cut (CUBIC: 7 of
    // 10), the window itself reduced only as ACKs come (PRR).
    assert_eq!(
        (info.ca_state, info.snd_cwnd, info.snd_ssthresh),
        (2, cwnd, 7)
    );
    assert_eq!(p.b.counters().get(Counter::RetransSegs), 0);
    p.b.set_link_blocked(p.now, false);
    p.run_for(Duration::from_millis(600));
    assert_eq!(read_all(&mut p.a, p.now, c).0, b"held");
    let info = p.b.tcp_info(p.now, s).unwrap();
    assert_eq!((info.probes, info.backoff), (0, 0));
    // The data above CWR's mark acknowledged: back in CA_Open at the threshold.
    assert_eq!((info.ca_state, info.snd_cwnd), (0, 7));
    assert_eq!(p.b.counters().get(Counter::RetransSegs), 0);
}
