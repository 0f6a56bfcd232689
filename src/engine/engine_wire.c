/* The wire view: the TCP segments of the sockets we watch, captured with
 * libpcap from the loop (non-blocking, pcap_get_selectable_fd under a
 * uv_poll), one capture per interface in use, each with a BPF filter made
 * from the address pairs of its sockets and rebuilt as they come and go.
 * Each captured segment is matched to its socket by address pair, run
 * through that connection's tracker (tcpseg.h) and published as a `segment`
 * event into the socket's history like any other event.
 *
 * A listener watched watches the connections it accepts: its filter (its
 * port) covers them, and the handshake, which the capture may deliver
 * before accept(2) returns, is held (a few segments per connection) until
 * the connection is accepted. A closed socket stays watched a few seconds,
 * so the FIN/ACK exchange and the TIME_WAIT side of the teardown are seen.
 *
 * Costs stay linear in the segments whatever the number of sockets: a
 * segment finds its socket through a hash on the address pair (and a
 * listener through one on its port), and the filter stays small: past
 * WIRE_EXACT_MAX sockets it lists their service ports only, past
 * WIRE_PORTS_MAX ports it is all TCP on the interface, the hash doing the
 * exact matching. pcap_compile is quadratic in the filter and the kernel
 * takes at most 4096 BPF instructions (a filter of ~180 exact pairs): a
 * filter per socket made n sockets cost O(n^3). */
#include "engine_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "sockpit/proto/tcpseg.h"

/* Headers only: the events and pcap files carry the segments' headers; the
 * payload is what recv already shows. Room for IPv6 with extension headers
 * and a full TCP header behind a cooked v2 header. */
#define WIRE_SNAPLEN 256
#define WIRE_BUFSIZE (8 * 1024 * 1024)
/* Per poll wake-up at most WIRE_ROUNDS dispatches of WIRE_BATCH packets:
 * a flood of segments cannot starve the rest of the loop. */
#define WIRE_BATCH     256
#define WIRE_ROUNDS    8
#define WIRE_TICK_MS   250
#define WIRE_LINGER_NS (3000ull * 1000000)
/* Sockets whose address pairs a filter lists one by one, and ports a
 * coarser filter lists: both compile in a few ms to a few hundred BPF
 * instructions. */
#define WIRE_EXACT_MAX 16
#define WIRE_PORTS_MAX 32
/* Segments of connections a watched listener has not accepted yet. */
#define WIRE_PENDING_MAX    4096
#define WIRE_PENDING_MAX_NS (10000ull * 1000000)

/* One end of a connection: IPv4 in a[0..4). */
struct ep {
    int v6;
    unsigned char a[16];
    uint16_t port;
};

/* A chained hash, its links inside the elements: no allocation per entry
 * and removal in O(1) once found. */
struct hnode {
    struct hnode *next;
    uint64_t h;
};

struct htab {
    struct hnode **b;
    size_t nb, n; /* nb a power of two */
};

enum wfilter { WF_EXACT, WF_PORTS, WF_TCP };

struct wcap {
    struct sp__wire *w;
    char ifname[IF_NAMESIZE + 4];
    pcap_t *pc;
    int linktype;
    uv_poll_t poll;
    struct sp_buf filter; /* the filter in force */
    enum wfilter kind;
    uint16_t ports[WIRE_PORTS_MAX]; /* WF_PORTS: the ports it lets through */
    size_t nports;
    int stale; /* a socket went: the filter may narrow (at the next tick) */
    uint64_t recompiles;
    unsigned users;
    uint64_t drops;   /* ps_drop: what the capture missed, its buffer full */
    uint64_t ifdrops; /* ps_ifdrop: what the interface itself dropped */
};

struct wsock {
    struct hnode by_id, by_pair, by_port; /* by_pair once have_local; by_port a listener's */
    size_t idx;                           /* in w->ws */
    size_t uidx; /* in w->unres while it has no local address, else SIZE_MAX */
    uint32_t id;
    uint32_t via; /* accepted under this watched listener (its filter covers us), else 0 */
    int listener;
    uint16_t service; /* the port a coarse filter lets through for it */
    struct wcap *cap;
    struct ep local, peer;
    int have_local, have_peer;
    struct sp_tcpflow flow;
    uint64_t nseg;
    uint64_t closed_ns; /* when it was first seen closed, 0 while open */
};

struct sp__wire_saved {
    struct sp_tcpflow flow;
    uint64_t nseg;
};

struct pend {
    struct hnode by_pair; /* (listener end, client end) */
    struct pend *older, *newer;
    uint64_t order;
    uint32_t listener;
    struct wcap *cap;
    struct sp_tcp_pkt pkt;
    uint64_t ns;
    int64_t wall_us;
    size_t n;
    unsigned char ip[WIRE_SNAPLEN];
};

struct sp__wire {
    struct sp_engine *eng;
    struct wcap **caps;
    size_t ncaps;
    struct wsock **ws;
    size_t nws;
    struct htab ids, pairs, lports;
    struct wsock **unres; /* connections not bound when watched: matched once they are */
    size_t nunres;
    struct pend *oldest, *newest; /* held segments, at most WIRE_PENDING_MAX */
    struct htab pends;
    size_t pcount;
    uint64_t porder;
    uint64_t plost, plost_said; /* held segments that had to go */
    uv_timer_t tick;
    int denied; /* the notice about CAP_NET_RAW was given */
};

static uint64_t ts_ns(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000000u + (uint64_t)tv->tv_usec * 1000u;
}

