"""Labs headless: every built-in lab runs straight through and every check
holds (exit 0); for each lab, a copy with its precondition broken (a recv
size so large that nothing splits, a peer that does not pause, ...) fails
the named check (exit 1, the check named); `lab list`, teachers' own lab
files, their parse errors with line and column, and `step` as a no-op."""

import concurrent.futures
import json
import os
import re
import subprocess
import tempfile

import peers
from peers import SOCKPIT, test

LABS_DIR = os.path.join(peers.ROOT, "src", "cmd", "labs")

# For each lab: (text in the lab file, its replacement, the check that must
# then fail). Each breaks what the lab stages, not what it checks.
BREAKS = {
    "split": [
        ("recvsize $3 16\n", "recvsize $3 64K\n", "several-recvs"),
        # A reader that keeps reading gets each send as it comes.
        ("pause $3\nsend $2 one,\nsend $2 two,\n",
         "send $2 one,\nwait $3 bytes:+4\nsend $2 two,\n", "one-recv"),
    ],
    "framing-eof": [("recvsize $3 8\n", "recvsize $3 64K\n", "pieces")],
    # Not waiting for the delayed ACK of the FIN: still FIN_WAIT1.
    "framing-halfclose": [("wait $2 state:FIN_WAIT2\n", "\n", "client-fin-wait2")],
    "framing-fixed": [("recvsize $3 10\n", "recvsize $3 64K\n", "messages-straddle-recvs")],
    "framing-delim": [("recvsize $3 4\n", "recvsize $3 64K\n", "lines-span-recvs")],
    "framing-length": [("send $2 hello --split 1 --delay 30\n", "send $2 hello\n",
                        "one-byte-recvs")],
    "framing-blocks": [('send $2 "second part"\n', 'send $2 "second part" --end\n',
                        "bytes-but-no-message")],
    "halfclose": [("wait $2 state:FIN_WAIT2\n", "\n", "client-fin-wait2")],
    # The peer reads at once: the FIN is acknowledged before the peer's FIN.
    "teardown": [("shutdown $7 wr\nwait $6 state:CLOSING\n",
                  "shutdown $7 wr\nresume $7\nwait $6 state:TIME_WAIT\n", "closing")],
    "rst": [("reset $4\nwait $5 closed\n", "close $4\nwait $5 eof\n", "peer-reset")],
    "backpressure": [("pause $3\n", "\n", "writer-blocked")],
    "sendall": [("pause $3\n", "\n", "kernel-refused-part")],
    "nagle": [("set $2 cork on\n", "set $2 cork off\n", "corked-nothing-sent")],
    "udp": [("recvsize $2 4\n", "recvsize $2 64K\n", "truncated")],
    # A stream path instead: the three sends arrive as one recv.
    "seqpacket": [("listen unix-seqpacket:", "listen unix:", "three-records")],
    "ancillary": [("set $3 passcred on\n", "\n", "credentials"),
                  ("send $2 --fd /dev/null here\n", "send $2 here\n", "descriptor-passed")],
    # Nothing captured without the wire view: no SYN row.
    "wire": [("wire $1 on\n", "\n", "syn")],
    # Run on a lo that loses nothing (here, not through tools/wire-loss.sh):
    # no hole on the wire, so the checks that look for one fail.
    "loss": [("needs: loss\n", "\n", "gap")],
}

# Labs that need what this machine does not give them by itself, and the
# test that runs them where they get it.
RUN_ELSEWHERE = {
    "loss": "test_loss.py runs it through tools/wire-loss.sh (a lossy lo in a private namespace)",
}


def lab_names():
    return sorted(f[:-4] for f in os.listdir(LABS_DIR) if f.endswith(".lab"))


def run_lab(arg, timeout=90):
    # Generous: under ASan, with the labs in parallel on a loaded machine.
    p = subprocess.run([SOCKPIT, "--json", "--timeout", "60", "--lab", arg],
                       capture_output=True, timeout=timeout)
    events = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    return p.returncode, events, p.stderr


