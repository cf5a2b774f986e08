//! Parse and emit whole IP packets carrying one TCP segment.
//!
//! `parse` runs the checks in the order Linux's receive path does (`ip_rcv_core()` /
//! `ipv6_rcv()`, then `tcp_v4_rcv()` / `tcp_v6_rcv()`, then `tcp_parse_options()`), so
//! the reported [`ParseError`] is the one the kernel would have counted. It only indexes
//! after a length check, and every loop advances by at least one byte, so it cannot
//! panic or spin on any input.
use crate::options::{fmt_options, layout_len, parse_options, write_options};
use crate::{
    IpInfo, Packet, ParseError, TcpFlags, TcpOptions, TcpSegment, IPPROTO_TCP, IPV4_HEADER_LEN,
    IPV6_HEADER_LEN, MAX_OPTIONS_LEN, TCP_HEADER_LEN,
};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

fn v4_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::from(be32(b, at))
}

fn v6_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    if let Some(src) = b.get(at..at + 16) {
        a.copy_from_slice(src);
    }
    Ipv6Addr::from(a)
}

/// RFC 1071 one's-complement sum of `data` added to `acc` (not yet folded).
/// The Internet checksum's sum (RFC 1071), 8 bytes at a time: adding 32-bit big-endian
/// words and folding later gives the same 16-bit one's-complement sum (2^16 ≡ 1 mod
/// 2^16 - 1), with a quarter of the additions. No overflow: a packet is at most 64 KiB.
fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut quads = data.chunks_exact(8);
    for q in &mut quads {
        let v = u64::from_be_bytes([q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]]);
        acc += (v >> 32) + (v & 0xFFFF_FFFF);
    }
    let mut words = quads.remainder().chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// Sum of the TCP pseudo-header (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6).
fn pseudo_sum(src: &IpAddr, dst: &IpAddr, tcp_len: usize) -> u64 {
    pseudo_sum_proto(src, dst, tcp_len, IPPROTO_TCP)
}

fn pseudo_sum_proto(src: &IpAddr, dst: &IpAddr, len: usize, proto: u8) -> u64 {
    let len = len as u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum(&d.octets(), sum(&s.octets(), 0)) + u64::from(proto) + len
        }
        _ => {
            let (s, d) = (v6_of(*src), v6_of(*dst));
            sum(&d.octets(), sum(&s.octets(), 0)) + (len >> 16) + (len & 0xFFFF) + u64::from(proto)
        }
    }
}

/// IP protocol numbers of ICMP and ICMPv6.
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

/// An ICMP error about a TCP segment we sent: what it says and which segment it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// Who sent the ICMP message.
    pub from: IpAddr,
    pub kind: IcmpKind,
    /// The quoted segment's addresses and ports: its source is us.
    pub local: std::net::SocketAddr,
    pub remote: std::net::SocketAddr,
    /// The quoted segment's sequence number.
    pub seq: u32,
}

/// The ICMP errors TCP acts on (Linux `tcp_v4_err` / `tcp_v6_err`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpKind {
    /// Destination unreachable (ICMPv4 type 3 but code 4; ICMPv6 type 1), with its code.
    Unreachable { code: u8 },
    /// The path MTU is smaller (ICMPv4 fragmentation needed, ICMPv6 packet too big).
    PacketTooBig { mtu: u32 },
    /// Time exceeded (ICMPv4 type 11, ICMPv6 type 3).
    TimeExceeded,
    /// Parameter problem (ICMPv4 type 12, ICMPv6 type 4).
    ParameterProblem,
}

