//! 第三次握手一直丢包: the client is ESTABLISHED, the server never hears so.
use super::*;
use crate::Rule;

pub const SCENARIO: Scenario = Scenario {
    name: "third-ack-lost",
    section: "三次握手 / 第三次握手一直丢包",
    summary: "The client's final ACK is lost, and so is every bare ACK it sends until 70 s \
              (25 ms one way). The client is ESTABLISHED; the server retransmits its SYN-ACK 5 \
              times (1, 3, 7, 15, 31 s after the first) and drops the request at 63 s. At 70 s \
              the client sends data: the server no longer knows the connection and answers RST; \
              the client's read() fails with ECONNRESET.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

/// When the client finally sends data.
const DATA_AT: f64 = 70.0;

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    w.sim.add_rule(
        Rule::drop(
            "drop the client's bare ACKs",
            Some(c),
            Some(s),
            Match::PureAck,
        )
        .during(at(0.0), at(DATA_AT)),
    );
    let l = w.listen(128)?;
    let fd = w.connect()?;
    w.run_until(DATA_AT);
    let client_state = w.state(c, fd);
    let synacks = w.sent(s, Match::SynAck);
    let dropped = w.transitions(s, Some(TcpState::SynRecv), TcpState::Closed);
    let nothing_to_accept = w.sim.call(s, |st, now| st.accept(now, l)) == Err(Errno::EAGAIN);
    w.sim.call(c, |st, now| st.write(now, fd, b"hello")).ok();
    w.run_until(DATA_AT + 2.0);
    let mut buf = [0u8; 16];
    let read = w.sim.call(c, |st, now| st.read(now, fd, &mut buf));
    let rsts: Vec<Instant> = w
        .sent(s, Match::Rst)
        .into_iter()
        .filter(|t| *t >= at(DATA_AT))
        .collect();
    let ok = client_state == TcpState::Established
        && synacks.len() == 1 + w.config.tcp_synack_retries as usize
        && !dropped.is_empty()
        && nothing_to_accept
        && !rsts.is_empty()
        && read == Err(Errno::ECONNRESET);
    Ok(Verdict::new(
        ok,
        format!(
            "client {} while the server sent {} SYN-ACKs (at {} s) and dropped the request at \
             {} s{}; the client's data at {} s drew {} and read() returned {}",
            client_state,
            synacks.len(),
            times(&synacks),
            first(&dropped),
            if nothing_to_accept {
                ""
            } else {
                " (but accept() found a connection)"
            },
            DATA_AT,
            if rsts.is_empty() {
                "no RST".to_string()
            } else {
                format!("a RST at {} s", first(&rsts))
            },
            crate::errno_text(&read)
        ),
    ))
}
