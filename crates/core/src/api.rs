//! Types of the BSD-socket-like API.
use std::fmt;
use std::time::Duration;

/// A socket descriptor. Numbered like file descriptors: the lowest free number from 3 up,
/// so packetdrill scripts (`socket(...) = 3`) read naturally.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fd(pub u32);

impl fmt::Debug for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fd{}", self.0)
    }
}

impl fmt::Display for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// shutdown(2)'s `how`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    Read,
    Write,
    Both,
}

/// poll(2) readiness bits of one socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Readiness {
    /// POLLIN: data to read, a connection to accept, EOF, or an error.
    pub readable: bool,
    /// POLLOUT: room in the send buffer on a connected socket (or connect() finished).
    pub writable: bool,
    /// POLLRDHUP: the peer sent FIN.
    pub read_hup: bool,
    /// POLLHUP: both directions are shut (or the connection is gone).
    pub hup: bool,
    /// POLLERR: a pending error (read it with `SockOptName::Error`).
    pub error: bool,
}

/// A socket option with its value (setsockopt/getsockopt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SockOpt {
    /// SO_REUSEADDR
    ReuseAddr(bool),
    /// SO_RCVBUF (bytes asked; Linux doubles it, as we do)
    RcvBuf(u32),
    /// SO_SNDBUF
    SndBuf(u32),
    /// SO_LINGER: `None` = off, `Some(secs)` = on with that timeout.
    Linger(Option<u32>),
    /// SO_KEEPALIVE
    KeepAlive(bool),
    /// TCP_NODELAY
    NoDelay(bool),
    /// TCP_MAXSEG
    MaxSeg(u32),
    /// TCP_SYNCNT
    SynCnt(u8),
    /// TCP_LINGER2: orphaned FIN_WAIT_2 lifetime in seconds (-1 = no FIN_WAIT_2 at all,
    /// 0 = the system default tcp_fin_timeout).
    Linger2(i32),
    /// TCP_USER_TIMEOUT in milliseconds (0 = off).
    UserTimeout(u32),
    /// TCP_KEEPIDLE seconds
    KeepIdle(u32),
    /// TCP_KEEPINTVL seconds
    KeepIntvl(u32),
    /// TCP_KEEPCNT
    KeepCnt(u32),
    /// SO_ERROR (get only): the pending error, cleared by reading it.
    Error(Option<crate::Errno>),
    /// TCP_FASTOPEN on a listener (or before listen()): how many Fast Open children may
    /// wait in SYN_RECV (0 = Fast Open off for this listener).
    FastOpen(u32),
    /// TCP_FASTOPEN_KEY: the listener's own key, `len` bytes of `key` (16: a primary key;
    /// 32: primary then backup). Any other length is EINVAL, as in Linux.
    FastOpenKey { key: [u8; 32], len: u8 },
    /// TCP_FASTOPEN_CONNECT (EOPNOTSUPP unless tcp_fastopen has the client bit).
    FastOpenConnect(bool),
    /// TCP_FASTOPEN_NO_COOKIE
    FastOpenNoCookie(bool),
    /// TCP_CONGESTION ("reno", "cubic")
    Congestion(crate::cc::Algorithm),
}

/// The name of an option, for getsockopt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SockOptName {
    ReuseAddr,
    RcvBuf,
    SndBuf,
    Linger,
    KeepAlive,
    NoDelay,
    MaxSeg,
    SynCnt,
    Linger2,
    UserTimeout,
    KeepIdle,
    KeepIntvl,
    KeepCnt,
    Error,
    FastOpen,
    FastOpenKey,
    FastOpenConnect,
    FastOpenNoCookie,
    Congestion,
}

