/* Sending: one `send` becomes an op holding its wire bytes (framing applied),
 * cut into pieces that are each one write (several buffers, so head, parts
 * and tail go out in one sendmsg), one datagram, or one seqpacket record.
 * Writes on connected sockets are our own calls (engine_write.c): a piece
 * the kernel takes in parts takes several, and the send event lists what
 * each returned (`calls`).
 * Repetitions reuse the same wire bytes. Echo is an op of one piece; on a
 * stream, bytes echoed while a write is in flight gather in one waiting op
 * (not yet handed to the kernel) that goes out when the writes before it
 * are done, so small reads do not make one op each. The write-queue cap
 * counts the bookkeeping too (s->qover), not only the bytes. */
#include "engine_int.h"
#include "sockpit/proto/cmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Writes of one op handed to the kernel at once (split/chunks without delay). */
#define MAX_INFLIGHT 1024
/* More pieces than this is a mistake (--split 1 on a large file). */
#define PIECES_MAX (1024u * 1024)
/* A waiting echo op takes at most this many bytes; more start another, so
 * a draining queue frees memory (and resumes reading) in steps. */
#define ECHO_OP_MAX (1024u * 1024)
/* DATA words of one --once sendmsg() (a line has at most 256 words). */
#define ONCE_PARTS_MAX 256

enum op_tmode { OT_NONE, OT_PIECE, OT_REP, OT_DGDONE };

struct seg {
    size_t off, len;
};

/* One datagram handed to sendmsg: wire[a .. b), and what the kernel said. */
struct dg_sent {
    size_t a, b;
    int err;
};

struct sp_send_op {
    TAILQ_ENTRY(sp_send_op) entry; /* in s->ops while linked */
    struct sp_sock *s;
    unsigned char *wire;
    size_t wire_len;
    struct seg *segs;
    size_t nsegs;
    size_t *bounds; /* piece i is wire[bounds[i] .. bounds[i + 1]) */
    size_t split;   /* > 0: piece i starts at i * split instead (no bounds kept) */
    size_t npieces;
    size_t next_piece;
    unsigned inflight;
    uint32_t writes; /* write calls this repetition made */
    int64_t *calls;  /* the first SP_CALLS_MAX of their returns; NULL while call1 holds the one */
    size_t ncalls;
    int64_t call1;
    uint64_t reps_left, delay_ms, every_ms;
    uint64_t seq, off;
    size_t acked; /* bytes of this repetition the kernel took, not yet in a send event */
    struct sockaddr_storage to;
    socklen_t tolen;
    uv_timer_t *timer;
    enum op_tmode tmode;
    /* Datagram sends finish at once; their outcomes are reported from a
     * timer so that events never precede the call that caused them. Each
     * datagram has its own: a send event, or an error. */
    struct dg_sent *dg;
    size_t dg_n, dg_cap;
    size_t dg_first; /* the next one to report */
    int hold;        /* > 0 while a function on the stack uses the op */
    size_t over;     /* bookkeeping counted in s->qover while the op lives */
    size_t wire_cap; /* echo ops: the size of their own growable wire */
    unsigned done : 1, failed : 1, freeing : 1, repeat : 1, linked : 1;
    unsigned waiting : 1; /* echo bytes gathered, not yet handed to the kernel */
};

struct sp_wreq {
    struct sp__write w; /* first: on_done gets it back; datagrams use sendmsg directly */
    struct sp_send_op *op;
    size_t len;
    size_t over; /* counted in s->qover until the write completes */
    /* Writes in the order they are written (sp__send_settle). */
    TAILQ_ENTRY(sp_wreq) qentry;
    unsigned queued : 1, settled : 1;
};

static void op_unlink(struct sp_send_op *op)
{
    if (!op->linked)
        return;
    TAILQ_REMOVE(&op->s->ops, op, entry);
    op->linked = 0;
}

static void op_free(struct sp_send_op *op)
{
    if (op->wire_cap > 0)
        free(op->wire);
    free(op->calls);
    free(op->dg);
    free(op);
}

static void op_timer_closed(uv_handle_t *h)
{
    struct sp_send_op *op = h->data;
    free(h);
    op_free(op);
}

static void op_maybe_free(struct sp_send_op *op)
{
    if (op->hold > 0 || !op->done || op->inflight > 0 || op->freeing)
        return;
    op->freeing = 1;
    op->s->qover -= op->over;
    op->over = 0;
    op_unlink(op);
    if (op->timer != NULL)
        uv_close((uv_handle_t *)op->timer, op_timer_closed);
    else
        op_free(op);
}

static void op_timer_cb(uv_timer_t *t);

/* Where piece i of op starts (i == npieces: the end). */
static size_t piece_start(const struct sp_send_op *op, size_t i)
{
    if (op->split == 0)
        return op->bounds[i];
    return i < op->npieces ? i * op->split : op->wire_len;
}

static void op_timer(struct sp_send_op *op, enum op_tmode mode, uint64_t ms)
{
    if (op->timer == NULL) {
        op->timer = sp_xmalloc(sizeof *op->timer);
        uv_timer_init(&op->s->eng->loop, op->timer);
        op->timer->data = op;
        op->over += sizeof *op->timer;
        op->s->qover += sizeof *op->timer;
    }
    op->tmode = mode;
    sp__timer_start(op->timer, op_timer_cb, ms, 0);
}

