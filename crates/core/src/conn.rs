//! A connection: the full TCB, from SYN-SENT or an accepted child to CLOSED.
//!
//! Structure mirrors Linux's `tcp_rcv_state_process()` / `tcp_rcv_established()` for
//! input, `tcp_write_xmit()` for output and `tcp_retransmit_timer()`,
//! `tcp_probe_timer()`, `tcp_keepalive_timer()`, `tcp_delack_timer()` for time.
//! The connection never touches the network: the stack asks it for its next segment
//! (`next_segment`) and calls it back when its single wheel timer fires.
use crate::autotune::{Autotune, Read};
use crate::buffer::{RecvBuf, SendBuf};
use crate::cc::CongestionControl;
use crate::ctx::{Ctrl, Ctx, OowStamp};
use crate::event::{EventKind, SegmentInfo, TimerKind};
use crate::flight::LazyFlight;
use crate::lazy::{AtRest, Lazy};
use crate::opts::SockOpts;
use crate::timers::TimerId;
use crate::undo::Undo;
use crate::{Config, Counter, Errno, Fd, Instant, TcpState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use synack_wire::{SackBlock, SeqNum, TcpFlags, TcpOptions, TcpSegment, Timestamps};

mod model;

/// include/net/tcp.h
pub(crate) const RTO_INIT: Duration = Duration::from_secs(1);
pub(crate) const RTO_MIN: Duration = Duration::from_millis(200);
pub(crate) const RTO_MAX: Duration = Duration::from_secs(120);
/// Delayed-ACK timeout (TCP_ATO_MIN; Linux adapts it between 40 and 200 ms).
pub(crate) const ATO: Duration = Duration::from_millis(40);
/// How long emptied buffers keep their memory.
const BUFFER_TRIM_DELAY: Duration = Duration::from_secs(1);
/// Most send times kept for RTT samples (a gigabit × 200 ms flight is 17,000 segments).
const MAX_SENT_TIMES: usize = 32_768;
/// TCP_RESOURCE_PROBE_INTERVAL: how often data refused by a blocked link is tried again.
const RESOURCE_PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// TCP_MAX_QUICKACKS
const MAX_QUICKACKS: u32 = 16;
/// TCP_MSS_DEFAULT: the MSS assumed when the peer sends no MSS option.
pub(crate) const MSS_DEFAULT: u16 = 536;
/// Aligned length of the timestamp option, taken from the MSS when timestamps are on.
pub(crate) const TS_LEN: u16 = 12;
/// RFC 7323: `ts_recent` older than 24 days is not used for PAWS.
const PAWS_24DAYS: Duration = Duration::from_secs(24 * 24 * 3600);

/// Linux's `tcp_model_timeout()`: how long `boundary` retransmissions take when the RTO
/// starts at `rto_base` and doubles up to RTO_MAX. A retry count becomes a time budget.
pub(crate) fn model_timeout(boundary: u32, rto_base: Duration) -> Duration {
    let thresh = (RTO_MAX.as_micros() / rto_base.as_micros().max(1))
        .max(1)
        .ilog2();
    if boundary <= thresh {
        rto_base * ((2u32 << boundary) - 1)
    } else {
        rto_base * ((2u32 << thresh) - 1) + RTO_MAX * (boundary - thresh)
    }
}

/// Negotiated at the handshake.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Negotiated {
    /// Peer's MSS option (or 536).
    pub(crate) peer_mss: u16,
    /// Shift the peer applies to our window field / we apply to theirs; `None`: no scaling.
    pub(crate) wscale: Option<(u8, u8)>,
    pub(crate) sack: bool,
    pub(crate) ts: bool,
}

impl Negotiated {
    /// What a listener agrees to from a SYN's options (`tcp_openreq_init`): the peer's
    /// MSS (536 without one), window scaling and SACK if both sides do them, timestamps
    /// if the SYN carried one.
    pub(crate) fn from_syn(cfg: &Config, opts: &SockOpts, o: &TcpOptions) -> Negotiated {
        Negotiated {
            peer_mss: o.mss.unwrap_or(MSS_DEFAULT).max(64),
            wscale: match (cfg.tcp_window_scaling, o.window_scale) {
                (true, Some(w)) => Some((w.min(14), our_wscale(cfg, opts))),
                _ => None,
            },
            sack: cfg.tcp_sack && o.sack_permitted,
            ts: cfg.tcp_timestamps != 0 && o.timestamps.is_some(),
        }
    }
}

/// What the stack must do after a connection handled an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Keep,
    /// Became TIME_WAIT (or an orphaned FIN_WAIT_2 that lives on as a compact record
    /// for the given time): replace by a `TimeWait` record.
    TimeWait(TcpState, Duration),
    /// Became CLOSED: leave the demux table (and the slab, if orphaned).
    Closed,
}

/// One connection's full state.
pub(crate) struct Conn {
    pub(crate) state: TcpState,
    /// The 4-tuple (`local()`, `remote()`).
    addrs: Addrs,
    /// The application's descriptor; `None` while in an accept queue or once orphaned.
    pub(crate) fd: Option<Fd>,
    /// Opened by connect() (it holds its local port in the port table).
    pub(crate) active: bool,
    /// close() was called: nobody will read; FIN_WAIT_2 and retries follow orphan rules.
    pub(crate) orphan: bool,
    /// Counted in the stack's orphan total (tcp_max_orphans).
    pub(crate) counted_orphan: bool,
    /// Listener whose accept queue holds this child.
    pub(crate) listener: Option<u32>,
    pub(crate) opts: SockOpts,

    // Send sequence space (RFC 9293 3.3.1).
    pub(crate) iss: SeqNum,
    pub(crate) snd_una: SeqNum,
    pub(crate) snd_nxt: SeqNum,
    /// Highest sequence sent so far (SND.NXT goes back on a timeout; this does not).
    snd_max: SeqNum,
    pub(crate) snd_wnd: u32,
    snd_wl1: SeqNum,
    snd_wl2: SeqNum,
    max_window: u32,
    /// End of the last small segment sent (Minshall's Nagle variant, as Linux).
    snd_sml: SeqNum,

    // Receive sequence space.
    pub(crate) irs: SeqNum,
    pub(crate) rcv_nxt: SeqNum,
    /// Right edge we advertised last; the window never shrinks below it (RFC 7323 2.4).
    rcv_adv: SeqNum,
    rcv_ssthresh: u32,

    pub(crate) neg: Negotiated,
    /// Our MSS option (advmss).
    pub(crate) advmss: u16,
    /// Path MTU learned from ICMP (fragmentation needed / packet too big).
    pmtu: Option<u32>,
    /// An ICMP error on an established connection (`sk_err_soft`): reported instead of
    /// ETIMEDOUT if the connection times out.
    soft_error: Option<Errno>,
    /// When the last challenge or out-of-window ACK left (`last_oow_ack_time`).
    last_oow_ack: OowStamp,
    /// Payload per segment we send (peer MSS, path MTU, TCP_MAXSEG, minus options).
    pub(crate) mss: u16,
    pub(crate) ts_off: u32,
    pub(crate) ts_recent: u32,
    pub(crate) ts_recent_stamp: Instant,
    last_ack_sent: SeqNum,

    pub(crate) snd: SendBuf,
    pub(crate) rcv: RecvBuf,
    /// The application shut the sending side: a FIN follows the queued data.
    pub(crate) fin_queued: bool,
    /// Our FIN has been sent (at `snd_una + snd.len()`), possibly not yet acknowledged.
    fin_sent: bool,
    /// The peer acknowledged our FIN.
    fin_was_acked: bool,
    /// The peer's FIN was received in order: reads see EOF after the data.
    pub(crate) rcv_fin: bool,
    /// An out-of-order FIN waiting for the data before it (its sequence number).
    ooo_fin: Option<SeqNum>,
    /// shutdown(SHUT_RD) or close(): reads return 0; data arriving after our FIN is reset.
    pub(crate) rd_shut: bool,
    /// The error reported to the application (SO_ERROR, then read/write).
    pub(crate) error: Option<Errno>,
    /// The connection was reset or timed out: read() reports `error` after the data.
    pub(crate) dead: bool,

    // Retransmission (RFC 6298, Linux flavour).
    /// Smoothed RTT and its variation in µs (`srtt_us`, `mdev`): 0 before the first
    /// sample (a sample is at least 1 µs).
    srtt_us: u32,
    rttvar_us: u32,
    /// The retransmission timeout in µs (at most TCP_RTO_MAX: 120 s fits a `u32`).
    rto_us: u32,
    pub(crate) backoff: u32,
    pub(crate) retransmits: u32,
    total_rto: u32,
    retrans_stamp: Option<Instant>,
    rtx_deadline: Option<Instant>,
    /// The segment timed for an RTT sample without timestamps (one per round trip; the
    /// SYN too, so a handshake needs no flight record).
    rtt_probe: Option<(SeqNum, Instant)>,
    /// Data in flight and its recovery: boxed while not at rest (see `flight`).
    pub(crate) flight: LazyFlight,
    /// What undoing the last window reduction needs: boxed while there is one. Apart
    /// from the flight, since Linux keeps it after the recovery ends (a late D-SACK may
    /// still show the reduction needless) and a paused connection should not keep the
    /// whole flight record for it.
    undo: Lazy<Undo>,
    /// Send a SYN (SYN-SENT) or SYN-ACK (simultaneous open's SYN-RECEIVED) now.
    syn_pending: bool,
    /// The retransmission timer is armed as a tail loss probe (ICSK_TIME_LOSS_PROBE).
    rtx_is_probe: bool,
    /// The retransmission timer is armed as RACK's reorder timer (ICSK_TIME_REO_TIMEOUT):
    /// data above a hole was SACKed, too little to call the hole lost at once.
    rtx_is_reo: bool,
    /// The smallest RTT seen, µs (`tcp_min_rtt`; 0 before a sample): RACK's reordering
    /// window is a quarter of it.
    min_rtt_us: u32,
    pub(crate) total_retrans: u32,

    // Congestion control: CUBIC or Reno; SACK recovery with PRR, NewReno without SACK.
    pub(crate) cwnd: u32,
    pub(crate) ssthresh: u32,
    /// Bytes acknowledged toward the next whole segment for congestion avoidance.
    cwnd_acc: u32,
    /// Congestion window validation (`tcp_cwnd_validate`): whether the window was used up
    /// in the current round, the most bytes out in it, and where the round ends. The
    /// window grows only when it limits the flow (`tcp_is_cwnd_limited`), as Linux's.
    is_cwnd_limited: bool,
    max_out: u32,
    cwnd_usage_seq: SeqNum,
    /// Reno, CUBIC or BBR (`icsk_ca_ops`).
    cc: CongestionControl,
    /// BBR's model, rate sampler and pacing clock (only BBR connections have one).
    model: Option<Box<model::Model>>,
    /// Duplicate segments reported by D-SACKs (`dsack_dups`): more than were ever
    /// retransmitted makes a D-SACK dubious (ignored).
    dsack_dups: u32,
    /// The path's reordering degree (`tp->reordering`), in segments: what must be SACKed
    /// above a hole before it counts as lost. From tcp_reordering; grows as reordering is
    /// seen (a hole filled by an original transmission), up to tcp_max_reordering.
    reordering: u16,

    // ACKs.
    ack_now: bool,
    delack_deadline: Option<Instant>,
    quick: u32,
    rcv_mss: u32,
    unacked_bytes: u32,
    saw_data: bool,
    /// Receive-buffer auto-tuning: the receiver's round-trip estimate and what the
    /// application reads per round trip.
    autotune: Autotune,
    /// How much of the receive buffer the window may offer, in 256ths
    /// (`tp->scaling_ratio`): Linux's default half, until a segment larger than the
    /// receive MSS estimate measures its payload against its true size (`truesize`).
    scaling_ratio: u8,
    /// Interactive (ping-pong) mode (`icsk_ack.pingpong`): we answered within ato of
    /// receiving, so ACKs wait to ride on our next data instead of quick-ACKing.
    pingpong: bool,
    /// When data (or the SYN-ACK) last arrived (`icsk_ack.lrcvtime`).
    lrcvtime: Instant,
    /// The delayed-ACK engine runs (Linux's ato is non-zero): set by the first data
    /// received, or by quick-ACK mode entered when the SYN-ACK's ACK waits for data.
    ato_on: bool,
    /// The SYN-ACK was just processed and its ACK not sent yet.
    synack_ack_pending: bool,

    // Zero-window probes and keepalive.
    pub(crate) probes_out: u32,
    /// When the first zero-window probe of this series went out (`icsk_probes_tstamp`):
    /// TCP_USER_TIMEOUT counts from it.
    probes_stamp: Option<Instant>,
    probe_deadline: Option<Instant>,
    probe_now: bool,
    /// New data could not leave: the link was blocked (Linux's qdisc drop, "local
    /// congestion"). Nothing counts as sent; the probe timer retries every
    /// TCP_RESOURCE_PROBE_INTERVAL, and a write or an ACK tries again at once.
    local_congested: bool,
    ka_deadline: Option<Instant>,
    pub(crate) last_rcv: Instant,
    /// Orphaned FIN_WAIT_2 that outlives TIME_WAIT's length: when it becomes a record.
    fw2_deadline: Option<Instant>,
    /// Buffers are empty but hold memory: give it back if the flow stays paused this long.
    trim_deadline: Option<Instant>,

    /// The stack's wheel entry for this connection and its deadline.
    pub(crate) timer: Option<(TimerId, Instant)>,
    /// In the stack's transmit queue already.
    pub(crate) queued: bool,
    /// What TCP_INFO reports beyond the protocol state.
    stats: Stats,
    /// A passive Fast Open child still counted in its listener's Fast Open queue
    /// (cleared when it leaves SYN_RECV).
    pub(crate) fastopen_listener: Option<u32>,
    /// Created by a Fast Open SYN: SYN-ACK retries are tcp_synack_retries + 1 and data
    /// may be sent before the handshake completes.
    pub(crate) passive_fastopen: bool,
    /// Data in the SYN was acknowledged (TCPI_OPT_SYN_DATA).
    pub(crate) syn_data_acked: bool,
    /// The client side of Fast Open.
    pub(crate) fo: Lazy<ActiveFastOpen>,
    /// TSval of our first SYN: a SYN-ACK must echo one between it and now.
    syn_tsval: Option<u32>,
}

/// A Fast Open cookie: up to 16 bytes and their count.
pub(crate) type CookieBytes = ([u8; 16], u8);

/// What a SYN-ACK taught about a server, for the cookie cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Learned {
    pub(crate) mss: u16,
    /// The cookie, and whether it came in the experimental form.
    pub(crate) cookie: Option<(CookieBytes, bool)>,
    pub(crate) try_exp: u8,
}

/// An active Fast Open attempt: what the first SYN carries, and what its SYN-ACK taught.
/// Boxed (`Lazy`) only while an attempt runs: most connections never make one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ActiveFastOpen {
    /// connect() returned 0 under TCP_FASTOPEN_CONNECT: the SYN waits for the first
    /// write (Linux's DEFER_CONNECT).
    pub(crate) deferred: bool,
    /// The first SYN carries a Fast Open option: the cookie below, or an empty request.
    pub(crate) option: bool,
    /// In the experimental form (kind 254, magic 0xF989).
    pub(crate) exp: bool,
    pub(crate) cookie: [u8; 16],
    pub(crate) cookie_len: u8,
    /// Bytes of the send buffer that ride in the first SYN.
    pub(crate) syn_data: u32,
    /// From the SYN-ACK, for the stack's cookie cache: the MSS, the cookie if any (and
    /// whether it came in the experimental form), and `try_exp`.
    /// Boxed: it lives from the SYN-ACK to the end of that segment's processing, and a
    /// connection's every byte counts.
    pub(crate) learned: Option<Box<Learned>>,
    /// SYN data the SYN-ACK did not acknowledge: resent as one segment of its own, with
    /// PSH, as Linux retransmits the SYN-data skb.
    pub(crate) resend: u32,
}

static NO_FAST_OPEN: ActiveFastOpen = ActiveFastOpen {
    deferred: false,
    option: false,
    exp: false,
    cookie: [0; 16],
    cookie_len: 0,
    syn_data: 0,
    learned: None,
    resend: 0,
};

impl AtRest for ActiveFastOpen {
    fn at_rest() -> &'static ActiveFastOpen {
        &NO_FAST_OPEN
    }

    /// The handshake is over: what the SYN carried no longer matters; SYN data still to
    /// resend and a lesson not yet handed to the cookie cache do.
    fn settle(&mut self) {
        *self = ActiveFastOpen {
            resend: self.resend,
            learned: self.learned.take(),
            ..NO_FAST_OPEN.clone()
        };
    }
}

/// Per-connection tallies for TCP_INFO (`tcpi_segs_out`, `tcpi_delivered`, ...).
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    segs_in: u32,
    segs_out: u32,
    data_segs_in: u32,
    data_segs_out: u32,
    bytes_sent: u64,
    bytes_received: u64,
    bytes_acked: u64,
    /// Segments the peer has acknowledged, the SYN included (as Linux's tp->delivered).
    delivered: u32,
    last_data_sent: Option<Instant>,
    last_data_recv: Option<Instant>,
    last_ack_recv: Option<Instant>,
}

/// A connection's two addresses packed into 38 bytes instead of two 32-byte
/// `SocketAddr`s (every connection carries them): both IPs in 16 bytes (an IPv4 address in
/// the first four), the ports, the family. IPv6 flow labels and scope ids are not part of
/// a connection's identity (Linux's `sk_v6_daddr`, `sk_dport`... neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Addrs {
    local: [u8; 16],
    remote: [u8; 16],
    ports: [u16; 2],
    v6: bool,
}

impl Addrs {
    fn new(local: SocketAddr, remote: SocketAddr) -> Addrs {
        fn bytes(a: &SocketAddr) -> [u8; 16] {
            match a.ip() {
                IpAddr::V4(v4) => {
                    let mut b = [0; 16];
                    b[..4].copy_from_slice(&v4.octets());
                    b
                }
                IpAddr::V6(v6) => v6.octets(),
            }
        }
        Addrs {
            local: bytes(&local),
            remote: bytes(&remote),
            ports: [local.port(), remote.port()],
            v6: local.is_ipv6(),
        }
    }

    fn addr(&self, ip: &[u8; 16], port: u16) -> SocketAddr {
        if self.v6 {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(*ip)), port)
        } else {
            let v4 = Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]);
            SocketAddr::new(IpAddr::V4(v4), port)
        }
    }
}

fn ts_now(now: Instant, off: u32) -> u32 {
    (now.as_millis() as u32).wrapping_add(off)
}

impl Conn {
    /// Our address and port.
    pub(crate) fn local(&self) -> SocketAddr {
        self.addrs.addr(&self.addrs.local, self.addrs.ports[0])
    }

    /// The peer's address and port.
    pub(crate) fn remote(&self) -> SocketAddr {
        self.addrs.addr(&self.addrs.remote, self.addrs.ports[1])
    }

