/* The public per-socket operations: creating sockets (with asynchronous name
 * resolution), reading controls, half-close, close and reset, and the
 * socket table and each socket's history as seen from outside. Nothing in
 * the engine calls back into this file. */
#include "engine_int.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kstate.h"

static struct sp_sock *lookup(struct sp_engine *eng, uint32_t id, char *err, size_t errlen)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL)
        sp__sock_missing(eng, id, err, errlen);
    return s;
}

static struct sp_sock *lookup_open(struct sp_engine *eng, uint32_t id, char *err, size_t errlen)
{
    struct sp_sock *s = lookup(eng, id, err, errlen);
    if (s != NULL && s->closed) {
        sp__seterr(err, errlen, "socket %u is closed", id);
        return NULL;
    }
    return s;
}

static enum sp_sock_kind listen_kind(const struct sp_addr *a)
{
    if (a->kind == SP_ADDR_UNIX_SEQPACKET)
        return SP_SOCK_SEQPACKET_LISTEN;
    return a->kind == SP_ADDR_TCP ? SP_SOCK_TCP_LISTEN : SP_SOCK_UNIX_LISTEN;
}

static enum sp_sock_kind connect_kind(const struct sp_addr *a)
{
    switch (a->kind) {
    case SP_ADDR_TCP:
        return SP_SOCK_TCP;
    case SP_ADDR_UDP:
        return SP_SOCK_UDP;
    case SP_ADDR_UNIX:
        return SP_SOCK_UNIX;
    case SP_ADDR_UNIX_SEQPACKET:
        return SP_SOCK_SEQPACKET;
    default:
        return SP_SOCK_UNIX_DGRAM;
    }
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct sp_sock *s = req->data;
    s->gai = NULL;
    s->resolving = 0;
    free(req);
    if (s->closed || s->eng->freeing) {
        uv_freeaddrinfo(res);
        return;
    }
    if (status < 0 || res == NULL) {
        sp__emit_error(s, "resolve", status < 0 ? status : UV_EAI_NONAME);
        uv_freeaddrinfo(res);
        sp__sock_close(s, "name not resolved", 0);
        return;
    }
    /* IPv4 first: "localhost" listeners are usually on 127.0.0.1, and we
     * try one address only. */
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, pick->ai_addr, pick->ai_addrlen);
    socklen_t len = pick->ai_addrlen;
    uv_freeaddrinfo(res);

    char err[256] = "";
    int r;
    const char *op;
    switch (s->gai_op) {
    case 'l':
        op = "listen";
        r = sp__stream_listen(s->eng, s, (struct sockaddr *)&ss, len, s->kind, s->backlog_opt, NULL,
                              NULL, err, sizeof err);
        break;
    case 'b':
        op = "bind";
        r = sp__dgram_bind(s->eng, s, (struct sockaddr *)&ss, len, s->kind, NULL, NULL, err,
                           sizeof err);
        break;
    default:
        op = "connect";
        if (s->kind == SP_SOCK_TCP)
            r = sp__stream_connect(s, (struct sockaddr *)&ss, len, err, sizeof err);
        else
            r = sp__dgram_connect(s, (struct sockaddr *)&ss, len, err, sizeof err);
        break;
    }
    if (r < 0 && !s->closed) {
        sp__emit_error(s, op, r);
        sp__sock_close(s, s->gai_op == 'c' ? "connect failed" : "bind failed", 0);
    }
}

