//! synack's benchmarks (issue 9), side by side with smoltcp and the Linux kernel in the
//! same process run so that ratios are fair: connection lifecycles, bulk throughput,
//! memory per idle connection and per TIME_WAIT entry, SYN-flood cookies, timer ticks.
//!
//! [`run`] measures everything at a [`Sizes`] and returns a [`Report`]; `Report::table`
//! and `Report::json` print it. Memory is counted by a tracking allocator that the
//! *binary* installs (see [`heap_bytes`]); without it the memory figures are absent.
#![forbid(unsafe_code)]

pub mod kernel;
pub mod netpath;
pub mod ours;
pub mod smol;

use serde_json::{json, Value};
use std::time::Duration;

/// The counting allocator a benchmark binary installs, with no unsafe code of its own:
/// `#[global_allocator] static A: &synack_bench::Counting = &synack_bench::COUNTING;`
pub use stats_alloc::StatsAlloc;
pub type Counting = StatsAlloc<std::alloc::System>;
pub use stats_alloc::INSTRUMENTED_SYSTEM as COUNTING;

/// Heap bytes in use, if the binary installed [`COUNTING`] as its global allocator.
pub fn heap_bytes() -> Option<usize> {
    let probe = std::hint::black_box(Box::new(0u64));
    let s = COUNTING.stats();
    drop(probe);
    if s.allocations == 0 {
        return None;
    }
    // stats_alloc already adds a realloc's growth to `bytes_allocated` (and its shrinkage
    // to `bytes_deallocated`); `bytes_reallocated` is the same change again, not to be
    // added (it was, before 2026-11-24: tables grown by realloc counted twice).
    let used = s.bytes_allocated as i128 - s.bytes_deallocated as i128;
    Some(used.max(0) as usize)
}

pub(crate) fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}"))
    }
}

/// The byte stream every bulk flow carries: `i % 251` at offset `i`.
pub(crate) const PATTERN: usize = 251 * 256;

pub(crate) fn pattern() -> Vec<u8> {
    (0..2 * PATTERN).map(|i| (i % 251) as u8).collect()
}

