"""`info` lists the ancillary options that apply to a socket, each as the
kernel reports it (getsockopt), and the control buffer its recvs get; a TCP
socket, to which none applies, has no such line. Real sockets on loopback
and Unix sockets the test makes; every wait is bounded."""

import os
import shutil
import socket
import tempfile

from peers import Sockpit, test
import peers


def info_lines(args):
    sp = Sockpit(["--timeout", "15"] + args + ["-e", "quit"])
    assert sp.finish() == 0, sp.of("cmd_error")
    return [e["text"] for e in sp.of("output")]


def anc(lines):
    return [l for l in lines if l.startswith("  ancillary")]


@test
def udp_options_on_and_off_and_the_control_buffer():
    lines = info_lines(["-e", "bind udp:127.0.0.1:0", "-e", "info",
                        "-e", "set pktinfo on", "-e", "set recverr on", "-e", "info",
                        "-e", "set cmsgbuf 512", "-e", "set pktinfo off", "-e", "info"])
    a = anc(lines)
    assert len(a) == 3, lines
    assert a[0] == ("  ancillary (getsockopt): pktinfo off, recvttl off, recvtos off, "
                    "timestamp off, recverr off; no control buffer (nothing asked for)"), a[0]
    assert "pktinfo on" in a[1] and "recverr on" in a[1] and "recvttl off" in a[1], a[1]
    assert a[1].endswith("control buffer 2048 bytes (default)"), a[1]
    assert "pktinfo off" in a[2] and "recverr on" in a[2], a[2]
    assert a[2].endswith("control buffer 512 bytes (set cmsgbuf)"), a[2]


@test
def ipv6_udp_too():
    lines = info_lines(["-e", "bind udp:[::1]:0", "-e", "set recvttl on", "-e", "info"])
    a = anc(lines)
    assert len(a) == 1 and "recvttl on" in a[0], lines


@test
def unix_sockets_always_have_a_control_buffer():
    d = tempfile.mkdtemp(prefix="sockpit-anc-")
    try:
        path = os.path.join(d, "srv.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        lines = info_lines(["-e", "connect unix:%s" % path, "-e", "info",
                            "-e", "set passcred on", "-e", "info",
                            "-e", "bind unix-dgram:%s" % os.path.join(d, "dg.sock"),
                            "-e", "set timestamp on", "-e", "info"])
        srv.close()
        a = anc(lines)
        assert len(a) == 3, lines
        # SCM_RIGHTS needs no option: a Unix socket reads with a buffer anyway.
        assert a[0] == ("  ancillary (getsockopt): passcred off; control buffer 2048 bytes "
                        "(default)"), a[0]
        assert a[1].startswith("  ancillary (getsockopt): passcred on;"), a[1]
        assert a[2].startswith("  ancillary (getsockopt): passcred off, timestamp on;"), a[2]
    finally:
        shutil.rmtree(d, ignore_errors=True)


@test
def tcp_sockets_have_no_ancillary_line():
    lines = info_lines(["-e", "listen tcp:127.0.0.1:0", "-e", "info"])
    assert lines and not anc(lines), lines


if __name__ == "__main__":
    peers.main()
