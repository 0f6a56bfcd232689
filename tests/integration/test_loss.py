"""Loss on lo, for the wire view (issue 12): the `loss` lab run headless
through tools/wire-loss.sh (a private namespace whose lo drops packets:
netem where the kernel has it, tbf's tail drop otherwise) shows gaps,
duplicate ACKs and retransmissions on the wire while recv() hands over
every byte, in order; without loss on lo the lab does not start and says
why, with exit status 1; without CAP_NET_RAW it stops at the capture as the
wire lab does; the lab's qdisc query reports the drops `tc -s qdisc` counts;
tools/wire-loss.sh exits 77 with its reason when it cannot make the
namespace. Needs root: skipped (exit 77) otherwise, and without unshare, ip
or tc. Each namespace is made by the test (`unshare -n`) and gone with its
last process; every process is started by subprocess with a timeout, which
kills it by PID."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import peers
from peers import SOCKPIT, test

SCRIPT = os.path.join(peers.ROOT, "tools", "wire-loss.sh")
LINE = (b"line of the stream, 150 bytes with its newline: were a lost segment's bytes put "
        b"back anywhere but their place, some line would have another length ..\n")
LINES = 1000

# A lab of the test's own: needs loss, sends nothing, so the qdisc's counter
# stands still between the lab's two looks and tc's.
QUIET_LAB = """lab: quiet
summary: needs loss, sends nothing
needs: loss

step: Nothing
sleep 50
note: nothing was sent
check: nothing recv = 0
"""


def events_of(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def tc_dropped(text):
    """The `dropped N` of lo's root qdisc in `tc -s qdisc show dev lo`."""
    m = re.search(r"qdisc (\w+) \S+ root.*?\n\s*Sent \d+ bytes \d+ pkt \(dropped (\d+)", text)
    assert m, text
    return m.group(1), int(m.group(2))


def in_netns(script, timeout=60, user=None):
    """Runs sh script in a private network namespace (lo up, nothing else);
    user: run sockpit's part as that user (the script says where)."""
    p = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True,
                       timeout=timeout, env=dict(os.environ, SOCKPIT=SOCKPIT))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def run_the_loss_lab(qdisc):
    """The loss lab through tools/wire-loss.sh with WIRE_LOSS_QDISC=qdisc;
    False when the kernel has no such qdisc (the script exits 77)."""
    p = subprocess.run([SCRIPT, "10", "5", "--json", "--timeout", "60", "--lab", "loss"],
                       capture_output=True, timeout=90,
                       env=dict(os.environ, SOCKPIT=SOCKPIT, WIRE_LOSS_QDISC=qdisc))
    err = p.stderr.decode()
    if p.returncode == 77:
        assert err.strip() == ("wire-loss: tc cannot add %s on lo (no sch_netem/sch_tbf module, "
                               "or no CAP_NET_ADMIN)" % qdisc), err
        print("  no %s in this kernel: the script says so (exit 77)" % qdisc)
        return False
    assert p.returncode == 0, (p.returncode, err, p.stdout[-2000:])
    # The script says which qdisc it used and what that means.
    said = {"tbf": "tbf queue overflow drops packets (tail drop); no netem here, so no added "
                   "delay/reordering",
            "netem": "netem drops 10% of the packets at random and delays each by 5ms"}
    assert said[qdisc] in err, err
    evs = events_of(p.stdout)
    checks = [e for e in evs if e["ev"] == "check"]
    assert len(checks) == 8 and all(c["held"] for c in checks), \
        [c for c in checks if not c["held"]]
    # The server's end is socket 3: the lost segments, as the capture saw them.
    segs = [e for e in evs if e["ev"] == "segment" and e["sock"] == 3]
    marks = lambda m, d: [e for e in segs if m in e["marks"] and e["dir"] == d]
    assert marks("retransmission", "in"), segs[-5:]
    assert marks("dup-ack", "out"), segs[-5:]
    assert marks("gap", "in"), segs[-5:]
    # The dup-acks name what did arrive past the hole: SACK blocks above
    # the ack, each one a range of bytes a data segment in carried.
    sacked = [e for e in marks("dup-ack", "out") if e.get("sack")]
    assert sacked, marks("dup-ack", "out")[:3]
    starts = {e["seq"] for e in segs if e["dir"] == "in" and e["len"] > 0}
    for e in sacked:
        for left, right in e["sack"]:
            assert e["ack"] < left < right and left in starts, (e["ack"], e["sack"])
    # recv() handed over every byte, in order, with no hole.
    recvs = [e for e in evs if e["ev"] == "recv" and e["sock"] == 3]
    off = 0
    for r in recvs:
        assert r["off"] == off, (r["off"], off)
        off += r["len"]
    data = b"".join(bytes.fromhex(r["hex"]) for r in recvs)
    assert data == LINE * LINES, (len(data), off)
    # The notices name the qdisc and give the kernel's drop count; tc's
    # agrees (the FINs after the end notice may add a drop or two under
    # random loss, never remove one).
    start = [e["message"] for e in evs if e["ev"] == "notice" and "lo loses" in e["message"]]
    assert len(start) == 1 and "root qdisc is %s" % qdisc in start[0], start
    notes = [e["message"] for e in evs if e["ev"] == "notice" and "qdisc on lo" in e["message"]]
    assert len(notes) == 1, notes
    m = re.search(r"\((\w+)\) dropped (\d+) packets? during the lab \((\d+) since", notes[0])
    assert m and m.group(1) == qdisc and int(m.group(2)) >= 1, notes
    kind, dropped = tc_dropped(err)
    assert kind == qdisc and 0 <= dropped - int(m.group(3)) <= 3, (notes, err)
    print("  %s: %d retransmissions, %d dup-acks, %d gaps, %d drops; %d bytes in %d recvs"
          % (kind, len(marks("retransmission", "in")), len(marks("dup-ack", "out")),
             len(marks("gap", "in")), dropped, len(data), len(recvs)))
    return True


