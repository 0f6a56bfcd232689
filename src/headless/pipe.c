/* The data pipe of `--stdio`. stdin is read through the engine's loop and
 * only while the socket's write queue is short (backpressure: a fast stdin
 * waits for the peer instead of filling memory). stdout is written without
 * blocking the loop when it is a pipe or socket: what the consumer does not
 * take yet is buffered up to OUT_HIGH, then the socket stops reading (the
 * kernel's window pushes back on the peer) until the buffer drains. */
#include "pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockpit/engine/engine.h"
#include "sockpit/proto/buf.h"
#include "sockpit/proto/escape.h"
#include "sockpit/proto/render.h"
#include "sockpit/proto/xmalloc.h"

#define IN_CHUNK     65536
#define IN_HIGH      (1u << 20) /* write queue at which stdin stops being read */
#define IN_LOW       (256u * 1024)
#define LINE_MAX_    (4u << 20) /* a line longer than this goes out as it is */
#define OUT_HIGH     (1u << 20) /* stdout bytes buffered before the socket pauses */
#define OUT_RETRY_MS 10
#define END_FLUSH_MS 2000 /* at exit, how long a stuck stdout is waited for */

struct hpipe {
    struct sp_engine *eng;
    const struct sp_headless_opts *opts;
    int sub;
    uint32_t sock;
    int stream, sends; /* the socket is a stream; stdin is read for it */
    struct sp_watch *in, *in_timer, *out_timer, *quit_timer;
    int in_eof, in_blocked;
    struct sp_buf line; /* a partial line (line-wise framings, --hex) */
    struct sp_buf out;
    int out_fd, out_tty, out_nonblock, out_flags, out_broken;
    int paused_by_us;
    int failed;
    int utf8;
};

static int line_wise(const struct hpipe *p)
{
    struct sp_sock_info in;
    if (p->opts->stdio_hex)
        return 1;
    if (sp_engine_sock_info(p->eng, p->sock, &in) != 0)
        return 0;
    return in.spec.kind != SP_FRAME_RAW && in.spec.kind != SP_FRAME_EOF;
}

static void say(struct hpipe *p, const char *what, const char *why)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appends(&b, "sockpit: ");
    sp_buf_appends(&b, what);
    sp_render(&b, why, strlen(why), p->utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
    sp_buf_appendc(&b, '\n');
    fputs(sp_buf_str(&b), stderr);
    sp_buf_cleanup(&b);
}

static void send_bytes(struct hpipe *p, const unsigned char *d, size_t n)
{
    struct sp_buf hex;
    sp_buf_init(&hex);
    if (p->opts->stdio_hex) {
        size_t pos;
        char err[128];
        if (sp_hex_parse((const char *)d, n, &hex, &pos, err, sizeof err) != 0) {
            say(p, "stdin: bad hex: ", err);
            p->failed = 1;
            sp_buf_cleanup(&hex);
            return;
        }
        d = hex.data;
        n = hex.len;
    }
    const unsigned char *parts[1] = {d};
    size_t lens[1] = {n};
    struct sp_send_req req;
    memset(&req, 0, sizeof req);
    req.parts = parts;
    req.lens = lens;
    req.nparts = 1;
    char err[256];
    if (sp_engine_send(p->eng, p->sock, &req, err, sizeof err) != 0) {
        say(p, "stdin: ", err);
        p->failed = 1;
    }
    sp_buf_cleanup(&hex);
}

/* Line-wise input: each complete line (without its \n and a \r before it)
 * is one message; the rest waits for more. */
static void send_lines(struct hpipe *p, int at_eof)
{
    size_t start = 0;
    unsigned char *d = p->line.data;
    for (size_t i = 0; i < p->line.len; i++) {
        if (d[i] != '\n')
            continue;
        size_t end = i > start && d[i - 1] == '\r' ? i - 1 : i;
        if (!(p->opts->stdio_hex && end == start))
            send_bytes(p, d + start, end - start);
        start = i + 1;
    }
    size_t rest = p->line.len - start;
    if (rest > 0 && (at_eof || rest >= LINE_MAX_)) {
        send_bytes(p, d + start, rest);
        start = p->line.len;
        rest = 0;
    }
    memmove(d, d + start, rest);
    p->line.len = rest;
}

static void in_stop(struct hpipe *p)
{
    if (p->in != NULL)
        sp_watch_stop(p->in);
    if (p->in_timer != NULL)
        sp_watch_stop(p->in_timer);
    p->in = p->in_timer = NULL;
}

static void on_in(void *ud);

/* stdin through the loop: a poll watch, or for what epoll cannot watch (a
 * regular file, /dev/null), a 1 ms timer: reading those never blocks. */
