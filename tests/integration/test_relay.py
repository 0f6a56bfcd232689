"""The relay (issue 14): a Python client on one side, a Python server on the
other, sockpit's `relay` between them. Every check is made from what the
client and the server really received (and, where the kernel may coalesce
writes, from sockpit's own send events, which list each write call)."""

import os
import socket
import struct
import threading
import time

import peers
from peers import Sockpit, test
from relaykit import (OneServer, hexdata, legs, notices, slow_server_keeps_memory_flat,
                      start_relay, stop, wait_notice)


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def relay(server_port, *opts, script_tail="", args=()):
    """sockpit relaying 127.0.0.1:random to the server; returns (sp, port)."""
    line = "relay tcp:127.0.0.1:0 tcp:127.0.0.1:%d %s" % (server_port, " ".join(opts))
    return start_relay(line, script_tail=script_tail, args=args)


def read_exactly(c, n, timeout=10.0):
    c.settimeout(timeout)
    out = b""
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        b = c.recv(n - len(out))
        if not b:
            break
        out += b
    return out


@test
def bytes_flow_both_ways_in_order_and_both_legs_show_them():
    srv = OneServer()
    sp, port = relay(srv.port)
    try:
        c = peers.connect(port)
        s = srv.accept()
        cl, tl = legs(sp)
        up = b"".join(b"line %d\n" % i for i in range(300))
        down = b"".join(b"answer %d\n" % i for i in range(300))
        c.sendall(up)
        assert read_exactly(s, len(up)) == up
        s.sendall(down)
        assert read_exactly(c, len(down)) == down
        sp.wait_event(lambda e: e.get("ev") == "send" and e["sock"] == cl
                      and e["off"] + e["len"] == len(down))
        # Each leg shows what its own peer wrote, and what it wrote itself.
        assert hexdata(sp, "recv", cl) == up
        assert hexdata(sp, "send", tl) == up
        assert hexdata(sp, "recv", tl) == down
        assert hexdata(sp, "send", cl) == down
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def each_leg_has_its_own_recv_boundaries_and_messages():
    srv = OneServer()
    sp, port = relay(srv.port, "--framing line --framing-back len:u16")
    try:
        c = peers.connect(port)
        s = srv.accept()
        cl, tl = legs(sp)
        c.sendall(b"one\ntw")
        assert read_exactly(s, 4) == b"one\n"
        time.sleep(0.2)
        c.sendall(b"o\nthree\n")
        assert read_exactly(s, 10) == b"two\nthree\n"
        # The server answers with two length-prefixed messages in three writes.
        s.sendall(b"\x00\x02h")
        time.sleep(0.2)
        s.sendall(b"i\x00\x03you")
        assert read_exactly(c, 9) == b"\x00\x02hi\x00\x03you"
        sp.wait_event(lambda e: e.get("ev") == "msg" and e["sock"] == tl and e["seq"] == 2)
        cmsgs = [bytes.fromhex(e["hex"]) for e in sp.of("msg", cl)]
        tmsgs = [bytes.fromhex(e["hex"]) for e in sp.of("msg", tl)]
        assert cmsgs == [b"one", b"two", b"three"], cmsgs
        assert tmsgs == [b"hi", b"you"], tmsgs
        # The client leg's chunks are the client's writes as the kernel
        # delivered them: two recvs on the client leg, split inside "two".
        assert [bytes.fromhex(e["hex"]) for e in sp.of("recv", cl)] == [b"one\ntw", b"o\nthree\n"]
        # The relay forwarded whole messages: "tw" waited for its end.
        sends = [bytes.fromhex(e["hex"]) for e in sp.of("send", tl)]
        assert sends == [b"one\n", b"two\n", b"three\n"], sends
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def fin_pass_server_sees_eof_and_the_answer_still_comes_back():
    srv = OneServer()
    sp, port = relay(srv.port)
    try:
        c = peers.connect(port)
        s = srv.accept()
        c.sendall(b"question")
        c.shutdown(socket.SHUT_WR)
        assert peers.recv_all(s) == b"question"  # ends with the server seeing EOF
        s.sendall(b"answer")
        s.close()
        assert peers.recv_all(c) == b"answer"  # then EOF on the client too
        c.close()
        wait_notice(sp, "is passed on: shutdown wr")
        # Both legs close once both directions ended: nothing left open.
        cl, tl = legs(sp)
        sp.wait_event(lambda e: e.get("ev") == "closed" and e["sock"] == cl)
        sp.wait_event(lambda e: e.get("ev") == "closed" and e["sock"] == tl)
    finally:
        stop(sp)
        srv.close()


