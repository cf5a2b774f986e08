//! A corpus of malformed packets: each must be rejected with the exact error (and so the
//! exact reason and counter) Linux's receive path would count.
mod util;

use std::collections::HashSet;
use synack_wire::*;
use util::*;

fn base_v4() -> Vec<u8> {
    emit_vec(&Packet {
        ip: v4_ip(),
        tcp: segment(TcpFlags::ACK | TcpFlags::PSH, syn_options(true), b"payload"),
    })
}

fn base_v6() -> Vec<u8> {
    emit_vec(&Packet {
        ip: v6_ip(),
        tcp: segment(
            TcpFlags::ACK | TcpFlags::PSH,
            syn_options(false),
            b"payload",
        ),
    })
}

/// A v4 packet whose TCP options are replaced by `opts` (length must be a multiple of 4),
/// checksums fixed so option parsing is reached.
fn v4_with_options(opts: &[u8]) -> Vec<u8> {
    assert_eq!(opts.len() & 3, 0);
    let b = emit_vec(&Packet {
        ip: v4_ip(),
        tcp: segment(TcpFlags::SYN, TcpOptions::default(), &[]),
    });
    let mut v = b.clone();
    v.extend_from_slice(opts);
    v[32] = (((20 + opts.len()) / 4) as u8) << 4;
    let total = v.len() as u16;
    v[2..4].copy_from_slice(&total.to_be_bytes());
    fix_checksums(&mut v);
    v
}

fn v4(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = base_v4();
    edit(&mut b);
    b
}

fn v6(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = base_v6();
    edit(&mut b);
    b
}

fn set_total(b: &mut [u8], total: usize) {
    b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
}

fn corpus() -> Vec<(&'static str, Vec<u8>, ParseError)> {
    use ParseError::*;
    let dst_opts_past_end = v6(|b| {
        // Next header "destination options" whose 2-byte header says 16 bytes but only
        // the TCP segment (of which it claims the first bytes) follows... make it longer
        // than the whole payload.
        b[6] = 60;
        b[41] = 200;
    });
    let mut ext_one_byte = base_v6()[..40].to_vec();
    ext_one_byte.push(6);
    ext_one_byte[4..6].copy_from_slice(&1u16.to_be_bytes());
    ext_one_byte[6] = 43;
    vec![
        ("empty buffer", vec![], TooShort),
        ("19-byte IPv4", base_v4()[..19].to_vec(), TooShort),
        ("39-byte IPv6", base_v6()[..39].to_vec(), TooShort),
        (
            "v4 total length past buffer",
            v4(|b| {
                let n = b.len();
                set_total(b, n + 1);
                fix_ipv4_checksum(b);
            }),
            Truncated,
        ),
        (
            "v4 cut short",
            {
                let b = base_v4();
                b[..b.len() - 1].to_vec()
            },
            Truncated,
        ),
        (
            "v6 payload length past buffer",
            {
                let b = base_v6();
                b[..b.len() - 1].to_vec()
            },
            Truncated,
        ),
        ("version 5", v4(|b| b[0] = 0x55), BadIpVersion),
        ("version 0", vec![0x00; 60], BadIpVersion),
        ("version 15", vec![0xf5], BadIpVersion),
        (
            "IHL 4",
            v4(|b| {
                b[0] = 0x44;
                fix_ipv4_checksum(b)
            }),
            BadIpHeaderLength,
        ),
        ("IHL 0", v4(|b| b[0] = 0x40), BadIpHeaderLength),
        (
            "IHL past buffer",
            {
                let mut b = base_v4()[..40].to_vec();
                b[0] = 0x4f; // 60 bytes of header in a 40-byte buffer
                b
            },
            BadIpHeaderLength,
        ),
        (
            "total length below IHL",
            v4(|b| {
                set_total(b, 19);
                fix_ipv4_checksum(b)
            }),
            BadIpTotalLength,
        ),
        (
            "total length 0",
            v4(|b| {
                set_total(b, 0);
                fix_ipv4_checksum(b)
            }),
            BadIpTotalLength,
        ),
        (
            "TTL changed, checksum not",
            v4(|b| b[8] -= 1),
            BadIpChecksum,
        ),
        (
            "checksum zeroed",
            v4(|b| {
                b[10] = 0;
                b[11] = 0
            }),
            BadIpChecksum,
        ),
        (
            "v6 dest options past payload",
            dst_opts_past_end,
            BadIpv6ExtHeader,
        ),
        (
            "v6 routing header cut after 1 byte",
            ext_one_byte,
            BadIpv6ExtHeader,
        ),
        (
            "v4 more fragments",
            v4(|b| {
                b[6] |= 0x20;
                fix_ipv4_checksum(b)
            }),
            Fragment,
        ),
        (
            "v4 fragment offset 1",
            v4(|b| {
                b[7] = 1;
                fix_ipv4_checksum(b)
            }),
            Fragment,
        ),
        (
            "v4 last fragment",
            v4(|b| {
                b[6] = 0x1f;
                b[7] = 0xff;
                fix_ipv4_checksum(b)
            }),
            Fragment,
        ),
        ("v6 fragment header", v6(|b| b[6] = 44), Fragment),
        (
            "v4 UDP",
            v4(|b| {
                b[9] = 17;
                fix_ipv4_checksum(b)
            }),
            NotTcp,
        ),
        (
            "v4 ICMP",
            v4(|b| {
                b[9] = 1;
                fix_ipv4_checksum(b)
            }),
            NotTcp,
        ),
        ("v6 UDP", v6(|b| b[6] = 17), NotTcp),
        ("v6 no next header", v6(|b| b[6] = 59), NotTcp),
        ("v6 ESP", v6(|b| b[6] = 50), NotTcp),
        (
            "v4 19-byte TCP",
            v4(|b| {
                set_total(b, 39);
                fix_ipv4_checksum(b)
            }),
            TcpTruncated,
        ),
        (
            "v4 no TCP at all",
            v4(|b| {
                set_total(b, 20);
                fix_ipv4_checksum(b)
            }),
            TcpTruncated,
        ),
        (
            "v6 19-byte TCP",
            v6(|b| {
                b.truncate(59);
                b[4..6].copy_from_slice(&19u16.to_be_bytes())
            }),
            TcpTruncated,
        ),
        (
            "data offset 4",
            v4(|b| {
                b[32] = 0x40;
                fix_checksums(b)
            }),
            BadDataOffset,
        ),
        (
            "data offset 0",
            v4(|b| {
                b[32] = 0x00;
                fix_checksums(b)
            }),
            BadDataOffset,
        ),
        (
            "data offset past segment",
            {
                let mut b = emit_vec(&Packet {
                    ip: v4_ip(),
                    tcp: segment(TcpFlags::SYN, TcpOptions::default(), &[]),
                });
                b[32] = 0x60;
                fix_checksums(&mut b);
                b
            },
            BadDataOffset,
        ),
        (
            "v6 data offset 15 on a short segment",
            v6(|b| {
                b[52] = 0xf0;
                fix_checksums(b)
            }),
            BadDataOffset,
        ),
        (
            "payload byte flipped",
            v4(|b| {
                let n = b.len();
                b[n - 1] ^= 1
            }),
            BadTcpChecksum,
        ),
        (
            "v6 payload byte flipped",
            v6(|b| {
                let n = b.len();
                b[n - 1] ^= 0x80
            }),
            BadTcpChecksum,
        ),
        (
            "v6 source address changed",
            v6(|b| b[23] ^= 1),
            BadTcpChecksum,
        ),
        ("port changed", v4(|b| b[21] ^= 4), BadTcpChecksum),
        (
            "option length 0",
            v4_with_options(&[2, 0, 5, 0xb4]),
            BadOption,
        ),
        ("option length 1", v4_with_options(&[1, 1, 8, 1]), BadOption),
        (
            "kind without length byte",
            v4_with_options(&[1, 1, 1, 2]),
            BadOption,
        ),
        (
            "TS running past header",
            v4_with_options(&[1, 1, 8, 10, 0, 0, 0, 1]),
            BadOption,
        ),
        (
            "unknown kind running past header",
            v4_with_options(&[99, 40, 0, 0]),
            BadOption,
        ),
        (
            "SACK running past header",
            v4_with_options(&[5, 10, 0, 0, 0, 0, 0, 0]),
            BadOption,
        ),
    ]
}

