/* Commands that create or drive sockets. Each checks every word first and
 * calls the engine last, so a bad line never changes a socket. */
#include "cmd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockpit/proto/addr.h"
#include "sockpit/engine/engine.h"
#include "sockpit/engine/tls.h"
#include "sockpit/proto/frame.h"

#define MS_MAX (1000ull * 3600 * 24 * 365) /* a year: bounds every duration */

static int parse_addr(struct cmd_ctx *c, const struct cmd_word *w, struct sp_addr *addr)
{
    char err[256];
    if (sp_addr_parse(addr, w->s, err, sizeof err) != 0)
        return cmd__fail(c, w, 0, "bad address \"%.80s\": %s", w->s, err);
    return 0;
}

/* An address that may leave out the scheme of a socket it goes with: on a
 * udp: socket `--to 127.0.0.1:9000` means udp:127.0.0.1:9000, as nc and
 * socat users type it. scheme is that socket's ("udp"), or NULL. */
static int parse_addr_as(struct cmd_ctx *c, const struct cmd_word *w, const char *scheme,
                         struct sp_addr *addr)
{
    char err[256], text[1100];
    if (sp_addr_parse(addr, w->s, err, sizeof err) == 0)
        return 0;
    snprintf(text, sizeof text, "%s:%.1024s", scheme != NULL ? scheme : "", w->s);
    if (scheme != NULL && sp_addr_parse(addr, text, NULL, 0) == 0)
        return 0;
    return cmd__fail(c, w, 0, "bad address \"%.80s\": %s", w->s, err);
}

static int parse_spec(struct cmd_ctx *c, const struct cmd_word *w, struct sp_frame_spec *spec)
{
    char err[256];
    if (sp_frame_spec_parse(spec, w->s, err, sizeof err) != 0)
        return cmd__fail(c, w, 0, "bad framing \"%.80s\": %s", w->s, err);
    return 0;
}

/* Framing from --framing, or raw. */
static int framing_opt(struct cmd_ctx *c, struct sp_frame_spec *spec)
{
    const struct cmd_word *w = cmd__opt(c, "--framing");
    if (w == NULL) {
        sp_frame_spec_raw(spec);
        return 0;
    }
    return parse_spec(c, w, spec);
}

static int engine_fail(struct cmd_ctx *c, const char *err)
{
    return cmd__fail(c, NULL, 0, "%s", err[0] ? err : "refused");
}

/* The queue waits for the outcome of a socket that is still being set up
 * (connect, or a host name being resolved). */
static int wait_created(struct cmd_ctx *c, enum cmd_pend_kind kind, uint32_t id, const char *verb)
{
    struct cmd_pending *p = &c->q->pend;
    p->kind = kind;
    p->id = id;
    snprintf(p->verb, sizeof p->verb, "%s", verb);
    return cmd__pending_start(c);
}

/* The words every creating command starts with: the address (argument 0)
 * and --framing. Clears o and points it at spec. Returns the address word,
 * or NULL after cmd__fail(). */
static const struct cmd_word *target(struct cmd_ctx *c, struct sp_addr *addr,
                                     struct sp_frame_spec *spec, struct sp_sock_opts *o)
{
    memset(o, 0, sizeof *o);
    o->framing = spec;
    const struct cmd_word *a = cmd__arg(c, 0);
    if (parse_addr(c, a, addr) != 0 || framing_opt(c, spec) != 0)
        return NULL;
    return a;
}

/* --reuseport and --v6only, which the kernel takes only before bind. */
static void prebind_opts(struct cmd_ctx *c, struct sp_sock_opts *o)
{
    o->reuseport = cmd__opt(c, "--reuseport") != NULL;
    o->v6only = cmd__opt(c, "--v6only") != NULL;
}

