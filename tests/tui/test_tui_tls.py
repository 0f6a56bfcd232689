#!/usr/bin/env python3
"""The TUI's TLS layer (issue 13): a TLS listener in the real binary inside
tmux, a Python ssl client. The chunks view shows each ciphertext recv with
the records it carried (which chunk, which offsets, what is inside); the
message view shows the plaintext messages next to the records and OpenSSL's
report; the state line says the TLS progress next to the TCP state, and a
peer's close_notify is told apart from a bare FIN."""
import os
import re
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402


def client(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = td.tcp_connect(port)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def listen_tls(sess):
    sess.command("listen tls:127.0.0.1:0")
    pat = r"listening on 127\.0\.0\.1:(\d+)"
    scr = sess.wait_for(lambda s: re.search(pat, s), 5, "the listening event")
    return int(re.search(pat, scr).group(1))


def test_records_between_chunks_and_messages():
    sess = td.Session([], width=160)
    c = None
    try:
        port = listen_tls(sess)
        c = client(port)
        sess.wait_text("accepted from")
        c.sendall(b"ping\n")
        scr = sess.wait_text("TLS handshake_done")
        scr = sess.wait_for(lambda s: '"ping\\n"' in s, 5, "the plaintext message")
        # Chunks view: the first recv and the ClientHello record it carried.
        assert re.search(r"recv #1 ", scr), scr
        assert re.search(r"TLS in record handshake TLS1\.\d \d+ B @0-\d+ chunk 1: ClientHello",
                         scr), scr
        assert "TLS out record handshake" in scr and "ServerHello" in scr, scr
        assert re.search(r"TLSv1\.3", scr), scr
        sess.command("view msgs")
        scr = sess.wait_for(lambda s: "msg #1" in s and "messages" in s.splitlines()[0], 5,
                            "the message view")
        assert '"ping\\n"' in scr and "TLS handshake_done" in scr, scr
        # unwrap() sends close_notify, then waits for ours, which sockpit
        # leaves to the user (shutdown wr): a short wait is enough.
        c.settimeout(0.5)
        try:
            c.unwrap()
        except (socket.timeout, ssl.SSLError, OSError):
            pass
        scr = sess.wait_text("TLS close_notify: the peer sent close_notify")
        assert "without close_notify" not in scr, scr
    finally:
        if c:
            c.close()
        sess.close()


def test_bare_fin_is_a_truncation():
    sess = td.Session([], width=160)
    c = None
    try:
        port = listen_tls(sess)
        c = client(port)
        sess.wait_text("accepted from")
        c.sendall(b"x\n")
        sess.wait_text("TLS handshake_done")
        # SSLSocket.shutdown() leaves TLS without close_notify: a bare FIN.
        c.shutdown(socket.SHUT_RDWR)
        scr = sess.wait_text("TLS truncated")
        assert "FIN without close_notify" in scr, scr
    finally:
        if c:
            c.close()
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    for fn in (test_records_between_chunks_and_messages, test_bare_fin_is_a_truncation):
        r.run(fn)
    r.finish()


if __name__ == "__main__":
    main()
