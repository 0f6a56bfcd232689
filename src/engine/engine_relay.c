/* The relay: each connection accepted on a relay's listener opens one to the
 * target, and what one leg receives is written to the other, through the
 * faults of that direction. Both legs are ordinary sockets: the relay only
 * listens to their events (one engine subscription) and drives them with the
 * public operations, so every recv, msg, send, eof and close of either leg
 * is the kernel's own, shown as for any socket.
 *
 * What a leg receives is cut into units before it is forwarded: under a
 * framing a unit is one message (its bytes wait until the msg event says
 * where it ends), raw it is one recv chunk. Faults count units. A direction
 * holds at most HIGH_WATER bytes (its units plus the other leg's write
 * queue) before the source leg stops being read: the kernel's buffers fill
 * and the sender's window closes, as with any slow reader.
 *
 * A tls: leg is TLS terminated here: what the relay takes from it is the
 * plaintext OpenSSL hands back (each SSL_read, given by engine_stream.c
 * through sp__relay_plain, on the plaintext stream's offsets, where that
 * leg's msg events lie too), never its ciphertext recv chunks; what it
 * writes to it is plaintext that the leg encrypts. A tls: target counts as
 * connected once its handshake is done, and nothing is written to a tls:
 * client leg before its own handshake is. */
#include "engine_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/engine/tls.h"

#define HIGH_WATER (256u * 1024)
#define LOW_WATER  (64u * 1024)
/* Under --rate, one write carries at most this much time's worth. */
#define RATE_SLICE_MS 50
#define NS_PER_MS     1000000ull

/* What a unit is of the source's stream: faults count chunks or messages. */
enum unit_kind {
    U_CHUNK, /* one recv chunk (raw) */
    U_MSG,   /* one message, or what was left of it */
    U_PART,  /* a piece of a message still arriving (too large to wait for) */
};

struct unit {
    TAILQ_ENTRY(unit) link;
    uint64_t seq;  /* the source's message (or chunk) number */
    uint64_t t_ns; /* when it was complete */
    size_t len, pos;
    unsigned char data[];
};

struct dir {
    struct sp__relay_pair *p;
    int up; /* client to target */
    struct sp_fault f;
    struct sp_buf in; /* received bytes not cut into units yet: a message in progress */
    size_t in_pos;    /* in's bytes before in_pos were cut already */
    uint64_t in_off;  /* stream offset of in.data[in_pos] */
    TAILQ_HEAD(units, unit) units;
    size_t held;      /* bytes in `in` (from in_pos) and in units */
    uint64_t fwd;     /* bytes forwarded */
    uint64_t next_ns; /* --rate: no write before */
    uv_timer_t timer;
    int eof;        /* the source's FIN was read */
    int fin_done;   /* ... and dealt with (--fin) */
    int resetting;  /* --reset-after reached: reset once the bytes are written */
    int dst_gone;   /* the destination leg closed: what arrives is discarded */
    int close_dst;  /* the source closed: close the destination once units are out */
    int gone_noted; /* said once that bytes are discarded */
    /* What ended the source's data, for the notices: its FIN, or on a tls:
     * leg its close_notify or a FIN without one. */
    const char *end_what;
    int truncated; /* a tls: source's FIN came without close_notify */
};

struct sp__relay_pair {
    struct sp__relay *r;
    struct sp__relay_pair *next;
    uint32_t client, target;
    struct dir d[2]; /* [0] up, [1] down */
    int connected;   /* the target leg connected */
    int over;        /* both legs closed: the timers are closing */
    int timers_open;
};

struct sp__relay {
    struct sp_engine *eng;
    struct sp__relay *next;
    uint32_t listener;
    struct sp_addr target;
    char target_text[SP_ADDR_TEXT_MAX];
    struct sp_frame_spec framing_back;
    enum sp_fin_mode fin;
    struct sp_fault fault[2];
    struct sp__relay_pair *pairs;
    int listener_closed;
    /* A tls: target's settings, their strings ours (tls_str). */
    struct sp_tls_opts target_tls;
    char *tls_str[5];
};

static const char *const fin_names[] = {"pass", "hold", "reset"};

