#!/usr/bin/env python3
"""The call graph among the files of each library, from nm of the objects.

File A uses file B when an object of A leaves undefined (nm -u) a symbol that
B's object defines, within one library. Each layer should read top-down: a
cycle between sibling files (A uses B and B, directly or through others, uses
A) fails, except for the pairs ALLOWED names with a reason.

Usage: callgraph.py [--check] LAYER=ARCHIVE...
Prints, per layer, each file and the files it uses, then the cycles.
With --check the exit status is 1 when a cycle is not allowed.
Run with --self-test to prove the cycle finder.
"""
import subprocess
import sys

# Sibling cycles that are by design, each with why (libuv's core.c <-> stream.c
# kind: one loop and the handles it drives).
ALLOWED = {}


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


def graph(objs):
    """{file: set(files it uses)} within one library."""
    owner = {s: m for m, (defs, _) in objs.items() for s in defs}
    return {m: {owner[s] for s in undef if s in owner and owner[s] != m}
            for m, (_, undef) in objs.items()}


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


def short(member):
    return member[:-2] if member.endswith(".o") else member.replace(".c.o", "")


def allowed(comp):
    return len(comp) == 2 and frozenset(comp) in ALLOWED


def report(layer, g):
    print(f"{layer}:")
    for m in sorted(g):
        uses = " ".join(sorted(short(x) for x in g[m])) or "-"
        print(f"  {short(m):16} -> {uses}")
    bad = []
    for comp in cycles(g):
        names = " <-> ".join(short(c) for c in comp)
        if allowed(comp):
            print(f"  cycle (allowed: {ALLOWED[frozenset(comp)]}): {names}")
        else:
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
    print(f"callgraph self-test: {len(cases)} cases")
    return 0


def main(argv):
    args = argv[1:]
    if args == ["--self-test"]:
        return self_test()
    check = "--check" in args
    bad = []
    for spec in (a for a in args if a != "--check"):
        layer, path = spec.split("=", 1)
        bad += report(layer, graph(members(path)))
    print(f"callgraph: {len(bad)} sibling cycles not allowed")
    return 1 if check and bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
