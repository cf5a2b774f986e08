# BBR's first round trips (tests/drill/bbr_startup.pkt): the kernel as sender with
# TCP_CONGESTION "bbr", over a path of a fixed RTT and unlimited bandwidth played by the
# peer. The peer (MSS 1000, SACK, window scale 7, no timestamps) sends the handshake ACK
# one RTT after the SYN-ACK, so that the kernel's first RTT sample is the path's, and then
# ACKs every data segment one RTT after it left: one ACK per segment, in order. The
# application writes 200 kB at once (SO_SNDBUF 212992, so that it fits).
#
#   ip netns add kcb && ip netns exec kcb python3 tools/kernel-check/bbr.py [RTT_MS] [--drill[=ROUNDS]]; ip netns del kcb
#
# Times come from an AF_PACKET socket on tun0 (SO_TIMESTAMPNS: the kernel's clock as each
# segment is handed to the device, and as each ACK comes in), printed in milliseconds from
# the first data segment; the peer takes its due times from them too. TCP_INFO
# (tcpi_snd_cwnd, tcpi_pacing_rate, ...) and TCP_CC_INFO (BBR's bandwidth estimate and
# gains) are read after each ACK. With --drill, the first ROUNDS round trips (default 4)
# are also printed as drill lines, times from the SYN-ACK's departure: the body of
# tests/drill/bbr_startup.pkt. About a second in all.
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktcp import Tun, tcp_pkt, parse, ISN, LOCAL
import heapq, select, socket, struct, time

RTT = float(next((a for a in sys.argv[1:] if not a.startswith("-")), "100")) / 1000
DRILL = next((a for a in sys.argv[1:] if a.startswith("--drill")), None)
MSS, NBYTES, WIN = 1000, 200000, 65535     # the window field: 65535 << 7, 8 MB
SO_TIMESTAMPNS, SO_RCVBUFFORCE, TCP_CC_INFO, ETH_P_ALL = 35, 33, 26, 3
LIMIT = 5.0                                # seconds of data phase at most

os.system("sysctl -qw net.ipv4.tcp_timestamps=0")
tun = Tun()
os.set_blocking(tun.fd, False)
cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
cap.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
cap.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
cap.bind(("tun0", ETH_P_ALL))

# The peer runs at real-time priority (if it can), so that its ACKs leave on time even on
# a busy machine; it keeps its due times from the packet socket's timestamps.
try: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
except OSError: pass
CLK = time.time() - time.monotonic()       # realtime (the packet socket's clock) - monotonic
trace = []                                 # (realtime s, 'out'|'in', parsed): all of tun0

def capture():
    """What crossed tun0 since the last call, with the kernel's timestamps."""
    new = []
    while True:
        try: data, anc, _, _ = cap.recvmsg(70000, 64, socket.MSG_DONTWAIT)
        except BlockingIOError:
            trace.extend(new)
            return new
        ts = None
        for lvl, typ, d in anc:
            if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                sec, ns = struct.unpack("qq", d[:16]); ts = sec + ns / 1e9
        q = parse(data)
        if q and ts is not None:
            new.append((ts, "out" if q["dport"] == 40000 else "in", q))

def wait(until_mono):
    """Wait for tun0 traffic or `until_mono`: the new capture records."""
    left = until_mono - time.monotonic()
    if left > 0:
        select.select([tun.fd, cap], [], [], max(left - 0.0002, 0))   # then spin
    while True:                            # the tun device's copy is not needed: drain it
        try: os.read(tun.fd, 70000)
        except BlockingIOError: break
    return capture()

def ack(a):
    tun.send(tcp_pkt(40000, 8080, ISN + 1, s0 + a, ".", WIN))

ls = socket.socket()
ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"bbr")
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((LOCAL, 8080))
ls.listen(1)
capture()
tun.send(tcp_pkt(40000, 8080, ISN, 0, "S", 32792,
                 [("mss", MSS), ("sackOK",), ("nop",), ("nop",), ("nop",), ("wscale", 7)]))
synack = None
while synack is None:
    synack = next(((t, q) for t, d, q in wait(time.monotonic() + 0.01) if "S" in q["flags"] and d == "out"), None)
s0 = synack[1]["seq"]
handshake_due = synack[0] - CLK + RTT
while time.monotonic() < handshake_due:
    wait(handshake_due)
ack(1)
lateness = [time.monotonic() - handshake_due]
c, _ = ls.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 212992)   # 425984: the write fits at once
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.setblocking(False)
written = c.send(b"x" * NBYTES)

