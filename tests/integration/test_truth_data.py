"""What sockpit says about data must be what the kernel did (issue 9, Data):
hex words are data, never a socket ID (checked against the bytes a Python
peer received); each datagram is framed on its own; each datagram send has
its own outcome (a Python receiver counts what arrived); a frame_error
names its figures and does not change what `send` writes; a framing change
inside a message says so."""

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


if __name__ == "__main__":
    peers.main()
