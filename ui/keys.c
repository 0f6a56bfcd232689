/* The key table: every key of the normal mode, its help text and its action,
 * in one place (htop's lesson). Help and the hint line are generated from it. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "sockpit/cmd/cmd.h"
#include "ui.h"

typedef int (*ui_action)(struct sp_tui *t, int key);

struct keydef {
    int keys[3];
    const char *name; /* as shown in help */
    const char *help;
    const char *hint; /* short label on the hint line, or NULL */
    ui_action act;
};

static int act_focus_next(struct sp_tui *t, int key)
{
    int d = key == UI_KEY(KEY_BTAB) ? -1 : 1;
    if (t->npanes <= 1)
        return ui_sidebar_move(t, d);
    t->focus = (t->focus + d + t->npanes) % t->npanes;
    if (ui_focused_sock(t))
        t->selected = ui_focused_sock(t);
    return UI_HANDLED | UI_REDRAW;
}

/* A digit shows that socket at once; digits typed within JUMP_MS of each
 * other make one number when that socket exists (1 then 2: socket 12), so
 * sockets past 9 are a key press away too. */
#define JUMP_MS 1000

static int act_jump(struct sp_tui *t, int key)
{
    uint32_t d = (uint32_t)(key - '0'), id = d;
    uint64_t now = ui_now_ms();
    struct sp_sock_info si;
    if (t->jump_id && now - t->jump_ms < JUMP_MS && t->jump_id < UINT32_MAX / 10 - 1 &&
        sp_engine_sock_info(t->eng, t->jump_id * 10 + d, &si) == 0)
        id = t->jump_id * 10 + d;
    t->jump_id = id;
    t->jump_ms = now;
    if (id == 0 || sp_engine_sock_info(t->eng, id, &si) != 0) {
        ui_set_status(t, UI_R_WARN, "there is no socket %u", (unsigned)id);
        return UI_HANDLED | UI_REDRAW;
    }
    ui_show_sock(t, id);
    uint32_t last = sp_engine_last_id(t->eng);
    if (id < UINT32_MAX / 10 && last >= id * 10) {
        uint32_t hi = last < id * 10 + 9 ? last : id * 10 + 9;
        ui_set_status(t, UI_R_TITLE, "socket %u; another digit within 1 s: %u..%u", (unsigned)id,
                      (unsigned)id * 10, (unsigned)hi);
    }
    return UI_HANDLED | UI_REDRAW;
}

static int act_select(struct sp_tui *t, int key)
{
    int up = key == UI_KEY(KEY_UP) || key == 'k';
    return ui_sidebar_move(t, up ? -1 : 1);
}

static int act_compose(struct sp_tui *t, int key)
{
    (void)key;
    ui_composer_open(t);
    return UI_HANDLED | UI_REDRAW;
}

static int act_prompt(struct sp_tui *t, int key)
{
    (void)key;
    ui_prompt_open(t, NULL);
    return UI_HANDLED | UI_REDRAW;
}

static int act_framing(struct sp_tui *t, int key)
{
    (void)key;
    ui_menu_open(t, UI_MENU_FRAMING);
    return UI_HANDLED | UI_REDRAW;
}

static int act_shutdown(struct sp_tui *t, int key)
{
    (void)key;
    ui_menu_open(t, UI_MENU_SHUTDOWN);
    return UI_HANDLED | UI_REDRAW;
}

/* Runs `cmd ID` on the focused socket, if there is one. */
static int on_focused(struct sp_tui *t, const char *cmd, const char *extra)
{
    uint32_t id = ui_focused_sock(t);
    if (id == 0) {
        ui_set_status(t, UI_R_WARN, "no socket in this pane");
        return UI_HANDLED | UI_REDRAW;
    }
    ui_run(t, "%s %u%s%s", cmd, (unsigned)id, extra ? " " : "", extra ? extra : "");
    return UI_HANDLED | UI_REDRAW;
}

/* c and X ask first (a class watches every key press), unless the socket
 * is closed already or the user said not to ask. */
static int act_close(struct sp_tui *t, int key)
{
    struct sp_sock_info si;
    uint32_t id = ui_focused_sock(t);
    const char *cmd = key == 'X' ? "reset" : "close";
    if (t->no_confirm || id == 0 || sp_engine_sock_info(t->eng, id, &si) != 0 || !si.open)
        return on_focused(t, cmd, NULL);
    ui_menu_open(t, key == 'X' ? UI_MENU_RESET : UI_MENU_CLOSE);
    return UI_HANDLED | UI_REDRAW;
}

