//! 全连接队列溢出: the application does not call accept(); the accept queue fills to
//! min(backlog, somaxconn) + 1 and what happens next depends on tcp_abort_on_overflow.
use super::*;
use synack_core::Counter;

/// listen() backlog in these stories.
const BACKLOG: i32 = 2;
/// Clients connecting at once.
const CLIENTS: usize = 5;
/// When the application finally calls accept().
const ACCEPT_AT: f64 = 10.0;

pub const OVERFLOW: Scenario = Scenario {
    name: "accept-queue-overflow",
    section: "三次握手在内核中的流程 / 半连接队列和全连接队列",
    summary: "The server listens with backlog 2 and does not call accept() for 10 s while 5 \
              clients connect, one every 200 ms, and send a request (25 ms one way). The accept \
              queue holds backlog + 1 = 3 children (ss: Recv-Q 3, Send-Q 2). Seed profile: the \
              other clients' final ACKs are dropped (tcp_abort_on_overflow = 0, ListenOverflows), \
              the server keeps retransmitting its SYN-ACK and the clients their requests; linux \
              profile: their SYNs are dropped and they retry them. At 10 s the application \
              accepts, and every client completes.",
    run: |w| story(w, false).unwrap_or_else(Verdict::fail),
};

pub const OVERFLOW_RST: Scenario = Scenario {
    name: "accept-queue-overflow-rst",
    section: "三次握手在内核中的流程 / 半连接队列和全连接队列",
    summary: "The same (25 ms one way), with tcp_abort_on_overflow = 1. Seed profile: the clients whose final \
              ACK finds the accept queue full are answered with RST at once and fail with \
              ECONNRESET; the 3 queued ones are accepted at 10 s. Linux profile: a full accept \
              queue already drops the SYN, so no final ACK overflows and nobody is reset: the \
              late clients retry their SYNs and complete after accept().",
    run: |w| story(w, true).unwrap_or_else(Verdict::fail),
};

fn story(w: &mut World, abort: bool) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    if abort {
        w.sim
            .call(s, |st, _| st.config_mut().tcp_abort_on_overflow = true);
    }
    let l = w.listen(BACKLOG)?;
    let mut fds = Vec::new();
    // Each client connects 200 ms after the previous one and sends its request as soon as
    // it is connected; from ACCEPT_AT on, the application accepts and reads everything.
    let mut wrote = [false; CLIENTS];
    let mut accepted: Vec<(Instant, Fd)> = Vec::new();
    let mut served = 0;
    let mut snapshot = None;
    let end = at(ACCEPT_AT + 60.0);
    while w.sim.now() < end {
        if fds.len() < CLIENTS && w.sim.now() >= at(0.2 * fds.len() as f64) {
            fds.push(w.connect()?);
        }
        for (k, fd) in fds.iter().enumerate() {
            if !wrote[k] && w.sim.stack(c).poll(*fd).is_ok_and(|r| r.writable) {
                wrote[k] = w
                    .sim
                    .call(c, |st, now| st.write(now, *fd, b"GET /\r\n"))
                    .is_ok();
            }
        }
        if w.sim.now() >= at(ACCEPT_AT) {
            if snapshot.is_none() {
                let l_info = w
                    .sim
                    .stack(s)
                    .sockets(w.sim.now())
                    .into_iter()
                    .find(|x| x.state == TcpState::Listen);
                let overflows = w.sim.stack(s).counters().get(Counter::ListenOverflows);
                snapshot = Some((
                    l_info.map(|x| (x.recv_q, x.send_q)).unwrap_or((0, 0)),
                    overflows,
                ));
            }
            while let Ok((fd, _)) = w.sim.call(s, |st, now| st.accept(now, l)) {
                accepted.push((w.sim.now(), fd));
            }
            for (_, fd) in &accepted {
                let mut buf = [0u8; 64];
                if w.sim
                    .call(s, |st, now| st.read(now, *fd, &mut buf))
                    .is_ok_and(|n| n > 0)
                {
                    served += 1;
                }
            }
        }
        let next = if fds.len() < CLIENTS {
            at(0.2 * fds.len() as f64)
        } else if snapshot.is_none() {
            at(ACCEPT_AT)
        } else {
            end
        };
        if !w.sim.step(next) && next >= end {
            break;
        }
    }
    let ((recv_q, send_q), overflows) = snapshot.ok_or("the story ended before accept()")?;
    let reset = fds
        .iter()
        .filter(|fd| w.sim.stack(c).state(**fd) == Ok(TcpState::Closed))
        .count();
    let mut errors = Vec::new();
    for fd in &fds {
        if let Some(e) = w.so_error(c, *fd) {
            errors.push(e.name());
        }
    }
    let rsts = w.sent(s, Match::Rst).len();
    let late: Vec<Instant> = accepted
        .iter()
        .map(|a| a.0)
        .filter(|t| *t > at(ACCEPT_AT))
        .collect();
    let full = BACKLOG as u32 + 1;
    let line = format!(
        "before accept(): listener Recv-Q {recv_q}, Send-Q {send_q}; ListenOverflows {overflows}; \
         accepted {} ({}), requests read {served}; server RSTs {rsts}, clients reset {reset} ({})",
        accepted.len(),
        if late.is_empty() {
            "none later".to_string()
        } else {
            format!("{} later, at {} s", late.len(), times(&late))
        },
        if errors.is_empty() {
            "no errors".to_string()
        } else {
            errors.join(", ")
        },
    );
    let extra = CLIENTS - full as usize;
    let resets_expected = abort && w.config.profile == Profile::Seed;
    let pass = recv_q == full
        && send_q == BACKLOG as u32
        && overflows > 0
        && if resets_expected {
            accepted.len() == full as usize && rsts >= extra && reset == extra
        } else {
            accepted.len() == CLIENTS && served == CLIENTS && rsts == 0 && reset == 0
        };
    Ok(Verdict::new(pass, line))
}
