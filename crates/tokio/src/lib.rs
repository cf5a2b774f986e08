//! synack's TCP for tokio programs: [`TcpListener`] and [`TcpStream`] that behave like
//! tokio's own, but whose connections are managed by synack's sans-IO core instead of the
//! kernel.
//!
//! A [`Net`] is one host: a `synack_core::Stack` behind a mutex, and a driver task that
//! moves its segments over a device — a Linux TUN device ([`Net::tun`]), so the kernel and
//! programs such as curl talk to it, or an in-memory link between two `Net`s of one process
//! ([`Net::pair`]), so tests need neither root nor a network.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use synack_tokio::{Config, Net, Profile, TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let a = "192.0.2.1".parse().unwrap();
//! let b = "192.0.2.2".parse().unwrap();
//! let cfg = Config::for_profile(Profile::Linux);
//! let (client, server) = Net::pair(cfg.clone(), &[a], cfg, &[b])?;
//! let listener = TcpListener::bind(&server, "192.0.2.2:7".parse().unwrap())?;
//! let mut s = TcpStream::connect(&client, "192.0.2.2:7".parse().unwrap()).await?;
//! let (mut peer, _) = listener.accept().await?;
//! s.write_all(b"hello").await?;
//! let mut buf = [0; 5];
//! peer.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"hello");
//! # Ok(()) }
//! ```
//!
//! Why a mutex around the whole stack rather than a channel of commands: socket calls are
//! short and synchronous in the core (they never wait), so a caller can take the lock, make
//! the call, and learn at once whether it would block — the same shape as a non-blocking
//! socket under epoll — and register its waker under the same lock, so no wake-up can be
//! lost between "would block" and "waiting".
#![forbid(unsafe_code)]

mod device;
mod error;
mod listener;
mod net;
mod precise;
mod socket;
mod split;
mod stream;

pub use error::{errno_of, to_io_error};
pub use listener::TcpListener;
pub use net::Net;
pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use stream::{KeepAlive, TcpStream};
pub use synack_core::{
    Config, Counter, Errno, Fd, Instant, Profile, SockOpt, SockOptName, Stack, TcpInfo, TcpState,
};
pub use synack_tun::Tun;

/// The backlog of [`TcpListener::bind`], tokio's and Rust's std default (the stack caps
/// it at `net.core.somaxconn`, as Linux does).
pub const DEFAULT_BACKLOG: u32 = 1024;
