#!/usr/bin/env bash
# make fuzz: runs every libFuzzer target for SECONDS each. New inputs go to a
# scratch corpus under the build directory; the committed seeds stay as they are
# (copy an interesting find into tests/fuzz/corpus/<target>/ by hand).
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [SECONDS]}
seconds=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    work="$build/fuzz-corpus/$name"
    mkdir -p "$work"
    echo "== $name ($seconds s)"
    if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 "$work" "$here/corpus/$name" \
            >"$build/$name.log" 2>&1; then
        echo "$name FAILED: see $build/$name.log"
        status=1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$build/$name.log" || true
done
exit $status
