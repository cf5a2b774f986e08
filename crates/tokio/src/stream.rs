//! [`TcpStream`] and its options.
use crate::error::to_io_error;
use crate::net::Net;
use crate::socket::{Socket, TcpSocket};
use crate::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use synack_core::{Errno, Fd, SockOpt, SockOptName, TcpInfo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A TCP connection of a [`Net`], usable wherever tokio code takes `AsyncRead` +
/// `AsyncWrite`.
///
/// Dropping it is close(): FIN, or RST if data the application never read is still in
/// the receive buffer (Linux's rule, so the peer learns its request was not seen), or
/// if SO_LINGER is {on, 0} ([`TcpStream::set_linger`] with `Some(Duration::ZERO)`).
#[derive(Debug)]
pub struct TcpStream {
    pub(crate) sock: Arc<Socket>,
}

/// TCP keepalive settings. `None` fields keep the stack's sysctls
/// (`net.ipv4.tcp_keepalive_time`/`_intvl`/`_probes`: 7200 s, 75 s, 9).
///
/// Durations are whole seconds on the wire of the API, as in Linux; a fraction rounds
/// up, so a value never turns into the invalid 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepAlive {
    /// TCP_KEEPIDLE: silence before the first probe.
    pub idle: Option<Duration>,
    /// TCP_KEEPINTVL: between unanswered probes.
    pub interval: Option<Duration>,
    /// TCP_KEEPCNT: unanswered probes before the connection is reset (ETIMEDOUT).
    pub count: Option<u32>,
}

impl KeepAlive {
    pub fn new() -> KeepAlive {
        KeepAlive::default()
    }
    pub fn with_idle(self, d: Duration) -> KeepAlive {
        KeepAlive {
            idle: Some(d),
            ..self
        }
    }
    pub fn with_interval(self, d: Duration) -> KeepAlive {
        KeepAlive {
            interval: Some(d),
            ..self
        }
    }
    pub fn with_count(self, n: u32) -> KeepAlive {
        KeepAlive {
            count: Some(n),
            ..self
        }
    }
}

fn secs_up(d: Duration) -> u32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(s).unwrap_or(u32::MAX)
}

impl TcpStream {
    pub(crate) fn from_socket(sock: Arc<Socket>) -> TcpStream {
        TcpStream { sock }
    }

    /// Connect to `addr` from `net` (see [`TcpSocket::connect`] for the errors, and for
    /// options to set before connecting).
    pub async fn connect(net: &Net, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpSocket::new(net)?.connect(addr).await
    }

    /// Connect with TCP Fast Open, `data` in the SYN when a cookie is cached (see
    /// [`TcpSocket::connect_fastopen`]).
    pub async fn connect_fastopen(
        net: &Net,
        addr: SocketAddr,
        data: &[u8],
    ) -> io::Result<TcpStream> {
        TcpSocket::new(net)?.connect_fastopen(addr, data).await
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peek(|s, _, fd| s.peer_addr(fd))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// TCP_NODELAY: send small segments at once instead of waiting for the ACK of the
    /// previous one (Nagle).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.sock.set_option(SockOpt::NoDelay(on))
    }

    pub fn nodelay(&self) -> io::Result<bool> {
        match self.sock.option(SockOptName::NoDelay)? {
            SockOpt::NoDelay(v) => Ok(v),
            _ => Err(to_io_error(Errno::ENOPROTOOPT)),
        }
    }

    /// SO_KEEPALIVE with TCP_KEEPIDLE/KEEPINTVL/KEEPCNT (`None`: off). An invalid value
    /// (a count over 127, an idle time over 32767 s) is EINVAL and changes nothing.
    pub fn set_keepalive(&self, ka: Option<KeepAlive>) -> io::Result<()> {
        let Some(ka) = ka else {
            return self.sock.set_option(SockOpt::KeepAlive(false));
        };
        let mut new = Vec::new();
        if let Some(d) = ka.idle {
            new.push(SockOpt::KeepIdle(secs_up(d)));
        }
        if let Some(d) = ka.interval {
            new.push(SockOpt::KeepIntvl(secs_up(d)));
        }
        if let Some(n) = ka.count {
            new.push(SockOpt::KeepCnt(n));
        }
        // Three setsockopt calls, all or nothing: a refused one puts back the earlier.
        let mut old = Vec::new();
        for opt in new {
            let before = self.sock.option(opt.name())?;
            if let Err(e) = self.sock.set_option(opt) {
                for o in old.into_iter().rev() {
                    let _ = self.sock.set_option(o);
                }
                return Err(e);
            }
            old.push(before);
        }
        self.sock.set_option(SockOpt::KeepAlive(true))
    }

    /// The keepalive in force (`None`: off), with the values it uses, sysctl defaults
    /// filled in.
    pub fn keepalive(&self) -> io::Result<Option<KeepAlive>> {
        let opt = |name| self.sock.option(name);
        if opt(SockOptName::KeepAlive)? != SockOpt::KeepAlive(true) {
            return Ok(None);
        }
        let mut ka = KeepAlive::new();
        if let SockOpt::KeepIdle(s) = opt(SockOptName::KeepIdle)? {
            ka.idle = Some(Duration::from_secs(s.into()));
        }
        if let SockOpt::KeepIntvl(s) = opt(SockOptName::KeepIntvl)? {
            ka.interval = Some(Duration::from_secs(s.into()));
        }
        if let SockOpt::KeepCnt(n) = opt(SockOptName::KeepCnt)? {
            ka.count = Some(n);
        }
        Ok(Some(ka))
    }

    /// SO_LINGER: `Some(Duration::ZERO)` makes the drop send RST and skip TIME_WAIT;
    /// `None` is the normal close. Whole seconds, as in Linux (a fraction is cut).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let secs = linger.map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        self.sock.set_option(SockOpt::Linger(secs))
    }

    pub fn linger(&self) -> io::Result<Option<Duration>> {
        match self.sock.option(SockOptName::Linger)? {
            SockOpt::Linger(v) => Ok(v.map(|s| Duration::from_secs(s.into()))),
            _ => Err(to_io_error(Errno::ENOPROTOOPT)),
        }
    }

    /// getsockopt(TCP_INFO): RTT, cwnd, retransmissions, bytes — Linux's fields.
    pub fn tcp_info(&self) -> io::Result<TcpInfo> {
        self.sock.peek(|s, now, fd| s.tcp_info(now, fd))
    }

    /// Any setsockopt().
    pub fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        self.sock.set_option(opt)
    }

    /// Any getsockopt(); `SockOptName::Error` takes the pending error, as SO_ERROR does.
    pub fn option(&self, name: SockOptName) -> io::Result<SockOpt> {
        self.sock.option(name)
    }

    /// The descriptor in the stack (for `Net::with_stack`).
    pub fn fd(&self) -> Fd {
        self.sock.fd
    }

    pub fn net(&self) -> &Net {
        &self.sock.net
    }

    /// Borrowed halves, for reading and writing at once in one task (`tokio::join!`,
    /// `select!`).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Owned halves, for reading and writing from two tasks. The connection closes when
    /// both are dropped; dropping the write half shuts down the writing direction
    /// (tokio's rule), unless [`OwnedWriteHalf::forget`] was called.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.sock.poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.sock.poll_write(cx, buf)
    }

    /// Written data is the stack's to send from the moment `poll_write` returns (the
    /// driver is kicked at once): nothing to flush, as for a kernel socket.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// shutdown(SHUT_WR): FIN after the data; reading goes on.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.sock.shutdown_write())
    }
}
