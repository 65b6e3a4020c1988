#!/usr/bin/env python3
"""Captures the TCP payloads seen on the loopback interface for a few ports (a test helper).

Usage: packet-capture.py --port P [--port Q ...] --out FILE

Listens on `lo` with a raw AF_PACKET socket (Linux, root or CAP_NET_RAW; stdlib only, no tcpdump),
keeps the TCP segments whose source or destination port is one of the given ports, and appends
each one that carries payload to FILE as a record:

    u32 payload length | u8 IP version (4/6) | u8 TCP flags | u16 src port | u16 dst port
    | u32 seq | 16 bytes src address | 16 bytes dst address | payload

(all big-endian; an IPv4 address is written IPv4-mapped, ::ffff:a.b.c.d). On `lo` every packet
passes the tap twice (once outgoing, once incoming); only the incoming copy is kept.

Prints "ready" once the socket is bound. On SIGTERM/SIGINT (or, with --exit-on-stdin-eof, when
stdin closes) it drains what the socket still holds,
flushes FILE and prints one JSON line:
    {"segments": N, "bytes": B, "drops": D, "truncated": T, "packets": P, "rcvbuf": R}
segments/bytes: payload-bearing segments kept and their payload bytes; drops: packets the kernel
dropped because the socket's queue was full (PACKET_STATISTICS); truncated: segments longer than
the receive buffer (their payload is cut); packets: matching packets seen (with or without payload).
"""
import argparse
import ctypes
import json
import os
import select
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26
MSG_TRUNC = 0x20
ETH_HEADER = 14
RECV_SIZE = 1 << 20  # larger than any (GSO / BIG TCP) skb on lo
IPV6_EXTENSION_HEADERS = (0, 43, 60)  # hop-by-hop, routing, destination options
RECORD_HEADER = struct.Struct(">IBBHHI16s16s")


def bpf_program(ports):
    """A classic BPF filter: not outgoing, and IPv4/IPv6 TCP with either port in `ports`
    (IPv6 with extension headers is let through for the Python side to decide)."""
    # Instructions as (code, jt, jf, k) where jt/jf may be label names, resolved below.
    prog, labels = [], {}

    def op(code, k=0, jt=0, jf=0):
        prog.append([code, jt, jf, k])

    def label(name):
        labels[name] = len(prog)

    LD_W_ABS, LD_H_ABS, LD_B_ABS, LD_H_IND, LDX_B_MSH = 0x20, 0x28, 0x30, 0x48, 0xB1
    JEQ, JSET, JA, RET = 0x15, 0x45, 0x05, 0x06
    SKF_AD_PKTTYPE = 0xFFFFF000 + 4

    op(LD_W_ABS, SKF_AD_PKTTYPE)
    op(JEQ, PACKET_OUTGOING, "drop", 0)
    op(LD_H_ABS, 12)
    op(JEQ, ETH_P_IP, "ipv4", 0)
    op(JEQ, ETH_P_IPV6, "ipv6", "drop")
    label("ipv4")
    op(LD_B_ABS, ETH_HEADER + 9)
    op(JEQ, 6, 0, "drop")
    op(LD_H_ABS, ETH_HEADER + 6)
    op(JSET, 0x1FFF, "drop", 0)
    op(LDX_B_MSH, ETH_HEADER)
    for offset in (0, 2):
        op(LD_H_IND, ETH_HEADER + offset)
        for p in ports:
            op(JEQ, p, "accept", 0)
    op(JA, "drop")
    label("ipv6")
    op(LD_B_ABS, ETH_HEADER + 6)
    for nh in IPV6_EXTENSION_HEADERS:
        op(JEQ, nh, "accept", 0)
    op(JEQ, 6, 0, "drop")
    for offset in (0, 2):
        op(LD_H_ABS, ETH_HEADER + 40 + offset)
        for p in ports:
            op(JEQ, p, "accept", 0)
    op(JA, "drop")
    label("accept")
    op(RET, 0xFFFFFFFF)
    label("drop")
    op(RET, 0)

    out = bytearray()
    for i, (code, jt, jf, k) in enumerate(prog):
        def rel(target):
            if isinstance(target, str):
                d = labels[target] - i - 1
                if not 0 <= d <= 255:
                    raise ValueError("BPF jump out of range (too many ports)")
                return d
            return target
        if code == JA:
            k, jt, jf = rel(k), 0, 0
        out += struct.pack("HBBI", code, rel(jt), rel(jf), k)
    return len(prog), bytes(out)


