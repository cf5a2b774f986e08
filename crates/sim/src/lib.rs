//! A deterministic network simulator for synack stacks, and the scenario library.
//!
//! Hosts each run a [`Stack`](synack_core::Stack); links carry raw IP packets with latency,
//! jitter, bandwidth, random loss, duplication and reordering, plus [`Rule`]s ("drop every
//! SYN-ACK", "drop the 3rd segment from client to server", "partition from 5 s to 9 s").
//! A virtual clock jumps to the next delivery or timer, so a 63 s SYN timeout runs in
//! microseconds. Every random choice comes from one seed (ChaCha streams derived from it)
//! and ties are broken by insertion order, so a run replays exactly — the
//! FoundationDB/turmoil discipline: a failing seed is a reproducible bug report.
//!
//! ```
//! use synack_sim::{Sim, LinkConfig, Rule, Match};
//! use synack_core::Config;
//! let mut sim = Sim::new(1);
//! let c = sim.add_host("client", Config::seed(), &["10.0.0.1".parse().unwrap()]);
//! let s = sim.add_host("server", Config::seed(), &["10.0.0.2".parse().unwrap()]);
//! sim.add_link(c, s, LinkConfig::default(), LinkConfig::default());
//! sim.add_rule(Rule::drop("drop every SYN-ACK", Some(s), None, Match::SynAck));
//! let fd = sim.call(c, |st, now| {
//!     let fd = st.socket(now).unwrap();
//!     let _ = st.connect(now, fd, "10.0.0.2:80".parse().unwrap());
//!     fd
//! });
//! sim.run_for(std::time::Duration::from_secs(1));
//! # let _ = fd;
//! ```
#![forbid(unsafe_code)]

mod event;
pub mod html;
pub mod ladder;
mod link;
pub mod pcap;
mod rule;
pub mod scenarios;
mod sim;
pub mod soak;
/// The `ss`/`netstat`/`nstat` views live in their own crate, shared with live stacks.
pub use synack_view as ss;
pub mod view;

pub use event::{ip_destination, segment_info, LinkDropReason, SimEvent, SimEventKind};
pub use link::{LinkConfig, LinkId};
pub use pcap::Pcap;
pub use rule::{Action, Direction, Match, Rule};
pub use sim::{HostId, Sim, Snapshot};

use std::net::{IpAddr, SocketAddr};
use synack_core::Errno;

/// Convenience: a `SocketAddr` from an address and a port.
pub fn sa(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

/// Result of a socket call as text: `0`, `3`, `-1 EAGAIN`.
pub fn errno_text<T: std::fmt::Debug>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("-1 {}", e.name()),
    }
}
