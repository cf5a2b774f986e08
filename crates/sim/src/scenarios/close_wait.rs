//! 第二次挥手: "如果响应端发现有大量的连接处于 closed_wait 状态，那大概率是程序有 bug，没有及时
//! 调用 close" — a server application that never calls close().
use super::*;

/// Clients, one every 100 ms.
const CLIENTS: usize = 10;
/// When the application is fixed and closes its sockets.
const FIXED_AT: f64 = 3600.0;

pub const SCENARIO: Scenario = Scenario {
    name: "close-wait-leak",
    section: "四次挥手 / 第三次挥手",
    summary: "10 clients connect, one every 100 ms (25 ms one way), send a request, read the \
              reply and close(). The server application answers but never calls close(): each \
              of its connections sits in CLOSE_WAIT. The clients' orphaned FIN_WAIT_2 ends \
              after tcp_fin_timeout (60 s); the server's CLOSE_WAIT sockets are still in its \
              table an hour later — nothing times them out. When the application finally \
              closes them at 3600 s, its FINs reach clients that forgot the connections long \
              ago and are answered with RST.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let l = w.listen(128)?;
    let mut clients: Vec<(Fd, bool)> = Vec::new(); // (fd, request written)
    let mut served: Vec<(Fd, bool)> = Vec::new(); // (fd, replied)
    let mut closed = 0;
    let mut started = 0;
    let end = at(0.1 * CLIENTS as f64 + 2.0);
    while w.sim.now() < end {
        if started < CLIENTS && w.sim.now() >= at(0.1 * started as f64) {
            clients.push((w.connect()?, false));
            started += 1;
        }
        for (fd, wrote) in clients.iter_mut() {
            let r = w.sim.stack(c).poll(*fd).unwrap_or_default();
            if !*wrote && r.writable {
                *wrote = w
                    .sim
                    .call(c, |st, now| st.write(now, *fd, b"GET /\r\n"))
                    .is_ok();
            } else if *wrote && r.readable {
                let mut buf = [0u8; 64];
                w.sim.call(c, |st, now| st.read(now, *fd, &mut buf)).ok();
                w.sim.call(c, |st, now| st.close(now, *fd)).ok();
                closed += 1;
                *fd = Fd(0);
            }
        }
        clients.retain(|(fd, _)| fd.0 != 0);
        for fd in w.accept_all(l) {
            served.push((fd, false));
        }
        for (fd, replied) in served.iter_mut() {
            if !*replied && w.sim.stack(s).poll(*fd).is_ok_and(|r| r.readable) {
                let mut buf = [0u8; 64];
                w.sim.call(s, |st, now| st.read(now, *fd, &mut buf)).ok();
                *replied = w
                    .sim
                    .call(s, |st, now| st.write(now, *fd, b"200 OK\r\n"))
                    .is_ok();
            }
            // The bug: EOF is never noticed, close() never called.
        }
        let next = if started < CLIENTS {
            at(0.1 * started as f64)
        } else {
            end
        };
        w.sim.step(next.min(end));
    }
    let early = (w.ss_summary(s), w.count_in(s, TcpState::CloseWait));
    let early_client = w.ss_summary(c);
    w.run_until(FIXED_AT);
    let late = (w.ss_summary(s), w.count_in(s, TcpState::CloseWait));
    let late_client = w.count_in(c, TcpState::FinWait2) + w.count_in(c, TcpState::TimeWait);
    let fw2 = w.transitions(c, Some(TcpState::FinWait1), TcpState::FinWait2);
    let gone = w.transitions(c, Some(TcpState::FinWait2), TcpState::Closed);
    let lived: Vec<Duration> = fw2
        .iter()
        .zip(&gone)
        .map(|(a, b)| b.saturating_duration_since(*a))
        .collect();
    // The fix, an hour late.
    for (fd, _) in &served {
        w.sim.call(s, |st, now| st.close(now, *fd)).ok();
    }
    w.run_until(FIXED_AT + 1.0);
    let rsts = w
        .sent(c, Match::Rst)
        .into_iter()
        .filter(|t| *t >= at(FIXED_AT))
        .count();
    let left = w.count_in(s, TcpState::CloseWait) + w.count_in(s, TcpState::LastAck);
    let fin_timeout = w.config.tcp_fin_timeout;
    let pass = closed == CLIENTS
        && served.len() == CLIENTS
        && early.1 == CLIENTS
        && late.1 == CLIENTS
        && late_client == 0
        && lived.len() == CLIENTS
        && lived.iter().all(|d| *d == fin_timeout)
        && rsts == CLIENTS
        && left == 0;
    Ok(Verdict::new(
        pass,
        format!(
            "{closed} clients closed after their reply; ss at {} s — server: {}, clients: \
             {early_client}; the clients' FIN_WAIT_2 ended {} s later (at {} to {} s); ss at \
             {FIXED_AT} s — server: {}, clients: {late_client} sockets; the server's close() \
             at {FIXED_AT} s sent FINs that drew {rsts} RSTs",
            secs(end),
            early.0,
            lived
                .first()
                .map(|d| d.as_secs_f64().to_string())
                .unwrap_or_else(|| "-".into()),
            first(&gone),
            gone.last().map(|t| secs(*t)).unwrap_or_else(|| "-".into()),
            late.0,
        ),
    ))
}
