//! System-call lines, run against our socket API.
//!
//! The stack's API never blocks. A call on a blocking socket that would block (connect
//! before the handshake, read before data, accept before a child, write into a full
//! buffer, poll with a timeout) stays pending while the script's later events run, and
//! returns when the stack unblocks it, exactly as packetdrill's syscall thread does; its
//! return time is then checked against `+a...b`.
use crate::runner::{errno_str, fmt_t, Failure, Flow, Handle, Runner, Sut, SCRIPT_PORT};
use crate::script::{Expr, Syscall, Usecs};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use synack_core::{Errno, Fd, Instant, Readiness, Shutdown, SockOpt, SockOptName};

type CallResult = Result<i64, Errno>;

/// A blocked call, retried whenever the stack may have changed.
#[derive(Clone, Debug)]
pub(crate) enum Blocked {
    Connect {
        fd: Fd,
    },
    Accept {
        fd: Fd,
    },
    Read {
        fd: Fd,
        n: usize,
    },
    /// `connecting`: bytes went out in a (Fast Open) SYN; the call waits for the
    /// handshake, and fails with the connection's error if it fails.
    Write {
        fd: Fd,
        n: usize,
        done: usize,
        connecting: bool,
    },
    Poll {
        items: Vec<PollItem>,
    },
    EpollWait {
        ep: i32,
        expect: Expr,
        max: usize,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct PollItem {
    sfd: i32,
    events: u32,
    revents: Option<u32>,
}

pub(crate) struct Pending {
    call: Blocked,
    /// When a poll() or epoll_wait() gives up (returns 0).
    pub timeout: Option<Instant>,
    sc: Syscall,
    /// The time it must return at, and the tolerance.
    end: Usecs,
    tol: Usecs,
    line: usize,
}

/// An epoll instance: watched script fds with their event masks, and the readiness last
/// reported (for EPOLLET, which reports edges).
#[derive(Default)]
pub(crate) struct Epoll {
    watch: BTreeMap<i32, u32>,
    reported: BTreeMap<i32, u32>,
}

const POLLIN: u32 = 0x1;
const POLLOUT: u32 = 0x4;
const POLLERR: u32 = 0x8;
const POLLHUP: u32 = 0x10;
const POLLNVAL: u32 = 0x20;
const POLLRDNORM: u32 = 0x40;
const POLLWRNORM: u32 = 0x100;
const POLLRDHUP: u32 = 0x2000;
const EPOLLET: u32 = 1 << 31;
const O_NONBLOCK: i64 = 0o4000;
const MSG_DONTWAIT: i64 = 0x40;
const MSG_FASTOPEN: i64 = 0x2000_0000;
const MSG_PEEK: i64 = 0x2;

/// Linux's values for the names scripts use.
fn constant(name: &str) -> Option<i64> {
    Some(match name {
        "AF_INET" | "PF_INET" => 2,
        "AF_INET6" | "PF_INET6" => 10,
        "AF_UNSPEC" => 0,
        "SOCK_STREAM" => 1,
        "SOCK_NONBLOCK" => O_NONBLOCK,
        "SOCK_CLOEXEC" => 0o2000000,
        "IPPROTO_TCP" | "SOL_TCP" => 6,
        "IPPROTO_IP" => 0,
        "SOL_SOCKET" => 1,
        "O_RDONLY" => 0,
        "O_WRONLY" => 1,
        "O_RDWR" => 2,
        "O_NONBLOCK" => O_NONBLOCK,
        "F_GETFL" => 3,
        "F_SETFL" => 4,
        "SHUT_RD" => 0,
        "SHUT_WR" => 1,
        "SHUT_RDWR" => 2,
        "MSG_PEEK" => MSG_PEEK,
        "MSG_DONTWAIT" => MSG_DONTWAIT,
        "MSG_NOSIGNAL" => 0x4000,
        "MSG_MORE" => 0x8000,
        "MSG_FASTOPEN" => MSG_FASTOPEN,
        "MSG_ZEROCOPY" => 0x400_0000,
        "POLLIN" => POLLIN as i64,
        "POLLPRI" => 0x2,
        "POLLOUT" => POLLOUT as i64,
        "POLLERR" => POLLERR as i64,
        "POLLHUP" => POLLHUP as i64,
        "POLLNVAL" => POLLNVAL as i64,
        "POLLRDNORM" => POLLRDNORM as i64,
        "POLLRDBAND" => 0x80,
        "POLLWRNORM" => POLLWRNORM as i64,
        "POLLWRBAND" => 0x200,
        "POLLRDHUP" => POLLRDHUP as i64,
        "EPOLLIN" => POLLIN as i64,
        "EPOLLPRI" => 0x2,
        "EPOLLOUT" => POLLOUT as i64,
        "EPOLLERR" => POLLERR as i64,
        "EPOLLHUP" => POLLHUP as i64,
        "EPOLLRDNORM" => POLLRDNORM as i64,
        "EPOLLWRNORM" => POLLWRNORM as i64,
        "EPOLLRDHUP" => POLLRDHUP as i64,
        "EPOLLET" => EPOLLET as i64,
        "EPOLL_CTL_ADD" => 1,
        "EPOLL_CTL_DEL" => 2,
        "EPOLL_CTL_MOD" => 3,
        "SIOCINQ" | "FIONREAD" => 0x541b,
        "SIOCOUTQ" | "TIOCOUTQ" => 0x5411,
        _ => return None,
    })
}

/// An integer argument: a number, a known name, `A|B`, or `[n]`.
fn int(e: &Expr) -> Result<i64, String> {
    match e {
        Expr::Int(n) => Ok(*n),
        Expr::Name(n) => constant(n).ok_or_else(|| format!("unsupported: constant {n}")),
        Expr::Or(v) => v.iter().try_fold(0, |acc, x| Ok(acc | int(x)?)),
        Expr::List(v) if v.len() == 1 => int(&v[0]),
        other => Err(format!("expected a number, found {other}")),
    }
}

fn arg(sc: &Syscall, i: usize) -> Result<&Expr, String> {
    sc.args
        .get(i)
        .ok_or_else(|| format!("{}() needs argument {}", sc.name, i + 1))
}

fn field<'a>(fields: &'a [(String, Expr)], name: &str) -> Option<&'a Expr> {
    fields.iter().find(|(n, _)| n == name).map(|(_, e)| e)
}

