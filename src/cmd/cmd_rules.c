/* `on`: auto-reply rules. A rule belongs to a socket or to a listener (then
 * it applies to every connection the listener accepted, before or after the
 * rule was made). Each incoming message (under raw: each recv chunk, as
 * expect takes them) is checked against the rules of its socket and then of
 * its listener, in the order they were made; the first that matches replies
 * through the socket's framing, after --delay, and closes gracefully after
 * with --close. Replies go out from a timer, never from inside the engine's
 * callback, and to each socket in the order its messages came: a delayed
 * reply holds back the replies after it, as a server answering one request
 * at a time would. Once a reply with --close is decided, the socket's later
 * messages are not answered. */
#include "cmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/engine/engine.h"
#include "sockpit/proto/addr.h"
#include "sockpit/proto/render.h"

#define RULES_MAX        256
#define RULE_INSERTS_MAX 32
/* Replies waiting for their delay (or for the socket's earlier ones), over
 * all rules, by count and by bytes: past either a match is reported and not
 * answered, rather than memory growing with a flood. */
#define REPLIES_MAX     1024
#define REPLY_BYTES_MAX (16u * 1024 * 1024)
#define DELAY_MAX_MS    (3600u * 1000)

/* Where capture k goes into the reply's bytes. */
struct insert {
    size_t at;
    int cap;
};

struct rule {
    uint32_t num;
    uint32_t target; /* the socket, or the listener */
    struct cmd_matchspec ms;
    struct sp_buf reply; /* the bytes, captures left out */
    struct insert ins[RULE_INSERTS_MAX];
    size_t nins;
    int close;
    uint64_t delay_ms;
    uint64_t fired;
    char *line; /* as written, for list rules */
};

struct reply {
    TAILQ_ENTRY(reply) entry;
    struct cmd_rules *rs;
    struct sp_watch *timer; /* NULL while an earlier reply to the socket waits */
    uint64_t due_ns;        /* when its message came, plus the rule's delay */
    uint32_t sock, rule;
    int kind_dgram;
    char to[SP_ADDR_TEXT_MAX + 16]; /* datagram: the sender, as an address */
    const char *op, *mode;
    uint64_t seq, fired;
    int close;
    size_t len;
    unsigned char bytes[];
};

struct cmd_rules {
    struct sp_cmdq *q;
    struct rule *rules[RULES_MAX];
    size_t n;
    uint32_t next_num;
    TAILQ_HEAD(replies, reply) replies;
    size_t nreplies, reply_bytes;
    int sub;
};

static void notice(struct sp_cmdq *q, uint32_t sock, const char *text)
{
    struct sp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SP_EV_NOTICE;
    ev.sock = sock;
    ev.unread = ev.unsent = -1;
    ev.message = text;
    sp_engine_emit(q->eng, &ev);
}

static void rule_free(struct rule *r)
{
    cmd__match_free(&r->ms);
    sp_buf_cleanup(&r->reply);
    free(r->line);
    free(r);
}

/* The first reply waiting for sock, or NULL. */
static struct reply *first_for(struct cmd_rules *rs, uint32_t sock)
{
    struct reply *rp;
    TAILQ_FOREACH(rp, &rs->replies, entry)
        if (rp->sock == sock)
            return rp;
    return NULL;
}

static void reply_cb(void *ud);

/* Starts the timer of a reply now first in its socket's line. */
static void reply_arm(struct cmd_rules *rs, struct reply *rp)
{
    uint64_t now = sp_engine_now_ns(rs->q->eng);
    uint64_t ms = rp->due_ns > now ? (rp->due_ns - now + 999999) / 1000000 : 0;
    rp->timer = sp_engine_watch_timer(rs->q->eng, ms, 0, reply_cb, rp);
}

