/* The socket engine: one libuv loop, a table of sockets, an event stream.
 *
 * Every operation takes a socket id (from 1, in creation order; accepted
 * connections take the next number) and returns 0 or a negative error with a
 * one-line reason in err. A failing call changes nothing. What happens later
 * (connected, data, errors, close) is published as events (event.h) to every
 * subscriber, in order. Front ends never see libuv: they use the loop through
 * the sp_engine_watch_* helpers below. */
#ifndef SOCKPIT_ENGINE_H
#define SOCKPIT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "sockpit/proto/addr.h"
#include "sockpit/proto/event.h"
#include "sockpit/proto/frame.h"

struct sp_engine;
struct sp_tls_opts;

#define SP_RECVSIZE_DEFAULT   (64u * 1024)
#define SP_RECVSIZE_MAX       (1024u * 1024)
#define SP_WRITE_QUEUE_MAX    (8u * 1024 * 1024)
#define SP_CONNECT_TIMEOUT_MS 10000
#define SP_BACKLOG_DEFAULT    511
#define SP_HIST_EVENTS_MAX    10000
#define SP_HIST_BYTES_MAX     (4u * 1024 * 1024)
#define SP_HIST_GLOBAL_MAX    (256u * 1024 * 1024)
#define SP_KSTATE_POLL_MS     100
/* Closed sockets whose records (state, counters, history) are kept. */
#define SP_KEEP_CLOSED_DEFAULT 1000
/* Block lengths recorded per `blocks` message at most (msg events). */
#define SP_EV_BLOCKS_MAX 4096

/* Engine-wide settings, fixed at creation. */
struct sp_engine_opts {
    int keep_history;            /* keep per-socket event logs (the TUI and `log` read them) */
    int keep_data;               /* keep payload bytes in the history (else metadata only) */
    uint64_t connect_timeout_ms; /* 0: SP_CONNECT_TIMEOUT_MS */
    size_t keep_closed; /* 0: SP_KEEP_CLOSED_DEFAULT (sp_engine_set_keep_closed() takes 0) */
};

/* Creates an engine (and ignores SIGPIPE). Returns 0 or a negative error. */
int sp_engine_new(struct sp_engine **out, const struct sp_engine_opts *opts);
/* Closes every socket (as `reset` does), runs the loop until all handles are
 * closed, and frees the engine. Not from inside an event callback. */
void sp_engine_free(struct sp_engine *eng);
/* sp_engine_free() that returns what uv_loop_close() said: 0 when every
 * handle was closed (tests assert it), UV_EBUSY if one leaked. */
int sp_engine_destroy(struct sp_engine *eng);
/* Runs the loop until sp_engine_stop() (returns 0) or until nothing is left to
 * do (returns 1). */
int sp_engine_run(struct sp_engine *eng);
void sp_engine_stop(struct sp_engine *eng);
/* Runs one non-blocking loop iteration (tests). */
void sp_engine_poll(struct sp_engine *eng);
/* Nanoseconds since the engine started (monotonic): the `t` of events. */
uint64_t sp_engine_now_ns(const struct sp_engine *eng);

/* Subscribers. mask selects event types (SP_EV_MASK_ALL for all); the engine
 * skips building events nobody asked for. A subscriber may unsubscribe itself
 * or others from inside a callback. Returns a subscription id > 0. */
typedef void (*sp_event_cb)(void *ud, const struct sp_event *ev);
int sp_engine_subscribe(struct sp_engine *eng, uint32_t mask, sp_event_cb cb, void *ud);
void sp_engine_unsubscribe(struct sp_engine *eng, int sub);
/* A subscriber reads at most max payload bytes of each event (0: none; the
 * default is all): the engine keeps no more of a message body than the
 * subscribers and the history read. Events then carry a prefix (data_len <
 * len); lengths and boundaries stay exact. */
void sp_engine_sub_data_max(struct sp_engine *eng, int sub, size_t max);
/* Publishes an event that did not come from a socket (cmd_error, notice). */
void sp_engine_emit(struct sp_engine *eng, const struct sp_event *ev);

