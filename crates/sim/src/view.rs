//! What a person reads: a timeline, or JSON lines, from the event stream.
//!
//! Sequence and acknowledgment numbers are shown **relative** to each side's ISN (learned
//! from the first SYN seen in each direction of a 4-tuple), as Wireshark and packetdrill
//! show them: `S 0:0(0)`, `S. 0:0(0) ack 1`, `. 1:1(0) ack 1`. Before a direction's SYN has
//! been seen, its numbers are shown absolute. JSON objects say so with `"rel": true|false`.
//!
//! The timeline keeps hosts in a fixed order on the arrows (the first host added on the
//! left), so `client → server` and `client ← server` read like a ladder diagram.
//!
//! JSON lines: every object has `t_ms` (virtual time, milliseconds, float), `host` and
//! `event`, one of
//! - `send` / `recv` (the stack emitted / took in a segment), `deliver` (the network handed
//!   a packet to the host), `duplicate` (the link will deliver it twice): `flags`
//!   (tcpdump style: `S`, `S.`, `.`, `P.`, `F.`, `R`), `seq`, `ack` (relative, see `rel`),
//!   `len` (payload bytes), `win`, `from`, `to` (address:port), `options`, `rel`;
//! - `drop`: the segment fields when known, `where` (`stack` or `link`), `reason` (stack:
//!   Linux-flavoured names such as `listen-overflow`, with `counter`, the nstat counter it
//!   bumps; link: `loss`, `partition`, `rule: <description>`, `no route`);
//! - `delay`: the segment fields, `delay_ms`, `reason` (`rule: <description>`);
//! - `state`: `from`, `to` (state names such as `SYN-SENT`), `local`, `remote`;
//! - `call`: `call` (`connect(3, 10.0.0.2:80)`), `result` (`0`, `-1 EINPROGRESS`), `fd`;
//! - `timer`: `timer` (`retransmit`, `time-wait`, ...), `local`, `remote`.
use crate::{HostId, LinkDropReason, Sim, SimEvent, SimEventKind};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use synack_core::{DropReason, EventKind, SegmentInfo};

/// Learns ISNs from SYNs and renders events.
pub struct Renderer {
    isn: HashMap<(SocketAddr, SocketAddr), u32>,
    /// Host name and index of each address.
    names: HashMap<IpAddr, (String, usize)>,
    hosts: Vec<String>,
    /// Timeline: also show each segment as its receiver took it in (off: the sender's line
    /// and the receiver's reaction tell the story; JSON always has them).
    pub show_recv: bool,
    /// Timeline: show TCP options on every segment (off: only on SYNs, where they are
    /// negotiated; the rest is timestamp noise for a reader learning TCP).
    pub show_options: bool,
}

impl Renderer {
    pub fn new(sim: &Sim) -> Renderer {
        let mut names = HashMap::new();
        let mut hosts = Vec::new();
        for h in sim.hosts() {
            for a in sim.stack(h).addrs() {
                names.insert(*a, (sim.host_name(h).to_string(), h.0));
            }
            hosts.push(sim.host_name(h).to_string());
        }
        Renderer {
            isn: HashMap::new(),
            names,
            hosts,
            show_recv: false,
            show_options: false,
        }
    }

    /// A SYN fixes its direction's ISN; a SYN with another sequence number on the same
    /// 4-tuple is a new connection (reuse after TIME_WAIT), so it starts a new numbering.
    /// A retransmitted SYN carries the same number and changes nothing.
    fn learn(&mut self, s: &SegmentInfo) {
        if s.flags.syn() {
            self.isn.insert((s.src, s.dst), s.seq);
        }
    }

    /// What a receiver takes in only sets a numbering nobody sent yet (a spoofed SYN): a
    /// SYN that lingered in the network and arrives after a newer one from the same port
    /// (the historical-syn story) must not renumber the flow, or its stale SYN-ACK would
    /// look like an ordinary `ack 1`.
    fn learn_received(&mut self, s: &SegmentInfo) {
        if s.flags.syn() {
            self.isn.entry((s.src, s.dst)).or_insert(s.seq);
        }
    }

    /// Relative (seq, ack), and whether both could be made relative.
    fn rel(&self, s: &SegmentInfo) -> (u32, u32, bool) {
        let mine = self.isn.get(&(s.src, s.dst));
        let theirs = self.isn.get(&(s.dst, s.src));
        let seq = mine.map(|i| s.seq.wrapping_sub(*i)).unwrap_or(s.seq);
        let ack = theirs.map(|i| s.ack.wrapping_sub(*i)).unwrap_or(s.ack);
        let rel = mine.is_some() && (theirs.is_some() || !s.flags.ack());
        (seq, ack, rel)
    }

    fn host(&self, h: HostId) -> &str {
        self.hosts.get(h.0).map(String::as_str).unwrap_or("?")
    }

    fn name(&self, a: &SocketAddr) -> String {
        self.names
            .get(&a.ip())
            .map(|n| n.0.clone())
            .unwrap_or_else(|| a.to_string())
    }

