"""Issue 14, small ones from trying it: `wait accepted` after `connect`,
`send --to HOST:PORT` on UDP and the destination in its send events,
`connect --bind`, and the IP-layer `set` options (ttl, tos, broadcast,
v6only, reuseport, bindtodevice, mcast-join), each checked from what the
kernel or a real peer saw. Wildcard, broadcast and multicast addresses are
used only inside a private network namespace (`unshare -n`, only lo)."""

import os
import socket
import struct
import subprocess
import sys
import time

import peers
from peers import Sockpit, run, test

HERE = os.path.abspath(__file__)
IP_TOS, IP_TTL, IP_RECVTTL, IP_RECVTOS = 1, 2, 12, 13  # linux/in.h; Python lacks the RECV ones


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def in_netns(name):
    """Runs the function name of this file in a new network namespace with
    only lo (up); its output is shown on failure."""
    p = subprocess.run(["unshare", "-n", sys.executable, HERE, "--in-netns", name],
                       capture_output=True, timeout=60,
                       env=dict(os.environ, SOCKPIT=peers.SOCKPIT))
    if p.returncode == 77:
        print("  (no network namespace: skipped)")
        return
    assert p.returncode == 0, (p.stdout.decode()[-2000:], p.stderr.decode()[-3000:])


@test
def wait_accepted_after_connect_takes_the_newest_listener():
    port = free_port()
    sp = Sockpit(["--timeout", "10", "-e", "listen tcp:127.0.0.1:%d" % port,
                  "-e", "connect tcp:127.0.0.1:%d" % port,
                  "-e", "wait accepted", "-e", "send hi", "-e", "wait 2 recv", "-e", "quit"])
    assert sp.finish() == 0, (sp.of("cmd_error"), sp.err)
    assert sp.of("accepted")[0]["sock"] == 3
    # `send hi` went to the connection wait accepted took: socket 2 got it
    assert [e["text"] for e in sp.of("recv", 2)] == ["hi"]
    # an explicit ID still means that socket
    sp = Sockpit(["--timeout", "10", "-e", "listen tcp:127.0.0.1:%d" % port,
                  "-e", "connect tcp:127.0.0.1:%d" % port, "-e", "wait 2 accepted"])
    assert sp.finish() == 1
    assert "not a listener" in sp.of("cmd_error")[0]["message"]


@test
def udp_send_to_host_port_and_the_destination_in_send_events():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    port = rx.getsockname()[1]
    sp = Sockpit(["--timeout", "10", "-e", "bind udp:127.0.0.1:0",
                  "-e", "send hello --to 127.0.0.1:%d" % port,
                  "-e", "send again --to udp:127.0.0.1:%d" % port,
                  "-e", "connect udp:127.0.0.1:%d" % port, "-e", "send conn",
                  "-e", "sleep 100", "-e", "quit"])
    got = [rx.recvfrom(100)[0] for _ in range(3)]
    assert sp.finish() == 0, (sp.of("cmd_error"), sp.err)
    rx.close()
    assert got == [b"hello", b"again", b"conn"], got
    want = "127.0.0.1:%d" % port
    assert [e.get("to") for e in sp.of("send", 1)] == [want, want]
    assert [e.get("to") for e in sp.of("send", 2)] == [want]
    rc, out, _ = run(["--timeout", "10", "-e", "bind udp:127.0.0.1:0",
                      "-e", "send x --to 127.0.0.1:%d" % port, "-e", "quit"])
    assert rc == 0 and (b" to %s: \"x\"" % want.encode()) in out, out
    # on a TCP socket HOST:PORT stays an error that says why
    rc, out, _ = run(["--timeout", "10", "-e", "listen tcp:127.0.0.1:0",
                      "-e", "send x --to 127.0.0.1:9"])
    assert rc == 1 and b"bad address" in out, out


@test
def connect_bind_chooses_the_source_address_and_port():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(10)
    port = srv.getsockname()[1]
    src = free_port()
    sp = Sockpit(["--timeout", "10",
                  "-e", "connect tcp:127.0.0.1:%d --bind 127.0.0.7:%d" % (port, src),
                  "-e", "wait eof", "-e", "quit"])
    conn, peer = srv.accept()
    assert peer == ("127.0.0.7", src), peer
    conn.close()
    assert sp.finish() == 0, sp.of("cmd_error")
    assert sp.of("connected")[0]["local"] == "127.0.0.7:%d" % src
    # UDP too, the scheme left out
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    sp = Sockpit(["--timeout", "10", "-e", "connect udp:127.0.0.1:%d --bind 127.0.0.8:0"
                  % rx.getsockname()[1], "-e", "send u", "-e", "quit"])
    data, frm = rx.recvfrom(10)
    assert data == b"u" and frm[0] == "127.0.0.8", frm
    assert sp.finish() == 0
    rx.close()
    # a source already taken: the line fails with the kernel's reason and
    # creates nothing
    rc, out, _ = run(["--timeout", "10",
                      "-e", "connect tcp:127.0.0.1:%d --bind 127.0.0.1:%d" % (port, port),
                      "-e", "list"])
    assert rc == 1 and b"--bind 127.0.0.1:%d: Address already in use" % port in out, out
    assert b"[1]" not in out, out
    rc, out, _ = run(["-e", "connect tcp:127.0.0.1:%d --bind localhost:0" % port])
    assert rc == 1 and b"literal" in out, out
    srv.close()


