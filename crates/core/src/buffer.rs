//! Send and receive buffers. Memory is taken when data flows, not per idle socket
//! (DESIGN.md principle 3): an idle connection's buffers are empty `Vec`s.
use std::collections::VecDeque;
use thin_vec::ThinVec;

/// Bytes the application wrote and the peer has not acknowledged yet, from SND.UNA on.
#[derive(Debug, Default)]
pub(crate) struct SendBuf {
    data: VecDeque<u8>,
    /// The most bytes the application may have queued (SO_SNDBUF, in payload bytes).
    limit: u32,
}

impl SendBuf {
    pub(crate) fn new(limit: usize) -> Self {
        let mut s = SendBuf::default();
        s.set_limit(limit);
        s
    }
    pub(crate) fn limit(&self) -> usize {
        self.limit as usize
    }
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = u32::try_from(limit).unwrap_or(u32::MAX);
    }
    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }
    pub(crate) fn free(&self) -> usize {
        self.limit().saturating_sub(self.data.len())
    }
    /// Queue as much of `bytes` as fits; returns how much.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.free());
        self.data.extend(&bytes[..n]);
        n
    }
    /// The peer acknowledged `n` bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.data.len());
        self.data.drain(..n);
    }
    /// Holds memory while empty (to be released once the flow has paused).
    pub(crate) fn idle_memory(&self) -> bool {
        self.data.is_empty() && self.data.capacity() > 0
    }
    /// Give the memory back if nothing is queued.
    pub(crate) fn release_if_empty(&mut self) {
        if self.data.is_empty() {
            self.data = VecDeque::new();
        }
    }
    /// Copy `len` bytes starting `off` bytes after SND.UNA into `out` (appending).
    pub(crate) fn copy_range(&self, off: usize, len: usize, out: &mut Vec<u8>) {
        let (a, b) = self.data.as_slices();
        let end = (off + len).min(self.data.len());
        let mut i = off.min(end);
        if i < a.len() {
            let e = end.min(a.len());
            out.extend_from_slice(&a[i..e]);
            i = e;
        }
        if i < end {
            out.extend_from_slice(&b[i - a.len()..end - a.len()]);
        }
    }
    pub(crate) fn clear(&mut self) {
        self.data = VecDeque::new();
    }
}

/// Out-of-order ranges kept, at least; a segment that would need more is dropped (and
/// counted), so a peer cannot make the range list grow without bound. Linux bounds its
/// out-of-order queue by memory, each segment costing at least about a kilobyte of
/// `truesize`: here one range per KiB of the buffer, so a large buffer keeps every range
/// a lossy path leaves (a slow-start overshoot can leave hundreds).
const MIN_OOO_RANGES: usize = 32;
const OOO_RANGE_BYTES: usize = 1024;

/// A receive ring's first size: it doubles as data arrives, up to the capacity.
const FIRST_RING: usize = 4096;

/// Received bytes: the in-order part the application can read, and out-of-order data
/// placed where it belongs in the same ring (smoltcp's assembler idea), so reassembly
/// allocates nothing per segment.
#[derive(Debug, Default)]
pub(crate) struct RecvBuf {
    /// The ring, its whole length in use (zeroed by the allocator: `calloc`).
    ring: Box<[u8]>,
    /// The most bytes to hold; the read position; in-order bytes not yet read — in
    /// `u32`, as every connection carries them.
    cap: u32,
    head: u32,
    len: u32,
    /// Out-of-order ranges `[start, end)` as offsets from the end of the in-order part
    /// (i.e. from RCV.NXT), sorted, disjoint, never touching 0.
    ooo: ThinVec<(usize, usize)>,
}