    /// A connection about to send its SYN (active open).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn connect(
        cx: &mut Ctx<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        fd: Fd,
        opts: SockOpts,
        iss: u32,
        ts_off: u32,
    ) -> Conn {
        let mut c = Conn::blank(cx, local, remote, Some(fd), opts, SeqNum(iss), ts_off);
        c.neg = Negotiated {
            peer_mss: MSS_DEFAULT,
            wscale: None,
            sack: cx.cfg.tcp_sack,
            ts: cx.cfg.tcp_timestamps != 0,
        };
        c.active = true;
        c.set_state(cx, TcpState::SynSent);
        c.syn_pending = true;
        c
    }

    /// A child created from a completed request (the third ACK, or a valid cookie).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn accepted(
        cx: &mut Ctx<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        opts: SockOpts,
        iss: u32,
        irs: u32,
        ts_off: u32,
        ts_recent: u32,
        neg: Negotiated,
        snd_wnd: u32,
        rcv_wnd: u32,
        synack_sent: Option<Instant>,
    ) -> Conn {
        let mut c = Conn::passive(
            cx,
            local,
            remote,
            opts,
            (iss, irs),
            (ts_off, ts_recent),
            neg,
            snd_wnd,
        );
        c.snd_una = SeqNum(iss) + 1;
        c.snd_nxt = c.snd_una;
        c.snd_max = c.snd_una;
        c.snd_sml = c.snd_una;
        c.snd_wl2 = c.snd_una;
        c.rcv_adv = c.rcv_nxt + rcv_wnd;
        c.rcv_ssthresh = rcv_wnd.min(c.window_clamp());
        c.last_ack_sent = c.rcv_nxt;
        c.start_autotune(cx.now);
        c.stats.delivered = 1; // the SYN-ACK, acknowledged by the ACK that made us
        if let Some(sent) = synack_sent {
            c.rtt_sample(cx.now - sent);
        }
        c.set_state(cx, TcpState::SynRecv);
        c.set_state(cx, TcpState::Established);
        c.arm_keepalive(cx);
        c
    }

    /// What every passive connection takes from its SYN: the peer's ISN, options,
    /// timestamp and window (the send side is the caller's: before or after its SYN-ACK
    /// is acknowledged).
    #[allow(clippy::too_many_arguments)]
    fn passive(
        cx: &mut Ctx<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        opts: SockOpts,
        (iss, irs): (u32, u32),
        (ts_off, ts_recent): (u32, u32),
        neg: Negotiated,
        snd_wnd: u32,
    ) -> Conn {
        let mut c = Conn::blank(cx, local, remote, None, opts, SeqNum(iss), ts_off);
        c.neg = neg;
        c.irs = SeqNum(irs);
        c.rcv_nxt = SeqNum(irs) + 1;
        c.ts_recent = ts_recent;
        c.ts_recent_stamp = cx.now;
        c.snd_wnd = snd_wnd;
        c.max_window = snd_wnd;
        c.snd_wl1 = SeqNum(irs);
        c.set_mss(cx.cfg);
        c.init_cwnd();
        c
    }

    /// A deferred Fast Open connect: no SYN until the first write.
    pub(crate) fn defer_syn(&mut self) {
        self.syn_pending = false;
    }

    /// Send the (Fast Open) SYN now.
    pub(crate) fn resume_syn(&mut self) {
        if self.state == TcpState::SynSent && self.retransmits == 0 {
            self.syn_pending = true;
        }
    }

    /// Passive Fast Open (`tcp_fastopen_create_child`): a child made by the SYN itself. It
    /// is in SYN_RECV with its SYN-ACK still to send; the SYN's data is queued for the
    /// application already, so the SYN-ACK acknowledges it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fastopen_child(
        cx: &mut Ctx<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        opts: SockOpts,
        iss: u32,
        irs: u32,
        ts_off: u32,
        ts_recent: u32,
        neg: Negotiated,
        snd_wnd: u32,
        data: &[u8],
    ) -> Conn {
        let mut c = Conn::passive(
            cx,
            local,
            remote,
            opts,
            (iss, irs),
            (ts_off, ts_recent),
            neg,
            snd_wnd,
        );
        c.snd_wl2 = SeqNum(iss);
        let rcv_wnd =
            initial_rcv_window(c.full_space() as usize, c.mss_for_window(), c.rcv_wscale());
        c.rcv_ssthresh = rcv_wnd.min(c.window_clamp());
        if !data.is_empty() {
            if let Some(n) = c.rcv.insert(0, data) {
                c.rcv_nxt = c.rcv_nxt + n as u32;
                c.stats.bytes_received += n as u64;
                c.syn_data_acked = n > 0;
            }
        }
        c.rcv_adv = c.rcv_nxt + rcv_wnd;
        c.last_ack_sent = c.rcv_nxt;
        c.start_autotune(cx.now);
        c.last_rcv = cx.now;
        c.passive_fastopen = true;
        c.syn_pending = true;
        c.set_state(cx, TcpState::SynRecv);
        c
    }

    fn blank(
        cx: &mut Ctx<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        fd: Option<Fd>,
        opts: SockOpts,
        iss: SeqNum,
        ts_off: u32,
    ) -> Conn {
        let cfg = cx.cfg;
        let advmss = advmss(cfg, local, opts.maxseg);
        Conn {
            pmtu: None,
            soft_error: None,
            last_oow_ack: OowStamp::default(),
            state: TcpState::Closed,
            addrs: Addrs::new(local, remote),
            fd,
            active: false,
            orphan: false,
            counted_orphan: false,
            listener: None,
            opts,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: iss,
            max_window: 0,
            snd_sml: iss,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            rcv_ssthresh: 0,
            neg: Negotiated::default(),
            advmss,
            mss: MSS_DEFAULT,
            ts_off,
            ts_recent: 0,
            ts_recent_stamp: Instant::ZERO,
            last_ack_sent: SeqNum(0),
            snd: SendBuf::new(opts.sndbuf(cfg) as usize),
            rcv: RecvBuf::new(opts.rcvbuf(cfg) as usize),
            fin_queued: false,
            fin_sent: false,
            fin_was_acked: false,
            rcv_fin: false,
            ooo_fin: None,
            rd_shut: false,
            error: None,
            dead: false,
            srtt_us: 0,
            rttvar_us: 0,
            rto_us: 0,
            backoff: 0,
            retransmits: 0,
            total_rto: 0,
            retrans_stamp: None,
            rtx_deadline: None,
            rtt_probe: None,
            flight: LazyFlight::default(),
            undo: Lazy::default(),
            syn_pending: false,
            rtx_is_probe: false,
            rtx_is_reo: false,
            min_rtt_us: 0,
            total_retrans: 0,
            cwnd: 0,
            ssthresh: u32::MAX,
            cwnd_acc: 0,
            is_cwnd_limited: false,
            max_out: 0,
            cwnd_usage_seq: iss,
            cc: CongestionControl::new(opts.congestion.unwrap_or(cfg.tcp_congestion_control)),
            model: None,
            dsack_dups: 0,
            reordering: cfg.tcp_reordering.min(u32::from(u16::MAX)) as u16,
            ack_now: false,
            delack_deadline: None,
            quick: 0,
            rcv_mss: 0,
            scaling_ratio: DEFAULT_SCALING_RATIO,
            autotune: Autotune::new(Instant::ZERO, SeqNum(0), 0, 0),
            unacked_bytes: 0,
            saw_data: false,
            pingpong: false,
            lrcvtime: cx.now,
            ato_on: false,
            synack_ack_pending: false,
            probes_out: 0,
            probes_stamp: None,
            probe_deadline: None,
            probe_now: false,
            local_congested: false,
            ka_deadline: None,
            last_rcv: cx.now,
            fw2_deadline: None,
            trim_deadline: None,
            timer: None,
            queued: false,
            stats: Stats::default(),
            fastopen_listener: None,
            passive_fastopen: false,
            syn_data_acked: false,
            fo: Lazy::default(),
            syn_tsval: None,
        }
    }

    pub(crate) fn set_state(&mut self, cx: &mut Ctx<'_>, to: TcpState) {
        let from = self.state;
        if from == to {
            return;
        }
        if from == TcpState::Established || from == TcpState::CloseWait {
            if to != TcpState::Established && to != TcpState::CloseWait {
                cx.counters.decr(Counter::CurrEstab);
            }
        } else if to == TcpState::Established || to == TcpState::CloseWait {
            cx.counters.incr(Counter::CurrEstab);
        }
        self.state = to;
        if to == TcpState::Established && self.cc.algorithm == crate::cc::Algorithm::Bbr {
            self.model_init(cx.now);
        }
        cx.events
            .state(cx.now, self.local(), self.remote(), from, to);
    }

    /// MSS of the path: the interface's, or a smaller path MTU learned from ICMP.
    fn path_mss(&self, cfg: &Config) -> u16 {
        let path = advmss(cfg, self.local(), None);
        let hdr = if self.local().is_ipv4() { 40 } else { 60 };
        match self.pmtu {
            Some(m) => path.min(m.saturating_sub(hdr).max(88) as u16),
            None => path,
        }
    }

    fn set_mss(&mut self, cfg: &Config) {
        let path = self.path_mss(cfg);
        let mut mss = path.min(self.neg.peer_mss);
        if let Some(user) = self.opts.maxseg {
            mss = mss.min(user);
        }
        if self.neg.ts {
            mss = mss.saturating_sub(TS_LEN);
        }
        self.mss = mss.max(8);
    }

    /// RFC 6928 / Linux: initial window of 10 segments.
    fn init_cwnd(&mut self) {
        self.cwnd = 10 * self.mss as u32;
    }

    pub(crate) fn rcv_wscale(&self) -> u8 {
        self.neg.wscale.map(|w| w.1).unwrap_or(0)
    }
    fn snd_wscale(&self) -> u8 {
        self.neg.wscale.map(|w| w.0).unwrap_or(0)
    }

    fn in_flight(&self) -> u32 {
        (self.snd_nxt - self.snd_una).max(0) as u32
    }

    /// Bytes queued but never sent (after SND.NXT).
    fn unsent(&self) -> usize {
        let sent_data = ((self.snd_nxt - self.snd_una).max(0) as usize)
            .saturating_sub(self.syn_in_flight() as usize);
        self.snd.len().saturating_sub(sent_data)
    }

    fn syn_in_flight(&self) -> bool {
        // A Fast Open child can be closed (FIN_WAIT_1) before its SYN-ACK is acknowledged:
        // its SYN still takes the first sequence number.
        let opening = matches!(self.state, TcpState::SynSent | TcpState::SynRecv)
            || (self.passive_fastopen && self.stats.bytes_acked == 0);
        opening && self.snd_una == self.iss
    }

    /// Sequence number of our FIN (valid once the application shut the sending side).
    fn fin_seq(&self) -> SeqNum {
        self.snd_una + self.syn_in_flight() as u32 + self.snd.len() as u32
    }

    fn fin_acked(&self) -> bool {
        self.fin_was_acked
    }

    // ------------------------------------------------------------------ input

    /// Process a segment for this connection (Linux `tcp_rcv_state_process`).
    /// Returns what the stack must do next, and whether to answer `seg` with a RST.
    pub(crate) fn on_segment(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>) -> (Next, bool) {
        self.stats.segs_in += 1;
        if !seg.payload.is_empty() {
            self.stats.data_segs_in += 1;
            self.stats.last_data_recv = Some(cx.now);
        }
        if seg.flags.ack() {
            self.stats.last_ack_recv = Some(cx.now);
        }
        if self.state == TcpState::SynSent {
            return self.on_segment_syn_sent(cx, seg);
        }
        let seq = SeqNum(seg.seq);
        let end = seq + seg.seq_len();

        // PAWS (RFC 7323 5): a segment with an older timestamp is an old duplicate. A
        // reset is judged by its sequence number alone; a SYN takes the challenge path.
        if !seg.flags.rst() && self.paws_discard(cx, seg, seq) {
            if seg.flags.syn() {
                cx.incr(Counter::TcpSynChallenge);
                self.challenge_ack(cx);
                self.drop_event(cx, seg, crate::DropReason::SynChallenge);
                return (Next::Keep, false);
            }
            cx.incr(Counter::PawsEstab);
            self.drop_event(cx, seg, crate::DropReason::Paws);
            if !self.oow_rate_limited(cx, seg, Counter::TcpAckSkippedPaws) {
                self.ack_now = true; // tcp_send_dupack
            }
            return (Next::Keep, false);
        }

        // Sequence check (tcp_sequence): overlap with [RCV.NXT, RCV.NXT + RCV.WND].
        let wnd = self.rcv_window_bytes();
        let acceptable = end >= self.rcv_nxt && seq <= self.rcv_nxt + wnd;
        let acceptable = acceptable && !(seg.seq_len() == 0 && seq < self.rcv_nxt);
        if !acceptable {
            if seg.flags.syn() && !seg.flags.rst() {
                // tcp_validate_incoming: a SYN outside the window takes the challenge
                // path (RFC 5961 4), not a plain duplicate ACK.
                cx.incr(Counter::TcpSynChallenge);
                self.challenge_ack(cx);
                self.drop_event(cx, seg, crate::DropReason::SynChallenge);
                return (Next::Keep, false);
            }
            if !seg.flags.rst() && !self.oow_rate_limited(cx, seg, Counter::TcpAckSkippedSeq) {
                self.ack_now = true; // tcp_send_dupack
            }
            self.drop_event(cx, seg, crate::DropReason::OutOfWindow);
            return (Next::Keep, false);
        }

        // RST (RFC 5961 3.2): exactly at RCV.NXT resets, anywhere else in the window
        // draws a challenge ACK.
        if seg.flags.rst() {
            let after_fin = matches!(
                self.state,
                TcpState::CloseWait | TcpState::LastAck | TcpState::Closing
            ) && seq + 1 == self.rcv_nxt;
            if seq == self.rcv_nxt || after_fin {
                return (self.on_reset(cx), false);
            }
            self.challenge_ack(cx);
            self.drop_event(cx, seg, crate::DropReason::RstOutOfWindow);
            return (Next::Keep, false);
        }

        // A SYN on a synchronized connection (RFC 5961 4). Simultaneous open's SYN-ACK
        // crossing our own SYN-ACK is the one exception (Linux: "goto pass").
        if seg.flags.syn() {
            let crossing = self.state == TcpState::SynRecv
                && seg.flags.ack()
                && seq + 1 == self.rcv_nxt
                && SeqNum(seg.ack) == self.snd_nxt;
            if !crossing {
                cx.incr(Counter::TcpSynChallenge);
                self.challenge_ack(cx);
                self.drop_event(cx, seg, crate::DropReason::SynChallenge);
                return (Next::Keep, false);
            }
        }

        if !seg.flags.ack() {
            self.drop_event(cx, seg, crate::DropReason::BadFlags);
            return (Next::Keep, false);
        }

        self.last_rcv = cx.now;

        // ACK processing. TS.Recent is taken only from a segment whose ACK is valid
        // (tcp_ack's FLAG_UPDATE_TS_RECENT comes after its unsent/too-old checks): a
        // segment acknowledging unsent data is dropped and must not move it.
        let ack = SeqNum(seg.ack);
        if ack > self.snd_max {
            // Acknowledges what we never sent.
            if self.state != TcpState::Established {
                self.challenge_ack(cx);
            }
            self.drop_event(cx, seg, crate::DropReason::AckUnsent);
            if self.state == TcpState::SynRecv {
                return (Next::Keep, true);
            }
            return (Next::Keep, false);
        }
        if self.state == TcpState::SynRecv {
            if ack <= self.iss {
                self.drop_event(cx, seg, crate::DropReason::AckUnsent);
                return (Next::Keep, true);
            }
            // Simultaneous open (or a passive Fast Open handshake) completes.
            self.snd_wnd = (seg.window as u32) << self.snd_wscale();
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            self.set_state(cx, TcpState::Established);
            self.arm_keepalive(cx);
        }
        let too_old = ack < self.snd_una - self.max_window.max(1);
        if too_old {
            self.challenge_ack(cx);
            self.drop_event(cx, seg, crate::DropReason::AckTooOld);
            return (Next::Keep, false);
        }
        self.update_ts_recent(cx, seg);
        if let (Some(ts), true) = (seg.options.timestamps, self.neg.ts) {
            if self.state == TcpState::Established {
                let ms_since = ts_now(cx.now, self.ts_off).wrapping_sub(ts.ecr);
                let len = seg.payload.len() as u32;
                self.autotune
                    .on_timestamp(ts.ecr, len, self.rcv_mss, ms_since);
            }
        }
        self.on_ack(cx, seg, seq, ack);

        let mut next = Next::Keep;
        if self.fin_acked() {
            match self.state {
                TcpState::FinWait1 => {
                    self.set_state(cx, TcpState::FinWait2);
                    if self.orphan {
                        next = self.orphan_fin_wait2(cx, seg);
                        if next != Next::Keep {
                            return (next, false);
                        }
                    }
                }
                TcpState::Closing => {
                    return (self.enter_time_wait(cx), false);
                }
                TcpState::LastAck => {
                    self.set_state(cx, TcpState::Closed);
                    return (Next::Closed, false);
                }
                _ => {}
            }
        }

        // Data and FIN.
        let has_data = !seg.payload.is_empty() || seg.flags.fin();
        if has_data {
            match self.state {
                TcpState::FinWait1 | TcpState::FinWait2 if self.rd_shut => {
                    // RFC 1122 4.2.2.13: data after close() gets a reset.
                    let new_data = end - (seg.flags.fin() as u32) > self.rcv_nxt;
                    if !seg.payload.is_empty() && new_data {
                        cx.incr(Counter::TcpAbortOnData);
                        self.kill(cx, Some(Errno::ECONNRESET));
                        return (Next::Closed, true);
                    }
                    self.on_data(cx, seg, seq);
                }
                TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 => {
                    self.on_data(cx, seg, seq);
                }
                _ => {
                    // CLOSE_WAIT, CLOSING, LAST_ACK: the peer's FIN was seen; a
                    // retransmission of it is answered with an ACK.
                    if end <= self.rcv_nxt {
                        self.ack_now = true;
                    }
                }
            }
            if let Some(n) = self.after_fin(cx) {
                next = n;
            }
        }
        (next, false)
    }

    /// `tcp_rcv_fastopen_synack`: how much of the SYN's data was acknowledged, and the
    /// cookie to remember (only one we asked for: an unsolicited cookie is ignored).
    fn fastopen_synack(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>, ack: SeqNum) {
        let fo = self.fo.clone();
        if !fo.option && fo.syn_data == 0 {
            return;
        }
        let acked = ((ack - (self.iss + 1)).max(0) as u32).min(self.snd.len() as u32);
        self.snd.consume(acked as usize);
        if fo.syn_data > 0 {
            if acked >= fo.syn_data && self.retransmits == 0 {
                self.syn_data_acked = true;
                cx.incr(Counter::TcpFastOpenActive);
            } else {
                cx.incr(Counter::TcpFastOpenActiveFail);
                self.fo.resend = fo.syn_data.saturating_sub(acked);
            }
        }
        let cookie = seg.options.fast_open.filter(|_| fo.option).map(|f| {
            let mut c = [0u8; 16];
            let n = f.cookie().len().min(16);
            c[..n].copy_from_slice(&f.cookie()[..n]);
            (
                (c, n as u8),
                f.kind == synack_wire::FastOpenKind::Experimental,
            )
        });
        // We asked for a cookie and got none: ask the other way next time (try_exp).
        let asked = fo.option && fo.cookie_len == 0 && self.retransmits == 0;
        let try_exp = match (asked && cookie.is_none(), fo.exp) {
            (true, false) => 1,
            (true, true) => 2,
            (false, _) => 0,
        };
        self.fo.learned = Some(Box::new(Learned {
            mss: seg.options.mss.unwrap_or(0),
            cookie,
            try_exp,
        }));
        self.fo.option = false;
        self.fo.syn_data = 0;
    }

    fn on_segment_syn_sent(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>) -> (Next, bool) {
        let ack = SeqNum(seg.ack);
        if seg.flags.ack() && (ack <= self.iss || ack > self.snd_max) {
            self.drop_event(cx, seg, crate::DropReason::AckUnsent);
            return (Next::Keep, !seg.flags.rst());
        }
        if seg.flags.rst() {
            if seg.flags.ack() {
                cx.incr(Counter::AttemptFails);
                self.kill(cx, Some(Errno::ECONNREFUSED));
                return (Next::Closed, false);
            }
            self.drop_event(cx, seg, crate::DropReason::Ignored);
            return (Next::Keep, false);
        }
        if !seg.flags.syn() {
            self.drop_event(cx, seg, crate::DropReason::BadFlags);
            return (Next::Keep, false);
        }
        // A SYN-ACK must echo a timestamp we sent (tcp_rcv_synsent_state_process:
        // between our first SYN's and now), else it is reset (PAWSActiveRejected).
        if let (true, Some(ts), Some(first)) =
            (seg.flags.ack(), seg.options.timestamps, self.syn_tsval)
        {
            let now_ts = ts_now(cx.now, self.ts_off);
            let ok = ts.ecr == 0 || ts.ecr.wrapping_sub(first) <= now_ts.wrapping_sub(first);
            if self.neg.ts && !ok {
                cx.incr(Counter::PawsActive);
                self.drop_event(cx, seg, crate::DropReason::Paws);
                return (Next::Keep, true);
            }
        }
        // SYN or SYN-ACK: learn the peer's options.
        let o = &seg.options;
        self.neg.peer_mss = o.mss.unwrap_or(MSS_DEFAULT).max(64);
        self.neg.ts = self.neg.ts && o.timestamps.is_some();
        self.neg.sack = self.neg.sack && o.sack_permitted;
        self.neg.wscale = match (cx.cfg.tcp_window_scaling, o.window_scale) {
            (true, Some(theirs)) => Some((theirs.min(14), our_wscale(cx.cfg, &self.opts))),
            _ => None,
        };
        if let Some(ts) = o.timestamps {
            if self.neg.ts {
                self.ts_recent = ts.val;
                self.ts_recent_stamp = cx.now;
            }
        }
        self.irs = SeqNum(seg.seq);
        self.rcv_nxt = self.irs + 1;
        self.last_ack_sent = self.rcv_nxt;
        self.set_mss(cx.cfg);
        self.init_cwnd();
        // The window of our SYN, computed before the peer's timestamps were known
        // (`tcp_connect_init`: whole segments of the MSS we offered).
        let rcv_wnd =
            initial_rcv_window(self.full_space() as usize, self.advmss, self.rcv_wscale());
        self.rcv_ssthresh = rcv_wnd.min(self.window_clamp());
        self.rcv_adv = self.rcv_nxt + rcv_wnd;
        self.start_autotune(cx.now);
        self.last_rcv = cx.now;
        self.syn_pending = false;
        if seg.flags.ack() {
            self.snd_wnd = seg.window as u32; // never scaled in a SYN
            self.max_window = self.snd_wnd;
            self.snd_wl1 = self.irs;
            self.snd_wl2 = ack;
            if self.retransmits == 0 {
                if let Some((_, t)) = self.rtt_probe {
                    self.rtt_sample(cx.now - t);
                }
            } else if self.srtt().is_none() {
                // tcp_init_transfer: no RTT sample and a lost SYN: fall back to 3 s.
                self.set_rto(Duration::from_secs(3));
            }
            self.rtt_probe = None;
            self.fastopen_synack(cx, seg, ack);
            self.retrans_acked(ack);
            self.snd_una = ack;
            // SYN data the SYN-ACK did not cover goes again, as ordinary data.
            self.snd_nxt = ack;
            self.stats.delivered += 1; // our SYN
            self.retransmits = 0;
            self.backoff = 0;
            self.retrans_stamp = None;
            self.rtx_deadline = None;
            if self.rto() > RTO_INIT && self.srtt().is_some() {
                self.set_rto(self.compute_rto());
            }
            self.set_state(cx, TcpState::Established);
            self.arm_keepalive(cx);
            self.ack_now = true;
            self.lrcvtime = cx.now;
            // SYN data to resend goes at once with the ACK (tcp_rcv_fastopen_synack
            // returns early): not the "writer waiting" case.
            self.synack_ack_pending = self.fo.resend == 0;
            // Data or FIN on the SYN-ACK (Fast Open servers do that).
            if !seg.payload.is_empty() || seg.flags.fin() {
                self.on_data(cx, seg, self.irs + 1);
                if let Some(n) = self.after_fin(cx) {
                    return (n, false);
                }
            }
        } else {
            // Simultaneous open: answer with SYN-ACK from SYN-RECEIVED.
            self.snd_wnd = seg.window as u32;
            self.max_window = self.snd_wnd;
            self.snd_wl1 = self.irs;
            self.set_state(cx, TcpState::SynRecv);
            self.syn_pending = true;
            self.snd_nxt = self.iss;
        }
        (Next::Keep, false)
    }

    fn update_ts_recent(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>) {
        if !self.neg.ts {
            return;
        }
        if let Some(ts) = seg.options.timestamps {
            // RFC 7323 4.3: only from a segment covering Last.ACK.sent.
            if SeqNum(seg.seq) <= self.last_ack_sent
                && (ts.val.wrapping_sub(self.ts_recent) as i32 >= 0
                    || cx.now.saturating_duration_since(self.ts_recent_stamp) >= PAWS_24DAYS)
            {
                self.ts_recent = ts.val;
                self.ts_recent_stamp = cx.now;
            }
        }
    }

    /// `tcp_ack`. A model-based algorithm (BBR) then sets the window from the ACK's
    /// rate sample (`tcp_cong_control` → `cong_control`) — on every ACK not older
    /// than SND.UNA, duplicate ACKs included — in place of what recovery and CUBIC set.
    fn on_ack(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>, seq: SeqNum, ack: SeqNum) {
        let before = self.model_before_ack().filter(|_| ack >= self.snd_una);
        self.process_ack(cx, seg, seq, ack);
        if let Some(b) = before {
            self.model_after_ack(cx, b);
        }
    }

    fn process_ack(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>, seq: SeqNum, ack: SeqNum) {
        // tcp_data_snd_check: an ACK tries the link again.
        self.local_congested = false;
        let win = (seg.window as u32) << self.snd_wscale();
        let window_update = self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack);
        let old_wnd = self.snd_wnd;
        if window_update {
            self.snd_wnd = win;
            self.max_window = self.max_window.max(win);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
        }
        if self.snd_wnd > 0 {
            self.probes_out_reset_if_window();
        }
        // Every ACK resets the probe count (a peer that answers is probed forever, RFC
        // 1122 4.2.2.17), but not TCP_USER_TIMEOUT's clock: only an open window does.
        self.probes_out = 0;

        let mark = self.delivered_mark();
        let prior_una = self.snd_una;
        let prior_recover = self.flight.recover;
        // F-RTO's evidence: data never retransmitted (above what the timeout's
        // retransmissions covered, below SND.MAX at the timeout) newly SACKed or ACKed.
        let orig_from = self
            .flight
            .frto_resume
            .unwrap_or(self.snd_nxt)
            .max(prior_una);
        let una = ack.max(prior_una);
        let top = self.snd_max;
        let orig = |c: &Conn| {
            c.flight
                .loss
                .map_or(0, |h| c.sacked_between(orig_from.max(una), h))
        };
        let (orig_before, sacked_before) = (orig(self), self.sacked_between(una, top));
        let prior_fack = self.flight.sacked.last().map_or(prior_una, |&(_, r)| r);
        let prior_lost_top = self.lost_top();
        let (dsacking, dsack_tlp, dsack_segs) = self.update_scoreboard(cx, seg, ack);
        // A needless retransmission the D-SACK names was delivered too (tcp_dsack_seen's
        // sack_delivered): it counts for slow start and PRR.
        let dsacked = dsack_segs.saturating_mul(u32::from(self.mss.max(1)));
        let tsecr = seg.options.timestamps.map(|t| t.ecr);
        let data_sacked = self.sacked_between(una, top) > sacked_before;
        let mut orig_acked = orig(self) > orig_before;
        if ack <= self.snd_una {
            // Duplicate ACK (RFC 5681 2): nothing new, no data, same window, data out,
            // no D-SACK.
            let dup = ack == self.snd_una
                && seg.payload.is_empty()
                && !seg.flags.fin()
                && self.snd_wnd == old_wnd
                && self.snd_max > self.snd_una
                && !dsacking;
            let newly = self
                .delivered_mark()
                .wrapping_sub(mark)
                .min(i32::MAX as u32)
                .saturating_add(dsacked);
            self.process_tlp_ack(cx, ack, dup && !data_sacked, dsack_tlp);
            if let Some(high) = self.flight.loss {
                // CA_Loss: the timeout's retransmissions carry on; no fast recovery.
                // Without SACK, a duplicate ACK after F-RTO's new data says one of them
                // arrived (tcp_add_reno_sack): it leaves the flight.
                if dup && !self.neg.sack && self.snd_max > high {
                    self.flight.dupacks += 1;
                }
                self.process_loss(cx, tsecr, false, orig_acked, data_sacked, dup);
                return;
            }
            if dup {
                self.flight.dupacks += 1;
                if self.flight.recover.is_some() && !self.neg.sack {
                    self.cwnd += self.mss as u32;
                }
            }
            self.rack_advance(cx, tsecr);
            if dsacking && self.try_undo_dsack(cx) {
                self.try_to_open();
            }
            let head_lost = self.sack_says_head_lost();
            if self.flight.recover.is_none()
                && ((dup && (self.flight.dupacks == u32::from(self.reordering) || head_lost))
                    || (self.retransmits == 0 && head_lost))
            {
                self.enter_recovery(cx);
            }
            if self.flight.recover.is_some() && self.neg.sack {
                self.rack_lost_retransmits(cx);
                self.prr_update(newly, false);
            } else if self.flight.cwr.is_some() {
                self.prr_update(newly, false);
            }
            self.arm_reorder_timer(cx);
            return;
        }

        // New data acknowledged.
        let mut acked = (ack - self.snd_una) as u32;
        if self.syn_in_flight() && self.state != TcpState::SynSent {
            acked -= 1; // our SYN
        }
        if self.syn_in_flight() {
            // FLAG_SYN_ACKED: the handshake's retransmissions are no episode to undo.
            if let Some(u) = self.undo.if_any() {
                u.first_rtx_tsval = None;
            }
        }
        // The FIN is acknowledged by an ACK one past it — even when a retransmission
        // timeout rewound SND.NXT and marked it unsent: the peer got the first copy.
        let fin_now_acked = self.fin_queued && !self.fin_was_acked && ack == self.fin_seq() + 1;
        if fin_now_acked {
            self.fin_was_acked = true;
            self.fin_sent = true;
        }
        let data_acked = (acked - fin_now_acked as u32).min(self.snd.len() as u32);
        self.snd.consume(data_acked as usize);
        let newly = (ack - self.snd_una) as u32;
        // The newest segment this ACK covers, for an RTT sample (not if it covers a
        // retransmission: Karn).
        let karn = self.flight.retrans_high.is_some_and(|h| h > self.snd_una);
        let mut newest = None;
        while self
            .flight
            .sent_times
            .front()
            .is_some_and(|&(end, _)| end <= ack)
        {
            newest = self.flight.sent_times.pop_front().map(|(_, t)| t);
        }
        self.retrans_acked(ack);
        self.stats.bytes_acked += u64::from(data_acked);
        self.stats.delivered += newly.div_ceil(u32::from(self.mss.max(1))).max(1);
        self.snd_una = ack;
        if self.snd_nxt < self.snd_una {
            self.snd_nxt = self.snd_una;
        }
        if let Some((s, t)) = self.rtt_probe {
            if ack > s {
                self.rtt_sample(cx.now - t);
                self.rtt_probe = None;
            }
        }
        self.retransmits = 0;
        self.backoff = 0;
        self.retrans_stamp = None;
        if self.srtt().is_some() {
            self.set_rto(self.compute_rto());
        }

        // CUBIC's per-ACK RTT sample; HyStart may end slow start here.
        let mss = u32::from(self.mss.max(1));
        if let Some(t) = newest.filter(|_| !karn) {
            let in_ss = self.cwnd < self.ssthresh;
            if let Some(exit) = self.cc.acked(
                cx.now,
                cx.now.saturating_duration_since(t),
                self.cwnd / mss,
                in_ss,
                self.snd_una.0,
                self.snd_nxt.0,
                cx.cfg.hystart,
            ) {
                let segs = u64::from(self.cwnd / mss);
                if exit.train {
                    cx.incr(Counter::TcpHystartTrainDetect);
                    cx.add(Counter::TcpHystartTrainCwnd, segs);
                }
                if exit.delay {
                    cx.incr(Counter::TcpHystartDelayDetect);
                    cx.add(Counter::TcpHystartDelayCwnd, segs);
                }
                self.ssthresh = self.cwnd;
            }
        }
        self.process_tlp_ack(cx, ack, false, dsack_tlp);
        self.rack_advance(cx, tsecr);
        // A hole filled by its original transmission: reordering, not loss.
        if self.flight.loss.is_none()
            && prior_fack > prior_una
            && self.never_retransmitted(prior_una)
        {
            self.check_reordering(cx, prior_una, false);
        }
        // Undo (tcp_fastretrans_alert): was the last cut needless?
        if self.flight.loss.is_some() {
            // Data never retransmitted acknowledged (without SACK only if no
            // retransmission is among what this ACK covers: FLAG_RETRANS_DATA_ACKED).
            if let Some(high) = self.flight.loss {
                let from = orig_from.max(prior_una);
                if ack > from && from < high && (self.neg.sack || prior_una >= orig_from) {
                    orig_acked = true;
                }
            }
            self.process_loss(cx, tsecr, true, orig_acked, data_sacked, false);
        } else if let Some(rec) = self.flight.recover {
            if ack >= rec {
                // tcp_try_undo_recovery: the episode is over; its cut may go.
                let reno_at_high = !self.neg.sack && ack == rec;
                if self.undo.may_undo(tsecr, reno_at_high) {
                    self.undo_reduction(false);
                    cx.incr(Counter::TcpFullUndo);
                }
            } else if self.undo.marker.is_some() && self.undo.packet_delayed(tsecr, false) {
                // tcp_try_undo_partial: the hole was filled by the original segment.
                self.check_reordering(cx, prior_una, true);
                if self.flight.retrans_out == 0 {
                    self.undo_reduction(true);
                    cx.incr(Counter::TcpPartialUndo);
                    self.leave_recovery();
                }
            }
            if self.flight.recover.is_some_and(|r| ack < r) && dsacking && self.try_undo_dsack(cx) {
                self.try_to_open();
            }
        } else if dsacking && self.try_undo_dsack(cx) {
            self.try_to_open();
        }
        // tcp_time_to_recover on an ACK that moved SND.UNA too: the SACK blocks (or RACK,
        // after an undo) still show data lost — unless retransmissions of an earlier
        // episode are still out above SND.UNA: RACK judges those by when they left, which
        // this scoreboard does not keep, so the next duplicate ACK decides.
        if self.flight.recover.is_none()
            && self.flight.loss.is_none()
            && self.neg.sack
            && self.retransmits == 0
            && self.never_retransmitted(ack)
            && (self.flight.sacked.first().is_some_and(|&(l, _)| l > ack)
                || self.flight.rack_lost_high.is_some_and(|h| h > ack))
            && self.sack_says_head_lost()
        {
            self.enter_recovery(cx);
        }
        // Data this ACK showed lost (`newly_lost`): PRR's extra segment for an advancing
        // ACK is only for a recovery with nothing newly lost.
        let newly_lost = self.lost_top() > prior_lost_top.max(ack)
            || (self.flight.recover.is_some() && prior_recover.is_none());

        // Congestion control.
        let newly = self
            .delivered_mark()
            .wrapping_sub(mark)
            .min(i32::MAX as u32)
            .saturating_add(dsacked);
        // tcp_cong_control: PRR while a recovery reduces the window; otherwise (also on
        // the ACK that ends a recovery) the algorithm may grow it.
        let grow = match self.flight.recover {
            Some(rec) if ack < rec && self.neg.sack => {
                // A partial ACK in SACK recovery: PRR sets the window; the lost holes
                // go out as it allows.
                self.rack_lost_retransmits(cx);
                self.prr_update(newly, !newly_lost);
                false
            }
            Some(_) if self.neg.sack => {
                // tcp_end_cwnd_reduction (the window stays where an undo put it).
                if self.undo.marker.is_some() {
                    self.cwnd = self.ssthresh;
                }
                self.leave_recovery();
                true
            }
            Some(rec) if ack < rec => {
                // NewReno partial ACK: the next hole is lost too.
                self.cwnd =
                    self.cwnd.saturating_sub(data_acked).max(self.mss as u32) + self.mss as u32;
                // With SACK, the next hole not yet resent; without, the new head.
                self.flight.rtx_at = Some(self.next_hole().unwrap_or(ack));
                false
            }
            Some(_) => {
                if self.undo.marker.is_some() {
                    self.cwnd = self.ssthresh.max(2 * self.mss as u32);
                }
                self.leave_recovery();
                true
            }
            None => {
                if let Some(f) = self.flight.if_any() {
                    f.dupacks = 0;
                }
                match self.flight.cwr {
                    // CWR ends once something above its high_seq is acknowledged
                    // (tcp_end_cwnd_reduction: the window at the threshold).
                    Some(high) if ack > high => {
                        self.flight.cwr = None;
                        self.cwnd = self.ssthresh;
                        true
                    }
                    Some(_) => {
                        self.prr_update(newly, !newly_lost);
                        false
                    }
                    None => true,
                }
            }
        };
        if grow && self.cwnd_limited() {
            // tcp_slow_start: the window grows by what was delivered (cumulatively or
            // SACKed), up to ssthresh; the rest goes to congestion avoidance.
            let mut acked = newly;
            if self.cwnd < self.ssthresh {
                self.cc
                    .slow_start_ack(cx.now, ack.0, self.snd_nxt.0, cx.cfg.hystart);
                let grown = self.cwnd.saturating_add(acked).min(self.ssthresh);
                acked -= grown - self.cwnd;
                self.cwnd = grown;
            }
            if acked > 0 {
                // Congestion avoidance in whole segments, as Linux counts them.
                let mss = u32::from(self.mss.max(1));
                self.cwnd_acc += acked;
                let acked = self.cwnd_acc / mss;
                if acked > 0 {
                    self.cwnd_acc %= mss;
                    let w = self.cc.avoid(cx.now, self.cwnd / mss, acked);
                    self.cwnd = w.saturating_mul(mss);
                }
            }
        }
        if self.ca_state() == 0 {
            // Back in CA_Open: the next episode's undo clock starts afresh.
            if let Some(u) = self.undo.if_any() {
                u.first_rtx_tsval = None;
            }
        }
        self.grow_sndbuf(cx.cfg);

        // tcp_set_xmit_timer: RACK's reorder timer if a hole waits, else a loss probe if
        // one may go, else the RTO from now.
        self.rtx_is_probe = false;
        self.rtx_is_reo = false;
        if self.snd_una == self.snd_max {
            self.rtx_deadline = None;
        } else if !self.arm_reorder_timer(cx) && !self.schedule_loss_probe(cx, true) {
            self.rtx_deadline = Some(cx.now + self.rto());
        }
    }

    /// RACK (RFC 8985 6.2, `tcp_rack_detect_loss`): data sent after a hole was SACKed,
    /// but less than `reordering` segments of it, so the hole may only be late. It is
    /// lost if still missing a reordering window (a quarter of the minimum RTT, at most
    /// the smoothed RTT) after the SACK — the timer arms for then (the hole and the SACKed
    /// data counted as sent together). Returns whether the timer is (now) armed so.
    fn arm_reorder_timer(&mut self, cx: &Ctx<'_>) -> bool {
        let hole = self
            .flight
            .sacked
            .first()
            .is_some_and(|&(l, _)| l > self.snd_una);
        if cx.cfg.tcp_recovery & 1 == 0
            || !self.neg.sack
            || !hole
            || self.flight.recover.is_some()
            || self.flight.loss.is_some()
            || !matches!(
                self.state,
                TcpState::Established
                    | TcpState::CloseWait
                    | TcpState::FinWait1
                    | TcpState::Closing
                    | TcpState::LastAck
            )
        {
            return false;
        }
        if !self.rtx_is_reo {
            let quarter = u64::from(self.min_rtt_us / 4);
            let srtt = u64::from(self.srtt_us);
            let wnd = match (self.min_rtt_us, self.srtt_us) {
                (0, 0) => 0,
                (0, _) => srtt,
                (_, 0) => quarter,
                _ => quarter.min(srtt),
            };
            self.rtx_deadline = Some(cx.now + Duration::from_micros(wnd));
            self.rtx_is_reo = true;
            self.rtx_is_probe = false;
        }
        true
    }

    /// `tcp_rack_reo_timeout`: the reordering window passed and the hole is still
    /// missing — it is lost: fast recovery begins, its first retransmission forced
    /// (`tcp_cwnd_reduction(sk, 1, 0, 0)`), and the RTO runs again.
    fn reorder_timer(&mut self, cx: &mut Ctx<'_>) {
        let hole = self
            .flight
            .sacked
            .first()
            .is_some_and(|&(l, _)| l > self.snd_una);
        if hole && self.flight.recover.is_none() && self.flight.loss.is_none() {
            self.enter_recovery(cx);
            self.prr_update(u32::from(self.mss.max(1)), false);
        }
        self.rtx_deadline = Some(cx.now + self.clamp_to_user_timeout(cx.now, self.rto()));
    }

    /// `tcp_schedule_loss_probe` (RFC 8985 7.2): with SACK, outside recovery, data in
    /// flight, the retransmission timer becomes a probe timer of two smoothed RTTs (plus
    /// a delayed-ACK allowance of 200 ms when a single segment is out; 1 s before any RTT
    /// sample), never later than the RTO would fire. `advancing_rto`: the RTO is about to
    /// be restarted from now (an ACK), rather than running since the head was sent.
    fn schedule_loss_probe(&mut self, cx: &Ctx<'_>, advancing_rto: bool) -> bool {
        let in_flight = self.snd_max > self.snd_una;
        // CA_Open only: not with SACKed data, duplicate ACKs or retransmissions out.
        let open = self.ca_state() == 0 && self.retransmits == 0;
        if !matches!(cx.cfg.tcp_early_retrans, 3 | 4)
            || !self.neg.sack
            || !in_flight
            || !open
            || matches!(self.state, TcpState::SynSent | TcpState::SynRecv)
        {
            return false;
        }
        let one_segment = self
            .flight
            .tail
            .is_some_and(|(start, _, _)| start <= self.snd_una);
        let mut timeout = match self.srtt() {
            Some(srtt) => {
                2 * srtt
                    + if one_segment {
                        RTO_MIN
                    } else {
                        Duration::from_millis(2)
                    }
            }
            None => RTO_INIT,
        };
        let rto_left = if advancing_rto {
            Some(self.rto())
        } else {
            self.rtx_deadline
                .filter(|_| !self.rtx_is_probe && !self.rtx_is_reo)
                .map(|d| d.saturating_duration_since(cx.now))
        };
        if let Some(left) = rto_left.filter(|l| !l.is_zero()) {
            timeout = timeout.min(left);
        }
        self.rtx_deadline = Some(cx.now + timeout);
        self.rtx_is_probe = true;
        true
    }

    /// `tcp_send_loss_probe`: the probe timer fired. At most one probe per episode; it is
    /// new data if the peer's window allows (the congestion window does not limit a
    /// probe), else the last segment sent again. Then the RTO runs from now.
    fn loss_probe_timer(&mut self, cx: &mut Ctx<'_>) {
        self.rtx_is_probe = false;
        if self.flight.tlp_high_seq.is_none()
            && (self.sendable_as(true).is_some() || self.flight.tail.is_some())
        {
            self.flight.tlp_now = true;
            cx.incr(Counter::TcpLossProbes);
        }
        self.rtx_deadline = Some(cx.now + self.clamp_to_user_timeout(cx.now, self.rto()));
    }

    fn probes_out_reset_if_window(&mut self) {
        self.probes_stamp = None;
        if self.probe_deadline.is_some() {
            self.probe_deadline = None;
            self.backoff = 0;
        }
    }

    /// Linux `tcp_sndbuf_expand()`: room for two congestion windows, unless SO_SNDBUF.
    fn grow_sndbuf(&mut self, cfg: &Config) {
        if self.opts.sndbuf.is_none() {
            let per = self.sndbuf_per_cwnd() as usize;
            let want = (per * self.cwnd as usize).min(cfg.tcp_wmem[2] as usize);
            if want > self.snd.limit() {
                self.snd.set_limit(want);
            }
        }
    }

    fn enter_recovery(&mut self, cx: &mut Ctx<'_>) {
        // tcp_enter_recovery: the undo clock starts with our fast retransmit.
        if self.flight.retrans_out == 0 {
            self.undo.first_rtx_tsval = None;
        }
        // From CWR the reduction under way goes on (same threshold, same PRR counts, the
        // same end), and there is no threshold to restore.
        let cwr = self.flight.cwr.take();
        self.undo.prior_ssthresh = if cwr.is_some() {
            0
        } else {
            self.current_ssthresh()
        };
        self.undo.prior_cwnd = self.cwnd;
        let tlp_out = self.flight.tlp_high_seq.is_some() && self.flight.tlp_retrans;
        let retrans_out = self.flight.retrans_out + tlp_out as u32;
        self.undo.init(self.snd_una, retrans_out);
        if cwr.is_none() {
            self.flight.tlp_high_seq = None;
            self.ssthresh = self.loss_ssthresh();
        }
        self.flight.recover = Some(cwr.unwrap_or(self.snd_nxt));
        self.flight.high_rxt = Some(self.snd_una);
        if self.neg.sack {
            // tcp_init_cwnd_reduction: PRR takes the window from here, the lost holes
            // go out as it allows (the first at once).
            if cwr.is_none() {
                self.flight.prior_cwnd = self.cwnd.max(1);
                self.flight.prr_delivered = 0;
                self.flight.prr_out = 0;
            }
        } else {
            self.cwnd = self.ssthresh.saturating_add(3 * self.mss as u32);
            self.flight.rtx_at = Some(self.snd_una);
        }
        cx.incr(Counter::TcpFastRetrans);
        // tcp_is_reno: by what the connection negotiated.
        cx.incr(if self.neg.sack {
            Counter::TcpSackRecovery
        } else {
            Counter::TcpRenoRecovery
        });
    }

    /// Take the SACK blocks of an ACK into the scoreboard (RFC 2018/6675). A first block
    /// starting below the cumulative ACK, or inside the second block, is a D-SACK (RFC
    /// 2883, `tcp_check_dsack`): a duplicate arrived — counted, and a retransmission the
    /// peer did not need for undo. Ranges the cumulative ACK passed go. Returns whether
    /// the ACK carried a D-SACK (`FLAG_DSACKING_ACK`: not a duplicate ACK then), and
    /// whether it names the last loss probe (`FLAG_DSACK_TLP`), and the duplicate segments.
    fn update_scoreboard(
        &mut self,
        cx: &mut Ctx<'_>,
        seg: &TcpSegment<'_>,
        ack: SeqNum,
    ) -> (bool, bool, u32) {
        let una = ack.max(self.snd_una);
        if let Some(f) = self.flight.if_any() {
            f.psh_ends.retain(|&e| e > una);
        }
        if !self.flight.sacked.is_empty() {
            self.flight.sacked.retain_mut(|(l, r)| {
                *l = (*l).max(una);
                *r > una
            });
        }
        if !self.neg.sack {
            return (false, false, 0);
        }
        let blocks = seg.options.sack();
        let (mut dsacking, mut dsack_tlp, mut segs) = (false, false, 0);
        for (i, b) in blocks.iter().enumerate() {
            let (l, r) = (SeqNum(b.left), SeqNum(b.right));
            if i == 0 {
                let old = l < ack;
                let inside_next = blocks
                    .get(1)
                    .is_some_and(|n| SeqNum(n.left) <= l && r <= SeqNum(n.right));
                if old || inside_next {
                    cx.incr(if old {
                        Counter::TcpDsackRecv
                    } else {
                        Counter::TcpDsackOfoRecv
                    });
                    segs = self.dsack_seen(cx, l, r);
                    dsacking = segs > 0;
                    // FLAG_DSACK_TLP: one segment's duplicate, ending where the probe did.
                    dsack_tlp = dsacking
                        && (r - l) as u32 <= u32::from(self.mss.max(1))
                        && self.flight.tlp_high_seq == Some(r);
                    continue;
                }
            }
            if r <= l || r > self.snd_max || r <= una {
                continue;
            }
            self.add_sacked(l.max(una), r);
        }
        (dsacking, dsack_tlp, segs)
    }

    /// `tcp_dsack_seen`: a D-SACK of `l..r`. Dubious — longer than any window the peer
    /// offered, or naming more duplicates than we ever retransmitted — it is ignored;
    /// otherwise its segments count against the retransmissions undo waits on. Returns
    /// the duplicate segments it names (0: ignored).
    fn dsack_seen(&mut self, cx: &mut Ctx<'_>, l: SeqNum, r: SeqNum) -> u32 {
        let len = (r - l).max(0) as u32;
        let mss = u32::from(self.mss.max(1));
        let dubious = len == 0 || len > self.max_window || {
            let segs = len.div_ceil(mss).max(1);
            self.dsack_dups = self.dsack_dups.saturating_add(segs);
            self.dsack_dups > self.total_retrans
        };
        if dubious {
            cx.incr(Counter::TcpDsackIgnoredDubious);
            return 0;
        }
        let segs = len.div_ceil(mss).max(1);
        cx.add(Counter::TcpDsackRecvSegs, u64::from(segs));
        self.undo.dsacked(r, segs);
        segs
    }

    /// Add a SACKed range to the scoreboard, merged with those it overlaps or touches
    /// (sorted; binary search, in place).
    fn add_sacked(&mut self, l: SeqNum, r: SeqNum) {
        let i = self.flight.sacked.partition_point(|&(_, b)| b < l);
        let j = self.flight.sacked.partition_point(|&(a, _)| a <= r);
        if i == j {
            self.flight.sacked.insert(i, (l, r));
        } else {
            let merged = (
                l.min(self.flight.sacked[i].0),
                r.max(self.flight.sacked[j - 1].1),
            );
            self.flight.sacked[i] = merged;
            self.flight.sacked.drain(i + 1..j);
        }
        if self.flight.sacked.len() > self.scoreboard_max() {
            self.flight.sacked.pop();
        }
    }

    /// The most entries the sender's per-segment records (SACKed ranges, retransmissions
    /// in flight, lost retransmissions) may hold: bounded by the send buffer as Linux's are
    /// by its retransmission queue (each needs a segment of at least a KiB or so), so a
    /// peer cannot make them grow without limit, yet every segment of a full window fits.
    fn scoreboard_max(&self) -> usize {
        (self.snd.limit() / 1024).clamp(64, 65_536)
    }

    /// RFC 6675 IsLost(SND.UNA): more than (DupThresh − 1) × SMSS bytes SACKed above the
    /// head, or DupThresh separate ranges: the head is lost, not reordered.
    fn sack_says_head_lost(&self) -> bool {
        let bytes = self.sacked_below(self.snd_max);
        let thresh = u32::from(self.reordering);
        bytes > (thresh - 1) * self.mss as u32
            || self.flight.sacked.len() >= thresh as usize
            || self.lost_top() > self.flight.sacked.last().map_or(self.snd_una, |&(_, r)| r)
    }

    /// Where the data counted lost ends: the highest SACKed byte (every hole below it was
    /// sent before data that arrived), or further if RACK saw a later retransmission
    /// delivered.
    fn lost_top(&self) -> SeqNum {
        let sacked = self.flight.sacked.last().map_or(self.snd_una, |&(_, r)| r);
        let rack = self
            .flight
            .rack_lost_high
            .filter(|&h| h > self.snd_una)
            .map_or(self.snd_una, |h| h.min(self.snd_max));
        sacked.max(rack)
    }

    /// `tcp_rack_advance` for retransmissions: one the peer now has (cumulatively or
    /// SACKed), at least a minimum RTT after it left and not echoing an older timestamp
    /// (so not the original's ACK: `tcp_skb_spurious_retrans`), makes everything first
    /// sent before it lost.
    fn rack_advance(&mut self, cx: &Ctx<'_>, tsecr: Option<u32>) {
        if cx.cfg.tcp_recovery & 1 == 0 || !self.neg.sack || self.flight.rtx_log.is_empty() {
            return;
        }
        let una = self.snd_una;
        let min_rtt = Duration::from_micros(u64::from(self.min_rtt_us));
        let sacked = &self.flight.sacked;
        let mut high = self.flight.rack_lost_high.unwrap_or(una);
        let echo = tsecr.filter(|&e| self.neg.ts && e != 0);
        for &(l, r, at, max_then) in self.flight.rtx_log.iter() {
            let l = l.max(una);
            let i = sacked.partition_point(|&(a, _)| a <= l);
            let delivered = r <= una || (i > 0 && r <= sacked[i - 1].1);
            let spurious =
                echo.is_some_and(|e| (e.wrapping_sub(ts_now(at, self.ts_off)) as i32) < 0);
            if delivered && !spurious && cx.now.saturating_duration_since(at) >= min_rtt {
                high = high.max(max_then);
            }
        }
        let lost_high = (high > una).then_some(high);
        if self.flight.rack_lost_high != lost_high {
            self.flight.rack_lost_high = lost_high;
        }
    }

    /// The next hole to resend in SACK recovery: the first byte at or after SND.UNA and
    /// HighRxt that the peer does not have, below the highest SACKed byte.
    fn next_hole(&self) -> Option<SeqNum> {
        let top = self.lost_top();
        let mut at = self
            .flight
            .high_rxt
            .map_or(self.snd_una, |h| h.max(self.snd_una));
        for &(l, r) in &self.flight.sacked {
            if at < l {
                break;
            }
            at = at.max(r);
        }
        (at < top).then_some(at)
    }

    /// `tcp_cwnd_restart` (tcp_slow_start_after_idle): new data after the connection sat
    /// idle longer than an RTO with nothing in flight — the window it had no longer
    /// reflects the path: halve it per RTO of idleness, down to the initial window,
    /// remembering three quarters of it as the threshold.
    fn restart_after_idle(&mut self, cx: &Ctx<'_>) {
        if !cx.cfg.tcp_slow_start_after_idle
            || self.snd_nxt != self.snd_una
            || self.snd_una != self.snd_max
            || !self.has_unsent()
        {
            return;
        }
        let Some(last) = self.stats.last_data_sent else {
            return;
        };
        let mut idle = cx.now.saturating_duration_since(last);
        if idle <= self.rto() {
            return;
        }
        let mss = u32::from(self.mss.max(1));
        let restart = (10 * mss).min(self.cwnd);
        if self.flight.recover.is_none() {
            self.ssthresh = self.ssthresh.max((self.cwnd >> 1) + (self.cwnd >> 2));
        }
        let mut cwnd = self.cwnd;
        while idle > self.rto() && cwnd > restart {
            idle -= self.rto();
            cwnd >>= 1;
        }
        self.cwnd = cwnd.max(restart);
    }

    /// The slow-start threshold after a loss, from the congestion-control algorithm
    /// (Reno halves, CUBIC keeps 0.7 of the window), in bytes.
    fn loss_ssthresh(&mut self) -> u32 {
        if let Some(t) = self.model_ssthresh() {
            return t;
        }
        let mss = u32::from(self.mss.max(1));
        self.cc.ssthresh(self.cwnd / mss).saturating_mul(mss)
    }

    /// The retransmission timeout (RTO_INIT before the first RTT sample).
    pub(crate) fn rto(&self) -> Duration {
        match self.rto_us {
            0 => RTO_INIT,
            us => Duration::from_micros(u64::from(us)),
        }
    }

    fn set_rto(&mut self, rto: Duration) {
        self.rto_us = u32::try_from(rto.as_micros()).unwrap_or(u32::MAX).max(1);
    }

    fn rtt_sample(&mut self, rtt: Duration) {
        self.cc.on_rtt(rtt);
        let rtt = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX).max(1);
        if self.min_rtt_us == 0 || rtt < self.min_rtt_us {
            self.min_rtt_us = rtt;
        }
        if self.srtt_us == 0 {
            self.srtt_us = rtt;
            self.rttvar_us = rtt / 2;
        } else {
            let srtt = u64::from(self.srtt_us);
            let delta = srtt.abs_diff(u64::from(rtt));
            self.rttvar_us = ((u64::from(self.rttvar_us) * 3 + delta) / 4) as u32;
            self.srtt_us = ((srtt * 7 + u64::from(rtt)) / 8).max(1) as u32;
        }
        self.set_rto(self.compute_rto());
    }

    /// The smoothed RTT, once there is a sample.
    fn srtt(&self) -> Option<Duration> {
        (self.srtt_us != 0).then(|| Duration::from_micros(u64::from(self.srtt_us)))
    }

    /// Linux's RTO: SRTT + max(4·RTTVAR, RTO_MIN), within [RTO_MIN, RTO_MAX].
    fn compute_rto(&self) -> Duration {
        let srtt = self.srtt().unwrap_or(RTO_INIT);
        let rttvar = Duration::from_micros(u64::from(self.rttvar_us));
        (srtt + (rttvar * 4).max(RTO_MIN)).clamp(RTO_MIN, RTO_MAX)
    }

    fn on_data(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>, seq: SeqNum) {
        let payload = seg.payload;
        if seg.flags.fin() {
            let fin_at = seq + payload.len() as u32;
            if fin_at >= self.rcv_nxt && !self.rcv_fin {
                self.ooo_fin = Some(fin_at);
            }
        }
        if payload.is_empty() {
            if seg.flags.fin() {
                // A bare FIN: Linux acks it, delayed in ESTABLISHED (pingpong), at once otherwise.
                if self.state == TcpState::Established {
                    self.schedule_delack(cx);
                } else {
                    self.ack_now = true;
                }
            }
            return;
        }
        let end = seq + payload.len() as u32;
        if seq < self.rcv_nxt {
            // Old bytes again: a retransmission. ACK at once, naming the duplicate part
            // in a D-SACK block (`tcp_dsack_set`: all of it, or up to RCV.NXT).
            self.ack_now = true;
            if self.neg.sack && cx.cfg.tcp_dsack {
                cx.incr(Counter::TcpDsackOldSent);
                self.flight.dsack = Some((seq, end.min(self.rcv_nxt)));
            }
            if end <= self.rcv_nxt {
                return;
            }
        }
        let (data, off) = if seq < self.rcv_nxt {
            (&payload[(self.rcv_nxt - seq) as usize..], 0usize)
        } else {
            (payload, (seq - self.rcv_nxt) as usize)
        };
        self.measure_rcv_mss(payload.len() as u32);
        if !self.saw_data {
            // tcp_incr_quickack: quick-ACK up to half the window's worth of segments.
            self.saw_data = true;
            self.ato_on = true;
            self.quick =
                (self.offered_window() / (2 * self.rcv_mss.max(1))).clamp(2, MAX_QUICKACKS);
        }
        self.lrcvtime = cx.now;
        // Out-of-order bytes we already hold: a D-SACK names them (`tcp_dsack_extend`
        // in tcp_data_queue_ofo), ahead of the SACK block that holds them.
        if off > 0 && self.rcv.holds(off, off + data.len()) && self.neg.sack && cx.cfg.tcp_dsack {
            cx.incr(Counter::TcpDsackOfoSent);
            self.flight.dsack = Some((seq, end));
        }
        match self.rcv.insert(off, data) {
            None => {
                cx.incr(if self.rcv.space() == 0 {
                    Counter::TcpZeroWindowDrop
                } else {
                    Counter::TcpRcvQDrop
                });
                self.drop_event(cx, seg, crate::DropReason::RcvBufFull);
                self.ack_now = true;
            }
            Some(0) => {
                // Out of order: a duplicate ACK carrying SACK blocks, the block of this
                // segment first (`tcp_sack_new_ofo_skb`) — at once or, past three, held
                // back a moment (`ack_out_of_order`).
                cx.incr(Counter::TcpOfoQueue);
                let at = self.rcv_nxt + off as u32;
                let range_of = |c: &Conn, x: SeqNum| {
                    let o = (x - c.rcv_nxt).max(0) as usize;
                    let r = c.rcv.ooo_ranges();
                    let i = r.partition_point(|&(_, e)| e <= o);
                    r.get(i).is_some_and(|&(s, _)| s <= o).then_some(i)
                };
                let mine = range_of(self, at);
                // Where this segment's block stood among those reported (a new one: last).
                let recent = &self.flight.sack_recent;
                let this_sack = recent
                    .iter()
                    .take(4)
                    .position(|&x| range_of(self, x) == mine)
                    .unwrap_or(recent.len().min(4));
                let mut recent = [None; 4];
                for (k, &x) in self.flight.sack_recent.iter().take(4).enumerate() {
                    recent[k] = Some(x);
                }
                self.flight.sack_recent.clear();
                self.flight.sack_recent.push(at);
                for x in recent.into_iter().flatten() {
                    let r = range_of(self, x);
                    if r.is_some() && r != mine && self.flight.sack_recent.len() < 4 {
                        self.flight.sack_recent.push(x);
                    }
                }
                self.ack_out_of_order(cx, this_sack);
            }
            Some(n) => {
                let had_ooo = off == 0 && self.rcv.has_ooo();
                if !self.rcv.has_ooo() {
                    // tcp_sack_remove: the out-of-order queue is empty, every SACK block
                    // is eaten.
                    if let Some(f) = self.flight.if_any() {
                        f.sack_recent.clear();
                        f.comp_dupacks = 0;
                        f.comp_rcv_nxt = None;
                    }
                }
                self.rcv_nxt = self.rcv_nxt + n as u32;
                self.stats.bytes_received += n as u64;
                self.unacked_bytes += n as u32;
                if n > 0 {
                    let window = self.offered_window();
                    self.autotune.on_data(cx.now, self.rcv_nxt, window);
                }
                self.grow_window(data.len());
                if self.quick > 0 && !self.pingpong {
                    self.quick -= 1;
                    self.ack_now = true;
                } else if self.ack_on_arrival() || had_ooo || self.ooo_fin.is_some() {
                    self.ack_now = true;
                } else {
                    self.schedule_delack(cx);
                }
                if n > data.len() {
                    // Filled a hole: ACK at once (RFC 5681 4.2).
                    self.ack_now = true;
                }
            }
        }
    }

    /// `tcp_init_buffer_space`'s part in auto-tuning, on entering ESTABLISHED.
    fn start_autotune(&mut self, now: Instant) {
        let window = self.rcv_ssthresh.min(self.offered_window());
        let advmss = self.mss_for_window().into();
        self.autotune = Autotune::new(now, self.copied_seq(), window, advmss);
    }

    /// How far the application has read (`copied_seq`).
    fn copied_seq(&self) -> SeqNum {
        self.rcv_nxt - self.rcv.len() as u32
    }

    /// `tcp_rcv_space_adjust`, after a read that copied data: the buffer may grow (never
    /// past tcp_rmem[2]; not at all under SO_RCVBUF or with tcp_moderate_rcvbuf 0).
    pub(crate) fn after_read(&mut self, now: Instant, cfg: &Config) {
        let read = Read {
            now,
            copied: self.copied_seq(),
            rcv_nxt: self.rcv_nxt,
            advmss: self.mss_for_window().into(),
            rcvbuf: self.rcv.capacity() as u32,
            max: cfg.tcp_rmem[2],
            ratio: self.scaling_ratio,
            allowed: cfg.tcp_moderate_rcvbuf && self.opts.rcvbuf.is_none(),
        };
        if let Some(rcvbuf) = self.autotune.after_read(read) {
            self.rcv.set_capacity(rcvbuf as usize);
        }
    }

    /// `tcp_measure_rcv_mss`: a segment at least as large as the receive MSS estimate
    /// raises it (to at most our MSS) and measures the scaling ratio on it; a new ratio
    /// sets the window clamp anew (`tcp_set_window_clamp`): `rcv_ssthresh` follows a
    /// lower clamp down, and may rise to the window already offered under a higher one.
    fn measure_rcv_mss(&mut self, len: u32) {
        if self.rcv_mss == 0 {
            // tcp_initialize_rcv_mss: an underestimate, corrected by what arrives.
            self.rcv_mss = (self.mss_for_window() as u32)
                .min(self.mss as u32)
                .min(self.offered_window() / 2)
                .clamp(88, 536);
        }
        if len < self.rcv_mss {
            return;
        }
        if len != self.rcv_mss {
            let ratio = ((u64::from(len) << 8) / u64::from(truesize(len))).clamp(1, 255) as u8;
            if ratio != self.scaling_ratio {
                let old = self.window_clamp();
                self.scaling_ratio = ratio;
                let new = self.window_clamp();
                if new < old {
                    self.rcv_ssthresh = self.rcv_ssthresh.min(new);
                } else {
                    self.rcv_ssthresh = self.rcv_ssthresh.max(self.offered_window().min(new));
                }
            }
        }
        self.rcv_mss = len.min(self.mss_for_window() as u32);
    }

    /// `__tcp_ack_snd_check`: more than one segment unacknowledged is ACKed on arrival
    /// only if the window would not shrink by it — that is, while it still grows. With
    /// the data unread the ACK is left to the reader (`window_update_due`): Linux 6.18's
    /// receiver whose application does not read sends only delayed ACKs after its first
    /// sixteen (`tools/kernel-check/rcvwindow.py stall`).
    fn ack_on_arrival(&self) -> bool {
        self.unacked_bytes > self.rcv_mss
            && (self.rcv.len() == 0 || self.free_window() >= self.offered_window())
    }

    /// `__tcp_ack_snd_check` for a segment held out of order. In quick-ACK mode, or with
    /// more than a segment of in-order data unacknowledged, the ACK goes at once; else,
    /// with SACK, the first three duplicate ACKs for this RCV.NXT go at once (the sender's
    /// fast retransmit needs them) and the next are compressed (`tcp_comp_sack_*`): held
    /// back for 5% of the RTT, at most tcp_comp_sack_delay_ns, or until
    /// tcp_comp_sack_nr are held — one ACK then reports them all (TcpExtTCPAckCompressed
    /// counts the ACKs saved). Linux 6.18: `tools/kernel-check/compsack.py`.
    ///
    /// A segment that extends or adds a block beyond the first two reported sends the
    /// held-back ACK at once (`tcp_sack_compress_send_ack`): Linux sends it with the blocks
    /// as they were and compresses this segment's own; here one ACK, with this segment's
    /// block first, stands for both.
    fn ack_out_of_order(&mut self, cx: &mut Ctx<'_>, this_sack: usize) {
        if self.quick > 0 && !self.pingpong {
            self.quick -= 1;
            self.ack_now = true;
            return;
        }
        if self.ack_on_arrival() || !self.neg.sack {
            self.ack_now = true;
            return;
        }
        // The receiver's RTT estimate, or the sender's if smaller (and known).
        let rtt_us = match (self.autotune.rtt_us(), self.srtt_us) {
            (r, s) if s != 0 && s < r => s,
            (r, _) => r,
        };
        let rcv_nxt = self.rcv_nxt;
        let f = &mut *self.flight;
        if this_sack >= 2 && f.comp_acks > 0 {
            cx.add(Counter::TcpAckCompressed, u64::from(f.comp_acks - 1));
            f.comp_acks = 0;
            f.comp_deadline = None;
            self.ack_now = true;
            return;
        }
        if f.comp_acks >= cx.cfg.tcp_comp_sack_nr {
            self.ack_now = true;
            return;
        }
        if f.comp_rcv_nxt != Some(rcv_nxt) {
            f.comp_rcv_nxt = Some(rcv_nxt);
            f.comp_dupacks = 0;
        }
        if f.comp_dupacks < 3 {
            f.comp_dupacks += 1;
            self.ack_now = true;
            return;
        }
        f.comp_acks += 1;
        if f.comp_deadline.is_none() {
            // 5% of the RTT (Linux: rtt_us·8 × 125 / 20 ns, the same).
            let ns = (u64::from(rtt_us) * 50).min(cx.cfg.tcp_comp_sack_delay_ns);
            f.comp_deadline = Some(cx.now + Duration::from_nanos(ns));
        }
    }

    /// `tcp_grow_window`: each in-order segment of 128 bytes or more lets the window
    /// offered grow by two segments (or twice this one), up to the clamp and the free
    /// space. It opens when the measured scaling ratio raised the clamp above the initial
    /// window (segments that fill more than half of what they cost, as 1448 of 2304 do).
    /// While it grows the segment is ACKed at once (`icsk_ack.quick |= 1`), so a sender
    /// in slow start sees an ACK per segment for as long as the window opens: Linux 6.18's
    /// receiver did exactly that for seconds on a path with a 64 MiB buffer
    /// (`tools/kernel-check/ackpat.py`), and HyStart's ACK train depends on it.
    fn grow_window(&mut self, len: usize) {
        let clamp = self.window_clamp();
        if self.rcv_ssthresh >= clamp || len < 128 {
            return; // a bulk flow's usual case: the window opened long ago
        }
        let room = self
            .free_space()
            .min(clamp)
            .saturating_sub(self.rcv_ssthresh);
        if room == 0 {
            return;
        }
        let incr = (2 * self.mss_for_window() as u32).max(2 * len as u32);
        self.rcv_ssthresh += room.min(incr);
        // Or-ed, as Linux does: a count of 16 becomes 17, and the ACK this segment draws
        // takes it back to 16 — quick-ACK mode outlasts the growth by its count.
        self.quick |= 1;
    }

    /// `tcp_send_delayed_ack`: the timer runs from the first unacknowledged segment; one
    /// arriving within a quarter of ato of its deadline is ACKed at once instead (Linux
    /// 6.18's stalled reader, segments 2 ms apart, ACKed the 16th after the timer started,
    /// not the 20th: `tools/kernel-check/rcvwindow.py stall`).
    fn schedule_delack(&mut self, cx: &mut Ctx<'_>) {
        if let Some(d) = self.delack_deadline {
            if self.saw_data && d <= cx.now + ATO / 4 {
                self.ack_now = true;
            }
        } else {
            // Linux's ato is 0 until the first data segment starts the delayed-ACK
            // engine (tcp_event_data_recv): until then a delayed ACK (of a FIN, say)
            // leaves at the next tick, 1 ms at HZ=1000.
            let ato = if self.saw_data {
                ATO
            } else {
                Duration::from_millis(1)
            };
            self.delack_deadline = Some(cx.now + ato);
        }
    }

    /// A FIN that is now in order moves the state machine (RFC 9293 "eighth, check FIN").
    fn after_fin(&mut self, cx: &mut Ctx<'_>) -> Option<Next> {
        let fin = self.ooo_fin?;
        if fin != self.rcv_nxt {
            return None;
        }
        self.ooo_fin = None;
        self.rcv_fin = true;
        // tcp_fin → tcp_sack_reset: the FIN ends SACK reporting, a pending D-SACK too
        // (Linux 6.18 ACKs "F. 1:1001" over old data without one).
        if let Some(f) = self.flight.if_any() {
            f.dsack = None;
            f.sack_recent.clear();
        }
        self.rcv_nxt = self.rcv_nxt + 1;
        if self.rcv.space() == 0 {
            // The queue is over its memory: Linux still takes the FIN (it costs nothing)
            // but acknowledges at once (ICSK_ACK_NOMEM | ICSK_ACK_NOW in tcp_data_queue).
            self.ack_now = true;
        }
        match self.state {
            TcpState::SynRecv | TcpState::Established => {
                self.set_state(cx, TcpState::CloseWait);
                if self.delack_deadline.is_none() && !self.ack_now {
                    self.schedule_delack(cx);
                }
                None
            }
            TcpState::FinWait1 => {
                self.ack_now = true;
                if self.fin_acked() {
                    Some(self.enter_time_wait(cx))
                } else {
                    self.set_state(cx, TcpState::Closing);
                    None
                }
            }
            TcpState::FinWait2 => {
                self.ack_now = true;
                Some(self.enter_time_wait(cx))
            }
            _ => None,
        }
    }

    fn enter_time_wait(&mut self, cx: &mut Ctx<'_>) -> Next {
        self.set_state(cx, TcpState::TimeWait);
        Next::TimeWait(TcpState::TimeWait, cx.cfg.time_wait_len)
    }

    /// An orphan's FIN was acknowledged (Linux `tcp_rcv_state_process`, TCP_FIN_WAIT1).
    fn orphan_fin_wait2(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>) -> Next {
        if matches!(self.opts.linger2, Some(l) if l < 0) {
            cx.incr(Counter::TcpAbortOnData);
            self.kill(cx, None);
            return Next::Closed;
        }
        let tmo = self.fin_time(cx.cfg);
        if tmo > cx.cfg.time_wait_len {
            self.fw2_deadline = Some(cx.now + (tmo - cx.cfg.time_wait_len));
            Next::Keep
        } else if seg.flags.fin() || !seg.payload.is_empty() {
            self.fw2_deadline = Some(cx.now + tmo);
            Next::Keep
        } else {
            Next::TimeWait(TcpState::FinWait2, tmo)
        }
    }

    /// `tcp_fin_time()`: the orphaned FIN_WAIT_2 lifetime, at least 3.5 RTO.
    pub(crate) fn fin_time(&self, cfg: &Config) -> Duration {
        let t = self.opts.fin_timeout(cfg);
        let floor = self.rto() * 4 - self.rto() / 2;
        t.max(floor)
    }

    fn on_reset(&mut self, cx: &mut Ctx<'_>) -> Next {
        let err = match self.state {
            TcpState::SynSent => Errno::ECONNREFUSED,
            TcpState::CloseWait => Errno::EPIPE,
            _ => Errno::ECONNRESET,
        };
        if matches!(self.state, TcpState::Established | TcpState::CloseWait) {
            cx.incr(Counter::EstabResets);
        }
        self.kill(cx, Some(err));
        Next::Closed
    }

    /// The connection is over: CLOSED, buffers to send dropped, the error kept for the
    /// application (which can still read what had arrived).
    pub(crate) fn kill(&mut self, cx: &mut Ctx<'_>, err: Option<Errno>) {
        self.set_state(cx, TcpState::Closed);
        self.dead = true;
        if err.is_some() {
            self.error = err;
        }
        self.snd.clear();
        self.rtx_deadline = None;
        self.probe_deadline = None;
        self.delack_deadline = None;
        self.ka_deadline = None;
        self.fw2_deadline = None;
        self.ack_now = false;
        self.syn_pending = false;
        if let Some(f) = self.flight.if_any() {
            f.rtx_at = None;
            f.sacked.clear();
        }
        self.probe_now = false;
    }

    /// Send an active RST (`tcp_send_active_reset`) and kill the connection.
    /// `tcp_retransmit_skb`: a segment ending at `end` went out again.
    fn note_retransmit(&mut self, cx: &mut Ctx<'_>, end: SeqNum) {
        self.count_retransmit(cx, end);
        self.flight.retrans_out += 1;
        let tsval = self.neg.ts.then(|| ts_now(cx.now, self.ts_off));
        self.undo.retransmitted(tsval);
    }

    /// `__tcp_retransmit_skb`'s part: counted, and no RTT sample from it (Karn).
    fn count_retransmit(&mut self, cx: &mut Ctx<'_>, end: SeqNum) {
        cx.incr(Counter::RetransSegs);
        self.total_retrans += 1;
        let high = self.flight.retrans_high.map_or(end, |h| h.max(end));
        self.flight.retrans_high = Some(high);
    }

    /// `tcp_process_tlp_ack`: an ACK at or past SND.NXT of the last probe. A probe of new
    /// data, or a resent one the peer reports duplicate (D-SACK), or a plain duplicate
    /// ACK: no loss. An ACK beyond it after a resent probe: the probe repaired a tail
    /// loss, and the window is reduced once (CWR, TcpExtTCPLossProbeRecovery).
    fn process_tlp_ack(&mut self, cx: &mut Ctx<'_>, ack: SeqNum, dup: bool, dsack_tlp: bool) {
        let Some(high) = self.flight.tlp_high_seq.filter(|&h| h != SeqNum(0)) else {
            return;
        };
        if ack < high {
            return;
        }
        if !self.flight.tlp_retrans || dsack_tlp || (ack == high && dup) {
            self.flight.tlp_high_seq = None;
        } else if ack > high {
            self.flight.tlp_high_seq = None;
            // tcp_init_cwnd_reduction + CWR + tcp_end_cwnd_reduction.
            self.ssthresh = self.loss_ssthresh();
            self.cwnd = self.ssthresh.max(u32::from(self.mss.max(1)));
            self.cwnd_acc = 0;
            cx.incr(Counter::TcpLossProbeRecovery);
        }
    }

    /// SND.UNA moved to `ack`: retransmissions it covers are no longer out.
    fn retrans_acked(&mut self, ack: SeqNum) {
        let mss = u32::from(self.mss.max(1));
        let Some(f) = self.flight.if_any() else {
            return;
        };
        match f.retrans_high {
            Some(high) if ack < high => {
                f.retrans_out = f.retrans_out.min(((high - ack) as u32).div_ceil(mss));
            }
            _ => f.retrans_out = 0,
        }
    }

    /// An ICMP error quoting our segment at `seq` (`tcp_v4_err`).
    pub(crate) fn on_icmp(
        &mut self,
        cx: &mut Ctx<'_>,
        kind: synack_wire::IcmpKind,
        seq: SeqNum,
    ) -> Next {
        use synack_wire::IcmpKind;
        if self.state == TcpState::Closed {
            return Next::Keep;
        }
        if seq < self.snd_una || seq > self.snd_nxt {
            cx.incr(Counter::OutOfWindowIcmps);
            return Next::Keep;
        }
        let err = match kind {
            IcmpKind::PacketTooBig { mtu } => {
                self.pmtu_reduced(cx, mtu);
                return Next::Keep;
            }
            IcmpKind::Unreachable { code } => match code {
                0 => Errno::ENETUNREACH,
                2 => Errno::ENOPROTOOPT,
                3 if self.local().is_ipv4() => Errno::ECONNREFUSED,
                4 if !self.local().is_ipv4() => Errno::ECONNREFUSED,
                1 if !self.local().is_ipv4() => Errno::EACCES,
                _ => Errno::EHOSTUNREACH,
            },
            IcmpKind::TimeExceeded => Errno::EHOSTUNREACH,
            IcmpKind::ParameterProblem => Errno::EPROTO,
        };
        // Opening (or a Fast Open child still in SYN_RECV): the attempt fails now.
        let opening = self.state == TcpState::SynSent
            || (self.state == TcpState::SynRecv && self.passive_fastopen);
        if opening {
            if self.state == TcpState::SynSent {
                cx.incr(Counter::AttemptFails);
            }
            self.kill(cx, Some(err));
            return Next::Closed;
        }
        // Connected: only a soft error, reported if the connection later times out.
        self.soft_error = Some(err);
        Next::Keep
    }

    /// `tcp_v4_mtu_reduced`: a smaller path MTU shrinks the MSS; what is in flight and
    /// too big goes again now (tcp_simple_retransmit) — for a SYN with data, a plain SYN.
    fn pmtu_reduced(&mut self, cx: &mut Ctx<'_>, mtu: u32) {
        let hdr = if self.local().is_ipv4() { 40 } else { 60 };
        let current = u32::from(self.path_mss(cx.cfg)) + hdr;
        if mtu < 68 || mtu >= current {
            return;
        }
        self.pmtu = Some(mtu);
        self.advmss = self.advmss.min(self.path_mss(cx.cfg));
        self.set_mss(cx.cfg);
        if self.state == TcpState::SynSent && self.fo.syn_data > 0 {
            // Linux retransmits a regular SYN at once; the data goes after the handshake.
            self.fo.resend = self.fo.syn_data;
            self.fo.syn_data = 0;
            self.fo.option = false;
            self.syn_pending = true;
            self.snd_nxt = self.iss;
            self.rtt_probe = None;
            cx.incr(Counter::RetransSegs);
            self.total_retrans += 1;
        } else if self.snd_nxt > self.snd_una && self.state != TcpState::SynSent {
            self.snd_nxt = self.snd_una;
            if self.fin_sent && !self.fin_acked() {
                self.fin_sent = false;
            }
            self.rtt_probe = None;
        }
    }

    /// A segment without data at SND.NXT (a FIN or RST sent outside the transmit path).
    fn bare(&self, cx: &Ctx<'_>, flags: TcpFlags) -> Ctrl {
        Ctrl {
            src: self.local(),
            dst: self.remote(),
            seq: self.snd_nxt.0,
            ack: self.rcv_nxt.0,
            flags,
            win: self.window_field(),
            ts: self.neg.ts.then(|| Timestamps {
                val: ts_now(cx.now, self.ts_off),
                ecr: self.ts_recent,
            }),
            syn: None,
        }
    }

    /// Send our FIN at once, as a bare segment, if it is next and the window allows: what
    /// tcp_close's tcp_send_fin does before an out-of-memory abort.
    pub(crate) fn send_fin_now(&mut self, cx: &mut Ctx<'_>) {
        if !self.fin_queued || self.fin_sent || self.unsent() > 0 || self.send_window_left() == 0 {
            return;
        }
        let fin = self.bare(cx, TcpFlags::FIN | TcpFlags::ACK);
        cx.send_ctrl(fin);
        self.fin_sent = true;
        self.snd_nxt = self.snd_nxt + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
    }

    pub(crate) fn abort(&mut self, cx: &mut Ctx<'_>, err: Option<Errno>) {
        if !matches!(
            self.state,
            TcpState::Closed | TcpState::SynSent | TcpState::Listen
        ) {
            let rst = self.bare(cx, TcpFlags::RST | TcpFlags::ACK);
            cx.incr(Counter::OutRsts);
            cx.send_ctrl(rst);
        }
        self.kill(cx, err);
    }

    /// `tcp_paws_discard`: the timestamp is more than one tick older than `ts_recent`
    /// (TCP_PAWS_WINDOW), `ts_recent` is less than 24 days old and not 0 (some stacks send
    /// 0 in their SYN), and the segment is not a "disordered ACK" — a pure duplicate ACK
    /// at RCV.NXT that changes no window and is at most 1.2 RTO older, which an ACK
    /// reordered behind a newer one looks like (`tcp_disordered_ack`).
    fn paws_discard(&self, cx: &Ctx<'_>, seg: &TcpSegment<'_>, seq: SeqNum) -> bool {
        let Some(ts) = seg.options.timestamps.filter(|_| self.neg.ts) else {
            return false;
        };
        let behind = self.ts_recent.wrapping_sub(ts.val) as i32;
        if behind <= 1
            || self.ts_recent == 0
            || cx.now.saturating_duration_since(self.ts_recent_stamp) >= PAWS_24DAYS
        {
            return false;
        }
        let ack = SeqNum(seg.ack);
        let win = (seg.window as u32) << self.snd_wscale();
        let pure_ack = seg.flags.ack() && seg.seq_len() == 0 && seq == self.rcv_nxt;
        let may_update_window = ack > self.snd_una
            || seq > self.snd_wl1
            || (seq == self.snd_wl1 && (win > self.snd_wnd || win == 0));
        // tcp_tsval_replay: RTO in jiffies × 1200 / HZ, in the peer's (millisecond) ticks.
        let replay = (self.rto().as_millis() as u64 * 1200 / 1000).min(i32::MAX as u64) as i32;
        let disordered = pure_ack && ack == self.snd_una && !may_update_window && behind <= replay;
        !disordered
    }

    /// `tcp_oow_rate_limited`: the duplicate ACK answering an out-of-window or PAWS-failed
    /// segment goes at most once per tcp_invalid_ratelimit per socket, so two stacks that
    /// disagree about the window cannot ACK each other forever.
    fn oow_rate_limited(&mut self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>, c: Counter) -> bool {
        self.last_oow_ack.limited_for(cx, seg, c)
    }

    /// `tcp_send_challenge_ack`: at most one per socket per tcp_invalid_ratelimit, then
    /// within the host-wide tcp_challenge_ack_limit for this second.
    fn challenge_ack(&mut self, cx: &mut Ctx<'_>) {
        if self
            .last_oow_ack
            .limited(cx, Counter::TcpAckSkippedChallenge)
        {
            return;
        }
        if !cx.challenge.take(cx.now, cx.cfg.tcp_challenge_ack_limit) {
            return;
        }
        cx.incr(Counter::TcpChallengeAck);
        self.ack_now = true;
    }

    fn drop_event(&self, cx: &mut Ctx<'_>, seg: &TcpSegment<'_>, reason: crate::DropReason) {
        let (src, dst) = (self.remote(), self.local());
        cx.events.push(cx.now, || EventKind::Drop {
            seg: Some(seg_info(src, dst, seg)),
            reason,
        });
    }

    // ------------------------------------------------------------- app calls

    pub(crate) fn write(&mut self, data: &[u8]) -> usize {
        // tcp_push: a write tries the link again.
        self.local_congested = false;
        // tcp_sendmsg: was the sender application-limited until now?
        self.model_check_app_limited();
        self.snd.push(data)
    }

    /// shutdown(SHUT_WR) / close(): queue our FIN after the data.
    pub(crate) fn shutdown_write(&mut self, cx: &mut Ctx<'_>) {
        if self.fin_queued {
            return;
        }
        match self.state {
            TcpState::Established => {
                self.fin_queued = true;
                self.set_state(cx, TcpState::FinWait1);
            }
            TcpState::CloseWait => {
                self.fin_queued = true;
                self.set_state(cx, TcpState::LastAck);
            }
            TcpState::SynRecv => {
                self.fin_queued = true;
                self.set_state(cx, TcpState::FinWait1);
            }
            _ => {}
        }
    }

    /// The application closed its descriptor (Linux `__tcp_close`).
    pub(crate) fn close(&mut self, cx: &mut Ctx<'_>) -> Next {
        self.fd = None;
        self.orphan = true;
        self.rd_shut = true;
        let unread = self.rcv.len() > 0;
        self.rcv.clear();
        match self.state {
            TcpState::Closed => return Next::Closed,
            TcpState::SynSent => {
                self.kill(cx, None);
                return Next::Closed;
            }
            _ => {}
        }
        if unread {
            // RFC 2525 2.17: unread data means the peer's data is lost; tell it.
            cx.incr(Counter::TcpAbortOnClose);
            self.abort(cx, None);
            return Next::Closed;
        }
        if self.opts.linger == Some(0) {
            cx.incr(Counter::TcpAbortOnData);
            self.abort(cx, None);
            return Next::Closed;
        }
        if self.state == TcpState::FinWait2 {
            // Already half-closed by shutdown(): the orphan rules start now.
            if matches!(self.opts.linger2, Some(l) if l < 0) {
                cx.incr(Counter::TcpAbortOnLinger);
                self.abort(cx, None);
                return Next::Closed;
            }
            let tmo = self.fin_time(cx.cfg);
            if tmo > cx.cfg.time_wait_len {
                self.fw2_deadline = Some(cx.now + (tmo - cx.cfg.time_wait_len));
                return Next::Keep;
            }
            return Next::TimeWait(TcpState::FinWait2, tmo);
        }
        self.shutdown_write(cx);
        Next::Keep
    }

    pub(crate) fn arm_keepalive(&mut self, cx: &mut Ctx<'_>) {
        self.ka_deadline = if self.opts.keepalive {
            Some(cx.now + self.opts.keepidle(cx.cfg))
        } else {
            None
        };
    }

    // --------------------------------------------------------------- timers

    /// The next protocol timer and when it fires (for `ss -o`; buffer housekeeping
    /// is not a TCP timer and is left out).
    pub(crate) fn next_timer(&self) -> Option<(TimerKind, Instant)> {
        [
            (self.rtx_deadline, TimerKind::Retransmit),
            (self.probe_deadline, TimerKind::ZeroWindowProbe),
            (self.delack_deadline, TimerKind::DelayedAck),
            (self.ka_deadline, TimerKind::Keepalive),
            (self.fw2_deadline, TimerKind::FinWait2),
        ]
        .into_iter()
        .filter_map(|(d, k)| d.map(|d| (k, d)))
        .min_by_key(|(_, d)| *d)
    }

    #[inline]
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let d = [
            self.rtx_deadline,
            self.probe_deadline,
            self.delack_deadline,
            self.flight.comp_deadline,
            self.ka_deadline,
            self.fw2_deadline,
            self.trim_deadline,
        ]
        .into_iter()
        .flatten()
        .min();
        // Only BBR connections pace (checked apart: the common case stays a short loop).
        match (d, self.pacing_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fire every deadline that is due at `cx.now`.
    pub(crate) fn on_timer(&mut self, cx: &mut Ctx<'_>) -> Next {
        let now = cx.now;
        let due = |d: Option<Instant>| matches!(d, Some(t) if t <= now);
        self.pacing_fire(now);
        if due(self.flight.comp_deadline) {
            // tcp_compressed_ack_kick: the held-back SACK goes (the ACK itself is not
            // one saved).
            let f = &mut *self.flight;
            f.comp_deadline = None;
            if f.comp_acks > 0 {
                f.comp_acks -= 1;
                self.ack_now = true;
            }
        }
        if due(self.delack_deadline) {
            self.delack_deadline = None;
            // tcp_delack_timer_handler: a delayed ACK that had to fire ends ping-pong.
            self.pingpong = false;
            self.timer_event(cx, TimerKind::DelayedAck);
            if self.unacked_bytes > 0 || self.rcv_fin || self.needs_ack() {
                cx.incr(Counter::DelayedAcks);
                self.ack_now = true;
            }
        }
        type Slot = fn(&mut Conn) -> &mut Option<Instant>;
        type Handler = fn(&mut Conn, &mut Ctx<'_>) -> Next;
        let timers: [(Slot, TimerKind, Handler); 3] = [
            (
                |c| &mut c.rtx_deadline,
                TimerKind::Retransmit,
                Conn::retransmit_timer,
            ),
            (
                |c| &mut c.probe_deadline,
                TimerKind::ZeroWindowProbe,
                Conn::probe_timer,
            ),
            (
                |c| &mut c.ka_deadline,
                TimerKind::Keepalive,
                Conn::keepalive_timer,
            ),
        ];
        for (slot, kind, handler) in timers {
            if due(*slot(self)) {
                *slot(self) = None;
                self.timer_event(cx, kind);
                let n = handler(self, cx);
                if n != Next::Keep {
                    return n;
                }
            }
        }
        if due(self.trim_deadline) {
            self.trim_deadline = None;
            self.rcv.release_if_empty();
            self.snd.release_if_empty();
            self.flight.release_if_at_rest(self.snd_una == self.snd_max);
            self.undo.release_if_at_rest(false);
            if let Some(f) = self.flight.if_any() {
                if f.sent_times.is_empty() {
                    f.sent_times = std::collections::VecDeque::new();
                }
            }
        }
        if due(self.fw2_deadline) {
            self.fw2_deadline = None;
            self.timer_event(cx, TimerKind::FinWait2);
            if self.state == TcpState::FinWait2 {
                let left = self.fin_time(cx.cfg).min(cx.cfg.time_wait_len);
                return Next::TimeWait(TcpState::FinWait2, left);
            }
        }
        Next::Keep
    }

    fn needs_ack(&self) -> bool {
        self.rcv_nxt != self.last_ack_sent
    }

    fn timer_event(&self, cx: &mut Ctx<'_>, timer: TimerKind) {
        let (local, remote) = (self.local(), self.remote());
        cx.events.push(cx.now, || EventKind::Timer {
            local,
            remote,
            timer,
        });
    }

    /// `tcp_write_timeout()`: has this connection retried long enough?
    fn write_timed_out(&self, cx: &Ctx<'_>) -> bool {
        let syn = matches!(self.state, TcpState::SynSent | TcpState::SynRecv);
        let (retries, base) = if syn && self.passive_fastopen {
            // tcp_fastopen_synack_timer: one more try than a request gets.
            (cx.cfg.tcp_synack_retries as u32 + 1, RTO_INIT)
        } else if syn {
            (self.opts.syn_retries(cx.cfg), RTO_INIT)
        } else if self.orphan {
            (cx.cfg.orphan_retries(), RTO_MIN)
        } else {
            (cx.cfg.tcp_retries2, RTO_MIN)
        };
        if syn {
            let max = retries
                + if self.state == TcpState::SynSent {
                    cx.cfg.tcp_syn_linear_timeouts as u32
                } else {
                    0
                };
            if self.retransmits >= max {
                return true;
            }
        }
        if self.retransmits == 0 {
            return false;
        }
        let Some(start) = self.retrans_stamp else {
            return false;
        };
        let budget = if self.opts.user_timeout > 0 && !syn {
            Duration::from_millis(self.opts.user_timeout.into())
        } else {
            model_timeout(retries, base)
        };
        cx.now.saturating_duration_since(start) >= budget
    }

    fn retransmit_timer(&mut self, cx: &mut Ctx<'_>) -> Next {
        if self.snd_una == self.snd_max && !self.syn_pending && self.state != TcpState::SynSent {
            return Next::Keep;
        }
        if self.rtx_is_probe {
            self.loss_probe_timer(cx);
            return Next::Keep;
        }
        if std::mem::take(&mut self.rtx_is_reo) {
            self.reorder_timer(cx);
            return Next::Keep;
        }
        self.flight.tlp_high_seq = None;
        self.flight.tlp_now = false;
        if self.write_timed_out(cx) {
            if self.state == TcpState::SynSent {
                cx.incr(Counter::AttemptFails);
            } else {
                cx.incr(Counter::TcpAbortOnTimeout);
            }
            // tcp_write_err: a soft error from ICMP explains the timeout better.
            let err = self.soft_error.unwrap_or(Errno::ETIMEDOUT);
            self.kill(cx, Some(err));
            return Next::Closed;
        }
        if self.retrans_stamp.is_none() {
            // Time the head segment was first sent: one RTO ago.
            self.retrans_stamp = Some(cx.now - self.rto());
        }
        cx.incr(Counter::TcpTimeouts);
        // tcp_timeout_mark_lost: everything out is lost now, retransmitted or not.
        self.flight.retrans_out = 0;
        match self.state {
            TcpState::SynSent | TcpState::SynRecv => {
                cx.incr(Counter::TcpSynRetrans);
                self.syn_pending = true;
                self.snd_nxt = self.iss;
            }
            _ => self.enter_loss(cx),
        }
        self.retransmits += 1;
        self.total_rto += 1;
        let linear = self.state == TcpState::SynSent
            && self.total_rto <= cx.cfg.tcp_syn_linear_timeouts as u32;
        if !linear {
            self.backoff += 1;
            self.set_rto((self.rto() * 2).min(cx.cfg.rto_max()));
        }
        self.rtx_deadline = Some(cx.now + self.clamp_to_user_timeout(cx.now, self.rto()));
        Next::Keep
    }

    /// `tcp_enter_loss`: go back to SND.UNA, everything in flight presumed lost. The
    /// threshold is cut once per loss episode — not again per backoff, nor when a fast
    /// recovery already cut it — and what it was is kept for undo. F-RTO judges the
    /// timeout unless it struck in a fast recovery (a repeated timeout still qualifies).
    fn enter_loss(&mut self, cx: &mut Ctx<'_>) {
        if self.retransmits == 0 {
            // tcp_retransmit_timer: a first timeout counted by the state it ends.
            let failed = match (self.ca_state(), self.neg.sack) {
                (3, true) => Some(Counter::TcpSackRecoveryFail),
                (3, false) => Some(Counter::TcpRenoRecoveryFail),
                (4, _) => Some(Counter::TcpLossFailures),
                (1, true) => Some(Counter::TcpSackFailures),
                (1, false) => Some(Counter::TcpRenoFailures),
                _ => None,
            };
            if let Some(c) = failed {
                cx.incr(c);
            }
        }
        let new_recovery = self.flight.recover.is_none() && self.flight.loss.is_none();
        // tcp_enter_loss: a window reduction still under way (CWR until its high_seq is
        // passed) is not cut again.
        let episode_over = self.flight.recover.is_none()
            && self.flight.cwr.is_none_or(|high| high <= self.snd_una)
            && (self.flight.loss.is_none()
                || self.retransmits == 0
                || self.snd_una >= self.snd_max);
        if episode_over {
            self.undo.prior_ssthresh = self.current_ssthresh();
            self.undo.prior_cwnd = self.cwnd;
            self.ssthresh = self.loss_ssthresh();
            // tcp_timeout_mark_lost has taken every retransmission out of the flight.
            self.undo.init(self.snd_una, 0);
        }
        self.flight.frto = cx.cfg.tcp_frto != 0 && (new_recovery || self.retransmits > 0);
        self.flight.frto_resume = None;
        self.flight.loss = Some(self.snd_max);
        self.flight.cwr = None;
        self.cc.on_timeout(cx.now, self.snd_max.0);
        self.model_enter_loss(cx.now);
        self.cwnd = self.mss as u32;
        self.flight.recover = None;
        self.flight.dupacks = 0;
        self.flight.rtx_at = None;
        self.flight.rtx_log.clear();
        self.flight.lost_again.clear();
        self.snd_nxt = self.snd_una;
        if self.fin_sent && !self.fin_acked() {
            self.fin_sent = false;
        }
        self.rtt_probe = None;
    }

    /// `tcp_process_loss`: an ACK in CA_Loss. Undo if the timeout proves needless —
    /// the ACK echoes a timestamp older than the first retransmission, or (F-RTO step
    /// 3b) data never retransmitted arrived. F-RTO step 2b: on the first ACK that moves
    /// SND.UNA, new data goes out instead of more retransmissions (if there is new data
    /// and window for it); a duplicate ACK or a SACK after that shows the loss was real
    /// (step 3a): the retransmissions resume. Once the peer has everything sent before
    /// the timeout, the state ends.
    fn process_loss(
        &mut self,
        cx: &mut Ctx<'_>,
        tsecr: Option<u32>,
        una_advanced: bool,
        orig_acked: bool,
        data_sacked: bool,
        dup: bool,
    ) {
        let Some(high) = self.flight.loss else {
            return;
        };
        let recovered = self.snd_una >= high;
        if una_advanced && self.try_undo_loss(cx, false, tsecr) {
            return;
        }
        if self.flight.frto {
            if orig_acked && self.try_undo_loss(cx, true, tsecr) {
                return;
            }
            if self.snd_max > high {
                if data_sacked || dup {
                    // Step 3a: the loss was real; the timeout's retransmissions go on.
                    self.flight.frto = false;
                    if let Some(at) = self.flight.frto_resume.take() {
                        self.snd_nxt = self.snd_nxt.min(at.max(self.snd_una));
                    }
                }
            } else if una_advanced && !recovered {
                // Step 2b: new data, if any and the peer's window takes it.
                let never_sent = self.snd.len() as i64
                    - i64::from((self.snd_max - self.snd_una).max(0))
                    + i64::from(self.syn_in_flight());
                let fin_unsent = self.fin_queued && self.fin_seq() >= self.snd_max;
                let window_open = self.snd_una + self.snd_wnd > self.snd_max;
                if (never_sent > 0 || fin_unsent) && window_open {
                    self.flight.frto_resume = Some(self.snd_nxt.max(self.snd_una));
                    self.snd_nxt = self.snd_max;
                    return;
                }
                self.flight.frto = false;
            }
        }
        if recovered {
            // F-RTO step 2a / tcp_try_undo_recovery in CA_Loss.
            if self.undo.may_undo(tsecr, !self.neg.sack) {
                self.undo_reduction(false);
                cx.incr(Counter::TcpLossUndo);
            }
            if !self.reno_holds_state(high) {
                self.end_loss();
            }
        }
    }

    /// `tcp_try_undo_loss`: undo the timeout's cut if it was needless (`frto_undo`: F-RTO
    /// proved it spurious). A SACK connection (or F-RTO) returns to CA_Open at once.
    fn try_undo_loss(&mut self, cx: &mut Ctx<'_>, frto_undo: bool, tsecr: Option<u32>) -> bool {
        let Some(high) = self.flight.loss else {
            return false;
        };
        let reno_at_high = !self.neg.sack && self.snd_una >= high;
        if !frto_undo && !self.undo.may_undo(tsecr, reno_at_high) {
            return false;
        }
        self.undo_reduction(true);
        cx.incr(Counter::TcpLossUndo);
        if frto_undo {
            cx.incr(Counter::TcpSpuriousRtos);
        }
        self.retransmits = 0;
        if !self.reno_holds_state(high) && (frto_undo || self.neg.sack) {
            self.end_loss();
        }
        true
    }

    /// `tcp_is_non_sack_preventing_reopen`: without SACK, the state holds until data
    /// above `high` is acknowledged (RFC 6582: no false fast retransmit).
    fn reno_holds_state(&mut self, high: SeqNum) -> bool {
        if !self.neg.sack && self.snd_una == high {
            if self.flight.retrans_out == 0 {
                self.undo.first_rtx_tsval = None;
            }
            return true;
        }
        false
    }

    fn end_loss(&mut self) {
        self.flight.loss = None;
        self.flight.frto = false;
        self.flight.frto_resume = None;
    }

    /// `tcp_try_undo_dsack`: D-SACKs reported every retransmission of the episode as a
    /// duplicate — none was needed.
    fn try_undo_dsack(&mut self, cx: &mut Ctx<'_>) -> bool {
        if self.undo.marker.is_none() || self.undo.retrans != 0 {
            return false;
        }
        self.undo_reduction(false);
        cx.incr(Counter::TcpDsackUndo);
        true
    }

    /// `tcp_try_to_open` after an undo: out of fast recovery.
    fn try_to_open(&mut self) {
        if self.flight.retrans_out == 0 {
            self.undo.first_rtx_tsval = None;
        }
        if self.flight.recover.is_some() {
            self.leave_recovery();
        }
    }

    /// The end of a fast recovery (its window set by the caller).
    fn leave_recovery(&mut self) {
        self.flight.recover = None;
        self.flight.dupacks = 0;
        self.flight.rtx_log.clear();
        self.flight.lost_again.clear();
    }

    /// `tcp_check_sack_reordering`: data at `low` that was never retransmitted arrived
    /// after data above it — reordering. The degree (in segments, from `low` to the
    /// highest SACKed segment) becomes the connection's threshold if larger, up to
    /// tcp_max_reordering. `ts`: found by a timestamp (a partial undo).
    fn check_reordering(&mut self, cx: &mut Ctx<'_>, low: SeqNum, ts: bool) {
        let mss = u32::from(self.mss.max(1));
        let fack = match self.flight.sacked.last() {
            Some(&(l, r)) if (r - l) as u32 > mss => r - mss,
            Some(&(l, _)) => l,
            None => self.snd_una,
        };
        if low >= fack {
            return;
        }
        let metric = (fack - low) as u32;
        if metric > u32::from(self.reordering) * mss {
            let max = cx.cfg.tcp_max_reordering.min(u32::from(u16::MAX));
            self.reordering = metric.div_ceil(mss).min(max) as u16;
        }
        cx.incr(if ts {
            Counter::TcpTsReorder
        } else {
            Counter::TcpSackReorder
        });
    }

    /// No retransmission reaches past `seq` (the segment there went out once).
    fn never_retransmitted(&self, seq: SeqNum) -> bool {
        self.flight.retrans_high.is_none_or(|h| h <= seq)
    }

    /// `icsk_ca_state`: 0 Open, 1 Disorder (duplicate ACKs, SACKed data or
    /// retransmissions out, nothing judged lost), 3 Recovery, 4 Loss (CWR, 2, needs ECN).
    pub(crate) fn ca_state(&self) -> u8 {
        if self.flight.loss.is_some() {
            4
        } else if self.flight.recover.is_some() {
            3
        } else if self.flight.cwr.is_some() {
            2
        } else if self.flight.dupacks > 0
            || !self.flight.sacked.is_empty()
            || self.flight.retrans_out > 0
        {
            1
        } else {
            0
        }
    }

    /// `tcp_in_cwnd_reduction`: CWR or Recovery, where PRR sets the window.
    fn in_cwnd_reduction(&self) -> bool {
        self.flight.recover.is_some() || self.flight.cwr.is_some()
    }

    /// `tcp_enter_cwr`: the link refused a segment (Linux enters CWR on a qdisc drop, as
    /// on an ECN echo): the window is reduced once, by PRR over the next round, and
    /// nothing is undone.
    fn enter_cwr(&mut self) {
        if let Some(u) = self.undo.if_any() {
            u.prior_ssthresh = 0;
        }
        if self.ca_state() < 2 {
            if let Some(u) = self.undo.if_any() {
                u.marker = None;
            }
            // tcp_init_cwnd_reduction.
            self.flight.cwr = Some(self.snd_nxt);
            self.flight.tlp_high_seq = None;
            self.cwnd_acc = 0;
            self.flight.prior_cwnd = self.cwnd.max(1);
            self.flight.prr_delivered = 0;
            self.flight.prr_out = 0;
            self.ssthresh = self.loss_ssthresh();
        }
    }

    /// `tcp_is_cwnd_limited`: the window was used up this round — or, in slow start, is
    /// under twice the most that was out (so it can double what is used).
    fn cwnd_limited(&self) -> bool {
        self.is_cwnd_limited || (self.cwnd < self.ssthresh && self.cwnd < 2 * self.max_out)
    }

    /// `tcp_cwnd_validate` after new data went out: a round (up to SND.NXT) remembers
    /// whether the window limited it and the most bytes out.
    fn cwnd_validate(&mut self) {
        let out = (self.snd_max - self.snd_una).max(0) as u32;
        let limited = self.cwnd_left() < u32::from(self.mss.max(1));
        if self.snd_una >= self.cwnd_usage_seq
            || limited
            || (!self.is_cwnd_limited && out > self.max_out)
        {
            self.is_cwnd_limited = limited;
            self.max_out = out;
            self.cwnd_usage_seq = self.snd_nxt;
        }
    }

    /// `tcp_current_ssthresh`: the threshold, or three quarters of the window if that is
    /// more — unless a reduction is under way.
    fn current_ssthresh(&self) -> u32 {
        if self.flight.recover.is_some() {
            self.ssthresh
        } else {
            self.ssthresh.max((self.cwnd >> 1) + (self.cwnd >> 2))
        }
    }

    /// `tcp_undo_cwnd_reduction`: the window and threshold back to what they were before
    /// the needless cut. `unmark`: what was presumed lost is in flight again — after a
    /// timeout, SND.NXT returns to where it was (nothing more is resent).
    fn undo_reduction(&mut self, unmark: bool) {
        if unmark {
            if self.flight.loss.is_some() {
                self.snd_nxt = self.snd_max;
                if self.fin_queued && self.fin_seq() < self.snd_max {
                    self.fin_sent = true;
                }
            }
            self.flight.frto_resume = None;
            self.flight.rtx_at = None;
            self.flight.lost_again.clear();
        }
        if self.undo.prior_ssthresh != 0 {
            // BBR keeps its window (`bbr_undo_cwnd`); the others return to the old one.
            self.cwnd = match self.model_undo() {
                Some(w) => w,
                None => self.cwnd.max(self.undo.prior_cwnd),
            };
            self.ssthresh = self.ssthresh.max(self.undo.prior_ssthresh);
        }
        self.undo.marker = None;
    }

    /// `tcp_clamp_rto_to_user_timeout()`: never wait past TCP_USER_TIMEOUT (counted from
    /// the first transmission of the head segment); once it has passed, fire at once.
    fn clamp_to_user_timeout(&self, now: Instant, rto: Duration) -> Duration {
        let (Some(start), ut) = (self.retrans_stamp, self.opts.user_timeout) else {
            return rto;
        };
        if ut == 0 {
            return rto;
        }
        let left =
            Duration::from_millis(ut.into()).saturating_sub(now.saturating_duration_since(start));
        if left.is_zero() {
            Duration::from_millis(1)
        } else {
            rto.min(left)
        }
    }

    /// `tcp_probe_timer()`: the peer's window is zero and we have something to send.
    fn probe_timer(&mut self, cx: &mut Ctx<'_>) -> Next {
        let window_open = self.snd_wnd > 0 && !self.local_congested;
        if window_open || self.snd_nxt != self.snd_una || !self.has_unsent() {
            self.probes_out = 0;
            self.probes_stamp = None;
            return Next::Keep;
        }
        // TCP_USER_TIMEOUT counts from the first probe of the series.
        match self.probes_stamp {
            None => self.probes_stamp = Some(cx.now),
            Some(t)
                if self.opts.user_timeout > 0
                    && cx.now.saturating_duration_since(t)
                        >= Duration::from_millis(self.opts.user_timeout.into()) =>
            {
                cx.incr(Counter::TcpAbortOnTimeout);
                self.kill(cx, Some(Errno::ETIMEDOUT));
                return Next::Closed;
            }
            Some(_) => {}
        }
        // `tcp_probe_timer()`: an orphan whose backed-off probe interval reached RTO_MAX
        // is no longer "alive" and gets tcp_orphan_retries as is (0 really means 0 then).
        let alive = self.probe_interval(cx.cfg) < cx.cfg.rto_max();
        let max_probes = match (self.orphan, alive) {
            (true, true) => cx.cfg.orphan_retries(),
            (true, false) => cx.cfg.tcp_orphan_retries,
            (false, _) => cx.cfg.tcp_retries2,
        };
        if (self.orphan && !alive && self.backoff >= max_probes) || self.probes_out >= max_probes {
            cx.incr(Counter::TcpAbortOnTimeout);
            self.kill(cx, Some(Errno::ETIMEDOUT));
            return Next::Closed;
        }
        if self.local_congested {
            // tcp_send_probe0 after local congestion: tcp_write_wakeup tries to send new
            // data. A link still blocked refuses it too: the next try is a resource probe
            // interval later, without backoff. An open link takes it: the probes end.
            if cx.link_blocked {
                self.probes_out += 1;
                let when = self.clamp_to_probe_budget(cx.now, RESOURCE_PROBE_INTERVAL);
                self.probe_deadline = Some(cx.now + when);
            } else {
                self.local_congested = false;
                self.probes_out = 0;
                self.probes_stamp = None;
            }
            return Next::Keep;
        }
        self.probes_out += 1;
        self.backoff += 1;
        self.probe_now = true;
        cx.incr(Counter::TcpWinProbe);
        self.probe_deadline = Some(cx.now + self.probe_when(cx.now, cx.cfg));
        Next::Keep
    }

    /// The next probe's delay, clamped to what is left of TCP_USER_TIMEOUT
    /// (`tcp_clamp_probe0_to_user_timeout`, at least TCP_TIMEOUT_MIN).
    fn probe_when(&self, now: Instant, cfg: &Config) -> Duration {
        self.clamp_to_probe_budget(now, self.probe_interval(cfg))
    }

    /// `tcp_clamp_probe0_to_user_timeout`: `when`, or what is left of TCP_USER_TIMEOUT
    /// since the first probe if less (at least TCP_TIMEOUT_MIN).
    fn clamp_to_probe_budget(&self, now: Instant, when: Duration) -> Duration {
        match (self.probes_stamp, self.opts.user_timeout) {
            (Some(t), ut) if ut > 0 => {
                let left = Duration::from_millis(ut.into())
                    .saturating_sub(now.saturating_duration_since(t));
                when.min(left.max(Duration::from_millis(2)))
            }
            _ => when,
        }
    }

    fn probe_interval(&self, cfg: &Config) -> Duration {
        (self.rto() * (1u32 << self.backoff.min(16))).min(cfg.rto_max())
    }

    fn has_unsent(&self) -> bool {
        self.unsent() > 0 || (self.fin_queued && !self.fin_sent)
    }

    /// `tcp_keepalive_timer()`.
    fn keepalive_timer(&mut self, cx: &mut Ctx<'_>) -> Next {
        if !self.opts.keepalive || matches!(self.state, TcpState::Closed | TcpState::SynSent) {
            return Next::Keep;
        }
        let idle = self.opts.keepidle(cx.cfg);
        if self.snd_una != self.snd_max || self.has_unsent() {
            // Alive without keepalive: data is in flight.
            self.ka_deadline = Some(cx.now + idle);
            return Next::Keep;
        }
        let elapsed = cx.now.saturating_duration_since(self.last_rcv);
        if elapsed < idle {
            self.ka_deadline = Some(self.last_rcv + idle);
            return Next::Keep;
        }
        // tcp_keepalive_timer: with TCP_USER_TIMEOUT, time decides and TCP_KEEPCNT is
        // ignored; without it, the probe count does.
        let dead = if self.opts.user_timeout > 0 {
            let user_timeout = Duration::from_millis(self.opts.user_timeout.into());
            elapsed >= user_timeout && self.probes_out > 0
        } else {
            self.probes_out >= self.opts.keepcnt(cx.cfg)
        };
        if dead {
            cx.incr(Counter::TcpAbortOnTimeout);
            self.abort(cx, Some(Errno::ETIMEDOUT));
            return Next::Closed;
        }
        self.probes_out += 1;
        self.probe_now = true;
        cx.incr(Counter::TcpKeepAlive);
        self.ka_deadline = Some(cx.now + self.opts.keepintvl(cx.cfg));
        Next::Keep
    }

    // --------------------------------------------------------------- output

    /// Does this connection have a segment to send now?
    /// The sequence-space rules every state keeps: SND.UNA ≤ SND.NXT ≤ the highest
    /// sequence sent, the bytes in flight still held in the send buffer, and a sound
    /// receive queue. For fuzzers and tests ([`crate::Stack::check_invariants`]).
    pub(crate) fn check(&self) -> Result<(), String> {
        let who = format!("{} -> {} ({})", self.local(), self.remote(), self.state);
        if self.snd_una > self.snd_nxt || self.snd_nxt > self.snd_max {
            return Err(format!(
                "{who}: SND.UNA {} SND.NXT {} SND.MAX {}",
                self.snd_una.0, self.snd_nxt.0, self.snd_max.0
            ));
        }
        let in_flight = self.snd_max - self.snd_una;
        // SYN and FIN take a sequence number each but no byte of the buffer; a closed
        // connection (reset, timed out) has let its send buffer go.
        if self.state != TcpState::Closed && in_flight as usize > self.snd.len() + 2 {
            return Err(format!(
                "{who}: {in_flight} in flight but {} bytes in the send buffer",
                self.snd.len()
            ));
        }
        self.rcv.check().map_err(|e| format!("{who}: {e}"))
    }

    pub(crate) fn wants_tx(&self) -> bool {
        if self.state == TcpState::Closed {
            return false;
        }
        // Data waits while the pacing timer is armed (it fires when the next may go).
        self.syn_pending
            || self.ack_now
            || self.flight.tlp_now
            || self.probe_now
            || (!self.pacing_pending()
                && (self.flight.rtx_at.is_some()
                    || self.hole_to_resend().is_some()
                    || (self.can_send_data() && !self.local_congested)))
    }

    fn send_window_left(&self) -> u32 {
        // The peer's window starts after our SYN: a Fast Open child sending before its
        // SYN-ACK is acknowledged has the whole window for data, as Linux's child (whose
        // snd_una starts at ISN + 1) does.
        let wnd_end = self.snd_una + self.syn_in_flight() as u32 + self.snd_wnd;
        (wnd_end - self.snd_nxt).max(0) as u32
    }

    fn cwnd_left(&self) -> u32 {
        self.cwnd.saturating_sub(self.pipe())
    }

    /// Bytes in the network (`tcp_packets_in_flight`: packets out − SACKed − lost +
    /// retransmitted). SACKed bytes have left it. In SACK recovery the holes below the
    /// highest SACKed byte are lost (RACK with no reordering seen: sent before data that
    /// arrived) unless resent (below HighRxt), when they are in flight again. An
    /// unacknowledged SYN-ACK of a Fast Open child is not in Linux's packets_out (the
    /// request sent it).
    fn pipe(&self) -> u32 {
        let mut out = self.in_flight().saturating_sub(self.syn_in_flight() as u32);
        if let Some(high) = self.flight.loss {
            if let Some(from) = self.flight.frto_resume {
                // F-RTO sent new data past what the timeout presumed lost and had not
                // resent yet: that is not in flight.
                let from = from.max(self.snd_una);
                let lost =
                    ((high - from).max(0) as u32).saturating_sub(self.sacked_between(from, high));
                out = out.saturating_sub(lost);
            } else if self.snd_nxt < self.snd_max {
                // Retransmissions resumed below data first sent after the timeout: that
                // data is in flight (only what was out at the timeout was presumed lost).
                let from = high.max(self.snd_nxt);
                let reno_sacked = if self.neg.sack {
                    0
                } else {
                    self.flight
                        .dupacks
                        .saturating_mul(u32::from(self.mss.max(1)))
                };
                let after = ((self.snd_max - from).max(0) as u32)
                    .saturating_sub(self.sacked_between(from, self.snd_max))
                    .saturating_sub(reno_sacked);
                out = out.saturating_add(after);
            }
        }
        if self.flight.sacked.is_empty() && self.flight.rack_lost_high.is_none() {
            return out;
        }
        // SACKed bytes below SND.NXT (after an RTO rewound it, those above are not out).
        let sacked = self.sacked_below(self.snd_nxt);
        let mut pipe = out.saturating_sub(sacked);
        if self.flight.recover.is_some() && self.neg.sack {
            let (lost, resent) = self.holes();
            let again: u32 = self
                .flight
                .lost_again
                .iter()
                .map(|&(l, r)| (r - l.max(self.snd_una)).max(0) as u32)
                .sum();
            pipe = pipe
                .saturating_sub(lost)
                .saturating_add(resent.saturating_sub(again));
        }
        pipe
    }

    /// SACKed bytes below `end` (the scoreboard never reaches past SND.MAX).
    fn sacked_below(&self, end: SeqNum) -> u32 {
        self.flight
            .sacked
            .iter()
            .map(|&(l, r)| (r.min(end) - l).max(0) as u32)
            .sum()
    }

    /// SACKed bytes in `from..end`.
    fn sacked_between(&self, from: SeqNum, end: SeqNum) -> u32 {
        self.flight
            .sacked
            .iter()
            .map(|&(l, r)| (r.min(end) - l.max(from)).max(0) as u32)
            .sum()
    }

    /// The holes below the highest SACKed byte: (all their bytes, the bytes resent).
    fn holes(&self) -> (u32, u32) {
        let (mut lost, mut resent) = (0u32, 0u32);
        let mut at = self.snd_una;
        let mut hole = |from: SeqNum, to: SeqNum| {
            if from < to {
                lost += (to - from) as u32;
                let top = self.flight.high_rxt.map_or(from, |h| h.min(to));
                if from < top {
                    resent += (top - from) as u32;
                }
            }
        };
        for &(l, r) in &self.flight.sacked {
            hole(at, l);
            at = at.max(r);
        }
        hole(at, self.lost_top());
        (lost, resent)
    }

    /// What the peer has that it did not have (cumulatively ACKed or SACKed), as a mark
    /// to take differences of.
    fn delivered_mark(&self) -> u32 {
        self.snd_una.0.wrapping_add(self.sacked_below(self.snd_max))
    }

    /// SACK recovery: a lost hole to resend, and the window lets it go
    /// (`tcp_xmit_retransmit_queue`).
    fn hole_to_resend(&self) -> Option<SeqNum> {
        if self.flight.recover.is_none() || !self.neg.sack || self.cwnd_left() == 0 {
            return None;
        }
        self.flight
            .lost_again
            .first()
            .map(|&(l, _)| l.max(self.snd_una))
            .or_else(|| self.next_hole())
    }

    /// RACK for retransmissions: after an ACK in SACK recovery, a retransmission still
    /// missing an RTT after it left, while data first sent after it has been SACKed, is
    /// marked lost again (TcpExtTCPLostRetransmit) and goes out before any further hole.
    fn rack_lost_retransmits(&mut self, cx: &mut Ctx<'_>) {
        if cx.cfg.tcp_recovery & 1 == 0 {
            return;
        }
        let top = self.flight.sacked.last().map_or(self.snd_una, |&(_, r)| r);
        let rtt = self.srtt().unwrap_or(RTO_INIT);
        let una = self.snd_una;
        let f = &mut *self.flight;
        let sacked = &f.sacked;
        let covered = |l: SeqNum, r: SeqNum| {
            let l = l.max(una);
            // The one range that could hold l: the last starting at or before it.
            let i = sacked.partition_point(|&(a, _)| a <= l);
            r <= una || (i > 0 && r <= sacked[i - 1].1)
        };
        f.lost_again.retain(|&(l, r)| !covered(l, r));
        let mut found = Vec::new();
        f.rtx_log.retain(|&(l, r, at, max_then)| {
            if covered(l, r) {
                return false;
            }
            if top > max_then && cx.now.saturating_duration_since(at) >= rtt {
                found.push((l, r));
                return false;
            }
            true
        });
        for (l, r) in found {
            cx.incr(Counter::TcpLostRetransmit);
            if self.flight.lost_again.len() < self.scoreboard_max() {
                self.flight.lost_again.push((l.max(una), r));
            }
        }
    }

    /// `tcp_cwnd_reduction` (RFC 6937 PRR): after an ACK in recovery that delivered
    /// `newly` bytes, the window lets out what keeps the flight on course to ssthresh —
    /// in proportion to what was delivered while the flight is above ssthresh, and no
    /// faster than slow start (plus one segment when SND.UNA moved) below it.
    fn prr_update(&mut self, newly: u32, una_advanced: bool) {
        if newly == 0 || self.flight.prior_cwnd == 0 {
            return;
        }
        // In whole segments, as Linux counts packets: its rounding is part of the result.
        let mss = u32::from(self.mss.max(1));
        let segs = |bytes: u32| bytes.div_ceil(mss);
        self.flight.prr_delivered = self.flight.prr_delivered.saturating_add(newly);
        let pipe = segs(self.pipe());
        let ssthresh = self.ssthresh / mss;
        let (delivered, out) = (segs(self.flight.prr_delivered), segs(self.flight.prr_out));
        let mut sndcnt = if pipe > ssthresh {
            let due = (u64::from(ssthresh) * u64::from(delivered))
                .div_ceil(u64::from(segs(self.flight.prior_cwnd).max(1)));
            (due.min(u64::from(u32::MAX)) as u32).saturating_sub(out)
        } else {
            let mut n = delivered.saturating_sub(out).max(segs(newly));
            if una_advanced {
                n += 1;
            }
            n.min(ssthresh - pipe)
        };
        // Force a fast retransmit upon entering recovery.
        if self.flight.prr_out == 0 {
            sndcnt = sndcnt.max(1);
        }
        self.cwnd = pipe.saturating_add(sndcnt).saturating_mul(mss);
    }

    /// Nagle (RFC 896 with Minshall's refinement, `tcp_nagle_check`) and the windows.
    fn sendable(&self) -> Option<(u32, bool)> {
        self.sendable_as(false)
    }

    /// What `sendable` allows, or with `probe` what a loss probe of new data may send
    /// (`tcp_write_xmit` with `push_one` 2 and TCP_NAGLE_OFF): one segment even when the
    /// congestion window is full, without Nagle's or the sender's SWS wait — only the
    /// peer's window limits it.
    fn sendable_as(&self, probe: bool) -> Option<(u32, bool)> {
        // A passive Fast Open child may send once its SYN-ACK is out (Linux lets
        // tcp_sendmsg through in SYN_RECV for it).
        let fastopen_early = self.state == TcpState::SynRecv
            && self.passive_fastopen
            && !self.syn_pending
            && self.snd_nxt > self.iss;
        if !fastopen_early
            && !matches!(
                self.state,
                TcpState::Established
                    | TcpState::CloseWait
                    | TcpState::FinWait1
                    | TcpState::LastAck
                    | TcpState::Closing
            )
        {
            return None;
        }
        let unsent = self.unsent() as u32;
        let fin_next = self.fin_queued && !self.fin_sent;
        if unsent == 0 && !fin_next {
            return None;
        }
        let cwnd_room = if probe {
            self.cwnd_left().max(u32::from(self.mss))
        } else {
            self.cwnd_left()
        };
        let room = self.send_window_left().min(cwnd_room);
        if unsent == 0 {
            // A bare FIN needs one unit of window (tcp_snd_wnd_test).
            return (self.send_window_left() >= 1).then_some((0, true));
        }
        let len = unsent.min(self.mss as u32).min(room);
        if len == 0 || (probe && len < unsent.min(self.mss as u32)) {
            // A probe of new data needs its whole segment inside the peer's window
            // (`tcp_snd_wnd_test`), else the tail is resent instead.
            return None;
        }
        let last = len == unsent;
        if len < self.mss as u32 && !(last && fin_next) && !probe {
            // A partial segment waits while a small one is unacknowledged (Nagle),
            // or while the window would let a full one go later (SWS avoidance).
            if len < unsent {
                // Window/cwnd limited: send only if at least half the max window (RFC 1122).
                if len < self.max_window / 2 && self.snd_nxt > self.snd_una {
                    return None;
                }
            } else if !self.opts.nodelay
                && self.snd_nxt > self.snd_una
                && self.snd_sml > self.snd_una
            {
                return None;
            }
        }
        let fin = last && fin_next && self.send_window_left() > len;
        Some((len, fin))
    }

    fn can_send_data(&self) -> bool {
        self.sendable().is_some()
    }

    /// The window last advertised, as it was when sent (`tp->rcv_wnd`).
    fn offered_window(&self) -> u32 {
        (self.rcv_adv - self.last_ack_sent).max(0) as u32
    }

    /// What is left of the window last advertised (`tcp_receive_window`): a TIME_WAIT
    /// socket keeps advertising it.
    pub(crate) fn receive_window(&self) -> u32 {
        (self.rcv_adv - self.rcv_nxt).max(0) as u32
    }

    /// The buffer's window share (`tcp_full_space`).
    fn full_space(&self) -> u32 {
        win_from_space(self.rcv.capacity(), self.scaling_ratio) as u32
    }

    /// Its free part (`tcp_space`): the share of what the segments held (in order or
    /// not) leave of the buffer, each charged its true size — counted as whole segments of
    /// the receive MSS estimate, since Linux frees a segment only once it is read whole.
    fn free_space(&self) -> u32 {
        let ooo: usize = if self.rcv.has_ooo() {
            self.rcv.ooo_ranges().iter().map(|&(s, e)| e - s).sum()
        } else {
            0
        };
        let held = (self.rcv.len() + ooo) as u32;
        if held == 0 {
            return self.full_space();
        }
        let seg = self.rcv_mss.max(1);
        let charged = held.div_ceil(seg).saturating_mul(truesize(seg));
        win_from_space(
            self.rcv.capacity().saturating_sub(charged as usize),
            self.scaling_ratio,
        ) as u32
    }

    /// The largest window we offer (`window_clamp` after `tcp_init_buffer_space`): the
    /// buffer's window share less one segment, which Linux keeps in reserve.
    fn window_clamp(&self) -> u32 {
        self.clamp_of(self.full_space())
    }

    fn clamp_of(&self, share: u32) -> u32 {
        let mss = self.mss_for_window() as u32;
        // The reserve goes when a measured ratio sets the clamp anew
        // (`tcp_measure_rcv_mss` → `tcp_set_window_clamp`).
        if self.scaling_ratio == DEFAULT_SCALING_RATIO && share > 2 * mss {
            (share - mss).max(2 * mss)
        } else {
            share
        }
    }

    /// The window the buffer could offer now (`__tcp_select_window`): its free space,
    /// no more than `rcv_ssthresh`; nothing when less than a segment or a sixteenth of
    /// the buffer is free (receiver-side silly-window avoidance); rounded up to the
    /// window scale's unit, or without scaling kept while within a segment of the free
    /// space (in whole segments otherwise).
    fn free_window(&self) -> u32 {
        self.free_window_and_pressure().0
    }

    /// The free window, and whether less than half the clamp is free (which ends
    /// quick-ACK mode).
    fn free_window_and_pressure(&self) -> (u32, bool) {
        let allowed = self.full_space();
        let full = self.clamp_of(allowed);
        let mss = self.rcv_mss.max(1).min(full);
        let scale = self.rcv_wscale();
        let mut free = self.free_space();
        let pressed = free < full / 2;
        if mss == 0 {
            return (0, pressed);
        }
        if pressed {
            free = free >> scale << scale;
            if free < allowed / 16 || free < mss {
                return (0, pressed);
            }
        }
        free = free.min(self.rcv_ssthresh);
        if scale > 0 {
            return (align_up(free, scale), pressed);
        }
        let offered = self.offered_window();
        let w = if offered + mss <= free || offered > free {
            free / mss * mss
        } else if mss == full && free > offered + full / 2 {
            free
        } else {
            offered
        };
        (w, pressed)
    }

    /// The receive window we offer, in bytes (`tcp_select_window`): the free window,
    /// but never pulling back the edge already advertised (Linux keeps that edge, rounded
    /// up to the scale's unit, while the free space shrinks).
    fn rcv_window_bytes(&self) -> u32 {
        self.select_window().0
    }

    /// The window to send, and whether the buffer is under pressure (see
    /// `free_window_and_pressure`).
    fn select_window(&self) -> (u32, bool) {
        if self.state == TcpState::SynSent {
            return (0, false);
        }
        let scale = self.rcv_wscale();
        let (mut w, pressed) = self.free_window_and_pressure();
        let already = self.receive_window();
        if w < already {
            w = align_up(already, scale);
        }
        (w.min(65535 << scale), pressed)
    }

    fn window_field(&self) -> u16 {
        (self.rcv_window_bytes() >> self.rcv_wscale()).min(65535) as u16
    }

    fn mss_for_window(&self) -> u16 {
        if self.neg.ts {
            self.advmss.saturating_sub(TS_LEN)
        } else {
            self.advmss
        }
    }

    /// Build the next segment into `out` (header fields) and copy its payload into
    /// `payload`. Returns `None` when there is nothing to send.
    pub(crate) fn next_segment(
        &mut self,
        cx: &mut Ctx<'_>,
        payload: &mut Vec<u8>,
    ) -> Option<OutSeg> {
        payload.clear();
        if self.state == TcpState::Closed {
            self.ack_now = false;
            return None;
        }
        let now = cx.now;
        let mut flags = TcpFlags::ACK;
        let mut seq = self.snd_nxt;
        let mut options = TcpOptions::default();

        if self.syn_pending {
            self.syn_pending = false;
            // A Fast Open child's SYN is always a SYN-ACK, also once the application has
            // closed it (FIN_WAIT_1) before the SYN-ACK went out: a bare SYN there makes
            // the peer see a simultaneous open.
            let simultaneous = self.state == TcpState::SynRecv || self.passive_fastopen;
            flags = if simultaneous {
                TcpFlags::SYN | TcpFlags::ACK
            } else {
                TcpFlags::SYN
            };
            seq = self.iss;
            options.mss = Some(self.advmss);
            options.sack_permitted = self.neg.sack;
            if self.neg.ts {
                let ecr = if simultaneous { self.ts_recent } else { 0 };
                let val = ts_now(now, self.ts_off);
                self.syn_tsval.get_or_insert(val);
                options.timestamps = Some(Timestamps { val, ecr });
            }
            let wscale_ok =
                cx.cfg.tcp_window_scaling && (!simultaneous || self.neg.wscale.is_some());
            if wscale_ok {
                options.window_scale = Some(our_wscale(cx.cfg, &self.opts));
            }
            // Fast Open: the first SYN carries the cookie (or a request) and data; a
            // retransmitted SYN carries neither (tcp_send_syn_data's fallback).
            let mut len = 0;
            if !simultaneous && self.retransmits == 0 {
                let fo = self.fo.clone();
                if fo.option {
                    let kind = if fo.exp {
                        synack_wire::FastOpenKind::Experimental
                    } else {
                        synack_wire::FastOpenKind::Rfc7413
                    };
                    let cookie = &fo.cookie[..usize::from(fo.cookie_len)];
                    options.fast_open =
                        Some(synack_wire::FastOpenOption::with_cookie(kind, cookie));
                }
                if fo.syn_data > 0 {
                    len = fo.syn_data.min(self.snd.len() as u32);
                    self.snd.copy_range(0, len as usize, payload);
                }
            }
            self.snd_nxt = self.iss + 1 + len;
            self.snd_max = self.snd_max.max(self.snd_nxt);
            if self.retransmits == 0 {
                self.rtt_probe = Some((self.iss, now));
            } else {
                self.note_retransmit(cx, self.iss + 1);
            }
            if self.rtx_deadline.is_none() {
                self.rtx_deadline = Some(now + self.rto());
            }
            // A SYN's window is whole MSS without the timestamp allowance (no ts_recent
            // yet): 64240 for MSS 1460, as Linux; a SYN-ACK takes the timestamps off.
            let mss = if simultaneous {
                self.mss_for_window()
            } else {
                self.advmss
            };
            let win = initial_rcv_window(self.full_space() as usize, mss, 0) as u16;
            let ack = if simultaneous { self.rcv_nxt.0 } else { 0 };
            if simultaneous {
                self.ack_sent(cx);
            }
            return Some(OutSeg {
                seq: seq.0,
                ack,
                flags,
                win,
                options,
                len,
            });
        }

        if self
            .flight
            .if_any()
            .is_some_and(|f| std::mem::take(&mut f.tlp_now))
        {
            if self.sendable_as(true).is_some() {
                // The probe is new data: the normal path below sends it.
                self.flight.tlp_high_seq = Some(SeqNum(0)); // set to SND.NXT once it is out
                self.flight.tlp_retrans = false;
            } else if let Some((start, len, fin)) = self.flight.tail {
                let start = start.max(self.snd_una);
                let data_end = self.snd_una + self.syn_in_flight() as u32 + self.snd.len() as u32;
                let len = len.min((data_end - start).max(0) as u32);
                let off = (start - self.snd_una) as usize - self.syn_in_flight() as usize;
                self.snd.copy_range(off, len as usize, payload);
                if fin && self.fin_sent && !self.fin_acked() {
                    flags |= TcpFlags::FIN;
                }
                if len > 0 || flags.fin() {
                    if len > 0 && off + len as usize == self.snd.len() {
                        flags |= TcpFlags::PSH;
                    }
                    // __tcp_retransmit_skb: counted, no RTT sample from it, but not in
                    // retrans_out nor in what undo waits on.
                    self.count_retransmit(cx, start + len + flags.fin() as u32);
                    self.flight.tlp_high_seq = Some(self.snd_nxt);
                    self.flight.tlp_retrans = true;
                    self.rtt_probe = None;
                    let out = self.finish(cx, start, flags, len, options);
                    let end = start + len + flags.fin() as u32;
                    self.model_sent(now, start, end, len, true, false);
                    return Some(out);
                }
            }
        }

        // tcp_pacing_check (BBR): no data before its departure time — except the
        // timeout's retransmission of the head (`tcp_retransmit_skb` is not paced).
        let rto_head = self.flight.loss.is_some() && self.snd_nxt == self.snd_una;
        if !rto_head && self.model_paced(now) {
            return self.control_segment(cx, flags, options);
        }
        let idle = self.snd_una == self.snd_max;

        let hole = if self.flight.rtx_at.is_none() {
            self.hole_to_resend()
        } else {
            None
        };
        let rtx_at = self.flight.if_any().and_then(|f| f.rtx_at.take());
        if let Some(at) = rtx_at.or(hole).filter(|_| self.snd_una < self.snd_max) {
            // Fast retransmit: the head, or in SACK recovery a hole, up to the next range
            // the peer already has.
            let start = at.max(self.snd_una);
            let data_end = self.snd_una + self.syn_in_flight() as u32 + self.snd.len() as u32;
            let stop = self
                .flight
                .sacked
                .iter()
                .map(|&(l, _)| l)
                .find(|&l| l > start)
                .unwrap_or(data_end)
                .min(data_end);
            let len = ((stop - start).max(0) as u32).min(self.mss as u32);
            let off = (start - self.snd_una) as usize - self.syn_in_flight() as usize;
            seq = start;
            self.snd.copy_range(off, len as usize, payload);
            if self.fin_sent && start + len == data_end && self.fin_seq() < self.snd_max {
                flags |= TcpFlags::FIN;
            }
            if len > 0 || flags.fin() {
                let end = seq + len + flags.fin() as u32;
                self.note_retransmit(cx, end);
                self.flight.high_rxt = Some(self.flight.high_rxt.map_or(end, |h| h.max(end)));
                if self.in_cwnd_reduction() {
                    self.flight.prr_out = self.flight.prr_out.saturating_add(len.max(1));
                    if self.neg.sack {
                        // A lost retransmission resent: its entry is done.
                        if let Some(e) = self.flight.lost_again.first_mut() {
                            if e.0 <= seq && seq < e.1 {
                                e.0 = end;
                                if e.0 >= e.1 {
                                    self.flight.lost_again.remove(0);
                                }
                            }
                        }
                        if self.flight.rtx_log.len() < self.scoreboard_max() && len > 0 {
                            self.flight
                                .rtx_log
                                .push((seq, seq + len, now, self.snd_max));
                        }
                    }
                }
                let psh_before = self.flight.psh_ends.contains(&(seq + len));
                if len > 0 && (off + len as usize == self.snd.len() || psh_before) {
                    flags |= TcpFlags::PSH;
                }
                self.rtt_probe = None;
                let out = self.finish(cx, seq, flags, len, options);
                self.model_sent(now, seq, end, len, true, false);
                return Some(out);
            }
        }

        self.restart_after_idle(cx);
        // tcp_timeout_mark_lost: after an RTO only what the peer has not SACKed is sent
        // again (the scoreboard survives the timeout unless the peer reneged).
        if self.flight.loss.is_some_and(|high| self.snd_nxt >= high) {
            // What went out after the timeout (F-RTO's new data) was not presumed lost.
            self.snd_nxt = self.snd_max;
            seq = self.snd_nxt;
        }
        if self.snd_nxt < self.snd_max {
            // Not past the data: a FIN the peer SACKed is still ours to resend in order.
            let data_end = self.snd_una + self.syn_in_flight() as u32 + self.snd.len() as u32;
            for &(l, r) in &self.flight.sacked {
                if l <= self.snd_nxt && self.snd_nxt < r {
                    self.snd_nxt = r.min(data_end);
                }
            }
            seq = self.snd_nxt;
        }
        let probe = self.flight.tlp_high_seq == Some(SeqNum(0));
        let refused = cx.link_blocked && self.sendable_as(probe).is_some();
        if refused {
            // tcp_write_xmit: the qdisc refused the segment. It is not sent; the probe
            // timer (armed by the stack's refresh) tries again. An ACK due still goes
            // (below): the driver drops it if it must.
            self.local_congested = true;
            if probe {
                self.flight.tlp_high_seq = None;
            }
            self.enter_cwr();
        }
        if let Some((mut len, mut fin)) = self.sendable_as(probe).filter(|_| !refused) {
            if self.snd_nxt < self.snd_max {
                let next = self
                    .flight
                    .sacked
                    .iter()
                    .map(|&(l, _)| l)
                    .find(|&l| l > self.snd_nxt);
                if let Some(l) = next {
                    let gap = (l - self.snd_nxt) as u32;
                    if len > gap {
                        len = gap;
                        fin = false;
                    }
                }
            }
            let resend = self
                .fo
                .if_any()
                .map_or(0, |f| std::mem::take(&mut f.resend));
            if resend > 0 && len > resend {
                len = resend;
                fin = false;
            }
            // Buffer offset of SND.NXT: a SYN still unacknowledged (a Fast Open child
            // sending before the handshake ends) takes sequence space, not buffer.
            let off = (self.snd_nxt - self.snd_una) as usize - self.syn_in_flight() as usize;
            self.snd.copy_range(off, len as usize, payload);
            let retransmission = self.snd_nxt < self.snd_max;
            if self.in_cwnd_reduction() {
                self.flight.prr_out = self.flight.prr_out.saturating_add(len.max(1));
            }
            if fin {
                flags |= TcpFlags::FIN;
                self.fin_sent = true;
            }
            if len > 0 && (off + len as usize == self.snd.len() || resend == len) {
                flags |= TcpFlags::PSH;
                if self.flight.psh_ends.len() < 16 {
                    self.flight.psh_ends.push(self.snd_nxt + len);
                }
            }
            self.snd_nxt = self.snd_nxt + len + fin as u32;
            // Minshall's small-segment mark moves with new data only (tcp_minshall_update
            // runs in tcp_write_xmit, not on retransmission).
            if len < self.mss as u32 && !retransmission {
                self.snd_sml = self.snd_nxt;
            }
            if retransmission {
                self.note_retransmit(cx, self.snd_nxt);
            } else {
                if self.rtt_probe.is_none() {
                    self.rtt_probe = Some((seq, now));
                }
                // Only once the window is large enough for HyStart to look (16 segments):
                // a short exchange allocates nothing for it, and its RTT samples come
                // from the one timed segment per round trip, as before.
                let big = self.cwnd >= 16 * u32::from(self.mss.max(1));
                if (big || !self.flight.sent_times.is_empty())
                    && self.flight.sent_times.len() < MAX_SENT_TIMES
                {
                    self.flight.sent_times.push_back((self.snd_nxt, now));
                }
                self.flight.tail = Some((seq, len, fin));
            }
            self.snd_max = self.snd_max.max(self.snd_nxt);
            if self.flight.tlp_high_seq == Some(SeqNum(0)) {
                self.flight.tlp_high_seq = Some(self.snd_nxt); // this segment was the probe
            }
            if !retransmission {
                self.cwnd_validate();
            }
            if self.rtx_deadline.is_none() {
                self.rtx_deadline = Some(now + self.rto());
            }
            // tcp_write_xmit: after new data, one loss probe per tail episode.
            if !retransmission && self.flight.tlp_high_seq.is_none() {
                self.schedule_loss_probe(cx, false);
            }
            self.probe_deadline = None;
            let mut out = self.finish(cx, seq, flags, len, options);
            if self.model_sent(now, seq, self.snd_nxt, len, retransmission, idle)
                && !out.flags.contains(TcpFlags::PSH)
            {
                // The last segment of a multi-segment skb (BBR's paced skbs).
                out.flags |= TcpFlags::PSH;
                if self.flight.psh_ends.len() < 16 {
                    self.flight.psh_ends.push(self.snd_nxt);
                }
            }
            return Some(out);
        }
        self.control_segment(cx, flags, options)
    }

    /// A segment without data: a window probe or keepalive, or an ACK that is due.
    fn control_segment(
        &mut self,
        cx: &mut Ctx<'_>,
        flags: TcpFlags,
        options: TcpOptions,
    ) -> Option<OutSeg> {
        if self.probe_now {
            // Zero-window probe or keepalive: an old sequence number the peer must ACK.
            self.probe_now = false;
            let seq = self.snd_una - 1;
            return Some(self.finish(cx, seq, flags, 0, options));
        }
        if self.ack_now {
            return Some(self.finish(cx, self.snd_nxt, flags, 0, options));
        }
        None
    }

    /// Buffers emptied by a read or an ACK keep their memory while data flows, and so
    /// does the flight record; a pause of a second gives it back, so idle connections
    /// cost no buffer or flight memory (DESIGN.md 3) and a busy one allocates nothing
    /// per segment. An active Fast Open's record goes as soon as the handshake is over
    /// and its SYN data is resent.
    pub(crate) fn schedule_trim(&mut self, now: Instant) {
        if self.fo.allocated() && self.state != TcpState::SynSent {
            self.fo.release_if_at_rest(true);
        }
        let flight_rests = self.flight.allocated() && self.snd_una == self.snd_max;
        if self.trim_deadline.is_none()
            && (self.rcv.idle_memory() || self.snd.idle_memory() || flight_rests)
        {
            self.trim_deadline = Some(now + BUFFER_TRIM_DELAY);
        }
    }

    /// `tcp_check_probe_timer()`: data waits, nothing is in flight, and the window
    /// will not let it go: probe the window until it opens.
    pub(crate) fn check_probe_timer(&mut self, now: Instant, cfg: &Config) {
        if self.probe_deadline.is_none()
            && self.rtx_deadline.is_none()
            && self.snd_nxt == self.snd_una
            && matches!(
                self.state,
                TcpState::Established
                    | TcpState::CloseWait
                    | TcpState::FinWait1
                    | TcpState::LastAck
                    | TcpState::Closing
            )
            && self.has_unsent()
            && (!self.can_send_data() || self.local_congested)
        {
            self.probe_deadline = Some(now + self.probe_interval(cfg));
        }
    }

    fn ack_sent(&mut self, cx: &mut Ctx<'_>) {
        // tcp_event_ack_sent: this ACK reports the SACKs held back.
        if let Some(f) = self.flight.if_any() {
            if f.comp_acks > 0 {
                cx.add(Counter::TcpAckCompressed, u64::from(f.comp_acks));
                f.comp_acks = 0;
                f.comp_deadline = None;
            }
        }
        self.ack_now = false;
        self.delack_deadline = None;
        self.unacked_bytes = 0;
        self.last_ack_sent = self.rcv_nxt;
    }

    fn finish(
        &mut self,
        cx: &mut Ctx<'_>,
        seq: SeqNum,
        flags: TcpFlags,
        len: u32,
        mut options: TcpOptions,
    ) -> OutSeg {
        if self.neg.ts {
            options.timestamps = Some(Timestamps {
                val: ts_now(cx.now, self.ts_off),
                ecr: self.ts_recent,
            });
        }
        // A D-SACK goes first, in one ACK only (`tcp_options_write` clears it).
        let mut n = 0;
        let dsack = self.flight.if_any().and_then(|f| f.dsack.take());
        if let Some((l, r)) = dsack.filter(|_| self.neg.sack) {
            options.sack_blocks[0] = SackBlock {
                left: l.0,
                right: r.0,
            };
            n = 1;
            options.sack_len = 1;
        }
        if self.neg.sack && self.rcv.has_ooo() {
            let max = if self.neg.ts { 3 } else { 4 } - n;
            let ranges = self.rcv.ooo_ranges();
            // The most recently grown ranges first; then, if room is left, the others
            // from the lowest (Linux reports only its remembered blocks; with at most
            // four ranges the set is the same).
            let (mut picked, mut k) = ([0usize; 4], 0);
            for &x in &self.flight.sack_recent {
                if x < self.rcv_nxt || k >= max {
                    continue;
                }
                let o = (x - self.rcv_nxt) as usize;
                let i = ranges.partition_point(|&(_, e)| e <= o);
                if ranges.get(i).is_some_and(|&(s, _)| s <= o) && !picked[..k].contains(&i) {
                    picked[k] = i;
                    k += 1;
                }
            }
            for i in 0..ranges.len() {
                if k >= max {
                    break;
                }
                if !picked[..k].contains(&i) {
                    picked[k] = i;
                    k += 1;
                }
            }
            for &i in &picked[..k] {
                let (s, e) = ranges[i];
                options.sack_blocks[n] = SackBlock {
                    left: (self.rcv_nxt + s as u32).0,
                    right: (self.rcv_nxt + e as u32).0,
                };
                n += 1;
            }
            options.sack_len = n as u8;
        }
        let (win_bytes, pressed) = self.select_window();
        if pressed {
            // A buffer half full ends quick-ACK mode (`__tcp_select_window`).
            self.quick = 0;
        }
        self.rcv_adv = self.rcv_nxt + win_bytes;
        let win = (win_bytes >> self.rcv_wscale()).min(65535) as u16;
        if len > 0 {
            if std::mem::take(&mut self.synack_ack_pending) {
                // The SYN-ACK's ACK rode on data: Linux saved that ACK because a writer
                // was waiting, entering quick-ACK mode (ato = 40 ms).
                self.ato_on = true;
            }
            // tcp_event_data_sent: a reply within ato of what we received: ping-pong.
            let ato = if self.ato_on { ATO } else { Duration::ZERO };
            if cx.now.saturating_duration_since(self.lrcvtime) < ato {
                self.pingpong = true;
            }
        }
        self.synack_ack_pending = false;
        self.ack_sent(cx);
        self.stats.segs_out += 1;
        if len > 0 {
            self.stats.data_segs_out += 1;
            self.stats.bytes_sent += u64::from(len);
            self.stats.last_data_sent = Some(cx.now);
        }
        OutSeg {
            seq: seq.0,
            ack: self.rcv_nxt.0,
            flags,
            win,
            options,
            len,
        }
    }

    pub(crate) fn created_by_connect(&self) -> bool {
        self.active
    }

    /// After a read that copied data (`tcp_cleanup_rbuf`): the ACK of every second
    /// segment that arrival left to the reader (see `ack_on_arrival`), or a window that
    /// at least doubled.
    pub(crate) fn window_update_due(&mut self) -> bool {
        if !matches!(
            self.state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        ) {
            return false;
        }
        if self.needs_ack() && self.unacked_bytes > self.rcv_mss {
            self.ack_now = true;
            return true;
        }
        let now_wnd = (self.rcv_adv - self.rcv_nxt).max(0) as u32;
        if 2 * now_wnd <= self.window_clamp() {
            let new = self.free_window();
            if new > 0 && new >= 2 * now_wnd {
                self.ack_now = true;
                return true;
            }
        }
        false
    }

    /// setsockopt on a live connection.
    pub(crate) fn apply_opts(&mut self, cx: &mut Ctx<'_>, old: &SockOpts) {
        if (self.opts.keepalive != old.keepalive
            || (self.opts.keepalive && self.opts.keepidle != old.keepidle))
            && matches!(
                self.state,
                TcpState::Established
                    | TcpState::CloseWait
                    | TcpState::FinWait1
                    | TcpState::FinWait2
            )
        {
            self.arm_keepalive(cx);
        }
        if self.opts.rcvbuf != old.rcvbuf {
            self.rcv.set_capacity(self.opts.rcvbuf(cx.cfg) as usize);
        }
        if let Some(a) = self.opts.congestion.filter(|a| Some(*a) != old.congestion) {
            self.cc.set_algorithm(a);
            // tcp_reinit_congestion_control: a connection past its handshake starts the
            // new algorithm now.
            if !matches!(
                self.state,
                TcpState::SynSent | TcpState::SynRecv | TcpState::Closed
            ) {
                self.model = None;
                self.model_init(cx.now);
            }
        }
        if self.opts.sndbuf != old.sndbuf {
            self.snd.set_limit(self.opts.sndbuf(cx.cfg) as usize);
        }
        if self.opts.maxseg != old.maxseg && self.state == TcpState::SynSent {
            self.advmss = advmss(cx.cfg, self.local(), self.opts.maxseg);
        }
    }

    /// `ss`: Recv-Q and Send-Q.
    /// TCP_INFO as Linux's `tcp_get_info()` fills it, for what this stack models.
    pub(crate) fn tcp_info(&self, now: Instant, cfg: &Config) -> crate::TcpInfo {
        use crate::api::tcpi_opt;
        let (_, delivery_rate, delivery_rate_app_limited) = self.model_rates();
        let mss = u32::from(self.mss.max(1));
        let ago = |t: Option<Instant>| {
            t.map(|t| now.saturating_duration_since(t).as_millis() as u32)
                .unwrap_or(0)
        };
        let mut options = 0;
        if self.neg.ts {
            options |= tcpi_opt::TIMESTAMPS;
        }
        if self.neg.sack {
            options |= tcpi_opt::SACK;
        }
        if self.neg.wscale.is_some() {
            options |= tcpi_opt::WSCALE;
        }
        if self.syn_data_acked {
            options |= tcpi_opt::SYN_DATA;
        }
        let flight = self.in_flight();
        crate::TcpInfo {
            state: self.state.linux_code(),
            ca_state: self.ca_state(),
            retransmits: self.retransmits.min(255) as u8,
            probes: self.probes_out.min(255) as u8,
            backoff: self.backoff.min(255) as u8,
            options,
            snd_wscale: self.snd_wscale(),
            rcv_wscale: self.rcv_wscale(),
            rto: self.rto().as_micros() as u32,
            ato: if self.state == TcpState::Established {
                ATO.as_micros() as u32
            } else {
                0
            },
            snd_mss: mss,
            rcv_mss: if self.rcv_mss == 0 {
                u32::from(MSS_DEFAULT).min(mss)
            } else {
                self.rcv_mss
            },
            unacked: flight.div_ceil(mss),
            last_data_sent: ago(self.stats.last_data_sent),
            last_data_recv: ago(self.stats.last_data_recv),
            last_ack_recv: ago(self.stats.last_ack_recv),
            pmtu: cfg.mtu,
            rcv_ssthresh: self.rcv_ssthresh,
            rtt: self.srtt_us,
            rttvar: self.rttvar_us,
            snd_ssthresh: if self.ssthresh == u32::MAX {
                0x7fff_ffff // TCP_INFINITE_SSTHRESH
            } else {
                self.ssthresh / mss
            },
            snd_cwnd: self.cwnd / mss,
            // Linux takes the timestamp option off tp->advmss once it is negotiated.
            advmss: u32::from(self.mss_for_window()),
            reordering: u32::from(self.reordering),
            rcv_rtt: self.autotune.rtt_us(),
            rcv_space: self.autotune.space(),
            total_retrans: self.total_retrans,
            congestion: self.cc.algorithm.name(),
            pacing_rate: self.pacing_rate(cfg),
            retrans: self.flight.retrans_out,
            bytes_acked: self.stats.bytes_acked,
            bytes_received: self.stats.bytes_received,
            segs_out: self.stats.segs_out,
            segs_in: self.stats.segs_in,
            notsent_bytes: self.unsent() as u32,
            data_segs_in: self.stats.data_segs_in,
            data_segs_out: self.stats.data_segs_out,
            delivery_rate,
            delivery_rate_app_limited,
            delivered: self
                .model
                .as_deref()
                .map_or(self.stats.delivered, |m| m.rate.delivered),
            bytes_sent: self.stats.bytes_sent,
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_window_bytes(),
            bbr: self.model_info(now),
        }
    }

    /// `sk_pacing_rate`: BBR's; for the others `tcp_update_pacing_rate`'s — mss × cwnd
    /// (or what is out, if more) per smoothed RTT, times tcp_pacing_ss_ratio (200%)
    /// while cwnd is below half the threshold, else tcp_pacing_ca_ratio (120%). No
    /// RTT yet: ~0 (unlimited), as Linux's initial value.
    fn pacing_rate(&self, cfg: &Config) -> u64 {
        if self.model.is_some() {
            return self.model_rates().0;
        }
        if self.srtt_us == 0 {
            return u64::MAX;
        }
        let mss = u64::from(self.mss.max(1));
        let segs = u64::from(self.cwnd / mss as u32)
            .max(u64::from((self.snd_max - self.snd_una).max(0) as u32) / mss);
        let ratio = if self.cwnd < self.ssthresh / 2 {
            cfg.later.tcp_pacing_ss_ratio
        } else {
            cfg.later.tcp_pacing_ca_ratio
        };
        mss * segs * 1_000_000 / 100 * u64::from(ratio) / u64::from(self.srtt_us)
    }

    pub(crate) fn queues(&self) -> (u32, u32) {
        (self.rcv.len() as u32, self.snd.len() as u32)
    }
}

/// A segment a connection wants sent; the payload is in the stack's scratch buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutSeg {
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: TcpFlags,
    pub(crate) win: u16,
    pub(crate) options: TcpOptions,
    pub(crate) len: u32,
}

