/* A pane: header, live state line and the scrollable timeline of one socket. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sockpit/proto/addr.h"
#include "ui.h"

#define SCAN_MAX 20000 /* history events examined per pane per frame */
#define ROWS_MAX 512

const char *ui_view_name(enum ui_view v)
{
    return v == UI_VIEW_CHUNKS     ? "chunks"
           : v == UI_VIEW_MESSAGES ? "messages"
           : v == UI_VIEW_WIRE     ? "wire"
                                   : "both";
}

void ui_pane_reset(struct ui_pane *p, uint32_t sock)
{
    p->sock = sock;
    p->follow = 1;
    p->top = 0;
    p->first_shown = p->last_shown = 0;
    p->nshown = 0;
    p->more_below = 0;
}

/* A line of labelled segments that wraps onto a second row in narrow panes. */
#define SEGS_MAX 16
struct segs {
    int n;
    int role[SEGS_MAX];
    char text[SEGS_MAX][80];
};

static void seg(struct segs *s, int role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seg(struct segs *s, int role, const char *fmt, ...)
{
    if (s->n >= SEGS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->text[s->n], sizeof(s->text[0]), fmt, ap);
    va_end(ap);
    s->role[s->n++] = role;
}

/* Lays the segments out from row y over at most maxrows rows; returns the
 * rows used. With draw == 0 it only measures. */
static int flow(struct sp_tui *t, const struct segs *s, int y, int x0, int w, int maxrows, int draw)
{
    int row = 0, x = x0, end = x0 + w;
    for (int i = 0; i < s->n; i++) {
        int sw = ui_width(s->text[i]);
        if (x > x0 && x + sw > end) {
            if (row + 1 >= maxrows)
                break;
            row++;
            x = x0;
        }
        if (draw)
            ui_put(t, y + row, x, end - x, s->role[i], s->text[i]);
        x += sw + 2;
    }
    return row + 1;
}

/* Does the socket still read? Not after SHUT_RD, nor past the peer's EOF. */
static int reads(const struct sp_sock_info *si)
{
    return !(si->ours & SP_OURS_SHUT_RD) && !(si->peers & (SP_PEER_FIN | SP_PEER_RST));
}

static const char *reading_word(const struct sp_sock_info *si)
{
    if (si->ours & SP_OURS_SHUT_RD)
        return "not reading (SHUT_RD)";
    if (si->peers & SP_PEER_FIN)
        return "read to EOF";
    return si->paused ? "paused" : "reading";
}

/* The settings that the header shows on its right when there is room. */
static void settings(struct ui_pane *p, const struct sp_sock_info *si, struct segs *s, int role)
{
    char rs[16];
    ui_fmt_bytes(rs, sizeof(rs), si->recvsize);
    seg(s, si->decode_lost ? UI_R_WARN : role, "%s%s", si->framing,
        si->decode_lost ? " (decoding raw)" : "");
    if (!sp_kind_is_listener(si->kind)) {
        seg(s, role, "recv %s", rs);
        /* Reading is a property of an open descriptor; after close the
         * state line says what happened. */
        if (si->open)
            seg(s, si->paused || !reads(si) ? UI_R_WARN : role, "%s", reading_word(si));
    }
    if (si->echo)
        seg(s, role, "echo");
    if (si->close_on_eof)
        seg(s, role, "close-on-eof");
    if (!sp_kind_is_listener(si->kind))
        seg(s, role, "%s%s", ui_view_name(p->view), p->hex ? " hex" : "");
}

/* Returns 1 when the settings fit on the header row. */
static int draw_header(struct sp_tui *t, struct ui_pane *p, const struct sp_sock_info *si,
                       int focused)
{
    int role = focused ? UI_R_HDR_FOCUS : UI_R_HDR;
    int y = p->y, x = p->x, end = p->x + p->w;
    ui_fill(t, y, x, p->w, role);
    x++;
    x += ui_putf(t, y, x, end - x, role, "[%u] %s ", (unsigned)si->id, sp_sock_kind_name(si->kind));
    x += ui_put_peer(t, y, x, end - x, role, si->local, sp_addr_text_len(si->local, si->local_len),
                     NULL);
    if (si->peer[0]) {
        x += ui_putf(t, y, x, end - x, role, " %s ", t->th.g.both_ways);
        x += ui_put_peer(t, y, x, end - x, role, si->peer, sp_addr_text_len(si->peer, si->peer_len),
                         NULL);
    }
    if (si->wildcard)
        x += ui_put(t, y, x + 1, end - x - 1, UI_R_BAD, "wildcard address!") + 1;
    if (si->tls_insecure)
        x += ui_put(t, y, x + 1, end - x - 1, UI_R_BAD, "TLS --insecure!") + 1;
    struct segs s = {0};
    settings(p, si, &s, role);
    int sw = -2;
    for (int i = 0; i < s.n; i++)
        sw += ui_width(s.text[i]) + 2;
    if (x + 2 + sw + 1 > end)
        return 0;
    flow(t, &s, y, end - sw - 1, sw, 1, 1);
    return 1;
}

/* The state line: both directions tracked separately, plus the kernel view. */
static void state_segs(struct sp_tui *t, const struct sp_sock_info *si, struct segs *s)
{
    char a[16], b[16];
    (void)t;
    if (sp_kind_is_listener(si->kind)) {
        seg(s, si->open ? UI_R_OK : UI_R_DIM, "%s", si->open ? "listening" : "closed");
        if (si->tcp[0])
            seg(s, UI_R_NORMAL, "tcp %s", si->tcp);
        seg(s, UI_R_NORMAL, "accepted %llu", (unsigned long long)si->accepted);
        return;
    }
    if (si->connecting) {
        seg(s, UI_R_WARN, "connecting...");
        if (si->tls[0])
            seg(s, UI_R_WARN, "%s", si->tls);
        return;
    }
    if (sp_kind_is_stream(si->kind)) {
        const char *ours = "open";
        int orole = UI_R_OK;
        if (si->ours & SP_OURS_RST) {
            ours = "closed, RST sent";
            orole = UI_R_BAD;
        } else if (si->ours & SP_OURS_CLOSED || !si->open) {
            ours = "closed";
            orole = UI_R_DIM;
        } else if (si->ours & SP_OURS_SHUT_WAIT) {
            /* The FIN waits behind our own queue (queued, below). */
            ours = si->ours & SP_OURS_SHUT_RD ? "SHUT_WR waiting for queue+SHUT_RD"
                                              : "SHUT_WR waiting for queue";
            orole = UI_R_WARN;
        } else if (si->ours & SP_OURS_FIN_QUEUED) {
            /* shutdown(2) is done; the FIN waits behind unsent bytes. */
            ours =
                si->ours & SP_OURS_SHUT_RD ? "SHUT_WR, FIN queued+SHUT_RD" : "SHUT_WR, FIN queued";
            orole = UI_R_WARN;
        } else if ((si->ours & SP_OURS_SHUT_WR) && (si->ours & SP_OURS_SHUT_RD)) {
            ours = "SHUT_WR sent+SHUT_RD";
            orole = UI_R_WARN;
        } else if (si->ours & SP_OURS_SHUT_WR) {
            ours = "SHUT_WR sent";
            orole = UI_R_WARN;
        } else if (si->ours & SP_OURS_SHUT_RD) {
            ours = "SHUT_RD";
            orole = UI_R_WARN;
        }
        const char *peer = "open";
        int prole = UI_R_OK;
        if (si->peers & SP_PEER_RST) {
            peer = "RST";
            prole = UI_R_BAD;
        } else if (si->peers & SP_PEER_FIN) {
            peer = "FIN received";
            prole = UI_R_WARN;
        } else if (si->peers & SP_PEER_RST_WAITING) {
            peer = "RST waiting in the kernel (unread)";
            prole = UI_R_BAD;
        } else if (si->peers & SP_PEER_FIN_WAITING) {
            peer = "FIN waiting in the kernel (unread)";
            prole = UI_R_WARN;
        }
        seg(s, orole, "us: %s", ours);
        seg(s, prole, "peer: %s", peer);
    } else {
        seg(s, si->open ? UI_R_OK : UI_R_DIM, "%s", si->open ? "bound" : "closed");
    }
    if (si->tcp[0])
        seg(s, UI_R_TITLE, "tcp %s", si->tcp);
    if (si->tls[0])
        seg(s, UI_R_TITLE, "%s", si->tls);
    if (si->unread >= 0)
        seg(s, UI_R_NORMAL, "unread %lld", (long long)si->unread);
    if (si->unsent >= 0)
        seg(s, UI_R_NORMAL, "unsent %lld", (long long)si->unsent);
    if (si->queued)
        seg(s, UI_R_WARN, "queued %zu", si->queued);
    ui_fmt_bytes(a, sizeof(a), si->bytes_in);
    ui_fmt_bytes(b, sizeof(b), si->bytes_out);
    seg(s, UI_R_NORMAL, "in %s out %s", a, b);
}

/* Draws the state rows under the header; returns how many rows they took. */
static int draw_state(struct sp_tui *t, struct ui_pane *p, const struct sp_sock_info *si,
                      int settings_shown)
{
    struct segs s = {0};
    state_segs(t, si, &s);
    if (!settings_shown)
        settings(p, si, &s, UI_R_DIM);
    int maxrows = p->h >= 12 ? 3 : p->h >= 8 ? 2 : 1;
    int rows = flow(t, &s, p->y + 1, p->x + 1, p->w - 1, maxrows, 0);
    for (int i = 0; i < rows; i++)
        ui_fill(t, p->y + 1 + i, p->x, p->w, UI_R_NORMAL);
    flow(t, &s, p->y + 1, p->x + 1, p->w - 1, maxrows, 1);
    return rows;
}

static const char *const welcome[] = {
    "Welcome to sockpit: every recv() boundary, framing and shutdown, live.",
    "",
    "Start with a command (press : first):",
    "  listen tcp:0 --framing line --echo     a loopback echo server",
    "  connect tcp:127.0.0.1:8080             a client",
    "  bind udp:0                             a datagram socket",
    "",
    "Then Enter (or i) types data for the focused socket, f picks a framing,",
    "s shuts a direction down, v switches views, x shows hex, w the segments.",
    "Try `sockpit --demo` for a ready-made echo pair.   ? lists every key.",
};

static void draw_welcome(struct sp_tui *t, struct ui_pane *p, int focused)
{
    int role = focused ? UI_R_HDR_FOCUS : UI_R_HDR;
    ui_fill(t, p->y, p->x, p->w, role);
    ui_put(t, p->y, p->x + 1, p->w - 1, role, "sockpit");
    for (int i = 1; i < p->h; i++)
        ui_fill(t, p->y + i, p->x, p->w, UI_R_NORMAL);
    size_t n = sizeof(welcome) / sizeof(welcome[0]);
    for (size_t i = 0; i < n && (int)i + 2 < p->h; i++)
        ui_put(t, p->y + 2 + (int)i, p->x + 2, p->w - 3, i == 0 ? UI_R_TITLE : UI_R_NORMAL,
               welcome[i]);
}

static int framed(const struct sp_sock_info *si)
{
    return si->spec.kind != SP_FRAME_RAW && !si->decode_lost;
}

/* Picks the events that fill the timeline: from the newest backwards when
 * following, else from p->top forwards. Returns how many; rows are in order. */
static int collect(struct sp_tui *t, struct ui_pane *p, const struct sp_sock_info *si, int rows,
                   struct ui_shown *out)
{
    if (p->view == UI_VIEW_WIRE)
        return ui_wire_collect(t, p, framed(si), rows, out, ROWS_MAX);
    uint64_t begin = sp_hist_begin(t->eng, p->sock), end = sp_hist_end(t->eng, p->sock);
    int n = 0, used = 0, scanned = 0;
    struct sp_event ev;
    int fr = framed(si);
    if (!p->follow && p->top < begin)
        p->top = begin;
    if (!p->follow && p->top >= end)
        p->follow = 1;
    p->more_below = 0;
    if (p->follow) {
        uint64_t i = end;
        while (i > begin && used < rows && scanned++ < SCAN_MAX && n < ROWS_MAX) {
            i--;
            if (sp_hist_get(t->eng, p->sock, i, &ev) != 0 || !ui_tl_visible(t, p, &ev, fr))
                continue;
            int h = ui_tl_height(t, p, &ev, p->w - 1);
            if (used + h > rows) {
                if (n > 0)
                    break;
                h = rows - used;
            }
            out[n].idx = i;
            out[n++].h = h;
            used += h;
        }
        if (i == begin && begin > 0 && used < rows && n < ROWS_MAX) {
            out[n].idx = UI_SHOWN_NOTKEPT;
            out[n++].h = 1;
        }
        for (int a = 0, b = n - 1; a < b; a++, b--) {
            struct ui_shown tmp = out[a];
            out[a] = out[b];
            out[b] = tmp;
        }
    } else {
        if (p->top == begin && begin > 0) {
            out[n].idx = UI_SHOWN_NOTKEPT;
            out[n++].h = 1;
            used++;
        }
        uint64_t i = p->top;
        for (; i < end && scanned++ < SCAN_MAX && n < ROWS_MAX; i++) {
            if (sp_hist_get(t->eng, p->sock, i, &ev) != 0 || !ui_tl_visible(t, p, &ev, fr))
                continue;
            int h = ui_tl_height(t, p, &ev, p->w - 1);
            if (used + h > rows) {
                if (used < rows && n == 0)
                    h = rows - used;
                else
                    break;
            }
            out[n].idx = i;
            out[n++].h = h;
            used += h;
        }
        p->more_below = i < end;
    }
    return n;
}

static void draw_timeline(struct sp_tui *t, struct ui_pane *p, const struct sp_sock_info *si,
                          int head)
{
    int y0 = p->y + head;
    int rows = p->h - head;
    if (rows <= 0)
        return;
    if (!p->follow)
        rows--; /* the last row says how to get back to the live end */
    for (int i = 0; i < p->h - head; i++)
        ui_fill(t, y0 + i, p->x, p->w, UI_R_NORMAL);
    if (rows <= 0)
        return;
    struct ui_shown shown[ROWS_MAX];
    int n = collect(t, p, si, rows, shown);
    int y = y0;
    struct sp_event ev;
    p->nshown = 0;
    for (int i = 0; i < n; i++) {
        if (shown[i].idx == UI_SHOWN_SUMMARY) {
            ui_wire_draw_summary(t, &shown[i], y, p->x + 1, p->w - 1);
            y++;
            continue;
        }
        if (shown[i].idx == UI_SHOWN_NOTKEPT) {
            ui_putf(t, y, p->x + 1, p->w - 1, UI_R_WARN, "%s %llu older events not kept",
                    t->th.g.ellipsis, (unsigned long long)sp_hist_begin(t->eng, p->sock));
            y++;
            continue;
        }
        if (sp_hist_get(t->eng, p->sock, shown[i].idx, &ev) != 0)
            continue;
        ui_tl_draw(t, p, shown[i].idx, &ev, y, p->x + 1, p->w - 1, shown[i].h);
        if (p->nshown == 0)
            p->first_shown = shown[i].idx;
        p->last_shown = shown[i].idx;
        p->nshown++;
        y += shown[i].h;
    }
    if (n == 0 && sp_hist_end(t->eng, p->sock) == 0)
        ui_put(t, y0, p->x + 2, p->w - 3, UI_R_DIM, "no events yet");
    if (!p->follow)
        ui_putf(t, p->y + p->h - 1, p->x + 1, p->w - 1, UI_R_KEY,
                "%s scrolled back %s End: follow live  PgUp/PgDn: page", t->th.g.up, t->th.g.dot);
}

/* Draws pane p; focused panes get the highlighted header. */
void ui_pane_draw(struct sp_tui *t, struct ui_pane *p, int focused)
{
    if (p->h <= 0 || p->w <= 0)
        return;
    struct sp_sock_info si;
    if (p->sock == 0 || sp_engine_sock_info(t->eng, p->sock, &si) != 0) {
        draw_welcome(t, p, focused);
        return;
    }
    int shown = draw_header(t, p, &si, focused);
    int head = 1;
    if (p->h > 2)
        head += draw_state(t, p, &si, shown);
    draw_timeline(t, p, &si, head);
}

/* Walks back from idx over visible events until rows rows are covered. */
static uint64_t walk_back(struct sp_tui *t, struct ui_pane *p, uint64_t idx, int rows)
{
    struct sp_sock_info si;
    if (sp_engine_sock_info(t->eng, p->sock, &si) != 0)
        return idx;
    uint64_t begin = sp_hist_begin(t->eng, p->sock);
    struct sp_event ev;
    int used = 0, scanned = 0;
    while (idx > begin && used < rows && scanned++ < SCAN_MAX) {
        if (sp_hist_get(t->eng, p->sock, idx - 1, &ev) == 0 &&
            ui_tl_visible(t, p, &ev, framed(&si)))
            used += ui_tl_height(t, p, &ev, p->w - 1);
        idx--;
    }
    return idx;
}

void ui_pane_scroll(struct sp_tui *t, struct ui_pane *p, enum ui_scroll how)
{
    if (p->sock == 0)
        return;
    int page = p->h - 4 > 1 ? p->h - 4 : 1;
    uint64_t begin = sp_hist_begin(t->eng, p->sock);
    switch (how) {
    case UI_SCROLL_HOME:
        p->follow = 0;
        p->top = begin;
        break;
    case UI_SCROLL_END:
        p->follow = 1;
        break;
    case UI_SCROLL_PGUP:
    case UI_SCROLL_UP: {
        uint64_t from = p->nshown ? p->first_shown : sp_hist_end(t->eng, p->sock);
        p->top = walk_back(t, p, from, how == UI_SCROLL_PGUP ? page : 3);
        p->follow = 0;
        break;
    }
    case UI_SCROLL_PGDN:
    case UI_SCROLL_DOWN:
        if (p->follow)
            break;
        if (!p->more_below) {
            p->follow = 1;
            break;
        }
        if (how == UI_SCROLL_PGDN) {
            p->top = p->last_shown + 1;
        } else {
            /* Three visible events further. */
            uint64_t i = p->first_shown, end = sp_hist_end(t->eng, p->sock);
            int k = 0;
            while (i + 1 < end && k < 3) {
                i++;
                k++;
            }
            p->top = i;
        }
        break;
    }
}
