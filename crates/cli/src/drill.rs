//! `synack drill`: run packetdrill scripts against our stack and report each verdict.
use clap::Args;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use synack_core::Profile;
use synack_drill::{find_scripts, read_ratchet, run_file, Options, Outcome};

#[derive(Args)]
pub struct DrillOpts {
    /// Scripts, or folders searched recursively for *.pkt.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Behaviour profile: seed (the document's defaults) or linux (Linux 6.x). A script's
    /// own `--profile=` line wins.
    #[arg(long, default_value = "seed")]
    profile: Profile,
    /// Print each script's timeline: every packet in and out, every call and its result.
    #[arg(long, short)]
    verbose: bool,
    /// A define, as packetdrill's -D: -D TFO_COOKIE=3021b9d889017eeb
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    defines: Vec<String>,
    /// Address family to run the scripts in (ipv4 or ipv6), as packetdrill's
    /// --ip_version; scripts that name their family or addresses keep them.
    #[arg(long, value_name = "ipv4|ipv6")]
    ip_version: Option<String>,
    /// MTU of the simulated link, as packetdrill's --mtu (default 1500; 1520 when an IPv4
    /// script runs over IPv6, so that it announces the MSS 1460 it spells).
    #[arg(long, value_parser = clap::value_parser!(u32).range(68..=65535))]
    mtu: Option<u32>,
    /// A list of script names (relative to the folder given) that passed before: the run
    /// fails only if one of them fails now. New passes are reported, to grow the list.
    #[arg(long, value_name = "FILE")]
    ratchet: Option<PathBuf>,
    /// With --ratchet: add the scripts that pass now to the list file.
    #[arg(long, requires = "ratchet")]
    update_ratchet: bool,
}

macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(crate::io_err)?
    };
}

pub fn drill(o: &DrillOpts) -> Result<bool, String> {
    let mut defines = Vec::new();
    for d in &o.defines {
        let (k, v) = d
            .split_once('=')
            .ok_or_else(|| format!("-D {d}: expected NAME=VALUE"))?;
        defines.push((k.to_string(), v.to_string()));
    }
    let ipv6 = match o.ip_version.as_deref() {
        None => None,
        Some("ipv4") => Some(false),
        Some("ipv6") => Some(true),
        Some(other) => return Err(format!("--ip-version {other}: ipv4 or ipv6")),
    };
    let opts = Options {
        profile: o.profile,
        verbose: o.verbose,
        defines,
        ipv6,
        mtu: o.mtu,
    };
    let scripts = find_scripts(&o.paths)?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut passing = BTreeSet::new();
    let mut failing = BTreeSet::new();
    for (path, name) in &scripts {
        let r = run_file(path, &opts);
        for l in &r.log {
            out!("    {l}");
        }
        match &r.outcome {
            Outcome::Pass => {
                passed += 1;
                passing.insert(name.clone());
                out!("pass  {name}");
            }
            Outcome::Skip(why) => {
                skipped += 1;
                out!("skip  {name} ({why})");
            }
            Outcome::Fail(why) => {
                failed += 1;
                failing.insert(name.clone());
                out!("FAIL  {name}");
                for l in why.lines() {
                    out!("      {l}");
                }
            }
        }
    }
    if skipped > 0 {
        out!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        out!("{passed} passed, {failed} failed");
    }
    let Some(list) = &o.ratchet else {
        return Ok(failed == 0);
    };
    let text = std::fs::read_to_string(list).map_err(|e| format!("{}: {e}", list.display()))?;
    let recorded: BTreeSet<String> = read_ratchet(&text).into_iter().collect();
    let lost: Vec<&String> = recorded.iter().filter(|n| !passing.contains(*n)).collect();
    let new: Vec<&String> = passing.iter().filter(|n| !recorded.contains(*n)).collect();
    for n in &lost {
        let why = if failing.contains(*n) {
            "fails"
        } else {
            "was not run"
        };
        out!("ratchet: {n} is recorded as passing but {why}");
    }
    if !new.is_empty() {
        if o.update_ratchet {
            let mut t = text.clone();
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            for n in &new {
                t += &format!("{n}\n");
            }
            std::fs::write(list, t).map_err(|e| format!("{}: {e}", list.display()))?;
            out!(
                "ratchet: added {} newly passing scripts to {}",
                new.len(),
                list.display()
            );
        } else {
            out!(
                "ratchet: {} scripts pass that {} does not hold yet (--update-ratchet adds them)",
                new.len(),
                list.display()
            );
        }
    }
    out!(
        "ratchet: {} of {} recorded scripts pass",
        recorded.len() - lost.len(),
        recorded.len()
    );
    Ok(lost.is_empty())
}
