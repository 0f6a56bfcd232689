/* The notes panel: the lab the command queue runs (its step, the prediction
 * it asks for, then the note and which checks held), or a `step` line
 * waiting for the step key. It sits under the panes; N shows or hides it,
 * Space moves on, r repeats the step. While a lab runs, the panes follow
 * its newest connection, both ends side by side. */
#include <stdio.h>
#include <string.h>

#include "sockpit/cmd/cmd.h"
#include "sockpit/cmd/lab.h"
#include "sockpit/proto/labfile.h"
#include "ui.h"

#define NOTES_ROWS 12

/* Is there anything for the panel to show? */
static int has_notes(struct sp_tui *t)
{
    return sp_cmdq_lab(t->q) != NULL || sp_cmdq_step_waiting(t->q);
}

int ui_notes_height(struct sp_tui *t, int main_h)
{
    if (!t->notes_open || !has_notes(t))
        return 0;
    int h = main_h / 2 < NOTES_ROWS ? main_h / 2 : NOTES_ROWS;
    return h < 4 ? 0 : h;
}

/* Draws one line of text from a lab file (rendered safe), cut to w. */
static void put_text(struct sp_tui *t, int y, int x, int w, int role, const char *s, size_t n)
{
    sp_buf_reset(&t->scratch);
    sp_render(&t->scratch, s, n, t->th.render);
    ui_putn(t, y, x, w, role, sp_buf_str(&t->scratch), t->scratch.len);
}

/* Draws text's lines from row *y on, prefixed, while rows are left. */
static void put_lines(struct sp_tui *t, int *y, int end, int x, int w, int role, const char *prefix,
                      const char *text)
{
    while (text != NULL && *y < end) {
        size_t n = strcspn(text, "\n");
        int px = ui_put(t, *y, x, w, UI_R_DIM, prefix);
        put_text(t, *y, x + px, w - px, role, text, n);
        (*y)++;
        if (text[n] == '\0')
            break;
        text += n + 1;
    }
}

static void draw_checks(struct sp_tui *t, const struct sp_lab_view *v, int y, int x, int w)
{
    const struct sp_lab_step *st = &v->def->steps[v->step];
    int cx =
        x + ui_putf(t, y, x, w, UI_R_DIM,
                    "lab checks %u held, %u failed; this step:", v->checks_held, v->checks_failed);
    for (size_t i = 0; i < st->nchecks && cx < x + w; i++) {
        int held = v->held[i];
        const char *mark = held == 1 ? "ok" : held == 0 ? "FAILED" : "..";
        int role = held == 1 ? UI_R_OK : held == 0 ? UI_R_BAD : UI_R_DIM;
        cx += 1 + ui_putf(t, y, cx + 1, x + w - cx - 1, role, "%s %s", mark, st->checks[i].name);
    }
}

static void draw_lab(struct sp_tui *t, const struct sp_lab_view *v, int y0, int x, int w, int h)
{
    int y = y0, end = y0 + h;
    const struct sp_labdef *d = v->def;
    static const char *const phase[] = {
        [SP_LAB_ASKING] = "predict, then Space runs the step",
        [SP_LAB_RUNNING] = "running...",
        [SP_LAB_SHOWING] = "Space: next step   r: repeat   N: hide",
        [SP_LAB_DONE] = "lab over",
    };
    int px =
        ui_putf(t, y, x, w, UI_R_TITLE, "lab %s  step %zu/%zu: ", d->name, v->step + 1, d->nsteps);
    put_text(t, y, x + px, w - px, UI_R_TITLE, v->title, strlen(v->title));
    y++;
    const char *ph =
        v->failed ? "stopped: a command failed (see the status line)" : phase[v->phase];
    ui_put(t, y++, x, w, v->failed ? UI_R_BAD : UI_R_KEY, ph);
    int shown = v->phase == SP_LAB_SHOWING || v->phase == SP_LAB_DONE;
    if (v->ask != NULL && !shown) {
        put_lines(t, &y, end, x, w, UI_R_WARN, "? ", v->ask);
        for (size_t i = 0; i < v->nchoices && y < end; i++) {
            char pre[32];
            snprintf(pre, sizeof pre, "  %zu) ", i + 1);
            put_lines(t, &y, end, x, w, UI_R_NORMAL, pre, v->choices[i]);
        }
    } else if (v->ask != NULL && v->answer > 0 && y < end - 1) {
        /* After the run the answer stands in for the question, leaving the
         * rows to the note. */
        char pre[32];
        snprintf(pre, sizeof pre, "answer %u) ", v->answer);
        put_lines(t, &y, y + 1, x, w, UI_R_OK, pre, v->choices[v->answer - 1]);
    }
    if (shown) {
        put_lines(t, &y, end - 1, x, w, UI_R_NORMAL, "", v->note);
        draw_checks(t, v, end - 1, x, w);
    }
}

