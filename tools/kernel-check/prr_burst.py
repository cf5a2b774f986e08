# Ten 1000-byte segments (IW10), the first five lost; one ACK SACKs 5001:10001.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
tun = Tun()
c, s0 = accept_connection(tun)
isn = ISN
rel = lambda q: (q["seq"] - s0, q["seq"] - s0 + q["len"])
c.send(b"x" * 20000)
for t, q in tun.recv(0.05): print("%.3f sent %s %d:%d" % (t, q["flags"], *rel(q)))
A = lambda a: s0 + a
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 1, ".", 257, [("sack", [(A(5001), A(10001))]), ("nop",), ("nop",)]))
for t, q in tun.recv(0.03): print("%.3f after sack: %s %d:%d" % (t, q["flags"], *rel(q)))
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 2001, ".", 257, [("sack", [(A(5001), A(10001))]), ("nop",), ("nop",)]))
for t, q in tun.recv(0.03): print("%.3f after ack 2001: %s %d:%d" % (t, q["flags"], *rel(q)))
