//! Every tunable, under its Linux name, with the two behaviour profiles of LINUX-TCP.md.
//!
//! Durations are stored as `Duration`; sysctls that Linux keeps in seconds are
//! parsed/printed in seconds. The name table, checked setters, sysctl.conf loading and
//! `/proc/sys` reading live below (see `Config::set`).
use std::time::Duration;

/// Which defaults a `Config` starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// What the document states (4.x-era kernels). The default.
    #[default]
    Seed,
    /// Linux 6.x (checked against 6.18 with packetdrill).
    Linux,
}

/// The stack's tunables. Field names are the sysctl's last component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub profile: Profile,
    /// net.ipv4.tcp_syn_retries
    pub tcp_syn_retries: u8,
    /// net.ipv4.tcp_syn_linear_timeouts
    pub tcp_syn_linear_timeouts: u8,
    /// net.ipv4.tcp_synack_retries
    pub tcp_synack_retries: u8,
    /// net.ipv4.tcp_max_syn_backlog
    pub tcp_max_syn_backlog: u32,
    /// net.core.somaxconn
    pub somaxconn: u32,
    /// net.ipv4.tcp_abort_on_overflow
    pub tcp_abort_on_overflow: bool,
    /// net.ipv4.tcp_syncookies (0, 1, 2)
    pub tcp_syncookies: u8,
    /// net.ipv4.tcp_fastopen (bit mask)
    pub tcp_fastopen: u32,
    /// net.ipv4.tcp_fastopen_key: primary and optional backup key. `None`: random from the seed.
    pub tcp_fastopen_key: Option<[u8; 16]>,
    pub tcp_fastopen_backup_key: Option<[u8; 16]>,
    /// net.ipv4.tcp_keepalive_time
    pub tcp_keepalive_time: Duration,
    /// net.ipv4.tcp_keepalive_intvl
    pub tcp_keepalive_intvl: Duration,
    /// net.ipv4.tcp_keepalive_probes
    pub tcp_keepalive_probes: u32,
    /// net.ipv4.tcp_retries1
    pub tcp_retries1: u32,
    /// net.ipv4.tcp_retries2
    pub tcp_retries2: u32,
    /// net.ipv4.tcp_orphan_retries (0 means 8)
    pub tcp_orphan_retries: u32,
    /// net.ipv4.tcp_max_orphans
    pub tcp_max_orphans: u32,
    /// net.ipv4.tcp_fin_timeout
    pub tcp_fin_timeout: Duration,
    /// TCP_TIMEWAIT_LEN (a constant in Linux, a setting here): synack.time_wait_len
    pub time_wait_len: Duration,
    /// net.ipv4.tcp_tw_reuse (0, 1, 2)
    pub tcp_tw_reuse: u8,
    /// net.ipv4.tcp_max_tw_buckets
    pub tcp_max_tw_buckets: u32,
    /// net.ipv4.ip_local_port_range
    pub ip_local_port_range: (u16, u16),
    /// net.ipv4.tcp_timestamps (0, 1, 2)
    pub tcp_timestamps: u8,
    /// net.ipv4.tcp_sack
    pub tcp_sack: bool,
    /// net.ipv4.tcp_window_scaling
    pub tcp_window_scaling: bool,
    /// net.ipv4.tcp_rmem: min, default, max
    pub tcp_rmem: [u32; 3],
    /// net.ipv4.tcp_wmem: min, default, max
    pub tcp_wmem: [u32; 3],
    /// net.ipv4.tcp_comp_sack_nr: how many SACKs for out-of-order data may be held back
    /// in a row (0: none)
    pub tcp_comp_sack_nr: u8,
    /// net.ipv4.tcp_comp_sack_delay_ns: the longest a SACK is held back (5% of the RTT if
    /// shorter)
    pub tcp_comp_sack_delay_ns: u64,
    /// net.ipv4.tcp_comp_sack_slack_ns: how late Linux's timer may fire after that; ours
    /// fires at the delay itself
    pub tcp_comp_sack_slack_ns: u64,
    /// net.ipv4.tcp_moderate_rcvbuf: grow receive buffers towards tcp_rmem[2] with what
    /// the application reads per round trip (unless SO_RCVBUF was set)
    pub tcp_moderate_rcvbuf: bool,
    /// net.core.rmem_max (caps SO_RCVBUF; enters the window-scale choice)
    pub rmem_max: u32,
    /// net.core.wmem_max (caps SO_SNDBUF)
    pub wmem_max: u32,
    /// net.core.netdev_max_backlog
    pub netdev_max_backlog: u32,
    /// net.ipv4.tcp_rfc1337
    pub tcp_rfc1337: bool,
    /// net.ipv4.tcp_congestion_control: reno or cubic (Linux's default).
    pub tcp_congestion_control: crate::cc::Algorithm,
    /// net.ipv4.tcp_slow_start_after_idle: after an idle RTO, the window starts over.
    pub tcp_slow_start_after_idle: bool,
    /// net.ipv4.tcp_early_retrans: 3 or 4 send tail loss probes (RFC 8985) on SACK
    /// connections; 0 to 2 do not (Linux's older early-retransmit modes are gone).
    pub tcp_early_retrans: u8,
    /// tcp_cubic's `hystart` module parameter: CUBIC leaves slow start when ACKs come as
    /// a train as long as half the minimum RTT, or the RTT grows (Linux: on).
    pub hystart: bool,
    /// net.ipv4.tcp_dsack: report duplicate segments in a D-SACK block (RFC 2883).
    pub tcp_dsack: bool,
    /// net.ipv4.tcp_recovery: bit 0x1 turns on RACK (here: the reorder timer — a hole
    /// with data SACKed above it is lost a reordering window later — and lost
    /// retransmissions found in SACK recovery).
    pub tcp_recovery: u8,
    /// net.ipv4.tcp_frto: after a retransmission timeout, F-RTO (RFC 5682, SACK-enhanced
    /// when SACK is on) sends new data on the first ACK and undoes the cut if the next one
    /// acknowledges data that was never retransmitted — the timeout was spurious.
    pub tcp_frto: u8,
    /// net.ipv4.tcp_reordering: segments SACKed above a hole before it counts as lost
    /// (the duplicate-ACK threshold, each connection's initial `tp->reordering`).
    pub tcp_reordering: u32,
    /// net.ipv4.tcp_max_reordering: the most a connection's reordering degree grows to.
    pub tcp_max_reordering: u32,
    /// net.ipv4.tcp_challenge_ack_limit
    pub tcp_challenge_ack_limit: u32,
    /// net.ipv4.tcp_invalid_ratelimit: at most one challenge ACK per socket this often
    pub tcp_invalid_ratelimit: Duration,
    /// The socket-descriptor limit (like `ulimit -n`): synack.max_sockets
    pub max_sockets: u32,
    /// Link MTU of the host's interface: synack.mtu (MSS = MTU - 40 for IPv4, - 60 for IPv6)
    pub mtu: u32,
    /// Seed of every random choice (ISN and cookie secrets, ports, timestamp offsets): synack.seed
    pub seed: u64,
    /// Tunables of features synack does not model yet (loss recovery and congestion
    /// control: issue 11; ECN; pacing). They are accepted and reported under their Linux
    /// names so that sysctl files and packetdrill's defaults.conf load; `synack sysctl`
    /// marks them "not acted on yet".
    pub later: Later,
}

