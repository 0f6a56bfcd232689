/* The timeline: one history event as one row (or, in hex, a few rows), with
 * recv boundaries marked inside messages and message ends marked inside
 * chunks. Only events on screen are ever rendered, and each row renders no
 * more bytes than fit its width. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sockpit/proto/addr.h"
#include "sockpit/proto/buf.h"
#include "sockpit/proto/cmsg.h"
#include "sockpit/proto/frame.h"
#include "sockpit/proto/pktsum.h"
#include "sockpit/proto/tlsrec.h"
#include "ui.h"

#define HEX_ROWS_MAX  4
#define CMSG_ROWS_MAX 4 /* control message lines shown under a recv */
#define MARKS_MAX     64
#define MARK_SCAN     256 /* events searched around a chunk for message ends */
#define CONTENT_MIN   12  /* columns a data row's bytes keep beside what the wire says */

/* A row being filled from left to right. */
struct row {
    struct sp_tui *t;
    int y, x, end;
};

static void row_text(struct row *r, int role, const char *s)
{
    if (r->x < r->end)
        r->x += ui_put(r->t, r->y, r->x, r->end - r->x, role, s);
}

static void row_textf(struct row *r, int role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row_textf(struct row *r, int role, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    row_text(r, role, buf);
}

static void row_peer(struct row *r, int role, const char *s)
{
    if (s && r->x < r->end)
        r->x += ui_put_peer(r->t, r->y, r->x, r->end - r->x, role, s, strlen(s), NULL);
}

/* An address with its length: an abstract Unix name holds NULs. */
static void row_addr(struct row *r, int role, const char *s, size_t len)
{
    if (s && r->x < r->end)
        r->x +=
            ui_put_peer(r->t, r->y, r->x, r->end - r->x, role, s, sp_addr_text_len(s, len), NULL);
}

/* Which events the pane's view shows. Under raw framing there are no
 * messages, so the message view shows the chunks. */
int ui_tl_visible(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *ev, int framed)
{
    (void)t;
    switch (ev->type) {
    case SP_EV_RECV:
        return p->view != UI_VIEW_MESSAGES || !framed;
    case SP_EV_MSG:
        return p->view != UI_VIEW_CHUNKS; /* the wire view shows both */
    case SP_EV_SUMMARY:
    case SP_EV_CMD_ERROR:
        return 0;
    default:
        return 1;
    }
}

static int is_data(const struct sp_event *ev)
{
    return ev->type == SP_EV_RECV || ev->type == SP_EV_MSG || ev->type == SP_EV_SEND;
}

static int prefix_width(int w)
{
    return w >= 56 ? 32 : 18;
}

/* Bytes per hex row in room columns: three for the hex (a separator and two
 * digits) and one in the ASCII column after a space. */
static int hex_fit(int room)
{
    int n = (room - 1) / 4;
    return n > 0 ? n : 0;
}

static int hex_per_row(int w)
{
    int n = hex_fit(w - prefix_width(w));
    return n > 0 ? n : 1;
}

/* Rows of control messages under a recv (or a send --fd): one each, the
 * last saying how many more when they do not all fit. */
static int cmsg_rows(const struct sp_event *ev)
{
    size_t n = sp_event_cmsg_lines(ev);
    return n > CMSG_ROWS_MAX ? CMSG_ROWS_MAX : (int)n;
}

static int wire_line(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *ev);

static int data_rows(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *ev, int w)
{
    if (!p->hex || !is_data(ev) || ev->data_len == 0)
        return 1;
    size_t per = (size_t)hex_per_row(w);
    size_t rows = (ev->data_len + per - 1) / per;
    return (rows > HEX_ROWS_MAX ? HEX_ROWS_MAX : (int)rows) + wire_line(t, p, ev);
}

int ui_tl_height(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *ev, int w)
{
    return data_rows(t, p, ev, w) + cmsg_rows(ev);
}

static void sort_marks(uint64_t *m, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = m[i];
        size_t j = i;
        while (j > 0 && m[j - 1] > v) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = v;
    }
}

/* Message ends inside a recv chunk: the msg events logged near the chunk
 * (they follow it, or precede it, depending on when the decoder ran) whose
 * frame ends within the chunk's stream range. Positions are chunk offsets in
 * (0, len]: a mark at len says a message ended exactly with the chunk. */