impl SockOpt {
    pub fn name(&self) -> SockOptName {
        match self {
            SockOpt::ReuseAddr(_) => SockOptName::ReuseAddr,
            SockOpt::RcvBuf(_) => SockOptName::RcvBuf,
            SockOpt::SndBuf(_) => SockOptName::SndBuf,
            SockOpt::Linger(_) => SockOptName::Linger,
            SockOpt::KeepAlive(_) => SockOptName::KeepAlive,
            SockOpt::NoDelay(_) => SockOptName::NoDelay,
            SockOpt::MaxSeg(_) => SockOptName::MaxSeg,
            SockOpt::SynCnt(_) => SockOptName::SynCnt,
            SockOpt::Linger2(_) => SockOptName::Linger2,
            SockOpt::UserTimeout(_) => SockOptName::UserTimeout,
            SockOpt::KeepIdle(_) => SockOptName::KeepIdle,
            SockOpt::KeepIntvl(_) => SockOptName::KeepIntvl,
            SockOpt::KeepCnt(_) => SockOptName::KeepCnt,
            SockOpt::Error(_) => SockOptName::Error,
            SockOpt::FastOpen(_) => SockOptName::FastOpen,
            SockOpt::FastOpenKey { .. } => SockOptName::FastOpenKey,
            SockOpt::FastOpenConnect(_) => SockOptName::FastOpenConnect,
            SockOpt::FastOpenNoCookie(_) => SockOptName::FastOpenNoCookie,
            SockOpt::Congestion(_) => SockOptName::Congestion,
        }
    }
}

/// A read-only snapshot of one socket, for `ss`/`netstat` views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    pub fd: Option<Fd>,
    pub state: crate::TcpState,
    pub local: Option<std::net::SocketAddr>,
    pub remote: Option<std::net::SocketAddr>,
    /// Bytes not yet read (listener: accept-queue length).
    pub recv_q: u32,
    /// Bytes not yet acknowledged (listener: accept-queue limit).
    pub send_q: u32,
    /// Time until the socket's pending timer fires, if any.
    pub timer: Option<(crate::TimerKind, Duration)>,
}

/// Bits of `TcpInfo::options` (Linux's `TCPI_OPT_*`).
pub mod tcpi_opt {
    pub const TIMESTAMPS: u8 = 1;
    pub const SACK: u8 = 2;
    pub const WSCALE: u8 = 4;
    pub const ECN: u8 = 8;
    pub const ECN_SEEN: u8 = 16;
    pub const SYN_DATA: u8 = 32;
}

/// getsockopt(TCP_INFO): Linux's `struct tcp_info` fields under their names (without the
/// `tcpi_` prefix) and in their units (microseconds for rto/ato/rtt, milliseconds for the
/// `last_*` ages, segments for cwnd/ssthresh/unacked), so that scripts and tools written
/// for Linux read them unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Linux's state number (TCP_ESTABLISHED = 1 ... TCP_CLOSING = 11).
    pub state: u8,
    /// Congestion-avoidance state: 0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss.
    pub ca_state: u8,
    pub retransmits: u8,
    /// Unanswered zero-window or keepalive probes.
    pub probes: u8,
    pub backoff: u8,
    /// `tcpi_opt` bits.
    pub options: u8,
    /// The congestion control's name (`INET_DIAG_CONG`, what `ss -i` prints first):
    /// "cubic", "reno" or "bbr".
    pub congestion: &'static str,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub rto: u32,
    pub ato: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub unacked: u32,
    /// Retransmitted segments not yet acknowledged.
    pub retrans: u32,
    pub last_data_sent: u32,
    pub last_data_recv: u32,
    pub last_ack_recv: u32,
    pub pmtu: u32,
    pub rcv_ssthresh: u32,
    pub rtt: u32,
    pub rttvar: u32,
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub advmss: u32,
    pub reordering: u32,
    /// The receiver's round-trip estimate, µs (what receive-buffer auto-tuning uses).
    pub rcv_rtt: u32,
    /// What the application read in the last measured round trip.
    pub rcv_space: u32,
    pub total_retrans: u32,
    /// `sk_pacing_rate`, bytes/s: BBR's pacing rate; for CUBIC and Reno the rate
    /// `tcp_update_pacing_rate` computes (a multiple of cwnd/srtt: 200% in slow start,
    /// 120% after), which only an fq qdisc would enforce.
    pub pacing_rate: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u32,
    pub segs_in: u32,
    pub notsent_bytes: u32,
    pub data_segs_in: u32,
    pub data_segs_out: u32,
    /// The latest delivery-rate sample that was not app-limited (or a faster one),
    /// bytes/s; kept by BBR connections only (0 otherwise).
    pub delivery_rate: u64,
    pub delivery_rate_app_limited: bool,
    pub delivered: u32,
    pub bytes_sent: u64,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    /// BBR's model (`INET_DIAG_BBRINFO`, what `ss -i` shows as `bbr:(…)`).
    pub bbr: Option<BbrInfo>,
}

