# Ten 1000-byte segments (IW10), the first five lost; one ACK SACKs 5001:10001.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
os.system("sysctl -qw net.ipv4.tcp_timestamps=0")
tun = Tun()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((LOCAL, 8080)); ls.listen(1)
isn = 1000
tun.send(tcp_pkt(40000, 8080, isn, 0, "S", 32792, [("mss", 1000), ("sackOK",), ("nop",), ("nop",), ("nop",), ("wscale", 7)]))
synack = [q for _, q in tun.recv(0.2) if "S" in q["flags"]][0]
s0 = synack["seq"]
rel = lambda q: (q["seq"] - s0, q["seq"] - s0 + q["len"])
time.sleep(0.05)
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 1, ".", 257))
c, _ = ls.accept()
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
c.send(b"x" * 20000)
for t, q in tun.recv(0.05): print("%.3f sent %s %d:%d" % (t, q["flags"], *rel(q)))
A = lambda a: s0 + a
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 1, ".", 257, [("sack", [(A(5001), A(10001))]), ("nop",), ("nop",)]))
for t, q in tun.recv(0.03): print("%.3f after sack: %s %d:%d" % (t, q["flags"], *rel(q)))
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 2001, ".", 257, [("sack", [(A(5001), A(10001))]), ("nop",), ("nop",)]))
for t, q in tun.recv(0.03): print("%.3f after ack 2001: %s %d:%d" % (t, q["flags"], *rel(q)))