static size_t chunk_marks(struct sp_tui *t, const struct ui_pane *p, uint64_t idx,
                          const struct sp_event *chunk, uint64_t *marks)
{
    uint64_t lo = chunk->off, hi = chunk->off + chunk->len;
    uint64_t begin = sp_hist_begin(t->eng, p->sock), end = sp_hist_end(t->eng, p->sock);
    size_t n = 0;
    struct sp_event ev;
    for (int dir = -1; dir <= 1; dir += 2) {
        uint64_t i = idx;
        for (int k = 0; k < MARK_SCAN && n < MARKS_MAX; k++) {
            if (dir < 0) {
                if (i <= begin)
                    break;
                i--;
            } else {
                if (i + 1 >= end)
                    break;
                i++;
            }
            if (sp_hist_get(t->eng, p->sock, i, &ev) != 0)
                break;
            if (ev.type == SP_EV_RECV)
                break;
            if (ev.type == SP_EV_MSG && ev.end_off > lo && ev.end_off <= hi)
                marks[n++] = ev.end_off - lo;
        }
    }
    sort_marks(marks, n);
    return n;
}

/* The segments (the wire view) that carried a data event's bytes, found by
 * stream offset in the socket's segment index: where each began inside the
 * event (marks), and how many there were. Returns 0 when the socket has no
 * segments to speak of (capture never on), 1 with *nseg, or -1 with *why
 * when they cannot be known. */
static int seg_marks(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *d,
                     uint64_t *marks, size_t *nmarks, long *nseg, const char **why)
{
    struct sp_wire_info wi;
    *nmarks = 0;
    if (d->type != SP_EV_MSG && d->kind != SP_SOCK_TCP)
        return 0;
    int on = sp_engine_wire_info(t->eng, p->sock, &wi);
    const struct ui_segidx *x = ui_segidx_get(t, p->sock, on);
    if (x == NULL || (!on && !x->any))
        return 0;
    uint64_t lo = d->off, hi = d->type == SP_EV_MSG ? d->end_off : d->off + d->len;
    *nseg = ui_segidx_query(x, d->type == SP_EV_SEND, lo, hi, marks, nmarks, MARKS_MAX, why);
    return *nseg < 0 ? -1 : 1;
}

/* Whether the wire has something to say about a data event's bytes (the
 * segments that carried them, or why they are not known): in hex, where
 * the bytes fill the rows, it gets a row of its own under them. */
static int says_wire(const struct sp_event *ev, int segs, long nseg)
{
    return ev->type == SP_EV_MSG ? segs != 0 : segs > 0 && nseg > 1;
}

static int wire_line(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *ev)
{
    uint64_t marks[MARKS_MAX];
    size_t n;
    long nseg = 0;
    const char *why;
    int segs = seg_marks(t, p, ev, marks, &n, &nseg, &why);
    return says_wire(ev, segs, nseg);
}

static size_t msg_marks(const struct sp_event *ev, uint64_t *marks)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->ncuts && n < MARKS_MAX; i++)
        if (ev->cuts[i] > 0 && ev->cuts[i] < ev->len)
            marks[n++] = ev->cuts[i];
    sort_marks(marks, n);
    return n;
}

static int data_role(const struct sp_event *ev)
{
    return ev->type == SP_EV_SEND ? UI_R_SEND : ev->type == SP_EV_MSG ? UI_R_MSG : UI_R_RECV;
}

/* Text content: the bytes rendered safe, with a boundary mark at each mark
 * position, clipped to the row. */
