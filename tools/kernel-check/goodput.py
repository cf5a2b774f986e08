# Linux's own goodput on the paths of `synack bench --goodput` (crates/bench/src/netpath.rs),
# so that synack's lossy rows are judged against the kernel it imitates, not only against
# formulas. Run as root (after `cargo build --release -p synack` for --synack):
#
#   python3 tools/kernel-check/goodput.py [--synack] [--cc bbr] [RATE_MBIT RTT_MS LOSS_PCT ...]
#
# --cc NAME: the sender's congestion control (default cubic): TCP_CONGESTION on Linux's
# socket, net.ipv4.tcp_congestion_control for synack's.
# --synack: the sender is synack itself (`synack connect --app source`, linux profile, on a
# TUN device of its own behind the sender namespace's kernel, which forwards its packets
# onto the path), the receiver still Linux: the same path, the same receiver, only the
# sender differs — its congestion control and loss recovery are what the rows compare.
# --synack-rx: the other way round — a Linux sender, synack the receiver (`synack serve
# --app discard` behind the receiver namespace's kernel): how the receiver's ACKs and
# window shape a Linux sender's slow start (goodput from synack's tcpi_bytes_received).
#
# Two namespaces, a sender (gpA) and a receiver (gpB), each with a TUN device whose other
# end is this script: a path like the simulator's, in user space (this kernel has no netem).
# Data from A to B: random loss, then a drop-tail queue of one bandwidth-delay product (at
# least 16 packets) draining at the path's rate, then half the RTT; ACKs from B to A: half
# the RTT, no loss. A TUN device does no segmentation offload, so every packet is one
# MSS, as in the simulator. Drops happen here, so the sender's TCP learns of them only
# from ACKs. The sender is CUBIC (TCP_CONGESTION; this host's default is BBR); both ends
# have the simulator's buffers, 64 MiB from the start; the warm-up is the first 5 s (or 25
# RTTs), the measure the next 20 s (or 100 RTTs): the bytes the receiver read, in Mbit/s,
# with the sender's retransmissions, timeouts, recoveries and loss probes (nstat) over
# the whole run. Python moves the packets: rows above 100 Mbit/s are out of its reach.
import fcntl, heapq, os, random, re, select, socket, struct, subprocess, sys, threading, time

NS = ("gpA", "gpB")
PORT = 5001
TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def ns(n, cmd):
    sh("ip netns exec %s %s" % (n, cmd))


def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def setup(synack=False, synack_rx=False):
    teardown()
    fds = []
    for n, dev, mine, other in (("gpA", "gpa", "10.9.1.1", "10.9.2.0/24"),
                                ("gpB", "gpb", "10.9.2.1", "10.9.1.0/24")):
        sh("ip netns add " + n)
        ns(n, "ip link set lo up")
        fds.append(tun(dev))
        sh("ip link set %s netns %s" % (dev, n))
        ns(n, "ip link set %s up txqueuelen 10000" % dev)
        ns(n, "ip addr add %s/32 dev %s" % (mine, dev))
        ns(n, "ip route add %s dev %s" % (other, dev))
        # The simulator's buffers: 64 MiB from the start (tcp_rmem/tcp_wmem [1] and [2]).
        ns(n, "sysctl -qw net.ipv4.tcp_rmem='4096 67108864 67108864'")
        ns(n, "sysctl -qw net.ipv4.tcp_wmem='4096 67108864 67108864'")
    if synack:
        # synack sits behind the sender's kernel, which forwards its packets to the path.
        ns("gpA", "sysctl -qw net.ipv4.ip_forward=1")
        ns("gpB", "ip route add 10.9.3.0/24 dev gpb")
    if synack_rx:
        # synack's receiver sits behind the receiver's kernel.
        ns("gpB", "sysctl -qw net.ipv4.ip_forward=1")
        ns("gpA", "ip route add 10.9.4.0/24 dev gpa")
    return fds


def teardown():
    for n in NS:
        subprocess.run("ip netns del %s 2>/dev/null" % n, shell=True)


def route(fa, fb, rate_mbit, rtt_ms, loss_pct, until, seed=1):
    """Move packets between the two TUN devices until `until` (monotonic); the number of
    data packets the full queue dropped."""
    rng = random.Random(seed)
    rate = rate_mbit * 1e6
    half = rtt_ms / 2000.0
    qlimit = max(16, int(rate * rtt_ms / 1000.0 / (1500 * 8)))
    link_free = 0.0
    queue = []  # departure times of the packets waiting for (or on) the bottleneck
    due = []  # (time, seq, fd, packet)
    seq = 0
    qdrops = 0
    while True:
        now = time.monotonic()
        if now >= until:
            return qdrops
        timeout = min(until - now, max(0.0, due[0][0] - now) if due else 0.1)
        r, _, _ = select.select([fa, fb], [], [], timeout)
        now = time.monotonic()
        for fd in r:
            while True:
                try:
                    p = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if fd == fa:
                    if rng.random() * 100 < loss_pct:
                        continue
                    while queue and queue[0] <= now:
                        queue.pop(0)
                    if len(queue) >= qlimit:
                        qdrops += 1
                        continue
                    link_free = max(now, link_free) + len(p) * 8 / rate
                    queue.append(link_free)
                    heapq.heappush(due, (link_free + half, seq, fb, p))
                else:
                    heapq.heappush(due, (now + half, seq, fa, p))
                seq += 1
        while due and due[0][0] <= now:
            _, _, fd, p = heapq.heappop(due)
            try:
                os.write(fd, p)
            except OSError:
                pass


