//! TCP options: parse like Linux's `tcp_parse_options()`, write like its
//! `tcp_options_write()` (net/ipv4/tcp_input.c and tcp_output.c).
//!
//! The writer is the single source of the canonical layout: [`crate::emit`] uses it, and
//! the `Display` of a packet formats the bytes it produces, so what a person reads is what
//! goes on the wire, NOPs included.
use crate::{
    FastOpenKind, FastOpenOption, ParseError, SackBlock, TcpOptions, Timestamps,
    FASTOPEN_EXP_MAGIC, MAX_OPTIONS_LEN, MAX_WINDOW_SCALE,
};
use std::fmt;

const EOL: u8 = 0;
const NOP: u8 = 1;
const MSS: u8 = 2;
const WSCALE: u8 = 3;
const SACK_PERM: u8 = 4;
const SACK: u8 = 5;
const TIMESTAMP: u8 = 8;
const FASTOPEN: u8 = 34;
const EXP: u8 = 254;

fn be16(b: &[u8]) -> u16 {
    match b {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

fn be32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// A Fast Open cookie as Linux's `tcp_parse_fastopen_option()` accepts it: empty (a
/// request) or 4..=16 bytes, and always even. Anything else is ignored.
fn fastopen(kind: FastOpenKind, cookie: &[u8]) -> Option<FastOpenOption> {
    let ok = cookie.is_empty() || ((4..=16).contains(&cookie.len()) && cookie.len() & 1 == 0);
    ok.then(|| FastOpenOption::with_cookie(kind, cookie))
}

/// Parse the option bytes of a TCP header (everything after the fixed 20 bytes).
///
/// Follows `tcp_parse_options()`: EOL ends parsing; a known kind with the wrong length
/// for that kind is skipped; a later occurrence of an option overrides an earlier one;
/// window scale above 14 is clamped to 14; MSS 0 is treated as absent. Unlike Linux,
/// which options count does not depend on the SYN flag or connection state here: the
/// core applies those rules (e.g. MSS/window scale/SACK-permitted only on SYN, Fast Open
/// only on SYN). A structurally broken option (length byte < 2, or running past the
/// header) is [`ParseError::BadOption`]; see its docs for how that differs from Linux.
pub(crate) fn parse_options(bytes: &[u8]) -> Result<TcpOptions, ParseError> {
    let mut o = TcpOptions::default();
    let mut i = 0usize;
    while let Some(&kind) = bytes.get(i) {
        match kind {
            EOL => break,
            NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = match bytes.get(i + 1) {
            Some(&l) => usize::from(l),
            None => return Err(ParseError::BadOption),
        };
        if len < 2 || len > bytes.len() - i {
            return Err(ParseError::BadOption);
        }
        let body = &bytes[i + 2..i + len];
        match (kind, body.len()) {
            (MSS, 2) => o.mss = Some(be16(body)).filter(|&m| m != 0),
            (WSCALE, 1) => o.window_scale = Some(body[0].min(MAX_WINDOW_SCALE)),
            (SACK_PERM, 0) => o.sack_permitted = true,
            (SACK, n) if n >= 8 && n & 7 == 0 => {
                // At most 4 blocks fit in 40 bytes of option space, so `n / 8 <= 4`.
                let mut blocks = [SackBlock::default(); 4];
                for (b, chunk) in blocks.iter_mut().zip(body.chunks_exact(8)) {
                    *b = SackBlock {
                        left: be32(chunk),
                        right: be32(&chunk[4..]),
                    };
                }
                o.sack_blocks = blocks;
                o.sack_len = (n / 8).min(4) as u8;
            }
            (TIMESTAMP, 8) => {
                o.timestamps = Some(Timestamps {
                    val: be32(body),
                    ecr: be32(&body[4..]),
                })
            }
            (FASTOPEN, _) => {
                if let Some(fo) = fastopen(FastOpenKind::Rfc7413, body) {
                    o.fast_open = Some(fo);
                }
            }
            (EXP, n) if n >= 2 && be16(body) == FASTOPEN_EXP_MAGIC => {
                if let Some(fo) = fastopen(FastOpenKind::Experimental, &body[2..]) {
                    o.fast_open = Some(fo);
                }
            }
            _ => {} // unknown kind, or known kind with a wrong length: skipped
        }
        i += len;
    }
    Ok(o)
}

/// Bytes a Fast Open option takes once padded (Linux pads `len % 4 == 2` with two NOPs;
/// we pad any remainder with NOPs so the header stays 32-bit aligned).
fn fastopen_space(fo: &FastOpenOption) -> usize {
    let base = match fo.kind {
        FastOpenKind::Rfc7413 => 2,
        FastOpenKind::Experimental => 4,
    };
    (base + fo.cookie().len()).div_ceil(4) * 4
}

/// Bytes the options take in `tcp_options_write()`'s layout (before any trimming).
pub(crate) fn layout_len(o: &TcpOptions) -> usize {
    let mut n = 0;
    if o.mss.is_some() {
        n += 4;
    }
    if o.timestamps.is_some() {
        n += 12; // SACK-permitted rides in the timestamps word
    } else if o.sack_permitted {
        n += 4;
    }
    if o.window_scale.is_some() {
        n += 4;
    }
    if !o.sack().is_empty() {
        n += 4 + 8 * o.sack().len();
    }
    if let Some(fo) = &o.fast_open {
        n += fastopen_space(fo);
    }
    n
}

/// See [`TcpOptions::canonical`].
pub(crate) fn canonical(o: &TcpOptions) -> TcpOptions {
    let mut c = TcpOptions {
        mss: o.mss.filter(|&m| m != 0),
        window_scale: o.window_scale.map(|w| w.min(MAX_WINDOW_SCALE)),
        sack_permitted: o.sack_permitted,
        timestamps: o.timestamps,
        sack_blocks: [SackBlock::default(); 4],
        sack_len: 0,
        fast_open: o.fast_open.and_then(|fo| fastopen(fo.kind, fo.cookie())),
    };
    let n = o.sack().len();
    c.sack_blocks[..n].copy_from_slice(o.sack());
    c.sack_len = n as u8;
    // Linux sizes SACK blocks to the space left (tcp_established_options()); the last
    // blocks are the least important (oldest), so they go first.
    while layout_len(&c) > MAX_OPTIONS_LEN && c.sack_len > 0 {
        c.sack_len -= 1;
        c.sack_blocks[usize::from(c.sack_len)] = SackBlock::default();
    }
    // Unreachable with a valid cookie (4 + 12 + 4 + 20 = 40), kept so a future option
    // can never make us write a data offset above 15.
    if layout_len(&c) > MAX_OPTIONS_LEN {
        c.fast_open = None;
    }
    c
}

/// Write already-canonical options into `out` (which must hold `layout_len(o)` bytes)
/// in `tcp_options_write()` order.
pub(crate) fn write_options(o: &TcpOptions, out: &mut [u8]) {
    let mut w = Writer { out, pos: 0 };
    if let Some(mss) = o.mss {
        w.put(&[MSS, 4]);
        w.put(&mss.to_be_bytes());
    }
    if let Some(ts) = o.timestamps {
        if o.sack_permitted {
            w.put(&[SACK_PERM, 2, TIMESTAMP, 10]);
        } else {
            w.put(&[NOP, NOP, TIMESTAMP, 10]);
        }
        w.put(&ts.val.to_be_bytes());
        w.put(&ts.ecr.to_be_bytes());
    } else if o.sack_permitted {
        w.put(&[NOP, NOP, SACK_PERM, 2]);
    }
    if let Some(ws) = o.window_scale {
        w.put(&[NOP, WSCALE, 3, ws]);
    }
    let sack = o.sack();
    if !sack.is_empty() {
        w.put(&[NOP, NOP, SACK, (2 + 8 * sack.len()) as u8]);
        for b in sack {
            w.put(&b.left.to_be_bytes());
            w.put(&b.right.to_be_bytes());
        }
    }
    if let Some(fo) = &o.fast_open {
        let cookie = fo.cookie();
        let start = w.pos;
        match fo.kind {
            FastOpenKind::Rfc7413 => w.put(&[FASTOPEN, (2 + cookie.len()) as u8]),
            FastOpenKind::Experimental => {
                w.put(&[EXP, (4 + cookie.len()) as u8]);
                w.put(&FASTOPEN_EXP_MAGIC.to_be_bytes());
            }
        }
        w.put(cookie);
        while (w.pos - start) & 3 != 0 {
            w.put(&[NOP]);
        }
    }
}

struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        // `out` is sized by `layout_len`, so this always fits; `get_mut` keeps a bug
        // there from turning into a panic.
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }
}

/// Format option bytes the way packetdrill writes them: `mss 1460,sackOK,TS val 1 ecr
/// 0,nop,wscale 7`. Works on any bytes (not only ours) and never panics.
pub(crate) fn fmt_options(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut i = 0;
    let mut first = true;
    while let Some(&kind) = bytes.get(i) {
        if !first {
            f.write_str(",")?;
        }
        first = false;
        match kind {
            EOL => return f.write_str("eol"),
            NOP => {
                f.write_str("nop")?;
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(bytes.get(i + 1).copied().unwrap_or(0));
        if len < 2 || len > bytes.len() - i {
            return write!(f, "bad option {kind}");
        }
        let body = &bytes[i + 2..i + len];
        match (kind, body.len()) {
            (MSS, 2) => write!(f, "mss {}", be16(body))?,
            (WSCALE, 1) => write!(f, "wscale {}", body[0])?,
            (SACK_PERM, 0) => f.write_str("sackOK")?,
            (SACK, _) => {
                f.write_str("sack")?;
                for c in body.chunks_exact(8) {
                    write!(f, " {}:{}", be32(c), be32(&c[4..]))?;
                }
            }
            (TIMESTAMP, 8) => write!(f, "TS val {} ecr {}", be32(body), be32(&body[4..]))?,
            (FASTOPEN, _) => fmt_cookie(f, "FO", body)?,
            (EXP, n) if n >= 2 && be16(body) == FASTOPEN_EXP_MAGIC => {
                fmt_cookie(f, "FOEXP", &body[2..])?
            }
            _ => write!(f, "opt {kind} len {len}")?,
        }
        i += len;
    }
    Ok(())
}

fn fmt_cookie(f: &mut fmt::Formatter<'_>, name: &str, cookie: &[u8]) -> fmt::Result {
    f.write_str(name)?;
    if !cookie.is_empty() {
        f.write_str(" ")?;
        for b in cookie {
            write!(f, "{b:02x}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Raw<'a>(&'a [u8]);
    impl fmt::Display for Raw<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt_options(self.0, f)
        }
    }

    #[test]
    fn raw_option_formatting_never_trusts_lengths() {
        assert_eq!(Raw(&[1, 0, 2, 4]).to_string(), "nop,eol");
        assert_eq!(Raw(&[99, 3, 0]).to_string(), "opt 99 len 3");
        assert_eq!(Raw(&[2, 9, 0]).to_string(), "bad option 2");
        assert_eq!(Raw(&[2]).to_string(), "bad option 2");
        assert_eq!(Raw(&[3, 3, 15]).to_string(), "wscale 15");
        assert_eq!(Raw(&[]).to_string(), "");
    }

    #[test]
    fn layout_len_matches_what_is_written() {
        let mut o = TcpOptions {
            mss: Some(536),
            window_scale: Some(2),
            sack_permitted: true,
            timestamps: Some(Timestamps { val: 1, ecr: 2 }),
            fast_open: Some(FastOpenOption::with_cookie(
                FastOpenKind::Experimental,
                &[1; 16],
            )),
            ..TcpOptions::default()
        };
        assert_eq!(layout_len(&o), 40);
        o.set_sack(&[SackBlock { left: 1, right: 2 }]);
        assert_eq!(layout_len(&o), 52);
        assert_eq!(canonical(&o).sack_len, 0);
        let mut buf = [0xEE; 40];
        write_options(&canonical(&o), &mut buf);
        assert!(!buf.contains(&0xEE), "every byte written");
        assert_eq!(parse_options(&buf), Ok(canonical(&o)));
    }
}
