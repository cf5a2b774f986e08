//! A deterministic network simulator for synack stacks, and the scenario library.
//!
//! Hosts each run a [`Stack`]; links carry raw IP packets with latency, jitter,
//! bandwidth, random loss, duplication and reordering, plus [`Rule`]s ("drop every
//! SYN-ACK", "partition from 5 s to 9 s"). A virtual clock jumps to the next delivery or
//! timer. Every random choice comes from one seed, and ties are broken by insertion
//! order, so a run replays exactly (the FoundationDB/turmoil discipline).
#![forbid(unsafe_code)]

mod pcap;
pub mod scenarios;
pub mod view;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use synack_core::wire::{self, TcpFlags};
use synack_core::{Config, Errno, EventKind, Instant, SegmentInfo, Stack};

pub use pcap::Pcap;

/// Index of a host in the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub usize);

/// One direction of a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Uniform extra delay in [0, jitter) per packet (order kept: a FIFO link).
    pub jitter: Duration,
    /// Bits per second; 0 = unlimited. Packets queue behind each other (serialisation).
    pub bandwidth: u64,
    /// Probability a packet is lost.
    pub loss: f64,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
    /// Probability a packet is held back by up to one extra latency (reordering).
    pub reorder: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(25),
            jitter: Duration::ZERO,
            bandwidth: 0,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }
}

/// Which segments a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    Any,
    /// SYN without ACK.
    Syn,
    /// SYN with ACK.
    SynAck,
    /// ACK only: no SYN, FIN, RST, no payload.
    PureAck,
    Fin,
    Rst,
    /// Carries payload.
    Data,
}

impl Match {
    fn matches(self, s: &SegmentInfo) -> bool {
        let f = s.flags;
        match self {
            Match::Any => true,
            Match::Syn => f.syn() && !f.ack(),
            Match::SynAck => f.syn() && f.ack(),
            Match::PureAck => f == TcpFlags::ACK && s.len == 0,
            Match::Fin => f.fin(),
            Match::Rst => f.rst(),
            Match::Data => s.len > 0,
        }
    }
}

/// A deterministic fault: drop the matching segments.
#[derive(Clone, Debug)]
pub struct Rule {
    pub from: Option<HostId>,
    pub to: Option<HostId>,
    pub matches: Match,
    /// Only the Nth matching segment (1-based).
    pub nth: Option<u32>,
    /// Only within [start, end).
    pub window: Option<(Instant, Instant)>,
    pub description: String,
    seen: u32,
}

impl Rule {
    /// Drop every segment matching `m` from `from` to `to` (None = any host).
    pub fn drop(description: &str, from: Option<HostId>, to: Option<HostId>, m: Match) -> Rule {
        Rule {
            from,
            to,
            matches: m,
            nth: None,
            window: None,
            description: description.into(),
            seen: 0,
        }
    }
    pub fn nth(mut self, n: u32) -> Rule {
        self.nth = Some(n);
        self
    }
    pub fn during(mut self, start: Instant, end: Instant) -> Rule {
        self.window = Some((start, end));
        self
    }
    /// A partition: nothing crosses between any hosts from `start` to `end`.
    pub fn partition(start: Instant, end: Instant) -> Rule {
        Rule::drop("partition", None, None, Match::Any).during(start, end)
    }

    fn applies(&mut self, now: Instant, from: HostId, to: HostId, s: &SegmentInfo) -> bool {
        if self.from.is_some_and(|h| h != from) || self.to.is_some_and(|h| h != to) {
            return false;
        }
        if let Some((a, b)) = self.window {
            if now < a || now >= b {
                return false;
            }
        }
        if !self.matches.matches(s) {
            return false;
        }
        self.seen += 1;
        self.nth.is_none_or(|n| n == self.seen)
    }
}

/// What happened, on which host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent {
    pub at: Instant,
    pub host: HostId,
    pub kind: SimEventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimEventKind {
    /// From the host's stack.
    Stack(EventKind),
    /// The link lost a segment the host sent (`reason`: loss, or the rule's description).
    LinkDrop { seg: SegmentInfo, reason: String },
    /// The link duplicated a segment the host sent.
    Duplicated { seg: SegmentInfo },
}

struct Host {
    name: String,
    stack: Stack,
}

struct Link {
    a: HostId,
    b: HostId,
    ab: LinkConfig,
    ba: LinkConfig,
    /// When each direction's transmitter is free again (bandwidth model).
    busy: [Instant; 2],
    /// Latest arrival per direction, to keep FIFO order under jitter.
    last: [Instant; 2],
    rng: ChaCha8Rng,
    pcap: Option<Pcap>,
}

