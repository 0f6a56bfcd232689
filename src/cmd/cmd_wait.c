/* Commands that hold the queue: wait, expect, sleep, and the waiting part of
 * connect, listen on a host name and spread-out sends. One command waits at
 * a time (the queue runs lines in order); its condition is re-checked on
 * every event about its socket and failed by a timer. */
#include "cmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sockpit/engine/engine.h"
#include "sockpit/proto/render.h"

#define DEFAULT_TIMEOUT_MS 10000u

static const char *const wait_names[] = {
    [WAIT_CONNECTED] = "connected",
    [WAIT_ACCEPTED] = "accepted",
    [WAIT_RECV] = "recv",
    [WAIT_MSG] = "msg",
    [WAIT_EOF] = "eof",
    [WAIT_CLOSED] = "closed",
    [WAIT_SENT] = "sent",
    [WAIT_STATE] = "state",
    [WAIT_BYTES] = "bytes",
    [WAIT_MSGS] = "msgs",
};

void cmd__pending_clear(struct sp_cmdq *q)
{
    struct cmd_pending *p = &q->pend;
    /* A blocking recv that timed out (or whose line was dropped) must not
     * read later: nobody would be waiting for what it returns. */
    if (p->kind == PEND_RECV)
        sp_engine_recv_cancel(q->eng, p->id);
    if (p->timer != NULL)
        sp_watch_stop(p->timer);
    p->timer = NULL;
    p->kind = PEND_NONE;
    p->id = 0;
    p->n = 0;
    p->timeout_ms = 0;
    p->name[0] = '\0';
    sp_buf_reset(&p->data);
    if (p->ms != NULL) {
        cmd__match_free(p->ms);
        free(p->ms);
        p->ms = NULL;
    }
    p->within_ms = 0;
}

int cmd__pending_needs_data(const struct sp_cmdq *q)
{
    const struct cmd_pending *p = &q->pend;
    if (p->kind == PEND_SEND || p->kind == PEND_EXPECT || p->kind == PEND_RECV)
        return 1;
    if (p->kind != PEND_WAIT)
        return 0;
    return p->what == WAIT_RECV || p->what == WAIT_MSG || p->what == WAIT_BYTES ||
           p->what == WAIT_MSGS || p->what == WAIT_SENT;
}

static int is_closed(const struct sp_sock_info *in)
{
    return !in->open && !in->connecting;
}

/* Appends up to 120 bytes of p for an error message. The bytes stay raw:
 * the message is rendered safe wherever it is shown, and escaping here would
 * show every backslash twice. NUL would end the string, so it is spelled. */
static void show_bytes(struct sp_buf *b, const unsigned char *p, size_t n, uint64_t full)
{
    sp_buf_appendc(b, '"');
    for (size_t i = 0; i < n && i < 120; i++) {
        if (p[i] == 0)
            sp_buf_appends(b, "\\0");
        else
            sp_buf_appendc(b, p[i]);
    }
    sp_buf_appendc(b, '"');
    if (full > 120)
        sp_buf_appendf(b, "... (%llu bytes)", (unsigned long long)full);
}

/* What expect took: a message (or raw chunk), when it came, and our last
 * send before it. data_len < len when only a prefix was kept. */
struct taken {
    int is_msg;
    uint64_t seq, len, t_ns, send_ns, send_seq;
    const unsigned char *data;
    size_t data_len;
};

/* Exact bytes (expect's first form): 1 same, -1 not (reason in msg). */
static int compare_exact(struct sp_cmdq *q, const struct taken *tk, char *msg, size_t msglen)
{
    struct cmd_pending *p = &q->pend;
    if (tk->len == p->data.len && tk->data_len < tk->len &&
        (tk->data_len == 0 || memcmp(tk->data, p->data.data, tk->data_len) == 0)) {
        snprintf(msg, msglen,
                 "expect: %s #%llu has the expected length (%llu bytes) but only its first %zu "
                 "were kept: too few to compare",
                 tk->is_msg ? "msg" : "recv", (unsigned long long)tk->seq,
                 (unsigned long long)tk->len, tk->data_len);
        return -1;
    }
    if (tk->len == p->data.len && tk->data_len == tk->len &&
        (tk->len == 0 || memcmp(tk->data, p->data.data, tk->len) == 0))
        return 1;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appendf(&b, "expect: %s #%llu was ", tk->is_msg ? "msg" : "recv",
                   (unsigned long long)tk->seq);
    show_bytes(&b, tk->data, tk->data_len, tk->len);
    sp_buf_appends(&b, ", expected ");
    show_bytes(&b, p->data.data, p->data.len, p->data.len);
    snprintf(msg, msglen, "%s", sp_buf_str(&b));
    sp_buf_cleanup(&b);
    return -1;
}

