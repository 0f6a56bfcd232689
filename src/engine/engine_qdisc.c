/* The root qdisc of an interface over NETLINK_ROUTE (qdisc.h): one
 * RTM_GETQDISC dump, the entry of the interface whose parent is the root,
 * its kind, its queue statistics and, for netem, its loss probability. */
#include "sockpit/engine/qdisc.h"

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/gen_stats.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

/* A dump answer larger than this per recv is split by the kernel anyway. */
#define QD_BUF 32768
/* Every recv is bounded: a kernel that never ends the dump is an error. */
#define QD_RECVS_MAX 1000

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err != NULL && errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The queue statistics nested in TCA_STATS2: TCA_STATS_BASIC for packets,
 * TCA_STATS_QUEUE for drops. */
static void read_stats2(const struct rtattr *nest, struct sp_qdisc *q)
{
    int len = (int)RTA_PAYLOAD(nest);
    for (const struct rtattr *a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        const unsigned char *d = RTA_DATA(a);
        size_t n = RTA_PAYLOAD(a);
        if ((a->rta_type & NLA_TYPE_MASK) == TCA_STATS_BASIC && n >= 12)
            q->packets = rd32(d + 8);
        else if ((a->rta_type & NLA_TYPE_MASK) == TCA_STATS_QUEUE &&
                 n >= offsetof(struct gnet_stats_queue, drops) + 4) {
            q->drops = rd32(d + offsetof(struct gnet_stats_queue, drops));
            q->has_stats = 1;
        }
    }
}

/* netem's options: struct tc_netem_qopt, whose loss is a 32-bit probability
 * (0 none, UINT32_MAX every packet) of its random loss, then attributes; a
 * TCA_NETEM_LOSS among them is another loss model (Gilbert-Elliott or
 * 4-state), dumped only when that model is in use. */
static void read_netem(const unsigned char *opt, size_t n, struct sp_qdisc *q)
{
    if (n < sizeof(struct tc_netem_qopt))
        return;
    uint64_t p = rd32(opt + offsetof(struct tc_netem_qopt, loss));
    q->netem_loss_ppm = (uint32_t)((p * 1000000 + UINT32_MAX / 2) / UINT32_MAX);
    if (p > 0 && q->netem_loss_ppm == 0)
        q->netem_loss_ppm = 1;
    size_t at = NLA_ALIGN(sizeof(struct tc_netem_qopt));
    while (at + sizeof(struct rtattr) <= n) {
        struct rtattr a;
        memcpy(&a, opt + at, sizeof a);
        if (a.rta_len < sizeof a || at + a.rta_len > n)
            break;
        if ((a.rta_type & NLA_TYPE_MASK) == TCA_NETEM_LOSS)
            q->netem_loss_model = 1;
        at += NLA_ALIGN(a.rta_len);
    }
}

/* One RTM_NEWQDISC message: fills q when it is ifindex's root qdisc. */
static int take(const struct nlmsghdr *h, int ifindex, struct sp_qdisc *q)
{
    const struct tcmsg *t = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof *t) || t->tcm_ifindex != ifindex ||
        t->tcm_parent != TC_H_ROOT)
        return 0;
    memset(q, 0, sizeof *q);
    int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *t));
    const unsigned char *netem = NULL;
    size_t netem_len = 0;
    int stats2 = 0;
    for (const struct rtattr *a = TCA_RTA(t); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        size_t n = RTA_PAYLOAD(a);
        switch (a->rta_type & NLA_TYPE_MASK) {
        case TCA_KIND:
            snprintf(q->kind, sizeof q->kind, "%.*s", (int)strnlen(RTA_DATA(a), n),
                     (const char *)RTA_DATA(a));
            break;
        case TCA_OPTIONS:
            netem = RTA_DATA(a);
            netem_len = n;
            break;
        case TCA_STATS2:
            stats2 = 1;
            read_stats2(a, q);
            break;
        case TCA_STATS:
            /* The old struct tc_stats: only when there is no TCA_STATS2. */
            if (!stats2 && n >= offsetof(struct tc_stats, drops) + 4) {
                q->packets =
                    rd32((const unsigned char *)RTA_DATA(a) + offsetof(struct tc_stats, packets));
                q->drops =
                    rd32((const unsigned char *)RTA_DATA(a) + offsetof(struct tc_stats, drops));
                q->has_stats = 1;
            }
            break;
        }
    }
    if (strcmp(q->kind, "netem") == 0 && netem != NULL)
        read_netem(netem, netem_len, q);
    return 1;
}