def sample():
    b = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    u = struct.unpack_from("24I", b, 8)
    pacing, = struct.unpack_from("Q", b, 104)
    delivery, = struct.unpack_from("Q", b, 160)
    cc = c.getsockopt(socket.IPPROTO_TCP, TCP_CC_INFO, 20)
    bw_lo, bw_hi, min_rtt, pgain, cgain = struct.unpack("5I", cc)
    return dict(cwnd=u[18], ssthresh=u[17], unacked=u[4], rtt=u[15], pacing=pacing, delivery=delivery,
                bw=(bw_hi << 32 | bw_lo), min_rtt=min_rtt, pgain=pgain, cgain=cgain, ca=b[1])

# The path: each data segment is ACKed one RTT after it left (the ACK covers all the data
# in order so far: one ACK per segment).
initial = sample()
due, rcv_nxt, samples = [], 1, []
start = time.monotonic()
while time.monotonic() - start < LIMIT:
    if due and due[0][0] <= time.monotonic():
        t, a = heapq.heappop(due)
        ack(a)
        lateness.append(time.monotonic() - t)
        samples.append((a, sample()))
        if a >= NBYTES + 1 and not due:
            break
        continue
    for t, d, q in wait(due[0][0] if due else time.monotonic() + 0.05):
        if d == "out" and q["len"] and q["seq"] - s0 == rcv_nxt:
            rcv_nxt += q["len"]
            heapq.heappush(due, (t - CLK + RTT, rcv_nxt))
final = sample()
c.close()
time.sleep(0.01)
capture()
try: os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
except OSError: pass

rel = lambda q: q["seq"] - s0
data_out = [(t, q) for t, d, q in trace if d == "out" and q["len"]]
acks_in = [(t, q["ack"] - s0) for t, d, q in trace if d == "in" and "S" not in q["flags"]]
t_syn = [t for t, d, q in trace if d == "in" and "S" in q["flags"]][0]
t_synack = [t for t, d, q in trace if d == "out" and "S" in q["flags"]][0]
T0 = data_out[0][0]
ms = lambda t: (t - T0) * 1000
retrans = len(data_out) - len({rel(q) for _, q in data_out})
print("RTT %.0f ms, MSS %d, write(%d) = %d; handshake: SYN-ACK %.3f ms after the SYN, ACK %.3f ms "
      "after the SYN-ACK; data from %.3f ms after that ACK. %d data segments, %d retransmitted; "
      "ACKs late by at most %.0f us"
      % (RTT * 1000, MSS, NBYTES, written, (t_synack - t_syn) * 1000, (acks_in[0][0] - t_synack) * 1000,
         (T0 - acks_in[0][0]) * 1000, len(data_out), retrans, max(lateness) * 1e6))

psh = [rel(q) + q["len"] - 1 for _, q in data_out if "P" in q["flags"]]
print("PSH on %d of the %d data segments: those ending at %s ..." % (len(psh), len(data_out), " ".join(str(x + 1) for x in psh[:8])))
print("after the write: cwnd %d, pacing_rate %d B/s (from the handshake's RTT), min_rtt %d us"
      % (initial["cwnd"], initial["pacing"], initial["min_rtt"]))

def skbs(g):
    """A burst's skbs: each multi-segment skb ends with the segment carrying PSH."""
    out = [0]
    for _, q in g:
        out[-1] += 1
        if "P" in q["flags"]: out.append(0)
    return [n for n in out if n]

# Rounds, as BBR counts them: a round ends when the ACK of the first segment sent in it
# arrives; what is sent after that belongs to the next.
bounds, r0 = [], 0
while r0 < len(data_out):
    first_end = rel(data_out[r0][1]) + data_out[r0][1]["len"]
    tb = next((t for t, a in acks_in[1:] if a >= first_end), None)
    if tb is None:
        bounds.append(len(data_out)); break
    r1 = next((i for i, (t, _) in enumerate(data_out) if t > tb), len(data_out))
    bounds.append(r1); r0 = r1
