"""The wire view against real captures (issue 12): the handshake's flags, a
send cut by `set mss 100` into segments whose lengths add up to the recv
bytes, FIN and RST segments next to the state changes, segment offsets
against recv chunk offsets, a pcap file read back by `tcpdump -r` with the
same segment count, retransmissions when packets are lost (a veth pair
between two private namespaces, the far end's MTU shrunk for a moment: the
capture saw the packets, the peer never got them), and the one clear notice without
CAP_NET_RAW. Needs root: skipped (exit 77) otherwise; the namespace tests
are skipped without unshare/ip."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import peers
from peers import SOCKPIT, Sockpit, free_port, test
from wirekit import have_tcpdump, need_root, segs, tcpdump_read


def flags(e):
    return "|".join(e["flags"])


def data_segs(sp, sock, direction):
    return [e for e in segs(sp, sock) if e["dir"] == direction and e["len"] > 0]


def first_copies(sp, sock, direction):
    """Data segments not marked as sent again: a loaded machine may make the
    kernel send a tail twice (a tail loss probe), which the marks show."""
    return [e for e in data_segs(sp, sock, direction) if "retransmission" not in e["marks"]]


@test
def handshake_fin_and_the_segments_of_a_send():
    port = free_port()
    sp = Sockpit(["-e", "listen tcp:127.0.0.1:%d --wire" % port,
                  "-e", "connect tcp:127.0.0.1:%d --wire" % port,
                  "-e", "send 2 hello", "-e", "wait 3 bytes:5", "-e", "close 2",
                  "-e", "wait 3 eof", "-e", "close 3", "-e", "sleep 500", "-e", "quit"])
    try:
        assert sp.finish() == 0, sp.events[-5:]
        for sock, first in ((2, "out"), (3, "in")):
            s = segs(sp, sock)
            other = "in" if first == "out" else "out"
            hs = [(e["dir"], flags(e)) for e in s[:3]]
            assert hs == [(first, "SYN"), (other, "SYN|ACK"), (first, "ACK")], (sock, hs)
            for e in s[:2]:
                assert e["seq"] == 0 and e["mss"] > 0 and e["wscale"] >= 0, e
                assert e["sack_ok"] and e["isn_known"] and "ts" in e, e
            assert s[2]["seq"] == 1 and s[2]["ack"] == 1, s[2]
            for e in s[:3]:
                assert e["marks"] == [], e
        # "hello": one segment out of 2 at offset 0, the same one into 3
        d2, d3 = first_copies(sp, 2, "out"), first_copies(sp, 3, "in")
        assert [(e["off"], e["len"], e["seq"]) for e in d2] == [(0, 5, 1)], d2
        assert [(e["off"], e["len"]) for e in d3] == [(0, 5)], d3
        # Teardown: our FIN after the 5 bytes, acked; the peer's FIN after none.
        fin2 = [e for e in segs(sp, 2) if "FIN" in e["flags"] and not e["marks"]]
        assert [(e["dir"], e["off"], e["seq"]) for e in fin2] == [("out", 5, 6), ("in", 0, 1)], \
            fin2
        fin3 = [e for e in segs(sp, 3) if "FIN" in e["flags"] and not e["marks"]]
        assert [(e["dir"], e["off"]) for e in fin3] == [("in", 5), ("out", 0)], fin3
        last = segs(sp, 2)[-1]
        assert last["dir"] == "out" and flags(last) == "ACK" and last["ack"] == 2, last
        # The FIN into 3 comes with its eof and CLOSE_WAIT.
        i_fin = sp.events.index(fin3[0])
        i_eof = sp.events.index(sp.of("eof", 3)[0])
        assert abs(i_fin - i_eof) < 6, sp.events[min(i_fin, i_eof):max(i_fin, i_eof) + 1]
        assert any(e.get("tcp") == "CLOSE_WAIT" for e in sp.of("state", 3)), sp.of("state", 3)
    finally:
        sp.kill()


@test
def reset_is_one_rst_segment_each_way():
    port = free_port()
    sp = Sockpit(["-e", "listen tcp:127.0.0.1:%d --wire" % port,
                  "-e", "connect tcp:127.0.0.1:%d" % port, "-e", "send 2 abc",
                  "-e", "wait 3 bytes:3", "-e", "reset 2", "-e", "wait 3 closed",
                  "-e", "sleep 300", "-e", "quit"])
    try:
        sp.finish()
        rst = [e for e in segs(sp, 3) if "RST" in e["flags"]]
        assert len(rst) == 1 and rst[0]["dir"] == "in" and rst[0]["off"] == 3, rst
        err = sp.of("error", 3)
        assert err and err[0]["code"] == "ECONNRESET", sp.events[-8:]
        # sock 2 was not watched: only the listener's connection has segments
        assert segs(sp, 2) == [], segs(sp, 2)
    finally:
        sp.kill()


@test
def pcap_file_is_read_back_by_tcpdump_with_the_same_count():
    if not have_tcpdump():
        return
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="sockpit-wire-")
    one, every = os.path.join(tmp, "3.pcap"), os.path.join(tmp, "all.pcap")
    sp = Sockpit(["-e", "listen tcp:127.0.0.1:%d --wire" % port,
                  "-e", "connect tcp:127.0.0.1:%d --wire" % port,
                  "-e", "wait 1 accepted", "-e", "log 3 --pcap " + one,
                  "-e", "send 2 --repeat 5 --every 20 hello", "-e", "wait 3 bytes:25",
                  "-e", "close 2", "-e", "wait 3 eof", "-e", "close 3", "-e", "sleep 500",
                  "-e", "log --pcap " + every, "-e", "quit"])
    try:
        assert sp.finish() == 0, sp.events[-5:]
        for path, want in ((one, len(segs(sp, 3))), (every, len(segs(sp, 3)))):
            lines = tcpdump_read(path)
            assert len(lines) == want, (path, want, lines)
            assert "Flags [S]" in lines[0] and "Flags [S.]" in lines[1], lines[:3]
            assert sum(" length 5" in ln for ln in lines) == len(data_segs(sp, 3, "in")), lines
        assert len(first_copies(sp, 3, "in")) == 5, data_segs(sp, 3, "in")
    finally:
        sp.kill()
        shutil.rmtree(tmp, ignore_errors=True)


@test
def without_cap_net_raw_one_notice_and_everything_else_works():
    if shutil.which("setpriv") is None:
        print("skip: no setpriv")
        return
    port = free_port()
    p = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw,-net_admin",
                        SOCKPIT, "--headless", "--json",
                        "-e", "listen tcp:127.0.0.1:%d --wire" % port,
                        "-e", "connect tcp:127.0.0.1:%d --wire" % port,
                        "-e", "send 2 hi", "-e", "wait 3 bytes:2", "-e", "quit"],
                       capture_output=True, timeout=20)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    out = p.stdout.decode()
    notices = [ln for ln in out.splitlines() if '"ev":"notice"' in ln and "CAP_NET_RAW" in ln]
    assert len(notices) == 1, out
    assert "setcap cap_net_raw,cap_net_admin+ep" in notices[0], notices
    assert '"ev":"segment"' not in out and '"ev":"recv"' in out, out


def mss_in_netns():
    """Inside `unshare -n`: lo without GSO (gso_max_segs 1), so each segment
    leaves as the kernel cut it: an MSS of 100 (88 bytes of data beside the
    timestamps option)."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "link", "set", "dev", "lo", "gso_max_segs", "1"], check=True)
    data = bytes(range(256)) * 8  # 2048 bytes
    sp = Sockpit(["-e", "set mss 100", "-e", "listen tcp:127.0.0.1:4000 --wire",
                  "-e", "connect tcp:127.0.0.1:4000", "-e", "wait 1 accepted",
                  "-e", "send 2 --hex " + data.hex(), "-e", "wait 3 bytes:%d" % len(data),
                  "-e", "sleep 500", "-e", "quit"])
    try:
        assert sp.finish() == 0, sp.events[-5:]
        syn = segs(sp, 3)[0]
        assert flags(syn) == "SYN" and syn["mss"] == 100, syn
        d = first_copies(sp, 3, "in")
        assert len(d) >= len(data) // 100, d
        assert all(0 < e["len"] <= 100 for e in d), [e["len"] for e in d]
        recvs = sp.of("recv", 3)
        assert sum(e["len"] for e in d) == len(data) == sum(e["len"] for e in recvs), \
            ([(e["off"], e["len"], e["marks"]) for e in d], [(e["off"], e["len"]) for e in recvs])
        # Segments tile the stream in order, and each recv chunk starts where
        # a segment did: the kernel hands over whole segments to a big buffer.
        off = 0
        for e in d:
            assert e["off"] == off and e["seq"] == off + 1 and e["marks"] == [], e
            off += e["len"]
        starts = {e["off"] for e in d}
        assert all(r["off"] in starts for r in recvs), ([r["off"] for r in recvs], starts)
    finally:
        sp.kill()


