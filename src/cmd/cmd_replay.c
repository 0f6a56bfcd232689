/* `replay [ID] FILE`: a recorded `log` (JSON lines) of one socket's
 * conversation, played again on socket ID as command lines put at the front
 * of the queue. The side that is played sends exactly the bytes it sent
 * then (`send --raw --hex`, one write each); the other side's bytes, cut
 * into messages by the framing socket ID has now, become `expect --hex`
 * lines (under raw: each recorded write or chunk is one expect). A FIN
 * becomes `shutdown wr` on the played side and `wait eof` on the other, and
 * when the logged socket closed the connection itself (or both sides sent
 * their FIN), the replay closes too.
 * --as logged (the default) plays the socket the log was written for: its
 * send events are ours, its recv events the peer's. --as peer plays the
 * other end, a mock of the logged socket's peer. */
#include "cmd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/engine/engine.h"
#include "sockpit/proto/escape.h"
#include "sockpit/proto/frame.h"
#include "sockpit/proto/render.h"

#define REPLAY_FILE_MAX  (64u * 1024 * 1024)
#define REPLAY_LINES_MAX 100000u

enum item_kind { IT_SEND, IT_EXPECT, IT_SHUT, IT_WAIT_EOF, IT_CLOSE };

struct item {
    enum item_kind kind;
    size_t lineno; /* of the log line that made it */
    unsigned char *bytes;
    size_t len;
};

struct replay {
    struct item *items;
    size_t n, cap;
    /* The expected side's bytes through the decoder. */
    struct sp_frame_dec dec;
    int raw;
    struct sp_buf cur;
    size_t lineno;
    char err[256];
};

static void add_item(struct replay *r, enum item_kind kind, const void *p, size_t n)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->items = sp_xreallocarray(r->items, r->cap, sizeof *r->items);
    }
    struct item *it = &r->items[r->n++];
    it->kind = kind;
    it->lineno = r->lineno;
    it->len = n;
    it->bytes = sp_xmalloc(n ? n : 1);
    if (n > 0)
        memcpy(it->bytes, p, n);
}

static void on_frame(void *ud, const struct sp_frame_ev *ev)
{
    struct replay *r = ud;
    switch (ev->type) {
    case SP_FRAME_EV_BEGIN:
        sp_buf_reset(&r->cur);
        break;
    case SP_FRAME_EV_DATA:
        sp_buf_append(&r->cur, ev->data, ev->len);
        break;
    case SP_FRAME_EV_END:
        add_item(r, IT_EXPECT, r->cur.data, r->cur.len);
        sp_buf_reset(&r->cur);
        break;
    case SP_FRAME_EV_ERROR:
        if (r->err[0] == '\0')
            snprintf(r->err, sizeof r->err,
                     "line %zu: the recorded bytes do not decode under the socket's framing: %s",
                     r->lineno, ev->reason != NULL ? ev->reason : "framing error");
        break;
    case SP_FRAME_EV_BLOCK:
        break;
    }
}

/* The string value of "key" in one of our own JSON lines: keys are written
 * without spaces, and a quote inside a value is always escaped, so the
 * first `"key":"` is the key. */
static const char *json_str(const char *line, const char *key, size_t *len)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *v = strstr(line, pat);
    if (v == NULL)
        return NULL;
    v += strlen(pat);
    const char *e = v;
    while (*e != '\0' && *e != '"') {
        if (*e == '\\' && e[1] != '\0')
            e++;
        e++;
    }
    if (*e != '"')
        return NULL;
    *len = (size_t)(e - v);
    return v;
}

static int json_has(const char *line, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    return strstr(line, pat) != NULL;
}

static long long json_num(const char *line, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *v = strstr(line, pat);
    if (v == NULL || v[strlen(pat)] < '0' || v[strlen(pat)] > '9')
        return -1;
    return strtoll(v + strlen(pat), NULL, 10);
}

static int is_ev(const char *ev, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(ev, name, n) == 0;
}

