#!/usr/bin/env python3
"""TUI test of a lab: `sockpit --lab split` in tmux. The notes panel shows
the step and its prediction before the step runs, then the note and which
checks held; Space moves on; the panes show both ends of the lab's
connection side by side; N hides the panel."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def test_stepping_through_the_split_lab():
    sess = td.Session(["--lab", "split"])
    try:
        # Step 1 asks nothing: it runs at once and shows its note.
        scr = sess.wait_text("step 1/4: A client and a server", 5)
        scr = sess.wait_text("lab checks 1 held, 0 failed", 5)
        assert "Space: next step" in scr, scr
        # Both ends of the connection, side by side.
        top = scr.splitlines()[0]
        assert "[2] tcp" in top and "[3] tcp" in top, top
        assert top.index("[2] tcp") < top.index("[3] tcp"), top
        # Step 2 asks first and has not run.
        sess.keys("Space")
        scr = sess.wait_text("step 2/4: One send, small reads", 5)
        assert "predict, then Space runs the step" in scr, scr
        assert "? The client writes 64 bytes" in scr, scr
        assert "2) four: the 64 bytes" in scr, scr
        assert "recv #1" not in scr, scr
        # Space runs it: the note, the checks, the recvs in the server's pane.
        sess.keys("Space")
        scr = sess.wait_text("lab checks 3 held, 0 failed", 5)
        assert "The server's pane shows recv #1..#4" in scr, scr
        assert "answer 2) four: the 64 bytes" in scr, scr
        assert "ok several-recvs" in scr and "ok sixteen-each" in scr, scr
        right = "\n".join(line[line.index("[3] tcp"):] if "[3] tcp" in line else ""
                          for line in scr.splitlines()[:1])
        assert right, scr
        assert len(re.findall(r"recv #[1-4] ", scr)) >= 4, scr
        # N hides the panel, and brings it back.
        sess.keys("N")
        sess.wait_for(lambda s: "notes (N)" not in s, 3, "the panel hidden")
        sess.keys("N")
        sess.wait_text("notes (N)", 3)
        # r repeats step 2: the checks run again.
        sess.keys("r")
        scr = sess.wait_text("recv #8", 5)
        sess.keys("Space")
        scr = sess.wait_text("step 3/4: Three sends, one read", 5)
    finally:
        sess.close()


def test_a_step_line_waits_for_space():
    sess = td.Session(["-e", "listen tcp:0", "-e", "step", "-e", "listen tcp:0"])
    try:
        scr = sess.wait_text("step: the script waits; Space goes on", 5)
        assert "Sockets (1)" in scr, scr
        sess.keys("Space")
        sess.wait_text("Sockets (2)", 5)
        sess.wait_for(lambda s: "step: the script waits" not in s, 3, "the step line done")
    finally:
        sess.close()


if __name__ == "__main__":
    td.need_tmux()
    r = td.Runner()
    r.run(test_stepping_through_the_split_lab)
    r.run(test_a_step_line_waits_for_space)
    r.finish()
