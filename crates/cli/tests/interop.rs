//! synack against Linux's TCP, each test in a network namespace of its own: synack as
//! the client of kernel servers, bulk transfers both ways, keepalive both ways, RST on
//! close with unread data, Fast Open both ways, a SYN flood, a capture checked by tshark,
//! and the control socket of a live stack.
mod netns;

use netns::{connect, counter_value, serve, word_after, Netns, Proc, SYNACK, V4, V6};
use std::time::{Duration, Instant};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn fetch_from_a_kernel_server(tag: &str, net: (&str, &str, &str), target: &str) {
    if !netns::runnable(&[]) {
        return;
    }
    let ns = Netns::new(tag);
    let dir = ns.path("www");
    std::fs::create_dir_all(&dir).expect("page directory");
    std::fs::write(format!("{dir}/index.html"), "hello from the kernel\n").expect("page");
    // The wildcard address: the kernel's own address appears only with synack's device.
    let mut server = ns.spawn(&[
        "python3",
        "-u",
        "-m",
        "http.server",
        "--bind",
        "::",
        "--directory",
        &dir,
        "8000",
    ]);
    server.wait_line("Serving HTTP", secs(20));
    let mut client = connect(&ns, net, target, &["--app", "http", "--duration", "30"]);
    client.success(secs(40));
    let _ = std::fs::remove_dir_all(&dir);
    let out = client.out.join("\n");
    assert!(out.contains("HTTP/1.0 200 OK"), "{out}");
    assert!(out.contains("hello from the kernel"), "{out}");
}

#[test]
fn our_client_fetches_a_page_from_a_kernel_server() {
    fetch_from_a_kernel_server("get4", V4, "192.0.2.1:8000");
}

#[test]
fn our_client_fetches_a_page_from_a_kernel_server_over_ipv6() {
    fetch_from_a_kernel_server("get6", V6, "[2001:db8::1]:8000");
}

/// A port nobody listens on: the kernel answers RST, and `synack connect` says so.
#[test]
fn our_client_reports_a_refused_connection() {
    if !netns::runnable(&[]) {
        return;
    }
    let ns = Netns::new("refused");
    let mut client = connect(
        &ns,
        V4,
        "192.0.2.1:9",
        &["--app", "http", "--duration", "30"],
    );
    let status = client.wait(secs(40));
    assert!(!status.success(), "{}", client.dump());
    let err = client.err.join("\n");
    assert!(err.contains("synack: connect: ECONNREFUSED"), "{err}");
}

/// A gibibyte each way between synack and the kernel (socat), its SHA-256 computed on
/// both sides.
#[test]
fn a_gibibyte_each_way_with_the_kernel() {
    if !netns::runnable(&["socat", "sha256sum"]) {
        return;
    }
    const GIB: u64 = 1 << 30;
    let ns = Netns::new("gib");
    // synack sends its pattern; the kernel hashes what arrives.
    let mut sink = ns.spawn(&[
        "bash",
        "-c",
        "set -o pipefail; socat -u TCP-LISTEN:9000,reuseaddr - | sha256sum",
    ]);
    ns.wait_listening(9000);
    let started = Instant::now();
    let mut client = connect(
        &ns,
        V4,
        "192.0.2.1:9000",
        &[
            "--app",
            "source",
            "--bytes",
            &GIB.to_string(),
            "--duration",
            "600",
        ],
    );
    client.success(secs(660));
    sink.success(secs(60));
    let up = started.elapsed();
    let sent = client.wait_line("sent 1073741824 bytes", secs(1));
    let kernel = sink.out.join(" ");
    assert_eq!(
        word_after(&sent, "sha256"),
        kernel.split_whitespace().next().unwrap_or(""),
        "synack sent {sent}, the kernel got {kernel}"
    );

    // The kernel sends random bytes (hashed as they go); synack hashes what arrives.
    let mut server = serve(&ns, V4, &["--app", "sha256", "--count", "1"]);
    let hash_file = ns.path("sent.sha256");
    let started = Instant::now();
    let mut source = ns.spawn(&[
        "bash",
        "-c",
        &format!(
            "set -o pipefail; head -c {GIB} /dev/urandom | tee >(sha256sum > {hash_file}) \
             | socat -u - TCP:192.0.2.2:7; wait $!"
        ),
    ]);
    source.success(secs(660));
    let got = server.wait_line("received", secs(60));
    let down = started.elapsed();
    server.success(secs(30));
    let kernel = std::fs::read_to_string(&hash_file).unwrap_or_default();
    let _ = std::fs::remove_file(&hash_file);
    assert!(got.contains("received 1073741824 bytes"), "{got}");
    assert_eq!(
        word_after(&got, "sha256"),
        kernel.split_whitespace().next().unwrap_or(""),
        "the kernel sent {kernel}, synack got {got}"
    );
    eprintln!("1 GiB synack -> kernel: {up:?}; kernel -> synack: {down:?}");
}

