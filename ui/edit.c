/* A one-line editor with history, shared by the composer and the prompt.
 * Text is UTF-8; the cursor moves by whole characters. */
#include <curses.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "ui.h"

#define HIST_MAX 200

void ui_edit_init(struct ui_edit *e)
{
    memset(e, 0, sizeof(*e));
    sp_buf_init(&e->text);
    sp_buf_init(&e->saved);
}

void ui_edit_cleanup(struct ui_edit *e)
{
    for (size_t i = 0; i < e->nhist; i++)
        free(e->hist[i]);
    free(e->hist);
    sp_buf_cleanup(&e->text);
    sp_buf_cleanup(&e->saved);
    memset(e, 0, sizeof(*e));
}

void ui_edit_set(struct ui_edit *e, const char *s)
{
    sp_buf_reset(&e->text);
    sp_buf_appends(&e->text, s);
    e->cur = e->text.len;
}

/* Appends the current line to the history (not twice in a row) and clears. */
void ui_edit_remember(struct ui_edit *e)
{
    const char *s = sp_buf_str(&e->text);
    if (s[0] && !(e->nhist && strcmp(e->hist[e->nhist - 1], s) == 0)) {
        if (e->nhist == HIST_MAX) {
            free(e->hist[0]);
            memmove(e->hist, e->hist + 1, (HIST_MAX - 1) * sizeof(*e->hist));
            e->nhist--;
        }
        e->hist = sp_xreallocarray(e->hist, e->nhist + 1, sizeof(*e->hist));
        e->hist[e->nhist++] = sp_xstrdup(s);
    }
    e->hist_pos = e->nhist;
    ui_edit_set(e, "");
}

static size_t prev_char(const struct ui_edit *e, size_t pos)
{
    if (pos == 0)
        return 0;
    pos--;
    while (pos > 0 && (e->text.data[pos] & 0xc0) == 0x80)
        pos--;
    return pos;
}

static size_t next_char(const struct ui_edit *e, size_t pos)
{
    if (pos >= e->text.len)
        return e->text.len;
    pos++;
    while (pos < e->text.len && (e->text.data[pos] & 0xc0) == 0x80)
        pos++;
    return pos;
}

static void cut(struct ui_edit *e, size_t from, size_t to)
{
    if (to <= from)
        return;
    memmove(e->text.data + from, e->text.data + to, e->text.len - to + 1);
    e->text.len -= to - from;
    if (e->cur >= to)
        e->cur -= to - from;
    else if (e->cur > from)
        e->cur = from;
}

static void insert(struct ui_edit *e, const char *s, size_t n)
{
    if (e->text.len == 0) {
        sp_buf_append(&e->text, s, n);
        e->cur = n;
        return;
    }
    sp_buf_reserve(&e->text, n);
    memmove(e->text.data + e->cur + n, e->text.data + e->cur, e->text.len - e->cur + 1);
    memcpy(e->text.data + e->cur, s, n);
    e->text.len += n;
    e->cur += n;
}

static void history(struct ui_edit *e, int dir)
{
    if (e->nhist == 0)
        return;
    if (e->hist_pos == e->nhist) {
        sp_buf_reset(&e->saved);
        sp_buf_appends(&e->saved, sp_buf_str(&e->text));
    }
    if (dir < 0 && e->hist_pos > 0)
        e->hist_pos--;
    else if (dir > 0 && e->hist_pos < e->nhist)
        e->hist_pos++;
    else
        return;
    ui_edit_set(e, e->hist_pos == e->nhist ? sp_buf_str(&e->saved) : e->hist[e->hist_pos]);
}

int ui_edit_key(struct ui_edit *e, int key)
{
    size_t p;
    switch (key) {
    case UI_KEY(KEY_LEFT):
    case UI_CTRL('b'):
        e->cur = prev_char(e, e->cur);
        break;
    case UI_KEY(KEY_RIGHT):
    case UI_CTRL('f'):
        e->cur = next_char(e, e->cur);
        break;
    case UI_KEY(KEY_HOME):
    case UI_CTRL('a'):
        e->cur = 0;
        break;
    case UI_KEY(KEY_END):
    case UI_CTRL('e'):
        e->cur = e->text.len;
        break;
    case UI_KEY(KEY_BACKSPACE):
    case 127:
    case UI_CTRL('h'):
        cut(e, prev_char(e, e->cur), e->cur);
        break;
    case UI_KEY(KEY_DC):
        cut(e, e->cur, next_char(e, e->cur));
        break;
    case UI_CTRL('u'):
        cut(e, 0, e->cur);
        break;
    case UI_CTRL('k'):
        cut(e, e->cur, e->text.len);
        break;
    case UI_CTRL('w'):
        p = e->cur;
        while (p > 0 && e->text.data[p - 1] == ' ')
            p--;
        while (p > 0 && e->text.data[p - 1] != ' ')
            p--;
        cut(e, p, e->cur);
        break;
    case UI_KEY(KEY_UP):
        history(e, -1);
        break;
    case UI_KEY(KEY_DOWN):
        history(e, 1);
        break;
    default:
        /* Only printable characters are inserted: a control character typed
         * or pasted must never reach the screen through the editor. */
        if (key >= UI_FN || key < 0x20 || key == 127 || !iswprint((wint_t)key))
            return UI_UNHANDLED;
        {
            char mb[MB_LEN_MAX];
            mbstate_t st;
            memset(&st, 0, sizeof(st));
            size_t k = wcrtomb(mb, (wchar_t)key, &st);
            if (k == (size_t)-1)
                return UI_HANDLED;
            insert(e, mb, k);
        }
        break;
    }
    return UI_HANDLED | UI_REDRAW;
}

/* Draws the line scrolled so that the cursor stays in view. */
int ui_edit_draw(struct sp_tui *t, struct ui_edit *e, int y, int x, int w, int role)
{
    if (w <= 1)
        return x;
    const char *s = sp_buf_str(&e->text);
    /* Width before the cursor decides the start of the visible part. */
    size_t start = 0;
    for (;;) {
        char *tmp = sp_xstrndup(s + start, e->cur - start);
        int before = ui_width(tmp);
        free(tmp);
        if (before < w - 1 || start >= e->cur)
            break;
        start = next_char(e, start);
    }
    char *tmp = sp_xstrndup(s + start, e->cur - start);
    int cx = x + ui_width(tmp);
    free(tmp);
    ui_putn(t, y, x, w, role, s + start, e->text.len - start);
    return cx;
}
