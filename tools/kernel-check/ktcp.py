# Drive the kernel's TCP through a TUN device, packetdrill-style, to check what it sends.
import fcntl, os, socket, struct, select, time, sys

TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
LOCAL, REMOTE = "192.168.0.1", "192.0.2.1"

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def opts_bytes(opts):
    out = b""
    for o in opts:
        if o[0] == "mss": out += struct.pack("!BBH", 2, 4, o[1])
        elif o[0] == "sackOK": out += b"\x04\x02"
        elif o[0] == "nop": out += b"\x01"
        elif o[0] == "wscale": out += struct.pack("!BBB", 3, 3, o[1])
        elif o[0] == "TS": out += struct.pack("!BBII", 8, 10, o[1] & 0xffffffff, o[2] & 0xffffffff)
        elif o[0] == "sack":
            out += struct.pack("!BB", 5, 2 + 8 * len(o[1]))
            for l, r in o[1]: out += struct.pack("!II", l, r)
    while len(out) % 4: out += b"\x01"
    return out

def tcp_pkt(sport, dport, seq, ack, flags, win, opts=(), payload=b""):
    ob = opts_bytes(opts)
    off = (20 + len(ob)) // 4
    fl = 0
    for ch, bit in (("F", 1), ("S", 2), ("R", 4), ("P", 8), (".", 16)):
        if ch in flags: fl |= bit
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, off << 4, fl, win, 0, 0) + ob
    seg = hdr + payload
    src, dst = socket.inet_aton(REMOTE), socket.inet_aton(LOCAL)
    ph = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    c = csum(ph + seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + seg

def parse(p):
    if len(p) < 40 or p[0] >> 4 != 4 or p[9] != 6: return None
    ihl = (p[0] & 15) * 4
    t = p[ihl:]
    sport, dport, seq, ack, off, fl, win = struct.unpack("!HHIIBBH", t[:16])
    doff = (off >> 4) * 4
    flags = "".join(ch for ch, bit in (("S", 2), ("F", 1), ("R", 4), ("P", 8), (".", 16)) if fl & bit)
    sack, ts, i = [], None, 20
    while i < doff:
        kind = t[i]
        if kind == 0: break
        if kind == 1: i += 1; continue
        ln = t[i + 1]
        if kind == 5:
            for k in range(i + 2, i + ln, 8):
                sack.append(struct.unpack("!II", t[k:k + 8]))
        if kind == 8:
            ts = struct.unpack("!II", t[i + 2:i + 10])
        i += max(ln, 2)
    return dict(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=win, len=len(t) - doff, sack=sack,
                tsval=ts[0] if ts else None, tsecr=ts[1] if ts else None)

class Tun:
    def __init__(self):
        self.fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", b"tun0", IFF_TUN | IFF_NO_PI))
        os.system("ip link set tun0 up mtu 1500; ip addr add %s/24 dev tun0; ip route add 192.0.2.0/24 dev tun0" % LOCAL)
        self.t0 = time.monotonic()
    def send(self, p): os.write(self.fd, p)
    def recv(self, timeout):
        end = time.monotonic() + timeout
        out = []
        while True:
            left = end - time.monotonic()
            if left <= 0: return out
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                q = parse(os.read(self.fd, 70000))
                if q and q["dport"] == 40000: out.append((time.monotonic() - self.t0, q))

ISN = 1000

def accept_connection(tun, opts=None, ts=False):
    """The remote peer's handshake with a kernel listener on LOCAL:8080 (MSS 1000, SACK,
    window scale 7, timestamps only if `ts`): returns the accepted socket and the kernel's
    ISN (with `ts`, also the SYN-ACK's TSval)."""
    os.system("sysctl -qw net.ipv4.tcp_timestamps=%d" % (1 if ts else 0))
    if ts and opts is None:
        opts = [("mss", 1000), ("sackOK",), ("TS", 100, 0), ("nop",), ("wscale", 7)]
    ls = socket.socket()
    # CUBIC, Linux's default: the host may run another (this machine's kernel uses bbr,
    # whose recovery is not PRR's). Set on the listener, the child inherits it.
    ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((LOCAL, 8080))
    ls.listen(1)
    opts = opts or [("mss", 1000), ("sackOK",), ("nop",), ("nop",), ("nop",), ("wscale", 7)]
    tun.send(tcp_pkt(40000, 8080, ISN, 0, "S", 32792, opts))
    synack = [q for _, q in tun.recv(0.2) if "S" in q["flags"]][0]
    s0 = synack["seq"]
    time.sleep(0.05)
    tun.send(tcp_pkt(40000, 8080, ISN + 1, s0 + 1, ".", 257,
                     [("nop",), ("nop",), ("TS", 150, synack["tsval"])] if ts else []))
    c, _ = ls.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return (c, s0, synack["tsval"]) if ts else (c, s0)

def info(sock):
    """The sender's state from TCP_INFO (struct tcp_info: 8 one-byte fields, then u32s)."""
    b = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    u = struct.unpack_from("24I", b, 8)
    return "ca=%d cwnd=%d ssthresh=%d retrans=%d unacked=%d rtt=%dus rto=%dus reord=%d" % (
        b[1], u[18], u[17], u[7], u[4], u[15], u[0], u[20])

RECOVERY_COUNTERS = ("LossProbe", "Undo", "Spurious", "Timeouts", "RetransSegs", "DSACK", "Recovery", "Reorder")

def nstat_changes():
    """Loss-recovery counters changed since the last call (nstat keeps the history)."""
    out = os.popen("nstat -z 2>/dev/null").read().split("\n")
    keep = [l.split() for l in out if any(k in l for k in RECOVERY_COUNTERS)]
    return " | ".join(" ".join(f[:2]) for f in keep if len(f) > 1 and f[1] != "0")

class Peer:
    """The scripted remote end of an accepted connection: ACKs with SACK blocks, and what
    the kernel sends printed with sequence numbers relative to its ISN."""
    def __init__(self, tun, s0, ts=None):
        """`ts`: the peer's timestamps are on; ACKs echo the kernel's latest TSval seen
        unless told otherwise."""
        self.tun, self.s0, self.ts, self.tsval = tun, s0, ts is not None, ts
        self.seen = []
    def rel(self, q):
        return (q["seq"] - self.s0, q["seq"] - self.s0 + q["len"])
    def note(self, tt, label, q):
        if q["tsval"] is not None:
            self.tsval = q["tsval"]
        self.seen.append(q)
        ts = " TSval %d" % q["tsval"] if q["tsval"] is not None else ""
        print("%.3f %s: %s %d:%d%s" % (tt, label, q["flags"], *self.rel(q), ts))
    def show(self, label, t=0.03):
        for tt, q in self.tun.recv(t):
            self.note(tt, label, q)
    def ack(self, a, sack=None, ecr=None):
        opts = [("nop",), ("nop",), ("sack", [(self.s0 + l, self.s0 + r) for l, r in sack])] if sack else []
        if self.ts:
            opts = [("nop",), ("nop",), ("TS", 200, self.tsval if ecr is None else ecr)] + opts
        self.tun.send(tcp_pkt(40000, 8080, ISN + 1, self.s0 + a, ".", 257, opts))
    def wait_for_segment(self, label, limit=3.0):
        """Print the first segment(s) the kernel sends within `limit` seconds."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            got = self.tun.recv(0.01)
            for tt, q in got:
                self.note(tt, label, q)
            if got:
                return

def sender_story(nbytes, ts=False, sack=True):
    """Fresh counters, a connection accepted from the scripted peer (without SACK if
    `sack` is false), `nbytes` written by the kernel's socket and its first flight
    printed: returns (socket, Peer)."""
    os.system("nstat -n >/dev/null")
    tun = Tun()
    if ts:
        c, s0, tsval = accept_connection(tun, ts=True)
        p = Peer(tun, s0, tsval)
    else:
        opts = None if sack else [("mss", 1000), ("nop",), ("nop",), ("nop",), ("wscale", 7)]
        c, s0 = accept_connection(tun, opts)
        p = Peer(tun, s0)
    c.send(b"x" * nbytes)
    p.show("sent", 0.02)
    print(info(c))
    return c, p