/* Starts resolving addr's host name for the operation op on a new socket. */
static int resolve(struct sp_engine *eng, const struct sp_addr *addr, int op,
                   enum sp_sock_kind kind, const struct sp_sock_opts *opts, uint32_t *id, char *err,
                   size_t errlen)
{
    struct sp_prebind pre;
    int r = sp__prebind_fill(&pre, opts, err, errlen);
    if (r < 0)
        return r;
    struct sp_sock *s = sp__sock_new(eng, kind, opts);
    s->pre = pre;
    s->gai = sp_xmalloc(sizeof *s->gai);
    s->gai->data = s;
    s->gai_op = op;
    s->backlog_opt = opts != NULL && opts->backlog > 0 ? opts->backlog : SP_BACKLOG_DEFAULT;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)addr->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = addr->kind == SP_ADDR_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    r = uv_getaddrinfo(&eng->loop, s->gai, resolved, addr->host, port, &hints);
    if (r != 0) {
        free(s->gai);
        s->gai = NULL;
        sp__sock_discard(s);
        sp__seterr(err, errlen, "cannot resolve %.64s: %s", addr->host, uv_strerror(r));
        return r;
    }
    s->resolving = 1;
    char *text = op == 'c' ? s->peer : s->local;
    sp_addr_format(addr, text, SP_ADDR_TEXT_MAX);
    *(op == 'c' ? &s->peer_len : &s->local_len) = strlen(text);
    if (op == 'c') {
        s->connecting = 1;
        sp__sock_timer(s, SP_T_CONNECT, s->timeout_ms, sp__sock_connect_timeout);
    }
    if (id != NULL)
        *id = s->id;
    return 0;
}

/* Listens (a listener kind) or binds (a datagram kind) on an address that
 * needs no resolving; a Unix path goes through the stale-socket rule first. */
static int start_local(struct sp_engine *eng, const struct sp_addr *addr, enum sp_sock_kind kind,
                       int backlog, const struct sp_sock_opts *opts, uint32_t *id, char *err,
                       size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int r = sp__addr_to_sockaddr(addr, &ss, &len, err, errlen);
    if (r < 0)
        return r;
    int listener = sp_kind_is_listener(kind);
    int replaced = 0;
    if (sp_addr_is_unix(addr->kind)) {
        int type = addr->kind == SP_ADDR_UNIX_SEQPACKET ? SOCK_SEQPACKET
                   : listener                           ? SOCK_STREAM
                                                        : SOCK_DGRAM;
        r = sp__unix_prepare(addr, type, &replaced, err, errlen);
        if (r < 0)
            return r;
    }
    if (listener)
        r = sp__stream_listen(eng, NULL, (struct sockaddr *)&ss, len, kind, backlog, opts, id, err,
                              errlen);
    else
        r = sp__dgram_bind(eng, NULL, (struct sockaddr *)&ss, len, kind, opts, id, err, errlen);
    if (r == 0 && replaced)
        sp__emit_notice(sp__sock_get(eng, *id), "replaced a stale socket file");
    return r;
}

static int listen_plain(struct sp_engine *eng, const struct sp_addr *addr,
                        const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen)
{
    if (addr->kind != SP_ADDR_TCP && addr->kind != SP_ADDR_UNIX &&
        addr->kind != SP_ADDR_UNIX_SEQPACKET) {
        sp__seterr(err, errlen,
                   "listen needs a tcp:, unix: or unix-seqpacket: address (datagram sockets use "
                   "bind)");
        return -EINVAL;
    }
    int backlog = opts != NULL && opts->backlog > 0 ? opts->backlog : SP_BACKLOG_DEFAULT;
    if (addr->kind == SP_ADDR_TCP && addr->family == AF_UNSPEC &&
        strcmp(addr->host, "localhost") != 0)
        return resolve(eng, addr, 'l', SP_SOCK_TCP_LISTEN, opts, id, err, errlen);
    return start_local(eng, addr, listen_kind(addr), backlog, opts, id, err, errlen);
}

int sp_engine_bind(struct sp_engine *eng, const struct sp_addr *addr,
                   const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen)
{
    if (addr->kind == SP_ADDR_PACKET)
        return sp__packet_bind(eng, addr, opts, id, err, errlen);
    if (addr->kind != SP_ADDR_UDP && addr->kind != SP_ADDR_UNIX_DGRAM) {
        sp__seterr(err, errlen,
                   "bind needs a udp:, unix-dgram: or packet: address (stream sockets use "
                   "listen)");
        return -EINVAL;
    }
    enum sp_sock_kind kind = addr->kind == SP_ADDR_UDP ? SP_SOCK_UDP : SP_SOCK_UNIX_DGRAM;
    if (kind == SP_SOCK_UDP && addr->family == AF_UNSPEC && strcmp(addr->host, "localhost") != 0)
        return resolve(eng, addr, 'b', kind, opts, id, err, errlen);
    return start_local(eng, addr, kind, 0, opts, id, err, errlen);
}

