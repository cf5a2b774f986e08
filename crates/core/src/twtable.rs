//! The TIME_WAIT table: every TIME_WAIT (and orphaned FIN_WAIT_2) record of a host, packed
//! into 44 bytes for IPv4 (56 for IPv6) with its own keyed hash index and expiry heap, so a
//! million of them cost about 60 bytes each — a quarter of Linux's 264-byte
//! `tcp_timewait_sock`.
//!
//! Why a table of its own and not the connection demux: a TIME_WAIT record is small, all
//! alike, and there may be far more of them than connections (the document's "too many
//! TIME_WAITs"). So the record stores only what `tcp_timewait_state_process()` and
//! `tcp_twsk_unique()` read, in Linux's own units: addresses as numbers, the local address
//! as an index into a small list of the host's addresses in use, times as 32-bit
//! millisecond stamps compared with wrapping arithmetic (jiffies-style), the window scale
//! in 4 bits. The timestamp offset is not stored: it is a keyed hash of the two addresses
//! (`secure_tcp_ts_off()`), recomputed by the stack when the record answers.
//!
//! Expiry: one min-heap of record indices ordered by expiry, each record knowing its place,
//! so re-arming (a retransmitted FIN restarts the 2MSL wait) and removal are O(log n) and
//! exact, and nothing stale accumulates whatever a peer sends.
use crate::ctx::OowStamp;
use crate::ehash::EhashKey;
use crate::time::Instant;
use crate::timewait::TimeWait;
use crate::TcpState;
use hashbrown::HashTable;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// A record's place in the table: family and index. Stable while the record lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TwId {
    v6: bool,
    index: u32,
}

/// The longest a record may wait before it expires: expiry stamps are compared with
/// wrapping 32-bit millisecond arithmetic, valid over half the range (24.8 days). Linux
/// caps TCP_LINGER2 at 120 s and TIME_WAIT is 60 s, so this only bounds odd settings.
const MAX_WAIT: Duration = Duration::from_secs(24 * 24 * 3600);

/// Timestamps older than this are not used for PAWS (`tcp_paws_check`: 24 days).
const TS_STALE: u32 = 24 * 24 * 3600 * 1000;

/// Bits of `Rec::bits`.
const FIN_WAIT2: u8 = 1;
const TS: u8 = 2;
const TS_STALE_BIT: u8 = 4;
const WSCALE_SHIFT: u8 = 4;

/// A free slot: `heap_pos` holds this, `snd_nxt` the next free slot.
const VACANT: u32 = u32::MAX;

/// An address family's address as the record stores it.
trait Addr: Copy + Eq {
    fn to_ip(self) -> IpAddr;
    /// The keyed hash of a 4-tuple of this family (Linux's `inet_ehashfn`/`inet6_ehashfn`).
    fn ehash(key: &EhashKey, local: Self, lport: u16, remote: Self, rport: u16) -> u64;
}

impl Addr for u32 {
    fn to_ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
    fn ehash(key: &EhashKey, local: u32, lport: u16, remote: u32, rport: u16) -> u64 {
        key.v4(local, lport, remote, rport)
    }
}

impl Addr for [u8; 16] {
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
    fn ehash(key: &EhashKey, local: Self, lport: u16, remote: Self, rport: u16) -> u64 {
        key.v6(&local, lport, &remote, rport)
    }
}

/// One packed record (44 bytes with IPv4 addresses).
#[derive(Clone, Copy)]
struct Rec<A> {
    remote: A,
    snd_nxt: u32,
    rcv_nxt: u32,
    rcv_wnd: u32,
    ts_recent: u32,
    /// When `ts_recent` was taken, in ms of the stack's clock (wrapping).
    ts_stamp: u32,
    /// When the record expires, in ms of the stack's clock (wrapping).
    expiry: u32,
    /// Index in the heap; `VACANT` for a free slot.
    heap_pos: u32,
    /// `tw_last_oow_ack_time`, 0 for never.
    oow: u32,
    lport: u16,
    rport: u16,
    /// Index into `Set::locals`.
    local: u8,
    bits: u8,
}

/// The milliseconds of an instant, wrapping as Linux's jiffies do.
fn ms(t: Instant) -> u32 {
    t.as_millis() as u32
}

