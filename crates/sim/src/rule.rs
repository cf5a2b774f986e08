//! Deterministic faults: "drop every SYN-ACK", "drop the 3rd segment from client to
//! server", "partition from 5 s to 9 s", "hold every FIN back 2 s".
//!
//! Random loss shows that TCP copes; a rule shows *one* story exactly, the same on every
//! run, which is what the document's loss stories need. Rules are checked on every packet
//! a host puts on a link, before the link's random faults.
use crate::HostId;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use synack_core::wire::TcpFlags;
use synack_core::{Instant, SegmentInfo};

/// Which segments a rule matches, by their TCP flags and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Every packet, parseable or not.
    Any,
    /// SYN without ACK (the first handshake segment).
    Syn,
    /// SYN with ACK (the second).
    SynAck,
    /// ACK only: no SYN, FIN, RST, no payload (the third, and every bare ACK after it).
    PureAck,
    /// FIN set.
    Fin,
    /// RST set.
    Rst,
    /// Carries payload.
    Data,
    /// Every flag of `set` present and none of `unset`.
    Flags { set: TcpFlags, unset: TcpFlags },
}

impl Match {
    /// Does the segment match? `None` (bytes the sim could not parse) matches only `Any`.
    pub fn matches(self, seg: Option<&SegmentInfo>) -> bool {
        let Some(s) = seg else {
            return self == Match::Any;
        };
        let f = s.flags;
        match self {
            Match::Any => true,
            Match::Syn => f.syn() && !f.ack(),
            Match::SynAck => f.syn() && f.ack(),
            Match::PureAck => f == TcpFlags::ACK && s.len == 0,
            Match::Fin => f.fin(),
            Match::Rst => f.rst(),
            Match::Data => s.len > 0,
            Match::Flags { set, unset } => f.contains(set) && f.0 & unset.0 == 0,
        }
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Match::Any => f.write_str("any"),
            Match::Syn => f.write_str("SYN"),
            Match::SynAck => f.write_str("SYN-ACK"),
            Match::PureAck => f.write_str("ACK"),
            Match::Fin => f.write_str("FIN"),
            Match::Rst => f.write_str("RST"),
            Match::Data => f.write_str("data"),
            Match::Flags { set, unset } => write!(f, "flags {set} not {unset}"),
        }
    }
}

/// `any`, `SYN` (without ACK), `SYN-ACK`, `ACK` (bare), `FIN`, `RST`, `data`; case-insensitive.
impl FromStr for Match {
    type Err = String;
    fn from_str(s: &str) -> Result<Match, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "any" | "all" => Match::Any,
            "syn" => Match::Syn,
            "syn-ack" | "synack" | "syn+ack" => Match::SynAck,
            "ack" | "pure-ack" => Match::PureAck,
            "fin" => Match::Fin,
            "rst" => Match::Rst,
            "data" => Match::Data,
            _ => {
                return Err(format!(
                    "unknown segment kind {s:?}: any, SYN, SYN-ACK, ACK, FIN, RST, data"
                ))
            }
        })
    }
}

/// Which way a packet must travel for the rule to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Every packet on every link.
    Any,
    /// Sent by this host, to anyone.
    From(HostId),
    /// Sent to this host, by anyone.
    To(HostId),
    /// From the first host to the second only.
    OneWay(HostId, HostId),
    /// Between the two hosts, either way.
    Between(HostId, HostId),
}

impl Direction {
    fn applies(self, from: HostId, to: HostId) -> bool {
        match self {
            Direction::Any => true,
            Direction::From(h) => from == h,
            Direction::To(h) => to == h,
            Direction::OneWay(a, b) => from == a && to == b,
            Direction::Between(a, b) => (from == a && to == b) || (from == b && to == a),
        }
    }
}

/// What a rule does to the packets it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The packet never arrives.
    Drop,
    /// The packet arrives this much later than the link would deliver it (it may overtake
    /// nothing: later packets are not held behind it, so this also reorders).
    Delay(Duration),
}

/// A deterministic fault on packets matching a direction, a segment kind, an optional
/// ordinal and an optional time window.
#[derive(Clone, Debug)]
pub struct Rule {
    pub direction: Direction,
    pub matches: Match,
    /// Only the Nth packet that matches direction, kind and window (1-based).
    pub nth: Option<u32>,
    /// Only packets sent within `[start, end)`.
    pub window: Option<(Instant, Instant)>,
    pub action: Action,
    /// Shown in the event stream: `rule: <description>`.
    pub description: String,
    /// A partition reports its drops as `partition`, not as a rule.
    pub(crate) partition: bool,
    seen: u32,
}

impl Rule {
    /// Drop every packet matching `m` from `from` to `to` (`None` = any host).
    pub fn drop(description: &str, from: Option<HostId>, to: Option<HostId>, m: Match) -> Rule {
        let direction = match (from, to) {
            (None, None) => Direction::Any,
            (Some(a), None) => Direction::From(a),
            (None, Some(b)) => Direction::To(b),
            (Some(a), Some(b)) => Direction::OneWay(a, b),
        };
        Rule::new(description, direction, m)
    }

    /// A rule that drops packets matching `m` travelling `direction`.
    pub fn new(description: &str, direction: Direction, m: Match) -> Rule {
        Rule {
            direction,
            matches: m,
            nth: None,
            window: None,
            action: Action::Drop,
            description: description.into(),
            partition: false,
            seen: 0,
        }
    }

    /// A partition: nothing crosses between any hosts during `[start, end)`.
    pub fn partition(start: Instant, end: Instant) -> Rule {
        let mut r = Rule::new("partition", Direction::Any, Match::Any).during(start, end);
        r.partition = true;
        r
    }

    /// A partition between two hosts only, both ways.
    pub fn partition_between(a: HostId, b: HostId, start: Instant, end: Instant) -> Rule {
        let mut r = Rule::partition(start, end);
        r.direction = Direction::Between(a, b);
        r
    }

    /// Only the Nth matching packet (1-based): "drop the 3rd segment from client to server".
    pub fn nth(mut self, n: u32) -> Rule {
        self.nth = Some(n);
        self
    }

    /// Only packets sent in `[start, end)`.
    pub fn during(mut self, start: Instant, end: Instant) -> Rule {
        self.window = Some((start, end));
        self
    }

    /// Delay the matching packets by `d` instead of dropping them.
    pub fn delay(mut self, d: Duration) -> Rule {
        self.action = Action::Delay(d);
        self
    }

    /// Is this packet one the rule acts on? Counts it towards `nth` if it matches the rest.
    pub(crate) fn applies(
        &mut self,
        now: Instant,
        from: HostId,
        to: HostId,
        seg: Option<&SegmentInfo>,
    ) -> bool {
        if !self.direction.applies(from, to) || !self.matches.matches(seg) {
            return false;
        }
        if let Some((a, b)) = self.window {
            if now < a || now >= b {
                return false;
            }
        }
        self.seen += 1;
        self.nth.is_none_or(|n| n == self.seen)
    }
}
