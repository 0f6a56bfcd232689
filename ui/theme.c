/* Colours, attributes and glyphs: the one place that decides how roles look. */
#include <curses.h>
#include <string.h>

#include "ui.h"

static const struct ui_glyphs glyphs_utf8 = {
    .vline = "\xe2\x94\x82",     /* │ */
    .hline = "\xe2\x94\x80",     /* ─ */
    .both_ways = "\xe2\x86\x94", /* ↔ */
    .in = "\xe2\x86\x90",        /* ← */
    .out = "\xe2\x86\x92",       /* → */
    .mark = "\xe2\x94\x8a",      /* ┊ */
    .segmark = "\xe2\x95\x8e",   /* ╎ */
    .ellipsis = "\xe2\x80\xa6",  /* … */
    .tee = "\xe2\x94\x9c",       /* ├ */
    .elbow = "\xe2\x94\x94",     /* └ */
    .pipe = "\xe2\x94\x82",      /* │ */
    .up = "\xe2\x86\x91",        /* ↑ */
    .down = "\xe2\x86\x93",      /* ↓ */
    .dot = "\xe2\x80\xa2",       /* • */
    .tl = "\xe2\x94\x8c",        /* ┌ */
    .tr = "\xe2\x94\x90",        /* ┐ */
    .bl = "\xe2\x94\x94",        /* └ */
    .br = "\xe2\x94\x98",        /* ┘ */
};

static const struct ui_glyphs glyphs_ascii = {
    .vline = "|",
    .hline = "-",
    .both_ways = "<->",
    .in = "<",
    .out = ">",
    .mark = "|",
    .segmark = ":",
    .ellipsis = "~",
    .tee = "+",
    .elbow = "`",
    .pipe = "|",
    .up = "^",
    .down = "v",
    .dot = "*",
    .tl = "+",
    .tr = "+",
    .bl = "+",
    .br = "+",
};

enum {
    P_RECV = 1,
    P_SEND,
    P_MSG,
    P_ERROR,
    P_STATE,
    P_MARK,
    P_HDR,
    P_HDR_FOCUS,
    P_OK,
    P_WARN,
    P_KEY,
    P_TITLE,
    P_BORDER,
    P_SEL
};

/* Sets up the glyphs and the attribute of every role. Without colour (NO_COLOR,
 * or a terminal without it) roles still differ by bold/reverse/underline so
 * that sent, received, errors and boundaries stay distinguishable. */
void ui_theme_init(struct ui_theme *th, int utf8, int color)
{
    memset(th, 0, sizeof(*th));
    th->utf8 = utf8;
    th->render = utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII;
    th->g = utf8 ? glyphs_utf8 : glyphs_ascii;
    th->color = color && has_colors();
    if (th->color) {
        start_color();
        use_default_colors();
        init_pair(P_RECV, COLOR_GREEN, -1);
        init_pair(P_SEND, COLOR_CYAN, -1);
        init_pair(P_MSG, COLOR_WHITE, -1);
        init_pair(P_ERROR, COLOR_RED, -1);
        init_pair(P_STATE, COLOR_YELLOW, -1);
        init_pair(P_MARK, COLOR_MAGENTA, -1);
        init_pair(P_HDR, COLOR_WHITE, COLOR_BLUE);
        init_pair(P_HDR_FOCUS, COLOR_BLACK, COLOR_CYAN);
        init_pair(P_OK, COLOR_GREEN, -1);
        init_pair(P_WARN, COLOR_YELLOW, -1);
        init_pair(P_KEY, COLOR_CYAN, -1);
        init_pair(P_TITLE, COLOR_CYAN, -1);
        init_pair(P_BORDER, COLOR_BLUE, -1);
        init_pair(P_SEL, COLOR_BLACK, COLOR_WHITE);
        th->attr[UI_R_NORMAL] = A_NORMAL;
        th->attr[UI_R_DIM] = A_DIM;
        th->attr[UI_R_RECV] = COLOR_PAIR(P_RECV);
        th->attr[UI_R_SEND] = COLOR_PAIR(P_SEND);
        th->attr[UI_R_MSG] = COLOR_PAIR(P_MSG) | A_BOLD;
        th->attr[UI_R_ERROR] = COLOR_PAIR(P_ERROR) | A_BOLD;
        th->attr[UI_R_STATE] = COLOR_PAIR(P_STATE);
        th->attr[UI_R_MARK] = COLOR_PAIR(P_MARK) | A_BOLD;
        th->attr[UI_R_HDR] = COLOR_PAIR(P_HDR);
        th->attr[UI_R_HDR_FOCUS] = COLOR_PAIR(P_HDR_FOCUS) | A_BOLD;
        th->attr[UI_R_OK] = COLOR_PAIR(P_OK) | A_BOLD;
        th->attr[UI_R_WARN] = COLOR_PAIR(P_WARN) | A_BOLD;
        th->attr[UI_R_BAD] = COLOR_PAIR(P_ERROR) | A_BOLD;
        th->attr[UI_R_SEL] = COLOR_PAIR(P_SEL);
        th->attr[UI_R_KEY] = COLOR_PAIR(P_KEY) | A_BOLD;
        th->attr[UI_R_TITLE] = COLOR_PAIR(P_TITLE) | A_BOLD;
        th->attr[UI_R_BORDER] = COLOR_PAIR(P_BORDER);
    } else {
        th->attr[UI_R_NORMAL] = A_NORMAL;
        th->attr[UI_R_DIM] = A_DIM;
        th->attr[UI_R_RECV] = A_NORMAL;
        th->attr[UI_R_SEND] = A_BOLD;
        th->attr[UI_R_MSG] = A_BOLD;
        th->attr[UI_R_ERROR] = A_BOLD | A_UNDERLINE;
        th->attr[UI_R_STATE] = A_UNDERLINE;
        th->attr[UI_R_MARK] = A_REVERSE;
        th->attr[UI_R_HDR] = A_REVERSE;
        th->attr[UI_R_HDR_FOCUS] = A_REVERSE | A_BOLD;
        th->attr[UI_R_OK] = A_BOLD;
        th->attr[UI_R_WARN] = A_BOLD;
        th->attr[UI_R_BAD] = A_BOLD | A_UNDERLINE;
        th->attr[UI_R_SEL] = A_REVERSE;
        th->attr[UI_R_KEY] = A_BOLD;
        th->attr[UI_R_TITLE] = A_BOLD;
        th->attr[UI_R_BORDER] = A_NORMAL;
    }
    /* In ASCII mode a boundary mark is a plain '|', which data may also
     * contain: reverse video keeps the mark unmistakable. */
    if (!utf8)
        th->attr[UI_R_MARK] |= A_REVERSE;
}