static void fault_append(char *out, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fault_append(char *out, size_t len, size_t *at, const char *fmt, ...)
{
    if (*at >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *at, len - *at, fmt, ap);
    va_end(ap);
    if (n > 0)
        *at += (size_t)n;
}

void sp_fault_format(const struct sp_fault *f, char *out, size_t len)
{
    size_t at = 0;
    if (len == 0)
        return;
    out[0] = '\0';
    const char *sep = "";
    if (f->delay_ms) {
        fault_append(out, len, &at, "%sdelay %llums", sep, (unsigned long long)f->delay_ms);
        sep = ", ";
    }
    if (f->rate) {
        fault_append(out, len, &at, "%srate %lluB/s", sep, (unsigned long long)f->rate);
        sep = ", ";
    }
    if (f->resplit) {
        fault_append(out, len, &at, "%sresplit %llu", sep, (unsigned long long)f->resplit);
        sep = ", ";
    }
    if (f->drop_msg) {
        fault_append(out, len, &at, "%sdrop-msg %llu", sep, (unsigned long long)f->drop_msg);
        sep = ", ";
    }
    if (f->reset_after) {
        fault_append(out, len, &at, "%sreset-after %llu", sep, (unsigned long long)f->reset_after);
        sep = ", ";
    }
    if (f->stall) {
        fault_append(out, len, &at, "%sstall", sep);
        sep = ", ";
    }
    if (sep[0] == '\0')
        fault_append(out, len, &at, "none");
}

static uint32_t src_id(const struct dir *d)
{
    return d->up ? d->p->client : d->p->target;
}

static uint32_t dst_id(const struct dir *d)
{
    return d->up ? d->p->target : d->p->client;
}

static struct sp_sock *leg(const struct sp__relay_pair *p, uint32_t id)
{
    if (id == 0)
        return NULL;
    struct sp_sock *s = sp__sock_get(p->r->eng, id);
    return s != NULL && !s->closed ? s : NULL;
}

static void note(struct sp__relay_pair *p, uint32_t on, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A notice on one leg, "relay L: ..." (L: the relay's listener). */
static void note(struct sp__relay_pair *p, uint32_t on, const char *fmt, ...)
{
    struct sp_sock *s = sp__sock_get(p->r->eng, on);
    if (s == NULL)
        return;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "relay %u: ", p->r->listener);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof msg)
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    sp__emit_notice(s, msg);
}

static void pump(struct dir *d);

static void on_timer(uv_timer_t *t)
{
    pump(t->data);
}

static void arm(struct dir *d, uint64_t wait_ns)
{
    uint64_t ms = (wait_ns + NS_PER_MS - 1) / NS_PER_MS;
    sp__timer_start(&d->timer, on_timer, ms, 0);
}

/* Stops or restarts reading the source leg: while the direction holds
 * too much, stalls, or has nowhere to go yet. */
static void update_hold(struct dir *d)
{
    struct sp_sock *src = leg(d->p, src_id(d));
    if (src == NULL)
        return;
    struct sp_sock *dst = leg(d->p, dst_id(d));
    size_t queued = dst != NULL ? dst->queued : 0;
    size_t load = d->held + queued;
    /* A message in progress drains only when more of it is read, so it
     * must not keep the source held: resume once what can drain has. */
    size_t draining = d->held - (d->in.len - d->in_pos) + queued;
    int hold = d->f.stall || (d->up && !d->p->connected) ||
               (src->relay_held ? draining > LOW_WATER : load > HIGH_WATER);
    if (d->dst_gone)
        hold = 0; /* what arrives is discarded: nothing piles up */
    if (hold && !src->relay_held) {
        src->relay_held = 1;
        sp__sock_read_stop(src);
    } else if (!hold && src->relay_held) {
        src->relay_held = 0;
        sp__sock_read_start(src);
    }
}

static void reset_leg(struct sp__relay_pair *p, uint32_t id, const char *reason)
{
    struct sp_sock *s = leg(p, id);
    if (s != NULL)
        sp__sock_close(s, reason, 1);
}

static void reset_both(struct sp__relay_pair *p, const char *reason)
{
    uint32_t c = p->client, t = p->target;
    reset_leg(p, t, reason);
    reset_leg(p, c, reason);
}

/* --reset-after: once what was forwarded is written to the kernel. */
static void try_reset(struct dir *d)
{
    struct sp_sock *dst = leg(d->p, dst_id(d));
    if (dst != NULL && dst->queued > 0)
        return;
    note(d->p, src_id(d), "%llu bytes went from %u to %u (--reset-after %llu): resetting both legs",
         (unsigned long long)d->fwd, src_id(d), dst_id(d), (unsigned long long)d->f.reset_after);
    reset_both(d->p, "reset by the relay (reset-after)");
}

/* Writes up to n bytes to the destination (fewer when --reset-after ends
 * the direction first); returns how many were taken. */
static size_t forward(struct dir *d, struct sp_sock *dst, const unsigned char *p, size_t n)
{
    if (d->f.reset_after > 0 && d->fwd + n >= d->f.reset_after) {
        n = d->f.reset_after > d->fwd ? (size_t)(d->f.reset_after - d->fwd) : 0;
        d->resetting = 1;
    }
    if (n > 0) {
        const unsigned char *parts[1] = {p};
        size_t lens[1] = {n};
        struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 1, .raw = 1};
        req.split = (size_t)d->f.resplit;
        char err[256] = "";
        if (sp_engine_send(d->p->r->eng, dst->id, &req, err, sizeof err) != 0)
            note(d->p, src_id(d), "%zu bytes not forwarded to %u: %s", n, dst->id, err);
        d->fwd += n;
    }
    return n;
}

