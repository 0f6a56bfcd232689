"""Issue 14, installs like a tool: `cmake --install` (what `make install`
runs) puts the binary, the man page and the bash and zsh completions where
a system looks for them; the man page renders without a warning and names
every command of the table and every program option; bash loads the
completion and completes options, labs and address schemes; `--version`
says the build and the libraries."""

import os
import re
import shutil
import stat
import subprocess
import tempfile

import peers
from peers import run, test

BUILD = os.path.dirname(os.path.abspath(peers.SOCKPIT))


def install(destdir):
    p = subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr"], capture_output=True,
                       timeout=60, env=dict(os.environ, DESTDIR=destdir))
    assert p.returncode == 0, p.stderr
    return os.path.join(destdir, "usr")


def table_commands():
    """Every command of the table, from the README reference it generates."""
    rc, md, _ = run(["--help-commands-md"])
    assert rc == 0
    names = re.findall(rb"^- `([a-z]+)[ `]", md, re.M)
    assert len(names) > 20, md[:200]
    return [n.decode() for n in names]


def program_options():
    rc, out, _ = run(["--help"])
    assert rc == 0
    part = out.split(b"\noptions:\n", 1)[1].split(b"\n\n", 1)[0]
    return sorted({o.decode() for o in re.findall(rb"^  (-[-a-z]+)", part, re.M)} |
                  {o.decode() for o in re.findall(rb"^  -[a-z], (--[-a-z]+)", part, re.M)})


def render(page):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    p = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, timeout=30,
                       env=env)
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    g = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", page], capture_output=True,
                       timeout=30)
    assert g.returncode == 0 and g.stderr == b"", g.stderr
    text = p.stdout.decode()
    assert max(len(l) for l in text.splitlines()) <= 80
    return text


@test
def install_puts_every_file_in_its_place():
    with tempfile.TemporaryDirectory(prefix="sockpit-inst-") as d:
        usr = install(d)
        binary = os.path.join(usr, "bin", "sockpit")
        assert os.access(binary, os.X_OK)
        for rel in ("share/man/man1/sockpit.1", "share/bash-completion/completions/sockpit",
                    "share/zsh/site-functions/_sockpit"):
            assert os.path.getsize(os.path.join(usr, rel)) > 500, rel
        p = subprocess.run([binary, "--version"], capture_output=True, timeout=10)
        assert p.returncode == 0 and p.stdout.startswith(b"sockpit "), p


@test
def man_page_renders_and_names_every_command_and_option():
    with tempfile.TemporaryDirectory(prefix="sockpit-inst-") as d:
        text = render(os.path.join(install(d), "share/man/man1/sockpit.1"))
    assert text.startswith("SOCKPIT(1)"), text[:80]
    commands = text.split("\nCOMMANDS\n", 1)[1].split("\nSEE ALSO\n", 1)[0]
    # The page is written by the program from its tables: a command or an
    # option missing from it fails here.
    missing = [c for c in table_commands()
               if not re.search(r"^       " + c + r"( |$)", commands, re.M)]
    assert not missing, missing
    options = text.split("\nOPTIONS\n", 1)[1].split("\nCOMMANDS\n", 1)[0]
    missing = [o for o in program_options()
               if not re.search(r"^       (.*, )?" + re.escape(o) + r"\b", options, re.M)]
    assert not missing, missing
    assert "--help-man" in options and "0.0.0.0" in text


@test
def every_getopt_option_is_documented():
    """The generator refuses an option getopt knows but --help does not
    explain: every long option of the table appears in the page."""
    rc, page, err = run(["--help-man"])
    assert rc == 0, err
    rc, src = 0, open(os.path.join(peers.ROOT, "src", "main.c")).read()
    table = src.split("long_opts[] = {", 1)[1].split("};", 1)[0]
    for name in re.findall(r'\{"([-a-z]+)",', table):
        assert ("\\-\\-" + name.replace("-", "\\-")).encode() in page, name


def complete(script, line):
    """What bash's completion function answers for line (cursor at its end)."""
    prog = ('source "$1"; COMP_LINE=$2; COMP_POINT=${#COMP_LINE}; '
            'read -ra COMP_WORDS <<<"$COMP_LINE"; COMP_CWORD=$((${#COMP_WORDS[@]}-1)); '
            '_sockpit; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "-c", prog, "bash", script, line], capture_output=True,
                       timeout=10)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().split()


