"""Teardown told as the kernel did it (issue 9, items 1-6 and 16): a reset
that arrives with data is a reset, not a FIN; every byte the kernel took is
a `send`; a FIN queued behind unsent bytes or behind our own write queue says
so; close() with unread data says it sent RST; states do not outlive their
cause; echo and `listen --close-on-eof` close after the peer's EOF. Each test
compares sockpit with what a Python peer, `ss` or /proc saw."""

import os
import re
import socket
import struct
import subprocess
import threading
import time

import peers
from peers import Sockpit, test


def rst_close(s):
    """close() with SO_LINGER 0: the kernel sends RST instead of FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def python_view_of_data_then_rst(data):
    """What a Python server reads when a client sends data and resets."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    c = socket.create_connection(lsock.getsockname())
    a, _ = lsock.accept()
    c.sendall(data)
    rst_close(c)
    time.sleep(0.05)
    seen = []
    a.settimeout(5)
    try:
        while True:
            b = a.recv(65536)
            seen.append(("data", b) if b else ("eof", None))
            if not b:
                break
    except ConnectionResetError:
        seen.append(("error", "ECONNRESET"))
    a.close()
    lsock.close()
    return seen


def sockpit_view(sp, sock):
    """The same sequence from sockpit's events for one socket."""
    seen = []
    for e in sp.events:
        if e.get("sock") != sock:
            continue
        if e["ev"] == "recv":
            if seen and seen[-1][0] == "data":
                seen[-1] = ("data", seen[-1][1] + bytes.fromhex(e["hex"]))
            else:
                seen.append(("data", bytes.fromhex(e["hex"])))
        elif e["ev"] == "eof":
            seen.append(("eof", None))
        elif e["ev"] == "error":
            seen.append(("error", e["code"]))
    return seen


@test
def reset_after_data_is_econnreset_not_fin_and_the_socket_closes():
    # Item 1. Python on the same kernel: the data, then ECONNRESET.
    assert python_view_of_data_then_rst(b"bye") == [("data", b"bye"), ("error", "ECONNRESET")]
    cycles = 1000
    sp = Sockpit(["--quiet", "--timeout", "60", "-e", "listen tcp:0"])
    try:
        port = sp.port()
        base = fd_count(sp.proc.pid)
        for _ in range(cycles):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"bye")
            rst_close(c)
        sp.wait_event(lambda e: e["ev"] == "closed" and e["sock"] == cycles + 1, timeout=30)
        end = time.monotonic() + 10
        while len(sp.of("closed")) < cycles and time.monotonic() < end:
            time.sleep(0.05)
        closed = sp.of("closed")
        assert len(closed) == cycles, "%d of %d connections closed" % (len(closed), cycles)
        assert all(e["reason"] == "peer reset" for e in closed), \
            {e["reason"] for e in closed}
        assert not sp.of("eof"), "a reset was shown as FIN: %r" % sp.of("eof")[:3]
        errs = sp.of("error")
        assert len(errs) == cycles and all(e["code"] == "ECONNRESET" for e in errs), errs[:3]
        assert sum(e["bytes_in"] for e in sp.of("summary")) == 3 * cycles
        left = fd_count(sp.proc.pid) - base
        assert left <= 2, "%d descriptors left open after %d resets" % (left, cycles)
    finally:
        sp.kill()


@test
def reset_after_data_while_paused_is_econnreset_after_resume():
    # Item 1, paused: the RST waits in the kernel behind the data until the
    # socket reads again.
    sp = Sockpit(["--timeout", "20", "-e", "listen tcp:0", "-e", "wait accepted",
                  "-e", "pause", "-e", "sleep 400", "-e", "resume", "-e", "wait closed",
                  "-e", "quit"])
    c = socket.create_connection(("127.0.0.1", sp.port()), timeout=5)
    sp.wait_event(lambda e: e["ev"] == "notice" and e.get("sock") == 2
                  and "paused" in e["message"])
    c.sendall(b"bye")
    rst_close(c)
    assert sp.finish() == 0, (sp.of("cmd_error"), sp.events[-6:])
    assert sockpit_view(sp, 2) == python_view_of_data_then_rst(b"bye"), sp.events
    assert [e["reason"] for e in sp.of("closed", 2)] == ["peer reset"]


