//! `synack`: run the document's stories in the simulator and watch them.
#![forbid(unsafe_code)]
use clap::{Args, Parser, Subcommand};
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
    /// The scenario library.
    Scenario {
        #[command(subcommand)]
        cmd: ScenarioCmd,
    },
}

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
    },
}

#[derive(Args, Clone)]
struct RunOpts {
    /// Behaviour profile: seed (the document's defaults) or linux (Linux 6.x).
    #[arg(long, default_value = "seed")]
    profile: Profile,
    /// Set a tunable on both hosts, by its sysctl name: --set net.ipv4.tcp_syn_retries=3
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// One JSON object per event per line instead of the timeline.
    #[arg(long)]
    json: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl RunOpts {
    fn options(&self) -> Result<Options, String> {
        let mut sets = Vec::new();
        for s in &self.sets {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| format!("--set {s}: expected NAME=VALUE"))?;
            sets.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(Options {
            profile: self.profile,
            sets,
            seed: self.seed,
            capture: false,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Tour(opts) => tour(&opts),
        Cmd::Scenario {
            cmd: ScenarioCmd::List,
        } => {
            for s in scenarios::all() {
                println!("{:<20} {}", s.name, s.summary);
            }
            Ok(true)
        }
        Cmd::Scenario {
            cmd: ScenarioCmd::Run { name, opts, pcap },
        } => match scenarios::find(&name) {
            Some(s) => run_one(&s, &opts, pcap.as_ref(), true),
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

fn tour(opts: &RunOpts) -> Result<bool, String> {
    let mut all_pass = true;
    let list = scenarios::all();
    for (i, s) in list.iter().enumerate() {
        if !opts.json {
            println!("{}", "=".repeat(100));
            println!("[{}/{}] {}", i + 1, list.len(), s.name);
            println!("{}", textwrap(s.summary, 100));
            println!("{}", "-".repeat(100));
        }
        all_pass &= run_one(s, opts, None, false)?;
        if !opts.json {
            println!();
        }
    }
    if !opts.json {
        println!("{}", "=".repeat(100));
        println!(
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
) -> Result<bool, String> {
    let mut o = opts.options()?;
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
    let (w, verdict) = scenarios::run(s.name, &o)?;
    let io = |e: std::io::Error| format!("writing the output: {e}");
    let mut out = std::io::stdout().lock();
    let mut r = Renderer::new(&w.sim);
    if opts.json {
        for e in w.sim.events() {
            let mut v = r.json(e);
            v["scenario"] = serde_json::json!(s.name);
            writeln!(out, "{v}").map_err(io)?;
        }
        let v = serde_json::json!({
            "event": "verdict",
            "scenario": s.name,
            "pass": verdict.pass,
            "line": verdict.line,
        });
        writeln!(out, "{v}").map_err(io)?;
    } else {
        if heading {
            writeln!(out, "{}: {}", s.name, textwrap(s.summary, 100)).map_err(io)?;
            writeln!(out, "{}", "-".repeat(100)).map_err(io)?;
        }
        for line in r.lines(w.sim.events()) {
            writeln!(out, "{line}").map_err(io)?;
        }
        writeln!(
            out,
            "verdict: {} — {}",
            if verdict.pass { "PASS" } else { "FAIL" },
            verdict.line
        )
        .map_err(io)?;
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
            .map_err(io)?;
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
