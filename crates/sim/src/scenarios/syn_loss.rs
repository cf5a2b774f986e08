//! 第一次握手、第二次握手、第三次握手一直丢包: what each side does when one packet of
//! the handshake never arrives.
use super::*;
use crate::Rule;
use synack_core::{Errno, SockOpt, SockOptName};

pub const SYN_LOST: Scenario = Scenario {
    name: "syn-lost",
    summary: "Every SYN is lost. The client retransmits it with the RTO doubling from 1 s \
              (tcp_syn_retries = 5 in the seed profile: sent at 0, 1, 3, 7, 15, 31 s) and \
              connect() fails with ETIMEDOUT at 63 s.",
    run: syn_lost,
};

pub const SYNACK_LOST: Scenario = Scenario {
    name: "synack-lost",
    summary: "Every SYN-ACK is lost. The client keeps retransmitting its SYN; the server answers \
              each with a SYN-ACK and restarts its timer, and retransmits on its own timer \
              (tcp_synack_retries = 5) until it drops the request.",
    run: synack_lost,
};

pub const THIRD_ACK_LOST: Scenario = Scenario {
    name: "third-ack-lost",
    summary: "The client's final ACK (and every bare ACK after it) is lost. The client is \
              ESTABLISHED; the server retransmits its SYN-ACK 5 times (1, 3, 7, 15, 31 s after \
              the first) and drops the request at 63 s. At 70 s the client sends data: the \
              server no longer knows it and answers RST.",
    run: third_ack_lost,
};

fn conn_error(w: &mut World, fd: Fd) -> Option<Errno> {
    match w
        .sim
        .call(w.client, |st, _| st.getsockopt(fd, SockOptName::Error))
    {
        Ok(SockOpt::Error(e)) => e,
        _ => None,
    }
}

/// Linux's SYN schedule (`tcp_retransmit_timer` + `tcp_write_timeout`): the RTO starts at
/// 1 s, stays there for the first `linear` retransmissions, then doubles (to 120 s at most);
/// connect() gives up when `retries + linear` retransmissions were sent or the time budget
/// of `retries` doublings from 1 s (`tcp_model_timeout`) has passed.
pub fn syn_schedule(retries: u32, linear: u32) -> (Vec<Instant>, Instant) {
    let budget = if retries <= 6 {
        (2u64 << retries) - 1
    } else {
        127 + (retries as u64 - 6) * 120
    };
    let (mut t, mut rto, mut sent) = (0u64, 1u64, 0u32);
    let mut syns = vec![at(0.0)];
    loop {
        t += rto;
        if sent >= retries + linear || t >= budget {
            return (syns, at(t as f64));
        }
        syns.push(at(t as f64));
        sent += 1;
        if sent > linear {
            rto = (rto * 2).min(120);
        }
    }
}

fn syn_lost(w: &mut World) -> Verdict {
    let c = w.client;
    w.sim
        .add_rule(Rule::drop("drop every SYN", Some(c), None, Match::Syn));
    let fd = w.connect();
    let (want_syns, want_fail) = syn_schedule(
        w.config.tcp_syn_retries.into(),
        w.config.tcp_syn_linear_timeouts.into(),
    );
    w.run_until(want_fail.as_secs_f64() + 10.0);
    let syns = w.sent(c, Match::Syn);
    let failed = w.transitions(c, Some(TcpState::SynSent), TcpState::Closed);
    let err = conn_error(w, fd);
    let Some(f) = failed.first() else {
        return Verdict::new(
            false,
            format!("connect() never failed; SYNs at {} s", times(&syns)),
        );
    };
    let timing_ok = syns == want_syns && *f == want_fail;
    Verdict::new(
        err == Some(Errno::ETIMEDOUT) && timing_ok,
        format!(
            "connect() failed with {} at {} s after {} SYNs (sent at {} s)",
            err.map(|e| e.name()).unwrap_or("no error"),
            secs(*f),
            syns.len(),
            times(&syns)
        ),
    )
}

fn synack_lost(w: &mut World) -> Verdict {
    let (c, s) = (w.client, w.server);
    w.sim.add_rule(Rule::drop(
        "drop every SYN-ACK",
        Some(s),
        None,
        Match::SynAck,
    ));
    w.listen(128);
    let fd = w.connect();
    w.run_until(300.0);
    let syns = w.sent(c, Match::Syn);
    let synacks = w.sent(s, Match::SynAck);
    let failed = w.transitions(c, Some(TcpState::SynSent), TcpState::Closed);
    let dropped = w.transitions(s, Some(TcpState::SynRecv), TcpState::Closed);
    let err = conn_error(w, fd);
    // Each SYN that reached the server was answered at once.
    let answered = syns.iter().all(|t| synacks.contains(&(*t + LATENCY)));
    let ok = err == Some(Errno::ETIMEDOUT)
        && answered
        && !dropped.is_empty()
        && synacks.len() > syns.len();
    Verdict::new(
        ok,
        format!(
            "client SYNs at {} s, connect() {} at {} s; server SYN-ACKs at {} s ({} answers to SYNs, \
             the rest its own retransmissions), request dropped at {} s",
            times(&syns),
            err.map(|e| e.name()).unwrap_or("did not fail"),
            failed.first().map(|t| secs(*t)).unwrap_or_else(|| "-".into()),
            times(&synacks),
            syns.len(),
            dropped.first().map(|t| secs(*t)).unwrap_or_else(|| "-".into()),
        ),
    )
}

fn third_ack_lost(w: &mut World) -> Verdict {
    let (c, s) = (w.client, w.server);
    w.sim.add_rule(
        Rule::drop(
            "drop the client's bare ACKs",
            Some(c),
            Some(s),
            Match::PureAck,
        )
        .during(at(0.0), at(70.0)),
    );
    let l = w.listen(128);
    let fd = w.connect();
    w.run_until(70.0);
    let client_state = w.state(c, fd);
    let synacks = w.sent(s, Match::SynAck);
    let dropped = w.transitions(s, Some(TcpState::SynRecv), TcpState::Closed);
    let nothing_to_accept = w.sim.call(s, |st, now| st.accept(now, l)) == Err(Errno::EAGAIN);
    w.sim.call(c, |st, now| st.write(now, fd, b"hello")).ok();
    w.run_until(72.0);
    let mut buf = [0u8; 16];
    let read = w.sim.call(c, |st, now| st.read(now, fd, &mut buf));
    let rst = w
        .sim
        .events()
        .iter()
        .filter(|e| e.host == s && e.at >= at(70.0))
        .any(|e| matches!(&e.kind, SimEventKind::Stack(EventKind::Send(x)) if is_rst(x.flags)));
    let ok = client_state == TcpState::Established
        && synacks.len() == 1 + w.config.tcp_synack_retries as usize
        && !dropped.is_empty()
        && nothing_to_accept
        && rst
        && read == Err(Errno::ECONNRESET);
    Verdict::new(
        ok,
        format!(
            "client {} while the server sent SYN-ACKs at {} s and dropped the request at {} s; \
             the client's data at 70 s drew {} and read() returned {}",
            client_state,
            times(&synacks),
            dropped
                .first()
                .map(|t| secs(*t))
                .unwrap_or_else(|| "-".into()),
            if rst { "a RST" } else { "no RST" },
            crate::errno_text(&read)
        ),
    )
}
