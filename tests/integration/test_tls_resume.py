"""TLS session resumption (issue 13): a `connect tls:` offers the session the
last connect to the same target was given, and says whether the server
accepted it (SSL_session_reused), against `openssl s_server` and Python's ssl
module, whose own view of each connection is the witness. Every peer is
started and stopped by PID; every wait is bounded."""

import socket
import ssl
import threading

import peers
import tlskit
from peers import Sockpit, test

TMP = tlskit.tmpdir("sockpit-resume-")
CERT, KEY = tlskit.make_cert(TMP)


def three_connects(port, third="--no-resume", line=("hi\\n", "ih\\n")):
    """Connects 1, 2 and 3 (with `third`'s options) to the same target in one
    run, each sending a line and expecting the answer before it closes (so the
    tickets that come with the handshake have been read)."""
    args = ["--timeout", "20"]
    for i, opt in enumerate(("", "", third)):
        args += ["-e", "connect tls:127.0.0.1:%d --ca %s %s" % (port, CERT, opt),
                 "-e", 'send "%s"' % line[0], "-e", 'expect "%s"' % line[1]]
        if i == 1:
            args += ["-e", "info"]
        args += ["-e", "close"]
    args += ["-e", "quit"]
    sp = Sockpit(args)
    rc = sp.finish()
    assert rc == 0, (sp.of("cmd_error"), sp.of("tls"))
    return sp


def against_s_server(*server_opts, third="--no-resume"):
    """three_connects to a fresh `openssl s_server -rev` with server_opts."""
    port = peers.free_port()
    srv = tlskit.s_server(port, CERT, KEY, "-rev", "-naccept", "3", *server_opts)
    try:
        return three_connects(port, third=third)
    finally:
        peers.stop_proc(srv)


def tls(sp, sock, stage):
    return [e["message"] for e in sp.of("tls", sock) if e["stage"] == stage]


def done(sp, sock):
    d = tls(sp, sock, "handshake_done")
    assert len(d) == 1, (sock, sp.of("tls", sock))
    return d[0]


def received(sp, sock):
    """The handshake messages OpenSSL read (it decrypted them: TLS 1.3 hides
    most of them from the record decoder)."""
    return [m.split(" (")[0] for m in tls(sp, sock, "message") if m.startswith("received")]


def hs_bytes_in(sp, sock):
    """Ciphertext record bytes the server sent up to our Finished."""
    n = 0
    for e in sp.events:
        if e.get("sock") != sock:
            continue
        if e.get("ev") == "tls" and e["stage"] == "handshake_done":
            return n
        if e.get("ev") == "tls_record" and e["dir"] == "in":
            n += e["len"]
    raise AssertionError("no handshake_done on %d" % sock)


@test
def openssl_s_server_resumes_the_second_connect():
    """First connect: a full handshake, and the tickets are kept. Second: the
    session offered and accepted, no Certificate in it (records and OpenSSL's
    messages agree). Third, --no-resume: none offered, a full one again."""
    sp = against_s_server()
    assert "session new (none to offer)" in done(sp, 1), done(sp, 1)
    assert tls(sp, 1, "session_kept"), sp.of("tls", 1)
    assert "session resumed (the server accepted the session we offered)" in done(sp, 2)
    assert "offering the session" in tls(sp, 2, "handshake")[0], tls(sp, 2, "handshake")
    assert "session new (--no-resume: none offered)" in done(sp, 3), done(sp, 3)
    assert "offering" not in tls(sp, 3, "handshake")[0]
    for sock in (1, 3):
        assert "received Certificate" in received(sp, sock), received(sp, sock)
    assert "received Certificate" not in received(sp, 2), received(sp, 2)
    assert "received CertificateVerify" not in received(sp, 2), received(sp, 2)
    # On the wire: the resumed handshake's encrypted flight has no certificate
    # in it, so it is smaller than the full one by at least the certificate.
    cert_len = len(open(CERT, "rb").read()) // 2  # PEM is base64: DER is about 3/4 of it
    assert hs_bytes_in(sp, 2) + cert_len < hs_bytes_in(sp, 1), (hs_bytes_in(sp, 1),
                                                                hs_bytes_in(sp, 2))
    # info says it too, and where the verification result comes from.
    info = "\n".join(e.get("text", "") for e in sp.events if e.get("ev") == "output")
    assert "session resumed" in info and "when the session was made" in info, info[-800:]