static int can_write(struct dir *d, struct sp_sock *dst)
{
    return dst != NULL && d->p->connected && sp__tls_ready(dst) && !d->f.stall && !d->resetting &&
           !(dst->ours & (SP_OURS_SHUT_WR | SP_OURS_SHUT_WAIT | SP_OURS_CLOSED));
}

static void pass_fin(struct dir *d);

/* Forwards what the faults let through now, and arms the timer for the
 * rest. */
static void pump(struct dir *d)
{
    struct sp__relay_pair *p = d->p;
    if (p->over)
        return;
    struct sp_sock *dst = leg(p, dst_id(d));
    uint64_t now = sp_engine_now_ns(p->r->eng);
    struct unit *u;
    while ((u = TAILQ_FIRST(&d->units)) != NULL && can_write(d, dst)) {
        uint64_t due = u->t_ns + d->f.delay_ms * NS_PER_MS;
        if (d->f.delay_ms > 0 && now < due) {
            arm(d, due - now);
            break;
        }
        if (d->f.rate > 0 && now < d->next_ns) {
            arm(d, d->next_ns - now);
            break;
        }
        if (dst->queued >= HIGH_WATER)
            break; /* the destination's send events pump again */
        size_t n = u->len - u->pos;
        if (d->f.rate > 0) {
            uint64_t slice = d->f.rate * RATE_SLICE_MS / 1000;
            if (slice == 0)
                slice = 1;
            if (n > slice)
                n = (size_t)slice;
        }
        n = forward(d, dst, u->data + u->pos, n);
        u->pos += n;
        d->held -= n;
        if (d->f.rate > 0)
            d->next_ns = now + (uint64_t)n * 1000000000ull / d->f.rate;
        if (u->pos == u->len) {
            TAILQ_REMOVE(&d->units, u, link);
            free(u);
        }
        if (d->resetting)
            break;
    }
    if (d->resetting) {
        try_reset(d);
        return;
    }
    /* After the last write came back: the FIN then follows every byte. */
    if (TAILQ_EMPTY(&d->units) && d->eof && !d->fin_done && (dst == NULL || !sp__send_busy(dst)))
        pass_fin(d);
    if (p->over)
        return;
    if (TAILQ_EMPTY(&d->units) && d->close_dst && dst != NULL) {
        d->close_dst = 0;
        sp_engine_close(p->r->eng, dst->id, NULL, 0);
    }
    update_hold(d);
}

static void discard_units(struct dir *d)
{
    struct unit *u;
    while ((u = TAILQ_FIRST(&d->units)) != NULL) {
        TAILQ_REMOVE(&d->units, u, link);
        free(u);
    }
    sp_buf_reset(&d->in);
    d->in_pos = 0;
    d->held = 0;
}

/* Gives back the room of what was cut: the buffer holds at most one
 * message in progress and the chunk that follows it. */
static void compact(struct dir *d)
{
    if (d->in_pos == d->in.len) {
        sp_buf_reset(&d->in);
        d->in_pos = 0;
    } else if (d->in_pos > d->in.len / 2) {
        memmove(d->in.data, d->in.data + d->in_pos, d->in.len - d->in_pos);
        d->in.len -= d->in_pos;
        d->in_pos = 0;
    }
}

/* The first n bytes not cut yet become a unit (or are dropped). */
static void cut_unit(struct dir *d, size_t n, uint64_t seq, enum unit_kind kind)
{
    size_t avail = d->in.len - d->in_pos;
    if (n > avail)
        n = avail;
    size_t at = d->in_pos;
    d->in_pos += n;
    d->in_off += n;
    if (d->f.drop_msg != 0 && seq == d->f.drop_msg) {
        d->held -= n;
        if (kind == U_PART)
            note(d->p, src_id(d),
                 "dropped %zu bytes of message %llu (still arriving) from %u: "
                 "not sent to %u",
                 n, (unsigned long long)seq, src_id(d), dst_id(d));
        else
            note(d->p, src_id(d), "dropped %s %llu (%zu bytes) from %u: not sent to %u",
                 kind == U_MSG ? "message" : "chunk", (unsigned long long)seq, n, src_id(d),
                 dst_id(d));
        return;
    }
    if (n == 0)
        return; /* an empty message: nothing to write */
    struct unit *u = sp_xmalloc(sizeof *u + n);
    u->seq = seq;
    u->t_ns = sp_engine_now_ns(d->p->r->eng);
    u->len = n;
    u->pos = 0;
    memcpy(u->data, d->in.data + at, n);
    TAILQ_INSERT_TAIL(&d->units, u, link);
}

