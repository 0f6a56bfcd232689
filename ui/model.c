/* The view model every panel reads and changes: the panes and which socket
 * each shows, focus, the status line, and the key queue. Nothing here draws
 * or touches the terminal; the screen manager (tui.c) does. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sockpit/cmd/cmd.h"
#include "ui.h"

uint64_t ui_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ui_set_status(struct sp_tui *t, int role, const char *fmt, ...)
{
    va_list ap;
    char buf[512];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sp_buf_reset(&t->status);
    sp_buf_appends(&t->status, buf);
    t->status_role = role;
    t->status_ms = ui_now_ms();
    t->dirty = 1;
}

void ui_set_status_render(struct sp_tui *t, int role, const char *prefix, const char *text)
{
    sp_buf_reset(&t->status);
    sp_buf_appends(&t->status, prefix);
    if (text)
        sp_render(&t->status, text, strlen(text), t->th.render);
    t->status_role = role;
    t->status_ms = ui_now_ms();
    t->dirty = 1;
}

void ui_run(struct sp_tui *t, const char *fmt, ...)
{
    va_list ap;
    char buf[1024];
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf)) {
        /* Long lines (a composer message in hex) are formatted again in full. */
        char *big = sp_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sp_cmdq_push(t->kq, big, "key");
        free(big);
    } else {
        sp_cmdq_push(t->kq, buf, "key");
    }
    t->dirty = 1;
}

struct ui_pane *ui_focused(struct sp_tui *t)
{
    return &t->panes[t->focus];
}

uint32_t ui_focused_sock(struct sp_tui *t)
{
    return t->panes[t->focus].sock;
}

int ui_pane_of(struct sp_tui *t, uint32_t id)
{
    for (int i = 0; i < t->npanes; i++)
        if (t->panes[i].sock == id)
            return i;
    return -1;
}

/* A relay leg is shown with its other leg beside it, the client leg on the
 * left: the pane next to it changes, or, with one pane, a second one opens
 * side by side. Focus stays where it was. */
static void relay_beside(struct sp_tui *t, int i)
{
    uint32_t id = t->panes[i].sock;
    struct sp_relay_info ri;
    struct sp_sock_info si;
    if (id == 0 || sp_engine_relay_info(t->eng, id, &ri) != 0 || ri.client == 0 || ri.target == 0)
        return;
    int client = id == ri.client;
    uint32_t other = client ? ri.target : ri.client;
    if (ui_pane_of(t, other) >= 0 || sp_engine_sock_info(t->eng, other, &si) != 0)
        return;
    uint32_t focused = ui_focused_sock(t);
    if (t->npanes == 1) {
        if (ui_split(t, 0, other) != 0)
            return;
        if (!client) {
            /* The target leg goes right: swap the two panes. */
            struct ui_pane tmp = t->panes[0];
            t->panes[0] = t->panes[1];
            t->panes[1] = tmp;
        }
    } else {
        int left = client ? i : i - 1;
        if (left < 0)
            left = 0;
        if (left > t->npanes - 2)
            left = t->npanes - 2;
        if (t->panes[left].sock != ri.client)
            ui_pane_reset(&t->panes[left], ri.client);
        if (t->panes[left + 1].sock != ri.target)
            ui_pane_reset(&t->panes[left + 1], ri.target);
    }
    int f = ui_pane_of(t, focused);
    if (f >= 0)
        t->focus = f;
    t->dirty = 1;
}

void ui_show_sock(struct sp_tui *t, uint32_t id)
{
    int i = ui_pane_of(t, id);
    if (i >= 0) {
        t->focus = i;
    } else {
        struct ui_pane *p = ui_focused(t);
        ui_pane_reset(p, id);
    }
    t->selected = id;
    t->dirty = 1;
    relay_beside(t, ui_pane_of(t, id));
}

/* A socket not shown in any pane, preferring open ones, or 0. */
static uint32_t unshown_sock(struct sp_tui *t)
{
    uint32_t best = 0;
    for (size_t i = 0; i < t->norder; i++) {
        uint32_t id = t->order[i];
        if (ui_pane_of(t, id) >= 0)
            continue;
        struct sp_sock_info si;
        if (sp_engine_sock_info(t->eng, id, &si) == 0 && si.open)
            return id;
        if (!best)
            best = id;
    }
    return best;
}

int ui_split(struct sp_tui *t, int stacked, uint32_t id)
{
    if (t->npanes >= UI_PANES_MAX)
        return -1;
    if (!id)
        id = unshown_sock(t);
    if (!id)
        id = ui_focused_sock(t);
    int at = t->focus + 1;
    memmove(&t->panes[at + 1], &t->panes[at], (size_t)(t->npanes - at) * sizeof(t->panes[0]));
    struct ui_pane *p = &t->panes[at];
    memset(p, 0, sizeof(*p));
    p->view = t->panes[t->focus].view;
    ui_pane_reset(p, id);
    t->npanes++;
    t->stacked = stacked;
    t->focus = at;
    if (id)
        t->selected = id;
    t->dirty = 1;
    return 0;
}

