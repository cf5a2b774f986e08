//! `synack`: run the document's stories in the simulator and watch them.
#![forbid(unsafe_code)]
mod bench;
mod connect;
mod drill;
mod pictures;
mod serve;
mod soak;
mod sockets;

use clap::{Args, Parser, Subcommand};
use pictures::PictureOpts;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use synack_core::Profile;
use synack_sim::scenarios::{self, Options, Scenario};
use synack_sim::view::Renderer;

#[derive(Parser)]
#[command(
    name = "synack",
    version,
    about = "Linux TCP connection management, simulated and shown"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every scenario of the document, one after another.
    Tour(RunOpts),
    /// Print every setting with its value in a profile, like `sysctl -a` (or one, by name).
    Sysctl {
        /// A setting name (net.ipv4.tcp_syn_retries, tcp_syn_retries, ...).
        name: Option<String>,
        #[arg(long, default_value = "seed")]
        profile: Profile,
        /// Read this machine's /proc/sys instead of a profile.
        #[arg(long)]
        host: bool,
    },
    /// Run packetdrill scripts against our stack: `N passed, M failed`.
    Drill(drill::DrillOpts),
    /// Serve on a TUN device with the real clock: the kernel's TCP talks to synack.
    Serve(serve::ServeOpts),
    /// Connect from a TUN device with the real clock: synack is the client of a kernel
    /// server (http, echo, source, sha256; Fast Open, keepalive).
    Connect(connect::ConnectOpts),
    /// Very many connections through a faulty simulated link: every byte checked, nothing
    /// stuck, nothing leaked.
    Soak(soak::SoakOpts),
    /// Benchmarks side by side with smoltcp and the Linux kernel (loopback): lifecycles,
    /// bulk throughput, memory, SYN flood, timers. Build with --release.
    Bench(bench::BenchOpts),
    /// A live stack's sockets, as iproute2's `ss` prints them: synack ss --control PATH -tanoi
    Ss(ControlOpts),
    /// A live stack's sockets, as `netstat -napt` prints them.
    Netstat(ControlOpts),
    /// A live stack's counters, as `nstat` prints them (changes since the last nstat asked
    /// of that stack; -a absolute, -z zeros too).
    Nstat(ControlOpts),
    /// The scenario library.
    Scenario {
        #[command(subcommand)]
        cmd: ScenarioCmd,
    },
}

// Parsed once per run: the size of its biggest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum ScenarioCmd {
    /// List the scenarios.
    List,
    /// Run one scenario and print its timeline and verdict.
    Run {
        name: String,
        #[command(flatten)]
        opts: RunOpts,
        /// Write the link's packets to this pcap file (Wireshark/tshark open it).
        #[arg(long)]
        pcap: Option<PathBuf>,
        #[command(flatten)]
        pictures: PictureOpts,
        #[command(flatten)]
        sockets: sockets::SocketOpts,
    },
}

/// Where a live stack answers (`synack serve --control PATH`, or a tokio program's
/// control socket), and the tool's own arguments.
#[derive(Args, Clone)]
struct ControlOpts {
    /// The stack's control socket.
    #[arg(long, value_name = "PATH")]
    control: PathBuf,
    /// The tool's flags and filter, as you would give them to it: -tan state established
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

/// Ask a live stack for one of its views and print it.
fn control(tool: &str, o: &ControlOpts) -> Result<bool, String> {
    let text = synack_tun::control::query(&o.control, &format!("{tool} {}", o.args.join(" ")))?;
    write!(std::io::stdout().lock(), "{text}").map_err(io_err)?;
    Ok(true)
}

#[derive(Args, Clone)]
struct RunOpts {
    /// Behaviour profile: seed (the document's defaults) or linux (Linux 6.x).
    #[arg(long, default_value = "seed")]
    profile: Profile,
    /// Set a tunable on both hosts, by its sysctl name: --set net.ipv4.tcp_syn_retries=3
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// Apply a sysctl.conf-format file to both hosts (before any --set).
    #[arg(long = "sysctl-file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// One JSON object per event per line instead of the timeline.
    #[arg(long)]
    json: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Timeline: also show each segment as its receiver takes it in, and every segment's
    /// TCP options (not only the SYNs').
    #[arg(long, short)]
    verbose: bool,
}

impl RunOpts {
    fn options(&self) -> Result<Options, String> {
        let sets = name_values(&self.sets)?;
        Ok(Options {
            profile: self.profile,
            files: self.files.clone(),
            sets,
            seed: self.seed,
            capture: false,
        })
    }
}

/// Print to stdout; a closed pipe (`synack tour | head`) ends the program quietly.
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(io_err)?
    };
}