/// `struct tcp_bbr_info`: the bottleneck bandwidth estimate (bytes/s), the minimum RTT
/// (µs), the gains (×256), and the mode it is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BbrInfo {
    pub bw: u64,
    pub min_rtt_us: u32,
    pub pacing_gain: u32,
    pub cwnd_gain: u32,
    /// STARTUP, DRAIN, PROBE_BW or PROBE_RTT.
    pub mode: &'static str,
}

impl TcpInfo {
    /// Every field as (`tcpi_` name, value), in `struct tcp_info` order.
    pub fn fields(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("tcpi_state", self.state.into()),
            ("tcpi_ca_state", self.ca_state.into()),
            ("tcpi_retransmits", self.retransmits.into()),
            ("tcpi_probes", self.probes.into()),
            ("tcpi_backoff", self.backoff.into()),
            ("tcpi_options", self.options.into()),
            ("tcpi_snd_wscale", self.snd_wscale.into()),
            ("tcpi_rcv_wscale", self.rcv_wscale.into()),
            ("tcpi_rto", self.rto.into()),
            ("tcpi_ato", self.ato.into()),
            ("tcpi_snd_mss", self.snd_mss.into()),
            ("tcpi_rcv_mss", self.rcv_mss.into()),
            ("tcpi_unacked", self.unacked.into()),
            ("tcpi_retrans", self.retrans.into()),
            ("tcpi_last_data_sent", self.last_data_sent.into()),
            ("tcpi_last_data_recv", self.last_data_recv.into()),
            ("tcpi_last_ack_recv", self.last_ack_recv.into()),
            ("tcpi_pmtu", self.pmtu.into()),
            ("tcpi_rcv_ssthresh", self.rcv_ssthresh.into()),
            ("tcpi_rtt", self.rtt.into()),
            ("tcpi_rttvar", self.rttvar.into()),
            ("tcpi_snd_ssthresh", self.snd_ssthresh.into()),
            ("tcpi_snd_cwnd", self.snd_cwnd.into()),
            ("tcpi_advmss", self.advmss.into()),
            ("tcpi_reordering", self.reordering.into()),
            ("tcpi_rcv_rtt", self.rcv_rtt.into()),
            ("tcpi_rcv_space", self.rcv_space.into()),
            ("tcpi_total_retrans", self.total_retrans.into()),
            ("tcpi_pacing_rate", self.pacing_rate),
            ("tcpi_bytes_acked", self.bytes_acked),
            ("tcpi_bytes_received", self.bytes_received),
            ("tcpi_segs_out", self.segs_out.into()),
            ("tcpi_segs_in", self.segs_in.into()),
            ("tcpi_notsent_bytes", self.notsent_bytes.into()),
            ("tcpi_data_segs_in", self.data_segs_in.into()),
            ("tcpi_data_segs_out", self.data_segs_out.into()),
            ("tcpi_delivery_rate", self.delivery_rate),
            (
                "tcpi_delivery_rate_app_limited",
                self.delivery_rate_app_limited.into(),
            ),
            ("tcpi_delivered", self.delivered.into()),
            ("tcpi_bytes_sent", self.bytes_sent),
            ("tcpi_snd_wnd", self.snd_wnd.into()),
            ("tcpi_rcv_wnd", self.rcv_wnd.into()),
        ]
    }
}