/* Gives up the pieces not yet written. */
static void op_abandon(struct sp_send_op *op)
{
    struct sp_sock *s = op->s;
    if (op->next_piece < op->npieces) {
        s->queued -= op->wire_len - piece_start(op, op->next_piece);
        op->next_piece = op->npieces;
    }
    if (op->timer != NULL)
        uv_timer_stop(op->timer);
    op->tmode = OT_NONE;
    op->done = 1;
}

/* Memory the write queue holds, as the cap counts it. */
static size_t qmem(const struct sp_sock *s)
{
    return s->queued + s->qover;
}

static void resume_after_echo(struct sp_sock *s)
{
    if (s->echo_blocked && qmem(s) <= SP_WRITE_QUEUE_MAX / 2) {
        s->echo_blocked = 0;
        sp__sock_read_start(s);
    }
}

static void check_drained(struct sp_sock *s)
{
    if (s->closed || s->queued != 0)
        return;
    if (s->close_wanted) {
        sp__sock_close(s, s->drain_reason != NULL ? s->drain_reason : "closed by us", 0);
        return;
    }
    void (*cb)(struct sp_sock *) = s->on_drained;
    s->on_drained = NULL;
    if (cb != NULL)
        cb(s);
}

/* A datagram the kernel refused: says which (its size), and the socket
 * stays usable. */
static void dgram_error(struct sp_sock *s, int status, size_t len)
{
    if (!sp__wants(s->eng, SP_EV_ERROR))
        return;
    char msg[160];
    snprintf(msg, sizeof msg, "datagram of %zu bytes not sent: %s", len, uv_strerror(status));
    struct sp_event ev = {.type = SP_EV_ERROR, .unread = -1};
    ev.op = "send";
    ev.code = sp__err_name(status);
    ev.message = msg;
    sp__emit(s->eng, s, &ev);
}

/* A stream write failed: report it once; a stream whose peer is gone is
 * over. (A datagram's failure is its own: dgram_report.) */
static void op_fail(struct sp_send_op *op, int status)
{
    struct sp_sock *s = op->s;
    int first = !op->failed;
    op->failed = 1;
    op_abandon(op);
    if (!first || status == UV_ECANCELED || s->closed)
        return;
    sp__emit_error(s, "send", status);
    int gone = status == UV_EPIPE || status == UV_ECONNRESET;
    /* A record the kernel refused (EMSGSIZE) is that record's failure; a
     * write we could not even start (no descriptor left to watch it) was
     * never the connection's. */
    int ends = gone || (s->kind != SP_SOCK_SEQPACKET && status != UV_EMFILE && status != UV_ENFILE);
    if (sp_kind_is_stream(s->kind) && !s->closed && ends) {
        if (gone)
            s->peers |= SP_PEER_RST;
        sp__kcheck(s);
        sp__sock_close(s, gone ? "peer reset" : "send failed", 0);
    }
}

static void issue(struct sp_send_op *op);
static void echo_flush(struct sp_sock *s);

static void rep_start(struct sp_send_op *op)
{
    struct sp_sock *s = op->s;
    if (s->closed || (op->repeat && s->close_wanted)) {
        op->done = 1;
        return;
    }
    if (op->repeat && qmem(s) + op->wire_len > SP_WRITE_QUEUE_MAX) {
        /* An error, not a notice: what the user asked for is not done, and
         * whoever waits for the last repetition must learn that it never
         * comes. */
        if (sp__wants(s->eng, SP_EV_ERROR)) {
            struct sp_event ev = {.type = SP_EV_ERROR, .unread = -1};
            ev.op = "send";
            ev.code = "ENOBUFS";
            ev.message = "write queue full (8 MiB): the remaining repetitions are dropped";
            sp__emit(s->eng, s, &ev);
        }
        op->done = 1;
        return;
    }
    /* A datagram takes its number and offset once the kernel took it: one
     * it refused is no send. */
    if (!sp_kind_is_dgram(s->kind)) {
        op->seq = ++s->sends;
        op->off = s->out_issued;
        s->out_issued += op->wire_len;
    }
    s->queued += op->wire_len;
    op->next_piece = 0;
    op->writes = 0;
    op->ncalls = 0;
    op->acked = 0;
    issue(op);
}

/* A datagram the kernel took, wire[a .. b): its own send event, with the
 * next sequence number and offset (one it refused takes neither). */
static void emit_dgram_send(struct sp_send_op *op, size_t a, size_t b)
{
    struct sp_sock *s = op->s;
    uint64_t seq = ++s->sends, off = s->out_issued;
    s->out_issued += b - a;
    if (!sp__wants(s->eng, SP_EV_SEND))
        return;
    struct sp_event ev = {.type = SP_EV_SEND, .unread = -1};
    ev.seq = seq;
    ev.off = off;
    ev.len = b - a;
    ev.data = op->wire + a;
    ev.data_len = b - a;
    ev.writes = 1;
    /* Where it went: --to's address (or the sender an echo answers), else
     * the connected peer. */
    char to[SP_ADDR_TEXT_MAX];
    if (op->tolen > 0) {
        ev.peer_len = sp__sockaddr_text((struct sockaddr *)&op->to, op->tolen, to);
        ev.peer = to;
    } else if (s->peer_len > 0) {
        ev.peer = s->peer;
        ev.peer_len = s->peer_len;
    }
    sp__emit(s->eng, s, &ev);
}

/* Reports the datagrams sent since the last report, each with its own
 * outcome, in order. A subscriber may close the socket meanwhile, which
 * reports the rest from here (sp__send_settle) before `closed`. */