/// A packet on its way: (arrival, tie-break sequence, destination host, bytes).
type InFlight = (Instant, u64, usize, Vec<u8>);

/// The simulation.
pub struct Sim {
    now: Instant,
    hosts: Vec<Host>,
    links: Vec<Link>,
    rules: Vec<Rule>,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    events: Vec<SimEvent>,
    seed: u64,
    buf: Vec<u8>,
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        Sim {
            now: Instant::ZERO,
            hosts: Vec::new(),
            links: Vec::new(),
            rules: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            events: Vec::new(),
            seed,
            buf: Vec::new(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Add a host; its stack's randomness is derived from the sim seed and the host index.
    pub fn add_host(&mut self, name: &str, mut config: Config, addrs: &[IpAddr]) -> HostId {
        config.seed = config
            .seed
            .wrapping_add(self.seed.wrapping_mul(0x9E37_79B9))
            .wrapping_add(self.hosts.len() as u64 + 1);
        let mut stack = Stack::new(config, addrs);
        stack.set_capture(true);
        self.hosts.push(Host {
            name: name.into(),
            stack,
        });
        HostId(self.hosts.len() - 1)
    }

    /// Connect two hosts; `ab` for packets from `a` to `b`, `ba` the other way.
    pub fn add_link(&mut self, a: HostId, b: HostId, ab: LinkConfig, ba: LinkConfig) {
        let rng = ChaCha8Rng::seed_from_u64(self.seed ^ ((self.links.len() as u64 + 1) << 32));
        self.links.push(Link {
            a,
            b,
            ab,
            ba,
            busy: [Instant::ZERO; 2],
            last: [Instant::ZERO; 2],
            rng,
            pcap: None,
        });
    }

    /// Record every packet sent onto each link (call before running).
    pub fn capture(&mut self) {
        for l in &mut self.links {
            l.pcap = Some(Pcap::new());
        }
    }

    /// The capture of link `i` (in `add_link` order).
    pub fn pcap(&self, i: usize) -> Option<&Pcap> {
        self.links.get(i).and_then(|l| l.pcap.as_ref())
    }

    pub fn add_rule(&mut self, r: Rule) {
        self.rules.push(r);
    }

    pub fn host_name(&self, h: HostId) -> &str {
        &self.hosts[h.0].name
    }

    pub fn hosts(&self) -> impl Iterator<Item = HostId> {
        (0..self.hosts.len()).map(HostId)
    }

    pub fn stack(&self, h: HostId) -> &Stack {
        &self.hosts[h.0].stack
    }

    /// Make a socket call on a host at the current time; what it sends goes on the wire.
    pub fn call<T>(&mut self, h: HostId, f: impl FnOnce(&mut Stack, Instant) -> T) -> T {
        let now = self.now;
        let r = f(&mut self.hosts[h.0].stack, now);
        self.flush(h);
        r
    }

    /// The events recorded so far, in order.
    pub fn events(&self) -> &[SimEvent] {
        &self.events
    }

    fn collect(&mut self, h: HostId) {
        let st = &mut self.hosts[h.0].stack;
        for e in st.drain_events() {
            self.events.push(SimEvent {
                at: e.at,
                host: h,
                kind: SimEventKind::Stack(e.kind),
            });
        }
    }

    fn route(&self, from: HostId, dst: IpAddr) -> Option<(usize, usize, HostId)> {
        self.links.iter().enumerate().find_map(|(i, l)| {
            let (dir, to) = if l.a == from {
                (0, l.b)
            } else if l.b == from {
                (1, l.a)
            } else {
                return None;
            };
            self.hosts[to.0]
                .stack
                .addrs()
                .contains(&dst)
                .then_some((i, dir, to))
        })
    }

    /// Move what host `h` wants to send onto its links.
    fn flush(&mut self, h: HostId) {
        let now = self.now;
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            let more = self.hosts[h.0].stack.poll_transmit(now, &mut buf);
            if !more {
                self.buf = buf;
                break;
            }
            self.collect(h);
            self.send(h, &buf);
            self.buf = buf;
        }
        self.collect(h);
    }

    fn send(&mut self, from: HostId, bytes: &[u8]) {
        let now = self.now;
        let Ok(p) = wire::parse(bytes) else { return };
        let info = SegmentInfo {
            src: SocketAddr::new(p.ip.src, p.tcp.src_port),
            dst: SocketAddr::new(p.ip.dst, p.tcp.dst_port),
            flags: p.tcp.flags,
            seq: p.tcp.seq,
            ack: p.tcp.ack,
            len: p.tcp.payload.len() as u32,
            win: p.tcp.window,
            options: p.tcp.options,
        };
        let Some((li, dir, to)) = self.route(from, p.ip.dst) else {
            self.events.push(SimEvent {
                at: now,
                host: from,
                kind: SimEventKind::LinkDrop {
                    seg: info,
                    reason: "no route".into(),
                },
            });
            return;
        };
        if let Some(pc) = &mut self.links[li].pcap {
            pc.record(now, bytes);
        }
        let rule = self.rules.iter_mut().find_map(|r| {
            r.applies(now, from, to, &info)
                .then(|| r.description.clone())
        });
        let link = &mut self.links[li];
        let cfg = if dir == 0 { link.ab } else { link.ba };
        let mut chance =
            |p: f64| p > 0.0 && (link.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p;
        let lost = chance(cfg.loss);
        let dup = chance(cfg.duplicate);
        let reorder = chance(cfg.reorder);
        let jitter = if cfg.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_micros(link.rng.next_u64() % cfg.jitter.as_micros().max(1) as u64)
        };
        let extra = if reorder {
            Duration::from_micros(link.rng.next_u64() % cfg.latency.as_micros().max(1) as u64)
        } else {
            Duration::ZERO
        };
        if let Some(reason) = rule.or_else(|| lost.then(|| "loss".to_string())) {
            self.events.push(SimEvent {
                at: now,
                host: from,
                kind: SimEventKind::LinkDrop { seg: info, reason },
            });
            return;
        }
        // Serialisation: the packet leaves when the transmitter is free.
        let tx_time = if cfg.bandwidth == 0 {
            Duration::ZERO
        } else {
            Duration::from_micros((bytes.len() as u64 * 8 * 1_000_000).div_ceil(cfg.bandwidth))
        };
        let start = link.busy[dir].max(now);
        let done = start + tx_time;
        link.busy[dir] = done;
        let mut at = done + cfg.latency + jitter;
        if !reorder {
            at = at.max(link.last[dir]);
            link.last[dir] = at;
        } else {
            at += extra;
        }
        let copies = if dup { 2 } else { 1 };
        if dup {
            self.events.push(SimEvent {
                at: now,
                host: from,
                kind: SimEventKind::Duplicated { seg: info },
            });
        }
        for _ in 0..copies {
            self.seq += 1;
            self.queue
                .push(Reverse((at, self.seq, to.0, bytes.to_vec())));
        }
    }

    /// When the next thing happens.
    pub fn next_event(&self) -> Option<Instant> {
        let pkt = self.queue.peek().map(|Reverse((at, ..))| *at);
        self.hosts
            .iter()
            .filter_map(|h| h.stack.poll_timeout())
            .chain(pkt)
            .min()
    }

    /// Advance to the next event if it is no later than `limit`. False: nothing before it
    /// (the clock then stands at `limit`).
    pub fn step(&mut self, limit: Instant) -> bool {
        for h in 0..self.hosts.len() {
            self.flush(HostId(h));
        }
        let Some(next) = self.next_event().filter(|n| *n <= limit) else {
            self.now = self.now.max(limit);
            return false;
        };
        self.now = self.now.max(next);
        while let Some(Reverse((at, ..))) = self.queue.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((_, _, to, bytes))) = self.queue.pop() else {
                break;
            };
            self.hosts[to].stack.handle_packet(self.now, &bytes);
            self.flush(HostId(to));
        }
        for h in 0..self.hosts.len() {
            if self.hosts[h]
                .stack
                .poll_timeout()
                .is_some_and(|t| t <= self.now)
            {
                self.hosts[h].stack.handle_timeout(self.now);
            }
            self.flush(HostId(h));
        }
        true
    }

    pub fn run_until(&mut self, t: Instant) {
        while self.step(t) {}
    }

    pub fn run_for(&mut self, d: Duration) {
        let t = self.now + d;
        self.run_until(t);
    }

    /// Run until `done` holds or `limit` passes. True if it held.
    pub fn run_until_cond(&mut self, limit: Instant, mut done: impl FnMut(&Sim) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if !self.step(limit) {
                return done(self);
            }
        }
    }

    /// Run until nothing is pending or `limit`.
    pub fn run_until_idle(&mut self, limit: Instant) {
        while self.next_event().is_some() && self.step(limit) {}
    }
}

/// Convenience: a `SocketAddr` from an address and a port.
pub fn sa(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

/// Result of a socket call as text: `0`, `3`, `-1 EAGAIN`.
pub fn errno_text<T: std::fmt::Debug>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("-1 {}", e.name()),
    }
}