static void in_start(struct hpipe *p)
{
    if (p->in != NULL || p->in_timer != NULL || p->in_eof)
        return;
    p->in = sp_engine_watch_fd(p->eng, STDIN_FILENO, on_in, p);
    if (p->in == NULL)
        p->in_timer = sp_engine_watch_timer(p->eng, 0, 1, on_in, p);
}

static void on_quit_timer(void *ud)
{
    struct hpipe *p = ud;
    sp_watch_stop(p->quit_timer);
    p->quit_timer = NULL;
    char err[256];
    sp_engine_close(p->eng, p->sock, err, sizeof err);
}

/* EOF on stdin: the rest goes out, then our side's FIN (nc -N); with -q
 * the run ends that many seconds later, else at the peer's EOF. */
static void in_eof(struct hpipe *p)
{
    p->in_eof = 1;
    in_stop(p);
    if (line_wise(p))
        send_lines(p, 1);
    char err[256];
    if (p->stream)
        sp_engine_shutdown(p->eng, p->sock, SP_SHUT_WR, err, sizeof err);
    if (p->opts->quit_after_s >= 0)
        p->quit_timer = sp_engine_watch_timer(p->eng, (uint64_t)(p->opts->quit_after_s * 1000), 0,
                                              on_quit_timer, p);
}

static int queue_full(struct hpipe *p, size_t limit)
{
    struct sp_sock_info in;
    return sp_engine_sock_info(p->eng, p->sock, &in) == 0 && in.queued >= limit;
}

static void on_in(void *ud)
{
    struct hpipe *p = ud;
    unsigned char buf[IN_CHUNK];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n < 0)
        say(p, "stdin: ", strerror(errno));
    if (n <= 0) {
        in_eof(p);
        return;
    }
    if (line_wise(p)) {
        sp_buf_append(&p->line, buf, (size_t)n);
        send_lines(p, 0);
    } else {
        send_bytes(p, buf, (size_t)n);
    }
    if (queue_full(p, IN_HIGH)) {
        p->in_blocked = 1;
        in_stop(p);
    }
}

static void out_write(struct hpipe *p)
{
    size_t off = 0;
    while (off < p->out.len && !p->out_broken) {
        ssize_t w = write(p->out_fd, p->out.data + off, p->out.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0) {
            p->out_broken = 1; /* the reader went away: drop the output */
            off = p->out.len;
            break;
        }
        off += (size_t)w;
    }
    memmove(p->out.data, p->out.data + off, p->out.len - off);
    p->out.len -= off;
}

static void on_out_timer(void *ud);

/* A slow consumer: past OUT_HIGH the socket stops reading; a timer retries
 * the writes (the loop has no writable watch) and resumes it. */
static void out_pressure(struct hpipe *p)
{
    char err[256];
    if (p->out.len > 0 && p->out_timer == NULL)
        p->out_timer = sp_engine_watch_timer(p->eng, OUT_RETRY_MS, OUT_RETRY_MS, on_out_timer, p);
    if (p->out.len >= OUT_HIGH && !p->paused_by_us) {
        if (sp_engine_pause(p->eng, p->sock, err, sizeof err) == 0)
            p->paused_by_us = 1;
    } else if (p->out.len < OUT_HIGH / 4 && p->paused_by_us) {
        p->paused_by_us = 0;
        sp_engine_resume(p->eng, p->sock, err, sizeof err);
    }
    if (p->out.len == 0 && p->out_timer != NULL) {
        sp_watch_stop(p->out_timer);
        p->out_timer = NULL;
    }
}

static void on_out_timer(void *ud)
{
    struct hpipe *p = ud;
    out_write(p);
    out_pressure(p);
}