/// See [`Config::later`]: Linux's values, kept until the behaviour behind them exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Later {
    pub tcp_fack: bool,
    pub tcp_tso_win_divisor: u8,
    pub tcp_min_tso_segs: u8,
    pub tcp_ecn: u8,
    pub tcp_ecn_option: u8,
    pub tcp_pacing_ss_ratio: u32,
    pub tcp_pacing_ca_ratio: u32,
    pub tcp_notsent_lowat: u32,
    pub tcp_rto_max_ms: u32,
    pub tcp_fastopen_blackhole_timeout_sec: u32,
}

impl Default for Later {
    /// Linux 6.x defaults.
    fn default() -> Self {
        Later {
            tcp_fack: false,
            tcp_tso_win_divisor: 3,
            tcp_min_tso_segs: 2,
            tcp_ecn: 2,
            tcp_ecn_option: 2,
            tcp_pacing_ss_ratio: 200,
            tcp_pacing_ca_ratio: 120,
            tcp_notsent_lowat: u32::MAX,
            tcp_rto_max_ms: 120_000,
            tcp_fastopen_blackhole_timeout_sec: 0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::seed()
    }
}

impl Config {
    /// The document's defaults (profile `seed`).
    pub fn seed() -> Self {
        Config {
            profile: Profile::Seed,
            tcp_syn_retries: 5,
            tcp_syn_linear_timeouts: 0,
            tcp_synack_retries: 5,
            tcp_max_syn_backlog: 2048,
            somaxconn: 128,
            tcp_abort_on_overflow: false,
            tcp_syncookies: 1,
            tcp_fastopen: 1,
            tcp_fastopen_key: None,
            tcp_fastopen_backup_key: None,
            tcp_keepalive_time: Duration::from_secs(7200),
            tcp_keepalive_intvl: Duration::from_secs(75),
            tcp_keepalive_probes: 9,
            tcp_retries1: 3,
            tcp_retries2: 15,
            tcp_orphan_retries: 0,
            tcp_max_orphans: 131072,
            tcp_fin_timeout: Duration::from_secs(60),
            time_wait_len: Duration::from_secs(60),
            tcp_tw_reuse: 1,
            tcp_max_tw_buckets: 18000,
            ip_local_port_range: (32768, 60999),
            tcp_timestamps: 1,
            tcp_sack: true,
            tcp_window_scaling: true,
            tcp_rmem: [4096, 131072, 6291456],
            tcp_wmem: [4096, 16384, 4194304],
            tcp_moderate_rcvbuf: true,
            tcp_comp_sack_nr: 44,
            tcp_comp_sack_delay_ns: 1_000_000,
            tcp_comp_sack_slack_ns: 100_000,
            rmem_max: 212992,
            wmem_max: 212992,
            netdev_max_backlog: 1000,
            tcp_rfc1337: false,
            tcp_congestion_control: crate::cc::Algorithm::Cubic,
            tcp_slow_start_after_idle: true,
            // The document counts only RTO retransmissions (a lost FIN is resent
            // tcp_orphan_retries times); Linux 6.x probes the tail first (linux profile).
            tcp_early_retrans: 0,
            // The document knows slow start ending at ssthresh or a loss; Linux's CUBIC
            // also ends it on HyStart's signals (linux profile).
            hystart: false,
            tcp_dsack: true,
            tcp_recovery: 1,
            tcp_frto: 2,
            tcp_reordering: 3,
            tcp_max_reordering: 300,
            tcp_challenge_ack_limit: 1000,
            tcp_invalid_ratelimit: Duration::from_millis(500),
            max_sockets: 1024,
            mtu: 1500,
            seed: 0,
            later: Later::default(),
        }
    }