def in_parallel(fn, items):
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        return list(ex.map(fn, items))


@test
def every_lab_runs_headless_and_every_check_holds():
    names = [n for n in lab_names() if n not in RUN_ELSEWHERE]
    assert len(names) >= 1, names
    results = in_parallel(run_lab, names)
    for name, (rc, events, err) in zip(names, results):
        # A line marked "!" may fail on purpose (rst: a refused connect).
        errs = [e for e in events if e["ev"] == "cmd_error" and not e.get("expected")]
        checks = [e for e in events if e["ev"] == "check"]
        notes = [e for e in events if e["ev"] == "note"]
        failed = [c for c in checks if not c["held"]]
        assert rc == 0, "lab %s: rc %d, errors %r, failed %r, stderr %r" % (
            name, rc, errs, failed, err)
        assert not errs and not failed, (name, errs, failed)
        assert notes and notes[-1]["step"] == notes[-1]["steps"], (name, notes[-1:])
        assert len(checks) >= notes[-1]["steps"] - 1, (name, len(checks))
        assert all(n["lab"] == name and n["text"] for n in notes), name


@test
def a_line_allowed_to_fail_is_marked_expected_and_not_reported_on_stderr():
    # rst's "! connect" to a closed port must be refused: that is the lesson,
    # so it is no failure on stderr (where `--lab rst >/dev/null` looks).
    p = subprocess.run([SOCKPIT, "--timeout", "60", "--lab", "rst"], capture_output=True,
                       timeout=90)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert p.stderr == b"", p.stderr
    assert re.search(rb"cmd_error \(expected\): lab rst:\d+: connect failed: ECONNREFUSED",
                     p.stdout), p.stdout
    rc, events, err = run_lab("rst")
    refused = [e for e in events if e["ev"] == "cmd_error"]
    assert len(refused) == 1 and refused[0]["expected"] is True, refused


def broken_copy(tmp, name, old, new):
    src = open(os.path.join(LABS_DIR, name + ".lab")).read()
    assert src.count(old) >= 1, "lab %s has no %r to break" % (name, old)
    path = os.path.join(tmp, "%s-%d.lab" % (name, abs(hash(old)) % 100000))
    with open(path, "w") as f:
        f.write(src.replace(old, new, 1))
    return path


@test
def each_broken_precondition_fails_its_named_check():
    missing = [n for n in lab_names() if n not in BREAKS]
    assert not missing, "labs without a broken-precondition test: %r" % missing
    with tempfile.TemporaryDirectory(prefix="sockpit-labs-") as tmp:
        cases = [(name, old, new, check) for name, brk in sorted(BREAKS.items())
                 for old, new, check in brk]
        paths = [broken_copy(tmp, n, o, w) for n, o, w, _ in cases]
        results = in_parallel(run_lab, paths)
        for (name, old, new, check), (rc, events, err) in zip(cases, results):
            checks = {e["name"]: e for e in events if e["ev"] == "check"}
            assert rc == 1, "%s with %r -> %r: rc %d" % (name, old, new, rc)
            assert check in checks, "%s: check %s never ran; errors: %r" % (
                name, check, [e for e in events if e["ev"] == "cmd_error"])
            assert not checks[check]["held"], (name, check, checks[check])
            errs = [e for e in events if e["ev"] == "cmd_error"]
            assert errs and check in errs[-1]["message"], (name, check, errs)


@test
def lab_list_names_each_lab_with_a_line_and_a_duration():
    rc, out, err = peers.run(["--lab", "list"])
    assert rc == 0, (rc, err)
    text = out.decode()
    for name in lab_names():
        m = re.search(r"^%s +\S.* \((\d+ min)\)$" % re.escape(name), text, re.M)
        assert m, (name, text)


