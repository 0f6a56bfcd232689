#!/usr/bin/env python3
"""Drives sockpit through the README's tour and saves a PNG of each step.
Run through screenshots.sh (it picks a python3 with PIL)."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ansi2png  # noqa: E402
import tmuxdrive as td  # noqa: E402
import wirekit as wk  # noqa: E402

COLS, ROWS = 120, 34


def shot(sess, outdir, name):
    time.sleep(0.4)  # let the frame tick and the state poll settle
    text = sess.screen(colours=True)
    path = os.path.join(outdir, name + ".png")
    ansi2png.render(text, path, COLS, ROWS)
    print("wrote", path)


def demo_ready(scr):
    return "[2] tcp" in scr.splitlines()[0] and "[3] tcp" in scr.splitlines()[0]


def pane_head(scr, sock_id, rows=4):
    """The first rows of socket sock_id's pane (header, state and settings
    lines, wherever the settings fit), or "" if no pane shows it."""
    lines = scr.splitlines()
    col = lines[0].find("[%d] " % sock_id) if lines else -1
    if col < 0:
        return ""
    return "\n".join(line[col:].split("\u2502")[0] for line in lines[:rows])


def demo(outdir):
    sess = td.Session(["--demo"], COLS, ROWS)
    try:
        sess.wait_for(demo_ready, 5, "demo")
        sess.keys("Enter")
        sess.type("hello")
        sess.keys("Enter")
        sess.wait_for(lambda s: len(re.findall(r"recv #1 ", s)) >= 2, 5, "echo")
        sess.type("two\\nlines")
        sess.keys("Enter")
        sess.wait_for(lambda s: len(re.findall(r"msg #3 ", s)) >= 1, 5, "echo 2")
        sess.type("GET / HTTP/1.0\\r")
        shot(sess, outdir, "demo")
        # Half-close: the client shuts its sending side; the server's side
        # sees FIN and can still talk back. An echo server would echo the
        # EOF too (and close), so its echo is turned off first.
        sess.keys("Escape")
        sess.wait_for(lambda s: " echo " in pane_head(s, 3), 5, "the server echoing")
        sess.command("echo 3 off")
        sess.wait_for(lambda s: "[3] tcp" in s and " echo " not in pane_head(s, 3), 5,
                      "echo off")
        sess.keys("s")
        sess.wait_text("SHUT_WR  send FIN")
        sess.keys("w")
        sess.wait_text("peer: FIN received")
        sess.keys("Tab", "Enter", "C-u")
        sess.type("still here")
        sess.keys("Enter")
        sess.wait_for(lambda s: len(re.findall(r"still here", s)) >= 3, 5, "reply after FIN")
        shot(sess, outdir, "halfclose")
    finally:
        sess.close()


def messages(outdir):
    sess = td.Session([], COLS, ROWS)
    peer = None
    try:
        sess.command("listen tcp:0 --framing line")
        scr = sess.wait_for(lambda s: re.search(r"listening on 127\.0\.0\.1:(\d+)", s), 5, "l")
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", scr).group(1))
        peer = socket.create_connection(("127.0.0.1", port))
        sess.wait_text("accepted from")
        sess.command("recvsize 5")
        sess.wait_text("recv 5 ")
        peer.sendall(b"the quick brown fox\njumps over\nthe lazy dog\n")
        sess.wait_text("msg #3")
        sess.command("view msgs")
        sess.command("split 2")
        sess.command("view chunks")
        time.sleep(0.3)
        shot(sess, outdir, "messages")
        # Hex: a length-prefixed binary protocol.
        sess.command("unsplit")
        sess.command("framing len:u16")
        time.sleep(0.3)
        peer.sendall(b"\x00\x05hello\x00\x03\x01\x02\x03\x00\x0bhello\x00world")
        sess.wait_text("msg #6")
        sess.keys("x")
        shot(sess, outdir, "hex")
    finally:
        if peer:
            peer.close()
        sess.close()


def help_screen(outdir):
    sess = td.Session(["--demo"], COLS, ROWS)
    try:
        sess.wait_for(demo_ready, 5, "demo")
        sess.keys("?")
        sess.wait_text("Keys:")
        shot(sess, outdir, "help")
    finally:
        sess.close()


def lab(outdir):
    """The split lab: step 2's prediction before it runs, then its note and
    checks with both ends of the connection side by side."""
    sess = td.Session(["--lab", "split"], COLS, ROWS)
    try:
        sess.wait_text("lab checks 1 held", 5)
        sess.keys("Space")
        sess.wait_text("predict, then Space runs the step", 5)
        shot(sess, outdir, "lab-predict")
        sess.keys("Space")
        sess.wait_text("lab checks 3 held", 5)
        shot(sess, outdir, "lab-note")
    finally:
        sess.close()


def wire(outdir):
    """The wire view (root: it captures): the handshake, one line sent in
    two segments and read by one recv, the FIN, in time order."""
    if os.geteuid() != 0:
        print("skipped wire.png: capturing needs root")
        return
    sess = td.Session([], COLS, ROWS)
    peer = None
    try:
        peer = wk.accept(sess, "listen tcp:0 --framing line --wire")
        sess.command("view wire")
        wk.two_segments(sess, peer, b"hello ", b"wire\n", seg="seg PSH|ACK")
        sess.command("resume 2")
        sess.wait_text("msg #1")
        peer.shutdown(socket.SHUT_WR)
        sess.wait_text("peer sent FIN")
        sess.keys("S")  # the sidebar's columns for the rows
        shot(sess, outdir, "wire")
    finally:
        if peer:
            peer.close()
        sess.close()


def main():
    td.need_tmux()
    outdir = sys.argv[1]
    if sys.argv[2:] == ["wire"]:
        wire(outdir)
        return
    demo(outdir)
    messages(outdir)
    help_screen(outdir)
    lab(outdir)
    wire(outdir)


if __name__ == "__main__":
    main()
