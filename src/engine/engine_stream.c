/* Stream sockets: TCP and Unix listeners (accept(2) driven by uv_poll),
 * connects, accepted connections, the read path, half-close. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kstate.h"

/* Connections taken per readiness callback before others get a turn. */
#define ACCEPT_BATCH 64
/* Retry period while accept(2) fails for lack of descriptors. */
#define ACCEPT_RETRY_MS 100

/* Urgent data (TCP). A read that reaches the urgent mark stops before it,
 * and the next one skips the urgent byte without a word (unless oobinline).
 * So before each read: SIOCATMARK; at the mark the byte is read with
 * MSG_OOB and kept to be shown (as its own recv, at the mark's stream
 * offset) once this read returns: nothing is emitted from inside libuv's
 * read loop. With oobinline on, the byte comes inline and the mark is
 * shown as a notice. */
static void urgent_check(struct sp_sock *s)
{
    int fd = sp__sock_fd(s);
    int mark = 0;
    if (s->kind != SP_SOCK_TCP || s->urg_pending || fd < 0 || s->urg_shown == s->bytes_in + 1 ||
        ioctl(fd, SIOCATMARK, &mark) != 0 || !mark)
        return;
    if (sp__kstate_opt(fd, SOL_SOCKET, SO_OOBINLINE) == 1) {
        s->urg_shown = s->bytes_in + 1;
        s->urg_pending = 2;
        return;
    }
    unsigned char c;
    ssize_t r;
    do
        r = recv(fd, &c, 1, MSG_OOB | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    /* EAGAIN: the mark is announced, the byte not here yet (next time). */
    if (r != 1)
        return;
    s->urg_shown = s->bytes_in + 1;
    s->urg_byte = c;
    s->urg_pending = 1;
}

static void urgent_show(struct sp_sock *s)
{
    int what = s->urg_pending;
    s->urg_pending = 0;
    if (what == 2) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "urgent mark at offset %llu (SIOCATMARK): with oobinline on, the urgent byte is "
                 "the next byte of the stream",
                 (unsigned long long)s->bytes_in);
        sp__emit_notice(s, msg);
        return;
    }
    unsigned char c = s->urg_byte;
    struct sp__rx rx = {.unread = -1, .msg_flags = MSG_OOB, .asked = MSG_OOB, .atmark = 1};
    sp__sock_recvd(s, &c, 1, &rx);
}

/* SIGURG: some TCP connection of ours has urgent data. An urgent byte with
 * nothing after it makes no reader ready (the kernel does not count it for
 * POLLIN), so the reading connections are asked here; one whose reads have
 * not reached the mark yet meets it in urgent_check() before its next read. */
static void on_sigurg(uv_signal_t *h, int signum)
{
    struct sp_engine *eng = h->data;
    (void)signum;
    for (size_t i = 0; i < eng->nsocks; i++) {
        struct sp_sock *s = eng->socks[i];
        if (s->kind != SP_SOCK_TCP || s->closed || !s->reading)
            continue;
        urgent_check(s);
        if (s->urg_pending)
            urgent_show(s);
    }
}

void sp__urgent_watch(struct sp_sock *s, int fd)
{
    struct sp_engine *eng = s->eng;
    if (fd < 0 || fcntl(fd, F_SETOWN, getpid()) != 0)
        return;
    if (eng->urg_sig_on || eng->freeing)
        return;
    uv_signal_init(&eng->loop, &eng->urg_sig);
    eng->urg_sig.data = eng;
    if (uv_signal_start(&eng->urg_sig, on_sigurg, SIGURG) != 0) {
        uv_close((uv_handle_t *)&eng->urg_sig, NULL);
        return;
    }
    /* Watching for urgent data keeps no run alive. */
    uv_unref((uv_handle_t *)&eng->urg_sig);
    eng->urg_sig_on = 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct sp_sock *s = h->data;
    urgent_check(s);
    /* Exactly the recv size: every read(2) asks the kernel for that much. */
    buf->base = (char *)s->eng->rbuf;
    buf->len = s->recvsize;
}

