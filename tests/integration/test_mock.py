"""Matching and mocking against real Python peers on 127.0.0.1: expect's
modes (prefix, contains, regex, hex mask) and their errors, a regex capture
used in a later send, expect --within passing and failing with the latency
in the expect event, `on` rules answering several Python clients of a
listener (rules made after a client was accepted apply to it too), `list
rules` counts, and `replay` (and --replay/--replay-peer) of a recorded
conversation against the server it was recorded from and as a mock server
for a Python client."""

import json
import os
import socket
import tempfile
import threading
import time

import peers
from peers import Server, Sockpit, test


def login_server(c):
    """Line server: LOGIN NAME -> OK user=NAME id=42; SLOW -> SLOWOK after
    0.4 s; BIN -> 01 xx 03 (binary); anything else upper-cased."""
    c.settimeout(20)
    f = c.makefile("rb")
    for line in f:
        body = line.rstrip(b"\n")
        if body.startswith(b"LOGIN "):
            c.sendall(b"OK user=" + body[6:] + b" id=42\n")
        elif body == b"SLOW":
            time.sleep(0.4)
            c.sendall(b"SLOWOK\n")
        elif body == b"BIN":
            c.sendall(b"\x01\x7f\x03\n")
        else:
            c.sendall(body.upper() + b"\n")


def run_script(lines, port, timeout=20):
    script = "\n".join(lines).replace("PORT", str(port)) + "\n"
    sp = Sockpit(["--timeout", str(timeout)], script=script)
    rc = sp.finish()
    return rc, sp


@test
def expect_modes_match_a_python_server():
    srv = Server(login_server)
    try:
        rc, sp = run_script([
            "connect tcp:127.0.0.1:PORT --framing line",
            "send \"LOGIN bob\"",
            "expect --prefix \"OK user=\"",
            "send \"abc def\"",
            "expect --contains \"C D\"",
            "send \"LOGIN eve\"",
            "expect --regex \"^OK user=[a-z]{3} id=[0-9]+$\"",
            "send BIN",
            "expect --hex-mask \"01 ?? 03\"",
            "send BIN",
            "expect --hex-mask \"01 7?\" --prefix",
            "send x\\x00y",
            "expect --regex \"X\\x00?Y$\"",  # sockpit's \\x00 is refused: NUL...
            "quit",
        ], srv.port)
        # ...so the last expect fails at parse time, before waiting.
        errs = sp.of("cmd_error")
        assert rc == 1 and len(errs) == 1, (rc, errs)
        assert "NUL" in errs[0]["message"], errs
        ex = sp.of("expect", 1)
        assert [e["mode"] for e in ex] == ["prefix", "contains", "regex", "hex-mask",
                                           "hex-mask prefix"], ex
        assert [e["seq"] for e in ex] == [1, 2, 3, 4, 5], ex
        for e in ex:
            assert e["what"] == "msg" and e["latency_ms"] is not None and e["send"] == e["seq"], e

        # The subject is the whole message, NUL bytes included.
        rc, sp = run_script([
            "connect tcp:127.0.0.1:PORT --framing line",
            "send x\\x00y",
            "expect --regex \"^X[^a]Y$\"",
            "send x\\x00y",
            "expect --contains \\x00Y",
            "quit",
        ], srv.port)
        assert rc == 0, (rc, sp.of("cmd_error"))
    finally:
        srv.close()


