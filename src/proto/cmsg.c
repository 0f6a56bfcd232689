/* Control messages of a recvmsg() control buffer, decoded (cmsg.h). The
 * walk is CMSG_FIRSTHDR/CMSG_NXTHDR done by hand: every header is copied out
 * with memcpy (the buffer may sit anywhere, and may be garbage), and no
 * length is believed before it was checked against what is left. */
#include "sockpit/proto/cmsg.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

/* The header as it lies in the buffer, and where the payload starts:
 * CMSG_LEN(0), the header rounded up to the alignment of size_t. */
#define HDR_LEN CMSG_LEN(0)

static void put_addr(int family, const void *a, char *out)
{
    if (inet_ntop(family, a, out, SP_CMSG_ADDR_MAX) == NULL)
        out[0] = '\0';
}

/* The payload size a known type needs, or 0 for a type not decoded here. */
static size_t need(int level, int type)
{
    if (level == SOL_SOCKET) {
        switch (type) {
        case SCM_RIGHTS:
            return sizeof(int);
        case SCM_CREDENTIALS:
            return sizeof(struct ucred);
        case SCM_TIMESTAMPNS:
            return sizeof(struct timespec);
        case SCM_TIMESTAMP:
            return sizeof(struct timeval);
        }
        return 0;
    }
    if (level == IPPROTO_IP) {
        switch (type) {
        case IP_PKTINFO:
            return sizeof(struct in_pktinfo);
        case IP_TTL:
            return sizeof(int);
        case IP_TOS:
            return 1;
        case IP_RECVERR:
            return sizeof(struct sock_extended_err);
        }
        return 0;
    }
    if (level == IPPROTO_IPV6) {
        switch (type) {
        case IPV6_PKTINFO:
            return sizeof(struct in6_pktinfo);
        case IPV6_HOPLIMIT:
        case IPV6_TCLASS:
            return sizeof(int);
        case IPV6_RECVERR:
            return sizeof(struct sock_extended_err);
        }
    }
    return 0;
}

/* The offender's address after a sock_extended_err (SO_EE_OFFENDER), when
 * the payload holds one of a family we know. */
static void err_offender(const unsigned char *p, size_t n, struct sp_cmsg *c)
{
    size_t at = sizeof(struct sock_extended_err);
    sa_family_t fam;
    if (n < at + sizeof fam)
        return;
    memcpy(&fam, p + at, sizeof fam);
    if (fam == AF_INET && n >= at + sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, p + at, sizeof sin);
        put_addr(AF_INET, &sin.sin_addr, c->addr);
    } else if (fam == AF_INET6 && n >= at + sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, p + at, sizeof sin6);
        put_addr(AF_INET6, &sin6.sin6_addr, c->addr);
    }
}

/* Fills c (kind, values) from a payload of at least need() bytes. */
static void decode(const unsigned char *p, size_t n, struct sp_cmsg *c)
{
    int level = c->level, type = c->type;
    if (level == SOL_SOCKET && type == SCM_CREDENTIALS) {
        struct ucred u;
        memcpy(&u, p, sizeof u);
        c->kind = SP_CMSG_CREDS;
        c->pid = u.pid;
        c->uid = u.uid;
        c->gid = u.gid;
    } else if (level == SOL_SOCKET && type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, p, sizeof ts);
        c->kind = SP_CMSG_TIMESTAMP;
        c->sec = ts.tv_sec;
        c->nsec = ts.tv_nsec;
    } else if (level == SOL_SOCKET && type == SCM_TIMESTAMP) {
        struct timeval tv;
        memcpy(&tv, p, sizeof tv);
        c->kind = SP_CMSG_TIMESTAMP;
        c->sec = tv.tv_sec;
        c->nsec = (int64_t)tv.tv_usec * 1000;
    } else if (level == IPPROTO_IP && type == IP_PKTINFO) {
        struct in_pktinfo pi;
        memcpy(&pi, p, sizeof pi);
        c->kind = SP_CMSG_PKTINFO;
        c->ifindex = (uint32_t)pi.ipi_ifindex;
        put_addr(AF_INET, &pi.ipi_addr, c->addr);
    } else if (level == IPPROTO_IPV6 && type == IPV6_PKTINFO) {
        struct in6_pktinfo pi;
        memcpy(&pi, p, sizeof pi);
        c->kind = SP_CMSG_PKTINFO;
        c->ifindex = pi.ipi6_ifindex;
        put_addr(AF_INET6, &pi.ipi6_addr, c->addr);
    } else if ((level == IPPROTO_IP && type == IP_TTL) ||
               (level == IPPROTO_IPV6 && type == IPV6_HOPLIMIT)) {
        int v;
        memcpy(&v, p, sizeof v);
        c->kind = SP_CMSG_TTL;
        c->value = v;
    } else if (level == IPPROTO_IP && type == IP_TOS) {
        c->kind = SP_CMSG_TOS;
        c->value = p[0];
    } else if (level == IPPROTO_IPV6 && type == IPV6_TCLASS) {
        int v;
        memcpy(&v, p, sizeof v);
        c->kind = SP_CMSG_TOS;
        c->value = v;
    } else {
        struct sock_extended_err ee;
        memcpy(&ee, p, sizeof ee);
        c->kind = SP_CMSG_ERR;
        c->ee_errno = (int)ee.ee_errno;
        c->origin = ee.ee_origin;
        c->icmp_type = ee.ee_type;
        c->icmp_code = ee.ee_code;
        c->info = ee.ee_info;
        c->data = ee.ee_data;
        err_offender(p, n, c);
    }
}

