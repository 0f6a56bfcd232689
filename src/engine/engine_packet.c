/* Packet sockets: AF_PACKET SOCK_RAW bound to one interface, driven by
 * uv_poll on our own descriptor like Unix datagram sockets. Each frame the
 * kernel hands over is one recv event with the link layer the kernel
 * reported (sockaddr_ll) and a one-line summary of the frame (pktsum.h);
 * sends are whole frames out of the bound interface. */
#include "engine_int.h"

#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_packet.h>

#include "sockpit/proto/pktsum.h"
#include "kstate.h"

/* Frames taken per readiness callback, as for datagrams. */
#define PACKET_BATCH 32

static const char need_cap[] =
    "packet sockets need CAP_NET_RAW: run as root, or grant it once with "
    "`setcap cap_net_raw+ep $(command -v sockpit)`";

/* How the frames of a link type begin: the summary decodes Ethernet-style
 * headers (Ethernet, loopback, veth) or a bare IP packet (tun, raw IP). */
static enum sp_pkt_link link_of(unsigned short hatype)
{
    switch (hatype) {
    case ARPHRD_NONE:
    case ARPHRD_RAWIP:
    case ARPHRD_TUNNEL:
    case ARPHRD_TUNNEL6:
    case ARPHRD_SIT:
    case ARPHRD_IPGRE:
        return SP_PKT_LINK_IP;
    default:
        return SP_PKT_LINK_ETH;
    }
}

/* One frame as the kernel returned it: counted, published with its link
 * layer and summary, fed to the framing. Not echoed: echoing every frame
 * of an interface back onto it would feed itself. */
static void packet_data(struct sp_sock *s, const unsigned char *p, size_t n, size_t real,
                        int64_t unread, const struct sockaddr_ll *ll, socklen_t lllen)
{
    struct sp_engine *eng = s->eng;
    uint64_t off = s->bytes_in;
    s->chunks++;
    s->bytes_in += n;
    if (sp__wants(eng, SP_EV_RECV)) {
        char mac[SP_ADDR_TEXT_MAX];
        char ifname[IF_NAMESIZE + 1];
        char summary[SP_PKTSUM_MAX];
        sp_sockaddr_format((const struct sockaddr *)ll, lllen, mac, sizeof mac);
        if (ll->sll_ifindex == (int)s->ifindex ||
            if_indextoname((unsigned)ll->sll_ifindex, ifname) == NULL)
            snprintf(ifname, sizeof ifname, "%s", s->ifname);
        sp_pktsum(p, n, real, link_of(ll->sll_hatype), summary, sizeof summary);
        struct sp_event ev = {.type = SP_EV_RECV};
        ev.seq = s->chunks;
        ev.off = off;
        ev.len = n;
        ev.data = p;
        ev.data_len = n;
        ev.truncated = real > n;
        ev.framed = s->spec.kind != SP_FRAME_RAW && !sp__framer_lost(s);
        ev.unread = unread;
        ev.from = mac;
        ev.ifname = ifname;
        ev.ifindex = (uint32_t)ll->sll_ifindex;
        ev.pkttype = ll->sll_pkttype;
        ev.protocol = ntohs(ll->sll_protocol);
        ev.summary = summary;
        sp__emit(eng, s, &ev);
    }
    if (s->fr != NULL)
        sp__framer_feed(s, p, n);
}

/* One recvfrom() without blocking. MSG_TRUNC makes it return the frame's
 * real length, so a frame longer than the recv size is said to be cut. */
static ssize_t recv_frame(int fd, void *p, size_t n, struct sockaddr_ll *ll, socklen_t *lllen)
{
    memset(ll, 0, sizeof *ll);
    *lllen = sizeof *ll;
    return recvfrom(fd, p, n, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)ll, lllen);
}

static void on_packet(uv_poll_t *h, int status, int events)
{
    struct sp_sock *s = h->data;
    (void)events;
    if (status < 0) {
        sp__emit_error(s, "recv", status);
        return;
    }
    for (int i = 0; i < PACKET_BATCH && !s->closed && s->reading; i++) {
        struct sockaddr_ll ll;
        socklen_t lllen;
        ssize_t r = recv_frame(s->fd, s->eng->rbuf, s->recvsize, &ll, &lllen);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                sp__emit_error(s, "recv", -errno);
            return;
        }
        size_t n = (size_t)r < s->recvsize ? (size_t)r : s->recvsize;
        packet_data(s, s->eng->rbuf, n, (size_t)r, -1, &ll, lllen);
    }
}