static int act_pause(struct sp_tui *t, int key)
{
    (void)key;
    struct sp_sock_info si;
    uint32_t id = ui_focused_sock(t);
    if (id && sp_engine_sock_info(t->eng, id, &si) == 0 && si.paused)
        return on_focused(t, "resume", NULL);
    return on_focused(t, "pause", NULL);
}

/* w: the wire view of the focused socket on or off. */
static int act_wire(struct sp_tui *t, int key)
{
    (void)key;
    struct sp_wire_info wi;
    uint32_t id = ui_focused_sock(t);
    int on = id != 0 && sp_engine_wire_info(t->eng, id, &wi);
    return on_focused(t, "wire", on ? "off" : "on");
}

static int act_recv(struct sp_tui *t, int key)
{
    (void)key;
    return on_focused(t, "recv", NULL);
}

static int act_recvsize(struct sp_tui *t, int key)
{
    struct sp_sock_info si;
    uint32_t id = ui_focused_sock(t);
    if (id == 0 || sp_engine_sock_info(t->eng, id, &si) != 0)
        return on_focused(t, "recvsize", NULL);
    /* Powers of two, so a few presses go from 64K down to 1 byte. Presses
     * faster than the command queue build on the size last asked for. */
    size_t cur = si.recvsize;
    if (t->rs_id == id && ui_now_ms() - t->rs_ms < 1000)
        cur = t->rs_val;
    size_t n = 1;
    if (key == '+' || key == '=') {
        while (n <= cur && n < SP_RECVSIZE_MAX)
            n *= 2;
    } else {
        while (n * 2 < cur)
            n *= 2;
    }
    t->rs_id = id;
    t->rs_val = n;
    t->rs_ms = ui_now_ms();
    char arg[32];
    snprintf(arg, sizeof(arg), "%zu", n);
    return on_focused(t, "recvsize", arg);
}

static int act_view(struct sp_tui *t, int key)
{
    (void)key;
    struct ui_pane *p = ui_focused(t);
    struct sp_wire_info wi;
    p->view = (enum ui_view)((p->view + 1) % UI_VIEW__COUNT);
    /* The wire view is in the round while the socket's segments are
     * captured (w), and after (closed, or w off) while its history holds
     * some; `view wire` shows it any time. */
    if (p->view == UI_VIEW_WIRE && !sp_engine_wire_info(t->eng, p->sock, &wi)) {
        const struct ui_segidx *x = ui_segidx_get(t, p->sock, 1);
        if (x == NULL || !x->any)
            p->view = UI_VIEW_CHUNKS;
    }
    ui_set_status(t, UI_R_TITLE, "view: %s", ui_view_name(p->view));
    return UI_HANDLED | UI_REDRAW;
}

static int act_hex(struct sp_tui *t, int key)
{
    (void)key;
    struct ui_pane *p = ui_focused(t);
    p->hex = !p->hex;
    return UI_HANDLED | UI_REDRAW;
}

static int act_scroll(struct sp_tui *t, int key)
{
    enum ui_scroll how = key == UI_KEY(KEY_PPAGE)                ? UI_SCROLL_PGUP
                         : key == UI_KEY(KEY_NPAGE)              ? UI_SCROLL_PGDN
                         : key == UI_KEY(KEY_HOME) || key == 'g' ? UI_SCROLL_HOME
                                                                 : UI_SCROLL_END;
    ui_pane_scroll(t, ui_focused(t), how);
    return UI_HANDLED | UI_REDRAW;
}

static int act_split(struct sp_tui *t, int key)
{
    if (ui_split(t, key == '"', 0) != 0)
        ui_set_status(t, UI_R_WARN, "at most %d panes", UI_PANES_MAX);
    return UI_HANDLED | UI_REDRAW;
}

static int act_unsplit(struct sp_tui *t, int key)
{
    (void)key;
    ui_unsplit(t);
    return UI_HANDLED | UI_REDRAW;
}

/* Opens the help screen: every key (from the key table) and every command. */
static void help_open(struct sp_tui *t);

static int act_help(struct sp_tui *t, int key)
{
    (void)key;
    help_open(t);
    return UI_HANDLED | UI_REDRAW;
}

static int act_quit(struct sp_tui *t, int key)
{
    (void)key;
    if (ui_sock_open_count(t) > 0)
        ui_menu_open(t, UI_MENU_QUIT);
    else
        t->quit = 1;
    return UI_HANDLED | UI_REDRAW;
}

