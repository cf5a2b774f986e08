//! The control socket: a live stack's `ss`, `netstat` and `nstat`, for other processes.
//!
//! A stack on a TUN device has no `/proc/net/tcp` and no netlink for iproute2 to read, so
//! it answers on a Unix stream socket instead: `synack ss --control PATH -tan` connects,
//! writes one request line (`ss -tan`, `netstat -napt`, `nstat -az`), and reads the answer:
//! a first line `ok` or `error MESSAGE`, then the text exactly as the tool prints it.
//!
//! The server never blocks the stack: [`Control::poll`] accepts and reads without waiting,
//! keeps at most [`MAX_CLIENTS`] half-read requests of at most [`MAX_REQUEST`] bytes, and
//! drops a client that has not finished its line within [`REQUEST_TIMEOUT`].
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;
use synack_core::{Instant, Stack};
use synack_view::{netstat_table, nstat_flags, rows, ss_table, NetstatOptions, Nstat, SsOptions};

/// Requests waiting for their line at once; more are refused (closed at once).
pub const MAX_CLIENTS: usize = 16;
/// The longest request line.
pub const MAX_REQUEST: usize = 4096;
/// How long a client may take to send its line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

struct Pending {
    stream: UnixStream,
    line: Vec<u8>,
    since: std::time::Instant,
}

/// A bound control socket. The socket file is removed when this is dropped.
pub struct Control {
    listener: UnixListener,
    path: PathBuf,
    pending: Vec<Pending>,
    /// `nstat`'s history (what Linux keeps in a file per user): each `nstat` without `-a`
    /// shows the change since the previous one asked here.
    nstat: Nstat,
}

impl Control {
    /// Listen on `path`. A socket file left by a process that is gone is replaced; one
    /// that a live process still answers on is an error (EADDRINUSE).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Control> {
        let path = path.as_ref().to_path_buf();
        if path.exists() {
            if UnixStream::connect(&path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another stack answers there", path.display()),
                ));
            }
            std::fs::remove_file(&path)?;
        }
        let listener = UnixListener::bind(&path)?;
        listener.set_nonblocking(true)?;
        Ok(Control {
            listener,
            path,
            pending: Vec::new(),
            nstat: Nstat::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accept, read and answer what is waiting, without blocking. Call it from the
    /// driver's loop (each round, or when the socket is readable).
    pub fn poll(&mut self, stack: &Stack, now: Instant) {
        while let Ok((stream, _)) = self.listener.accept() {
            if self.pending.len() >= MAX_CLIENTS || stream.set_nonblocking(true).is_err() {
                continue; // dropped: the client sees the connection close
            }
            self.pending.push(Pending {
                stream,
                line: Vec::new(),
                since: std::time::Instant::now(),
            });
        }
        let mut i = 0;
        while i < self.pending.len() {
            match read_line(&mut self.pending[i]) {
                Ok(Some(line)) => {
                    let p = self.pending.swap_remove(i);
                    let answer = match self.answer(stack, now, &line) {
                        Ok(text) => format!("ok\n{text}"),
                        Err(e) => format!("error {e}\n"),
                    };
                    // The answer is small; a client too slow to take it loses it.
                    let mut s = p.stream;
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
                    let _ = s.write_all(answer.as_bytes());
                }
                Ok(None) if self.pending[i].since.elapsed() < REQUEST_TIMEOUT => i += 1,
                Ok(None) | Err(_) => {
                    self.pending.swap_remove(i);
                }
            }
        }
    }

    /// The text for one request line: `ss ARGS`, `netstat ARGS` or `nstat ARGS`.
    pub fn answer(&mut self, stack: &Stack, now: Instant, line: &str) -> Result<String, String> {
        let line = line.trim();
        let (cmd, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match cmd {
            "ss" => Ok(ss_table(&rows(stack, now), &SsOptions::parse(args)?)),
            "netstat" => Ok(netstat_table(
                &rows(stack, now),
                &NetstatOptions::parse(args)?,
            )),
            "nstat" => {
                let (absolute, zeros) = nstat_flags(args)?;
                Ok(self.nstat.render(stack.counters().iter(), absolute, zeros))
            }
            "" => Err("empty request: expected ss, netstat or nstat".into()),
            other => Err(format!(
                "unknown request {other:?}: expected ss, netstat or nstat"
            )),
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Read what has arrived; the line once its newline (or the client's end of stream) is in.
fn read_line(p: &mut Pending) -> io::Result<Option<String>> {
    let mut buf = [0u8; 512];
    loop {
        match p.stream.read(&mut buf) {
            Ok(0) => return Ok(Some(String::from_utf8_lossy(&p.line).into_owned())),
            Ok(n) => {
                p.line.extend_from_slice(&buf[..n]);
                if let Some(end) = p.line.iter().position(|&b| b == b'\n') {
                    return Ok(Some(String::from_utf8_lossy(&p.line[..end]).into_owned()));
                }
                if p.line.len() > MAX_REQUEST {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "request too long",
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The client side: send `request` to the stack at `path`, return its text (or its error).
pub fn query(path: impl AsRef<Path>, request: &str) -> Result<String, String> {
    let path = path.as_ref();
    let mut s = UnixStream::connect(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let timeout = Some(Duration::from_secs(10));
    let _ = s.set_read_timeout(timeout);
    let _ = s.set_write_timeout(timeout);
    s.write_all(format!("{}\n", request.trim()).as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (status, text) = answer.split_once('\n').unwrap_or((answer.as_str(), ""));
    match status {
        "ok" => Ok(text.to_string()),
        s => match s.strip_prefix("error ") {
            Some(m) => Err(m.to_string()),
            None => Err(format!(
                "{}: no answer (is a synack stack serving there?)",
                path.display()
            )),
        },
    }
}