@test
def expect_mismatches_and_bad_patterns_say_why():
    srv = Server(login_server)
    try:
        cases = [
            ("expect --prefix NO", "expected prefix \"NO\""),
            ("expect --contains ZZ", "expected contains \"ZZ\""),
            ("expect --regex \"^x\"", "does not match the regex /^x/"),
            ("expect --hex-mask \"48 ?? 4c\"", "expected hex-mask 48 ?? 4c"),
        ]
        for line, why in cases:
            rc, sp = run_script(["connect tcp:127.0.0.1:PORT --framing line", "send hello",
                                 line, "send never"], srv.port)
            errs = sp.of("cmd_error")
            assert rc == 1 and len(errs) == 1, (line, rc, errs)
            assert why in errs[0]["message"] and "HELLO" in errs[0]["message"], (why, errs)
            sent = [bytes.fromhex(e["hex"]) for e in sp.of("send")]
            assert sent == [b"hello\n"], sent
        # Bad patterns fail the line before it waits, at the right column.
        bad = [
            ("expect --regex \"a(\"", "bad regex"),
            ("expect --regex \"\"", "empty regex"),
            ("expect --regex \"a++\"", "a repeat of a repeat"),
            ("expect --regex \"(a?){999}\"", "too costly"),
            ("expect --hex-mask \"01 ?g\"", "not a hex digit or ? in a hex mask: 'g' at column 24"),
            ("expect --hex-mask \"01 2\"", "two characters"),
            ("expect --regex a --prefix", "anchor it"),
            ("expect --prefix --contains a", "not both"),
            ("expect x --regex a", "DATA or --regex, not both"),
            ("expect --capture n x", "--capture takes a group of --regex"),
            ("expect --regex \"(a)\" --capture n=2", "no group 2"),
            ("expect --regex \"(a)\" --capture 9x", "bad capture name"),
        ]
        for line, why in bad:
            t0 = time.monotonic()
            rc, sp = run_script(["connect tcp:127.0.0.1:PORT --framing line", line], srv.port)
            errs = sp.of("cmd_error")
            assert rc == 1 and len(errs) == 1, (line, errs)
            assert why in errs[0]["message"], (line, why, errs[0]["message"])
            assert time.monotonic() - t0 < 5, "a bad pattern waited"
    finally:
        srv.close()


@test
def capture_is_used_in_a_later_send_and_expect():
    srv = Server(login_server)
    try:
        rc, sp = run_script([
            "connect tcp:127.0.0.1:PORT --framing line",
            "send \"LOGIN bob\"",
            "expect --regex \"^OK user=([a-z]+) id=([0-9]+)$\" --capture user,id",
            "send \"whoami ${user}/${id} costs $$5 or $9\"",
            "expect \"WHOAMI BOB/42 COSTS $5 OR $9\"",
            "send \"LOGIN ann\"",
            "expect --regex \"user=([a-z]+)\" --capture who=1,all=0",
            "send \"${who}:${all}\"",
            "expect \"ANN:USER=ANN\"",
            "send \"again ${user}\"",
            "expect \"AGAIN ${user}\"",  # expect DATA expands too (to bob: no match)
            "quit",
        ], srv.port)
        errs = sp.of("cmd_error")
        assert rc == 1 and len(errs) == 1, errs
        assert errs[0]["line"] == "expect \"AGAIN ${user}\"", errs
        assert "expected \"AGAIN bob\"" in errs[0]["message"], errs
        sent = [bytes.fromhex(e["hex"]) for e in sp.of("send")]
        assert sent[1] == b"whoami bob/42 costs $5 or $9\n", sent
        assert sent[3] == b"ann:user=ann\n", sent
        ex = sp.of("expect", 1)
        assert ex[0]["captured"] == "user=bob id=42", ex[0]

        # An unknown variable fails the line; nothing is sent.
        rc, sp = run_script(["connect tcp:127.0.0.1:PORT --framing line", "send \"a ${nope}\""],
                            srv.port)
        errs = sp.of("cmd_error")
        assert rc == 1 and "unknown variable ${nope}" in errs[0]["message"], errs
        assert "column 9" in errs[0]["message"], errs
        assert not sp.of("send")
        rc, sp = run_script(["connect tcp:127.0.0.1:PORT --framing line", "send \"a ${x\""],
                            srv.port)
        assert rc == 1 and "unterminated ${" in sp.of("cmd_error")[0]["message"]
    finally:
        srv.close()


