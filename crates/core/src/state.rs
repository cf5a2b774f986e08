//! The eleven TCP states (RFC 9293), with the names Linux's tools print.
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynRecv,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// RFC 9293 / netstat name: `SYN_SENT`, `ESTABLISHED`, `TIME_WAIT`.
    pub fn netstat_name(self) -> &'static str {
        use TcpState::*;
        match self {
            Closed => "CLOSE",
            Listen => "LISTEN",
            SynSent => "SYN_SENT",
            SynRecv => "SYN_RECV",
            Established => "ESTABLISHED",
            FinWait1 => "FIN_WAIT1",
            FinWait2 => "FIN_WAIT2",
            CloseWait => "CLOSE_WAIT",
            Closing => "CLOSING",
            LastAck => "LAST_ACK",
            TimeWait => "TIME_WAIT",
        }
    }

    /// iproute2 `ss` name: `SYN-SENT`, `ESTAB`, `TIME-WAIT`.
    pub fn ss_name(self) -> &'static str {
        use TcpState::*;
        match self {
            Closed => "UNCONN",
            Listen => "LISTEN",
            SynSent => "SYN-SENT",
            SynRecv => "SYN-RECV",
            Established => "ESTAB",
            FinWait1 => "FIN-WAIT-1",
            FinWait2 => "FIN-WAIT-2",
            CloseWait => "CLOSE-WAIT",
            Closing => "CLOSING",
            LastAck => "LAST-ACK",
            TimeWait => "TIME-WAIT",
        }
    }

    /// Linux's TCP_INFO `tcpi_state` value (TCP_ESTABLISHED = 1 ...).
    pub fn linux_code(self) -> u8 {
        use TcpState::*;
        match self {
            Established => 1,
            SynSent => 2,
            SynRecv => 3,
            FinWait1 => 4,
            FinWait2 => 5,
            TimeWait => 6,
            Closed => 7,
            CloseWait => 8,
            LastAck => 9,
            Listen => 10,
            Closing => 11,
        }
    }

    /// Long display name used in timelines: `SYN-SENT`, `ESTABLISHED`, `TIME-WAIT`.
    pub fn name(self) -> &'static str {
        use TcpState::*;
        match self {
            Closed => "CLOSED",
            Listen => "LISTEN",
            SynSent => "SYN-SENT",
            SynRecv => "SYN-RECEIVED",
            Established => "ESTABLISHED",
            FinWait1 => "FIN-WAIT-1",
            FinWait2 => "FIN-WAIT-2",
            CloseWait => "CLOSE-WAIT",
            Closing => "CLOSING",
            LastAck => "LAST-ACK",
            TimeWait => "TIME-WAIT",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
