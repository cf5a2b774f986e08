//! synack against the Linux kernel's TCP, over a TUN device in a network namespace the
//! test makes (and removes). Needs root and /dev/net/tun: skipped with a message where
//! they are missing, except in CI (SYNACK_REQUIRE_NETNS=1), where it must run.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn can_run() -> Result<(), String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root {
        return Err("not root".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("no /dev/net/tun".into());
    }
    for tool in ["ip", "python3"] {
        if Command::new(tool).arg("-V").output().is_err() {
            return Err(format!("no {tool}"));
        }
    }
    Ok(())
}

/// Whether this machine can run the test; skipping is an error in CI.
fn runnable() -> bool {
    match can_run() {
        Ok(()) => true,
        Err(why) => {
            assert!(
                std::env::var_os("SYNACK_REQUIRE_NETNS").is_none(),
                "SYNACK_REQUIRE_NETNS is set but this test cannot run: {why}"
            );
            eprintln!("skipping: {why}");
            false
        }
    }
}

/// A network namespace for one test, removed on drop (with what runs in it).
struct Netns {
    name: String,
    server: Option<Child>,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("synack-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip runs");
        assert!(ok.success(), "ip netns add {name}");
        Netns { name, server: None }
    }

    fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(s) = &mut self.server {
            let _ = s.kill();
            let _ = s.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Start `synack serve` in the namespace and wait for its "serving" line.
fn serve(ns: &mut Netns, extra: &[&str]) {
    serve_on(ns, "10.77.0.1/24", "10.77.0.2", extra)
}

fn serve_on(ns: &mut Netns, host: &str, addr: &str, extra: &[&str]) {
    let bin = env!("CARGO_BIN_EXE_synack");
    let mut args = vec![
        bin,
        "serve",
        "--tun",
        "st0",
        "--host-addr",
        host,
        "--addr",
        addr,
        "--port",
        "7",
    ];
    args.extend_from_slice(extra);
    let mut child = ns
        .exec(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    ns.server = Some(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    assert!(line.contains("synack serving"), "{line}");
}

#[test]
fn the_kernel_talks_to_synack_over_tun() {
    if !runnable() {
        return;
    }
    let mut ns = Netns::new("echo");
    serve(
        &mut ns,
        &["--app", "echo", "--count", "1", "--duration", "30"],
    );
    // The kernel connects, sends 1 MiB, half-closes, and reads it all back: the
    // handshake, windows, ACKs, FINs both ways, between synack and Linux.
    let client = r#"
import hashlib, socket
data = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
s = socket.create_connection(("10.77.0.2", 7), timeout=10)
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
    let out = ns
        .exec(&["python3", "-c", client])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), "1048576 True", "{text}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The server saw the connection through to its close and exits by itself.
    let mut child = ns.server.take().expect("server");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait().expect("wait") {
            Some(status) => {
                assert!(status.success(), "serve exited with {status}");
                break;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("serve did not exit after its one connection");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn a_closed_port_answers_the_kernel_with_rst() {
    if !runnable() {
        return;
    }
    let mut ns = Netns::new("rst");
    serve(&mut ns, &["--app", "discard", "--duration", "10"]);
    let client = r#"
import socket
s = socket.socket()
s.settimeout(5)
try:
    s.connect(("10.77.0.2", 8))
    print("connected")
except ConnectionRefusedError:
    print("refused")
"#;
    let out = ns
        .exec(&["python3", "-c", client])
        .output()
        .expect("python runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "refused");
}

#[test]
fn curl_fetches_a_page_from_synack() {
    if !runnable() {
        return;
    }
    if Command::new("curl").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("SYNACK_REQUIRE_NETNS").is_none(),
            "SYNACK_REQUIRE_NETNS is set but curl is missing"
        );
        eprintln!("skipping: no curl");
        return;
    }
    let mut ns = Netns::new("http");
    serve(
        &mut ns,
        &["--app", "http", "--count", "2", "--duration", "30"],
    );
    for path in ["/", "/hello"] {
        let out = ns
            .exec(&[
                "curl",
                "-sS",
                "-m",
                "5",
                &format!("http://10.77.0.2:7{path}"),
            ])
            .output()
            .expect("curl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.starts_with("hello from synack\n"), "{body}");
        assert!(body.contains(&format!("GET {path} HTTP/1.1")), "{body}");
    }
}

#[test]
fn the_kernel_talks_to_synack_over_ipv6() {
    if !runnable() {
        return;
    }
    let mut ns = Netns::new("v6");
    serve_on(
        &mut ns,
        "fd77::1/64",
        "fd77::2",
        &["--app", "echo", "--count", "1", "--duration", "30"],
    );
    let client = r#"
import socket
s = socket.create_connection(("fd77::2", 7), timeout=10)
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
    let out = ns
        .exec(&["python3", "-c", client])
        .output()
        .expect("python runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello over IPv6",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