/// `a` before `b`, for stamps less than 24.8 days apart.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// The records of one address family.
struct Set<A> {
    recs: Vec<Rec<A>>,
    free_head: u32,
    len: usize,
    index: HashTable<u32>,
    /// Min-heap of record indices by expiry.
    heap: Vec<u32>,
    /// The host's addresses that records use (at most 256: the `local` byte).
    locals: Vec<A>,
}

impl<A: Addr> Set<A> {
    fn new() -> Self {
        Set {
            recs: Vec::new(),
            free_head: VACANT,
            len: 0,
            index: HashTable::new(),
            heap: Vec::new(),
            locals: Vec::new(),
        }
    }

    fn hash(key: &EhashKey, local: A, remote: A, lport: u16, rport: u16) -> u64 {
        A::ehash(key, local, lport, remote, rport)
    }

    fn rec_hash(&self, key: &EhashKey, r: &Rec<A>) -> u64 {
        Self::hash(
            key,
            self.locals[r.local as usize],
            r.remote,
            r.lport,
            r.rport,
        )
    }

    fn find(&self, key: &EhashKey, local: A, remote: A, lport: u16, rport: u16) -> Option<u32> {
        let slot = self.locals.iter().position(|&l| l == local)? as u8;
        let h = Self::hash(key, local, remote, lport, rport);
        self.index
            .find(h, |&i| {
                let r = &self.recs[i as usize];
                r.local == slot && r.remote == remote && r.lport == lport && r.rport == rport
            })
            .copied()
    }

    fn insert(&mut self, key: &EhashKey, rec: Rec<A>, local: A) -> Option<u32> {
        let slot = match self.locals.iter().position(|&l| l == local) {
            Some(s) => s,
            None if self.locals.len() < 256 => {
                self.locals.push(local);
                self.locals.len() - 1
            }
            None => return None,
        };
        let rec = Rec {
            local: slot as u8,
            heap_pos: self.heap.len() as u32,
            ..rec
        };
        let i = if self.free_head != VACANT {
            let i = self.free_head;
            self.free_head = self.recs[i as usize].snd_nxt;
            self.recs[i as usize] = rec;
            i
        } else {
            self.recs.push(rec);
            (self.recs.len() - 1) as u32
        };
        self.len += 1;
        let h = self.rec_hash(key, &rec);
        let recs = &self.recs;
        let locals = &self.locals;
        self.index.insert_unique(h, i, |&j| {
            let r = &recs[j as usize];
            Self::hash(key, locals[r.local as usize], r.remote, r.lport, r.rport)
        });
        self.heap.push(i);
        self.sift_up(self.heap.len() - 1);
        Some(i)
    }

    fn get(&self, i: u32) -> Option<&Rec<A>> {
        self.recs.get(i as usize).filter(|r| r.heap_pos != VACANT)
    }

    fn get_mut(&mut self, i: u32) -> Option<&mut Rec<A>> {
        self.recs
            .get_mut(i as usize)
            .filter(|r| r.heap_pos != VACANT)
    }

    fn remove(&mut self, key: &EhashKey, i: u32) -> Option<Rec<A>> {
        let rec = *self.get(i)?;
        let h = self.rec_hash(key, &rec);
        if let Ok(e) = self.index.find_entry(h, |&j| j == i) {
            e.remove();
        }
        self.heap_remove(rec.heap_pos as usize);
        let r = &mut self.recs[i as usize];
        r.heap_pos = VACANT;
        r.snd_nxt = self.free_head;
        self.free_head = i;
        self.len -= 1;
        if self.len == 0 {
            // Give the memory back once the last record is gone (the local address list
            // too: no record names an entry of it any more).
            *self = Set::new();
        }
        Some(rec)
    }

    fn rearm(&mut self, i: u32, expiry: u32) {
        let Some(r) = self.get_mut(i) else { return };
        let old = r.expiry;
        r.expiry = expiry;
        let pos = r.heap_pos as usize;
        if before(expiry, old) {
            self.sift_up(pos);
        } else {
            self.sift_down(pos);
        }
    }

    fn earliest(&self) -> Option<u32> {
        self.heap.first().copied()
    }

    fn key_of(&self, pos: usize) -> u32 {
        self.recs[self.heap[pos] as usize].expiry
    }