/// Parse an ICMP or ICMPv6 error that quotes a TCP segment. `Ok(None)`: a valid ICMP
/// message TCP does not act on (echo, redirect, source quench, ...). Errors as [`parse`].
pub fn parse_icmp(bytes: &[u8]) -> Result<Option<IcmpError>, ParseError> {
    let first = bytes.first().ok_or(ParseError::TooShort)?;
    let (ip, proto, body) = match first >> 4 {
        4 => ipv4(bytes)?,
        6 => ipv6(bytes)?,
        _ => return Err(ParseError::BadIpVersion),
    };
    let v4 = ip.src.is_ipv4();
    if proto != if v4 { IPPROTO_ICMP } else { IPPROTO_ICMPV6 } {
        return Err(ParseError::NotTcp);
    }
    if body.len() < 8 {
        return Err(ParseError::TcpTruncated);
    }
    let acc = if v4 {
        sum(body, 0)
    } else {
        sum(
            body,
            pseudo_sum_proto(&ip.src, &ip.dst, body.len(), IPPROTO_ICMPV6),
        )
    };
    if fold(acc) != 0xFFFF {
        return Err(ParseError::BadTcpChecksum);
    }
    let (ty, code) = (body[0], body[1]);
    let kind = match (v4, ty, code) {
        (true, 3, 4) => IcmpKind::PacketTooBig {
            mtu: u32::from(be16(body, 6)),
        },
        (true, 3, c) => IcmpKind::Unreachable { code: c },
        (true, 11, _) | (false, 3, _) => IcmpKind::TimeExceeded,
        (true, 12, _) | (false, 4, _) => IcmpKind::ParameterProblem,
        (false, 1, c) => IcmpKind::Unreachable { code: c },
        (false, 2, _) => IcmpKind::PacketTooBig {
            mtu: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
        },
        _ => return Ok(None),
    };
    // The quoted packet: our IP header and at least 8 bytes of our TCP header.
    let quoted = &body[8..];
    let (qip, qproto, qtcp) = match quoted.first().map(|b| b >> 4) {
        Some(4) if v4 => quoted_ipv4(quoted)?,
        Some(6) if !v4 => quoted_ipv6(quoted)?,
        _ => return Err(ParseError::TooShort),
    };
    if qproto != IPPROTO_TCP || qtcp.len() < 8 {
        return Ok(None);
    }
    Ok(Some(IcmpError {
        from: ip.src,
        kind,
        local: std::net::SocketAddr::new(qip.0, be16(qtcp, 0)),
        remote: std::net::SocketAddr::new(qip.1, be16(qtcp, 2)),
        seq: u32::from_be_bytes([qtcp[4], qtcp[5], qtcp[6], qtcp[7]]),
    }))
}

/// A quoted packet: (source, destination), transport protocol, transport bytes.
type Quoted<'a> = ((IpAddr, IpAddr), u8, &'a [u8]);

/// The header of a quoted IPv4 packet (it may be truncated: no length checks beyond it).
fn quoted_ipv4(b: &[u8]) -> Result<Quoted<'_>, ParseError> {
    let ihl = usize::from(b[0] & 0x0F) * 4;
    if ihl < IPV4_HEADER_LEN || ihl > b.len() {
        return Err(ParseError::BadIpHeaderLength);
    }
    Ok((
        (IpAddr::V4(v4_at(b, 12)), IpAddr::V4(v4_at(b, 16))),
        b[9],
        &b[ihl..],
    ))
}

fn quoted_ipv6(b: &[u8]) -> Result<Quoted<'_>, ParseError> {
    if b.len() < IPV6_HEADER_LEN {
        return Err(ParseError::TooShort);
    }
    Ok((
        (IpAddr::V6(v6_at(b, 8)), IpAddr::V6(v6_at(b, 24))),
        b[6],
        &b[IPV6_HEADER_LEN..],
    ))
}

/// Parse one IPv4 or IPv6 packet carrying TCP. Never panics; see [`ParseError`] for what
/// is rejected and why.
///
/// Bytes after the IP total length (IPv4) or payload length (IPv6) are ignored, as Linux
/// trims them. IPv4 options and IPv6 extension headers are skipped, not kept.
pub fn parse(bytes: &[u8]) -> Result<Packet<'_>, ParseError> {
    let first = bytes.first().ok_or(ParseError::TooShort)?;
    let (ip, proto, segment) = match first >> 4 {
        4 => ipv4(bytes)?,
        6 => ipv6(bytes)?,
        _ => return Err(ParseError::BadIpVersion),
    };
    if proto != IPPROTO_TCP {
        return Err(ParseError::NotTcp);
    }
    let tcp = parse_tcp(&ip, segment)?;
    Ok(Packet { ip, tcp })
}

