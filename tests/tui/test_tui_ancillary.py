#!/usr/bin/env python3
"""The TUI shows ancillary data (issue 11) as rows of their own under the
recv they came with: a Python peer passes descriptors and its credentials to
an accepted Unix connection, and the pane shows SCM_CREDENTIALS with the
peer's pid and what each passed descriptor pointed to; a UDP socket with
recverr on shows the ICMP error of a datagram to a closed port."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmuxdrive as td  # noqa: E402

TAG = "sptanc%d" % os.getpid()


def test_control_messages_have_rows_under_their_recv():
    sess = td.Session(["-e", "listen unix:@%s" % TAG])
    c = None
    try:
        sess.wait_text("listening on @%s" % TAG)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(5)
        c.connect(b"\0" + TAG.encode())
        sess.wait_text("accepted from")
        sess.command("set 2 passcred on")
        sess.command("focus 2")
        fd = os.open("/dev/null", os.O_RDONLY)
        socket.send_fds(c, [b"with fds"], [fd])
        os.close(fd)
        want = "cmsg SCM_CREDENTIALS pid %d uid %d gid %d" % (os.getpid(), os.getuid(),
                                                             os.getgid())
        scr = sess.wait_for(lambda s: want in s and "cmsg SCM_RIGHTS fd" in s, 5,
                            "the credentials and descriptor rows")
        lines = scr.splitlines()
        at = [i for i, l in enumerate(lines) if '"with fds"' in l]
        assert at, scr
        below = "\n".join(lines[at[0] + 1:at[0] + 3])
        assert want in below and "-> /dev/null (character device" in below, scr
    finally:
        if c:
            c.close()
        sess.close()


def test_icmp_error_is_a_row_of_its_own():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    sess = td.Session(["-e", "bind udp:127.0.0.1:0", "-e", "set recverr on",
                       "-e", "send --to udp:127.0.0.1:%d knock" % closed])
    try:
        sess.wait_text("ICMP ECONNREFUSED (port unreachable) from 127.0.0.1 for 127.0.0.1:%d"
                       % closed)
    finally:
        sess.close()


def main():
    td.need_tmux()
    r = td.Runner()
    r.run(test_control_messages_have_rows_under_their_recv)
    r.run(test_icmp_error_is_a_row_of_its_own)
    r.finish()


if __name__ == "__main__":
    main()
