//! Two synack hosts and a wire the fuzzer controls.
//!
//! The fuzzer's bytes are a program: socket calls on either host (connect, accept, read,
//! write, shutdown, close, options), the wire's fate for each packet (deliver, drop,
//! duplicate, reorder, corrupt one byte), time passing, garbage and forged segments.
//! After every step:
//! - neither stack panics, loops or outgrows its bounds (`Stack::check_invariants`:
//!   SND.UNA ≤ SND.NXT, a sound receive queue, every table within its limit);
//! - every byte an application reads is the byte the peer's application wrote at that
//!   place of that connection (writers send a pattern of the connection's ports and each
//!   byte's sequence number), so nothing is lost, reordered, duplicated or invented on
//!   the way in;
//!
//! and at the end, once every descriptor is closed and the wire is clean again, both
//! stacks drain to empty tables: nothing leaks.
//!
//! Forged segments aimed at a live connection carry no payload: a blind attacker who
//! guesses RCV.NXT exactly may legitimately inject data (RFC 5961 narrows, not closes,
//! that door), and the fuzzer, which sees comparisons, would find the number.
use arbitrary::{Result, Unstructured};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use synack_core::wire::{self, IpInfo, Packet, TcpFlags, TcpOptions, TcpSegment, Timestamps};
use synack_core::{
    Config, CongestionAlgorithm, Errno, Fd, Instant, Profile, Shutdown, SockOpt, Stack,
};

const ADDRS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
];
/// Each host listens on this port.
const PORT: u16 = 80;
/// Packets in flight per direction; more are dropped, as a full queue would.
const WIRE_MAX: usize = 512;
/// Steps per input: bounded so that one input costs bounded time.
const MAX_STEPS: usize = 2000;

/// One application socket: what it wrote and read so far, on which connection.
#[derive(Clone, Copy, Debug)]
struct App {
    fd: Fd,
    /// The connection's ends, learnt while it is connected (a reset connection no
    /// longer tells them, as getpeername() in Linux, but its data is still readable).
    ends: Option<(SocketAddr, SocketAddr)>,
    written: u64,
    read: u64,
    /// Read returned EOF or an error: nothing more may be read.
    done: bool,
}

struct Host {
    st: Stack,
    listener: Fd,
    apps: Vec<App>,
}

/// The byte at sequence number `seq` of the stream sent from `from` to `to`: depends on
/// both ends and the sequence number, so a byte delivered to the wrong connection or place
/// is noticed. Sequence numbers, not offsets: a server whose connection was reset may get
/// it back from a SYN cookie (the client's next ACK validates as one, in Linux too), and
/// the revived connection starts mid-stream, at offset 0 for the server's application.
fn pattern(from: SocketAddr, to: SocketAddr, seq: u32) -> u8 {
    let s = seq as u64;
    let k = (from.port() as u64) << 24 ^ (to.port() as u64) << 8 ^ s.wrapping_mul(0x9E37);
    ((k ^ k >> 7 ^ s >> 8) % 251) as u8
}

struct World {
    hosts: [Host; 2],
    /// wires[i]: packets from host i to the other, each with whether it was corrupted
    /// already: one changed byte is always caught by the checksum, two may cancel out in
    /// it (the Internet checksum's known blind spot), so the wire changes a packet once.
    wires: [VecDeque<(Vec<u8>, bool)>; 2],
    now: Instant,
    buf: Vec<u8>,
    /// blocked[i]: host i's link takes no packets (`set_link_blocked`); what it still
    /// emits is dropped, as a full queue would.
    blocked: [bool; 2],
    /// SYNACK_FUZZ_TRACE set: print every step and delivered packet (to debug a finding).
    trace: bool,
}