@test
def a_server_that_refuses_is_shown_refusing():
    """s_server without its session cache and without stateless tickets
    still hands out (stateful) tickets but cannot find them again: the
    session is offered and refused, a full handshake. With no tickets at all
    there is nothing to offer."""
    sp = against_s_server("-no_cache", "-no_ticket", third="")
    for sock in (2, 3):
        assert "the server refused the session we offered" in done(sp, sock), done(sp, sock)
        assert "received Certificate" in received(sp, sock), received(sp, sock)
    sp = against_s_server("-num_tickets", "0", third="")
    for sock in (1, 2, 3):
        assert "session new (none to offer)" in done(sp, sock), done(sp, sock)
    assert not [e for e in sp.of("tls") if e["stage"] == "session_kept"]


def py_server(ctx, n):
    """Serves n TLS connections (one line, uppercased) with one context;
    returns the listening port and a list that gets each connection's
    session_reused as Python's ssl saw it."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(15)
    reused = []

    def run():
        try:
            for _ in range(n):
                raw, _ = lsock.accept()
                raw.settimeout(15)
                with ctx.wrap_socket(raw, server_side=True) as c:
                    data = peers.recv_until(c, b"\n")
                    c.sendall(data.upper())
                    reused.append(c.session_reused)
                    try:
                        c.unwrap()
                    except (ssl.SSLError, OSError):
                        pass
        except OSError as e:
            reused.append(e)
        finally:
            lsock.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return lsock.getsockname()[1], reused, t


@test
def python_ssl_server_agrees_tls13_and_tls12():
    """Python's ssl server's own session_reused matches what sockpit says, in
    TLS 1.3 (tickets) and in TLS 1.2 (where a resumed session stays kept and
    is offered again)."""
    for version, third, want in ((ssl.TLSVersion.TLSv1_3, "--no-resume", [False, True, False]),
                                 (ssl.TLSVersion.TLSv1_2, "", [False, True, True])):
        ctx = tlskit.server_ctx(CERT, KEY)
        ctx.maximum_version = version
        port, reused, t = py_server(ctx, 3)
        sp = three_connects(port, third=third, line=("hi\\n", "HI\\n"))
        t.join(15)
        assert reused == want, (version, reused)
        for sock, r in zip((1, 2, 3), want):
            msg = done(sp, sock)
            assert ("session resumed" in msg) == r, (version, sock, msg)
            assert ("TLSv1.3" if version == ssl.TLSVersion.TLSv1_3 else "TLSv1.2") in msg, msg


@test
def a_session_does_not_cross_to_other_settings():
    """A session kept by a connect with --insecure is not offered by one
    that verifies (nor to another SNI): the key holds the settings."""
    ctx = tlskit.server_ctx(CERT, KEY)
    port, reused, t = py_server(ctx, 3)
    target = "tls:127.0.0.1:%d" % port
    sp = Sockpit(["--timeout", "20",
                  "-e", "connect %s --insecure" % target, "-e", 'send "a\\n"', "-e",
                  'expect "A\\n"', "-e", "close",
                  "-e", "connect %s --ca %s" % (target, CERT), "-e", 'send "b\\n"', "-e",
                  'expect "B\\n"', "-e", "close",
                  "-e", "connect %s --ca %s --sni other.example" % (target, CERT), "-e",
                  'send "c\\n"', "-e", 'expect "C\\n"', "-e", "close", "-e", "quit"])
    assert sp.finish() == 0, sp.of("cmd_error")
    t.join(15)
    assert reused == [False, False, False], reused
    for sock in (1, 2, 3):
        assert "session new (none to offer)" in done(sp, sock), done(sp, sock)


@test
def sockpit_listener_resumes_its_clients():
    """A sockpit TLS listener resumes the sessions it gave, and its side of
    the handshake says so."""
    sp = Sockpit(["--timeout", "20", "-e",
                  "listen tls:127.0.0.1:0 --echo --cert %s --key %s" % (CERT, KEY)])
    try:
        port = sp.port()
        sp2 = three_connects(port, third="", line=("hi\\n", "hi\\n"))
        for sock in (2, 3):
            assert "session resumed" in done(sp2, sock), done(sp2, sock)
        got = sp.wait_event(lambda e: e.get("ev") == "tls" and e["stage"] == "handshake_done"
                            and "session resumed (the client's offer accepted)" in e["message"])
        assert got["sock"] in (3, 4), got
    finally:
        sp.kill()


@test
def no_resume_is_for_tls_addresses():
    rc, out, _ = peers.run(["--headless", "--timeout", "5", "-e",
                            "connect tcp:127.0.0.1:1 --no-resume"])
    assert rc != 0 and b"--no-resume is for tls: addresses" in out, out


if __name__ == "__main__":
    peers.main()