static int connect_plain(struct sp_engine *eng, const struct sp_addr *addr,
                         const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen)
{
    if (addr->kind == SP_ADDR_PACKET) {
        sp__seterr(err, errlen, "a packet socket is not connected: bind packet:%s", addr->ifname);
        return -EINVAL;
    }
    enum sp_sock_kind kind = connect_kind(addr);
    int inet = addr->kind == SP_ADDR_TCP || addr->kind == SP_ADDR_UDP;
    if (inet && addr->family == AF_UNSPEC && strcmp(addr->host, "localhost") != 0)
        return resolve(eng, addr, 'c', kind, opts, id, err, errlen);
    struct sockaddr_storage ss;
    socklen_t len;
    int r = sp__addr_to_sockaddr(addr, &ss, &len, err, errlen);
    if (r < 0)
        return r;
    struct sp_prebind pre;
    if ((r = sp__prebind_fill(&pre, opts, err, errlen)) < 0)
        return r;
    struct sp_sock *s = sp__sock_new(eng, kind, opts);
    s->pre = pre;
    if (kind == SP_SOCK_SEQPACKET)
        r = sp__seqpacket_connect(s, (struct sockaddr *)&ss, len, err, errlen);
    else if (sp_kind_is_stream(kind))
        r = sp__stream_connect(s, (struct sockaddr *)&ss, len, err, errlen);
    else
        r = sp__dgram_connect(s, (struct sockaddr *)&ss, len, err, errlen);
    if (r < 0) {
        /* Nothing was created (no descriptor): the call changes nothing. */
        sp__sock_discard(s);
        return r;
    }
    if (id != NULL)
        *id = s->id;
    return 0;
}

/* A tls: address is a TCP socket with TLS attached once the socket exists.
 * The TLS settings are checked first: one that cannot work (a bad --cert,
 * --ca or --alpn) fails the call before anything is made. */
static int with_tls(struct sp_engine *eng, const struct sp_addr *addr,
                    const struct sp_sock_opts *opts, int listener, uint32_t *id, char *err,
                    size_t errlen)
{
    struct sp_tls *t = NULL;
    if (addr->tls) {
        t = sp__tls_prepare(addr, opts != NULL ? opts->tls : NULL, listener, err, errlen);
        if (t == NULL)
            return -EINVAL;
    }
    uint32_t made = 0;
    int r = listener ? listen_plain(eng, addr, opts, &made, err, errlen)
                     : connect_plain(eng, addr, opts, &made, err, errlen);
    if (r != 0) {
        sp__tls_discard(t);
        return r;
    }
    if (t != NULL)
        sp__tls_attach(sp__sock_get(eng, made), t);
    if (id != NULL)
        *id = made;
    return 0;
}

int sp_engine_listen(struct sp_engine *eng, const struct sp_addr *addr,
                     const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen)
{
    return with_tls(eng, addr, opts, 1, id, err, errlen);
}

int sp_engine_connect(struct sp_engine *eng, const struct sp_addr *addr,
                      const struct sp_sock_opts *opts, uint32_t *id, char *err, size_t errlen)
{
    return with_tls(eng, addr, opts, 0, id, err, errlen);
}

