"""Beneath recv() (issue 11): the manual recv as one recvmsg() with the
user's buffers and flags (--iov --peek --waitall --oob --trunc --block), the
returned msg_flags and sender, EAGAIN as an event, urgent data both ways,
and `send --once` showing what one non-blocking call took. Every peer is a
real Python socket on loopback; where Python can make the same call, the
test makes it and compares."""

import os
import socket
import tempfile
import time

import peers
from peers import Sockpit, test


def python_server():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    return lsock


def paused(sp, sock=1):
    sp.wait_event(lambda e: e["ev"] == "notice" and e.get("sock") == sock
                  and "paused" in e["message"])


def recvs(sp, sock=1):
    return [e for e in sp.of("recv", sock)]


def python_recvmsg_into(data, sizes, flags=0):
    """What Python's recvmsg_into() does with the same bytes and buffers."""
    a, b = socket.socketpair()
    a.sendall(data)
    time.sleep(0.02)
    bufs = [bytearray(n) for n in sizes]
    n, _, mflags, _ = b.recvmsg_into(bufs, 0, flags)
    a.close()
    b.close()
    left, fill = n, []
    for size in sizes:
        got = min(left, size)
        fill.append(got)
        left -= got
    return n, fill, mflags


@test
def iov_peek_and_eagain_show_what_recvmsg_did():
    lsock = python_server()
    port = lsock.getsockname()[1]
    sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port, "-e", "pause",
                  "-e", "recv --block --peek --iov 4,4,16", "-e", "recv --iov 4,4,3",
                  "-e", "recv", "-e", "recv", "-e", "quit"])
    c, _ = lsock.accept()
    try:
        paused(sp)
        time.sleep(0.2)
        c.sendall(b"hello world!")
        assert sp.finish() == 0, (sp.of("cmd_error"), sp.events[-6:])
    finally:
        sp.kill()
        c.close()
        lsock.close()
    r = recvs(sp)
    assert len(r) == 3, r
    peek, first, rest = r
    assert peek["asked"] == ["MSG_PEEK"] and peek["seq"] == 0, peek
    assert bytes.fromhex(peek["hex"]) == b"hello world!"
    assert [b["size"] for b in peek["iov"]] == [4, 4, 16]
    n, fill, _ = python_recvmsg_into(b"hello world!", [4, 4, 16])
    assert [b["len"] for b in peek["iov"]] == fill == [4, 4, 4]
    assert "blocked_ms" in peek and peek["blocked_ms"] >= 100, peek
    # The peeked bytes are still there: the next recv takes them, chunk 1.
    assert first["seq"] == 1 and first["off"] == 0 and first["asked"] == []
    assert bytes.fromhex(first["hex"]) == b"hello world"
    assert [(b["size"], b["len"]) for b in first["iov"]] == [(4, 4), (4, 4), (3, 3)]
    assert first["flags"] == [] and first["unread"] == 12
    assert bytes.fromhex(rest["hex"]) == b"!" and rest["seq"] == 2 and rest["off"] == 11
    # The fourth recv found nothing: EAGAIN is an event, the line succeeded.
    errs = sp.of("error", 1)
    assert [(e["op"], e["code"]) for e in errs] == [("recv", "EAGAIN")], errs
    assert not sp.of("cmd_error")


@test
def urgent_byte_out_of_band_with_the_mark_then_inline():
    lsock = python_server()
    port = lsock.getsockname()[1]
    sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port, "-e", "pause",
                  "-e", "recv --block", "-e", "recv --block --oob", "-e", "recv --block",
                  "-e", "recv --oob", "-e", "set oobinline on", "-e", "sleep 300",
                  "-e", "recv --block", "-e", "quit"])
    c, _ = lsock.accept()
    try:
        paused(sp)
        c.sendall(b"abc")
        c.send(b"!", socket.MSG_OOB)
        c.sendall(b"def")
        sp.wait_event(lambda e: e["ev"] == "error" and e.get("sock") == 1)
        # Inline (set right after that error): the urgent byte stays in the
        # stream.
        c.send(b"Y", socket.MSG_OOB)
        assert sp.finish() == 0, (sp.of("cmd_error"), sp.events[-6:])
    finally:
        sp.kill()
        c.close()
        lsock.close()
    r = recvs(sp)
    abc, urgent, defg = r[0], r[1], r[2]
    # A recv stops at the mark: "abc" before it; there SIOCATMARK is true.
    assert bytes.fromhex(abc["hex"]) == b"abc" and abc["atmark"] is False, abc
    assert bytes.fromhex(urgent["hex"]) == b"!" and urgent["flags"] == ["MSG_OOB"], urgent
    assert urgent["asked"] == ["MSG_OOB"] and urgent["seq"] == 0 and urgent["atmark"] is True
    assert bytes.fromhex(defg["hex"]) == b"def" and defg["off"] == 3, \
        "the urgent byte is not part of the stream offsets"
    # Read once already: the kernel says EINVAL, shown as the event it is.
    assert [(e["op"], e["code"]) for e in sp.of("error", 1)] == [("recv", "EINVAL")], \
        (sp.of("error", 1), r)
    inline = r[3]
    assert bytes.fromhex(inline["hex"]) == b"Y" and inline["flags"] == [] and inline["seq"] == 3
    assert len(r) == 4, r


