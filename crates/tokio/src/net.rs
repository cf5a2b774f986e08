//! [`Net`]: one host's stack, its driver task, and the wakers of the tasks waiting on it.
use crate::device::Device;
use crate::error::stopped;
use crate::precise::Precise;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;
use synack_core::{Config, Fd, Instant, Stack};
use synack_tun::control::Control;
use synack_tun::{os_seed, Tun};
use tokio::sync::Notify;
use tokio::time::Instant as TInstant;

/// How long a driver keeps running after the last handle is gone, so the FINs (or RSTs)
/// of the sockets closed last still go out and are acknowledged. TIME_WAIT and longer
/// orphans do not keep it: the process that made them is finishing anyway.
const LINGER: Duration = Duration::from_secs(1);

/// How often the driver looks at the control socket when one is served (it has no
/// descriptor of its own for the driver to wait on).
const CONTROL_TICK: Duration = Duration::from_millis(50);

/// Which readiness a waiting task needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Data, EOF, an error, or a connection to accept.
    Read,
    /// Room to write, a finished connect, or an error.
    Write,
}

#[derive(Default)]
struct Wakers {
    read: Vec<Waker>,
    write: Vec<Waker>,
}

pub(crate) struct State {
    pub(crate) stack: Stack,
    /// Tasks waiting for a socket, by descriptor (ordered: wake-ups are deterministic).
    wakers: BTreeMap<Fd, Wakers>,
    control: Option<Control>,
    /// False while the link is "unplugged" (`Net::set_link_up`).
    link_up: bool,
    /// Every `Net` handle and socket is gone: the driver lingers, then ends.
    users_gone: bool,
    /// Why the driver ended, once it has.
    pub(crate) stopped: Option<String>,
}

impl State {
    /// Wake `waker` when the socket is ready for `dir`. Called under the same lock as
    /// the call that would have blocked, so the driver cannot slip in between.
    pub(crate) fn register(&mut self, fd: Fd, dir: Dir, waker: &Waker) {
        let w = self.wakers.entry(fd).or_default();
        let list = match dir {
            Dir::Read => &mut w.read,
            Dir::Write => &mut w.write,
        };
        if !list.iter().any(|x| x.will_wake(waker)) {
            list.push(waker.clone());
        }
    }

    /// The socket is closed: its waiters (if any are left) learn it by trying again.
    pub(crate) fn forget(&mut self, fd: Fd) {
        if let Some(w) = self.wakers.remove(&fd) {
            w.read.into_iter().chain(w.write).for_each(Waker::wake);
        }
    }

    /// Wake the tasks whose sockets are now ready (readiness from `Stack::poll`, the
    /// same bits poll(2) would give). A waker is one-shot: it is registered again if the
    /// task's call still would block.
    fn wake_ready(&mut self) {
        let stack = &self.stack;
        self.wakers.retain(|&fd, w| {
            let (read, write) = match stack.poll(fd) {
                Ok(r) => (
                    r.readable || r.error || r.hup,
                    r.writable || r.error || r.hup,
                ),
                Err(_) => (true, true),
            };
            if read {
                w.read.drain(..).for_each(Waker::wake);
            }
            if write {
                w.write.drain(..).for_each(Waker::wake);
            }
            !(w.read.is_empty() && w.write.is_empty())
        });
    }

    fn wake_all(&mut self) {
        for (_, w) in std::mem::take(&mut self.wakers) {
            w.read.into_iter().chain(w.write).for_each(Waker::wake);
        }
    }

    /// An error for a caller about to wait, if the driver is gone.
    pub(crate) fn check_running(&self) -> io::Result<()> {
        match &self.stopped {
            Some(why) => Err(stopped(why)),
            None => Ok(()),
        }
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the driver: a socket call changed something that may need sending.
    notify: Notify,
    /// The stack's time zero. tokio's clock, so a runtime with paused time
    /// (`start_paused`) runs the stack's timers in virtual time too.
    epoch: TInstant,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the stack as it was between
        // two calls (each call completes or does nothing): carry on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now(&self) -> Instant {
        let us = TInstant::now()
            .saturating_duration_since(self.epoch)
            .as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// Ask the driver for a round: send what the last call queued, re-check readiness.
    pub(crate) fn kick(&self) {
        self.notify.notify_one();
    }

    fn to_tokio(&self, t: Instant) -> Option<TInstant> {
        self.epoch.checked_add(Duration::from_micros(t.as_micros()))
    }
}

/// Dropped when the last `Net` clone (sockets hold one) is gone: tells the driver.
struct User {
    shared: Arc<Shared>,
}

impl Drop for User {
    fn drop(&mut self) {
        self.shared.lock().users_gone = true;
        self.shared.kick();
    }
}

/// One host: a synack `Stack` on a device, driven by a tokio task.
///
/// Cheap to clone; every clone is the same host. Sockets made on it keep it alive; when
/// the last handle and socket are gone the driver sends what is left (the last FINs),
/// lingers a second for their answers, and ends.
#[derive(Clone)]
pub struct Net {
    user: Arc<User>,
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared().lock();
        f.debug_struct("Net")
            .field("addrs", &st.stack.addrs())
            .field("stopped", &st.stopped)
            .finish()
    }
}

