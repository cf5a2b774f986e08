//! Packets in both directions: scripted inbound lines become bytes with their options in
//! the order written; our stack's bytes become a [`Seen`] with its options in the order
//! sent, so that `<mss 1460,nop,nop,sackOK>` can be compared as written.
use crate::script::{IcmpLine, OptSpec};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A TCP segment to inject: every field already in live (absolute) numbers.
pub struct Inject<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub options: &'a [OptSpec],
    pub len: usize,
}

/// Internet checksum over `chunks`.
fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for c in chunks {
        for &b in c.iter() {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (s, d) => {
            p.extend_from_slice(&v6(s));
            p.extend_from_slice(&v6(d));
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
    }
    p
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// An IP header for `payload_len` bytes of protocol `proto`.
fn ip_header(src: IpAddr, dst: IpAddr, proto: u8, payload_len: usize) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
            h[2..4].copy_from_slice(&((20 + payload_len) as u16).to_be_bytes());
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = checksum(&[&h]);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h
        }
        (s, d) => {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(payload_len as u16).to_be_bytes());
            h.extend_from_slice(&[proto, 64]);
            h.extend_from_slice(&v6(s));
            h.extend_from_slice(&v6(d));
            h
        }
    }
}

/// Option bytes in the order written, padded with EOL to a multiple of four.
pub fn option_bytes(options: &[OptSpec]) -> Vec<u8> {
    let mut o = Vec::new();
    for opt in options {
        match opt {
            OptSpec::Nop => o.push(1),
            OptSpec::Eol => o.push(0),
            OptSpec::Mss(m) => {
                o.extend_from_slice(&[2, 4]);
                o.extend_from_slice(&m.to_be_bytes());
            }
            OptSpec::Wscale(w) => o.extend_from_slice(&[3, 3, *w]),
            OptSpec::SackOk => o.extend_from_slice(&[4, 2]),
            OptSpec::Sack(blocks) => {
                o.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                for (l, r) in blocks {
                    o.extend_from_slice(&l.to_be_bytes());
                    o.extend_from_slice(&r.to_be_bytes());
                }
            }
            OptSpec::Ts { val, ecr } => {
                o.extend_from_slice(&[8, 10]);
                o.extend_from_slice(&val.to_be_bytes());
                o.extend_from_slice(&ecr.to_be_bytes());
            }
            OptSpec::FastOpen { exp: false, cookie } => {
                o.extend_from_slice(&[34, (2 + cookie.len()) as u8]);
                o.extend_from_slice(cookie);
            }
            OptSpec::FastOpen { exp: true, cookie } => {
                o.extend_from_slice(&[254, (4 + cookie.len()) as u8, 0xf9, 0x89]);
                o.extend_from_slice(cookie);
            }
        }
    }
    while o.len() % 4 != 0 {
        o.push(0);
    }
    o
}

/// The bytes of a TCP segment (payload: zeros).
pub fn tcp_bytes(p: &Inject<'_>) -> Vec<u8> {
    let opts = option_bytes(p.options);
    let hlen = 20 + opts.len();
    let mut t = Vec::with_capacity(hlen + p.len);
    t.extend_from_slice(&p.src.port().to_be_bytes());
    t.extend_from_slice(&p.dst.port().to_be_bytes());
    t.extend_from_slice(&p.seq.to_be_bytes());
    t.extend_from_slice(&p.ack.to_be_bytes());
    t.push(((hlen / 4) as u8) << 4);
    t.push(p.flags);
    t.extend_from_slice(&p.win.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&opts);
    t.resize(hlen + p.len, 0);
    let c = checksum(&[&pseudo_header(p.src.ip(), p.dst.ip(), 6, t.len()), &t]);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    let mut out = ip_header(p.src.ip(), p.dst.ip(), 6, t.len());
    out.extend_from_slice(&t);
    out
}

