//! synack's sans-IO TCP core: one host's TCP connection management, as Linux does it.
//!
//! No clock, no I/O, no threads: time comes in as a parameter, IP packets go in and out
//! as bytes, every random choice comes from `Config::seed`.
#![forbid(unsafe_code)]

pub mod api;
mod autotune;
mod bbr;
mod buffer;
pub mod cc;
pub mod config;
mod conn;
pub mod counters;
mod ctx;
mod demux;
mod ehash;
pub mod errno;
pub mod event;
mod fastopen;
mod flight;
mod lazy;
mod listener;
mod opts;
mod pacing;
mod rate;
mod secrets;
mod slab;
pub mod stack;
pub mod state;
mod syncookies;
pub mod time;
pub mod timers;
mod timewait;
mod twtable;
mod undo;

pub use api::{Fd, Readiness, Shutdown, SockOpt, SockOptName, SocketInfo, TcpInfo};
pub use cc::Algorithm as CongestionAlgorithm;
pub use config::{Config, ConfigError, Later, Profile};
pub use counters::{Counter, Counters};
pub use errno::Errno;
pub use event::{DropReason, Event, EventKind, SegmentInfo, TimerKind};
pub use stack::{Stack, TableSizes};
pub use state::TcpState;
pub use synack_wire as wire;
pub use time::Instant;