/* One plaintext read of a TLS socket (SSL_read's result): what the framing
 * decodes, or under raw one `msg` per read; what echo sends back. */
static void tls_plain(struct sp_sock *s, const unsigned char *p, size_t n)
{
    uint64_t off = s->pt_bytes;
    s->pt_chunks++;
    s->pt_bytes += n;
    if (s->rpair != NULL) {
        /* A relay leg: the relay takes the plaintext before the framing
         * says where its messages end. */
        sp__relay_plain(s, p, n, off);
        if (s->closed)
            return;
    }
    if (s->spec.kind != SP_FRAME_RAW && !sp__framer_lost(s)) {
        sp__framer_feed(s, p, n);
    } else {
        s->msgs++;
        if (sp__wants(s->eng, SP_EV_MSG)) {
            size_t keep = sp__msg_data_need(s->eng);
            struct sp_event ev = {.type = SP_EV_MSG, .unread = -1};
            ev.seq = s->msgs;
            ev.len = n;
            ev.data = p;
            ev.data_len = n < keep ? n : keep;
            ev.off = off;
            ev.end_off = off + n;
            ev.chunk_first = ev.chunk_last = s->pt_chunks;
            ev.chunk_last_end = (uint32_t)n;
            sp__emit(s->eng, s, &ev);
        }
    }
    if (s->echo && !s->closed)
        sp__echo(s, p, n, NULL, 0);
}

void sp__sock_recvd(struct sp_sock *s, const unsigned char *p, size_t n, const struct sp__rx *rx)
{
    struct sp_engine *eng = s->eng;
    /* A peek leaves the bytes queued and the urgent byte is not part of
     * the stream: neither takes a chunk number or moves the offset, and
     * neither is decoded or echoed. */
    int in_stream = !(rx->asked & (MSG_PEEK | MSG_OOB));
    uint64_t off = s->bytes_in;
    if (in_stream) {
        s->chunks++;
        s->bytes_in += n;
    }
    if (sp__wants(eng, SP_EV_RECV)) {
        /* Only the first byte is cleared: `= ""` would zero all of it for
         * every chunk, and stream sockets never use it. */
        char from[SP_ADDR_TEXT_MAX];
        from[0] = '\0';
        struct sp_event ev = {.type = SP_EV_RECV};
        ev.seq = in_stream ? s->chunks : 0;
        ev.off = off;
        ev.len = rx->len > n ? rx->len : n;
        ev.data = p;
        ev.data_len = n;
        ev.truncated = rx->truncated;
        /* TLS: the chunk is ciphertext, its plaintext comes as msg events. */
        ev.framed =
            in_stream && (s->tls != NULL || (s->spec.kind != SP_FRAME_RAW && !sp__framer_lost(s)));
        ev.unread = rx->unread;
        ev.msg_flags = rx->msg_flags;
        ev.asked = rx->asked;
        ev.atmark = rx->atmark;
        ev.blocked = rx->blocked;
        ev.blocked_ns = rx->blocked_ns;
        ev.iov = rx->iov;
        ev.niov = rx->niov;
        ev.cmsg = rx->cmsg;
        ev.ncmsg = rx->ncmsg;
        ev.cmsg_more = rx->cmsg_more;
        if (sp_kind_is_dgram(s->kind)) {
            if (rx->from != NULL)
                ev.from_len = sp__sockaddr_text(rx->from, rx->fromlen, from);
            ev.from = from;
        }
        sp__emit(eng, s, &ev);
    }
    if (!in_stream)
        return;
    if (s->tls != NULL) {
        sp__tls_recvd(s, p, n, tls_plain);
        return;
    }
    if (s->fr != NULL)
        sp__framer_feed(s, p, n);
    if (s->echo && !s->closed)
        sp__echo(s, p, n, rx->from, rx->fromlen);
}

void sp__sock_data(struct sp_sock *s, const unsigned char *p, size_t n, int truncated,
                   int64_t unread, const struct sockaddr *from_sa, socklen_t from_len)
{
    struct sp__rx rx = {
        .truncated = truncated, .unread = unread, .from = from_sa, .fromlen = from_len};
    if (truncated)
        rx.msg_flags = MSG_TRUNC;
    sp__sock_recvd(s, p, n, &rx);
}