def counters_of(out):
    """nstat's output (the kernel's or synack's) as {name: value}."""
    vals = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0][0].isalpha() and f[1].isdigit():
            vals[f[0]] = int(f[1])
    return vals


def nstat(n):
    out = subprocess.run("ip netns exec %s nstat -az TcpRetransSegs TcpExtTCPTimeouts "
                         "TcpExtTCPLossProbes TcpExtTCPSackRecovery TcpExtTCPRenoRecovery "
                         "TcpExtTCPHystartTrainDetect TcpExtTCPHystartDelayDetect "
                         "TcpExtTCPHystartTrainCwnd TcpExtTCPHystartDelayCwnd"
                         % n, shell=True, capture_output=True, text=True).stdout
    return counters_of(out)


def receiver(warm, window):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("10.9.2.1", PORT))
    ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    t0 = time.monotonic()
    got = 0
    start_bytes = None
    buf = bytearray(1 << 20)
    while True:
        n = c.recv_into(buf)
        if n == 0:
            break
        got += n
        t = time.monotonic() - t0
        if start_bytes is None and t >= warm:
            start_bytes = got
        if t >= warm + window:
            print("%.3f" % ((got - start_bytes) * 8 / window / 1e6), flush=True)
            c.close()
            return


def sender(dst="10.9.2.1"):
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, CC.encode())
    s.connect((dst, PORT))
    chunk = b"x" * (1 << 20)
    try:
        while True:
            s.sendall(chunk)
    except OSError:
        pass


# The sender's congestion control (--cc; the --send child inherits it).
CC = os.environ.get("GOODPUT_CC", "cubic")

SYNACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "target",
                      "release", "synack")
CONTROL = "/tmp/synack-goodput.sock"


def synack_nstat():
    out = subprocess.run([SYNACK, "nstat", "--control", CONTROL, "-az"], capture_output=True,
                         text=True).stdout
    return counters_of(out)


def synack_received():
    """tcpi_bytes_received of synack's connection (--synack-rx)."""
    out = subprocess.run([SYNACK, "ss", "--control", CONTROL, "-tni", "state", "established"],
                         capture_output=True, text=True).stdout
    return sum(int(b) for b in re.findall(r"bytes_received:(\d+)", out))


