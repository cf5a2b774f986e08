//! Ladder diagrams (sequence diagrams) of a run, as SVG, like the pictures of the document:
//! one vertical timeline per host (the first host added on the left), an arrow per segment
//! from its sender at send time to its receiver at arrival time, labelled with its flags and
//! sequence numbers relative to each side's ISN (`SYN seq=0`, `SYN-ACK seq=0 ack=1`,
//! `data seq=1 ack=1 len=18`), state names beside each timeline where they change, socket
//! calls further out in grey, timer firings as a clock with their name (`RTO`,
//! `TIME_WAIT 60 s`), segments the network lost as arrows that stop half way in a red cross,
//! segments a stack dropped on arrival with the reason at the arrow's head.
//!
//! Time runs down. Spans with nothing in them are cut out and labelled (`… 59.9 s …`), so a
//! 60 s TIME_WAIT takes a few pixels; short spans keep their proportions, so a segment's
//! flight time shows as its arrow's slope.
//!
//! Traffic of addresses no host owns (a spoofed SYN flood) is counted in a note, not drawn;
//! after [`Ladder::max_segments`] segments the diagram stops with a note saying how many
//! events are left out (the timeline and `--json` have them all).
use crate::{HostId, LinkDropReason, Sim, SimEvent, SimEventKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use synack_core::{EventKind, Instant, SegmentInfo, TcpState, TimerKind};

/// Options of a diagram.
#[derive(Clone, Debug)]
pub struct Ladder {
    /// Heading (the scenario's name).
    pub title: String,
    /// A paragraph under the heading (the scenario's summary).
    pub subtitle: String,
    /// A line at the bottom (the verdict).
    pub footer: String,
    /// Segments drawn at most; the rest is summarised in a note.
    pub max_segments: usize,
    /// Show socket calls beside the timelines.
    pub calls: bool,
}

impl Default for Ladder {
    fn default() -> Ladder {
        Ladder {
            title: String::new(),
            subtitle: String::new(),
            footer: String::new(),
            max_segments: 150,
            calls: true,
        }
    }
}

/// Pixels per second of virtual time where time is drawn to scale.
const PX_PER_SEC: f64 = 1600.0;
/// A quiet span longer than this is cut out of the picture and labelled.
const CUT_AFTER: f64 = 0.075;
/// Height of a cut.
const CUT_H: f64 = 34.0;
/// Height of one line of text beside a timeline.
const LINE_H: f64 = 13.0;
/// Smallest distance between two instants that have something drawn.
const MIN_ROW: f64 = 16.0;
/// Vertical distance between arrows leaving (or reaching) one host at one instant.
const SLOT: f64 = 20.0;
const FONT: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

/// What the diagram draws of one segment.
struct Arrow {
    from: HostId,
    to: Option<HostId>,
    sent: Instant,
    /// Arrival time, or the time it would have arrived if lost.
    arrive: Instant,
    fate: Fate,
    label: String,
    /// What the network did besides carrying it (held back by a rule).
    note: Option<String>,
    retransmit: bool,
    rst: bool,
}

#[derive(PartialEq)]
enum Fate {
    Delivered,
    /// Lost on the link (why).
    Lost(String),
    /// Delivered, then dropped by the receiver's stack (reason).
    Dropped(String),
    /// Still on its way when the run ended.
    InFlight,
}

/// Text written beside a timeline at an instant.
struct Note {
    host: HostId,
    at: Instant,
    text: String,
    kind: NoteKind,
}

#[derive(Clone, Copy, PartialEq)]
enum NoteKind {
    State,
    Timer,
    Call,
    /// A segment the stack dropped on arrival, and why.
    Drop,
}

/// Numbering of sequence space: each direction of a 4-tuple may have had several ISNs (a
/// new connection reusing the 4-tuple, an old duplicate SYN); numbers are shown relative to
/// the ISN they belong to, and marked when that is not the direction's latest.
#[derive(Default)]
struct Isns {
    isns: HashMap<(SocketAddr, SocketAddr), Vec<u32>>,
}

impl Isns {
    /// A SYN: a new ISN for its direction (true) unless it repeats a known one.
    fn learn(&mut self, s: &SegmentInfo) -> bool {
        if !s.flags.syn() {
            return false;
        }
        let v = self.isns.entry((s.src, s.dst)).or_default();
        if v.contains(&s.seq) {
            false
        } else {
            v.push(s.seq);
            v.len() > 1
        }
    }

    /// `n` relative to the ISN of direction `dir` it is closest above; the suffix marks an
    /// ISN other than the latest.
    fn rel(&self, dir: (SocketAddr, SocketAddr), n: u32) -> String {
        let Some(v) = self.isns.get(&dir) else {
            return n.to_string();
        };
        let Some((i, d)) = v
            .iter()
            .enumerate()
            .map(|(i, isn)| (i, n.wrapping_sub(*isn)))
            .min_by_key(|(i, d)| (*d, usize::MAX - i))
        else {
            return n.to_string();
        };
        if d > 1 << 30 {
            // Not near any ISN: below the latest (an old segment) or garbage.
            return n.to_string();
        }
        if i + 1 == v.len() {
            d.to_string()
        } else {
            format!("{d} (old ISN)")
        }
    }
}

/// `SYN`, `SYN-ACK`, `FIN`, `RST`, `ACK` or `data`.
fn kind(s: &SegmentInfo) -> &'static str {
    let f = s.flags;
    if f.syn() && f.ack() {
        "SYN-ACK"
    } else if f.syn() {
        "SYN"
    } else if f.rst() {
        "RST"
    } else if f.fin() {
        "FIN"
    } else if s.len > 0 {
        "data"
    } else {
        "ACK"
    }
}

