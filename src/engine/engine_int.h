/* Engine internals shared by src/engine*.c, history.c and kstate.c. Nothing
 * outside the engine includes this file (tests may, to reach the loop). */
#ifndef SOCKPIT_ENGINE_INT_H
#define SOCKPIT_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <uv.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/xmalloc.h"
#include "sockpit/engine/engine.h"
#include "history.h"

struct sp_send_op;
struct sp_framer;
struct sp_wreq;
struct sp_tls;
struct sp_tls_opts;
struct sp__writer;
struct sp__relay;
struct sp__relay_pair;
struct sp__wire_saved;
struct sp__tls_cache;
struct ssl_session_st;

/* Which libuv handle a socket uses. Listeners and Unix datagram sockets are
 * driven by a uv_poll_t on a descriptor we own: accept(2) under our control
 * lets us see EMFILE (libuv hides it behind its reserve-descriptor trick),
 * and libuv has no Unix datagram handle. */
enum sp_hkind { SP_H_NONE, SP_H_TCP, SP_H_PIPE, SP_H_UDP, SP_H_POLL };

/* What a socket's spare timer is doing right now. */
enum sp_tmode { SP_T_NONE, SP_T_CONNECT, SP_T_OUTCOME, SP_T_DRAIN, SP_T_ACCEPT };

/* What a socket needs between socket() and its bind or connect: the
 * options the kernel takes only then, and connect --bind's source. */
struct sp_prebind {
    int reuseport, v6only;
    struct sockaddr_storage src;
    socklen_t srclen; /* 0: no source bind */
};

struct sp_sock {
    struct sp_engine *eng;
    uint32_t id;
    uint32_t parent;
    enum sp_sock_kind kind;
    int family;            /* AF_INET, AF_INET6, AF_UNIX; AF_UNSPEC while resolving */
    struct sp_prebind pre; /* from the creating call's sp_sock_opts */

    union {
        uv_handle_t h;
        uv_stream_t st;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_udp_t udp;
        uv_poll_t poll;
    } u;
    enum sp_hkind hkind;
    int fd; /* our own descriptor for SP_H_POLL sockets, else -1 */

    unsigned handle_open : 1;    /* u holds an initialised handle not yet given to uv_close */
    unsigned handle_closing : 1; /* u was given to uv_close, its callback has not run yet */
    unsigned closed : 1;         /* sp__sock_close ran: the socket is over */
    unsigned resolving : 1;
    unsigned connecting : 1;
    unsigned established : 1; /* connected or accepted or bound */
    unsigned paused : 1;
    unsigned reading : 1; /* uv read/recv/poll started */
    unsigned echo : 1;
    unsigned wildcard : 1;
    unsigned watched : 1;
    unsigned in_klist : 1;
    unsigned following : 1;    /* closed TCP connection followed through inet_diag */
    unsigned close_wanted : 1; /* graceful close waiting for queued writes */
    unsigned echo_blocked : 1; /* reading stopped because echo filled the queue */
    unsigned unlink_path : 1;  /* Unix socket file we created: unlink when closing */
    unsigned dgram_connected : 1;
    unsigned accept_starved : 1; /* accept(2) is failing for lack of descriptors */
    unsigned close_on_eof : 1;   /* close once the peer's EOF is read (listener: its conns) */
    unsigned wire_want : 1;      /* watch its segments once it has addresses (opts->wire) */
    unsigned relay_held : 1;     /* a relay stopped reading (its other leg is slow, a stall) */
    unsigned ours;
    /* Why a graceful close waiting for queued writes closes (NULL: "closed by us"). */
    const char *drain_reason;
    /* Runs once when the write queue is empty (a shutdown that waited for it). */
    void (*on_drained)(struct sp_sock *s);
    unsigned peers;

    size_t recvsize;
    struct sp_frame_spec spec;
    struct sp_framer *fr; /* NULL until a non-raw framing is set */

    uint64_t bytes_in, bytes_out, chunks, msgs, sends, accepted;
    uint64_t out_issued; /* stream offset of the next byte we hand to the kernel */
    uint64_t backlog;
    size_t queued; /* bytes handed to writes (or scheduled) and not yet completed */
    size_t qover;  /* memory the queue's bookkeeping holds (ops, write requests); the
                      SP_WRITE_QUEUE_MAX cap counts queued + qover */
    TAILQ_HEAD(sp_send_ops, sp_send_op) ops; /* in the order they were made */
    TAILQ_HEAD(sp_wreqs, sp_wreq) wq;        /* stream writes handed to libuv, in order */
    size_t wbytes;                           /* their bytes */

