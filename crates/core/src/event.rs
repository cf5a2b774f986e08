//! One event stream feeds every view (timeline, JSON, pcap annotations, ss): the stack
//! records what it did and why, when the driver asks it to (`Stack::set_capture`).
use crate::state::TcpState;
use crate::time::Instant;
use crate::Fd;
use std::fmt;
use std::net::SocketAddr;
use synack_wire::TcpFlags;

/// A segment as a person reads it. Sequence numbers are absolute; views make them
/// relative to each side's ISN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    /// Payload length (without SYN/FIN).
    pub len: u32,
    pub win: u16,
    pub options: synack_wire::TcpOptions,
}

/// Which timer fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// Retransmission (also SYN, SYN-ACK, FIN retransmission).
    Retransmit,
    DelayedAck,
    ZeroWindowProbe,
    Keepalive,
    FinWait2,
    TimeWait,
    Linger,
}

impl TimerKind {
    pub fn name(self) -> &'static str {
        match self {
            TimerKind::Retransmit => "retransmit",
            TimerKind::DelayedAck => "delayed-ack",
            TimerKind::ZeroWindowProbe => "zero-window-probe",
            TimerKind::Keepalive => "keepalive",
            TimerKind::FinWait2 => "fin-wait-2",
            TimerKind::TimeWait => "time-wait",
            TimerKind::Linger => "linger",
        }
    }
}

/// Why the stack dropped an incoming segment (or refused to create state for it).
/// Each names the Linux MIB counter it increments, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The bytes were not a usable TCP/IP packet.
    Malformed(synack_wire::ParseError),
    /// Addressed to an IP this host does not have.
    NotOurAddress,
    /// No socket for the 4-tuple (answered with RST unless it was an RST).
    NoSocket,
    /// Segment outside the receive window (answered with an ACK).
    OutOfWindow,
    /// ACK for data we never sent.
    AckUnsent,
    /// ACK older than the window (RFC 5961 5.2).
    AckTooOld,
    /// SYN queue full and cookies off.
    SynQueueFull,
    /// Accept queue full: SYN or final ACK dropped.
    ListenOverflow,
    /// A listener got a segment it ignores (e.g. a bare ACK answered by RST, or RST).
    ListenIgnored,
    /// RST that did not match (RFC 5961): challenge ACK instead.
    RstOutOfWindow,
    /// PAWS: timestamp older than ts_recent.
    Paws,
    /// Receive buffer full.
    RcvBufFull,
    /// Ingress backlog full (netdev_max_backlog).
    BacklogFull,
    /// A SYN on a synchronized connection (RFC 5961 4.2): answered by a challenge ACK.
    SynChallenge,
    /// Segment flags invalid for the state (e.g. no ACK on a synchronized connection).
    BadFlags,
    /// A segment for a socket in a state that ignores it.
    Ignored,
}

impl DropReason {
    pub fn name(&self) -> &'static str {
        use DropReason::*;
        match self {
            Malformed(e) => e.reason(),
            NotOurAddress => "not-our-address",
            NoSocket => "no-socket",
            OutOfWindow => "out-of-window",
            AckUnsent => "ack-unsent-data",
            AckTooOld => "ack-too-old",
            SynQueueFull => "syn-queue-full",
            ListenOverflow => "listen-overflow",
            ListenIgnored => "listener-ignored",
            RstOutOfWindow => "rst-not-exact",
            Paws => "paws",
            RcvBufFull => "rcvbuf-full",
            BacklogFull => "backlog-full",
            SynChallenge => "syn-on-synchronized",
            BadFlags => "bad-flags",
            Ignored => "ignored",
        }
    }

    /// The Linux counter (nstat name) this drop increments.
    pub fn counter(&self) -> Option<&'static str> {
        use DropReason::*;
        match self {
            Malformed(e) => Some(e.counter()),
            NoSocket => Some("TcpOutRsts"),
            SynQueueFull => Some("TcpExtTCPReqQFullDrop"),
            ListenOverflow => Some("TcpExtListenOverflows"),
            RstOutOfWindow => Some("TcpExtTCPChallengeACK"),
            SynChallenge => Some("TcpExtTCPSYNChallenge"),
            Paws => Some("TcpExtPAWSEstab"),
            RcvBufFull => Some("TcpExtTCPRcvQDrop"),
            BacklogFull => Some("TcpExtTCPBacklogDrop"),
            // An ACK of unsent data is dropped without a counter (tcp_ack returns
            // SKB_DROP_REASON_TCP_ACK_UNSENT_DATA); a too-old one draws a challenge ACK.
            AckTooOld => Some("TcpExtTCPChallengeACK"),
            _ => None,
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The stack emitted a segment.
    Send(SegmentInfo),
    /// The stack accepted a segment for processing.
    Recv(SegmentInfo),
    /// The stack dropped a segment; `seg` is `None` when it could not even be parsed.
    Drop {
        seg: Option<SegmentInfo>,
        reason: DropReason,
    },
    /// A connection changed state.
    State {
        local: SocketAddr,
        remote: SocketAddr,
        from: TcpState,
        to: TcpState,
    },
    /// A socket call and its result (`"0"`, `"5"`, `"-1 EAGAIN"`).
    Call {
        fd: Option<Fd>,
        call: String,
        result: String,
    },
    /// A timer fired.
    Timer {
        local: SocketAddr,
        remote: SocketAddr,
        timer: TimerKind,
    },
}

/// An event with its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: Instant,
    pub kind: EventKind,
}
