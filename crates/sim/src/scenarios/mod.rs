//! The scenario library: each story of the document, runnable and checked.
//!
//! A scenario builds a two-host world (client 10.0.0.1, server 10.0.0.2, 25 ms each way),
//! scripts socket calls and faults, runs it in virtual time and returns a [`Verdict`]
//! computed from what was observed — never a hard-coded sentence: if the stack changes,
//! the verdict says what it does now.
//!
//! To add one: a new module with a `pub const SCENARIO: Scenario` whose `run` scripts the
//! [`World`] (socket calls through `w.sim.call`, faults with `w.sim.add_rule`, time with
//! `w.run_until`), then reads the event stream (`w.sent`, `w.transitions`, `w.timers`) to
//! judge; list it in [`all`]. A story in ten lines — the client's first FIN is lost and
//! retransmitted after the RTO:
//!
//! ```
//! use synack_sim::scenarios::{times, Options, Verdict, World};
//! use synack_sim::{Match, Rule};
//! let mut w = World::new(&Options::default()).unwrap();
//! let (c, s) = (w.client, w.server);
//! w.sim.add_rule(Rule::drop("drop the first FIN", Some(c), Some(s), Match::Fin).nth(1));
//! let (fd, _listener, _conn) = w.establish().unwrap();
//! w.sim.call(c, |st, now| st.close(now, fd)).unwrap();
//! w.run_until(5.0);
//! let fins = w.sent(c, Match::Fin);
//! let v = Verdict::new(fins.len() == 2, format!("FIN sent at {} s", times(&fins)));
//! assert!(v.pass, "{}", v.line);
//! ```
use crate::{HostId, LinkConfig, LinkId, Match, Sim, SimEventKind};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use synack_core::{
    Config, Errno, EventKind, Fd, Instant, Profile, SockOpt, SockOptName, TcpState, TimerKind,
};

mod accept_queue;
mod close_wait;
mod fast_open;
mod fin_lost;
mod fin_wait_1;
mod fin_wait_2;
mod handshake;
mod historical_syn;
mod keepalive;
mod linger;
mod simultaneous_close;
mod simultaneous_open;
mod syn_flood;
mod syn_lost;
mod synack_lost;
mod third_ack_lost;
mod time_wait;
mod time_wait_fin;

pub const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
pub const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
/// One-way delay of the scenarios' link.
pub const LATENCY: Duration = Duration::from_millis(25);

/// How a scenario is run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub profile: Profile,
    /// sysctl.conf-format files applied to both hosts first, in order.
    pub files: Vec<std::path::PathBuf>,
    /// `--set name=value`, applied to both hosts in order, after the files.
    pub sets: Vec<(String, String)>,
    /// The sim seed (link faults, ISNs, ports).
    pub seed: u64,
    /// Record a pcap of the client–server link.
    pub capture: bool,
}

/// The outcome, stated from the observed events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub pass: bool,
    pub line: String,
}

impl Verdict {
    pub fn new(pass: bool, line: impl Into<String>) -> Verdict {
        Verdict {
            pass,
            line: line.into(),
        }
    }

    /// A story that could not be played to its end.
    pub fn fail(why: impl Into<String>) -> Verdict {
        Verdict::new(false, why)
    }
}

/// A runnable story.
pub struct Scenario {
    pub name: &'static str,
    /// The document's section it illustrates (its headings, as written).
    pub section: &'static str,
    pub summary: &'static str,
    pub run: fn(&mut World) -> Verdict,
}

/// Every scenario, in tour order.
pub fn all() -> Vec<Scenario> {
    vec![
        handshake::SCENARIO,
        syn_lost::SCENARIO,
        synack_lost::SCENARIO,
        third_ack_lost::SCENARIO,
        historical_syn::SCENARIO,
        simultaneous_close::SCENARIO,
        simultaneous_open::SCENARIO,
        accept_queue::OVERFLOW,
        accept_queue::OVERFLOW_RST,
        syn_flood::FLOOD_NO_COOKIES,
        syn_flood::FLOOD_COOKIES,
        keepalive::DEAD_PEER,
        keepalive::ANSWERED,
        fast_open::FAST_OPEN,
        fast_open::BAD_COOKIE,
        fin_lost::FIN_LOST,
        fin_wait_1::SCENARIO,
        close_wait::SCENARIO,
        fin_wait_2::SCENARIO,
        fin_lost::PEER_FIN_LOST,
        time_wait_fin::SCENARIO,
        time_wait::EXHAUSTION,
        time_wait::REUSE,
        time_wait::MAX_TW_BUCKETS,
        linger::SCENARIO,
    ]
}