/// The IPv4 header checked; returns the transport protocol and its bytes.
fn ipv4(b: &[u8]) -> Result<(IpInfo, u8, &[u8]), ParseError> {
    if b.len() < IPV4_HEADER_LEN {
        return Err(ParseError::TooShort);
    }
    let ihl = usize::from(b[0] & 0x0F) * 4;
    if ihl < IPV4_HEADER_LEN || ihl > b.len() {
        return Err(ParseError::BadIpHeaderLength);
    }
    if fold(sum(&b[..ihl], 0)) != 0xFFFF {
        return Err(ParseError::BadIpChecksum);
    }
    let total = usize::from(be16(b, 2));
    if total > b.len() {
        return Err(ParseError::Truncated);
    }
    if total < ihl {
        return Err(ParseError::BadIpTotalLength);
    }
    // MF (0x2000) or a non-zero fragment offset (low 13 bits).
    if be16(b, 6) & 0x3FFF != 0 {
        return Err(ParseError::Fragment);
    }
    let ip = IpInfo {
        src: IpAddr::V4(v4_at(b, 12)),
        dst: IpAddr::V4(v4_at(b, 16)),
        ttl: b[8],
    };
    Ok((ip, b[9], &b[ihl..total]))
}

const NEXTHDR_HOP: u8 = 0;
const NEXTHDR_ROUTING: u8 = 43;
const NEXTHDR_FRAGMENT: u8 = 44;
const NEXTHDR_DEST: u8 = 60;

/// The IPv6 header and extension headers checked; returns the final next header.
fn ipv6(b: &[u8]) -> Result<(IpInfo, u8, &[u8]), ParseError> {
    if b.len() < IPV6_HEADER_LEN {
        return Err(ParseError::TooShort);
    }
    let end = IPV6_HEADER_LEN + usize::from(be16(b, 4));
    if end > b.len() {
        return Err(ParseError::Truncated);
    }
    let mut next = b[6];
    let mut off = IPV6_HEADER_LEN;
    // Each extension header is at least 8 bytes, so this loop ends within 8192 rounds.
    loop {
        match next {
            IPPROTO_TCP | IPPROTO_ICMPV6 => break,
            // Hop-by-hop is only valid right after the fixed header; elsewhere Linux has
            // no handler for it and counts an unknown protocol.
            NEXTHDR_HOP if off == IPV6_HEADER_LEN => {}
            NEXTHDR_ROUTING | NEXTHDR_DEST => {}
            NEXTHDR_FRAGMENT => return Err(ParseError::Fragment),
            _ => return Err(ParseError::NotTcp),
        }
        let hdr = b.get(off..off + 2).filter(|_| off + 2 <= end);
        let Some(&[nh, units]) = hdr else {
            return Err(ParseError::BadIpv6ExtHeader);
        };
        let len = (usize::from(units) + 1) * 8;
        if off + len > end {
            return Err(ParseError::BadIpv6ExtHeader);
        }
        next = nh;
        off += len;
    }
    let ip = IpInfo {
        src: IpAddr::V6(v6_at(b, 8)),
        dst: IpAddr::V6(v6_at(b, 24)),
        ttl: b[7],
    };
    Ok((ip, next, &b[off..end]))
}

fn parse_tcp<'a>(ip: &IpInfo, seg: &'a [u8]) -> Result<TcpSegment<'a>, ParseError> {
    if seg.len() < TCP_HEADER_LEN {
        return Err(ParseError::TcpTruncated);
    }
    let doff = usize::from(seg[12] >> 4) * 4;
    if doff < TCP_HEADER_LEN || doff > seg.len() {
        return Err(ParseError::BadDataOffset);
    }
    if fold(sum(seg, pseudo_sum(&ip.src, &ip.dst, seg.len()))) != 0xFFFF {
        return Err(ParseError::BadTcpChecksum);
    }
    let options = parse_options(&seg[TCP_HEADER_LEN..doff])?;
    Ok(TcpSegment {
        src_port: be16(seg, 0),
        dst_port: be16(seg, 2),
        seq: be32(seg, 4),
        ack: be32(seg, 8),
        flags: TcpFlags(seg[13]),
        window: be16(seg, 14),
        urgent: be16(seg, 18),
        options,
        payload: &seg[doff..],
    })
}

