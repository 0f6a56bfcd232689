/* The engine core: the loop, the socket table, subscribers and the event
 * dispatch, socket teardown, and the loop watches front ends use. */
#include "engine_int.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

void sp__seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The errno names users see in `error` events. libuv's uv_err_name() knows
 * most of them too, but only for codes libuv maps; this table is the
 * authority for plain errno values from our own syscalls. */
static const struct {
    int no;
    const char *name;
} errnames[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {EINTR, "EINTR"},
    {EIO, "EIO"},
    {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},
    {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},
    {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"},
    {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},
    {ENOSPC, "ENOSPC"},
    {EPIPE, "EPIPE"},
    {ENAMETOOLONG, "ENAMETOOLONG"},
    {ELOOP, "ELOOP"},
    {ENOTSOCK, "ENOTSOCK"},
    {EDESTADDRREQ, "EDESTADDRREQ"},
    {EMSGSIZE, "EMSGSIZE"},
    {EPROTOTYPE, "EPROTOTYPE"},
    {ENOPROTOOPT, "ENOPROTOOPT"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
    {EOPNOTSUPP, "EOPNOTSUPP"},
    {EAFNOSUPPORT, "EAFNOSUPPORT"},
    {EADDRINUSE, "EADDRINUSE"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
    {ENETDOWN, "ENETDOWN"},
    {ENETUNREACH, "ENETUNREACH"},
    {ENETRESET, "ENETRESET"},
    {ECONNABORTED, "ECONNABORTED"},
    {ECONNRESET, "ECONNRESET"},
    {ENOBUFS, "ENOBUFS"},
    {EISCONN, "EISCONN"},
    {ENOTCONN, "ENOTCONN"},
    {ESHUTDOWN, "ESHUTDOWN"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {ECONNREFUSED, "ECONNREFUSED"},
    {EHOSTDOWN, "EHOSTDOWN"},
    {EHOSTUNREACH, "EHOSTUNREACH"},
    {EALREADY, "EALREADY"},
    {EINPROGRESS, "EINPROGRESS"},
};

static int errno_known(int no)
{
    for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
        if (errnames[i].no == no)
            return (int)i;
    return -1;
}

const char *sp__err_name(int uverr)
{
    int i = errno_known(-uverr);
    return i >= 0 ? errnames[i].name : uv_err_name(uverr);
}

static const char *err_message(int uverr)
{
    return errno_known(-uverr) >= 0 ? strerror(-uverr) : uv_strerror(uverr);
}

int sp_engine_new(struct sp_engine **out, const struct sp_engine_opts *opts)
{
    struct sp_engine *eng = sp_xcalloc(1, sizeof *eng);
    if (opts != NULL)
        eng->opts = *opts;
    if (eng->opts.connect_timeout_ms == 0)
        eng->opts.connect_timeout_ms = SP_CONNECT_TIMEOUT_MS;
    int r = uv_loop_init(&eng->loop);
    if (r != 0) {
        free(eng);
        return r;
    }
    eng->rbuf = sp_xmalloc(SP_RECVSIZE_MAX);
    eng->loop.data = eng;
    /* Writing to a connection the peer reset must be an EPIPE event, not
     * the death of the process. */
    signal(SIGPIPE, SIG_IGN);
    eng->t0 = uv_hrtime();
    eng->hpool.max = SP_HIST_GLOBAL_MAX;
    eng->nlfd = -1;
    TAILQ_INIT(&eng->klist);
    TAILQ_INIT(&eng->watches);
    uv_timer_init(&eng->loop, &eng->ktimer);
    eng->ktimer.data = eng;
    /* Kernel-state polling alone must not keep sp_engine_run() going. */
    uv_unref((uv_handle_t *)&eng->ktimer);
    TAILQ_INIT(&eng->closed);
    eng->keep_closed = eng->opts.keep_closed > 0 ? eng->opts.keep_closed : SP_KEEP_CLOSED_DEFAULT;
    uv_check_init(&eng->loop, &eng->reaper);
    eng->reaper.data = eng;
    /* Forgetting alone must not keep sp_engine_run() going either. */
    uv_unref((uv_handle_t *)&eng->reaper);
    *out = eng;
    return 0;
}

uint64_t sp_engine_now_ns(const struct sp_engine *eng)
{
    return uv_hrtime() - eng->t0;
}

int sp_engine_run(struct sp_engine *eng)
{
    eng->stop_requested = 0;
    uv_run(&eng->loop, UV_RUN_DEFAULT);
    int stopped = eng->stop_requested;
    eng->stop_requested = 0;
    return stopped ? 0 : 1;
}

void sp_engine_stop(struct sp_engine *eng)
{
    eng->stop_requested = 1;
    uv_stop(&eng->loop);
}

void sp_engine_poll(struct sp_engine *eng)
{
    uv_run(&eng->loop, UV_RUN_NOWAIT);
}

static void watch_unlink_free(struct sp_watch *w)
{
    TAILQ_REMOVE(&w->eng->watches, w, entry);
    free(w);
}

static void watch_closed(uv_handle_t *h)
{
    watch_unlink_free(h->data);
}

static void close_timer(struct sp_sock *s);

/* Starts closing everything still open: sockets (as reset), their timers,
 * the front ends' watches and the kernel-state timer. */
static void close_everything(struct sp_engine *eng)
{
    for (size_t i = 0; i < eng->nsocks; i++) {
        struct sp_sock *s = eng->socks[i];
        if (s->gai != NULL)
            uv_cancel((uv_req_t *)s->gai);
        if (!s->closed)
            sp__sock_close(s, "reset by us", 1);
        if (s->timer != NULL && !uv_is_closing((uv_handle_t *)s->timer))
            close_timer(s);
    }
    struct sp_watch *w;
    TAILQ_FOREACH(w, &eng->watches, entry) {
        if (!w->stopped) {
            w->stopped = 1;
            uv_close(&w->u.h, watch_closed);
        }
    }
    if (!uv_is_closing((uv_handle_t *)&eng->ktimer))
        uv_close((uv_handle_t *)&eng->ktimer, NULL);
    if (!uv_is_closing((uv_handle_t *)&eng->reaper))
        uv_close((uv_handle_t *)&eng->reaper, NULL);
    if (eng->urg_sig_on && !uv_is_closing((uv_handle_t *)&eng->urg_sig))
        uv_close((uv_handle_t *)&eng->urg_sig, NULL);
}

int sp_engine_destroy(struct sp_engine *eng)
{
    if (eng == NULL)
        return 0;
    eng->freeing = 1;
    sp__wire_free(eng);
    sp__tls_cache_free(eng);
    /* A subscriber may call sp_engine_stop() from a closed event of this
     * very teardown, which ends uv_run() before the closing handles were
     * processed: run until nothing is alive. Each pass closes what a
     * subscriber may have opened meanwhile (no new sockets are made while
     * freeing), so this ends once the pending requests have come back. */
    do {
        close_everything(eng);
        uv_run(&eng->loop, UV_RUN_DEFAULT);
    } while (uv_loop_alive(&eng->loop));
    int r = uv_loop_close(&eng->loop);
    assert(r == 0);
    if (r != 0)
        return r; /* never free memory under a live handle: leak it instead */
    if (eng->nlfd >= 0)
        close(eng->nlfd);
    for (size_t i = 0; i < eng->nsocks; i++) {
        struct sp_sock *s = eng->socks[i];
        sp__hist_free(s->hist, &eng->hpool);
        sp__framer_free(s);
        sp__tls_free(s);
        sp__wire_forget(s);
        free(s);
    }
    free(eng->socks);
    free(eng->reap);
    free(eng->subs);
    free(eng->follow);
    free(eng->rbuf);
    free(eng);
    return 0;
}

void sp_engine_free(struct sp_engine *eng)
{
    (void)sp_engine_destroy(eng);
}

static void subs_recompute(struct sp_engine *eng)
{
    uint32_t m = 0;
    size_t data = 0;
    for (size_t i = 0; i < eng->nsubs; i++) {
        const struct sp_sub *sub = &eng->subs[i];
        if (sub->cb == NULL)
            continue;
        m |= sub->mask;
        if ((sub->mask & SP_EV_MASK(SP_EV_MSG)) && sub->data_max > data)
            data = sub->data_max;
    }
    eng->mask = m;
    eng->msg_data_max = data;
}

void sp_engine_sub_data_max(struct sp_engine *eng, int id, size_t max)
{
    for (size_t i = 0; i < eng->nsubs; i++)
        if (eng->subs[i].id == id)
            eng->subs[i].data_max = max;
    subs_recompute(eng);
}

static void subs_compact(struct sp_engine *eng)
{
    size_t j = 0;
    for (size_t i = 0; i < eng->nsubs; i++)
        if (eng->subs[i].cb != NULL)
            eng->subs[j++] = eng->subs[i];
    eng->nsubs = j;
    eng->subs_dirty = 0;
}

int sp_engine_subscribe(struct sp_engine *eng, uint32_t mask, sp_event_cb cb, void *ud)
{
    assert(cb != NULL);
    if (eng->nsubs == eng->capsubs) {
        size_t ncap = eng->capsubs ? eng->capsubs * 2 : 4;
        eng->subs = sp_xreallocarray(eng->subs, ncap, sizeof *eng->subs);
        eng->capsubs = ncap;
    }
    struct sp_sub *sub = &eng->subs[eng->nsubs++];
    sub->id = ++eng->next_sub;
    sub->mask = mask;
    sub->data_max = SIZE_MAX;
    sub->cb = cb;
    sub->ud = ud;
    subs_recompute(eng);
    return sub->id;
}

void sp_engine_unsubscribe(struct sp_engine *eng, int id)
{
    for (size_t i = 0; i < eng->nsubs; i++)
        if (eng->subs[i].id == id && eng->subs[i].cb != NULL) {
            eng->subs[i].cb = NULL;
            eng->subs_dirty = 1;
        }
    subs_recompute(eng);
    if (eng->depth == 0 && eng->subs_dirty)
        subs_compact(eng);
}

static void dispatch(struct sp_engine *eng, struct sp_sock *s, const struct sp_event *ev)
{
    if (s != NULL && eng->opts.keep_history)
        sp__hist_push(&s->hist, &eng->hpool, ev, eng->opts.keep_data, SP_HIST_EVENTS_MAX,
                      SP_HIST_BYTES_MAX);
    uint32_t bit = SP_EV_MASK(ev->type);
    if (!(eng->mask & bit))
        return;
    /* Subscribers added during dispatch do not see this event; the array
     * may move when one is added, so it is indexed afresh every time. */
    size_t n = eng->nsubs;
    eng->depth++;
    for (size_t i = 0; i < n; i++) {
        struct sp_sub sub = eng->subs[i];
        if (sub.cb != NULL && (sub.mask & bit))
            sub.cb(sub.ud, ev);
    }
    eng->depth--;
    if (eng->depth == 0 && eng->subs_dirty)
        subs_compact(eng);
}

void sp__emit(struct sp_engine *eng, struct sp_sock *s, struct sp_event *ev)
{
    ev->t_ns = uv_hrtime() - eng->t0;
    if (s != NULL) {
        ev->sock = s->id;
        ev->kind = s->kind;
        ev->parent = s->parent;
        if (ev->local == s->local)
            ev->local_len = s->local_len;
        if (ev->peer == s->peer)
            ev->peer_len = s->peer_len;
    }
    dispatch(eng, s, ev);
}

void sp_engine_emit(struct sp_engine *eng, const struct sp_event *ev)
{
    struct sp_event e = *ev;
    if (e.t_ns == 0)
        e.t_ns = uv_hrtime() - eng->t0;
    dispatch(eng, e.sock != 0 ? sp__sock_get(eng, e.sock) : NULL, &e);
}

void sp__emit_error(struct sp_sock *s, const char *op, int uverr)
{
    struct sp_engine *eng = s->eng;
    if (!sp__wants(eng, SP_EV_ERROR))
        return;
    struct sp_event ev = {.type = SP_EV_ERROR, .unread = -1};
    ev.op = op;
    ev.code = sp__err_name(uverr);
    ev.message = err_message(uverr);
    sp__emit(eng, s, &ev);
}

void sp__emit_error_msg(struct sp_sock *s, const char *op, int uverr, const char *message)
{
    struct sp_engine *eng = s->eng;
    if (!sp__wants(eng, SP_EV_ERROR))
        return;
    struct sp_event ev = {.type = SP_EV_ERROR, .unread = -1};
    ev.op = op;
    ev.code = sp__err_name(uverr);
    ev.message = message;
    sp__emit(eng, s, &ev);
}

void sp__emit_notice(struct sp_sock *s, const char *message)
{
    struct sp_engine *eng = s->eng;
    if (!sp__wants(eng, SP_EV_NOTICE))
        return;
    struct sp_event ev = {.type = SP_EV_NOTICE, .unread = -1};
    ev.message = message;
    sp__emit(eng, s, &ev);
}

/* Index in eng->socks of the first record with an id >= id. */
static size_t table_find(const struct sp_engine *eng, uint32_t id)
{
    size_t lo = 0, hi = eng->nsocks;
    /* Until something is forgotten ids have no gaps: try the direct slot. */
    if (hi > 0 && id >= eng->socks[0]->id) {
        size_t guess = id - eng->socks[0]->id;
        if (guess < hi && eng->socks[guess]->id == id)
            return guess;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (eng->socks[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct sp_sock *sp__sock_get(struct sp_engine *eng, uint32_t id)
{
    size_t i = table_find(eng, id);
    return i < eng->nsocks && eng->socks[i]->id == id ? eng->socks[i] : NULL;
}

int sp_engine_sock_forgotten(const struct sp_engine *eng, uint32_t id)
{
    if (id == 0 || id > eng->last_id)
        return 0;
    size_t i = table_find(eng, id);
    return !(i < eng->nsocks && eng->socks[i]->id == id);
}

void sp__sock_missing(const struct sp_engine *eng, uint32_t id, char *err, size_t errlen)
{
    if (sp_engine_sock_forgotten(eng, id))
        sp__seterr(err, errlen,
                   "socket %u was closed and forgotten (the last %zu closed sockets are kept)", id,
                   eng->keep_closed);
    else
        sp__seterr(err, errlen, "no socket %u", id);
}

struct sp_sock *sp__sock_new(struct sp_engine *eng, enum sp_sock_kind kind,
                             const struct sp_sock_opts *opts)
{
    if (eng->nsocks == eng->capsocks) {
        size_t ncap = eng->capsocks ? eng->capsocks * 2 : 16;
        eng->socks = sp_xreallocarray(eng->socks, ncap, sizeof *eng->socks);
        eng->capsocks = ncap;
    }
    struct sp_sock *s = sp_xcalloc(1, sizeof *s);
    s->eng = eng;
    s->kind = kind;
    s->fd = -1;
    TAILQ_INIT(&s->ops);
    TAILQ_INIT(&s->wq);
    s->recvsize = SP_RECVSIZE_DEFAULT;
    s->unread = s->unsent = -1;
    sp_frame_spec_raw(&s->spec);
    s->timeout_ms = eng->opts.connect_timeout_ms;
    if (opts != NULL) {
        s->echo = opts->echo != 0;
        s->close_on_eof = opts->close_on_eof != 0;
        s->wire_want = opts->wire != 0;
        if (opts->timeout_ms > 0)
            s->timeout_ms = opts->timeout_ms;
    }
    eng->socks[eng->nsocks++] = s;
    s->id = ++eng->last_id;
    if (opts != NULL && opts->framing != NULL)
        sp__framer_set(s, opts->framing);
    return s;
}

void sp__sock_discard(struct sp_sock *s)
{
    struct sp_engine *eng = s->eng;
    assert(eng->nsocks > 0 && eng->socks[eng->nsocks - 1] == s && s->id == eng->last_id);
    assert(!s->handle_open && s->timer == NULL && s->hist == NULL && !s->closed);
    eng->nsocks--;
    eng->last_id--;
    sp__framer_free(s);
    sp__tls_free(s);
    sp__wire_forget(s);
    free(s);
}

uint32_t sp_engine_last_id(const struct sp_engine *eng)
{
    return eng->last_id;
}

size_t sp_engine_sock_ids(struct sp_engine *eng, uint32_t *ids, size_t max)
{
    for (size_t i = 0; i < eng->nsocks && i < max; i++)
        ids[i] = eng->socks[i]->id;
    return eng->nsocks;
}

/* Nothing refers to a closed record any more: no handle, timer, request or
 * pending write will call back with it, and no front end shows it. */
static int forgettable(const struct sp_sock *s)
{
    return s->closed && !s->handle_open && !s->handle_closing && s->timer == NULL &&
           TAILQ_EMPTY(&s->ops) && TAILQ_EMPTY(&s->wq) && s->gai == NULL && s->creq == NULL &&
           s->sreq == NULL && !s->watched;
}

static void forget(struct sp_engine *eng, struct sp_sock *s)
{
    eng->forgotten++;
    sp__kunfollow(s);
    sp__hist_free(s->hist, &eng->hpool);
    sp__framer_free(s);
    sp__tls_free(s);
    sp__wire_forget(s);
    free(s);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Once per loop iteration while more closed records are kept than asked:
 * forgets the oldest ones nothing refers to any more. Their slots are found
 * by binary search while the table is intact, then the table is closed up
 * with block moves: no pass touches every record (a cache miss each). */
static void reap_cb(uv_check_t *h)
{
    struct sp_engine *eng = h->data;
    struct sp_sock *s, *next;
    size_t gone = 0;
    for (s = TAILQ_FIRST(&eng->closed); s != NULL && eng->nclosed > eng->keep_closed; s = next) {
        next = TAILQ_NEXT(s, closed_link);
        if (!forgettable(s))
            continue;
        TAILQ_REMOVE(&eng->closed, s, closed_link);
        eng->nclosed--;
        if (gone == eng->capreap) {
            eng->capreap = eng->capreap ? eng->capreap * 2 : 64;
            eng->reap = sp_xreallocarray(eng->reap, eng->capreap, sizeof *eng->reap);
        }
        size_t i = table_find(eng, s->id);
        assert(i < eng->nsocks && eng->socks[i] == s);
        eng->reap[gone++] = i;
    }
    if (gone > 0) {
        qsort(eng->reap, gone, sizeof *eng->reap, cmp_size);
        size_t dst = eng->reap[0];
        for (size_t k = 0; k < gone; k++) {
            size_t from = eng->reap[k] + 1;
            size_t to = k + 1 < gone ? eng->reap[k + 1] : eng->nsocks;
            forget(eng, eng->socks[eng->reap[k]]);
            memmove(eng->socks + dst, eng->socks + from, (to - from) * sizeof *eng->socks);
            dst += to - from;
        }
        eng->nsocks = dst;
    }
    if (eng->nclosed <= eng->keep_closed) {
        uv_check_stop(&eng->reaper);
        eng->reaper_on = 0;
    }
}

static void reap_soon(struct sp_engine *eng)
{
    if (eng->reaper_on || eng->freeing || eng->nclosed <= eng->keep_closed)
        return;
    eng->reaper_on = 1;
    uv_check_start(&eng->reaper, reap_cb);
}

void sp_engine_set_keep_closed(struct sp_engine *eng, size_t n)
{
    eng->keep_closed = n;
    reap_soon(eng);
}

size_t sp_engine_keep_closed(const struct sp_engine *eng)
{
    return eng->keep_closed;
}

uint64_t sp_engine_forgotten(const struct sp_engine *eng)
{
    return eng->forgotten;
}

int sp__sock_fd(const struct sp_sock *s)
{
    if (!s->handle_open)
        return -1;
    if (s->hkind == SP_H_POLL)
        return s->fd;
    uv_os_fd_t fd;
    if (uv_fileno(&s->u.h, &fd) != 0)
        return -1;
    return fd;
}

size_t sp__sockaddr_text(const struct sockaddr *sa, socklen_t len, char *out)
{
    out[0] = '\0';
    if (len == 0)
        return 0;
    size_t n = sp_sockaddr_format(sa, len, out, SP_ADDR_TEXT_MAX);
    return n < SP_ADDR_TEXT_MAX ? n : SP_ADDR_TEXT_MAX - 1;
}

void sp__sock_names(struct sp_sock *s, int fd)
{
    socklen_t len = sizeof s->la;
    memset(&s->la, 0, sizeof s->la);
    if (getsockname(fd, (struct sockaddr *)&s->la, &len) == 0)
        s->local_len = sp__sockaddr_text((struct sockaddr *)&s->la, len, s->local);
    len = sizeof s->pa;
    memset(&s->pa, 0, sizeof s->pa);
    if (getpeername(fd, (struct sockaddr *)&s->pa, &len) == 0)
        s->peer_len = sp__sockaddr_text((struct sockaddr *)&s->pa, len, s->peer);
    else
        memset(&s->pa, 0, sizeof s->pa);
    s->family = s->la.ss_family;
}

void sp__sock_bound(struct sp_sock *s, int fd, const struct sockaddr *sa, const char *path,
                    uint64_t dev, uint64_t ino, enum sp_ev_type type, const char *anywhere)
{
    if (path[0] != '\0') {
        memcpy(s->path, path, sizeof s->path);
        s->path_dev = dev;
        s->path_ino = ino;
        s->unlink_path = 1;
    }
    sp__sock_names(s, fd);
    if (sa->sa_family == AF_INET)
        s->wildcard = ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    else if (sa->sa_family == AF_INET6)
        s->wildcard = memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, &in6addr_any, 16) == 0;
    if (sp__wants(s->eng, type)) {
        struct sp_event ev = {.type = type, .unread = -1};
        ev.local = s->local;
        sp__emit(s->eng, s, &ev);
    }
    if (s->wildcard)
        sp__emit_notice(s, anywhere);
}

static void sock_timer_cb(uv_timer_t *t)
{
    struct sp_sock *s = t->data;
    void (*cb)(struct sp_sock *) = s->timer_cb;
    s->tmode = SP_T_NONE;
    s->timer_cb = NULL;
    if (cb != NULL)
        cb(s);
}

void sp__sock_timer(struct sp_sock *s, enum sp_tmode mode, uint64_t ms,
                    void (*cb)(struct sp_sock *s))
{
    if (s->timer == NULL) {
        s->timer = sp_xmalloc(sizeof *s->timer);
        uv_timer_init(&s->eng->loop, s->timer);
        s->timer->data = s;
    }
    s->tmode = mode;
    s->timer_cb = cb;
    sp__timer_start(s->timer, sock_timer_cb, ms, 0);
}

void sp__timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t ms, uint64_t repeat_ms)
{
    uv_update_time(t->loop);
    uv_timer_start(t, cb, ms, repeat_ms);
}

void sp__sock_timer_stop(struct sp_sock *s)
{
    if (s->timer != NULL)
        uv_timer_stop(s->timer);
    s->tmode = SP_T_NONE;
    s->timer_cb = NULL;
}

static void free_handle_cb(uv_handle_t *h)
{
    free(h);
}

static void close_timer(struct sp_sock *s)
{
    if (s->timer == NULL)
        return;
    uv_close((uv_handle_t *)s->timer, free_handle_cb);
    s->timer = NULL;
    s->tmode = SP_T_NONE;
    s->timer_cb = NULL;
}

static void sock_handle_closed(uv_handle_t *h)
{
    struct sp_sock *s = h->data;
    s->handle_closing = 0;
    /* Buffers only reading needed; the log stays for scrollback. */
    sp__framer_release(s);
}

void sp__sock_close(struct sp_sock *s, const char *reason, int abortive)
{
    if (s->closed)
        return;
    struct sp_engine *eng = s->eng;
    s->closed = 1;
    s->close_wanted = 0;
    close_timer(s);
    /* Before the descriptor goes: a waiting recv holds a duplicate of it,
     * which would keep the socket open. */
    sp__recv_cancel(s);
    sp__tls_close(s, abortive);
    sp__anc_close(s);
    sp__send_settle(s);
    sp__send_cancel_all(s);
    int fd = sp__sock_fd(s);
    int stream = sp_kind_is_stream(s->kind);
    int follow = s->kind == SP_SOCK_TCP && s->established && fd >= 0 && !eng->freeing;
    int rst = 0;
    if (abortive && stream && fd >= 0) {
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        rst = s->kind == SP_SOCK_TCP && s->established;
    } else if (stream && s->established && fd >= 0) {
        rst = sp__kclose_rst(s, fd);
    }
    if (s->unlink_path)
        sp__unix_unlink(s);
    if (s->handle_open) {
        s->handle_open = 0;
        s->handle_closing = 1;
        if (s->hkind == SP_H_POLL)
            uv_poll_stop(&s->u.poll);
        uv_close(&s->u.h, sock_handle_closed);
        /* libuv closes a TCP or pipe descriptor inside uv_close(), but not
         * ours under a poll handle. Close it now, so that after `closed` the
         * kernel has no socket left (a closed listener refuses at once);
         * uv_close() has already taken it out of epoll. */
        if (s->hkind == SP_H_POLL && s->fd >= 0) {
            close(s->fd);
            s->fd = -1;
        }
    }
    s->reading = 0;
    s->connecting = 0;
    s->ours = (s->ours & ~(SP_OURS_SHUT_WAIT | SP_OURS_FIN_QUEUED)) | SP_OURS_CLOSED;
    s->on_drained = NULL;
    if (rst)
        s->ours |= SP_OURS_RST;
    else if (stream && !abortive && s->established)
        s->ours |= SP_OURS_SHUT_WR;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
    sp__klist_update(s);
    TAILQ_INSERT_TAIL(&eng->closed, s, closed_link);
    eng->nclosed++;
    reap_soon(eng);

    if (sp__wants(eng, SP_EV_CLOSED)) {
        struct sp_event ev = {.type = SP_EV_CLOSED, .unread = -1};
        ev.reason = s->close_reason;
        sp__emit(eng, s, &ev);
    }
    if (sp__wants(eng, SP_EV_SUMMARY)) {
        struct sp_event ev = {.type = SP_EV_SUMMARY, .unread = -1};
        ev.bytes_in = s->bytes_in;
        ev.bytes_out = s->bytes_out;
        ev.chunks = s->chunks;
        ev.msgs = s->msgs;
        sp__emit(eng, s, &ev);
    }
    if (follow)
        sp__kfollow(s);
    else
        sp__kgone(s);
}

int sp__addr_to_sockaddr(const struct sp_addr *addr, struct sockaddr_storage *ss, socklen_t *len,
                         char *err, size_t errlen)
{
    memset(ss, 0, sizeof *ss);
    if (sp_addr_is_unix(addr->kind)) {
        struct sockaddr_un *su = (struct sockaddr_un *)ss;
        size_t n = strlen(addr->path);
        su->sun_family = AF_UNIX;
        if (n == 0) {
            sp__seterr(err, errlen, "empty Unix socket path");
            return UV_EINVAL;
        }
        if (n >= sizeof su->sun_path) {
            sp__seterr(err, errlen, "Unix socket path too long (%zu bytes; at most %zu fit)", n,
                       sizeof su->sun_path - 1);
            return UV_ENAMETOOLONG;
        }
        memcpy(su->sun_path, addr->path, n);
        if (addr->path[0] == '@') {
            /* A Linux abstract name: a leading NUL, no terminator counted.
             * A bare '@' binds a name the kernel picks (autobind: the
             * address is the family alone), as port 0 does for TCP. */
            su->sun_path[0] = '\0';
            *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (n == 1 ? 0 : n));
        } else {
            *len = (socklen_t)sizeof *su;
        }
        return 0;
    }
    const char *host = addr->host;
    int family = addr->family;
    if (family == AF_UNSPEC && strcmp(host, "localhost") == 0) {
        host = "127.0.0.1";
        family = AF_INET;
    }
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(addr->port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
            *len = sizeof *s4;
            return 0;
        }
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(addr->port);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
            *len = sizeof *s6;
            return 0;
        }
    }
    sp__seterr(err, errlen, "not a numeric address: %.64s", host);
    return UV_EINVAL;
}

static struct sp_watch *watch_new(struct sp_engine *eng, sp_watch_cb cb, void *ud)
{
    struct sp_watch *w = sp_xcalloc(1, sizeof *w);
    w->eng = eng;
    w->cb = cb;
    w->ud = ud;
    TAILQ_INSERT_TAIL(&eng->watches, w, entry);
    return w;
}

/* Every kind of watch fires the same way; a stopped one is only waiting for
 * its close callback. */
static void watch_fire(uv_handle_t *h)
{
    struct sp_watch *w = h->data;
    if (!w->stopped)
        w->cb(w->ud);
}

static void watch_poll_cb(uv_poll_t *p, int status, int events)
{
    watch_fire((uv_handle_t *)p);
}

static void watch_timer_cb(uv_timer_t *t)
{
    watch_fire((uv_handle_t *)t);
}

static void watch_signal_cb(uv_signal_t *sg, int signum)
{
    watch_fire((uv_handle_t *)sg);
}

static void watch_prepare_cb(uv_prepare_t *p)
{
    watch_fire((uv_handle_t *)p);
}

struct sp_watch *sp_engine_watch_fd(struct sp_engine *eng, int fd, sp_watch_cb cb, void *ud)
{
    struct sp_watch *w = watch_new(eng, cb, ud);
    if (uv_poll_init(&eng->loop, &w->u.poll, fd) != 0) {
        watch_unlink_free(w);
        return NULL;
    }
    w->u.h.data = w;
    uv_poll_start(&w->u.poll, UV_READABLE, watch_poll_cb);
    return w;
}

struct sp_watch *sp_engine_watch_timer(struct sp_engine *eng, uint64_t first_ms, uint64_t repeat_ms,
                                       sp_watch_cb cb, void *ud)
{
    struct sp_watch *w = watch_new(eng, cb, ud);
    uv_timer_init(&eng->loop, &w->u.timer);
    w->u.h.data = w;
    sp__timer_start(&w->u.timer, watch_timer_cb, first_ms, repeat_ms);
    return w;
}

struct sp_watch *sp_engine_watch_signal(struct sp_engine *eng, int signum, sp_watch_cb cb, void *ud)
{
    struct sp_watch *w = watch_new(eng, cb, ud);
    uv_signal_init(&eng->loop, &w->u.signal);
    w->u.h.data = w;
    if (uv_signal_start(&w->u.signal, watch_signal_cb, signum) != 0) {
        w->stopped = 1;
        uv_close(&w->u.h, watch_closed);
        return NULL;
    }
    /* Waiting for a signal alone must not keep the loop running. */
    uv_unref(&w->u.h);
    return w;
}

struct sp_watch *sp_engine_watch_prepare(struct sp_engine *eng, sp_watch_cb cb, void *ud)
{
    struct sp_watch *w = watch_new(eng, cb, ud);
    uv_prepare_init(&eng->loop, &w->u.prepare);
    w->u.h.data = w;
    uv_prepare_start(&w->u.prepare, watch_prepare_cb);
    /* Drawing alone must not keep the loop running. */
    uv_unref(&w->u.h);
    return w;
}

void sp_watch_stop(struct sp_watch *w)
{
    if (w == NULL || w->stopped)
        return;
    w->stopped = 1;
    uv_close(&w->u.h, watch_closed);
}