static void reply_free(struct cmd_rules *rs, struct reply *rp)
{
    TAILQ_REMOVE(&rs->replies, rp, entry);
    rs->nreplies--;
    rs->reply_bytes -= rp->len;
    if (rp->timer != NULL)
        sp_watch_stop(rp->timer);
    free(rp);
}

/* Hands one reply to the engine: send through the framing, the rule event,
 * then a graceful close when asked. */
static void reply_cb(void *ud)
{
    struct reply *rp = ud;
    struct cmd_rules *rs = rp->rs;
    struct sp_cmdq *q = rs->q;
    char err[256], text[400];
    const unsigned char *parts[1] = {rp->bytes};
    size_t lens[1] = {rp->len};
    struct sp_send_req req;
    memset(&req, 0, sizeof req);
    req.parts = parts;
    req.lens = lens;
    req.nparts = 1;
    struct sp_addr to;
    int ok = 1;
    if (rp->kind_dgram) {
        if (rp->to[0] == '\0' || sp_addr_parse(&to, rp->to, err, sizeof err) != 0) {
            snprintf(text, sizeof text, "rule %u: no reply: the sender's address is unknown",
                     (unsigned)rp->rule);
            notice(q, rp->sock, text);
            ok = 0;
        }
        req.to = &to;
    }
    if (ok && sp_engine_send(q->eng, rp->sock, &req, err, sizeof err) != 0) {
        snprintf(text, sizeof text, "rule %u: reply not sent: %s", (unsigned)rp->rule, err);
        notice(q, rp->sock, text);
        ok = 0;
    }
    if (ok) {
        struct sp_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SP_EV_RULE;
        ev.sock = rp->sock;
        ev.unread = ev.unsent = -1;
        ev.rule = rp->rule;
        ev.op = rp->op;
        ev.mode = rp->mode;
        ev.seq = rp->seq;
        ev.fired = rp->fired;
        ev.len = rp->len;
        ev.then_close = rp->close;
        sp_engine_emit(q->eng, &ev);
        if (rp->close)
            sp_engine_close(q->eng, rp->sock, err, sizeof err);
    }
    uint32_t sock = rp->sock;
    reply_free(rs, rp);
    struct reply *next = first_for(rs, sock);
    if (next != NULL && next->timer == NULL)
        reply_arm(rs, next);
}

/* The rule's reply for this match: its bytes with the captures put in. */
static struct reply *build_reply(struct rule *r, const unsigned char *p,
                                 const struct sp_match_cap *caps)
{
    size_t len = r->reply.len;
    const unsigned char *v[RULE_INSERTS_MAX];
    size_t vn[RULE_INSERTS_MAX];
    for (size_t i = 0; i < r->nins; i++) {
        cmd__match_cap(&r->ms, r->ins[i].cap, p, caps, &v[i], &vn[i]);
        len += vn[i];
    }
    struct reply *rp = sp_xcalloc(1, sizeof *rp + (len ? len : 1));
    size_t from = 0, o = 0;
    for (size_t i = 0; i < r->nins; i++) {
        memcpy(rp->bytes + o, r->reply.data + from, r->ins[i].at - from);
        o += r->ins[i].at - from;
        from = r->ins[i].at;
        memcpy(rp->bytes + o, v[i], vn[i]);
        o += vn[i];
    }
    if (r->reply.len > from)
        memcpy(rp->bytes + o, r->reply.data + from, r->reply.len - from);
    rp->len = len;
    return rp;
}

/* The first rule of sock (then of its listener) that matches, or NULL. */
static struct rule *first_match(struct cmd_rules *rs, uint32_t sock, uint32_t parent,
                                const struct sp_event *ev, struct sp_match_cap *caps)
{
    for (int pass = 0; pass < 2; pass++) {
        uint32_t target = pass == 0 ? sock : parent;
        if (target == 0)
            continue;
        for (size_t i = 0; i < rs->n; i++) {
            struct rule *r = rs->rules[i];
            if (r->target != target)
                continue;
            /* A message not kept whole cannot be matched honestly by a
             * regex or an exact pattern; a prefix or substring can. */
            int whole = ev->data_len == ev->len;
            if (!whole && (r->ms.m.kind == SP_MATCH_REGEX || r->ms.m.where == SP_MATCH_EXACT))
                continue;
            if (sp_match_exec(&r->ms.m, ev->data, ev->data_len, caps))
                return r;
        }
    }
    return NULL;
}