fn poll_bits(r: Readiness) -> u32 {
    let mut m = 0;
    if r.readable {
        m |= POLLIN | POLLRDNORM;
    }
    if r.writable {
        m |= POLLOUT | POLLWRNORM;
    }
    if r.read_hup {
        m |= POLLRDHUP;
    }
    if r.hup {
        m |= POLLHUP;
    }
    if r.error {
        m |= POLLERR;
    }
    m
}

fn bits_str(m: u32) -> String {
    let names = [
        (POLLIN, "POLLIN"),
        (0x2, "POLLPRI"),
        (POLLOUT, "POLLOUT"),
        (POLLERR, "POLLERR"),
        (POLLHUP, "POLLHUP"),
        (POLLNVAL, "POLLNVAL"),
        (POLLRDNORM, "POLLRDNORM"),
        (POLLWRNORM, "POLLWRNORM"),
        (POLLRDHUP, "POLLRDHUP"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| m & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "0".into()
    } else {
        v.join("|")
    }
}

/// What happened when a call was started.
enum Step {
    Done(CallResult),
    Blocked(Blocked, Option<Instant>),
}

impl Runner {
    fn sock(&self, sfd: i64) -> Result<(Fd, bool), CallResult> {
        match self.fds.get(&(sfd as i32)) {
            Some(Handle::Sock { fd, nonblock }) => Ok((*fd, *nonblock)),
            Some(Handle::Epoll(_)) => Err(Err(Errno::ENOTSOCK)),
            None => Err(Err(Errno::EBADF)),
        }
    }

    /// The lowest free script descriptor (sockets and epoll instances share the space).
    fn alloc_fd(&self) -> i32 {
        (3..).find(|n| !self.fds.contains_key(n)).unwrap_or(3)
    }

    /// The descriptor a call that creates one names in the script (`socket(...) = 4`):
    /// as in packetdrill, script descriptors are names mapped to live ones, so only
    /// success is checked, not the number.
    fn script_fd(&self, sc: &Syscall) -> i32 {
        match sc.result {
            Expr::Int(n) if n >= 0 && !self.fds.contains_key(&(n as i32)) => n as i32,
            _ => self.alloc_fd(),
        }
    }

    pub(crate) fn syscall(
        &mut self,
        sc: &Syscall,
        start: Usecs,
        end: Option<Usecs>,
    ) -> Result<(), Failure> {
        let expected_end = end.unwrap_or(start);
        let tol = self.tol(expected_end);
        let step = self.start(sc)?;
        match step {
            Step::Done(r) => {
                self.check_return_time(sc, expected_end, tol, self.line)?;
                self.check_result(sc, r, self.line)
            }
            Step::Blocked(call, timeout) => {
                self.note(|| format!("{}() blocks", sc.name));
                self.pending = Some(Pending {
                    call,
                    timeout,
                    sc: sc.clone(),
                    end: expected_end,
                    tol,
                    line: self.line,
                });
                Ok(())
            }
        }
    }

    fn check_return_time(
        &self,
        sc: &Syscall,
        end: Usecs,
        tol: Usecs,
        line: usize,
    ) -> Result<(), Failure> {
        let now = self.now.as_micros() as Usecs;
        if (now - end).abs() > tol {
            return Err(format!(
                "{}() (line {line}) returned at {}, expected at {} (±{} ms)",
                sc.name,
                fmt_t(now),
                fmt_t(end),
                tol as f64 / 1000.0
            ));
        }
        Ok(())
    }

    fn check_result(&mut self, sc: &Syscall, got: CallResult, line: usize) -> Result<(), Failure> {
        let shown = match got {
            Ok(v) => v.to_string(),
            Err(e) => format!("-1 {}", errno_str(e)),
        };
        self.note_result(sc, &shown);
        let want = match &sc.result {
            Expr::Ellipsis => return Ok(()),
            e => int(e)?,
        };
        let creates_fd = matches!(
            sc.name.as_str(),
            "socket" | "accept" | "accept4" | "epoll_create" | "epoll_create1"
        );
        let ok = match got {
            Ok(_) if creates_fd => want >= 0,
            Ok(v) => v == want,
            Err(e) => want == -1 && sc.errno.as_deref().is_none_or(|n| n == e.name()),
        };
        if ok {
            return Ok(());
        }
        let expected = match &sc.errno {
            Some(n) => format!("{want} {n}"),
            None => want.to_string(),
        };
        let hint = self.hint(sc);
        Err(format!(
            "{}() (line {line}) returned {shown} at {}, expected {expected}{hint}",
            sc.name,
            fmt_t(self.now.as_micros() as Usecs)
        ))
    }

    fn note_result(&mut self, sc: &Syscall, shown: &str) {
        let name = sc.name.clone();
        self.note(|| format!("{name}() = {shown}"));
    }

    /// Why a call may differ: features synack does not have yet.
    fn hint(&self, sc: &Syscall) -> String {
        let fastopen = sc.args.iter().any(|a| {
            let s = a.to_string();
            s.contains("FASTOPEN")
        });
        if fastopen {
            " (synack has no TCP Fast Open yet: issue 6)".into()
        } else {
            String::new()
        }
    }

    /// Retry the pending call; on return, check its time and result.
    pub(crate) fn check_pending(&mut self) -> Result<(), Failure> {
        let Some(mut p) = self.pending.take() else {
            return Ok(());
        };
        let timed_out = p.timeout.is_some_and(|t| self.now >= t);
        match self.retry(&mut p.call, timed_out)? {
            Some(r) => {
                self.note(|| format!("{}() returns", p.sc.name));
                self.check_return_time(&p.sc, p.end, p.tol, p.line)?;
                self.check_result(&p.sc, r, p.line)?;
                self.collect();
                Ok(())
            }
            None => {
                self.pending = Some(p);
                Ok(())
            }
        }
    }

    /// Let the pending call finish: run the stack until it returns or its time is past.
    pub(crate) fn finish_pending(&mut self) -> Result<(), Failure> {
        while let Some(p) = &self.pending {
            let limit = Instant::from_micros((p.end + p.tol).max(0) as u64);
            let (name, line, end) = (p.sc.name.clone(), p.line, p.end);
            if self.now > limit {
                return Err(format!(
                    "{name}() (line {line}) had not returned at {}, expected at {}",
                    fmt_t(self.now.as_micros() as Usecs),
                    fmt_t(end)
                ));
            }
            let next = [self.stack.poll_timeout(), p.timeout]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(d) if d <= limit => self.advance_to(d.max(self.now))?,
                _ => {
                    self.advance_to(limit)?;
                    if self.pending.is_some() {
                        return Err(format!(
                            "{name}() (line {line}) never returned (still blocked at {}), expected at {}",
                            fmt_t(self.now.as_micros() as Usecs),
                            fmt_t(end)
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Start a call: its result, or that it blocks.
    fn start(&mut self, sc: &Syscall) -> Result<Step, Failure> {
        let done = |r| Ok(Step::Done(r));
        match sc.name.as_str() {
            "socket" => {
                let ty = int(arg(sc, 1)?)?;
                if ty & 0xf != 1 {
                    return Err("unsupported: socket type other than SOCK_STREAM".into());
                }
                match self.stack.socket(self.now) {
                    Ok(fd) => {
                        let sfd = self.script_fd(sc);
                        self.fds.insert(
                            sfd,
                            Handle::Sock {
                                fd,
                                nonblock: ty & O_NONBLOCK != 0,
                            },
                        );
                        self.sut = Some(Sut::Socket(sfd));
                        done(Ok(sfd as i64))
                    }
                    Err(e) => done(Err(e)),
                }
            }
            "bind" => {
                let (fd, _) = match self.sock(int(arg(sc, 0)?)?) {
                    Ok(x) => x,
                    Err(r) => return done(r),
                };
                let a = SocketAddr::new(self.local_ip, SCRIPT_PORT);
                done(self.stack.bind(self.now, fd, a).map(|_| 0))
            }
            "listen" => {
                let (fd, _) = match self.sock(int(arg(sc, 0)?)?) {
                    Ok(x) => x,
                    Err(r) => return done(r),
                };
                let backlog = int(arg(sc, 1)?)? as i32;
                done(self.stack.listen(self.now, fd, backlog).map(|_| 0))
            }
            "accept" | "accept4" => {
                let (fd, nb) = match self.sock(int(arg(sc, 0)?)?) {
                    Ok(x) => x,
                    Err(r) => return done(r),
                };
                self.accept_fd = Some(self.script_fd(sc));
                self.blocking(Blocked::Accept { fd }, nb)
            }
            "connect" => {
                let sfd = int(arg(sc, 0)?)?;
                let (fd, nb) = match self.sock(sfd) {
                    Ok(x) => x,
                    Err(r) => return done(r),
                };
                let remote = SocketAddr::new(self.remote_ip, SCRIPT_PORT);
                let r = self.stack.connect(self.now, fd, remote);
                if matches!(r, Ok(()) | Err(Errno::EINPROGRESS)) {
                    self.define_active_flow(fd, remote);
                }
                match r {
                    Err(Errno::EINPROGRESS) if !nb => {
                        Ok(Step::Blocked(Blocked::Connect { fd }, None))
                    }
                    r => done(r.map(|_| 0)),
                }
            }
            "read" | "recv" | "recvfrom" => {
                let (fd, nb) = match self.sock(int(arg(sc, 0)?)?) {
                    Ok(x) => x,
                    Err(r) => return done(r),
                };
                let n = int(arg(sc, 2)?)? as usize;
                let flags = if sc.name == "read" {
                    0
                } else {
                    int(arg(sc, 3)?)?
                };
                if flags & MSG_PEEK != 0 {
                    return Err("unsupported: MSG_PEEK".into());
                }
                self.blocking(Blocked::Read { fd, n }, nb || flags & MSG_DONTWAIT != 0)
            }
            "write" | "send" | "sendto" => {
                let (fd, nb) = match self.sock(int(arg(sc, 0)?)?) {
                    Ok(x) => x,
                    Err(r) => return done(r),
                };
                let n = int(arg(sc, 2)?)? as usize;
                let flags = if sc.name == "write" {
                    0
                } else {
                    int(arg(sc, 3)?)?
                };
                let nb = nb || flags & MSG_DONTWAIT != 0;
                if flags & MSG_FASTOPEN != 0 {
                    return self.sendto_fastopen(sc, fd, n, nb);
                }
                let call = Blocked::Write {
                    fd,
                    n,
                    done: 0,
                    connecting: false,
                };
                self.blocking(call, nb)
            }
            "readv" | "recvmsg" | "writev" | "sendmsg" => Err(format!(
                "unsupported: {}() (scatter/gather arguments)",
                sc.name
            )),
            "close" => {
                let sfd = int(arg(sc, 0)?)? as i32;
                match self.fds.remove(&sfd) {
                    Some(Handle::Sock { fd, .. }) => {
                        done(self.stack.close(self.now, fd).map(|_| 0))
                    }
                    Some(Handle::Epoll(_)) => done(Ok(0)),
                    None => done(Err(Errno::EBADF)),
                }
            }
            "shutdown" => {
                let (fd, _) = match self.sock(int(arg(sc, 0)?)?) {
                    Ok(x) => x,
                    Err(r) => return done(r),
                };
                let how = match int(arg(sc, 1)?)? {
                    0 => Shutdown::Read,
                    1 => Shutdown::Write,
                    2 => Shutdown::Both,
                    _ => return done(Err(Errno::EINVAL)),
                };
                done(self.stack.shutdown(self.now, fd, how).map(|_| 0))
            }
            "setsockopt" => self.setsockopt(sc),
            "getsockopt" => self.getsockopt(sc),
            "fcntl" => {
                let sfd = int(arg(sc, 0)?)? as i32;
                let cmd = int(arg(sc, 1)?)?;
                let Some(Handle::Sock { nonblock, .. }) = self.fds.get_mut(&sfd) else {
                    return done(Err(Errno::EBADF));
                };
                match cmd {
                    3 => done(Ok(2 | if *nonblock { O_NONBLOCK } else { 0 })),
                    4 => {
                        *nonblock = int(arg(sc, 2)?)? & O_NONBLOCK != 0;
                        done(Ok(0))
                    }
                    _ => Err(format!("unsupported: fcntl command {}", arg(sc, 1)?)),
                }
            }
            "ioctl" => {
                let (fd, _) = match self.sock(int(arg(sc, 0)?)?) {
                    Ok(x) => x,
                    Err(r) => return done(r),
                };
                match int(arg(sc, 1)?)? {
                    0x541b => match self.stack.inq(fd) {
                        Ok(n) => {
                            let want = int(arg(sc, 2)?)?;
                            if n as i64 != want {
                                return Err(format!("ioctl(SIOCINQ) gave {n}, expected {want}"));
                            }
                            done(Ok(0))
                        }
                        Err(e) => done(Err(e)),
                    },
                    _ => Err(format!("unsupported: ioctl {}", arg(sc, 1)?)),
                }
            }
            "poll" => self.poll(sc),
            "epoll_create" | "epoll_create1" => {
                let sfd = self.script_fd(sc);
                self.fds.insert(sfd, Handle::Epoll(Epoll::default()));
                done(Ok(sfd as i64))
            }
            "epoll_ctl" => {
                let ep = int(arg(sc, 0)?)? as i32;
                let op = int(arg(sc, 1)?)?;
                let target = int(arg(sc, 2)?)? as i32;
                let events = match arg(sc, 3)? {
                    Expr::Struct(f) => field(f, "events").map(int).transpose()?.unwrap_or(0) as u32,
                    _ => 0,
                };
                if !self.fds.contains_key(&target) {
                    return done(Err(Errno::EBADF));
                }
                let Some(Handle::Epoll(e)) = self.fds.get_mut(&ep) else {
                    return done(Err(Errno::EINVAL));
                };
                match op {
                    1 | 3 => {
                        e.watch.insert(target, events);
                        e.reported.remove(&target);
                    }
                    2 => {
                        e.watch.remove(&target);
                    }
                    _ => return done(Err(Errno::EINVAL)),
                }
                done(Ok(0))
            }
            "epoll_wait" => {
                let ep = int(arg(sc, 0)?)? as i32;
                let expect = arg(sc, 1)?.clone();
                let max = int(arg(sc, 2)?)?.max(1) as usize;
                let timeout = int(arg(sc, 3)?)?;
                let mut call = Blocked::EpollWait { ep, expect, max };
                match self.retry(&mut call, timeout == 0)? {
                    Some(r) => done(r),
                    None => Ok(Step::Blocked(call, self.timeout_after(timeout))),
                }
            }
            other => Err(format!("unsupported: system call {other}()")),
        }
    }

    /// sendto(MSG_FASTOPEN): the stack sends the SYN with what fits; a blocking socket then
    /// waits for the handshake and sends the rest, as Linux's tcp_sendmsg does.
    fn sendto_fastopen(
        &mut self,
        sc: &Syscall,
        fd: Fd,
        n: usize,
        nb: bool,
    ) -> Result<Step, Failure> {
        // sendto's address: `...` is the remote; AF_UNSPEC is refused (EOPNOTSUPP).
        if matches!(sc.args.get(4), Some(Expr::Name(f)) if f == "AF_UNSPEC") {
            return Ok(Step::Done(Err(Errno::EOPNOTSUPP)));
        }
        let remote = SocketAddr::new(self.remote_ip, SCRIPT_PORT);
        let data = vec![0u8; n];
        let was_fresh = self.stack.state(fd).ok() == Some(synack_core::TcpState::Closed);
        let r = self.stack.sendto_fastopen(self.now, fd, remote, &data);
        if was_fresh && matches!(r, Ok(_) | Err(Errno::EINPROGRESS)) {
            self.define_active_flow(fd, remote);
        }
        let done = match r {
            Ok(k) => k,
            Err(Errno::EINPROGRESS) => 0,
            Err(e) => return Ok(Step::Done(Err(e))),
        };
        // A blocking sendto waits for the handshake even when everything fit in the SYN.
        if nb {
            return Ok(Step::Done(if r.is_ok() {
                Ok(done as i64)
            } else {
                Err(Errno::EINPROGRESS)
            }));
        }
        let call = Blocked::Write {
            fd,
            n,
            done,
            connecting: true,
        };
        self.blocking(call, false)
    }

    fn timeout_after(&self, ms: i64) -> Option<Instant> {
        (ms >= 0).then(|| self.now + std::time::Duration::from_millis(ms as u64))
    }

    /// Try `call` once; if it would block and the socket blocks, it waits.
    fn blocking(&mut self, mut call: Blocked, nonblock: bool) -> Result<Step, Failure> {
        match self.retry(&mut call, nonblock)? {
            Some(r) => Ok(Step::Done(r)),
            None => Ok(Step::Blocked(call, None)),
        }
    }

    /// One attempt. `None`: still blocked. With `give_up`, a call that would block
    /// returns what a non-blocking call returns (EAGAIN, or 0 for poll).
    fn retry(&mut self, call: &mut Blocked, give_up: bool) -> Result<Option<CallResult>, Failure> {
        let now = self.now;
        Ok(match call {
            Blocked::Connect { fd } => {
                let r = self.stack.poll(*fd).unwrap_or_default();
                if r.error || r.writable || r.hup {
                    match self.stack.getsockopt(*fd, SockOptName::Error) {
                        Ok(SockOpt::Error(Some(e))) => Some(Err(e)),
                        _ => Some(Ok(0)),
                    }
                } else {
                    None
                }
            }
            Blocked::Accept { fd } => match self.stack.accept(now, *fd) {
                Ok((child, peer)) => {
                    let sfd = self.accept_fd.take().unwrap_or_else(|| self.alloc_fd());
                    self.fds.insert(
                        sfd,
                        Handle::Sock {
                            fd: child,
                            nonblock: false,
                        },
                    );
                    let local = self.stack.local_addr(child).ok();
                    if let Some(f) = self
                        .flows
                        .iter_mut()
                        .rev()
                        .find(|f| f.remote == peer && Some(f.local) == local)
                    {
                        f.fd = Some(child);
                    }
                    Some(Ok(sfd as i64))
                }
                Err(Errno::EAGAIN) if !give_up => None,
                Err(e) => Some(Err(e)),
            },
            Blocked::Read { fd, n } => {
                let mut buf = vec![0u8; *n];
                match self.stack.read(now, *fd, &mut buf) {
                    Ok(k) => Some(Ok(k as i64)),
                    Err(Errno::EAGAIN) if !give_up => None,
                    Err(e) => Some(Err(e)),
                }
            }
            Blocked::Write {
                fd,
                n,
                done,
                connecting,
            } => {
                use synack_core::TcpState::SynSent;
                let data = vec![0u8; *n];
                let mut first = *n == 0;
                loop {
                    let state = self.stack.state(*fd).ok();
                    if *connecting {
                        match state {
                            Some(SynSent) if !give_up => break None,
                            Some(SynSent) => break Some(Ok(*done as i64)),
                            _ => {}
                        }
                    }
                    // A zero-length write still reaches the stack once (it may send a
                    // deferred Fast Open SYN).
                    if *done == *n && !std::mem::take(&mut first) {
                        break Some(Ok(*done as i64));
                    }
                    match self.stack.write(now, *fd, &data[*done..]) {
                        Ok(k) => {
                            *done += k;
                            // Data that left in a SYN: the call now waits for the handshake.
                            if self.stack.state(*fd) == Ok(SynSent) {
                                *connecting = true;
                            }
                        }
                        Err(Errno::EAGAIN) if !give_up => break None,
                        // The connection failed: Linux reports that, not the SYN's bytes.
                        Err(e) if *connecting => break Some(Err(e)),
                        Err(_) if *done > 0 => break Some(Ok(*done as i64)),
                        Err(e) => break Some(Err(e)),
                    }
                }
            }
            Blocked::Poll { items } => {
                let mut ready = 0;
                let mut got = Vec::new();
                for it in items.iter() {
                    let m = match self.fds.get(&it.sfd) {
                        Some(Handle::Sock { fd, .. }) => {
                            poll_bits(self.stack.poll(*fd).unwrap_or_default())
                                & (it.events | POLLERR | POLLHUP)
                        }
                        _ => POLLNVAL,
                    };
                    if m != 0 {
                        ready += 1;
                    }
                    got.push(m);
                }
                if ready == 0 && !give_up {
                    return Ok(None);
                }
                for (it, m) in items.iter().zip(&got) {
                    if let Some(want) = it.revents {
                        if want != *m {
                            return Err(format!(
                                "poll(): fd {} revents {}, expected {}",
                                it.sfd,
                                bits_str(*m),
                                bits_str(want)
                            ));
                        }
                    }
                }
                Some(Ok(ready))
            }
            Blocked::EpollWait { ep, expect, max } => {
                let Some(Handle::Epoll(e)) = self.fds.get(ep) else {
                    return Ok(Some(Err(Errno::EBADF)));
                };
                let watch: Vec<(i32, u32)> = e.watch.iter().map(|(a, b)| (*a, *b)).collect();
                let mut events = Vec::new();
                let mut reported = Vec::new();
                for (sfd, mask) in watch {
                    let m = match self.fds.get(&sfd) {
                        Some(Handle::Sock { fd, .. }) => {
                            poll_bits(self.stack.poll(*fd).unwrap_or_default())
                                & (mask | POLLERR | POLLHUP)
                        }
                        _ => 0,
                    };
                    let edge = if mask & EPOLLET != 0 {
                        let before = match self.fds.get(ep) {
                            Some(Handle::Epoll(e)) => e.reported.get(&sfd).copied().unwrap_or(0),
                            _ => 0,
                        };
                        m & !before
                    } else {
                        m
                    };
                    reported.push((sfd, m));
                    if edge != 0 && events.len() < *max {
                        events.push((sfd, edge));
                    }
                }
                if let Some(Handle::Epoll(e)) = self.fds.get_mut(ep) {
                    for (sfd, m) in reported {
                        e.reported.insert(sfd, m);
                    }
                }
                if events.is_empty() && !give_up {
                    return Ok(None);
                }
                let want: Vec<(i64, i64)> = match expect {
                    Expr::Struct(f) => vec![(
                        field(f, "fd").map(int).transpose()?.unwrap_or(-1),
                        field(f, "events").map(int).transpose()?.unwrap_or(0),
                    )],
                    Expr::List(v) => v
                        .iter()
                        .filter_map(|x| match x {
                            Expr::Struct(f) => Some(f),
                            _ => None,
                        })
                        .map(|f| {
                            Ok((
                                field(f, "fd").map(int).transpose()?.unwrap_or(-1),
                                field(f, "events").map(int).transpose()?.unwrap_or(0),
                            ))
                        })
                        .collect::<Result<_, String>>()?,
                    _ => Vec::new(),
                };
                let got: Vec<(i64, i64)> = events
                    .iter()
                    .map(|(s, m)| (*s as i64, (*m & !EPOLLET) as i64))
                    .collect();
                if !want.is_empty() && got.iter().take(want.len()).ne(want.iter()) {
                    return Err(format!(
                        "epoll_wait(): events {}, expected {}",
                        fmt_events(&got),
                        fmt_events(&want)
                    ));
                }
                Some(Ok(events.len() as i64))
            }
        })
    }

    fn poll(&mut self, sc: &Syscall) -> Result<Step, Failure> {
        let Expr::List(list) = arg(sc, 0)? else {
            return Err("poll(): expected [{fd=..., events=..., revents=...}, ...]".into());
        };
        let mut items = Vec::new();
        for e in list {
            let Expr::Struct(f) = e else {
                return Err("poll(): expected {fd=..., events=...}".into());
            };
            items.push(PollItem {
                sfd: field(f, "fd").map(int).transpose()?.unwrap_or(-1) as i32,
                events: field(f, "events").map(int).transpose()?.unwrap_or(0) as u32,
                revents: field(f, "revents").map(int).transpose()?.map(|v| v as u32),
            });
        }
        let timeout = int(arg(sc, 2)?)?;
        let mut call = Blocked::Poll { items };
        match self.retry(&mut call, timeout == 0)? {
            Some(r) => Ok(Step::Done(r)),
            None => Ok(Step::Blocked(call, self.timeout_after(timeout))),
        }
    }

    fn define_active_flow(&mut self, fd: Fd, remote: SocketAddr) {
        let Ok(local) = self.stack.local_addr(fd) else {
            return;
        };
        let i = match self
            .flows
            .iter()
            .rposition(|f| f.local == local && f.remote == remote)
        {
            Some(i) => {
                self.flows[i].local_isn = None;
                self.flows[i].ts_offset = None;
                self.flows[i].fd = Some(fd);
                i
            }
            None => {
                self.flows.push(Flow {
                    local,
                    remote,
                    local_isn: None,
                    remote_isn: 0,
                    ts_offset: None,
                    fd: Some(fd),
                    pending_isn: None,
                });
                self.flows.len() - 1
            }
        };
        self.flow = Some(i);
    }

    fn setsockopt(&mut self, sc: &Syscall) -> Result<Step, Failure> {
        let sfd = int(arg(sc, 0)?)?;
        let name = match arg(sc, 2)? {
            Expr::Name(n) => n.clone(),
            other => return Err(format!("setsockopt(): unknown option {other}")),
        };
        let value = arg(sc, 3)?;
        let n = || int(value);
        let opt = match name.as_str() {
            "SO_REUSEADDR" => SockOpt::ReuseAddr(n()? != 0),
            "SO_SNDBUF" => SockOpt::SndBuf(n()?.max(0) as u32),
            "SO_RCVBUF" => SockOpt::RcvBuf(n()?.max(0) as u32),
            "SO_KEEPALIVE" => SockOpt::KeepAlive(n()? != 0),
            "SO_LINGER" => {
                let Expr::Struct(f) = value else {
                    return Err("SO_LINGER: expected {onoff=..., linger=...}".into());
                };
                let on = field(f, "onoff").map(int).transpose()?.unwrap_or(0);
                let secs = field(f, "linger").map(int).transpose()?.unwrap_or(0);
                SockOpt::Linger((on != 0).then_some(secs.max(0) as u32))
            }
            "TCP_NODELAY" => SockOpt::NoDelay(n()? != 0),
            "TCP_MAXSEG" => SockOpt::MaxSeg(n()?.max(0) as u32),
            "TCP_SYNCNT" => SockOpt::SynCnt(n()?.clamp(0, 255) as u8),
            "TCP_USER_TIMEOUT" => SockOpt::UserTimeout(n()?.max(0) as u32),
            "TCP_KEEPIDLE" => SockOpt::KeepIdle(n()?.max(0) as u32),
            "TCP_KEEPINTVL" => SockOpt::KeepIntvl(n()?.max(0) as u32),
            "TCP_KEEPCNT" => SockOpt::KeepCnt(n()?.max(0) as u32),
            "TCP_LINGER2" => SockOpt::Linger2(n()? as i32),
            "TCP_FASTOPEN" => SockOpt::FastOpen(n()?.max(0) as u32),
            "TCP_FASTOPEN_KEY" => {
                let bytes = match value {
                    Expr::Str(b) => b.clone(),
                    other => {
                        return Err(format!(
                            "TCP_FASTOPEN_KEY: expected a string, found {other}"
                        ))
                    }
                };
                // optlen is what the kernel checks (16 or 32); the string holds the bytes.
                let len = int(arg(sc, 4)?)?.clamp(0, 255) as usize;
                let mut key = [0u8; 32];
                for (k, b) in key.iter_mut().zip(bytes.iter().take(len)) {
                    *k = *b;
                }
                SockOpt::FastOpenKey {
                    key,
                    len: len as u8,
                }
            }
            "TCP_FASTOPEN_CONNECT" => SockOpt::FastOpenConnect(n()? != 0),
            "TCP_FASTOPEN_NO_COOKIE" => SockOpt::FastOpenNoCookie(n()? != 0),
            "TCP_CONGESTION" => {
                let Expr::Str(b) = value else {
                    return Err(format!("TCP_CONGESTION: expected a string, found {value}"));
                };
                let name = String::from_utf8_lossy(b);
                let name = name.trim_end_matches('\0');
                match synack_core::CongestionAlgorithm::from_name(name) {
                    Some(a) => SockOpt::Congestion(a),
                    // Linux: no such module loaded.
                    None => return Ok(Step::Done(Err(Errno::ENOENT))),
                }
            }
            other => return Err(format!("unsupported: socket option {other}")),
        };
        let (fd, _) = match self.sock(sfd) {
            Ok(x) => x,
            Err(r) => return Ok(Step::Done(r)),
        };
        Ok(Step::Done(
            self.stack.setsockopt(self.now, fd, opt).map(|_| 0),
        ))
    }

    fn getsockopt(&mut self, sc: &Syscall) -> Result<Step, Failure> {
        let sfd = int(arg(sc, 0)?)?;
        let name = match arg(sc, 2)? {
            Expr::Name(n) => n.clone(),
            other => return Err(format!("getsockopt(): unknown option {other}")),
        };
        let opt = match name.as_str() {
            "SO_REUSEADDR" => SockOptName::ReuseAddr,
            "SO_SNDBUF" => SockOptName::SndBuf,
            "SO_RCVBUF" => SockOptName::RcvBuf,
            "SO_KEEPALIVE" => SockOptName::KeepAlive,
            "SO_ERROR" => SockOptName::Error,
            "TCP_NODELAY" => SockOptName::NoDelay,
            "TCP_MAXSEG" => SockOptName::MaxSeg,
            "TCP_SYNCNT" => SockOptName::SynCnt,
            "TCP_USER_TIMEOUT" => SockOptName::UserTimeout,
            "TCP_KEEPIDLE" => SockOptName::KeepIdle,
            "TCP_KEEPINTVL" => SockOptName::KeepIntvl,
            "TCP_KEEPCNT" => SockOptName::KeepCnt,
            "TCP_LINGER2" => SockOptName::Linger2,
            "TCP_FASTOPEN" => SockOptName::FastOpen,
            other => return Err(format!("unsupported: getsockopt {other}")),
        };
        let (fd, _) = match self.sock(sfd) {
            Ok(x) => x,
            Err(r) => return Ok(Step::Done(r)),
        };
        let v = match self.stack.getsockopt(fd, opt) {
            Ok(v) => v,
            Err(e) => return Ok(Step::Done(Err(e))),
        };
        let got: i64 = match v {
            SockOpt::ReuseAddr(b) | SockOpt::KeepAlive(b) | SockOpt::NoDelay(b) => b as i64,
            SockOpt::SndBuf(n)
            | SockOpt::FastOpen(n)
            | SockOpt::RcvBuf(n)
            | SockOpt::MaxSeg(n)
            | SockOpt::UserTimeout(n)
            | SockOpt::KeepIdle(n)
            | SockOpt::KeepIntvl(n)
            | SockOpt::KeepCnt(n) => n as i64,
            SockOpt::SynCnt(n) => n as i64,
            SockOpt::Linger2(n) => n as i64,
            SockOpt::Error(e) => e.map(|e| e.code() as i64).unwrap_or(0),
            SockOpt::Linger(l) => l.map(|s| s as i64).unwrap_or(0),
            _ => return Err(format!("unsupported: getsockopt {name}")),
        };
        match arg(sc, 3)? {
            Expr::Ellipsis => {}
            e => {
                let want = int(e)?;
                if want != got {
                    return Err(format!("getsockopt({name}) gave {got}, expected {want}"));
                }
            }
        }
        Ok(Step::Done(Ok(0)))
    }
}

fn fmt_events(v: &[(i64, i64)]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|(fd, m)| {
            format!(
                "{{events={}, fd={fd}}}",
                bits_str(*m as u32).replace("POLL", "EPOLL")
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}
