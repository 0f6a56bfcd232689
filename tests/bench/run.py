#!/usr/bin/env python3
"""sockpit benchmarks (DESIGN section 10), run by `make bench`.

Throughput: each sink listens on loopback; tests/bench/sender writes MIB MiB
in 256 KiB writes, shuts down and waits for the sink to close, so the time
covers every byte being consumed. nc and socat run in the same invocation as
the baseline, and tests/bench/readloop (a bare blocking read() loop at
sockpit's 64 KiB recv size) as the floor for CPU per GiB; the cases are
interleaved round by round (the machine is shared and noisy) and the medians
are reported. The TUI case runs sockpit's full screen front end in a private
tmux server, showing the stream live.

Wire view: the raw headless sink again with `listen --wire` (root only):
every segment of the flood captured with libpcap, tracked and printed as a
segment event (to /dev/null); its throughput against the same sink without.

Printing: headless sockpit without --quiet (text and JSON) prints every recv
to a pipe that this script drains and checks (printed recv events = chunks
in the summary); `socat -v` does the same dump on stderr. PRINT_MIB MiB per
run (SOCAT_V_MIB for socat -v, which is far slower), in the same rounds.

Key latency: while the sender floods the TUI, `x` (hex on/off) is pressed
PRESSES times; each answer is the time from tmux send-keys until capture-pane
shows the pane header changed (tmux round trips included: an upper bound).

Connections: CONNS TCP connections to one listener, each sending one byte and
then held open; sockpit's resident memory before and after gives the cost per
idle connection; headless (--quiet --json) and the TUI.

Short connections: tests/bench/shortconn makes SHORT connections one after
another to a headless echo listener (connect, send a line, read the echo,
close), with and without --quiet; resident memory and open descriptors
afterwards.

Prints Markdown (for the README) and writes it to BUILD_DIR/bench.md.

usage: run.py SOCKPIT_BINARY [--mib N] [--runs N] [--presses N] [--conns N]
              [--print-mib N] [--socat-v-mib N] [--short N] [--short-timeout S]
              [--only read,nc,socat,sockpit-raw,sockpit-len,sockpit-wire,tui,socat-v,
                      sockpit-text,
                      sockpit-json,latency,conns-headless,conns-tui,echo-quiet,echo]
defaults: 2048 MiB per run, 7 rounds, 20 key presses, 10000 connections,
256 MiB printed (8 MiB by socat -v), 150000 short connections.
"""
import argparse
import fcntl
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tmuxrun  # noqa: E402

TARGETS = {"sockpit-raw": 1.0, "sockpit-len": 0.5, "tui": 0.5}
KEY_TARGET_MS = 100
WIRE_TARGET = 0.5  # throughput with the wire view on, against off
READ_SIZE = 65536  # sockpit's default recv size, and the floor's
FLOOR_TARGET = 1.2
ECHO_FDS_MAX = 64  # stdio, the loop's own, the listener: far below one per connection  # sockpit's raw sink CPU per GiB at most this × the floor
RSS_TARGET_MIB = 100
CONN_TARGET_KIB = 20


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_status(pid, field):
    """A /proc/PID/status field in KiB (VmRSS, VmHWM), or None once gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(") ", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError):
        return None


def wait_idle(pid, quiet_s=0.5, timeout=30.0):
    """Waits until the process used no CPU for quiet_s (bounded)."""
    deadline = time.monotonic() + timeout
    last, since = cpu_ticks(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = cpu_ticks(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return True
    return False


class HwmWatch:
    """Samples a process's peak resident memory (VmHWM) until stopped.

    rusage from wait4 would also count the Python process the sink was
    forked from, so the kernel's own high-water mark is read instead."""

    def __init__(self, pid):
        self.pid, self.kib = pid, 0
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self.stop_ev.is_set():
            v = proc_status(self.pid, "VmHWM")
            if v is None:
                return
            self.kib = max(self.kib, v)
            time.sleep(0.05)

    def stop(self):
        v = proc_status(self.pid, "VmHWM")
        if v is not None:
            self.kib = max(self.kib, v)
        self.stop_ev.set()
        self.th.join()
        return self.kib / 1024.0


