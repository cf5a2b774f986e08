//! smoltcp in the same harness: two Interfaces (medium-ip) over in-memory devices whose
//! packet buffers are recycled, one socket per connection.
use crate::{check, verify_stream, Bulk, Lifecycles};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{Socket, SocketBuffer, State};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::collections::VecDeque;
use std::time::Instant as Wall;

/// One end of an in-memory wire.
pub struct Dev {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    free: Vec<Vec<u8>>,
    spent: Vec<Vec<u8>>,
    mtu: usize,
}

pub struct Rx<'a> {
    buf: Option<Vec<u8>>,
    spent: &'a mut Vec<Vec<u8>>,
}

pub struct Tx<'a> {
    tx: &'a mut VecDeque<Vec<u8>>,
    free: &'a mut Vec<Vec<u8>>,
}

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(mut self, f: F) -> R {
        let b = self.buf.take().unwrap_or_default();
        let r = f(&b);
        self.spent.push(b);
        r
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut b = self.free.pop().unwrap_or_default();
        b.resize(len, 0);
        let r = f(&mut b);
        self.tx.push_back(b);
        r
    }
}

impl Device for Dev {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;
    fn receive(&mut self, _: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let b = self.rx.pop_front()?;
        Some((
            Rx {
                buf: Some(b),
                spent: &mut self.spent,
            },
            Tx {
                tx: &mut self.tx,
                free: &mut self.free,
            },
        ))
    }
    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            tx: &mut self.tx,
            free: &mut self.free,
        })
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = self.mtu;
        c
    }
}

pub(crate) struct Host {
    pub(crate) dev: Dev,
    pub(crate) iface: Interface,
    pub(crate) set: SocketSet<'static>,
}

impl Dev {
    /// A packet arriving from the wire.
    pub(crate) fn push_rx(&mut self, pkt: &[u8]) {
        let mut b = self.free.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(pkt);
        self.rx.push_back(b);
    }
    /// Buffers smoltcp has read from go back to the free list.
    pub(crate) fn recycle(&mut self) {
        self.free.append(&mut self.spent);
    }
    /// The next packet smoltcp sent.
    pub(crate) fn pop_tx(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }
    pub(crate) fn give_back(&mut self, b: Vec<u8>) {
        self.free.push(b);
    }
}

pub(crate) fn host(addr: [u8; 4], mtu: usize, seed: u64) -> Host {
    let mut dev = Dev {
        rx: VecDeque::new(),
        tx: VecDeque::new(),
        free: Vec::new(),
        spent: Vec::new(),
        mtu,
    };
    let mut cfg = Config::new(HardwareAddress::Ip);
    cfg.random_seed = seed;
    let mut iface = Interface::new(cfg, &mut dev, Instant::ZERO);
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(
            IpAddress::v4(addr[0], addr[1], addr[2], addr[3]),
            24,
        ))
        .unwrap();
    });
    Host {
        dev,
        iface,
        set: SocketSet::new(Vec::new()),
    }
}

struct Pair {
    a: Host,
    b: Host,
    now: Instant,
    segs: u64,
}

impl Pair {
    fn new(mtu: usize) -> Pair {
        Pair {
            a: host([10, 0, 0, 1], mtu, 1),
            b: host([10, 0, 0, 2], mtu, 2),
            now: Instant::ZERO,
            segs: 0,
        }
    }

    /// Poll both interfaces until no packet is in flight.
    fn pump(&mut self) {
        loop {
            for h in [&mut self.a, &mut self.b] {
                h.iface.poll(self.now, &mut h.dev, &mut h.set);
                h.dev.free.append(&mut h.dev.spent);
            }
            let (na, nb) = (self.a.dev.tx.len(), self.b.dev.tx.len());
            if na == 0 && nb == 0 {
                return;
            }
            self.segs += (na + nb) as u64;
            self.b.dev.rx.extend(self.a.dev.tx.drain(..));
            self.a.dev.rx.extend(self.b.dev.tx.drain(..));
        }
    }
}

/// A socket with `buf` bytes each way and smoltcp's default congestion control — none:
/// the `socket-tcp-cubic`/`-reno` features (on for the goodput table, which sets CUBIC
/// itself) are not in smoltcp's default set, so its users get `None` unless they ask.
pub(crate) fn socket(buf: usize) -> Socket<'static> {
    let mut s = Socket::new(
        SocketBuffer::new(vec![0u8; buf]),
        SocketBuffer::new(vec![0u8; buf]),
    );
    s.set_congestion_control(smoltcp::socket::tcp::CongestionControl::None);
    s
}

pub(crate) fn sock<'s>(
    set: &'s mut SocketSet<'static>,
    h: SocketHandle,
) -> &'s mut Socket<'static> {
    set.get_mut::<Socket>(h)
}

