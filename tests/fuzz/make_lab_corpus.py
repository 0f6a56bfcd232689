#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_labfile: every built-in lab (src/cmd/labs),
and small files that reach each directive, each check form and each error.
Run it from anywhere; it rewrites tests/fuzz/corpus/fuzz_labfile/."""
import glob
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus", "fuzz_labfile")

HEAD = b"lab: x\nsummary: s\nduration: 1 min\n"
SMALL = [
    b"", b"\n", b"lab: x\n", b"lab: x\nsummary: s\n", HEAD + b"step: t\n",
    HEAD + b"step: t\nlisten tcp:0\nconnect $1.addr\nwait $1 accepted\n",
    HEAD + b"step: t\nask: q?\nask: more\nchoice: a\nchoice: b\nanswer: 2\nnote: n\nnote:\n",
    HEAD + b"step: t\ncheck: c recv $3 > 1\ncheck: d recv $3 len>16 = 0\n",
    HEAD + b"step: t\ncheck: e recv $3 > msg $3\ncheck: f error $3 code=ECONNRESET\n",
    HEAD + b"step: t\ncheck: g state $2 tcp=TIME_WAIT\ncheck: h now $2 tcp=FIN_WAIT2 unread>0\n",
    HEAD + b"step: t\ncheck: i closed reason~reset\ncheck: j msg $3 chunks>1 truncated\n",
    HEAD + b"step: t\ncheck: k send $2 writes>=2 len<=5 != 0\n",
    HEAD + b"step: t\nsend $2 $$5 \"a b\"\r\n# comment\n   indented\n",
    # errors
    b"summary: s\nstep: t\n", b"lab: X\n", b"lab: x\nlab: y\n", b"step: t\n",
    HEAD + b"listen tcp:0\n", HEAD + b"bogus: 1\n", HEAD + b"step: t\nchoice: a\n",
    HEAD + b"step: t\nask: q\nchoice: a\nanswer: 2\n", HEAD + b"step: t\nanswer: 1\n",
    HEAD + b"step: t\nsend $0\n", HEAD + b"step: t\nsend $x\n", HEAD + b"step: t\nsend $1.foo\n",
    HEAD + b"step: t\ncheck:\n", HEAD + b"step: t\ncheck: c\n", HEAD + b"step: t\ncheck: c 5\n",
    HEAD + b"step: t\ncheck: c bogus $1\n", HEAD + b"step: t\ncheck: c recv $1 code=X\n",
    HEAD + b"step: t\ncheck: c recv $1 len=x\n", HEAD + b"step: t\ncheck: c recv $1 len\n",
    HEAD + b"step: t\ncheck: c error $1 code<X\n", HEAD + b"step: t\ncheck: c now tcp=X\n",
    HEAD + b"step: t\ncheck: c recv > 1 > 2\n", HEAD + b"step: t\ncheck: c recv\ncheck: c eof\n",
    HEAD + b"step: t\nsend \x00\n", HEAD + b"step: t\nsend \x1b[2J\n",
    HEAD + b"step: " + b"x" * 5000 + b"\n", HEAD + b"step: t\ncheck: c recv $100\n",
    HEAD + b"summary: again\n", HEAD + b"step: t\nnote: \xff\xfe caf\xc3\xa9\n",
    HEAD + b"needs: loss\nstep: t\n", HEAD + b"needs: loss lots\n", HEAD + b"needs:\n",
    HEAD + b"step: t\nneeds: loss\n",
]


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    seeds = [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(ROOT, "src/cmd/labs/*.lab")))]
    for i, s in enumerate(seeds + SMALL):
        with open(os.path.join(OUT, "seed-%03d" % i), "wb") as f:
            f.write(s)


if __name__ == "__main__":
    main()
