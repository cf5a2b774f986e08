//! so_linger: "如果 l_onoff 为非 0，且 l_linger 值为 0，那么调用 close 后，会立刻发送一个 RST
//! 报文给对端，该 TCP 连接将跳过四次挥手，也就是会跳过 time_wait 状态" — and the other way
//! close() sends RST: data the application never read.
use super::*;
use synack_core::Counter;

pub const SCENARIO: Scenario = Scenario {
    name: "linger-rst",
    section: "关闭连接",
    summary: "Three connections (25 ms one way), each closed by the client. The first has \
              SO_LINGER {on, 0}: close() at 1 s sends RST instead of FIN and the connection \
              skips the four-way close and TIME_WAIT (TcpExtTCPAbortOnData); the server's read() \
              fails with ECONNRESET. The second has data from the server the client never read: \
              close() at 2 s sends RST too (TcpExtTCPAbortOnClose). The third has nothing \
              unread and no linger: close() at 3 s sends FIN and ends in TIME_WAIT — which is \
              also what Linux does for a process that exits or crashes (the document says RST).",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

/// One closing style: what the client's close() sent, and what the server saw.
struct Outcome {
    at: f64,
    rst: Vec<Instant>,
    fin: Vec<Instant>,
    time_wait: Vec<Instant>,
    server_read: Result<usize, Errno>,
}

impl Outcome {
    fn describe(&self) -> String {
        let sent = match (self.rst.first(), self.fin.first()) {
            (Some(_), None) => "sent RST (no FIN)".to_string(),
            (None, Some(_)) => "sent FIN".to_string(),
            (Some(_), Some(_)) => "sent FIN and RST".to_string(),
            (None, None) => "sent nothing".to_string(),
        };
        format!(
            "close() at {} s {sent}, {}, the server's read() returned {}",
            self.at,
            match self.time_wait.first() {
                Some(t) => format!("TIME_WAIT at {} s", secs(*t)),
                None => "no TIME_WAIT".to_string(),
            },
            crate::errno_text(&self.server_read)
        )
    }
}

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let srv = w.server_addr();
    let (a, l, a_srv) = w.establish()?;
    let mut pairs = vec![(a, a_srv)];
    for _ in 0..2 {
        let fd = w.connect()?;
        let limit = w.sim.now() + Duration::from_secs(5);
        w.sim
            .run_until_cond(limit, |sim| sim.stack(s).poll(l).is_ok_and(|r| r.readable));
        let (conn, _) = expect("accept()", w.sim.call(s, |st, now| st.accept(now, l)))?;
        pairs.push((fd, conn));
    }
    let b_srv = pairs[1].1;
    expect(
        "setsockopt(SO_LINGER)",
        w.sim
            .call(c, |st, now| st.setsockopt(now, a, SockOpt::Linger(Some(0)))),
    )?;
    w.run_until(0.5);
    // The server answers the second client, which never reads it.
    expect(
        "server write()",
        w.sim
            .call(s, |st, now| st.write(now, b_srv, b"unread reply")),
    )?;
    let locals: Vec<SocketAddr> = pairs.iter().map(|(fd, _)| w.local_of(c, *fd)).collect();
    let mut outcomes = Vec::new();
    for (k, (fd, conn)) in pairs.iter().enumerate() {
        let t = 1.0 + k as f64;
        w.run_until(t);
        let before = w.sim.stack(c).counters().clone();
        expect("close()", w.sim.call(c, |st, now| st.close(now, *fd)))?;
        let after = w.sim.stack(c).counters().clone();
        let conn = *conn;
        w.sim.run_until_cond(at(t + 0.5), |sim| {
            sim.stack(s).poll(conn).is_ok_and(|r| r.readable)
        });
        let mut buf = [0u8; 64];
        let server_read = w.sim.call(s, |st, now| st.read(now, conn, &mut buf));
        if server_read == Ok(0) {
            w.sim.call(s, |st, now| st.close(now, conn)).ok();
        }
        w.run_until(t + 0.9);
        let since =
            |v: Vec<Instant>| -> Vec<Instant> { v.into_iter().filter(|x| *x >= at(t)).collect() };
        outcomes.push((
            Outcome {
                at: t,
                rst: since(w.sent_on(c, Match::Rst, locals[k], srv)),
                fin: since(w.sent_on(c, Match::Fin, locals[k], srv)),
                time_wait: w.transitions_on(c, locals[k], srv, None, TcpState::TimeWait),
                server_read,
            },
            (
                after.get(Counter::TcpAbortOnData) - before.get(Counter::TcpAbortOnData),
                after.get(Counter::TcpAbortOnClose) - before.get(Counter::TcpAbortOnClose),
            ),
        ));
    }
    let reset = |o: &Outcome| {
        !o.rst.is_empty()
            && o.fin.is_empty()
            && o.time_wait.is_empty()
            && o.server_read == Err(Errno::ECONNRESET)
    };
    let (linger, unread, normal) = (&outcomes[0], &outcomes[1], &outcomes[2]);
    let pass = reset(&linger.0)
        && linger.1 == (1, 0)
        && reset(&unread.0)
        && unread.1 == (0, 1)
        && normal.0.rst.is_empty()
        && !normal.0.fin.is_empty()
        && !normal.0.time_wait.is_empty()
        && normal.0.server_read == Ok(0);
    Ok(Verdict::new(
        pass,
        format!(
            "SO_LINGER {{on, 0}}: {} (TcpExtTCPAbortOnData +{}); unread data: {} \
             (TcpExtTCPAbortOnClose +{}); nothing unread: {}",
            linger.0.describe(),
            linger.1 .0,
            unread.0.describe(),
            unread.1 .1,
            normal.0.describe(),
        ),
    ))
}