/// Lifecycles as in `ours::lifecycles`: sockets with 4 KiB buffers each way (smoltcp
/// needs them up front); default ACK delay (10 ms): when a delayed ACK holds the close
/// up, the clock moves on 10 ms.
pub fn lifecycles(n: u64) -> Result<Lifecycles, String> {
    let mut p = Pair::new(1500);
    let server_ip = IpAddress::v4(10, 0, 0, 2);
    let mut one = [0u8; 16];
    let t0 = Wall::now();
    for i in 0..n {
        p.now += Duration::from_millis(1);
        let port = 80 + (i % 16) as u16;
        let mut s = socket(4096);
        s.listen(port).map_err(|e| format!("{e:?}"))?;
        let sh = p.b.set.add(s);
        let mut c = socket(4096);
        c.connect(
            p.a.iface.context(),
            (server_ip, port),
            49152 + (i % 16_000) as u16,
        )
        .map_err(|e| format!("{e:?}"))?;
        let ch = p.a.set.add(c);
        p.pump();
        check(
            sock(&mut p.a.set, ch).state() == State::Established,
            "client established",
        )?;
        sock(&mut p.a.set, ch)
            .send_slice(b"q")
            .map_err(|e| format!("{e:?}"))?;
        p.pump();
        check(
            sock(&mut p.b.set, sh).recv_slice(&mut one) == Ok(1),
            "server reads 1 byte",
        )?;
        sock(&mut p.b.set, sh)
            .send_slice(b"r")
            .map_err(|e| format!("{e:?}"))?;
        p.pump();
        check(
            sock(&mut p.a.set, ch).recv_slice(&mut one) == Ok(1),
            "client reads 1 byte",
        )?;
        sock(&mut p.a.set, ch).close();
        p.pump();
        let mut waited = 0;
        while sock(&mut p.b.set, sh).state() != State::CloseWait && waited < 10 {
            p.now += Duration::from_millis(10);
            p.pump();
            waited += 1;
        }
        check(
            sock(&mut p.b.set, sh).state() == State::CloseWait,
            "server sees the FIN",
        )?;
        sock(&mut p.b.set, sh).close();
        p.pump();
        let mut waited = 0;
        while sock(&mut p.b.set, sh).state() != State::Closed && waited < 10 {
            p.now += Duration::from_millis(10);
            p.pump();
            waited += 1;
        }
        check(
            sock(&mut p.a.set, ch).state() == State::TimeWait,
            "client in TIME_WAIT",
        )?;
        check(
            sock(&mut p.b.set, sh).state() == State::Closed,
            "server closed",
        )?;
        p.a.set.remove(ch);
        p.b.set.remove(sh);
    }
    Ok(Lifecycles {
        count: n,
        secs: t0.elapsed().as_secs_f64(),
        segments: p.segs,
    })
}

/// One flow of `bytes`, socket buffers of 1 MiB each way (window scaling), 100 µs of
/// virtual time per round.
pub fn bulk(bytes: u64, mtu: usize) -> Result<Bulk, String> {
    let mut p = Pair::new(mtu);
    let buf = 1 << 20;
    let mut s = socket(buf);
    s.listen(80).map_err(|e| format!("{e:?}"))?;
    let sh = p.b.set.add(s);
    let mut c = socket(buf);
    c.connect(p.a.iface.context(), (IpAddress::v4(10, 0, 0, 2), 80), 49152)
        .map_err(|e| format!("{e:?}"))?;
    let ch = p.a.set.add(c);
    p.pump();
    let pattern = crate::pattern();
    let mut sink = vec![0u8; 256 * 1024];
    let (mut sent, mut got) = (0u64, 0u64);
    let t0 = Wall::now();
    while got < bytes {
        while sent < bytes {
            let off = (sent % crate::PATTERN as u64) as usize;
            let want = ((bytes - sent) as usize).min(crate::PATTERN);
            match sock(&mut p.a.set, ch).send_slice(&pattern[off..off + want]) {
                Ok(0) => break,
                Ok(k) => sent += k as u64,
                Err(e) => return Err(format!("send: {e:?}")),
            }
        }
        p.pump();
        loop {
            match sock(&mut p.b.set, sh).recv_slice(&mut sink) {
                Ok(0) => break,
                Ok(k) => {
                    verify_stream(&pattern, got, &sink[..k])?;
                    got += k as u64;
                }
                Err(e) => return Err(format!("recv: {e:?}")),
            }
        }
        p.pump();
        p.now += Duration::from_micros(100);
    }
    check(got == bytes, "every byte arrived")?;
    Ok(Bulk {
        bytes: got,
        secs: t0.elapsed().as_secs_f64(),
        segments: p.segs,
    })
}

/// Bytes of one smoltcp TCP socket, without the buffers the application must supply.
pub fn socket_size() -> usize {
    std::mem::size_of::<Socket<'static>>()
}
