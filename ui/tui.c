/* The screen manager: terminal setup, the loop hookup (keys, signals, the
 * frame timer, the engine subscription, the command-layer hooks), input
 * dispatch to the panel in charge, and the one place that draws. The view
 * model the panels read and change is model.c.
 *
 * Drawing is coalesced: event callbacks only mark the model dirty; a 33 ms
 * timer and the loop's prepare phase draw at most ~30 frames a second, never
 * from inside a socket callback. Input is drained completely on every wake-up
 * before anything is drawn, so a flood of data never delays keys. */
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "sockpit/cmd/cmd.h"
#include "sockpit/ui/tui.h"
#include "ui.h"

#define FRAME_MS   33
#define REFRESH_MS 200 /* live state line (unread/unsent) without events */

static void on_event(void *ud, const struct sp_event *ev)
{
    struct sp_tui *t = ud;
    t->dirty = 1;
    switch (ev->type) {
    case SP_EV_RECV:
    case SP_EV_MSG:
    case SP_EV_SEND:
        return; /* the hot path: nothing but the dirty mark */
    case SP_EV_LISTENING:
    case SP_EV_CONNECTED:
    case SP_EV_BOUND:
        ui_sidebar_note_sock(t, ev->sock, 0);
        ui_auto_show(t, ev->sock, 0);
        break;
    case SP_EV_ACCEPTED:
        ui_sidebar_note_sock(t, ev->sock, ev->parent);
        ui_auto_show(t, ev->sock, ev->parent);
        break;
    case SP_EV_CLOSED:
        t->side_dirty = 1;
        break;
    case SP_EV_CMD_ERROR: {
        struct sp_buf b;
        sp_buf_init(&b);
        /* A lab's "!" line failing is the lesson, not a mistake. */
        sp_buf_appends(&b, ev->expected ? "failed as expected: " : "error: ");
        if (ev->message)
            sp_render(&b, ev->message, strlen(ev->message), t->th.render);
        if (ev->line && ev->line[0]) {
            sp_buf_appends(&b, "   (in: ");
            sp_render(&b, ev->line, strlen(ev->line), t->th.render);
            sp_buf_appends(&b, ")");
        }
        ui_set_status(t, ev->expected ? UI_R_STATE : UI_R_ERROR, "%s", sp_buf_str(&b));
        sp_buf_cleanup(&b);
        ui_composer_refused(t, ev->line);
        break;
    }
    case SP_EV_ERROR:
        if (ui_pane_of(t, ev->sock) < 0) {
            char prefix[48];
            snprintf(prefix, sizeof(prefix), "[%u] error: ", (unsigned)ev->sock);
            struct sp_buf b;
            sp_buf_init(&b);
            if (ev->code)
                sp_buf_appends(&b, ev->code);
            if (ev->message) {
                sp_buf_appends(&b, " ");
                sp_buf_appends(&b, ev->message);
            }
            ui_set_status_render(t, UI_R_ERROR, prefix, sp_buf_str(&b));
            sp_buf_cleanup(&b);
        }
        break;
    case SP_EV_NOTICE:
        if (ev->sock == 0 || ui_pane_of(t, ev->sock) < 0)
            ui_set_status_render(t, UI_R_TITLE, "", ev->message);
        break;
    default:
        break;
    }
    ui_demo_event(t, ev);
}

/* Command-layer hooks. */
static uint32_t hook_current(void *ud)
{
    return ui_focused_sock(ud);
}

static void hook_output(void *ud, const char *line)
{
    struct sp_tui *t = ud;
    t->pending_out = sp_xreallocarray(t->pending_out, t->npending_out + 1, sizeof(char *));
    t->pending_out[t->npending_out++] = sp_xstrdup(line);
    t->dirty = 1;
}

static void hook_quit(void *ud)
{
    struct sp_tui *t = ud;
    t->quitting = 1;
    t->quit_deadline_ms = ui_now_ms() + 2000;
}

static void update_watched(struct sp_tui *t)
{
    uint32_t want[UI_PANES_MAX];
    int n = 0;
    for (int i = 0; i < t->npanes; i++) {
        uint32_t id = t->panes[i].sock;
        int dup = 0;
        for (int k = 0; k < n; k++)
            dup |= want[k] == id;
        if (id && !dup)
            want[n++] = id;
    }
    for (int i = 0; i < t->nwatched; i++) {
        int keep = 0;
        for (int k = 0; k < n; k++)
            keep |= want[k] == t->watched[i];
        if (!keep)
            sp_engine_set_watched(t->eng, t->watched[i], 0);
    }
    for (int k = 0; k < n; k++) {
        int had = 0;
        for (int i = 0; i < t->nwatched; i++)
            had |= want[k] == t->watched[i];
        if (!had)
            sp_engine_set_watched(t->eng, want[k], 1);
    }
    memcpy(t->watched, want, sizeof(want));
    t->nwatched = n;
}

