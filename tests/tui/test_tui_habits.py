#!/usr/bin/env python3
"""Issue 14, small ones in the TUI: Tab completion after a word that wants a
value (delim:, fixed:, tcp:) adds no space; the hex view has an ASCII column;
the composer on a bound UDP socket sends where the last send went, or to the
last sender, and says where."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def prompt_line(s):
    return s.splitlines()[-2]


def test_completion_after_a_value_word_adds_no_space():
    sess = td.Session([])
    try:
        for typed, want in (("framing del", ":framing delim:X"), ("framing fix", ":framing fixed:X"),
                            ("framing dec", ":framing decimal:X"), ("connect tc", ":connect tcp:X"),
                            ("wait sta", ":wait state:X"), ("recvs", ":recvsize X")):
            sess.keys(":")
            sess.wait_for(lambda s: prompt_line(s).startswith(":"), 3, "the prompt")
            sess.type(typed)
            sess.keys("Tab")
            sess.type("X")
            sess.wait_for(lambda s, w=want: prompt_line(s).startswith(w), 3, want)
            sess.keys("Escape")
    finally:
        sess.close()


def test_hex_view_has_an_ascii_column():
    sess = td.Session([])
    peer = None
    try:
        port = sess.listen()
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        peer.sendall(b"hello\x01\x1b[2J.")
        sess.command("focus 2")
        sess.command("hex on")
        scr = sess.wait_for(lambda s: "68 65 6c 6c 6f 01 1b 5b 32 4a 2e" in s, 3, "hex bytes")
        row = [ln for ln in scr.splitlines() if "68 65 6c 6c 6f" in ln][0]
        # hexdump -C style: printable bytes as themselves, the rest as dots,
        # after the hex on the same row; the escape byte never reaches the
        # terminal raw.
        assert re.search(r"68 65 6c 6c 6f 01 1b 5b 32 4a 2e +hello\.\.\[2J\.", row), row
    finally:
        if peer:
            peer.close()
        sess.close()


def udp(port_to=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def test_composer_on_a_bound_udp_socket_remembers_where_to_send():
    sess = td.Session([])
    a, b = udp(), udp()
    try:
        sess.command("bind udp:127.0.0.1:0")
        scr = sess.wait_for(lambda s: re.search(r"bound to 127\.0\.0\.1:(\d+)", s), 5, "bound")
        port = int(re.search(r"bound to 127\.0\.0\.1:(\d+)", scr).group(1))
        addr_a = "127.0.0.1:%d" % a.getsockname()[1]
        addr_b = "127.0.0.1:%d" % b.getsockname()[1]
        a.sendto(b"ping", ("127.0.0.1", port))
        sess.wait_text('"ping"')
        # No send yet: the composer answers the last sender, and says so.
        sess.keys("i")
        sess.wait_text("to %s (last sender)>" % addr_a)
        sess.type("pong")
        sess.keys("Enter")
        assert a.recvfrom(100) == (b"pong", ("127.0.0.1", port))
        # A send --to at the prompt is remembered: the composer goes there.
        sess.keys("Escape")
        sess.command("send hi --to %s" % addr_b)
        assert b.recvfrom(100)[0] == b"hi"
        sess.keys("i")
        sess.wait_text("to %s>" % addr_b)
        sess.type("two")
        sess.keys("Enter")
        assert b.recvfrom(100)[0] == b"two"
        # ^Y: reply to whoever sent last, whatever the last destination.
        a.sendto(b"again", ("127.0.0.1", port))
        sess.wait_text('"again"')
        sess.keys("C-y")
        sess.wait_text("to %s (last sender)>" % addr_a)
        sess.type("three")
        sess.keys("Enter")
        assert a.recvfrom(100)[0] == b"three"
        # the send event says where each datagram went
        sess.wait_text("to %s" % addr_a)
    finally:
        a.close()
        b.close()
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    for fn in (test_completion_after_a_value_word_adds_no_space,
               test_hex_view_has_an_ascii_column,
               test_composer_on_a_bound_udp_socket_remembers_where_to_send):
        r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