/* The other forms: 1 matched (caps filled), -1 not. A regex must see the
 * whole message; a prefix or substring found in the kept part holds. */
static int compare_match(struct sp_cmdq *q, const struct taken *tk, struct sp_match_cap *caps,
                         char *msg, size_t msglen)
{
    const struct cmd_matchspec *ms = q->pend.ms;
    int hit = sp_match_exec(&ms->m, tk->data, tk->data_len, caps);
    if (tk->data_len < tk->len && (!hit || ms->m.kind == SP_MATCH_REGEX)) {
        snprintf(msg, msglen,
                 "expect: %s #%llu is %llu bytes but only its first %zu were kept: too few to "
                 "match",
                 tk->is_msg ? "msg" : "recv", (unsigned long long)tk->seq,
                 (unsigned long long)tk->len, tk->data_len);
        return -1;
    }
    if (hit)
        return 1;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appendf(&b, "expect: %s #%llu was ", tk->is_msg ? "msg" : "recv",
                   (unsigned long long)tk->seq);
    show_bytes(&b, tk->data, tk->data_len, tk->len);
    sp_buf_appends(&b, ", ");
    cmd__match_why(&b, ms);
    snprintf(msg, msglen, "%s", sp_buf_str(&b));
    sp_buf_cleanup(&b);
    return -1;
}

