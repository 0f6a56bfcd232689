/* TCP segments as a capture sees them (the wire view): one captured frame
 * parsed down to its TCP header, and a connection tracker that turns the
 * kernel's absolute sequence numbers into stream offsets and marks what
 * Wireshark's tcp.analysis would mark. A parser of peer bytes: it reads only
 * p[0..n), never allocates, and keeps no state of its own (the tracker's
 * state is the caller's struct sp_tcpflow). */
#ifndef SOCKPIT_TCPSEG_H
#define SOCKPIT_TCPSEG_H

#include <stddef.h>
#include <stdint.h>

/* The TCP flags byte, bit by bit. */
#define SP_TCP_FIN 0x01u
#define SP_TCP_SYN 0x02u
#define SP_TCP_RST 0x04u
#define SP_TCP_PSH 0x08u
#define SP_TCP_ACK 0x10u
#define SP_TCP_URG 0x20u
#define SP_TCP_ECE 0x40u
#define SP_TCP_CWR 0x80u

/* The link types a capture hands over (pcap's LINKTYPE_ numbers, which are
 * the DLT_ values on Linux for these). */
#define SP_LINK_NULL       0   /* BSD loopback: 4-byte host-order family */
#define SP_LINK_EN10MB     1   /* Ethernet; Linux `lo` too */
#define SP_LINK_RAW        101 /* the IP header first */
#define SP_LINK_DLT_RAW    12  /* DLT_RAW's own number on Linux */
#define SP_LINK_LINUX_SLL  113 /* the "any" device, cooked v1 */
#define SP_LINK_LINUX_SLL2 276 /* the "any" device, cooked v2 */

/* SACK blocks one segment carries at most (40 option bytes: 4 blocks). */
#define SP_SACK_MAX 4

/* Marks, as bits of struct sp_seg's marks (definitions in tcpseg.c and the
 * README's wire-view section). */
enum {
    SP_SEG_RETRANS = 1u << 0,   /* data (or SYN/FIN) at a sequence already sent */
    SP_SEG_OOO = 1u << 1,       /* fills a hole soon after a later segment: reordered */
    SP_SEG_ZEROWIN = 1u << 2,   /* window 0 */
    SP_SEG_WINUPD = 1u << 3,    /* a bare ACK whose only news is the window */
    SP_SEG_DUPACK = 1u << 4,    /* a bare ACK repeating the last one exactly */
    SP_SEG_KEEPALIVE = 1u << 5, /* 0 or 1 byte one below the next sequence */
    SP_SEG_GAP = 1u << 6,       /* starts past the next sequence: bytes before it not seen */
};

/* Names of the marks: "retransmission", "out-of-order", "zero-window",
 * "window-update", "dup-ack", "keep-alive", "gap". NULL for any other bit. */
const char *sp_seg_mark_name(unsigned bit);

/* One parsed segment: addresses in network order (IPv4 in the first 4 bytes). */
struct sp_tcp_pkt {
    int v6;
    unsigned char src[16], dst[16];
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t win; /* raw, as in the header */
    uint8_t flags;
    uint32_t len;    /* payload length by the IP header (not what was captured) */
    size_t ip_off;   /* where the IP header starts in the frame */
    uint32_t ip_len; /* the IP packet's length by its header */
    /* Options (any segment may carry timestamps; MSS, wscale and SACK
     * permitted are read on SYNs, where they mean something). */
    uint16_t mss;  /* 0: none */
    int8_t wscale; /* -1: none */
    uint8_t sack_ok;
    uint8_t has_ts;
    uint32_t tsval, tsecr;
    /* SACK blocks (RFC 2018): [left, right) of the other side's sequence
     * space that arrived beyond the ACK. */
    uint8_t nsack;
    uint32_t sack[SP_SACK_MAX][2];
};

