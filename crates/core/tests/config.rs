//! Settings by their Linux names: profiles, checked values, sysctl.conf files, /proc/sys.
use std::time::Duration;
use synack_core::{Config, ConfigError, Profile};

#[test]
fn profiles_match_linux_tcp_md() {
    let s = Config::seed();
    let l = Config::linux();
    let table = [
        ("net.ipv4.tcp_syn_retries", "5", "6"),
        ("net.ipv4.tcp_syn_linear_timeouts", "0", "4"),
        ("net.ipv4.tcp_synack_retries", "5", "5"),
        ("net.ipv4.tcp_max_syn_backlog", "2048", "2048"),
        ("net.core.somaxconn", "128", "4096"),
        ("net.ipv4.tcp_abort_on_overflow", "0", "0"),
        ("net.ipv4.tcp_syncookies", "1", "1"),
        ("net.ipv4.tcp_fastopen", "1", "1"),
        ("net.ipv4.tcp_keepalive_time", "7200", "7200"),
        ("net.ipv4.tcp_keepalive_intvl", "75", "75"),
        ("net.ipv4.tcp_keepalive_probes", "9", "9"),
        ("net.ipv4.tcp_retries1", "3", "3"),
        ("net.ipv4.tcp_retries2", "15", "15"),
        ("net.ipv4.tcp_orphan_retries", "0", "0"),
        ("net.ipv4.tcp_max_orphans", "131072", "131072"),
        ("net.ipv4.tcp_fin_timeout", "60", "60"),
        ("synack.time_wait_len", "60", "60"),
        ("net.ipv4.tcp_tw_reuse", "1", "2"),
        ("net.ipv4.tcp_max_tw_buckets", "18000", "131072"),
        (
            "net.ipv4.ip_local_port_range",
            "32768\t60999",
            "32768\t60999",
        ),
        ("net.ipv4.tcp_timestamps", "1", "1"),
        ("net.ipv4.tcp_sack", "1", "1"),
        ("net.ipv4.tcp_window_scaling", "1", "1"),
        (
            "net.ipv4.tcp_rmem",
            "4096\t131072\t6291456",
            "4096\t131072\t6291456",
        ),
        (
            "net.ipv4.tcp_wmem",
            "4096\t16384\t4194304",
            "4096\t16384\t4194304",
        ),
        ("net.core.netdev_max_backlog", "1000", "1000"),
    ];
    for (name, seed, linux) in table {
        assert_eq!(s.get(name).unwrap(), seed, "{name} (seed)");
        assert_eq!(l.get(name).unwrap(), linux, "{name} (linux)");
    }
    assert_eq!("linux".parse::<Profile>(), Ok(Profile::Linux));
    assert!("bsd".parse::<Profile>().is_err());
}

#[test]
fn every_setting_round_trips_and_names_are_flexible() {
    let mut c = Config::seed();
    let all: Vec<(&str, String)> = c.settings().map(|(n, v, _, _)| (n, v)).collect();
    assert!(all.len() >= 30);
    for (name, value) in &all {
        c.set(name, value).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&c.get(name).unwrap(), value);
    }
    c.set("tcp_syn_retries", "3").unwrap();
    c.set("/proc/sys/net/ipv4/tcp_synack_retries", "2").unwrap();
    c.set("net/core/somaxconn", "511").unwrap();
    c.set("net.ipv4.ip_local_port_range", "40000 40100")
        .unwrap();
    c.set("net.ipv4.tcp_fastopen", "0x603").unwrap();
    c.set("synack.time_wait_len", "0.5").unwrap();
    assert_eq!(
        (c.tcp_syn_retries, c.tcp_synack_retries, c.somaxconn),
        (3, 2, 511)
    );
    assert_eq!(c.ip_local_port_range, (40000, 40100));
    assert_eq!(c.tcp_fastopen, 0x603);
    assert_eq!(c.time_wait_len, Duration::from_millis(500));
}

