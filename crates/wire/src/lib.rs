//! Wire formats: IPv4 and IPv6 carrying TCP.
//!
//! Contract (smoltcp's `wire` is the model): `parse` never panics on any input and
//! reports *why* a packet is unusable ([`ParseError`], each with a stable reason name
//! and the Linux MIB counter it bumps); `emit` writes options in the exact order Linux's
//! `tcp_options_write()` uses, so our segments look like the kernel's in a capture and
//! in packetdrill expectations.
//!
//! ```
//! use synack_wire::*;
//! let syn = Packet {
//!     ip: IpInfo { src: "192.0.2.1".parse().unwrap(), dst: "192.168.0.1".parse().unwrap(), ttl: 64 },
//!     tcp: TcpSegment {
//!         src_port: 40000, dst_port: 8080, seq: 0, ack: 0, flags: TcpFlags::SYN,
//!         window: 65535, urgent: 0, payload: &[],
//!         options: TcpOptions {
//!             mss: Some(1460), window_scale: Some(7), sack_permitted: true,
//!             timestamps: Some(Timestamps { val: 1, ecr: 0 }),
//!             ..TcpOptions::default()
//!         },
//!     },
//! };
//! let mut buf = Vec::with_capacity(1500);
//! emit(&syn, &mut buf);
//! assert_eq!(buf.len(), emitted_len(&syn));
//! assert_eq!(parse(&buf), Ok(syn));
//! assert_eq!(
//!     syn.to_string(),
//!     "192.0.2.1:40000 > 192.168.0.1:8080 S 0:0(0) win 65535 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>",
//! );
//! ```
//!
//! The parser and writer are hand-written rather than built on a header crate: the part
//! that matters here is Linux's behaviour (which malformations drop a packet and which
//! counter they bump, which option lengths are ignored, the exact option order and
//! padding on output, no allocation on the hot path), and a general-purpose crate would
//! need all of that layered on top anyway.
#![forbid(unsafe_code)]

mod options;
mod seq;
pub use seq::SeqNum;

use std::fmt;
use std::net::IpAddr;

/// Length of an IPv4 header without options (all [`emit`] writes).
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Length of a TCP header without options.
pub const TCP_HEADER_LEN: usize = 20;
/// Room for options in a TCP header (data offset 15 × 4 − 20).
pub const MAX_OPTIONS_LEN: usize = 40;
/// Largest window-scale shift (RFC 7323, Linux `TCP_MAX_WSCALE`).
pub const MAX_WINDOW_SCALE: u8 = 14;
/// Magic number after kind 254 that marks the experimental Fast Open option.
pub const FASTOPEN_EXP_MAGIC: u16 = 0xF989;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;

/// TCP header flags, as the byte at offset 13 of the TCP header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    pub const fn empty() -> Self {
        TcpFlags(0)
    }
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
    pub fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    pub fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    pub fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    pub fn psh(self) -> bool {
        self.contains(Self::PSH)
    }
    pub fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0
    }
}

/// packetdrill/tcpdump style: `S`, `S.`, `P.`, `F.`, `R.`, `.` (ACK only), `-` (none).
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (flag, c) in [
            (Self::SYN, 'S'),
            (Self::FIN, 'F'),
            (Self::RST, 'R'),
            (Self::PSH, 'P'),
            (Self::URG, 'U'),
            (Self::ECE, 'E'),
            (Self::CWR, 'W'),
        ] {
            if self.contains(flag) {
                write!(f, "{c}")?;
                any = true;
            }
        }
        if self.ack() {
            write!(f, ".")?;
            any = true;
        }
        if !any {
            write!(f, "-")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Which Fast Open option encoding a segment used (RFC 7413 kind 34, or the
/// experimental kind 254 with magic 0xF989 that Linux still accepts and answers in kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FastOpenKind {
    Rfc7413,
    Experimental,
}

/// A Fast Open option: an empty cookie is a cookie request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FastOpenOption {
    pub kind: FastOpenKind,
    /// Cookie bytes; only `cookie[..len]` is meaningful. RFC 7413: 4..=16 bytes, even.
    pub cookie: [u8; 16],
    pub len: u8,
}