@test
def fin_hold_keeps_the_other_leg_open():
    srv = OneServer()
    sp, port = relay(srv.port, "--fin hold")
    try:
        c = peers.connect(port)
        s = srv.accept()
        c.sendall(b"data")
        c.shutdown(socket.SHUT_WR)
        assert read_exactly(s, 4) == b"data"
        sp.wait_event(lambda e: e.get("ev") == "notice" and "is held" in e["message"])
        s.settimeout(0.5)
        try:
            got = s.recv(10)
            raise AssertionError("the FIN was passed (recv returned %r)" % got)
        except socket.timeout:
            pass
        # The other direction still works while the FIN is held.
        s.sendall(b"still here")
        assert read_exactly(c, 10) == b"still here"
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def fin_reset_turns_the_fin_into_resets():
    srv = OneServer()
    sp, port = relay(srv.port, "--fin reset")
    try:
        c = peers.connect(port)
        s = srv.accept()
        c.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        try:
            got = s.recv(10)
            raise AssertionError("server read %r instead of a reset" % got)
        except ConnectionResetError:
            pass
        c.settimeout(5)
        try:
            got = c.recv(10)
            raise AssertionError("client read %r instead of a reset" % got)
        except ConnectionResetError:
            pass
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def an_rst_on_either_leg_becomes_an_rst_on_the_other():
    srv = OneServer()
    sp, port = relay(srv.port)
    try:
        # The client resets: the server's recv fails with ECONNRESET.
        c = peers.connect(port)
        s = srv.accept()
        c.sendall(b"x")
        assert read_exactly(s, 1) == b"x"
        rst_close(c)
        s.settimeout(5)
        try:
            got = s.recv(10)
            raise AssertionError("server read %r instead of a reset" % got)
        except ConnectionResetError:
            pass
        s.close()
        # The server resets: the client's recv fails with ECONNRESET.
        c = peers.connect(port)
        s = srv.accept()
        s.sendall(b"y")
        assert read_exactly(c, 1) == b"y"
        rst_close(s)
        c.settimeout(5)
        try:
            got = c.recv(10)
            raise AssertionError("client read %r instead of a reset" % got)
        except ConnectionResetError:
            pass
        c.close()
        sp.wait_event(lambda e: e.get("ev") == "notice" and "reset by its peer" in e["message"]
                      and e["sock"] > 3)
        assert sum("reset by its peer" in m for m in notices(sp)) == 2, notices(sp)
    finally:
        stop(sp)
        srv.close()


