/* The wire view: a pane's events in the order they happened on the wire
 * and in the program, segments at their capture time, everything else at
 * its event time. A segment event is logged when the loop reads the capture,
 * which may be after the recv that read its bytes, so the history's order is
 * not the time order: a bounded window of the history around what is on
 * screen is read and sorted, never the whole history. */
#include <stdlib.h>

#include "ui.h"

#define WIRE_SLACK 512 /* events read past those that fit on screen, scrolled back */
#define WIRE_FLOOD                                                                                 \
    4096              /* events read behind the screen when following: a few frames of a flood     \
                       */
#define WIRE_BACK 128 /* events read before the top when scrolled back */
#define FRAME_NS  33333333u /* one frame (DESIGN §7: about 30 a second) */
#define BURST     16        /* more segments than this in one frame time: one summary row */

enum { K_OTHER, K_SEG, K_RECV, K_MSG, K_SEND };

struct item {
    uint64_t idx, key, len;
    uint8_t kind, out, retrans;
    uint8_t hidden; /* folded into a summary row */
    int sum;        /* the summary row this item holds, or -1 */
};

static int by_time(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int add(struct sp_tui *t, const struct ui_pane *p, int framed, uint64_t i, struct item *it)
{
    struct sp_event ev;
    if (sp_hist_get(t->eng, p->sock, i, &ev) != 0 || !ui_tl_visible(t, p, &ev, framed))
        return 0;
    int seg = ev.type == SP_EV_SEGMENT;
    uint8_t kind = seg                     ? K_SEG
                   : ev.type == SP_EV_RECV ? K_RECV
                   : ev.type == SP_EV_MSG  ? K_MSG
                   : ev.type == SP_EV_SEND ? K_SEND
                                           : K_OTHER;
    *it = (struct item){.idx = i,
                        .key = seg ? ev.seg.cap_ns : ev.t_ns,
                        .len = ev.len,
                        .kind = kind,
                        .out = seg && ev.seg.out,
                        .retrans = seg && (ev.seg.marks & SP_SEG_RETRANS),
                        .sum = -1};
    return 1;
}

static void count(struct ui_shown *s, const struct item *it)
{
    s->nseg++;
    s->nout += it->out;
    s->nin += !it->out;
    s->nretrans += it->retrans;
}

/* Under a flood, following live: each frame time holding more than BURST
 * segments shows them as one row, where the last of them was (the recvs,
 * messages, sends and state changes of that time keep their rows). */
static void fold(struct item *v, size_t n, int partial_first, struct ui_shown *sums, int *nsums,
                 int max)
{
    size_t a = 0;
    while (a < n) {
        uint64_t frame = v[a].key / FRAME_NS;
        size_t b = a, nseg = 0;
        while (b < n && v[b].key / FRAME_NS == frame)
            nseg += v[b++].kind == K_SEG;
        if (nseg > BURST && *nsums < max) {
            struct ui_shown *s = &sums[*nsums];
            *s = (struct ui_shown){
                .idx = UI_SHOWN_SUMMARY, .h = 1, .partial = a == 0 && partial_first};
            size_t last = a;
            for (size_t k = a; k < b; k++) {
                if (v[k].kind != K_SEG)
                    continue;
                count(s, &v[k]);
                v[k].hidden = 1;
                last = k;
            }
            s->t_ns = v[last].key;
            v[last].hidden = 0;
            v[last].sum = *nsums;
            (*nsums)++;
        }
        a = b;
    }
}

static int height(struct sp_tui *t, const struct ui_pane *p, uint64_t idx)
{
    struct sp_event ev;
    if (sp_hist_get(t->eng, p->sock, idx, &ev) != 0)
        return 1;
    return ui_tl_height(t, p, &ev, p->w - 1);
}

/* Rows from the newest back until the screen is full. */
static int fill_back(struct sp_tui *t, const struct ui_pane *p, const struct item *v, size_t n,
                     const struct ui_shown *sums, int rows, struct ui_shown *out, int max,
                     int *reached_first)
{
    int k = 0, used = 0;
    size_t i = n;
    while (i > 0 && used < rows && k < max) {
        const struct item *it = &v[--i];
        if (it->hidden)
            continue;
        int h = it->sum >= 0 ? 1 : height(t, p, it->idx);
        if (used + h > rows) {
            if (k > 0) {
                i++;
                break;
            }
            h = rows - used;
        }
        if (it->sum >= 0)
            out[k] = sums[it->sum];
        else
            out[k] = (struct ui_shown){.idx = it->idx, .h = h};
        k++;
        used += h;
    }
    *reached_first = i == 0 && used < rows;
    for (int a = 0, b = k - 1; a < b; a++, b--) {
        struct ui_shown tmp = out[a];
        out[a] = out[b];
        out[b] = tmp;
    }
    return k;
}

static int collect_follow(struct sp_tui *t, struct ui_pane *p, int framed, int rows,
                          struct ui_shown *out, int max, struct item *v, size_t want)
{
    uint64_t begin = sp_hist_begin(t->eng, p->sock), i = sp_hist_end(t->eng, p->sock);
    size_t n = 0;
    while (i > begin && n < want)
        n += (size_t)add(t, p, framed, --i, &v[want - 1 - n]);
    struct item *w = v + (want - n);
    qsort(w, n, sizeof *w, by_time);
    struct ui_shown sums[64];
    int nsums = 0;
    fold(w, n, i > begin, sums, &nsums, 64);
    int first = 0, k = 0;
    if (max > 1)
        k = fill_back(t, p, w, n, sums, rows, out, max - 1, &first);
    if (first && i == begin && begin > 0 && k < rows) {
        for (int a = k; a > 0; a--)
            out[a] = out[a - 1];
        out[0] = (struct ui_shown){.idx = UI_SHOWN_NOTKEPT, .h = 1};
        k++;
    }
    return k;
}

static int collect_scrolled(struct sp_tui *t, struct ui_pane *p, int framed, int rows,
                            struct ui_shown *out, int max, struct item *v, size_t want)
{
    uint64_t begin = sp_hist_begin(t->eng, p->sock), end = sp_hist_end(t->eng, p->sock);
    uint64_t i = p->top - begin > WIRE_BACK ? p->top - WIRE_BACK : begin;
    size_t n = 0;
    for (; i < end && n < want; i++)
        n += (size_t)add(t, p, framed, i, &v[n]);
    qsort(v, n, sizeof *v, by_time);
    /* The top row: the first, in time, of the events at or after p->top in
     * the history (a row or two of the page before may show again; none
     * is skipped). */
    size_t s = n;
    for (size_t j = 0; j < n && s == n; j++)
        if (v[j].idx >= p->top)
            s = j;
    int k = 0, used = 0;
    if (p->top == begin && begin > 0 && k < max) {
        out[k++] = (struct ui_shown){.idx = UI_SHOWN_NOTKEPT, .h = 1};
        used++;
    }
    size_t j = s;
    for (; j < n && used < rows && k < max; j++) {
        int h = height(t, p, v[j].idx);
        if (used + h > rows) {
            if (k > 0)
                break;
            h = rows - used;
        }
        out[k++] = (struct ui_shown){.idx = v[j].idx, .h = h};
        used += h;
    }
    p->more_below = j < n || i < end;
    return k;
}

int ui_wire_collect(struct sp_tui *t, struct ui_pane *p, int framed, int rows, struct ui_shown *out,
                    int max)
{
    uint64_t begin = sp_hist_begin(t->eng, p->sock), end = sp_hist_end(t->eng, p->sock);
    if (!p->follow && p->top < begin)
        p->top = begin;
    if (!p->follow && p->top >= end)
        p->follow = 1;
    p->more_below = 0;
    size_t want = (size_t)(rows > 0 ? rows : 0) + (p->follow ? WIRE_FLOOD : WIRE_SLACK + WIRE_BACK);
    struct item *v = sp_xreallocarray(NULL, want, sizeof *v);
    int k = p->follow ? collect_follow(t, p, framed, rows, out, max, v, want)
                      : collect_scrolled(t, p, framed, rows, out, max, v, want);
    free(v);
    return k;
}

void ui_wire_draw_summary(struct sp_tui *t, const struct ui_shown *sh, int y, int x, int w)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appendf(&b, "%s %s%u segments in one frame (%u in, %u out", t->th.g.ellipsis,
                   sh->partial ? "at least " : "", (unsigned)sh->nseg, (unsigned)sh->nin,
                   (unsigned)sh->nout);
    if (sh->nretrans)
        sp_buf_appendf(&b, ", %u retransmission%s", (unsigned)sh->nretrans,
                       sh->nretrans == 1 ? "" : "s");
    sp_buf_appends(&b, ")");
    int cx = x, end = x + w;
    if (w >= 56)
        cx += ui_putf(t, y, cx, end - cx, UI_R_DIM, "%8.3f", (double)sh->t_ns / 1e9) + 1;
    cx += ui_put(t, y, cx, end - cx, UI_R_WARN, sp_buf_str(&b));
    ui_put(t, y, cx + 2, end - cx - 2, UI_R_DIM, "PgUp: each one");
    sp_buf_cleanup(&b);
}