static void dgram_report(struct sp_send_op *op)
{
    struct sp_sock *s = op->s;
    while (op->dg_first < op->dg_n) {
        struct dg_sent d = op->dg[op->dg_first++];
        op->inflight--;
        s->queued -= d.b - d.a;
        if (d.err == 0) {
            s->bytes_out += d.b - d.a;
            emit_dgram_send(op, d.a, d.b);
        } else {
            dgram_error(s, d.err, d.b - d.a);
        }
    }
    op->dg_first = op->dg_n = 0;
}

/* The send event for the first len bytes of op's wire (all of them unless
 * a close cut the send short). */
static void emit_send(struct sp_send_op *op, size_t len)
{
    struct sp_sock *s = op->s;
    op->acked = 0;
    if (!sp__wants(s->eng, SP_EV_SEND))
        return;
    struct sp_event ev = {.type = SP_EV_SEND, .unread = -1};
    ev.seq = op->seq;
    ev.off = op->off;
    ev.len = len;
    ev.data = op->wire;
    ev.data_len = len;
    ev.writes = op->writes;
    ev.calls = op->calls != NULL ? op->calls : &op->call1;
    ev.ncalls = op->ncalls;
    sp__emit(s->eng, s, &ev);
}

/* n pieces of op finished: bytes handed over, ok of them written. */
static void pieces_done(struct sp_send_op *op, size_t n, size_t bytes, size_t ok, int status)
{
    struct sp_sock *s = op->s;
    op->hold++;
    op->inflight -= (unsigned)n;
    s->queued -= bytes;
    s->bytes_out += ok;
    op->acked += ok;
    if (status < 0)
        op_fail(op, status);
    if (op->done) {
        /* Cancelled, failed, or the socket closed meanwhile. */
    } else if (op->next_piece < op->npieces) {
        if (op->delay_ms == 0)
            issue(op);
        else if (op->inflight == 0)
            op_timer(op, OT_PIECE, op->delay_ms);
    } else if (op->inflight == 0) {
        if (!sp_kind_is_dgram(s->kind))
            emit_send(op, op->wire_len);
        if (s->kind == SP_SOCK_TCP && !s->closed)
            sp__kactive(s);
        if (!op->done && op->reps_left > 0 && !s->closed && !s->close_wanted) {
            op->reps_left--;
            op->repeat = 1;
            op_timer(op, OT_REP, op->every_ms);
        } else {
            op->done = 1;
        }
    }
    op->hold--;
    op_maybe_free(op);
    if (!s->closed) {
        if (TAILQ_EMPTY(&s->wq))
            echo_flush(s);
        resume_after_echo(s);
        check_drained(s);
    }
}

/* One stream write request finished. */
static void wreq_done(struct sp_wreq *wr, int status)
{
    struct sp_send_op *op = wr->op;
    struct sp_sock *s = op->s;
    size_t len = wr->len;
    /* Settled at close: its bytes were counted then. */
    size_t ok = !wr->settled ? wr->w.done : 0;
    if (wr->queued) {
        TAILQ_REMOVE(&s->wq, wr, qentry);
        s->wbytes -= len;
    }
    s->qover -= wr->over;
    free(wr);
    pieces_done(op, 1, len, ok, status);
}

static void on_written(struct sp__write *w, int status)
{
    wreq_done((struct sp_wreq *)w, status);
}

/* One write call of a piece: counted, and its return kept for the event. */
static void on_call(struct sp__write *w, int64_t ret)
{
    struct sp_send_op *op = ((struct sp_wreq *)w)->op;
    op->writes++;
    if (op->ncalls == SP_CALLS_MAX)
        return;
    if (op->ncalls == 0 && op->calls == NULL) {
        /* Most sends take one call: no array for it. */
        op->call1 = ret;
        op->ncalls = 1;
        return;
    }
    if (op->calls == NULL) {
        op->calls = sp_xreallocarray(NULL, SP_CALLS_MAX, sizeof *op->calls);
        op->calls[0] = op->call1;
        op->over += SP_CALLS_MAX * sizeof *op->calls;
        op->s->qover += SP_CALLS_MAX * sizeof *op->calls;
    }
    op->calls[op->ncalls++] = ret;
}

