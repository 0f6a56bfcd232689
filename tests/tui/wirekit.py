"""Helpers the TUI wire-view tests share: a watched connection in its own
pane, a line that arrives in two segments, the rows of the main area.
Capturing needs root, so every wire test starts with need_capture()."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

SEGMARK = "\u254e"


def need_capture():
    """Skips (exit 77) without tmux or without root (CAP_NET_RAW)."""
    td.need_tmux()
    if os.geteuid() != 0:
        print("skip: capturing needs root (CAP_NET_RAW)")
        sys.exit(77)


def accept(sess, line):
    """Runs the listen command line, connects a peer that sends each write
    at once (TCP_NODELAY) and waits for the accept; returns the peer."""
    port = sess.listen(line)
    peer = td.tcp_connect(port)
    peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sess.wait_text("accepted from")
    return peer


def accept_pane(sess, line):
    """accept(), then the accepted connection's pane (2) in front."""
    peer = accept(sess, line)
    sess.keys("2")
    sess.wait_for(lambda s: s.splitlines()[0].split("\u2502", 1)[-1].startswith(" [2]"), 3,
                  "pane 2")
    return peer


def two_segments(sess, peer, first, second, seg="wire in  PSH|ACK"):
    """Pauses socket 2 and sends first, then second, each once the capture
    showed the one before: two segments for one recv once reading resumes."""
    sess.command("pause 2")
    sess.wait_text("paused")
    peer.sendall(first)
    sess.wait_for(lambda s: s.count(seg) >= 1, 5, "the first segment")
    peer.sendall(second)
    sess.wait_for(lambda s: s.count(seg) >= 2, 5, "the second segment")


def pane_rows(scr):
    """The main area's rows (right of the sidebar)."""
    return [ln.split("\u2502", 1)[1] if "\u2502" in ln else ln for ln in scr.splitlines()]


def row_of(rows, pat, start=0):
    for i in range(start, len(rows)):
        if re.search(pat, rows[i]):
            return i
    raise AssertionError("no row matches %r in:\n%s" % (pat, "\n".join(rows)))