fn runtime() -> io::Result<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("synack_tokio::Net needs a tokio runtime: {e}")))
}

impl Net {
    /// A host on a TUN device (see `synack_tun::Tun::open`; the device's address on the
    /// kernel side and its link state are the caller's business, as with `ip`).
    ///
    /// The secrets (ISNs, SYN cookies, the Fast Open key) come from the OS: `config.seed`
    /// is replaced, because on a real network predictable ISNs are an attack surface.
    /// Must be called inside a tokio runtime with IO and time enabled.
    pub fn tun(tun: Tun, mut config: Config, addrs: &[IpAddr]) -> io::Result<Net> {
        let rt = runtime()?;
        config.seed = os_seed()?;
        let _enter = rt.enter();
        let dev = Device::tun(tun)?;
        Ok(Net::start(&rt, config, addrs, dev))
    }

    /// Two hosts joined by an in-memory link, without root or a network: what one sends,
    /// the other receives (whatever the destination address: a host drops what is not
    /// for it, as `IpInAddrErrors`). The configs are used as given, seed included, so two
    /// runs make the same ISNs and ports.
    pub fn pair(
        config_a: Config,
        addrs_a: &[IpAddr],
        config_b: Config,
        addrs_b: &[IpAddr],
    ) -> io::Result<(Net, Net)> {
        Net::pair_with_latency(config_a, addrs_a, config_b, addrs_b, Duration::ZERO)
    }

    /// [`Net::pair`] with a one-way delay on the link, so RTTs, RTOs and delayed ACKs
    /// look like a network's.
    pub fn pair_with_latency(
        config_a: Config,
        addrs_a: &[IpAddr],
        config_b: Config,
        addrs_b: &[IpAddr],
        latency: Duration,
    ) -> io::Result<(Net, Net)> {
        let rt = runtime()?;
        let (da, db) = Device::pair(latency);
        Ok((
            Net::start(&rt, config_a, addrs_a, da),
            Net::start(&rt, config_b, addrs_b, db),
        ))
    }

    fn start(rt: &tokio::runtime::Handle, config: Config, addrs: &[IpAddr], dev: Device) -> Net {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                stack: Stack::new(config, addrs),
                wakers: BTreeMap::new(),
                control: None,
                link_up: true,
                users_gone: false,
                stopped: None,
            }),
            notify: Notify::new(),
            epoch: TInstant::now(),
        });
        rt.spawn(drive(StopGuard(shared.clone()), dev));
        Net {
            user: Arc::new(User { shared }),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.user.shared
    }

    /// Answer `synack ss|netstat|nstat --control PATH` on a Unix socket at `path`, from
    /// the driver (a live stack has no /proc/net/tcp for the real tools to read).
    pub fn serve_control(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let control = Control::bind(path)?;
        self.shared().lock().control = Some(control);
        self.shared().kick();
        Ok(())
    }

    /// The stack's clock now (microseconds since this `Net` started).
    pub fn now(&self) -> Instant {
        self.shared().now()
    }

    /// Run `f` on the stack, under its lock: counters, `sockets()` for an `ss` view,
    /// `config_mut()` for a sysctl, or any socket call by descriptor. The driver then
    /// sends whatever `f` queued. Do not call this `Net`'s sockets or `with_stack` from
    /// inside `f` (the lock is held), and do not close descriptors that a
    /// `TcpStream`/`TcpListener` owns.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack) -> R) -> R {
        let r = f(&mut self.shared().lock().stack);
        self.shared().kick();
        r
    }

    /// A counter by its `nstat` name (`TcpExtTCPFastOpenPassive`, or without the
    /// `Tcp`/`TcpExt` prefix); `None` for an unknown name.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.shared().lock().stack.counters().by_name(name)
    }

    /// The host's addresses.
    pub fn addrs(&self) -> Vec<IpAddr> {
        self.shared().lock().stack.addrs().to_vec()
    }

    /// Unplug (`false`) or plug back in (`true`) this host's link: while it is down,
    /// every packet in or out is lost, and the stack carries on as if its peers had gone
    /// silent — retransmissions back off, keepalive probes go unanswered, connections
    /// time out. For tests of dead peers and partitions; the device itself (a TUN
    /// device's state as the kernel sees it) is not touched.
    pub fn set_link_up(&self, up: bool) {
        self.shared().lock().link_up = up;
        self.shared().kick();
    }

    /// Why the driver ended (a device error), or `None` while it runs.
    pub fn stopped(&self) -> Option<String> {
        self.shared().lock().stopped.clone()
    }
}

