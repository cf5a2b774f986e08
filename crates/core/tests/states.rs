//! One stack, the peer played by hand (packetdrill style): per-state behaviour, with the
//! seed scripts of ../shared/packetdrill/seed restated as unit tests.
mod common;
use common::*;
use std::time::Duration;
use synack_core::wire::{TcpFlags, TcpOptions, Timestamps};
use synack_core::*;

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;
const FIN: TcpFlags = TcpFlags::FIN;
const RST: TcpFlags = TcpFlags::RST;
const PSH: TcpFlags = TcpFlags::PSH;

fn none() -> TcpOptions {
    TcpOptions::default()
}

fn packetdrill_cfg() -> Config {
    // ../shared/packetdrill/*/defaults.conf: rmem max 15 MiB gives wscale 8.
    let mut c = Config::linux();
    c.tcp_rmem = [4096, 540000, 15728640];
    c.tcp_wmem = [4096, 262144, 4194304];
    c
}

#[test]
fn listen_syn_gets_synack_with_linux_options() {
    let mut p = Peer::new(packetdrill_cfg());
    let _l = listener(&mut p, 1);
    p.inject(
        SYN,
        0,
        0,
        32792,
        &[],
        TcpOptions {
            mss: Some(1000),
            window_scale: Some(7),
            ..none()
        },
    );
    let o = p.out();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].flags, SYN | ACK);
    assert_eq!(o[0].ack, 1);
    // `<mss 1460,nop,wscale 8>`: no SACK or timestamps because the SYN had none.
    assert_eq!(
        o[0].options,
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(8),
            ..none()
        }
    );
    // The initial window is half the 540,000-byte buffer (Linux 6.x no longer holds it to
    // 64 KiB); a SYN-ACK's field, unscaled, says 65535 of it — as Linux 6.18 does
    // (checked with a raw SYN against a listener with this tcp_rmem).
    assert_eq!(o[0].win, 65535);
    let socks = p.st.sockets(p.now);
    assert!(socks.iter().any(|s| s.state == TcpState::SynRecv));
}

#[test]
fn synack_retries_then_late_ack_gets_rst() {
    // seed/synack_retries.pkt
    let mut cfg = packetdrill_cfg();
    cfg.tcp_synack_retries = 2;
    let mut p = Peer::new(cfg);
    let _l = listener(&mut p, 1);
    p.inject(
        SYN,
        0,
        0,
        32792,
        &[],
        TcpOptions {
            mss: Some(1000),
            window_scale: Some(7),
            ..none()
        },
    );
    let sent = p.advance(t(8.0));
    let times: Vec<f64> = sent.iter().map(|(at, _)| at.as_secs_f64()).collect();
    assert_eq!(times, vec![0.0, 1.0, 3.0]);
    let iss = sent[0].1.seq;
    assert!(sent
        .iter()
        .all(|(_, o)| o.seq == iss && o.flags == SYN | ACK));
    p.inject(ACK, 1, iss.wrapping_add(1), 257, &[], none());
    let o = p.out();
    assert_eq!(o.len(), 1);
    assert_eq!((o[0].flags, o[0].seq), (RST, iss.wrapping_add(1)));
}

#[test]
fn duplicate_syn_resends_synack_and_restarts_timer() {
    let mut p = Peer::new(packetdrill_cfg());
    let _l = listener(&mut p, 1);
    p.inject(
        SYN,
        0,
        0,
        32792,
        &[],
        TcpOptions {
            mss: Some(1000),
            ..none()
        },
    );
    assert_eq!(p.out().len(), 1);
    p.now = t(0.5);
    p.inject(
        SYN,
        0,
        0,
        32792,
        &[],
        TcpOptions {
            mss: Some(1000),
            ..none()
        },
    );
    assert_eq!(p.out().len(), 1, "SYN-ACK again at once");
    let sent = p.advance(t(2.0));
    let times: Vec<f64> = sent.iter().map(|(at, _)| at.as_secs_f64()).collect();
    assert_eq!(times, vec![1.5], "timer restarted from the duplicate");
}