    char local[SP_ADDR_TEXT_MAX];
    char peer[SP_ADDR_TEXT_MAX];
    size_t local_len, peer_len; /* abstract Unix names hold NULs */
    char tcp[16];
    int64_t unread, unsent;
    char close_reason[64];
    uint64_t timeout_ms;

    /* Address pair kept to find the connection through inet_diag after close. */
    struct sockaddr_storage la, pa;
    /* The Unix path we bound, to unlink on close when it is still ours. */
    uint64_t path_dev, path_ino;
    char path[SP_ADDR_PATH_MAX];

    struct sp_tls *tls;           /* TLS state (engine_tls.c), or NULL */
    uint64_t pt_chunks, pt_bytes; /* TLS: plaintext reads (SSL_read results) and their bytes */

    struct sp_hist *hist;
    struct sp__blocked *blk;   /* a manual recv waiting for data (engine_recv.c), or NULL */
    struct sp__writer *writer; /* our own write calls (engine_write.c), or NULL */
    /* engine_wire.c: the segment tracker kept while the wire view is off,
     * so turning it on again counts on from the same ISNs and numbers. */
    struct sp__wire_saved *wire_saved;
    struct sp__anc *anc; /* ancillary options and their reader (engine_anc.c), or NULL */
    /* TCP urgent data met by the automatic reads (engine_stream.c): the
     * byte read with MSG_OOB before a read, shown when that read returns,
     * and the mark already shown (its stream offset + 1, 0: none). */
    uint64_t urg_shown;
    unsigned char urg_byte;
    int urg_pending; /* 1: urg_byte to show, 2: an inline mark to show */

    uv_timer_t *timer; /* lazily allocated; freed in its close callback */
    enum sp_tmode tmode;
    /* What runs when the timer fires, set by whoever armed it. */
    void (*timer_cb)(struct sp_sock *s);
    int outcome_err;       /* SP_T_OUTCOME: 0 = connected, else the uv error */
    uv_getaddrinfo_t *gai; /* name resolution in progress */
    int gai_op;            /* 'l', 'c' or 'b': what to do with the address */
    int backlog_opt;
    uv_connect_t *creq;
    uv_shutdown_t *sreq;
    int shut_how; /* the shutdown in progress */

    uint64_t kpoll_until_ns;     /* poll the TCP state until then (recent activity) */
    TAILQ_ENTRY(sp_sock) kentry; /* in eng->klist while in_klist */

    TAILQ_ENTRY(sp_sock) closed_link; /* eng->closed, once closed */

    /* A packet socket's interface and the EtherType it receives. */
    uint32_t ifindex;
    uint16_t ethertype;
    char ifname[SP_ADDR_IFNAME_MAX];

    /* engine_relay.c: the relay this listener serves, or the pair this leg is in. */
    struct sp__relay *relay;
    struct sp__relay_pair *rpair;
    uint32_t relay_lid, relay_peer; /* a leg's relay listener and other leg, kept after close */
};

struct sp_sub {
    int id;
    uint32_t mask;
    size_t data_max; /* payload bytes of an event it reads (SIZE_MAX: all) */
    sp_event_cb cb;  /* NULL once unsubscribed */
    void *ud;
};

struct sp_watch {
    struct sp_engine *eng;
    union {
        uv_handle_t h;
        uv_poll_t poll;
        uv_timer_t timer;
        uv_signal_t signal;
        uv_prepare_t prepare;
    } u;
    sp_watch_cb cb;
    void *ud;
    int stopped;
    TAILQ_ENTRY(sp_watch) entry;
};

struct sp_engine {
    uv_loop_t loop;
    struct sp_engine_opts opts;
    uint64_t t0;
    int stop_requested;
    int freeing;

    /* The records the engine knows, in id order. Ids only grow, and closed
     * sockets beyond keep_closed are forgotten, so this holds what is kept
     * (ids with gaps), found by binary search, never one slot per id ever
     * made. */
    struct sp_sock **socks;
    size_t nsocks, capsocks;
    uint32_t last_id;
    /* Closed records, oldest close first; the reaper forgets the oldest
     * once there are more than keep_closed. */
    TAILQ_HEAD(sp_closed_q, sp_sock) closed;
    size_t nclosed;
    size_t keep_closed;
    uint64_t forgotten;
    uv_check_t reaper;
    int reaper_on;
    size_t *reap; /* the reaper's scratch: table slots being forgotten */
    size_t capreap;

