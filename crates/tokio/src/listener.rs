//! [`TcpListener`].
use crate::net::{Dir, Net};
use crate::socket::{Socket, TcpSocket};
use crate::{TcpStream, DEFAULT_BACKLOG};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use synack_core::{Fd, SockOpt, SockOptName};

/// A listening socket of a [`Net`]: its SYN queue and accept queue are the stack's, so
/// `ss` shows Recv-Q/Send-Q as for a kernel listener and overflows count in
/// `TcpExtListenOverflows`. Dropping it closes it: connections still in its accept queue
/// are reset, as Linux does.
#[derive(Debug)]
pub struct TcpListener {
    pub(crate) sock: Socket,
}

impl TcpListener {
    /// socket(), SO_REUSEADDR (as tokio and std set it, so a restarted server is not
    /// kept off its port by TIME_WAIT), bind(), listen([`DEFAULT_BACKLOG`]).
    ///
    /// Not `async`: nothing here waits.
    pub fn bind(net: &Net, addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind_with_backlog(net, addr, DEFAULT_BACKLOG)
    }

    /// [`TcpListener::bind`] with an accept-queue length of your choosing.
    pub fn bind_with_backlog(net: &Net, addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
        let s = TcpSocket::new(net)?;
        s.set_reuseaddr(true)?;
        s.bind(addr)?;
        s.listen(backlog)
    }

    /// The oldest established connection, waiting for one if the queue is empty.
    /// Cancel-safe: a connection is taken from the queue only when it is returned.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// accept() for hand-written futures: `Pending` (the task woken when a connection
    /// is queued) while the accept queue is empty.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let net = &self.sock.net;
        self.sock
            .poll_call(cx, Dir::Read, |s, now, fd| s.accept(now, fd))
            .map_ok(|(fd, peer)| {
                let sock = Socket::adopt(net, fd);
                (TcpStream::from_socket(Arc::new(sock)), peer)
            })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// setsockopt() on the listener: `SockOpt::FastOpen(qlen)` to accept data in SYNs,
    /// `FastOpenKey`, and the options its children inherit (`NoDelay`, `KeepAlive`, ...).
    pub fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        self.sock.set_option(opt)
    }

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
}
