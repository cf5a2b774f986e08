//! One host's TCP: socket table, demultiplexing, listeners, TIME_WAIT records, the
//! timer wheel, the transmit queue, counters and events.
use crate::conn::{self, Conn, Negotiated, Next, OutSeg};
use crate::ctx::{Ctrl, Ctx, Events, OowStamp};
use crate::demux::{Demux, Entry};
use crate::event::SegmentInfo;
use crate::fastopen;
use crate::listener::{FastOpenListen, Listener, Request};
use crate::opts::SockOpts;
use crate::secrets::Secrets;
use crate::slab::Slab;
use crate::syncookies::SynCookies;
use crate::timers::Timers;
use crate::timewait::{TimeWait, TwVerdict};
use crate::twtable::{TwId, TwTable};
use crate::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::{NonZeroU16, NonZeroU32, NonZeroU8};
use std::time::Duration;
use synack_wire::{IpInfo, Packet, SeqNum, TcpFlags, TcpOptions, TcpSegment, Timestamps};

/// Linux's default TTL / hop limit.
const TTL: u8 = 64;

/// The hasher of the listener and port tables: keys the host chooses itself (its bound
/// addresses and local ports), not ones a peer can craft, so speed matters more than
/// flooding resistance here; seeded, for determinism. (The 4-tuple tables, keyed by what
/// peers send, use Linux's secret jhash: `ehash`.)
type Keyed = foldhash::fast::FixedState;

/// What a completed handshake knows about the new connection.
struct Child {
    iss: u32,
    irs: u32,
    ts_off: u32,
    ts_recent: u32,
    neg: Negotiated,
    snd_wnd: u32,
    rcv_wnd: u32,
    /// When our SYN-ACK went out, if it was never retransmitted (an RTT sample).
    rtt_from: Option<Instant>,
    /// SYN-RECEIVED for a request, LISTEN for a cookie.
    from: TcpState,
}

/// Slots of connect()'s `table_perturb` (Linux: 65,536; fewer here, so that a simulation
/// of many hosts stays small: 16 KiB each).
const PERTURB_SLOTS: usize = 4096;

/// Where an entry's record says it is, for the demux table.
fn tuple_of<'a>(
    conns: &'a Slab<Conn>,
    reqs: &'a Slab<Request>,
) -> impl Fn(Entry) -> Option<(SocketAddr, SocketAddr)> + 'a {
    move |e| match e {
        Entry::Conn(i) => conns.get(i).map(|c| (c.local(), c.remote())),
        Entry::Req(r) => reqs.get(r).map(|q| (q.local, q.remote)),
    }
}

/// What a wheel entry points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimerRef {
    Conn(u32),
    Req(u32),
}

#[derive(Clone, Copy, Debug)]
enum Tx {
    Conn(u32),
    Req(u32),
}

enum SockKind {
    /// socket(), maybe bind().
    Fresh,
    Listening(u32),
    Conn(u32),
}

/// A descriptor. A connection's socket is 16 bytes: its options and addresses live in the
/// connection; only a socket not (yet) connected keeps them here, boxed, and only once
/// one is set or it is bound.
struct Socket {
    kind: SockKind,
    setup: Option<Box<Setup>>,
}

/// Options and address of a socket before connect() or of a listener (`None`: all
/// defaults, not bound).
#[derive(Clone, Copy, Default)]
struct Setup {
    opts: SockOpts,
    /// TCP_FASTOPEN / TCP_FASTOPEN_KEY set before listen().
    fastopen: FastOpenListen,
    /// bind()'s address (a listener's too).
    bound: Option<SocketAddr>,
}

impl Socket {
    fn setup(&self) -> Setup {
        self.setup.as_deref().copied().unwrap_or_default()
    }
    fn setup_mut(&mut self) -> &mut Setup {
        self.setup.get_or_insert_with(Box::default)
    }
}

/// Who uses a local port.
#[derive(Default)]
struct PortUse {
    /// Sockets that bind()-ed it, with SO_REUSEADDR and whether they listen.
    binds: Vec<(IpAddr, bool, bool, Fd)>,
    /// Connections that got it from connect().
    conns: u32,
    /// TIME_WAIT records holding it.
    tws: u32,
}

/// One host's TCP: sockets, demux, timers, counters, events.
///
/// Call order (quinn-proto style): feed inputs with `handle_packet` / `handle_timeout` /
/// socket calls, then drain `poll_transmit` until it returns false, then sleep until
/// `poll_timeout()`. Every call takes the current time; time never goes backwards
/// (an earlier `now` is treated as the latest seen).
pub struct Stack {
    config: Config,
    addrs: Vec<IpAddr>,
    counters: Counters,
    events: Events,
    secrets: Secrets,
    /// Fast Open cookies learned from servers (the client side).
    fo_cache: fastopen::CookieCache,
    /// RFC 5961 challenge ACKs left this second, host-wide.
    challenge: crate::ctx::ChallengeBudget,
    cookies: SynCookies,
    sockets: Vec<Option<Socket>>,
    free_fds: BinaryHeap<Reverse<u32>>,
    conns: Slab<Conn>,
    reqs: Slab<Request>,
    /// TIME_WAIT and orphaned FIN_WAIT_2 records: a table of their own (`twtable`).
    tws: TwTable,
    listeners: Slab<Listener>,
    demux: Demux,
    listen_map: HashMap<SocketAddr, u32, Keyed>,
    ports: HashMap<u16, PortUse, Keyed>,
    timers: Timers<TimerRef>,
    txq: VecDeque<Tx>,
    ctrl: VecDeque<Ctrl>,
    scratch: Vec<u8>,
    last_now: Instant,
    /// Packets waiting for `process_backlog` (at most net.core.netdev_max_backlog).
    backlog: VecDeque<Vec<u8>>,
    /// connect()'s port search memory (`table_perturb`); allocated at the first connect().
    perturb: Vec<u32>,
    /// Orphaned connections still closing (bounded by net.ipv4.tcp_max_orphans).
    orphans: u32,
    /// Emptied packet buffers, reused so a busy ingress allocates nothing.
    spare: Vec<Vec<u8>>,
    /// The driver said the link takes no packets now (`set_link_blocked`).
    link_blocked: bool,
    /// A connection asked to transmit and then had nothing to send, more times in a row
    /// than the queue is long: a bug (a `wants_tx` the transmit path does not honour),
    /// which `poll_transmit` survives by stopping and `check_invariants` reports.
    stalled: bool,
}

macro_rules! cx {
    ($s:ident, $now:expr) => {
        Ctx {
            now: $now,
            cfg: &$s.config,
            counters: &mut $s.counters,
            events: &mut $s.events,
            ctrl: &mut $s.ctrl,
            challenge: &mut $s.challenge,
            link_blocked: $s.link_blocked,
        }
    };
}

fn fd_index(fd: Fd) -> Option<usize> {
    (fd.0 as usize).checked_sub(3)
}

fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// A socket call's return value as strace would print it.
trait CallResult {
    fn show(&self) -> String;
}
impl CallResult for () {
    fn show(&self) -> String {
        "0".into()
    }
}
impl CallResult for usize {
    fn show(&self) -> String {
        self.to_string()
    }
}
impl CallResult for Fd {
    fn show(&self) -> String {
        self.0.to_string()
    }
}
impl CallResult for (Fd, SocketAddr) {
    fn show(&self) -> String {
        format!("{} (peer {})", self.0 .0, self.1)
    }
}

fn result_str<T: CallResult>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(v) => v.show(),
        Err(e) => format!("-1 {}", e.name()),
    }
}

impl Stack {
    /// A host with the given addresses (the first of each family is the default source).
    pub fn new(config: Config, addrs: &[IpAddr]) -> Stack {
        let secrets = Secrets::new(config.seed);
        let k = secrets.demux_key;
        Stack {
            addrs: addrs.to_vec(),
            counters: Counters::default(),
            events: Events::default(),
            sockets: Vec::new(),
            free_fds: BinaryHeap::new(),
            conns: Slab::default(),
            reqs: Slab::default(),
            tws: TwTable::new((k.1 ^ 0x7477, k.0)),
            listeners: Slab::default(),
            demux: Demux::new(k),
            listen_map: HashMap::with_hasher(Keyed::with_seed(k.1)),
            ports: HashMap::with_hasher(Keyed::with_seed(k.0 ^ 1)),
            timers: Timers::new(),
            txq: VecDeque::new(),
            ctrl: VecDeque::new(),
            scratch: Vec::new(),
            last_now: Instant::ZERO,
            backlog: VecDeque::new(),
            orphans: 0,
            perturb: Vec::new(),
            spare: Vec::new(),
            cookies: SynCookies::new(secrets.cookie_keys),
            secrets,
            fo_cache: fastopen::CookieCache::default(),
            challenge: crate::ctx::ChallengeBudget::new(config.seed),
            link_blocked: false,
            stalled: false,
            config,
        }
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// Change a setting at run time (like writing /proc/sys). Affects new decisions only.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }
    pub fn addrs(&self) -> &[IpAddr] {
        &self.addrs
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    /// Record events (off by default: a benchmark pays nothing for them).
    pub fn set_capture(&mut self, on: bool) {
        self.events.on = on;
    }
    /// Take the events recorded since the last call, oldest first.
    pub fn drain_events(&mut self) -> std::collections::vec_deque::Drain<'_, Event> {
        self.events.list.drain(..)
    }
    /// Events dropped because nobody drained them in time.
    pub fn events_lost(&self) -> u64 {
        self.events.lost
    }

    fn clock(&mut self, now: Instant) -> Instant {
        if now > self.last_now {
            self.last_now = now;
        }
        self.last_now
    }

    // ------------------------------------------------------------------ inputs

    /// An IP packet arrived from the network.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        let now = self.clock(now);
        let pkt = match synack_wire::parse(bytes) {
            Ok(p) => p,
            Err(synack_wire::ParseError::NotTcp) if self.icmp(now, bytes) => return,
            Err(e) => {
                // Exactly what Linux counts for this error: a packet that is not TCP (the
                // kernel's own router solicitations on a fresh device) is no TCP error.
                for name in e.counters() {
                    if let Some(c) = Counter::from_name(name) {
                        self.counters.incr(c);
                    }
                }
                self.events.push(now, || EventKind::Drop {
                    seg: None,
                    reason: DropReason::Malformed(e),
                });
                return;
            }
        };
        let src = SocketAddr::new(pkt.ip.src, pkt.tcp.src_port);
        let dst = SocketAddr::new(pkt.ip.dst, pkt.tcp.dst_port);
        let seg = pkt.tcp;
        if !self.addrs.contains(&pkt.ip.dst) {
            self.counters.incr(Counter::IpInAddrErrors);
            self.events.push(now, || EventKind::Drop {
                seg: Some(conn::seg_info(src, dst, &seg)),
                reason: DropReason::NotOurAddress,
            });
            return;
        }
        self.counters.incr(Counter::InSegs);
        self.events
            .push(now, || EventKind::Recv(conn::seg_info(src, dst, &seg)));
        self.dispatch(now, src, dst, &seg);
    }

    /// Queue a packet for `process_backlog`, like a NIC handing packets to the kernel's
    /// per-CPU input queue: beyond net.core.netdev_max_backlog waiting packets, it is
    /// dropped (IpInDiscards) — the work a flood can cause per poll is bounded.
    /// Returns false when dropped.
    pub fn enqueue_packet(&mut self, bytes: &[u8]) -> bool {
        if self.backlog.len() >= self.config.netdev_max_backlog as usize {
            self.counters.incr(Counter::IpInDiscards);
            self.events.push(self.last_now, || EventKind::Drop {
                seg: None,
                reason: DropReason::BacklogFull,
            });
            return false;
        }
        let mut b = self.spare.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(bytes);
        self.backlog.push_back(b);
        true
    }

    /// Process the packets queued by `enqueue_packet`, oldest first.
    pub fn process_backlog(&mut self, now: Instant) {
        while let Some(b) = self.backlog.pop_front() {
            self.handle_packet(now, &b);
            if self.spare.len() < 64 {
                self.spare.push(b);
            }
        }
    }

    /// Packets waiting in the input queue.
    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    /// The connection or request of a 4-tuple (local, remote).
    fn find(&self, local: SocketAddr, remote: SocketAddr) -> Option<Entry> {
        self.demux
            .get(local, remote, tuple_of(&self.conns, &self.reqs))
    }

    fn dispatch(&mut self, now: Instant, src: SocketAddr, dst: SocketAddr, seg: &TcpSegment<'_>) {
        match self.find(dst, src) {
            Some(Entry::Conn(i)) => self.conn_segment(now, i, src, dst, seg),
            Some(Entry::Req(i)) => self.req_segment(now, i, src, dst, seg),
            None => match self.tws.find(dst, src) {
                Some(t) => self.tw_segment(now, t, src, dst, seg),
                None => self.no_conn_segment(now, src, dst, seg, None),
            },
        }
    }

    fn drop_seg(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        reason: DropReason,
    ) {
        self.events.push(now, || EventKind::Drop {
            seg: Some(conn::seg_info(src, dst, seg)),
            reason,
        });
    }

