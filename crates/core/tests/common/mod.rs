//! Test harnesses: `Pair` (two stacks on a lossy link with a virtual clock) and
//! `Peer` (one stack, segments injected and inspected by hand, packetdrill-style).
#![allow(dead_code)]
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use synack_core::wire::{self, IpInfo, Packet, TcpFlags, TcpOptions, TcpSegment};
use synack_core::*;

pub const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
pub const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

pub fn t(secs: f64) -> Instant {
    Instant::from_micros((secs * 1e6).round() as u64)
}

/// A segment seen on the wire, decoded.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub from_a: bool,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub len: usize,
    pub win: u16,
    pub options: TcpOptions,
    pub dropped: bool,
}

/// Link faults, all from one seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    pub loss: f64,
    pub dup: f64,
    pub reorder: f64,
}

/// (arrival, tie-break, from A, bytes)
type InFlight = (Instant, u64, bool, Vec<u8>);

type Filter = Box<dyn FnMut(&Seen) -> bool>;

/// Two stacks, A (10.0.0.1) and B (10.0.0.2), one-way latency `delay`.
pub struct Pair {
    pub a: Stack,
    pub b: Stack,
    pub now: Instant,
    pub delay: Duration,
    pub faults: Faults,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    pub log: Vec<Seen>,
    pub keep_log: bool,
    /// Return true to drop the segment.
    pub filter: Option<Filter>,
    /// The byte at each stream offset, if the test sends a known stream: every segment
    /// either side sends is checked against it as it leaves (sequence number and payload
    /// must agree), so a sender bug shows where it happens, not as a bad hash at the end.
    pub stream: Option<fn(u64) -> u8>,
    /// Each side's ISN (from its SYN), for `stream`.
    isn: [Option<u32>; 2],
    buf: Vec<u8>,
}

impl Pair {
    pub fn new(cfg: Config) -> Pair {
        Pair::with(cfg.clone(), cfg, Duration::from_millis(25))
    }
    pub fn with(mut ca: Config, mut cb: Config, delay: Duration) -> Pair {
        ca.seed = ca.seed.wrapping_add(1);
        cb.seed = cb.seed.wrapping_add(2);
        let mut a = Stack::new(ca, &[A]);
        let mut b = Stack::new(cb, &[B]);
        a.set_capture(true);
        b.set_capture(true);
        Pair {
            a,
            b,
            now: Instant::ZERO,
            delay,
            faults: Faults::default(),
            rng: ChaCha8Rng::seed_from_u64(7),
            queue: BinaryHeap::new(),
            seq: 0,
            log: Vec::new(),
            keep_log: true,
            filter: None,
            stream: None,
            isn: [None, None],
            buf: Vec::new(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    /// Move everything both stacks want to send onto the link.
    pub fn flush(&mut self) {
        for from_a in [true, false] {
            loop {
                let now = self.now;
                let st = if from_a { &mut self.a } else { &mut self.b };
                if !st.poll_transmit(now, &mut self.buf) {
                    break;
                }
                let bytes = self.buf.clone();
                let p = wire::parse(&bytes).expect("our own packet parses");
                let side = usize::from(!from_a);
                if p.tcp.flags.contains(wire::TcpFlags::SYN) {
                    self.isn[side] = Some(p.tcp.seq);
                }
                if let (Some(byte), Some(isn)) = (self.stream, self.isn[side]) {
                    let off = u64::from(p.tcp.seq.wrapping_sub(isn).wrapping_sub(1));
                    for (k, &b) in p.tcp.payload.iter().enumerate() {
                        assert_eq!(
                            b,
                            byte(off + k as u64),
                            "{} sent seq {} ({} bytes) with a wrong byte at stream offset {}",
                            if from_a { "a" } else { "b" },
                            p.tcp.seq,
                            p.tcp.payload.len(),
                            off + k as u64
                        );
                    }
                }
                let mut seen = Seen {
                    at: now,
                    from_a,
                    flags: p.tcp.flags,
                    seq: p.tcp.seq,
                    ack: p.tcp.ack,
                    len: p.tcp.payload.len(),
                    win: p.tcp.window,
                    options: p.tcp.options,
                    dropped: false,
                };
                let mut drop = self.filter.as_mut().map(|f| f(&seen)).unwrap_or(false);
                let f = self.faults;
                if !drop && self.chance(f.loss) {
                    drop = true;
                }
                seen.dropped = drop;
                if self.keep_log {
                    self.log.push(seen);
                }
                if drop {
                    continue;
                }
                let copies = if self.chance(f.dup) { 2 } else { 1 };
                for _ in 0..copies {
                    let mut at = now + self.delay;
                    if self.chance(f.reorder) {
                        at += self.delay / 2 + Duration::from_micros(self.rng.next_u64() % 20_000);
                    }
                    self.seq += 1;
                    self.queue
                        .push(Reverse((at, self.seq, from_a, bytes.clone())));
                }
            }
        }
    }

    /// Advance to the next event (delivery or timer) no later than `limit`.
    /// Returns false when nothing happens before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let next_pkt = self.queue.peek().map(|Reverse((at, ..))| *at);
        let next = [next_pkt, self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next.filter(|n| *n <= limit) else {
            self.now = self.now.max(limit);
            return false;
        };
        self.now = self.now.max(next);
        while let Some(Reverse((at, ..))) = self.queue.peek() {
            if *at > self.now {
                break;
            }
            let Reverse((_, _, from_a, bytes)) = self.queue.pop().unwrap();
            let to = if from_a { &mut self.b } else { &mut self.a };
            to.handle_packet(self.now, &bytes);
            self.flush();
        }
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.flush();
        true
    }

    pub fn run_until(&mut self, until: Instant) {
        while self.step(until) {}
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Run until `cond` holds (checked after every step) or `limit`; true if it held.
    pub fn run_while(&mut self, limit: Instant, mut cond: impl FnMut(&mut Pair) -> bool) -> bool {
        loop {
            if !cond(self) {
                return true;
            }
            if !self.step(limit) {
                return !cond(self);
            }
        }
    }

    pub fn sent(&self, from_a: bool) -> Vec<&Seen> {
        self.log.iter().filter(|s| s.from_a == from_a).collect()
    }

    /// B listens on port 80; A connects; both established. Returns (a_fd, b_listener, b_fd).
    pub fn establish(&mut self) -> (Fd, Fd, Fd) {
        let l = self.b.socket(self.now).unwrap();
        self.b.bind(self.now, l, SocketAddr::new(B, 80)).unwrap();
        self.b.listen(self.now, l, 128).unwrap();
        let c = self.a.socket(self.now).unwrap();
        assert_eq!(
            self.a.connect(self.now, c, SocketAddr::new(B, 80)),
            Err(Errno::EINPROGRESS)
        );
        let limit = self.now + Duration::from_secs(5);
        assert!(self.run_while(limit, |p| p.b.poll(l).map(|r| !r.readable).unwrap_or(true)));
        let (s, _) = self.b.accept(self.now, l).unwrap();
        assert_eq!(self.a.state(c), Ok(TcpState::Established));
        assert_eq!(self.b.state(s), Ok(TcpState::Established));
        (c, l, s)
    }
}

/// Read everything available.
pub fn read_all(st: &mut Stack, now: Instant, fd: Fd) -> (Vec<u8>, Result<usize, Errno>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match st.read(now, fd, &mut buf) {
            Ok(0) => return (out, Ok(0)),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Err(e)),
        }
    }
}

/// One stack under test; the test plays the remote peer (192.0.2.1) by hand.
pub struct Peer {
    pub st: Stack,
    pub now: Instant,
    buf: Vec<u8>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

pub const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1));
pub const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// An outgoing segment, decoded and owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Out {
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub payload: Vec<u8>,
    pub options: TcpOptions,
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

impl Peer {
    pub fn new(cfg: Config) -> Peer {
        let mut st = Stack::new(cfg, &[LOCAL]);
        st.set_capture(true);
        Peer {
            st,
            now: Instant::ZERO,
            buf: Vec::new(),
            local: SocketAddr::new(LOCAL, 8080),
            remote: SocketAddr::new(REMOTE, 40000),
        }
    }