def run_sender(sender, port, mib, mode, timeout=300):
    out = subprocess.run([sender, str(port), str(mib), mode], capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"sender failed: {out.stderr.strip()}")
    return float(out.stdout.split()[2])


# ---------------------------------------------------------------- throughput

def headless_sink(binary, framing, wire=False):
    def argv(port):
        listen = f"listen tcp:127.0.0.1:{port}"
        if framing:
            listen += f" --framing {framing}"
        if wire:
            listen += " --wire"  # every segment captured and printed (to /dev/null)
        return [binary, "--headless", "--quiet",
                "-e", listen,
                "-e", "wait accepted --timeout 0",
                "-e", "close 1",
                "-e", "wait 2 eof --timeout 0",
                "-e", "quit"]
    return argv


class Drain:
    """Reads a sink's printed output from a pipe as fast as it comes, so that
    the printer never waits for its reader; counts the bytes and the
    occurrences of one pattern (a pattern cut by a read is still counted) and
    keeps the tail, where the summary is."""

    TAIL = 64 * 1024

    def __init__(self, fd, pattern):
        self.fd, self.pattern = fd, pattern
        self.bytes = self.count = 0
        self.tail = b""
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass  # a smaller pipe only costs more wake-ups
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        keep = len(self.pattern) - 1
        while True:
            try:
                b = os.read(self.fd, 1 << 20)
            except OSError:
                return
            if not b:
                return
            self.bytes += len(b)
            joined = self.tail[-keep:] + b if keep else b
            self.count += joined.count(self.pattern)
            self.tail = (self.tail + b)[-self.TAIL:]

    def join(self, timeout=30):
        self.th.join(timeout)
        return self


def process_run(sink_argv, sender, mib, mode, drain=None):
    """One throughput run against a sink process. drain = (stream, pattern):
    the sink prints to that stream ("stdout" or "stderr"), a pipe read by a
    Drain; otherwise its output goes to /dev/null."""
    port = free_port()
    argv = sink_argv(port)
    out = err = subprocess.DEVNULL
    if drain and drain[0] == "stdout":
        out = subprocess.PIPE
    else:
        err = subprocess.PIPE
    sink = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    reader = None
    if drain:
        reader = Drain((sink.stdout if drain[0] == "stdout" else sink.stderr).fileno(),
                       drain[1])
    hwm = HwmWatch(sink.pid)
    try:
        mbps = run_sender(sender, port, mib, mode)
        peak = hwm.stop()
        # wait4 gives the sink's own CPU time: on two cores the throughput is
        # bound by the sender, so CPU per GiB is what tells sinks apart.
        deadline = time.monotonic() + 30
        while True:
            pid, status, ru = os.wait4(sink.pid, os.WNOHANG)
            if pid != 0:
                sink.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not exit after the stream")
            time.sleep(0.01)
        if reader:
            reader.join()
        if sink.returncode != 0:
            msg = reader.tail if reader and drain[0] == "stderr" else sink.stderr.read()
            raise RuntimeError(f"{argv[0]} exited {sink.returncode}: "
                               f"{msg[-500:].decode(errors='replace').strip()}")
        cpu = (ru.ru_utime + ru.ru_stime) / (mib / 1024.0)
        res = {"mbps": mbps, "rss": peak, "cpu": cpu}
        if reader:
            res.update(out=reader.bytes, printed=reader.count, tail=reader.tail)
        return res
    finally:
        hwm.stop_ev.set()
        if sink.returncode is None:
            sink.kill()
            sink.wait()
        for f in (sink.stdout, sink.stderr):
            if f is not None:
                f.close()


RECV_RE = re.compile(r"recv #(\d+)")


def tui_listen_lines(port):
    # Close the connection at EOF so that the sender sees the end of the run.
    return [f"listen tcp:127.0.0.1:{port}", "wait accepted --timeout 0",
            "wait 2 eof --timeout 0", "close 2"]


def tui_start(binary, port):
    tui = tmuxrun.Tui(binary, tui_listen_lines(port))
    tui.wait_for(lambda s: f"listening on 127.0.0.1:{port}" in s, 10, "the listener")
    return tui