/* A walk over the headers of a control buffer. */
struct walk {
    const unsigned char *buf;
    size_t len, pos;
};

/* The next header: 1 with its fields, 0 at the end, -1 when it does not
 * fit (w->pos then names it). */
static int next(struct walk *w, struct cmsghdr *h, const unsigned char **data, size_t *dlen)
{
    if (w->pos >= w->len)
        return 0;
    size_t left = w->len - w->pos;
    if (left < sizeof *h)
        return -1;
    memcpy(h, w->buf + w->pos, sizeof *h);
    if (h->cmsg_len < HDR_LEN || h->cmsg_len > left)
        return -1;
    *data = w->buf + w->pos + HDR_LEN;
    *dlen = h->cmsg_len - HDR_LEN;
    return 1;
}

/* Past the header just read: its length rounded up as CMSG_NXTHDR does
 * (the padding of the last one may lie past the end). */
static void advance(struct walk *w, const struct cmsghdr *h)
{
    size_t step = CMSG_ALIGN(h->cmsg_len);
    w->pos = step > w->len - w->pos ? w->len : w->pos + step;
}

size_t sp_cmsg_parse(const void *buf, size_t len, struct sp_cmsg *out, size_t max, size_t *more)
{
    struct walk w = {buf, buf != NULL ? len : 0, 0};
    size_t n = 0, extra = 0;
    struct cmsghdr h;
    const unsigned char *data;
    size_t dlen;
    int r;
    while ((r = next(&w, &h, &data, &dlen)) != 0) {
        struct sp_cmsg c;
        memset(&c, 0, sizeof c);
        c.off = (uint32_t)w.pos;
        if (r < 0) {
            c.kind = SP_CMSG_BAD;
            c.len = (uint32_t)(w.len - w.pos);
            if (n < max)
                out[n++] = c;
            else
                extra++;
            break;
        }
        c.level = h.cmsg_level;
        c.type = h.cmsg_type;
        c.len = (uint32_t)dlen;
        c.v6 = h.cmsg_level == IPPROTO_IPV6;
        size_t want = need(h.cmsg_level, h.cmsg_type);
        if (want == 0) {
            c.kind = SP_CMSG_OTHER;
        } else if (dlen < want) {
            c.kind = SP_CMSG_SHORT;
            c.value = (int)want;
        } else if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
            c.kind = SP_CMSG_RIGHTS;
            for (size_t i = 0; i + sizeof(int) <= dlen; i += sizeof(int)) {
                memcpy(&c.fd, data + i, sizeof c.fd);
                if (n < max)
                    out[n++] = c;
                else
                    extra++;
            }
            advance(&w, &h);
            continue;
        } else {
            decode(data, dlen, &c);
        }
        if (n < max)
            out[n++] = c;
        else
            extra++;
        advance(&w, &h);
    }
    if (more != NULL)
        *more = extra;
    return n;
}

