//! The descriptor under every handle, and [`TcpSocket`], a socket before it is connected
//! or listening (for options that must be set first, as with tokio's `TcpSocket`).
use crate::error::to_io_error;
use crate::net::{Dir, Net};
use crate::{TcpListener, TcpStream};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use synack_core::{Errno, Fd, Instant, SockOpt, SockOptName, Stack, TcpState};
use tokio::io::ReadBuf;

/// One open descriptor of a `Net`'s stack; closed on drop.
pub(crate) struct Socket {
    pub(crate) net: Net,
    pub(crate) fd: Fd,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket").field("fd", &self.fd).finish()
    }
}

impl Socket {
    pub(crate) fn open(net: &Net) -> io::Result<Socket> {
        let shared = net.shared();
        let fd = {
            let mut st = shared.lock();
            st.stack.socket(shared.now()).map_err(to_io_error)?
        };
        Ok(Socket {
            net: net.clone(),
            fd,
        })
    }

    /// A descriptor the stack made (accept): owned from now on.
    pub(crate) fn adopt(net: &Net, fd: Fd) -> Socket {
        Socket {
            net: net.clone(),
            fd,
        }
    }

    /// A call that changes the socket: made under the lock, then the driver is asked to
    /// send what it queued.
    pub(crate) fn call<R>(
        &self,
        f: impl FnOnce(&mut Stack, Instant, Fd) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        let shared = self.net.shared();
        let r = {
            let mut st = shared.lock();
            f(&mut st.stack, shared.now(), self.fd)
        };
        shared.kick();
        r
    }

    /// A call that only looks.
    pub(crate) fn peek<R>(
        &self,
        f: impl FnOnce(&mut Stack, Instant, Fd) -> Result<R, Errno>,
    ) -> io::Result<R> {
        let shared = self.net.shared();
        let mut st = shared.lock();
        f(&mut st.stack, shared.now(), self.fd).map_err(to_io_error)
    }

    /// A call that may have to wait: EAGAIN registers the task's waker for `dir` under
    /// the same lock, so the driver's next look at readiness finds it. EINPROGRESS (a
    /// Fast Open SYN just left without data) waits too, after the driver is kicked.
    pub(crate) fn poll_call<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Dir,
        f: impl FnOnce(&mut Stack, Instant, Fd) -> Result<R, Errno>,
    ) -> Poll<io::Result<R>> {
        let shared = self.net.shared();
        let mut st = shared.lock();
        let r = f(&mut st.stack, shared.now(), self.fd);
        match r {
            Ok(v) => {
                drop(st);
                shared.kick();
                Poll::Ready(Ok(v))
            }
            Err(Errno::EAGAIN) => {
                if let Err(e) = st.check_running() {
                    return Poll::Ready(Err(e));
                }
                st.register(self.fd, dir, cx.waker());
                Poll::Pending
            }
            Err(Errno::EINPROGRESS) => {
                if let Err(e) = st.check_running() {
                    return Poll::Ready(Err(e));
                }
                st.register(self.fd, dir, cx.waker());
                drop(st);
                shared.kick();
                Poll::Pending
            }
            Err(e) => {
                drop(st);
                // A failed call may still have changed the stack (an error taken).
                shared.kick();
                Poll::Ready(Err(to_io_error(e)))
            }
        }
    }

    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let dst = buf.initialize_unfilled();
        match self.poll_call(cx, Dir::Read, |s, now, fd| s.read(now, fd, dst)) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_call(cx, Dir::Write, |s, now, fd| s.write(now, fd, data))
    }

    /// shutdown(SHUT_WR): the peer reads EOF once what was written has arrived.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        self.call(|s, now, fd| s.shutdown(now, fd, synack_core::Shutdown::Write))
            .map_err(to_io_error)
    }

    /// Ready once connect() has an outcome: writable (connected) or an error (what
    /// `SO_ERROR` holds: ECONNREFUSED, ETIMEDOUT, ...), as a non-blocking connect is
    /// finished on Linux.
    pub(crate) fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let shared = self.net.shared();
        let mut st = shared.lock();
        let r = match st.stack.poll(self.fd) {
            Ok(r) => r,
            Err(e) => return Poll::Ready(Err(to_io_error(e))),
        };
        if !(r.writable || r.error || r.hup) {
            if let Err(e) = st.check_running() {
                return Poll::Ready(Err(e));
            }
            st.register(self.fd, Dir::Write, cx.waker());
            return Poll::Pending;
        }
        if let Ok(SockOpt::Error(Some(e))) = st.stack.getsockopt(self.fd, SockOptName::Error) {
            return Poll::Ready(Err(to_io_error(e)));
        }
        match st.stack.state(self.fd) {
            Ok(TcpState::Closed) => Poll::Ready(Err(to_io_error(Errno::ECONNABORTED))),
            Ok(_) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(to_io_error(e))),
        }
    }

    pub(crate) async fn connected(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_connected(cx)).await
    }

    pub(crate) fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        self.call(|s, now, fd| s.setsockopt(now, fd, opt))
            .map_err(to_io_error)
    }

    pub(crate) fn option(&self, name: SockOptName) -> io::Result<SockOpt> {
        self.peek(|s, _, fd| s.getsockopt(fd, name))
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.peek(|s, _, fd| s.local_addr(fd))
    }
}

