//! Linux's established-hash function (`inet_ehashfn`, `inet6_ehashfn`): Bob Jenkins'
//! lookup3 (`jhash`) of the 4-tuple under secrets drawn once per host.
//!
//! Why this and not SipHash: every segment looks its 4-tuple up, and a lifecycle of ten
//! segments hashed a tuple a dozen times at about 200 instructions each; `jhash_3words`
//! is a tenth of that. The secrets still keep crafted tuples from piling into one
//! bucket, which is all Linux asks of it. The 32-bit result is spread over 64 bits for
//! `hashbrown`, which takes its bucket from the low bits and its tag from the top seven.
use std::net::{IpAddr, SocketAddr};

/// `JHASH_INITVAL`
const INITVAL: u32 = 0xdead_beef;

/// `__jhash_mix`
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c) ^ c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c) ^ c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

/// `__jhash_final`
fn last(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c = (c ^ b).wrapping_sub(b.rotate_left(14));
    a = (a ^ c).wrapping_sub(c.rotate_left(11));
    b = (b ^ a).wrapping_sub(a.rotate_left(25));
    c = (c ^ b).wrapping_sub(b.rotate_left(16));
    a = (a ^ c).wrapping_sub(c.rotate_left(4));
    b = (b ^ a).wrapping_sub(a.rotate_left(14));
    (c ^ b).wrapping_sub(b.rotate_left(24))
}

/// `jhash_3words`
pub(crate) fn jhash_3words(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    let iv = initval.wrapping_add(INITVAL).wrapping_add(3 << 2);
    last(a.wrapping_add(iv), b.wrapping_add(iv), c.wrapping_add(iv))
}

/// `jhash2` of an IPv6 address's four words (`__ipv6_addr_jhash`).
fn jhash_v6(addr: &[u8; 16], initval: u32) -> u32 {
    let w = |i: usize| u32::from_be_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
    let iv = INITVAL.wrapping_add(4 << 2).wrapping_add(initval);
    let (mut a, mut b, mut c) = (iv, iv, iv);
    a = a.wrapping_add(w(0));
    b = b.wrapping_add(w(4));
    c = c.wrapping_add(w(8));
    mix(&mut a, &mut b, &mut c);
    last(a.wrapping_add(w(12)), b, c)
}

/// The host's secrets (`inet_ehash_secret`, `inet6_ehash_secret`, `tcp_ipv6_hash_secret`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EhashKey {
    v4: u32,
    v6: u32,
    v6_addr: u32,
}

impl EhashKey {
    /// Secrets from 128 bits of the host's seeded randomness.
    pub(crate) fn new(key: (u64, u64)) -> EhashKey {
        EhashKey {
            v4: key.0 as u32,
            v6: (key.0 >> 32) as u32,
            v6_addr: key.1 as u32 ^ (key.1 >> 32) as u32,
        }
    }

    /// An IPv4 4-tuple (`inet_ehashfn`).
    pub(crate) fn v4(&self, local: u32, lport: u16, remote: u32, rport: u16) -> u64 {
        let ports = u32::from(lport) << 16 | u32::from(rport);
        spread(jhash_3words(local, remote, ports, self.v4))
    }

    /// An IPv6 4-tuple (`inet6_ehashfn`): the local address by its last word (a host has
    /// few), the remote one hashed whole.
    pub(crate) fn v6(&self, local: &[u8; 16], lport: u16, remote: &[u8; 16], rport: u16) -> u64 {
        let lhash = u32::from_be_bytes([local[12], local[13], local[14], local[15]]);
        let fhash = jhash_v6(remote, self.v6_addr);
        let ports = u32::from(lport) << 16 | u32::from(rport);
        spread(jhash_3words(lhash, fhash, ports, self.v6))
    }

    /// A 4-tuple (local, remote) of either family.
    pub(crate) fn tuple(&self, local: SocketAddr, remote: SocketAddr) -> u64 {
        match (local.ip(), remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                self.v4(u32::from(l), local.port(), u32::from(r), remote.port())
            }
            (l, r) => self.v6(
                &to_v6(l).octets(),
                local.port(),
                &to_v6(r).octets(),
                remote.port(),
            ),
        }
    }
}

fn to_v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// 32 bits to 64 for `hashbrown`: the low bits stay a bijection of the hash's low bits,
/// the top ones depend on every bit (Fibonacci hashing).
fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from the kernel's own `include/linux/jhash.h`, compiled as C.
    #[test]
    fn matches_the_kernels_jhash() {
        assert_eq!(
            jhash_3words(0x0a00_0001, 0x0a00_0002, 80 << 16 | 40000, 0x1234_5678),
            0xe1de_50ab
        );
        assert_eq!(jhash_3words(0, 0, 0, 0), 0x1b68_e557);
        let a: [u8; 16] = "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        assert_eq!(jhash_v6(&a, 0xcafe_f00d), 0x1ed3_b072);
        assert_eq!(jhash_v6(&a, 0), 0x6629_5424);
    }

    #[test]
    fn the_secret_and_every_field_change_the_hash() {
        let k = EhashKey::new((1, 2));
        let l: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let r: SocketAddr = "10.0.0.2:40000".parse().unwrap();
        let h = k.tuple(l, r);
        assert_ne!(h, EhashKey::new((3, 2)).tuple(l, r));
        assert_ne!(h, k.tuple(r, l));
        assert_ne!(h, k.tuple("10.0.0.1:81".parse().unwrap(), r));
        let l6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        let r6: SocketAddr = "[2001:db8::2]:40000".parse().unwrap();
        let h6 = k.tuple(l6, r6);
        assert_ne!(h6, EhashKey::new((1, 5)).tuple(l6, r6));
        assert_ne!(h6, k.tuple(l6, "[2001:db9::2]:40000".parse().unwrap()));
        // Buckets and tags both vary over a run of ports.
        let mut tags = std::collections::HashSet::new();
        let mut buckets = std::collections::HashSet::new();
        for p in 0..1024u16 {
            let h = k.v4(1, 80, 2, 30000 + p);
            tags.insert(h >> 57);
            buckets.insert(h & 1023);
        }
        assert_eq!(tags.len(), 128);
        assert!(buckets.len() > 600, "{}", buckets.len());
    }
}