@test
def bash_loads_the_completion_and_completes():
    with tempfile.TemporaryDirectory(prefix="sockpit-inst-") as d:
        script = os.path.join(install(d), "share/bash-completion/completions/sockpit")
        p = subprocess.run(["bash", "-c", 'source "$1"; complete -p sockpit', "bash", script],
                           capture_output=True, timeout=10)
        assert p.returncode == 0 and p.stdout.strip() == b"complete -F _sockpit sockpit", p
        assert complete(script, "sockpit --la") == ["--lab"]
        assert "--version" in complete(script, "sockpit --")
        labs = complete(script, "sockpit --lab ")
        assert "list" in labs and "nagle" in labs and "halfclose" in labs, labs
        assert complete(script, "sockpit un") == ["unix:", "unix-dgram:", "unix-seqpacket:"]
        assert complete(script, "sockpit --framing del") == ["delim:"]
        assert "listen" in complete(script, "sockpit -e li")
        # a Unix path after the scheme: files, answered after bash's ':' break
        os.mkdir(os.path.join(d, "sockdir"))
        assert complete(script, "sockpit unix:" + d + "/sockd") == [d + "/sockdir"]
        assert complete(script, "sockpit unix-seqpacket:" + d + "/sockd") == [d + "/sockdir"]
        assert complete(script, "sockpit --completion ") == ["bash", "zsh"]


@test
def zsh_finds_the_completion():
    zsh = shutil.which("zsh")
    if zsh is None:
        print("  (zsh not installed: skipped)")
        return
    with tempfile.TemporaryDirectory(prefix="sockpit-inst-") as d:
        fdir = os.path.join(install(d), "share/zsh/site-functions")
        p = subprocess.run([zsh, "-n", os.path.join(fdir, "_sockpit")], capture_output=True,
                           timeout=10)
        assert p.returncode == 0, p.stderr
        # No dump: compinit's "-d FILE" turns dumping back on and replaces
        # FILE with mv, and as root "-D -d /dev/null" replaced /dev/null.
        prog = ('fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D; '
                'print -r -- $_comps[sockpit]')
        p = subprocess.run([zsh, "-fc", prog, "zsh", fdir], capture_output=True, timeout=20,
                           env=dict(os.environ, HOME=d))
        assert p.returncode == 0 and p.stdout.strip() == b"_sockpit", (p.stdout, p.stderr)
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode), "the test replaced /dev/null"
        assert not os.path.exists(os.path.join(d, ".zcompdump"))


@test
def version_names_the_commit_the_binary_was_built_from():
    # The build identity is taken at build time: taken at configure time it
    # named whatever commit the build directory was first configured at.
    head = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=peers.ROOT,
                          capture_output=True, text=True)
    if head.returncode != 0:
        print("  (not a git checkout: skipped)")
        return
    rc, out, _ = run(["--version"])
    m = re.match(r"sockpit \S+ \(git (\S+)\)", out.decode())
    assert rc == 0 and m, out
    built = re.sub(r"-dirty$", "", m.group(1)).split("-g")[-1]
    assert head.stdout.strip().startswith(built[:7]) or built.startswith(head.stdout.strip()), (
        built, head.stdout)


@test
def version_says_the_build_and_the_libraries():
    rc, out, _ = run(["--version"])
    assert rc == 0
    lines = out.decode().splitlines()
    assert re.match(r"sockpit \d+\.\d+\.\d+ \((git \S+|\d+\.\d+\.\d+)\)$", lines[0]), lines
    assert lines[1].startswith("built with "), lines
    assert re.search(r"libuv \d+\.\d+\.\d+", lines[2]) and "OpenSSL" in lines[2] and \
        "libpcap" in lines[2], lines


@test
def completion_for_an_unknown_shell_is_a_usage_error():
    rc, out, err = run(["--completion", "fish"])
    assert rc == 2 and out == b"" and b"bash or zsh" in err, (rc, out, err)


if __name__ == "__main__":
    peers.main()
