//! Timers: one entry per connection, request or TIME_WAIT record.
//!
//! A hierarchical timer wheel in the manner of Linux's `kernel/time/timer.c` and tokio's
//! `runtime/time/wheel`: a host may hold millions of keepalive and TIME_WAIT timers, almost
//! all of which are cancelled or re-armed before they fire, so arming and cancelling must be
//! O(1) and an idle clock must cost nothing.
//!
//! Semantics the stack relies on:
//! - `pop_expired(now)` yields entries whose deadline is `<= now`, ordered by
//!   (deadline, insertion order) so that runs are deterministic, exact to the microsecond;
//! - `next_deadline()` is never later than the earliest deadline held (it may be earlier:
//!   a wheel may ask to be woken to cascade); calling `pop_expired` then is harmless;
//! - a cancelled or popped id is stale: `cancel` on it returns `None`, even after its slot
//!   is reused (generation counter);
//! - time never goes backwards: a `now` earlier than a previous one is treated as the
//!   previous one; a deadline already in the past is due at once.
//!
//! # Layout
//!
//! - **Slab.** Entries live in a `Vec` with a free list threaded through it; a [`TimerId`]
//!   is (slab index, generation). The generation is bumped whenever an id goes stale
//!   (cancel, pop), so an old id never names the slot's next occupant. A slot whose
//!   generation reaches `u32::MAX` is retired rather than reused, so ids are never
//!   confused even after 2^32 reuses of one slot.
//! - **Wheel.** Time is cut into 1 ms ticks. Level `l` (0..6) has 64 slots of `64^l` ticks
//!   each, so level 0 spans 64 ms, level 3 about 4.7 h, level 5 about 2.2 years; anything
//!   further sits in an overflow list. An entry is filed at the level of the highest 6-bit
//!   digit in which its tick differs from the wheel's current tick (`elapsed`), as tokio
//!   does: it then shares all higher digits with `elapsed`. Each slot is an intrusive
//!   doubly-linked list through slab indices (`u32`), so insert and cancel touch only the
//!   entry and its neighbours. Each level keeps a `u64` occupancy bitmap, so finding the
//!   next non-empty slot is a mask and a `trailing_zeros`, whatever the gap: nothing is done
//!   per idle tick.
//! - **Cascade.** When the wheel reaches the start of a non-empty slot on level `l > 0`, its
//!   entries are filed again relative to the new `elapsed` and land on lower levels. An entry
//!   therefore moves at most once per level on its way down.
//! - **Ready heap.** A level-0 slot holds one tick (1 ms) of entries; to give microsecond
//!   exact, insertion-ordered output, a due slot is moved into a small binary heap ordered
//!   by (deadline, sequence number). Entries whose tick is `<= elapsed` (including
//!   deadlines in the past) go straight there. Invariant: every entry on the wheel has a
//!   tick `> elapsed`, every entry in the heap a tick `<= elapsed`, so the heap's top is
//!   the earliest entry held. Cancelling an entry in the heap leaves a tombstone, swept as
//!   soon as it reaches the top, so the top is always live.
//!
//! # Memory
//!
//! Each armed timer costs one slab entry: 32 bytes of bookkeeping (deadline, sequence
//! number, two list links, generation, location) plus `Option<T>`, rounded up to the
//! alignment: 40 bytes for a `u32` payload, 48 for a `u64` ([`Timers::ENTRY_BYTES`]). While
//! in the ready heap (only entries due in the current millisecond or already due) an entry
//! also takes 24 bytes there. The fixed part (list heads, bitmaps) is about 2.5 KiB. The
//! slab and heap grow like `Vec`s and are never shrunk; no allocation is made per timer.
//!
//! Limits: at most `u32::MAX - 1` timers can be held at once (insert panics beyond that,
//! at which point the slab alone would take ~200 GB). A [`TimerId`] is only meaningful to
//! the `Timers` that issued it.
use crate::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Microseconds per level-0 tick. 1 ms is Linux's `HZ=1000` jiffy; finer precision is kept
/// by the ready heap, so this only trades cascade work against slot occupancy.
const TICK_US: u64 = 1000;
/// log2 of the number of slots per level.
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// Number of wheel levels: 64^6 ticks of 1 ms is about 2.2 years.
const LEVELS: usize = 6;
/// Ticks covered by the whole wheel; entries differing from `elapsed` above this go to the
/// overflow list.
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// "No entry" in the intrusive lists.
const NIL: u32 = u32::MAX;

/// Handle to an armed timer: slab index and generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    gen: u32,
}

