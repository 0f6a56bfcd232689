/* The composer: data for the focused socket in escape syntax, a live preview
 * of the exact wire bytes after the socket's framing, and Enter to send
 * through the command layer (the same `send` a user could type). */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "sockpit/proto/escape.h"
#include "sockpit/proto/frame.h"
#include "sockpit/proto/render.h"
#include "ui.h"

static const int split_steps[] = {0, 1, 2, 3, 5, 8, 16};
static const unsigned delay_steps[] = {0, 10, 100, 250, 500, 1000};

void ui_composer_open(struct sp_tui *t)
{
    uint32_t id = ui_focused_sock(t);
    struct sp_sock_info si;
    if (id == 0 || sp_engine_sock_info(t->eng, id, &si) != 0) {
        ui_set_status(t, UI_R_WARN,
                      "no socket here to send on: press : and type listen or connect");
        return;
    }
    if (sp_kind_is_listener(si.kind)) {
        ui_set_status(t, UI_R_WARN, "[%u] is a listener: select one of its connections to send",
                      (unsigned)id);
        return;
    }
    t->mode = UI_MODE_COMPOSE;
}

/* The message as bytes (escapes applied), or -1 with a reason. */
static int message_bytes(struct sp_tui *t, struct sp_buf *out, char *err, size_t errlen)
{
    size_t pos = 0;
    const char *s = sp_buf_str(&t->composer.text);
    if (sp_unescape(s, t->composer.text.len, out, &pos, err, errlen) != 0) {
        size_t l = strlen(err);
        snprintf(err + l, errlen - l, " (at column %zu)", pos + 1);
        return -1;
    }
    return 0;
}

static void send_now(struct sp_tui *t)
{
    uint32_t id = ui_focused_sock(t);
    struct sp_buf msg, line;
    sp_buf_init(&msg);
    sp_buf_init(&line);
    char err[160];
    if (message_bytes(t, &msg, err, sizeof(err)) != 0) {
        ui_set_status(t, UI_R_ERROR, "not sent: %s", err);
        goto done;
    }
    /* Hex carries any byte through the command line unchanged, whatever
     * quotes or backslashes the message holds. */
    sp_buf_appendf(&line, "send %u", (unsigned)id);
    if (msg.len) {
        sp_buf_appends(&line, " --hex ");
        sp_hex_append(&line, msg.data, msg.len);
    } else {
        sp_buf_appends(&line, " \"\"");
    }
    if (t->c_raw)
        sp_buf_appends(&line, " --raw");
    if (t->c_split)
        sp_buf_appendf(&line, " --split %d", t->c_split);
    if (t->c_delay && t->c_split)
        sp_buf_appendf(&line, " --delay %u", t->c_delay);
    ui_run(t, "%s", sp_buf_str(&line));
    ui_edit_remember(&t->composer);
done:
    sp_buf_cleanup(&msg);
    sp_buf_cleanup(&line);
}

static int cycle_int(const int *steps, size_t n, int cur)
{
    for (size_t i = 0; i < n; i++)
        if (steps[i] == cur)
            return steps[(i + 1) % n];
    return steps[0];
}

int ui_composer_key(struct sp_tui *t, int key)
{
    switch (key) {
    case '\n':
    case '\r':
    case UI_KEY(KEY_ENTER):
        send_now(t);
        return UI_HANDLED | UI_REDRAW;
    case UI_ESC:
        t->mode = UI_MODE_NORMAL;
        return UI_HANDLED | UI_REDRAW;
    case UI_CTRL('t'):
        t->c_split =
            cycle_int(split_steps, sizeof(split_steps) / sizeof(split_steps[0]), t->c_split);
        return UI_HANDLED | UI_REDRAW;
    case UI_CTRL('g'): {
        size_t n = sizeof(delay_steps) / sizeof(delay_steps[0]), i;
        for (i = 0; i < n && delay_steps[i] != t->c_delay; i++)
            ;
        t->c_delay = delay_steps[(i + 1) % n];
        if (t->c_delay && !t->c_split)
            t->c_split = 1;
        return UI_HANDLED | UI_REDRAW;
    }
    case UI_CTRL('r'):
        t->c_raw = !t->c_raw;
        return UI_HANDLED | UI_REDRAW;
    default:
        return ui_edit_key(&t->composer, key);
    }
}

