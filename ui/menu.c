/* Small modal menus: the framing picker (f), the shutdown menu (s), and the
 * questions before close (c), reset (X) and quit (q). Each choice runs a
 * command through the command layer. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "ui.h"

struct choice {
    int key;
    const char *value;
    const char *label;
};

static const struct choice framings[] = {
    {'r', "raw", "raw         every recv() chunk as it came"},
    {'l', "line", "line        ends at \\n (a \\r before it is dropped)"},
    {'c', "delim:\\r\\n", "delim:\\r\\n  ends at CRLF"},
    {'0', "delim:\\0", "delim:\\0    ends at a NUL byte"},
    {'1', "len:u8", "len:u8      1-byte length, then the body"},
    {'2', "len:u16", "len:u16     2-byte big-endian length"},
    {'4', "len:u32", "len:u32     4-byte big-endian length"},
    {'L', "len:u32le", "len:u32le   4-byte little-endian length"},
    {'v', "len:varint", "len:varint  LEB128 length (protobuf style)"},
    {'n', "netstring", "netstring   5:hello,"},
    {'d', "decimal:\\n", "decimal:\\n  ASCII length, newline, body"},
    {'e', "eof", "eof         the whole stream until the peer's FIN"},
    {'8', "fixed:8", "fixed:8     messages of exactly 8 bytes"},
    {'b', "blocks:u16", "blocks:u16  length-prefixed blocks, 0 ends"},
    {'o', NULL, "other...    type any spec at the : prompt"},
};

static const struct choice shutdowns[] = {
    {'w', "wr", "w  SHUT_WR  send FIN: we are done writing, still reading"},
    {'r', "rd", "r  SHUT_RD  stop reading (the peer is not told)"},
    {'b', "both", "b  both     SHUT_RDWR"},
};

static const struct choice closes[] = {
    {'y', "y", "y  close it (FIN once what is queued is sent)"},
    {'n', NULL, "n  keep it open"},
    {'a', "a", "a  close it, and stop asking (:confirm on asks again)"},
};

static const struct choice resets[] = {
    {'y', "y", "y  reset it: RST, queued data dropped"},
    {'n', NULL, "n  keep it open"},
    {'a', "a", "a  reset it, and stop asking (:confirm on asks again)"},
};

static const struct choice quits[] = {
    {'y', "y", "y  close every socket and quit"},
    {'n', "n", "n  stay"},
};

static const struct choice *choices(enum ui_menu_kind k, size_t *n)
{
    switch (k) {
    case UI_MENU_FRAMING:
        *n = sizeof(framings) / sizeof(framings[0]);
        return framings;
    case UI_MENU_SHUTDOWN:
        *n = sizeof(shutdowns) / sizeof(shutdowns[0]);
        return shutdowns;
    case UI_MENU_QUIT:
        *n = sizeof(quits) / sizeof(quits[0]);
        return quits;
    case UI_MENU_CLOSE:
        *n = sizeof(closes) / sizeof(closes[0]);
        return closes;
    case UI_MENU_RESET:
        *n = sizeof(resets) / sizeof(resets[0]);
        return resets;
    default:
        *n = 0;
        return NULL;
    }
}

void ui_menu_open(struct sp_tui *t, enum ui_menu_kind kind)
{
    uint32_t id = ui_focused_sock(t);
    struct sp_sock_info si;
    if (kind != UI_MENU_QUIT && (id == 0 || sp_engine_sock_info(t->eng, id, &si) != 0)) {
        ui_set_status(t, UI_R_WARN, "no socket in this pane");
        return;
    }
    t->menu = kind;
    t->menu_sel = 0;
    t->menu_sock = kind == UI_MENU_QUIT ? 0 : id;
    t->menu_other = 0;
    t->mode = UI_MODE_MENU;
    if (kind == UI_MENU_FRAMING) {
        t->menu_other = ui_other_end(t, id);
        size_t n;
        const struct choice *c = choices(kind, &n);
        for (size_t i = 0; i < n; i++)
            if (c[i].value && strcmp(c[i].value, si.framing) == 0)
                t->menu_sel = (int)i;
    }
}

static void close_menu(struct sp_tui *t)
{
    t->menu = UI_MENU_NONE;
    t->mode = UI_MODE_NORMAL;
}

/* Sets the framing on both ends when asked to and the other end is ours. */
static int both_ends(struct sp_tui *t)
{
    return t->frame_both && t->menu_other != 0;
}

static void choose(struct sp_tui *t, const struct choice *c)
{
    enum ui_menu_kind kind = t->menu;
    uint32_t id = t->menu_sock, other = both_ends(t) ? t->menu_other : 0;
    close_menu(t);
    switch (kind) {
    case UI_MENU_FRAMING:
        if (c->value) {
            ui_run(t, "framing %u %s", (unsigned)id, c->value);
            if (other)
                ui_run(t, "framing %u %s", (unsigned)other, c->value);
        } else {
            if (other)
                ui_set_status(t, UI_R_TITLE, "then set the other end too: framing %u SPEC",
                              (unsigned)other);
            char init[48];
            snprintf(init, sizeof(init), "framing %u ", (unsigned)id);
            ui_prompt_open(t, init);
        }
        break;
    case UI_MENU_SHUTDOWN:
        ui_run(t, "shutdown %u %s", (unsigned)id, c->value);
        break;
    case UI_MENU_CLOSE:
    case UI_MENU_RESET:
        if (!c->value)
            break;
        if (c->key == 'a') {
            t->no_confirm = 1;
            ui_set_status(t, UI_R_TITLE, "c and X no longer ask (:confirm on asks again)");
        }
        ui_run(t, "%s %u", kind == UI_MENU_RESET ? "reset" : "close", (unsigned)id);
        break;
    case UI_MENU_QUIT:
        if (c->key == 'y') {
            sp_engine_close_all(t->eng);
            t->quitting = 1;
            t->quit_deadline_ms = ui_now_ms() + 2000;
        }
        break;
    default:
        break;
    }
}

