//! `synack drill`: packetdrill scripts run against synack's stack.
//!
//! Linux's TCP is pinned down by packetdrill scripts, each checked on a real kernel.
//! This crate runs such a script against one [`synack_core::Stack`] on a virtual clock:
//! `<` lines inject segments from the remote peer, `>` lines expect our stack to send a
//! matching segment in the time window, system-call lines call our socket API and check
//! the result and errno, backquoted commands set our tunables, and `%{ }%` blocks assert on
//! our TCP_INFO with python3. The language and its conventions are those of
//! `../shared/packetdrill/README.md`; see [`script`] for the grammar and [`runner`] for
//! the semantics.
//!
//! ```no_run
//! use synack_drill::{run_file, Options};
//! let report = run_file("seed/time_wait.pkt".as_ref(), &Options::default());
//! println!("{}", report.outcome);
//! ```
#![forbid(unsafe_code)]

mod packet;
mod python;
mod runner;
pub mod script;
mod shell;
mod syscall;

use std::fmt;
use std::path::{Path, PathBuf};
use synack_core::Profile;

/// How to run scripts.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Behaviour profile of the stack (a script's own `--profile=` flag wins).
    pub profile: Profile,
    /// Keep a timeline of everything the runner did (in [`Report::log`]).
    pub verbose: bool,
    /// `-D NAME=VALUE` defines, on top of `TFO_COOKIE` for the script's address family.
    pub defines: Vec<(String, String)>,
    /// Run scripts over IPv6 (`Some(true)`) or IPv4 (`Some(false)`), as packetdrill's
    /// `--ip_version`; a script's own `--ip_version` flag or name (`*-ipv6.pkt`) wins.
    pub ipv6: Option<bool>,
    /// MTU of the simulated link (packetdrill's `--mtu`); `None`: 1500, or 1520 when an
    /// IPv4 script runs over IPv6 (so it announces the MSS 1460 it spells). A script's own
    /// `--mtu=` line wins.
    pub mtu: Option<u32>,
}

/// A script's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Why, with the script path and line.
    Fail(String),
    /// The script is for an address family this run does not cover.
    Skip(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Pass => f.write_str("pass"),
            Outcome::Fail(m) => write!(f, "FAIL: {m}"),
            Outcome::Skip(m) => write!(f, "skipped: {m}"),
        }
    }
}

/// The result of one script.
#[derive(Clone, Debug)]
pub struct Report {
    pub path: PathBuf,
    pub outcome: Outcome,
    /// The timeline, when [`Options::verbose`].
    pub log: Vec<String>,
}

/// The cookie Linux computes with the default Fast Open key for the default addresses
/// (README of the conformance suite).
const TFO_COOKIE_V4: &str = "3021b9d889017eeb";
const TFO_COOKIE_V6: &str = "c1d1e9742a47a9bc";

/// Which address family a script is for: its `--ip_version` flag, or its name, else
/// the run's choice.
fn wants_ipv6(text: &str, path: &Path, run: Option<bool>) -> Result<bool, String> {
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("--ip_version=") {
            return match v.trim() {
                "ipv4" => Ok(false),
                "ipv6" => Ok(true),
                other => Err(format!("--ip_version={other}")),
            };
        }
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if stem.ends_with("-ipv6") || stem.ends_with("_ipv6") {
        return Ok(true);
    }
    if stem.ends_with("-ipv4") || stem.ends_with("_ipv4") {
        return Ok(false);
    }
    // A script that names IPv4 addresses, or injects ICMP messages only IPv4 has, is an
    // IPv4 script whatever the run says.
    let v4_only = text.lines().any(|l| {
        let l = l.trim_start();
        (l.starts_with("--local_ip=") && !l.contains(':')) || icmp_v4_only(l)
    });
    Ok(run.unwrap_or(false) && !v4_only)
}