/* Per-socket options given at creation. */
struct sp_sock_opts {
    const struct sp_frame_spec *framing; /* NULL: raw */
    int echo;                            /* listener: for every accepted socket */
    int close_on_eof;                    /* listener: close each connection after the peer's EOF */
    int backlog;                         /* 0: default */
    uint64_t timeout_ms;                 /* connect; 0: engine default */
    int wire; /* TCP: watch its segments from the start (a listener: its connections') */
    /* Set between socket() and bind/connect, where the kernel takes them:
     * SO_REUSEPORT, IPV6_V6ONLY (1 on, 0 leave), and connect --bind's
     * source address (a literal IP address; NULL: the kernel picks). */
    int reuseport, v6only;
    const struct sp_addr *bind;
    const struct sp_tls_opts *tls; /* tls: addresses (tls.h); NULL: defaults */
};

/* Creating sockets. On success *id is the new socket; the outcome arrives as
 * `listening` / `connected` / `bound`, or `error` then `closed`. Literal
 * addresses bind synchronously, so EADDRINUSE, a bad Unix path or a refused
 * existing file fail the call itself (and create nothing); for them
 * `listening` / `bound` is published before the call returns (*id and
 * sp_engine_last_id() are already set). Host names resolve asynchronously;
 * connect outcomes always arrive after the call returned. A Unix listener
 * replaces a stale socket file (with a notice) and removes its file when
 * closed; unix-dgram connect binds an automatic abstract address so that
 * replies can come back. */
int sp_engine_listen(struct sp_engine *eng, const struct sp_addr *addr,
                     const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen);
int sp_engine_connect(struct sp_engine *eng, const struct sp_addr *addr,
                      const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen);
int sp_engine_bind(struct sp_engine *eng, const struct sp_addr *addr,
                   const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen);

/* One `send`. parts are written as one message: under a framing the parts
 * together are the message body (head + parts + tail, one writev); raw sends
 * them as they are. split/chunks cut the wire bytes into separate writes with
 * delay_ms between them; repeat sends the whole again every every_ms. The
 * `send` event follows when the last write of one repetition completed. */
struct sp_send_req {
    const unsigned char *const *parts;
    const size_t *lens;
    size_t nparts;
    int raw;                  /* bypass the socket's framing */
    int end;                  /* blocks: send the zero block (after the data, if any) */
    int pad;                  /* fixed: pad with NUL */
    const struct sp_addr *to; /* datagram sockets: destination (else the connected peer) */
    size_t split;             /* > 0: writes of at most split bytes */
    const size_t *chunks;     /* explicit write sizes (the rest goes in a last write) */
    size_t nchunks;
    uint64_t delay_ms; /* between the writes of split/chunks */
    uint64_t repeat;   /* total sends; 0 or 1 = once */
    uint64_t every_ms;
    int once; /* exactly one non-blocking sendmsg(): what it took is the send, nothing queued */
    int oob;  /* one byte with MSG_OOB (TCP urgent data); one call as once */
    /* Unix sockets: PATH opened read-only and passed with SCM_RIGHTS on one
     * call as once; a path that cannot be opened refuses the send. */
    const char *fd_path;
};
/* Refused (nothing sent) when the socket cannot send, the framing rejects the
 * message, or the write queue would exceed SP_WRITE_QUEUE_MAX. */
int sp_engine_send(struct sp_engine *eng, uint32_t id, const struct sp_send_req *req, char *err,
                   size_t errlen);

int sp_engine_set_framing(struct sp_engine *eng, uint32_t id, const struct sp_frame_spec *spec,
                          char *err, size_t errlen);
int sp_engine_set_recvsize(struct sp_engine *eng, uint32_t id, size_t n, char *err, size_t errlen);
int sp_engine_pause(struct sp_engine *eng, uint32_t id, char *err, size_t errlen);
int sp_engine_resume(struct sp_engine *eng, uint32_t id, char *err, size_t errlen);
/* One read of up to n bytes (0: the recv size) while paused; the recv event
 * carries the unread count measured just before. */
