"""Urgent data met by the automatic reads (issue 11): a Python peer sends
sock.send(b'x', MSG_OOB) between normal sends. Without oobinline the kernel
stops a read at the mark and the next read skips the urgent byte silently;
sockpit asks SIOCATMARK before each read, reads the byte with MSG_OOB and
shows it as its own recv at the mark's stream offset (an urgent byte with
nothing after it wakes no reader: the kernel's SIGURG does).
With `set oobinline on` the byte stays in the stream and the mark is a
notice."""

import socket
import time

import peers
from peers import Sockpit, test


def listener():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    return lsock


def stream_bytes(sp, sock):
    return b"".join(bytes.fromhex(e["hex"]) for e in sp.of("recv", sock) if e["seq"] > 0)


@test
def urgent_byte_between_sends_is_shown_at_its_mark():
    lsock = listener()
    port = lsock.getsockname()[1]
    sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port,
                  "-e", "wait eof", "-e", "quit"])
    c = None
    try:
        c, _ = lsock.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sp.wait_event(lambda e: e["ev"] == "connected")
        # Apart: the urgent byte arrives on its own after everything was
        # read. The kernel wakes no reader for it (it counts only for
        # POLLPRI); its SIGURG does, and it is shown before anything
        # follows it.
        c.send(b"abc")
        sp.wait_event(lambda e: e["ev"] == "recv" and e.get("off") == 0)
        c.send(b"x", socket.MSG_OOB)
        sp.wait_event(lambda e: e["ev"] == "recv" and "MSG_OOB" in e["flags"])
        c.send(b"def")
        # Together: one read would run into the mark; it stops there.
        time.sleep(0.05)
        c.sendall(b"ghi")
        c.send(b"y", socket.MSG_OOB)
        c.sendall(b"jkl")
        c.shutdown(socket.SHUT_WR)
        assert sp.finish() == 0
        assert stream_bytes(sp, 1) == b"abcdefghijkl", sp.of("recv", 1)
        urgent = [e for e in sp.of("recv", 1) if "MSG_OOB" in e["flags"]]
        assert [(bytes.fromhex(e["hex"]), e["off"], e["seq"], e["atmark"]) for e in urgent] == [
            (b"x", 3, 0, True), (b"y", 9, 0, True)], urgent
        assert all(e["asked"] == ["MSG_OOB"] for e in urgent), urgent
        assert sp.of("summary", 1)[0]["bytes_in"] == 12
    finally:
        if c:
            c.close()
        lsock.close()
        sp.kill()


@test
def urgent_text_line_says_urgent_and_where():
    lsock = listener()
    port = lsock.getsockname()[1]
    sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port,
                  "-e", "wait eof", "-e", "quit"], json_mode=False)
    c = None
    try:
        c, _ = lsock.accept()
        c.sendall(b"12345")
        time.sleep(0.1)
        c.send(b"!", socket.MSG_OOB)
        time.sleep(0.1)
        c.shutdown(socket.SHUT_WR)
        assert sp.finish() == 0
        out = b"".join(sp.lines)
        assert b'recv urgent 1 byte @5 flags MSG_OOB (at the urgent mark): "!"' in out, out
    finally:
        if c:
            c.close()
        lsock.close()
        sp.kill()


@test
def oobinline_keeps_the_byte_in_the_stream_and_notes_the_mark():
    lsock = listener()
    port = lsock.getsockname()[1]
    sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port,
                  "-e", "set oobinline on", "-e", "pause", "-e", "resume",
                  "-e", "wait eof", "-e", "quit"])
    c = None
    try:
        c, _ = lsock.accept()
        sp.wait_event(lambda e: e["ev"] == "notice" and "resumed" in e["message"])
        c.sendall(b"abc")
        time.sleep(0.1)
        c.send(b"x", socket.MSG_OOB)
        time.sleep(0.1)
        c.sendall(b"def")
        c.shutdown(socket.SHUT_WR)
        assert sp.finish() == 0
        assert stream_bytes(sp, 1) == b"abcxdef", sp.of("recv", 1)
        assert not [e for e in sp.of("recv", 1) if "MSG_OOB" in e["flags"]]
        notes = [e["message"] for e in sp.of("notice", 1) if "urgent mark" in e["message"]]
        assert len(notes) == 1 and "offset 3" in notes[0], notes
    finally:
        if c:
            c.close()
        lsock.close()
        sp.kill()


if __name__ == "__main__":
    peers.main()
