#!/usr/bin/env python3
"""sockpit benchmarks (DESIGN section 10), run by `make bench`.

Each sink listens on loopback; tests/bench/sender writes TOTAL MiB in 256 KiB
writes, shuts down and waits for the sink to close, so the time covers every
byte being consumed. nc and socat run in the same invocation as the baseline.
Prints a Markdown table (for the README) and writes it to build/bench.md.

usage: run.py SOCKPIT_BINARY [--mib N] [--runs N] [--only NAME,...]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sockpit_sink(binary, framing):
    def argv(port):
        listen = f"listen tcp:127.0.0.1:{port}"
        if framing:
            listen += f" --framing {framing}"
        return [binary, "--headless", "--quiet",
                "-e", listen,
                "-e", "wait accepted --timeout 0",
                "-e", "close 1",
                "-e", "wait 2 eof --timeout 0",
                "-e", "quit"]
    return argv


SINKS = {
    "nc": lambda port: ["nc", "-d", "-l", "127.0.0.1", str(port)],
    "socat": lambda port: ["socat", "-u", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr",
                           "OPEN:/dev/null"],
}


def watch_hwm(pid, result, stop):
    """Samples the sink's peak resident memory (VmHWM) until it exits.

    rusage from wait4 would also count the Python process the sink was
    forked from, so the kernel's own high-water mark is read instead."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        result[0] = max(result[0], int(line.split()[1]) / 1024.0)
        except OSError:
            return
        time.sleep(0.05)


def run_once(sink_argv, sender, port, mib, mode):
    devnull = open(os.devnull, "wb")
    sink = subprocess.Popen(sink_argv, stdout=devnull, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    hwm, stop = [0.0], threading.Event()
    watcher = threading.Thread(target=watch_hwm, args=(sink.pid, hwm, stop), daemon=True)
    watcher.start()
    try:
        out = subprocess.run([sender, str(port), str(mib), mode], capture_output=True,
                             text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"sender failed: {out.stderr.strip()}")
        stop.set()
        watcher.join()
        sink.wait(timeout=30)
        if sink.returncode != 0:
            raise RuntimeError(f"{sink_argv[0]} exited {sink.returncode}: "
                               f"{sink.stderr.read().decode(errors='replace').strip()}")
        nbytes, secs, mbps = out.stdout.split()
        return float(mbps), hwm[0]
    finally:
        stop.set()
        if sink.returncode is None:
            sink.kill()
            sink.wait()
        devnull.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sockpit")
    ap.add_argument("--mib", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--sender", default=None)
    args = ap.parse_args()

    build_dir = os.path.dirname(os.path.abspath(args.sockpit))
    sender = args.sender or os.path.join(build_dir, "tests", "bench", "sender")
    if not os.path.exists(sender):
        sys.exit(f"sender not built: {sender}")

    cases = [
        ("nc -d -l > /dev/null (raw)", SINKS["nc"], "raw", "nc"),
        ("socat -u TCP-LISTEN /dev/null (raw)", SINKS["socat"], "raw", "socat"),
        ("sockpit --headless --quiet (raw)", sockpit_sink(args.sockpit, None), "raw",
         "sockpit-raw"),
        ("sockpit --headless --quiet, len:u32be 64-byte msgs",
         sockpit_sink(args.sockpit, "len:u32be"), "len64", "sockpit-len"),
    ]
    only = set(filter(None, args.only.split(",")))
    rows = []
    base = None
    for title, argv, mode, key in cases:
        if only and key not in only:
            continue
        tool = argv(1)[0]
        if shutil.which(tool) is None and not os.path.exists(tool):
            rows.append((title, None, None, None))
            continue
        speeds, rss = [], []
        for _ in range(args.runs):
            port = free_port()
            mbps, maxrss = run_once(argv(port), sender, port, args.mib, mode)
            speeds.append(mbps)
            rss.append(maxrss)
            time.sleep(0.2)
        med = statistics.median(speeds)
        if key == "nc":
            base = med
        rows.append((title, med, max(rss), med / base if base else None))

    lines = [f"{args.mib} MiB over loopback TCP, 256 KiB writes, median of {args.runs} runs, "
             f"{os.cpu_count()} cores.", "",
             "| sink | MB/s | × nc | max RSS (MiB) |", "|---|---:|---:|---:|"]
    for title, med, rss, ratio in rows:
        if med is None:
            lines.append(f"| {title} | not installed | | |")
        else:
            r = f"{ratio:.2f}" if ratio else ""
            lines.append(f"| {title} | {med:.0f} | {r} | {rss:.1f} |")
    text = "\n".join(lines)
    print(text)
    out = os.path.join(build_dir, "bench.md")
    with open(out, "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