int ui_menu_key(struct sp_tui *t, int key)
{
    size_t n;
    const struct choice *c = choices(t->menu, &n);
    switch (key) {
    case UI_ESC:
    case 'q':
    case UI_CTRL('c'):
        if (t->menu == UI_MENU_QUIT && key == 'q') {
            choose(t, &c[0]);
            return UI_HANDLED | UI_REDRAW;
        }
        close_menu(t);
        return UI_HANDLED | UI_REDRAW;
    case UI_KEY(KEY_UP):
    case 'k':
        if (t->menu_sel > 0)
            t->menu_sel--;
        return UI_HANDLED | UI_REDRAW;
    case UI_KEY(KEY_DOWN):
    case 'j':
        if (t->menu_sel + 1 < (int)n)
            t->menu_sel++;
        return UI_HANDLED | UI_REDRAW;
    case '\n':
    case '\r':
    case UI_KEY(KEY_ENTER):
        choose(t, &c[t->menu_sel]);
        return UI_HANDLED | UI_REDRAW;
    case '\t':
        if (t->menu == UI_MENU_FRAMING && t->menu_other)
            t->frame_both = !t->frame_both;
        return UI_HANDLED | UI_REDRAW;
    default:
        for (size_t i = 0; i < n; i++)
            if (c[i].key == key) {
                choose(t, &c[i]);
                return UI_HANDLED | UI_REDRAW;
            }
        return UI_HANDLED;
    }
}

void ui_menu_draw(struct sp_tui *t)
{
    size_t n;
    const struct choice *c = choices(t->menu, &n);
    if (!c)
        return;
    int w = 0;
    for (size_t i = 0; i < n; i++)
        if (ui_width(c[i].label) > w)
            w = ui_width(c[i].label);
    w += 6;
    int toggle = t->menu == UI_MENU_FRAMING && t->menu_other;
    int h = (int)n + 3 + toggle;
    if (w > t->cols - 2)
        w = t->cols - 2;
    if (h > t->main_h)
        h = t->main_h;
    int y = (t->main_h - h) / 2, x = (t->cols - w) / 2;
    char title[64];
    unsigned id = (unsigned)t->menu_sock;
    if (t->menu == UI_MENU_FRAMING && both_ends(t))
        snprintf(title, sizeof(title), "framing for [%u] and [%u]", id, (unsigned)t->menu_other);
    else if (t->menu == UI_MENU_FRAMING)
        snprintf(title, sizeof(title), "framing for [%u]", id);
    else if (t->menu == UI_MENU_SHUTDOWN)
        snprintf(title, sizeof(title), "shutdown [%u]", id);
    else if (t->menu == UI_MENU_CLOSE)
        snprintf(title, sizeof(title), "close [%u]?", id);
    else if (t->menu == UI_MENU_RESET)
        snprintf(title, sizeof(title), "reset [%u]?", id);
    else
        snprintf(title, sizeof(title), "%d socket(s) open - quit?", ui_sock_open_count(t));
    ui_box(t, y, x, h, w, title);
    /* Scroll so that the selection stays inside the box. */
    int rows = h - 3 - toggle;
    int first = t->menu_sel >= rows ? t->menu_sel - rows + 1 : 0;
    for (int i = 0; i < rows && first + i < (int)n; i++) {
        int k = first + i;
        int role = k == t->menu_sel ? UI_R_SEL : UI_R_NORMAL;
        ui_fill(t, y + 1 + i, x + 1, w - 2, role);
        char key[8];
        snprintf(key, sizeof(key), "%c", c[k].key);
        if (t->menu == UI_MENU_FRAMING) {
            ui_put(t, y + 1 + i, x + 2, 1, k == t->menu_sel ? UI_R_SEL : UI_R_KEY, key);
            ui_put(t, y + 1 + i, x + 4, w - 6, role, c[k].label);
        } else {
            ui_put(t, y + 1 + i, x + 2, w - 4, role, c[k].label);
        }
    }
    if (toggle) {
        int ty = y + h - 3;
        ui_put(t, ty, x + 2, 3, UI_R_KEY, "Tab");
        ui_putf(t, ty, x + 6, w - 8, both_ends(t) ? UI_R_TITLE : UI_R_DIM,
                "both ends: %s ([%u] is the other end)", both_ends(t) ? "on" : "off",
                (unsigned)t->menu_other);
    }
    ui_put(t, y + h - 2, x + 2, w - 4, UI_R_DIM, "Enter/key: choose  Esc: cancel");
}
