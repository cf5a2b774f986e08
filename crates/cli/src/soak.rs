//! `synack soak`: millions of connections through a faulty simulated link, every byte
//! checked, every table back to empty at the end (crates/sim/src/soak.rs).
use clap::Args;
use std::io::Write;
use std::time::Duration;
use synack_core::Profile;
use synack_sim::soak::{run, Checkpoint, SoakConfig};

#[derive(Args)]
pub struct SoakOpts {
    /// Connections to make, one after another, `concurrency` at a time.
    #[arg(long, default_value_t = 100_000)]
    connections: u64,
    #[arg(long, default_value_t = 500)]
    concurrency: usize,
    /// Share of packets lost, duplicated and reordered (each), in each direction.
    #[arg(long, default_value_t = 0.10)]
    faults: f64,
    /// One-way latency of the link, in milliseconds.
    #[arg(long, default_value_t = 5)]
    latency_ms: u64,
    /// The largest payload of a connection (sizes are drawn from 0 to this).
    #[arg(long, default_value_t = 4000)]
    max_payload: usize,
    #[arg(long, default_value = "linux")]
    profile: Profile,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// At each checkpoint, also how many sockets are in each state.
    #[arg(long, short)]
    verbose: bool,
    /// Set a tunable on both hosts, by its sysctl name:
    /// --set net.ipv4.tcp_congestion_control=bbr
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
}

/// Resident memory of this process, from /proc (0 where there is no /proc).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

pub fn soak(o: &SoakOpts) -> Result<bool, String> {
    if !(0.0..=0.5).contains(&o.faults) {
        return Err(format!("--faults {}: from 0 to 0.5", o.faults));
    }
    if o.concurrency == 0 || o.concurrency > 100_000 {
        return Err(format!("--concurrency {}: from 1 to 100000", o.concurrency));
    }
    let sets = crate::name_values(&o.sets)?;
    let cfg = SoakConfig {
        connections: o.connections,
        concurrency: o.concurrency,
        loss: o.faults,
        duplicate: o.faults,
        reorder: o.faults,
        latency: Duration::from_millis(o.latency_ms),
        max_payload: o.max_payload,
        profile: o.profile,
        seed: o.seed,
        sets,
    };
    cfg.check().map_err(|e| format!("--set {e}"))?;
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "soak: {} connections, {} at a time, {:.0}% loss + {:.0}% duplication + {:.0}% reordering, {} ms one way, payloads 0..={} B, {:?} profile, seed {}",
        o.connections,
        o.concurrency,
        o.faults * 100.0,
        o.faults * 100.0,
        o.faults * 100.0,
        o.latency_ms,
        o.max_payload,
        o.profile,
        o.seed
    );
    let _ = writeln!(
        out,
        "{:>11} {:>10} {:>7} {:>6} {:>7} {:>6} {:>9} {:>9}",
        "done", "sim time", "c.conn", "c.tw", "s.conn", "s.tw", "timers", "RSS MiB"
    );
    let wall = std::time::Instant::now();
    let verbose = o.verbose;
    let r = run(&cfg, |cp: &Checkpoint| {
        let _ = writeln!(
            std::io::stdout(),
            "{:>11} {:>9.1}s {:>7} {:>6} {:>7} {:>6} {:>9} {:>9.1}",
            cp.done,
            cp.at.as_micros() as f64 / 1e6,
            cp.client.connections,
            cp.client.time_wait,
            cp.server.connections,
            cp.server.time_wait,
            cp.client.timers + cp.server.timers,
            rss_bytes() as f64 / (1 << 20) as f64
        );
        if verbose {
            let _ = writeln!(
                std::io::stdout(),
                "            client {:?}",
                cp.client_states
            );
            let _ = writeln!(
                std::io::stdout(),
                "            server {:?}",
                cp.server_states
            );
        }
        let _ = std::io::stdout().flush();
    });
    let secs = wall.elapsed().as_secs_f64();
    let failed: u64 = r.failed.values().sum();
    let _ = writeln!(
        out,
        "completed   {} ({} bytes checked)",
        r.completed, r.bytes
    );
    let _ = writeln!(out, "failed      {failed} {:?}", r.failed);
    let _ = writeln!(out, "corrupted   {}", r.corrupted);
    let _ = writeln!(out, "stuck       {}", r.stuck);
    for what in &r.stuck_states {
        let _ = writeln!(out, "            {what}");
    }
    let _ = writeln!(
        out,
        "leaked      {} (entries left 10 min after the last close)",
        r.leaked
    );
    let _ = writeln!(
        out,
        "time        {:.1} s simulated, {secs:.1} s here ({:.0} connections/s)",
        r.sim_time.as_secs_f64(),
        o.connections as f64 / secs.max(1e-9)
    );
    let pick = |c: &[(&str, u64)], n: &str| c.iter().find(|x| x.0 == n).map(|x| x.1).unwrap_or(0);
    let _ = writeln!(
        out,
        "retransmitted segments: client {}, server {}",
        pick(&r.client_counters, "TcpRetransSegs"),
        pick(&r.server_counters, "TcpRetransSegs")
    );
    let clean = r.clean(&cfg);
    let _ = writeln!(out, "{}", if clean { "CLEAN" } else { "NOT CLEAN" });
    Ok(clean)
}