static void flush_output(struct sp_tui *t)
{
    if (t->npending_out == 0)
        return;
    if (t->npending_out == 1 && !t->box.open) {
        ui_set_status(t, UI_R_NORMAL, "%s", t->pending_out[0]);
        free(t->pending_out[0]);
        free(t->pending_out);
    } else if (t->box.open && t->box.title && strcmp(t->box.title, "output") == 0) {
        ui_box_append(t, t->pending_out, t->npending_out);
    } else {
        ui_box_open(t, "output", t->pending_out, t->npending_out);
    }
    t->pending_out = NULL;
    t->npending_out = 0;
}

static void draw(struct sp_tui *t)
{
    t->dirty = 0;
    t->last_draw_ms = ui_now_ms();
    flush_output(t);
    erase();
    t->cur_y = t->cur_x = -1;
    ui_notes_arrange(t);
    ui_layout(t);
    if (t->too_small) {
        const char *msg = "terminal too small";
        char need[64];
        snprintf(need, sizeof(need), "%dx%d, need 40x10", t->cols, t->rows);
        int y = t->rows / 2 - 1;
        ui_put(t, y < 0 ? 0 : y, 0, t->cols, UI_R_WARN, msg);
        ui_put(t, y + 1 < 0 ? 0 : y + 1, 0, t->cols, UI_R_NORMAL, need);
        curs_set(0);
        refresh();
        return;
    }
    ui_sidebar_refresh(t);
    update_watched(t);
    ui_sidebar_draw(t);
    for (int i = 0; i < t->npanes; i++) {
        struct ui_pane *p = &t->panes[i];
        ui_pane_draw(t, p, i == t->focus && t->npanes > 1 ? 1 : (t->npanes == 1));
        if (!t->stacked && i + 1 < t->npanes)
            ui_vline(t, p->y, p->x + p->w, p->h);
    }
    ui_notes_draw(t);
    ui_composer_draw(t);
    ui_status_draw(t);
    ui_hints_draw(t);
    if (t->mode == UI_MODE_MENU)
        ui_menu_draw(t);
    if (t->box.open)
        ui_box_draw(t);
    if (t->cur_y >= 0 && (t->mode == UI_MODE_PROMPT || t->mode == UI_MODE_COMPOSE)) {
        curs_set(1);
        move(t->cur_y, t->cur_x);
    } else {
        curs_set(0);
    }
    refresh();
}

static void resize(struct sp_tui *t)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
    t->rows = LINES;
    t->cols = COLS;
    clearok(curscr, TRUE);
    t->dirty = 1;
}

static void dispatch(struct sp_tui *t, int key)
{
    int r = UI_UNHANDLED;
    if (key == UI_KEY(KEY_RESIZE)) {
        /* curses already resized (resizeterm() queues this key): calling
         * resizeterm() again would queue another one, forever. */
        t->rows = LINES;
        t->cols = COLS;
        t->dirty = 1;
        return;
    }
    if (key == UI_MOUSE_KEY) {
        if (t->mode == UI_MODE_NORMAL || t->mode == UI_MODE_COMPOSE)
            r = ui_mouse(t);
        t->dirty = 1;
        return;
    }
    if (t->too_small) {
        if (key == 'q' || key == UI_CTRL('c'))
            ui_keys_normal(t, 'q');
        t->dirty = 1;
        return;
    }
    switch (t->mode) {
    case UI_MODE_HELP:
        r = ui_box_key(t, key);
        break;
    case UI_MODE_MENU:
        r = ui_menu_key(t, key);
        break;
    case UI_MODE_PROMPT:
        r = ui_prompt_key(t, key);
        break;
    case UI_MODE_COMPOSE:
        r = ui_composer_key(t, key);
        if (r == UI_UNHANDLED) {
            /* Scrolling and focus keep working while composing. */
            switch (key) {
            case UI_KEY(KEY_PPAGE):
            case UI_KEY(KEY_NPAGE):
            case '\t':
            case UI_KEY(KEY_BTAB):
                r = ui_keys_normal(t, key);
                break;
            default:
                break;
            }
        }
        break;
    default:
        r = ui_keys_normal(t, key);
        if (r == UI_UNHANDLED && key == UI_ESC) {
            sp_buf_reset(&t->status);
            r = UI_HANDLED | UI_REDRAW;
        }
        break;
    }
    (void)r;
    t->dirty = 1;
}

/* A wake-up that gave no key: is the terminal gone? A hung-up terminal (its
 * tmux or terminal emulator died) polls as HUP/ERR, and a readable terminal
 * with nothing to read is at end of file. The hang-up signal goes only to
 * the session leader, which may survive it (make under `make run`), so
 * this is how the TUI learns it has nobody to talk to. */