    fn place(&mut self, pos: usize) {
        let i = self.heap[pos];
        self.recs[i as usize].heap_pos = pos as u32;
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !before(self.key_of(pos), self.key_of(parent)) {
                break;
            }
            self.heap.swap(pos, parent);
            self.place(pos);
            self.place(parent);
            pos = parent;
        }
        self.place(pos);
    }

    fn sift_down(&mut self, mut pos: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut least = pos;
            if l < n && before(self.key_of(l), self.key_of(least)) {
                least = l;
            }
            if r < n && before(self.key_of(r), self.key_of(least)) {
                least = r;
            }
            if least == pos {
                break;
            }
            self.heap.swap(pos, least);
            self.place(pos);
            self.place(least);
            pos = least;
        }
        if pos < n {
            self.place(pos);
        }
    }

    fn heap_remove(&mut self, pos: usize) {
        let last = self.heap.len() - 1;
        self.heap.swap(pos, last);
        self.heap.pop();
        if pos < self.heap.len() {
            // The last element moved into the hole: it may belong above or below.
            let moved = self.heap[pos];
            self.sift_up(pos);
            let at = self.recs[moved as usize].heap_pos as usize;
            self.sift_down(at);
        }
    }

    /// The live records as working copies, with their ids and expiry.
    fn live(&self, v6: bool, now: Instant) -> impl Iterator<Item = (TwId, TimeWait, Instant)> + '_ {
        self.recs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.heap_pos != VACANT)
            .map(move |(i, r)| {
                let id = TwId {
                    v6,
                    index: i as u32,
                };
                (id, self.unpack(r, now), from_ms(r.expiry, now))
            })
    }

    fn unpack(&self, r: &Rec<A>, now: Instant) -> TimeWait {
        let now_ms = ms(now);
        let age = now_ms.wrapping_sub(r.ts_stamp);
        let stale = r.bits & TS_STALE_BIT != 0 || age >= TS_STALE;
        TimeWait {
            local: SocketAddr::new(self.locals[r.local as usize].to_ip(), r.lport),
            remote: SocketAddr::new(r.remote.to_ip(), r.rport),
            substate: if r.bits & FIN_WAIT2 != 0 {
                TcpState::FinWait2
            } else {
                TcpState::TimeWait
            },
            snd_nxt: r.snd_nxt,
            rcv_nxt: r.rcv_nxt,
            rcv_wnd: r.rcv_wnd,
            wscale: r.bits >> WSCALE_SHIFT,
            ts: r.bits & TS != 0,
            ts_recent: r.ts_recent,
            ts_recent_age: if stale {
                None
            } else {
                Some(Duration::from_millis(u64::from(age)))
            },
            ts_off: 0,
            last_oow_ack: OowStamp::from_raw(r.oow),
        }
    }

    /// The record's fields from `tw` (its addresses are the record's own).
    fn pack(tw: &TimeWait, now: Instant, remote: A, expiry: u32) -> Rec<A> {
        let mut bits = (tw.wscale.min(14)) << WSCALE_SHIFT;
        if tw.substate == TcpState::FinWait2 {
            bits |= FIN_WAIT2;
        }
        if tw.ts {
            bits |= TS;
        }
        let ts_stamp = match tw.ts_recent_age {
            Some(age) if age.as_millis() < u128::from(TS_STALE) => {
                ms(now).wrapping_sub(age.as_millis() as u32)
            }
            _ => {
                bits |= TS_STALE_BIT;
                ms(now)
            }
        };
        Rec {
            remote,
            snd_nxt: tw.snd_nxt,
            rcv_nxt: tw.rcv_nxt,
            rcv_wnd: tw.rcv_wnd,
            ts_recent: tw.ts_recent,
            ts_stamp,
            expiry,
            heap_pos: 0,
            oow: tw.last_oow_ack.to_raw(),
            lport: tw.local.port(),
            rport: tw.remote.port(),
            local: 0,
            bits,
        }
    }
}

/// All TIME_WAIT and orphaned FIN_WAIT_2 records of a host.
pub(crate) struct TwTable {
    key: EhashKey,
    v4: Set<u32>,
    v6: Set<[u8; 16]>,
}

