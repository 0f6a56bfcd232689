/* Datagram sockets: UDP through uv_udp_t, Unix datagram sockets through
 * uv_poll on a descriptor of our own (libuv has no handle for them). */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "kstate.h"

/* Datagrams taken per readiness callback, as libuv does for UDP. */
#define DGRAM_BATCH 32

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sp_sock *s = h->data;
    buf->base = (char *)s->eng->rbuf;
    buf->len = s->recvsize;
}

static socklen_t sa_len(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void on_udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                        unsigned flags)
{
    struct sp_sock *s = h->data;
    if (n == 0 && addr == NULL) /* nothing more to read */
        return;
    if (n < 0) {
        /* ICMP errors (ECONNREFUSED on a connected socket) leave it usable. */
        sp__emit_error(s, "recv", (int)n);
        return;
    }
    sp__sock_data(s, (const unsigned char *)buf->base, (size_t)n, (flags & UV_UDP_PARTIAL) != 0, -1,
                  addr, addr != NULL ? sa_len(addr) : 0);
}

/* One recvmsg() into p[0..n) without blocking: the sender lands in *from and
 * *fromlen, *truncated says the datagram was longer than n. Returns the byte
 * count, or -1 with errno. */
static ssize_t recv_dgram(int fd, void *p, size_t n, struct sockaddr_storage *from,
                          socklen_t *fromlen, int *truncated)
{
    struct iovec iov = {p, n};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(from, 0, sizeof *from);
    msg.msg_name = from;
    msg.msg_namelen = sizeof *from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t r = recvmsg(fd, &msg, MSG_DONTWAIT);
    *fromlen = msg.msg_namelen;
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    return r;
}

static void on_unix_dgram(uv_poll_t *p, int status, int events)
{
    struct sp_sock *s = p->data;
    if (status < 0) {
        sp__emit_error(s, "recv", status);
        return;
    }
    for (int i = 0; i < DGRAM_BATCH && !s->closed && s->reading; i++) {
        struct sockaddr_storage from;
        socklen_t fromlen;
        int truncated;
        ssize_t n = recv_dgram(s->fd, s->eng->rbuf, s->recvsize, &from, &fromlen, &truncated);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                sp__emit_error(s, "recv", -errno);
            return;
        }
        sp__sock_data(s, s->eng->rbuf, (size_t)n, truncated, -1, (struct sockaddr *)&from, fromlen);
    }
}

int sp__dgram_read_start(struct sp_sock *s)
{
    int r;
    if (s->hkind == SP_H_UDP)
        r = uv_udp_recv_start(&s->u.udp, on_alloc, on_udp_recv);
    else
        r = uv_poll_start(&s->u.poll, UV_READABLE, on_unix_dgram);
    if (r == 0)
        s->reading = 1;
    return r;
}

void sp__dgram_read_stop(struct sp_sock *s)
{
    if (s->hkind == SP_H_UDP)
        uv_udp_recv_stop(&s->u.udp);
    else
        uv_poll_stop(&s->u.poll);
    s->reading = 0;
}

/* Opens a datagram descriptor of the right family. */
static int dgram_socket(int family, char *err, size_t errlen)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        sp__seterr(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    return fd;
}

/* Gives fd to s's handle (uv_udp_t for UDP, uv_poll_t for Unix). */
static int attach(struct sp_sock *s, int fd)
{
    struct sp_engine *eng = s->eng;
    int r;
    if (s->kind == SP_SOCK_UDP) {
        uv_udp_init(&eng->loop, &s->u.udp);
        s->hkind = SP_H_UDP;
        r = uv_udp_open(&s->u.udp, fd);
    } else {
        r = uv_poll_init_socket(&eng->loop, &s->u.poll, fd);
        s->hkind = SP_H_POLL;
        if (r == 0)
            s->fd = fd;
    }
    s->u.h.data = s;
    s->handle_open = r == 0 || s->kind == SP_SOCK_UDP;
    return r;
}

int sp__dgram_bind(struct sp_engine *eng, struct sp_sock *s, const struct sockaddr *sa,
                   socklen_t salen, enum sp_sock_kind kind, const struct sp_sock_opts *opts,
                   uint32_t *id, char *err, size_t errlen)
{
    int fd = dgram_socket(sa->sa_family, err, errlen);
    if (fd < 0)
        return fd;
    char where[SP_ADDR_TEXT_MAX];
    sp_sockaddr_format(sa, salen, where, sizeof where);
    char path[SP_ADDR_PATH_MAX] = "";
    uint64_t dev = 0, ino = 0;
    int r;
    char why[256] = "";
    if (sa->sa_family == AF_UNIX) {
        r = sp__unix_bind(fd, sa, salen, path, &dev, &ino);
    } else {
        /* --reuseport, --v6only: only before bind. */
        struct sp_prebind own;
        r = s != NULL ? 0 : sp__prebind_fill(&own, opts, why, sizeof why);
        if (r == 0)
            r = sp__prebind_apply(s != NULL ? &s->pre : &own, fd, sa->sa_family, why, sizeof why);
        if (r == 0)
            r = bind(fd, sa, salen) == 0 ? 0 : -errno;
    }
    if (r < 0) {
        sp__seterr(err, errlen, "bind %s: %s", where, why[0] ? why : strerror(-r));
        close(fd);
        return r;
    }
    if (s == NULL)
        s = sp__sock_new(eng, kind, opts);
    r = attach(s, fd);
    if (r != 0) {
        /* Only possible for a descriptor libuv already watches: not ours. */
        sp__seterr(err, errlen, "bind %s: %s", where, uv_strerror(r));
        close(fd);
        if (path[0] != '\0')
            unlink(path);
        sp__sock_close(s, "bind failed", 0);
        return r;
    }
    s->established = 1;
    if (id != NULL)
        *id = s->id;
    /* s->family comes from the kernel's name of the socket. */
    sp__sock_bound(s, fd, sa, path, dev, ino, SP_EV_BOUND,
                   "bound on every interface: other machines can send here");
    sp__sock_read_start(s);
    return 0;
}

int sp__dgram_connect(struct sp_sock *s, const struct sockaddr *sa, socklen_t salen, char *err,
                      size_t errlen)
{
    int fd = dgram_socket(sa->sa_family, err, errlen);
    if (fd < 0)
        return fd;
    if (sa->sa_family != AF_UNIX) {
        /* connect --bind, --reuseport, --v6only: a refusal creates nothing. */
        int e = sp__prebind_apply(&s->pre, fd, sa->sa_family, err, errlen);
        if (e < 0) {
            close(fd);
            return e;
        }
    }
    s->family = sa->sa_family;
    memcpy(&s->pa, sa, salen);
    s->peer_len = sp__sockaddr_text(sa, salen, s->peer);
    s->connecting = 1;
    int r = 0;
    if (sa->sa_family == AF_UNIX) {
        /* Replies need an address to come back to: let the kernel pick an
         * abstract one (bind with just the family). */
        sa_family_t fam = AF_UNIX;
        if (bind(fd, (struct sockaddr *)&fam, sizeof fam) != 0)
            r = -errno;
    }
    if (r == 0 && connect(fd, sa, salen) != 0)
        r = -errno;
    int a = attach(s, fd);
    if (a != 0)
        close(fd); /* libuv did not take it */
    if (r == 0)
        r = a;
    if (r == 0)
        s->dgram_connected = 1;
    /* Reported on the next loop turn like every connect outcome. */
    s->outcome_err = r;
    sp__sock_timer(s, SP_T_OUTCOME, 0, sp__sock_outcome);
    return 0;
}
