#!/usr/bin/env python3
"""What a teacher in front of a class needs from the TUI (issue 10, "Also for
teachers"): the composer finishes a block series and pads a fixed message and
shows its settings; framing set on both ends of our own connection; close and
reset ask first; a refused composer line is kept; 80x24 keeps help and quit
on the footer, hides the sidebar, wraps :help and keeps the panes visible
behind output; sockets past 9 by key and closed ones cleared from the
sidebar. Each test runs the real binary in its own tmux server (see
tmuxdrive.py) and stops it by PID."""
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


class Session(td.Session):
    def sockpit_pid(self):
        shell = self.tmux("display-message", "-p", "-t", "0", "#{pane_pid}", check=False).strip()
        if not shell.isdigit():
            return None
        out = subprocess.run(["pgrep", "-P", shell, "-x", "sockpit"], capture_output=True,
                             text=True, timeout=5).stdout.split()
        return int(out[0]) if out else None

    def close(self):
        pid = self.sockpit_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        super().close()


def recv_exact(peer, n, timeout=5.0):
    peer.settimeout(timeout)
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        chunk = peer.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def nothing_arrives(peer, wait=0.4):
    """The peer's connection is still open and nothing came."""
    peer.settimeout(wait)
    try:
        data = peer.recv(100)
    except socket.timeout:
        return True
    raise AssertionError("the peer got %r" % data)


def rows(scr):
    return scr.splitlines()


def composer_rows(sess, scr):
    lines = rows(scr)
    return "\n".join(lines[sess.height - 4:sess.height - 2])


def footer(scr):
    return rows(scr)[-1]


def status_row(scr):
    return rows(scr)[-2]


def list_row(scr, sock_id):
    for line in rows(scr):
        m = re.search(r"│\s+%d(<\d+)?\s+tcp(-listen)?\s" % sock_id, line)
        if m:
            return line
    raise AssertionError("socket %d not in the list:\n%s" % (sock_id, scr))


# 1. The composer: --end, --pad, its settings visible and reset with one key.
def test_composer_ends_a_block_series_pads_and_shows_its_settings():
    sess = Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:0 --framing blocks:u16")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.keys("Enter")
        sess.wait_text("send [2]")
        footer_keys = footer(sess.screen())
        assert "^D" in footer_keys and "end" in footer_keys, footer_keys
        # One key finishes the series: the last block and the zero block.
        sess.type("abc")
        sess.wait_for(lambda s: 'wire 5 B' in composer_rows(sess, s), 3, "the preview")
        sess.keys("C-d")
        assert recv_exact(peer, 7) == b"\x00\x03abc\x00\x00"
        # On an empty line it sends the zero block alone.
        sess.wait_for(lambda s: "abc" not in rows(s)[sess.height - 4], 3, "the composer cleared")
        sess.keys("C-d")
        assert recv_exact(peer, 2) == b"\x00\x00"

        # Fixed framing: ^P pads a short message with NUL bytes.
        sess.keys("Escape")
        sess.command("framing 2 fixed:8")
        sess.wait_for(lambda s: "fixed:8" in rows(s)[sess.height - 4], 3, "fixed framing")
        sess.keys("Enter")
        footer_keys = footer(sess.wait_text("send [2]"))
        assert "^P" in footer_keys and "pad" in footer_keys, footer_keys
        sess.keys("C-p")
        sess.type("hi")
        scr = sess.wait_for(lambda s: "wire 8 B" in composer_rows(sess, s), 3, "padded preview")
        sess.keys("Enter")
        assert recv_exact(peer, 8) == b"hi" + b"\x00" * 6

        # The settings show in the composer and stay visible after Esc.
        sess.keys("C-t", "C-t", "C-g", "C-r")
        want = ("split 2", "delay 10ms", "raw", "pad")
        scr = sess.wait_for(lambda s: all(w in composer_rows(sess, s) for w in want), 3,
                            "the settings in the composer")
        sess.keys("Escape")
        scr = sess.wait_for(lambda s: "Enter or i" in composer_rows(sess, s), 3, "composer left")
        for w in want:
            assert w in composer_rows(sess, scr), composer_rows(sess, scr)
        # One key resets them all.
        sess.keys("Enter")
        sess.wait_text("send [2]")
        sess.keys("C-o")
        scr = sess.wait_for(lambda s: not any(w in rows(s)[sess.height - 4]
                                              for w in ("split 2", "delay", "raw", "pad")),
                            3, "the settings reset")
        sess.keys("Escape")
        scr = sess.wait_for(lambda s: "Enter or i" in composer_rows(sess, s), 3, "composer left")
        for w in ("split 2", "delay", "raw", " pad"):
            assert w not in composer_rows(sess, scr), composer_rows(sess, scr)
    finally:
        if peer:
            peer.close()
        sess.close()