/* A match: the latency check, the captures, the expect event. */
static int matched(struct sp_cmdq *q, const struct taken *tk, const struct sp_match_cap *caps,
                   char *msg, size_t msglen)
{
    struct cmd_pending *p = &q->pend;
    int64_t latency = tk->send_seq > 0 ? (int64_t)(tk->t_ns - tk->send_ns) : -1;
    /* Without a send before it, --within counts from the expect line. */
    uint64_t since = tk->send_seq > 0 ? tk->send_ns : p->start_ns;
    if (p->within_ms > 0 && tk->t_ns > since && tk->t_ns - since > p->within_ms * 1000000u) {
        uint64_t us = (tk->t_ns - since) / 1000u;
        snprintf(msg, msglen,
                 "expect: %s #%llu matched %llu.%03llu ms after %s, more than --within %llu ms",
                 tk->is_msg ? "msg" : "recv", (unsigned long long)tk->seq,
                 (unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
                 tk->send_seq > 0 ? "our last send" : "the expect line",
                 (unsigned long long)p->within_ms);
        return -1;
    }
    struct sp_buf desc;
    sp_buf_init(&desc);
    const struct cmd_matchspec *ms = p->ms;
    for (int k = 0; ms != NULL && caps != NULL && k < ms->ncaps; k++) {
        const unsigned char *v;
        size_t vn;
        cmd__match_cap(ms, k, tk->data, caps, &v, &vn);
        if (cmd__var_set(q, ms->capname[k], v, vn, msg, msglen) != 0) {
            sp_buf_cleanup(&desc);
            return -1;
        }
        sp_buf_appendf(&desc, "%s%s=", k ? " " : "", ms->capname[k]);
        sp_buf_append(&desc, v, vn < 200 ? vn : 200);
    }
    struct sp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SP_EV_EXPECT;
    ev.sock = p->id;
    ev.unread = ev.unsent = -1;
    ev.op = tk->is_msg ? "msg" : "recv";
    ev.seq = tk->seq;
    ev.len = tk->len;
    ev.mode = ms != NULL ? sp_match_mode(&ms->m) : "exact";
    ev.latency_ns = latency;
    ev.send_seq = tk->send_seq;
    /* A capture's bytes may hold NUL: the text shown stops there. */
    ev.message = sp_buf_str(&desc);
    sp_engine_emit(q->eng, &ev);
    sp_buf_cleanup(&desc);
    return 1;
}

static int expect_compare(struct sp_cmdq *q, const struct taken *tk, char *msg, size_t msglen)
{
    const struct cmd_matchspec *ms = q->pend.ms;
    struct sp_match_cap caps[SP_MATCH_GROUPS];
    int exact = ms == NULL || (ms->m.kind == SP_MATCH_BYTES && ms->m.where == SP_MATCH_EXACT);
    int r = exact ? compare_exact(q, tk, msg, msglen) : compare_match(q, tk, caps, msg, msglen);
    if (r < 0)
        return -1;
    return matched(q, tk, exact ? NULL : caps, msg, msglen);
}

/* Nothing to take: keep waiting, unless the socket can send no more. */
static int expect_nothing_yet(struct sp_cmdq *q, char *msg, size_t msglen)
{
    struct cmd_pending *p = &q->pend;
    struct sp_sock_info in;
    if (sp_engine_sock_info(q->eng, p->id, &in) != 0 || is_closed(&in)) {
        snprintf(msg, msglen, "expect: socket %u closed before a message arrived", (unsigned)p->id);
        return -1;
    }
    return 0;
}

/* Expect over the engine's history: the oldest msg event (or raw recv
 * chunk) at or after the socket's cursor. Nothing is copied. */
static int eval_expect_hist(struct sp_cmdq *q, char *msg, size_t msglen)
{
    struct cmd_pending *p = &q->pend;
    struct cmd_tap *t = cmd__tap(q, p->id);
    uint64_t begin = sp_hist_begin(q->eng, p->id), end = sp_hist_end(q->eng, p->id);
    if (t->cursor < begin) {
        snprintf(msg, msglen,
                 "expect: %llu events of socket %u were dropped from the history (it keeps "
                 "%u events or %u MiB) before expect took them",
                 (unsigned long long)(begin - t->cursor), (unsigned)p->id, SP_HIST_EVENTS_MAX,
                 SP_HIST_BYTES_MAX >> 20);
        t->cursor = begin;
        return -1;
    }
    for (; t->cursor < end; t->cursor++) {
        struct sp_event ev;
        if (sp_hist_get(q->eng, p->id, t->cursor, &ev) != 0)
            continue;
        if (ev.type == SP_EV_MSG || (ev.type == SP_EV_RECV && !ev.framed && ev.seq != 0)) {
            uint64_t at = t->cursor++;
            struct taken tk = {0};
            /* Our last send before it, looked up first: each history read
             * may reuse the memory of the one before. */
            for (uint64_t i = at; i > begin && tk.send_seq == 0; i--) {
                struct sp_event s;
                if (sp_hist_get(q->eng, p->id, i - 1, &s) == 0 && s.type == SP_EV_SEND) {
                    tk.send_seq = s.seq;
                    tk.send_ns = s.t_ns;
                }
            }
            if (sp_hist_get(q->eng, p->id, at, &ev) != 0)
                return expect_nothing_yet(q, msg, msglen);
            tk.is_msg = ev.type == SP_EV_MSG;
            tk.seq = ev.seq;
            tk.len = ev.len;
            tk.t_ns = ev.t_ns;
            tk.data = ev.data;
            tk.data_len = ev.data_len;
            return expect_compare(q, &tk, msg, msglen);
        }
    }
    return expect_nothing_yet(q, msg, msglen);
}

/* Expect: compares the oldest message not yet taken. */
static int eval_expect(struct sp_cmdq *q, char *msg, size_t msglen)
{
    struct cmd_pending *p = &q->pend;
    if (q->hist_expect)
        return eval_expect_hist(q, msg, msglen);
    struct cmd_tap *t = cmd__tap(q, p->id);
    if (t->lost > 0 && TAILQ_EMPTY(&t->items)) {
        snprintf(msg, msglen,
                 "expect: %llu messages were not kept for expect (more than %d messages or "
                 "8 MiB were waiting untaken)",
                 (unsigned long long)t->lost, CMD_TAP_ITEMS_MAX);
        t->lost = 0;
        return -1;
    }
    struct cmd_item *it = TAILQ_FIRST(&t->items);
    if (it == NULL)
        return expect_nothing_yet(q, msg, msglen);
    TAILQ_REMOVE(&t->items, it, entry);
    t->count--;
    t->bytes -= it->data_len;
    q->tap_bytes -= it->data_len;
    struct taken tk = {it->is_msg,  it->seq,      it->len,  it->t_ns,
                       it->send_ns, it->send_seq, it->data, it->data_len};
    int r = expect_compare(q, &tk, msg, msglen);
    free(it);
    return r;
}

/* The first connection the listener accepted after socket `after`, or 0:
 * accepted sockets take ids in the order they were accepted. (One closed
 * and forgotten meanwhile is skipped.) */
static uint32_t next_accepted(struct sp_engine *eng, uint32_t listener, uint32_t after)
{
    size_t count = sp_engine_sock_ids(eng, NULL, 0);
    uint32_t *ids = sp_xreallocarray(NULL, count ? count : 1, sizeof *ids);
    uint32_t found = 0;
    count = sp_engine_sock_ids(eng, ids, count);
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < count && found == 0; i++) {
        struct sp_sock_info in;
        if (sp_engine_sock_info(eng, ids[i], &in) == 0 && in.parent == listener)
            found = ids[i];
    }
    free(ids);
    return found;
}

