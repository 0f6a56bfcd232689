/* The kernel's view of sockets (kstate.h). */
#include "kstate.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

const char *sp__kstate_name(int state)
{
    static const char *const names[] = {
        "",      "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
        "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV",
    };
    if (state < 0 || (size_t)state >= sizeof names / sizeof names[0])
        return "";
    return names[state];
}

int sp__kstate_tcp(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return -1;
    return ti.tcpi_state;
}

int64_t sp__kstate_inq(int fd)
{
    int v = 0;
    if (fd < 0 || ioctl(fd, SIOCINQ, &v) != 0)
        return -1;
    return v;
}

int64_t sp__kstate_outq(int fd)
{
    int v = 0;
    if (fd < 0 || ioctl(fd, SIOCOUTQ, &v) != 0)
        return -1;
    return v;
}

int64_t sp__kstate_notsent(int fd)
{
    int v = 0;
    if (fd < 0 || ioctl(fd, SIOCOUTQNSD, &v) != 0)
        return -1;
    return v;
}

int64_t sp__kstate_opt(int fd, int level, int name)
{
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) != 0)
        return -1;
    return v;
}

static void more_info(int fd, int is_tcp, struct sp_kinfo *out)
{
    if (is_tcp)
        sp__ktcp_info_more(fd, out);
    out->oobinline = is_tcp ? sp__kstate_opt(fd, SOL_SOCKET, SO_OOBINLINE) : -1;
    out->reuseaddr = sp__kstate_opt(fd, SOL_SOCKET, SO_REUSEADDR);
    out->rcvlowat = sp__kstate_opt(fd, SOL_SOCKET, SO_RCVLOWAT);
    out->sndlowat = sp__kstate_opt(fd, SOL_SOCKET, SO_SNDLOWAT);
    out->so_type = sp__kstate_opt(fd, SOL_SOCKET, SO_TYPE);
    struct ucred cred;
    socklen_t len = sizeof cred;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0 && ss.ss_family == AF_UNIX &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
        out->peer_pid = cred.pid;
        out->peer_uid = cred.uid;
        out->peer_gid = cred.gid;
    }
    char dev[IFNAMSIZ + 1];
    socklen_t dlen = sizeof dev - 1;
    memset(dev, 0, sizeof dev);
    if (getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &dlen) == 0)
        snprintf(out->bound_dev, sizeof out->bound_dev, "%s", dev);
}

void sp__kstate_info(int fd, int is_tcp, int is_stream, struct sp_kinfo *out)
{
    memset(out, 0, sizeof *out);
    out->rtt_us = out->rttvar_us = out->unacked = out->retrans = out->cwnd = out->pmtu = -1;
    out->unread = out->unsent = out->rcvbuf = out->sndbuf = -1;
    out->nodelay = out->cork = out->keepalive = out->linger = -1;
    int64_t *more[] = {
        &out->mss,
        &out->advmss,
        &out->rcv_mss,
        &out->ssthresh,
        &out->rcv_space,
        &out->snd_wnd,
        &out->rcv_wnd,
        &out->retransmits,
        &out->lost,
        &out->sacked,
        &out->reordering,
        &out->probes,
        &out->backoff,
        &out->segs_in,
        &out->segs_out,
        &out->data_segs_in,
        &out->data_segs_out,
        &out->bytes_acked,
        &out->bytes_received,
        &out->min_rtt_us,
        &out->delivery_rate,
        &out->last_data_recv_ms,
        &out->last_data_sent_ms,
        &out->last_ack_recv_ms,
        &out->oobinline,
        &out->reuseaddr,
        &out->rcvlowat,
        &out->sndlowat,
        &out->so_type,
        &out->peer_pid,
        &out->peer_uid,
        &out->peer_gid,
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        *more[i] = -1;
    if (fd < 0)
        return;
    more_info(fd, is_tcp, out);
    if (is_tcp) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        memset(&ti, 0, sizeof ti);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
            snprintf(out->tcp, sizeof out->tcp, "%s", sp__kstate_name(ti.tcpi_state));
            out->rtt_us = ti.tcpi_rtt;
            out->rttvar_us = ti.tcpi_rttvar;
            out->unacked = ti.tcpi_unacked;
            out->retrans = ti.tcpi_total_retrans;
            out->cwnd = ti.tcpi_snd_cwnd;
            out->pmtu = ti.tcpi_pmtu;
        }
        out->nodelay = sp__kstate_opt(fd, IPPROTO_TCP, TCP_NODELAY);
        out->cork = sp__kstate_opt(fd, IPPROTO_TCP, TCP_CORK);
    }
    /* SIOCINQ on a listener means nothing useful. */
    if (!is_tcp || sp__kstate_tcp(fd) != 10) {
        out->unread = sp__kstate_inq(fd);
        out->unsent = sp__kstate_outq(fd);
    }
    out->rcvbuf = sp__kstate_opt(fd, SOL_SOCKET, SO_RCVBUF);
    out->sndbuf = sp__kstate_opt(fd, SOL_SOCKET, SO_SNDBUF);
    if (is_stream)
        out->keepalive = sp__kstate_opt(fd, SOL_SOCKET, SO_KEEPALIVE);
    struct linger lg;
    socklen_t len = sizeof lg;
    if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0)
        out->linger = lg.l_onoff ? lg.l_linger : -1;
}

