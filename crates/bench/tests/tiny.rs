//! The whole harness at a tiny size: every benchmark runs to completion and its own
//! checks hold (every connection completed, every byte arrived intact). No timing.
#[global_allocator]
static ALLOC: &synack_bench::Counting = &synack_bench::COUNTING;

#[test]
fn the_quick_harness_runs_at_a_tiny_size() {
    let s = synack_bench::Sizes::tiny();
    let r = synack_bench::run(s, |_| {}).expect("every benchmark completes");
    assert_eq!(r.life[0].count, s.lifecycles);
    assert_eq!(r.life[1].count, s.smol_lifecycles);
    assert!(r.life[2].count > 0);
    for b in r.bulk_1500.iter().chain(&r.bulk_64k) {
        assert_eq!(b.bytes, s.bulk_bytes);
    }
    // Fewer segments at the larger MTU.
    assert!(r.bulk_64k[0].segments < r.bulk_1500[0].segments);
    let est = r
        .memory
        .established
        .expect("the counting allocator is installed");
    let tw = r
        .memory
        .time_wait
        .expect("the counting allocator is installed");
    assert!(
        est > tw && tw > 0.0,
        "{est} B per connection, {tw} B per TIME_WAIT"
    );
    assert_eq!(r.flood.real_ok, r.flood.real_attempts);
    assert!(r.flood.synacks >= s.flood_syns);
    // One wheel slot per 1 ms tick at most, whatever the number of connections.
    assert!(r.timers.slots_per_tick <= 1.1);
    let table = r.table();
    assert!(table.contains("lifecycles/s"));
    assert_eq!(r.json()["rows"].as_array().unwrap().len(), r.rows().len());
}