/* An echo server echoes the EOF too, and a --close-on-eof listener's
 * connections end after the peer's: once what is queued is written, close(2)
 * sends our FIN. No drain timeout: a peer that reads slowly still gets all
 * of its echo. */
static void close_after_eof(struct sp_sock *s)
{
    static const char reason[] = "closed after the peer's EOF";
    if (s->closed || s->close_wanted || !(s->echo || s->close_on_eof))
        return;
    if (!sp__send_busy(s)) {
        sp__sock_close(s, reason, 0);
        return;
    }
    s->close_wanted = 1;
    s->drain_reason = reason;
    sp__send_stop_repeats(s);
}

void sp__stream_eof(struct sp_sock *s)
{
    s->reading = 0;
    if (s->peers & SP_PEER_FIN)
        return;
    s->peers = (s->peers & ~SP_PEER_FIN_WAITING) | SP_PEER_FIN;
    if (sp__wants(s->eng, SP_EV_EOF)) {
        struct sp_event ev = {.type = SP_EV_EOF, .unread = -1};
        sp__emit(s->eng, s, &ev);
    }
    sp__tls_eof(s);
    sp__framer_finish(s);
    sp__kcheck(s);
    sp__kactive(s);
    close_after_eof(s);
}

/* A read failed: the socket is over. A reset is the peer's doing. */
void sp__stream_read_failed(struct sp_sock *s, int uverr)
{
    s->reading = 0;
    s->peers &= ~(SP_PEER_FIN_WAITING | SP_PEER_RST_WAITING);
    if (uverr == UV_ECONNRESET)
        s->peers |= SP_PEER_RST;
    sp__emit_error(s, "recv", uverr);
    sp__kcheck(s);
    sp__sock_close(s, uverr == UV_ECONNRESET ? "peer reset" : "recv failed", 0);
}

/* Reads after libuv said EOF, until the kernel says what ended the stream:
 * recv() returns 0 after the peer's FIN, and fails with ECONNRESET (once)
 * after a reset, also when the reset came with data. Bounded: a peer that
 * keeps sending is read by libuv again. */
static void read_to_end(struct sp_sock *s)
{
    int fd = sp__sock_fd(s);
    for (int i = 0; i < 64 && fd >= 0 && !s->closed && !s->paused; i++) {
        urgent_check(s);
        if (s->urg_pending) {
            urgent_show(s);
            if (s->closed)
                return;
        }
        ssize_t r = recv(fd, s->eng->rbuf, s->recvsize, MSG_DONTWAIT);
        if (r > 0) {
            sp__sock_data(s, s->eng->rbuf, (size_t)r, 0, -1, NULL, 0);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            sp__stream_read_failed(s, -errno);
            return;
        }
        if (r == 0 || sp__kstate_inq(fd) <= 0)
            sp__stream_eof(s);
        break;
    }
    /* Paused meanwhile, or more data: libuv reads the rest when reading. */
    if (!s->closed && !(s->peers & SP_PEER_FIN))
        sp__sock_read_start(s);
}

/* One call per read(2). libuv 1.44 (uv__read) calls alloc, read(2) and this
 * callback in turn, and reads again only while a read filled the whole
 * buffer (at most 32 times per readiness), so each n > 0 is exactly what one
 * read(2) returned. n == 0 is its EAGAIN; UV_EOF is a read that returned 0,
 * or POLLHUP after a short read, which is also how a reset that came with
 * data looks: read_to_end() asks the kernel which it was. */
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct sp_sock *s = st->data;
    if (s->urg_pending) {
        /* The urgent byte came before this read's bytes in the stream. */
        urgent_show(s);
        if (s->closed)
            return;
    }
    if (n > 0) {
        sp__sock_data(s, (const unsigned char *)buf->base, (size_t)n, 0, -1, NULL, 0);
        return;
    }
    if (n == 0) /* EAGAIN: libuv's way of saying nothing was read */
        return;
    if (n == UV_EOF) {
        if (s->ours & SP_OURS_SHUT_RD) {
            /* Our own SHUT_RD makes read(2) return 0: not the peer's FIN. */
            sp__stream_read_stop(s);
            return;
        }
        s->reading = 0;
        read_to_end(s);
        return;
    }
    sp__stream_read_failed(s, (int)n);
}

