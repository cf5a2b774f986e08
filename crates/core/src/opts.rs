//! Per-socket options. A listener's options are inherited by the children it accepts,
//! as Linux's `sk_clone_lock()` copies them.
use crate::Config;
use std::num::{NonZeroU16, NonZeroU32, NonZeroU8};
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SockOpts {
    pub(crate) reuse_addr: bool,
    /// SO_RCVBUF as stored (already doubled, as Linux does); `None` = tcp_rmem default.
    pub(crate) rcvbuf: Option<NonZeroU32>,
    pub(crate) sndbuf: Option<NonZeroU32>,
    pub(crate) linger: Option<u32>,
    pub(crate) keepalive: bool,
    pub(crate) nodelay: bool,
    pub(crate) maxseg: Option<u16>,
    pub(crate) syncnt: Option<u8>,
    pub(crate) linger2: Option<i32>,
    /// TCP_USER_TIMEOUT, ms (0 = off).
    pub(crate) user_timeout: u32,
    /// TCP_KEEPIDLE / TCP_KEEPINTVL (1..=32767 s) and TCP_KEEPCNT (1..=127): in the
    /// smallest types their ranges allow, since every connection carries its options.
    pub(crate) keepidle: Option<NonZeroU16>,
    pub(crate) keepintvl: Option<NonZeroU16>,
    pub(crate) keepcnt: Option<NonZeroU8>,
    /// TCP_FASTOPEN_CONNECT: connect() defers the SYN to the first write when a cookie
    /// is cached.
    pub(crate) fastopen_connect: bool,
    /// TCP_FASTOPEN_NO_COOKIE: send data in the SYN without a cookie.
    pub(crate) fastopen_no_cookie: bool,
    /// TCP_CONGESTION; `None`: net.ipv4.tcp_congestion_control.
    pub(crate) congestion: Option<crate::cc::Algorithm>,
}

impl SockOpts {
    pub(crate) fn rcvbuf(&self, cfg: &Config) -> u32 {
        self.rcvbuf.map_or(cfg.tcp_rmem[1], NonZeroU32::get)
    }
    pub(crate) fn sndbuf(&self, cfg: &Config) -> u32 {
        self.sndbuf.map_or(cfg.tcp_wmem[1], NonZeroU32::get)
    }
    pub(crate) fn keepidle(&self, cfg: &Config) -> Duration {
        self.keepidle
            .map(|s| Duration::from_secs(s.get().into()))
            .unwrap_or(cfg.tcp_keepalive_time)
    }
    pub(crate) fn keepintvl(&self, cfg: &Config) -> Duration {
        self.keepintvl
            .map(|s| Duration::from_secs(s.get().into()))
            .unwrap_or(cfg.tcp_keepalive_intvl)
    }
    pub(crate) fn keepcnt(&self, cfg: &Config) -> u32 {
        self.keepcnt
            .map_or(cfg.tcp_keepalive_probes, |n| u32::from(n.get()))
    }
    pub(crate) fn syn_retries(&self, cfg: &Config) -> u32 {
        self.syncnt
            .map(u32::from)
            .unwrap_or(cfg.tcp_syn_retries.into())
    }
    /// Orphaned FIN_WAIT_2 lifetime (`tcp_fin_time()` without the RTO floor).
    pub(crate) fn fin_timeout(&self, cfg: &Config) -> Duration {
        match self.linger2 {
            Some(s) if s > 0 => Duration::from_secs(s as u64),
            _ => cfg.tcp_fin_timeout,
        }
    }
}
