#!/bin/sh
# Loss on loopback, for the wire view: a private network namespace whose lo
# drops and delays packets (tc netem), and sockpit's wire lab inside it.
# Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) and the sch_netem module;
# without them it says so and changes nothing.
#   tools/wire-loss.sh [LOSS%] [DELAY_MS] [sockpit args...]
set -eu
loss=${1:-10}
delay=${2:-5}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
sockpit=${SOCKPIT:-sockpit}
if ! unshare -n true 2>/dev/null; then
    echo "wire-loss: needs root (unshare -n: a private network namespace)" >&2
    exit 77
fi
exec unshare -n sh -c '
    ip link set lo up
    if ! tc qdisc add dev lo root netem loss "$1%" delay "$2ms" 2>/dev/null; then
        echo "wire-loss: tc netem is not available (no sch_netem module, or no CAP_NET_ADMIN)" >&2
        exit 77
    fi
    echo "lo in a private namespace: netem loss $1% delay $2ms (both directions)"
    shift 2
    sockpit="$1"; shift
    if [ $# -eq 0 ]; then
        set -- -e "listen tcp:127.0.0.1:7000 --wire" -e "connect tcp:127.0.0.1:7000" \
               -e "send 2 --hex $(head -c 20000 /dev/zero | od -An -v -tx1 | tr -d " \n")" \
               -e "wait 3 bytes:20000 --timeout 30000" -e "sleep 500" -e quit
    fi
    exec "$sockpit" "$@"
' sh "$loss" "$delay" "$sockpit" "$@"
