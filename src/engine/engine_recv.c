/* The manual recv (`recv` while paused): one recvmsg() with the user's
 * buffers and flags, made now, or once the kernel has data (--block,
 * --waitall) without blocking the loop: a uv_poll on a duplicate of the
 * descriptor (libuv allows one handle per descriptor) says when a blocking
 * call would have returned. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kstate.h"
#include "sockpit/proto/cmsg.h"

/* --waitall re-checks the queue this often while it holds less than the
 * buffers want (readiness alone would fire at once again). */
#define WAITALL_RECHECK_MS 10

struct sp__blocked {
    struct sp_sock *s; /* NULL once cancelled */
    struct sp_recv_req req;
    int fd; /* our duplicate of the socket's descriptor */
    uint64_t t0;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
};

static size_t req_total(const struct sp_recv_req *req)
{
    if (req->niov == 0)
        return req->n;
    size_t t = 0;
    for (size_t i = 0; i < req->niov; i++)
        t += req->iov[i];
    return t;
}

static int kernel_flags(unsigned f)
{
    return ((f & SP_RECV_PEEK) ? MSG_PEEK : 0) | ((f & SP_RECV_WAITALL) ? MSG_WAITALL : 0) |
           ((f & SP_RECV_OOB) ? MSG_OOB : 0) | ((f & SP_RECV_TRUNC) ? MSG_TRUNC : 0);
}

/* A failed manual recv. EAGAIN and a missing urgent byte are what the call
 * returned, not the end of the socket. */
static void recv_failed(struct sp_sock *s, int e, unsigned flags)
{
    if (e == EAGAIN || e == EWOULDBLOCK) {
        sp__emit_error_msg(s, "recv", -EAGAIN,
                           (flags & SP_RECV_OOB)
                               ? "the urgent byte is announced but not here yet: "
                                 "recv(MSG_OOB) would fail with EAGAIN"
                               : "nothing to read: a blocking recv() would wait here "
                                 "(recv --block waits for it)");
        return;
    }
    if (e == EINVAL && (flags & SP_RECV_OOB)) {
        sp__emit_error_msg(s, "recv", -EINVAL,
                           "no urgent byte waiting (none sent, or already read): recv(MSG_OOB) "
                           "fails with EINVAL");
        return;
    }
    if (sp_kind_is_stream(s->kind)) {
        sp__stream_read_failed(s, -e);
        return;
    }
    sp__emit_error(s, "recv", -e);
}

/* The call itself. Returns 0 when done (event emitted), -EAGAIN when
 * nothing was there and again_ok (the caller keeps waiting). */