/* The engine's clock for a capture timestamp (wall clock): now on the
 * engine's clock minus how long ago the capture was. */
static uint64_t cap_ns(struct sp_engine *eng, const struct timeval *tv)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    uint64_t mono = uv_hrtime() - eng->t0, wall = ts_ns(&now), t = ts_ns(tv);
    uint64_t ago = wall > t ? wall - t : 0;
    return mono > ago ? mono - ago : 0;
}

/* A kernel address as an end; IPv4-mapped IPv6 as the IPv4 it is, as the
 * packets carry it. Returns 0, or -1 for a family with no TCP. */
static int ep_of(const struct sockaddr_storage *ss, struct ep *e)
{
    memset(e, 0, sizeof *e);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        memcpy(e->a, &in->sin_addr, 4);
        e->port = ntohs(in->sin_port);
        return 0;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in = (const void *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&in->sin6_addr)) {
            memcpy(e->a, in->sin6_addr.s6_addr + 12, 4);
        } else {
            e->v6 = 1;
            memcpy(e->a, &in->sin6_addr, 16);
        }
        e->port = ntohs(in->sin6_port);
        return 0;
    }
    return -1;
}

static int ep_eq(const struct ep *a, const struct ep *b)
{
    return a->v6 == b->v6 && a->port == b->port && memcmp(a->a, b->a, a->v6 ? 16 : 4) == 0;
}

static int ep_any(const struct ep *e)
{
    static const unsigned char zero[16];
    return memcmp(e->a, zero, e->v6 ? 16 : 4) == 0;
}

static int ep_loopback(const struct ep *e)
{
    static const unsigned char one[16] = {[15] = 1};
    return e->v6 ? memcmp(e->a, one, 16) == 0 : e->a[0] == 127;
}

static void ep_text(const struct ep *e, char *out, size_t len)
{
    inet_ntop(e->v6 ? AF_INET6 : AF_INET, e->a, out, (socklen_t)len);
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

static uint64_t ep_hash(uint64_t h, const struct ep *e)
{
    size_t n = e->v6 ? 16 : 4;
    for (size_t i = 0; i < n; i++)
        h = (h ^ e->a[i]) * 0x100000001b3ull;
    return mix(h ^ ((uint64_t)e->port << 1 | (uint64_t)e->v6));
}

static uint64_t pair_hash(const struct ep *local, const struct ep *peer)
{
    return ep_hash(ep_hash(0xcbf29ce484222325ull, local), peer);
}

static uint64_t port_hash(uint16_t port)
{
    return mix(0x9e3779b97f4a7c15ull + port);
}

static uint64_t id_hash(uint32_t id)
{
    return mix(id);
}

static void htab_grow(struct htab *t)
{
    size_t nb = t->nb ? t->nb * 2 : 64;
    struct hnode **b = sp_xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < t->nb; i++)
        for (struct hnode *n = t->b[i], *next; n != NULL; n = next) {
            next = n->next;
            n->next = b[n->h & (nb - 1)];
            b[n->h & (nb - 1)] = n;
        }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

static void htab_put(struct htab *t, struct hnode *n, uint64_t h)
{
    if (t->n >= t->nb)
        htab_grow(t);
    n->h = h;
    n->next = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = n;
    t->n++;
}

static void htab_del(struct htab *t, struct hnode *n)
{
    for (struct hnode **p = t->nb ? &t->b[n->h & (t->nb - 1)] : NULL; p != NULL && *p != NULL;
         p = &(*p)->next)
        if (*p == n) {
            *p = n->next;
            t->n--;
            return;
        }
}

/* The chain holding hash h; its nodes of another hash are skipped by the
 * caller (and what matches h is then compared in full). */
static struct hnode *htab_chain(const struct htab *t, uint64_t h)
{
    return t->nb ? t->b[h & (t->nb - 1)] : NULL;
}

#define WS_OF(node, member) ((struct wsock *)((char *)(node)-offsetof(struct wsock, member)))

/* The interface holding address e, into name; 1 if it is one of ours. */
static int local_iface(const struct ep *e, char *name, size_t len)
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return 0;
    int found = 0;
    for (struct ifaddrs *i = ifs; i != NULL && !found; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_name == NULL)
            continue;
        struct ep a;
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        size_t sl = i->ifa_addr->sa_family == AF_INET    ? sizeof(struct sockaddr_in)
                    : i->ifa_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                         : 0;
        if (sl == 0)
            continue;
        memcpy(&ss, i->ifa_addr, sl);
        if (ep_of(&ss, &a) != 0)
            continue;
        a.port = e->port;
        if (ep_eq(&a, e)) {
            snprintf(name, len, "%s", i->ifa_name);
            found = 1;
        }
    }
    freeifaddrs(ifs);
    return found;
}

/* The local address the kernel's route to peer uses (a connected UDP
 * socket: no packet leaves), for a connection not bound yet. */
static int route_local(const struct ep *peer, struct ep *local)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (peer->v6) {
        struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
        in->sin6_family = AF_INET6;
        in->sin6_port = htons(peer->port);
        memcpy(&in->sin6_addr, peer->a, 16);
        len = sizeof *in;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(peer->port);
        memcpy(&in->sin_addr, peer->a, 4);
        len = sizeof *in;
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int r = fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -1;
    len = sizeof ss;
    if (r == 0 && (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 || ep_of(&ss, local) != 0))
        r = -1;
    if (fd >= 0)
        close(fd);
    return r;
}