static void cut(struct dir *d, size_t n, uint64_t seq, enum unit_kind kind)
{
    cut_unit(d, n, seq, kind);
    compact(d);
}

/* What the source's stream carried next (a recv chunk, or on a tls: leg a
 * plaintext read) at stream offset off: cut into units now (raw) or when
 * the msg events say where messages end (framed). */
static void take(struct dir *d, struct sp_sock *src, const unsigned char *data, size_t n,
                 uint64_t off, int framed, uint64_t seq)
{
    if (d->in.len == d->in_pos)
        d->in_off = off;
    sp_buf_append(&d->in, data, n);
    d->held += n;
    if (!framed) {
        cut(d, d->in.len - d->in_pos, seq, U_CHUNK);
    } else if (d->in.len - d->in_pos > HIGH_WATER / 2) {
        /* A message this large would stop the source before it ends
         * (an eof framing ends only at EOF): forward it in pieces. Each
         * piece is still its message's: --drop-msg drops every piece. */
        cut(d, d->in.len - d->in_pos, src->msgs + 1, U_PART);
    }
    pump(d);
}

static int gone(struct dir *d, struct sp_sock *src)
{
    if (!d->dst_gone)
        return 0;
    if (!d->gone_noted) {
        d->gone_noted = 1;
        note(d->p, src->id, "%u is closed: what %u receives is not forwarded", dst_id(d), src->id);
    }
    return 1;
}

static void on_recv(struct dir *d, struct sp_sock *src, const struct sp_event *ev)
{
    if (ev->seq == 0 || src->tls != NULL)
        return; /* a peek or the urgent byte, or ciphertext: not the stream forwarded */
    if (gone(d, src))
        return;
    if (ev->data_len < ev->len) {
        /* Never forward a part as if it were all: say so and end the pair. */
        note(d->p, src->id, "only %zu of the %llu bytes received are visible: resetting both legs",
             ev->data_len, (unsigned long long)ev->len);
        reset_both(d->p, "reset by the relay (bytes not visible)");
        return;
    }
    take(d, src, ev->data, ev->data_len, ev->off, ev->framed, ev->seq);
}

void sp__relay_plain(struct sp_sock *s, const unsigned char *p, size_t n, uint64_t off)
{
    struct sp__relay_pair *pr = s->rpair;
    if (pr == NULL || pr->over || n == 0)
        return;
    struct dir *d = &pr->d[s->id == pr->client ? 0 : 1];
    if (gone(d, s))
        return;
    take(d, s, p, n, off, s->spec.kind != SP_FRAME_RAW && !sp__framer_lost(s), s->pt_chunks);
}

static void on_msg(struct dir *d, const struct sp_event *ev)
{
    if (d->dst_gone || ev->end_off <= d->in_off)
        return;
    cut(d, (size_t)(ev->end_off - d->in_off), ev->seq, U_MSG);
    pump(d);
}

/* The decoder lost the stream: what is left goes on as raw bytes. */
static void on_frame_error(struct dir *d, struct sp_sock *src)
{
    if (!sp__framer_lost(src) || d->dst_gone)
        return;
    cut(d, d->in.len - d->in_pos, src->tls != NULL ? src->pt_chunks : src->chunks, U_CHUNK);
    pump(d);
}

static void maybe_close_leg(struct sp__relay_pair *p, uint32_t id)
{
    struct sp_sock *s = leg(p, id);
    if (s != NULL && (s->peers & SP_PEER_FIN) && (s->ours & SP_OURS_SHUT_WR) && !s->close_wanted)
        sp_engine_close(p->r->eng, id, NULL, 0);
}