samples_by_ack = dict(samples)
GROUP_US = 50   # segments closer than this are one burst (a GSO skb split at the device)
lo = 0
for rnd, hi in enumerate(bounds, 1):
    segs = data_out[lo:hi]
    print("\nround %d: %d segments, %d:%d" % (rnd, len(segs), rel(segs[0][1]), rel(segs[-1][1]) + segs[-1][1]["len"]))
    groups, prev = [], None
    for t, q in segs:
        if prev is not None and (t - prev) * 1e6 < GROUP_US:
            groups[-1].append((t, q))
        else:
            groups.append([(t, q)])
        prev = t
    gprev = None
    for g in groups:
        t = g[0][0]
        gap = "" if gprev is None else "  gap %7.3f ms" % ((t - gprev) * 1000)
        k = skbs(g)
        print("  %9.3f ms  %6d:%-6d x%d%s%s" % (ms(t), rel(g[0][1]), rel(g[-1][1]) + g[-1][1]["len"], len(g),
                                             " (skbs %s)" % "+".join(map(str, k)) if len(k) > 1 else "", gap))
        gprev = t
    # the state after this round's last ACK (the ACK of its last segment)
    end = rel(segs[-1][1]) + segs[-1][1]["len"]
    s = samples_by_ack.get(end)
    sizes = [len(g) for g in groups]
    gaps = [(b[0][0] - a[0][0]) * 1000 for a, b in zip(groups, groups[1:])]
    print("  groups: %s" % " ".join(map(str, sizes)))
    if gaps:
        print("  gaps between groups: min %.3f ms, median %.3f ms, max %.3f ms"
              % (min(gaps), sorted(gaps)[len(gaps) // 2], max(gaps)))
    if s:
        print("  after the ACK of %d: cwnd %d, pacing_rate %d B/s, delivery_rate %d B/s, bbr bw %d B/s, "
              "min_rtt %d us, pacing_gain %d/256, cwnd_gain %d/256, ca_state %d"
              % (end, s["cwnd"], s["pacing"], s["delivery"], s["bw"], s["min_rtt"], s["pgain"], s["cgain"], s["ca"]))
    lo = hi

print("\nACKs and the sender's state after each (ms, ack, cwnd, pacing_rate B/s, bw B/s, pacing_gain):")
acktime = {a: t for t, a in acks_in[1:]}
for a, s in samples:
    print("  %9.3f  ack %6d  cwnd %3d  pacing %8d  bw %8d  gain %d/%d" % (
        ms(acktime.get(a, T0)), a, s["cwnd"], s["pacing"], s["bw"], s["pgain"], s["cgain"]))
print("final: cwnd %d ssthresh %d pacing %d" % (final["cwnd"], final["ssthresh"], final["pacing"]))

if DRILL:
    # Times from the SYN-ACK's departure (the script's SYN and SYN-ACK are at 0): the
    # handshake ACK and accept(), write() as the first data segment leaves, then each burst
    # (one line per GSO skb: the segments that left back to back) and each ACK as they
    # crossed tun0, to the end of round DRILL_ROUNDS; after the ACK that ends each round's
    # ACKs, the sender's cwnd and pacing rate.
    nrounds = int(DRILL.split("=")[1]) if "=" in DRILL else 4
    last = data_out[bounds[min(nrounds, len(bounds)) - 1] - 1][0]
    # One line per skb: a new line after a gap, or after a segment with PSH (Linux sets
    # PSH on the last segment of every multi-segment skb, tcp_transmit_skb).
    bursts, prev = [], None
    for t, q in data_out:
        if t > last: break
        if prev is not None and (t - prev) * 1e6 < GROUP_US and "P" not in bursts[-1][1][-1]["flags"]:
            bursts[-1][1].append(q)
        else:
            bursts.append((t, [q]))
        prev = t
    round_end_acks = {rel(data_out[b - 1][1]) + data_out[b - 1][1]["len"] for b in bounds}
    starts = {rel(data_out[bounds[k]][1]): k + 2 for k in range(min(nrounds, len(bounds)) - 1)}
    ev = [(t, "<", a) for t, a in acks_in[1:] if t <= last] + [(t, ">", g) for t, g in bursts]
    ev.sort(key=lambda e: e[0])
    T = lambda t: "%.6f" % (t - t_synack)
    print("\n// drill lines (times from the SYN-ACK)")
    print("%s < . 1:1(0) ack 1 win %d" % (T(acks_in[0][0]), WIN))
    print("   +0 accept(3, ..., ...) = 4")
    print("   +0 setsockopt(4, SOL_SOCKET, SO_SNDBUF, [212992], 4) = 0")
    print("// round 1")
    print("%s write(4, ..., %d) = %d" % (T(T0), NBYTES, written))
    for t, d, x in ev:
        if d == "<":
            print("%s < . 1:1(0) ack %d win %d" % (T(t), x, WIN))
            if x in round_end_acks:
                s = samples_by_ack[x]
                print("   +0 %%{ assert tcpi_snd_cwnd == %d, tcpi_snd_cwnd; "
                      "assert abs(tcpi_pacing_rate - %d) <= %d, tcpi_pacing_rate }%%"
                      % (s["cwnd"], s["pacing"], s["pacing"] // 500))
        else:
            a, b = rel(x[0]), rel(x[-1]) + x[-1]["len"]
            if a in starts:
                print("// round %d" % starts[a])
            fl = "P." if any("P" in q["flags"] for q in x) else "."
            print("%s > %s %d:%d(%d) ack 1" % (T(t), fl, a, b, b - a))
