#!/usr/bin/env python3
"""Under a flood of data the TUI keeps answering keys at once and its memory
stays within the history caps."""
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

FLOOD_SECONDS = 4.0
KEY_LATENCY_MAX = 1.0  # seconds, screen polling included
RSS_MAX_KB = 100 * 1024


def sockpit_pid(sess):
    shell = sess.tmux("display-message", "-p", "-t", "0", "#{pane_pid}").strip()
    out = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def flood(port, stop, sent):
    s = td.tcp_connect(port)
    block = bytes(range(256)) * 256  # 64 KiB, every byte value, hostile ones too
    try:
        while not stop.is_set():
            s.sendall(block)
            sent[0] += len(block)
    except OSError:
        pass
    finally:
        s.close()


def key_latency(sess, key, pred):
    t0 = time.monotonic()
    sess.keys(key)
    sess.wait_for(pred, 5, "key %s answered" % key)
    return time.monotonic() - t0


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
        th = threading.Thread(target=flood, args=(port, stop, sent), daemon=True)
        th.start()
        sess.wait_text("recv #")
        pid = sockpit_pid(sess)
        latencies = []
        deadline = time.monotonic() + FLOOD_SECONDS
        hexed = False
        while time.monotonic() < deadline:
            hexed = not hexed
            latencies.append(key_latency(
                sess, "x", lambda s, h=hexed: ("both hex" in s.splitlines()[0]) == h))
            latencies.append(key_latency(sess, "?", lambda s: "Keys:" in s))
            latencies.append(key_latency(sess, "Escape", lambda s: "Keys:" not in s))
        peak = rss_kb(pid) if pid else 0
        worst = max(latencies)
        print("flood: %.0f MiB sent, %d key presses, worst answer %.0f ms, rss %d MiB"
              % (sent[0] / 1048576, len(latencies), worst * 1000, peak // 1024))
        assert sent[0] > 16 * 1048576, "the flood was too slow to mean anything"
        assert worst < KEY_LATENCY_MAX, latencies
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
