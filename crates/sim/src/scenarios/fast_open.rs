//! Fast Open: the first connection to a server asks for a cookie and pays the handshake
//! (the response after 2 RTT); the next ones send SYN + cookie + request and get the
//! response after 1 RTT. A cookie the server no longer accepts (its key changed) costs
//! one fallback handshake and brings a fresh cookie.
use super::*;
use synack_core::api::tcpi_opt;
use synack_core::wire::FastOpenOption;
use synack_core::{Counter, SegmentInfo};

pub const FAST_OPEN: Scenario = Scenario {
    name: "fast-open",
    section: "连接 / Fast Open",
    summary: "tcp_fastopen = 3 on both hosts, the server's listener with TCP_FASTOPEN (qlen \
              16); the client fetches a page twice from the server 25 ms away one way (RTT \
              50 ms) with sendto(MSG_FASTOPEN). First fetch: no cookie yet, so the SYN asks \
              for one (sendto() returns EINPROGRESS) and the SYN-ACK brings it; the request \
              leaves after the handshake and the first byte of the response arrives after 2 \
              RTT (100 ms). Second fetch, 1 s later: SYN + cookie + request; the server's \
              accept() gets the connection at once, reads the request before the handshake \
              completes and answers: the response arrives after 1 RTT (50 ms).",
    run: |w| fast_open(w).unwrap_or_else(Verdict::fail),
};

pub const BAD_COOKIE: Scenario = Scenario {
    name: "fast-open-bad-cookie",
    section: "连接 / Fast Open",
    summary: "The same client and server (tcp_fastopen = 3, 25 ms one way), but the server's \
              key changes (net.ipv4.tcp_fastopen_key) between the first and second fetch: the \
              cached cookie is no longer valid. The SYN-ACK acknowledges only the SYN and \
              carries a fresh cookie (TcpExtTCPFastOpenPassiveFail); the client sends the \
              request again after the handshake (TcpExtTCPFastOpenActiveFail), 2 RTT as \
              without Fast Open; the third fetch, with the new cookie, takes 1 RTT again.",
    run: |w| bad_cookie(w).unwrap_or_else(Verdict::fail),
};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n";
/// The page, headers included: three full segments, within the initial window.
const PAGE_LEN: usize = 4000;
/// The listener's TCP_FASTOPEN queue length.
const QLEN: u32 = 16;
/// The tcp_fastopen of both hosts in these stories (client and server), unless the run
/// sets another one.
const FASTOPEN: u32 = 3;
/// When each fetch starts.
const FETCH_AT: [f64; 3] = [0.0, 1.0, 2.0];
/// When the server's key changes in the bad-cookie story.
const REKEY_AT: f64 = 0.5;
/// The server's new key (the alternative is used if the run already set this one).
const NEW_KEY: &str = "0a1b2c3d-4e5f6071-8293a4b5-c6d7e8f9";
const NEW_KEY_ALT: &str = "f9e8d7c6-b5a49382-71605f4e-3d2c1b0a";

fn page() -> Vec<u8> {
    let head = |n: usize| format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
    let body = PAGE_LEN - head(0).len() - 3;
    let mut p = head(body).into_bytes();
    p.extend((0..body).map(|i| b'a' + (i % 26) as u8));
    p.truncate(PAGE_LEN);
    p
}

/// The Fast Open counters of one host: CookieReqd, Passive, PassiveFail, Active,
/// ActiveFail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FoCounters {
    cookie_reqd: u64,
    passive: u64,
    passive_fail: u64,
    active: u64,
    active_fail: u64,
}

impl FoCounters {
    fn of(w: &World, h: HostId) -> FoCounters {
        let k = w.sim.stack(h).counters();
        FoCounters {
            cookie_reqd: k.get(Counter::TcpFastOpenCookieReqd),
            passive: k.get(Counter::TcpFastOpenPassive),
            passive_fail: k.get(Counter::TcpFastOpenPassiveFail),
            active: k.get(Counter::TcpFastOpenActive),
            active_fail: k.get(Counter::TcpFastOpenActiveFail),
        }
    }

    fn since(self, b: FoCounters) -> FoCounters {
        FoCounters {
            cookie_reqd: self.cookie_reqd - b.cookie_reqd,
            passive: self.passive - b.passive,
            passive_fail: self.passive_fail - b.passive_fail,
            active: self.active - b.active,
            active_fail: self.active_fail - b.active_fail,
        }
    }
}