def python_server_reading_all(result):
    """A server that reads everything its one client sends, to EOF or reset."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def run():
        a, _ = lsock.accept()
        a.settimeout(10)
        got = b""
        try:
            while True:
                b = a.recv(65536)
                if not b:
                    result["end"] = "eof"
                    break
                got += b
        except ConnectionResetError:
            result["end"] = "ECONNRESET"
        result["got"] = got
        a.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return lsock, t


@test
def send_before_reset_is_a_send_event_and_counted():
    # Item 2: what the kernel accepted before the reset reached the peer.
    result = {}
    lsock, t = python_server_reading_all(result)
    try:
        port = lsock.getsockname()[1]
        sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port,
                      "-e", "send bye", "-e", "reset", "-e", "quit"])
        assert sp.finish() == 0
        t.join(10)
        assert result.get("got") == b"bye", result
        sends = sp.of("send", 1)
        assert [bytes.fromhex(e["hex"]) for e in sends] == [b"bye"], sp.events
        summ = sp.of("summary", 1)
        assert summ and summ[0]["bytes_out"] == len(result["got"]), summ
        names = [e["ev"] for e in sp.events if e.get("sock") == 1]
        assert names.index("send") < names.index("closed"), names
    finally:
        lsock.close()


@test
def reset_during_a_large_send_reports_what_the_kernel_took():
    # Item 2, cut short: the peer does not read, so only part of 4 MiB
    # reached the kernel before the reset; that part is the send event.
    import tempfile
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    tmp = tempfile.NamedTemporaryFile(delete=False)
    tmp.write(os.urandom(4 << 20))
    tmp.close()
    try:
        port = lsock.getsockname()[1]
        sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port,
                      "-e", "send --file %s" % tmp.name, "-e", "sleep 300", "-e", "reset",
                      "-e", "quit"])
        a, _ = lsock.accept()
        assert sp.finish() == 0
        a.settimeout(5)
        got = 0
        try:
            while True:
                b = a.recv(1 << 20)
                if not b:
                    break
                got += len(b)
        except ConnectionResetError:
            pass
        a.close()
        sends = sp.of("send", 1)
        assert len(sends) == 1, sp.events
        took = sends[0]["len"]
        assert 0 < took < 4 << 20, took
        assert sp.of("summary", 1)[0]["bytes_out"] == took
        assert got <= took, (got, took)
        notes = [e["message"] for e in sp.of("notice", 1)]
        assert ("send #1: the kernel took %d of its 4194304 bytes before the close; the rest "
                "was dropped" % took) in notes, notes
    finally:
        os.unlink(tmp.name)
        lsock.close()


@test
def close_with_unread_data_says_the_kernel_sent_rst():
    # Item 5: the closing side is told; the Python peer gets ECONNRESET.
    result = {}
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    try:
        sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port,
                      "-e", "pause", "-e", "sleep 300", "-e", "close", "-e", "quit"])
        a, _ = lsock.accept()
        sp.wait_event(lambda e: e["ev"] == "notice" and "paused" in e["message"])
        a.sendall(b"unread")
        a.settimeout(10)
        try:
            while a.recv(100):
                pass
            result["end"] = "eof"
        except ConnectionResetError:
            result["end"] = "ECONNRESET"
        a.close()
        assert sp.finish() == 0
        assert result["end"] == "ECONNRESET"
        notes = [e["message"] for e in sp.of("notice", 1)]
        assert "closed with 6 unread bytes: the kernel sent RST instead of FIN" in notes, notes
    finally:
        lsock.close()


def ss_states(port):
    """{state: count} of the kernel's TCP sockets whose local port is port."""
    out = subprocess.run(["ss", "-tanH", "sport = :%d" % port], capture_output=True,
                         text=True, timeout=10).stdout
    states = {}
    for line in out.splitlines():
        st = line.split()[0]
        states[st] = states.get(st, 0) + 1
    return states


