/* Unix SOCK_SEQPACKET connections: reliable and in order like a stream, but
 * each send is one record and each recv returns at most one. libuv has no
 * handle for them: reads are a uv_poll on our own descriptor, writes are
 * engine_write.c's. Reads pass MSG_TRUNC, so for a record longer than the
 * recv size the kernel returns its real length (Linux does for Unix
 * sockets) and the event says both. Listeners are engine_stream.c's, made
 * with SOCK_SEQPACKET. */
#include "engine_int.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "kstate.h"
#include "sockpit/proto/cmsg.h"

/* Records taken per readiness callback before others get a turn. */
#define RECORD_BATCH 32

int sp__seqpacket_eof(struct sp_sock *s)
{
    /* The peer's shutdown or close shows as POLLRDHUP. After it, a 0 with
     * nothing left queued is the end; before it, or with bytes still
     * queued, the 0 was an empty record. An empty record sent just before
     * the shutdown, with nothing after it, reads like the end: the kernel
     * returns the same 0 and keeps no other trace of it. */
    struct pollfd p = {.fd = sp__sock_fd(s), .events = POLLRDHUP};
    if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLRDHUP | POLLHUP)))
        return 0;
    return sp__kstate_inq(p.fd) <= 0;
}

static void on_records(uv_poll_t *h, int status, int events)
{
    struct sp_sock *s = h->data;
    (void)events;
    if (status < 0) {
        /* POLLERR: the next call says which error. */
        status = 0;
    }
    for (int i = 0; i < RECORD_BATCH && !s->closed && s->reading; i++) {
        /* A peer may pass descriptors or credentials with any record:
         * always with a control buffer, so they are shown and closed. */
        size_t clen;
        void *cbuf = sp__cmsg_cbuf(s, &clen);
        struct iovec iov = {s->eng->rbuf, s->recvsize};
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf;
        msg.msg_controllen = clen;
        ssize_t r = recvmsg(s->fd, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
        if (r < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            if (e != EAGAIN && e != EWOULDBLOCK)
                sp__stream_read_failed(s, -e);
            return;
        }
        if (r == 0 && sp__seqpacket_eof(s)) {
            sp__seqpacket_read_stop(s);
            sp__stream_eof(s);
            return;
        }
        size_t n = (size_t)r < s->recvsize ? (size_t)r : s->recvsize;
        struct sp_cmsg cm[SP_CMSG_MAX];
        /* MSG_CMSG_CLOEXEC is our request echoed back, not an outcome. */
        struct sp__rx rx = {.unread = -1, .msg_flags = msg.msg_flags & ~MSG_CMSG_CLOEXEC};
        rx.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
        rx.len = (uint64_t)r;
        sp__cmsg_take(s, &msg, cm, &rx);
        sp__sock_recvd(s, s->eng->rbuf, n, &rx);
    }
}

int sp__seqpacket_read_start(struct sp_sock *s)
{
    int r = uv_poll_start(&s->u.poll, UV_READABLE | UV_DISCONNECT, on_records);
    if (r == 0)
        s->reading = 1;
    return r;
}

void sp__seqpacket_read_stop(struct sp_sock *s)
{
    uv_poll_stop(&s->u.poll);
    s->reading = 0;
}

int sp__seqpacket_connect(struct sp_sock *s, const struct sockaddr *sa, socklen_t salen, char *err,
                          size_t errlen)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        sp__seterr(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    s->family = AF_UNIX;
    memcpy(&s->pa, sa, salen);
    if (s->peer[0] == '\0')
        s->peer_len = sp__sockaddr_text(sa, salen, s->peer);
    s->connecting = 1;
    /* A Unix connect finishes (or fails) at once; the outcome is reported
     * on the next loop turn like every other. */
    int r = connect(fd, sa, salen) == 0 ? 0 : -errno;
    if (r == 0)
        r = uv_poll_init_socket(&s->eng->loop, &s->u.poll, fd);
    if (r == 0) {
        s->hkind = SP_H_POLL;
        s->u.h.data = s;
        s->fd = fd;
        s->handle_open = 1;
    } else {
        close(fd);
    }
    s->outcome_err = r;
    sp__sock_timer(s, SP_T_OUTCOME, 0, sp__sock_outcome);
    return 0;
}
