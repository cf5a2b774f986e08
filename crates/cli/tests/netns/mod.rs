//! Network namespaces for the TUN tests: each test makes its own (removed on drop, also
//! when the test fails), starts `synack serve`/`synack connect` and kernel programs in
//! it, and waits for what they print rather than sleeping.
//!
//! Needs root and /dev/net/tun: a test is skipped with a message where they (or a tool it
//! uses) are missing, except in CI (SYNACK_REQUIRE_NETNS=1), where it must run.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub const SYNACK: &str = env!("CARGO_BIN_EXE_synack");

fn can_run(tools: &[&str]) -> Result<(), String> {
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
    for tool in ["ip", "python3"].iter().chain(tools) {
        // `command -v` finds a tool without knowing how each one prints its version.
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Err(format!("no {tool}"));
        }
    }
    Ok(())
}

/// Whether this machine can run the test (root, /dev/net/tun, ip, python3 and `tools`);
/// skipping is an error in CI.
pub fn runnable(tools: &[&str]) -> bool {
    match can_run(tools) {
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

/// A network namespace for one test, removed on drop with the files made for it.
pub struct Netns {
    pub name: String,
    files: std::cell::RefCell<Vec<String>>,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("synack-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip runs");
        assert!(ok.success(), "ip netns add {name}");
        let ns = Netns {
            name,
            files: Default::default(),
        };
        ns.run(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// A command run inside the namespace.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    /// Run to completion inside the namespace; panics unless it succeeds.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().expect("ip netns exec runs");
        assert!(
            out.status.success(),
            "{args:?} in {}: {}\n{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A shell script run to completion inside the namespace: its stdout.
    pub fn sh(&self, script: &str) -> String {
        String::from_utf8_lossy(&self.run(&["bash", "-c", script]).stdout).into_owned()
    }

    /// `sysctl -w` inside the namespace (the net.* settings are per namespace).
    pub fn sysctl(&self, setting: &str) {
        self.run(&["sysctl", "-qw", setting]);
    }

    /// Start a program inside the namespace, its output read as it comes.
    pub fn spawn(&self, args: &[&str]) -> Proc {
        Proc::spawn(self.cmd(args), args.join(" "))
    }

    /// A kernel counter of this namespace, as `nstat -az NAME` reads it (`-s`: without
    /// touching nstat's history file, which every namespace and test shares).
    pub fn nstat(&self, counter: &str) -> u64 {
        counter_value(&self.sh(&format!("nstat -asz {counter}")), counter)
    }

    /// Wait until a kernel socket listens on `port` in the namespace.
    pub fn wait_listening(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let out = self.sh("ss -Htln");
            if out.lines().any(|l| {
                l.split_whitespace()
                    .any(|w| w.ends_with(&format!(":{port}")))
            }) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nothing listens on port {port} in {}", self.name);
    }

    /// A path for a file (or directory) of this test: control socket, capture, page.
    /// Removed with the namespace: a killed `synack serve` leaves its control socket.
    pub fn path(&self, what: &str) -> String {
        let p = std::env::temp_dir()
            .join(format!("{}-{what}", self.name))
            .display()
            .to_string();
        self.files.borrow_mut().push(p.clone());
        p
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for f in self.files.borrow().iter() {
            let _ = std::fs::remove_file(f);
            let _ = std::fs::remove_dir_all(f);
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// The value of `counter` in nstat's output (0 when absent).
pub fn counter_value(nstat: &str, counter: &str) -> u64 {
    nstat
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(counter)).then(|| w.next().and_then(|v| v.parse().ok()))?
        })
        .unwrap_or(0)
}

/// A running program: its stdout and stderr lines arrive through a channel, and it (with
/// everything it started: its own process group) is killed when dropped.
pub struct Proc {
    child: Child,
    what: String,
    lines: Receiver<(bool, String)>,
    /// Every stdout line so far, and every stderr line.
    pub out: Vec<String>,
    pub err: Vec<String>,
}

impl Proc {
    pub fn spawn(mut cmd: Command, what: String) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (tx, rx) = channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for (is_out, r) in [
            (true, Box::new(stdout) as Box<dyn Read + Send>),
            (false, Box::new(stderr)),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((is_out, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Proc {
            child,
            what,
            lines: rx,
            out: Vec::new(),
            err: Vec::new(),
        }
    }

    fn take(&mut self, (is_out, line): (bool, String)) {
        if is_out {
            self.out.push(line);
        } else {
            self.err.push(line);
        }
    }

    /// Wait for a line (stdout or stderr) containing `pat`, at most `timeout`.
    pub fn wait_line(&mut self, pat: &str, timeout: Duration) -> String {
        if let Some(l) = self.out.iter().chain(&self.err).find(|l| l.contains(pat)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.1.contains(pat).then(|| l.1.clone());
                    self.take(l);
                    if let Some(h) = hit {
                        return h;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: no line with {pat:?} in {timeout:?}\n{}",
                        self.what,
                        self.dump()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "{}: ended ({status:?}) without a line with {pat:?}\n{}",
                        self.what,
                        self.dump()
                    )
                }
            }
        }
    }

    /// Wait for the program to end, at most `timeout` (then it is killed and this panics),
    /// with all its output read.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "{}: still running after {timeout:?}\n{}",
                    self.what,
                    self.dump()
                );
            }
            while let Ok(l) = self.lines.try_recv() {
                self.take(l);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers end at the pipes' end (a grandchild holding them is killed here).
        self.kill_group();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.take(l);
        }
        status
    }

    /// Wait for a successful end; panics (with the output) otherwise.
    pub fn success(&mut self, timeout: Duration) {
        let status = self.wait(timeout);
        assert!(status.success(), "{}: {status}\n{}", self.what, self.dump());
    }

    /// Send a signal to the program's process group (`INT` lets tshark finish its file).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), "--", &format!("-{}", self.child.id())])
            .output();
    }

    fn kill_group(&self) {
        self.signal("KILL");
    }

    pub fn kill(&mut self) {
        self.kill_group();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn dump(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.out.join("\n"),
            self.err.join("\n")
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The kernel's address and synack's on the device, IPv4 or IPv6 (documentation ranges).
pub const V4: (&str, &str, &str) = ("192.0.2.1/24", "192.0.2.1", "192.0.2.2");
pub const V6: (&str, &str, &str) = ("2001:db8::1/64", "2001:db8::1", "2001:db8::2");

/// `synack serve` on device st0 in `ns` (kernel side `net.0`, synack at `net.2`), port 7,
/// once it says it is serving.
pub fn serve(ns: &Netns, net: (&str, &str, &str), extra: &[&str]) -> Proc {
    let mut args = vec![
        SYNACK,
        "serve",
        "--tun",
        "st0",
        "--host-addr",
        net.0,
        "--addr",
        net.2,
        "--port",
        "7",
    ];
    args.extend_from_slice(extra);
    let mut p = ns.spawn(&args);
    p.wait_line("synack serving", Duration::from_secs(20));
    p
}

/// `synack connect` from device st0 in `ns` to `target`.
pub fn connect(ns: &Netns, net: (&str, &str, &str), target: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        SYNACK,
        "connect",
        "--tun",
        "st0",
        "--host-addr",
        net.0,
        "--addr",
        net.2,
        target,
    ];
    args.extend_from_slice(extra);
    ns.spawn(&args)
}

/// The word after `key` in `line`: `sha256 HEX` gives HEX.
pub fn word_after<'a>(line: &'a str, key: &str) -> &'a str {
    let mut w = line.split_whitespace();
    while let Some(x) = w.next() {
        if x == key {
            return w.next().unwrap_or("").trim_end_matches(',');
        }
    }
    panic!("no {key:?} in {line:?}")
}