def echo_clients(port, n, batch, payload, timeout):
    """n clients in batches: each sends payload, shuts down writing and reads
    to the end. Returns how many got exactly their payload back and then EOF."""
    good = 0
    for start in range(0, n, batch):
        socks = [socket.create_connection(("127.0.0.1", port), timeout=timeout)
                 for _ in range(min(batch, n - start))]
        for c in socks:
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
        for c in socks:
            got = b""
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        good += got == payload
                        break
                    got += b
            except socket.timeout:
                pass
            c.close()
        if good < start + len(socks):
            break
    return good


def sanitized():
    """Is the binary under test the ASan build (slower: fewer clients)?"""
    with open(peers.SOCKPIT, "rb") as f:
        return b"__asan_init" in f.read()


@test
def echo_server_echoes_the_eof_and_leaves_no_close_wait():
    # Item 16: every client gets its bytes back and then the server's FIN;
    # nothing is left in CLOSE_WAIT and no descriptor stays open. The ASan
    # build checks memory with fewer clients, to keep `make test` quick.
    n = 2000 if sanitized() else 10000
    sp = Sockpit(["--quiet", "--timeout", "120", "-e", "listen tcp:0 --echo"])
    try:
        port = sp.port()
        base = fd_count(sp.proc.pid)
        assert echo_clients(port, 1, 1, b"ping\n", 2.0) == 1, "no EOF after the echo"
        good = 1 + echo_clients(port, n - 1, 100, b"ping\n", 2.0)
        assert good == n, "%d of %d clients got their echo and then EOF" % (good, n)
        end = time.monotonic() + 20
        while len(sp.of("closed")) < n and time.monotonic() < end:
            time.sleep(0.05)
        closed = sp.of("closed")
        assert len(closed) == n, len(closed)
        assert {e["reason"] for e in closed} == {"closed after the peer's EOF"}
        states = ss_states(port)
        assert "CLOSE-WAIT" not in states, states
        left = fd_count(sp.proc.pid) - base
        assert left <= 2, "%d descriptors left after %d echo clients" % (left, n)
    finally:
        sp.kill()


@test
def echo_delivers_what_is_queued_before_its_fin():
    # Item 16: "after the queue drained": a client that sends 1 MiB and
    # shuts down before reading still gets all of it back, then EOF.
    sp = Sockpit(["--quiet", "--timeout", "30", "-e", "listen tcp:0 --echo"])
    try:
        payload = os.urandom(1 << 20)
        c = socket.create_connection(("127.0.0.1", sp.port()), timeout=10)
        t = threading.Thread(target=lambda: (c.sendall(payload), c.shutdown(socket.SHUT_WR)),
                             daemon=True)
        t.start()
        got = peers.recv_all(c, timeout=10)
        t.join(10)
        c.close()
        assert got == payload, (len(got), len(payload))
        ev = sp.wait_event(lambda e: e["ev"] == "closed" and e["sock"] == 2)
        assert ev["reason"] == "closed after the peer's EOF"
        summ = sp.wait_event(lambda e: e["ev"] == "summary" and e["sock"] == 2)
        assert summ["bytes_out"] == len(payload)
    finally:
        sp.kill()


