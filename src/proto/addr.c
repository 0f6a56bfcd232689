/* Parsing and formatting of socket addresses (DESIGN §2). */
#include "sockpit/proto/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/if_packet.h>

#include "sockpit/proto/num.h"
#include "sockpit/proto/pktsum.h"
#include "proto_int.h"

static const char *const kind_names[] = {
    [SP_ADDR_TCP] = "tcp",       [SP_ADDR_UDP] = "udp",
    [SP_ADDR_UNIX] = "unix",     [SP_ADDR_UNIX_DGRAM] = "unix-dgram",
    [SP_ADDR_PACKET] = "packet", [SP_ADDR_UNIX_SEQPACKET] = "unix-seqpacket",
};

static const char *kind_name(enum sp_addr_kind kind)
{
    if ((unsigned)kind < sizeof kind_names / sizeof kind_names[0])
        return kind_names[kind];
    return "?";
}

/* Error messages (sp__fail) quote what was typed, clipped with %.Ns so that
 * one line stays readable. */

static int parse_port(const char *s, size_t n, uint16_t *port, char *err, size_t errlen)
{
    uint64_t v = 0;
    size_t pos;
    int r = sp_parse_u64(s, n, 0, &v, &pos);
    if (r == SP_NUM_EMPTY)
        return sp__fail(err, errlen, "missing port");
    if (r == SP_NUM_NOT_DIGIT)
        return sp__fail(err, errlen, "port \"%.*s\" is not a number", (int)(n > 32 ? 32 : n), s);
    if (r != 0 || v > 65535)
        return sp__fail(err, errlen, "port %.*s out of range (0-65535)", (int)(n > 32 ? 32 : n), s);
    *port = (uint16_t)v;
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
}

/* Fills host, family and wildcard. Literals are stored in the form
 * inet_ntop() gives so that formatting is canonical. */
static int set_host(struct sp_addr *a, const char *h, size_t n, int bracketed, char *err,
                    size_t errlen)
{
    if (n == 0)
        return sp__fail(err, errlen, "empty host");
    if (n >= SP_ADDR_HOST_MAX)
        return sp__fail(err, errlen, "host name too long (%zu bytes, at most %d)", n,
                        SP_ADDR_HOST_MAX - 1);
    char tmp[SP_ADDR_HOST_MAX];
    memcpy(tmp, h, n);
    tmp[n] = '\0';
    if (bracketed) {
        struct in6_addr in6;
        if (inet_pton(AF_INET6, tmp, &in6) != 1)
            return sp__fail(err, errlen,
                            "\"[%.64s]\" is not an IPv6 address (brackets are for IPv6)", tmp);
        inet_ntop(AF_INET6, &in6, a->host, sizeof a->host);
        a->family = AF_INET6;
        a->wildcard = IN6_IS_ADDR_UNSPECIFIED(&in6);
        return 0;
    }
    struct in_addr in4;
    if (inet_pton(AF_INET, tmp, &in4) == 1) {
        inet_ntop(AF_INET, &in4, a->host, sizeof a->host);
        a->family = AF_INET;
        a->wildcard = in4.s_addr == htonl(INADDR_ANY);
        return 0;
    }
    int dotted = 1; /* only digits and dots: meant as IPv4, not as a name */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tmp[i];
        if (c != '.' && (c < '0' || c > '9'))
            dotted = 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return c > 0x20 && c < 0x7f
                       ? sp__fail(err, errlen, "invalid character \"%c\" in host name", c)
                       : sp__fail(err, errlen, "invalid character (byte 0x%02x) in host name", c);
    }
    if (dotted)
        return sp__fail(err, errlen, "\"%.64s\" is not a valid IPv4 address", tmp);
    memcpy(a->host, tmp, n + 1);
    a->family = AF_UNSPEC;
    a->wildcard = 0;
    return 0;
}

