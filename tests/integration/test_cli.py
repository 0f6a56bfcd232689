"""The program itself: options and exit codes (DESIGN §5), help generated
from the command table and the README reference kept in step with it, JSON
valid for every byte value, text output free of control bytes, scripts from
stdin, --timeout, and output to a regular file."""

import json
import os
import re
import socket
import subprocess
import tempfile
import time

import peers
from peers import Sockpit, run, test


@test
def help_version_and_usage_errors():
    rc, out, err = run(["--help"])
    assert rc == 0 and b"usage: sockpit" in out
    for name in (b"listen", b"connect", b"send", b"expect", b"wait", b"shutdown", b"log"):
        assert re.search(rb"\n  " + name + rb" ", out), name
    rc, out, _ = run(["--version"])
    assert rc == 0 and out.startswith(b"sockpit ")
    for bad in (["--bogus"], ["-e"], ["--timeout", "soon", "-e", "help"], ["--script"],
                ["--script", "/nonexistent/x.sp"], ["--lab", "nosuch"],
                ["--headless", "--demo"]):
        rc, out, err = run(bad)
        assert rc == 2, (bad, rc, err)
        assert err.startswith(b"sockpit: "), err
    rc, out, _ = run(["--lab", "list"])
    assert rc == 0 and b"split " in out


@test
def usage_errors_never_echo_raw_argv_bytes():
    """Issue 9 item 14: a hostile argument (a pasted escape sequence, a
    script path or lesson name with control bytes) is shown escaped, never
    raw: every string sockpit prints goes through the safe renderer."""
    osc = b"\x1b]0;pwned\x07"
    csi = b"\x1b[2J\x9b31m\x08\x7f"
    cases = [
        [b"--bogus" + osc],
        [b"--version=" + osc],
        [b"-" + b"\x1b"],
        [b"--script", b"/nonexistent/" + osc + b".sp"],
        [b"--lab", b"no" + osc + csi],
        [b"--timeout", b"5" + osc, b"-e", b"help"],
        [b"stray" + csi],
    ]
    for args in cases:
        for env_lang in ("C.UTF-8", "C"):
            env = dict(os.environ, LC_ALL=env_lang)
            p = subprocess.run([peers.SOCKPIT] + args, capture_output=True, timeout=10, env=env)
            assert p.returncode == 2, (args, p.returncode, p.stderr)
            body = p.stderr.rstrip(b"\n")
            assert p.stderr.startswith(b"sockpit: "), (args, p.stderr)
            assert not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", body), (args, p.stderr)
            assert b"\x9b" not in body and b"\xc2\x9b" not in body, (args, p.stderr)
            if b"\x1b" in b"".join(args):
                assert b"\\e" in p.stderr or b"\\x1b" in p.stderr, (args, p.stderr)


@test
def headless_is_automatic_and_ends_when_nothing_is_left():
    # stdout is a pipe here: no --headless needed; no sockets, so it ends.
    rc, out, err = run(["-e", "help send"], timeout=10)
    assert rc == 0, err
    assert out.startswith(b"send [ID] DATA..."), out[:80]
    rc, out, err = run(["-e", "listen tcp:0", "-e", "close"], timeout=10)
    assert rc == 0 and b"closed" in out, out


@test
def readme_command_reference_matches_the_table():
    rc, gen, _ = run(["--help-commands-md"])
    assert rc == 0
    with open(os.path.join(peers.ROOT, "README.md"), "rb") as f:
        readme = f.read()
    m = re.search(rb"<!-- commands:begin -->\n(.*?)<!-- commands:end -->", readme, re.S)
    assert m, "README lacks the generated command reference markers"
    assert m.group(1) == gen, ("README command reference is stale: regenerate it with "
                               "`sockpit --help-commands-md`")


