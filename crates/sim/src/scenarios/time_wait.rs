//! 处于 time_wait 状态的连接过多: a client making short connections to one server port
//! runs out of ephemeral ports (each held 60 s by TIME_WAIT); tcp_tw_reuse and
//! tcp_max_tw_buckets are the document's remedies.
use super::*;
use synack_core::Counter;

/// The narrowed ephemeral range of the port stories (20 ports).
const PORTS: (u16, u16) = (32768, 32787);
/// One short connection every 50 ms.
const PACE: Duration = Duration::from_millis(50);
/// The narrowed tcp_max_tw_buckets.
const BUCKETS: u32 = 10;

pub const EXHAUSTION: Scenario = Scenario {
    name: "time-wait-exhaustion",
    section: "四次挥手 / 处于 time_wait 状态的连接过多会造成的问题",
    summary: "A client opens short connections to 10.0.0.2:80, one every 50 ms (25 ms one way), \
              and closes each as soon as it is established: as the active closer, each of its \
              ends waits 60 s in TIME_WAIT holding its ephemeral port. tcp_tw_reuse = 0 and \
              ip_local_port_range narrowed to 32768 32787 (20 ports instead of the default \
              28232, the same story in fewer connections): after 20 connections connect() \
              fails with EADDRNOTAVAIL; the client retries every 10 s and gets a port again \
              only when the first TIME_WAIT expires, 60 s after it began.",
    run: |w| exhaustion(w).unwrap_or_else(Verdict::fail),
};

pub const REUSE: Scenario = Scenario {
    name: "tw-reuse",
    section: "四次挥手 / 解决处于 time_wait 状态的连接过多的方案",
    summary: "The same client (a short connection every 50 ms, 20 ephemeral ports, 25 ms one \
              way) with tcp_tw_reuse = 1 and timestamps on, retrying 50 ms after a failed \
              connect(): once every port is in TIME_WAIT, connect() may take over a TIME_WAIT \
              4-tuple older than 1 s. Until the oldest one is 1 s old connect() fails with \
              EADDRNOTAVAIL; from then on every connect() reuses one (TcpExtTWRecycled) and the \
              client keeps going through its 20 ports.",
    run: |w| reuse(w).unwrap_or_else(Verdict::fail),
};

pub const MAX_TW_BUCKETS: Scenario = Scenario {
    name: "max-tw-buckets",
    section: "四次挥手 / 解决处于 time_wait 状态的连接过多的方案",
    summary: "tcp_max_tw_buckets narrowed to 10 on the client (default 18000), which opens and \
              closes 20 short connections, one every 50 ms (25 ms one way): the first 10 \
              closed ends wait in TIME_WAIT, the next 10 find the table full and go straight \
              to CLOSED (TcpExtTCPTimeWaitOverflow 10): ss shows 10 TIME-WAIT.",
    run: |w| buckets(w).unwrap_or_else(Verdict::fail),
};

/// One connect() of the short-connection client.
#[derive(Clone, Debug)]
struct Attempt {
    at: Instant,
    /// The local port it got, or connect()'s error.
    result: Result<u16, Errno>,
    /// After a failure: the client's connections as `ss` showed them, and how many were
    /// in TIME_WAIT.
    table: Option<(String, usize)>,
}

/// How the client paces its connections.
struct Load {
    /// Between successful connect()s.
    pace: Duration,
    /// After a failed connect().
    retry: Duration,
    /// No connect() at or after this instant.
    until: Instant,
    /// Stop after this many successful connect()s.
    max_ok: usize,
    /// Stop at the first success after a failure.
    stop_on_recovery: bool,
}