void ui_unsplit(struct sp_tui *t)
{
    if (t->npanes <= 1) {
        ui_set_status(t, UI_R_WARN, "only one pane left");
        return;
    }
    int at = t->focus;
    memmove(&t->panes[at], &t->panes[at + 1], (size_t)(t->npanes - at - 1) * sizeof(t->panes[0]));
    t->npanes--;
    if (t->focus >= t->npanes)
        t->focus = t->npanes - 1;
    t->dirty = 1;
}

int ui_sock_open_count(struct sp_tui *t)
{
    uint32_t probe;
    size_t n = sp_engine_sock_ids(t->eng, &probe, 0);
    if (n == 0)
        return 0;
    uint32_t *ids = sp_xreallocarray(NULL, n, sizeof(*ids));
    n = sp_engine_sock_ids(t->eng, ids, n);
    int open = 0;
    for (size_t i = 0; i < n; i++) {
        struct sp_sock_info si;
        if (sp_engine_sock_info(t->eng, ids[i], &si) == 0 && si.open)
            open++;
    }
    free(ids);
    return open;
}

/* Where a new socket goes: a listener's pane opens into its first
 * connection; otherwise an empty or closed pane is reused, or a second pane
 * added; beyond that a socket the user created replaces the focused pane and
 * an accepted one waits in the sidebar. */
void ui_auto_show(struct sp_tui *t, uint32_t id, uint32_t parent)
{
    if (t->demo && t->demo_stage && t->demo_stage < 3 && t->npanes >= 2)
        return;
    if (ui_pane_of(t, id) >= 0)
        return;
    struct sp_relay_info ri;
    if (sp_engine_relay_info(t->eng, id, &ri) == 0 && ri.client != 0 && ri.target != 0) {
        int j = ui_pane_of(t, id == ri.client ? ri.target : ri.client);
        if (j >= 0) {
            /* The other leg is on screen: this one goes beside it. */
            relay_beside(t, j);
            return;
        }
        /* The relay made it, not the user: it does not take the pane the
         * user is looking at, as an accepted connection does not. */
        if (parent == 0)
            parent = ri.listener;
    }
    int i = parent ? ui_pane_of(t, parent) : -1;
    if (i >= 0) {
        ui_pane_reset(&t->panes[i], id);
        if (i == t->focus)
            t->selected = id;
        return;
    }
    int reuse = -1;
    for (int k = -1; k < t->npanes && reuse < 0; k++) {
        int j = k < 0 ? t->focus : k;
        struct ui_pane *p = &t->panes[j];
        struct sp_sock_info si;
        if (p->sock == 0 || (sp_engine_sock_info(t->eng, p->sock, &si) == 0 && !si.open))
            reuse = j;
    }
    if (reuse >= 0) {
        ui_pane_reset(&t->panes[reuse], id);
        if (!parent || reuse == t->focus) {
            t->focus = reuse;
            t->selected = id;
        }
        return;
    }
    if (t->npanes < 2) {
        int focus = t->focus;
        ui_split(t, t->stacked, id);
        if (parent) {
            /* An accepted connection must not steal the keyboard. */
            t->focus = focus;
            t->selected = ui_focused_sock(t) ? ui_focused_sock(t) : id;
        }
        return;
    }
    /* A socket the user just created goes where the user is looking;
     * further accepted connections wait in the sidebar. */
    if (!parent) {
        ui_pane_reset(ui_focused(t), id);
        t->selected = id;
    }
}

uint32_t ui_other_end(struct sp_tui *t, uint32_t id)
{
    struct sp_sock_info si, o;
    if (sp_engine_sock_info(t->eng, id, &si) != 0 || !si.open || sp_kind_is_listener(si.kind))
        return 0;
    uint32_t probe;
    size_t n = sp_engine_sock_ids(t->eng, &probe, 0);
    uint32_t *ids = sp_xreallocarray(NULL, n ? n : 1, sizeof(*ids));
    n = sp_engine_sock_ids(t->eng, ids, n);
    uint32_t found = 0;
    int matches = 0;
    /* Our local address is its peer and the other way round; an accepted
     * socket pairs with a client of ours, never with another accepted one.
     * Two unnamed Unix clients of one path cannot be told apart: no answer
     * then rather than a guess. */
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id || sp_engine_sock_info(t->eng, ids[i], &o) != 0 || !o.open ||
            o.kind != si.kind)
            continue;
        if (sp_kind_is_stream(si.kind) && (o.parent != 0) == (si.parent != 0))
            continue;
        if (strcmp(o.local, si.peer) == 0 && strcmp(o.peer, si.local) == 0) {
            found = ids[i];
            matches++;
        }
    }
    free(ids);
    return matches == 1 ? found : 0;
}

