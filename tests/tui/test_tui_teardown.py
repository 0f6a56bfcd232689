#!/usr/bin/env python3
"""The pane tells teardown as the kernel did it (issue 9, items 1, 5, 6): a
reset that came with data is RST, not FIN; a paused socket shows the FIN
waiting in the kernel (CLOSE_WAIT, as `ss` says); after `shutdown rd` the
header no longer says `reading`; a closed listener is not LISTEN; close()
with unread data says the kernel sent RST. Real peers, in tmux."""
import os
import re
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

from test_tui_sockets import main_area  # noqa: E402


def header(scr, sock):
    return [ln for ln in main_area(scr).splitlines() if "[%d] tcp" % sock in ln][0]


def ss_state(port):
    out = subprocess.run(["ss", "-tanH", "sport = :%d" % port], capture_output=True, text=True,
                         timeout=10).stdout.split()
    return out[0] if out else None


def test_reset_with_data_shows_rst_not_fin():
    sess = td.Session([])
    try:
        port = sess.listen()
        sess.command("pause 1")  # the connection waits in the backlog
        sess.wait_text("accepting paused")
        peer = td.tcp_connect(port)
        peer.sendall(b"bye")
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        sess.command("resume 1")
        scr = sess.wait_text("peer: RST")
        main = main_area(scr)
        assert "FIN received" not in main and "peer sent FIN" not in main, main
        assert "ECONNRESET" in main and "closed: peer reset" in main, main
        assert '"bye"' in main, main
    finally:
        sess.close()


def test_paused_socket_shows_the_fin_waiting_in_the_kernel():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen()
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.keys("p")
        sess.wait_text("reading paused")
        peer.sendall(b"abc")
        peer.shutdown(socket.SHUT_WR)
        scr = sess.wait_text("peer: FIN waiting in the kernel (unread)")
        main = main_area(scr)
        assert "tcp CLOSE_WAIT" in main and "unread 3" in main, main
        assert ss_state(port) is not None
        states = subprocess.run(["ss", "-tanH", "sport = :%d" % port], capture_output=True,
                                text=True, timeout=10).stdout
        assert "CLOSE-WAIT" in states, states
        assert "peer: open" not in main, main
        sess.keys("p")  # resume: the bytes, then recv() returns 0
        scr = sess.wait_text("peer: FIN received")
        assert "read to EOF" in header(scr, 2), header(scr, 2)
    finally:
        if peer:
            peer.close()
        sess.close()


def test_shutdown_rd_header_stops_saying_reading():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen()
        peer = td.tcp_connect(port)
        scr = sess.wait_text("accepted from")
        assert " reading " in header(scr, 2) + " ", header(scr, 2)
        sess.keys("s")
        sess.wait_text("SHUT_RD")
        sess.keys("r")
        scr = sess.wait_text("us: SHUT_RD")
        h = header(scr, 2)
        assert "not reading (SHUT_RD)" in h, h
    finally:
        if peer:
            peer.close()
        sess.close()


def test_closed_listener_is_gone_not_listen():
    sess = td.Session([])
    try:
        port = sess.listen()
        sess.command("close 1")
        scr = sess.wait_text("tcp gone")
        assert "tcp LISTEN" not in main_area(scr), main_area(scr)
        assert ss_state(port) is None
    finally:
        sess.close()


def test_close_with_unread_data_says_rst_sent():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen()
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.keys("p")
        sess.wait_text("reading paused")
        peer.sendall(b"unread")
        sess.wait_text("unread 6")
        sess.keys("c")
        sess.wait_text("close [2]?")
        sess.keys("y")
        scr = sess.wait_text("us: closed, RST sent")
        assert "closed with 6 unread bytes: the kernel sent RST instead of FIN" in scr, scr
        try:
            peer.recv(10)
            raise AssertionError("the peer saw no reset")
        except ConnectionResetError:
            pass
    finally:
        if peer:
            peer.close()
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    for fn in (test_reset_with_data_shows_rst_not_fin,
               test_paused_socket_shows_the_fin_waiting_in_the_kernel,
               test_shutdown_rd_header_stops_saying_reading,
               test_closed_listener_is_gone_not_listen,
               test_close_with_unread_data_says_rst_sent):
        r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