static int act_sidebar(struct sp_tui *t, int key)
{
    (void)key;
    t->side_hidden = !t->side_hidden;
    if (!t->side_hidden && t->cols < 60)
        ui_set_status(t, UI_R_WARN, "the sidebar needs 60 columns");
    return UI_HANDLED | UI_REDRAW;
}

static int act_clear(struct sp_tui *t, int key)
{
    (void)key;
    size_t n = ui_sidebar_clear_closed(t);
    if (n == 0)
        ui_set_status(t, UI_R_WARN, "no closed sockets to clear");
    else
        ui_set_status(t, UI_R_TITLE,
                      "cleared %zu closed socket%s from the sidebar (list still shows them)", n,
                      n == 1 ? "" : "s");
    return UI_HANDLED | UI_REDRAW;
}

static int act_redraw(struct sp_tui *t, int key)
{
    (void)key;
    clearok(curscr, TRUE);
    return UI_HANDLED | UI_REDRAW;
}

static int act_notes(struct sp_tui *t, int key)
{
    return ui_notes_key(t, key);
}

static const struct keydef keytab[] = {
    {{'\t', UI_KEY(KEY_BTAB)}, "Tab/S-Tab", "focus the next/previous pane", NULL, act_focus_next},
    {{UI_KEY(KEY_UP), UI_KEY(KEY_DOWN)},
     "Up/Down",
     "select a socket in the sidebar",
     NULL,
     act_select},
    {{'1'}, "1-9", "show socket 1..9; digits typed within 1 s combine (10 and up)", NULL, act_jump},
    {{'\n', '\r', 'i'}, "Enter/i", "compose data for the focused socket", "compose", act_compose},
    {{':'}, ":", "command prompt", "cmd", act_prompt},
    {{'f'},
     "f",
     "framing picker (Tab in it: both ends of our own connection)",
     "framing",
     act_framing},
    {{'s'}, "s", "shutdown menu (w / r / b)", "shutdown", act_shutdown},
    {{'c'}, "c", "close the socket (asks first; :confirm off stops asking)", "close", act_close},
    {{'X'}, "X", "reset the connection (RST; asks first like c)", NULL, act_close},
    {{'p'}, "p", "pause / resume reading", "pause", act_pause},
    {{'n'}, "n", "one manual recv() (while paused)", NULL, act_recv},
    {{'+', '-', '='}, "+/-", "double / halve the recv size", "recv size", act_recvsize},
    {{'v'},
     "v",
     "view: chunks / messages / both / wire (segments and recvs in time order, once w is on)",
     "view",
     act_view},
    {{'x'}, "x", "text / hex", "hex", act_hex},
    {{'w'}, "w", "wire view on/off: the socket's TCP segments (needs CAP_NET_RAW)", NULL, act_wire},
    {{UI_KEY(KEY_PPAGE), UI_KEY(KEY_NPAGE)}, "PgUp/PgDn", "scroll the timeline", NULL, act_scroll},
    {{UI_KEY(KEY_HOME), UI_KEY(KEY_END), 'G'},
     "Home/End",
     "oldest event / follow live",
     NULL,
     act_scroll},
    {{'%'}, "%", "split: add a pane side by side", NULL, act_split},
    {{'"'}, "\"", "split: add a pane below", NULL, act_split},
    {{'u'}, "u", "unsplit: remove the focused pane", NULL, act_unsplit},
    {{'S'}, "S", "sidebar on/off (more room for the panes)", NULL, act_sidebar},
    {{'C'}, "C", "clear closed sockets from the sidebar", NULL, act_clear},
    {{UI_CTRL('l')}, "Ctrl-L", "redraw the screen", NULL, act_redraw},
    {{' '}, "Space", "lab: run the step / next step; a `step` line: go on", "step", act_notes},
    {{'r'}, "r", "lab: repeat the step", NULL, act_notes},
    {{'N'}, "N", "show / hide the lab notes", NULL, act_notes},
    {{'?'}, "?", "this help", "help", act_help},
    {{'q', UI_CTRL('c')}, "q", "quit (asks when sockets are open)", "quit", act_quit},
};

#define NKEYS (sizeof(keytab) / sizeof(keytab[0]))

