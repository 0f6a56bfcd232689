/* Our own write calls for connected sockets (TCP, Unix stream, seqpacket):
 * each sendmsg() is made here, so a send event can say how many calls it
 * took and what each returned (libuv's uv_write hides its write(2) calls,
 * and libuv has no seqpacket handle at all). A uv_poll on a duplicate of the
 * descriptor (libuv allows one handle per descriptor) says when the kernel
 * takes more. Writes go out in the order pushed. As uv_write does, the first
 * one is tried at once when nothing waits, but every completion is reported
 * from the loop (a zero timer, or the poll), never from inside the push. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TAILQ_HEAD(sp__writes, sp__write);

struct sp__writer {
    struct sp_sock *s; /* NULL once closed */
    int fd;            /* our duplicate of the socket's descriptor */
    uv_poll_t poll;
    uv_timer_t soon;
    int polling, open_handles;
    struct sp__writes q;
    size_t pending; /* bytes pushed and not yet taken by the kernel */
};

static void writer_handle_closed(uv_handle_t *h)
{
    struct sp__writer *wr = h->data;
    if (--wr->open_handles == 0)
        free(wr);
}

/* One call for the head write: what the kernel took of its rest. Returns
 * 1 when it is all written, 0 when the kernel took a part or nothing yet
 * (EAGAIN), -errno when the call failed. */
static int write_call(struct sp__writer *wr, struct sp__write *w)
{
    struct iovec iov[SP__WRITE_IOV_MAX];
    size_t skip = w->done;
    int n = 0;
    for (int i = 0; i < w->iovcnt; i++) {
        size_t len = w->iov[i].iov_len;
        if (skip >= len && len > 0) {
            skip -= len;
            continue;
        }
        iov[n].iov_base = (char *)w->iov[i].iov_base + skip;
        iov[n].iov_len = len - skip;
        skip = 0;
        n++;
    }
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)n;
    ssize_t r;
    do
        r = sendmsg(wr->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    int e = errno;
    w->calls++;
    if (w->on_call != NULL)
        w->on_call(w, r >= 0 ? (int64_t)r : -(int64_t)e);
    if (r < 0) {
        if (e == EAGAIN || e == EWOULDBLOCK)
            return 0;
        w->err = -e;
        return -e;
    }
    w->done += (size_t)r;
    wr->pending -= (size_t)r;
    return w->done == w->len;
}

static void on_writable(uv_poll_t *p, int status, int events);
static void on_soon(uv_timer_t *t);

static void want_poll(struct sp__writer *wr, int on)
{
    if (on && !wr->polling)
        uv_poll_start(&wr->poll, UV_WRITABLE, on_writable);
    else if (!on && wr->polling)
        uv_poll_stop(&wr->poll);
    wr->polling = on;
}

/* Reports the writes at the head that are finished (all written, or
 * failed), in order; each report may close the socket and end us. */
static void complete_heads(struct sp__writer *wr)
{
    struct sp__write *w;
    while (wr->s != NULL && (w = TAILQ_FIRST(&wr->q)) != NULL && (w->done == w->len || w->err)) {
        TAILQ_REMOVE(&wr->q, w, entry);
        wr->pending -= w->len - w->done;
        w->on_done(w, w->err);
    }
}

/* Writes what the kernel takes now, then waits for room if anything is
 * left. A call that took a part means the buffer is full: wait (as libuv
 * does) rather than make a call that would only say EAGAIN. */
static void service(struct sp__writer *wr)
{
    complete_heads(wr);
    struct sp__write *w;
    while (wr->s != NULL && (w = TAILQ_FIRST(&wr->q)) != NULL) {
        int r = write_call(wr, w);
        complete_heads(wr);
        /* A failed call ends only its own write (a seqpacket record too
         * big); one that ends the connection closed us meanwhile. */
        if (r == 0)
            break;
    }
    if (wr->s != NULL)
        want_poll(wr, !TAILQ_EMPTY(&wr->q));
}

static void on_writable(uv_poll_t *p, int status, int events)
{
    struct sp__writer *wr = p->data;
    (void)events;
    /* libuv reports POLLERR as a failed poll and stops it: the next call
     * says what the error is. */
    if (status < 0)
        wr->polling = 0;
    if (wr->s != NULL)
        service(wr);
}

static void on_soon(uv_timer_t *t)
{
    struct sp__writer *wr = t->data;
    if (wr->s != NULL)
        service(wr);
}

static int writer_open(struct sp_sock *s)
{
    int fd = fcntl(sp__sock_fd(s), F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sp__writer *wr = sp_xcalloc(1, sizeof *wr);
    int r = uv_poll_init_socket(&s->eng->loop, &wr->poll, fd);
    if (r != 0) {
        close(fd);
        free(wr);
        return r;
    }
    uv_timer_init(&s->eng->loop, &wr->soon);
    wr->poll.data = wr->soon.data = wr;
    wr->open_handles = 2;
    wr->fd = fd;
    wr->s = s;
    TAILQ_INIT(&wr->q);
    s->writer = wr;
    return 0;
}

int sp__write_push(struct sp_sock *s, struct sp__write *w)
{
    if (w->iovcnt < 1 || w->iovcnt > SP__WRITE_IOV_MAX)
        return -EINVAL;
    if (s->writer == NULL) {
        int r = writer_open(s);
        if (r < 0)
            return r;
    }
    struct sp__writer *wr = s->writer;
    w->len = 0;
    for (int i = 0; i < w->iovcnt; i++)
        w->len += w->iov[i].iov_len;
    w->done = 0;
    w->calls = 0;
    w->err = 0;
    int first = TAILQ_EMPTY(&wr->q);
    TAILQ_INSERT_TAIL(&wr->q, w, entry);
    wr->pending += w->len;
    if (!first)
        return 0;
    int r = write_call(wr, w);
    if (r != 0)
        sp__timer_start(&wr->soon, on_soon, 0, 0);
    else
        want_poll(wr, 1);
    return 0;
}

size_t sp__write_pending(const struct sp_sock *s)
{
    return s->writer != NULL ? s->writer->pending : 0;
}

void sp__write_close(struct sp_sock *s)
{
    struct sp__writer *wr = s->writer;
    if (wr == NULL)
        return;
    s->writer = NULL;
    struct sp__write *w;
    while ((w = TAILQ_FIRST(&wr->q)) != NULL) {
        TAILQ_REMOVE(&wr->q, w, entry);
        w->on_done(w, UV_ECANCELED);
    }
    wr->s = NULL;
    uv_close((uv_handle_t *)&wr->poll, writer_handle_closed);
    uv_close((uv_handle_t *)&wr->soon, writer_handle_closed);
    /* uv_close() took the duplicate out of epoll: closing it now lets the
     * socket's own close(2) end the connection at once. */
    close(wr->fd);
}
