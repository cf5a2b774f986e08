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
    /// net.core.rmem_max (caps SO_RCVBUF; enters the window-scale choice)
    pub rmem_max: u32,
    /// net.core.wmem_max (caps SO_SNDBUF)
    pub wmem_max: u32,
    /// net.core.netdev_max_backlog
    pub netdev_max_backlog: u32,
    /// net.ipv4.tcp_rfc1337
    pub tcp_rfc1337: bool,
    /// net.ipv4.tcp_challenge_ack_limit
    pub tcp_challenge_ack_limit: u32,
    /// The socket-descriptor limit (like `ulimit -n`): synack.max_sockets
    pub max_sockets: u32,
    /// Link MTU of the host's interface: synack.mtu (MSS = MTU - 40 for IPv4, - 60 for IPv6)
    pub mtu: u32,
    /// Seed of every random choice (ISN and cookie secrets, ports, timestamp offsets): synack.seed
    pub seed: u64,
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
            rmem_max: 212992,
            wmem_max: 212992,
            netdev_max_backlog: 1000,
            tcp_rfc1337: false,
            tcp_challenge_ack_limit: 1000,
            max_sockets: 1024,
            mtu: 1500,
            seed: 0,
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
            ..Config::seed()
        }
    }

    pub fn for_profile(p: Profile) -> Self {
        match p {
            Profile::Seed => Config::seed(),
            Profile::Linux => Config::linux(),
        }
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
    UnknownSetting {
        name: String,
    },
    BadValue {
        name: String,
        value: String,
        expected: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::UnknownSetting { name } => write!(f, "unknown setting {name}"),
            ConfigError::BadValue {
                name,
                value,
                expected,
            } => {
                write!(f, "{name}: {value} is out of range ({expected})")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Set one tunable by its sysctl name (minimal interim version).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let short = name.rsplit(['.', '/']).next().unwrap_or(name);
        let bad = |exp: &str| ConfigError::BadValue {
            name: name.into(),
            value: value.into(),
            expected: exp.into(),
        };
        let num = |lo: u64, hi: u64| -> Result<u64, ConfigError> {
            value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|v| (lo..=hi).contains(v))
                .ok_or_else(|| bad(&format!("{lo}..={hi}")))
        };
        match short {
            "tcp_syn_retries" => self.tcp_syn_retries = num(1, 127)? as u8,
            "tcp_synack_retries" => self.tcp_synack_retries = num(0, 255)? as u8,
            "tcp_syn_linear_timeouts" => self.tcp_syn_linear_timeouts = num(0, 255)? as u8,
            "tcp_fin_timeout" => self.tcp_fin_timeout = Duration::from_secs(num(1, 1 << 31)?),
            "time_wait_len" => self.time_wait_len = Duration::from_secs(num(1, 600)?),
            "somaxconn" => self.somaxconn = num(0, i32::MAX as u64)? as u32,
            "tcp_max_syn_backlog" => self.tcp_max_syn_backlog = num(1, i32::MAX as u64)? as u32,
            "tcp_abort_on_overflow" => self.tcp_abort_on_overflow = num(0, 1)? == 1,
            "tcp_syncookies" => self.tcp_syncookies = num(0, 2)? as u8,
            "tcp_tw_reuse" => self.tcp_tw_reuse = num(0, 2)? as u8,
            "tcp_timestamps" => self.tcp_timestamps = num(0, 2)? as u8,
            "tcp_max_tw_buckets" => self.tcp_max_tw_buckets = num(0, i32::MAX as u64)? as u32,
            _ => return Err(ConfigError::UnknownSetting { name: name.into() }),
        }
        Ok(())
    }
}

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
