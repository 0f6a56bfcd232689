"""TLS (issue 13) against peers no one here wrote, on 127.0.0.1: `openssl
s_server` and `openssl s_client`, `curl -k`, and Python's ssl module for the
odd cases (a fatal alert, a close without close_notify, a certificate for
another host, an expired certificate, ALPN mismatch, the key log). Every
certificate is made here, in a temporary directory, with `openssl`; every
peer is started and stopped by PID; every wait is bounded."""

import os
import re
import socket
import ssl
import subprocess
import threading
import time

import peers
import tlskit
from peers import Sockpit, test
from tlskit import sh

TMP = tlskit.tmpdir("sockpit-tls-")


def make_expired_cert():
    """A self-signed certificate valid only in January 2020 (openssl ca takes
    explicit dates; OpenSSL 3.0's req and x509 do not)."""
    d = os.path.join(TMP, "ca")
    os.makedirs(os.path.join(d, "new"), exist_ok=True)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    conf = os.path.join(d, "ca.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca=c\n[c]\ndir=%s\ndatabase=$dir/index.txt\n"
                "new_certs_dir=$dir/new\nserial=$dir/serial\ndefault_md=sha256\n"
                "policy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n" % d)
    key = os.path.join(TMP, "expired.key")
    csr = os.path.join(TMP, "expired.csr")
    cert = os.path.join(TMP, "expired.pem")
    sh(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    sh(["openssl", "ca", "-batch", "-config", conf, "-selfsign", "-keyfile", key, "-in", csr,
        "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z"])
    return cert, key


CERT, KEY = tlskit.make_cert(TMP)


class PyServer:
    """One TLS connection served by handler(ssl_conn, raw_conn) in a thread."""

    def __init__(self, ctx, handler):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.ctx = ctx
        self.handler = handler
        self.error = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.lsock.settimeout(15)
        try:
            raw, _ = self.lsock.accept()
            raw.settimeout(15)
            try:
                # Ragged EOFs raise: a bare FIN is told from close_notify.
                conn = self.ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
            except (ssl.SSLError, OSError) as e:
                self.error = e
                raw.close()
                return
            self.handler(conn)
        except Exception as e:  # the test reads it
            self.error = e
        finally:
            self.lsock.close()

    def join(self):
        self.t.join(15)
        assert not self.t.is_alive()


def server_ctx(cert=CERT, key=KEY):
    return tlskit.server_ctx(cert, key)


def tls_events(sp, stage=None):
    return [e for e in sp.of("tls") if stage is None or e["stage"] == stage]


def records(sp, d):
    return [e for e in sp.of("tls_record") if e["dir"] == d]


@test
def against_openssl_s_server():
    """sockpit connects to `openssl s_server -rev`, verifies it with --ca,
    sends, expects the reversed line, sees the records of both directions on
    the ciphertext offsets of the recv events, and the close_notify."""
    port = peers.free_port()
    srv = tlskit.s_server(port, CERT, KEY, "-rev", "-naccept", "1")
    try:
        sp = Sockpit(["--timeout", "15", "-e", "connect tls:127.0.0.1:%d --ca %s" % (port, CERT),
                      "-e", 'send "hello\\n"', "-e", 'expect "olleh\\n"', "-e", "info",
                      "-e", "shutdown wr", "-e", "wait eof", "-e", "quit"])
        rc = sp.finish()
        assert rc == 0, (sp.of("cmd_error"), tls_events(sp))
    finally:
        peers.stop_proc(srv)
    done = tls_events(sp, "handshake_done")
    assert len(done) == 1 and "verify ok" in done[0]["message"], done
    out = records(sp, "out")
    assert out[0]["type"] == "handshake" and out[0]["handshake"] == ["ClientHello"], out[0]
    inn = records(sp, "in")
    assert inn[0]["handshake"][0] == "ServerHello", inn[0]
    # Every incoming record lies on the ciphertext stream the recv events carried.
    total = sum(e["len"] for e in sp.of("recv", 1))
    assert inn[-1]["end_off"] <= total
    for a, b in zip(inn, inn[1:]):
        assert a["end_off"] == b["off"]
    for r in inn:
        assert r["end_off"] - r["off"] == 5 + r["len"]
    # TLS 1.3 hides the rest of the handshake: said, not guessed; what
    # OpenSSL decrypted is reported as such, message by message.
    assert "TLSv1.3" in done[0]["message"], done
    assert all(r["encrypted"] for r in inn if r["type"] == "application_data")
    assert not any("Certificate" in r["what"] for r in inn), inn
    got = [e["message"].split(" (")[0] for e in tls_events(sp, "message")]
    for m in ("sent ClientHello", "received ServerHello", "received EncryptedExtensions",
              "received Certificate", "received CertificateVerify", "received Finished",
              "sent Finished", "received NewSessionTicket"):
        assert m in got, (m, got)
    msgs = sp.of("msg", 1)
    assert b"".join(bytes.fromhex(m["hex"]) for m in msgs) == b"olleh\n", msgs
    assert [e["stage"] for e in tls_events(sp)].count("close_notify_sent") == 1
    assert tls_events(sp, "close_notify"), tls_events(sp)
    assert not tls_events(sp, "truncated")


@test
def key_update_from_openssl_s_server():
    """s_server's `K` sends a KeyUpdate asking for ours: it arrives inside
    an encrypted record, OpenSSL reports it, and our answer goes out with
    our next write."""
    port = peers.free_port()
    srv = tlskit.s_server(port, CERT, KEY, "-naccept", "1", stdin=subprocess.PIPE)
    try:
        sp = Sockpit(["--timeout", "15", "-e", "connect tls:localhost:%d --ca %s" % (port, CERT),
                      "-e", "wait msg", "-e", 'send "after\\n"', "-e", "sleep 200", "-e", "quit"])
        sp.wait_event(lambda e: e.get("ev") == "tls" and e["stage"] == "handshake_done")
        srv.stdin.write(b"K\n")
        srv.stdin.flush()
        ku = sp.wait_event(lambda e: e.get("ev") == "tls" and e["stage"] == "message"
                           and e["message"].startswith("received KeyUpdate"))
        # s_server sends the line after its KeyUpdate: our `wait msg` holds.
        srv.stdin.write(b"ping\n")
        srv.stdin.flush()
        assert sp.finish() == 0, sp.of("cmd_error")
    finally:
        peers.stop_proc(srv)
    got = [e["message"].split(" (")[0] for e in tls_events(sp, "message")]
    assert "sent KeyUpdate" in got, got
    # The KeyUpdate came in an application_data record: encrypted to us.
    at = next(i for i, e in enumerate(sp.events) if e is ku)
    rec = [e for e in sp.events[:at] if e.get("ev") == "tls_record" and e["dir"] == "in"][-1]
    assert rec["type"] == "application_data" and rec["encrypted"], rec


@test
def openssl_s_client_sees_the_throwaway_certificate():
    """A listener without --cert makes a self-signed certificate for
    localhost; the fingerprint in its notice is the one s_client receives."""
    sp = Sockpit(["--timeout", "15", "-e", "listen tls:127.0.0.1:0 --echo"])
    try:
        port = sp.port()
        note = sp.wait_event(lambda e: e.get("ev") == "notice" and "fingerprint" in e["message"])
        fp = note["message"].rsplit(" ", 1)[1]
        cli = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                              "-servername", "localhost"],
                             input=b"", capture_output=True, timeout=15)
        pem = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                        cli.stdout, re.S)
        assert pem, cli.stdout[-400:]
        got = sh(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-subject"],
                 input=pem.group(0)).stdout.decode()
        assert fp in got and "CN = localhost" in got, (fp, got)
        # The echo works on the plaintext, both ways.
        cctx = ssl.create_default_context(cafile=None)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        with cctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                              server_hostname="localhost") as c:
            c.sendall(b"ping\n")
            assert peers.recv_until(c, b"ping\n") == b"ping\n"
        sp.wait_event(lambda e: e.get("ev") == "msg" and e.get("sock") == 3)
    finally:
        sp.kill()
    assert tls_events(sp, "handshake_done")


