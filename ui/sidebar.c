/* The sidebar: every socket as a tree (listeners with their accepted
 * connections), two rows each. Only the rows on screen query the engine, so
 * ten thousand connections cost what thirty do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/addr.h"
#include "ui.h"

/* A new socket (from its event): the tree is rebuilt at the next refresh. */
void ui_sidebar_note_sock(struct sp_tui *t, uint32_t id, uint32_t parent)
{
    (void)id;
    (void)parent;
    t->side_dirty = 1;
}

void ui_sidebar_cleanup(struct sp_tui *t)
{
    free(t->side_ids);
    free(t->side_parent);
    free(t->order);
    free(t->depth);
    free(t->cleared);
    t->cleared = NULL;
    t->ncleared = 0;
    t->side_ids = t->side_parent = t->order = NULL;
    t->depth = NULL;
    t->norder = t->order_cap = 0;
}

/* Index of id in the sorted ids[0..n), or n. */
static size_t find_id(const uint32_t *ids, size_t n, uint32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id ? lo : n;
}

/* Which of the sorted ids[0..count) were cleared; cleared ids the engine
 * has forgotten since leave the list. */
static unsigned char *hidden_ids(struct sp_tui *t, const uint32_t *ids, size_t count)
{
    unsigned char *hidden = sp_xcalloc(count ? count : 1, 1);
    size_t kept = 0, c = 0;
    for (size_t i = 0; i < count && c < t->ncleared; i++) {
        while (c < t->ncleared && t->cleared[c] < ids[i])
            c++;
        if (c < t->ncleared && t->cleared[c] == ids[i]) {
            hidden[i] = 1;
            t->cleared[kept++] = ids[i];
            c++;
        }
    }
    t->ncleared = kept;
    return hidden;
}

/* Rebuilds the tree order when the socket table changed. Everything is
 * sized by the sockets the engine keeps (ids have gaps once closed ones are
 * forgotten), and a socket's parent is asked of the engine once: later
 * rebuilds take it from the previous one. */
void ui_sidebar_refresh(struct sp_tui *t)
{
    uint32_t probe;
    size_t count = sp_engine_sock_ids(t->eng, &probe, 0);
    uint64_t forgotten = sp_engine_forgotten(t->eng);
    if (!t->side_dirty && count == t->known_count && forgotten == t->known_forgotten)
        return;
    size_t cap = count ? count : 1;
    uint32_t *ids = sp_xreallocarray(NULL, cap, sizeof *ids);
    uint32_t *parent = sp_xreallocarray(NULL, cap, sizeof *parent);
    count = sp_engine_sock_ids(t->eng, ids, count);
    size_t old = 0;
    for (size_t i = 0; i < count; i++) {
        while (old < t->known_count && t->side_ids[old] < ids[i])
            old++;
        if (old < t->known_count && t->side_ids[old] == ids[i]) {
            parent[i] = t->side_parent[old];
        } else {
            struct sp_sock_info si;
            parent[i] = sp_engine_sock_info(t->eng, ids[i], &si) == 0 ? si.parent : 0;
        }
    }
    if (count > t->order_cap) {
        t->order_cap = count + 64;
        t->order = sp_xreallocarray(t->order, t->order_cap, sizeof *t->order);
        t->depth = sp_xreallocarray(t->depth, t->order_cap, sizeof *t->depth);
    }
    /* Children lists by index; a parent always has a smaller id than its
     * children, so one pass in id order keeps each list sorted. SIZE_MAX:
     * none. */
    size_t *first = sp_xreallocarray(NULL, cap, sizeof *first);
    size_t *last = sp_xreallocarray(NULL, cap, sizeof *last);
    size_t *next = sp_xreallocarray(NULL, cap, sizeof *next);
    size_t *pidx = sp_xreallocarray(NULL, cap, sizeof *pidx);
    unsigned char *hidden = hidden_ids(t, ids, count);
    for (size_t i = 0; i < count; i++) {
        first[i] = last[i] = next[i] = SIZE_MAX;
        pidx[i] = parent[i] ? find_id(ids, count, parent[i]) : count;
        if (pidx[i] < count && hidden[pidx[i]])
            pidx[i] = count;
        if (!hidden[i] && pidx[i] < count) {
            size_t p = pidx[i];
            if (last[p] != SIZE_MAX)
                next[last[p]] = i;
            else
                first[p] = i;
            last[p] = i;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (hidden[i] || pidx[i] < count)
            continue;
        t->order[n] = ids[i];
        t->depth[n++] = 0;
        for (size_t c = first[i]; c != SIZE_MAX; c = next[c]) {
            t->order[n] = ids[c];
            t->depth[n++] = 1;
        }
    }
    free(t->side_ids);
    free(t->side_parent);
    t->side_ids = ids;
    t->side_parent = parent;
    t->norder = n;
    t->known_count = count;
    t->known_forgotten = forgotten;
    t->side_dirty = 0;
    free(first);
    free(last);
    free(next);
    free(pidx);
    free(hidden);
}

static int cmp_id(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Clearing only hides: the engine keeps the socket and its history, and
 * `list`, `info` and the digit keys still reach it. */
size_t ui_sidebar_clear_closed(struct sp_tui *t)
{
    ui_sidebar_refresh(t);
    size_t n = 0;
    for (size_t i = 0; i < t->norder; i++) {
        struct sp_sock_info si;
        if (sp_engine_sock_info(t->eng, t->order[i], &si) != 0 || si.open || si.connecting)
            continue;
        t->cleared = sp_xreallocarray(t->cleared, t->ncleared + 1, sizeof *t->cleared);
        t->cleared[t->ncleared++] = t->order[i];
        n++;
    }
    qsort(t->cleared, t->ncleared, sizeof *t->cleared, cmp_id);
    t->side_dirty = 1;
    ui_sidebar_refresh(t);
    return n;
}

/* The state badge: one word a student can read at a glance. */
static const char *state_badge(const struct sp_sock_info *si, int *role)
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
    if (si->peers & (SP_PEER_FIN_WAITING | SP_PEER_RST_WAITING)) {
        *role = UI_R_WARN;
        return si->peers & SP_PEER_RST_WAITING ? "RST waits" : "FIN waits";
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
    int h = t->main_h - 1 - (t->known_forgotten > 0);
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
    const char *badge = state_badge(&si, &role);
    int bw = ui_width(badge);
    if (x + 1 + bw <= w - 1)
        ui_put(t, y, w - 1 - bw, bw, sel ? UI_R_SEL : role, badge);

    int listener = sp_kind_is_listener(si.kind);
    int own = listener || si.peer[0] == '\0';
    const char *addr = own ? si.local : si.peer;
    size_t alen = sp_addr_text_len(addr, own ? si.local_len : si.peer_len);
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
    ui_put_peer(t, y + 1, ax, room, sel ? UI_R_SEL : UI_R_DIM, addr, alen, NULL);
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
    int bottom = t->main_h - 1;
    if (t->known_forgotten > 0) {
        /* The sockets no longer listed: the engine keeps the last
         * keep-closed closed ones. */
        ui_fill(t, bottom, 0, w, UI_R_NORMAL);
        ui_putf(t, bottom, 1, w - 2, UI_R_DIM, "%llu older closed forgotten",
                (unsigned long long)t->known_forgotten);
        bottom--;
    }
    if (t->side_top + cap < t->norder)
        ui_put(t, bottom, w - 2, 1, UI_R_DIM, t->th.g.down);
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
