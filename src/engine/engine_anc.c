/* The ancillary reader: the automatic reads of a socket that wants control
 * messages. libuv reads streams with read(2) and UDP with recvmmsg() and no
 * control buffer, so such a socket is read here instead: a uv_poll on a
 * duplicate of its descriptor (libuv allows one handle per descriptor; the
 * socket's own handle keeps writing), one recvmsg() with the socket's
 * control buffer per recv event, as the manual recv does. With recverr on,
 * the error queue (MSG_ERRQUEUE, announced by POLLERR) is read too, each
 * entry an icmp_error event. Also the `set` of the ancillary options. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockpit/proto/cmsg.h"

/* Datagrams (and full stream reads) taken per readiness, as libuv does. */
#define READ_BATCH 32
/* Error queue entries taken per readiness. */
#define ERR_BATCH 32

static void on_ready(uv_poll_t *p, int status, int events);

static int poll_events(const struct sp_sock *s)
{
    return UV_READABLE | (sp_kind_is_stream(s->kind) ? UV_DISCONNECT : 0);
}

/* One entry of the error queue: the ICMP error (or local error) about a
 * datagram we sent, with its destination and bytes. Returns 1 if one was
 * read, 0 when the queue is empty. */
static int read_err(struct sp_sock *s, struct sp__anc *a)
{
    uint64_t ctl[64];
    struct sockaddr_storage to;
    struct iovec iov = {s->eng->rbuf, s->recvsize};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&to, 0, sizeof to);
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof ctl;
    ssize_t r;
    do
        r = recvmsg(a->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return 0;
    struct sp_cmsg cm[SP_CMSG_MAX];
    size_t n = sp_cmsg_parse(msg.msg_control, msg.msg_controllen, cm, SP_CMSG_MAX, NULL);
    const struct sp_cmsg *c = NULL;
    for (size_t i = 0; i < n && c == NULL; i++)
        if (cm[i].kind == SP_CMSG_ERR)
            c = &cm[i];
    if (c == NULL || !sp__wants(s->eng, SP_EV_ICMP_ERROR))
        return 1;
    char where[SP_ADDR_TEXT_MAX];
    where[0] = '\0';
    struct sp_event ev = {.type = SP_EV_ICMP_ERROR, .unread = -1};
    if (msg.msg_namelen > 0 && to.ss_family != AF_UNSPEC)
        ev.peer_len = sp__sockaddr_text((const struct sockaddr *)&to, msg.msg_namelen, where);
    ev.peer = where;
    ev.code = sp__err_name(-c->ee_errno);
    const char *what = sp_cmsg_icmp_text(c);
    ev.message = what != NULL ? what : strerror(c->ee_errno);
    size_t got = (size_t)r < s->recvsize ? (size_t)r : s->recvsize;
    ev.len = (uint64_t)r;
    ev.data = s->eng->rbuf;
    ev.data_len = got;
    ev.msg_flags = msg.msg_flags & ~MSG_CMSG_CLOEXEC;
    ev.cmsg = c;
    ev.ncmsg = 1;
    sp__emit(s->eng, s, &ev);
    return 1;
}

/* One recvmsg() and its recv event. Returns 1 to read on, 0 when the queue
 * is drained, -1 when reading ended (EOF, a failed stream). */
static int read_one(struct sp_sock *s, struct sp__anc *a)
{
    int stream = sp_kind_is_stream(s->kind);
    size_t clen;
    void *cbuf = sp__cmsg_cbuf(s, &clen);
    struct sockaddr_storage from;
    struct iovec iov = {s->eng->rbuf, s->recvsize};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&from, 0, sizeof from);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = clen;
    ssize_t r;
    do
        r = recvmsg(a->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return 0;
        if (stream) {
            sp__stream_read_failed(s, -e);
            return -1;
        }
        /* A datagram socket's pending error (ECONNREFUSED after an ICMP
         * error on a connected socket) leaves it usable. */
        sp__emit_error(s, "recv", -e);
        return 1;
    }
    if (r == 0 && stream) {
        if (s->ours & SP_OURS_SHUT_RD)
            s->reading = 0; /* our own SHUT_RD makes recv return 0: not the peer's FIN */
        else
            sp__stream_eof(s);
        return -1;
    }
    struct sp_cmsg cm[SP_CMSG_MAX];
    /* MSG_CMSG_CLOEXEC is our request echoed back, not an outcome. */
    struct sp__rx rx = {.unread = -1, .msg_flags = msg.msg_flags & ~MSG_CMSG_CLOEXEC};
    rx.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    if (!stream && msg.msg_namelen > 0) {
        rx.from = (const struct sockaddr *)&from;
        rx.fromlen = msg.msg_namelen;
    }
    sp__cmsg_take(s, &msg, cm, &rx);
    size_t got = (size_t)r;
    sp__sock_recvd(s, s->eng->rbuf, got, &rx);
    /* A stream read that did not fill the buffer took all there was (libuv
     * reads again only after a full one). */
    return stream && got < s->recvsize ? 0 : 1;
}

