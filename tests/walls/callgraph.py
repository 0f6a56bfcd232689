#!/usr/bin/env python3
"""The call graph among the files of each library, from nm of the objects.

File A uses file B when an object of A leaves undefined (nm -u) a symbol that
B's object defines, within one library. Each layer should read top-down: a
cycle between sibling files (A uses B and B, directly or through others, uses
A) fails. ALLOWED names the few calls that go back up on purpose, each by
symbol and with the reason; they are left out before cycles are looked for,
so any other call back up (or a new symbol on an allowed edge) fails.

Usage: callgraph.py [--check] [--verbose] LAYER=ARCHIVE...
Prints, per layer, each file and the files it uses (with --verbose, the
symbols of each use), the allowed calls back up, then the cycles.
With --check the exit status is 1 when a cycle is not allowed.
Run with --self-test to prove the cycle finder.
"""
import subprocess
import sys

# Calls back up that are by design (libuv's core.c <-> stream.c kind: the core
# ends or drives a handle by calling into its kind), by symbol, with why.
ALLOWED = {
    ("engine.c", "engine_frame.c"): {
        "symbols": {"sp__framer_set", "sp__framer_release", "sp__framer_free"},
        "why": "a socket is made with its framing and its decoder freed with it"},
    ("engine.c", "engine_kstate.c"): {
        "symbols": {"sp__klist_update", "sp__kfollow", "sp__kgone", "sp__kclose_rst",
                    "sp__kunfollow"},
        "why": "closing a socket takes it off the TCP-state poll or follows it after close, "
               "and asks whether close(2) sends RST; forgetting it stops following it"},
    ("engine.c", "engine_send.c"): {
        "symbols": {"sp__send_cancel_all", "sp__send_settle"},
        "why": "closing a socket reports what the kernel took of its pending sends and "
               "cancels the rest"},
    ("engine.c", "engine_stream.c"): {
        "symbols": {"sp__unix_unlink"},
        "why": "closing a Unix socket removes the path it made"},
    ("engine.c", "engine_recv.c"): {
        "symbols": {"sp__recv_cancel"},
        "why": "closing a socket gives up its waiting manual recv, whose duplicate descriptor "
               "would keep the socket open"},
    ("engine.c", "engine_wire.c"): {
        "symbols": {"sp__wire_free", "sp__wire_forget"},
        "why": "destroying the engine closes the wire view's captures (their loop handles); "
               "freeing a socket frees the segment tracker kept while its wire view is off"},
    ("engine.c", "engine_tls.c"): {
        "symbols": {"sp__tls_close", "sp__tls_free"},
        "why": "closing a TLS socket sends close_notify first; its TLS state is freed with it"},
    ("engine_stream.c", "engine_relay.c"): {
        "symbols": {"sp__relay_plain"},
        "why": "a TLS relay leg's plaintext reads go to its relay, which forwards them (the "
               "events carry no plaintext the relay could read)"},
    ("engine.c", "engine_tlscache.c"): {
        "symbols": {"sp__tls_cache_free"},
        "why": "destroying the engine frees the TLS client's kept sessions"},
    ("engine.c", "engine_anc.c"): {
        "symbols": {"sp__anc_close"},
        "why": "closing a socket stops its ancillary reader, whose duplicate descriptor would "
               "keep the socket open"},
    ("engine_sock.c", "engine_anc.c"): {
        "symbols": {"sp__anc_read_start", "sp__anc_read_stop"},
        "why": "reading on/off goes to the ancillary reader when the socket wants control "
               "messages"},
    ("engine_sock.c", "engine_stream.c"): {
        "symbols": {"sp__stream_read_start", "sp__stream_read_stop",
                    "sp__listener_start", "sp__listener_stop"},
        "why": "reading on/off dispatches to the socket's kind"},
    ("engine_sock.c", "engine_dgram.c"): {
        "symbols": {"sp__dgram_read_start", "sp__dgram_read_stop"},
        "why": "reading on/off dispatches to the socket's kind"},
    ("engine_sock.c", "engine_packet.c"): {
        "symbols": {"sp__packet_read_start", "sp__packet_read_stop"},
        "why": "reading on/off dispatches to the socket's kind"},
    ("engine_sock.c", "engine_seqpacket.c"): {
        "symbols": {"sp__seqpacket_read_start", "sp__seqpacket_read_stop"},
        "why": "reading on/off dispatches to the socket's kind"},
    ("cmd.c", "cmd_run.c"): {
        "symbols": {"cmd__run_line", "sp_cmd_line_is"},
        "why": "the queue runs its next line, whose command then uses the queue"},
    ("cmd.c", "cmd_wait.c"): {
        "symbols": {"cmd__pending_event", "cmd__pending_clear", "cmd__pending_needs_data"},
        "why": "the queue hands events to the command waiting on it"},
    ("cmd.c", "cmd_rules.c"): {
        "symbols": {"cmd__rules_free"},
        "why": "freeing a queue frees its `on` rules and the replies waiting for their delay"},
    ("cmd.c", "lab_run.c"): {
        "symbols": {"cmd__lab_free"},
        "why": "freeing a queue frees the lab it ran, with the lab's own line queue"},
    ("cmd_session.c", "cmd_table.c"): {
        "symbols": {"sp_cmd_help"},
        "why": "help prints the table that lists it"},
}


