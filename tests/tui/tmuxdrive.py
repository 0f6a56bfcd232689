"""Drives the real sockpit binary inside a private tmux server.

Each Session owns its own tmux socket (-L), so tests never touch the user's
tmux and always kill their server at the end. Every wait is bounded.
"""
import os
import shutil
import re
import socket
import subprocess
import sys
import time

SKIP = 77


def binary():
    path = os.environ.get("SOCKPIT")
    if not path or not os.access(path, os.X_OK):
        print("SOCKPIT must name the built sockpit binary", file=sys.stderr)
        sys.exit(2)
    return path


def need_tmux():
    if shutil.which("tmux") is None:
        print("tmux not found: skipping the TUI tests")
        sys.exit(SKIP)


class Session:
    def __init__(self, args, width=120, height=40, env=None, stdin_text=None):
        self.sock = "sockpit-test-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
        self.width = width
        self.height = height
        full_env = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "tmux-256color"}
        if env:
            full_env.update(env)
        cmd = [binary()] + list(args)
        # A shell wrapper keeps the pane alive after sockpit exits so that the
        # test can read its final screen and exit status.
        shell = " ".join(_quote(c) for c in cmd) + "; echo \"[exit $?]\"; sleep 30"
        if stdin_text is not None:
            # sockpit reads a script from a pipe while the keys still come
            # from the terminal.
            shell = "printf %s " + _quote(stdin_text) + " | " + shell
        envargs = []
        for k, v in full_env.items():
            envargs += ["-e", "%s=%s" % (k, v)]
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
                  *envargs, shell)
        # Fixed size even if a client ever attaches.
        self.tmux("set-option", "-g", "window-size", "manual")

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                           text=True, timeout=10)
        if check and r.returncode != 0:
            raise RuntimeError("tmux %s failed: %s" % (args[0], r.stderr.strip()))
        return r.stdout

    def keys(self, *keys):
        """Sends tmux key names (Enter, Escape, C-c, PageUp, ...)."""
        self.tmux("send-keys", "-t", "0", *keys)

    def type(self, text):
        """Types text literally."""
        self.tmux("send-keys", "-t", "0", "-l", text)

    def click(self, x, y):
        """A left click at 0-based cell (x, y), as an xterm (X10) mouse report."""
        for button in (0, 3):  # press, release
            self.type("\x1b[M" + chr(32 + button) + chr(33 + x) + chr(33 + y))

    def screen(self, colours=False):
        args = ["capture-pane", "-p", "-t", "0"]
        if colours:
            args.append("-e")
        return self.tmux(*args)

    def title(self):
        return self.tmux("display-message", "-p", "-t", "0", "#{pane_title}").strip()

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "0", "-x", str(width), "-y", str(height))

    def wait_for(self, pred, timeout=5.0, what="condition"):
        """Polls the screen until pred(screen) is true; returns the screen."""
        deadline = time.monotonic() + timeout
        scr = ""
        while time.monotonic() < deadline:
            scr = self.screen()
            if pred(scr):
                return scr
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; screen was:\n%s" % (what, scr))

    def wait_text(self, text, timeout=5.0):
        return self.wait_for(lambda s: text in s, timeout, repr(text))

    def command(self, line):
        """Runs one command at the : prompt."""
        self.keys(":")
        self.wait_for(lambda s: s.splitlines()[-2].startswith(":") if len(s.splitlines()) >= 2
                      else False, 3, "the prompt")
        self.type(line)
        self.keys("Enter")

    def listen(self, line="listen tcp:0"):
        """Runs a listen command at the prompt and returns the port it got."""
        self.command(line)
        pat = r"listening on 127\.0\.0\.1:(\d+)"
        scr = self.wait_for(lambda s: re.search(pat, s), 5, "the listening event")
        return int(re.search(pat, scr).group(1))

    def close(self):
        self.tmux("kill-server", check=False)


def _quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def tcp_connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def flood(port, stop, sent):
    """Sends to port as fast as it goes until stop is set; sent[0] counts
    the bytes. Run it in a thread of its own."""
    s = tcp_connect(port)
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
    """Seconds from pressing key until pred(screen) holds."""
    t0 = time.monotonic()
    sess.keys(key)
    sess.wait_for(pred, 5, "key %s answered" % key)
    return time.monotonic() - t0


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


class Runner:
    """Runs test functions, each with a fresh session; prints N passed, M failed."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, fn):
        start = time.monotonic()
        try:
            fn()
            self.passed += 1
            print("ok   %s (%.1fs)" % (fn.__name__, time.monotonic() - start), flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            self.failed += 1
            print("FAIL %s: %s" % (fn.__name__, e), flush=True)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
