#!/usr/bin/env python3
"""TUI tests with real peers: a listener typed at the prompt, a Python client,
hostile bytes, half-close in both directions and recv boundaries in messages.
Each test runs the real binary in its own tmux server (see tmuxdrive.py)."""
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

SIDEBAR_W = 32  # at 120 columns


def sidebar(scr):
    return "\n".join(line[:SIDEBAR_W] for line in scr.splitlines())


def main_area(scr):
    return "\n".join(line[SIDEBAR_W + 1:] for line in scr.splitlines())


def test_listen_peer_text_shows_in_sidebar_and_pane():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen()
        peer = td.tcp_connect(port)
        peer.sendall(b"hello from python\n")
        scr = sess.wait_text("hello from python\\n")
        # The accepted socket is in the sidebar under its listener...
        scr = sess.wait_for(lambda s: re.search(r"2 tcp\b", sidebar(s)), 3, "socket 2 listed")
        side = sidebar(scr)
        assert "1 tcp-listen" in side, side
        assert side.index("1 tcp-listen") < side.index("2 tcp"), side
        # ...and its pane (header [2]) shows the text as a received chunk.
        main = main_area(scr)
        assert "[2] tcp 127.0.0.1:%d" % port in main, main
        assert re.search(r"recv #1 +18 B +\"hello from python\\n", main), main
        assert "peer: open" in main and "us: open" in main, main
    finally:
        if peer:
            peer.close()
        sess.close()


def test_hostile_bytes_are_escaped_and_change_nothing():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen()
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        before = sess.screen()
        title = sess.title()
        evil = b"\x1b]2;pwned\x07\x1b[2J\x9b31m\xe2\x80\xaeE\rF\x08G\n"
        peer.sendall(evil)
        scr = sess.wait_text("pwned")
        # Shown escaped, each hostile byte visible as an escape.
        want = r'"\e]2;pwned\x07\e[2J\x9b31m\xe2\x80\xaeE\rF\x08G\n"'
        assert want in scr, scr
        # The terminal itself was not touched: same title, nothing cleared or
        # overwritten (the sidebar, the pane header and the hint line stand).
        assert sess.title() == title, (sess.title(), title)
        assert "pwned" not in sess.title()
        lines = scr.splitlines()
        assert lines[0].startswith(" Sockets (2)"), lines[0]
        assert "[2] tcp" in lines[0], lines[0]
        assert "accepted from" in scr
        assert before.splitlines()[-1] == lines[-1], (before.splitlines()[-1], lines[-1])
        assert "\x1b" not in sess.screen(colours=False)
        # Colour capture: the only escapes are tmux's own SGR sequences.
        coloured = sess.screen(colours=True)
        for seq in re.findall(r"\x1b(.)", coloured):
            assert seq == "[", repr(seq)
        assert not re.search(r"\x1b\[[0-9;]*[^0-9;m]", coloured), "non-SGR escape on screen"
    finally:
        if peer:
            peer.close()
        sess.close()


def test_shutdown_menu_sends_fin_and_peer_fin_is_shown():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen()
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.keys("s")
        sess.wait_text("SHUT_WR  send FIN")
        sess.keys("w")
        # The peer reads EOF: our FIN arrived.
        peer.settimeout(5)
        assert peer.recv(100) == b"", "peer did not see EOF"
        scr = sess.wait_text("us: SHUT_WR sent")
        assert "peer: open" in scr, scr
        assert "shutdown(SHUT_WR)" in scr, scr
        # The other direction still works: the peer sends, then its FIN.
        peer.sendall(b"still talking\n")
        sess.wait_text("still talking")
        peer.shutdown(socket.SHUT_WR)
        scr = sess.wait_text("peer: FIN received")
        assert "peer sent FIN" in scr, scr
        assert "us: SHUT_WR sent" in scr, scr
        assert re.search(r"2 tcp +both FIN", sidebar(scr)), sidebar(scr)
        header = lambda s: [ln for ln in s.splitlines() if "[2] tcp" in ln][0]
        assert "read to EOF" in header(scr), header(scr)
        # `c` closes (after asking): the header stops claiming the socket is
        # reading.
        sess.keys("c")
        sess.wait_text("close [2]?")
        sess.keys("y")
        scr = sess.wait_text("us: closed")
        assert "reading" not in header(scr) and "paused" not in header(scr), header(scr)
    finally:
        if peer:
            peer.close()
        sess.close()


