//! A [`TcpStream`]'s halves, as tokio's `TcpStream::split` and `into_split` give them.
//!
//! Both halves share the descriptor; the read half's waiting task and the write half's
//! are kept apart (one waker list per direction), so a reader blocked on an idle
//! connection never keeps a writer from being woken, and the other way round.
use crate::socket::Socket;
use crate::TcpStream;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The reading half of a borrowed [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a Socket);

/// The writing half of a borrowed [`TcpStream::split`]; `shutdown` sends FIN.
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a Socket);

pub(crate) fn split(s: &mut TcpStream) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf(&s.sock), WriteHalf(&s.sock))
}

/// The reading half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    sock: Arc<Socket>,
}

/// The writing half of [`TcpStream::into_split`]. Dropping it shuts the writing
/// direction down (FIN) unless [`OwnedWriteHalf::forget`] was called; the connection
/// closes when both halves are gone.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    sock: Arc<Socket>,
    shutdown_on_drop: bool,
}

pub(crate) fn into_split(s: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let sock = s.sock;
    (
        OwnedReadHalf { sock: sock.clone() },
        OwnedWriteHalf {
            sock,
            shutdown_on_drop: true,
        },
    )
}

/// [`OwnedReadHalf::reunite`] with halves of two different streams: both given back.
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Debug for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl std::error::Error for ReuniteError {}

impl OwnedReadHalf {
    /// The stream again, if `w` is this half's other half.
    pub fn reunite(self, w: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if Arc::ptr_eq(&self.sock, &w.sock) {
            let mut w = w;
            w.shutdown_on_drop = false;
            let sock = self.sock.clone();
            drop(self);
            drop(w);
            Ok(TcpStream::from_socket(sock))
        } else {
            Err(ReuniteError(self, w))
        }
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peek(|s, _, fd| s.peer_addr(fd))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }
}

impl OwnedWriteHalf {
    /// [`OwnedReadHalf::reunite`] from this side.
    pub fn reunite(self, r: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        r.reunite(self)
    }

    /// Drop without shutting the writing direction down.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peek(|s, _, fd| s.peer_addr(fd))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // Already shut, or the connection is gone: nothing more to say.
            let _ = self.sock.shutdown_write();
        }
    }
}

macro_rules! read_impl {
    ($t:ty, $($lt:lifetime)?) => {
        impl$(<$lt>)? AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.sock_ref().poll_read(cx, buf)
            }
        }
    };
}

macro_rules! write_impl {
    ($t:ty, $($lt:lifetime)?) => {
        impl$(<$lt>)? AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.sock_ref().poll_write(cx, buf)
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.sock_ref().shutdown_write())
            }
        }
    };
}

trait SockRef {
    fn sock_ref(&self) -> &Socket;
}
impl SockRef for ReadHalf<'_> {
    fn sock_ref(&self) -> &Socket {
        self.0
    }
}
impl SockRef for WriteHalf<'_> {
    fn sock_ref(&self) -> &Socket {
        self.0
    }
}
impl SockRef for OwnedReadHalf {
    fn sock_ref(&self) -> &Socket {
        &self.sock
    }
}
impl SockRef for OwnedWriteHalf {
    fn sock_ref(&self) -> &Socket {
        &self.sock
    }
}

read_impl!(ReadHalf<'a>, 'a);
read_impl!(OwnedReadHalf,);
write_impl!(WriteHalf<'a>, 'a);
write_impl!(OwnedWriteHalf,);
