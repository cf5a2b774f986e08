//! The pcap files: header, records, virtual-time timestamps; tshark reads them cleanly.
mod util;
use std::time::Duration;
use synack_sim::scenarios::{self, Options};
use synack_sim::LinkConfig;
use util::*;

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}

#[test]
fn header_records_and_timestamps() {
    let mut n = net(1, LinkConfig::with_latency(Duration::from_millis(3)));
    n.sim.capture();
    let p1 = a_to_b(1, RST, b"");
    let p2 = a_to_b(2, RST, b"hello");
    let p3 = packet(B, A, 2000, 1000, 3, 0, RST, b"");
    n.send_at(ms(0), &p1);
    n.send_at(us(1_500_000), &p2);
    n.sim.run_until(us(2_000_123));
    n.sim.inject(n.b, &p3);
    n.sim.run_until(ms(3000));

    let pcap = n.sim.pcap(n.link).expect("captured");
    assert_eq!(pcap.len(), 3);
    let b = pcap.to_bytes();
    // Global header: magic (microsecond, little-endian), version 2.4, snaplen, LINKTYPE_RAW.
    assert_eq!(u32_at(&b, 0), 0xa1b2_c3d4);
    assert_eq!(u16::from_le_bytes([b[4], b[5]]), 2);
    assert_eq!(u16::from_le_bytes([b[6], b[7]]), 4);
    assert_eq!(u32_at(&b, 16), 262_144);
    assert_eq!(u32_at(&b, 20), 101);
    // Records, in the order the packets entered the link, stamped with their send time.
    let mut off = 24;
    let mut recs = Vec::new();
    while off < b.len() {
        let (sec, usec, incl, orig) = (
            u32_at(&b, off),
            u32_at(&b, off + 4),
            u32_at(&b, off + 8) as usize,
            u32_at(&b, off + 12) as usize,
        );
        assert_eq!(incl, orig);
        recs.push((sec, usec, b[off + 16..off + 16 + incl].to_vec()));
        off += 16 + incl;
    }
    assert_eq!(off, b.len());
    assert_eq!(recs, vec![(0, 0, p1), (1, 500_000, p2), (2, 123, p3)]);
}

#[test]
fn no_capture_unless_asked() {
    let n = net(1, LinkConfig::default());
    assert!(n.sim.pcap(n.link).is_none());
}

#[test]
fn scenario_pcaps_are_well_formed_for_tshark() {
    let dir = std::env::temp_dir().join(format!("synack-sim-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tshark = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok();
    if !tshark && std::env::var_os("CI").is_some() {
        panic!("tshark is required in CI (.ci/run installs it)");
    }
    for s in scenarios::all() {
        let opts = Options {
            capture: true,
            ..Default::default()
        };
        let (w, _) = scenarios::run(s.name, &opts).unwrap();
        let p = w.sim.pcap(w.link).unwrap();
        assert!(!p.is_empty(), "{}", s.name);
        let path = dir.join(format!("{}.pcap", s.name));
        p.write_to(&path).unwrap();
        if !tshark {
            eprintln!("skipping the tshark check: tshark is not installed");
            continue;
        }
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(["-Y", "_ws.malformed"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout.is_empty(),
            "{}: {}",
            s.name,
            String::from_utf8_lossy(&out.stdout)
        );
        let all = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&all.stdout).lines().count(),
            p.len(),
            "{}",
            s.name
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