static void draw_text_content(struct row *r, const struct sp_event *ev, const uint64_t *marks,
                              size_t nmarks, const uint64_t *smarks, size_t nsmarks)
{
    struct sp_tui *t = r->t;
    int role = data_role(ev);
    row_text(r, UI_R_DIM, "\"");
    size_t pos = 0, mi = 0, si = 0;
    int clipped = 0;
    while (pos < ev->data_len || (mi < nmarks && marks[mi] <= ev->data_len) ||
           (si < nsmarks && smarks[si] <= ev->data_len)) {
        size_t stop = ev->data_len;
        if (mi < nmarks && marks[mi] < stop)
            stop = (size_t)marks[mi];
        if (si < nsmarks && smarks[si] < stop)
            stop = (size_t)smarks[si];
        if (stop > pos) {
            int room = r->end - r->x - 1;
            size_t used = 0;
            if (room > 0)
                r->x += ui_put_peer(t, r->y, r->x, room, role, ev->data + pos, stop - pos, &used);
            if (used < stop - pos) {
                clipped = 1;
                break;
            }
            pos = stop;
        }
        if (si < nsmarks && smarks[si] <= pos) {
            if (r->x >= r->end - 1) {
                clipped = 1;
                break;
            }
            row_text(r, UI_R_MARK, t->th.g.segmark);
            si++;
        } else if (mi < nmarks && marks[mi] <= pos) {
            if (r->x >= r->end - 1) {
                clipped = 1;
                break;
            }
            row_text(r, UI_R_MARK, t->th.g.mark);
            mi++;
        } else if (pos >= ev->data_len) {
            break;
        }
    }
    if (!clipped && ev->data_len < ev->len)
        clipped = 1;
    if (clipped) {
        if (r->x >= r->end)
            r->x = r->end - 1;
        r->x += ui_put(t, r->y, r->x, 1, UI_R_DIM, t->th.g.ellipsis);
    } else {
        row_text(r, UI_R_DIM, "\"");
    }
}

/* Hex content: up to h rows of bytes, each byte in three columns (a
 * separator, then two digits); the separator becomes a mark where a boundary
 * fell before the byte. After the hex, as hexdump -C does, the same bytes as
 * ASCII: printable ones as themselves, every other byte as a dot. */
static void draw_hex_content(struct row *r, const struct sp_event *ev, const uint64_t *marks,
                             size_t nmarks, const uint64_t *smarks, size_t nsmarks, int h)
{
    struct sp_tui *t = r->t;
    int role = data_role(ev);
    size_t per = r->end > r->x ? (size_t)hex_fit(r->end - r->x) : 0;
    if (per == 0)
        return;
    int ascii_x = r->x + (int)per * 3 + 1;
    int line = 0, cx = r->x;
    size_t mi = 0, si = 0, i;
    for (i = 0; i < ev->data_len; i++) {
        if (i > 0 && i % per == 0) {
            if (++line >= h)
                break;
            cx = r->x;
        }
        if (line == h - 1 && i % per == per - 1 && i + 1 < ev->data_len) {
            ui_put(t, r->y + line, cx + 1, 2, UI_R_DIM, t->th.g.ellipsis);
            return;
        }
        while (mi < nmarks && marks[mi] < i)
            mi++;
        while (si < nsmarks && smarks[si] < i)
            si++;
        /* One column between bytes: where a recv or message boundary and a
         * segment boundary fall together, the recv/message mark wins (the
         * row's text says how many segments there were). */
        if (i > 0 && mi < nmarks && marks[mi] == i)
            ui_put(t, r->y + line, cx, 1, UI_R_MARK, t->th.g.mark);
        else if (i > 0 && si < nsmarks && smarks[si] == i)
            ui_put(t, r->y + line, cx, 1, UI_R_MARK, t->th.g.segmark);
        char hx[3];
        snprintf(hx, sizeof(hx), "%02x", ev->data[i]);
        ui_put(t, r->y + line, cx + 1, 2, role, hx);
        int printable = ev->data[i] >= 0x20 && ev->data[i] < 0x7f;
        char ch[2] = {printable ? (char)ev->data[i] : '.', '\0'};
        ui_put(t, r->y + line, ascii_x + (int)(i % per), 1, printable ? role : UI_R_DIM, ch);
        cx += 3;
    }
    if (i < ev->data_len)
        return;
    while (mi < nmarks && marks[mi] < i)
        mi++;
    if (ev->data_len < ev->len)
        ui_put(t, r->y + line, cx, 1, UI_R_DIM, t->th.g.ellipsis);
    else if (mi < nmarks && marks[mi] == i)
        ui_put(t, r->y + line, cx, 1, UI_R_MARK, t->th.g.mark);
}

static void fmt_time(char *buf, size_t len, uint64_t ns)
{
    snprintf(buf, len, "%8.3f", (double)ns / 1e9);
}

/* A blocks series' block lengths ("blocks 3+2"), before the content so a
 * long message cannot push them off the row. */