static void stop_poll(struct sp__anc *a)
{
    if (a->active)
        uv_poll_stop(&a->poll);
    a->active = 0;
}

static void on_ready(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct sp__anc *a = p->data;
    struct sp_sock *s = a->s;
    if (s == NULL)
        return;
    if (status < 0) {
        /* POLLERR: libuv stopped the poll. The error queue first (reading
         * it clears the socket's pending error), then what recv returns. */
        a->active = 0;
        for (int i = 0; i < ERR_BATCH && a->s != NULL && read_err(s, a); i++)
            ;
    }
    for (int i = 0; i < READ_BATCH && a->s != NULL && s->reading && !s->closed; i++)
        if (read_one(s, a) <= 0)
            break;
    if (a->s == NULL || s->closed)
        return;
    if (!s->reading) {
        stop_poll(a);
        return;
    }
    if (!a->active && uv_poll_start(&a->poll, poll_events(s), on_ready) == 0)
        a->active = 1;
}

int sp__anc_read_start(struct sp_sock *s)
{
    struct sp__anc *a = sp__anc_get(s);
    if (!a->poll_open) {
        int fd = fcntl(sp__sock_fd(s), F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        int r = uv_poll_init_socket(&s->eng->loop, &a->poll, fd);
        if (r != 0) {
            close(fd);
            return r;
        }
        a->fd = fd;
        a->poll.data = a;
        a->poll_open = 1;
    }
    int r = uv_poll_start(&a->poll, poll_events(s), on_ready);
    if (r != 0)
        return r;
    a->active = 1;
    s->reading = 1;
    return 0;
}

void sp__anc_read_stop(struct sp_sock *s)
{
    if (s->anc != NULL)
        stop_poll(s->anc);
    s->reading = 0;
}

static void anc_free(struct sp__anc *a)
{
    free(a->cbuf);
    free(a);
}

static void poll_closed(uv_handle_t *h)
{
    anc_free(h->data);
}

void sp__anc_close(struct sp_sock *s)
{
    struct sp__anc *a = s->anc;
    if (a == NULL)
        return;
    s->anc = NULL;
    a->s = NULL;
    if (!a->poll_open) {
        anc_free(a);
        return;
    }
    /* uv_close() takes the descriptor out of epoll at once, so it can go
     * now: the socket is gone from the kernel when `closed` is published. */
    uv_close((uv_handle_t *)&a->poll, poll_closed);
    close(a->fd);
    a->fd = -1;
}

/* Which kinds take an option, and the socket option behind it for the
 * socket's family. Returns 0, or -EINVAL with err set. */
static int anc_sockopt(const struct sp_sock *s, unsigned opt, int *level, int *name,
                       const char **what, char *err, size_t errlen)
{
    int v6 = s->family == AF_INET6;
    int udp = s->kind == SP_SOCK_UDP;
    const char *need = "UDP sockets";
    int ok = udp;
    *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
    switch (opt) {
    case SP_ANC_PASSCRED:
        *what = "passcred";
        need = "Unix sockets (unix:, unix-dgram:, unix-seqpacket:)";
        ok = s->kind == SP_SOCK_UNIX || s->kind == SP_SOCK_UNIX_DGRAM ||
             s->kind == SP_SOCK_SEQPACKET;
        *level = SOL_SOCKET;
        *name = SO_PASSCRED;
        break;
    case SP_ANC_PKTINFO:
        *what = "pktinfo";
        *name = v6 ? IPV6_RECVPKTINFO : IP_PKTINFO;
        break;
    case SP_ANC_RECVTTL:
        *what = "recvttl";
        *name = v6 ? IPV6_RECVHOPLIMIT : IP_RECVTTL;
        break;
    case SP_ANC_RECVTOS:
        *what = "recvtos";
        *name = v6 ? IPV6_RECVTCLASS : IP_RECVTOS;
        break;
    case SP_ANC_TIMESTAMP:
        *what = "timestamp";
        need = "datagram sockets (udp:, unix-dgram:)";
        ok = udp || s->kind == SP_SOCK_UNIX_DGRAM;
        *level = SOL_SOCKET;
        *name = SO_TIMESTAMPNS;
        break;
    case SP_ANC_RECVERR:
        *what = "recverr";
        *name = v6 ? IPV6_RECVERR : IP_RECVERR;
        break;
    default:
        sp__seterr(err, errlen, "unknown ancillary option");
        return -EINVAL;
    }
    if (!ok) {
        sp__seterr(err, errlen, "%s applies to %s; socket %u is %s", *what, need, s->id,
                   sp_sock_kind_name(s->kind));
        return -EINVAL;
    }
    return 0;
}

/* The reader in charge changed (libuv's or ours): hand reading over. */
static void switch_reader(struct sp_sock *s, int was_ours)
{
    if (!s->reading || was_ours == sp__anc_reads(s))
        return;
    sp__sock_read_stop(s);
    sp__sock_read_start(s);
}

static struct sp_sock *open_sock(struct sp_engine *eng, uint32_t id, char *err, size_t errlen)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL) {
        sp__sock_missing(eng, id, err, errlen);
        return NULL;
    }
    if (s->closed || sp__sock_fd(s) < 0) {
        sp__seterr(err, errlen, "socket %u is %s", id, s->closed ? "closed" : "not open yet");
        return NULL;
    }
    return s;
}