    struct sp_sub *subs;
    size_t nsubs, capsubs;
    int next_sub;
    int depth;           /* dispatch nesting */
    int subs_dirty;      /* an unsubscribe happened during dispatch */
    uint32_t mask;       /* union of live subscribers' masks */
    size_t msg_data_max; /* the most payload bytes of a msg event a live subscriber reads */

    unsigned char *rbuf; /* the one read buffer (SP_RECVSIZE_MAX), reused by every read */

    struct sp_hist_pool hpool;

    uv_timer_t ktimer;
    int ktimer_on;
    TAILQ_HEAD(sp_klist, sp_sock) klist; /* TCP sockets whose state is polled */
    struct sp_sock **follow;
    size_t nfollow, capfollow;
    int nlfd; /* NETLINK_SOCK_DIAG socket, -1 until needed */
    int diag_broken;

    TAILQ_HEAD(sp_watches, sp_watch) watches;

    struct sp__wire *wire;           /* the wire view's captures (engine_wire.c), NULL until used */
    int mss;                         /* TCP_MAXSEG for new TCP sockets, 0: none */
    int wire_buffer;                 /* the wire view's capture buffer in bytes, 0: its default */
    struct sp__relay *relays;        /* engine_relay.c, a list; NULL when none */
    int relay_sub;                   /* its event subscription while relays exist */
    struct sp__tls_cache *tls_cache; /* engine_tlscache.c, NULL until a session is kept */

    /* SIGURG: TCP urgent data arrived (engine_stream.c); started with the
     * first TCP connection, unreferenced. */
    uv_signal_t urg_sig;
    int urg_sig_on;
};

/* engine.c */
struct sp_sock *sp__sock_get(struct sp_engine *eng, uint32_t id);
struct sp_sock *sp__sock_new(struct sp_engine *eng, enum sp_sock_kind kind,
                             const struct sp_sock_opts *opts);
/* Writes why id names no socket: never made, or closed and forgotten. */
void sp__sock_missing(const struct sp_engine *eng, uint32_t id, char *err, size_t errlen);
/* Undoes sp__sock_new() for a socket that never got a descriptor or an
 * event (the newest one), so a failing call leaves the table unchanged. */
void sp__sock_discard(struct sp_sock *s);
/* Is anyone (a subscriber or the history) interested in events of type t? */
static inline int sp__wants(const struct sp_engine *eng, enum sp_ev_type t)
{
    return ((eng->mask | (eng->opts.keep_history ? SP_EV_MASK_ALL : 0)) & SP_EV_MASK(t)) != 0;
}
/* How many payload bytes of a msg event someone reads: the subscribers to
 * msg events (sp_engine_sub_data_max) and the history's per-event cap when
 * it keeps payloads. 0: nobody reads any. */
static inline size_t sp__msg_data_need(const struct sp_engine *eng)
{
    size_t n = eng->msg_data_max;
    if (eng->opts.keep_history && eng->opts.keep_data && n < SP_HIST_EVENT_DATA_MAX)
        n = SP_HIST_EVENT_DATA_MAX;
    return n;
} /* Stamps ev (time, socket fields), logs it and publishes it. s may be NULL. */
void sp__emit(struct sp_engine *eng, struct sp_sock *s, struct sp_event *ev);
void sp__emit_error(struct sp_sock *s, const char *op, int uverr);
/* An error event with our own message instead of the system's text. */
void sp__emit_error_msg(struct sp_sock *s, const char *op, int uverr, const char *message);
void sp__emit_notice(struct sp_sock *s, const char *message);
/* Ends a socket: closes its handle, emits `closed` then `summary`. Safe to
 * call twice (the second call does nothing). abortive: SO_LINGER 0 first. */
void sp__sock_close(struct sp_sock *s, const char *reason, int abortive);
/* Arms the socket's one timer: cb runs once after ms (the socket's owner of
 * each use says what happens, so the core never calls up into it). */
void sp__sock_timer(struct sp_sock *s, enum sp_tmode mode, uint64_t ms,
                    void (*cb)(struct sp_sock *s));