pub fn find(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// The two-host world a scenario runs in.
pub struct World {
    pub sim: Sim,
    pub client: HostId,
    pub server: HostId,
    /// The client–server link (its pcap is what `--pcap` writes).
    pub link: LinkId,
    /// The configuration both hosts run with (profile, then every `--set`).
    pub config: Config,
}

/// A step of a scenario that could not happen (a socket call failed unexpectedly): the
/// scenario stops with a failing verdict saying so, instead of panicking.
pub type Step<T> = Result<T, String>;

fn expect<T>(what: &str, r: Result<T, Errno>) -> Step<T> {
    r.map_err(|e| format!("{what} failed: {}", e.name()))
}

impl World {
    /// Build the world for `opts`: the profile's defaults, then each `--set` in order.
    pub fn new(opts: &Options) -> Result<World, String> {
        let mut config = Config::for_profile(opts.profile);
        for f in &opts.files {
            config.load_file(f).map_err(|e| e.to_string())?;
        }
        for (k, v) in &opts.sets {
            config_set(&mut config, k, v)?;
        }
        let mut sim = Sim::new(opts.seed);
        let client = sim.add_host("client", config.clone(), &[CLIENT]);
        let server = sim.add_host("server", config.clone(), &[SERVER]);
        let cfg = LinkConfig::with_latency(LATENCY);
        let link = sim.add_link(client, server, cfg, cfg);
        Ok(World {
            sim,
            client,
            server,
            link,
            config,
        })
    }

    pub fn server_addr(&self) -> SocketAddr {
        SocketAddr::new(SERVER, 80)
    }

    /// socket + bind + listen on the server's port 80.
    pub fn listen(&mut self, backlog: i32) -> Step<Fd> {
        let addr = self.server_addr();
        self.sim.call(self.server, |s, now| {
            let fd = expect("server socket()", s.socket(now))?;
            expect("server bind()", s.bind(now, fd, addr))?;
            expect("server listen()", s.listen(now, fd, backlog))?;
            Ok(fd)
        })
    }

    /// socket + non-blocking connect from the client to the server's port 80.
    pub fn connect(&mut self) -> Step<Fd> {
        let addr = self.server_addr();
        self.sim.call(self.client, |s, now| {
            let fd = expect("client socket()", s.socket(now))?;
            match s.connect(now, fd, addr) {
                Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
                Err(e) => Err(format!("client connect() failed: {}", e.name())),
            }
        })
    }

    /// Listen, connect, run until the server can accept (5 s at most), accept.
    /// Returns (client fd, listener, server fd).
    pub fn establish(&mut self) -> Step<(Fd, Fd, Fd)> {
        let l = self.listen(128)?;
        let fd = self.connect()?;
        let s = self.server;
        let limit = self.sim.now() + Duration::from_secs(5);
        self.sim
            .run_until_cond(limit, |sim| sim.stack(s).poll(l).is_ok_and(|r| r.readable));
        let (conn, _) = expect("accept()", self.sim.call(s, |st, now| st.accept(now, l)))?;
        Ok((fd, l, conn))
    }

    /// Run until `secs` seconds of virtual time.
    pub fn run_until(&mut self, secs: f64) {
        self.sim.run_until(at(secs));
    }

    /// Run until host `h` sees `fd` readable, or `limit` seconds of virtual time.
    pub fn run_until_readable(&mut self, h: HostId, fd: Fd, limit: f64) -> bool {
        self.sim.run_until_cond(at(limit), |sim| {
            sim.stack(h).poll(fd).is_ok_and(|r| r.readable)
        })
    }

    /// The state of a socket (CLOSED once it is gone).
    pub fn state(&self, h: HostId, fd: Fd) -> TcpState {
        self.sim.stack(h).state(fd).unwrap_or(TcpState::Closed)
    }

    /// The pending error of a socket (SO_ERROR), read without consuming it from the view's
    /// point of view: the call shows in the event stream like any other.
    pub fn so_error(&mut self, h: HostId, fd: Fd) -> Option<Errno> {
        match self
            .sim
            .call(h, |st, _| st.getsockopt(fd, SockOptName::Error))
        {
            Ok(SockOpt::Error(e)) => e,
            _ => None,
        }
    }

    /// Times `h` sent segments matching `m` (from the event stream, lost ones included).
    pub fn sent(&self, h: HostId, m: Match) -> Vec<Instant> {
        self.sim
            .events_of(h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Stack(EventKind::Send(s)) if m.matches(Some(s)) => Some(e.at),
                _ => None,
            })
            .collect()
    }

    /// Times `h` received segments matching `m` into its stack (dropped ones included).
    pub fn delivered(&self, h: HostId, m: Match) -> Vec<Instant> {
        self.sim
            .events_of(h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Delivered { seg } if m.matches(seg.as_ref()) => Some(e.at),
                _ => None,
            })
            .collect()
    }

    /// When `h` had a connection go from `from` (any if None) to `to`, in order.
    pub fn transitions(&self, h: HostId, from: Option<TcpState>, to: TcpState) -> Vec<Instant> {
        self.sim
            .events_of(h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Stack(EventKind::State { from: f, to: t, .. })
                    if *t == to && from.is_none_or(|x| x == *f) =>
                {
                    Some(e.at)
                }
                _ => None,
            })
            .collect()
    }

    /// When `h`'s timers of kind `k` fired.
    pub fn timers(&self, h: HostId, k: TimerKind) -> Vec<Instant> {
        self.sim
            .events_of(h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Stack(EventKind::Timer { timer, .. }) if *timer == k => Some(e.at),
                _ => None,
            })
            .collect()
    }

    /// Times `h` sent segments matching `m` on one connection (`local` is `h`'s end).
    pub fn sent_on(
        &self,
        h: HostId,
        m: Match,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Vec<Instant> {
        self.sim
            .events_of(h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Stack(EventKind::Send(s))
                    if s.src == local && s.dst == remote && m.matches(Some(s)) =>
                {
                    Some(e.at)
                }
                _ => None,
            })
            .collect()
    }

    /// When one of `h`'s connections (`local` is `h`'s end) went from `from` (any if
    /// None) to `to`.
    pub fn transitions_on(
        &self,
        h: HostId,
        local: SocketAddr,
        remote: SocketAddr,
        from: Option<TcpState>,
        to: TcpState,
    ) -> Vec<Instant> {
        self.sim
            .events_of(h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Stack(EventKind::State {
                    local: l,
                    remote: r,
                    from: f,
                    to: t,
                }) if *l == local && *r == remote && *t == to && from.is_none_or(|x| x == *f) => {
                    Some(e.at)
                }
                _ => None,
            })
            .collect()
    }

    /// When `h`'s timers of kind `k` fired on one connection (`local` is `h`'s end).
    pub fn timers_on(
        &self,
        h: HostId,
        k: TimerKind,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Vec<Instant> {
        self.sim
            .events_of(h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Stack(EventKind::Timer {
                    local: l,
                    remote: r,
                    timer,
                }) if *timer == k && *l == local && *r == remote => Some(e.at),
                _ => None,
            })
            .collect()
    }

    /// How many of `h`'s sockets, requests and TIME_WAIT records are in `state` now, as
    /// `ss -tan state <state>` would count them.
    pub fn count_in(&self, h: HostId, state: TcpState) -> usize {
        self.sim
            .stack(h)
            .sockets(self.sim.now())
            .iter()
            .filter(|x| x.state == state)
            .count()
    }

    /// The local address of a client socket (its ephemeral port once connect() chose it).
    pub fn local_of(&self, h: HostId, fd: Fd) -> SocketAddr {
        self.sim
            .stack(h)
            .local_addr(fd)
            .unwrap_or_else(|_| SocketAddr::new(CLIENT, 0))
    }

    /// accept() on the server while the listener is readable.
    pub fn accept_all(&mut self, listener: Fd) -> Vec<Fd> {
        let s = self.server;
        let mut out = Vec::new();
        while self.sim.stack(s).poll(listener).is_ok_and(|r| r.readable) {
            match self.sim.call(s, |st, now| st.accept(now, listener)) {
                Ok((fd, _)) => out.push(fd),
                Err(_) => break,
            }
        }
        out
    }

    /// `ss -tan`-style summary of `h`'s connections now: `19 TIME-WAIT, 1 FIN-WAIT-2`
    /// (listeners left out).
    pub fn ss_summary(&self, h: HostId) -> String {
        let mut counts: Vec<(TcpState, usize)> = Vec::new();
        for x in self.sim.stack(h).sockets(self.sim.now()) {
            if x.state == TcpState::Listen {
                continue;
            }
            match counts.iter_mut().find(|(s, _)| *s == x.state) {
                Some((_, n)) => *n += 1,
                None => counts.push((x.state, 1)),
            }
        }
        if counts.is_empty() {
            return "no connections".into();
        }
        counts.sort_by_key(|(s, _)| s.linux_code());
        counts
            .iter()
            .map(|(s, n)| format!("{n} {}", s.ss_name()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A setting narrowed for a story that would take too many connections at its real
    /// size: `small`, unless the run changed the setting from its profile default (with
    /// `--set`), in which case the run's value is used.
    pub fn scaled<T: PartialEq + Copy>(&self, get: fn(&Config) -> T, small: T) -> T {
        let default = get(&Config::for_profile(self.config.profile));
        let have = get(&self.config);
        if have == default {
            small
        } else {
            have
        }
    }

    /// The state path of `h`'s connections (transitions to and from LISTEN left out,
    /// except LISTEN → SYN-RECEIVED), in order.
    pub fn path(&self, h: HostId) -> Vec<TcpState> {
        self.sim
            .events_of(h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Stack(EventKind::State { from, to, .. })
                    if *to != TcpState::Listen && *from != TcpState::Listen
                        || *from == TcpState::Listen && *to == TcpState::SynRecv =>
                {
                    Some(*to)
                }
                _ => None,
            })
            .collect()
    }
}

/// Apply one `--set name=value` (sysctl names, e.g. `net.ipv4.tcp_syn_retries`).
pub fn config_set(config: &mut Config, name: &str, value: &str) -> Result<(), String> {
    config
        .set(name, value)
        .map_err(|e| format!("--set {name}={value}: {e}"))
}

/// Run a scenario by name: the world, then the story; the world is returned for its
/// event stream and captures.
pub fn run(name: &str, opts: &Options) -> Result<(World, Verdict), String> {
    run_with(name, opts, |_| {})
}

/// [`run`], with `prepare` given the world before the story starts (to ask for
/// [`Sim::snapshot_at`] socket tables, say).
pub fn run_with(
    name: &str,
    opts: &Options,
    prepare: impl FnOnce(&mut World),
) -> Result<(World, Verdict), String> {
    let s = find(name).ok_or_else(|| unknown(name))?;
    let mut w = World::new(opts)?;
    if opts.capture {
        w.sim.capture();
    }
    prepare(&mut w);
    let v = (s.run)(&mut w);
    Ok((w, v))
}

/// The message for a name that is not a scenario, listing the ones that are.
pub fn unknown(name: &str) -> String {
    let names: Vec<&str> = all().iter().map(|s| s.name).collect();
    format!(
        "unknown scenario {name:?}; the scenarios are: {}",
        names.join(", ")
    )
}

/// Format a list of optional first instants: `63`, or `-` if it never happened.
pub fn first(v: &[Instant]) -> String {
    v.first().map(|t| secs(*t)).unwrap_or_else(|| "-".into())
}

/// `SYN-SENT → SYN-RECEIVED → ESTABLISHED`
pub fn show_path(p: &[TcpState]) -> String {
    p.iter().map(|x| x.name()).collect::<Vec<_>>().join(" → ")
}

/// Seconds to an `Instant`.
pub fn at(secs: f64) -> Instant {
    Instant::from_micros((secs * 1e6).round() as u64)
}

/// `0, 1, 3, 7` from instants.
pub fn times(v: &[Instant]) -> String {
    v.iter().map(|t| secs(*t)).collect::<Vec<_>>().join(", ")
}

/// An instant as seconds, trimmed: `63`, `0.025`.
pub fn secs(t: Instant) -> String {
    let s = format!("{:.3}", t.as_secs_f64());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
