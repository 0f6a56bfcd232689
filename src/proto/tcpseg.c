/* TCP segments from captured frames, and the per-connection tracker
 * (tcpseg.h). Every header is checked against the bytes really captured
 * before a field of it is read.
 *
 * The marks follow Wireshark's tcp.analysis (epan/dissectors/packet-tcp.c),
 * per side of the connection, where "next" is the highest seq + length seen
 * from that side (SYN and FIN count one):
 * - keep-alive: 0 or 1 byte, no SYN/FIN/RST, seq = next - 1.
 * - retransmission: data (or SYN/FIN), no RST, seq < next, not a keep-alive.
 * - out-of-order: such a segment that fills a hole left by a gap, seen within
 *   the handshake's RTT (3 ms when unknown) of the last segment that moved
 *   next forward: reordered rather than sent again. Wireshark's rule too.
 * - gap ("previous segment not captured"): data (or FIN) past next: the
 *   bytes before it were lost before the capture saw them, or are late.
 * - zero-window: window 0 on a segment without SYN/FIN/RST.
 * - window-update: no data, no SYN/FIN/RST, seq = next, the same ack as the
 *   side's last segment, a different (non-zero) window.
 * - dup-ack: the same but the same window too: the ACK says nothing new.
 */
#include "sockpit/proto/tcpseg.h"

#include <string.h>

#include "proto_int.h"

const char *sp_seg_mark_name(unsigned bit)
{
    switch (bit) {
    case SP_SEG_RETRANS:
        return "retransmission";
    case SP_SEG_OOO:
        return "out-of-order";
    case SP_SEG_ZEROWIN:
        return "zero-window";
    case SP_SEG_WINUPD:
        return "window-update";
    case SP_SEG_DUPACK:
        return "dup-ack";
    case SP_SEG_KEEPALIVE:
        return "keep-alive";
    case SP_SEG_GAP:
        return "gap";
    default:
        return NULL;
    }
}

static int fail(const char **why, const char *text)
{
    if (why != NULL)
        *why = text;
    return -1;
}

static void options(const unsigned char *o, size_t n, struct sp_tcp_pkt *t)
{
    size_t i = 0;
    while (i < n) {
        unsigned kind = o[i];
        if (kind == 0)
            return;
        if (kind == 1) {
            i++;
            continue;
        }
        if (n - i < 2 || o[i + 1] < 2 || o[i + 1] > n - i)
            return; /* a bad length ends the list: what follows cannot be trusted */
        size_t len = o[i + 1];
        if (kind == 2 && len == 4)
            t->mss = (uint16_t)sp__be16(o + i + 2);
        else if (kind == 3 && len == 3)
            t->wscale = (int8_t)(o[i + 2] > 14 ? 14 : o[i + 2]); /* RFC 7323 §2.3 */
        else if (kind == 4 && len == 2)
            t->sack_ok = 1;
        else if (kind == 5 && len >= 10 && (len - 2) % 8 == 0 && (len - 2) / 8 <= SP_SACK_MAX) {
            t->nsack = (uint8_t)((len - 2) / 8);
            for (size_t k = 0; k < t->nsack; k++) {
                t->sack[k][0] = sp__be32(o + i + 2 + 8 * k);
                t->sack[k][1] = sp__be32(o + i + 6 + 8 * k);
            }
        } else if (kind == 8 && len == 10) {
            t->has_ts = 1;
            t->tsval = sp__be32(o + i + 2);
            t->tsecr = sp__be32(o + i + 6);
        }
        i += len;
    }
}

/* p[0..n) the captured bytes of the TCP header onwards, claimed its length
 * by the IP header. */
static int tcp(const unsigned char *p, size_t n, size_t claimed, struct sp_tcp_pkt *t,
               const char **why)
{
    if (n < 20)
        return fail(why, "TCP header truncated");
    size_t doff = (size_t)(p[12] >> 4) * 4;
    if (doff < 20)
        return fail(why, "bad TCP data offset");
    if (doff > claimed)
        return fail(why, "TCP header longer than the packet");
    t->sport = (uint16_t)sp__be16(p);
    t->dport = (uint16_t)sp__be16(p + 2);
    t->seq = sp__be32(p + 4);
    t->ack = sp__be32(p + 8);
    t->flags = p[13];
    t->win = (uint16_t)sp__be16(p + 14);
    t->len = (uint32_t)(claimed - doff);
    options(p + 20, (doff < n ? doff : n) - 20, t);
    if (!(t->flags & SP_TCP_SYN)) {
        t->mss = 0;
        t->wscale = -1;
        t->sack_ok = 0;
    }
    return 0;
}

