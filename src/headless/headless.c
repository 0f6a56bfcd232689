/* The headless front end: a subscriber that prints every event (text or
 * JSON lines) and a command queue fed with the script. It decides when the
 * run is over: `quit`, every socket closed after the script ended, a failed
 * line (without --keep-going), --timeout, or SIGINT/SIGTERM. */
#include "sockpit/headless/headless.h"

#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sockpit/proto/buf.h"
#include "sockpit/cmd/cmd.h"
#include "sockpit/engine/engine.h"
#include "sockpit/proto/event.h"
#include "sockpit/proto/render.h"

#include "pipe.h"

/* Output to a regular file is written in blocks of this size. */
#define FILE_BLOCK (1u << 20)
/* Elsewhere output is written once per loop iteration (before the loop
 * waits), or sooner when this much is pending. */
#define PIPE_BLOCK (64u << 10)

struct hl {
    const struct sp_headless_opts *opts;
    struct sp_engine *eng;
    struct sp_cmdq *q;
    int fd;
    int regular;
    int err_too; /* also show cmd_error on stderr (stdout is not a terminal) */
    int utf8;
    struct sp_buf out;
    int broken; /* the reader went away */
    int script_done, quitting, stopping;
    int ending; /* after the loop: the queue is gone, only printing is left */
    int status;
    uint64_t closed;
    uint64_t deadline_ms; /* --timeout on the monotonic clock; 0: none */
    int timeout_said;     /* the --timeout message is written once */
    struct sp_watch *timer, *sigint, *sigterm, *prepare;
};

/* Set by SIGINT/SIGTERM, which also reach the loop's own watches: a write
 * to a reader that stopped reading blocks the loop, so only this flag can
 * tell the writer to give up. */
static volatile sig_atomic_t term_seen;
static struct sigaction prev_int, prev_term;

static void on_term_signal(int sig, siginfo_t *si, void *uc)
{
    term_seen = 1;
    const struct sigaction *p = sig == SIGINT ? &prev_int : &prev_term;
    if (p->sa_flags & SA_SIGINFO)
        p->sa_sigaction(sig, si, uc);
    else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN)
        p->sa_handler(sig);
}

/* Chains onto the handlers the loop's signal watches installed. */
static void term_flag_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_term_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    term_seen = 0;
    sigaction(SIGINT, &sa, &prev_int);
    sigaction(SIGTERM, &sa, &prev_term);
}

