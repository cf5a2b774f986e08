//! Why a packet was unusable.
//!
//! Every rejection carries a stable kebab-case [`reason`](ParseError::reason) (shown in
//! events, timelines and drop statistics, so it must never change once published) and
//! the Linux MIB counter the kernel would bump for the same packet
//! ([`counter`](ParseError::counter)), so `nstat`-style views of our stack read like the
//! kernel's.
use std::fmt;

/// Why [`parse`](crate::parse) rejected a packet.
///
/// The checks run in the order Linux runs them (`ip_rcv_core()`, `ipv6_rcv()`,
/// `tcp_v4_rcv()`/`tcp_v6_rcv()`, then option parsing), so a packet that is wrong in
/// several ways reports the error the kernel would have counted.
///
/// Counter names are the IPv4 ones (`Ip*`, `IpExt*`); for an IPv6 packet Linux bumps the
/// `Ip6*` equivalent (`Ip6InHdrErrors`, `Ip6InTruncatedPkts`, ...). TCP counters are
/// shared by both families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// The buffer is shorter than the fixed IP header (20 bytes IPv4, 40 bytes IPv6), or
    /// empty. Linux: `pskb_may_pull()` fails in `ip_rcv_core()` → `IpInHdrErrors`.
    TooShort,
    /// The IP header claims more bytes (IPv4 total length, IPv6 payload length) than the
    /// buffer holds. Linux: `IpExtInTruncatedPkts`.
    Truncated,
    /// The version nibble is neither 4 nor 6.
    BadIpVersion,
    /// IPv4 IHL below 5, or the header it announces runs past the buffer.
    BadIpHeaderLength,
    /// IPv4 total length smaller than the header length.
    BadIpTotalLength,
    /// IPv4 header checksum wrong. Linux bumps `IpExtInCsumErrors` and `IpInHdrErrors`.
    BadIpChecksum,
    /// An IPv6 extension header (hop-by-hop, routing, destination options) runs past the
    /// payload. Linux: `Ip6InHdrErrors`.
    BadIpv6ExtHeader,
    /// An IPv4 fragment (MF set or offset non-zero) or an IPv6 fragment header. We do not
    /// reassemble; counted as a reassembly failure.
    Fragment,
    /// The transport protocol is not TCP (IPv4 protocol / final IPv6 next header != 6).
    NotTcp,
    /// The IP payload is shorter than the 20-byte TCP header.
    TcpTruncated,
    /// TCP data offset below 5, or the header it announces is longer than the segment.
    BadDataOffset,
    /// TCP checksum (over the pseudo-header) wrong. Linux bumps `TcpInCsumErrors` and
    /// `TcpInErrs`.
    BadTcpChecksum,
    /// Structurally malformed TCP options: a length byte below 2, or an option running
    /// past the end of the header.
    ///
    /// Linux's `tcp_parse_options()` silently *stops parsing* at such an option and keeps
    /// the segment (with whatever options it saw before). The project requires every
    /// anomaly to be dropped with a counted reason instead, so we reject the segment and
    /// count it in `TcpInErrs`. Options of a known kind with the wrong length for that
    /// kind are *not* an error: they are skipped, exactly as Linux skips them.
    BadOption,
}

impl ParseError {
    /// Every variant, in declaration order (for tables, docs and tests).
    pub const ALL: &'static [ParseError] = &[
        ParseError::TooShort,
        ParseError::Truncated,
        ParseError::BadIpVersion,
        ParseError::BadIpHeaderLength,
        ParseError::BadIpTotalLength,
        ParseError::BadIpChecksum,
        ParseError::BadIpv6ExtHeader,
        ParseError::Fragment,
        ParseError::NotTcp,
        ParseError::TcpTruncated,
        ParseError::BadDataOffset,
        ParseError::BadTcpChecksum,
        ParseError::BadOption,
    ];

    /// Stable kebab-case name of the reason (used in events and drop tables).
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::TooShort => "too-short",
            ParseError::Truncated => "truncated",
            ParseError::BadIpVersion => "bad-ip-version",
            ParseError::BadIpHeaderLength => "bad-ip-header-length",
            ParseError::BadIpTotalLength => "bad-ip-total-length",
            ParseError::BadIpChecksum => "bad-ip-checksum",
            ParseError::BadIpv6ExtHeader => "bad-ipv6-extension-header",
            ParseError::Fragment => "fragment",
            ParseError::NotTcp => "not-tcp",
            ParseError::TcpTruncated => "tcp-truncated",
            ParseError::BadDataOffset => "bad-data-offset",
            ParseError::BadTcpChecksum => "bad-tcp-checksum",
            ParseError::BadOption => "bad-option",
        }
    }

    /// The most specific Linux `nstat` counter the kernel bumps for this packet (see
    /// [`counters`](ParseError::counters) for all of them).
    pub fn counter(&self) -> &'static str {
        self.counters()[0]
    }

    /// Every `nstat` counter Linux bumps for this packet, most specific first. (A bad
    /// checksum falls through to the generic header-error counter in the kernel.)
    ///
    /// Two cases have no exact Linux counterpart and use the nearest counter:
    /// [`TcpTruncated`](ParseError::TcpTruncated) and a data offset past the segment
    /// (Linux discards those in `tcp_v4_rcv()` without counting), and
    /// [`BadOption`](ParseError::BadOption) (Linux keeps the segment).
    pub fn counters(&self) -> &'static [&'static str] {
        match self {
            ParseError::TooShort
            | ParseError::BadIpVersion
            | ParseError::BadIpHeaderLength
            | ParseError::BadIpTotalLength
            | ParseError::BadIpv6ExtHeader => &["IpInHdrErrors"],
            ParseError::Truncated => &["IpExtInTruncatedPkts"],
            ParseError::BadIpChecksum => &["IpExtInCsumErrors", "IpInHdrErrors"],
            ParseError::Fragment => &["IpReasmFails"],
            ParseError::NotTcp => &["IpInUnknownProtos"],
            ParseError::TcpTruncated | ParseError::BadDataOffset | ParseError::BadOption => {
                &["TcpInErrs"]
            }
            ParseError::BadTcpChecksum => &["TcpInCsumErrors", "TcpInErrs"],
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for ParseError {}
