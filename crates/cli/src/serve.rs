//! `synack serve`: synack's stack on a TUN device, serving a small application to the
//! kernel's TCP on the other side of the device. The device and stack setup here
//! ([`DeviceOpts`], [`Device`]) is shared with `synack connect`, the client side.
use clap::Args;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use synack_core::{Config, Errno, Fd, Profile, SockOpt, Stack};
use synack_tun::control::Control;
use synack_tun::{os_seed, run, Clock, Tun};

/// What `serve` and `connect` share: the device, the kernel's side of it, synack's
/// address, the stack's settings, how long to run and the control socket.
#[derive(Args)]
pub struct DeviceOpts {
    /// The TUN device to create (or attach to) in the current network namespace.
    #[arg(long, value_name = "NAME")]
    tun: String,
    /// The kernel's address on the device, with its prefix: 192.0.2.1/24.
    #[arg(long, value_name = "ADDR/PREFIX")]
    host_addr: String,
    /// synack's address (reached through the device).
    #[arg(long, value_name = "ADDR")]
    pub addr: IpAddr,
    #[arg(long, default_value = "seed")]
    profile: Profile,
    /// Set a tunable by its sysctl name: --set net.ipv4.tcp_syncookies=2
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Answer `synack ss|netstat|nstat --control PATH` on this Unix socket.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
}

/// A stack on a device, ready to run.
pub struct Device {
    pub tun: Tun,
    pub stack: Stack,
    pub clock: Clock,
    control: Option<Control>,
    deadline: Option<Duration>,
}

impl DeviceOpts {
    /// Create the device, give the kernel its address, bring it up, and build the stack
    /// from the profile, the `--set`s, then `adjust` (what a command's own flags imply,
    /// such as a Fast Open bit).
    pub fn open(&self, adjust: impl FnOnce(&mut Config)) -> Result<Device, String> {
        let mut cfg = Config::for_profile(self.profile);
        for (k, v) in crate::name_values(&self.sets)? {
            cfg.set(&k, &v).map_err(|e| e.to_string())?;
        }
        adjust(&mut cfg);
        // A real network: secrets from the OS, never the fixed simulator seed.
        cfg.seed = os_seed().map_err(|e| format!("/dev/urandom: {e}"))?;
        let tun = Tun::open(&self.tun).map_err(|e| format!("open TUN {}: {e}", self.tun))?;
        tun.configure(&[&self.host_addr])?;
        let control = match &self.control {
            Some(p) => {
                Some(Control::bind(p).map_err(|e| format!("--control {}: {e}", p.display()))?)
            }
            None => None,
        };
        Ok(Device {
            tun,
            stack: Stack::new(cfg, &[self.addr]),
            clock: Clock::start(),
            control,
            deadline: self.duration.map(Duration::from_secs_f64),
        })
    }

    pub fn describe(&self) -> String {
        format!("TUN {}, kernel side {}", self.tun, self.host_addr)
    }
}

impl Device {
    /// Run until `app` says stop or `--duration` is over (then `Ok(false)`): the control
    /// socket is answered every round. Afterwards the stack runs on a moment, so that the
    /// last FIN and its ACK go through before the device disappears with the process.
    pub fn run(
        &mut self,
        mut app: impl FnMut(&mut Stack, synack_core::Instant) -> bool,
    ) -> Result<bool, String> {
        let clock = &self.clock;
        let control = &mut self.control;
        let deadline = self.deadline;
        let mut in_time = true;
        run(&mut self.tun, &mut self.stack, clock, |st, now| {
            if let Some(c) = control.as_mut() {
                c.poll(st, now);
            }
            if deadline.is_some_and(|d| clock.now().as_micros() >= d.as_micros() as u64) {
                in_time = false;
                return false;
            }
            app(st, now)
        })
        .map_err(|e| format!("TUN {}: {e}", self.tun.name()))?;
        let linger = self.clock.now() + Duration::from_millis(300);
        run(&mut self.tun, &mut self.stack, &self.clock, |_, now| {
            now < linger
        })
        .map_err(|e| format!("TUN {}: {e}", self.tun.name()))?;
        Ok(in_time)
    }
}

