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
 * so the FIN/ACK exchange and the TIME_WAIT side of the teardown are seen. */
#include "engine_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
/* Segments of connections a watched listener has not accepted yet. */
#define WIRE_PENDING_MAX    128
#define WIRE_PENDING_MAX_NS (10000ull * 1000000)

/* One end of a connection: IPv4 in a[0..4). */
struct ep {
    int v6;
    unsigned char a[16];
    uint16_t port;
};

struct wcap {
    struct sp__wire *w;
    char ifname[IF_NAMESIZE + 4];
    pcap_t *pc;
    int linktype;
    uv_poll_t poll;
    struct sp_buf filter; /* the filter in force */
    unsigned users;
    uint64_t drops; /* ps_drop + ps_ifdrop reported so far */
};

struct wsock {
    uint32_t id;
    uint32_t via; /* accepted under this watched listener (its filter covers us), else 0 */
    int listener;
    struct wcap *cap;
    struct ep local, peer;
    int have_local, have_peer;
    struct sp_tcpflow flow;
    uint64_t nseg;
    uint64_t closed_ns; /* when it was first seen closed, 0 while open */
};

struct pend {
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
    struct pend *pend; /* a ring of WIRE_PENDING_MAX */
    size_t phead, pcount;
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
    if (ws->have_local && local_iface(&ws->local, tmp, sizeof tmp)) {
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

static int set_filter(struct wcap *c, char *err, size_t errlen)
{
    struct sp__wire *w = c->w;
    struct sp_buf t;
    sp_buf_init(&t);
    for (size_t i = 0; i < w->nws; i++)
        if (w->ws[i]->cap == c)
            term(&t, w->ws[i]);
    struct sp_buf f;
    sp_buf_init(&f);
    sp_buf_appendf(&f, "tcp and (%s)", t.len > 0 ? sp_buf_str(&t) : "less 0");
    sp_buf_cleanup(&t);
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
out:
    sp_buf_cleanup(&f);
    return r;
}

static void deliver(struct wcap *c, struct wsock *ws, const struct sp_tcp_pkt *t, uint64_t ns,
                    int64_t wall_us, const unsigned char *ip, size_t n);

static struct sp__wire *wire_get(struct sp_engine *eng);

static void pend_add(struct sp__wire *w, struct wcap *c, uint32_t listener,
                     const struct sp_tcp_pkt *t, uint64_t ns, int64_t wall_us,
                     const unsigned char *ip, size_t n)
{
    if (w->pend == NULL)
        w->pend = sp_xcalloc(WIRE_PENDING_MAX, sizeof *w->pend);
    if (w->pcount == WIRE_PENDING_MAX) { /* the oldest goes */
        w->phead = (w->phead + 1) % WIRE_PENDING_MAX;
        w->pcount--;
    }
    struct pend *p = &w->pend[(w->phead + w->pcount++) % WIRE_PENDING_MAX];
    p->listener = listener;
    p->cap = c;
    p->pkt = *t;
    p->ns = ns;
    p->wall_us = wall_us;
    p->n = n < sizeof p->ip ? n : sizeof p->ip;
    memcpy(p->ip, ip, p->n);
}

/* Which way a segment goes for ws: 1 out, 0 in, -1 not its. */
static int direction(struct wsock *ws, const struct ep *src, const struct ep *dst)
{
    if (!ws->have_local) {
        struct sp_sock *s = sp__sock_get(ws->cap->w->eng, ws->id);
        int fd = s != NULL ? sp__sock_fd(s) : -1;
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
            ep_of(&ss, &ws->local) == 0 && ws->local.port != 0)
            ws->have_local = 1;
        if (!ws->have_local)
            return -1;
    }
    if (ep_eq(src, &ws->local) && ep_eq(dst, &ws->peer))
        return 1;
    if (ep_eq(src, &ws->peer) && ep_eq(dst, &ws->local))
        return 0;
    return -1;
}

static int on_listener(const struct wsock *l, const struct ep *e)
{
    return e->port == l->local.port && (ep_any(&l->local) || ep_eq(e, &l->local));
}

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
    /* Both ends may be ours (a connect to our own listener): a segment is
     * then one socket's out and the other's in. */
    struct wsock *lis = NULL;
    int child = 0;
    for (size_t i = 0; i < w->nws; i++) {
        struct wsock *ws = w->ws[i];
        if (ws->cap != c)
            continue;
        if (ws->listener) {
            if (on_listener(ws, &dst) || on_listener(ws, &src))
                lis = ws;
        } else if (direction(ws, &src, &dst) >= 0) {
            child |= ws->via != 0;
            deliver(c, ws, &t, ns, wall_us, ip, n);
        }
    }
    /* Not accepted yet: held until it is. */
    if (lis != NULL && !child)
        pend_add(w, c, lis->id, &t, ns, wall_us, ip, n);
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
    for (size_t i = 0; i < w->pcount; i++)
        if (w->pend[(w->phead + i) % WIRE_PENDING_MAX].cap == c)
            w->pend[(w->phead + i) % WIRE_PENDING_MAX].listener = 0;
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
    pcap_set_buffer_size(pc, WIRE_BUFSIZE);
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
    return c;
}

static struct wsock *ws_find(struct sp__wire *w, uint32_t id)
{
    for (size_t i = 0; i < w->nws; i++)
        if (w->ws[i]->id == id)
            return w->ws[i];
    return NULL;
}