@test
def delay_holds_each_direction_at_least_ms():
    srv = OneServer()
    sp, port = relay(srv.port, "--dir up --delay 300", script_tail="")
    try:
        c = peers.connect(port)
        s = srv.accept()
        legs(sp)
        t0 = time.monotonic()
        c.sendall(b"ping")
        assert read_exactly(s, 4) == b"ping"
        up = time.monotonic() - t0
        t0 = time.monotonic()
        s.sendall(b"pong")
        assert read_exactly(c, 4) == b"pong"
        down = time.monotonic() - t0
        assert up >= 0.3, up
        assert down < 0.25, down  # --dir up: the answers are not delayed
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def rate_limits_the_bytes_per_second():
    srv = OneServer()
    sp, port = relay(srv.port, "--dir down --rate 20000")
    try:
        c = peers.connect(port)
        s = srv.accept()
        legs(sp)
        data = os.urandom(40000)
        t0 = time.monotonic()
        s.sendall(data)
        assert read_exactly(c, len(data), timeout=20) == data
        took = time.monotonic() - t0
        # 40000 bytes at 20000 B/s: 2 s less the first 50 ms slice.
        assert 1.6 <= took <= 6.0, took
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def resplit_cuts_the_forwarded_bytes_into_small_writes():
    srv = OneServer()
    # --rate 140 paces the 7-byte writes 50 ms apart, so the server reads
    # them one by one instead of the kernel coalescing them.
    sp, port = relay(srv.port, "--dir up --resplit 7 --rate 140")
    try:
        c = peers.connect(port)
        s = srv.accept()
        cl, tl = legs(sp)
        data = bytes(range(65, 65 + 56))
        c.sendall(data)
        sizes = []
        got = b""
        s.settimeout(10)
        while len(got) < len(data):
            b = s.recv(4096)
            if not b:
                break
            sizes.append(len(b))
            got += b
        assert got == data
        assert max(sizes) <= 7, sizes
        # sockpit's own record: every send on the target leg was at most 7 bytes.
        sp.wait_event(lambda e: e.get("ev") == "send" and e["sock"] == tl
                      and e["off"] + e["len"] == len(data))
        sends = [e["len"] for e in sp.of("send", tl)]
        assert sends and max(sends) <= 7 and sum(sends) == len(data), sends
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def resplit_alone_makes_one_send_with_many_write_calls():
    srv = OneServer()
    sp, port = relay(srv.port, "--dir up --resplit 5")
    try:
        c = peers.connect(port)
        s = srv.accept()
        cl, tl = legs(sp)
        c.sendall(b"abcdefghijklmnopqrstuv")
        assert read_exactly(s, 22) == b"abcdefghijklmnopqrstuv"
        ev = sp.wait_event(lambda e: e.get("ev") == "send" and e["sock"] == tl)
        assert ev["len"] == 22 and ev["writes"] == 5, ev
        if ev.get("calls"):  # each write's return, where the engine lists them
            assert ev["calls"] == [5, 5, 5, 5, 2], ev
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def drop_msg_drops_the_nth_message_under_a_framing():
    srv = OneServer()
    sp, port = relay(srv.port, "--framing line --dir up --drop-msg 2")
    try:
        c = peers.connect(port)
        s = srv.accept()
        c.sendall(b"one\ntwo\nthree\n")
        assert read_exactly(s, 10) == b"one\nthree\n"
        s.settimeout(0.3)
        try:
            extra = s.recv(100)
        except socket.timeout:
            extra = b""
        assert extra == b""
        wait_notice(sp, "dropped message 2 (4 bytes)")
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def a_large_eof_message_behind_a_rate_limit_still_arrives_whole():
    # --rate keeps pieces of the message waiting while the client's bytes
    # keep coming: the relay stops reading with part of the message not cut
    # yet. That part cannot drain by itself, so once the pieces are out the
    # relay must read on and reach the FIN.
    srv = OneServer()
    data = bytes(range(256)) * 3000
    sp, port = relay(srv.port, "--framing eof --rate 2M", args=["--quiet"])
    try:
        c = peers.connect(port)
        s = srv.accept()
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        assert peers.recv_all(s) == data
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def framing_trouble_loses_no_byte():
    # A length error switches decoding to raw: what follows still goes on.
    # An eof-framed message larger than what a direction holds goes on in
    # pieces instead of stopping the relay for good.
    srv = OneServer()
    for spec, data in (("len:u8,max=4", b"\x02hi\x0aTOO-LONG!!rest"),
                       ("eof", bytes(range(256)) * 1200)):
        sp, port = relay(srv.port, "--framing " + spec, args=["--quiet"])
        try:
            c = peers.connect(port)
            s = srv.accept()
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            assert peers.recv_all(s) == data, spec
            c.close()
            s.close()
        finally:
            stop(sp)
    srv.close()