/// The driver: feed the device's packets to the stack, fire its timers, send what it
/// queues, wake the tasks whose sockets became ready, then sleep until a packet, a socket
/// call, or the stack's next deadline (`poll_timeout`) — whichever comes first.
///
/// The guard is an argument, not a local, so that it exists even if the task is dropped
/// before its first poll.
async fn drive(stop: StopGuard, mut dev: Device) {
    let shared = stop.0.clone();
    let mut rx = vec![0u8; 65536];
    let mut tx = Vec::with_capacity(65536);
    let mut linger_until: Option<TInstant> = None;
    // A real device runs on real time: its deadlines are met to the microsecond (see
    // `precise`). An in-memory pair keeps tokio's timers, which tests may pause.
    let mut precise = dev.is_tun().then(|| Precise::new().ok()).flatten();
    loop {
        let (deadline, more) = {
            let mut st = shared.lock();
            let st = &mut *st;
            let now = shared.now();
            let tnow = TInstant::now();
            let stack = &mut st.stack;
            let up = st.link_up;
            let mut round = || -> io::Result<bool> {
                let more = dev.recv_batch(tnow, &mut rx, |p| {
                    if up {
                        stack.handle_packet(now, p)
                    }
                })?;
                stack.handle_timeout(now);
                while stack.poll_transmit(now, &mut tx) {
                    // A device that cannot take a packet (down: EIO) loses it, as a
                    // link does; TCP's retransmissions are made for that.
                    if up {
                        let _ = dev.send(tnow, &tx);
                    }
                }
                Ok(more)
            };
            let more = match round() {
                Ok(more) => more,
                Err(e) => {
                    st.stopped = Some(format!("device: {e}"));
                    return;
                }
            };
            if let Some(c) = st.control.as_mut() {
                c.poll(&st.stack, now);
            }
            st.wake_ready();
            if st.users_gone {
                let until = *linger_until.get_or_insert(tnow + LINGER);
                if tnow >= until || st.stack.poll_timeout().is_none() {
                    st.stopped = Some("every handle was dropped".into());
                    return;
                }
            }
            let mut deadline = st.stack.poll_timeout().and_then(|t| shared.to_tokio(t));
            let mut earliest = |t: Option<TInstant>| {
                if let Some(t) = t {
                    deadline = Some(deadline.map_or(t, |d| d.min(t)));
                }
            };
            earliest(dev.next_due());
            earliest(st.control.as_ref().map(|_| tnow + CONTROL_TICK));
            earliest(linger_until);
            (deadline, more)
        };
        if more {
            tokio::task::yield_now().await;
            continue;
        }
        let sleep = async {
            match (deadline, precise.as_mut()) {
                (Some(d), Some(p)) => {
                    if p.sleep_until(d).await.is_err() {
                        tokio::time::sleep_until(d).await;
                    }
                }
                (Some(d), None) => tokio::time::sleep_until(d).await,
                (None, _) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shared.notify.notified() => {}
            _ = sleep => {}
            r = dev.wait() => {
                if let Err(e) = r {
                    shared.lock().stopped = Some(format!("device: {e}"));
                    return;
                }
            }
        }
    }
}

/// Ends the driver's story however it ends — a device error, the last handle gone, or
/// the runtime shutting down and dropping the task mid-wait: every waiting task is woken
/// and learns from `check_running` that nothing will move again, instead of hanging.
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        if st.stopped.is_none() {
            st.stopped = Some("the runtime running the driver shut down".into());
        }
        st.wake_all();
    }
}