int cmd__exec_listen(struct cmd_ctx *c)
{
    struct sp_addr addr;
    struct sp_frame_spec spec;
    struct sp_sock_opts o;
    uint64_t backlog = 0;
    const struct cmd_word *a = target(c, &addr, &spec, &o);
    if (a == NULL)
        return CMD_FAIL;
    if (addr.kind == SP_ADDR_UDP || addr.kind == SP_ADDR_UNIX_DGRAM || addr.kind == SP_ADDR_PACKET)
        return cmd__fail(c, a, 0,
                         "listen is for tcp:, unix: and unix-seqpacket:; use bind for datagram and "
                         "packet sockets");
    const struct cmd_word *b = cmd__opt(c, "--backlog");
    if (b != NULL && cmd__number(c, b, 1, 65535, 0, &backlog) != 0)
        return CMD_FAIL;
    struct sp_tls_opts tls;
    if (cmd__tls_opts(c, &addr, 1, &tls) != 0)
        return CMD_FAIL;
    o.tls = &tls;
    o.echo = cmd__opt(c, "--echo") != NULL;
    o.close_on_eof = cmd__opt(c, "--close-on-eof") != NULL;
    o.backlog = (int)backlog;
    o.wire = cmd__opt(c, "--wire") != NULL;
    prebind_opts(c, &o);
    char err[256] = "";
    uint32_t id = 0;
    if (sp_engine_listen(c->eng, &addr, &o, &id, err, sizeof err) != 0)
        return engine_fail(c, err);
    c->q->current = id;
    if (addr.kind == SP_ADDR_TCP && addr.family == AF_UNSPEC)
        return wait_created(c, PEND_CREATE, id, "listen");
    return CMD_OK;
}

int cmd__exec_connect(struct cmd_ctx *c)
{
    struct sp_addr addr;
    struct sp_frame_spec spec;
    struct sp_sock_opts o;
    const struct cmd_word *a = target(c, &addr, &spec, &o);
    if (a == NULL)
        return CMD_FAIL;
    if (addr.kind == SP_ADDR_PACKET)
        return cmd__fail(c, a, 0, "a packet socket is not connected: use bind packet:IFACE");
    const struct cmd_word *t = cmd__opt(c, "--timeout");
    if (t != NULL && cmd__number(c, t, 1, MS_MAX, 0, &o.timeout_ms) != 0)
        return CMD_FAIL;
    o.wire = cmd__opt(c, "--wire") != NULL;
    prebind_opts(c, &o);
    /* --bind ADDR: the source address (and port) of the connection; its
     * scheme may be left out (--bind 127.0.0.2:0). */
    struct sp_addr src;
    const struct cmd_word *b = cmd__opt(c, "--bind");
    if (b != NULL) {
        if (addr.kind != SP_ADDR_TCP && addr.kind != SP_ADDR_UDP)
            return cmd__fail(c, b, 0, "--bind is for tcp: and udp: connections");
        if (parse_addr_as(c, b, addr.kind == SP_ADDR_TCP ? "tcp" : "udp", &src) != 0)
            return CMD_FAIL;
        if (src.kind != addr.kind || src.family == AF_UNSPEC)
            return cmd__fail(c, b, 0,
                             "--bind wants a literal %s address (HOST:PORT, port 0: any port)",
                             addr.kind == SP_ADDR_TCP ? "tcp:" : "udp:");
        o.bind = &src;
    }
    struct sp_tls_opts tls;
    if (cmd__tls_opts(c, &addr, 0, &tls) != 0)
        return CMD_FAIL;
    o.tls = &tls;
    char err[256] = "";
    uint32_t id = 0;
    if (sp_engine_connect(c->eng, &addr, &o, &id, err, sizeof err) != 0)
        return engine_fail(c, err);
    c->q->current = id;
    return wait_created(c, PEND_CONNECT, id, "connect");
}

int cmd__exec_bind(struct cmd_ctx *c)
{
    struct sp_addr addr;
    struct sp_frame_spec spec;
    struct sp_sock_opts o;
    const struct cmd_word *a = target(c, &addr, &spec, &o);
    if (a == NULL)
        return CMD_FAIL;
    if (addr.kind != SP_ADDR_UDP && addr.kind != SP_ADDR_UNIX_DGRAM && addr.kind != SP_ADDR_PACKET)
        return cmd__fail(c, a, 0,
                         "bind is for udp:, unix-dgram: and packet:; use listen for streams");
    prebind_opts(c, &o);
    char err[256] = "";
    uint32_t id = 0;
    if (sp_engine_bind(c->eng, &addr, &o, &id, err, sizeof err) != 0)
        return engine_fail(c, err);
    c->q->current = id;
    if (addr.family == AF_UNSPEC && addr.kind == SP_ADDR_UDP)
        return wait_created(c, PEND_CREATE, id, "bind");
    return CMD_OK;
}