int sp_engine_set_framing(struct sp_engine *eng, uint32_t id, const struct sp_frame_spec *spec,
                          char *err, size_t errlen)
{
    struct sp_sock *s = lookup(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    sp__framer_set(s, spec);
    if (!s->closed) {
        char text[SP_FRAME_SPEC_TEXT_MAX], msg[SP_FRAME_SPEC_TEXT_MAX + 32];
        sp_frame_spec_format(spec, text, sizeof text);
        snprintf(msg, sizeof msg, "framing set to %s", text);
        sp__emit_notice(s, msg);
    }
    return 0;
}

int sp_engine_set_recvsize(struct sp_engine *eng, uint32_t id, size_t n, char *err, size_t errlen)
{
    struct sp_sock *s = lookup(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (n < 1 || n > SP_RECVSIZE_MAX) {
        sp__seterr(err, errlen, "recv size must be 1 .. %u bytes", SP_RECVSIZE_MAX);
        return -EINVAL;
    }
    s->recvsize = n;
    return 0;
}

int sp_engine_pause(struct sp_engine *eng, uint32_t id, char *err, size_t errlen)
{
    struct sp_sock *s = lookup_open(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (s->paused)
        return 0;
    s->paused = 1;
    sp__sock_read_stop(s);
    sp__emit_notice(s, sp_kind_is_listener(s->kind)
                           ? "accepting paused: connections wait in the backlog"
                           : "reading paused: data piles up in the kernel");
    return 0;
}

int sp_engine_resume(struct sp_engine *eng, uint32_t id, char *err, size_t errlen)
{
    struct sp_sock *s = lookup_open(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (!s->paused)
        return 0;
    if (sp__recv_cancel(s))
        sp__emit_notice(s, "the waiting recv was given up: reading resumed");
    s->paused = 0;
    int r = sp__sock_read_start(s);
    if (r < 0) {
        s->paused = 1;
        sp__seterr(err, errlen, "cannot resume reading: %s", uv_strerror(r));
        return r;
    }
    sp__emit_notice(s, sp_kind_is_listener(s->kind) ? "accepting resumed" : "reading resumed");
    return 0;
}

/* Flags that make no sense on the socket's kind are refused with the reason
 * (the kernel would accept some of them and do something else). */
static int recv_flags_fit(struct sp_sock *s, unsigned f, char *err, size_t errlen)
{
    const char *kind = sp_sock_kind_name(s->kind);
    if ((f & SP_RECV_OOB) && s->kind != SP_SOCK_TCP) {
        sp__seterr(err, errlen, "--oob: urgent data (MSG_OOB) is TCP's; socket %u is %s", s->id,
                   kind);
        return -EINVAL;
    }
    if ((f & SP_RECV_OOB) && (f & SP_RECV_WAITALL)) {
        sp__seterr(err, errlen, "--oob reads the one urgent byte: --waitall does not apply");
        return -EINVAL;
    }
    if ((f & SP_RECV_OOB) && sp__kstate_opt(sp__sock_fd(s), SOL_SOCKET, SO_OOBINLINE) == 1) {
        sp__seterr(err, errlen,
                   "--oob: socket %u has oobinline on: the urgent byte arrives in the stream, "
                   "read it with a plain recv",
                   s->id);
        return -EINVAL;
    }
    if ((f & SP_RECV_TRUNC) && !sp_kind_has_records(s->kind)) {
        sp__seterr(err, errlen,
                   "--trunc is for datagrams and records (the real length of a longer one); on a "
                   "%s stream "
                   "MSG_TRUNC would throw the bytes away",
                   kind);
        return -EINVAL;
    }
    if ((f & SP_RECV_WAITALL) && sp_kind_has_records(s->kind)) {
        sp__seterr(err, errlen,
                   "--waitall is for byte streams: a recv returns one datagram or record "
                   "(socket %u is %s)",
                   s->id, kind);
        return -EINVAL;
    }
    return 0;
}

int sp_engine_recvmsg(struct sp_engine *eng, uint32_t id, const struct sp_recv_req *req, char *err,
                      size_t errlen)
{
    struct sp_sock *s = lookup_open(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (sp_kind_is_listener(s->kind)) {
        sp__seterr(err, errlen, "socket %u is a listener", id);
        return -EINVAL;
    }
    if (!s->established || !s->handle_open) {
        sp__seterr(err, errlen, "socket %u is not connected yet", id);
        return -ENOTCONN;
    }
    if (!s->paused) {
        sp__seterr(err, errlen, "socket %u is reading: pause it first", id);
        return -EBUSY;
    }
    struct sp_recv_req r = *req;
    if (r.niov > SP_IOV_MAX) {
        sp__seterr(err, errlen, "at most %d buffers", SP_IOV_MAX);
        return -EINVAL;
    }
    size_t total = 0;
    for (size_t i = 0; i < r.niov; i++) {
        if (r.iov[i] == 0 || r.iov[i] > SP_RECVSIZE_MAX) {
            sp__seterr(err, errlen, "each buffer must be 1 .. %u bytes", SP_RECVSIZE_MAX);
            return -EINVAL;
        }
        total += r.iov[i];
    }
    if (r.niov == 0 && r.n == 0)
        r.n = s->recvsize;
    if (total > SP_RECVSIZE_MAX || r.n > SP_RECVSIZE_MAX) {
        sp__seterr(err, errlen, "recv size must be 1 .. %u bytes in all", SP_RECVSIZE_MAX);
        return -EINVAL;
    }
    if (sp_kind_is_stream(s->kind)) {
        if (s->peers & SP_PEER_FIN) {
            sp__seterr(err, errlen, "socket %u: the peer already finished sending (EOF)", id);
            return -EINVAL;
        }
        if (s->ours & SP_OURS_SHUT_RD) {
            sp__seterr(err, errlen, "socket %u: reading was shut down", id);
            return -EINVAL;
        }
    }
    if (s->kind == SP_SOCK_PACKET) {
        if (r.niov > 0 || r.flags != 0) {
            sp__seterr(err, errlen, "socket %u is a packet socket: its recv takes only N", id);
            return -EINVAL;
        }
        return sp__packet_recv_once(s, r.n, err, errlen);
    }
    int rc = recv_flags_fit(s, r.flags, err, errlen);
    if (rc != 0)
        return rc;
    return sp__recv_manual(s, &r, err, errlen);
}

int sp_engine_recv_once(struct sp_engine *eng, uint32_t id, size_t n, char *err, size_t errlen)
{
    struct sp_recv_req req;
    memset(&req, 0, sizeof req);
    req.n = n;
    int r = sp_engine_recvmsg(eng, id, &req, err, errlen);
    return r < 0 ? r : 0;
}

int sp_engine_recv_cancel(struct sp_engine *eng, uint32_t id)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    return s != NULL ? sp__recv_cancel(s) : 0;
}

int sp_engine_set_echo(struct sp_engine *eng, uint32_t id, int on, char *err, size_t errlen)
{
    struct sp_sock *s = lookup(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (s->kind == SP_SOCK_PACKET && on) {
        /* Every frame it sent back out would be one of the frames it sees. */
        sp__seterr(err, errlen, "socket %u: a packet socket does not echo", id);
        return -EINVAL;
    }
    s->echo = on != 0;
    /* On a listener, echo is every accepted connection's, present and future. */
    if (sp_kind_is_listener(s->kind))
        for (size_t i = 0; i < eng->nsocks; i++)
            if (eng->socks[i]->parent == s->id)
                eng->socks[i]->echo = s->echo;
    return 0;
}

int sp_engine_wire(struct sp_engine *eng, uint32_t id, int on, char *err, size_t errlen)
{
    struct sp_sock *s = on ? lookup_open(eng, id, err, errlen) : lookup(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (!on) {
        sp__wire_unwatch(s);
        return 0;
    }
    return sp__wire_watch(s, err, errlen);
}

int sp_engine_wire_info(struct sp_engine *eng, uint32_t id, struct sp_wire_info *out)
{
    return sp__wire_info(eng, id, out);
}

void sp_engine_set_wire_buffer(struct sp_engine *eng, int bytes)
{
    eng->wire_buffer = bytes > 0 ? bytes : 0;
}

void sp_engine_set_mss(struct sp_engine *eng, int mss)
{
    eng->mss = mss > 0 ? mss : 0;
}

int sp_engine_mss(const struct sp_engine *eng)
{
    return eng->mss;
}

int sp_engine_shutdown(struct sp_engine *eng, uint32_t id, enum sp_shut how, char *err,
                       size_t errlen)
{
    struct sp_sock *s = lookup_open(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (!sp_kind_is_stream(s->kind)) {
        sp__seterr(err, errlen, "shutdown applies to connected stream sockets (tcp, unix)");
        return -EINVAL;
    }
    if (!s->established) {
        sp__seterr(err, errlen, "socket %u is not connected yet", id);
        return -ENOTCONN;
    }
    return sp__stream_shutdown(s, how, err, errlen);
}

/* The SP_T_DRAIN timer fired: a graceful close gave up waiting for writes. */
static void drain_timeout(struct sp_sock *s)
{
    if (s->closed)
        return;
    sp__emit_notice(s, "queued data not written before the timeout: closing anyway");
    sp__sock_close(s, "closed by us", 0);
}

int sp_engine_close(struct sp_engine *eng, uint32_t id, char *err, size_t errlen)
{
    struct sp_sock *s = lookup_open(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    if (s->close_wanted)
        return 0;
    if (sp_kind_is_stream(s->kind) && s->established && sp__send_busy(s)) {
        /* close(2) would drop what libuv still holds: deliver it first. */
        s->close_wanted = 1;
        sp__send_stop_repeats(s);
        sp__sock_timer(s, SP_T_DRAIN, s->timeout_ms, drain_timeout);
        return 0;
    }
    sp__sock_close(s, "closed by us", 0);
    return 0;
}

int sp_engine_reset(struct sp_engine *eng, uint32_t id, char *err, size_t errlen)
{
    struct sp_sock *s = lookup_open(eng, id, err, errlen);
    if (s == NULL)
        return -ENOENT;
    sp__sock_close(s, "reset by us", 1);
    return 0;
}

void sp_engine_close_all(struct sp_engine *eng)
{
    for (size_t i = 0; i < eng->nsocks; i++)
        if (!eng->socks[i]->closed)
            sp_engine_close(eng, eng->socks[i]->id, NULL, 0);
}

int sp_engine_sock_info(struct sp_engine *eng, uint32_t id, struct sp_sock_info *out)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL)
        return -ENOENT;
    memset(out, 0, sizeof *out);
    out->id = s->id;
    out->parent = s->parent;
    out->kind = s->kind;
    memcpy(out->local, s->local, sizeof out->local);
    memcpy(out->peer, s->peer, sizeof out->peer);
    out->local_len = s->local_len;
    out->peer_len = s->peer_len;
    sp_frame_spec_format(&s->spec, out->framing, sizeof out->framing);
    out->spec = s->spec;
    out->decode_lost = sp__framer_lost(s);
    out->recvsize = s->recvsize;
    /* A TLS client is connecting until its handshake is done: `connect`
     * waits for it. */
    out->connecting = s->connecting || s->resolving || (sp__tls_handshaking(s) && s->parent == 0);
    out->open = !s->closed && s->handle_open;
    out->paused = s->paused;
    out->echo = s->echo;
    out->close_on_eof = s->close_on_eof;
    out->wildcard = s->wildcard;
    out->ours = s->ours;
    out->peers = s->peers;
    memcpy(out->tcp, s->tcp, sizeof out->tcp);
    /* Queue sizes belong to a descriptor: once it is closed the last poll
     * would be stale, so they are unknown. */
    out->unread = out->open ? s->unread : -1;
    out->unsent = out->open ? s->unsent : -1;
    out->queued = s->queued;
    out->bytes_in = s->bytes_in;
    out->bytes_out = s->bytes_out;
    out->chunks = s->chunks;
    out->msgs = s->msgs;
    out->sends = s->sends;
    out->accepted = s->accepted;
    memcpy(out->close_reason, s->close_reason, sizeof out->close_reason);
    sp__tls_state(s, out->tls, sizeof out->tls);
    out->tls_insecure = sp__tls_insecure(s);
    return 0;
}

int sp_engine_keeps_history(const struct sp_engine *eng)
{
    return eng->opts.keep_history && eng->opts.keep_data;
}

uint64_t sp_hist_begin(struct sp_engine *eng, uint32_t id)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    return s != NULL ? sp__hist_begin(s->hist) : 0;
}

uint64_t sp_hist_end(struct sp_engine *eng, uint32_t id)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    return s != NULL ? sp__hist_end(s->hist) : 0;
}

int sp_hist_get(struct sp_engine *eng, uint32_t id, uint64_t idx, struct sp_event *out)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    return s != NULL ? sp__hist_get(s->hist, idx, out) : -1;
}

int sp_hist_dropped(struct sp_engine *eng, uint32_t id, struct sp_event *out)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    uint64_t n = s != NULL ? sp__hist_begin(s->hist) : 0;
    if (n == 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->type = SP_EV_DROPPED;
    out->sock = s->id;
    out->parent = s->parent;
    out->kind = s->kind;
    out->unread = -1;
    out->dropped = n;
    return 0;
}
