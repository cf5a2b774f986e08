//! A classic pcap file (LINKTYPE_RAW: each record is one IP packet), timestamped with
//! virtual time, so Wireshark and tshark open a simulated run like a real capture.
use std::io::{self, Write};
use std::path::Path;
use synack_core::Instant;

/// LINKTYPE_RAW: raw IPv4/IPv6, no link-layer header.
pub const LINKTYPE_RAW: u32 = 101;

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
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        for (at, p) in &self.records {
            let us = at.as_micros();
            out.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            out.extend_from_slice(p);
        }
        out
    }

    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let mut f = std::fs::File::create(path)?;
        f.write_all(&self.to_bytes())
    }
}
