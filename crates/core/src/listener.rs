//! Listeners: the SYN queue of compact request records and the accept queue of
//! established children (the document's 半连接队列 and 全连接队列).
use crate::conn::Negotiated;
use crate::opts::SockOpts;
use crate::timers::TimerId;
use crate::{Config, Fd, Instant, Profile};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// A listening socket.
pub(crate) struct Listener {
    pub(crate) fd: Fd,
    pub(crate) local: SocketAddr,
    /// listen()'s backlog as given.
    pub(crate) backlog: i32,
    /// Established children waiting for accept(), oldest first (slab indices of conns).
    pub(crate) accept_q: VecDeque<u32>,
    /// Requests in the SYN queue.
    pub(crate) syn_q: u32,
    /// Requests whose SYN-ACK has not been retransmitted yet ("young").
    pub(crate) young: u32,
    pub(crate) opts: SockOpts,
    /// When a SYN cookie was last sent (`tcp_synq_overflow`): cookie ACKs are checked only
    /// within two minutes of it.
    pub(crate) last_overflow: Option<Instant>,
    pub(crate) fastopen: FastOpenListen,
    /// Fast Open children still in SYN_RECV (`fastopenq.qlen`).
    pub(crate) fastopen_qlen: u32,
}

/// A listener's Fast Open settings (TCP_FASTOPEN, TCP_FASTOPEN_KEY); kept on the socket
/// before listen(), as Linux allows setting them in CLOSE state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FastOpenListen {
    /// `fastopenq.max_qlen`: 0 means Fast Open is off for this listener.
    pub(crate) max_qlen: u32,
    /// The listener's own key (primary, backup), else the system's.
    pub(crate) key: Option<([u8; 16], Option<[u8; 16]>)>,
}

impl Listener {
    /// Accept-queue limit: min(backlog, somaxconn) (`sk_max_ack_backlog`).
    pub(crate) fn max_ack_backlog(&self, cfg: &Config) -> u32 {
        let b = if self.backlog < 0 {
            u32::MAX
        } else {
            self.backlog as u32
        };
        b.min(cfg.somaxconn)
    }

    /// Full when the queue is *longer* than the limit: limit + 1 children fit
    /// (`sk_acceptq_is_full`).
    pub(crate) fn accept_full(&self, cfg: &Config) -> bool {
        self.accept_q.len() as u32 > self.max_ack_backlog(cfg)
    }

    /// SYN-queue bound. Profile `seed`: the document's formula; `linux`: the accept-queue
    /// limit itself (`inet_csk_reqsk_queue_is_full`).
    pub(crate) fn syn_limit(&self, cfg: &Config) -> u32 {
        let acc = self.max_ack_backlog(cfg);
        match cfg.profile {
            Profile::Seed => {
                if cfg.tcp_max_syn_backlog > acc {
                    acc.saturating_mul(2)
                } else {
                    cfg.tcp_max_syn_backlog.saturating_mul(2)
                }
            }
            Profile::Linux => acc,
        }
    }
}

/// A SYN-queue entry: what the SYN told us and what our SYN-ACK said, nothing more
/// (Linux's `request_sock`, not a full socket).
pub(crate) struct Request {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) listener: u32,
    pub(crate) iss: u32,
    pub(crate) irs: u32,
    pub(crate) ts_recent: u32,
    pub(crate) ts_off: u32,
    pub(crate) neg: Negotiated,
    /// Our window in the SYN-ACK, bytes.
    pub(crate) rcv_wnd: u32,
    /// Our MSS option (the listener's TCP_MAXSEG applies).
    pub(crate) advmss: u16,
    /// Put a Fast Open cookie in the (first) SYN-ACK: 0 no, 1 option 34, 2 experimental.
    pub(crate) fastopen_reply: u8,
    /// Timeouts so far (`req->num_timeout`).
    pub(crate) num_timeout: u8,
    /// SYN-ACKs sent again for any reason (`req->num_retrans`).
    pub(crate) num_retrans: u8,
    /// The final ACK came while the accept queue was full.
    pub(crate) acked: bool,
    pub(crate) synack_pending: bool,
    pub(crate) first_synack: Option<Instant>,
    pub(crate) timer: Option<(TimerId, Instant)>,
    /// When the last answer to a duplicate SYN or an out-of-window segment left
    /// (`tcp_rsk(req)->last_oow_ack_time`).
    pub(crate) last_oow_ack: crate::ctx::OowStamp,
}
