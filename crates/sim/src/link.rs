//! A point-to-point link between two hosts: per direction, a FIFO transmitter of a given
//! bandwidth, a propagation delay with jitter, and random loss, duplication and reordering.
//!
//! Every packet draws the same number of random values whatever happens to it, so turning
//! one fault on does not shift the random choices made for later packets of another.
use crate::pcap::Pcap;
use crate::HostId;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use std::time::Duration;
use synack_core::Instant;

/// Index of a link, in `Sim::add_link` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub usize);

/// One direction of a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Uniform extra delay in `[0, jitter)` per packet; order is kept (a packet never
    /// arrives before the one sent ahead of it), as on a real FIFO path.
    pub jitter: Duration,
    /// Bits per second; 0 = unlimited. A packet of `n` bytes occupies the transmitter for
    /// `8n / bandwidth` seconds and waits (FIFO) while earlier ones are being sent.
    pub bandwidth: u64,
    /// Probability that a packet is lost (it still used the transmitter).
    pub loss: f64,
    /// Probability that a packet is delivered twice (both copies at the same time).
    pub duplicate: f64,
    /// Probability that a packet gets an extra random delay in `[0, max(latency, 1 ms))`,
    /// outside the FIFO order: later packets may overtake it.
    pub reorder: f64,
}

impl Default for LinkConfig {
    /// 25 ms one way, no limits, no faults: the scenarios' link.
    fn default() -> Self {
        LinkConfig::with_latency(Duration::from_millis(25))
    }
}

impl LinkConfig {
    /// A perfect link with this one-way delay.
    pub fn with_latency(latency: Duration) -> LinkConfig {
        LinkConfig {
            latency,
            jitter: Duration::ZERO,
            bandwidth: 0,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }

    /// Time to put `bytes` on the wire at this bandwidth.
    pub fn serialisation(&self, bytes: usize) -> Duration {
        if self.bandwidth == 0 {
            return Duration::ZERO;
        }
        let us = (bytes as u128 * 8 * 1_000_000).div_ceil(self.bandwidth as u128);
        Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }
}

/// What the link does with one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fate {
    pub lost: bool,
    pub duplicated: bool,
    /// When the (first) copy arrives; meaningless if lost.
    pub arrival: Instant,
}

pub(crate) struct Link {
    pub a: HostId,
    pub b: HostId,
    /// `[a → b, b → a]`
    pub cfg: [LinkConfig; 2],
    /// When each direction's transmitter is free again.
    busy: [Instant; 2],
    /// Latest in-order arrival per direction (FIFO under jitter).
    last: [Instant; 2],
    rng: ChaCha8Rng,
    pub pcap: Option<Pcap>,
}

/// A uniform number in `[0, 1)` from 53 random bits.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform duration in `[0, max)`.
fn below(x: u64, max: Duration) -> Duration {
    let m = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
    if m == 0 {
        Duration::ZERO
    } else {
        Duration::from_micros(x % m)
    }
}

impl Link {
    pub fn new(a: HostId, b: HostId, ab: LinkConfig, ba: LinkConfig, rng: ChaCha8Rng) -> Link {
        Link {
            a,
            b,
            cfg: [ab, ba],
            busy: [Instant::ZERO; 2],
            last: [Instant::ZERO; 2],
            rng,
            pcap: None,
        }
    }

    /// The direction index and the far end, if `from` is on this link.
    pub fn direction_from(&self, from: HostId) -> Option<(usize, HostId)> {
        if from == self.a {
            Some((0, self.b))
        } else if from == self.b {
            Some((1, self.a))
        } else {
            None
        }
    }

    /// Send `len` bytes in direction `dir` at `now`; `hold` is extra delay from rules.
    pub fn transmit(&mut self, dir: usize, now: Instant, len: usize, hold: Duration) -> Fate {
        let cfg = self.cfg[dir];
        // Always six draws per packet (see the module doc).
        let mut draw = [0u64; 6];
        for d in &mut draw {
            *d = self.rng.next_u64();
        }
        let lost = cfg.loss > 0.0 && unit(draw[0]) < cfg.loss;
        let duplicated = cfg.duplicate > 0.0 && unit(draw[1]) < cfg.duplicate;
        let reordered = cfg.reorder > 0.0 && unit(draw[2]) < cfg.reorder;
        let jitter = below(draw[3], cfg.jitter);
        let extra = below(draw[4], cfg.latency.max(Duration::from_millis(1)));
        let _spare = draw[5];

        let start = self.busy[dir].max(now);
        let done = start + cfg.serialisation(len);
        self.busy[dir] = done;
        let mut arrival = done + cfg.latency + jitter;
        if reordered {
            arrival += extra;
        } else {
            arrival = arrival.max(self.last[dir]);
            if !lost {
                self.last[dir] = arrival;
            }
        }
        Fate {
            lost,
            duplicated,
            arrival: arrival + hold,
        }
    }
}
