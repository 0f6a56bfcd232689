#!/usr/bin/env python3
"""TUI truth about messages (issue 9, Data): a blocks series shows its block
lengths in the message view, and a message cut by a framing change says so
(not "EOF", which never happened). Real Python peers, the real binary in
tmux."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

SIDEBAR_W = 32  # at 120 columns


def main_area(scr):
    return "\n".join(line[SIDEBAR_W + 1:] for line in scr.splitlines())


def test_blocks_lengths_show_in_the_message_view():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:0 --framing blocks:u8")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        peer.sendall(b"\x03abc\x02de\x00" + b"\x01x\x00")
        sess.command("view msgs")
        scr = sess.wait_for(lambda s: "msg #2" in s and "messages" in s.splitlines()[0], 5,
                            "two messages in the message view")
        main = main_area(scr)
        assert re.search(r'msg #1 +5 B +blocks 3\+2 +"abcde"', main), main
        assert re.search(r'msg #2 +1 B +blocks 1 +"x"', main), main
    finally:
        if peer:
            peer.close()
        sess.close()


def test_message_cut_by_a_framing_change_says_so():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:0 --framing line")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        peer.sendall(b"abc")
        sess.wait_text("recv #1")
        sess.command("framing raw")
        scr = sess.wait_text("truncated by the framing change")
        assert "truncated by EOF" not in scr, scr
        assert "peer: open" in scr, scr
    finally:
        if peer:
            peer.close()
        sess.close()


def test_length_error_header_says_decoding_is_raw():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:0 --framing len:u8,max=10")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        peer.sendall(b"\xffabc")
        scr = sess.wait_text("length 255 over max 10")
        scr = sess.wait_text("(decoding raw)")
        # The framing the user chose is still named: send still uses it.
        assert "len:u8,max=10 (decoding raw)" in scr, scr
    finally:
        if peer:
            peer.close()
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    for fn in (test_blocks_lengths_show_in_the_message_view,
               test_message_cut_by_a_framing_change_says_so,
               test_length_error_header_says_decoding_is_raw):
        r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