/* Where a socket's segments travel: `lo` between two addresses of this
 * host, the interface of the local address (the route's) otherwise; "any"
 * for a listener on a wildcard or non-loopback address, whose connections
 * may come through any interface, lo included. */
static void iface_for(const struct wsock *ws, char *name, size_t len)
{
    char tmp[IF_NAMESIZE + 4];
    if (ws->listener) {
        snprintf(name, len, "%s", ep_loopback(&ws->local) ? "lo" : "any");
        return;
    }
    if (ep_loopback(&ws->peer) || (ws->have_local && ep_loopback(&ws->local)) ||
        local_iface(&ws->peer, tmp, sizeof tmp)) {
        snprintf(name, len, "lo");
        return;
    }
    struct ep local = ws->local;
    if ((ws->have_local || route_local(&ws->peer, &local) == 0) &&
        local_iface(&local, tmp, sizeof tmp)) {
        snprintf(name, len, "%s", tmp);
        return;
    }
    snprintf(name, len, "any");
}

/* The filter term of one socket, or nothing when its listener's covers it. */
static void term(struct sp_buf *b, const struct wsock *ws)
{
    char a[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN];
    if (ws->via != 0)
        return;
    if (b->len > 0)
        sp_buf_appends(b, " or ");
    if (ws->listener) {
        ep_text(&ws->local, a, sizeof a);
        if (ep_any(&ws->local))
            sp_buf_appendf(b, "(port %u)", ws->local.port);
        else
            sp_buf_appendf(b, "(host %s and port %u)", a, ws->local.port);
        return;
    }
    ep_text(&ws->peer, p, sizeof p);
    if (!ws->have_local) {
        sp_buf_appendf(b, "(host %s and port %u)", p, ws->peer.port);
        return;
    }
    ep_text(&ws->local, a, sizeof a);
    sp_buf_appendf(b, "(host %s and port %u and host %s and port %u)", a, ws->local.port, p,
                   ws->peer.port);
}

static int port_in(const uint16_t *ports, size_t n, uint16_t port)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] == port)
            return 1;
    return 0;
}

/* The filter for c's sockets, as exact as stays cheap: their address pairs
 * (up to WIRE_EXACT_MAX), else their service ports (up to WIRE_PORTS_MAX),
 * else all TCP. */
static void build(const struct wcap *c, struct sp_buf *f, enum wfilter *kind, uint16_t *ports,
                  size_t *nports)
{
    const struct sp__wire *w = c->w;
    size_t nterms = 0, np = 0;
    for (size_t i = 0; i < w->nws; i++) {
        const struct wsock *ws = w->ws[i];
        if (ws->cap != c || ws->via != 0)
            continue;
        nterms++;
        if (np <= WIRE_PORTS_MAX && !port_in(ports, np, ws->service)) {
            if (np < WIRE_PORTS_MAX)
                ports[np] = ws->service;
            np++;
        }
    }
    *kind = nterms <= WIRE_EXACT_MAX ? WF_EXACT : np <= WIRE_PORTS_MAX ? WF_PORTS : WF_TCP;
    *nports = *kind == WF_PORTS ? np : 0;
    sp_buf_appends(f, "tcp");
    if (*kind == WF_TCP)
        return;
    struct sp_buf t;
    sp_buf_init(&t);
    for (size_t i = 0; i < w->nws && *kind == WF_EXACT; i++)
        if (w->ws[i]->cap == c)
            term(&t, w->ws[i]);
    for (size_t i = 0; i < *nports; i++)
        sp_buf_appendf(&t, "%sport %u", i > 0 ? " or " : "", ports[i]);
    sp_buf_appendf(f, " and (%s)", t.len > 0 ? sp_buf_str(&t) : "less 0");
    sp_buf_cleanup(&t);
}

static int set_filter(struct wcap *c, char *err, size_t errlen)
{
    struct sp_buf f;
    sp_buf_init(&f);
    enum wfilter kind;
    uint16_t ports[WIRE_PORTS_MAX];
    size_t nports;
    build(c, &f, &kind, ports, &nports);
    c->stale = 0;
    int r = 0;
    if (c->filter.len == f.len && memcmp(c->filter.data, f.data, f.len) == 0)
        goto out;
    struct bpf_program prog;
    if (pcap_compile(c->pc, &prog, sp_buf_str(&f), 1, PCAP_NETMASK_UNKNOWN) != 0 ||
        (pcap_setfilter(c->pc, &prog) != 0 && (pcap_freecode(&prog), 1))) {
        sp__seterr(err, errlen, "wire: filter on %s: %s", c->ifname, pcap_geterr(c->pc));
        r = -EINVAL;
        goto out;
    }
    pcap_freecode(&prog);
    sp_buf_reset(&c->filter);
    sp_buf_append(&c->filter, f.data, f.len);
    c->kind = kind;
    memcpy(c->ports, ports, nports * sizeof *ports);
    c->nports = nports;
    c->recompiles++;
out:
    sp_buf_cleanup(&f);
    return r;
}

/* Whether the filter in force already lets ws's segments through. */
static int covered(const struct wcap *c, const struct wsock *ws)
{
    if (ws->via != 0 || c->filter.len == 0)
        return ws->via != 0;
    if (c->kind == WF_TCP)
        return 1;
    return c->kind == WF_PORTS && port_in(c->ports, c->nports, ws->service);
}

static struct wsock *ws_find(struct sp__wire *w, uint32_t id)
{
    uint64_t h = id_hash(id);
    for (struct hnode *n = htab_chain(&w->ids, h); n != NULL; n = n->next)
        if (n->h == h && WS_OF(n, by_id)->id == id)
            return WS_OF(n, by_id);
    return NULL;
}

