/* The command queue: lines run one after the other; a command that waits
 * (connect, wait, expect, sleep, delayed sends) holds the queue until it
 * finishes. Also the dispatch of one line (split, find the command, sort
 * options from arguments, exec) and the event subscriptions the commands
 * need: lifecycle events always, data events only while something uses them
 * (an expect tap or a waiting command), so a run without them costs nothing
 * per recv. */
#include "cmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/engine/engine.h"

#define MASK_LIFE (SP_EV_MASK_ALL & ~SP_EV_MASK_DATA)

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    memcpy(p, s, n);
    return p;
}

void cmd__out(struct sp_cmdq *q, const char *line)
{
    if (q->hooks.output != NULL)
        q->hooks.output(q->ud, line);
}

/* Publishes a cmd_error for the line as written. */
static void report(struct sp_cmdq *q, const char *line, const char *origin, const char *msg)
{
    char text[CMD_ERR_MAX + 128];
    snprintf(text, sizeof text, "%s: %s", origin != NULL ? origin : "command", msg);
    struct sp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SP_EV_CMD_ERROR;
    ev.t_ns = sp_engine_now_ns(q->eng);
    ev.unread = -1;
    ev.line = line;
    ev.message = text;
    sp_engine_emit(q->eng, &ev);
}

void cmd__drop_queue(struct sp_cmdq *q)
{
    while (q->head != NULL) {
        struct cmd_line *l = q->head;
        q->head = l->next;
        free(l->line);
        free(l->origin);
        free(l);
    }
    q->tail = NULL;
}

/* Counts a failure; without keep-going the lines still queued are dropped. */
static void failed(struct sp_cmdq *q)
{
    q->failures++;
    if (q->keep_going)
        return;
    cmd__drop_queue(q);
    q->stopped = 1;
}

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

/* Runs one line; CMD_OK, CMD_FAIL (reported here) or CMD_PENDING. */
static int run_line(struct sp_cmdq *q, const char *line, const char *origin)
{
    struct cmd_split *sp = malloc(sizeof *sp);
    struct cmd_ctx *c = calloc(1, sizeof *c);
    struct cmd_word synth[CMD_OPTS_MAX];
    if (sp == NULL || c == NULL)
        abort();
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
        report(q, line, origin, msg);
    }
    cmd__split_cleanup(sp);
    free(sp);
    free(c);
    return r;
}

static void kick(struct sp_cmdq *q);

static void run(struct sp_cmdq *q)
{
    if (q->in_run)
        return;
    q->in_run = 1;
    while (q->pend.kind == PEND_NONE && q->head != NULL) {
        struct cmd_line *l = q->head;
        q->head = l->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->cur_line = l->line;
        q->cur_origin = l->origin;
        free(l);
        int r = run_line(q, q->cur_line, q->cur_origin);
        if (r == CMD_PENDING && q->pend.kind != PEND_NONE) {
            cmd__update_subs(q);
            break;
        }
        free(q->cur_line);
        free(q->cur_origin);
        q->cur_line = q->cur_origin = NULL;
        if (r == CMD_FAIL)
            failed(q);
    }
    q->in_run = 0;
    if (q->pend.kind == PEND_NONE && q->head == NULL) {
        int stopped = q->stopped;
        q->stopped = 0;
        if (q->idle_cb != NULL)
            q->idle_cb(q->idle_ud, stopped);
    }
}

static void kick_cb(void *ud)
{
    struct sp_cmdq *q = ud;
    sp_watch_stop(q->kick);
    q->kick = NULL;
    run(q);
}

/* Runs the queue on the next loop iteration, never from inside a socket
 * callback (commands call back into the engine). */
static void kick(struct sp_cmdq *q)
{
    if (q->kick == NULL)
        q->kick = sp_engine_watch_timer(q->eng, 0, 0, kick_cb, q);
}