#[test]
fn fin_wait2_timeout_then_rst() {
    // seed/fin_wait2_timeout.pkt
    let mut cfg = packetdrill_cfg();
    cfg.tcp_fin_timeout = Duration::from_secs(2);
    let mut p = Peer::new(cfg);
    let (_l, fd, iss) = p.accept_one();
    p.st.close(p.now, fd).unwrap();
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq, o[0].ack), (FIN | ACK, iss + 1, 1));
    p.now += Duration::from_millis(10);
    p.inject(ACK, 1, iss + 2, 257, &[], none());
    assert!(p.out().is_empty());
    assert_eq!(p.advance(p.now + Duration::from_secs(3)).len(), 0);
    p.inject(ACK, 1, iss + 2, 257, b"x", none());
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq), (RST, iss + 2));
}

#[test]
fn time_wait_reacks_retransmitted_fin() {
    // seed/time_wait.pkt
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    p.st.close(p.now, fd).unwrap();
    assert_eq!(p.out()[0].flags, FIN | ACK);
    p.now += Duration::from_millis(10);
    p.inject(ACK, 1, iss + 2, 257, &[], none());
    p.now += Duration::from_millis(10);
    p.inject(FIN | ACK, 1, iss + 2, 257, &[], none());
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq, o[0].ack), (ACK, iss + 2, 2));
    assert_eq!(
        p.st.sockets(p.now)
            .iter()
            .find(|s| s.state != TcpState::Listen)
            .unwrap()
            .state,
        TcpState::TimeWait
    );
    p.now += Duration::from_millis(500);
    p.inject(FIN | ACK, 1, iss + 2, 257, &[], none());
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq, o[0].ack), (ACK, iss + 2, 2));
    // The timer restarted at 0.52 s: the record lives until 60.52 s.
    p.advance(t(60.5));
    assert_eq!(p.st.table_sizes().time_wait, 1);
    p.advance(t(60.53));
    assert_eq!(p.st.table_sizes().time_wait, 0);
    // A RST kills a TIME_WAIT record.
}

#[test]
fn rst_kills_time_wait() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    p.st.close(p.now, fd).unwrap();
    p.out();
    p.inject(FIN | ACK, 1, iss + 2, 257, &[], none());
    p.out();
    assert_eq!(p.st.table_sizes().time_wait, 1);
    p.inject(RST, 2, 0, 0, &[], none());
    assert_eq!(p.st.table_sizes().time_wait, 0);
    assert_eq!(p.st.counters().get(Counter::TwKilled), 1);
}

#[test]
fn keepalive_script() {
    // seed/keepalive.pkt
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    let start = p.now;
    p.st.setsockopt(p.now, fd, SockOpt::KeepIdle(2)).unwrap();
    p.st.setsockopt(p.now, fd, SockOpt::KeepIntvl(1)).unwrap();
    p.st.setsockopt(p.now, fd, SockOpt::KeepCnt(2)).unwrap();
    p.st.setsockopt(p.now, fd, SockOpt::KeepAlive(true))
        .unwrap();
    let sent = p.advance(start + Duration::from_secs(5));
    let got: Vec<(f64, TcpFlags, u32)> = sent
        .iter()
        .map(|(at, o)| {
            (
                (*at - start).as_secs_f64(),
                o.flags,
                o.seq.wrapping_sub(iss),
            )
        })
        .collect();
    assert_eq!(got, vec![(2.0, ACK, 0), (3.0, ACK, 0), (4.0, RST | ACK, 1)]);
    assert_eq!(p.st.read(p.now, fd, &mut [0; 100]), Err(Errno::ETIMEDOUT));
}

#[test]
fn linger_zero_script() {
    // seed/linger0.pkt
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    p.st.setsockopt(p.now, fd, SockOpt::Linger(Some(0)))
        .unwrap();
    p.st.close(p.now, fd).unwrap();
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq, o[0].ack), (RST | ACK, iss + 1, 1));
    assert_eq!(p.st.table_sizes().connections, 0);
}

