//! synack's side of each benchmark: two `Stack`s in memory, or one stack and a scripted
//! peer, passing IP packets through a buffer. No simulator.
use crate::{check, heap_bytes, verify_stream, Bulk, Lifecycles, Memory, SynFlood, TimerTicks};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant as Wall};
use synack_core::wire::{self, IpInfo, Packet, TcpFlags, TcpOptions, TcpSegment};
use synack_core::*;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
/// The server listens on this many ports, so the client's 4-tuples are not exhausted.
const PORTS: u16 = 16;

/// Move packets both ways until neither side has anything to send.
fn shuttle(a: &mut Stack, b: &mut Stack, now: Instant, buf: &mut Vec<u8>) -> u64 {
    let mut n = 0;
    loop {
        let mut moved = false;
        while a.poll_transmit(now, buf) {
            b.handle_packet(now, buf);
            moved = true;
            n += 1;
        }
        while b.poll_transmit(now, buf) {
            a.handle_packet(now, buf);
            moved = true;
            n += 1;
        }
        if !moved {
            return n;
        }
    }
}

fn big(seed: u64) -> Config {
    let mut c = Config::seed();
    c.seed = seed;
    c.max_sockets = 4_000_000;
    c.tcp_max_tw_buckets = 4_000_000;
    c.tcp_max_syn_backlog = 1 << 20;
    c.somaxconn = 1 << 20;
    c
}

/// Connection lifecycles: connect, accept, 1 byte each way, client closes first (it ends
/// in TIME_WAIT), server closes. The virtual clock advances 1 ms per lifecycle, so the
/// TIME_WAIT table settles at 60,000 entries and each lifecycle also pays for one expiry.
pub fn lifecycles(n: u64) -> Result<Lifecycles, String> {
    let mut a = Stack::new(big(1), &[A]);
    let mut b = Stack::new(big(2), &[B]);
    let mut now = Instant::ZERO;
    let mut buf = Vec::with_capacity(2048);
    let mut ls = Vec::new();
    for p in 0..PORTS {
        let l = b.socket(now).map_err(|e| e.name().to_string())?;
        b.bind(now, l, SocketAddr::new(B, 80 + p))
            .map_err(|e| e.name().to_string())?;
        b.listen(now, l, 128).map_err(|e| e.name().to_string())?;
        ls.push(l);
    }
    let mut segs = 0u64;
    let mut one = [0u8; 16];
    let t0 = Wall::now();
    for i in 0..n {
        now += Duration::from_millis(1);
        a.handle_timeout(now);
        b.handle_timeout(now);
        let p = (i % PORTS as u64) as u16;
        let c = a.socket(now).map_err(|e| e.name().to_string())?;
        match a.connect(now, c, SocketAddr::new(B, 80 + p)) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => return Err(format!("connect #{i}: {}", e.name())),
        }
        segs += shuttle(&mut a, &mut b, now, &mut buf);
        let (s, _) = b
            .accept(now, ls[p as usize])
            .map_err(|e| format!("accept #{i}: {}", e.name()))?;
        a.write(now, c, b"q").map_err(|e| e.name().to_string())?;
        segs += shuttle(&mut a, &mut b, now, &mut buf);
        check(b.read(now, s, &mut one) == Ok(1), "server reads 1 byte")?;
        b.write(now, s, b"r").map_err(|e| e.name().to_string())?;
        segs += shuttle(&mut a, &mut b, now, &mut buf);
        check(a.read(now, c, &mut one) == Ok(1), "client reads 1 byte")?;
        a.close(now, c).map_err(|e| e.name().to_string())?;
        segs += shuttle(&mut a, &mut b, now, &mut buf);
        check(b.read(now, s, &mut one) == Ok(0), "server sees EOF")?;
        b.close(now, s).map_err(|e| e.name().to_string())?;
        segs += shuttle(&mut a, &mut b, now, &mut buf);
    }
    let secs = t0.elapsed().as_secs_f64();
    let (sa, sb) = (a.table_sizes(), b.table_sizes());
    check(sa.connections == 0, "no client connection left open")?;
    check(sb.connections == 0, "no server connection left open")?;
    // Every client entered TIME_WAIT: still there, expired after 60 s (TcpExtTW), or
    // taken over by a later connect() after 1 s (tcp_tw_reuse, TcpExtTWRecycled).
    let k = a.counters();
    let held = sa.time_wait as u64 + k.get(Counter::TimeWaited) + k.get(Counter::TwRecycled);
    check(
        held == n && k.get(Counter::TcpTimeWaitOverflow) == 0,
        &format!("every client entered TIME_WAIT ({held} of {n})"),
    )?;
    Ok(Lifecycles {
        count: n,
        secs,
        segments: segs,
    })
}

