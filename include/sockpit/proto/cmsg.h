/* Ancillary data: the control messages a recvmsg() returned, decoded from
 * the control buffer into flat records a recv event can carry and the
 * history can copy. A pure parser of a byte buffer (the layout is the
 * kernel's struct cmsghdr, read with memcpy, so any alignment and any bytes
 * are safe): it reads only buf[0..len), never allocates, and reports a
 * header that does not fit or a payload shorter than its type needs instead
 * of trusting it. What only the kernel can tell (what a passed descriptor
 * points to, an interface's name, how long bytes waited) is filled in by
 * the engine afterwards. */
#ifndef SOCKPIT_CMSG_H
#define SOCKPIT_CMSG_H

#include <stddef.h>
#include <stdint.h>

/* Control messages described per recv at most (one per passed descriptor);
 * the rest are counted, and descriptors are closed all the same. */
#define SP_CMSG_MAX 16
/* Bytes of a passed descriptor's target (readlink) kept. */
#define SP_CMSG_TARGET_MAX 160
/* Room for an IPv4 or IPv6 address as text. */
#define SP_CMSG_ADDR_MAX 48

enum sp_cmsg_kind {
    SP_CMSG_RIGHTS,    /* SCM_RIGHTS: one record per descriptor */
    SP_CMSG_CREDS,     /* SCM_CREDENTIALS */
    SP_CMSG_PKTINFO,   /* IP_PKTINFO, IPV6_PKTINFO */
    SP_CMSG_TTL,       /* IP_TTL, IPV6_HOPLIMIT */
    SP_CMSG_TOS,       /* IP_TOS, IPV6_TCLASS */
    SP_CMSG_TIMESTAMP, /* SCM_TIMESTAMPNS, SCM_TIMESTAMP */
    SP_CMSG_ERR,       /* IP_RECVERR, IPV6_RECVERR: struct sock_extended_err */
    SP_CMSG_OTHER,     /* a level and type not decoded here: shown with its length */
    SP_CMSG_SHORT,     /* a known type whose payload is shorter than its struct */
    SP_CMSG_BAD,       /* a header that does not fit the buffer: the walk stopped there */
};

/* Where a sock_extended_err came from (ee_origin). */
#define SP_EE_ORIGIN_NONE  0
#define SP_EE_ORIGIN_LOCAL 1
#define SP_EE_ORIGIN_ICMP  2
#define SP_EE_ORIGIN_ICMP6 3

/* One decoded control message: plain values only (no pointers), so a copy
 * is a memcpy. Fields not of its kind are zero. */
struct sp_cmsg {
    enum sp_cmsg_kind kind;
    int level, type; /* cmsg_level, cmsg_type as the kernel gave them */
    uint32_t len;    /* payload bytes (cmsg_len without the header) */
    uint32_t off;    /* where its header starts in the control buffer */
    int v6;          /* an IPv6-level message (hop limit, traffic class, ...) */

    /* RIGHTS: the descriptor number it had here (closed since), and what it
     * pointed to, from the engine: st_mode (0 unknown) and the readlink of
     * /proc/self/fd/N ("" unknown; target_cut: longer than kept). */
    int fd;
    uint32_t mode;
    int target_cut;
    char target[SP_CMSG_TARGET_MAX];

    int64_t pid, uid, gid; /* CREDS */

    /* PKTINFO: the datagram's destination address and the interface it
     * came in on (ifname from the engine, "" unknown). ERR: addr is the
     * offender, "" when the error names none. */
    uint32_t ifindex;
    char ifname[16];
    char addr[SP_CMSG_ADDR_MAX];

    int value; /* TTL, TOS: the value; SHORT: the payload size its type needs */

    /* TIMESTAMP: the kernel's receive time (CLOCK_REALTIME); waited_ns is
     * how long the bytes had waited when they were read (from the engine;
     * waited_known 0 when it could not tell). */
    int64_t sec, nsec, waited_ns;
    int waited_known;

    /* ERR: ee_errno, ee_origin, ee_type, ee_code, ee_info, ee_data. */
    int ee_errno;
    uint8_t origin, icmp_type, icmp_code;
    uint32_t info, data;
};

/* Decodes the control messages of buf[0..len) (msg_control after recvmsg(),
 * msg_controllen bytes) into out[0..max). Returns the records written; *more
 * (when not NULL) gets how many more there were. A header too short, or
 * whose cmsg_len reaches past len, ends the walk with one SP_CMSG_BAD
 * record; a known type with a payload too short for its struct (MSG_CTRUNC
 * cuts the last message) is SP_CMSG_SHORT. */
size_t sp_cmsg_parse(const void *buf, size_t len, struct sp_cmsg *out, size_t max, size_t *more);

/* Calls cb with every descriptor of every SCM_RIGHTS message in buf (all of
 * them, also those past any record limit), so that the receiver can close
 * each one. Returns how many there were. */
size_t sp_cmsg_each_fd(const void *buf, size_t len, void (*cb)(int fd, void *ud), void *ud);

/* "SCM_RIGHTS", "IP_PKTINFO", "IPV6_HOPLIMIT", ...; NULL for OTHER and BAD.
 * SHORT records are named by their type. */
const char *sp_cmsg_name(const struct sp_cmsg *c);
/* "port unreachable", "time exceeded", ... for an ERR record's ICMP type
 * and code; NULL when not known. */
const char *sp_cmsg_icmp_text(const struct sp_cmsg *c);
/* "icmp", "icmp6", "local", "none" for SP_EE_ORIGIN_*; "origin N" style
 * text for others is the caller's business (NULL). */
const char *sp_cmsg_origin_name(int origin);
/* "regular file", "directory", "socket", ... for st_mode's type bits;
 * "unknown" when 0. */
const char *sp_cmsg_file_type(uint32_t mode);

#endif
