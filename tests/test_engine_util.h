/* Helpers for the engine tests: an event recorder, bounded loop driving, and
 * raw loopback peers. Included by tests/test_engine_*.c only. */
#ifndef SOCKPIT_TEST_ENGINE_UTIL_H
#define SOCKPIT_TEST_ENGINE_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "sockpit/proto/addr.h"
#include "sockpit/engine/engine.h"
#include "sockpit/proto/frame.h"

/* One recorded event: copies of everything an event carries. */
struct rec {
    struct sp_event ev; /* pointers cleared */
    unsigned char *data;
    size_t data_len;
    uint32_t cuts[SP_EV_CUTS_MAX];
    size_t ncuts;
    uint64_t blocks[64];
    size_t nblocks;
    char local[SP_ADDR_TEXT_MAX], peer[SP_ADDR_TEXT_MAX], from[SP_ADDR_TEXT_MAX];
    char how[8], tcp[16], op[32], code[32], message[200], reason[96];
};

struct recorder {
    struct rec *v;
    size_t n, cap;
};

static inline void te_copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src != NULL ? src : "");
}

static inline void te_record(void *ud, const struct sp_event *ev)
{
    struct recorder *r = ud;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    struct rec *x = &r->v[r->n++];
    memset(x, 0, sizeof *x);
    x->ev = *ev;
    if (ev->data != NULL && ev->data_len > 0) {
        x->data = malloc(ev->data_len);
        memcpy(x->data, ev->data, ev->data_len);
        x->data_len = ev->data_len;
    }
    x->ncuts = ev->ncuts;
    if (ev->cuts != NULL)
        memcpy(x->cuts, ev->cuts, ev->ncuts * sizeof *ev->cuts);
    x->nblocks = ev->nblocks < 64 ? ev->nblocks : 64;
    if (ev->blocks != NULL)
        memcpy(x->blocks, ev->blocks, x->nblocks * sizeof *ev->blocks);
    te_copy(x->local, sizeof x->local, ev->local);
    te_copy(x->peer, sizeof x->peer, ev->peer);
    te_copy(x->from, sizeof x->from, ev->from);
    te_copy(x->how, sizeof x->how, ev->how);
    te_copy(x->tcp, sizeof x->tcp, ev->tcp);
    te_copy(x->op, sizeof x->op, ev->op);
    te_copy(x->code, sizeof x->code, ev->code);
    te_copy(x->message, sizeof x->message, ev->message);
    te_copy(x->reason, sizeof x->reason, ev->reason);
    x->ev.data = NULL;
    x->ev.cuts = NULL;
    x->ev.blocks = NULL;
    x->ev.local = x->ev.peer = x->ev.from = x->ev.how = x->ev.tcp = NULL;
    x->ev.op = x->ev.code = x->ev.message = x->ev.reason = x->ev.line = NULL;
}

static inline void te_rec_free(struct recorder *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].data);
    free(r->v);
    memset(r, 0, sizeof *r);
}

static inline size_t te_count(const struct recorder *r, enum sp_ev_type t, uint32_t sock)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].ev.type == t && (sock == 0 || r->v[i].ev.sock == sock))
            n++;
    return n;
}

/* The nth (from 0) event of type t on sock, or NULL. */
static inline const struct rec *te_nth(const struct recorder *r, enum sp_ev_type t, uint32_t sock,
                                       size_t nth)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].ev.type == t && (sock == 0 || r->v[i].ev.sock == sock) && nth-- == 0)
            return &r->v[i];
    return NULL;
}

/* Index of the first event of type t on sock, or -1. */
static inline long te_index(const struct recorder *r, enum sp_ev_type t, uint32_t sock)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].ev.type == t && (sock == 0 || r->v[i].ev.sock == sock))
            return (long)i;
    return -1;
}

/* Was a state event with this TCP state seen on sock? */
static inline int te_saw_state(const struct recorder *r, uint32_t sock, const char *tcp)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].ev.type == SP_EV_STATE && r->v[i].ev.sock == sock &&
            strcmp(r->v[i].tcp, tcp) == 0)
            return 1;
    return 0;
}

