//! The tokio API over the in-memory link: two `Net`s in one process, no root, no network.
//!
//! Tests whose story needs timers (SYN retries, a silent peer) run with tokio's paused
//! clock, which the stack's clock follows: seconds of retries take milliseconds, and the
//! same every run.
use sha2::{Digest, Sha256};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use synack_tokio::{
    Config, KeepAlive, Net, Profile, SockOpt, SockOptName, TcpListener, TcpSocket, TcpStream,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const CLIENT: &str = "192.0.2.1";
const SERVER: &str = "192.0.2.2";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address")
}

fn server_at(port: u16) -> SocketAddr {
    SocketAddr::new(ip(SERVER), port)
}

fn config(seed: u64, sets: &[(&str, &str)]) -> Config {
    let mut c = Config::for_profile(Profile::Linux);
    c.seed = seed;
    for (k, v) in sets {
        c.set(k, v).expect("a valid setting");
    }
    c
}

/// (client, server): 192.0.2.1 and 192.0.2.2.
fn pair_with(sets: &[(&str, &str)]) -> (Net, Net) {
    Net::pair(
        config(1, sets),
        &[ip(CLIENT)],
        config(2, sets),
        &[ip(SERVER)],
    )
    .expect("inside a runtime")
}

fn pair() -> (Net, Net) {
    pair_with(&[])
}

/// Bytes whose order matters: a shifted or repeated chunk changes the hash.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + 3) % 251) as u8).collect()
}

const LIMIT: Duration = Duration::from_secs(20);

/// 1 MiB to an echo server and back, SHA-256 compared; the two directions at once.
async fn echo_one_mebibyte() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(7)).unwrap();
    assert_eq!(listener.local_addr().unwrap(), server_at(7));
    let echo = tokio::spawn(async move {
        let (s, peer) = listener.accept().await?;
        assert_eq!(peer.ip(), ip(CLIENT));
        let (mut r, mut w) = s.into_split();
        let n = tokio::io::copy(&mut r, &mut w).await?;
        w.shutdown().await?;
        io::Result::Ok(n)
    });
    let data = pattern(1 << 20);
    let mut s = TcpStream::connect(&client, server_at(7)).await.unwrap();
    assert_eq!(s.peer_addr().unwrap(), server_at(7));
    assert_eq!(s.local_addr().unwrap().ip(), ip(CLIENT));
    let (mut r, mut w) = s.split();
    let send = async {
        w.write_all(&data).await?;
        w.shutdown().await
    };
    let mut got = Vec::new();
    let (sent, read) = timeout(LIMIT, async { tokio::join!(send, r.read_to_end(&mut got)) })
        .await
        .expect("in time");
    sent.unwrap();
    assert_eq!(read.unwrap(), data.len());
    assert_eq!(Sha256::digest(&got), Sha256::digest(&data));
    assert_eq!(echo.await.unwrap().unwrap(), data.len() as u64);
    let info = s.tcp_info().unwrap();
    assert_eq!(info.bytes_received, data.len() as u64);
}

#[tokio::test]
async fn echo_of_one_mebibyte_arrives_intact() {
    echo_one_mebibyte().await
}

/// The same with the drivers and the tasks on several threads: the lock, not the
/// scheduling, keeps wake-ups from being lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_of_one_mebibyte_on_a_multi_threaded_runtime() {
    echo_one_mebibyte().await
}

#[tokio::test(start_paused = true)]
async fn echo_over_a_link_with_latency() {
    // 10 ms each way: the RTT the stack measures is the link's.
    let (client, server) = Net::pair_with_latency(
        config(1, &[]),
        &[ip(CLIENT)],
        config(2, &[]),
        &[ip(SERVER)],
        Duration::from_millis(10),
    )
    .unwrap();
    let listener = TcpListener::bind(&server, server_at(7)).unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let (mut r, mut w) = s.split();
        tokio::io::copy(&mut r, &mut w).await?;
        w.shutdown().await
    });
    let started = tokio::time::Instant::now();
    let mut s = TcpStream::connect(&client, server_at(7)).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(20), "one RTT");
    // 1 MiB: more packets in flight than the driver takes in one round.
    let data = pattern(1 << 20);
    let (mut r, mut w) = s.split();
    let mut got = Vec::new();
    let (a, b) = tokio::join!(
        async {
            w.write_all(&data).await?;
            w.shutdown().await
        },
        r.read_to_end(&mut got)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(got, data);
    let rtt = Duration::from_micros(s.tcp_info().unwrap().rtt.into());
    assert!(
        rtt >= Duration::from_millis(20) && rtt < Duration::from_millis(60),
        "{rtt:?}"
    );
}

