//! 第一次握手一直丢包: every SYN is lost; the client backs off and gives up.
use super::*;
use crate::Rule;

pub const SCENARIO: Scenario = Scenario {
    name: "syn-lost",
    section: "三次握手 / 第一次握手一直丢包",
    summary: "Every SYN is lost (25 ms one way, no listener needed). The client retransmits \
              it with the RTO doubling from 1 s (tcp_syn_retries = 5 in the seed profile: sent \
              at 0, 1, 3, 7, 15, 31 s) and connect() fails with ETIMEDOUT at 63 s. The linux \
              profile (6 retries, tcp_syn_linear_timeouts = 4) tells a longer story.",
    run: |w| story(w).unwrap_or_else(Verdict::fail),
};

/// Linux's SYN schedule (`tcp_retransmit_timer` + `tcp_write_timeout`): the RTO starts at
/// 1 s, stays there for the first `linear` retransmissions, then doubles (to 120 s at most);
/// connect() gives up when `retries + linear` retransmissions were sent or the time budget
/// of `retries` doublings from 1 s (`tcp_model_timeout`) has passed. Returns the SYN times
/// and the failure time.
pub fn syn_schedule(retries: u32, linear: u32) -> (Vec<Instant>, Instant) {
    let budget = if retries <= 6 {
        (2u64 << retries) - 1
    } else {
        127 + (retries as u64 - 6) * 120
    };
    let (mut t, mut rto, mut sent) = (0u64, 1u64, 0u32);
    let mut syns = vec![at(0.0)];
    loop {
        t += rto;
        if sent >= retries + linear || t >= budget {
            return (syns, at(t as f64));
        }
        syns.push(at(t as f64));
        sent += 1;
        if sent > linear {
            rto = (rto * 2).min(120);
        }
    }
}

fn story(w: &mut World) -> Step<Verdict> {
    let c = w.client;
    w.sim
        .add_rule(Rule::drop("drop every SYN", Some(c), None, Match::Syn));
    let fd = w.connect()?;
    let (want_syns, want_fail) = syn_schedule(
        w.config.tcp_syn_retries.into(),
        w.config.tcp_syn_linear_timeouts.into(),
    );
    w.run_until(want_fail.as_secs_f64() + 10.0);
    let syns = w.sent(c, Match::Syn);
    let failed = w.transitions(c, Some(TcpState::SynSent), TcpState::Closed);
    let err = w.so_error(c, fd);
    let Some(f) = failed.first() else {
        return Ok(Verdict::fail(format!(
            "connect() never failed; SYNs at {} s",
            times(&syns)
        )));
    };
    // The verdict states what happened; it passes if that is Linux's schedule for the
    // settings in force (the document's 0, 1, 3, 7, 15, 31 s → 63 s for its defaults).
    let timing_ok = syns == want_syns && *f == want_fail;
    Ok(Verdict::new(
        err == Some(Errno::ETIMEDOUT) && timing_ok,
        format!(
            "connect() failed with {} at {} s after {} SYNs (sent at {} s)",
            err.map(|e| e.name()).unwrap_or("no error"),
            secs(*f),
            syns.len(),
            times(&syns)
        ),
    ))
}