impl World {
    fn new(u: &mut Unstructured<'_>) -> Result<World> {
        let profile = if u.arbitrary::<bool>()? {
            Profile::Linux
        } else {
            Profile::Seed
        };
        let mut hosts = Vec::new();
        for (i, addr) in ADDRS.iter().enumerate() {
            let mut cfg = Config::for_profile(profile);
            cfg.seed = i as u64 + 1;
            cfg.max_sockets = 24;
            // Small limits, so that queues, windows and tables fill up within a run.
            let set = |c: &mut Config, k: &str, v: String| c.set(k, &v).expect(k);
            set(
                &mut cfg,
                "net.ipv4.tcp_max_tw_buckets",
                u.int_in_range(0..=8u32)?.to_string(),
            );
            set(
                &mut cfg,
                "net.ipv4.tcp_max_syn_backlog",
                u.int_in_range(1..=16u32)?.to_string(),
            );
            set(
                &mut cfg,
                "net.ipv4.tcp_syncookies",
                u.int_in_range(0..=2u32)?.to_string(),
            );
            set(
                &mut cfg,
                "net.ipv4.tcp_timestamps",
                u.int_in_range(0..=1u32)?.to_string(),
            );
            set(
                &mut cfg,
                "net.ipv4.tcp_sack",
                u.int_in_range(0..=1u32)?.to_string(),
            );
            set(
                &mut cfg,
                "net.ipv4.tcp_fastopen",
                u.int_in_range(0..=3u32)?.to_string(),
            );
            set(
                &mut cfg,
                "net.ipv4.tcp_tw_reuse",
                u.int_in_range(0..=2u32)?.to_string(),
            );
            set(&mut cfg, "net.ipv4.tcp_rmem", "4096 8192 65536".into());
            set(&mut cfg, "net.ipv4.tcp_wmem", "4096 8192 65536".into());
            let mut st = Stack::new(cfg, &[*addr]);
            st.set_capture(false);
            let now = Instant::from_micros(0);
            let l = st.socket(now).expect("a socket");
            st.bind(now, l, SocketAddr::new(*addr, PORT)).expect("bind");
            st.listen(now, l, u.int_in_range(0..=4i32)?)
                .expect("listen");
            let _ = st.setsockopt(now, l, SockOpt::FastOpen(4));
            hosts.push(Host {
                st,
                listener: l,
                apps: Vec::new(),
            });
        }
        let [a, b]: [Host; 2] = hosts.try_into().ok().expect("two hosts");
        Ok(World {
            hosts: [a, b],
            wires: [VecDeque::new(), VecDeque::new()],
            now: Instant::from_micros(0),
            buf: Vec::new(),
            blocked: [false; 2],
            trace: std::env::var_os("SYNACK_FUZZ_TRACE").is_some(),
        })
    }

    /// Everything each stack wants to send goes onto its wire; the bound on what one
    /// call may emit catches an output loop.
    fn transmit(&mut self) {
        for i in 0..2 {
            let mut n = 0;
            while self.hosts[i].st.poll_transmit(self.now, &mut self.buf) {
                n += 1;
                assert!(n < 20_000, "host {i}: poll_transmit does not stop");
                if !self.blocked[i] && self.wires[i].len() < WIRE_MAX {
                    self.wires[i].push_back((self.buf.clone(), false));
                }
            }
        }
    }

