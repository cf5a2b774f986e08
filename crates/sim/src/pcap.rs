//! A classic pcap file (LINKTYPE_RAW: each record is one IP packet), timestamped with
//! virtual time, so Wireshark and tshark open a simulated run like a real capture.
//!
//! The format is 24 bytes of header and 16 per record; writing it by hand costs less than
//! a dependency. Little-endian, microsecond timestamps (magic `a1b2c3d4`), version 2.4.
use std::io::{self, Write};
use std::path::Path;
use synack_core::Instant;

/// LINKTYPE_RAW: raw IPv4/IPv6, no link-layer header.
pub const LINKTYPE_RAW: u32 = 101;

/// Largest record kept whole (tcpdump's default); longer packets are truncated in the
/// file, with their original length recorded, as the format requires.
pub const SNAPLEN: u32 = 262_144;

/// An in-memory capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pcap {
    records: Vec<(Instant, Vec<u8>)>,
}

impl Pcap {
    pub fn new() -> Pcap {
        Pcap::default()
    }

    pub fn record(&mut self, at: Instant, packet: &[u8]) {
        self.records.push((at, packet.to_vec()));
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The whole file, bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(24 + self.records.iter().map(|r| 16 + r.1.len()).sum::<usize>());
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&SNAPLEN.to_le_bytes());
        out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        for (at, p) in &self.records {
            let us = at.as_micros();
            let orig = u32::try_from(p.len()).unwrap_or(u32::MAX);
            let incl = orig.min(SNAPLEN);
            out.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&incl.to_le_bytes());
            out.extend_from_slice(&orig.to_le_bytes());
            out.extend_from_slice(&p[..incl as usize]);
        }
        out
    }

    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let mut f = std::fs::File::create(path)?;
        f.write_all(&self.to_bytes())
    }
}