#[test]
fn close_on_syn_sent_sends_nothing_and_synack_gets_rst() {
    // google/tcp/close/close-on-syn-sent.pkt
    let mut p = Peer::new(packetdrill_cfg());
    let fd = p.st.socket(p.now).unwrap();
    assert_eq!(p.st.connect(p.now, fd, p.remote), Err(Errno::EINPROGRESS));
    let o = p.out();
    assert_eq!(o[0].flags, SYN);
    // Linux's SYN: mss 1460, sackOK, TS val ecr 0, nop, wscale 8.
    assert_eq!(o[0].options.mss, Some(1460));
    assert!(o[0].options.sack_permitted);
    assert_eq!(o[0].options.timestamps.map(|t| t.ecr), Some(0));
    assert_eq!(o[0].options.window_scale, Some(8));
    let (iss, local) = (o[0].seq, o[0].src);
    p.st.close(p.now, fd).unwrap();
    assert!(p.out().is_empty());
    p.now = t(0.1);
    // The peer answers from its port to ours.
    p.local = local;
    p.remote = o[0].dst;
    p.inject(
        SYN | ACK,
        0,
        iss + 1,
        32000,
        &[],
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            ..none()
        },
    );
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq), (RST, iss + 1));
}

#[test]
fn established_rst_must_be_exact_else_challenge_ack() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    // In window but not RCV.NXT: challenge ACK, connection lives.
    p.inject(RST, 100, 0, 0, &[], none());
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq, o[0].ack), (ACK, iss + 1, 1));
    assert_eq!(p.st.state(fd), Ok(TcpState::Established));
    assert_eq!(p.st.counters().get(Counter::TcpChallengeAck), 1);
    // Exactly at RCV.NXT: reset.
    p.inject(RST, 1, 0, 0, &[], none());
    assert!(p.out().is_empty());
    assert_eq!(p.st.state(fd), Ok(TcpState::Closed));
    assert_eq!(p.st.read(p.now, fd, &mut [0; 8]), Err(Errno::ECONNRESET));
    assert_eq!(p.st.counters().get(Counter::EstabResets), 1);
}

#[test]
fn syn_on_established_draws_challenge_ack() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    p.inject(SYN, 5000, 0, 1000, &[], none());
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq, o[0].ack), (ACK, iss + 1, 1));
    assert_eq!(p.st.state(fd), Ok(TcpState::Established));
}

#[test]
fn out_of_window_data_gets_duplicate_ack() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, _fd, iss) = p.accept_one();
    p.inject(ACK, 10_000_000, iss + 1, 257, b"far away", none());
    let o = p.out();
    assert_eq!((o[0].flags, o[0].ack), (ACK, 1));
}

#[test]
fn data_is_acked_and_read_in_order_with_reassembly() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    p.inject(ACK | PSH, 6, iss + 1, 257, b"world", none());
    let o = p.out();
    assert_eq!(o[0].ack, 1, "out of order: duplicate ACK at once");
    p.inject(ACK | PSH, 1, iss + 1, 257, b"hello", none());
    let o = p.out();
    assert_eq!(o[0].ack, 11, "hole filled: ACK at once");
    let mut buf = [0u8; 32];
    let n = p.st.read(p.now, fd, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"helloworld");
}

#[test]
fn data_after_close_is_reset() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    p.st.close(p.now, fd).unwrap();
    assert_eq!(p.out()[0].flags, FIN | ACK);
    p.inject(ACK | PSH, 1, iss + 1, 257, b"too late", none());
    let o = p.out();
    assert!(o[0].flags.rst());
    assert_eq!(p.st.counters().get(Counter::TcpAbortOnData), 1);
}

#[test]
fn passive_close_fin_ack_is_delayed_then_last_ack() {
    // linux-selftests/tcp_close_no_rst.pkt: the FIN's ACK within 40 ms.
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    p.inject(FIN | ACK, 1, iss + 1, 257, &[], none());
    assert_eq!(p.st.state(fd), Ok(TcpState::CloseWait));
    let sent = p.advance(p.now + Duration::from_millis(100));
    assert_eq!(sent.len(), 1);
    assert!(sent[0].0 <= t(0.01 + 0.04 + 1e-6));
    assert_eq!(sent[0].1.ack, 2);
    assert_eq!(p.st.read(p.now, fd, &mut [0; 4]), Ok(0));
    p.st.close(p.now, fd).unwrap();
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq, o[0].ack), (FIN | ACK, iss + 1, 2));
    assert_eq!(
        p.st.sockets(p.now)
            .iter()
            .find(|s| s.state != TcpState::Listen)
            .unwrap()
            .state,
        TcpState::LastAck
    );
    p.inject(ACK, 2, iss + 2, 257, &[], none());
    assert_eq!(p.st.table_sizes().connections, 0);
}

