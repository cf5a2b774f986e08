//! The hyper example (examples/http.rs) on a TUN device in a network namespace the test
//! makes, fetched by curl — the kernel's TCP — over IPv4 and IPv6.
//!
//! Needs root, /dev/net/tun, `ip` and curl: skipped with a message where they are
//! missing, except when SYNACK_REQUIRE_NETNS is set (CI), where it must run.
//!
//! The example runs in its own process inside the namespace (a process enters a
//! namespace with `ip netns exec`; this crate forbids the `unsafe` that `setns` would
//! take). That process is this test binary again, running the ignored test
//! `http_example_server`, which includes the example's code as a module: so the example
//! is tested exactly as written, under `cargo test` from a clean clone, without relying on
//! where cargo put the example's own binary or whether it was built.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/http.rs"]
mod http_example;

const ARGS_VAR: &str = "SYNACK_TOKIO_HTTP_ARGS";

/// The server process of `curl_fetches_pages_from_the_hyper_example_over_tun`, started by
/// it inside its namespace; does nothing when run any other way.
#[test]
#[ignore = "the server half of curl_fetches_pages_from_the_hyper_example_over_tun"]
fn http_example_server() {
    let Ok(args) = std::env::var(ARGS_VAR) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let args = args.split(' ').map(String::from).collect();
    if let Err(e) = rt.block_on(http_example::run(args)) {
        panic!("the example failed: {e}");
    }
}

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
    if Command::new("ip").arg("-V").output().is_err() {
        return Err("no ip".into());
    }
    if Command::new("curl").arg("--version").output().is_err() {
        return Err("no curl".into());
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

/// A network namespace for one test, removed on drop with the server in it.
struct Netns {
    name: String,
    server: Option<Child>,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("synack-tokio-{tag}-{}", std::process::id());
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

fn curl(ns: &Netns, url: &str) -> String {
    let out = ns
        .exec(&["curl", "-sS", "-m", "10", url])
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_fetches_pages_from_the_hyper_example_over_tun() {
    if !runnable() {
        return;
    }
    let mut ns = Netns::new("http");
    let control =
        std::env::temp_dir().join(format!("synack-tokio-http-{}.sock", std::process::id()));
    let args = format!(
        "stk0 192.0.2.1/24,2001:db8::1/64 192.0.2.2,2001:db8::2 8080 --control {}",
        control.display()
    );
    let me = std::env::current_exe().expect("the test binary");
    let me = me.to_str().expect("a UTF-8 path");
    let mut child = ns
        .exec(&[
            me,
            "--exact",
            "http_example_server",
            "--ignored",
            "--nocapture",
        ])
        .env(ARGS_VAR, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("stdout");
    ns.server = Some(child);
    // One "serving" line per address, once its listener is up (read by a thread, so a
    // server that hangs fails the test instead of hanging it).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // The test is done with the output: keep draining so the pipe never
                // fills up under the server.
                continue;
            }
        }
    });
    let mut serving = 0;
    while serving < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed its addresses in time");
        if line.contains("serving on") {
            serving += 1;
        }
    }

    for (url, path) in [
        ("http://192.0.2.2:8080/hello", "/hello"),
        ("http://[2001:db8::2]:8080/v6", "/v6"),
    ] {
        let body = curl(&ns, url);
        assert!(body.starts_with("hello from synack-tokio\n"), "{body}");
        assert!(body.contains(&format!("GET {path} HTTP/1.1")), "{body}");
        assert!(body.contains("rtt "), "TCP_INFO on the page: {body}");
    }
    // Keep-alive: two requests on one connection (hyper's HTTP/1.1 loop over our
    // stream), then a query of the live stack through its control socket.
    let out = ns
        .exec(&[
            "curl",
            "-sS",
            "-m",
            "10",
            "http://192.0.2.2:8080/a",
            "http://192.0.2.2:8080/b",
        ])
        .output()
        .expect("curl runs");
    let both = String::from_utf8_lossy(&out.stdout);
    assert!(both.contains("GET /a") && both.contains("GET /b"), "{both}");

    let mut ss = String::new();
    for _ in 0..50 {
        match synack_tun::control::query(&control, "ss -tan") {
            Ok(text) => {
                ss = text;
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    assert!(ss.contains("LISTEN"), "{ss}");
    assert!(ss.contains("192.0.2.2:8080"), "{ss}");
    assert!(ss.contains("[2001:db8::2]:8080"), "{ss}");
    drop(ns); // the server is killed: its control socket file stays behind
    let _ = std::fs::remove_file(&control);
}
