//! packetdrill/tcpdump-style text for packets and options.
mod util;

use synack_wire::*;
use util::*;

fn show(ip: IpInfo, flags: TcpFlags, o: TcpOptions, payload: &[u8]) -> String {
    let mut t = segment(flags, o, payload);
    t.seq = 0;
    t.ack = 1;
    Packet { ip, tcp: t }.to_string()
}

#[test]
fn syn_with_timestamps() {
    let o = TcpOptions {
        timestamps: Some(Timestamps { val: 1, ecr: 0 }),
        ..syn_options(true)
    };
    assert_eq!(
        show(v4_ip(), TcpFlags::SYN, o, b""),
        "192.0.2.1:40000 > 192.168.0.1:8080 S 0:0(0) win 65535 \
         <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>"
    );
}

#[test]
fn syn_without_timestamps_shows_the_nops() {
    assert_eq!(
        show(v4_ip(), TcpFlags::SYN, syn_options(false), b""),
        "192.0.2.1:40000 > 192.168.0.1:8080 S 0:0(0) win 65535 \
         <mss 1460,nop,nop,sackOK,nop,wscale 7>"
    );
}

#[test]
fn syn_ack_v6_with_cookie() {
    let mut o = syn_options(false);
    o.fast_open = Some(FastOpenOption::with_cookie(
        FastOpenKind::Rfc7413,
        &[0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb],
    ));
    assert_eq!(
        show(v6_ip(), TcpFlags::SYN | TcpFlags::ACK, o, b""),
        "[2001:db8::1]:40000 > [2001:db8::2]:8080 S. 0:0(0) ack 1 win 65535 \
         <mss 1460,nop,nop,sackOK,nop,wscale 7,FO 3021b9d889017eeb,nop,nop>"
    );
}

#[test]
fn fast_open_requests_and_experimental() {
    let with = |fo| TcpOptions {
        fast_open: Some(fo),
        ..TcpOptions::default()
    };
    assert_eq!(
        with(FastOpenOption::request(FastOpenKind::Rfc7413)).to_string(),
        "FO,nop,nop"
    );
    assert_eq!(
        with(FastOpenOption::request(FastOpenKind::Experimental)).to_string(),
        "FOEXP"
    );
    assert_eq!(
        with(FastOpenOption::with_cookie(
            FastOpenKind::Experimental,
            &[0xab, 0xcd, 0xef, 0x01]
        ))
        .to_string(),
        "FOEXP abcdef01"
    );
}

#[test]
fn data_ack_with_sack_blocks() {
    let mut o = TcpOptions {
        timestamps: Some(Timestamps { val: 100, ecr: 99 }),
        ..TcpOptions::default()
    };
    o.set_sack(&[
        SackBlock {
            left: 1001,
            right: 2001,
        },
        SackBlock {
            left: 3001,
            right: 4001,
        },
    ]);
    assert_eq!(
        show(v4_ip(), TcpFlags::ACK | TcpFlags::PSH, o, b"0123456789"),
        "192.0.2.1:40000 > 192.168.0.1:8080 P. 0:10(10) ack 1 win 65535 \
         <nop,nop,TS val 100 ecr 99,nop,nop,sack 1001:2001 3001:4001>"
    );
}

#[test]
fn no_options_no_brackets_and_flags() {
    assert_eq!(
        show(v4_ip(), TcpFlags::RST, TcpOptions::default(), b""),
        "192.0.2.1:40000 > 192.168.0.1:8080 R 0:0(0) win 65535"
    );
    assert_eq!(
        show(
            v4_ip(),
            TcpFlags::FIN | TcpFlags::ACK,
            TcpOptions::default(),
            b""
        ),
        "192.0.2.1:40000 > 192.168.0.1:8080 F. 0:0(0) ack 1 win 65535"
    );
    let mut t = segment(TcpFlags::ACK | TcpFlags::URG, TcpOptions::default(), b"!");
    t.seq = u32::MAX;
    t.ack = 5;
    t.urgent = 1;
    assert_eq!(
        Packet {
            ip: v4_ip(),
            tcp: t
        }
        .to_string(),
        "192.0.2.1:40000 > 192.168.0.1:8080 U. 4294967295:0(1) ack 5 win 65535 urg 1"
    );
}

#[test]
fn display_is_what_goes_on_the_wire() {
    // A SYN whose options arrive in an unusual order (wscale, TS, sackOK, MSS, EOL):
    // the display shows the canonical layout, i.e. what our re-emission looks like.
    let base = emit_vec(&Packet {
        ip: v4_ip(),
        tcp: segment(TcpFlags::SYN, TcpOptions::default(), b""),
    });
    let mut v = base.clone();
    v.extend_from_slice(&[
        3, 3, 7, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 4, 2, 2, 4, 5, 0xb4, 0,
    ]);
    v[32] = 10 << 4;
    let total = v.len() as u16;
    v[2..4].copy_from_slice(&total.to_be_bytes());
    fix_checksums(&mut v);
    let q = parse(&v).unwrap();
    assert_eq!(
        q.to_string(),
        "192.0.2.1:40000 > 192.168.0.1:8080 S 1513889399:1513889399(0) win 65535 \
         <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>"
    );
    assert_eq!(q.tcp.options, syn_options(true));
}
