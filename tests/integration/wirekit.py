"""Helpers the wire-view integration tests share: the segment events of a
socket, tcpdump reading a pcap file back, the root check. Capturing needs
CAP_NET_RAW: the tests run as root and skip (exit 77) otherwise."""

import os
import shutil
import subprocess
import sys


def need_root():
    if os.geteuid() != 0:
        print("skip: capturing needs root (CAP_NET_RAW); CI runs as root")
        sys.exit(77)


def have_tcpdump():
    """False (and says the test skips) where tcpdump is not installed."""
    if shutil.which("tcpdump") is None:
        print("skip: no tcpdump")
        return False
    return True


def segs(sp, sock):
    """The segment events of socket sock, in order."""
    return [e for e in sp.events if e.get("ev") == "segment" and e.get("sock") == sock]


def tcpdump_read(path, *opts):
    """The lines `tcpdump -nn OPTS -r path` prints (it must succeed)."""
    p = subprocess.run(["tcpdump", "-nn", *opts, "-r", path], capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().splitlines()
