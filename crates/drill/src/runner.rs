//! Runs one parsed script against one [`Stack`] on a virtual clock.
//!
//! Time only moves when the script says so: before each event the stack's timers up to
//! the event's time fire; an expected (`>`) segment waits, timer by timer, until the stack
//! sends something on the flow under test or the window closes. Nothing here sleeps, so a
//! script with a 60-second TIME_WAIT runs in microseconds and replays exactly.
use crate::packet::{self, flags_str, options_str, Inject, Seen};
use crate::script::{
    Event, EventKind, OptSpec, PacketBody, PacketLine, Script, TcpLine, Time, Usecs,
};
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use synack_core::{Config, Errno, Fd, Instant, Profile, Stack};

/// The port our stack's scripted sockets bind (`bind(fd, ..., ...)`) and connect to.
pub const SCRIPT_PORT: u16 = 8080;

/// A script-visible descriptor.
pub(crate) enum Handle {
    Sock { fd: Fd, nonblock: bool },
    Epoll(crate::syscall::Epoll),
}

/// One connection the script talks about, in the kernel's numbers.
#[derive(Clone, Debug)]
pub(crate) struct Flow {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Our ISN, learned from our first SYN or SYN-ACK on this flow.
    pub local_isn: Option<u32>,
    /// The remote's ISN: the sequence number of the scripted SYN or SYN-ACK.
    pub remote_isn: u32,
    /// live TS val − scripted TS val, learned from our first timestamp the script spells.
    pub ts_offset: Option<u32>,
    /// The application's descriptor for this connection, once connect()/accept() gave one.
    pub fd: Option<Fd>,
    /// A SYN with a new ISN on a live flow: it becomes the flow's remote ISN only if our
    /// stack answers with a SYN (a new connection, e.g. reopening TIME_WAIT); a challenge
    /// ACK keeps the old numbering.
    pub pending_isn: Option<u32>,
}

/// What `socket under test` means to packetdrill: the last socket the script created, or
/// the last passive connection an inbound SYN started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sut {
    Socket(i32),
    Flow(usize),
}

/// A segment our stack sent and the script has not consumed.
pub(crate) struct Sent {
    pub at: Instant,
    pub seen: Seen,
}

/// A failure: the message a person reads.
pub type Failure = String;

pub(crate) struct Runner {
    pub path: PathBuf,
    pub stack: Stack,
    pub now: Instant,
    pub local_ip: IpAddr,
    pub remote_ip: IpAddr,
    tolerance: Usecs,
    tolerance_percent: f64,
    ts_tick: Option<Usecs>,
    pub fds: BTreeMap<i32, Handle>,
    pub sut: Option<Sut>,
    pub flows: Vec<Flow>,
    pub flow: Option<usize>,
    next_remote_port: u16,
    pub sent: VecDeque<Sent>,
    /// `tc qdisc add ... pfifo limit 0`: everything we send is dropped.
    pub blackhole: bool,
    pub pending: Option<crate::syscall::Pending>,
    /// The script descriptor the pending or running accept() names.
    pub accept_fd: Option<i32>,
    /// Time of the previous event: relative times count from it.
    last: Usecs,
    pub saved_sysctls: Vec<(String, String)>,
    pub nstat_base: BTreeMap<&'static str, u64>,
    pub log: Vec<String>,
    pub verbose: bool,
    buf: Vec<u8>,
    /// The line being run, for messages.
    pub line: usize,
}

pub(crate) fn fmt_t(us: Usecs) -> String {
    let neg = if us < 0 { "-" } else { "" };
    let us = us.unsigned_abs();
    format!("{neg}{}.{:06}", us / 1_000_000, us % 1_000_000)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
        + " s"
}

fn micros(t: Instant) -> Usecs {
    t.as_micros() as Usecs
}

fn at(us: Usecs) -> Instant {
    Instant::from_micros(us.max(0) as u64)
}

