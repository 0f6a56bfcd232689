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
    p = peers.Sockpit(["-l", "tcp:127.0.0.1:0", "--once", "--framing", "line", "--no-stdio"])
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
    p = peers.Sockpit(["-l", "0", "--echo", "--no-stdio"])
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
    p = peers.Sockpit(["-l", "-u", "0", "--no-stdio"])
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


def sockpit_pipe(args, stdin_data=None, stdin=None):
    """sockpit with stdin a pipe (data written by a thread, then closed)."""
    import threading
    p = subprocess.Popen([peers.SOCKPIT] + list(args), stdin=stdin or subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if stdin is None:
        f = p.stdin

        def feed():
            try:
                f.write(stdin_data or b"")
                f.close()
            except BrokenPipeError:
                pass
        threading.Thread(target=feed, daemon=True).start()
    return p


def finish(p, timeout=20):
    """(rc, stdout, stderr) of a sockpit_pipe run, killed by PID past timeout."""
    p.stdin = None
    return stop(p, timeout)


@test
def stdio_lines_to_nc_and_replies_to_stdout():
    port = free_port()
    # nc answers at once and keeps its stdin open; ours comes a moment
    # later, so nc's answer is in before our FIN (at which nc exits).
    nc = subprocess.Popen(["nc", "-l", "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    nc.stdin.write(b"R1\nR2\n")
    nc.stdin.flush()
    wait_listening(port)
    feeder = subprocess.Popen(["sh", "-c", r"sleep 0.5; printf 'a\r\nb\n'"],
                              stdout=subprocess.PIPE)
    p = sockpit_pipe(["tcp:127.0.0.1:%d" % port, "--framing", "line"], stdin=feeder.stdout)
    feeder.stdout.close()
    rc, out, err = finish(p)
    nc.stdin.close()
    _, got, _ = stop(nc)
    stop(feeder)
    assert rc == 0, (rc, err)
    assert got == b"a\nb\n", got          # each line a message, re-framed by line
    assert out == b"R1\nR2\n", out        # each message a line on stdout
    assert err == b"", err                 # no events without -v


@test
def stdio_raw_bytes_through_socat_echo_exactly():
    port = free_port()
    socat = subprocess.Popen(["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port,
                              "EXEC:cat"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_listening(port)
        data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB, every byte value
        p = sockpit_pipe(["127.0.0.1", str(port)], data)
        rc, out, err = finish(p)
        assert rc == 0, (rc, err)
        assert out == data, (len(out), len(data))
    finally:
        stop(socat, 5)


@test
def stdio_listen_serves_one_nc_client_with_v_events_on_stderr():
    port = free_port()
    p = sockpit_pipe(["-l", "127.0.0.1", str(port), "-v", "--json"], b"from-sockpit\n")
    wait_listening(port)
    nc = subprocess.Popen(["nc", "-N", "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    nc.stdin.write(b"from-nc\n")
    nc.stdin.close()
    _, got, _ = stop(nc)
    rc, out, err = finish(p)
    assert rc == 0, (rc, err)
    assert got == b"from-sockpit\n", got
    assert out == b"from-nc\n", out
    evs = [json.loads(l) for l in err.splitlines()]
    names = [e["ev"] for e in evs]
    assert "accepted" in names and "eof" in names and names[-1] in ("summary", "state"), names
    assert names.index("eof") < max(i for i, n in enumerate(names) if n == "closed"), names


@test
def stdio_hex_in_and_out():
    port = free_port()
    socat = subprocess.Popen(["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port,
                              "EXEC:cat"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_listening(port)
        p = sockpit_pipe(["--hex", "tcp:127.0.0.1:%d" % port, "--framing", "len:u8"],
                         b"00 ff 41\n")
        rc, out, err = finish(p)
        assert rc == 0, (rc, err)
        assert out == b"00ff41\n", out
    finally:
        stop(socat, 5)


@test
def stdio_q_ends_after_stdin_eof_when_the_peer_stays():
    port = free_port()
    srv = socket.socket()
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    try:
        t0 = time.monotonic()
        p = sockpit_pipe(["tcp:127.0.0.1:%d" % port, "-q", "0.3"], b"bye")
        c, _ = srv.accept()
        assert peers.recv_all(c, 5) == b"bye"   # our FIN after stdin's EOF (nc -N)
        rc, out, err = finish(p)
        assert rc == 0, (rc, err)
        assert 0.25 < time.monotonic() - t0 < 5
        c.close()
    finally:
        srv.close()


@test
def stdio_exit_status_says_how_it_ended():
    port = free_port()
    p = sockpit_pipe(["tcp:127.0.0.1:%d" % port], b"x")
    rc, out, err = finish(p)
    assert rc == 1 and b"ECONNREFUSED" in err, (rc, err)
    # the peer resets: status 1, the reason on stderr
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    import struct
    p = sockpit_pipe(["tcp:127.0.0.1:%d" % srv.getsockname()[1]], None,
                     stdin=subprocess.PIPE)
    c, _ = srv.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    srv.close()
    rc, out, err = stop(p)
    assert rc == 1, (rc, err)
    assert b"ECONNRESET" in err, err


@test
def stdio_backpressure_sends_everything_to_a_slow_reader():
    """32 MiB of stdin to a peer that reads nothing for a second: stdin waits
    for the socket (the 8 MiB write queue would refuse a send otherwise)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    size = 32 << 20
    p = sockpit_pipe(["tcp:127.0.0.1:%d" % port], b"z" * size)
    c, _ = srv.accept()
    time.sleep(1.0)
    c.settimeout(30)
    got = 0
    end = time.monotonic() + 30
    while time.monotonic() < end:
        b = c.recv(1 << 20)
        if not b:
            break
        got += len(b)
    c.close()
    srv.close()
    rc, out, err = finish(p)
    assert got == size, got
    assert rc == 0, (rc, err)


@test
def stdio_slow_stdout_consumer_loses_nothing():
    """The peer sends 16 MiB while nobody reads sockpit's stdout for a
    second: the output is buffered up to a bound and the socket paused, and
    every byte comes out in order."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    p = subprocess.Popen([peers.SOCKPIT, "tcp:127.0.0.1:%d" % port, "--stdio"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    c, _ = srv.accept()
    data = os.urandom(1 << 20) * 16
    import threading
    t = threading.Thread(target=lambda: (c.sendall(data), c.shutdown(socket.SHUT_WR)),
                         daemon=True)
    t.start()
    time.sleep(1.0)
    alive = p.poll() is None
    rc, out, err = stop(p, 30)
    t.join(10)
    c.close()
    srv.close()
    assert alive
    assert rc == 0, (rc, err)
    assert out == data, len(out)


@test
def failures_say_why_on_stderr_when_stdout_is_elsewhere():
    """Item 3: `sockpit --script f.sp >/dev/null` still says why it failed
    (stderr a pipe here, as in CI)."""
    port = free_port()
    with open(os.devnull, "wb") as null:
        for lines, want in (
            (["connect tcp:127.0.0.1:%d" % port], b"ECONNREFUSED"),
            (["listen tcp:0", "wait accepted --timeout 50"], b"timed out"),
            (["bogus-command"], b"bogus"),
        ):
            args = [peers.SOCKPIT]
            for l in lines:
                args += ["-e", l]
            p = subprocess.run(args, stdout=null, stderr=subprocess.PIPE, timeout=20,
                               stdin=subprocess.DEVNULL)
            assert p.returncode == 1, (lines, p.returncode)
            assert p.stderr.startswith(b"sockpit: ") and want in p.stderr, (lines, p.stderr)


@test
def expect_mismatch_reason_on_stderr_and_graceful_close():
    """Item 3: a failed script closes its connections gracefully: the peer
    reads what was sent, then EOF, not a reset. --reset-on-fail resets."""
    for reset in (False, True):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        args = [peers.SOCKPIT, "-e", "connect tcp:127.0.0.1:%d --framing line" % port,
                "-e", "send hello", "-e", "expect nope --timeout 2000"]
        if reset:
            args.append("--reset-on-fail")
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        c, _ = srv.accept()
        c.settimeout(10)
        assert peers.recv_until(c, b"hello\n", 5) == b"hello\n"
        c.sendall(b"other\n")
        rc, _, err = stop(p)
        assert rc == 1, (rc, err)
        assert b"expect" in err and b"other" in err, err
        try:
            tail = c.recv(100)
            outcome = "eof" if tail == b"" else tail
        except ConnectionResetError:
            outcome = "reset"
        c.close()
        srv.close()
        assert outcome == ("reset" if reset else "eof"), (reset, outcome)


@test
def stdio_from_a_regular_file_and_dev_null():
    """epoll cannot watch a regular file or /dev/null: stdin is still read
    through the loop (a timer), and sent whole."""
    import tempfile
    with tempfile.TemporaryFile() as f:
        f.write(b"file-data\n" * 1000)
        f.seek(0)
        port = free_port()
        nc = nc_listen(port)
        p = sockpit_pipe(["127.0.0.1", str(port)], stdin=f)
        rc, out, err = finish(p)
        _, got, _ = stop(nc)
        assert rc == 0, (rc, err)
        assert got == b"file-data\n" * 1000, len(got)
    port = free_port()
    nc = nc_listen(port)
    p = sockpit_pipe(["127.0.0.1", str(port)], stdin=subprocess.DEVNULL)
    rc, out, err = finish(p)
    _, got, _ = stop(nc)
    assert rc == 0 and got == b"", (rc, err, got)


if __name__ == "__main__":
    peers.main()