@test
def the_loss_lab_through_wire_loss_sh_shows_retransmissions_and_every_byte_in_order():
    # tbf is in every kernel sockpit is tested on; netem where there is one.
    assert run_the_loss_lab("tbf")
    run_the_loss_lab("netem")


@test
def the_qdisc_query_reports_the_drops_tc_counts():
    # tbf with a tiny queue, flooded with UDP on lo: drops the test made;
    # then a lab that sends nothing looks twice, and tc in between and after.
    with tempfile.TemporaryDirectory(prefix="sockpit-loss-") as tmp:
        lab = os.path.join(tmp, "quiet.lab")
        with open(lab, "w") as f:
            f.write(QUIET_LAB)
        flood = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                 "for i in range(300):\n"
                 "    try: s.sendto(b'x' * 1000, ('127.0.0.1', 9))\n"
                 "    except OSError: pass\n")
        rc, out, err = in_netns(
            "set -e; ip link set lo up; "
            "tc qdisc add dev lo root tbf rate 1mbit burst 2000 limit 3000; "
            "%s -c \"%s\"; tc -s qdisc show dev lo; echo ==; "
            "\"$SOCKPIT\" --json --lab %s; echo ==; tc -s qdisc show dev lo"
            % (sys.executable, flood, lab))
    assert rc == 0, (rc, out, err)
    before, run, after = out.split("==\n")
    kind, dropped = tc_dropped(before)
    assert kind == "tbf" and dropped > 0, before
    assert tc_dropped(after) == (kind, dropped), (before, after)
    notes = [e["message"] for e in events_of(run) if e["ev"] == "notice"]
    assert any("root qdisc is tbf" in n and "(%d dropped so far)" % dropped in n
               for n in notes), notes
    assert any("(tbf) dropped 0 packets during the lab (%d since it was added" % dropped in n
               for n in notes), notes
    print("  tbf dropped %d: the lab and tc agree" % dropped)


@test
def without_loss_on_lo_the_lab_does_not_start_and_says_why():
    # A fresh namespace: lo's qdisc is noqueue; then pfifo, which drops
    # only when full and is neither netem nor tbf.
    for setup, kind in (("", "noqueue"),
                        ("tc qdisc add dev lo root pfifo limit 1000; ", "pfifo")):
        rc, out, err = in_netns("ip link set lo up; %s\"$SOCKPIT\" --json --lab loss; echo rc=$?; "
                                "\"$SOCKPIT\" --json -e 'lab loss'" % setup)
        first, second = out.split("rc=")
        assert first == "" and second.startswith("1\n"), (out, err)
        # --lab: refused before anything ran, one line on stderr.
        lines = [l for l in err.splitlines() if l]
        assert len(lines) == 1, err
        assert "lab loss needs packet loss on lo, and there is none: its root qdisc is %s" % kind \
            in lines[0], lines
        assert "tools/wire-loss.sh" in lines[0], lines
        # Run as a line of a script: the line fails the same way, nothing
        # else ran (no socket, no note).
        evs = events_of(second[2:])
        assert [e["ev"] for e in evs] == ["cmd_error"], evs
        assert "its root qdisc is %s" % kind in evs[0]["message"], evs
        assert rc == 1, (rc, err)


@test
def without_cap_net_raw_the_lab_stops_at_the_capture_with_one_notice():
    if shutil.which("setpriv") is None:
        print("skip: no setpriv")
        return
    rc, out, err = in_netns(
        "ip link set lo up mtu 1500; tc qdisc add dev lo root tbf rate 8mbit burst 3000 "
        "limit 6000; setpriv --inh-caps=-all --bounding-set=-net_raw,-net_admin "
        "\"$SOCKPIT\" --json --lab loss")
    assert rc == 1, (rc, out, err)
    evs = events_of(out)
    caps = [e for e in evs if e["ev"] == "notice" and "CAP_NET_RAW" in e["message"]]
    assert len(caps) == 1 and "setcap cap_net_raw" in caps[0]["message"], evs
    assert not [e for e in evs if e["ev"] == "check"], evs
    stops = [e for e in evs if e["ev"] == "cmd_error"]
    # As the wire lab: the `wire` line fails saying how to grant it, and the
    # lab stops there.
    assert len(stops) == 2 and "CAP_NET_RAW" in stops[0]["message"], stops
    assert "lab loss stopped in step 1" in stops[1]["message"], stops


@test
def wire_loss_sh_without_root_exits_77_and_says_why():
    if shutil.which("setpriv") is None:
        print("skip: no setpriv")
        return
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "--inh-caps=-all", SCRIPT], capture_output=True, timeout=20,
                       env=dict(os.environ, SOCKPIT=SOCKPIT))
    assert p.returncode == 77, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.decode().strip() == \
        "wire-loss: needs root (unshare -n: a private network namespace)", p.stderr
    assert p.stdout == b"", p.stdout


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("skip: loss on lo needs root (unshare -n, tc, CAP_NET_RAW); CI runs as root")
        sys.exit(77)
    for tool in ("unshare", "ip", "tc"):
        if shutil.which(tool) is None:
            print("skip: needs %s" % tool)
            sys.exit(77)
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=20)
    if probe.returncode != 0:
        print("skip: unshare -n refused: %r" % probe.stderr)
        sys.exit(77)
    peers.main()
