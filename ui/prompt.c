/* The `:` prompt (history, Tab completion) and the status line it shares
 * with messages: errors appear on the row the user was just typing in. */
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/cmd/cmd.h"
#include "ui.h"

#define STATUS_INFO_MS  8000
#define STATUS_ERROR_MS 20000

void ui_prompt_open(struct sp_tui *t, const char *initial)
{
    t->mode = UI_MODE_PROMPT;
    ui_edit_set(&t->prompt, initial ? initial : "");
    t->prompt.hist_pos = t->prompt.nhist;
    sp_buf_reset(&t->completions);
}

/* Replaces the word before the cursor with the completion, or with the
 * candidates' common prefix, and lists the candidates. */
static void complete(struct sp_tui *t)
{
    struct ui_edit *e = &t->prompt;
    const char *s = sp_buf_str(&e->text);
    char *upto = sp_xstrndup(s, e->cur);
    struct sp_buf out;
    sp_buf_init(&out);
    size_t n = sp_cmd_complete(t->eng, upto, &out);
    size_t ws = e->cur;
    while (ws > 0 && s[ws - 1] != ' ')
        ws--;
    size_t wlen = e->cur - ws;
    sp_buf_reset(&t->completions);
    if (n == 0) {
        sp_buf_appends(&t->completions, "no completion");
    } else {
        /* Common prefix of the candidates (one per line). */
        const char *c = sp_buf_str(&out);
        const char *first = c;
        size_t flen = strcspn(first, "\n");
        size_t common = flen;
        const char *p = first;
        while (*p) {
            size_t l = strcspn(p, "\n");
            size_t k = 0;
            while (k < common && k < l && p[k] == first[k])
                k++;
            common = k;
            p += l;
            if (*p == '\n')
                p++;
        }
        if (common >= wlen) {
            struct sp_buf rep;
            sp_buf_init(&rep);
            sp_buf_append(&rep, first, common);
            /* A word ending in ':' (delim:, fixed:, tcp:, state:) wants
             * its value next, not a space. */
            if (n == 1 && !(common > 0 && first[common - 1] == ':'))
                sp_buf_appendc(&rep, ' ');
            /* Replace the word: delete it, then insert the completion. */
            struct sp_buf line;
            sp_buf_init(&line);
            sp_buf_append(&line, s, ws);
            sp_buf_append(&line, rep.data, rep.len);
            sp_buf_appends(&line, s + e->cur);
            size_t cur = ws + rep.len;
            ui_edit_set(e, sp_buf_str(&line));
            e->cur = cur;
            sp_buf_cleanup(&line);
            sp_buf_cleanup(&rep);
        }
        if (n > 1) {
            for (const char *q = c; *q; q++)
                sp_buf_appendc(&t->completions, *q == '\n' ? ' ' : (unsigned char)*q);
        }
    }
    free(upto);
    sp_buf_cleanup(&out);
}

int ui_prompt_key(struct sp_tui *t, int key)
{
    switch (key) {
    case '\n':
    case '\r':
    case UI_KEY(KEY_ENTER): {
        const char *line = sp_buf_str(&t->prompt.text);
        if (line[0]) {
            sp_cmdq_push(t->q, line, "prompt");
            t->status.len = 0;
            ui_edit_remember(&t->prompt);
        }
        t->mode = UI_MODE_NORMAL;
        sp_buf_reset(&t->completions);
        return UI_HANDLED | UI_REDRAW;
    }
    case UI_ESC:
    case UI_CTRL('c'):
        t->mode = UI_MODE_NORMAL;
        sp_buf_reset(&t->completions);
        return UI_HANDLED | UI_REDRAW;
    case '\t':
        complete(t);
        return UI_HANDLED | UI_REDRAW;
    case UI_KEY(KEY_BACKSPACE):
    case 127:
    case UI_CTRL('h'):
        if (t->prompt.text.len == 0) {
            t->mode = UI_MODE_NORMAL;
            return UI_HANDLED | UI_REDRAW;
        }
        /* fall through */
    default:
        sp_buf_reset(&t->completions);
        return ui_edit_key(&t->prompt, key);
    }
}

/* The status row: the prompt while typing, else the latest message, else
 * the standing hint (demo), else what the command queue is doing. */
void ui_status_draw(struct sp_tui *t)
{
    int y = t->status_y;
    ui_fill(t, y, 0, t->cols, UI_R_NORMAL);
    if (t->mode == UI_MODE_PROMPT) {
        ui_put(t, y, 0, 1, UI_R_KEY, ":");
        int cx = ui_edit_draw(t, &t->prompt, y, 1, t->cols - 1, UI_R_NORMAL);
        t->cur_y = y;
        t->cur_x = cx < t->cols ? cx : t->cols - 1;
        return;
    }
    uint64_t age = ui_now_ms() - t->status_ms;
    uint64_t keep = t->status_role == UI_R_ERROR ? STATUS_ERROR_MS : STATUS_INFO_MS;
    int x = 0;
    if (!sp_cmdq_idle(t->q))
        x += ui_put(t, y, 0, t->cols, UI_R_WARN, "[running] ");
    if (t->status.len && age < keep)
        ui_putn(t, y, x, t->cols - x, t->status_role, sp_buf_str(&t->status), t->status.len);
    else if (t->hint.len)
        ui_putn(t, y, x, t->cols - x, UI_R_TITLE, sp_buf_str(&t->hint), t->hint.len);
}