def live_frames(tui, stop, seen):
    """Records the recv numbers the focused pane showed while streaming: proof
    that the stream is drawn live, not only at the end."""
    while not stop.is_set():
        scr = tui.screen()
        lines = scr.splitlines()
        if lines and "[2] tcp" in lines[0] and "EOF" not in scr:
            nums = [int(n) for n in RECV_RE.findall(scr)]
            if nums:
                seen.add(max(nums))
        stop.wait(0.1)


def tui_run(binary, sender, mib, mode):
    port = free_port()
    tui = tui_start(binary, port)
    try:
        hwm = HwmWatch(tui.pid)
        stop, seen = threading.Event(), set()
        th = threading.Thread(target=live_frames, args=(tui, stop, seen), daemon=True)
        th.start()
        try:
            mbps = run_sender(sender, port, mib, mode)
        finally:
            stop.set()
            th.join()
        peak = hwm.stop()
        tui.wait_for(lambda s: "closed" in s, 10, "socket 2 closed")
        clean = tui.quit()
        return {"mbps": mbps, "rss": peak, "frames": len(seen), "clean": clean}
    finally:
        tui.close()


def attempt(what, failures, fn, *a):
    """Runs one measurement; a failure is recorded (and fails the run at the
    end) instead of hiding every other number."""
    try:
        return fn(*a)
    except Exception as e:  # noqa: BLE001 - report and go on
        log(f"FAILED {what}: {e}")
        failures.append(f"{what}: {str(e).splitlines()[0]}")
        return None


def printing_sink(binary, json_out):
    """sockpit printing every recv: headless, not --quiet, text or JSON."""
    def argv(port):
        return [binary, "--headless"] + (["--json"] if json_out else []) + [
            "-e", f"listen tcp:127.0.0.1:{port}",
            "-e", "wait accepted --timeout 0",
            "-e", "close 1",
            "-e", "wait 2 eof --timeout 0",
            "-e", "quit"]
    return argv


SUMMARY_RE = {
    "sockpit-text": re.compile(rb"\[2\] summary in (\d+) bytes \((\d+) chunks"),
    "sockpit-json": re.compile(rb'"ev":"summary","sock":2,"bytes_in":(\d+),'
                               rb'"bytes_out":\d+,"chunks":(\d+)'),
}


def check_printed(key, res, mib):
    """Every recv the sink made was printed: the printed recv events number
    what its own summary counts, and it received every byte."""
    tail = res.pop("tail")
    pat = SUMMARY_RE.get(key)
    if pat is None:
        return True
    m = pat.search(tail)
    if m is None:
        raise RuntimeError("no summary for the connection in the output")
    got, chunks = int(m.group(1)), int(m.group(2))
    if got != mib * 1024 * 1024 or res["printed"] != chunks:
        raise RuntimeError(f"received {got} bytes in {chunks} chunks, printed "
                           f"{res['printed']} recv events")
    res["chunks"] = chunks
    return True


