# crates/core/tests/lifecycle.rs, a_blocked_link_holds_new_data_and_retries_every_half_second:
# a qdisc that drops every packet refuses the kernel's new data. TCP_INFO: CA_CWR with the
# threshold cut, the window kept, tries counted in tcpi_probes every 500 ms without backoff;
# once the qdisc is gone the next try sends, and the ACK beyond CWR's mark ends it.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *

def probes(sock):
    b = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    return "probes=%d backoff=%d" % (b[3], b[4])

c, p = sender_story(1000)
p.ack(1001)
p.show("after ack 1001", 0.05)
print(info(c), probes(c))
os.system("tc qdisc add dev tun0 root pfifo limit 0")
t0 = time.monotonic()
c.send(b"y" * 1000)
for at in (0.1, 0.6, 1.1, 1.6, 2.1):
    time.sleep(max(0, t0 + at - time.monotonic()))
    print("%.1f s blocked:" % at, info(c), probes(c))
os.system("tc qdisc del dev tun0 root")
p.wait_for_segment("after the qdisc is gone", 1.0)
print(info(c), probes(c))
p.ack(2001)
p.show("after ack 2001", 0.05)
print(info(c), probes(c), nstat_changes())