int sp__stream_read_start(struct sp_sock *s)
{
    int r = uv_read_start(&s->u.st, on_alloc, on_read);
    if (r == 0)
        s->reading = 1;
    return r;
}

void sp__stream_read_stop(struct sp_sock *s)
{
    uv_read_stop(&s->u.st);
    s->reading = 0;
}

/* shutdown(2) returned: a TCP FIN is sent only after the bytes queued
 * before it. The kernel says how many there are (SIOCOUTQ counts the FIN
 * too) and whether the FIN went out yet (SIOCOUTQNSD is 0 once it did). */
static void shutdown_done(struct sp_sock *s, int status)
{
    if (status == UV_ECANCELED || s->closed)
        return;
    if (status < 0) {
        sp__emit_error(s, "shutdown", status);
        return;
    }
    s->ours |= SP_OURS_SHUT_WR;
    int64_t ahead = -1;
    if (s->kind == SP_SOCK_TCP) {
        int fd = sp__sock_fd(s);
        int64_t outq = sp__kstate_outq(fd), notsent = sp__kstate_notsent(fd);
        ahead = notsent > 0 && outq > 1 ? outq - 1 : 0;
        if (ahead > 0)
            s->ours |= SP_OURS_FIN_QUEUED;
    }
    if (sp__wants(s->eng, SP_EV_SHUTDOWN)) {
        struct sp_event ev = {.type = SP_EV_SHUTDOWN, .unread = -1, .unsent = ahead};
        ev.how = s->shut_how == SP_SHUT_BOTH ? "both" : "wr";
        sp__emit(s->eng, s, &ev);
    }
    if (ahead > 0 && !s->closed) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "shutdown(SHUT_WR) called: the FIN is queued behind %lld unsent %s (SIOCOUTQ)",
                 (long long)ahead, ahead == 1 ? "byte" : "bytes");
        sp__emit_notice(s, msg);
    }
    sp__kcheck(s);
    sp__kactive(s);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct sp_sock *s = req->data;
    s->sreq = NULL;
    free(req);
    shutdown_done(s, status);
}

static int start_shutdown(struct sp_sock *s, char *err, size_t errlen);

/* Our close_notify is written: the FIN follows it. */
static void shutdown_after_notify(struct sp_sock *s)
{
    s->ours &= ~SP_OURS_SHUT_WAIT;
    if (s->closed)
        return;
    int r = start_shutdown(s, NULL, 0);
    if (r < 0)
        sp__emit_error(s, "shutdown", r);
}

static int start_shutdown(struct sp_sock *s, char *err, size_t errlen)
{
    if (s->hkind == SP_H_POLL) {
        /* Seqpacket: no libuv stream, and our own writes are done (the
         * caller waited for them): shutdown(2) now. */
        int r = shutdown(s->fd, SHUT_WR) == 0 ? 0 : -errno;
        if (r < 0) {
            sp__seterr(err, errlen, "shutdown: %s", strerror(-r));
            return r;
        }
        shutdown_done(s, 0);
        return 0;
    }
    /* TLS says goodbye first: close_notify, then the FIN once it is
     * written. */
    if (sp__tls_close_notify(s, shutdown_after_notify) > 0) {
        s->ours |= SP_OURS_SHUT_WAIT;
        return 0;
    }
    uv_shutdown_t *req = sp_xmalloc(sizeof *req);
    req->data = s;
    int r = uv_shutdown(req, &s->u.st, on_shutdown);
    if (r < 0) {
        free(req);
        sp__seterr(err, errlen, "shutdown: %s", uv_strerror(r));
        return r;
    }
    s->sreq = req;
    return 0;
}