@test
def waitall_waits_for_the_whole_buffer_and_says_how_long():
    lsock = python_server()
    port = lsock.getsockname()[1]
    sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port, "-e", "pause",
                  "-e", "recv 1 6 --waitall", "-e", "quit"])
    c, _ = lsock.accept()
    try:
        paused(sp)
        c.sendall(b"ab")
        time.sleep(0.4)
        c.sendall(b"cdefgh")
        assert sp.finish() == 0, (sp.of("cmd_error"), sp.events[-6:])
    finally:
        sp.kill()
        c.close()
        lsock.close()
    r = recvs(sp)
    assert len(r) == 1 and bytes.fromhex(r[0]["hex"]) == b"abcdef", r
    assert r[0]["asked"] == ["MSG_WAITALL"] and r[0]["blocked_ms"] >= 300, r[0]


@test
def block_timeout_gives_up_and_reads_nothing_later():
    lsock = python_server()
    port = lsock.getsockname()[1]
    sp = Sockpit(["--timeout", "20", "--keep-going", "-e", "connect tcp:127.0.0.1:%d" % port,
                  "-e", "pause", "-e", "recv --block --timeout 200", "-e", "sleep 400",
                  "-e", "recv", "-e", "quit"])
    c, _ = lsock.accept()
    try:
        sp.wait_event(lambda e: e["ev"] == "cmd_error")
        c.sendall(b"late")
        assert sp.finish() == 1
    finally:
        sp.kill()
        c.close()
        lsock.close()
    assert "timed out" in sp.of("cmd_error")[0]["message"]
    r = recvs(sp)
    assert len(r) == 1 and r[0]["seq"] == 1 and bytes.fromhex(r[0]["hex"]) == b"late", r
    assert "blocked_ms" not in r[0]


@test
def datagram_trunc_gives_the_real_length_and_the_sender():
    sp = Sockpit(["--timeout", "20", "-e", "bind udp:127.0.0.1:0", "-e", "pause",
                  "-e", "recv 1 4 --block --trunc", "-e", "recv 1 4 --block", "-e", "quit"])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    try:
        port = sp.port()
        paused(sp)
        u.sendto(b"0123456789", ("127.0.0.1", port))
        u.sendto(b"abcdefgh", ("127.0.0.1", port))
        assert sp.finish() == 0, (sp.of("cmd_error"), sp.events[-6:])
    finally:
        sp.kill()
    src = "%s:%d" % u.getsockname()
    u.close()
    trunc, cut = recvs(sp)
    assert trunc["len"] == 10 and bytes.fromhex(trunc["hex"]) == b"0123", trunc
    assert trunc["flags"] == ["MSG_TRUNC"] and trunc["asked"] == ["MSG_TRUNC"]
    assert trunc["from"] == src, (trunc["from"], src)
    assert cut["len"] == 4 and cut["flags"] == ["MSG_TRUNC"] and cut["truncated"] is True, cut
    # Python's recvmsg on the same kind of cut says the same.
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.sendto(b"abcdefgh", a.getsockname())
    data, _, flags, _ = a.recvmsg(4)
    assert data == b"abcd" and flags & socket.MSG_TRUNC
    a.close()
    b.close()


@test
def send_once_shows_a_short_write_and_eagain():
    lsock = python_server()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    port = lsock.getsockname()[1]
    tmp = tempfile.NamedTemporaryFile(delete=False)
    tmp.write(os.urandom(1 << 20))
    tmp.close()
    lines = ["connect tcp:127.0.0.1:%d" % port, "set sndbuf 4096"]
    lines += ["send --once --file %s" % tmp.name, "sleep 50"] * 4
    lines += ["quit"]
    args = ["--timeout", "20"]
    for line in lines:
        args += ["-e", line]
    sp = Sockpit(args)
    c, _ = lsock.accept()
    try:
        assert sp.finish() == 0, (sp.of("cmd_error"), sp.events[-6:])
    finally:
        sp.kill()
        os.unlink(tmp.name)
    sends = sp.of("send", 1)
    assert len(sends) == 4, sends
    first = sends[0]
    assert 0 < first["len"] < (1 << 20) and first["wanted"] == 1 << 20, first
    assert first["calls"] == [first["len"]] and first["writes"] == 1
    assert any(s["calls"] == ["EAGAIN"] and s["len"] == 0 for s in sends[1:]), \
        [s["calls"] for s in sends]
    # What the kernel took is what the peer can read, nothing more.
    c.settimeout(2)
    got = 0
    try:
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            got += len(b)
    except (socket.timeout, ConnectionResetError):
        pass
    c.close()
    lsock.close()
    assert got == sum(s["len"] for s in sends), (got, [s["len"] for s in sends])