#[test]
fn last_ack_retransmits_fin_then_gives_up() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, _iss) = p.accept_one();
    p.inject(FIN | ACK, 1, _iss + 1, 257, &[], none());
    p.st.close(p.now, fd).unwrap();
    p.out();
    let sent = p.advance(p.now + Duration::from_secs(400));
    let fins = sent.iter().filter(|(_, o)| o.flags.fin()).count();
    // tcp_orphan_retries 0 means 8: a time budget of 8 doublings from 200 ms.
    assert!((7..=9).contains(&fins), "{fins} FIN retransmissions");
    assert_eq!(p.st.table_sizes().connections, 0);
}

#[test]
fn timestamps_echo_and_paws() {
    let mut p = Peer::new(packetdrill_cfg());
    let l = listener(&mut p, 1);
    let ts = |val| TcpOptions {
        timestamps: Some(Timestamps { val, ecr: 0 }),
        ..none()
    };
    let syn = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        window_scale: Some(7),
        ..ts(1000)
    };
    p.inject(SYN, 0, 0, 65535, &[], syn);
    let o = p.out();
    assert_eq!(o[0].options.timestamps.unwrap().ecr, 1000);
    assert!(o[0].options.sack_permitted);
    let iss = o[0].seq;
    p.inject(ACK, 1, iss + 1, 257, &[], ts(1001));
    let (fd, _) = p.st.accept(p.now, l).unwrap();
    p.inject(ACK | PSH, 1, iss + 1, 257, b"new", ts(1002));
    let o = p.out();
    assert_eq!(o[0].options.timestamps.unwrap().ecr, 1002);
    // An old timestamp: PAWS drops it and re-ACKs.
    p.inject(ACK | PSH, 4, iss + 1, 257, b"old", ts(900));
    let o = p.out();
    assert_eq!(o[0].ack, 4);
    let mut buf = [0u8; 8];
    assert_eq!(p.st.read(p.now, fd, &mut buf), Ok(3));
    assert_eq!(p.st.counters().get(Counter::PawsEstab), 1);
}

#[test]
fn maxseg_limits_segments() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, _iss) = p.accept_one();
    p.st.write(p.now, fd, &[1u8; 2500]).unwrap();
    let o = p.out();
    // Peer MSS 1000: 1000, 1000, 500.
    let lens: Vec<usize> = o.iter().map(|x| x.payload.len()).collect();
    assert_eq!(lens, vec![1000, 1000, 500]);
    assert!(o[2].flags.psh());
}

#[test]
fn malformed_packets_are_dropped_with_a_reason() {
    let mut p = Peer::new(packetdrill_cfg());
    p.st.handle_packet(p.now, &[]);
    p.st.handle_packet(p.now, &[0x45, 0, 0]);
    p.st.handle_packet(p.now, &[0xff; 60]);
    let reasons: Vec<String> =
        p.st.drain_events()
            .filter_map(|e| match e.kind {
                EventKind::Drop { seg: None, reason } => Some(reason.name().to_string()),
                _ => None,
            })
            .collect();
    assert_eq!(reasons.len(), 3);
    assert!(p.out().is_empty());
    // IP-level errors, as Linux counts them: not TCP errors.
    assert_eq!(p.st.counters().get(Counter::IpInHdrErrors), 3);
    assert_eq!(p.st.counters().get(Counter::InErrs), 0);
}

#[test]
fn segment_for_no_socket_gets_rst() {
    let mut p = Peer::new(packetdrill_cfg());
    p.inject(SYN, 1000, 0, 1000, &[], none());
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq, o[0].ack), (RST | ACK, 0, 1001));
    p.inject(ACK, 5, 777, 1000, &[], none());
    let o = p.out();
    assert_eq!((o[0].flags, o[0].seq), (RST, 777));
    p.inject(RST, 5, 0, 0, &[], none());
    assert!(p.out().is_empty(), "never answer a RST");
}