static int terminal_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
        return 1;
    int unread = 0;
    return (p.revents & POLLIN) && ioctl(fd, FIONREAD, &unread) == 0 && unread == 0;
}

/* stdin is readable: take every pending key before anything is drawn. */
static void on_stdin(void *ud)
{
    struct sp_tui *t = ud;
    for (int i = 0; i < 4096; i++) {
        wint_t wc;
        int rc = wget_wch(stdscr, &wc);
        if (rc == ERR) {
            /* Like SIGHUP: leave; the engine closes every socket. */
            if (i == 0 && terminal_gone(t->keys_fd))
                t->quit = 1;
            break;
        }
        int key;
        if (rc == KEY_CODE_YES)
            key = wc == KEY_MOUSE ? UI_MOUSE_KEY : UI_KEY((int)wc);
        else
            key = (int)wc;
        dispatch(t, key);
        if (t->quit)
            break;
    }
}

static void on_winch(void *ud)
{
    resize(ud);
}

static void on_term(void *ud)
{
    struct sp_tui *t = ud;
    t->quit = 1;
}

/* The script's lines have run (or a failure dropped the rest): its outcome
 * decides the exit status, and from now on the queue serves the prompt,
 * where a failed line must not drop what the user types next. */
static void on_script_idle(void *ud, int failed)
{
    struct sp_tui *t = ud;
    if (!t->script_running)
        return;
    t->script_running = 0;
    if (failed || sp_cmdq_failures(t->q) > 0)
        t->exit_status = 1;
    sp_cmdq_set_keep_going(t->q, 1);
}

static void on_keys_idle(void *ud, int failed)
{
    (void)failed;
    ui_composer_settled(ud);
}

static void on_timeout(void *ud)
{
    struct sp_tui *t = ud;
    t->timed_out = 1;
    t->exit_status = 1;
    t->quit = 1;
}

static void maybe_stop(struct sp_tui *t)
{
    if (t->quitting && (ui_sock_open_count(t) == 0 || ui_now_ms() >= t->quit_deadline_ms))
        t->quit = 1;
    if (t->quit)
        sp_engine_stop(t->eng);
}

static void on_tick(void *ud)
{
    struct sp_tui *t = ud;
    t->tick++;
    if (t->tick % (REFRESH_MS / FRAME_MS) == 0)
        t->dirty = 1;
    maybe_stop(t);
    if (t->dirty && !t->quit)
        draw(t);
}

static void on_prepare(void *ud)
{
    struct sp_tui *t = ud;
    maybe_stop(t);
    if (t->dirty && !t->quit && ui_now_ms() - t->last_draw_ms >= FRAME_MS)
        draw(t);
}

static int locale_is_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

