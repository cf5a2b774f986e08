//! The soak: very many short connections through a faulty network, checked end to end.
//!
//! A client host keeps `concurrency` connections open to a server host at all times until
//! `connections` have been made. Each connection sends a payload whose every byte is known
//! from (connection number, offset), half-closes, reads the server's echo to EOF and closes;
//! the server echoes what it reads and closes at EOF. The link loses, duplicates and
//! reorders packets at the configured rates. The soak checks what a stack must never do:
//! - hand an application a byte the peer did not send there (`corrupted`);
//! - leave a connection stuck (`stuck`: no progress for a simulated `STUCK_AFTER`);
//! - keep anything once everyone has closed and the timers have run out (`leaked`);
//! - grow with the number of connections made (the tables at each tenth of the run).
//!
//! Connections may fail with an error — at 10% loss, seven losses in a row of one SYN do
//! happen — and are counted by errno; a failure is TCP doing its job, not a defect. The
//! event stream is off: nothing is kept per connection once it is done.
//!
//! The clients use keepalive (`KEEPIDLE` s), as a long-lived client must: when all nine
//! transmissions of the server's FIN are lost (0.19^9 ≈ 3 in 10,000,000 at 10% loss each
//! way), the server's orphan in LAST_ACK gives up after tcp_orphan_retries and is gone
//! without a RST, while the client, half-closed with shutdown(), waits in FIN_WAIT_2 with
//! no time limit — the document's "第三次挥手一直丢包" after shutdown(). Keepalive finds
//! the peer gone (its probe draws a RST); the soak counts those as `HALF_OPEN` failures.
//! Without it they would be stuck for ever, in Linux too.
use crate::{LinkConfig, Sim};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use synack_core::{Config, Errno, Fd, Instant, Profile, Shutdown, SockOpt, Stack, TableSizes};

/// What to run.
#[derive(Clone, Debug)]
pub struct SoakConfig {
    pub connections: u64,
    pub concurrency: usize,
    pub loss: f64,
    pub duplicate: f64,
    pub reorder: f64,
    /// One-way latency of the link.
    pub latency: Duration,
    /// Payload sizes are drawn from 0..=max_payload.
    pub max_payload: usize,
    pub profile: Profile,
    pub seed: u64,
    /// Tunables set on both hosts by their sysctl names (after the soak's own), e.g.
    /// `net.ipv4.tcp_congestion_control` = `bbr`; [`SoakConfig::check`] tells a bad one.
    pub sets: Vec<(String, String)>,
}

impl SoakConfig {
    /// Every `sets` entry names a tunable and a value it takes.
    pub fn check(&self) -> Result<(), String> {
        let mut c = Config::for_profile(self.profile);
        for (k, v) in &self.sets {
            c.set(k, v).map_err(|e| format!("{k}={v}: {e}"))?;
        }
        Ok(())
    }
}

impl Default for SoakConfig {
    fn default() -> Self {
        SoakConfig {
            connections: 10_000,
            concurrency: 500,
            loss: 0.10,
            duplicate: 0.10,
            reorder: 0.10,
            latency: Duration::from_millis(5),
            max_payload: 4000,
            profile: Profile::Linux,
            seed: 1,
            sets: Vec::new(),
        }
    }
}

/// Both hosts' tables at one moment.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub done: u64,
    pub at: Instant,
    pub client: TableSizes,
    pub server: TableSizes,
    /// How many sockets are in each state (with a descriptor or not), per host.
    pub client_states: BTreeMap<String, usize>,
    pub server_states: BTreeMap<String, usize>,
}

fn states(st: &Stack, now: Instant) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in st.sockets(now) {
        let tag = if s.fd.is_some() { "" } else { " (no fd)" };
        *m.entry(format!("{}{tag}", s.state)).or_default() += 1;
    }
    m
}

