/* The command queue: lines run one after the other (each by cmd_run.c); a
 * command that waits (connect, wait, expect, sleep, delayed sends) holds the
 * queue until it finishes. Also expect's taps and the event subscriptions
 * the commands need: lifecycle events always, data events only while
 * something uses them (an expect tap or a waiting command), so a run without
 * them costs nothing per recv. */
#include "cmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/engine/engine.h"

/* 20 ms: long enough that a script's lines cost little more than run in
 * one go, short enough that the loop never looks stuck. */
#define RUN_SLICE_NS (20u * 1000 * 1000)

#define MASK_LIFE (SP_EV_MASK_ALL & ~SP_EV_MASK_DATA)

void cmd__out(struct sp_cmdq *q, const char *line)
{
    if (q->hooks.output != NULL)
        q->hooks.output(q->ud, line);
}

void cmd__report(struct sp_cmdq *q, const char *line, const char *origin, const char *msg)
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
    ev.expected = q->may_fail;
    sp_engine_emit(q->eng, &ev);
}

void cmd__drop_queue(struct sp_cmdq *q)
{
    struct cmd_line *l;
    while ((l = TAILQ_FIRST(&q->lines)) != NULL) {
        TAILQ_REMOVE(&q->lines, l, entry);
        free(l->line);
        free(l->origin);
        free(l);
    }
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

static void kick(struct sp_cmdq *q, uint64_t ms);

/* Runs the lines waiting, in order, until one has to wait. A long script is
 * run in slices of RUN_SLICE_NS with the loop going in between, so that
 * signals, --timeout and the sockets are served within moments whatever the
 * script holds. */
static void run(struct sp_cmdq *q)
{
    if (q->in_run)
        return;
    q->in_run = 1;
    uint64_t start = sp_engine_now_ns(q->eng);
    while (q->pend.kind == PEND_NONE && !TAILQ_EMPTY(&q->lines)) {
        if (sp_engine_now_ns(q->eng) - start >= RUN_SLICE_NS) {
            /* Not 0 ms: libuv runs a timer that is due at once in the
             * same timer phase, before any I/O or signal is looked at. */
            kick(q, 1);
            break;
        }
        struct cmd_line *l = TAILQ_FIRST(&q->lines);
        TAILQ_REMOVE(&q->lines, l, entry);
        q->cur_line = l->line;
        q->cur_origin = l->origin;
        free(l);
        int r = cmd__run_line(q, q->cur_line, q->cur_origin);
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
    if (q->pend.kind == PEND_NONE && TAILQ_EMPTY(&q->lines)) {
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

/* Runs the queue on the next loop iteration (or ms later), never from
 * inside a socket callback (commands call back into the engine). */
static void kick(struct sp_cmdq *q, uint64_t ms)
{
    if (q->kick == NULL)
        q->kick = sp_engine_watch_timer(q->eng, ms, 0, kick_cb, q);
}

void cmd__finish(struct sp_cmdq *q, int ok, const char *msg)
{
    if (q->pend.kind == PEND_NONE)
        return;
    cmd__pending_clear(q);
    if (!ok) {
        cmd__report(q, q->cur_line != NULL ? q->cur_line : "", q->cur_origin, msg);
        failed(q);
    }
    free(q->cur_line);
    free(q->cur_origin);
    q->cur_line = q->cur_origin = NULL;
    cmd__update_subs(q);
    kick(q, 0);
}

/* Index of the first tap with an id >= id. */
static size_t tap_find(const struct sp_cmdq *q, uint32_t id)
{
    size_t lo = 0, hi = q->ntaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q->taps[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void tap_free(struct sp_cmdq *q, struct cmd_tap *t)
{
    struct cmd_item *it;
    while ((it = TAILQ_FIRST(&t->items)) != NULL) {
        TAILQ_REMOVE(&t->items, it, entry);
        q->tap_bytes -= it->data_len;
        free(it);
    }
    free(t);
}

/* Is this tap worth keeping? Not once the engine forgot its socket, nor for
 * a closed socket with nothing taken and nothing waiting. */
static int tap_needed(struct sp_cmdq *q, const struct cmd_tap *t)
{
    struct sp_sock_info in;
    if (sp_engine_sock_info(q->eng, t->id, &in) != 0)
        return 0;
    return in.open || in.connecting || !TAILQ_EMPTY(&t->items) || t->lost > 0 ||
           t->accepted_taken > 0 || t->cursor > 0;
}

/* Drops the taps no longer needed, so that a long run keeps as many as the
 * engine keeps sockets, not one per socket ever made. Runs when the count
 * doubled since the last sweep. */
static void taps_sweep(struct sp_cmdq *q)
{
    size_t j = 0;
    for (size_t i = 0; i < q->ntaps; i++) {
        if (tap_needed(q, q->taps[i]))
            q->taps[j++] = q->taps[i];
        else
            tap_free(q, q->taps[i]);
    }
    q->ntaps = j;
    q->taps_swept = j;
}

struct cmd_tap *cmd__tap(struct sp_cmdq *q, uint32_t id)
{
    if (id == 0)
        return NULL;
    size_t i = tap_find(q, id);
    if (i < q->ntaps && q->taps[i]->id == id)
        return q->taps[i];
    if (q->ntaps >= 64 && q->ntaps >= 2 * q->taps_swept) {
        taps_sweep(q);
        i = tap_find(q, id);
    }
    if (q->ntaps == q->captaps) {
        q->captaps = q->captaps ? q->captaps * 2 : 16;
        q->taps = sp_xreallocarray(q->taps, q->captaps, sizeof *q->taps);
    }
    struct cmd_tap *t = sp_xcalloc(1, sizeof *t);
    t->id = id;
    TAILQ_INIT(&t->items);
    memmove(q->taps + i + 1, q->taps + i, (q->ntaps - i) * sizeof *q->taps);
    q->taps[i] = t;
    q->ntaps++;
    return t;
}

static void tap_store(struct sp_cmdq *q, const struct sp_event *ev)
{
    /* Under raw, recv chunks are what expect compares; under a framing it
     * takes messages. */
    if (ev->type == SP_EV_RECV && (ev->framed || ev->seq == 0))
        return; /* seq 0: a peek or the urgent byte, not a chunk of the stream */
    struct cmd_tap *t = cmd__tap(q, ev->sock);
    size_t n = ev->data != NULL ? ev->data_len : 0;
    /* Once one is lost, later ones are too until an expect has reported the
     * gap: expect must never silently skip a message. */
    if (t->lost > 0 || t->count >= CMD_TAP_ITEMS_MAX || t->bytes + n > CMD_TAP_BYTES_MAX ||
        q->tap_bytes + n > CMD_TAP_GLOBAL_MAX) {
        t->lost++;
        return;
    }
    struct cmd_item *it = sp_xmalloc(sizeof *it + n);
    it->t_ns = ev->t_ns;
    it->send_ns = t->last_send_ns;
    it->send_seq = t->last_send_seq;
    it->seq = ev->seq;
    it->is_msg = ev->type == SP_EV_MSG;
    it->len = ev->len;
    it->data_len = n;
    if (n > 0)
        memcpy(it->data, ev->data, n);
    TAILQ_INSERT_TAIL(&t->items, it, entry);
    t->count++;
    t->bytes += n;
    q->tap_bytes += n;
}

static void taps_free(struct sp_cmdq *q)
{
    for (size_t i = 0; i < q->ntaps; i++)
        tap_free(q, q->taps[i]);
    free(q->taps);
    q->taps = NULL;
    q->ntaps = q->captaps = 0;
}

static void on_event(void *ud, const struct sp_event *ev)
{
    struct sp_cmdq *q = ud;
    if (q->tap_on && (ev->type == SP_EV_RECV || ev->type == SP_EV_MSG))
        tap_store(q, ev);
    else if (q->tap_on && ev->type == SP_EV_SEND && ev->sock != 0) {
        /* expect --within and the expect event measure from our last send. */
        struct cmd_tap *t = cmd__tap(q, ev->sock);
        t->last_send_ns = ev->t_ns;
        t->last_send_seq = ev->seq;
    }
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
    /* Only the tap reads payloads (and keeps at most CMD_TAP_BYTES_MAX of
     * a socket's); waits only count, expect over history reads the
     * history. */
    if (q->sub_data > 0)
        sp_engine_sub_data_max(q->eng, q->sub_data, q->tap_on ? CMD_TAP_BYTES_MAX : 0);
}

struct sp_cmdq *sp_cmdq_new(struct sp_engine *eng, const struct sp_cmd_hooks *hooks, void *ud)
{
    struct sp_cmdq *q = sp_xcalloc(1, sizeof *q);
    q->eng = eng;
    if (hooks != NULL)
        q->hooks = *hooks;
    q->ud = ud;
    TAILQ_INIT(&q->lines);
    TAILQ_INIT(&q->logs);
    sp_buf_init(&q->pend.data);
    /* expect takes messages that arrived before it ran: from the engine's
     * history when it keeps one, else from copies the tap starts keeping at
     * once, from the first socket on. */
    q->hist_expect = sp_engine_keeps_history(eng);
    q->tap_on = !q->hist_expect;
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
    cmd__rules_free(q);
    cmd__vars_free(q);
    taps_free(q);
    cmd__drop_queue(q);
    free(q->cur_line);
    free(q->cur_origin);
    free(q);
}

void sp_cmdq_push(struct sp_cmdq *q, const char *line, const char *origin)
{
    if (q->lazy_tap && !q->tap_on && !q->hist_expect &&
        (sp_cmd_line_is(line, "expect") || sp_cmd_line_is(line, "lab"))) {
        q->tap_on = 1;
        cmd__update_subs(q);
    }
    struct cmd_line *l = sp_xmalloc(sizeof *l);
    l->line = sp_xstrdup(line);
    l->origin = sp_xstrdup(origin != NULL ? origin : "command");
    /* A trailing newline or CR (from a script read with fgets) is not part
     * of the line as written. */
    size_t n = strlen(l->line);
    while (n > 0 && (l->line[n - 1] == '\n' || l->line[n - 1] == '\r'))
        l->line[--n] = '\0';
    TAILQ_INSERT_TAIL(&q->lines, l, entry);
    kick(q, 0);
}

int sp_cmdq_idle(const struct sp_cmdq *q)
{
    return q->pend.kind == PEND_NONE && TAILQ_EMPTY(&q->lines) && !q->in_run;
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