/// Whether a script line injects an ICMP message that has no ICMPv6 form under the same
/// name (packetdrill's ICMPv6 codes are no_route, admin_prohibited, address_unreachable,
/// port_unreachable; fragmentation needed is ICMPv6's packet_too_big).
fn icmp_v4_only(line: &str) -> bool {
    let Some(rest) = line.split_once("icmp unreachable ").map(|(_, r)| r) else {
        return false;
    };
    let code = rest.split_whitespace().next().unwrap_or("");
    matches!(
        code,
        "net_unreachable"
            | "host_unreachable"
            | "protocol_unreachable"
            | "frag_needed"
            | "source_route_failed"
            | "net_unknown"
            | "host_unknown"
            | "source_host_isolated"
            | "net_prohibited"
            | "host_prohibited"
            | "net_unreachable_for_tos"
            | "host_unreachable_for_tos"
            | "packet_filtered"
            | "precedence_violation"
            | "precedence_cutoff"
    )
}

/// Whether the script itself says it is an IPv6 one (its flag or its name), rather than
/// being run over IPv6 by the run's choice.
fn names_ipv6(text: &str, path: &Path) -> bool {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    text.lines().any(|l| l.trim() == "--ip_version=ipv6")
        || stem.ends_with("-ipv6")
        || stem.ends_with("_ipv6")
}

/// Run one script.
pub fn run_file(path: &Path, opts: &Options) -> Report {
    let mut log = Vec::new();
    let outcome = match std::fs::read_to_string(path) {
        Err(e) => Outcome::Fail(format!("{}: {e}", path.display())),
        Ok(text) => run_text(path, &text, opts, &mut log),
    };
    Report {
        path: path.to_path_buf(),
        outcome,
        log,
    }
}

/// Run a script given as text (`path` names it in messages and anchors `defaults.sh`).
pub fn run_text(path: &Path, text: &str, opts: &Options, log: &mut Vec<String>) -> Outcome {
    let v6 = match wants_ipv6(text, path, opts.ipv6) {
        Ok(v) => v,
        Err(family) => return Outcome::Skip(format!("for another address family ({family})")),
    };
    let mut defines = vec![(
        "TFO_COOKIE".to_string(),
        if v6 { TFO_COOKIE_V6 } else { TFO_COOKIE_V4 }.to_string(),
    )];
    defines.extend(opts.defines.iter().cloned());
    let script = match script::Script::parse(text, &defines) {
        Ok(s) => s,
        Err(e) => return Outcome::Fail(format!("{}:{}: {}", path.display(), e.line, e.message)),
    };
    // packetdrill's link is 1500 bytes. A script written for IPv6 spells the MSS that
    // gives (1440); one written for IPv4 spells 1460 everywhere, so run over IPv6 by the
    // run's choice it gets a link 20 bytes larger (IPv6's larger header) to announce the
    // MSS it expects.
    let mtu = opts.mtu.unwrap_or(if v6 && !names_ipv6(text, path) {
        1520
    } else {
        1500
    });
    let mut r = match runner::Runner::new(path, &script, opts.profile, opts.verbose, v6, mtu) {
        Ok(r) => r,
        Err(e) => return Outcome::Fail(format!("{}: {e}", path.display())),
    };
    let result = r.run(&script);
    log.append(&mut r.log);
    match result {
        Ok(()) => Outcome::Pass,
        Err(m) => Outcome::Fail(m),
    }
}

/// The scripts named by `paths`: files as given, folders searched recursively for
/// `*.pkt`, each list sorted. Each script comes with its name relative to the folder it
/// was found in (for ratchet lists), or as given for a file.
pub fn find_scripts(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|e| format!("{}: {e}", p.display()))?;
            found.sort();
            for f in found {
                let name = f
                    .strip_prefix(p)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((f, name));
            }
        } else if p.is_file() {
            out.push((p.clone(), p.to_string_lossy().into_owned()));
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "pkt") {
            out.push(p);
        }
    }
    Ok(())
}

/// A ratchet list: names of scripts that passed once and must keep passing. One name
/// per line, `#` comments.
pub fn read_ratchet(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
