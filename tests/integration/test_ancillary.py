"""Ancillary data (issue 11): the control messages a recvmsg() returns, on
the automatic reads and on a manual recv, against real Python peers that
make them with sendmsg()/send_fds() and socket options: SCM_RIGHTS (shown,
closed, never leaked, MSG_CTRUNC when the buffer is short), SCM_CREDENTIALS,
IP_PKTINFO, IP_TTL, IP_TOS, IPv6 hop limit and pktinfo, SO_TIMESTAMPNS, the
IP_RECVERR error queue as icmp_error events, `send --fd` both ways, and
the options refused where they do not apply."""

import array
import os
import socket
import struct
import tempfile
import time

import peers
from peers import Sockpit, test


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_path(sp):
    """Until sockpit's socket 1 is listening (or bound): its path exists
    from bind(2) on, but a connect before listen(2) would be refused."""
    if sp.json_mode:
        sp.wait_event(lambda e: e.get("ev") in ("listening", "bound") and e.get("sock") == 1)
        return
    end = time.monotonic() + 10
    while not any(b"[1] listening" in l for l in list(sp.lines)):
        assert time.monotonic() < end, sp.lines
        time.sleep(0.02)


def recvs(sp, sock):
    return sp.of("recv", sock)


def wait_recv(sp, sock, data, timeout=10.0):
    return sp.wait_event(lambda e: e.get("ev") == "recv" and e.get("sock") == sock
                         and bytes.fromhex(e["hex"]) == data, timeout)


def unix_pair_with_sockpit(tmp, script_after_accept, json_mode=True):
    """sockpit listens on a Unix path and runs the lines after accepting us;
    its last line sends "ready", so we know the options are on. Returns
    (sockpit, our connected socket)."""
    path = os.path.join(tmp, "s")
    args = ["--timeout", "30", "-e", "listen unix:%s" % path, "-e", "wait accepted"]
    for line in script_after_accept + ["send 2 ready", "wait 2 eof --timeout 20000", "quit"]:
        args += ["-e", line]
    sp = Sockpit(args, json_mode=json_mode)
    wait_path(sp)
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.connect(path)
    u.settimeout(10)
    assert peers.recv_until(u, b"ready") == b"ready"
    return sp, u


def cmsgs(ev, name):
    return [c for c in ev["cmsg"] if c["name"] == name]


@test
def scm_rights_shows_what_each_descriptor_is_and_closes_it():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        target = os.path.join(tmp, "secret.txt")
        with open(target, "w") as f:
            f.write("never read by sockpit\n")
        os.chmod(target, 0o640)
        sp, u = unix_pair_with_sockpit(tmp, [])
        try:
            before = fd_count(sp.proc.pid)
            fd = os.open(target, os.O_RDONLY)
            r, w = os.pipe()
            socket.send_fds(u, [b"two fds"], [fd, r])
            os.close(fd)
            os.close(r)
            ev = wait_recv(sp, 2, b"two fds")
            rights = cmsgs(ev, "SCM_RIGHTS")
            assert len(rights) == 2, ev
            assert rights[0]["target"] == target and rights[0]["file_type"] == "regular file"
            assert rights[0]["mode"] == "0640" and rights[0]["closed"] is True, rights[0]
            assert rights[1]["target"].startswith("pipe:[") and rights[1]["file_type"] == "pipe"
            assert ev["flags"] == [], ev
            # Closed at once: the pipe's read end is gone from sockpit too,
            # so with ours closed a write finds no reader.
            time.sleep(0.1)
            assert fd_count(sp.proc.pid) == before
            try:
                os.write(w, b"x")
                assert False, "the pipe still has a reader"
            except BrokenPipeError:
                pass
            os.close(w)
            # Bytes without descriptors: a recv with no control messages.
            u.sendall(b"plain")
            ev = wait_recv(sp, 2, b"plain")
            assert ev["cmsg"] == [], ev
            u.close()
            assert sp.finish() == 0, sp.of("cmd_error")
        finally:
            sp.kill()
            u.close()