/* p[0..n) from the IP header on; missing: bytes of the frame past the
 * captured ones. */
static int ipv4(const unsigned char *p, size_t n, size_t missing, struct sp_tcp_pkt *t,
                const char **why)
{
    if (n < 20)
        return fail(why, "IPv4 header truncated");
    size_t ihl = (size_t)(p[0] & 15u) * 4;
    if (p[0] >> 4 != 4 || ihl < 20 || ihl > n)
        return fail(why, "bad IPv4 header");
    size_t total = sp__be16(p + 2);
    if (total == 0)
        total = n + missing; /* BIG TCP and TSO: the length is the frame's */
    if (total < ihl || total > n + missing)
        return fail(why, "bad IPv4 total length");
    if (sp__be16(p + 6) & 0x3fffu)
        return fail(why, "IPv4 fragment");
    if (p[9] != 6)
        return fail(why, "not TCP");
    t->v6 = 0;
    memcpy(t->src, p + 12, 4);
    memcpy(t->dst, p + 16, 4);
    t->ip_len = (uint32_t)total;
    size_t end = total < n ? total : n;
    return tcp(p + ihl, end - ihl, total - ihl, t, why);
}

static int ipv6(const unsigned char *p, size_t n, size_t missing, struct sp_tcp_pkt *t,
                const char **why)
{
    if (n < 40)
        return fail(why, "IPv6 header truncated");
    if (p[0] >> 4 != 6)
        return fail(why, "bad IPv6 header");
    size_t plen = sp__be16(p + 4);
    size_t claimed = plen == 0 ? n + missing : 40 + plen; /* 0: a jumbogram, to the end */
    if (claimed > n + missing)
        return fail(why, "bad IPv6 payload length");
    size_t end = claimed < n ? claimed : n;
    unsigned nh = p[6];
    size_t off = 40;
    for (int i = 0; sp__ip6_is_ext(nh); i++) {
        if (i == SP__IP6_EXT_MAX || end - off < 8)
            return fail(why, "IPv6 extension headers not decoded");
        if (nh == 44)
            return fail(why, "IPv6 fragment");
        size_t hl = sp__ip6_ext_len(nh, p + off);
        if (hl > end - off)
            return fail(why, "IPv6 extension header truncated");
        nh = p[off];
        off += hl;
    }
    if (nh != 6)
        return fail(why, "not TCP");
    t->v6 = 1;
    memcpy(t->src, p + 8, 16);
    memcpy(t->dst, p + 24, 16);
    t->ip_len = (uint32_t)claimed;
    return tcp(p + off, end - off, claimed - off, t, why);
}

/* The offset of the IP header and its EtherType-style protocol (0x0800,
 * 0x86dd, or 0 to read the version nibble) for each link type. */
static int link_header(const unsigned char *p, size_t n, int linktype, size_t *off, unsigned *proto,
                       const char **why)
{
    switch (linktype) {
    case SP_LINK_EN10MB: {
        if (n < 14)
            return fail(why, "Ethernet header truncated");
        unsigned type = sp__be16(p + 12);
        size_t o = 14;
        for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
            if (n - o < 4)
                return fail(why, "VLAN tag truncated");
            type = sp__be16(p + o + 2);
            o += 4;
        }
        *off = o;
        *proto = type;
        return 0;
    }
    case SP_LINK_NULL: {
        if (n < 4)
            return fail(why, "loopback header truncated");
        /* The family in the capturing host's order: either order is read. */
        unsigned fam = p[0] != 0 ? p[0] : p[3];
        *off = 4;
        *proto = fam == 2                                             ? 0x0800
                 : (fam == 10 || fam == 24 || fam == 28 || fam == 30) ? 0x86dd
                                                                      : 1;
        return 0;
    }
    case SP_LINK_RAW:
    case SP_LINK_DLT_RAW:
        *off = 0;
        *proto = 0;
        return 0;
    case SP_LINK_LINUX_SLL:
        if (n < 16)
            return fail(why, "cooked header truncated");
        *off = 16;
        *proto = sp__be16(p + 14);
        return 0;
    case SP_LINK_LINUX_SLL2:
        if (n < 20)
            return fail(why, "cooked header truncated");
        *off = 20;
        *proto = sp__be16(p);
        return 0;
    default:
        return fail(why, "link type not decoded");
    }
}