int ui_keys_normal(struct sp_tui *t, int key)
{
    if (key >= '0' && key <= '9')
        return act_jump(t, key);
    if (key == 'j')
        return act_select(t, key);
    if (key == 'k')
        return act_select(t, key);
    for (size_t i = 0; i < NKEYS; i++)
        for (int k = 0; k < 3 && keytab[i].keys[k]; k++)
            if (keytab[i].keys[k] == key)
                return keytab[i].act(t, key);
    return UI_UNHANDLED;
}

static void keys_help(struct sp_buf *out)
{
    sp_buf_appends(out, "Keys:\n");
    for (size_t i = 0; i < NKEYS; i++)
        sp_buf_appendf(out, "  %-10s %s\n", keytab[i].name, keytab[i].help);
    sp_buf_appends(out, "  mouse      click a pane to focus it, a sidebar entry to show it;"
                        " wheel scrolls\n");
}

/* Splits text into an array of lines. */
static char **split_lines(const char *s, size_t *n)
{
    size_t cap = 16, k = 0;
    char **v = sp_xreallocarray(NULL, cap, sizeof(*v));
    while (*s) {
        size_t l = strcspn(s, "\n");
        if (k == cap) {
            cap *= 2;
            v = sp_xreallocarray(v, cap, sizeof(*v));
        }
        v[k] = sp_xstrndup(s, l);
        k++;
        s += l;
        if (*s == '\n')
            s++;
    }
    *n = k;
    return v;
}

static void help_open(struct sp_tui *t)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appends(&b, "sockpit: a terminal workbench for sockets.\n"
                       "Each pane shows one socket: a header (id, kind, local <-> peer, framing,\n"
                       "recv size, reading/paused), a live state line (our side, the peer's side,\n"
                       "the kernel TCP state, unread/unsent bytes) and a timeline of events.\n"
                       "Boundary marks: in messages, where recv() chunks were cut; in chunks,\n"
                       "where a message ended; with the wire view on (w), a third mark where a\n"
                       "TCP segment began. The wire view (v, or :view wire) lists segments,\n"
                       "recvs, messages and state changes in the order they happened.\n\n");
    keys_help(&b);
    sp_buf_appends(&b,
                   "\nComposer (Enter or i):\n"
                   "  type data in escape syntax: \\n \\r \\t \\0 \\\\ \\e \\xHH\n"
                   "  the second line previews the exact wire bytes after the framing\n"
                   "  Enter send    Esc leave    Up/Down history\n"
                   "  Ctrl-T split into writes of N bytes    Ctrl-G delay between writes\n"
                   "  Ctrl-R raw (bypass the framing)        Ctrl-O reset these settings\n"
                   "  Ctrl-P pad a short message (fixed)     Ctrl-D send as the last block and\n"
                   "                                         end the series (blocks)\n"
                   "  Ctrl-N one call (send --once: what one send() took), then urgent\n"
                   "         (send --oob, one byte with MSG_OOB), then back\n"
                   "  on a datagram socket that is not connected each message goes where\n"
                   "  the last send went (:send --to ADDR), else to the last sender;\n"
                   "  Ctrl-Y: always reply to the last sender (shown after \"to\")\n"
                   "  the settings stay until reset, shown on the composer's line\n"
                   "  a refused line stays in the composer: fix it and press Enter\n"
                   "\nQuestions: c and X ask first (y yes, n no, a yes and stop asking);\n"
                   "  :confirm off stops asking, :confirm on asks again. q asks while\n"
                   "  sockets are open.\n"
                   "\nPrompt (:):\n"
                   "  Enter run    Tab complete    Up/Down history    Esc cancel\n\n");
    if (sp_cmd_help(&b, NULL) != 0)
        sp_buf_appends(&b, "  (the command list is unavailable)\n");
    sp_buf_appends(&b, "  (split also takes rows or cols: stacked or side by side)\n");
    size_t n;
    char **lines = split_lines(sp_buf_str(&b), &n);
    sp_buf_cleanup(&b);
    ui_box_open(t, "help: Up/Down/PgUp/PgDn scroll, q or Esc close", lines, n);
}

static int hint_width(const char *key, const char *label)
{
    return ui_width(key) + 1 + ui_width(label) + 2;
}

/* Draws one hint if it fits in the columns left before end. */
static void hint_upto(struct sp_tui *t, int *x, int end, const char *key, const char *label)
{
    int y = t->hint_y;
    if (*x + hint_width(key, label) - 1 > end)
        return;
    *x += ui_put(t, y, *x, t->cols - *x, UI_R_KEY, key);
    *x += 1;
    *x += ui_put(t, y, *x, t->cols - *x, UI_R_DIM, label);
    *x += 2;
}