static int parse_inet(struct sp_addr *a, const char *scheme, const char *r, char *err,
                      size_t errlen)
{
    size_t n = strlen(r);
    if (n == 0)
        return sp__fail(err, errlen, "missing port (expected %s:HOST:PORT or %s:PORT)", scheme,
                        scheme);
    if (r[0] == '[') {
        const char *close = strchr(r, ']');
        if (close == NULL)
            return sp__fail(err, errlen,
                            "unbalanced brackets: missing ']' (expected %s:[::1]:PORT)", scheme);
        if (memchr(r + 1, '[', (size_t)(close - r - 1)) != NULL || strchr(close + 1, ']') ||
            strchr(close + 1, '['))
            return sp__fail(err, errlen, "unbalanced brackets");
        if (close[1] == '\0')
            return sp__fail(err, errlen, "missing port after ']' (expected %s:[HOST]:PORT)",
                            scheme);
        if (close[1] != ':')
            return sp__fail(err, errlen, "unexpected \"%.16s\" after ']' (expected :PORT)",
                            close + 1);
        if (set_host(a, r + 1, (size_t)(close - r - 1), 1, err, errlen) != 0)
            return -1;
        return parse_port(close + 2, strlen(close + 2), &a->port, err, errlen);
    }
    if (strchr(r, '[') != NULL || strchr(r, ']') != NULL)
        return sp__fail(err, errlen, "unbalanced brackets (IPv6 goes in brackets: %s:[::1]:PORT)",
                        scheme);
    const char *last = strrchr(r, ':');
    if (last == NULL) {
        if (!all_digits(r, n))
            return sp__fail(err, errlen,
                            "missing port in \"%.64s\" (expected %s:HOST:PORT or %s:PORT)", r,
                            scheme, scheme);
        memcpy(a->host, "127.0.0.1", sizeof "127.0.0.1");
        a->family = AF_INET;
        a->wildcard = 0;
        return parse_port(r, n, &a->port, err, errlen);
    }
    if (strchr(r, ':') != last) {
        /* Two or more colons: an IPv6 literal without brackets. Suggest the
         * bracketed form; "::1:80" could mean either split, so both are
         * offered when both read as IPv6. */
        char before[SP_ADDR_HOST_MAX];
        size_t bl = (size_t)(last - r);
        struct in6_addr in6;
        int whole = n < sizeof before && inet_pton(AF_INET6, r, &in6) == 1;
        int split = 0;
        if (bl < sizeof before && all_digits(last + 1, strlen(last + 1))) {
            memcpy(before, r, bl);
            before[bl] = '\0';
            split = inet_pton(AF_INET6, before, &in6) == 1;
        }
        if (split && whole)
            return sp__fail(err, errlen,
                            "IPv6 addresses need brackets: %s:[%.64s]:%.8s or %s:[%.64s]:PORT",
                            scheme, before, last + 1, scheme, r);
        if (split)
            return sp__fail(err, errlen, "IPv6 addresses need brackets: %s:[%.64s]:%.8s", scheme,
                            before, last + 1);
        return sp__fail(err, errlen, "IPv6 addresses need brackets: %s:[%.64s]:PORT", scheme, r);
    }
    if (set_host(a, r, (size_t)(last - r), 0, err, errlen) != 0)
        return -1;
    return parse_port(last + 1, strlen(last + 1), &a->port, err, errlen);
}

static int parse_unix(struct sp_addr *a, const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path);
    if (n == 0)
        return sp__fail(err, errlen, "empty Unix socket path");
    if (n >= SP_ADDR_PATH_MAX)
        return sp__fail(err, errlen, "Unix socket path too long (%zu bytes, at most %d)", n,
                        SP_ADDR_PATH_MAX - 1);
    memcpy(a->path, path, n + 1);
    a->family = AF_UNIX;
    return 0;
}

/* IFACE[:ETHERTYPE]. An interface name is what the kernel allows (at most
 * 15 bytes, no '/', no white space); whether it exists is the engine's
 * question. */