static int eval_wait(struct sp_cmdq *q, const struct sp_event *ev, const struct sp_sock_info *in,
                     char *msg, size_t msglen)
{
    struct cmd_pending *p = &q->pend;
    int mine = ev != NULL && ev->sock == p->id;
    switch (p->what) {
    case WAIT_CONNECTED:
        if (in->open && !in->connecting && in->peer[0] != '\0')
            return 1;
        break;
    case WAIT_ACCEPTED: {
        /* Each `wait accepted` takes one connection the listener accepted
         * that no earlier one took, even if it arrived before the wait ran:
         * `connect` then `wait accepted` must not depend on which of the two
         * events the loop delivered first. */
        struct cmd_tap *t = cmd__tap(q, p->id);
        if (t != NULL && in->accepted > t->accepted_taken) {
            t->accepted_taken++;
            uint32_t id =
                next_accepted(q->eng, p->id, t->accepted_last > p->id ? t->accepted_last : p->id);
            if (id != 0)
                q->current = t->accepted_last = id;
            return 1;
        }
        break;
    }
    case WAIT_RECV:
        if (mine && ev->type == SP_EV_RECV)
            return 1;
        break;
    case WAIT_MSG:
        if (mine && ev->type == SP_EV_MSG)
            return 1;
        break;
    case WAIT_EOF:
        if ((in->peers & SP_PEER_FIN) || (mine && ev->type == SP_EV_EOF))
            return 1;
        break;
    case WAIT_CLOSED:
        if (is_closed(in))
            return 1;
        break;
    case WAIT_SENT:
        if (in->queued == 0)
            return 1;
        break;
    case WAIT_STATE:
        if (strcasecmp(in->tcp, p->name) == 0)
            return 1;
        /* The kernel keeps reporting a closed connection (FIN_WAIT2,
         * TIME_WAIT...) until it forgets it: only then is it hopeless. */
        if (strcmp(in->tcp, "gone") == 0 ||
            (is_closed(in) && in->tcp[0] == '\0' && !(in->kind == SP_SOCK_TCP))) {
            snprintf(msg, msglen, "wait state:%s: socket %u is gone", p->name, (unsigned)p->id);
            return -1;
        }
        return 0;
    case WAIT_BYTES:
        if (in->bytes_in >= p->n)
            return 1;
        break;
    case WAIT_MSGS:
        if (in->msgs >= p->n)
            return 1;
        break;
    }
    if (is_closed(in)) {
        snprintf(msg, msglen, "%s: socket %u closed%s%s", p->verb, (unsigned)p->id,
                 in->close_reason[0] ? ": " : "", in->close_reason);
        return -1;
    }
    return 0;
}