int sp__kstate_setopt(int fd, int is_tcp, int is_stream, enum sp_sockopt opt, long value, char *err,
                      size_t errlen)
{
    int level = SOL_SOCKET, name, v = (int)value;
    const char *what;
    const void *arg = &v;
    socklen_t len = sizeof v;
    struct linger lg;
    switch (opt) {
    case SP_OPT_NODELAY:
    case SP_OPT_CORK:
        what = opt == SP_OPT_NODELAY ? "nodelay" : "cork";
        if (!is_tcp) {
            snprintf(err, errlen, "%s applies to TCP connections only", what);
            return -EINVAL;
        }
        level = IPPROTO_TCP;
        name = opt == SP_OPT_NODELAY ? TCP_NODELAY : TCP_CORK;
        v = value != 0;
        break;
    case SP_OPT_KEEPALIVE:
        what = "keepalive";
        if (!is_stream) {
            snprintf(err, errlen, "keepalive applies to stream sockets only");
            return -EINVAL;
        }
        name = SO_KEEPALIVE;
        v = value != 0;
        break;
    case SP_OPT_RCVBUF:
    case SP_OPT_SNDBUF:
        what = opt == SP_OPT_RCVBUF ? "rcvbuf" : "sndbuf";
        if (value <= 0 || value > 256L * 1024 * 1024) {
            snprintf(err, errlen, "%s must be 1 .. 268435456 bytes", what);
            return -EINVAL;
        }
        name = opt == SP_OPT_RCVBUF ? SO_RCVBUF : SO_SNDBUF;
        break;
    case SP_OPT_LINGER:
        what = "linger";
        if (value < -1 || value > 3600) {
            snprintf(err, errlen, "linger must be -1 (off) or 0 .. 3600 seconds");
            return -EINVAL;
        }
        lg.l_onoff = value >= 0;
        lg.l_linger = value >= 0 ? (int)value : 0;
        name = SO_LINGER;
        arg = &lg;
        len = sizeof lg;
        break;
    case SP_OPT_OOBINLINE:
        what = "oobinline";
        if (!is_tcp) {
            snprintf(err, errlen, "oobinline applies to TCP connections only (urgent data)");
            return -EINVAL;
        }
        name = SO_OOBINLINE;
        v = value != 0;
        break;
    case SP_OPT_MSS:
        what = "mss";
        if (!is_tcp) {
            snprintf(err, errlen, "mss applies to TCP sockets only");
            return -EINVAL;
        }
        level = IPPROTO_TCP;
        name = TCP_MAXSEG;
        break;
    default:
        snprintf(err, errlen, "unknown option");
        return -EINVAL;
    }
    if (setsockopt(fd, level, name, arg, len) != 0) {
        int e = errno;
        snprintf(err, errlen, "set %s: %s", what, strerror(e));
        return -e;
    }
    return 0;
}

int sp__kdiag_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    /* A dump never blocks for long, but a kernel that stops answering must
     * not freeze the loop. */
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Sends one inet_diag request and hands each answer to each() until the
 * kernel is done or each() returns non-zero (that value is returned).
 * Returns 0 at the end of a dump, or -errno. */
