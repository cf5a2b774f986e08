//! The simulator carries IPv6 as well: routing by destination, capture, views.
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use synack_core::{Config, Instant, TcpState};
use synack_sim::view::Renderer;
use synack_sim::{LinkConfig, Sim};

#[test]
fn an_ipv6_handshake_and_close_over_the_sim() {
    let (ca, sa): (IpAddr, IpAddr) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
    let mut sim = Sim::new(4);
    let c = sim.add_host("client", Config::seed(), &[ca]);
    let s = sim.add_host("server", Config::seed(), &[sa]);
    let link = sim.add_link(c, s, LinkConfig::default(), LinkConfig::default());
    sim.capture();
    let srv = SocketAddr::new(sa, 443);
    let l = sim.call(s, |st, now| {
        let fd = st.socket(now).unwrap();
        st.bind(now, fd, srv).unwrap();
        st.listen(now, fd, 8).unwrap();
        fd
    });
    let fd = sim.call(c, |st, now| {
        let fd = st.socket(now).unwrap();
        let _ = st.connect(now, fd, srv);
        fd
    });
    assert!(sim.run_until_cond(Instant::from_secs(1), |sim| sim
        .stack(s)
        .poll(l)
        .is_ok_and(|r| r.readable)));
    assert_eq!(sim.now(), Instant::from_millis(75));
    assert_eq!(sim.stack(c).state(fd), Ok(TcpState::Established));
    sim.call(c, |st, now| st.close(now, fd)).unwrap();
    sim.run_for(Duration::from_secs(1));
    let lines = Renderer::new(&sim).lines(sim.events());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("0.025s  server  client ← server  S. 0:0(0) ack 1")),
        "{lines:#?}"
    );
    let pcap = sim.pcap(link).unwrap();
    assert!(pcap.len() >= 4);
    // Every record is an IPv6 packet.
    let bytes = pcap.to_bytes();
    let mut off = 24;
    while off < bytes.len() {
        let incl = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        assert_eq!(bytes[off + 16] >> 4, 6);
        off += 16 + incl;
    }
    // Idle once TIME_WAIT is over: nothing in flight, no timer armed.
    assert!(sim.run_until_idle(Instant::from_secs(100)));
    assert!(sim.now() < Instant::from_secs(62));
}