/* Hands wire[a .. b) to the kernel as one write call. */
static int write_piece(struct sp_send_op *op, size_t a, size_t b)
{
    struct sp_sock *s = op->s;
    uv_buf_t small[8];
    uv_buf_t *bufs = op->nsegs <= 8 ? small : sp_xreallocarray(NULL, op->nsegs, sizeof *bufs);
    unsigned nb = 0;
    for (size_t i = 0; i < op->nsegs; i++) {
        size_t lo = op->segs[i].off > a ? op->segs[i].off : a;
        size_t end = op->segs[i].off + op->segs[i].len;
        size_t hi = end < b ? end : b;
        if (lo < hi)
            bufs[nb++] = uv_buf_init((char *)op->wire + lo, (unsigned)(hi - lo));
    }
    if (nb == 0) /* an empty datagram */
        bufs[nb++] = uv_buf_init((char *)op->wire, 0);
    int r = 0;
    if (sp_kind_is_dgram(s->kind)) {
        /* Sent here, one sendmsg per datagram, for UDP too: libuv's UDP
         * queue sends a batch with one sendmmsg and gives every datagram in
         * it the first one's error (libuv #3129), so one bad datagram
         * failed the good ones queued with it. */
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        if (op->tolen > 0) {
            msg.msg_name = &op->to;
            msg.msg_namelen = op->tolen;
        }
        msg.msg_iov = (struct iovec *)bufs;
        msg.msg_iovlen = nb;
        ssize_t n;
        do
            n = sendmsg(sp__sock_fd(s), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (op->dg_n == op->dg_cap) {
            size_t grow = op->dg_cap ? op->dg_cap : 4;
            op->dg_cap += grow;
            op->dg = sp_xreallocarray(op->dg, op->dg_cap, sizeof *op->dg);
            op->over += grow * sizeof *op->dg;
            s->qover += grow * sizeof *op->dg;
        }
        op->dg[op->dg_n++] = (struct dg_sent){a, b, n < 0 ? -errno : 0};
        if (op->tmode == OT_NONE)
            op_timer(op, OT_DGDONE, 0);
        op->writes++;
    } else {
        /* The buffers follow the request in one allocation (uv_buf_t is
         * laid out as struct iovec on Unix). */
        struct sp_wreq *wr = sp_xcalloc(1, sizeof *wr + nb * sizeof(struct iovec));
        struct iovec *iov = (struct iovec *)(wr + 1);
        memcpy(iov, bufs, nb * sizeof *iov);
        wr->op = op;
        wr->len = b - a;
        wr->w.iov = iov;
        wr->w.iovcnt = (int)nb;
        wr->w.on_call = on_call;
        wr->w.on_done = on_written;
        /* TLS: the plaintext is encrypted and the ciphertext written; the
         * request completes when that write does. */
        r = s->tls != NULL ? sp__tls_write(s, &wr->w) : sp__write_push(s, &wr->w);
        if (r != 0) {
            free(wr);
            goto out;
        }
        wr->queued = 1;
        TAILQ_INSERT_TAIL(&s->wq, wr, qentry);
        s->wbytes += wr->len;
        wr->over = sizeof *wr + nb * sizeof *iov;
        s->qover += wr->over;
    }
    op->inflight++;
out:
    if (bufs != small)
        free(bufs);
    return r;
}

static void issue(struct sp_send_op *op)
{
    while (!op->done && op->next_piece < op->npieces) {
        if (op->delay_ms > 0 && op->inflight > 0)
            return;
        if (op->inflight >= MAX_INFLIGHT)
            return;
        size_t a = piece_start(op, op->next_piece), b = piece_start(op, op->next_piece + 1);
        op->next_piece++;
        int r = write_piece(op, a, b);
        if (r < 0) {
            op->s->queued -= b - a;
            op_fail(op, r);
            return;
        }
        if (op->delay_ms > 0)
            return;
    }
}

static void op_timer_cb(uv_timer_t *t)
{
    struct sp_send_op *op = t->data;
    enum op_tmode mode = op->tmode;
    op->tmode = OT_NONE;
    op->hold++;
    switch (mode) {
    case OT_PIECE:
        issue(op);
        break;
    case OT_REP:
        rep_start(op);
        break;
    case OT_DGDONE: {
        /* A refused datagram ends nothing: the pieces after it still go. */
        dgram_report(op);
        pieces_done(op, 0, 0, 0, 0);
        break;
    }
    case OT_NONE:
        break;
    }
    op->hold--;
    op_maybe_free(op);
}

/* Datagrams sent but not reported yet when the socket closes: the kernel
 * has them (or refused them) all the same. */
static void settle_dgrams(struct sp_sock *s)
{
    struct sp_send_op *op;
    TAILQ_FOREACH(op, &s->ops, entry) {
        dgram_report(op);
    }
}

void sp__send_settle(struct sp_sock *s)
{
    if (sp_kind_is_dgram(s->kind)) {
        settle_dgrams(s);
        return;
    }
    if (!sp_kind_is_stream(s->kind) || TAILQ_EMPTY(&s->wq))
        return;
    /* Our own calls say what the kernel took of each write. */
    struct sp_wreq *wr;
    TAILQ_FOREACH(wr, &s->wq, qentry) {
        size_t n = wr->w.done;
        wr->settled = 1;
        wr->op->acked += n;
        s->bytes_out += n;
    }
    struct sp_send_op *op;
    TAILQ_FOREACH(op, &s->ops, entry) {
        if (op->acked == 0)
            continue;
        size_t n = op->acked;
        if (n < op->wire_len) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "send #%llu: the kernel took %zu of its %zu bytes before the close; the "
                     "rest was dropped",
                     (unsigned long long)op->seq, n, op->wire_len);
            sp__emit_notice(s, msg);
        }
        emit_send(op, n);
    }
}

size_t sp__send_unwritten(struct sp_sock *s)
{
    return s->queued - s->wbytes + sp__write_pending(s);
}

void sp__send_cancel_all(struct sp_sock *s)
{
    /* The writes in flight end first (cancelled), as libuv's did on close. */
    sp__write_close(s);
    struct sp_send_op *op, *next;
    for (op = TAILQ_FIRST(&s->ops); op != NULL; op = next) {
        next = TAILQ_NEXT(op, entry);
        op_abandon(op);
        op_maybe_free(op);
    }
}

uint64_t sp__send_stop_repeats(struct sp_sock *s)
{
    struct sp_send_op *op, *next;
    uint64_t dropped = 0;
    TAILQ_FOREACH(op, &s->ops, entry) {
        dropped += op->reps_left;
        op->reps_left = 0;
        if (op->tmode == OT_REP) {
            uv_timer_stop(op->timer);
            op->tmode = OT_NONE;
            op->done = 1;
            dropped++;
        }
    }
    /* Ops finished that way free themselves now. */
    for (op = TAILQ_FIRST(&s->ops); op != NULL; op = next) {
        next = TAILQ_NEXT(op, entry);
        op_maybe_free(op);
    }
    return dropped;
}