/* Appends the file's bytes, refusing more than the write queue holds. */
static int read_file(struct cmd_ctx *c, const struct cmd_word *w, struct sp_buf *out)
{
    /* O_NONBLOCK: opening a FIFO nobody writes to would block the loop
     * (and with it --timeout and SIGTERM) for good. */
    int fd = open(w->s, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return cmd__fail(c, w, 0, "cannot open %.200s: %s", w->s, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return cmd__fail(c, w, 0, "%.200s is a directory", w->s);
    }
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
        /* Its writer may never finish: the read would block the loop. */
        close(fd);
        return cmd__fail(c, w, 0, "%.200s is a FIFO: --file reads files", w->s);
    }
    size_t total = 0;
    unsigned char buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return cmd__fail(c, w, 0, "cannot read %.200s: %s", w->s, strerror(e));
        }
        if (r == 0)
            break;
        total += (size_t)r;
        if (total > SP_WRITE_QUEUE_MAX) {
            close(fd);
            return cmd__fail(c, w, 0, "%.200s is larger than the 8 MiB write queue", w->s);
        }
        sp_buf_append(out, buf, (size_t)r);
    }
    close(fd);
    return 0;
}

/* "A,B,C" into sizes. */
/* A,B,C: sizes of 1 .. limit for option `name`, at most max of them. */
static int parse_sizes(struct cmd_ctx *c, const struct cmd_word *w, const char *name,
                       uint64_t limit, size_t *sizes, size_t max, size_t *n)
{
    size_t i = 0, k = 0;
    while (i <= w->len) {
        const char *comma = memchr(w->s + i, ',', w->len - i);
        size_t j = comma != NULL ? (size_t)(comma - w->s) : w->len;
        uint64_t v = 0;
        size_t pos;
        int r = sp_parse_u64(w->s + i, j - i, 0, &v, &pos);
        if (r == SP_NUM_TOO_LARGE || (r == 0 && v > limit))
            return cmd__fail(c, w, i, "%s: size too large (at most %llu)", name,
                             (unsigned long long)limit);
        if (r == SP_NUM_NOT_DIGIT && pos > 0)
            return cmd__fail(c, w, i + pos, "unexpected \"%c\" in %s", w->s[i + pos], name);
        if (r != 0 || v == 0)
            return cmd__fail(c, w, r != 0 ? i : j, "%s wants sizes > 0 separated by commas (A,B,C)",
                             name);
        if (k == max)
            return cmd__fail(c, w, i, "%s: at most %zu sizes", name, max);
        sizes[k++] = (size_t)v;
        i = j + 1;
    }
    *n = k;
    return 0;
}

#define SEND_PARTS_MAX CMD_WORDS_MAX
#define CHUNKS_MAX     64

