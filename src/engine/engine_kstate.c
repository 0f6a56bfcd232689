/* The kernel view inside the engine: `state` events from polled TCP_INFO,
 * closed connections followed through inet_diag, `info` and `set`. */
#include "engine_int.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kstate.h"

/* How long a socket keeps being polled after lifecycle activity. */
#define KACTIVE_NS (3ull * 1000 * 1000 * 1000)

static int is_tcp(const struct sp_sock *s)
{
    return s->kind == SP_SOCK_TCP || s->kind == SP_SOCK_TCP_LISTEN;
}

static void set_tcp_state(struct sp_sock *s, const char *name)
{
    if (strcmp(s->tcp, name) == 0)
        return;
    snprintf(s->tcp, sizeof s->tcp, "%s", name);
    if (sp__wants(s->eng, SP_EV_STATE)) {
        struct sp_event ev = {.type = SP_EV_STATE, .unread = -1};
        ev.tcp = s->tcp;
        sp__emit(s->eng, s, &ev);
    }
}

/* Our FIN waited behind unsent bytes: once the kernel has sent everything
 * (SIOCOUTQNSD 0), it left. */
static void check_fin_left(struct sp_sock *s, int fd)
{
    if (!(s->ours & SP_OURS_FIN_QUEUED) || sp__kstate_notsent(fd) != 0)
        return;
    s->ours &= ~SP_OURS_FIN_QUEUED;
    sp__emit_notice(s, "the FIN left: the kernel sent it after the bytes queued before it");
}

/* Not reading (paused, or reading shut down), we would not learn that the
 * peer finished or reset until we read again; the kernel's state says it
 * now: CLOSE_WAIT holds the peer's FIN, CLOSE straight from ESTABLISHED or
 * CLOSE_WAIT (no FIN of ours) a reset. */
static void check_peer_waiting(struct sp_sock *s, int fd, int st)
{
    if (s->kind != SP_SOCK_TCP || s->reading || !s->established ||
        (s->peers & (SP_PEER_FIN | SP_PEER_RST | SP_PEER_RST_WAITING)))
        return;
    int fin = (st == TCP_CLOSE_WAIT || st == TCP_LAST_ACK) && !(s->peers & SP_PEER_FIN_WAITING);
    int rst = st == TCP_CLOSE && !(s->ours & SP_OURS_SHUT_WR) &&
              (strcmp(s->tcp, "ESTABLISHED") == 0 || strcmp(s->tcp, "CLOSE_WAIT") == 0);
    if (!fin && !rst)
        return;
    int64_t unread = sp__kstate_inq(fd);
    char ahead[64] = "";
    if (unread > 0)
        snprintf(ahead, sizeof ahead, " behind %lld unread %s", (long long)unread,
                 unread == 1 ? "byte" : "bytes");
    const char *then = s->ours & SP_OURS_SHUT_RD ? "reading is shut down, so it is not read"
                       : fin                     ? "recv() returns 0 after them"
                                                 : "recv() fails with ECONNRESET after them";
    if (unread <= 0 && !(s->ours & SP_OURS_SHUT_RD))
        then = fin ? "the next recv() returns 0" : "the next recv() fails with ECONNRESET";
    char msg[192];
    if (fin) {
        s->peers |= SP_PEER_FIN_WAITING;
        snprintf(msg, sizeof msg, "the peer's FIN waits in the kernel%s (%s): %s", ahead,
                 sp__kstate_name(st), then);
    } else {
        s->peers |= SP_PEER_RST_WAITING;
        snprintf(msg, sizeof msg, "the peer's reset waits in the kernel%s (CLOSE): %s", ahead,
                 then);
    }
    sp__emit_notice(s, msg);
}

/* The engine's sock_diag socket, opened on first use; -1 if there is none
 * right now (out of descriptors: try again later) or ever (diag_broken). */
static int diag_fd(struct sp_engine *eng)
{
    if (eng->nlfd < 0 && !eng->diag_broken) {
        int fd = sp__kdiag_open();
        if (fd >= 0)
            eng->nlfd = fd;
        else if (fd != -EMFILE && fd != -ENFILE)
            eng->diag_broken = 1;
    }
    return eng->nlfd;
}

/* The kernel's state for s's address pair as sock_diag (and `ss`) has it:
 * a state number, -1 if it has no such connection, -2 if unknown. */
static int pair_state(struct sp_sock *s)
{
    int nl = diag_fd(s->eng);
    if (nl < 0)
        return -2;
    int st = sp__kdiag_lookup(nl, &s->la, &s->pa);
    return st >= 0 ? st : st == -ENOENT ? -1 : -2;
}