static int do_recv(struct sp_sock *s, const struct sp_recv_req *req, int blocked,
                   uint64_t blocked_ns, int again_ok)
{
    int fd = sp__sock_fd(s);
    size_t total = req_total(req);
    struct sp__rx rx = {.unread = sp__kstate_inq(fd),
                        .blocked = blocked,
                        .blocked_ns = blocked_ns,
                        .asked = kernel_flags(req->flags)};
    if (s->kind == SP_SOCK_TCP) {
        int mark = 0;
        if (ioctl(fd, SIOCATMARK, &mark) == 0)
            rx.atmark = mark ? 1 : -1;
    }
    /* Not the shared read buffer: a subscriber of an event borrowing it
     * may be the one asking. The buffers lie end to end in one block, so
     * the event's bytes are in order. */
    unsigned char *buf = sp_xmalloc(total);
    struct iovec iov[SP_IOV_MAX];
    size_t niov = req->niov == 0 ? 1 : req->niov;
    size_t at = 0;
    for (size_t i = 0; i < niov; i++) {
        size_t len = req->niov == 0 ? total : req->iov[i];
        iov[i].iov_base = buf + at;
        iov[i].iov_len = len;
        at += len;
    }
    struct sockaddr_storage from;
    memset(&from, 0, sizeof from);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = iov;
    msg.msg_iovlen = niov;
    /* Ancillary data comes back in the socket's control buffer and is
     * handed on in rx next to the bytes (engine_cmsg.c). */
    size_t clen;
    msg.msg_control = sp__cmsg_cbuf(s, &clen);
    msg.msg_controllen = clen;
    ssize_t r;
    do
        r = recvmsg(fd, &msg, rx.asked | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    int e = errno;
    if (r < 0) {
        free(buf);
        /* No urgent byte yet is EINVAL: a program waiting for one polls for
         * POLLPRI, and so does --block --oob. */
        int nothing =
            e == EAGAIN || e == EWOULDBLOCK || (e == EINVAL && (req->flags & SP_RECV_OOB));
        if (nothing && again_ok)
            return -EAGAIN;
        recv_failed(s, e, req->flags);
        return 0;
    }
    /* On seqpacket a 0 may be an empty record rather than the end. */
    if (r == 0 && !sp_kind_is_dgram(s->kind) &&
        (s->kind != SP_SOCK_SEQPACKET || sp__seqpacket_eof(s))) {
        free(buf);
        sp__stream_eof(s);
        return 0;
    }
    size_t got = (size_t)r < total ? (size_t)r : total;
    rx.len = (uint64_t)r;
    rx.msg_flags = msg.msg_flags & ~MSG_CMSG_CLOEXEC; /* our request, echoed back */
    rx.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    if (msg.msg_namelen > 0 && sp_kind_is_dgram(s->kind)) {
        rx.from = (const struct sockaddr *)&from;
        rx.fromlen = msg.msg_namelen;
    }
    if (req->niov > 0) {
        rx.iov = req->iov;
        rx.niov = req->niov;
    }
    struct sp_cmsg cm[SP_CMSG_MAX];
    sp__cmsg_take(s, &msg, cm, &rx);
    sp__sock_recvd(s, buf, got, &rx);
    free(buf);
    return 0;
}

/* The duplicate descriptor is closed only once libuv let go of it: closed
 * earlier, its number could be reused and libuv's cleanup would unwatch the
 * new one. Until then it keeps the socket open, for the rest of this loop
 * turn. */
static void blocked_handle_closed(uv_handle_t *h)
{
    struct sp__blocked *b = h->data;
    if (h == (uv_handle_t *)&b->poll)
        close(b->fd);
    if (--b->open_handles == 0)
        free(b);
}

static void blocked_end(struct sp__blocked *b)
{
    if (b->s != NULL)
        b->s->blk = NULL;
    b->s = NULL;
    uv_close((uv_handle_t *)&b->poll, blocked_handle_closed);
    uv_close((uv_handle_t *)&b->timer, blocked_handle_closed);
}

static void on_ready(uv_poll_t *p, int status, int events);

/* An urgent byte is announced by POLLPRI, everything else by POLLIN. */
static int poll_events(const struct sp__blocked *b)
{
    return UV_DISCONNECT | ((b->req.flags & SP_RECV_OOB) ? UV_PRIORITIZED : UV_READABLE);
}

static void on_recheck(uv_timer_t *t)
{
    struct sp__blocked *b = t->data;
    uv_poll_start(&b->poll, poll_events(b), on_ready);
}

/* --waitall: a blocking recv(MSG_WAITALL) returns once the buffers can be
 * filled, or the stream ended or failed. */
static int waitall_ready(struct sp__blocked *b, int events)
{
    if (!(b->req.flags & SP_RECV_WAITALL) || (events & UV_DISCONNECT))
        return 1;
    int64_t inq = sp__kstate_inq(b->fd);
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    return inq < 0 || (uint64_t)inq >= req_total(&b->req) || soerr != 0;
}

static void on_ready(uv_poll_t *p, int status, int events)
{
    struct sp__blocked *b = p->data;
    struct sp_sock *s = b->s;
    if (s == NULL)
        return;
    if (status == 0 && !waitall_ready(b, events)) {
        uv_poll_stop(&b->poll);
        uv_timer_start(&b->timer, on_recheck, WAITALL_RECHECK_MS, 0);
        return;
    }
    uint64_t waited = uv_hrtime() - b->t0;
    struct sp_recv_req req = b->req;
    /* Readiness can be spurious (another reader, a checksum drop): a
     * blocking call would go on waiting, and so do we. */
    if (do_recv(s, &req, 1, waited, status == 0) == -EAGAIN)
        return;
    if (b->s != NULL) /* the recv may have closed the socket, and ended us with it */
        blocked_end(b);
}

/* Arms the wait. Returns 1, or < 0 when the loop cannot watch it. */
static int block(struct sp_sock *s, const struct sp_recv_req *req, char *err, size_t errlen)
{
    int fd = fcntl(sp__sock_fd(s), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        sp__seterr(err, errlen, "cannot wait for data: %s", strerror(e));
        return -e;
    }
    struct sp__blocked *b = sp_xcalloc(1, sizeof *b);
    b->req = *req;
    b->fd = fd;
    int r = uv_poll_init_socket(&s->eng->loop, &b->poll, fd);
    if (r != 0) {
        close(fd);
        free(b);
        sp__seterr(err, errlen, "cannot wait for data: %s", uv_strerror(r));
        return r;
    }
    uv_timer_init(&s->eng->loop, &b->timer);
    b->poll.data = b->timer.data = b;
    b->open_handles = 2;
    b->s = s;
    b->t0 = uv_hrtime();
    s->blk = b;
    uv_poll_start(&b->poll, poll_events(b), on_ready);
    return 1;
}

int sp__recv_manual(struct sp_sock *s, const struct sp_recv_req *req, char *err, size_t errlen)
{
    if (s->blk != NULL) {
        sp__seterr(err, errlen, "socket %u: a recv is already waiting for data", s->id);
        return -EBUSY;
    }
    if (!(req->flags & (SP_RECV_BLOCK | SP_RECV_WAITALL))) {
        do_recv(s, req, 0, 0, 0);
        return 0;
    }
    /* Data already there: a blocking call returns at once. */
    if (!(req->flags & SP_RECV_WAITALL) ||
        sp__kstate_inq(sp__sock_fd(s)) >= (int64_t)req_total(req))
        if (do_recv(s, req, 1, 0, 1) == 0)
            return 0;
    return block(s, req, err, errlen);
}

int sp__recv_cancel(struct sp_sock *s)
{
    if (s->blk == NULL)
        return 0;
    blocked_end(s->blk);
    return 1;
}