    fn deliver(&mut self, from: usize) {
        if let Some((p, _)) = self.wires[from].pop_front() {
            if self.trace {
                match wire::parse(&p) {
                    Ok(k) => eprintln!(
                        "{:?} deliver {}:{} > {}:{} {:?} seq {} ack {} len {} win {}",
                        self.now,
                        k.ip.src,
                        k.tcp.src_port,
                        k.ip.dst,
                        k.tcp.dst_port,
                        k.tcp.flags,
                        k.tcp.seq,
                        k.tcp.ack,
                        k.tcp.payload.len(),
                        k.tcp.window
                    ),
                    Err(e) => eprintln!("{:?} deliver garbage ({e:?})", self.now),
                }
            }
            self.hosts[1 - from].st.handle_packet(self.now, &p);
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        for h in &mut self.hosts {
            h.st.handle_timeout(self.now);
        }
    }

    fn pick(&self, u: &mut Unstructured<'_>, h: usize) -> Result<Option<usize>> {
        let n = self.hosts[h].apps.len();
        Ok(if n == 0 {
            None
        } else {
            Some(u.choose_index(n)?)
        })
    }

    /// The ends of an application's connection, remembered the first time they are known.
    fn ends(&mut self, h: usize, i: usize) -> Option<(SocketAddr, SocketAddr)> {
        let host = &mut self.hosts[h];
        let app = &mut host.apps[i];
        if app.ends.is_none() {
            if let (Ok(l), Ok(p)) = (host.st.local_addr(app.fd), host.st.peer_addr(app.fd)) {
                app.ends = Some((l, p));
            }
        }
        app.ends
    }

    /// Read and check every byte against what the peer's application wrote there.
    fn read(&mut self, h: usize, i: usize, len: usize) {
        let now = self.now;
        let ends = self.ends(h, i);
        let host = &mut self.hosts[h];
        let app = &mut host.apps[i];
        if app.done {
            return;
        }
        let mut buf = vec![0u8; len];
        match host.st.read(now, app.fd, &mut buf) {
            Ok(0) => app.done = true,
            Ok(n) => {
                let (local, peer) = ends.expect("data only arrives on a connection");
                let (_, irs) = host
                    .st
                    .initial_sequence_numbers(app.fd)
                    .expect("data only arrives on a connection");
                for (k, &b) in buf[..n].iter().enumerate() {
                    let off = app.read + k as u64;
                    let seq = irs.wrapping_add(1).wrapping_add(off as u32);
                    assert_eq!(
                        b,
                        pattern(peer, local, seq),
                        "host {h} read a wrong byte at offset {off} (seq {seq}) of {peer} -> {local}"
                    );
                }
                app.read += n as u64;
            }
            Err(Errno::EAGAIN) => {}
            Err(_) => app.done = true,
        }
    }

    fn write(&mut self, h: usize, i: usize, len: usize) {
        let now = self.now;
        let Some((local, peer)) = self.ends(h, i) else {
            return;
        };
        let host = &mut self.hosts[h];
        let app = &mut host.apps[i];
        let Ok((iss, _)) = host.st.initial_sequence_numbers(app.fd) else {
            return;
        };
        let first = iss.wrapping_add(1).wrapping_add(app.written as u32);
        let data: Vec<u8> = (0..len as u32)
            .map(|k| pattern(local, peer, first.wrapping_add(k)))
            .collect();
        if let Ok(n) = host.st.write(now, app.fd, &data) {
            assert!(n <= len, "write took {n} of {len} bytes");
            app.written += n as u64;
        }
    }

    /// A segment from a forged source, or aimed at a live connection without payload.
    fn forge(&mut self, u: &mut Unstructured<'_>, h: usize) -> Result<()> {
        let to = ADDRS[h];
        let live: Vec<(SocketAddr, SocketAddr)> = self.hosts[h]
            .apps
            .iter()
            .filter_map(|a| {
                let st = &self.hosts[h].st;
                Some((st.peer_addr(a.fd).ok()?, st.local_addr(a.fd).ok()?))
            })
            .collect();
        let on_live = !live.is_empty() && u.arbitrary::<bool>()?;
        let (src, dst) = if on_live {
            live[u.choose_index(live.len())?]
        } else {
            (
                SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(192, 0, 2, u.int_in_range(1..=3)?)),
                    u.int_in_range(1000..=1003)?,
                ),
                SocketAddr::new(to, if u.arbitrary()? { PORT } else { u.arbitrary()? }),
            )
        };
        let payload_len = if on_live {
            0
        } else {
            u.int_in_range(0..=1500usize)?
        };
        let payload = vec![0x5a; payload_len];
        let mut options = TcpOptions::default();
        if u.arbitrary()? {
            options.mss = Some(u.arbitrary()?);
        }
        if u.arbitrary()? {
            options.window_scale = Some(u.int_in_range(0..=20)?);
        }
        options.sack_permitted = u.arbitrary()?;
        if u.arbitrary()? {
            options.timestamps = Some(Timestamps {
                val: u.arbitrary()?,
                ecr: u.arbitrary()?,
            });
        }
        let mut flags = TcpFlags(u.arbitrary::<u8>()? & 0x3f);
        if on_live {
            flags = TcpFlags(flags.0 & !0x08); // no PSH-only data semantics needed
        }
        let pkt = Packet {
            ip: IpInfo {
                src: src.ip(),
                dst: dst.ip(),
                ttl: 64,
            },
            tcp: TcpSegment {
                src_port: src.port(),
                dst_port: dst.port(),
                seq: u.arbitrary()?,
                ack: u.arbitrary()?,
                flags,
                window: u.arbitrary()?,
                urgent: 0,
                options,
                payload: &payload,
            },
        };
        let mut bytes = Vec::new();
        wire::emit(&pkt, &mut bytes);
        self.hosts[h].st.handle_packet(self.now, &bytes);
        Ok(())
    }

    fn step(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let h = u.int_in_range(0..=1usize)?;
        let now = self.now;
        let op = u.int_in_range(0..=16u8)?;
        if self.trace {
            let apps: Vec<_> = self.hosts[h]
                .apps
                .iter()
                .map(|a| (a.fd, a.ends, a.written, a.read))
                .collect();
            eprintln!("{:?} host {h} op {op} apps {apps:?}", self.now);
        }
        match op {
            0 => {
                // connect to the other host's listener
                let st = &mut self.hosts[h].st;
                if let Ok(fd) = st.socket(now) {
                    if u.arbitrary()? {
                        let _ = st.setsockopt(now, fd, SockOpt::FastOpenConnect(true));
                    }
                    let to = SocketAddr::new(ADDRS[1 - h], PORT);
                    match st.connect(now, fd, to) {
                        Ok(()) | Err(Errno::EINPROGRESS) => self.hosts[h].apps.push(App {
                            fd,
                            ends: st.local_addr(fd).ok().map(|l| (l, to)),
                            written: 0,
                            read: 0,
                            done: false,
                        }),
                        Err(_) => {
                            let _ = st.close(now, fd);
                        }
                    }
                }
            }
            1 => {
                let host = &mut self.hosts[h];
                if let Ok((fd, peer)) = host.st.accept(now, host.listener) {
                    host.apps.push(App {
                        fd,
                        ends: host.st.local_addr(fd).ok().map(|l| (l, peer)),
                        written: 0,
                        read: 0,
                        done: false,
                    });
                }
            }
            2 => {
                if let Some(i) = self.pick(u, h)? {
                    let len = u.int_in_range(0..=20_000usize)?;
                    self.write(h, i, len);
                }
            }
            3 => {
                if let Some(i) = self.pick(u, h)? {
                    let len = u.int_in_range(1..=20_000usize)?;
                    self.read(h, i, len);
                }
            }
            4 => {
                if let Some(i) = self.pick(u, h)? {
                    let how = *u.choose(&[Shutdown::Read, Shutdown::Write, Shutdown::Both])?;
                    let fd = self.hosts[h].apps[i].fd;
                    let _ = self.hosts[h].st.shutdown(now, fd, how);
                }
            }
            5 => {
                if let Some(i) = self.pick(u, h)? {
                    let app = self.hosts[h].apps.swap_remove(i);
                    self.hosts[h]
                        .st
                        .close(now, app.fd)
                        .expect("close of an open fd");
                }
            }
            6 => {
                if let Some(i) = self.pick(u, h)? {
                    let fd = self.hosts[h].apps[i].fd;
                    let v: u32 = u.int_in_range(0..=10)?;
                    let opt = match u.int_in_range(0..=8u8)? {
                        8 => SockOpt::Congestion(match v % 3 {
                            0 => CongestionAlgorithm::Reno,
                            1 => CongestionAlgorithm::Cubic,
                            _ => CongestionAlgorithm::Bbr,
                        }),
                        0 => SockOpt::NoDelay(v & 1 == 1),
                        1 => SockOpt::KeepAlive(v & 1 == 1),
                        2 => SockOpt::KeepIdle(v.max(1)),
                        3 => SockOpt::KeepIntvl(v.max(1)),
                        4 => SockOpt::Linger(if v > 5 { None } else { Some(v % 2) }),
                        5 => SockOpt::UserTimeout(v * 1000),
                        6 => SockOpt::RcvBuf(v * 2048 + 1),
                        _ => SockOpt::Linger2(v as i32 - 2),
                    };
                    let _ = self.hosts[h].st.setsockopt(now, fd, opt);
                }
            }
            7 => {
                for _ in 0..u.int_in_range(1..=64usize)? {
                    self.deliver(h);
                }
            }
            8 => {
                self.wires[h].pop_front();
            }
            9 => {
                if let Some(p) = self.wires[h].front().cloned() {
                    if self.wires[h].len() < WIRE_MAX {
                        self.wires[h].push_back(p);
                    }
                }
            }
            10 => {
                let n = self.wires[h].len();
                if n > 1 {
                    let j = u.int_in_range(1..=n - 1)?;
                    self.wires[h].swap(0, j);
                }
            }
            11 => {
                // One byte changed: the checksum must catch it.
                let pos: usize = u.arbitrary()?;
                let x = u.int_in_range(1..=255u8)?;
                if let Some((p, corrupted)) = self.wires[h].front_mut() {
                    if !p.is_empty() && !*corrupted {
                        let k = pos % p.len();
                        p[k] ^= x;
                        *corrupted = true;
                    }
                }
            }
            12 => {
                let ms = match u.int_in_range(0..=3u8)? {
                    0 => u.int_in_range(0..=10u64)?,
                    1 => u.int_in_range(0..=1000u64)?,
                    2 => u.int_in_range(0..=30_000u64)?,
                    _ => u.int_in_range(0..=300_000u64)?,
                };
                self.advance(Duration::from_millis(ms));
            }
            13 => {
                let n = u.int_in_range(0..=80usize)?;
                let bytes = u.bytes(n)?.to_vec();
                self.hosts[h].st.handle_packet(now, &bytes);
            }
            14 => self.forge(u, h)?,
            16 => {
                self.blocked[h] = !self.blocked[h];
                self.hosts[h].st.set_link_blocked(now, self.blocked[h]);
            }
            _ => {
                // Let the network settle a little: both directions, 5 ms steps.
                for _ in 0..u.int_in_range(1..=20u8)? {
                    while !self.wires[0].is_empty() || !self.wires[1].is_empty() {
                        self.deliver(0);
                        self.deliver(1);
                        self.transmit();
                    }
                    self.advance(Duration::from_millis(5));
                    self.transmit();
                }
            }
        }
        Ok(())
    }

    fn check(&self) {
        for (i, h) in self.hosts.iter().enumerate() {
            if let Err(e) = h.st.check_invariants() {
                panic!("host {i}: {e}");
            }
        }
    }

    /// Close everything, let the clean network and the timers run for a simulated hour:
    /// both stacks must be empty but for their listeners.
    fn drain(&mut self) {
        for (i, h) in self.hosts.iter_mut().enumerate() {
            self.blocked[i] = false;
            h.st.set_link_blocked(self.now, false);
        }
        for h in &mut self.hosts {
            for app in h.apps.drain(..) {
                h.st.close(self.now, app.fd).expect("close of an open fd");
            }
        }
        for _ in 0..7200 {
            self.transmit();
            while !self.wires[0].is_empty() || !self.wires[1].is_empty() {
                self.deliver(0);
                self.deliver(1);
                self.transmit();
            }
            // Accept and close whatever completes late.
            for h in &mut self.hosts {
                while let Ok((fd, _)) = h.st.accept(self.now, h.listener) {
                    let _ = h.st.close(self.now, fd);
                }
            }
            let busy: usize = self
                .hosts
                .iter()
                .map(|h| {
                    let t = h.st.table_sizes();
                    t.connections + t.requests + t.time_wait
                })
                .sum();
            if busy == 0 {
                return;
            }
            self.advance(Duration::from_millis(500));
            self.check();
        }
        let t: Vec<_> = self.hosts.iter().map(|h| h.st.table_sizes()).collect();
        panic!("tables not empty an hour after everything closed: {t:?}");
    }
}

/// Run the fuzzer's program (see the module doc).
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(mut w) = World::new(&mut u) else {
        return;
    };
    for _ in 0..MAX_STEPS {
        if u.is_empty() || w.step(&mut u).is_err() {
            break;
        }
        w.transmit();
        w.check();
    }
    w.drain();
}
