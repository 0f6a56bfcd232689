#!/usr/bin/env python3
"""Where the time goes: perf profiles of the benchmark sinks (not run by
`make bench`). Records the headless raw and len:u32be sinks and the TUI under
a flood, then prints each one's top symbols. Needs `perf` (linux-perf) and
permission to profile (root, or kernel.perf_event_paranoid <= 1).

usage: profile.py SOCKPIT_BINARY [--mib N] [--out DIR] [--top N] [--sender PATH]
For source lines, build with -DCMAKE_C_FLAGS=-g and then run
`perf annotate -i DIR/CASE.data -l -s SYMBOL`.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
import tmuxrun  # noqa: E402


def perf_record(out, target):
    """perf record of a command (list) or of a running pid (int)."""
    cmd = ["perf", "record", "-q", "--call-graph", "dwarf,16384", "-F", "999", "-o", out]
    cmd += ["-p", str(target)] if isinstance(target, int) else ["--"] + target
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(perf):
    """Ends a perf record (it then ends its workload), bounded in time."""
    if perf.poll() is None:
        perf.send_signal(signal.SIGINT)
        try:
            perf.wait(60)
        except subprocess.TimeoutExpired:
            perf.kill()
            perf.wait()


def headless(binary, sender, mib, framing, mode, out):
    port = run.free_port()
    perf = perf_record(out, run.headless_sink(binary, framing)(port))
    try:
        mbps = run.run_sender(sender, port, mib, mode)
        perf.wait(60)  # the sink quits once the sender is done
        return mbps
    finally:
        stop(perf)


def tui(binary, sender, mib, out):
    port = run.free_port()
    t = run.tui_start(binary, port)
    try:
        perf = perf_record(out, t.pid)
        try:
            time.sleep(0.5)  # perf attached
            mbps = run.run_sender(sender, port, mib, "raw")
        finally:
            stop(perf)
        t.quit()
        return mbps
    finally:
        t.close()


def top(data, n):
    r = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol",
                        "--stdio", "-g", "none", "--percent-limit", "0.5"],
                       capture_output=True, text=True, timeout=300)
    rows = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    return "\n".join(rows[:n])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sockpit")
    ap.add_argument("--mib", type=int, default=2048)
    ap.add_argument("--out", default=None)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--sender", default=None)
    args = ap.parse_args()
    if shutil.which("perf") is None:
        sys.exit("perf not found (apt-get install linux-perf)")
    binary = os.path.abspath(args.sockpit)
    build_dir = os.path.dirname(binary)
    sender = args.sender or os.path.join(build_dir, "tests", "bench", "sender")
    if not os.path.exists(sender):
        sys.exit(f"sender not built: {sender}")
    out = args.out or os.path.join(build_dir, "profile")
    os.makedirs(out, exist_ok=True)
    cases = [
        ("headless-raw", lambda o: headless(binary, sender, args.mib, None, "raw", o)),
        ("headless-len", lambda o: headless(binary, sender, args.mib, "len:u32be", "len64", o)),
    ]
    if tmuxrun.have_tmux():
        cases.append(("tui-flood", lambda o: tui(binary, sender, args.mib, o)))
    for name, fn in cases:
        data = os.path.join(out, name + ".data")
        mbps = fn(data)
        print(f"== {name}: {mbps:.0f} MB/s under perf ({data})")
        print(top(data, args.top), flush=True)


if __name__ == "__main__":
    main()