PEER_NS_PORT = 4001


def loss_peer():
    """The far end of the veth pair, in a namespace of its own: configures
    veth1 when told, accepts one connection, drops veth1 for a moment when
    told (the packets sockpit sends meanwhile are captured on veth0, then lost
    at veth1: its MTU shrinks for a moment), then reads to the end and prints the byte count."""
    # In its own namespace by now (unshare ran before this): veth1 may come.
    print("in", flush=True)
    assert sys.stdin.readline().strip() == "go"
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "addr", "add", "169.254.77.2/24", "dev", "veth1"],
                ["ip", "link", "set", "veth1", "up"]):
        subprocess.run(cmd, check=True)
    ls = socket.socket()
    ls.bind(("169.254.77.2", PEER_NS_PORT))
    ls.listen(1)
    print("ready", flush=True)
    ls.settimeout(20)
    c, _ = ls.accept()
    c.settimeout(20)
    assert sys.stdin.readline().strip() == "drop"
    # A smaller MTU on veth1 only: veth drops what no longer fits after
    # veth0's capture saw it (taking the link down would drop it before).
    subprocess.run(["ip", "link", "set", "veth1", "mtu", "500"], check=True)
    time.sleep(0.4)
    subprocess.run(["ip", "link", "set", "veth1", "mtu", "1500"], check=True)
    n = 0
    end = time.monotonic() + 20
    while time.monotonic() < end:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
    print("got %d" % n, flush=True)


