# SACK compression (`tcp_comp_sack_*`, __tcp_ack_snd_check): the kernel as receiver with
# data held out of order. The peer (timestamps on, MSS 988 with the option) first sends 30
# in-order segments (past quick-ACK mode's 16) whose TS echo gives the receiver an RTT
# estimate, then loses one and sends N segments above the hole, 0.1 ms apart: which of them
# are ACKed, and when.
#
#   ip netns exec kcN python3 tools/kernel-check/compsack.py [N]
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
import threading
n = int(sys.argv[1]) if len(sys.argv) > 1 else 12
os.system("nstat -n >/dev/null")
tun = Tun()
c, s0, tsval = accept_connection(tun, ts=True)
seg = 988
def reader():
    while c.recv(1 << 20):
        pass
threading.Thread(target=reader, daemon=True).start()
def data(k, ecr, tsv):
    a = 1 + seg * k
    return tcp_pkt(40000, 8080, ISN + a, s0 + 1, ".", 257,
                   [("nop",), ("nop",), ("TS", tsv, ecr)], b"z" * seg)
# In order, echoing the SYN-ACK's TSval (sent 50 ms before): rcv_rtt 50 ms.
for k in range(30):
    tun.send(data(k, tsval, 200 + k))
    tun.recv(0.002)
time.sleep(0.05)
tun.recv(0.01)
b = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
u = struct.unpack_from("29I", b, 8)
print("before the hole: tcpi_rcv_rtt %d us, tcpi_rtt %d us" % (u[21], u[15]))
acks = []
stop = threading.Event()
def collect():
    while not stop.is_set():
        acks.extend(tun.recv(0.005))
threading.Thread(target=collect, daemon=True).start()
t0 = time.monotonic()
# Segment 30 lost; 31 .. 31+n-1 arrive 0.1 ms apart (busy-waiting: sleep is too coarse).
sent = []
for k in range(31, 31 + n):
    tun.send(data(k, tsval, 300 + k))
    sent.append(time.monotonic() - t0)
    end = time.monotonic() + 0.0001
    while time.monotonic() < end:
        pass
time.sleep(0.02)
stop.set()
time.sleep(0.01)
print("%d segments above a hole, sent at %s ms; the kernel's ACKs (ms after the first, "
      "highest SACKed segment):" % (n, " ".join("%.2f" % (x * 1000) for x in sent)))
for tt, q in acks:
    if q["len"] == 0:
        hi = max((r for _, r in q["sack"]), default=None)
        print("  %+.2f ms  ack %d  sack to %s" % ((tt - (t0 - tun.t0)) * 1000,
              (q["ack"] - ISN - 1) // seg,
              (hi - ISN - 1) // seg if hi is not None else "-"))
print(os.popen("nstat -az TcpExtTCPACKCompressed 2>/dev/null").read().strip().split("\n")[-1])
