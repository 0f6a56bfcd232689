"""unix-seqpacket: (issue 11): Unix SOCK_SEQPACKET connections against
Python peers using socket.SOCK_SEQPACKET. Each record is one recv; a record
longer than the recv size is shown cut with its real length (Linux returns
it to MSG_TRUNC); the flags are exactly what the kernel returned (Linux sets
no MSG_EOR on Unix sockets: Python's recvmsg sees the same); EOF, half-close
and a listener with several clients work as on streams."""

import os
import socket
import tempfile
import time

import peers
from peers import Sockpit, test


def tmp_path(name):
    d = tempfile.mkdtemp(prefix="sockpit-sq-")
    return d, os.path.join(d, name)


def client(path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    end = time.monotonic() + timeout
    while True:
        try:
            s.connect(path)
            return s
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def python_flags(records, size):
    """The msg_flags Python's recvmsg gets for the same records."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for r in records:
        a.send(r)
    out = [b.recvmsg(size)[2] for _ in records]
    a.close()
    b.close()
    return out


@test
def records_keep_their_boundaries_and_cut_ones_say_their_length():
    d, path = tmp_path("q.sock")
    records = [b"hello", b"world!!", b"", b"x" * 100, b"tail"]
    # The recv size is set once the connection exists; the notice of
    # `resume` says it is in force before the peer sends.
    sp = Sockpit(["--timeout", "20", "-e", "listen unix-seqpacket:%s" % path,
                  "-e", "wait accepted", "-e", "recvsize 2 16", "-e", "pause 2",
                  "-e", "resume 2", "-e", "wait eof", "-e", "quit"])
    try:
        sp.wait_event(lambda e: e["ev"] == "listening")
        c = client(path)
        sp.wait_event(lambda e: e["ev"] == "notice" and "resumed" in e["message"])
        for r in records:
            c.send(r)
        c.shutdown(socket.SHUT_WR)
        sp.wait_event(lambda e: e["ev"] == "eof" and e["sock"] == 2)
        assert sp.finish() == 0
        rs = sp.of("recv", 2)
        assert [bytes.fromhex(e["hex"]) for e in rs] == [r[:16] for r in records], rs
        assert [e["len"] for e in rs] == [len(r) for r in records], rs
        assert [e["truncated"] for e in rs] == [len(r) > 16 for r in records], rs
        want = python_flags(records, 16)
        got = [sum({"MSG_TRUNC": socket.MSG_TRUNC, "MSG_EOR": socket.MSG_EOR}[f]
                   for f in e["flags"]) for e in rs]
        assert got == want, (got, want)
        assert all("MSG_EOR" not in e["flags"] for e in rs)
        acc = sp.wait_event(lambda e: e["ev"] == "accepted")
        assert acc["kind"] == "unix-seqpacket", acc
        summ = sp.of("summary", 2)[0]
        assert summ["bytes_in"] == sum(min(len(r), 16) for r in records), summ
        c.close()
    finally:
        sp.kill()
        peers.shutil.rmtree(d, ignore_errors=True)


@test
def each_send_is_one_record_and_half_close_reaches_the_peer():
    d, path = tmp_path("srv.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen(1)
    sp = Sockpit(["--timeout", "20", "-e", "connect unix-seqpacket:%s" % path,
                  "-e", "send one", "-e", "send two words", "-e", "send --split 3 abcdefg",
                  "-e", "wait sent", "-e", "send --once --raw single", "-e", "shutdown wr",
                  "-e", "wait recv", "-e", "wait eof", "-e", "quit"])
    try:
        srv.settimeout(10)
        c, _ = srv.accept()
        c.settimeout(10)
        got = [c.recv(100) for _ in range(6)]
        assert got == [b"one", b"twowords", b"abc", b"def", b"g", b"single"], got
        assert c.recv(100) == b""  # our shutdown wr is the peer's EOF
        c.send(b"reply")
        c.shutdown(socket.SHUT_WR)
        assert sp.finish() == 0
        sends = sp.of("send", 1)
        assert [e["len"] for e in sends] == [3, 8, 7, 6], sends
        assert sends[2]["writes"] == 3 and sends[2]["calls"] == [3, 3, 1], sends[2]
        rs = sp.of("recv", 1)
        assert [bytes.fromhex(e["hex"]) for e in rs] == [b"reply"], rs
        assert sp.of("eof", 1) and sp.of("shutdown", 1)
        c.close()
    finally:
        sp.kill()
        srv.close()
        peers.shutil.rmtree(d, ignore_errors=True)


@test
def manual_recv_trunc_returns_the_real_length():
    name = "@sockpit-sq-%d" % os.getpid()
    sp = Sockpit(["--timeout", "20", "-e", "listen unix-seqpacket:%s" % name,
                  "-e", "wait accepted", "-e", "pause 2", "-e", "sleep 400",
                  "-e", "recv 2 4", "-e", "recv 2 4 --trunc", "-e", "recv 2 4 --peek --trunc",
                  "-e", "recv 2 64", "-e", "recv 2", "-e", "quit"])
    c = None
    try:
        sp.wait_event(lambda e: e["ev"] == "listening")
        c = client("\0" + name[1:])
        sp.wait_event(lambda e: e["ev"] == "notice" and "paused" in e["message"])
        c.send(b"abcdefgh")
        c.send(b"0123456789")
        c.send(b"peeked!")
        time.sleep(0.2)
        assert sp.finish() == 0
        rs = sp.of("recv", 2)
        assert [(e["len"], bytes.fromhex(e["hex"]), e["truncated"]) for e in rs] == [
            (4, b"abcd", True), (10, b"0123", True), (7, b"peek", True), (7, b"peeked!", False)
        ], rs
        errs = sp.of("error", 2)
        assert errs and errs[-1]["code"] == "EAGAIN", errs
    finally:
        if c:
            c.close()
        sp.kill()


@test
def listener_accepts_several_clients_and_peer_close_is_eof():
    d, path = tmp_path("many.sock")
    sp = Sockpit(["--timeout", "20", "-e", "listen unix-seqpacket:%s --echo" % path])
    clients = []
    try:
        sp.wait_event(lambda e: e["ev"] == "listening")
        for i in range(3):
            clients.append(client(path))
        for i, c in enumerate(clients):
            c.send(b"first %d" % i)
            c.send(b"second %d" % i)
        for i, c in enumerate(clients):
            assert c.recv(100) == b"first %d" % i
            assert c.recv(100) == b"second %d" % i
        clients[1].close()
        sp.wait_event(lambda e: e["ev"] == "eof" and e["sock"] == 3)
        assert len(sp.of("accepted")) == 3
        for i in (0, 2):
            clients[i].send(b"")  # an empty record is a record, not the end
            assert clients[i].recv(100) == b""
        sp.wait_event(lambda e: e["ev"] == "send" and e["sock"] == 4 and e["len"] == 0)
        assert not sp.of("eof", 2) and not sp.of("eof", 4)
        empties = [e for e in sp.of("recv") if e["len"] == 0]
        assert len(empties) == 2, empties
    finally:
        for c in clients:
            c.close()
        sp.kill()
        peers.shutil.rmtree(d, ignore_errors=True)


@test
def framing_applies_to_each_record_on_its_own():
    d, path = tmp_path("fr.sock")
    sp = Sockpit(["--timeout", "20", "-e", "listen unix-seqpacket:%s --framing line" % path,
                  "-e", "wait accepted", "-e", "wait eof", "-e", "quit"])
    try:
        sp.wait_event(lambda e: e["ev"] == "listening")
        c = client(path)
        c.send(b"a\nb")
        c.send(b"c\n")
        c.shutdown(socket.SHUT_WR)
        assert sp.finish() == 0
        msgs = sp.of("msg", 2)
        assert [m["cut"] for m in msgs] == ["", "datagram", ""], msgs
        # "b" ends with its record: a frame never spans two records.
        assert [bytes.fromhex(m["hex"]) for m in msgs] == [b"a", b"b", b"c"], msgs
        assert msgs[1]["truncated"] and not msgs[2]["truncated"], msgs
        c.close()
    finally:
        sp.kill()
        peers.shutil.rmtree(d, ignore_errors=True)


@test
def descriptors_and_credentials_ride_on_records_both_ways():
    # A peer may pass descriptors with any record: sockpit shows what each
    # one is and closes it; `send --fd` passes one the other way, and
    # passcred shows the sender's pid, as on unix: sockets.
    d, path = tmp_path("fd.sock")
    target = os.path.join(d, "shown.txt")
    with open(target, "w") as f:
        f.write("never read\n")
    os.chmod(target, 0o640)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen(1)
    sp = Sockpit(["--timeout", "20", "-e", "connect unix-seqpacket:%s" % path,
                  "-e", "send ready", "-e", "wait recv", "-e", "set passcred on",
                  "-e", "send got", "-e", "wait recv", "-e", "send --fd %s back" % target,
                  "-e", "wait eof", "-e", "quit"])
    try:
        srv.settimeout(10)
        c, _ = srv.accept()
        c.settimeout(10)
        assert c.recv(100) == b"ready"
        before = len(os.listdir("/proc/%d/fd" % sp.proc.pid))
        fd = os.open(target, os.O_RDONLY)
        socket.send_fds(c, [b"with fd"], [fd])
        os.close(fd)
        assert c.recv(100) == b"got"
        assert len(os.listdir("/proc/%d/fd" % sp.proc.pid)) == before
        c.send(b"creds")
        msg, fds, _, _ = socket.recv_fds(c, 100, 4)
        assert msg == b"back" and len(fds) == 1, (msg, fds)
        assert os.readlink("/proc/self/fd/%d" % fds[0]) == target
        os.close(fds[0])
        c.shutdown(socket.SHUT_WR)
        assert sp.finish() == 0, sp.events[-5:]
        first, second = sp.of("recv", 1)
        rights = [m for m in first["cmsg"] if m["name"] == "SCM_RIGHTS"]
        assert len(rights) == 1 and rights[0]["target"] == target, first
        assert rights[0]["mode"] == "0640" and rights[0]["closed"] is True, rights
        assert first["flags"] == [], first
        creds = [m for m in second["cmsg"] if m["name"] == "SCM_CREDENTIALS"]
        assert len(creds) == 1 and creds[0]["pid"] == os.getpid(), second
        sent = [m for e in sp.of("send", 1) for m in e.get("cmsg", [])]
        assert [m["name"] for m in sent] == ["SCM_RIGHTS"], sent
        c.close()
    finally:
        sp.kill()
        srv.close()
        peers.shutil.rmtree(d, ignore_errors=True)


@test
def bad_seqpacket_lines_are_refused_clearly():
    rc, out, err = peers.run(["--headless", "-e", "bind unix-seqpacket:/tmp/x"])
    assert rc != 0 and b"bind is for" in out + err, (out, err)
    rc, out, err = peers.run(["--headless", "-e", "connect unix-seqpacket:"])
    assert rc != 0 and b"empty Unix socket path" in out + err, (out, err)
    rc, out, err = peers.run(["--headless", "-e",
                              "connect unix-seqpacket:/nonexistent/sockpit-none.sock"])
    assert rc != 0 and b"ENOENT" in out + err, (out, err)


if __name__ == "__main__":
    peers.main()
