"""Shared helpers for the TLS integration tests: certificates made with
`openssl` in a test's own temporary directory, `openssl s_server` started and
waited for without using up one of its connections, and Python ssl contexts.
Every wait is bounded."""

import atexit
import os
import shutil
import ssl
import subprocess
import tempfile
import threading

LOCALHOST_SAN = "DNS:localhost,IP:127.0.0.1"


def tmpdir(prefix):
    """The test file's directory for certificates and key logs, removed when
    the test process exits (peers.main ends with sys.exit)."""
    d = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, timeout=30, **kw)


def make_cert(d, name="localhost", san=LOCALHOST_SAN, days=2):
    """A self-signed EC certificate and key for CN=name in d; returns their
    paths."""
    cert = os.path.join(d, name + ".pem")
    key = os.path.join(d, name + ".key")
    sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-out", cert, "-days", str(days), "-subj", "/CN=" + name,
        "-addext", "subjectAltName=" + san])
    return cert, key


def wait_accepting(proc, timeout=10.0):
    """s_server prints ACCEPT once it listens (a probe connection would use
    up one of its -naccept)."""
    got = []

    def read():
        for _ in range(20):
            line = proc.stdout.readline()
            got.append(line)
            if not line or b"ACCEPT" in line:
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    assert got and b"ACCEPT" in got[-1], (got, proc.poll())


def s_server(port, cert, key, *opts, stdin=subprocess.DEVNULL):
    """`openssl s_server` on 127.0.0.1:port with opts, once it listens (stdin
    a pipe for a test that types s_server's commands); the caller stops it
    with peers.stop_proc."""
    proc = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert",
                             cert, "-key", key] + list(opts),
                            stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_accepting(proc)
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        raise
    return proc


def server_ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx
