/* Bounded per-socket event logs: a record ring and a byte ring (history.h). */
#include "history.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/cmsg.h"
#include "sockpit/proto/xmalloc.h"

#define NSTR      12
#define STR_MAX   4096 /* longest string field kept (cmd lines, messages) */
#define RECS_MIN  8
#define DATA_MIN  512
#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

/* One event. Pointer fields of ev are cleared; their targets live in the
 * record's blob in the byte ring and are found through the offsets. */
struct hist_rec {
    struct sp_event ev;
    uint32_t blob;      /* offset of the blob in the byte ring */
    uint32_t blob_len;  /* its size (8-aligned) */
    uint32_t span;      /* ring bytes owned: padding skipped before the blob + blob_len */
    uint32_t str[NSTR]; /* offset + 1 inside the blob; 0 = NULL */
    uint32_t data, cuts, blocks, iov, calls, cmsg;
};

struct sp_hist {
    struct hist_rec *recs;
    size_t rcap, rstart, rcount;
    uint64_t first; /* absolute index of recs[rstart] */
    unsigned char *data;
    size_t dcap, dhead, dused;
};

static const char **str_field(struct sp_event *ev, int i)
{
    switch (i) {
    case 0:
        return &ev->local;
    case 1:
        return &ev->peer;
    case 2:
        return &ev->from;
    case 3:
        return &ev->how;
    case 4:
        return &ev->tcp;
    case 5:
        return &ev->op;
    case 6:
        return &ev->code;
    case 7:
        return &ev->message;
    case 8:
        return &ev->reason;
    case 10:
        return &ev->ifname;
    case 11:
        return &ev->summary;
    default:
        return &ev->line;
    }
}

static size_t str_len(const char *s)
{
    size_t n = s != NULL ? strnlen(s, STR_MAX) : 0;
    return n;
}

/* The bytes of string field i to keep: addresses carry their length, as an
 * abstract Unix name holds NULs. */
static size_t field_len(const struct sp_event *ev, int i, const char *s)
{
    size_t n = i == 0 ? ev->local_len : i == 1 ? ev->peer_len : i == 2 ? ev->from_len : 0;
    return n != 0 && s != NULL ? n : str_len(s);
}

size_t sp__hist_mem(const struct sp_hist *h)
{
    return h != NULL ? sizeof *h + h->rcap * sizeof(struct hist_rec) + h->dcap : 0;
}

uint64_t sp__hist_begin(const struct sp_hist *h)
{
    return h != NULL ? h->first : 0;
}

uint64_t sp__hist_end(const struct sp_hist *h)
{
    return h != NULL ? h->first + h->rcount : 0;
}

static struct hist_rec *rec_at(const struct sp_hist *h, size_t i)
{
    return &h->recs[(h->rstart + i) % h->rcap];
}

static void drop_oldest(struct sp_hist *h)
{
    assert(h->rcount > 0);
    struct hist_rec *r = rec_at(h, 0);
    h->dhead = (h->dhead + r->span) % (h->dcap ? h->dcap : 1);
    h->dused -= r->span;
    if (h->dused == 0)
        h->dhead = 0;
    h->rstart = (h->rstart + 1) % h->rcap;
    h->rcount--;
    h->first++;
}

/* May the logs of this pool grow by delta bytes? The first small allocation
 * of a log is always allowed, so every socket can log something. */
static int pool_allows(const struct sp_hist_pool *pool, size_t delta, int minimal)
{
    return minimal || pool->used + delta <= pool->max;
}

static int grow_recs(struct sp_hist *h, struct sp_hist_pool *pool, size_t events_max)
{
    size_t ncap = h->rcap ? h->rcap * 2 : RECS_MIN;
    if (ncap > events_max)
        ncap = events_max;
    if (ncap <= h->rcap)
        return -1;
    size_t delta = (ncap - h->rcap) * sizeof(struct hist_rec);
    if (!pool_allows(pool, delta, h->rcap == 0))
        return -1;
    struct hist_rec *n = sp_xreallocarray(NULL, ncap, sizeof *n);
    for (size_t i = 0; i < h->rcount; i++)
        n[i] = *rec_at(h, i);
    free(h->recs);
    h->recs = n;
    h->rcap = ncap;
    h->rstart = 0;
    pool->used += delta;
    return 0;
}

/* Grows the byte ring to at least need bytes (doubling), laying the blobs
 * out again from offset 0 without padding. */