@test
def reset_after_resets_both_legs_after_exactly_that_many_bytes():
    srv = OneServer()
    sp, port = relay(srv.port, "--dir up --reset-after 10")
    try:
        c = peers.connect(port)
        s = srv.accept()
        c.sendall(b"0123456789abcdefghij")
        got = b""
        s.settimeout(5)
        try:
            while True:
                b = s.recv(100)
                if not b:
                    raise AssertionError("EOF instead of a reset after %r" % got)
                got += b
        except ConnectionResetError:
            pass
        assert got == b"0123456789", got
        c.settimeout(5)
        try:
            c.recv(10)
            raise AssertionError("no reset on the client")
        except ConnectionResetError:
            pass
        sp.wait_event(lambda e: e.get("ev") == "notice" and "--reset-after 10" in e["message"])
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def stall_fills_the_senders_window_and_unstall_delivers_everything():
    srv = OneServer()
    script = "wait accepted\nsleep 1500\nrelay set --unstall\n"
    sp, port = relay(srv.port, "--dir up --stall", script_tail=script)
    try:
        c = peers.connect(port)
        s = srv.accept()
        legs(sp)
        # The client writes until the kernel takes no more: the relay reads
        # nothing, so its receive buffer and the client's send buffer fill.
        c.setblocking(False)
        block = b"z" * 65536
        sent = 0
        end = time.monotonic() + 1.0
        while time.monotonic() < end and sent < 64 * 1024 * 1024:
            try:
                sent += c.send(block)
            except BlockingIOError:
                break
        assert sent < 64 * 1024 * 1024, "the window never filled"
        s.settimeout(0.2)
        try:
            early = s.recv(10)
        except socket.timeout:
            early = b""
        assert early == b"", "forwarded while stalled"
        c.setblocking(True)
        # After the unstall everything arrives, in order.
        assert read_exactly(s, sent, timeout=20) == b"z" * sent
        wait_notice(sp, "unstalled")
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def a_refused_target_resets_the_client_with_a_clear_notice():
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port_dead = dead.getsockname()[1]
    dead.close()  # nobody listens there: connect is refused
    sp, port = relay(port_dead)
    c = None
    try:
        c = socket.socket()
        c.settimeout(5)
        try:
            # The reset may come before connect() even returns, under load.
            c.connect(("127.0.0.1", port))
            got = c.recv(10)
            assert got == b"", got
        except ConnectionResetError:
            pass
        ev = sp.wait_event(lambda e: e.get("ev") == "notice" and "failed" in e["message"])
        assert "connect to tcp:127.0.0.1:%d failed" % port_dead in ev["message"], ev
        cl, tl = legs(sp)
        sp.wait_event(lambda e: e.get("ev") == "closed" and e["sock"] == cl)
        c.close()
    finally:
        stop(sp)