#[test]
fn every_malformed_packet_is_rejected_with_its_reason() {
    let mut seen = HashSet::new();
    for (name, bytes, want) in corpus() {
        let got = parse(&bytes);
        assert_eq!(got, Err(want), "{name}");
        let e = got.unwrap_err();
        assert_eq!(e.reason(), want.reason(), "{name}");
        assert_eq!(e.to_string(), want.reason(), "{name}");
        seen.insert(want);
    }
    for e in ParseError::ALL {
        assert!(seen.contains(e), "no corpus entry for {e:?}");
    }
}

#[test]
fn corpus_bases_are_valid() {
    assert!(parse(&base_v4()).is_ok());
    assert!(parse(&base_v6()).is_ok());
    assert!(parse(&v4_with_options(&[2, 4, 5, 0xb4])).is_ok());
}

#[test]
fn reasons_are_stable_kebab_case_and_unique() {
    let expected = [
        (ParseError::TooShort, "too-short", "IpInHdrErrors"),
        (ParseError::Truncated, "truncated", "IpExtInTruncatedPkts"),
        (ParseError::BadIpVersion, "bad-ip-version", "IpInHdrErrors"),
        (
            ParseError::BadIpHeaderLength,
            "bad-ip-header-length",
            "IpInHdrErrors",
        ),
        (
            ParseError::BadIpTotalLength,
            "bad-ip-total-length",
            "IpInHdrErrors",
        ),
        (
            ParseError::BadIpChecksum,
            "bad-ip-checksum",
            "IpExtInCsumErrors",
        ),
        (
            ParseError::BadIpv6ExtHeader,
            "bad-ipv6-extension-header",
            "IpInHdrErrors",
        ),
        (ParseError::Fragment, "fragment", "IpReasmFails"),
        (ParseError::NotTcp, "not-tcp", "IpInUnknownProtos"),
        (ParseError::TcpTruncated, "tcp-truncated", "TcpInErrs"),
        (ParseError::BadDataOffset, "bad-data-offset", "TcpInErrs"),
        (
            ParseError::BadTcpChecksum,
            "bad-tcp-checksum",
            "TcpInCsumErrors",
        ),
        (ParseError::BadOption, "bad-option", "TcpInErrs"),
    ];
    assert_eq!(ParseError::ALL.len(), expected.len());
    let mut names = HashSet::new();
    for (e, reason, counter) in expected {
        assert_eq!(e.reason(), reason);
        assert_eq!(e.counter(), counter);
        assert_eq!(e.counters()[0], counter);
        assert!(names.insert(reason), "duplicate reason {reason}");
        assert!(reason
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }
    assert_eq!(
        ParseError::BadTcpChecksum.counters(),
        &["TcpInCsumErrors", "TcpInErrs"]
    );
    assert_eq!(
        ParseError::BadIpChecksum.counters(),
        &["IpExtInCsumErrors", "IpInHdrErrors"]
    );
}