static int parse_id(const char *s, uint32_t *id)
{
    uint64_t v;
    size_t pos;
    if (sp_parse_u64(s, strlen(s), 0, &v, &pos) != 0 || v == 0 || v > UINT32_MAX)
        return -1;
    *id = (uint32_t)v;
    return 0;
}

/* The wire timeline of a socket never captured has no segment rows: say
 * why, rather than let an empty wire look like a quiet one. */
static void say_no_segments(struct sp_tui *t, uint32_t sock)
{
    struct sp_wire_info wi;
    if (sock == 0 || sp_engine_wire_info(t->eng, sock, &wi))
        return;
    const struct ui_segidx *x = ui_segidx_get(t, sock, 1);
    if (x != NULL && x->any)
        return;
    ui_set_status(t, UI_R_WARN, "view: wire, but [%u]'s segments are not captured: w turns it on",
                  (unsigned)sock);
}

int ui_command(void *ud, int argc, const char *const *argv, char *err, size_t errlen)
{
    struct sp_tui *t = ud;
    const char *cmd = argv[0];
    struct ui_pane *p = ui_focused(t);
    t->dirty = 1;
    if (strcmp(cmd, "split") == 0) {
        int stacked = t->stacked;
        uint32_t id = 0;
        for (int i = 1; i < argc; i++) {
            const char *a = argv[i];
            if (strcmp(a, "rows") == 0 || strcmp(a, "v") == 0 || strcmp(a, "-v") == 0 ||
                strcmp(a, "stacked") == 0)
                stacked = 1;
            else if (strcmp(a, "cols") == 0 || strcmp(a, "h") == 0 || strcmp(a, "-h") == 0 ||
                     strcmp(a, "side") == 0)
                stacked = 0;
            else if (parse_id(a, &id) != 0) {
                snprintf(err, errlen, "split: expected rows, cols or a socket id, not '%s'", a);
                return -1;
            }
        }
        struct sp_sock_info si;
        if (id && sp_engine_sock_info(t->eng, id, &si) != 0) {
            snprintf(err, errlen, "split: no socket %u", (unsigned)id);
            return -1;
        }
        if (ui_split(t, stacked, id) != 0) {
            snprintf(err, errlen, "split: at most %d panes", UI_PANES_MAX);
            return -1;
        }
        return 0;
    }
    if (strcmp(cmd, "unsplit") == 0) {
        if (t->npanes <= 1) {
            snprintf(err, errlen, "unsplit: only one pane");
            return -1;
        }
        ui_unsplit(t);
        return 0;
    }
    if (strcmp(cmd, "view") == 0) {
        static const char *const names[] = {"chunks", "messages", "both", "wire"};
        if (argc < 2) {
            p->view = (enum ui_view)((p->view + 1) % UI_VIEW__COUNT);
            return 0;
        }
        size_t l = strlen(argv[1]);
        if (strcmp(argv[1], "msgs") == 0 || strcmp(argv[1], "msg") == 0) {
            p->view = UI_VIEW_MESSAGES;
            return 0;
        }
        for (int i = 0; i < UI_VIEW__COUNT; i++)
            if (l && strncmp(argv[1], names[i], l) == 0) {
                p->view = (enum ui_view)i;
                if (p->view == UI_VIEW_WIRE)
                    say_no_segments(t, p->sock);
                return 0;
            }
        snprintf(err, errlen, "view: expected chunks, msgs, both or wire");
        return -1;
    }
    if (strcmp(cmd, "hex") == 0) {
        if (argc < 2)
            p->hex = !p->hex;
        else if (strcmp(argv[1], "on") == 0)
            p->hex = 1;
        else if (strcmp(argv[1], "off") == 0)
            p->hex = 0;
        else {
            snprintf(err, errlen, "hex: expected on or off");
            return -1;
        }
        return 0;
    }
    if (strcmp(cmd, "confirm") == 0) {
        if (argc == 2 && strcmp(argv[1], "on") == 0)
            t->no_confirm = 0;
        else if (argc == 2 && strcmp(argv[1], "off") == 0)
            t->no_confirm = 1;
        else {
            snprintf(err, errlen, "confirm: expected on or off");
            return -1;
        }
        ui_set_status(t, UI_R_TITLE, "c and X %s", t->no_confirm ? "act at once" : "ask first");
        return 0;
    }
    if (strcmp(cmd, "focus") == 0) {
        uint32_t id;
        struct sp_sock_info si;
        if (argc < 2 || parse_id(argv[1], &id) != 0 || sp_engine_sock_info(t->eng, id, &si) != 0) {
            snprintf(err, errlen, "focus: expected the id of an existing socket");
            return -1;
        }
        ui_show_sock(t, id);
        return 0;
    }
    snprintf(err, errlen, "%s: not a front-end command", cmd);
    return -1;
}
