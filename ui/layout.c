/* Screen geometry: where the sidebar, the panes and the bottom lines go. */
#include "ui.h"

#define UI_MIN_COLS    40
#define UI_MIN_ROWS    10
#define UI_BOTTOM_ROWS 4 /* composer (2), status, key hints */

/* Recomputes every rectangle from the terminal size and the pane list. */
void ui_layout(struct sp_tui *t)
{
    t->too_small = t->cols < UI_MIN_COLS || t->rows < UI_MIN_ROWS;
    if (t->too_small)
        return;
    if (t->side_hidden)
        t->side_w = 0;
    else if (t->cols >= 110)
        t->side_w = 32;
    else if (t->cols >= 80)
        t->side_w = 26;
    else if (t->cols >= 60)
        t->side_w = 20;
    else
        t->side_w = 0;
    t->main_x = t->side_w ? t->side_w + 1 : 0;
    t->main_w = t->cols - t->main_x;
    t->main_h = t->rows - UI_BOTTOM_ROWS;
    t->compose_y = t->main_h;
    t->notes_h = ui_notes_height(t, t->main_h);
    t->main_h -= t->notes_h;
    t->notes_y = t->main_h;
    t->status_y = t->rows - 2;
    t->hint_y = t->rows - 1;

    int n = t->npanes;
    if (t->stacked) {
        int each = t->main_h / n;
        int y = 0;
        for (int i = 0; i < n; i++) {
            struct ui_pane *p = &t->panes[i];
            p->y = y;
            p->x = t->main_x;
            p->w = t->main_w;
            p->h = (i == n - 1) ? t->main_h - y : each;
            y += p->h;
        }
    } else {
        int each = (t->main_w - (n - 1)) / n;
        int x = t->main_x;
        for (int i = 0; i < n; i++) {
            struct ui_pane *p = &t->panes[i];
            p->y = 0;
            p->x = x;
            p->h = t->main_h;
            p->w = (i == n - 1) ? t->main_x + t->main_w - x : each;
            x += p->w + 1; /* a separator column between panes */
        }
    }
}

int ui_pane_at(struct sp_tui *t, int y, int x)
{
    if (t->too_small)
        return -1;
    for (int i = 0; i < t->npanes; i++) {
        const struct ui_pane *p = &t->panes[i];
        if (y >= p->y && y < p->y + p->h && x >= p->x && x < p->x + p->w)
            return i;
    }
    return -1;
}