@test
def curl_gets_a_scripted_http_answer():
    script = ("listen tls:127.0.0.1:0 --framing delim:\\r\\n\\r\\n\n"
              "wait accepted\n"
              "wait msg\n"
              'send --raw "HTTP/1.0 200 OK\\r\\nContent-Length: 6\\r\\n\\r\\nhello\\n"\n'
              "shutdown wr\n"
              "wait eof\n"
              "close\n"
              "quit\n")
    sp = Sockpit(["--timeout", "20"], script=script)
    try:
        port = sp.port()
        r = subprocess.run(["curl", "-sk", "--max-time", "10", "https://127.0.0.1:%d/" % port],
                           capture_output=True, timeout=15)
        assert r.returncode == 0 and r.stdout == b"hello\n", (r.returncode, r.stdout, r.stderr)
        assert sp.finish() == 0, sp.of("cmd_error")
    finally:
        sp.kill()
    msg = sp.of("msg", 2)[0]
    assert bytes.fromhex(msg["hex"]).startswith(b"GET / HTTP/1.1\r\n")
    assert tls_events(sp, "close_notify_sent")


@test
def peer_sends_a_fatal_alert():
    """A TLS 1.2 server that requires a client certificate answers our empty
    one with a fatal alert before its own change_cipher_spec: the record is
    plaintext and decoded, and OpenSSL's report agrees."""
    ctx = server_ctx()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(CERT)
    srv = PyServer(ctx, lambda c: c.close())
    sp = Sockpit(["--timeout", "15", "-e",
                  "connect tls:127.0.0.1:%d --ca %s" % (srv.port, CERT), "-e", "quit"])
    sp.finish()
    srv.join()
    alerts = [r for r in records(sp, "in") if r["type"] == "alert"]
    assert alerts and alerts[0]["alert"]["level_name"] == "fatal", records(sp, "in")
    name = alerts[0]["alert"]["name"]
    got = [e["message"] for e in tls_events(sp, "alert")]
    assert any("received a fatal alert " + name in m for m in got), got
    assert tls_events(sp, "handshake_failed"), tls_events(sp)
    assert sp.of("cmd_error"), "connect must fail the line"