/* Which way a segment goes for ws: 1 out, 0 in, -1 not its. */
static int way(const struct wsock *ws, const struct ep *src, const struct ep *dst)
{
    if (!ws->have_local)
        return -1;
    if (ep_eq(src, &ws->local) && ep_eq(dst, &ws->peer))
        return 1;
    if (ep_eq(src, &ws->peer) && ep_eq(dst, &ws->local))
        return 0;
    return -1;
}

static void unres_del(struct sp__wire *w, struct wsock *ws)
{
    if (ws->uidx == SIZE_MAX)
        return;
    w->unres[ws->uidx] = w->unres[--w->nunres];
    w->unres[ws->uidx]->uidx = ws->uidx;
    ws->uidx = SIZE_MAX;
}

/* Files ws under its address pair, or among those not bound yet. */
static void ws_index(struct sp__wire *w, struct wsock *ws)
{
    if (ws->listener) {
        htab_put(&w->lports, &ws->by_port, port_hash(ws->local.port));
    } else if (ws->have_local) {
        htab_put(&w->pairs, &ws->by_pair, pair_hash(&ws->local, &ws->peer));
    } else {
        w->unres = sp_xreallocarray(w->unres, w->nunres + 1, sizeof *w->unres);
        ws->uidx = w->nunres;
        w->unres[w->nunres++] = ws;
    }
}

/* The local addresses of the connections watched before connect(2) bound
 * them (`connect --wire`): asked of the kernel when a segment finds no
 * socket. Returns how many were found. */
static int resolve(struct sp__wire *w)
{
    int found = 0;
    for (size_t i = w->nunres; i-- > 0;) {
        struct wsock *ws = w->unres[i];
        struct sp_sock *s = sp__sock_get(w->eng, ws->id);
        int fd = s != NULL ? sp__sock_fd(s) : -1;
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (fd < 0) {
            unres_del(w, ws); /* gone before it was bound: nothing of it to see */
            continue;
        }
        if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 || ep_of(&ss, &ws->local) != 0 ||
            ws->local.port == 0)
            continue;
        ws->have_local = 1;
        unres_del(w, ws);
        ws_index(w, ws);
        found++;
    }
    return found;
}

/* The ids of c's sockets whose (local, peer) is (l, p), into ids (at most
 * max); returns how many. */
static size_t pair_ids(struct sp__wire *w, const struct wcap *c, const struct ep *l,
                       const struct ep *p, uint32_t *ids, size_t max, int *child)
{
    uint64_t h = pair_hash(l, p);
    size_t n = 0;
    for (struct hnode *x = htab_chain(&w->pairs, h); x != NULL && n < max; x = x->next) {
        struct wsock *ws = WS_OF(x, by_pair);
        if (x->h == h && ws->cap == c && ep_eq(&ws->local, l) && ep_eq(&ws->peer, p)) {
            ids[n++] = ws->id;
            *child |= ws->via != 0;
        }
    }
    return n;
}

static int on_listener(const struct wsock *l, const struct ep *e)
{
    return e->port == l->local.port && (ep_any(&l->local) || ep_eq(e, &l->local));
}

static struct wsock *listener_of(struct sp__wire *w, const struct wcap *c, const struct ep *e)
{
    uint64_t h = port_hash(e->port);
    for (struct hnode *x = htab_chain(&w->lports, h); x != NULL; x = x->next) {
        struct wsock *ws = WS_OF(x, by_port);
        if (x->h == h && ws->cap == c && on_listener(ws, e))
            return ws;
    }
    return NULL;
}

/* Takes p out of the age list and the hash; the caller keeps or frees it. */
static void pend_unlink(struct sp__wire *w, struct pend *p)
{
    if (p->older != NULL)
        p->older->newer = p->newer;
    else
        w->oldest = p->newer;
    if (p->newer != NULL)
        p->newer->older = p->older;
    else
        w->newest = p->older;
    htab_del(&w->pends, &p->by_pair);
    w->pcount--;
}

static void pend_drop(struct sp__wire *w, struct pend *p)
{
    pend_unlink(w, p);
    free(p);
}

/* Holds a segment of a connection listener l has not accepted yet, filed
 * under (l's end, the client's end). */
static void pend_add(struct sp__wire *w, struct wcap *c, const struct wsock *l,
                     const struct ep *src, const struct ep *dst, const struct sp_tcp_pkt *t,
                     uint64_t ns, int64_t wall_us, const unsigned char *ip, size_t n)
{
    if (w->pcount == WIRE_PENDING_MAX) {
        pend_drop(w, w->oldest);
        w->plost++;
    }
    struct pend *p = sp_xcalloc(1, sizeof *p);
    p->order = ++w->porder;
    p->listener = l->id;
    p->cap = c;
    p->pkt = *t;
    p->ns = ns;
    p->wall_us = wall_us;
    p->n = n < sizeof p->ip ? n : sizeof p->ip;
    memcpy(p->ip, ip, p->n);
    p->older = w->newest;
    if (w->newest != NULL)
        w->newest->newer = p;
    else
        w->oldest = p;
    w->newest = p;
    w->pcount++;
    int to_l = on_listener(l, dst);
    htab_put(&w->pends, &p->by_pair, to_l ? pair_hash(dst, src) : pair_hash(src, dst));
}