static void on_event(void *ud, const struct sp_event *ev)
{
    struct cmd_rules *rs = ud;
    if (!(ev->type == SP_EV_MSG || (ev->type == SP_EV_RECV && !ev->framed && ev->seq != 0)))
        return;
    struct sp_sock_info in;
    if (sp_engine_sock_info(rs->q->eng, ev->sock, &in) != 0)
        return;
    /* A reply that closes is on its way: the rest is not answered. */
    struct reply *w;
    TAILQ_FOREACH(w, &rs->replies, entry)
        if (w->sock == ev->sock && w->close)
            return;
    struct sp_match_cap caps[SP_MATCH_GROUPS];
    struct rule *r = first_match(rs, ev->sock, in.parent, ev, caps);
    if (r == NULL)
        return;
    r->fired++;
    struct reply *rp = build_reply(r, ev->data, caps);
    if (rs->nreplies >= REPLIES_MAX || rs->reply_bytes + rp->len > REPLY_BYTES_MAX) {
        char text[200];
        snprintf(text, sizeof text,
                 "rule %u matched %s #%llu but %zu replies (%zu bytes) already wait: not "
                 "answered",
                 (unsigned)r->num, ev->type == SP_EV_MSG ? "msg" : "recv",
                 (unsigned long long)ev->seq, rs->nreplies, rs->reply_bytes);
        notice(rs->q, ev->sock, text);
        free(rp);
        return;
    }
    rp->rs = rs;
    rp->sock = ev->sock;
    rp->rule = r->num;
    rp->op = ev->type == SP_EV_MSG ? "msg" : "recv";
    rp->mode = sp_match_mode(&r->ms.m);
    rp->seq = ev->seq;
    rp->fired = r->fired;
    rp->close = r->close;
    rp->kind_dgram = sp_kind_is_dgram(in.kind);
    if (rp->kind_dgram && ev->from != NULL && ev->from[0] != '\0' &&
        (ev->from_len == 0 || memchr(ev->from, '\0', ev->from_len) == NULL))
        snprintf(rp->to, sizeof rp->to, "%s:%.*s", in.kind == SP_SOCK_UDP ? "udp" : "unix-dgram",
                 (int)(ev->from_len ? ev->from_len : strlen(ev->from)), ev->from);
    rp->due_ns = sp_engine_now_ns(rs->q->eng) + r->delay_ms * 1000000u;
    int first = first_for(rs, ev->sock) == NULL;
    TAILQ_INSERT_TAIL(&rs->replies, rp, entry);
    rs->nreplies++;
    rs->reply_bytes += rp->len;
    if (first)
        reply_arm(rs, rp);
}

static struct cmd_rules *rules_get(struct sp_cmdq *q)
{
    if (q->rules == NULL) {
        struct cmd_rules *rs = sp_xcalloc(1, sizeof *rs);
        rs->q = q;
        rs->next_num = 1;
        TAILQ_INIT(&rs->replies);
        q->rules = rs;
    }
    return q->rules;
}

/* Subscribed to data events only while there are rules. */
static void rules_subscribe(struct cmd_rules *rs)
{
    if (rs->n > 0 && rs->sub <= 0)
        rs->sub = sp_engine_subscribe(rs->q->eng, SP_EV_MASK(SP_EV_MSG) | SP_EV_MASK(SP_EV_RECV),
                                      on_event, rs);
    else if (rs->n == 0 && rs->sub > 0) {
        sp_engine_unsubscribe(rs->q->eng, rs->sub);
        rs->sub = 0;
    }
}