/// `--set NAME=VALUE` arguments as (name, value) pairs, trimmed.
pub(crate) fn name_values(sets: &[String]) -> Result<Vec<(String, String)>, String> {
    sets.iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| format!("--set {s}: expected NAME=VALUE"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

fn io_err(e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    e.to_string()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Tour(opts) => tour(&opts),
        Cmd::Sysctl {
            name,
            profile,
            host,
        } => sysctl(name.as_deref(), profile, host),
        Cmd::Drill(o) => drill::drill(&o),
        Cmd::Serve(o) => serve::serve(&o),
        Cmd::Connect(o) => connect::connect(&o),
        Cmd::Soak(o) => soak::soak(&o),
        Cmd::Bench(o) => bench::bench(&o),
        Cmd::Ss(o) => control("ss", &o),
        Cmd::Netstat(o) => control("netstat", &o),
        Cmd::Nstat(o) => control("nstat", &o),
        Cmd::Scenario {
            cmd: ScenarioCmd::List,
        } => list(),
        Cmd::Scenario {
            cmd:
                ScenarioCmd::Run {
                    name,
                    opts,
                    pcap,
                    pictures,
                    sockets,
                },
        } => match scenarios::find(&name) {
            Some(s) => run_one(&s, &opts, pcap.as_ref(), true, &sockets)
                .and_then(|pass| pictures::write(&s, &opts.options()?, &pictures).map(|()| pass)),
            None => Err(scenarios::unknown(&name)),
        },
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("synack: {e}");
            ExitCode::from(2)
        }
    }
}

fn list() -> Result<bool, String> {
    for s in scenarios::all() {
        out!("{:<28} [{}] {}", s.name, s.section, s.summary);
    }
    Ok(true)
}

fn sysctl(name: Option<&str>, profile: Profile, host: bool) -> Result<bool, String> {
    let c = if host {
        synack_core::Config::from_host(std::path::Path::new("/proc/sys"))
            .map_err(|e| e.to_string())?
    } else {
        synack_core::Config::for_profile(profile)
    };
    match name {
        Some(n) => out!("{}", c.get(n).map_err(|e| e.to_string())?),
        None => {
            for (n, v, allowed, doc) in c.settings() {
                out!("{n} = {}", v.replace('\t', " "));
                out!("    # {doc}; allowed: {allowed}");
            }
        }
    }
    Ok(true)
}

fn tour(opts: &RunOpts) -> Result<bool, String> {
    let mut all_pass = true;
    let list = scenarios::all();
    for (i, s) in list.iter().enumerate() {
        if !opts.json {
            out!("{}", "=".repeat(100));
            out!("[{}/{}] {}  ({})", i + 1, list.len(), s.name, s.section);
            out!("{}", textwrap(s.summary, 100));
            out!("{}", "-".repeat(100));
        }
        all_pass &= run_one(s, opts, None, false, &sockets::SocketOpts::default())?;
        if !opts.json {
            out!();
        }
    }
    if !opts.json {
        out!("{}", "=".repeat(100));
        out!(
            "tour: {} scenarios, {}",
            list.len(),
            if all_pass {
                "every verdict passed"
            } else {
                "SOME VERDICTS FAILED"
            }
        );
    }
    Ok(all_pass)
}