static void deliver(struct wcap *c, struct wsock *ws, const struct sp_tcp_pkt *t, uint64_t ns,
                    int64_t wall_us, const unsigned char *ip, size_t n)
{
    struct sp_engine *eng = c->w->eng;
    struct sp_sock *s = sp__sock_get(eng, ws->id);
    if (s == NULL)
        return;
    struct ep src = {.v6 = t->v6, .port = t->sport};
    memcpy(src.a, t->src, 16);
    int out = ep_eq(&src, &ws->local);
    struct sp_event ev = {.type = SP_EV_SEGMENT, .unread = -1, .unsent = -1};
    uint64_t off;
    sp_tcpflow_add(&ws->flow, t, out, ns, &ev.seg, &off);
    ws->nseg++;
    if (!sp__wants(eng, SP_EV_SEGMENT))
        return;
    ev.seg.wall_us = wall_us;
    ev.seg.cap_ns = ns;
    ev.seq = ws->nseg;
    ev.off = off;
    ev.len = t->len;
    ev.data = ip;
    ev.data_len = n < t->ip_len ? n : t->ip_len;
    sp__emit(eng, s, &ev);
}

/* Both ends may be ours (a connect to our own listener): a segment is then
 * one socket's out and the other's in. The matches are collected first: an
 * event handler may unwatch a socket. */
static void on_packet(u_char *ud, const struct pcap_pkthdr *h, const u_char *p)
{
    struct wcap *c = (struct wcap *)ud;
    struct sp__wire *w = c->w;
    struct sp_tcp_pkt t;
    if (sp_tcp_parse(p, h->caplen, h->len, c->linktype, &t, NULL) != 0)
        return;
    struct ep src = {.v6 = t.v6, .port = t.sport}, dst = {.v6 = t.v6, .port = t.dport};
    memcpy(src.a, t.src, 16);
    memcpy(dst.a, t.dst, 16);
    uint64_t ns = cap_ns(w->eng, &h->ts);
    int64_t wall_us = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
    const unsigned char *ip = p + t.ip_off;
    size_t n = h->caplen - t.ip_off;
    uint32_t ids[8];
    size_t nids = 0;
    int child = 0;
    for (int tries = 0; tries < 2 && nids == 0; tries++) {
        if (tries == 1 && (w->nunres == 0 || resolve(w) == 0))
            break;
        nids = pair_ids(w, c, &src, &dst, ids, 4, &child);
        nids += pair_ids(w, c, &dst, &src, ids + nids, 4, &child);
    }
    /* Not accepted yet: held until it is. */
    struct wsock *lis = child ? NULL : listener_of(w, c, &dst);
    if (!child && lis == NULL)
        lis = listener_of(w, c, &src);
    if (lis != NULL)
        pend_add(w, c, lis, &src, &dst, &t, ns, wall_us, ip, n);
    for (size_t i = 0; i < nids; i++) {
        struct wsock *ws = ws_find(w, ids[i]);
        if (ws != NULL)
            deliver(c, ws, &t, ns, wall_us, ip, n);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct wcap *c = h->data;
    if (status < 0)
        return;
    for (int i = 0; i < WIRE_ROUNDS; i++)
        if (pcap_dispatch(c->pc, WIRE_BATCH, on_packet, (u_char *)c) < WIRE_BATCH)
            break;
}

static void cap_closed(uv_handle_t *h)
{
    struct wcap *c = h->data;
    pcap_close(c->pc);
    sp_buf_cleanup(&c->filter);
    free(c);
}

static void cap_close(struct wcap *c)
{
    struct sp__wire *w = c->w;
    for (size_t i = 0; i < w->ncaps; i++)
        if (w->caps[i] == c) {
            w->caps[i] = w->caps[--w->ncaps];
            break;
        }
    for (struct pend *p = w->oldest, *next; p != NULL; p = next) {
        next = p->newer;
        if (p->cap == c)
            pend_drop(w, p);
    }
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, cap_closed);
}

/* No capture without CAP_NET_RAW: said once in a notice, and in err. */
static void denied(struct sp__wire *w, struct sp_sock *s, char *err, size_t errlen)
{
    char exe[512], msg[800];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    snprintf(msg, sizeof msg,
             "the wire view needs CAP_NET_RAW to capture: run as root, or grant it once with "
             "`sudo setcap cap_net_raw,cap_net_admin+ep %s`; everything else works without it",
             n > 0 ? exe : "$(command -v sockpit)");
    sp__seterr(err, errlen, "%s", msg);
    if (!w->denied)
        sp__emit_notice(s, msg);
    w->denied = 1;
}

/* An offload of the interface (ETHTOOL_G*): 1 on, 0 off, -1 unknown. */
static int offload(int fd, const char *ifname, uint32_t cmd)
{
    struct ethtool_value v = {.cmd = cmd};
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    ifr.ifr_data = (void *)&v;
    return fd >= 0 && ioctl(fd, SIOCETHTOOL, &ifr) == 0 ? v.data != 0 : -1;
}

static const char *onoff(int v)
{
    return v < 0 ? "unknown" : v ? "on" : "off";
}

/* Off loopback, where the segments of the view come from and how
 * segmentation offload bends them: with TSO/GSO the capture sees one big
 * packet the NIC (or the stack, later) cuts into segments, with GRO one
 * packet made of several that arrived. */