impl Drop for Socket {
    /// close(): the stack decides what the peer sees (FIN; RST if data was left unread
    /// or SO_LINGER is {on, 0}), and keeps closing the connection as an orphan.
    fn drop(&mut self) {
        let shared = self.net.shared();
        {
            let mut st = shared.lock();
            let now = shared.now();
            let _ = st.stack.close(now, self.fd);
            st.forget(self.fd);
        }
        shared.kick();
    }
}

/// A socket before `connect` or `listen`: set the options that must come first
/// (`SO_REUSEADDR`, `TCP_FASTOPEN_CONNECT`, `TCP_FASTOPEN`, buffer sizes, `TCP_SYNCNT`),
/// `bind` if needed, then turn it into a [`TcpStream`] or a [`TcpListener`].
#[derive(Debug)]
pub struct TcpSocket {
    pub(crate) sock: Socket,
}

impl TcpSocket {
    /// socket(): a fresh descriptor on `net` (EMFILE past `max_sockets`).
    pub fn new(net: &Net) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            sock: Socket::open(net)?,
        })
    }

    /// setsockopt().
    pub fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        self.sock.set_option(opt)
    }

    /// getsockopt().
    pub fn option(&self, name: SockOptName) -> io::Result<SockOpt> {
        self.sock.option(name)
    }

    /// SO_REUSEADDR.
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.set_option(SockOpt::ReuseAddr(on))
    }

    /// TCP_FASTOPEN_CONNECT: `connect` returns at once when a Fast Open cookie for the
    /// server is cached, and the first write goes out in the SYN (Linux's way to use
    /// Fast Open from code written for plain connect; needs the client bit of
    /// `net.ipv4.tcp_fastopen`, else EOPNOTSUPP).
    pub fn set_fastopen_connect(&self, on: bool) -> io::Result<()> {
        self.set_option(SockOpt::FastOpenConnect(on))
    }

    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.sock
            .call(|s, now, fd| s.bind(now, fd, addr))
            .map_err(to_io_error)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// The descriptor in the stack (for `Net::with_stack`).
    pub fn fd(&self) -> Fd {
        self.sock.fd
    }

    /// connect(), waiting for the handshake: ECONNREFUSED when the peer answers RST,
    /// ETIMEDOUT when the SYN retries run out (`tcp_syn_retries`: 63 s by default; wrap
    /// the future in `tokio::time::timeout` for less). Dropping the future abandons the
    /// attempt (the socket closes).
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.sock.call(|s, now, fd| s.connect(now, fd, addr)) {
            // A deferred Fast Open connect: the SYN leaves with the first write.
            Ok(()) => {}
            Err(Errno::EINPROGRESS) => self.sock.connected().await?,
            Err(e) => return Err(to_io_error(e)),
        }
        Ok(TcpStream::from_socket(Arc::new(self.sock)))
    }

    /// sendto(MSG_FASTOPEN), then the rest of `data`: with a cached cookie the SYN
    /// carries what fits of `data` and the server may answer within one RTT; without
    /// one the SYN asks for a cookie and `data` follows the handshake. Returns once the
    /// connection is established and all of `data` is queued.
    pub async fn connect_fastopen(self, addr: SocketAddr, data: &[u8]) -> io::Result<TcpStream> {
        let sent = match self
            .sock
            .call(|s, now, fd| s.sendto_fastopen(now, fd, addr, data))
        {
            Ok(n) => n,
            Err(Errno::EINPROGRESS) => 0,
            Err(e) => return Err(to_io_error(e)),
        };
        self.sock.connected().await?;
        let mut stream = TcpStream::from_socket(Arc::new(self.sock));
        tokio::io::AsyncWriteExt::write_all(&mut stream, &data[sent.min(data.len())..]).await?;
        Ok(stream)
    }

    /// listen(): a [`TcpListener`] with this accept-queue length (Linux keeps up to
    /// `backlog + 1` established connections waiting; capped by `net.core.somaxconn`).
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self.sock
            .call(|s, now, fd| s.listen(now, fd, backlog))
            .map_err(to_io_error)?;
        Ok(TcpListener { sock: self.sock })
    }
}