    /// Linux 6.x defaults (profile `linux`).
    pub fn linux() -> Self {
        Config {
            profile: Profile::Linux,
            tcp_syn_retries: 6,
            tcp_syn_linear_timeouts: 4,
            somaxconn: 4096,
            tcp_tw_reuse: 2,
            tcp_max_tw_buckets: 131072,
            tcp_challenge_ack_limit: i32::MAX as u32,
            tcp_early_retrans: 3,
            hystart: true,
            ..Config::seed()
        }
    }

    pub fn for_profile(p: Profile) -> Self {
        match p {
            Profile::Seed => Config::seed(),
            Profile::Linux => Config::linux(),
        }
    }

    /// The largest RTO (net.ipv4.tcp_rto_max_ms, Linux 6.15; 120 s before).
    pub fn rto_max(&self) -> Duration {
        Duration::from_millis(self.later.tcp_rto_max_ms.into())
    }

    /// tcp_orphan_retries as Linux reads it: 0 means 8.
    pub fn orphan_retries(&self) -> u32 {
        if self.tcp_orphan_retries == 0 {
            8
        } else {
            self.tcp_orphan_retries
        }
    }
}

/// A setting that could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No such setting; `suggestion` is the closest known name, if one is close.
    UnknownSetting {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// The value is not allowed: `expected` says what is.
    BadValue {
        name: &'static str,
        value: String,
        expected: String,
    },
    /// A line of a sysctl.conf file (`source:line: error`).
    File {
        source: String,
        line: usize,
        error: Box<ConfigError>,
    },
    /// A file could not be read.
    Io { path: String, error: String },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::UnknownSetting {
                name,
                suggestion: Some(s),
            } => {
                write!(f, "unknown setting {name:?} (did you mean {s}?)")
            }
            ConfigError::UnknownSetting {
                name,
                suggestion: None,
            } => write!(f, "unknown setting {name:?}"),
            ConfigError::BadValue {
                name,
                value,
                expected,
            } => {
                write!(f, "{name}: {value:?} is not allowed ({expected})")
            }
            ConfigError::File {
                source,
                line,
                error,
            } => write!(f, "{source}:{line}: {error}"),
            ConfigError::Io { path, error } => write!(f, "{path}: {error}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "seed" => Ok(Profile::Seed),
            "linux" => Ok(Profile::Linux),
            _ => Err(format!("unknown profile {s:?} (seed or linux)")),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Seed => "seed",
            Profile::Linux => "linux",
        })
    }
}

type Getter = fn(&Config) -> String;
type Setter = fn(&mut Config, &str) -> Result<(), String>;

/// One tunable: its Linux name, what values it takes, and how to read and write it.
struct Setting {
    name: &'static str,
    expected: &'static str,
    doc: &'static str,
    get: Getter,
    set: Setter,
}

fn int(v: &str, lo: i64, hi: i64) -> Result<i64, String> {
    let v = v.trim();
    let n = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        i64::from_str_radix(h, 16)
    } else {
        v.parse::<i64>()
    }
    .map_err(|_| format!("{lo}..={hi}"))?;
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{lo}..={hi}"))
    }
}

fn ints<const N: usize>(v: &str, lo: i64, hi: i64) -> Result<[i64; N], String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != N {
        return Err(format!("{N} integers in {lo}..={hi}"));
    }
    let mut out = [0i64; N];
    for (o, p) in out.iter_mut().zip(parts) {
        *o = int(p, lo, hi).map_err(|_| format!("{N} integers in {lo}..={hi}"))?;
    }
    Ok(out)
}

fn secs(v: &str, lo: f64, hi: f64) -> Result<Duration, String> {
    let n: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("seconds in {lo}..={hi}"))?;
    if n.is_finite() && (lo..=hi).contains(&n) {
        Ok(Duration::from_secs_f64(n))
    } else {
        Err(format!("seconds in {lo}..={hi}"))
    }
}

fn show_secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}", d.as_secs_f64())
    }
}

