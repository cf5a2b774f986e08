//! DESIGN.md: no allocation per segment in steady state. A counting allocator watches a
//! bulk transfer between two stacks once buffers have reached their working size.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use synack_core::*;

// dhat counts every allocation of this test binary (its only test, so nothing else runs).
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocs() -> u64 {
    dhat::HeapStats::get().total_blocks
}

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

/// Move packets both ways until neither side has anything to send; count segments.
fn shuttle(a: &mut Stack, b: &mut Stack, now: Instant, buf: &mut Vec<u8>) -> u64 {
    let mut n = 0;
    loop {
        let mut moved = false;
        while a.poll_transmit(now, buf) {
            b.handle_packet(now, buf);
            moved = true;
            n += 1;
        }
        while b.poll_transmit(now, buf) {
            a.handle_packet(now, buf);
            moved = true;
            n += 1;
        }
        if !moved {
            return n;
        }
    }
}

fn steady_state_bulk_transfer_does_not_allocate_per_segment() {
    let mut a = Stack::new(Config::seed(), &[A]);
    let mut b = Stack::new(
        Config {
            seed: 9,
            ..Config::seed()
        },
        &[B],
    );
    let mut now = Instant::ZERO;
    let mut buf = Vec::with_capacity(2048);
    let l = b.socket(now).unwrap();
    b.bind(now, l, SocketAddr::new(B, 80)).unwrap();
    b.listen(now, l, 8).unwrap();
    let c = a.socket(now).unwrap();
    let _ = a.connect(now, c, SocketAddr::new(B, 80));
    shuttle(&mut a, &mut b, now, &mut buf);
    let (s, _) = b.accept(now, l).unwrap();
    let chunk = vec![7u8; 16 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let mut round = |a: &mut Stack, b: &mut Stack, now: &mut Instant, buf: &mut Vec<u8>| -> u64 {
        let mut segs = 0;
        for _ in 0..64 {
            let _ = a.write(*now, c, &chunk);
            segs += shuttle(a, b, *now, buf);
            while b.read(*now, s, &mut sink).is_ok_and(|n| n > 0) {}
            segs += shuttle(a, b, *now, buf);
            *now += Duration::from_millis(1);
            a.handle_timeout(*now);
            b.handle_timeout(*now);
            segs += shuttle(a, b, *now, buf);
        }
        segs
    };
    // Warm up: buffers, queues and tables reach their working size.
    for _ in 0..4 {
        round(&mut a, &mut b, &mut now, &mut buf);
    }
    let before = allocs();
    let segs = round(&mut a, &mut b, &mut now, &mut buf);
    let allocs = allocs() - before;
    assert!(segs > 500, "{segs} segments");
    assert!(
        allocs * 100 < segs,
        "{allocs} allocations for {segs} segments"
    );
}

fn idle_connections_give_their_buffers_back() {
    let mut a = Stack::new(Config::seed(), &[A]);
    let mut b = Stack::new(
        Config {
            seed: 9,
            ..Config::seed()
        },
        &[B],
    );
    let mut now = Instant::ZERO;
    let mut buf = Vec::new();
    let l = b.socket(now).unwrap();
    b.bind(now, l, SocketAddr::new(B, 80)).unwrap();
    b.listen(now, l, 8).unwrap();
    let c = a.socket(now).unwrap();
    let _ = a.connect(now, c, SocketAddr::new(B, 80));
    shuttle(&mut a, &mut b, now, &mut buf);
    let (s, _) = b.accept(now, l).unwrap();
    a.write(now, c, &[1u8; 100_000]).unwrap();
    for _ in 0..50 {
        shuttle(&mut a, &mut b, now, &mut buf);
        let mut sink = [0u8; 65536];
        while b.read(now, s, &mut sink).is_ok_and(|n| n > 0) {}
        now += Duration::from_millis(10);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    // A second of quiet: the trim timer fires and frees both sides' buffers. Count the
    // deallocations by watching allocations of a fresh burst: the ring is allocated again.
    now += Duration::from_secs(2);
    a.handle_timeout(now);
    b.handle_timeout(now);
    let before = allocs();
    a.write(now, c, &[1u8; 10]).unwrap();
    shuttle(&mut a, &mut b, now, &mut buf);
    assert!(
        allocs() > before,
        "the buffers were given back and are taken again"
    );
}

#[test]
fn allocation_discipline() {
    let _profiler = dhat::Profiler::builder().testing().build();
    steady_state_bulk_transfer_does_not_allocate_per_segment();
    idle_connections_give_their_buffers_back();
}