/// One flow of `bytes` at the given MTU; the virtual clock advances 100 µs per round.
pub fn bulk(bytes: u64, mtu: u32) -> Result<Bulk, String> {
    let mut ca = big(1);
    ca.mtu = mtu;
    let mut cb = big(2);
    cb.mtu = mtu;
    let mut a = Stack::new(ca, &[A]);
    let mut b = Stack::new(cb, &[B]);
    let mut now = Instant::ZERO;
    let mut buf = Vec::with_capacity(mtu as usize + 64);
    let l = b.socket(now).unwrap();
    b.bind(now, l, SocketAddr::new(B, 80)).unwrap();
    b.listen(now, l, 8).unwrap();
    let c = a.socket(now).unwrap();
    let _ = a.connect(now, c, SocketAddr::new(B, 80));
    shuttle(&mut a, &mut b, now, &mut buf);
    let (s, _) = b.accept(now, l).map_err(|e| e.name().to_string())?;
    let pattern = crate::pattern();
    let mut sink = vec![0u8; 256 * 1024];
    let (mut sent, mut got) = (0u64, 0u64);
    let mut segs = 0u64;
    let t0 = Wall::now();
    while got < bytes {
        while sent < bytes {
            let off = (sent % crate::PATTERN as u64) as usize;
            let want = ((bytes - sent) as usize).min(crate::PATTERN);
            match a.write(now, c, &pattern[off..off + want]) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(k) => sent += k as u64,
                Err(e) => return Err(format!("write: {}", e.name())),
            }
        }
        segs += shuttle(&mut a, &mut b, now, &mut buf);
        loop {
            match b.read(now, s, &mut sink) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(k) => {
                    verify_stream(&pattern, got, &sink[..k])?;
                    got += k as u64;
                }
                Err(e) => return Err(format!("read: {}", e.name())),
            }
        }
        segs += shuttle(&mut a, &mut b, now, &mut buf);
        now += Duration::from_micros(100);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    let secs = t0.elapsed().as_secs_f64();
    check(got == bytes, "every byte arrived")?;
    Ok(Bulk {
        bytes: got,
        secs,
        segments: segs,
    })
}

/// A server stack and a scripted peer with many addresses (10.1.x.x:port).
struct Scripted {
    st: Stack,
    now: Instant,
    pkt: Vec<u8>,
    out: Vec<u8>,
    listener: Fd,
}

const SERVER: IpAddr = B;

fn peer(i: u64) -> SocketAddr {
    let i = i as u32;
    let ip = Ipv4Addr::new(10, 1 + (i / 15_000_000) as u8, (i / 60_000 % 250) as u8, 1);
    SocketAddr::new(IpAddr::V4(ip), 1024 + (i % 60_000) as u16)
}

impl Scripted {
    fn new(keepalive: bool) -> Scripted {
        let mut cfg = big(3);
        cfg.tcp_timestamps = 0;
        let mut st = Stack::new(cfg, &[SERVER]);
        let t = Instant::ZERO;
        let l = st.socket(t).unwrap();
        if keepalive {
            st.setsockopt(t, l, SockOpt::KeepAlive(true)).unwrap();
        }
        st.bind(t, l, SocketAddr::new(SERVER, 80)).unwrap();
        st.listen(t, l, 1 << 20).unwrap();
        Scripted {
            st,
            now: t,
            pkt: Vec::with_capacity(128),
            out: Vec::with_capacity(2048),
            listener: l,
        }
    }

    fn inject(&mut self, from: SocketAddr, flags: TcpFlags, seq: u32, ack: u32) {
        self.inject_data(from, flags, seq, ack, &[]);
    }

    fn inject_data(
        &mut self,
        from: SocketAddr,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) {
        let p = Packet {
            ip: IpInfo {
                src: from.ip(),
                dst: SERVER,
                ttl: 64,
            },
            tcp: TcpSegment {
                src_port: from.port(),
                dst_port: 80,
                seq,
                ack,
                flags,
                window: 65535,
                urgent: 0,
                options: TcpOptions {
                    mss: flags.contains(TcpFlags::SYN).then_some(1460),
                    ..TcpOptions::default()
                },
                payload,
            },
        };
        self.pkt.clear();
        wire::emit(&p, &mut self.pkt);
        self.st.handle_packet(self.now, &self.pkt);
    }

    fn drain(&mut self) -> Option<(u32, u32)> {
        let mut last = None;
        while self.st.poll_transmit(self.now, &mut self.out) {
            let p = wire::parse(&self.out).expect("our packets parse");
            last = Some((p.tcp.seq, p.tcp.ack));
        }
        last
    }

    fn connect(&mut self, i: u64) -> Result<Fd, String> {
        self.connect_isn(i).map(|(fd, _)| fd)
    }