/* Reads the dump's answers until NLMSG_DONE; 1 when the root was found. */
static int read_dump(int fd, uint32_t seq, int ifindex, struct sp_qdisc *q, char *err,
                     size_t errlen)
{
    unsigned char buf[QD_BUF] __attribute__((aligned(8)));
    int found = 0;
    for (int i = 0; i < QD_RECVS_MAX; i++) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return fail(err, errlen, "netlink: no answer to RTM_GETQDISC: %s",
                        r < 0 ? strerror(errno) : "end of file");
        int len = (int)r;
        for (const struct nlmsghdr *h = (const void *)buf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE)
                return found;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                return fail(err, errlen, "netlink: RTM_GETQDISC refused: %s",
                            strerror(e->error < 0 ? -e->error : EIO));
            }
            if (h->nlmsg_type == RTM_NEWQDISC && !found)
                found = take(h, ifindex, q);
        }
    }
    return fail(err, errlen, "netlink: the qdisc dump did not end");
}

int sp_qdisc_root(const char *ifname, struct sp_qdisc *q, char *err, size_t errlen)
{
    unsigned ifindex = if_nametoindex(ifname);
    if (ifindex == 0)
        return fail(err, errlen, "no interface %s: %s", ifname, strerror(errno));
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return fail(err, errlen, "netlink socket: %s", strerror(errno));
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct {
        struct nlmsghdr h;
        struct tcmsg t;
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = RTM_GETQDISC;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = 1;
    req.t.tcm_family = AF_UNSPEC;
    req.t.tcm_ifindex = (int)ifindex;
    struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
    int r;
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&nl, sizeof nl) < 0)
        r = fail(err, errlen, "netlink: sending RTM_GETQDISC: %s", strerror(errno));
    else
        r = read_dump(fd, req.h.nlmsg_seq, (int)ifindex, q, err, errlen);
    close(fd);
    if (r == 0)
        return fail(err, errlen, "%s has no root qdisc", ifname);
    return r < 0 ? -1 : 0;
}

int sp_qdisc_loses(const struct sp_qdisc *q, char *why, size_t whylen)
{
    if (strcmp(q->kind, "netem") == 0 && q->netem_loss_model) {
        snprintf(why, whylen, "netem drops packets by a loss model (Gilbert-Elliott or 4-state)");
        return 1;
    }
    if (strcmp(q->kind, "netem") == 0 && q->netem_loss_ppm > 0) {
        /* 100000 ppm is "10%", 12500 "1.25%": no trailing zeros. */
        char frac[8] = "";
        unsigned f = q->netem_loss_ppm % 10000;
        if (f != 0) {
            snprintf(frac, sizeof frac, ".%04u", f);
            for (size_t i = strlen(frac); frac[i - 1] == '0'; i--)
                frac[i - 1] = '\0';
        }
        snprintf(why, whylen, "netem drops %u%s%% of the packets at random",
                 q->netem_loss_ppm / 10000, frac);
        return 1;
    }
    if (strcmp(q->kind, "netem") == 0) {
        snprintf(why, whylen, "netem is there but its loss is 0%%");
        return 0;
    }
    if (strcmp(q->kind, "tbf") == 0) {
        snprintf(why, whylen,
                 "tbf drops what overflows its queue (tail drop); no added delay or reordering");
        return 1;
    }
    snprintf(why, whylen, "its root qdisc is %s, neither netem with loss nor tbf",
             q->kind[0] != '\0' ? q->kind : "unnamed");
    return 0;
}
