//! Safe on any input: long deterministic random sequences of segments (valid-ish and
//! garbage) and socket calls never panic, never loop, and never grow the tables beyond
//! their bounds; the stack keeps working afterwards.
mod common;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use synack_core::wire::{SackBlock, TcpFlags, TcpOptions, Timestamps};
use synack_core::*;

struct Rng(u64);
impl Rng {
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

#[test]
fn random_segments_and_calls_never_break_the_stack() {
    let mut cfg = Config::seed();
    cfg.max_sockets = 64;
    let mut p = Peer::new(cfg);
    p.st.set_capture(false);
    let (l, _fd, iss) = p.accept_one();
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let mut fds = vec![l];
    let payload = [0xabu8; 3000];
    for step in 0..200_000u32 {
        match r.below(10) {
            0..=6 => {
                // A segment on one of a few 4-tuples, with sequence numbers near the real ones
                // or anywhere.
                p.remote.set_port(40000 + r.below(4) as u16);
                p.local.set_port(if r.below(8) == 0 { 9 } else { 8080 });
                let flags = TcpFlags((r.next() & 0x3f) as u8);
                let near = r.below(2) == 0;
                let seq = if near {
                    1u32.wrapping_add(r.below(200_000) as u32)
                        .wrapping_sub(1000)
                } else {
                    r.next() as u32
                };
                let ack = if near {
                    iss.wrapping_add(r.below(100_000) as u32).wrapping_sub(100)
                } else {
                    r.next() as u32
                };
                let len = [0, 0, 1, 100, 1460, 3000][r.below(6) as usize];
                let mut o = TcpOptions::default();
                if r.below(3) == 0 {
                    o.mss = Some(r.below(70_000) as u16);
                    o.window_scale = Some(r.below(20) as u8);
                    o.sack_permitted = r.below(2) == 0;
                }
                if r.below(2) == 0 {
                    o.timestamps = Some(Timestamps {
                        val: r.next() as u32,
                        ecr: r.next() as u32,
                    });
                }
                if r.below(5) == 0 {
                    o.set_sack(&[SackBlock {
                        left: seq,
                        right: seq.wrapping_add(100),
                    }]);
                }
                p.inject(flags, seq, ack, r.below(65536) as u16, &payload[..len], o);
            }
            7 => {
                // Garbage bytes.
                let n = r.below(80) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| r.next() as u8).collect();
                p.st.handle_packet(p.now, &bytes);
            }
            8 => {
                p.now += Duration::from_micros(r.below(3_000_000));
                p.st.handle_timeout(p.now);
            }
            _ => {
                let now = p.now;
                let fd = fds[r.below(fds.len() as u64) as usize];
                let mut buf = [0u8; 2000];
                match r.below(9) {
                    0 => {
                        if let Ok(f) = p.st.socket(now) {
                            fds.push(f);
                        }
                    }
                    1 => {
                        let _ = p.st.connect(
                            now,
                            fd,
                            SocketAddr::new(REMOTE, 8080 + r.below(3) as u16),
                        );
                    }
                    2 => {
                        if let Ok((f, _)) = p.st.accept(now, fd) {
                            fds.push(f);
                        }
                    }
                    3 => {
                        let _ = p.st.read(now, fd, &mut buf);
                    }
                    4 => {
                        let _ = p.st.write(now, fd, &payload[..r.below(3000) as usize]);
                    }
                    5 => {
                        let _ = p.st.shutdown(
                            now,
                            fd,
                            [Shutdown::Read, Shutdown::Write, Shutdown::Both][r.below(3) as usize],
                        );
                    }
                    6 => {
                        if fd != l && p.st.close(now, fd).is_ok() {
                            fds.retain(|x| *x != fd);
                        }
                    }
                    7 => {
                        let _ = p.st.setsockopt(now, fd, SockOpt::KeepAlive(true));
                        let _ =
                            p.st.setsockopt(now, fd, SockOpt::KeepIdle(1 + r.below(5) as u32));
                        let _ =
                            p.st.setsockopt(now, fd, SockOpt::Linger(Some(r.below(2) as u32)));
                    }
                    _ => {
                        let _ = p.st.listen(now, fd, r.below(5) as i32);
                    }
                }
            }
        }
        // Output is finite for every input: drain with a hard ceiling.
        let mut n = 0;
        let mut buf = Vec::new();
        while p.st.poll_transmit(p.now, &mut buf) {
            n += 1;
            assert!(n < 10_000, "poll_transmit does not stop (step {step})");
        }
        let t = p.st.table_sizes();
        assert!(
            t.connections <= 64 + 64 && t.requests <= 4096 && t.time_wait <= 18000,
            "{t:?}"
        );
        let _ = p.st.poll_timeout();
        if let Err(e) = p.st.check_invariants() {
            panic!("step {step}: {e}");
        }
    }
    let c = p.st.counters();
    assert!(c.get(Counter::InSegs) > 100_000, "{c:?}");
    assert!(c.get(Counter::OutSegs) > 1_000, "{c:?}");
    // Everything still works: time passes, every timer eventually drains.
    p.now += Duration::from_secs(100_000);
    for _ in 0..100 {
        p.st.handle_timeout(p.now);
        while p.st.poll_transmit(p.now, &mut Vec::new()) {}
        p.now += Duration::from_secs(10_000);
    }
}
