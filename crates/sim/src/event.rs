//! The simulation's event stream: each host's own stack events, interleaved with what the
//! network did to its packets, in the order things happened.
//!
//! One stream feeds every view (timeline, JSON, verdicts), so what a person reads is what
//! the checks judged.
use crate::HostId;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use synack_core::wire;
use synack_core::{EventKind, Instant, SegmentInfo};

/// Something that happened on (or to the packets of) one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent {
    pub at: Instant,
    pub host: HostId,
    pub kind: SimEventKind,
}

/// Why a link did not deliver a packet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LinkDropReason {
    /// The link's random loss.
    Loss,
    /// A [`crate::Rule`], by its description.
    Rule(String),
    /// A partition rule.
    Partition,
    /// No link leads from the sender to a host owning the destination address.
    NoRoute,
}

impl fmt::Display for LinkDropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkDropReason::Loss => f.write_str("loss"),
            LinkDropReason::Rule(d) => write!(f, "rule: {d}"),
            LinkDropReason::Partition => f.write_str("partition"),
            LinkDropReason::NoRoute => f.write_str("no route"),
        }
    }
}

/// What happened. Network events carry the segment as the sim parsed it (`None` if the
/// bytes were not a TCP/IP packet the parser accepts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimEventKind {
    /// From the host's stack (send, receive, drop, state, call, timer).
    Stack(EventKind),
    /// The network lost a packet this host sent.
    LinkDrop {
        seg: Option<SegmentInfo>,
        reason: LinkDropReason,
    },
    /// The link will deliver a packet this host sent twice.
    Duplicated { seg: Option<SegmentInfo> },
    /// A rule held back a packet this host sent.
    Delayed {
        seg: Option<SegmentInfo>,
        by: Duration,
        rule: String,
    },
    /// The network handed a packet to this host (just before its stack sees it).
    Delivered { seg: Option<SegmentInfo> },
}

/// The segment in a packet, as events show it; `None` if it does not parse.
pub fn segment_info(bytes: &[u8]) -> Option<SegmentInfo> {
    let p = wire::parse(bytes).ok()?;
    Some(SegmentInfo {
        src: SocketAddr::new(p.ip.src, p.tcp.src_port),
        dst: SocketAddr::new(p.ip.dst, p.tcp.dst_port),
        flags: p.tcp.flags,
        seq: p.tcp.seq,
        ack: p.tcp.ack,
        len: p.tcp.payload.len() as u32,
        win: p.tcp.window,
        options: p.tcp.options,
    })
}

/// The destination address of a raw IPv4/IPv6 packet, read straight from the header so
/// that even a packet the TCP parser rejects can be routed (the receiver then reports why
/// it dropped it).
pub fn ip_destination(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.first()? >> 4 {
        4 => {
            let b: [u8; 4] = bytes.get(16..20)?.try_into().ok()?;
            Some(std::net::Ipv4Addr::from(b).into())
        }
        6 => {
            let b: [u8; 16] = bytes.get(24..40)?.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(b).into())
        }
        _ => None,
    }
}