#[test]
fn fast_open_key_is_stored_as_the_kernel_does() {
    let mut c = Config::seed();
    c.set(
        "net.ipv4.tcp_fastopen_key",
        "00010203-04050607-08090a0b-0c0d0e0f",
    )
    .unwrap();
    assert_eq!(c.tcp_fastopen_key.unwrap()[..8], [3, 2, 1, 0, 7, 6, 5, 4]);
    assert_eq!(
        c.get("tcp_fastopen_key").unwrap(),
        "00010203-04050607-08090a0b-0c0d0e0f"
    );
    c.set(
        "tcp_fastopen_key",
        "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4,00000001-00000002-00000003-00000004",
    )
    .unwrap();
    assert_eq!(
        c.get("tcp_fastopen_key").unwrap(),
        "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4,00000001-00000002-00000003-00000004"
    );
    assert!(c.set("tcp_fastopen_key", "xyz").is_err());
}

#[test]
fn bad_values_name_the_setting_and_the_range() {
    let mut c = Config::seed();
    let e = c.set("net.ipv4.tcp_syn_retries", "300").unwrap_err();
    assert_eq!(
        e.to_string(),
        "net.ipv4.tcp_syn_retries: \"300\" is not allowed (1..=127)"
    );
    let e = c.set("tcp_rmem", "4096 100 10").unwrap_err();
    assert!(e.to_string().contains("min <= default <= max"), "{e}");
    let e = c.set("ip_local_port_range", "5000 4000").unwrap_err();
    assert!(e.to_string().contains("low <= high"), "{e}");
    let e = c.set("net.ipv4.tcp_syn_retris", "3").unwrap_err();
    assert_eq!(
        e,
        ConfigError::UnknownSetting {
            name: "net.ipv4.tcp_syn_retris".into(),
            suggestion: Some("net.ipv4.tcp_syn_retries")
        }
    );
    assert!(e
        .to_string()
        .contains("did you mean net.ipv4.tcp_syn_retries"));
    assert_eq!(
        c,
        {
            let mut s = Config::seed();
            s.tcp_syn_retries = 5;
            s
        },
        "a failed set changes nothing"
    );
}

#[test]
fn sysctl_conf_files() {
    let text = "# tuning\n; another comment\n\nnet.ipv4.tcp_syn_retries = 3\n-net.ipv4.no_such_thing = 1\nnet.core.somaxconn=1024\nnet.ipv4.tcp_keepalive_time = 0\n";
    let mut c = Config::seed();
    let e = c.load_sysctl_conf(text, "x.conf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.conf:7: net.ipv4.tcp_keepalive_time: \"0\" is not allowed (1..=32767)"
    );
    assert_eq!((c.tcp_syn_retries, c.somaxconn), (3, 1024));
    let dir = std::env::temp_dir().join(format!("synack-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.conf");
    std::fs::write(&path, "net.ipv4.tcp_fin_timeout = 30\n").unwrap();
    let mut c = Config::seed();
    c.load_file(&path).unwrap();
    assert_eq!(c.tcp_fin_timeout, Duration::from_secs(30));
    assert!(c
        .load_file(&dir.join("missing.conf"))
        .unwrap_err()
        .to_string()
        .contains("missing.conf"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reads_a_proc_sys_tree() {
    let root = std::env::temp_dir().join(format!("synack-proc-{}", std::process::id()));
    std::fs::create_dir_all(root.join("net/ipv4")).unwrap();
    std::fs::create_dir_all(root.join("net/core")).unwrap();
    std::fs::write(root.join("net/ipv4/tcp_syn_retries"), "4\n").unwrap();
    std::fs::write(root.join("net/ipv4/tcp_rmem"), "4096\t87380\t6291456\n").unwrap();
    std::fs::write(root.join("net/core/somaxconn"), "65535\n").unwrap();
    let c = Config::from_host(&root).unwrap();
    assert_eq!(c.profile, Profile::Linux);
    assert_eq!((c.tcp_syn_retries, c.somaxconn), (4, 65535));
    assert_eq!(c.tcp_rmem, [4096, 87380, 6291456]);
    assert_eq!(
        c.tcp_synack_retries, 5,
        "missing files keep the profile's value"
    );
    let _ = std::fs::remove_dir_all(&root);
    // This machine's own /proc/sys parses too, where there is one.
    if std::path::Path::new("/proc/sys/net/ipv4/tcp_syn_retries").exists() {
        Config::from_host(std::path::Path::new("/proc/sys")).unwrap();
    }
}
