#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_tlsrec (tests/fuzz/corpus/fuzz_tlsrec):
record streams like tests/test_tlsrec.c's vectors and their malformed
cousins. The first byte of each seed also picks the fuzz target's split
step and the TLS 1.3 flag. Run it from anywhere; it rewrites the directory."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_tlsrec")


def rec(ct, body, ver=0x0303, length=None):
    return struct.pack("!BHH", ct, ver, len(body) if length is None else length) + body


def hs(t, body):
    return struct.pack("!B", t) + len(body).to_bytes(3, "big") + body


SEEDS = [
    rec(22, hs(1, b"\x03\x03" + b"\0" * 38), 0x0301),
    rec(22, hs(2, b"\x03\x03" * 3) + hs(11, b"\0" * 9) + hs(14, b""))
    + rec(20, b"\x01") + rec(22, b"\xde\xad\xbe\xef") + rec(23, b"abc"),
    rec(22, hs(11, b"\1" * 20)[:12]) + rec(22, hs(11, b"\1" * 20)[12:] + b"\x0e\x00")
    + rec(22, b"\x00\x00"),
    rec(21, b"\x02\x28") + rec(21, b"\x01\x00") + rec(21, b"\x02"),
    rec(20, b"\x01") + rec(21, bytes(range(18))),
    rec(20, b"\x01") + rec(22, hs(1, b"")) + rec(23, b"\xaa\xbb"),
    rec(22, hs(0, b"") * 12),
    rec(23, b"") + rec(24, b"\x01") + rec(22, hs(99, b"")),
    b"GET / HTTP/1.1\r\n\r\n",
    rec(23, b"\0") + b"\x80\x77\x01\x03\x01",
    rec(22, b"\0", 0x0203),
    rec(23, b"\0", length=18433),
    rec(23, b"\0" * 18432),
    rec(22, hs(1, b"\0" * 8))[:9],
    b"",
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    n = 0
    for seed in SEEDS:
        # Twice: with an even and an odd first byte (TLS 1.3 flag) where the
        # seed allows, by prefixing nothing and a record the decoder skips.
        for prefix in (b"", rec(23, b"\x01")):
            with open(os.path.join(OUT, "seed-%03d" % n), "wb") as f:
                f.write(prefix + seed)
            n += 1


if __name__ == "__main__":
    main()