static int parse_packet(struct sp_addr *a, const char *r, char *err, size_t errlen)
{
    const char *colon = strchr(r, ':');
    size_t n = colon != NULL ? (size_t)(colon - r) : strlen(r);
    if (n == 0)
        return sp__fail(err, errlen, "missing interface (expected packet:IFACE[:ETHERTYPE])");
    if (n >= SP_ADDR_IFNAME_MAX)
        return sp__fail(err, errlen, "interface name too long (%zu bytes, at most %d)", n,
                        SP_ADDR_IFNAME_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)r[i];
        if (c <= 0x20 || c >= 0x7f || c == '/')
            return c > 0x20 && c < 0x7f
                       ? sp__fail(err, errlen, "invalid character \"%c\" in interface name", c)
                       : sp__fail(err, errlen, "invalid character (byte 0x%02x) in interface name",
                                  c);
    }
    memcpy(a->ifname, r, n);
    a->ifname[n] = '\0';
    a->ethertype = 0x0003; /* ETH_P_ALL */
    if (colon != NULL && sp_ethertype_parse(colon + 1, &a->ethertype) != 0)
        return sp__fail(err, errlen,
                        "EtherType \"%.16s\" is not ipv4, ipv6, arp, vlan, all or a number "
                        "(0x0001-0xffff)",
                        colon + 1);
    a->family = AF_PACKET;
    return 0;
}

int sp_addr_parse(struct sp_addr *addr, const char *text, char *err, size_t errlen)
{
    struct sp_addr a;
    memset(&a, 0, sizeof a);
    if (text == NULL || text[0] == '\0')
        return sp__fail(
            err, errlen,
            "empty address (expected tcp:, udp:, unix:, unix-dgram:, unix-seqpacket:, packet: or "
            "tls:)");
    const char *colon = strchr(text, ':');
    if (colon == NULL)
        return sp__fail(
            err, errlen,
            "missing scheme in \"%.64s\" (valid: tcp:, udp:, unix:, unix-dgram:, unix-seqpacket:, "
            "packet:, tls:)",
            text);
    size_t sl = (size_t)(colon - text);
    int kind = -1;
    /* tls:HOST:PORT is a TCP address that speaks TLS on top. */
    if (sl == 3 && strncasecmp(text, "tls", 3) == 0) {
        kind = SP_ADDR_TCP;
        a.tls = 1;
    }
    for (int k = 0; kind < 0 && k < (int)(sizeof kind_names / sizeof kind_names[0]); k++)
        if (strlen(kind_names[k]) == sl && strncasecmp(text, kind_names[k], sl) == 0)
            kind = k;
    if (kind < 0)
        return sp__fail(
            err, errlen,
            "unknown scheme \"%.*s\" (valid: tcp:, udp:, unix:, unix-dgram:, unix-seqpacket:, "
            "packet:, tls:)",
            (int)(sl > 32 ? 32 : sl), text);
    a.kind = (enum sp_addr_kind)kind;
    int rc = sp_addr_is_unix(a.kind) ? parse_unix(&a, colon + 1, err, errlen)
             : kind == SP_ADDR_PACKET
                 ? parse_packet(&a, colon + 1, err, errlen)
                 : parse_inet(&a, a.tls ? "tls" : kind_names[kind], colon + 1, err, errlen);
    if (rc != 0)
        return -1;
    *addr = a;
    return 0;
}