/// The kernel's keepalive probes (after 1 s idle, every 1 s, 2 unanswered are fatal)
/// are answered: after 6 s of silence the connection still echoes.
#[test]
fn the_kernels_keepalive_probes_are_answered() {
    if !netns::runnable(&["nstat"]) {
        return;
    }
    let ns = Netns::new("kaans");
    let mut server = serve(&ns, V4, &["--app", "echo", "--count", "1"]);
    let client = r#"
import socket, time
s = socket.create_connection(("192.0.2.2", 7), timeout=20)
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
time.sleep(6)
s.sendall(b"still here")
print(s.recv(100).decode())
"#;
    let before = ns.nstat("TcpExtTCPKeepAlive");
    let mut p = ns.spawn(&["python3", "-c", client]);
    p.success(secs(30));
    assert_eq!(p.out.join(""), "still here", "{}", p.dump());
    let probes = ns.nstat("TcpExtTCPKeepAlive") - before;
    assert!(probes >= 4, "the kernel sent {probes} keepalive probes");
    drop(p);
    server.kill();
}

/// synack's keepalive (1 s idle, 1 s interval, 2 probes) finds the kernel gone (its
/// device down) and the connection fails with ETIMEDOUT after about 3 s.
#[test]
fn our_keepalive_detects_a_dead_kernel_peer() {
    if !netns::runnable(&[]) {
        return;
    }
    let ns = Netns::new("kadead");
    let server = r#"
import socket, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 9001))
l.listen()
print("listening", flush=True)
c, _ = l.accept()
time.sleep(60)
"#;
    let mut kernel = ns.spawn(&["python3", "-c", server]);
    kernel.wait_line("listening", secs(20));
    let mut client = connect(
        &ns,
        V4,
        "192.0.2.1:9001",
        &[
            "--app",
            "sha256",
            "--keepalive",
            "1,1,2",
            "--duration",
            "60",
        ],
    );
    client.wait_line("connected", secs(20));
    let since = Instant::now();
    ns.run(&["ip", "link", "set", "dev", "st0", "down"]);
    let status = client.wait(secs(60));
    let took = since.elapsed();
    assert!(!status.success(), "{}", client.dump());
    let err = client.err.join("\n");
    assert!(err.contains("synack: connect: ETIMEDOUT"), "{err}");
    // idle 1 s + 2 probes 1 s apart: about 3 s after the last word.
    assert!(
        took >= Duration::from_millis(1500) && took <= secs(10),
        "ETIMEDOUT after {took:?}"
    );
}

/// Closing with unread data sends RST, not FIN: the kernel's next read fails with
/// ECONNRESET.
#[test]
fn closing_with_unread_data_resets_the_kernel() {
    if !netns::runnable(&[]) {
        return;
    }
    let ns = Netns::new("unread");
    let mut server = serve(&ns, V4, &["--app", "unread", "--count", "1"]);
    let client = r#"
import socket
s = socket.create_connection(("192.0.2.2", 7), timeout=10)
s.sendall(b"nobody reads this")
try:
    got = s.recv(100)
    print("read", len(got))
except ConnectionResetError:
    print("ECONNRESET")
"#;
    let mut p = ns.spawn(&["python3", "-c", client]);
    p.success(secs(30));
    assert_eq!(p.out.join(""), "ECONNRESET", "{}", p.dump());
    server.success(secs(20));
    assert!(
        server.out.iter().any(|l| l.contains("bytes unread")),
        "{}",
        server.dump()
    );
}

/// Linux's Fast Open client gets a cookie from synack on its first connection (curl
/// --tcp-fastopen) and sends its request in the SYN of the second, which synack accepts.
/// The second is python's sendto(MSG_FASTOPEN): curl 7.88 (Debian 12) fails a
/// TCP_FASTOPEN_CONNECT that has a cookie ("getpeername() failed with errno 107": it asks
/// before the deferred SYN is sent), a bug of curl's fixed in later versions.
#[test]
fn a_linux_fast_open_client_sends_data_in_its_syn() {
    if !netns::runnable(&["curl"]) {
        return;
    }
    let ns = Netns::new("tfoin");
    ns.sysctl("net.ipv4.tcp_fastopen=3");
    let ctl = ns.path("ctl");
    let _server = serve(
        &ns,
        V4,
        &["--app", "http", "--fastopen", "16", "--control", &ctl],
    );
    let out = ns.run(&[
        "curl",
        "-sS",
        "-m",
        "10",
        "--tcp-fastopen",
        "http://192.0.2.2:7/",
    ]);
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.starts_with("hello from synack"), "{body}");
    let metrics = ns.sh("ip tcp_metrics show 192.0.2.2");
    assert!(metrics.contains("fo_cookie"), "no cookie cached: {metrics}");
    let client = r#"
