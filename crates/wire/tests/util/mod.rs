//! Helpers shared by the integration tests. The checksum code here is deliberately
//! written independently of the crate's (a plain RFC 1071 loop over u32) so the tests do
//! not validate the parser against itself.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack_wire::*;

/// RFC 1071 Internet checksum of a byte string (odd length padded with a zero byte).
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        s += (data[i] as u32) << 8 | data[i + 1] as u32;
        i += 2;
    }
    if i < data.len() {
        s += (data[i] as u32) << 8;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Recompute the IPv4 header checksum (header of `ihl*4` bytes) in place.
pub fn fix_ipv4_checksum(pkt: &mut [u8]) {
    let ihl = (pkt[0] & 0xf) as usize * 4;
    if ihl < 20 || ihl > pkt.len() {
        return;
    }
    pkt[10] = 0;
    pkt[11] = 0;
    let c = inet_checksum(&pkt[..ihl]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Recompute the TCP checksum in place, given where the TCP header starts and ends.
pub fn fix_tcp_checksum(pkt: &mut [u8], tcp_start: usize, tcp_end: usize, v6: bool) {
    if tcp_end > pkt.len() || tcp_start + 20 > tcp_end {
        return;
    }
    let len = tcp_end - tcp_start;
    let mut buf = Vec::new();
    if v6 {
        buf.extend_from_slice(&pkt[8..40]);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
        buf.extend_from_slice(&[0, 0, 0, 6]);
    } else {
        buf.extend_from_slice(&pkt[12..20]);
        buf.extend_from_slice(&[0, 6]);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    }
    pkt[tcp_start + 16] = 0;
    pkt[tcp_start + 17] = 0;
    buf.extend_from_slice(&pkt[tcp_start..tcp_end]);
    let c = inet_checksum(&buf);
    pkt[tcp_start + 16..tcp_start + 18].copy_from_slice(&c.to_be_bytes());
}

/// For a packet without IPv6 extension headers: recompute both checksums from the
/// length fields, wherever they now point (used after mutating header bytes).
pub fn fix_checksums(pkt: &mut [u8]) {
    match pkt.first().map(|b| b >> 4) {
        Some(4) if pkt.len() >= 20 => {
            let ihl = (pkt[0] & 0xf) as usize * 4;
            let total = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
            fix_ipv4_checksum(pkt);
            if ihl >= 20 && total <= pkt.len() && total >= ihl {
                fix_tcp_checksum(pkt, ihl, total, false);
            }
        }
        Some(6) if pkt.len() >= 40 => {
            let end = 40 + u16::from_be_bytes([pkt[4], pkt[5]]) as usize;
            fix_tcp_checksum(pkt, 40, end, true);
        }
        _ => {}
    }
}

/// Marsaglia's xorshift64: deterministic, dependency-free.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

pub fn v4_ip() -> IpInfo {
    IpInfo {
        src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        dst: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)),
        ttl: 64,
    }
}

pub fn v6_ip() -> IpInfo {
    IpInfo {
        src: IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()),
        dst: IpAddr::V6("2001:db8::2".parse::<Ipv6Addr>().unwrap()),
        ttl: 64,
    }
}

pub fn segment<'a>(flags: TcpFlags, options: TcpOptions, payload: &'a [u8]) -> TcpSegment<'a> {
    TcpSegment {
        src_port: 40000,
        dst_port: 8080,
        seq: 0x5a3c_1e77,
        ack: if flags.ack() { 0x0102_0304 } else { 0 },
        flags,
        window: 65535,
        urgent: 0,
        options,
        payload,
    }
}

/// Linux's default SYN options (profile linux): MSS 1460, SACK-permitted, timestamps,
/// window scale 7.
pub fn syn_options(ts: bool) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: ts.then_some(Timestamps { val: 1, ecr: 0 }),
        ..TcpOptions::default()
    }
}

pub fn emit_vec(p: &Packet<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    emit(p, &mut v);
    v
}
