"""What sockpit says about data must be what the kernel did (issue 9, Data):
hex words are data, never a socket ID (checked against the bytes a Python
peer received); each datagram is framed on its own; each datagram send has
its own outcome (a Python receiver counts what arrived); a frame_error
names its figures and does not change what `send` writes; a framing change
inside a message says so."""

import os
import socket
import threading
import time

import peers
from peers import Server, Sockpit, test


class Collector:
    """A TCP server that keeps every byte of its one connection until EOF."""

    def __init__(self):
        self.data = b""
        self.done = threading.Event()
        self.srv = Server(self._handle)
        self.port = self.srv.port

    def _handle(self, c):
        self.data = peers.recv_all(c, timeout=15)
        self.done.set()

    def close(self):
        self.srv.close()


@test
def hex_words_are_data_not_a_socket_id():
    col = Collector()
    try:
        script = ("connect tcp:127.0.0.1:%d\n"
                  "send --hex 00 05 68 65 6c 6c 6f\n"  # was: no socket 00
                  "send --raw --hex 01 00 02 41 42\n"  # was: 4 bytes to socket 1
                  "send 1 --hex 43\n"                  # the ID goes before --hex
                  "wait sent\n"
                  "close\n") % col.port
        sp = Sockpit(["--timeout", "20"], script=script)
        rc = sp.finish()
        assert rc == 0, "rc %d: %r" % (rc, sp.of("cmd_error"))
        assert col.done.wait(10)
        assert col.data == b"\x00\x05hello\x01\x00\x02AB\x43", col.data
    finally:
        col.close()


@test
def hex_before_data_that_is_no_id_is_refused():
    col = Collector()
    try:
        script = ("connect tcp:127.0.0.1:%d\n"
                  "send 41 42 --hex\n"
                  "send 01 --raw --hex 02\n"
                  "close\n") % col.port
        sp = Sockpit(["--timeout", "20", "--keep-going"], script=script)
        rc = sp.finish()
        assert rc == 1, rc
        errs = sp.of("cmd_error")
        assert len(errs) == 2, errs
        for e in errs:
            assert "before --hex" in e["message"] or "after --hex" in e["message"], e
        assert col.done.wait(10)
        assert col.data == b"", col.data
    finally:
        col.close()


def send_dgrams(family, addr, dgrams):
    """Each datagram from its own socket: two senders, as in the issue."""
    for d in dgrams:
        s = socket.socket(family, socket.SOCK_DGRAM)
        try:
            s.sendto(d, addr)
        finally:
            s.close()
        time.sleep(0.02)


def dgram_run(kind, spec, dgrams, nmsgs):
    """A sockpit datagram socket under spec receives dgrams from Python
    senders; returns its msg events (JSON) once nmsgs arrived."""
    if kind == "udp":
        bind = "udp:127.0.0.1:0"
    else:
        name = "sockpit-it-%d-%s" % (os.getpid(), spec.replace(":", "-"))
        bind = "unix-dgram:@" + name
    sp = Sockpit(["--timeout", "20", "-e", "bind %s --framing %s" % (bind, spec),
                  "-e", "wait bytes:%d --timeout 5000" % sum(len(d) for d in dgrams),
                  "-e", "sleep 100", "-e", "quit"])
    try:
        if kind == "udp":
            port = sp.port()
            send_dgrams(socket.AF_INET, ("127.0.0.1", port), dgrams)
        else:
            sp.wait_event(lambda e: e.get("ev") == "bound")
            send_dgrams(socket.AF_UNIX, "\0" + name, dgrams)
        assert sp.finish() == 0, sp.of("cmd_error")
    finally:
        sp.kill()
    recvs = sp.of("recv", 1)
    assert len(recvs) == len(dgrams), recvs
    return sp.of("msg", 1), sp.of("frame_error", 1)


