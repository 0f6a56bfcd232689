#!/usr/bin/env python3
"""The TUI's exit status is DESIGN §5's: 0 ok, 1 when a line of the script
(-e, --script) failed or --timeout expired, 2 for a usage error; --timeout
and --keep-going are honoured, not silently ignored. Each test runs the real
binary in its own tmux server (see tmuxdrive.py)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def quit_and_status(sess):
    sess.command("quit")
    scr = sess.wait_text("[exit ")
    return scr[scr.index("[exit ") + 6:].split("]")[0]


def test_clean_session_exits_0():
    sess = td.Session(["-e", "listen tcp:0"])
    try:
        sess.wait_text("listening on 127.0.0.1:")
        # What is typed later never fails the exit status.
        sess.command("send 9 typed-later")
        sess.wait_text("no socket 9")
        assert quit_and_status(sess) == "0"
    finally:
        sess.close()


def test_failed_script_line_exits_1_and_drops_the_rest():
    sess = td.Session(["-e", "send 9 hi", "-e", "listen tcp:0"])
    try:
        sess.wait_text("no socket 9")
        time.sleep(0.5)
        assert "listening on" not in sess.screen(), sess.screen()
        # The TUI stays interactive: commands typed now run.
        sess.command("listen tcp:0")
        sess.wait_text("listening on 127.0.0.1:")
        assert quit_and_status(sess) == "1"
    finally:
        sess.close()


def test_keep_going_runs_the_rest_and_still_exits_1():
    sess = td.Session(["--keep-going", "-e", "send 9 hi", "-e", "listen tcp:0"])
    try:
        sess.wait_text("listening on 127.0.0.1:")
        assert quit_and_status(sess) == "1"
    finally:
        sess.close()


def test_timeout_leaves_the_tui_with_status_1():
    sess = td.Session(["--timeout", "1", "-e", "listen tcp:0"])
    try:
        start = time.monotonic()
        scr = sess.wait_text("[exit ", timeout=6)
        assert "[exit 1]" in scr, scr
        assert "still running after --timeout 1 s" in scr, scr
        assert time.monotonic() - start < 5
    finally:
        sess.close()


def test_usage_error_exits_2():
    sess = td.Session(["--bogus\x1b]0;x\x07"])
    try:
        scr = sess.wait_text("[exit ")
        assert "[exit 2]" in scr, scr
        assert "unknown option" in scr and "\\e]0;x\\x07" in scr, scr
    finally:
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    for fn in (test_clean_session_exits_0,
               test_failed_script_line_exits_1_and_drops_the_rest,
               test_keep_going_runs_the_rest_and_still_exits_1,
               test_timeout_leaves_the_tui_with_status_1,
               test_usage_error_exits_2):
        r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
