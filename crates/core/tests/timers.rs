//! Timer wheel: exact semantics against a BTreeMap model, edge cases, and cost measured in
//! work counters (not wall-clock time).
use std::collections::BTreeMap;
use synack_core::time::Instant;
use synack_core::timers::{TimerId, Timers, WheelStats};

const MS: u64 = 1000;
const SEC: u64 = 1_000_000;
const HOUR: u64 = 3600 * SEC;
const DAY: u64 = 24 * HOUR;
const YEAR: u64 = 365 * DAY;
/// Wheel levels (64 slots each); the cost bounds below are stated in terms of it.
const LEVELS: u64 = 6;
/// The latest representable instant (`Instant::MAX`).
const TOP: u64 = Instant::MAX.as_micros();

fn us(t: u64) -> Instant {
    Instant::from_micros(t)
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Pops everything due at `now`.
fn drain(t: &mut Timers<u64>, now: u64) -> Vec<(u64, u64)> {
    std::iter::from_fn(|| t.pop_expired(us(now)))
        .map(|(d, v)| (d.as_micros(), v))
        .collect()
}

/// The reference: a BTreeMap keyed by (deadline, insertion number), like the placeholder.
#[derive(Default)]
struct Model {
    map: BTreeMap<(u64, u64), u64>,
    now: u64,
}

impl Model {
    fn pop(&mut self, now: u64) -> Option<(u64, u64)> {
        self.now = self.now.max(now);
        let (&key, _) = self.map.iter().next()?;
        if key.0 > self.now {
            return None;
        }
        self.map.remove(&key).map(|v| (key.0, v))
    }
}

#[test]
fn matches_btreemap_model_over_100k_random_ops() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut t = Timers::new();
    let mut m = Model::default();
    // Every id ever issued, with its model key; cancelled/popped ones stay to test staleness.
    let mut ids: Vec<(TimerId, (u64, u64))> = Vec::new();
    let mut now = 0u64;
    let mut last_deadline = 0u64;
    let (mut pops, mut live_cancels, mut stale_cancels) = (0, 0, 0);
    for seq in 0..100_000u64 {
        match rng.below(100) {
            0..=44 => {
                let r = rng.next();
                let deadline = match rng.below(12) {
                    0 => now.saturating_sub(r % (10 * SEC)), // in the past
                    1 => now + r % MS,                       // inside the current tick
                    2 | 3 => now + r % (100 * MS),
                    4 | 5 => now + r % (10 * SEC),
                    6 => now + r % (3 * HOUR),
                    7 => now + r % (3 * DAY),
                    8 => now + r % (5 * YEAR), // beyond the wheel's span
                    9 => TOP - r % 2,
                    _ => last_deadline, // equal deadlines: insertion order must hold
                };
                last_deadline = deadline;
                let id = t.insert(us(deadline), seq);
                m.map.insert((deadline, seq), seq);
                ids.push((id, (deadline, seq)));
            }
            45..=64 if !ids.is_empty() => {
                // Favour recent ids, which are more often still live.
                let back = rng.below(32) as usize;
                let k = if rng.below(4) != 0 {
                    ids.len() - 1 - back.min(ids.len() - 1)
                } else {
                    rng.below(ids.len() as u64) as usize
                };
                let (id, key) = ids[k];
                let expect = m.map.remove(&key);
                if expect.is_some() {
                    live_cancels += 1;
                } else {
                    stale_cancels += 1;
                }
                assert_eq!(t.deadline(id), expect.map(|_| us(key.0)), "op {seq}");
                assert_eq!(t.cancel(id), expect, "op {seq}: cancel {key:?}");
                assert_eq!(t.deadline(id), None);
                assert_eq!(t.cancel(id), None);
            }
            _ => {
                now = match rng.below(200) {
                    0..=9 => now.saturating_sub(rng.below(SEC)), // backwards: ignored
                    10..=13 => now + rng.below(2 * DAY),
                    14 => now + rng.below(YEAR),
                    15..=49 => now,
                    _ => now + rng.below(50 * MS),
                };
                // Pop one, or everything due.
                let rounds = if rng.below(2) == 0 { 1 } else { usize::MAX };
                for _ in 0..rounds {
                    let got = t.pop_expired(us(now)).map(|(d, v)| (d.as_micros(), v));
                    assert_eq!(got, m.pop(now), "op {seq}: pop at {now}");
                    if got.is_none() {
                        break;
                    }
                    pops += 1;
                }
                now = now.max(m.now);
            }
        }
        assert_eq!(t.len(), m.map.len(), "op {seq}");
        assert_eq!(t.is_empty(), m.map.is_empty());
        let earliest = m.map.keys().next().map(|k| k.0);
        let next = t.next_deadline().map(Instant::as_micros);
        assert_eq!(next.is_some(), earliest.is_some(), "op {seq}");
        if let (Some(n), Some(e)) = (next, earliest) {
            assert!(n <= e, "op {seq}: next_deadline {n} after earliest {e}");
        }
    }
    // The sequence must have exercised every path.
    assert!(
        pops > 10_000 && live_cancels > 5_000 && stale_cancels > 1_000,
        "{pops} {live_cancels} {stale_cancels}"
    );
    for _ in 0..=ids.len() {
        let got = t.pop_expired(Instant::MAX).map(|(d, v)| (d.as_micros(), v));
        assert_eq!(got, m.pop(TOP));
        if got.is_none() {
            break;
        }
    }
    assert!(t.is_empty() && m.map.is_empty());
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn far_future_deadlines_fire_exactly() {
    let mut t = Timers::new();
    let deadlines = [
        3 * HOUR + 17,
        2 * DAY + 1,
        13 * DAY + 999,
        3 * YEAR + 5, // beyond the wheel: overflow list
        100 * YEAR,
        u64::MAX / 3 + 7,
        TOP - 1,
        TOP,
    ];
    for (i, &d) in deadlines.iter().enumerate().rev() {
        t.insert(us(d), i as u64);
    }
    for (i, &d) in deadlines.iter().enumerate() {
        assert_eq!(t.pop_expired(us(d - 1)), None, "{d}");
        assert!(t.next_deadline().unwrap().as_micros() <= d);
        assert_eq!(t.pop_expired(us(d)), Some((us(d), i as u64)));
    }
    assert!(t.is_empty());
    assert_eq!(t.pop_expired(Instant::MAX), None);
}

#[test]
fn next_deadline_is_exact_on_level_zero_and_converges_from_above() {
    let mut t = Timers::new();
    t.insert(us(1234), 1);
    assert_eq!(t.next_deadline(), Some(us(1234)), "level 0: exact");
    assert_eq!(t.pop_expired(us(1233)), None);
    assert_eq!(t.next_deadline(), Some(us(1234)));
    assert_eq!(t.pop_expired(us(1234)), Some((us(1234), 1)));

    // A driver that only ever sleeps until next_deadline() reaches each deadline exactly,
    // after a cascade wakeup per level at most.
    for d in [
        10 * SEC + 3,
        7200 * SEC + 123_457,
        2 * DAY + 11,
        4 * YEAR + 1,
        TOP,
    ] {
        let mut t = Timers::new();
        t.insert(us(d), 7);
        let mut wakeups = 0;
        loop {
            let next = t.next_deadline().unwrap();
            assert!(next.as_micros() <= d);
            wakeups += 1;
            if let Some(popped) = t.pop_expired(next) {
                assert_eq!(popped, (us(d), 7));
                break;
            }
            assert!(wakeups <= LEVELS + 2, "{d}: too many wakeups");
        }
        assert!(t.is_empty());
    }
}

#[test]
fn deadlines_in_the_past_are_due_at_once_in_order() {
    let mut t = Timers::new();
    assert_eq!(t.pop_expired(us(10 * SEC)), None);
    t.insert(us(9_999_999), 3);
    t.insert(us(0), 1);
    t.insert(us(10 * SEC), 4);
    t.insert(us(5 * SEC), 2);
    t.insert(us(10 * SEC + 1), 5);
    assert_eq!(t.next_deadline(), Some(us(0)));
    assert_eq!(
        drain(&mut t, 10 * SEC),
        [(0, 1), (5 * SEC, 2), (9_999_999, 3), (10 * SEC, 4)]
    );
    assert_eq!(t.next_deadline(), Some(us(10 * SEC + 1)));
    assert_eq!(t.len(), 1);
}

#[test]
fn equal_deadlines_keep_insertion_order_across_levels() {
    let d = 5 * HOUR + 250;
    let mut t = Timers::new();
    t.insert(us(d), 0); // filed high, cascaded down later
    let mut v = 1;
    // Insert more at the same deadline as the wheel approaches it, so the entries reach the
    // ready heap through different paths (several cascades, direct level-0, direct ready).
    for now in [
        HOUR,
        4 * HOUR,
        d - 10 * SEC,
        d - 100 * MS,
        d - MS,
        d - 100,
        d,
    ] {
        assert_eq!(t.pop_expired(us(now - 1)), None);
        for _ in 0..3 {
            t.insert(us(d), v);
            v += 1;
        }
    }
    let got = drain(&mut t, d);
    assert_eq!(got, (0..v).map(|v| (d, v)).collect::<Vec<_>>());
}

#[test]
fn microsecond_precision_inside_one_tick() {
    let mut t = Timers::new();
    let mut rng = XorShift(7);
    // 1000 deadlines inside one 1 ms tick, 3 per microsecond, inserted in random order.
    let mut ds: Vec<u64> = (0..3000).map(|i| 42 * MS + i / 3).collect();
    for i in (1..ds.len()).rev() {
        ds.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for (v, &d) in ds.iter().enumerate() {
        t.insert(us(d), v as u64);
    }
    for now in 42 * MS..43 * MS {
        assert_eq!(t.next_deadline(), Some(us(now)));
        let got = drain(&mut t, now);
        assert_eq!(got.len(), 3, "at {now}");
        assert!(got.iter().all(|&(d, _)| d == now));
        assert!(got.windows(2).all(|w| w[0].1 < w[1].1), "insertion order");
    }
    assert!(t.is_empty());
}

#[test]
fn time_never_goes_backwards() {
    let mut t = Timers::new();
    t.insert(us(5 * SEC), 1);
    assert_eq!(drain(&mut t, 10 * SEC), [(5 * SEC, 1)]);
    t.insert(us(7 * SEC), 2);
    t.insert(us(11 * SEC), 3);
    // An earlier `now` counts as the latest one seen (10 s).
    assert_eq!(drain(&mut t, SEC), [(7 * SEC, 2)]);
    assert_eq!(drain(&mut t, 0), []);
    assert_eq!(drain(&mut t, 11 * SEC), [(11 * SEC, 3)]);
}

#[test]
fn stale_ids_are_recognised() {
    let mut t = Timers::new();
    let a = t.insert(us(SEC), 1);
    let b = t.insert(us(2 * SEC), 2);
    assert_eq!(t.deadline(a), Some(us(SEC)));
    assert_eq!(t.cancel(a), Some(1));
    assert_eq!(t.cancel(a), None);
    let c = t.insert(us(SEC), 3); // reuses a's slot
    assert_ne!(a, c);
    assert_eq!(t.cancel(a), None);
    assert_eq!(t.deadline(a), None);
    assert_eq!(drain(&mut t, 2 * SEC), [(SEC, 3), (2 * SEC, 2)]);
    for id in [a, b, c] {
        assert_eq!(t.cancel(id), None);
        assert_eq!(t.deadline(id), None);
    }
    // Cancelling an entry already moved to the ready heap.
    let d = t.insert(us(3 * SEC + 5), 4);
    let e = t.insert(us(3 * SEC + 9), 5);
    assert_eq!(t.pop_expired(us(3 * SEC + 1)), None); // both now in the ready heap
    assert_eq!(t.next_deadline(), Some(us(3 * SEC + 5)));
    assert_eq!(t.cancel(d), Some(4));
    assert_eq!(t.next_deadline(), Some(us(3 * SEC + 9)));
    assert_eq!(t.cancel(d), None);
    assert_eq!(drain(&mut t, 4 * SEC), [(3 * SEC + 9, 5)]);
    assert_eq!(t.cancel(e), None);
    assert!(t.is_empty());
}

#[test]
fn memory_per_timer_is_small() {
    assert_eq!(std::mem::size_of::<TimerId>(), 8);
    // Deadline, sequence number, two u32 links, generation, location: 32 bytes, then the
    // payload as `Option<T>`.
    assert_eq!(Timers::<()>::ENTRY_BYTES, 32);
    assert_eq!(Timers::<u32>::ENTRY_BYTES, 40);
    assert_eq!(Timers::<u64>::ENTRY_BYTES, 48);
    assert_eq!(Timers::<std::num::NonZeroU64>::ENTRY_BYTES, 40);
}

fn delta(a: WheelStats, b: WheelStats) -> WheelStats {
    WheelStats {
        slots_visited: b.slots_visited - a.slots_visited,
        entries_cascaded: b.entries_cascaded - a.entries_cascaded,
        entries_popped: b.entries_popped - a.entries_popped,
        inserts: b.inserts - a.inserts,
        cancels: b.cancels - a.cancels,
    }
}

/// 1,000,000 keepalive-like timers spread over 2 hours plus 100,000 TIME_WAIT-like timers
/// at 60 s: arm/cancel are O(1), idle ticks cost nothing, firing costs O(entries x levels).
#[test]
fn scale_work_is_per_entry_not_per_tick() {
    const KEEPALIVE: u64 = 1_000_000;
    const TIME_WAIT: u64 = 100_000;
    const N: u64 = KEEPALIVE + TIME_WAIT;
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    let start = 1000 * SEC + 456; // not aligned to anything
    let mut t = Timers::with_capacity(N as usize);
    assert_eq!(t.pop_expired(us(start)), None);
    let keepalive: Vec<u64> = (0..KEEPALIVE)
        .map(|_| start + 10 * 60 * SEC + rng.below(2 * HOUR))
        .collect();
    let arm = |t: &mut Timers<u64>| -> Vec<TimerId> {
        let mut ids: Vec<TimerId> = (0..KEEPALIVE)
            .map(|i| t.insert(us(keepalive[i as usize]), i))
            .collect();
        ids.extend((KEEPALIVE..N).map(|i| t.insert(us(start + 60 * SEC), i)));
        ids
    };

    // Arm and cancel everything: no slot is ever visited.
    let s0 = t.stats();
    let ids = arm(&mut t);
    assert_eq!(t.len(), N as usize);
    for id in &ids {
        assert!(t.cancel(*id).is_some());
    }
    assert!(t.is_empty());
    assert_eq!(
        delta(s0, t.stats()),
        WheelStats {
            inserts: N,
            cancels: N,
            ..WheelStats::default()
        }
    );
    assert_eq!(t.next_deadline(), None);

    // Re-arm (slots reused), then advance 1 ms at a time through 50 s where nothing is
    // due: every step visits O(1) slots (only cascades of higher-level slots whose time
    // has come), almost all visit none.
    let ids2 = arm(&mut t);
    assert!(ids2.iter().zip(&ids).all(|(a, b)| a != b));
    let s1 = t.stats();
    let mut busy_steps = 0;
    for step in 1..=50_000 {
        let before = t.stats().slots_visited;
        assert_eq!(t.pop_expired(us(start + step * MS)), None);
        let visited = t.stats().slots_visited - before;
        assert!(visited <= LEVELS + 1, "step {step}: {visited} slots");
        busy_steps += u64::from(visited > 0);
    }
    let idle = delta(s1, t.stats());
    assert!(busy_steps <= 10, "{busy_steps} steps did work: {idle:?}");
    assert!(idle.slots_visited <= 20, "{idle:?}");
    assert_eq!(idle.entries_popped, 0);

    // Fire everything, 1 s at a time for 2 h 11 min: order is exact, and the work is
    // bounded by entries x levels, not by the 7.8 million ticks that elapse.
    let mut last = (0, 0);
    let mut fired = 0u64;
    let mut now = start + 50 * SEC;
    while !t.is_empty() {
        now += SEC;
        while let Some((d, v)) = t.pop_expired(us(now)) {
            let d = d.as_micros();
            assert!(d <= now);
            assert!((d, v) > last, "order: {last:?} then {:?}", (d, v));
            let want = if v < KEEPALIVE {
                keepalive[v as usize]
            } else {
                start + 60 * SEC
            };
            assert_eq!(d, want);
            last = (d, v);
            fired += 1;
        }
        assert!(now < start + 3 * HOUR);
    }
    assert_eq!(fired, N);
    let fire = delta(s1, t.stats());
    assert_eq!(fire.entries_popped, N);
    assert!(fire.entries_cascaded <= N * (LEVELS - 1), "{fire:?}");
    assert!(fire.slots_visited <= 2 * N, "{fire:?}");
}

/// Few timers over a long span: the work is per entry, independent of the ~2e8 ticks.
#[test]
fn sparse_timers_cost_nothing_per_elapsed_tick() {
    let mut rng = XorShift(99);
    let mut t = Timers::new();
    let n = 1000;
    for v in 0..n {
        t.insert(us(rng.below(2 * DAY)), v);
    }
    let mut popped = 0;
    let mut now = 0;
    while let Some(next) = t.next_deadline() {
        now = next.as_micros().max(now);
        popped += drain(&mut t, now).len() as u64;
    }
    assert_eq!(popped, n);
    let s = t.stats();
    assert_eq!(s.entries_popped, n);
    assert!(s.entries_cascaded <= n * (LEVELS - 1), "{s:?}");
    assert!(s.slots_visited <= n * LEVELS, "{s:?}");
}
