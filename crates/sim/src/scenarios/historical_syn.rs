//! 为什么需要三次握手 — 防止历史连接: an old duplicate SYN of an abandoned connection
//! reaches the server before the new one; the server answers it, the client sees a SYN-ACK
//! for a sequence number it never used now and answers RST, the server drops the stale
//! request, and the new SYN then connects normally (RFC 9293 figure 8, "recovery from old
//! duplicate SYN").
use super::*;
use crate::Rule;

pub const SCENARIO: Scenario = Scenario {
    name: "historical-syn",
    section: "三次握手 / 为什么需要三次握手",
    summary: "Why three-way (25 ms one way): the client's connect() at 0 s from port 40000 \
              has its SYN held in the network for 1 s; the application gives up (close() at 0.5 s) and \
              connects again from the same port at 1 s, with a new ISN (its SYN takes 100 ms \
              longer than usual). The old SYN arrives first: the server answers it with a \
              SYN-ACK, the client sees an ACK of an ISN it is not using and answers RST, the \
              server drops that request (TcpExtEmbryonicRsts); the new SYN then connects \
              normally. Without the third step the server could not tell the two apart.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

/// The client's port, both times.
const PORT: u16 = 40000;

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    w.sim.add_rule(
        Rule::drop(
            "an old SYN lingers in the network",
            Some(c),
            Some(s),
            Match::Syn,
        )
        .nth(1)
        .delay(Duration::from_secs(1)),
    );
    w.sim.add_rule(
        Rule::drop(
            "the new SYN takes a slower path",
            Some(c),
            Some(s),
            Match::Syn,
        )
        .nth(2)
        .delay(Duration::from_millis(100)),
    );
    let l = w.listen(128)?;
    let local = SocketAddr::new(CLIENT, PORT);
    let server = w.server_addr();
    let connect = |w: &mut World| -> Step<Fd> {
        w.sim.call(c, |st, now| {
            let fd = expect("client socket()", st.socket(now))?;
            expect(
                "client setsockopt(SO_REUSEADDR)",
                st.setsockopt(now, fd, SockOpt::ReuseAddr(true)),
            )?;
            expect("client bind()", st.bind(now, fd, local))?;
            match st.connect(now, fd, server) {
                Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
                Err(e) => Err(format!("client connect() failed: {}", e.name())),
            }
        })
    };
    let old = connect(w)?;
    w.run_until(0.5);
    // The application gives up on the first attempt (a connect timeout of its own).
    w.sim.call(c, |st, now| st.close(now, old)).ok();
    w.run_until(1.0);
    let fd = connect(w)?;
    w.run_until(3.0);
    let accepted = w.accept_all(l);

    // What happened, from the event stream.
    let syns: Vec<(Instant, u32)> = sends(w, c, Match::Syn);
    let (Some(&(_, old_isn)), Some(&(_, new_isn))) = (syns.first(), syns.get(1)) else {
        return Ok(Verdict::fail(format!(
            "the client sent {} SYNs, not two connections' worth",
            syns.len()
        )));
    };
    let synacks = sends_full(w, s, Match::SynAck);
    let stale_synack = synacks
        .iter()
        .find(|(_, x)| x.ack == old_isn.wrapping_add(1))
        .map(|(t, _)| *t);
    let good_synack = synacks
        .iter()
        .find(|(_, x)| x.ack == new_isn.wrapping_add(1))
        .map(|(t, _)| *t);
    let rst = sends_full(w, c, Match::Rst)
        .into_iter()
        .find(|(_, x)| x.seq == old_isn.wrapping_add(1))
        .map(|(t, _)| t);
    let dropped = w
        .transitions(s, Some(TcpState::SynRecv), TcpState::Closed)
        .first()
        .copied();
    let client_est = w
        .transitions_on(
            c,
            local,
            server,
            Some(TcpState::SynSent),
            TcpState::Established,
        )
        .first()
        .copied();
    let server_est = w
        .transitions_on(
            s,
            server,
            local,
            Some(TcpState::SynRecv),
            TcpState::Established,
        )
        .len();
    let state = w.state(c, fd);
    let embryonic = w
        .sim
        .stack(s)
        .counters()
        .get(synack_core::Counter::EmbryonicRsts);
    let (Some(ss), Some(r), Some(d), Some(gs), Some(ce)) =
        (stale_synack, rst, dropped, good_synack, client_est)
    else {
        return Ok(Verdict::fail(format!(
            "the story went otherwise: SYN-ACK to the old SYN at {} s, client RST for it at \
             {} s, server dropped the request at {} s, SYN-ACK to the new SYN at {} s, client \
             ESTABLISHED at {} s",
            opt(stale_synack),
            opt(rst),
            opt(dropped),
            opt(good_synack),
            opt(client_est)
        )));
    };
    let ok = ss < r
        && r <= d
        && d < gs
        && gs < ce
        && server_est == 1
        && accepted.len() == 1
        && embryonic == 1
        && state == TcpState::Established;
    Ok(Verdict::new(
        ok,
        format!(
            "the old SYN (ISN {old_isn}) drew a SYN-ACK at {} s; the client, now at ISN \
             {new_isn}, answered RST at {} s; the server dropped the stale request at {} s; \
             TcpExtEmbryonicRsts {embryonic}; the new SYN's SYN-ACK at {} s, client \
             ESTABLISHED at {} s; the server established {} connection(s), accept() \
             returned {}",
            secs(ss),
            secs(r),
            secs(d),
            secs(gs),
            secs(ce),
            server_est,
            accepted.len()
        ),
    ))
}

fn opt(t: Option<Instant>) -> String {
    t.map(secs).unwrap_or_else(|| "-".into())
}

/// (time, seq) of the segments `h` sent that match `m`.
fn sends(w: &World, h: HostId, m: Match) -> Vec<(Instant, u32)> {
    sends_full(w, h, m)
        .into_iter()
        .map(|(t, s)| (t, s.seq))
        .collect()
}

fn sends_full(w: &World, h: HostId, m: Match) -> Vec<(Instant, synack_core::SegmentInfo)> {
    w.sim
        .events_of(h)
        .filter_map(|e| match &e.kind {
            SimEventKind::Stack(EventKind::Send(s)) if m.matches(Some(s)) => Some((e.at, *s)),
            _ => None,
        })
        .collect()
}