    /// A connection from peer `i`: its descriptor and our ISN.
    fn connect_isn(&mut self, i: u64) -> Result<(Fd, u32), String> {
        let from = peer(i);
        self.inject(from, TcpFlags::SYN, 1000, 0);
        let (isn, _) = self.drain().ok_or("no SYN-ACK")?;
        self.inject(from, TcpFlags::ACK, 1001, isn.wrapping_add(1));
        let (fd, _) = self
            .st
            .accept(self.now, self.listener)
            .map_err(|e| format!("accept: {}", e.name()))?;
        Ok((fd, isn))
    }

    /// A one-byte request from peer `i`, read, a one-byte reply, acknowledged.
    fn request_reply(&mut self, i: u64, fd: Fd, isn: u32) -> Result<(), String> {
        let from = peer(i);
        let ack = isn.wrapping_add(1);
        self.inject_data(from, TcpFlags::ACK | TcpFlags::PSH, 1001, ack, b"q");
        self.drain();
        let mut b = [0u8; 1];
        let got = self.st.read(self.now, fd, &mut b);
        check(got == Ok(1), "the request is read")?;
        let sent = self.st.write(self.now, fd, b"r");
        check(sent == Ok(1), "the reply is written")?;
        let (seq, _) = self.drain().ok_or("no reply segment")?;
        self.inject(from, TcpFlags::ACK, 1002, seq.wrapping_add(1));
        self.drain();
        Ok(())
    }

    fn close_to_time_wait(&mut self, i: u64, fd: Fd) -> Result<(), String> {
        let from = peer(i);
        self.st
            .close(self.now, fd)
            .map_err(|e| e.name().to_string())?;
        let (fin_seq, _) = self.drain().ok_or("no FIN")?;
        self.inject(
            from,
            TcpFlags::ACK | TcpFlags::FIN,
            1001,
            fin_seq.wrapping_add(1),
        );
        self.drain();
        Ok(())
    }
}

fn per(delta: Option<(usize, usize)>, n: u64) -> Option<f64> {
    delta.map(|(a, b)| (b as f64 - a as f64) / n as f64)
}

/// `n` idle ESTABLISHED connections (keepalive on), then `n` TIME_WAIT entries in a
/// second stack; heap bytes per entry from the counting allocator, if installed. Also
/// the keepalive-timer tick costs with the `n` connections and with 1,000.
pub fn memory_and_timers(n: u64, ticks: u32) -> Result<(Memory, TimerTicks), String> {
    // ESTABLISHED
    let mut s = Scripted::new(true);
    let mut conns = Vec::with_capacity(n as usize);
    let h0 = heap_bytes();
    for i in 0..n {
        conns.push(s.connect_isn(i)?);
    }
    let h1 = heap_bytes();
    let sizes = s.st.table_sizes();
    check(
        sizes.connections as u64 == n,
        "every connection established",
    )?;
    check(
        sizes.timers as u64 == n,
        "one keepalive timer per connection",
    )?;
    let est = per(h0.zip(h1), n);
    // The same connections after a request and a reply each, then a pause of two
    // seconds: buffers and flight records given back, congestion state kept.
    for (i, &(fd, isn)) in conns.iter().enumerate() {
        s.request_reply(i as u64, fd, isn)?;
    }
    s.now += Duration::from_secs(2);
    s.st.handle_timeout(s.now);
    s.drain();
    let h2 = heap_bytes();
    check(
        s.st.table_sizes().flights == 0,
        "every flight record given back after the pause",
    )?;
    let used = per(h0.zip(h2), n);
    let (big_tick, big_visits) = idle_ticks(&mut s, ticks);
    let fire = fire_keepalives(&mut s, n)?;
    drop(s);
    // 1,000 connections, for comparison.
    let mut small = Scripted::new(true);
    for i in 0..1000 {
        small.connect(i)?;
    }
    let (small_tick, small_visits) = idle_ticks(&mut small, ticks);
    drop(small);
    // TIME_WAIT
    let mut s = Scripted::new(false);
    // One connection first, so the connection tables' one-entry allocations are not
    // counted as TIME_WAIT memory.
    let fd = s.connect(u64::MAX >> 40)?;
    s.st.close(s.now, fd).ok();
    s.drain();
    let h0 = heap_bytes();
    for i in 0..n {
        let fd = s.connect(i)?;
        s.close_to_time_wait(i, fd)?;
    }
    let h1 = heap_bytes();
    let sizes = s.st.table_sizes();
    check(sizes.time_wait as u64 == n, "every connection in TIME_WAIT")?;
    let tw = per(h0.zip(h1), n);
    Ok((
        Memory {
            count: n,
            established: est,
            established_used: used,
            time_wait: tw,
        },
        TimerTicks {
            count: n,
            ticks,
            ns_per_tick: big_tick,
            slots_per_tick: big_visits,
            ns_per_tick_1k: small_tick,
            slots_per_tick_1k: small_visits,
            ns_per_keepalive_fired: fire,
        },
    ))
}

