//! connect()'s ephemeral ports (`__inet_hash_connect`): the search for a destination
//! resumes where the last one stopped (table_perturb), so successive connections to one
//! server take the next free ports (two at a time, one parity first, as Linux 6.x) and the
//! whole range is usable, then EADDRNOTAVAIL.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_core::*;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

fn server(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), port)
}

fn open(st: &mut Stack, to: SocketAddr) -> Result<u16, Errno> {
    let now = Instant::ZERO;
    let fd = st.socket(now)?;
    match st.connect(now, fd, to) {
        Err(Errno::EINPROGRESS) | Ok(()) => Ok(st.local_addr(fd)?.port()),
        Err(e) => {
            st.close(now, fd).ok();
            Err(e)
        }
    }
}

#[test]
fn successive_connections_take_successive_ports_then_the_range_runs_out() {
    let mut cfg = Config::linux();
    cfg.max_sockets = 100_000;
    // A smaller range than the default: once a parity is used up, each connect() scans it
    // all before trying the other (Linux's known slowdown past half the range).
    cfg.ip_local_port_range = (40_000, 44_999);
    let (lo, hi) = cfg.ip_local_port_range;
    let mut st = Stack::new(cfg, &[CLIENT]);
    let range = u32::from(hi - lo) + 1;
    let mut ports = Vec::new();
    for _ in 0..range {
        ports.push(open(&mut st, server(80)).expect("a free port"));
    }
    // Linux 6.x (`__inet_hash_connect`): each search starts where the last one stopped and
    // steps two ports at a time, ports of the range start's parity first (bind() prefers
    // the other): p, p + 2, p + 4, ... wrapping inside the range, then the other parity.
    let half = ports.len() / 2;
    let high = u32::from(hi) + 1;
    let next = |p: u16| {
        let q = u32::from(p) + 2;
        (if q >= high { q - range } else { q }) as u16
    };
    let steps = |v: &[u16]| v.windows(2).filter(|w| w[1] == next(w[0])).count();
    assert_eq!(steps(&ports[..half]), half - 1, "{:?}", &ports[..8]);
    assert!(
        ports[..half].iter().all(|p| p % 2 == lo % 2),
        "low parity first"
    );
    assert!(
        ports[half..].iter().all(|p| p % 2 != lo % 2),
        "then the other"
    );
    assert_eq!(steps(&ports[half..]), half - 1);
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len() as u32, range, "every port of the range, once");
    assert_eq!(open(&mut st, server(80)), Err(Errno::EADDRNOTAVAIL));
    // Another destination has its own 4-tuples: the same ports serve again.
    assert!(open(&mut st, server(443)).is_ok());
}

#[test]
fn the_starting_port_depends_on_the_seed_and_the_destination() {
    let first = |seed: u64, to: SocketAddr| {
        let mut cfg = Config::linux();
        cfg.seed = seed;
        let mut st = Stack::new(cfg, &[CLIENT]);
        open(&mut st, to).unwrap()
    };
    assert_eq!(first(1, server(80)), first(1, server(80)), "deterministic");
    let starts: std::collections::BTreeSet<u16> = (0..16).map(|s| first(s, server(80))).collect();
    assert!(starts.len() > 12, "random per seed: {starts:?}");
    let dests: std::collections::BTreeSet<u16> =
        (0..16).map(|p| first(1, server(1000 + p))).collect();
    assert!(dests.len() > 1, "keyed by the destination: {dests:?}");
}