@test
def close_on_eof_closes_other_listeners_keep_half_close():
    # Item 16: `listen --close-on-eof` closes after the peer's FIN; a plain
    # listener keeps today's half-close (CLOSE_WAIT, as the kernel says).
    sp = Sockpit(["--timeout", "30", "-e", "listen tcp:0 --close-on-eof", "-e", "listen tcp:0"])
    try:
        p1, p2 = sp.port(1), sp.port(2)
        a = socket.create_connection(("127.0.0.1", p1), timeout=5)
        a.sendall(b"hello")
        a.shutdown(socket.SHUT_WR)
        assert peers.recv_all(a, timeout=5) == b""  # returned: the server's FIN came
        a.close()
        ev = sp.wait_event(lambda e: e["ev"] == "closed" and e["sock"] == 3)
        assert ev["reason"] == "closed after the peer's EOF"
        assert bytes.fromhex(sp.of("recv", 3)[0]["hex"]) == b"hello"

        b = socket.create_connection(("127.0.0.1", p2), timeout=5)
        b.sendall(b"hello")
        b.shutdown(socket.SHUT_WR)
        sp.wait_event(lambda e: e["ev"] == "eof" and e["sock"] == 4)
        b.settimeout(0.5)
        try:
            b.recv(10)
            raise AssertionError("a plain listener's connection sent FIN")
        except socket.timeout:
            pass
        assert ss_states(p2).get("CLOSE-WAIT") == 1, ss_states(p2)
        assert not sp.of("closed", 4)
        b.close()
    finally:
        sp.kill()


def ss_sendq(lport, rport):
    """(state, Send-Q) of the kernel's connection from lport to rport, or None."""
    out = subprocess.run(["ss", "-tanH", "sport = :%d and dport = :%d" % (lport, rport)],
                         capture_output=True, text=True, timeout=10).stdout.split()
    return (out[0], int(out[2])) if out else None


def ss_recvq(lport, rport):
    out = subprocess.run(["ss", "-tanH", "sport = :%d and dport = :%d" % (lport, rport)],
                         capture_output=True, text=True, timeout=10).stdout.split()
    return int(out[1])


def quiet_server(rcvbuf=65536):
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    return lsock


def read_to_eof(a, timeout=10):
    a.settimeout(timeout)
    got = 0
    while True:
        b = a.recv(1 << 20)
        if not b:
            return got
        got += len(b)


@test
def shutdown_behind_our_write_queue_says_it_waits_and_for_how_much():
    # Item 4: 4 MiB --file to a peer that does not read, then `shutdown wr`:
    # the FIN waits behind what the kernel has not taken yet.
    import tempfile
    lsock = quiet_server()
    tmp = tempfile.NamedTemporaryFile(delete=False)
    tmp.write(os.urandom(4 << 20))
    tmp.close()
    try:
        port = lsock.getsockname()[1]
        sp = Sockpit(["--timeout", "30", "-e", "connect tcp:127.0.0.1:%d" % port,
                      "-e", "send --file %s" % tmp.name, "-e", "sleep 200",
                      "-e", "shutdown wr", "-e", "wait eof --timeout 20000", "-e", "quit"])
        a, _ = lsock.accept()
        note = sp.wait_event(lambda e: e["ev"] == "notice" and "shutdown" in e["message"])
        lport = int(sp.of("connected", 1)[0]["local"].rsplit(":", 1)[1])
        state, sendq = ss_sendq(lport, port)
        recvq = ss_recvq(port, lport)
        # What neither kernel side holds yet; bytes only move into the kernel,
        # so now it is at most what the notice said a moment ago.
        waiting = (4 << 20) - sendq - recvq
        m = re.match(r"shutdown\(SHUT_WR\) waits for (\d+) bytes still in our write queue: "
                     r"the FIN follows them$", note["message"])
        assert m and waiting <= int(m.group(1)) < 4 << 20 and waiting > 0, (note, waiting)
        assert state == "ESTAB", state  # no FIN yet
        assert not sp.of("shutdown", 1)
        got = read_to_eof(a)
        sh = sp.wait_event(lambda e: e["ev"] == "shutdown" and e["sock"] == 1)
        assert sh["how"] == "wr"
        assert got == 4 << 20, got
        a.close()
        assert sp.finish() == 0, sp.of("cmd_error")
    finally:
        os.unlink(tmp.name)
        lsock.close()


