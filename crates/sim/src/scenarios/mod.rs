//! The scenario library: each story of the document, runnable and checked.
//!
//! A scenario builds a two-host world (client 10.0.0.1, server 10.0.0.2, 25 ms each way),
//! scripts socket calls and faults, runs it in virtual time and returns a [`Verdict`]
//! computed from what was observed. To add one: write `fn run(w: &mut World) -> Verdict`
//! in a new module and list it in [`all`].
use crate::{HostId, LinkConfig, Match, Sim, SimEventKind};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use synack_core::wire::TcpFlags;
use synack_core::{Config, EventKind, Fd, Instant, Profile, TcpState};

mod handshake;
mod simultaneous;
mod syn_loss;

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
    pub seed: u64,
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
}

/// A runnable story.
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    pub run: fn(&mut World) -> Verdict,
}

/// Every scenario, in tour order.
pub fn all() -> Vec<Scenario> {
    vec![
        handshake::SCENARIO,
        syn_loss::SYN_LOST,
        syn_loss::SYNACK_LOST,
        syn_loss::THIRD_ACK_LOST,
        simultaneous::CLOSE,
        simultaneous::OPEN,
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
    pub config: Config,
}

impl World {
    /// Build the world for `opts`: the profile's defaults, then each `--set`.
    pub fn new(opts: &Options) -> Result<World, String> {
        let mut config = Config::for_profile(opts.profile);
        for f in &opts.files {
            config.load_file(f).map_err(|e| e.to_string())?;
        }
        for (k, v) in &opts.sets {
            config.set(k, v).map_err(|e| e.to_string())?;
        }
        let mut sim = Sim::new(opts.seed);
        let client = sim.add_host("client", config.clone(), &[CLIENT]);
        let server = sim.add_host("server", config.clone(), &[SERVER]);
        let link = LinkConfig {
            latency: LATENCY,
            ..Default::default()
        };
        sim.add_link(client, server, link, link);
        Ok(World {
            sim,
            client,
            server,
            config,
        })
    }

    pub fn server_addr(&self) -> SocketAddr {
        SocketAddr::new(SERVER, 80)
    }

    /// socket + bind + listen on the server's port 80.
    pub fn listen(&mut self, backlog: i32) -> Fd {
        let addr = self.server_addr();
        self.sim.call(self.server, |s, now| {
            let fd = s.socket(now).expect("socket");
            s.bind(now, fd, addr).expect("bind");
            s.listen(now, fd, backlog).expect("listen");
            fd
        })
    }

    /// socket + connect from the client to the server's port 80.
    pub fn connect(&mut self) -> Fd {
        let addr = self.server_addr();
        self.sim.call(self.client, |s, now| {
            let fd = s.socket(now).expect("socket");
            let _ = s.connect(now, fd, addr);
            fd
        })
    }

    /// Listen, connect, run until the server can accept, accept.
    /// Returns (client fd, listener, server fd), or None if no connection came.
    pub fn establish(&mut self) -> Option<(Fd, Fd, Fd)> {
        let l = self.listen(128);
        let fd = self.connect();
        let s = self.server;
        self.sim.run_until_cond(at(5.0), |sim| {
            sim.stack(s).poll(l).is_ok_and(|r| r.readable)
        });
        let (conn, _) = self.sim.call(s, |st, now| st.accept(now, l)).ok()?;
        Some((fd, l, conn))
    }

    pub fn run_until(&mut self, secs: f64) {
        self.sim.run_until(at(secs));
    }

    pub fn state(&self, h: HostId, fd: Fd) -> TcpState {
        self.sim.stack(h).state(fd).unwrap_or(TcpState::Closed)
    }

    /// Times `h` sent segments matching `m` (from the event stream, lost ones included).
    pub fn sent(&self, h: HostId, m: Match) -> Vec<Instant> {
        self.sim
            .events()
            .iter()
            .filter(|e| e.host == h)
            .filter_map(|e| match &e.kind {
                SimEventKind::Stack(EventKind::Send(s)) if m.matches(s) => Some(e.at),
                _ => None,
            })
            .collect()
    }

    /// When `h` had a connection go from `from` (any if None) to `to`, in order.
    pub fn transitions(&self, h: HostId, from: Option<TcpState>, to: TcpState) -> Vec<Instant> {
        self.sim
            .events()
            .iter()
            .filter(|e| e.host == h)
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

    /// The state path of `h`'s connections (LISTEN excluded), in order.
    pub fn path(&self, h: HostId) -> Vec<TcpState> {
        self.sim
            .events()
            .iter()
            .filter(|e| e.host == h)
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

pub(crate) fn is_rst(f: TcpFlags) -> bool {
    f.rst()
}
