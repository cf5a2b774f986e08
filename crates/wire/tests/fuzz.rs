//! Deterministic fuzzing: random bytes and mutations of valid packets (raw, and with the
//! checksums repaired so the mutation reaches option parsing). `parse` must never panic,
//! and whatever parses must re-emit and re-parse to the same packet (options compared in
//! their canonical form).
mod util;

use std::collections::HashMap;
use synack_wire::*;
use util::*;

const ITERATIONS: usize = 200_000;

fn seeds() -> Vec<Vec<u8>> {
    let cookie = [1, 2, 3, 4, 5, 6, 7, 8];
    let mut full = syn_options(true);
    full.fast_open = Some(FastOpenOption::with_cookie(FastOpenKind::Rfc7413, &cookie));
    let mut sack = TcpOptions {
        timestamps: Some(Timestamps { val: 5, ecr: 6 }),
        ..TcpOptions::default()
    };
    sack.set_sack(&[
        SackBlock {
            left: 10,
            right: 20,
        },
        SackBlock {
            left: 30,
            right: 40,
        },
        SackBlock {
            left: 50,
            right: 60,
        },
    ]);
    let mut exp = syn_options(false);
    exp.fast_open = Some(FastOpenOption::request(FastOpenKind::Experimental));
    let mut out = Vec::new();
    for ip in [v4_ip(), v6_ip()] {
        for (flags, o, pl) in [
            (TcpFlags::SYN, syn_options(true), &b""[..]),
            (TcpFlags::SYN, syn_options(false), b""),
            (TcpFlags::SYN | TcpFlags::ACK, full, b"fast open data"),
            (TcpFlags::ACK, sack, b"x"),
            (TcpFlags::SYN, exp, b""),
            (TcpFlags::FIN | TcpFlags::ACK, TcpOptions::default(), b""),
            (TcpFlags::RST, TcpOptions::default(), b""),
        ] {
            out.push(emit_vec(&Packet {
                ip,
                tcp: segment(flags, o, pl),
            }));
        }
    }
    out
}

fn check(bytes: &[u8], stats: &mut HashMap<&'static str, usize>) {
    match parse(bytes) {
        Err(e) => {
            assert!(!e.counter().is_empty());
            *stats.entry(e.reason()).or_default() += 1;
        }
        Ok(p) => {
            *stats.entry("ok").or_default() += 1;
            let _ = p.to_string();
            let mut out = Vec::new();
            emit(&p, &mut out);
            assert_eq!(out.len(), emitted_len(&p));
            let q = parse(&out).unwrap_or_else(|e| panic!("re-parse failed: {e} for {bytes:02x?}"));
            let mut expected = p;
            expected.tcp.options = p.tcp.options.canonical();
            assert_eq!(q, expected, "input {bytes:02x?}");
            // Canonical form is a fixed point.
            let mut again = Vec::new();
            emit(&q, &mut again);
            assert_eq!(again, out);
        }
    }
}

#[test]
fn parse_never_panics_and_round_trips() {
    let seeds = seeds();
    for s in &seeds {
        assert!(parse(s).is_ok());
    }
    let mut rng = XorShift(0x5eed_cafe_f00d_0001);
    let mut stats = HashMap::new();
    let mut buf = Vec::with_capacity(256);
    for i in 0..ITERATIONS {
        buf.clear();
        match i % 5 {
            // Pure noise, with a plausible version nibble half the time.
            0 => {
                let n = rng.below(120);
                buf.extend((0..n).map(|_| rng.byte()));
                if n > 0 && rng.below(2) == 0 {
                    buf[0] = if rng.below(2) == 0 { 0x45 } else { 0x60 } | (buf[0] & 0x0f);
                }
            }
            // Bit flips on a valid packet, checksums left alone.
            1 => {
                buf.extend_from_slice(&seeds[rng.below(seeds.len())]);
                for _ in 0..1 + rng.below(4) {
                    let bit = rng.below(buf.len() * 8);
                    buf[bit / 8] ^= 1 << (bit % 8);
                }
            }
            // Bit flips, then checksums repaired: reaches TCP and option parsing.
            2 => {
                buf.extend_from_slice(&seeds[rng.below(seeds.len())]);
                for _ in 0..1 + rng.below(4) {
                    let bit = rng.below(buf.len() * 8);
                    buf[bit / 8] ^= 1 << (bit % 8);
                }
                fix_checksums(&mut buf);
            }
            // Random bytes written over the TCP header and options, checksums repaired.
            3 => {
                buf.extend_from_slice(&seeds[rng.below(seeds.len())]);
                let start = if buf[0] >> 4 == 4 { 20 } else { 40 };
                for _ in 0..1 + rng.below(6) {
                    let at = start + 12 + rng.below(buf.len() - start - 12);
                    buf[at] = match rng.below(4) {
                        0 => rng.below(3) as u8, // EOL, NOP, MSS kinds
                        1 => rng.below(12) as u8,
                        _ => rng.byte(),
                    };
                }
                fix_checksums(&mut buf);
            }
            // Truncation or extension.
            _ => {
                buf.extend_from_slice(&seeds[rng.below(seeds.len())]);
                if rng.below(2) == 0 {
                    let n = rng.below(buf.len() + 1);
                    buf.truncate(n);
                } else {
                    for _ in 0..rng.below(16) {
                        buf.push(rng.byte());
                    }
                }
                if rng.below(2) == 0 {
                    fix_checksums(&mut buf);
                }
            }
        }
        check(&buf, &mut stats);
    }
    eprintln!("fuzz outcome counts: {stats:?}");
    // The loop must actually exercise the deep paths, not only bounce off checksums.
    let ok = stats.get("ok").copied().unwrap_or(0);
    assert!(ok > ITERATIONS / 10, "only {ok} packets parsed: {stats:?}");
    for reason in [
        "too-short",
        "truncated",
        "bad-ip-version",
        "bad-ip-checksum",
        "bad-tcp-checksum",
        "bad-data-offset",
        "bad-option",
        "not-tcp",
        "fragment",
    ] {
        assert!(
            stats.get(reason).copied().unwrap_or(0) > 0,
            "{reason} never hit: {stats:?}"
        );
    }
}

#[test]
fn every_option_byte_string_parses_or_rejects_cleanly() {
    // Exhaustive over short option blocks: all 4-byte blocks with kinds from a small
    // alphabet and lengths 0..=5 (so every structural edge is covered).
    let kinds = [0u8, 1, 2, 3, 4, 5, 8, 34, 254, 99];
    let mut stats = HashMap::new();
    let base = emit_vec(&Packet {
        ip: v4_ip(),
        tcp: segment(TcpFlags::SYN, TcpOptions::default(), b""),
    });
    for &k0 in &kinds {
        for l0 in 0..=5u8 {
            for &k1 in &kinds {
                for l1 in 0..=5u8 {
                    let mut v = base.clone();
                    v.extend_from_slice(&[k0, l0, k1, l1]);
                    v[32] = 6 << 4;
                    let total = v.len() as u16;
                    v[2..4].copy_from_slice(&total.to_be_bytes());
                    fix_checksums(&mut v);
                    check(&v, &mut stats);
                }
            }
        }
    }
    assert!(stats["ok"] > 0 && stats["bad-option"] > 0, "{stats:?}");
}