def test_small_recv_size_marks_recv_boundaries_in_message_view():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:0 --framing line")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.command("recvsize 4")
        sess.wait_text("recv 4 ")
        peer.sendall(b"abcdefghij\n")
        sess.wait_text("recv #3")
        # Message view: the one message, cut where each recv() ended.
        sess.command("view msgs")
        scr = sess.wait_for(lambda s: "messages" in s.splitlines()[0], 3, "message view")
        main = main_area(scr)
        assert re.search(r'msg #1 +10 B +"abcd┊efgh┊ij" \(chunks 1-3\)', main), main
        assert "recv #1" not in main, "message view shows no chunks:\n" + main
        # Chunk view (the v key cycles: messages -> both -> chunks): the
        # message end falls inside the third chunk.
        sess.keys("v", "v")
        scr = sess.wait_for(lambda s: "chunks" in s.splitlines()[0], 3, "chunk view")
        main = main_area(scr)
        assert re.search(r'recv #3 +3 B +"ij\\n┊"', main), main
        assert "msg #1" not in main, main
        # Hex shows the same boundaries between bytes.
        sess.keys("v", "x")  # messages, hex
        scr = sess.wait_for(lambda s: "61 62 63 64┊65 66 67 68┊69 6a" in s, 3, "hex marks")
    finally:
        if peer:
            peer.close()
        sess.close()


def test_chunk_view_marks_message_ends_inside_a_chunk():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:0 --framing line")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        peer.sendall(b"one\ntwo\nthr")
        sess.wait_text("msg #2")
        scr = sess.wait_text('"one\\n┊two\\n┊thr"')
        assert "msg #1" in scr and "msg #3" not in scr, scr
    finally:
        if peer:
            peer.close()
        sess.close()


def sidebar_row_state(scr, sock_id):
    """The state column of socket sock_id's sidebar row, or None if the
    sidebar has no row for it."""
    for line in sidebar(scr).splitlines():
        m = re.search(r"(\d+) tcp\s+(\S+)\s*$", line)
        if m and int(m.group(1)) == sock_id:
            return m.group(2)
    return None


def test_forgotten_closed_sockets_are_counted_in_the_sidebar():
    sess = td.Session(["-e", "set keep-closed 2"])
    try:
        port = sess.listen("listen tcp:0 --echo")
        for i in range(6):
            peer = td.tcp_connect(port)
            peer.sendall(b"x\n")
            peer.recv(8)
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            peer.close()
            # sockpit has closed this connection before the next one arrives
            # (the newest closed one is always kept): each new connection
            # then reuses the one pane, which decides the kept ones below.
            sid = i + 2
            sess.wait_for(lambda s: sidebar_row_state(s, sid) == "RST", 10,
                          "socket %d closed by the peer's reset" % sid)
        # 6 closed, 2 kept; sockets shown in a pane are among the kept.
        scr = sess.wait_for(lambda s: "4 older closed forgotten" in sidebar(s), 10,
                            "the forgotten count")
        side = sidebar(scr)
        assert "Sockets (3)" in side, side
        assert "7 tcp" in side, side
        assert "3 tcp" not in side, side
        sess.command("info 3")
        sess.wait_text("socket 3 was closed and forgotten")
    finally:
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    for fn in (test_listen_peer_text_shows_in_sidebar_and_pane,
               test_hostile_bytes_are_escaped_and_change_nothing,
               test_shutdown_menu_sends_fin_and_peer_fin_is_shown,
               test_small_recv_size_marks_recv_boundaries_in_message_view,
               test_chunk_view_marks_message_ends_inside_a_chunk,
               test_forgotten_closed_sockets_are_counted_in_the_sidebar):
        r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
