//! `synack serve`: synack's stack on a TUN device, serving a small application to the
//! kernel's TCP on the other side of the device.
use clap::Args;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;
use synack_core::{Config, Errno, Fd, Profile, Stack};
use synack_tun::control::Control;
use synack_tun::{os_seed, run, Clock, Tun};

#[derive(Args)]
pub struct ServeOpts {
    /// The TUN device to create (or attach to) in the current network namespace.
    #[arg(long, value_name = "NAME")]
    tun: String,
    /// The kernel's address on the device, with its prefix: 10.77.0.1/24.
    #[arg(long, value_name = "ADDR/PREFIX")]
    host_addr: String,
    /// synack's address (reached through the device).
    #[arg(long, value_name = "ADDR")]
    addr: IpAddr,
    #[arg(long, default_value_t = 7)]
    port: u16,
    /// echo (send back what arrives), discard (read and drop), source (send until
    /// closed), http (answer each request with a small page, then close: curl works).
    #[arg(long, default_value = "echo")]
    app: String,
    #[arg(long, default_value = "seed")]
    profile: Profile,
    /// Set a tunable by its sysctl name: --set net.ipv4.tcp_syncookies=2
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// Stop after this many connections have been served and closed.
    #[arg(long)]
    count: Option<u32>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Answer `synack ss|netstat|nstat --control PATH` on this Unix socket.
    #[arg(long, value_name = "PATH")]
    control: Option<std::path::PathBuf>,
}

/// A served connection: its descriptor and what the application still has to send.
struct Served {
    fd: Fd,
    pending: Vec<u8>,
    eof: bool,
    /// http: the request so far (until its blank line), and whether it was answered.
    request: Vec<u8>,
    answered: bool,
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

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub fn serve(o: &ServeOpts) -> Result<bool, String> {
    let app = match o.app.as_str() {
        a @ ("echo" | "discard" | "source" | "http") => a,
        other => return Err(format!("--app {other}: echo, discard, source or http")),
    };
    let mut tun = Tun::open(&o.tun).map_err(|e| format!("open TUN {}: {e}", o.tun))?;
    // IPv6: no duplicate-address detection, so the address is usable at once.
    if o.host_addr.contains(':') {
        ip(&["addr", "add", &o.host_addr, "dev", &o.tun, "nodad"])?;
    } else {
        ip(&["addr", "add", &o.host_addr, "dev", &o.tun])?;
    }
    ip(&["link", "set", &o.tun, "up"])?;
    let mut cfg = Config::for_profile(o.profile);
    for s in &o.sets {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("--set {s}: expected NAME=VALUE"))?;
        cfg.set(k.trim(), v.trim()).map_err(|e| e.to_string())?;
    }
    // A real network: secrets from the OS, never the fixed simulator seed.
    cfg.seed = os_seed().map_err(|e| format!("/dev/urandom: {e}"))?;
    let mut control = match &o.control {
        Some(p) => Some(Control::bind(p).map_err(|e| format!("--control {}: {e}", p.display()))?),
        None => None,
    };
    let clock = Clock::start();
    let mut stack = Stack::new(cfg, &[o.addr]);
    let t = clock.now();
    let l = stack.socket(t).map_err(|e| e.to_string())?;
    stack
        .bind(t, l, SocketAddr::new(o.addr, o.port))
        .map_err(|e| format!("bind: {e}"))?;
    stack
        .listen(t, l, 128)
        .map_err(|e| format!("listen: {e}"))?;
    // Reports go to stdout; a reader that went away (a closed pipe) is not an error.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "synack serving {app} on {}:{} (TUN {}, kernel side {})",
        o.addr, o.port, o.tun, o.host_addr
    );
    let _ = out.flush();
    let deadline = o.duration.map(Duration::from_secs_f64);
    let mut conns: Vec<Served> = Vec::new();
    let mut done = 0u32;
    let mut buf = vec![0u8; 65536];
    let chunk = vec![b'x'; 16384];
    run(&mut tun, &mut stack, &clock, |st, now| {
        if let Some(c) = &mut control {
            c.poll(st, now);
        }
        while let Ok((fd, _peer)) = st.accept(now, l) {
            conns.push(Served {
                fd,
                pending: Vec::new(),
                eof: false,
                request: Vec::new(),
                answered: false,
            });
        }
        conns.retain_mut(|c| {
            loop {
                match st.read(now, c.fd, &mut buf) {
                    Ok(0) => {
                        c.eof = true;
                        break;
                    }
                    Ok(n) if app == "echo" => c.pending.extend_from_slice(&buf[..n]),
                    Ok(n) if app == "http" && !c.answered => {
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
                    Ok(_) => {}
                    Err(Errno::EAGAIN) => break,
                    Err(_) => {
                        c.eof = true;
                        c.pending.clear();
                        break;
                    }
                }
            }
            if app == "source" && !c.eof {
                let _ = st.write(now, c.fd, &chunk);
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
            if app == "http" && c.answered && c.pending.is_empty() && !c.eof {
                c.eof = true;
            }
            if c.eof && c.pending.is_empty() {
                let _ = st.close(now, c.fd);
                done += 1;
                return false;
            }
            true
        });
        let out_of_time = deadline.is_some_and(|d| clock.now().as_micros() >= d.as_micros() as u64);
        let enough = o.count.is_some_and(|n| done >= n);
        !(out_of_time || enough)
    })
    .map_err(|e| format!("TUN {}: {e}", o.tun))?;
    // Let the last FIN and its ACK go through before the device disappears.
    let linger = clock.now() + Duration::from_millis(300);
    run(&mut tun, &mut stack, &clock, |_, now| now < linger).map_err(|e| e.to_string())?;
    let _ = writeln!(out, "served {done} connections");
    Ok(true)
}
