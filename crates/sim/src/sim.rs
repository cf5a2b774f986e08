//! The simulation: hosts, links, rules, a virtual clock and the event stream.
use crate::event::{ip_destination, segment_info, LinkDropReason, SimEvent, SimEventKind};
use crate::link::{Link, LinkConfig, LinkId};
use crate::pcap::Pcap;
use crate::rule::{Action, Rule};
use crate::ss::{rows, SockRow};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::time::Duration;
use synack_core::{Config, Instant, Stack};

/// Index of a host, in `Sim::add_host` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub usize);

struct Host {
    name: String,
    stack: Stack,
}

/// A packet on its way. Ordered by arrival, then by when it was queued, so that ties are
/// broken the same way on every run.
struct InFlight {
    at: Instant,
    seq: u64,
    to: HostId,
    bytes: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for InFlight {
    /// Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// How many steps may happen at one instant before the sim calls it a livelock (a stack
/// whose `poll_timeout` never moves past `now`) and stops, rather than spin forever.
const MAX_STEPS_PER_INSTANT: u32 = 100_000;

/// A deterministic network of [`Stack`]s.
///
/// Inputs to a stack (packets, timeouts, socket calls through [`Sim::call`]) are always
/// followed, at the same virtual instant, by draining its `poll_transmit` onto its links.
/// The clock only moves in [`Sim::step`], to the next delivery or the earliest
/// `poll_timeout()` of any host.
pub struct Sim {
    now: Instant,
    seed: u64,
    hosts: Vec<Host>,
    links: Vec<Link>,
    rules: Vec<Rule>,
    queue: BinaryHeap<InFlight>,
    seq: u64,
    events: Vec<SimEvent>,
    buf: Vec<u8>,
    steps_now: u32,
    stalled: bool,
    /// Moments at which to record every host's socket table, earliest first.
    snap_at: Vec<Instant>,
    snaps: Vec<Snapshot>,
    /// Keep the event stream (timelines, pictures). A long soak turns it off: millions of
    /// connections would otherwise keep every event in memory.
    record: bool,
}

/// Every host's sockets at one moment (see [`Sim::snapshot_at`]).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub at: Instant,
    /// How many events had happened when it was taken: the table belongs after
    /// `events()[..events]` in a timeline.
    pub events: usize,
    /// The rows of each host, in host order.
    pub hosts: Vec<Vec<SockRow>>,
}

/// Stream numbers of the ChaCha RNGs derived from the sim seed: one per link, one per host.
const LINK_STREAM: u64 = 1 << 32;
const HOST_STREAM: u64 = 2 << 32;

impl Sim {
    /// An empty network at t = 0. `seed` decides every random choice: link faults, and the
    /// stacks' own randomness (ISNs, ports, secrets) through each host's `Config::seed`.
    pub fn new(seed: u64) -> Sim {
        Sim {
            now: Instant::ZERO,
            seed,
            hosts: Vec::new(),
            links: Vec::new(),
            rules: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            events: Vec::new(),
            buf: Vec::new(),
            steps_now: 0,
            stalled: false,
            snap_at: Vec::new(),
            snaps: Vec::new(),
            record: true,
        }
    }

    /// Stop (or resume) recording events, on the network and in every host's stack, from
    /// now on; hosts added later follow.
    pub fn set_recording(&mut self, on: bool) {
        self.record = on;
        for h in &mut self.hosts {
            h.stack.set_capture(on);
        }
    }

    /// A ChaCha RNG seeded by the sim seed, on its own stream: independent per use, and the
    /// same on every run.
    fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut r = ChaCha8Rng::seed_from_u64(self.seed);
        r.set_stream(stream);
        r
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Add a host owning `addrs`. Its stack records events; its `Config::seed` is mixed with
    /// a value derived from the sim seed, so two hosts never share ISNs or ports.
    pub fn add_host(&mut self, name: &str, mut config: Config, addrs: &[IpAddr]) -> HostId {
        let id = HostId(self.hosts.len());
        config.seed ^= self.rng(HOST_STREAM + id.0 as u64).next_u64();
        let mut stack = Stack::new(config, addrs);
        stack.set_capture(self.record);
        self.hosts.push(Host {
            name: name.into(),
            stack,
        });
        id
    }

    /// Connect two hosts: `ab` shapes packets from `a` to `b`, `ba` the other way.
    pub fn add_link(&mut self, a: HostId, b: HostId, ab: LinkConfig, ba: LinkConfig) -> LinkId {
        let id = LinkId(self.links.len());
        let rng = self.rng(LINK_STREAM + id.0 as u64);
        self.links.push(Link::new(a, b, ab, ba, rng));
        id
    }

    /// Change one direction of a link from now on (`from` is the sending end).
    pub fn set_link(&mut self, link: LinkId, from: HostId, cfg: LinkConfig) {
        if let Some(l) = self.links.get_mut(link.0) {
            if let Some((dir, _)) = l.direction_from(from) {
                l.cfg[dir] = cfg;
            }
        }
    }