void sp__sock_timer_stop(struct sp_sock *s);
/* Socket fields from the kernel's view of an open descriptor. */
void sp__sock_names(struct sp_sock *s, int fd);
/* Formats a kernel address into out (SP_ADDR_TEXT_MAX bytes) and returns its
 * length, which counts the NULs inside an abstract Unix name. */
size_t sp__sockaddr_text(const struct sockaddr *sa, socklen_t len, char *out);
/* A bind or listen on fd took: keeps the Unix path it made (path[0] != 0;
 * unlinked at close), takes the names, emits type (bound or listening) and
 * the notice anywhere when sa is a wildcard address. */
void sp__sock_bound(struct sp_sock *s, int fd, const struct sockaddr *sa, const char *path,
                    uint64_t dev, uint64_t ino, enum sp_ev_type type, const char *anywhere);
/* The descriptor of an open socket, -1 if none. */
int sp__sock_fd(const struct sp_sock *s);
/* errno name of a libuv error ("ECONNRESET"). */
const char *sp__err_name(int uverr);
void sp__seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A literal address as a kernel address. Returns 0 or a uv error with err set. */
int sp__addr_to_sockaddr(const struct sp_addr *addr, struct sockaddr_storage *ss, socklen_t *len,
                         char *err, size_t errlen);
/* engine_ipopt.c: fills pb from opts (NULL: nothing to do); applies it to a
 * new descriptor of family before its bind or connect. Return 0 or -errno
 * with the reason in err. */
int sp__prebind_fill(struct sp_prebind *pb, const struct sp_sock_opts *opts, char *err,
                     size_t errlen);
int sp__prebind_apply(const struct sp_prebind *pb, int fd, int family, char *err, size_t errlen);

/* Starts t, counting from now: the loop's clock is only updated once per
 * iteration, and a busy callback before this one would otherwise make the
 * timer fire early (at once after a long enough stretch). */
void sp__timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t ms, uint64_t repeat_ms);

/* engine_kstate.c: check the TCP state now / keep polling it a while /
 * follow a closed connection through inet_diag. */
void sp__kcheck(struct sp_sock *s);
void sp__kactive(struct sp_sock *s);
void sp__klist_update(struct sp_sock *s);
void sp__kfollow(struct sp_sock *s);
/* A closed TCP socket the kernel forgot with its descriptor (a listener, a
 * connect that never got through): its state becomes "gone". */
void sp__kgone(struct sp_sock *s);
/* Stops following a socket about to be forgotten. */
void sp__kunfollow(struct sp_sock *s);
/* Just before a graceful close(2) of a connection: will the kernel answer
 * it with RST instead of FIN (unread data, SO_LINGER 0)? Says so in a
 * notice and returns 1 if it will. */
int sp__kclose_rst(struct sp_sock *s, int fd);

/* engine_sock.c */
int sp__sock_read_start(struct sp_sock *s);
void sp__sock_read_stop(struct sp_sock *s);
void sp__sock_connected(struct sp_sock *s);
void sp__sock_connect_failed(struct sp_sock *s, int uverr);
/* The SP_T_OUTCOME timer fired: report the connect result kept in outcome_err. */
void sp__sock_outcome(struct sp_sock *s);
/* The SP_T_CONNECT timer fired: the connect took longer than timeout_ms. */
void sp__sock_connect_timeout(struct sp_sock *s);

/* engine_stream.c */
int sp__stream_listen(struct sp_engine *eng, struct sp_sock *s, const struct sockaddr *sa,
                      socklen_t salen, enum sp_sock_kind kind, int backlog,
                      const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen);
/* Starts a connect on s. Returns < 0 only when nothing was created (no
 * descriptor); later failures arrive as events. */
int sp__stream_connect(struct sp_sock *s, const struct sockaddr *sa, socklen_t salen, char *err,
                       size_t errlen);
int sp__stream_read_start(struct sp_sock *s);
void sp__stream_read_stop(struct sp_sock *s);
/* The peer's FIN was read (recv returned 0). */
void sp__stream_eof(struct sp_sock *s);
/* A read failed (uv error): the socket is over. */
void sp__stream_read_failed(struct sp_sock *s, int uverr);
/* A TCP connection is ours: the kernel's SIGURG for its urgent data comes
 * to us (F_SETOWN), so an urgent byte with nothing after it is shown too. */