static void hint(struct sp_tui *t, int *x, const char *key, const char *label)
{
    hint_upto(t, x, t->cols, key, label);
}

static int keep_hint(const struct keydef *k)
{
    return k->act == act_help || k->act == act_quit;
}

/* The bottom line: the keys that matter in the current mode. */
void ui_hints_draw(struct sp_tui *t)
{
    int x = 0;
    ui_fill(t, t->hint_y, 0, t->cols, UI_R_NORMAL);
    switch (t->mode) {
    case UI_MODE_PROMPT:
        if (t->completions.len) {
            ui_putn(t, t->hint_y, 0, t->cols, UI_R_TITLE, sp_buf_str(&t->completions),
                    t->completions.len);
            return;
        }
        hint(t, &x, "Enter", "run");
        hint(t, &x, "Tab", "complete");
        hint(t, &x, "Up/Down", "history");
        hint(t, &x, "Esc", "cancel");
        hint(t, &x, "try", "listen tcp:0 --echo | connect tcp:HOST:PORT | help");
        return;
    case UI_MODE_COMPOSE: {
        struct sp_sock_info si;
        int have = sp_engine_sock_info(t->eng, ui_focused_sock(t), &si) == 0;
        hint(t, &x, "Enter", "send");
        if (have && ui_composer_offers_end(&si))
            hint(t, &x, "^D", "send + end series");
        hint(t, &x, "Esc", "done");
        hint(t, &x, "^T", "split");
        hint(t, &x, "^G", "delay");
        hint(t, &x, "^R", "raw");
        hint(t, &x, "^N", t->c_once == 0 ? "one call" : t->c_once == 1 ? "urgent" : "sendall");
        if (have && ui_composer_offers_pad(&si))
            hint(t, &x, "^P", "pad");
        if (have && (si.kind == SP_SOCK_UDP || si.kind == SP_SOCK_UNIX_DGRAM) && si.peer_len == 0)
            hint(t, &x, "^Y", t->c_reply ? "to last destination" : "reply to sender");
        hint(t, &x, "^O", "reset");
        hint(t, &x, "Up/Down", "history");
        hint(t, &x, "\\n \\t \\xHH", "escapes");
        return;
    }
    case UI_MODE_MENU:
        hint(t, &x, "Up/Down", "move");
        hint(t, &x, "Enter", "choose");
        hint(t, &x, "Esc", "cancel");
        return;
    case UI_MODE_HELP:
        hint(t, &x, "Up/Down/PgUp/PgDn", "scroll");
        hint(t, &x, "q/Esc", "close");
        return;
    default:
        break;
    }
    /* `? help` and `q quit` always stay: the others give way on a narrow
     * terminal. */
    int keep = 0;
    for (size_t i = 0; i < NKEYS; i++)
        if (keytab[i].hint && keep_hint(&keytab[i]))
            keep += hint_width(keytab[i].name, keytab[i].hint);
    for (size_t i = 0; i < NKEYS; i++) {
        if (!keytab[i].hint)
            continue;
        const char *k = keytab[i].name;
        if (strcmp(k, "Enter/i") == 0)
            k = "Enter";
        if (keep_hint(&keytab[i]))
            hint(t, &x, k, keytab[i].hint);
        else
            hint_upto(t, &x, t->cols - keep, k, keytab[i].hint);
    }
}

/* Mouse: a click focuses the pane under it or shows the sidebar entry; the
 * wheel scrolls the pane under the pointer. */
int ui_mouse(struct sp_tui *t)
{
    MEVENT me;
    if (getmouse(&me) != OK || t->too_small)
        return UI_HANDLED;
    if (t->side_w && me.x < t->side_w && me.y < t->main_h) {
        if (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED))
            return ui_sidebar_click(t, me.y, me.x);
        return UI_HANDLED;
    }
    int i = ui_pane_at(t, me.y, me.x);
    if (i < 0)
        return UI_HANDLED;
#if NCURSES_MOUSE_VERSION > 1
    if (me.bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) {
        ui_pane_scroll(t, &t->panes[i],
                       (me.bstate & BUTTON4_PRESSED) ? UI_SCROLL_UP : UI_SCROLL_DOWN);
        return UI_HANDLED | UI_REDRAW;
    }
#endif
    if (me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED)) {
        t->focus = i;
        if (t->panes[i].sock)
            t->selected = t->panes[i].sock;
        return UI_HANDLED | UI_REDRAW;
    }
    return UI_HANDLED;
}
