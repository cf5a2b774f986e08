# Undo by timestamps (Eifel, RFC 3522: tcp_packet_delayed), the kernel as sender:
#   python3 undo_ts.py rto|rto_partial|recovery|recovery_partial
# The peer's ACK echoes the TSval of the original flight, older than the first
# retransmission's: the retransmission was needless, the cut is undone.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
STORY = sys.argv[1]
os.system("sysctl -qw net.ipv4.tcp_early_retrans=0")
c, p = sender_story(16000, ts=True)
orig = p.seen[0]["tsval"]
M = 988  # MSS 1000 less the timestamp option
S = lambda n: 1 + n * M  # the start of segment n (0-based)
def step(label, a, sack=None, ecr=None):
    p.ack(a, sack, ecr); p.show(label); print(info(c), nstat_changes())
if STORY.startswith("rto"):
    p.wait_for_segment("RTO")
    print(info(c), nstat_changes())
    a = S(3) if STORY == "rto_partial" else S(10)
    step("after ack %d echoing the original TSval" % a, a, None, orig)
else:
    for n in (2, 3, 4):
        step("after sack %d:%d" % (S(1), S(n)), 1, [(S(1), S(n))], orig)
    a = S(4) if STORY == "recovery_partial" else S(12)
    step("after ack %d echoing the original TSval" % a, a, None, orig)
