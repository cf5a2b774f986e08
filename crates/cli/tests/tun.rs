//! synack against the Linux kernel's TCP, over a TUN device in a network namespace the
//! test makes (and removes): the kernel as the client of `synack serve`. Needs root and
//! /dev/net/tun: skipped with a message where they are missing, except in CI
//! (SYNACK_REQUIRE_NETNS=1), where it must run. More in tests/interop.rs.
mod netns;

use netns::{serve, Netns, V4, V6};
use std::time::{Duration, Instant};

#[test]
fn the_kernel_talks_to_synack_over_tun() {
    if !netns::runnable(&[]) {
        return;
    }
    let ns = Netns::new("echo");
    let mut server = serve(
        &ns,
        V4,
        &["--app", "echo", "--count", "1", "--duration", "30"],
    );
    // The kernel connects, sends 1 MiB, half-closes, and reads it all back: the
    // handshake, windows, ACKs, FINs both ways, between synack and Linux.
    let client = r#"
import hashlib, socket
data = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
s = socket.create_connection(("192.0.2.2", 7), timeout=10)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
s.close()
print(len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest())
"#;
    let started = Instant::now();
    let mut p = ns.spawn(&["python3", "-c", client]);
    p.success(Duration::from_secs(30));
    assert_eq!(p.out.join(""), "1048576 True", "{}", p.dump());
    assert!(started.elapsed() < Duration::from_secs(20));
    // The server saw the connection through to its close and exits by itself.
    server.success(Duration::from_secs(10));
}

#[test]
fn a_closed_port_answers_the_kernel_with_rst() {
    if !netns::runnable(&[]) {
        return;
    }
    let ns = Netns::new("rst");
    let _server = serve(&ns, V4, &["--app", "discard", "--duration", "10"]);
    let client = r#"
import socket
s = socket.socket()
s.settimeout(5)
try:
    s.connect(("192.0.2.2", 8))
    print("connected")
except ConnectionRefusedError:
    print("refused")
"#;
    let mut p = ns.spawn(&["python3", "-c", client]);
    p.success(Duration::from_secs(20));
    assert_eq!(p.out.join(""), "refused");
}

fn curl_fetches(tag: &str, net: (&str, &str, &str), url: &str) {
    if !netns::runnable(&["curl"]) {
        return;
    }
    let ns = Netns::new(tag);
    let mut server = serve(
        &ns,
        net,
        &["--app", "http", "--count", "2", "--duration", "30"],
    );
    for path in ["/", "/hello"] {
        let out = ns.run(&["curl", "-sS", "-m", "5", &format!("{url}{path}")]);
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.starts_with("hello from synack\n"), "{body}");
        assert!(body.contains(&format!("GET {path} HTTP/1.1")), "{body}");
    }
    server.success(Duration::from_secs(10));
}

#[test]
fn curl_fetches_a_page_from_synack() {
    curl_fetches("http", V4, "http://192.0.2.2:7");
}

#[test]
fn curl_fetches_a_page_from_synack_over_ipv6() {
    curl_fetches("http6", V6, "http://[2001:db8::2]:7");
}

#[test]
fn the_kernel_talks_to_synack_over_ipv6() {
    if !netns::runnable(&[]) {
        return;
    }
    let ns = Netns::new("v6");
    let _server = serve(
        &ns,
        V6,
        &["--app", "echo", "--count", "1", "--duration", "30"],
    );
    let client = r#"
import socket
s = socket.create_connection(("2001:db8::2", 7), timeout=10)
s.sendall(b"hello over IPv6")
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(100)
    if not b:
        break
    got += b
print(got.decode())
"#;
    let mut p = ns.spawn(&["python3", "-c", client]);
    p.success(Duration::from_secs(20));
    assert_eq!(p.out.join(""), "hello over IPv6", "{}", p.dump());
}