int sp_engine_recv_once(struct sp_engine *eng, uint32_t id, size_t n, char *err, size_t errlen);

/* A manual recv in full: one recvmsg() into the given buffers with flags. */
#define SP_RECV_PEEK 0x1 /* MSG_PEEK: the bytes stay queued */
#define SP_RECV_WAITALL                                                                            \
    0x2 /* MSG_WAITALL: wait until every buffer is full (streams; implies BLOCK) */
#define SP_RECV_OOB   0x4  /* MSG_OOB: TCP's urgent byte */
#define SP_RECV_TRUNC 0x8  /* MSG_TRUNC: the datagram's real length (datagrams, seqpacket) */
#define SP_RECV_BLOCK 0x10 /* wait (the loop keeps running) until the kernel has data */
struct sp_recv_req {
    size_t n;                 /* one buffer of n bytes (0: the recv size) when niov is 0 */
    uint32_t iov[SP_IOV_MAX]; /* else these buffers, 1 .. SP_IOV_MAX of them */
    size_t niov;
    unsigned flags; /* SP_RECV_* */
};
/* Only while paused. Returns 0 when the call was made (its recv, eof or
 * error event emitted: EAGAIN on an empty queue is an error event, not a
 * refusal), 1 when it waits for data (the event comes later; see
 * sp_engine_recv_cancel), < 0 when refused (nothing done, err says why). */
int sp_engine_recvmsg(struct sp_engine *eng, uint32_t id, const struct sp_recv_req *req, char *err,
                      size_t errlen);
/* Gives up a waiting recv (1 if there was one). */
int sp_engine_recv_cancel(struct sp_engine *eng, uint32_t id);

enum sp_shut { SP_SHUT_WR = 1, SP_SHUT_RD = 2, SP_SHUT_BOTH = 3 };
int sp_engine_shutdown(struct sp_engine *eng, uint32_t id, enum sp_shut how, char *err,
                       size_t errlen);
/* Graceful: queued writes are delivered first (bounded by the connect
 * timeout), then close(2); the kernel sends RST if unread data remains. */
int sp_engine_close(struct sp_engine *eng, uint32_t id, char *err, size_t errlen);
/* Abortive: SO_LINGER 0, queued writes dropped, RST sent. */
int sp_engine_reset(struct sp_engine *eng, uint32_t id, char *err, size_t errlen);
/* Closes every open socket as sp_engine_close() does. */
void sp_engine_close_all(struct sp_engine *eng);

enum sp_sockopt {
    SP_OPT_NODELAY,
    SP_OPT_CORK,
    SP_OPT_KEEPALIVE,
    SP_OPT_RCVBUF,
    SP_OPT_SNDBUF,
    SP_OPT_LINGER,    /* seconds; -1 = off */
    SP_OPT_OOBINLINE, /* TCP: urgent byte read in the stream instead of out of band */
    SP_OPT_MSS,       /* TCP_MAXSEG: a listener advertises it to the connections it accepts */
};
int sp_engine_setopt(struct sp_engine *eng, uint32_t id, enum sp_sockopt opt, long value, char *err,
                     size_t errlen);
/* The wire view: capture a TCP socket's segments (a listener's: of the
 * connections it accepts) as `segment` events. Needs CAP_NET_RAW: without
 * it, a notice (once) and -EPERM with how to grant it in err. */
