#!/usr/bin/env python3
"""The wire view's costs against the number of watched sockets (root only;
`make bench-wire`).

Matching: sockpit --headless --json listens with --wire; K idle clients
connect (each accepted connection is watched), then one more sends MIB MiB
(paced at 2 MiB/s, so the capture keeps up: a drop would be reported).
It runs in a private network namespace (unshare -n) whose lo cuts every
segment as TCP does (gso_max_segs 1) with `set mss 88`: ~12000 segments a
MiB, so the cost per segment is not hidden in the cost of the bytes. sockpit's CPU time (utime+stime, /proc/PID/stat) over the
flood divided by the segment events it printed: the cost of one captured
segment with K + 1 watched connections. It must not grow with K.

Filter: sockpit makes K connections with `connect --wire` to one listener
of this script and quits; the run's wall and CPU time, and what `wire` says
of the filter at the end. Each watched connection is one more term while
the filter lists address pairs; pcap_compile is quadratic in the filter, so
a filter rebuilt per socket costs O(K^3).

usage: wire_scale.py SOCKPIT [--mib N] [--ks 1,100,1000] [--filter-ks 100,300,1000]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def matching(binary, k, mib):
    port = free_port()
    sp = subprocess.Popen([binary, "--headless", "--json", "-e", "set mss 88", "-e",
                           "listen tcp:127.0.0.1:%d --wire" % port],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
    counts = {"seg": 0, "recv": 0, "accepted": 0, "eof": 0, "drops": 0}
    lock = threading.Lock()

    def reader():
        for line in sp.stdout:
            try:
                ev = json.loads(line).get("ev")
            except ValueError:  # the last line, cut when sockpit is killed
                continue
            if ev == "notice" and "dropped" in line.decode(errors="replace"):
                counts["drops"] += 1
            if ev in ("segment", "recv", "accepted", "eof"):
                with lock:
                    counts["seg" if ev == "segment" else ev] += 1

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    idle = []
    try:
        end = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < end, "sockpit does not listen"
                time.sleep(0.05)
        for _ in range(k):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        while counts["accepted"] < k + 1:
            assert time.monotonic() < end, "not every idle connection was accepted"
            time.sleep(0.02)
        time.sleep(0.3)
        with lock:
            seg0 = counts["seg"]
        c0, t0 = cpu_s(sp.pid), time.monotonic()
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        block = b"\0" * 2048
        for _ in range(mib * 512):  # paced, 2 MiB/s: the capture keeps up
            c.sendall(block)
            time.sleep(0.001)
        c.close()
        while counts["eof"] < 2:
            assert time.monotonic() < end + 120, "the flood did not end"
            time.sleep(0.01)
        # The capture may lag behind the stream: done once no segment came
        # for half a second.
        last = -1
        while counts["seg"] != last:
            last = counts["seg"]
            assert time.monotonic() < end + 240, "the segments never stopped"
            time.sleep(0.5)
        c1, t1 = cpu_s(sp.pid), time.monotonic()
        with lock:
            n = counts["seg"] - seg0
        return n, c1 - c0, t1 - t0, counts["drops"]
    finally:
        for s in idle:
            s.close()
        sp.kill()
        sp.wait()


def filtering(binary, k):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(k + 16)
    port = ls.getsockname()[1]
    script = "".join("connect tcp:127.0.0.1:%d --wire\n" % port for _ in range(k))
    script += "wire 2\nquit\n"
    stop = threading.Event()
    held = []

    def acceptor():
        ls.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(ls.accept()[0])
            except socket.timeout:
                pass

    t = threading.Thread(target=acceptor, daemon=True)
    t.start()
    path = "/tmp/sockpit-wire-scale-%d.sp" % os.getpid()
    with open(path, "w") as f:
        f.write(script)
    try:
        t0 = time.monotonic()
        with open(path + ".out", "w+") as out:
            p = subprocess.Popen([binary, "--headless", "--json", "--script", path],
                                 stdout=out, stderr=subprocess.DEVNULL)
            ru = os.wait4(p.pid, 0)[2]
            wall = time.monotonic() - t0
            out.seek(0)
            status = [json.loads(ln)["text"] for ln in out
                      if '"ev":"output"' in ln and "wire on" in ln]
        os.unlink(path + ".out")
        return wall, ru.ru_utime + ru.ru_stime, status[0] if status else "(no wire status)"
    finally:
        stop.set()
        t.join(5)
        for c in held:
            c.close()
        ls.close()
        os.unlink(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sockpit")
    ap.add_argument("--mib", type=int, default=2)
    ap.add_argument("--ks", default="1,100,1000")
    ap.add_argument("--filter-ks", default="100,300,1000")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("skip: the wire view needs root (CAP_NET_RAW)")
        return 0
    if os.environ.get("WIRE_SCALE_NETNS") != "1":
        env = dict(os.environ, WIRE_SCALE_NETNS="1")
        return subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__)] +
                              sys.argv[1:], env=env).returncode
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "link", "set", "dev", "lo", "gso_max_segs", "1"], check=True)
    print("| watched connections | segments | CPU µs per segment | drop notices |")
    print("|---|---|---|---|")
    for k in [int(x) for x in a.ks.split(",")]:
        n, cpu, wall, drops = matching(a.sockpit, k, a.mib)
        print("| %d | %d | %.2f | %d |" % (k + 1, n, cpu / n * 1e6 if n else 0, drops),
              flush=True)
    print()
    print("| `connect --wire` connections | wall s | CPU s | the filter at the end |")
    print("|---|---|---|---|")
    for k in [int(x) for x in a.filter_ks.split(",")]:
        wall, cpu, status = filtering(a.sockpit, k)
        print("| %d | %.2f | %.2f | %s |" % (k, wall, cpu, status.split("; ")[-1]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
