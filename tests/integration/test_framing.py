"""Framing over real TCP: a Python peer sends many random messages cut at
random points (1 byte, odd sizes, large writes); sockpit's `msg` events must
reproduce every message exactly, at the right stream offsets, with chunk
spans that agree with its own `recv` events. Also blocks series and a
hostile length prefix."""

import random
import socket
import struct
import time

import peers
from peers import Sockpit, test

RNG = random.Random(20240611)


def enc_len(n, width, le):
    if width == "varint":
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out += bytes([b | 0x80])
            else:
                return out + bytes([b])
    size = {"u8": 1, "u16": 2, "u24": 3, "u32": 4, "u64": 8}[width]
    return n.to_bytes(size, "little" if le else "big")


def rand_msg(maxlen, forbid=b""):
    n = RNG.choice([0, 1, 2, RNG.randrange(3, 64), RNG.randrange(64, maxlen + 1)])
    n = min(n, maxlen)
    data = bytes(RNG.randrange(256) for _ in range(n))
    for f in forbid:
        data = data.replace(bytes([f]), b"a")
    return data


def spec_cases():
    """(spec, list of (message, wire frame, blocks or None))"""
    cases = []

    def series(spec, make, count=150, maxlen=3000, forbid=b""):
        msgs = []
        for _ in range(count):
            m = rand_msg(maxlen, forbid)
            msgs.append((m, make(m), None))
        cases.append((spec, msgs))

    series("line", lambda m: m + b"\n", forbid=b"\r\n")
    series("delim:\\r\\n", lambda m: m + b"\r\n", forbid=b"\r")
    series("delim:END", lambda m: m + b"END", forbid=b"END")
    series("delim:\\0", lambda m: m + b"\0", forbid=b"\0")
    for w in ("u8", "u16", "u24", "u32", "u64", "varint"):
        maxlen = 255 if w == "u8" else 5000
        series("len:%s" % w, lambda m, w=w: enc_len(len(m), w, False) + m, maxlen=maxlen)
    series("len:u16le", lambda m: enc_len(len(m), "u16", True) + m)
    series("len:u32le", lambda m: enc_len(len(m), "u32", True) + m)
    series("netstring", lambda m: b"%d:" % len(m) + m + b",")
    series("decimal:\\n", lambda m: b"%d\n" % len(m) + m)
    fixed = []
    for _ in range(200):
        m = bytes(RNG.randrange(256) for _ in range(37))
        fixed.append((m, m, None))
    cases.append(("fixed:37", fixed))
    blocks = []
    for _ in range(60):
        lens = [RNG.randrange(1, 900) for _ in range(RNG.randrange(1, 5))]
        parts = [bytes(RNG.randrange(256) for _ in range(n)) for n in lens]
        wire = b"".join(struct.pack(">I", len(p)) + p for p in parts) + struct.pack(">I", 0)
        blocks.append((b"".join(parts), wire, lens))
    cases.append(("blocks:u32", blocks))
    return cases


def send_cut(s, data):
    """Writes data in pieces of 1 byte, odd sizes and large writes, with a
    pause now and then so that recv boundaries fall in many places."""
    i = 0
    n = 0
    while i < len(data):
        kind = RNG.random()
        if kind < 0.3:
            k = 1
        elif kind < 0.8:
            k = RNG.randrange(1, 200) | 1
        else:
            k = RNG.randrange(2000, 70000)
        s.sendall(data[i:i + k])
        i += k
        n += 1
        if n % 8 == 0:
            time.sleep(0.001)


def check_stream(sp, sock, msgs, wire):
    recvs = {e["seq"]: e for e in sp.of("recv", sock)}
    stream = b"".join(bytes.fromhex(recvs[k]["hex"]) for k in sorted(recvs))
    assert stream == wire, "recv events do not add up to the bytes sent"
    got = sp.of("msg", sock)
    assert len(got) == len(msgs), "%d msgs for %d sent" % (len(got), len(msgs))
    off = 0
    prev_end = (0, 0)
    for i, (ev, (m, frame, blocks)) in enumerate(zip(got, msgs)):
        assert ev["seq"] == i + 1
        assert bytes.fromhex(ev["hex"]) == m, "message %d differs" % (i + 1)
        assert ev["len"] == len(m)
        assert ev["off"] == off and ev["end_off"] == off + len(frame), \
            "message %d at %d..%d, expected %d..%d" % (i + 1, ev["off"], ev["end_off"], off,
                                                       off + len(frame))
        first, last = ev["chunks"]
        assert first <= last and first in recvs and last in recvs
        # The span's ends, located by the recv events' own offsets.
        assert recvs[first]["off"] + ev["chunk_first_off"] == ev["off"]
        assert recvs[last]["off"] + ev["chunk_last_end"] == ev["end_off"]
        assert ev["chunk_first_off"] < recvs[first]["len"]
        assert 0 < ev["chunk_last_end"] <= recvs[last]["len"]
        assert (first, ev["chunk_first_off"]) >= prev_end or ev["chunk_first_off"] == 0
        prev_end = (last, ev["chunk_last_end"])
        if blocks is not None:
            assert ev["blocks"] == blocks, "blocks %r, expected %r" % (ev["blocks"], blocks)
        assert not ev["truncated"]
        off += len(frame)


