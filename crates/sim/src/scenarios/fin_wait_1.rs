//! 第一次挥手 — the document's attack: "攻击方请求下载大文件，然后将己方的接收窗口设为 0。这样
//! 服务端的 FIN 报文发不出去，就会有大量的连接卡在 fin_wait_1 状态" and its remedy,
//! tcp_max_orphans.
use super::*;
use crate::{LinkConfig, Rule};
use synack_core::Counter;

/// Downloads from 10.0.0.1 (they keep answering with a zero window).
const ANSWERING: usize = 3;
/// The narrowed tcp_max_orphans.
const MAX_ORPHANS: u32 = 2;
/// What the server writes before it closes (what its send buffer takes at once).
const FILE: usize = 16 * 1024;
/// The attackers' SO_RCVBUF (the smallest Linux allows: 2304 once doubled).
const RCVBUF: u32 = 1024;
/// How long the story runs.
const END: f64 = 600.0;

/// The second attacker's address (it goes silent once its window is zero).
const SILENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));

pub const SCENARIO: Scenario = Scenario {
    name: "fin-wait-1-zero-window",
    section: "四次挥手 / 第一次挥手一直丢包",
    summary: "Four downloads from two attacker hosts (25 ms one way) with a tiny receive buffer \
              (SO_RCVBUF): their window drops to 0 and stays there. The server writes 16 KiB of \
              the file and close()s each: the FIN waits behind the unsent data, so the connection \
              sits in FIN_WAIT_1 as an orphan sending zero-window probes with the RTO doubling. \
              tcp_max_orphans narrowed to 2 (default 131072): the third and fourth close() \
              find too many orphans and reset the connection at once (TcpExtTCPAbortOnMemory). \
              The orphan whose peer (10.0.0.3) went silent gives up after tcp_orphan_retries \
              (0 means 8) unanswered probes; the one whose peer keeps answering with a zero \
              window (each answer resets the count) is probed until the backed-off interval \
              reaches 120 s (TCP_RTO_MAX), as Linux's tcp_probe_timer() does, then dropped.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

/// socket, SO_RCVBUF, non-blocking connect from host `h`.
fn connect_from(w: &mut World, h: HostId) -> Step<Fd> {
    let addr = w.server_addr();
    w.sim.call(h, |st, now| {
        let fd = expect("attacker socket()", st.socket(now))?;
        expect(
            "attacker setsockopt(SO_RCVBUF)",
            st.setsockopt(now, fd, SockOpt::RcvBuf(RCVBUF)),
        )?;
        match st.connect(now, fd, addr) {
            Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
            Err(e) => Err(format!("attacker connect() failed: {}", e.name())),
        }
    })
}

/// What became of one of the server's connections after its close().
struct Fate {
    peer: SocketAddr,
    probes: Vec<Instant>,
    closed: Option<Instant>,
    rst: bool,
}

impl Fate {
    fn gaps(&self) -> Vec<Duration> {
        let mut t: Vec<Instant> = self.probes.clone();
        t.extend(self.closed);
        t.windows(2)
            .map(|p| p[1].saturating_duration_since(p[0]))
            .collect()
    }
}

/// Each gap twice the one before (to 1 ms), capped at `max`.
fn doubling(g: &[Duration], max: Duration) -> bool {
    g.windows(2).all(|p| {
        let want = (p[0] * 2).min(max);
        p[1].abs_diff(want) <= Duration::from_millis(1)
    })
}

fn story(w: &mut World) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let srv = w.server_addr();
    let max = w.scaled(|c| c.tcp_max_orphans, MAX_ORPHANS);
    w.sim.call(s, |st, _| st.config_mut().tcp_max_orphans = max);
    let cfg = w.config.clone();
    let a = w.sim.add_host("attacker", cfg, &[SILENT]);
    let link = LinkConfig::with_latency(LATENCY);
    w.sim.add_link(a, s, link, link);
    let l = w.listen(128)?;
    let mut downloads = vec![(a, connect_from(w, a)?)];
    for _ in 0..ANSWERING {
        downloads.push((c, connect_from(w, c)?));
    }
    // Each attacker asks for the file as soon as it is connected; the server answers
    // every request once all have arrived, closing in a fixed order (10.0.0.3 first).
    let mut asked = vec![false; downloads.len()];
    let mut served: Vec<(Fd, SocketAddr)> = Vec::new();
    let mut requests = 0;
    let mut closed_at = None;
    let mut written = Vec::new();
    while closed_at.is_none() && w.sim.now() < at(5.0) {
        for (k, (h, fd)) in downloads.iter().enumerate() {
            if !asked[k] && w.sim.stack(*h).poll(*fd).is_ok_and(|r| r.writable) {
                asked[k] = w
                    .sim
                    .call(*h, |st, now| st.write(now, *fd, b"GET /big\r\n"))
                    .is_ok();
            }
        }
        for fd in w.accept_all(l) {
            let peer = w
                .sim
                .stack(s)
                .peer_addr(fd)
                .map_err(|e| e.name().to_string())?;
            served.push((fd, peer));
        }
        for (fd, _) in &served {
            if w.sim.stack(s).poll(*fd).is_ok_and(|r| r.readable) {
                let mut buf = [0u8; 64];
                if w.sim
                    .call(s, |st, now| st.read(now, *fd, &mut buf))
                    .is_ok_and(|n| n > 0)
                {
                    requests += 1;
                }
            }
        }
        if requests == downloads.len() {
            served.sort_by_key(|(_, p)| (p.ip() != SILENT, p.port()));
            let file = vec![b'x'; FILE];
            for (fd, _) in &served {
                written.push(
                    w.sim
                        .call(s, |st, now| st.write(now, *fd, &file))
                        .unwrap_or(0),
                );
                expect(
                    "server close()",
                    w.sim.call(s, |st, now| st.close(now, *fd)),
                )?;
            }
            closed_at = Some(w.sim.now());
            break;
        }
        w.sim.step(at(5.0));
    }
    let closed_at = closed_at.ok_or("the requests never all arrived")?;
    let memory = w.sim.stack(s).counters().get(Counter::TcpAbortOnMemory);
    // The silent attacker stops answering once it has advertised a zero window.
    let silent = served
        .iter()
        .find(|(_, p)| p.ip() == SILENT)
        .map(|x| x.1)
        .ok_or("no download from the silent attacker")?;
    let zero = w.sim.run_until_cond(at(5.0), |sim| {
        sim.stack(s)
            .tcp_info_of(sim.now(), srv, silent)
            .is_some_and(|i| i.snd_wnd == 0)
    });
    let silent_from = w.sim.now();
    w.sim
        .add_rule(Rule::partition_between(a, s, silent_from, at(1e9)));
    w.run_until(10.0);
    let table = w.ss_summary(s);
    w.run_until(END);

    let fates: Vec<Fate> = served
        .iter()
        .map(|(_, peer)| Fate {
            peer: *peer,
            probes: w
                .sent_on(s, Match::PureAck, srv, *peer)
                .into_iter()
                .filter(|t| *t > closed_at)
                .collect(),
            closed: w
                .transitions_on(s, srv, *peer, Some(TcpState::FinWait1), TcpState::Closed)
                .first()
                .copied(),
            rst: !w.sent_on(s, Match::Rst, srv, *peer).is_empty(),
        })
        .collect();
    let (orphans, reset): (Vec<&Fate>, Vec<&Fate>) = fates.iter().partition(|f| !f.rst);
    let retries = w.config.orphan_retries();
    let rto_max = Duration::from_secs(120);
    let timeouts = w.sim.stack(s).counters().get(Counter::TcpAbortOnTimeout);
    let quiet = orphans.iter().find(|f| f.peer.ip() == SILENT);
    let talking = orphans.iter().find(|f| f.peer.ip() != SILENT);
    // The peer's ACKs from the first probe on: one per probe if it answered them all.
    let answers = |f: &Fate| {
        let h = if f.peer.ip() == SILENT { a } else { c };
        let from = f.probes.first().copied().unwrap_or(closed_at);
        w.sent_on(h, Match::PureAck, f.peer, srv)
            .into_iter()
            .filter(|t| *t >= from)
            .count()
    };
    let describe = |f: Option<&&Fate>, what: &str| match f {
        Some(f) => format!(
            "the orphan whose peer {what} sent {} zero-window probes (at {} s) and was dropped \
             at {} s",
            f.probes.len(),
            times(&f.probes),
            f.closed.map(secs).unwrap_or_else(|| "-".into()),
        ),
        None => format!("no orphan whose peer {what}"),
    };
    let quiet_ok = quiet.is_some_and(|f| {
        let g = f.gaps();
        f.probes.len() == retries as usize && f.closed.is_some() && doubling(&g, rto_max)
    });
    let talking_ok = talking.is_some_and(|f| {
        let g = f.gaps();
        let n = g.len();
        f.closed.is_some()
            && n >= 2
            && doubling(&g[..n - 1], rto_max)
            && g[n - 1] == rto_max
            && g[n - 2] < rto_max
            && answers(f) == f.probes.len()
    });
    let pass = zero
        && written.iter().all(|n| *n == FILE)
        && orphans.len() == max as usize
        && reset.len() == served.len() - max as usize
        && memory == reset.len() as u64
        && timeouts == orphans.len() as u64
        && quiet_ok
        && talking_ok;
    Ok(Verdict::new(
        pass,
        format!(
            "{} downloads stalled by a zero window; the server wrote {} bytes to each and \
             close()d it at {} s: {} FIN_WAIT_1 orphans (tcp_max_orphans {max}), {} reset at once \
             (TcpExtTCPAbortOnMemory {memory}); ss at 10 s: {table}; {} (tcp_orphan_retries \
             {} = {retries}); {} — each answered — the last interval reaching 120 s; \
             TcpExtTCPAbortOnTimeout {timeouts}",
            served.len(),
            written
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join("/"),
            secs(closed_at),
            orphans.len(),
            reset.len(),
            describe(quiet, &format!("went silent at {} s", secs(silent_from))),
            w.config.tcp_orphan_retries,
            describe(talking, "kept answering"),
        ),
    ))
}
