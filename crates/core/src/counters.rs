//! The stack's MIB counters under Linux's `nstat` names.
use std::fmt;

macro_rules! counters {
    ($($variant:ident => $name:literal,)*) => {
        /// One counter; `name()` is its `nstat` name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Counter { $($variant,)* }

        impl Counter {
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)*];
            pub fn name(self) -> &'static str {
                match self { $(Counter::$variant => $name,)* }
            }
            /// By nstat name, or without its `TcpExt`/`Tcp` prefix.
            pub fn from_name(name: &str) -> Option<Counter> {
                Self::ALL.iter().copied().find(|c| {
                    let n = c.name();
                    n == name
                        || n.strip_prefix("TcpExt") == Some(name)
                        || n.strip_prefix("Tcp") == Some(name)
                })
            }
        }
    };
}

counters! {
    ActiveOpens => "TcpActiveOpens",
    PassiveOpens => "TcpPassiveOpens",
    AttemptFails => "TcpAttemptFails",
    EstabResets => "TcpEstabResets",
    CurrEstab => "TcpCurrEstab",
    InSegs => "TcpInSegs",
    OutSegs => "TcpOutSegs",
    RetransSegs => "TcpRetransSegs",
    InErrs => "TcpInErrs",
    OutRsts => "TcpOutRsts",
    InCsumErrors => "TcpInCsumErrors",
    IpInHdrErrors => "IpInHdrErrors",
    IpInAddrErrors => "IpInAddrErrors",
    IpInDiscards => "IpInDiscards",
    IpExtInTruncatedPkts => "IpExtInTruncatedPkts",
    IpInUnknownProtos => "IpInUnknownProtos",
    IpReasmFails => "IpReasmFails",
    IpExtInCsumErrors => "IpExtInCsumErrors",
    SyncookiesSent => "TcpExtSyncookiesSent",
    SyncookiesRecv => "TcpExtSyncookiesRecv",
    SyncookiesFailed => "TcpExtSyncookiesFailed",
    EmbryonicRsts => "TcpExtEmbryonicRsts",
    PruneCalled => "TcpExtPruneCalled",
    OfoPruned => "TcpExtOfoPruned",
    OutOfWindowIcmps => "TcpExtOutOfWindowIcmps",
    TwRecycled => "TcpExtTWRecycled",
    TimeWaited => "TcpExtTW",
    TwKilled => "TcpExtTWKilled",
    PawsActive => "TcpExtPAWSActive",
    PawsEstab => "TcpExtPAWSEstab",
    DelayedAcks => "TcpExtDelayedACKs",
    ListenOverflows => "TcpExtListenOverflows",
    ListenDrops => "TcpExtListenDrops",
    TcpHpHits => "TcpExtTCPHPHits",
    TcpPureAcks => "TcpExtTCPPureAcks",
    TcpLossProbes => "TcpExtTCPLossProbes",
    TcpTimeouts => "TcpExtTCPTimeouts",
    TcpFastRetrans => "TcpExtTCPFastRetrans",
    TcpRenoRecovery => "TcpExtTCPRenoRecovery",
    TcpSackRecovery => "TcpExtTCPSackRecovery",
    TcpDsackRecv => "TcpExtTCPDSACKRecv",
    TcpSlowStartRetrans => "TcpExtTCPSlowStartRetrans",
    TcpOfoQueue => "TcpExtTCPOFOQueue",
    TcpAckCompressed => "TcpExtTCPAckCompressed",
    TcpOfoDrop => "TcpExtTCPOFODrop",
    TcpRcvQDrop => "TcpExtTCPRcvQDrop",
    TcpAbortOnData => "TcpExtTCPAbortOnData",
    TcpAbortOnClose => "TcpExtTCPAbortOnClose",
    TcpAbortOnMemory => "TcpExtTCPAbortOnMemory",
    TcpAbortOnTimeout => "TcpExtTCPAbortOnTimeout",
    TcpAbortOnLinger => "TcpExtTCPAbortOnLinger",
    TcpAbortFailed => "TcpExtTCPAbortFailed",
    TcpSynRetrans => "TcpExtTCPSynRetrans",
    TcpReqQFullDoCookies => "TcpExtTCPReqQFullDoCookies",
    TcpReqQFullDrop => "TcpExtTCPReqQFullDrop",
    TcpTimeWaitOverflow => "TcpExtTCPTimeWaitOverflow",
    TcpChallengeAck => "TcpExtTCPChallengeACK",
    TcpSynChallenge => "TcpExtTCPSYNChallenge",
    TcpOrphanOverflow => "TcpExtTCPOrphanOverflow",
    TcpKeepAlive => "TcpExtTCPKeepAlive",
    TcpFastOpenActive => "TcpExtTCPFastOpenActive",
    TcpFastOpenActiveFail => "TcpExtTCPFastOpenActiveFail",
    TcpFastOpenPassive => "TcpExtTCPFastOpenPassive",
    TcpFastOpenPassiveFail => "TcpExtTCPFastOpenPassiveFail",
    TcpFastOpenListenOverflow => "TcpExtTCPFastOpenListenOverflow",
    TcpFastOpenCookieReqd => "TcpExtTCPFastOpenCookieReqd",
    TcpFastOpenPassiveAltKey => "TcpExtTCPFastOpenPassiveAltKey",
    TcpAckSkippedSeq => "TcpExtTCPACKSkippedSeq",
    TcpAckSkippedPaws => "TcpExtTCPACKSkippedPAWS",
    TcpAckSkippedSynRecv => "TcpExtTCPACKSkippedSynRecv",
    TcpAckSkippedFinWait2 => "TcpExtTCPACKSkippedFinWait2",
    TcpAckSkippedTimeWait => "TcpExtTCPACKSkippedTimeWait",
    TcpAckSkippedChallenge => "TcpExtTCPACKSkippedChallenge",
    TcpBacklogDrop => "TcpExtTCPBacklogDrop",
    TcpZeroWindowDrop => "TcpExtTCPZeroWindowDrop",
    TcpWinProbe => "TcpExtTCPWinProbe",
    TcpDsackOldSent => "TcpExtTCPDSACKOldSent",
    TcpDsackOfoSent => "TcpExtTCPDSACKOfoSent",
    TcpLostRetransmit => "TcpExtTCPLostRetransmit",
    TcpHystartTrainDetect => "TcpExtTCPHystartTrainDetect",
    TcpHystartTrainCwnd => "TcpExtTCPHystartTrainCwnd",
    TcpHystartDelayDetect => "TcpExtTCPHystartDelayDetect",
    TcpHystartDelayCwnd => "TcpExtTCPHystartDelayCwnd",
    TcpDsackOfoRecv => "TcpExtTCPDSACKOfoRecv",
    TcpDsackIgnoredDubious => "TcpExtTCPDSACKIgnoredDubious",
    TcpDsackRecvSegs => "TcpExtTCPDSACKRecvSegs",
    TcpSpuriousRtos => "TcpExtTCPSpuriousRTOs",
    TcpLossUndo => "TcpExtTCPLossUndo",
    TcpFullUndo => "TcpExtTCPFullUndo",
    TcpPartialUndo => "TcpExtTCPPartialUndo",
    TcpDsackUndo => "TcpExtTCPDSACKUndo",
    TcpSackReorder => "TcpExtTCPSACKReorder",
    TcpTsReorder => "TcpExtTCPTSReorder",
    TcpLossProbeRecovery => "TcpExtTCPLossProbeRecovery",
    TcpSackRecoveryFail => "TcpExtTCPSackRecoveryFail",
    TcpRenoRecoveryFail => "TcpExtTCPRenoRecoveryFail",
    TcpLossFailures => "TcpExtTCPLossFailures",
    TcpSackFailures => "TcpExtTCPSackFailures",
    TcpRenoFailures => "TcpExtTCPRenoFailures",
}

/// All counters of one stack.
#[derive(Clone, PartialEq, Eq)]
pub struct Counters {
    vals: Vec<u64>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            vals: vec![0; Counter::ALL.len()],
        }
    }
}

impl Counters {
    pub fn incr(&mut self, c: Counter) {
        self.add(c, 1)
    }
    pub fn add(&mut self, c: Counter, n: u64) {
        self.vals[c as usize] = self.vals[c as usize].wrapping_add(n);
    }
    pub fn decr(&mut self, c: Counter) {
        self.vals[c as usize] = self.vals[c as usize].saturating_sub(1);
    }
    pub fn get(&self, c: Counter) -> u64 {
        self.vals[c as usize]
    }
    /// Look a counter up by its nstat name (`TcpExtListenOverflows`) or without the
    /// `Tcp`/`TcpExt` prefix (`ListenOverflows`).
    pub fn by_name(&self, name: &str) -> Option<u64> {
        Counter::from_name(name).map(|c| self.get(c))
    }
    /// Every counter with its name, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Counter::ALL.iter().map(move |&c| (c.name(), self.get(c)))
    }
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().filter(|(_, v)| *v != 0))
            .finish()
    }
}
