//! 双方同时关闭: both FINs cross; CLOSING replaces FIN_WAIT_2 on both sides.
use super::*;

pub const SCENARIO: Scenario = Scenario {
    name: "simultaneous-close",
    section: "四次挥手 / 双方同时关闭",
    summary: "After a handshake, both sides call close() at the same moment (t = 1 s, 25 ms \
              one way). Each sends FIN from FIN_WAIT_1, receives the other's FIN, goes to \
              CLOSING (instead of FIN_WAIT_2), and on the ACK enters TIME_WAIT: both sides \
              wait 60 s.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let (fd, _, conn) = w.establish()?;
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
    let end_c = w.transitions(c, Some(TcpState::TimeWait), TcpState::Closed);
    let end_s = w.transitions(s, Some(TcpState::TimeWait), TcpState::Closed);
    Ok(Verdict::new(
        pc == want && ps == want,
        format!(
            "client {} (TIME_WAIT {} s → {} s); server {} (TIME_WAIT {} s → {} s)",
            show_path(&pc),
            first(&tw_c),
            first(&end_c),
            show_path(&ps),
            first(&tw_s),
            first(&end_s),
        ),
    ))
}