int sp_tui_main(struct sp_engine *eng, const struct sp_tui_opts *opts)
{
    struct sp_tui *t = sp_xcalloc(1, sizeof(*t));
    t->eng = eng;
    setlocale(LC_ALL, "");
    int utf8 = locale_is_utf8();
    const char *nc = getenv("NO_COLOR");
    int color = !(nc && nc[0]);

    /* The loop's SIGWINCH handler goes in before curses starts, so curses
     * leaves the signal to us and resizes happen on the loop. */
    struct sp_watch *w_winch = sp_engine_watch_signal(eng, SIGWINCH, on_winch, t);
    struct sp_watch *w_term = sp_engine_watch_signal(eng, SIGTERM, on_term, t);
    struct sp_watch *w_hup = sp_engine_watch_signal(eng, SIGHUP, on_term, t);

    /* `--script -` leaves stdin a pipe at EOF: the keys come from the
     * controlling terminal then. */
    FILE *keys_in = stdin;
    if (!isatty(STDIN_FILENO)) {
        keys_in = fopen("/dev/tty", "r");
        if (keys_in == NULL) {
            fprintf(stderr, "sockpit: stdin is not a terminal and /dev/tty cannot be opened; "
                            "use --headless\n");
            sp_watch_stop(w_winch);
            sp_watch_stop(w_term);
            sp_watch_stop(w_hup);
            free(t);
            return 1;
        }
    }
    SCREEN *scr = newterm(NULL, stdout, keys_in);
    if (!scr) {
        if (keys_in != stdin)
            fclose(keys_in);
        struct sp_buf b;
        sp_buf_init(&b);
        const char *term = getenv("TERM") ? getenv("TERM") : "";
        sp_render(&b, term, strlen(term), utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
        fprintf(stderr, "sockpit: cannot start the terminal interface (TERM=%s)\n", sp_buf_str(&b));
        sp_buf_cleanup(&b);
        sp_watch_stop(w_winch);
        sp_watch_stop(w_term);
        sp_watch_stop(w_hup);
        free(t);
        return 1;
    }
    set_term(scr);
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED
#if NCURSES_MOUSE_VERSION > 1
                  | BUTTON4_PRESSED | BUTTON5_PRESSED
#endif
              ,
              NULL);
    mouseinterval(0);
    curs_set(0);
    ui_theme_init(&t->th, utf8, color);
    t->rows = LINES;
    t->cols = COLS;

    sp_buf_init(&t->status);
    sp_buf_init(&t->hint);
    sp_buf_init(&t->completions);
    sp_buf_init(&t->scratch);
    ui_edit_init(&t->composer);
    ui_edit_init(&t->prompt);
    t->npanes = 1;
    ui_pane_reset(&t->panes[0], 0);
    t->panes[0].view = UI_VIEW_BOTH;
    t->side_dirty = 1;
    t->dirty = 1;

    int sub = sp_engine_subscribe(eng, SP_EV_MASK_ALL, on_event, t);
    /* Panes draw from the history: no payload is read from the events. */
    sp_engine_sub_data_max(eng, sub, 0);
    struct sp_cmd_hooks hooks = {
        .output = hook_output,
        .current = hook_current,
        .quit = hook_quit,
        .ui_command = ui_command,
    };
    /* Scripts and labs stop for the step key (Space); keys never do. */
    hooks.stepping = 1;
    t->q = sp_cmdq_new(eng, &hooks, t);
    hooks.stepping = 0;
    t->kq = sp_cmdq_new(eng, &hooks, t);
    t->notes_open = 1;
    /* Interactive: a failed line must not drop what the user types next.
     * The script's queue keeps going only with --keep-going until the
     * script has run (on_script_idle). */
    sp_cmdq_set_keep_going(t->q, 1);
    sp_cmdq_set_keep_going(t->kq, 1);
    sp_cmdq_on_idle(t->q, on_script_idle, t);
    sp_cmdq_on_idle(t->kq, on_keys_idle, t);
    struct sp_watch *w_timeout = NULL;
    if (opts) {
        t->script_running = opts->nlines > 0 || opts->lab != NULL;
        sp_cmdq_set_keep_going(t->q, !t->script_running || opts->keep_going);
        if (opts->timeout_s > 0) {
            double ms = opts->timeout_s * 1000.0;
            w_timeout = sp_engine_watch_timer(eng, ms < 1 ? 1 : (uint64_t)ms, 0, on_timeout, t);
        }
        for (size_t i = 0; i < opts->nlines; i++)
            sp_cmdq_push(t->q, opts->lines[i], opts->origins ? opts->origins[i] : "-e");
        if (opts->lab) {
            struct sp_buf b;
            sp_buf_init(&b);
            sp_buf_appendf(&b, "lab \"%s\"", opts->lab);
            sp_cmdq_push(t->q, sp_buf_str(&b), "--lab");
            sp_buf_cleanup(&b);
        }
        if (opts->demo)
            ui_demo_start(t);
    }

    t->keys_fd = fileno(keys_in);
    struct sp_watch *w_in = sp_engine_watch_fd(eng, t->keys_fd, on_stdin, t);
    struct sp_watch *w_tick = sp_engine_watch_timer(eng, FRAME_MS, FRAME_MS, on_tick, t);
    struct sp_watch *w_prep = sp_engine_watch_prepare(eng, on_prepare, t);
    draw(t);
    sp_engine_run(eng);

    for (int i = 0; i < t->nwatched; i++)
        sp_engine_set_watched(eng, t->watched[i], 0);
    sp_watch_stop(w_in);
    sp_watch_stop(w_tick);
    sp_watch_stop(w_prep);
    if (w_timeout != NULL)
        sp_watch_stop(w_timeout);
    sp_watch_stop(w_winch);
    sp_watch_stop(w_term);
    sp_watch_stop(w_hup);
    sp_engine_unsubscribe(eng, sub);
    sp_cmdq_free(t->q);
    sp_cmdq_free(t->kq);
    endwin();
    delscreen(scr);
    if (keys_in != stdin)
        fclose(keys_in);
    if (t->timed_out)
        fprintf(stderr, "sockpit: still running after --timeout %g s\n", opts->timeout_s);

    ui_box_close(t);
    for (size_t i = 0; i < t->npending_out; i++)
        free(t->pending_out[i]);
    free(t->pending_out);
    ui_sidebar_cleanup(t);
    ui_composer_cleanup(t);
    ui_segidx_cleanup(t);
    ui_edit_cleanup(&t->composer);
    ui_edit_cleanup(&t->prompt);
    sp_buf_cleanup(&t->status);
    sp_buf_cleanup(&t->hint);
    sp_buf_cleanup(&t->completions);
    sp_buf_cleanup(&t->scratch);
    int status = t->exit_status;
    free(t);
    return status;
}
