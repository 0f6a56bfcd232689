#!/bin/sh
# Loss on loopback, for the wire view: a private network namespace whose lo
# drops packets, and sockpit inside it (by default the loss lab, headless).
#   tools/wire-loss.sh [LOSS%] [DELAY_MS] [sockpit args...]
# With netem in the kernel (sch_netem): LOSS% of the packets dropped at
# random and DELAY_MS added, both directions. Without it: tbf, a token
# bucket of 8 Mbit/s with a 6000-byte queue, which drops what overflows the
# queue (tail drop): real loss, but no added delay and no reordering, and
# LOSS% and DELAY_MS are not used. WIRE_LOSS_QDISC=netem|tbf picks one.
# lo's MTU becomes 1500 so a send is many segments (at 64 KiB one segment
# would be larger than tbf's bucket and always dropped).
# Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN: unshare -n, tc), and
# CAP_NET_RAW for the capture. Without them it says so, changes nothing
# and exits 77. Messages go to stderr, sockpit's output to stdout; at the
# end, lo's qdisc statistics as `tc -s qdisc show dev lo` gives them.
set -eu
loss=${1:-10}
delay=${2:-5}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
sockpit=${SOCKPIT:-sockpit}
want=${WIRE_LOSS_QDISC:-}
case "$want" in "" | netem | tbf) ;; *)
    echo "wire-loss: WIRE_LOSS_QDISC is netem or tbf, not $want" >&2
    exit 2 ;;
esac
for tool in unshare ip tc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "wire-loss: needs $tool (util-linux, iproute2)" >&2
        exit 77
    fi
done
if ! unshare -n true 2>/dev/null; then
    echo "wire-loss: needs root (unshare -n: a private network namespace)" >&2
    exit 77
fi
exec unshare -n sh -c '
    loss=$1 delay=$2 want=$3 sockpit=$4
    shift 4
    ip link set lo up mtu 1500
    used=
    if [ "$want" != tbf ] &&
        tc qdisc add dev lo root netem loss "$loss%" delay "${delay}ms" 2>/dev/null; then
        used=netem
        echo "wire-loss: lo in a private namespace: netem drops $loss% of the packets at random and delays each by ${delay}ms (both directions), mtu 1500" >&2
    elif [ "$want" != netem ] &&
        tc qdisc add dev lo root tbf rate 8mbit burst 3000 limit 6000 2>/dev/null; then
        used=tbf
        echo "wire-loss: lo in a private namespace: tbf at 8mbit with a 6000-byte queue, mtu 1500. tbf queue overflow drops packets (tail drop); no netem here, so no added delay/reordering" >&2
    else
        echo "wire-loss: tc cannot add ${want:-netem or tbf} on lo (no sch_netem/sch_tbf module, or no CAP_NET_ADMIN)" >&2
        exit 77
    fi
    if [ $# -eq 0 ]; then
        set -- --lab loss
    fi
    rc=0
    "$sockpit" "$@" || rc=$?
    echo "wire-loss: lo after the run ($used), as tc counts it:" >&2
    tc -s qdisc show dev lo >&2
    exit $rc
' sh "$loss" "$delay" "$want" "$sockpit" "$@"