/* The source's FIN, once every unit before it is forwarded. */
static void pass_fin(struct dir *d)
{
    struct sp__relay_pair *p = d->p;
    d->fin_done = 1;
    uint32_t from = src_id(d), to = dst_id(d);
    struct sp_sock *dst = leg(p, to);
    if (dst == NULL)
        return;
    switch (p->r->fin) {
    case SP_FIN_PASS:
        if (!(dst->ours & (SP_OURS_SHUT_WR | SP_OURS_SHUT_WAIT)) && dst->sreq == NULL) {
            /* A truncation stays one: a tls: destination gets the FIN
             * without our close_notify, so its peer sees what ours did. */
            if (d->truncated && dst->tls != NULL)
                sp__tls_withhold_notify(dst);
            note(p, from, "%s from %u's peer is passed on: shutdown wr on %u%s", d->end_what, from,
                 to,
                 dst->tls == NULL ? ""
                 : d->truncated   ? " (the FIN alone, no close_notify: a truncation again)"
                                  : " (close_notify, then the FIN)");
            sp_engine_shutdown(p->r->eng, to, SP_SHUT_WR, NULL, 0);
        }
        maybe_close_leg(p, from);
        break;
    case SP_FIN_HOLD:
        note(p, from,
             "%s from %u's peer is held (--fin hold): %u stays open for writing "
             "(`shutdown %u wr` passes it)",
             d->end_what, from, to, to);
        break;
    case SP_FIN_RESET:
        note(p, from, "%s from %u's peer becomes a reset (--fin reset): resetting both legs",
             d->end_what, from);
        reset_both(p, "reset by the relay (fin reset)");
        break;
    }
}

/* The end of the source's data: its FIN, or on a tls: leg its close_notify
 * (the FIN may follow, or wait for ours), whichever comes first. */
static void on_eof(struct dir *d, struct sp_sock *src, int notify)
{
    if (d->eof) {
        /* The FIN after the close_notify that was passed on already. */
        if (d->fin_done && d->p->r->fin == SP_FIN_PASS)
            maybe_close_leg(d->p, src->id);
        return;
    }
    d->eof = 1;
    d->truncated = !notify && src->tls != NULL;
    d->end_what = notify             ? "the close_notify"
                  : src->tls != NULL ? "the FIN (without close_notify: a truncation)"
                                     : "the FIN";
    /* Bytes of a message the FIN cut short still go, as they came. */
    if (!d->dst_gone && d->in.len > d->in_pos)
        cut(d, d->in.len - d->in_pos, src->msgs + 1, U_MSG);
    pump(d);
}

static void relay_free(struct sp__relay *r)
{
    for (size_t i = 0; i < sizeof r->tls_str / sizeof r->tls_str[0]; i++)
        free(r->tls_str[i]);
    free(r);
}

static void timer_closed(uv_handle_t *h)
{
    struct dir *d = h->data;
    struct sp__relay_pair *p = d->p;
    if (--p->timers_open > 0)
        return;
    struct sp__relay *r = p->r;
    struct sp__relay_pair **pp = &r->pairs;
    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    free(p);
    struct sp_engine *eng = r->eng;
    if (!r->listener_closed || r->pairs != NULL)
        return;
    struct sp__relay **rp = &eng->relays;
    while (*rp != r)
        rp = &(*rp)->next;
    *rp = r->next;
    relay_free(r);
    if (eng->relays == NULL && eng->relay_sub != 0) {
        sp_engine_unsubscribe(eng, eng->relay_sub);
        eng->relay_sub = 0;
    }
}

static void pair_end(struct sp__relay_pair *p)
{
    if (p->over)
        return;
    p->over = 1;
    for (int i = 0; i < 2; i++) {
        discard_units(&p->d[i]);
        sp_buf_cleanup(&p->d[i].in);
        uv_close((uv_handle_t *)&p->d[i].timer, timer_closed);
    }
}

static void leg_closed(struct sp__relay_pair *p, struct sp_sock *x)
{
    x->rpair = NULL;
    int is_client = x->id == p->client;
    struct dir *from = &p->d[is_client ? 0 : 1], *to = &p->d[is_client ? 1 : 0];
    uint32_t y = is_client ? p->target : p->client;
    struct sp_sock *ys = leg(p, y);
    to->dst_gone = 1;
    discard_units(to);
    if (ys != NULL) {
        if (!is_client && !p->connected) {
            note(p, y, "connect to %s failed (%s): resetting %u", p->r->target_text,
                 x->close_reason, y);
            reset_leg(p, y, "reset by the relay (target failed)");
        } else if (x->peers & SP_PEER_RST) {
            note(p, y, "%u was reset by its peer: resetting %u", x->id, y);
            reset_leg(p, y, "reset by the relay (peer reset)");
        } else if (x->ours & SP_OURS_RST) {
            note(p, y, "%u was reset: resetting %u", x->id, y);
            reset_leg(p, y, "reset by the relay (leg reset)");
        } else if ((ys->peers & SP_PEER_FIN) &&
                   (ys->sreq != NULL || (ys->ours & (SP_OURS_SHUT_WR | SP_OURS_SHUT_WAIT)))) {
            /* Both of y's directions are ending: its shutdown event closes it. */
            maybe_close_leg(p, y);
        } else if (!ys->close_wanted) {
            /* What x sent still goes, then y closes as x did. */
            from->close_dst = 1;
            pump(from);
        }
    }
    if (leg(p, p->client) == NULL && leg(p, p->target) == NULL)
        pair_end(p);
}