fn v4_of(a: IpAddr) -> Ipv4Addr {
    match a {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => a.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

fn v6_of(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

/// Everything `emit` decides before writing, shared with `emitted_len` so the two can
/// never disagree.
struct Layout {
    v6: bool,
    ip_len: usize,
    options: TcpOptions,
    tcp_header_len: usize,
    payload_len: usize,
}

impl Layout {
    fn of(p: &Packet<'_>) -> Layout {
        let v6 = p.ip.src.is_ipv6();
        let ip_len = if v6 { IPV6_HEADER_LEN } else { IPV4_HEADER_LEN };
        let options = p.tcp.options.canonical();
        let tcp_header_len = TCP_HEADER_LEN + layout_len(&options).min(MAX_OPTIONS_LEN);
        // IPv4 total length and IPv6 payload length are 16 bits.
        let room = if v6 { 0xFFFF } else { 0xFFFF - ip_len } - tcp_header_len;
        Layout {
            v6,
            ip_len,
            options,
            tcp_header_len,
            payload_len: p.tcp.payload.len().min(room),
        }
    }
    fn total(&self) -> usize {
        self.ip_len + self.tcp_header_len + self.payload_len
    }
}

/// The exact number of bytes [`emit`] writes for `p`.
pub fn emitted_len(p: &Packet<'_>) -> usize {
    Layout::of(p).total()
}

/// Write `p` as an IP packet into `out` (cleared first). Allocates nothing when `out`
/// already has [`emitted_len`] bytes of capacity.
///
/// - IPv4: 20-byte header, no options, ID 0, DF set, TTL `ip.ttl`, header checksum.
///   (Linux sets ID 0 on DF packets of a connected socket too.)
/// - IPv6: traffic class 0, flow label 0, hop limit `ip.ttl`, no extension headers.
/// - TCP: options in `tcp_options_write()`'s order and padding, as
///   [`TcpOptions::canonical`] describes them (SACK blocks trimmed to fit 40 bytes);
///   the reserved bits are zero; checksum over the pseudo-header.
///
/// Caller bugs are handled without panicking, not reported: the address family follows
/// `ip.src`, and a `dst` of the other family is converted (IPv4-mapped `::ffff:a.b.c.d`
/// to and from IPv4; any other IPv6 address becomes `0.0.0.0`); a payload too long for
/// the 16-bit IP length field is cut to what fits.
pub fn emit(p: &Packet<'_>, out: &mut Vec<u8>) {
    let l = Layout::of(p);
    out.clear();
    out.resize(l.total(), 0);
    let (ip_hdr, seg) = out.split_at_mut(l.ip_len);
    let tcp_len = seg.len();

    let (src, dst) = if l.v6 {
        let (s, d) = (v6_of(p.ip.src), v6_of(p.ip.dst));
        ip_hdr[0] = 0x60;
        ip_hdr[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        ip_hdr[6] = IPPROTO_TCP;
        ip_hdr[7] = p.ip.ttl;
        ip_hdr[8..24].copy_from_slice(&s.octets());
        ip_hdr[24..40].copy_from_slice(&d.octets());
        (IpAddr::V6(s), IpAddr::V6(d))
    } else {
        let (s, d) = (v4_of(p.ip.src), v4_of(p.ip.dst));
        ip_hdr[0] = 0x45;
        ip_hdr[2..4].copy_from_slice(&(l.total() as u16).to_be_bytes());
        ip_hdr[6] = 0x40; // DF
        ip_hdr[8] = p.ip.ttl;
        ip_hdr[9] = IPPROTO_TCP;
        ip_hdr[12..16].copy_from_slice(&s.octets());
        ip_hdr[16..20].copy_from_slice(&d.octets());
        let csum = !fold(sum(ip_hdr, 0));
        ip_hdr[10..12].copy_from_slice(&csum.to_be_bytes());
        (IpAddr::V4(s), IpAddr::V4(d))
    };

    let t = &p.tcp;
    seg[0..2].copy_from_slice(&t.src_port.to_be_bytes());
    seg[2..4].copy_from_slice(&t.dst_port.to_be_bytes());
    seg[4..8].copy_from_slice(&t.seq.to_be_bytes());
    seg[8..12].copy_from_slice(&t.ack.to_be_bytes());
    seg[12] = ((l.tcp_header_len / 4) as u8) << 4;
    seg[13] = t.flags.0;
    seg[14..16].copy_from_slice(&t.window.to_be_bytes());
    seg[18..20].copy_from_slice(&t.urgent.to_be_bytes());
    write_options(&l.options, &mut seg[TCP_HEADER_LEN..l.tcp_header_len]);
    seg[l.tcp_header_len..].copy_from_slice(&t.payload[..l.payload_len]);
    let csum = !fold(sum(seg, pseudo_sum(&src, &dst, tcp_len)));
    seg[16..18].copy_from_slice(&csum.to_be_bytes());
}

/// packetdrill/tcpdump style, e.g.
/// `192.0.2.1:40000 > 192.168.0.1:8080 S 0:0(0) win 65535 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>`.
/// IPv6 addresses are bracketed (`[2001:db8::1]:40000`). Sequence numbers are absolute.
/// Options are printed as [`emit`] would write them (canonical order, NOPs included).
impl fmt::Display for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tcp;
        write!(
            f,
            "{} > {} {}",
            SocketAddr::new(self.ip.src, t.src_port),
            SocketAddr::new(self.ip.dst, t.dst_port),
            t
        )
    }
}

/// The TCP part of [`Packet`]'s display: `S. 0:0(0) ack 1 win 65535 <...>`.
impl fmt::Display for TcpSegment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.payload.len();
        let end = self.seq.wrapping_add(len as u32);
        write!(f, "{} {}:{}({})", self.flags, self.seq, end, len)?;
        if self.flags.ack() {
            write!(f, " ack {}", self.ack)?;
        }
        write!(f, " win {}", self.window)?;
        if self.flags.contains(TcpFlags::URG) {
            write!(f, " urg {}", self.urgent)?;
        }
        if self.options.encoded_len() > 0 {
            write!(f, " <{}>", self.options)?;
        }
        Ok(())
    }
}

