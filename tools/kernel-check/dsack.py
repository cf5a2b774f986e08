# The kernel as receiver gets a segment twice: the second ACK carries a D-SACK block
# naming it (RFC 2883), tests/drill/dsack_old_duplicate.pkt.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
tun = Tun()
c, s0 = accept_connection(tun)
def show(label):
    for t, q in tun.recv(0.05):
        print("%s: %s ack %d sack %s" % (label, q["flags"], q["ack"] - ISN, [(l - ISN, r - ISN) for l, r in q["sack"]]))
for a, b in [(1, 1001), (1, 1001), (1, 2001), (3001, 4001), (3001, 4001)]:
    tun.send(tcp_pkt(40000, 8080, ISN + a, s0 + 1, "P.", 257, [], b"y" * (b - a)))
    show("after %d:%d" % (a, b))
