#!/usr/bin/env python3
"""One width model: the TUI shows a peer's unassigned code points and
noncharacters as the same escapes as headless output, never as '?', and
counts columns as the renderer does, so no row is cut short. Runs the real
binary in its own tmux server (see tmuxdrive.py)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

# U+0378 (unassigned), U+FDD0 and U+FFFE (noncharacters), U+E0080
# (unassigned), then a wide character and plain text after them.
PAYLOAD = ("a\u0378b\ufdd0c\ufffed".encode() + b"\xf3\xa0\x82\x80" + "e日f|end".encode())
ESCAPED = r'a\xcd\xb8b\xef\xb7\x90c\xef\xbf\xbed\xf3\xa0\x82\x80e日f|end'


def test_unassigned_and_noncharacters_are_escaped_as_in_headless():
    sess = td.Session([], width=200)
    peer = None
    try:
        sess.command("listen tcp:0")
        scr = sess.wait_for(lambda s: re.search(r"listening on 127\.0\.0\.1:(\d+)", s), 5,
                            "the listening event")
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", scr).group(1))
        peer = td.tcp_connect(port)
        sess.wait_text("accepted from")
        peer.sendall(PAYLOAD)
        scr = sess.wait_text("|end")
        assert ESCAPED in scr, scr
        row = [ln for ln in scr.splitlines() if "|end" in ln][0]
        assert "?" not in row, row
        # The row is whole: the text ends with its closing quote.
        assert row.rstrip().endswith('|end"'), row
    finally:
        if peer:
            peer.close()
        sess.close()
    # Headless shows the same text for the same bytes.
    out = subprocess.run([td.binary(), "--headless", "--timeout", "5", "-e", "bind udp:127.0.0.1:0",
                          "-e", "send 1 --to udp:127.0.0.1:9 --hex " + PAYLOAD.hex(), "-e", "sleep 300",
                          "-e", "quit"],
                         capture_output=True, timeout=10, env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert ESCAPED in out.stdout.decode(), out.stdout


def main():
    td.need_tmux()
    r = td.Runner()
    r.run(test_unassigned_and_noncharacters_are_escaped_as_in_headless)
    r.finish()


if __name__ == "__main__":
    main()
