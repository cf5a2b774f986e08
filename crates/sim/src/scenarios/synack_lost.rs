//! 第二次握手一直丢包: every SYN-ACK is lost; both sides retransmit.
use super::*;
use crate::Rule;

pub const SCENARIO: Scenario = Scenario {
    name: "synack-lost",
    section: "三次握手 / 第二次握手一直丢包",
    summary: "Every SYN-ACK is lost (25 ms one way). The client keeps retransmitting its SYN \
              until connect() fails; the server answers each SYN with a SYN-ACK and restarts \
              its timer, retransmits on its own timer (tcp_synack_retries = 5) in between, and \
              finally drops the request.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    w.sim.add_rule(Rule::drop(
        "drop every SYN-ACK",
        Some(s),
        None,
        Match::SynAck,
    ));
    w.listen(128)?;
    let fd = w.connect()?;
    w.run_until(600.0);
    let syns = w.sent(c, Match::Syn);
    let syns_in = w.delivered(s, Match::Syn);
    let synacks = w.sent(s, Match::SynAck);
    let timer_synacks: Vec<Instant> = w
        .timers(s, TimerKind::Retransmit)
        .into_iter()
        .filter(|t| synacks.contains(t))
        .collect();
    let failed = w.transitions(c, Some(TcpState::SynSent), TcpState::Closed);
    let dropped = w.transitions(s, Some(TcpState::SynRecv), TcpState::Closed);
    let err = w.so_error(c, fd);
    // Each SYN that reached the server was answered at once.
    let answered = syns_in.iter().filter(|t| synacks.contains(t)).count();
    let ok = err == Some(Errno::ETIMEDOUT)
        && answered == syns_in.len()
        && (!timer_synacks.is_empty() || w.config.tcp_synack_retries == 0)
        && !dropped.is_empty();
    Ok(Verdict::new(
        ok,
        format!(
            "client SYNs at {} s, connect() {} at {} s; server SYN-ACKs at {} s ({} answers to \
             the {} SYNs that arrived, {} from its own timer), request dropped at {} s",
            times(&syns),
            err.map(|e| e.name()).unwrap_or("did not fail"),
            first(&failed),
            times(&synacks),
            answered,
            syns_in.len(),
            timer_synacks.len(),
            first(&dropped),
        ),
    ))
}
