/* `set ttl|tos|broadcast|v6only|reuseport|bindtodevice` and `set
 * mcast-join`: socket options of the IP layer, applied to the socket's own
 * descriptor; what the kernel refuses is reported with its errno and what
 * it would need. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "engine_int.h"
#include "sockpit/proto/buf.h"

/* The open descriptor of socket id, or -errno with the reason in err. */
static int open_fd(struct sp_engine *eng, uint32_t id, struct sp_sock **out, char *err,
                   size_t errlen)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL) {
        sp__sock_missing(eng, id, err, errlen);
        return -ENOENT;
    }
    int fd = s->closed ? -1 : sp__sock_fd(s);
    if (fd < 0) {
        sp__seterr(err, errlen, "socket %u is %s", id, s->closed ? "closed" : "not open yet");
        return -EBADF;
    }
    *out = s;
    return fd;
}

static int inet(const struct sp_sock *s, const char *name, char *err, size_t errlen)
{
    if (s->family == AF_INET || s->family == AF_INET6)
        return 0;
    sp__seterr(err, errlen, "%s is for IP sockets (tcp:, udp:): socket %u is not one", name, s->id);
    return -EINVAL;
}

static int kernel_said(int r, const char *what, char *err, size_t errlen)
{
    if (r == 0)
        return 0;
    int e = errno;
    sp__seterr(err, errlen, "%s: %s", what, strerror(e));
    return -e;
}

int sp_engine_set_ipopt(struct sp_engine *eng, uint32_t id, enum sp_ipopt opt, long value,
                        char *err, size_t errlen)
{
    struct sp_sock *s;
    int fd = open_fd(eng, id, &s, err, errlen);
    if (fd < 0)
        return fd;
    int v = (int)value, v6 = s->family == AF_INET6, r;
    switch (opt) {
    case SP_IPOPT_TTL:
        if ((r = inet(s, "ttl", err, errlen)) != 0)
            return r;
        r = v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, sizeof v)
               : setsockopt(fd, IPPROTO_IP, IP_TTL, &v, sizeof v);
        return kernel_said(r, v6 ? "IPV6_UNICAST_HOPS" : "IP_TTL", err, errlen);
    case SP_IPOPT_TOS:
        if ((r = inet(s, "tos", err, errlen)) != 0)
            return r;
        r = v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &v, sizeof v)
               : setsockopt(fd, IPPROTO_IP, IP_TOS, &v, sizeof v);
        return kernel_said(r, v6 ? "IPV6_TCLASS" : "IP_TOS", err, errlen);
    case SP_IPOPT_BROADCAST:
        r = setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &v, sizeof v);
        return kernel_said(r, "SO_BROADCAST", err, errlen);
    case SP_IPOPT_V6ONLY:
        if (!v6) {
            sp__seterr(err, errlen, "v6only is for IPv6 sockets: socket %u is not one", id);
            return -EINVAL;
        }
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v) != 0) {
            int e = errno;
            sp__seterr(err, errlen,
                       "IPV6_V6ONLY: %s (the kernel takes it only before bind: listen, bind "
                       "or connect with --v6only)",
                       strerror(e));
            return -e;
        }
        return 0;
    case SP_IPOPT_REUSEPORT:
        r = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, sizeof v);
        if (r == 0 && v)
            /* socket(7): every socket sharing the port sets it before its
             * bind; this one is bound already. */
            sp__emit_notice(s, "SO_REUSEPORT set after bind: sockets share a port when each set "
                               "it before its bind (listen/bind --reuseport)");
        return kernel_said(r, "SO_REUSEPORT", err, errlen);
    }
    sp__seterr(err, errlen, "unknown option");
    return -EINVAL;
}

int sp_engine_set_device(struct sp_engine *eng, uint32_t id, const char *ifname, char *err,
                         size_t errlen)
{
    struct sp_sock *s;
    int fd = open_fd(eng, id, &s, err, errlen);
    if (fd < 0)
        return fd;
    socklen_t len = (socklen_t)strlen(ifname);
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, len) != 0) {
        int e = errno;
        sp__seterr(err, errlen, "SO_BINDTODEVICE %s: %s%s", ifname[0] ? ifname : "(none)",
                   strerror(e),
                   e == EPERM    ? " (needs CAP_NET_RAW: root, or setcap cap_net_raw+ep sockpit)"
                   : e == ENODEV ? " (no such interface)"
                                 : "");
        return -e;
    }
    return 0;
}

