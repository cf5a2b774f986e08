//! `synack connect`: the client side of `synack serve`. synack's stack on a TUN device
//! connects to a server of the kernel's on the other side (curl's role, played by synack).
use crate::serve::{hex, say, DeviceOpts, Pattern};
use clap::Args;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use synack_core::{Errno, Fd, Instant, Shutdown, SockOpt, SockOptName, Stack};

#[derive(Args)]
pub struct ConnectOpts {
    #[command(flatten)]
    dev: DeviceOpts,
    /// The server: 192.0.2.1:80, [2001:db8::1]:80.
    #[arg(value_name = "TARGET:PORT")]
    target: SocketAddr,
    /// http (GET / and print the response), echo (send --bytes of the pattern, read it
    /// back, compare), source (send --bytes of the pattern, shut down, print its SHA-256),
    /// sha256 or discard (read until the end, print the byte count and SHA-256).
    #[arg(long, default_value = "http")]
    app: String,
    /// echo, source: how many bytes to send (default 1 MiB).
    #[arg(long)]
    bytes: Option<u64>,
    /// TCP Fast Open (TCP_FASTOPEN_CONNECT, and the client bit of net.ipv4.tcp_fastopen):
    /// the first connection asks for a cookie, later ones send their data in the SYN.
    #[arg(long)]
    fastopen: bool,
    /// SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT: 1,1,2
    #[arg(long, value_name = "IDLE,INTVL,CNT")]
    keepalive: Option<String>,
    /// Connections to make, one after another, on the same stack (so a Fast Open cookie
    /// from the first serves the next).
    #[arg(long, default_value_t = 1)]
    count: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum App {
    Http,
    Echo,
    Source,
    Sha256,
}

/// One connection's progress.
struct Client {
    fd: Fd,
    connected: bool,
    /// What to send: the request (http) or `len` bytes of the pattern.
    request: Vec<u8>,
    len: u64,
    sent: u64,
    shut: bool,
    eof: bool,
    received: u64,
    sent_hash: Sha256,
    got_hash: Sha256,
    response: Vec<u8>,
}

/// TCPI_OPT_SYN_DATA: the SYN carried data that the server acknowledged.
const TCPI_OPT_SYN_DATA: u8 = 32;

fn keepalive(spec: &str) -> Result<[u32; 3], String> {
    let v: Vec<u32> = spec
        .split(',')
        .map(|s| s.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("--keepalive {spec}: expected IDLE,INTVL,CNT"))?;
    <[u32; 3]>::try_from(v).map_err(|_| format!("--keepalive {spec}: expected IDLE,INTVL,CNT"))
}

pub fn connect(o: &ConnectOpts) -> Result<bool, String> {
    let app = match o.app.as_str() {
        "http" => App::Http,
        "echo" => App::Echo,
        "source" => App::Source,
        "sha256" | "discard" => App::Sha256,
        other => {
            return Err(format!(
                "--app {other}: http, echo, source, sha256 or discard"
            ))
        }
    };
    let ka = o.keepalive.as_deref().map(keepalive).transpose()?;
    let mut dev = o.dev.open(|cfg| {
        if o.fastopen {
            // TFO_CLIENT_ENABLE: without it TCP_FASTOPEN_CONNECT is EOPNOTSUPP.
            cfg.tcp_fastopen |= 0x1;
        }
    })?;
    say(&format!(
        "synack connecting from {} to {} ({})",
        o.dev.addr,
        o.target,
        o.dev.describe()
    ));
    let pattern = Pattern::new();
    let mut buf = vec![0u8; 65536];
    let mut current: Option<Client> = None;
    let mut started = 0u32;
    let mut failure: Option<String> = None;
    let mut all_good = true;
    let open = |st: &mut Stack, now: Instant| -> Result<Client, String> {
        let fd = st.socket(now).map_err(|e| format!("socket: {e}"))?;
        if let Some([idle, intvl, cnt]) = ka {
            for opt in [
                SockOpt::KeepAlive(true),
                SockOpt::KeepIdle(idle),
                SockOpt::KeepIntvl(intvl),
                SockOpt::KeepCnt(cnt),
            ] {
                st.setsockopt(now, fd, opt)
                    .map_err(|e| format!("setsockopt {opt:?}: {e}"))?;
            }
        }
        if o.fastopen {
            st.setsockopt(now, fd, SockOpt::FastOpenConnect(true))
                .map_err(|e| format!("TCP_FASTOPEN_CONNECT: {e}"))?;
        }
        match st.connect(now, fd, o.target) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => return Err(e.to_string()),
        }
        let host = match o.target {
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
            SocketAddr::V4(a) => a.ip().to_string(),
        };
        let (request, len) = match app {
            App::Http => (
                format!("GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: synack\r\nAccept: */*\r\nConnection: close\r\n\r\n")
                    .into_bytes(),
                0,
            ),
            App::Echo | App::Source => (Vec::new(), o.bytes.unwrap_or(1 << 20)),
            App::Sha256 => (Vec::new(), 0),
        };
        Ok(Client {
            fd,
            connected: false,
            request,
            len,
            sent: 0,
            shut: false,
            eof: false,
            received: 0,
            sent_hash: Sha256::new(),
            got_hash: Sha256::new(),
            response: Vec::new(),
        })
    };
    let in_time = dev.run(|st, now| {
        let c = match current.as_mut() {
            Some(c) => c,
            None if started < o.count => {
                started += 1;
                match open(st, now) {
                    Ok(c) => current.insert(c),
                    Err(e) => {
                        failure = Some(e);
                        return false;
                    }
                }
            }
            None => return false,
        };
        match step(st, now, app, c, &pattern, &mut buf) {
            Err(e) => {
                failure = Some(e.to_string());
                false
            }
            Ok(false) => true,
            Ok(true) => {
                let syn_data = st
                    .tcp_info(now, c.fd)
                    .map(|i| i.options & TCPI_OPT_SYN_DATA != 0)
                    .unwrap_or(false);
                all_good &= finish(app, c, syn_data);
                let _ = st.close(now, c.fd);
                current = None;
                started < o.count
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(format!("connect: {e}"));
    }
    if !in_time {
        return Err(format!(
            "connect: {} (--duration ran out)",
            Errno::ETIMEDOUT
        ));
    }
    Ok(all_good)
}

/// Move one connection along: Ok(true) once it is through (everything sent and shut
/// down, the peer's end read).
fn step(
    st: &mut Stack,
    now: Instant,
    app: App,
    c: &mut Client,
    pattern: &Pattern,
    buf: &mut [u8],
) -> Result<bool, Errno> {
    if !c.connected {
        let r = st.poll(c.fd)?;
        if r.error {
            if let Ok(SockOpt::Error(Some(e))) = st.getsockopt(c.fd, SockOptName::Error) {
                return Err(e);
            }
        }
        if !r.writable {
            return Ok(false);
        }
        c.connected = true;
        let local = st
            .local_addr(c.fd)
            .map(|a| a.to_string())
            .unwrap_or_default();
        say(&format!("connected {local}"));
    }
    // Send: the request, or the pattern; then shut down (echo, source).
    while c.sent < c.request.len() as u64 {
        match st.write(now, c.fd, &c.request[c.sent as usize..]) {
            Ok(n) => c.sent += n as u64,
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    while c.sent < c.len {
        let chunk = pattern.at(c.sent, c.len - c.sent);
        match st.write(now, c.fd, chunk) {
            Ok(n) => {
                c.sent_hash.update(&chunk[..n]);
                c.sent += n as u64;
            }
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    if matches!(app, App::Echo | App::Source) && c.sent == c.len && !c.shut {
        st.shutdown(now, c.fd, Shutdown::Write)?;
        c.shut = true;
    }
    loop {
        match st.read(now, c.fd, buf) {
            Ok(0) => {
                c.eof = true;
                break;
            }
            Ok(n) => {
                c.received += n as u64;
                c.got_hash.update(&buf[..n]);
                if app == App::Http {
                    c.response.extend_from_slice(&buf[..n]);
                }
            }
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    let all_sent = c.sent >= c.request.len() as u64 && c.sent >= c.len;
    Ok(c.eof && all_sent)
}

/// Print what one connection did; false when echo got back something else.
fn finish(app: App, c: &mut Client, syn_data: bool) -> bool {
    let sent = hex(&std::mem::take(&mut c.sent_hash).finalize());
    let got = hex(&std::mem::take(&mut c.got_hash).finalize());
    let tfo = if syn_data { " (data in the SYN)" } else { "" };
    match app {
        App::Http => {
            say(&String::from_utf8_lossy(&c.response));
            say(&format!("received {} bytes{tfo}", c.received));
            true
        }
        App::Source => {
            say(&format!("sent {} bytes sha256 {sent}{tfo}", c.sent));
            true
        }
        App::Sha256 => {
            say(&format!("received {} bytes sha256 {got}{tfo}", c.received));
            true
        }
        App::Echo => {
            let same = c.received == c.sent && got == sent;
            say(&format!(
                "sent {} bytes sha256 {sent}, received {} bytes sha256 {got}: {}{tfo}",
                c.sent,
                c.received,
                if same { "same" } else { "DIFFERENT" }
            ));
            same
        }
    }
}
