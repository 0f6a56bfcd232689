#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_pktsum (tests/fuzz/corpus/fuzz_pktsum): the
frames of tests/test_pktsum.c's vectors and their malformed cousins, built
here with struct. Run it from anywhere; it rewrites the directory."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_pktsum")

A = bytes.fromhex("0a0000000001")
B = bytes.fromhex("0a0000000002")


def eth(t, payload, src=A, dst=B):
    return dst + src + struct.pack("!H", t) + payload


def ip4(proto, payload, ihl=5, total=None, frag=0x4000):
    total = 4 * ihl + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0,
                      bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return hdr + b"\0" * (4 * ihl - 20) + payload


def ip6(nh, payload, plen=None):
    plen = len(payload) if plen is None else plen
    src = bytes.fromhex("20010db8000000000000000000000001")
    dst = bytes.fromhex("20010db8000000000000000000000002")
    return struct.pack("!IHBB", 0x60000000, plen, nh, 64) + src + dst + payload


def udp(data=b"hi", ulen=None):
    ulen = 8 + len(data) if ulen is None else ulen
    return struct.pack("!HHHH", 40000, 9, ulen, 0) + data


def tcp(flags=0x02, off=5, data=b""):
    return struct.pack("!HHIIBBHHH", 49152, 80, 100, 0, off << 4, flags, 64240, 0, 0) + \
        b"\0" * max(0, 4 * off - 20) + data


def seeds():
    yield eth(0x0800, ip4(17, udp()))
    yield eth(0x0800, ip4(6, tcp()))
    yield eth(0x0800, ip4(6, tcp(0x18, 5, b"abc")))
    yield eth(0x0800, ip4(1, struct.pack("!BBHHH", 8, 0, 0, 7, 1)))
    yield eth(0x0800, ip4(17, udp(), ihl=4))
    yield eth(0x0800, ip4(17, udp(), ihl=15)[:40])
    yield eth(0x0800, ip4(17, udp(), total=400))
    yield eth(0x0800, ip4(17, udp(), frag=0x00b9))
    yield eth(0x0800, ip4(6, tcp(off=2)))
    yield eth(0x0800, ip4(6, tcp(off=15)))
    yield eth(0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + A + bytes(4) + bytes(6) +
              bytes(4), dst=b"\xff" * 6)
    yield eth(0x86dd, ip6(17, udp()))
    yield eth(0x86dd, ip6(58, struct.pack("!BBHHH", 128, 0, 0, 3, 9)))
    yield eth(0x86dd, ip6(0, bytes([58, 0]) + bytes(6) + struct.pack("!BBHI", 135, 0, 0, 0) +
                          bytes(16)))
    yield eth(0x86dd, ip6(44, bytes([17, 0, 0, 1, 0, 0, 0, 42]) + udp()))
    yield eth(0x86dd, ip6(43, bytes([17, 4]) + bytes(6)))
    yield eth(0x86dd, ip6(60, bytes([60, 0]) + bytes(6)) * 1 + (bytes([60, 0]) + bytes(6)) * 20)
    yield eth(0x8100, struct.pack("!HH", 5, 0x0800) + ip4(17, udp()))
    yield eth(0x88cc, b"\x02\x07\x04\x00")
    yield eth(0x0026, b"BB\x03")
    yield ip4(17, udp())
    yield ip6(17, udp())
    yield b""
    yield eth(0x0800, b"")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    for i, s in enumerate(seeds()):
        with open(os.path.join(OUT, "seed-%03d" % i), "wb") as f:
            f.write(s)


if __name__ == "__main__":
    main()