int sp_engine_mcast_join(struct sp_engine *eng, uint32_t id, const char *group, const char *ifname,
                         char *err, size_t errlen)
{
    struct sp_sock *s;
    int fd = open_fd(eng, id, &s, err, errlen);
    if (fd < 0)
        return fd;
    if (s->kind != SP_SOCK_UDP) {
        sp__seterr(err, errlen, "mcast-join is for udp: sockets: socket %u is not one", id);
        return -EINVAL;
    }
    unsigned ifindex = 0;
    if (ifname != NULL && ifname[0] != '\0' && (ifindex = if_nametoindex(ifname)) == 0) {
        sp__seterr(err, errlen, "mcast-join: no interface \"%.32s\"", ifname);
        return -ENODEV;
    }
    int r;
    struct in_addr a4;
    struct in6_addr a6;
    if (s->family == AF_INET && inet_pton(AF_INET, group, &a4) == 1) {
        struct ip_mreqn m;
        memset(&m, 0, sizeof m);
        m.imr_multiaddr = a4;
        m.imr_ifindex = (int)ifindex;
        r = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
        return kernel_said(r, "IP_ADD_MEMBERSHIP", err, errlen);
    }
    if (s->family == AF_INET6 && inet_pton(AF_INET6, group, &a6) == 1) {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        m.ipv6mr_multiaddr = a6;
        m.ipv6mr_interface = ifindex;
        r = setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
        return kernel_said(r, "IPV6_JOIN_GROUP", err, errlen);
    }
    sp__seterr(err, errlen, "mcast-join: \"%.64s\" is not an IPv%d address", group,
               s->family == AF_INET6 ? 6 : 4);
    return -EINVAL;
}

int sp__prebind_fill(struct sp_prebind *pb, const struct sp_sock_opts *opts, char *err,
                     size_t errlen)
{
    memset(pb, 0, sizeof *pb);
    if (opts == NULL)
        return 0;
    pb->reuseport = opts->reuseport != 0;
    pb->v6only = opts->v6only != 0;
    if (opts->bind == NULL)
        return 0;
    return sp__addr_to_sockaddr(opts->bind, &pb->src, &pb->srclen, err, errlen);
}

int sp__prebind_apply(const struct sp_prebind *pb, int fd, int family, char *err, size_t errlen)
{
    int one = 1;
    if (pb->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        return kernel_said(-1, "SO_REUSEPORT", err, errlen);
    if (pb->v6only) {
        if (family != AF_INET6) {
            sp__seterr(err, errlen, "--v6only is for IPv6 addresses");
            return -EINVAL;
        }
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
            return kernel_said(-1, "IPV6_V6ONLY", err, errlen);
    }
    if (pb->srclen > 0) {
        char where[SP_ADDR_TEXT_MAX];
        sp_sockaddr_format((const struct sockaddr *)&pb->src, pb->srclen, where, sizeof where);
        if (pb->src.ss_family != family) {
            sp__seterr(err, errlen, "--bind %s: not the family of the address connected to", where);
            return -EAFNOSUPPORT;
        }
        if (bind(fd, (const struct sockaddr *)&pb->src, pb->srclen) != 0) {
            int e = errno;
            sp__seterr(err, errlen, "--bind %s: %s", where, strerror(e));
            return -e;
        }
    }
    return 0;
}

/* An int option, or -1 when the kernel does not say. */
static int getopt_int(int fd, int level, int name)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, name, &v, &len) == 0 ? v : -1;
}

static void onoff(struct sp_buf *out, const char *name, int v)
{
    sp_buf_appendf(out, ", %s %s", name, v < 0 ? "?" : v ? "on" : "off");
}

int sp_engine_ip_info(struct sp_engine *eng, uint32_t id, struct sp_buf *out)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    int fd = s == NULL || s->closed ? -1 : sp__sock_fd(s);
    if (fd < 0 || (s->family != AF_INET && s->family != AF_INET6))
        return -1;
    int v6 = s->family == AF_INET6;
    int ttl =
        v6 ? getopt_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS) : getopt_int(fd, IPPROTO_IP, IP_TTL);
    int tos = v6 ? getopt_int(fd, IPPROTO_IPV6, IPV6_TCLASS) : getopt_int(fd, IPPROTO_IP, IP_TOS);
    sp_buf_appends(out, v6 ? "  ipv6: hop limit " : "  ip: ttl ");
    if (ttl < 0)
        sp_buf_appends(out, "?");
    else
        sp_buf_appendf(out, "%d", ttl);
    sp_buf_appends(out, v6 ? ", traffic class " : ", tos ");
    if (tos < 0)
        sp_buf_appends(out, "?");
    else
        sp_buf_appendf(out, "0x%02x", tos);
    onoff(out, "broadcast", getopt_int(fd, SOL_SOCKET, SO_BROADCAST));
    onoff(out, "reuseport", getopt_int(fd, SOL_SOCKET, SO_REUSEPORT));
    if (v6)
        onoff(out, "v6only", getopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY));
    return 0;
}