@test
def json_is_valid_for_every_byte_value():
    payload = bytes(range(256)) * 4 + "é→😀\u202e".encode() + b"\xc0\xaf\xed\xa0\x80\xf4\x90"
    sp = Sockpit(["--timeout", "10", "-e", "listen tcp:0", "-e", "wait accepted",
                  "-e", "wait 2 eof", "-e", "send 2 \\x00\\xff\\e[31m\\\"\\\\", "-e", "quit"])
    s = peers.connect(sp.port())
    for i in range(0, len(payload), 7):
        s.sendall(payload[i:i + 7])
    s.shutdown(socket.SHUT_WR)
    assert sp.finish() == 0, sp.of("cmd_error")
    s.close()
    assert not sp.bad_lines, sp.bad_lines[:3]
    for raw in sp.lines:  # each line is pure, valid UTF-8 JSON with no raw control bytes
        raw.decode("utf-8")
        assert not re.search(rb"[\x00-\x1f\x7f]", raw.rstrip(b"\n")), raw
    got = b"".join(bytes.fromhex(e["hex"]) for e in sp.of("recv", 2))
    assert got == payload
    for e in sp.of("recv", 2):
        assert e["hex"] == e["hex"].lower()
        for ch in e["text"]:
            assert ord(ch) >= 0x20 and ord(ch) != 0x7f and not (0x80 <= ord(ch) <= 0x9f)
            assert ch not in "\u202e\u200b\u2066"
    sent = sp.of("send", 2)[0]
    assert bytes.fromhex(sent["hex"]) == b"\x00\xff\x1b[31m\"\\"


@test
def text_output_never_passes_control_bytes():
    sp = Sockpit(["--timeout", "10", "-e", "listen tcp:0", "-e", "wait accepted",
                  "-e", "wait 2 eof", "-e", "quit"], json_mode=False)
    time.sleep(0.2)
    port = None
    end = time.monotonic() + 5
    while port is None and time.monotonic() < end:
        for l in sp.lines:
            m = re.search(rb"listening tcp-listen 127\.0\.0\.1:(\d+)", l)
            if m:
                port = int(m.group(1))
        time.sleep(0.02)
    assert port
    s = peers.connect(port)
    s.sendall(b"\x1b]0;owned\x07\x1b[2J\x9b\xe2\x80\xaehello\r\n" + bytes(range(256)))
    s.shutdown(socket.SHUT_WR)
    assert sp.finish() == 0
    s.close()
    out = b"".join(sp.lines)
    assert b"recv #1" in out
    body = out.replace(b"\n", b"")
    assert not re.search(rb"[\x00-\x1f\x7f]", body), body[:200]
    assert b"\xe2\x80\xae" not in body and b"\x9b" not in body.replace(b"\\x9b", b"")


@test
def script_from_stdin_with_comments():
    script = b"# comment\n\nlisten tcp:0   # trailing comment\nlist\nquit\n"
    rc, out, err = run(["--json", "--script", "-"], stdin_data=script, timeout=10)
    assert rc == 0, err
    evs = [json.loads(l) for l in out.splitlines()]
    assert [e["ev"] for e in evs if e["ev"] in ("listening", "output", "closed")][:1] == \
        ["listening"]
    assert any(e["ev"] == "output" and "tcp-listen" in e["text"] for e in evs)
    rc, out, err = run(["--script", "-"], stdin_data=b"listen tcp:0\nbogus\n", timeout=10)
    assert rc == 1
    assert b"stdin:2" in out + err


@test
def timeout_exits_1_and_quiet_drops_data_events():
    t0 = time.monotonic()
    rc, out, err = run(["--timeout", "0.3", "-e", "listen tcp:0"], timeout=10)
    assert rc == 1 and time.monotonic() - t0 < 5
    assert b"timeout" in err
    sp = Sockpit(["--quiet", "--timeout", "10", "-e", "listen tcp:0", "-e", "wait accepted",
                  "-e", "wait 2 eof", "-e", "quit"])
    s = peers.connect(sp.port())
    s.sendall(b"x" * 100000)
    s.shutdown(socket.SHUT_WR)
    assert sp.finish() == 0
    s.close()
    kinds = {e["ev"] for e in sp.events}
    assert not kinds & {"recv", "msg", "send"}, kinds
    summ = sp.of("summary", 2)
    assert summ and summ[0]["bytes_in"] == 100000, summ


