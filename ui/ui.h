/* Internal interfaces of the ncurses front end (ui/). Not installed; only ui/
 * files include this. One struct sp_tui holds the whole view model (model.c
 * keeps it); panels (sidebar, panes, composer, prompt, menus, text box) read
 * it to draw and change it from key handlers, and one screen manager (tui.c)
 * draws. */
#ifndef SOCKPIT_UI_H
#define SOCKPIT_UI_H

#include <stddef.h>
#include <stdint.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/xmalloc.h"
#include "sockpit/proto/num.h"
#include "sockpit/engine/engine.h"
#include "sockpit/proto/render.h"

struct sp_cmdq;
struct sp_tui;

/* What a panel did with a key (htop's lesson): the screen manager redraws. */
enum {
    UI_UNHANDLED = 0,
    UI_HANDLED = 1,
    UI_REDRAW = 2,
};

/* Keys: wide characters as themselves, curses function keys offset by UI_FN
 * so that they never collide with a character. */
#define UI_FN        0x1000000
#define UI_KEY(k)    (UI_FN + (k))
#define UI_CTRL(c)   ((c)&0x1f)
#define UI_ESC       27
#define UI_MOUSE_KEY UI_KEY(0777)

/* Roles, mapped to colours (or plain attributes under NO_COLOR). */
enum ui_role {
    UI_R_NORMAL,
    UI_R_DIM,
    UI_R_RECV,
    UI_R_SEND,
    UI_R_MSG,
    UI_R_ERROR,
    UI_R_STATE,
    UI_R_MARK,
    UI_R_HDR,
    UI_R_HDR_FOCUS,
    UI_R_OK,
    UI_R_WARN,
    UI_R_BAD,
    UI_R_SEL,
    UI_R_KEY,
    UI_R_TITLE,
    UI_R_BORDER,
    UI_R__COUNT
};

/* Glyphs: UTF-8 box drawing, or ASCII when the locale is not UTF-8. */
struct ui_glyphs {
    const char *vline, *hline, *both_ways, *in, *out, *mark, *ellipsis;
    const char *segmark; /* a segment boundary (the wire view) inside a chunk or message */
    const char *tee, *elbow, *pipe, *up, *down, *dot;
    const char *tl, *tr, *bl, *br;
};

struct ui_theme {
    int utf8;
    int color;
    enum sp_render_mode render;
    struct ui_glyphs g;
    int attr[UI_R__COUNT];
};

/* UI_VIEW_WIRE: segments, recvs, messages, sends and state changes in
 * capture/event time order (wireview.c). */
enum ui_view { UI_VIEW_CHUNKS, UI_VIEW_MESSAGES, UI_VIEW_BOTH, UI_VIEW_WIRE, UI_VIEW__COUNT };

/* One tile of the main area showing one socket (0: the welcome text). */
struct ui_pane {
    uint32_t sock;
    enum ui_view view;
    int hex;
    int follow;   /* stick to the newest event */
    uint64_t top; /* first history index shown when not following */
    /* Filled by layout and drawing. */
    int y, x, h, w;
    uint64_t first_shown, last_shown; /* history indices on screen */
    int nshown;
    int more_below; /* events after the last one shown */
};

#define UI_PANES_MAX 9

/* One row of a pane's timeline: a history event, the "older events not
 * kept" note, or (the wire view, following a flood) segments summarised. */
#define UI_SHOWN_NOTKEPT UINT64_MAX
#define UI_SHOWN_SUMMARY (UINT64_MAX - 1)
struct ui_shown {
    uint64_t idx; /* a history index, or UI_SHOWN_* */
    int h;
    /* UI_SHOWN_SUMMARY: the segments of one frame time */
    uint32_t nseg, nin, nout, nretrans;
    uint64_t t_ns;
    int partial; /* more of that frame's segments lie before the window read */
};

/* Where a socket's captured segments lie on its two streams (segidx.c):
 * kept as events arrive, pruned as the history drops them. */
struct ui_segent {
    uint64_t off;
    uint64_t idx; /* history index of the segment event */
    uint32_t len;
};
struct ui_segdir {
    struct ui_segent *e; /* e[first..n) sorted by off; one entry per offset */
    size_t first, n, cap;
    uint64_t pruned_end; /* the highest end offset dropped with the history */
};
struct ui_segidx {
    uint32_t sock;           /* 0: free slot */
    uint64_t next;           /* the next history index to read */
    uint64_t used;           /* frame counter at the last use (least recently used goes) */
    int any;                 /* a segment was ever indexed */
    int skipped;             /* events dropped from the history before being read */
    struct ui_segdir dir[2]; /* [0] what the peer sent, [1] what we sent */
};
#define UI_SEGIDX_SLOTS (UI_PANES_MAX + 3)