/* Sum of recv lengths on sock. */
static inline uint64_t te_recv_bytes(const struct recorder *r, uint32_t sock)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].ev.type == SP_EV_RECV && r->v[i].ev.sock == sock)
            n += r->v[i].ev.len;
    return n;
}

static inline uint64_t te_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop (non-blocking turns, 1 ms apart) for ms milliseconds. */
static inline void te_run_for(struct sp_engine *eng, uint64_t ms)
{
    uint64_t end = te_ms() + ms;
    do {
        sp_engine_poll(eng);
        usleep(1000);
    } while (te_ms() < end);
}

/* Runs the loop until at least n events of type t on sock were recorded,
 * at most ms milliseconds. Returns 1 if they were. */
static inline int te_wait(struct sp_engine *eng, const struct recorder *r, enum sp_ev_type t,
                          uint32_t sock, size_t n, uint64_t ms)
{
    uint64_t end = te_ms() + ms;
    for (;;) {
        sp_engine_poll(eng);
        if (te_count(r, t, sock) >= n)
            return 1;
        if (te_ms() > end)
            return 0;
        usleep(500);
    }
}

/* Runs the loop until a state event with tcp on sock, at most ms. */
static inline int te_wait_state(struct sp_engine *eng, const struct recorder *r, uint32_t sock,
                                const char *tcp, uint64_t ms)
{
    uint64_t end = te_ms() + ms;
    for (;;) {
        sp_engine_poll(eng);
        if (te_saw_state(r, sock, tcp))
            return 1;
        if (te_ms() > end)
            return 0;
        usleep(1000);
    }
}

static inline int te_wait_bytes(struct sp_engine *eng, const struct recorder *r, uint32_t sock,
                                uint64_t n, uint64_t ms)
{
    uint64_t end = te_ms() + ms;
    for (;;) {
        sp_engine_poll(eng);
        if (te_recv_bytes(r, sock) >= n)
            return 1;
        if (te_ms() > end)
            return 0;
        usleep(500);
    }
}

static inline void te_noop(void *ud)
{
    (void)ud;
}

/* An engine with a recorder subscribed to everything. */
static inline struct sp_engine *te_engine(struct recorder *r, int keep_history)
{
    struct sp_engine *eng = NULL;
    struct sp_engine_opts o = {.keep_history = keep_history, .keep_data = keep_history};
    assert_int_equal(sp_engine_new(&eng, &o), 0);
    memset(r, 0, sizeof *r);
    assert_true(sp_engine_subscribe(eng, SP_EV_MASK_ALL, te_record, r) > 0);
    /* Kernel-state polling does not keep the loop alive on its own (a
     * front end's watches do): stand in for a front end. */
    assert_non_null(sp_engine_watch_timer(eng, 3600000, 0, te_noop, NULL));
    return eng;
}

/* Frees the engine: every handle must have been closed. */
static inline void te_done(struct sp_engine *eng, struct recorder *r)
{
    assert_int_equal(sp_engine_destroy(eng), 0);
    te_rec_free(r);
}

static inline struct sp_addr te_addr(const char *text)
{
    struct sp_addr a;
    char err[200];
    if (sp_addr_parse(&a, text, err, sizeof err) != 0)
        fail_msg("sp_addr_parse(%s): %s", text, err);
    return a;
}

/* Port of a "127.0.0.1:NNN" / "[::1]:NNN" text. */
static inline unsigned te_port(const char *local)
{
    const char *c = strrchr(local, ':');
    return c != NULL ? (unsigned)atoi(c + 1) : 0;
}

/* Listens on 127.0.0.1:0 through the engine; returns the id, port in *port. */
static inline uint32_t te_listen(struct sp_engine *eng, const struct recorder *r,
                                 const struct sp_sock_opts *o, unsigned *port)
{
    struct sp_addr a = te_addr("tcp:127.0.0.1:0");
    uint32_t id = 0;
    char err[200] = "";
    if (sp_engine_listen(eng, &a, o, &id, err, sizeof err) != 0)
        fail_msg("listen: %s", err);
    const struct rec *l = te_nth(r, SP_EV_LISTENING, id, 0);
    assert_non_null(l);
    *port = te_port(l->local);
    assert_true(*port > 0);
    return id;
}

