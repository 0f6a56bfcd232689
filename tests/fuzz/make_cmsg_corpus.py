#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_cmsg (tests/fuzz/corpus/fuzz_cmsg): control
buffers laid out as the kernel fills them on x86-64 and other LP64 Linux
(struct cmsghdr: size_t cmsg_len, int level, int type; payloads aligned to
8), one per control message sockpit decodes, several together, and their
broken cousins. Run it from anywhere; it rewrites the directory."""
import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_cmsg")

SOL_SOCKET, SCM_RIGHTS, SCM_CREDENTIALS = 1, 1, 2
SCM_TIMESTAMP, SCM_TIMESTAMPNS = 29, 35
IPPROTO_IP, IP_TOS, IP_TTL, IP_PKTINFO, IP_RECVERR = 0, 1, 2, 8, 11
IPPROTO_IPV6, IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_RECVERR = 41, 50, 52, 67, 25


def align(n):
    return (n + 7) & ~7


def cmsg(level, type_, data, length=None):
    length = 16 + len(data) if length is None else length
    raw = struct.pack("=QiI", length, level, type_) + data
    return raw + b"\0" * (align(len(raw)) - len(raw))


def ee(errno_, origin, type_, code, offender=None):
    body = struct.pack("=IBBBBII", errno_, origin, type_, code, 0, 0, 0)
    if offender is not None:
        body += struct.pack("=H", socket.AF_INET) + b"\0\0" + socket.inet_aton(offender) + b"\0" * 8
    return body


def seeds():
    creds = cmsg(SOL_SOCKET, SCM_CREDENTIALS, struct.pack("=iII", 4242, 1000, 100))
    rights = cmsg(SOL_SOCKET, SCM_RIGHTS, struct.pack("=3i", 7, 8, 9))
    pkt = cmsg(IPPROTO_IP, IP_PKTINFO, struct.pack("=i", 1) + socket.inet_aton("127.0.0.1")
               + socket.inet_aton("127.0.0.5"))
    ttl = cmsg(IPPROTO_IP, IP_TTL, struct.pack("=i", 64))
    tos = cmsg(IPPROTO_IP, IP_TOS, b"\x10")
    tsns = cmsg(SOL_SOCKET, SCM_TIMESTAMPNS, struct.pack("=qq", 1700000000, 123456789))
    tsus = cmsg(SOL_SOCKET, SCM_TIMESTAMP, struct.pack("=qq", 1700000000, 123456))
    err = cmsg(IPPROTO_IP, IP_RECVERR, ee(111, 2, 3, 3, "127.0.0.1"))
    pkt6 = cmsg(IPPROTO_IPV6, IPV6_PKTINFO, socket.inet_pton(socket.AF_INET6, "::1")
                + struct.pack("=I", 1))
    hl = cmsg(IPPROTO_IPV6, IPV6_HOPLIMIT, struct.pack("=i", 9))
    tc = cmsg(IPPROTO_IPV6, IPV6_TCLASS, struct.pack("=i", 32))
    err6 = cmsg(IPPROTO_IPV6, IPV6_RECVERR, ee(111, 3, 1, 4))
    other = cmsg(99, 77, b"\1\2\3\4\5")
    every = [creds, rights, pkt, ttl, tos, tsns, tsus, err, pkt6, hl, tc, err6, other]
    for one in every:
        yield one
    yield b"".join(every)
    yield creds + rights
    yield cmsg(SOL_SOCKET, SCM_RIGHTS, struct.pack("=40i", *range(10, 50)))
    # Broken: a length below the header, past the end, huge; cut payloads.
    yield cmsg(SOL_SOCKET, SCM_RIGHTS, b"\0" * 4, length=4)
    yield cmsg(SOL_SOCKET, SCM_RIGHTS, b"\0" * 4, length=1000)
    yield cmsg(SOL_SOCKET, SCM_RIGHTS, b"\0" * 4, length=2**64 - 1)
    yield cmsg(SOL_SOCKET, SCM_CREDENTIALS, b"\0" * 8)
    yield creds + rights[:20]
    yield b"".join(every)[:77]
    yield b""


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.unlink(os.path.join(OUT, name))
    for i, data in enumerate(seeds()):
        with open(os.path.join(OUT, "seed-%03d" % i), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
