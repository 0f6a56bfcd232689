#!/usr/bin/env python3
"""The wire view in the TUI (issue 12): `w` turns it on for the focused
listener, and the handshake of the next connection and its data segment
show as wire rows next to the recv, at the recv's offset; where a segment
began inside a recv chunk and inside a message shows as a third mark (╎),
and the message says how many segments and recv() calls it took. Needs root to
capture (skipped otherwise); real Python peer, the real binary in tmux."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402
import wirekit as wk  # noqa: E402


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


def test_segment_boundaries_inside_a_recv_and_a_message():
    sess = td.Session([])
    peer = None
    try:
        peer = wk.accept_pane(sess, "listen tcp:127.0.0.1:0 --wire --framing line")
        # Two segments, read by one recv once reading resumes: the third
        # mark shows where the second segment began, inside the chunk and
        # inside the message.
        wk.two_segments(sess, peer, b"ab", b"cd\n")
        sess.command("view both")
        sess.command("resume 2")
        scr = sess.wait_text("msg #1")
        # (the message's end is the second mark, after the newline)
        assert ('"ab%scd\\n' % wk.SEGMARK) in scr and "(2 segments)" in scr, scr
        assert ('"ab%scd"' % wk.SEGMARK) in scr, scr
        assert "(arrived in 2 segments, read by 1 recv() call)" in scr, scr
    finally:
        if peer:
            peer.close()
        sess.close()


def main():
    wk.need_capture()
    r = td.Runner()
    r.run(test_w_shows_the_segments_next_to_the_recv)
    r.run(test_segment_boundaries_inside_a_recv_and_a_message)
    r.finish()


if __name__ == "__main__":
    main()