def row(rate, rtt, loss, synack=False, synack_rx=False):
    fa, fb = setup(synack, synack_rx)
    try:
        warm = max(5.0, 25 * rtt / 1000.0)
        window = max(20.0, 100 * rtt / 1000.0)
        me = os.path.abspath(__file__)
        if synack_rx:
            buf = "net.ipv4.tcp_%smem=4096 67108864 67108864"
            rx = subprocess.Popen(
                ["ip", "netns", "exec", "gpB", SYNACK, "serve", "--tun", "syn1",
                 "--host-addr", "10.9.4.1/24", "--addr", "10.9.4.2", "--profile", "linux",
                 "--set", buf % "w", "--set", buf % "r", "--app", "discard",
                 "--port", str(PORT), "--duration", str(int(warm + window + 10)),
                 "--control", CONTROL], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            before = nstat("gpA")
            tx = subprocess.Popen(["ip", "netns", "exec", "gpA", sys.executable, me, "--send",
                                   "10.9.4.2"])
            marks = []
            timers = [threading.Timer(t, lambda: marks.append(synack_received()))
                      for t in (warm, warm + window)]
            for t in timers:
                t.start()
            counters = {}
            fetch = threading.Timer(warm + window - 0.3, lambda: counters.update(nstat("gpA")))
            fetch.start()
            qdrops = route(fa, fb, rate, rtt, loss, time.monotonic() + warm + window + 1.0)
            for t in timers + [fetch]:
                t.join()
            tx.kill()
            rx.kill()
            tx.wait()
            rx.wait()
            mbit = (marks[1] - marks[0]) * 8 / window / 1e6 if len(marks) == 2 else 0.0
            report(rate, rtt, loss, mbit, before, counters, qdrops)
            return
        rx = subprocess.Popen(["ip", "netns", "exec", "gpB", sys.executable, me, "--recv",
                               str(warm), str(window)], stdout=subprocess.PIPE, text=True)
        assert rx.stdout.readline().strip() == "ready"
        if synack:
            before = {}
            buf = "net.ipv4.tcp_%smem=4096 67108864 67108864"
            tx = subprocess.Popen(
                ["ip", "netns", "exec", "gpA", SYNACK, "connect", "--tun", "syn0",
                 "--host-addr", "10.9.3.1/24", "--addr", "10.9.3.2", "--profile", "linux",
                 "--set", buf % "w", "--set", buf % "r", "--app", "source",
                 "--set", "net.ipv4.tcp_congestion_control=" + CC,
                 "--bytes", str(1 << 40), "--duration", str(int(warm + window + 10)),
                 "--control", CONTROL, "10.9.2.1:%d" % PORT],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            before = nstat("gpA")
            tx = subprocess.Popen(["ip", "netns", "exec", "gpA", sys.executable, me, "--send"])
        # The counters just before the window ends: the receiver then closes, and
        # `synack connect` exits with its connection.
        counters = {}
        fetch = threading.Timer(warm + window - 0.3, lambda: counters.update(
            synack_nstat() if synack else nstat("gpA")))
        fetch.start()
        qdrops = route(fa, fb, rate, rtt, loss, time.monotonic() + warm + window + 2.0)
        mbit = float(rx.stdout.readline())
        fetch.join()
        tx.kill()
        rx.wait()
        tx.wait()
        report(rate, rtt, loss, mbit, before, counters, qdrops)
    finally:
        os.close(fa)
        os.close(fb)
        teardown()


def report(rate, rtt, loss, mbit, before, after, qdrops):
    """One row of the table: goodput and the sender's counters over the run."""
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    hs = d.get("TcpExtTCPHystartTrainDetect", 0) + d.get("TcpExtTCPHystartDelayDetect", 0)
    hs_cwnd = d.get("TcpExtTCPHystartTrainCwnd", 0) + d.get("TcpExtTCPHystartDelayCwnd", 0)
    print("%6g %4gms %5g%% %9.1f %7d %5d %4d %5d %6d %3d %8s" % (
        rate, rtt, loss, mbit, d.get("TcpRetransSegs", 0), d.get("TcpExtTCPTimeouts", 0),
        d.get("TcpExtTCPSackRecovery", 0), d.get("TcpExtTCPLossProbes", 0), qdrops, hs,
        ("%d" % hs_cwnd) if hs else "-"), flush=True)


def watch_receiver(rate, rtt, loss, secs, sample, sysctls=()):
    """A Linux sender (CUBIC) and receiver on the path for `secs`, `sysctls` applied in
    both namespaces after setup; `sample()` every half second: the list of what it returned."""
    fa, fb = setup(False)
    for n in NS:
        for c in sysctls:
            ns(n, "sysctl -qw " + c)
    me = os.path.abspath(__file__)
    try:
        rx = subprocess.Popen(["ip", "netns", "exec", "gpB", sys.executable, me, "--recv",
                               str(secs), str(secs)], stdout=subprocess.PIPE, text=True)
        assert rx.stdout.readline().strip() == "ready"
        tx = subprocess.Popen(["ip", "netns", "exec", "gpA", sys.executable, me, "--send"])
        rows = []

        def watch():
            for _ in range(int(secs * 2) - 1):
                time.sleep(0.5)
                rows.append(sample())

        th = threading.Thread(target=watch)
        th.start()
        route(fa, fb, rate, rtt, loss, time.monotonic() + secs)
        th.join()
        tx.kill()
        rx.kill()
        return rows
    finally:
        os.close(fa)
        os.close(fb)
        teardown()


DEFAULT = [(10, 10, 5), (100, 10, 1), (100, 10, 5), (10, 50, 1), (100, 50, 5),
           (100, 10, 0.1), (10, 200, 0.1), (10, 10, 1)]

if __name__ == "__main__":
    synack = "--synack" in sys.argv
    synack_rx = "--synack-rx" in sys.argv
    sys.argv = [a for a in sys.argv if a not in ("--synack", "--synack-rx")]
    if "--cc" in sys.argv:
        i = sys.argv.index("--cc")
        CC = os.environ["GOODPUT_CC"] = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    if sys.argv[1:2] == ["--recv"]:
        receiver(float(sys.argv[2]), float(sys.argv[3]))
    elif sys.argv[1:2] == ["--send"]:
        sender(*sys.argv[2:3])
    else:
        args = [float(a) for a in sys.argv[1:]]
        rows = [tuple(args[i:i + 3]) for i in range(0, len(args), 3)] or DEFAULT
        if synack:
            who = "synack (linux profile) sending to Linux %s" % os.uname().release
        elif synack_rx:
            who = "Linux %s sending to synack (linux profile)" % os.uname().release
        else:
            who = "Linux %s" % os.uname().release
        print("%s, %s; Mbit/s of bytes read in the window (whole run: rtx, RTO, rec, TLP,"
              " queue drops, HyStart exits and the window then)" % (who, CC))
        print("Mbit/s   RTT   loss    %6s     rtx   RTO  rec   TLP qdrops  HS  HS cwnd"
              % ("synack" if synack else "linux"))
        for r in rows:
            row(*r, synack=synack, synack_rx=synack_rx)
