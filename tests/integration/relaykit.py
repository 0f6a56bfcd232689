"""Shared helpers for the relay integration tests (tcp:, unix: and tls:
legs): a server whose accept() is the test's own call, sockpit running one
relay line, what each leg's events carried, and checks that hold for any
legs. Every wait is bounded."""

import socket
import threading
import time

from peers import Sockpit


class OneServer:
    """A listening socket on 127.0.0.1 (TLS when ctx is given); accept() is
    the test's own call."""

    def __init__(self, ctx=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.ctx = ctx

    def accept(self, timeout=10.0):
        self.sock.settimeout(timeout)
        c, _ = self.sock.accept()
        c.settimeout(timeout)
        if self.ctx is not None:
            c = self.ctx.wrap_socket(c, server_side=True, suppress_ragged_eofs=False)
        return c

    def close(self):
        self.sock.close()


def start_relay(line, script_tail="", args=()):
    """sockpit running the relay line (then script_tail); returns (sp, the
    port its listen leg got)."""
    sp = Sockpit(["--timeout", "60"] + list(args), script=line + "\n" + script_tail)
    return sp, sp.port()


def stop(sp):
    sp.kill()
    sp.finish(5)


def hexdata(sp, ev, sock):
    return b"".join(bytes.fromhex(e["hex"]) for e in sp.of(ev, sock))


def notices(sp):
    return [e["message"] for e in sp.of("notice")]


def wait_notice(sp, text, timeout=10.0):
    return sp.wait_event(lambda e: e.get("ev") == "notice" and text in e["message"], timeout)


def legs(sp):
    """(client leg, target leg) from the relay's pairing notice."""
    ev = sp.wait_event(lambda e: e.get("ev") == "notice" and " through " in e["message"])
    words = ev["message"].split()
    return int(words[2]), int(words[-1])


def slow_server_keeps_memory_flat(sp, c, s, total, fin=False):
    """The client c writes total bytes (then, with fin, shuts its side down)
    while the server s reads nothing for a second: sockpit's RSS must grow
    less than 24 MiB meanwhile (the relay stops reading instead of holding
    it). Then s reads everything (on to EOF with fin), byte for byte.
    Returns whether the client had written it all within that second."""
    chunk = bytes(range(256)) * 256
    pattern = bytes(range(256)) * ((1 << 20) // 256 + 2)
    rss0 = sp.rss_kib()
    done = []

    def send():
        c.settimeout(30)
        n = 0
        while n < total:
            c.sendall(chunk)
            n += len(chunk)
        if fin:
            c.shutdown(socket.SHUT_WR)
        done.append(n)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    time.sleep(1.0)  # the server reads nothing meanwhile
    rss1 = sp.rss_kib()
    assert rss1 - rss0 < 24 * 1024, (rss0, rss1)
    sent_early = bool(done)
    got = 0
    s.settimeout(30)
    while fin or got < total:
        b = s.recv(1 << 20)
        if not b:
            break
        assert b == pattern[got % 256:got % 256 + len(b)], got
        got += len(b)
    t.join(10)
    assert got == total, got
    return sent_early
