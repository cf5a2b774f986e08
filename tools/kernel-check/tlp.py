# tests/drill/tlp_loss_probe_recovery.pkt: the last of ten segments lost; the loss probe
# resends it; the ACK beyond it (after new data) reduces the window once (CWR).
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
c, p = sender_story(10000)
p.ack(9001)
p.wait_for_segment("after ack 9001 (the probe)", 1.5)
print(info(c), nstat_changes())
p.ack(10001)
p.show("after ack 10001", 0.02)
print(info(c), nstat_changes())
c.send(b"y" * 5000)
p.show("after write 5000", 0.02)
p.ack(15001)
p.show("after ack 15001", 0.05)
print(info(c), nstat_changes())
