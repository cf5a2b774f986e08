//! Goodput over a lossy bottleneck (issue 11): synack and smoltcp, each a sender and a
//! receiver host, on the same simulated path, in virtual time.
//!
//! The path: each direction is a bottleneck of `rate` bit/s with a drop-tail queue of
//! `queue` packets (a packet finding the queue full is lost: the congestion signal), then
//! `rtt / 2` of propagation. Random loss (probability `loss`, from a seeded generator)
//! hits the data direction only — the receiver's ACKs all arrive — so the loss rate is
//! the one the Mathis and CUBIC response functions take. No reordering, no jitter.
//! Time moves from event to event (the next arrival or the next timer of either host):
//! a 30-second run of a gigabit path takes a second or two.
//!
//! Goodput is application bytes read in order by the receiver, over a measurement window
//! after a warm-up (slow start and the first losses are not the steady state the formulas
//! describe). Every byte read is checked against the pattern the sender wrote.
use crate::{check, pattern, verify_stream, PATTERN};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// One path and how long to run on it.
#[derive(Clone, Copy, Debug)]
pub struct PathConfig {
    /// Bottleneck rate, bit/s.
    pub rate: u64,
    pub rtt: Duration,
    /// Random loss of data packets (0..1).
    pub loss: f64,
    /// Drop-tail queue, packets (waiting or being sent).
    pub queue: usize,
    pub warmup: Duration,
    pub measure: Duration,
    pub seed: u64,
}

impl PathConfig {
    /// A path whose queue holds one bandwidth-delay product of 1500-byte packets (at least
    /// 16), the classic testbed sizing.
    pub fn new(rate: u64, rtt: Duration, loss: f64) -> PathConfig {
        let bdp = (rate as f64 * rtt.as_secs_f64() / 8.0 / 1500.0).ceil() as usize;
        PathConfig {
            rate,
            rtt,
            loss,
            queue: bdp.max(16),
            warmup: Duration::from_secs(5),
            measure: Duration::from_secs(20),
            seed: 1,
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct Goodput {
    /// Bytes read in order during the measurement window.
    pub bytes: u64,
    pub secs: f64,
    /// Data packets lost at random / dropped by the full queue (both counted on the path).
    pub random_drops: u64,
    pub queue_drops: u64,
    /// The sender's counters that tell how it recovered (synack only).
    pub retransmits: u64,
    pub timeouts: u64,
    pub fast_recoveries: u64,
    pub loss_probes: u64,
    /// Times HyStart ended slow start (ACK train or delay; synack only).
    pub hystart_exits: u64,
    /// A burst-loss run: seconds from the first packet of the burst being dropped to the
    /// sender receiving an ACK that covers the last one (`None`: never, or no burst).
    /// Read off the wire, so it means the same for any stack.
    pub burst_repaired_after: Option<f64>,
    /// Data packets that reached the receiver carrying only bytes it already had: the
    /// sender's spurious retransmissions, seen on the wire (all flows, whole run).
    pub duplicates: u64,
}

impl Goodput {
    pub fn mbits(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.secs / 1e6
    }
}

/// A tiny deterministic generator (xorshift64*): the path's only randomness.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The TCP sequence number and payload length of an IPv4 packet, and its ACK number when
/// the ACK flag is set; `None` when the bytes are not IPv4/TCP (the path only ever
/// carries what the two stacks emit, so this is for robustness, not filtering).
fn tcp_fields(pkt: &[u8]) -> Option<(u32, u32, Option<u32>)> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*pkt.get(2)?, *pkt.get(3)?]));
    let tcp = pkt.get(ihl..total.min(pkt.len()))?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(tcp.get(at..at + 4)?.try_into().ok()?))
    };
    let doff = usize::from(*tcp.get(12)? >> 4) * 4;
    let len = u32::try_from(tcp.len().checked_sub(doff)?).ok()?;
    let ack = (*tcp.get(13)? & 0x10 != 0).then(|| word(8)).flatten();
    Some((word(4)?, len, ack))
}

/// The byte ranges each flow's receiver has been handed by the path, to tell a needless
/// retransmission from a repair without trusting either stack's own counters.
#[derive(Default)]
struct Delivered {
    /// Per source port: the first sequence number seen, the last one (to unwrap), and the
    /// merged ranges delivered, as offsets from the first.
    flows: std::collections::HashMap<u16, (u32, u64, std::collections::BTreeMap<u64, u64>)>,
    duplicates: u64,
}

