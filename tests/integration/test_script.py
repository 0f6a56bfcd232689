"""Scripts against real peers: a send/expect conversation with a Python
upper-casing line server (exit 0, or 1 on a wrong expect), half-close both
ways with the kernel's TCP states, bad command lines (each reported, nothing
changed, --keep-going goes on), `log`, and nc/socat peers where installed."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import peers
from peers import Server, Sockpit, test


@test
def scripted_conversation_with_upper_server_passes():
    srv = Server(peers.upper_line_server)
    try:
        script = ("# a scripted check of a server\n"
                  "connect tcp:127.0.0.1:%d --framing line\n"
                  "send hello\n"
                  "expect HELLO\n"
                  "\n"
                  "send \"two words\"\n"
                  "expect \"TWO WORDS\" --timeout 5000\n"
                  "send caf\\xc3\\xa9\n"
                  "expect CAF\\xc3\\xa9\n"
                  "quit\n") % srv.port
        sp = Sockpit(["--timeout", "20"], script=script)
        rc = sp.finish()
        assert rc == 0, "rc %d: %r %r" % (rc, sp.of("cmd_error"), sp.err)
        msgs = [bytes.fromhex(e["hex"]) for e in sp.of("msg", 1)]
        assert msgs == [b"HELLO", b"TWO WORDS", b"CAF\xc3\xa9"], msgs
        assert not sp.of("cmd_error")
    finally:
        srv.close()


@test
def wrong_expect_exits_1_naming_the_script_line():
    srv = Server(peers.upper_line_server)
    try:
        script = ("connect tcp:127.0.0.1:%d --framing line\n"
                  "send hello\n"
                  "expect hello\n"
                  "send never-sent\n") % srv.port
        sp = Sockpit(["--timeout", "20"], script=script)
        rc = sp.finish()
        assert rc == 1, rc
        errs = sp.of("cmd_error")
        assert len(errs) == 1, errs
        assert errs[0]["line"] == "expect hello"
        assert "script.sp:3" in errs[0]["message"], errs[0]
        assert "HELLO" in errs[0]["message"]
        sent = [bytes.fromhex(e["hex"]) for e in sp.of("send")]
        assert sent == [b"hello\n"], "the line after the failure ran: %r" % sent
    finally:
        srv.close()


@test
def expect_timeout_exits_1():
    def silent(c):
        c.settimeout(10)
        c.recv(100)

    srv = Server(silent)
    try:
        sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % srv.port,
                      "-e", "expect x --timeout 100"])
        t0 = time.monotonic()
        assert sp.finish() == 1
        assert time.monotonic() - t0 < 5
        assert "timed out after 100 ms" in sp.of("cmd_error")[0]["message"]
    finally:
        srv.close()


@test
def half_close_by_us_shows_fin_wait2():
    # The server reads to EOF and then keeps its side open.
    def hold(c):
        c.settimeout(10)
        while c.recv(100):
            pass
        time.sleep(1.5)

    srv = Server(hold)
    try:
        sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % srv.port,
                      "-e", "shutdown wr", "-e", "wait state:FIN_WAIT2 --timeout 5000",
                      "-e", "quit"])
        rc = sp.finish()
        assert rc == 0, (rc, sp.of("cmd_error"))
        states = [e["tcp"] for e in sp.of("state", 1)]
        assert "FIN_WAIT2" in states, states
        assert sp.of("shutdown", 1)[0]["how"] == "wr"
    finally:
        srv.close()


@test
def half_close_by_peer_shows_close_wait_and_we_can_still_send():
    sp = Sockpit(["--timeout", "20", "-e", "listen tcp:0", "-e", "wait accepted",
                  "-e", "wait 2 eof", "-e", "wait 2 state:CLOSE_WAIT --timeout 5000",
                  "-e", "send 2 bye", "-e", "close 2", "-e", "wait 2 closed", "-e", "quit"])
    try:
        s = peers.connect(sp.port())
        s.sendall(b"hi")
        s.shutdown(socket.SHUT_WR)
        got = peers.recv_all(s)
        assert got == b"bye", got
        assert sp.finish() == 0, sp.of("cmd_error")
        states = [e["tcp"] for e in sp.of("state", 2)]
        assert "CLOSE_WAIT" in states, states
        assert sp.of("eof", 2)
    finally:
        sp.kill()


@test
def omitted_id_follows_what_the_script_made_or_took():
    # listen + connect on ourselves: the accepted side (3) is newer than the
    # client (2), yet a bare send goes out through the client the script made;
    # after `wait accepted` the bare ID means the connection it took.
    path = os.path.join(tempfile.mkdtemp(prefix="sockpit-"), "s")
    sp = Sockpit(["--timeout", "20", "-e", "listen unix:" + path, "-e", "connect unix:" + path,
                  "-e", "send from-client", "-e", "wait 1 accepted", "-e", "expect from-client",
                  "-e", "send from-server", "-e", "expect 2 from-server", "-e", "quit"])
    try:
        assert sp.finish() == 0, sp.of("cmd_error")
        sent = {e["sock"]: e["text"] for e in sp.of("send")}
        assert sent == {2: "from-client", 3: "from-server"}, sent
    finally:
        sp.kill()


BAD_LINES = [
    ("frobnicate", "unknown command"),
    ("listen tcp:99999", "port"),
    ("connect tcp:[::1:80", "bad address"),
    ("send 7 hi", "no socket 7"),
    ("framing 1 len:u33", "bad framing"),
    ("recvsize 1 0", "out of range"),
    ("shutdown 1 sideways", "wr, rd or both"),
]


@test
def bad_lines_are_each_reported_and_change_nothing():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    lines = BAD_LINES + [("listen tcp:127.0.0.1:%d" % busy, "in use")]
    try:
        args = ["--timeout", "20", "--keep-going", "-e", "listen tcp:0"]
        for line, _ in lines:
            args += ["-e", line]
        args += ["-e", "list", "-e", "quit"]
        sp = Sockpit(args)
        rc = sp.finish()
        assert rc == 1, rc
        errs = sp.of("cmd_error")
        assert [e["line"] for e in errs] == [l for l, _ in lines], errs
        for e, (line, why) in zip(errs, lines):
            assert why.lower() in e["message"].lower(), (line, e["message"])
            assert e["message"].startswith("-e "), e["message"]
        # Nothing changed: one socket, listening, raw; list ran (keep-going).
        assert [e["sock"] for e in sp.of("listening")] == [1]
        out = [e["text"] for e in sp.events if e["ev"] == "output"]
        rows = [o for o in out if o.strip().startswith("1 ")]
        assert len(out) == 2 and len(rows) == 1 and " raw " in rows[0], out

        # Without --keep-going the first bad line ends the run.
        sp = Sockpit(["--timeout", "20", "-e", "listen tcp:0", "-e", "frobnicate",
                      "-e", "listen tcp:0"])
        assert sp.finish() == 1
        assert len(sp.of("listening")) == 1 and len(sp.of("cmd_error")) == 1
    finally:
        blocker.close()


@test
def log_writes_history_then_live_events_as_json_lines():
    tmp = tempfile.mkdtemp(prefix="sockpit-log-")
    path = os.path.join(tmp, "s.jsonl")
    try:
        sp = Sockpit(["--timeout", "20", "--quiet", "-e", "listen tcp:0 --framing line",
                      "-e", "wait accepted", "-e", "wait 2 msgs:1", "-e", "log 2 " + path,
                      "-e", "wait 2 msgs:2", "-e", "close 2", "-e", "wait 2 closed",
                      "-e", "quit"])
        s = peers.connect(sp.port())
        s.sendall(b"first\n")
        sp.wait_event(lambda e: e.get("ev") == "accepted")
        time.sleep(0.2)
        s.sendall(b"second\n")
        assert sp.finish() == 0, sp.of("cmd_error")
        s.close()
        assert not sp.of("msg"), "--quiet printed msg events"
        assert sp.of("summary", 2)
        with open(path) as f:
            evs = [json.loads(l) for l in f]
        msgs = [bytes.fromhex(e["hex"]) for e in evs if e["ev"] == "msg"]
        assert msgs == [b"first", b"second"], msgs
        assert evs[0]["ev"] == "accepted"
        assert evs[-1]["ev"] in ("closed", "summary")
        assert all(e["sock"] == 2 for e in evs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def nc_and_socat_peers():
    ran = False
    if shutil.which("nc"):
        ran = True
        sp = Sockpit(["--timeout", "20", "-e", "listen tcp:0 --framing line",
                      "-e", "wait accepted", "-e", "wait 2 eof", "-e", "quit"])
        port = sp.port()
        p = subprocess.run(["nc", "-N", "127.0.0.1", str(port)], input=b"one\ntwo\r\nthree\n",
                           capture_output=True, timeout=10)
        assert sp.finish() == 0
        assert [bytes.fromhex(e["hex"]) for e in sp.of("msg", 2)] == [b"one", b"two", b"three"], p
    if shutil.which("socat"):
        ran = True
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        srv = subprocess.Popen(["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port,
                                "SYSTEM:'tr a-z A-Z'"], stderr=subprocess.DEVNULL)
        try:
            sp = None
            for _ in range(50):  # socat needs a moment to listen
                sp = Sockpit(["--timeout", "20", "-e",
                              "connect tcp:127.0.0.1:%d --framing line" % port,
                              "-e", "send ping", "-e", "shutdown wr", "-e", "expect PING",
                              "-e", "quit"])
                rc = sp.finish()
                if rc == 0 or "refused" not in json.dumps(sp.events).lower():
                    break
                time.sleep(0.05)
            assert rc == 0, sp.events
        finally:
            srv.kill()
            srv.wait()
    if not ran:
        print("  (nc and socat not installed: skipped)")


if __name__ == "__main__":
    peers.main()