/// packetdrill's option list without the angle brackets, in emit order:
/// `mss 1460,nop,nop,sackOK,nop,wscale 7`, `FO 0011223344556677`, `FOEXP` (request).
impl fmt::Display for TcpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.canonical();
        let mut buf = [0u8; MAX_OPTIONS_LEN];
        let n = layout_len(&c).min(MAX_OPTIONS_LEN);
        write_options(&c, &mut buf[..n]);
        fmt_options(&buf[..n], f)
    }
}

#[cfg(test)]
mod tests {
    use super::{fold, sum};

    /// RFC 1071 word by word, the definition `sum` must agree with.
    fn by_words(data: &[u8], mut acc: u64) -> u64 {
        for w in data.chunks(2) {
            acc += u64::from(w[0]) << 8 | u64::from(*w.get(1).unwrap_or(&0));
        }
        acc
    }

    #[test]
    fn eight_bytes_at_a_time_is_the_same_checksum() {
        let mut x = 0x9E37_79B9u32;
        let data: Vec<u8> = (0..70_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for len in (0..64).chain([1459, 1460, 1461, 65_535]) {
            for start in [0, 1, 3] {
                let d = &data[start..start + len];
                assert_eq!(fold(sum(d, 7)), fold(by_words(d, 7)), "len {len}");
            }
        }
        assert_eq!(fold(sum(&[0xFF; 4000], 0)), 0xFFFF);
        assert_eq!(fold(sum(&[], 0)), 0);
    }
}