/* Connects to HOSTPART:port, HOSTPART like "tcp:127.0.0.1" or "tcp:[::1]". */
static inline uint32_t te_connect(struct sp_engine *eng, const char *hostpart, unsigned port,
                                  const struct sp_sock_opts *o)
{
    char text[128];
    snprintf(text, sizeof text, "%s:%u", hostpart, port);
    struct sp_addr a = te_addr(text);
    uint32_t id = 0;
    char err[200] = "";
    if (sp_engine_connect(eng, &a, o, &id, err, sizeof err) != 0)
        fail_msg("connect %s: %s", text, err);
    return id;
}

static inline void te_send(struct sp_engine *eng, uint32_t id, const void *p, size_t n)
{
    const unsigned char *parts[1] = {p};
    size_t lens[1] = {n};
    struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 1};
    char err[200] = "";
    if (sp_engine_send(eng, id, &req, err, sizeof err) != 0)
        fail_msg("send: %s", err);
}

static inline int raw_listen(int family, unsigned *port, int backlog)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        len = sizeof *s6;
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(listen(fd, backlog), 0);
    len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* A non-blocking connect to 127.0.0.1:port (completes in the kernel). */
static inline int raw_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&s4, sizeof s4) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Fills the accept queue of a raw listener made with backlog 0 (it holds
 * one connection) with n non-blocking connects into fill[], and waits, at
 * most ms, until the kernel shows it full: TCP_INFO on a listener gives the
 * accept queue's length (tcpi_unacked) and its backlog (tcpi_sacked). Only
 * then does the kernel drop every further SYN, so that a connect stays in
 * SYN_SENT; a handshake the kernel has not finished yet (a loaded machine)
 * would leave room for it. */
static inline void raw_fill_backlog(int lfd, unsigned port, int *fill, int n, uint64_t ms)
{
    for (int i = 0; i < n; i++)
        fill[i] = raw_connect(port);
    uint64_t end = te_ms() + ms;
    for (;;) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        assert_int_equal(getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
        if (ti.tcpi_unacked > ti.tcpi_sacked)
            return;
        if (te_ms() > end)
            fail_msg("the accept queue is not full after %llu ms (%u of %u)",
                     (unsigned long long)ms, ti.tcpi_unacked, ti.tcpi_sacked);
        usleep(1000);
    }
}

/* Accepts on a raw listener while turning the engine's loop, at most ms. */
static inline int raw_accept(struct sp_engine *eng, int lfd, uint64_t ms)
{
    uint64_t end = te_ms() + ms;
    int fl = fcntl(lfd, F_GETFL);
    fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            fcntl(lfd, F_SETFL, fl);
            return fd;
        }
        if (te_ms() > end)
            return -1;
        sp_engine_poll(eng);
        usleep(500);
    }
}

/* A client socket of ours connected to a raw listener of the test's:
 * returns our id, with the listener in *lfd and the accepted peer in *peer. */
static inline uint32_t te_raw_pair(struct sp_engine *eng, const struct recorder *r, int *lfd,
                                   int *peer)
{
    unsigned port;
    *lfd = raw_listen(AF_INET, &port, 4);
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
    *peer = raw_accept(eng, *lfd, 2000);
    assert_true(*peer >= 0);
    assert_true(te_wait(eng, r, SP_EV_CONNECTED, c, 1, 2000));
    return c;
}

/* Reads from a raw socket while turning the loop until n bytes arrived or
 * EOF/error; returns bytes read, or -errno if an error came first. */
static inline ssize_t raw_read_n(struct sp_engine *eng, int fd, void *buf, size_t n, uint64_t ms)
{
    uint64_t end = te_ms() + ms;
    size_t got = 0;
    while (got < n && te_ms() <= end) {
        ssize_t r = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0)
            break;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return got > 0 ? (ssize_t)got : -errno;
        sp_engine_poll(eng);
        usleep(500);
    }
    return (ssize_t)got;
}

/* Waits (turning the loop) until recv on fd reports EOF (0) or an error. */
static inline int raw_wait_end(struct sp_engine *eng, int fd, uint64_t ms)
{
    uint64_t end = te_ms() + ms;
    char buf[4096];
    while (te_ms() <= end) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0)
            return 0;
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        sp_engine_poll(eng);
        usleep(500);
    }
    return 1; /* neither */
}

#endif