@test
def each_datagram_is_framed_on_its_own():
    for kind in ("udp", "unix-dgram"):
        msgs, errs = dgram_run(kind, "line", [b"abc", b"def\n"], 2)
        got = [(bytes.fromhex(m["hex"]), m["truncated"], m.get("cut")) for m in msgs]
        assert got == [(b"abc", True, "datagram"), (b"def", False, "")], (kind, got)
        assert not errs, errs
        # A length announced in one datagram is not completed by the next.
        msgs, errs = dgram_run(kind, "len:u8", [b"\x05ab", b"\x03cde"], 2)
        got = [(bytes.fromhex(m["hex"]), m["truncated"]) for m in msgs]
        assert got == [(b"ab", True), (b"cde", False)], (kind, got)
        assert [m["chunks"] for m in msgs] == [[1, 1], [2, 2]], msgs
        # A bad length costs its own datagram only: the next one decodes.
        msgs, errs = dgram_run(kind, "len:u8,max=3", [b"\x09abc", b"\x02xy"], 1)
        assert [bytes.fromhex(m["hex"]) for m in msgs] == [b"xy"], msgs
        assert len(errs) == 1 and "length 9 over max 3" in errs[0]["reason"], errs


def collect_after(first):
    """A TCP server that sends `first`, then keeps what it receives until
    EOF."""
    col = Collector()

    def handle(c):
        c.sendall(first)
        col.data = peers.recv_all(c, timeout=15)
        col.done.set()

    col.srv.handler = handle
    return col


@test
def frame_error_keeps_send_framing_and_names_the_figures():
    col = collect_after(b"\xc8" + b"z" * 10)  # announces 200 bytes, max is 100
    try:
        script = ("connect tcp:127.0.0.1:%d --framing len:u8,max=100\n"
                  "wait bytes:11\n"
                  "send hi\n"
                  "wait sent\n"
                  "close\n") % col.port
        sp = Sockpit(["--timeout", "20"], script=script)
        rc = sp.finish()
        assert rc == 0, "rc %d: %r" % (rc, sp.of("cmd_error"))
        assert col.done.wait(10)
        # The send is still framed: the peer gets the length prefix.
        assert col.data == b"\x02hi", col.data
        errs = sp.of("frame_error", 1)
        assert len(errs) == 1, errs
        assert "length 200 over max 100" in errs[0]["reason"], errs[0]
        notes = " ".join(e.get("message", "") for e in sp.of("notice", 1))
        assert "send" in notes and "len:u8" in notes, notes
    finally:
        col.close()


@test
def framing_change_inside_a_message_says_so():
    col = collect_after(b"abc")  # no newline: a line in progress
    try:
        script = ("connect tcp:127.0.0.1:%d --framing line\n"
                  "wait bytes:3\n"
                  "framing raw\n"
                  "close\n") % col.port
        sp = Sockpit(["--timeout", "20"], script=script)
        assert sp.finish() == 0, sp.of("cmd_error")
        msgs = sp.of("msg", 1)
        assert len(msgs) == 1, msgs
        assert msgs[0]["truncated"] is True and msgs[0].get("cut") == "framing", msgs[0]
        path = sp_script(script)
        try:
            rc, out, _ = peers.run(["--headless", "--timeout", "20", "--script", path])
        finally:
            os.unlink(path)
        line = [l for l in out.decode().splitlines() if " msg #1 " in l]
        assert line and "truncated by the framing change" in line[0], out
        assert b"EOF" not in out, out
    finally:
        col.close()


