/* The event stream (DESIGN §6): what the engine publishes and every front end
 * consumes. Events carry copies and ids, never pointers into live sockets;
 * their pointers are borrowed for the duration of the callback (or, from the
 * history, until the loop runs again). */
#ifndef SOCKPIT_EVENT_H
#define SOCKPIT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "sockpit/proto/tcpseg.h"

struct sp_buf;
struct sp_cmsg;

enum sp_ev_type {
    SP_EV_LISTENING,
    SP_EV_CONNECTED,
    SP_EV_ACCEPTED,
    SP_EV_BOUND,
    SP_EV_RECV,
    SP_EV_MSG,
    SP_EV_FRAME_ERROR,
    SP_EV_SEND,
    SP_EV_EOF,
    SP_EV_SHUTDOWN,
    SP_EV_STATE,
    SP_EV_ERROR,
    SP_EV_CLOSED,
    SP_EV_SUMMARY,
    SP_EV_CMD_ERROR,
    SP_EV_NOTICE,     /* our own remarks: framing switched, wildcard bind, paused, ... */
    SP_EV_DROPPED,    /* history only: "N events dropped" marker */
    SP_EV_NOTE,       /* a lab step ran: its title and note (sock 0) */
    SP_EV_CHECK,      /* a lab check held or failed (sock 0) */
    SP_EV_EXPECT,     /* an expect matched: what, how, and the latency from our last send */
    SP_EV_RULE,       /* an `on` rule fired: it replied (and maybe closed) */
    SP_EV_SEGMENT,    /* wire view: one TCP segment of the socket, captured (tcpseg.h) */
    SP_EV_TLS_RECORD, /* one TLS record on the ciphertext stream (tlsrec.h) */
    SP_EV_TLS,        /* TLS handshake progress and result, alerts, close_notify */
    SP_EV_ICMP_ERROR, /* an error read from a socket's error queue (IP_RECVERR) */
    SP_EV__COUNT
};

#define SP_EV_MASK(t)  (1u << (t))
#define SP_EV_MASK_ALL ((1u << SP_EV__COUNT) - 1)
/* recv/msg/send: what --quiet drops. */
#define SP_EV_MASK_DATA (SP_EV_MASK(SP_EV_RECV) | SP_EV_MASK(SP_EV_MSG) | SP_EV_MASK(SP_EV_SEND))

enum sp_sock_kind {
    SP_SOCK_TCP_LISTEN,
    SP_SOCK_TCP, /* connected or accepted */
    SP_SOCK_UDP,
    SP_SOCK_UNIX_LISTEN,
    SP_SOCK_UNIX,
    SP_SOCK_UNIX_DGRAM,
    SP_SOCK_PACKET, /* AF_PACKET SOCK_RAW bound to one interface: whole frames */
    SP_SOCK_SEQPACKET_LISTEN,
    SP_SOCK_SEQPACKET, /* Unix SOCK_SEQPACKET, connected or accepted: records */
};

/* The three families of kinds; every kind is in exactly one. */
static inline int sp_kind_is_listener(enum sp_sock_kind k)
{
    return k == SP_SOCK_TCP_LISTEN || k == SP_SOCK_UNIX_LISTEN || k == SP_SOCK_SEQPACKET_LISTEN;
}

/* A connected (or accepted) socket with a peer, an EOF and half-close: TCP,
 * Unix stream, or Unix seqpacket (which keeps record boundaries on top). */
static inline int sp_kind_is_stream(enum sp_sock_kind k)
{
    return k == SP_SOCK_TCP || k == SP_SOCK_UNIX || k == SP_SOCK_SEQPACKET;
}

/* Record boundaries kept: each recv is one datagram or one record. */
static inline int sp_kind_has_records(enum sp_sock_kind k)
{
    return k == SP_SOCK_UDP || k == SP_SOCK_UNIX_DGRAM || k == SP_SOCK_PACKET ||
           k == SP_SOCK_SEQPACKET;
}

static inline int sp_kind_is_dgram(enum sp_sock_kind k)
{
    return k == SP_SOCK_UDP || k == SP_SOCK_UNIX_DGRAM || k == SP_SOCK_PACKET;
}

/* At most this many buffers in one recvmsg() (recv --iov). */
#define SP_IOV_MAX 16
/* At most this many write calls are listed in a send event's calls. */
#define SP_CALLS_MAX 64

/* At most this many recv boundaries are recorded per message (cuts). */
#define SP_EV_CUTS_MAX 256