void ui_notes_draw(struct sp_tui *t)
{
    if (t->notes_h <= 0)
        return;
    int y = t->notes_y, x = t->main_x, w = t->main_w, h = t->notes_h;
    ui_hline(t, y, x, w);
    ui_put(t, y, x + 2, w - 4, UI_R_TITLE, " notes (N) ");
    for (int i = 1; i < h; i++)
        ui_fill(t, y + i, x, w, UI_R_NORMAL);
    const struct sp_lab_view *v = sp_cmdq_lab(t->q);
    if (v != NULL && (v->phase != SP_LAB_DONE || !sp_cmdq_step_waiting(t->q)))
        draw_lab(t, v, y + 1, x + 1, w - 2, h - 1);
    else if (sp_cmdq_step_waiting(t->q))
        ui_put(t, y + 1, x + 1, w - 2, UI_R_KEY, "step: the script waits; Space goes on");
}

/* The newest of the lab's connections with both its ends, or its two newest
 * datagram sockets. */
static int lab_pair(struct sp_tui *t, const struct sp_lab_view *v, uint32_t pair[2])
{
    for (size_t i = v->nsocks; i-- > 0;) {
        struct sp_sock_info a;
        if (sp_engine_sock_info(t->eng, v->socks[i], &a) != 0 || a.parent == 0)
            continue;
        if (a.kind != SP_SOCK_TCP && a.kind != SP_SOCK_UNIX)
            continue;
        /* a is an accepted end: its peer is the lab socket bound to a's peer. */
        for (size_t k = 0; k < v->nsocks; k++) {
            struct sp_sock_info b;
            if (k == i || sp_engine_sock_info(t->eng, v->socks[k], &b) != 0 || b.parent != 0)
                continue;
            if (strcmp(b.local, a.peer) == 0 && strcmp(b.peer, a.local) == 0) {
                pair[0] = b.id;
                pair[1] = a.id;
                return 1;
            }
        }
    }
    uint32_t dg[2] = {0, 0};
    int n = 0;
    for (size_t i = 0; i < v->nsocks && n < 2; i++) {
        struct sp_sock_info a;
        if (sp_engine_sock_info(t->eng, v->socks[i], &a) == 0 && sp_kind_is_dgram(a.kind))
            dg[n++] = a.id;
    }
    if (n == 2) {
        pair[0] = dg[0];
        pair[1] = dg[1];
        return 1;
    }
    return 0;
}

void ui_notes_arrange(struct sp_tui *t)
{
    const struct sp_lab_view *v = sp_cmdq_lab(t->q);
    if (v == NULL || v->generation == t->lab_gen)
        return;
    t->lab_gen = v->generation;
    uint32_t pair[2];
    if (!lab_pair(t, v, pair) || (pair[0] == t->lab_pair[0] && pair[1] == t->lab_pair[1]))
        return;
    t->lab_pair[0] = pair[0];
    t->lab_pair[1] = pair[1];
    /* Only when the lab moves to another connection: the teacher may
     * rearrange the panes in between. */
    t->stacked = 0;
    t->npanes = 2;
    for (int i = 0; i < 2; i++) {
        memset(&t->panes[i], 0, sizeof t->panes[i]);
        t->panes[i].view = UI_VIEW_BOTH;
        ui_pane_reset(&t->panes[i], pair[i]);
    }
    if (t->focus >= t->npanes)
        t->focus = 0;
    t->selected = t->panes[t->focus].sock;
    t->dirty = 1;
}

int ui_notes_key(struct sp_tui *t, int key)
{
    if (key == 'N') {
        t->notes_open = !t->notes_open;
        return UI_HANDLED | UI_REDRAW;
    }
    if (key == ' ') {
        if (sp_cmdq_step(t->q) != 0)
            ui_set_status(t, UI_R_WARN, "nothing waits for Space (no lab step, no `step` line)");
        t->notes_open = 1;
        return UI_HANDLED | UI_REDRAW;
    }
    if (key == 'r') {
        if (sp_cmdq_step_repeat(t->q) != 0)
            ui_set_status(t, UI_R_WARN, "r repeats a lab step once it has run");
        return UI_HANDLED | UI_REDRAW;
    }
    return UI_UNHANDLED;
}
