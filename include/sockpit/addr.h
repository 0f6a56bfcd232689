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
};

#define SP_ADDR_HOST_MAX 256
#define SP_ADDR_PATH_MAX 108 /* sizeof(sun_path) on Linux, terminator included */
#define SP_ADDR_TEXT_MAX 320 /* room for any formatted address */

struct sp_addr {
    enum sp_addr_kind kind;
    char host[SP_ADDR_HOST_MAX]; /* tcp/udp: name or literal, no brackets */
    uint16_t port;               /* tcp/udp; 0 = ephemeral */
    int family;                  /* AF_INET/AF_INET6 for literals, AF_UNSPEC for names */
    int wildcard;                /* host is 0.0.0.0 or :: */
    char path[SP_ADDR_PATH_MAX]; /* unix, unix-dgram */
};

/* Parses `tcp:HOST:PORT`, `udp:HOST:PORT`, `tcp:PORT` (host 127.0.0.1),
 * `tcp:[::1]:PORT`, `unix:PATH`, `unix-dgram:PATH`. Returns 0, or -1 with a
 * one-line reason in err (unknown scheme, missing host or port, port not a
 * number or > 65535, unbalanced brackets, empty or overlong Unix path: paths
 * are never truncated). */
int sp_addr_parse(struct sp_addr *addr, const char *text, char *err, size_t errlen);
/* Formats addr back to its canonical text (IPv6 in brackets). */
size_t sp_addr_format(const struct sp_addr *addr, char *buf, size_t len);
/* Kind names as used in addresses: "tcp", "udp", "unix", "unix-dgram". */
const char *sp_addr_kind_name(enum sp_addr_kind kind);
/* Formats a kernel socket address: "127.0.0.1:80", "[::1]:80", or a Unix
 * path (unnamed sockets as "(unnamed)"). The path is not sanitised: pass it
 * through sp_render() before showing it. */
size_t sp_sockaddr_format(const struct sockaddr *sa, size_t salen, char *buf, size_t len);

#endif
