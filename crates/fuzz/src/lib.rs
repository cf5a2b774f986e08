//! The checks synack's fuzz targets run, as plain functions of the fuzzer's bytes.
//!
//! cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) call these with libFuzzer's input; the
//! tests of this crate call them with every file of the kept corpus (`fuzz/corpus/`), so
//! `cargo test` replays what the fuzzers found without libFuzzer or a nightly compiler.
//! Each function panics when a property breaks: that is what a fuzzer reports.
#![forbid(unsafe_code)]

pub mod two_hosts;

use synack_core::wire;

/// The segment parser: never panics; what parses re-emits and parses to the same
/// segment (the emitter puts options in Linux's order, so bytes may differ, fields not).
pub fn parse(data: &[u8]) {
    let _ = wire::parse_icmp(data);
    let Ok(pkt) = wire::parse(data) else { return };
    let mut out = Vec::new();
    wire::emit(&pkt, &mut out);
    let again = wire::parse(&out).expect("what we emit parses");
    assert_eq!(again.ip.src, pkt.ip.src);
    assert_eq!(again.ip.dst, pkt.ip.dst);
    let (a, b) = (&again.tcp, &pkt.tcp);
    assert_eq!(
        (a.src_port, a.dst_port, a.seq, a.ack, a.flags.0, a.window),
        (b.src_port, b.dst_port, b.seq, b.ack, b.flags.0, b.window)
    );
    assert_eq!(a.payload, b.payload);
    assert_eq!(a.options.mss, b.options.mss);
    assert_eq!(a.options.window_scale, b.options.window_scale);
    assert_eq!(a.options.timestamps, b.options.timestamps);
}

/// The packetdrill script parser: any text gives a script or an error naming a line of
/// the text; never a panic.
pub fn script(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = synack_drill::script::Script::parse(&text, &[]) {
        let lines = text.lines().count().max(1);
        assert!(
            e.line >= 1 && e.line <= lines + 1,
            "error line {} of {lines}: {}",
            e.line,
            e.message
        );
        assert!(!e.message.is_empty());
    }
}

/// sysctl.conf text and `--set name=value`: any input is applied or refused with a
/// message; a refused setting leaves the configuration as it was.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for profile in [synack_core::Profile::Seed, synack_core::Profile::Linux] {
        let mut c = synack_core::Config::for_profile(profile);
        if let Err(e) = c.load_sysctl_conf(&text, "fuzz.conf") {
            assert!(!e.to_string().is_empty());
        }
        for line in text.lines().take(16) {
            if let Some((k, v)) = line.split_once('=') {
                let before = c.get(k.trim()).ok();
                if c.set(k.trim(), v.trim()).is_err() {
                    assert_eq!(c.get(k.trim()).ok(), before, "a refused set changed {k}");
                }
            }
        }
        // Whatever was accepted builds a working stack.
        let mut st = synack_core::Stack::new(c, &["10.0.0.1".parse().unwrap()]);
        let now = synack_core::Instant::from_micros(0);
        if let Ok(fd) = st.socket(now) {
            let _ = st.listen(now, fd, 16);
        }
        st.handle_timeout(now);
    }
}