/* Parses a frame of the given link type down to its TCP header.
 * p[0..n) is what was captured, wire_len the frame's real length. Returns
 * 0, or -1 with *why (a fixed string) when it is not a TCP segment sockpit
 * can place: another protocol, an IP fragment, a truncated or malformed
 * header. Options past the captured bytes are left unread. */
int sp_tcp_parse(const unsigned char *p, size_t n, size_t wire_len, int linktype,
                 struct sp_tcp_pkt *out, const char **why);

/* The wire view's part of a segment event (embedded in struct sp_event). */
struct sp_seg {
    uint32_t rel_seq; /* seq minus its sender's ISN (the SYN is 0), or from the first seen */
    uint32_t rel_ack; /* ack minus the other side's ISN, when ACK is set */
    uint32_t win;     /* in bytes: scaled when both SYNs offered scaling */
    uint32_t tsval, tsecr;
    uint32_t ip_len;    /* the IP packet's length on the wire */
    uint32_t dupack;    /* SP_SEG_DUPACK: which duplicate (1, 2, ...) */
    uint16_t mss;       /* SYN option, 0 none */
    uint16_t marks;     /* SP_SEG_* */
    int8_t wscale;      /* SYN option, -1 none */
    uint8_t flags;      /* SP_TCP_* */
    uint8_t out;        /* 1: sent by our socket; 0: sent by the peer */
    uint8_t sack_ok;    /* SYN option */
    uint8_t has_ts;     /* timestamps option present */
    uint8_t isn_known;  /* the sender's SYN was seen: rel_seq and the stream offset are
                           exact; 0: counted from the first segment seen */
    uint8_t win_scaled; /* win is scaled (or is a SYN's, which never is) */
    uint8_t nsack;      /* SACK blocks, relative like rel_ack: [left, right) */
    uint32_t sack[SP_SACK_MAX][2];
    int64_t wall_us; /* capture time, wall clock (what a pcap file stores) */
    uint64_t cap_ns; /* capture time on the engine's clock (the t of events): a segment
                        event is published when the loop reads the capture, later */
};

/* One side of a tracked connection (the tracker's own state). */
struct sp_tcpside {
    int seen;     /* a segment from this side was seen */
    int isn_set;  /* isn is known: from its SYN, or guessed from what was seen first */
    int syn_seen; /* its SYN was seen: isn is the real one */
    int acked;    /* it sent an ACK: last_ack holds */
    uint32_t isn;
    uint32_t nxt;    /* the highest seq + len seen: the next expected */
    int64_t nxt_off; /* the stream offset of nxt (counts past 4 GiB) */
    uint64_t nxt_ns; /* when nxt last moved forward */
    uint32_t last_ack;
    uint32_t last_win; /* raw */
    int wscale;        /* the option on its SYN, -1 none */
    int scale;         /* its window shift as the kernel told the caller, -1 unknown */
    uint32_t dupacks;
    int hole_open; /* a gap was seen: [hole_lo, hole_hi) not seen yet */
    uint32_t hole_lo, hole_hi;
};

struct sp_tcpflow {
    struct sp_tcpside side[2]; /* [1]: ours (out), [0]: the peer's (in) */
    uint64_t rtt_ns;           /* SYN to SYN-ACK, 0 until seen */
    uint64_t syn_ns;
    int syn_timed; /* syn_ns holds */
};

void sp_tcpflow_init(struct sp_tcpflow *f);
/* The window shifts of a connection whose SYNs were not seen (the kernel
 * knows them: TCP_INFO's rcv_wscale for ours, snd_wscale for the peer's). */
void sp_tcpflow_set_scale(struct sp_tcpflow *f, int ours, int peers);
/* Tracks one segment (out: sent by our side) seen at now_ns (any monotonic
 * clock) and fills seg (everything but wall_us and cap_ns) and *off, the stream offset
 * of its first payload byte (a FIN's: where the stream ends). */
void sp_tcpflow_add(struct sp_tcpflow *f, const struct sp_tcp_pkt *pkt, int out, uint64_t now_ns,
                    struct sp_seg *seg, uint64_t *off);

#endif
