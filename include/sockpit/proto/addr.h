/* Socket addresses as users type them (DESIGN §2). Parsing only: no I/O, no
 * name resolution. */
#ifndef SOCKPIT_ADDR_H
#define SOCKPIT_ADDR_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

enum sp_addr_kind {
    SP_ADDR_TCP,
    SP_ADDR_UDP,
    SP_ADDR_UNIX,
    SP_ADDR_UNIX_DGRAM,
    SP_ADDR_PACKET,         /* packet:IFACE[:ETHERTYPE]: AF_PACKET raw frames on one interface */
    SP_ADDR_UNIX_SEQPACKET, /* unix-seqpacket:PATH: Unix SOCK_SEQPACKET (records) */
};

/* A Unix address of any socket type (unix:, unix-dgram:, unix-seqpacket:). */
static inline int sp_addr_is_unix(enum sp_addr_kind k)
{
    return k == SP_ADDR_UNIX || k == SP_ADDR_UNIX_DGRAM || k == SP_ADDR_UNIX_SEQPACKET;
}

#define SP_ADDR_HOST_MAX   256
#define SP_ADDR_PATH_MAX   108 /* sizeof(sun_path) on Linux, terminator included */
#define SP_ADDR_TEXT_MAX   320 /* room for any formatted address */
#define SP_ADDR_IFNAME_MAX 16  /* IFNAMSIZ, terminator included */

struct sp_addr {
    enum sp_addr_kind kind;
    char host[SP_ADDR_HOST_MAX];     /* tcp/udp: name or literal, no brackets */
    uint16_t port;                   /* tcp/udp; 0 = ephemeral */
    int family;                      /* AF_INET/AF_INET6 for literals, AF_UNSPEC for names,
                                        AF_UNIX for the unix kinds */
    int wildcard;                    /* host is 0.0.0.0 or :: */
    char path[SP_ADDR_PATH_MAX];     /* the unix kinds; "@name" is a Linux abstract
                                        socket: the engine maps the '@' to the
                                        leading NUL of sun_path */
    char ifname[SP_ADDR_IFNAME_MAX]; /* packet: the interface */
    uint16_t ethertype;              /* packet: the EtherType received (0x0003: all) */
    int tls;                         /* tls:HOST:PORT: kind SP_ADDR_TCP with TLS on top */
};

/* Parses `tcp:HOST:PORT`, `tls:HOST:PORT` (TCP with tls set), `udp:HOST:PORT`,
 * `tcp:PORT` (host 127.0.0.1), `tcp:[::1]:PORT`, `unix:PATH`, `unix-dgram:PATH`,
 * `unix-seqpacket:PATH`, `packet:IFACE[:ETHERTYPE]`
 * (ETHERTYPE a number such as 0x0800 or ipv4, ipv6, arp, vlan, all; default
 * all). Returns 0, or -1 with a
 * one-line reason in err (unknown scheme, missing host or port, port not a
 * number or > 65535, unbalanced brackets, empty or overlong Unix path: paths
 * are never truncated). Unbracketed IPv6 is refused with a hint to use
 * brackets; scheme names are case-insensitive; literal hosts are stored in
 * inet_ntop() form. *addr is only written on success. */
int sp_addr_parse(struct sp_addr *addr, const char *text, char *err, size_t errlen);
/* Formats addr back to its canonical text (IPv6 in brackets), which
 * sp_addr_parse() reads back to the same fields. Returns the length of the
 * full text, snprintf-style (>= len means buf holds a truncated prefix). */
size_t sp_addr_format(const struct sp_addr *addr, char *buf, size_t len);
/* Formats a kernel socket address: "127.0.0.1:80", "[::1]:80", a link-layer
 * address (AF_PACKET) as "aa:bb:cc:dd:ee:ff", or a Unix
 * path (unnamed sockets as "(unnamed)"). The path is not sanitised: pass it
 * through sp_render() before showing it. Abstract Unix names are shown as
 * "@name" and may contain NUL bytes, so use the returned length (snprintf-
 * style: the full length, buf truncated and terminated if it is shorter). */
size_t sp_sockaddr_format(const struct sockaddr *sa, size_t salen, char *buf, size_t len);
/* The length of address text that comes with a length (len; 0 means up to
 * the first NUL): what to render, so an abstract name is shown whole. */
size_t sp_addr_text_len(const char *text, size_t len);

#endif