/* One log line. played: 1 when its data events are the side we play. */
static int take_line(struct replay *r, const char *line, int as_peer, long long *sock,
                     struct sp_buf *bytes)
{
    size_t n;
    const char *ev = json_str(line, "ev", &n);
    if (strncmp(line, "{\"t\":", 5) != 0 || ev == NULL) {
        snprintf(r->err, sizeof r->err, "line %zu: not an event of a sockpit log", r->lineno);
        return -1;
    }
    size_t rn;
    const char *reason = json_str(line, "reason", &rn);
    if (is_ev(ev, n, "closed") && !as_peer && reason != NULL && rn >= 12 &&
        memcmp(reason, "closed by us", 12) == 0) {
        /* The logged socket ended the conversation: so does its replay. */
        add_item(r, IT_CLOSE, NULL, 0);
        return 0;
    }
    int ours = is_ev(ev, n, "send"), theirs = is_ev(ev, n, "recv");
    int our_fin = is_ev(ev, n, "shutdown"), their_fin = is_ev(ev, n, "eof");
    if (!ours && !theirs && !our_fin && !their_fin)
        return 0;
    long long s = json_num(line, "sock");
    if (*sock == 0)
        *sock = s;
    else if (s != *sock) {
        snprintf(r->err, sizeof r->err,
                 "line %zu: socket %lld after socket %lld: replay takes the log of one socket",
                 r->lineno, s, *sock);
        return -1;
    }
    if (our_fin) {
        size_t hn;
        const char *how = json_str(line, "how", &hn);
        if (how == NULL || is_ev(how, hn, "rd"))
            return 0;
    }
    /* A peek or the urgent byte is not part of the stream. */
    if (theirs && json_num(line, "seq") == 0)
        return 0;
    int played = (ours || our_fin) != as_peer;
    if (our_fin || their_fin) {
        add_item(r, played ? IT_SHUT : IT_WAIT_EOF, NULL, 0);
        return 0;
    }
    if (json_has(line, "kept")) {
        snprintf(r->err, sizeof r->err,
                 "line %zu: only a prefix of this %s was kept in the log: its bytes are unknown",
                 r->lineno, ours ? "send" : "recv");
        return -1;
    }
    size_t hl;
    const char *hex = json_str(line, "hex", &hl);
    sp_buf_reset(bytes);
    size_t pos;
    char err[128];
    if (hex == NULL || sp_hex_parse(hex, hl, bytes, &pos, err, sizeof err) != 0) {
        snprintf(r->err, sizeof r->err, "line %zu: no hex bytes in this %s event", r->lineno,
                 ours ? "send" : "recv");
        return -1;
    }
    if (played)
        add_item(r, IT_SEND, bytes->data, bytes->len);
    else if (r->raw)
        add_item(r, IT_EXPECT, bytes->data, bytes->len);
    else
        sp_frame_feed(&r->dec, bytes->data, bytes->len);
    return r->err[0] != '\0' ? -1 : 0;
}

static int read_log(struct replay *r, FILE *f, int as_peer)
{
    struct sp_buf line, bytes;
    sp_buf_init(&line);
    sp_buf_init(&bytes);
    long long sock = 0;
    int rc = 0, ch;
    size_t total = 0;
    r->lineno = 1;
    while (rc == 0 && (ch = getc(f)) != EOF) {
        if (++total > REPLAY_FILE_MAX) {
            snprintf(r->err, sizeof r->err, "the log is larger than %u MiB", REPLAY_FILE_MAX >> 20);
            rc = -1;
            break;
        }
        if (ch != '\n') {
            sp_buf_appendc(&line, (unsigned char)ch);
            continue;
        }
        if (line.len > 0)
            rc = take_line(r, sp_buf_str(&line), as_peer, &sock, &bytes);
        sp_buf_reset(&line);
        r->lineno++;
        if (r->n > REPLAY_LINES_MAX) {
            snprintf(r->err, sizeof r->err, "more than %u lines to replay", REPLAY_LINES_MAX);
            rc = -1;
        }
    }
    if (rc == 0 && line.len > 0)
        rc = take_line(r, sp_buf_str(&line), as_peer, &sock, &bytes);
    /* Both directions finished and nobody closed: the played side closes,
     * as nothing more can flow (and a run waiting for its sockets ends). */
    int shut = 0, eof = 0;
    for (size_t i = 0; i < r->n; i++) {
        shut |= r->items[i].kind == IT_SHUT;
        eof |= r->items[i].kind == IT_WAIT_EOF;
    }
    if (rc == 0 && shut && eof && r->items[r->n - 1].kind != IT_CLOSE)
        add_item(r, IT_CLOSE, NULL, 0);
    if (rc == 0 && ferror(f)) {
        snprintf(r->err, sizeof r->err, "cannot read: %s", strerror(errno));
        rc = -1;
    }
    sp_buf_cleanup(&line);
    sp_buf_cleanup(&bytes);
    return rc;
}

