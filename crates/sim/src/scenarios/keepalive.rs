//! 保活机制: an idle connection with SO_KEEPALIVE probes its peer; a dead peer is found out
//! after tcp_keepalive_time + tcp_keepalive_intvl × tcp_keepalive_probes (7875 s).
use super::*;
use crate::Rule;
use synack_core::Counter;

pub const DEAD_PEER: Scenario = Scenario {
    name: "keepalive-dead-peer",
    section: "连接 / 保活机制",
    summary: "The client turns SO_KEEPALIVE on, sends a request and reads the reply (25 ms \
              one way); at 1 s the server host vanishes (nothing crosses the link any more). \
              With the document's tunables (tcp_keepalive_time 7200 s, tcp_keepalive_intvl \
              75 s, tcp_keepalive_probes 9) the client sends its first probe 7200 s after it \
              last heard from the server, then one every 75 s; after 9 unanswered probes, \
              7875 s after the last word, it resets the connection (RST) and read() fails \
              with ETIMEDOUT.",
    run: |w| dead_peer(w).unwrap_or_else(Verdict::fail),
};

/// Per-socket keepalive settings of the answered-probe story.
const IDLE: u32 = 60;
const INTVL: u32 = 10;
const CNT: u32 = 3;
/// The network outage in that story.
const OUTAGE: (f64, f64) = (50.0, 75.0);
/// When that story ends.
const END: f64 = 300.0;

pub const ANSWERED: Scenario = Scenario {
    name: "keepalive-probe-answered",
    section: "连接 / 保活机制",
    summary: "The client sets SO_KEEPALIVE with TCP_KEEPIDLE 60 s, TCP_KEEPINTVL 10 s and \
              TCP_KEEPCNT 3 on an idle connection (25 ms one way); the network is down from 50 \
              to 75 s. The probes at 60 and 70 s are lost (2 unanswered); the one at 80 s is \
              answered, which resets the count to 0, so the connection lives on: a probe every \
              60 s of silence, each answered, still ESTABLISHED at 300 s.",
    run: |w| answered(w).unwrap_or_else(Verdict::fail),
};

/// Connect, turn keepalive on, one request and reply. Returns (client fd, server fd).
fn idle_connection(w: &mut World, opts: &[SockOpt]) -> Step<(Fd, Fd)> {
    let (c, s) = (w.client, w.server);
    let (fd, _, conn) = w.establish()?;
    for o in opts {
        expect(
            "client setsockopt()",
            w.sim.call(c, |st, now| st.setsockopt(now, fd, *o)),
        )?;
    }
    expect(
        "client write()",
        w.sim.call(c, |st, now| st.write(now, fd, b"GET /\r\n")),
    )?;
    w.run_until_readable(s, conn, 5.0);
    let mut buf = [0u8; 64];
    expect(
        "server read()",
        w.sim.call(s, |st, now| st.read(now, conn, &mut buf)),
    )?;
    expect(
        "server write()",
        w.sim.call(s, |st, now| st.write(now, conn, b"200 OK\r\n")),
    )?;
    w.run_until_readable(c, fd, 5.0);
    expect(
        "client read()",
        w.sim.call(c, |st, now| st.read(now, fd, &mut buf)),
    )?;
    Ok((fd, conn))
}

/// The effective keepalive settings of a socket, as getsockopt() reads them.
fn keepalive_settings(w: &mut World, fd: Fd) -> (u64, u64, u32) {
    let c = w.client;
    let mut get = |n| w.sim.call(c, |st, _| st.getsockopt(fd, n));
    let idle = match get(SockOptName::KeepIdle) {
        Ok(SockOpt::KeepIdle(v)) => v.into(),
        _ => 0,
    };
    let intvl = match get(SockOptName::KeepIntvl) {
        Ok(SockOpt::KeepIntvl(v)) => v.into(),
        _ => 0,
    };
    let cnt = match get(SockOptName::KeepCnt) {
        Ok(SockOpt::KeepCnt(v)) => v,
        _ => 0,
    };
    (idle, intvl, cnt)
}

/// Keepalive probes sent by `h` from `since` on: bare ACKs one byte behind everything it
/// had sent (SND.UNA − 1 on an idle connection), as Linux's `tcp_write_wakeup()` sends them.
fn probes(w: &World, h: HostId, since: Instant) -> Vec<Instant> {
    let mut nxt: Option<u32> = None;
    let mut out = Vec::new();
    for e in w.sim.events_of(h) {
        let SimEventKind::Stack(EventKind::Send(s)) = &e.kind else {
            continue;
        };
        let end = s
            .seq
            .wrapping_add(s.len + s.flags.syn() as u32 + s.flags.fin() as u32);
        let behind = nxt.is_some_and(|n| s.seq.wrapping_add(1) == n);
        if behind && Match::PureAck.matches(Some(s)) {
            if e.at >= since {
                out.push(e.at);
            }
        } else if nxt.is_none_or(|n| (end.wrapping_sub(n) as i32) > 0) {
            nxt = Some(end);
        }
    }
    out
}