void cmd__finish(struct sp_cmdq *q, int ok, const char *msg)
{
    if (q->pend.kind == PEND_NONE)
        return;
    cmd__pending_clear(q);
    if (!ok) {
        report(q, q->cur_line != NULL ? q->cur_line : "", q->cur_origin, msg);
        failed(q);
    }
    free(q->cur_line);
    free(q->cur_origin);
    q->cur_line = q->cur_origin = NULL;
    cmd__update_subs(q);
    kick(q);
}

/* Expect's tap ---------------------------------------------------------- */

struct cmd_tap *cmd__tap(struct sp_cmdq *q, uint32_t id)
{
    if (id == 0)
        return NULL;
    if (id >= q->ntaps) {
        size_t n = q->ntaps ? q->ntaps : 16;
        while (n <= id)
            n *= 2;
        struct cmd_tap **t = realloc(q->taps, n * sizeof *t);
        if (t == NULL)
            abort();
        memset(t + q->ntaps, 0, (n - q->ntaps) * sizeof *t);
        q->taps = t;
        q->ntaps = n;
    }
    if (q->taps[id] == NULL) {
        q->taps[id] = calloc(1, sizeof **q->taps);
        if (q->taps[id] == NULL)
            abort();
    }
    return q->taps[id];
}

void cmd__tap_store(struct sp_cmdq *q, const struct sp_event *ev)
{
    if (ev->type == SP_EV_RECV) {
        /* Under raw, recv chunks are what expect compares; under a framing
         * it takes messages. */
        struct sp_sock_info info;
        if (sp_engine_sock_info(q->eng, ev->sock, &info) != 0 || info.spec.kind != SP_FRAME_RAW)
            return;
    }
    struct cmd_tap *t = cmd__tap(q, ev->sock);
    size_t n = ev->data != NULL ? ev->data_len : 0;
    /* Once one is lost, later ones are too until an expect has reported the
     * gap: expect must never silently skip a message. */
    if (t->lost > 0 || t->count >= CMD_TAP_ITEMS_MAX || t->bytes + n > CMD_TAP_BYTES_MAX ||
        q->tap_bytes + n > CMD_TAP_GLOBAL_MAX) {
        t->lost++;
        return;
    }
    struct cmd_item *it = malloc(sizeof *it + n);
    if (it == NULL)
        abort();
    it->next = NULL;
    it->seq = ev->seq;
    it->is_msg = ev->type == SP_EV_MSG;
    it->len = ev->len;
    it->data_len = n;
    if (n > 0)
        memcpy(it->data, ev->data, n);
    if (t->tail != NULL)
        t->tail->next = it;
    else
        t->head = it;
    t->tail = it;
    t->count++;
    t->bytes += n;
    q->tap_bytes += n;
}

static void taps_free(struct sp_cmdq *q)
{
    for (size_t i = 0; i < q->ntaps; i++) {
        struct cmd_tap *t = q->taps[i];
        if (t == NULL)
            continue;
        while (t->head != NULL) {
            struct cmd_item *it = t->head;
            t->head = it->next;
            free(it);
        }
        free(t);
    }
    free(q->taps);
    q->taps = NULL;
    q->ntaps = 0;
}

/* Subscriptions ---------------------------------------------------------- */

static void on_event(void *ud, const struct sp_event *ev)
{
    struct sp_cmdq *q = ud;
    if (q->tap_on && (ev->type == SP_EV_RECV || ev->type == SP_EV_MSG))
        cmd__tap_store(q, ev);
    if (ev->type == SP_EV_CLOSED && ev->sock != 0 && q->tap_on)
        cmd__tap(q, ev->sock)->closed = 1;
    if (q->pend.kind != PEND_NONE)
        cmd__pending_event(q, ev);
}

void cmd__update_subs(struct sp_cmdq *q)
{
    int need = q->tap_on || cmd__pending_needs_data(q);
    if (need && q->sub_data <= 0)
        q->sub_data = sp_engine_subscribe(q->eng, SP_EV_MASK_DATA, on_event, q);
    else if (!need && q->sub_data > 0) {
        sp_engine_unsubscribe(q->eng, q->sub_data);
        q->sub_data = 0;
    }
}

