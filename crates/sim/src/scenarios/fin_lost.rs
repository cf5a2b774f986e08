//! 第一次挥手一直丢包 / 第三次挥手一直丢包: a FIN that never arrives is retransmitted
//! with the RTO doubling; an orphan gives up after tcp_orphan_retries (0 means 8).
use super::*;
use crate::Rule;
use synack_core::Counter;

/// When the client closes.
const CLOSE_AT: f64 = 1.0;
/// How long the stories run.
const END: f64 = 300.0;

pub const FIN_LOST: Scenario = Scenario {
    name: "fin-lost",
    section: "四次挥手 / 第一次挥手一直丢包",
    summary: "Every FIN from the client is lost (25 ms one way). The client close()s at 1 s: \
              an orphan in FIN_WAIT_1, it retransmits the FIN with the RTO doubling; with \
              tcp_orphan_retries = 0 (which means 8) it gives up after 8 retransmissions — when \
              the time 8 doublings from 200 ms would take (102.2 s) has passed — and the \
              connection is gone without a RST. The server never heard of it: still ESTABLISHED.",
    run: |w| story(w, true).unwrap_or_else(Verdict::fail),
};

pub const PEER_FIN_LOST: Scenario = Scenario {
    name: "peer-fin-lost",
    section: "四次挥手 / 第三次挥手或者第四次挥手一直丢包",
    summary: "Every FIN from the server is lost (25 ms one way). The client close()s at 1 s; \
              the server ACKs, reads EOF and close()s: an orphan in LAST_ACK, it retransmits its \
              FIN with the RTO doubling and gives up after tcp_orphan_retries (0 means 8) \
              retransmissions. The client's orphaned FIN_WAIT_2 ended long before, after \
              tcp_fin_timeout (60 s).",
    run: |w| story(w, false).unwrap_or_else(Verdict::fail),
};

/// Linux's schedule for a segment first sent at `t0` and retransmitted while unanswered:
/// the RTO doubles from `rto` (to 120 s at most) and the sender gives up at the first timeout
/// at which `retries` doublings from RTO_MIN (`tcp_model_timeout`) have passed since `t0`.
/// Returns the retransmission times and the time it gives up.
pub fn orphan_schedule(t0: Instant, rto: Duration, retries: u32) -> (Vec<Instant>, Instant) {
    orphan_schedule_from(t0, t0, rto, retries)
}

/// As [`orphan_schedule`], with the RTO series starting at `start` (after a tail loss
/// probe at `start`, the RTO runs from the probe) while the give-up time still counts
/// from `t0`, the first transmission.
pub fn orphan_schedule_from(
    t0: Instant,
    start: Instant,
    rto: Duration,
    retries: u32,
) -> (Vec<Instant>, Instant) {
    let rto_min = Duration::from_millis(200);
    let rto_max = Duration::from_secs(120);
    let thresh = (rto_max.as_micros() / rto_min.as_micros()).ilog2();
    let budget = if retries <= thresh {
        rto_min * ((2u32 << retries) - 1)
    } else {
        rto_min * ((2u32 << thresh) - 1) + rto_max * (retries - thresh)
    };
    let (mut t, mut r, mut out) = (start, rto, Vec::new());
    loop {
        t += r;
        if t.saturating_duration_since(t0) >= budget {
            return (out, t);
        }
        out.push(t);
        r = (r * 2).min(rto_max);
    }
}

fn story(w: &mut World, client_fin: bool) -> Step<Verdict> {
    let (c, s) = (w.client, w.server);
    let srv = w.server_addr();
    let (from, to, who) = if client_fin {
        (c, s, "client")
    } else {
        (s, c, "server")
    };
    w.sim.add_rule(Rule::drop(
        &format!("drop every FIN from the {who}"),
        Some(from),
        Some(to),
        Match::Fin,
    ));
    let (fd, _, conn) = w.establish()?;
    let local = w.local_of(c, fd);
    w.run_until(CLOSE_AT);
    expect("close()", w.sim.call(c, |st, now| st.close(now, fd)))?;
    if !client_fin {
        w.sim.run_until_cond(at(CLOSE_AT + 5.0), |sim| {
            sim.stack(s).poll(conn).is_ok_and(|r| r.read_hup)
        });
        expect(
            "server close()",
            w.sim.call(s, |st, now| st.close(now, conn)),
        )?;
    }
    w.run_until(END);
    let (h, l, r, state) = if client_fin {
        (c, local, srv, TcpState::FinWait1)
    } else {
        (s, srv, local, TcpState::LastAck)
    };
    let fins = w.sent_on(h, Match::Fin, l, r);
    let died = w.transitions_on(h, l, r, Some(state), TcpState::Closed);
    let rsts = w.sent_on(h, Match::Rst, l, r);
    let retries = w.config.orphan_retries();
    let (Some(f0), Some(f1), Some(d)) = (fins.first(), fins.get(1), died.first()) else {
        return Ok(Verdict::fail(format!(
            "the {who}'s FIN was sent at {} s and the orphan closed at {} s",
            times(&fins),
            first(&died)
        )));
    };
    // Linux 6.x (tcp_early_retrans 3) first sends a tail loss probe, no later than the
    // RTO would fire; the RTO series then runs from the probe.
    let probes = w.sim.stack(h).counters().get(Counter::TcpLossProbes) as usize;
    let rto0 = f1.saturating_duration_since(*f0);
    let (mut want, want_end) = if probes == 1 {
        orphan_schedule_from(*f0, *f1, rto0, retries)
    } else {
        orphan_schedule(*f0, rto0, retries)
    };
    if probes == 1 {
        want.insert(0, *f1);
    }
    let aborts = w.sim.stack(h).counters().get(Counter::TcpAbortOnTimeout);
    let mut pass = fins[1..] == want[..]
        && *d == want_end
        && probes <= 1
        && fins.len() - 1 == retries as usize + probes
        && rsts.is_empty()
        && aborts == 1;
    let other = if client_fin {
        let st = w.sim.stack(s).state(conn).unwrap_or(TcpState::Closed);
        pass &= st == TcpState::Established;
        format!("the server is still {st} at {END} s")
    } else {
        let fw2 = w.transitions_on(c, local, srv, Some(TcpState::FinWait1), TcpState::FinWait2);
        let gone = w.transitions_on(c, local, srv, Some(TcpState::FinWait2), TcpState::Closed);
        let lived = match (fw2.first(), gone.first()) {
            (Some(a), Some(b)) => Some(b.saturating_duration_since(*a)),
            _ => None,
        };
        pass &= lived == Some(w.config.tcp_fin_timeout);
        format!(
            "the client's FIN_WAIT_2 lasted from {} to {} s",
            first(&fw2),
            first(&gone)
        )
    };
    Ok(Verdict::new(
        pass,
        format!(
            "the {who}'s FIN sent at {} s, retransmitted {} times (at {} s: {}the RTO doubling \
             from {} s); the orphan in {state} gave up at {} s ({} s after the first FIN, \
             tcp_orphan_retries {} = {retries}), {}; {other}",
            secs(*f0),
            fins.len() - 1,
            times(&fins[1..]),
            if probes == 1 {
                "first a tail loss probe, then "
            } else {
                ""
            },
            secs(Instant::from_micros(f1.as_micros() - f0.as_micros())),
            secs(*d),
            secs(Instant::from_micros(d.as_micros() - f0.as_micros())),
            w.config.tcp_orphan_retries,
            if rsts.is_empty() {
                "no RST"
            } else {
                "with a RST"
            },
        ),
    ))
}