int sp_tcp_parse(const unsigned char *p, size_t n, size_t wire_len, int linktype,
                 struct sp_tcp_pkt *out, const char **why)
{
    memset(out, 0, sizeof *out);
    out->wscale = -1;
    size_t off;
    unsigned proto;
    if (link_header(p, n, linktype, &off, &proto, why) != 0)
        return -1;
    size_t missing = wire_len > n ? wire_len - n : 0;
    const unsigned char *ip = p + off;
    size_t ipn = n - off;
    out->ip_off = off;
    if (proto == 0 && ipn > 0)
        proto = ip[0] >> 4 == 4 ? 0x0800 : ip[0] >> 4 == 6 ? 0x86dd : 1;
    if (proto == 0x0800)
        return ipv4(ip, ipn, missing, out, why);
    if (proto == 0x86dd)
        return ipv6(ip, ipn, missing, out, why);
    return fail(why, "not IP");
}

void sp_tcpflow_init(struct sp_tcpflow *f)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < 2; i++) {
        f->side[i].wscale = -1;
        f->side[i].scale = -1;
    }
}

void sp_tcpflow_set_scale(struct sp_tcpflow *f, int ours, int peers)
{
    f->side[1].scale = ours;
    f->side[0].scale = peers;
}

static int seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* A side first heard of: from its own first segment (isn from its SYN, or
 * one below the first seq), or from the other side's ACK of it. */
static void side_start(struct sp_tcpside *s, uint32_t isn, int syn)
{
    s->isn_set = 1;
    s->syn_seen = syn;
    s->isn = isn;
}

/* The window in bytes: SYNs are never scaled (RFC 7323 §2.2); the others by
 * the sender's shift once both SYNs offered scaling, or by the shift the
 * caller learnt from the kernel. */
static void window(const struct sp_tcpflow *f, const struct sp_tcpside *s,
                   const struct sp_tcp_pkt *p, struct sp_seg *seg)
{
    const struct sp_tcpside *r = s == &f->side[0] ? &f->side[1] : &f->side[0];
    seg->win = p->win;
    if (p->flags & SP_TCP_SYN) {
        seg->win_scaled = 1;
    } else if (s->syn_seen && r->syn_seen) {
        int shift = s->wscale >= 0 && r->wscale >= 0 ? s->wscale : 0;
        seg->win = (uint32_t)p->win << shift;
        seg->win_scaled = 1;
    } else if (s->scale >= 0) {
        seg->win = (uint32_t)p->win << s->scale;
        seg->win_scaled = 1;
    }
}

static void marks(struct sp_tcpflow *f, struct sp_tcpside *s, const struct sp_tcp_pkt *p,
                  uint64_t now_ns, struct sp_seg *seg)
{
    unsigned fl = p->flags;
    int ctl = (fl & (SP_TCP_SYN | SP_TCP_FIN | SP_TCP_RST)) != 0;
    int carries = p->len > 0 || (fl & (SP_TCP_SYN | SP_TCP_FIN));
    if (p->win == 0 && !ctl)
        seg->marks |= SP_SEG_ZEROWIN;
    if (p->len <= 1 && !ctl && p->seq == s->nxt - 1) {
        seg->marks |= SP_SEG_KEEPALIVE;
        return;
    }
    if (carries && !(fl & SP_TCP_RST) && seq_lt(p->seq, s->nxt)) {
        uint64_t thresh = f->rtt_ns > 0 ? f->rtt_ns : 3000000;
        int fills = s->hole_open && !seq_lt(p->seq, s->hole_lo) && seq_lt(p->seq, s->hole_hi);
        seg->marks |= fills && now_ns - s->nxt_ns < thresh ? SP_SEG_OOO : SP_SEG_RETRANS;
        if (fills && p->seq == s->hole_lo) {
            s->hole_lo = p->seq + p->len;
            if (!seq_lt(s->hole_lo, s->hole_hi))
                s->hole_open = 0;
        }
        return;
    }
    if (carries && seq_lt(s->nxt, p->seq) && !(fl & SP_TCP_SYN)) {
        seg->marks |= SP_SEG_GAP;
        if (!s->hole_open) {
            s->hole_open = 1;
            s->hole_lo = s->nxt;
        }
        s->hole_hi = p->seq;
        return;
    }
    if (p->len == 0 && !ctl && s->acked && (fl & SP_TCP_ACK) && p->seq == s->nxt &&
        p->ack == s->last_ack && p->win != 0) {
        if (p->win != s->last_win) {
            seg->marks |= SP_SEG_WINUPD;
        } else {
            seg->marks |= SP_SEG_DUPACK;
            seg->dupack = ++s->dupacks;
        }
    }
}