/// Our MSS option: the interface MTU minus IP and TCP headers, capped by TCP_MAXSEG.
pub(crate) fn advmss(cfg: &Config, local: SocketAddr, user: Option<u16>) -> u16 {
    let hdr = if local.is_ipv4() { 40 } else { 60 };
    let mss = cfg.mtu.saturating_sub(hdr).clamp(88, 65495) as u16;
    match user {
        Some(u) => mss.min(u.max(88)),
        None => mss,
    }
}

/// Window-scale shift from the largest receive buffer we could have
/// (`tcp_select_initial_window`: max(tcp_rmem[2], rmem_max), ilog2 − 15).
pub(crate) fn our_wscale(cfg: &Config, opts: &SockOpts) -> u8 {
    let mut space = cfg.tcp_rmem[2].max(cfg.rmem_max).max(1);
    if let Some(locked) = opts.rcvbuf {
        // SO_RCVBUF locks the buffer: the window clamp is its window share (half, as
        // Linux's default scaling_ratio), and the scale is chosen for that
        // (tcp_openreq_init_rwin, tcp_select_initial_window).
        space = space.min((locked.get() / 2).max(1));
    }
    (space.ilog2().saturating_sub(15)).min(14) as u8
}

/// Linux's default scaling ratio (`TCP_DEFAULT_SCALING_RATIO`): half of a buffer's
/// bytes are payload.
pub(crate) const DEFAULT_SCALING_RATIO: u8 = 128;

