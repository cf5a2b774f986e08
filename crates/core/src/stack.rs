//! One host's TCP. SKELETON: the API is final, the bodies are being written.
use crate::*;
use std::net::{IpAddr, SocketAddr};

/// One host's TCP: sockets, demux, timers, counters, events.
///
/// Call order (quinn-proto style): feed inputs with `handle_packet` / `handle_timeout` /
/// socket calls, then drain `poll_transmit` until it returns false, then sleep until
/// `poll_timeout()`.
pub struct Stack {
    config: Config,
    addrs: Vec<IpAddr>,
    counters: Counters,
    events: Vec<Event>,
    capture: bool,
}

impl Stack {
    /// A host with the given addresses (the first of each family is the default source).
    pub fn new(config: Config, addrs: &[IpAddr]) -> Stack {
        Stack {
            config,
            addrs: addrs.to_vec(),
            counters: Counters::default(),
            events: Vec::new(),
            capture: false,
        }
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn addrs(&self) -> &[IpAddr] {
        &self.addrs
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    /// Record events (off by default: a benchmark pays nothing for them).
    pub fn set_capture(&mut self, on: bool) {
        self.capture = on;
    }
    /// Take the events recorded since the last call, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    // ---- inputs ----
    /// An IP packet arrived from the network.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        let _ = (now, bytes);
    }
    /// Time has advanced to `now`: fire due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    // ---- outputs ----
    /// Write the next IP packet to send into `buf` (cleared first). False: nothing to send.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        let _ = (now, buf);
        false
    }
    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    // ---- socket calls ----
    pub fn socket(&mut self, now: Instant) -> Result<Fd, Errno> {
        let _ = now;
        Err(Errno::EMFILE)
    }
    pub fn bind(&mut self, now: Instant, fd: Fd, addr: SocketAddr) -> Result<(), Errno> {
        let _ = (now, fd, addr);
        Err(Errno::EBADF)
    }
    pub fn listen(&mut self, now: Instant, fd: Fd, backlog: i32) -> Result<(), Errno> {
        let _ = (now, fd, backlog);
        Err(Errno::EBADF)
    }
    pub fn accept(&mut self, now: Instant, fd: Fd) -> Result<(Fd, SocketAddr), Errno> {
        let _ = (now, fd);
        Err(Errno::EBADF)
    }
    /// Non-blocking connect: `Err(EINPROGRESS)` while the handshake runs; the outcome shows
    /// as writable (success) or `SockOpt::Error` (failure).
    pub fn connect(&mut self, now: Instant, fd: Fd, addr: SocketAddr) -> Result<(), Errno> {
        let _ = (now, fd, addr);
        Err(Errno::EBADF)
    }
    /// Ok(0) is end of stream.
    pub fn read(&mut self, now: Instant, fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
        let _ = (now, fd, buf);
        Err(Errno::EBADF)
    }
    pub fn write(&mut self, now: Instant, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        let _ = (now, fd, data);
        Err(Errno::EBADF)
    }
    pub fn shutdown(&mut self, now: Instant, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        let _ = (now, fd, how);
        Err(Errno::EBADF)
    }
    pub fn close(&mut self, now: Instant, fd: Fd) -> Result<(), Errno> {
        let _ = (now, fd);
        Err(Errno::EBADF)
    }
    pub fn setsockopt(&mut self, now: Instant, fd: Fd, opt: SockOpt) -> Result<(), Errno> {
        let _ = (now, fd, opt);
        Err(Errno::EBADF)
    }
    pub fn getsockopt(&mut self, fd: Fd, name: SockOptName) -> Result<SockOpt, Errno> {
        let _ = (fd, name);
        Err(Errno::EBADF)
    }
    pub fn poll(&self, fd: Fd) -> Result<Readiness, Errno> {
        let _ = fd;
        Err(Errno::EBADF)
    }
    pub fn local_addr(&self, fd: Fd) -> Result<SocketAddr, Errno> {
        let _ = fd;
        Err(Errno::EBADF)
    }
    pub fn peer_addr(&self, fd: Fd) -> Result<SocketAddr, Errno> {
        let _ = fd;
        Err(Errno::EBADF)
    }
    /// The state of the connection behind `fd`.
    pub fn state(&self, fd: Fd) -> Result<TcpState, Errno> {
        let _ = fd;
        Err(Errno::EBADF)
    }
    /// Every socket, listener, request and TIME_WAIT entry, for `ss`/`netstat`.
    pub fn sockets(&self, now: Instant) -> Vec<SocketInfo> {
        let _ = now;
        Vec::new()
    }
}