/// The client connects, and closes each connection as soon as it is established (it is
/// the active closer); the server accepts everything and closes when it reads EOF. Runs
/// until every connection made is closed on both sides (or `until` + 5 s).
fn short_connections(w: &mut World, l: Fd, load: &Load) -> Step<Vec<Attempt>> {
    let (c, s) = (w.client, w.server);
    let dst = w.server_addr();
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut connecting: Vec<Fd> = Vec::new();
    let mut served: Vec<Fd> = Vec::new();
    let mut next = w.sim.now();
    let end = load.until + Duration::from_secs(5);
    let mut done = false;
    while w.sim.now() < end {
        let now = w.sim.now();
        if !done && now >= next && now < load.until {
            let fd = expect("client socket()", w.sim.call(c, |st, now| st.socket(now)))?;
            match w.sim.call(c, |st, now| st.connect(now, fd, dst)) {
                Ok(()) | Err(Errno::EINPROGRESS) => {
                    let port = w.local_of(c, fd).port();
                    let recovered = attempts.last().is_some_and(|a| a.result.is_err());
                    attempts.push(Attempt {
                        at: now,
                        result: Ok(port),
                        table: None,
                    });
                    connecting.push(fd);
                    next = now + load.pace;
                    let oks = attempts.iter().filter(|a| a.result.is_ok()).count();
                    done = oks >= load.max_ok || (load.stop_on_recovery && recovered);
                }
                Err(e) => {
                    let table = (w.ss_summary(c), w.count_in(c, TcpState::TimeWait));
                    attempts.push(Attempt {
                        at: now,
                        result: Err(e),
                        table: Some(table),
                    });
                    w.sim.call(c, |st, now| st.close(now, fd)).ok();
                    next = now + load.retry;
                }
            }
        }
        let mut still = Vec::new();
        for fd in connecting {
            let r = w.sim.stack(c).poll(fd).unwrap_or_default();
            if r.writable || r.error || r.hup {
                w.sim.call(c, |st, now| st.close(now, fd)).ok();
            } else {
                still.push(fd);
            }
        }
        connecting = still;
        served.extend(w.accept_all(l));
        let mut open = Vec::new();
        for fd in served {
            if w.sim.stack(s).poll(fd).is_ok_and(|r| r.read_hup) {
                w.sim.call(s, |st, now| st.close(now, fd)).ok();
            } else {
                open.push(fd);
            }
        }
        served = open;
        let quiet = done || w.sim.now() >= load.until;
        if quiet && connecting.is_empty() && served.is_empty() && settled(w) {
            break;
        }
        let wake = if quiet { end } else { next.min(load.until) };
        w.sim.step(wake);
    }
    Ok(attempts)
}

/// No segment in flight and nothing left to say: every connection closed or in TIME_WAIT.
fn settled(w: &World) -> bool {
    let busy = |h| {
        w.sim.stack(h).sockets(w.sim.now()).iter().any(|x| {
            !matches!(
                x.state,
                TcpState::Listen | TcpState::TimeWait | TcpState::Closed
            )
        })
    };
    !busy(w.client) && !busy(w.server)
}

fn ports_in(range: (u16, u16)) -> u32 {
    (range.1 as u32 + 1).saturating_sub(range.0 as u32)
}

/// Narrow the client's ephemeral range (unless the run set one). Returns it.
fn narrow_ports(w: &mut World) -> (u16, u16) {
    let range = w.scaled(|c| c.ip_local_port_range, PORTS);
    let c = w.client;
    w.sim
        .call(c, |st, _| st.config_mut().ip_local_port_range = range);
    range
}

fn range_text(w: &World, range: (u16, u16)) -> String {
    let default = Config::for_profile(w.config.profile).ip_local_port_range;
    let mut t = format!(
        "ip_local_port_range {} {} ({} ports",
        range.0,
        range.1,
        ports_in(range)
    );
    if range != default {
        t.push_str(&format!(
            "; the default {} {} has {}",
            default.0,
            default.1,
            ports_in(default)
        ));
    }
    t.push(')');
    t
}

fn oks(v: &[Attempt]) -> Vec<&Attempt> {
    v.iter().filter(|a| a.result.is_ok()).collect()
}

/// When the client's end on `port` last entered TIME_WAIT before `t`.
fn tw_since(w: &World, port: u16, t: Instant) -> Option<Instant> {
    let local = SocketAddr::new(CLIENT, port);
    w.transitions_on(w.client, local, w.server_addr(), None, TcpState::TimeWait)
        .into_iter()
        .filter(|x| *x <= t)
        .max()
}