/// What one fetch looked like, from both ends and on the wire.
#[derive(Clone, Debug)]
struct Fetch {
    start: Instant,
    /// What sendto(MSG_FASTOPEN) returned.
    sendto: Result<usize, Errno>,
    /// The client's first SYN and the server's first SYN-ACK of this connection.
    syn: Option<SegmentInfo>,
    synack: Option<SegmentInfo>,
    /// When the client sent request bytes after the handshake (not in the SYN).
    request_after: Option<Instant>,
    /// When the server's accept() returned the connection, and its state then.
    accepted: Option<(Instant, TcpState)>,
    /// When the server had read the whole request, and the connection's state then.
    request_read: Option<(Instant, TcpState)>,
    /// When the first response byte, and the whole page, reached the client's read().
    first_byte: Option<Instant>,
    page_at: Option<Instant>,
    page_ok: bool,
    /// TCP_INFO options of the client's socket once the page was read.
    tcpi_options: u8,
    client: FoCounters,
    server: FoCounters,
}

impl Fetch {
    fn rel(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.start)
    }

    /// Request to first response byte.
    fn time(&self) -> Option<Duration> {
        self.first_byte.map(|t| self.rel(t))
    }

    fn syn_data(&self) -> u32 {
        self.syn.map(|s| s.len).unwrap_or(0)
    }

    fn syn_cookie(&self) -> Option<FastOpenOption> {
        self.syn.and_then(|s| s.options.fast_open)
    }

    /// The cookie the SYN-ACK brought (not an empty option).
    fn new_cookie(&self) -> Option<Vec<u8>> {
        self.synack
            .and_then(|s| s.options.fast_open)
            .filter(|o| !o.is_request())
            .map(|o| o.cookie().to_vec())
    }

    /// Did the SYN-ACK acknowledge the data of the SYN too?
    fn data_acked(&self) -> bool {
        match (self.syn, self.synack) {
            (Some(syn), Some(sa)) => {
                syn.len > 0 && sa.ack == syn.seq.wrapping_add(1).wrapping_add(syn.len)
            }
            _ => false,
        }
    }

    /// Did the SYN-ACK acknowledge exactly the SYN?
    fn only_syn_acked(&self) -> bool {
        match (self.syn, self.synack) {
            (Some(syn), Some(sa)) => sa.ack == syn.seq.wrapping_add(1),
            _ => false,
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn rtts(d: Duration) -> String {
    let rtt = 2 * LATENCY;
    let r = d.as_secs_f64() / rtt.as_secs_f64();
    let r = format!("{r:.2}");
    let r = r.trim_end_matches('0').trim_end_matches('.');
    format!("{r} RTT")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn cookie_text(o: Option<FastOpenOption>) -> String {
    match o {
        None => "no Fast Open option".into(),
        Some(o) if o.is_request() => "an empty Fast Open option (cookie request)".into(),
        Some(o) => format!("cookie {}", hex(o.cookie())),
    }
}

/// Both hosts with Fast Open on (client and server bits), unless the run set
/// tcp_fastopen itself; the listener on port 80 with TCP_FASTOPEN.
fn setup(w: &mut World) -> Step<Fd> {
    let fo = w.scaled(|c| c.tcp_fastopen, FASTOPEN);
    w.config.tcp_fastopen = fo;
    for h in [w.client, w.server] {
        w.sim.call(h, |st, _| st.config_mut().tcp_fastopen = fo);
    }
    let l = w.listen(128)?;
    let s = w.server;
    expect(
        "server setsockopt(TCP_FASTOPEN)",
        w.sim
            .call(s, |st, now| st.setsockopt(now, l, SockOpt::FastOpen(QLEN))),
    )?;
    Ok(l)
}

/// Segments `h` sent from `src` to `dst`, with their times.
fn segments(w: &World, h: HostId, src: SocketAddr, dst: SocketAddr) -> Vec<(Instant, SegmentInfo)> {
    w.sim
        .events_of(h)
        .filter_map(|e| match &e.kind {
            SimEventKind::Stack(EventKind::Send(s)) if s.src == src && s.dst == dst => {
                Some((e.at, *s))
            }
            _ => None,
        })
        .collect()
}

/// One fetch at `at_secs`: the client sends the request with sendto(MSG_FASTOPEN) (and
/// write()s what the SYN did not carry once connected), the server accepts, reads the
/// request and writes the page at once, the client reads the page and closes, the server
/// closes on EOF.
fn fetch(w: &mut World, l: Fd, at_secs: f64) -> Step<Fetch> {
    let (c, s) = (w.client, w.server);
    let dst = w.server_addr();
    w.run_until(at_secs);
    let (kc, ks) = (FoCounters::of(w, c), FoCounters::of(w, s));
    let start = w.sim.now();
    let limit = start + Duration::from_secs(5);
    let fd = expect("client socket()", w.sim.call(c, |st, now| st.socket(now)))?;
    let sendto = w
        .sim
        .call(c, |st, now| st.sendto_fastopen(now, fd, dst, REQUEST));
    let mut queued = match sendto {
        Ok(n) => n,
        Err(Errno::EINPROGRESS) => 0,
        Err(e) => return Err(format!("sendto(MSG_FASTOPEN) failed: {}", e.name())),
    };
    let local = w.local_of(c, fd);
    let page = page();
    let mut f = Fetch {
        start,
        sendto,
        syn: None,
        synack: None,
        request_after: None,
        accepted: None,
        request_read: None,
        first_byte: None,
        page_at: None,
        page_ok: false,
        tcpi_options: 0,
        client: FoCounters::default(),
        server: FoCounters::default(),
    };
    let mut conn: Option<Fd> = None;
    let mut request = Vec::new();
    let mut written = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let now = w.sim.now();
        // Client: what the SYN did not carry, once connected.
        if queued < REQUEST.len() && w.sim.stack(c).poll(fd).is_ok_and(|r| r.writable) {
            queued += expect(
                "client write()",
                w.sim
                    .call(c, |st, now| st.write(now, fd, &REQUEST[queued..])),
            )?;
        }
        // Server: accept, read the request, write the page.
        if conn.is_none() && w.sim.stack(s).poll(l).is_ok_and(|r| r.readable) {
            let (x, _) = expect(
                "server accept()",
                w.sim.call(s, |st, now| st.accept(now, l)),
            )?;
            f.accepted = Some((now, w.state(s, x)));
            conn = Some(x);
        }
        if let Some(x) = conn {
            if request.len() < REQUEST.len() && w.sim.stack(s).poll(x).is_ok_and(|r| r.readable) {
                let n = expect(
                    "server read()",
                    w.sim.call(s, |st, now| st.read(now, x, &mut buf)),
                )?;
                request.extend_from_slice(&buf[..n]);
                if request.len() >= REQUEST.len() {
                    f.request_read = Some((now, w.state(s, x)));
                }
            }
            if request.len() >= REQUEST.len()
                && written < page.len()
                && w.sim.stack(s).poll(x).is_ok_and(|r| r.writable)
            {
                written += expect(
                    "server write()",
                    w.sim.call(s, |st, now| st.write(now, x, &page[written..])),
                )?;
            }
        }
        // Client: the page.
        if w.sim.stack(c).poll(fd).is_ok_and(|r| r.readable) {
            let n = expect(
                "client read()",
                w.sim.call(c, |st, now| st.read(now, fd, &mut buf)),
            )?;
            if n == 0 {
                break;
            }
            f.first_byte.get_or_insert(now);
            got.extend_from_slice(&buf[..n]);
            if got.len() >= page.len() {
                f.page_at = Some(now);
                break;
            }
        }
        if !w.sim.step(limit) {
            break;
        }
    }
    f.page_ok = got == page && request == REQUEST;
    f.tcpi_options = w
        .sim
        .stack(c)
        .tcp_info(w.sim.now(), fd)
        .map(|i| i.options)
        .unwrap_or(0);
    // The client closes; the server closes when it reads EOF.
    w.sim.call(c, |st, now| st.close(now, fd)).ok();
    if let Some(x) = conn {
        w.sim
            .run_until_cond(limit, |sim| sim.stack(s).poll(x).is_ok_and(|r| r.read_hup));
        w.sim.call(s, |st, now| st.close(now, x)).ok();
    }
    let from_client = segments(w, c, local, dst);
    let from_server = segments(w, s, dst, local);
    f.syn = from_client
        .iter()
        .find(|(_, x)| Match::Syn.matches(Some(x)))
        .map(|(_, x)| *x);
    f.synack = from_server
        .iter()
        .find(|(_, x)| Match::SynAck.matches(Some(x)))
        .map(|(_, x)| *x);
    f.request_after = from_client
        .iter()
        .find(|(_, x)| x.len > 0 && !x.flags.syn())
        .map(|(t, _)| *t);
    f.client = FoCounters::of(w, c).since(kc);
    f.server = FoCounters::of(w, s).since(ks);
    Ok(f)
}

/// `first response byte after 100 ms (2 RTT), 4000-byte page read`
fn timing(f: &Fetch) -> String {
    match (f.time(), f.page_at) {
        (Some(d), Some(p)) => format!(
            "first response byte after {} ({}){}",
            ms(d),
            rtts(d),
            if f.page_ok {
                if f.rel(p) == d {
                    format!(", the {PAGE_LEN}-byte page with it")
                } else {
                    format!(", the {PAGE_LEN}-byte page after {}", ms(f.rel(p)))
                }
            } else {
                ", the page NOT as written".into()
            }
        ),
        (Some(d), None) => format!(
            "first response byte after {} ({}), the page never complete",
            ms(d),
            rtts(d)
        ),
        _ => "NO response".into(),
    }
}

/// How the server met the connection: `accept() at +25 ms in SYN-RECV, request read at
/// +25 ms in SYN-RECV`.
fn server_side(f: &Fetch) -> String {
    let at = |x: Option<(Instant, TcpState)>| match x {
        Some((t, st)) => format!("+{} in {}", ms(f.rel(t)), st.ss_name()),
        None => "never".into(),
    };
    format!(
        "server accept() at {}, request read at {}",
        at(f.accepted),
        at(f.request_read)
    )
}

/// The first fetch, without a cookie: the SYN asks for one, the SYN-ACK brings it, the
/// request follows the handshake, 2 RTT. Returns (ok, description).
fn judge_cookie_request(f: &Fetch) -> (bool, String) {
    let rtt = 2 * LATENCY;
    let ok = f.sendto == Err(Errno::EINPROGRESS)
        && f.syn_data() == 0
        && f.syn_cookie().is_some_and(|o| o.is_request())
        && f.new_cookie().is_some()
        && f.request_after.map(|t| f.rel(t)) == Some(rtt)
        && f.time() == Some(2 * rtt)
        && f.page_ok
        && f.server.cookie_reqd == 1;
    let text = format!(
        "sendto() {}, the SYN carried {} and {} data bytes, the SYN-ACK {}; request sent \
         {}; {} (TcpExtTCPFastOpenCookieReqd {})",
        crate::errno_text(&f.sendto),
        cookie_text(f.syn_cookie()),
        f.syn_data(),
        match f.new_cookie() {
            Some(k) => format!("brought cookie {}", hex(&k)),
            None => "brought NO cookie".into(),
        },
        match f.request_after {
            Some(t) => format!("after the handshake at +{}", ms(f.rel(t))),
            None => "never after the handshake".into(),
        },
        timing(f),
        f.server.cookie_reqd,
    );
    (ok, text)
}

/// A fetch with a valid cookie: SYN + cookie + request, the data acknowledged by the
/// SYN-ACK, the server reads it before the handshake completes, 1 RTT.
fn judge_fast(f: &Fetch, cookie: Option<&[u8]>) -> (bool, String) {
    let rtt = 2 * LATENCY;
    let syn_cookie = f.syn_cookie().map(|o| o.cookie().to_vec());
    let ok = f.sendto == Ok(REQUEST.len())
        && f.syn_data() as usize == REQUEST.len()
        && cookie.is_some()
        && syn_cookie.as_deref() == cookie
        && f.data_acked()
        && f.accepted == Some((f.start + LATENCY, TcpState::SynRecv))
        && f.request_read == Some((f.start + LATENCY, TcpState::SynRecv))
        && f.request_after.is_none()
        && f.time() == Some(rtt)
        && f.page_ok
        && f.tcpi_options & tcpi_opt::SYN_DATA != 0
        && f.server.passive == 1
        && f.client.active == 1;
    let text = format!(
        "sendto() {}, SYN + {} + {} request bytes; the SYN-ACK {} the data; {}{}; {}; \
         TCPI_OPT_SYN_DATA {} (TcpExtTCPFastOpenPassive {}, TcpExtTCPFastOpenActive {})",
        crate::errno_text(&f.sendto),
        cookie_text(f.syn_cookie()),
        f.syn_data(),
        if f.data_acked() {
            "acknowledged"
        } else {
            "did NOT acknowledge"
        },
        server_side(f),
        match f.request_after {
            Some(t) => format!("; the client sent the request AGAIN at +{}", ms(f.rel(t))),
            None => String::new(),
        },
        timing(f),
        if f.tcpi_options & tcpi_opt::SYN_DATA != 0 {
            "set"
        } else {
            "NOT set"
        },
        f.server.passive,
        f.client.active,
    );
    (ok, text)
}

fn fast_open(w: &mut World) -> Step<Verdict> {
    let l = setup(w)?;
    let first = fetch(w, l, FETCH_AT[0])?;
    let second = fetch(w, l, FETCH_AT[1])?;
    let (ok1, t1) = judge_cookie_request(&first);
    let cookie = first.new_cookie();
    let (ok2, t2) = judge_fast(&second, cookie.as_deref());
    let line = format!(
        "request → first response byte: {} then {}. First fetch: {t1}. Second fetch (at {} \
         s): {t2}",
        first.time().map(ms).unwrap_or_else(|| "never".into()),
        second.time().map(ms).unwrap_or_else(|| "never".into()),
        FETCH_AT[1],
    );
    Ok(Verdict::new(ok1 && ok2, line))
}

fn bad_cookie(w: &mut World) -> Step<Verdict> {
    let s = w.server;
    let l = setup(w)?;
    let first = fetch(w, l, FETCH_AT[0])?;
    // The server's key changes (as an operator's rotation without a backup key would):
    // every cookie it gave out is now invalid.
    w.run_until(REKEY_AT);
    let key = w.sim.call(s, |st, _| {
        let have = st.config().get("net.ipv4.tcp_fastopen_key").ok();
        let key = if have.as_deref() == Some(NEW_KEY) {
            NEW_KEY_ALT
        } else {
            NEW_KEY
        };
        st.config_mut()
            .set("net.ipv4.tcp_fastopen_key", key)
            .map(|_| key)
            .map_err(|e| e.to_string())
    })?;
    let second = fetch(w, l, FETCH_AT[1])?;
    let third = fetch(w, l, FETCH_AT[2])?;
    let rtt = 2 * LATENCY;
    let (ok1, _) = judge_cookie_request(&first);
    let old = first.new_cookie();
    let fresh = second.new_cookie();
    let stale = second.syn_cookie().map(|o| o.cookie().to_vec());
    let ok2 = second.sendto == Ok(REQUEST.len())
        && second.syn_data() as usize == REQUEST.len()
        && old.is_some()
        && stale == old
        && second.only_syn_acked()
        && fresh.is_some()
        && fresh != old
        && second.server.passive_fail == 1
        && second.server.passive == 0
        && second.client.active_fail == 1
        && second.client.active == 0
        && second.request_after.map(|t| second.rel(t)) == Some(rtt)
        && second
            .accepted
            .is_some_and(|(_, st)| st == TcpState::Established)
        && second.time() == Some(2 * rtt)
        && second.page_ok
        && second.tcpi_options & tcpi_opt::SYN_DATA == 0;
    let (ok3, t3) = judge_fast(&third, fresh.as_deref());
    let line = format!(
        "request → first response byte: {}, {}, {}. First fetch: SYN-ACK brought cookie {}. \
         Server key set to {key} at {REKEY_AT} s. Second fetch (at {} s): SYN + {} + {} \
         request bytes; the SYN-ACK acknowledged {} and brought {} \
         (TcpExtTCPFastOpenPassiveFail {}); the client sent the request again {} \
         (TcpExtTCPFastOpenActiveFail {}, TcpExtTCPFastOpenActive {}); {}; {}. Third fetch (at {} s): {t3}",
        first.time().map(ms).unwrap_or_else(|| "never".into()),
        second.time().map(ms).unwrap_or_else(|| "never".into()),
        third.time().map(ms).unwrap_or_else(|| "never".into()),
        old.as_deref().map(hex).unwrap_or_else(|| "NONE".into()),
        FETCH_AT[1],
        cookie_text(second.syn_cookie()),
        second.syn_data(),
        if second.only_syn_acked() {
            "only the SYN"
        } else if second.data_acked() {
            "the data too"
        } else {
            "neither SYN nor data"
        },
        match &fresh {
            Some(k) if Some(k) == old.as_ref() => format!("the SAME cookie {}", hex(k)),
            Some(k) => format!("a new cookie {}", hex(k)),
            None => "NO cookie".into(),
        },
        second.server.passive_fail,
        match second.request_after {
            Some(t) => format!("after the handshake at +{}", ms(second.rel(t))),
            None => "NEVER".into(),
        },
        second.client.active_fail,
        second.client.active,
        server_side(&second),
        timing(&second),
        FETCH_AT[2],
    );
    Ok(Verdict::new(ok1 && ok2 && ok3, line))
}