fn secs_text(t: f64) -> String {
    let s = format!("{t:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// `… 59.9 s …`-style duration.
fn span_text(d: f64) -> String {
    if d >= 100.0 {
        format!("{d:.0} s")
    } else if d >= 1.0 {
        format!("{} s", secs_text((d * 10.0).round() / 10.0))
    } else {
        format!("{} ms", secs_text((d * 1000.0).round() / 1000.0 * 1000.0))
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn timer_text(t: TimerKind) -> &'static str {
    match t {
        TimerKind::Retransmit => "RTO",
        TimerKind::DelayedAck => "delayed ACK",
        TimerKind::ZeroWindowProbe => "probe timer",
        TimerKind::Keepalive => "keepalive",
        TimerKind::FinWait2 => "FIN_WAIT_2",
        TimerKind::TimeWait => "TIME_WAIT",
        TimerKind::Linger => "linger",
    }
}

/// Break `s` into lines of at most `width` characters.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for w in s.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + w.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Everything the diagram needs, read from the event stream.
struct Story {
    arrows: Vec<Arrow>,
    notes: Vec<Note>,
    spoofed: usize,
    /// Events after the cap, and the instant the diagram stops.
    cut_off: Option<(usize, Instant)>,
}

impl Ladder {
    /// The diagram of `sim`'s events so far.
    pub fn svg(&self, sim: &Sim) -> String {
        let hosts: Vec<HostId> = sim.hosts().collect();
        let mut owner: HashMap<IpAddr, HostId> = HashMap::new();
        for h in &hosts {
            for a in sim.stack(*h).addrs() {
                owner.insert(*a, *h);
            }
        }
        let story = self.read(sim.events(), &owner);
        self.draw(sim, &hosts, &story)
    }

    fn read(&self, events: &[SimEvent], owner: &HashMap<IpAddr, HostId>) -> Story {
        let known = |a: &SocketAddr| a.ip().is_unspecified() || owner.contains_key(&a.ip());
        let spoofed_seg = |s: &SegmentInfo| !known(&s.src) || !known(&s.dst);
        let mut isns = Isns::default();
        let mut arrows: Vec<Arrow> = Vec::new();
        let mut notes = Vec::new();
        let mut spoofed = 0usize;
        let mut cut_off = None;
        // Sent segments waiting for their delivery: (receiver, segment) → arrow indices.
        let mut in_flight: HashMap<(HostId, SegKey), Vec<usize>> = HashMap::new();
        let mut seen: HashSet<(SocketAddr, SocketAddr, u8, u32, u32)> = HashSet::new();
        // Per connection of a host: when it entered TIME-WAIT / FIN-WAIT-2, when it last sent.
        let mut entered: HashMap<(HostId, SocketAddr, SocketAddr, TcpState), Instant> =
            HashMap::new();
        let mut last_send: HashMap<(HostId, SocketAddr, SocketAddr), Instant> = HashMap::new();
        // Per connection of a host: its last segment that took sequence space, and whether
        // it was a SYN or FIN (then a retransmission timer runs from it).
        let mut last_seq: HashMap<(HostId, SocketAddr, SocketAddr), (Instant, bool)> =
            HashMap::new();
        // Connections per host, to tell their state labels apart.
        let mut conns: HashMap<HostId, HashSet<(SocketAddr, SocketAddr)>> = HashMap::new();
        for e in events {
            if let SimEventKind::Stack(EventKind::State { local, remote, .. }) = &e.kind {
                if remote.port() != 0 && known(remote) {
                    conns.entry(e.host).or_default().insert((*local, *remote));
                }
            }
        }
        let one_way = typical_flight(events).unwrap_or(Duration::from_millis(25));
        let mut segments = 0usize;
        for (i, e) in events.iter().enumerate() {
            if let Some((ref mut n, _)) = cut_off {
                *n += 1;
                continue;
            }
            match &e.kind {
                SimEventKind::Stack(EventKind::Send(s)) => {
                    if spoofed_seg(s) {
                        spoofed += 1;
                        continue;
                    }
                    if segments >= self.max_segments {
                        cut_off = Some((events.len() - i, e.at));
                        continue;
                    }
                    segments += 1;
                    let new_isn = isns.learn(s);
                    let key = (s.src, s.dst, s.flags.0, s.seq, s.len);
                    let retransmit =
                        (s.flags.syn() || s.flags.fin() || s.len > 0) && !seen.insert(key);
                    let label = self.label(&isns, s, new_isn);
                    last_send.insert((e.host, s.src, s.dst), e.at);
                    if s.flags.syn() || s.flags.fin() || s.len > 0 {
                        let synfin = (s.flags.syn() || s.flags.fin()) && s.len == 0;
                        last_seq.insert((e.host, s.src, s.dst), (e.at, synfin));
                    }
                    let to = owner.get(&s.dst.ip()).copied();
                    arrows.push(Arrow {
                        from: e.host,
                        to,
                        sent: e.at,
                        arrive: e.at + one_way,
                        fate: Fate::InFlight,
                        label,
                        note: None,
                        retransmit,
                        rst: s.flags.rst(),
                    });
                    if let Some(to) = to {
                        in_flight
                            .entry((to, SegKey::of(s)))
                            .or_default()
                            .push(arrows.len() - 1);
                    }
                }
                SimEventKind::LinkDrop {
                    seg: Some(s),
                    reason,
                } => {
                    if spoofed_seg(s) {
                        spoofed += 1;
                        continue;
                    }
                    // The lost segment is the latest one sent with these bytes.
                    if let Some(to) = owner.get(&s.dst.ip()) {
                        if let Some(v) = in_flight.get_mut(&(*to, SegKey::of(s))) {
                            if let Some(a) = v.pop() {
                                arrows[a].fate = Fate::Lost(match reason {
                                    LinkDropReason::NoRoute => "no route".into(),
                                    r => format!("lost ({r})"),
                                });
                            }
                        }
                    } else if let Some(a) = arrows.last_mut() {
                        a.fate = Fate::Lost("no route".into());
                    }
                }
                SimEventKind::Delayed {
                    seg: Some(s), by, ..
                } => {
                    if let Some(to) = owner.get(&s.dst.ip()) {
                        if let Some(&a) =
                            in_flight.get(&(*to, SegKey::of(s))).and_then(|v| v.last())
                        {
                            // The rule's description is in the timeline; the picture
                            // says how long.
                            arrows[a].note =
                                Some(format!("held back {}", span_text(by.as_secs_f64())));
                        }
                    }
                }
                SimEventKind::Duplicated { seg: Some(s) } => {
                    if let Some(to) = owner.get(&s.dst.ip()) {
                        let v = in_flight.entry((*to, SegKey::of(s))).or_default();
                        if let Some(&a) = v.last() {
                            // A second arrow for the copy.
                            let copy = Arrow {
                                from: arrows[a].from,
                                to: arrows[a].to,
                                sent: arrows[a].sent,
                                arrive: arrows[a].arrive,
                                fate: Fate::InFlight,
                                label: format!("{} (duplicate)", arrows[a].label),
                                note: arrows[a].note.clone(),
                                retransmit: arrows[a].retransmit,
                                rst: arrows[a].rst,
                            };
                            arrows.push(copy);
                            v.push(arrows.len() - 1);
                        }
                    }
                }
                SimEventKind::Delivered { seg: Some(s) } => {
                    if spoofed_seg(s) {
                        spoofed += 1;
                        continue;
                    }
                    isns.learn(s);
                    if let Some(v) = in_flight.get_mut(&(e.host, SegKey::of(s))) {
                        if !v.is_empty() {
                            let a = v.remove(0);
                            arrows[a].arrive = e.at;
                            arrows[a].fate = Fate::Delivered;
                        }
                    }
                }
                SimEventKind::Stack(EventKind::Drop {
                    seg: Some(s),
                    reason,
                }) => {
                    if spoofed_seg(s) {
                        spoofed += 1;
                        continue;
                    }
                    // The arrow delivered to this host at this instant with these bytes.
                    if let Some(a) = arrows.iter_mut().rev().find(|a| {
                        a.to == Some(e.host) && a.arrive == e.at && a.fate == Fate::Delivered
                    }) {
                        a.fate = Fate::Dropped(reason.name().to_string());
                    }
                    notes.push(Note {
                        host: e.host,
                        at: e.at,
                        text: format!("dropped: {}", reason.name()),
                        kind: NoteKind::Drop,
                    });
                }
                SimEventKind::Stack(EventKind::State {
                    local,
                    remote,
                    from,
                    to,
                }) => {
                    if remote.port() != 0 && !known(remote) {
                        spoofed += 1;
                        continue;
                    }
                    entered.insert((e.host, *local, *remote, *to), e.at);
                    let mut text = match (from, to) {
                        (TcpState::Listen, TcpState::Closed) => "listener closed".to_string(),
                        (_, TcpState::Closed) if remote.port() == 0 => continue,
                        _ => to.name().to_string(),
                    };
                    if conns.get(&e.host).is_some_and(|c| c.len() > 1) && remote.port() != 0 {
                        let _ = write!(text, " :{}", local.port().max(remote.port()));
                    }
                    notes.push(Note {
                        host: e.host,
                        at: e.at,
                        text,
                        kind: NoteKind::State,
                    });
                }
                SimEventKind::Stack(EventKind::Timer {
                    local,
                    remote,
                    timer,
                }) => {
                    if !known(remote) {
                        spoofed += 1;
                        continue;
                    }
                    let mut text = timer_text(*timer).to_string();
                    let since = |st: TcpState| entered.get(&(e.host, *local, *remote, st));
                    let armed = match timer {
                        TimerKind::TimeWait => since(TcpState::TimeWait).map(|t| {
                            // A re-ACK of a retransmitted FIN restarts the wait.
                            let s = last_send.get(&(e.host, *local, *remote));
                            s.map_or(*t, |s| (*s).max(*t))
                        }),
                        TimerKind::FinWait2 => since(TcpState::FinWait2).copied(),
                        TimerKind::Retransmit => match last_seq.get(&(e.host, *local, *remote)) {
                            Some((t, true)) => Some(*t),
                            _ => None,
                        },
                        _ => None,
                    };
                    if let Some(t) = armed {
                        let d = e.at.saturating_duration_since(t).as_secs_f64();
                        let _ = write!(text, " {}", span_text(d));
                    }
                    notes.push(Note {
                        host: e.host,
                        at: e.at,
                        text,
                        kind: NoteKind::Timer,
                    });
                }
                SimEventKind::Stack(EventKind::Call { call, result, .. }) if self.calls => {
                    if call.starts_with("getsockopt") || call.starts_with("poll") {
                        continue;
                    }
                    notes.push(Note {
                        host: e.host,
                        at: e.at,
                        text: shorten(&format!("{call} = {result}"), 40),
                        kind: NoteKind::Call,
                    });
                }
                _ => {}
            }
        }
        Story {
            arrows,
            notes,
            spoofed,
            cut_off,
        }
    }

    /// `SYN-ACK seq=0 ack=1`, `data seq=1 ack=1 len=18`, `ACK seq=1 ack=19 win=0`.
    fn label(&self, isns: &Isns, s: &SegmentInfo, new_isn: bool) -> String {
        let mut out = kind(s).to_string();
        let _ = write!(out, " seq={}", isns.rel((s.src, s.dst), s.seq));
        if new_isn {
            out.push_str(" (new ISN)");
        }
        if s.flags.ack() {
            let _ = write!(out, " ack={}", isns.rel((s.dst, s.src), s.ack));
        }
        if s.len > 0 {
            let _ = write!(out, " len={}", s.len);
        }
        if s.win == 0 && !s.flags.rst() {
            out.push_str(" win=0");
        }
        if s.flags.syn() && s.options.to_string().contains("FO") {
            out.push_str(" +cookie");
        }
        out
    }

    fn draw(&self, sim: &Sim, hosts: &[HostId], story: &Story) -> String {
        // Horizontal layout: time axis, then per host its outer labels and its timeline.
        let n = hosts.len().max(1);
        let axis_w = 70.0;
        // Columns as wide as their longest text.
        let widest = |call: bool| {
            story
                .notes
                .iter()
                .filter(|n| (n.kind == NoteKind::Call) == call)
                .map(|n| n.text.chars().count())
                .max()
                .unwrap_or(0) as f64
        };
        let call_w = if self.calls {
            widest(true) * 6.1 + 16.0
        } else {
            0.0
        };
        let state_w = (widest(false) * 7.0 + 24.0).max(110.0);
        let gap = 470.0;
        let lane_x: Vec<f64> = (0..n)
            .map(|i| axis_w + call_w + state_w + gap * i as f64)
            .collect();
        let width = lane_x[n - 1] + state_w + call_w + 20.0;
        let side = |h: HostId| -> f64 {
            // Labels go outside: left of the first host, right of the others.
            if h.0 == 0 {
                -1.0
            } else {
                1.0
            }
        };

        // The instants that have something drawn, and the height each needs: the lines of
        // text a host writes beside itself then, and the arrows that leave or reach one
        // host at one instant, drawn one under the other (slots).
        let mut rows: BTreeMap<Instant, (f64, bool)> = BTreeMap::new();
        let mut stack: HashMap<(Instant, HostId, bool), usize> = HashMap::new();
        // A host takes in what arrives at an instant before it answers: arrivals take the
        // first slots, sends the ones after them.
        let mut slots: HashMap<(Instant, HostId, bool), usize> = HashMap::new();
        let mut slot_of: Vec<(usize, usize)> = Vec::new();
        let arrives = |a: &Arrow| {
            a.to.filter(|_| !matches!(a.fate, Fate::Lost(_) | Fate::InFlight))
        };
        let mut arrivals: HashMap<(Instant, HostId), usize> = HashMap::new();
        for a in &story.arrows {
            if let Some(to) = arrives(a) {
                *arrivals.entry((a.arrive, to)).or_default() += 1;
            }
        }
        for a in &story.arrows {
            rows.entry(a.sent).or_insert((0.0, true)).1 = true;
            let e = rows.entry(a.arrive).or_insert((0.0, false));
            if !matches!(a.fate, Fate::Lost(_) | Fate::InFlight) {
                e.1 = true;
            }
            let first = arrivals.get(&(a.sent, a.from)).copied().unwrap_or(0);
            let k0 = slots.entry((a.sent, a.from, true)).or_insert(first);
            let s0 = *k0;
            *k0 += 1;
            let s1 = match arrives(a) {
                Some(to) => {
                    let k1 = slots.entry((a.arrive, to, false)).or_default();
                    *k1 += 1;
                    *k1 - 1
                }
                None => 0,
            };
            slot_of.push((s0, s1));
        }
        for ((t, _, _), k) in &slots {
            if let Some(r) = rows.get_mut(t) {
                r.0 = r.0.max(*k as f64 * SLOT);
            }
        }
        for nt in &story.notes {
            rows.entry(nt.at).or_insert((0.0, true)).1 = true;
            *stack
                .entry((nt.at, nt.host, nt.kind == NoteKind::Call))
                .or_default() += 1;
        }
        for ((t, _, _), k) in &stack {
            if let Some(r) = rows.get_mut(t) {
                r.0 = r.0.max(*k as f64 * LINE_H + 4.0);
            }
        }

        // Vertical layout: y of each instant; quiet spans cut.
        let mut title_lines = vec![];
        if !self.subtitle.is_empty() {
            title_lines = wrap(&self.subtitle, ((width - 40.0) / 6.6) as usize);
        }
        let head = if self.title.is_empty() && title_lines.is_empty() {
            0.0
        } else {
            40.0 + 16.0 * title_lines.len() as f64
        };
        let top = head + 60.0;
        let mut y_of: Vec<(Instant, f64)> = Vec::new();
        let mut cuts: Vec<(f64, f64, f64)> = Vec::new(); // (y0, y1, seconds)
        let mut y = top + 20.0;
        let mut prev: Option<(Instant, f64)> = None;
        for (t, (lines, _)) in &rows {
            if let Some((pt, plines)) = prev {
                let dt = t.saturating_duration_since(pt).as_secs_f64();
                let block = plines.max(MIN_ROW);
                if dt > CUT_AFTER {
                    let y0 = y + block;
                    cuts.push((y0, y0 + CUT_H, dt));
                    y = y0 + CUT_H + 8.0;
                } else {
                    y += block.max(dt * PX_PER_SEC);
                }
            }
            y_of.push((*t, y));
            prev = Some((*t, *lines));
        }
        let last_block = prev.map_or(0.0, |(_, l)| l.max(MIN_ROW));
        let bottom = y + last_block + 20.0;
        let y_at = |t: Instant| -> f64 {
            match y_of.binary_search_by_key(&t, |(i, _)| *i) {
                Ok(i) => y_of[i].1,
                Err(_) => top,
            }
        };

        let mut foot_lines: Vec<String> = vec![
            "Time runs down; quiet spans are cut out (… 60 s …). Numbers are relative to each \
             side's ISN. Red cross: lost in the network. Dashed orange: a retransmission. \
             Clock: a timer fired. Blue: states. Grey: socket calls."
                .to_string(),
        ];
        if story.spoofed > 0 {
            foot_lines.push(format!(
                "Not drawn: {} events of traffic from or to addresses no host owns (spoofed); \
                 the timeline and --json have them.",
                story.spoofed
            ));
        }
        if let Some((k, t)) = story.cut_off {
            foot_lines.push(format!(
                "The diagram stops at {} s after {} segments: {k} more events are not drawn \
                 (the timeline and --json have them).",
                secs_text(t.as_secs_f64()),
                self.max_segments
            ));
        }
        if !self.footer.is_empty() {
            for l in wrap(&self.footer, ((width - 40.0) / 6.6) as usize) {
                foot_lines.push(l);
            }
        }
        let height = bottom + 16.0 * foot_lines.len() as f64 + 20.0;

        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="{FONT}" font-size="11">
<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>
<marker id="head-k" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1f2d3d"/></marker>
<marker id="head-r" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#b03030"/></marker>
<marker id="head-o" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#c06000"/></marker></defs>
<rect width="100%" height="100%" fill="#ffffff"/>
"##,
            w = width,
            h = height
        );
        if !self.title.is_empty() {
            let _ = writeln!(
                s,
                r##"<text x="20" y="28" font-size="17" font-weight="bold" fill="#1f2d3d">{}</text>"##,
                esc(&self.title)
            );
        }
        for (i, l) in title_lines.iter().enumerate() {
            let _ = writeln!(
                s,
                r##"<text x="20" y="{:.0}" fill="#444">{}</text>"##,
                50.0 + 16.0 * i as f64,
                esc(l)
            );
        }
        // Time axis heading.
        let _ = writeln!(
            s,
            r##"<text x="10" y="{:.0}" fill="#777" font-size="10">time (s)</text>"##,
            top - 4.0
        );
        // Timelines: host boxes, then the line, dashed across cuts.
        for (i, h) in hosts.iter().enumerate() {
            let x = lane_x[i];
            let addrs: Vec<String> = sim
                .stack(*h)
                .addrs()
                .iter()
                .map(|a| a.to_string())
                .collect();
            let _ = writeln!(
                s,
                r##"<rect x="{:.0}" y="{:.0}" width="140" height="38" rx="5" fill="#eef3fa" stroke="#1f2d3d"/><text x="{x:.0}" y="{:.0}" text-anchor="middle" font-size="13" font-weight="bold" fill="#1f2d3d">{}</text><text x="{x:.0}" y="{:.0}" text-anchor="middle" fill="#555">{}</text>"##,
                x - 70.0,
                top - 44.0,
                top - 28.0,
                esc(sim.host_name(*h)),
                top - 13.0,
                esc(&shorten(&addrs.join(", "), 24))
            );
            let mut y0 = top - 6.0;
            for (c0, c1, _) in &cuts {
                let _ = writeln!(
                    s,
                    r##"<line x1="{x:.0}" y1="{y0:.1}" x2="{x:.0}" y2="{c0:.1}" stroke="#1f2d3d" stroke-width="2"/><line x1="{x:.0}" y1="{c0:.1}" x2="{x:.0}" y2="{c1:.1}" stroke="#1f2d3d" stroke-width="2" stroke-dasharray="2,4"/>"##
                );
                y0 = *c1;
            }
            let _ = writeln!(
                s,
                r##"<line x1="{x:.0}" y1="{y0:.1}" x2="{x:.0}" y2="{bottom:.1}" stroke="#1f2d3d" stroke-width="2"/>"##
            );
        }
        // Cuts: a label across the picture.
        for (c0, c1, d) in &cuts {
            let mid = (c0 + c1) / 2.0;
            let _ = writeln!(
                s,
                r##"<line x1="6" y1="{mid:.1}" x2="{:.0}" y2="{mid:.1}" stroke="#bbb" stroke-dasharray="1,5"/><rect x="{:.0}" y="{:.1}" width="100" height="16" rx="8" fill="#f4f4f4" stroke="#bbb"/><text x="{:.0}" y="{:.1}" text-anchor="middle" fill="#555" font-style="italic">… {} …</text>"##,
                width - 6.0,
                axis_w - 64.0,
                mid - 8.0,
                axis_w - 14.0,
                mid + 4.0,
                span_text(*d)
            );
        }
        // Time labels.
        for (t, y) in &y_of {
            if rows.get(t).is_some_and(|r| r.1) {
                let _ = writeln!(
                    s,
                    r##"<text x="10" y="{:.1}" fill="#777" font-size="10">{}</text><line x1="{:.0}" y1="{y:.1}" x2="{:.0}" y2="{y:.1}" stroke="#e4e4e4"/>"##,
                    y + 3.5,
                    secs_text(t.as_secs_f64()),
                    50.0,
                    axis_w - 4.0
                );
            }
        }
        // Notes beside the timelines, stacked per instant, host and column.
        let mut used: HashMap<(Instant, HostId, bool), usize> = HashMap::new();
        for nt in &story.notes {
            let Some(i) = hosts.iter().position(|h| *h == nt.host) else {
                continue;
            };
            let call = nt.kind == NoteKind::Call;
            let k = used.entry((nt.at, nt.host, call)).or_default();
            let y = y_at(nt.at) + 4.0 + LINE_H * *k as f64;
            *k += 1;
            let dir = side(nt.host);
            let x = lane_x[i] + dir * if call { state_w + 6.0 } else { 10.0 };
            let anchor = if dir < 0.0 { "end" } else { "start" };
            match nt.kind {
                NoteKind::State => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{x:.0}" y="{y:.1}" text-anchor="{anchor}" font-weight="bold" fill="#1a5fb4">{}</text>"##,
                        esc(&nt.text)
                    );
                }
                NoteKind::Timer => {
                    let cx = lane_x[i];
                    let cy = y - 4.0;
                    let _ = writeln!(
                        s,
                        r##"<g stroke="#c06000" fill="#fff4e6"><circle cx="{cx:.0}" cy="{cy:.1}" r="6"/><path d="M{cx:.0},{:.1} L{cx:.0},{cy:.1} L{:.0},{cy:.1}" fill="none"/></g><text x="{x:.0}" y="{y:.1}" text-anchor="{anchor}" fill="#c06000" font-weight="bold">{}</text>"##,
                        cy - 4.0,
                        cx + 3.0,
                        esc(&nt.text)
                    );
                }
                NoteKind::Drop => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{x:.0}" y="{y:.1}" text-anchor="{anchor}" fill="#b03030" font-size="10">{}</text>"##,
                        esc(&nt.text)
                    );
                }
                NoteKind::Call => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{x:.0}" y="{y:.1}" text-anchor="{anchor}" fill="#777" font-family="DejaVu Sans Mono, monospace" font-size="10">{}</text>"##,
                        esc(&nt.text)
                    );
                }
            }
        }
        // Arrows.
        for (a, (s0, s1)) in story.arrows.iter().zip(&slot_of) {
            let Some(fi) = hosts.iter().position(|h| *h == a.from) else {
                continue;
            };
            let x0 = lane_x[fi];
            let y0 = y_at(a.sent) + SLOT * *s0 as f64;
            let (x1, y1) = match a.to.and_then(|t| hosts.iter().position(|h| *h == t)) {
                Some(ti) => (lane_x[ti], y_at(a.arrive) + SLOT * *s1 as f64),
                None => (x0 + if fi == 0 { gap } else { -gap } * 0.6, y0 + 30.0),
            };
            let (dx, dy) = (x1 - x0, y1 - y0);
            let lost = matches!(a.fate, Fate::Lost(_));
            let in_flight = a.fate == Fate::InFlight;
            let colour = if lost || a.rst {
                "#b03030"
            } else if a.retransmit {
                "#c06000"
            } else {
                "#1f2d3d"
            };
            let head = if lost || in_flight {
                ""
            } else if a.rst {
                r#" marker-end="url(#head-r)""#
            } else if a.retransmit {
                r#" marker-end="url(#head-o)""#
            } else {
                r#" marker-end="url(#head-k)""#
            };
            let frac = if lost || in_flight { 0.55 } else { 1.0 };
            let (ex, ey) = (x0 + dx * frac, y0 + dy * frac);
            let dash = if in_flight {
                r#" stroke-dasharray="2,3""#
            } else if a.retransmit {
                r#" stroke-dasharray="6,3""#
            } else {
                ""
            };
            let _ = writeln!(
                s,
                r##"<line x1="{x0:.1}" y1="{y0:.1}" x2="{ex:.1}" y2="{ey:.1}" stroke="{colour}" stroke-width="1.5"{dash}{head}/>"##
            );
            if lost {
                let _ = writeln!(
                    s,
                    r##"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="#d01010" stroke-width="3" class="lost"/>"##,
                    ex - 7.0,
                    ey - 7.0,
                    ex + 7.0,
                    ey + 7.0,
                    ex - 7.0,
                    ey + 7.0,
                    ex + 7.0,
                    ey - 7.0
                );
            }
            // The label rides on the arrow near its sender, so arrows crossing at the
            // middle (simultaneous close) keep their labels apart.
            let at = 0.3;
            let (lx, ly) = (x0 + dx * at, y0 + dy * at);
            let mut ang = dy.atan2(dx).to_degrees();
            if dx < 0.0 {
                ang = (-dy).atan2(-dx).to_degrees();
            }
            let mut text = a.label.clone();
            if a.retransmit {
                text.push_str(" (retransmission)");
            }
            if let Some(note) = &a.note {
                text.push_str(", ");
                text.push_str(note);
            }
            let _ = writeln!(
                s,
                r##"<text x="{lx:.1}" y="{:.1}" text-anchor="middle" fill="{colour}" transform="rotate({ang:.2} {lx:.1} {ly:.1})">{}</text>"##,
                ly - 4.0,
                esc(&text)
            );
            match &a.fate {
                Fate::Lost(why) => {
                    let anchor = if dx < 0.0 { "end" } else { "start" };
                    let nx = ex + if dx < 0.0 { -10.0 } else { 10.0 };
                    let _ = writeln!(
                        s,
                        r##"<text x="{nx:.1}" y="{:.1}" text-anchor="{anchor}" fill="#d01010" font-size="10">{}</text>"##,
                        ey + 14.0,
                        esc(why)
                    );
                }
                Fate::InFlight => {
                    let anchor = if dx < 0.0 { "end" } else { "start" };
                    let nx = ex + if dx < 0.0 { -6.0 } else { 6.0 };
                    let _ = writeln!(
                        s,
                        r##"<text x="{nx:.1}" y="{:.1}" text-anchor="{anchor}" fill="#777" font-size="10">… still in flight when the run ends</text>"##,
                        ey + 4.0
                    );
                }
                Fate::Dropped(_) | Fate::Delivered => {}
            }
        }
        // Legend and notes at the bottom.
        for (i, l) in foot_lines.iter().enumerate() {
            let _ = writeln!(
                s,
                r##"<text x="20" y="{:.0}" fill="#333">{}</text>"##,
                bottom + 14.0 + 16.0 * i as f64,
                esc(l)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

/// A segment's identity between its sending and its delivery.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct SegKey(SocketAddr, SocketAddr, u8, u32, u32, u32, u16);

impl SegKey {
    fn of(s: &SegmentInfo) -> SegKey {
        SegKey(s.src, s.dst, s.flags.0, s.seq, s.ack, s.len, s.win)
    }
}

/// The most common delivery delay in the run (where a lost segment's cross is drawn).
fn typical_flight(events: &[SimEvent]) -> Option<Duration> {
    let mut sent: HashMap<SegKey, Instant> = HashMap::new();
    let mut count: HashMap<Duration, usize> = HashMap::new();
    for e in events.iter().take(5000) {
        match &e.kind {
            SimEventKind::Stack(EventKind::Send(s)) => {
                sent.insert(SegKey::of(s), e.at);
            }
            SimEventKind::Delivered { seg: Some(s) } => {
                if let Some(t) = sent.get(&SegKey::of(s)) {
                    *count.entry(e.at.saturating_duration_since(*t)).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    count
        .into_iter()
        .max_by_key(|(d, n)| (*n, *d))
        .map(|(d, _)| d)
}
