#!/usr/bin/env python3
"""The TCP state sockpit shows is the kernel's own, compared with `ss -tan`:
a connection that went to TIME_WAIT while our descriptor is still open is
TIME_WAIT (the descriptor's own socket says CLOSE), in its state events and
in `info`, and no false CLOSE is published on the way."""

import re
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


if __name__ == "__main__":
    import peers

    peers.main()