static void dir_init(struct sp__relay_pair *p, int i)
{
    struct dir *d = &p->d[i];
    d->p = p;
    d->up = i == 0;
    d->f = p->r->fault[i];
    sp_buf_init(&d->in);
    TAILQ_INIT(&d->units);
    uv_timer_init(&p->r->eng->loop, &d->timer);
    d->timer.data = d;
    p->timers_open++;
}

static void pair_start(struct sp__relay *r, struct sp_sock *c)
{
    struct sp_engine *eng = r->eng;
    struct sp__relay_pair *p = sp_xcalloc(1, sizeof *p);
    p->r = r;
    p->client = c->id;
    p->next = r->pairs;
    r->pairs = p;
    dir_init(p, 0);
    dir_init(p, 1);
    c->rpair = p;
    c->relay_lid = r->listener;
    /* The client leg is read once the target is connected: until then its
     * bytes wait in the kernel. */
    c->relay_held = 1;
    sp__sock_read_stop(c);
    struct sp_sock_opts o = {.framing = &r->framing_back,
                             .tls = r->target.tls ? &r->target_tls : NULL};
    char err[256] = "";
    uint32_t t = 0;
    if (sp_engine_connect(eng, &r->target, &o, &t, err, sizeof err) != 0) {
        note(p, c->id, "connect to %s failed (%s): resetting %u", r->target_text, err, c->id);
        reset_leg(p, c->id, "reset by the relay (target failed)");
        return;
    }
    p->target = t;
    struct sp_sock *ts = sp__sock_get(eng, t);
    ts->rpair = p;
    c->relay_lid = ts->relay_lid = r->listener;
    c->relay_peer = t;
    ts->relay_peer = c->id;
    note(p, c->id, "%u is relayed to %s through %u", c->id, r->target_text, t);
}

static void target_connected(struct sp__relay_pair *p)
{
    p->connected = 1;
    note(p, p->target, "%u connected to %s: relaying %u <-> %u", p->target, p->r->target_text,
         p->client, p->target);
    update_hold(&p->d[0]);
    update_hold(&p->d[1]);
    pump(&p->d[0]);
}

static void on_event(void *ud, const struct sp_event *ev)
{
    struct sp_engine *eng = ud;
    if (ev->sock == 0)
        return;
    struct sp_sock *s = sp__sock_get(eng, ev->sock);
    if (s == NULL)
        return;
    if (ev->type == SP_EV_ACCEPTED) {
        struct sp_sock *l = sp__sock_get(eng, ev->parent);
        if (l != NULL && l->relay != NULL && !eng->freeing && !s->closed)
            pair_start(l->relay, s);
        return;
    }
    if (s->relay != NULL && ev->type == SP_EV_CLOSED) {
        struct sp__relay *r = s->relay;
        s->relay = NULL;
        r->listener_closed = 1;
        if (r->pairs == NULL) {
            /* No pair holds a timer: free it the same way a last pair does. */
            struct sp__relay **rp = &eng->relays;
            while (*rp != r)
                rp = &(*rp)->next;
            *rp = r->next;
            relay_free(r);
            if (eng->relays == NULL && eng->relay_sub != 0) {
                sp_engine_unsubscribe(eng, eng->relay_sub);
                eng->relay_sub = 0;
            }
        }
        return;
    }
    struct sp__relay_pair *p = s->rpair;
    if (p == NULL || p->over)
        return;
    int is_client = s->id == p->client;
    struct dir *in = &p->d[is_client ? 0 : 1], *out = &p->d[is_client ? 1 : 0];
    switch (ev->type) {
    case SP_EV_CONNECTED:
        /* A tls: target is connected once its handshake is done. */
        if (!is_client && s->tls == NULL)
            target_connected(p);
        break;
    case SP_EV_TLS:
        if (ev->code != NULL && strcmp(ev->code, "close_notify") == 0)
            on_eof(in, s, 1);
        if (ev->code == NULL || strcmp(ev->code, "handshake_done") != 0)
            break;
        if (!is_client && !p->connected)
            target_connected(p);
        else if (is_client)
            pump(out); /* what the target sent waited for this leg's handshake */
        break;
    case SP_EV_RECV:
        on_recv(in, s, ev);
        break;
    case SP_EV_MSG:
        on_msg(in, ev);
        break;
    case SP_EV_FRAME_ERROR:
        on_frame_error(in, s);
        break;
    case SP_EV_EOF:
        on_eof(in, s, 0);
        break;
    case SP_EV_SEND:
        pump(out);
        break;
    case SP_EV_SHUTDOWN:
        maybe_close_leg(p, s->id);
        break;
    case SP_EV_CLOSED:
        leg_closed(p, s);
        break;
    default:
        break;
    }
}

