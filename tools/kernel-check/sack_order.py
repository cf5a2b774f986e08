# The kernel as receiver: two out-of-order segments; the ACK of the second lists its
# block first (RFC 2018), tests/drill/sack_block_order.pkt.
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
time.sleep(0.05)
tun.send(tcp_pkt(40000, 8080, isn + 1, s0 + 1, ".", 257))
c, _ = ls.accept()
def show(label):
    for t, q in tun.recv(0.05):
        print("%s: %s ack %d sack %s" % (label, q["flags"], q["ack"] - isn, [(l - isn, r - isn) for l, r in q["sack"]]))
for a, b in [(1001, 2001), (3001, 4001), (5001, 6001), (1, 1001)]:
    tun.send(tcp_pkt(40000, 8080, isn + a, s0 + 1, "P.", 257, [], b"y" * (b - a)))
    show("after %d:%d" % (a, b))
