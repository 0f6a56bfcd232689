"""The wire view turned off and on again on a connection (issue 12): the
segments go on from the same ISNs and numbers, placed exactly, with no
mark for what passed while the capture was off. Needs root: skipped (exit
77) otherwise."""

import peers
import wirekit
from peers import Sockpit, test


@test
def wire_off_then_on_counts_on_from_the_same_isn():
    port = peers.free_port()
    sp = Sockpit(["-e", "listen tcp:127.0.0.1:%d --wire" % port,
                  "-e", "connect tcp:127.0.0.1:%d" % port, "-e", "wait 1 accepted",
                  "-e", "send 2 hello", "-e", "wait 3 bytes:5", "-e", "sleep 200",
                  "-e", "wire 3 off", "-e", "send 2 world", "-e", "wait 3 bytes:10",
                  "-e", "sleep 100", "-e", "wire 3 on",
                  "-e", "send 2 again", "-e", "wait 3 bytes:15", "-e", "sleep 200",
                  "-e", "quit"])
    try:
        assert sp.finish() == 0, sp.events[-5:]
        segs = wirekit.segs(sp, 3)
        ns = [e["n"] for e in segs]
        assert ns == sorted(set(ns)) and ns[0] == 1, ns  # numbered on, never again from 1
        data = [e for e in segs if e["dir"] == "in" and e["len"] > 0
                and "retransmission" not in e["marks"]]
        assert [(e["off"], e["len"], e["seq"]) for e in data] == [(0, 5, 1), (10, 5, 11)], data
        last = data[-1]
        assert last["isn_known"] and last["marks"] == [], last
        # "world" went by unseen: nothing after the capture came back is
        # marked as if its bytes had been lost.
        after = [e for e in segs if e["n"] > data[0]["n"]]
        assert all("gap" not in e["marks"] for e in after), after
    finally:
        sp.kill()


if __name__ == "__main__":
    wirekit.need_root()
    peers.main()