static void term_flag_remove(void)
{
    sigaction(SIGINT, &prev_int, NULL);
    sigaction(SIGTERM, &prev_term, NULL);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The run's end by --timeout, said once: the timer and a flush that waits
 * for a reader may both find the deadline passed. */
static void say_timeout(struct hl *h)
{
    if (h->timeout_said)
        return;
    h->timeout_said = 1;
    fprintf(stderr, "sockpit: still running after --timeout %g s\n", h->opts->timeout_s);
}

/* Waits until fd takes more output. Returns 0 when a signal or --timeout
 * says to stop waiting for a reader that does not read. */
static int wait_writable(struct hl *h)
{
    struct pollfd pf = {.fd = h->fd, .events = POLLOUT};
    for (;;) {
        if (term_seen)
            return 0;
        if (h->deadline_ms != 0 && mono_ms() >= h->deadline_ms) {
            say_timeout(h);
            return 0;
        }
        int r = poll(&pf, 1, 100);
        if (r > 0 || (r < 0 && errno != EINTR))
            return 1; /* writable, or an error the write will report */
    }
}

/* To a file, one write; elsewhere pieces of at most PIPE_BUF after the fd
 * said it has room, which a pipe or a terminal takes without blocking. */
static void flush(struct hl *h)
{
    size_t off = 0;
    while (off < h->out.len && !h->broken) {
        size_t n = h->out.len - off;
        if (!h->regular) {
            if (!wait_writable(h)) {
                h->broken = 1; /* the run ends; what is unwritten is dropped */
                h->status = 1;
                break;
            }
            if (n > PIPE_BUF)
                n = PIPE_BUF;
        }
        ssize_t w = write(h->fd, h->out.data + off, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            h->broken = 1; /* EPIPE (SIGPIPE is ignored) or a full disk */
            break;
        }
        off += (size_t)w;
    }
    sp_buf_reset(&h->out);
}

static void stop(struct hl *h)
{
    if (h->stopping)
        return;
    h->stopping = 1;
    sp_engine_stop(h->eng);
}

static void emitted(struct hl *h)
{
    if (h->out.len >= (h->regular ? FILE_BLOCK : PIPE_BLOCK))
        flush(h);
    if (h->broken)
        stop(h);
}

/* Every socket the engine made has closed. The count of closed events is
 * the cheap test; a scan confirms it before the run ends. */
static int all_closed(struct hl *h)
{
    uint32_t last = sp_engine_last_id(h->eng);
    if (h->closed < last)
        return 0;
    for (uint32_t id = 1; id <= last; id++) {
        struct sp_sock_info in;
        if (sp_engine_sock_info(h->eng, id, &in) == 0 && (in.open || in.connecting))
            return 0;
    }
    return 1;
}

static void check_done(struct hl *h)
{
    if (h->quitting || (h->script_done && sp_cmdq_idle(h->q)))
        if (all_closed(h))
            stop(h);
}

/* A lab's note is read by people: the event line without the text, then
 * the note's lines indented below it (each rendered safe: a lab file may
 * come from anyone). */
static void format_note(struct hl *h, const struct sp_event *ev)
{
    struct sp_event head = *ev;
    head.message = NULL;
    sp_event_format_text(&h->out, &head, h->utf8);
    const char *s = ev->message != NULL ? ev->message : "";
    while (*s != '\0') {
        size_t n = strcspn(s, "\n");
        sp_buf_appends(&h->out, "\n    ");
        sp_render(&h->out, s, n, h->utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
        s += n;
        if (*s == '\n')
            s++;
    }
}

static void on_event(void *ud, const struct sp_event *ev)
{
    struct hl *h = ud;
    if (h->opts->json)
        sp_event_format_json(&h->out, ev);
    else if (ev->type == SP_EV_NOTE)
        format_note(h, ev);
    else
        sp_event_format_text(&h->out, ev, h->utf8);
    sp_buf_appendc(&h->out, '\n');
    if (ev->type == SP_EV_CMD_ERROR && h->err_too && !ev->expected) {
        struct sp_buf e;
        sp_buf_init(&e);
        sp_buf_appends(&e, "sockpit: ");
        const char *m = ev->message != NULL ? ev->message : "";
        sp_render(&e, m, strlen(m), h->utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
        sp_buf_appendc(&e, '\n');
        fputs(sp_buf_str(&e), stderr);
        sp_buf_cleanup(&e);
    }
    emitted(h);
    if (ev->type == SP_EV_CLOSED && !h->ending) {
        h->closed++;
        check_done(h);
    }
}

/* Command output (help, list, info): our own text with peer strings already
 * rendered; in JSON mode it becomes an "output" object so stdout stays one
 * JSON value per line. */
static void on_output(void *ud, const char *line)
{
    struct hl *h = ud;
    if (!h->opts->json) {
        sp_buf_appends(&h->out, line);
        sp_buf_appendc(&h->out, '\n');
    } else {
        uint64_t t = sp_engine_now_ns(h->eng);
        sp_buf_appendf(&h->out, "{\"t\":%llu.%06llu,\"ev\":\"output\",\"text\":",
                       (unsigned long long)(t / 1000000000u),
                       (unsigned long long)(t % 1000000000u / 1000u));
        sp_json_quote(&h->out, line, strlen(line));
        sp_buf_appends(&h->out, "}\n");
    }
    emitted(h);
}

static void on_quit(void *ud)
{
    struct hl *h = ud;
    h->quitting = 1;
    check_done(h);
}

static void on_idle(void *ud, int failed)
{
    struct hl *h = ud;
    h->script_done = 1;
    if (failed && !h->opts->keep_going) {
        h->status = 1;
        if (h->opts->reset_on_fail) {
            stop(h);
            return;
        }
        /* Closed as `quit` closes: what is queued is delivered, then FIN;
         * the run ends once every socket has closed. */
        h->quitting = 1;
        sp_engine_close_all(h->eng);
    }
    check_done(h);
}

static void on_timeout(void *ud)
{
    struct hl *h = ud;
    say_timeout(h);
    h->status = 1;
    stop(h);
}

static void on_prepare(void *ud)
{
    struct hl *h = ud;
    if (h->out.len > 0 && !h->regular)
        flush(h);
    if (h->broken)
        stop(h);
}

static void on_signal(void *ud)
{
    struct hl *h = ud;
    h->status = 1;
    stop(h);
}

static int same_file(int a, int b)
{
    struct stat sa, sb;
    if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int utf8_locale(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs != NULL && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

int sp_headless_main(const struct sp_headless_opts *opts)
{
    struct hl h;
    memset(&h, 0, sizeof h);
    h.opts = opts;
    h.fd = opts->out_fd;
    h.utf8 = utf8_locale();
    sp_buf_init(&h.out);
    struct stat st;
    h.regular = fstat(h.fd, &st) == 0 && S_ISREG(st.st_mode);
    /* In text mode a failure's reason also goes where people look, stderr,
     * unless stderr is where the events go anyway (the same terminal or
     * file): `sockpit --script f.sp >/dev/null` still says why it failed. */
    h.err_too = !opts->json && !same_file(h.fd, STDERR_FILENO);
    signal(SIGPIPE, SIG_IGN);

    /* Only `log` reads the history here (it writes a socket's events so
     * far): without one in the script nothing is kept, whatever is printed.
     * Every line is known before the run (stdin scripts are read to EOF),
     * so a run with `log` keeps history from the first event on; a lab
     * might log, so it counts too. */
    int uses_log = 0;
    for (size_t i = 0; i < opts->nlines; i++)
        uses_log |= sp_cmd_line_is(opts->lines[i], "log") || sp_cmd_line_is(opts->lines[i], "lab");
    struct sp_engine_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.keep_history = uses_log;
    eo.keep_data = eo.keep_history;
    if (sp_engine_new(&h.eng, &eo) != 0) {
        fprintf(stderr, "sockpit: cannot start the engine\n");
        return 1;
    }
    uint32_t mask = SP_EV_MASK_ALL & ~SP_EV_MASK(SP_EV_DROPPED);
    if (opts->quiet)
        mask &= ~SP_EV_MASK_DATA;
    /* With the pipe, stdout carries the data: events go to stderr, and
     * only the errors unless -v asks for all. */
    if (opts->stdio && !opts->verbose)
        mask = SP_EV_MASK(SP_EV_CMD_ERROR) | SP_EV_MASK(SP_EV_ERROR);
    if (opts->stdio)
        h.err_too = 0;
    int sub = sp_engine_subscribe(h.eng, mask, on_event, &h);
    /* After the printer: -v shows an event before what the pipe does about it. */
    struct hpipe *pipe = opts->stdio ? hpipe_new(h.eng, opts) : NULL;

    struct sp_cmd_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hooks.output = on_output;
    hooks.quit = on_quit;
    h.q = sp_cmdq_new(h.eng, &hooks, &h);
    sp_cmdq_set_lazy_tap(h.q, 1);
    sp_cmdq_set_keep_going(h.q, opts->keep_going);
    sp_cmdq_on_idle(h.q, on_idle, &h);
    for (size_t i = 0; i < opts->nlines; i++)
        sp_cmdq_push(h.q, opts->lines[i], opts->origins != NULL ? opts->origins[i] : "-e");
    if (opts->nlines == 0)
        h.script_done = 1;

    if (opts->timeout_s > 0) {
        /* It counts from the start: queueing a long script took some of it. */
        double ms = opts->timeout_s * 1000.0 - (double)sp_engine_now_ns(h.eng) / 1e6;
        h.timer = sp_engine_watch_timer(h.eng, ms < 1 ? 1 : (uint64_t)ms, 0, on_timeout, &h);
        h.deadline_ms = mono_ms() + (ms < 1 ? 1 : (uint64_t)ms);
    }
    h.sigint = sp_engine_watch_signal(h.eng, SIGINT, on_signal, &h);
    h.sigterm = sp_engine_watch_signal(h.eng, SIGTERM, on_signal, &h);
    term_flag_install();
    h.prepare = sp_engine_watch_prepare(h.eng, on_prepare, &h);
    if (opts->nlines == 0)
        check_done(&h);

    sp_engine_run(h.eng);
    h.ending = 1;

    if (h.status == 0 && sp_cmdq_failures(h.q) > 0)
        h.status = 1;
    if (pipe != NULL) {
        if (h.status == 0 && hpipe_failed(pipe))
            h.status = 1;
        hpipe_free(pipe);
    }
    if (h.timer != NULL)
        sp_watch_stop(h.timer);
    term_flag_remove();
    sp_watch_stop(h.prepare);
    if (h.sigint != NULL)
        sp_watch_stop(h.sigint);
    if (h.sigterm != NULL)
        sp_watch_stop(h.sigterm);
    sp_cmdq_free(h.q);
    h.q = NULL;
    /* Sockets still open are reset; their closed and summary events are
     * still printed by our subscription. */
    sp_engine_free(h.eng);
    (void)sub;
    flush(&h);
    sp_buf_cleanup(&h.out);
    return h.status;
}
