/* What the kernel's traffic control does on an interface: the root qdisc
 * of a device and the packets it dropped, asked over NETLINK_ROUTE
 * (RTM_GETQDISC). The loss lab asks it of lo to know, not guess, whether
 * packets can be lost there and how many were. No engine and no loop: one
 * request, answered at once, in the calling process's network namespace. */
#ifndef SOCKPIT_ENGINE_QDISC_H
#define SOCKPIT_ENGINE_QDISC_H

#include <stddef.h>
#include <stdint.h>

struct sp_qdisc {
    char kind[16];    /* "noqueue", "netem", "tbf", "pfifo_fast", ... */
    uint64_t packets; /* packets it sent (a 32-bit counter in the kernel) */
    uint64_t drops;   /* packets it dropped (a 32-bit counter in the kernel) */
    int has_stats;    /* the kernel reported its queue statistics */
    /* netem only: the loss probability in millionths of the packets
     * (100000 is 10%); 0 when the kind is not netem or loss is off. */
    uint32_t netem_loss_ppm;
    int netem_loss_model; /* netem loses by a model (gemodel, state), not at random */
};

/* The root qdisc of interface ifname. Returns 0 and fills *q, or -1 with
 * err saying why (no such interface, netlink refused, no root qdisc). */
int sp_qdisc_root(const char *ifname, struct sp_qdisc *q, char *err, size_t errlen);

/* Can the qdisc lose packets by itself: netem with loss, or tbf (its queue
 * overflows and drops the tail)? 1 or 0, with why (or why not) in why. */
int sp_qdisc_loses(const struct sp_qdisc *q, char *why, size_t whylen);

#endif