struct sp_event {
    enum sp_ev_type type;
    uint64_t t_ns;   /* since the engine started, monotonic */
    uint32_t sock;   /* 0: not about a socket (cmd_error) */
    uint32_t parent; /* accepted: the listener */
    enum sp_sock_kind kind;

    uint64_t seq;              /* recv: chunk no.; msg: message no.; send: send no. (all from 1) */
    uint64_t off;              /* recv/send: stream offset of the first byte; msg: of the frame's
                                  first byte; frame_error: of the bad byte */
    uint64_t end_off;          /* msg: stream offset just past the frame */
    uint64_t len;              /* recv/msg/send: full length in bytes */
    const unsigned char *data; /* recv/msg/send: the bytes (the first data_len of them) */
    size_t data_len;           /* < len when only a prefix was kept */
    int truncated;             /* recv: datagram cut to the recv size; msg: 0, or what cut it
                                  short (SP_FRAME_CUT_EOF, _SPEC, _DATAGRAM of frame.h) */
    int framed;                /* recv: a framing decoded this chunk (expect takes its msg
                                  events instead of it) */
    int64_t unread;            /* recv: SIOCINQ just before a manual recv, else -1 */
    int64_t unsent;            /* shutdown wr/both of TCP: bytes the FIN is queued behind
                                  (SIOCOUTQ without the FIN), else -1 */

    uint64_t chunk_first, chunk_last; /* msg: first and last recv chunk (seq) */
    uint32_t chunk_first_off;         /* msg: offset of the frame inside chunk_first */
    uint32_t chunk_last_end;          /* msg: offset just past the frame in chunk_last */
    const uint32_t *cuts;             /* msg: body offsets where a recv boundary fell */
    size_t ncuts;
    const uint64_t *blocks; /* msg under blocks framing: each block's length */
    size_t nblocks;

    uint32_t writes;      /* send: write calls it took */
    const int64_t *calls; /* send: what each write call returned (bytes, or -errno) */
    size_t ncalls;
    uint64_t wanted; /* send --once: bytes the call was asked to take (len is what it took) */

    /* recv: what the call returned beyond the bytes (DESIGN §11). */
    int msg_flags; /* msg_flags the kernel returned (MSG_TRUNC, MSG_CTRUNC, MSG_OOB, MSG_EOR) */
    int asked;     /* flags passed by a manual recv (MSG_PEEK, MSG_WAITALL, MSG_OOB,
                      MSG_TRUNC), 0 for the automatic reads */
    int atmark;    /* SIOCATMARK just before a manual TCP recv: 1 at the urgent mark,
                      -1 not at it, 0 not asked */
    int blocked;   /* recv --block/--waitall: 1 when the call had to wait */
    uint64_t blocked_ns; /* then how long a blocking call would have waited */
    const uint32_t *iov; /* recv --iov: each buffer's size (the kernel fills them in order) */
    size_t niov;
    /* recv: the control messages the call returned, decoded (cmsg.h);
     * icmp_error: the one sock_extended_err it is about. */
    const struct sp_cmsg *cmsg;
    size_t ncmsg;
    uint32_t cmsg_more; /* control messages past SP_CMSG_MAX, counted, not described */

    const char *local; /* listening/connected/accepted/bound */
    const char *peer;  /* connected/accepted */
    const char *from;  /* datagram recv: sender ("" when unknown) */
    /* The lengths of local, peer and from: an abstract Unix name is every
     * byte after its '@', NULs included. 0 means up to the first NUL. */
    size_t local_len, peer_len, from_len;
    const char *how;     /* shutdown: "wr", "rd", "both" */
    const char *tcp;     /* state: kernel state name ("ESTABLISHED", ..., "gone") */
    const char *op;      /* error: what we were doing ("connect", "write", "accept", ...) */
    const char *code;    /* error: errno name ("ECONNRESET") */
    const char *message; /* error, cmd_error, notice: human text */
    const char *reason;  /* frame_error, closed: why */
    const char *line;    /* cmd_error: the command line as written */
    int expected;        /* cmd_error: the line was allowed to fail (a lab's "!" line) */

    /* recv on a packet socket (kind SP_SOCK_PACKET): the link layer as the
     * kernel reported it (sockaddr_ll; from is the source MAC) and the
     * frame's one-line summary (pktsum.h). */
    const char *ifname;  /* the interface the frame was seen on */
    const char *summary; /* what the frame is */
    uint32_t ifindex;
    int pkttype;       /* sll_pkttype: PACKET_HOST (0) ... PACKET_OUTGOING (4) */
    uint16_t protocol; /* sll_protocol, host order: the frame's EtherType */