/* Our write queue is written: the shutdown that waited for it goes now. */
static void shutdown_drained(struct sp_sock *s)
{
    s->ours &= ~SP_OURS_SHUT_WAIT;
    int r = start_shutdown(s, NULL, 0);
    if (r < 0)
        sp__emit_error(s, "shutdown", r);
}

/* A shutdown wr while sends are still queued waits for them (libuv would
 * refuse the later writes of a --delay or --repeat send), and says so: the
 * FIN cannot leave before them. */
static void shutdown_wait(struct sp_sock *s, uint64_t dropped)
{
    size_t waiting = sp__send_unwritten(s);
    s->ours |= SP_OURS_SHUT_WAIT;
    s->on_drained = shutdown_drained;
    char msg[192];
    int n = snprintf(msg, sizeof msg,
                     "shutdown(SHUT_WR) waits for %zu %s still in our write queue: the FIN "
                     "follows them",
                     waiting, waiting == 1 ? "byte" : "bytes");
    if (dropped > 0 && n > 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, " (%llu later %s dropped)",
                 (unsigned long long)dropped, dropped == 1 ? "repetition" : "repetitions");
    sp__emit_notice(s, msg);
}

int sp__stream_shutdown(struct sp_sock *s, enum sp_shut how, char *err, size_t errlen)
{
    int want_wr =
        (how & SP_SHUT_WR) && !(s->ours & (SP_OURS_SHUT_WR | SP_OURS_SHUT_WAIT)) && s->sreq == NULL;
    int want_rd = (how & SP_SHUT_RD) && !(s->ours & SP_OURS_SHUT_RD);
    if (!want_wr && !want_rd) {
        sp__seterr(err, errlen, "socket %u is already shut down that way", s->id);
        return -EINVAL;
    }
    if (want_wr) {
        /* Writing ends here: repetitions still to come would fail. */
        uint64_t dropped = sp__send_stop_repeats(s);
        if (sp__send_busy(s)) {
            shutdown_wait(s, dropped);
        } else {
            int r = start_shutdown(s, err, errlen);
            if (r < 0)
                return r;
            if (dropped > 0) {
                char msg[96];
                snprintf(msg, sizeof msg, "shutdown(SHUT_WR): %llu later %s dropped",
                         (unsigned long long)dropped, dropped == 1 ? "repetition" : "repetitions");
                sp__emit_notice(s, msg);
            }
        }
        s->shut_how = how == SP_SHUT_BOTH ? SP_SHUT_BOTH : SP_SHUT_WR;
    }
    if (want_rd) {
        /* libuv has no read-side shutdown: shutdown(2) on its descriptor. */
        if (shutdown(sp__sock_fd(s), SHUT_RD) != 0) {
            int e = errno;
            sp__seterr(err, errlen, "shutdown rd: %s", strerror(e));
            if (!want_wr)
                return -e;
        } else {
            s->ours |= SP_OURS_SHUT_RD;
            sp__sock_read_stop(s);
            if (!want_wr && sp__wants(s->eng, SP_EV_SHUTDOWN)) {
                struct sp_event ev = {.type = SP_EV_SHUTDOWN, .unread = -1};
                ev.how = "rd";
                sp__emit(s->eng, s, &ev);
            }
        }
    }
    sp__kcheck(s);
    sp__kactive(s);
    return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct sp_sock *s = req->data;
    s->creq = NULL;
    free(req);
    if (status == UV_ECANCELED || s->closed)
        return;
    if (status < 0) {
        sp__sock_connect_failed(s, status);
        return;
    }
    sp__urgent_watch(s, sp__sock_fd(s));
    sp__sock_connected(s);
}

/* A connect whose result is known now is reported on the next loop turn,
 * like any other outcome. */
static void outcome_later(struct sp_sock *s, int uverr)
{
    s->outcome_err = uverr;
    sp__sock_timer(s, SP_T_OUTCOME, 0, sp__sock_outcome);
}