static void ws_remove(struct sp__wire *w, struct wsock *ws)
{
    struct wcap *c = ws->cap;
    for (size_t i = 0; i < w->nws; i++)
        if (w->ws[i] == ws) {
            w->ws[i] = w->ws[--w->nws];
            break;
        }
    free(ws);
    if (--c->users == 0)
        cap_close(c);
    else
        set_filter(c, NULL, 0);
}

/* Watches s on the capture of its interface. via: the watched listener
 * that accepted it. */
static int watch(struct sp__wire *w, struct sp_sock *s, uint32_t via, char *err, size_t errlen)
{
    struct wsock *ws = sp_xcalloc(1, sizeof *ws);
    ws->id = s->id;
    ws->via = via;
    ws->listener = s->kind == SP_SOCK_TCP_LISTEN;
    sp_tcpflow_init(&ws->flow);
    ws->have_local = ep_of(&s->la, &ws->local) == 0 && ws->local.port != 0;
    ws->have_peer = ep_of(&s->pa, &ws->peer) == 0 && ws->peer.port != 0;
    if (!ws->listener && !ws->have_peer) {
        free(ws);
        sp__seterr(err, errlen, "wire: socket %u has no peer address yet", s->id);
        return -EINVAL;
    }
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
    w->ws[w->nws++] = ws;
    if (s->established && !ws->listener && s->kind == SP_SOCK_TCP) {
        /* Mid-connection: the SYNs (and their window scales) are gone, the
         * kernel still knows the scales. */
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        int fd = sp__sock_fd(s);
        if (fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
            (ti.tcpi_options & TCPI_OPT_WSCALE))
            sp_tcpflow_set_scale(&ws->flow, ti.tcpi_rcv_wscale, ti.tcpi_snd_wscale);
    }
    if (set_filter(c, err, errlen) != 0) {
        ws_remove(w, ws);
        return -EINVAL;
    }
    return 0;
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
    while (w->pcount > 0 && now - w->pend[w->phead].ns > WIRE_PENDING_MAX_NS) {
        w->phead = (w->phead + 1) % WIRE_PENDING_MAX;
        w->pcount--;
    }
    for (size_t i = 0; i < w->ncaps; i++) {
        struct wcap *c = w->caps[i];
        struct pcap_stat st;
        if (pcap_stats(c->pc, &st) != 0)
            continue;
        uint64_t drops = (uint64_t)st.ps_drop + st.ps_ifdrop;
        if (drops <= c->drops)
            continue;
        char msg[200];
        snprintf(msg, sizeof msg,
                 "wire: the capture on %s dropped %llu segments so far (the kernel's capture "
                 "buffer was full): segment events and pcap files miss them",
                 c->ifname, (unsigned long long)drops);
        c->drops = drops;
        struct sp_event ev = {.type = SP_EV_NOTICE, .unread = -1, .unsent = -1, .message = msg};
        sp__emit(eng, NULL, &ev);
    }
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
        struct sp_event ev = {.type = SP_EV_NOTICE, .unread = -1, .unsent = -1, .message = msg};
        sp__emit(eng, NULL, &ev);
    }
}

void sp__wire_accepted(struct sp_sock *l, struct sp_sock *s)
{
    struct sp__wire *w = l->eng->wire;
    struct wsock *lw = w != NULL ? ws_find(w, l->id) : NULL;
    if (lw == NULL || lw->closed_ns != 0 || watch(w, s, l->id, NULL, 0) != 0)
        return;
    /* The handshake the capture saw before accept(2) returned. */
    struct wsock *ws = ws_find(w, s->id);
    for (size_t i = 0; i < w->pcount; i++) {
        struct pend *p = &w->pend[(w->phead + i) % WIRE_PENDING_MAX];
        if (p->listener != l->id)
            continue;
        struct ep src = {.v6 = p->pkt.v6, .port = p->pkt.sport},
                  dst = {.v6 = p->pkt.v6, .port = p->pkt.dport};
        memcpy(src.a, p->pkt.src, 16);
        memcpy(dst.a, p->pkt.dst, 16);
        if (direction(ws, &src, &dst) < 0)
            continue;
        p->listener = 0;
        deliver(ws->cap, ws, &p->pkt, p->ns, p->wall_us, p->ip, p->n);
    }
}

int sp__wire_unwatch(struct sp_sock *s)
{
    struct sp__wire *w = s->eng->wire;
    struct wsock *ws = w != NULL ? ws_find(w, s->id) : NULL;
    if (ws == NULL)
        return 0;
    for (size_t i = w->nws; i-- > 0;)
        if (w->ws[i]->via == s->id)
            ws_remove(w, w->ws[i]);
    ws_remove(w, ws_find(w, s->id));
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
    snprintf(out->ifname, sizeof out->ifname, "%s", ws->cap->ifname);
    out->listener_watch = ws->listener;
    out->via = ws->via;
    return 1;
}

static void tick_closed(uv_handle_t *h)
{
    struct sp__wire *w = h->data;
    free(w->ws);
    free(w->caps);
    free(w->pend);
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
    while (w->ncaps > 0)
        cap_close(w->caps[0]);
    uv_close((uv_handle_t *)&w->tick, tick_closed);
}
