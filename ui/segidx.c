/* Where each captured segment lies on its stream, per socket and direction,
 * so that a recv chunk or a message finds the segments that carried it by
 * offset (a binary search), however many events lie between them in the
 * history. Built from the history as events arrive (each event read once),
 * pruned as the history drops events: bounded like the history. */
#include <stdlib.h>
#include <string.h>

#include "ui.h"

#define SCAN_BUDGET (2 * SP_HIST_EVENTS_MAX) /* history events read per call */

static void dir_free(struct ui_segdir *d)
{
    free(d->e);
    memset(d, 0, sizeof *d);
}

static void slot_reset(struct ui_segidx *x, uint32_t sock)
{
    dir_free(&x->dir[0]);
    dir_free(&x->dir[1]);
    x->sock = sock;
    x->next = 0;
    x->any = 0;
    x->skipped = 0;
}

static void drop_front(struct ui_segdir *d)
{
    uint64_t end = d->e[d->first].off + d->e[d->first].len;
    if (end > d->pruned_end)
        d->pruned_end = end;
    d->first++;
}

/* The first entry at or after lo. */
static size_t lower_bound(const struct ui_segdir *d, uint64_t lo)
{
    size_t a = d->first, b = d->n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (d->e[m].off < lo)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* The first entry that may reach into [lo, ...): the one at lo, or the
 * segments before it that run past lo. */
static size_t first_over(const struct ui_segdir *d, uint64_t lo)
{
    size_t j = lower_bound(d, lo);
    while (j > d->first && d->e[j - 1].off + d->e[j - 1].len > lo)
        j--;
    return j;
}

/* How far from lo the entries cover [lo, hi) without a hole. */
static uint64_t covered_to(const struct ui_segdir *d, uint64_t lo, uint64_t hi)
{
    uint64_t cov = lo;
    for (size_t k = first_over(d, lo); k < d->n && d->e[k].off < hi; k++) {
        if (d->e[k].off > cov)
            break;
        uint64_t end = d->e[k].off + d->e[k].len;
        if (end > cov)
            cov = end;
    }
    return cov;
}

/* A segment seen again at the same offset (a retransmission) is one entry,
 * the longer; a retransmission cut elsewhere counts only when it brings
 * bytes no entry has (its original was not captured). */
static void dir_add(struct ui_segdir *d, uint64_t off, uint32_t len, uint64_t idx, int retrans)
{
    size_t i = lower_bound(d, off);
    if (i < d->n && d->e[i].off == off) {
        if (len > d->e[i].len)
            d->e[i].len = len;
        d->e[i].idx = idx;
        return;
    }
    if (retrans && covered_to(d, off, off + len) >= off + len)
        return;
    if (d->n - d->first >= SP_HIST_EVENTS_MAX) {
        drop_front(d);
        if (i < d->first)
            i = d->first;
    }
    if (d->first > 0 && (d->n == d->cap || d->first >= d->n / 2)) {
        memmove(d->e, d->e + d->first, (d->n - d->first) * sizeof *d->e);
        d->n -= d->first;
        i -= d->first;
        d->first = 0;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->e = sp_xreallocarray(d->e, d->cap, sizeof *d->e);
    }
    memmove(d->e + i + 1, d->e + i, (d->n - i) * sizeof *d->e);
    d->e[i] = (struct ui_segent){.off = off, .idx = idx, .len = len};
    d->n++;
}

/* Drops the entries whose events the history no longer has. Offsets grow
 * with time, so the oldest entries are at the front. */
static void dir_prune(struct ui_segdir *d, uint64_t begin)
{
    while (d->first < d->n && d->e[d->first].idx < begin)
        drop_front(d);
}

static struct ui_segidx *slot_for(struct sp_tui *t, uint32_t sock, int create)
{
    struct ui_segidx *pick = NULL;
    for (size_t i = 0; i < UI_SEGIDX_SLOTS; i++) {
        struct ui_segidx *x = &t->segidx[i];
        if (x->sock == sock)
            return x;
        if (pick == NULL || (pick->sock != 0 && (x->sock == 0 || x->used < pick->used)))
            pick = x;
    }
    if (!create)
        return NULL;
    slot_reset(pick, sock);
    return pick;
}

struct ui_segidx *ui_segidx_get(struct sp_tui *t, uint32_t sock, int create)
{
    if (sock == 0)
        return NULL;
    struct ui_segidx *x = slot_for(t, sock, create);
    if (x == NULL)
        return NULL;
    x->used = ++t->segidx_clock;
    uint64_t begin = sp_hist_begin(t->eng, sock), end = sp_hist_end(t->eng, sock);
    if (end < x->next)
        slot_reset(x, sock); /* the socket's history was freed */
    if (end == 0)
        return NULL;
    if (x->next < begin) {
        x->skipped = 1;
        x->next = begin;
    }
    dir_prune(&x->dir[0], begin);
    dir_prune(&x->dir[1], begin);
    struct sp_event ev;
    for (int k = 0; x->next < end && k < SCAN_BUDGET; k++, x->next++) {
        if (sp_hist_get(t->eng, sock, x->next, &ev) != 0 || ev.type != SP_EV_SEGMENT)
            continue;
        x->any = 1;
        /* Without the sender's SYN the offsets are guesses: not placed. */
        if (ev.len == 0 || !ev.seg.isn_known)
            continue;
        dir_add(&x->dir[ev.seg.out ? 1 : 0], ev.off, (uint32_t)ev.len, x->next,
                (ev.seg.marks & SP_SEG_RETRANS) != 0);
    }
    return x;
}

static const char *gap_why(const struct ui_segidx *x, const struct ui_segdir *d, uint64_t gap)
{
    int before = d->first < d->n && d->e[d->first].off <= gap;
    if (!before && (gap < d->pruned_end || x->skipped))
        return "dropped from history";
    if (!before)
        return "the capture started later";
    return "not all captured";
}

long ui_segidx_query(const struct ui_segidx *x, int out, uint64_t lo, uint64_t hi, uint64_t *marks,
                     size_t *nmarks, size_t max, const char **why)
{
    const struct ui_segdir *d = &x->dir[out ? 1 : 0];
    *nmarks = 0;
    *why = NULL;
    if (hi <= lo)
        return 0;
    uint64_t cov = lo;
    long n = 0;
    for (size_t k = first_over(d, lo); k < d->n && d->e[k].off < hi; k++) {
        const struct ui_segent *e = &d->e[k];
        if (e->off + e->len <= lo)
            continue;
        if (e->off > cov)
            break;
        n++;
        if (e->off > lo && *nmarks < max)
            marks[(*nmarks)++] = e->off - lo;
        if (e->off + e->len > cov)
            cov = e->off + e->len;
    }
    if (cov < hi) {
        *nmarks = 0;
        *why = gap_why(x, d, cov);
        return -1;
    }
    return n;
}

void ui_segidx_cleanup(struct sp_tui *t)
{
    for (size_t i = 0; i < UI_SEGIDX_SLOTS; i++)
        slot_reset(&t->segidx[i], 0);
}
