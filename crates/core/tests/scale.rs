//! Timers at scale, through the whole stack: a million established connections each
//! with a keepalive timer, and a hundred thousand TIME_WAIT entries. Cost is counted in
//! timer-wheel work (slots visited, entries cascaded, timers fired), not timed: an idle
//! tick costs nothing per connection, and arming or cancelling a timer costs the same
//! with a million entries as with a thousand.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use synack_core::timers::WheelStats;
use synack_core::wire::{self, IpInfo, Packet, TcpFlags, TcpOptions, TcpSegment};
use synack_core::*;

const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const PORT: u16 = 80;

/// A server stack and a scripted peer with many addresses (10.1.x.x:port).
struct Bench {
    st: Stack,
    now: Instant,
    pkt: Vec<u8>,
    out: Vec<u8>,
    listener: Fd,
}

fn peer(i: u32) -> SocketAddr {
    let ip = Ipv4Addr::new(10, 1 + (i / 4_000_000) as u8, (i / 60_000 % 256) as u8, 1);
    // Ports 1024.. for each address; 60,000 per address.
    SocketAddr::new(IpAddr::V4(ip), 1024 + (i % 60_000) as u16)
}

impl Bench {
    fn new() -> Bench {
        let mut cfg = Config::seed();
        cfg.max_sockets = 2_000_000;
        cfg.tcp_max_tw_buckets = 200_000;
        cfg.tcp_max_syn_backlog = 1 << 20;
        cfg.somaxconn = 1 << 20;
        cfg.tcp_timestamps = 0;
        let mut st = Stack::new(cfg, &[SERVER]);
        let t = Instant::ZERO;
        let l = st.socket(t).unwrap();
        st.setsockopt(t, l, SockOpt::KeepAlive(true)).unwrap();
        st.bind(t, l, SocketAddr::new(SERVER, PORT)).unwrap();
        st.listen(t, l, 1 << 20).unwrap();
        Bench {
            st,
            now: t,
            pkt: Vec::with_capacity(128),
            out: Vec::with_capacity(2048),
            listener: l,
        }
    }

    fn inject(&mut self, from: SocketAddr, flags: TcpFlags, seq: u32, ack: u32) {
        let p = Packet {
            ip: IpInfo {
                src: from.ip(),
                dst: SERVER,
                ttl: 64,
            },
            tcp: TcpSegment {
                src_port: from.port(),
                dst_port: PORT,
                seq,
                ack,
                flags,
                window: 65535,
                urgent: 0,
                options: TcpOptions {
                    mss: flags.contains(TcpFlags::SYN).then_some(1460),
                    ..TcpOptions::default()
                },
                payload: &[],
            },
        };
        self.pkt.clear();
        wire::emit(&p, &mut self.pkt);
        self.st.handle_packet(self.now, &self.pkt);
    }

    /// Everything sent now; returns the last segment's (seq, ack).
    fn drain(&mut self) -> Option<(u32, u32)> {
        let mut last = None;
        while self.st.poll_transmit(self.now, &mut self.out) {
            let p = wire::parse(&self.out).expect("our packets parse");
            last = Some((p.tcp.seq, p.tcp.ack));
        }
        last
    }

    /// A full handshake from peer `i`; returns the accepted descriptor.
    fn connect(&mut self, i: u32) -> Fd {
        let from = peer(i);
        self.inject(from, TcpFlags::SYN, 1000, 0);
        let (isn, _) = self.drain().expect("SYN-ACK");
        self.inject(from, TcpFlags::ACK, 1001, isn.wrapping_add(1));
        let (fd, _) = self.st.accept(self.now, self.listener).expect("a child");
        fd
    }

    /// We close first; the peer ACKs and sends its FIN: our side enters TIME_WAIT.
    fn close_to_time_wait(&mut self, i: u32, fd: Fd) {
        let from = peer(i);
        self.st.close(self.now, fd).unwrap();
        let (fin_seq, _) = self.drain().expect("our FIN");
        self.inject(
            from,
            TcpFlags::ACK | TcpFlags::FIN,
            1001,
            fin_seq.wrapping_add(1),
        );
        self.drain();
    }

    fn stats(&self) -> WheelStats {
        self.st.timer_stats()
    }

    /// Run idle ticks of `step` for `n` steps, firing whatever is due.
    fn ticks(&mut self, step: Duration, n: u32) {
        for _ in 0..n {
            self.now += step;
            self.st.handle_timeout(self.now);
            self.drain();
        }
    }
}

/// (slots visited, entries cascaded, timers fired, timers armed, timers disarmed)
type Work = (u64, u64, u64, u64, u64);

fn delta(a: WheelStats, b: WheelStats) -> Work {
    (
        b.slots_visited - a.slots_visited,
        b.entries_cascaded - a.entries_cascaded,
        b.entries_popped - a.entries_popped,
        b.inserts - a.inserts,
        b.cancels - a.cancels,
    )
}

