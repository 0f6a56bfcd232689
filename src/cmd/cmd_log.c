/* `log [ID] PATH`: the socket's events as JSON lines, first those still in
 * its history, then each new one as it happens. Every event is written with
 * its own write(2), so a killed sockpit loses nothing already logged. The
 * log ends when the socket has closed (closed and summary written). */
#include "cmd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockpit/engine/engine.h"

struct cmd_log {
    TAILQ_ENTRY(cmd_log) entry;
    struct sp_cmdq *q;
    uint32_t id;
    int fd;
    int sub;
    int saw_closed, saw_summary;
    struct sp_buf line;
};

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int log_event(struct cmd_log *l, const struct sp_event *ev)
{
    sp_buf_reset(&l->line);
    sp_event_format_json(&l->line, ev);
    sp_buf_appendc(&l->line, '\n');
    return write_all(l->fd, l->line.data, l->line.len);
}

/* Unlinks and frees one log. */
static void log_end(struct cmd_log *l)
{
    TAILQ_REMOVE(&l->q->logs, l, entry);
    if (l->sub > 0)
        sp_engine_unsubscribe(l->q->eng, l->sub);
    if (l->fd >= 0)
        close(l->fd);
    sp_buf_cleanup(&l->line);
    free(l);
}

static void on_event(void *ud, const struct sp_event *ev)
{
    struct cmd_log *l = ud;
    if (ev->sock != l->id)
        return;
    if (log_event(l, ev) != 0) {
        log_end(l);
        return;
    }
    l->saw_closed |= ev->type == SP_EV_CLOSED;
    l->saw_summary |= ev->type == SP_EV_SUMMARY;
    if (l->saw_closed && l->saw_summary)
        log_end(l);
}

int cmd__exec_log(struct cmd_ctx *c)
{
    uint32_t id;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0)
        return CMD_FAIL;
    const struct cmd_word *path = cmd__arg(c, 0);
    struct sp_sock_info in;
    if (cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    /* O_NONBLOCK: opening a FIFO nobody reads would block the loop (and
     * with it --timeout and SIGTERM) for good; it fails with ENXIO instead.
     * Writes stay blocking, as to any file. */
    int fd = open(path->s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0666);
    if (fd < 0 && errno == ENXIO)
        return cmd__fail(c, path, 0, "cannot open %.200s: a FIFO nobody reads", path->s);
    if (fd < 0)
        return cmd__fail(c, path, 0, "cannot open %.200s: %s", path->s, strerror(errno));
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct cmd_log *l = sp_xcalloc(1, sizeof *l);
    l->q = c->q;
    l->id = id;
    l->fd = fd;
    sp_buf_init(&l->line);
    TAILQ_INSERT_TAIL(&c->q->logs, l, entry);

    uint64_t begin = sp_hist_begin(c->eng, id), end = sp_hist_end(c->eng, id);
    struct sp_event dropped;
    if (sp_hist_dropped(c->eng, id, &dropped) == 0)
        log_event(l, &dropped);
    for (uint64_t i = begin; i < end; i++) {
        struct sp_event ev;
        if (sp_hist_get(c->eng, id, i, &ev) != 0)
            continue;
        if (log_event(l, &ev) != 0) {
            int e = errno;
            log_end(l);
            return cmd__fail(c, path, 0, "cannot write %.200s: %s", path->s, strerror(e));
        }
        l->saw_closed |= ev.type == SP_EV_CLOSED;
        l->saw_summary |= ev.type == SP_EV_SUMMARY;
    }
    if (!in.open && !in.connecting && (l->saw_closed || end == 0)) {
        /* Nothing more will happen to it; the file holds its whole story. */
        log_end(l);
        return CMD_OK;
    }
    l->sub = sp_engine_subscribe(c->eng, SP_EV_MASK_ALL, on_event, l);
    return CMD_OK;
}

void cmd__logs_free(struct sp_cmdq *q)
{
    while (!TAILQ_EMPTY(&q->logs))
        log_end(TAILQ_FIRST(&q->logs));
}