/// Was the client's end on `port` in TIME_WAIT at `t`?
fn in_time_wait(w: &World, port: u16, t: Instant) -> bool {
    let local = SocketAddr::new(CLIENT, port);
    let dst = w.server_addr();
    let Some(since) = tw_since(w, port, t) else {
        return false;
    };
    !w.transitions_on(
        w.client,
        local,
        dst,
        Some(TcpState::TimeWait),
        TcpState::Closed,
    )
    .into_iter()
    .any(|x| x >= since && x <= t)
}

fn exhaustion(w: &mut World) -> Step<Verdict> {
    let c = w.client;
    w.sim.call(c, |st, _| st.config_mut().tcp_tw_reuse = 0);
    let range = narrow_ports(w);
    let n = ports_in(range) as usize;
    let l = w.listen(4096)?;
    let tw_len = w.config.time_wait_len;
    // Enough time for every TIME_WAIT to expire, and one more connection after that.
    let until = at(2.0 + 0.05 * n as f64) + tw_len + Duration::from_secs(15);
    let attempts = short_connections(
        w,
        l,
        &Load {
            pace: PACE,
            retry: Duration::from_secs(10),
            until,
            max_ok: usize::MAX,
            stop_on_recovery: true,
        },
    )?;
    let first_fail = attempts
        .iter()
        .position(|a| a.result.is_err())
        .ok_or_else(|| format!("connect() never failed in {} attempts", attempts.len()))?;
    let before = &attempts[..first_fail];
    let fails: Vec<Instant> = attempts
        .iter()
        .filter(|a| a.result.is_err())
        .map(|a| a.at)
        .collect();
    let errors: Vec<Errno> = attempts.iter().filter_map(|a| a.result.err()).collect();
    let again = attempts[first_fail..].iter().find(|a| a.result.is_ok());
    let fail_at = &attempts[first_fail];
    let last_fail = attempts
        .iter()
        .rfind(|a| a.result.is_err())
        .unwrap_or(fail_at);
    let table = |a: &Attempt| a.table.clone().unwrap_or_else(|| ("-".into(), 0));
    let first_tw = w.transitions(c, None, TcpState::TimeWait).first().copied();
    let first_expiry = w
        .transitions(c, Some(TcpState::TimeWait), TcpState::Closed)
        .first()
        .copied();
    let tw_for = match (first_tw, first_expiry) {
        (Some(a), Some(b)) => Some(b.saturating_duration_since(a)),
        _ => None,
    };
    let pass = before.len() == n
        && table(last_fail).1 == n
        && errors.iter().all(|e| *e == Errno::EADDRNOTAVAIL)
        && tw_for == Some(tw_len)
        && again.is_some_and(|a| first_expiry.is_some_and(|e| a.at >= e));
    Ok(Verdict::new(
        pass,
        format!(
            "{}; {} connections opened and closed from {} to {} s, each end left in TIME_WAIT; \
             connect() failed with {} at {} s (ss at {} s: {}; at {} s: {}); the first \
             TIME_WAIT (from {} s) expired at {} s ({} s); connect() at {} succeeded",
            range_text(w, range),
            before.len(),
            first(&before.iter().map(|a| a.at).collect::<Vec<_>>()),
            before
                .last()
                .map(|a| secs(a.at))
                .unwrap_or_else(|| "-".into()),
            errors.first().map(|e| e.name()).unwrap_or("-"),
            times(&fails),
            secs(fail_at.at),
            table(fail_at).0,
            secs(last_fail.at),
            table(last_fail).0,
            first_tw.map(secs).unwrap_or_else(|| "-".into()),
            first_expiry.map(secs).unwrap_or_else(|| "-".into()),
            tw_for
                .map(|d| d.as_secs_f64().to_string())
                .unwrap_or_else(|| "-".into()),
            again
                .map(|a| format!("{} s (port {})", secs(a.at), a.result.unwrap_or(0)))
                .unwrap_or_else(|| "no time".into()),
        ),
    ))
}