/// Build `conns` keepalive connections and `tws` TIME_WAIT entries, then measure.
fn world(conns: u32, tws: u32) -> (Bench, Vec<Fd>) {
    let mut b = Bench::new();
    let mut fds = Vec::with_capacity(conns as usize);
    for i in 0..conns + tws {
        let fd = b.connect(i);
        if i < conns {
            fds.push(fd);
        } else {
            b.close_to_time_wait(i, fd);
        }
    }
    let sizes = b.st.table_sizes();
    assert_eq!(sizes.connections, conns as usize);
    assert_eq!(sizes.time_wait, tws as usize);
    // One wheel entry per connection (its keepalive); TIME_WAIT records expire from
    // their own table's heap (`costs` checks they leave at 60 s).
    assert_eq!(sizes.timers, conns as usize);
    (b, fds)
}

/// Idle ticks and re-arms cost the same at both sizes: nothing scales with the
/// number of connections.
fn costs(conns: u32, tws: u32) -> (Work, Work) {
    let (mut b, fds) = world(conns, tws);
    // 50 idle seconds in 10 ms ticks: no keepalive (2 h) or TIME_WAIT (60 s) is due.
    let before = b.stats();
    b.ticks(Duration::from_millis(10), 5_000);
    let idle = delta(before, b.stats());
    assert_eq!(idle.2, 0, "nothing fired while idle");
    // 1000 connections send a byte that is never acknowledged: each moves its one
    // wheel entry from keepalive to the RTO (a cancel and an insert); the RTO (200 ms:
    // the handshake measured no delay) fires at 0.2, 0.6 and 1.4 s, re-armed each time.
    let before = b.stats();
    for &fd in fds.iter().take(1000) {
        b.st.write(b.now, fd, b"x").unwrap();
    }
    b.drain();
    b.ticks(Duration::from_millis(10), 150);
    let rearm = delta(before, b.stats());
    assert_eq!(rearm.2, 3 * 1000, "three RTOs each in 1.5 s");
    // The TIME_WAITs (entered at 0 s) leave when their 60 s are up, not before.
    b.ticks(Duration::from_millis(100), 80);
    assert_eq!(b.st.table_sizes().time_wait, tws as usize, "at 59.5 s");
    b.ticks(Duration::from_millis(100), 10);
    assert_eq!(b.st.table_sizes().time_wait, 0, "at 60.5 s");
    (idle, rearm)
}

#[test]
fn a_million_keepalive_connections_and_100k_time_waits_cost_nothing_while_idle() {
    let small = costs(1_000, 100);
    let big = costs(1_000_000, 100_000);
    let (idle_s, rearm_s) = small;
    let (idle_b, rearm_b) = big;
    eprintln!(
        "idle: {idle_b:?} (1.1M entries) vs {idle_s:?} (1.1k); re-arm: {rearm_b:?} vs {rearm_s:?}"
    );
    // Idle: the wheel visits slots as time passes (one per tick at most, plus a cascade
    // now and then); entries are only touched when their level's turn comes. With 1.1M
    // entries, 5,000 ticks may cascade at most the few entries whose slot came up.
    assert!(
        idle_b.0 <= idle_s.0 + 64,
        "idle slot visits: {idle_b:?} with 1.1M entries vs {idle_s:?} with 1.1k"
    );
    assert!(
        idle_b.0 <= 5_000 + 64,
        "at most one slot per tick: {idle_b:?}"
    );
    assert!(
        idle_b.1 < 1_000,
        "cascading touched {} of 1.1M entries in 50 idle seconds",
        idle_b.1
    );
    // Arming/cancelling: a bounded number of wheel operations per connection, and the
    // same work — operations, slots, cascades — at both sizes.
    assert!(
        rearm_b.3 <= 5 * 1000 && rearm_b.4 <= 5 * 1000,
        "{rearm_b:?}"
    );
    assert_eq!(
        rearm_b, rearm_s,
        "1000 connections re-arming: {rearm_b:?} with 1.1M entries vs {rearm_s:?} with 1.1k"
    );
}

#[test]
fn keepalive_fires_for_every_connection_exactly_once_per_interval() {
    // 10,000 idle connections: after tcp_keepalive_time each sends one probe; the
    // work is one pop per connection, not a scan per tick.
    let (mut b, _fds) = world(10_000, 0);
    let before = b.stats();
    b.now += Duration::from_secs(7200) + Duration::from_millis(1);
    b.st.handle_timeout(b.now);
    let mut probes = 0;
    while b.st.poll_transmit(b.now, &mut b.out) {
        probes += 1;
    }
    assert_eq!(probes, 10_000, "one keepalive probe per connection");
    let (_, _, popped, _, _) = delta(before, b.stats());
    assert_eq!(popped, 10_000);
}