    fn conn_segment(
        &mut self,
        now: Instant,
        i: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
    ) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let mut cx = cx!(self, now);
        let (next, rst) = c.on_segment(&mut cx, seg);
        if rst {
            cx.reset_reply(dst, src, seg);
        }
        if let Some(l) = c.fo.if_any().and_then(|f| f.learned.take()) {
            let cookie = l
                .cookie
                .as_ref()
                .map(|((k, n), exp)| (&k[..usize::from(*n)], *exp));
            self.fo_cache.set(src.ip(), l.mss, cookie, l.try_exp);
        }
        self.apply_next(now, i, next);
    }

    /// No connection: a listener, or a RST.
    fn no_conn_segment(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        reopen_isn: Option<u32>,
    ) {
        let l = self
            .listen_map
            .get(&dst)
            .or_else(|| {
                self.listen_map
                    .get(&SocketAddr::new(unspecified(dst.ip()), dst.port()))
            })
            .copied();
        let Some(l) = l else {
            self.drop_seg(now, src, dst, seg, DropReason::NoSocket);
            let mut cx = cx!(self, now);
            cx.reset_reply(dst, src, seg);
            return;
        };
        if seg.flags.rst() {
            self.drop_seg(now, src, dst, seg, DropReason::ListenIgnored);
            return;
        }
        if seg.flags.ack() && self.cookie_ack(now, l, src, dst, seg) {
            return;
        }
        if seg.flags.ack() {
            // A bare ACK (or SYN-ACK) for a request we no longer have: RST.
            self.drop_seg(now, src, dst, seg, DropReason::ListenIgnored);
            let mut cx = cx!(self, now);
            cx.reset_reply(dst, src, seg);
            return;
        }
        if !seg.flags.syn() {
            self.drop_seg(now, src, dst, seg, DropReason::ListenIgnored);
            return;
        }
        self.listener_syn(now, l, src, dst, seg, reopen_isn);
    }

    /// A SYN for a listener: the drop rules, then a request in the SYN queue.
    fn listener_syn(
        &mut self,
        now: Instant,
        l: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        reopen_isn: Option<u32>,
    ) {
        let cfg = &self.config;
        let Some(lis) = self.listeners.get(l) else {
            return;
        };
        let syn_limit = lis.syn_limit(cfg);
        let acc_full = lis.accept_full(cfg);
        let qlen = lis.syn_q;
        let cookies = cfg.tcp_syncookies;
        let max_syn = cfg.tcp_max_syn_backlog;
        let overflow = match cfg.profile {
            Profile::Seed => acc_full && lis.young > 1,
            Profile::Linux => acc_full,
        };
        let opts = lis.opts;
        // The document's queue is full at its maximum; Linux 6.x's when it is *longer*
        // than the accept-queue limit (`inet_csk_reqsk_queue_is_full`).
        let syn_full = match cfg.profile {
            Profile::Seed => qlen >= syn_limit,
            Profile::Linux => qlen > syn_limit,
        };
        // `tcp_conn_request`: cookies always (2) or when the SYN queue is full (1);
        // a full queue without cookies drops the SYN.
        let want_cookie = reopen_isn.is_none() && (cookies == 2 || syn_full);
        if want_cookie && cookies == 0 {
            self.counters.incr(Counter::TcpReqQFullDrop);
            self.counters.incr(Counter::ListenDrops);
            self.drop_seg(now, src, dst, seg, DropReason::SynQueueFull);
            return;
        }
        if want_cookie {
            self.counters.incr(Counter::TcpReqQFullDoCookies);
        }
        if overflow {
            self.counters.incr(Counter::ListenOverflows);
            self.counters.incr(Counter::ListenDrops);
            self.drop_seg(now, src, dst, seg, DropReason::ListenOverflow);
            return;
        }
        // Rule 3: without cookies, the last quarter of tcp_max_syn_backlog is kept free
        // (Linux drops these quietly: only ListenDrops counts them).
        let pressure = cookies == 0 && max_syn.saturating_sub(qlen) < (max_syn >> 2);
        if !want_cookie && pressure {
            self.counters.incr(Counter::ListenDrops);
            self.drop_seg(now, src, dst, seg, DropReason::SynQueueFull);
            return;
        }
        if want_cookie {
            self.send_cookie(now, l, src, dst, seg);
            return;
        }
        let fastopen_reply = match self.try_fastopen(l, src, dst, seg) {
            FastOpenVerdict::Child => {
                self.fastopen_child(now, l, src, dst, seg);
                return;
            }
            FastOpenVerdict::Reply { exp } => 1 + exp as u8,
            FastOpenVerdict::None => 0,
        };
        let cfg = &self.config;

        let o = &seg.options;
        let neg = Negotiated::from_syn(cfg, &opts, o);
        let advmss = conn::advmss(cfg, dst, opts.maxseg);
        let mss_w = if neg.ts {
            advmss.saturating_sub(conn::TS_LEN)
        } else {
            advmss
        };
        let rcv_wnd = conn::initial_rcv_window(
            conn::window_share(opts.rcvbuf(cfg)),
            mss_w,
            neg.wscale.map_or(0, |w| w.1),
        );
        let iss = reopen_isn.unwrap_or_else(|| {
            self.secrets
                .isn(dst.ip(), dst.port(), src.ip(), src.port(), now.as_micros())
        });
        let ts_off = self.secrets.ts_offset(dst.ip(), src.ip());
        let req = Request {
            local: dst,
            remote: src,
            listener: l,
            iss,
            irs: seg.seq,
            ts_recent: o.timestamps.map(|t| t.val).unwrap_or(0),
            ts_off,
            neg,
            rcv_wnd,
            advmss,
            fastopen_reply,
            num_timeout: 0,
            num_retrans: 0,
            acked: false,
            synack_pending: true,
            first_synack: None,
            last_oow_ack: OowStamp::default(),
            timer: None,
        };
        let r = self.reqs.insert(req);
        self.demux
            .insert(dst, src, Entry::Req(r), tuple_of(&self.conns, &self.reqs));
        if let Some(lis) = self.listeners.get_mut(l) {
            lis.syn_q += 1;
            lis.young += 1;
        }
        self.events
            .state(now, dst, src, TcpState::Listen, TcpState::SynRecv);
        let deadline = now + conn::RTO_INIT;
        let id = self.timers.insert(deadline, TimerRef::Req(r));
        if let Some(req) = self.reqs.get_mut(r) {
            req.timer = Some((id, deadline));
        }
        self.txq.push_back(Tx::Req(r));
    }

    /// `tcp_try_fastopen()`: what a SYN to a listener means for Fast Open.
    fn try_fastopen(
        &mut self,
        l: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
    ) -> FastOpenVerdict {
        let fo = seg.options.fast_open;
        let syn_data = !seg.payload.is_empty() || seg.flags.fin();
        if fo.is_some_and(|f| f.cookie().is_empty()) {
            self.counters.incr(Counter::TcpFastOpenCookieReqd);
        }
        let Some(lis) = self.listeners.get(l) else {
            return FastOpenVerdict::None;
        };
        let settings = lis.fastopen;
        let server = self.config.tcp_fastopen & fastopen::bits::SERVER != 0;
        if !server || !(syn_data || fo.is_some()) || settings.max_qlen == 0 {
            return FastOpenVerdict::None;
        }
        if lis.fastopen_qlen >= settings.max_qlen {
            self.counters.incr(Counter::TcpFastOpenListenOverflow);
            return FastOpenVerdict::None;
        }
        if self.config.tcp_fastopen & fastopen::bits::SERVER_COOKIE_NOT_REQD != 0 {
            return FastOpenVerdict::Child;
        }
        let Some(fo) = fo else {
            return FastOpenVerdict::None;
        };
        let exp = fo.kind == synack_wire::FastOpenKind::Experimental;
        let got = fo.cookie();
        if got.is_empty() {
            return FastOpenVerdict::Reply { exp };
        }
        let (primary, backup) = self.fastopen_keys(&settings);
        let valid = |k: &[u8; 16]| got == fastopen::cookie(k, src.ip(), dst.ip());
        if valid(&primary) {
            FastOpenVerdict::Child
        } else if backup.as_ref().is_some_and(valid) {
            // Made with the backup key: accepted, and Linux counts it apart.
            self.counters.incr(Counter::TcpFastOpenPassiveAltKey);
            FastOpenVerdict::Child
        } else {
            self.counters.incr(Counter::TcpFastOpenPassiveFail);
            FastOpenVerdict::Reply { exp }
        }
    }

    /// A Fast Open SYN with a good cookie: the child is made now, straight into the
    /// accept queue, with the SYN's data readable before the handshake completes.
    fn fastopen_child(
        &mut self,
        now: Instant,
        l: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
    ) {
        let cfg = &self.config;
        let Some(lis) = self.listeners.get(l) else {
            return;
        };
        let opts = lis.opts;
        let o = &seg.options;
        let neg = Negotiated::from_syn(cfg, &opts, o);
        let iss = self
            .secrets
            .isn(dst.ip(), dst.port(), src.ip(), src.port(), now.as_micros());
        let ts_off = self.secrets.ts_offset(dst.ip(), src.ip());
        let ts_recent = o.timestamps.map(|t| t.val).unwrap_or(0);
        let mut cx = cx!(self, now);
        cx.events
            .state(now, dst, src, TcpState::Listen, TcpState::SynRecv);
        let was = cx.events.on;
        cx.events.on = false;
        let mut child = Conn::fastopen_child(
            &mut cx,
            dst,
            src,
            opts,
            iss,
            seg.seq,
            ts_off,
            ts_recent,
            neg,
            u32::from(seg.window),
            seg.payload,
        );
        cx.events.on = was;
        cx.incr(Counter::PassiveOpens);
        cx.incr(Counter::TcpFastOpenPassive);
        child.listener = Some(l);
        child.fastopen_listener = Some(l);
        let i = self.conns.insert(child);
        self.demux
            .insert(dst, src, Entry::Conn(i), tuple_of(&self.conns, &self.reqs));
        if let Some(lis) = self.listeners.get_mut(l) {
            lis.accept_q.push_back(i);
            lis.fastopen_qlen += 1;
        }
        self.refresh(now, i);
    }

    /// Answer a SYN statelessly: the SYN-ACK's ISN is a SYN cookie; with timestamps, the
    /// TSval's low bits keep the window scale and SACK permission (`cookie_v4_init_sequence`).
    fn send_cookie(
        &mut self,
        now: Instant,
        l: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
    ) {
        let cfg = &self.config;
        let o = &seg.options;
        let v6 = dst.is_ipv6();
        let peer_mss = o.mss.unwrap_or(conn::MSS_DEFAULT);
        let idx = SynCookies::mss_index(peer_mss, v6);
        let minute = (now.as_micros() / 60_000_000) as u32;
        let iss = self.cookies.make(src, dst, seg.seq, idx, minute);
        let ts_ok = cfg.tcp_timestamps != 0 && o.timestamps.is_some();
        let sack = cfg.tcp_sack && o.sack_permitted;
        let peer_wscale = if cfg.tcp_window_scaling {
            o.window_scale.map(|w| w.min(14))
        } else {
            None
        };
        let opts = self.listeners.get(l).map(|x| x.opts).unwrap_or_default();
        // Without timestamps there is nowhere to keep window scale or SACK: not offered.
        let (wscale, sack) = if ts_ok {
            (peer_wscale.map(|_| conn::our_wscale(cfg, &opts)), sack)
        } else {
            (None, false)
        };
        // The offset is a keyed hash: computed only when a TSval is sent (a flood's SYNs
        // without timestamps skip it).
        let ts = ts_ok.then(|| Timestamps {
            val: SynCookies::encode_ts(now.as_millis() as u32, peer_wscale, sack)
                .wrapping_add(self.secrets.ts_offset(dst.ip(), src.ip())),
            ecr: o.timestamps.map(|t| t.val).unwrap_or(0),
        });
        let advmss = conn::advmss(cfg, dst, opts.maxseg);
        let mss_w = if ts_ok {
            advmss.saturating_sub(conn::TS_LEN)
        } else {
            advmss
        };
        let win = conn::initial_rcv_window(conn::window_share(opts.rcvbuf(cfg)), mss_w, 0) as u16;
        let c = Ctrl {
            src: dst,
            dst: src,
            seq: iss,
            ack: seg.seq.wrapping_add(1),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            win,
            ts,
            syn: Some(crate::ctx::SynOptions {
                mss: advmss,
                wscale,
                sack,
            }),
        };
        self.counters.incr(Counter::SyncookiesSent);
        if let Some(lis) = self.listeners.get_mut(l) {
            lis.last_overflow = Some(now);
        }
        let mut cx = cx!(self, now);
        cx.send_ctrl(c);
    }

    /// A bare ACK for a listener with no request: a SYN cookie coming back? If valid, the
    /// connection is created straight into the accept queue (`cookie_v4_check`).
    fn cookie_ack(
        &mut self,
        now: Instant,
        l: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
    ) -> bool {
        let cfg = &self.config;
        let Some(lis) = self.listeners.get(l) else {
            return false;
        };
        let recent = lis
            .last_overflow
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(120));
        if cfg.tcp_syncookies == 0 || !recent || seg.flags.syn() || seg.flags.rst() {
            return false;
        }
        let v6 = dst.is_ipv6();
        let minute = (now.as_micros() / 60_000_000) as u32;
        let client_isn = seg.seq.wrapping_sub(1);
        let Some(idx) = self
            .cookies
            .check(src, dst, client_isn, seg.ack.wrapping_sub(1), minute)
        else {
            self.counters.incr(Counter::SyncookiesFailed);
            return false;
        };
        let ts_off = self.secrets.ts_offset(dst.ip(), src.ip());
        let (wscale, sack, ts) = match seg.options.timestamps {
            Some(t) if cfg.tcp_timestamps != 0 => {
                let (w, s) = SynCookies::decode_ts(t.ecr.wrapping_sub(ts_off));
                (w, s && cfg.tcp_sack, true)
            }
            _ => (None, false, false),
        };
        if lis.accept_full(cfg) {
            self.counters.incr(Counter::ListenOverflows);
            self.counters.incr(Counter::ListenDrops);
            self.drop_seg(now, src, dst, seg, DropReason::ListenOverflow);
            return true;
        }
        self.counters.incr(Counter::SyncookiesRecv);
        let opts = lis.opts;
        let neg = Negotiated {
            peer_mss: SynCookies::mss_of(idx, v6),
            wscale: wscale
                .filter(|_| cfg.tcp_window_scaling)
                .map(|w| (w, conn::our_wscale(cfg, &opts))),
            sack,
            ts,
        };
        let advmss = conn::advmss(cfg, dst, opts.maxseg);
        let mss_w = if ts {
            advmss.saturating_sub(conn::TS_LEN)
        } else {
            advmss
        };
        let rcv_wnd = conn::initial_rcv_window(
            conn::window_share(opts.rcvbuf(cfg)),
            mss_w,
            neg.wscale.map_or(0, |w| w.1),
        );
        let snd_wnd = (seg.window as u32) << neg.wscale.map(|w| w.0).unwrap_or(0);
        let child = Child {
            iss: seg.ack.wrapping_sub(1),
            irs: client_isn,
            ts_off,
            ts_recent: seg.options.timestamps.map(|t| t.val).unwrap_or(0),
            neg,
            snd_wnd,
            rcv_wnd,
            rtt_from: None,
            from: TcpState::Listen,
        };
        self.spawn_child(now, l, src, dst, seg, child);
        true
    }

    /// Remove a request from the SYN queue and the demux table.
    fn drop_request(&mut self, r: u32) -> Option<Request> {
        let req = self.reqs.remove(r)?;
        if let Some((id, _)) = req.timer {
            self.timers.cancel(id);
        }
        self.demux.remove(req.local, req.remote, Entry::Req(r));
        if let Some(lis) = self.listeners.get_mut(req.listener) {
            lis.syn_q = lis.syn_q.saturating_sub(1);
            if req.num_timeout == 0 {
                lis.young = lis.young.saturating_sub(1);
            }
        }
        Some(req)
    }

    fn rearm_req(&mut self, r: u32, deadline: Instant) {
        let Some(req) = self.reqs.get_mut(r) else {
            return;
        };
        if let Some((id, _)) = req.timer.take() {
            self.timers.cancel(id);
        }
        let id = self.timers.insert(deadline, TimerRef::Req(r));
        req.timer = Some((id, deadline));
    }

    /// A segment for a pending request (Linux `tcp_check_req`).
    fn req_segment(
        &mut self,
        now: Instant,
        r: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
    ) {
        let Some(req) = self.reqs.get(r) else { return };
        let irs1 = req.irs.wrapping_add(1);
        let in_window = {
            let s = seg.seq.wrapping_sub(irs1) as i32;
            let e = seg.seq.wrapping_add(seg.seq_len()).wrapping_sub(irs1) as i32;
            e >= 0 && s <= req.rcv_wnd as i32
        };
        if seg.flags.syn() && !seg.flags.ack() && !seg.flags.rst() && seg.seq == req.irs {
            // The client retransmitted its SYN: SYN-ACK again, restart the timer — at
            // most once per tcp_invalid_ratelimit (TcpExtTCPACKSkippedSynRecv), so a
            // stream of copies cannot make us amplify it.
            let nt = req.num_timeout;
            let Some(req) = self.reqs.get_mut(r) else {
                return;
            };
            let mut cx = cx!(self, now);
            if req
                .last_oow_ack
                .limited_for(&mut cx, seg, Counter::TcpAckSkippedSynRecv)
            {
                return;
            }
            req.num_retrans = req.num_retrans.saturating_add(1);
            req.synack_pending = true;
            self.txq.push_back(Tx::Req(r));
            let t = (conn::RTO_INIT * (1u32 << nt.min(10))).min(self.config.rto_max());
            self.rearm_req(r, now + t);
            return;
        }
        // tcp_check_req's order: an ACK of something we never sent is the listener's to
        // answer with a RST; then anything outside the window gets an ACK (rate limited)
        // and is dropped; then a RST or SYN inside it kills the embryo.
        if seg.flags.ack() && seg.ack != req.iss.wrapping_add(1) {
            self.drop_seg(now, src, dst, seg, DropReason::AckUnsent);
            if !seg.flags.rst() {
                let mut cx = cx!(self, now);
                cx.reset_reply(dst, src, seg);
            }
            return;
        }
        if !in_window {
            self.drop_seg(now, src, dst, seg, DropReason::OutOfWindow);
            if seg.flags.rst() {
                return;
            }
            let Some(req) = self.reqs.get_mut(r) else {
                return;
            };
            let mut cx = cx!(self, now);
            if !req
                .last_oow_ack
                .limited_for(&mut cx, seg, Counter::TcpAckSkippedSynRecv)
            {
                let ack = self.req_ack(now, r);
                self.ctrl.push_back(ack);
            }
            return;
        }
        if seg.flags.rst() || seg.flags.syn() {
            // RST, or a SYN at another sequence number: the embryo dies (an attempt
            // failure, then the embryonic reset).
            if !seg.flags.rst() {
                let mut cx = cx!(self, now);
                cx.reset_reply(dst, src, seg);
            }
            self.counters.incr(Counter::AttemptFails);
            self.counters.incr(Counter::EmbryonicRsts);
            self.events
                .state(now, dst, src, TcpState::SynRecv, TcpState::Closed);
            self.drop_request(r);
            return;
        }
        if !seg.flags.ack() {
            self.drop_seg(now, src, dst, seg, DropReason::BadFlags);
            return;
        }
        let l = req.listener;
        let full = self
            .listeners
            .get(l)
            .map(|lis| lis.accept_full(&self.config))
            .unwrap_or(true);
        if full {
            self.counters.incr(Counter::ListenOverflows);
            self.counters.incr(Counter::ListenDrops);
            self.drop_seg(now, src, dst, seg, DropReason::ListenOverflow);
            if self.config.tcp_abort_on_overflow {
                // tcp_check_req's embryonic_reset: the request is unlinked and counted.
                self.counters.incr(Counter::EmbryonicRsts);
                let mut cx = cx!(self, now);
                cx.reset_reply(dst, src, seg);
                self.events
                    .state(now, dst, src, TcpState::SynRecv, TcpState::Closed);
                self.drop_request(r);
            } else if let Some(req) = self.reqs.get_mut(r) {
                req.acked = true;
            }
            return;
        }
        // The handshake is complete: a child joins the accept queue.
        let Some(req) = self.drop_request(r) else {
            return;
        };
        let snd_wnd = (seg.window as u32) << req.neg.wscale.map(|w| w.0).unwrap_or(0);
        let ts_recent = seg
            .options
            .timestamps
            .map(|t| t.val)
            .unwrap_or(req.ts_recent);
        let rtt_from = if req.num_timeout == 0 && req.num_retrans == 0 {
            req.first_synack
        } else {
            None
        };
        let child = Child {
            iss: req.iss,
            irs: req.irs,
            ts_off: req.ts_off,
            ts_recent,
            neg: req.neg,
            snd_wnd,
            rcv_wnd: req.rcv_wnd,
            rtt_from,
            from: TcpState::SynRecv,
        };
        self.spawn_child(now, l, src, dst, seg, child);
    }

    /// A handshake completed (third ACK or SYN cookie): an established child joins the
    /// accept queue; data or FIN riding on the ACK is processed by it.
    fn spawn_child(
        &mut self,
        now: Instant,
        l: u32,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        k: Child,
    ) {
        let opts = self.listeners.get(l).map(|x| x.opts).unwrap_or_default();
        let mut cx = cx!(self, now);
        cx.events
            .state(now, dst, src, k.from, TcpState::Established);
        let was = cx.events.on;
        cx.events.on = false;
        let mut child = Conn::accepted(
            &mut cx,
            dst,
            src,
            opts,
            k.iss,
            k.irs,
            k.ts_off,
            k.ts_recent,
            k.neg,
            k.snd_wnd,
            k.rcv_wnd,
            k.rtt_from,
        );
        cx.events.on = was;
        cx.incr(Counter::PassiveOpens);
        child.listener = Some(l);
        let (next, rst) = if !seg.payload.is_empty() || seg.flags.fin() {
            child.on_segment(&mut cx, seg)
        } else {
            (Next::Keep, false)
        };
        if rst {
            cx.reset_reply(dst, src, seg);
        }
        let i = self.conns.insert(child);
        self.demux
            .insert(dst, src, Entry::Conn(i), tuple_of(&self.conns, &self.reqs));
        if let Some(lis) = self.listeners.get_mut(l) {
            lis.accept_q.push_back(i);
        }
        self.apply_next(now, i, next);
    }

    /// An ICMP error about one of our segments (`tcp_v4_err`, `tcp_v6_err`). Returns
    /// false when the bytes are not an ICMP message TCP acts on.
    fn icmp(&mut self, now: Instant, bytes: &[u8]) -> bool {
        let Ok(Some(e)) = synack_wire::parse_icmp(bytes) else {
            return false;
        };
        if !self.addrs.contains(&e.local.ip()) {
            return true;
        }
        match self.find(e.local, e.remote) {
            Some(Entry::Conn(i)) => {
                let Some(c) = self.conns.get_mut(i) else {
                    return true;
                };
                let mut cx = cx!(self, now);
                let next = c.on_icmp(&mut cx, e.kind, SeqNum(e.seq));
                self.apply_next(now, i, next);
            }
            Some(Entry::Req(r)) => {
                // tcp_req_err: an ICMP for another ISN is out of window; net or host
                // unreachable (and parameter problems) drop the request.
                let Some(req) = self.reqs.get(r) else {
                    return true;
                };
                let l = req.listener;
                if e.seq != req.iss {
                    self.counters.incr(Counter::OutOfWindowIcmps);
                } else if matches!(
                    e.kind,
                    synack_wire::IcmpKind::Unreachable { code: 0 | 1 }
                        | synack_wire::IcmpKind::ParameterProblem
                ) {
                    self.drop_request(r);
                    let _ = l;
                    self.counters.incr(Counter::ListenDrops);
                }
            }
            _ => {}
        }
        true
    }

    /// A bare ACK for a request (`tcp_v4_reqsk_send_ack`).
    fn req_ack(&self, now: Instant, r: u32) -> Ctrl {
        let req = self.reqs.get(r).expect("caller checked");
        Ctrl {
            src: req.local,
            dst: req.remote,
            seq: req.iss.wrapping_add(1),
            ack: req.irs.wrapping_add(1),
            flags: TcpFlags::ACK,
            win: (req.rcv_wnd >> req.neg.wscale.map(|w| w.1).unwrap_or(0)).min(65535) as u16,
            ts: req.neg.ts.then(|| Timestamps {
                val: (now.as_millis() as u32).wrapping_add(req.ts_off),
                ecr: req.ts_recent,
            }),
            syn: None,
        }
    }

    fn tw_segment(
        &mut self,
        now: Instant,
        t: TwId,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
    ) {
        let Some(mut tw) = self.tws.get(t, now) else {
            return;
        };
        tw.ts_off = self.secrets.ts_offset(tw.local.ip(), tw.remote.ip());
        let mut cx = cx!(self, now);
        let verdict = tw.on_segment(&mut cx, seg);
        match verdict {
            TwVerdict::Keep { restart } => {
                self.tws.put(t, &tw, now);
                if restart {
                    let len = self.config.time_wait_len;
                    self.tws.rearm(t, now, len);
                }
            }
            TwVerdict::Kill => self.remove_tw(now, t, false),
            TwVerdict::KillWithRst => {
                let mut cx = cx!(self, now);
                cx.reset_reply(dst, src, seg);
                self.remove_tw(now, t, false);
            }
            TwVerdict::Reopen { isn } => {
                self.remove_tw(now, t, false);
                self.no_conn_segment(now, src, dst, seg, Some(isn));
            }
        }
    }

    fn remove_tw(&mut self, now: Instant, t: TwId, expired: bool) {
        let Some(tw) = self.tws.remove(t, now) else {
            return;
        };
        if let Some(p) = self.ports.get_mut(&tw.local.port()) {
            p.tws = p.tws.saturating_sub(1);
        }
        self.gc_port(tw.local.port());
        if expired && tw.substate == TcpState::TimeWait {
            self.counters.incr(Counter::TimeWaited);
        }
        self.events
            .state(now, tw.local, tw.remote, tw.substate, TcpState::Closed);
    }

    /// Apply a connection's verdict: re-arm its timer, queue it for transmission, turn it
    /// into a TIME_WAIT record, or let it go.
    fn apply_next(&mut self, now: Instant, i: u32, next: Next) {
        // A Fast Open child that left SYN_RECV frees its place in the listener's Fast
        // Open queue (`reqsk_fastopen_remove`).
        if let Some(c) = self.conns.get_mut(i) {
            if c.fastopen_listener.is_some()
                && (c.state != TcpState::SynRecv || next == Next::Closed)
            {
                if let Some(lis) = c
                    .fastopen_listener
                    .take()
                    .and_then(|l| self.listeners.get_mut(l))
                {
                    lis.fastopen_qlen = lis.fastopen_qlen.saturating_sub(1);
                }
            }
        }
        match next {
            Next::Keep => self.refresh(now, i),
            Next::TimeWait(sub, dur) => self.enter_time_wait(now, i, sub, dur),
            Next::Closed => self.conn_closed(i),
        }
    }

    /// Keep the wheel entry at the connection's earliest deadline; queue it if it has
    /// something to send.
    fn refresh(&mut self, now: Instant, i: u32) {
        let cfg = &self.config;
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        c.check_probe_timer(now, cfg);
        c.schedule_trim(now);
        let want = c.next_deadline();
        let have = c.timer.map(|t| t.1);
        if want != have {
            if let Some((id, _)) = c.timer.take() {
                self.timers.cancel(id);
            }
            if let Some(d) = want {
                c.timer = Some((self.timers.insert(d, TimerRef::Conn(i)), d));
            }
        }
        if !c.queued && c.wants_tx() {
            c.queued = true;
            self.txq.push_back(Tx::Conn(i));
        }
    }

    fn enter_time_wait(&mut self, now: Instant, i: u32, sub: TcpState, dur: Duration) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        let key = (c.local(), c.remote());
        if let Some((id, _)) = c.timer.take() {
            self.timers.cancel(id);
        }
        let over = self.tws.len() as u32 >= self.config.tcp_max_tw_buckets;
        let pending_ack = c.wants_tx();
        let tw = TimeWait {
            local: c.local(),
            remote: c.remote(),
            substate: sub,
            snd_nxt: c.snd_nxt.0,
            rcv_nxt: c.rcv_nxt.0,
            rcv_wnd: c.receive_window(),
            wscale: c.rcv_wscale(),
            ts: c.neg.ts,
            ts_recent: c.ts_recent,
            ts_recent_age: Some(now.saturating_duration_since(c.ts_recent_stamp)),
            ts_off: c.ts_off,
            last_oow_ack: OowStamp::default(),
        };
        // The connection object leaves the network; the application may still hold it.
        let was = self.events.on;
        self.events.on = false;
        {
            let mut cx = cx!(self, now);
            c.kill(&mut cx, None);
        }
        self.events.on = was;
        c.dead = false;
        if c.fd.is_none() && c.listener.is_none() {
            self.free_conn(i);
        } else {
            self.demux.remove(key.0, key.1, Entry::Conn(i));
        }
        if over {
            self.counters.incr(Counter::TcpTimeWaitOverflow);
            self.events.state(now, key.0, key.1, sub, TcpState::Closed);
            if pending_ack {
                let mut cx = cx!(self, now);
                send_tw_ack(&mut cx, &tw);
            }
            return;
        }
        if pending_ack {
            let mut cx = cx!(self, now);
            send_tw_ack(&mut cx, &tw);
        }
        debug_assert_eq!(
            tw.ts_off,
            self.secrets.ts_offset(key.0.ip(), key.1.ip()),
            "the TIME_WAIT table recomputes the timestamp offset from the addresses"
        );
        // One record per 4-tuple: an older one (there should be none) gives way.
        if let Some(old) = self.tws.find(key.0, key.1) {
            self.remove_tw(now, old, false);
        }
        if self.tws.insert(&tw, now, dur).is_none() {
            // More local addresses in TIME_WAIT than a record can name: as an overflow.
            self.counters.incr(Counter::TcpTimeWaitOverflow);
            self.events.state(now, key.0, key.1, sub, TcpState::Closed);
            return;
        }
        self.ports.entry(key.0.port()).or_default().tws += 1;
    }

    /// A connection reached CLOSED.
    fn conn_closed(&mut self, i: u32) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if let Some((id, _)) = c.timer.take() {
            self.timers.cancel(id);
        }
        let key = (c.local(), c.remote());
        if c.fd.is_none() && c.listener.is_none() {
            self.free_conn(i);
        } else {
            self.demux.remove(key.0, key.1, Entry::Conn(i));
        }
    }

    fn free_conn(&mut self, i: u32) {
        let Some(c) = self.conns.get(i) else {
            return;
        };
        let (local, remote, timer) = (c.local(), c.remote(), c.timer);
        let counted_orphan = c.counted_orphan;
        let holds_port = c.listener.is_none() && c.created_by_connect();
        self.conns.delete(i);
        if counted_orphan {
            self.orphans = self.orphans.saturating_sub(1);
        }
        if let Some((id, _)) = timer {
            self.timers.cancel(id);
        }
        self.demux.remove(local, remote, Entry::Conn(i));
        if holds_port {
            if let Some(p) = self.ports.get_mut(&local.port()) {
                p.conns = p.conns.saturating_sub(1);
            }
            self.gc_port(local.port());
        }
    }

    fn gc_port(&mut self, port: u16) {
        if let Some(p) = self.ports.get(&port) {
            if p.binds.is_empty() && p.conns == 0 && p.tws == 0 {
                self.ports.remove(&port);
            }
        }
    }

    /// Time has advanced to `now`: fire due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock(now);
        while let Some((_, r)) = self.timers.pop_expired(now) {
            match r {
                TimerRef::Conn(i) => {
                    let Some(c) = self.conns.get_mut(i) else {
                        continue;
                    };
                    c.timer = None;
                    let mut cx = cx!(self, now);
                    let next = c.on_timer(&mut cx);
                    self.apply_next(now, i, next);
                }
                TimerRef::Req(r) => self.req_timer(now, r),
            }
        }
        self.expire_tws(now);
    }

    /// TIME_WAIT and orphaned FIN_WAIT_2 records whose time is up leave.
    fn expire_tws(&mut self, now: Instant) {
        while let Some((t, at)) = self.tws.next_expiry(now) {
            if at > now {
                break;
            }
            if let Some(tw) = self.tws.get(t, now) {
                let timer = if tw.substate == TcpState::TimeWait {
                    TimerKind::TimeWait
                } else {
                    TimerKind::FinWait2
                };
                self.events.push(now, || EventKind::Timer {
                    local: tw.local,
                    remote: tw.remote,
                    timer,
                });
            }
            self.remove_tw(now, t, true);
        }
    }

    /// `reqsk_timer_handler()`: retransmit the SYN-ACK, or give up on the request.
    fn req_timer(&mut self, now: Instant, r: u32) {
        let Some(req) = self.reqs.get_mut(r) else {
            return;
        };
        req.timer = None;
        let (local, remote) = (req.local, req.remote);
        self.events.push(now, || EventKind::Timer {
            local,
            remote,
            timer: TimerKind::Retransmit,
        });
        let Some(req) = self.reqs.get(r) else { return };
        let Some(lis) = self.listeners.get(req.listener) else {
            self.drop_request(r);
            return;
        };
        let mut max_retries = lis
            .opts
            .syncnt
            .map(u32::from)
            .unwrap_or(self.config.tcp_synack_retries.into());
        // Under pressure, old requests get fewer retries: half the queue stays for young ones.
        let qlen = lis.syn_q;
        if (qlen << 1) > 8u32.max(lis.max_ack_backlog(&self.config)) {
            let mut young = lis.young << 1;
            while max_retries > 2 {
                if qlen < young {
                    break;
                }
                max_retries -= 1;
                young <<= 1;
            }
        }
        if req.num_timeout as u32 >= max_retries {
            self.events
                .state(now, local, remote, TcpState::SynRecv, TcpState::Closed);
            self.drop_request(r);
            return;
        }
        let l = req.listener;
        let first = req.num_timeout == 0;
        if let Some(req) = self.reqs.get_mut(r) {
            req.num_timeout += 1;
            req.synack_pending = true;
            let nt = req.num_timeout;
            self.txq.push_back(Tx::Req(r));
            self.counters.incr(Counter::TcpSynRetrans);
            self.counters.incr(Counter::RetransSegs);
            if first {
                if let Some(lis) = self.listeners.get_mut(l) {
                    lis.young = lis.young.saturating_sub(1);
                }
            }
            let t = (conn::RTO_INIT * (1u32 << nt.min(10))).min(self.config.rto_max());
            self.rearm_req(r, now + t);
        }
    }

    // ----------------------------------------------------------------- outputs

    /// Write the next IP packet to send into `buf` (cleared first). False: nothing to send.
    /// The link's backpressure, from the driver: `true` while it cannot take packets (a
    /// full device queue, Linux's qdisc refusing a packet). New data then stays unsent, as
    /// when Linux's `tcp_write_xmit` meets a qdisc drop: nothing counts as sent or lost,
    /// the connection tries again on its next write or ACK and every
    /// TCP_RESOURCE_PROBE_INTERVAL (500 ms, no backoff; `tcpi_probes` counts the tries,
    /// TCP_USER_TIMEOUT bounds them), and reduces its window once (CA_CWR, as Linux does
    /// on a qdisc drop) — no loss recovery, no retransmission backoff. Control segments and retransmissions still
    /// come out of `poll_transmit`: a driver that cannot queue them drops them (lost, as
    /// Linux's would be). Unblocking sends nothing by itself: the next try does (at most
    /// 500 ms later), as in Linux.
    pub fn set_link_blocked(&mut self, now: Instant, blocked: bool) {
        let _ = self.clock(now);
        self.link_blocked = blocked;
    }

    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        let now = self.clock(now);
        // Connections that went back into the queue without a segment: more of those in a
        // row than the queue holds means one keeps coming back empty.
        let mut empty = 0usize;
        loop {
            if let Some(c) = self.ctrl.pop_front() {
                self.emit(
                    now,
                    c.src,
                    c.dst,
                    c.seq,
                    c.ack,
                    c.flags,
                    c.win,
                    c.options(),
                    &[],
                    buf,
                );
                return true;
            }
            let Some(tx) = self.txq.pop_front() else {
                return false;
            };
            match tx {
                Tx::Conn(i) => {
                    let Some(c) = self.conns.get_mut(i) else {
                        continue;
                    };
                    c.queued = false;
                    let mut payload = std::mem::take(&mut self.scratch);
                    let mut cx = cx!(self, now);
                    let out = c.next_segment(&mut cx, &mut payload);
                    let (src, dst) = (c.local(), c.remote());
                    self.refresh(now, i);
                    if let Some(o) = out {
                        let OutSeg {
                            seq,
                            ack,
                            flags,
                            win,
                            options,
                            len,
                        } = o;
                        debug_assert_eq!(len as usize, payload.len());
                        self.emit(now, src, dst, seq, ack, flags, win, options, &payload, buf);
                        self.scratch = payload;
                        return true;
                    }
                    self.scratch = payload;
                    if self.conns.get(i).is_some_and(|c| c.queued) {
                        empty += 1;
                        if empty > self.txq.len() {
                            self.stalled = true;
                            return false;
                        }
                    }
                }
                Tx::Req(r) => {
                    let Some(req) = self.reqs.get_mut(r) else {
                        continue;
                    };
                    if !req.synack_pending {
                        continue;
                    }
                    req.synack_pending = false;
                    if req.first_synack.is_none() {
                        req.first_synack = Some(now);
                    }
                    // Only the first SYN-ACK carries a Fast Open cookie (retransmissions
                    // go without, as inet_rtx_syn_ack passes none).
                    let first = req.num_timeout == 0 && req.num_retrans == 0;
                    let (reply, lidx, remote, local) =
                        (req.fastopen_reply, req.listener, req.remote, req.local);
                    let fast_open = (reply != 0 && first).then(|| {
                        let f = self
                            .listeners
                            .get(lidx)
                            .map(|x| x.fastopen)
                            .unwrap_or_default();
                        let (key, _) = self.fastopen_keys(&f);
                        let kind = if reply == 2 {
                            synack_wire::FastOpenKind::Experimental
                        } else {
                            synack_wire::FastOpenKind::Rfc7413
                        };
                        let cookie = fastopen::cookie(&key, remote.ip(), local.ip());
                        synack_wire::FastOpenOption::with_cookie(kind, &cookie)
                    });
                    let Some(req) = self.reqs.get(r) else {
                        continue;
                    };
                    let options = TcpOptions {
                        fast_open,
                        mss: Some(req.advmss),
                        window_scale: req.neg.wscale.map(|w| w.1),
                        sack_permitted: req.neg.sack,
                        timestamps: req.neg.ts.then(|| Timestamps {
                            val: (now.as_millis() as u32).wrapping_add(req.ts_off),
                            ecr: req.ts_recent,
                        }),
                        ..Default::default()
                    };
                    let (src, dst, seq, ack) =
                        (req.local, req.remote, req.iss, req.irs.wrapping_add(1));
                    let win = req.rcv_wnd.min(65535) as u16;
                    let flags = TcpFlags::SYN | TcpFlags::ACK;
                    self.emit(now, src, dst, seq, ack, flags, win, options, &[], buf);
                    return true;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        now: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        win: u16,
        options: TcpOptions,
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) {
        let tcp = TcpSegment {
            src_port: src.port(),
            dst_port: dst.port(),
            seq,
            ack,
            flags,
            window: win,
            urgent: 0,
            options,
            payload,
        };
        let pkt = Packet {
            ip: IpInfo {
                src: src.ip(),
                dst: dst.ip(),
                ttl: TTL,
            },
            tcp,
        };
        synack_wire::emit(&pkt, buf);
        self.counters.incr(Counter::OutSegs);
        if flags.rst() {
            // Counted where decided (TcpOutRsts); nothing more here.
        }
        self.events.push(now, || {
            EventKind::Send(SegmentInfo {
                src,
                dst,
                flags,
                seq,
                ack,
                len: payload.len() as u32,
                win,
                options,
            })
        });
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tw = self.tws.next_expiry(self.last_now).map(|(_, at)| at);
        match (self.timers.next_deadline(), tw) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ------------------------------------------------------------- socket calls

    fn record<T: CallResult>(
        &mut self,
        now: Instant,
        fd: Option<Fd>,
        call: impl FnOnce() -> String,
        r: Result<T, Errno>,
    ) -> Result<T, Errno> {
        self.events.push(now, || EventKind::Call {
            fd,
            call: call(),
            result: result_str(&r),
        });
        r
    }

    fn sock(&self, fd: Fd) -> Result<&Socket, Errno> {
        fd_index(fd)
            .and_then(|i| self.sockets.get(i))
            .and_then(|s| s.as_ref())
            .ok_or(Errno::EBADF)
    }

    fn sock_mut(&mut self, fd: Fd) -> Result<&mut Socket, Errno> {
        fd_index(fd)
            .and_then(|i| self.sockets.get_mut(i))
            .and_then(|s| s.as_mut())
            .ok_or(Errno::EBADF)
    }

    fn alloc_fd(&mut self, s: Socket) -> Result<Fd, Errno> {
        let open = self.sockets.len() - self.free_fds.len();
        if open as u32 >= self.config.max_sockets {
            return Err(Errno::EMFILE);
        }
        if let Some(Reverse(i)) = self.free_fds.pop() {
            self.sockets[i as usize] = Some(s);
            Ok(Fd(i + 3))
        } else {
            self.sockets.push(Some(s));
            Ok(Fd(self.sockets.len() as u32 + 2))
        }
    }

    fn free_fd(&mut self, fd: Fd) {
        if let Some(i) = fd_index(fd) {
            if let Some(slot) = self.sockets.get_mut(i) {
                if slot.take().is_some() {
                    self.free_fds.push(Reverse(i as u32));
                }
            }
        }
    }

    /// socket(AF_INET/AF_INET6, SOCK_STREAM, IPPROTO_TCP): the lowest free descriptor.
    pub fn socket(&mut self, now: Instant) -> Result<Fd, Errno> {
        let now = self.clock(now);
        let r = self.alloc_fd(Socket {
            kind: SockKind::Fresh,
            setup: None,
        });
        self.record(now, None, || "socket()".into(), r)
    }

    fn bind_inner(&mut self, fd: Fd, addr: SocketAddr) -> Result<(), Errno> {
        let s = self.sock(fd)?;
        if s.setup().bound.is_some() || !matches!(s.kind, SockKind::Fresh) {
            return Err(Errno::EINVAL);
        }
        let reuse = s.setup().opts.reuse_addr;
        if !addr.ip().is_unspecified() && !self.addrs.contains(&addr.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let port = if addr.port() == 0 {
            self.pick_bind_port(addr.ip())?
        } else {
            if self.port_conflict(addr, reuse) {
                return Err(Errno::EADDRINUSE);
            }
            addr.port()
        };
        let addr = SocketAddr::new(addr.ip(), port);
        self.ports
            .entry(port)
            .or_default()
            .binds
            .push((addr.ip(), reuse, false, fd));
        self.sock_mut(fd)?.setup_mut().bound = Some(addr);
        Ok(())
    }

    /// Linux `inet_csk_bind_conflict`, reduced to what applications notice: another
    /// socket bound to an overlapping address conflicts unless both set SO_REUSEADDR and
    /// the other is not listening; TIME_WAIT blocks the port unless SO_REUSEADDR.
    fn port_conflict(&self, addr: SocketAddr, reuse: bool) -> bool {
        let Some(p) = self.ports.get(&addr.port()) else {
            return false;
        };
        let overlap =
            |ip: IpAddr| ip.is_unspecified() || addr.ip().is_unspecified() || ip == addr.ip();
        let binds = p
            .binds
            .iter()
            .any(|&(ip, r, listening, _)| overlap(ip) && !(reuse && r && !listening));
        binds || (!reuse && (p.tws > 0 || p.conns > 0))
    }

    fn pick_bind_port(&mut self, ip: IpAddr) -> Result<u16, Errno> {
        let (lo, hi) = self.config.ip_local_port_range;
        let n = (hi as u32).saturating_sub(lo as u32) + 1;
        let start = self.secrets.next_u32() % n;
        for k in 0..n {
            let port = lo + ((start + k) % n) as u16;
            if !self.ports.contains_key(&port)
                && !self.port_conflict(SocketAddr::new(ip, port), false)
            {
                return Ok(port);
            }
        }
        Err(Errno::EADDRINUSE)
    }

    pub fn bind(&mut self, now: Instant, fd: Fd, addr: SocketAddr) -> Result<(), Errno> {
        let now = self.clock(now);
        let r = self.bind_inner(fd, addr);
        self.record(now, Some(fd), || format!("bind({fd}, {addr})"), r)
    }

    fn listen_inner(&mut self, fd: Fd, backlog: i32) -> Result<(), Errno> {
        let s = self.sock(fd)?;
        match s.kind {
            SockKind::Listening(l) => {
                // listen() again only changes the backlog, as on Linux.
                if let Some(lis) = self.listeners.get_mut(l) {
                    lis.backlog = backlog;
                }
                return Ok(());
            }
            SockKind::Conn(_) => return Err(Errno::EINVAL),
            SockKind::Fresh => {}
        }
        if s.setup().bound.is_none() {
            // Linux autobinds an unbound listener to an ephemeral port.
            let ip = self
                .addrs
                .first()
                .map(|a| unspecified(*a))
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            self.bind_inner(fd, SocketAddr::new(ip, 0))?;
        }
        let s = self.sock(fd)?;
        let local = s.setup().bound.ok_or(Errno::EINVAL)?;
        // Two listeners on one address: EADDRINUSE (even with SO_REUSEADDR).
        if self.listen_map.contains_key(&local) {
            return Err(Errno::EADDRINUSE);
        }
        if let Some(p) = self.ports.get(&local.port()) {
            let overlap =
                |ip: IpAddr| ip.is_unspecified() || local.ip().is_unspecified() || ip == local.ip();
            if p.binds
                .iter()
                .any(|&(ip, _, listening, other)| other != fd && overlap(ip) && listening)
            {
                return Err(Errno::EADDRINUSE);
            }
        }
        let Setup {
            opts, mut fastopen, ..
        } = s.setup();
        // tcp_fastopen 0x400 (with 0x2): Fast Open on every listener, its queue as long as
        // the accept queue (`fastopen_queue_tune(sk, backlog)` in inet_listen).
        let every = fastopen::bits::SERVER_WO_SOCKOPT | fastopen::bits::SERVER;
        if self.config.tcp_fastopen & every == every && fastopen.max_qlen == 0 {
            fastopen.max_qlen = (backlog.max(0) as u32).min(self.config.somaxconn);
        }
        let l = self.listeners.insert(Listener {
            fd,
            local,
            backlog,
            accept_q: VecDeque::new(),
            syn_q: 0,
            young: 0,
            opts,
            last_overflow: None,
            fastopen,
            fastopen_qlen: 0,
        });
        self.listen_map.insert(local, l);
        if let Some(p) = self.ports.get_mut(&local.port()) {
            for b in p.binds.iter_mut().filter(|b| b.3 == fd) {
                b.2 = true;
            }
        }
        self.sock_mut(fd)?.kind = SockKind::Listening(l);
        Ok(())
    }

    pub fn listen(&mut self, now: Instant, fd: Fd, backlog: i32) -> Result<(), Errno> {
        let now = self.clock(now);
        let r = self.listen_inner(fd, backlog);
        if r.is_ok() {
            if let Ok(SockKind::Listening(l)) = self.sock(fd).map(|s| &s.kind) {
                if let Some(lis) = self.listeners.get(*l) {
                    let local = lis.local;
                    let remote = SocketAddr::new(unspecified(local.ip()), 0);
                    self.events
                        .state(now, local, remote, TcpState::Closed, TcpState::Listen);
                }
            }
        }
        self.record(now, Some(fd), || format!("listen({fd}, {backlog})"), r)
    }

    fn accept_inner(&mut self, fd: Fd) -> Result<(Fd, SocketAddr), Errno> {
        let SockKind::Listening(l) = self.sock(fd)?.kind else {
            return Err(Errno::EINVAL);
        };
        let lis = self.listeners.get(l).ok_or(Errno::EINVAL)?;
        let Some(&i) = lis.accept_q.front() else {
            return Err(Errno::EAGAIN);
        };
        let c = self.conns.get(i).ok_or(Errno::EINVAL)?;
        let remote = c.remote();
        let new = self.alloc_fd(Socket {
            kind: SockKind::Conn(i),
            setup: None,
        })?;
        if let Some(lis) = self.listeners.get_mut(l) {
            lis.accept_q.pop_front();
        }
        if let Some(c) = self.conns.get_mut(i) {
            c.fd = Some(new);
            c.listener = None;
        }
        Ok((new, remote))
    }

    /// accept(): the oldest established child, or EAGAIN.
    pub fn accept(&mut self, now: Instant, fd: Fd) -> Result<(Fd, SocketAddr), Errno> {
        let now = self.clock(now);
        let r = self.accept_inner(fd);
        self.record(now, Some(fd), || format!("accept({fd})"), r)
    }

    fn connect_inner(&mut self, now: Instant, fd: Fd, addr: SocketAddr) -> Result<(), Errno> {
        let i = self.open_active(now, fd, addr)?;
        let fastopen = self.opts_of(self.sock(fd)?).fastopen_connect
            && self.config.tcp_fastopen & fastopen::bits::CLIENT != 0;
        if fastopen {
            let plan = self.fastopen_plan(i);
            if let Some(c) = self.conns.get_mut(i) {
                if matches!(plan, FastOpenPlan::Request { .. }) {
                    c.fo.option = true;
                } else {
                    // A cookie is at hand (or none is needed): the SYN waits for data,
                    // and connect() reports success now (tcp_fastopen_defer_connect).
                    c.fo.deferred = true;
                    c.defer_syn();
                }
            }
        }
        self.refresh(now, i);
        match self.conns.get(i) {
            Some(c) if c.fo.deferred => Ok(()),
            _ => Err(Errno::EINPROGRESS),
        }
    }

    /// Create the connection of an active open (port, ISN, SYN_SENT) without sending.
    fn open_active(&mut self, now: Instant, fd: Fd, addr: SocketAddr) -> Result<u32, Errno> {
        let s = self.sock(fd)?;
        match s.kind {
            SockKind::Listening(_) => return Err(Errno::EISCONN),
            SockKind::Conn(i) => {
                let c = self.conns.get_mut(i).ok_or(Errno::EBADF)?;
                return match c.state {
                    TcpState::SynSent if c.fo.deferred => Err(Errno::EISCONN),
                    TcpState::SynSent | TcpState::SynRecv => Err(Errno::EALREADY),
                    TcpState::Closed => match c.error.take() {
                        Some(e) => Err(e),
                        None => Err(Errno::EISCONN),
                    },
                    _ => Err(Errno::EISCONN),
                };
            }
            SockKind::Fresh => {}
        }
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return Err(Errno::ECONNREFUSED);
        }
        let opts = s.setup().opts;
        let bound = s.setup().bound;
        let local_ip = match bound {
            Some(b) if !b.ip().is_unspecified() => b.ip(),
            _ => self
                .addrs
                .iter()
                .copied()
                .find(|a| a.is_ipv4() == addr.is_ipv4())
                .ok_or(Errno::ENETUNREACH)?,
        };
        if local_ip.is_ipv4() != addr.is_ipv4() {
            return Err(Errno::EAFNOSUPPORT);
        }
        let (local, reuse_isn) = match bound {
            Some(b) if b.port() != 0 => {
                let local = SocketAddr::new(local_ip, b.port());
                let tw_isn = self.tuple_free(now, local, addr)?;
                (local, tw_isn)
            }
            _ => self.pick_connect_port(now, local_ip, addr)?,
        };
        let iss = match reuse_isn {
            Some((isn, _)) => isn,
            None => self.secrets.isn(
                local.ip(),
                local.port(),
                addr.ip(),
                addr.port(),
                now.as_micros(),
            ),
        };
        let ts_off = self.secrets.ts_offset(local.ip(), addr.ip());
        let mut cx = cx!(self, now);
        let c = Conn::connect(&mut cx, local, addr, fd, opts, iss, ts_off);
        cx.incr(Counter::ActiveOpens);
        let i = self.conns.insert(c);
        self.demux.insert(
            local,
            addr,
            Entry::Conn(i),
            tuple_of(&self.conns, &self.reqs),
        );
        self.ports.entry(local.port()).or_default().conns += 1;
        let s = self.sock_mut(fd)?;
        s.kind = SockKind::Conn(i);
        // The connection has the options and the addresses now.
        s.setup = None;
        Ok(i)
    }

    /// What a Fast Open SYN may carry (`tcp_fastopen_cookie_check`): data without a
    /// cookie (tcp_fastopen 0x4 or TCP_FASTOPEN_NO_COOKIE), data with the cached cookie,
    /// or only a cookie request.
    fn fastopen_plan(&self, i: u32) -> FastOpenPlan {
        let Some(c) = self.conns.get(i) else {
            return FastOpenPlan::Request { exp: false };
        };
        let cached = self.fo_cache.get(c.remote().ip());
        let path = conn::advmss(&self.config, c.local(), None);
        // tcp_send_syn_data: the cached MSS (else ours) bounded by the path and
        // TCP_MAXSEG, less the most options a middlebox might add.
        let mut clamp = cached.map(|x| x.mss).filter(|&m| m != 0).unwrap_or(path);
        if let Some(user) = c.opts.maxseg {
            clamp = clamp.min(user);
        }
        let space = u32::from(clamp.min(path)).saturating_sub(40);
        let no_cookie = self.config.tcp_fastopen & fastopen::bits::CLIENT_NO_COOKIE != 0
            || c.opts.fastopen_no_cookie;
        if no_cookie {
            return FastOpenPlan::Data {
                space,
                cookie: None,
            };
        }
        match cached.filter(|x| x.len > 0) {
            Some(x) => FastOpenPlan::Data {
                space,
                cookie: Some((x.cookie, x.len, x.exp)),
            },
            None => FastOpenPlan::Request {
                exp: cached.is_some_and(|x| x.try_exp == 1),
            },
        }
    }

    /// Send the Fast Open SYN now, with as much of `data` as fits; returns the bytes
    /// queued (0 when the SYN only asks for a cookie: the data waits for the handshake).
    fn fastopen_syn(&mut self, now: Instant, i: u32, data: &[u8]) -> usize {
        let plan = self.fastopen_plan(i);
        let Some(c) = self.conns.get_mut(i) else {
            return 0;
        };
        c.fo.deferred = false;
        let n = match plan {
            FastOpenPlan::Request { exp } => {
                c.fo.option = true;
                c.fo.exp = exp;
                c.fo.cookie_len = 0;
                0
            }
            FastOpenPlan::Data { space, cookie } => {
                let n = c.write(&data[..data.len().min(space as usize)]);
                c.fo.syn_data = n as u32;
                if let Some((k, len, exp)) = cookie {
                    c.fo.option = true;
                    c.fo.exp = exp;
                    c.fo.cookie = k;
                    c.fo.cookie_len = len;
                }
                n
            }
        };
        c.resume_syn();
        self.refresh(now, i);
        n
    }

    /// sendto(MSG_FASTOPEN): connect and send in the SYN (`tcp_sendmsg_fastopen`). The
    /// call does not block: it returns the bytes that ride in the SYN, or EINPROGRESS when
    /// none could (no cookie yet: the SYN asks for one). EOPNOTSUPP without the client
    /// bit of tcp_fastopen; EALREADY while a connection attempt is under way.
    pub fn sendto_fastopen(
        &mut self,
        now: Instant,
        fd: Fd,
        addr: SocketAddr,
        data: &[u8],
    ) -> Result<usize, Errno> {
        let now = self.clock(now);
        let r = self.sendto_fastopen_inner(now, fd, addr, data);
        let len = data.len();
        self.record(
            now,
            Some(fd),
            || format!("sendto({fd}, {len}, MSG_FASTOPEN, {addr})"),
            r,
        )
    }

    fn sendto_fastopen_inner(
        &mut self,
        now: Instant,
        fd: Fd,
        addr: SocketAddr,
        data: &[u8],
    ) -> Result<usize, Errno> {
        if self.config.tcp_fastopen & fastopen::bits::CLIENT == 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let i = match self.sock(fd)?.kind {
            SockKind::Listening(_) => return Err(Errno::EPIPE),
            SockKind::Conn(i) => {
                let c = self.conns.get(i).ok_or(Errno::EBADF)?;
                match c.state {
                    TcpState::SynSent if c.fo.deferred => i,
                    TcpState::SynSent | TcpState::SynRecv => return Err(Errno::EALREADY),
                    _ => return self.write_inner(now, fd, data),
                }
            }
            SockKind::Fresh => self.open_active(now, fd, addr)?,
        };
        match self.fastopen_syn(now, i, data) {
            0 => Err(Errno::EINPROGRESS),
            n => Ok(n),
        }
    }

    /// Forget every cached Fast Open cookie (`ip tcp_metrics flush`).
    pub fn fastopen_cache_flush(&mut self) {
        self.fo_cache.flush();
    }

    /// Is (local, remote) free for a new connection? A TIME_WAIT holder may be reused
    /// (`tcp_twsk_unique`): then the new ISN continues past the old connection's.
    fn tuple_free(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<(u32, u32)>, Errno> {
        if self.find(local, remote).is_some() {
            return Err(Errno::EADDRNOTAVAIL);
        }
        match self.tws.find(local, remote) {
            None => Ok(None),
            Some(t) => {
                let tw = self.tws.get(t, now).ok_or(Errno::EADDRNOTAVAIL)?;
                let reuse = match self.config.tcp_tw_reuse {
                    1 => true,
                    2 => is_loopback(local.ip()) && is_loopback(remote.ip()),
                    _ => false,
                };
                // A timestamp older than 24 days counts as old enough.
                let old_enough = tw
                    .ts_recent_age
                    .is_none_or(|age| age > Duration::from_secs(1));
                if reuse && tw.ts && old_enough && tw.substate == TcpState::TimeWait {
                    let isn = tw.snd_nxt.wrapping_add(65535 + 2);
                    let ts = tw.ts_recent;
                    self.counters.incr(Counter::TwRecycled);
                    self.remove_tw(now, t, false);
                    Ok(Some((isn, ts)))
                } else {
                    Err(Errno::EADDRNOTAVAIL)
                }
            }
        }
    }

    /// An ephemeral port for connect() (`__inet_hash_connect`): start at a keyed hash of
    /// the destination, skip ports bound by bind() and 4-tuples in use.
    fn pick_connect_port(
        &mut self,
        now: Instant,
        ip: IpAddr,
        remote: SocketAddr,
    ) -> Result<(SocketAddr, Option<(u32, u32)>), Errno> {
        let (lo, hi) = self.config.ip_local_port_range;
        if lo > hi {
            return Err(Errno::EADDRNOTAVAIL);
        }
        // `__inet_hash_connect` (Linux 6.x), step for step: an even number of ports to
        // try; the search for a destination starts where the last one through the same
        // table_perturb slot stopped (RFC 6056 algorithm 4), so a client with thousands
        // of connections to one server does not rescan its ports in use on every
        // connect(); ports of `lo`'s parity first, two at a time (bind() prefers the
        // other parity), then the other parity. The table starts random.
        let high = u32::from(hi) + 1;
        let mut remaining = high - u32::from(lo);
        if remaining > 1 {
            remaining &= !1;
        }
        let port_offset = self.secrets.port_offset(ip, remote.ip(), remote.port());
        if self.perturb.is_empty() {
            self.perturb = (0..PERTURB_SLOTS)
                .map(|_| self.secrets.next_u32())
                .collect();
        }
        let slot = port_offset as usize % PERTURB_SLOTS;
        let mut offset = self.perturb[slot].wrapping_add(port_offset >> 16) % remaining;
        offset &= !1;
        loop {
            let mut port = u32::from(lo) + offset;
            let mut i = 0;
            while i < remaining {
                if port >= high {
                    port -= remaining;
                }
                let p = port as u16;
                let bound = self.ports.get(&p).is_some_and(|u| !u.binds.is_empty());
                let local = SocketAddr::new(ip, p);
                if !bound {
                    if let Ok(isn) = self.tuple_free(now, local, remote) {
                        self.perturb[slot] = self.perturb[slot].wrapping_add(i + 2);
                        return Ok((local, isn));
                    }
                }
                i += 2;
                port += 2;
            }
            offset += 1;
            if offset & 1 == 0 || remaining <= 1 {
                break;
            }
        }
        Err(Errno::EADDRNOTAVAIL)
    }

    /// Non-blocking connect: `Err(EINPROGRESS)` while the handshake runs; the outcome shows
    /// as writable (success) or `SockOpt::Error` (failure).
    pub fn connect(&mut self, now: Instant, fd: Fd, addr: SocketAddr) -> Result<(), Errno> {
        let now = self.clock(now);
        let r = self.connect_inner(now, fd, addr);
        self.record(now, Some(fd), || format!("connect({fd}, {addr})"), r)
    }

    fn conn_of(&self, fd: Fd) -> Result<u32, Errno> {
        match self.sock(fd)?.kind {
            SockKind::Conn(i) => Ok(i),
            _ => Err(Errno::ENOTCONN),
        }
    }

    fn read_inner(&mut self, now: Instant, fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
        let i = self.conn_of(fd)?;
        let c = self.conns.get_mut(i).ok_or(Errno::EBADF)?;
        if buf.is_empty() {
            return Ok(0);
        }
        if c.rcv.len() > 0 {
            let n = c.rcv.read(buf);
            // A window that reopens is announced (tcp_cleanup_rbuf), once it grew a lot.
            self.refresh(now, i);
            return Ok(n);
        }
        if c.rcv_fin || c.rd_shut {
            return Ok(0);
        }
        if let Some(e) = c.error.take() {
            return Err(e);
        }
        let _ = now;
        match c.state {
            TcpState::Closed => Ok(0),
            _ => Err(Errno::EAGAIN),
        }
    }

    /// read(): Ok(0) is end of stream.
    pub fn read(&mut self, now: Instant, fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
        let now = self.clock(now);
        let len = buf.len();
        let r = self.read_inner(now, fd, buf);
        // tcp_cleanup_rbuf: only a read that copied something may announce a window.
        if matches!(r, Ok(n) if n > 0) {
            self.window_update(now, fd);
        }
        self.record(now, Some(fd), || format!("read({fd}, {len})"), r)
    }

    /// After the application read: the buffer may grow (auto-tuning); if the window
    /// opened by a lot, or two segments wait for their ACK, tell the peer.
    fn window_update(&mut self, now: Instant, fd: Fd) {
        let Ok(i) = self.conn_of(fd) else { return };
        if let Some(c) = self.conns.get_mut(i) {
            c.after_read(now, &self.config);
            if c.window_update_due() {
                self.refresh(now, i);
            }
        }
    }

    fn write_inner(&mut self, now: Instant, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        let i = match self.sock(fd)?.kind {
            SockKind::Conn(i) => i,
            _ => return Err(Errno::EPIPE),
        };
        let c = self.conns.get_mut(i).ok_or(Errno::EBADF)?;
        if let Some(e) = c.error.take() {
            return Err(e);
        }
        match c.state {
            TcpState::SynRecv if c.passive_fastopen => {}
            TcpState::SynSent if c.fo.deferred => {
                // The first write after a deferred Fast Open connect() sends the SYN,
                // with what fits of the data.
                return match self.fastopen_syn(now, i, data) {
                    0 => Err(Errno::EINPROGRESS),
                    n => Ok(n),
                };
            }
            TcpState::SynSent | TcpState::SynRecv => return Err(Errno::EAGAIN),
            TcpState::Established | TcpState::CloseWait if !c.fin_queued => {}
            _ => return Err(Errno::EPIPE),
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = c.write(data);
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        self.refresh(now, i);
        Ok(n)
    }

    pub fn write(&mut self, now: Instant, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        let now = self.clock(now);
        let r = self.write_inner(now, fd, data);
        let len = data.len();
        self.record(now, Some(fd), || format!("write({fd}, {len})"), r)
    }

    fn shutdown_inner(&mut self, now: Instant, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        let s = self.sock(fd)?;
        let i = match s.kind {
            SockKind::Conn(i) => i,
            SockKind::Listening(l) => {
                if how != Shutdown::Write {
                    self.stop_listening(now, fd, l);
                    return Ok(());
                }
                return Err(Errno::ENOTCONN);
            }
            SockKind::Fresh => return Err(Errno::ENOTCONN),
        };
        let c = self.conns.get_mut(i).ok_or(Errno::EBADF)?;
        if matches!(c.state, TcpState::Closed) && !c.dead {
            return Err(Errno::ENOTCONN);
        }
        let mut cx = cx!(self, now);
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            c.rd_shut = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            if c.state == TcpState::SynSent {
                c.kill(&mut cx, None);
                self.conn_closed(i);
                return Ok(());
            }
            c.shutdown_write(&mut cx);
        }
        self.refresh(now, i);
        Ok(())
    }

    pub fn shutdown(&mut self, now: Instant, fd: Fd, how: Shutdown) -> Result<(), Errno> {
        let now = self.clock(now);
        let r = self.shutdown_inner(now, fd, how);
        self.record(now, Some(fd), || format!("shutdown({fd}, {how:?})"), r)
    }

    /// A listener stops: pending requests vanish, queued children are reset
    /// (`inet_csk_listen_stop`).
    fn stop_listening(&mut self, now: Instant, fd: Fd, l: u32) {
        let Some(lis) = self.listeners.remove(l) else {
            return;
        };
        self.listen_map.remove(&lis.local);
        let remote = SocketAddr::new(unspecified(lis.local.ip()), 0);
        self.events
            .state(now, lis.local, remote, TcpState::Listen, TcpState::Closed);
        let reqs: Vec<u32> = self
            .reqs
            .iter()
            .filter(|(_, r)| r.listener == l)
            .map(|(i, _)| i)
            .collect();
        for r in reqs {
            self.drop_request(r);
        }
        for i in lis.accept_q {
            if let Some(c) = self.conns.get_mut(i) {
                c.listener = None;
                c.orphan = true;
                let mut cx = cx!(self, now);
                if c.state != TcpState::Closed {
                    cx.incr(Counter::TcpAbortOnClose);
                    c.abort(&mut cx, None);
                }
            }
            self.conn_closed(i);
        }
        if let Ok(s) = self.sock_mut(fd) {
            s.kind = SockKind::Fresh;
        }
        if let Some(p) = self.ports.get_mut(&lis.local.port()) {
            for b in p.binds.iter_mut().filter(|b| b.3 == fd) {
                b.2 = false;
            }
        }
    }

    fn close_inner(&mut self, now: Instant, fd: Fd) -> Result<(), Errno> {
        let s = self.sock(fd)?;
        let (kind, bound) = (
            match s.kind {
                SockKind::Fresh => None,
                SockKind::Listening(l) => Some(Err(l)),
                SockKind::Conn(i) => Some(Ok(i)),
            },
            self.bound(s),
        );
        match kind {
            None => {}
            Some(Err(l)) => self.stop_listening(now, fd, l),
            Some(Ok(i)) => {
                if let Some(c) = self.conns.get_mut(i) {
                    let mut cx = cx!(self, now);
                    let mut next = c.close(&mut cx);
                    if next == Next::Keep && c.state != TcpState::Closed {
                        // An orphan: still closing, nobody holds it (`tcp_check_oom`).
                        if self.orphans >= self.config.tcp_max_orphans {
                            // tcp_close has sent the FIN already when tcp_check_oom says
                            // no: the peer sees FIN, then RST after it.
                            c.send_fin_now(&mut cx);
                            cx.incr(Counter::TcpAbortOnMemory);
                            c.abort(&mut cx, None);
                            next = Next::Closed;
                        } else {
                            c.counted_orphan = true;
                            self.orphans += 1;
                        }
                    }
                    self.apply_next(now, i, next);
                    if let Some(c) = self.conns.get(i) {
                        if c.state == TcpState::Closed {
                            self.free_conn(i);
                        }
                    }
                }
            }
        }
        if let Some(b) = bound {
            if let Some(p) = self.ports.get_mut(&b.port()) {
                p.binds.retain(|x| x.3 != fd);
            }
            self.gc_port(b.port());
        }
        self.free_fd(fd);
        Ok(())
    }

    pub fn close(&mut self, now: Instant, fd: Fd) -> Result<(), Errno> {
        let now = self.clock(now);
        let r = self.close_inner(now, fd);
        self.record(now, Some(fd), || format!("close({fd})"), r)
    }

    fn setsockopt_inner(&mut self, now: Instant, fd: Fd, opt: SockOpt) -> Result<(), Errno> {
        if matches!(opt, SockOpt::FastOpen(_) | SockOpt::FastOpenKey { .. }) {
            return self.set_fastopen(fd, opt);
        }
        let cfg = &self.config;
        let s = self.sock(fd)?;
        let mut o = self.opts_of(s);
        match opt {
            SockOpt::ReuseAddr(v) => o.reuse_addr = v,
            SockOpt::RcvBuf(v) => {
                let v = v.min(cfg.rmem_max).min(i32::MAX as u32 / 2);
                o.rcvbuf = NonZeroU32::new((v * 2).max(2304));
            }
            SockOpt::SndBuf(v) => {
                let v = v.min(cfg.wmem_max).min(i32::MAX as u32 / 2);
                o.sndbuf = NonZeroU32::new((v * 2).max(4608));
            }
            SockOpt::Linger(v) => o.linger = v,
            SockOpt::KeepAlive(v) => o.keepalive = v,
            SockOpt::NoDelay(v) => o.nodelay = v,
            SockOpt::Congestion(a) => o.congestion = Some(a),
            SockOpt::MaxSeg(v) => {
                if v != 0 && !(88..=32767).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.maxseg = (v != 0).then_some(v as u16);
            }
            SockOpt::SynCnt(v) => {
                if !(1..=127).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.syncnt = Some(v);
            }
            SockOpt::Linger2(v) => o.linger2 = Some(v),
            SockOpt::UserTimeout(v) => {
                if v > i32::MAX as u32 {
                    return Err(Errno::EINVAL);
                }
                o.user_timeout = v;
            }
            SockOpt::KeepIdle(v) => {
                if !(1..=32767).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepidle = u16::try_from(v).ok().and_then(NonZeroU16::new);
            }
            SockOpt::KeepIntvl(v) => {
                if !(1..=32767).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepintvl = u16::try_from(v).ok().and_then(NonZeroU16::new);
            }
            SockOpt::KeepCnt(v) => {
                if !(1..=127).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                o.keepcnt = u8::try_from(v).ok().and_then(NonZeroU8::new);
            }
            SockOpt::Error(_) => return Err(Errno::ENOPROTOOPT),
            SockOpt::FastOpen(_) | SockOpt::FastOpenKey { .. } => unreachable!("handled above"),
            SockOpt::FastOpenConnect(v) => {
                if cfg.tcp_fastopen & fastopen::bits::CLIENT == 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                if !matches!(s.kind, SockKind::Fresh) {
                    return Err(Errno::EINVAL);
                }
                o.fastopen_connect = v;
            }
            SockOpt::FastOpenNoCookie(v) => {
                if matches!(s.kind, SockKind::Conn(_)) {
                    return Err(Errno::EINVAL);
                }
                o.fastopen_no_cookie = v;
            }
        }
        let kind = match s.kind {
            SockKind::Fresh => None,
            SockKind::Listening(l) => Some(Err(l)),
            SockKind::Conn(i) => Some(Ok(i)),
        };
        if kind.is_none() || matches!(kind, Some(Err(_))) {
            self.sock_mut(fd)?.setup_mut().opts = o;
        }
        match kind {
            Some(Err(l)) => {
                if let Some(lis) = self.listeners.get_mut(l) {
                    lis.opts = o;
                }
            }
            Some(Ok(i)) => {
                if let Some(c) = self.conns.get_mut(i) {
                    let old = c.opts;
                    c.opts = o;
                    let mut cx = cx!(self, now);
                    c.apply_opts(&mut cx, &old);
                }
                self.refresh(now, i);
            }
            None => {}
        }
        Ok(())
    }

    /// A socket's options: its connection's once it has one.
    fn opts_of(&self, s: &Socket) -> SockOpts {
        match s.kind {
            SockKind::Conn(i) => self.conns.get(i).map(|c| c.opts),
            _ => None,
        }
        .unwrap_or_else(|| s.setup().opts)
    }

    pub fn setsockopt(&mut self, now: Instant, fd: Fd, opt: SockOpt) -> Result<(), Errno> {
        let now = self.clock(now);
        let r = self.setsockopt_inner(now, fd, opt);
        self.record(now, Some(fd), || format!("setsockopt({fd}, {opt:?})"), r)
    }

    pub fn getsockopt(&mut self, fd: Fd, name: SockOptName) -> Result<SockOpt, Errno> {
        let s = self.sock(fd)?;
        let o = self.opts_of(s);
        let cfg = &self.config;
        // A connection's own value, else the option as set.
        let conn = |f: &dyn Fn(&Conn) -> u32, unset: u32| match s.kind {
            SockKind::Conn(i) => self.conns.get(i).map(f).unwrap_or(unset),
            _ => unset,
        };
        Ok(match name {
            SockOptName::ReuseAddr => SockOpt::ReuseAddr(o.reuse_addr),
            // A connection's buffer as auto-tuning left it (sk_rcvbuf).
            SockOptName::RcvBuf => {
                SockOpt::RcvBuf(conn(&|c| c.rcv.capacity() as u32, o.rcvbuf(cfg)))
            }
            SockOptName::SndBuf => SockOpt::SndBuf(conn(&|c| c.snd.limit() as u32, o.sndbuf(cfg))),
            SockOptName::Linger => SockOpt::Linger(o.linger),
            SockOptName::KeepAlive => SockOpt::KeepAlive(o.keepalive),
            SockOptName::NoDelay => SockOpt::NoDelay(o.nodelay),
            SockOptName::MaxSeg => SockOpt::MaxSeg(match s.kind {
                SockKind::Conn(i) => self.conns.get(i).map(|c| c.mss as u32).unwrap_or(536),
                _ => o.maxseg.map(u32::from).unwrap_or(536),
            }),
            SockOptName::SynCnt => SockOpt::SynCnt(o.syncnt.unwrap_or(cfg.tcp_syn_retries)),
            SockOptName::Linger2 => {
                SockOpt::Linger2(o.linger2.unwrap_or(cfg.tcp_fin_timeout.as_secs() as i32))
            }
            SockOptName::UserTimeout => SockOpt::UserTimeout(o.user_timeout),
            SockOptName::KeepIdle => SockOpt::KeepIdle(o.keepidle(cfg).as_secs() as u32),
            SockOptName::KeepIntvl => SockOpt::KeepIntvl(o.keepintvl(cfg).as_secs() as u32),
            SockOptName::KeepCnt => SockOpt::KeepCnt(o.keepcnt(cfg)),
            SockOptName::Error => {
                let err = match s.kind {
                    SockKind::Conn(i) => self.conns.get_mut(i).and_then(|c| c.error.take()),
                    _ => None,
                };
                SockOpt::Error(err)
            }
            SockOptName::FastOpen => SockOpt::FastOpen(self.fastopen_of(fd)?.max_qlen),
            SockOptName::FastOpenConnect => SockOpt::FastOpenConnect(o.fastopen_connect),
            SockOptName::FastOpenNoCookie => SockOpt::FastOpenNoCookie(o.fastopen_no_cookie),
            SockOptName::Congestion => {
                SockOpt::Congestion(o.congestion.unwrap_or(self.config.tcp_congestion_control))
            }
            SockOptName::FastOpenKey => {
                let (p, b) = self.fastopen_keys(&self.fastopen_of(fd)?);
                let mut key = [0u8; 32];
                key[..16].copy_from_slice(&p);
                if let Some(b) = b {
                    key[16..].copy_from_slice(&b);
                }
                SockOpt::FastOpenKey {
                    key,
                    len: if b.is_some() { 32 } else { 16 },
                }
            }
        })
    }

    /// TCP_FASTOPEN and TCP_FASTOPEN_KEY: on a socket before listen() or on a listener
    /// (EINVAL on a connection, as Linux requires CLOSE or LISTEN state).
    fn set_fastopen(&mut self, fd: Fd, opt: SockOpt) -> Result<(), Errno> {
        let mut f = self.fastopen_of(fd)?;
        match opt {
            SockOpt::FastOpen(qlen) => {
                if qlen > i32::MAX as u32 {
                    return Err(Errno::EINVAL);
                }
                f.max_qlen = qlen.min(self.config.somaxconn);
            }
            SockOpt::FastOpenKey { key, len } => {
                let mut p = [0u8; 16];
                p.copy_from_slice(&key[..16]);
                let mut b = [0u8; 16];
                b.copy_from_slice(&key[16..]);
                f.key = match len {
                    16 => Some((p, None)),
                    32 => Some((p, Some(b))),
                    _ => return Err(Errno::EINVAL),
                };
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        let s = self.sock_mut(fd)?;
        s.setup_mut().fastopen = f;
        if let SockKind::Listening(l) = s.kind {
            if let Some(lis) = self.listeners.get_mut(l) {
                lis.fastopen = f;
            }
        }
        Ok(())
    }

    fn fastopen_of(&self, fd: Fd) -> Result<FastOpenListen, Errno> {
        let s = self.sock(fd)?;
        match s.kind {
            SockKind::Fresh => Ok(s.setup().fastopen),
            SockKind::Listening(l) => Ok(self
                .listeners
                .get(l)
                .map(|x| x.fastopen)
                .unwrap_or(s.setup().fastopen)),
            SockKind::Conn(_) => Err(Errno::EINVAL),
        }
    }

    /// The keys a listener's cookies use: its own, else tcp_fastopen_key, else the
    /// stack's random one.
    fn fastopen_keys(&self, f: &FastOpenListen) -> ([u8; 16], Option<[u8; 16]>) {
        f.key.unwrap_or(match self.config.tcp_fastopen_key {
            Some(k) => (k, self.config.tcp_fastopen_backup_key),
            None => (self.secrets.fastopen_key, None),
        })
    }

    pub fn poll(&self, fd: Fd) -> Result<Readiness, Errno> {
        let s = self.sock(fd)?;
        Ok(match s.kind {
            SockKind::Fresh => Readiness {
                hup: true,
                ..Default::default()
            },
            SockKind::Listening(l) => Readiness {
                readable: self
                    .listeners
                    .get(l)
                    .map(|x| !x.accept_q.is_empty())
                    .unwrap_or(false),
                ..Default::default()
            },
            SockKind::Conn(i) => {
                let Some(c) = self.conns.get(i) else {
                    return Err(Errno::EBADF);
                };
                let closed = c.state == TcpState::Closed;
                // A deferred Fast Open connect is writable: the write sends the SYN.
                let connecting = matches!(c.state, TcpState::SynSent | TcpState::SynRecv)
                    && !c.fo.deferred
                    && !(c.passive_fastopen && c.state == TcpState::SynRecv);
                let eof = c.rcv_fin || c.rd_shut;
                Readiness {
                    readable: c.rcv.len() > 0 || eof || closed,
                    writable: !connecting
                        && (closed
                            || c.fin_queued
                            || c.snd.free() > 0 && c.snd.free() >= c.snd.len() / 2),
                    read_hup: c.rcv_fin || closed,
                    hup: closed || (c.rcv_fin && c.fin_queued),
                    error: c.error.is_some(),
                }
            }
        })
    }

    /// A socket's local address: bind()'s, or its connection's.
    fn bound(&self, s: &Socket) -> Option<SocketAddr> {
        match s.kind {
            SockKind::Conn(i) => self.conns.get(i).map(Conn::local),
            _ => s.setup().bound,
        }
    }

    pub fn local_addr(&self, fd: Fd) -> Result<SocketAddr, Errno> {
        let s = self.sock(fd)?;
        Ok(self
            .bound(s)
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)))
    }

    pub fn peer_addr(&self, fd: Fd) -> Result<SocketAddr, Errno> {
        let i = self.conn_of(fd)?;
        let c = self.conns.get(i).ok_or(Errno::EBADF)?;
        if matches!(c.state, TcpState::SynSent) || (c.state == TcpState::Closed && c.dead) {
            return Err(Errno::ENOTCONN);
        }
        Ok(c.remote())
    }

    /// The connection's two initial sequence numbers, ours and the peer's (ISS, IRS; the
    /// peer's is 0 until its SYN arrived). Linux shows neither; tests and fuzzers use them
    /// to name a byte by its sequence number, which survives what offsets do not (a
    /// connection a SYN cookie brought back mid-stream starts at offset 0 for the server).
    pub fn initial_sequence_numbers(&self, fd: Fd) -> Result<(u32, u32), Errno> {
        let c = self.conns.get(self.conn_of(fd)?).ok_or(Errno::EBADF)?;
        let irs = if c.state == TcpState::SynSent {
            0
        } else {
            c.irs.0
        };
        Ok((c.iss.0, irs))
    }

    /// The state of the socket behind `fd`.
    pub fn state(&self, fd: Fd) -> Result<TcpState, Errno> {
        let s = self.sock(fd)?;
        Ok(match s.kind {
            SockKind::Fresh => TcpState::Closed,
            SockKind::Listening(_) => TcpState::Listen,
            SockKind::Conn(i) => self
                .conns
                .get(i)
                .map(|c| c.state)
                .unwrap_or(TcpState::Closed),
        })
    }

    /// getsockopt(TCP_INFO). A listener or an unconnected socket reports its state only.
    pub fn tcp_info(&self, now: Instant, fd: Fd) -> Result<crate::TcpInfo, Errno> {
        let s = self.sock(fd)?;
        match s.kind {
            SockKind::Conn(i) => {
                let c = self.conns.get(i).ok_or(Errno::EBADF)?;
                Ok(c.tcp_info(now, &self.config))
            }
            _ => Ok(crate::TcpInfo {
                state: self.state(fd)?.linux_code(),
                ..Default::default()
            }),
        }
    }

    /// TCP_INFO of the connection (or SYN-queue request) on this 4-tuple, whether or not
    /// the application holds a descriptor for it (packetdrill inspects children before
    /// accept()).
    pub fn tcp_info_of(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<crate::TcpInfo> {
        let Some(entry) = self.find(local, remote) else {
            let t = self.tws.find(local, remote)?;
            let tw = self.tws.get(t, self.last_now)?;
            return Some(crate::TcpInfo {
                state: tw.substate.linux_code(),
                ..Default::default()
            });
        };
        match entry {
            Entry::Conn(i) => self.conns.get(i).map(|c| c.tcp_info(now, &self.config)),
            Entry::Req(r) => self.reqs.get(r).map(|req| crate::TcpInfo {
                state: 12, // TCP_NEW_SYN_RECV
                // inet_diag reports a request's SYN-ACK timeouts as its retransmissions.
                retransmits: req.num_timeout,
                ..Default::default()
            }),
        }
    }

    /// ioctl(SIOCINQ): bytes waiting to be read (EINVAL on a listener, as Linux).
    pub fn inq(&self, fd: Fd) -> Result<usize, Errno> {
        match self.sock(fd)?.kind {
            SockKind::Listening(_) => Err(Errno::EINVAL),
            SockKind::Fresh => Ok(0),
            SockKind::Conn(i) => Ok(self.conns.get(i).map(|c| c.rcv.len()).unwrap_or(0)),
        }
    }

    /// Work the timer wheel has done so far (slots visited, entries cascaded, timers
    /// fired): tests and benchmarks count cost with it instead of timing it.
    pub fn timer_stats(&self) -> crate::timers::WheelStats {
        self.timers.stats()
    }

    /// Number of TIME_WAIT (and orphaned FIN_WAIT_2) records, requests, connections.
    pub fn table_sizes(&self) -> TableSizes {
        TableSizes {
            connections: self.conns.len(),
            requests: self.reqs.len(),
            time_wait: self.tws.len(),
            listeners: self.listeners.len(),
            timers: self.timers.len(),
            demux: self.demux.len(),
            request_bytes: self.reqs.len() * std::mem::size_of::<Request>(),
            orphans: self.orphans as usize,
            flights: self
                .conns
                .iter()
                .filter(|(_, c)| c.flight.allocated())
                .count(),
        }
    }

    /// Check the stack's internal rules, for fuzzers and long randomized tests: every
    /// connection's sequence space and buffers ([`Conn`]'s own check), every table within
    /// its configured bound, every queue of replies bounded. `Err` names what broke.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (_, c) in self.conns.iter() {
            c.check()?;
        }
        let bound = |what: &str, n: usize, max: usize| {
            if n > max {
                Err(format!("{what}: {n} entries, bound {max}"))
            } else {
                Ok(())
            }
        };
        bound(
            "TIME_WAIT",
            self.tws.len(),
            self.config.tcp_max_tw_buckets as usize,
        )?;
        self.tws.check()?;
        // A 4-tuple is a connection, a request or a TIME_WAIT record: never two of them.
        for (_, tw, _) in self.tws.iter(self.last_now) {
            if let Some(e) = self.find(tw.local, tw.remote) {
                return Err(format!(
                    "{} {} is both a TIME_WAIT record and {e:?}",
                    tw.local, tw.remote
                ));
            }
        }
        // Every demux entry has its record, and is what the record's 4-tuple finds.
        let tuple = tuple_of(&self.conns, &self.reqs);
        for e in self.demux.iter() {
            let (l, r) = tuple(e).ok_or_else(|| format!("demux entry {e:?} has no record"))?;
            if self.find(l, r) != Some(e) {
                return Err(format!(
                    "demux entry {e:?} not found by its 4-tuple {l} {r}"
                ));
            }
        }
        bound("control replies", self.ctrl.len(), crate::ctx::MAX_CTRL)?;
        if self.stalled {
            return Err("a connection kept asking to transmit with nothing to send".into());
        }
        let open = self.sockets.len() - self.free_fds.len();
        bound("descriptors", open, self.config.max_sockets as usize)?;
        // Each request is counted in its listener's SYN queue, and only there.
        let queued: usize = self.listeners.iter().map(|(_, l)| l.syn_q as usize).sum();
        if queued != self.reqs.len() {
            return Err(format!(
                "{} requests but the SYN queues count {queued}",
                self.reqs.len()
            ));
        }
        Ok(())
    }

    /// Every socket, listener, request and TIME_WAIT entry, for `ss`/`netstat`.
    pub fn sockets(&self, now: Instant) -> Vec<SocketInfo> {
        let left = |t: Option<(crate::timers::TimerId, Instant)>| {
            t.map(|(_, d)| d.saturating_duration_since(now))
        };
        let mut out = Vec::new();
        for (_, l) in self.listeners.iter() {
            out.push(SocketInfo {
                fd: Some(l.fd),
                state: TcpState::Listen,
                local: Some(l.local),
                remote: None,
                recv_q: l.accept_q.len() as u32,
                send_q: l.max_ack_backlog(&self.config),
                timer: None,
            });
        }
        for (_, r) in self.reqs.iter() {
            out.push(SocketInfo {
                fd: None,
                state: TcpState::SynRecv,
                local: Some(r.local),
                remote: Some(r.remote),
                recv_q: 0,
                send_q: 0,
                timer: left(r.timer).map(|d| (TimerKind::Retransmit, d)),
            });
        }
        for (_, c) in self.conns.iter() {
            if c.state == TcpState::Closed {
                continue;
            }
            let (rq, sq) = c.queues();
            out.push(SocketInfo {
                fd: c.fd,
                state: c.state,
                local: Some(c.local()),
                remote: Some(c.remote()),
                recv_q: rq,
                send_q: sq,
                timer: c
                    .next_timer()
                    .map(|(k, d)| (k, d.saturating_duration_since(now))),
            });
        }
        for (_, t, expiry) in self.tws.iter(now) {
            let kind = if t.substate == TcpState::TimeWait {
                TimerKind::TimeWait
            } else {
                TimerKind::FinWait2
            };
            out.push(SocketInfo {
                fd: None,
                state: t.substate,
                local: Some(t.local),
                remote: Some(t.remote),
                recv_q: 0,
                send_q: 0,
                timer: Some((kind, expiry.saturating_duration_since(now))),
            });
        }
        out
    }
}

/// What an active Fast Open SYN may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FastOpenPlan {
    /// Only an empty cookie option: ask the server for a cookie (in the experimental
    /// form after an RFC-form request went unanswered).
    Request { exp: bool },
    /// Up to `space` bytes of data, with this cookie (and its option form) or none (no
    /// cookie needed).
    Data {
        space: u32,
        cookie: Option<([u8; 16], u8, bool)>,
    },
}

/// What `tcp_try_fastopen` decided for a SYN.
enum FastOpenVerdict {
    /// Not a Fast Open SYN (or Fast Open is off): a normal request.
    None,
    /// A normal request whose SYN-ACK carries a fresh cookie, in the client's option form.
    Reply { exp: bool },
    /// A good cookie (or none needed): the child is made now.
    Child,
}

/// How many entries each table holds (for tests and `ss -s`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableSizes {
    pub connections: usize,
    pub requests: usize,
    pub time_wait: usize,
    pub listeners: usize,
    pub timers: usize,
    pub demux: usize,
    /// Memory held by SYN-queue records (each a compact `Request`, not a socket).
    pub request_bytes: usize,
    /// Orphaned connections (closed by the application, still closing).
    pub orphans: usize,
    /// Connections holding a flight record: data in flight, or recovery state not yet
    /// at rest (an idle connection holds none).
    pub flights: usize,
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

fn send_tw_ack(cx: &mut Ctx<'_>, tw: &TimeWait) {
    tw.ack(cx);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN.md: a TIME_WAIT entry and a SYN-queue entry are small records, not TCBs
    /// (Linux: 264 B per TIME_WAIT socket).
    #[test]
    fn compact_records() {
        assert!(
            std::mem::size_of::<TimeWait>() <= 160,
            "{}",
            std::mem::size_of::<TimeWait>()
        );
        assert!(
            std::mem::size_of::<Request>() <= 160,
            "{}",
            std::mem::size_of::<Request>()
        );
        assert!(std::mem::size_of::<Conn>() > 2 * std::mem::size_of::<TimeWait>());
        // A connection's descriptor: its kind and an absent setup box.
        assert_eq!(std::mem::size_of::<Socket>(), 16);
    }
}
