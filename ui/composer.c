/* The composer: data for the focused socket in escape syntax, a live preview
 * of the exact wire bytes after the socket's framing, and Enter to send
 * through the command layer (the same `send` a user could type). Its
 * settings (split, delay, raw, pad) stay until reset and are always on
 * screen; a line the engine refuses comes back into the composer. */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/cmd/cmd.h"
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

int ui_composer_offers_pad(const struct sp_sock_info *si)
{
    return si->spec.kind == SP_FRAME_FIXED;
}

int ui_composer_offers_end(const struct sp_sock_info *si)
{
    return si->spec.kind == SP_FRAME_BLOCKS;
}

/* --once and --oob write the bytes as given: the framing is bypassed. */
static int raw_now(const struct sp_tui *t)
{
    return t->c_raw || t->c_once;
}

/* --pad only means something under fixed framing, and --raw refuses it. */
static int pad_applies(const struct sp_tui *t, const struct sp_sock_info *si)
{
    return t->c_pad && !raw_now(t) && ui_composer_offers_pad(si);
}

/* The settings that are not the defaults, as "split 2, delay 10ms, raw";
 * returns 0 when all are the defaults. */
static int settings_text(const struct sp_tui *t, char *buf, size_t len)
{
    struct sp_buf b;
    sp_buf_init(&b);
    if (t->c_split)
        sp_buf_appendf(&b, ", split %d", t->c_split);
    if (t->c_delay)
        sp_buf_appendf(&b, ", delay %ums", t->c_delay);
    if (t->c_raw)
        sp_buf_appends(&b, ", raw");
    if (t->c_pad)
        sp_buf_appends(&b, ", pad");
    if (t->c_once)
        sp_buf_appends(&b, t->c_once == 1 ? ", one call" : ", urgent");
    snprintf(buf, len, "%s", b.len ? sp_buf_str(&b) + 2 : "");
    int any = b.len > 0;
    sp_buf_cleanup(&b);
    return any;
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

/* Queues the line, remembering it with its text so that a refusal can put
 * the text back (ui_composer_refused). */
static void push_line(struct sp_tui *t, const char *line)
{
    free(t->c_line);
    free(t->c_text);
    t->c_line = sp_xstrdup(line);
    t->c_text = sp_xstrdup(sp_buf_str(&t->composer.text));
    t->c_failures = sp_cmdq_failures(t->kq);
    sp_cmdq_push(t->kq, line, "composer");
    t->dirty = 1;
    ui_edit_remember(&t->composer);
}

/* Events looked at, newest first, to find a datagram socket's last sender
 * or last destination: bounded, the rest of the history is older. */
#define DEST_SCAN_MAX 4096

/* A datagram socket that is not connected: each send needs a destination. */
static int needs_dest(const struct sp_sock_info *si)
{
    return (si->kind == SP_SOCK_UDP || si->kind == SP_SOCK_UNIX_DGRAM) && si->peer_len == 0;
}

/* Where the composer sends on such a socket: with ^Y (reply) the last
 * sender; otherwise where the socket's last send went (a `send --to` at the
 * prompt sets it), and before any send the last sender. Each is read back
 * from the socket's history. Returns 1 with the address text in out (a
 * name the command line can carry), 0 when there is none; *reply says the
 * last sender was taken. */
static int composer_dest(struct sp_tui *t, uint32_t id, char *out, size_t len, int *reply)
{
    uint64_t begin = sp_hist_begin(t->eng, id), end = sp_hist_end(t->eng, id);
    uint64_t stop = end - begin > DEST_SCAN_MAX ? end - DEST_SCAN_MAX : begin;
    char from[SP_ADDR_TEXT_MAX] = "";
    struct sp_event ev;
    for (uint64_t i = end; i > stop; i--) {
        if (sp_hist_get(t->eng, id, i - 1, &ev) != 0)
            continue;
        const char *a = NULL;
        size_t alen = 0;
        if (ev.type == SP_EV_RECV && ev.from != NULL) {
            a = ev.from;
            alen = ev.from_len;
        } else if (ev.type == SP_EV_SEND && ev.peer != NULL && !t->c_reply) {
            a = ev.peer;
            alen = ev.peer_len;
        }
        if (a == NULL || a[0] == '\0')
            continue;
        if (alen == 0)
            alen = strlen(a);
        /* An abstract name with NULs, or quotes, cannot go on a line. */
        if (memchr(a, '\0', alen) != NULL || memchr(a, '"', alen) != NULL ||
            memchr(a, '\\', alen) != NULL || alen >= len)
            continue;
        if (ev.type == SP_EV_SEND || t->c_reply) {
            snprintf(out, len, "%.*s", (int)alen, a);
            *reply = ev.type == SP_EV_RECV;
            return 1;
        }
        if (from[0] == '\0')
            snprintf(from, sizeof from, "%.*s", (int)alen, a);
    }
    if (from[0] == '\0')
        return 0;
    snprintf(out, len, "%s", from);
    *reply = 1;
    return 1;
}

/* Enter sends the message; ^D (end) sends it as the last block of a series
 * and the zero block after it, or the zero block alone on an empty line. */
static void send_now(struct sp_tui *t, int end)
{
    uint32_t id = ui_focused_sock(t);
    struct sp_sock_info si;
    struct sp_buf msg, line;
    sp_buf_init(&msg);
    sp_buf_init(&line);
    char err[160];
    if (sp_engine_sock_info(t->eng, id, &si) != 0)
        goto done;
    if (end && (raw_now(t) || !ui_composer_offers_end(&si))) {
        ui_set_status(t, UI_R_WARN, "^D ends a series of blocks: [%u] has %s framing%s",
                      (unsigned)id, si.framing, raw_now(t) ? " and raw is on" : "");
        goto done;
    }
    if (message_bytes(t, &msg, err, sizeof(err)) != 0) {
        ui_set_status(t, UI_R_ERROR, "not sent: %s", err);
        t->c_err_ms = t->status_ms;
        goto done;
    }
    /* Hex carries any byte through the command line unchanged, whatever
     * quotes or backslashes the message holds. */
    sp_buf_appendf(&line, "send %u", (unsigned)id);
    char to[SP_ADDR_TEXT_MAX];
    int reply;
    if (needs_dest(&si) && composer_dest(t, id, to, sizeof to, &reply))
        sp_buf_appendf(&line, " --to \"%s\"", to);
    if (msg.len) {
        sp_buf_appends(&line, " --hex ");
        sp_hex_append(&line, msg.data, msg.len);
    } else if (!end) {
        sp_buf_appends(&line, " \"\"");
    }
    if (raw_now(t))
        sp_buf_appends(&line, " --raw");
    if (t->c_once)
        sp_buf_appends(&line, t->c_once == 1 ? " --once" : " --oob");
    if (end)
        sp_buf_appends(&line, " --end");
    if (pad_applies(t, &si))
        sp_buf_appends(&line, " --pad");
    if (t->c_split && !t->c_once)
        sp_buf_appendf(&line, " --split %d", t->c_split);
    if (t->c_delay && t->c_split && !t->c_once)
        sp_buf_appendf(&line, " --delay %u", t->c_delay);
    push_line(t, sp_buf_str(&line));
done:
    sp_buf_cleanup(&msg);
    sp_buf_cleanup(&line);
}

void ui_composer_refused(struct sp_tui *t, const char *line)
{
    if (!t->c_line || !line || strcmp(line, t->c_line) != 0)
        return;
    /* Unless the user has started a new line meanwhile. */
    if (t->composer.text.len == 0 && t->c_text)
        ui_edit_set(&t->composer, t->c_text);
    t->c_err_ms = t->status_ms;
    free(t->c_line);
    t->c_line = NULL;
}

void ui_composer_settled(struct sp_tui *t)
{
    if (!t->c_line || sp_cmdq_failures(t->kq) != t->c_failures)
        return;
    free(t->c_line);
    t->c_line = NULL;
    /* The refusal the user just fixed is no longer news. */
    if (t->c_err_ms && t->c_err_ms == t->status_ms)
        sp_buf_reset(&t->status);
    t->c_err_ms = 0;
    t->dirty = 1;
}

void ui_composer_cleanup(struct sp_tui *t)
{
    free(t->c_line);
    free(t->c_text);
    t->c_line = t->c_text = NULL;
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
        send_now(t, 0);
        return UI_HANDLED | UI_REDRAW;
    case UI_CTRL('d'):
        send_now(t, 1);
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
    case UI_CTRL('p'):
        t->c_pad = !t->c_pad;
        return UI_HANDLED | UI_REDRAW;
    case UI_CTRL('n'):
        /* One non-blocking call (what send() really returns), then the
         * urgent byte, then back to finishing the write like sendall(). */
        t->c_once = (t->c_once + 1) % 3;
        ui_set_status(t, UI_R_TITLE, "%s",
                      t->c_once == 1   ? "one call: send --once shows what one send() took"
                      : t->c_once == 2 ? "urgent: send --oob sends one byte with MSG_OOB (TCP)"
                                       : "each send finishes its write, as sendall() does");
        return UI_HANDLED | UI_REDRAW;
    case UI_CTRL('y'):
        t->c_reply = !t->c_reply;
        ui_set_status(t, UI_R_TITLE,
                      t->c_reply ? "datagrams go to the last sender (^Y: to the last destination)"
                                 : "datagrams go where the last send went (^Y: reply to the last "
                                   "sender)");
        return UI_HANDLED | UI_REDRAW;
    case UI_CTRL('o'):
        t->c_split = 0;
        t->c_delay = 0;
        t->c_raw = 0;
        t->c_pad = 0;
        t->c_reply = 0;
        t->c_once = 0;
        ui_set_status(t, UI_R_TITLE, "composer settings reset: the whole message in one write");
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
    if (raw_now(t)) {
        sp_buf_append(&wire, msg.data ? msg.data : (const unsigned char *)"", msg.len);
    } else if (sp_frame_encode_buf(&si->spec, msg.data ? msg.data : (const unsigned char *)"",
                                   msg.len, pad_applies(t, si) ? SP_FRAME_ENC_PAD : 0, &wire, err,
                                   sizeof(err)) != 0) {
        x += ui_put(t, y, x, end - x, UI_R_ERROR, "framing refuses it: ");
        ui_put(t, y, x, end - x, UI_R_ERROR, err);
        goto done;
    }
    x += ui_putf(t, y, x, end - x, UI_R_DIM, "wire %zu B%s", wire.len, raw_now(t) ? " (raw)" : "");
    if (t->c_once)
        x += ui_put(t, y, x, end - x, UI_R_DIM,
                    t->c_once == 1 ? " in one call" : " as the urgent byte");
    else if (t->c_split && (size_t)t->c_split < wire.len) {
        x += ui_putf(t, y, x, end - x, UI_R_DIM, " in writes of %d B", t->c_split);
        if (t->c_delay)
            x += ui_putf(t, y, x, end - x, UI_R_DIM, " %u ms apart", t->c_delay);
    }
    x += ui_put(t, y, x, end - x, UI_R_DIM, ": \"");
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

/* Two rows: the input line (or how to start typing) and the wire preview.
 * Settings that are not the defaults show on the first row either way, so
 * a split or a delay never applies unseen. */
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
    char opts[64];
    int set = settings_text(t, opts, sizeof(opts));
    if (!active) {
        if (have && !sp_kind_is_listener(si.kind) && set)
            ui_putf(t, y, 1, t->cols - 1, UI_R_DIM,
                    "Enter or i: type data for [%u] (%s framing)  composer: %s (^O resets)",
                    (unsigned)id, si.framing, opts);
        else if (have && !sp_kind_is_listener(si.kind))
            ui_putf(t, y, 1, t->cols - 1, UI_R_DIM,
                    "Enter or i: type data for [%u] (%s framing; escapes \\n \\r \\t \\0 \\xHH)",
                    (unsigned)id, si.framing);
        else
            ui_put(t, y, 1, t->cols - 1, UI_R_DIM,
                   "composer: focus a connected socket to type data for it");
        return;
    }
    int x = ui_putf(t, y, 0, t->cols, UI_R_KEY, "send [%u] %s%s%s%s", (unsigned)id, si.framing,
                    set ? " (" : "", opts, set ? ")" : "");
    if (needs_dest(&si)) {
        char to[SP_ADDR_TEXT_MAX];
        int reply = 0;
        if (composer_dest(t, id, to, sizeof to, &reply)) {
            x += ui_put(t, y, x, t->cols - x, UI_R_KEY, " to ");
            /* The sender's address came from the network: rendered safe. */
            x += ui_put_peer(t, y, x, t->cols - x, UI_R_KEY, to, strlen(to), NULL);
            x += ui_put(t, y, x, t->cols - x, UI_R_DIM, reply ? " (last sender)" : "");
        } else {
            x += ui_put(t, y, x, t->cols - x, UI_R_WARN, " to ? (send --to ADDR at : first)");
        }
    }
    x += ui_put(t, y, x, t->cols - x, UI_R_KEY, "> ");
    int cx = ui_edit_draw(t, &t->composer, y, x, t->cols - x, UI_R_NORMAL);
    draw_preview(t, y + 1, &si);
    t->cur_y = y;
    t->cur_x = cx < t->cols ? cx : t->cols - 1;
}
