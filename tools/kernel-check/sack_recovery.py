# The shape of tests/drill/sack_recovery.pkt, against the kernel: six 1000-byte segments,
# segments 1 and 4 lost; the first ACK SACKs 1001:3001 and 4001:5001.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
tun = Tun()
c, s0 = accept_connection(tun)
isn = ISN
rel = lambda q: (q["seq"] - s0, q["seq"] - s0 + q["len"])
c.send(b"x" * 6000)
for t, q in tun.recv(0.05): print("%.3f sent %s %d:%d" % (t, q["flags"], *rel(q)))
A = lambda a: s0 + a
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 1, ".", 257, [("sack", [(A(1001), A(3001)), (A(4001), A(5001))]), ("nop",), ("nop",)]))
for t, q in tun.recv(0.03): print("%.3f after ack1: %s %d:%d" % (t, q["flags"], *rel(q)))
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 1, ".", 257, [("sack", [(A(1001), A(3001)), (A(4001), A(6001))]), ("nop",), ("nop",)]))
for t, q in tun.recv(0.03): print("%.3f after ack2: %s %d:%d" % (t, q["flags"], *rel(q)))
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 6001, ".", 257))
for t, q in tun.recv(0.03): print("%.3f after ack3: %s %d:%d" % (t, q["flags"], *rel(q)))
