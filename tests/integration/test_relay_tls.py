"""The relay with tls: legs (issues 13 and 14): TLS ends at the relay and
the plaintext is forwarded. curl -k and Python ssl clients on the client
side, `openssl s_server -www` and Python ssl or plain servers on the other;
every check is made from what the peers really received. Every peer is
started and stopped by PID (or is a thread of the test); every wait is
bounded."""

import socket
import ssl
import subprocess
import threading

import peers
import tlskit
from peers import test
from relaykit import (OneServer, hexdata, legs, notices, slow_server_keeps_memory_flat,
                      start_relay, stop, wait_notice)

TMP = tlskit.tmpdir("sockpit-relay-tls-")
CERT, KEY = tlskit.make_cert(TMP)


def server_ctx():
    return tlskit.server_ctx(CERT, KEY)


def tls_connect(port):
    """To a relay's tls: listen leg, whose certificate is a throwaway one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)


def body_of(n):
    return bytes((i * 7 + i // 251) & 0xff for i in range(n))


@test
def curl_through_a_tls_listen_leg_to_a_plain_http_server():
    """curl -k https://... -> relay tls: -> a plain HTTP server: the server
    gets curl's request as plaintext, byte for byte, and curl the 300 KB
    answer; the client leg shows records, the target leg none."""
    srv = OneServer()
    body = body_of(300 * 1024)
    got = {}

    def serve():
        s = srv.accept()
        got["req"] = peers.recv_until(s, b"\r\n\r\n")
        s.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        s.shutdown(socket.SHUT_WR)
        got["rest"] = peers.recv_all(s)
        s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    sp, port = start_relay("relay tls:127.0.0.1:0 tcp:127.0.0.1:%d" % srv.port)
    try:
        r = subprocess.run(["curl", "-sk", "--max-time", "15", "https://127.0.0.1:%d/x" % port],
                           capture_output=True, timeout=20)
        t.join(10)
        assert r.returncode == 0 and r.stdout == body, (r.returncode, len(r.stdout), r.stderr)
        c, tl = legs(sp)
        sp.wait_event(lambda e: e.get("ev") == "closed" and e["sock"] == tl)
    finally:
        stop(sp)
        srv.close()
    assert got["req"].startswith(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port), got
    # What the target leg sent is exactly the plaintext the client leg read.
    assert hexdata(sp, "msg", c) == got["req"] + got["rest"], (hexdata(sp, "msg", c), got)
    assert hexdata(sp, "send", tl) == got["req"] + got["rest"]
    assert hexdata(sp, "send", c) == b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(
        body) + body
    assert [e for e in sp.of("tls_record", c)] and not sp.of("tls_record", tl)
    # The client leg's recv events are ciphertext, not what was forwarded.
    assert hexdata(sp, "recv", c)[:1] == b"\x16"
    assert any("TLS ends at the relay" in m for m in notices(sp)), notices(sp)


@test
def a_plain_client_through_a_tls_target_to_openssl_s_server():
    """A plain client -> relay -> tls: openssl s_server -www (verified with
    --ca, then again with --insecure and a notice)."""
    port = peers.free_port()
    srv = tlskit.s_server(port, CERT, KEY, "-www", "-naccept", "2")
    try:
        for opt in ("--ca %s" % CERT, "--insecure"):
            sp, rport = start_relay("relay tcp:127.0.0.1:0 tls:127.0.0.1:%d %s" % (port, opt))
            try:
                c = socket.create_connection(("127.0.0.1", rport), timeout=10)
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                page = peers.recv_all(c)
                c.close()
                cl, tl = legs(sp)
                sp.wait_event(lambda e: e.get("ev") == "closed" and e["sock"] == tl)
            finally:
                stop(sp)
            assert page.startswith(b"HTTP/1.0 200 ok\r\n") and b"s_server" in page, page[:200]
            done = [e["message"] for e in sp.of("tls", tl) if e["stage"] == "handshake_done"]
            assert len(done) == 1, sp.of("tls", tl)
            assert ("verify ok" in done[0]) == opt.startswith("--ca"), done
            # s_server ended with close_notify: passed on as the client's FIN.
            assert any("the close_notify from %d's peer is passed on" % tl in m
                       for m in notices(sp)), notices(sp)
            assert hexdata(sp, "send", cl) == page
    finally:
        peers.stop_proc(srv)


@test
def both_legs_tls_bytes_exact_both_ways():
    """A Python ssl client -> relay tls: -> tls: Python ssl echo server: 1 MB
    of every byte value goes up and comes back exactly."""
    srv = OneServer(server_ctx())
    data = body_of(1 << 20)
    got = {}

    def serve():
        s = srv.accept()
        n = 0
        while n < len(data):
            b = s.recv(1 << 16)
            if not b:
                break
            s.sendall(b)
            n += len(b)
        got["n"] = n
        try:
            s.unwrap()
            got["unwrapped"] = True
        except (ssl.SSLError, OSError) as e:
            got["unwrapped"] = e
        s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    sp, port = start_relay("relay tls:127.0.0.1:0 tls:127.0.0.1:%d --ca %s --cert %s --key %s" %
                     (srv.port, CERT, CERT, KEY), args=["--quiet"])
    try:
        c = tls_connect(port)
        # One thread per SSL object (OpenSSL's rule): each 16 KB piece goes
        # up and is read back before the next.
        back = b""
        for k in range(0, len(data), 16384):
            c.sendall(data[k:k + 16384])
            while len(back) < min(k + 16384, len(data)):
                b = c.recv(1 << 16)
                assert b, len(back)
                back += b
        assert back == data, len(back)
        # Both ends say goodbye in TLS; the relay passes each close_notify on.
        c.unwrap()
        t.join(10)
        assert got.get("n") == len(data), got
        assert got.get("unwrapped") is True, got
        c.close()
    finally:
        stop(sp)
        srv.close()


@test
def faults_act_on_plaintext_messages():
    """--framing line --drop-msg 2 on a tls: client leg drops the second
    plaintext line; --resplit 3 toward a tls: target cuts the plaintext into
    3-byte writes, each its own record, and the server still reads it all."""
    srv = OneServer()
    sp, port = start_relay("relay tls:127.0.0.1:0 tcp:127.0.0.1:%d --framing line --drop-msg 2 "
                     "--dir up" % srv.port)
    try:
        c = tls_connect(port)
        s = srv.accept()
        c.sendall(b"one\n")
        c.sendall(b"two\n")
        c.sendall(b"three\n")
        assert peers.recv_until(s, b"three\n") == b"one\nthree\n"
        wait_notice(sp, "dropped message 2")
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()

    srv = OneServer(server_ctx())
    got = {}

    def serve():
        s = srv.accept()
        got["data"] = peers.recv_until(s, b"!")
        s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    sp, port = start_relay("relay tcp:127.0.0.1:0 tls:127.0.0.1:%d --ca %s --resplit 3 --dir up" %
                     (srv.port, CERT))
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(b"0123456789abcdef!")
        t.join(10)
        assert got.get("data") == b"0123456789abcdef!", got
        cl, tl = legs(sp)
        # 17 plaintext bytes in six writes of at most 3: six application_data
        # records (TLS 1.3: 3 bytes + content type + 16-byte tag each).
        sp.wait_event(lambda e: e.get("ev") == "send" and e["sock"] == tl)
        c.close()
    finally:
        stop(sp)
        srv.close()
    recs = [e for e in sp.of("tls_record", tl)
            if e["dir"] == "out" and e["type"] == "application_data" and e["len"] <= 20]
    assert len(recs) >= 6, [(e["type"], e["len"]) for e in sp.of("tls_record", tl)]


@test
def fin_pass_on_a_tls_leg_is_close_notify_then_fin():
    """The plain server's FIN reaches the TLS client as close_notify (a clean
    end, not a truncation); the client's close_notify reaches the server as
    a FIN."""
    srv = OneServer()
    sp, port = start_relay("relay tls:127.0.0.1:0 tcp:127.0.0.1:%d" % srv.port)
    try:
        c = tls_connect(port)
        s = srv.accept()
        c.sendall(b"hello\n")
        assert peers.recv_until(s, b"\n") == b"hello\n"
        s.sendall(b"bye\n")
        s.shutdown(socket.SHUT_WR)
        # suppress_ragged_eofs=False: a FIN without close_notify would raise.
        assert peers.recv_all(c) == b"bye\n"
        c.unwrap()
        assert s.recv(10) == b""
        c.close()
        s.close()
        cl, tl = legs(sp)
        sp.wait_event(lambda e: e.get("ev") == "closed" and e["sock"] == cl)
    finally:
        stop(sp)
        srv.close()
    stages = [e["stage"] for e in sp.of("tls", cl)]
    assert "close_notify_sent" in stages and "close_notify" in stages, stages
    assert "truncated" not in stages, stages
    assert any("(close_notify, then the FIN)" in m for m in notices(sp)), notices(sp)


@test
def a_truncation_is_passed_on_as_a_truncation():
    """The TLS server closes TCP without close_notify: the relay passes the
    FIN to the TLS client leg without close_notify of its own, so the client
    sees the truncation the server made, not a clean end."""
    srv = OneServer(server_ctx())
    got = {}

    def serve():
        s = srv.accept()
        got["req"] = peers.recv_until(s, b"\n")
        s.sendall(b"partial")
        # Python sends no close_notify on close(): a bare FIN.
        s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    sp, port = start_relay("relay tls:127.0.0.1:0 tls:127.0.0.1:%d --ca %s" % (srv.port, CERT))
    try:
        c = tls_connect(port)
        c.sendall(b"give\n")
        out = b""
        err = None
        try:
            while len(out) < 100:
                b = c.recv(100)
                if not b:
                    break
                out += b
        except ssl.SSLEOFError as e:
            err = e
        assert out == b"partial" and err is not None, (out, err)
        c.close()
        t.join(10)
        cl, tl = legs(sp)
        sp.wait_event(lambda e: e.get("ev") == "closed" and e["sock"] == cl)
    finally:
        stop(sp)
        srv.close()
    assert [e for e in sp.of("tls", tl) if e["stage"] == "truncated"], sp.of("tls", tl)
    stages = [e["stage"] for e in sp.of("tls", cl)]
    assert "close_notify_withheld" in stages and "close_notify_sent" not in stages, stages
    assert any("a truncation again" in m for m in notices(sp)), notices(sp)


@test
def a_tls_target_that_fails_verification_resets_the_client():
    srv = OneServer(server_ctx())

    def serve():
        try:
            srv.accept().close()
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    # No --ca: the system store does not know the test's certificate.
    sp, port = start_relay("relay tcp:127.0.0.1:0 tls:127.0.0.1:%d" % srv.port)
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(b"x")
        try:
            assert c.recv(10) == b""
        except ConnectionResetError:
            pass
        c.close()
        t.join(10)
        ev = wait_notice(sp, "failed (TLS handshake failed")
    finally:
        stop(sp)
        srv.close()
    assert "unknown CA" in ev["message"], ev


@test
def a_slow_server_behind_a_tls_leg_does_not_grow_memory():
    """20 MB from a TLS client to a server that reads nothing for a second:
    the relay stops reading the client leg instead of holding it all."""
    srv = OneServer()
    sp, port = start_relay("relay tls:127.0.0.1:0 tcp:127.0.0.1:%d --dir up" % srv.port,
                     args=["--quiet"])
    try:
        c = tls_connect(port)
        s = srv.accept()
        legs(sp)
        sent_early = slow_server_keeps_memory_flat(sp, c, s, 20 * 1024 * 1024)
        assert not sent_early, "20 MB cannot fit in the buffers: the relay read it all"
        c.close()
        s.close()
    finally:
        stop(sp)
        srv.close()


@test
def tls_options_go_to_the_leg_they_belong_to():
    for line, want in [
        ("relay tcp:127.0.0.1:0 tcp:127.0.0.1:9 --insecure", "--insecure is for a tls: target"),
        ("relay tcp:127.0.0.1:0 tls:127.0.0.1:9 --cert %s --key %s" % (CERT, KEY),
         "--cert is for a tls: listen address"),
        ("relay tls:127.0.0.1:0 tls:127.0.0.1:9 --ca /nonexistent.pem",
         "--ca /nonexistent.pem: No such file"),
        ("relay tls:127.0.0.1:0 tcp:127.0.0.1:9 --cert %s" % CERT, "--cert and --key go together"),
        ("relay tcp:127.0.0.1:0 tcp:127.0.0.1:9 --keylog /tmp/x", "--keylog is for tls: legs"),
    ]:
        rc, out, err = peers.run(["--headless", "-e", line])
        assert rc == 1, (line, rc, out)
        assert want.encode() in out + err, (line, out, err)
        assert b"listening" not in out, (line, out)


if __name__ == "__main__":
    peers.main()