/* Public API ------------------------------------------------------------- */

struct sp_cmdq *sp_cmdq_new(struct sp_engine *eng, const struct sp_cmd_hooks *hooks, void *ud)
{
    struct sp_cmdq *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->eng = eng;
    if (hooks != NULL)
        q->hooks = *hooks;
    q->ud = ud;
    sp_buf_init(&q->pend.data);
    /* The tap starts at once so that `expect` sees messages that arrived
     * before it ran, from the first socket on. */
    q->tap_on = 1;
    q->sub_life = sp_engine_subscribe(eng, MASK_LIFE, on_event, q);
    cmd__update_subs(q);
    return q;
}

void sp_cmdq_free(struct sp_cmdq *q)
{
    if (q == NULL)
        return;
    cmd__pending_clear(q);
    sp_buf_cleanup(&q->pend.data);
    if (q->kick != NULL)
        sp_watch_stop(q->kick);
    if (q->sub_life > 0)
        sp_engine_unsubscribe(q->eng, q->sub_life);
    if (q->sub_data > 0)
        sp_engine_unsubscribe(q->eng, q->sub_data);
    cmd__lab_free(q->lab);
    q->lab = NULL;
    cmd__logs_free(q);
    taps_free(q);
    cmd__drop_queue(q);
    free(q->cur_line);
    free(q->cur_origin);
    free(q);
}

/* Does line run command name (by the prefix rules)? */
int sp_cmd_line_is(const char *line, const char *name)
{
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

void sp_cmdq_push(struct sp_cmdq *q, const char *line, const char *origin)
{
    if (q->lazy_tap && !q->tap_on &&
        (sp_cmd_line_is(line, "expect") || sp_cmd_line_is(line, "lab"))) {
        q->tap_on = 1;
        cmd__update_subs(q);
    }
    struct cmd_line *l = malloc(sizeof *l);
    if (l == NULL)
        abort();
    l->next = NULL;
    l->line = xstrdup(line);
    l->origin = xstrdup(origin != NULL ? origin : "command");
    /* A trailing newline or CR (from a script read with fgets) is not part
     * of the line as written. */
    size_t n = strlen(l->line);
    while (n > 0 && (l->line[n - 1] == '\n' || l->line[n - 1] == '\r'))
        l->line[--n] = '\0';
    if (q->tail != NULL)
        q->tail->next = l;
    else
        q->head = l;
    q->tail = l;
    kick(q);
}

void cmd__push_front(struct sp_cmdq *q, const char *const *lines, size_t n, const char *origin)
{
    for (size_t i = n; i-- > 0;) {
        struct cmd_line *l = malloc(sizeof *l);
        if (l == NULL)
            abort();
        char o[128];
        snprintf(o, sizeof o, "%s:%zu", origin, i + 1);
        l->line = xstrdup(lines[i]);
        l->origin = xstrdup(o);
        l->next = q->head;
        q->head = l;
        if (q->tail == NULL)
            q->tail = l;
    }
    kick(q);
}

int sp_cmdq_idle(const struct sp_cmdq *q)
{
    return q->pend.kind == PEND_NONE && q->head == NULL && !q->in_run;
}

unsigned sp_cmdq_failures(const struct sp_cmdq *q)
{
    return q->failures;
}

void sp_cmdq_set_keep_going(struct sp_cmdq *q, int on)
{
    q->keep_going = on;
}

void sp_cmdq_on_idle(struct sp_cmdq *q, void (*cb)(void *ud, int failed), void *ud)
{
    q->idle_cb = cb;
    q->idle_ud = ud;
}

void sp_cmdq_set_lazy_tap(struct sp_cmdq *q, int on)
{
    q->lazy_tap = on;
    if (on && q->tap_on && q->ntaps == 0) {
        q->tap_on = 0;
        cmd__update_subs(q);
    }
}