static void iface_notice(struct sp_sock *s, const char *ifname)
{
    char msg[480];
    if (strcmp(ifname, "any") == 0) {
        snprintf(msg, sizeof msg,
                 "wire: capturing on every interface (\"any\": the connections may come through "
                 "any of them); offload (GRO/GSO/TSO) may merge segments: a captured packet may "
                 "be several segments on the wire, the view shows what the capture saw");
    } else {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int gro = offload(fd, ifname, ETHTOOL_GGRO), gso = offload(fd, ifname, ETHTOOL_GGSO),
            tso = offload(fd, ifname, ETHTOOL_GTSO);
        if (fd >= 0)
            close(fd);
        snprintf(msg, sizeof msg,
                 "wire: capturing on %s; offload may merge segments (GRO %s, GSO %s, TSO %s): a "
                 "captured packet may be several segments on the wire, the view shows what the "
                 "capture saw",
                 ifname, onoff(gro), onoff(gso), onoff(tso));
    }
    sp__emit_notice(s, msg);
}

static struct wcap *cap_open(struct sp__wire *w, struct sp_sock *s, const char *ifname, char *err,
                             size_t errlen)
{
    for (size_t i = 0; i < w->ncaps; i++)
        if (strcmp(w->caps[i]->ifname, ifname) == 0)
            return w->caps[i];
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_create(ifname, ebuf);
    if (pc == NULL) {
        sp__seterr(err, errlen, "wire: capture on %s: %s", ifname, ebuf);
        return NULL;
    }
    pcap_set_snaplen(pc, WIRE_SNAPLEN);
    pcap_set_promisc(pc, 0);
    pcap_set_immediate_mode(pc, 1);
    pcap_set_buffer_size(pc, w->eng->wire_buffer > 0 ? w->eng->wire_buffer : WIRE_BUFSIZE);
    int r = pcap_activate(pc);
    if (r == PCAP_ERROR_PERM_DENIED || (r < 0 && strstr(pcap_geterr(pc), "ermitted") != NULL)) {
        pcap_close(pc);
        denied(w, s, err, errlen);
        return NULL;
    }
    int fd = r >= 0 ? pcap_get_selectable_fd(pc) : -1;
    if (r < 0 || fd < 0 || pcap_setnonblock(pc, 1, ebuf) != 0) {
        sp__seterr(err, errlen, "wire: capture on %s: %s", ifname,
                   r < 0    ? pcap_geterr(pc)
                   : fd < 0 ? "no selectable descriptor"
                            : ebuf);
        pcap_close(pc);
        return NULL;
    }
    struct wcap *c = sp_xcalloc(1, sizeof *c);
    c->w = w;
    c->pc = pc;
    c->linktype = pcap_datalink(pc);
    snprintf(c->ifname, sizeof c->ifname, "%s", ifname);
    sp_buf_init(&c->filter);
    uv_poll_init(&w->eng->loop, &c->poll, fd);
    c->poll.data = c;
    uv_poll_start(&c->poll, UV_READABLE, on_poll);
    /* The capture alone never keeps the loop (and a headless run) alive. */
    uv_unref((uv_handle_t *)&c->poll);
    w->caps = sp_xreallocarray(w->caps, w->ncaps + 1, sizeof *w->caps);
    w->caps[w->ncaps++] = c;
    if (strcmp(ifname, "lo") != 0)
        iface_notice(s, ifname);
    return c;
}

static void ws_remove(struct sp__wire *w, struct wsock *ws)
{
    struct wcap *c = ws->cap;
    w->ws[ws->idx] = w->ws[--w->nws];
    w->ws[ws->idx]->idx = ws->idx;
    htab_del(&w->ids, &ws->by_id);
    if (ws->listener)
        htab_del(&w->lports, &ws->by_port);
    else if (ws->uidx != SIZE_MAX)
        unres_del(w, ws);
    else
        htab_del(&w->pairs, &ws->by_pair);
    free(ws);
    if (--c->users == 0)
        cap_close(c);
    else
        c->stale = 1; /* narrowed at the next tick: a wider filter loses nothing */
}

/* Watches s on the capture of its interface. via: the watched listener
 * that accepted it. */
static int watch(struct sp__wire *w, struct sp_sock *s, uint32_t via, char *err, size_t errlen)
{
    struct wsock *ws = sp_xcalloc(1, sizeof *ws);
    ws->id = s->id;
    ws->via = via;
    ws->uidx = SIZE_MAX;
    ws->listener = s->kind == SP_SOCK_TCP_LISTEN;
    sp_tcpflow_init(&ws->flow);
    int restored = s->wire_saved != NULL;
    if (restored) {
        ws->flow = s->wire_saved->flow;
        ws->nseg = s->wire_saved->nseg;
    }
    ws->have_local = ep_of(&s->la, &ws->local) == 0 && ws->local.port != 0;
    ws->have_peer = ep_of(&s->pa, &ws->peer) == 0 && ws->peer.port != 0;
    if (!ws->listener && !ws->have_peer) {
        free(ws);
        sp__seterr(err, errlen, "wire: socket %u has no peer address yet", s->id);
        return -EINVAL;
    }
    /* The side many connections share: a listener's port (an accepted
     * connection's local one), a server's (the peer's of one we made). */
    ws->service = ws->listener || s->parent != 0 ? ws->local.port : ws->peer.port;
    struct wcap *c = NULL;
    if (via != 0) {
        struct wsock *l = ws_find(w, via);
        c = l != NULL ? l->cap : NULL;
    }
    if (c == NULL) {
        char ifname[IF_NAMESIZE + 4];
        iface_for(ws, ifname, sizeof ifname);
        c = cap_open(w, s, ifname, err, errlen);
    }
    if (c == NULL) {
        free(ws);
        return -EPERM;
    }
    ws->cap = c;
    c->users++;
    w->ws = sp_xreallocarray(w->ws, w->nws + 1, sizeof *w->ws);
    ws->idx = w->nws;
    w->ws[w->nws++] = ws;
    htab_put(&w->ids, &ws->by_id, id_hash(ws->id));
    ws_index(w, ws);
    if (!restored && s->established && !ws->listener && s->kind == SP_SOCK_TCP) {
        /* Mid-connection: the SYNs (and their window scales) are gone, the
         * kernel still knows the scales. */
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        int fd = sp__sock_fd(s);
        if (fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
            (ti.tcpi_options & TCPI_OPT_WSCALE))
            sp_tcpflow_set_scale(&ws->flow, ti.tcpi_rcv_wscale, ti.tcpi_snd_wscale);
    }
    /* Widened now, before the SYN can leave; narrowed lazily (ws_remove). */
    if (!covered(c, ws) && set_filter(c, err, errlen) != 0) {
        ws_remove(w, ws);
        return -EINVAL;
    }
    return 0;
}