/* Must the socket be polled whether shown or not? */
static int kwatch_needed(const struct sp_sock *s)
{
    if (s->ours & SP_OURS_FIN_QUEUED)
        return 1;
    return s->kind == SP_SOCK_TCP && s->established && !s->reading &&
           !(s->peers & (SP_PEER_FIN | SP_PEER_RST | SP_PEER_RST_WAITING));
}

void sp__kcheck(struct sp_sock *s)
{
    if (s->closed || !is_tcp(s) || s->following)
        return;
    int fd = sp__sock_fd(s);
    int st = sp__kstate_tcp(fd);
    if (st < 0)
        return;
    check_fin_left(s, fd);
    check_peer_waiting(s, fd, st);
    /* When the side that sent the first FIN gets the peer's FIN, Linux moves
     * the connection to a TIME_WAIT minisocket and leaves our descriptor's
     * socket in CLOSE, maybe before any poll saw FIN_WAIT1/2. What the
     * kernel holds is TIME_WAIT, so follow the address pair through
     * sock_diag as after a close. Without a FIN of ours, CLOSE is a reset. */
    if (st == TCP_CLOSE && s->kind == SP_SOCK_TCP &&
        ((s->ours & SP_OURS_SHUT_WR) || strcmp(s->tcp, "FIN_WAIT1") == 0 ||
         strcmp(s->tcp, "FIN_WAIT2") == 0 || strcmp(s->tcp, "CLOSING") == 0)) {
        sp__kfollow(s);
        if (s->following)
            return;
    }
    set_tcp_state(s, sp__kstate_name(st));
}

static void ktick(uv_timer_t *t);

static void ktimer_ensure(struct sp_engine *eng)
{
    if (eng->ktimer_on || eng->freeing)
        return;
    eng->ktimer_on = 1;
    sp__timer_start(&eng->ktimer, ktick, SP_KSTATE_POLL_MS, SP_KSTATE_POLL_MS);
}

static void klist_remove(struct sp_sock *s)
{
    TAILQ_REMOVE(&s->eng->klist, s, kentry);
    s->in_klist = 0;
}

void sp__klist_update(struct sp_sock *s)
{
    struct sp_engine *eng = s->eng;
    int need = !s->closed && is_tcp(s) && s->handle_open &&
               (s->watched || s->kpoll_until_ns > uv_hrtime() || kwatch_needed(s));
    if (need && !s->in_klist) {
        TAILQ_INSERT_TAIL(&eng->klist, s, kentry);
        s->in_klist = 1;
        ktimer_ensure(eng);
    } else if (!need && s->in_klist) {
        klist_remove(s);
    }
}

void sp__kactive(struct sp_sock *s)
{
    s->kpoll_until_ns = uv_hrtime() + KACTIVE_NS;
    if (!s->in_klist)
        sp__klist_update(s);
}

static void follow_push(struct sp_engine *eng, struct sp_sock *s)
{
    if (eng->nfollow == eng->capfollow) {
        size_t ncap = eng->capfollow ? eng->capfollow * 2 : 8;
        eng->follow = sp_xreallocarray(eng->follow, ncap, sizeof *eng->follow);
        eng->capfollow = ncap;
    }
    eng->follow[eng->nfollow++] = s;
}

void sp__kgone(struct sp_sock *s)
{
    if (is_tcp(s) && s->tcp[0] != '\0' && !s->eng->freeing)
        set_tcp_state(s, "gone");
}

void sp__kfollow(struct sp_sock *s)
{
    struct sp_engine *eng = s->eng;
    if (s->following || eng->diag_broken)
        return;
    follow_push(eng, s);
    s->following = 1;
    ktimer_ensure(eng);
}

void sp__kunfollow(struct sp_sock *s)
{
    struct sp_engine *eng = s->eng;
    if (!s->following)
        return;
    for (size_t i = 0; i < eng->nfollow; i++)
        if (eng->follow[i] == s) {
            memmove(eng->follow + i, eng->follow + i + 1,
                    (eng->nfollow - i - 1) * sizeof *eng->follow);
            eng->nfollow--;
            break;
        }
    s->following = 0;
}

/* Followed connections indexed by their port pair, so that matching a dump
 * of N connections against M followed ones costs O(N + M). */
struct follow_scan {
    struct sp_engine *eng;
    int *found; /* per followed socket: kernel state + 1, 0 = not seen */
    int32_t *slots;
    size_t mask;
};

static uint16_t ss_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static size_t port_hash(uint16_t lport, uint16_t rport, size_t mask)
{
    return (((uint32_t)lport * 2654435761u) ^ ((uint32_t)rport * 40503u)) & mask;
}