static int grow_data(struct sp_hist *h, struct sp_hist_pool *pool, size_t need, size_t bytes_max)
{
    size_t ncap = h->dcap ? h->dcap : DATA_MIN;
    while (ncap < need || ncap <= h->dcap) {
        if (ncap >= bytes_max)
            break;
        ncap *= 2;
    }
    if (ncap > bytes_max)
        ncap = bytes_max;
    if (ncap <= h->dcap)
        return -1;
    size_t delta = ncap - h->dcap;
    if (!pool_allows(pool, delta, h->dcap == 0))
        return -1;
    unsigned char *n = sp_xmalloc(ncap);
    size_t pos = 0;
    for (size_t i = 0; i < h->rcount; i++) {
        struct hist_rec *r = rec_at(h, i);
        memcpy(n + pos, h->data + r->blob, r->blob_len);
        r->blob = (uint32_t)pos;
        r->span = r->blob_len;
        pos += r->blob_len;
    }
    free(h->data);
    h->data = n;
    h->dcap = ncap;
    h->dhead = 0;
    h->dused = pos;
    pool->used += delta;
    return 0;
}

/* Finds room for len contiguous bytes at the ring's tail. Returns the
 * offset and the span (padding + len), or -1. */
static long ring_place(const struct sp_hist *h, size_t len, size_t *span)
{
    if (h->dcap == 0 || len > h->dcap)
        return -1;
    if (h->dused == 0) {
        *span = len;
        return 0;
    }
    size_t tail = (h->dhead + h->dused) % h->dcap;
    if (tail > h->dhead || (tail == h->dhead && h->dused == 0)) {
        if (h->dcap - tail >= len) {
            *span = len;
            return (long)tail;
        }
        if (h->dhead >= len) {
            *span = (h->dcap - tail) + len;
            return 0;
        }
        return -1;
    }
    if (tail < h->dhead && h->dhead - tail >= len) {
        *span = len;
        return (long)tail;
    }
    return -1;
}