@test
def peer_closes_without_close_notify():
    def handler(conn):
        conn.sendall(b"bye\n")
        time.sleep(0.2)
        # SSLSocket.shutdown() drops TLS and shuts TCP down: a bare FIN.
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    srv = PyServer(server_ctx(), handler)
    sp = Sockpit(["--timeout", "15", "-e", "connect tls:localhost:%d --ca %s" % (srv.port, CERT),
                  "-e", 'expect "bye\\n"', "-e", "wait eof", "-e", "quit"])
    assert sp.finish() == 0, sp.of("cmd_error")
    srv.join()
    assert srv.error is None, srv.error
    trunc = tls_events(sp, "truncated")
    assert len(trunc) == 1 and "without close_notify" in trunc[0]["message"], tls_events(sp)
    assert not tls_events(sp, "close_notify")


@test
def certificate_for_another_host():
    cert, key = tlskit.make_cert(TMP, "otherhost", "DNS:otherhost")
    srv = PyServer(server_ctx(cert, key), lambda c: c.close())
    sp = Sockpit(["--timeout", "15", "-e", "connect tls:localhost:%d --ca %s" % (srv.port, cert),
                  "-e", "quit"])
    sp.finish()
    srv.join()
    v = tls_events(sp, "verify_failed")
    assert len(v) == 1 and "wrong host name" in v[0]["message"], tls_events(sp)
    closed = sp.of("closed", 1)
    assert closed and "TLS handshake failed" in closed[0]["reason"]
    # The alert we sent is a record of ours, plaintext before any CCS.
    sent = [r for r in records(sp, "out") if r["type"] == "alert"]
    assert sent and sent[0]["alert"]["name"] == "bad_certificate", records(sp, "out")


@test
def unknown_ca_and_insecure():
    srv = PyServer(server_ctx(), lambda c: c.close())
    sp = Sockpit(["--timeout", "15", "-e", "connect tls:localhost:%d" % srv.port, "-e", "quit"])
    sp.finish()
    srv.join()
    v = tls_events(sp, "verify_failed")
    assert v and "unknown CA" in v[0]["message"], tls_events(sp)

    def handler(conn):
        conn.sendall(b"hi\n")
        conn.unwrap()

    srv = PyServer(server_ctx(), handler)
    sp = Sockpit(["--timeout", "15", "-e", "connect tls:localhost:%d --insecure" % srv.port,
                  "-e", 'expect "hi\\n"', "-e", "quit"])
    assert sp.finish() == 0, sp.of("cmd_error")
    srv.join()
    assert any("--insecure" in e["message"] for e in sp.of("notice"))
    done = tls_events(sp, "handshake_done")
    assert done and "verify FAILED (unknown CA" in done[0]["message"], done


@test
def expired_certificate():
    cert, key = make_expired_cert()
    srv = PyServer(server_ctx(cert, key), lambda c: c.close())
    sp = Sockpit(["--timeout", "15", "-e", "connect tls:localhost:%d --ca %s" % (srv.port, cert),
                  "-e", "quit"])
    sp.finish()
    srv.join()
    v = tls_events(sp, "verify_failed")
    assert v and "expired" in v[0]["message"], tls_events(sp)


