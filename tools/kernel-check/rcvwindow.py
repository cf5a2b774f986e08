# The receive window Linux offers, segment by segment: the window field and the ACK of each
# of N in-order segments 2 ms apart, with the application reading them (`read`) or not
# reading at all (`stall`); then tcpi_rcv_ssthresh, tcpi_rcv_space and TCP_WINDOW_CLAMP.
#
#   ip netns exec kcN python3 tools/kernel-check/rcvwindow.py [read|stall] [big|rcvbuf=B]
#                                                             [seg=LEN] [n=N]
#
# big: SO_RCVBUF 128 KiB on the listener (rcvbuf=B: B bytes); seg: the segments' payload
# and the peer's MSS (default 1000); n: how many segments (default 60).
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import *
import threading
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
stall = "stall" in sys.argv[1:]
rcvbuf = 1 << 17 if "big" in sys.argv[1:] else int(args.get("rcvbuf", 0))
seg = int(args.get("seg", 1000))
n = int(args.get("n", 60))
tun = Tun()
if rcvbuf:
    orig = socket.socket.bind
    def bind(self, addr):
        self.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        return orig(self, addr)
    socket.socket.bind = bind
c, s0 = accept_connection(tun, [("mss", seg), ("sackOK",), ("nop",), ("nop",), ("nop",), ("wscale", 7)])
isn = ISN
if not stall:
    def reader():
        while c.recv(1 << 20):
            pass
    threading.Thread(target=reader, daemon=True).start()
out = []
for k in range(n):
    a = 1 + seg * k
    tun.send(tcp_pkt(40000, 8080, isn + a, s0 + 1, ".", 257, [], b"y" * seg))
    got = [q for _, q in tun.recv(0.002) if q["len"] == 0]
    out.append("%d:%s" % (k + 1, ",".join("%d/w%d" % ((q["ack"] - isn - 1) // seg, q["win"]) for q in got) or "-"))
print("%s, %s, %d-byte segments: segment:acked/window" % (
    "stalled reader" if stall else "reader", "SO_RCVBUF %d" % rcvbuf if rcvbuf else "default buffer", seg))
print(" ".join(out))
b = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
u = struct.unpack_from("29I", b, 8)
print("rcv_ssthresh=%d rcv_space=%d rcv_mss=%d advmss=%d window_clamp=%d rcvbuf=%d" % (
    u[14], u[22], u[3], u[19], c.getsockopt(socket.IPPROTO_TCP, socket.TCP_WINDOW_CLAMP),
    c.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)))
