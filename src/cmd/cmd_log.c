/* `log [ID] PATH`: the socket's events as JSON lines, first those still in
 * its history, then each new one as it happens. Every event is written with
 * its own write(2), so a killed sockpit loses nothing already logged. The
 * log ends when the socket has closed (closed and summary written).
 *
 * `log [ID] --pcap FILE`: the segment events' packets (the wire view keeps
 * each captured IP packet's headers) as a pcap file of raw IP, one record
 * per write(2) so the file is readable at any moment; it follows the socket
 * (a listener: and its connections; no ID: every socket) until the queue
 * ends, since a closed socket's teardown still arrives. */
#include "cmd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockpit/engine/engine.h"

#define PCAP_RECENT 64 /* packets a pcap log remembers to write each once */

struct cmd_log {
    TAILQ_ENTRY(cmd_log) entry;
    struct sp_cmdq *q;
    uint32_t id;
    int fd;
    int sub;
    int saw_closed, saw_summary;
    int pcap; /* a pcap file of segments */
    int all;  /* pcap: every socket's */
    /* pcap: the packets written last. When both ends are our sockets, each
     * packet is two segment events (one's out, the other's in): one record.
     * The two are not always side by side: a watched listener's handshake
     * is published at accept(2), after the connecting socket's copy. */
    struct {
        int64_t us;
        uint64_t hash;
        size_t len;
    } recent[PCAP_RECENT];
    size_t nrecent;
    struct sp_buf line;
};

/* pcap's file format (LINKTYPE_RAW: each record starts at the IP header). */
#define PCAP_MAGIC_US     0xa1b2c3d4u
#define PCAP_LINKTYPE_RAW 101u
#define PCAP_SNAPLEN      65535u

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

static void put32(struct sp_buf *b, uint32_t v)
{
    sp_buf_append(b, &v, 4);
}

static int pcap_header(struct cmd_log *l)
{
    sp_buf_reset(&l->line);
    uint16_t ver[2] = {2, 4};
    put32(&l->line, PCAP_MAGIC_US);
    sp_buf_append(&l->line, ver, sizeof ver);
    put32(&l->line, 0); /* thiszone */
    put32(&l->line, 0); /* sigfigs */
    put32(&l->line, PCAP_SNAPLEN);
    put32(&l->line, PCAP_LINKTYPE_RAW);
    return write_all(l->fd, l->line.data, l->line.len);
}

static int pcap_wants(const struct cmd_log *l, const struct sp_event *ev)
{
    return ev->type == SP_EV_SEGMENT && ev->data != NULL &&
           (l->all || ev->sock == l->id || ev->parent == l->id);
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return h;
}

/* Whether the packet was written lately (the other end's copy); if not it
 * is remembered as written. */
static int pcap_seen(struct cmd_log *l, const struct sp_event *ev)
{
    uint64_t h = fnv(ev->data, ev->data_len);
    size_t n = l->nrecent < PCAP_RECENT ? l->nrecent : PCAP_RECENT;
    for (size_t i = 0; i < n; i++)
        if (l->recent[i].us == ev->seg.wall_us && l->recent[i].hash == h &&
            l->recent[i].len == ev->data_len)
            return 1;
    size_t k = l->nrecent++ % PCAP_RECENT;
    l->recent[k].us = ev->seg.wall_us;
    l->recent[k].hash = h;
    l->recent[k].len = ev->data_len;
    return 0;
}