@test
def readme_lists_the_labs_as_lab_list_does():
    rc, out, err = peers.run(["--lab", "list"])
    with open(os.path.join(peers.ROOT, "README.md"), "rb") as f:
        readme = f.read()
    m = re.search(rb"<!-- labs:begin -->\n```\n(.*?)```\n<!-- labs:end -->", readme, re.S)
    assert m, "README lacks the lab list markers"
    assert m.group(1) == out, "README lab list is stale: paste `sockpit --lab list`"


@test
def step_does_nothing_headless():
    rc, out, err = peers.run(["-e", "step", "-e", "step wait for the class", "-e", "help step"])
    assert rc == 0, (rc, err)
    assert b"step [TEXT...]" in out, out


@test
def a_teachers_lab_file_runs_and_its_errors_name_line_and_column():
    with tempfile.TemporaryDirectory(prefix="sockpit-labs-") as tmp:
        good = os.path.join(tmp, "mine.lab")
        with open(good, "w") as f:
            f.write("lab: mine\nsummary: a teacher's lab\n\n"
                    "step: Echo\n"
                    "listen tcp:0 --echo\n"
                    "connect $1.addr\n"
                    "step\n"
                    "send $2 hello\n"
                    "wait $2 bytes:5\n"
                    "note: $2 got its bytes back; costs $$0.\n"
                    "check: echoed recv $2 len=5\n"
                    "check: not-sent-twice send $2 = 1\n")
        rc, events, err = run_lab(good)
        assert rc == 0, (rc, events, err)
        notes = [e for e in events if e["ev"] == "note"]
        assert notes[0]["text"] == "2 got its bytes back; costs $0.", notes
        bad = os.path.join(tmp, "bad.lab")
        with open(bad, "w") as f:
            f.write("lab: bad\nsummary: s\nstep: t\ncheck: c recv $3 > many\n")
        rc, out, err = peers.run(["--lab", bad])
        assert rc == 2, rc
        assert (bad + ":4:20: unknown event \"many\"").encode() in err, err
        ahead = os.path.join(tmp, "ahead.lab")
        with open(ahead, "w") as f:
            f.write("lab: ahead\nsummary: s\nstep: t\nlisten tcp:0\nsend $4 x\nnote: n\n")
        rc, events, err = run_lab(ahead)
        errs = [e for e in events if e["ev"] == "cmd_error"]
        assert rc == 1 and errs, (rc, events)
        assert "ahead.lab:5: $4: the lab has made 1 socket so far" in errs[0]["message"], errs
        rc, out, err = peers.run(["--lab", "nosuch"])
        assert rc == 2 and b'no lab "nosuch"' in err and b"split" in err, err


@test
def text_output_prints_notes_as_indented_blocks_and_checks_as_lines():
    rc, out, err = peers.run(["--headless", "--lab", "split"], timeout=30)
    assert rc == 0, (rc, err)
    text = out.decode()
    assert re.search(r"^\d+\.\d+ note split 2/\d+ One send, small reads\n    \S", text, re.M), text
    assert re.search(r"^\d+\.\d+ check split 2/\d+ several-recvs held: recv 3 > 1 \(found 4\)$",
                     text, re.M), text


@test
def a_lab_inside_a_script_runs_before_the_next_line_and_cannot_nest():
    sp = peers.Sockpit(["--timeout", "20", "-e", "lab split", "-e", "list", "-e", "quit"])
    rc = sp.finish()
    assert rc == 0, (rc, sp.of("cmd_error"))
    kinds = [e["ev"] for e in sp.events]
    last_check = max(i for i, k in enumerate(kinds) if k == "check")
    first_output = min(i for i, k in enumerate(kinds) if k == "output")
    assert last_check < first_output, kinds
    with tempfile.TemporaryDirectory(prefix="sockpit-labs-") as tmp:
        nest = os.path.join(tmp, "nest.lab")
        with open(nest, "w") as f:
            f.write("lab: nest\nsummary: s\nstep: t\nlab split\nnote: n\n")
        rc, events, err = run_lab(nest)
        assert rc == 1
        assert any("cannot start another lab" in e["message"] for e in events
                   if e["ev"] == "cmd_error"), events


if __name__ == "__main__":
    peers.main()
