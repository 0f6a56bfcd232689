#!/bin/sh
# Regenerates the README's screenshots: drives the real binary in tmux and
# renders each capture (with colours) to PNG. Needs tmux and python3-pil
# (Debian: apt-get install tmux python3-pil fonts-dejavu-core); `make test`
# does not.
# Usage: tests/tui/screenshots.sh BINARY OUTDIR
set -eu
bin=${1:?usage: screenshots.sh BINARY OUTDIR}
out=${2:?usage: screenshots.sh BINARY OUTDIR}
here=$(dirname "$0")
py=
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import PIL' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
    echo "screenshots need python3-pil: apt-get install -y python3-pil fonts-dejavu-core" >&2
    exit 1
fi
command -v tmux >/dev/null || { echo "screenshots need tmux" >&2; exit 1; }
mkdir -p "$out"
SOCKPIT=$(realpath "$bin") exec "$py" "$here/screenshots.py" "$out"