def ancillary_ttl_tos(args):
    """sockpit connects a UDP socket to ours, sets options, sends; returns the
    TTL and TOS the datagram arrived with (IP_RECVTTL/IP_RECVTOS)."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    rx.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    lines = ["connect udp:127.0.0.1:%d" % rx.getsockname()[1]] + args + ["send x", "quit"]
    sp = Sockpit(["--timeout", "10"] + [a for ln in lines for a in ("-e", ln)])
    data, anc, _, _ = rx.recvmsg(10, 256)
    assert sp.finish() == 0, sp.of("cmd_error")
    rx.close()
    got = {}
    for level, kind, val in anc:
        if kind == IP_TTL:
            got["ttl"] = struct.unpack("i", val[:4])[0]
        elif kind == IP_TOS:
            got["tos"] = val[0]
    return got


@test
def set_ttl_and_tos_reach_the_wire():
    assert ancillary_ttl_tos(["set ttl 7", "set tos 32"]) == {"ttl": 7, "tos": 32}
    assert ancillary_ttl_tos([])["ttl"] == 64
    # info says what the kernel now holds
    rc, out, _ = run(["--timeout", "10", "-e", "bind udp:127.0.0.1:0", "-e", "set ttl 9",
                      "-e", "set tos 32", "-e", "set broadcast on", "-e", "info", "-e", "quit"])
    assert rc == 0 and b"  ip: ttl 9, tos 0x20, broadcast on, reuseport off\n" in out, out
    for bad in ("set ttl 0", "set ttl 256", "set tos x", "set broadcast maybe",
                "set bindtodevice a/b", "set mcast-join %lo"):
        rc, out, _ = run(["-e", "bind udp:127.0.0.1:0", "-e", bad])
        assert rc == 1 and b"cmd_error" in out, (bad, out)


@test
def reuseport_at_creation_lets_two_listeners_share_a_port():
    port = free_port()
    rc, out, _ = run(["--timeout", "10", "-e", "listen tcp:127.0.0.1:%d --reuseport" % port,
                      "-e", "listen tcp:127.0.0.1:%d --reuseport" % port, "-e", "quit"])
    assert rc == 0 and out.count(b"listening") == 2, out
    rc, out, _ = run(["--timeout", "10", "-e", "listen tcp:[::1]:0 --reuseport --v6only",
                      "-e", "info", "-e", "quit"])
    assert rc == 0 and b"reuseport on, v6only on\n" in out, out
    rc, out, _ = run(["--timeout", "10", "-e", "listen tcp:127.0.0.1:%d" % port,
                      "-e", "listen tcp:127.0.0.1:%d --reuseport" % port])
    assert rc == 1 and b"Address already in use" in out, out
    uport = free_port(socket.SOCK_DGRAM)
    rc, out, _ = run(["--timeout", "10", "-e", "bind udp:127.0.0.1:%d --reuseport" % uport,
                      "-e", "bind udp:127.0.0.1:%d --reuseport" % uport, "-e", "quit"])
    assert rc == 0 and out.count(b"bound") == 2, out
    # after bind the kernel takes it, and sockpit says what it does not do
    rc, out, _ = run(["--timeout", "10", "-e", "listen tcp:127.0.0.1:0",
                      "-e", "set reuseport on", "-e", "quit"])
    assert rc == 0 and b"notice: SO_REUSEPORT set after bind" in out, out


@test
def bindtodevice_binds_and_says_what_it_needs():
    rc, out, _ = run(["--timeout", "10", "-e", "bind udp:127.0.0.1:0",
                      "-e", "set bindtodevice lo", "-e", "info", "-e", "quit"])
    assert rc == 0 and b"bound to device lo" in out, out
    rc, out, _ = run(["-e", "bind udp:127.0.0.1:0", "-e", "set bindtodevice nosuch0"])
    assert rc == 1 and b"No such device" in out, out
    # changing a device binding needs CAP_NET_RAW: without it, a clear error
    p = subprocess.run(["capsh", "--drop=cap_net_raw", "--", "-c",
                        '"$0" --timeout 10 -e "bind udp:127.0.0.1:0" -e "set bindtodevice lo" '
                        '-e "set bindtodevice off"', peers.SOCKPIT],
                       capture_output=True, timeout=20)
    assert p.returncode == 1, p
    assert b"Operation not permitted (needs CAP_NET_RAW" in p.stdout, p.stdout


def netns_v6only():
    port = free_port(host="127.0.0.1")
    sp = Sockpit(["--timeout", "10", "-e", "listen tcp:[::]:%d --v6only" % port,
                  "-e", "set v6only off"])
    sp.port()
    s = socket.socket()
    err = s.connect_ex(("127.0.0.1", port))
    s.close()
    assert err == 111, err  # ECONNREFUSED: the IPv6 listener takes no IPv4
    assert sp.finish() == 1
    assert "before bind" in sp.of("cmd_error")[0]["message"], sp.of("cmd_error")
    sp = Sockpit(["--timeout", "10", "-e", "listen tcp:[::]:%d" % port, "-e", "wait accepted",
                  "-e", "quit"])
    sp.port()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert sp.finish() == 0
    s.close()
    rc, out, _ = run(["-e", "listen tcp:127.0.0.1:0 --v6only"])
    assert rc == 1 and b"--v6only is for IPv6" in out, out


def netns_broadcast():
    subprocess.run(["ip", "addr", "add", "10.99.0.1/24", "brd", "10.99.0.255", "dev", "lo"],
                   check=True)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("0.0.0.0", 0))
    port = rx.getsockname()[1]
    rx.settimeout(10)
    to = "--to 10.99.0.255:%d" % port
    rc, out, _ = run(["--timeout", "10", "-e", "bind udp:10.99.0.1:0", "-e", "send no " + to,
                      "-e", "set broadcast on", "-e", "send yes " + to, "-e", "quit"])
    assert rc == 0, out
    assert b"EACCES" in out or b"Permission denied" in out, out
    assert rx.recvfrom(10)[0] == b"yes"
    rx.close()


def netns_mcast_join():
    subprocess.run(["ip", "link", "set", "lo", "multicast", "on"], check=True)
    port = free_port(socket.SOCK_DGRAM)
    group = "239.255.7.7"
    # not joined: nothing of the group arrives
    sp = Sockpit(["--timeout", "10", "-e", "bind udp:0.0.0.0:%d" % port,
                  "-e", "wait recv --timeout 600"])
    sp.port()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    for _ in range(5):
        tx.sendto(b"before", (group, port))
        time.sleep(0.05)
    assert sp.finish() == 1 and not sp.of("recv"), sp.of("recv")
    # joined on lo: the group's datagrams arrive
    sp = Sockpit(["--timeout", "10", "-e", "bind udp:0.0.0.0:%d" % port,
                  "-e", "set mcast-join %s%%lo" % group, "-e", "wait recv", "-e", "quit"])
    sp.port()
    end = time.monotonic() + 5
    while not sp.of("recv") and time.monotonic() < end:
        tx.sendto(b"after", (group, port))
        time.sleep(0.05)
    assert sp.finish() == 0, (sp.of("cmd_error"), sp.err)
    assert sp.of("recv")[0]["text"] == "after", sp.of("recv")
    # IPv6: the kernel lists the membership on lo while the socket lives
    sp = Sockpit(["--timeout", "10", "-e", "bind udp:[::]:0", "-e", "set mcast-join ff12::777%lo",
                  "-e", "sleep 5000"])
    sp.port()
    end = time.monotonic() + 5
    maddr = ""
    while "ff12::777" not in maddr and time.monotonic() < end and not sp.of("cmd_error"):
        maddr = subprocess.run(["ip", "-6", "maddr", "show", "dev", "lo"], capture_output=True,
                               text=True, timeout=10).stdout
        time.sleep(0.05)
    sp.kill()
    assert "ff12::777" in maddr, (maddr, sp.of("cmd_error"))
    rc, out, _ = run(["-e", "bind udp:0.0.0.0:0", "-e", "set mcast-join 10.0.0.1%lo"])
    assert rc == 1 and b"IP_ADD_MEMBERSHIP" in out, out
    rc, out, _ = run(["-e", "listen tcp:127.0.0.1:0", "-e", "set mcast-join %s" % group])
    assert rc == 1 and b"for udp: sockets" in out, out
    tx.close()


@test
def v6only_at_creation_and_refused_after_bind():
    in_netns("netns_v6only")


@test
def broadcast_lets_a_datagram_go_to_a_broadcast_address():
    in_netns("netns_broadcast")


@test
def mcast_join_receives_the_groups_datagrams():
    in_netns("netns_mcast_join")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--in-netns"]:
        if subprocess.run(["ip", "link", "set", "lo", "up"]).returncode != 0:
            sys.exit(77)
        globals()[sys.argv[2]]()
        print("ok")
        sys.exit(0)
    peers.main()