/// What happened.
#[derive(Clone, Debug, Default)]
pub struct SoakReport {
    /// Connections that delivered their payload both ways and closed.
    pub completed: u64,
    /// Connections that ended with an error, by errno name.
    pub failed: BTreeMap<String, u64>,
    /// Bytes checked (each byte once each way).
    pub bytes: u64,
    /// Connections on which a read returned a wrong byte, or EOF too early.
    pub corrupted: u64,
    /// Connections that made no progress for `STUCK_AFTER`.
    pub stuck: u64,
    /// The state of each stuck connection's client side when it was given up, with what
    /// it had sent and received (for the next person to look: a half-open connection
    /// whose peer's RST was lost waits in FIN_WAIT_2 forever, in Linux too).
    pub stuck_states: Vec<String>,
    /// Entries left in either stack once all were closed and the timers had run out.
    pub leaked: u64,
    /// Simulated time of the whole run.
    pub sim_time: Duration,
    pub checkpoints: Vec<Checkpoint>,
    pub client_counters: Vec<(&'static str, u64)>,
    pub server_counters: Vec<(&'static str, u64)>,
}

impl SoakReport {
    /// No corruption, nothing stuck, nothing leaked, every connection accounted for.
    pub fn clean(&self, cfg: &SoakConfig) -> bool {
        let failed: u64 = self.failed.values().sum();
        self.corrupted == 0
            && self.stuck == 0
            && self.leaked == 0
            && self.completed + failed + self.corrupted + self.stuck == cfg.connections
    }
}

/// A connection with no progress for this long is stuck (the longest legitimate silence
/// is a retransmission backing off to 120 s, then the 15 retries' end).
const STUCK_AFTER: Duration = Duration::from_secs(1800);
/// The clients' TCP_KEEPIDLE (s); probes every 30 s, 5 of them.
const KEEPIDLE: u32 = 300;
/// How a connection found half-open by keepalive is counted in `failed`.
pub const HALF_OPEN: &str =
    "half-open: the server gave up on its FIN, keepalive found it gone (ECONNRESET)";
/// How often the applications look at their sockets.
const SLICE: Duration = Duration::from_millis(2);

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 2));
const PORT: u16 = 80;

/// Byte `off` of connection `id`'s payload.
fn byte(id: u64, off: usize) -> u8 {
    let x =
        id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (off as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 29 ^ x >> 47) as u8
}

struct Client {
    fd: Fd,
    id: u64,
    len: usize,
    sent: usize,
    got: usize,
    shut: bool,
    last_progress: Instant,
}

struct Served {
    fd: Fd,
    pending: Vec<u8>,
    eof: bool,
    last_progress: Instant,
}