fn reuse(w: &mut World) -> Step<Verdict> {
    let c = w.client;
    w.sim.call(c, |st, _| st.config_mut().tcp_tw_reuse = 1);
    let range = narrow_ports(w);
    let n = ports_in(range) as usize;
    let l = w.listen(4096)?;
    // One round through the ports, the wait for the first TIME_WAIT to be 1 s old, and
    // half a second of reuse.
    let until = at(1.5 + 0.05 * n as f64);
    let attempts = short_connections(
        w,
        l,
        &Load {
            pace: PACE,
            retry: PACE,
            until,
            max_ok: usize::MAX,
            stop_on_recovery: false,
        },
    )?;
    let ok = oks(&attempts);
    let fails: Vec<Instant> = attempts
        .iter()
        .filter(|a| a.result.is_err())
        .map(|a| a.at)
        .collect();
    let errors: Vec<Errno> = attempts.iter().filter_map(|a| a.result.err()).collect();
    // Each connect() that found its port's 4-tuple in TIME_WAIT took it over: how old was it?
    let mut ages = Vec::new();
    for a in &ok {
        let port = *a.result.as_ref().unwrap_or(&0);
        if let Some(t) = tw_since(w, port, a.at) {
            ages.push(a.at.saturating_duration_since(t));
        }
    }
    let recycled = w.sim.stack(c).counters().get(Counter::TwRecycled);
    let youngest = ages.iter().min().copied();
    // Every failure came while every TIME_WAIT was at most 1 s old.
    let ports: Vec<u16> = ok.iter().filter_map(|a| a.result.ok()).collect();
    let fails_young = fails.iter().all(|t| {
        ports.iter().all(|p| {
            !in_time_wait(w, *p, *t)
                || tw_since(w, *p, *t)
                    .is_some_and(|x| t.saturating_duration_since(x) <= Duration::from_secs(1))
        })
    });
    let pass = ok.len() > n
        && ages.len() == ok.len() - n
        && recycled == ages.len() as u64
        && youngest.is_some_and(|y| y > Duration::from_secs(1))
        && errors.iter().all(|e| *e == Errno::EADDRNOTAVAIL)
        && fails_young;
    Ok(Verdict::new(
        pass,
        format!(
            "{}; {} connections in {} s; connect() failed with EADDRNOTAVAIL {} times (at {} s: \
             every TIME_WAIT younger than 1 s); {} connect()s reused a TIME_WAIT 4-tuple \
             (TcpExtTWRecycled {recycled}), the youngest {} s old",
            range_text(w, range),
            ok.len(),
            secs(until),
            fails.len(),
            if fails.is_empty() {
                "-".to_string()
            } else {
                times(&fails)
            },
            ages.len(),
            youngest
                .map(|d| format!("{:.3}", d.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
        ),
    ))
}

fn buckets(w: &mut World) -> Step<Verdict> {
    let c = w.client;
    let max = w.scaled(|c| c.tcp_max_tw_buckets, BUCKETS);
    w.sim
        .call(c, |st, _| st.config_mut().tcp_max_tw_buckets = max);
    let total = 2 * max as usize;
    let l = w.listen(4096)?;
    let until = at(1.0 + 0.05 * total as f64);
    let attempts = short_connections(
        w,
        l,
        &Load {
            pace: PACE,
            retry: PACE,
            until,
            max_ok: total,
            stop_on_recovery: false,
        },
    )?;
    let made = oks(&attempts).len();
    let tw = w.count_in(c, TcpState::TimeWait);
    let overflow = w.sim.stack(c).counters().get(Counter::TcpTimeWaitOverflow);
    let closed = w.transitions(c, Some(TcpState::Established), TcpState::FinWait1);
    let pass = made == total && tw == max as usize && overflow == (total - max as usize) as u64;
    Ok(Verdict::new(
        pass,
        format!(
            "tcp_max_tw_buckets {max}: {made} connections closed by the client between {} and \
             {} s; at {} s ss shows {tw} TIME-WAIT, TcpExtTCPTimeWaitOverflow {overflow} (the \
             rest skipped TIME_WAIT)",
            first(&closed),
            closed
                .last()
                .map(|t| secs(*t))
                .unwrap_or_else(|| "-".into()),
            secs(w.sim.now()),
        ),
    ))
}