@test
def within_passes_fails_and_reports_the_latency():
    srv = Server(login_server)
    try:
        rc, sp = run_script([
            "connect tcp:127.0.0.1:PORT --framing line",
            "send fast",
            "expect FAST --within 3000",
            "send SLOW",
            "expect SLOWOK --within 3000",
            "quit",
        ], srv.port)
        assert rc == 0, sp.of("cmd_error")
        ex = sp.of("expect", 1)
        sends = sp.of("send", 1)
        msgs = sp.of("msg", 1)
        for e, s, m in zip(ex, sends, msgs):
            assert e["send"] == s["seq"]
            # The latency is the time between the two events, as printed.
            assert abs(e["latency_ms"] - (m["t"] - s["t"]) * 1000) < 0.05, (e, s, m)
        assert ex[1]["latency_ms"] >= 390, ex[1]

        # Too slow: fails when the time is over, without waiting for --timeout.
        t0 = time.monotonic()
        rc, sp = run_script([
            "connect tcp:127.0.0.1:PORT --framing line",
            "send SLOW",
            "expect SLOWOK --within 100",
        ], srv.port)
        assert rc == 1 and "nothing matched within 100 ms" in sp.of("cmd_error")[0]["message"]
        assert time.monotonic() - t0 < 5

        # Already there but late: the latency is from the send, not from the
        # expect line.
        rc, sp = run_script([
            "connect tcp:127.0.0.1:PORT --framing line",
            "send SLOW",
            "sleep 700",
            "expect SLOWOK --within 200",
        ], srv.port)
        msg = sp.of("cmd_error")[0]["message"]
        assert rc == 1 and "after our last send, more than --within 200 ms" in msg, msg
    finally:
        srv.close()


def line_client(port, lines, nreplies):
    c = peers.connect(port)
    c.sendall(b"".join(l + b"\n" for l in lines))
    got = peers.recv_all(c, 10)
    c.close()
    return got.split(b"\n")[:nreplies]