/// xorshift64*: the payload sizes, from the soak's seed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Run the soak. `progress` sees each checkpoint as it is taken (a tenth of the run).
pub fn run(cfg: &SoakConfig, mut progress: impl FnMut(&Checkpoint)) -> SoakReport {
    let mut sim = Sim::new(cfg.seed);
    sim.set_recording(false);
    let mut client_cfg = Config::for_profile(cfg.profile);
    // The client closes first, so its TIME_WAITs pile up: reuse them after 1 s, as a busy
    // Linux client does (tcp_tw_reuse=1 with timestamps).
    client_cfg
        .set("net.ipv4.tcp_tw_reuse", "1")
        .expect("a known setting");
    client_cfg.max_sockets = (cfg.concurrency as u32 + 16).max(64);
    let mut server_cfg = Config::for_profile(cfg.profile);
    server_cfg.max_sockets = (cfg.concurrency as u32 * 2 + 16).max(64);
    server_cfg
        .set("net.core.somaxconn", "4096")
        .expect("a known setting");
    for (k, v) in &cfg.sets {
        // Checked by `SoakConfig::check` (an entry it would reject changes nothing).
        let _ = client_cfg.set(k, v);
        let _ = server_cfg.set(k, v);
    }
    let c = sim.add_host("client", client_cfg, &[CLIENT]);
    let s = sim.add_host("server", server_cfg, &[SERVER]);
    let link = LinkConfig {
        loss: cfg.loss,
        duplicate: cfg.duplicate,
        reorder: cfg.reorder,
        ..LinkConfig::with_latency(cfg.latency)
    };
    sim.add_link(c, s, link, link);
    let listener = sim.call(s, |st, now| {
        let l = st.socket(now).expect("a socket");
        st.bind(now, l, SocketAddr::new(SERVER, PORT))
            .expect("bind");
        st.listen(now, l, 4096).expect("listen");
        l
    });

    let mut report = SoakReport::default();
    let mut rng = Rng(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut clients: Vec<Client> = Vec::new();
    let mut served: Vec<Served> = Vec::new();
    let mut started = 0u64;
    let mut next_checkpoint = 1u64;
    let mut buf = vec![0u8; 65536];
    let server_addr = SocketAddr::new(SERVER, PORT);

    loop {
        let done = report.completed
            + report.failed.values().sum::<u64>()
            + report.corrupted
            + report.stuck;
        if done >= next_checkpoint * cfg.connections / 10 && next_checkpoint <= 10 {
            let cp = Checkpoint {
                done,
                at: sim.now(),
                client: sim.stack(c).table_sizes(),
                server: sim.stack(s).table_sizes(),
                client_states: states(sim.stack(c), sim.now()),
                server_states: states(sim.stack(s), sim.now()),
            };
            progress(&cp);
            report.checkpoints.push(cp);
            next_checkpoint += 1;
        }
        if done >= cfg.connections {
            break;
        }
        // Keep `concurrency` connections going.
        while clients.len() < cfg.concurrency && started < cfg.connections {
            let id = started;
            let len = rng.below(cfg.max_payload as u64 + 1) as usize;
            let opened = sim.call(c, |st, now| {
                let fd = st.socket(now)?;
                for opt in [
                    SockOpt::KeepAlive(true),
                    SockOpt::KeepIdle(KEEPIDLE),
                    SockOpt::KeepIntvl(30),
                    SockOpt::KeepCnt(5),
                ] {
                    st.setsockopt(now, fd, opt)?;
                }
                match st.connect(now, fd, server_addr) {
                    Ok(()) | Err(Errno::EINPROGRESS) => Ok(fd),
                    Err(e) => {
                        let _ = st.close(now, fd);
                        Err(e)
                    }
                }
            });
            started += 1;
            match opened {
                Ok(fd) => clients.push(Client {
                    fd,
                    id,
                    len,
                    sent: 0,
                    got: 0,
                    shut: false,
                    last_progress: sim.now(),
                }),
                Err(e) => *report.failed.entry(format!("connect: {e}")).or_default() += 1,
            }
        }
        let until = sim.now() + SLICE;
        sim.run_until(until);

        // The server: accept, echo, close at EOF.
        sim.call(s, |st, now| {
            while let Ok((fd, _)) = st.accept(now, listener) {
                served.push(Served {
                    fd,
                    pending: Vec::new(),
                    eof: false,
                    last_progress: now,
                });
            }
            served.retain_mut(|v| serve(st, now, v, &mut buf));
        });
        // The clients: write, half-close, check the echo, close.
        let mut finished = Vec::new();
        sim.call(c, |st, now| {
            clients.retain_mut(|cl| match drive(st, now, cl, &mut buf) {
                None => true,
                Some(outcome) => {
                    let _ = st.close(now, cl.fd);
                    finished.push((outcome, cl.got));
                    false
                }
            });
        });
        for (outcome, bytes) in finished {
            match outcome {
                Outcome::Done => {
                    report.completed += 1;
                    report.bytes += 2 * bytes as u64;
                }
                Outcome::Corrupt => report.corrupted += 1,
                Outcome::Stuck(what) => {
                    report.stuck += 1;
                    if report.stuck_states.len() < 16 {
                        report.stuck_states.push(what);
                    }
                }
                Outcome::Failed(e) => *report.failed.entry(e.to_string()).or_default() += 1,
                Outcome::HalfOpen => *report.failed.entry(HALF_OPEN.into()).or_default() += 1,
            }
        }
    }

    // Everyone is done: let every FIN, TIME_WAIT and orphan run out, then nothing may be
    // left but the listener.
    sim.call(s, |st, now| {
        for v in served.drain(..) {
            let _ = st.close(now, v.fd);
        }
    });
    let end = sim.now() + Duration::from_secs(600);
    sim.run_until(end);
    for h in [c, s] {
        let t = sim.stack(h).table_sizes();
        report.leaked += (t.connections + t.requests + t.time_wait + t.orphans) as u64;
    }
    report.sim_time = Duration::from_micros(sim.now().as_micros());
    report.client_counters = sim
        .stack(c)
        .counters()
        .iter()
        .filter(|(_, v)| *v > 0)
        .collect();
    report.server_counters = sim
        .stack(s)
        .counters()
        .iter()
        .filter(|(_, v)| *v > 0)
        .collect();
    report
}

enum Outcome {
    Done,
    Corrupt,
    Stuck(String),
    Failed(Errno),
    /// Reset after our half-close: see [`HALF_OPEN`].
    HalfOpen,
}

/// One client connection's turn. `Some` when it is over.
fn drive(st: &mut Stack, now: Instant, cl: &mut Client, buf: &mut [u8]) -> Option<Outcome> {
    let before = (cl.sent, cl.got);
    while cl.sent < cl.len {
        let n = (cl.len - cl.sent).min(buf.len());
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = byte(cl.id, cl.sent + k);
        }
        match st.write(now, cl.fd, &buf[..n]) {
            Ok(0) | Err(Errno::EAGAIN) | Err(Errno::EINPROGRESS) => break,
            Ok(k) => cl.sent += k,
            Err(e) => return Some(Outcome::Failed(e)),
        }
    }
    if cl.sent == cl.len && !cl.shut {
        match st.shutdown(now, cl.fd, Shutdown::Write) {
            Ok(()) => cl.shut = true,
            Err(Errno::ENOTCONN) => {} // still connecting
            Err(e) => return Some(Outcome::Failed(e)),
        }
    }
    loop {
        match st.read(now, cl.fd, buf) {
            Ok(0) => {
                return Some(if cl.got == cl.len && cl.shut {
                    Outcome::Done
                } else {
                    Outcome::Corrupt
                });
            }
            Ok(n) => {
                let ok = buf[..n]
                    .iter()
                    .enumerate()
                    .all(|(k, &b)| cl.got + k < cl.len && b == byte(cl.id, cl.got + k));
                if !ok {
                    return Some(Outcome::Corrupt);
                }
                cl.got += n;
            }
            Err(Errno::EAGAIN) | Err(Errno::ENOTCONN) => break,
            Err(Errno::ECONNRESET) if cl.shut => return Some(Outcome::HalfOpen),
            Err(e) => return Some(Outcome::Failed(e)),
        }
    }
    if (cl.sent, cl.got) != before {
        cl.last_progress = now;
    } else if now.saturating_duration_since(cl.last_progress) > STUCK_AFTER {
        let state = st.state(cl.fd).map(|s| s.to_string()).unwrap_or_default();
        return Some(Outcome::Stuck(format!(
            "connection {}: {state}, sent {} of {} and shut: {}, got {} back",
            cl.id, cl.sent, cl.len, cl.shut, cl.got
        )));
    }
    None
}

/// One served connection's turn. False when it is closed.
fn serve(st: &mut Stack, now: Instant, v: &mut Served, buf: &mut [u8]) -> bool {
    // Bounded: read only while the echo backlog is small (the peer waits on our window).
    while !v.eof && v.pending.len() < 65536 {
        match st.read(now, v.fd, buf) {
            Ok(0) => v.eof = true,
            Ok(n) => {
                v.pending.extend_from_slice(&buf[..n]);
                v.last_progress = now;
            }
            Err(Errno::EAGAIN) => break,
            Err(_) => {
                let _ = st.close(now, v.fd);
                return false;
            }
        }
    }
    while !v.pending.is_empty() {
        match st.write(now, v.fd, &v.pending) {
            Ok(n) => {
                v.pending.drain(..n);
                v.last_progress = now;
            }
            Err(Errno::EAGAIN) => break,
            Err(_) => {
                let _ = st.close(now, v.fd);
                return false;
            }
        }
    }
    let idle = now.saturating_duration_since(v.last_progress) > STUCK_AFTER;
    if (v.eof && v.pending.is_empty()) || idle {
        let _ = st.close(now, v.fd);
        return false;
    }
    true
}