    /// Inject a segment from the remote peer (absolute sequence numbers).
    #[allow(clippy::too_many_arguments)]
    pub fn inject(
        &mut self,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        win: u16,
        payload: &[u8],
        options: TcpOptions,
    ) {
        let tcp = TcpSegment {
            src_port: self.remote.port(),
            dst_port: self.local.port(),
            seq,
            ack,
            flags,
            window: win,
            urgent: 0,
            options,
            payload,
        };
        let pkt = Packet {
            ip: IpInfo {
                src: self.remote.ip(),
                dst: self.local.ip(),
                ttl: 64,
            },
            tcp,
        };
        let mut bytes = Vec::new();
        wire::emit(&pkt, &mut bytes);
        self.st.handle_packet(self.now, &bytes);
    }

    /// Everything the stack sends now.
    pub fn out(&mut self) -> Vec<Out> {
        let mut v = Vec::new();
        while self.st.poll_transmit(self.now, &mut self.buf) {
            let p = wire::parse(&self.buf).expect("parses");
            v.push(Out {
                flags: p.tcp.flags,
                seq: p.tcp.seq,
                ack: p.tcp.ack,
                win: p.tcp.window,
                payload: p.tcp.payload.to_vec(),
                options: p.tcp.options,
                src: SocketAddr::new(p.ip.src, p.tcp.src_port),
                dst: SocketAddr::new(p.ip.dst, p.tcp.dst_port),
            });
        }
        v
    }

    /// Advance the clock to `at`, firing timers, and collect what is sent, with times.
    pub fn advance(&mut self, at: Instant) -> Vec<(Instant, Out)> {
        let mut v = Vec::new();
        loop {
            for o in self.out() {
                v.push((self.now, o));
            }
            match self.st.poll_timeout() {
                Some(d) if d <= at => {
                    self.now = self.now.max(d);
                    self.st.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = self.now.max(at);
        for o in self.out() {
            v.push((self.now, o));
        }
        v
    }

    /// A listener on 8080 and a completed handshake from the peer (ISN 0, MSS 1000,
    /// wscale 7, no timestamps). Returns (listener, accepted fd, our ISN).
    pub fn accept_one(&mut self) -> (Fd, Fd, u32) {
        let l = self.st.socket(self.now).unwrap();
        self.st.bind(self.now, l, self.local).unwrap();
        self.st.listen(self.now, l, 1).unwrap();
        let syn_opts = TcpOptions {
            mss: Some(1000),
            window_scale: Some(7),
            ..Default::default()
        };
        self.inject(TcpFlags::SYN, 0, 0, 32792, &[], syn_opts);
        let o = self.out();
        assert_eq!(o.len(), 1, "{o:?}");
        assert_eq!(o[0].flags, TcpFlags::SYN | TcpFlags::ACK);
        let iss = o[0].seq;
        self.now += Duration::from_millis(10);
        self.inject(
            TcpFlags::ACK,
            1,
            iss.wrapping_add(1),
            257,
            &[],
            TcpOptions::default(),
        );
        let (fd, _) = self.st.accept(self.now, l).unwrap();
        (l, fd, iss)
    }
}