impl Runner {
    pub fn new(
        path: &Path,
        script: &Script,
        profile: Profile,
        verbose: bool,
        v6: bool,
        mtu: u32,
    ) -> Result<Runner, Failure> {
        let mut local_ip: IpAddr = if v6 {
            "fd3d:a0b:17d6::1".parse().unwrap()
        } else {
            "192.168.0.1".parse().unwrap()
        };
        let mut remote_ip: IpAddr = if v6 {
            "fd3d:fa7b:d17d::1".parse().unwrap()
        } else {
            "192.0.2.1".parse().unwrap()
        };
        let mut tolerance = 4_000;
        let mut tolerance_percent = 12.5;
        let mut ts_tick = None;
        let mut profile = profile;
        // The simulated link's MTU (packetdrill's --mtu): 1500 unless the run or the
        // script says otherwise.
        let mut mtu = mtu;
        for (name, value, line) in &script.flags {
            let v = value.as_deref().unwrap_or("");
            let bad = |what: &str| format!("line {line}: --{name}: {what}");
            match name.as_str() {
                "local_ip" => local_ip = v.parse().map_err(|_| bad("not an IP address"))?,
                "remote_ip" => remote_ip = v.parse().map_err(|_| bad("not an IP address"))?,
                "tolerance_usecs" => tolerance = v.parse().map_err(|_| bad("not a number"))?,
                "tolerance_percent" => {
                    tolerance_percent = v.parse().map_err(|_| bad("not a number"))?
                }
                "tcp_ts_tick_usecs" => {
                    ts_tick = Some(v.parse::<Usecs>().map_err(|_| bad("not a number"))?)
                        .filter(|&t| t > 0)
                }
                "profile" => profile = v.parse().map_err(|e: String| bad(&e))?,
                // The link MSS packetdrill uses to cut TSO bursts: our stack sends segments
                // of the negotiated MSS already. Echo-reply scaling needs no translation
                // while we do not check TS ecr scaling.
                "mss" | "tcp_ts_ecr_scaled" | "ip_version" => {}
                "mtu" => {
                    mtu = v
                        .parse::<u32>()
                        .ok()
                        .filter(|m| (68..=65535).contains(m))
                        .ok_or_else(|| bad("an MTU in 68..=65535"))?
                }
                _ => return Err(format!("line {line}: unsupported: flag --{name}")),
            }
        }
        let mut cfg = Config::for_profile(profile);
        cfg.mtu = mtu;
        let stack = Stack::new(cfg, &[local_ip]);
        Ok(Runner {
            path: path.to_path_buf(),
            stack,
            now: Instant::ZERO,
            local_ip,
            remote_ip,
            tolerance,
            tolerance_percent,
            ts_tick,
            fds: BTreeMap::new(),
            sut: None,
            flows: Vec::new(),
            flow: None,
            next_remote_port: 40000,
            sent: VecDeque::new(),
            blackhole: false,
            pending: None,
            accept_fd: None,
            last: 0,
            saved_sysctls: Vec::new(),
            nstat_base: BTreeMap::new(),
            log: Vec::new(),
            verbose,
            buf: Vec::with_capacity(2048),
            line: 0,
        })
    }

    pub fn note(&mut self, msg: impl FnOnce() -> String) {
        if self.verbose {
            let line = format!("{:>12}  {}", fmt_t(micros(self.now)), msg());
            self.log.push(line);
        }
    }

    /// Tolerance for an event expected at `t`: the flag (4 ms), or a share of the gap.
    pub(crate) fn tol(&self, t: Usecs) -> Usecs {
        let gap = (t - self.last).max(0) as f64;
        self.tolerance
            .max((gap * self.tolerance_percent / 100.0).round() as Usecs)
    }