@test
def fin_queued_behind_unsent_bytes_is_said_and_when_it_left():
    # Item 3: our queue is empty (`wait sent`) but the kernel still holds
    # unsent bytes: the FIN waits behind them, as `ss` shows (FIN-WAIT-1).
    lsock = quiet_server()
    try:
        port = lsock.getsockname()[1]
        sp = Sockpit(["--timeout", "30", "-e", "connect tcp:127.0.0.1:%d" % port,
                      "-e", "send --repeat 4 %s" % ("x" * 60000), "-e", "wait sent",
                      "-e", "sleep 200", "-e", "shutdown wr", "-e", "wait eof --timeout 20000",
                      "-e", "quit"])
        a, _ = lsock.accept()
        sh = sp.wait_event(lambda e: e["ev"] == "shutdown" and e["sock"] == 1)
        lport = int(sp.of("connected", 1)[0]["local"].rsplit(":", 1)[1])
        state, sendq = ss_sendq(lport, port)
        assert state == "FIN-WAIT-1", state
        # Send-Q counts the FIN too; acknowledgements only make it shrink.
        assert 0 < sendq - 1 <= sh["unsent"] <= 240000, (sh, sendq)
        notes = [e["message"] for e in sp.of("notice", 1)]
        assert ("shutdown(SHUT_WR) called: the FIN is queued behind %d unsent bytes (SIOCOUTQ)"
                % sh["unsent"]) in notes, notes
        assert not any(m.startswith("the FIN left") for m in notes)
        assert read_to_eof(a) == 240000
        sp.wait_event(lambda e: e["ev"] == "notice" and e["message"].startswith("the FIN left"))
        sp.wait_event(lambda e: e["ev"] == "state" and e["tcp"] == "FIN_WAIT2")
        a.close()
        assert sp.finish() == 0, sp.of("cmd_error")
    finally:
        lsock.close()


@test
def closed_listener_is_not_listen_and_failed_connect_is_not_syn_sent():
    # Item 6: after close the kernel has nothing; `list` must not say LISTEN.
    sp = Sockpit(["--timeout", "10", "-e", "listen tcp:0", "-e", "close 1", "-e", "sleep 50",
                  "-e", "list", "-e", "quit"])
    port = sp.port()
    assert sp.finish() == 0
    assert ss_states(port) == {}
    rows = [e["text"] for e in sp.events if e["ev"] == "output"]
    row = [r for r in rows if r.split()[0] == "1"][0]
    assert "LISTEN" not in row and "gone" in row, rows
    assert sp.of("state", 1)[-1]["tcp"] == "gone"


@test
def paused_socket_shows_the_fin_waiting_in_the_kernel():
    # Item 6: paused, the peer's FIN sits in the kernel (CLOSE_WAIT, as ss
    # says) behind unread bytes; sockpit says so, and reads both on resume.
    sp = Sockpit(["--timeout", "20", "-e", "listen tcp:0", "-e", "wait accepted", "-e", "pause",
                  "-e", "sleep 600", "-e", "list", "-e", "resume", "-e", "wait eof",
                  "-e", "quit"])
    port = sp.port()
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    sp.wait_event(lambda e: e["ev"] == "notice" and "paused" in e["message"])
    c.sendall(b"abc")
    c.shutdown(socket.SHUT_WR)
    note = sp.wait_event(lambda e: e["ev"] == "notice" and "FIN" in e["message"], timeout=5)
    assert note["message"] == ("the peer's FIN waits in the kernel behind 3 unread bytes "
                               "(CLOSE_WAIT): recv() returns 0 after them"), note
    assert ss_states(port).get("CLOSE-WAIT") == 1, ss_states(port)
    assert sp.finish() == 0, sp.of("cmd_error")
    rows = [e["text"] for e in sp.events if e["ev"] == "output"]
    row = [r for r in rows if r.split()[0] == "2<1"][0]
    assert "peer-fin-waiting" in row and "CLOSE_WAIT" in row, rows
    assert sockpit_view(sp, 2) == [("data", b"abc"), ("eof", None)]
    c.close()


if __name__ == "__main__":
    peers.main()
