#!/usr/bin/env python3
"""The TUI shows matching and mocking: an `on` rule answering a Python
client shows a rule row (which rule, how it matched, the message it
answered), and an expect typed at the prompt shows an expect row with the
latency and the capture."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def test_rule_and_expect_rows():
    sess = td.Session([], width=240)
    c = None
    try:
        port = sess.listen("listen tcp:0 --framing line")
        sess.command('on --regex "^PING ([0-9]+)$" --capture n reply "PONG ${n}"')
        c = td.tcp_connect(port)
        c.sendall(b"PING 7\n")
        got = b""
        while not got.endswith(b"\n"):
            got += c.recv(100)
        assert got == b"PONG 7\n", got
        sess.wait_text("rule 1 (regex) answered msg #1: 6 bytes, fired 1")
        sess.command("connect tcp:127.0.0.1:%d --framing line" % port)
        sess.command('send "PING 42"')
        sess.command('expect --regex "^PONG ([0-9]+)$" --capture m --within 2000')
        scr = sess.wait_text("expect: msg #1 matched regex, ")
        assert "after send #1 captured m=42" in scr, scr
    finally:
        if c is not None:
            c.close()
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    r.run(test_rule_and_expect_rows)
    r.finish()


if __name__ == "__main__":
    main()
