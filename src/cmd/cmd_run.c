/* One line of the queue: split it, find the command, sort its options from
 * its arguments, and run the command's exec function. */
#include "cmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sorts the words after the command name into options and positional
 * arguments. Options may stand anywhere; `--` ends them; a quoted word is
 * never an option. */
static int sort_words(struct cmd_ctx *c, struct cmd_word *synth)
{
    const struct cmd_entry *e = c->ent;
    int dashdash = 0;
    size_t nsynth = 0;
    for (int i = 1; i < c->sp->n; i++) {
        const struct cmd_word *w = &c->sp->words[i];
        int optlike = !dashdash && !w->quoted && w->len > 2 && w->s[0] == '-' && w->s[1] == '-';
        if (!dashdash && !w->quoted && cmd__is(w, "--")) {
            dashdash = 1;
            continue;
        }
        if (!optlike || (e->flags & CMD_F_UI)) {
            c->argv[c->argc++] = w;
            continue;
        }
        const char *eq = strchr(w->s, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - w->s) : w->len;
        int found = -1, exact = 0, count = 0;
        for (int k = 0; e->opts != NULL && e->opts[k].name != NULL; k++) {
            const char *on = e->opts[k].name;
            if (strncmp(on, w->s, nlen) != 0)
                continue;
            if (on[nlen] == '\0') {
                found = k;
                exact = 1;
                break;
            }
            found = k;
            count++;
        }
        if (found < 0 || (!exact && count > 1)) {
            char list[256] = "";
            size_t ll = 0;
            for (int k = 0; e->opts != NULL && e->opts[k].name != NULL; k++) {
                if (found >= 0 && strncmp(e->opts[k].name, w->s, nlen) != 0)
                    continue;
                int r =
                    snprintf(list + ll, sizeof list - ll, "%s%s", ll ? " " : "", e->opts[k].name);
                if (r > 0 && (size_t)r < sizeof list - ll)
                    ll += (size_t)r;
            }
            if (found >= 0)
                return cmd__fail(c, w, 0, "ambiguous option \"%.*s\": %s", (int)nlen, w->s, list);
            if (ll == 0)
                return cmd__fail(c, w, 0, "%s takes no options (\"%.*s\"; use -- before data)",
                                 e->name, (int)nlen, w->s);
            return cmd__fail(c, w, 0, "unknown option \"%.*s\" for %s (options: %s)", (int)nlen,
                             w->s, e->name, list);
        }
        const struct cmd_opt *o = &e->opts[found];
        if (c->optv[found] != NULL)
            return cmd__fail(c, w, 0, "%s given twice", o->name);
        if (o->arg == NULL) {
            if (eq != NULL)
                return cmd__fail(c, w, nlen, "%s takes no value", o->name);
            c->optv[found] = w;
            continue;
        }
        if (eq != NULL) {
            struct cmd_word *v = &synth[nsynth++];
            v->s = eq + 1;
            v->len = w->len - nlen - 1;
            v->cols_at = w->cols_at + nlen + 1;
            v->col = cmd__word_col(c->sp, w, nlen + 1);
            v->quoted = w->quoted;
            c->optv[found] = v;
            continue;
        }
        if (i + 1 >= c->sp->n)
            return cmd__fail(c, w, w->len, "%s needs a value (%s)", o->name, o->arg);
        c->optv[found] = &c->sp->words[++i];
    }
    if (c->argc < e->min_args)
        return cmd__fail(c, NULL, 0, "missing arguments; usage: %s", e->usage);
    if (e->max_args >= 0 && c->argc > e->max_args)
        return cmd__fail(c, c->argv[e->max_args], 0, "too many arguments; usage: %s", e->usage);
    return 0;
}

int cmd__run_line(struct sp_cmdq *q, const char *line, const char *origin)
{
    struct cmd_split *sp = sp_xmalloc(sizeof *sp);
    struct cmd_ctx *c = sp_xcalloc(1, sizeof *c);
    struct cmd_word synth[CMD_OPTS_MAX];
    cmd__split_init(sp);
    c->q = q;
    c->eng = q->eng;
    c->line = line;
    c->origin = origin;
    c->sp = sp;
    c->errcol = SIZE_MAX;
    int r;
    if (cmd__split(sp, line, &c->errcol, c->err, sizeof c->err) < 0) {
        r = CMD_FAIL;
    } else if (sp->n == 0) {
        r = CMD_OK;
    } else {
        c->ent = cmd__find(sp->words[0].s, c->err, sizeof c->err);
        if (c->ent == NULL) {
            c->errcol = sp->words[0].col;
            r = CMD_FAIL;
        } else if (sort_words(c, synth) != 0) {
            r = CMD_FAIL;
        } else {
            r = c->ent->exec(c);
        }
    }
    if (r == CMD_FAIL) {
        char msg[CMD_ERR_MAX + 64];
        if (c->errcol != SIZE_MAX)
            snprintf(msg, sizeof msg, "%s at column %zu", c->err, c->errcol + 1);
        else
            snprintf(msg, sizeof msg, "%s", c->err);
        cmd__report(q, line, origin, msg);
    }
    cmd__split_cleanup(sp);
    free(sp);
    free(c);
    return r;
}

/* Does line run command name (by the prefix rules)? */
int sp_cmd_line_is(const char *line, const char *name)
{
    /* The common line starts with a plain word: no need for a full split
     * (front ends ask this of every line of a script). */
    const char *w = line + strspn(line, " \t\r\n");
    size_t n = strcspn(w, " \t\r\n");
    if (n > 0 && n < 32 && w[0] != '#' && memchr(w, '"', n) == NULL && memchr(w, '\\', n) == NULL &&
        memchr(w, '#', n) == NULL) {
        char word[32], err[128];
        memcpy(word, w, n);
        word[n] = '\0';
        const struct cmd_entry *e = cmd__find(word, err, sizeof err);
        return e != NULL && strcmp(e->name, name) == 0;
    }
    struct cmd_split sp;
    size_t col;
    char err[128];
    int r = 0;
    cmd__split_init(&sp);
    if (cmd__split(&sp, line, &col, err, sizeof err) > 0) {
        const struct cmd_entry *e = cmd__find(sp.words[0].s, err, sizeof err);
        r = e != NULL && strcmp(e->name, name) == 0;
    }
    cmd__split_cleanup(&sp);
    return r;
}