    /// Record every packet put on any link from now on (one pcap per link; a packet is
    /// captured as it leaves its sender, like tcpdump on the sender's interface: lost
    /// packets are in it, the link's duplicates are not).
    pub fn capture(&mut self) {
        for l in &mut self.links {
            l.pcap.get_or_insert_with(Pcap::new);
        }
    }

    /// The capture of a link, if [`Sim::capture`] was called.
    pub fn pcap(&self, link: LinkId) -> Option<&Pcap> {
        self.links.get(link.0).and_then(|l| l.pcap.as_ref())
    }

    /// Write a link's capture to `path` (an error if it was not captured or cannot be
    /// written).
    pub fn write_pcap(&self, link: LinkId, path: &std::path::Path) -> std::io::Result<()> {
        match self.pcap(link) {
            Some(p) => p.write_to(path),
            None => Err(std::io::Error::other(format!(
                "link {} was not captured (call Sim::capture first)",
                link.0
            ))),
        }
    }

    pub fn links(&self) -> impl Iterator<Item = LinkId> {
        (0..self.links.len()).map(LinkId)
    }

    pub fn add_rule(&mut self, r: Rule) {
        self.rules.push(r);
    }

    pub fn host_name(&self, h: HostId) -> &str {
        self.hosts.get(h.0).map(|x| x.name.as_str()).unwrap_or("?")
    }

    pub fn hosts(&self) -> impl Iterator<Item = HostId> {
        (0..self.hosts.len()).map(HostId)
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name).map(HostId)
    }

    /// Read-only access to a host's stack (poll, state, sockets, counters).
    ///
    /// # Panics
    /// If `h` did not come from this sim's `add_host`.
    pub fn stack(&self, h: HostId) -> &Stack {
        &self.hosts[h.0].stack
    }

    /// Make socket calls on a host at the current instant; whatever they make the stack
    /// send goes onto the links at once. The stack records the calls as events itself.
    ///
    /// # Panics
    /// If `h` did not come from this sim's `add_host`.
    pub fn call<T>(&mut self, h: HostId, f: impl FnOnce(&mut Stack, Instant) -> T) -> T {
        let now = self.now;
        let r = f(&mut self.hosts[h.0].stack, now);
        self.flush(h);
        r
    }

    /// Put raw bytes on the wire as if host `from` had sent them (hand-made packets, a
    /// misbehaving peer). They meet the same rules and link faults as the stack's own.
    pub fn inject(&mut self, from: HostId, bytes: &[u8]) {
        self.send(from, bytes);
    }

    /// Record every host's socket table (as `ss` sees it) at `t`: after everything that
    /// happens at or before `t` (socket calls made at `t` included), before anything
    /// later. It is taken when the clock moves past `t`, or by
    /// [`Sim::take_due_snapshots`] at the end of a run. Read-only: it changes neither the
    /// clock nor the stacks, so a run with snapshots is the same run as one without.
    pub fn snapshot_at(&mut self, t: Instant) {
        let i = self.snap_at.partition_point(|x| *x <= t);
        self.snap_at.insert(i, t);
    }

    /// The latest moment still waiting for its snapshot.
    pub fn pending_snapshot(&self) -> Option<Instant> {
        self.snap_at.last().copied()
    }

    /// Take the snapshots whose moment has come (at or before now): the end of a run.
    pub fn take_due_snapshots(&mut self) {
        let now = self.now;
        self.take_snapshots(|t| t <= now);
    }