void cmd__rules_free(struct sp_cmdq *q)
{
    struct cmd_rules *rs = q->rules;
    if (rs == NULL)
        return;
    while (!TAILQ_EMPTY(&rs->replies))
        reply_free(rs, TAILQ_FIRST(&rs->replies));
    for (size_t i = 0; i < rs->n; i++)
        rule_free(rs->rules[i]);
    rs->n = 0;
    rules_subscribe(rs);
    free(rs);
    q->rules = NULL;
}

/* ${NAME} in a reply: one of the rule's captures (put in when it fires), or
 * a variable (its value now). */
struct reply_ctx {
    struct rule *r;
    struct sp_cmdq *q;
};

static int reply_resolve(void *ud, const char *name, size_t nlen, struct sp_buf *out, char *err,
                         size_t errlen)
{
    struct reply_ctx *x = ud;
    for (int k = 0; k < x->r->ms.ncaps; k++) {
        if (strlen(x->r->ms.capname[k]) != nlen || memcmp(x->r->ms.capname[k], name, nlen) != 0)
            continue;
        if (x->r->nins >= RULE_INSERTS_MAX) {
            snprintf(err, errlen, "at most %d captures in a reply", RULE_INSERTS_MAX);
            return -1;
        }
        x->r->ins[x->r->nins].at = out->len;
        x->r->ins[x->r->nins++].cap = k;
        return 0;
    }
    return cmd__var_resolve(x->q, name, nlen, out, err, errlen);
}

/* The words of a reply into r->reply, with the captures' places. */
static int parse_reply(struct cmd_ctx *c, int from, struct rule *r)
{
    int hex = cmd__opt(c, "--hex") != NULL;
    struct reply_ctx x = {r, c->q};
    if (from >= cmd__nargs(c))
        return cmd__fail(c, NULL, 0,
                         "reply what? DATA after reply (reply \"\" sends an empty "
                         "message)");
    for (int i = from; i < cmd__nargs(c); i++) {
        const struct cmd_word *w = cmd__arg(c, i);
        char err[200];
        size_t pos = 0;
        if (cmd__expand(w->s, w->len, hex, reply_resolve, &x, &r->reply, &pos, err, sizeof err) !=
            0) {
            char *at = strstr(err, " at column ");
            if (at != NULL)
                *at = '\0';
            return cmd__fail(c, w, pos, "%s", err);
        }
    }
    return 0;
}

/* The index of the word `reply` (unquoted) among the arguments, or -1. */
static int find_reply(const struct cmd_ctx *c)
{
    for (int i = 0; i < cmd__nargs(c); i++)
        if (!cmd__arg(c, i)->quoted && cmd__is(cmd__arg(c, i), "reply"))
            return i;
    return -1;
}

static int rules_off(struct cmd_ctx *c)
{
    uint32_t id;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0)
        return CMD_FAIL;
    if (!cmd__is(cmd__arg(c, 0), "off"))
        return cmd__fail(c, cmd__arg(c, 0), 0,
                         "missing reply: on [ID] MATCH... reply DATA... (or on [ID] off)");
    struct cmd_rules *rs = c->q->rules;
    size_t j = 0, gone = 0;
    for (size_t i = 0; rs != NULL && i < rs->n; i++) {
        if (rs->rules[i]->target == id) {
            rule_free(rs->rules[i]);
            gone++;
        } else {
            rs->rules[j++] = rs->rules[i];
        }
    }
    if (rs != NULL) {
        rs->n = j;
        rules_subscribe(rs);
    }
    char text[96];
    snprintf(text, sizeof text, "%zu rule%s of socket %u removed", gone, gone == 1 ? "" : "s",
             (unsigned)id);
    cmd__out(c->q, text);
    return CMD_OK;
}