def throughput(args, sender, rounds, failures):
    bdir = os.path.dirname(sender)
    readloop = os.path.join(bdir, "readloop")
    # (key, title, sender mode, sink argv or None for the TUI, MiB, drain)
    cases = [
        ("read", f"bare `read()` loop, {READ_SIZE // 1024} KiB reads (the floor)", "raw",
         lambda p: [readloop, str(p), str(READ_SIZE)], args.mib, None),
        ("nc", "nc -d -l > /dev/null", "raw",
         lambda p: ["nc", "-d", "-l", "127.0.0.1", str(p)], args.mib, None),
        ("socat", "socat -u TCP-LISTEN OPEN:/dev/null", "raw",
         lambda p: ["socat", "-u", f"TCP-LISTEN:{p},bind=127.0.0.1,reuseaddr",
                    "OPEN:/dev/null"], args.mib, None),
        ("sockpit-raw", "sockpit --headless --quiet, raw", "raw",
         headless_sink(args.sockpit, None), args.mib, None),
        ("sockpit-len", "sockpit --headless --quiet, len:u32be 64-byte msgs", "len64",
         headless_sink(args.sockpit, "len:u32be"), args.mib, None),
        ("sockpit-wire", "sockpit --headless --quiet, raw, wire view on (`--wire`)", "raw",
         headless_sink(args.sockpit, None, wire=True), args.mib, None),
        ("tui", "sockpit TUI in tmux, raw, live", "raw", None, args.mib, None),
        ("socat-v", "socat -v (stderr to a pipe)", "raw",
         lambda p: ["socat", "-v", "-u", f"TCP-LISTEN:{p},bind=127.0.0.1,reuseaddr",
                    "OPEN:/dev/null"], args.socat_v_mib, ("stderr", b" length=")),
        ("sockpit-text", "sockpit --headless, text (stdout to a pipe)", "raw",
         printing_sink(args.sockpit, False), args.print_mib, ("stdout", b"] recv #")),
        ("sockpit-json", "sockpit --headless --json (stdout to a pipe)", "raw",
         printing_sink(args.sockpit, True), args.print_mib, ("stdout", b'"ev":"recv"')),
    ]
    cases = [c for c in cases if want(args, c[0])]
    results = {c[0]: [] for c in cases}
    missing = set()
    for key, _, _, argv, _, _ in cases:
        if key == "tui" and not tmuxrun.have_tmux():
            missing.add(key)
        elif key == "sockpit-wire" and os.geteuid() != 0:
            missing.add(key)  # capturing needs CAP_NET_RAW: the row says so
        elif argv is not None and shutil.which(argv(1)[0]) is None \
                and not os.path.exists(argv(1)[0]):
            missing.add(key)
    for r in range(rounds):
        for key, _, mode, argv, mib, drain in cases:
            if key in missing:
                continue
            what = f"{key} round {r + 1}"
            if key == "tui":
                res = attempt(what, failures, tui_run, args.sockpit, sender, mib, mode)
            else:
                res = attempt(what, failures, process_run, argv, sender, mib, mode, drain)
                if res is not None and drain:
                    if attempt(what, failures, check_printed, key, res, mib) is None:
                        res = None
            if res is None:
                continue
            results[key].append(res)
            log(f"round {r + 1}/{rounds} {key}: {res['mbps']:.0f} MB/s, "
                f"CPU {res.get('cpu', 0):.2f} s/GiB, peak RSS {res['rss']:.1f} MiB" +
                (f", {res['out'] / (mib << 20):.2f} B printed per B" if drain else "") +
                (f", {res['frames']} live frames, quit {'ok' if res['clean'] else 'FAILED'}"
                 if key == "tui" else ""))
            time.sleep(0.2)
    return [(key, title, results[key], key in missing, mib)
            for key, title, _, _, mib, _ in cases]


# ---------------------------------------------------------------- key latency

def press_and_time(tui, key, pred, timeout=5.0):
    t0 = time.monotonic()
    tui.keys(key)
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if pred(tui.view_mode()):
            return (time.monotonic() - t0) * 1000.0
    raise RuntimeError(f"key {key!r} not answered within {timeout:.0f} s")


def toggle_hex_latencies(tui, presses, flowing=lambda: True):
    lat = []
    mode = tui.view_mode()
    if mode is None:
        raise RuntimeError("no pane header with a view mode on screen")
    hexed = mode.endswith(" hex")
    for _ in range(presses):
        if not flowing():
            raise RuntimeError("the flood ended before the key presses did")
        hexed = not hexed
        lat.append(press_and_time(tui, "x", lambda m, want=hexed: m is not None and m.endswith(" hex") == want))
        time.sleep(0.05)
    return lat