static int pcap_record(struct cmd_log *l, const struct sp_event *ev)
{
    if (pcap_seen(l, ev))
        return 0;
    sp_buf_reset(&l->line);
    int64_t us = ev->seg.wall_us;
    put32(&l->line, (uint32_t)(us / 1000000));
    put32(&l->line, (uint32_t)(us % 1000000));
    put32(&l->line, (uint32_t)ev->data_len);
    put32(&l->line, ev->seg.ip_len > ev->data_len ? ev->seg.ip_len : (uint32_t)ev->data_len);
    sp_buf_append(&l->line, ev->data, ev->data_len);
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
    if (l->pcap) {
        if (pcap_wants(l, ev) && pcap_record(l, ev) != 0)
            log_end(l);
        return;
    }
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

/* The segments kept so far, oldest capture first across sockets. */
struct kept {
    int64_t us;
    uint64_t hash; /* of the packet: the two events of one packet sort side by side */
    uint32_t id;
    uint64_t idx;
};

static int kept_cmp(const void *a, const void *b)
{
    const struct kept *x = a, *y = b;
    if (x->us != y->us)
        return x->us < y->us ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int pcap_history(struct cmd_log *l, struct sp_engine *eng)
{
    uint32_t ids[4096];
    size_t n = sp_engine_sock_ids(eng, ids, sizeof ids / sizeof ids[0]);
    if (n > sizeof ids / sizeof ids[0])
        n = sizeof ids / sizeof ids[0];
    struct kept *k = NULL;
    size_t nk = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t end = sp_hist_end(eng, ids[i]);
        for (uint64_t j = sp_hist_begin(eng, ids[i]); j < end; j++) {
            struct sp_event ev;
            if (sp_hist_get(eng, ids[i], j, &ev) != 0 || !pcap_wants(l, &ev))
                continue;
            if (nk == cap) {
                cap = cap ? cap * 2 : 256;
                k = sp_xreallocarray(k, cap, sizeof *k);
            }
            k[nk++] = (struct kept){ev.seg.wall_us, fnv(ev.data, ev.data_len), ids[i], j};
        }
    }
    if (nk > 0)
        qsort(k, nk, sizeof *k, kept_cmp);
    int r = 0;
    for (size_t i = 0; i < nk && r == 0; i++) {
        struct sp_event ev;
        if (sp_hist_get(eng, k[i].id, k[i].idx, &ev) == 0)
            r = pcap_record(l, &ev);
    }
    free(k);
    return r;
}

static int open_log(struct cmd_ctx *c, const struct cmd_word *path);

/* log [ID] --pcap FILE */
static int exec_pcap(struct cmd_ctx *c, const struct cmd_word *path)
{
    uint32_t id = 0;
    if (cmd__nargs(c) > 0 && (cmd__take_id(c, 0, &id) != 0 || cmd__want_args(c, 0, 0) != 0))
        return CMD_FAIL;
    struct sp_sock_info in;
    if (id != 0 && cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    int fd = open_log(c, path);
    if (fd < 0)
        return CMD_FAIL;
    struct cmd_log *l = sp_xcalloc(1, sizeof *l);
    l->q = c->q;
    l->id = id;
    l->all = id == 0;
    l->pcap = 1;
    l->fd = fd;
    sp_buf_init(&l->line);
    TAILQ_INSERT_TAIL(&c->q->logs, l, entry);
    if (pcap_header(l) != 0 || pcap_history(l, c->eng) != 0) {
        int e = errno;
        log_end(l);
        return cmd__fail(c, path, 0, "cannot write %.200s: %s", path->s, strerror(e));
    }
    l->sub = sp_engine_subscribe(c->eng, SP_EV_MASK(SP_EV_SEGMENT), on_event, l);
    return CMD_OK;
}

/* Opens PATH for writing, or says why not (returns -1). */
static int open_log(struct cmd_ctx *c, const struct cmd_word *path)
{
    /* O_NONBLOCK: opening a FIFO nobody reads would block the loop (and
     * with it --timeout and SIGTERM) for good; it fails with ENXIO instead.
     * Writes stay blocking, as to any file. */
    int fd = open(path->s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0666);
    if (fd < 0 && errno == ENXIO)
        return cmd__fail(c, path, 0, "cannot open %.200s: a FIFO nobody reads", path->s), -1;
    if (fd < 0)
        return cmd__fail(c, path, 0, "cannot open %.200s: %s", path->s, strerror(errno)), -1;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int cmd__exec_log(struct cmd_ctx *c)
{
    const struct cmd_word *pcap = cmd__opt(c, "--pcap");
    if (pcap != NULL)
        return exec_pcap(c, pcap);
    uint32_t id;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0)
        return CMD_FAIL;
    const struct cmd_word *path = cmd__arg(c, 0);
    struct sp_sock_info in;
    if (cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    int fd = open_log(c, path);
    if (fd < 0)
        return CMD_FAIL;
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