    /// Position of an address's host on the arrows (unknown addresses go right).
    fn rank(&self, a: &SocketAddr) -> usize {
        self.names.get(&a.ip()).map(|n| n.1).unwrap_or(usize::MAX)
    }

    /// `S. 0:0(0) ack 1 win 65160 <mss 1460,...>` (packetdrill notation, relative numbers).
    pub fn segment(&mut self, s: &SegmentInfo) -> String {
        self.learn(s);
        let (seq, ack, _) = self.rel(s);
        let end = seq.wrapping_add(s.len);
        let mut out = format!("{:<2} {}:{}({})", s.flags.to_string(), seq, end, s.len);
        if s.flags.ack() {
            out.push_str(&format!(" ack {ack}"));
        }
        out.push_str(&format!(" win {}", s.win));
        if self.show_options || s.flags.syn() {
            let opts = s.options.to_string();
            let opts = opts.trim_start_matches('<').trim_end_matches('>');
            if !opts.is_empty() {
                out.push_str(&format!(" <{opts}>"));
            }
        }
        out
    }

    /// `client → server` or `client ← server`: hosts keep their places.
    fn arrow(&self, s: &SegmentInfo) -> String {
        let (a, b) = (self.name(&s.src), self.name(&s.dst));
        if self.rank(&s.src) <= self.rank(&s.dst) {
            format!("{a} → {b}")
        } else {
            format!("{b} ← {a}")
        }
    }

    fn opt_segment(&mut self, s: &Option<SegmentInfo>) -> String {
        match s {
            Some(s) => format!("{}  {}", self.arrow(s), self.segment(s)),
            None => "a packet that is not TCP/IP".into(),
        }
    }

    /// One timeline line, or None for events the human view leaves out.
    pub fn line(&mut self, e: &SimEvent) -> Option<String> {
        let text = match &e.kind {
            SimEventKind::Stack(k) => match k {
                EventKind::Send(s) => format!("{}  {}", self.arrow(s), self.segment(s)),
                EventKind::Recv(s) => {
                    self.learn_received(s);
                    if !self.show_recv {
                        return None;
                    }
                    format!("{}  {}   (received)", self.arrow(s), self.segment(s))
                }
                EventKind::Drop { seg, reason } => match seg {
                    Some(s) => format!("dropped {}  ({})", self.segment(s), reason_text(reason)),
                    None => format!("dropped a packet  ({})", reason_text(reason)),
                },
                EventKind::State {
                    from, to, remote, ..
                } => {
                    let peer = if remote.port() == 0 {
                        String::new()
                    } else {
                        format!("  (with {})", self.name(remote))
                    };
                    format!("state {from} → {to}{peer}")
                }
                EventKind::Call { call, result, .. } => format!("{call} = {result}"),
                EventKind::Timer { timer, .. } => format!("timer fired: {}", timer.name()),
            },
            SimEventKind::LinkDrop { seg, reason } => {
                format!("{}   ✗ {}", self.opt_segment(seg), drop_text(reason))
            }
            SimEventKind::Duplicated { seg } => {
                format!("{}   (the link duplicated it)", self.opt_segment(seg))
            }
            SimEventKind::Delayed { seg, by, rule } => format!(
                "{}   (held back {} ms: rule: {rule})",
                self.opt_segment(seg),
                by.as_millis()
            ),
            SimEventKind::Delivered { seg } => {
                if let Some(s) = seg {
                    self.learn_received(s);
                }
                return None;
            }
        };
        Some(format!(
            "{:>9.3}s  {:<7} {}",
            e.at.as_secs_f64(),
            self.host(e.host),
            text
        ))
    }

    /// The timeline of a run, one line per event. A segment the network lost, duplicated or
    /// delayed is shown once, on the sender's line, with what happened to it.
    pub fn lines(&mut self, events: &[SimEvent]) -> Vec<String> {
        let mut out = Vec::new();
        let mut folded = HashSet::new();
        let mut spoofed = 0usize;
        for (i, e) in events.iter().enumerate() {
            if folded.contains(&i) {
                continue;
            }
            // Traffic of addresses no host owns (a spoofed SYN flood) would drown the
            // story: it is counted here and kept in full in the JSON view.
            if self.spoofed(e) {
                spoofed += 1;
                continue;
            }
            let Some(mut line) = self.line(e) else {
                continue;
            };
            if let SimEventKind::Stack(EventKind::Send(s)) = &e.kind {
                // The network's verdict on this segment follows it at the same instant.
                for (j, n) in events.iter().enumerate().skip(i + 1) {
                    if n.at != e.at {
                        break;
                    }
                    if n.host != e.host || folded.contains(&j) {
                        continue;
                    }
                    let note = match &n.kind {
                        SimEventKind::LinkDrop {
                            seg: Some(x),
                            reason,
                        } if x == s => {
                            format!("   ✗ {}", drop_text(reason))
                        }
                        SimEventKind::Duplicated { seg: Some(x) } if x == s => {
                            "   (the link duplicated it)".into()
                        }
                        SimEventKind::Delayed {
                            seg: Some(x),
                            by,
                            rule,
                        } if x == s => {
                            format!("   (held back {} ms: rule: {rule})", by.as_millis())
                        }
                        SimEventKind::Stack(EventKind::Send(_)) => break,
                        _ => continue,
                    };
                    line.push_str(&note);
                    folded.insert(j);
                }
            }
            out.push(line);
        }
        if spoofed > 0 {
            out.push(format!(
                "           ({spoofed} events of traffic from or to addresses no host owns (spoofed) are not shown; --json has them)"
            ));
        }
        out
    }