impl FastOpenOption {
    pub fn request(kind: FastOpenKind) -> Self {
        FastOpenOption {
            kind,
            cookie: [0; 16],
            len: 0,
        }
    }
    pub fn with_cookie(kind: FastOpenKind, cookie: &[u8]) -> Self {
        let mut c = [0u8; 16];
        let len = cookie.len().min(16);
        c[..len].copy_from_slice(&cookie[..len]);
        FastOpenOption {
            kind,
            cookie: c,
            len: len as u8,
        }
    }
    /// The meaningful cookie bytes. `len` is a public field, so a value above 16 is
    /// clamped here rather than trusted (indexing past the array would panic).
    pub fn cookie(&self) -> &[u8] {
        &self.cookie[..usize::from(self.len).min(self.cookie.len())]
    }
    /// An empty cookie: the client asks the server for one.
    pub fn is_request(&self) -> bool {
        self.len == 0
    }
}

/// One SACK block `[left, right)` in sequence space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SackBlock {
    pub left: u32,
    pub right: u32,
}

/// RFC 7323 timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Timestamps {
    pub val: u32,
    pub ecr: u32,
}

/// The TCP options we understand. Unknown options are skipped on parse (as Linux does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: Option<Timestamps>,
    /// SACK blocks; only `sack_blocks[..sack_len]` are meaningful.
    pub sack_blocks: [SackBlock; 4],
    pub sack_len: u8,
    pub fast_open: Option<FastOpenOption>,
}

impl TcpOptions {
    /// The meaningful SACK blocks. `sack_len` is a public field, so a value above 4 is
    /// clamped here rather than trusted (indexing past the array would panic).
    pub fn sack(&self) -> &[SackBlock] {
        &self.sack_blocks[..usize::from(self.sack_len).min(self.sack_blocks.len())]
    }

    /// Set the SACK blocks (at most 4 are kept; fewer fit next to timestamps, see
    /// [`canonical`](TcpOptions::canonical)).
    pub fn set_sack(&mut self, blocks: &[SackBlock]) {
        let n = blocks.len().min(self.sack_blocks.len());
        self.sack_blocks = [SackBlock::default(); 4];
        self.sack_blocks[..n].copy_from_slice(&blocks[..n]);
        self.sack_len = n as u8;
    }

    /// The options exactly as [`emit`] writes them and [`parse`] reads them back, so
    /// `parse(emit(p)).tcp.options == p.tcp.options.canonical()` always holds:
    /// - SACK blocks are dropped from the end until everything fits in 40 bytes (Linux
    ///   sizes its SACK blocks to the space left: 3 next to timestamps, 4 without);
    /// - MSS 0 is dropped (Linux writes no MSS option for 0, and ignores one it receives);
    /// - a window scale above 14 becomes 14 (RFC 7323; Linux clamps on receive);
    /// - a Fast Open cookie Linux would ignore (odd, or 1..=3 or more than 16 bytes) is
    ///   dropped;
    /// - unused SACK entries and cookie bytes are zeroed, so `==` compares meaning.
    pub fn canonical(&self) -> TcpOptions {
        options::canonical(self)
    }

    /// Bytes of option space [`emit`] uses for these options: a multiple of 4, at most
    /// [`MAX_OPTIONS_LEN`].
    pub fn encoded_len(&self) -> usize {
        options::layout_len(&self.canonical())
    }
}

/// The TCP part of a segment; `payload` borrows from the packet bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
}

impl TcpSegment<'_> {
    /// Sequence space the segment occupies: payload plus one for SYN and one for FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + self.flags.syn() as u32 + self.flags.fin() as u32
    }
}

/// The IP part we care about. `src`/`dst` are both V4 or both V6 (mixing them is a
/// caller bug; [`emit`] then follows `src`'s family, see its docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6). Emitted as given; 64 is Linux's default.
    pub ttl: u8,
}

/// A whole IP packet carrying one TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub ip: IpInfo,
    pub tcp: TcpSegment<'a>,
}

mod error;
pub use error::ParseError;

mod packet;
pub use packet::{emit, emitted_len, parse, parse_icmp, IcmpError, IcmpKind};