fn dead_peer(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let (fd, _) = idle_connection(w, &[SockOpt::KeepAlive(true)])?;
    let gone = at(1.0);
    w.sim.add_rule(Rule::partition_between(c, s, gone, at(1e9)));
    let (idle, intvl, cnt) = keepalive_settings(w, fd);
    let last_heard = w
        .delivered(c, Match::Any)
        .into_iter()
        .filter(|t| *t < gone)
        .max()
        .ok_or("the client never heard from the server")?;
    let limit = last_heard.as_secs_f64() + (idle + intvl * cnt as u64) as f64 + 60.0;
    w.run_until(limit);
    let sent = probes(w, c, gone);
    let rst = w.sent(c, Match::Rst);
    let mut buf = [0u8; 16];
    let read = w.sim.call(c, |st, now| st.read(now, fd, &mut buf));
    let k = w.sim.stack(c).counters();
    let (ka, aborts) = (
        k.get(Counter::TcpKeepAlive),
        k.get(Counter::TcpAbortOnTimeout),
    );
    let rel = |t: Instant| secs(Instant::from_micros(t.as_micros() - last_heard.as_micros()));
    let want: Vec<Instant> = (0..cnt as u64)
        .map(|k| last_heard + Duration::from_secs(idle + k * intvl))
        .collect();
    let want_rst = last_heard + Duration::from_secs(idle + cnt as u64 * intvl);
    let pass = sent == want
        && rst == [want_rst]
        && read == Err(Errno::ETIMEDOUT)
        && ka == cnt as u64
        && aborts == 1;
    Ok(Verdict::new(
        pass,
        format!(
            "keepalive idle {idle} s, interval {intvl} s, {cnt} probes; last heard from the server at {} s; \
             {} unanswered probes at +{} s; {}; read() returned {}; TcpExtTCPKeepAlive {ka}, \
             TcpExtTCPAbortOnTimeout {aborts}",
            secs(last_heard),
            sent.len(),
            sent.iter().map(|t| rel(*t)).collect::<Vec<_>>().join(", +"),
            match rst.first() {
                Some(t) => format!("RST at {} s (+{} s)", secs(*t), rel(*t)),
                None => "no RST".to_string(),
            },
            crate::errno_text(&read),
        ),
    ))
}

fn answered(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let (fd, _) = idle_connection(
        w,
        &[
            SockOpt::KeepAlive(true),
            SockOpt::KeepIdle(IDLE),
            SockOpt::KeepIntvl(INTVL),
            SockOpt::KeepCnt(CNT),
        ],
    )?;
    w.sim
        .add_rule(Rule::partition_between(c, s, at(OUTAGE.0), at(OUTAGE.1)));
    // The probes of interest come after the request and reply.
    let start = at(1.0);
    // Unanswered probes just before the network comes back, and just after an answer.
    w.run_until(OUTAGE.1);
    let during = w
        .sim
        .stack(c)
        .tcp_info(w.sim.now(), fd)
        .map(|i| i.probes)
        .unwrap_or(0);
    let lost: Vec<Instant> = probes(w, c, start)
        .into_iter()
        .filter(|t| *t < at(OUTAGE.1))
        .collect();
    w.run_until(OUTAGE.1 + INTVL as f64 + 1.0);
    let after = w
        .sim
        .stack(c)
        .tcp_info(w.sim.now(), fd)
        .map(|i| i.probes)
        .unwrap_or(u8::MAX);
    w.run_until(END);
    let sent = probes(w, c, start);
    let answered: Vec<Instant> = sent
        .iter()
        .copied()
        .filter(|t| *t >= at(OUTAGE.1))
        .collect();
    let replies = w
        .sent(s, Match::PureAck)
        .into_iter()
        .filter(|t| *t >= at(OUTAGE.1))
        .count();
    let state = w.state(c, fd);
    let rsts = w.sent(c, Match::Rst).len() + w.sent(s, Match::Rst).len();
    let pass = lost.len() == 2
        && during == 2
        && after == 0
        && !answered.is_empty()
        && replies == answered.len()
        && state == TcpState::Established
        && rsts == 0;
    Ok(Verdict::new(
        pass,
        format!(
            "TCP_KEEPIDLE {IDLE} s, TCP_KEEPINTVL {INTVL} s, TCP_KEEPCNT {CNT}; probes lost in the outage at {} s \
             (tcpi_probes {during} at {} s); probes answered at {} s (tcpi_probes {after} \
             after the first answer); {state} at {END} s, {rsts} RST",
            times(&lost),
            OUTAGE.1,
            times(&answered),
        ),
    ))
}
