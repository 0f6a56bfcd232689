/* A scrollable text box over the panes: the help screen (keys.c builds it)
 * and the output of commands such as list, info and help. */
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

void ui_box_close(struct sp_tui *t)
{
    for (size_t i = 0; i < t->box.nlines; i++)
        free(t->box.lines[i]);
    free(t->box.lines);
    free(t->box.title);
    memset(&t->box, 0, sizeof(t->box));
    if (t->mode == UI_MODE_HELP)
        t->mode = UI_MODE_NORMAL;
}

/* Shows lines (ownership taken) in the box. */
void ui_box_open(struct sp_tui *t, const char *title, char **lines, size_t n)
{
    ui_box_close(t);
    t->box.open = 1;
    t->box.title = sp_xstrdup(title);
    t->box.lines = lines;
    t->box.nlines = n;
    t->box.top = 0;
    t->mode = UI_MODE_HELP;
}

static size_t box_rows(struct sp_tui *t)
{
    int h = t->main_h - 2;
    return h > 0 ? (size_t)h : 1;
}

int ui_box_key(struct sp_tui *t, int key)
{
    size_t rows = box_rows(t);
    size_t max = t->box.nlines > rows ? t->box.nlines - rows : 0;
    switch (key) {
    case UI_KEY(KEY_UP):
    case 'k':
        if (t->box.top > 0)
            t->box.top--;
        break;
    case UI_KEY(KEY_DOWN):
    case 'j':
        if (t->box.top < max)
            t->box.top++;
        break;
    case UI_KEY(KEY_PPAGE):
        t->box.top = t->box.top > rows ? t->box.top - rows : 0;
        break;
    case UI_KEY(KEY_NPAGE):
    case ' ':
        t->box.top = t->box.top + rows < max ? t->box.top + rows : max;
        break;
    case UI_KEY(KEY_HOME):
        t->box.top = 0;
        break;
    case UI_KEY(KEY_END):
        t->box.top = max;
        break;
    default:
        ui_box_close(t);
        break;
    }
    return UI_HANDLED | UI_REDRAW;
}

void ui_box_draw(struct sp_tui *t)
{
    if (!t->box.open)
        return;
    int x = 0, w = t->cols;
    int h = t->main_h;
    /* Nothing of the panes may show through around the box. */
    for (int y = 0; y < t->main_h; y++)
        ui_fill(t, y, 0, t->cols, UI_R_NORMAL);
    size_t rows = box_rows(t);
    if (t->box.nlines < rows) {
        h = (int)t->box.nlines + 2;
        rows = t->box.nlines;
    }
    ui_box(t, 0, x, h, w, t->box.title);
    for (size_t i = 0; i < rows && t->box.top + i < t->box.nlines; i++)
        ui_put(t, 1 + (int)i, x + 2, w - 4, UI_R_NORMAL, t->box.lines[t->box.top + i]);
    if (t->box.top + rows < t->box.nlines)
        ui_put(t, h - 1, x + w - 4, 1, UI_R_KEY, t->th.g.down);
    if (t->box.top > 0)
        ui_put(t, 0, x + w - 4, 1, UI_R_KEY, t->th.g.up);
}
