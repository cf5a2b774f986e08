//! TCP Fast Open (RFC 7413): the server's cookies, computed bit for bit as Linux does
//! (`__tcp_fastopen_cookie_gen_cipher`): SipHash-2-4 keyed by the 16-byte Fast Open key
//! over the SYN's source address then its destination address, the 64-bit result
//! stored little-endian. The same key and addresses give the same cookie as Linux.
use siphasher::sip::SipHasher24;
use std::hash::Hasher;
use std::net::IpAddr;

/// Length of the cookies we issue (TCP_FASTOPEN_COOKIE_SIZE).
pub(crate) const COOKIE_LEN: usize = 8;

/// `tcp_fastopen` bits.
pub(crate) mod bits {
    pub(crate) const CLIENT: u32 = 0x1;
    pub(crate) const SERVER: u32 = 0x2;
    pub(crate) const CLIENT_NO_COOKIE: u32 = 0x4;
    pub(crate) const SERVER_COOKIE_NOT_REQD: u32 = 0x200;
    pub(crate) const SERVER_WO_SOCKOPT: u32 = 0x400;
}

/// The cookie for a SYN from `client` to `server` under `key`.
pub(crate) fn cookie(key: &[u8; 16], client: IpAddr, server: IpAddr) -> [u8; COOKIE_LEN] {
    let k0 = u64::from_le_bytes(key[..8].try_into().unwrap_or([0; 8]));
    let k1 = u64::from_le_bytes(key[8..].try_into().unwrap_or([0; 8]));
    let mut h = SipHasher24::new_with_keys(k0, k1);
    match (client, server) {
        (IpAddr::V4(c), IpAddr::V4(s)) => {
            h.write(&c.octets());
            h.write(&s.octets());
        }
        (c, s) => {
            h.write(&v6(c));
            h.write(&v6(s));
        }
    }
    h.finish().to_le_bytes()
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// A key as the sysctl writes it (`a1a1a1a1-b2b2b2b2-...`): each group a little-endian u32.
#[cfg(test)]
fn key(groups: [u32; 4]) -> [u8; 16] {
    let mut k = [0u8; 16];
    for (i, g) in groups.iter().enumerate() {
        k[i * 4..i * 4 + 4].copy_from_slice(&g.to_le_bytes());
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(c: [u8; 8]) -> String {
        c.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The cookies Linux computes (checked on Linux 6.18 by the shared packetdrill suite).
    #[test]
    fn cookies_match_linux() {
        let gtests = key([0xa1a1a1a1, 0xb2b2b2b2, 0xc3c3c3c3, 0xd4d4d4d4]);
        let c = |a: &str, b: &str| hex(cookie(&gtests, a.parse().unwrap(), b.parse().unwrap()));
        assert_eq!(c("192.0.2.1", "192.168.0.1"), "3021b9d889017eeb");
        assert_eq!(
            c("fd3d:fa7b:d17d::1", "fd3d:a0b:17d6::1"),
            "c1d1e9742a47a9bc"
        );
        let k = key([0xa0bf63f7, 0xed803d81, 0xcd641d30, 0xcebc4a90]);
        let c = |a: &str, b: &str| hex(cookie(&k, a.parse().unwrap(), b.parse().unwrap()));
        assert_eq!(c("10.248.0.2", "192.168.0.2"), "00abaaabe8e954c2");
        assert_eq!(c("10.248.0.3", "192.168.0.3"), "76d2c1c530f51f79");
    }
}

/// The client's cookie cache (Linux keeps it in tcp_metrics, per destination address):
/// the cookie and the MSS the server announced. Bounded; `ip tcp_metrics flush` empties
/// it. A BTreeMap so that eviction is deterministic.
#[derive(Default)]
pub(crate) struct CookieCache {
    map: std::collections::BTreeMap<IpAddr, Cached>,
}

/// What the cache holds for one server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cached {
    /// 0 when the server gave an MSS but no cookie yet.
    pub(crate) len: u8,
    pub(crate) cookie: [u8; 16],
    pub(crate) mss: u16,
    /// The cookie came in the experimental option (kind 254): send it back that way.
    pub(crate) exp: bool,
    /// `try_exp`: a cookie request in the RFC form went unanswered (1: ask in the
    /// experimental form next time); one in the experimental form too (2: back to RFC).
    pub(crate) try_exp: u8,
}

/// Most servers remembered at once (tcp_metrics is bounded by its hash table).
const CACHE_MAX: usize = 4096;

impl CookieCache {
    pub(crate) fn get(&self, server: IpAddr) -> Option<Cached> {
        self.map.get(&server).copied()
    }

    /// `tcp_fastopen_cache_set`: remember the MSS, and the cookie if one came (a
    /// SYN-ACK without a cookie keeps the old one, and may switch the option form used to
    /// ask for one: `try_exp`).
    pub(crate) fn set(
        &mut self,
        server: IpAddr,
        mss: u16,
        cookie: Option<(&[u8], bool)>,
        try_exp: u8,
    ) {
        if !self.map.contains_key(&server) && self.map.len() >= CACHE_MAX {
            if let Some(&first) = self.map.keys().next() {
                self.map.remove(&first);
            }
        }
        let e = self.map.entry(server).or_default();
        if mss != 0 {
            e.mss = mss;
        }
        match cookie.filter(|(c, _)| !c.is_empty() && c.len() <= 16) {
            Some((c, exp)) => {
                e.len = c.len() as u8;
                e.cookie = [0; 16];
                e.cookie[..c.len()].copy_from_slice(c);
                e.exp = exp;
            }
            None if try_exp > e.try_exp && e.len == 0 && !e.exp => e.try_exp = try_exp,
            None => {}
        }
    }

    pub(crate) fn flush(&mut self) {
        self.map.clear();
    }
}