int cmd__exec_send(struct cmd_ctx *c)
{
    const struct cmd_word *file = cmd__opt(c, "--file");
    int end = cmd__opt(c, "--end") != NULL;
    int hex = cmd__opt(c, "--hex") != NULL;
    uint32_t id;
    if (cmd__take_data_id(c, (file != NULL || end) ? 0 : 1, &id) != 0)
        return CMD_FAIL;
    struct sp_send_req req;
    memset(&req, 0, sizeof req);
    struct sp_addr to;
    size_t chunks[CHUNKS_MAX];
    size_t starts[SEND_PARTS_MAX + 1], lens[SEND_PARTS_MAX + 1];
    const unsigned char *parts[SEND_PARTS_MAX + 1];
    size_t nparts = 0;
    struct sp_buf data;
    sp_buf_init(&data);
    int r = CMD_FAIL;
    if (cmd__nargs(c) == 0 && file == NULL && !end) {
        cmd__fail(c, NULL, 0, "nothing to send; usage: %s", c->ent->usage);
        goto out;
    }
    for (int i = 0; i < cmd__nargs(c); i++) {
        starts[nparts] = data.len;
        if (cmd__data(c, cmd__arg(c, i), hex, &data) != 0)
            goto out;
        lens[nparts] = data.len - starts[nparts];
        nparts++;
    }
    if (file != NULL) {
        starts[nparts] = data.len;
        if (read_file(c, file, &data) != 0)
            goto out;
        lens[nparts] = data.len - starts[nparts];
        nparts++;
    }
    if (data.len > SP_WRITE_QUEUE_MAX) {
        cmd__fail(c, NULL, 0, "message of %zu bytes is larger than the 8 MiB write queue",
                  data.len);
        goto out;
    }
    const struct cmd_word *w;
    if ((w = cmd__opt(c, "--to")) != NULL) {
        struct sp_sock_info in;
        const char *scheme = NULL;
        if (sp_engine_sock_info(c->eng, id, &in) == 0)
            scheme = in.kind == SP_SOCK_UDP          ? "udp"
                     : in.kind == SP_SOCK_UNIX_DGRAM ? "unix-dgram"
                                                     : NULL;
        if (parse_addr_as(c, w, scheme, &to) != 0)
            goto out;
        req.to = &to;
    }
    uint64_t v;
    if ((w = cmd__opt(c, "--split")) != NULL) {
        if (cmd__number(c, w, 1, SP_WRITE_QUEUE_MAX, 1, &v) != 0)
            goto out;
        req.split = (size_t)v;
    }
    if ((w = cmd__opt(c, "--chunks")) != NULL) {
        if (req.split > 0) {
            cmd__fail(c, w, 0, "--split and --chunks exclude each other");
            goto out;
        }
        if (parse_sizes(c, w, "--chunks", SP_WRITE_QUEUE_MAX, chunks, CHUNKS_MAX, &req.nchunks) !=
            0)
            goto out;
        req.chunks = chunks;
    }
    if ((w = cmd__opt(c, "--delay")) != NULL) {
        if (cmd__number(c, w, 0, MS_MAX, 0, &req.delay_ms) != 0)
            goto out;
        if (req.split == 0 && req.nchunks == 0) {
            cmd__fail(c, w, 0, "--delay needs --split or --chunks");
            goto out;
        }
    }
    if ((w = cmd__opt(c, "--repeat")) != NULL && cmd__number(c, w, 1, 1000000, 0, &req.repeat) != 0)
        goto out;
    if ((w = cmd__opt(c, "--every")) != NULL) {
        if (cmd__number(c, w, 0, MS_MAX, 0, &req.every_ms) != 0)
            goto out;
        if (req.repeat == 0) {
            cmd__fail(c, w, 0, "--every needs --repeat");
            goto out;
        }
    }
    for (size_t i = 0; i < nparts; i++)
        parts[i] = data.data + starts[i];
    req.parts = parts;
    req.lens = lens;
    req.nparts = nparts;
    req.raw = cmd__opt(c, "--raw") != NULL;
    req.end = end;
    req.pad = cmd__opt(c, "--pad") != NULL;
    req.once = cmd__opt(c, "--once") != NULL;
    req.oob = cmd__opt(c, "--oob") != NULL;
    if ((w = cmd__opt(c, "--fd")) != NULL)
        req.fd_path = w->s;
    char err[256] = "";
    if (sp_engine_send(c->eng, id, &req, err, sizeof err) != 0) {
        engine_fail(c, err);
        goto out;
    }
    r = CMD_OK;
    /* Sends spread over time hold the queue until their last write, so a
     * script's next line sees them done. */
    if (req.repeat > 1 || req.delay_ms > 0) {
        struct cmd_pending *p = &c->q->pend;
        p->kind = PEND_SEND;
        p->id = id;
        p->n = req.repeat > 1 ? req.repeat : 1;
        snprintf(p->verb, sizeof p->verb, "send");
        r = cmd__pending_start(c);
    }
out:
    sp_buf_cleanup(&data);
    return r;
}

