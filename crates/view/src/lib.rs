//! A host's sockets and counters as Linux's tools print them: iproute2 `ss`, net-tools
//! `netstat -napt` and `nstat`.
//!
//! The layout is iproute2 6.x's when its output is not a terminal (checked against `ss`
//! 6.1 on loopback): every column is as wide as its widest cell, `Local Address:` and
//! `Peer Address:` are right-aligned and end in the `:`, the port columns follow without a
//! gap, and everything `-o`, `-e` and `-i` add goes in the last (`Process`) column, whose
//! width is that of its longest cell, the `-i` line (`\n\t ...`) included. Addresses are
//! printed as `ss` 6.x prints them: `0.0.0.0`, `[::]`, `[2001:db8::1]`; a port 0 is `*`.
//!
//! What the tables cannot show, because a simulated stack has no such thing: process
//! names and pids (`-p`, netstat's `PID/Program name` is `-`), inode numbers (`ino:0`),
//! cgroups, socket cookies (`sk:` numbers the rows of one table, 1, 2, ... in hex), the
//! congestion-control name, pacing and delivery rates, `minrtt`, `rcv_rtt`, `app_limited`
//! and memory (`-m`). The `-o` timer shows the socket's earliest timer as Linux's
//! `inet_diag` does (retransmit, SYN-ACK → `on`; zero-window probe → `persist`; keepalive
//! and an orphan's FIN_WAIT_2 timer → `keepalive`; TIME_WAIT records → `timewait`); a
//! pending delayed ACK is not a timer `ss` shows, and while it is the earliest the column
//! stays empty. A SYN-RECV request's timer counts its SYN-ACK timeouts, as inet_diag's
//! `req->num_timeout`.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use synack_core::{Instant, SocketInfo, Stack, TcpInfo, TcpState, TimerKind};

/// Linux's `TCPI_OPT_*` bits of `tcpi_options`.
use synack_core::api::tcpi_opt as opt;

/// What a row is in Linux's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockKind {
    Listener,
    /// A SYN-queue request (Linux's `request_sock`, state NEW_SYN_RECV).
    Request,
    /// A full socket (a connection, with or without a descriptor).
    Full,
    /// A compact TIME_WAIT (or orphaned FIN_WAIT_2) record (Linux's `tcp_timewait_sock`).
    TimeWait,
}

/// One socket as the views show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SockRow {
    pub info: SocketInfo,
    pub kind: SockKind,
    /// TCP_INFO of full sockets and listeners (requests and TIME_WAIT records have none,
    /// as in Linux).
    pub tcp_info: Option<TcpInfo>,
}

/// Every socket of `stack` at `now`, in the stack's order (listeners, requests,
/// connections, TIME_WAIT records).
pub fn rows(stack: &Stack, now: Instant) -> Vec<SockRow> {
    stack
        .sockets(now)
        .into_iter()
        .map(|info| {
            if info.state == TcpState::Listen {
                let ti = info.fd.and_then(|fd| stack.tcp_info(now, fd).ok());
                return SockRow {
                    info,
                    kind: SockKind::Listener,
                    tcp_info: ti,
                };
            }
            let ti = match (info.local, info.remote) {
                (Some(l), Some(r)) => stack.tcp_info_of(now, l, r),
                _ => None,
            };
            let (kind, tcp_info) = match ti {
                // TCP_NEW_SYN_RECV: a request in the SYN queue.
                // (its TCP_INFO carries only the SYN-ACK timeouts, for the -o timer).
                Some(t) if t.state == 12 => (SockKind::Request, Some(t)),
                // A record with no TCB: only the state is filled in.
                Some(t) if t.rto == 0 && t.snd_mss == 0 => (SockKind::TimeWait, None),
                Some(t) => (SockKind::Full, Some(t)),
                None => (SockKind::Full, None),
            };
            SockRow {
                info,
                kind,
                tcp_info,
            }
        })
        .collect()
}

/// Bit of a state in `ss`'s state mask (Linux's state numbers: ESTABLISHED = 1 ...).
fn bit(s: TcpState) -> u32 {
    1 << s.linux_code()
}

const SS_ALL: u32 = (1 << 12) - 1;
fn ss_conn() -> u32 {
    SS_ALL & !(bit(TcpState::Listen) | bit(TcpState::Closed))
}

/// States (and `ss`'s groups) by the names `ss state NAME` accepts.
fn state_mask(name: &str) -> Option<u32> {
    use TcpState::*;
    Some(match name {
        "all" => SS_ALL,
        "connected" => ss_conn(),
        "synchronized" => ss_conn() & !bit(SynSent),
        "bucket" => bit(SynRecv) | bit(TimeWait),
        "big" => SS_ALL & !(bit(SynRecv) | bit(TimeWait)),
        "established" => bit(Established),
        "syn-sent" => bit(SynSent),
        "syn-recv" => bit(SynRecv),
        "fin-wait-1" => bit(FinWait1),
        "fin-wait-2" => bit(FinWait2),
        "time-wait" => bit(TimeWait),
        "closed" => bit(Closed),
        "close-wait" => bit(CloseWait),
        "last-ack" => bit(LastAck),
        "listening" | "listen" => bit(Listen),
        "closing" => bit(Closing),
        _ => return None,
    })
}

/// The flags of an `ss` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsOptions {
    /// `-n`: numeric (names are never resolved here; it changes how `-i` prints rates).
    pub numeric: bool,
    /// `-o`: timers.
    pub options: bool,
    /// `-e`: extended details.
    pub extended: bool,
    /// `-i`: TCP_INFO.
    pub info: bool,
    /// States to show, as a mask of `1 << linux state number`.
    pub states: u32,
    /// `-4` / `-6`: only IPv4 (`Some(false)`) or only IPv6 (`Some(true)`) sockets.
    pub ipv6: Option<bool>,
    /// `-H`: no header line.
    pub no_header: bool,
}