#define RELAY_MASK                                                                                 \
    (SP_EV_MASK(SP_EV_ACCEPTED) | SP_EV_MASK(SP_EV_CONNECTED) | SP_EV_MASK(SP_EV_RECV) |           \
     SP_EV_MASK(SP_EV_MSG) | SP_EV_MASK(SP_EV_FRAME_ERROR) | SP_EV_MASK(SP_EV_EOF) |               \
     SP_EV_MASK(SP_EV_SEND) | SP_EV_MASK(SP_EV_SHUTDOWN) | SP_EV_MASK(SP_EV_CLOSED) |              \
     SP_EV_MASK(SP_EV_TLS))

static void fault_merge(struct sp_fault *to, const struct sp_fault *f)
{
    if (f->set & SP_FAULT_DELAY)
        to->delay_ms = f->delay_ms;
    if (f->set & SP_FAULT_RATE)
        to->rate = f->rate;
    if (f->set & SP_FAULT_RESPLIT)
        to->resplit = f->resplit;
    if (f->set & SP_FAULT_DROP)
        to->drop_msg = f->drop_msg;
    if (f->set & SP_FAULT_RESET_AFTER)
        to->reset_after = f->reset_after;
    if (f->set & SP_FAULT_STALL)
        to->stall = f->stall != 0;
    to->set = 0;
}

static const char *keep_str(struct sp__relay *r, size_t i, const char *v)
{
    return v != NULL ? (r->tls_str[i] = sp_xstrdup(v)) : NULL;
}

/* The target's TLS settings outlive the call: each connection uses them. */
static void keep_tls(struct sp__relay *r, const struct sp_tls_opts *o)
{
    r->target_tls = *o;
    r->target_tls.sni = keep_str(r, 0, o->sni);
    r->target_tls.alpn = keep_str(r, 1, o->alpn);
    r->target_tls.ca = keep_str(r, 2, o->ca);
    r->target_tls.keylog = keep_str(r, 3, o->keylog);
    /* A client certificate is not offered by the relay's target legs. */
    r->target_tls.cert = r->target_tls.key = NULL;
}

int sp_engine_relay(struct sp_engine *eng, const struct sp_addr *listen_addr,
                    const struct sp_addr *target, const struct sp_relay_opts *opts, uint32_t *id,
                    char *err, size_t errlen)
{
    if (target->kind != SP_ADDR_TCP && target->kind != SP_ADDR_UNIX) {
        sp__seterr(err, errlen, "the relay's target must be a tcp: or unix: address");
        return -EINVAL;
    }
    if (listen_addr->kind != SP_ADDR_TCP && listen_addr->kind != SP_ADDR_UNIX) {
        sp__seterr(err, errlen, "the relay listens on a tcp: or unix: address");
        return -EINVAL;
    }
    /* A tls: target's settings are checked now (a bad --ca fails the line),
     * though each connection makes its own. */
    if (target->tls) {
        struct sp_tls *check =
            sp__tls_prepare(target, opts != NULL ? opts->target_tls : NULL, 0, err, errlen);
        if (check == NULL)
            return -EINVAL;
        sp__tls_discard(check);
    }
    struct sp_sock_opts lo = {.framing = opts != NULL ? opts->framing : NULL,
                              .tls = opts != NULL ? opts->listen_tls : NULL};
    uint32_t lid = 0;
    int r = sp_engine_listen(eng, listen_addr, &lo, &lid, err, errlen);
    if (r != 0)
        return r;
    struct sp__relay *rl = sp_xcalloc(1, sizeof *rl);
    if (target->tls && opts != NULL && opts->target_tls != NULL)
        keep_tls(rl, opts->target_tls);
    rl->eng = eng;
    rl->listener = lid;
    rl->target = *target;
    sp_addr_format(target, rl->target_text, sizeof rl->target_text);
    if (opts != NULL && opts->framing_back != NULL)
        rl->framing_back = *opts->framing_back;
    else
        sp_frame_spec_raw(&rl->framing_back);
    if (opts != NULL) {
        rl->fin = opts->fin;
        fault_merge(&rl->fault[0], &opts->up);
        fault_merge(&rl->fault[1], &opts->down);
    }
    rl->next = eng->relays;
    eng->relays = rl;
    if (eng->relay_sub == 0)
        eng->relay_sub = sp_engine_subscribe(eng, RELAY_MASK, on_event, eng);
    /* The relay reads no message body: only where each one ends. */
    sp_engine_sub_data_max(eng, eng->relay_sub, 0);
    struct sp_sock *l = sp__sock_get(eng, lid);
    l->relay = rl;
    char up[160], down[160], msg[SP_ADDR_TEXT_MAX + 520];
    sp_fault_format(&rl->fault[0], up, sizeof up);
    sp_fault_format(&rl->fault[1], down, sizeof down);
    snprintf(msg, sizeof msg,
             "relay %u: each connection accepted here is relayed to %s (fin %s; faults up: %s; "
             "down: %s)%s",
             lid, rl->target_text, fin_names[rl->fin], up, down,
             listen_addr->tls || target->tls
                 ? "; TLS ends at the relay: the plaintext is forwarded, and the faults act on it"
                 : "");
    sp__emit_notice(l, msg);
    if (id != NULL)
        *id = lid;
    return 0;
}