void sp__urgent_watch(struct sp_sock *s, int fd);
int sp__stream_shutdown(struct sp_sock *s, enum sp_shut how, char *err, size_t errlen);
int sp__listener_start(struct sp_sock *s);
void sp__listener_stop(struct sp_sock *s);
/* What one recv call returned besides the bytes (the event's fields). */
struct sp__rx {
    uint64_t len;  /* the call's return when larger than the bytes kept (MSG_TRUNC), else 0 */
    int truncated; /* a datagram cut to the buffer */
    int64_t unread;
    const struct sockaddr *from;
    socklen_t fromlen;
    int msg_flags, asked, atmark, blocked;
    uint64_t blocked_ns;
    const uint32_t *iov;
    size_t niov;
    const struct sp_cmsg *cmsg; /* the control messages, decoded (engine_cmsg.c) */
    size_t ncmsg;
    uint32_t cmsg_more;
};
/* The one receive path: what one call put in p[0..n). */
void sp__sock_recvd(struct sp_sock *s, const unsigned char *p, size_t n, const struct sp__rx *rx);
/* The common receive path: one read's result. truncated and the sender
 * for datagrams; unread >= 0 for a manual recv. */
void sp__sock_data(struct sp_sock *s, const unsigned char *p, size_t n, int truncated,
                   int64_t unread, const struct sockaddr *from_sa, socklen_t from_len);
/* The stale-socket rule (DESIGN §2) for a Unix path about to be bound. */
int sp__unix_prepare(const struct sp_addr *addr, int socktype, int *replaced, char *err,
                     size_t errlen);
int sp__unix_bind(int fd, const struct sockaddr *sa, socklen_t salen, char *path, uint64_t *dev,
                  uint64_t *ino);
void sp__unix_unlink(struct sp_sock *s);

/* engine_dgram.c */
int sp__dgram_bind(struct sp_engine *eng, struct sp_sock *s, const struct sockaddr *sa,
                   socklen_t salen, enum sp_sock_kind kind, const struct sp_sock_opts *opts,
                   uint32_t *id, char *err, size_t errlen);
int sp__dgram_connect(struct sp_sock *s, const struct sockaddr *sa, socklen_t salen, char *err,
                      size_t errlen);
int sp__dgram_read_start(struct sp_sock *s);
void sp__dgram_read_stop(struct sp_sock *s);

/* engine_recv.c: the manual recv (recvmsg with the user's buffers and
 * flags), now or once the kernel has data. */
struct sp_recv_req;
/* 0: done (its event emitted), 1: waiting for data, < 0: refused. */
int sp__recv_manual(struct sp_sock *s, const struct sp_recv_req *req, char *err, size_t errlen);
/* Drops a waiting manual recv (close, resume); 1 if there was one. */
int sp__recv_cancel(struct sp_sock *s);

/* engine_seqpacket.c: Unix SOCK_SEQPACKET connections (listeners are
 * engine_stream.c's, with the socket type of their kind). */
int sp__seqpacket_connect(struct sp_sock *s, const struct sockaddr *sa, socklen_t salen, char *err,
                          size_t errlen);
int sp__seqpacket_read_start(struct sp_sock *s);
void sp__seqpacket_read_stop(struct sp_sock *s);
/* recv returned 0 on seqpacket socket s: the peer's EOF (1) or an empty
 * record (0)? The kernel returns 0 for both. */
int sp__seqpacket_eof(struct sp_sock *s);

/* engine_write.c: our own write calls on a connected socket. The caller
 * owns w and its iov (valid until on_done); on_call sees each call's return
 * (bytes, or -errno), on_done runs once from the loop with 0, a negative
 * errno, or UV_ECANCELED (closed). */
#define SP__WRITE_IOV_MAX 512
struct sp__write {
    TAILQ_ENTRY(sp__write) entry;
    const struct iovec *iov;
    int iovcnt;
    size_t len, done; /* bytes in all, bytes the kernel took */
    uint32_t calls;
    int err;
    void (*on_call)(struct sp__write *w, int64_t ret);
    void (*on_done)(struct sp__write *w, int status);
};
/* Queues w behind the writes before it; 0, or < 0 when the socket cannot
 * be watched (no descriptor left for the duplicate). */
int sp__write_push(struct sp_sock *s, struct sp__write *w);
/* Bytes pushed and not yet taken by the kernel. */
size_t sp__write_pending(const struct sp_sock *s);
/* Close: every queued write ends with UV_ECANCELED, the duplicate closes. */
void sp__write_close(struct sp_sock *s);

