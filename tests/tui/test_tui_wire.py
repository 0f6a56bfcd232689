#!/usr/bin/env python3
"""The wire view in the TUI (issue 12): `w` turns it on for the focused
listener, and the handshake of the next connection and its data segment
show as wire rows next to the recv, at the recv's offset. Needs root to
capture (skipped otherwise); real Python peer, the real binary in tmux."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def test_w_shows_the_segments_next_to_the_recv():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:127.0.0.1:0")
        sess.wait_for(lambda s: "listening on" in s and s.splitlines()[-2].strip() == "", 3,
                      "the prompt closed")
        sess.keys("w")
        sess.command("info 1")
        sess.wait_text("wire on lo")
        sess.keys("Escape")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.keys("2")  # the accepted connection's pane
        peer.sendall(b"hello")
        scr = sess.wait_for(lambda s: "recv #1" in s and "wire in  PSH|ACK" in s, 5,
                            "the data segment and the recv")
        assert re.search(r"wire in  SYN seq 0 len 0 @0 win \d+ mss \d+", scr), scr
        assert re.search(r"wire out SYN\|ACK seq 0 ack 1 len 0 @0", scr), scr
        assert re.search(r"wire in  PSH\|ACK seq 1 ack 1 len 5 @0", scr), scr
        # w again: off; what was captured stays in the timeline.
        sess.keys("1", "w")
        sess.command("info 1")
        sess.wait_for(lambda s: "socket 1 tcp-listen" in s and "wire on" not in s, 3,
                      "wire off")
        sess.keys("Escape")
        peer.sendall(b"more")
        sess.keys("2")
        scr = sess.wait_text("recv #2")
        assert "len 4 @5" not in scr, scr
    finally:
        if peer:
            peer.close()
        sess.close()


def main():
    td.need_tmux()
    if os.geteuid() != 0:
        print("skip: capturing needs root (CAP_NET_RAW)")
        sys.exit(77)
    r = td.Runner()
    r.run(test_w_shows_the_segments_next_to_the_recv)
    r.finish()


if __name__ == "__main__":
    main()