int sp__stream_connect(struct sp_sock *s, const struct sockaddr *sa, socklen_t salen, char *err,
                       size_t errlen)
{
    struct sp_engine *eng = s->eng;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        sp__seterr(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    if (sa->sa_family != AF_UNIX) {
        /* connect --bind, --reuseport, --v6only: a refusal creates nothing. */
        int r = sp__prebind_apply(&s->pre, fd, sa->sa_family, err, errlen);
        if (r < 0) {
            close(fd);
            return r;
        }
    }
    s->family = sa->sa_family;
    memcpy(&s->pa, sa, salen);
    if (sa->sa_family != AF_UNIX)
        sp__wire_mss(eng, fd);
    if (s->peer[0] == '\0' || sa->sa_family != AF_UNIX)
        s->peer_len = sp__sockaddr_text(sa, salen, s->peer);
    s->connecting = 1;
    if (sa->sa_family == AF_UNIX) {
        uv_pipe_init(&eng->loop, &s->u.pipe, 0);
        s->u.h.data = s;
        s->hkind = SP_H_PIPE;
        s->handle_open = 1;
        /* Unix connects finish (or fail) at once; libuv 1.44 cannot reach
         * abstract names, so the descriptor is ours and handed over. */
        int r = connect(fd, sa, salen);
        int e = errno;
        if (r != 0) {
            close(fd);
            outcome_later(s, -e);
            return 0;
        }
        r = uv_pipe_open(&s->u.pipe, fd);
        if (r != 0) {
            close(fd);
            outcome_later(s, r);
            return 0;
        }
        outcome_later(s, 0);
        return 0;
    }
    uv_tcp_init(&eng->loop, &s->u.tcp);
    s->u.h.data = s;
    s->hkind = SP_H_TCP;
    s->handle_open = 1;
    int r = uv_tcp_open(&s->u.tcp, fd);
    if (r != 0) {
        close(fd);
        outcome_later(s, r);
        return 0;
    }
    if (s->wire_want)
        sp__wire_want(s);
    s->creq = sp_xmalloc(sizeof *s->creq);
    s->creq->data = s;
    r = uv_tcp_connect(s->creq, &s->u.tcp, sa, on_connect);
    if (r != 0) {
        free(s->creq);
        s->creq = NULL;
        outcome_later(s, r);
        return 0;
    }
    /* Name resolution already started the clock for the whole connect. */
    if (s->tmode != SP_T_CONNECT)
        sp__sock_timer(s, SP_T_CONNECT, s->timeout_ms, sp__sock_connect_timeout);
    return 0;
}

int sp__unix_prepare(const struct sp_addr *addr, int socktype, int *replaced, char *err,
                     size_t errlen)
{
    *replaced = 0;
    const char *path = addr->path;
    if (path[0] == '@' || path[0] == '\0')
        return 0; /* abstract: nothing on disk */
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        sp__seterr(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    if (S_ISLNK(st.st_mode)) {
        sp__seterr(err, errlen, "%s is a symbolic link: refusing to replace it", path);
        return -EEXIST;
    }
    if (!S_ISSOCK(st.st_mode)) {
        sp__seterr(err, errlen, "%s exists and is not a socket: refusing to replace it", path);
        return -EEXIST;
    }
    /* A socket file nobody answers on is stale; anything else is in use. */
    struct sockaddr_storage ss;
    socklen_t len;
    int r = sp__addr_to_sockaddr(addr, &ss, &len, err, errlen);
    if (r < 0)
        return r;
    int fd = socket(AF_UNIX, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        sp__seterr(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    r = connect(fd, (struct sockaddr *)&ss, len);
    int e = errno;
    close(fd);
    if (r == 0 || e != ECONNREFUSED) {
        sp__seterr(err, errlen, "%s is a live socket (someone answers): refusing to replace it",
                   path);
        return -EADDRINUSE;
    }
    if (unlink(path) != 0) {
        e = errno;
        sp__seterr(err, errlen, "cannot remove stale socket %s: %s", path, strerror(e));
        return -e;
    }
    *replaced = 1;
    return 0;
}

/* Binds fd to a Unix path with mode 0600 and remembers the file so that
 * closing removes it (only if it is still the one we made). */
int sp__unix_bind(int fd, const struct sockaddr *sa, socklen_t salen, char *path, uint64_t *dev,
                  uint64_t *ino)
{
    const struct sockaddr_un *su = (const struct sockaddr_un *)sa;
    /* The file's mode comes from the umask at bind time. */
    mode_t old = umask(0177);
    int r = bind(fd, sa, salen);
    int e = errno;
    umask(old);
    if (r != 0)
        return -e;
    path[0] = '\0';
    if (su->sun_path[0] != '\0') {
        struct stat st;
        snprintf(path, SP_ADDR_PATH_MAX, "%s", su->sun_path);
        if (stat(path, &st) == 0) {
            *dev = st.st_dev;
            *ino = st.st_ino;
        }
    }
    return 0;
}

void sp__unix_unlink(struct sp_sock *s)
{
    struct stat st;
    s->unlink_path = 0;
    if (s->path[0] != '\0' && lstat(s->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_dev == s->path_dev && st.st_ino == s->path_ino)
        unlink(s->path);
}

static void listener_io(struct sp_sock *s);
static void listener_retry(struct sp_sock *s);

static void on_listener(uv_poll_t *p, int status, int events)
{
    struct sp_sock *s = p->data;
    if (status < 0) {
        sp__emit_error(s, "accept", status);
        return;
    }
    listener_io(s);
}

int sp__listener_start(struct sp_sock *s)
{
    int r = uv_poll_start(&s->u.poll, UV_READABLE, on_listener);
    if (r == 0)
        s->reading = 1;
    return r;
}

void sp__listener_stop(struct sp_sock *s)
{
    uv_poll_stop(&s->u.poll);
    s->reading = 0;
}

int sp__stream_listen(struct sp_engine *eng, struct sp_sock *s, const struct sockaddr *sa,
                      socklen_t salen, enum sp_sock_kind kind, int backlog,
                      const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen)
{
    int type = kind == SP_SOCK_SEQPACKET_LISTEN ? SOCK_SEQPACKET : SOCK_STREAM;
    int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        sp__seterr(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    char path[SP_ADDR_PATH_MAX] = "";
    uint64_t dev = 0, ino = 0;
    int r;
    char where[SP_ADDR_TEXT_MAX];
    sp_sockaddr_format(sa, salen, where, sizeof where);
    if (sa->sa_family == AF_UNIX) {
        r = sp__unix_bind(fd, sa, salen, path, &dev, &ino);
    } else {
        int one = 1;
        /* A restarted listener must not wait out old TIME_WAIT connections. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sp_prebind own;
        const struct sp_prebind *pb = s != NULL ? &s->pre : &own;
        char why[256] = "";
        r = s != NULL ? 0 : sp__prebind_fill(&own, opts, why, sizeof why);
        if (r == 0)
            r = sp__prebind_apply(pb, fd, sa->sa_family, why, sizeof why);
        if (r < 0) {
            sp__seterr(err, errlen, "listen on %s: %s", where, why);
            close(fd);
            return r;
        }
        sp__wire_mss(eng, fd);
        r = bind(fd, sa, salen) == 0 ? 0 : -errno;
    }
    if (r == 0 && listen(fd, backlog) != 0)
        r = -errno;
    if (r < 0) {
        sp__seterr(err, errlen, "listen on %s: %s", where, strerror(-r));
        close(fd);
        if (path[0] != '\0')
            unlink(path);
        return r;
    }
    int fresh = s == NULL;
    if (fresh)
        s = sp__sock_new(eng, kind, opts);
    r = uv_poll_init_socket(&eng->loop, &s->u.poll, fd);
    if (r != 0) {
        sp__seterr(err, errlen, "listen on %s: %s", where, uv_strerror(r));
        close(fd);
        if (path[0] != '\0')
            unlink(path);
        if (fresh)
            sp__sock_discard(s);
        return r;
    }
    s->u.h.data = s;
    s->hkind = SP_H_POLL;
    s->fd = fd;
    s->handle_open = 1;
    s->established = 1;
    s->backlog = (uint64_t)backlog;
    if (id != NULL)
        *id = s->id;
    sp__sock_bound(s, fd, sa, path, dev, ino, SP_EV_LISTENING,
                   "listening on every interface: other machines can connect");
    if (s->wire_want)
        sp__wire_want(s);
    sp__kcheck(s);
    sp__sock_read_start(s);
    return 0;
}

/* Wraps one accepted descriptor in a new socket. */
static void accept_one(struct sp_sock *l, int fd)
{
    struct sp_engine *eng = l->eng;
    enum sp_sock_kind kind = l->kind == SP_SOCK_TCP_LISTEN         ? SP_SOCK_TCP
                             : l->kind == SP_SOCK_SEQPACKET_LISTEN ? SP_SOCK_SEQPACKET
                                                                   : SP_SOCK_UNIX;
    struct sp_sock *c = sp__sock_new(eng, kind, NULL);
    c->parent = l->id;
    c->recvsize = l->recvsize;
    c->echo = l->echo;
    c->close_on_eof = l->close_on_eof;
    if (l->spec.kind != SP_FRAME_RAW)
        sp__framer_set(c, &l->spec);
    int r;
    if (kind == SP_SOCK_TCP) {
        uv_tcp_init(&eng->loop, &c->u.tcp);
        c->hkind = SP_H_TCP;
        r = uv_tcp_open(&c->u.tcp, fd);
    } else if (kind == SP_SOCK_SEQPACKET) {
        /* libuv has no seqpacket handle: a poll on our own descriptor. */
        c->hkind = SP_H_POLL;
        r = uv_poll_init_socket(&eng->loop, &c->u.poll, fd);
        if (r == 0)
            c->fd = fd;
    } else {
        uv_pipe_init(&eng->loop, &c->u.pipe, 0);
        c->hkind = SP_H_PIPE;
        r = uv_pipe_open(&c->u.pipe, fd);
    }
    c->u.h.data = c;
    /* A poll that failed to start holds nothing to close. */
    c->handle_open = r == 0 || c->hkind != SP_H_POLL;
    l->accepted++;
    if (r != 0) {
        close(fd);
        sp__emit_error(c, "accept", r);
        sp__sock_close(c, "accept failed", 0);
        return;
    }
    c->established = 1;
    sp__sock_names(c, fd);
    if (kind == SP_SOCK_TCP) {
        sp__urgent_watch(c, fd);
        sp__wire_accepted(l, c);
    }
    if (sp__wants(eng, SP_EV_ACCEPTED)) {
        struct sp_event ev = {.type = SP_EV_ACCEPTED, .unread = -1};
        ev.local = c->local;
        ev.peer = c->peer;
        sp__emit(eng, c, &ev);
    }
    if (c->closed)
        return;
    sp__tls_accepted(c, l);
    sp__kcheck(c);
    sp__sock_read_start(c);
}

static void listener_io(struct sp_sock *s)
{
    for (int i = 0; i < ACCEPT_BATCH && !s->closed && !s->paused; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (s->tmode == SP_T_ACCEPT) {
                /* Unreachable: accepting resumes only from the retry timer. */
                sp__sock_timer_stop(s);
            }
            if (s->accept_starved) {
                s->accept_starved = 0;
                sp__emit_notice(s, "accepting again: descriptors are available");
            }
            accept_one(s, fd);
            continue;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO)
            continue;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            /* The connection stays in the backlog. Stop polling (readiness
             * would spin the loop) and try again shortly. */
            if (!s->accept_starved) {
                s->accept_starved = 1;
                sp__emit_error(s, "accept", -e);
            }
            uv_poll_stop(&s->u.poll);
            s->reading = 0;
            sp__sock_timer(s, SP_T_ACCEPT, ACCEPT_RETRY_MS, listener_retry);
            return;
        }
        sp__emit_error(s, "accept", -e);
        return;
    }
}

static void listener_retry(struct sp_sock *s)
{
    if (s->closed || s->paused)
        return;
    if (sp__listener_start(s) == 0)
        listener_io(s);
}