def wchar(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def latency_run(args, sender):
    """Floods the TUI with an endless stream and presses keys meanwhile."""
    port = free_port()
    tui = tui_start(args.sockpit, port)
    snd = None
    try:
        hwm = HwmWatch(tui.pid)
        # Far more than is sent before the presses end; stopped by a signal.
        snd = subprocess.Popen([sender, str(port), str(1 << 20), "raw"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tui.wait_for(lambda s: "[2] tcp" in s.splitlines()[0] and "recv #" in s, 10,
                     "the stream in view")
        time.sleep(0.5)
        w0, t0 = wchar(snd.pid), time.monotonic()
        lat = toggle_hex_latencies(tui, args.presses, lambda: snd.poll() is None)
        rate = (wchar(snd.pid) - w0) / (time.monotonic() - t0) / 1e6
        snd.send_signal(signal.SIGTERM)
        snd.wait(10)
        peak = hwm.stop()
        tui.wait_for(lambda s: "closed" in s, 10, "socket 2 closed")
        clean = tui.quit()
        return {"lat": lat, "rate": rate, "rss": peak, "clean": clean}
    finally:
        if snd is not None and snd.poll() is None:
            snd.kill()
            snd.wait()
        tui.close()


# ---------------------------------------------------------------- connections

def raise_nofile(n):
    """Soft RLIMIT_NOFILE up to what n connections need (never above the hard
    limit); returns (limit now in force, connections that fit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if hard != resource.RLIM_INFINITY and hard < want:
        want = hard
    if soft == resource.RLIM_INFINITY or soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft, min(n, soft - 256)


def open_conns(port, n, timeout=120.0):
    """n blocking connects to 127.0.0.1:port, one byte sent on each; bounded."""
    socks = []
    deadline = time.monotonic() + timeout
    try:
        for _ in range(n):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(socks)} of {n} connections in {timeout:.0f} s")
            s = socket.socket()
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            s.sendall(b"x")
            socks.append(s)
    except BaseException:
        close_conns(socks)
        raise
    return socks


def close_conns(socks):
    for s in socks:
        s.close()


def conns_headless(args, n, nofile):
    port = free_port()
    cmd = (f"ulimit -n {nofile} && exec {tmuxrun.shq(args.sockpit)} --headless --quiet "
           f"--json -e {tmuxrun.shq(f'listen tcp:127.0.0.1:{port}')}")
    proc = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    events = {"listening": 0, "accepted": 0, "summary1": 0, "error": 0}
    ready = threading.Event()

    def reader():
        for line in proc.stdout:
            ev = json.loads(line)
            kind = ev.get("ev")
            if kind == "listening":
                ready.set()
            elif kind == "accepted":
                events["accepted"] += 1
            elif kind == "summary" and ev.get("sock") != 1 and ev.get("bytes_in") == 1:
                events["summary1"] += 1
            elif kind == "error":
                events["error"] += 1

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    socks = []
    try:
        if not ready.wait(10):
            raise RuntimeError("headless sockpit did not listen")
        wait_idle(proc.pid)
        before = proc_status(proc.pid, "VmRSS")
        socks = open_conns(port, n)
        deadline = time.monotonic() + 60
        while events["accepted"] < n and time.monotonic() < deadline:
            time.sleep(0.05)
        wait_idle(proc.pid)
        after = proc_status(proc.pid, "VmRSS")
        # SIGTERM resets every socket and prints each one's summary: bytes_in
        # 1 proves every connection was accepted and read.
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        th.join(10)
        return {"n": n, "accepted": events["accepted"], "read1": events["summary1"],
                "errors": events["error"], "before": before, "after": after,
                "per": (after - before) / n}
    finally:
        close_conns(socks)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def conns_tui(args, n, nofile):
    port = free_port()
    tui = tmuxrun.Tui(args.sockpit, [f"listen tcp:127.0.0.1:{port}"], nofile=nofile)
    socks = []
    try:
        tui.wait_for(lambda s: f"listening on 127.0.0.1:{port}" in s, 10, "the listener")
        wait_idle(tui.pid)
        before = proc_status(tui.pid, "VmRSS")
        t0 = time.monotonic()
        socks = open_conns(port, n)
        want = f"Sockets ({n + 1})"
        tui.wait_for(lambda s: want in s, 60, want)
        accept_s = time.monotonic() - t0
        wait_idle(tui.pid, timeout=60)
        after = proc_status(tui.pid, "VmRSS")
        lat = toggle_hex_latencies(tui, args.presses)
        clean = tui.quit(timeout=30)
        return {"n": n, "accepted": n, "before": before, "after": after,
                "per": (after - before) / n, "lat": lat, "accept_s": accept_s,
                "clean": clean}
    finally:
        close_conns(socks)
        tui.close()


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def conns_echo(args, quiet):
    """RSS of a headless echo listener after args.short short connections
    (tests/bench/shortconn: one after the other, each sends a line, reads the
    echo and closes); its output (JSON lines) is drained from a pipe."""
    port = free_port()
    argv = [args.sockpit, "--headless", "--json"] + (["--quiet"] if quiet else []) + [
        "-e", f"listen tcp:127.0.0.1:{port} --echo"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    reader = Drain(proc.stdout.fileno(), b'"ev":"accepted"')
    try:
        deadline = time.monotonic() + 10
        while b'"ev":"listening"' not in reader.tail:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("headless sockpit did not listen")
            time.sleep(0.02)
        wait_idle(proc.pid)
        before = proc_status(proc.pid, "VmRSS")
        out = subprocess.run([args.shortconn, str(port), str(args.short),
                              str(args.short_timeout)], capture_output=True, text=True,
                             timeout=args.short_timeout + 30)
        done, secs = int(out.stdout.split()[0]), float(out.stdout.split()[1])
        wait_idle(proc.pid, timeout=60)
        after, peak = proc_status(proc.pid, "VmRSS"), proc_status(proc.pid, "VmHWM")
        fds = fd_count(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        reader.join()
        if done < args.short:
            raise RuntimeError(f"only {done} of {args.short} connections echoed in "
                               f"{secs:.0f} s; sockpit then had {fds} descriptors open, "
                               f"RSS {after / 1024:.1f} MiB")
        return {"n": done, "secs": secs, "before": before, "after": after, "peak": peak,
                "fds": fds, "accepted": reader.count, "out": reader.bytes}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# ---------------------------------------------------------------- report

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def want(args, key):
    only = set(filter(None, args.only.split(",")))
    return not only or key in only


def fmt_ms(lat):
    return f"median {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms ({len(lat)} presses)"


PRINTERS = ("socat-v", "sockpit-text", "sockpit-json")


def med(res, field):
    vals = [r[field] for r in res if field in r]
    return statistics.median(vals) if vals else None


def stream_table(args, rows, verdicts, notes):
    out = ["", f"{args.mib} MiB over loopback TCP, 256 KiB writes; median of {args.runs} "
               "interleaved runs.", "",
           "| sink | MB/s (median) | min–max | × nc | target | sink CPU s/GiB | CPU × floor | "
           "peak RSS (MiB) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    by = {key: res for key, _, res, _, _ in rows}
    base = med(by.get("nc") or [], "mbps")
    floor = med(by.get("read") or [], "cpu")
    for key, title, res, missing, _ in rows:
        if key in PRINTERS:
            continue
        if missing:
            why = "needs root (CAP_NET_RAW)" if key == "sockpit-wire" else "not installed"
            out.append(f"| {title} | {why} | | | | | | |")
            continue
        if not res:
            continue
        speeds = [r["mbps"] for r in res]
        mbps = statistics.median(speeds)
        ratio = mbps / base if base else None
        tgt = TARGETS.get(key)
        rss = max(r["rss"] for r in res)
        cpu = med(res, "cpu")
        out.append(f"| {title} | {mbps:.0f} | {min(speeds):.0f}–{max(speeds):.0f} | "
                   f"{f'{ratio:.2f}' if ratio else ''} | "
                   f"{f'≥ {tgt:.1f}' if tgt else ''} | "
                   f"{f'{cpu:.2f}' if cpu is not None else ''} | "
                   f"{f'{cpu / floor:.2f}' if cpu is not None and floor else ''} | "
                   f"{rss:.1f} |")
        if tgt and ratio is not None:
            val = f"{ratio:.2f}"
            if ratio < tgt and max(speeds) >= tgt * base:
                val += "; inside the run-to-run spread"
            verdicts.append((f"{key} ≥ {tgt} × nc", ratio >= tgt, val))
        if key == "sockpit-raw" and floor and cpu is not None:
            # Same-round ratios show how much of the gap is the machine's noise.
            per = [a["cpu"] / b["cpu"] for a, b in zip(res, by["read"]) if b["cpu"] > 0]
            spread = f"; per round {min(per):.2f}–{max(per):.2f} ×" if per else ""
            verdicts.append((f"raw sink CPU per GiB ≤ {FLOOR_TARGET} × the bare read() loop",
                             cpu <= FLOOR_TARGET * floor,
                             f"{cpu:.2f} vs {floor:.2f} s/GiB: {cpu / floor:.2f} ×{spread}"))
        off = med(by.get("sockpit-raw") or [], "mbps")
        if key == "sockpit-wire" and off:
            per = [a["mbps"] / b["mbps"] for a, b in zip(res, by["sockpit-raw"]) if b["mbps"]]
            spread = f"; per round {min(per):.2f}–{max(per):.2f} ×" if per else ""
            verdicts.append((f"wire view on ≥ {WIRE_TARGET} × the same sink without it",
                             mbps >= WIRE_TARGET * off,
                             f"{mbps:.0f} vs {off:.0f} MB/s: {mbps / off:.2f} ×{spread}"))
        if key == "tui":
            verdicts.append((f"TUI peak RSS ≤ {RSS_TARGET_MIB} MiB over a {args.mib} MiB stream",
                             rss <= RSS_TARGET_MIB, f"{rss:.1f} MiB"))
            frames = min(r["frames"] for r in res)
            verdicts.append(("TUI drew the stream live (captures mid-stream with a new recv #, "
                             "fewest in a run)", frames > 0, str(frames)))
            if any(not r["clean"] for r in res):
                notes.append("the TUI did not always quit cleanly after q, y")
    return out


def print_table(args, rows):
    printers = [r for r in rows if r[0] in PRINTERS and (r[2] or r[3])]
    if not printers:
        return []
    out = ["", f"Printing every recv: {args.print_mib} MiB ({args.socat_v_mib} MiB for socat -v), "
               "same sender, output to a pipe that the benchmark drains; median of the same "
               "interleaved rounds.", "",
           "| printer | MB/s in (median) | min–max | × socat -v | sink CPU s/GiB | "
           "bytes printed per byte | reads printed |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    base = next((med(res, "mbps") for key, _, res, _, _ in printers
                 if key == "socat-v" and res), None)
    for key, title, res, missing, mib in printers:
        if missing:
            out.append(f"| {title} | not installed | | | | | |")
            continue
        speeds = [r["mbps"] for r in res]
        mbps = statistics.median(speeds)
        ratio = f"{mbps / base:.2f}" if base else ""
        per = med(res, "out") / (mib << 20)
        note = " (= chunks received)" if key != "socat-v" else ""
        out.append(f"| {title} | {mbps:.0f} | {min(speeds):.0f}–{max(speeds):.0f} | {ratio} | "
                   f"{med(res, 'cpu'):.2f} | {per:.2f} | {med(res, 'printed'):.0f}{note} |")
    return out


def echo_table(echo, verdicts):
    if not echo:
        return []
    n = echo[0][1]["n"]
    out = ["", f"{n} short connections to a headless echo listener, one after the other "
               "(connect, send 12 bytes, read the echo, close); JSON output drained:", "",
           "| front end | time | conn/s | RSS before → after (MiB) | peak RSS (MiB) | "
           "descriptors open after |",
           "|---|---:|---:|---:|---:|---:|"]
    for title, c in echo:
        out.append(f"| {title} | {c['secs']:.0f} s | {c['n'] / c['secs']:.0f} | "
                   f"{c['before'] / 1024:.1f} → {c['after'] / 1024:.1f} | "
                   f"{c['peak'] / 1024:.1f} | {c['fds']} |")
        verdicts.append((f"{title}: all {c['n']} accepted", c["accepted"] == c["n"],
                         str(c["accepted"])))
        verdicts.append((f"{title}: closed connections leave no descriptor open",
                         c["fds"] < ECHO_FDS_MAX, f"{c['fds']} open"))
    return out


def report(args, rows, lat, conns, echo, notes):
    out = [f"{os.cpu_count()} cores, {cpu_model()}."]
    verdicts = []
    if any(res or missing for key, _, res, missing, _ in rows if key not in PRINTERS):
        out += stream_table(args, rows, verdicts, notes)
    out += print_table(args, rows)
    if lat:
        out += ["", f"TUI key latency while flooded (`x`, send-keys → capture-pane shows it; "
                    f"sender at {lat['rate']:.0f} MB/s meanwhile): {fmt_ms(lat['lat'])}; "
                    f"peak RSS {lat['rss']:.1f} MiB."]
        verdicts.append((f"key latency < {KEY_TARGET_MS} ms while flooded",
                         max(lat["lat"]) < KEY_TARGET_MS,
                         f"max {max(lat['lat']):.0f} ms"))
    if conns:
        out += ["", f"{conns[0][1]['n']} concurrent TCP connections on one listener "
                    "(one byte each, then idle):", "",
                "| front end | accepted | RSS before → after (MiB) | KiB per connection | "
                "key latency |", "|---|---:|---:|---:|---|"]
        for title, c in conns:
            acc = f"{c['accepted']}"
            if "read1" in c:
                acc += f" (read 1 B on {c['read1']})"
            out.append(f"| {title} | {acc} | {c['before'] / 1024:.1f} → "
                       f"{c['after'] / 1024:.1f} | {c['per']:.1f} | "
                       f"{fmt_ms(c['lat']) if 'lat' in c else ''} |")
            ok = c["accepted"] == c["n"] and c.get("read1", c["n"]) == c["n"]
            verdicts.append((f"{title}: all {c['n']} accepted", ok, str(c["accepted"])))
            verdicts.append((f"{title}: ≤ {CONN_TARGET_KIB} KiB per idle connection",
                             c["per"] <= CONN_TARGET_KIB, f"{c['per']:.1f} KiB"))
            if "lat" in c:
                verdicts.append((f"{title}: key latency < {KEY_TARGET_MS} ms",
                                 max(c["lat"]) < KEY_TARGET_MS, f"max {max(c['lat']):.0f} ms"))
    out += echo_table(echo, verdicts)
    out += [""] + [f"- {'met' if ok else '**missed**'}: {what} ({val})"
                   for what, ok, val in verdicts]
    out += [f"- note: {n}" for n in notes]
    return "\n".join(out)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sockpit")
    ap.add_argument("--mib", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--print-mib", type=int, default=256)
    # socat -v writes its dump a few bytes per write(): about 2 MB/s here.
    ap.add_argument("--socat-v-mib", type=int, default=8)
    ap.add_argument("--short", type=int, default=150000)
    ap.add_argument("--short-timeout", type=float, default=240)
    ap.add_argument("--only", default="")
    ap.add_argument("--sender", default=None)
    args = ap.parse_args()
    args.sockpit = os.path.abspath(args.sockpit)

    build_dir = os.path.dirname(args.sockpit)
    sender = args.sender or os.path.join(build_dir, "tests", "bench", "sender")
    args.shortconn = os.path.join(os.path.dirname(sender), "shortconn")
    for prog in (sender, args.shortconn):
        if not os.path.exists(prog):
            sys.exit(f"not built: {prog}")
    notes, failures = [], []
    rows = throughput(args, sender, args.runs, failures)

    lat = None
    if want(args, "latency"):
        if tmuxrun.have_tmux():
            lat = attempt("key latency", failures, latency_run, args, sender)
            if lat:
                log(f"key latency: {fmt_ms(lat['lat'])}")
        else:
            notes.append("tmux not installed: no TUI key latency")

    conns = []
    if want(args, "conns-headless") or want(args, "conns-tui"):
        nofile, n = raise_nofile(args.conns)
        if n < args.conns:
            notes.append(f"RLIMIT_NOFILE hard limit {nofile}: {n} connections instead of "
                         f"{args.conns}")
        if want(args, "conns-headless"):
            c = attempt("connections, headless", failures, conns_headless, args, n, nofile)
            if c:
                log(f"conns headless: {c}")
                conns.append(("sockpit --headless --quiet", c))
        if want(args, "conns-tui"):
            if tmuxrun.have_tmux():
                c = attempt("connections, TUI", failures, conns_tui, args, n, nofile)
                if c:
                    log(f"conns TUI: { {k: v for k, v in c.items() if k != 'lat'} }")
                    conns.append(("sockpit TUI in tmux", c))
                if c and not c["clean"]:
                    notes.append("the TUI with many sockets did not quit cleanly after q, y")

    echo = []
    for quiet in (True, False):
        key = "echo-quiet" if quiet else "echo"
        if want(args, key):
            title = "sockpit --headless --json" + (" --quiet" if quiet else "")
            c = attempt(f"short connections, {title}", failures, conns_echo, args, quiet)
            if c:
                log(f"short connections, {title}: {c}")
                echo.append((title, c))

    notes += [f"FAILED {f}" for f in failures]
    text = report(args, rows, lat, conns, echo, notes)
    print(text)
    with open(os.path.join(build_dir, "bench.md"), "w") as f:
        f.write(text + "\n")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
