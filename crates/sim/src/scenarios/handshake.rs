//! 三次握手, a request and a reply, 四次挥手, then TIME_WAIT for 2MSL (60 s).
use super::*;

pub const SCENARIO: Scenario = Scenario {
    name: "handshake",
    section: "三次握手; 四次挥手",
    summary: "Three-way handshake, a request and a reply, the four-way close, and the \
              active closer's TIME_WAIT lasting 60 s before CLOSED. Client 10.0.0.1, server \
              10.0.0.2:80, 25 ms one way (RTT 50 ms), no loss.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nhello";

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let (fd, _, conn) = w.establish()?;
    w.sim.call(c, |st, now| st.write(now, fd, REQUEST)).ok();
    w.run_until_readable(s, conn, 5.0);
    let mut buf = [0u8; 1024];
    let n = w
        .sim
        .call(s, |st, now| st.read(now, conn, &mut buf))
        .unwrap_or(0);
    let got_request = &buf[..n] == REQUEST;
    w.sim.call(s, |st, now| st.write(now, conn, REPLY)).ok();
    w.run_until_readable(c, fd, 5.0);
    let n = w
        .sim
        .call(c, |st, now| st.read(now, fd, &mut buf))
        .unwrap_or(0);
    let reply_at = w.sim.now();
    let got_reply = &buf[..n] == REPLY;
    // The client closes first: it is the active closer, the one that waits in TIME_WAIT.
    w.sim.call(c, |st, now| st.close(now, fd)).ok();
    w.sim.run_until_cond(at(10.0), |sim| {
        sim.stack(s).poll(conn).is_ok_and(|r| r.read_hup)
    });
    w.sim.call(s, |st, now| st.close(now, conn)).ok();
    w.sim.run_for(Duration::from_secs(61));

    let est = w.transitions(c, Some(TcpState::SynSent), TcpState::Established);
    let tw = w.transitions(c, None, TcpState::TimeWait);
    let closed = w.transitions(c, Some(TcpState::TimeWait), TcpState::Closed);
    let last_ack = w.transitions(s, Some(TcpState::LastAck), TcpState::Closed);
    let (Some(e), Some(t), Some(cl), Some(la)) =
        (est.first(), tw.first(), closed.first(), last_ack.first())
    else {
        return Ok(Verdict::fail(format!(
            "the story did not complete: client ESTABLISHED at {} s, TIME_WAIT at {} s, \
             CLOSED at {} s; server LAST_ACK → CLOSED at {} s",
            first(&est),
            first(&tw),
            first(&closed),
            first(&last_ack)
        )));
    };
    let wait = cl.saturating_duration_since(*t);
    Ok(Verdict::new(
        got_request && got_reply && wait == w.config.time_wait_len,
        format!(
            "connected at {} s (1 RTT), request {}, reply {} at {} s, server LAST_ACK → \
             CLOSED at {} s, client TIME_WAIT from {} s to {} s ({} s)",
            secs(*e),
            if got_request {
                "delivered"
            } else {
                "NOT delivered"
            },
            if got_reply { "read" } else { "NOT read" },
            secs(reply_at),
            secs(*la),
            secs(*t),
            secs(*cl),
            wait.as_secs_f64()
        ),
    ))
}