@test
def ctrunc_is_shown_when_descriptors_overflow_the_control_buffer():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        sp, u = unix_pair_with_sockpit(tmp, ["set 2 cmsgbuf 64"])
        try:
            before = fd_count(sp.proc.pid)
            fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(20)]
            socket.send_fds(u, [b"many"], fds)
            for fd in fds:
                os.close(fd)
            ev = wait_recv(sp, 2, b"many")
            assert "MSG_CTRUNC" in ev["flags"], ev
            # CMSG_LEN(n * 4) <= 64: the kernel passed 12, closed the rest.
            rights = cmsgs(ev, "SCM_RIGHTS")
            assert 0 < len(rights) <= 12 and all(r["target"] == "/dev/null" for r in rights), ev
            time.sleep(0.1)
            assert fd_count(sp.proc.pid) == before
            u.close()
            assert sp.finish() == 0
        finally:
            sp.kill()
            u.close()


@test
def ctrunc_has_its_own_line_under_the_recv_in_text():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        sp, u = unix_pair_with_sockpit(tmp, ["set 2 cmsgbuf 0"], json_mode=False)
        try:
            socket.send_fds(u, [b"fd"], [0])
            time.sleep(0.3)
            u.close()
            assert sp.finish() == 0
        finally:
            sp.kill()
        text = b"".join(sp.lines).decode()
        line = [l for l in text.splitlines() if ' recv #1 2 bytes' in l][0]
        assert "flags MSG_CTRUNC" in line and line.endswith(': "fd"'), text
        assert "\n    cmsg MSG_CTRUNC: the control buffer was too small" in text, text


@test
def passcred_gives_the_senders_pid_uid_gid_on_each_recv():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        sp, u = unix_pair_with_sockpit(tmp, ["set 2 passcred on"])
        try:
            u.sendall(b"one")
            ev = wait_recv(sp, 2, b"one")
            time.sleep(0.05)
            u.sendall(b"two")
            ev2 = wait_recv(sp, 2, b"two")
            for e in (ev, ev2):
                cred = cmsgs(e, "SCM_CREDENTIALS")
                assert len(cred) == 1, e
                assert (cred[0]["pid"], cred[0]["uid"], cred[0]["gid"]) == \
                    (os.getpid(), os.getuid(), os.getgid()), cred
            u.close()
            assert sp.finish() == 0
        finally:
            sp.kill()
            u.close()


@test
def manual_recv_while_paused_carries_the_control_messages_too():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        path = os.path.join(tmp, "s")
        sp = Sockpit(["--timeout", "30", "-e", "listen unix:%s" % path, "-e", "wait accepted",
                      "-e", "pause 2", "-e", "set 2 passcred on", "-e", "send 2 ready",
                      "-e", "recv 2 --block", "-e", "quit"])
        try:
            wait_path(sp)
            u = socket.socket(socket.AF_UNIX)
            u.connect(path)
            u.settimeout(10)
            assert peers.recv_until(u, b"ready") == b"ready"
            before = fd_count(sp.proc.pid)
            socket.send_fds(u, [b"later"], [0])
            ev = wait_recv(sp, 2, b"later")
            assert ev["blocked_ms"] >= 0
            assert cmsgs(ev, "SCM_RIGHTS")[0]["fd"] >= 0
            assert cmsgs(ev, "SCM_CREDENTIALS")[0]["pid"] == os.getpid()
            assert fd_count(sp.proc.pid) <= before
            assert sp.finish() == 0
            u.close()
        finally:
            sp.kill()


@test
def unix_datagrams_carry_descriptors_and_timestamps():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        path = os.path.join(tmp, "d")
        sp = Sockpit(["--timeout", "30", "-e", "bind unix-dgram:%s" % path,
                      "-e", "set timestamp on", "-e", "set passcred on"])
        try:
            wait_path(sp)
            time.sleep(0.2)
            d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            t0 = time.time()
            d.sendmsg([b"dg"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0]))],
                      0, path)
            ev = wait_recv(sp, 1, b"dg")
            assert cmsgs(ev, "SCM_RIGHTS")[0]["file_type"] != "unknown", ev
            assert cmsgs(ev, "SCM_CREDENTIALS")[0]["pid"] == os.getpid(), ev
            ts = cmsgs(ev, "SCM_TIMESTAMPNS")[0]
            stamp = ts["sec"] + ts["nsec"] / 1e9
            assert abs(stamp - t0) < 5, (stamp, t0)
            assert 0 <= ts["waited_ms"] < 5000, ts
            d.close()
        finally:
            sp.kill()