@test
def every_framing_spec_reproduces_random_messages():
    # Small recv sizes put recv boundaries inside headers and delimiters.
    sizes = [3, 61, 1000, 65536]
    for k, (spec, msgs) in enumerate(spec_cases()):
        wire = b"".join(f for _, f, _ in msgs)
        sp = Sockpit(["--timeout", "30", "-e", "listen tcp:0 --framing " + spec,
                      "-e", "wait accepted", "-e", "recvsize 2 %d" % sizes[k % len(sizes)],
                      "-e", "wait 2 eof --timeout 20000", "-e", "quit"])
        try:
            s = peers.connect(sp.port())
            # Send only once the recv size is in force.
            sp.wait_event(lambda e: e.get("ev") == "accepted")
            time.sleep(0.05)
            send_cut(s, wire)
            s.shutdown(socket.SHUT_WR)
            rc = sp.finish()
            s.close()
            assert rc == 0, "%s: rc %d, stderr %r" % (spec, rc, sp.err)
            assert not sp.bad_lines, "invalid JSON lines: %r" % sp.bad_lines[:3]
            assert not sp.of("frame_error"), "%s: %r" % (spec, sp.of("frame_error"))
            check_stream(sp, 2, msgs, wire)
        except AssertionError as e:
            raise AssertionError("framing %s: %s" % (spec, e))
        finally:
            sp.kill()


@test
def eof_framing_is_the_whole_stream():
    data = bytes(RNG.randrange(256) for _ in range(100000))
    sp = Sockpit(["--timeout", "20", "-e", "listen tcp:0 --framing eof", "-e", "wait accepted",
                  "-e", "wait 2 eof", "-e", "quit"])
    s = peers.connect(sp.port())
    send_cut(s, data)
    s.shutdown(socket.SHUT_WR)
    assert sp.finish() == 0
    s.close()
    msgs = sp.of("msg", 2)
    assert len(msgs) == 1 and bytes.fromhex(msgs[0]["hex"]) == data


@test
def blocks_two_series_are_two_messages_with_block_lengths():
    sp = Sockpit(["--timeout", "20", "-e", "listen tcp:0 --framing blocks:u32be",
                  "-e", "wait accepted", "-e", "wait 2 msgs:2", "-e", "quit"])
    s = peers.connect(sp.port())
    wire = b""
    for blocks in ([b"abc", b"de"], [b"x" * 1000, b"y", b"zz"]):
        for b in blocks:
            wire += struct.pack(">I", len(b)) + b
        wire += struct.pack(">I", 0)
    for i in range(len(wire)):  # one byte at a time: the hardest cut
        s.send(wire[i:i + 1])
    assert sp.finish() == 0
    s.close()
    msgs = sp.of("msg", 2)
    assert [bytes.fromhex(m["hex"]) for m in msgs] == [b"abcde", b"x" * 1000 + b"yzz"]
    assert msgs[0]["blocks"] == [3, 2] and msgs[1]["blocks"] == [1000, 1, 2]


@test
def hostile_length_prefix_is_rejected_without_allocating():
    sp = Sockpit(["--timeout", "20", "-e", "listen tcp:0 --framing len:u32be,max=1K",
                  "-e", "wait accepted", "-e", "wait 2 bytes:12", "-e", "send 2 --raw pong",
                  "-e", "wait 2 sent", "-e", "wait 2 eof", "-e", "quit"])
    try:
        s = peers.connect(sp.port())
        base = sp.rss_kib()
        s.sendall(struct.pack(">I", 0x80000000) + b"junk")  # 2 GiB announced
        err = sp.wait_event(lambda e: e.get("ev") == "frame_error")
        assert err["sock"] == 2 and err["off"] <= 4, err
        rss = sp.rss_kib()
        assert rss - base < 32 * 1024, "RSS grew from %d to %d KiB" % (base, rss)
        s.sendall(b"ping")  # the socket is still usable, now raw
        got = peers.recv_until(s, b"pong")
        assert got.endswith(b"pong"), got
        s.shutdown(socket.SHUT_WR)
        assert sp.finish() == 0, sp.err
        s.close()
        data = b"".join(bytes.fromhex(e["hex"]) for e in sp.of("recv", 2))
        assert data.endswith(b"ping")
        assert not sp.of("closed", 2) or sp.of("closed", 2)[0]["reason"] != ""
    finally:
        sp.kill()


if __name__ == "__main__":
    peers.main()
