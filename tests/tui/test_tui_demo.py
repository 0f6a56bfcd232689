#!/usr/bin/env python3
"""TUI tests of the front end itself: the --demo playground and its composer,
resizing, help, prompt errors, quitting, the ASCII fallback and NO_COLOR."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def demo_ready(scr):
    top = scr.splitlines()[0] if scr else ""
    return "[2] tcp" in top and "[3] tcp" in top


def test_demo_two_panes_and_echo_from_the_composer():
    sess = td.Session(["--demo"])
    try:
        scr = sess.wait_for(demo_ready, 5, "two demo panes")
        top = scr.splitlines()[0]
        assert top.index("[2] tcp") < top.index("[3] tcp"), top  # client left, server right
        assert "Demo:" in scr, scr  # the hint line
        sess.keys("Enter")
        sess.type("hello")
        # The preview shows the exact wire bytes after line framing.
        scr = sess.wait_text('wire 6 B: "hello\\n"')
        assert "68 65 6c 6c 6f 0a" in scr, scr
        sess.keys("Enter")
        # Sent by the client, received and echoed by the server, received back.
        scr = sess.wait_for(lambda s: len(re.findall(r"recv #1 +6B? ", s)) >= 2, 5, "echo")
        lines = scr.splitlines()
        left = "\n".join(line[33:76] for line in lines[:30])
        right = "\n".join(line[77:] for line in lines[:30])
        assert re.search(r"send #1 .*\"hello\\n\"", left), left
        assert re.search(r"recv #1 .*\"hello\\n", left), left
        assert re.search(r"msg #1 .*\"hello\"", left), left
        assert re.search(r"recv #1 .*\"hello\\n", right), right
        assert re.search(r"send #1 .*\"hello\\n\"", right), right
        # A second message from the history (Up) goes out again.
        sess.keys("Up", "Enter")
        sess.wait_for(lambda s: len(re.findall(r"recv #2 ", s)) >= 2, 5, "second echo")
    finally:
        sess.close()


def test_mouse_click_focuses_a_pane_and_a_sidebar_entry():
    sess = td.Session(["--demo"])
    try:
        sess.wait_for(demo_ready, 5, "two demo panes")
        sess.wait_text("type data for [2]")
        sess.click(90, 15)  # the right pane (X10 reports reach column 94)
        sess.wait_text("type data for [3]")
        sess.click(50, 15)  # the left pane
        sess.wait_text("type data for [2]")
        # The listener's sidebar entry (rows 1-2) shows it in the focused pane.
        sess.click(5, 1)
        scr = sess.wait_for(lambda s: "[1] tcp-listen" in s.splitlines()[0], 3, "listener shown")
        assert "[3] tcp" in scr.splitlines()[0], scr.splitlines()[0]
    finally:
        sess.close()


def test_resize_too_small_notice_then_restored():
    sess = td.Session(["--demo"])
    try:
        sess.wait_for(demo_ready, 5, "two demo panes")
        sess.resize(30, 8)
        scr = sess.wait_text("terminal too small")
        assert "[2] tcp" not in scr
        sess.resize(120, 40)
        scr = sess.wait_for(demo_ready, 5, "panes restored")
        assert "Sockets (3)" in scr, scr
        # Still answering keys after the round trip.
        sess.keys("x")
        sess.wait_for(lambda s: "both hex" in "".join(s.splitlines()[:4]), 3, "hex after resize")
    finally:
        sess.close()


def test_help_lists_keys_and_commands():
    sess = td.Session([])
    try:
        sess.wait_text("Welcome to sockpit")
        sess.keys("?")
        scr = sess.wait_text("Keys:")
        for k in ("shutdown menu (w / r / b)", "framing picker", "pause / resume reading",
                  "double / halve the recv size", "view: chunks / messages / both"):
            assert k in scr, k
        sess.keys("End")
        scr = sess.wait_text("listen ")
        assert "shutdown" in scr and "recvsize" in scr, scr
        sess.keys("Escape")
        sess.wait_text("Welcome to sockpit")
    finally:
        sess.close()


def test_prompt_error_on_the_status_line_and_history():
    sess = td.Session([])
    try:
        sess.wait_text("Welcome to sockpit")
        sess.command("frobnicate 1 2")
        scr = sess.wait_text("error:")
        status = scr.splitlines()[-2]
        assert "error:" in status and "frobnicate" in status, status
        # History brings the line back; completion finishes a command name.
        sess.keys(":", "Up")
        sess.wait_for(lambda s: s.splitlines()[-2].startswith(":frobnicate 1 2"), 3, "history")
        sess.keys("C-u")
        sess.type("recvs")
        sess.keys("Tab")
        sess.type("4")  # after the completed word and its space
        sess.wait_for(lambda s: s.splitlines()[-2].startswith(":recvsize 4"), 3, "completion")
        sess.keys("Escape")
    finally:
        sess.close()


def test_quit_asks_when_sockets_are_open():
    sess = td.Session(["--demo"])
    try:
        sess.wait_for(demo_ready, 5, "two demo panes")
        sess.keys("q")
        scr = sess.wait_text("quit?")
        assert "3 socket(s) open" in scr, scr
        sess.keys("n")
        sess.wait_for(lambda s: "quit?" not in s, 3, "menu closed")
        sess.keys("q")
        sess.wait_text("quit?")
        sess.keys("y")
        sess.wait_text("[exit 0]")
    finally:
        sess.close()


def test_script_from_stdin_keeps_the_keyboard():
    sess = td.Session(["--script", "-"], stdin_text="listen tcp:0 --framing line\n")
    try:
        sess.wait_text("listening on 127.0.0.1:")
        sess.keys("q")
        scr = sess.wait_text("quit?")
        assert "1 socket(s) open" in scr, scr
        sess.keys("y")
        sess.wait_text("[exit 0]")
    finally:
        sess.close()


def test_ascii_fallback_without_utf8_locale():
    sess = td.Session(["--demo"], env={"LANG": "C", "LC_ALL": "C"})
    try:
        scr = sess.wait_for(demo_ready, 5, "two demo panes")
        assert "│" not in scr and "↔" not in scr, scr
        assert " | " in scr or "|" in scr.splitlines()[1], scr
        assert "<->" in scr, scr
    finally:
        sess.close()


def test_no_color_uses_no_colours():
    sess = td.Session(["--demo"], env={"NO_COLOR": "1"})
    try:
        sess.wait_for(demo_ready, 5, "two demo panes")
        coloured = sess.screen(colours=True)
        sgr = re.findall(r"\x1b\[([0-9;]*)m", coloured)
        for params in sgr:
            for p in params.split(";"):
                # 39 and 49 select the default colours.
                assert not (p.isdigit() and p not in ("39", "49") and
                            (30 <= int(p) <= 49 or 90 <= int(p) <= 107)), params
        assert any("7" in p.split(";") for p in sgr), "no reverse video for the header"
    finally:
        sess.close()
    sess = td.Session(["--demo"])
    try:
        sess.wait_for(demo_ready, 5, "two demo panes")
        coloured = sess.screen(colours=True)
        assert re.search(r"\x1b\[[0-9;]*3[0-7][;m]", coloured), "colours expected without NO_COLOR"
    finally:
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    for fn in (test_demo_two_panes_and_echo_from_the_composer,
               test_mouse_click_focuses_a_pane_and_a_sidebar_entry,
               test_resize_too_small_notice_then_restored,
               test_help_lists_keys_and_commands,
               test_prompt_error_on_the_status_line_and_history,
               test_quit_asks_when_sockets_are_open,
               test_script_from_stdin_keeps_the_keyboard,
               test_ascii_fallback_without_utf8_locale,
               test_no_color_uses_no_colours):
        r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
