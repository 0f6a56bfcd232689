#!/usr/bin/env python3
"""The layer walls of ARCHITECTURE.md, checked on the built libraries.

Every symbol a layer's objects leave undefined (nm -u) must come from a layer
below it (and then be public: no sp__ internals cross a library) or from a
system library that layer may use. A violation fails the test and names the
file, the symbol and where it comes from.

Usage: check_walls.py BINARY LAYER=ARCHIVE... [main=OBJECT]...  (a layer may repeat)
BINARY is the linked sockpit program: ldd on it finds the system libraries
(libc, libuv, ncursesw, ...), whose exported symbols tell who defines what.
Run with --self-test to prove the checker catches each kind of violation.
"""
import os
import re
import subprocess
import sys

# What each layer may call: other layers of the project, and system libraries
# (by soname stem). libc, libm and the sanitizers' runtimes are everyone's.
LAYERS = {
    "proto": {"layers": set(), "libs": set()},
    "engine": {"layers": {"proto"}, "libs": {"libuv", "libssl", "libcrypto", "libpcap"}},
    "cmd": {"layers": {"engine", "proto"}, "libs": set()},
    "headless": {"layers": {"cmd", "engine", "proto"}, "libs": set()},
    "ui": {"layers": {"cmd", "engine", "proto"}, "libs": {"libncursesw", "libtinfo"}},
    # main.c and progdoc.c: the program's objects may use each other.
    "main": {"layers": {"ui", "headless", "cmd", "engine", "proto", "main"}, "libs": set()},
}
EVERYONE = {"libc", "libm", "ld-linux-x86-64", "ld-linux-aarch64", "libasan", "libubsan",
            "libgcc_s", "libpthread", "libdl", "librt"}


def stem(path):
    return re.sub(r"\.so.*$", "", os.path.basename(path))


def nm(args, path):
    out = subprocess.run(["nm"] + args + [path], check=True, capture_output=True,
                         text=True).stdout
    return out


def undefined_by_member(archive):
    """{member: set(symbols)} of what each object of an archive leaves undefined."""
    res, member = {}, os.path.basename(archive)
    for line in nm(["-u"], archive).splitlines():
        if line.endswith(":") and not line.startswith(" "):
            member = line[:-1]
            continue
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("U", "w"):
            res.setdefault(member, set()).add(parts[1].split("@")[0])
    return res


def defined(path, dynamic=False):
    out = nm((["-D"] if dynamic else []) + ["--defined-only"], path)
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] not in ("U", "w", "v"):
            syms.add(parts[2].split("@")[0])
    return syms


def system_libs(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.search(r"=>\s*(\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m and os.path.exists(m.group(1)):
            libs[stem(m.group(1))] = m.group(1)
    return libs


def check(layer, undef, owner_of):
    """Violations of one layer: undef is {member: symbols}; owner_of maps a
    symbol to (kind, name) with kind 'layer' or 'lib'."""
    rule, bad = LAYERS[layer], []
    for member, syms in sorted(undef.items()):
        for s in sorted(syms):
            kind, name = owner_of.get(s, ("?", "?"))
            if kind == "layer":
                if name == layer:
                    continue
                if name not in rule["layers"]:
                    bad.append(f"{layer}/{member}: {s} is the {name} layer's; {layer} may not use it")
                elif s.startswith("sp__"):
                    bad.append(f"{layer}/{member}: {s} is internal to the {name} layer")
            elif kind == "lib":
                if name not in EVERYONE and name not in rule["libs"]:
                    bad.append(f"{layer}/{member}: {s} comes from {name}; {layer} may not use it")
            elif not s.startswith(("__asan", "__ubsan", "__sanitizer", "__lsan", "_GLOBAL_OFFSET_TABLE_")):
                bad.append(f"{layer}/{member}: {s} is defined nowhere known")
    return bad


def self_test():
    owner = {"uv_default_loop": ("lib", "libuv"), "initscr": ("lib", "libncursesw"),
             "sp__sock_get": ("layer", "engine"), "sp_engine_run": ("layer", "engine"),
             "sp_cmdq_push": ("layer", "cmd"), "malloc": ("lib", "libc"),
             "sp_render": ("layer", "proto")}
    cases = [
        ("ui", {"tui.o": {"uv_default_loop"}}, 1),
        ("ui", {"tui.o": {"sp__sock_get"}}, 1),
        ("engine", {"engine.o": {"initscr"}}, 1),
        ("proto", {"frame.o": {"uv_default_loop"}}, 1),
        ("engine", {"engine.o": {"sp_cmdq_push"}}, 1),
        ("headless", {"headless.o": {"sp__sock_get", "uv_default_loop"}}, 2),
        ("ui", {"tui.o": {"sp_engine_run", "sp_cmdq_push", "initscr", "malloc", "sp_render"}}, 0),
        ("engine", {"engine.o": {"uv_default_loop", "sp_render", "malloc"}}, 0),
    ]
    for layer, undef, want in cases:
        got = check(layer, undef, owner)
        if len(got) != want:
            print(f"self-test failed: {layer} {undef}: {got}")
            return 1
    print("walls self-test: 8 cases, each violation caught")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    binary, specs = argv[1], [a.split("=", 1) for a in argv[2:]]
    owner_of = {}
    for name, path in system_libs(binary).items():
        for s in defined(path, dynamic=True):
            owner_of.setdefault(s, ("lib", name))
    archives = []
    for layer, path in specs:  # a layer may be given more than once (main's objects)
        archives.append((layer, path))
        for s in defined(path):
            owner_of[s] = ("layer", layer)
    bad, counted = [], 0
    for layer, path in archives:
        undef = undefined_by_member(path)
        counted += sum(len(v) for v in undef.values())
        bad += check(layer, undef, owner_of)
    for b in bad:
        print("wall broken:", b)
    print(f"walls: {len({a[0] for a in archives})} layers, {counted} undefined symbols checked, {len(bad)} broken")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
