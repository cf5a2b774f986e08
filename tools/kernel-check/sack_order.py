# The kernel as receiver: two out-of-order segments; the ACK of the second lists its
# block first (RFC 2018), tests/drill/sack_block_order.pkt.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
tun = Tun()
c, s0 = accept_connection(tun)
isn = ISN
rel = lambda q: (q["seq"] - s0, q["seq"] - s0 + q["len"])
def show(label):
    for t, q in tun.recv(0.05):
        print("%s: %s ack %d sack %s" % (label, q["flags"], q["ack"] - isn, [(l - isn, r - isn) for l, r in q["sack"]]))
for a, b in [(1001, 2001), (3001, 4001), (5001, 6001), (1, 1001)]:
    tun.send(tcp_pkt(40000, 8080, isn + a, s0 + 1, "P.", 257, [], b"y" * (b - a)))
    show("after %d:%d" % (a, b))