@test
def output_to_a_regular_file_is_complete_and_written_in_blocks():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.jsonl")
        with open(path, "wb") as f:
            p = subprocess.Popen([peers.SOCKPIT, "--json", "--timeout", "20", "-e",
                                  "listen tcp:0 --framing line", "-e", "wait accepted",
                                  "-e", "wait 2 eof", "-e", "quit"], stdout=f,
                                 stderr=subprocess.PIPE)
            port = None
            end = time.monotonic() + 5
            # The listening event may still sit in the block buffer: find the
            # port from the kernel instead (ss-free: try our own /proc view).
            while port is None and time.monotonic() < end:
                port = listening_port(p.pid)
                time.sleep(0.02)
            assert port, "no listening socket found"
            s = peers.connect(port)
            for i in range(3000):
                s.sendall(b"line %d\n" % i)
            s.shutdown(socket.SHUT_WR)
            rc = p.wait(timeout=20)
            s.close()
        assert rc == 0, p.stderr.read()
        with open(path) as f:
            evs = [json.loads(l) for l in f]
        msgs = [e for e in evs if e["ev"] == "msg"]
        assert len(msgs) == 3000 and bytes.fromhex(msgs[-1]["hex"]) == b"line 2999"


@test
def a_fifo_for_send_file_or_log_is_an_error_not_a_hang():
    # open(2) of a FIFO nobody holds open blocks: the loop, --timeout and
    # SIGTERM with it. It must fail at once instead.
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        name = "unix:@sp-fifo-%d" % os.getpid()
        t0 = time.monotonic()
        rc, out, err = run(["--keep-going", "--timeout", "5", "-e", "listen " + name, "-e",
                            "connect " + name, "-e", "send 2 --file " + fifo, "-e",
                            "log 2 " + fifo, "-e", "send 2 after", "-e", "quit"], timeout=15)
        assert time.monotonic() - t0 < 4, "blocked on the FIFO"
        assert rc == 1, (rc, out, err)
        errors = [l for l in out.splitlines() if b"cmd_error" in l]
        assert len(errors) == 2, out
        assert b"send 2 --file" in errors[0] and b"log 2" in errors[1], errors
        assert b"send #1 5 bytes" in out, out



def flood_into_a_stalled_stdout(extra, signal_it):
    """Runs sockpit against a flooding peer with stdout a pipe nobody reads;
    returns (exit status or None if it hung, seconds from the stall)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    r, w = os.pipe()
    p = subprocess.Popen([peers.SOCKPIT, "--json"] + extra +
                         ["-e", "connect tcp:127.0.0.1:%d" % port, "-e", "wait 1 eof"],
                         stdout=w, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        c, _ = srv.accept()
        c.setblocking(False)
        chunk = b"z" * 65536
        end = time.monotonic() + 2
        while time.monotonic() < end:  # floods until sockpit stops reading
            try:
                c.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        t0 = time.monotonic()
        if signal_it:
            p.send_signal(15)
        try:
            rc = p.wait(timeout=8)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(r)
        srv.close()


@test
def sigterm_and_timeout_end_a_run_whose_stdout_nobody_reads():
    # A reader that stops reading (a paused pager, a stuck pipeline) fills
    # the pipe; the events still to print must not make sockpit deaf to
    # SIGTERM or --timeout.
    rc, took = flood_into_a_stalled_stdout(["--timeout", "30"], True)
    assert rc is not None, "sockpit ignored SIGTERM while its stdout was full"
    assert rc == 1 and took < 3, (rc, took)
    rc, took = flood_into_a_stalled_stdout(["--timeout", "4"], False)
    assert rc is not None, "sockpit ignored --timeout while its stdout was full"
    assert rc == 1 and took < 5, (rc, took)


def listening_port(pid):
    """The TCP port process pid listens on, from /proc (no ss needed)."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if t.startswith("socket:["):
                inodes.add(t[8:-1])
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and parts[9] in inodes:
                    return int(parts[1].split(":")[1], 16)
    except OSError:
        return None
    return None


if __name__ == "__main__":
    peers.main()