def udp_sockpit(extra, host="127.0.0.1"):
    args = ["--timeout", "30", "-e", "bind udp:%s:0" % host]
    for line in extra:
        args += ["-e", line]
    sp = Sockpit(args)
    ev = sp.wait_event(lambda e: e.get("ev") == "bound")
    port = int(ev["local"].rsplit(":", 1)[1])
    return sp, port


def sync_udp(sp, port, family=socket.AF_INET, host="127.0.0.1"):
    """The option lines ran once a datagram sent after them is seen."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.sendto(b"sync", (host, port))
    wait_recv(sp, 1, b"sync")
    s.close()


@test
def pktinfo_ttl_and_tos_of_a_udp_datagram():
    # Bound to every address, so that the destination 127.0.0.7 is the
    # datagram's own, not the socket's.
    sp, port = udp_sockpit(["set pktinfo on", "set recvttl on", "set recvtos on", "send 1 --to "
                            "udp:127.0.0.1:9 x"], host="0.0.0.0")
    try:
        sp.wait_event(lambda e: e.get("ev") in ("send", "error"))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 7)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10)
        s.sendto(b"to seven", ("127.0.0.7", port))
        ev = wait_recv(sp, 1, b"to seven")
        pi = cmsgs(ev, "IP_PKTINFO")[0]
        assert pi["dst"] == "127.0.0.7" and pi["ifname"] == "lo" and pi["ifindex"] == \
            socket.if_nametoindex("lo"), pi
        assert cmsgs(ev, "IP_TTL")[0]["ttl"] == 7, ev
        assert cmsgs(ev, "IP_TOS")[0]["tos"] == 0x10, ev
        assert ev["from"] == "127.0.0.1:%d" % s.getsockname()[1], ev
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 33)
        s.sendto(b"to three", ("127.0.0.3", port))
        ev = wait_recv(sp, 1, b"to three")
        assert cmsgs(ev, "IP_PKTINFO")[0]["dst"] == "127.0.0.3"
        assert cmsgs(ev, "IP_TTL")[0]["ttl"] == 33
        s.close()
    finally:
        sp.kill()


@test
def turning_the_options_off_goes_back_to_plain_reads():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sp = Sockpit(["--timeout", "30", "-e", "bind udp:127.0.0.1:0", "-e", "set pktinfo on",
                  "-e", "set pktinfo off", "-e", "set recvttl on", "-e", "set recvttl off"])
    try:
        ev = sp.wait_event(lambda e: e.get("ev") == "bound")
        port = int(ev["local"].rsplit(":", 1)[1])
        time.sleep(0.3)
        s.sendto(b"without", ("127.0.0.1", port))
        ev = wait_recv(sp, 1, b"without")
        assert ev["cmsg"] == [], ev
    finally:
        sp.kill()
        s.close()


@test
def ipv6_hop_limit_traffic_class_and_pktinfo():
    sp, port = udp_sockpit(["set pktinfo on", "set recvttl on", "set recvtos on"], host="[::1]")
    try:
        time.sleep(0.3)
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 9)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, 0x20)
        s.sendto(b"six", ("::1", port))
        ev = wait_recv(sp, 1, b"six")
        assert cmsgs(ev, "IPV6_PKTINFO")[0]["dst"] == "::1", ev
        assert cmsgs(ev, "IPV6_HOPLIMIT")[0]["ttl"] == 9, ev
        assert cmsgs(ev, "IPV6_TCLASS")[0]["tos"] == 0x20, ev
        s.close()
    finally:
        sp.kill()


@test
def timestamp_says_how_long_the_bytes_waited_in_the_kernel():
    # Socket 1 is paused when the datagram arrives; socket 2 hears from us
    # 0.5 s later, and only then is 1 resumed: the bytes waited that long.
    # The kernel turns stamping on arrival on for the whole system shortly
    # after the first socket asks (deferred work); a datagram that came
    # before is stamped when read: the sleep lets it take effect.
    py = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    py.bind(("127.0.0.1", 0))
    py.settimeout(10)
    sp = Sockpit(["--timeout", "30", "-e", "bind udp:127.0.0.1:0", "-e", "set timestamp on",
                  "-e", "pause", "-e", "sleep 200", "-e", "bind udp:127.0.0.1:0",
                  "-e", "send 2 --to udp:127.0.0.1:%d go" % py.getsockname()[1],
                  "-e", "wait 2 recv", "-e", "resume 1"])
    try:
        port1 = sp.port(1)
        port2 = sp.port(2)
        assert py.recv(16) == b"go"
        t0 = time.time()
        py.sendto(b"stamped", ("127.0.0.1", port1))
        time.sleep(0.5)
        py.sendto(b"now", ("127.0.0.1", port2))
        ev = wait_recv(sp, 1, b"stamped")
        ts = cmsgs(ev, "SCM_TIMESTAMPNS")[0]
        stamp = ts["sec"] + ts["nsec"] / 1e9
        assert abs(stamp - t0) < 2, (stamp, t0)
        assert 400 <= ts["waited_ms"] < 20000, ts
    finally:
        sp.kill()
        py.close()


def closed_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@test
def recverr_reads_port_unreachable_from_the_error_queue():
    port = closed_udp_port()
    sp = Sockpit(["--timeout", "30", "-e", "bind udp:127.0.0.1:0", "-e", "set recverr on",
                  "-e", "send --to udp:127.0.0.1:%d knock" % port])
    try:
        ev = sp.wait_event(lambda e: e.get("ev") == "icmp_error")
        assert ev["code"] == "ECONNREFUSED" and ev["message"] == "port unreachable", ev
        assert ev["origin"] == "icmp" and ev["icmp_type"] == 3 and ev["icmp_code"] == 3, ev
        assert ev["offender"] == "127.0.0.1", ev
        assert ev["to"] == "127.0.0.1:%d" % port, ev
        assert bytes.fromhex(ev["hex"]) == b"knock", ev
        assert ev["cmsg"][0]["name"] == "IP_RECVERR" and ev["cmsg"][0]["errno"] == "ECONNREFUSED"
        # The socket goes on: a datagram still arrives afterwards.
        bound = sp.of("bound")[0]
        mine = int(bound["local"].rsplit(":", 1)[1])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"after", ("127.0.0.1", mine))
        wait_recv(sp, 1, b"after")
        s.close()
        assert not sp.of("error"), sp.of("error")
    finally:
        sp.kill()
    # Without recverr an unconnected socket hears nothing of it.
    rc, out, err = peers.run(["--headless", "--json", "-e", "bind udp:127.0.0.1:0",
                              "-e", "send --to udp:127.0.0.1:%d knock" % port, "-e", "sleep 300",
                              "-e", "quit"], timeout=20)
    assert rc == 0 and b"icmp_error" not in out, out


@test
def recverr_text_names_the_error_and_the_datagram():
    port = closed_udp_port()
    rc, out, err = peers.run(["--headless", "-e", "bind udp:127.0.0.1:0", "-e", "set recverr on",
                              "-e", "send --to udp:127.0.0.1:%d knock" % port, "-e", "sleep 300",
                              "-e", "quit"], timeout=20)
    text = out.decode()
    assert rc == 0, text
    want = ("icmp_error ECONNREFUSED port unreachable (icmp type 3 code 3) from 127.0.0.1 for a "
            "datagram to 127.0.0.1:%d (5 bytes): \"knock\"" % port)
    assert want in text, text


@test
def send_fd_passes_a_descriptor_python_can_read():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        path = os.path.join(tmp, "py")
        target = os.path.join(tmp, "payload.txt")
        with open(target, "w") as f:
            f.write("read through the passed descriptor\n")
        lsock = socket.socket(socket.AF_UNIX)
        lsock.bind(path)
        lsock.listen(1)
        lsock.settimeout(10)
        missing = os.path.join(tmp, "no-such-file")
        sp = Sockpit(["--timeout", "30", "--keep-going", "-e", "connect unix:%s" % path,
                      "-e", "send --fd %s one" % target, "-e", "send --fd %s lost" % missing,
                      "-e", "send --fd %s two" % target, "-e", "wait sent"])
        try:
            c, _ = lsock.accept()
            c.settimeout(10)
            msg, fds, _, _ = socket.recv_fds(c, 16, 4)
            assert msg == b"one" and len(fds) == 1, (msg, fds)
            with os.fdopen(fds[0]) as f:
                assert f.read() == "read through the passed descriptor\n"
            # The unopenable path sent nothing: the next bytes are "two".
            msg, fds, _, _ = socket.recv_fds(c, 16, 4)
            assert msg == b"two" and len(fds) == 1, (msg, fds)
            os.close(fds[0])
            sp.wait_event(lambda e: e.get("ev") == "send" and e.get("seq") == 2)
            errs = sp.of("cmd_error")
            assert len(errs) == 1, errs
            assert "--fd %s: cannot open: No such file or directory (nothing sent)" % missing in \
                errs[0]["message"], errs
            sends = sp.of("send", 1)
            assert len(sends) == 2, sends
            rights = sends[0]["cmsg"][0]
            assert rights["name"] == "SCM_RIGHTS" and rights["target"] == target, rights
            c.close()
        finally:
            sp.kill()
            lsock.close()


@test
def send_fd_repeatedly_leaks_nothing():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        path = os.path.join(tmp, "py")
        lsock = socket.socket(socket.AF_UNIX)
        lsock.bind(path)
        lsock.listen(1)
        lsock.settimeout(10)
        args = ["--timeout", "30", "-e", "connect unix:%s" % path, "-e", "send first",
                "-e", "wait sent", "-e", "sleep 300"]
        for i in range(20):
            args += ["-e", "send --fd /dev/null x%d" % i]
        args += ["-e", "wait sent", "-e", "send done"]
        sp = Sockpit(args)
        try:
            c, _ = lsock.accept()
            c.settimeout(10)
            assert peers.recv_until(c, b"first") == b"first"
            before = fd_count(sp.proc.pid)
            got = b""
            end = time.monotonic() + 10
            while not got.endswith(b"done") and time.monotonic() < end:
                msg, fds, _, _ = socket.recv_fds(c, 64, 8)
                for fd in fds:
                    os.close(fd)
                if not msg:
                    break
                got += msg
            assert got.endswith(b"done"), got
            assert fd_count(sp.proc.pid) == before
            c.close()
        finally:
            sp.kill()
            lsock.close()


@test
def options_are_refused_where_they_do_not_apply():
    with tempfile.TemporaryDirectory(prefix="sockpit-anc-") as tmp:
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        lines = ["bind udp:127.0.0.1:0", "set 1 passcred on", "set 1 cmsgbuf 70000",
                 "set 1 pktinfo maybe", "connect tcp:127.0.0.1:%d" % port, "wait 2 connected",
                 "set 2 pktinfo on", "set 2 timestamp on", "send 2 --fd /dev/null x",
                 "bind unix-dgram:%s" % os.path.join(tmp, "d"), "set 3 recverr on"]
        args = ["--timeout", "30", "--keep-going"]
        for line in lines:
            args += ["-e", line]
        args += ["-e", "quit"]
        rc, out, err = peers.run(["--headless", "--json"] + args, timeout=20)
        lsock.close()
    import json
    evs = [json.loads(l) for l in out.splitlines()]
    msgs = [e["message"] for e in evs if e["ev"] == "cmd_error"]
    assert len(msgs) == 7, msgs
    assert "passcred applies to Unix sockets" in msgs[0], msgs
    assert "cmsgbuf" in msgs[1] or "65536" in msgs[1], msgs
    assert "on or off" in msgs[2], msgs
    assert "pktinfo applies to UDP sockets; socket 2 is tcp" in msgs[3], msgs
    assert "timestamp applies to datagram sockets" in msgs[4], msgs
    assert "descriptors pass over Unix sockets only" in msgs[5], msgs
    assert "recverr applies to UDP sockets" in msgs[6], msgs
    assert not [e for e in evs if e["ev"] == "send"], evs


if __name__ == "__main__":
    peers.main()