impl TwTable {
    /// An empty table whose index is keyed by `key` (crafted 4-tuples cannot pile up in
    /// one bucket without knowing it).
    pub(crate) fn new(key: (u64, u64)) -> TwTable {
        TwTable {
            key: EhashKey::new(key),
            v4: Set::new(),
            v6: Set::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.v4.len + self.v6.len
    }

    /// The record of the 4-tuple, if any.
    pub(crate) fn find(&self, local: SocketAddr, remote: SocketAddr) -> Option<TwId> {
        let (lp, rp) = (local.port(), remote.port());
        match (local.ip(), remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => self
                .v4
                .find(&self.key, l.into(), r.into(), lp, rp)
                .map(|index| TwId { v6: false, index }),
            (IpAddr::V6(l), IpAddr::V6(r)) => self
                .v6
                .find(&self.key, l.octets(), r.octets(), lp, rp)
                .map(|index| TwId { v6: true, index }),
            _ => None,
        }
    }

    /// A new record expiring `after` from `now`. `None` when it cannot be stored (more than
    /// 256 local addresses of one family in TIME_WAIT, or mixed families): the caller
    /// treats that as tcp_max_tw_buckets overflow.
    pub(crate) fn insert(&mut self, tw: &TimeWait, now: Instant, after: Duration) -> Option<TwId> {
        let expiry = ms_round(now + after.min(MAX_WAIT));
        let key = self.key;
        match (tw.local.ip(), tw.remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                let rec = Set::pack(tw, now, u32::from(r), expiry);
                self.v4
                    .insert(&key, rec, l.into())
                    .map(|index| TwId { v6: false, index })
            }
            (IpAddr::V6(l), IpAddr::V6(r)) => {
                let rec = Set::pack(tw, now, r.octets(), expiry);
                self.v6
                    .insert(&key, rec, l.octets())
                    .map(|index| TwId { v6: true, index })
            }
            _ => None,
        }
    }

    /// The record as a working copy (its `ts_off` is 0: the caller fills it in).
    pub(crate) fn get(&self, id: TwId, now: Instant) -> Option<TimeWait> {
        if id.v6 {
            self.v6.get(id.index).map(|r| self.v6.unpack(r, now))
        } else {
            self.v4.get(id.index).map(|r| self.v4.unpack(r, now))
        }
    }

    /// Store a working copy's changes back (the 4-tuple must be the record's).
    pub(crate) fn put(&mut self, id: TwId, tw: &TimeWait, now: Instant) {
        fn update<A: Addr>(set: &mut Set<A>, i: u32, tw: &TimeWait, now: Instant) {
            if let Some(r) = set.get_mut(i) {
                let new = Set::pack(tw, now, r.remote, r.expiry);
                *r = Rec {
                    heap_pos: r.heap_pos,
                    local: r.local,
                    ..new
                };
            }
        }
        if id.v6 {
            update(&mut self.v6, id.index, tw, now);
        } else {
            update(&mut self.v4, id.index, tw, now);
        }
    }

    /// Expire `after` from `now` instead.
    pub(crate) fn rearm(&mut self, id: TwId, now: Instant, after: Duration) {
        let at = now + after.min(MAX_WAIT);
        let expiry = ms_round(at);
        if id.v6 {
            self.v6.rearm(id.index, expiry);
        } else {
            self.v4.rearm(id.index, expiry);
        }
    }

    /// Remove the record; its last state.
    pub(crate) fn remove(&mut self, id: TwId, now: Instant) -> Option<TimeWait> {
        let key = self.key;
        if id.v6 {
            let r = self.v6.get(id.index).map(|r| self.v6.unpack(r, now))?;
            self.v6.remove(&key, id.index);
            Some(r)
        } else {
            let r = self.v4.get(id.index).map(|r| self.v4.unpack(r, now))?;
            self.v4.remove(&key, id.index);
            Some(r)
        }
    }

    /// The record expiring first, and when.
    pub(crate) fn next_expiry(&self, now: Instant) -> Option<(TwId, Instant)> {
        let a = self.v4.earliest().map(|index| {
            let e = self.v4.recs[index as usize].expiry;
            (TwId { v6: false, index }, e)
        });
        let b = self.v6.earliest().map(|index| {
            let e = self.v6.recs[index as usize].expiry;
            (TwId { v6: true, index }, e)
        });
        let best = match (a, b) {
            (Some(a), Some(b)) => Some(if before(b.1, a.1) { b } else { a }),
            (a, b) => a.or(b),
        };
        best.map(|(id, e)| (id, from_ms(e, now)))
    }