fn run_one(
    s: &Scenario,
    opts: &RunOpts,
    pcap: Option<&PathBuf>,
    heading: bool,
    sockets: &sockets::SocketOpts,
) -> Result<bool, String> {
    let mut o = opts.options()?;
    let plan = sockets.plan()?;
    // Fail before running if the capture cannot be written, not after a long timeline.
    let mut pcap_file = match pcap {
        Some(path) => {
            o.capture = true;
            Some(
                std::fs::File::create(path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let (mut w, verdict) = scenarios::run_with(s.name, &o, |w| plan.prepare(w))?;
    // A moment after the story's last step: let the network run on to it.
    let script_end = w.sim.now();
    if let Some(t) = w.sim.pending_snapshot() {
        w.sim.run_until(t);
        w.sim.take_due_snapshots();
    }
    let mut out = std::io::stdout().lock();
    let mut r = Renderer::new(&w.sim);
    r.show_recv = opts.verbose;
    r.show_options = opts.verbose;
    let snaps = w.sim.snapshots();
    let command = plan.command(&sockets.ss_args);
    let hosts: Vec<_> = w.sim.hosts().collect();
    if opts.json {
        let events = w.sim.events();
        let mut next = 0;
        for i in 0..=events.len() {
            while next < snaps.len() && snaps[next].events == i {
                let sn = &snaps[next];
                for (h, rows) in hosts.iter().zip(&sn.hosts) {
                    let v = serde_json::json!({
                        "t_ms": sn.at.as_micros() as f64 / 1000.0,
                        "host": w.sim.host_name(*h),
                        "event": "ss",
                        "command": command,
                        "table": plan.table(rows),
                        "scenario": s.name,
                    });
                    writeln!(out, "{v}").map_err(io_err)?;
                }
                next += 1;
            }
            let Some(e) = events.get(i) else { break };
            let mut v = r.json(e);
            v["scenario"] = serde_json::json!(s.name);
            writeln!(out, "{v}").map_err(io_err)?;
        }
        if plan.nstat {
            for (host, text) in sockets::nstat_all(&w) {
                let v = serde_json::json!({
                    "t_ms": w.sim.now().as_micros() as f64 / 1000.0,
                    "host": host,
                    "event": "nstat",
                    "table": text,
                    "scenario": s.name,
                });
                writeln!(out, "{v}").map_err(io_err)?;
            }
        }
        let v = serde_json::json!({
            "event": "verdict",
            "scenario": s.name,
            "pass": verdict.pass,
            "line": verdict.line,
        });
        writeln!(out, "{v}").map_err(io_err)?;
    } else {
        if heading {
            writeln!(out, "{}: {}", s.name, textwrap(s.summary, 100)).map_err(io_err)?;
            writeln!(out, "{}", "-".repeat(100)).map_err(io_err)?;
        }
        let events = w.sim.events();
        let mut start = 0;
        let mut ran_on = false;
        for sn in snaps {
            for line in r.lines(&events[start..sn.events]) {
                writeln!(out, "{line}").map_err(io_err)?;
            }
            start = sn.events;
            if sn.at > script_end && !ran_on {
                ran_on = true;
                writeln!(
                    out,
                    "           (the story's script ended at {} s; the network ran on to {} s for --ss-at)",
                    scenarios::secs(script_end),
                    scenarios::secs(sn.at)
                )
                .map_err(io_err)?;
            }
            for (h, rows) in hosts.iter().zip(&sn.hosts) {
                writeln!(
                    out,
                    "{:>9.3}s  {:<7} $ {command}",
                    sn.at.as_secs_f64(),
                    w.sim.host_name(*h)
                )
                .map_err(io_err)?;
                write!(out, "{}", plan.table(rows)).map_err(io_err)?;
            }
        }
        for line in r.lines(&events[start..]) {
            writeln!(out, "{line}").map_err(io_err)?;
        }
        if plan.nstat {
            for (host, text) in sockets::nstat_all(&w) {
                writeln!(
                    out,
                    "{:>9.3}s  {host:<7} $ nstat",
                    w.sim.now().as_secs_f64()
                )
                .map_err(io_err)?;
                write!(out, "{text}").map_err(io_err)?;
            }
        }
        writeln!(
            out,
            "verdict: {} — {}",
            if verdict.pass { "PASS" } else { "FAIL" },
            verdict.line
        )
        .map_err(io_err)?;
    }
    if let (Some(path), Some(file)) = (pcap, pcap_file.as_mut()) {
        let p = w.sim.pcap(w.link).ok_or("no capture was recorded")?;
        file.write_all(&p.to_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if !opts.json {
            writeln!(
                out,
                "pcap: {} packets written to {}",
                p.len(),
                path.display()
            )
            .map_err(io_err)?;
        }
    }
    Ok(verdict.pass)
}

fn textwrap(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in s.split_whitespace() {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}