int sp_engine_wire(struct sp_engine *eng, uint32_t id, int on, char *err, size_t errlen);
struct sp_wire_info {
    int on;
    int listener_watch; /* a listener: its connections are watched */
    uint32_t via;       /* watched because this listener is */
    uint64_t segments;  /* segments seen */
    uint64_t dropped;   /* what the capture of its interface dropped (pcap_stats ps_drop) */
    uint64_t ifdropped; /* what the interface itself dropped meanwhile (ps_ifdrop) */
    char ifname[24];    /* the interface captured ("lo", "any", ...) */
    /* The capture's BPF filter: "pairs" (each socket's addresses), "ports"
     * (their service ports) or "tcp" (all TCP: past 32 ports), its length
     * in characters, how often it was compiled; sockets on the capture. */
    char filter[8];
    size_t filter_len;
    uint64_t recompiles;
    unsigned watched;
};
/* Returns 1 when watched (out filled), else 0. */
int sp_engine_wire_info(struct sp_engine *eng, uint32_t id, struct sp_wire_info *out);
/* The kernel buffer of the captures opened from now on, in bytes (0: the
 * default, 8 MiB); a small one drops segments under a flood (said so). */
void sp_engine_set_wire_buffer(struct sp_engine *eng, int bytes);
/* TCP_MAXSEG for every TCP socket made from now on, set before its
 * connect(2) or listen(2) (0: the kernel's choice). */
void sp_engine_set_mss(struct sp_engine *eng, int mss);
int sp_engine_mss(const struct sp_engine *eng);
int sp_engine_set_echo(struct sp_engine *eng, uint32_t id, int on, char *err, size_t errlen);

/* IP-layer options (engine_ipopt.c): set ttl|tos N, broadcast|v6only|
 * reuseport on|off. v6only is refused by the kernel once bound (say
 * --v6only at creation); reuseport after bind comes with a notice. */
enum sp_ipopt {
    SP_IPOPT_TTL,
    SP_IPOPT_TOS,
    SP_IPOPT_BROADCAST,
    SP_IPOPT_V6ONLY,
    SP_IPOPT_REUSEPORT,
};
int sp_engine_set_ipopt(struct sp_engine *eng, uint32_t id, enum sp_ipopt opt, long value,
                        char *err, size_t errlen);
/* SO_BINDTODEVICE (needs CAP_NET_RAW); "" unbinds. */
int sp_engine_set_device(struct sp_engine *eng, uint32_t id, const char *ifname, char *err,
                         size_t errlen);
/* Joins a multicast group (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP) on ifname,
 * or on the interface the kernel routes the group to when ifname is NULL. */
int sp_engine_mcast_join(struct sp_engine *eng, uint32_t id, const char *group, const char *ifname,
                         char *err, size_t errlen);
/* `info`'s line of those options as the kernel reports them now ("  ip: ttl
 * 64, tos 0x00, broadcast off, reuseport off"; v6only on IPv6). Returns -1
 * (nothing appended) for a socket that is not an open IP socket. */
int sp_engine_ip_info(struct sp_engine *eng, uint32_t id, struct sp_buf *out);

/* Ancillary data asked of the kernel on every recv of the socket (`set
 * passcred|pktinfo|recvttl|recvtos|timestamp|recverr on|off`). A socket with
 * any of them on, and every Unix socket (SCM_RIGHTS needs no option), reads
 * with recvmsg() and a control buffer; its recv events carry the decoded
 * control messages (cmsg.h), and recverr's error queue becomes icmp_error
 * events. */
#define SP_ANC_PASSCRED  0x1  /* SO_PASSCRED: SCM_CREDENTIALS (Unix) */
#define SP_ANC_PKTINFO   0x2  /* IP_PKTINFO / IPV6_RECVPKTINFO (UDP) */
#define SP_ANC_RECVTTL   0x4  /* IP_RECVTTL / IPV6_RECVHOPLIMIT (UDP) */
#define SP_ANC_RECVTOS   0x8  /* IP_RECVTOS / IPV6_RECVTCLASS (UDP) */
#define SP_ANC_TIMESTAMP 0x10 /* SO_TIMESTAMPNS (UDP, Unix datagrams) */
#define SP_ANC_RECVERR   0x20 /* IP_RECVERR / IPV6_RECVERR (UDP) */
int sp_engine_set_anc(struct sp_engine *eng, uint32_t id, unsigned opt, int on, char *err,
                      size_t errlen);
