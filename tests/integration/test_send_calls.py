"""`send` lists its write calls (issue 11, DESIGN §11 `calls`): sockpit
makes each sendmsg() itself, so with a small send buffer and a peer that is
not reading, one big send shows several calls, partial returns among them,
and every byte still arrives, in order."""

import os
import socket
import tempfile
import time

import peers
from peers import Sockpit, test


@test
def big_send_to_a_paused_peer_takes_several_partial_calls():
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    size = 600000
    data = bytes((i * 7) % 251 for i in range(size))
    f = tempfile.NamedTemporaryFile(prefix="sockpit-calls-", delete=False)
    f.write(data)
    f.close()
    sp = Sockpit(["--timeout", "30", "-e", "connect tcp:127.0.0.1:%d" % port,
                  "-e", "set sndbuf 4096", "-e", "send --file " + f.name, "-e", "wait sent",
                  "-e", "quit"])
    c = None
    try:
        c, _ = lsock.accept()
        sp.wait_event(lambda e: e["ev"] == "connected")
        time.sleep(0.5)  # paused: the kernel's buffers fill and calls fall short
        got = peers.recv_all(c, timeout=20)
        assert sp.finish() == 0
        assert got == data, (len(got), size)
        sends = sp.of("send", 1)
        assert len(sends) == 1 and sends[0]["len"] == size, sends
        calls = sends[0]["calls"]
        assert sends[0]["writes"] >= 2 and len(calls) == min(sends[0]["writes"], 64), sends[0]
        numbers = [x for x in calls if isinstance(x, int)]
        assert all(x > 0 for x in numbers) and len(numbers) >= 2, calls
        assert numbers[0] < size, calls  # the first call fell short
        assert all(x == "EAGAIN" for x in calls if not isinstance(x, int)), calls
        if sends[0]["writes"] == len(calls):
            assert sum(numbers) == size, calls
    finally:
        if c:
            c.close()
        lsock.close()
        sp.kill()
        os.unlink(f.name)


@test
def small_send_is_one_call_that_took_everything():
    srv = peers.Server(lambda c: peers.recv_all(c))
    sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % srv.port,
                  "-e", "send hello", "-e", "send --split 2 abcde", "-e", "wait sent",
                  "-e", "quit"])
    try:
        assert sp.finish() == 0
        sends = sp.of("send", 1)
        assert [(e["writes"], e["calls"]) for e in sends] == [(1, [5]), (3, [2, 2, 1])], sends
    finally:
        srv.close()
        sp.kill()


if __name__ == "__main__":
    peers.main()