static void draw_preview(struct sp_tui *t, int y, const struct sp_sock_info *si)
{
    int x = 1, end = t->cols;
    struct sp_buf msg, wire;
    sp_buf_init(&msg);
    sp_buf_init(&wire);
    char err[160];
    if (message_bytes(t, &msg, err, sizeof(err)) != 0) {
        ui_put(t, y, x, end - x, UI_R_ERROR, err);
        goto done;
    }
    if (t->c_raw) {
        sp_buf_append(&wire, msg.data ? msg.data : (const unsigned char *)"", msg.len);
    } else if (sp_frame_encode_buf(&si->spec, msg.data ? msg.data : (const unsigned char *)"",
                                   msg.len, 0, &wire, err, sizeof(err)) != 0) {
        x += ui_put(t, y, x, end - x, UI_R_ERROR, "framing refuses it: ");
        ui_put(t, y, x, end - x, UI_R_ERROR, err);
        goto done;
    }
    x += ui_putf(t, y, x, end - x, UI_R_DIM, "wire %zu B%s: ", wire.len, t->c_raw ? " (raw)" : "");
    x += ui_put(t, y, x, end - x, UI_R_DIM, "\"");
    size_t used = 0;
    int room = (end - x) / 2;
    x += ui_put_peer(t, y, x, room, UI_R_SEND, wire.data, wire.len, &used);
    x += ui_put(t, y, x, end - x, UI_R_DIM, used < wire.len ? t->th.g.ellipsis : "\"");
    x += 2;
    for (size_t i = 0; i < wire.len && x + 3 <= end; i++) {
        char hx[4];
        snprintf(hx, sizeof(hx), "%02x ", wire.data[i]);
        x += ui_put(t, y, x, end - x, UI_R_DIM, hx);
    }
done:
    sp_buf_cleanup(&msg);
    sp_buf_cleanup(&wire);
}

/* Two rows: the input line (or how to start typing) and the wire preview. */
void ui_composer_draw(struct sp_tui *t)
{
    int y = t->compose_y;
    ui_fill(t, y, 0, t->cols, UI_R_NORMAL);
    ui_fill(t, y + 1, 0, t->cols, UI_R_NORMAL);
    uint32_t id = ui_focused_sock(t);
    struct sp_sock_info si;
    int have = id && sp_engine_sock_info(t->eng, id, &si) == 0;
    int active = t->mode == UI_MODE_COMPOSE;
    if (active && !have) {
        t->mode = UI_MODE_NORMAL;
        active = 0;
    }
    int x = 0;
    if (!active) {
        if (have && !sp_kind_is_listener(si.kind))
            ui_putf(t, y, 1, t->cols - 1, UI_R_DIM,
                    "Enter or i: type data for [%u] (%s framing; escapes \\n \\r \\t \\0 \\xHH)",
                    (unsigned)id, si.framing);
        else
            ui_put(t, y, 1, t->cols - 1, UI_R_DIM,
                   "composer: focus a connected socket to type data for it");
        return;
    }
    char opts[64] = "";
    if (t->c_split)
        snprintf(opts, sizeof(opts), " split %d", t->c_split);
    if (t->c_delay)
        snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), " delay %ums", t->c_delay);
    x += ui_putf(t, y, x, t->cols, UI_R_KEY, "send [%u] %s%s%s> ", (unsigned)id, si.framing, opts,
                 t->c_raw ? " raw" : "");
    int cx = ui_edit_draw(t, &t->composer, y, x, t->cols - x, UI_R_NORMAL);
    draw_preview(t, y + 1, &si);
    t->cur_y = y;
    t->cur_x = cx < t->cols ? cx : t->cols - 1;
}