#[tokio::test]
async fn owned_halves_work_from_two_tasks() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(7)).unwrap();
    tokio::spawn(async move {
        let (s, _) = listener.accept().await?;
        let (mut r, mut w) = s.into_split();
        tokio::io::copy(&mut r, &mut w).await?;
        io::Result::Ok(())
    });
    let s = TcpStream::connect(&client, server_at(7)).await.unwrap();
    let (mut r, mut w) = s.into_split();
    // The reader waits before anything is written: its waker and the writer's are
    // separate, so neither blocks the other.
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 1000];
        while got.len() < 100 * 1000 {
            let n = r.read(&mut buf).await?;
            assert!(n > 0, "early EOF");
            got.extend_from_slice(&buf[..n]);
        }
        io::Result::Ok((got, r))
    });
    let writer = tokio::spawn(async move {
        for i in 0..100u32 {
            let chunk = vec![(i % 256) as u8; 1000];
            w.write_all(&chunk).await?;
            tokio::task::yield_now().await;
        }
        io::Result::Ok(w)
    });
    let w = timeout(LIMIT, writer).await.unwrap().unwrap().unwrap();
    let (got, r) = timeout(LIMIT, reader).await.unwrap().unwrap().unwrap();
    for (i, chunk) in got.chunks(1000).enumerate() {
        assert!(chunk.iter().all(|&b| b == (i % 256) as u8), "chunk {i}");
    }
    // The halves make the stream again (and only with each other).
    let mut s = r.reunite(w).expect("the same stream");
    s.write_all(b"again").await.unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"again");
}

#[tokio::test]
async fn halves_of_two_streams_do_not_reunite() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(7)).unwrap();
    let a = TcpStream::connect(&client, server_at(7)).await.unwrap();
    let b = TcpStream::connect(&client, server_at(7)).await.unwrap();
    let (ra, wa) = a.into_split();
    let (rb, wb) = b.into_split();
    let err = ra.reunite(wb).expect_err("different streams");
    let _ = (err.0.reunite(wa).unwrap(), err.1.reunite(rb).unwrap());
    drop(listener);
}

#[tokio::test]
async fn shutdown_gives_the_peer_eof_and_the_other_direction_still_works() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    let srv = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut req = Vec::new();
        s.read_to_end(&mut req).await?; // returns at the client's FIN
        s.write_all(b"you said: ").await?;
        s.write_all(&req).await?;
        io::Result::Ok(())
    });
    let mut s = TcpStream::connect(&client, server_at(80)).await.unwrap();
    s.write_all(b"hello").await.unwrap();
    s.shutdown().await.unwrap();
    // Writing after shutdown(SHUT_WR) is EPIPE, as on Linux.
    let err = s.write_all(b"more").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    let mut answer = String::new();
    timeout(LIMIT, s.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer, "you said: hello");
    srv.await.unwrap().unwrap();
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_refused() {
    let (client, _server) = pair();
    let err = TcpStream::connect(&client, server_at(81))
        .await
        .expect_err("nobody listens on 81");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    assert_eq!(err.raw_os_error(), Some(111), "ECONNREFUSED's number");
    assert_eq!(
        synack_tokio::errno_of(&err),
        Some(synack_tokio::Errno::ECONNREFUSED)
    );
}

#[tokio::test(start_paused = true)]
async fn connecting_to_a_silent_host_times_out() {
    // 192.0.2.3 is nobody: the server host drops the SYNs (not its address).
    let (client, server) = pair_with(&[
        ("net.ipv4.tcp_syn_retries", "2"),
        ("net.ipv4.tcp_syn_linear_timeouts", "0"),
    ]);
    let started = tokio::time::Instant::now();
    let err = TcpStream::connect(&client, "192.0.2.3:80".parse().unwrap())
        .await
        .expect_err("no answer");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    // SYN at 0, 1 s and 3 s (the RTO doubling from 1 s), given up at 7 s: in virtual
    // time, to the microsecond.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(7) && took < Duration::from_millis(7010),
        "{took:?}"
    );
    assert_eq!(client.counter("TcpExtTCPSynRetrans"), Some(2));
    assert!(server.counter("IpInAddrErrors").unwrap() >= 3);
}