/* Ancillary data of one socket: the options on, the control buffer every
 * recvmsg() gets, and the reader that reads with it (a uv_poll on a
 * duplicate of the descriptor: the socket's own handle keeps writing). */
struct sp__anc {
    struct sp_sock *s; /* NULL once the socket let go of it */
    unsigned opts;     /* SP_ANC_* on */
    size_t cbuf_len;
    /* cbuf_len bytes (aligned for struct cmsghdr) after `set cmsgbuf`, NULL
     * before (the shared default buffer is used) or when 0. */
    uint64_t *cbuf;
    int cbuf_set;
    int fd;        /* the reader's duplicate descriptor, -1 when none */
    int active;    /* the reader's poll is started */
    int poll_open; /* poll holds an initialised handle */
    uv_poll_t poll;
};
/* Does s read through the ancillary reader? Every Unix stream or datagram
 * socket does (a peer may pass descriptors unasked), and any socket with an
 * ancillary option on. */
static inline int sp__anc_reads(const struct sp_sock *s)
{
    return s->kind == SP_SOCK_UNIX || s->kind == SP_SOCK_UNIX_DGRAM ||
           (s->anc != NULL && s->anc->opts != 0);
}

/* engine_cmsg.c: control buffers and messages. */
struct sp_cmsg;
struct msghdr;
/* The socket's ancillary state, made on first use. */
struct sp__anc *sp__anc_get(struct sp_sock *s);
/* The control buffer for a recvmsg() on s (NULL, *len 0: none). */
void *sp__cmsg_cbuf(struct sp_sock *s, size_t *len);
/* After a recvmsg() with that buffer: every passed descriptor is closed
 * (never read); when someone wants recv events, the control messages are
 * decoded into cm[SP_CMSG_MAX] (with what the descriptors pointed to) and
 * hung on rx. */
void sp__cmsg_take(struct sp_sock *s, const struct msghdr *msg, struct sp_cmsg *cm,
                   struct sp__rx *rx);
/* send --fd: opens path read-only for passing on s. Returns the descriptor,
 * or < 0 with err set (not a Unix socket, cannot open). */
int sp__cmsg_fd_open(const struct sp_sock *s, const char *path, char *err, size_t errlen);
/* Hangs one SCM_RIGHTS message carrying fd on msg, in ctl (room for
 * CMSG_SPACE(sizeof(int)) bytes, aligned), and describes it in c. */
void sp__cmsg_fd_attach(struct msghdr *msg, void *ctl, int fd, struct sp_cmsg *c);

/* engine_anc.c: the ancillary reader. */
int sp__anc_read_start(struct sp_sock *s);
void sp__anc_read_stop(struct sp_sock *s);
/* At close: stops the reader, closes its descriptor, frees the state. */
void sp__anc_close(struct sp_sock *s);

/* engine_packet.c: AF_PACKET raw sockets on one interface. */
int sp__packet_bind(struct sp_engine *eng, const struct sp_addr *addr,
                    const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen);
int sp__packet_read_start(struct sp_sock *s);
void sp__packet_read_stop(struct sp_sock *s);
int sp__packet_recv_once(struct sp_sock *s, size_t n, char *err, size_t errlen);

/* engine_wire.c: the wire view. */
struct sp__wire;
/* Watches a TCP socket (a listener: and what it accepts). 0, or < 0 with err. */
int sp__wire_watch(struct sp_sock *s, char *err, size_t errlen);
/* --wire at creation: sp__wire_watch(), any failure said in a notice (the
 * socket goes on without). */
void sp__wire_want(struct sp_sock *s);
/* l accepted s: watched too when l is. */
void sp__wire_accepted(struct sp_sock *l, struct sp_sock *s);
/* Stops watching; 1 if it was watched. */
int sp__wire_unwatch(struct sp_sock *s);
/* Frees what the wire view kept of s (its socket is being freed). */
void sp__wire_forget(struct sp_sock *s);
int sp__wire_info(struct sp_engine *eng, uint32_t id, struct sp_wire_info *out);
/* The engine is going: every capture closed. */
void sp__wire_free(struct sp_engine *eng);
/* TCP_MAXSEG on a new TCP descriptor when the engine has one set. */
void sp__wire_mss(struct sp_engine *eng, int fd);

/* engine_send.c */
void sp__echo(struct sp_sock *s, const unsigned char *p, size_t n, const struct sockaddr *to,
              socklen_t tolen);
