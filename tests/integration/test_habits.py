"""Issue 14, habits: the nc/socat forms (`sockpit ADDR`, `sockpit HOST PORT`,
`-l`, `-u`, `--once`) against real nc and socat peers, every process
stopped by PID and every wait bounded."""

import json
import os
import socket
import subprocess
import time

import peers
from peers import run, test


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(args, **kw):
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def stop(p, timeout=10):
    """Waits for p (bounded), kills it by PID if still running."""
    if p.stdin is not None and p.stdin.closed:
        p.stdin = None
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out, err
    return p.returncode, out, err


def nc_listen(port, extra=()):
    p = subprocess.Popen(["nc", "-l", *extra, "127.0.0.1", str(port)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_listening(port)
    return p


def wait_listening(port, timeout=5.0):
    """Polls /proc/net/tcp (bounded) until something listens on the port,
    without connecting to it (nc -l would take the probe as its client)."""
    end = time.monotonic() + timeout
    want = ":%04X" % port
    while time.monotonic() < end:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[1].endswith(want) and parts[3] == "0A":
                    return
        time.sleep(0.02)
    raise AssertionError("nothing listens on %d" % port)


@test
def host_port_connects_like_nc():
    port = free_port()
    nc = nc_listen(port)
    rc, out, err = run(["127.0.0.1", str(port), "-e", "send hi\\n", "-e", "close"], timeout=10)
    assert rc == 0, (rc, err)
    assert b"connected tcp" in out, out
    nrc, got, _ = stop(nc)
    assert got == b"hi\n", got


@test
def addr_connects_with_the_commands_options():
    port = free_port()
    nc = nc_listen(port)
    rc, out, err = run(["tcp:127.0.0.1:%d" % port, "--framing", "len:u16", "-e", "send abc",
                        "-e", "close"], timeout=10)
    assert rc == 0, (rc, err)
    _, got, _ = stop(nc)
    assert got == b"\x00\x03abc", got


@test
def listen_once_serves_one_nc_client_then_ends():
    p = peers.Sockpit(["-l", "tcp:127.0.0.1:0", "--once", "--framing", "line"])
    port = p.port()
    nc = subprocess.Popen(["nc", "-N", "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    nc.stdin.write(b"one\ntwo\n")
    nc.stdin.close()
    rc = p.finish(timeout=10)
    stop(nc)
    assert rc == 0, (rc, p.err)
    msgs = [e["text"] for e in p.of("msg")]
    assert msgs == ["one", "two"], msgs
    # the listener went after the first client: a second one is refused
    s = socket.socket()
    try:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        s.close()


@test
def listen_without_once_serves_many_clients():
    p = peers.Sockpit(["-l", "0", "--echo"])
    try:
        port = p.port()
        ev = p.wait_event(lambda e: e.get("ev") == "listening")
        assert ev["local"].startswith("127.0.0.1:"), ev  # a bare port is loopback
        for i in range(3):
            c = peers.connect(port)
            c.sendall(b"x%d" % i)
            assert peers.recv_until(c, b"x%d" % i, 5) == b"x%d" % i
            c.close()
        p.wait_event(lambda e: e.get("ev") == "accepted" and e.get("sock") == 4)
        assert p.proc.poll() is None
    finally:
        p.kill()


@test
def udp_forms():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    port = rx.getsockname()[1]
    rc, out, err = run(["-u", "127.0.0.1", str(port), "-e", "send ping", "-e", "close"], timeout=10)
    assert rc == 0, (rc, err)
    assert rx.recv(100) == b"ping"
    rx.close()
    p = peers.Sockpit(["-l", "-u", "0"])
    try:
        port = p.port()
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.sendto(b"dgram", ("127.0.0.1", port))
        ev = p.wait_event(lambda e: e.get("ev") == "recv")
        assert ev["text"] == "dgram", ev
        tx.close()
    finally:
        p.kill()


@test
def positional_usage_errors():
    for bad in (["--once", "tcp:1"], ["-l"], ["--framing", "line"], ["127.0.0.1", "http"],
                ["a", "1", "b"], ["--once", "-l", "-u", "0"], ["tcp:127.0.0.1:99999"]):
        rc, out, err = run(bad, timeout=10)
        assert rc == 2, (bad, rc, err)
        assert err.startswith(b"sockpit: "), (bad, err)


if __name__ == "__main__":
    peers.main()
