#!/usr/bin/env python3
"""Abstract Unix names are shown whole (issue 9, item 15).

A Linux abstract name is every byte after the leading NUL of sun_path, NULs
included, so "@n\\0one" and "@n\\0two" are two names. Python peers bind two
such names that differ only after an embedded NUL and talk to sockpit; every
place that shows them (events in text and JSON, `list`, `info`) must show
all of each name, escaped by the safe renderer (a NUL as \\0), so the two
never look the same. The kernel's own view is the peer's getsockname().
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
from peers import test  # noqa: E402

TAG = "spab%d" % os.getpid()


def shown(raw):
    """How the safe renderer shows an abstract name's bytes (after the '@')."""
    return "@" + raw.replace(b"\\", b"\\\\").replace(b"\0", b"\\0").decode()


def abstract_client(name, target):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind(b"\0" + name)
    assert s.getsockname() == b"\0" + name  # the kernel keeps every byte
    s.connect(target)
    return s


def stream_session(json_mode):
    """sockpit listens on an abstract name; two Python clients bound to names
    that differ after an embedded NUL connect one after the other; then
    `list` and `info` for both accepted sockets."""
    lname = (TAG + "-listen").encode()
    names = [(TAG + "-peer").encode() + b"\0one", (TAG + "-peer").encode() + b"\0two"]
    sp = peers.Sockpit(["-e", "listen unix:@" + lname.decode(),
                        "-e", "wait 1 accepted", "-e", "wait 1 accepted",
                        "-e", "list", "-e", "info 2", "-e", "info 3", "-e", "quit"],
                       json_mode=json_mode)
    clients = []
    try:
        deadline = time.monotonic() + 10
        while not any(b"listening" in ln for ln in sp.lines):
            assert time.monotonic() < deadline, "no listener"
            time.sleep(0.02)
        for i, name in enumerate(names):
            clients.append(abstract_client(name, b"\0" + lname))
            want = b"accepted"
            while sum(want in ln for ln in sp.lines) < i + 1:
                assert time.monotonic() < deadline, "not accepted: %r" % sp.lines
                time.sleep(0.02)
        assert sp.finish() == 0, sp.err
    finally:
        for c in clients:
            c.close()
        sp.kill()
    return sp, [shown(n) for n in names]


@test
def json_events_list_and_info_show_the_whole_abstract_name():
    sp, want = stream_session(json_mode=True)
    acc = sp.of("accepted")
    assert [e["peer"] for e in acc] == want, acc
    out = "\n".join(e["text"] for e in sp.of("output"))
    for w in want:
        # one row in `list`, one peer line in `info`
        assert out.count(w) >= 2, (w, out)


@test
def text_events_list_and_info_show_the_whole_abstract_name():
    sp, want = stream_session(json_mode=False)
    text = b"".join(sp.lines).decode()
    for sock, w in zip((2, 3), want):
        assert ("[%d] accepted unix on [1] @%s-listen <- %s\n" % (sock, TAG, w)) in text, text
        assert text.count(w) >= 3, (w, text)  # the event, the `list` row, `info`


@test
def datagram_senders_are_told_apart():
    lname = (TAG + "-dgram").encode()
    names = [(TAG + "-from").encode() + b"\0one", (TAG + "-from").encode() + b"\0two"]
    sp = peers.Sockpit(["-e", "bind unix-dgram:@" + lname.decode()])
    socks = []
    try:
        sp.wait_event(lambda e: e.get("ev") == "bound")
        for name in names:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(b"\0" + name)
            s.sendto(b"hi", b"\0" + lname)
            socks.append(s)
        sp.wait_event(lambda e: e.get("ev") == "recv" and e.get("seq") == 2)
        assert [e["from"] for e in sp.of("recv")] == [shown(n) for n in names], sp.of("recv")
    finally:
        for s in socks:
            s.close()
        sp.kill()


if __name__ == "__main__":
    peers.main()