static int diag_ask(int nlfd, struct inet_diag_req_v2 *r, int dump,
                    int (*each)(void *ud, const struct inet_diag_msg *m), void *ud)
{
    static uint32_t seq;
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
    req.nlh.nlmsg_seq = ++seq;
    req.r = *r;
    req.r.sdiag_protocol = IPPROTO_TCP;
    struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
    if (sendto(nlfd, &req, sizeof req, 0, (struct sockaddr *)&nl, sizeof nl) < 0)
        return -errno;

    /* Large enough for the biggest dump message the kernel builds (32 KiB). */
    static long buf[32768 / sizeof(long)];
    for (;;) {
        ssize_t n = recv(nlfd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq)
                continue; /* a late answer to an earlier request */
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                return e->error < 0 ? e->error : -EIO;
            }
            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                continue;
            int rc = each(ud, NLMSG_DATA(h));
            if (rc != 0)
                return rc;
        }
    }
}

struct dump_ctx {
    sp_kdiag_cb cb;
    void *ud;
};

static int dump_each(void *ud, const struct inet_diag_msg *m)
{
    const struct dump_ctx *d = ud;
    struct sp_kdiag_ent ent;
    memset(&ent, 0, sizeof ent);
    ent.family = m->idiag_family;
    ent.lport = ntohs(m->id.idiag_sport);
    ent.rport = ntohs(m->id.idiag_dport);
    memcpy(ent.laddr, m->id.idiag_src, 16);
    memcpy(ent.raddr, m->id.idiag_dst, 16);
    ent.state = m->idiag_state;
    d->cb(d->ud, &ent);
    return 0;
}

int sp__kdiag_dump(int nlfd, int family, sp_kdiag_cb cb, void *ud)
{
    struct inet_diag_req_v2 r;
    memset(&r, 0, sizeof r);
    r.sdiag_family = (uint8_t)family;
    r.idiag_states = 0xfffu & ~(1u << 10); /* everything but LISTEN */
    struct dump_ctx d = {cb, ud};
    return diag_ask(nlfd, &r, 1, dump_each, &d);
}

static int diag_id_from(struct inet_diag_sockid *id, const struct sockaddr_storage *la,
                        const struct sockaddr_storage *pa)
{
    if (la->ss_family != pa->ss_family)
        return -EAFNOSUPPORT;
    if (la->ss_family == AF_INET) {
        const struct sockaddr_in *l = (const struct sockaddr_in *)la;
        const struct sockaddr_in *p = (const struct sockaddr_in *)pa;
        id->idiag_sport = l->sin_port;
        id->idiag_dport = p->sin_port;
        memcpy(id->idiag_src, &l->sin_addr, 4);
        memcpy(id->idiag_dst, &p->sin_addr, 4);
    } else if (la->ss_family == AF_INET6) {
        const struct sockaddr_in6 *l = (const struct sockaddr_in6 *)la;
        const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)pa;
        id->idiag_sport = l->sin6_port;
        id->idiag_dport = p->sin6_port;
        memcpy(id->idiag_src, &l->sin6_addr, 16);
        memcpy(id->idiag_dst, &p->sin6_addr, 16);
    } else {
        return -EAFNOSUPPORT;
    }
    id->idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    return 0;
}

/* The answer's state + 1 (0 is a state too); the kernel's lookup falls
 * back to a listener on the local port, which is not this connection. */
static int lookup_each(void *ud, const struct inet_diag_msg *m)
{
    (void)ud;
    return m->idiag_state == TCP_LISTEN ? -ENOENT : m->idiag_state + 1;
}

int sp__kdiag_lookup(int nlfd, const struct sockaddr_storage *la, const struct sockaddr_storage *pa)
{
    struct inet_diag_req_v2 r;
    memset(&r, 0, sizeof r);
    int rc = diag_id_from(&r.id, la, pa);
    if (rc != 0)
        return rc;
    r.sdiag_family = (uint8_t)la->ss_family;
    r.idiag_states = 0xfffu;
    rc = diag_ask(nlfd, &r, 0, lookup_each, NULL);
    if (rc == 0)
        return -ENOENT; /* answered with nothing */
    return rc > 0 ? rc - 1 : rc;
}

static int addr_match(int family, const unsigned char *a, uint16_t port,
                      const struct sockaddr_storage *ss)
{
    if (ss->ss_family != family)
        return 0;
    if (family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        return ntohs(s4->sin_port) == port && memcmp(a, &s4->sin_addr, 4) == 0;
    }
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    return ntohs(s6->sin6_port) == port && memcmp(a, &s6->sin6_addr, 16) == 0;
}

int sp__kdiag_match(const struct sp_kdiag_ent *ent, const struct sockaddr_storage *la,
                    const struct sockaddr_storage *pa)
{
    return addr_match(ent->family, ent->laddr, ent->lport, la) &&
           addr_match(ent->family, ent->raddr, ent->rport, pa);
}
