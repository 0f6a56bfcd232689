#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_tcpseg (tests/fuzz/corpus/fuzz_tcpseg): the
real captures of tests/test_tcpseg.c (lo as Ethernet, "any" as LINUX_SLL2)
and the same packets under the other link types. Each seed is a link-type
byte (the index in fuzz_tcpseg.c's table), a wire-extra byte, the frame."""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_tcpseg")
SRC = os.path.join(HERE, "..", "test_tcpseg.c")

EN10MB, RAW, NULL, SLL, SLL2 = 0, 1, 2, 3, 4


def vectors(name):
    """The frames of one array: each element is adjacent string literals
    (hex with spaces) ending in a comma."""
    text = open(SRC).read()
    body = re.search(r"%s\[\] = \{(.*?)\};" % name, text, re.S).group(1)
    out = []
    for element in re.split(r'"\s*,', body):
        hexs = "".join(re.findall(r'"([0-9a-f ]*)', element))
        if hexs:
            out.append(bytes.fromhex(hexs.replace(" ", "")))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    seeds = []
    for frame in vectors("v4"):
        seeds.append(bytes([EN10MB, 0]) + frame)
        ip = frame[14:]
        seeds.append(bytes([RAW, 0]) + ip)
        seeds.append(bytes([NULL, 0]) + b"\x02\0\0\0" + ip)
        seeds.append(bytes([SLL, 0]) + b"\0\0\x03\x04\0\x06" + b"\0" * 8 + b"\x08\x00" + ip)
    for frame in vectors("v6"):
        seeds.append(bytes([SLL2, 0]) + frame)
    # a frame cut by the snap length: 40 more bytes on the wire
    seeds.append(bytes([EN10MB, 40]) + vectors("v4")[3][:60])
    # a whole connection in one input: 64-byte frames back to back
    seeds.append(bytes([RAW, 0]) + b"".join(f[14:].ljust(64, b"\0") for f in vectors("v4")))
    for i, s in enumerate(seeds):
        with open(os.path.join(OUT, "seed-%03d" % i), "wb") as f:
            f.write(s)


if __name__ == "__main__":
    main()