void sp__hist_push(struct sp_hist **hp, struct sp_hist_pool *pool, const struct sp_event *ev,
                   int keep_data, size_t events_max, size_t bytes_max)
{
    struct sp_hist *h = *hp;
    if (h == NULL) {
        h = sp_xcalloc(1, sizeof *h);
        pool->used += sizeof *h;
        *hp = h;
    }

    /* Lay out the blob: strings, then payload, cuts and blocks aligned. */
    size_t slen[NSTR];
    size_t strs = 0;
    struct sp_event tmp = *ev;
    for (int i = 0; i < NSTR; i++) {
        const char *s = *str_field(&tmp, i);
        slen[i] = field_len(ev, i, s);
        if (s != NULL)
            strs += slen[i] + 1;
    }
    size_t dlen = keep_data && ev->data != NULL ? ev->data_len : 0;
    if (dlen > SP_HIST_EVENT_DATA_MAX)
        dlen = SP_HIST_EVENT_DATA_MAX;
    size_t ncuts = ev->cuts != NULL ? ev->ncuts : 0;
    size_t nblocks = ev->blocks != NULL ? ev->nblocks : 0;
    /* Both bounded (SP_IOV_MAX, SP_CALLS_MAX) by whoever fills them. */
    size_t niov = ev->iov != NULL ? ev->niov : 0;
    size_t ncalls = ev->calls != NULL ? ev->ncalls : 0;
    size_t ncmsg = ev->cmsg != NULL ? ev->ncmsg : 0; /* at most SP_CMSG_MAX */
    size_t small = ALIGN8(niov * sizeof(uint32_t)) + ncalls * sizeof(int64_t) +
                   ALIGN8(ncmsg * sizeof(struct sp_cmsg));
    size_t fixed =
        ALIGN8(strs) + small + ALIGN8(ncuts * sizeof(uint32_t)) + nblocks * sizeof(uint64_t);
    if (fixed > bytes_max / 2) {
        /* Absurd metadata (only blocks can get there): keep none of it. */
        ncuts = nblocks = 0;
        fixed = ALIGN8(strs) + small;
    }
    if (dlen > bytes_max / 2)
        dlen = bytes_max / 2;

    /* A record slot. */
    if (h->rcount == h->rcap && grow_recs(h, pool, events_max) != 0) {
        if (h->rcount == 0)
            return;
        drop_oldest(h);
    }

    /* Room in the byte ring; the payload shrinks only when nothing else
     * can make room. */
    size_t blob_len, span = 0;
    long at;
    for (;;) {
        blob_len = ALIGN8(fixed + ALIGN8(dlen));
        at = ring_place(h, blob_len, &span);
        if (at >= 0)
            break;
        /* Not in one piece at the tail: a bigger ring first (it lays the
         * blobs out again from 0), dropping events only at the cap. */
        if (grow_data(h, pool, h->dused + blob_len, bytes_max) == 0)
            continue;
        if (h->rcount > 0) {
            drop_oldest(h);
            continue;
        }
        if (dlen > 0) {
            dlen = h->dcap > fixed + 8 ? h->dcap - fixed - 8 : 0;
            continue;
        }
        return; /* cannot even hold the strings: give up on this event */
    }

    struct hist_rec *r = &h->recs[(h->rstart + h->rcount) % h->rcap];
    h->rcount++;
    h->dused += span;
    r->ev = *ev;
    r->blob = (uint32_t)at;
    r->blob_len = (uint32_t)blob_len;
    r->span = (uint32_t)span;
    unsigned char *base = h->data + at;
    size_t pos = 0;
    for (int i = 0; i < NSTR; i++) {
        const char *s = *str_field(&tmp, i);
        if (s == NULL) {
            r->str[i] = 0;
            continue;
        }
        memcpy(base + pos, s, slen[i]);
        base[pos + slen[i]] = '\0';
        r->str[i] = (uint32_t)pos + 1;
        pos += slen[i] + 1;
        *str_field(&r->ev, i) = NULL;
    }
    pos = ALIGN8(pos);
    r->iov = (uint32_t)pos;
    if (niov > 0)
        memcpy(base + pos, ev->iov, niov * sizeof(uint32_t));
    pos += ALIGN8(niov * sizeof(uint32_t));
    r->calls = (uint32_t)pos;
    if (ncalls > 0)
        memcpy(base + pos, ev->calls, ncalls * sizeof(int64_t));
    pos += ncalls * sizeof(int64_t);
    r->cmsg = (uint32_t)pos;
    if (ncmsg > 0)
        memcpy(base + pos, ev->cmsg, ncmsg * sizeof(struct sp_cmsg));
    pos += ALIGN8(ncmsg * sizeof(struct sp_cmsg));
    r->cuts = (uint32_t)pos;
    if (ncuts > 0)
        memcpy(base + pos, ev->cuts, ncuts * sizeof(uint32_t));
    pos += ALIGN8(ncuts * sizeof(uint32_t));
    r->blocks = (uint32_t)pos;
    if (nblocks > 0)
        memcpy(base + pos, ev->blocks, nblocks * sizeof(uint64_t));
    pos += nblocks * sizeof(uint64_t);
    r->data = (uint32_t)pos;
    if (dlen > 0)
        memcpy(base + pos, ev->data, dlen);
    r->ev.data = NULL;
    r->ev.data_len = dlen;
    r->ev.cuts = NULL;
    r->ev.ncuts = ncuts;
    r->ev.blocks = NULL;
    r->ev.nblocks = nblocks;
    r->ev.iov = NULL;
    r->ev.niov = niov;
    r->ev.calls = NULL;
    r->ev.ncalls = ncalls;
    r->ev.cmsg = NULL;
    r->ev.ncmsg = ncmsg;
}

int sp__hist_get(const struct sp_hist *h, uint64_t idx, struct sp_event *out)
{
    if (h == NULL || idx < h->first || idx >= h->first + h->rcount)
        return -1;
    const struct hist_rec *r = rec_at(h, (size_t)(idx - h->first));
    const unsigned char *base = h->data + r->blob;
    *out = r->ev;
    for (int i = 0; i < NSTR; i++)
        *str_field(out, i) = r->str[i] ? (const char *)base + r->str[i] - 1 : NULL;
    out->data = base + r->data;
    out->cuts = r->ev.ncuts ? (const uint32_t *)(const void *)(base + r->cuts) : NULL;
    out->blocks = r->ev.nblocks ? (const uint64_t *)(const void *)(base + r->blocks) : NULL;
    out->iov = r->ev.niov ? (const uint32_t *)(const void *)(base + r->iov) : NULL;
    out->calls = r->ev.ncalls ? (const int64_t *)(const void *)(base + r->calls) : NULL;
    out->cmsg = r->ev.ncmsg ? (const struct sp_cmsg *)(const void *)(base + r->cmsg) : NULL;
    return 0;
}

void sp__hist_free(struct sp_hist *h, struct sp_hist_pool *pool)
{
    if (h == NULL)
        return;
    pool->used -= sp__hist_mem(h);
    free(h->recs);
    free(h->data);
    free(h);
}