/// The payload a receive buffer of `rcvbuf` bytes holds, all the window it may offer
/// (`tcp_win_from_space`): Linux charges the buffer with each segment's true size, so only
/// `ratio`/256 of it is payload.
pub(crate) fn win_from_space(rcvbuf: usize, ratio: u8) -> usize {
    ((rcvbuf as u64 * u64::from(ratio)) >> 8) as usize
}

/// `ALIGN(x, 1 << scale)`: rounded up to the window scale's unit.
fn align_up(x: u32, scale: u8) -> u32 {
    let mask = (1u32 << scale) - 1;
    x.saturating_add(mask) & !mask
}

/// A new connection's window share of `rcvbuf`, at the default ratio.
pub(crate) fn window_share(rcvbuf: u32) -> usize {
    win_from_space(rcvbuf as usize, DEFAULT_SCALING_RATIO)
}

/// The memory Linux charges for a received segment of `len` payload bytes (`truesize`):
/// the packet (40 bytes of headers), NET_SKB_PAD and `skb_shared_info` in a power-of-two
/// kmalloc block, plus the `sk_buff` — 2,304 bytes for anything up to a 1500-byte MTU;
/// a larger one goes in page fragments. Linux 6.18 over a TUN device measured 0.4336
/// (1000-byte segments) and 0.625 (1448): exactly these sizes
/// (`tools/kernel-check/rcvwindow.py`, `ackpat.py`). A NIC driver's sizes differ a little.
fn truesize(len: u32) -> u32 {
    const SKB: u32 = 256;
    let head = len + 40 + 64 + 320;
    if head <= 4096 {
        head.next_power_of_two() + SKB
    } else {
        (len + 40).next_multiple_of(4096) + 320 + SKB
    }
}

