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