static void replay_free(struct replay *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i].bytes);
    free(r->items);
    sp_buf_cleanup(&r->cur);
}

/* The command line for one item. */
static void item_line(struct sp_buf *b, const struct item *it, uint32_t id, uint64_t tmo)
{
    sp_buf_reset(b);
    switch (it->kind) {
    case IT_SEND:
        sp_buf_appendf(b, "send %u --raw --hex \"", (unsigned)id);
        sp_hex_append(b, it->bytes, it->len);
        sp_buf_appendc(b, '"');
        break;
    case IT_EXPECT:
        sp_buf_appendf(b, "expect %u --timeout %llu --hex \"", (unsigned)id,
                       (unsigned long long)tmo);
        sp_hex_append(b, it->bytes, it->len);
        sp_buf_appendc(b, '"');
        break;
    case IT_SHUT:
        sp_buf_appendf(b, "shutdown %u wr", (unsigned)id);
        break;
    case IT_WAIT_EOF:
        sp_buf_appendf(b, "wait %u eof --timeout %llu", (unsigned)id, (unsigned long long)tmo);
        break;
    case IT_CLOSE:
        sp_buf_appendf(b, "close %u", (unsigned)id);
        break;
    }
}

/* Puts the items' lines first in the queue, in their order. */
static void queue_items(struct sp_cmdq *q, const struct replay *r, uint32_t id, uint64_t tmo,
                        const char *path)
{
    struct sp_buf b;
    sp_buf_init(&b);
    for (size_t i = r->n; i > 0; i--) {
        const struct item *it = &r->items[i - 1];
        item_line(&b, it, id, tmo);
        struct cmd_line *l = sp_xmalloc(sizeof *l);
        l->line = sp_xstrdup(sp_buf_str(&b));
        char origin[300];
        snprintf(origin, sizeof origin, "%.250s:%zu", path, it->lineno);
        l->origin = sp_xstrdup(origin);
        TAILQ_INSERT_HEAD(&q->lines, l, entry);
    }
    sp_buf_cleanup(&b);
}

int cmd__exec_replay(struct cmd_ctx *c)
{
    uint32_t id;
    uint64_t tmo;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0 ||
        cmd__timeout_opt(c, &tmo) != 0)
        return CMD_FAIL;
    const struct cmd_word *as = cmd__opt(c, "--as");
    if (as != NULL && !cmd__is(as, "logged") && !cmd__is(as, "peer"))
        return cmd__fail(c, as, 0, "--as logged or --as peer");
    int as_peer = as != NULL && cmd__is(as, "peer");
    struct sp_sock_info in;
    if (cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    if (sp_kind_is_listener(in.kind))
        return cmd__fail(c, NULL, 0,
                         "socket %u is a listener: replay on a connection (wait accepted first)",
                         (unsigned)id);
    const struct cmd_word *path = cmd__arg(c, 0);
    FILE *f = fopen(path->s, "re");
    if (f == NULL)
        return cmd__fail(c, path, 0, "cannot open %.200s: %s", path->s, strerror(errno));
    struct replay r;
    memset(&r, 0, sizeof r);
    sp_buf_init(&r.cur);
    r.raw = in.spec.kind == SP_FRAME_RAW;
    sp_frame_dec_init(&r.dec, &in.spec, on_frame, &r);
    int rc = read_log(&r, f, as_peer);
    fclose(f);
    if (rc != 0) {
        replay_free(&r);
        return cmd__fail(c, path, 0, "replay %.200s: %s", path->s, r.err);
    }
    size_t sends = 0, expects = 0;
    for (size_t i = 0; i < r.n; i++) {
        sends += r.items[i].kind == IT_SEND;
        expects += r.items[i].kind == IT_EXPECT;
    }
    if (sends + expects == 0) {
        replay_free(&r);
        return cmd__fail(c, path, 0, "replay %.200s: no send or recv events in it", path->s);
    }
    queue_items(c->q, &r, id, tmo, path->s);
    char text[300];
    snprintf(text, sizeof text, "replay %.200s on socket %u as the %s side: %zu sends, %zu expects",
             path->s, (unsigned)id, as_peer ? "peer's" : "logged", sends, expects);
    cmd__out(c->q, text);
    replay_free(&r);
    return CMD_OK;
}
