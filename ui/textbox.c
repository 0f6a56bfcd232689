/* A scrollable text box over the panes: the help screen (keys.c builds it)
 * and the output of commands such as list, info and help. Long lines wrap
 * at spaces, continuing under their own indentation; the box is only as
 * tall as its text and sits at the bottom of the main area, so the panes'
 * headers and state lines stay in sight above it. */
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

/* Rows of the panes kept visible above a full box: header and state. */
#define KEEP_PANE_ROWS 3

void ui_box_close(struct sp_tui *t)
{
    for (size_t i = 0; i < t->box.nlines; i++)
        free(t->box.lines[i]);
    free(t->box.lines);
    free(t->box.title);
    free(t->box.rows);
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

void ui_box_append(struct sp_tui *t, char **lines, size_t n)
{
    char **v = sp_xreallocarray(t->box.lines, t->box.nlines + n, sizeof(*v));
    memcpy(v + t->box.nlines, lines, n * sizeof(*v));
    t->box.lines = v;
    t->box.nlines += n;
    free(lines);
}

static void push_row(struct ui_textbox *b, size_t line, size_t off, size_t len, int indent)
{
    if (b->nrows == b->rows_cap) {
        b->rows_cap = b->rows_cap ? b->rows_cap * 2 : 64;
        b->rows = sp_xreallocarray(b->rows, b->rows_cap, sizeof(*b->rows));
    }
    b->rows[b->nrows++] = (struct ui_boxrow){line, off, len, indent};
}

/* Where a continuation row starts: under the description of a two-column
 * line ("  --hex   DATA words ..."), else two past the line's indentation. */
static int hang(const char *s, size_t ind, int w)
{
    const char *gap = strstr(s + ind, "  ");
    int col = (int)ind + 2;
    if (gap != NULL && gap - s < 24) {
        size_t at = (size_t)(gap - s) + strspn(gap, " ");
        if (s[at] != '\0')
            col = (int)at;
    }
    return col > w / 2 ? w / 2 : col;
}

/* Cuts line i into rows of at most w columns, at the last space that fits
 * (anywhere when a word is longer than a row). */
static void wrap_line(struct ui_textbox *b, size_t i, int w)
{
    const char *s = b->lines[i];
    size_t n = strlen(s), ind = strspn(s, " ");
    int cont = hang(s, ind, w);
    size_t off = 0;
    int first = 1;
    do {
        if (!first)
            off += strspn(s + off, " ");
        if (off >= n && !first)
            break;
        int avail = first ? w : w - cont;
        size_t k = off, space = 0;
        int used = 0, have_space = 0;
        while (k < n) {
            int cw;
            size_t len = ui_next_char(s + k, n - k, &cw);
            if (cw < 0)
                cw = 1;
            if (used + cw > avail && k > off)
                break;
            if (s[k] == ' ' && k > off + (first ? ind : 0)) {
                space = k;
                have_space = 1;
            }
            used += cw;
            k += len;
        }
        size_t cut = k < n && have_space ? space : k;
        push_row(b, i, off, cut - off, first ? 0 : cont);
        off = cut;
        first = 0;
    } while (off < n);
}

/* Brings the rows up to date with width w and the lines added since. */
static void wrap(struct sp_tui *t, int w)
{
    struct ui_textbox *b = &t->box;
    if (w < 1)
        w = 1;
    if (b->wrap_w != w) {
        b->nrows = 0;
        b->wrapped = 0;
        b->wrap_w = w;
    }
    for (; b->wrapped < b->nlines; b->wrapped++)
        wrap_line(b, b->wrapped, w);
}

/* The box's rectangle: the whole width, as tall as its text, at the bottom
 * of the main area below the panes' first rows. */
static void geometry(struct sp_tui *t, int *y, int *h, int *w)
{
    *w = t->cols;
    wrap(t, *w - 4);
    int max = t->main_h - (t->main_h >= 4 * KEEP_PANE_ROWS ? KEEP_PANE_ROWS : 0);
    size_t want = t->box.nrows + 2;
    *h = want < (size_t)max ? (int)want : max;
    if (*h < 3)
        *h = 3;
    if (*h > t->main_h)
        *h = t->main_h;
    *y = t->main_h - *h;
}

static size_t text_rows(struct sp_tui *t)
{
    int y, h, w;
    geometry(t, &y, &h, &w);
    return h > 2 ? (size_t)h - 2 : 1;
}

int ui_box_key(struct sp_tui *t, int key)
{
    size_t rows = text_rows(t);
    size_t max = t->box.nrows > rows ? t->box.nrows - rows : 0;
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
    int y, h, w;
    geometry(t, &y, &h, &w);
    size_t rows = h > 2 ? (size_t)h - 2 : 0;
    /* A narrower terminal may leave top past the end. */
    size_t max = t->box.nrows > rows ? t->box.nrows - rows : 0;
    if (t->box.top > max)
        t->box.top = max;
    ui_box(t, y, 0, h, w, t->box.title);
    for (size_t i = 0; i < rows && t->box.top + i < t->box.nrows; i++) {
        const struct ui_boxrow *r = &t->box.rows[t->box.top + i];
        ui_putn(t, y + 1 + (int)i, 2 + r->indent, w - 4 - r->indent, UI_R_NORMAL,
                t->box.lines[r->line] + r->off, r->len);
    }
    if (t->box.top + rows < t->box.nrows)
        ui_put(t, y + h - 1, w - 4, 1, UI_R_KEY, t->th.g.down);
    if (t->box.top > 0)
        ui_put(t, y, w - 4, 1, UI_R_KEY, t->th.g.up);
}