static void draw_blocks(struct row *r, const struct sp_event *ev)
{
    enum { SHOWN = 8 };
    row_text(r, UI_R_DIM, "blocks ");
    for (size_t i = 0; i < ev->nblocks && i < SHOWN; i++)
        row_textf(r, UI_R_DIM, "%s%llu", i ? "+" : "", (unsigned long long)ev->blocks[i]);
    if (ev->nblocks > SHOWN)
        row_textf(r, UI_R_DIM, "+... (%zu blocks)", ev->nblocks);
    r->x++;
}

/* After a message: the segments that carried it and the recv() calls that
 * read it, or the chunks it spans (and why the segments are not known). */
static void msg_suffix(char *buf, size_t len, const struct sp_event *ev, int segs, long nseg,
                       const char *why, int brief)
{
    uint64_t reads = ev->chunk_last - ev->chunk_first + 1;
    int n;
    if (segs > 0 && nseg > 0 && brief)
        n = snprintf(buf, len, "(%ld seg, %llu recv)", nseg, (unsigned long long)reads);
    else if (segs > 0 && nseg > 0)
        n = snprintf(buf, len, "(arrived in %ld segment%s, read by %llu recv() call%s)", nseg,
                     nseg == 1 ? "" : "s", (unsigned long long)reads, reads == 1 ? "" : "s");
    else if (ev->chunk_last > ev->chunk_first)
        n = snprintf(buf, len, "(chunks %llu-%llu)", (unsigned long long)ev->chunk_first,
                     (unsigned long long)ev->chunk_last);
    else
        n = snprintf(buf, len, "(chunk %llu)", (unsigned long long)ev->chunk_first);
    if (segs < 0 && n > 0 && (size_t)n < len && brief)
        snprintf(buf + n, len - (size_t)n, " (segments not known)");
    else if (segs < 0 && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (segments not known: %s)", why);
}

/* Columns the bytes of a data row would take whole (quotes and marks
 * included), counted only up to limit. */
static int content_cols(struct sp_tui *t, const struct sp_event *ev, size_t nmarks, int limit)
{
    if (limit <= 0 || ev->data_len < ev->len)
        return limit;
    struct sp_buf b;
    sp_buf_init(&b);
    size_t used = 0;
    size_t w = sp_render_cols(&b, ev->data, ev->data_len, t->th.render, (size_t)limit, &used);
    sp_buf_cleanup(&b);
    if (used < ev->data_len)
        return limit;
    size_t cols = w + nmarks + 2;
    return cols < (size_t)limit ? (int)cols : limit;
}

static void draw_data(struct sp_tui *t, const struct ui_pane *p, uint64_t idx,
                      const struct sp_event *ev, struct row *r, int h)
{
    int wide = r->end - r->x >= 56;
    char tm[32];
    if (wide) {
        fmt_time(tm, sizeof(tm), ev->t_ns);
        row_text(r, UI_R_DIM, tm);
        r->x++;
    }
    const char *dir = ev->type == SP_EV_SEND ? t->th.g.out : t->th.g.in;
    const char *name = ev->type == SP_EV_SEND ? "send" : ev->type == SP_EV_MSG ? "msg" : "recv";
    int role = data_role(ev);
    row_text(r, role, dir);
    r->x++;
    int x_label = r->x;
    row_textf(r, role, "%s #%llu", name, (unsigned long long)ev->seq);
    /* A column for the label, pushed right by long sequence numbers. */
    int label_end = x_label + (wide ? 11 : 9);
    r->x = r->x + 1 > label_end ? r->x + 1 : label_end;
    char size[32];
    snprintf(size, sizeof(size), wide ? "%6llu B" : "%4lluB", (unsigned long long)ev->len);
    row_text(r, UI_R_DIM, size);
    r->x += 2;
    if (p->view == UI_VIEW_WIRE && sp_kind_is_stream(ev->kind)) {
        /* The bytes' place on the stream, as the segment rows give theirs. */
        uint64_t end = ev->type == SP_EV_MSG ? ev->end_off : ev->off + ev->len;
        row_textf(r, UI_R_DIM, "@%llu-%llu", (unsigned long long)ev->off, (unsigned long long)end);
        r->x += 2;
    }
    if (ev->type == SP_EV_RECV && ev->kind == SP_SOCK_PACKET && ev->summary != NULL) {
        /* A frame's bytes say little as text: what it is comes first. */
        const char *pt = sp_pkttype_name(ev->pkttype);
        row_text(r, UI_R_DIM, pt != NULL ? pt : "type?");
        r->x++;
        row_peer(r, role, ev->summary);
        r->x += 2;
    } else if (ev->type == SP_EV_RECV && ev->from && ev->from[0]) {
        row_text(r, UI_R_DIM, "from ");
        row_addr(r, UI_R_DIM, ev->from, ev->from_len);
        r->x++;
    }
    if (ev->type == SP_EV_MSG && ev->nblocks > 0 && ev->blocks != NULL)
        draw_blocks(r, ev);
    uint64_t marks[MARKS_MAX];
    size_t nmarks = 0;
    if (ev->type == SP_EV_MSG)
        nmarks = msg_marks(ev, marks);
    else if (ev->type == SP_EV_RECV)
        nmarks = chunk_marks(t, p, idx, ev, marks);
    uint64_t smarks[MARKS_MAX];
    size_t nsmarks = 0;
    long nseg = 0;
    const char *why = NULL;
    int segs = seg_marks(t, p, ev, smarks, &nsmarks, &nseg, &why);
    char suffix[160] = "";
    struct row content = *r;
    /* What the wire says about the bytes must not be pushed off the row by
     * them: they give way first, down to CONTENT_MIN columns; where even
     * that leaves no room for the long words, the counts say it briefly. */
    int keep = segs != 0 ? content_cols(t, ev, nmarks + nsmarks, CONTENT_MIN) : 0;
    for (int brief = 0; brief < 2; brief++) {
        suffix[0] = '\0';
        if (ev->type == SP_EV_MSG)
            msg_suffix(suffix, sizeof suffix, ev, segs, nseg, why, brief);
        else if (segs > 0 && nseg > 1)
            snprintf(suffix, sizeof suffix, brief ? "(%ld seg)" : "(%ld segments)", nseg);
        int need = segs != 0 ? ui_width(suffix) + 1 : 0;
        if (need > 0 && r->end - r->x - need >= keep) {
            content.end = r->end - need;
            break;
        }
    }
    if (p->hex) {
        int line = says_wire(ev, segs, nseg) && h >= 2;
        draw_hex_content(r, ev, marks, nmarks, smarks, nsmarks, h - line);
        if (line) {
            struct row w = {t, r->y + h - 1, r->x, r->end};
            for (int brief = 0; brief < 2; brief++) {
                if (ev->type == SP_EV_MSG)
                    msg_suffix(suffix, sizeof suffix, ev, segs, nseg, why, brief);
                else
                    snprintf(suffix, sizeof suffix, brief ? "(%ld seg)" : "(%ld segments)", nseg);
                if (ui_width(suffix) <= w.end - w.x)
                    break;
            }
            row_text(&w, UI_R_DIM, suffix);
        }
    } else {
        draw_text_content(&content, ev, marks, nmarks, smarks, nsmarks);
        r->x = content.x + 1;
        row_text(r, UI_R_DIM, suffix);
        if (ev->type == SP_EV_SEND && ev->writes > 1)
            row_textf(r, UI_R_DIM, "(%u writes)", (unsigned)ev->writes);
        if (ev->type == SP_EV_RECV && ev->unread >= 0)
            row_textf(r, UI_R_DIM, "(unread before: %lld)", (long long)ev->unread);
        if (ev->truncated && ev->type == SP_EV_MSG)
            row_textf(r, UI_R_WARN, " truncated by %s", sp_frame_cut_name(ev->truncated));
        else if (ev->truncated)
            row_text(r, UI_R_WARN, " truncated");
    }
}

/* A TCP FIN goes out only after the bytes queued before it (unsent > 0). */
static void shut_text(struct row *r, const struct sp_event *ev)
{
    const char *how = ev->how;
    if (!how) {
        row_text(r, UI_R_WARN, "shutdown");
        return;
    }
    if (strcmp(how, "rd") == 0) {
        row_text(r, UI_R_WARN, "we called shutdown(SHUT_RD): no more reading");
        return;
    }
    int wr = strcmp(how, "wr") == 0;
    char fin[64] = "FIN sent";
    if (ev->unsent > 0)
        snprintf(fin, sizeof fin, "FIN queued behind %lld unsent bytes", (long long)ev->unsent);
    row_textf(r, UI_R_WARN, "we called shutdown(%s): %s, %s", wr ? "SHUT_WR" : "SHUT_RDWR", fin,
              wr ? "still reading" : "no more reading");
}

/* A segment's flags, its place on the stream (@ is the same offset as
 * recv's and send's), window, options and marks. */
static void seg_body(struct row *r, const struct sp_event *ev, int role)
{
    static const char *const names[8] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    static const int order[8] = {1, 0, 2, 3, 4, 5, 6, 7};
    const struct sp_seg *g = &ev->seg;
    int first = 1;
    for (int i = 0; i < 8; i++)
        if (g->flags & (1u << order[i])) {
            row_textf(r, role, "%s%s", first ? "" : "|", names[order[i]]);
            first = 0;
        }
    row_textf(r, role, " seq %u", (unsigned)g->rel_seq);
    if (g->flags & 0x10u)
        row_textf(r, UI_R_DIM, " ack %u", (unsigned)g->rel_ack);
    row_textf(r, role, " len %llu @%llu", (unsigned long long)ev->len, (unsigned long long)ev->off);
    row_textf(r, UI_R_DIM, " win %u", (unsigned)g->win);
    if (g->mss)
        row_textf(r, UI_R_DIM, " mss %u", (unsigned)g->mss);
    if (g->wscale >= 0)
        row_textf(r, UI_R_DIM, " wscale %d", g->wscale);
    for (size_t k = 0; k < g->nsack && k < SP_SACK_MAX; k++)
        row_textf(r, UI_R_DIM, "%s%u-%u", k ? " " : " sack ", (unsigned)g->sack[k][0],
                  (unsigned)g->sack[k][1]);
    for (unsigned bit = 1; bit <= SP_SEG_GAP; bit <<= 1)
        if (g->marks & bit)
            row_textf(r, UI_R_WARN, " (%s)", sp_seg_mark_name(bit));
    if (!g->isn_known)
        row_text(r, UI_R_DIM, " (SYN not seen)");
}

static int seg_role(const struct sp_seg *g)
{
    return g->marks ? UI_R_WARN : g->out ? UI_R_SEND : UI_R_RECV;
}

/* A segment row of the chunk and message views, in log order. */
static void seg_row(struct row *r, const struct sp_event *ev)
{
    int role = seg_role(&ev->seg);
    row_text(r, role, ev->seg.out ? "wire out " : "wire in  ");
    seg_body(r, ev, role);
}

/* A segment row of the wire view: at its capture time, with the arrow of
 * the data rows (out: sent by us). */
static void wire_seg_row(struct sp_tui *t, struct row *r, const struct sp_event *ev)
{
    char tm[32];
    if (r->end - r->x >= 56) {
        fmt_time(tm, sizeof(tm), ev->seg.cap_ns);
        row_text(r, UI_R_DIM, tm);
        r->x++;
    }
    int role = seg_role(&ev->seg);
    row_text(r, role, ev->seg.out ? t->th.g.out : t->th.g.in);
    row_text(r, role, " seg ");
    seg_body(r, ev, role);
}

static void tls_row(struct row *r, const struct sp_event *ev);

static void draw_other(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *ev,
                       struct row *r)
{
    if (ev->type == SP_EV_SEGMENT && p->view == UI_VIEW_WIRE) {
        wire_seg_row(t, r, ev);
        return;
    }
    char tm[32];
    if (r->end - r->x >= 56) {
        fmt_time(tm, sizeof(tm), ev->t_ns);
        row_text(r, UI_R_DIM, tm);
        r->x++;
    }
    int role = UI_R_STATE;
    if (ev->type == SP_EV_ERROR || ev->type == SP_EV_FRAME_ERROR ||
        (ev->type == SP_EV_CMD_ERROR && !ev->expected))
        role = UI_R_ERROR;
    row_text(r, role, ev->type == SP_EV_ERROR ? "!" : t->th.g.dot);
    r->x++;
    switch (ev->type) {
    case SP_EV_LISTENING:
        row_text(r, role, "listening on ");
        row_addr(r, role, ev->local, ev->local_len);
        break;
    case SP_EV_CONNECTED:
        row_text(r, role, "connected ");
        row_addr(r, role, ev->local, ev->local_len);
        row_textf(r, role, " %s ", t->th.g.both_ways);
        row_addr(r, role, ev->peer, ev->peer_len);
        break;
    case SP_EV_ACCEPTED:
        if (ev->sock != p->sock) {
            row_textf(r, role, "accepted [%u] from ", (unsigned)ev->sock);
            row_addr(r, role, ev->peer, ev->peer_len);
        } else {
            row_text(r, role, "accepted from ");
            row_addr(r, role, ev->peer, ev->peer_len);
            row_textf(r, role, " by listener [%u]", (unsigned)ev->parent);
        }
        break;
    case SP_EV_BOUND:
        row_text(r, role, "bound to ");
        row_addr(r, role, ev->local, ev->local_len);
        break;
    case SP_EV_FRAME_ERROR:
        row_textf(r, role, "framing error at byte %llu: ", (unsigned long long)ev->off);
        row_peer(r, role, ev->reason);
        break;
    case SP_EV_EOF:
        row_text(r, UI_R_WARN, "peer sent FIN: recv() returned 0 (EOF)");
        break;
    case SP_EV_SHUTDOWN:
        shut_text(r, ev);
        break;
    case SP_EV_SEGMENT:
        seg_row(r, ev);
        break;
    case SP_EV_STATE:
        row_text(r, role, "kernel TCP state ");
        row_peer(r, UI_R_TITLE, ev->tcp);
        break;
    case SP_EV_ERROR:
        row_text(r, role, "error ");
        row_peer(r, role, ev->code);
        if (ev->op && ev->op[0]) {
            row_text(r, role, " in ");
            row_peer(r, role, ev->op);
        }
        if (ev->message && ev->message[0]) {
            row_text(r, role, ": ");
            row_peer(r, role, ev->message);
        }
        break;
    case SP_EV_CLOSED:
        row_text(r, role, "closed");
        if (ev->reason && ev->reason[0]) {
            row_text(r, role, ": ");
            row_peer(r, role, ev->reason);
        }
        break;
    case SP_EV_SUMMARY:
        row_textf(r, role, "summary: in %llu B, out %llu B, %llu chunks, %llu msgs",
                  (unsigned long long)ev->bytes_in, (unsigned long long)ev->bytes_out,
                  (unsigned long long)ev->chunks, (unsigned long long)ev->msgs);
        break;
    case SP_EV_NOTICE:
        row_peer(r, UI_R_TITLE, ev->message);
        break;
    case SP_EV_DROPPED:
        row_textf(r, UI_R_WARN, "%s %llu older events dropped (history cap)", t->th.g.ellipsis,
                  (unsigned long long)ev->dropped);
        break;
    case SP_EV_CMD_ERROR:
        row_peer(r, role, ev->message);
        break;
    case SP_EV_EXPECT:
        /* op and mode are our own names; the captures are peer bytes. */
        row_textf(r, UI_R_OK, "expect: %s #%llu matched %s", ev->op ? ev->op : "",
                  (unsigned long long)ev->seq, ev->mode ? ev->mode : "");
        if (ev->latency_ns >= 0)
            row_textf(r, UI_R_OK, ", %lld.%03lld ms after send #%llu",
                      (long long)(ev->latency_ns / 1000000),
                      (long long)(ev->latency_ns % 1000000 / 1000),
                      (unsigned long long)ev->send_seq);
        if (ev->message != NULL && ev->message[0] != '\0') {
            row_text(r, UI_R_OK, " captured ");
            row_peer(r, UI_R_OK, ev->message);
        }
        break;
    case SP_EV_RULE:
        row_textf(r, UI_R_OK, "rule %u (%s) answered %s #%llu: %llu bytes%s, fired %llu",
                  (unsigned)ev->rule, ev->mode ? ev->mode : "", ev->op ? ev->op : "",
                  (unsigned long long)ev->seq, (unsigned long long)ev->len,
                  ev->then_close ? ", closing" : "", (unsigned long long)ev->fired);
        break;
    case SP_EV_TLS_RECORD:
    case SP_EV_TLS:
        tls_row(r, ev);
        break;
    case SP_EV_ICMP_ERROR:
        /* Short: the pane is narrow, the JSON and the text line say more. */
        row_text(r, UI_R_ERROR, "ICMP ");
        row_peer(r, UI_R_ERROR, ev->code);
        if (ev->message && ev->message[0]) {
            row_text(r, UI_R_ERROR, " (");
            row_peer(r, UI_R_ERROR, ev->message);
            row_text(r, UI_R_ERROR, ")");
        }
        if (ev->cmsg != NULL && ev->ncmsg > 0 && ev->cmsg[0].addr[0] != '\0') {
            row_text(r, role, " from ");
            row_peer(r, role, ev->cmsg[0].addr);
        }
        if (ev->peer && ev->peer[0]) {
            row_text(r, role, " for ");
            row_addr(r, role, ev->peer, ev->peer_len);
        }
        break;
    default:
        row_text(r, role, sp_event_name(ev->type));
        break;
    }
}

/* The TLS layer between the ciphertext chunks and the plaintext messages: a
 * record with its direction, its place on the ciphertext stream and the
 * chunks it spans; or what OpenSSL reported. */
static void tls_row(struct row *r, const struct sp_event *ev)
{
    int role = UI_R_MARK;
    if (ev->type == SP_EV_TLS) {
        const char *c = ev->code != NULL ? ev->code : "";
        if (strcmp(c, "handshake_done") == 0 || strcmp(c, "close_notify") == 0)
            role = UI_R_OK;
        else if (strcmp(c, "handshake") != 0 && strcmp(c, "message") != 0 &&
                 strcmp(c, "close_notify_sent") != 0 && strcmp(c, "close_notify_queued") != 0)
            role = UI_R_WARN;
        row_text(r, role, "TLS ");
        row_peer(r, role, c);
        row_text(r, role, ": ");
        row_peer(r, role, ev->message);
        return;
    }
    const char *type = sp_tls_ct_name((uint8_t)ev->tls_type);
    const char *ver = sp_tls_version_name((uint16_t)ev->tls_version);
    if (ev->tls_type == SP_TLS_CT_ALERT && !ev->tls_encrypted)
        role = UI_R_WARN;
    row_textf(r, role, "TLS %s record %s %s %llu B @%llu-%llu chunk%s %llu",
              ev->tls_out ? "out" : "in", type != NULL ? type : "?", ver != NULL ? ver : "?",
              (unsigned long long)ev->len, (unsigned long long)ev->off,
              (unsigned long long)ev->end_off, ev->chunk_last > ev->chunk_first ? "s" : "",
              (unsigned long long)ev->chunk_first);
    if (ev->chunk_last > ev->chunk_first)
        row_textf(r, role, "..%llu", (unsigned long long)ev->chunk_last);
    if (ev->summary != NULL && ev->summary[0] != '\0') {
        row_text(r, role, ": ");
        row_peer(r, role, ev->summary);
    }
}

/* The control message lines under a data row, indented past the time. */
static void draw_cmsgs(struct sp_tui *t, const struct sp_event *ev, int y, int x, int w, int rows)
{
    size_t n = sp_event_cmsg_lines(ev);
    int indent = w >= 56 ? 11 : 2;
    struct sp_buf b;
    sp_buf_init(&b);
    for (int i = 0; i < rows; i++) {
        struct row r = {t, y + i, x + indent, x + w};
        sp_buf_reset(&b);
        if (i == rows - 1 && n > (size_t)rows)
            sp_buf_appendf(&b, "%s %zu more control messages", t->th.g.ellipsis,
                           n - (size_t)rows + 1);
        else
            sp_event_cmsg_line(&b, ev, (size_t)i, t->th.utf8);
        row_text(&r, UI_R_DIM, sp_buf_str(&b));
    }
    sp_buf_cleanup(&b);
}

/* Draws event idx in the rectangle (y, x, w, h). */
void ui_tl_draw(struct sp_tui *t, const struct ui_pane *p, uint64_t idx, const struct sp_event *ev,
                int y, int x, int w, int h)
{
    struct row r = {t, y, x, x + w};
    if (is_data(ev)) {
        int cm = cmsg_rows(ev);
        if (cm > h - 1)
            cm = h - 1 > 0 ? h - 1 : 0;
        draw_data(t, p, idx, ev, &r, h - cm);
        if (cm > 0)
            draw_cmsgs(t, ev, y + h - cm, x, w, cm);
    } else {
        draw_other(t, p, ev, &r);
    }
}
