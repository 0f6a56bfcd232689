#!/usr/bin/env bash
# make bench: compares sockpit with a bare read() loop, nc and socat (see run.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/run.py" "$@"
