"""A sockpit TUI inside a private tmux server, for the benchmarks.

The command runs with `exec`, so the pane's pid is sockpit's own pid (for
/proc/PID/status). Every wait is bounded and close() always kills the server.
"""
import os
import shutil
import subprocess
import re
import time

VIEW_RE = re.compile(r"(?:^|  )(chunks|msgs|both)( hex)?(?:  |\s*$)")


def have_tmux():
    return shutil.which("tmux") is not None


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


class Tui:
    def __init__(self, binary, lines, nofile=None, width=120, height=40):
        self.sock = "sockpit-bench-%d-%d" % (os.getpid(), time.monotonic_ns() % 10**9)
        env = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "tmux-256color"}
        cmd = "exec " + " ".join(shq(a) for a in [binary] + [x for ln in lines
                                                               for x in ("-e", ln)])
        if nofile:
            cmd = "ulimit -n %d && %s" % (nofile, cmd)
        envargs = []
        for k, v in env.items():
            envargs += ["-e", "%s=%s" % (k, v)]
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
                  *envargs, cmd)
        self.tmux("set-option", "-g", "window-size", "manual", check=False)
        self.pid = int(self.tmux("display-message", "-p", "-t", "0", "#{pane_pid}").strip())

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                           text=True, timeout=10)
        if check and r.returncode != 0:
            raise RuntimeError("tmux %s failed: %s" % (args[0], r.stderr.strip()))
        return r.stdout

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "0", *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "0", check=False)

    def view_mode(self):
        """The focused (leftmost) pane's view as its header shows it, e.g.
        "both" or "both hex"; None if not found. The header wraps onto more
        rows when panes are split, so the first four rows are searched."""
        rows = [ln.split("\u2502")[1] if ln.count("\u2502") >= 1 else ""
                for ln in self.screen().splitlines()[:4]]
        for row in rows:
            m = VIEW_RE.search(row)
            if m:
                return m.group(1) + (m.group(2) or "")
        return None

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        scr = ""
        while time.monotonic() < deadline:
            scr = self.screen()
            if pred(scr):
                return scr
            time.sleep(0.02)
        raise RuntimeError("TUI: timed out waiting for %s; screen:\n%s" % (what, scr))

    def alive(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().split(") ", 1)[1][0] != "Z"
        except OSError:
            return False

    def quit(self, timeout=15.0):
        """q, then y in the quit menu (asked while sockets are open); True if
        sockpit exited within the timeout."""
        self.keys("q")
        deadline = time.monotonic() + timeout
        asked = False
        while time.monotonic() < deadline and self.alive():
            if not asked and "Esc cancel" in self.screen():
                self.keys("y")
                asked = True
            time.sleep(0.05)
        return not self.alive()

    def close(self):
        self.tmux("kill-server", check=False)
        # tmux leaves its socket file behind; the names are ours alone.
        tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
        try:
            os.unlink(os.path.join(tmpdir, "tmux-%d" % os.getuid(), self.sock))
        except OSError:
            pass