    /// Every record, with when it expires (for `ss` and `netstat`).
    pub(crate) fn iter(
        &self,
        now: Instant,
    ) -> impl Iterator<Item = (TwId, TimeWait, Instant)> + '_ {
        self.v4.live(false, now).chain(self.v6.live(true, now))
    }

    /// Check the table's own rules (for tests and fuzzing): the index, the heap and the
    /// records agree.
    pub(crate) fn check(&self) -> Result<(), String> {
        fn one<A: Addr>(s: &Set<A>, key: &EhashKey) -> Result<(), String> {
            let live = s.recs.iter().filter(|r| r.heap_pos != VACANT).count();
            if live != s.len || s.heap.len() != s.len || s.index.len() != s.len {
                return Err(format!(
                    "TIME_WAIT table: {} live records, len {}, heap {}, index {}",
                    live,
                    s.len,
                    s.heap.len(),
                    s.index.len()
                ));
            }
            for (pos, &i) in s.heap.iter().enumerate() {
                let r = &s.recs[i as usize];
                if r.heap_pos as usize != pos {
                    return Err(format!(
                        "TIME_WAIT heap: record {i} thinks it is at {}",
                        r.heap_pos
                    ));
                }
                if pos > 0 && before(r.expiry, s.key_of((pos - 1) / 2)) {
                    return Err("TIME_WAIT heap out of order".into());
                }
                let l = s.locals[r.local as usize];
                if s.find(key, l, r.remote, r.lport, r.rport) != Some(i) {
                    return Err(format!("TIME_WAIT record {i} not found by its 4-tuple"));
                }
            }
            Ok(())
        }
        one(&self.v4, &self.key)?;
        one(&self.v6, &self.key)
    }
}

/// An expiry stamp as an instant: the stamp nearest `now` (they are less than 24.8 days
/// away).
fn from_ms(stamp: u32, now: Instant) -> Instant {
    let delta = stamp.wrapping_sub(ms(now)) as i32;
    let now_ms = now.as_millis();
    let at = (now_ms as i64 + i64::from(delta)).max(0) as u64;
    Instant::from_millis(at)
}

