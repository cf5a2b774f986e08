//! SYN 攻击: spoofed SYNs fill the SYN queue; SYN cookies keep the door open.
use super::*;
use crate::LinkConfig;
use synack_core::wire::{self, IpInfo, Packet, TcpFlags, TcpOptions, TcpSegment};
use synack_core::Counter;

/// SYNs per second from the attacker.
const RATE: u64 = 5_000;
/// How long the flood lasts.
const FLOOD: f64 = 70.0;
/// Real clients connecting during the flood.
const CLIENTS: usize = 20;

pub const FLOOD_NO_COOKIES: Scenario = Scenario {
    name: "syn-flood",
    section: "三次握手在内核中的流程 / SYN 攻击",
    summary: "An attacker (25 ms away) sends 5,000 spoofed SYNs per second for 70 s at the \
              server's listener (backlog 128) from random sources that never answer, while 20 \
              real clients connect. tcp_syncookies = 0: the SYN queue fills to its bound and \
              stays full for as long as the flood lasts (forged requests are pruned and \
              replaced at once); every SYN of the real clients is dropped, they retry with \
              backoff and connect() fails with ETIMEDOUT at 63 s.",
    run: |w| story(w, 0).unwrap_or_else(Verdict::fail),
};

pub const FLOOD_COOKIES: Scenario = Scenario {
    name: "syn-flood-cookies",
    section: "三次握手在内核中的流程 / SYN 攻击",
    summary: "The same flood (25 ms one way) with tcp_syncookies = 1: once the SYN queue is \
              full, the server answers every SYN with a SYN cookie and stores nothing; the real \
              clients' ACKs carry their cookies back and every one of them connects in one RTT.",
    run: |w| story(w, 1).unwrap_or_else(Verdict::fail),
};

/// A SYN from a spoofed source.
fn spoofed_syn(src: SocketAddr, dst: SocketAddr, seq: u32, out: &mut Vec<u8>) {
    let tcp = TcpSegment {
        src_port: src.port(),
        dst_port: dst.port(),
        seq,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 64240,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            ..Default::default()
        },
        payload: &[],
    };
    wire::emit(
        &Packet {
            ip: IpInfo {
                src: src.ip(),
                dst: dst.ip(),
                ttl: 64,
            },
            tcp,
        },
        out,
    );
}

fn story(w: &mut World, cookies: u8) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    w.sim
        .call(s, |st, _| st.config_mut().tcp_syncookies = cookies);
    let attacker = w.sim.add_host(
        "attacker",
        w.config.clone(),
        &[IpAddr::V4(Ipv4Addr::new(10, 0, 0, 66))],
    );
    let link = LinkConfig::with_latency(LATENCY);
    w.sim.add_link(attacker, s, link, link);
    let l = w.listen(128)?;
    let target = w.server_addr();
    let mut x = w.sim.seed() ^ 0x9E37_79B9_7F4A_7C15 | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let total = (RATE as f64 * FLOOD) as u64;
    let mut fds = Vec::new();
    let mut buf = Vec::new();
    let mut queue_peak = 0;
    for k in 0..total {
        let t = Instant::from_micros(k * 1_000_000 / RATE);
        w.sim.run_until(t);
        let client_t = at(0.1 + 0.015 * fds.len() as f64);
        if fds.len() < CLIENTS && t >= client_t {
            fds.push(w.connect()?);
        }
        let r = rnd();
        // 198.18.0.0/15 (benchmarking range): addresses no host owns.
        let src = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(
                198,
                18 + (r >> 63) as u8,
                (r >> 8) as u8,
                r as u8,
            )),
            1024 + (r >> 16) as u16 % 60000,
        );
        spoofed_syn(src, target, (r >> 32) as u32, &mut buf);
        w.sim.inject(attacker, &buf);
        queue_peak = queue_peak.max(w.sim.stack(s).table_sizes().requests);
    }
    let after_flood = w.sim.stack(s).table_sizes();
    // Long enough for connect() to give up in both profiles (63 s seed, 131 s linux).
    w.run_until(140.0);
    let mut connected = 0;
    let mut timed_out = 0;
    for fd in &fds {
        match w.so_error(c, *fd) {
            Some(Errno::ETIMEDOUT) => timed_out += 1,
            Some(_) => {}
            None if w.sim.stack(c).state(*fd) == Ok(TcpState::Established) => connected += 1,
            None => {}
        }
    }
    // Let the application take what arrived.
    let mut accepted = 0;
    while w.sim.call(s, |st, now| st.accept(now, l)).is_ok() {
        accepted += 1;
    }
    let k = w.sim.stack(s).counters();
    let (sent, recv, full_drop, drops) = (
        k.get(Counter::SyncookiesSent),
        k.get(Counter::SyncookiesRecv),
        k.get(Counter::TcpReqQFullDrop),
        k.get(Counter::ListenDrops),
    );
    let limit = 256; // seed: min(128, somaxconn 128) * 2; linux: 128, full beyond it
    let bounded = queue_peak <= limit + 1;
    let line = format!(
        "{total} spoofed SYNs; SYN queue peak {queue_peak} ({} bytes of requests after the flood); \
         real clients: {connected} of {CLIENTS} connected, {timed_out} timed out, {accepted} accepted; \
         SyncookiesSent {sent}, SyncookiesRecv {recv}, TCPReqQFullDrop {full_drop}, ListenDrops {drops}",
        after_flood.request_bytes,
    );
    let syns = w.sent(c, Match::Syn).len();
    let est = w.transitions(c, Some(TcpState::SynSent), TcpState::Established);
    let slowest = est.iter().max().copied();
    let line = format!(
        "{line}; the clients sent {syns} SYNs for 20 connections, the last connected at {} s",
        slowest.map(secs).unwrap_or_else(|| "-".into())
    );
    let pass = bounded
        && if cookies == 0 {
            // The document's story: the flood keeps the queue full, no client gets in.
            sent == 0 && syns > CLIENTS && full_drop > 0 && timed_out == CLIENTS
        } else {
            connected == CLIENTS && accepted == CLIENTS && recv >= CLIENTS as u64
        };
    Ok(Verdict::new(pass, line))
}
