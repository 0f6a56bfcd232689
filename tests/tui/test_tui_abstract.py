#!/usr/bin/env python3
"""The TUI shows abstract Unix names whole (issue 9, item 15): two Python
peers bound to names that differ only after an embedded NUL connect to an
abstract listener, and the sidebar, the pane headers and the timelines show
each full name, the NUL as \\0 (the safe renderer's escape)."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

TAG = "spt%d" % os.getpid()


def test_two_names_that_differ_after_a_nul_look_different():
    sess = td.Session(["-e", "listen unix:@%s-l" % TAG])
    clients = []
    try:
        sess.wait_text("listening on @%s-l" % TAG)
        for suffix in (b"a", b"b"):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(5)
            c.bind(b"\0" + TAG.encode() + b"\0" + suffix)
            c.connect(b"\0" + TAG.encode() + b"-l")
            clients.append(c)
        want = ["@%s\\0a" % TAG, "@%s\\0b" % TAG]
        scr = sess.wait_for(lambda s: all(s.count(w) >= 3 for w in want), 5,
                            "each full name in the sidebar, its pane header and timeline")
        assert "@%s " % TAG not in scr, scr
    finally:
        for c in clients:
            c.close()
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    r.run(test_two_names_that_differ_after_a_nul_look_different)
    r.finish()


if __name__ == "__main__":
    main()