fn listener(p: &mut Peer, backlog: i32) -> Fd {
    let l = p.st.socket(p.now).unwrap();
    p.st.bind(p.now, l, p.local).unwrap();
    p.st.listen(p.now, l, backlog).unwrap();
    l
}

/// Handshake from remote port `port`; returns the SYN-ACK's ISN (None if no SYN-ACK).
fn syn(p: &mut Peer, port: u16) -> Option<u32> {
    p.remote.set_port(port);
    p.inject(
        SYN,
        0,
        0,
        32792,
        &[],
        TcpOptions {
            mss: Some(1000),
            ..none()
        },
    );
    p.out()
        .into_iter()
        .find(|o| o.flags == SYN | ACK)
        .map(|o| o.seq)
}

#[test]
fn seed_accept_queue_holds_backlog_plus_one_then_drops_final_ack() {
    let mut cfg = Config::seed();
    cfg.tcp_rmem = [4096, 540000, 15728640];
    let mut p = Peer::new(cfg);
    let l = listener(&mut p, 1);
    for port in 0..3u16 {
        let iss = syn(&mut p, 50000 + port).expect("SYN-ACK");
        p.inject(ACK, 1, iss + 1, 257, &[], none());
        if port == 2 {
            // backlog 1: two children fit; the third ACK is dropped (abort_on_overflow 0).
            assert!(p.out().is_empty());
            let info =
                p.st.sockets(p.now)
                    .into_iter()
                    .find(|s| s.state == TcpState::Listen)
                    .unwrap();
            assert_eq!((info.recv_q, info.send_q), (2, 1));
            assert_eq!(p.st.counters().get(Counter::ListenOverflows), 1);
            assert_eq!(p.st.table_sizes().requests, 1, "the request stays");
            // accept() makes room; the SYN-ACK retransmission draws the ACK again.
            p.st.accept(p.now, l).unwrap();
            let sent = p.advance(t(1.5));
            assert!(sent
                .iter()
                .any(|(_, o)| o.flags == SYN | ACK && o.dst.port() == 50002));
            p.inject(ACK, 1, iss + 1, 257, &[], none());
            assert_eq!(p.st.table_sizes().requests, 0);
            assert!(p.st.accept(p.now, l).is_ok());
            assert!(p.st.accept(p.now, l).is_ok());
        }
    }
}

#[test]
fn abort_on_overflow_answers_rst() {
    let mut cfg = Config::seed();
    cfg.tcp_abort_on_overflow = true;
    let mut p = Peer::new(cfg);
    let _l = listener(&mut p, 1);
    for port in 0..2 {
        let iss = syn(&mut p, 50000 + port).unwrap();
        p.inject(ACK, 1, iss + 1, 257, &[], none());
    }
    let iss = syn(&mut p, 50002).unwrap();
    p.inject(ACK, 1, iss + 1, 257, &[], none());
    let o = p.out();
    assert_eq!(o.len(), 1);
    assert!(o[0].flags.rst());
    assert_eq!(p.st.table_sizes().requests, 0);
}

#[test]
fn linux_profile_drops_syn_when_accept_queue_full() {
    let mut p = Peer::new(packetdrill_cfg());
    let _l = listener(&mut p, 1);
    for port in 0..2u16 {
        let iss = syn(&mut p, 50000 + port).unwrap();
        p.inject(ACK, 1, iss + 1, 257, &[], none());
    }
    assert_eq!(syn(&mut p, 50002), None);
    assert_eq!(p.st.counters().get(Counter::ListenOverflows), 1);
    assert_eq!(p.st.counters().get(Counter::ListenDrops), 1);
}