def loss_in_netns():
    """Inside `unshare -n`: sockpit here, the peer in a namespace of its
    own behind a veth pair; while veth1's MTU is 500 for 0.4 s the segments
    leave (captured on veth0) and are lost, so TCP sends them again: the wire view
    marks retransmissions while the peer still reads every byte, in order."""
    subprocess.run(["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"],
                   check=True)
    subprocess.run(["ip", "addr", "add", "169.254.77.1/24", "dev", "veth0"], check=True)
    subprocess.run(["ip", "link", "set", "veth0", "up"], check=True)
    peer = subprocess.Popen(["unshare", "-n", sys.executable, os.path.abspath(__file__),
                             "--peer"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    sp = None
    try:
        assert peer.stdout.readline().strip() == "in"
        subprocess.run(["ip", "link", "set", "veth1", "netns", str(peer.pid)], check=True)
        peer.stdin.write("go\n")
        peer.stdin.flush()
        assert peer.stdout.readline().strip() == "ready"
        chunk = "0123456789" * 100
        sp = Sockpit(["-e", "connect tcp:169.254.77.2:%d --wire" % PEER_NS_PORT,
                      "-e", "sleep 150", "-e", "send --repeat 30 --every 10 " + chunk,
                      "-e", "wait sent", "-e", "sleep 2500", "-e", "close",
                      "-e", "sleep 300", "-e", "quit"])
        sp.wait_event(lambda e: e.get("ev") == "connected")
        peer.stdin.write("drop\n")
        peer.stdin.flush()
        assert sp.finish(30) == 0, sp.events[-5:]
        got = peer.stdout.readline().strip()
        assert got == "got %d" % (30 * len(chunk)), got
        # Off loopback the capture is on the route's interface, and says so
        # with what its offloads may do to the segments it sees.
        notes = [e["message"] for e in sp.of("notice") if "capturing on" in e.get("message", "")]
        assert len(notes) == 1 and notes[0].startswith("wire: capturing on veth0;"), notes
        assert "offload may merge segments (GRO " in notes[0] and "TSO on" in notes[0], notes
        out = data_segs(sp, 1, "out")
        retrans = [e for e in out if "retransmission" in e["marks"]]
        assert retrans, [(e["off"], e["len"], e["marks"]) for e in out]
        # What was sent again had been sent before, at the same offsets.
        first = {e["off"] for e in out if not e["marks"]}
        assert all(e["off"] in first or e["off"] < max(first) for e in retrans), retrans
        assert sum(1 for e in out if not e["marks"]) >= 1
    finally:
        if sp is not None:
            sp.kill()
        peer.kill()
        peer.wait()


def run_in_netns(mode):
    """Runs this file in mode inside a private network namespace (the mode
    refuses to run in ours: it changes lo)."""
    env = dict(os.environ, WIRE_OUTER_NETNS=os.readlink("/proc/self/ns/net"))
    p = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__), mode],
                       capture_output=True, timeout=120, env=env)
    sys.stdout.write(p.stdout.decode())
    assert p.returncode == 0, (p.stdout, p.stderr)


def in_netns_ok():
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        print("skip: needs unshare and ip (iproute2)")
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=20)
    if probe.returncode != 0:
        print("skip: unshare -n refused: %r" % probe.stderr)
        return False
    return True


@test
def mss_100_cuts_a_send_into_segments_in_a_private_namespace():
    if not in_netns_ok():
        return
    run_in_netns("--mss")


@test
def retransmissions_when_segments_are_lost_after_the_capture():
    if not in_netns_ok():
        return
    run_in_netns("--loss")


if __name__ == "__main__":
    need_root()
    if sys.argv[1:] in (["--mss"], ["--loss"]) and \
            os.environ.get("WIRE_OUTER_NETNS", "") in ("", os.readlink("/proc/self/ns/net")):
        sys.exit("--mss and --loss change lo and add links: only inside `unshare -n`")
    if sys.argv[1:] == ["--mss"]:
        peers.TESTS[:] = [mss_in_netns]
        sys.argv[1:] = []
    elif sys.argv[1:] == ["--loss"]:
        peers.TESTS[:] = [loss_in_netns]
        sys.argv[1:] = []
    elif sys.argv[1:] == ["--peer"]:
        loss_peer()
        sys.exit(0)
    peers.main()