int sp__send_busy(const struct sp_sock *s)
{
    return s->queued > 0;
}

/* What an op of nsegs segments and npieces pieces costs besides its bytes. */
static size_t op_overhead(size_t nsegs, size_t npieces)
{
    return sizeof(struct sp_send_op) + nsegs * sizeof(struct seg) + (npieces + 1) * sizeof(size_t);
}

/* A new op at the end of the socket's list. wire_cap > 0: the wire is a
 * separate buffer of that size (echo ops, which grow), else it follows the
 * op in the same allocation. */
static struct sp_send_op *op_alloc(struct sp_sock *s, size_t nsegs, size_t npieces, size_t wire_len,
                                   size_t wire_cap)
{
    size_t over = op_overhead(nsegs, npieces);
    struct sp_send_op *op = sp_xcalloc(1, over + (wire_cap > 0 ? 0 : wire_len));
    op->s = s;
    op->segs = (struct seg *)(op + 1);
    op->bounds = (size_t *)(op->segs + nsegs);
    if (wire_cap > 0) {
        op->wire = sp_xmalloc(wire_cap);
        op->wire_cap = wire_cap;
        over += wire_cap - wire_len;
    } else {
        op->wire = (unsigned char *)(op->bounds + npieces + 1);
    }
    op->wire_len = wire_len;
    op->npieces = npieces;
    op->over = over;
    s->qover += over;
    TAILQ_INSERT_TAIL(&s->ops, op, entry);
    op->linked = 1;
    return op;
}

static void op_run(struct sp_send_op *op)
{
    op->hold++;
    rep_start(op);
    op->hold--;
    op_maybe_free(op);
}

/* Hands every waiting echo op to the kernel, in order: when the writes
 * before them are done, or before a send that must follow them. */
static void echo_flush(struct sp_sock *s)
{
    struct sp_send_op *op = TAILQ_LAST(&s->ops, sp_send_ops), *first = NULL, *next;
    while (op != NULL && op->waiting) {
        first = op;
        op = TAILQ_PREV(op, sp_send_ops, entry);
    }
    for (op = first; op != NULL && !s->closed; op = next) {
        next = TAILQ_NEXT(op, entry);
        op->waiting = 0;
        s->queued -= op->wire_len; /* rep_start() counts it again */
        op_run(op);
    }
}

/* Adds n bytes to a waiting echo op, growing its wire. */
static void echo_append(struct sp_send_op *op, const unsigned char *p, size_t n)
{
    struct sp_sock *s = op->s;
    if (op->wire_len + n > op->wire_cap) {
        size_t cap = op->wire_cap * 2 < ECHO_OP_MAX ? op->wire_cap * 2 : ECHO_OP_MAX;
        if (cap < op->wire_len + n)
            cap = op->wire_len + n;
        op->wire = sp_xreallocarray(op->wire, cap, 1);
        op->wire_cap = cap;
    }
    memcpy(op->wire + op->wire_len, p, n);
    op->wire_len += n;
    op->segs[0].len = op->wire_len;
    op->bounds[1] = op->wire_len;
    s->queued += n;
    s->qover -= op->over;
    op->over = op_overhead(1, 1) + (op->wire_cap - op->wire_len);
    s->qover += op->over;
}

/* The peer sends faster than it reads our echo: stop reading until the
 * queue drains to half, as a real echo server would be forced to, and say
 * so (the cap counts the bookkeeping too). */
static void echo_block(struct sp_sock *s)
{
    s->echo_blocked = 1;
    sp__sock_read_stop(s);
    char msg[200];
    snprintf(msg, sizeof msg,
             "echo: the write queue is full (%zu bytes and %zu of bookkeeping; the cap is 8 "
             "MiB): reading stops until the peer has taken half of it",
             s->queued, s->qover);
    sp__emit_notice(s, msg);
}

void sp__echo(struct sp_sock *s, const unsigned char *p, size_t n, const struct sockaddr *to,
              socklen_t tolen)
{
    if (s->closed || s->close_wanted || !s->handle_open)
        return;
    if (sp_kind_is_stream(s->kind) &&
        ((s->ours & (SP_OURS_SHUT_WR | SP_OURS_SHUT_WAIT)) || s->sreq != NULL))
        return;
    /* Datagrams and seqpacket records are echoed one for one; stream bytes
     * gather while a write is in flight. */
    int dgram = sp_kind_has_records(s->kind);
    if (sp_kind_is_dgram(s->kind) && !s->dgram_connected &&
        (to == NULL || tolen <= sizeof(sa_family_t) || tolen > sizeof(struct sockaddr_storage)))
        return; /* an unnamed sender cannot be answered */
    if (!dgram && n == 0)
        return;
    if (!dgram) {
        struct sp_send_op *last = TAILQ_LAST(&s->ops, sp_send_ops);
        if (last != NULL && last->waiting && last->wire_len + n <= ECHO_OP_MAX) {
            echo_append(last, p, n);
        } else {
            struct sp_send_op *op = op_alloc(s, 1, 1, 0, n > 256 ? n : 256);
            op->nsegs = 1;
            op->waiting = 1;
            echo_append(op, p, n);
        }
        if (qmem(s) > SP_WRITE_QUEUE_MAX && !s->echo_blocked)
            echo_block(s);
        if (TAILQ_EMPTY(&s->wq))
            echo_flush(s);
        return;
    }
    struct sp_send_op *op = op_alloc(s, 1, 1, n, 0);
    if (n > 0)
        memcpy(op->wire, p, n);
    op->segs[0].off = 0;
    op->segs[0].len = n;
    op->nsegs = 1;
    op->bounds[0] = 0;
    op->bounds[1] = n;
    if (sp_kind_is_dgram(s->kind) && !s->dgram_connected) {
        memcpy(&op->to, to, tolen);
        op->tolen = tolen;
    }
    if (qmem(s) + n > SP_WRITE_QUEUE_MAX && !s->echo_blocked)
        echo_block(s);
    op_run(op);
}

