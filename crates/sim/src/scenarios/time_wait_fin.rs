//! 为什么要有 time_wait 状态 (2): "保证被动关闭连接的一方能被正确关闭" — the last ACK is lost;
//! the server retransmits its FIN and the client, still in TIME_WAIT, ACKs it again.
use super::*;
use crate::Rule;
use synack_core::Counter;

/// When the client closes the first connection.
const CLOSE_AT: f64 = 1.0;
/// When the second connection (without TIME_WAIT) closes.
const SECOND_AT: f64 = 100.0;

pub const SCENARIO: Scenario = Scenario {
    name: "time-wait-retransmitted-fin",
    section: "四次挥手 / 为什么要有 time_wait 状态",
    summary: "The client closes at 1 s, the server closes when it reads EOF (25 ms one way), \
              and the client's last ACK is lost. The server, in LAST_ACK, retransmits its FIN \
              after its RTO; the client, in TIME_WAIT, ACKs it again and restarts its 60 s \
              (2MSL), and the server reaches CLOSED. Meanwhile the client's port is held: \
              bind() to it fails with EADDRINUSE until TIME_WAIT ends. Then the same close at \
              100 s without TIME_WAIT (tcp_max_tw_buckets 0): the retransmitted FIN finds no \
              connection and draws a RST.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

/// The client closes `fd` at `t`; the server closes `conn` as soon as it reads EOF; the
/// client's ACKs sent in the next 200 ms are lost (the ACK of the server's FIN among them).
fn close_losing_last_ack(w: &mut World, fd: Fd, conn: Fd, t: f64) -> Step<()> {
    let (c, s) = (w.client, w.server);
    w.run_until(t);
    w.sim.add_rule(
        Rule::drop(
            "drop the client's last ACK",
            Some(c),
            Some(s),
            Match::PureAck,
        )
        .during(at(t), at(t + 0.2)),
    );
    expect("close()", w.sim.call(c, |st, now| st.close(now, fd)))?;
    w.sim.run_until_cond(at(t + 5.0), |sim| {
        sim.stack(s).poll(conn).is_ok_and(|r| r.read_hup)
    });
    expect(
        "server close()",
        w.sim.call(s, |st, now| st.close(now, conn)),
    )?;
    Ok(())
}

fn bind_to(w: &mut World, addr: SocketAddr) -> Result<(), Errno> {
    let c = w.client;
    w.sim.call(c, |st, now| {
        let fd = st.socket(now)?;
        let r = st.bind(now, fd, addr);
        st.close(now, fd).ok();
        r
    })
}

/// A call's return value as strace shows it: `0` or `-1 EADDRINUSE`.
fn call_text(r: &Result<(), Errno>) -> String {
    match r {
        Ok(()) => "0".into(),
        Err(e) => format!("-1 {}", e.name()),
    }
}

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let srv = w.server_addr();
    let (fd, l, conn) = w.establish()?;
    let local = w.local_of(c, fd);
    close_losing_last_ack(w, fd, conn, CLOSE_AT)?;
    // The port is checked half way through TIME_WAIT, and after it.
    let tw_len = w.config.time_wait_len;
    let bind_at = CLOSE_AT + tw_len.as_secs_f64() / 2.0;
    w.run_until(bind_at);
    let bind_during = bind_to(w, local);
    w.run_until(CLOSE_AT + 5.0 + tw_len.as_secs_f64());
    let bind_after = bind_to(w, local);

    let fins = w.sent_on(s, Match::Fin, srv, local);
    let acks = w
        .sent_on(c, Match::PureAck, local, srv)
        .into_iter()
        .filter(|t| *t >= at(CLOSE_AT))
        .collect::<Vec<_>>();
    let lost = w
        .sim
        .events_of(c)
        .filter(|e| {
            matches!(&e.kind, SimEventKind::LinkDrop { seg: Some(x), .. }
                if x.src == local && Match::PureAck.matches(Some(x)))
        })
        .count();
    let tw = w.transitions_on(c, local, srv, None, TcpState::TimeWait);
    let tw_end = w.transitions_on(c, local, srv, Some(TcpState::TimeWait), TcpState::Closed);
    let last_ack = w.transitions_on(s, srv, local, Some(TcpState::LastAck), TcpState::Closed);
    let reack = acks.last().copied();
    let waited = match (reack, tw_end.first()) {
        (Some(a), Some(b)) => Some(b.saturating_duration_since(a)),
        _ => None,
    };

    // The same, without TIME_WAIT.
    w.sim
        .call(c, |st, _| st.config_mut().tcp_max_tw_buckets = 0);
    let fd2 = w.connect()?;
    let limit = w.sim.now() + Duration::from_secs(5);
    w.sim
        .run_until_cond(limit, |sim| sim.stack(s).poll(l).is_ok_and(|r| r.readable));
    let (conn2, _) = expect("accept()", w.sim.call(s, |st, now| st.accept(now, l)))?;
    let local2 = w.local_of(c, fd2);
    close_losing_last_ack(w, fd2, conn2, SECOND_AT)?;
    w.run_until(SECOND_AT + 10.0);
    let fins2 = w.sent_on(s, Match::Fin, srv, local2);
    let rst2 = w.sent_on(c, Match::Rst, local2, srv);
    let tw2 = w.transitions_on(c, local2, srv, None, TcpState::TimeWait);
    let tw2_end = w.transitions_on(c, local2, srv, Some(TcpState::TimeWait), TcpState::Closed);
    let skipped = !tw2.is_empty() && tw2 == tw2_end;
    let overflow = w.sim.stack(c).counters().get(Counter::TcpTimeWaitOverflow);
    let end2 = w.transitions_on(s, srv, local2, Some(TcpState::LastAck), TcpState::Closed);

    let pass = lost == 1
        && fins.len() == 2
        && acks.len() == 2
        && reack.is_some_and(|a| a > fins[1])
        && waited == Some(tw_len)
        && !last_ack.is_empty()
        && bind_during == Err(Errno::EADDRINUSE)
        && bind_after.is_ok()
        && fins2.len() == 2
        && rst2.first().is_some_and(|r| *r > fins2[1])
        && overflow == 1
        && skipped
        && end2.first().is_some_and(|t| *t > rst2[0]);
    Ok(Verdict::new(
        pass,
        format!(
            "the client's last ACK at {} s was lost; the server retransmitted its FIN at {} s; \
             the client, in TIME_WAIT since {} s, ACKed it again at {} s and waited {} s more, \
             to {} s; the server LAST_ACK → CLOSED at {} s; bind() to the client's port {} at \
             {bind_at} s returned {}, at {} s {}. Without TIME_WAIT (tcp_max_tw_buckets 0, \
             TcpExtTCPTimeWaitOverflow {overflow}, {}): the FIN retransmitted at {} s drew {}, \
             the server LAST_ACK → CLOSED at {} s",
            first(&acks),
            fins.get(1).map(|t| secs(*t)).unwrap_or_else(|| "-".into()),
            first(&tw),
            reack.map(secs).unwrap_or_else(|| "-".into()),
            waited
                .map(|d| d.as_secs_f64().to_string())
                .unwrap_or_else(|| "-".into()),
            first(&tw_end),
            first(&last_ack),
            local.port(),
            call_text(&bind_during),
            secs(at(CLOSE_AT + 5.0) + tw_len),
            call_text(&bind_after),
            if skipped {
                format!("TIME_WAIT skipped at {} s", first(&tw2))
            } else {
                format!("TIME_WAIT from {} to {} s", first(&tw2), first(&tw2_end))
            },
            fins2.get(1).map(|t| secs(*t)).unwrap_or_else(|| "-".into()),
            match rst2.first() {
                Some(t) => format!("a RST at {} s", secs(*t)),
                None => "no RST".into(),
            },
            first(&end2),
        ),
    ))
}