@test
def live_set_changes_a_fault_on_a_running_connection():
    srv = OneServer()
    script = "wait accepted\nsleep 600\nrelay set --dir up --delay 0\n"
    sp, port = relay(srv.port, "--dir up --delay 5000", script_tail=script)
    try:
        c = peers.connect(port)
        s = srv.accept()
        t0 = time.monotonic()
        c.sendall(b"late")
        # The 5 s delay is lifted after 0.6 s: the waiting bytes go then.
        assert read_exactly(s, 4) == b"late"
        took = time.monotonic() - t0
        assert 0.4 <= took < 3.0, took
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def unix_legs_relay_too():
    import tempfile

    d = tempfile.mkdtemp(prefix="sockpit-relay-")
    spath = os.path.join(d, "srv.sock")
    lpath = os.path.join(d, "relay.sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(spath)
    ls.listen(4)
    sp = Sockpit(["--timeout", "60"], script="relay unix:%s unix:%s\n" % (lpath, spath))
    try:
        sp.wait_event(lambda e: e.get("ev") == "listening")
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(5)
        c.connect(lpath)
        ls.settimeout(5)
        s, _ = ls.accept()
        c.sendall(b"over unix")
        c.shutdown(socket.SHUT_WR)
        assert peers.recv_all(s) == b"over unix"
        s.sendall(b"back")
        s.close()
        assert peers.recv_all(c) == b"back"
        c.close()
    finally:
        stop(sp)
        ls.close()
        for p in (spath, lpath):
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(d)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


@test
def fifty_relayed_connections_leave_no_descriptor_behind():
    srv = OneServer()

    def serve():
        for _ in range(50):
            s = srv.accept()
            data = peers.recv_all(s)
            s.sendall(data.upper())
            s.close()

    t = threading.Thread(target=serve, daemon=True)
    sp = Sockpit(["--quiet", "--timeout", "60"],
                 script="relay tcp:127.0.0.1:0 tcp:127.0.0.1:%d\n" % srv.port)
    try:
        port = sp.port()
        t.start()
        before = None
        for i in range(50):
            if i == 1:
                # After the first: descriptors made once (the kernel-state
                # netlink socket...) are there, each connection's are gone.
                time.sleep(0.2)
                before = fd_count(sp.proc.pid)
            c = peers.connect(port)
            c.sendall(b"hello %d" % i)
            c.shutdown(socket.SHUT_WR)
            assert peers.recv_all(c) == b"HELLO %d" % i
            c.close()
        t.join(10)
        end = time.monotonic() + 5
        after = fd_count(sp.proc.pid)
        while after > before and time.monotonic() < end:
            time.sleep(0.05)
            after = fd_count(sp.proc.pid)
        assert after <= before, (before, after)
    finally:
        stop(sp)
        srv.close()


@test
def a_slow_server_stops_the_relay_reading_instead_of_growing_memory():
    srv = OneServer()
    # --quiet: printing every 64 KiB chunk as JSON would be the slow part.
    sp, port = relay(srv.port, "--dir up", args=["--quiet"])
    try:
        c = peers.connect(port)
        s = srv.accept()
        legs(sp)
        slow_server_keeps_memory_flat(sp, c, s, 48 * 1024 * 1024, fin=True)
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def quit_with_a_pair_holding_delayed_bytes_exits_cleanly():
    # Under ASan this is the leak check of a relay torn down mid-fault.
    srv = OneServer()
    script = "wait accepted\nsleep 400\nquit\n"
    sp, port = relay(srv.port, "--dir up --delay 10000", script_tail=script)
    try:
        c = peers.connect(port)
        s = srv.accept()
        c.sendall(b"held back")
        rc = sp.finish(20)
        assert rc == 0, (rc, sp.err)
        assert b"Sanitizer" not in sp.err, sp.err
        # quit closes: what the delay still held was never written.
        s.settimeout(5)
        assert peers.recv_all(s) == b""
        c.close()
        s.close()
    finally:
        sp.kill()
        srv.close()


@test
def command_line_listen_with_relay_target():
    srv = OneServer()
    # stdin is not a terminal here: a relay is still no --stdio pipe.
    sp = Sockpit(["--timeout", "60", "-l", "0", "--relay", str(srv.port), "--framing", "line"],
                 stdin_data=b"")
    try:
        port = sp.port()
        c = peers.connect(port)
        s = srv.accept()
        c.sendall(b"via the command line\n")
        assert read_exactly(s, 21) == b"via the command line\n"
        sp.wait_event(lambda e: e.get("ev") == "msg" and e["sock"] == 2)
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()
    for args, want in [(["--relay", "9"], b"need an ADDR"),
                       (["9000", "--relay", "9"], b"--relay needs -l"),
                       (["-l", "0", "--relay", "udp:127.0.0.1:9"], b"stream target"),
                       (["-l", "0", "--relay", "9", "--once"], b"--relay needs -l")]:
        rc, out, err = peers.run(["--headless"] + args)
        assert rc == 2 and want in err, (args, rc, err)


@test
def bad_relay_lines_are_refused_clearly():
    for line, want in [
        ("relay tcp:127.0.0.1:0 udp:127.0.0.1:9", "tcp:, tls: or unix:"),
        ("relay tcp:127.0.0.1:0 tcp:127.0.0.1:9 --fin maybe", "--fin takes"),
        ("relay tcp:127.0.0.1:0 tcp:127.0.0.1:9 --dir sideways", "--dir takes"),
        ("relay tcp:127.0.0.1:0 tcp:127.0.0.1:9 --delay x", "not a number"),
        ("relay tcp:127.0.0.1:0", "usage"),
        ("relay 1 set", "say which fault"),
    ]:
        rc, out, err = peers.run(["--headless", "-e", "listen tcp:127.0.0.1:0", "-e", line])
        assert rc == 1, (line, rc, out)
        assert want.encode() in out + err, (line, out, err)
    rc, out, err = peers.run(["--headless", "-e", "listen tcp:127.0.0.1:0", "-e",
                              "relay 1 set --delay 5"])
    assert rc == 1 and b"not a relay" in out + err, (out, err)


if __name__ == "__main__":
    peers.main()