impl RecvBuf {
    pub(crate) fn new(cap: usize) -> Self {
        RecvBuf {
            cap: to_u32(cap),
            ..Default::default()
        }
    }
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
    pub(crate) fn capacity(&self) -> usize {
        self.cap as usize
    }
    fn cap(&self) -> usize {
        self.cap as usize
    }
    fn head(&self) -> usize {
        self.head as usize
    }
    /// Room after RCV.NXT: what the receive window may offer.
    pub(crate) fn space(&self) -> usize {
        self.cap().saturating_sub(self.len())
    }
    pub(crate) fn has_ooo(&self) -> bool {
        !self.ooo.is_empty()
    }
    /// Out-of-order ranges as offsets from RCV.NXT (for SACK blocks).
    pub(crate) fn ooo_ranges(&self) -> &[(usize, usize)] {
        &self.ooo
    }

    /// The ring's own rules: in-order bytes within the capacity, out-of-order ranges
    /// sorted, disjoint, not touching RCV.NXT, inside the capacity.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.len() > self.cap().max(self.ring.len()) {
            return Err(format!(
                "receive queue holds {} > capacity {}",
                self.len(),
                self.cap()
            ));
        }
        let mut prev_end = 0;
        for &(s, e) in &self.ooo {
            if s >= e || s <= prev_end || self.len() + e > self.ring.len().max(self.cap()) {
                return Err(format!(
                    "out-of-order ranges {:?} (in order {})",
                    self.ooo,
                    self.len()
                ));
            }
            prev_end = e;
        }
        Ok(())
    }

    pub(crate) fn set_capacity(&mut self, cap: usize) {
        if cap == self.cap() {
            return;
        }
        if self.ring.is_empty() || cap > self.cap() {
            // Growing (auto-tuning, a larger SO_RCVBUF) moves nothing: the ring grows as
            // data arrives, out-of-order ranges and all.
            self.cap = to_u32(cap);
            return;
        }
        // Re-lay the ring out: keep in-order bytes, drop out-of-order ones (the peer resends).
        let cap = cap.max(self.len());
        let mut ring = zeroed(cap);
        let mut tmp = Vec::with_capacity(self.len());
        self.copy_out(self.len(), &mut tmp);
        ring[..tmp.len()].copy_from_slice(&tmp);
        self.ring = ring;
        self.cap = to_u32(cap);
        self.head = 0;
        self.ooo.clear();
    }

    fn copy_out(&self, n: usize, out: &mut Vec<u8>) {
        let first = n.min(self.ring.len() - self.head());
        out.extend_from_slice(&self.ring[self.head()..self.head() + first]);
        out.extend_from_slice(&self.ring[..n - first]);
    }

    /// Store `data` at `off` bytes after RCV.NXT. Returns how many bytes became in-order
    /// (RCV.NXT advances by that much), or `None` if nothing could be stored.
    ///
    /// An in-order segment is taken whole while the queue is within its limit, even if
    /// it overshoots it, as Linux's `tcp_data_queue()` does (the memory check is made
    /// before the segment is added); the window then reads 0. The overshoot is at most
    /// one segment, so memory stays bounded.
    pub(crate) fn insert(&mut self, off: usize, data: &[u8]) -> Option<usize> {
        let space = self.space();
        let whole = off == 0 && self.len() <= self.cap() && self.ooo.is_empty();
        if (off >= space && !whole) || data.is_empty() {
            return None;
        }
        let n = if whole {
            data.len()
        } else {
            data.len().min(space - off)
        };
        if off > 0 && !self.can_add_range(off, off + n) {
            return None;
        }
        // The ring grows as data arrives, up to the capacity: a 1-byte exchange does not
        // take (and zero) a whole SO_RCVBUF of memory.
        let need = self.len() + off + n;
        if self.ring.is_empty() {
            self.ring = zeroed(need.max(self.cap().min(FIRST_RING)));
        } else if need > self.ring.len() {
            self.grow(need);
        }
        let size = self.ring.len();
        let start = (self.head() + self.len() + off) % size;
        let first = n.min(size - start);
        self.ring[start..start + first].copy_from_slice(&data[..first]);
        self.ring[..n - first].copy_from_slice(&data[first..n]);
        if off > 0 {
            self.add_range(off, off + n);
            return Some(0);
        }
        // In order: advance, absorbing the out-of-order ranges that now touch (the first
        // ones: the list is sorted), and the rest move down by as much. In place.
        let mut adv = n;
        let mut absorbed = 0;
        while let Some(&(s, e)) = self.ooo.get(absorbed) {
            if s > adv {
                break;
            }
            adv = adv.max(e);
            absorbed += 1;
        }
        self.ooo.drain(..absorbed);
        for r in &mut self.ooo {
            *r = (r.0 - adv, r.1 - adv);
        }
        self.len += to_u32(adv);
        Some(adv)
    }

    /// Whether `[s, e)` (offsets from RCV.NXT) is already held out of order.
    pub(crate) fn holds(&self, s: usize, e: usize) -> bool {
        let i = self.ooo.partition_point(|&(_, b)| b <= s);
        self.ooo.get(i).is_some_and(|&(a, b)| a <= s && e <= b)
    }

    /// How many out-of-order ranges this buffer may hold.
    fn max_ranges(&self) -> usize {
        (self.cap() / OOO_RANGE_BYTES).max(MIN_OOO_RANGES)
    }

    fn can_add_range(&self, s: usize, e: usize) -> bool {
        if self.ooo.len() < self.max_ranges() {
            return true;
        }
        // Full: only a segment touching an existing range (no new one) may still come in.
        let i = self.ooo.partition_point(|&(_, b)| b < s);
        self.ooo.get(i).is_some_and(|&(a, _)| a <= e)
    }

    /// Add `[s, e)`, merged with the ranges it overlaps or touches (binary search, in
    /// place: no allocation per segment, O(log n) to find its place).
    fn add_range(&mut self, s: usize, e: usize) {
        let i = self.ooo.partition_point(|&(_, b)| b < s);
        let j = self.ooo.partition_point(|&(a, _)| a <= e);
        if i == j {
            self.ooo.insert(i, (s, e));
            return;
        }
        let merged = (s.min(self.ooo[i].0), e.max(self.ooo[j - 1].1));
        self.ooo[i] = merged;
        self.ooo.drain(i + 1..j);
    }

    /// A larger ring of at least `need` bytes (doubling, up to the capacity, or `need`
    /// when an in-order segment overshoots it): the bytes from the read position to the
    /// end of the last out-of-order range move to its front, offsets unchanged.
    fn grow(&mut self, need: usize) {
        let size = need.max(self.ring.len() * 2).min(self.cap().max(need));
        let extent = self.len() + self.ooo.last().map_or(0, |&(_, e)| e);
        let mut ring = Vec::with_capacity(size);
        self.copy_out(extent, &mut ring);
        ring.resize(size, 0);
        self.ring = ring.into_boxed_slice();
        self.head = 0;
    }

    /// Read up to `buf.len()` in-order bytes.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.len());
        if n == 0 {
            return 0;
        }
        let size = self.ring.len();
        let first = n.min(size - self.head());
        buf[..first].copy_from_slice(&self.ring[self.head()..self.head() + first]);
        buf[first..n].copy_from_slice(&self.ring[..n - first]);
        self.head = to_u32((self.head() + n) % size.max(1));
        self.len -= to_u32(n);
        if self.len() == 0 && self.ooo.is_empty() {
            self.head = 0;
        }
        n
    }

    /// Holds a ring while empty (to be released once the flow has paused).
    pub(crate) fn idle_memory(&self) -> bool {
        self.len() == 0 && self.ooo.is_empty() && !self.ring.is_empty()
    }

    /// Give the ring back if it holds nothing.
    pub(crate) fn release_if_empty(&mut self) {
        if self.len() == 0 && self.ooo.is_empty() {
            self.ring = Box::default();
            self.head = 0;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.ring = Box::default();
        self.head = 0;
        self.len = 0;
        self.ooo.clear();
    }
}

