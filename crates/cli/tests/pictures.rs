//! `scenario run NAME --svg FILE --html FILE` as a user runs it.
use std::process::Command;

#[test]
fn svg_and_html_are_written() {
    let dir = std::env::temp_dir();
    let svg = dir.join(format!("synack-cli-{}.svg", std::process::id()));
    let html = dir.join(format!("synack-cli-{}.html", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["scenario", "run", "historical-syn", "--svg"])
        .arg(&svg)
        .arg("--html")
        .arg(&html)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
    assert!(s.contains("RST seq=1 (old ISN)"), "{s}");
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(h.contains("<svg") && h.contains("<table>") && h.contains("Sockets"));
    // ss tables where the story changes, in the timeline: the stale request in SYN-RECV.
    assert!(h.contains("server at 1.025 s: ss -tan"), "{h}");
    assert!(h.contains("SYN-RECV"), "{h}");
    for tag in ["tr", "td", "pre", "table", "svg", "p", "div"] {
        let open = h.matches(&format!("<{tag}>")).count() + h.matches(&format!("<{tag} ")).count();
        let close = h.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
    let _ = std::fs::remove_file(&svg);
    let _ = std::fs::remove_file(&html);

    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args([
            "scenario",
            "run",
            "handshake",
            "--svg",
            "/nonexistent/dir/x.svg",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write"));
}
