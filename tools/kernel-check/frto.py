# F-RTO and undo stories against the kernel: python3 frto.py spurious|spurious_sack|real|dsack|dsack_full
# (tests/drill/frto_*.pkt; the dsack ones show RACK starting recovery on the first SACK).
import os, sys, struct; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
def info(c):
    b = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    u = struct.unpack_from("24I", b, 8)
    return "ca=%d cwnd=%d ssthresh=%d retrans=%d unacked=%d rtt=%dus rto=%dus reord=%d" % (b[1], u[18], u[17], u[7], u[4], u[15], u[0], u[20])
def nst():
    out = os.popen("nstat -z 2>/dev/null").read().split("\n")
    keep = [l for l in out if any(k in l for k in ("LossProbe", "Undo", "Spurious", "Timeouts", "RetransSegs", "DSACK", "Recovery", "Reorder"))]
    return " | ".join(" ".join(l.split()[:2]) for l in keep if len(l.split()) > 1 and l.split()[1] != "0")
STORY = sys.argv[1]
os.system("sysctl -qw net.ipv4.tcp_early_retrans=0")
os.system("nstat -n >/dev/null")
tun = Tun()
c, s0 = accept_connection(tun)
rel = lambda q: (q["seq"] - s0, q["seq"] - s0 + q["len"])
A = lambda a: s0 + a
def show(label, t=0.03):
    for tt, q in tun.recv(t): print("%.3f %s: %s %d:%d" % (tt, label, q["flags"], *rel(q)))
def ack(a, sack=None):
    opts = [("nop",), ("nop",), ("sack", [(A(l), A(r)) for l, r in sack])] if sack else []
    tun.send(tcp_pkt(40000, 8080, ISN + 1, A(a), ".", 257, opts))
c.send(b"x" * 16000)
show("sent", 0.02)
print(info(c))
t0 = time.monotonic()
while STORY[:5] != "dsack" and time.monotonic() - t0 < 3:
    got = tun.recv(0.01)
    for tt, q in got: print("%.3f RTO: %s %d:%d" % (tt, q["flags"], *rel(q)))
    if got: break
print(info(c), nst())
if STORY == "spurious":
    ack(1001); show("after ack 1001"); print(info(c), nst())
    ack(3001); show("after ack 3001"); print(info(c), nst())
elif STORY == "spurious_sack":
    ack(2001); show("after ack 2001"); print(info(c), nst())
elif STORY[:5] == "dsack":
    ack(1, [(1001, 2001)]); show("after sack 1001:2001"); print(info(c), nst())
    ack(1, [(1001, 3001)]); show("after sack 1001:3001"); print(info(c), nst())
    ack(1, [(1001, 4001)]); show("after sack 1001:4001"); print(info(c), nst())
    if STORY == "dsack":
        ack(4001, [(1, 1001)]); show("after ack 4001 dsack 1:1001"); print(info(c), nst())
    else:
        ack(12001, [(1, 1001)]); show("after ack 12001 dsack 1:1001"); print(info(c), nst())
elif STORY == "real":
    ack(1001); show("after ack 1001"); print(info(c), nst())
    ack(1001, [(10001, 11001)]); show("after sack 10001:11001"); print(info(c), nst())
    ack(1001, [(10001, 12001)]); show("after sack 10001:12001"); print(info(c), nst())
