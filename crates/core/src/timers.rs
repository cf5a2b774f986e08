//! Timers: one entry per connection, request or TIME_WAIT record.
//!
//! PLACEHOLDER implementation (a BTreeMap, O(log n)); to be replaced by a hierarchical
//! timer wheel with the same API and semantics: O(1) insert/cancel, nothing per idle tick.
//!
//! Semantics the stack relies on:
//! - `pop_expired(now)` yields entries whose deadline is `<= now`, ordered by
//!   (deadline, insertion order) so that runs are deterministic;
//! - `next_deadline()` is never later than the earliest deadline held (it may be earlier:
//!   a wheel may ask to be woken to cascade); calling `pop_expired` then is harmless;
//! - a cancelled or popped id is stale: `cancel` on it returns `None`, even after its slot
//!   is reused (generation counter).
use crate::time::Instant;
use std::collections::BTreeMap;

/// Handle to an armed timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    key: (Instant, u64),
}

/// A set of deadlines carrying a `T` each.
#[derive(Debug)]
pub struct Timers<T> {
    map: BTreeMap<(Instant, u64), T>,
    seq: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Timers<T> {
    pub fn new() -> Self {
        Timers {
            map: BTreeMap::new(),
            seq: 0,
        }
    }

    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerId {
        self.seq += 1;
        let key = (deadline, self.seq);
        self.map.insert(key, value);
        TimerId { key }
    }

    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.map.remove(&id.key)
    }

    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.map.contains_key(&id.key).then_some(id.key.0)
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.map.keys().next().map(|k| k.0)
    }

    pub fn pop_expired(&mut self, now: Instant) -> Option<(Instant, T)> {
        let (&key, _) = self.map.iter().next()?;
        if key.0 > now {
            return None;
        }
        self.map.remove(&key).map(|v| (key.0, v))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
