#!/usr/bin/env python3
"""The wire view as its users meet it (issue 12, found trying it): what the
wire says about a message stays on its row in an 80-column terminal; `v`
reaches the wire timeline of a socket whose capture ended (closed, or w
off) while its segments are still in the history; lab wire's first
question names no socket that does not exist yet; hex rows say how many
segments carried the bytes; `view wire` says when nothing is captured. Real captures on lo
(root; skipped otherwise), real Python peers, the real binary in tmux."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402
import wirekit as wk  # noqa: E402


def two_segment_message(sess, peer):
    """hello\\n in two segments (hel, lo\\n), each read by its own recv."""
    peer.sendall(b"hel")
    sess.wait_text("recv #1")
    peer.sendall(b"lo\n")
    return sess.wait_text("msg #1")


def msg_row(scr):
    return next(ln for ln in scr.splitlines() if "msg #1" in ln)


def test_message_counts_fit_80_columns():
    """In 80 columns (the sidebar shown, then hidden) the message row still
    says how many segments carried it and how many recv() calls read it."""
    sess = td.Session([], width=80, height=24)
    peer = None
    try:
        peer = wk.accept_pane(sess, "listen tcp:127.0.0.1:0 --wire --framing line")
        scr = two_segment_message(sess, peer)
        row = msg_row(scr)
        assert re.search(r"\(2 seg, 2 recv\)", row), scr
        sess.keys("S")  # no sidebar: the whole width, times shown
        scr = sess.wait_for(lambda s: "Sockets" not in s, 3, "no sidebar")
        row = msg_row(scr)
        assert re.search(r"\(2 seg, 2 recv\)|\(arrived in 2 segments, read by 2 recv\(\) calls\)",
                         row), scr
        sess.command("view wire")
        scr = sess.wait_for(lambda s: " wire" in s.splitlines()[0], 3, "the wire view")
        row = msg_row(scr)
        assert "@0-6" in row and re.search(r"\(2 seg, 2 recv\)", row), scr
    finally:
        if peer:
            peer.close()
        sess.close()


def test_v_reaches_the_wire_view_after_the_capture_ends():
    """w off (or the socket closed) keeps the segments in the history: v
    still goes round to the wire timeline that shows them."""
    sess = td.Session([], width=160)
    peer = None
    try:
        peer = wk.accept_pane(sess, "listen tcp:127.0.0.1:0 --wire --framing line")
        two_segment_message(sess, peer)
        sess.command("wire 2 off")
        sess.command("wire 2")
        sess.wait_text("wire off (socket 2)")
        seen = []
        for _ in range(4):
            sess.keys("v")
            time.sleep(0.15)
            seen.append(sess.screen().splitlines()[0].split()[-1])
            if seen[-1] == "wire":
                break
        assert seen[-1] == "wire", seen
        scr = sess.screen()
        assert "\u2190 seg SYN seq 0" in scr, scr
    finally:
        if peer:
            peer.close()
        sess.close()


def test_lab_wire_first_question_names_no_missing_socket():
    """The question comes before the step runs: no socket exists yet, so
    it must not say $1 or $3."""
    sess = td.Session(["--lab", "wire"], width=120)
    try:
        scr = sess.wait_text("predict, then Space runs the step")
        assert "how many segments" in scr, scr
        assert not re.search(r"\$\d", scr), scr
    finally:
        sess.close()


def test_hex_rows_say_how_many_segments():
    """In hex (x) the bytes fill the rows, and where a segment began on a
    recv boundary only the recv's mark shows: a row under the bytes says
    how many segments carried the message and how many recv() calls read it."""
    sess = td.Session([], width=120)
    peer = None
    try:
        peer = wk.accept_pane(sess, "listen tcp:127.0.0.1:0 --wire --framing line")
        two_segment_message(sess, peer)
        sess.keys("x")
        scr = sess.wait_for(lambda s: " hex" in s.splitlines()[0], 3, "the hex view")
        rows = scr.splitlines()
        i = next(k for k, ln in enumerate(rows) if "msg #1" in ln)
        assert re.search(r"\(arrived in 2 segments, read by 2 recv\(\) calls\)|\(2 seg, 2 recv\)",
                         rows[i + 1]), scr
    finally:
        if peer:
            peer.close()
        sess.close()


def test_view_wire_says_when_nothing_is_captured():
    """`view wire` on a socket whose segments were never captured says so
    (and how to start), rather than show a wire with no segments."""
    sess = td.Session([], width=120)
    peer = None
    try:
        port = sess.listen("listen tcp:127.0.0.1:0 --framing line")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.keys("2")
        sess.command("view wire")
        sess.wait_text("segments are not captured: w turns it on")
    finally:
        if peer:
            peer.close()
        sess.close()


def main():
    wk.need_capture()
    r = td.Runner()
    r.run(test_message_counts_fit_80_columns)
    r.run(test_v_reaches_the_wire_view_after_the_capture_ends)
    r.run(test_lab_wire_first_question_names_no_missing_socket)
    r.run(test_hex_rows_say_how_many_segments)
    r.run(test_view_wire_says_when_nothing_is_captured)
    r.finish()


if __name__ == "__main__":
    main()