/* Appends n bytes (p, or zeros if p is NULL) to op's wire as one segment. */
static void add_seg(struct sp_send_op *op, size_t *pos, size_t *k, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    if (p != NULL)
        memcpy(op->wire + *pos, p, n);
    op->segs[*k].off = *pos;
    op->segs[*k].len = n;
    (*k)++;
    *pos += n;
}

static size_t count_pieces(const struct sp_send_req *req, size_t wire_len)
{
    if (wire_len == 0)
        return 1;
    if (req->split > 0)
        return (wire_len + req->split - 1) / req->split;
    if (req->nchunks > 0) {
        size_t pos = 0, n = 0;
        for (size_t i = 0; i < req->nchunks && pos < wire_len; i++, n++)
            pos += req->chunks[i] < wire_len - pos ? req->chunks[i] : wire_len - pos;
        return n + (pos < wire_len);
    }
    return 1;
}

/* --chunks: the pieces' bounds. */
static void fill_bounds(const struct sp_send_req *req, size_t wire_len, size_t *bounds,
                        size_t npieces)
{
    bounds[0] = 0;
    for (size_t i = 1; i <= npieces; i++) {
        size_t pos = bounds[i - 1], step;
        if (i - 1 < req->nchunks)
            step = req->chunks[i - 1];
        else
            step = wire_len;
        bounds[i] = step < wire_len - pos ? pos + step : wire_len;
    }
}

/* The destination of a datagram send, checked against the socket. */
static int send_dest(struct sp_sock *s, const struct sp_addr *to, struct sockaddr_storage *ss,
                     socklen_t *len, char *err, size_t errlen)
{
    if (s->kind == SP_SOCK_PACKET) {
        sp__seterr(err, errlen,
                   "socket %u is a packet socket: a frame carries its own destination (no --to)",
                   s->id);
        return -EINVAL;
    }
    if (s->kind == SP_SOCK_UDP && to->kind != SP_ADDR_UDP) {
        sp__seterr(err, errlen, "socket %u is udp: --to needs a udp: address", s->id);
        return -EINVAL;
    }
    if (s->kind == SP_SOCK_UNIX_DGRAM && to->kind != SP_ADDR_UNIX_DGRAM &&
        to->kind != SP_ADDR_UNIX) {
        sp__seterr(err, errlen, "socket %u is unix-dgram: --to needs a unix-dgram: address", s->id);
        return -EINVAL;
    }
    if (s->dgram_connected && s->kind == SP_SOCK_UDP) {
        sp__seterr(err, errlen, "socket %u is connected: it sends to its peer only (no --to)",
                   s->id);
        return -EISCONN;
    }
    int r = sp__addr_to_sockaddr(to, ss, len, err, errlen);
    if (r < 0)
        return r;
    if (ss->ss_family != s->family) {
        sp__seterr(err, errlen, "socket %u is %s: cannot send to an %s address", s->id,
                   s->family == AF_INET6 ? "IPv6" : "IPv4",
                   ss->ss_family == AF_INET6 ? "IPv6" : "IPv4");
        return -EAFNOSUPPORT;
    }
    return 0;
}

/* The socket a send goes out on, and its destination; NULL with *rc and err
 * set when it cannot send. */
static struct sp_sock *sender(struct sp_engine *eng, uint32_t id, const struct sp_send_req *req,
                              struct sockaddr_storage *to, socklen_t *tolen, int *rc, char *err,
                              size_t errlen)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL) {
        sp__sock_missing(eng, id, err, errlen);
        *rc = -ENOENT;
        return NULL;
    }
    if (s->closed) {
        sp__seterr(err, errlen, "socket %u is closed", id);
        *rc = -EBADF;
        return NULL;
    }
    if (sp_kind_is_listener(s->kind)) {
        sp__seterr(err, errlen, "socket %u is a listener: send on one of its connections", id);
        *rc = -EINVAL;
        return NULL;
    }
    if (s->resolving || s->connecting || !s->established || !s->handle_open) {
        sp__seterr(err, errlen, "socket %u is not connected yet", id);
        *rc = -ENOTCONN;
        return NULL;
    }
    if (!sp__tls_ready(s)) {
        sp__seterr(err, errlen, "socket %u: the TLS handshake is not done yet", id);
        *rc = -ENOTCONN;
        return NULL;
    }
    if (s->tls != NULL && (req->once || req->oob)) {
        sp__seterr(err, errlen,
                   "--once and --oob write to the socket directly: not on a TLS socket");
        *rc = -EINVAL;
        return NULL;
    }
    if (s->close_wanted) {
        sp__seterr(err, errlen, "socket %u is closing", id);
        *rc = -ESHUTDOWN;
        return NULL;
    }
    int stream = sp_kind_is_stream(s->kind);
    if (stream && ((s->ours & (SP_OURS_SHUT_WR | SP_OURS_SHUT_WAIT)) || s->sreq != NULL)) {
        sp__seterr(err, errlen, "socket %u has shut down writing", id);
        *rc = -EPIPE;
        return NULL;
    }
    *tolen = 0;
    if (req->to != NULL) {
        if (stream) {
            sp__seterr(err, errlen, "--to applies to datagram sockets only");
            *rc = -EINVAL;
            return NULL;
        }
        *rc = send_dest(s, req->to, to, tolen, err, errlen);
        if (*rc < 0)
            return NULL;
    } else if (!stream && !s->dgram_connected) {
        sp__seterr(err, errlen, "socket %u has no peer: give a destination with --to", id);
        *rc = -EDESTADDRREQ;
        return NULL;
    }
    return s;
}