#[test]
fn syncookies_always_script() {
    // seed/syncookies_always.pkt: no timestamps, so the SYN-ACK carries only the MSS.
    let mut cfg = packetdrill_cfg();
    cfg.tcp_syncookies = 2;
    let mut p = Peer::new(cfg);
    let l = listener(&mut p, 1);
    p.inject(
        SYN,
        0,
        0,
        32792,
        &[],
        TcpOptions {
            mss: Some(1000),
            window_scale: Some(7),
            ..none()
        },
    );
    let o = p.out();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].flags, SYN | ACK);
    assert_eq!(
        o[0].options,
        TcpOptions {
            mss: Some(1460),
            ..none()
        }
    );
    assert_eq!(
        p.st.table_sizes().requests,
        0,
        "nothing is stored for a cookie"
    );
    let iss = o[0].seq;
    p.now += Duration::from_millis(10);
    p.inject(ACK, 1, iss + 1, 257, &[], none());
    let (fd, _) = p.st.accept(p.now, l).unwrap();
    assert_eq!(p.st.write(p.now, fd, &[5u8; 100]), Ok(100));
    let o = p.out();
    assert_eq!(
        (o[0].flags, o[0].seq, o[0].ack, o[0].payload.len()),
        (ACK | PSH, iss + 1, 1, 100)
    );
    let c = p.st.counters();
    assert_eq!(
        (
            c.get(Counter::SyncookiesSent),
            c.get(Counter::SyncookiesRecv)
        ),
        (1, 1)
    );
}

#[test]
fn syncookie_keeps_wscale_and_sack_in_the_timestamp() {
    let mut cfg = packetdrill_cfg();
    cfg.tcp_syncookies = 2;
    let mut p = Peer::new(cfg);
    let l = listener(&mut p, 1);
    let ts = |val, ecr| Some(Timestamps { val, ecr });
    let syn = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        window_scale: Some(2),
        timestamps: ts(500, 0),
        ..none()
    };
    p.inject(SYN, 0, 0, 65535, &[], syn);
    let o = p.out();
    assert_eq!(o[0].options.window_scale, Some(8));
    assert!(o[0].options.sack_permitted);
    let (iss, tsval) = (o[0].seq, o[0].options.timestamps.unwrap().val);
    p.inject(
        ACK,
        1,
        iss + 1,
        1000,
        &[],
        TcpOptions {
            timestamps: ts(501, tsval),
            ..none()
        },
    );
    let (fd, _) = p.st.accept(p.now, l).unwrap();
    // The peer's scale (2) survived: window 1000 << 2 = 4000 bytes lets 2 full segments go.
    p.st.write(p.now, fd, &[1u8; 6000]).unwrap();
    let lens: Vec<usize> = p.out().iter().map(|x| x.payload.len()).collect();
    // The third segment does not fit the window and waits (Linux does not split it).
    assert_eq!(
        lens,
        vec![1448, 1448],
        "MSS 1460 from the cookie, minus timestamps"
    );
}

#[test]
fn forged_cookie_ack_is_counted_and_reset() {
    let mut cfg = packetdrill_cfg();
    cfg.tcp_syncookies = 2;
    let mut p = Peer::new(cfg);
    let _l = listener(&mut p, 1);
    p.inject(
        SYN,
        0,
        0,
        32792,
        &[],
        TcpOptions {
            mss: Some(1000),
            ..none()
        },
    );
    let iss = p.out()[0].seq;
    p.inject(ACK, 1, iss + 12345, 257, &[], none());
    let o = p.out();
    assert!(o[0].flags.rst());
    assert_eq!(p.st.counters().get(Counter::SyncookiesFailed), 1);
    assert_eq!(p.st.table_sizes().connections, 0);
    // Three minutes later even the right cookie is too old.
    p.now += Duration::from_secs(180);
    p.inject(ACK, 1, iss + 1, 257, &[], none());
    assert!(p.out()[0].flags.rst());
}