/// Work done by the wheel since it was created: tests and benchmarks measure cost with
/// these rather than with wall-clock time, which is noisy on shared machines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WheelStats {
    /// Slot lists (wheel slots or the overflow list) drained.
    pub slots_visited: u64,
    /// Entries taken out of a level >= 1 slot or the overflow list and filed again.
    pub entries_cascaded: u64,
    /// Entries returned by `pop_expired`.
    pub entries_popped: u64,
    /// Timers armed (`insert`).
    pub inserts: u64,
    /// Timers disarmed (`cancel` of a live id).
    pub cancels: u64,
}

/// Where a slab entry currently is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    /// On the free list, or retired.
    Free,
    /// In the ready heap, live.
    Ready,
    /// In the ready heap, cancelled: a tombstone waiting to reach the top.
    Cancelled,
    /// In the overflow list.
    Overflow,
    /// In a wheel slot.
    Slot { level: u8, slot: u8 },
}

#[derive(Debug)]
struct Entry<T> {
    /// Deadline in microseconds.
    deadline: u64,
    /// Insertion sequence number: the tie-break among equal deadlines.
    seq: u64,
    /// List links (slot or overflow list); `next` also threads the free list.
    prev: u32,
    next: u32,
    /// Generation of the id currently (or next) handed out for this slot.
    gen: u32,
    loc: Loc,
    value: Option<T>,
}

/// A set of deadlines carrying a `T` each. See the module documentation.
#[derive(Debug)]
pub struct Timers<T> {
    slab: Vec<Entry<T>>,
    free_head: u32,
    /// Live entries.
    len: usize,
    /// Next insertion sequence number.
    seq: u64,
    /// Latest `now` seen by `pop_expired`, in microseconds.
    now: u64,
    /// The wheel's current tick: slots before it have been drained.
    elapsed: u64,
    heads: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    /// Per level-0 slot, a lower bound of its entries' deadlines (exact unless the earliest
    /// was cancelled), so `next_deadline` is exact when the earliest entry is on level 0.
    slot_min: [u64; SLOTS],
    overflow_head: u32,
    /// Lower bound of the overflow list's ticks (`u64::MAX` when empty).
    overflow_min: u64,
    /// Entries due by `elapsed`: min-heap on (deadline, seq, index).
    ready: BinaryHeap<Reverse<(u64, u64, u32)>>,
    stats: WheelStats,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Timers<T> {
    /// Bytes of slab per armed timer (see the module documentation).
    pub const ENTRY_BYTES: usize = std::mem::size_of::<Entry<T>>();

    /// An empty wheel at time zero; allocates nothing until the first insert.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// A wheel whose slab holds `capacity` timers before growing.
    pub fn with_capacity(capacity: usize) -> Self {
        Timers {
            slab: Vec::with_capacity(capacity),
            free_head: NIL,
            len: 0,
            seq: 0,
            now: 0,
            elapsed: 0,
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            slot_min: [u64::MAX; SLOTS],
            overflow_head: NIL,
            overflow_min: u64::MAX,
            ready: BinaryHeap::new(),
            stats: WheelStats::default(),
        }
    }

    /// Arms a timer. O(1): a slab slot and a list push (or a heap push if already due).
    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerId {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let deadline = deadline.as_micros();
        let index = if self.free_head != NIL {
            let index = self.free_head;
            let e = &mut self.slab[index as usize];
            self.free_head = e.next;
            e.deadline = deadline;
            e.seq = seq;
            e.value = Some(value);
            index
        } else {
            let index = u32::try_from(self.slab.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("timer wheel full: u32::MAX - 1 timers armed");
            self.slab.push(Entry {
                deadline,
                seq,
                prev: NIL,
                next: NIL,
                gen: 0,
                loc: Loc::Free,
                value: Some(value),
            });
            index
        };
        self.len += 1;
        self.stats.inserts += 1;
        self.place(index);
        TimerId {
            index,
            gen: self.slab[index as usize].gen,
        }
    }

    /// Disarms a timer, returning its value; `None` if the id is stale. O(1): never visits
    /// a slot.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let loc = self.live(id)?.loc;
        self.stats.cancels += 1;
        let index = id.index;
        let e = &mut self.slab[index as usize];
        let value = e.value.take();
        e.gen += 1; // `id` is stale from now on
        match loc {
            Loc::Ready => {
                // Removing from the middle of a heap is O(r); leave a tombstone instead.
                e.loc = Loc::Cancelled;
                self.sweep_ready();
            }
            _ => {
                self.unlink(index);
                self.release(index);
            }
        }
        self.len -= 1;
        value
    }

    /// The deadline of an armed timer; `None` if the id is stale.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.live(id).map(|e| Instant::from_micros(e.deadline))
    }