static void follow_ent(void *ud, const struct sp_kdiag_ent *ent)
{
    struct follow_scan *fs = ud;
    for (size_t h = port_hash(ent->lport, ent->rport, fs->mask); fs->slots[h] >= 0;
         h = (h + 1) & fs->mask) {
        size_t i = (size_t)fs->slots[h];
        struct sp_sock *s = fs->eng->follow[i];
        if (!fs->found[i] && sp__kdiag_match(ent, &s->la, &s->pa)) {
            fs->found[i] = ent->state + 1;
            return;
        }
    }
}

/* Up to this many followed connections are looked up one by one (two
 * syscalls each, whatever else the host runs); more share one inet_diag
 * dump per family, whose cost grows with every connection on the host. */
#define FOLLOW_EXACT_MAX 64

/* The followed connections' states from sock_diag. */
static void follow_tick(struct sp_engine *eng)
{
    if (diag_fd(eng) < 0 && !eng->diag_broken)
        return;
    size_t n = eng->nfollow, nslots = 16;
    while (nslots < 2 * n)
        nslots *= 2;
    int *found = sp_xcalloc(n, sizeof *found);
    int32_t *slots = sp_xreallocarray(NULL, nslots, sizeof *slots);
    memset(slots, 0xff, nslots * sizeof *slots); /* all -1 */
    for (size_t i = 0; i < n; i++) {
        struct sp_sock *f = eng->follow[i];
        size_t h = port_hash(ss_port(&f->la), ss_port(&f->pa), nslots - 1);
        while (slots[h] >= 0)
            h = (h + 1) & (nslots - 1);
        slots[h] = (int32_t)i;
    }
    int fams[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (eng->follow[i]->la.ss_family == AF_INET)
            fams[0] = 1;
        else if (eng->follow[i]->la.ss_family == AF_INET6)
            fams[1] = 1;
    }
    struct follow_scan fs = {eng, found, slots, nslots - 1};
    int r = 0;
    if (n <= FOLLOW_EXACT_MAX) {
        for (size_t i = 0; i < n && r == 0 && !eng->diag_broken; i++) {
            int st = sp__kdiag_lookup(eng->nlfd, &eng->follow[i]->la, &eng->follow[i]->pa);
            if (st >= 0)
                found[i] = st + 1;
            else if (st != -ENOENT)
                r = st;
        }
    } else {
        if (!eng->diag_broken && fams[0])
            r = sp__kdiag_dump(eng->nlfd, AF_INET, follow_ent, &fs);
        if (!eng->diag_broken && r == 0 && fams[1])
            r = sp__kdiag_dump(eng->nlfd, AF_INET6, follow_ent, &fs);
    }
    if (r != 0 || eng->diag_broken) {
        /* Without sock_diag the kernel's view after close is unknowable:
         * say so once per socket and stop following. */
        eng->diag_broken = 1;
        for (size_t i = 0; i < n; i++) {
            struct sp_sock *s = eng->follow[i];
            s->following = 0;
            sp__emit_notice(s, "the kernel's view after close is unavailable (no sock_diag)");
        }
        eng->nfollow = 0;
        free(found);
        free(slots);
        return;
    }
    /* State events may run subscribers that close more sockets (which
     * appends to follow[]), so the list is rebuilt from what was scanned. */
    struct sp_sock **snap = sp_xreallocarray(NULL, n, sizeof *snap);
    free(slots);
    memcpy(snap, eng->follow, n * sizeof *snap);
    memmove(eng->follow, eng->follow + n, (eng->nfollow - n) * sizeof *eng->follow);
    eng->nfollow -= n;
    for (size_t i = 0; i < n; i++) {
        struct sp_sock *s = snap[i];
        if (found[i]) {
            set_tcp_state(s, sp__kstate_name(found[i] - 1));
            follow_push(eng, s);
        } else {
            s->following = 0;
            set_tcp_state(s, "gone");
        }
    }
    free(snap);
    free(found);
}

