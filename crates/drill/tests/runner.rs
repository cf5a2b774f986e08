//! The runner's semantics on small scripts written here: what passes, what fails, and
//! that a failure says where and why.
use std::path::Path;
use synack_drill::{run_text, Options, Outcome};

fn run(text: &str) -> Outcome {
    run_with(text, Options::default())
}

fn run_with(text: &str, opts: Options) -> Outcome {
    let mut log = Vec::new();
    run_text(Path::new("inline.pkt"), text, &opts, &mut log)
}

fn fail(text: &str) -> String {
    match run(text) {
        Outcome::Fail(m) => m,
        other => panic!("expected a failure, got {other:?}"),
    }
}

const SERVER: &str = "\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7>
+.01 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
";

#[test]
fn a_passive_open_and_a_write_pass() {
    let s = format!("{SERVER}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:3001(3000) ack 1\n");
    assert_eq!(run(&s), Outcome::Pass);
}

#[test]
fn a_wrong_segment_names_the_line_what_was_expected_and_what_was_sent() {
    let s = format!("{SERVER}+0 write(4, ..., 100) = 100\n+0 > P. 1:51(50) ack 1\n");
    let m = fail(&s);
    assert!(m.starts_with("inline.pkt:10:"), "{m}");
    assert!(m.contains("expected P. 1:51(50) ack 1"), "{m}");
    assert!(m.contains("our stack sent P. 1:101(100) ack 1"), "{m}");
    assert!(m.contains("at 0.01 s"), "{m}");
}

#[test]
fn a_missing_segment_says_what_came_next() {
    // After data, the ACK of a FIN is delayed 40 ms (the delayed-ACK engine is running).
    let data = "+0 < P. 1:11(10) ack 1 win 257\n+0 > . 1:1(0) ack 11\n+0 read(4, ..., 10) = 10\n";
    let s = format!("{SERVER}{data}+0 < F. 11:11(0) ack 1 win 257\n+0 > . 1:1(0) ack 12\n");
    let m = fail(&s);
    assert!(m.contains("sent nothing on this flow by 0.014 s"), "{m}");
    assert!(m.contains("it next sent . 1:1(0) ack 12"), "{m}");
    assert!(m.contains("at 0.05 s"), "{m}");
    let ok = format!("{SERVER}{data}+0 < F. 11:11(0) ack 1 win 257\n+.04 > . 1:1(0) ack 12\n");
    assert_eq!(run(&ok), Outcome::Pass);
    // Before any data, Linux's ato is 0: the ACK leaves at the next tick.
    let early = format!("{SERVER}+0 < F. 1:1(0) ack 1 win 257\n+.001 > . 1:1(0) ack 2\n");
    assert_eq!(run(&early), Outcome::Pass);
}

#[test]
fn system_call_results_and_errnos_are_checked() {
    let s = format!("{SERVER}+0 read(4, ..., 10) = 10\n");
    // fd 4 is blocking: read() waits and never returns.
    let m = fail(&s);
    assert!(m.contains("read() (line 9) never returned"), "{m}");
    let s = format!(
        "{SERVER}+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n"
    );
    assert_eq!(run(&s), Outcome::Pass);
    let s = format!("{SERVER}+0 shutdown(4, SHUT_WR) = 0\n+0 write(4, ..., 10) = -1 ECONNRESET\n");
    let m = fail(&s);
    assert!(m.contains("returned -1 EPIPE"), "{m}");
}

#[test]
fn blocking_calls_return_when_the_stack_unblocks_them() {
    let s = "\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0...0.2 accept(3, ..., ...) = 4
+.1 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1460>
+.1 < . 1:1(0) ack 1 win 32792
+0...0.05 read(4, ..., 5) = 5
+.05 < P. 1:6(5) ack 1 win 32792
";
    assert_eq!(run(s), Outcome::Pass);
    let late = s.replace("+0...0.2 accept", "+0...0.1 accept");
    let m = fail(&late);
    assert!(
        m.contains("accept() (line 4) returned at 0.2 s, expected at 0.1 s"),
        "{m}"
    );
}