    /// The snapshots taken so far, in time order.
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snaps
    }

    /// Take the pending snapshots whose moment `before` accepts: nothing happens between
    /// now and them.
    fn take_snapshots(&mut self, before: impl Fn(Instant) -> bool) {
        while let Some(&t) = self.snap_at.first() {
            if !before(t) {
                break;
            }
            self.snap_at.remove(0);
            let hosts = self.hosts.iter().map(|h| rows(&h.stack, t)).collect();
            self.snaps.push(Snapshot {
                at: t,
                events: self.events.len(),
                hosts,
            });
        }
    }

    /// Every event so far, in the order it happened.
    pub fn events(&self) -> &[SimEvent] {
        &self.events
    }

    /// The events of one host.
    pub fn events_of(&self, h: HostId) -> impl Iterator<Item = &SimEvent> {
        self.events.iter().filter(move |e| e.host == h)
    }

    /// True if a run stopped because the clock could not advance (see `step`).
    pub fn stalled(&self) -> bool {
        self.stalled
    }

    fn push(&mut self, host: HostId, kind: SimEventKind) {
        if !self.record {
            return;
        }
        self.events.push(SimEvent {
            at: self.now,
            host,
            kind,
        });
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

    /// Which link and direction lead from `from` to the host owning `dst`.
    fn route(&self, from: HostId, dst: IpAddr) -> Option<(usize, usize, HostId)> {
        self.links.iter().enumerate().find_map(|(i, l)| {
            let (dir, to) = l.direction_from(from)?;
            self.hosts[to.0]
                .stack
                .addrs()
                .contains(&dst)
                .then_some((i, dir, to))
        })
    }

    /// Move everything host `h` wants to send onto its links, events first so the stream
    /// shows the stack's `send` before what the network did to it.
    fn flush(&mut self, h: HostId) {
        let now = self.now;
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            let more = self.hosts[h.0].stack.poll_transmit(now, &mut buf);
            self.collect(h);
            if more {
                self.send(h, &buf);
            }
            self.buf = buf;
            if !more {
                break;
            }
        }
    }

    fn send(&mut self, from: HostId, bytes: &[u8]) {
        let now = self.now;
        // Decoded only for what looks at it: the event stream and the rules.
        let seg = if self.record || !self.rules.is_empty() {
            segment_info(bytes)
        } else {
            None
        };
        let route = ip_destination(bytes).and_then(|dst| self.route(from, dst));
        let Some((li, dir, to)) = route else {
            self.push(
                from,
                SimEventKind::LinkDrop {
                    seg,
                    reason: LinkDropReason::NoRoute,
                },
            );
            return;
        };
        if let Some(pc) = &mut self.links[li].pcap {
            pc.record(now, bytes);
        }
        // Every rule sees every packet (so each counts its own `nth`); the first drop wins,
        // delays add up.
        let mut dropped = None;
        let mut hold = Duration::ZERO;
        let mut delays = Vec::new();
        for r in &mut self.rules {
            if !r.applies(now, from, to, seg.as_ref()) {
                continue;
            }
            match r.action {
                Action::Drop if dropped.is_none() => {
                    dropped = Some(if r.partition {
                        LinkDropReason::Partition
                    } else {
                        LinkDropReason::Rule(r.description.clone())
                    });
                }
                Action::Drop => {}
                Action::Delay(d) => {
                    hold += d;
                    delays.push((d, r.description.clone()));
                }
            }
        }
        let fate = self.links[li].transmit(dir, now, bytes.len(), hold);
        let reason = dropped.or(fate.lost.then_some(LinkDropReason::Loss));
        if let Some(reason) = reason {
            self.push(from, SimEventKind::LinkDrop { seg, reason });
            return;
        }
        for (by, rule) in delays {
            self.push(from, SimEventKind::Delayed { seg, by, rule });
        }
        if fate.duplicated {
            self.push(from, SimEventKind::Duplicated { seg });
        }
        for _ in 0..1 + fate.duplicated as usize {
            self.seq += 1;
            self.queue.push(InFlight {
                at: fate.arrival,
                seq: self.seq,
                to,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// When the next thing happens: a delivery or a host's timer.
    pub fn next_event(&self) -> Option<Instant> {
        let pkt = self.queue.peek().map(|p| p.at);
        self.hosts
            .iter()
            .filter_map(|h| h.stack.poll_timeout())
            .chain(pkt)
            .min()
    }

    /// Advance the clock to the next event if it is no later than `limit` and process
    /// everything due then: deliveries first (in arrival, then queueing order), then each
    /// due host's timers (in host order). False if nothing is due by `limit`; the clock then
    /// stands at `limit` (or stays, if `limit` is in the past).
    pub fn step(&mut self, limit: Instant) -> bool {
        for h in 0..self.hosts.len() {
            self.flush(HostId(h));
        }
        let Some(next) = self.next_event().filter(|n| *n <= limit) else {
            // A moment equal to `limit` waits: socket calls may still come at it.
            self.take_snapshots(|t| t < limit);
            self.now = self.now.max(limit);
            return false;
        };
        self.take_snapshots(|t| t < next);
        if next <= self.now {
            self.steps_now += 1;
            if self.steps_now > MAX_STEPS_PER_INSTANT {
                self.stalled = true;
                return false;
            }
        } else {
            self.steps_now = 0;
            self.now = next;
        }
        while self.queue.peek().is_some_and(|p| p.at <= self.now) {
            let Some(p) = self.queue.pop() else { break };
            if self.record {
                self.push(
                    p.to,
                    SimEventKind::Delivered {
                        seg: segment_info(&p.bytes),
                    },
                );
            }
            self.hosts[p.to.0].stack.handle_packet(self.now, &p.bytes);
            self.flush(p.to);
        }
        for h in 0..self.hosts.len() {
            let due = self.hosts[h]
                .stack
                .poll_timeout()
                .is_some_and(|t| t <= self.now);
            if due {
                self.hosts[h].stack.handle_timeout(self.now);
                self.flush(HostId(h));
            }
        }
        true
    }

    /// Run every event up to and including `t`; the clock ends at `t`.
    pub fn run_until(&mut self, t: Instant) {
        while self.step(t) {}
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let t = self.now + d;
        self.run_until(t);
    }

    /// Run until `done` holds (checked before each step) or `limit` passes. True if it held.
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

    /// Run until nothing is in flight and no timer is armed, or `limit`. The clock stays at
    /// the last event when the network goes idle. True if it went idle.
    pub fn run_until_idle(&mut self, limit: Instant) -> bool {
        loop {
            if self.next_event().is_none() {
                return true;
            }
            if !self.step(limit) {
                return false;
            }
        }
    }
}