/// An ICMP (or ICMPv6) error from the remote about a segment we sent on (local, remote)
/// starting at live sequence `seq`.
pub fn icmp_bytes(
    line: &IcmpLine,
    local: SocketAddr,
    remote: SocketAddr,
    seq: u32,
    quoted_len: usize,
) -> Result<Vec<u8>, String> {
    let v4 = local.is_ipv4();
    let code_of = |table: &[(&str, u8)]| -> Result<u8, String> {
        match &line.code {
            None => Ok(0),
            Some(c) => table
                .iter()
                .find(|(n, _)| n == c)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("unsupported: icmp code {c:?}")),
        }
    };
    let (ty, code) = match (v4, line.kind.as_str()) {
        (true, "unreachable") => (
            3,
            code_of(&[
                ("net_unreachable", 0),
                ("host_unreachable", 1),
                ("protocol_unreachable", 2),
                ("port_unreachable", 3),
                ("frag_needed", 4),
                ("source_route_failed", 5),
                ("net_unknown", 6),
                ("host_unknown", 7),
                ("source_host_isolated", 8),
                ("net_prohibited", 9),
                ("host_prohibited", 10),
                ("net_unreachable_for_tos", 11),
                ("host_unreachable_for_tos", 12),
                ("packet_filtered", 13),
            ])?,
        ),
        (true, "time_exceeded") => (11, code_of(&[("ttl_exceeded", 0), ("reassembly", 1)])?),
        (true, "source_quench") => (4, 0),
        (false, "unreachable") => (
            1,
            code_of(&[
                ("no_route", 0),
                ("admin_prohibited", 1),
                ("beyond_scope", 2),
                ("address_unreachable", 3),
                ("port_unreachable", 4),
            ])?,
        ),
        (false, "packet_too_big") => (2, 0),
        (false, "time_exceeded") => (3, code_of(&[("hop_limit_exceeded", 0), ("reassembly", 1)])?),
        (_, k) => {
            return Err(format!(
                "unsupported: icmp type {k:?} for this address family"
            ))
        }
    };
    // The quoted packet: our IP header and the first 8 bytes of our TCP header.
    let mut quoted = ip_header(local.ip(), remote.ip(), 6, 20 + quoted_len);
    quoted.extend_from_slice(&local.port().to_be_bytes());
    quoted.extend_from_slice(&remote.port().to_be_bytes());
    quoted.extend_from_slice(&seq.to_be_bytes());
    let mut icmp = vec![ty, code, 0, 0];
    let mtu = line.mtu.unwrap_or(0);
    if v4 {
        icmp.extend_from_slice(&[0, 0]);
        icmp.extend_from_slice(&(mtu as u16).to_be_bytes());
    } else {
        icmp.extend_from_slice(&mtu.to_be_bytes());
    }
    icmp.extend_from_slice(&quoted);
    let proto = if v4 { 1 } else { 58 };
    let c = if v4 {
        checksum(&[&icmp])
    } else {
        checksum(&[
            &pseudo_header(remote.ip(), local.ip(), 58, icmp.len()),
            &icmp,
        ])
    };
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut out = ip_header(remote.ip(), local.ip(), proto, icmp.len());
    out.extend_from_slice(&icmp);
    Ok(out)
}

/// A segment our stack sent, decoded, in live numbers.
#[derive(Clone, Debug)]
pub struct Seen {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub len: u32,
    /// Options in the order sent.
    pub options: Vec<OptSpec>,
}

/// Decode a packet our stack emitted (it is well formed: the wire crate wrote it).
pub fn decode(bytes: &[u8]) -> Option<Seen> {
    let p = synack_core::wire::parse(bytes).ok()?;
    let ip_len = if p.ip.src.is_ipv4() {
        usize::from(bytes[0] & 0x0f) * 4
    } else {
        40
    };
    let tcp = bytes.get(ip_len..)?;
    let doff = usize::from(tcp.get(12)? >> 4) * 4;
    let raw = tcp.get(20..doff)?;
    let mut options = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            0 => {
                options.push(OptSpec::Eol);
                break;
            }
            1 => {
                options.push(OptSpec::Nop);
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*raw.get(i + 1)?);
        let body = raw.get(i + 2..i + len.max(2))?;
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        options.push(match (raw[i], body.len()) {
            (2, 2) => OptSpec::Mss(u16::from_be_bytes([body[0], body[1]])),
            (3, 1) => OptSpec::Wscale(body[0]),
            (4, 0) => OptSpec::SackOk,
            (5, n) if n % 8 == 0 => OptSpec::Sack(
                body.chunks(8)
                    .map(|c| (be32(&c[..4]), be32(&c[4..])))
                    .collect(),
            ),
            (8, 8) => OptSpec::Ts {
                val: be32(body),
                ecr: be32(&body[4..]),
            },
            (34, _) => OptSpec::FastOpen {
                exp: false,
                cookie: body.to_vec(),
            },
            (254, n) if n >= 2 && body[..2] == [0xf9, 0x89] => OptSpec::FastOpen {
                exp: true,
                cookie: body[2..].to_vec(),
            },
            _ => return None,
        });
        i += len.max(2);
    }
    Some(Seen {
        src: SocketAddr::new(p.ip.src, p.tcp.src_port),
        dst: SocketAddr::new(p.ip.dst, p.tcp.dst_port),
        flags: p.tcp.flags.0,
        seq: p.tcp.seq,
        ack: p.tcp.ack,
        win: p.tcp.window,
        len: p.tcp.payload.len() as u32,
        options,
    })
}