/// The bytes `source` sends: byte `i` of the stream is `(i * 7 + 3) % 251`, so a
/// receiver can check order as well as count, and a hash names the whole stream.
pub struct Pattern(Vec<u8>);

impl Pattern {
    /// The period of the pattern: 251 is prime, so no chunk size lines up with it.
    const PERIOD: usize = 251;

    pub fn new() -> Pattern {
        Pattern(
            (0..65536 + Self::PERIOD)
                .map(|i| ((i * 7 + 3) % Self::PERIOD) as u8)
                .collect(),
        )
    }

    /// Up to 64 KiB of the stream from `offset`, at most `left` bytes.
    pub fn at(&self, offset: u64, left: u64) -> &[u8] {
        let start = (offset % Self::PERIOD as u64) as usize;
        let len = left.min(65536) as usize;
        &self.0[start..start + len]
    }
}

pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Print a report line now: tests and scripts read them while the stack still runs. A
/// reader that went away (a closed pipe) is not an error.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum App {
    Echo,
    Discard,
    Source,
    Http,
    Sha256,
    Unread,
}

#[derive(Args)]
pub struct ServeOpts {
    #[command(flatten)]
    dev: DeviceOpts,
    #[arg(long, default_value_t = 7)]
    port: u16,
    /// echo (send back what arrives), discard (read and drop), source (send the pattern
    /// until the peer closes, or --bytes of it and close), http (answer each request with a
    /// small page, then close: curl works), sha256 (print the byte count and SHA-256 of
    /// what arrived, at its end), unread (close as soon as data arrives, without reading
    /// it: the peer gets RST).
    #[arg(long, default_value = "echo")]
    app: String,
    /// source: send this many bytes, then close.
    #[arg(long)]
    bytes: Option<u64>,
    /// TCP_FASTOPEN on the listener with this queue length (and the server bit of
    /// net.ipv4.tcp_fastopen), so that data in a SYN with a good cookie is accepted.
    #[arg(long, value_name = "QLEN")]
    fastopen: Option<u32>,
    /// Stop after this many connections have been served and closed.
    #[arg(long)]
    count: Option<u32>,
}

/// A served connection: its descriptor and what the application still has to send.
struct Served {
    fd: Fd,
    peer: SocketAddr,
    pending: Vec<u8>,
    eof: bool,
    /// http: the request so far (until its blank line), and whether it was answered.
    request: Vec<u8>,
    answered: bool,
    received: u64,
    hash: Sha256,
    /// source: bytes of the pattern accepted by write() so far.
    sent: u64,
}

