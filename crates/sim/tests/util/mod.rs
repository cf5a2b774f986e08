//! Hand-made IPv4 + TCP packets and a two-host network to carry them, so link behaviour is
//! tested on its own, independent of what the stacks do.
#![allow(dead_code)]
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use synack_core::{Config, Instant};
use synack_sim::{HostId, LinkConfig, LinkId, Sim, SimEventKind};

pub const A: [u8; 4] = [10, 0, 0, 1];
pub const B: [u8; 4] = [10, 0, 0, 2];

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        acc += w as u32;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// An IPv4 packet carrying a TCP segment, checksums included.
#[allow(clippy::too_many_arguments)]
pub fn packet(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let tcp_len = 20 + payload.len();
    let total = 20 + tcp_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let c = fold(sum16(&p[..20], 0));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut p[20..];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t[20..].copy_from_slice(payload);
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp_len as u16).to_be_bytes());
    let c = fold(sum16(t, sum16(&pseudo, 0)));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    p
}

/// A segment from A to B with these flags and `seq`; an RST by default draws no answer
/// from B's stack, which keeps the far direction quiet.
pub fn a_to_b(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    packet(A, B, 1000, 2000, seq, 0, flags, payload)
}

pub struct Net {
    pub sim: Sim,
    pub a: HostId,
    pub b: HostId,
    pub link: LinkId,
}

/// Two hosts, A (10.0.0.1) and B (10.0.0.2), one link with `ab` from A to B.
pub fn net(seed: u64, ab: LinkConfig) -> Net {
    let mut sim = Sim::new(seed);
    let a = sim.add_host("a", Config::seed(), &[IpAddr::V4(Ipv4Addr::from(A))]);
    let b = sim.add_host("b", Config::seed(), &[IpAddr::V4(Ipv4Addr::from(B))]);
    let link = sim.add_link(a, b, ab, LinkConfig::with_latency(Duration::from_millis(1)));
    Net { sim, a, b, link }
}

impl Net {
    /// Send `bytes` from A at time `t`.
    pub fn send_at(&mut self, t: Instant, bytes: &[u8]) {
        self.sim.run_until(t);
        self.sim.inject(self.a, bytes);
    }

    /// (arrival, seq) of every packet from A delivered to B, in delivery order.
    pub fn arrivals(&self) -> Vec<(Instant, u32)> {
        self.sim
            .events_of(self.b)
            .filter_map(|e| match &e.kind {
                SimEventKind::Delivered { seg: Some(s) } if s.src.port() == 1000 => {
                    Some((e.at, s.seq))
                }
                _ => None,
            })
            .collect()
    }

    /// The seqs of A's packets the network dropped, with the reason as text.
    pub fn drops(&self) -> Vec<(u32, String)> {
        self.sim
            .events_of(self.a)
            .filter_map(|e| match &e.kind {
                SimEventKind::LinkDrop {
                    seg: Some(s),
                    reason,
                } => Some((s.seq, reason.to_string())),
                _ => None,
            })
            .collect()
    }
}

pub fn ms(x: u64) -> Instant {
    Instant::from_millis(x)
}

pub fn us(x: u64) -> Instant {
    Instant::from_micros(x)
}