    pub fn run(&mut self, script: &Script) -> Result<(), Failure> {
        for ev in &script.events {
            self.line = ev.line;
            self.event(ev).map_err(|m| {
                format!(
                    "{}:{}: {}\n    script: {}",
                    self.path.display(),
                    ev.line,
                    m,
                    ev.text
                )
            })?;
        }
        // A call still blocked must return by its deadline.
        if self.pending.is_some() {
            self.finish_pending()
                .map_err(|m| format!("{}: {m}", self.path.display()))?;
        }
        Ok(())
    }

    fn resolve(&self, rel: bool, t: Usecs) -> Usecs {
        if rel {
            self.last + t
        } else {
            t
        }
    }

    fn event(&mut self, ev: &Event) -> Result<(), Failure> {
        if let EventKind::Packet(p) = &ev.kind {
            if !p.inbound {
                return self.expect_outbound(ev, p);
            }
        }
        let (t, rel) = match ev.time {
            Time::Any => (micros(self.now).max(self.last), false),
            Time::At { rel, t } => (self.resolve(rel, t), rel),
            Time::Range { lo, .. } => (self.resolve(lo.0, lo.1), lo.0),
        };
        if matches!(ev.kind, EventKind::Syscall(_)) && self.pending.is_some() {
            // packetdrill runs one system call at a time: the next waits for the last.
            self.finish_pending()?;
        }
        self.advance_to(at(t))?;
        // What the stack sent stays queued, in order, for the next `>` lines (as
        // packetdrill reads its tun device): nothing is skipped silently.
        match &ev.kind {
            EventKind::Packet(p) => self.inject(p)?,
            EventKind::Syscall(sc) => {
                let end = ev.end.map(|e| if rel { self.last + e } else { e });
                self.syscall(sc, t, end)?;
            }
            EventKind::Shell(cmd) => self.shell(cmd)?,
            EventKind::Python(code) => self.python(code)?,
        }
        self.last = t;
        self.collect();
        Ok(())
    }

    /// Run the stack's timers up to `t`.
    pub fn advance_to(&mut self, t: Instant) -> Result<(), Failure> {
        while self.step(t)? {}
        if t > self.now {
            self.now = t;
        }
        self.check_pending()?;
        Ok(())
    }

    /// Fire the next timer (the stack's, or a blocked call's timeout) if it is due by
    /// `limit`. Returns false when nothing is due.
    fn step(&mut self, limit: Instant) -> Result<bool, Failure> {
        let mut next = self.stack.poll_timeout();
        if let Some(d) = self.pending.as_ref().and_then(|p| p.timeout) {
            next = Some(next.map_or(d, |n| n.min(d)));
        }
        let Some(d) = next else { return Ok(false) };
        if d > limit {
            return Ok(false);
        }
        if d > self.now {
            self.now = d;
        }
        self.stack.handle_timeout(self.now);
        self.collect();
        self.check_pending()?;
        Ok(true)
    }

    /// Take what the stack wants to send.
    pub fn collect(&mut self) {
        let mut guard = 0;
        while self.stack.poll_transmit(self.now, &mut self.buf) {
            guard += 1;
            if guard > 100_000 {
                break;
            }
            let Some(seen) = packet::decode(&self.buf) else {
                continue;
            };
            if self.blackhole {
                self.note(|| format!("dropped by the qdisc: {}", display_seen(&seen)));
                continue;
            }
            if seen.flags & 0x02 != 0 {
                if let Some(f) = self
                    .flows
                    .iter_mut()
                    .find(|f| f.local == seen.src && f.remote == seen.dst)
                {
                    if let Some(isn) = f.pending_isn.take() {
                        f.remote_isn = isn;
                        f.local_isn = None;
                        f.ts_offset = None;
                    }
                    if f.local_isn.is_none() {
                        f.local_isn = Some(seen.seq);
                    }
                }
            }
            let line = self.show_sent(&seen);
            self.note(|| format!("> {line}"));
            self.sent.push_back(Sent { at: self.now, seen });
        }
    }

    fn flow_index(&self, local: SocketAddr, remote: SocketAddr) -> Option<usize> {
        self.flows
            .iter()
            .rposition(|f| f.local == local && f.remote == remote)
    }

