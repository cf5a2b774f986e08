# How often Linux's receiver ACKs a bulk flow while its receive window opens
# (`tcp_grow_window`), on one of goodput.py's paths. Run as root:
#
#   python3 tools/kernel-check/ackpat.py [RATE_MBIT RTT_MS LOSS_PCT]   (default 10 50 0)
#
# A Linux sender (CUBIC) to a Linux receiver over goodput.py's user-space path, both with
# 64 MiB buffers. Every half second the receiver's `ss -tin` gives the data segments in,
# the segments out (all pure ACKs: the receiver sends no data) and rcv_ssthresh; the
# script prints the ACKs per data segment in each interval.
#
# What Linux 6.18 showed (10 Mbit/s, 50 ms, 0%): rcv_ssthresh starts at half the buffer
# (33.5 MB, the default scaling ratio), the clamp follows the measured len/truesize ratio
# (0.625: 41.9 MB), and rcv_ssthresh climbs two segments per segment towards it — and for
# as long as it climbs (3.5 s here) every data segment is ACKed at once (1.00 ACK per
# segment, `icsk_ack.quick |= 1` in tcp_grow_window); once it reaches the clamp, every
# other segment (0.50-0.55).
import os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import goodput as g  # noqa: E402


def sample():
    out = subprocess.run("ip netns exec gpB ss -tinH state established", shell=True,
                         capture_output=True, text=True).stdout.split()
    vals = {}
    for f in out:
        k, _, v = f.partition(":")
        if v.isdigit():
            vals[k] = int(v)
    return vals


def main(rate, rtt, loss, secs=7.0):
    rows = g.watch_receiver(rate, rtt, loss, secs, sample)
    print("Linux %s, %g Mbit/s, %g ms, %g%% loss: the receiver every 0.5 s"
          % (os.uname().release, rate, rtt, loss))
    print("   t  data in  ACKs out  ACKs/segment  rcv_ssthresh")
    prev = {"data_segs_in": 0, "segs_out": 0}
    for i, r in enumerate(rows):
        d = r.get("data_segs_in", 0) - prev["data_segs_in"]
        a = r.get("segs_out", 0) - prev["segs_out"]
        print("%4.1f %8d %9d %13s %13d" % (0.5 * (i + 1), d, a, "%.2f" % (a / d) if d else "-",
                                          r.get("rcv_ssthresh", 0)))
        prev = {k: r.get(k, 0) for k in prev}


if __name__ == "__main__":
    a = [float(x) for x in sys.argv[1:4]] or [10, 50, 0]
    main(*a)
