#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_match next to this script.

Each seed is a mode byte (0 mask exact, 1 mask prefix, 2 mask contains,
3 regex), the spec, a NUL and a subject: masks with every separator, nibble
wildcards and each error; regexes with groups, anchors, classes and errors;
subjects with NUL bytes and high bytes.
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))

SEEDS = [
    (0, b"01 ?? 03", b"\x01\xff\x03"), (0, b"01??03", b"\x01\x00\x04"),
    (1, b"4?:?F-aa", b"\x4c\x1f\xaa\x00"), (2, b"??02", b"\x00\x00\x01\x02"),
    (0, b"", b""), (0, b"0", b"\x00"), (0, b"01 2 03", b""), (0, b"0g", b""),
    (0, b"0x01", b""), (0, b"?", b""), (1, b"de ad\tbe:ef", b"\xde\xad\xbe\xef!"),
    (3, b"^user=([a-z]+) id=([0-9]+)", b"user=bob id=42\n"), (3, b"b$", b"a\x00b"),
    (3, b"a[^x]b", b"a\x00b"), (3, b"^.\xff$", b"\xfe\xff"), (3, b"^$", b""),
    (3, b"(", b"x"), (3, b"a[", b""), (3, b"a{2,1}", b"aa"), (3, b"(a|b)*c+", b"ababcc"),
    (3, b"[[:digit:]]{2}", b"x12"), (3, b"()()()()()()()()()()()", b""),
    (3, b"\\(x\\)", b"(x)"), (3, b"PING ([0-9]+)\r?$", b"PING 17\r"),
    (3, b"((a{99}){99}){99}", b"a"), (3, b"a" + b"+" * 40, b"aa"), (3, b"(a)\\1", b"aa"),
    (3, b"\\x10+++", b"\x10"), (3, b"(a?){120}", b"aaa"), (3, b"((a{00}){99}){99}", b"a"), (3, b"((a+)+)+", b"aaa"),
    (3, b"x{2,}y{,3}", b"xxy"), (3, b"[]a+]+{2}", b"]]"), (3, b"[[:alpha:]+]{3}", b"ab+"),
]


def main():
    out = os.path.join(HERE, "corpus", "fuzz_match")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for i, (mode, spec, subject) in enumerate(SEEDS):
        with open(os.path.join(out, "seed-%03d" % i), "wb") as f:
            f.write(bytes([mode]) + spec + b"\x00" + subject)


if __name__ == "__main__":
    main()