#[test]
fn a_connect_defines_the_flow_and_seq_numbers_are_relative() {
    let s = "\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0...0.1 connect(3, ..., ...) = 0
+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+.1 < S. 5000:5000(0) ack 1 win 65535 <mss 1460,sackOK,TS val 700 ecr 100,nop,wscale 7>
+0 > . 1:1(0) ack 1 <nop,nop,TS val 200 ecr 700>
+0 write(3, ..., 10) = 10
+0 > P. 1:11(10) ack 1 <nop,nop,TS val 200 ecr 700>
+.1 < P. 1:21(20) ack 11 win 1000 <nop,nop,TS val 800 ecr 200>
+0 > . 11:11(0) ack 21 <nop,nop,TS val 300 ecr 800>
";
    assert_eq!(run(s), Outcome::Pass);
    // TS val is checked only with --tcp_ts_tick_usecs (1 ms ticks, as Linux).
    let strict = format!("--tcp_ts_tick_usecs=1000\n{s}");
    assert_eq!(run(&strict), Outcome::Pass);
    let wrong = s.replace("TS val 300 ecr 800", "TS val 250 ecr 800");
    assert_eq!(run(&wrong), Outcome::Pass, "not checked without the flag");
    let m = match run(&format!("--tcp_ts_tick_usecs=1000\n{wrong}")) {
        Outcome::Fail(m) => m,
        o => panic!("{o:?}"),
    };
    assert!(m.contains("TS val 300, expected 250"), "{m}");
}