impl Default for SsOptions {
    /// `ss -t`: connected sockets, neither listening nor TIME-WAIT nor SYN-RECV.
    fn default() -> Self {
        SsOptions {
            numeric: false,
            options: false,
            extended: false,
            info: false,
            states: ss_conn() & !(bit(TcpState::TimeWait) | bit(TcpState::SynRecv)),
            ipv6: None,
            no_header: false,
        }
    }
}

impl SsOptions {
    /// Parse `ss` arguments: `-tanoie`, `-l`, `state time-wait`, `exclude listening`,
    /// `state connected` ... (`-t` is accepted: everything here is TCP).
    pub fn parse(args: &str) -> Result<SsOptions, String> {
        let mut o = SsOptions::default();
        let mut words = args.split_whitespace().peekable();
        let mut saw_state = false;
        let mut flag_states = None;
        while let Some(w) = words.next() {
            if let Some(flags) = w.strip_prefix('-').filter(|f| !f.starts_with('-')) {
                for c in flags.chars() {
                    match c {
                        't' | 'x' => {}
                        'a' => flag_states = Some(SS_ALL),
                        'l' => flag_states = Some(bit(TcpState::Listen) | bit(TcpState::Closed)),
                        'n' => o.numeric = true,
                        'o' => o.options = true,
                        'e' => o.extended = true,
                        'i' => o.info = true,
                        // No processes in a simulation: `-p` adds nothing, as for a
                        // socket no process holds.
                        'p' => {}
                        '4' => o.ipv6 = Some(false),
                        '6' => o.ipv6 = Some(true),
                        'H' => o.no_header = true,
                        _ => {
                            return Err(format!(
                                "ss: unsupported flag -{c} (supported: -t -a -l -n -o -e -i -p -4 -6 -H)"
                            ))
                        }
                    }
                }
                continue;
            }
            let long = match w {
                "--tcp" | "--numeric" | "--all" | "--listening" | "--options" | "--extended"
                | "--info" => Some(w),
                _ => None,
            };
            if let Some(l) = long {
                match l {
                    "--all" => flag_states = Some(SS_ALL),
                    "--listening" => {
                        flag_states = Some(bit(TcpState::Listen) | bit(TcpState::Closed))
                    }
                    "--numeric" => o.numeric = true,
                    "--options" => o.options = true,
                    "--extended" => o.extended = true,
                    "--info" => o.info = true,
                    _ => {}
                }
                continue;
            }
            let (exclude, name) = match w {
                "state" => (false, words.next()),
                "exclude" => (true, words.next()),
                _ => {
                    return Err(format!(
                        "ss: cannot parse {w:?} (expected a flag, `state NAME` or `exclude NAME`)"
                    ))
                }
            };
            let name = name.ok_or_else(|| format!("ss: `{w}` needs a state name"))?;
            let m = state_mask(name).ok_or_else(|| format!("ss: wrong state name: {name}"))?;
            if !saw_state {
                o.states = if exclude { SS_ALL } else { 0 };
                saw_state = true;
            }
            if exclude {
                o.states &= !m;
            } else {
                o.states |= m;
            }
        }
        if let (false, Some(f)) = (saw_state, flag_states) {
            o.states = f;
        }
        Ok(o)
    }