static void output(struct hpipe *p, const struct sp_event *ev, int newline)
{
    if (p->opts->stdio_hex) {
        sp_hex_append(&p->out, ev->data, ev->data_len);
        newline = 1;
    } else if (p->out_tty) {
        /* Peer bytes never reach a terminal raw (DESIGN §8). */
        sp_render(&p->out, ev->data, ev->data_len, p->utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
        newline = 1;
    } else {
        sp_buf_append(&p->out, ev->data, ev->data_len);
    }
    if (newline)
        sp_buf_appendc(&p->out, '\n');
    out_write(p);
    out_pressure(p);
}

static void attach(struct hpipe *p, const struct sp_event *ev)
{
    p->sock = ev->sock;
    p->stream = sp_kind_is_stream(ev->kind);
    p->sends = ev->type != SP_EV_BOUND;
    /* A TLS socket takes plaintext once its handshake is done. */
    struct sp_sock_info in;
    if (p->sends && sp_engine_sock_info(p->eng, p->sock, &in) == 0 && in.tls[0] != '\0')
        return;
    if (p->sends)
        in_start(p);
}

static void on_event(void *ud, const struct sp_event *ev)
{
    struct hpipe *p = ud;
    if (p->sock == 0 &&
        (ev->type == SP_EV_CONNECTED || ev->type == SP_EV_ACCEPTED || ev->type == SP_EV_BOUND)) {
        attach(p, ev);
        return;
    }
    if (ev->sock != p->sock || p->sock == 0)
        return;
    char err[256];
    switch (ev->type) {
    case SP_EV_TLS:
        if (p->sends && ev->code != NULL && strcmp(ev->code, "handshake_done") == 0)
            in_start(p);
        break;
    case SP_EV_RECV:
        if (!ev->framed)
            output(p, ev, 0);
        break;
    case SP_EV_MSG: {
        struct sp_sock_info in;
        int nl = sp_engine_sock_info(p->eng, p->sock, &in) == 0 &&
                 (in.spec.kind == SP_FRAME_LINE || in.spec.kind == SP_FRAME_DELIM);
        output(p, ev, nl);
        break;
    }
    case SP_EV_SEND:
        if (p->in_blocked && !queue_full(p, IN_LOW)) {
            p->in_blocked = 0;
            in_start(p);
        }
        break;
    case SP_EV_EOF:
        /* The peer is done: what we still queue goes out, then close. */
        sp_engine_close(p->eng, p->sock, err, sizeof err);
        break;
    case SP_EV_ERROR:
        p->failed = 1;
        break;
    case SP_EV_CLOSED:
        in_stop(p);
        break;
    default:
        break;
    }
}

static void out_setup(struct hpipe *p)
{
    struct stat st;
    p->out_fd = STDOUT_FILENO;
    p->out_tty = isatty(p->out_fd);
    p->out_flags = fcntl(p->out_fd, F_GETFL);
    /* Only a pipe or socket is made non-blocking: a terminal or a file
     * never holds us up for long, and their open file may be shared. */
    if (fstat(p->out_fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) &&
        p->out_flags >= 0 && !(p->out_flags & O_NONBLOCK) &&
        fcntl(p->out_fd, F_SETFL, p->out_flags | O_NONBLOCK) == 0)
        p->out_nonblock = 1;
}

struct hpipe *hpipe_new(struct sp_engine *eng, const struct sp_headless_opts *opts)
{
    struct hpipe *p = sp_xcalloc(1, sizeof *p);
    p->eng = eng;
    p->opts = opts;
    const char *cs = nl_langinfo(CODESET);
    p->utf8 = cs != NULL && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
    sp_buf_init(&p->line);
    sp_buf_init(&p->out);
    out_setup(p);
    uint32_t mask = SP_EV_MASK(SP_EV_CONNECTED) | SP_EV_MASK(SP_EV_ACCEPTED) |
                    SP_EV_MASK(SP_EV_BOUND) | SP_EV_MASK(SP_EV_RECV) | SP_EV_MASK(SP_EV_MSG) |
                    SP_EV_MASK(SP_EV_SEND) | SP_EV_MASK(SP_EV_EOF) | SP_EV_MASK(SP_EV_ERROR) |
                    SP_EV_MASK(SP_EV_CLOSED) | SP_EV_MASK(SP_EV_TLS);
    p->sub = sp_engine_subscribe(eng, mask, on_event, p);
    return p;
}

int hpipe_failed(const struct hpipe *p)
{
    return p->failed;
}

/* What the consumer has not taken yet, waited for at most END_FLUSH_MS. */
static void out_drain(struct hpipe *p)
{
    for (int i = 0; i < END_FLUSH_MS / OUT_RETRY_MS && p->out.len > 0 && !p->out_broken; i++) {
        out_write(p);
        if (p->out.len > 0) {
            struct pollfd pf = {.fd = p->out_fd, .events = POLLOUT};
            poll(&pf, 1, OUT_RETRY_MS);
        }
    }
}

void hpipe_free(struct hpipe *p)
{
    in_stop(p);
    if (p->out_timer != NULL)
        sp_watch_stop(p->out_timer);
    if (p->quit_timer != NULL)
        sp_watch_stop(p->quit_timer);
    sp_engine_unsubscribe(p->eng, p->sub);
    out_drain(p);
    if (p->out_nonblock)
        fcntl(p->out_fd, F_SETFL, p->out_flags);
    sp_buf_cleanup(&p->line);
    sp_buf_cleanup(&p->out);
    free(p);
}