@test
def on_rules_answer_several_python_clients():
    script = "\n".join([
        "listen tcp:127.0.0.1:0 --framing line",
        "wait 1 accepted --timeout 0",
        "on 1 --regex \"^PING ([0-9]+)$\" --capture n reply \"PONG ${n}\"",
        "on 1 QUIT reply BYE --close",
        "on 1 --prefix SLOW reply LATE --delay 300",
        "on 1 --hex-mask \"ff ??\" reply --hex 00 01",
        "on 1 --contains \"\" reply ?",
        "wait 2 closed",
        "wait 1 accepted --timeout 0",
        "wait 1 accepted --timeout 0",
        "wait 3 closed",
        "wait 4 closed",
        "list rules",
        "quit",
    ]) + "\n"
    sp = Sockpit(["--timeout", "30"], script=script)
    try:
        port = sp.port()
        # Accepted before the rules were made: they apply to it too.
        a = peers.connect(port)
        sp.wait_event(lambda e: e.get("ev") == "output" and "rule 5" in e["text"])
        a.sendall(b"PING 1\nwhat\nSLOW\nPING 2\nQUIT\nPING 3\n")
        t0 = time.monotonic()
        got = peers.recv_all(a, 10)
        a.close()
        # The delayed reply keeps its place: replies go in message order.
        assert got == b"PONG 1\n?\nLATE\nPONG 2\nBYE\n", got
        assert time.monotonic() - t0 >= 0.25
        results = {}

        def client(k):
            results[k] = line_client(port, [b"PING %d" % k, b"\xff\x00", b"QUIT"], 3)

        ts = [threading.Thread(target=client, args=(k,)) for k in (10, 20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(15)
        for k in (10, 20):
            assert results[k] == [b"PONG %d" % k, b"\x00\x01", b"BYE"], results
        rc = sp.finish()
        assert rc == 0, (rc, sp.of("cmd_error"))
    finally:
        sp.kill()
    out = [e["text"] for e in sp.of("output")]
    table = out[out.index(next(t for t in out if t.startswith("RULE"))):]
    fired = {int(r.split()[0]): int(r.split()[2]) for r in table[1:6]}
    assert fired == {1: 4, 2: 3, 3: 1, 4: 2, 5: 1}, table
    rules = sp.of("rule")
    assert sum(1 for r in rules if r["rule"] == 1) == 4
    bye = [r for r in rules if r["rule"] == 2]
    assert all(r["close"] for r in bye) and len(bye) == 3
    assert [r["fired"] for r in rules if r["rule"] == 1] == [1, 2, 3, 4]
    # "PING 3" came after QUIT's close: the connection was closed, nothing
    # more was answered on it.
    assert not any(r["sock"] == 2 and r["seq"] > 5 for r in rules), rules


@test
def on_rule_on_a_udp_socket_answers_each_sender():
    sp = Sockpit(["--timeout", "20", "-e", "bind udp:127.0.0.1:0",
                  "-e", "on --regex \"^PING (.*)$\" --capture who reply \"PONG ${who}\""])
    try:
        port = sp.port()
        clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        sp.wait_event(lambda e: e.get("ev") == "output" and "rule 1" in e["text"])
        for k, c in enumerate(clients):
            c.settimeout(5)
            c.sendto(b"PING %d" % k, ("127.0.0.1", port))
        for k, c in enumerate(clients):
            data, addr = c.recvfrom(100)
            assert (data, addr[1]) == (b"PONG %d" % k, port), (data, addr)
            c.close()
        sp.wait_event(lambda e: e.get("ev") == "rule" and e["fired"] == 2)
    finally:
        sp.kill()


@test
def replies_waiting_are_capped_with_a_notice():
    sp = Sockpit(["--timeout", "20", "-e", "listen tcp:127.0.0.1:0 --framing line",
                  "-e", "on --prefix x reply y --delay 60000"])
    try:
        port = sp.port()
        sp.wait_event(lambda e: e.get("ev") == "output" and "rule 1" in e["text"])
        c = peers.connect(port)
        c.sendall(b"x\n" * 1030)
        ev = sp.wait_event(lambda e: e.get("ev") == "notice" and "not answered" in e["message"])
        assert "1024 replies" in ev["message"], ev
        sp.wait_event(lambda e: e.get("ev") == "notice" and "msg #1030 " in e["message"])
        notices = [e for e in sp.of("notice") if "not answered" in e["message"]]
        assert len(notices) == 6, len(notices)
        c.close()
    finally:
        sp.kill()


@test
def on_off_and_bad_rules():
    rc, out, err = peers.run(["--headless", "--json", "--keep-going",
                              "-e", "listen tcp:127.0.0.1:0",
                              "-e", "on a reply b", "-e", "on x", "-e", "list rules",
                              "-e", "on 1 off", "-e", "list rules",
                              "-e", "on --regex \"(\" reply x", "-e", "quit"], json_mode=True)
    evs = [json.loads(l) for l in out.splitlines()]
    texts = [e["text"] for e in evs if e["ev"] == "output"]
    assert "rule 1 on listener 1" in texts, texts
    assert "1 rule of socket 1 removed" in texts and texts[-1] == "no rules", texts
    errs = [e["message"] for e in evs if e["ev"] == "cmd_error"]
    assert len(errs) == 2 and "missing reply" in errs[0] and "bad regex" in errs[1], errs
    assert rc == 1


def counter_server(c):
    """Numbers each line it answers: "n: LINE" (upper-cased); on EOF says
    BYE and closes."""
    c.settimeout(20)
    f = c.makefile("rb")
    n = 0
    for line in f:
        n += 1
        c.sendall(b"%d: %s" % (n, line.upper()))
    c.sendall(b"BYE\n")


@test
def replay_a_recorded_conversation_against_its_server_and_as_a_mock():
    srv = Server(counter_server)
    tmp = tempfile.mkdtemp(prefix="sockpit-replay-")
    log = os.path.join(tmp, "conv.jsonl")
    try:
        # Record once.
        rc, sp = run_script([
            "connect tcp:127.0.0.1:PORT --framing line",
            "log " + log,
            "send hello",
            "expect \"1: HELLO\"",
            "send --hex 00 ff 7f",
            "expect --prefix \"2: \"",
            "shutdown wr",
            "expect BYE",
            "wait eof",
            "close",
        ], srv.port)
        assert rc == 0, sp.of("cmd_error")
        # Replay it against the same server: passes.
        rc, sp = run_script(["connect tcp:127.0.0.1:PORT --framing line",
                             "replay " + log], srv.port)
        assert rc == 0, (sp.of("cmd_error"), sp.err)
        out = [e["text"] for e in sp.of("output")]
        assert any("3 sends" not in t and "2 sends, 3 expects" in t for t in out), out
        assert [bytes.fromhex(e["hex"]) for e in sp.of("msg", 1)] == [
            b"1: HELLO", b"2: \x00\xff\x7f", b"BYE"]
        assert sp.of("shutdown", 1) and sp.of("eof", 1) and sp.of("closed", 1)
        # The sockpit --replay option says the same from the command line.
        rc, out_b, err_b = peers.run(["--headless", "--timeout", "20",
                                      "tcp:127.0.0.1:%d" % srv.port, "--framing", "line",
                                      "--replay", log])
        assert rc == 0, (out_b, err_b)

        # Against a server that answers differently it fails, naming the log line.
        other = Server(peers.upper_line_server)
        try:
            rc, sp = run_script(["connect tcp:127.0.0.1:PORT --framing line",
                                 "replay " + log], other.port)
            errs = sp.of("cmd_error")
            assert rc == 1 and len(errs) == 1, errs
            assert "conv.jsonl:" in errs[0]["message"] and "HELLO" in errs[0]["message"], errs
        finally:
            other.close()

        # As the server's mock (--replay-peer) for a Python client.
        sp = Sockpit(["--timeout", "20", "-l", "tcp:127.0.0.1:0", "--framing", "line",
                      "--replay-peer", log])
        try:
            port = sp.port()
            c = peers.connect(port)
            c.sendall(b"hello\n")
            assert peers.recv_until(c, b"\n") == b"1: HELLO\n"
            c.sendall(b"\x00\xff\x7f\n")
            assert peers.recv_until(c, b"\n") == b"2: \x00\xff\x7f\n"
            c.shutdown(socket.SHUT_WR)
            assert peers.recv_all(c) == b"BYE\n"
            c.close()
            rc = sp.finish()
            assert rc == 0, (sp.of("cmd_error"), sp.err)
        finally:
            sp.kill()
    finally:
        srv.close()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


@test
def replay_refuses_bad_logs():
    tmp = tempfile.mkdtemp(prefix="sockpit-replay-")
    try:
        two = os.path.join(tmp, "two.jsonl")
        with open(two, "w") as f:
            f.write('{"t":0.1,"ev":"send","sock":1,"seq":1,"len":1,"off":0,"hex":"61"}\n')
            f.write('{"t":0.2,"ev":"recv","sock":3,"seq":1,"len":1,"off":0,"hex":"62"}\n')
        junk = os.path.join(tmp, "junk.jsonl")
        with open(junk, "w") as f:
            f.write("hello\n")
        kept = os.path.join(tmp, "kept.jsonl")
        with open(kept, "w") as f:
            f.write('{"t":0.2,"ev":"recv","sock":3,"seq":1,"len":9,"off":0,"hex":"62",'
                    '"text":"b","kept":1}\n')
        for path, why in [(two, "replay takes the log of one socket"),
                          (junk, "line 1: not an event of a sockpit log"),
                          (kept, "only a prefix"), (os.path.join(tmp, "none"), "cannot open")]:
            rc, out, err = peers.run(["--headless", "--json", "-e", "bind udp:127.0.0.1:0",
                                      "-e", "replay 1 " + path, "-e", "quit"])
            errs = [json.loads(l)["message"] for l in out.splitlines()
                    if json.loads(l)["ev"] == "cmd_error"]
            assert any(why in m for m in errs), (why, errs)
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == "__main__":
    peers.main()