# 2. The framing picker sets the framing on both ends of our own connection.
def test_framing_picker_sets_both_ends():
    sess = Session([])
    try:
        port = sess.listen()
        sess.command("connect tcp:127.0.0.1:%d" % port)
        sess.wait_text("[3] tcp")
        sess.keys("2")
        sess.keys("f")
        scr = sess.wait_text("framing for [2]")
        assert "both ends" in scr and "[3]" in scr, scr
        sess.keys("Tab")
        sess.wait_text("framing for [2] and [3]")
        sess.keys("l")
        sess.wait_for(lambda s: "framing for" not in s, 3, "the picker closed")
        sess.command("list")
        scr = sess.wait_text("FRAMING")
        for i in (2, 3):
            assert re.search(r"\bline\b", list_row(scr, i)), list_row(scr, i)
        assert not re.search(r"\bline\b", list_row(scr, 1)), list_row(scr, 1)
        sess.keys("Escape")
        # The choice is remembered: the next pick also goes to both ends.
        sess.keys("f")
        scr = sess.wait_text("framing for [2] and [3]")
        sess.keys("4")
        sess.command("list")
        scr = sess.wait_text("FRAMING")
        for i in (2, 3):
            assert "len:u32" in list_row(scr, i), list_row(scr, i)
    finally:
        sess.close()


# 3. c and X ask first; the question can be turned off.
def test_close_and_reset_ask_first_and_can_stop_asking():
    sess = Session([])
    peers = []
    try:
        port = sess.listen()
        peers.append(td.tcp_connect(port))
        sess.wait_text("accepted from")
        sess.keys("c")
        sess.wait_text("close [2]?")
        assert nothing_arrives(peers[0])
        sess.keys("n")
        sess.wait_for(lambda s: "close [2]?" not in s, 3, "the question gone")
        assert nothing_arrives(peers[0])
        sess.keys("c")
        sess.wait_text("close [2]?")
        sess.keys("y")
        assert recv_exact(peers[0], 1) == b"", "no EOF after close"
        sess.wait_text("us: closed")

        peers.append(td.tcp_connect(port))
        sess.wait_text("[3] tcp")
        sess.keys("3", "X")
        sess.wait_text("reset [3]?")
        assert nothing_arrives(peers[1])
        sess.keys("a")  # yes, and stop asking
        try:
            got = recv_exact(peers[1], 1)
        except ConnectionResetError:
            got = "reset"
        assert got == "reset", got

        peers.append(td.tcp_connect(port))
        sess.wait_text("[4] tcp")
        sess.keys("4", "c")
        assert recv_exact(peers[2], 1) == b"", "c did not close at once"
        assert "close [4]?" not in sess.screen()

        # :confirm on asks again; `?` help says how to turn it off.
        sess.command("confirm on")
        peers.append(td.tcp_connect(port))
        sess.wait_text("[5] tcp")
        sess.keys("5", "c")
        sess.wait_text("close [5]?")
        sess.keys("Escape")
        assert nothing_arrives(peers[3])
        help_says(sess, r"confirm off")
    finally:
        for p in peers:
            p.close()
        sess.close()


# 4. A refused composer line stays; its error clears after the next good send.
def test_refused_composer_line_stays_and_its_error_clears():
    sess = Session([])
    peer = None
    try:
        port = sess.listen("listen tcp:0 --framing fixed:8")
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        sess.keys("Enter")
        sess.wait_text("send [2]")
        sess.type("abc")
        sess.keys("Enter")
        scr = sess.wait_for(lambda s: "error:" in status_row(s), 3, "the refusal")
        assert "shorter than fixed:8" in status_row(scr), status_row(scr)
        time.sleep(0.3)
        scr = sess.screen()
        assert re.search(r"> abc\s*$", rows(scr)[sess.height - 4]), rows(scr)[sess.height - 4]
        assert nothing_arrives(peer)
        # Fix it and send: it goes out, and the old error goes away at once.
        sess.type("defgh")
        sess.keys("Enter")
        assert recv_exact(peer, 8) == b"abcdefgh"
        sess.wait_for(lambda s: "error:" not in status_row(s), 3, "the error cleared")
        scr = sess.screen()
        assert "abcdefgh" not in rows(scr)[sess.height - 4], rows(scr)[sess.height - 4]
    finally:
        if peer:
            peer.close()
        sess.close()


def help_says(sess, pattern, pages=12):
    """Opens `?` help and pages down (a bounded number of times) until a line
    matches pattern; closes it again."""
    sess.keys("?")
    scr = sess.wait_text("Keys:")
    try:
        for _ in range(pages):
            if re.search(pattern, scr):
                return True
            sess.keys("PageDown")
            time.sleep(0.15)
            scr = sess.screen()
        raise AssertionError("help never says %r; last page:\n%s" % (pattern, scr))
    finally:
        sess.keys("Escape")


def demo_ready(s):
    return "[2] tcp" in s and "[3] tcp" in s