/* The control buffer each recvmsg() gets (`set cmsgbuf N`): what does not fit
 * is cut by the kernel (MSG_CTRUNC; descriptors it could not pass are closed). */
#define SP_CMSGBUF_DEFAULT 2048
#define SP_CMSGBUF_MAX     65536
int sp_engine_set_cmsgbuf(struct sp_engine *eng, uint32_t id, size_t n, char *err, size_t errlen);
/* `info`: the ancillary options that apply to the socket, each as the kernel
 * reports it (getsockopt), and the control buffer its recvs get. 0 with a
 * line appended, -1 when none applies (TCP) or the socket is not open. */
int sp_engine_anc_info(struct sp_engine *eng, uint32_t id, struct sp_buf *out);

/* Our side and the peer's side of a connection, tracked separately. */
#define SP_OURS_SHUT_WR 0x1 /* FIN sent (shutdown wr, or close) */
#define SP_OURS_SHUT_RD 0x2
#define SP_OURS_CLOSED  0x4
#define SP_OURS_RST     0x8 /* we sent RST: reset, or close() with unread data */
/* shutdown wr asked for: it waits until our own write queue is written. */
#define SP_OURS_SHUT_WAIT 0x10
/* shutdown(SHUT_WR) done, the FIN still queued behind unsent bytes. */
#define SP_OURS_FIN_QUEUED 0x20
#define SP_PEER_FIN        0x1 /* recv returned 0 */
#define SP_PEER_RST        0x2 /* ECONNRESET seen */
/* The kernel holds the peer's FIN (CLOSE_WAIT) that we have not read yet
 * (paused, or reading shut down). */
#define SP_PEER_FIN_WAITING 0x4
/* The kernel holds the peer's reset that we have not read yet. */
#define SP_PEER_RST_WAITING 0x8

/* A copy of one socket's state for display and commands. */
struct sp_sock_info {
    uint32_t id;
    uint32_t parent; /* accepted: the listener; else 0 */
    enum sp_sock_kind kind;
    char local[SP_ADDR_TEXT_MAX]; /* raw text: render before showing */
    char peer[SP_ADDR_TEXT_MAX];
    size_t local_len, peer_len; /* abstract Unix names may hold NULs: use these lengths */
    char framing[SP_FRAME_SPEC_TEXT_MAX];
    struct sp_frame_spec spec; /* what send encodes with, and decodes with unless decode_lost */
    int decode_lost;           /* a length error stopped decoding: what arrives is shown as raw
                                  chunks until the framing is set again */
    size_t recvsize;
    int connecting; /* connect or name resolution in progress */
    int open;       /* the descriptor is open */
    int paused;
    int echo;
    int close_on_eof;
    int wildcard;   /* listening on 0.0.0.0 or :: */
    unsigned ours;  /* SP_OURS_* */
    unsigned peers; /* SP_PEER_* */
    char tcp[16];   /* kernel TCP state name, "" if none, "gone" once forgotten */
    int64_t unread; /* SIOCINQ at the last poll, -1 unknown */
    int64_t unsent; /* SIOCOUTQ at the last poll, -1 unknown */
    size_t queued;  /* bytes in our write queue not yet written */
    uint64_t bytes_in, bytes_out, chunks, msgs, sends, accepted;
    char close_reason[64];
    char tls[96];     /* TLS progress ("TLS handshake: ...", "TLSv1.3"), "" when not TLS */
    int tls_insecure; /* a TLS client that does not enforce verification (--insecure) */
};
int sp_engine_sock_info(struct sp_engine *eng, uint32_t id, struct sp_sock_info *out);
/* Fills ids with every socket the engine knows (open or closed, in id order);
 * returns how many there are (may exceed max). */
size_t sp_engine_sock_ids(struct sp_engine *eng, uint32_t *ids, size_t max);
/* The most recently created socket, 0 if none. */
uint32_t sp_engine_last_id(const struct sp_engine *eng);

