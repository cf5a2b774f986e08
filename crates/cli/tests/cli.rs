//! The command line as a user runs it.
use std::process::Command;

fn synack(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tour_prints_every_story_and_passes() {
    for profile in ["seed", "linux"] {
        let (code, out, err) = synack(&["tour", "--profile", profile]);
        assert_eq!(code, 0, "{err}");
        // The list itself is pinned by synack-sim's own test (names_are_the_documented_ones).
        let all = synack_sim::scenarios::all();
        for s in &all {
            assert!(out.contains(s.name), "{} missing", s.name);
        }
        assert_eq!(all.len(), 25);
        assert_eq!(out.matches("verdict: PASS").count(), all.len(), "{out}");
        assert!(out.contains("tour: 25 scenarios, every verdict passed"));
    }
}

#[test]
fn scenario_run_json_pcap_and_errors() {
    let (code, out, _) = synack(&["scenario", "run", "syn-lost", "--json"]);
    assert_eq!(code, 0);
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        assert!(v["event"].is_string());
    }
    assert!(out.lines().last().unwrap().contains("\"verdict\""));

    let path = std::env::temp_dir().join(format!("synack-cli-{}.pcap", std::process::id()));
    let (code, out, _) = synack(&[
        "scenario",
        "run",
        "handshake",
        "--pcap",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("packets written"));
    assert!(std::fs::metadata(&path).unwrap().len() > 24);
    let _ = std::fs::remove_file(&path);

    let (code, _, err) = synack(&["scenario", "run", "nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown scenario") && err.contains("handshake"),
        "{err}"
    );
    let (code, _, err) = synack(&[
        "scenario",
        "run",
        "syn-lost",
        "--set",
        "net.ipv4.tcp_syn_retries=0",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("net.ipv4.tcp_syn_retries") && err.contains("1..=127"),
        "{err}"
    );
    let (code, _, err) = synack(&[
        "scenario",
        "run",
        "syn-lost",
        "--pcap",
        "/nonexistent/dir/x.pcap",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/dir/x.pcap"), "{err}");

    let (code, out, _) = synack(&["scenario", "run", "syn-lost", "--set", "tcp_syn_retries=2"]);
    assert_eq!(code, 0);
    assert!(out.contains("ETIMEDOUT at 7 s after 3 SYNs"), "{out}");
}

#[test]
fn sysctl_lists_settings() {
    let (code, out, _) = synack(&["sysctl", "--profile", "linux", "net.ipv4.tcp_syn_retries"]);
    assert_eq!((code, out.trim()), (0, "6"));
    let (code, out, _) = synack(&["sysctl"]);
    assert_eq!(code, 0);
    assert!(out.contains("net.ipv4.tcp_max_tw_buckets = 18000"));
}

#[test]
fn pcap_is_a_valid_capture_and_json_names_the_scenario() {
    let path = std::env::temp_dir().join(format!("synack-cli-json-{}.pcap", std::process::id()));
    let (code, out, err) = synack(&[
        "scenario",
        "run",
        "synack-lost",
        "--json",
        "--pcap",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 101);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|v| v["scenario"] == "synack-lost"));
    // Every segment the client or server sent is in the capture.
    let sends = events.iter().filter(|v| v["event"] == "send").count();
    let mut off = 24;
    let mut records = 0;
    while off < bytes.len() {
        let incl = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + incl;
        records += 1;
    }
    assert_eq!(records, sends);
}

#[test]
fn an_unwritable_pcap_fails_before_the_run() {
    let (code, out, err) = synack(&[
        "scenario",
        "run",
        "handshake",
        "--pcap",
        "/nonexistent/x.pcap",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("cannot write /nonexistent/x.pcap"), "{err}");
}

#[test]
fn list_names_every_scenario_with_its_summary() {
    let (code, out, _) = synack(&["scenario", "list"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 25, "{out}");
    assert!(out.lines().all(|l| l.contains("25 ms")), "{out}");
    // Each names the document's section it illustrates.
    assert!(
        out.lines().all(|l| l.contains(" [") && l.contains("] ")),
        "{out}"
    );
    assert!(
        out.contains("syn-lost                     [三次握手 / 第一次握手一直丢包]"),
        "{out}"
    );
}

#[test]
fn scenario_run_ss_at_and_nstat() {
    let (code, out, err) = synack(&[
        "scenario",
        "run",
        "handshake",
        "--ss-at",
        "100ms",
        "--ss-at",
        "1s",
        "--ss-at",
        "61",
        "--nstat",
    ]);
    assert_eq!(code, 0, "{err}");
    // At 100 ms both ends are ESTABLISHED, data in flight, the RTO timer running.
    assert!(out.contains("    0.100s  client  $ ss -tanoi\n"), "{out}");
    assert!(out.contains("    0.100s  server  $ ss -tanoi\n"), "{out}");
    assert!(out.contains("State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process"));
    assert!(
        out.contains("ESTAB  0      24          10.0.0.2:80       10.0.0.1:"),
        "{out}"
    );
    assert!(
        out.contains("\t ts sack cubic wscale:7,7 rto:250 rtt:50/25"),
        "{out}"
    );
    // At 1 s the client's end is in TIME-WAIT, the server has only its listener.
    assert!(
        out.contains("TIME-WAIT 0      0           10.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("   timer:(timewait,59sec,0)"), "{out}");
    assert!(out.contains("LISTEN 0      128         10.0.0.2:80        0.0.0.0:*"));
    // The tables sit in the timeline, in time order.
    let p = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(p("0.100s  client  $ ss") < p("0.125s  client  read(3, 1024)"));
    assert!(p("60.175s  client  state TIME-WAIT → CLOSED") < p("61.000s  client  $ ss"));
    // nstat at the end, Linux's names and columns.
    assert!(
        out.contains("$ nstat\n#kernel\nTcpActiveOpens                  1                  0.0\n")
    );
    assert!(out.contains("TcpExtTW                        1                  0.0\n"));
    assert!(out.contains("TcpPassiveOpens                 1                  0.0\n"));

    // Another flag set, a state filter, and netstat.
    let (code, out, _) = synack(&[
        "scenario",
        "run",
        "handshake",
        "--ss-at",
        "0.5s",
        "--ss-args",
        "-tan state time-wait",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("$ ss -tan state time-wait\nRecv-Q Send-Q Local Address:Port"));
    let (code, out, _) = synack(&[
        "scenario",
        "run",
        "handshake",
        "--ss-at",
        "0.1",
        "--netstat",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("$ netstat -napt\nActive Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    \n"));
    // A moment after the story's end: the network runs on to it.
    let (code, out, _) = synack(&["scenario", "run", "handshake", "--ss-at", "200"]);
    assert_eq!(code, 0);
    assert!(out.contains("the network ran on to 200 s"), "{out}");
    // Bad input is refused before running.
    let (code, _, err) = synack(&["scenario", "run", "handshake", "--ss-at", "soon"]);
    assert_eq!(code, 2);
    assert!(err.contains("--ss-at \"soon\""), "{err}");
    let (code, _, err) = synack(&[
        "scenario",
        "run",
        "handshake",
        "--ss-at",
        "1",
        "--ss-args",
        "-tan state bogus",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("wrong state name"), "{err}");
    // JSON: the tables as objects among the events.
    let (code, out, _) = synack(&[
        "scenario",
        "run",
        "handshake",
        "--ss-at",
        "1",
        "--nstat",
        "--json",
    ]);
    assert_eq!(code, 0);
    let ss: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "ss" || v["event"] == "nstat")
        .collect();
    assert_eq!(ss.len(), 4);
    assert!(ss[0]["table"].as_str().unwrap().contains("TIME-WAIT"));
}