    /// A segment our stack sent, in the script's numbers where the flow is known.
    fn show_sent(&self, s: &Seen) -> String {
        match self.flow_index(s.src, s.dst) {
            Some(i) => display_rel(s, &self.flows[i]),
            None => display_seen(s),
        }
    }

    fn current_flow(&self) -> Result<usize, Failure> {
        self.flow
            .ok_or_else(|| "no connection yet: this packet has no flow to belong to".to_string())
    }

    /// Is the socket under test a listening socket?
    fn sut_listening(&self) -> bool {
        match self.sut {
            Some(Sut::Socket(sfd)) => match self.fds.get(&sfd) {
                Some(Handle::Sock { fd, .. }) => {
                    self.stack.state(*fd).ok() == Some(synack_core::TcpState::Listen)
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn inject(&mut self, p: &PacketLine) -> Result<(), Failure> {
        let t = match &p.body {
            PacketBody::Tcp(t) => t,
            PacketBody::Icmp(icmp) => {
                let fi = self.current_flow()?;
                let f = self.flows[fi].clone();
                let (s, e) = icmp.quoted.unwrap_or((0, 0));
                let seq = f.local_isn.unwrap_or(0).wrapping_add(s);
                let bytes = packet::icmp_bytes(icmp, f.local, f.remote, seq, (e - s) as usize)?;
                self.note(|| format!("< icmp {} {:?}", icmp.kind, icmp.code));
                self.stack.handle_packet(self.now, &bytes);
                return Ok(());
            }
        };
        let syn_only = t.flags & 0x12 == 0x02;
        let fi = if let Some((rport, lport)) = p.ports {
            let local = SocketAddr::new(self.local_ip, lport);
            let remote = SocketAddr::new(self.remote_ip, rport);
            match self.flow_index(local, remote) {
                Some(i) => i,
                None => self.new_flow(local, remote, t.seq),
            }
        } else if syn_only && self.sut_listening() {
            let local = match self.sut {
                Some(Sut::Socket(sfd)) => match self.fds.get(&sfd) {
                    Some(Handle::Sock { fd, .. }) => self
                        .stack
                        .local_addr(*fd)
                        .map_err(|e| format!("listener has no address: {e}"))?,
                    _ => unreachable!("sut_listening checked the handle"),
                },
                _ => unreachable!("sut_listening checked the socket"),
            };
            let local = SocketAddr::new(self.local_ip, local.port());
            self.next_remote_port += 1;
            let remote = SocketAddr::new(self.remote_ip, self.next_remote_port);
            let i = self.new_flow(local, remote, t.seq);
            self.sut = Some(Sut::Flow(i));
            i
        } else {
            self.current_flow()?
        };
        self.flow = Some(fi);
        if t.flags & 0x02 != 0 {
            let f = &mut self.flows[fi];
            if syn_only && f.local_isn.is_some() && f.remote_isn != t.seq {
                // A new ISN on a live flow: decided by what our stack answers.
                f.pending_isn = Some(t.seq);
            } else {
                f.remote_isn = t.seq;
            }
        }
        let f = self.flows[fi].clone();
        let seq = if t.flags & 0x02 != 0 {
            t.seq
        } else {
            t.seq.wrapping_add(f.remote_isn)
        };
        let ack = t.ack.unwrap_or(0).wrapping_add(f.local_isn.unwrap_or(0));
        let options: Vec<OptSpec> = t
            .options
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|o| match o {
                OptSpec::Ts { val, ecr } if ecr != 0 => OptSpec::Ts {
                    val,
                    ecr: ecr.wrapping_add(f.ts_offset.unwrap_or(0)),
                },
                OptSpec::Sack(b) => OptSpec::Sack(
                    b.into_iter()
                        .map(|(l, r)| {
                            let isn = f.local_isn.unwrap_or(0);
                            (l.wrapping_add(isn), r.wrapping_add(isn))
                        })
                        .collect(),
                ),
                o => o,
            })
            .collect();
        let bytes = packet::tcp_bytes(&Inject {
            src: f.remote,
            dst: f.local,
            flags: t.flags,
            seq,
            ack,
            win: t.win.unwrap_or(65535).min(65535) as u16,
            options: &options,
            len: t.len as usize,
        });
        self.note(|| {
            format!(
                "< {} {}:{}({}){}{} {}",
                flags_str(t.flags),
                t.seq,
                t.end,
                t.len,
                t.ack.map(|a| format!(" ack {a}")).unwrap_or_default(),
                t.win.map(|w| format!(" win {w}")).unwrap_or_default(),
                options_str(t.options.as_deref().unwrap_or(&[]))
            )
        });
        self.stack.handle_packet(self.now, &bytes);
        self.check_pending()?;
        Ok(())
    }

    fn new_flow(&mut self, local: SocketAddr, remote: SocketAddr, remote_isn: u32) -> usize {
        self.flows.push(Flow {
            local,
            remote,
            local_isn: None,
            remote_isn,
            ts_offset: None,
            fd: None,
            pending_isn: None,
        });
        self.flows.len() - 1
    }

    /// The window an expected segment must fall in: [lo, hi] and the tolerance.
    fn window(&self, time: Time) -> (Usecs, Usecs, Usecs) {
        match time {
            Time::Any => (self.last, Usecs::MAX / 4, 0),
            Time::At { rel, t } => {
                let t = self.resolve(rel, t);
                (t, t, self.tol(t))
            }
            Time::Range { lo, hi } => {
                let (lo, hi) = (self.resolve(lo.0, lo.1), self.resolve(hi.0, hi.1));
                (lo, hi, self.tol(hi))
            }
        }
    }

    /// The next segment on `fi`'s flow, waiting up to `deadline`.
    fn next_on_flow(&mut self, fi: usize, deadline: Instant) -> Result<Option<Sent>, Failure> {
        loop {
            while let Some(s) = self.sent.pop_front() {
                let f = &self.flows[fi];
                if s.seen.src == f.local && s.seen.dst == f.remote {
                    return Ok(Some(s));
                }
                let line = self.show_sent(&s.seen);
                self.note(|| format!("(other flow, ignored) {line}"));
            }
            if !self.step(deadline)? {
                return Ok(None);
            }
        }
    }

    fn expect_outbound(&mut self, ev: &Event, p: &PacketLine) -> Result<(), Failure> {
        let PacketBody::Tcp(exp) = &p.body else {
            return Err("unsupported: an outbound icmp line".into());
        };
        let fi = match p.ports {
            Some((lport, rport)) => {
                let local = SocketAddr::new(self.local_ip, lport);
                let remote = SocketAddr::new(self.remote_ip, rport);
                match self.flow_index(local, remote) {
                    Some(i) => i,
                    None => self.new_flow(local, remote, 0),
                }
            }
            None => self.current_flow()?,
        };
        let (lo, hi, tol) = self.window(ev.time);
        let deadline = at(hi.saturating_add(tol));
        let when = match ev.time {
            Time::Any => "at any time".to_string(),
            _ if lo == hi => format!("at {} (±{} ms)", fmt_t(lo), tol as f64 / 1000.0),
            _ => format!(
                "between {} and {} (±{} ms)",
                fmt_t(lo),
                fmt_t(hi),
                tol as f64 / 1000.0
            ),
        };
        let mut next_seq = exp.seq;
        let mut first_at = None;
        loop {
            let Some(s) = self.next_on_flow(fi, deadline)? else {
                let later = self.look_ahead(fi);
                let sent = if next_seq == exp.seq {
                    "nothing".to_string()
                } else {
                    format!("only {}:{next_seq} of it", exp.seq)
                };
                return Err(format!(
                    "expected {} {when}; our stack sent {sent} on this flow by {}{later}",
                    display_line(exp),
                    fmt_t(micros(deadline).min(hi.saturating_add(tol)))
                ));
            };
            let t = micros(s.at);
            first_at.get_or_insert(t);
            let actual = display_rel(&s.seen, &self.flows[fi]);
            if t < lo - tol || t > hi.saturating_add(tol) {
                return Err(format!(
                    "expected {} {when}; our stack sent {actual} at {}",
                    display_line(exp),
                    fmt_t(t)
                ));
            }
            match self.compare(fi, exp, &s.seen, next_seq) {
                Ok(Piece::Whole) => break,
                Ok(Piece::Part(end)) => next_seq = end,
                Err(why) => {
                    return Err(format!(
                        "expected {} {when}; our stack sent {actual} at {} ({why})",
                        display_line(exp),
                        fmt_t(t)
                    ))
                }
            }
        }
        self.flow = Some(fi);
        self.last = match ev.time {
            Time::At { rel, t } => self.resolve(rel, t),
            _ => first_at.unwrap_or(micros(self.now)),
        };
        Ok(())
    }

    /// After a missing segment: what did the stack send next, if anything, within 10 s?
    fn look_ahead(&mut self, fi: usize) -> String {
        let limit = self.now + std::time::Duration::from_secs(10);
        match self.next_on_flow(fi, limit) {
            Ok(Some(s)) => format!(
                "; it next sent {} at {}",
                display_rel(&s.seen, &self.flows[fi]),
                fmt_t(micros(s.at))
            ),
            _ => " (nor in the 10 s after)".into(),
        }
    }

    /// Does `seen` match the expected line, whole or as the next piece starting at `from`?
    fn compare(
        &mut self,
        fi: usize,
        exp: &TcpLine,
        seen: &Seen,
        from: u32,
    ) -> Result<Piece, String> {
        let f = self.flows[fi].clone();
        let isn = f.local_isn.unwrap_or(seen.seq);
        let rel_seq = seen.seq.wrapping_sub(isn);
        let end = rel_seq.wrapping_add(seen.len);
        let piece = end != exp.end;
        if rel_seq != from {
            return Err(format!("sequence {rel_seq}, expected {from}"));
        }
        if piece {
            // One scripted segment sent as several (a TSO burst on Linux, MSS-sized
            // segments here): FIN only on the last; PSH, which Linux's TSO split moves
            // between the parts, may be on any of them.
            let inner = exp.flags & !0x09;
            if seen.len == 0 || end.wrapping_sub(exp.seq) > exp.len || seen.flags & !0x08 != inner {
                return Err(format!(
                    "flags {} and end {end}, expected {} ending at {}",
                    flags_str(seen.flags),
                    flags_str(exp.flags),
                    exp.end
                ));
            }
        } else if seen.flags != exp.flags
            && !(from != exp.seq && seen.flags & !0x08 == exp.flags & !0x08)
        {
            return Err(format!(
                "flags {}, expected {}",
                flags_str(seen.flags),
                flags_str(exp.flags)
            ));
        }
        if let Some(a) = exp.ack {
            if exp.flags & 0x10 != 0 {
                let live = if seen.flags & 0x02 != 0 {
                    seen.ack
                } else {
                    seen.ack.wrapping_sub(f.remote_isn)
                };
                if live != a {
                    return Err(format!("ack {live}, expected {a}"));
                }
            }
        }
        if let Some(w) = exp.win {
            if u32::from(seen.win) != w {
                return Err(format!("win {}, expected {w}", seen.win));
            }
        }
        if let Some(opts) = &exp.options {
            self.compare_options(fi, opts, &seen.options)?;
        }
        Ok(if piece {
            Piece::Part(end)
        } else {
            Piece::Whole
        })
    }

    fn compare_options(
        &mut self,
        fi: usize,
        exp: &[OptSpec],
        got: &[OptSpec],
    ) -> Result<(), String> {
        let mismatch = || {
            format!(
                "options {}, expected {}",
                options_str(got),
                options_str(exp)
            )
        };
        if exp.len() != got.len() {
            return Err(mismatch());
        }
        for (e, g) in exp.iter().zip(got) {
            match (e, g) {
                (OptSpec::Ts { val: ev, ecr: ee }, OptSpec::Ts { val: gv, ecr: ge }) => {
                    if ee != ge {
                        return Err(format!("TS ecr {ge}, expected {ee}"));
                    }
                    let off = *self.flows[fi].ts_offset.get_or_insert(gv.wrapping_sub(*ev));
                    if let Some(tick) = self.ts_tick {
                        let script_val = gv.wrapping_sub(off);
                        let slack = (self.tolerance / tick).max(1);
                        let d = (script_val.wrapping_sub(*ev) as i32) as i64;
                        if d.abs() > slack {
                            return Err(format!("TS val {script_val}, expected {ev} (±{slack})"));
                        }
                    }
                }
                (OptSpec::Sack(eb), OptSpec::Sack(gb)) => {
                    let isn = self.flows[fi].remote_isn;
                    let rel: Vec<(u32, u32)> = gb
                        .iter()
                        .map(|(l, r)| (l.wrapping_sub(isn), r.wrapping_sub(isn)))
                        .collect();
                    if &rel != eb {
                        return Err(mismatch());
                    }
                }
                (e, g) if e == g => {}
                _ => return Err(mismatch()),
            }
        }
        Ok(())
    }
}

enum Piece {
    Whole,
    /// A prefix of the scripted segment, ending at this relative sequence number.
    Part(u32),
}

fn display_line(t: &TcpLine) -> String {
    let mut s = format!("{} {}:{}({})", flags_str(t.flags), t.seq, t.end, t.len);
    if let Some(a) = t.ack {
        s += &format!(" ack {a}");
    }
    if let Some(w) = t.win {
        s += &format!(" win {w}");
    }
    match &t.options {
        Some(o) if o.is_empty() => s,
        Some(o) => s + " " + &options_str(o),
        None => s + " <...>",
    }
}

/// In live numbers (no flow known).
pub(crate) fn display_seen(s: &Seen) -> String {
    format!(
        "{}>{} {} {}:{}({}) ack {} win {} {}",
        s.src.port(),
        s.dst.port(),
        flags_str(s.flags),
        s.seq,
        s.seq.wrapping_add(s.len),
        s.len,
        s.ack,
        s.win,
        options_str(&s.options)
    )
}

/// In the script's numbers for `f`.
pub(crate) fn display_rel(s: &Seen, f: &Flow) -> String {
    let isn = f.local_isn.unwrap_or(s.seq);
    let seq = s.seq.wrapping_sub(isn);
    let mut out = format!(
        "{} {}:{}({})",
        flags_str(s.flags),
        seq,
        seq.wrapping_add(s.len),
        s.len
    );
    if s.flags & 0x10 != 0 {
        let ack = if s.flags & 0x02 != 0 {
            s.ack
        } else {
            s.ack.wrapping_sub(f.remote_isn)
        };
        out += &format!(" ack {ack}");
    }
    out += &format!(" win {}", s.win);
    let opts: Vec<OptSpec> = s
        .options
        .iter()
        .map(|o| match (o, f.ts_offset) {
            (OptSpec::Ts { val, ecr }, Some(off)) => OptSpec::Ts {
                val: val.wrapping_sub(off),
                ecr: *ecr,
            },
            (OptSpec::Sack(b), _) => OptSpec::Sack(
                b.iter()
                    .map(|(l, r)| (l.wrapping_sub(f.remote_isn), r.wrapping_sub(f.remote_isn)))
                    .collect(),
            ),
            (o, _) => o.clone(),
        })
        .collect();
    if !opts.is_empty() {
        out += " ";
        out += &options_str(&opts);
    }
    out
}

/// Errno by name for messages.
pub(crate) fn errno_str(e: Errno) -> String {
    format!("{} ({})", e.name(), e.message())
}