int sp_engine_set_anc(struct sp_engine *eng, uint32_t id, unsigned opt, int on, char *err,
                      size_t errlen)
{
    struct sp_sock *s = open_sock(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    int level, name;
    const char *what;
    int r = anc_sockopt(s, opt, &level, &name, &what, err, errlen);
    if (r != 0)
        return r;
    int v = on != 0;
    if (setsockopt(sp__sock_fd(s), level, name, &v, sizeof v) != 0) {
        int e = errno;
        sp__seterr(err, errlen, "set %s: %s", what, strerror(e));
        return -e;
    }
    int was_ours = s->reading && s->anc != NULL && s->anc->active;
    struct sp__anc *a = sp__anc_get(s);
    a->opts = on ? a->opts | opt : a->opts & ~opt;
    switch_reader(s, was_ours);
    return 0;
}

int sp_engine_set_cmsgbuf(struct sp_engine *eng, uint32_t id, size_t n, char *err, size_t errlen)
{
    struct sp_sock *s = open_sock(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (n > SP_CMSGBUF_MAX) {
        sp__seterr(err, errlen, "cmsgbuf must be 0 .. %u bytes", SP_CMSGBUF_MAX);
        return -EINVAL;
    }
    struct sp__anc *a = sp__anc_get(s);
    free(a->cbuf);
    a->cbuf = n > 0 ? sp_xmalloc(n) : NULL;
    a->cbuf_len = n;
    a->cbuf_set = 1;
    return 0;
}

int sp_engine_anc_info(struct sp_engine *eng, uint32_t id, struct sp_buf *out)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    int fd = s == NULL || s->closed ? -1 : sp__sock_fd(s);
    if (fd < 0)
        return -1;
    static const unsigned opts[] = {SP_ANC_PASSCRED, SP_ANC_PKTINFO,   SP_ANC_RECVTTL,
                                    SP_ANC_RECVTOS,  SP_ANC_TIMESTAMP, SP_ANC_RECVERR};
    const char *sep = "  ancillary (getsockopt): ";
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        int level, name;
        const char *what;
        char err[160];
        if (anc_sockopt(s, opts[i], &level, &name, &what, err, sizeof err) != 0)
            continue; /* not for this kind of socket */
        /* The kernel's word, not what we asked for. */
        int v = 0;
        socklen_t len = sizeof v;
        int r = getsockopt(fd, level, name, &v, &len);
        sp_buf_appendf(out, "%s%s %s", sep, what, r != 0 ? "?" : v ? "on" : "off");
        sep = ", ";
    }
    if (sep[0] != ',')
        return -1; /* none applies: a TCP socket, a packet socket */
    const struct sp__anc *a = s->anc;
    if (!sp__anc_reads(s) && s->kind != SP_SOCK_SEQPACKET)
        sp_buf_appends(out, "; no control buffer (nothing asked for)");
    else if (a != NULL && a->cbuf_set)
        sp_buf_appendf(out, "; control buffer %zu bytes (set cmsgbuf)", a->cbuf_len);
    else
        sp_buf_appendf(out, "; control buffer %u bytes (default)", SP_CMSGBUF_DEFAULT);
    return 0;
}
