/* The sidebar: every socket as a tree (listeners with their accepted
 * connections), two rows each. Only the rows on screen query the engine, so
 * ten thousand connections cost what thirty do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

static void grow_recs(struct sp_tui *t, uint32_t id)
{
    if (id < t->nrecs)
        return;
    size_t n = t->nrecs ? t->nrecs : 64;
    while (n <= id)
        n *= 2;
    struct ui_sockrec *r = sp_xreallocarray(t->recs, n, sizeof(*r));
    memset(r + t->nrecs, 0, (n - t->nrecs) * sizeof(*r));
    t->recs = r;
    t->nrecs = n;
}

/* Records a socket's parent as an event told it (no engine query needed). */
void ui_sidebar_note_sock(struct sp_tui *t, uint32_t id, uint32_t parent)
{
    grow_recs(t, id);
    t->recs[id].parent = parent;
    t->recs[id].known = 1;
    t->side_dirty = 1;
}

void ui_sidebar_cleanup(struct sp_tui *t)
{
    free(t->recs);
    free(t->order);
    free(t->depth);
    t->recs = NULL;
    t->order = NULL;
    t->depth = NULL;
    t->nrecs = t->norder = t->order_cap = 0;
}

/* Rebuilds the tree order when the socket table changed. */
void ui_sidebar_refresh(struct sp_tui *t)
{
    uint32_t probe;
    size_t count = sp_engine_sock_ids(t->eng, &probe, 0);
    if (!t->side_dirty && count == t->known_count)
        return;
    if (count > t->order_cap) {
        size_t cap = count + 64;
        t->order = sp_xreallocarray(t->order, cap, sizeof(*t->order));
        t->depth = sp_xreallocarray(t->depth, cap, sizeof(*t->depth));
        t->order_cap = cap;
    }
    uint32_t *ids = sp_xreallocarray(NULL, count, sizeof(*ids));
    count = sp_engine_sock_ids(t->eng, ids, count);
    uint32_t maxid = count ? ids[count - 1] : 0;
    grow_recs(t, maxid);
    for (size_t i = 0; i < count; i++) {
        struct ui_sockrec *r = &t->recs[ids[i]];
        if (!r->known) {
            struct sp_sock_info si;
            if (sp_engine_sock_info(t->eng, ids[i], &si) == 0)
                r->parent = si.parent;
            r->known = 1;
        }
    }
    /* Children lists over ids; a parent always has a smaller id than its
     * children, so one pass in id order keeps each list sorted. */
    uint32_t *first = sp_xcalloc(maxid + 1, sizeof(*first));
    uint32_t *last = sp_xcalloc(maxid + 1, sizeof(*last));
    uint32_t *next = sp_xcalloc(maxid + 1, sizeof(*next));
    unsigned char *present = sp_xcalloc(maxid + 1, 1);
    for (size_t i = 0; i < count; i++)
        present[ids[i]] = !t->recs[ids[i]].cleared;
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t id = ids[i], par = t->recs[id].parent;
        if (!present[id])
            continue;
        if (par && par <= maxid && present[par]) {
            if (last[par])
                next[last[par]] = id;
            else
                first[par] = id;
            last[par] = id;
        }
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t id = ids[i], par = t->recs[id].parent;
        if (!present[id] || (par && par <= maxid && present[par]))
            continue;
        t->order[n] = id;
        t->depth[n++] = 0;
        for (uint32_t c = first[id]; c; c = next[c]) {
            t->order[n] = c;
            t->depth[n++] = 1;
        }
    }
    t->norder = n;
    t->known_count = count;
    t->side_dirty = 0;
    free(ids);
    free(first);
    free(last);
    free(next);
    free(present);
}

/* Clearing only hides: the engine keeps the socket and its history, and
 * `list`, `info` and the digit keys still reach it. */