def sp_script(text):
    import tempfile

    fd, path = tempfile.mkstemp(prefix="sockpit-it-", suffix=".sp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class DgramReceiver:
    """A Python datagram socket that counts what arrives (its own view)."""

    def __init__(self, family, addr):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(addr)
        self.sock.settimeout(0.5)
        self.addr = self.sock.getsockname()

    def drain(self, want, timeout=5.0):
        got = []
        end = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < end:
            try:
                got.append(self.sock.recv(1 << 20))
            except socket.timeout:
                pass
        try:  # anything more that should not be there
            self.sock.settimeout(0.2)
            got.append(self.sock.recv(1 << 20))
        except socket.timeout:
            pass
        return got

    def close(self):
        self.sock.close()


@test
def a_failing_datagram_does_not_fail_its_neighbours():
    big = tempfile_of(b"x" * 65508)  # over UDP's 65507: EMSGSIZE
    huge = tempfile_of(b"y" * 400000)  # over a Unix datagram socket's send buffer
    name = "sockpit-it-%d-rcv" % os.getpid()
    try:
        for kind, family, addr, bad in (("udp", socket.AF_INET, ("127.0.0.1", 0), big),
                                        ("unix-dgram", socket.AF_UNIX, "\0" + name, huge)):
            rcv = DgramReceiver(family, addr)
            try:
                target = ("udp:127.0.0.1:%d" % rcv.addr[1] if kind == "udp"
                          else "unix-dgram:@" + name)
                script = ("connect %s\n"
                          "send ok\n"
                          "send --file %s\n"
                          "send a\n"
                          "send b\n"
                          "send c\n"
                          "wait sent\n"
                          "sleep 100\n"
                          "quit\n") % (target, bad)
                sp = Sockpit(["--timeout", "20", "--keep-going"], script=script)
                sp.finish()
                got = rcv.drain(4)
                assert got == [b"ok", b"a", b"b", b"c"], (kind, [g[:8] for g in got])
                errs = sp.of("error", 1)
                assert len(errs) == 1 and errs[0]["code"] == "EMSGSIZE", (kind, errs)
                assert str(os.path.getsize(bad)) in errs[0]["message"], errs[0]
                sends = [(e["seq"], e["off"], bytes.fromhex(e["hex"])) for e in sp.of("send", 1)]
                # The failed datagram took no sequence number and no offset.
                assert sends == [(1, 0, b"ok"), (2, 2, b"a"), (3, 3, b"b"), (4, 4, b"c")], \
                    (kind, sends)
                summ = sp.of("summary", 1)[0]
                assert summ["bytes_out"] == 5, summ
            finally:
                rcv.close()
    finally:
        os.unlink(big)
        os.unlink(huge)


@test
def each_piece_of_a_split_datagram_send_has_its_own_outcome():
    """--chunks/--split on a datagram socket: every datagram the kernel took
    is a send event, every refused one its own error, and the pieces after a
    refused one still go, with --delay too."""
    name = "sockpit-it-%d-pieces" % os.getpid()
    files = []
    try:
        for kind, family, addr, bad_len in (("udp", socket.AF_INET, ("127.0.0.1", 0), 65508),
                                            ("unix-dgram", socket.AF_UNIX, "\0" + name, 400000)):
            path = tempfile_of(b"a" + b"x" * bad_len + b"c" + b"d")
            files.append(path)
            for delay in ("", " --delay 20"):
                rcv = DgramReceiver(family, addr)
                try:
                    target = ("udp:127.0.0.1:%d" % rcv.addr[1] if kind == "udp"
                              else "unix-dgram:@" + name)
                    script = ("connect %s\n"
                              "send --file %s --chunks 1,%d,1%s\n"
                              "wait sent\n"
                              "sleep 100\n"
                              "quit\n") % (target, path, bad_len, delay)
                    sp = Sockpit(["--timeout", "20", "--keep-going"], script=script)
                    sp.finish()
                    got = rcv.drain(3)
                    assert got == [b"a", b"c", b"d"], (kind, delay, [g[:8] for g in got])
                    errs = sp.of("error", 1)
                    assert len(errs) == 1 and errs[0]["code"] == "EMSGSIZE", (kind, delay, errs)
                    assert str(bad_len) in errs[0]["message"], errs[0]
                    sends = [(e["seq"], e["off"], bytes.fromhex(e["hex"]), e["writes"])
                             for e in sp.of("send", 1)]
                    assert sends == [(1, 0, b"a", 1), (2, 1, b"c", 1), (3, 2, b"d", 1)], \
                        (kind, delay, sends)
                    summ = sp.of("summary", 1)[0]
                    assert summ["bytes_out"] == 3, summ
                finally:
                    rcv.close()
    finally:
        for path in files:
            os.unlink(path)


def tempfile_of(data):
    import tempfile

    fd, path = tempfile.mkstemp(prefix="sockpit-it-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


if __name__ == "__main__":
    peers.main()