static void notice(struct sp_engine *eng, const char *msg)
{
    struct sp_event ev = {.type = SP_EV_NOTICE, .unread = -1, .unsent = -1, .message = msg};
    sp__emit(eng, NULL, &ev);
}

/* What the captures missed since the last tick, said in a notice: the
 * capture's own drops (its buffer was full: the kernel delivered segments
 * the events and pcap files lack) apart from the interface's (packets the
 * interface dropped, which never reached any socket either). */
static void report_drops(struct sp__wire *w)
{
    char msg[400];
    for (size_t i = 0; i < w->ncaps; i++) {
        struct wcap *c = w->caps[i];
        struct pcap_stat st;
        if (pcap_stats(c->pc, &st) != 0)
            continue;
        if (st.ps_drop > c->drops) {
            c->drops = st.ps_drop;
            snprintf(msg, sizeof msg,
                     "wire: the capture on %s dropped %llu segments so far (its buffer was full: "
                     "the kernel delivered them, the segment events and pcap files miss them)",
                     c->ifname, (unsigned long long)c->drops);
            notice(w->eng, msg);
        }
        if (st.ps_ifdrop > c->ifdrops) {
            c->ifdrops = st.ps_ifdrop;
            snprintf(msg, sizeof msg,
                     "wire: the interface %s dropped %llu packets since the capture began (its "
                     "own counter: they reached no socket either)",
                     c->ifname, (unsigned long long)c->ifdrops);
            notice(w->eng, msg);
        }
    }
    if (w->plost > w->plost_said) {
        w->plost_said = w->plost;
        snprintf(msg, sizeof msg,
                 "wire: %llu segments of connections not accepted yet were not kept (at most %d "
                 "are held until accept): those connections miss them",
                 (unsigned long long)w->plost, WIRE_PENDING_MAX);
        notice(w->eng, msg);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct sp__wire *w = t->data;
    struct sp_engine *eng = w->eng;
    uint64_t now = uv_hrtime() - eng->t0;
    for (size_t i = w->nws; i-- > 0;) {
        struct wsock *ws = w->ws[i];
        struct sp_sock *s = sp__sock_get(eng, ws->id);
        if (s != NULL && s->closed && ws->closed_ns == 0)
            ws->closed_ns = now;
        if (s == NULL || (ws->closed_ns != 0 && now - ws->closed_ns > WIRE_LINGER_NS))
            ws_remove(w, ws);
    }
    while (w->oldest != NULL && now - w->oldest->ns > WIRE_PENDING_MAX_NS)
        pend_drop(w, w->oldest);
    for (size_t i = 0; i < w->ncaps; i++)
        if (w->caps[i]->stale)
            set_filter(w->caps[i], NULL, 0);
    report_drops(w);
}

static struct sp__wire *wire_get(struct sp_engine *eng)
{
    if (eng->wire == NULL) {
        struct sp__wire *w = sp_xcalloc(1, sizeof *w);
        w->eng = eng;
        uv_timer_init(&eng->loop, &w->tick);
        w->tick.data = w;
        sp__timer_start(&w->tick, on_tick, WIRE_TICK_MS, WIRE_TICK_MS);
        uv_unref((uv_handle_t *)&w->tick);
        eng->wire = w;
    }
    return eng->wire;
}

int sp__wire_watch(struct sp_sock *s, char *err, size_t errlen)
{
    if (s->kind != SP_SOCK_TCP && s->kind != SP_SOCK_TCP_LISTEN) {
        sp__seterr(err, errlen, "the wire view shows TCP sockets only");
        return -EINVAL;
    }
    struct sp__wire *w = wire_get(s->eng);
    if (ws_find(w, s->id) != NULL)
        return 0;
    return watch(w, s, 0, err, errlen);
}

void sp__wire_want(struct sp_sock *s)
{
    char err[800] = "";
    int r = sp__wire_watch(s, err, sizeof err);
    if (r != 0 && r != -EPERM)
        sp__emit_notice(s, err);
    s->wire_want = 0;
}

void sp__wire_mss(struct sp_engine *eng, int fd)
{
    if (eng->mss > 0 && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &eng->mss, sizeof eng->mss) != 0) {
        char msg[120];
        snprintf(msg, sizeof msg, "set mss %d: %s (the kernel's MSS is used)", eng->mss,
                 strerror(errno));
        notice(eng, msg);
    }
}