int cmd__exec_framing(struct cmd_ctx *c)
{
    uint32_t id;
    struct sp_frame_spec spec;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0 ||
        parse_spec(c, cmd__arg(c, 0), &spec) != 0)
        return CMD_FAIL;
    char err[256] = "";
    if (sp_engine_set_framing(c->eng, id, &spec, err, sizeof err) != 0)
        return engine_fail(c, err);
    return CMD_OK;
}

int cmd__exec_recvsize(struct cmd_ctx *c)
{
    uint32_t id;
    uint64_t n;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0 ||
        cmd__number(c, cmd__arg(c, 0), 1, SP_RECVSIZE_MAX, 1, &n) != 0)
        return CMD_FAIL;
    char err[256] = "";
    if (sp_engine_set_recvsize(c->eng, id, (size_t)n, err, sizeof err) != 0)
        return engine_fail(c, err);
    return CMD_OK;
}

typedef int (*id_op)(struct sp_engine *, uint32_t, char *, size_t);

/* Commands of the form `verb [ID]`. */
static int simple(struct cmd_ctx *c, id_op op)
{
    uint32_t id;
    if (cmd__take_id(c, 0, &id) != 0 || cmd__want_args(c, 0, 0) != 0)
        return CMD_FAIL;
    char err[256] = "";
    if (op(c->eng, id, err, sizeof err) != 0)
        return engine_fail(c, err);
    return CMD_OK;
}

int cmd__exec_pause(struct cmd_ctx *c)
{
    return simple(c, sp_engine_pause);
}

int cmd__exec_resume(struct cmd_ctx *c)
{
    return simple(c, sp_engine_resume);
}

int cmd__exec_close(struct cmd_ctx *c)
{
    return simple(c, sp_engine_close);
}

int cmd__exec_reset(struct cmd_ctx *c)
{
    return simple(c, sp_engine_reset);
}