def attach_filter(sock, ports):
    count, raw = bpf_program(ports)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("@HP", count, ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def mapped(ipv4):
    return b"\x00" * 10 + b"\xff\xff" + ipv4


def parse(frame, length, ports):
    """(version, flags, sport, dport, seq, src, dst, payload) of a matching TCP segment, else None."""
    if length < ETH_HEADER + 20:
        return None
    ethertype = struct.unpack_from(">H", frame, 12)[0]
    end = min(length, len(frame))
    if ethertype == ETH_P_IP:
        ip = ETH_HEADER
        ihl = (frame[ip] & 0x0F) * 4
        if frame[ip] >> 4 != 4 or ihl < 20 or frame[ip + 9] != 6:
            return None
        if struct.unpack_from(">H", frame, ip + 6)[0] & 0x1FFF:
            return None  # a non-first fragment
        total = struct.unpack_from(">H", frame, ip + 2)[0]
        if total:  # 0 with BIG TCP: the packet's own length counts
            end = min(end, ip + total)
        version, src, dst, tcp = 4, mapped(frame[ip + 12:ip + 16]), mapped(frame[ip + 16:ip + 20]), ip + ihl
    elif ethertype == ETH_P_IPV6:
        ip = ETH_HEADER
        if length < ip + 40 or frame[ip] >> 4 != 6:
            return None
        plen = struct.unpack_from(">H", frame, ip + 4)[0]
        if plen:  # 0 with a jumbogram
            end = min(end, ip + 40 + plen)
        nh, tcp = frame[ip + 6], ip + 40
        while nh in IPV6_EXTENSION_HEADERS or nh == 44:
            if tcp + 8 > end:
                return None
            if nh == 44:  # fragment header
                if struct.unpack_from(">H", frame, tcp + 2)[0] & 0xFFF8:
                    return None
                nh, tcp = frame[tcp], tcp + 8
            else:
                nh, tcp = frame[tcp], tcp + (frame[tcp + 1] + 1) * 8
        if nh != 6:
            return None
        version, src, dst = 6, bytes(frame[ip + 8:ip + 24]), bytes(frame[ip + 24:ip + 40])
    else:
        return None
    if tcp + 20 > end:
        return None
    sport, dport, seq = struct.unpack_from(">HHI", frame, tcp)
    if sport not in ports and dport not in ports:
        return None
    offset = (frame[tcp + 12] >> 4) * 4
    flags = frame[tcp + 13]
    start = tcp + offset
    payload = bytes(frame[start:end]) if start < end else b""
    return version, flags, sport, dport, seq, src, dst, payload


def port_number(text):
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port")
    return port


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=port_number, action="append", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--interface", default="lo")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="also stop when stdin closes (the parent that started the capture is gone)")
    args = parser.parse_args()
    ports = frozenset(args.port)

    # Protocol 0 at creation: the socket receives nothing until bound to lo with ETH_P_ALL, so no
    # other interface's packets can slip into its queue before the bind.
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)  # capped at net.core.rmem_max
    try:
        attach_filter(sock, sorted(ports))
    except (OSError, ValueError) as e:
        print(f"packet-capture: no BPF filter ({e}); filtering in Python only", file=sys.stderr)
    sock.bind((args.interface, ETH_P_ALL))
    rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    stop = False

    def on_signal(_signum, _frame):
        nonlocal stop
        stop = True

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    out = open(args.out, "wb", buffering=1 << 20)
    buf = bytearray(RECV_SIZE)
    view = memoryview(buf)
    counts = {"segments": 0, "bytes": 0, "drops": 0, "truncated": 0, "packets": 0}

    def receive_one():
        """Reads one packet; False when the socket has none queued."""
        try:
            n, address = sock.recvfrom_into(buf, RECV_SIZE, MSG_TRUNC)
        except BlockingIOError:
            return False
        if address[2] == PACKET_OUTGOING or address[0] != args.interface:
            return True  # lo's outgoing copy of a packet also seen incoming
        segment = parse(view, n, ports)
        if segment is None:
            return True
        counts["packets"] += 1
        version, flags, sport, dport, seq, src, dst, payload = segment
        if n > RECV_SIZE:
            counts["truncated"] += 1
        if payload:
            out.write(RECORD_HEADER.pack(len(payload), version, flags, sport, dport, seq, src, dst))
            out.write(payload)
            counts["segments"] += 1
            counts["bytes"] += len(payload)
        return True

    sock.setblocking(False)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    watched = [sock, wake_r] + ([sys.stdin.fileno()] if args.exit_on_stdin_eof else [])
    while not stop:
        try:
            readable, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if len(watched) > 2 and watched[2] in readable and not os.read(watched[2], 4096):
            stop = True
        if wake_r in readable:
            try:
                os.read(wake_r, 64)
            except BlockingIOError:
                pass
        if sock in readable:
            for _ in range(1024):
                if not receive_one():
                    break
    while receive_one():  # what was queued before the stop
        pass
    _packets, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    counts["drops"] = drops
    counts["rcvbuf"] = rcvbuf
    out.flush()
    os.fsync(out.fileno())
    out.close()
    sock.close()
    sys.stdout.write(json.dumps(counts) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