/// A ring of `n` zero bytes.
fn zeroed(n: usize) -> Box<[u8]> {
    vec![0u8; n].into_boxed_slice()
}

/// Sizes are kept in `u32` (a buffer is at most 4 GiB: Linux's are `int`).
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembles_out_of_order() {
        let mut r = RecvBuf::new(16);
        assert_eq!(r.insert(4, b"efgh"), Some(0));
        assert_eq!(r.insert(10, b"kl"), Some(0));
        assert_eq!(r.ooo_ranges(), &[(4, 8), (10, 12)]);
        assert_eq!(r.insert(0, b"abcd"), Some(8));
        assert_eq!(r.ooo_ranges(), &[(2, 4)]);
        let mut out = [0u8; 8];
        assert_eq!(r.read(&mut out), 8);
        assert_eq!(&out, b"abcdefgh");
        assert_eq!(r.insert(0, b"ij"), Some(4));
        let mut out = [0u8; 8];
        assert_eq!(r.read(&mut out), 4);
        assert_eq!(&out[..4], b"ijkl");
    }

    #[test]
    fn wraps_and_respects_capacity() {
        let mut r = RecvBuf::new(8);
        assert_eq!(r.insert(0, b"abcdef"), Some(6));
        let mut out = [0u8; 4];
        r.read(&mut out);
        assert_eq!(r.space(), 6);
        // Within its limit, the queue takes an in-order segment whole (Linux).
        assert_eq!(r.insert(0, b"ghijklmnop"), Some(10));
        assert_eq!(r.space(), 0);
        assert_eq!(r.insert(0, b"q"), None, "over the limit: nothing more");
        let mut out = [0u8; 12];
        assert_eq!(r.read(&mut out), 12);
        assert_eq!(&out, b"efghijklmnop");
        assert_eq!(r.insert(8, b"x"), None);
        // Out-of-order data is bounded by the limit.
        assert_eq!(r.insert(2, b"abcdefghij"), Some(0));
        assert_eq!(r.ooo_ranges(), &[(2, 8)]);
    }

    #[test]
    fn the_ring_grows_with_the_data_keeping_out_of_order_bytes() {
        let mut r = RecvBuf::new(1 << 20);
        assert_eq!(r.insert(0, b"ab"), Some(2));
        assert_eq!(r.ring.len(), FIRST_RING);
        let mut out = [0u8; 1];
        assert_eq!(r.read(&mut out), 1);
        // Out of order, beyond the first ring: it grows, the read position moves to 0.
        let far: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        assert_eq!(r.insert(6_000, &far), Some(0));
        assert!(r.ring.len() >= 1 + 6_000 + 10_000 && r.ring.len() <= 1 << 20);
        let gap: Vec<u8> = (0..6_000u32).map(|i| (i * 7) as u8).collect();
        assert_eq!(r.insert(0, &gap), Some(16_000));
        let mut all = vec![0u8; 20_000];
        assert_eq!(r.read(&mut all), 16_001);
        assert_eq!(all[0], b'b');
        assert_eq!(&all[1..6_001], &gap[..]);
        assert_eq!(&all[6_001..16_001], &far[..]);
        r.check().unwrap();
    }

    /// Auto-tuning raises the capacity under data held out of order: none of it may go
    /// (the peer was told of it in SACK blocks and will not send it again).
    #[test]
    fn a_larger_capacity_keeps_what_is_held() {
        let mut r = RecvBuf::new(16);
        assert_eq!(r.insert(0, b"abcd"), Some(4));
        assert_eq!(r.insert(4, b"ijkl"), Some(0));
        r.set_capacity(64);
        assert_eq!(r.capacity(), 64);
        assert_eq!(r.ooo_ranges(), &[(4, 8)]);
        assert_eq!(r.insert(20, &[b'x'; 30]), Some(0), "the new room is usable");
        assert_eq!(r.insert(0, b"efgh"), Some(8));
        assert_eq!(r.ooo_ranges(), &[(12, 42)]);
        let mut out = [0u8; 12];
        assert_eq!(r.read(&mut out), 12);
        assert_eq!(&out, b"abcdefghijkl");
        r.check().unwrap();
    }

    #[test]
    fn send_buffer_ranges_across_wrap() {
        let mut s = SendBuf::new(8);
        assert_eq!(s.push(b"abcdefghij"), 8);
        s.consume(5);
        s.push(b"xyz");
        let mut out = Vec::new();
        s.copy_range(1, 4, &mut out);
        assert_eq!(out, b"ghxy");
    }
}