#[test]
fn syn_flood_is_bounded_and_cookies_let_real_clients_in() {
    let mut p = Peer::new(Config::seed());
    p.st.set_capture(false);
    let l = listener(&mut p, 8);
    for k in 0..20_000u32 {
        p.remote = std::net::SocketAddr::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + k)),
            1024 + (k % 60000) as u16,
        );
        p.inject(
            SYN,
            k,
            0,
            1000,
            &[],
            TcpOptions {
                mss: Some(1460),
                ..none()
            },
        );
        p.out();
    }
    let t = p.st.table_sizes();
    // Seed profile: min(8, 128) * 2 = 16 requests at most; the rest got cookies.
    assert_eq!(t.requests, 16, "{t:?}");
    let c = p.st.counters();
    assert_eq!(c.get(Counter::SyncookiesSent), 20_000 - 16);
    assert_eq!(c.get(Counter::TcpReqQFullDoCookies), 20_000 - 16);
    // A real client during the flood: its ACK returns the cookie and it is accepted.
    p.remote = std::net::SocketAddr::new(REMOTE, 50000);
    p.inject(
        SYN,
        77,
        0,
        1000,
        &[],
        TcpOptions {
            mss: Some(1460),
            ..none()
        },
    );
    let iss = p.out()[0].seq;
    p.inject(ACK, 78, iss + 1, 1000, b"GET", none());
    let (fd, peer) = p.st.accept(p.now, l).unwrap();
    assert_eq!(peer, p.remote);
    let mut buf = [0u8; 8];
    assert_eq!(p.st.read(p.now, fd, &mut buf), Ok(3));
}

#[test]
fn ingress_backlog_is_bounded_by_netdev_max_backlog() {
    let mut cfg = Config::seed();
    cfg.netdev_max_backlog = 100;
    cfg.tcp_syncookies = 2;
    let mut p = Peer::new(cfg);
    p.st.set_capture(false);
    let _l = listener(&mut p, 128);
    let mut bytes = Vec::new();
    let mut accepted = 0;
    for k in 0..1000u16 {
        let tcp = synack_core::wire::TcpSegment {
            src_port: 1024 + k,
            dst_port: 8080,
            seq: k as u32,
            ack: 0,
            flags: SYN,
            window: 1000,
            urgent: 0,
            options: none(),
            payload: &[],
        };
        let ip = synack_core::wire::IpInfo {
            src: REMOTE,
            dst: LOCAL,
            ttl: 64,
        };
        synack_core::wire::emit(&synack_core::wire::Packet { ip, tcp }, &mut bytes);
        accepted += p.st.enqueue_packet(&bytes) as u32;
    }
    assert_eq!(accepted, 100);
    assert_eq!(p.st.backlog_len(), 100);
    assert_eq!(p.st.counters().get(Counter::IpInDiscards), 900);
    p.st.process_backlog(p.now);
    assert_eq!(p.st.backlog_len(), 0);
    assert_eq!(p.out().len(), 100, "one SYN-ACK (cookie) per processed SYN");
}

#[test]
fn nagle_holds_a_second_small_segment_until_the_ack_nodelay_does_not() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    p.st.write(p.now, fd, &[1u8; 100]).unwrap();
    assert_eq!(p.out().len(), 1, "the first small segment goes");
    p.st.write(p.now, fd, &[2u8; 100]).unwrap();
    assert!(
        p.out().is_empty(),
        "Nagle: a small segment is unacknowledged"
    );
    p.inject(ACK, 1, iss + 101, 257, &[], none());
    let o = p.out();
    assert_eq!((o.len(), o[0].seq, o[0].payload.len()), (1, iss + 101, 100));
    p.st.setsockopt(p.now, fd, SockOpt::NoDelay(true)).unwrap();
    p.st.write(p.now, fd, &[3u8; 100]).unwrap();
    assert_eq!(p.out().len(), 1);
    p.st.write(p.now, fd, &[4u8; 100]).unwrap();
    assert_eq!(
        p.out().len(),
        1,
        "TCP_NODELAY: the second small segment goes before the ACK"
    );
}

#[test]
fn zero_window_probe_backs_off_like_the_rto() {
    let mut p = Peer::new(packetdrill_cfg());
    let (_l, fd, iss) = p.accept_one();
    // The peer closes its window.
    p.inject(ACK, 1, iss + 1, 0, &[], none());
    p.st.write(p.now, fd, &[1u8; 100]).unwrap();
    assert!(p.out().is_empty(), "nothing fits a zero window");
    let start = p.now;
    let sent = p.advance(start + Duration::from_secs(10));
    let gaps: Vec<f64> = sent
        .iter()
        .map(|(t, _)| (*t - start).as_secs_f64())
        .collect();
    assert!(
        sent.iter()
            .all(|(_, o)| o.seq == iss && o.payload.is_empty()),
        "probes use SND.UNA - 1"
    );
    assert!(gaps.len() >= 4, "{gaps:?}");
    for w in gaps.windows(3) {
        let (a, b) = (w[1] - w[0], w[2] - w[1]);
        assert!((b / a - 2.0).abs() < 0.01, "doubling: {gaps:?}");
    }
    // The window opens: the data goes.
    p.inject(ACK, 1, iss + 1, 257, &[], none());
    let o = p.out();
    assert_eq!(o[0].payload.len(), 100);
}