/* Just before a close: the send events (and bytes_out) for what the kernel
 * already took of writes whose completion has not been reported yet. */
void sp__send_settle(struct sp_sock *s);
/* Bytes of sends not yet handed to the kernel (queued minus written). */
size_t sp__send_unwritten(struct sp_sock *s);
/* Drops every pending send (close): timers stopped, ops freed once their
 * writes come back. */
void sp__send_cancel_all(struct sp_sock *s);
/* Stops scheduling more repetitions (graceful close, shutdown); returns how
 * many repetitions will not be sent. */
uint64_t sp__send_stop_repeats(struct sp_sock *s);
int sp__send_busy(const struct sp_sock *s);

/* engine_tls.c: TLS through memory BIOs (tls.h). */
/* The TLS state of a connect or listen, made (options checked: a bad
 * --cert, --ca or --alpn fails here) before the socket is, then attached to
 * it, or discarded when making the socket failed. */
struct sp_tls *sp__tls_prepare(const struct sp_addr *addr, const struct sp_tls_opts *o,
                               int listener, char *err, size_t errlen);
void sp__tls_attach(struct sp_sock *s, struct sp_tls *t);
void sp__tls_discard(struct sp_tls *t);
/* A connection accepted by TLS listener l: its server side. */
void sp__tls_accepted(struct sp_sock *c, struct sp_sock *l);
/* The TCP connection is up: the client sends its ClientHello. */
void sp__tls_start(struct sp_sock *s);
/* Ciphertext read: records decoded, OpenSSL run, each plaintext read handed
 * to deliver. */
void sp__tls_recvd(struct sp_sock *s, const unsigned char *p, size_t n,
                   void (*deliver)(struct sp_sock *, const unsigned char *, size_t));
/* May plaintext be written (handshake done)? 1 for a plain socket. */
int sp__tls_ready(const struct sp_sock *s);
int sp__tls_handshaking(const struct sp_sock *s);
int sp__tls_insecure(const struct sp_sock *s);
/* Encrypts user's plaintext and writes the ciphertext through
 * engine_write.c; user completes (its on_call for each call, on_done once)
 * when that write does. */
int sp__tls_write(struct sp_sock *s, struct sp__write *user);
/* Sends close_notify (once the handshake is done, once). 1 when it waits
 * behind our queued writes: then(s) runs once it is written (if the socket
 * is still open); 0 when it was written at once or there was none. */
int sp__tls_close_notify(struct sp_sock *s, void (*then)(struct sp_sock *s));
/* From now on s sends no close_notify (shutdown and close send the FIN
 * alone): the relay passes a truncation on as one. */
void sp__tls_withhold_notify(struct sp_sock *s);
/* The peer's FIN: a truncation unless close_notify came first. */
void sp__tls_eof(struct sp_sock *s);
void sp__tls_close(struct sp_sock *s, int abortive);
void sp__tls_free(struct sp_sock *s);
/* "TLS handshake: ...", "TLSv1.3", ... or NULL for a plain socket. */
const char *sp__tls_state(const struct sp_sock *s, char *buf, size_t len);

/* engine_relay.c: a relay leg's plaintext read (a tls: leg's SSL_read
 * result, at plaintext stream offset off), what the relay forwards. */
void sp__relay_plain(struct sp_sock *s, const unsigned char *p, size_t n, uint64_t off);

/* engine_tlscache.c: the TLS client's sessions, one per key (a target and
 * the settings a session must not cross). put takes the caller's reference
 * and returns how many are kept; take hands one back (the caller's to free)
 * and forgets it, NULL when none (or it expired). */
size_t sp__tls_cache_put(struct sp_engine *eng, const char *key, struct ssl_session_st *sess);
struct ssl_session_st *sp__tls_cache_take(struct sp_engine *eng, const char *key);
void sp__tls_cache_free(struct sp_engine *eng);

/* engine_frame.c */
void sp__framer_set(struct sp_sock *s, const struct sp_frame_spec *spec);
void sp__framer_feed(struct sp_sock *s, const unsigned char *p, size_t n);
void sp__framer_finish(struct sp_sock *s);
/* A length error stopped decoding: chunks are raw until the next
 * sp__framer_set(); s->spec (what send encodes with) is unchanged. */
int sp__framer_lost(const struct sp_sock *s);
/* Frees the decoder state (the socket keeps its spec). */
void sp__framer_release(struct sp_sock *s);
void sp__framer_free(struct sp_sock *s);

#endif
