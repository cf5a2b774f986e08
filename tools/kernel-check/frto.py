# F-RTO and undo stories against the kernel (tests/drill/frto_*.pkt, undo_dsack_full.pkt):
#   python3 frto.py spurious|spurious_sack|real|dsack|dsack_full [--nosack]
#   python3 frto.py real_nosack --nosack
#   python3 frto.py rto_in_recovery
# The dsack ones also show RACK starting recovery on the first SACK, a reordering window
# (a quarter of the minimum RTT) later.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
STORY = sys.argv[1]
SACK = "--nosack" not in sys.argv
os.system("sysctl -qw net.ipv4.tcp_early_retrans=0")
c, p = sender_story(16000, sack=SACK)
if STORY[:5] != "dsack" and STORY != "rto_in_recovery":
    p.wait_for_segment("RTO")
    print(info(c), nstat_changes())
def step(label, a, sack=None):
    p.ack(a, sack); p.show(label); print(info(c), nstat_changes())
if STORY == "spurious":
    step("after ack 1001", 1001)
    step("after ack 3001", 3001)
elif STORY == "spurious_sack":
    step("after ack 2001", 2001)
elif STORY == "rto_in_recovery":
    step("after sack 1001:4001", 1, [(1001, 4001)])
    p.wait_for_segment("RTO in recovery")
    print(info(c), nstat_changes())
    step("after ack 4001", 4001)
    step("after ack 6001", 6001)
elif STORY == "real_nosack":
    step("after ack 1001", 1001)
    step("after dupack", 1001)
    step("after dupack", 1001)
elif STORY == "real":
    step("after ack 1001", 1001)
    step("after sack 10001:11001", 1001, [(10001, 11001)])
    step("after sack 10001:12001", 1001, [(10001, 12001)])
elif STORY[:5] == "dsack":
    step("after sack 1001:2001", 1, [(1001, 2001)])
    step("after sack 1001:3001", 1, [(1001, 3001)])
    step("after sack 1001:4001", 1, [(1001, 4001)])
    if STORY == "dsack":
        step("after ack 4001 dsack 1:1001", 4001, [(1, 1001)])
    else:
        step("after ack 12001 dsack 1:1001", 12001, [(1, 1001)])
