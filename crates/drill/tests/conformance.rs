//! The conformance suites: the shared packetdrill scripts (when `../shared/packetdrill`
//! is beside the repository) must keep passing as recorded in `tests/drill-passing.txt`,
//! and the project's own scripts under `tests/drill/` must all pass.
use std::path::{Path, PathBuf};
use synack_core::Profile;
use synack_drill::{find_scripts, read_ratchet, run_file, Options, Outcome};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn failures(
    dir: &Path,
    names: Option<&[String]>,
    profile: Profile,
    ipv6: Option<bool>,
) -> Vec<String> {
    let opts = Options {
        profile,
        ipv6,
        ..Options::default()
    };
    let mut bad = Vec::new();
    let mut ran = 0;
    for (path, name) in find_scripts(&[dir.to_path_buf()]).expect("scripts") {
        if names.is_some_and(|n| !n.contains(&name)) {
            continue;
        }
        ran += 1;
        if let Outcome::Fail(m) = run_file(&path, &opts).outcome {
            bad.push(format!("{name}: {m}"));
        }
    }
    if let Some(n) = names {
        assert_eq!(ran, n.len(), "every recorded script exists");
    }
    bad
}

/// The recorded scripts, over IPv4 or, as packetdrill's `--ip_version=ipv6` runs them,
/// over IPv6 (scripts that pin IPv4 stay IPv4).
fn shared_scripts_pass(ipv6: bool) {
    let shared = repo().join("../shared/packetdrill");
    if !shared.is_dir() {
        eprintln!("skipping: {} is not there", shared.display());
        return;
    }
    let list = std::fs::read_to_string(repo().join("tests/drill-passing.txt")).unwrap();
    let names = read_ratchet(&list);
    assert!(names.len() >= 56, "the list only grows");
    let bad = failures(&shared, Some(&names), Profile::Linux, Some(ipv6));
    assert!(
        bad.is_empty(),
        "recorded scripts now fail (ipv6: {ipv6}):\n{}",
        bad.join("\n")
    );
}

#[test]
fn shared_scripts_recorded_as_passing_still_pass() {
    shared_scripts_pass(false);
}

#[test]
fn shared_scripts_recorded_as_passing_still_pass_over_ipv6() {
    shared_scripts_pass(true);
}

#[test]
fn our_own_scripts_pass() {
    let dir = repo().join("tests/drill");
    let scripts = find_scripts(std::slice::from_ref(&dir)).expect("tests/drill exists");
    assert!(
        scripts.len() >= 10,
        "one script per scenario of the document"
    );
    let bad = failures(&dir, None, Profile::Seed, None);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