    fn shows(&self, r: &SockRow) -> bool {
        let v6 = r.info.local.is_some_and(|a| a.is_ipv6());
        self.states & bit(r.info.state) != 0 && self.ipv6.is_none_or(|x| x == v6)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// iproute2's column renderer: each column as wide as its widest cell (plus its left
/// delimiter, except on the first column), right-aligned columns padded on the left.
fn render(cols: &[(Align, &str)], lines: &[Vec<String>]) -> String {
    let mut width = vec![0usize; cols.len()];
    for l in lines {
        for (i, cell) in l.iter().enumerate() {
            width[i] = width[i].max(cell.len());
        }
    }
    for (i, w) in width.iter_mut().enumerate() {
        if i > 0 && *w > 0 {
            *w += cols[i].1.len();
        }
    }
    let mut out = String::new();
    for l in lines {
        for (i, cell) in l.iter().enumerate() {
            let delim = if i > 0 { cols[i].1 } else { "" };
            out.push_str(delim);
            let pad = width[i].saturating_sub(delim.len() + cell.len());
            if cols[i].0 == Align::Right {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// `ss`'s address cell: `10.0.0.1:`, `[::1]:`, `0.0.0.0:`.
fn ss_addr(a: Option<SocketAddr>, family: IpAddr) -> (String, String) {
    let ip = a.map(|a| a.ip()).unwrap_or(match family {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    });
    let host = match ip {
        IpAddr::V4(v) => format!("{v}:"),
        IpAddr::V6(v) => format!("[{v}]:"),
    };
    let port = match a.map(|a| a.port()) {
        Some(p) if p != 0 => p.to_string(),
        _ => "*".to_string(),
    };
    (host, port)
}

/// C's `%g` (six significant digits, trailing zeros removed).
pub fn fmt_g(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let sci = format!("{x:.5e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let m = mant.trim_end_matches('0').trim_end_matches('.');
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `ss`'s `print_ms_timer`: `1min59sec`, `59sec`, `3.500ms` (sic), `200ms`, `119min`.
pub fn ms_timer(timeout: u64) -> String {
    let mut secs = timeout / 1000;
    let minutes = secs / 60;
    secs %= 60;
    let mut msecs = timeout % 1000;
    let mut buf = String::new();
    if minutes > 0 {
        msecs = 0;
        buf.push_str(&format!("{minutes}min"));
        if minutes > 9 {
            secs = 0;
        }
    }
    if secs > 0 {
        if secs > 9 {
            msecs = 0;
        }
        buf.push_str(&format!("{secs}{}", if msecs > 0 { "." } else { "sec" }));
    }
    if msecs > 0 {
        buf.push_str(&format!("{msecs:03}ms"));
    }
    buf
}

/// `ss`'s rate: `%.0f` with `-n`, else `%.3g` with K/M/G/T.
fn bw(x: f64, numeric: bool) -> String {
    if numeric {
        return format!("{x:.0}");
    }
    let g3 = |v: f64| {
        let s = format!("{v:.2e}");
        let (_, e) = s.split_once('e').unwrap_or(("", "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let d = (2 - e).max(0) as usize;
        let t = format!("{v:.d$}");
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        }
    };
    for (lim, suf) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")] {
        if x >= lim {
            return format!("{}{suf}", g3(x / lim));
        }
    }
    fmt_g(x)
}

/// `ss -i`'s TCP_INFO line (without the leading `\n\t`), fields in `tcp_stats_print`'s
/// order, each only when Linux's `ss` would print it.
pub fn info_line(t: &TcpInfo, numeric: bool) -> String {
    let mut o = String::new();
    let mut add = |s: String| o.push_str(&s);
    if t.options & opt::TIMESTAMPS != 0 {
        add(" ts".into());
    }
    if t.options & opt::SACK != 0 {
        add(" sack".into());
    }
    if t.options & opt::ECN != 0 {
        add(" ecn".into());
    }
    if t.options & opt::ECN_SEEN != 0 {
        add(" ecnseen".into());
    }
    if t.options & opt::SYN_DATA != 0 {
        add(" fastopen".into());
    }
    if !t.congestion.is_empty() {
        add(format!(" {}", t.congestion));
    }
    if t.options & opt::WSCALE != 0 {
        add(format!(" wscale:{},{}", t.snd_wscale, t.rcv_wscale));
    }
    if t.rto != 0 && t.rto != 3_000_000 {
        add(format!(" rto:{}", fmt_g(t.rto as f64 / 1000.0)));
    }
    if t.backoff != 0 {
        add(format!(" backoff:{}", t.backoff));
    }
    if t.rtt != 0 {
        add(format!(
            " rtt:{}/{}",
            fmt_g(t.rtt as f64 / 1000.0),
            fmt_g(t.rttvar as f64 / 1000.0)
        ));
    }
    if t.ato != 0 {
        add(format!(" ato:{}", fmt_g(t.ato as f64 / 1000.0)));
    }
    for (name, v) in [
        ("mss", t.snd_mss),
        ("pmtu", t.pmtu),
        ("rcvmss", t.rcv_mss),
        ("advmss", t.advmss),
        ("cwnd", t.snd_cwnd),
    ] {
        if v != 0 {
            add(format!(" {name}:{v}"));
        }
    }
    if t.snd_ssthresh != 0 && t.snd_ssthresh < 0xFFFF {
        add(format!(" ssthresh:{}", t.snd_ssthresh));
    }
    for (name, v) in [
        ("bytes_sent", t.bytes_sent),
        ("bytes_acked", t.bytes_acked),
        ("bytes_received", t.bytes_received),
        ("segs_out", t.segs_out.into()),
        ("segs_in", t.segs_in.into()),
        ("data_segs_out", t.data_segs_out.into()),
        ("data_segs_in", t.data_segs_in.into()),
    ] {
        if v != 0 {
            add(format!(" {name}:{v}"));
        }
    }
    if let Some(b) = &t.bbr {
        add(format!(
            " bbr:(bw:{}bps,mrtt:{}",
            bw(b.bw as f64 * 8.0, numeric),
            fmt_g(f64::from(b.min_rtt_us) / 1000.0)
        ));
        if b.pacing_gain != 0 {
            add(format!(
                ",pacing_gain:{}",
                fmt_g(f64::from(b.pacing_gain) / 256.0)
            ));
        }
        if b.cwnd_gain != 0 {
            add(format!(
                ",cwnd_gain:{}",
                fmt_g(f64::from(b.cwnd_gain) / 256.0)
            ));
        }
        add(")".into());
    }
    if t.rtt > 0 && t.snd_mss > 0 && t.snd_cwnd > 0 {
        let bps = t.snd_cwnd as f64 * t.snd_mss as f64 * 8_000_000.0 / t.rtt as f64;
        add(format!(" send {}bps", bw(bps, numeric)));
    }
    for (name, v) in [
        ("lastsnd", t.last_data_sent),
        ("lastrcv", t.last_data_recv),
        ("lastack", t.last_ack_recv),
    ] {
        if v != 0 {
            add(format!(" {name}:{v}"));
        }
    }
    if t.pacing_rate != 0 && t.pacing_rate != u64::MAX {
        add(format!(
            " pacing_rate {}bps",
            bw(t.pacing_rate as f64 * 8.0, numeric)
        ));
    }
    if t.delivery_rate != 0 {
        add(format!(
            " delivery_rate {}bps",
            bw(t.delivery_rate as f64 * 8.0, numeric)
        ));
    }
    if t.delivered != 0 {
        add(format!(" delivered:{}", t.delivered));
    }
    if t.delivery_rate_app_limited {
        add(" app_limited".into());
    }
    if t.unacked != 0 {
        add(format!(" unacked:{}", t.unacked));
    }
    if t.retrans != 0 || t.total_retrans != 0 {
        add(format!(" retrans:{}/{}", t.retrans, t.total_retrans));
    }
    if t.reordering != 0 && t.reordering != 3 {
        add(format!(" reordering:{}", t.reordering));
    }
    if t.rcv_rtt != 0 {
        add(format!(" rcv_rtt:{}", fmt_g(f64::from(t.rcv_rtt) / 1000.0)));
    }
    for (name, v) in [
        ("rcv_space", t.rcv_space),
        ("rcv_ssthresh", t.rcv_ssthresh),
        ("notsent", t.notsent_bytes),
        ("snd_wnd", t.snd_wnd),
        ("rcv_wnd", t.rcv_wnd),
    ] {
        if v != 0 {
            add(format!(" {name}:{v}"));
        }
    }
    o
}

/// The `-o` timer as `inet_diag` reports it: (`on`/`keepalive`/`timewait`/`persist`,
/// milliseconds left, retransmissions or probes).
fn timer_of(r: &SockRow) -> Option<(&'static str, u64, u32)> {
    let (k, left) = r.info.timer?;
    let ms = left.as_millis() as u64;
    let ti = r.tcp_info.unwrap_or_default();
    Some(match (r.kind, k) {
        (SockKind::TimeWait, _) | (_, TimerKind::TimeWait) => ("timewait", ms, 0),
        (SockKind::Request, _) => ("on", ms, ti.retransmits.into()),
        (_, TimerKind::Retransmit) => ("on", ms, ti.retransmits.into()),
        (_, TimerKind::ZeroWindowProbe) => ("persist", ms, ti.probes.into()),
        (_, TimerKind::Keepalive | TimerKind::FinWait2) => ("keepalive", ms, ti.probes.into()),
        (_, TimerKind::DelayedAck | TimerKind::Linger) => return None,
    })
}

/// sk->sk_shutdown as `ss -e` prints it (`<->`, `-->`, `<--`, `---`), from the state:
/// a FIN received shuts reading, a FIN sent shuts writing, close() both. (A
/// shutdown(SHUT_RD) leaves no trace in the state and is not shown.)
fn shutdown_mark(r: &SockRow) -> Option<&'static str> {
    use TcpState::*;
    match r.kind {
        SockKind::Listener => return Some("<->"),
        SockKind::Request | SockKind::TimeWait => return None,
        SockKind::Full => {}
    }
    // No descriptor in a state only close() leads to: an orphan (close() shut both ways).
    // A child still in the accept queue has no descriptor either, but is in none of them.
    if r.info.fd.is_none() && matches!(r.info.state, FinWait1 | FinWait2 | Closing | LastAck) {
        return Some("---");
    }
    let rd = matches!(r.info.state, CloseWait | LastAck | Closing | TimeWait);
    let wr = matches!(
        r.info.state,
        FinWait1 | FinWait2 | Closing | LastAck | TimeWait
    );
    Some(match (rd, wr) {
        (false, false) => "<->",
        (true, false) => "-->",
        (false, true) => "<--",
        (true, true) => "---",
    })
}

/// The table `ss` prints for these rows.
pub fn ss_table(rows: &[SockRow], o: &SsOptions) -> String {
    let one_state = o.states & o.states.wrapping_sub(1) == 0;
    let mut cols = vec![
        (Align::Left, ""),
        (Align::Left, " "),
        (Align::Left, " "),
        (Align::Right, " "),
        (Align::Left, ""),
        (Align::Right, " "),
        (Align::Left, ""),
        (Align::Left, ""),
    ];
    let mut lines = vec![[
        "State",
        "Recv-Q",
        "Send-Q",
        "Local Address:",
        "Port",
        "Peer Address:",
        "Port",
        "Process",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for (i, r) in rows.iter().filter(|r| o.shows(r)).enumerate() {
        let fam = r
            .info
            .local
            .or(r.info.remote)
            .map(|a| a.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let (la, lp) = ss_addr(r.info.local, fam);
        let (pa, pp) = ss_addr(r.info.remote, fam);
        let mut ext = String::new();
        if o.options {
            if let Some((name, ms, n)) = timer_of(r) {
                ext.push_str(&format!(" timer:({name},{},{n})", ms_timer(ms)));
            }
        }
        if o.extended {
            ext.push_str(&format!(" ino:0 sk:{:x}", i + 1));
            if let Some(m) = shutdown_mark(r) {
                ext.push(' ');
                ext.push_str(m);
            }
        }
        if o.info {
            ext.push_str("\n\t");
            // A request has no TCP_INFO in inet_diag: its line stays empty.
            if let Some(t) = r.tcp_info.as_ref().filter(|_| r.kind != SockKind::Request) {
                ext.push_str(&info_line(t, o.numeric));
            }
        }
        lines.push(vec![
            r.info.state.ss_name().to_string(),
            r.info.recv_q.to_string(),
            r.info.send_q.to_string(),
            la,
            lp,
            pa,
            pp,
            ext,
        ]);
    }
    if one_state {
        cols.remove(0);
        for l in &mut lines {
            l.remove(0);
        }
    }
    let out = render(&cols, &lines);
    if o.no_header {
        // The header still counts for the widths, as in `ss`.
        out.split_once('\n')
            .map(|x| x.1.to_string())
            .unwrap_or_default()
    } else {
        out
    }
}

/// The flags of a `netstat` command line (`-napt` and friends).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetstatOptions {
    /// `-a`: listeners too.
    pub all: bool,
    /// `-l`: listeners only.
    pub listening: bool,
    /// `-p`: the `PID/Program name` column (always `-` here: no processes).
    pub programs: bool,
    /// `-o`: the `Timer` column.
    pub timers: bool,
}

impl NetstatOptions {
    pub fn parse(args: &str) -> Result<NetstatOptions, String> {
        let mut o = NetstatOptions::default();
        for w in args.split_whitespace() {
            let f = w
                .strip_prefix('-')
                .ok_or_else(|| format!("netstat: cannot parse {w:?}"))?;
            for c in f.chars() {
                match c {
                    'n' | 't' | 'W' => {}
                    'a' => o.all = true,
                    'l' => o.listening = true,
                    'p' => o.programs = true,
                    'o' => o.timers = true,
                    _ => return Err(format!("netstat: unsupported flag -{c}")),
                }
            }
        }
        Ok(o)
    }
}

/// `10.0.0.1:80`, `:::22`, `0.0.0.0:*`, cut to 23 columns as netstat does without `-W`.
fn netstat_addr(a: Option<SocketAddr>, fam: IpAddr) -> String {
    let ip = a.map(|a| a.ip()).unwrap_or(match fam {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    });
    let mut host = ip.to_string();
    let port = match a.map(|a| a.port()) {
        Some(p) if p != 0 => p.to_string(),
        _ => "*".into(),
    };
    if host.len() + port.len() > 22 {
        host.truncate(22usize.saturating_sub(port.len()));
    }
    format!("{host}:{port}")
}

/// The table `netstat -napt` prints for these rows.
pub fn netstat_table(rows: &[SockRow], o: &NetstatOptions) -> String {
    let mut out = String::from(match (o.listening, o.all) {
        (true, _) => "Active Internet connections (only servers)\n",
        (false, true) => "Active Internet connections (servers and established)\n",
        _ => "Active Internet connections (w/o servers)\n",
    });
    out.push_str("Proto Recv-Q Send-Q Local Address           Foreign Address         State      ");
    if o.programs {
        out.push_str(" PID/Program name    ");
    }
    if o.timers {
        out.push_str(" Timer");
    }
    out.push('\n');
    for r in rows {
        let listen = r.info.state == TcpState::Listen;
        if (o.listening && !listen) || (!o.listening && !o.all && listen) {
            continue;
        }
        let fam = r
            .info
            .local
            .map(|a| a.ip())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let proto = if fam.is_ipv6() { "tcp6" } else { "tcp" };
        let la = netstat_addr(r.info.local, fam);
        let ra = netstat_addr(r.info.remote, fam);
        // A listener's queues are not shown by netstat (Linux's /proc/net/tcp gives the
        // accept queue as rx_queue and 0 as tx_queue).
        let (rq, sq) = if listen {
            (r.info.recv_q, 0)
        } else {
            (r.info.recv_q, r.info.send_q)
        };
        out.push_str(&format!(
            "{proto:<4}  {rq:>6} {sq:>6} {la:<w1$} {ra:<w2$} {:<11}",
            r.info.state.netstat_name(),
            w1 = la.len().max(23),
            w2 = ra.len().max(23),
        ));
        if o.programs {
            out.push_str(&format!(" {:<20}", "-"));
        }
        if o.timers {
            let t = match timer_of(r) {
                Some((name, ms, n)) => {
                    let name = if name == "persist" { "probe" } else { name };
                    format!("{name} ({:.2}/{n}/0)", ms as f64 / 1000.0)
                }
                None => "off (0.00/0/0)".into(),
            };
            out.push_str(&format!(" {t}"));
        }
        out.push('\n');
    }
    out
}

/// Counters in the order Linux lists them: `/proc/net/snmp` (Ip, then Tcp), then
/// `/proc/net/netstat` (TcpExt); names Linux does not have go last in their group.
const IP_ORDER: &[&str] = &[
    "InReceives",
    "InHdrErrors",
    "InAddrErrors",
    "ForwDatagrams",
    "InUnknownProtos",
    "InDiscards",
    "InDelivers",
    "OutRequests",
    "ReasmFails",
    "InTruncatedPkts",
];
const TCP_ORDER: &[&str] = &[
    "ActiveOpens",
    "PassiveOpens",
    "AttemptFails",
    "EstabResets",
    "CurrEstab",
    "InSegs",
    "OutSegs",
    "RetransSegs",
    "InErrs",
    "OutRsts",
    "InCsumErrors",
];
const TCPEXT_ORDER: &str = "SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo TCPLostRetransmit TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans TCPTimeouts TCPLossProbes TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail TCPRcvCollapsed TCPBacklogCoalesce TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger TCPAbortFailed TCPMemoryPressures TCPMemoryPressuresChrono TCPSACKDiscard TCPDSACKIgnoredOld TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure TCPSackShifted TCPSackMerged TCPSackShiftFallback TCPBacklogDrop PFMemallocDrop TCPMinTTLDrop TCPDeferAcceptDrop IPReversePathFilter TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail TCPRcvCoalesce TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive TCPFastOpenActiveFail TCPFastOpenPassive TCPFastOpenPassiveFail TCPFastOpenListenOverflow TCPFastOpenCookieReqd TCPFastOpenBlackhole TCPSpuriousRtxHostQueues BusyPollRxPackets TCPAutoCorking TCPFromZeroWindowAdv TCPToZeroWindowAdv TCPWantZeroWindowAdv TCPSynRetrans TCPOrigDataSent TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect TCPHystartDelayCwnd TCPACKSkippedSynRecv TCPACKSkippedPAWS TCPACKSkippedSeq TCPACKSkippedFinWait2 TCPACKSkippedTimeWait TCPACKSkippedChallenge TCPWinProbe TCPKeepAlive TCPMTUPFail TCPMTUPSuccess TCPDelivered TCPDeliveredCE TCPAckCompressed TCPZeroWindowDrop TCPRcvQDrop TCPWqueueTooBig TCPFastOpenPassiveAltKey";

/// Sort key of an nstat name: (group, position in Linux's list).
fn nstat_key(name: &str) -> (u8, usize) {
    fn pos<'a>(mut list: impl Iterator<Item = &'a str>, n: &str) -> usize {
        list.position(|x| x == n).unwrap_or(usize::MAX)
    }
    if let Some(n) = name.strip_prefix("TcpExt") {
        (2, pos(TCPEXT_ORDER.split(' '), n))
    } else if let Some(n) = name.strip_prefix("Tcp") {
        (1, pos(TCP_ORDER.iter().copied(), n))
    } else if let Some(n) = name.strip_prefix("Ip") {
        (0, pos(IP_ORDER.iter().copied(), n))
    } else {
        (3, usize::MAX)
    }
}

/// `nstat`: counters as absolute values (`-a`) or as the change since the previous
/// call (the history `nstat` keeps in a file, kept here in memory).
#[derive(Clone, Debug, Default)]
pub struct Nstat {
    last: HashMap<&'static str, u64>,
}

impl Nstat {
    pub fn new() -> Nstat {
        Nstat::default()
    }

    /// Print the counters as `nstat` does: `#kernel`, then `Name value rate` (the rate,
    /// an average per second in Linux, is always 0.0 here). Counters whose value (or
    /// change) is 0 are left out unless `zeros` (`-z`). The history is updated.
    pub fn render(
        &mut self,
        counters: impl Iterator<Item = (&'static str, u64)>,
        absolute: bool,
        zeros: bool,
    ) -> String {
        let mut list: Vec<(&'static str, u64)> = counters.collect();
        let mut order: Vec<usize> = (0..list.len()).collect();
        order.sort_by_key(|&i| (nstat_key(list[i].0), i));
        let mut out = String::from("#kernel\n");
        for i in order {
            let (name, v) = list[i];
            let shown = if absolute {
                v
            } else {
                v.wrapping_sub(self.last.get(name).copied().unwrap_or(0))
            };
            if shown != 0 || zeros {
                out.push_str(&format!("{name:<32}{shown:<16}{:>6.1}\n", 0.0));
            }
        }
        for (name, v) in list.drain(..) {
            self.last.insert(name, v);
        }
        out
    }
}

/// `nstat` arguments: `-a` (absolute), `-z` (zeros too).
pub fn nstat_flags(args: &str) -> Result<(bool, bool), String> {
    let (mut a, mut z) = (false, false);
    for w in args.split_whitespace() {
        let f = w
            .strip_prefix('-')
            .ok_or_else(|| format!("nstat: cannot parse {w:?}"))?;
        for c in f.chars() {
            match c {
                'a' => a = true,
                'z' => z = true,
                _ => return Err(format!("nstat: unsupported flag -{c}")),
            }
        }
    }
    Ok((a, z))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use synack_core::Fd;

    fn row(
        kind: SockKind,
        state: TcpState,
        local: &str,
        remote: Option<&str>,
        q: (u32, u32),
        timer: Option<(TimerKind, u64)>,
    ) -> SockRow {
        SockRow {
            info: SocketInfo {
                fd: match kind {
                    SockKind::Listener | SockKind::Full => Some(Fd(3)),
                    _ => None,
                },
                state,
                local: Some(local.parse().unwrap()),
                remote: remote.map(|r| r.parse().unwrap()),
                recv_q: q.0,
                send_q: q.1,
                timer: timer.map(|(k, ms)| (k, Duration::from_millis(ms))),
            },
            kind,
            tcp_info: None,
        }
    }

    /// One socket in each state a host shows, with the timers `ss -o` prints.
    fn table() -> Vec<SockRow> {
        use SockKind::{Full, Listener, Request};
        use TcpState::*;
        let tw = SockKind::TimeWait;
        let c = "10.0.0.1:40000";
        let s = "10.0.0.2:80";
        vec![
            row(Listener, Listen, "0.0.0.0:80", None, (3, 128), None),
            row(Listener, Listen, "[::]:22", None, (0, 4096), None),
            row(
                Request,
                SynRecv,
                s,
                Some("10.0.0.9:5555"),
                (0, 0),
                Some((TimerKind::Retransmit, 3500)),
            ),
            row(
                Full,
                SynSent,
                c,
                Some(s),
                (0, 0),
                Some((TimerKind::Retransmit, 200)),
            ),
            row(
                Full,
                Established,
                c,
                Some(s),
                (0, 18),
                Some((TimerKind::Keepalive, 119_000)),
            ),
            row(
                Full,
                FinWait1,
                c,
                Some(s),
                (0, 1),
                Some((TimerKind::ZeroWindowProbe, 12_345)),
            ),
            row(Full, FinWait2, c, Some(s), (0, 0), None),
            row(
                Full,
                CloseWait,
                s,
                Some(c),
                (5, 0),
                Some((TimerKind::DelayedAck, 40)),
            ),
            row(
                Full,
                LastAck,
                s,
                Some(c),
                (0, 1),
                Some((TimerKind::Retransmit, 1000)),
            ),
            row(
                Full,
                Closing,
                c,
                Some(s),
                (0, 1),
                Some((TimerKind::Retransmit, 7_200_000)),
            ),
            row(
                tw,
                TimeWait,
                c,
                Some(s),
                (0, 0),
                Some((TimerKind::TimeWait, 59_875)),
            ),
            row(
                tw,
                FinWait2,
                "[2001:db8::1]:443",
                Some("[2001:db8::2]:50000"),
                (0, 0),
                Some((TimerKind::FinWait2, 60_000)),
            ),
        ]
    }

    #[test]
    fn ss_tano_every_state_and_timer() {
        let o = SsOptions::parse("-tano").unwrap();
        let want = "\
State      Recv-Q Send-Q Local Address:Port   Peer Address:Port Process                       
LISTEN     3      128          0.0.0.0:80          0.0.0.0:*                                  
LISTEN     0      4096            [::]:22             [::]:*                                  
SYN-RECV   0      0           10.0.0.2:80         10.0.0.9:5555  timer:(on,3.500ms,0)         
SYN-SENT   0      0           10.0.0.1:40000      10.0.0.2:80    timer:(on,200ms,0)           
ESTAB      0      18          10.0.0.1:40000      10.0.0.2:80    timer:(keepalive,1min59sec,0)
FIN-WAIT-1 0      1           10.0.0.1:40000      10.0.0.2:80    timer:(persist,12sec,0)      
FIN-WAIT-2 0      0           10.0.0.1:40000      10.0.0.2:80                                 
CLOSE-WAIT 5      0           10.0.0.2:80         10.0.0.1:40000                              
LAST-ACK   0      1           10.0.0.2:80         10.0.0.1:40000 timer:(on,1sec,0)            
CLOSING    0      1           10.0.0.1:40000      10.0.0.2:80    timer:(on,120min,0)          
TIME-WAIT  0      0           10.0.0.1:40000      10.0.0.2:80    timer:(timewait,59sec,0)     
FIN-WAIT-2 0      0      [2001:db8::1]:443   [2001:db8::2]:50000 timer:(timewait,1min,0)      
";
        assert_eq!(ss_table(&table(), &o), want);
    }

    #[test]
    fn ss_default_and_state_filters() {
        // `ss -tn`: no listeners, no TIME-WAIT, no SYN-RECV.
        let t = ss_table(&table(), &SsOptions::parse("-tn").unwrap());
        assert!(!t.contains("LISTEN") && !t.contains("TIME-WAIT") && !t.contains("SYN-RECV"));
        assert!(t.contains("ESTAB") && t.contains("SYN-SENT"));
        // `-l`: listeners only.
        let t = ss_table(&table(), &SsOptions::parse("-tln").unwrap());
        assert_eq!(t.lines().count(), 3, "{t}");
        // One state: no State column, as ss prints it.
        let t = ss_table(&table(), &SsOptions::parse("-tan state time-wait").unwrap());
        assert_eq!(
            t,
            "Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n0      0           10.0.0.1:40000     10.0.0.2:80         \n"
        );
        // An empty table is the header alone.
        let t = ss_table(&[], &SsOptions::parse("-tan state established").unwrap());
        assert_eq!(
            t,
            "Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n"
        );
        // Groups and exclusions.
        let n = |a: &str| {
            ss_table(&table(), &SsOptions::parse(a).unwrap())
                .lines()
                .count()
                - 1
        };
        assert_eq!(n("-tan state connected"), 10);
        assert_eq!(n("-tan state synchronized"), 9);
        assert_eq!(n("-tan state bucket"), 2);
        assert_eq!(n("-tan exclude listening"), 10);
        assert_eq!(n("-tan state fin-wait-2"), 2);
        assert_eq!(n("-tan6"), 2);
        assert_eq!(n("-tan4"), 10);
        let t = ss_table(
            &table(),
            &SsOptions::parse("-tanpH state syn-sent").unwrap(),
        );
        assert_eq!(t.lines().count(), 1, "{t}");
        assert!(t.starts_with("0      0   "), "{t}");
        assert!(SsOptions::parse("-tan state nonsense").is_err());
        assert!(SsOptions::parse("-tanq").is_err());
    }

    #[test]
    fn ss_extended_and_info() {
        let mut rows = vec![
            row(
                SockKind::Listener,
                TcpState::Listen,
                "10.0.0.2:80",
                None,
                (0, 128),
                None,
            ),
            row(
                SockKind::Full,
                TcpState::Established,
                "10.0.0.2:80",
                Some("10.0.0.1:40000"),
                (0, 0),
                None,
            ),
            row(
                SockKind::TimeWait,
                TcpState::TimeWait,
                "10.0.0.2:80",
                Some("10.0.0.1:40001"),
                (0, 0),
                Some((TimerKind::TimeWait, 30_000)),
            ),
        ];
        rows[1].tcp_info = Some(TcpInfo {
            options: opt::TIMESTAMPS | opt::SACK | opt::WSCALE,
            snd_wscale: 7,
            rcv_wscale: 7,
            rto: 204_000,
            rtt: 3_500,
            rttvar: 1_750,
            ato: 40_000,
            snd_mss: 1448,
            rcv_mss: 536,
            advmss: 1448,
            pmtu: 1500,
            snd_cwnd: 10,
            snd_ssthresh: 7,
            bytes_acked: 100,
            bytes_received: 200,
            segs_out: 5,
            segs_in: 6,
            data_segs_out: 2,
            data_segs_in: 3,
            total_retrans: 2,
            reordering: 3,
            rcv_space: 14480,
            rcv_ssthresh: 64088,
            snd_wnd: 65536,
            ..Default::default()
        });
        let t = ss_table(&rows, &SsOptions::parse("-tanie").unwrap());
        let want = "\
State     Recv-Q Send-Q Local Address:Port Peer Address:Port Process                                                                                                                                                                                                                                                                                           
LISTEN    0      128         10.0.0.2:80        0.0.0.0:*     ino:0 sk:1 <->
\t                                                                                                                                                                                                                                                                                 
ESTAB     0      0           10.0.0.2:80       10.0.0.1:40000 ino:0 sk:2 <->
\t ts sack wscale:7,7 rto:204 rtt:3.5/1.75 ato:40 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:10 ssthresh:7 bytes_acked:100 bytes_received:200 segs_out:5 segs_in:6 data_segs_out:2 data_segs_in:3 send 33097143bps retrans:0/2 rcv_space:14480 rcv_ssthresh:64088 snd_wnd:65536
TIME-WAIT 0      0           10.0.0.2:80       10.0.0.1:40001 ino:0 sk:3
\t                                                                                                                                                                                                                                                                                     
";
        assert_eq!(t, want);
        // Without -n, rates as ss prints them.
        let t = ss_table(&rows[1..2], &SsOptions::parse("-tai").unwrap());
        assert!(t.contains(" send 33.1Mbps "), "{t}");
        // A BBR connection: the algorithm's name first, its model after the segment
        // counts, the pacing and delivery rates after the last-activity ages (ss.c's
        // tcp_stats_print order).
        let mut bbr = rows[1].clone();
        if let Some(i) = bbr.tcp_info.as_mut() {
            i.congestion = "bbr";
            i.bbr = Some(synack_core::api::BbrInfo {
                bw: 12_000_000,
                min_rtt_us: 10_000,
                pacing_gain: 739,
                cwnd_gain: 739,
                mode: "STARTUP",
            });
            i.last_ack_recv = 4;
            i.pacing_rate = 34_650_000;
            i.delivery_rate = 11_900_000;
            i.delivery_rate_app_limited = true;
            i.delivered = 9;
        }
        let t = ss_table(&[bbr], &SsOptions::parse("-tai").unwrap());
        assert!(
            t.contains(
                "\t ts sack bbr wscale:7,7 rto:204 rtt:3.5/1.75 ato:40 mss:1448 pmtu:1500 \
                 rcvmss:536 advmss:1448 cwnd:10 ssthresh:7 bytes_acked:100 \
                 bytes_received:200 segs_out:5 segs_in:6 data_segs_out:2 data_segs_in:3 \
                 bbr:(bw:96Mbps,mrtt:10,pacing_gain:2.88672,cwnd_gain:2.88672) \
                 send 33.1Mbps lastack:4 pacing_rate 277Mbps delivery_rate 95.2Mbps \
                 delivered:9 app_limited retrans:0/2"
            ),
            "{t}"
        );
    }

    /// Byte for byte what iproute2 6.1's `ss -tano` printed (to a pipe) for these sockets
    /// on a Linux host.
    #[test]
    fn same_bytes_as_iproute2() {
        use SockKind::{Full, Listener};
        use TcpState::*;
        let rows = vec![
            row(Listener, Listen, "0.0.0.0:2024", None, (0, 128), None),
            row(Listener, Listen, "127.0.0.1:18765", None, (0, 5), None),
            row(
                Full,
                Established,
                "127.0.0.1:18765",
                Some("127.0.0.1:44774"),
                (0, 0),
                None,
            ),
            row(
                Full,
                CloseWait,
                "127.0.0.1:44770",
                Some("127.0.0.1:18765"),
                (0, 0),
                Some((TimerKind::Keepalive, 7_199_000)),
            ),
            row(
                Full,
                Established,
                "127.0.0.1:44774",
                Some("127.0.0.1:18765"),
                (0, 0),
                None,
            ),
            row(
                SockKind::TimeWait,
                FinWait2,
                "127.0.0.1:18765",
                Some("127.0.0.1:44770"),
                (0, 0),
                Some((TimerKind::FinWait2, 59_500)),
            ),
        ];
        let real = "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process                    \nLISTEN     0      128          0.0.0.0:2024       0.0.0.0:*                               \nLISTEN     0      5          127.0.0.1:18765      0.0.0.0:*                               \nESTAB      0      0          127.0.0.1:18765    127.0.0.1:44774                           \nCLOSE-WAIT 0      0          127.0.0.1:44770    127.0.0.1:18765 timer:(keepalive,119min,0)\nESTAB      0      0          127.0.0.1:44774    127.0.0.1:18765                           \nFIN-WAIT-2 0      0          127.0.0.1:18765    127.0.0.1:44770 timer:(timewait,59sec,0)  \n";
        assert_eq!(ss_table(&rows, &SsOptions::parse("-tano").unwrap()), real);
        let real = "\
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      128          0.0.0.0:2024       0.0.0.0:*          
LISTEN 0      5          127.0.0.1:18765      0.0.0.0:*          
";
        assert_eq!(ss_table(&rows, &SsOptions::parse("-tln").unwrap()), real);
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_g(204.0), "204");
        assert_eq!(fmt_g(3.5), "3.5");
        assert_eq!(fmt_g(0.032), "0.032");
        assert_eq!(fmt_g(1234567.0), "1.23457e+06");
        assert_eq!(fmt_g(0.00001), "1e-05");
        assert_eq!(ms_timer(119 * 60_000 + 59_000), "119min");
        assert_eq!(ms_timer(119_000), "1min59sec");
        assert_eq!(ms_timer(59_875), "59sec");
        assert_eq!(ms_timer(3_500), "3.500ms");
        assert_eq!(ms_timer(200), "200ms");
        assert_eq!(ms_timer(0), "");
        assert_eq!(bw(137e9, false), "137G");
        assert_eq!(bw(32.8e9, false), "32.8G");
        assert_eq!(bw(90112000000.0, true), "90112000000");
    }

    #[test]
    fn netstat_napt() {
        let o = NetstatOptions::parse("-napt").unwrap();
        let t = netstat_table(&table()[..5], &o);
        let want = "\
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    
tcp        3      0 0.0.0.0:80              0.0.0.0:*               LISTEN      -                   
tcp6       0      0 :::22                   :::*                    LISTEN      -                   
tcp        0      0 10.0.0.2:80             10.0.0.9:5555           SYN_RECV    -                   
tcp        0      0 10.0.0.1:40000          10.0.0.2:80             SYN_SENT    -                   
tcp        0     18 10.0.0.1:40000          10.0.0.2:80             ESTABLISHED -                   
";
        assert_eq!(t, want);
        let t = netstat_table(&table()[..5], &NetstatOptions::parse("-nto").unwrap());
        assert!(t.starts_with("Active Internet connections (w/o servers)\n"));
        assert!(t.contains("SYN_SENT    on (0.20/0/0)\n"), "{t}");
        assert!(t.contains("ESTABLISHED keepalive (119.00/0/0)\n"), "{t}");
    }

    #[test]
    fn nstat_absolute_deltas_and_zeros() {
        let mut n = Nstat::new();
        let c1 = [
            ("TcpExtTW", 1u64),
            ("TcpActiveOpens", 2),
            ("IpInHdrErrors", 0),
        ];
        let t = n.render(c1.iter().copied(), true, false);
        assert_eq!(
            t,
            "#kernel\n\
             TcpActiveOpens                  2                  0.0\n\
             TcpExtTW                        1                  0.0\n"
        );
        let c2 = [
            ("TcpExtTW", 4u64),
            ("TcpActiveOpens", 2),
            ("IpInHdrErrors", 0),
        ];
        let t = n.render(c2.iter().copied(), false, false);
        assert_eq!(
            t,
            "#kernel\nTcpExtTW                        3                  0.0\n"
        );
        let t = n.render(c2.iter().copied(), false, true);
        assert_eq!(
            t,
            "#kernel\n\
             IpInHdrErrors                   0                  0.0\n\
             TcpActiveOpens                  0                  0.0\n\
             TcpExtTW                        0                  0.0\n"
        );
        assert_eq!(nstat_flags("-az"), Ok((true, true)));
    }
}
