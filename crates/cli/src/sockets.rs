//! `--ss-at`, `--ss-args`, `--netstat`, `--nstat`: the hosts' socket tables and counters
//! inside a scenario's timeline, as `ss`, `netstat` and `nstat` print them.
use clap::Args;
use synack_core::Instant;
use synack_sim::scenarios::World;
use synack_sim::ss::{self, NetstatOptions, Nstat, SsOptions};

#[derive(Args, Clone, Debug, Default)]
pub struct SocketOpts {
    /// Print every host's socket table at this moment of the run (repeatable): `5s`, `5`
    /// (seconds), `500ms`, `2min`.
    #[arg(long = "ss-at", value_name = "TIME")]
    pub ss_at: Vec<String>,
    /// The `ss` flags and state filter of those tables, as one argument:
    /// --ss-args "-tan state time-wait".
    #[arg(
        long = "ss-args",
        value_name = "ARGS",
        default_value = "-tanoi",
        allow_hyphen_values = true
    )]
    pub ss_args: String,
    /// Print the tables as `netstat -napt` instead of `ss`.
    #[arg(long)]
    pub netstat: bool,
    /// Print every host's counters at the end of the run, as `nstat` (non-zero ones).
    #[arg(long)]
    pub nstat: bool,
}

/// `5s`, `5`, `500ms`, `1.5s`, `2min` as an instant of virtual time.
pub fn parse_time(s: &str) -> Result<Instant, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = t.strip_suffix("min") {
        (n, 1e6 * 60.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1e6 * 60.0)
    } else {
        (t, 1e6)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("--ss-at {s:?}: expected a time such as 5s, 5, 500ms or 2min"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("--ss-at {s:?}: the time must be 0 or later"));
    }
    Ok(Instant::from_micros((v * scale).round() as u64))
}

/// What to print, checked before the run.
pub struct Plan {
    pub times: Vec<Instant>,
    pub ss: SsOptions,
    pub netstat: NetstatOptions,
    pub use_netstat: bool,
    pub nstat: bool,
}

impl SocketOpts {
    pub fn plan(&self) -> Result<Plan, String> {
        let times = self
            .ss_at
            .iter()
            .map(|s| parse_time(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Plan {
            times,
            ss: SsOptions::parse(&self.ss_args)?,
            netstat: NetstatOptions {
                all: true,
                listening: false,
                programs: true,
                timers: false,
            },
            use_netstat: self.netstat,
            nstat: self.nstat,
        })
    }
}

impl Plan {
    /// Ask the world for the snapshots.
    pub fn prepare(&self, w: &mut World) {
        for t in &self.times {
            w.sim.snapshot_at(*t);
        }
    }

    /// The command line a table stands for.
    pub fn command(&self, args: &str) -> String {
        if self.use_netstat {
            "netstat -napt".into()
        } else {
            format!("ss {}", args.trim())
        }
    }

    /// One host's table.
    pub fn table(&self, rows: &[ss::SockRow]) -> String {
        if self.use_netstat {
            ss::netstat_table(rows, &self.netstat)
        } else {
            ss::ss_table(rows, &self.ss)
        }
    }
}

/// Each host's `nstat` (changes since the start, non-zero counters) at the end of a run.
pub fn nstat_all(w: &World) -> Vec<(String, String)> {
    w.sim
        .hosts()
        .map(|h| {
            let text = Nstat::new().render(w.sim.stack(h).counters().iter(), false, false);
            (w.sim.host_name(h).to_string(), text)
        })
        .collect()
}