impl Delivered {
    fn note(&mut self, pkt: &[u8]) {
        let Some((seq, len, _)) = tcp_fields(pkt) else {
            return;
        };
        let ihl = usize::from(pkt[0] & 0x0f) * 4;
        if len == 0 || pkt.len() < ihl + 2 {
            return;
        }
        let port = u16::from_be_bytes([pkt[ihl], pkt[ihl + 1]]);
        let (first, last, ranges) = self
            .flows
            .entry(port)
            .or_insert_with(|| (seq, 0, Default::default()));
        // Unwrap: the offset nearest the last one seen (flows move far less than 2 GB
        // between two packets).
        let d = i64::from(seq.wrapping_sub(*first).wrapping_sub(*last as u32) as i32);
        let l = (*last as i64 + d).max(0) as u64;
        let r = l + u64::from(len);
        *last = l;
        if ranges
            .range(..=l)
            .next_back()
            .is_some_and(|(_, &end)| end >= r)
        {
            self.duplicates += 1;
            return;
        }
        let (mut lo, mut hi) = (l, r);
        let touching: Vec<u64> = ranges
            .range(..=r)
            .rev()
            .take_while(|(_, &end)| end >= l)
            .map(|(&a, _)| a)
            .collect();
        for a in touching {
            let b = ranges.remove(&a).unwrap_or(a);
            lo = lo.min(a);
            hi = hi.max(b);
        }
        // Holes fill as the flow goes on, and the ranges merge: the map stays as small as
        // the receiver's out-of-order queue.
        ranges.insert(lo, hi);
    }
}

/// One direction of the path.
struct Pipe {
    rate: u64,
    delay_us: u64,
    limit: usize,
    /// Departure times of the packets in the queue (waiting or on the wire).
    departures: VecDeque<u64>,
    /// (arrival time, packet), in order.
    flight: VecDeque<(u64, Vec<u8>)>,
    queue_drops: u64,
}

impl Pipe {
    fn new(cfg: &PathConfig) -> Pipe {
        Pipe {
            rate: cfg.rate,
            delay_us: cfg.rtt.as_micros() as u64 / 2,
            limit: cfg.queue,
            departures: VecDeque::new(),
            flight: VecDeque::new(),
            queue_drops: 0,
        }
    }

    /// A packet handed to the bottleneck at `now` (µs).
    fn offer(&mut self, now: u64, pkt: &[u8]) {
        while self.departures.front().is_some_and(|&d| d <= now) {
            self.departures.pop_front();
        }
        if self.departures.len() >= self.limit {
            self.queue_drops += 1;
            return;
        }
        let start = self.departures.back().copied().unwrap_or(now).max(now);
        let wire_us = (pkt.len() as u64 * 8 * 1_000_000).div_ceil(self.rate);
        let departs = start + wire_us;
        self.departures.push_back(departs);
        self.flight
            .push_back((departs + self.delay_us, pkt.to_vec()));
    }

    fn next(&self) -> Option<u64> {
        self.flight.front().map(|f| f.0)
    }

    fn due(&mut self, now: u64) -> Option<Vec<u8>> {
        if self.flight.front()?.0 <= now {
            self.flight.pop_front().map(|f| f.1)
        } else {
            None
        }
    }
}

/// The two hosts of a flow (or of several flows sharing the path), as the path sees them.
pub trait Hosts {
    /// A packet arrives at the sender (`to_sender`) or the receiver.
    fn deliver(&mut self, to_sender: bool, now: u64, pkt: &[u8]);
    /// Let both hosts run at `now` (timers, applications); their packets go out through
    /// `out(from_sender, bytes)`.
    fn run(&mut self, now: u64, out: &mut dyn FnMut(bool, &[u8]));
    /// When either host next needs to run (µs), if it has a timer.
    fn next_wake(&mut self, now: u64) -> Option<u64>;
    /// Bytes read by the receiving application so far, per flow.
    fn received(&self) -> Vec<u64>;
    /// Start flow `k` (the flows are numbered from 0; flow 0 starts at once).
    fn start(&mut self, k: usize, now: u64);
}

/// Flows of one run: how many, and when each starts.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub starts: Vec<Duration>,
    /// Drop this many consecutive data packets from the sender, beginning with the first
    /// one sent at or after the given time.
    pub burst: Option<(Duration, u32)>,
}