    /* tls_record: off/end_off/len/chunk_first/chunk_last as a msg's, on the
     * ciphertext stream of its direction (recv or send chunks); summary says
     * what it holds ("ClientHello", "encrypted"). tls: code is the stage
     * ("handshake_done", "verify_failed", "alert", "close_notify", ...),
     * message the text. */
    int tls_out;       /* tls_record: 1 we wrote it, 0 we read it */
    int tls_type;      /* tls_record: content type */
    int tls_version;   /* tls_record: record-layer version */
    int tls_encrypted; /* tls_record: the body is ciphertext we do not read */
    int tls_alert;     /* tls_record: level << 8 | description of a readable alert, else -1 */
    uint64_t tls_hs;   /* tls_record: handshake types that begin in it, first in the low byte */
    uint32_t tls_nhs;  /* how many (past 8 only counted) */
    int tls_hs_cont;   /* tls_record: it begins with the rest of an earlier message */

    uint64_t bytes_in, bytes_out, chunks, msgs; /* summary */
    uint64_t dropped;                           /* dropped: how many events */

    /* note, check: seq is the step (from 1) of `steps`; message is the note
     * text (lines joined by '\n') or what the check found; line is the
     * check as written. */
    const char *lab;   /* note/check: the lab's name */
    const char *title; /* note/check: the step's title */
    const char *name;  /* check: its name */
    int held;          /* check: 1 held, 0 failed */
    uint64_t steps;    /* note/check: steps in the lab */

    /* expect, rule: seq is the matched msg or chunk, op "msg" or "recv",
     * mode how it was matched (match.h: "exact", "regex", ...). expect:
     * message lists the captures (NAME=bytes, peer bytes), latency_ns is
     * from our last send's event to the match (-1: no send before it),
     * send_seq that send. rule: rule is its number, fired how often it
     * fired so far (this one included), len the reply's bytes, then_close
     * whether the connection is closed after the reply. mode is always a
     * constant string: the history keeps the pointer, not a copy. */
    const char *mode;
    int64_t latency_ns;
    uint64_t send_seq;
    uint32_t rule;
    uint64_t fired;
    int then_close;
    /* segment: seq is the segment's number on the socket (from 1), off the
     * stream offset of its first payload byte (our recv offsets for what
     * the peer sent, our send offsets for ours), len its payload length,
     * data the IP packet as captured (headers, for pcap files). */
    struct sp_seg seg;
};

/* "listening", "recv", ... as in DESIGN §6. */
const char *sp_event_name(enum sp_ev_type type);
/* "tcp-listen", "tcp", "udp", "unix-listen", "unix", "unix-dgram", "packet",
 * "unix-seqpacket-listen", "unix-seqpacket". */
const char *sp_sock_kind_name(enum sp_sock_kind kind);
/* Appends the one-line text form (no newline), socat-like:
 *   0.012345 [3] recv #4 7 bytes @120: "hello\r\n"
 * Every peer-controlled string goes through sp_render(). utf8 selects the
 * render mode. */
void sp_event_format_text(struct sp_buf *out, const struct sp_event *ev, int utf8);
/* Appends one JSON object (no newline) with every field of DESIGN §6 for the
 * event's kind; always valid JSON whatever the bytes. */
void sp_event_format_json(struct sp_buf *out, const struct sp_event *ev);
/* Appends s[0..n), text that is already safe (sp_render() output, or our own
 * text with peer strings rendered), as a JSON string literal: `"` and `\`
 * escaped, any control byte as \u00XX. The one JSON string escaper. */
/* Appends the names of the MSG_* bits in flags, separated by sep ("" when
 * none); an unknown bit is shown as a hex number. */
void sp_msg_flags_format(struct sp_buf *out, int flags, const char *sep);
/* The lines a recv (or send --fd) shows under itself for its control
 * messages: how many there are, and line i (no newline, no indent) in
 * words, every peer-chosen string rendered safe. */
size_t sp_event_cmsg_lines(const struct sp_event *ev);
void sp_event_cmsg_line(struct sp_buf *out, const struct sp_event *ev, size_t i, int utf8);
void sp_json_quote(struct sp_buf *out, const char *s, size_t n);

#endif
