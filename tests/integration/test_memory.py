"""Memory stays inside its caps (issue 8, Memory): thousands of short
connections through an echo listener leave at most `keep-closed` closed
sockets' records (the rest forgotten, and `list` says how many), a command
naming a forgotten socket says so, and resident memory stops growing with
the number of connections (measured in /proc/PID/status at two points)."""

import os
import socket
import struct
import time

import peers
from peers import Sockpit, test


# Under AddressSanitizer freed memory waits in a quarantine (256 MiB) before
# it is reused, which would read as growth: measure without it.
os.environ["ASAN_OPTIONS"] = ":".join(
    x for x in (os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=0") if x)


def asan_build():
    """Is the binary under test built with AddressSanitizer (its own shadow
    memory makes absolute RSS bounds meaningless)?"""
    with open(peers.SOCKPIT, "rb") as f:
        data = f.read()
    # gcc links libasan dynamically: the binary then names only its entry
    # point (__asan_init), not the runtime's own strings.
    return b"AddressSanitizer" in data or b"__asan_init" in data


def churn(port, n, deadline_s=60.0):
    """n short connections: each sends a line, reads the echo, then resets
    (SO_LINGER 0), so sockpit sees ECONNRESET and closes its side."""
    end = time.monotonic() + deadline_s
    for i in range(n):
        assert time.monotonic() < end, "only %d of %d connections in %.0f s" % (i, n, deadline_s)
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"ping %d\n" % i)
        got = b""
        while not got.endswith(b"\n"):
            b = s.recv(64)
            assert b, "connection %d: EOF before the echo" % i
            got += b
        assert got == b"ping %d\n" % i, got
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def wait_closed(sp, n, timeout=30.0):
    """Until sockpit reported n closed connections (bounded)."""
    end = time.monotonic() + timeout
    while sum(1 for e in list(sp.events) if e.get("ev") == "closed") < n:
        assert time.monotonic() < end, "only %d of %d closed" % (
            sum(1 for e in list(sp.events) if e.get("ev") == "closed"), n)
        time.sleep(0.02)


def run_churn(first, second, keep=None):
    """listen --echo, first connections, RSS, second connections, RSS; then
    list and info on the oldest connection. Returns (sockpit, rss1, rss2)."""
    total = first + second
    lines = ["listen tcp:127.0.0.1:0 --echo"]
    if keep is not None:
        lines.append("set keep-closed %d" % keep)
    lines += ["wait 1 accepted"] * total
    lines += ["wait closed", "sleep 1500", "list", "info 2", "quit"]
    sp = Sockpit(["--timeout", "120", "--keep-going"], script="\n".join(lines) + "\n")
    try:
        port = sp.port()
        churn(port, first)
        wait_closed(sp, first)
        time.sleep(0.3)
        rss1 = sp.rss_kib()
        churn(port, second)
        wait_closed(sp, total)
        time.sleep(0.3)
        rss2 = sp.rss_kib()
        sp.finish(timeout=60)
    finally:
        sp.kill()
    return sp, rss1, rss2


def output(sp):
    return [e["text"] for e in sp.events if e.get("ev") == "output"]


@test
def closed_sockets_past_the_cap_are_forgotten_and_rss_stays_flat():
    first, second = 1500, 3000
    sp, rss1, rss2 = run_churn(first, second)
    # Before: every closed socket kept its record and history, ~15 kB each
    # (45 MB for these 3000); now the second batch costs nothing lasting.
    grew = rss2 - rss1
    print("RSS %d KiB after %d connections, %d KiB after %d (+%d KiB)"
          % (rss1, first, rss2, first + second, grew))
    assert grew < 8 * 1024, "RSS grew by %d KiB over %d connections" % (grew, second)
    out = output(sp)
    rows = [t for t in out if t.split() and t.split()[0][0].isdigit() and "tcp" in t]
    # The listener and the last 1000 closed connections, no more.
    assert len(rows) == 1 + 1000, (len(rows), out[:3], out[-3:])
    want = "%d older closed sockets forgotten" % (first + second - 1000)
    assert any(t.startswith(want) for t in out), (want, out[-2:])
    errs = [e["message"] for e in sp.of("cmd_error")]
    assert any("socket 2 was closed and forgotten" in m for m in errs), errs


@test
def keep_closed_is_set_by_a_command():
    sp, _, _ = run_churn(150, 150, keep=100)
    out = output(sp)
    rows = [t for t in out if t.split() and t.split()[0][0].isdigit() and "tcp" in t]
    assert len(rows) == 1 + 100, (len(rows), out[-3:])
    assert any(t.startswith("200 older closed sockets forgotten") for t in out), out[-2:]


def outq(s):
    """Bytes in a socket's send queue not yet acknowledged (SIOCOUTQ)."""
    import array
    import fcntl
    import termios

    buf = array.array("i", [0])
    fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, buf)
    return buf[0]


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


@test
def headless_without_log_keeps_no_history():
    """Every event is printed (no --quiet) and no `log` reads the history:
    the bytes are printed and gone, not kept per socket (before: 4 MiB of
    history per connection)."""
    conns, size = 6, 4 << 20
    port = peers.free_port()
    lines = ["listen tcp:127.0.0.1:%d" % port]
    for _ in range(conns):
        lines += ["wait 1 accepted", "wait bytes:%d" % size]
    lines += ["sleep 5000", "quit"]
    import subprocess
    import tempfile

    tmp = tempfile.NamedTemporaryFile("w", suffix=".sp", delete=False)
    tmp.write("\n".join(lines) + "\n")
    tmp.close()
    proc = subprocess.Popen([peers.SOCKPIT, "--headless", "--timeout", "60", "--script", tmp.name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    socks = []
    try:
        end = time.monotonic() + 10
        while True:
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
                break
            except ConnectionRefusedError:
                assert time.monotonic() < end, "sockpit never listened"
                time.sleep(0.05)
        payload = bytes(range(256)) * (size // 256)
        socks[0].sendall(payload)
        for _ in range(conns - 1):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            socks.append(s)
            s.sendall(payload)
        # Until sockpit has read everything (nothing left in our send queues).
        end = time.monotonic() + 20
        while any(outq(s) for s in socks):
            assert time.monotonic() < end, "sockpit did not read everything"
            time.sleep(0.05)
        time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read()
        hwm = rss_kib(proc.pid, "VmHWM")
        print("peak RSS %d KiB after %d connections x %d MiB" % (hwm, conns, size >> 20))
        assert asan_build() or hwm < 20 * 1024, "peak RSS %d KiB" % hwm
    finally:
        for s in socks:
            s.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()
        os.unlink(tmp.name)


if __name__ == "__main__":
    peers.main()