@test
def send_oob_arrives_as_urgent_data_in_python():
    lsock = python_server()
    port = lsock.getsockname()[1]
    sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % port,
                  "-e", "send abc", "-e", "wait sent", "-e", "send --oob !", "-e", "send def",
                  "-e", "wait sent", "-e", "sleep 200", "-e", "quit"])
    c, _ = lsock.accept()
    try:
        assert sp.finish() == 0, (sp.of("cmd_error"), sp.events[-6:])
        c.settimeout(2)
        assert c.recv(1, socket.MSG_OOB) == b"!"
        got = b""
        while True:
            b = c.recv(100)
            if not b:
                break
            got += b
        assert got == b"abcdef", got
    finally:
        sp.kill()
        c.close()
        lsock.close()
    s = sp.of("send", 1)
    urgent = [e for e in s if e["flags"] == ["MSG_OOB"]]
    assert len(urgent) == 1 and urgent[0]["calls"] == [1] and urgent[0]["off"] == 3, s


@test
def bad_recv_and_send_lines_are_refused_with_a_reason():
    lsock = python_server()
    port = lsock.getsockname()[1]
    bad = [
        ("recv --iov 4", "pause it first"),
        ("pause", None),
        ('recv --iov ""', "sizes > 0"),
        ("recv --iov 4,0", "sizes > 0"),
        ("recv --iov " + ",".join(["1"] * 17), "at most 16"),
        ("recv 1 8 --iov 4", "not both"),
        ("recv --trunc", "datagrams"),
        ("recv --timeout 5", "--block"),
        ("send --oob ab", "one urgent byte"),
        ("bind udp:127.0.0.1:0", None),
        ("pause", None),
        ("recv --oob", "TCP"),
        ("recv --waitall", "streams"),
        ("send --oob x --to udp:127.0.0.1:9", "TCP"),
        ("recv 1 --oob --waitall", "does not apply"),
        ("set 1 oobinline on", None),
        ("recv 1 --oob", "oobinline"),
        ("set 2 oobinline on", "TCP"),
    ]
    args = ["--timeout", "20", "--keep-going", "-e", "connect tcp:127.0.0.1:%d" % port]
    for line, _ in bad:
        args += ["-e", line]
    args += ["-e", "quit"]
    sp = Sockpit(args)
    c, _ = lsock.accept()
    try:
        assert sp.finish() == 1
    finally:
        sp.kill()
        c.close()
        lsock.close()
    errs = sp.of("cmd_error")
    want = [(line, why) for line, why in bad if why is not None]
    assert len(errs) == len(want), [(e["line"], e["message"]) for e in errs]
    for e, (line, why) in zip(errs, want):
        assert e["line"].endswith(line) or line in e["line"], (e["line"], line)
        assert why in e["message"], (line, e["message"])
    assert not sp.of("recv") and not sp.of("send")


@test
def info_shows_tcp_info_in_full_and_the_peer_credentials():
    lsock = python_server()
    port = lsock.getsockname()[1]
    rc, out, err = peers.run(["-e", "connect tcp:127.0.0.1:%d" % port, "-e", "send hello",
                              "-e", "wait sent", "-e", "sleep 50", "-e", "info", "-e", "quit"],
                             timeout=20)
    lsock.close()
    text = out.decode()
    assert rc == 0, (out, err)
    for field in ("mss ", "snd_wnd ", "rcv_space ", "segs_in ", "segs_out ", "retransmits 0",
                  "type SOCK_STREAM", "oobinline 0"):
        assert field in text, (field, text)
    # What the kernel acknowledged: the 5 bytes and the SYN.
    assert "bytes_acked 6," in text, text
    # SO_PEERCRED of a Unix connection names the connecting process.
    d = tempfile.mkdtemp()
    path = os.path.join(d, "s")
    sp = Sockpit(["--timeout", "20", "-e", "listen unix:%s" % path, "-e", "wait accepted",
                  "-e", "info 2", "-e", "quit"], json_mode=False)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)
        u = socket.socket(socket.AF_UNIX)
        u.connect(path)
        assert sp.finish() == 0, sp.lines
        u.close()
    finally:
        sp.kill()
    text = b"".join(sp.lines).decode()
    want = "SO_PEERCRED): pid %d, uid %d, gid %d" % (os.getpid(), os.getuid(), os.getgid())
    assert want in text, text


if __name__ == "__main__":
    peers.main()
