//! The Linux kernel over loopback (127.0.0.1), one thread: std::net and socket2.
use crate::{check, verify_stream, Bulk, Lifecycles};
use socket2::{Domain, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant as Wall};

/// Lifecycles for at most `n` connections or `budget`, whichever ends first. Blocking
/// calls in one thread: on loopback connect() returns with the handshake done and the
/// child already in the accept queue. Several listeners spread the 4-tuples, since each
/// client port stays in TIME_WAIT 60 s.
pub fn lifecycles(n: u64, budget: Duration) -> Result<Lifecycles, String> {
    let ls: Vec<TcpListener> = (0..16)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let addrs: Vec<SocketAddr> = ls.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut one = [0u8; 1];
    let t0 = Wall::now();
    let mut done = 0;
    while done < n && t0.elapsed() < budget {
        let k = (done % 16) as usize;
        let mut c = match TcpStream::connect(addrs[k]) {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::AddrNotAvailable => break,
            Err(e) => return Err(format!("connect: {e}")),
        };
        let (mut s, _) = ls[k].accept().map_err(|e| e.to_string())?;
        c.write_all(b"q").map_err(|e| e.to_string())?;
        s.read_exact(&mut one).map_err(|e| e.to_string())?;
        s.write_all(b"r").map_err(|e| e.to_string())?;
        c.read_exact(&mut one).map_err(|e| e.to_string())?;
        drop(c);
        check(s.read(&mut one).map_err(|e| e.to_string())? == 0, "EOF")?;
        drop(s);
        done += 1;
    }
    check(done > 0, "at least one loopback connection")?;
    Ok(Lifecycles {
        count: done,
        secs: t0.elapsed().as_secs_f64(),
        segments: 0,
    })
}

/// One flow of `bytes` over loopback (MTU 65536), nonblocking, one thread alternating
/// write and read. `mss`: TCP_MAXSEG on both ends (the kernel still hands loopback
/// 64 KB GSO packets, so this does not make it pay per 1460-byte segment).
pub fn bulk(bytes: u64, mss: Option<u32>) -> Result<Bulk, String> {
    let e = |e: std::io::Error| e.to_string();
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(e)?;
    if let Some(m) = mss {
        l.set_mss(m).map_err(e)?;
    }
    l.set_reuse_address(true).map_err(e)?;
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .map_err(e)?;
    l.listen(8).map_err(e)?;
    let addr = l.local_addr().map_err(e)?;
    let c = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(e)?;
    if let Some(m) = mss {
        c.set_mss(m).map_err(e)?;
    }
    c.connect(&addr).map_err(e)?;
    let (s, _) = l.accept().map_err(e)?;
    let mut c: TcpStream = c.into();
    let mut s: TcpStream = s.into();
    c.set_nonblocking(true).map_err(e)?;
    s.set_nonblocking(true).map_err(e)?;
    let pattern = crate::pattern();
    let mut sink = vec![0u8; 256 * 1024];
    let (mut sent, mut got) = (0u64, 0u64);
    let t0 = Wall::now();
    while got < bytes {
        while sent < bytes {
            let off = (sent % crate::PATTERN as u64) as usize;
            let want = ((bytes - sent) as usize).min(crate::PATTERN);
            match c.write(&pattern[off..off + want]) {
                Ok(0) => break,
                Ok(k) => sent += k as u64,
                Err(x) if x.kind() == ErrorKind::WouldBlock => break,
                Err(x) => return Err(x.to_string()),
            }
        }
        loop {
            match s.read(&mut sink) {
                Ok(0) => return Err("early EOF".into()),
                Ok(k) => {
                    verify_stream(&pattern, got, &sink[..k])?;
                    got += k as u64;
                }
                Err(x) if x.kind() == ErrorKind::WouldBlock => break,
                Err(x) => return Err(x.to_string()),
            }
        }
    }
    check(got == bytes, "every byte arrived")?;
    Ok(Bulk {
        bytes: got,
        secs: t0.elapsed().as_secs_f64(),
        segments: 0,
    })
}
