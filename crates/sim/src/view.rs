//! What a person reads: a timeline, or JSON lines, from the event stream. Sequence and
//! acknowledgment numbers are shown relative to each side's ISN, as Wireshark and
//! packetdrill show them.
use crate::{HostId, Sim, SimEvent, SimEventKind};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use synack_core::{DropReason, EventKind, SegmentInfo};

/// Learns ISNs from SYNs and renders events.
pub struct Renderer {
    isn: HashMap<(SocketAddr, SocketAddr), u32>,
    names: HashMap<IpAddr, String>,
    hosts: Vec<String>,
    /// Also show segments as received (JSON always has them).
    pub show_recv: bool,
}

impl Renderer {
    pub fn new(sim: &Sim) -> Renderer {
        let mut names = HashMap::new();
        let mut hosts = Vec::new();
        for h in sim.hosts() {
            for a in sim.stack(h).addrs() {
                names.insert(*a, sim.host_name(h).to_string());
            }
            hosts.push(sim.host_name(h).to_string());
        }
        Renderer {
            isn: HashMap::new(),
            names,
            hosts,
            show_recv: false,
        }
    }

    fn learn(&mut self, s: &SegmentInfo) {
        if s.flags.syn() {
            self.isn.entry((s.src, s.dst)).or_insert(s.seq);
        }
    }

    fn rel(&self, s: &SegmentInfo) -> (u32, u32) {
        let seq = self
            .isn
            .get(&(s.src, s.dst))
            .map(|i| s.seq.wrapping_sub(*i))
            .unwrap_or(s.seq);
        let ack = self
            .isn
            .get(&(s.dst, s.src))
            .map(|i| s.ack.wrapping_sub(*i))
            .unwrap_or(s.ack);
        (seq, ack)
    }

    fn name(&self, a: &SocketAddr) -> String {
        self.names
            .get(&a.ip())
            .cloned()
            .unwrap_or_else(|| a.to_string())
    }

    /// `S. 0:0(0) ack 1 win 65160 <mss 1460,...>` (packetdrill notation, relative numbers).
    pub fn segment(&mut self, s: &SegmentInfo) -> String {
        self.learn(s);
        let (seq, ack) = self.rel(s);
        let end = seq.wrapping_add(s.len);
        let mut out = format!("{} {}:{}({})", s.flags, seq, end, s.len);
        if s.flags.ack() {
            out.push_str(&format!(" ack {ack}"));
        }
        out.push_str(&format!(" win {}", s.win));
        let opts = s.options.to_string();
        if !opts.is_empty() && opts != "<>" {
            out.push_str(&format!(
                " <{}>",
                opts.trim_start_matches('<').trim_end_matches('>')
            ));
        }
        out
    }

    fn arrow(&self, s: &SegmentInfo) -> String {
        format!("{} → {}", self.name(&s.src), self.name(&s.dst))
    }