/* The send event of a one-call send: what the call took (r bytes, or
 * nothing and the errno) of the want bytes asked. */
static void emit_once(struct sp_sock *s, const unsigned char *wire, size_t want, ssize_t r, int e,
                      int flags, const struct sp_cmsg *passed)
{
    size_t took = r > 0 ? (size_t)r : 0;
    uint64_t seq = ++s->sends, off = s->out_issued;
    s->out_issued += took;
    s->bytes_out += took;
    if (!sp__wants(s->eng, SP_EV_SEND))
        return;
    int64_t call = r >= 0 ? (int64_t)r : -(int64_t)e;
    struct sp_event ev = {.type = SP_EV_SEND, .unread = -1};
    ev.seq = seq;
    ev.off = off;
    ev.len = took;
    ev.data = wire;
    ev.data_len = took;
    ev.writes = 1;
    ev.calls = &call;
    ev.ncalls = 1;
    ev.wanted = want;
    ev.asked = flags;
    if (passed != NULL && r > 0) {
        ev.cmsg = passed;
        ev.ncmsg = 1;
    }
    sp__emit(s->eng, s, &ev);
}

/* send --once / --oob: exactly one non-blocking sendmsg() of the wire
 * bytes, and a send event saying what it returned (all, a part, EAGAIN).
 * Nothing is queued for later: the rest is the user's to send. */
