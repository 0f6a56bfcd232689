"""Packet sockets (bind packet:IFACE[:ETHERTYPE]) against real frames: UDP
over lo seen as the outgoing and the host copy with the right summary, a
frame sent with `send --hex` read by a Python AF_PACKET socket, and both
ways over a veth pair inside a private network namespace this test makes
(never a real interface). Clear errors for a missing interface and for a
process without CAP_NET_RAW. Needs root (CI runs as root): skipped (exit
77) otherwise, and the namespace test is skipped without unshare/ip."""

import os
import shutil
import socket
import struct
import subprocess
import sys

import peers
from peers import SOCKPIT, Sockpit, test

ETH_P_ALL = 0x0003
EXPERIMENTAL = 0x88B5  # IEEE local experimental EtherType: nobody else's traffic


def frame(dst, src, ethertype, payload):
    return dst + src + struct.pack("!H", ethertype) + payload


def udp4_frame(dst_mac, src_mac, sport, dport, data):
    """An Ethernet + IPv4 + UDP frame from 169.254.0.1 to 169.254.0.2 (never
    routed: it only crosses the veth pair)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                     bytes([169, 254, 0, 1]), bytes([169, 254, 0, 2]))
    return frame(dst_mac, src_mac, 0x0800, ip + udp)


def mac_text(b):
    return ":".join("%02x" % x for x in b)


def recv_events(sp, pred):
    return [e for e in sp.events if e.get("ev") == "recv" and pred(e)]


@test
def udp_over_lo_is_seen_outgoing_and_host_with_its_summary():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    sport, dport = tx.getsockname()[1], rx.getsockname()[1]
    # lo is shared with every other test running now (streams of 64 KiB
    # frames): a small recv size keeps each event cheap, and the datagram is
    # sent again (a bounded number of times) in case the kernel dropped our
    # copies while the packet socket's buffer was full.
    sp = Sockpit(["-e", "bind packet:lo", "-e", "recvsize 256"])
    try:
        bound = sp.wait_event(lambda e: e.get("ev") == "bound")
        assert bound["kind"] == "packet" and bound["local"] == "lo:all", bound
        want = "IPv4 127.0.0.1 > 127.0.0.1 ttl 64 len 33 UDP %d > %d len 5" % (sport, dport)
        mine = lambda e: e.get("ev") == "recv" and want in e.get("summary", "")
        seen = set()
        for _ in range(20):
            tx.sendto(b"hello", ("127.0.0.1", dport))
            assert rx.recv(100) == b"hello"
            try:
                sp.wait_event(lambda e: mine(e) and e["link"]["pkttype"] not in seen, 1.0)
            except AssertionError:
                pass
            seen = {e["link"]["pkttype"] for e in sp.events if mine(e)}
            if {"outgoing", "host"} <= seen:
                break
        assert {"outgoing", "host"} <= seen, seen
        for e in [e for e in sp.events if mine(e)]:
            link = e["link"]
            assert link["ifname"] == "lo" and link["ifindex"] == socket.if_nametoindex("lo"), e
            assert link["protocol"] == "0x0800" and link["ethertype"] == "ipv4", e
            assert link["mac"] == "00:00:00:00:00:00" == e["from"], e
            assert e["len"] == 14 + 33 and bytes.fromhex(e["hex"]).endswith(b"hello"), e
            assert not e["truncated"], e
            assert e["summary"].startswith("00:00:00:00:00:00 > 00:00:00:00:00:00 IPv4"), e
    finally:
        sp.kill()
        rx.close()
        tx.close()


@test
def send_hex_on_lo_is_received_by_a_python_packet_socket():
    py = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(EXPERIMENTAL))
    py.bind(("lo", EXPERIMENTAL))
    py.settimeout(5)
    nonce = os.urandom(8)
    f = frame(b"\0" * 6, b"\x02\0\0\0\0\x01", EXPERIMENTAL, b"sockpit " + nonce)
    sp = Sockpit(["-e", "bind packet:lo:0x88b5", "-e", "send --hex " + f.hex()])
    try:
        sent = sp.wait_event(lambda e: e.get("ev") == "send")
        assert bytes.fromhex(sent["hex"]) == f and sent["len"] == len(f), sent
        got = None
        for _ in range(50):  # lo carries only what was sent with this EtherType
            data, addr = py.recvfrom(2048)
            if data == f:
                got = addr
                break
        assert got is not None, "the frame never arrived"
        assert got[0] == "lo" and got[1] == EXPERIMENTAL, got
        # Our own socket sees it come back in as the host copy.
        e = sp.wait_event(lambda e: e.get("ev") == "recv" and bytes.fromhex(e["hex"]) == f)
        assert e["link"]["pkttype"] == "host" and e["link"]["protocol"] == "0x88b5", e
        assert e["from"] == "02:00:00:00:00:01", e
        assert e["summary"] == ("02:00:00:00:00:01 > 00:00:00:00:00:00 ethertype 0x88b5 "
                                "(not decoded), %d bytes" % (len(f) - 14)), e
    finally:
        sp.kill()
        py.close()


@test
def bad_sends_and_addresses_are_refused_clearly():
    sp = Sockpit(["--keep-going", "-e", "bind packet:nosuchif0", "-e", "connect packet:lo",
                  "-e", "bind packet:lo:0x88b5", "-e", "send --to udp:127.0.0.1:9 x",
                  "-e", "send --hex 0102", "-e", "echo on", "-e", "sleep 200", "-e", "quit"])
    rc = sp.finish()
    assert rc == 1, rc
    errs = [e["message"] for e in sp.of("cmd_error")]
    assert any("packet:nosuchif0: no such interface" in m for m in errs), errs
    assert any("not connected: use bind packet:IFACE" in m for m in errs), errs
    assert any("no --to" in m for m in errs), errs
    # Echoing every frame of an interface back onto it would feed itself.
    assert any("packet socket does not echo" in m for m in errs), errs
    # A frame shorter than a link header is the kernel's to refuse: an error event.
    err = sp.of("error")
    assert err and err[0]["op"] == "send" and err[0]["code"] == "EINVAL", sp.events


@test
def without_cap_net_raw_one_clear_error_naming_setcap():
    if shutil.which("setpriv") is None:
        print("skip: no setpriv")
        return
    # Root without CAP_NET_RAW: out of the bounding and inheritable sets, so
    # the exec'd sockpit cannot have it.
    p = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw", SOCKPIT,
                        "--headless", "--json", "-e", "bind packet:lo", "-e", "quit"],
                       capture_output=True, timeout=20)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    assert '"ev":"cmd_error"' in lines[0], lines
    assert "CAP_NET_RAW" in lines[0] and "setcap cap_net_raw+ep" in lines[0], lines


def in_netns():
    """Runs inside `unshare -n`: a veth pair of our own, frames both ways."""
    subprocess.run(["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"],
                   check=True)
    for dev in ("veth0", "veth1"):
        subprocess.run(["ip", "link", "set", dev, "up"], check=True)
    py1 = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(EXPERIMENTAL))
    py1.bind(("veth1", EXPERIMENTAL))
    py0 = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    py0.bind(("veth0", 0))
    # /sys still shows the old namespace: the kernel names each MAC instead.
    mac0, mac1 = py0.getsockname()[4], py1.getsockname()[4]
    py1.settimeout(5)
    nonce = os.urandom(8)
    out = frame(mac1, mac0, EXPERIMENTAL, b"to veth1 " + nonce)
    sp = Sockpit(["-e", "bind packet:veth1:ipv4", "-e", "bind packet:veth0:0x88b5",
                  "-e", "send --hex " + out.hex()])
    try:
        sp.wait_event(lambda e: e.get("ev") == "bound" and e.get("sock") == 2)
        # sockpit -> veth0 -> veth1 -> Python
        for _ in range(50):
            data, addr = py1.recvfrom(2048)
            if data == out:
                break
        else:
            raise AssertionError("the frame sent with send --hex never reached veth1")
        assert addr[0] == "veth1" and addr[2] == socket.PACKET_HOST, addr
        # Python -> veth0 -> veth1 -> sockpit, as a broadcast
        py0.send(udp4_frame(b"\xff" * 6, mac0, 1234, 5678, b"hi " + nonce))
        e = sp.wait_event(lambda e: e.get("ev") == "recv" and e.get("sock") == 1
                          and nonce in bytes.fromhex(e["hex"]))
        link = e["link"]
        assert link["ifname"] == "veth1" and link["pkttype"] == "broadcast", e
        assert link["ethertype"] == "ipv4" and e["from"] == mac_text(mac0), e
        want = ("%s > ff:ff:ff:ff:ff:ff IPv4 169.254.0.1 > 169.254.0.2 ttl 64 len 39 UDP 1234 > "
                "5678 len 11" % mac_text(mac0))
        assert e["summary"] == want, (e["summary"], want)
    finally:
        sp.kill()
        py0.close()
        py1.close()


@test
def veth_pair_in_a_private_namespace_both_ways():
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        print("skip: needs unshare and ip (iproute2)")
        return
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=20)
    if probe.returncode != 0:
        print("skip: unshare -n refused: %r" % probe.stderr)
        return
    p = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__), "--netns"],
                       capture_output=True, timeout=120)
    sys.stdout.write(p.stdout.decode())
    assert p.returncode == 0, (p.stdout, p.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("skip: packet sockets need root (CAP_NET_RAW); CI runs as root")
        sys.exit(77)
    if sys.argv[1:] == ["--netns"]:
        peers.TESTS[:] = [in_netns]
        sys.argv[1:] = []
    peers.main()
