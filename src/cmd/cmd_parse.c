/* Parsing a command line: words with their columns, options anywhere, the
 * [ID] rule, numbers and data words. Nothing here touches a socket, which is
 * what makes "a bad line changes nothing" hold: every word is checked before
 * a command calls the engine. */
#include "cmd_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/engine/engine.h"
#include "sockpit/proto/escape.h"

void cmd__split_init(struct cmd_split *sp)
{
    memset(sp, 0, sizeof *sp);
    sp_buf_init(&sp->text);
}

void cmd__split_cleanup(struct cmd_split *sp)
{
    sp_buf_cleanup(&sp->text);
    free(sp->cols);
    memset(sp, 0, sizeof *sp);
}

static void push_col(void *ctx, size_t col)
{
    struct cmd_split *sp = ctx;
    if (sp->ncols == sp->capcols) {
        size_t cap = sp->capcols ? sp->capcols * 2 : 64;
        sp->cols = sp_xreallocarray(sp->cols, cap, sizeof *sp->cols);
        sp->capcols = cap;
    }
    sp->cols[sp->ncols++] = col;
}

/* sp_split_words(), recording where each byte came from: cols runs
 * parallel to text, so a word's cols start at its offset in text. A word's
 * terminator gets the column past it: "missing ..." errors point there. */
int cmd__split(struct cmd_split *sp, const char *line, size_t *errcol, char *err, size_t errlen)
{
    struct sp_word ws[CMD_WORDS_MAX];
    sp_buf_reset(&sp->text);
    sp->ncols = 0;
    sp->n = 0;
    int n = sp_split_words(line, &sp->text, ws, CMD_WORDS_MAX, push_col, sp, errcol);
    if (n < 0) {
        if (n == SP_SPLIT_TOO_MANY)
            snprintf(err, errlen, "too many words (at most %d)", CMD_WORDS_MAX);
        else
            snprintf(err, errlen, "unterminated quote");
        return -1;
    }
    for (int k = 0; k < n; k++) {
        struct cmd_word *w = &sp->words[k];
        memset(w, 0, sizeof *w);
        w->s = (const char *)sp->text.data + ws[k].start;
        w->len = ws[k].len;
        w->col = ws[k].col;
        w->cols_at = ws[k].start;
        w->quoted = ws[k].quoted;
    }
    sp->n = n;
    return n;
}

size_t cmd__word_col(const struct cmd_split *sp, const struct cmd_word *w, size_t i)
{
    if (i > w->len)
        i = w->len;
    /* Synthetic words (the value of --opt=value) keep their own offset. */
    return sp->cols[w->cols_at + i];
}

int cmd__fail(struct cmd_ctx *c, const struct cmd_word *w, size_t i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->errcol = w != NULL ? cmd__word_col(c->sp, w, i) : SIZE_MAX;
    return CMD_FAIL;
}

const struct cmd_word *cmd__opt(const struct cmd_ctx *c, const char *name)
{
    if (c->ent->opts == NULL)
        return NULL;
    for (size_t i = 0; c->ent->opts[i].name != NULL && i < CMD_OPTS_MAX; i++)
        if (strcmp(c->ent->opts[i].name, name) == 0)
            return c->optv[i];
    return NULL;
}

int cmd__nargs(const struct cmd_ctx *c)
{
    return c->argc - c->arg0;
}

const struct cmd_word *cmd__arg(const struct cmd_ctx *c, int i)
{
    if (i < 0 || c->arg0 + i >= c->argc)
        return NULL;
    return c->argv[c->arg0 + i];
}

int cmd__is(const struct cmd_word *w, const char *s)
{
    return w != NULL && strcmp(w->s, s) == 0;
}

static int all_digits(const struct cmd_word *w)
{
    if (w->len == 0 || w->len > 10)
        return 0;
    for (size_t i = 0; i < w->len; i++)
        if (w->s[i] < '0' || w->s[i] > '9')
            return 0;
    return 1;
}

/* How an ID is written: unquoted decimal digits without a leading zero. */
static int plain_number(const struct cmd_word *w)
{
    return !w->quoted && all_digits(w) && w->s[0] != '0';
}

/* The current socket: the front end's, else the script's, else the newest. */
static int current_id(struct cmd_ctx *c, uint32_t *id)
{
    uint32_t cur = c->q->hooks.current != NULL ? c->q->hooks.current(c->q->ud) : 0;
    if (cur == 0)
        cur = c->q->current;
    if (cur == 0)
        cur = sp_engine_last_id(c->eng);
    if (cur == 0)
        return cmd__fail(c, NULL, 0, "no socket yet: create one with listen, connect or bind");
    *id = cur;
    return 0;
}

/* Takes the first positional word w as the ID: it must name a socket. */
static int take_word(struct cmd_ctx *c, const struct cmd_word *w, uint32_t *id)
{
    uint64_t v = 0;
    size_t pos;
    struct sp_sock_info info;
    if (sp_parse_u64(w->s, w->len, 0, &v, &pos) != 0 || v == 0 || v > UINT32_MAX)
        return cmd__fail(c, w, 0, "no socket %s (see `list`)", w->s);
    if (cmd__sock_info(c, w, (uint32_t)v, &info) != 0)
        return CMD_FAIL;
    c->arg0++;
    *id = (uint32_t)v;
    return 0;
}