/// Idle 1 ms ticks: nothing is due (keepalive is 2 h away). (ns per tick, slots per tick)
fn idle_ticks(s: &mut Scripted, ticks: u32) -> (f64, f64) {
    let before = s.st.timer_stats();
    let t0 = Wall::now();
    for _ in 0..ticks {
        s.now += Duration::from_millis(1);
        s.st.handle_timeout(s.now);
    }
    let ns = t0.elapsed().as_nanos() as f64 / ticks as f64;
    let after = s.st.timer_stats();
    (
        ns,
        (after.slots_visited - before.slots_visited) as f64 / ticks as f64,
    )
}

/// Jump past tcp_keepalive_time: every connection sends one probe. ns per probe.
fn fire_keepalives(s: &mut Scripted, n: u64) -> Result<f64, String> {
    s.now += Duration::from_secs(7200);
    let t0 = Wall::now();
    s.st.handle_timeout(s.now);
    let mut probes = 0u64;
    while s.st.poll_transmit(s.now, &mut s.out) {
        probes += 1;
    }
    let ns = t0.elapsed().as_nanos() as f64 / n as f64;
    check(probes == n, "one keepalive probe per connection")?;
    Ok(ns)
}

/// `n` spoofed SYNs at a listener with tcp_syncookies=2; every `real_every` of them a
/// real client (a second stack) connects through the flood.
pub fn syn_flood(n: u64, real_every: u64) -> Result<SynFlood, String> {
    let mut cfg = big(2);
    cfg.tcp_syncookies = 2;
    let mut srv = Stack::new(cfg, &[B]);
    let mut cli = Stack::new(big(1), &[A]);
    let mut now = Instant::ZERO;
    let l = srv.socket(now).unwrap();
    srv.bind(now, l, SocketAddr::new(B, 80)).unwrap();
    srv.listen(now, l, 4096).unwrap();
    // 4096 spoofed SYNs, built once and replayed (cookies store nothing).
    let spoofed: Vec<Vec<u8>> = (0..4096u32)
        .map(|i| {
            let src = Ipv4Addr::new(192, 168, (i >> 8) as u8, i as u8);
            let p = Packet {
                ip: IpInfo {
                    src: IpAddr::V4(src),
                    dst: B,
                    ttl: 64,
                },
                tcp: TcpSegment {
                    src_port: 1024 + (i % 50_000) as u16,
                    dst_port: 80,
                    seq: i.wrapping_mul(2_654_435_761),
                    ack: 0,
                    flags: TcpFlags::SYN,
                    window: 65535,
                    urgent: 0,
                    options: TcpOptions {
                        mss: Some(1460),
                        ..TcpOptions::default()
                    },
                    payload: &[],
                },
            };
            let mut v = Vec::new();
            wire::emit(&p, &mut v);
            v
        })
        .collect();
    let mut out = Vec::with_capacity(2048);
    let (mut synacks, mut attempts, mut accepted) = (0u64, 0u64, 0u64);
    let t0 = Wall::now();
    for i in 0..n {
        srv.handle_packet(now, &spoofed[(i % 4096) as usize]);
        while srv.poll_transmit(now, &mut out) {
            // IPv4 without options: the TCP flags are byte 33.
            if out.len() > 33 && out[33] & 0x12 == 0x12 {
                synacks += 1;
            }
            // A SYN-ACK to a spoofed address goes nowhere; one to the real client arrives.
            if out.len() >= 20 && out[16..20] == [10, 0, 0, 1] {
                cli.handle_packet(now, &out);
            }
        }
        if i % real_every == 0 {
            now += Duration::from_millis(1);
            srv.handle_timeout(now);
            cli.handle_timeout(now);
            attempts += 1;
            let c = cli.socket(now).map_err(|e| e.name().to_string())?;
            let _ = cli.connect(now, c, SocketAddr::new(B, 80));
            shuttle(&mut cli, &mut srv, now, &mut out);
            while let Ok((s, _)) = srv.accept(now, l) {
                accepted += 1;
                srv.close(now, s).ok();
            }
            // The client closes too (the server holds the TIME_WAIT), so its ports are
            // free again: connect()'s port search stays short.
            shuttle(&mut cli, &mut srv, now, &mut out);
            cli.close(now, c).ok();
            shuttle(&mut cli, &mut srv, now, &mut out);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let stored = srv.table_sizes().requests;
    check(stored == 0, "cookies store nothing")?;
    Ok(SynFlood {
        spoofed: n,
        secs,
        synacks,
        real_attempts: attempts,
        real_ok: accepted,
    })
}
