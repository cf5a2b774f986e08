//! Every secret and random choice of a stack, derived from `Config::seed` so that a
//! simulated run replays exactly (a real-network driver passes OS randomness as the seed).
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use siphasher::sip::SipHasher24;
use std::hash::Hasher;
use std::net::IpAddr;

/// Keys for ISNs (RFC 6528), timestamp offsets and port selection, plus a PRNG.
pub(crate) struct Secrets {
    isn_key: (u64, u64),
    ts_key: (u64, u64),
    port_key: (u64, u64),
    pub(crate) demux_key: (u64, u64),
    pub(crate) cookie_keys: [(u64, u64); 2],
    /// Fast Open key used while tcp_fastopen_key was never set (Linux draws one at
    /// random on first use).
    pub(crate) fastopen_key: [u8; 16],
    rng: ChaCha8Rng,
}

fn write_addr(h: &mut SipHasher24, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => h.write(&v4.octets()),
        IpAddr::V6(v6) => h.write(&v6.octets()),
    }
}

impl Secrets {
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut key = || (rng.next_u64(), rng.next_u64());
        let isn_key = key();
        let ts_key = key();
        let port_key = key();
        let demux_key = key();
        let cookie_keys = [key(), key()];
        let (a, b) = key();
        let mut fastopen_key = [0u8; 16];
        fastopen_key[..8].copy_from_slice(&a.to_le_bytes());
        fastopen_key[8..].copy_from_slice(&b.to_le_bytes());
        Secrets {
            isn_key,
            ts_key,
            port_key,
            demux_key,
            cookie_keys,
            fastopen_key,
            rng,
        }
    }

    fn hasher(key: (u64, u64)) -> SipHasher24 {
        SipHasher24::new_with_keys(key.0, key.1)
    }

    /// RFC 6528: ISN = F(4-tuple, secret) + M, M a clock ticking every 64 ns (as Linux:
    /// `secure_tcp_seq()` adds `ktime_get_real_ns() >> 6`).
    pub(crate) fn isn(
        &self,
        local: IpAddr,
        lport: u16,
        remote: IpAddr,
        rport: u16,
        now_us: u64,
    ) -> u32 {
        let mut h = Self::hasher(self.isn_key);
        write_addr(&mut h, local);
        write_addr(&mut h, remote);
        h.write_u16(lport);
        h.write_u16(rport);
        let f = h.finish() as u32;
        f.wrapping_add((now_us.wrapping_mul(1000) >> 6) as u32)
    }

    /// Per-connection timestamp offset (Linux `secure_tcp_ts_off()`: keyed by the addresses).
    pub(crate) fn ts_offset(&self, local: IpAddr, remote: IpAddr) -> u32 {
        let mut h = Self::hasher(self.ts_key);
        write_addr(&mut h, local);
        write_addr(&mut h, remote);
        h.finish() as u32
    }

    /// Where to start searching the ephemeral range for a destination (Linux
    /// `secure_ipv4_port_ephemeral()` + a per-call perturbation).
    pub(crate) fn port_offset(&self, local: IpAddr, remote: IpAddr, rport: u16) -> u32 {
        let mut h = Self::hasher(self.port_key);
        write_addr(&mut h, local);
        write_addr(&mut h, remote);
        h.write_u16(rport);
        h.finish() as u32
    }

    pub(crate) fn next_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }
}
