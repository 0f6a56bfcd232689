/* The kernel's view of a socket: TCP_INFO, queue sizes, socket options, and
 * NETLINK_SOCK_DIAG lookups of connections whose descriptor we closed. Plain
 * syscalls on a descriptor; no libuv. */
#ifndef SOCKPIT_KSTATE_H
#define SOCKPIT_KSTATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockpit/engine/engine.h"

/* "ESTABLISHED", "FIN_WAIT2", ... for a kernel TCP state number; "" if unknown. */
const char *sp__kstate_name(int state);
/* The TCP state of fd (tcpi_state), or -1. */
int sp__kstate_tcp(int fd);
/* Bytes not yet read (SIOCINQ) / not yet sent or acknowledged (SIOCOUTQ), -1 on error. */
int64_t sp__kstate_inq(int fd);
int64_t sp__kstate_outq(int fd);
/* TCP bytes not yet sent at all (SIOCOUTQNSD; a queued FIN counts one), -1 on error. */
int64_t sp__kstate_notsent(int fd);
/* TCP_INFO's fields beyond the basic ones (ktcpinfo.c: the kernel's own
 * struct tcp_info, longer than libc's). */
void sp__ktcp_info_more(int fd, struct sp_kinfo *out);
/* An int socket option, or -1. */
int64_t sp__kstate_opt(int fd, int level, int name);
/* Fills out for fd; is_tcp selects the TCP-only fields (the rest are -1). */
void sp__kstate_info(int fd, int is_tcp, int is_stream, struct sp_kinfo *out);
/* Sets one option. Returns 0, or a negative errno with err set. */
int sp__kstate_setopt(int fd, int is_tcp, int is_stream, enum sp_sockopt opt, long value, char *err,
                      size_t errlen);

/* One connection found by a dump: local and remote address and its state. */
struct sp_kdiag_ent {
    int family;
    uint16_t lport, rport; /* host byte order */
    unsigned char laddr[16], raddr[16];
    int state;
};
typedef void (*sp_kdiag_cb)(void *ud, const struct sp_kdiag_ent *ent);
/* Opens a NETLINK_SOCK_DIAG socket (-errno on failure). */
int sp__kdiag_open(void);
/* Dumps every non-listening TCP connection of family, one cb per
 * connection. Returns 0 or -errno. */
int sp__kdiag_dump(int nlfd, int family, sp_kdiag_cb cb, void *ud);
/* The state of the one connection between la (local) and pa (peer), asked
 * for exactly (no dump of the host's connections): a state number, -ENOENT
 * if the kernel has none, another -errno on failure. */
int sp__kdiag_lookup(int nlfd, const struct sockaddr_storage *la,
                     const struct sockaddr_storage *pa);
/* Does ent describe the connection between la (local) and pa (peer)? */
int sp__kdiag_match(const struct sp_kdiag_ent *ent, const struct sockaddr_storage *la,
                    const struct sockaddr_storage *pa);

#endif