static void dir_set(struct dir *d, const struct sp_fault *f)
{
    int was = d->f.stall;
    fault_merge(&d->f, f);
    char text[160];
    sp_fault_format(&d->f, text, sizeof text);
    note(d->p, src_id(d), "%u -> %u faults: %s", src_id(d), dst_id(d), text);
    if (was && !d->f.stall)
        note(d->p, src_id(d), "%u -> %u unstalled: forwarding and reading %u again", src_id(d),
             dst_id(d), src_id(d));
    else if (!was && d->f.stall)
        note(d->p, src_id(d), "%u -> %u stalled: %u is not read, its peer's window fills",
             src_id(d), dst_id(d), src_id(d));
    pump(d);
    update_hold(d);
}

int sp_engine_relay_fault(struct sp_engine *eng, uint32_t id, unsigned dirs,
                          const struct sp_fault *f, char *err, size_t errlen)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL) {
        sp__sock_missing(eng, id, err, errlen);
        return -ENOENT;
    }
    if (s->relay == NULL && (s->rpair == NULL || s->rpair->over)) {
        sp__seterr(err, errlen, "socket %u is not a relay's listener or an open relay leg", id);
        return -EINVAL;
    }
    if (s->relay != NULL) {
        struct sp__relay *r = s->relay;
        for (int i = 0; i < 2; i++)
            if (dirs & (1u << i))
                fault_merge(&r->fault[i], f);
        for (struct sp__relay_pair *p = r->pairs; p != NULL; p = p->next)
            for (int i = 0; i < 2 && !p->over; i++)
                if (dirs & (1u << i))
                    dir_set(&p->d[i], f);
        char up[160], down[160], msg[400];
        sp_fault_format(&r->fault[0], up, sizeof up);
        sp_fault_format(&r->fault[1], down, sizeof down);
        snprintf(msg, sizeof msg, "relay %u: faults for its connections: up: %s; down: %s",
                 r->listener, up, down);
        sp__emit_notice(s, msg);
        return 0;
    }
    struct sp__relay_pair *p = s->rpair;
    for (int i = 0; i < 2 && !p->over; i++)
        if (dirs & (1u << i))
            dir_set(&p->d[i], f);
    return 0;
}

int sp_engine_relay_info(struct sp_engine *eng, uint32_t id, struct sp_relay_info *out)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL || (s->relay == NULL && s->relay_lid == 0))
        return -1;
    memset(out, 0, sizeof *out);
    if (s->relay == NULL && s->rpair == NULL) {
        /* A closed leg: who it was paired with is all that is left. */
        out->listener = s->relay_lid;
        out->client = s->parent == s->relay_lid ? s->id : s->relay_peer;
        out->target = s->parent == s->relay_lid ? s->relay_peer : s->id;
        return 0;
    }
    const struct sp__relay *r = s->relay != NULL ? s->relay : s->rpair->r;
    out->listener = r->listener;
    memcpy(out->target_addr, r->target_text, sizeof out->target_addr);
    out->fin = r->fin;
    out->up = r->fault[0];
    out->down = r->fault[1];
    if (s->rpair != NULL) {
        out->client = s->rpair->client;
        out->target = s->rpair->target;
        out->up = s->rpair->d[0].f;
        out->down = s->rpair->d[1].f;
    }
    return 0;
}
