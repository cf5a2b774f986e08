//! `scenario run NAME --svg FILE --html FILE`: the run's ladder diagram, and a page with the
//! diagram, the timeline and the socket tables.
use clap::Args;
use std::path::PathBuf;
use synack_core::EventKind;
use synack_sim::html::{self, Table};
use synack_sim::ladder::Ladder;
use synack_sim::scenarios::{self, Options, Scenario};
use synack_sim::ss::{self, SsOptions};
use synack_sim::{HostId, SimEventKind};

#[derive(Args, Clone, Default)]
pub struct PictureOpts {
    /// Write the run's ladder diagram (SVG) to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write one self-contained HTML page (diagram, timeline, sockets) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// At most this many segments in the diagram (the rest is summarised in a note).
    #[arg(long, value_name = "N", default_value_t = 150)]
    pub max_segments: usize,
}

/// Write the pictures asked for. The run is replayed (every run with the same options is
/// the same run: the simulator is deterministic).
pub fn write(s: &Scenario, o: &Options, p: &PictureOpts) -> Result<(), String> {
    if p.svg.is_none() && p.html.is_none() {
        return Ok(());
    }
    let (w, verdict) = scenarios::run(s.name, o)?;
    let ladder = Ladder {
        title: s.name.to_string(),
        subtitle: s.summary.to_string(),
        footer: format!(
            "verdict: {} — {}",
            if verdict.pass { "PASS" } else { "FAIL" },
            verdict.line
        ),
        max_segments: p.max_segments,
        ..Ladder::default()
    };
    if let Some(path) = &p.svg {
        std::fs::write(path, ladder.svg(&w.sim))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &p.html {
        // The socket tables where the story changes: every instant a connection of a
        // host changes state (the first MAX_TABLES of them), taken in a second run of the
        // same story (the simulator is deterministic, so it is the same run).
        let times = state_changes(&w);
        let (w, verdict) = scenarios::run_with(s.name, o, |w| {
            for (t, _) in &times {
                w.sim.snapshot_at(*t);
            }
        })?;
        let opts = SsOptions::parse("-tan")?;
        let hosts: Vec<HostId> = w.sim.hosts().collect();
        let mut tables = Vec::new();
        for sn in w.sim.snapshots() {
            // Only the hosts whose sockets changed then.
            let changed = times
                .iter()
                .find(|(t, _)| *t == sn.at)
                .map(|(_, h)| h.as_slice())
                .unwrap_or(&[]);
            for (h, rows) in hosts.iter().zip(&sn.hosts) {
                if rows.is_empty() || !changed.contains(h) {
                    continue;
                }
                tables.push(Table {
                    heading: format!(
                        "{} at {} s: ss -tan",
                        w.sim.host_name(*h),
                        scenarios::secs(sn.at)
                    ),
                    text: ss::ss_table(rows, &opts),
                    events: Some(sn.events),
                });
            }
        }
        if times.len() == MAX_TABLES {
            tables.push(Table {
                heading: format!(
                    "(socket tables are shown at the first {MAX_TABLES} moments a state changed)"
                ),
                text: String::new(),
                events: Some(w.sim.snapshots().last().map_or(0, |sn| sn.events)),
            });
        }
        for h in &hosts {
            let rows = ss::rows(w.sim.stack(*h), w.sim.now());
            tables.push(Table {
                heading: format!(
                    "{} at the end of the run ({} s): ss -tan",
                    w.sim.host_name(*h),
                    scenarios::secs(w.sim.now())
                ),
                text: ss::ss_table(&rows, &opts),
                events: None,
            });
        }
        let page = html::page(&w.sim, &ladder, Some(verdict.pass), &tables);
        std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Socket tables in a page at most.
const MAX_TABLES: usize = 16;

/// The instants at which a connection between hosts of the run changed state (traffic of
/// addresses no host owns left out), the first [`MAX_TABLES`].
fn state_changes(w: &scenarios::World) -> Vec<(synack_core::Instant, Vec<HostId>)> {
    let owned: Vec<std::net::IpAddr> = w
        .sim
        .hosts()
        .flat_map(|h| w.sim.stack(h).addrs().to_vec())
        .collect();
    let mut out: Vec<(synack_core::Instant, Vec<HostId>)> = Vec::new();
    for e in w.sim.events() {
        if let SimEventKind::Stack(EventKind::State { remote, .. }) = &e.kind {
            if !remote.ip().is_unspecified() && !owned.contains(&remote.ip()) {
                continue;
            }
            let full = out.len() == MAX_TABLES;
            match out.last_mut() {
                Some((t, hosts)) if *t == e.at => {
                    if !hosts.contains(&e.host) {
                        hosts.push(e.host);
                    }
                }
                _ if full => break,
                _ => out.push((e.at, vec![e.host])),
            }
        }
    }
    out
}