int cmd__take_id(struct cmd_ctx *c, int min_rest, uint32_t *id)
{
    const struct cmd_word *w = cmd__arg(c, 0);
    if (w != NULL && !w->quoted && all_digits(w) && cmd__nargs(c) > min_rest) {
        /* "01" is refused rather than read as socket 1: in data it is a
         * byte, and an ID is never written that way. */
        if (w->s[0] == '0')
            return cmd__fail(
                c, w, 0, "\"%s\" is not a socket ID: IDs have no leading zeros (see `list`)", w->s);
        return take_word(c, w, id);
    }
    return current_id(c, id);
}

int cmd__take_data_id(struct cmd_ctx *c, int min_rest, uint32_t *id)
{
    const struct cmd_word *hex = cmd__opt(c, "--hex");
    const struct cmd_word *w = cmd__arg(c, 0);
    if (hex == NULL) {
        if (w != NULL && plain_number(w) && cmd__nargs(c) > min_rest)
            return take_word(c, w, id);
        return current_id(c, id);
    }
    /* Every word after --hex is data, whatever it looks like; only an ID
     * may stand before the flag. */
    int before = 0;
    while (before < cmd__nargs(c) && cmd__arg(c, before)->col < hex->col)
        before++;
    if (before > 1 || (before == 1 && !plain_number(w)))
        return cmd__fail(c, cmd__arg(c, before > 1 ? 1 : 0), 0,
                         "with --hex, the data goes after --hex and only an ID before it "
                         "(%s [ID] --hex DATA...)",
                         c->ent->name);
    if (before == 1)
        return take_word(c, w, id);
    return current_id(c, id);
}

int cmd__number(struct cmd_ctx *c, const struct cmd_word *w, uint64_t lo, uint64_t hi, int suffixes,
                uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    switch (sp_parse_u64(w->s, w->len, suffixes, &v, &i)) {
    case SP_NUM_EMPTY:
        return cmd__fail(c, w, 0, "a number is missing");
    case SP_NUM_TOO_LARGE:
        return cmd__fail(c, w, i, "number too large (at most %llu)", (unsigned long long)hi);
    case SP_NUM_NOT_DIGIT:
        if (i == 0)
            return cmd__fail(c, w, 0, "not a number: \"%.40s\"", w->s);
        return cmd__fail(c, w, i, "unexpected \"%c\" in a number%s", w->s[i],
                         suffixes ? " (suffixes: K, M)" : "");
    default:
        break;
    }
    if (v < lo || v > hi)
        return cmd__fail(c, w, 0, "%s is out of range (%llu .. %llu)", w->s, (unsigned long long)lo,
                         (unsigned long long)hi);
    *out = v;
    return 0;
}

int cmd__data(struct cmd_ctx *c, const struct cmd_word *w, int hex, struct sp_buf *out)
{
    char err[160];
    size_t pos = 0;
    int r;
    if (memchr(w->s, '$', w->len) != NULL)
        r = cmd__expand(w->s, w->len, hex, cmd__var_resolve, c->q, out, &pos, err, sizeof err);
    else if (hex)
        r = sp_hex_parse(w->s, w->len, out, &pos, err, sizeof err);
    else
        r = sp_unescape(w->s, w->len, out, &pos, err, sizeof err);
    if (r == 0)
        return 0;
    /* The parser counts columns inside the word; ours are the line's. */
    char *at = strstr(err, " at column ");
    if (at != NULL)
        *at = '\0';
    if (hex && plain_number(w))
        return cmd__fail(c, w, pos, "%s; a socket ID goes before --hex (%s %.*s --hex ...)", err,
                         c->ent->name, (int)w->len, w->s);
    return cmd__fail(c, w, pos, "%s", err);
}

int cmd__sock_info(struct cmd_ctx *c, const struct cmd_word *w, uint32_t id,
                   struct sp_sock_info *in)
{
    if (sp_engine_sock_info(c->eng, id, in) == 0)
        return 0;
    if (sp_engine_sock_forgotten(c->eng, id))
        return cmd__fail(c, w, 0,
                         "socket %u was closed and forgotten (the last %zu closed sockets are "
                         "kept: set keep-closed N)",
                         (unsigned)id, sp_engine_keep_closed(c->eng));
    return cmd__fail(c, w, 0, "no socket %u (see `list`)", (unsigned)id);
}

int cmd__want_args(struct cmd_ctx *c, int lo, int hi)
{
    int n = cmd__nargs(c);
    if (n < lo)
        return cmd__fail(c, NULL, 0, "missing arguments; usage: %s", c->ent->usage);
    if (n > hi)
        return cmd__fail(c, cmd__arg(c, hi), 0, "too many arguments; usage: %s", c->ent->usage);
    return 0;
}