int sp__packet_read_start(struct sp_sock *s)
{
    int r = uv_poll_start(&s->u.poll, UV_READABLE, on_packet);
    if (r == 0)
        s->reading = 1;
    return r;
}

void sp__packet_read_stop(struct sp_sock *s)
{
    uv_poll_stop(&s->u.poll);
    s->reading = 0;
}

int sp__packet_recv_once(struct sp_sock *s, size_t n, char *err, size_t errlen)
{
    int64_t unread = sp__kstate_inq(s->fd);
    unsigned char *buf = sp_xmalloc(n);
    struct sockaddr_ll ll;
    socklen_t lllen;
    ssize_t r;
    do
        r = recv_frame(s->fd, buf, n, &ll, &lllen);
    while (r < 0 && errno == EINTR);
    int e = errno;
    if (r >= 0)
        packet_data(s, buf, (size_t)r < n ? (size_t)r : n, (size_t)r, unread, &ll, lllen);
    free(buf);
    if (r < 0) {
        if (e == EAGAIN || e == EWOULDBLOCK) {
            sp__seterr(err, errlen, "socket %u: no frame waiting", s->id);
            return -EAGAIN;
        }
        sp__emit_error(s, "recv", -e);
    }
    return 0;
}

/* Opens and binds the descriptor. The socket is made with protocol 0, so it
 * receives nothing until bind() names the interface and the EtherType:
 * no frame of another interface slips in between. */
static int open_bound(const struct sp_addr *addr, unsigned ifindex, char *err, size_t errlen)
{
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        if (e == EPERM || e == EACCES)
            sp__seterr(err, errlen, "%s", need_cap);
        else
            sp__seterr(err, errlen, "socket(AF_PACKET): %s", strerror(e));
        return -e;
    }
    struct sockaddr_ll ll;
    memset(&ll, 0, sizeof ll);
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(addr->ethertype);
    ll.sll_ifindex = (int)ifindex;
    if (bind(fd, (struct sockaddr *)&ll, sizeof ll) != 0) {
        int e = errno;
        sp__seterr(err, errlen, "bind packet:%s: %s", addr->ifname, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

int sp__packet_bind(struct sp_engine *eng, const struct sp_addr *addr,
                    const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen)
{
    unsigned ifindex = if_nametoindex(addr->ifname);
    if (ifindex == 0) {
        sp__seterr(err, errlen, "packet:%s: no such interface (`ip link` lists them)",
                   addr->ifname);
        return -ENODEV;
    }
    int fd = open_bound(addr, ifindex, err, errlen);
    if (fd < 0)
        return fd;
    struct sp_sock *s = sp__sock_new(eng, SP_SOCK_PACKET, opts);
    int r = uv_poll_init_socket(&eng->loop, &s->u.poll, fd);
    s->hkind = SP_H_POLL;
    s->u.h.data = s;
    if (r != 0) {
        /* Only possible for a descriptor libuv already watches: not ours. */
        sp__seterr(err, errlen, "bind packet:%s: %s", addr->ifname, uv_strerror(r));
        close(fd);
        sp__sock_discard(s);
        return r;
    }
    s->fd = fd;
    s->handle_open = 1;
    s->family = AF_PACKET;
    s->established = 1;
    /* Frames go out of the bound interface: no destination to name. */
    s->dgram_connected = 1;
    s->ifindex = ifindex;
    snprintf(s->ifname, sizeof s->ifname, "%s", addr->ifname);
    s->ethertype = addr->ethertype;
    char text[SP_ADDR_TEXT_MAX];
    sp_addr_format(addr, text, sizeof text);
    /* "lo:all": the address without its scheme, as other kinds show theirs. */
    snprintf(s->local, sizeof s->local, "%s", text + strlen("packet:"));
    if (id != NULL)
        *id = s->id;
    if (sp__wants(eng, SP_EV_BOUND)) {
        struct sp_event ev = {.type = SP_EV_BOUND, .unread = -1};
        ev.local = s->local;
        sp__emit(eng, s, &ev);
    }
    sp__sock_read_start(s);
    return 0;
}
