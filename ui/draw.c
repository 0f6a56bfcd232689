/* Clipped drawing on stdscr. Everything the UI writes goes through ui_putn(),
 * which never writes past the given width or the screen edge and turns any
 * control character into '?': a second line of defence behind sp_render(),
 * which every peer-controlled string has already passed. */
#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

/* The renderer's width model, not the C library's: columns are counted
 * exactly as sp_render() counted them. */
size_t ui_next_char(const char *s, size_t n, int *width)
{
    /* Without a UTF-8 locale, text is ASCII (SP_RENDER_ASCII) and any other
     * byte is shown as '?'. */
    if (MB_CUR_MAX == 1 && (unsigned char)s[0] >= 0x80) {
        *width = -1;
        return 1;
    }
    return sp_render_char(s, n, width);
}

int ui_putn(struct sp_tui *t, int y, int x, int w, int role, const char *s, size_t n)
{
    if (y < 0 || y >= t->rows || x < 0 || x >= t->cols || w <= 0)
        return 0;
    if (x + w > t->cols)
        w = t->cols - x;
    char out[1024];
    size_t o = 0;
    int used = 0;
    size_t i = 0;
    while (i < n && s[i] != '\0') {
        int cw;
        size_t k0 = ui_next_char(s + i, n - i, &cw);
        const char *src = s + i;
        size_t k = k0;
        if (cw < 0 || (k0 == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))) {
            src = "?";
            k = 1;
            cw = 1;
        }
        if (used + cw > w || o + k >= sizeof(out))
            break;
        memcpy(out + o, src, k);
        o += k;
        used += cw;
        i += k0;
    }
    if (o > 0) {
        attrset(t->th.attr[role]);
        mvaddnstr(y, x, out, (int)o);
        attrset(A_NORMAL);
    }
    return used;
}

int ui_put(struct sp_tui *t, int y, int x, int w, int role, const char *s)
{
    return ui_putn(t, y, x, w, role, s, strlen(s));
}

int ui_putf(struct sp_tui *t, int y, int x, int w, int role, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return ui_put(t, y, x, w, role, buf);
}

int ui_put_peer(struct sp_tui *t, int y, int x, int w, int role, const void *p, size_t n,
                size_t *consumed)
{
    if (w <= 0) {
        if (consumed)
            *consumed = 0;
        return 0;
    }
    sp_buf_reset(&t->scratch);
    sp_render_cols(&t->scratch, p, n, t->th.render, (size_t)w, consumed);
    return ui_putn(t, y, x, w, role, sp_buf_str(&t->scratch), t->scratch.len);
}

void ui_fill(struct sp_tui *t, int y, int x, int w, int role)
{
    if (y < 0 || y >= t->rows || x < 0 || x >= t->cols || w <= 0)
        return;
    if (x + w > t->cols)
        w = t->cols - x;
    attrset(t->th.attr[role]);
    mvhline(y, x, ' ', w);
    attrset(A_NORMAL);
}

void ui_vline(struct sp_tui *t, int y, int x, int h)
{
    for (int i = 0; i < h; i++)
        ui_put(t, y + i, x, 1, UI_R_BORDER, t->th.g.vline);
}

void ui_hline(struct sp_tui *t, int y, int x, int w)
{
    for (int i = 0; i < w; i++)
        ui_put(t, y, x + i, 1, UI_R_BORDER, t->th.g.hline);
}

int ui_width(const char *s)
{
    int w = 0;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        int cw;
        i += ui_next_char(s + i, n - i, &cw);
        w += cw < 0 ? 1 : cw;
    }
    return w;
}

void ui_fmt_bytes(char *buf, size_t len, uint64_t n)
{
    if (n < 10000)
        snprintf(buf, len, "%llu", (unsigned long long)n);
    else if (n % 1024 == 0 && n < 10ull * 1024 * 1024)
        snprintf(buf, len, "%lluK", (unsigned long long)(n / 1024));
    else if (n % (1024 * 1024) == 0)
        snprintf(buf, len, "%lluM", (unsigned long long)(n / (1024 * 1024)));
    else if (n < 10ull * 1024 * 1024)
        snprintf(buf, len, "%.1fK", (double)n / 1024.0);
    else if (n < 10ull * 1024 * 1024 * 1024)
        snprintf(buf, len, "%.1fM", (double)n / (1024.0 * 1024.0));
    else
        snprintf(buf, len, "%.1fG", (double)n / (1024.0 * 1024.0 * 1024.0));
}

void ui_box(struct sp_tui *t, int y, int x, int h, int w, const char *title)
{
    if (h < 2 || w < 2)
        return;
    for (int i = 1; i < h - 1; i++) {
        ui_fill(t, y + i, x + 1, w - 2, UI_R_NORMAL);
        ui_put(t, y + i, x, 1, UI_R_BORDER, t->th.g.vline);
        ui_put(t, y + i, x + w - 1, 1, UI_R_BORDER, t->th.g.vline);
    }
    ui_put(t, y, x, 1, UI_R_BORDER, t->th.g.tl);
    ui_hline(t, y, x + 1, w - 2);
    ui_put(t, y, x + w - 1, 1, UI_R_BORDER, t->th.g.tr);
    ui_put(t, y + h - 1, x, 1, UI_R_BORDER, t->th.g.bl);
    ui_hline(t, y + h - 1, x + 1, w - 2);
    ui_put(t, y + h - 1, x + w - 1, 1, UI_R_BORDER, t->th.g.br);
    if (title && title[0]) {
        ui_put(t, y, x + 2, w - 4, UI_R_TITLE, " ");
        int tw = ui_put(t, y, x + 3, w - 6, UI_R_TITLE, title);
        ui_put(t, y, x + 3 + tw, 1, UI_R_TITLE, " ");
    }
}
