//! 双方同时关闭 (and its mirror, simultaneous open).
use super::*;

pub const CLOSE: Scenario = Scenario {
    name: "simultaneous-close",
    summary: "Both sides call close() at the same moment. Each sends FIN from FIN_WAIT_1, \
              receives the other's FIN, goes to CLOSING (instead of FIN_WAIT_2), and on the ACK \
              enters TIME_WAIT: both sides wait 60 s.",
    run: close,
};

pub const OPEN: Scenario = Scenario {
    name: "simultaneous-open",
    summary: "Both sides connect() to each other at the same moment (client 10.0.0.1:5000, \
              server 10.0.0.2:6000). The SYNs cross: each goes SYN-SENT → SYN-RECEIVED and \
              answers with SYN-ACK, then ESTABLISHED, without any listener.",
    run: open,
};

fn close(w: &mut World) -> Verdict {
    let (c, s) = (w.client, w.server);
    let Some((fd, _, conn)) = w.establish() else {
        return Verdict::new(false, "no connection");
    };
    w.run_until(1.0);
    w.sim.call(c, |st, now| st.close(now, fd)).ok();
    w.sim.call(s, |st, now| st.close(now, conn)).ok();
    w.run_until(70.0);
    let want = [
        TcpState::FinWait1,
        TcpState::Closing,
        TcpState::TimeWait,
        TcpState::Closed,
    ];
    let tail = |p: Vec<TcpState>| {
        p.into_iter()
            .skip_while(|x| *x != TcpState::FinWait1)
            .collect::<Vec<_>>()
    };
    let (pc, ps) = (tail(w.path(c)), tail(w.path(s)));
    let tw_c = w.transitions(c, Some(TcpState::Closing), TcpState::TimeWait);
    let tw_s = w.transitions(s, Some(TcpState::Closing), TcpState::TimeWait);
    let show = |p: &[TcpState]| p.iter().map(|x| x.name()).collect::<Vec<_>>().join(" → ");
    Verdict::new(
        pc == want && ps == want,
        format!(
            "client {} (TIME_WAIT at {} s); server {} (TIME_WAIT at {} s)",
            show(&pc),
            tw_c.first().map(|t| secs(*t)).unwrap_or_else(|| "-".into()),
            show(&ps),
            tw_s.first().map(|t| secs(*t)).unwrap_or_else(|| "-".into()),
        ),
    )
}

fn open(w: &mut World) -> Verdict {
    let (c, s) = (w.client, w.server);
    let (ca, sa) = (SocketAddr::new(CLIENT, 5000), SocketAddr::new(SERVER, 6000));
    let x = w.sim.call(c, |st, now| {
        let fd = st.socket(now).expect("socket");
        st.bind(now, fd, ca).expect("bind");
        let _ = st.connect(now, fd, sa);
        fd
    });
    let y = w.sim.call(s, |st, now| {
        let fd = st.socket(now).expect("socket");
        st.bind(now, fd, sa).expect("bind");
        let _ = st.connect(now, fd, ca);
        fd
    });
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
    let est = w.transitions(c, Some(TcpState::SynRecv), TcpState::Established);
    let show = |p: &[TcpState]| p.iter().map(|x| x.name()).collect::<Vec<_>>().join(" → ");
    Verdict::new(
        pc == want
            && ps == want
            && got_c.as_deref() == Some(b"pong")
            && got_s.as_deref() == Some(b"ping"),
        format!(
            "both sides {} (at {} s), then exchanged data both ways",
            show(&pc),
            est.first().map(|t| secs(*t)).unwrap_or_else(|| "-".into())
        ),
    )
}