/// `n` SYNs from distinct ports; returns how many got a SYN-ACK.
fn syn_burst(p: &mut Peer, n: u16) -> usize {
    (0..n).filter(|k| syn(p, 20000 + k).is_some()).count()
}

#[test]
fn seed_rule_one_syn_queue_limit_without_cookies() {
    // min(backlog 8, somaxconn 128) = 8 < tcp_max_syn_backlog 2048: the SYN queue holds 16.
    let mut cfg = Config::seed();
    cfg.tcp_syncookies = 0;
    let mut p = Peer::new(cfg);
    let _l = listener(&mut p, 8);
    assert_eq!(syn_burst(&mut p, 40), 16);
    assert_eq!(p.st.table_sizes().requests, 16);
    let c = p.st.counters();
    assert_eq!(
        (c.get(Counter::TcpReqQFullDrop), c.get(Counter::ListenDrops)),
        (24, 24)
    );
}

#[test]
fn seed_rule_one_uses_max_syn_backlog_when_smaller() {
    // tcp_max_syn_backlog 64 < min(backlog 128, somaxconn 128): the SYN queue holds 128,
    // but rule 3 (no cookies: keep a quarter of 64 free) stops it at 49 (64 - 49 < 16).
    let mut cfg = Config::seed();
    cfg.tcp_syncookies = 0;
    cfg.tcp_max_syn_backlog = 64;
    let mut p = Peer::new(cfg);
    let _l = listener(&mut p, 128);
    assert_eq!(syn_burst(&mut p, 200), 49);
    let c = p.st.counters();
    assert_eq!(
        c.get(Counter::TcpReqQFullDrop),
        0,
        "rule 3 drops are counted as ListenDrops only"
    );
    assert_eq!(c.get(Counter::ListenDrops), 151);
    // With cookies on, rule 3 does not apply: the queue fills to 128, then cookies.
    let mut cfg = Config::seed();
    cfg.tcp_max_syn_backlog = 64;
    let mut p = Peer::new(cfg);
    let _l = listener(&mut p, 128);
    assert_eq!(syn_burst(&mut p, 200), 200);
    assert_eq!(p.st.table_sizes().requests, 128);
    assert_eq!(p.st.counters().get(Counter::SyncookiesSent), 72);
}

#[test]
fn seed_rule_two_accept_queue_full_and_young_requests() {
    // Accept queue full (2 children for backlog 1) and more than one young request: SYN dropped.
    let mut p = Peer::new(Config::seed());
    let _l = listener(&mut p, 1);
    for port in 0..2u16 {
        let iss = syn(&mut p, 50000 + port).unwrap();
        p.inject(ACK, 1, iss + 1, 257, &[], none());
    }
    // Accept queue full, no young request: SYNs still get SYN-ACKs (young becomes 1, 2).
    assert!(syn(&mut p, 50010).is_some());
    assert!(syn(&mut p, 50011).is_some());
    // Two young requests now: the next SYN is dropped (ListenOverflows).
    assert!(syn(&mut p, 50012).is_none());
    assert_eq!(p.st.counters().get(Counter::ListenOverflows), 1);
}

#[test]
fn linux_syn_queue_is_full_when_longer_than_the_backlog() {
    let mut cfg = Config::linux();
    cfg.tcp_syncookies = 0;
    let mut p = Peer::new(cfg);
    let _l = listener(&mut p, 8);
    assert_eq!(
        syn_burst(&mut p, 20),
        9,
        "qlen 0..=8 accepted, full when > 8"
    );
    let mut p = Peer::new(Config::linux());
    let _l = listener(&mut p, 8);
    assert_eq!(syn_burst(&mut p, 20), 20);
    assert_eq!(p.st.table_sizes().requests, 9);
    assert_eq!(p.st.counters().get(Counter::SyncookiesSent), 11);
}