import socket
s = socket.socket()
s.settimeout(10)
s.sendto(b"GET /in-the-syn HTTP/1.1\r\nHost: 192.0.2.2\r\n\r\n", socket.MSG_FASTOPEN, ("192.0.2.2", 7))
got = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
print(got.decode())
"#;
    let mut p = ns.spawn(&["python3", "-c", client]);
    p.success(secs(30));
    assert!(
        p.out.iter().any(|l| l.contains("GET /in-the-syn")),
        "{}",
        p.dump()
    );
    let nstat = query(&ctl, &["nstat", "-a"]);
    assert!(
        counter_value(&nstat, "TcpExtTCPFastOpenPassive") >= 1,
        "{nstat}"
    );
    assert!(
        ns.nstat("TcpExtTCPFastOpenActive") >= 1,
        "{}",
        ns.sh("nstat -asz | grep -i fastopen; ip tcp_metrics")
    );
}

/// synack's Fast Open client against a kernel listener with TCP_FASTOPEN: the first
/// connection gets a cookie, the second's request goes in its SYN.
#[test]
fn our_fast_open_client_sends_data_in_its_syn() {
    if !netns::runnable(&["nstat"]) {
        return;
    }
    let ns = Netns::new("tfoout");
    ns.sysctl("net.ipv4.tcp_fastopen=3");
    let server = r#"
import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 5)
l.bind(("0.0.0.0", 8080))
l.listen()
print("listening", flush=True)
while True:
    c, _ = l.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        b = c.recv(4096)
        if not b:
            break
        req += b
    body = b"hello from a kernel Fast Open listener\n"
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    c.close()
"#;
    let mut kernel = ns.spawn(&["python3", "-c", server]);
    kernel.wait_line("listening", secs(20));
    let mut client = connect(
        &ns,
        V4,
        "192.0.2.1:8080",
        &[
            "--app",
            "http",
            "--fastopen",
            "--count",
            "2",
            "--duration",
            "30",
        ],
    );
    client.success(secs(40));
    let received: Vec<_> = client
        .out
        .iter()
        .filter(|l| l.starts_with("received"))
        .collect();
    assert_eq!(received.len(), 2, "{}", client.dump());
    assert!(
        !received[0].contains("data in the SYN"),
        "{}",
        client.dump()
    );
    assert!(received[1].contains("data in the SYN"), "{}", client.dump());
    assert!(
        ns.nstat("TcpExtTCPFastOpenPassive") >= 1,
        "{}",
        ns.sh("nstat -asz | grep -i fastopen")
    );
}

