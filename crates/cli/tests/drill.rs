//! `synack drill` as a user runs it: a folder of scripts, the verdict lines, the summary,
//! the exit status, and the ratchet list.
use std::path::PathBuf;
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

const PASSES: &str = "\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1460>
";

fn folder(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("synack-drill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("ok.pkt"), PASSES).unwrap();
    std::fs::write(
        d.join("sub/bad.pkt"),
        PASSES.replace("mss 1460", "mss 1400"),
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), "not a script").unwrap();
    d
}

#[test]
fn a_folder_is_searched_and_each_verdict_printed() {
    let d = folder("run");
    let (code, out, err) = synack(&["drill", d.to_str().unwrap()]);
    assert_eq!(code, 1, "a failure fails the run: {err}");
    assert!(out.contains("pass  ok.pkt"), "{out}");
    assert!(out.contains("FAIL  sub/bad.pkt"), "{out}");
    assert!(
        out.contains("bad.pkt:5: expected S. 0:0(0) ack 1 <mss 1400>"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("1 passed, 1 failed"), "{out}");
    let (code, out, _) = synack(&["drill", d.join("ok.pkt").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.trim_end().ends_with("1 passed, 0 failed"), "{out}");
    let (code, out, _) = synack(&["drill", "-v", d.join("ok.pkt").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("> S. 0:0(0) ack 1 win"), "the timeline: {out}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_ratchet_fails_only_on_a_recorded_script() {
    let d = folder("ratchet");
    let list = d.join("passing.txt");
    std::fs::write(&list, "# recorded\nok.pkt\n").unwrap();
    let args = |l: &PathBuf| {
        vec![
            "drill".to_string(),
            d.to_str().unwrap().to_string(),
            "--ratchet".into(),
            l.to_str().unwrap().to_string(),
        ]
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        synack(&a)
    };
    let (code, out, _) = run(args(&list));
    assert_eq!(code, 0, "bad.pkt is not recorded: {out}");
    assert!(
        out.contains("ratchet: 1 of 1 recorded scripts pass"),
        "{out}"
    );
    std::fs::write(&list, "ok.pkt\nsub/bad.pkt\n").unwrap();
    let (code, out, _) = run(args(&list));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ratchet: sub/bad.pkt is recorded as passing but fails"),
        "{out}"
    );
    // Growing the list.
    std::fs::write(&list, "").unwrap();
    let mut a = args(&list);
    a.push("--update-ratchet".into());
    let (code, out, _) = run(a);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(&list).unwrap(), "ok.pkt\n");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_arguments_are_errors() {
    let (code, _, err) = synack(&["drill", "/no/such/folder"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/no/such/folder: no such file or folder"),
        "{err}"
    );
    let (code, _, err) = synack(&["drill", "-D", "NOEQUALS", "."]);
    assert_eq!(code, 2);
    assert!(err.contains("expected NAME=VALUE"), "{err}");
}