/* Closed sockets are kept (sp_engine_sock_info(), history) up to a count:
 * past it the oldest closed ones are forgotten, their history freed, and
 * their ids name nothing any more. A socket shown (sp_engine_set_watched())
 * is kept while shown. Forgetting happens between loop iterations, never
 * inside an event callback. */
void sp_engine_set_keep_closed(struct sp_engine *eng, size_t n);
size_t sp_engine_keep_closed(const struct sp_engine *eng);
/* How many closed sockets were forgotten so far. */
uint64_t sp_engine_forgotten(const struct sp_engine *eng);
/* 1 if id was a socket that was closed and forgotten, else 0. */
int sp_engine_sock_forgotten(const struct sp_engine *eng, uint32_t id);

/* Kernel view (`info`). Fields the kernel does not report for the socket's
 * kind are -1. */
struct sp_kinfo {
    char tcp[16];
    int64_t rtt_us, rttvar_us, unacked, retrans, cwnd, pmtu;
    int64_t unread, unsent;
    int64_t rcvbuf, sndbuf;
    int64_t nodelay, cork, keepalive, linger;
    /* TCP_INFO beyond the above (-1 when not TCP). */
    int64_t mss, advmss, rcv_mss, ssthresh, rcv_space, snd_wnd, rcv_wnd;
    int64_t retransmits, lost, sacked, reordering, probes, backoff;
    int64_t segs_in, segs_out, data_segs_in, data_segs_out;
    int64_t bytes_acked, bytes_received, min_rtt_us, delivery_rate;
    int64_t last_data_recv_ms, last_data_sent_ms, last_ack_recv_ms;
    int64_t oobinline, reuseaddr, rcvlowat, sndlowat, so_type;
    int64_t peer_pid, peer_uid, peer_gid; /* SO_PEERCRED of a Unix socket, -1 otherwise */
    char bound_dev[32];                   /* SO_BINDTODEVICE, "" when none */
};
int sp_engine_kinfo(struct sp_engine *eng, uint32_t id, struct sp_kinfo *out, char *err,
                    size_t errlen);
/* Marks a socket as shown (its kernel state is polled every 100 ms, and it
 * is not forgotten once closed) or not. */
void sp_engine_set_watched(struct sp_engine *eng, uint32_t id, int watched);

/* History: each socket's bounded event log, by absolute index (the first event
 * ever logged for the socket is 0). Indices below sp_hist_begin() were
 * dropped. sp_hist_get() fills out with pointers valid until the loop runs
 * again or another engine call is made; returns 0, or -1 for an index not (or
 * no longer) kept. */
uint64_t sp_hist_begin(struct sp_engine *eng, uint32_t id);
uint64_t sp_hist_end(struct sp_engine *eng, uint32_t id);
int sp_hist_get(struct sp_engine *eng, uint32_t id, uint64_t idx, struct sp_event *out);
/* Does the engine keep history with payloads (from creation on)? */
int sp_engine_keeps_history(const struct sp_engine *eng);
/* The "N events dropped" marker (SP_EV_DROPPED, dropped = sp_hist_begin())
 * to show before the oldest kept event. Returns 0, or -1 if nothing was
 * dropped. */
int sp_hist_dropped(struct sp_engine *eng, uint32_t id, struct sp_event *out);

/* The relay (engine_relay.c): every connection accepted on a listener opens
 * one to a target, and the bytes flow both ways through faults that can be
 * changed live. Both legs are ordinary sockets. */