/// An instant as a millisecond stamp, rounded up (a record never expires early).
fn ms_round(t: Instant) -> u32 {
    let us = t.as_micros();
    us.div_ceil(1000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn tw(local: SocketAddr, remote: SocketAddr, n: u32) -> TimeWait {
        TimeWait {
            local,
            remote,
            substate: if n.is_multiple_of(3) {
                TcpState::FinWait2
            } else {
                TcpState::TimeWait
            },
            snd_nxt: n,
            rcv_nxt: n.wrapping_mul(7),
            rcv_wnd: 65535 << 3,
            wscale: 3,
            ts: n.is_multiple_of(2),
            ts_recent: n ^ 0x5555,
            ts_recent_age: Some(Duration::from_millis(u64::from(n % 5000))),
            ts_off: 0,
            last_oow_ack: OowStamp::from_raw(n % 4),
        }
    }

    fn addr(i: u32, v6: bool) -> SocketAddr {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::new(
                0xfd00,
                0,
                0,
                0,
                0,
                0,
                (i >> 16) as u16,
                i as u16,
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i & 0xffff)))
        };
        SocketAddr::new(ip, 1024 + (i % 50_000) as u16)
    }

    /// Random inserts, re-arms, removals and expiries against a plain map: the table finds
    /// what the map has, round-trips every field, and expires in deadline order, on time.
    #[test]
    fn behaves_like_a_map_with_deadlines() {
        let mut t = TwTable::new((1, 2));
        let mut model: BTreeMap<(SocketAddr, SocketAddr), (TwId, u32, Instant)> = BTreeMap::new();
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut now = Instant::from_secs(1);
        for step in 0..20_000u32 {
            let r = next();
            let v6 = r & 1 == 1;
            let local = SocketAddr::new(
                if v6 {
                    IpAddr::V6(Ipv6Addr::LOCALHOST)
                } else {
                    IpAddr::V4(Ipv4Addr::new(192, 168, 0, (r >> 8) as u8 % 3))
                },
                80,
            );
            let remote = addr((r >> 16) as u32 % 3000, v6);
            match r >> 60 {
                0..=7 => {
                    if t.find(local, remote).is_none() {
                        let after = Duration::from_millis(1000 + (r >> 20) % 60_000);
                        let id = t.insert(&tw(local, remote, step), now, after).unwrap();
                        model.insert((local, remote), (id, step, now + after));
                    }
                }
                8..=9 => {
                    if let Some(&(id, n, _)) = model.get(&(local, remote)) {
                        let after = Duration::from_millis((r >> 20) % 60_000);
                        t.rearm(id, now, after);
                        model.insert((local, remote), (id, n, now + after));
                    }
                }
                10..=11 => {
                    if let Some((id, n, _)) = model.remove(&(local, remote)) {
                        let got = t.remove(id, now).unwrap();
                        assert_eq!(got.snd_nxt, n);
                    }
                }
                _ => now += Duration::from_micros((r >> 20) % 2_000_000),
            }
            // Expire what is due, in order.
            let mut last = Instant::ZERO;
            while let Some((id, at)) = t.next_expiry(now) {
                if at > now {
                    break;
                }
                assert!(at >= last, "expiries in order");
                last = at;
                let got = t.remove(id, now).unwrap();
                let (_, _, due) = model.remove(&(got.local, got.remote)).unwrap();
                // Stamps are whole milliseconds, rounded up: never early, < 1 ms late.
                assert!(
                    at >= due && at < due + Duration::from_millis(1),
                    "{at:?} {due:?}"
                );
            }
            assert_eq!(t.len(), model.len());
            if step % 997 == 0 {
                t.check().unwrap();
                for (&(l, rm), &(id, n, _)) in &model {
                    assert_eq!(t.find(l, rm), Some(id));
                    let got = t.get(id, now).unwrap();
                    let want = tw(l, rm, n);
                    assert_eq!(
                        (
                            got.local,
                            got.remote,
                            got.substate,
                            got.snd_nxt,
                            got.rcv_nxt
                        ),
                        (
                            want.local,
                            want.remote,
                            want.substate,
                            want.snd_nxt,
                            want.rcv_nxt
                        )
                    );
                    assert_eq!(
                        (
                            got.rcv_wnd,
                            got.wscale,
                            got.ts,
                            got.ts_recent,
                            got.last_oow_ack
                        ),
                        (
                            want.rcv_wnd,
                            want.wscale,
                            want.ts,
                            want.ts_recent,
                            want.last_oow_ack
                        )
                    );
                }
            }
        }
        t.check().unwrap();
    }

    /// A record names its local address in one byte: the 257th distinct local address of
    /// a family cannot be stored (the stack counts that as a TIME_WAIT overflow); once
    /// the table empties, the list starts again.
    #[test]
    fn at_most_256_local_addresses_per_family() {
        let mut t = TwTable::new((5, 6));
        let now = Instant::from_secs(1);
        let remote = addr(7, false);
        let local = |i: u32| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xc0a8_0000 | i)), 80);
        let mut ids = Vec::new();
        for i in 0..256 {
            ids.push(
                t.insert(&tw(local(i), remote, i), now, Duration::from_secs(60))
                    .unwrap(),
            );
        }
        assert!(t
            .insert(&tw(local(256), remote, 0), now, Duration::from_secs(60))
            .is_none());
        // IPv6 has a list of its own.
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 80);
        assert!(t
            .insert(&tw(v6, addr(7, true), 0), now, Duration::from_secs(60))
            .is_some());
        for id in ids {
            t.remove(id, now).unwrap();
        }
        assert!(t
            .insert(&tw(local(256), remote, 0), now, Duration::from_secs(60))
            .is_some());
        t.check().unwrap();
    }

    #[test]
    fn record_is_compact() {
        assert_eq!(std::mem::size_of::<Rec<u32>>(), 44);
        assert_eq!(std::mem::size_of::<Rec<[u8; 16]>>(), 56);
    }

    /// A timestamp's age survives the packing (to the millisecond); one older than 24 days
    /// stays unusable for PAWS.
    #[test]
    fn timestamp_age_round_trips() {
        let mut t = TwTable::new((3, 4));
        let (l, r) = (addr(1, false), addr(2, false));
        let now = Instant::from_secs(100);
        let mut w = tw(l, r, 1);
        w.ts_recent_age = Some(Duration::from_millis(2500));
        let id = t.insert(&w, now, Duration::from_secs(60)).unwrap();
        let later = now + Duration::from_secs(10);
        assert_eq!(
            t.get(id, later).unwrap().ts_recent_age,
            Some(Duration::from_millis(12_500))
        );
        w.ts_recent_age = None;
        t.put(id, &w, later);
        assert_eq!(
            t.get(id, later + Duration::from_secs(1))
                .unwrap()
                .ts_recent_age,
            None
        );
    }
}
