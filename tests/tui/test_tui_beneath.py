#!/usr/bin/env python3
"""Issue 11 in the TUI: the composer's ^N makes a message one non-blocking
call (send --once), then the urgent byte (send --oob), then back to a send
that finishes its write; the `:` prompt completes the new recv and send
options. Each test runs the real binary in its own tmux server
(tmuxdrive.py)."""
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def recv_exact(peer, n, timeout=5.0, flags=0):
    peer.settimeout(timeout)
    got = b""
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        b = peer.recv(n - len(got), flags)
        if not b:
            break
        got += b
    return got


def test_composer_sends_one_call_then_the_urgent_byte():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:0 --framing line")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.keys("Enter")
        sess.wait_text("send [2]")
        assert "^N" in sess.screen().splitlines()[-1]
        # One call: the bytes as typed (the framing adds no \n), in one call.
        sess.keys("C-n")
        sess.type("abc")
        sess.wait_for(lambda s: "(one call)>" in s and "wire 3 B (raw) in one call" in s, 3,
                      "the one-call preview")
        sess.keys("Enter")
        assert recv_exact(peer, 3) == b"abc"
        # Urgent: one byte with MSG_OOB.
        sess.keys("C-n")
        sess.type("!")
        sess.wait_for(lambda s: "(urgent)>" in s and "as the urgent byte" in s, 3,
                      "the urgent setting")
        sess.keys("Enter")
        # The urgent byte alone raises POLLPRI, not POLLIN (Python's recv
        # with a timeout would wait for POLLIN): poll for it, then read.
        p = select.poll()
        p.register(peer, select.POLLPRI)
        assert p.poll(5000), "no urgent byte"
        peer.setblocking(False)
        assert peer.recv(1, socket.MSG_OOB) == b"!"
        peer.setblocking(True)
        # Back to a send that finishes its write, framed.
        sess.keys("C-n")
        sess.type("line")
        sess.wait_for(lambda s: "send [2] line>" in s and "wire 5 B" in s, 3, "settings back")
        sess.keys("Enter")
        assert recv_exact(peer, 5) == b"line\n"
    finally:
        if peer:
            peer.close()
        sess.close()


def test_prompt_completes_the_new_recv_and_send_options():
    sess = td.Session([])
    try:
        sess.keys(":")
        sess.type("recv --pe")
        sess.keys("Tab")
        sess.wait_for(lambda s: "recv --peek" in s, 3, "--peek completed")
        sess.keys("C-u")
        sess.type("send --on")
        sess.keys("Tab")
        sess.wait_for(lambda s: "send --once" in s, 3, "--once completed")
        sess.keys("Escape")
    finally:
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    tests = (test_composer_sends_one_call_then_the_urgent_byte,
             test_prompt_completes_the_new_recv_and_send_options)
    only = sys.argv[1:]
    for fn in tests:
        if not only or any(o in fn.__name__ for o in only):
            r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