    /// Does this event concern an address that belongs to no host?
    fn spoofed(&self, e: &SimEvent) -> bool {
        let unknown = |a: &std::net::SocketAddr| {
            !a.ip().is_unspecified() && !self.names.contains_key(&a.ip())
        };
        match &e.kind {
            SimEventKind::Stack(k) => match k {
                EventKind::Send(s) | EventKind::Recv(s) => unknown(&s.src) || unknown(&s.dst),
                EventKind::Drop { seg: Some(s), .. } => unknown(&s.src) || unknown(&s.dst),
                EventKind::State { remote, .. } | EventKind::Timer { remote, .. } => {
                    unknown(remote)
                }
                _ => false,
            },
            SimEventKind::LinkDrop { seg: Some(s), .. }
            | SimEventKind::Delivered { seg: Some(s) }
            | SimEventKind::Duplicated { seg: Some(s) } => unknown(&s.src) || unknown(&s.dst),
            _ => false,
        }
    }

    /// One JSON object per event (fields: see the module documentation).
    pub fn json(&mut self, e: &SimEvent) -> Value {
        let mut m = Map::new();
        m.insert("t_ms".into(), json!(e.at.as_micros() as f64 / 1000.0));
        m.insert("host".into(), json!(self.host(e.host)));
        let seg = |m: &mut Map<String, Value>, r: &mut Renderer, s: &Option<SegmentInfo>| {
            let Some(s) = s else { return };
            r.learn(s);
            let (seq, ack, rel) = r.rel(s);
            m.insert("flags".into(), json!(s.flags.to_string()));
            m.insert("seq".into(), json!(seq));
            m.insert("ack".into(), json!(ack));
            m.insert("len".into(), json!(s.len));
            m.insert("win".into(), json!(s.win));
            m.insert("from".into(), json!(s.src.to_string()));
            m.insert("to".into(), json!(s.dst.to_string()));
            m.insert("options".into(), json!(s.options.to_string()));
            m.insert("rel".into(), json!(rel));
        };
        let event = match &e.kind {
            SimEventKind::Stack(k) => match k {
                EventKind::Send(s) => {
                    seg(&mut m, self, &Some(*s));
                    "send"
                }
                EventKind::Recv(s) => {
                    seg(&mut m, self, &Some(*s));
                    "recv"
                }
                EventKind::Drop { seg: s, reason } => {
                    seg(&mut m, self, s);
                    m.insert("where".into(), json!("stack"));
                    m.insert("reason".into(), json!(reason.name()));
                    if let Some(c) = reason.counter() {
                        m.insert("counter".into(), json!(c));
                    }
                    "drop"
                }
                EventKind::State {
                    local,
                    remote,
                    from,
                    to,
                } => {
                    m.insert("from".into(), json!(from.name()));
                    m.insert("to".into(), json!(to.name()));
                    m.insert("local".into(), json!(local.to_string()));
                    m.insert("remote".into(), json!(remote.to_string()));
                    "state"
                }
                EventKind::Call { fd, call, result } => {
                    m.insert("call".into(), json!(call));
                    m.insert("result".into(), json!(result));
                    if let Some(fd) = fd {
                        m.insert("fd".into(), json!(fd.0));
                    }
                    "call"
                }
                EventKind::Timer {
                    local,
                    remote,
                    timer,
                } => {
                    m.insert("timer".into(), json!(timer.name()));
                    m.insert("local".into(), json!(local.to_string()));
                    m.insert("remote".into(), json!(remote.to_string()));
                    "timer"
                }
            },
            SimEventKind::LinkDrop { seg: s, reason } => {
                seg(&mut m, self, s);
                m.insert("where".into(), json!("link"));
                m.insert("reason".into(), json!(reason.to_string()));
                "drop"
            }
            SimEventKind::Duplicated { seg: s } => {
                seg(&mut m, self, s);
                "duplicate"
            }
            SimEventKind::Delayed { seg: s, by, rule } => {
                seg(&mut m, self, s);
                m.insert("delay_ms".into(), json!(by.as_micros() as f64 / 1000.0));
                m.insert("reason".into(), json!(format!("rule: {rule}")));
                "delay"
            }
            SimEventKind::Delivered { seg: s } => {
                seg(&mut m, self, s);
                "deliver"
            }
        };
        m.insert("event".into(), json!(event));
        Value::Object(m)
    }
}

fn reason_text(r: &DropReason) -> String {
    match r.counter() {
        Some(c) => format!("{}, {c}", r.name()),
        None => r.name().to_string(),
    }
}

fn drop_text(r: &LinkDropReason) -> String {
    match r {
        LinkDropReason::NoRoute => "not sent: no route".into(),
        r => format!("lost on the link ({r})"),
    }
}