static int send_once(struct sp_sock *s, const struct sp_send_req *req,
                     const struct sockaddr_storage *to, socklen_t tolen, char *err, size_t errlen)
{
    int stream = sp_kind_is_stream(s->kind);
    if (req->oob && s->kind != SP_SOCK_TCP) {
        sp__seterr(err, errlen, "--oob: urgent data (MSG_OOB) is TCP's; socket %u is %s", s->id,
                   sp_sock_kind_name(s->kind));
        return -EINVAL;
    }
    if (!req->raw && s->spec.kind != SP_FRAME_RAW) {
        sp__seterr(err, errlen,
                   "--%s writes the bytes as given: add --raw (socket %u has a framing)",
                   req->oob ? "oob" : "once", s->id);
        return -EINVAL;
    }
    if (req->split > 0 || req->nchunks > 0 || req->repeat > 1 || req->end || req->pad) {
        sp__seterr(err, errlen, "--%s is one call: no --split, --chunks, --repeat, --end or --pad",
                   req->oob ? "oob" : "once");
        return -EINVAL;
    }
    if (stream && s->queued > 0) {
        sp__seterr(err, errlen,
                   "socket %u has %zu bytes in its write queue: a call now would overtake them "
                   "(wait sent first)",
                   s->id, s->queued);
        return -EBUSY;
    }
    size_t total = 0;
    for (size_t i = 0; i < req->nparts; i++)
        total += req->lens[i];
    if (req->oob && total != 1) {
        sp__seterr(err, errlen,
                   "--oob sends one urgent byte (TCP marks only the last byte of a send urgent); "
                   "got %zu",
                   total);
        return -EINVAL;
    }
    if (stream && total == 0 && s->kind != SP_SOCK_SEQPACKET) {
        sp__seterr(err, errlen, "nothing to send (0 bytes)");
        return -EINVAL;
    }
    if (total > SP_WRITE_QUEUE_MAX || req->nparts > ONCE_PARTS_MAX) {
        sp__seterr(err, errlen, "--once sends at most %u bytes in at most %d parts",
                   SP_WRITE_QUEUE_MAX, ONCE_PARTS_MAX);
        return -EINVAL;
    }
    /* send --fd: the descriptor rides on this call (SCM_RIGHTS); a path
     * that cannot be opened refuses the send before anything went out. */
    int passfd = -1;
    if (req->fd_path != NULL && (passfd = sp__cmsg_fd_open(s, req->fd_path, err, errlen)) < 0)
        return passfd;
    /* Several DATA words are several buffers of the one sendmsg(). */
    struct iovec iov[ONCE_PARTS_MAX];
    unsigned char *wire = sp_xmalloc(total ? total : 1);
    size_t at = 0;
    for (size_t i = 0; i < req->nparts; i++) {
        memcpy(wire + at, req->parts[i], req->lens[i]);
        iov[i].iov_base = wire + at;
        iov[i].iov_len = req->lens[i];
        at += req->lens[i];
    }
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    if (tolen > 0) {
        msg.msg_name = (void *)to;
        msg.msg_namelen = tolen;
    }
    msg.msg_iov = iov;
    msg.msg_iovlen = req->nparts;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct sp_cmsg passed;
    if (passfd >= 0)
        sp__cmsg_fd_attach(&msg, ctl.buf, passfd, &passed);
    int flags = req->oob ? MSG_OOB : 0;
    ssize_t r;
    do
        r = sendmsg(sp__sock_fd(s), &msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    int e = errno;
    if (r >= 0 || e == EAGAIN || e == EWOULDBLOCK)
        emit_once(s, wire, total, r, EAGAIN, flags, passfd >= 0 ? &passed : NULL);
    else
        sp__emit_error(s, "send", -e);
    free(wire);
    /* The kernel holds its own reference in the message it queued. */
    if (passfd >= 0)
        close(passfd);
    if (r > 0 && s->kind == SP_SOCK_TCP)
        sp__kactive(s);
    return 0;
}

int sp_engine_send(struct sp_engine *eng, uint32_t id, const struct sp_send_req *req, char *err,
                   size_t errlen)
{
    struct sockaddr_storage to;
    socklen_t tolen = 0;
    int rc = 0;
    struct sp_sock *s = sender(eng, id, req, &to, &tolen, &rc, err, errlen);
    if (s == NULL)
        return rc;
    if (req->once || req->oob || req->fd_path != NULL)
        return send_once(s, req, &to, tolen, err, errlen);
    int stream = sp_kind_is_stream(s->kind);
    if (req->split > 0 && req->nchunks > 0) {
        sp__seterr(err, errlen, "--split and --chunks cannot be combined");
        return -EINVAL;
    }
    for (size_t i = 0; i < req->nchunks; i++)
        if (req->chunks[i] == 0) {
            sp__seterr(err, errlen, "chunk sizes must be at least 1 byte");
            return -EINVAL;
        }

    size_t total = 0;
    for (size_t i = 0; i < req->nparts; i++)
        total += req->lens[i];
    struct sp_frame_wire w;
    memset(&w, 0, sizeof w);
    w.body = 1;
    int framed = !req->raw && s->spec.kind != SP_FRAME_RAW;
    if (framed) {
        char ferr[160] = "";
        unsigned flags = (req->pad ? SP_FRAME_ENC_PAD : 0) | (req->end ? SP_FRAME_ENC_END : 0);
        if (sp_frame_encode(&s->spec, total, flags, &w, ferr, sizeof ferr) != 0) {
            char spec[SP_FRAME_SPEC_TEXT_MAX];
            sp_frame_spec_format(&s->spec, spec, sizeof spec);
            sp__seterr(err, errlen, "framing %s: %s", spec, ferr);
            return -EINVAL;
        }
    } else if (req->end || req->pad) {
        sp__seterr(err, errlen, "%s needs %s framing on the socket (and no --raw)",
                   req->end ? "--end" : "--pad", req->end ? "blocks" : "fixed");
        return -EINVAL;
    }
    size_t body = w.body ? total : 0;
    size_t wire_len = w.head_len + body + w.pad_len + w.tail_len;
    if (stream && wire_len == 0 && s->kind != SP_SOCK_SEQPACKET) {
        sp__seterr(err, errlen, "nothing to send (0 bytes)");
        return -EINVAL;
    }
    size_t npieces = count_pieces(req, wire_len);
    if (npieces > PIECES_MAX) {
        sp__seterr(err, errlen, "%zu separate writes is too many (at most %u)", npieces,
                   PIECES_MAX);
        return -EINVAL;
    }
    size_t nsegs = 3 + (w.body ? req->nparts : 0);
    /* --split pieces are computed, not stored: --split 1 on a large file
     * costs no bookkeeping per byte. */
    size_t nbounds = req->split > 0 ? 0 : npieces;
    if (qmem(s) + wire_len + op_overhead(nsegs, nbounds) > SP_WRITE_QUEUE_MAX) {
        sp__seterr(err, errlen,
                   "write queue full: %zu bytes queued (%zu with bookkeeping), this send adds "
                   "%zu (%zu with bookkeeping), the cap is %u bytes (8 MiB); nothing was sent",
                   s->queued, qmem(s), wire_len, wire_len + op_overhead(nsegs, nbounds),
                   SP_WRITE_QUEUE_MAX);
        return -ENOBUFS;
    }

    /* Echoed bytes still gathering go first: they came before this send. */
    echo_flush(s);
    if (s->closed) {
        sp__seterr(err, errlen, "socket %u is closed", id);
        return -EBADF;
    }
    struct sp_send_op *op = op_alloc(s, nsegs, nbounds, wire_len, 0);
    op->npieces = npieces;
    op->split = req->split;
    size_t pos = 0, k = 0;
    add_seg(op, &pos, &k, w.head, w.head_len);
    if (w.body)
        for (size_t i = 0; i < req->nparts; i++)
            add_seg(op, &pos, &k, req->parts[i], req->lens[i]);
    add_seg(op, &pos, &k, NULL, w.pad_len); /* NUL padding (the op is zeroed) */
    add_seg(op, &pos, &k, w.tail, w.tail_len);
    op->nsegs = k;
    if (op->split == 0)
        fill_bounds(req, wire_len, op->bounds, npieces);
    op->delay_ms = req->delay_ms;
    op->every_ms = req->every_ms;
    op->reps_left = req->repeat > 1 ? req->repeat - 1 : 0;
    if (tolen > 0) {
        op->to = to;
        op->tolen = tolen;
    }
    op_run(op);
    return 0;
}
