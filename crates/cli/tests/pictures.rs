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

/// The HTML page loads in a real browser (headless Chromium) with no console message:
/// no script error, nothing missing. Skipped where Chromium is not installed, except in
/// CI (`SYNACK_REQUIRE_CHROMIUM=1`), which installs it.
#[test]
fn html_page_loads_in_headless_chromium_without_console_errors() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(chromium) = chromium else {
        assert!(
            std::env::var_os("SYNACK_REQUIRE_CHROMIUM").is_none(),
            "SYNACK_REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        eprintln!("skipping: chromium is not installed");
        return;
    };
    let dir = std::env::temp_dir().join(format!("synack-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["handshake", "third-ack-lost", "historical-syn"] {
        let html = dir.join(format!("{name}.html"));
        let out = Command::new(env!("CARGO_BIN_EXE_synack"))
            .args(["scenario", "run", name, "--html", html.to_str().unwrap()])
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let page = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=3000",
                &format!("--user-data-dir={}", dir.join("profile").display()),
                "--dump-dom",
            ])
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("chromium runs");
        assert!(page.status.success(), "chromium failed on {name}");
        let dom = String::from_utf8_lossy(&page.stdout);
        assert!(
            dom.contains("<svg") && dom.contains("</table>"),
            "{name}: {dom}"
        );
        let log = String::from_utf8_lossy(&page.stderr);
        let console: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .collect();
        assert!(
            console.is_empty(),
            "{name}: console messages:\n{}",
            console.join("\n")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