@test
def alpn_agreed_and_mismatched():
    ctx = server_ctx()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    srv = PyServer(ctx, lambda c: c.unwrap())
    sp = Sockpit(["--timeout", "15", "-e",
                  "connect tls:localhost:%d --ca %s --alpn http/1.1" % (srv.port, CERT),
                  "-e", "quit"])
    sp.finish()
    srv.join()
    done = tls_events(sp, "handshake_done")
    assert done and "ALPN http/1.1" in done[0]["message"], tls_events(sp)

    # Our listener accepts only h2; a client offering http/1.1 gets the
    # fatal no_application_protocol alert (RFC 7301).
    sp = Sockpit(["--timeout", "15", "-e", "listen tls:127.0.0.1:0 --alpn h2"])
    try:
        port = sp.port()
        cctx = ssl.create_default_context()
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        cctx.set_alpn_protocols(["http/1.1"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            cctx.wrap_socket(raw, server_hostname="localhost")
            raise AssertionError("the handshake must fail")
        except ssl.SSLError as e:
            assert "NO APPLICATION PROTOCOL" in str(e).upper().replace("_", " "), e
        finally:
            raw.close()
        sp.wait_event(lambda e: e.get("ev") == "closed" and e.get("sock") == 2)
    finally:
        sp.kill()
    assert tls_events(sp, "alpn_mismatch")
    sent = [r for r in records(sp, "out") if r["type"] == "alert"]
    assert sent and sent[0]["alert"]["name"] == "no_application_protocol", records(sp, "out")


@test
def keylog_lines_match_the_peer():
    """--keylog and SSLKEYLOGFILE write NSS key log lines; the server's own
    key log (Python's ssl) holds the very same secrets."""
    ours = os.path.join(TMP, "ours.keylog")
    env_log = os.path.join(TMP, "env.keylog")
    theirs = os.path.join(TMP, "theirs.keylog")
    ctx = server_ctx()
    ctx.keylog_filename = theirs
    srv = PyServer(ctx, lambda c: (c.sendall(b"k\n"), c.unwrap()))
    sp = Sockpit(["--timeout", "15", "-e", "connect tls:localhost:%d --ca %s --keylog %s"
                  % (srv.port, CERT, ours), "-e", 'expect "k\\n"', "-e", "quit"])
    assert sp.finish() == 0, sp.of("cmd_error")
    srv.join()
    with open(ours) as f:
        mine = [l for l in f.read().splitlines() if l]
    with open(theirs) as f:
        peer = [l for l in f.read().splitlines() if l and not l.startswith("#")]
    assert mine and all(re.match(r"^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+$", l) for l in mine), mine
    assert sorted(mine) == sorted(peer), (mine, peer)
    assert os.stat(ours).st_mode & 0o077 == 0

    srv = PyServer(server_ctx(), lambda c: c.unwrap())
    env = dict(os.environ, SSLKEYLOGFILE=env_log)
    p = subprocess.run([peers.SOCKPIT, "--headless", "--timeout", "15", "-e",
                        "connect tls:localhost:%d --ca %s" % (srv.port, CERT), "-e", "quit"],
                       env=env, capture_output=True, timeout=20)
    srv.join()
    assert p.returncode == 0, p.stdout[-500:]
    with open(env_log) as f:
        assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in f.read()


@test
def stdio_pipe_waits_for_the_handshake():
    """--stdio (nc style) on tls: sends stdin once the handshake is done and
    writes the plaintext to stdout; a failed verification says why."""
    port = peers.free_port()
    srv = tlskit.s_server(port, CERT, KEY, "-rev", "-naccept", "1")
    try:
        env = dict(os.environ, SSL_CERT_FILE=CERT)
        p = subprocess.Popen([peers.SOCKPIT, "--stdio", "--timeout", "10",
                              "tls:localhost:%d" % port], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        p.stdin.write(b"hello\n")
        p.stdin.flush()
        out = b""
        end = time.monotonic() + 10
        while not out.endswith(b"olleh\n") and time.monotonic() < end:
            chunk = p.stdout.read1(64)
            if not chunk:
                break
            out += chunk
        peers.stop_proc(p)
        assert out == b"olleh\n", (out, p.stderr.read())
    finally:
        peers.stop_proc(srv)
    # Without the CA the system store does not know the certificate. (A
    # --stdio run whose connect fails waits for --timeout, TLS or not.)
    srv = PyServer(server_ctx(), lambda c: c.close())
    rc, out, err = peers.run(["--stdio", "--timeout", "2", "tls:localhost:%d" % srv.port],
                             stdin_data=b"")
    srv.join()
    assert rc != 0 and b"TLS handshake failed: unknown CA" in err, err


def read_to_end(conn):
    """What the peer sent, and how it ended: 'close_notify' or the error."""
    got = b""
    while True:
        try:
            b = conn.recv(4096)
        except (ssl.SSLError, OSError) as e:
            return got, type(e).__name__
        if not b:
            return got, "close_notify"
        got += b


@test
def close_sends_close_notify_and_reset_does_not():
    for verb, want in (("close", "close_notify"), ("reset", None)):
        seen = []
        ctx = server_ctx()
        # No session tickets: unread tickets at our close(2) would make the
        # kernel send RST instead of FIN (sockpit says so), racing the
        # close_notify this test is about.
        ctx.num_tickets = 0
        srv = PyServer(ctx, lambda c: seen.append(read_to_end(c)))
        sp = Sockpit(["--timeout", "15", "-e",
                      "connect tls:localhost:%d --ca %s" % (srv.port, CERT), "-e", 'send "bye"',
                      "-e", "wait sent", "-e", verb, "-e", "quit"])
        assert sp.finish() == 0, sp.of("cmd_error")
        srv.join()
        assert srv.error is None, srv.error
        assert seen, verb
        # reset: RST (SO_LINGER 0 drops what the kernel has not sent yet, so
        # even "bye" may be lost under load), never a close_notify.
        if verb == "close":
            assert seen[0] == (b"bye", want), (verb, seen, sp.events[-8:])
            sent = [e for e in sp.of("tls") if e["stage"] == "close_notify_sent"]
            assert len(sent) == 1, sp.of("tls")
            # Reported before the socket's `closed` event, as it happened.
            evs = [e for e in sp.events if e.get("sock") == 1]
            at = next(i for i, e in enumerate(evs) if e.get("stage") == "close_notify_sent")
            closed = next(i for i, e in enumerate(evs) if e["ev"] == "closed")
            assert at < closed, evs[at:closed + 1]
            # Its record (encrypted in TLS 1.3) is the last one we wrote.
            assert evs[at - 1]["ev"] == "tls_record" and evs[at - 1]["dir"] == "out", evs[at - 1]
        else:
            assert seen[0][1] != "close_notify", (verb, seen)
            assert not [e for e in sp.of("tls") if e["stage"] == "close_notify_sent"]


@test
def a_peer_reset_gets_no_close_notify():
    """After the peer's RST there is no connection: sockpit says reset and
    tries no close_notify (nor reports one dropped)."""
    import struct

    def handler(conn):
        conn.sendall(b"x\n")
        time.sleep(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    srv = PyServer(server_ctx(), handler)
    sp = Sockpit(["--timeout", "15", "-e", "connect tls:localhost:%d --ca %s" % (srv.port, CERT),
                  "-e", 'expect "x\n"', "-e", "wait closed", "-e", "quit"])
    assert sp.finish() == 0, sp.of("cmd_error")
    srv.join()
    assert sp.of("closed", 1)[0]["reason"] == "peer reset", sp.of("closed")
    assert not [e for e in tls_events(sp) if e["stage"].startswith("close_notify")], tls_events(sp)


@test
def bad_options_are_refused_before_anything_is_made():
    rc, out, _ = peers.run(["--headless", "--timeout", "5", "-e", "connect tcp:127.0.0.1:1 --sni x"])
    assert rc != 0 and b"--sni is for tls: addresses" in out, out
    rc, out, _ = peers.run(["--headless", "--timeout", "5", "-e",
                            "listen tls:127.0.0.1:0 --cert /nonexistent --key /nonexistent"])
    assert rc != 0 and b"--cert /nonexistent: No such file or directory" in out, out
    # Refused before the socket was made: nothing listened, nothing closed.
    assert b"listening" not in out and b"closed" not in out, out
    rc, out, _ = peers.run(["--headless", "--timeout", "5", "-e",
                            "connect tls:127.0.0.1:1 --ca %s" % KEY])
    assert rc != 0 and b"--ca " in out and b"connected" not in out, out
    rc, out, _ = peers.run(["--headless", "--timeout", "5", "-e",
                            "connect tls:127.0.0.1:1 --alpn ,,"])
    assert rc != 0 and b"bad --alpn" in out, out


if __name__ == "__main__":
    peers.main()