/// Flags as packetdrill prints them (`S.`, `FP.`, `R`).
pub fn flags_str(f: u8) -> String {
    let mut s = String::new();
    for (bit, ch) in [
        (0x01, 'F'),
        (0x02, 'S'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
        (0x10, '.'),
    ] {
        if f & bit != 0 {
            s.push(ch);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

impl fmt::Display for OptSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptSpec::Nop => f.write_str("nop"),
            OptSpec::Eol => f.write_str("eol"),
            OptSpec::Mss(m) => write!(f, "mss {m}"),
            OptSpec::Wscale(w) => write!(f, "wscale {w}"),
            OptSpec::SackOk => f.write_str("sackOK"),
            OptSpec::Sack(b) => {
                f.write_str("sack")?;
                for (l, r) in b {
                    write!(f, " {l}:{r}")?;
                }
                Ok(())
            }
            OptSpec::Ts { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            OptSpec::FastOpen { exp, cookie } => {
                f.write_str(if *exp { "FOEXP" } else { "FO" })?;
                if !cookie.is_empty() {
                    f.write_str(" ")?;
                    for b in cookie {
                        write!(f, "{b:02x}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// `<a,b,c>`
pub fn options_str(o: &[OptSpec]) -> String {
    let items: Vec<String> = o.iter().map(|x| x.to_string()).collect();
    format!("<{}>", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_segments_parse_back_with_their_option_order() {
        let opts = [
            OptSpec::Mss(1000),
            OptSpec::SackOk,
            OptSpec::Nop,
            OptSpec::Nop,
            OptSpec::Nop,
            OptSpec::Wscale(7),
        ];
        let bytes = tcp_bytes(&Inject {
            src: "192.0.2.1:40000".parse().unwrap(),
            dst: "192.168.0.1:8080".parse().unwrap(),
            flags: 0x02,
            seq: 5,
            ack: 0,
            win: 32792,
            options: &opts,
            len: 10,
        });
        let seen = decode(&bytes).expect("valid");
        assert_eq!(seen.options, opts);
        assert_eq!((seen.seq, seen.len, seen.win), (5, 10, 32792));
        let v6 = tcp_bytes(&Inject {
            src: "[fd3d:fa7b:d17d::1]:40000".parse().unwrap(),
            dst: "[fd3d:a0b:17d6::1]:8080".parse().unwrap(),
            flags: 0x12,
            seq: 1,
            ack: 2,
            win: 1,
            options: &[OptSpec::Ts { val: 1, ecr: 2 }, OptSpec::Nop, OptSpec::Nop],
            len: 0,
        });
        assert_eq!(decode(&v6).expect("valid").ack, 2);
    }

    #[test]
    fn icmp_errors_we_build_are_the_ones_the_stack_reads() {
        use synack_core::wire::{parse_icmp, IcmpKind};
        let local: SocketAddr = "192.168.0.1:40001".parse().unwrap();
        let remote: SocketAddr = "192.0.2.1:8080".parse().unwrap();
        let line = |kind: &str, code: Option<&str>, mtu| IcmpLine {
            kind: kind.into(),
            code: code.map(str::to_string),
            mtu,
            quoted: None,
        };
        let b = icmp_bytes(
            &line("unreachable", Some("frag_needed"), Some(800)),
            local,
            remote,
            77,
            10,
        )
        .unwrap();
        let e = parse_icmp(&b).unwrap().expect("an error TCP acts on");
        assert_eq!((e.local, e.remote, e.seq), (local, remote, 77));
        assert_eq!(e.kind, IcmpKind::PacketTooBig { mtu: 800 });
        let b = icmp_bytes(
            &line("unreachable", Some("host_unreachable"), None),
            local,
            remote,
            1,
            0,
        )
        .unwrap();
        assert_eq!(
            parse_icmp(&b).unwrap().unwrap().kind,
            IcmpKind::Unreachable { code: 1 }
        );
        let l6: SocketAddr = "[fd3d:a0b:17d6::1]:40001".parse().unwrap();
        let r6: SocketAddr = "[fd3d:fa7b:d17d::1]:8080".parse().unwrap();
        let b = icmp_bytes(&line("packet_too_big", None, Some(1400)), l6, r6, 5, 0).unwrap();
        let e = parse_icmp(&b).unwrap().unwrap();
        assert_eq!(e.kind, IcmpKind::PacketTooBig { mtu: 1400 });
        assert_eq!((e.local, e.remote), (l6, r6));
        // A corrupted checksum is rejected, never mistaken for an error to act on.
        let mut bad = b.clone();
        bad[45] ^= 0xff;
        assert!(parse_icmp(&bad).is_err());
        // Truncations never panic.
        for n in 0..b.len() {
            let _ = parse_icmp(&b[..n]);
        }
    }
}