/// `tcp_fastopen_key`: four groups of 8 hex digits; the kernel stores each group as a
/// little-endian u32, so those are the key bytes.
fn parse_key(v: &str) -> Result<[u8; 16], String> {
    let expected = || "xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx (hex)".to_string();
    let groups: Vec<&str> = v.trim().split('-').collect();
    if groups.len() != 4 {
        return Err(expected());
    }
    let mut key = [0u8; 16];
    for (i, g) in groups.iter().enumerate() {
        if g.is_empty() || g.len() > 8 {
            return Err(expected());
        }
        let w = u32::from_str_radix(g, 16).map_err(|_| expected())?;
        key[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    Ok(key)
}

fn show_key(k: &[u8; 16]) -> String {
    k.chunks(4)
        .map(|c| format!("{:08x}", u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect::<Vec<_>>()
        .join("-")
}

macro_rules! setting {
    ($name:literal, $expected:literal, $doc:literal, |$c:ident| $get:expr, |$m:ident, $v:ident| $set:expr) => {
        Setting {
            name: $name,
            expected: $expected,
            doc: $doc,
            get: |$c: &Config| $get,
            set: |$m: &mut Config, $v: &str| {
                $set;
                Ok(())
            },
        }
    };
}

/// A tunable of [`Later`]: an integer in a range.
macro_rules! later {
    ($name:literal, $field:ident, $lo:expr, $hi:expr, $doc:literal) => {
        Setting {
            name: $name,
            expected: concat!(stringify!($lo), "..=", stringify!($hi)),
            doc: concat!("not acted on yet: ", $doc),
            get: |c: &Config| c.later.$field.to_string(),
            set: |c: &mut Config, v: &str| {
                c.later.$field = int(v, $lo as i64, $hi as i64)? as _;
                Ok(())
            },
        }
    };
}

/// A tunable of [`Later`]: 0 or 1.
macro_rules! later_bool {
    ($name:literal, $field:ident, $doc:literal) => {
        Setting {
            name: $name,
            expected: "0 or 1",
            doc: concat!("not acted on yet: ", $doc),
            get: |c: &Config| (c.later.$field as u8).to_string(),
            set: |c: &mut Config, v: &str| {
                c.later.$field = int(v, 0, 1)? == 1;
                Ok(())
            },
        }
    };
}

/// Every setting, with Linux's names and ranges. The one place that knows them.
const SETTINGS: &[Setting] = &[
    setting!(
        "net.ipv4.tcp_syn_retries",
        "1..=127",
        "SYN retransmissions before connect() fails (ETIMEDOUT)",
        |c| c.tcp_syn_retries.to_string(),
        |c, v| c.tcp_syn_retries = int(v, 1, 127)? as u8
    ),
    setting!(
        "net.ipv4.tcp_syn_linear_timeouts",
        "0..=255",
        "first N SYN retransmissions 1 s apart, then doubling",
        |c| c.tcp_syn_linear_timeouts.to_string(),
        |c, v| c.tcp_syn_linear_timeouts = int(v, 0, 255)? as u8
    ),
    setting!(
        "net.ipv4.tcp_synack_retries",
        "0..=255",
        "SYN-ACK retransmissions before a request is dropped",
        |c| c.tcp_synack_retries.to_string(),
        |c, v| c.tcp_synack_retries = int(v, 0, 255)? as u8
    ),
    setting!(
        "net.ipv4.tcp_max_syn_backlog",
        "1..=2147483647",
        "bounds the SYN queue",
        |c| c.tcp_max_syn_backlog.to_string(),
        |c, v| c.tcp_max_syn_backlog = int(v, 1, i32::MAX as i64)? as u32
    ),
    setting!(
        "net.core.somaxconn",
        "0..=2147483647",
        "caps listen()'s backlog",
        |c| c.somaxconn.to_string(),
        |c, v| c.somaxconn = int(v, 0, i32::MAX as i64)? as u32
    ),
    setting!(
        "net.ipv4.tcp_abort_on_overflow",
        "0 or 1",
        "accept queue full: 0 drop the final ACK, 1 answer RST",
        |c| (c.tcp_abort_on_overflow as u8).to_string(),
        |c, v| c.tcp_abort_on_overflow = int(v, 0, 1)? == 1
    ),
    setting!(
        "net.ipv4.tcp_syncookies",
        "0..=2",
        "SYN cookies: 0 off, 1 when the SYN queue overflows, 2 always",
        |c| c.tcp_syncookies.to_string(),
        |c, v| c.tcp_syncookies = int(v, 0, 2)? as u8
    ),
    setting!(
        "net.ipv4.tcp_fastopen",
        "0..=4294967295 (bit mask, 0x.. allowed)",
        "Fast Open: 0x1 client, 0x2 server, 0x4, 0x200, 0x400",
        |c| c.tcp_fastopen.to_string(),
        |c, v| c.tcp_fastopen = int(v, 0, u32::MAX as i64)? as u32
    ),
    setting!(
        "net.ipv4.tcp_fastopen_key",
        "xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx[,backup]",
        "Fast Open server key(s)",
        |c| match (c.tcp_fastopen_key, c.tcp_fastopen_backup_key) {
            (Some(k), Some(b)) => format!("{},{}", show_key(&k), show_key(&b)),
            (Some(k), None) => show_key(&k),
            _ => "00000000-00000000-00000000-00000000".to_string(),
        },
        |c, v| {
            let mut parts = v.split(',');
            c.tcp_fastopen_key = Some(parse_key(parts.next().unwrap_or(""))?);
            c.tcp_fastopen_backup_key = parts.next().map(parse_key).transpose()?;
        }
    ),
    setting!(
        "net.ipv4.tcp_keepalive_time",
        "1..=32767 s",
        "idle time before the first keepalive probe",
        |c| show_secs(c.tcp_keepalive_time),
        |c, v| c.tcp_keepalive_time = Duration::from_secs(int(v, 1, 32767)? as u64)
    ),
    setting!(
        "net.ipv4.tcp_keepalive_intvl",
        "1..=32767 s",
        "time between keepalive probes",
        |c| show_secs(c.tcp_keepalive_intvl),
        |c, v| c.tcp_keepalive_intvl = Duration::from_secs(int(v, 1, 32767)? as u64)
    ),
    setting!(
        "net.ipv4.tcp_keepalive_probes",
        "1..=127",
        "unanswered probes before the connection is reset",
        |c| c.tcp_keepalive_probes.to_string(),
        |c, v| c.tcp_keepalive_probes = int(v, 1, 127)? as u32
    ),
    setting!(
        "net.ipv4.tcp_retries1",
        "0..=255",
        "retransmissions before reporting to the network layer",
        |c| c.tcp_retries1.to_string(),
        |c, v| c.tcp_retries1 = int(v, 0, 255)? as u32
    ),
    setting!(
        "net.ipv4.tcp_retries2",
        "0..=255",
        "retransmissions (as a time budget) before ETIMEDOUT",
        |c| c.tcp_retries2.to_string(),
        |c, v| c.tcp_retries2 = int(v, 0, 255)? as u32
    ),
    setting!(
        "net.ipv4.tcp_orphan_retries",
        "0..=255 (0 means 8)",
        "retries for orphaned connections",
        |c| c.tcp_orphan_retries.to_string(),
        |c, v| c.tcp_orphan_retries = int(v, 0, 255)? as u32
    ),
    setting!(
        "net.ipv4.tcp_max_orphans",
        "0..=2147483647",
        "over it, a new orphan is reset at once",
        |c| c.tcp_max_orphans.to_string(),
        |c, v| c.tcp_max_orphans = int(v, 0, i32::MAX as i64)? as u32
    ),
    setting!(
        "net.ipv4.tcp_fin_timeout",
        "1..=2147483 s",
        "orphaned FIN_WAIT_2 lifetime",
        |c| show_secs(c.tcp_fin_timeout),
        |c, v| c.tcp_fin_timeout = Duration::from_secs(int(v, 1, 2_147_483)? as u64)
    ),
    setting!(
        "synack.time_wait_len",
        "0.001..=600 s",
        "TIME_WAIT length (Linux: TCP_TIMEWAIT_LEN, 60 s, a constant)",
        |c| show_secs(c.time_wait_len),
        |c, v| c.time_wait_len = secs(v, 0.001, 600.0)?
    ),
    setting!(
        "net.ipv4.tcp_tw_reuse",
        "0..=2",
        "connect() may reuse a TIME_WAIT 4-tuple (2: loopback only)",
        |c| c.tcp_tw_reuse.to_string(),
        |c, v| c.tcp_tw_reuse = int(v, 0, 2)? as u8
    ),
    setting!(
        "net.ipv4.tcp_max_tw_buckets",
        "0..=2147483647",
        "over it, a closing socket skips TIME_WAIT",
        |c| c.tcp_max_tw_buckets.to_string(),
        |c, v| c.tcp_max_tw_buckets = int(v, 0, i32::MAX as i64)? as u32
    ),
    setting!(
        "net.ipv4.ip_local_port_range",
        "two ports 1..=65535, low <= high",
        "ephemeral ports for connect()",
        |c| format!("{}\t{}", c.ip_local_port_range.0, c.ip_local_port_range.1),
        |c, v| {
            let [lo, hi] = ints::<2>(v, 1, 65535)?;
            if lo > hi {
                return Err("two ports 1..=65535, low <= high".into());
            }
            c.ip_local_port_range = (lo as u16, hi as u16);
        }
    ),
    setting!(
        "net.ipv4.tcp_timestamps",
        "0..=2",
        "offer RFC 7323 timestamps",
        |c| c.tcp_timestamps.to_string(),
        |c, v| c.tcp_timestamps = int(v, 0, 2)? as u8
    ),
    setting!(
        "net.ipv4.tcp_sack",
        "0 or 1",
        "offer SACK",
        |c| (c.tcp_sack as u8).to_string(),
        |c, v| c.tcp_sack = int(v, 0, 1)? == 1
    ),
    setting!(
        "net.ipv4.tcp_window_scaling",
        "0 or 1",
        "offer window scaling",
        |c| (c.tcp_window_scaling as u8).to_string(),
        |c, v| c.tcp_window_scaling = int(v, 0, 1)? == 1
    ),
    setting!(
        "net.ipv4.tcp_rmem",
        "min default max, 1 <= min <= default <= max",
        "receive buffer sizes; max sets the window scale",
        |c| format!("{}\t{}\t{}", c.tcp_rmem[0], c.tcp_rmem[1], c.tcp_rmem[2]),
        |c, v| c.tcp_rmem = buffer_triple(v)?
    ),
    setting!(
        "net.ipv4.tcp_wmem",
        "min default max, 1 <= min <= default <= max",
        "send buffer sizes",
        |c| format!("{}\t{}\t{}", c.tcp_wmem[0], c.tcp_wmem[1], c.tcp_wmem[2]),
        |c, v| c.tcp_wmem = buffer_triple(v)?
    ),
    setting!(
        "net.ipv4.tcp_comp_sack_nr",
        "0..=255",
        "SACKs held back in a row (0: every one sent at once)",
        |c| c.tcp_comp_sack_nr.to_string(),
        |c, v| c.tcp_comp_sack_nr = int(v, 0, 255)? as u8
    ),
    setting!(
        "net.ipv4.tcp_comp_sack_delay_ns",
        "0..=9223372036854775807",
        "longest a SACK is held back, ns",
        |c| c.tcp_comp_sack_delay_ns.to_string(),
        |c, v| c.tcp_comp_sack_delay_ns = int(v, 0, i64::MAX)? as u64
    ),
    setting!(
        "net.ipv4.tcp_comp_sack_slack_ns",
        "0..=9223372036854775807",
        "timer slack, ns (accepted; the timer fires at the delay)",
        |c| c.tcp_comp_sack_slack_ns.to_string(),
        |c, v| c.tcp_comp_sack_slack_ns = int(v, 0, i64::MAX)? as u64
    ),
    setting!(
        "net.ipv4.tcp_moderate_rcvbuf",
        "0 or 1",
        "receive-buffer auto-tuning",
        |c| (c.tcp_moderate_rcvbuf as u8).to_string(),
        |c, v| c.tcp_moderate_rcvbuf = int(v, 0, 1)? == 1
    ),
    setting!(
        "net.core.rmem_max",
        "1..=2147483647",
        "caps SO_RCVBUF",
        |c| c.rmem_max.to_string(),
        |c, v| c.rmem_max = int(v, 1, i32::MAX as i64)? as u32
    ),
    setting!(
        "net.core.wmem_max",
        "1..=2147483647",
        "caps SO_SNDBUF",
        |c| c.wmem_max.to_string(),
        |c, v| c.wmem_max = int(v, 1, i32::MAX as i64)? as u32
    ),
    setting!(
        "net.core.netdev_max_backlog",
        "1..=2147483647",
        "segments processed per poll at most",
        |c| c.netdev_max_backlog.to_string(),
        |c, v| c.netdev_max_backlog = int(v, 1, i32::MAX as i64)? as u32
    ),
    setting!(
        "net.ipv4.tcp_rfc1337",
        "0 or 1",
        "1: a RST does not end TIME_WAIT",
        |c| (c.tcp_rfc1337 as u8).to_string(),
        |c, v| c.tcp_rfc1337 = int(v, 0, 1)? == 1
    ),
    setting!(
        "net.ipv4.tcp_challenge_ack_limit",
        "0..=2147483647",
        "challenge ACKs per second",
        |c| c.tcp_challenge_ack_limit.to_string(),
        |c, v| c.tcp_challenge_ack_limit = int(v, 0, i32::MAX as i64)? as u32
    ),
    setting!(
        "net.ipv4.tcp_invalid_ratelimit",
        "0..=2147483647 ms",
        "per socket, at most one challenge ACK this often (ms)",
        |c| c.tcp_invalid_ratelimit.as_millis().to_string(),
        |c, v| c.tcp_invalid_ratelimit = Duration::from_millis(int(v, 0, i32::MAX as i64)? as u64)
    ),
    setting!(
        "synack.max_sockets",
        "1..=1048576",
        "socket descriptors a host may hold (like ulimit -n)",
        |c| c.max_sockets.to_string(),
        |c, v| c.max_sockets = int(v, 1, 1 << 20)? as u32
    ),
    setting!(
        "synack.mtu",
        "68..=65535",
        "interface MTU (MSS = MTU - 40, or - 60 for IPv6)",
        |c| c.mtu.to_string(),
        |c, v| c.mtu = int(v, 68, 65535)? as u32
    ),
    setting!(
        "net.ipv4.tcp_frto",
        "0..=2",
        "non-zero: F-RTO (RFC 5682) tells a spurious retransmission timeout and undoes its cut",
        |c| c.tcp_frto.to_string(),
        |c, v| c.tcp_frto = int(v, 0, 2)? as u8
    ),
    setting!(
        "net.ipv4.tcp_dsack",
        "0..=1",
        "a duplicate segment is reported in a D-SACK block (RFC 2883), on SACK connections",
        |c| (c.tcp_dsack as u8).to_string(),
        |c, v| c.tcp_dsack = int(v, 0, 1)? == 1
    ),
    later_bool!(
        "net.ipv4.tcp_fack",
        tcp_fack,
        "FACK (removed in Linux 4.15)"
    ),
    setting!(
        "net.ipv4.tcp_reordering",
        "1..=300",
        "segments SACKed above a hole before it is lost (grows per connection as reordering is seen)",
        |c| c.tcp_reordering.to_string(),
        |c, v| c.tcp_reordering = int(v, 1, 300)? as u32
    ),
    setting!(
        "net.ipv4.tcp_max_reordering",
        "1..=65535",
        "the largest reordering degree a connection learns",
        |c| c.tcp_max_reordering.to_string(),
        |c, v| c.tcp_max_reordering = int(v, 1, 65535)? as u32
    ),
    setting!(
        "net.ipv4.tcp_congestion_control",
        "reno or cubic",
        "congestion avoidance after loss and above ssthresh (TCP_CONGESTION per socket)",
        |c| c.tcp_congestion_control.name().to_string(),
        |c, v| {
            c.tcp_congestion_control = crate::cc::Algorithm::from_name(v.trim())
                .ok_or_else(|| "reno or cubic (the algorithms synack has)".to_string())?
        }
    ),
    setting!(
        "net.ipv4.tcp_slow_start_after_idle",
        "0 or 1",
        "after an idle RTO the window restarts from the initial window",
        |c| (c.tcp_slow_start_after_idle as u8).to_string(),
        |c, v| c.tcp_slow_start_after_idle = int(v, 0, 1)? == 1
    ),
    setting!(
        "synack.hystart",
        "0..=1",
        "CUBIC's HyStart (tcp_cubic's hystart parameter; Linux: 1): leave slow start on an ACK train or a growing RTT",
        |c| (c.hystart as u8).to_string(),
        |c, v| c.hystart = int(v, 0, 1)? == 1
    ),
    setting!(
        "net.ipv4.tcp_early_retrans",
        "0..=4",
        "3 or 4: a tail loss probe two RTTs after the last segment (RFC 8985), on SACK connections",
        |c| c.tcp_early_retrans.to_string(),
        |c, v| c.tcp_early_retrans = int(v, 0, 4)? as u8
    ),
    setting!(
        "net.ipv4.tcp_recovery",
        "0..=7",
        "bit 0x1: RACK — a hole with data SACKed above it is lost a reordering window later \
         (the reorder timer), lost retransmissions are found (0x2/0x4 are not modelled)",
        |c| c.tcp_recovery.to_string(),
        |c, v| c.tcp_recovery = int(v, 0, 7)? as u8
    ),
    later!(
        "net.ipv4.tcp_tso_win_divisor",
        tcp_tso_win_divisor,
        1,
        255,
        "TSO deferral"
    ),
    later!(
        "net.ipv4.tcp_min_tso_segs",
        tcp_min_tso_segs,
        1,
        255,
        "smallest TSO burst"
    ),
    later!("net.ipv4.tcp_ecn", tcp_ecn, 0, 5, "ECN negotiation"),
    later!(
        "net.ipv4.tcp_ecn_option",
        tcp_ecn_option,
        0,
        2,
        "AccECN option"
    ),
    later!(
        "net.ipv4.tcp_pacing_ss_ratio",
        tcp_pacing_ss_ratio,
        0,
        1000,
        "pacing in slow start (%); tcpi_pacing_rate shows it, CUBIC is not paced without fq"
    ),
    later!(
        "net.ipv4.tcp_pacing_ca_ratio",
        tcp_pacing_ca_ratio,
        0,
        1000,
        "pacing in congestion avoidance (%); tcpi_pacing_rate shows it, not applied"
    ),
    later!(
        "net.ipv4.tcp_notsent_lowat",
        tcp_notsent_lowat,
        0,
        u32::MAX as i64,
        "unsent-bytes limit for POLLOUT"
    ),
    setting!(
        "net.ipv4.tcp_rto_max_ms",
        "1000..=120000",
        "largest retransmission timeout, ms (backoff of data, SYN-ACKs and probes)",
        |c| c.later.tcp_rto_max_ms.to_string(),
        |c, v| c.later.tcp_rto_max_ms = int(v, 1000, 120000)? as u32
    ),
    later!(
        "net.ipv4.tcp_fastopen_blackhole_timeout_sec",
        tcp_fastopen_blackhole_timeout_sec,
        0,
        2147483647,
        "Fast Open blackhole back-off"
    ),
    setting!(
        "synack.seed",
        "0..=18446744073709551615",
        "seed of every random choice",
        |c| c.seed.to_string(),
        |c, v| c.seed = v
            .trim()
            .parse()
            .map_err(|_| "an unsigned 64-bit integer".to_string())?
    ),
];

fn buffer_triple(v: &str) -> Result<[u32; 3], String> {
    let msg = "min default max, 1 <= min <= default <= max";
    let [a, b, c] = ints::<3>(v, 1, i32::MAX as i64).map_err(|_| msg.to_string())?;
    if a <= b && b <= c {
        Ok([a as u32, b as u32, c as u32])
    } else {
        Err(msg.into())
    }
}

/// Accept `net.ipv4.tcp_syn_retries`, `tcp_syn_retries`, `net/ipv4/tcp_syn_retries` and
/// `/proc/sys/net/ipv4/tcp_syn_retries`.
fn lookup(name: &str) -> Option<&'static Setting> {
    let n = name
        .trim()
        .trim_start_matches("/proc/sys/")
        .replace('/', ".");
    SETTINGS.iter().find(|s| s.name == n).or_else(|| {
        SETTINGS
            .iter()
            .find(|s| s.name.rsplit('.').next() == Some(n.as_str()))
    })
}

/// The known name closest to `name` (edit distance on the last component).
fn suggest(name: &str) -> Option<&'static str> {
    fn dist(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push(
                    (prev[j] + (ca != *cb) as usize)
                        .min(prev[j + 1] + 1)
                        .min(cur[j] + 1),
                );
            }
            prev = cur;
        }
        prev[b.len()]
    }
    let last = name.rsplit(['.', '/']).next().unwrap_or(name);
    SETTINGS
        .iter()
        .map(|s| {
            (
                dist(last, s.name.rsplit('.').next().unwrap_or(s.name)),
                s.name,
            )
        })
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

impl Config {
    /// Set a tunable by its sysctl name (full, short, or /proc/sys path), with the value
    /// as `sysctl -w` takes it. A bad value names the setting and what it allows.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let s = lookup(name).ok_or_else(|| ConfigError::UnknownSetting {
            name: name.to_string(),
            suggestion: suggest(name),
        })?;
        (s.set)(self, value).map_err(|expected| ConfigError::BadValue {
            name: s.name,
            value: value.trim().to_string(),
            expected,
        })
    }

    /// A tunable's value as `sysctl -n` prints it.
    pub fn get(&self, name: &str) -> Result<String, ConfigError> {
        let s = lookup(name).ok_or_else(|| ConfigError::UnknownSetting {
            name: name.to_string(),
            suggestion: suggest(name),
        })?;
        Ok((s.get)(self))
    }

    /// Every setting: (name, value as sysctl prints it, what it allows, what it does).
    pub fn settings(
        &self,
    ) -> impl Iterator<Item = (&'static str, String, &'static str, &'static str)> + '_ {
        SETTINGS
            .iter()
            .map(move |s| (s.name, (s.get)(self), s.expected, s.doc))
    }

    /// Apply a sysctl.conf(5) text: `name = value` lines, `#`/`;` comments; a leading `-`
    /// ignores an error on that line. Errors name `source:line`.
    pub fn load_sysctl_conf(&mut self, text: &str, source: &str) -> Result<(), ConfigError> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let (lenient, line) = match line.strip_prefix('-') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let file_err = |e: ConfigError| ConfigError::File {
                source: source.to_string(),
                line: i + 1,
                error: Box::new(e),
            };
            let Some((k, v)) = line.split_once('=') else {
                if lenient {
                    continue;
                }
                return Err(file_err(ConfigError::BadValue {
                    name: "sysctl.conf",
                    value: line.to_string(),
                    expected: "a line `name = value`".into(),
                }));
            };
            if let Err(e) = self.set(k.trim(), v.trim()) {
                if !lenient {
                    return Err(file_err(e));
                }
            }
        }
        Ok(())
    }

    /// Read a sysctl.conf-format file on top of this configuration.
    pub fn load_file(&mut self, path: &std::path::Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        self.load_sysctl_conf(&text, &path.display().to_string())
    }

    /// The `linux` profile overlaid with this machine's values under `proc_sys`
    /// (normally `/proc/sys`); settings whose file is missing keep the profile's value, and a
    /// congestion-control algorithm synack does not have leaves CUBIC in place.
    pub fn from_host(proc_sys: &std::path::Path) -> Result<Config, ConfigError> {
        let mut c = Config::linux();
        for s in SETTINGS.iter().filter(|s| s.name.starts_with("net.")) {
            let path = proc_sys.join(s.name.replace('.', "/"));
            if let Ok(v) = std::fs::read_to_string(&path) {
                // A host may run an algorithm synack does not have (bbr, ...): the host's
                // stack is read as it is, with CUBIC, Linux's default, in its place.
                if s.name == "net.ipv4.tcp_congestion_control"
                    && crate::cc::Algorithm::from_name(v.trim()).is_none()
                {
                    continue;
                }
                c.set(s.name, v.trim()).map_err(|e| ConfigError::File {
                    source: path.display().to_string(),
                    line: 1,
                    error: Box::new(e),
                })?;
            }
        }
        Ok(c)
    }
}