/// The page `--app http` serves.
fn http_response(request: &[u8]) -> Vec<u8> {
    let line = request
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim().to_string())
        .unwrap_or_default();
    let body = format!("hello from synack\nyou asked: {line}\n");
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn serve(o: &ServeOpts) -> Result<bool, String> {
    let app = match o.app.as_str() {
        "echo" => App::Echo,
        "discard" => App::Discard,
        "source" => App::Source,
        "http" => App::Http,
        "sha256" => App::Sha256,
        "unread" => App::Unread,
        other => {
            return Err(format!(
                "--app {other}: echo, discard, source, http, sha256 or unread"
            ))
        }
    };
    let mut dev = o.dev.open(|cfg| {
        if o.fastopen.is_some_and(|q| q > 0) {
            // The server bit (TFO_SERVER_ENABLE): without it TCP_FASTOPEN does nothing.
            cfg.tcp_fastopen |= 0x2;
        }
    })?;
    let t = dev.clock.now();
    let st = &mut dev.stack;
    let l = st.socket(t).map_err(|e| e.to_string())?;
    st.bind(t, l, SocketAddr::new(o.dev.addr, o.port))
        .map_err(|e| format!("bind: {e}"))?;
    if let Some(q) = o.fastopen {
        st.setsockopt(t, l, SockOpt::FastOpen(q))
            .map_err(|e| format!("TCP_FASTOPEN: {e}"))?;
    }
    st.listen(t, l, 128).map_err(|e| format!("listen: {e}"))?;
    say(&format!(
        "synack serving {} on {}:{} ({})",
        o.app,
        o.dev.addr,
        o.port,
        o.dev.describe()
    ));
    let mut conns: Vec<Served> = Vec::new();
    let mut done = 0u32;
    let mut buf = vec![0u8; 65536];
    let pattern = Pattern::new();
    dev.run(|st, now| {
        while let Ok((fd, peer)) = st.accept(now, l) {
            conns.push(Served {
                fd,
                peer,
                pending: Vec::new(),
                eof: false,
                request: Vec::new(),
                answered: false,
                received: 0,
                hash: Sha256::new(),
                sent: 0,
            });
        }
        conns.retain_mut(|c| {
            if app == App::Unread {
                // Data waiting (or the peer's end): close without reading. Unread data
                // makes close() send RST instead of FIN (tcp_close's data_was_unread).
                let unread = st.inq(c.fd).unwrap_or(0);
                let ready = st.poll(c.fd).map(|r| r.readable).unwrap_or(true);
                if unread == 0 && !ready {
                    return true;
                }
                let _ = st.close(now, c.fd);
                say(&format!("closed {} with {unread} bytes unread", c.peer));
                done += 1;
                return false;
            }
            loop {
                match st.read(now, c.fd, &mut buf) {
                    Ok(0) => {
                        c.eof = true;
                        break;
                    }
                    Ok(n) => {
                        c.received += n as u64;
                        match app {
                            App::Echo => c.pending.extend_from_slice(&buf[..n]),
                            App::Sha256 => c.hash.update(&buf[..n]),
                            App::Http if !c.answered => {
                                // Bounded: a request head larger than 64 KiB is cut off.
                                let room = 65536usize.saturating_sub(c.request.len());
                                c.request.extend_from_slice(&buf[..n.min(room)]);
                                let complete = c.request.windows(4).any(|w| w == b"\r\n\r\n")
                                    || c.request.windows(2).any(|w| w == b"\n\n");
                                if complete || room == 0 {
                                    c.pending = http_response(&c.request);
                                    c.answered = true;
                                }
                            }
                            _ => {}
                        }
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(e) => {
                        say(&format!("{}: {e}", c.peer));
                        c.eof = true;
                        c.pending.clear();
                        break;
                    }
                }
            }
            if app == App::Source && !c.eof {
                let limit = o.bytes.unwrap_or(u64::MAX);
                while c.sent < limit {
                    match st.write(now, c.fd, pattern.at(c.sent, limit - c.sent)) {
                        Ok(n) => c.sent += n as u64,
                        Err(_) => break,
                    }
                }
                // All of --bytes handed to the stack: close, the FIN follows the data.
                if c.sent == limit {
                    c.eof = true;
                }
            }
            while !c.pending.is_empty() {
                match st.write(now, c.fd, &c.pending) {
                    Ok(n) => {
                        c.pending.drain(..n);
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(_) => {
                        c.pending.clear();
                        break;
                    }
                }
            }
            // http: the page sent, the server closes (Connection: close).
            if app == App::Http && c.answered && c.pending.is_empty() && !c.eof {
                c.eof = true;
            }
            if c.eof && c.pending.is_empty() {
                if app == App::Sha256 {
                    let digest = std::mem::take(&mut c.hash).finalize();
                    say(&format!(
                        "received {} bytes sha256 {} from {}",
                        c.received,
                        hex(&digest),
                        c.peer
                    ));
                }
                if app == App::Source {
                    say(&format!("sent {} bytes to {}", c.sent, c.peer));
                }
                let _ = st.close(now, c.fd);
                done += 1;
                return false;
            }
            true
        });
        match o.count {
            Some(n) => done < n,
            None => true,
        }
    })?;
    say(&format!("served {done} connections"));
    Ok(true)
}
