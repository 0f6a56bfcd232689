"""The wire view's pcap file against the kernel, found trying it as a user
would (issue 12): `log --pcap FILE` given before the sockets exist, a
watched client connecting to a watched listener (each packet is then two
segment events, the listener's handshake held until accept(2)): the file
tcpdump reads back has each packet once, the same count, flags and
sequence numbers as tcpdump capturing on lo at the same time. Needs root
(CAP_NET_RAW): skipped (exit 77) otherwise."""

import os
import re
import shutil
import subprocess
import tempfile
import time

import peers
from peers import Sockpit, free_port, test
from wirekit import have_tcpdump, need_root, segs, tcpdump_read


def summary(lines):
    """Each packet as tcpdump -S prints it, without the time stamp."""
    return [re.sub(r"^\S+ ", "", ln) for ln in lines if " IP " in ln]


def read_back(path):
    return summary(tcpdump_read(path, "-S"))


@test
def live_pcap_of_every_socket_has_each_packet_once():
    if not have_tcpdump():
        return
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="sockpit-wireqa-")
    ours, theirs = os.path.join(tmp, "all.pcap"), os.path.join(tmp, "lo.pcap")
    td = subprocess.Popen(["tcpdump", "--immediate-mode", "-U", "-nn", "-i", "lo", "-w", theirs,
                           "tcp port %d" % port], stderr=subprocess.PIPE)
    sp = None
    try:
        # tcpdump says "listening on lo" once its capture runs.
        deadline = time.monotonic() + 10
        line = b""
        while b"listening on" not in line and time.monotonic() < deadline:
            line = td.stderr.readline()
        assert b"listening on" in line, line
        # It says so just before its capture starts running: a moment more.
        time.sleep(0.5)
        sp = Sockpit(["-e", "log --pcap " + ours,
                      "-e", "listen tcp:127.0.0.1:%d --wire" % port,
                      "-e", "connect tcp:127.0.0.1:%d --wire" % port,
                      "-e", "wait 1 accepted", "-e", "send 2 hello", "-e", "wait 3 bytes:5",
                      "-e", "close 2", "-e", "wait 3 eof", "-e", "close 3", "-e", "sleep 500",
                      "-e", "quit"])
        assert sp.finish() == 0, sp.events[-5:]
        time.sleep(0.3)
        td.terminate()
        td.wait(timeout=10)
        want = read_back(theirs)
        got = read_back(ours)
        seen = segs(sp, 3)
        assert len(want) == len(seen), (want, seen)
        assert got == want, "\n".join(["ours:"] + got + ["lo:"] + want)
    finally:
        if td.poll() is None:
            td.kill()
            td.wait(timeout=10)
        if sp is not None:
            sp.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    need_root()
    peers.main()