#[tokio::test(start_paused = true)]
async fn the_accept_queue_holds_backlog_plus_one_and_the_rest_retry() {
    let (client, server) = pair();
    let listener = TcpListener::bind_with_backlog(&server, server_at(80), 2).unwrap();
    let mut clients = Vec::new();
    for _ in 0..5 {
        let c = client.clone();
        clients.push(tokio::spawn(async move {
            TcpStream::connect(&c, server_at(80)).await
        }));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Nobody has called accept(): the queue is full at backlog + 1 = 3 (ss: Recv-Q 3,
    // Send-Q 2), later SYNs are dropped (linux profile) and will be retried.
    let (recv_q, send_q) = server.with_stack(|s| {
        let row = s
            .sockets(server.now())
            .into_iter()
            .find(|r| r.state == synack_tokio::TcpState::Listen)
            .expect("the listener");
        (row.recv_q, row.send_q)
    });
    assert_eq!((recv_q, send_q), (3, 2));
    assert!(server.counter("TcpExtListenDrops").unwrap() >= 2);
    // accept() makes room; the retried SYNs get in.
    let mut peers = Vec::new();
    for _ in 0..5 {
        let (_s, peer) = timeout(Duration::from_secs(30), listener.accept())
            .await
            .expect("in time")
            .unwrap();
        peers.push(peer);
    }
    peers.sort();
    peers.dedup();
    assert_eq!(peers.len(), 5);
    for c in clients {
        c.await.unwrap().expect("every client connected");
    }
}

#[tokio::test]
async fn socket_options_reach_the_stack() {
    let (client, server) = pair_with(&[("net.ipv4.tcp_fastopen", "3")]);
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    listener.set_option(SockOpt::FastOpen(5)).unwrap();
    assert_eq!(
        listener.option(SockOptName::FastOpen).unwrap(),
        SockOpt::FastOpen(5)
    );
    let s = TcpStream::connect(&client, server_at(80)).await.unwrap();
    let fd = s.fd();
    let get = |name| client.with_stack(|st| st.getsockopt(fd, name).unwrap());

    assert!(!s.nodelay().unwrap());
    s.set_nodelay(true).unwrap();
    assert_eq!(get(SockOptName::NoDelay), SockOpt::NoDelay(true));
    assert!(s.nodelay().unwrap());

    assert_eq!(s.keepalive().unwrap(), None);
    let ka = KeepAlive::new()
        .with_idle(Duration::from_secs(60))
        .with_interval(Duration::from_millis(9500)) // rounds up to 10 s
        .with_count(3);
    s.set_keepalive(Some(ka)).unwrap();
    assert_eq!(get(SockOptName::KeepAlive), SockOpt::KeepAlive(true));
    assert_eq!(get(SockOptName::KeepIdle), SockOpt::KeepIdle(60));
    assert_eq!(get(SockOptName::KeepIntvl), SockOpt::KeepIntvl(10));
    assert_eq!(get(SockOptName::KeepCnt), SockOpt::KeepCnt(3));
    assert_eq!(
        s.keepalive().unwrap(),
        Some(ka.with_interval(Duration::from_secs(10)))
    );
    // Out of Linux's range: EINVAL, nothing changed.
    let bad = KeepAlive::new()
        .with_idle(Duration::from_secs(30))
        .with_count(1000);
    let err = s.set_keepalive(Some(bad)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert_eq!(get(SockOptName::KeepIdle), SockOpt::KeepIdle(60));
    assert_eq!(get(SockOptName::KeepCnt), SockOpt::KeepCnt(3));
    s.set_keepalive(None).unwrap();
    assert_eq!(get(SockOptName::KeepAlive), SockOpt::KeepAlive(false));

    s.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(get(SockOptName::Linger), SockOpt::Linger(Some(0)));
    assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
    s.set_linger(None).unwrap();
    assert_eq!(s.linger().unwrap(), None);

    // Options that only make sense before connect() are refused after, not ignored.
    let err = s.set_option(SockOpt::FastOpenConnect(true)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    let info = s.tcp_info().unwrap();
    assert_eq!(info.state, 1, "TCP_ESTABLISHED");
}

/// One request over Fast Open; returns the response.
async fn fetch_fastopen(net: &Net, use_connect_option: bool) -> String {
    let req = b"GET / HTTP/1.0\r\n\r\n";
    let mut s = if use_connect_option {
        // TCP_FASTOPEN_CONNECT: connect() returns at once, the write rides in the SYN.
        let sock = TcpSocket::new(net).unwrap();
        sock.set_fastopen_connect(true).unwrap();
        let mut s = sock.connect(server_at(80)).await.unwrap();
        s.write_all(req).await.unwrap();
        s
    } else {
        TcpStream::connect_fastopen(net, server_at(80), req)
            .await
            .unwrap()
    };
    let mut answer = String::new();
    timeout(LIMIT, s.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    answer
}

#[tokio::test]
async fn fast_open_sends_data_in_the_syn_once_a_cookie_is_cached() {
    let (client, server) = pair_with(&[("net.ipv4.tcp_fastopen", "3")]);
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    listener.set_option(SockOpt::FastOpen(16)).unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await?;
            let mut req = Vec::new();
            let mut buf = [0u8; 512];
            while !req.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.0 200 OK\r\n\r\nhi").await?;
        }
        #[allow(unreachable_code)]
        io::Result::Ok(())
    });
    let passive = || server.counter("TcpExtTCPFastOpenPassive").unwrap();
    // First: the SYN asks for a cookie, the request follows the handshake.
    assert!(fetch_fastopen(&client, false).await.ends_with("hi"));
    assert_eq!(passive(), 0);
    assert_eq!(server.counter("TcpExtTCPFastOpenCookieReqd"), Some(1));
    // Second: the cookie is cached, the request is in the SYN and accepted with it.
    assert!(fetch_fastopen(&client, false).await.ends_with("hi"));
    assert_eq!(passive(), 1);
    assert_eq!(client.counter("TcpExtTCPFastOpenActive"), Some(1));
    // Third, through TCP_FASTOPEN_CONNECT: the same, from plain connect-then-write code.
    assert!(fetch_fastopen(&client, true).await.ends_with("hi"));
    assert_eq!(passive(), 2);
}

#[tokio::test]
async fn fast_open_without_the_client_bit_is_unsupported() {
    let (client, server) = pair_with(&[("net.ipv4.tcp_fastopen", "0")]);
    let _l = TcpListener::bind(&server, server_at(80)).unwrap();
    let err = TcpStream::connect_fastopen(&client, server_at(80), b"x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
}

#[tokio::test]
async fn dropping_a_stream_with_unread_data_resets_the_peer() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    let mut c = TcpStream::connect(&client, server_at(80)).await.unwrap();
    let (s, _) = listener.accept().await.unwrap();
    c.write_all(b"a request nobody reads").await.unwrap();
    // Wait until the data is in the server's receive buffer.
    let fd = s.fd();
    timeout(LIMIT, async {
        while server.with_stack(|st| st.inq(fd).unwrap()) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .unwrap();
    drop(s);
    let mut buf = [0u8; 16];
    let err = timeout(LIMIT, c.read(&mut buf))
        .await
        .unwrap()
        .expect_err("RST");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    // Linux counts close() with unread data as TCPAbortOnClose.
    assert_eq!(server.counter("TcpExtTCPAbortOnClose"), Some(1));
}

#[tokio::test]
async fn linger_zero_resets_instead_of_fin() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    let mut c = TcpStream::connect(&client, server_at(80)).await.unwrap();
    let (s, _) = listener.accept().await.unwrap();
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
    let mut buf = [0u8; 16];
    let err = timeout(LIMIT, c.read(&mut buf)).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
}

#[tokio::test]
async fn a_listener_binds_only_its_own_addresses_and_ports_once() {
    let (_client, server) = pair();
    let err = TcpListener::bind(&server, "192.0.2.9:80".parse().unwrap()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable, "{err}");
    let _l = TcpListener::bind(&server, server_at(80)).unwrap();
    let err = TcpListener::bind(&server, server_at(80)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    // Port 0: an ephemeral port, as with the kernel.
    let l = TcpListener::bind(&server, server_at(0)).unwrap();
    assert_ne!(l.local_addr().unwrap().port(), 0);
}

#[tokio::test]
async fn ipv6_works_like_ipv4() {
    let (a, b) = (ip("2001:db8::1"), ip("2001:db8::2"));
    let (client, server) = Net::pair(config(1, &[]), &[a], config(2, &[]), &[b]).unwrap();
    let addr = SocketAddr::new(b, 443);
    let listener = TcpListener::bind(&server, addr).unwrap();
    let mut c = TcpStream::connect(&client, addr).await.unwrap();
    let (mut s, peer) = listener.accept().await.unwrap();
    assert_eq!(peer.ip(), a);
    c.write_all(b"v6").await.unwrap();
    let mut buf = [0u8; 2];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"v6");
}

#[tokio::test]
async fn the_control_socket_answers_ss_and_nstat() {
    let (client, server) = pair();
    let dir = std::env::temp_dir().join(format!("synack-tokio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("control.sock");
    server.serve_control(&path).unwrap();
    let _l = TcpListener::bind(&server, server_at(80)).unwrap();
    let _c = TcpStream::connect(&client, server_at(80)).await.unwrap();
    let p = path.clone();
    let ss = tokio::task::spawn_blocking(move || synack_tun::control::query(&p, "ss -tan"))
        .await
        .unwrap()
        .unwrap();
    assert!(ss.contains("LISTEN"), "{ss}");
    assert!(ss.contains("192.0.2.2:80"), "{ss}");
    let p = path.clone();
    let nstat = tokio::task::spawn_blocking(move || synack_tun::control::query(&p, "nstat -az"))
        .await
        .unwrap()
        .unwrap();
    assert!(nstat.contains("TcpPassiveOpens"), "{nstat}");
    drop((_l, _c, server));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    let err = Net::pair(config(1, &[]), &[ip(CLIENT)], config(2, &[]), &[ip(SERVER)]).unwrap_err();
    assert!(err.to_string().contains("runtime"), "{err}");
}

#[tokio::test]
async fn misuse_is_an_error_not_a_panic() {
    let (client, _server) = pair();
    // A listener is not a stream; a stream of a closed socket reports errors.
    let s = TcpSocket::new(&client).unwrap();
    let err = s.bind("203.0.113.1:1".parse().unwrap()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable);
    let err = s.set_option(SockOpt::KeepCnt(0)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    // Connecting to the unspecified address is refused at once.
    let err = TcpStream::connect(&client, "0.0.0.0:80".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    // An IPv6 destination from an IPv4-only host: no route.
    let err = TcpStream::connect(&client, "[2001:db8::2]:80".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.raw_os_error().is_some(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn keepalive_probes_are_answered_and_a_dead_peer_is_detected() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    let mut c = TcpStream::connect(&client, server_at(80)).await.unwrap();
    let (_s, _) = listener.accept().await.unwrap();
    c.set_keepalive(Some(
        KeepAlive::new()
            .with_idle(Duration::from_secs(10))
            .with_interval(Duration::from_secs(5))
            .with_count(3),
    ))
    .unwrap();
    // A minute of silence: probes every 10 s, each answered; the connection lives.
    let mut buf = [0u8; 1];
    assert!(timeout(Duration::from_secs(62), c.read(&mut buf))
        .await
        .is_err());
    let answered = server.counter("TcpInSegs").unwrap();
    assert!(answered >= 5, "{answered} segments reached the server");
    // The server vanishes at 62 s, 2 s after the last answer: probes at 70, 75 and
    // 80 s go unanswered, and at 85 s the connection is dead (ETIMEDOUT), 23 s later.
    server.set_link_up(false);
    let started = tokio::time::Instant::now();
    let err = timeout(Duration::from_secs(120), c.read(&mut buf))
        .await
        .expect("detected")
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(22) && took <= Duration::from_secs(24),
        "{took:?}"
    );
}

#[tokio::test]
async fn dropping_every_handle_still_sends_the_last_data_and_fin() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    let mut c = TcpStream::connect(&client, server_at(80)).await.unwrap();
    c.write_all(b"last words").await.unwrap();
    drop(c);
    drop(client); // the driver lingers until they are out
    let (mut s, _) = listener.accept().await.unwrap();
    let mut got = String::new();
    timeout(LIMIT, s.read_to_string(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, "last words");
}

#[tokio::test]
async fn accept_is_cancel_safe() {
    let (client, server) = pair();
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    // An accept() abandoned by a timeout takes nothing from the queue.
    assert!(timeout(Duration::from_millis(20), listener.accept())
        .await
        .is_err());
    let _c = TcpStream::connect(&client, server_at(80)).await.unwrap();
    let (_s, peer) = timeout(LIMIT, listener.accept()).await.unwrap().unwrap();
    assert_eq!(peer.ip(), ip(CLIENT));
}

#[test]
fn waiting_on_a_net_whose_runtime_is_gone_is_an_error_not_a_hang() {
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let first = rt();
    let (_client, server) = first.block_on(async { pair() });
    let listener = TcpListener::bind(&server, server_at(80)).unwrap();
    drop(first); // the drivers' tasks go with it
    let second = rt();
    let err = second
        .block_on(async { timeout(LIMIT, listener.accept()).await })
        .expect("no hang")
        .unwrap_err();
    assert!(err.to_string().contains("driver stopped"), "{err}");
    assert!(server.stopped().is_some());
}