/// The initial receive window (`tcp_select_initial_window`): the whole window share of
/// the buffer, in whole segments. Linux 6.x does not hold it to 64 KiB (a SYN's field
/// does, unscaled: a SYN's window is this with `wscale` 0).
pub(crate) fn initial_rcv_window(share: usize, mss: u16, wscale: u8) -> u32 {
    let space = (share as u32).min(65535 << wscale);
    let mss = mss.max(1) as u32;
    if space > mss {
        space / mss * mss
    } else {
        space
    }
}

pub(crate) fn seg_info(src: SocketAddr, dst: SocketAddr, seg: &TcpSegment<'_>) -> SegmentInfo {
    SegmentInfo {
        src,
        dst,
        flags: seg.flags,
        seq: seg.seq,
        ack: seg.ack,
        len: seg.payload.len() as u32,
        win: seg.window,
        options: seg.options,
    }
}
/// The TCB's size is the memory every idle connection costs (BENCHMARKS.md): a new field
/// must find its room, or say in this budget why it needs more.
#[cfg(all(test, target_pointer_width = "64"))]
mod size_budget {
    #[test]
    fn an_idle_connection_costs_its_budget() {
        use std::mem::size_of;
        // 712 until receive-buffer auto-tuning (2026-11-25) added its 40 bytes: Linux keeps
        // the same state (`rcvq_space`, `rcv_rtt_est`) in every tcp_sock, and a boxed
        // copy would cost as much on every connection that ever received data. Then 8
        // for the pointer to BBR's model (None for CUBIC and Reno; Linux keeps 104 bytes
        // of algorithm state, ICSK_CA_PRIV_SIZE, inline in every socket).
        assert!(
            size_of::<super::Conn>() <= 760,
            "{}",
            size_of::<super::Conn>()
        );
        assert_eq!(size_of::<crate::buffer::SendBuf>(), 40);
        assert_eq!(size_of::<crate::buffer::RecvBuf>(), 40);
        assert_eq!(size_of::<crate::flight::LazyFlight>(), 8);
    }
}