/// Run `hosts` on the path: returns each flow's goodput over the measurement window and
/// the path's drop counts.
pub fn run_path(cfg: &PathConfig, sched: &Schedule, hosts: &mut dyn Hosts) -> Vec<Goodput> {
    let mut fwd = Pipe::new(cfg);
    let mut back = Pipe::new(cfg);
    let mut rng = Rng(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut random_drops = 0u64;
    let mut burst = sched.burst.map(|(at, n)| (at.as_micros() as u64, n));
    // The burst as the wire saw it: when its first packet was dropped, the sequence number
    // just past its last one, and when an ACK reaching the sender first covered that.
    let mut burst_began: Option<u64> = None;
    let mut burst_end: Option<u32> = None;
    let mut repaired_at: Option<u64> = None;
    let mut delivered = Delivered::default();
    let warm = cfg.warmup.as_micros() as u64;
    let end = warm + cfg.measure.as_micros() as u64;
    let starts: Vec<u64> = sched.starts.iter().map(|d| d.as_micros() as u64).collect();
    let mut started = 0;
    let mut at_warm: Option<Vec<u64>> = None;
    let mut now = 0u64;
    loop {
        while started < starts.len() && starts[started] <= now {
            hosts.start(started, now);
            started += 1;
        }
        while let Some(p) = fwd.due(now) {
            delivered.note(&p);
            hosts.deliver(false, now, &p);
        }
        while let Some(p) = back.due(now) {
            if let (Some(end), None) = (burst_end, repaired_at) {
                let acked = tcp_fields(&p).and_then(|f| f.2);
                if acked.is_some_and(|a| a.wrapping_sub(end) as i32 >= 0) {
                    repaired_at = Some(now);
                }
            }
            hosts.deliver(true, now, &p);
        }
        let loss = cfg.loss;
        hosts.run(now, &mut |from_sender, pkt| {
            if from_sender {
                if let Some((at, n)) = burst.as_mut() {
                    // Data segments only (a payload): the burst takes no pure ACK.
                    let data = tcp_fields(pkt).filter(|f| f.1 > 0);
                    if let (true, Some((seq, len, _))) = (now >= *at && *n > 0, data) {
                        *n -= 1;
                        burst_began.get_or_insert(now);
                        let e = seq.wrapping_add(len);
                        if burst_end.is_none_or(|b| e.wrapping_sub(b) as i32 > 0) {
                            burst_end = Some(e);
                        }
                        return;
                    }
                }
                if loss > 0.0 && rng.unit() < loss {
                    random_drops += 1;
                    return;
                }
                fwd.offer(now, pkt);
            } else {
                back.offer(now, pkt);
            }
        });
        if at_warm.is_none() && now >= warm {
            at_warm = Some(hosts.received());
        }
        if now >= end {
            break;
        }
        let mut next = end;
        for t in [fwd.next(), back.next(), hosts.next_wake(now)]
            .into_iter()
            .flatten()
            .chain(starts.get(started).copied())
        {
            next = next.min(t);
        }
        if at_warm.is_none() {
            next = next.min(warm);
        }
        // Never stand still: a host asking to run "now" again runs 1 µs later.
        now = next.max(now + 1);
    }
    let before = at_warm.unwrap_or_default();
    let after = hosts.received();
    let secs = cfg.measure.as_secs_f64();
    after
        .iter()
        .enumerate()
        .map(|(k, &b)| Goodput {
            bytes: b - before.get(k).copied().unwrap_or(0),
            secs,
            random_drops,
            queue_drops: fwd.queue_drops,
            burst_repaired_after: burst_began
                .zip(repaired_at)
                .map(|(a, b)| (b - a) as f64 / 1e6),
            duplicates: delivered.duplicates,
            ..Goodput::default()
        })
        .collect()
}

/// Jain's fairness index of the goodputs: 1 when equal, 1/n when one flow has it all.
pub fn jain(x: &[f64]) -> f64 {
    let s: f64 = x.iter().sum();
    let q: f64 = x.iter().map(|v| v * v).sum();
    if q == 0.0 {
        return 0.0;
    }
    s * s / (x.len() as f64 * q)
}

/// The Mathis et al. response function for Reno: MSS/RTT · sqrt(3/2) / sqrt(p), bit/s.
pub fn mathis(mss: f64, rtt: Duration, p: f64) -> f64 {
    mss * 8.0 / rtt.as_secs_f64() * (1.5f64).sqrt() / p.sqrt()
}

/// CUBIC's response function (RFC 9438 §5.2, C = 0.4, β = 0.7): an average window of
/// 1.054 · RTT^0.75 / p^0.75 packets (RTT in seconds) — or Reno's, when that is larger
/// (the Reno-friendly region), bit/s.
pub fn cubic(mss: f64, rtt: Duration, p: f64) -> f64 {
    let r = rtt.as_secs_f64();
    let c = 0.4f64;
    let beta = 0.7f64;
    let w = (c * (3.0 + beta) / (4.0 * (1.0 - beta))).powf(0.25) * r.powf(0.75) / p.powf(0.75);
    (w * mss * 8.0 / r).max(mathis(mss, rtt, p))
}

const SENDER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const RECEIVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
/// Socket buffers big enough for a gigabit × 200 ms path: the window is never the limit.
const BUF: u32 = 64 << 20;

/// synack: a sender stack writing as fast as its buffer takes, a receiver stack reading
/// everything, `flows` connections between them.
pub mod synack {
    use super::*;
    use synack_core::{Config, Counter, Errno, Fd, Instant, Stack};

    pub struct Pair {
        tx: Stack,
        rx: Stack,
        listener: Fd,
        conns: Vec<Fd>,
        served: Vec<Option<Fd>>,
        sent: Vec<u64>,
        got: Vec<u64>,
        pattern: Vec<u8>,
        sink: Vec<u8>,
        buf: Vec<u8>,
        pub error: Option<String>,
    }

    fn config(seed: u64) -> Config {
        let mut c = Config::linux();
        c.seed = seed;
        c.tcp_rmem = [4096, BUF, BUF];
        c.tcp_wmem = [4096, BUF, BUF];
        c.rmem_max = BUF;
        c.wmem_max = BUF;
        c
    }

    impl Pair {
        pub fn new(flows: usize) -> Pair {
            Pair::with_hystart(flows, true)
        }

        /// HyStart on or off in the sender (Linux: on).
        pub fn with_hystart(flows: usize, hystart: bool) -> Pair {
            Pair::with_config(flows, |c| c.hystart = hystart)
        }

        /// Both hosts' configuration changed by `f` (after the 64 MiB buffers are set).
        pub fn with_config(flows: usize, f: impl Fn(&mut Config)) -> Pair {
            let mut tx_cfg = config(1);
            f(&mut tx_cfg);
            let mut rx_cfg = config(2);
            f(&mut rx_cfg);
            let mut rx = Stack::new(rx_cfg, &[RECEIVER]);
            let t = Instant::ZERO;
            let listener = rx.socket(t).expect("socket");
            rx.bind(t, listener, SocketAddr::new(RECEIVER, 80))
                .expect("bind");
            rx.listen(t, listener, 16).expect("listen");
            Pair {
                tx: Stack::new(tx_cfg, &[SENDER]),
                rx,
                listener,
                conns: Vec::new(),
                served: vec![None; flows],
                sent: vec![0; flows],
                got: vec![0; flows],
                pattern: pattern(),
                sink: vec![0u8; 1 << 20],
                buf: Vec::with_capacity(70_000),
                error: None,
            }
        }

        /// The sender's counters: (retransmitted segments, RTOs, fast recoveries, TLPs).
        pub fn recovery(&self) -> (u64, u64, u64, u64) {
            let k = self.tx.counters();
            (
                k.get(Counter::RetransSegs),
                k.get(Counter::TcpTimeouts),
                k.get(Counter::TcpSackRecovery) + k.get(Counter::TcpRenoRecovery),
                k.get(Counter::TcpLossProbes),
            )
        }

        /// Times HyStart ended slow start.
        pub fn hystart_exits(&self) -> u64 {
            let k = self.tx.counters();
            k.get(Counter::TcpHystartTrainDetect) + k.get(Counter::TcpHystartDelayDetect)
        }
    }

    fn at(now: u64) -> Instant {
        Instant::from_micros(now)
    }

    impl Hosts for Pair {
        fn deliver(&mut self, to_sender: bool, now: u64, pkt: &[u8]) {
            let st = if to_sender {
                &mut self.tx
            } else {
                &mut self.rx
            };
            st.handle_packet(at(now), pkt);
        }

        fn run(&mut self, now: u64, out: &mut dyn FnMut(bool, &[u8])) {
            let t = at(now);
            self.tx.handle_timeout(t);
            self.rx.handle_timeout(t);
            // The receiver: accept (flows are accepted in the order they connect), read.
            while let Ok((fd, _)) = self.rx.accept(t, self.listener) {
                if let Some(slot) = self.served.iter_mut().find(|s| s.is_none()) {
                    *slot = Some(fd);
                }
            }
            for (k, fd) in self.served.iter().enumerate() {
                let Some(fd) = *fd else { continue };
                loop {
                    match self.rx.read(t, fd, &mut self.sink) {
                        Ok(0) => break,
                        Ok(n) => {
                            if let Err(e) =
                                verify_stream(&self.pattern, self.got[k], &self.sink[..n])
                            {
                                self.error = Some(e);
                            }
                            self.got[k] += n as u64;
                        }
                        Err(_) => break,
                    }
                }
            }
            // The senders: keep the send buffers full.
            for (k, &fd) in self.conns.iter().enumerate() {
                loop {
                    let off = (self.sent[k] % PATTERN as u64) as usize;
                    match self.tx.write(t, fd, &self.pattern[off..off + PATTERN]) {
                        Ok(n) if n > 0 => self.sent[k] += n as u64,
                        _ => break,
                    }
                }
            }
            while self.tx.poll_transmit(t, &mut self.buf) {
                out(true, &self.buf);
            }
            while self.rx.poll_transmit(t, &mut self.buf) {
                out(false, &self.buf);
            }
        }

        fn next_wake(&mut self, _now: u64) -> Option<u64> {
            [self.tx.poll_timeout(), self.rx.poll_timeout()]
                .into_iter()
                .flatten()
                .map(|i| i.as_micros())
                .min()
        }

        fn received(&self) -> Vec<u64> {
            self.got.clone()
        }

        fn start(&mut self, _k: usize, now: u64) {
            let t = at(now);
            let Ok(fd) = self.tx.socket(t) else { return };
            match self.tx.connect(t, fd, SocketAddr::new(RECEIVER, 80)) {
                Ok(()) | Err(Errno::EINPROGRESS) => self.conns.push(fd),
                Err(e) => self.error = Some(format!("connect: {}", e.name())),
            }
        }
    }
}

/// smoltcp: two `Interface`s on the path, CUBIC, socket buffers of the same size.
pub mod smol {
    use super::*;
    use smoltcp::iface::SocketHandle;
    use smoltcp::socket::tcp::CongestionControl;
    use smoltcp::time::Instant;
    use smoltcp::wire::IpAddress;

    pub struct Pair {
        a: crate::smol::Host,
        b: crate::smol::Host,
        flows: Vec<(SocketHandle, SocketHandle)>,
        sent: Vec<u64>,
        got: Vec<u64>,
        pattern: Vec<u8>,
        sink: Vec<u8>,
        pub error: Option<String>,
    }

    impl Pair {
        pub fn new() -> Pair {
            Pair {
                a: crate::smol::host([10, 0, 0, 1], 1500, 1),
                b: crate::smol::host([10, 0, 0, 2], 1500, 2),
                flows: Vec::new(),
                sent: Vec::new(),
                got: Vec::new(),
                pattern: pattern(),
                sink: vec![0u8; 1 << 20],
                error: None,
            }
        }
    }

    impl Default for Pair {
        fn default() -> Self {
            Pair::new()
        }
    }

    fn at(now: u64) -> Instant {
        Instant::from_micros(now as i64)
    }

    impl Hosts for Pair {
        fn deliver(&mut self, to_sender: bool, _now: u64, pkt: &[u8]) {
            let h = if to_sender { &mut self.a } else { &mut self.b };
            h.dev.push_rx(pkt);
        }

        fn run(&mut self, now: u64, out: &mut dyn FnMut(bool, &[u8])) {
            let t = at(now);
            for (k, &(ch, sh)) in self.flows.iter().enumerate() {
                let s = crate::smol::sock(&mut self.b.set, sh);
                while let Ok(n) = s.recv_slice(&mut self.sink) {
                    if n == 0 {
                        break;
                    }
                    if let Err(e) = verify_stream(&self.pattern, self.got[k], &self.sink[..n]) {
                        self.error = Some(e);
                    }
                    self.got[k] += n as u64;
                }
                let c = crate::smol::sock(&mut self.a.set, ch);
                while c.can_send() {
                    let off = (self.sent[k] % PATTERN as u64) as usize;
                    match c.send_slice(&self.pattern[off..off + PATTERN]) {
                        Ok(n) if n > 0 => self.sent[k] += n as u64,
                        _ => break,
                    }
                }
            }
            for (from_sender, h) in [(true, &mut self.a), (false, &mut self.b)] {
                h.iface.poll(t, &mut h.dev, &mut h.set);
                h.dev.recycle();
                while let Some(p) = h.dev.pop_tx() {
                    out(from_sender, &p);
                    h.dev.give_back(p);
                }
            }
        }

        fn next_wake(&mut self, now: u64) -> Option<u64> {
            let t = at(now);
            [&mut self.a, &mut self.b]
                .into_iter()
                .filter_map(|h| h.iface.poll_at(t, &h.set))
                .map(|i| i.total_micros().max(0) as u64)
                .min()
        }

        fn received(&self) -> Vec<u64> {
            self.got.clone()
        }

        fn start(&mut self, k: usize, _now: u64) {
            let port = 80 + k as u16;
            let mut s = crate::smol::socket(BUF as usize);
            s.set_congestion_control(CongestionControl::Cubic);
            if let Err(e) = s.listen(port) {
                self.error = Some(format!("{e:?}"));
                return;
            }
            let sh = self.b.set.add(s);
            let mut c = crate::smol::socket(BUF as usize);
            c.set_congestion_control(CongestionControl::Cubic);
            if let Err(e) = c.connect(
                self.a.iface.context(),
                (IpAddress::v4(10, 0, 0, 2), port),
                49152 + k as u16,
            ) {
                self.error = Some(format!("{e:?}"));
                return;
            }
            let ch = self.a.set.add(c);
            self.flows.push((ch, sh));
            self.sent.push(0);
            self.got.push(0);
        }
    }
}

/// One row of the goodput table.
#[derive(Clone, Debug)]
pub struct Row {
    pub path: PathConfig,
    /// synack with CUBIC (Linux's default).
    pub synack: Goodput,
    /// synack with BBR (`tcp_congestion_control = bbr`, paced as Linux paces without fq).
    pub bbr: Goodput,
    pub smoltcp: Goodput,
}

/// The single-flow grid: every (rate, RTT, loss) in the lists.
pub fn grid(rates: &[u64], rtts: &[u64], losses: &[f64], quick: bool) -> Vec<PathConfig> {
    let mut v = Vec::new();
    for &rate in rates {
        for &rtt in rtts {
            for &loss in losses {
                let mut p = PathConfig::new(rate, Duration::from_millis(rtt), loss);
                // Long enough for tens of loss epochs at the slowest: 20 s after 5 s
                // (a quarter of that in the quick table), and at least 100 RTTs.
                let scale = if quick { 4 } else { 1 };
                p.warmup = Duration::from_secs(5).max(p.rtt * 25) / scale;
                p.measure = Duration::from_secs(20).max(p.rtt * 100) / scale;
                v.push(p);
            }
        }
    }
    v
}

/// One flow of each stack on `path`.
pub fn one_flow(path: &PathConfig) -> Result<Row, String> {
    let sched = Schedule {
        starts: vec![Duration::ZERO],
        burst: None,
    };
    let g = synack_flow_with(path, None, |_| {}).map_err(|e| format!("synack: {e}"))?;
    let bbr = synack_flow_with(path, None, |c| {
        c.tcp_congestion_control = synack_core::CongestionAlgorithm::Bbr
    })
    .map_err(|e| format!("synack (bbr): {e}"))?;
    let mut theirs = smol::Pair::new();
    let s = run_path(path, &sched, &mut theirs).remove(0);
    if let Some(e) = theirs.error.take() {
        return Err(format!("smoltcp: {e}"));
    }
    check(
        g.bytes > 0 && bbr.bytes > 0 && s.bytes > 0,
        "every flow delivered data",
    )?;
    Ok(Row {
        path: *path,
        synack: g,
        bbr,
        smoltcp: s,
    })
}

/// Two flows sharing `path`, the second starting `later`: each one's goodput over the
/// measurement window.
pub fn two_flows(
    path: &PathConfig,
    later: Duration,
    smoltcp: bool,
) -> Result<Vec<Goodput>, String> {
    let sched = Schedule {
        starts: vec![Duration::ZERO, later],
        burst: None,
    };
    if smoltcp {
        let mut p = smol::Pair::new();
        let g = run_path(path, &sched, &mut p);
        p.error.map_or(Ok(g), Err)
    } else {
        let mut p = synack::Pair::new(2);
        let g = run_path(path, &sched, &mut p);
        p.error.map_or(Ok(g), Err)
    }
}

/// `n` consecutive data packets dropped at `at` on a loss-free `path`: synack's goodput
/// and recovery counters.
pub fn burst_loss(path: &PathConfig, at: Duration, n: u32) -> Result<Goodput, String> {
    synack_flow(path, Some((at, n)), true)
}

/// One synack flow, optionally with a burst of losses and HyStart off.
pub fn synack_flow(
    path: &PathConfig,
    burst: Option<(Duration, u32)>,
    hystart: bool,
) -> Result<Goodput, String> {
    synack_flow_with(path, burst, |c| c.hystart = hystart)
}

/// One synack flow on `path`, both hosts' configuration changed by `f`.
pub fn synack_flow_with(
    path: &PathConfig,
    burst: Option<(Duration, u32)>,
    f: impl Fn(&mut synack_core::Config),
) -> Result<Goodput, String> {
    let sched = Schedule {
        starts: vec![Duration::ZERO],
        burst,
    };
    let mut ours = synack::Pair::with_config(1, f);
    let mut g = run_path(path, &sched, &mut ours).remove(0);
    if let Some(e) = ours.error.take() {
        return Err(e);
    }
    (g.retransmits, g.timeouts, g.fast_recoveries, g.loss_probes) = ours.recovery();
    g.hystart_exits = ours.hystart_exits();
    Ok(g)
}

/// The goodput table (issue 11): the single-flow grid, fairness, burst loss.
#[derive(Clone, Debug)]
pub struct GoodputReport {
    pub quick: bool,
    pub rows: Vec<Row>,
    /// Two flows on 100 Mbit/s, 50 ms (the second 2 s later): synack's, smoltcp's.
    pub fairness: [Vec<Goodput>; 2],
    /// 10 consecutive data packets lost on 100 Mbit/s, 50 ms, no random loss.
    pub burst: Goodput,
}

/// MSS of the runs (1500-byte MTU: synack uses timestamps, smoltcp does not; the
/// expectations use 1448).
const MSS: f64 = 1448.0;

/// Run the goodput grid, the fairness pair and the burst-loss case; `progress` hears each
/// row as it starts.
pub fn run_goodput(quick: bool, mut progress: impl FnMut(&str)) -> Result<GoodputReport, String> {
    let paths = if quick {
        grid(&[100_000_000], &[10, 50], &[0.0, 0.01], true)
    } else {
        grid(
            &[10_000_000, 100_000_000, 1_000_000_000],
            &[10, 50, 200],
            &[0.0, 0.001, 0.01, 0.05],
            false,
        )
    };
    let mut rows = Vec::new();
    for p in &paths {
        progress(&format!(
            "goodput: {} Mbit/s, {} ms, {}% loss",
            p.rate / 1_000_000,
            p.rtt.as_millis(),
            p.loss * 100.0
        ));
        rows.push(one_flow(p)?);
    }
    progress("fairness: two flows");
    let mut shared = PathConfig::new(100_000_000, Duration::from_millis(50), 0.0);
    shared.warmup = Duration::from_secs(if quick { 5 } else { 10 });
    shared.measure = Duration::from_secs(if quick { 5 } else { 20 });
    let later = Duration::from_secs(2);
    let fairness = [
        two_flows(&shared, later, false)?,
        two_flows(&shared, later, true)?,
    ];
    progress("burst loss");
    let mut b = PathConfig::new(100_000_000, Duration::from_millis(50), 0.0);
    b.warmup = Duration::from_secs(3);
    b.measure = Duration::from_secs(5);
    let burst = burst_loss(&b, Duration::from_secs(4), 10)?;
    Ok(GoodputReport {
        quick,
        rows,
        fairness,
        burst,
    })
}

impl GoodputReport {
    pub fn table(&self) -> String {
        let mut out = format!(
            "synack bench --goodput{}: one flow for the measurement window after a warm-up; Mbit/s of in-order bytes read\n\n",
            if self.quick { " --quick" } else { "" }
        );
        out.push_str(&format!(
            "{:>6} {:>5} {:>6} {:>9} {:>7} {:>9} {:>7} {:>7} {:>9} {:>9}  {:>6} {:>5} {:>4} {:>5} {:>6} {:>7}  {:>10}\n",
            "Mbit/s",
            "RTT",
            "loss",
            "synack",
            "bbr",
            "smoltcp",
            "ratio",
            "bbr/s",
            "Mathis",
            "CUBIC",
            "rtx",
            "RTO",
            "rec",
            "TLP",
            "dup",
            "bbr.rtx",
            "smol.qdrop"
        ));
        for r in &self.rows {
            let p = &r.path;
            let cap = p.rate as f64 / 1e6;
            let (m, c) = if p.loss > 0.0 {
                (
                    format!("{:.1}", (mathis(MSS, p.rtt, p.loss) / 1e6).min(cap)),
                    format!("{:.1}", (cubic(MSS, p.rtt, p.loss) / 1e6).min(cap)),
                )
            } else {
                (format!("{cap:.0}"), format!("{cap:.0}"))
            };
            out.push_str(&format!(
                "{:>6} {:>3}ms {:>5}% {:>9.1} {:>7.1} {:>9.1} {:>7.2} {:>7.2} {:>9} {:>9}  {:>6} {:>5} {:>4} {:>5} {:>6} {:>7}  {:>10}\n",
                p.rate / 1_000_000,
                p.rtt.as_millis(),
                p.loss * 100.0,
                r.synack.mbits(),
                r.bbr.mbits(),
                r.smoltcp.mbits(),
                r.synack.mbits() / r.smoltcp.mbits().max(1e-9),
                r.bbr.mbits() / r.smoltcp.mbits().max(1e-9),
                m,
                c,
                r.synack.retransmits,
                r.synack.timeouts,
                r.synack.fast_recoveries,
                r.synack.loss_probes,
                r.synack.duplicates,
                r.bbr.retransmits,
                r.smoltcp.queue_drops,
            ));
        }
        for (name, f) in [
            ("synack", &self.fairness[0]),
            ("smoltcp", &self.fairness[1]),
        ] {
            let x: Vec<f64> = f.iter().map(Goodput::mbits).collect();
            out.push_str(&format!(
                "\nfairness, {name}: two flows on 100 Mbit/s, 50 ms (the second 2 s later): {} Mbit/s, Jain's index {:.3}",
                x.iter().map(|v| format!("{v:.1}")).collect::<Vec<_>>().join(" + "),
                jain(&x)
            ));
        }
        let b = &self.burst;
        out.push_str(&format!(
            "\nburst loss, synack: 10 consecutive segments lost on 100 Mbit/s, 50 ms: {:.1} Mbit/s over 5 s, {} retransmitted ({} needlessly), {} RTO, {} fast recoveries, {}\n",
            b.mbits(),
            b.retransmits,
            b.duplicates,
            b.timeouts,
            b.fast_recoveries,
            b.burst_repaired_after.map_or("never repaired".to_string(), |s| format!(
                "repaired {:.0} ms after the first loss",
                s * 1e3
            )),
        ));
        out
    }

    pub fn json(&self) -> serde_json::Value {
        use serde_json::json;
        let g = |g: &Goodput| {
            json!({
                "mbits": g.mbits(), "bytes": g.bytes, "secs": g.secs,
                "random_drops": g.random_drops, "queue_drops": g.queue_drops,
                "retransmits": g.retransmits, "timeouts": g.timeouts,
                "fast_recoveries": g.fast_recoveries, "loss_probes": g.loss_probes,
                "hystart_exits": g.hystart_exits,
                "burst_repaired_after_s": g.burst_repaired_after, "duplicates": g.duplicates,
            })
        };
        json!({
            "quick": self.quick,
            "rows": self.rows.iter().map(|r| json!({
                "rate": r.path.rate, "rtt_ms": r.path.rtt.as_millis() as u64, "loss": r.path.loss,
                "queue": r.path.queue, "warmup_s": r.path.warmup.as_secs_f64(),
                "measure_s": r.path.measure.as_secs_f64(),
                "mathis_mbits": if r.path.loss > 0.0 { mathis(MSS, r.path.rtt, r.path.loss) / 1e6 } else { r.path.rate as f64 / 1e6 },
                "cubic_mbits": if r.path.loss > 0.0 { cubic(MSS, r.path.rtt, r.path.loss) / 1e6 } else { r.path.rate as f64 / 1e6 },
                "synack": g(&r.synack), "bbr": g(&r.bbr), "smoltcp": g(&r.smoltcp),
            })).collect::<Vec<_>>(),
            "fairness": {
                "synack": self.fairness[0].iter().map(g).collect::<Vec<_>>(),
                "smoltcp": self.fairness[1].iter().map(g).collect::<Vec<_>>(),
            },
            "burst": g(&self.burst),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal IPv4/TCP packet: 20-byte headers, the ACK flag, `len` bytes of payload.
    fn pkt(port: u16, seq: u32, len: usize) -> Vec<u8> {
        let total = 40 + len;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[20..22].copy_from_slice(&port.to_be_bytes());
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        p[32] = 5 << 4;
        p[33] = 0x10;
        p
    }

    #[test]
    fn a_repair_is_not_a_duplicate_a_resend_is() {
        let mut d = Delivered::default();
        let start = u32::MAX - 1500; // across the wrap
        d.note(&pkt(1, start, 1000));
        d.note(&pkt(1, start.wrapping_add(2000), 1000)); // a hole at 1000..2000
        assert_eq!(d.duplicates, 0);
        d.note(&pkt(1, start.wrapping_add(1000), 1000)); // the repair
        assert_eq!(d.duplicates, 0);
        d.note(&pkt(1, start.wrapping_add(2000), 1000)); // already there
        assert_eq!(d.duplicates, 1);
        d.note(&pkt(2, start.wrapping_add(2000), 1000)); // another flow
        d.note(&pkt(1, start.wrapping_add(2500), 1000)); // half new
        assert_eq!(d.duplicates, 1);
        d.note(&pkt(1, start, 0)); // a pure ACK is no data
        assert_eq!(d.duplicates, 1);
        assert_eq!(tcp_fields(&pkt(1, 7, 3)), Some((7, 3, Some(0))));
    }
}