static int by_order(const void *a, const void *b)
{
    const struct pend *x = *(struct pend *const *)a, *y = *(struct pend *const *)b;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The segments held for the connection ws of listener lid, oldest first,
 * taken out of the held ones; returns how many (*out to free). */
static size_t pend_take(struct sp__wire *w, const struct wsock *ws, uint32_t lid,
                        struct pend ***out)
{
    uint64_t h = pair_hash(&ws->local, &ws->peer);
    struct pend **v = NULL;
    size_t n = 0;
    for (struct hnode *x = htab_chain(&w->pends, h); x != NULL; x = x->next) {
        struct pend *p = (struct pend *)((char *)x - offsetof(struct pend, by_pair));
        struct ep src = {.v6 = p->pkt.v6, .port = p->pkt.sport},
                  dst = {.v6 = p->pkt.v6, .port = p->pkt.dport};
        memcpy(src.a, p->pkt.src, 16);
        memcpy(dst.a, p->pkt.dst, 16);
        if (x->h != h || p->listener != lid || way(ws, &src, &dst) < 0)
            continue;
        v = sp_xreallocarray(v, n + 1, sizeof *v);
        v[n++] = p;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, by_order);
    for (size_t i = 0; i < n; i++) /* kept for delivery */
        pend_unlink(w, v[i]);
    *out = v;
    return n;
}

void sp__wire_accepted(struct sp_sock *l, struct sp_sock *s)
{
    struct sp__wire *w = l->eng->wire;
    struct wsock *lw = w != NULL ? ws_find(w, l->id) : NULL;
    if (lw == NULL || lw->closed_ns != 0 || watch(w, s, l->id, NULL, 0) != 0)
        return;
    /* The handshake the capture saw before accept(2) returned. */
    struct pend **v;
    size_t n = pend_take(w, ws_find(w, s->id), l->id, &v);
    for (size_t i = 0; i < n; i++) {
        struct wsock *ws = ws_find(w, s->id); /* a handler may have unwatched it */
        if (ws != NULL)
            deliver(ws->cap, ws, &v[i]->pkt, v[i]->ns, v[i]->wall_us, v[i]->ip, v[i]->n);
        free(v[i]);
    }
    free(v);
}

/* Keeps ws's tracker on its socket while the view is off: the ISNs and the
 * segment numbers go on when it is turned on again. What it saw of each
 * side's progress is forgotten (the segments in between were not seen, so
 * nothing is marked for them), the offsets stay exact from the ISNs. */
static void save_flow(struct sp__wire *w, const struct wsock *ws)
{
    struct sp_sock *s = sp__sock_get(w->eng, ws->id);
    if (s == NULL || ws->listener)
        return;
    if (s->wire_saved == NULL)
        s->wire_saved = sp_xmalloc(sizeof *s->wire_saved);
    s->wire_saved->flow = ws->flow;
    s->wire_saved->nseg = ws->nseg;
    for (int i = 0; i < 2; i++) {
        struct sp_tcpside *d = &s->wire_saved->flow.side[i];
        d->seen = 0;
        d->acked = 0;
        d->dupacks = 0;
        d->hole_open = 0;
    }
}

void sp__wire_forget(struct sp_sock *s)
{
    free(s->wire_saved);
    s->wire_saved = NULL;
}

int sp__wire_unwatch(struct sp_sock *s)
{
    struct sp__wire *w = s->eng->wire;
    struct wsock *ws = w != NULL ? ws_find(w, s->id) : NULL;
    if (ws == NULL)
        return 0;
    for (size_t i = w->nws; i-- > 0;)
        if (i < w->nws && w->ws[i]->via == s->id) {
            save_flow(w, w->ws[i]);
            ws_remove(w, w->ws[i]);
        }
    ws = ws_find(w, s->id);
    save_flow(w, ws);
    ws_remove(w, ws);
    return 1;
}

int sp__wire_info(struct sp_engine *eng, uint32_t id, struct sp_wire_info *out)
{
    memset(out, 0, sizeof *out);
    struct sp__wire *w = eng->wire;
    struct wsock *ws = w != NULL ? ws_find(w, id) : NULL;
    if (ws == NULL)
        return 0;
    out->on = 1;
    out->segments = ws->nseg;
    out->dropped = ws->cap->drops;
    out->ifdropped = ws->cap->ifdrops;
    snprintf(out->ifname, sizeof out->ifname, "%s", ws->cap->ifname);
    out->listener_watch = ws->listener;
    out->via = ws->via;
    static const char *const kinds[] = {"pairs", "ports", "tcp"};
    snprintf(out->filter, sizeof out->filter, "%s", kinds[ws->cap->kind]);
    out->filter_len = ws->cap->filter.len;
    out->recompiles = ws->cap->recompiles;
    out->watched = ws->cap->users;
    return 1;
}

static void tick_closed(uv_handle_t *h)
{
    struct sp__wire *w = h->data;
    free(w->ws);
    free(w->caps);
    free(w->unres);
    free(w->ids.b);
    free(w->pairs.b);
    free(w->lports.b);
    free(w->pends.b);
    free(w);
}

void sp__wire_free(struct sp_engine *eng)
{
    struct sp__wire *w = eng->wire;
    if (w == NULL)
        return;
    eng->wire = NULL;
    for (size_t i = 0; i < w->nws; i++)
        free(w->ws[i]);
    w->nws = 0;
    while (w->oldest != NULL)
        pend_drop(w, w->oldest);
    while (w->ncaps > 0)
        cap_close(w->caps[0]);
    uv_close((uv_handle_t *)&w->tick, tick_closed);
}
