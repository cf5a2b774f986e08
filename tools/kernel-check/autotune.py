# Receive-buffer auto-tuning (tcp_rcv_space_adjust) on one of goodput.py's paths, with
# the default buffers (tcp_rmem 4096 131072 6291456, tcp_wmem 4096 16384 4194304): every
# half second the receiver's rcvbuf (`ss -m`: skmem rb), rcv_space, rcv_rtt, window clamp
# side (rcv_ssthresh) and the goodput of that half second. Run as root:
#
#   python3 tools/kernel-check/autotune.py [RATE_MBIT RTT_MS LOSS_PCT]   (default 100 50 0)
import os, re, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import goodput as g  # noqa: E402


def sample():
    out = subprocess.run("ip netns exec gpB ss -tmiH state established", shell=True,
                         capture_output=True, text=True).stdout
    vals = {}
    m = re.search(r"skmem:\(r(\d+),rb(\d+)", out)
    if m:
        vals["rmem"], vals["rb"] = int(m.group(1)), int(m.group(2))
    for k in ("rcv_space", "rcv_ssthresh", "bytes_received"):
        m = re.search(r"\b%s:(\d+)" % k, out)
        if m:
            vals[k] = int(m.group(1))
    m = re.search(r"\brcv_rtt:([\d.]+)", out)
    if m:
        vals["rcv_rtt"] = float(m.group(1))
    return vals


def main(rate, rtt, loss, secs=6.0):
    rows = g.watch_receiver(rate, rtt, loss, secs, sample, (
        "net.ipv4.tcp_rmem='4096 131072 6291456'", "net.ipv4.tcp_wmem='4096 16384 4194304'"))
    print("Linux %s, %g Mbit/s, %g ms, %g%% loss, default buffers: the receiver every 0.5 s"
          % (os.uname().release, rate, rtt, loss))
    print("   t    Mbit/s      rcvbuf  rcv_space  rcv_ssthresh  rcv_rtt")
    prev = 0
    for i, r in enumerate(rows):
        got = r.get("bytes_received", 0)
        print("%4.1f %9.1f %11d %10d %13d %8s" % (
            0.5 * (i + 1), (got - prev) * 8 / 0.5 / 1e6, r.get("rb", 0),
            r.get("rcv_space", 0), r.get("rcv_ssthresh", 0), r.get("rcv_rtt", "-")))
        prev = got


if __name__ == "__main__":
    a = [float(x) for x in sys.argv[1:4]] or [100, 50, 0]
    main(*a)
