/* The match options shared by expect and on: exact DATA (the default),
 * --prefix, --contains, --regex RE, --hex-mask MASK, and --capture, which
 * names the regex groups that become variables. Everything is checked here,
 * before any socket is touched: a bad regex or mask fails the line. */
#include "cmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --capture NAME[=N][,NAME[=N]...]: without =N the k-th name takes group k. */
static int parse_captures(struct cmd_ctx *c, const struct cmd_word *w, struct cmd_matchspec *ms)
{
    size_t i = 0;
    while (i <= w->len) {
        size_t end = i;
        while (end < w->len && w->s[end] != ',')
            end++;
        const char *eq = memchr(w->s + i, '=', end - i);
        size_t nend = eq != NULL ? (size_t)(eq - w->s) : end;
        if (ms->ncaps >= SP_MATCH_GROUPS)
            return cmd__fail(c, w, i, "at most %d captures", SP_MATCH_GROUPS);
        if (!cmd__var_name_ok(w->s + i, nend - i))
            return cmd__fail(c, w, i,
                             "bad capture name (letters, digits, _; at most %d characters): "
                             "--capture NAME[=GROUP],...",
                             CMD_VAR_NAME_MAX);
        int group = ms->ncaps + 1;
        if (eq != NULL) {
            if (end - nend != 2 || w->s[nend + 1] < '0' || w->s[nend + 1] > '9')
                return cmd__fail(c, w, nend + 1, "a capture group is one digit, 0 .. 9");
            group = w->s[nend + 1] - '0';
        }
        if ((size_t)group > ms->m.groups)
            return cmd__fail(c, w, i, "the regex has %zu group%s: no group %d to capture",
                             ms->m.groups, ms->m.groups == 1 ? "" : "s", group);
        for (int k = 0; k < ms->ncaps; k++)
            if (strlen(ms->capname[k]) == nend - i &&
                memcmp(ms->capname[k], w->s + i, nend - i) == 0)
                return cmd__fail(c, w, i, "capture %.*s named twice", (int)(nend - i), w->s + i);
        memcpy(ms->capname[ms->ncaps], w->s + i, nend - i);
        ms->capname[ms->ncaps][nend - i] = '\0';
        ms->capgroup[ms->ncaps++] = group;
        i = end + 1;
    }
    return 0;
}

int cmd__match_parse(struct cmd_ctx *c, int from, int to, struct cmd_matchspec *ms)
{
    memset(ms, 0, sizeof *ms);
    const struct cmd_word *prefix = cmd__opt(c, "--prefix");
    const struct cmd_word *contains = cmd__opt(c, "--contains");
    const struct cmd_word *regex = cmd__opt(c, "--regex");
    const struct cmd_word *mask = cmd__opt(c, "--hex-mask");
    const struct cmd_word *hex = cmd__opt(c, "--hex");
    const struct cmd_word *cap = cmd__opt(c, "--capture");
    if (prefix != NULL && contains != NULL)
        return cmd__fail(c, contains, 0, "--prefix or --contains, not both");
    if (regex != NULL && mask != NULL)
        return cmd__fail(c, mask, 0, "--regex or --hex-mask, not both");
    const struct cmd_word *pattern = regex != NULL ? regex : mask;
    if (pattern != NULL && to > from)
        return cmd__fail(c, cmd__arg(c, from), 0, "DATA or %s, not both",
                         regex != NULL ? "--regex" : "--hex-mask");
    if (pattern != NULL && hex != NULL && strcmp(c->ent->name, "on") != 0)
        return cmd__fail(c, hex, 0, "--hex is for DATA, not %s",
                         regex != NULL ? "--regex" : "--hex-mask");
    if (regex != NULL && (prefix != NULL || contains != NULL))
        return cmd__fail(c, prefix != NULL ? prefix : contains, 0,
                         "a regex is searched anywhere: anchor it with ^ and $ instead");
    if (cap != NULL && regex == NULL)
        return cmd__fail(c, cap, 0, "--capture takes a group of --regex");
    enum sp_match_where where = prefix != NULL     ? SP_MATCH_PREFIX
                                : contains != NULL ? SP_MATCH_CONTAINS
                                                   : SP_MATCH_EXACT;
    char err[200];
    if (regex != NULL) {
        if (sp_match_regex(&ms->m, regex->s, regex->len, err, sizeof err) != 0)
            return cmd__fail(c, regex, 0, "%s", err);
        if (cap != NULL && parse_captures(c, cap, ms) != 0) {
            cmd__match_free(ms);
            return -1;
        }
        return 0;
    }
    if (mask != NULL) {
        size_t pos = 0;
        if (sp_match_mask(&ms->m, where, mask->s, mask->len, &pos, err, sizeof err) != 0)
            return cmd__fail(c, mask, pos, "%s", err);
        return 0;
    }
    if (to <= from)
        return cmd__fail(c, NULL, 0, "%s what? DATA, --regex RE or --hex-mask MASK; usage: %s",
                         c->ent->name, c->ent->usage);
    struct sp_buf data;
    sp_buf_init(&data);
    for (int i = from; i < to; i++) {
        if (cmd__data(c, cmd__arg(c, i), hex != NULL, &data) != 0) {
            sp_buf_cleanup(&data);
            return -1;
        }
    }
    sp_match_bytes(&ms->m, where, data.data, data.len);
    sp_buf_cleanup(&data);
    return 0;
}

void cmd__match_free(struct cmd_matchspec *ms)
{
    if (ms != NULL)
        sp_match_free(&ms->m);
}

void cmd__match_cap(const struct cmd_matchspec *ms, int k, const unsigned char *p,
                    const struct sp_match_cap *caps, const unsigned char **v, size_t *vn)
{
    const struct sp_match_cap *g = &caps[ms->capgroup[k]];
    *v = g->so >= 0 ? p + g->so : (const unsigned char *)"";
    *vn = g->so >= 0 ? (size_t)(g->eo - g->so) : 0;
}

void cmd__match_why(struct sp_buf *b, const struct cmd_matchspec *ms)
{
    const struct sp_match *m = &ms->m;
    if (m->kind == SP_MATCH_REGEX) {
        sp_buf_appends(b, "which does not match the regex ");
        sp_match_describe(b, m);
        return;
    }
    sp_buf_appendf(b, "expected %s ", sp_match_mode(m));
    if (m->kind == SP_MATCH_MASK) {
        sp_match_describe(b, m);
        return;
    }
    /* The bytes stay raw (the message is rendered where shown); NUL would
     * end it, so it is spelled, as expect's exact form does. */
    sp_buf_appendc(b, '"');
    for (size_t i = 0; i < m->len && i < 120; i++) {
        if (m->pat[i] == 0)
            sp_buf_appends(b, "\\0");
        else
            sp_buf_appendc(b, m->pat[i]);
    }
    sp_buf_appendc(b, '"');
    if (m->len > 120)
        sp_buf_appendf(b, "... (%zu bytes)", m->len);
}