size_t ui_sidebar_clear_closed(struct sp_tui *t)
{
    ui_sidebar_refresh(t);
    size_t n = 0;
    for (size_t i = 0; i < t->norder; i++) {
        uint32_t id = t->order[i];
        struct sp_sock_info si;
        if (sp_engine_sock_info(t->eng, id, &si) != 0 || si.open || si.connecting)
            continue;
        t->recs[id].cleared = 1;
        n++;
    }
    t->ncleared += n;
    t->side_dirty = 1;
    ui_sidebar_refresh(t);
    return n;
}

/* The state badge: one word a student can read at a glance. */
const char *ui_badge(const struct sp_sock_info *si, int *role)
{
    int listener = sp_kind_is_listener(si->kind);
    *role = UI_R_OK;
    if (si->connecting) {
        *role = UI_R_WARN;
        return "connecting";
    }
    if (!si->open) {
        *role = (si->peers & SP_PEER_RST) ? UI_R_BAD : UI_R_DIM;
        return (si->peers & SP_PEER_RST) ? "RST" : "closed";
    }
    if (listener)
        return "listening";
    if (si->peers & SP_PEER_RST) {
        *role = UI_R_BAD;
        return "RST";
    }
    int wr = (si->ours & SP_OURS_SHUT_WR) != 0, fin = (si->peers & SP_PEER_FIN) != 0;
    if (wr && fin) {
        *role = UI_R_WARN;
        return "both FIN";
    }
    if (wr) {
        *role = UI_R_WARN;
        return "we FIN";
    }
    if (fin) {
        *role = UI_R_WARN;
        return "peer FIN";
    }
    if (si->paused) {
        *role = UI_R_WARN;
        return "paused";
    }
    return "open";
}

static int is_shown(struct sp_tui *t, uint32_t id)
{
    for (int i = 0; i < t->npanes; i++)
        if (t->panes[i].sock == id)
            return 1;
    return 0;
}

static size_t entry_rows(struct sp_tui *t)
{
    int h = t->main_h - 1;
    return h > 0 ? (size_t)h / 2 : 0;
}

static void keep_selected_visible(struct sp_tui *t)
{
    size_t cap = entry_rows(t);
    for (size_t i = 0; i < t->norder; i++) {
        if (t->order[i] != t->selected)
            continue;
        if (i < t->side_top)
            t->side_top = i;
        else if (cap && i >= t->side_top + cap)
            t->side_top = i - cap + 1;
        break;
    }
    if (t->side_top >= t->norder)
        t->side_top = t->norder ? t->norder - 1 : 0;
}

static void draw_entry(struct sp_tui *t, int y, uint32_t id, int depth, int last)
{
    int w = t->side_w;
    struct sp_sock_info si;
    if (sp_engine_sock_info(t->eng, id, &si) != 0)
        return;
    int sel = id == t->selected;
    int base = sel ? UI_R_SEL : UI_R_NORMAL;
    ui_fill(t, y, 0, w, base);
    ui_fill(t, y + 1, 0, w, base);
    int x = 0;
    if (depth) {
        ui_put(t, y, 1, 1, sel ? UI_R_SEL : UI_R_BORDER, last ? t->th.g.elbow : t->th.g.tee);
        if (!last)
            ui_put(t, y + 1, 1, 1, sel ? UI_R_SEL : UI_R_BORDER, t->th.g.pipe);
        x = 2;
    }
    x += ui_putf(t, y, x, w - x, sel ? UI_R_SEL : (is_shown(t, id) ? UI_R_TITLE : UI_R_NORMAL),
                 "%u %s", (unsigned)id, sp_sock_kind_name(si.kind));
    int role;
    const char *badge = ui_badge(&si, &role);
    int bw = ui_width(badge);
    if (x + 1 + bw <= w - 1)
        ui_put(t, y, w - 1 - bw, bw, sel ? UI_R_SEL : role, badge);

    int listener = sp_kind_is_listener(si.kind);
    const char *addr = (listener || si.peer[0] == '\0') ? si.local : si.peer;
    char counts[48];
    if (listener) {
        snprintf(counts, sizeof(counts), "%llu acc", (unsigned long long)si.accepted);
    } else {
        char a[16], b[16];
        ui_fmt_bytes(a, sizeof(a), si.bytes_in);
        ui_fmt_bytes(b, sizeof(b), si.bytes_out);
        snprintf(counts, sizeof(counts), "%s%s %s%s", t->th.g.down, a, t->th.g.up, b);
    }
    int cw = ui_width(counts);
    int ax = depth ? 3 : 2;
    int room = w - 1 - ax - cw - 1;
    if (room < 6) {
        room = w - 1 - ax;
        cw = 0;
    }
    ui_put_peer(t, y + 1, ax, room, sel ? UI_R_SEL : UI_R_DIM, addr, strlen(addr), NULL);
    if (cw)
        ui_put(t, y + 1, w - 1 - cw, cw, sel ? UI_R_SEL : UI_R_DIM, counts);
}