/// The received bytes at stream offset `at` are the pattern's.
pub(crate) fn verify_stream(pattern: &[u8], at: u64, got: &[u8]) -> Result<(), String> {
    let mut off = (at % PATTERN as u64) as usize;
    for chunk in got.chunks(PATTERN) {
        if chunk != &pattern[off..off + chunk.len()] {
            return Err(format!("corrupt bytes near offset {at}"));
        }
        off = (off + chunk.len()) % PATTERN;
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
pub struct Lifecycles {
    pub count: u64,
    pub secs: f64,
    /// Segments exchanged (0 where not counted: Linux).
    pub segments: u64,
}

impl Lifecycles {
    pub fn per_sec(&self) -> f64 {
        self.count as f64 / self.secs
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Bulk {
    pub bytes: u64,
    pub secs: f64,
    pub segments: u64,
}

impl Bulk {
    pub fn gbits(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.secs / 1e9
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub count: u64,
    /// Heap bytes per idle ESTABLISHED connection (None: no counting allocator).
    pub established: Option<f64>,
    /// The same after a one-byte request and reply each and a two-second pause.
    pub established_used: Option<f64>,
    pub time_wait: Option<f64>,
}

#[derive(Clone, Copy, Debug)]
pub struct TimerTicks {
    pub count: u64,
    pub ticks: u32,
    pub ns_per_tick: f64,
    pub slots_per_tick: f64,
    pub ns_per_tick_1k: f64,
    pub slots_per_tick_1k: f64,
    pub ns_per_keepalive_fired: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct SynFlood {
    pub spoofed: u64,
    pub secs: f64,
    pub synacks: u64,
    pub real_attempts: u64,
    pub real_ok: u64,
}

impl SynFlood {
    pub fn synacks_per_sec(&self) -> f64 {
        self.synacks as f64 / self.secs
    }
}

/// How much each benchmark does.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub name: &'static str,
    pub lifecycles: u64,
    /// smoltcp's lifecycles (it is slower: fewer keep the run short).
    pub smol_lifecycles: u64,
    /// Linux: at most this many, or this long.
    pub linux_lifecycles: u64,
    pub linux_budget: Duration,
    pub bulk_bytes: u64,
    pub memory_conns: u64,
    pub timer_ticks: u32,
    pub flood_syns: u64,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            name: "full",
            lifecycles: 2_000_000,
            smol_lifecycles: 500_000,
            linux_lifecycles: 200_000,
            linux_budget: Duration::from_secs(4),
            bulk_bytes: 1 << 30,
            memory_conns: 1_000_000,
            timer_ticks: 10_000,
            flood_syns: 10_000_000,
        }
    }
    pub fn quick() -> Sizes {
        Sizes {
            name: "quick",
            lifecycles: 200_000,
            smol_lifecycles: 50_000,
            linux_lifecycles: 20_000,
            linux_budget: Duration::from_secs(1),
            bulk_bytes: 128 << 20,
            memory_conns: 100_000,
            timer_ticks: 10_000,
            flood_syns: 1_000_000,
        }
    }
    /// For tests: a second or two in a debug build.
    pub fn tiny() -> Sizes {
        Sizes {
            name: "tiny",
            lifecycles: 300,
            smol_lifecycles: 100,
            linux_lifecycles: 50,
            linux_budget: Duration::from_millis(200),
            bulk_bytes: 2 << 20,
            memory_conns: 2_000,
            timer_ticks: 100,
            flood_syns: 5_000,
        }
    }
}

/// Everything measured in one run.
#[derive(Clone, Debug)]
pub struct Report {
    pub sizes: Sizes,
    pub life: [Lifecycles; 3],
    /// [ours, smoltcp, linux] at MSS 1460, then at the 64 KiB MTU.
    pub bulk_1500: [Bulk; 3],
    pub bulk_64k: [Bulk; 3],
    pub memory: Memory,
    pub timers: TimerTicks,
    pub flood: SynFlood,
}

/// Linux's published sizes: `struct tcp_sock` about 2.7 KB, a TIME_WAIT socket 264 B.
pub const LINUX_TCP_SOCK: f64 = 2700.0;
pub const LINUX_TW_SOCK: f64 = 264.0;

/// Run every benchmark; `progress` hears what is starting.
pub fn run(sizes: Sizes, mut progress: impl FnMut(&str)) -> Result<Report, String> {
    progress("lifecycles: synack");
    let ours = ours::lifecycles(sizes.lifecycles)?;
    progress("lifecycles: smoltcp");
    let smol = smol::lifecycles(sizes.smol_lifecycles)?;
    progress("lifecycles: linux loopback");
    let linux = kernel::lifecycles(sizes.linux_lifecycles, sizes.linux_budget)?;
    progress("bulk, MTU 1500");
    let b1 = [
        ours::bulk(sizes.bulk_bytes, 1500)?,
        smol::bulk(sizes.bulk_bytes, 1500)?,
        kernel::bulk(sizes.bulk_bytes, Some(1460))?,
    ];
    progress("bulk, MTU 65535");
    let b64 = [
        ours::bulk(sizes.bulk_bytes, 65535)?,
        smol::bulk(sizes.bulk_bytes, 65535)?,
        kernel::bulk(sizes.bulk_bytes, None)?,
    ];
    progress("memory and timers");
    let (memory, timers) = ours::memory_and_timers(sizes.memory_conns, sizes.timer_ticks)?;
    progress("SYN flood");
    let flood = ours::syn_flood(sizes.flood_syns, 1000)?;
    Ok(Report {
        sizes,
        life: [ours, smol, linux],
        bulk_1500: b1,
        bulk_64k: b64,
        memory,
        timers,
        flood,
    })
}

/// One line of the table.
pub struct Row {
    pub metric: String,
    pub unit: &'static str,
    pub ours: Option<f64>,
    pub smoltcp: Option<f64>,
    pub linux: Option<f64>,
    pub target: String,
    /// None: no target, or not measured.
    pub met: Option<bool>,
}

fn ratio(a: f64, b: Option<f64>) -> Option<f64> {
    b.filter(|b| *b > 0.0).map(|b| a / b)
}

impl Report {
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let [o, s, l] = self.life;
        let (o, s, l) = (o.per_sec(), s.per_sec(), l.per_sec());
        rows.push(Row {
            metric: "lifecycles/s, one core".into(),
            unit: "/s",
            ours: Some(o),
            smoltcp: Some(s),
            linux: Some(l),
            target: "≥ 1,000,000/s".into(),
            met: Some(o >= 1e6),
        });
        let rs = ratio(o, Some(s)).unwrap_or(0.0);
        rows.push(Row {
            metric: "  ratio vs smoltcp".into(),
            unit: "×",
            ours: Some(rs),
            smoltcp: None,
            linux: None,
            target: "≥ 3×".into(),
            met: Some(rs >= 3.0),
        });
        let rl = ratio(o, Some(l)).unwrap_or(0.0);
        rows.push(Row {
            metric: "  ratio vs Linux loopback".into(),
            unit: "×",
            ours: Some(rl),
            smoltcp: None,
            linux: None,
            target: "≥ 20×".into(),
            met: Some(rl >= 20.0),
        });
        for (name, b) in [
            ("MSS 1460", &self.bulk_1500),
            ("64 KiB MTU", &self.bulk_64k),
        ] {
            let g = [b[0].gbits(), b[1].gbits(), b[2].gbits()];
            let (target, met) = if name == "64 KiB MTU" {
                ("≥ smoltcp and ≥ 20 Gbit/s", g[0] >= g[1] && g[0] >= 20.0)
            } else {
                ("≥ smoltcp", g[0] >= g[1])
            };
            rows.push(Row {
                metric: format!("bulk, one flow, {name}"),
                unit: "Gbit/s",
                ours: Some(g[0]),
                smoltcp: Some(g[1]),
                linux: Some(g[2]),
                target: target.into(),
                met: Some(met),
            });
        }
        let m = self.memory;
        rows.push(Row {
            metric: format!("bytes per idle ESTABLISHED ({})", m.count),
            unit: "B",
            ours: m.established,
            smoltcp: Some(smol::socket_size() as f64),
            linux: Some(LINUX_TCP_SOCK),
            target: "≤ 512 B".into(),
            met: m.established.map(|b| b <= 512.0),
        });
        rows.push(Row {
            metric: "  after a request, a reply and a 2 s pause".into(),
            unit: "B",
            ours: m.established_used,
            smoltcp: None,
            linux: Some(LINUX_TCP_SOCK),
            target: "≤ 512 B".into(),
            met: m.established_used.map(|b| b <= 512.0),
        });
        rows.push(Row {
            metric: format!("bytes per TIME_WAIT entry ({})", m.count),
            unit: "B",
            ours: m.time_wait,
            smoltcp: None,
            linux: Some(LINUX_TW_SOCK),
            target: "≤ 64 B".into(),
            met: m.time_wait.map(|b| b <= 64.0),
        });
        let f = self.flood;
        rows.push(Row {
            metric: "cookie SYN-ACKs/s (syncookies=2)".into(),
            unit: "/s",
            ours: Some(f.synacks_per_sec()),
            smoltcp: None,
            linux: None,
            target: "≥ 5,000,000/s".into(),
            met: Some(f.synacks_per_sec() >= 5e6),
        });
        let share = f.real_ok as f64 / f.real_attempts.max(1) as f64 * 100.0;
        rows.push(Row {
            metric: format!("  real handshakes during the flood ({})", f.real_attempts),
            unit: "%",
            ours: Some(share),
            smoltcp: None,
            linux: None,
            target: "100%".into(),
            met: Some(f.real_ok == f.real_attempts),
        });
        let t = self.timers;
        rows.push(Row {
            metric: format!("idle timer tick, {} keepalive conns", t.count),
            unit: "ns",
            ours: Some(t.ns_per_tick),
            smoltcp: None,
            linux: None,
            target: "independent of the count".into(),
            // Wheel work (slots visited) is the count-independent measure; time varies
            // with caches and the machine.
            met: Some(t.slots_per_tick <= t.slots_per_tick_1k + 0.05),
        });
        rows.push(Row {
            metric: "idle timer tick, 1000 keepalive conns".into(),
            unit: "ns",
            ours: Some(t.ns_per_tick_1k),
            smoltcp: None,
            linux: None,
            target: String::new(),
            met: None,
        });
        rows.push(Row {
            metric: format!(
                "  wheel slots per tick ({} / 1000 conns: {:.3})",
                t.count, t.slots_per_tick_1k
            ),
            unit: "",
            ours: Some(t.slots_per_tick),
            smoltcp: None,
            linux: None,
            target: String::new(),
            met: None,
        });
        rows.push(Row {
            metric: "keepalive fired, per connection probed".into(),
            unit: "ns",
            ours: Some(t.ns_per_keepalive_fired),
            smoltcp: None,
            linux: None,
            target: String::new(),
            met: None,
        });
        rows
    }

    pub fn table(&self) -> String {
        let num = |v: Option<f64>| match v {
            None => "-".to_string(),
            Some(v) if v >= 1000.0 => group(v.round() as u64),
            Some(v) if v >= 10.0 => format!("{v:.1}"),
            Some(v) => format!("{v:.2}"),
        };
        let mut out = String::new();
        let sz = self.sizes;
        out.push_str(&format!(
            "synack bench ({}): lifecycles {} (smoltcp {}, Linux {} in {:?} max), bulk {} MiB per flow{}, {} connections for memory and timers, {} spoofed SYNs\n\n",
            sz.name,
            group(self.life[0].count),
            group(self.life[1].count),
            group(self.life[2].count),
            sz.linux_budget,
            sz.bulk_bytes >> 20,
            if sz.bulk_bytes < 1 << 30 { " (less than the issue's 1 GiB)" } else { "" },
            group(sz.memory_conns),
            group(sz.flood_syns),
        ));
        out.push_str(&format!(
            "{:<48} {:>14} {:>14} {:>14} {:>7}  {:<28} {}\n",
            "metric", "synack", "smoltcp", "linux", "unit", "target", "met"
        ));
        for r in self.rows() {
            out.push_str(&format!(
                "{:<48} {:>14} {:>14} {:>14} {:>7}  {:<28} {}\n",
                r.metric,
                num(r.ours),
                num(r.smoltcp),
                num(r.linux),
                r.unit,
                r.target,
                match r.met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                }
            ));
        }
        out.push_str(
            "\nsmoltcp's memory is size_of::<tcp::Socket>() without the buffers it needs up front; Linux's are its published sizes.\n",
        );
        out
    }

    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows()
            .into_iter()
            .map(|r| {
                json!({"metric": r.metric.trim(), "unit": r.unit, "synack": r.ours,
                "smoltcp": r.smoltcp, "linux": r.linux, "target": r.target, "met": r.met})
            })
            .collect();
        let life = |l: &Lifecycles| json!({"count": l.count, "secs": l.secs, "per_sec": l.per_sec(), "segments": l.segments});
        let bulk = |b: &Bulk| json!({"bytes": b.bytes, "secs": b.secs, "gbit_per_sec": b.gbits(), "segments": b.segments});
        json!({
            "sizes": self.sizes.name,
            "rows": rows,
            "lifecycles": {"synack": life(&self.life[0]), "smoltcp": life(&self.life[1]), "linux": life(&self.life[2])},
            "bulk_mss1460": {"synack": bulk(&self.bulk_1500[0]), "smoltcp": bulk(&self.bulk_1500[1]), "linux": bulk(&self.bulk_1500[2])},
            "bulk_mtu64k": {"synack": bulk(&self.bulk_64k[0]), "smoltcp": bulk(&self.bulk_64k[1]), "linux": bulk(&self.bulk_64k[2])},
            "memory": {"count": self.memory.count,
                "established_bytes": self.memory.established, "established_used_bytes": self.memory.established_used, "time_wait_bytes": self.memory.time_wait,
                "linux_tcp_sock": LINUX_TCP_SOCK, "linux_tw_sock": LINUX_TW_SOCK, "smoltcp_socket": smol::socket_size()},
            "timers": {"count": self.timers.count, "ticks": self.timers.ticks, "ns_per_tick": self.timers.ns_per_tick,
                "slots_per_tick": self.timers.slots_per_tick, "ns_per_tick_1k": self.timers.ns_per_tick_1k,
                "slots_per_tick_1k": self.timers.slots_per_tick_1k, "ns_per_keepalive_fired": self.timers.ns_per_keepalive_fired},
            "syn_flood": {"spoofed": self.flood.spoofed, "secs": self.flood.secs, "synacks": self.flood.synacks,
                "synacks_per_sec": self.flood.synacks_per_sec(), "real_attempts": self.flood.real_attempts, "real_ok": self.flood.real_ok},
        })
    }
}

fn group(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
