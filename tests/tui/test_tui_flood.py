#!/usr/bin/env python3
"""Under a flood of data the TUI keeps answering keys within DESIGN §10's
100 ms and its memory stays far below the history caps."""
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

FLOOD_SECONDS = 4.0
# DESIGN §10: keys are answered within 100 ms during a flood. What this test
# sees also holds tmux and its own screen polling, so it measures the same
# key presses with no flood too and allows 100 ms on top of that for the
# median, 200 ms for the slowest tenth; a single press on a loaded machine
# may take longer, but never three quarters of a second. (Measured today on
# 2 busy cores: median 76-80 ms against 58-68 ms idle, worst 109-417 ms.)
KEY_MEDIAN_EXTRA = 0.100
KEY_P90_EXTRA = 0.200
KEY_WORST_MAX = 0.750
# The history caps bound what a flood can cost; about 8 MiB is measured
# today. 16 MiB leaves room, and fails the 24 MiB peak of the TUI that copied
# every chunk into two expect taps nobody read (issue 8).
RSS_MAX_KB = 16 * 1024


def sockpit_pid(sess):
    shell = sess.tmux("display-message", "-p", "-t", "0", "#{pane_pid}").strip()
    out = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def peak_rss_kb(pid):
    """The process's peak resident memory so far (VmHWM), not just now."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def press_keys(sess, seconds, first_hexed):
    """Toggles hex view and opens and closes help until seconds pass; returns
    the latency of every press."""
    latencies = []
    deadline = time.monotonic() + seconds
    hexed = first_hexed
    while time.monotonic() < deadline:
        hexed = not hexed
        latencies.append(td.key_latency(
            sess, "x", lambda s, h=hexed: ("both hex" in s.splitlines()[0]) == h))
        latencies.append(td.key_latency(sess, "?", lambda s: "Keys:" in s))
        latencies.append(td.key_latency(sess, "Escape", lambda s: "Keys:" not in s))
    return latencies, hexed


def p90(v):
    v = sorted(v)
    return v[len(v) * 9 // 10]


def test_keys_answer_during_a_flood_and_memory_stays_bounded():
    sess = td.Session([])
    stop = threading.Event()
    sent = [0]
    th = None
    try:
        sess.command("listen tcp:0")
        scr = sess.wait_for(lambda s: re.search(r"listening on 127\.0\.0\.1:(\d+)", s), 5,
                            "listening")
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", scr).group(1))
        th = threading.Thread(target=td.flood, args=(port, stop, sent), daemon=True)
        th.start()
        sess.wait_text("recv #")
        pid = sockpit_pid(sess)
        latencies, hexed = press_keys(sess, FLOOD_SECONDS, False)
        peak = peak_rss_kb(pid) if pid else 0
        stop.set()
        th.join(5)
        idle, _ = press_keys(sess, 1.5, hexed)
        worst = max(latencies)
        print("flood: %.0f MiB sent, %d key presses, answer median %.0f ms (idle %.0f ms),"
              " p90 %.0f ms (idle %.0f ms), worst %.0f ms (idle %.0f ms), peak rss %d KiB"
              % (sent[0] / 1048576, len(latencies), td.median(latencies) * 1000,
                 td.median(idle) * 1000, p90(latencies) * 1000, p90(idle) * 1000, worst * 1000,
                 max(idle) * 1000, peak))
        assert sent[0] > 16 * 1048576, "the flood was too slow to mean anything"
        assert td.median(latencies) < td.median(idle) + KEY_MEDIAN_EXTRA, (latencies, idle)
        assert p90(latencies) < p90(idle) + KEY_P90_EXTRA, (latencies, idle)
        assert worst < KEY_WORST_MAX, latencies
        assert peak < RSS_MAX_KB, peak
        # Every byte value went by, yet the screen is intact: the sidebar
        # title, the live stream and the key hints are where they belong.
        scr = sess.screen()
        lines = scr.splitlines()
        assert lines[0].startswith(" Sockets (2)"), scr
        assert "recv #" in scr, scr
        assert lines[-1].startswith("Enter compose"), scr
    finally:
        stop.set()
        if th:
            th.join(5)
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    r.run(test_keys_answer_during_a_flood_and_memory_stays_bounded)
    r.finish()


if __name__ == "__main__":
    main()
