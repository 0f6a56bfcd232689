#!/usr/bin/env python3
"""The TCP state sockpit shows is the kernel's own, compared with `ss -tan`:
a connection that went to TIME_WAIT while our descriptor is still open is
TIME_WAIT (the descriptor's own socket says CLOSE), in its state events and
in `info`, and no false CLOSE is published on the way."""

import re
import resource
import socket
import subprocess

from peers import Server, Sockpit, test


def ss_state(local, peer):
    """The state `ss -tan` shows for the connection local -> peer, or None."""
    out = subprocess.run(["ss", "-tan"], capture_output=True, text=True, timeout=10).stdout
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) >= 5 and f[3] == local and f[4] == peer:
            return f[0]
    return None


@test
def time_wait_with_the_descriptor_open_is_time_wait():
    def finish_at_eof(c):
        while c.recv(4096):
            pass
        c.close()

    srv = Server(finish_at_eof)
    try:
        # The peer closes as soon as our FIN arrives: FIN_WAIT1/2 are over
        # before any poll can see them.
        sp = Sockpit(["--timeout", "20", "-e", "connect tcp:127.0.0.1:%d" % srv.port,
                      "-e", "shutdown wr", "-e", "wait 1 state:TIME_WAIT", "-e", "sleep 200",
                      "-e", "info 1", "-e", "sleep 300", "-e", "quit"])
        conn = sp.wait_event(lambda e: e["ev"] == "connected")
        info = sp.wait_event(lambda e: e["ev"] == "output" and "tcp state" in e["text"])
        kernel = ss_state(conn["local"], conn["peer"])
        rc = sp.finish()
        assert rc == 0, (rc, sp.of("cmd_error"))
        assert kernel == "TIME-WAIT", kernel
        assert re.search(r"tcp state TIME_WAIT\b", info["text"]), info["text"]
        states = [e["tcp"] for e in sp.of("state", 1)]
        assert "TIME_WAIT" in states, states
        assert "CLOSE" not in states, states
    finally:
        srv.close()



@test
def following_a_closed_connection_costs_nothing_per_other_connection():
    # A connection in TIME_WAIT is followed through sock_diag. Asking the
    # kernel for its one address pair costs the same whatever the host
    # runs; a dump of every connection (as before: 0.3 s of CPU in 3 s with
    # 8000 others here) grows with the host.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 20000)), hard))
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1024)
    others = []
    try:
        for _ in range(4000):
            c = socket.create_connection(lst.getsockname())
            a, _ = lst.accept()
            others += [c, a]
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        sp = Sockpit(["--timeout", "20", "-e", "listen tcp:127.0.0.1:%d" % port,
                      "-e", "connect tcp:127.0.0.1:%d" % port, "-e", "wait 1 accepted",
                      "-e", "close 2", "-e", "wait 3 eof", "-e", "close 3", "-e", "sleep 3000", "-e", "quit"])
        assert sp.finish() == 0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        states = [e.get("tcp") for e in sp.of("state", 2)]
        assert "TIME_WAIT" in states, states
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert cpu < 0.15, "following one connection took %.2f s of CPU" % cpu
    finally:
        for s in others:
            s.close()
        lst.close()

if __name__ == "__main__":
    import peers

    peers.main()
