#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_frame_dec (tests/fuzz/corpus/fuzz_frame_dec).

A seed is 11 spec bytes (see make_spec() in fuzz_frame_dec.c) followed by
pieces: one length byte (0..31, 0 = an empty chunk) and that many bytes.
Each seed holds a mostly well-formed stream for its spec, split in varied
pieces, so the fuzzer starts from deep states of every decoder; a few seeds
hold the classic errors (over max, bad digit, overlong varint)."""
import os
import random
import struct

KIND = {"raw": 0, "eof": 1, "fixed": 2, "line": 3, "delim": 4, "len": 5,
        "netstring": 6, "decimal": 7, "blocks": 8}
WIDTH = {1: 0, 2: 1, 3: 2, 4: 3, 8: 4, 0: 5}   # index into widths[]
MAX = {"default": 0, 1: 1, 3: 2, 10: 3, 64: 4, 300: 5, "ceiling": 6}
ALPHA = {"a": 0, "b": 1, "\r": 2, "\n": 3}


def spec(kind, width=1, le=False, maxv="default", offset=0, adjust=0, strip="default",
         fixed=4, delim="\r\n"):
    b = [0] * 11
    b[0] = KIND[kind]
    b[1] = WIDTH[width] | (0x40 if le else 0)
    b[2] = MAX[maxv]
    b[3] = offset
    b[4] = adjust & 0xFF
    b[5] = {"default": 0, 0: 1}.get(strip, 2 if strip == 2 else 3)
    if kind in ("delim", "decimal"):
        b[6] = len(delim) - 1
        for i, c in enumerate(delim):
            b[7 + i] = ALPHA[c]
    else:
        b[6] = fixed - 1
    return bytes(b)


def field(n, width, le, offset=0, adjust=0):
    v = n - adjust
    head = b"\0" * offset
    if width == 0:
        out = bytearray()
        while True:
            byte = v & 0x7F
            v >>= 7
            out.append(byte | (0x80 if v else 0))
            if not v:
                return head + bytes(out)
    fmt = v.to_bytes(width, "little" if le else "big")
    return head + fmt


def pieces(stream, rng):
    out = bytearray()
    i = 0
    while i < len(stream):
        n = rng.choice([0, 1, 1, 2, 3, 5, 8, 13, 31])
        n = min(n, len(stream) - i)
        out.append(n)
        out += stream[i:i + n]
        i += n
    return bytes(out)


def main():
    rng = random.Random(1234)
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = os.path.join(here, "corpus", "fuzz_frame_dec")
    os.makedirs(outdir, exist_ok=True)
    msgs = [b"hello", b"", b"a\r\nb", b"x" * 20, b"ab\rab\nab"]
    seeds = {}

    seeds["raw"] = spec("raw") + pieces(b"anything\n", rng)
    seeds["eof"] = spec("eof") + pieces(b"whole stream\r\n", rng)
    seeds["fixed"] = spec("fixed", fixed=4) + pieces(b"abcdefghij", rng)
    seeds["fixed_max"] = spec("fixed", fixed=16, maxv=10) + pieces(b"0123456789abc", rng)
    seeds["line"] = spec("line") + pieces(b"one\r\ntwo\n\r\r\nthree\r", rng)
    seeds["line_max"] = spec("line", maxv=3) + pieces(b"abc\nabcdef\nab\r\n", rng)
    for d in ("\r\n", "a", "aab", "abab"):
        name = "delim_" + "".join({"\r": "r", "\n": "n"}.get(c, c) for c in d)
        body = b"".join(m.replace(d.encode(), b"") + d.encode() for m in msgs)
        seeds[name] = spec("delim", delim=d) + pieces(body + b"tail", rng)
    seeds["delim_max"] = spec("delim", delim="ab", maxv=3) + pieces(b"xxxaabcab", rng)
    for w in (1, 2, 3, 4, 8, 0):
        for le in ((False, True) if w > 1 else (False,)):
            s = b"".join(field(len(m), w, le) + m for m in msgs)
            seeds["len_u%d%s" % (w * 8, "le" if le else "")] = spec("len", w, le) + pieces(s, rng)
    s = b"".join(field(len(m), 2, False, 2, -2) + m for m in msgs)
    seeds["len_offset_adjust"] = spec("len", 2, offset=2, adjust=-2) + pieces(s, rng)
    s = b"".join(field(len(m), 1, False, 1) + m for m in msgs)
    seeds["len_strip0"] = spec("len", 1, offset=1, strip=0) + pieces(s, rng)
    seeds["len_over_max"] = spec("len", 1, maxv=10) + pieces(b"\x0a" + b"y" * 10 + b"\x0b", rng)
    seeds["len_varint_long"] = spec("len", 0) + pieces(b"\xff" * 9 + b"\x02", rng)
    seeds["len_u64_ff"] = spec("len", 8) + pieces(b"\xff" * 8, rng)
    seeds["len_negative"] = spec("len", 2, adjust=-4) + pieces(b"\x00\x01", rng)
    s = b"".join(b"%d:%s," % (len(m), m) for m in msgs)
    seeds["netstring"] = spec("netstring") + pieces(s, rng)
    seeds["netstring_bad"] = spec("netstring") + pieces(b"5:hello;3x", rng)
    seeds["netstring_max"] = spec("netstring", maxv=10) + pieces(b"10:0123456789,11:", rng)
    s = b"".join(b"%d\r\n%s" % (len(m), m) for m in msgs)
    seeds["decimal"] = spec("decimal", delim="\r\n") + pieces(s, rng)
    seeds["decimal_bad"] = spec("decimal", delim="\n") + pieces(b"3\nabc4x", rng)
    for w, le in ((1, False), (2, True), (0, False)):
        s = b""
        for m in msgs[:3]:
            for part in (m[:2], m[2:]):
                if part:
                    s += field(len(part), w, le) + part
            s += field(0, w, le)
        seeds["blocks_w%d" % w] = spec("blocks", w, le) + pieces(s, rng)
    seeds["blocks_max"] = spec("blocks", 1, maxv=10) + pieces(b"\x05aaaaa\x06bbbbbb\x00", rng)
    seeds["blocks_strip"] = spec("blocks", 1, strip=0) + pieces(b"\x01a\x00", rng)

    for name, data in sorted(seeds.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), outdir))


if __name__ == "__main__":
    main()
