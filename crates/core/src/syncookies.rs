//! SYN cookies in Linux's layout (net/ipv4/syncookies.c): when the SYN queue is full
//! (tcp_syncookies = 1) or always (= 2) the listener keeps nothing and encodes what it
//! must remember into the SYN-ACK's sequence number (and, with timestamps, into the low
//! bits of its TSval).
//!
//! ISN = hash1(4-tuple) + client ISN + (minute << 24) + ((hash2(4-tuple, minute) + mss index)
//! & 0xFFFFFF), with SipHash under two secret keys; a cookie up to 2 minutes old is valid.
use siphasher::sip::SipHasher24;
use std::hash::Hasher;
use std::net::{IpAddr, SocketAddr};

const COOKIEBITS: u32 = 24;
const COOKIEMASK: u32 = (1 << COOKIEBITS) - 1;
/// MAX_SYNCOOKIE_AGE: minutes a cookie stays valid.
const MAX_AGE: u32 = 2;
/// Linux's MSS tables: the cookie carries an index, the child gets the value.
pub(crate) const MSSTAB_V4: [u16; 4] = [536, 1300, 1440, 1460];
pub(crate) const MSSTAB_V6: [u16; 4] = [1220, 1420, 1440, 8940];
/// Low TSval bits: window scale (4 bits; 0xf = none), SACK, ECN.
const TSBITS: u32 = 6;
const TS_WSCALE_MASK: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;

pub(crate) struct SynCookies {
    keys: [(u64, u64); 2],
}

fn write_addr(h: &mut SipHasher24, a: IpAddr) {
    match a {
        IpAddr::V4(v) => h.write(&v.octets()),
        IpAddr::V6(v) => h.write(&v.octets()),
    }
}

impl SynCookies {
    pub(crate) fn new(keys: [(u64, u64); 2]) -> Self {
        SynCookies { keys }
    }

    /// `cookie_hash()`: SipHash of (saddr, daddr, sport << 16 | dport, count) under key `c`.
    fn hash(&self, remote: SocketAddr, local: SocketAddr, count: u32, c: usize) -> u32 {
        let mut h = SipHasher24::new_with_keys(self.keys[c].0, self.keys[c].1);
        write_addr(&mut h, remote.ip());
        write_addr(&mut h, local.ip());
        h.write_u32(((remote.port() as u32) << 16) | local.port() as u32);
        h.write_u32(count);
        h.finish() as u32
    }

    /// The table index for the client's MSS: the largest entry not above it.
    pub(crate) fn mss_index(mss: u16, v6: bool) -> u32 {
        let tab = if v6 { &MSSTAB_V6 } else { &MSSTAB_V4 };
        tab.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32
    }

    pub(crate) fn mss_of(index: u32, v6: bool) -> u16 {
        let tab = if v6 { &MSSTAB_V6 } else { &MSSTAB_V4 };
        tab[index as usize % 4]
    }

    /// `secure_tcp_syn_cookie()`: our ISN for a SYN we do not remember.
    pub(crate) fn make(
        &self,
        remote: SocketAddr,
        local: SocketAddr,
        client_isn: u32,
        mss_index: u32,
        minute: u32,
    ) -> u32 {
        self.hash(remote, local, 0, 0)
            .wrapping_add(client_isn)
            .wrapping_add(minute << COOKIEBITS)
            .wrapping_add(self.hash(remote, local, minute, 1).wrapping_add(mss_index) & COOKIEMASK)
    }

    /// `check_tcp_syn_cookie()`: the MSS index if `cookie` (the ACK's ack − 1) is ours and
    /// at most two minutes old; `client_isn` is the ACK's seq − 1.
    pub(crate) fn check(
        &self,
        remote: SocketAddr,
        local: SocketAddr,
        client_isn: u32,
        cookie: u32,
        minute: u32,
    ) -> Option<u32> {
        let c = cookie.wrapping_sub(self.hash(remote, local, 0, 0).wrapping_add(client_isn));
        let diff = minute.wrapping_sub(c >> COOKIEBITS) & (u32::MAX >> COOKIEBITS);
        if diff >= MAX_AGE {
            return None;
        }
        let idx =
            c.wrapping_sub(self.hash(remote, local, minute.wrapping_sub(diff), 1)) & COOKIEMASK;
        (idx < 4).then_some(idx)
    }

    /// `cookie_init_timestamp()`: a TSval (before the connection's offset) no later than
    /// now whose low bits carry the SYN's window scale and SACK permission.
    pub(crate) fn encode_ts(ts_now: u32, wscale: Option<u8>, sack: bool) -> u32 {
        let mut options = wscale
            .map(|w| w as u32 & TS_WSCALE_MASK)
            .unwrap_or(TS_WSCALE_MASK);
        if sack {
            options |= TS_SACK;
        }
        let ts = ((ts_now >> TSBITS) << TSBITS) | options;
        if ts > ts_now {
            ts.wrapping_sub(1 << TSBITS)
        } else {
            ts
        }
    }

    /// `cookie_timestamp_decode()`: the peer's window scale and SACK from our echoed TSval.
    pub(crate) fn decode_ts(ecr: u32) -> (Option<u8>, bool) {
        let w = ecr & TS_WSCALE_MASK;
        let wscale = (w != TS_WSCALE_MASK).then_some(w as u8);
        (wscale, ecr & TS_SACK != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_expiry() {
        let c = SynCookies::new([(1, 2), (3, 4)]);
        let r: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let l: SocketAddr = "192.168.0.1:8080".parse().unwrap();
        for idx in 0..4 {
            let k = c.make(r, l, 12345, idx, 100);
            assert_eq!(c.check(r, l, 12345, k, 100), Some(idx));
            assert_eq!(c.check(r, l, 12345, k, 101), Some(idx), "one minute old");
            assert_eq!(c.check(r, l, 12345, k, 102), None, "two minutes: expired");
            // The client ISN is added in, so a nearby one could land on another valid index,
            // as in Linux; a different connection's ISN does not.
            assert_eq!(
                c.check(r, l, 12345 + 1_000_000, k, 100),
                None,
                "another client ISN"
            );
            let other: SocketAddr = "192.0.2.1:40001".parse().unwrap();
            assert_eq!(c.check(other, l, 12345, k, 100), None, "another 4-tuple");
        }
        assert_eq!(SynCookies::mss_index(1000, false), 0);
        assert_eq!(SynCookies::mss_index(1460, false), 3);
        assert_eq!(SynCookies::mss_index(1400, false), 1);
        assert_eq!(SynCookies::mss_of(2, true), 1440);
    }

    #[test]
    fn timestamp_bits() {
        for (w, s) in [
            (Some(7), true),
            (None, false),
            (Some(14), false),
            (Some(0), true),
        ] {
            let ts = SynCookies::encode_ts(1_000_000, w, s);
            assert!(ts <= 1_000_000 && 1_000_000 - ts < 64);
            assert_eq!(SynCookies::decode_ts(ts), (w, s));
        }
    }
}
