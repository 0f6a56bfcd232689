#!/usr/bin/env python3
"""The relay in the TUI: a Python client and a Python server on either side
of `relay`, typed at the prompt. Both legs' panes are shown side by side,
client leg on the left, each with what it received and sent."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def header_row(scr, sock):
    """(row, column) of the pane header "[sock] tcp", or None."""
    for y, line in enumerate(scr.splitlines()):
        m = re.search(r"\[%d\] tcp " % sock, line)
        if m:
            return y, m.start()
    return None


def test_both_legs_side_by_side():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    sess = td.Session([])
    c = s = None
    try:
        port = sess.listen("relay tcp:0 tcp:127.0.0.1:%d" % srv.getsockname()[1])
        c = td.tcp_connect(port)
        srv.settimeout(5)
        s, _ = srv.accept()
        s.settimeout(5)
        c.sendall(b"ping-up\n")
        assert s.recv(100) == b"ping-up\n"
        s.sendall(b"pong-down\n")
        assert c.recv(100) == b"pong-down\n"

        def both(scr):
            a, b = header_row(scr, 2), header_row(scr, 3)
            return a and b and a[0] == b[0] and a[1] < b[1] and scr.count("pong-down") >= 2

        scr = sess.wait_for(both, 5, "panes [2] and [3] side by side")
        y, x3 = header_row(scr, 3)
        rows = scr.splitlines()
        left = "\n".join(r[:x3] for r in rows[y:])
        right = "\n".join(r[x3:] for r in rows[y:])
        # The client leg received the request and sent the answer; the target
        # leg sent the request and received the answer.
        assert re.search(r"recv #1 +8B +\"ping-up\\n", left), left
        assert re.search(r"send #1 +10B +\"pong-down\\n", left), left
        assert re.search(r"send #1 +8B +\"ping-up\\n", right), right
        assert re.search(r"recv #1 +10B +\"pong-down\\n", right), right

        # A second connection through the relay waits in the sidebar: its
        # target leg does not take the pane being looked at.
        c2 = td.tcp_connect(port)
        s2, _ = srv.accept()
        c2.sendall(b"second\n")
        assert s2.recv(100) == b"second\n"
        sess.wait_for(lambda scr: re.search(r"^5 tcp", scr, re.M), 5, "socket 5 in the sidebar")
        scr = sess.screen()
        assert header_row(scr, 2) and header_row(scr, 3), scr
        # Focusing its client leg shows both of its legs, client leg left.
        sess.command("focus 4")

        def pair(a_id, b_id):
            def ok(scr):
                a, b = header_row(scr, a_id), header_row(scr, b_id)
                return a and b and a[0] == b[0] and a[1] < b[1]
            return ok

        sess.wait_for(pair(4, 5), 5, "panes [4] and [5] side by side")
        # Focusing a target leg brings its client leg back beside it, on the left.
        sess.command("focus 3")
        sess.wait_for(pair(2, 3), 5, "panes [2] and [3] side by side again")
        c2.close()
        s2.close()
    finally:
        for k in (c, s, srv):
            if k is not None:
                k.close()
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    r.run(test_both_legs_side_by_side)
    r.finish()


if __name__ == "__main__":
    main()