enum sp_fin_mode { SP_FIN_PASS, SP_FIN_HOLD, SP_FIN_RESET };
/* Which of the faults a struct sp_fault sets (the others stay as they are). */
#define SP_FAULT_DELAY       0x01
#define SP_FAULT_RATE        0x02
#define SP_FAULT_RESPLIT     0x04
#define SP_FAULT_DROP        0x08
#define SP_FAULT_RESET_AFTER 0x10
#define SP_FAULT_STALL       0x20
/* One direction's faults; 0 turns a fault off. */
struct sp_fault {
    unsigned set;         /* SP_FAULT_* given */
    uint64_t delay_ms;    /* each message (raw: chunk) leaves this long after it arrived */
    uint64_t rate;        /* bytes per second at most */
    uint64_t resplit;     /* forwarded in writes of at most this many bytes */
    uint64_t drop_msg;    /* the message (raw: chunk) with this number is not forwarded */
    uint64_t reset_after; /* both legs are reset once this many bytes went through */
    int stall;            /* nothing forwarded, the source not read */
};
#define SP_RELAY_UP   0x1 /* client leg to target leg */
#define SP_RELAY_DOWN 0x2 /* target leg back to the client leg */
struct sp_relay_opts {
    const struct sp_frame_spec *framing;      /* the client legs' (NULL: raw) */
    const struct sp_frame_spec *framing_back; /* the target legs' (NULL: raw) */
    enum sp_fin_mode fin;
    struct sp_fault up, down;
    const struct sp_tls_opts *listen_tls; /* a tls: listen address's (NULL: defaults) */
    const struct sp_tls_opts *target_tls; /* a tls: target's (NULL: defaults) */
};
/* Listens on listen_addr (*id: the listener, as sp_engine_listen) and
 * relays each accepted connection to target (tcp:, tls: or unix:); a tls:
 * leg is TLS terminated by the relay, which forwards the plaintext. */
int sp_engine_relay(struct sp_engine *eng, const struct sp_addr *listen_addr,
                    const struct sp_addr *target, const struct sp_relay_opts *opts, uint32_t *id,
                    char *err, size_t errlen);
/* Changes the faults of dirs (SP_RELAY_*) on a relay listener (its
 * connections now and later) or on one relay leg (that connection). */
int sp_engine_relay_fault(struct sp_engine *eng, uint32_t id, unsigned dirs,
                          const struct sp_fault *f, char *err, size_t errlen);
struct sp_relay_info {
    uint32_t listener;       /* the relay's listener */
    uint32_t client, target; /* a leg's pair (0 for the listener itself, or not yet) */
    char target_addr[SP_ADDR_TEXT_MAX];
    enum sp_fin_mode fin;
    struct sp_fault up, down; /* in force (the listener's: for new connections) */
};
/* 0 when id is a relay listener or leg (out filled), else -1. */
int sp_engine_relay_info(struct sp_engine *eng, uint32_t id, struct sp_relay_info *out);
/* "delay 100ms, rate 1000B/s, stall" ("none") into out. */
void sp_fault_format(const struct sp_fault *f, char *out, size_t len);

/* The loop, for front ends that must not include uv.h. A watch is freed by
 * sp_watch_stop() (safe from inside its own callback). */
struct sp_watch;
typedef void (*sp_watch_cb)(void *ud);
/* Timer and fd watches keep sp_engine_run() going; signal and prepare
 * watches do not. */
/* cb when fd is readable. */
struct sp_watch *sp_engine_watch_fd(struct sp_engine *eng, int fd, sp_watch_cb cb, void *ud);
/* cb after first_ms, then every repeat_ms (0: once). */
struct sp_watch *sp_engine_watch_timer(struct sp_engine *eng, uint64_t first_ms, uint64_t repeat_ms,
                                       sp_watch_cb cb, void *ud);
struct sp_watch *sp_engine_watch_signal(struct sp_engine *eng, int signum, sp_watch_cb cb,
                                        void *ud);
/* cb once per loop iteration, just before the loop waits: the place to draw. */
struct sp_watch *sp_engine_watch_prepare(struct sp_engine *eng, sp_watch_cb cb, void *ud);
void sp_watch_stop(struct sp_watch *w);

/* The versions of the libraries the engine runs with (libuv, OpenSSL,
 * libpcap), as the linked libraries report them, for `sockpit --version`. */
struct sp_buf;
void sp_engine_lib_versions(struct sp_buf *out);

#endif