/* A one-line editor with history (composer and prompt). */
struct ui_edit {
    struct sp_buf text; /* UTF-8 */
    size_t cur;         /* byte offset of the cursor */
    char **hist;
    size_t nhist;
    size_t hist_pos; /* == nhist: editing a new line */
    struct sp_buf saved;
};

enum ui_mode { UI_MODE_NORMAL, UI_MODE_COMPOSE, UI_MODE_PROMPT, UI_MODE_MENU, UI_MODE_HELP };

enum ui_menu_kind {
    UI_MENU_NONE,
    UI_MENU_FRAMING,
    UI_MENU_SHUTDOWN,
    UI_MENU_QUIT,
    UI_MENU_CLOSE,
    UI_MENU_RESET
};

/* One screen row of a text box: a piece of one of its lines. */
struct ui_boxrow {
    size_t line, off, len;
    int indent;
};

/* A scrollable text box over the panes: help, and command output. Long
 * lines wrap; rows are computed for one width and extended as lines come. */
struct ui_textbox {
    int open;
    char *title;
    char **lines;
    size_t nlines;
    size_t top; /* first row shown */
    struct ui_boxrow *rows;
    size_t nrows, rows_cap;
    size_t wrapped; /* lines already cut into rows */
    int wrap_w;     /* the text width the rows are for */
};

struct sp_tui {
    struct sp_engine *eng;
    struct sp_cmdq *q;  /* prompt, -e, script, lab, demo */
    struct sp_cmdq *kq; /* keys, composer, menus: never stuck behind a `wait` */
    struct ui_theme th;
    int rows, cols;
    int too_small;
    int quit;     /* leave the loop */
    int quitting; /* closing sockets before leaving */
    uint64_t quit_deadline_ms;
    int script_running; /* the -e/--script/--lab lines have not all run */
    int exit_status;    /* DESIGN §5 */
    int timed_out;      /* --timeout expired */
    int keys_fd;        /* the terminal the keys come from */

    /* Drawing. */
    int dirty;
    uint64_t last_draw_ms;
    unsigned tick;

    /* Layout rectangles. */
    int side_w;      /* 0: sidebar hidden */
    int side_hidden; /* the user hid it */
    int main_x, main_w, main_h;
    int compose_y, status_y, hint_y;

    /* Panes. */
    struct ui_pane panes[UI_PANES_MAX];
    int npanes;
    int focus;
    int stacked; /* panes on top of each other instead of side by side */

    /* Sockets as the sidebar shows them. */
    uint32_t *side_ids;    /* the ids at the last rebuild, sorted */
    uint32_t *side_parent; /* and their parents */
    uint32_t *order;       /* tree order */
    int *depth;
    size_t norder, order_cap;
    size_t known_count;       /* sp_engine_sock_ids() count at the last rebuild */
    uint64_t known_forgotten; /* sp_engine_forgotten() at the last rebuild */
    int side_dirty;
    size_t side_top;
    uint32_t selected;
    /* Closed sockets cleared from the sidebar (sorted ids; the engine, and
     * `list`, still have them until it forgets them). */
    uint32_t *cleared;
    size_t ncleared;
    uint32_t watched[UI_PANES_MAX];
    int nwatched;

    /* Input. */
    enum ui_mode mode;
    struct ui_edit composer;
    struct ui_edit prompt;
    int c_split;      /* composer: write size, 0 = whole */
    unsigned c_delay; /* composer: ms between writes */
    int c_raw;        /* composer: bypass the framing */
    int c_pad;        /* composer: fixed framing pads a short message */
    int c_reply;      /* composer: datagrams go to the last sender (^Y) */
    int c_once;       /* composer (^N): 0 finish the write, 1 one call (--once), 2 urgent (--oob) */
    /* The composer's last line on the key queue: put back if refused. */
    char *c_line, *c_text;
    unsigned c_failures; /* the key queue's failures when it was pushed */
    uint64_t c_err_ms;   /* status_ms of the refusal shown, 0: none */
    enum ui_menu_kind menu;
    int menu_sel;
    uint32_t menu_sock;  /* the socket the open menu is about */
    uint32_t menu_other; /* framing: the other end when it is ours too */
    int frame_both;      /* framing picker: set it on both ends */
    int no_confirm;      /* c and X act without asking */
    uint32_t jump_id;    /* digits typed so far (sockets 10 and up) */
    uint64_t jump_ms;
    struct ui_textbox box; /* help or command output */
    char **pending_out;    /* command output lines not yet shown */
    size_t npending_out;

    /* The status line: the last message, and the completions offered. */
    struct sp_buf status;
    int status_role;
    uint64_t status_ms;
    struct sp_buf hint; /* shown when there is no message (demo) */

    /* Demo. */
    int demo;
    int demo_stage;
    uint32_t demo_listener, demo_client, demo_accepted;

