# tests/drill/tlp_loss_probe_recovery.pkt: the last of ten segments lost; the loss probe
# resends it; the ACK beyond it (after new data) reduces the window once (CWR).
import os, sys, struct; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
def info(c):
    b = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    ca = b[1]
    snd_ssthresh, rcv_ssthresh = struct.unpack_from("II", b, 64)[:2] if False else (None, None)
    # struct tcp_info: 8 u8 fields, then u32s: rto ato snd_mss rcv_mss unacked sacked lost retrans fackets
    # last_data_sent last_ack_sent last_data_recv last_ack_recv pmtu rcv_ssthresh rtt rttvar snd_ssthresh snd_cwnd ...
    u = struct.unpack_from("24I", b, 8)
    return "ca=%d cwnd=%d ssthresh=%d retrans=%d unacked=%d rtt=%dus reord=%d" % (ca, u[18], u[17], u[7], u[4], u[15], u[20])
def nst():
    out = os.popen("nstat -z 2>/dev/null").read().split("\n")
    keep = [l for l in out if any(k in l for k in ("LossProbe", "Undo", "Spurious", "Timeouts", "RetransSegs", "DSACK", "Recovery", "Reorder"))]
    return " | ".join(" ".join(l.split()[:2]) for l in keep if l.split()[1] != "0")
os.system("nstat -n >/dev/null")
tun = Tun()
c, s0 = accept_connection(tun)
rel = lambda q: (q["seq"] - s0, q["seq"] - s0 + q["len"])
A = lambda a: s0 + a
def show(label, t=0.05):
    for tt, q in tun.recv(t): print("%.3f %s: %s %d:%d" % (tt, label, q["flags"], *rel(q)))
c.send(b"x" * 10000)
show("sent", 0.02)
print(info(c))
tun.send(tcp_pkt(40000, 8080, ISN + 1, A(9001), ".", 257))
t0 = time.monotonic()
while time.monotonic() - t0 < 1.5:
    got = tun.recv(0.01)
    for tt, q in got: print("%.3f after ack 9001: %s %d:%d" % (tt, q["flags"], *rel(q)))
    if got: break
print(info(c), nst())
tun.send(tcp_pkt(40000, 8080, ISN + 1, A(10001), ".", 257))
show("after ack 10001", 0.02)
print(info(c), nst())
c.send(b"y" * 5000)
show("after write 5000", 0.02)
tun.send(tcp_pkt(40000, 8080, ISN + 1, A(15001), ".", 257))
show("after ack 15001", 0.05)
print(info(c), nst())