def members(archive):
    """{member: (defined, undefined)} for every object of a static library."""
    out = subprocess.run(["nm", archive], check=True, capture_output=True, text=True).stdout
    res, member = {}, None
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            member = line[:-1]
            res[member] = (set(), set())
            continue
        parts = line.split()
        if member is None or len(parts) < 2:
            continue
        if parts[0] in ("U", "w"):
            res[member][1].add(parts[1])
        elif len(parts) == 3 and parts[1].isupper() and parts[1] not in ("U", "W", "V"):
            res[member][0].add(parts[2])
    return res


def short(member):
    """engine.c.o (CMake) or engine.o -> engine.c / engine."""
    return member[:-2] if member.endswith(".o") else member


def edges(objs):
    """{(file, file it uses): set(symbols)} within one library."""
    owner = {s: m for m, (defs, _) in objs.items() for s in defs}
    res = {}
    for m, (_, undef) in objs.items():
        for s in undef:
            if s in owner and owner[s] != m:
                res.setdefault((short(m), short(owner[s])), set()).add(s)
    return res


def graph(objs, allowed=None):
    """{file: set(files it uses)}, leaving out the calls allowed (the
    ALLOWED symbols of each edge; an edge with other symbols stays)."""
    allowed = ALLOWED if allowed is None else allowed
    g = {short(m): set() for m in objs}
    for (a, b), syms in edges(objs).items():
        if not syms <= allowed.get((a, b), {}).get("symbols", set()):
            g[a].add(b)
    return g


def cycles(g):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def levels(g):
    """Files by height: what uses nothing of its siblings at the bottom (the
    last group), each file one above the highest file it uses. Files on a
    cycle are left out."""
    bad = {m for comp in cycles(g) for m in comp}
    height = {}

    def h(m):
        if m not in height:
            height[m] = 0
            height[m] = 1 + max((h(x) for x in g[m] if x not in bad), default=-1)
        return height[m]

    for m in g:
        if m not in bad:
            h(m)
    top = max(height.values(), default=-1)
    return [sorted(m for m in height if height[m] == lv) for lv in range(top, -1, -1)]


def report(layer, objs, verbose):
    print(f"{layer}:")
    full = edges(objs)
    g = graph(objs)
    for m in sorted(g):
        print(f"  {m:16} -> {' '.join(sorted(g[m])) or '-'}")
        if verbose:
            for (a, b), syms in sorted(full.items()):
                if a == m:
                    print(f"      {b}: {' '.join(sorted(syms))}")
    for (a, b), rule in sorted(ALLOWED.items()):
        if (a, b) in full:
            print(f"  {a} calls back up into {b} ({rule['why']}): "
                  f"{' '.join(sorted(full[(a, b)]))}")
    print(f"  top down: {' | '.join(' '.join(lv) for lv in levels(g))}")
    bad = []
    for comp in cycles(g):
        names = " <-> ".join(comp)
        print(f"  CYCLE: {names}")
        bad.append(names)
    return bad


def self_test():
    cases = [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, 0),
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, 1),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}}, 2),
    ]
    for g, want in cases:
        if len(cycles(g)) != want:
            print(f"self-test failed: {g}: {cycles(g)}")
            return 1
    objs = {"core.c.o": ({"run", "close"}, {"stream_close"}),
            "stream.c.o": ({"stream_close", "stream_read"}, {"close"})}
    allow = {("core.c", "stream.c"): {"symbols": {"stream_close"}, "why": "test"}}
    if cycles(graph(objs, {})) != [["core.c", "stream.c"]] or cycles(graph(objs, allow)):
        print("self-test failed: an allowed call back up")
        return 1
    objs["core.c.o"][1].add("stream_read")
    if not cycles(graph(objs, allow)):
        print("self-test failed: a call not allowed on an allowed edge")
        return 1
    print(f"callgraph self-test: {len(cases) + 2} cases")
    return 0


def main(argv):
    args = argv[1:]
    if args == ["--self-test"]:
        return self_test()
    check, verbose = "--check" in args, "--verbose" in args
    bad = []
    for spec in (a for a in args if not a.startswith("--")):
        layer, path = spec.split("=", 1)
        bad += report(layer, members(path), verbose)
    print(f"callgraph: {len(bad)} sibling cycles not allowed")
    return 1 if check and bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
