#!/usr/bin/env python3
"""The TUI does not outlive its terminal (issue 9, item 13).

Each case starts sockpit in its own tmux server (tmux -L NAME), finds its
PID, takes the terminal away and asserts that the PID is gone within a
bounded time, and that its listener no longer accepts. Whatever is left is
killed by PID at the end.

`make run` is the case that failed: make is the pane's session leader, so the
kernel's hang-up signal goes to make, which catches it and waits for its
child; sockpit gets no SIGHUP and must notice that its terminal reads fail.
A Python wrapper stands in for make here (it catches SIGHUP and waits).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

GONE_WITHIN_S = 5.0

# Stands in for make: catches SIGHUP, writes its child's PID, waits for it.
WRAPPER = (
    "import signal, subprocess, sys\n"
    "signal.signal(signal.SIGHUP, lambda *a: None)\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(p.pid))\n"
    "p.wait()\n"
)


def quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


class Server:
    """A private tmux server running one command in its only pane."""

    def __init__(self, cmd):
        self.name = "sockpit-hup-%d-%d" % (os.getpid(), time.monotonic_ns() % 10**9)
        env = []
        for kv in ("LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TERM=tmux-256color"):
            env += ["-e", kv]
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", *env, cmd)
        self.pane_pid = int(self.tmux("display-message", "-p", "-t", "0",
                                      "#{pane_pid}").strip())

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.name] + list(args), capture_output=True,
                           text=True, timeout=10)
        if check and r.returncode != 0:
            raise RuntimeError("tmux %s failed: %s" % (args[0], r.stderr.strip()))
        return r.stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "0", check=False)

    def wait_port(self, timeout=10.0):
        """The port of the listener the screen says it opened."""
        deadline = time.monotonic() + timeout
        scr = ""
        while time.monotonic() < deadline:
            scr = self.screen()
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", scr)
            if m:
                return int(m.group(1))
            time.sleep(0.05)
        raise AssertionError("no listener on screen:\n" + scr)

    def kill(self):
        self.tmux("kill-server", check=False)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def wait_gone(pid, timeout=GONE_WITHIN_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def kill_pid(pid):
    if pid and alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_file(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read()
            if text:
                return int(text)
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the wrapper did not write the PID")


def sockpit_cmd():
    return [td.binary(), "-e", "listen tcp:127.0.0.1:0"]


def test_hangup_with_a_session_leader_that_stays():
    pidfile = "/tmp/sockpit-hup-%d.pid" % os.getpid()
    cmd = " ".join(quote(a) for a in [sys.executable, "-c", WRAPPER, pidfile] + sockpit_cmd())
    srv = Server(cmd)
    pid = None
    try:
        pid = wait_file(pidfile)
        port = srv.wait_port()
        srv.kill()
        assert wait_gone(pid), "sockpit (pid %d) still runs %.0f s after its terminal " \
            "went away" % (pid, GONE_WITHIN_S)
        assert refused(port), "the listener still accepts"
    finally:
        srv.kill()
        kill_pid(pid)
        kill_pid(srv.pane_pid)
        try:
            os.unlink(pidfile)
        except OSError:
            pass


def test_hangup_as_session_leader():
    srv = Server("exec " + " ".join(quote(a) for a in sockpit_cmd()))
    pid = srv.pane_pid
    try:
        port = srv.wait_port()
        srv.kill()
        assert wait_gone(pid), "sockpit still runs after its terminal went away"
        assert refused(port), "the listener still accepts"
    finally:
        srv.kill()
        kill_pid(pid)


def test_sighup_while_the_terminal_lives():
    srv = Server("exec " + " ".join(quote(a) for a in sockpit_cmd()))
    pid = srv.pane_pid
    try:
        port = srv.wait_port()
        os.kill(pid, signal.SIGHUP)
        assert wait_gone(pid), "sockpit ignored SIGHUP"
        assert refused(port), "the listener still accepts"
    finally:
        srv.kill()
        kill_pid(pid)


def main():
    td.need_tmux()
    r = td.Runner()
    for fn in (test_hangup_with_a_session_leader_that_stays,
               test_hangup_as_session_leader,
               test_sighup_while_the_terminal_lives):
        r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