#[test]
fn unsupported_lines_fail_by_name() {
    let m = fail("0 `rm -rf /`\n");
    assert!(m.contains("unsupported: shell command `rm -rf /`"), "{m}");
    let m = fail("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 splice(3, 4) = 0\n");
    assert!(m.contains("unsupported: system call splice()"), "{m}");
    let m = fail("--frobnicate=1\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
    assert!(m.contains("unsupported: flag --frobnicate"), "{m}");
}

#[test]
fn sysctl_lines_and_nstat_work_on_our_stack() {
    let s = "\
0 `sysctl -q net.ipv4.tcp_synack_retries=1`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 `nstat > /dev/null`
+0 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1460>
+1 > S. 0:0(0) ack 1 <mss 1460>
+3 < . 1:1(0) ack 1 win 32792
+0 > R 1:1(0)
+0 `nstat | grep TcpOutRsts`
";
    assert_eq!(run(s), Outcome::Pass);
    let m = fail(&s.replace("TcpOutRsts", "TcpExtListenOverflows"));
    assert!(m.contains("found nothing"), "{m}");
}

#[test]
fn python_blocks_see_tcp_info() {
    if std::process::Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .is_err()
    {
        eprintln!("skipping: python3 is not installed");
        return;
    }
    let s = format!(
        "{SERVER}+0 %{{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state; assert tcpi_snd_mss == 1000, tcpi_snd_mss }}%\n"
    );
    assert_eq!(run(&s), Outcome::Pass);
    let s = format!("{SERVER}+0 %{{ assert tcpi_state == TCP_CLOSE, tcpi_state }}%\n");
    let m = fail(&s);
    assert!(m.contains("AssertionError: 1"), "{m}");
}

#[test]
fn one_scripted_segment_may_be_several_sent_ones() {
    // 5000 bytes at MSS 1000: five segments match `P. 1:5001(5000)`.
    let s = format!("{SERVER}+0 write(4, ..., 5000) = 5000\n+0 > P. 1:5001(5000) ack 1\n");
    assert_eq!(run(&s), Outcome::Pass);
    // But not a segment too many.
    let s = format!("{SERVER}+0 write(4, ..., 5000) = 5000\n+0 > P. 1:4001(4000) ack 1\n+0 > P. 4001:4501(500) ack 1\n");
    assert!(matches!(run(&s), Outcome::Fail(_)));
}

#[test]
fn another_address_family_is_skipped_and_ipv6_runs() {
    let v6 = "--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n\
              +0 < S 0:0(0) win 32792 <mss 1000>\n+0 > S. 0:0(0) ack 1 <mss 1440>\n";
    assert_eq!(run(v6), Outcome::Pass);
    let other = "--ip_version=ipv4-mapped-ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n";
    assert!(matches!(run(other), Outcome::Skip(_)));
}

#[test]
fn garbage_is_a_located_error_not_a_panic() {
    for text in [
        "+",
        "0 < S 0:1(0)",
        "0 > S. 0:0(0) ack",
        "0 socket(",
        "0 %{ x",
        "0 `x",
        "0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=}, 8) = 0",
        "0 > S 0:0(0) <mss 1460,wscale>",
        "\u{0}\u{1}\u{2}",
        "0 < icmp",
        "0 read(99, ..., 10) = 10",
    ] {
        match run(text) {
            Outcome::Fail(m) => assert!(m.starts_with("inline.pkt"), "{text:?}: {m}"),
            o => panic!("{text:?}: {o:?}"),
        }
    }
}

/// Mutated scripts (bytes flipped, lines dropped or cut) never panic or hang the runner:
/// each ends in a verdict.
#[test]
fn mutated_scripts_never_panic() {
    let base = format!(
        "{SERVER}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:3001(3000) ack 1\n\
         +0 %{{ assert tcpi_state == 1 }}%\n+.1 < . 1:1(0) ack 3001 win 257 <nop,nop,sack 1:2>\n\
         +0 `sysctl -q net.ipv4.tcp_fin_timeout=2`\n+0 close(4) = 0\n+0 > F. 3001:3001(0) ack 1\n\
         +0...2 poll([{{fd=3, events=POLLIN, revents=0}}], 1, 1000) = 0\n"
    );
    let bytes = base.as_bytes();
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..300 {
        let mut b = bytes.to_vec();
        for _ in 0..(rnd() % 4 + 1) {
            let i = (rnd() as usize) % b.len();
            match rnd() % 3 {
                0 => b[i] = (rnd() % 128) as u8,
                1 => {
                    b.remove(i);
                }
                _ => b.truncate(i.max(1)),
            }
        }
        let text = String::from_utf8_lossy(&b).replace("%{", "%_");
        let _ = run(&text);
    }
}

/// ICMP errors of every kind, with odd MTUs and sequence numbers, in several states:
/// the stack takes them without panicking and the connection stays usable or dies with
/// the errno Linux reports.
#[test]
fn icmp_errors_of_every_kind_are_handled() {
    let mut s = format!("{SERVER}+0 write(4, ..., 3000) = 3000\n+0 > P. 1:3001(3000) ack 1\n");
    for (i, line) in [
        "unreachable frag_needed mtu 0",
        "unreachable frag_needed mtu 67",
        "unreachable frag_needed mtu 65535",
        "unreachable frag_needed mtu 576 [1:1001(1000)]",
        "unreachable [4000000000:4000000010(10)]",
        "time_exceeded [1:2(1)]",
        "source_quench [1:2(1)]",
        "unreachable port_unreachable [1:2(1)]",
    ]
    .iter()
    .enumerate()
    {
        s += &format!("+.{:02} < icmp {line}\n", i + 1);
    }
    // Established: only soft errors; the peer's ACK still works.
    s += "+.1 < . 1:1(0) ack 3001 win 257\n+0 write(4, ..., 10) = 10\n";
    match run(&s) {
        Outcome::Pass => {}
        other => panic!("{other:?}"),
    }
    // While connecting, an unreachable ends the attempt with Linux's errno.
    let opening = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                   +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n\
                   +0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n\
                   +0 > S 0:0(0) <...>\n\
                   +.01 < icmp unreachable host_unreachable [0:0(0)]\n\
                   +0 getsockopt(3, SOL_SOCKET, SO_ERROR, [113], [4]) = 0\n";
    assert_eq!(run(opening), Outcome::Pass);
}