/// `synack TOOL --control CTL ARGS...` against a live stack: its output.
fn query(ctl: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(SYNACK)
        .arg(args[0])
        .args(["--control", ctl])
        .args(&args[1..])
        .output()
        .expect("synack runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A SYN flood with random spoofed sources from the kernel's side while curl keeps
/// fetching pages: SYN cookies (tcp_syncookies=1, sent once the SYN queue is full) let
/// the real clients in.
#[test]
fn a_syn_flood_does_not_stop_curl() {
    if !netns::runnable(&["curl", "hping3"]) {
        return;
    }
    let ns = Netns::new("flood");
    let ctl = ns.path("ctl");
    let _server = serve(
        &ns,
        V4,
        &[
            "--app",
            "http",
            "--set",
            "net.ipv4.tcp_syncookies=1",
            "--control",
            &ctl,
        ],
    );
    let mut flood = ns.spawn(&[
        "hping3",
        "-q",
        "-S",
        "--flood",
        "--rand-source",
        "-p",
        "7",
        "192.0.2.2",
    ]);
    // Until the queue of half-open requests is full (spoofed SYNs are never answered).
    let deadline = Instant::now() + secs(20);
    while counter_value(&query(&ctl, &["nstat", "-a"]), "TcpExtSyncookiesSent") == 0 {
        assert!(
            Instant::now() < deadline,
            "no SYN cookies sent under the flood"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let started = Instant::now();
    let mut fetched = 0;
    while started.elapsed() < secs(3) || fetched < 3 {
        let out = ns.run(&["curl", "-sS", "-m", "15", "http://192.0.2.2:7/"]);
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.starts_with("hello from synack"), "{body}");
        fetched += 1;
    }
    flood.kill();
    let nstat = query(&ctl, &["nstat", "-a"]);
    assert!(
        counter_value(&nstat, "TcpExtSyncookiesSent") >= 1,
        "{nstat}"
    );
    assert!(
        counter_value(&nstat, "TcpExtSyncookiesRecv") >= 1,
        "{nstat}"
    );
    eprintln!("{fetched} pages fetched under the flood\n{nstat}");
}

/// A capture of two devices (curl against synack's http on one, 1 MiB echoed on the
/// other) that tshark finds nothing wrong with: no malformed packet, no error, every
/// IPv4 and TCP checksum good.
#[test]
fn a_capture_shows_no_malformed_segments() {
    if !netns::runnable(&["curl", "tshark"]) {
        return;
    }
    let ns = Netns::new("cap");
    // No --count: a device that disappears stops tshark's capture.
    let _http = serve(&ns, V4, &["--app", "http", "--duration", "120"]);
    let args = [
        SYNACK,
        "serve",
        "--tun",
        "st1",
        "--host-addr",
        "198.51.100.1/24",
        "--addr",
        "198.51.100.2",
        "--port",
        "7",
        "--app",
        "echo",
        "--duration",
        "120",
    ];
    let mut echo = ns.spawn(&args);
    echo.wait_line("synack serving", secs(20));
    let cap = ns.path("cap.pcapng");
    let mut tshark = ns.spawn(&["tshark", "-n", "-i", "st0", "-i", "st1", "-w", &cap]);
    tshark.wait_line("Capturing on", secs(30));
    // The file appears once dumpcap captures.
    let deadline = Instant::now() + secs(20);
    while std::fs::metadata(&cap).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "tshark wrote no {cap}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = ns.run(&["curl", "-sS", "-m", "10", "http://192.0.2.2:7/"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hello from synack"));
    let client = r#"
import hashlib, socket
data = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
s = socket.create_connection(("198.51.100.2", 7), timeout=10)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(got == data)
"#;
    let mut p = ns.spawn(&["python3", "-c", client]);
    p.success(secs(30));
    assert_eq!(p.out.join(""), "True");
    // SIGINT: tshark writes out what it has and exits.
    tshark.signal("INT");
    tshark.wait(secs(20));
    let read = |filter: &str| -> Vec<String> {
        let out = std::process::Command::new("tshark")
            .args([
                "-n",
                "-r",
                &cap,
                "-o",
                "tcp.check_checksum:TRUE",
                "-o",
                "ip.check_checksum:TRUE",
                "-Y",
                filter,
            ])
            .output()
            .expect("tshark runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let tcp = read("tcp");
    let bad = read("_ws.malformed || _ws.expert.severity == error");
    let good = read("tcp.checksum.status == 1 && (ipv6 || ip.checksum.status == 1)");
    let _ = std::fs::remove_file(&cap);
    assert!(tcp.len() > 100, "only {} TCP packets captured", tcp.len());
    assert!(bad.is_empty(), "tshark found problems:\n{}", bad.join("\n"));
    assert_eq!(good.len(), tcp.len(), "not every checksum is good");
}

/// `synack ss` and `synack nstat` against a live `synack serve`: the kernel client's
/// connection is ESTABLISHED in iproute2's columns, and the passive open is counted.
#[test]
fn ss_and_nstat_read_a_live_stack() {
    if !netns::runnable(&[]) {
        return;
    }
    let ns = Netns::new("ctl");
    let ctl = ns.path("ctl");
    let _server = serve(&ns, V4, &["--app", "echo", "--control", &ctl]);
    let client = r#"
import socket, time
s = socket.create_connection(("192.0.2.2", 7), timeout=10)
s.sendall(b"hi")
assert s.recv(10) == b"hi"
print("connected", s.getsockname()[1], flush=True)
time.sleep(60)
"#;
    let mut p: Proc = ns.spawn(&["python3", "-c", client]);
    let line = p.wait_line("connected", secs(20));
    let port = word_after(&line, "connected");
    let ss = query(&ctl, &["ss", "-tan"]);
    let header = ss.lines().next().unwrap_or("");
    // The same columns as the kernel's own ss in this namespace (spacing aside: ss
    // sizes its columns from the rows, which differ).
    let kernel = ns.sh("ss -tan");
    let kernel_header = kernel.lines().next().unwrap_or("");
    let squeeze = |h: &str| h.split_whitespace().collect::<String>();
    assert_eq!(
        squeeze(header),
        squeeze(kernel_header),
        "synack:\n{ss}\nkernel:\n{kernel}"
    );
    assert!(header.contains("Local Address:Port"), "{ss}");
    assert!(
        ss.lines().any(|l| l.starts_with("ESTAB")
            && l.contains("192.0.2.2:7 ")
            && l.contains(&format!("192.0.2.1:{port}"))),
        "{ss}"
    );
    assert!(ss.lines().any(|l| l.starts_with("LISTEN")), "{ss}");
    let nstat = query(&ctl, &["nstat"]);
    assert_eq!(counter_value(&nstat, "TcpPassiveOpens"), 1, "{nstat}");
}