    uint32_t rs_id; /* the recv size last asked for with +/- (not applied yet) */
    size_t rs_val;
    uint64_t rs_ms;
    struct sp_buf completions; /* shown on the hint line while prompting */
    int cur_y, cur_x;          /* where the terminal cursor goes, -1: hidden */

    struct sp_buf scratch;

    /* Notes panel (notes.c): shown under the panes while a lab runs. */
    int notes_open;
    int notes_y, notes_h;
    unsigned lab_gen;     /* the lab view generation last arranged */
    uint32_t lab_pair[2]; /* the connection whose two ends the panes show */

    /* Segment offsets of the sockets the panes show (segidx.c). */
    struct ui_segidx segidx[UI_SEGIDX_SLOTS];
    uint64_t segidx_clock;
};

/* model.c */
uint64_t ui_now_ms(void);
void ui_set_status(struct sp_tui *t, int role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, with a peer-controlled or user-typed part rendered safe. */
void ui_set_status_render(struct sp_tui *t, int role, const char *prefix, const char *text);
/* Pushes one command line on the key queue (keys, composer, menus). */
void ui_run(struct sp_tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct ui_pane *ui_focused(struct sp_tui *t);
uint32_t ui_focused_sock(struct sp_tui *t);
/* Shows socket id: focuses the pane already showing it, else puts it in the
 * focused pane. */
void ui_show_sock(struct sp_tui *t, uint32_t id);
int ui_split(struct sp_tui *t, int stacked, uint32_t id);
void ui_unsplit(struct sp_tui *t);
int ui_sock_open_count(struct sp_tui *t);
/* The pane showing socket id, or -1. */
int ui_pane_of(struct sp_tui *t, uint32_t id);
/* Where a new socket goes (a listener's pane, an empty or closed pane, a
 * second pane, or the sidebar only). */
void ui_auto_show(struct sp_tui *t, uint32_t id, uint32_t parent);
/* The other end of connection id when it is one of our sockets too (we
 * connected to our own listener), else 0. */
uint32_t ui_other_end(struct sp_tui *t, uint32_t id);
/* The front end's commands (split, unsplit, view, hex, focus): the command
 * layer's ui_command hook. */
int ui_command(void *ud, int argc, const char *const *argv, char *err, size_t errlen);

/* theme.c */
void ui_theme_init(struct ui_theme *th, int utf8, int color);

/* draw.c: clipped drawing on stdscr. Each returns the columns used. */
int ui_put(struct sp_tui *t, int y, int x, int w, int role, const char *s);
int ui_putn(struct sp_tui *t, int y, int x, int w, int role, const char *s, size_t n);
int ui_putf(struct sp_tui *t, int y, int x, int w, int role, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Renders peer bytes safe (DESIGN §8) and draws them, at most w columns. */
int ui_put_peer(struct sp_tui *t, int y, int x, int w, int role, const void *p, size_t n,
                size_t *consumed);
void ui_fill(struct sp_tui *t, int y, int x, int w, int role);
void ui_vline(struct sp_tui *t, int y, int x, int h);
void ui_hline(struct sp_tui *t, int y, int x, int w);
/* A framed box with a title; the interior is cleared. */
void ui_box(struct sp_tui *t, int y, int x, int h, int w, const char *title);
/* Decodes one character of s[0..n); returns its byte length and sets *width
 * (-1 when it is not printable). */
size_t ui_next_char(const char *s, size_t n, int *width);
/* Columns that text of ours takes (UTF-8). */
int ui_width(const char *s);
/* Formats a byte count compactly: 512, 1.5K, 12M. */
void ui_fmt_bytes(char *buf, size_t len, uint64_t n);

/* layout.c */
void ui_layout(struct sp_tui *t);
/* The pane at screen position (y, x), or -1. */
int ui_pane_at(struct sp_tui *t, int y, int x);

/* sidebar.c */
void ui_sidebar_refresh(struct sp_tui *t);
void ui_sidebar_draw(struct sp_tui *t);
/* A click at (y, x) inside the sidebar: selects and shows a socket. */
int ui_sidebar_click(struct sp_tui *t, int y, int x);
int ui_sidebar_move(struct sp_tui *t, int delta);
void ui_sidebar_note_sock(struct sp_tui *t, uint32_t id, uint32_t parent);
void ui_sidebar_cleanup(struct sp_tui *t);
/* Clears every closed socket from the sidebar; returns how many. */
size_t ui_sidebar_clear_closed(struct sp_tui *t);

/* pane.c */
void ui_pane_draw(struct sp_tui *t, struct ui_pane *p, int focused);
enum ui_scroll {
    UI_SCROLL_PGUP,
    UI_SCROLL_PGDN,
    UI_SCROLL_HOME,
    UI_SCROLL_END,
    UI_SCROLL_UP,
    UI_SCROLL_DOWN
};
void ui_pane_scroll(struct sp_tui *t, struct ui_pane *p, enum ui_scroll how);
void ui_pane_reset(struct ui_pane *p, uint32_t sock);
const char *ui_view_name(enum ui_view v);

/* timeline.c: one history event as rows of the timeline. */
int ui_tl_visible(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *ev, int framed);
int ui_tl_height(struct sp_tui *t, const struct ui_pane *p, const struct sp_event *ev, int w);
void ui_tl_draw(struct sp_tui *t, const struct ui_pane *p, uint64_t idx, const struct sp_event *ev,
                int y, int x, int w, int h);

/* wireview.c: the wire view's rows in time order (a bounded window of the
 * history around what is on screen, sorted; under a flood, while following,
 * a frame's segments become one summary row). Returns how many. */
int ui_wire_collect(struct sp_tui *t, struct ui_pane *p, int framed, int rows, struct ui_shown *out,
                    int max);
/* Draws one summary row. */
void ui_wire_draw_summary(struct sp_tui *t, const struct ui_shown *sh, int y, int x, int w);

/* segidx.c */
/* Brings socket sock's index up to date with its history (only the new
 * events are read) and returns it; NULL when it has no history, or no index
 * yet and create is 0. */
struct ui_segidx *ui_segidx_get(struct sp_tui *t, uint32_t sock, int create);
/* Segments that carried the bytes [lo, hi) of one direction (out: what we
 * sent). Returns how many, with where a segment began inside the range in
 * marks (offsets from lo, at most max); or -1 when that cannot be known,
 * with why in *why (a fixed phrase). */
long ui_segidx_query(const struct ui_segidx *x, int out, uint64_t lo, uint64_t hi, uint64_t *marks,
                     size_t *nmarks, size_t max, const char **why);
void ui_segidx_cleanup(struct sp_tui *t);

/* edit.c */
void ui_edit_init(struct ui_edit *e);
void ui_edit_cleanup(struct ui_edit *e);
void ui_edit_set(struct ui_edit *e, const char *s);
/* Handles an editing key; returns UI_HANDLED|UI_REDRAW or UI_UNHANDLED. */
int ui_edit_key(struct ui_edit *e, int key);
void ui_edit_remember(struct ui_edit *e);
/* Draws the text in w columns keeping the cursor visible; returns the
 * cursor's screen column. */
int ui_edit_draw(struct sp_tui *t, struct ui_edit *e, int y, int x, int w, int role);

/* composer.c */
void ui_composer_open(struct sp_tui *t);
int ui_composer_key(struct sp_tui *t, int key);
void ui_composer_draw(struct sp_tui *t);
/* The command layer refused line: if the composer sent it, its text comes
 * back into the composer. */
void ui_composer_refused(struct sp_tui *t, const char *line);
/* The key queue ran dry: the composer's last line went through when it
 * added no failure, and the refusal it fixed leaves the status line. */
void ui_composer_settled(struct sp_tui *t);
void ui_composer_cleanup(struct sp_tui *t);
/* Whether ^P (pad) and ^D (end a series) mean anything for socket si. */
int ui_composer_offers_pad(const struct sp_sock_info *si);
int ui_composer_offers_end(const struct sp_sock_info *si);

/* prompt.c */
void ui_prompt_open(struct sp_tui *t, const char *initial);
int ui_prompt_key(struct sp_tui *t, int key);
void ui_status_draw(struct sp_tui *t);

/* menu.c */
void ui_menu_open(struct sp_tui *t, enum ui_menu_kind kind);
int ui_menu_key(struct sp_tui *t, int key);
void ui_menu_draw(struct sp_tui *t);

/* textbox.c */
void ui_box_open(struct sp_tui *t, const char *title, char **lines, size_t n);
/* Adds lines (ownership taken) to the open box. */
void ui_box_append(struct sp_tui *t, char **lines, size_t n);
void ui_box_close(struct sp_tui *t);
int ui_box_key(struct sp_tui *t, int key);
void ui_box_draw(struct sp_tui *t);

/* notes.c */
/* Rows the notes panel takes out of main_h (0: hidden or nothing to show). */
int ui_notes_height(struct sp_tui *t, int main_h);
void ui_notes_draw(struct sp_tui *t);
/* Shows the lab's newest connection, both ends side by side, when it
 * changed. */
void ui_notes_arrange(struct sp_tui *t);
/* N (show/hide), Space (step key), r (repeat the step). */
int ui_notes_key(struct sp_tui *t, int key);

/* keys.c */
int ui_keys_normal(struct sp_tui *t, int key);
void ui_hints_draw(struct sp_tui *t);
int ui_mouse(struct sp_tui *t);

/* demo.c */
void ui_demo_start(struct sp_tui *t);
void ui_demo_event(struct sp_tui *t, const struct sp_event *ev);

#endif
