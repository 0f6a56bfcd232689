/* Frame summaries (pktsum.h). Every header is checked against the bytes
 * that are really there before a field of it is read. */
#include "sockpit/proto/pktsum.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sockpit/proto/num.h"
#include "proto_int.h"

/* The summary being written: appends past the end are dropped, the text
 * stays terminated. */
struct out {
    char *buf;
    size_t len, used;
    size_t missing; /* bytes of the frame past the captured ones (cut by the recv size) */
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    if (o->len == 0 || o->used >= o->len - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    o->used += (size_t)r < o->len - o->used ? (size_t)r : o->len - o->used - 1;
}

static void put_mac(struct out *o, const unsigned char *m)
{
    put(o, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void put_ip4(struct out *o, const unsigned char *a)
{
    put(o, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

/* RFC 5952 text: lowercase, the longest run (of two or more) of zero groups
 * as "::", the first one on a tie. */
static void put_ip6(struct out *o, const unsigned char *a)
{
    unsigned g[8];
    for (int i = 0; i < 8; i++)
        g[i] = sp__be16(a + 2 * i);
    int best = -1, bestlen = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            put(o, "::");
            i += bestlen - 1;
            continue;
        }
        put(o, "%s%x", i > 0 && i != best + bestlen ? ":" : "", g[i]);
    }
}

static void short_of(struct out *o, const char *what, size_t have, size_t need)
{
    put(o, "%s truncated (%zu of %zu bytes)", what, have, need);
}

static void tcp_flags(struct out *o, unsigned f)
{
    static const char letters[] = "FSRPAUEC";
    char s[9];
    size_t k = 0;
    for (int i = 0; i < 8; i++)
        if (f & (1u << i))
            s[k++] = letters[i];
    s[k] = '\0';
    put(o, " [%s]", k > 0 ? s : "none");
}

/* p[0..n) is what was captured of the segment, claimed (>= n) its length
 * by the IP header. */
static void tcp(struct out *o, const unsigned char *p, size_t n, size_t claimed)
{
    if (n < 20) {
        short_of(o, " TCP header", n, 20);
        return;
    }
    unsigned off = (p[12] >> 4) * 4u;
    put(o, " TCP %u > %u", sp__be16(p), sp__be16(p + 2));
    tcp_flags(o, p[13]);
    put(o, " seq %lu", (unsigned long)sp__be32(p + 4));
    if (p[13] & 0x10)
        put(o, " ack %lu", (unsigned long)sp__be32(p + 8));
    put(o, " win %u", sp__be16(p + 14));
    if (off < 20) {
        put(o, " bad data offset %u (< 20)", off);
        return;
    }
    if (off > n) {
        put(o, " options past the end (header %u of %zu bytes)", off, n);
        return;
    }
    put(o, " len %zu", claimed - off);
}

static void udp(struct out *o, const unsigned char *p, size_t n, size_t claimed)
{
    if (n < 8) {
        short_of(o, " UDP header", n, 8);
        return;
    }
    unsigned ulen = sp__be16(p + 4);
    put(o, " UDP %u > %u len %u", sp__be16(p), sp__be16(p + 2), ulen >= 8 ? ulen - 8 : 0);
    if (ulen < 8)
        put(o, " (bad length %u < 8)", ulen);
    else if (ulen > claimed)
        put(o, " (length %u past the end: %zu bytes)", ulen, claimed);
}

static void icmp4(struct out *o, const unsigned char *p, size_t n)
{
    if (n < 4) {
        short_of(o, " ICMP header", n, 4);
        return;
    }
    unsigned type = p[0], code = p[1];
    const char *name = type == 0    ? "echo reply"
                       : type == 3  ? "unreachable"
                       : type == 5  ? "redirect"
                       : type == 8  ? "echo request"
                       : type == 11 ? "time exceeded"
                       : type == 12 ? "parameter problem"
                                    : NULL;
    if (name != NULL)
        put(o, " ICMP %s", name);
    else
        put(o, " ICMP type %u", type);
    if ((type == 0 || type == 8) && n >= 8)
        put(o, " id %u seq %u", sp__be16(p + 4), sp__be16(p + 6));
    else if (type != 0 && type != 8)
        put(o, " code %u", code);
}

static void icmp6(struct out *o, const unsigned char *p, size_t n)
{
    if (n < 4) {
        short_of(o, " ICMPv6 header", n, 4);
        return;
    }
    unsigned type = p[0], code = p[1];
    const char *name = type == 1     ? "unreachable"
                       : type == 2   ? "packet too big"
                       : type == 3   ? "time exceeded"
                       : type == 4   ? "parameter problem"
                       : type == 128 ? "echo request"
                       : type == 129 ? "echo reply"
                       : type == 133 ? "router solicitation"
                       : type == 134 ? "router advertisement"
                       : type == 135 ? "neighbor solicitation"
                       : type == 136 ? "neighbor advertisement"
                       : type == 143 ? "MLDv2 report"
                                     : NULL;
    if (name != NULL)
        put(o, " ICMPv6 %s", name);
    else
        put(o, " ICMPv6 type %u", type);
    if ((type == 128 || type == 129) && n >= 8)
        put(o, " id %u seq %u", sp__be16(p + 4), sp__be16(p + 6));
    else if ((type == 135 || type == 136) && n >= 24) {
        put(o, " ");
        put_ip6(o, p + 8);
    } else if (type < 128)
        put(o, " code %u", code);
}

/* The transport header of one IP packet, p[0..n) after the IP headers:
 * what was captured of the claimed bytes the IP header announces. */
static void transport(struct out *o, unsigned proto, const unsigned char *p, size_t n,
                      size_t claimed, int v6)
{
    switch (proto) {
    case 6:
        tcp(o, p, n, claimed);
        break;
    case 17:
        udp(o, p, n, claimed);
        break;
    case 1:
        if (!v6) {
            icmp4(o, p, n);
            break;
        }
        put(o, " protocol 1 (not decoded)");
        break;
    case 58:
        if (v6) {
            icmp6(o, p, n);
            break;
        }
        put(o, " protocol 58 (not decoded)");
        break;
    case 59:
        put(o, " no next header");
        break;
    default:
        put(o, " protocol %u (not decoded), %zu bytes", proto, claimed);
        break;
    }
}

static void ipv4(struct out *o, const unsigned char *p, size_t n)
{
    if (n < 20) {
        short_of(o, "IPv4 header", n, 20);
        return;
    }
    unsigned ver = p[0] >> 4, ihl = (p[0] & 15u) * 4u;
    if (ver != 4) {
        put(o, "IPv4 with version %u (bad header)", ver);
        return;
    }
    put(o, "IPv4 ");
    put_ip4(o, p + 12);
    put(o, " > ");
    put_ip4(o, p + 16);
    unsigned total = sp__be16(p + 2), frag = sp__be16(p + 6);
    put(o, " ttl %u len %u", p[8], total);
    if (ihl < 20) {
        put(o, " IHL %u < 5 (bad header)", ihl / 4);
        return;
    }
    if (ihl > n) {
        put(o, " options past the end (header %u of %zu bytes)", ihl, n);
        return;
    }
    if (total < ihl) {
        put(o, " (total length %u < header %u: bad header)", total, ihl);
        return;
    }
    size_t end = n, claimed = total;
    if (total > n + o->missing) {
        put(o, " (total length past the end: %zu bytes)", n + o->missing);
        claimed = n + o->missing;
    } else if (total <= n) {
        end = total; /* Ethernet pads short frames: the padding is not payload */
    }
    if (frag & 0x2000 || (frag & 0x1fff) != 0) {
        put(o, " frag id %u off %u%s", sp__be16(p + 4), (frag & 0x1fffu) * 8u,
            frag & 0x2000 ? "+" : "");
        if ((frag & 0x1fff) != 0) {
            put(o, " protocol %u", p[9]);
            return;
        }
    }
    transport(o, p[9], p + ihl, end - ihl, claimed - ihl, 0);
}

static const char *ext_name(unsigned nh)
{
    switch (nh) {
    case 0:
        return "hop-by-hop";
    case 43:
        return "routing";
    case 44:
        return "fragment";
    case 51:
        return "AH";
    case 60:
        return "dest-opts";
    default:
        return "mobility";
    }
}

static void ipv6(struct out *o, const unsigned char *p, size_t n)
{
    if (n < 40) {
        short_of(o, "IPv6 header", n, 40);
        return;
    }
    if (p[0] >> 4 != 6) {
        put(o, "IPv6 with version %u (bad header)", p[0] >> 4);
        return;
    }
    unsigned plen = sp__be16(p + 4);
    put(o, "IPv6 ");
    put_ip6(o, p + 8);
    put(o, " > ");
    put_ip6(o, p + 24);
    put(o, " hlim %u len %u", p[7], plen);
    /* Where the packet ends by its header (claimed), and what of it was
     * captured (end). Payload length 0 (a jumbogram) runs to the frame's end. */
    size_t claimed = n + o->missing;
    if (40 + (size_t)plen > n + o->missing)
        put(o, " (payload length past the end: %zu bytes)", n + o->missing - 40);
    else if (plen > 0)
        claimed = 40 + (size_t)plen;
    size_t end = claimed < n ? claimed : n;
    unsigned nh = p[6];
    size_t off = 40;
    for (int i = 0; sp__ip6_is_ext(nh); i++) {
        if (i == SP__IP6_EXT_MAX) {
            put(o, " more than %d extension headers (not decoded)", SP__IP6_EXT_MAX);
            return;
        }
        if (end - off < 8) {
            put(o, " %s header", ext_name(nh));
            short_of(o, "", end - off, 8);
            return;
        }
        const unsigned char *h = p + off;
        size_t hl = sp__ip6_ext_len(nh, h);
        if (hl > end - off) {
            put(o, " %s header past the end (%zu of %zu bytes)", ext_name(nh), end - off, hl);
            return;
        }
        put(o, " %s", ext_name(nh));
        if (nh == 44) {
            unsigned fo = sp__be16(h + 2);
            put(o, " id %lu off %u%s", (unsigned long)sp__be32(h + 4), (fo >> 3) * 8u,
                fo & 1 ? "+" : "");
            if (fo >> 3 != 0) {
                put(o, " protocol %u", h[0]);
                return;
            }
        }
        nh = h[0];
        off += hl;
    }
    transport(o, nh, p + off, end - off, claimed - off, 1);
}

static void arp(struct out *o, const unsigned char *p, size_t n)
{
    if (n < 8) {
        short_of(o, "ARP header", n, 8);
        return;
    }
    unsigned htype = sp__be16(p), ptype = sp__be16(p + 2), hlen = p[4], plen = p[5],
             op = sp__be16(p + 6);
    if (htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4) {
        put(o, "ARP op %u for hardware %u protocol 0x%04x (not decoded)", op, htype, ptype);
        return;
    }
    if (n < 28) {
        short_of(o, "ARP", n, 28);
        return;
    }
    if (op == 1) {
        put(o, "ARP who-has ");
        put_ip4(o, p + 24);
        put(o, " tell ");
        put_ip4(o, p + 14);
    } else if (op == 2) {
        put(o, "ARP reply ");
        put_ip4(o, p + 14);
        put(o, " is-at ");
        put_mac(o, p + 8);
    } else {
        put(o, "ARP op %u ", op);
        put_ip4(o, p + 14);
        put(o, " > ");
        put_ip4(o, p + 24);
    }
}

/* What follows a link header whose EtherType is type. */
static void network(struct out *o, unsigned type, const unsigned char *p, size_t n)
{
    switch (type) {
    case 0x0800:
        ipv4(o, p, n);
        break;
    case 0x86dd:
        ipv6(o, p, n);
        break;
    case 0x0806:
        arp(o, p, n);
        break;
    default:
        put(o, "ethertype 0x%04x (not decoded), %zu bytes", type, n + o->missing);
        break;
    }
}

static void ethernet(struct out *o, const unsigned char *p, size_t n)
{
    if (n < 14) {
        short_of(o, "Ethernet header", n, 14);
        return;
    }
    put_mac(o, p + 6);
    put(o, " > ");
    put_mac(o, p);
    unsigned type = sp__be16(p + 12);
    size_t off = 14;
    for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
        if (n - off < 4) {
            put(o, " ");
            short_of(o, "VLAN tag", n - off, 4);
            return;
        }
        put(o, " vlan %u", sp__be16(p + off) & 0x0fffu);
        type = sp__be16(p + off + 2);
        off += 4;
    }
    if (type < 0x0600) {
        put(o, " 802.3 length %u (not decoded)", type);
        return;
    }
    put(o, " ");
    network(o, type, p + off, n - off);
}

size_t sp_pktsum(const unsigned char *p, size_t n, size_t wire_len, enum sp_pkt_link link,
                 char *buf, size_t len)
{
    struct out o = {buf, len, 0, wire_len > n ? wire_len - n : 0};
    if (len > 0)
        buf[0] = '\0';
    if (link == SP_PKT_LINK_IP) {
        if (n == 0)
            put(&o, "empty packet");
        else if (p[0] >> 4 == 4)
            ipv4(&o, p, n);
        else if (p[0] >> 4 == 6)
            ipv6(&o, p, n);
        else
            put(&o, "IP version %u (not decoded), %zu bytes", p[0] >> 4, n + o.missing);
    } else {
        ethernet(&o, p, n);
    }
    if (o.missing > 0)
        put(&o, " [captured %zu of %zu bytes]", n, wire_len);
    return o.used;
}

static const struct {
    const char *name;
    uint16_t type;
} ethertypes[] = {
    {"all", 0x0003}, {"ipv4", 0x0800}, {"arp", 0x0806}, {"vlan", 0x8100}, {"ipv6", 0x86dd},
};

const char *sp_ethertype_name(uint16_t type)
{
    for (size_t i = 0; i < sizeof ethertypes / sizeof ethertypes[0]; i++)
        if (ethertypes[i].type == type)
            return ethertypes[i].name;
    return NULL;
}

int sp_ethertype_parse(const char *text, uint16_t *type)
{
    for (size_t i = 0; i < sizeof ethertypes / sizeof ethertypes[0]; i++)
        if (strcasecmp(text, ethertypes[i].name) == 0) {
            *type = ethertypes[i].type;
            return 0;
        }
    unsigned long v = 0;
    size_t k = 0;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        const char *h = text + 2;
        for (k = 0; h[k] != '\0'; k++) {
            int d = h[k] >= '0' && h[k] <= '9'   ? h[k] - '0'
                    : h[k] >= 'a' && h[k] <= 'f' ? h[k] - 'a' + 10
                    : h[k] >= 'A' && h[k] <= 'F' ? h[k] - 'A' + 10
                                                 : -1;
            if (d < 0 || k >= 4)
                return -1;
            v = v * 16 + (unsigned long)d;
        }
    } else {
        uint64_t d;
        size_t pos;
        if (sp_parse_u64(text, strlen(text), 0, &d, &pos) != 0 || d > 65535)
            return -1;
        v = (unsigned long)d;
        k = 1;
    }
    if (k == 0 || v == 0)
        return -1;
    *type = (uint16_t)v;
    return 0;
}

const char *sp_pkttype_name(int pkttype)
{
    static const char *const names[] = {"host", "broadcast", "multicast", "otherhost", "outgoing"};
    if (pkttype >= 0 && pkttype < 5)
        return names[pkttype];
    return NULL;
}