void sp_tcpflow_add(struct sp_tcpflow *f, const struct sp_tcp_pkt *p, int out, uint64_t now_ns,
                    struct sp_seg *seg, uint64_t *off)
{
    struct sp_tcpside *s = &f->side[out ? 1 : 0], *r = &f->side[out ? 0 : 1];
    unsigned fl = p->flags;
    memset(seg, 0, sizeof *seg);
    seg->out = (uint8_t)(out != 0);
    seg->flags = p->flags;
    seg->mss = p->mss;
    seg->wscale = p->wscale;
    seg->sack_ok = p->sack_ok;
    seg->has_ts = p->has_ts;
    seg->tsval = p->tsval;
    seg->tsecr = p->tsecr;
    seg->ip_len = p->ip_len;

    /* A RST answering the other side's SYN from a side that sent none (a
     * refused connect) has no sequence space of its own: its seq (0, RFC
     * 9293 3.10.7.1) is shown as sent, nothing counted from it. */
    int refusal = (fl & SP_TCP_RST) && (fl & SP_TCP_ACK) && !s->seen && r->syn_seen && !r->acked &&
                  p->ack == r->isn + 1;
    if (refusal) {
        side_start(s, 0, 0);
    } else if (fl & SP_TCP_SYN) {
        if (!s->syn_seen)
            side_start(s, p->seq, 1);
        s->wscale = p->wscale;
        if (!(fl & SP_TCP_ACK)) {
            f->syn_ns = now_ns;
            f->syn_timed = 1;
        } else if (f->syn_timed && f->rtt_ns == 0)
            f->rtt_ns = now_ns - f->syn_ns;
    } else if (!s->isn_set) {
        side_start(s, p->seq - 1, 0);
    }
    if ((fl & SP_TCP_ACK) && !r->isn_set)
        side_start(r, p->ack - 1, 0);
    if (!s->seen) {
        s->seen = 1;
        s->nxt = p->seq;
        s->nxt_off = (int64_t)(uint32_t)(p->seq - s->isn) - 1;
        s->nxt_ns = now_ns;
    } else {
        marks(f, s, p, now_ns, seg);
    }

    int64_t o = s->nxt_off + (int32_t)(p->seq - s->nxt);
    *off = o > 0 ? (uint64_t)o : 0;
    seg->rel_seq = p->seq - s->isn;
    seg->rel_ack = (fl & SP_TCP_ACK) ? p->ack - r->isn : 0;
    seg->nsack = p->nsack;
    for (size_t k = 0; k < p->nsack && k < SP_SACK_MAX; k++) {
        seg->sack[k][0] = p->sack[k][0] - r->isn;
        seg->sack[k][1] = p->sack[k][1] - r->isn;
    }
    seg->isn_known = (uint8_t)(s->syn_seen || refusal);
    window(f, s, p, seg);

    uint32_t end = p->seq + p->len + ((fl & SP_TCP_SYN) ? 1 : 0) + ((fl & SP_TCP_FIN) ? 1 : 0);
    if (seq_lt(s->nxt, end)) {
        s->nxt_off += (uint32_t)(end - s->nxt);
        s->nxt = end;
        s->nxt_ns = now_ns;
    }
    if (fl & SP_TCP_ACK) {
        if (!s->acked || p->ack != s->last_ack)
            s->dupacks = 0;
        s->acked = 1;
        s->last_ack = p->ack;
    }
    s->last_win = p->win;
}