/* 1: done, -1: failed (reason in msg), 0: keep waiting. ev is NULL when
 * checking the state as it is now. */
static int eval(struct sp_cmdq *q, const struct sp_event *ev, char *msg, size_t msglen)
{
    struct cmd_pending *p = &q->pend;
    if (ev != NULL && ev->sock != p->id && !(ev->type == SP_EV_ACCEPTED && ev->parent == p->id))
        return 0;
    /* Our own reports (the expect event a match emits from inside this
     * very evaluation, a rule's) change nothing a command waits for. */
    if (ev != NULL && (ev->type == SP_EV_EXPECT || ev->type == SP_EV_RULE))
        return 0;
    if (p->kind == PEND_SLEEP || p->kind == PEND_LAB || p->kind == PEND_STEP)
        return 0;
    if (p->kind == PEND_EXPECT)
        return eval_expect(q, msg, msglen);
    struct sp_sock_info in;
    if (sp_engine_sock_info(q->eng, p->id, &in) != 0) {
        snprintf(msg, msglen, "%s: socket %u is gone", p->verb, (unsigned)p->id);
        return -1;
    }
    switch (p->kind) {
    case PEND_CONNECT:
    case PEND_CREATE:
        if (ev != NULL && ev->type == SP_EV_ERROR) {
            snprintf(msg, msglen, "%s failed: %s %s", p->verb, ev->code ? ev->code : "",
                     ev->message ? ev->message : "");
            return -1;
        }
        if (is_closed(&in)) {
            snprintf(msg, msglen, "%s failed: %s", p->verb,
                     in.close_reason[0] ? in.close_reason : "closed");
            return -1;
        }
        if (!in.connecting && in.open && (p->kind == PEND_CREATE || in.peer[0] != '\0'))
            return 1;
        return 0;
    case PEND_SEND:
        /* A failed write ends the op (its repetitions and pieces are
         * dropped) without a send event; a datagram socket stays open, so
         * nothing else would ever end the wait. */
        if (ev != NULL && ev->type == SP_EV_ERROR && ev->op != NULL &&
            strcmp(ev->op, "send") == 0) {
            snprintf(msg, msglen, "send failed: %s %s", ev->code ? ev->code : "",
                     ev->message ? ev->message : "");
            return -1;
        }
        if (ev != NULL && ev->type == SP_EV_SEND && p->n > 0)
            p->n--;
        if (p->n == 0 && in.queued == 0)
            return 1;
        if (is_closed(&in)) {
            snprintf(msg, msglen, "send: socket %u closed before the last write", (unsigned)p->id);
            return -1;
        }
        return 0;
    case PEND_WAIT:
        return eval_wait(q, ev, &in, msg, msglen);
    case PEND_RECV:
        /* The call returned: bytes, EOF or an error, each its own event. */
        if (ev != NULL &&
            (ev->type == SP_EV_RECV || ev->type == SP_EV_EOF ||
             (ev->type == SP_EV_ERROR && ev->op != NULL && strcmp(ev->op, "recv") == 0)))
            return 1;
        if (is_closed(&in)) {
            snprintf(msg, msglen, "recv: socket %u closed while waiting", (unsigned)p->id);
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

void cmd__pending_event(struct sp_cmdq *q, const struct sp_event *ev)
{
    char msg[CMD_ERR_MAX];
    msg[0] = '\0';
    int r = eval(q, ev, msg, sizeof msg);
    if (r != 0)
        cmd__finish(q, r > 0, msg);
}

static void timer_cb(void *ud)
{
    struct sp_cmdq *q = ud;
    struct cmd_pending *p = &q->pend;
    if (p->kind == PEND_SLEEP) {
        cmd__finish(q, 1, NULL);
        return;
    }
    char msg[256];
    if (p->kind == PEND_EXPECT && p->within_ms > 0 && p->within_ms == p->timeout_ms)
        snprintf(msg, sizeof msg, "expect: nothing matched within %llu ms (--within)",
                 (unsigned long long)p->within_ms);
    else
        snprintf(msg, sizeof msg, "%s: timed out after %llu ms", p->verb,
                 (unsigned long long)p->timeout_ms);
    cmd__finish(q, 0, msg);
}

int cmd__pending_start(struct cmd_ctx *c)
{
    struct sp_cmdq *q = c->q;
    char msg[CMD_ERR_MAX];
    msg[0] = '\0';
    int r = eval(q, NULL, msg, sizeof msg);
    if (r != 0) {
        int ok = r > 0;
        cmd__pending_clear(q);
        if (!ok)
            return cmd__fail(c, NULL, 0, "%s", msg);
        return CMD_OK;
    }
    if (q->pend.timeout_ms > 0)
        q->pend.timer = sp_engine_watch_timer(q->eng, q->pend.timeout_ms, 0, timer_cb, q);
    return CMD_PENDING;
}

/* --timeout MS, default 10 s; 0 means forever. */
int cmd__timeout_opt(struct cmd_ctx *c, uint64_t *ms)
{
    const struct cmd_word *w = cmd__opt(c, "--timeout");
    *ms = DEFAULT_TIMEOUT_MS;
    if (w != NULL && cmd__number(c, w, 0, 1000ull * 3600 * 24 * 365, 0, ms) != 0)
        return -1;
    return 0;
}

/* The open listener created last, or 0. */
static uint32_t newest_listener(struct sp_engine *eng)
{
    size_t n = sp_engine_sock_ids(eng, NULL, 0);
    uint32_t *ids = sp_xreallocarray(NULL, n > 0 ? n : 1, sizeof *ids);
    n = sp_engine_sock_ids(eng, ids, n);
    uint32_t found = 0;
    struct sp_sock_info in;
    for (size_t i = n; i-- > 0 && found == 0;)
        if (sp_engine_sock_info(eng, ids[i], &in) == 0 && sp_kind_is_listener(in.kind) && in.open)
            found = ids[i];
    free(ids);
    return found;
}

int cmd__exec_wait(struct cmd_ctx *c)
{
    uint32_t id;
    uint64_t tmo;
    int given = c->arg0;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0 || cmd__timeout_opt(c, &tmo))
        return CMD_FAIL;
    given = c->arg0 > given;
    /* `connect` made the client current, but `wait accepted` can only
     * mean a listener: without an ID, the newest one. */
    if (!given && cmd__is(cmd__arg(c, 0), "accepted")) {
        struct sp_sock_info cur;
        uint32_t l;
        if (sp_engine_sock_info(c->eng, id, &cur) == 0 && !sp_kind_is_listener(cur.kind) &&
            (l = newest_listener(c->eng)) != 0)
            id = l;
    }
    const struct cmd_word *w = cmd__arg(c, 0);
    const char *colon = strchr(w->s, ':');
    size_t nlen = colon != NULL ? (size_t)(colon - w->s) : w->len;
    int what = -1;
    for (int k = 0; k < (int)(sizeof wait_names / sizeof wait_names[0]); k++)
        if (strlen(wait_names[k]) == nlen && strncmp(wait_names[k], w->s, nlen) == 0)
            what = k;
    if (what < 0)
        return cmd__fail(c, w, 0,
                         "unknown event \"%.*s\" (connected accepted recv msg eof closed sent "
                         "state:NAME bytes:N msgs:N)",
                         (int)(nlen > 40 ? 40 : nlen), w->s);
    int wants_arg = what == WAIT_STATE || what == WAIT_BYTES || what == WAIT_MSGS;
    if (wants_arg && colon == NULL)
        return cmd__fail(c, w, w->len, "%s needs a value: %s:%s", wait_names[what],
                         wait_names[what], what == WAIT_STATE ? "NAME" : "N");
    if (!wants_arg && colon != NULL)
        return cmd__fail(c, w, nlen, "%s takes no value", wait_names[what]);
    struct sp_sock_info in;
    if (cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    if (what == WAIT_ACCEPTED && !sp_kind_is_listener(in.kind))
        return cmd__fail(c, w, 0, "socket %u is not a listener", (unsigned)id);
    if ((what == WAIT_CONNECTED || what == WAIT_EOF || what == WAIT_RECV) &&
        sp_kind_is_listener(in.kind))
        return cmd__fail(c, w, 0, "socket %u is a listener (wait accepted?)", (unsigned)id);
    struct cmd_pending *p = &c->q->pend;
    p->what = (enum cmd_wait_what)what;
    if (what == WAIT_STATE) {
        size_t vl = w->len - nlen - 1;
        if (vl == 0 || vl >= sizeof p->name)
            return cmd__fail(c, w, nlen + 1, "state wants a TCP state name (FIN_WAIT2, ...)");
        for (size_t i = 0; i < vl; i++) {
            char ch = colon[1 + i];
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' ||
                  (ch >= '0' && ch <= '9')))
                return cmd__fail(c, w, nlen + 1 + i, "not a TCP state name");
        }
        memcpy(p->name, colon + 1, vl);
        p->name[vl] = '\0';
        /* Kernel states change without a socket event (the peer's ACK of
         * our FIN): have the engine poll this socket. It stays polled, as we
         * cannot tell whether a front end also shows it. */
        sp_engine_set_watched(c->eng, id, 1);
    } else if (wants_arg) {
        struct cmd_word v = *w;
        v.s = colon + 1;
        v.len = w->len - nlen - 1;
        v.cols_at = w->cols_at + nlen + 1;
        if (cmd__number(c, &v, 0, UINT64_MAX / 2, 1, &p->n) != 0)
            return CMD_FAIL;
    }
    p->kind = PEND_WAIT;
    p->id = id;
    p->timeout_ms = tmo;
    snprintf(p->verb, sizeof p->verb, "wait %.40s", w->s);
    return cmd__pending_start(c);
}

int cmd__exec_expect(struct cmd_ctx *c)
{
    uint32_t id;
    uint64_t tmo, within = 0;
    /* With --regex or --hex-mask there is no DATA: a lone number is the ID. */
    int pattern = cmd__opt(c, "--regex") != NULL || cmd__opt(c, "--hex-mask") != NULL;
    if (cmd__take_data_id(c, pattern ? 0 : 1, &id) != 0 || cmd__timeout_opt(c, &tmo) != 0)
        return CMD_FAIL;
    const struct cmd_word *w = cmd__opt(c, "--within");
    if (w != NULL && cmd__number(c, w, 1, 1000ull * 3600 * 24, 0, &within) != 0)
        return CMD_FAIL;
    if (cmd__nargs(c) == 0 && !pattern)
        return cmd__fail(c, NULL, 0, "expect what? usage: %s", c->ent->usage);
    struct cmd_pending *p = &c->q->pend;
    struct cmd_matchspec *ms = sp_xcalloc(1, sizeof *ms);
    if (cmd__match_parse(c, 0, cmd__nargs(c), ms) != 0) {
        free(ms);
        return CMD_FAIL;
    }
    sp_buf_reset(&p->data);
    if (ms->m.kind == SP_MATCH_BYTES)
        sp_buf_append(&p->data, ms->m.pat, ms->m.len);
    if (!c->q->tap_on && !c->q->hist_expect) {
        /* Only reachable when the queue was told to tap lazily and the line
         * did not come through sp_cmdq_push(); start now. */
        c->q->tap_on = 1;
        cmd__update_subs(c->q);
    }
    p->kind = PEND_EXPECT;
    p->id = id;
    p->ms = ms;
    p->within_ms = within;
    p->start_ns = sp_engine_now_ns(c->eng);
    /* Waiting longer than --within cannot end in a match in time. */
    p->timeout_ms = within > 0 && (tmo == 0 || within <= tmo) ? within : tmo;
    snprintf(p->verb, sizeof p->verb, "expect");
    return cmd__pending_start(c);
}

int cmd__exec_sleep(struct cmd_ctx *c)
{
    uint64_t ms;
    if (cmd__number(c, cmd__arg(c, 0), 0, 1000ull * 3600 * 24 * 365, 0, &ms) != 0)
        return CMD_FAIL;
    if (ms == 0)
        return CMD_OK;
    struct cmd_pending *p = &c->q->pend;
    p->kind = PEND_SLEEP;
    p->timeout_ms = ms;
    snprintf(p->verb, sizeof p->verb, "sleep");
    return cmd__pending_start(c);
}
