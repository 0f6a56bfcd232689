#!/usr/bin/env bash
# make bench: builds the sender and compares sockpit with nc and socat.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/run.py" "$@"