size_t sp_addr_format(const struct sp_addr *addr, char *buf, size_t len)
{
    const char *kind = addr->tls ? "tls" : kind_name(addr->kind);
    int n;
    if (sp_addr_is_unix(addr->kind))
        n = snprintf(buf, len, "%s:%s", kind, addr->path);
    else if (addr->kind == SP_ADDR_PACKET && sp_ethertype_name(addr->ethertype) != NULL)
        n = snprintf(buf, len, "%s:%s:%s", kind, addr->ifname, sp_ethertype_name(addr->ethertype));
    else if (addr->kind == SP_ADDR_PACKET)
        n = snprintf(buf, len, "%s:%s:0x%04x", kind, addr->ifname, (unsigned)addr->ethertype);
    else if (strchr(addr->host, ':') != NULL)
        n = snprintf(buf, len, "%s:[%s]:%u", kind, addr->host, (unsigned)addr->port);
    else
        n = snprintf(buf, len, "%s:%s:%u", kind, addr->host, (unsigned)addr->port);
    return n < 0 ? 0 : (size_t)n;
}

/* Copies s[0..n) into buf as far as it fits (always terminated when len > 0)
 * and returns n, snprintf-style. */
static size_t put_bytes(char *buf, size_t len, size_t at, const char *s, size_t n)
{
    if (at < len) {
        size_t room = len - 1 - at;
        memcpy(buf + at, s, n < room ? n : room);
        buf[at + (n < room ? n : room)] = '\0';
    }
    return n;
}

size_t sp_sockaddr_format(const struct sockaddr *sa, size_t salen, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    int n = -1;
    if (len > 0)
        buf[0] = '\0';
    if (sa == NULL || salen < sizeof sa->sa_family)
        return put_bytes(buf, len, 0, "(none)", 6);
    switch (sa->sa_family) {
    case AF_INET: {
        if (salen < sizeof(struct sockaddr_in))
            break;
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        n = snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(s4->sin_port));
        break;
    }
    case AF_INET6: {
        if (salen < sizeof(struct sockaddr_in6))
            break;
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        if (s6->sin6_scope_id != 0)
            n = snprintf(buf, len, "[%s%%%u]:%u", host, (unsigned)s6->sin6_scope_id,
                         (unsigned)ntohs(s6->sin6_port));
        else
            n = snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(s6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *su = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t plen = salen > off ? salen - off : 0;
        if (plen > sizeof su->sun_path)
            plen = sizeof su->sun_path;
        if (plen == 0 || (su->sun_path[0] == '\0' && plen == 1))
            return put_bytes(buf, len, 0, "(unnamed)", 9);
        if (su->sun_path[0] == '\0') {
            /* Abstract: the name is every byte after the NUL, NULs included,
             * which is why callers must use the returned length. */
            put_bytes(buf, len, 0, "@", 1);
            return 1 + put_bytes(buf, len, 1, su->sun_path + 1, plen - 1);
        }
        const char *end = memchr(su->sun_path, '\0', plen);
        return put_bytes(buf, len, 0, su->sun_path,
                         end != NULL ? (size_t)(end - su->sun_path) : plen);
    }
    case AF_PACKET: {
        const struct sockaddr_ll *ll = (const struct sockaddr_ll *)sa;
        if (salen < offsetof(struct sockaddr_ll, sll_addr) || ll->sll_halen == 0 ||
            ll->sll_halen > sizeof ll->sll_addr ||
            salen < offsetof(struct sockaddr_ll, sll_addr) + ll->sll_halen)
            return put_bytes(buf, len, 0, "(no link address)", 17);
        size_t at = 0;
        for (unsigned i = 0; i < ll->sll_halen; i++) {
            char h[4];
            snprintf(h, sizeof h, "%s%02x", i ? ":" : "", ll->sll_addr[i]);
            at += put_bytes(buf, len, at, h, strlen(h));
        }
        return at;
    }
    default:
        n = snprintf(buf, len, "(family %d)", (int)sa->sa_family);
        break;
    }
    if (n < 0)
        return put_bytes(buf, len, 0, "(invalid)", 9);
    return (size_t)n;
}

size_t sp_addr_text_len(const char *text, size_t len)
{
    if (len != 0)
        return len;
    return text != NULL ? strlen(text) : 0;
}