# 5. 80x24: the footer, the sidebar, :help wrapping, panes behind output.
def test_small_terminal_footer_keeps_help_and_quit():
    sess = Session(["--demo"], width=80, height=24)
    try:
        scr = sess.wait_for(demo_ready, 5, "the demo")
        assert "? help" in footer(scr) and "q quit" in footer(scr), footer(scr)
    finally:
        sess.close()


def test_sidebar_can_be_hidden():
    sess = Session(["--demo"], width=80, height=24)
    try:
        scr = sess.wait_for(demo_ready, 5, "the demo")
        assert rows(scr)[0].startswith(" Sockets (3)"), rows(scr)[0]
        sess.keys("S")
        scr = sess.wait_for(lambda s: "Sockets (" not in s, 3, "the sidebar hidden")
        assert rows(scr)[0].lstrip().startswith("[2] tcp 127.0.0.1:"), rows(scr)[0]
        assert re.search(r"↔ 127\.0\.0\.1:\d+", rows(scr)[0]), rows(scr)[0]
        sess.keys("S")
        sess.wait_for(lambda s: s.startswith(" Sockets (3)"), 3, "the sidebar back")
        help_says(sess, r"\bS\s+sidebar on/off")
    finally:
        sess.close()


def test_help_output_wraps_and_panes_stay_visible():
    sess = Session(["--demo"], width=80, height=24)
    try:
        sess.wait_for(demo_ready, 5, "the demo")
        sess.command("help send")
        scr = sess.wait_text("send one message")
        # The usage line (over 130 columns) wraps: its end is on screen.
        assert "[--end] [--pad]" in scr, scr
        assert "written with one writev" in scr, scr
        # The panes stay visible above the box.
        assert rows(scr)[0].startswith(" Sockets (3)"), rows(scr)[0]
        assert "[2] tcp" in rows(scr)[0], rows(scr)[0]
        sess.keys("Escape")
        sess.command("list")
        scr = sess.wait_text("FRAMING")
        assert "[2] tcp" in rows(scr)[0] and "[3] tcp" in rows(scr)[0], rows(scr)[0]
        assert "us: open" in scr, scr
        sess.keys("Escape")
        sess.keys("?")
        scr = sess.wait_text("Keys:")
        assert "[2] tcp" in rows(scr)[0], rows(scr)[0]
    finally:
        sess.close()


# 6. Sockets past 9 by key; closed sockets cleared from the sidebar.
def test_sockets_past_nine_by_key():
    args = []
    for _ in range(12):
        args += ["-e", "listen tcp:0"]
    sess = Session(args)
    try:
        sess.wait_text("Sockets (12)")
        sess.keys("1", "1")
        sess.wait_for(lambda s: "[11] tcp-listen" in s, 3, "socket 11 shown")
        sess.keys("1", "2")
        sess.wait_for(lambda s: "[12] tcp-listen" in s, 3, "socket 12 shown")
        # A digit that makes no socket starts a new number.
        sess.keys("3")
        sess.wait_for(lambda s: "[3] tcp-listen" in s, 3, "socket 3 shown")
        time.sleep(1.5)
        sess.keys("2")
        sess.wait_for(lambda s: "[2] tcp-listen" in s, 3, "socket 2 shown")
        help_says(sess, r"1-9 .*10 and up")
    finally:
        sess.close()


def test_closed_sockets_cleared_from_the_sidebar():
    args = []
    for _ in range(4):
        args += ["-e", "listen tcp:0"]
    args += ["-e", "close 2", "-e", "close 3"]
    sess = Session(args)
    try:
        scr = sess.wait_text("Sockets (4)")
        sess.wait_for(lambda s: len(re.findall(r"closed", "\n".join(
            ln[:32] for ln in rows(s)))) == 2, 3, "two closed sockets")
        sess.keys("C")
        scr = sess.wait_text("Sockets (2")
        side = "\n".join(line[:32] for line in rows(scr))
        assert re.search(r"^1 tcp-listen", side, re.M), side
        assert re.search(r"^4 tcp-listen", side, re.M), side
        assert not re.search(r"^[23] tcp-listen", side, re.M), side
        # Still there for `list`: clearing hides, it does not rewrite history.
        sess.command("list")
        scr = sess.wait_text("FRAMING")
        assert re.search(r"│\s+2\s+tcp-listen", scr), scr
        sess.keys("Escape")
        help_says(sess, r"\bC\s+clear closed sockets")
    finally:
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    tests = (test_composer_ends_a_block_series_pads_and_shows_its_settings,
             test_framing_picker_sets_both_ends,
             test_close_and_reset_ask_first_and_can_stop_asking,
             test_refused_composer_line_stays_and_its_error_clears,
             test_small_terminal_footer_keeps_help_and_quit,
             test_sidebar_can_be_hidden,
             test_help_output_wraps_and_panes_stay_visible,
             test_sockets_past_nine_by_key,
             test_closed_sockets_cleared_from_the_sidebar)
    only = sys.argv[1:]
    for fn in tests:
        if not only or any(o in fn.__name__ for o in only):
            r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