int cmd__exec_recv(struct cmd_ctx *c)
{
    uint32_t id;
    uint64_t n = 0, tmo;
    struct sp_recv_req req;
    memset(&req, 0, sizeof req);
    if (cmd__take_id(c, 0, &id) != 0 || cmd__want_args(c, 0, 1) != 0)
        return CMD_FAIL;
    if (cmd__nargs(c) > 0 && cmd__number(c, cmd__arg(c, 0), 1, SP_RECVSIZE_MAX, 1, &n) != 0)
        return CMD_FAIL;
    req.n = (size_t)n;
    const struct cmd_word *w = cmd__opt(c, "--iov");
    if (w != NULL) {
        if (n > 0)
            return cmd__fail(c, cmd__arg(c, 0), 0, "give N or --iov, not both");
        size_t sizes[SP_IOV_MAX];
        if (parse_sizes(c, w, "--iov", SP_RECVSIZE_MAX, sizes, SP_IOV_MAX, &req.niov) != 0)
            return CMD_FAIL;
        for (size_t i = 0; i < req.niov; i++)
            req.iov[i] = (uint32_t)sizes[i];
    }
    static const struct {
        const char *opt;
        unsigned flag;
    } flags[] = {
        {"--peek", SP_RECV_PEEK},   {"--waitall", SP_RECV_WAITALL}, {"--oob", SP_RECV_OOB},
        {"--trunc", SP_RECV_TRUNC}, {"--block", SP_RECV_BLOCK},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (cmd__opt(c, flags[i].opt) != NULL)
            req.flags |= flags[i].flag;
    if (cmd__timeout_opt(c, &tmo) != 0)
        return CMD_FAIL;
    if (cmd__opt(c, "--timeout") != NULL && !(req.flags & (SP_RECV_BLOCK | SP_RECV_WAITALL)))
        return cmd__fail(c, cmd__opt(c, "--timeout"), 0,
                         "--timeout goes with --block or --waitall");
    char err[256] = "";
    int r = sp_engine_recvmsg(c->eng, id, &req, err, sizeof err);
    if (r < 0)
        return engine_fail(c, err);
    if (r == 0)
        return CMD_OK;
    struct cmd_pending *p = &c->q->pend;
    p->kind = PEND_RECV;
    p->id = id;
    p->timeout_ms = tmo;
    snprintf(p->verb, sizeof p->verb, "recv --%s",
             (req.flags & SP_RECV_WAITALL) ? "waitall" : "block");
    return cmd__pending_start(c);
}

int cmd__exec_shutdown(struct cmd_ctx *c)
{
    uint32_t id;
    if (cmd__take_id(c, 1, &id) != 0)
        return CMD_FAIL;
    const struct cmd_word *w = cmd__arg(c, 0);
    enum sp_shut how;
    if (cmd__want_args(c, 1, 1) != 0)
        return CMD_FAIL;
    if (cmd__is(w, "wr") || cmd__is(w, "write"))
        how = SP_SHUT_WR;
    else if (cmd__is(w, "rd") || cmd__is(w, "read"))
        how = SP_SHUT_RD;
    else if (cmd__is(w, "both") || cmd__is(w, "rdwr"))
        how = SP_SHUT_BOTH;
    else
        return cmd__fail(c, w, 0, "shutdown direction must be wr, rd or both, not \"%.40s\"", w->s);
    char err[256] = "";
    if (sp_engine_shutdown(c->eng, id, how, err, sizeof err) != 0)
        return engine_fail(c, err);
    return CMD_OK;
}

/* on/off as 1/0, or -1 after reporting. */
static int onoff(struct cmd_ctx *c, const struct cmd_word *w)
{
    if (cmd__is(w, "on") || cmd__is(w, "1") || cmd__is(w, "yes"))
        return 1;
    if (cmd__is(w, "off") || cmd__is(w, "0") || cmd__is(w, "no"))
        return 0;
    cmd__fail(c, w, 0, "expected on or off");
    return -1;
}

/* set keep-closed N: engine-wide, so it takes no ID. */
static int set_keep_closed(struct cmd_ctx *c)
{
    if (cmd__want_args(c, 2, 2) != 0)
        return CMD_FAIL;
    uint64_t n;
    if (cmd__number(c, cmd__arg(c, 1), 0, 1000000, 1, &n) != 0)
        return CMD_FAIL;
    sp_engine_set_keep_closed(c->eng, (size_t)n);
    return CMD_OK;
}

/* set mss N without ID: stored, set on every TCP socket made from now on
 * before its connect or listen (the kernel's MSS is fixed by then). */
static int set_mss_default(struct cmd_ctx *c)
{
    const struct cmd_word *v = cmd__arg(c, 1);
    uint64_t n = 0;
    if (!cmd__is(v, "off") && cmd__number(c, v, 0, 32767, 0, &n) != 0)
        return CMD_FAIL;
    if (n > 0 && n < 88)
        return cmd__fail(c, v, 0, "mss must be 88 .. 32767 (TCP_MAXSEG), or 0 or off");
    sp_engine_set_mss(c->eng, (int)n);
    return CMD_OK;
}

/* set [ID] passcred|pktinfo|recvttl|recvtos|timestamp|recverr on|off and
 * set [ID] cmsgbuf N: what the kernel hands over next to the bytes.
 * Returns CMD_OK or CMD_FAIL, or *mine = 0 when name is none of them. */
static int set_anc(struct cmd_ctx *c, uint32_t id, const struct cmd_word *name,
                   const struct cmd_word *val, int *mine)
{
    static const struct {
        const char *name;
        unsigned opt;
    } anc[] = {
        {"passcred", SP_ANC_PASSCRED}, {"pktinfo", SP_ANC_PKTINFO},     {"recvttl", SP_ANC_RECVTTL},
        {"recvtos", SP_ANC_RECVTOS},   {"timestamp", SP_ANC_TIMESTAMP}, {"recverr", SP_ANC_RECVERR},
    };
    char err[256] = "";
    *mine = 1;
    if (cmd__is(name, "cmsgbuf")) {
        uint64_t n;
        if (cmd__number(c, val, 0, SP_CMSGBUF_MAX, 1, &n) != 0)
            return CMD_FAIL;
        if (sp_engine_set_cmsgbuf(c->eng, id, (size_t)n, err, sizeof err) != 0)
            return engine_fail(c, err);
        return CMD_OK;
    }
    for (size_t k = 0; k < sizeof anc / sizeof anc[0]; k++) {
        if (!cmd__is(name, anc[k].name))
            continue;
        int on = onoff(c, val);
        if (on < 0)
            return CMD_FAIL;
        if (sp_engine_set_anc(c->eng, id, anc[k].opt, on, err, sizeof err) != 0)
            return engine_fail(c, err);
        return CMD_OK;
    }
    *mine = 0;
    return CMD_OK;
}

int cmd__exec_set(struct cmd_ctx *c)
{
    uint32_t id;
    if (cmd__is(cmd__arg(c, 0), "keep-closed"))
        return set_keep_closed(c);
    if (cmd__is(cmd__arg(c, 0), "mss") && cmd__nargs(c) == 2)
        return set_mss_default(c);
    if (cmd__is(cmd__arg(c, 0), "wire-buffer"))
        return cmd__set_wire_buffer(c);
    if (cmd__is(cmd__arg(c, 1), "keep-closed") || cmd__is(cmd__arg(c, 1), "wire-buffer"))
        return cmd__fail(c, cmd__arg(c, 0), 0, "%s applies to every socket: no ID",
                         cmd__arg(c, 1)->s);
    if (cmd__take_id(c, 2, &id) != 0)
        return CMD_FAIL;
    if (cmd__want_args(c, 2, 2) != 0)
        return CMD_FAIL;
    const struct cmd_word *name = cmd__arg(c, 0), *val = cmd__arg(c, 1);
    int mine;
    int ar = set_anc(c, id, name, val, &mine);
    if (mine)
        return ar;
    static const struct {
        const char *name;
        enum sp_sockopt opt;
        int boolean;
    } opts[] = {
        {"nodelay", SP_OPT_NODELAY, 1},     {"cork", SP_OPT_CORK, 1},
        {"keepalive", SP_OPT_KEEPALIVE, 1}, {"oobinline", SP_OPT_OOBINLINE, 1},
        {"rcvbuf", SP_OPT_RCVBUF, 0},       {"sndbuf", SP_OPT_SNDBUF, 0},
        {"linger", SP_OPT_LINGER, 0},       {"mss", SP_OPT_MSS, 0},
    };
    size_t k;
    for (k = 0; k < sizeof opts / sizeof opts[0]; k++)
        if (cmd__is(name, opts[k].name))
            break;
    if (k == sizeof opts / sizeof opts[0] && cmd__is_ipopt(name))
        return cmd__set_ipopt(c, id, name, val);
    if (k == sizeof opts / sizeof opts[0])
        return cmd__fail(c, name, 0,
                         "unknown option \"%.40s\" (nodelay cork keepalive oobinline rcvbuf sndbuf "
                         "linger mss ttl tos broadcast v6only reuseport bindtodevice "
                         "mcast-join passcred pktinfo recvttl recvtos timestamp recverr cmsgbuf "
                         "wire-buffer)",
                         name->s);
    long value;
    if (opts[k].boolean) {
        int b = onoff(c, val);
        if (b < 0)
            return CMD_FAIL;
        value = b;
    } else if (opts[k].opt == SP_OPT_LINGER && cmd__is(val, "off")) {
        value = -1;
    } else {
        uint64_t v;
        uint64_t hi = opts[k].opt == SP_OPT_LINGER ? 65535 : 1u << 30;
        if (cmd__number(c, val, 0, hi, opts[k].opt != SP_OPT_LINGER, &v) != 0)
            return CMD_FAIL;
        value = (long)v;
    }
    char err[256] = "";
    if (sp_engine_setopt(c->eng, id, opts[k].opt, value, err, sizeof err) != 0)
        return engine_fail(c, err);
    return CMD_OK;
}

int cmd__exec_echo(struct cmd_ctx *c)
{
    uint32_t id;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0)
        return CMD_FAIL;
    int on = onoff(c, cmd__arg(c, 0));
    if (on < 0)
        return CMD_FAIL;
    char err[256] = "";
    if (sp_engine_set_echo(c->eng, id, on, err, sizeof err) != 0)
        return engine_fail(c, err);
    return CMD_OK;
}
