//! Simultaneous open (RFC 9293 figure 8): two SYNs cross, no listener anywhere.
use super::*;

pub const SCENARIO: Scenario = Scenario {
    name: "simultaneous-open",
    section: "三次握手",
    summary: "Both sides bind a port and connect() to each other at the same moment (client \
              10.0.0.1:5000, server 10.0.0.2:6000, 25 ms one way). The SYNs cross: each goes \
              SYN-SENT → SYN-RECEIVED and answers with SYN-ACK, then ESTABLISHED, without any \
              listener; then they exchange data both ways.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

fn open(w: &mut World, h: HostId, local: SocketAddr, peer: SocketAddr) -> Step<Fd> {
    w.sim.call(h, |st, now| {
        let fd = st
            .socket(now)
            .map_err(|e| format!("socket(): {}", e.name()))?;
        st.bind(now, fd, local)
            .map_err(|e| format!("bind({local}): {}", e.name()))?;
        match st.connect(now, fd, peer) {
            Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
            Err(e) => Err(format!("connect({peer}): {}", e.name())),
        }
    })
}

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let (ca, sa) = (SocketAddr::new(CLIENT, 5000), SocketAddr::new(SERVER, 6000));
    let x = open(w, c, ca, sa)?;
    let y = open(w, s, sa, ca)?;
    w.run_until(1.0);
    w.sim.call(c, |st, now| st.write(now, x, b"ping")).ok();
    w.sim.call(s, |st, now| st.write(now, y, b"pong")).ok();
    w.run_until(2.0);
    let mut buf = [0u8; 8];
    let got_c = w
        .sim
        .call(c, |st, now| st.read(now, x, &mut buf))
        .ok()
        .map(|n| buf[..n].to_vec());
    let got_s = w
        .sim
        .call(s, |st, now| st.read(now, y, &mut buf))
        .ok()
        .map(|n| buf[..n].to_vec());
    let want = [TcpState::SynSent, TcpState::SynRecv, TcpState::Established];
    let (pc, ps) = (w.path(c), w.path(s));
    let est_c = w.transitions(c, Some(TcpState::SynRecv), TcpState::Established);
    let est_s = w.transitions(s, Some(TcpState::SynRecv), TcpState::Established);
    let data_ok = got_c.as_deref() == Some(b"pong") && got_s.as_deref() == Some(b"ping");
    Ok(Verdict::new(
        pc == want && ps == want && data_ok,
        format!(
            "client {} (ESTABLISHED at {} s), server {} (ESTABLISHED at {} s); data {}",
            show_path(&pc),
            first(&est_c),
            show_path(&ps),
            first(&est_s),
            if data_ok {
                "exchanged both ways"
            } else {
                "NOT exchanged"
            }
        ),
    ))
}