/* The [ID] rule of on: the first word is the ID when it is a plain number
 * (unquoted, no leading zero), stands before reply with the match's own
 * words (or --regex/--hex-mask) after it, and before --hex if given (every
 * word after --hex is data, as in send). */
static int take_rule_id(struct cmd_ctx *c, int at, int pattern, uint32_t *id)
{
    const struct cmd_word *w = cmd__arg(c, 0), *hex = cmd__opt(c, "--hex");
    int plain = w != NULL && !w->quoted && w->len > 0 && w->len <= 10 && w->s[0] != '0' &&
                strspn(w->s, "0123456789") == w->len;
    if (plain && at >= (pattern ? 1 : 2) && (hex == NULL || w->col < hex->col))
        return cmd__take_id(c, 0, id);
    return cmd__take_id(c, cmd__nargs(c), id);
}

int cmd__exec_on(struct cmd_ctx *c)
{
    int at = find_reply(c);
    if (at < 0)
        return rules_off(c);
    int pattern = cmd__opt(c, "--regex") != NULL || cmd__opt(c, "--hex-mask") != NULL;
    /* The first word is the ID when a number stands before reply and the
     * match still has its words (or --regex/--hex-mask) after it. */
    uint32_t id;
    if (take_rule_id(c, at, pattern, &id) != 0)
        return CMD_FAIL;
    at = find_reply(c);
    uint64_t delay = 0;
    const struct cmd_word *dw = cmd__opt(c, "--delay");
    if (dw != NULL && cmd__number(c, dw, 0, DELAY_MAX_MS, 0, &delay) != 0)
        return CMD_FAIL;
    struct sp_sock_info in;
    if (cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    if (in.kind == SP_SOCK_PACKET)
        return cmd__fail(c, NULL, 0,
                         "socket %u is a packet socket: rules answer connections "
                         "and datagram sockets",
                         (unsigned)id);
    struct cmd_rules *rs = rules_get(c->q);
    if (rs->n >= RULES_MAX)
        return cmd__fail(c, NULL, 0, "too many rules (at most %d; on ID off removes a socket's)",
                         RULES_MAX);
    struct rule *r = sp_xcalloc(1, sizeof *r);
    sp_buf_init(&r->reply);
    if (cmd__match_parse(c, 0, at, &r->ms) != 0 || parse_reply(c, at + 1, r) != 0) {
        rule_free(r);
        return CMD_FAIL;
    }
    r->num = rs->next_num++;
    r->target = id;
    r->close = cmd__opt(c, "--close") != NULL;
    r->delay_ms = delay;
    r->line = sp_xstrdup(c->line);
    rs->rules[rs->n++] = r;
    rules_subscribe(rs);
    char text[96];
    snprintf(text, sizeof text, "rule %u on %s %u", (unsigned)r->num,
             sp_kind_is_listener(in.kind) ? "listener" : "socket", (unsigned)id);
    cmd__out(c->q, text);
    return CMD_OK;
}

int cmd__rules_list(struct cmd_ctx *c)
{
    struct cmd_rules *rs = c->q->rules;
    if (rs == NULL || rs->n == 0) {
        cmd__out(c->q, "no rules");
        return CMD_OK;
    }
    cmd__out(c->q, "RULE  SOCK   FIRED  LINE");
    struct sp_buf b;
    sp_buf_init(&b);
    for (size_t i = 0; i < rs->n; i++) {
        const struct rule *r = rs->rules[i];
        sp_buf_reset(&b);
        sp_buf_appendf(&b, "%-5u %-6u %-6llu ", (unsigned)r->num, (unsigned)r->target,
                       (unsigned long long)r->fired);
        /* Our own line, but it may hold any byte the user typed. */
        sp_render(&b, r->line, strlen(r->line), SP_RENDER_UTF8);
        cmd__out(c->q, sp_buf_str(&b));
    }
    sp_buf_cleanup(&b);
    return CMD_OK;
}