static void ktick(uv_timer_t *t)
{
    struct sp_engine *eng = t->data;
    uint64_t now = uv_hrtime();
    /* Snapshot the list: state events may watch, unwatch or close sockets. */
    size_t n = 0;
    struct sp_sock *s;
    TAILQ_FOREACH(s, &eng->klist, kentry) {
        n++;
    }
    uint32_t *ids = sp_xreallocarray(NULL, n, sizeof *ids);
    size_t k = 0;
    TAILQ_FOREACH(s, &eng->klist, kentry) {
        ids[k++] = s->id;
    }
    for (size_t i = 0; i < k; i++) {
        s = sp__sock_get(eng, ids[i]);
        if (s == NULL || s->closed)
            continue;
        if (s->watched) {
            int fd = sp__sock_fd(s);
            s->unread = sp__kstate_inq(fd);
            s->unsent = sp__kstate_outq(fd);
        }
        sp__kcheck(s);
        if (!s->watched && s->kpoll_until_ns <= now)
            sp__klist_update(s);
    }
    free(ids);
    if (eng->nfollow > 0)
        follow_tick(eng);
    if (TAILQ_EMPTY(&eng->klist) && eng->nfollow == 0) {
        uv_timer_stop(&eng->ktimer);
        eng->ktimer_on = 0;
    }
}

void sp_engine_set_watched(struct sp_engine *eng, uint32_t id, int watched)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL)
        return;
    s->watched = watched != 0;
    sp__klist_update(s);
    if (s->watched && !s->closed) {
        int fd = sp__sock_fd(s);
        s->unread = sp__kstate_inq(fd);
        s->unsent = sp__kstate_outq(fd);
    }
}

/* A connection that left its descriptor's socket (TIME_WAIT after our FIN,
 * or the descriptor closed) lives on as a minisocket that TCP_INFO on the
 * descriptor cannot see: ask sock_diag for its address pair, as `ss` does,
 * and keep following it. A CLOSE the kernel has no connection for (a reset)
 * stays CLOSE while the descriptor is open. */
static void conn_info_state(struct sp_sock *s, struct sp_kinfo *out)
{
    int st = pair_state(s);
    if (st == -2)
        return;
    if (st >= 0) {
        snprintf(out->tcp, sizeof out->tcp, "%s", sp__kstate_name(st));
        if (!s->following && !s->closed)
            sp__kfollow(s);
    } else if (s->following) {
        snprintf(out->tcp, sizeof out->tcp, "gone");
    }
}

int sp_engine_kinfo(struct sp_engine *eng, uint32_t id, struct sp_kinfo *out, char *err,
                    size_t errlen)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL) {
        sp__sock_missing(eng, id, err, errlen);
        return -ENOENT;
    }
    int stream = sp_kind_is_stream(s->kind);
    sp__kstate_info(s->closed ? -1 : sp__sock_fd(s), is_tcp(s), stream, out);
    if (s->kind == SP_SOCK_TCP && s->established &&
        (s->following || strcmp(out->tcp, "CLOSE") == 0))
        conn_info_state(s, out);
    if (out->tcp[0] == '\0')
        snprintf(out->tcp, sizeof out->tcp, "%s", s->tcp);
    else
        set_tcp_state(s, out->tcp);
    return 0;
}

int sp_engine_setopt(struct sp_engine *eng, uint32_t id, enum sp_sockopt opt, long value, char *err,
                     size_t errlen)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL) {
        sp__sock_missing(eng, id, err, errlen);
        return -ENOENT;
    }
    int fd = s->closed ? -1 : sp__sock_fd(s);
    if (fd < 0) {
        sp__seterr(err, errlen, "socket %u is %s", id, s->closed ? "closed" : "not open yet");
        return -EBADF;
    }
    int stream = sp_kind_is_stream(s->kind);
    /* A listener's MSS is what it advertises to the connections it accepts. */
    int tcp = s->kind == SP_SOCK_TCP || (opt == SP_OPT_MSS && s->kind == SP_SOCK_TCP_LISTEN);
    return sp__kstate_setopt(fd, tcp, stream, opt, value, err, errlen);
}

static int linger_zero(int fd)
{
    struct linger lg;
    socklen_t len = sizeof lg;
    return getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 && lg.l_onoff && lg.l_linger == 0;
}

int sp__kclose_rst(struct sp_sock *s, int fd)
{
    int tcp = s->kind == SP_SOCK_TCP;
    /* A connection the peer already reset is gone: close sends nothing. */
    if (tcp && sp__kstate_tcp(fd) == TCP_CLOSE)
        return 0;
    int64_t unread = sp__kstate_inq(fd);
    char msg[128];
    if (unread > 0)
        snprintf(msg, sizeof msg, "closed with %lld unread %s: %s", (long long)unread,
                 unread == 1 ? "byte" : "bytes",
                 tcp ? "the kernel sent RST instead of FIN"
                     : "the peer gets ECONNRESET instead of EOF");
    else if (tcp && linger_zero(fd))
        snprintf(msg, sizeof msg, "closed with SO_LINGER 0: the kernel sent RST instead of FIN");
    else
        return 0;
    sp__emit_notice(s, msg);
    return 1;
}
