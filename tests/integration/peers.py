"""Shared helpers for the integration tests: run the sockpit binary headless,
collect its JSON events live, and write real peers with Python sockets.

Every wait here is bounded; a test that hangs fails instead.
"""

import json
import os
import queue
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def sockpit_path():
    p = os.environ.get("SOCKPIT")
    if p:
        return p
    for cand in ("build/release/sockpit", "build/debug/sockpit", "build/asan/sockpit"):
        full = os.path.join(ROOT, cand)
        if os.path.exists(full):
            return full
    sys.exit("set SOCKPIT to the sockpit binary")


SOCKPIT = sockpit_path()


class Sockpit:
    """A running `sockpit --headless --json ...`; events are parsed as they
    arrive (a reader thread), so a test can wait for one and react."""

    def __init__(self, args, script=None, json_mode=True, stdin_data=None):
        self.args = [SOCKPIT, "--headless"] + (["--json"] if json_mode else []) + list(args)
        self.tmpdir = None
        if script is not None:
            import tempfile

            self.tmpdir = tempfile.mkdtemp(prefix="sockpit-it-")
            self.script_path = os.path.join(self.tmpdir, "script.sp")
            with open(self.script_path, "w") as f:
                f.write(script)
            self.args += ["--script", self.script_path]
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if stdin_data is not None:
            self.proc.stdin.write(stdin_data)
            self.proc.stdin.close()
        self.json_mode = json_mode
        self.events = []
        self.lines = []
        self.bad_lines = []
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.err = b""
        self.et = threading.Thread(target=self._read_err, daemon=True)
        self.et.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append(raw)
            if self.json_mode:
                try:
                    ev = json.loads(raw)
                except ValueError:
                    self.bad_lines.append(raw)
                    continue
                self.events.append(ev)
                self.q.put(ev)
        self.q.put(None)

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def wait_event(self, pred, timeout=10.0):
        """Returns the first event (past or future) for which pred holds."""
        for ev in list(self.events):
            if pred(ev):
                return ev
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching event within %.1fs; last events: %r"
                                     % (timeout, self.events[-5:]))
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if ev is None:
                raise AssertionError("sockpit exited (rc=%r) before the event; events: %r; "
                                     "stderr: %r" % (self.proc.poll(), self.events[-5:],
                                                     self.err))
            if pred(ev):
                return ev

    def port(self, sock=1, timeout=10.0):
        ev = self.wait_event(lambda e: e.get("ev") in ("listening", "bound")
                             and e.get("sock") == sock, timeout)
        return int(ev["local"].rsplit(":", 1)[1])

    def finish(self, timeout=20.0):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sockpit did not exit within %.0fs" % timeout)
        self.t.join(5)
        self.et.join(5)
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def of(self, ev, sock=None):
        return [e for e in self.events if e.get("ev") == ev and (sock is None or e.get("sock") == sock)]

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1


def run(args, timeout=20.0, json_mode=False, stdin_data=None):
    """Runs sockpit to the end: (rc, stdout bytes, stderr bytes)."""
    p = subprocess.run([SOCKPIT] + list(args), capture_output=True, timeout=timeout,
                       input=stdin_data)
    return p.returncode, p.stdout, p.stderr


def connect(port, host="127.0.0.1", timeout=10.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_all(s, timeout=10.0):
    """Reads until EOF, or on a TLS socket the peer's close_notify (bounded)."""
    s.settimeout(timeout)
    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            b = s.recv(65536)
        except ssl.SSLZeroReturnError:
            break
        if not b:
            break
        out += b
    return out


def recv_until(s, want, timeout=10.0):
    s.settimeout(timeout)
    out = b""
    end = time.monotonic() + timeout
    while not out.endswith(want) and time.monotonic() < end:
        b = s.recv(65536)
        if not b:
            break
        out += b
    return out


def free_port():
    """A port nothing listens on now (bound and released at once): for peers
    that take a port number, not a socket."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop_proc(proc):
    """Ends a peer process the test started (by its PID) and reaps it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


class Server:
    """A TCP server on 127.0.0.1:0 running handler(conn) per connection in a
    thread."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.errors = []
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        self.sock.settimeout(30)
        try:
            while True:
                c, _ = self.sock.accept()
                threading.Thread(target=self._one, args=(c,), daemon=True).start()
        except OSError:
            pass

    def _one(self, c):
        try:
            self.handler(c)
        except Exception as e:  # reported by the test that owns the server
            self.errors.append(e)
        finally:
            c.close()

    def close(self):
        self.sock.close()


def upper_line_server(c):
    """Upper-cases every line it reads, until EOF."""
    c.settimeout(20)
    f = c.makefile("rb")
    for line in f:
        c.sendall(line.upper())


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def main():
    """Runs the registered tests, prints a closing line, exits non-zero on a
    failure."""
    only = sys.argv[1:]
    passed = failed = 0
    start = time.monotonic()
    for fn in TESTS:
        if only and fn.__name__ not in only:
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (fn.__name__, time.monotonic() - t0))
            traceback.print_exc()
        else:
            passed += 1
            print("ok   %s (%.2fs)" % (fn.__name__, time.monotonic() - t0))
        sys.stdout.flush()
    print("%d passed, %d failed (%.1fs)" % (passed, failed, time.monotonic() - start))
    sys.exit(1 if failed else 0)