size_t sp_cmsg_each_fd(const void *buf, size_t len, void (*cb)(int fd, void *ud), void *ud)
{
    struct walk w = {buf, buf != NULL ? len : 0, 0};
    struct cmsghdr h;
    const unsigned char *data;
    size_t dlen, count = 0;
    while (next(&w, &h, &data, &dlen) > 0) {
        if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
            for (size_t i = 0; i + sizeof(int) <= dlen; i += sizeof(int)) {
                int fd;
                memcpy(&fd, data + i, sizeof fd);
                cb(fd, ud);
                count++;
            }
        }
        advance(&w, &h);
    }
    return count;
}

const char *sp_cmsg_name(const struct sp_cmsg *c)
{
    if (c->kind == SP_CMSG_BAD)
        return NULL;
    if (c->level == SOL_SOCKET) {
        switch (c->type) {
        case SCM_RIGHTS:
            return "SCM_RIGHTS";
        case SCM_CREDENTIALS:
            return "SCM_CREDENTIALS";
        case SCM_TIMESTAMPNS:
            return "SCM_TIMESTAMPNS";
        case SCM_TIMESTAMP:
            return "SCM_TIMESTAMP";
        }
    } else if (c->level == IPPROTO_IP) {
        switch (c->type) {
        case IP_PKTINFO:
            return "IP_PKTINFO";
        case IP_TTL:
            return "IP_TTL";
        case IP_TOS:
            return "IP_TOS";
        case IP_RECVERR:
            return "IP_RECVERR";
        }
    } else if (c->level == IPPROTO_IPV6) {
        switch (c->type) {
        case IPV6_PKTINFO:
            return "IPV6_PKTINFO";
        case IPV6_HOPLIMIT:
            return "IPV6_HOPLIMIT";
        case IPV6_TCLASS:
            return "IPV6_TCLASS";
        case IPV6_RECVERR:
            return "IPV6_RECVERR";
        }
    }
    return NULL;
}

static const char *icmp4_text(int type, int code)
{
    static const char *const unreach[] = {
        "network unreachable",      "host unreachable",
        "protocol unreachable",     "port unreachable",
        "fragmentation needed",     "source route failed",
        "network unknown",          "host unknown",
        "source host isolated",     "network prohibited",
        "host prohibited",          "network unreachable for TOS",
        "host unreachable for TOS", "administratively prohibited",
    };
    if (type == 3)
        return code >= 0 && (size_t)code < sizeof unreach / sizeof unreach[0] ? unreach[code]
                                                                              : "destination "
                                                                                "unreachable";
    if (type == 11)
        return code == 0 ? "TTL exceeded in transit" : "fragment reassembly time exceeded";
    if (type == 12)
        return "parameter problem";
    if (type == 4)
        return "source quench";
    return NULL;
}

static const char *icmp6_text(int type, int code)
{
    if (type == 1) {
        switch (code) {
        case 0:
            return "no route to destination";
        case 1:
            return "administratively prohibited";
        case 3:
            return "address unreachable";
        case 4:
            return "port unreachable";
        }
        return "destination unreachable";
    }
    if (type == 2)
        return "packet too big";
    if (type == 3)
        return code == 0 ? "hop limit exceeded in transit" : "fragment reassembly time exceeded";
    if (type == 4)
        return "parameter problem";
    return NULL;
}

const char *sp_cmsg_icmp_text(const struct sp_cmsg *c)
{
    if (c->kind != SP_CMSG_ERR)
        return NULL;
    if (c->origin == SP_EE_ORIGIN_ICMP)
        return icmp4_text(c->icmp_type, c->icmp_code);
    if (c->origin == SP_EE_ORIGIN_ICMP6)
        return icmp6_text(c->icmp_type, c->icmp_code);
    if (c->origin == SP_EE_ORIGIN_LOCAL)
        return "local error";
    return NULL;
}

const char *sp_cmsg_origin_name(int origin)
{
    switch (origin) {
    case SP_EE_ORIGIN_NONE:
        return "none";
    case SP_EE_ORIGIN_LOCAL:
        return "local";
    case SP_EE_ORIGIN_ICMP:
        return "icmp";
    case SP_EE_ORIGIN_ICMP6:
        return "icmp6";
    }
    return NULL;
}

const char *sp_cmsg_file_type(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "regular file";
    case S_IFDIR:
        return "directory";
    case S_IFSOCK:
        return "socket";
    case S_IFIFO:
        return "pipe";
    case S_IFCHR:
        return "character device";
    case S_IFBLK:
        return "block device";
    case S_IFLNK:
        return "symlink";
    }
    return "unknown";
}