    /// One timeline line, or None for events the human view leaves out.
    pub fn line(&mut self, e: &SimEvent) -> Option<String> {
        let host = self.hosts[e.host.0].clone();
        let text = match &e.kind {
            SimEventKind::Stack(k) => match k {
                EventKind::Send(s) => {
                    let seg = self.segment(s);
                    format!("{}  {seg}", self.arrow(s))
                }
                EventKind::Recv(s) => {
                    self.learn(s);
                    if !self.show_recv {
                        return None;
                    }
                    format!("received {}", self.segment(s))
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
                        format!("  [with {}]", self.name(remote))
                    };
                    format!("{from} → {to}{peer}")
                }
                EventKind::Call { call, result, .. } => format!("{call} = {result}"),
                EventKind::Timer { timer, .. } => format!("timer: {}", timer.name()),
            },
            SimEventKind::LinkDrop { seg, reason } => {
                let s = self.segment(seg);
                format!("{}  {s}   ✗ lost on the link ({reason})", self.arrow(seg))
            }
            SimEventKind::Duplicated { seg } => format!("link duplicated {}", self.segment(seg)),
        };
        Some(format!(
            "{:>9.3}s  {:<7} {}",
            e.at.as_secs_f64(),
            host,
            text
        ))
    }

    /// The timeline of a run: one line per event; a segment the link lost is shown once,
    /// marked lost.
    pub fn lines(&mut self, events: &[SimEvent]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if let SimEventKind::Stack(EventKind::Send(s)) = &e.kind {
                let lost_next = events[i + 1..]
                    .iter()
                    .take_while(|n| n.at == e.at)
                    .any(|n| {
                        n.host == e.host
                            && matches!(&n.kind, SimEventKind::LinkDrop { seg, .. } if seg == s)
                    });
                if lost_next {
                    self.learn(s);
                    continue;
                }
            }
            out.extend(self.line(e));
        }
        out
    }

    /// One JSON object per event.
    pub fn json(&mut self, e: &SimEvent) -> Value {
        let mut m = Map::new();
        m.insert("t_ms".into(), json!(e.at.as_micros() as f64 / 1000.0));
        m.insert("host".into(), json!(self.hosts[e.host.0]));
        let seg = |m: &mut Map<String, Value>, r: &mut Renderer, s: &SegmentInfo| {
            r.learn(s);
            let (seq, ack) = r.rel(s);
            m.insert("flags".into(), json!(s.flags.to_string()));
            m.insert("seq".into(), json!(seq));
            m.insert("ack".into(), json!(ack));
            m.insert("len".into(), json!(s.len));
            m.insert("win".into(), json!(s.win));
            m.insert("from".into(), json!(s.src.to_string()));
            m.insert("to".into(), json!(s.dst.to_string()));
            m.insert("options".into(), json!(s.options.to_string()));
            m.insert("rel".into(), json!(true));
        };
        match &e.kind {
            SimEventKind::Stack(k) => match k {
                EventKind::Send(s) => {
                    m.insert("event".into(), json!("send"));
                    seg(&mut m, self, s);
                }
                EventKind::Recv(s) => {
                    m.insert("event".into(), json!("recv"));
                    seg(&mut m, self, s);
                }
                EventKind::Drop { seg: s, reason } => {
                    m.insert("event".into(), json!("drop"));
                    if let Some(s) = s {
                        seg(&mut m, self, s);
                    }
                    m.insert("reason".into(), json!(reason.name()));
                    if let Some(c) = reason.counter() {
                        m.insert("counter".into(), json!(c));
                    }
                }
                EventKind::State {
                    local,
                    remote,
                    from,
                    to,
                } => {
                    m.insert("event".into(), json!("state"));
                    m.insert("from".into(), json!(from.name()));
                    m.insert("to".into(), json!(to.name()));
                    m.insert("local".into(), json!(local.to_string()));
                    m.insert("remote".into(), json!(remote.to_string()));
                }
                EventKind::Call { fd, call, result } => {
                    m.insert("event".into(), json!("call"));
                    m.insert("call".into(), json!(call));
                    m.insert("result".into(), json!(result));
                    if let Some(fd) = fd {
                        m.insert("fd".into(), json!(fd.0));
                    }
                }
                EventKind::Timer {
                    local,
                    remote,
                    timer,
                } => {
                    m.insert("event".into(), json!("timer"));
                    m.insert("timer".into(), json!(timer.name()));
                    m.insert("local".into(), json!(local.to_string()));
                    m.insert("remote".into(), json!(remote.to_string()));
                }
            },
            SimEventKind::LinkDrop { seg: s, reason } => {
                m.insert("event".into(), json!("drop"));
                seg(&mut m, self, s);
                m.insert("reason".into(), json!(format!("link: {reason}")));
            }
            SimEventKind::Duplicated { seg: s } => {
                m.insert("event".into(), json!("duplicate"));
                seg(&mut m, self, s);
            }
        }
        Value::Object(m)
    }
}

fn reason_text(r: &DropReason) -> String {
    match r.counter() {
        Some(c) => format!("{}, {c}", r.name()),
        None => r.name().to_string(),
    }
}

/// The name of a host, for verdicts.
pub fn host(sim: &Sim, h: HostId) -> &str {
    sim.host_name(h)
}