    /// When `pop_expired` should next be called: never later than the earliest deadline
    /// held. Exact when the earliest entry is due within the current millisecond or sits
    /// on level 0 (unless that slot's earliest entry was cancelled); otherwise the start of
    /// the slot to cascade, which is earlier.
    pub fn next_deadline(&self) -> Option<Instant> {
        if let Some(&Reverse((deadline, _, _))) = self.ready.peek() {
            // The heap top is live and earlier than anything on the wheel.
            return Some(Instant::from_micros(deadline));
        }
        let mut best = self
            .overflow_start()
            .map(|start| start.saturating_mul(TICK_US));
        for level in 0..LEVELS {
            if let Some((start, slot)) = self.level_next(level) {
                let mut bound = start.saturating_mul(TICK_US);
                if level == 0 {
                    bound = bound.max(self.slot_min[slot]);
                }
                best = Some(best.map_or(bound, |b: u64| b.min(bound)));
            }
        }
        best.map(Instant::from_micros)
    }

    /// Removes and returns the earliest entry with deadline `<= now`, if any. Ordered by
    /// (deadline, insertion order). Work: O(levels) bitmap checks per call, plus draining
    /// the slots the wheel passes, each entry being cascaded at most once per level.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(Instant, T)> {
        let now = now.as_micros().max(self.now);
        self.now = now;
        let now_tick = now / TICK_US;
        loop {
            if let Some(&Reverse((deadline, _, index))) = self.ready.peek() {
                if deadline > now {
                    return None;
                }
                self.ready.pop();
                let value = self.slab[index as usize].value.take();
                self.slab[index as usize].gen += 1;
                self.release(index);
                self.sweep_ready();
                self.len -= 1;
                self.stats.entries_popped += 1;
                match value {
                    Some(v) => return Some((Instant::from_micros(deadline), v)),
                    None => continue, // unreachable: live entries hold a value
                }
            }
            match self.next_drain() {
                Some((start, _)) if start <= now_tick => self.advance(start),
                _ => {
                    // Nothing on the wheel is due by `now_tick`: skip the idle ticks.
                    self.elapsed = self.elapsed.max(now_tick);
                    return None;
                }
            }
        }
    }

    /// Number of armed timers (cancelled and popped ones excluded).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Work counters since creation.
    pub fn stats(&self) -> WheelStats {
        self.stats
    }

    /// The live entry named by `id`, if any.
    fn live(&self, id: TimerId) -> Option<&Entry<T>> {
        let e = self.slab.get(id.index as usize)?;
        let armed = matches!(e.loc, Loc::Ready | Loc::Overflow | Loc::Slot { .. });
        (armed && e.gen == id.gen).then_some(e)
    }

    /// Returns a slot to the free list. Its generation has already been bumped; a slot at
    /// the last generation is retired so that no id can ever match it again.
    fn release(&mut self, index: u32) {
        let e = &mut self.slab[index as usize];
        e.loc = Loc::Free;
        e.prev = NIL;
        if e.gen != u32::MAX {
            e.next = self.free_head;
            self.free_head = index;
        } else {
            e.next = NIL;
        }
    }

    /// Pops tombstones off the top of the ready heap so that its top is always live.
    fn sweep_ready(&mut self) {
        while let Some(&Reverse((_, _, index))) = self.ready.peek() {
            if self.slab[index as usize].loc != Loc::Cancelled {
                break;
            }
            self.ready.pop();
            self.release(index);
        }
    }

    /// Files an entry relative to `elapsed`: in the ready heap if its tick has been
    /// reached, else on the level of the highest digit in which it differs from `elapsed`,
    /// else in the overflow list.
    fn place(&mut self, index: u32) {
        let e = &self.slab[index as usize];
        let (deadline, seq) = (e.deadline, e.seq);
        let tick = deadline / TICK_US;
        if tick <= self.elapsed {
            self.slab[index as usize].loc = Loc::Ready;
            self.ready.push(Reverse((deadline, seq, index)));
            return;
        }
        let significant = 63 - (tick ^ self.elapsed).leading_zeros();
        let level = (significant / SLOT_BITS) as usize;
        if level >= LEVELS {
            self.overflow_min = self.overflow_min.min(tick);
            let head = self.overflow_head;
            self.overflow_head = index;
            self.push_front(index, head, Loc::Overflow);
            return;
        }
        let slot = ((tick >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize;
        let head = self.heads[level][slot];
        self.heads[level][slot] = index;
        self.occupied[level] |= 1 << slot;
        if level == 0 {
            self.slot_min[slot] = self.slot_min[slot].min(deadline);
        }
        let loc = Loc::Slot {
            level: level as u8,
            slot: slot as u8,
        };
        self.push_front(index, head, loc);
    }

    /// Links `index` in front of `head` (the list's head has already been set to `index`).
    fn push_front(&mut self, index: u32, head: u32, loc: Loc) {
        if head != NIL {
            self.slab[head as usize].prev = index;
        }
        let e = &mut self.slab[index as usize];
        e.prev = NIL;
        e.next = head;
        e.loc = loc;
    }

    /// Unlinks an entry from its slot or overflow list, clearing the slot's occupancy bit
    /// if it empties.
    fn unlink(&mut self, index: u32) {
        let e = &self.slab[index as usize];
        let (prev, next, loc) = (e.prev, e.next, e.loc);
        if next != NIL {
            self.slab[next as usize].prev = prev;
        }
        if prev != NIL {
            self.slab[prev as usize].next = next;
            return;
        }
        match loc {
            Loc::Slot { level, slot } => {
                let (level, slot) = (level as usize, slot as usize);
                self.heads[level][slot] = next;
                if next == NIL {
                    self.occupied[level] &= !(1 << slot);
                    if level == 0 {
                        self.slot_min[slot] = u64::MAX;
                    }
                }
            }
            Loc::Overflow => {
                self.overflow_head = next;
                if next == NIL {
                    self.overflow_min = u64::MAX;
                }
            }
            Loc::Free | Loc::Ready | Loc::Cancelled => {}
        }
    }

    /// The next non-empty slot of `level` at or after `elapsed`, as (start tick, slot).
    /// Entries on a level share all higher digits with `elapsed` and lie after it, so the
    /// bits below `elapsed`'s slot are empty; should one be set anyway, it is reported as
    /// due now so that draining it repairs the wheel rather than stranding its entries.
    fn level_next(&self, level: usize) -> Option<(u64, usize)> {
        let occupied = self.occupied[level];
        if occupied == 0 {
            return None;
        }
        let shift = SLOT_BITS * level as u32;
        let now_slot = (self.elapsed >> shift) & SLOT_MASK;
        let ahead = occupied & (u64::MAX << now_slot);
        if ahead == 0 {
            return Some((self.elapsed, occupied.trailing_zeros() as usize));
        }
        let slot = ahead.trailing_zeros() as u64;
        let level_start = self.elapsed & !((1u64 << (shift + SLOT_BITS)) - 1);
        Some((level_start + (slot << shift), slot as usize))
    }

    /// When the overflow list must be looked at: the start of the wheel-span block holding
    /// its earliest entry.
    fn overflow_start(&self) -> Option<u64> {
        (self.overflow_head != NIL)
            .then(|| (self.overflow_min & !((1u64 << WHEEL_BITS) - 1)).max(self.elapsed))
    }

    /// The earliest list that must be drained, as (start tick, location); lower levels win
    /// ties.
    fn next_drain(&self) -> Option<(u64, Loc)> {
        let mut best = self.overflow_start().map(|start| (start, Loc::Overflow));
        for level in (0..LEVELS).rev() {
            if let Some((start, slot)) = self.level_next(level) {
                if best.map(|(b, _)| start <= b).unwrap_or(true) {
                    let loc = Loc::Slot {
                        level: level as u8,
                        slot: slot as u8,
                    };
                    best = Some((start, loc));
                }
            }
        }
        best
    }

    /// Moves the wheel to `tick` (if later) and drains every list whose start has been
    /// reached, restoring the invariant that wheel entries lie after `elapsed`.
    fn advance(&mut self, tick: u64) {
        self.elapsed = self.elapsed.max(tick);
        while let Some((start, loc)) = self.next_drain() {
            if start > self.elapsed {
                break;
            }
            self.drain(loc);
        }
    }

    /// Empties one list and files its entries again relative to `elapsed`.
    fn drain(&mut self, loc: Loc) {
        let mut cur = match loc {
            Loc::Slot { level, slot } => {
                let (level, slot) = (level as usize, slot as usize);
                self.occupied[level] &= !(1 << slot);
                if level == 0 {
                    self.slot_min[slot] = u64::MAX;
                }
                std::mem::replace(&mut self.heads[level][slot], NIL)
            }
            Loc::Overflow => {
                self.overflow_min = u64::MAX;
                std::mem::replace(&mut self.overflow_head, NIL)
            }
            Loc::Free | Loc::Ready | Loc::Cancelled => NIL,
        };
        let cascading = !matches!(loc, Loc::Slot { level: 0, .. });
        self.stats.slots_visited += 1;
        while cur != NIL {
            let next = self.slab[cur as usize].next;
            self.place(cur);
            if cascading {
                self.stats.entries_cascaded += 1;
            }
            cur = next;
        }
    }

    /// Checks the structure's invariants; for tests.
    #[cfg(test)]
    fn check(&self) {
        let mut live = 0;
        for level in 0..LEVELS {
            for slot in 0..SLOTS {
                let head = self.heads[level][slot];
                assert_eq!(head != NIL, self.occupied[level] & (1 << slot) != 0);
                let mut prev = NIL;
                let mut cur = head;
                while cur != NIL {
                    let e = &self.slab[cur as usize];
                    assert_eq!(e.prev, prev);
                    assert_eq!(
                        e.loc,
                        Loc::Slot {
                            level: level as u8,
                            slot: slot as u8
                        }
                    );
                    assert!(e.deadline / TICK_US > self.elapsed);
                    if level == 0 {
                        assert!(self.slot_min[slot] <= e.deadline);
                    }
                    live += 1;
                    prev = cur;
                    cur = e.next;
                }
            }
        }
        let mut cur = self.overflow_head;
        while cur != NIL {
            let e = &self.slab[cur as usize];
            assert_eq!(e.loc, Loc::Overflow);
            assert!(self.overflow_min <= e.deadline / TICK_US);
            live += 1;
            cur = e.next;
        }
        for &Reverse((deadline, _, index)) in self.ready.iter() {
            let e = &self.slab[index as usize];
            assert_eq!(e.deadline, deadline);
            assert!(deadline / TICK_US <= self.elapsed);
            if e.loc == Loc::Ready {
                live += 1;
            } else {
                assert_eq!(e.loc, Loc::Cancelled);
            }
        }
        if let Some(&Reverse((_, _, index))) = self.ready.peek() {
            assert_eq!(self.slab[index as usize].loc, Loc::Ready);
        }
        assert_eq!(live, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    /// Random operations with the invariants checked after each one.
    #[test]
    fn timers_invariants_hold() {
        let mut t = Timers::new();
        let mut ids = Vec::new();
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut now = 0u64;
        for i in 0..20_000u64 {
            match xorshift(&mut s) % 8 {
                0..=3 => {
                    let r = xorshift(&mut s);
                    let d = match r % 5 {
                        0 => now.saturating_sub(r % 5000),
                        1 => now + r % 100_000,
                        2 => now + r % 100_000_000,
                        3 => now + r % (1 << 50),
                        _ => u64::MAX - r % 3,
                    };
                    ids.push(t.insert(Instant::from_micros(d), i));
                }
                4 | 5 if !ids.is_empty() => {
                    let k = (xorshift(&mut s) % ids.len() as u64) as usize;
                    t.cancel(ids[k]);
                }
                _ => {
                    now += xorshift(&mut s) % 20_000;
                    while t.pop_expired(Instant::from_micros(now)).is_some() {}
                }
            }
            t.check();
            let earliest = t
                .slab
                .iter()
                .filter(|e| matches!(e.loc, Loc::Ready | Loc::Overflow | Loc::Slot { .. }))
                .map(|e| e.deadline)
                .min();
            match (t.next_deadline(), earliest) {
                (Some(n), Some(e)) => assert!(n.as_micros() <= e),
                (n, e) => assert_eq!(n.is_none(), e.is_none()),
            }
        }
        while t.pop_expired(Instant::MAX).is_some() {
            t.check();
        }
        assert!(t.is_empty());
        t.check();
    }

    #[test]
    fn timers_retired_generation_is_not_reused() {
        let mut t = Timers::new();
        let id = t.insert(Instant::from_secs(1), ());
        t.slab[id.index as usize].gen = u32::MAX - 1;
        let id = TimerId {
            index: id.index,
            gen: u32::MAX - 1,
        };
        assert_eq!(t.cancel(id), Some(()));
        let id2 = t.insert(Instant::from_secs(1), ());
        assert_ne!(id2.index, id.index);
        assert_eq!(t.cancel(id), None);
        t.check();
    }
}
