//! Replays the fuzzers' kept corpus (`fuzz/corpus/<target>/`) and a few hundred seeded
//! random inputs through the same checks the fuzz targets run, so `cargo test` keeps
//! every input the fuzzers found interesting passing — without libFuzzer or nightly.
use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

/// Deterministic random inputs (xorshift from a fixed seed), various lengths.
fn seeded(n: usize, max_len: usize) -> Vec<Vec<u8>> {
    let mut x = 0x5eed_f00d_u64;
    (0..n)
        .map(|i| {
            let len = (i * 7919) % max_len;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect()
}

fn replay(target: &str, check: fn(&[u8]), random: usize, max_len: usize) {
    let kept = corpus(target);
    for (path, data) in &kept {
        let r = std::panic::catch_unwind(|| check(data));
        assert!(r.is_ok(), "{}: the check fails", path.display());
    }
    for data in seeded(random, max_len) {
        check(&data);
    }
    eprintln!("{target}: {} kept inputs, {random} seeded ones", kept.len());
}

#[test]
fn parse_corpus() {
    replay("parse", synack_fuzz::parse, 2000, 200);
}

#[test]
fn script_corpus() {
    replay("script", synack_fuzz::script, 500, 400);
}

#[test]
fn config_corpus() {
    replay("config", synack_fuzz::config, 200, 300);
}

#[test]
fn two_hosts_corpus() {
    replay("two_hosts", synack_fuzz::two_hosts::run, 200, 4000);
}

#[test]
#[ignore]
fn find_first_failure() {
    for (i, data) in seeded(200, 4000).into_iter().enumerate() {
        if std::panic::catch_unwind(|| synack_fuzz::two_hosts::run(&data)).is_err() {
            std::fs::write("/tmp/fail.bin", &data).unwrap();
            panic!(
                "input {i} fails ({} bytes), saved to /tmp/fail.bin",
                data.len()
            );
        }
    }
}

#[test]
#[ignore]
fn replay_file() {
    let p = std::env::var("SYNACK_FUZZ_FILE").expect("SYNACK_FUZZ_FILE");
    synack_fuzz::two_hosts::run(&std::fs::read(p).unwrap());
}
