//! 第二次挥手的优化: an orphaned FIN_WAIT_2 (after close()) lives tcp_fin_timeout; after
//! shutdown(SHUT_WR) FIN_WAIT_2 lasts as long as the peer keeps its side open.
use super::*;
use synack_core::Shutdown;

/// When the client closes / shuts down.
const CLOSE_AT: f64 = 1.0;
const LATE: &[u8] = b"late reply";

pub const SCENARIO: Scenario = Scenario {
    name: "fin-wait-2-timeout",
    section: "四次挥手 / 第二次挥手的优化",
    summary: "Two connections (25 ms one way) whose server application reads EOF but does not \
              close (CLOSE_WAIT). At 1 s the client close()s the first: an orphan, its \
              FIN_WAIT_2 lasts tcp_fin_timeout (60 s) and then it is gone, so the server's data \
              at 70 s draws a RST and the server's next write() fails with EPIPE. At 1 s it \
              shutdown(SHUT_WR)s the second: not an orphan, its FIN_WAIT_2 has no time limit — \
              still there at 70 s, it reads the server's data; the server closes at 80 s and \
              the client goes to TIME_WAIT.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let srv = w.server_addr();
    let (a, l, a_srv) = w.establish()?;
    let b = w.connect()?;
    let limit = w.sim.now() + Duration::from_secs(5);
    w.sim
        .run_until_cond(limit, |sim| sim.stack(s).poll(l).is_ok_and(|r| r.readable));
    let (b_srv, _) = expect("accept()", w.sim.call(s, |st, now| st.accept(now, l)))?;
    let (la, lb) = (w.local_of(c, a), w.local_of(c, b));
    // The server, still in CLOSE_WAIT, finally sends something 9 s after the orphan's
    // FIN_WAIT_2 would have ended (70 s with the document's 60 s), and closes the
    // half-closed connection 10 s later.
    let fin_timeout = w.config.tcp_fin_timeout;
    let late_at = CLOSE_AT + fin_timeout.as_secs_f64() + 9.0;
    let server_close_at = late_at + 10.0;
    w.run_until(CLOSE_AT);
    expect("close()", w.sim.call(c, |st, now| st.close(now, a)))?;
    expect(
        "shutdown()",
        w.sim
            .call(c, |st, now| st.shutdown(now, b, Shutdown::Write)),
    )?;
    w.run_until(late_at);
    let srv_a = w.sim.stack(s).state(a_srv).unwrap_or(TcpState::Closed);
    let b_at_late = w.state(c, b);
    let tw_at_late = w.count_in(c, TcpState::FinWait2);
    expect(
        "server write()",
        w.sim.call(s, |st, now| st.write(now, a_srv, LATE)),
    )?;
    expect(
        "server write()",
        w.sim.call(s, |st, now| st.write(now, b_srv, LATE)),
    )?;
    w.run_until(late_at + 1.0);
    let again = w.sim.call(s, |st, now| st.write(now, a_srv, LATE));
    let mut buf = [0u8; 64];
    let got = w.sim.call(c, |st, now| st.read(now, b, &mut buf));
    let read_late = matches!(got, Ok(n) if &buf[..n] == LATE);
    w.run_until(server_close_at);
    expect(
        "server close()",
        w.sim.call(s, |st, now| st.close(now, b_srv)),
    )?;
    w.run_until(server_close_at + 1.0);

    let fw2 = |local| w.transitions_on(c, local, srv, Some(TcpState::FinWait1), TcpState::FinWait2);
    let (a_fw2, b_fw2) = (fw2(la), fw2(lb));
    let a_gone = w.transitions_on(c, la, srv, Some(TcpState::FinWait2), TcpState::Closed);
    let a_rst: Vec<Instant> = w
        .sent_on(c, Match::Rst, la, srv)
        .into_iter()
        .filter(|t| *t >= at(late_at))
        .collect();
    let b_tw = w.transitions_on(c, lb, srv, Some(TcpState::FinWait2), TcpState::TimeWait);
    let lived = match (a_fw2.first(), a_gone.first()) {
        (Some(x), Some(y)) => Some(y.saturating_duration_since(*x)),
        _ => None,
    };
    let pass = lived == Some(fin_timeout)
        && srv_a == TcpState::CloseWait
        && !a_rst.is_empty()
        && again == Err(Errno::EPIPE)
        && b_at_late == TcpState::FinWait2
        && read_late
        && b_tw.first().is_some_and(|t| *t > at(server_close_at));
    Ok(Verdict::new(
        pass,
        format!(
            "close(): FIN_WAIT_2 from {} s, gone at {} s ({} s, tcp_fin_timeout {} s) while \
             the server sat in {srv_a}; the server's data at {} s drew {}, its next \
             write() returned {}. shutdown(SHUT_WR): FIN_WAIT_2 from {} s, {b_at_late} at \
             {} s ({tw_at_late} FIN-WAIT-2 in ss), read() got {}; after the server's \
             close() at {} s, TIME_WAIT at {} s",
            first(&a_fw2),
            first(&a_gone),
            lived
                .map(|d| d.as_secs_f64().to_string())
                .unwrap_or_else(|| "-".into()),
            fin_timeout.as_secs(),
            late_at,
            match a_rst.first() {
                Some(t) => format!("a RST at {} s", secs(*t)),
                None => "no RST".into(),
            },
            crate::errno_text(&again),
            first(&b_fw2),
            late_at,
            if read_late {
                format!("{:?}", String::from_utf8_lossy(LATE))
            } else {
                crate::errno_text(&got)
            },
            server_close_at,
            first(&b_tw),
        ),
    ))
}