/* Draws the sidebar and its separator column. */
void ui_sidebar_draw(struct sp_tui *t)
{
    if (!t->side_w)
        return;
    int w = t->side_w;
    ui_fill(t, 0, 0, w, UI_R_NORMAL);
    if (t->ncleared)
        ui_putf(t, 0, 0, w, UI_R_TITLE, " Sockets (%zu, %zu cleared)", t->norder, t->ncleared);
    else
        ui_putf(t, 0, 0, w, UI_R_TITLE, " Sockets (%zu)", t->norder);
    keep_selected_visible(t);
    size_t cap = entry_rows(t);
    for (size_t i = 0; i < cap && t->side_top + i < t->norder; i++) {
        size_t k = t->side_top + i;
        int last = t->depth[k] && (k + 1 >= t->norder || t->depth[k + 1] == 0);
        draw_entry(t, 1 + (int)i * 2, t->order[k], t->depth[k], last);
    }
    if (t->norder == 0 && t->ncleared) {
        ui_put(t, 2, 1, w - 1, UI_R_DIM, "no sockets left open");
    } else if (t->norder == 0) {
        ui_put(t, 2, 1, w - 1, UI_R_DIM, "none yet: press :");
        ui_put(t, 3, 1, w - 1, UI_R_DIM, "and type listen tcp:0");
    }
    if (t->side_top > 0)
        ui_put(t, 0, w - 2, 1, UI_R_DIM, t->th.g.up);
    if (t->side_top + cap < t->norder)
        ui_put(t, t->main_h - 1, w - 2, 1, UI_R_DIM, t->th.g.down);
    ui_vline(t, 0, w, t->main_h);
}

int ui_sidebar_click(struct sp_tui *t, int y, int x)
{
    (void)x;
    if (y < 1)
        return UI_HANDLED;
    size_t k = t->side_top + (size_t)(y - 1) / 2;
    if (k >= t->norder)
        return UI_HANDLED;
    t->selected = t->order[k];
    ui_show_sock(t, t->selected);
    return UI_HANDLED | UI_REDRAW;
}

/* Moves the selection by delta sockets and shows the socket selected. */
int ui_sidebar_move(struct sp_tui *t, int delta)
{
    if (t->norder == 0)
        return UI_HANDLED;
    size_t cur = 0;
    int found = 0;
    for (size_t i = 0; i < t->norder; i++)
        if (t->order[i] == t->selected) {
            cur = i;
            found = 1;
            break;
        }
    long k = found ? (long)cur + delta : (delta > 0 ? 0 : (long)t->norder - 1);
    if (k < 0)
        k = 0;
    if (k >= (long)t->norder)
        k = (long)t->norder - 1;
    t->selected = t->order[k];
    ui_show_sock(t, t->selected);
    return UI_HANDLED | UI_REDRAW;
}
