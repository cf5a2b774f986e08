//! 三次握手, a request and a reply, 四次挥手, then TIME_WAIT for 2MSL (60 s).
use super::*;

pub const SCENARIO: Scenario = Scenario {
    name: "handshake",
    summary: "Three-way handshake, a request and a reply, the four-way close, and the \
              active closer's TIME_WAIT lasting 60 s before CLOSED. Client 10.0.0.1, server \
              10.0.0.2:80, 25 ms each way.",
    run,
};

fn run(w: &mut World) -> Verdict {
    let (c, s) = (w.client, w.server);
    let Some((fd, _, conn)) = w.establish() else {
        return Verdict::new(false, "the server never had a connection to accept");
    };
    w.sim
        .call(c, |st, now| st.write(now, fd, b"GET / HTTP/1.0\r\n\r\n"))
        .ok();
    w.sim.run_until_cond(at(5.0), |sim| {
        sim.stack(s).poll(conn).is_ok_and(|r| r.readable)
    });
    let mut buf = [0u8; 1024];
    let n = w
        .sim
        .call(s, |st, now| st.read(now, conn, &mut buf))
        .unwrap_or(0);
    let got_request = &buf[..n] == b"GET / HTTP/1.0\r\n\r\n";
    w.sim
        .call(s, |st, now| {
            st.write(now, conn, b"HTTP/1.0 200 OK\r\n\r\nhello")
        })
        .ok();
    w.sim.run_until_cond(at(5.0), |sim| {
        sim.stack(c).poll(fd).is_ok_and(|r| r.readable)
    });
    let n = w
        .sim
        .call(c, |st, now| st.read(now, fd, &mut buf))
        .unwrap_or(0);
    let reply_at = w.sim.now();
    let got_reply = buf[..n].starts_with(b"HTTP/1.0 200 OK");
    // The client closes first: it is the one that waits in TIME_WAIT.
    w.sim.call(c, |st, now| st.close(now, fd)).ok();
    w.sim.run_until_cond(at(10.0), |sim| {
        sim.stack(s).poll(conn).is_ok_and(|r| r.read_hup)
    });
    w.sim.call(s, |st, now| st.close(now, conn)).ok();
    w.sim.run_for(Duration::from_secs(61));

    let est = w.transitions(c, None, TcpState::Established);
    let tw = w.transitions(c, None, TcpState::TimeWait);
    let closed = w.transitions(c, Some(TcpState::TimeWait), TcpState::Closed);
    let last_ack = w.transitions(s, Some(TcpState::LastAck), TcpState::Closed);
    match (est.first(), tw.first(), closed.first(), last_ack.first()) {
        (Some(e), Some(t), Some(cl), Some(la)) if got_request && got_reply => {
            let wait = cl.saturating_duration_since(*t);
            Verdict::new(
                wait == w.config.time_wait_len,
                format!(
                    "connected at {} s (1 RTT), reply read at {} s, server LAST_ACK → CLOSED at {} s, \
                     client TIME_WAIT from {} s to {} s ({} s)",
                    secs(*e),
                    secs(reply_at),
                    secs(*la),
                    secs(*t),
                    secs(*cl),
                    wait.as_secs_f64()
                ),
            )
        }
        _ => Verdict::new(
            false,
            "the handshake, the exchange or the close did not complete",
        ),
    }
}
