/* TLS on stream sockets with OpenSSL 3 and two memory BIOs (tls.h). The
 * descriptor stays the engine's: what one read(2) returned is handed here
 * after its `recv` event, written into the read BIO and decoded record by
 * record for the view; what OpenSSL puts in the write BIO is written with
 * uv_write like any other bytes. OpenSSL's callbacks only take notes: events
 * are emitted after each OpenSSL call returns, so a subscriber that closes
 * the socket never does so from inside OpenSSL. */
#include "engine_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sockpit/engine/tls.h"
#include "sockpit/proto/tlsrec.h"

/* Notes taken inside OpenSSL calls, emitted once the call returned. */
#define NOTES_MAX 16
#define NOTE_LEN  256

struct note {
    char code[24];
    char text[NOTE_LEN];
};

struct sp_tls {
    struct sp_sock *s;
    SSL_CTX *ctx; /* ours to free (a listener's is shared by its connections' SSLs) */
    SSL *ssl;     /* connections only */
    BIO *rbio, *wbio;
    unsigned server : 1, listener : 1, hs_done : 1, failed : 1, insecure : 1;
    unsigned notify_sent : 1, notify_rcvd : 1, in_ssl : 1, truncated : 1, fatal_alert : 1;
    /* sp__sock_close is saying goodbye: the socket is marked closed, and
     * what it sends now is still reported, before the `closed` event. */
    unsigned closing : 1;
    /* Client resumption: sessions are not offered (--no-resume); one was
     * offered; the server gave us one during this connection. */
    unsigned no_resume : 1, offered : 1, kept : 1;
    /* No close_notify from us: a relay passes on its other leg's truncation. */
    unsigned withhold : 1, withheld_said : 1;
    char *cache_key;                   /* the session cache's key of this target and settings */
    char target[SP_ADDR_HOST_MAX + 8]; /* "host:port", for what we say */
    struct sp_tlsrec_dec din, dout;
    uint64_t wchunks; /* ciphertext writes */
    char host[SP_ADDR_HOST_MAX];
    char sni[SP_ADDR_HOST_MAX]; /* the server name sent, "" for none */
    int literal;                /* host is an IP address */
    char keylog[SP_ADDR_PATH_MAX * 4];
    char alpn_offer[128];
    char fingerprint[100]; /* a listener's throwaway certificate */
    char why[64];          /* why the handshake failed, for the close reason */
    char alert_in[40];     /* the last fatal alert received */
    struct note notes[NOTES_MAX];
    size_t nnotes, notes_lost;
};

/* One write of ciphertext through engine_write.c; its bytes live until it
 * is done. One that carries a send's plaintext completes that send's write
 * (user) when it is done; our close_notify's runs `then` (the FIN). */
struct tls_wreq {
    struct sp__write w;
    struct iovec iov;
    struct sp__write *user;
    struct sp_engine *eng;
    uint32_t sock;
    void (*then)(struct sp_sock *s);
    unsigned char data[];
};

static void tls_destroy(struct sp_tls *t);
static void note(struct sp_tls *t, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct sp_tls *t, const char *code, const char *fmt, ...)
{
    if (t->nnotes == NOTES_MAX) {
        t->notes_lost++;
        return;
    }
    struct note *n = &t->notes[t->nnotes++];
    snprintf(n->code, sizeof n->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->text, sizeof n->text, fmt, ap);
    va_end(ap);
}

static void emit_tls(struct sp_sock *s, const char *code, const char *text)
{
    if (!sp__wants(s->eng, SP_EV_TLS))
        return;
    struct sp_event ev = {.type = SP_EV_TLS, .unread = -1};
    ev.code = code;
    ev.message = text;
    sp__emit(s->eng, s, &ev);
}

static void emit_notes(struct sp_tls *t)
{
    for (size_t i = 0; i < t->nnotes && (!t->s->closed || t->closing); i++)
        emit_tls(t->s, t->notes[i].code, t->notes[i].text);
    if (t->notes_lost > 0 && (!t->s->closed || t->closing)) {
        char msg[96];
        snprintf(msg, sizeof msg, "%zu more reports from this OpenSSL call not shown",
                 t->notes_lost);
        emit_tls(t->s, "notes_lost", msg);
    }
    t->nnotes = 0;
    t->notes_lost = 0;
}

static struct sp_tls *tls_of(const SSL *ssl)
{
    struct sp_sock *s = SSL_get_app_data(ssl);
    return s != NULL ? s->tls : NULL;
}

/* OpenSSL's reason for the last failure, and clears its error queue. */
static void ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) {
        snprintf(buf, len, "no reason given by OpenSSL");
    } else {
        const char *r = ERR_reason_error_string(e);
        snprintf(buf, len, "%s", r != NULL ? r : "unknown OpenSSL error");
    }
    ERR_clear_error();
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct sp_tls *t = tls_of(ssl);
    if (t == NULL || !(where & SSL_CB_ALERT))
        return;
    int level = ret >> 8, desc = ret & 0xff;
    const char *ln = sp_tls_alert_level_name(level), *dn = sp_tls_alert_name(desc);
    int read = (where & SSL_CB_READ) != 0;
    if (desc == 0 && read)
        return; /* close_notify received: reported when SSL_read says so */
    if (desc == 0)
        return; /* ours: reported once the kernel took it */
    if (level == 2)
        t->fatal_alert = 1;
    if (read && level == 2)
        snprintf(t->alert_in, sizeof t->alert_in, "alert %s", dn ? dn : "unknown");
    note(t, "alert", "%s %s alert %s (%d)", read ? "received a" : "sent a",
         ln ? ln : "unknown-level", dn ? dn : "unknown", desc);
}

/* What OpenSSL read and wrote inside the records, decrypted: each handshake
 * message by type. In TLS 1.3 most of them travel in application_data
 * records, which the record decoder can only call encrypted; OpenSSL has
 * the keys and says what was in them. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    (void)version;
    (void)arg;
    struct sp_tls *t = tls_of(ssl);
    if (t == NULL || content_type != SSL3_RT_HANDSHAKE || len < 4)
        return;
    const unsigned char *p = buf;
    const char *name = sp_tls_hs_name(p[0]);
    char other[32];
    if (name == NULL) {
        snprintf(other, sizeof other, "handshake_type_%u", p[0]);
        name = other;
    }
    note(t, "message", "%s %s (%zu bytes, as OpenSSL %s it)", write_p ? "sent" : "received", name,
         len, write_p ? "wrote" : "read");
}

static void keylog_cb(const SSL *ssl, const char *line)
{
    struct sp_tls *t = tls_of(ssl);
    if (t == NULL || t->keylog[0] == '\0')
        return;
    int fd = open(t->keylog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t n = strlen(line);
    char *buf = sp_xmalloc(n + 1);
    memcpy(buf, line, n);
    buf[n] = '\n';
    ssize_t w = write(fd, buf, n + 1);
    (void)w;
    free(buf);
    close(fd);
}

/* The server gave us a session (a TLS 1.3 NewSessionTicket, or a TLS 1.2
 * session at the end of the handshake): kept for the next connect to the
 * same target. Returns 1: the cache holds the reference. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct sp_tls *t = tls_of(ssl);
    if (t == NULL || t->cache_key == NULL || t->s == NULL || t->s->eng->freeing)
        return 0;
    size_t n = sp__tls_cache_put(t->s->eng, t->cache_key, sess);
    t->kept = 1;
    note(t, "session_kept",
         "the server gave us a session (%s, lifetime %lds): kept to offer on the next connect to "
         "%s (%zu kept)",
         SSL_version(ssl) >= TLS1_3_VERSION ? "NewSessionTicket" : "TLS 1.2 session",
         (long)SSL_SESSION_get_timeout(sess), t->target, n);
    return 1;
}

/* A record of one direction decoded: its tls_record event. */
static void record_event(struct sp_tls *t, const struct sp_tlsrec *rec, int out)
{
    struct sp_sock *s = t->s;
    if ((s->closed && !t->closing) || !sp__wants(s->eng, SP_EV_TLS_RECORD))
        return;
    char what[160];
    sp_tlsrec_describe(rec, what, sizeof what);
    struct sp_event ev = {.type = SP_EV_TLS_RECORD, .unread = -1};
    sp_tlsrec_to_event(rec, &ev);
    ev.tls_out = out;
    ev.summary = what;
    if (rec->error != NULL) {
        char msg[sizeof what + 64];
        snprintf(msg, sizeof msg, "%s: record decoding stopped (OpenSSL still decides)", what);
        ev.summary = msg;
        sp__emit(s->eng, s, &ev);
        return;
    }
    sp__emit(s->eng, s, &ev);
}

static void on_record_in(void *ud, const struct sp_tlsrec *rec)
{
    record_event(ud, rec, 0);
}

static void on_record_out(void *ud, const struct sp_tlsrec *rec)
{
    record_event(ud, rec, 1);
}

/* Each call that wrote ciphertext for a send is that send's call. */
static void tls_on_call(struct sp__write *w, int64_t ret)
{
    struct tls_wreq *r = (struct tls_wreq *)w;
    if (r->user != NULL && r->user->on_call != NULL) {
        r->user->calls++;
        r->user->on_call(r->user, ret);
    }
}

static void tls_on_done(struct sp__write *w, int status)
{
    struct tls_wreq *r = (struct tls_wreq *)w;
    if (r->user != NULL) {
        /* The plaintext counts as taken once every byte of its records
         * is: a part of a record carries nothing the peer can read. */
        r->user->done = w->done == w->len ? r->user->len : 0;
        r->user->err = status;
        r->user->on_done(r->user, status);
    }
    if (r->then != NULL) {
        struct sp_sock *s = sp__sock_get(r->eng, r->sock);
        if (s != NULL && !s->closed) {
            if (status == 0)
                emit_tls(s, "close_notify_sent", "we sent close_notify: we will send no more data");
            else
                emit_tls(s, "close_notify_failed", "our close_notify could not be sent");
            r->then(s);
        }
    }
    free(r);
}

/* Writes what OpenSSL put in the write BIO, as one write behind the ones
 * queued before it (completing user, or running then, when it is done).
 * Returns 0 or an error; *out (when given) is the write, which the caller
 * may look at until the loop runs again. */
static int flush_ex(struct sp_tls *t, struct sp__write *user, void (*then)(struct sp_sock *),
                    struct tls_wreq **out)
{
    struct sp_sock *s = t->s;
    size_t n = BIO_ctrl_pending(t->wbio);
    if (n == 0 && user == NULL)
        return 0;
    struct tls_wreq *r = sp_xcalloc(1, sizeof *r + (n > 0 ? n : 1));
    r->user = user;
    r->then = then;
    r->eng = s->eng;
    r->sock = s->id;
    if (n > 0 && BIO_read(t->wbio, r->data, (int)n) != (int)n) {
        free(r);
        return UV_EIO;
    }
    if (!s->handle_open) {
        free(r);
        return UV_EBADF;
    }
    r->iov.iov_base = r->data;
    r->iov.iov_len = n;
    r->w.iov = &r->iov;
    r->w.iovcnt = 1;
    r->w.on_call = tls_on_call;
    r->w.on_done = tls_on_done;
    if (user != NULL)
        user->calls = 0;
    int e = sp__write_push(s, &r->w);
    if (e != 0) {
        free(r);
        return e;
    }
    if (out != NULL)
        *out = r;
    if (n > 0) {
        t->wchunks++;
        sp_tlsrec_feed(&t->dout, r->data, n);
    }
    return 0;
}

static int flush(struct sp_tls *t)
{
    return flush_ex(t, NULL, NULL, NULL);
}

/* Flushes OpenSSL's output; a failure to write ends the socket. */
static void flush_or_fail(struct sp_tls *t)
{
    int e = flush(t);
    if (e != 0 && !t->s->closed) {
        sp__emit_error(t->s, "write", e);
        sp__sock_close(t->s, "TLS write failed", 0);
    }
}

static const char *verify_kind(long v)
{
    switch (v) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return "wrong host name";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return "unknown CA";
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return "expired certificate";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return "certificate not yet valid";
    default:
        return "verify failure";
    }
}

/* Whether the session was resumed, as OpenSSL saw the handshake go
 * (SSL_session_reused): a client says what it offered and whether the
 * server accepted it. */
static void resumption(const struct sp_tls *t, char *buf, size_t len)
{
    int reused = SSL_session_reused(t->ssl);
    if (t->server)
        snprintf(buf, len, "%s",
                 reused ? "session resumed (the client's offer accepted)" : "session new");
    else if (reused)
        snprintf(buf, len, "session resumed (the server accepted the session we offered)");
    else if (t->offered)
        snprintf(buf, len,
                 "session new (the server refused the session we offered: a full "
                 "handshake)");
    else if (t->no_resume)
        snprintf(buf, len, "session new (--no-resume: none offered)");
    else
        snprintf(buf, len, "session new (none to offer)");
}

/* The handshake's result in words: version, cipher, ALPN, resumption,
 * verification. */
static void summary(struct sp_tls *t, char *buf, size_t len)
{
    SSL *ssl = t->ssl;
    const unsigned char *alpn = NULL;
    unsigned alen = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alen);
    char alpn_text[200];
    if (alen > 0)
        snprintf(alpn_text, sizeof alpn_text, "ALPN %.*s", (int)alen, (const char *)alpn);
    else if (t->alpn_offer[0] != '\0')
        snprintf(alpn_text, sizeof alpn_text, "no ALPN agreed (offered %s)", t->alpn_offer);
    else
        snprintf(alpn_text, sizeof alpn_text, "no ALPN");
    char verify[200] = "";
    if (!t->server) {
        long v = SSL_get_verify_result(ssl);
        if (v == X509_V_OK && SSL_session_reused(ssl))
            snprintf(verify, sizeof verify,
                     ", verify ok (when the session was made: a resumption carries no "
                     "certificate)");
        else if (v == X509_V_OK)
            snprintf(verify, sizeof verify, ", verify ok");
        else
            snprintf(verify, sizeof verify, ", verify FAILED (%s: %s)%s", verify_kind(v),
                     X509_verify_cert_error_string(v),
                     t->insecure ? " - not enforced: --insecure" : "");
    } else if (SSL_get0_peer_certificate(ssl) != NULL) {
        long v = SSL_get_verify_result(ssl);
        snprintf(verify, sizeof verify, ", client certificate %s",
                 v == X509_V_OK ? "verified" : X509_verify_cert_error_string(v));
    }
    char sess[160];
    resumption(t, sess, sizeof sess);
    snprintf(buf, len, "%s %s, %s, %s%s", SSL_get_version(ssl),
             SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)), alpn_text, sess, verify);
}

/* A resumed TLS 1.2 session stays good for the next connect, and no new
 * one comes (TLS 1.3 sends fresh tickets instead). */
static void keep_resumed(struct sp_tls *t)
{
    if (t->server || t->cache_key == NULL || t->kept || !SSL_session_reused(t->ssl) ||
        SSL_version(t->ssl) >= TLS1_3_VERSION)
        return;
    SSL_SESSION *sess = SSL_get1_session(t->ssl);
    if (sess != NULL)
        sp__tls_cache_put(t->s->eng, t->cache_key, sess);
}

/* The handshake failed: say why as plainly as OpenSSL lets us. */
static void handshake_failed(struct sp_tls *t)
{
    char reason[160];
    ssl_reason(reason, sizeof reason);
    long v = t->server ? X509_V_OK : SSL_get_verify_result(t->ssl);
    t->failed = 1;
    snprintf(t->why, sizeof t->why, "TLS handshake failed: %s",
             v != X509_V_OK   ? verify_kind(v)
             : t->alert_in[0] ? t->alert_in
                              : "see the tls event");
    if (v != X509_V_OK)
        note(t, "verify_failed", "certificate verification failed: %s (%s)%s", verify_kind(v),
             X509_verify_cert_error_string(v),
             v == X509_V_ERR_HOSTNAME_MISMATCH ? ": the certificate is not for this host" : "");
    else
        note(t, "handshake_failed", "TLS handshake failed: %s", reason);
}

/* Runs OpenSSL on what it has. 0 to go on, -1 when the socket ended. */
static int pump(struct sp_tls *t, void (*deliver)(struct sp_sock *, const unsigned char *, size_t))
{
    struct sp_sock *s = t->s;
    if (!t->hs_done && !t->failed) {
        t->in_ssl = 1;
        int r = SSL_do_handshake(t->ssl);
        int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        t->in_ssl = 0;
        if (r == 1) {
            t->hs_done = 1;
            keep_resumed(t);
            char sum[600];
            summary(t, sum, sizeof sum);
            note(t, "handshake_done", "%s", sum);
        } else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            handshake_failed(t);
        }
        flush_or_fail(t);
        emit_notes(t);
        if (t->failed && !s->closed)
            sp__sock_close(s, t->why[0] ? t->why : "TLS handshake failed", 0);
        if (s->closed)
            return -1;
    }
    if (!t->hs_done)
        return 0;
    unsigned char buf[16384];
    for (int i = 0; i < 1024 && !s->closed && !t->notify_rcvd; i++) {
        t->in_ssl = 1;
        int r = SSL_read(t->ssl, buf, sizeof buf);
        int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
        t->in_ssl = 0;
        flush_or_fail(t);
        emit_notes(t);
        if (s->closed)
            return -1;
        if (r > 0 && deliver != NULL) {
            deliver(s, buf, (size_t)r);
            continue;
        }
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            t->notify_rcvd = 1;
            emit_tls(s, "close_notify",
                     "the peer sent close_notify: a clean end of its data (TCP FIN may follow)");
            break;
        }
        char reason[160];
        ssl_reason(reason, sizeof reason);
        t->failed = 1;
        char msg[200];
        snprintf(msg, sizeof msg, "TLS error: %s", reason);
        emit_tls(s, "error", msg);
        if (!s->closed)
            sp__sock_close(s, "TLS error", 0);
        return -1;
    }
    return s->closed ? -1 : 0;
}

void sp__tls_recvd(struct sp_sock *s, const unsigned char *p, size_t n,
                   void (*deliver)(struct sp_sock *, const unsigned char *, size_t))
{
    struct sp_tls *t = s->tls;
    if (t == NULL || t->ssl == NULL)
        return;
    sp_tlsrec_feed(&t->din, p, n);
    if (!s->closed && !t->failed && !t->notify_rcvd) {
        BIO_write(t->rbio, p, (int)n);
        pump(t, deliver);
    }
}

void sp__tls_start(struct sp_sock *s)
{
    struct sp_tls *t = s->tls;
    if (t == NULL || t->ssl == NULL || s->closed)
        return;
    emit_tls(s, "handshake",
             t->server    ? "waiting for the ClientHello"
             : t->offered ? "sending the ClientHello, offering the session an earlier connection "
                            "to this target was given (resumption)"
                          : "sending the ClientHello");
    if (!s->closed)
        pump(t, NULL);
}

int sp__tls_ready(const struct sp_sock *s)
{
    return s->tls == NULL || s->tls->hs_done;
}

int sp__tls_write(struct sp_sock *s, struct sp__write *user)
{
    struct sp_tls *t = s->tls;
    if (!t->hs_done || t->failed)
        return UV_ENOTCONN;
    user->len = 0;
    for (int i = 0; i < user->iovcnt; i++) {
        size_t len = user->iov[i].iov_len;
        user->len += len;
        if (len == 0)
            continue;
        size_t done = 0;
        t->in_ssl = 1;
        int ok = SSL_write_ex(t->ssl, user->iov[i].iov_base, len, &done);
        t->in_ssl = 0;
        if (!ok || done != len) {
            char reason[160];
            ssl_reason(reason, sizeof reason);
            note(t, "error", "SSL_write failed: %s", reason);
            emit_notes(t);
            return UV_EPROTO;
        }
    }
    user->done = 0;
    user->err = 0;
    int e = flush_ex(t, user, NULL, NULL);
    emit_notes(t);
    return e;
}

int sp__tls_close_notify(struct sp_sock *s, void (*then)(struct sp_sock *s))
{
    struct sp_tls *t = s->tls;
    if (t == NULL || t->ssl == NULL || !t->hs_done || t->failed || t->notify_sent || t->in_ssl)
        return 0;
    if (t->withhold) {
        if (!t->withheld_said) {
            t->withheld_said = 1;
            emit_tls(s, "close_notify_withheld",
                     "no close_notify from us: the relay passes on its other leg's truncation "
                     "(the FIN goes alone)");
        }
        return 0;
    }
    /* After the peer's reset there is no connection to say goodbye on. */
    if (s->peers & (SP_PEER_RST | SP_PEER_RST_WAITING))
        return 0;
    t->in_ssl = 1;
    SSL_shutdown(t->ssl);
    t->in_ssl = 0;
    ERR_clear_error();
    t->notify_sent = 1;
    struct tls_wreq *r = NULL;
    int e = flush_ex(t, NULL, then, &r);
    emit_notes(t);
    if (e != 0 || r == NULL)
        return 0;
    if (r->w.err != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "our close_notify could not be sent: %s", strerror(-r->w.err));
        emit_tls(s, "close_notify_failed", msg);
        r->then = NULL;
        return 0;
    }
    if (r->w.done == r->w.len) {
        /* The kernel took it at once; then runs from the loop. */
        emit_tls(s, "close_notify_sent", "we sent close_notify: we will send no more data");
        r->then = NULL;
        return 0;
    }
    if (then == NULL) {
        /* Closing: the close cancels what is still queued, this too. */
        emit_tls(s, "close_notify_dropped",
                 "our close_notify was queued behind unsent writes: the close drops it, the peer "
                 "sees no close_notify");
        return 0;
    }
    char msg[160];
    snprintf(msg, sizeof msg,
             "close_notify queued behind %zu unsent bytes of ours: the FIN waits for it",
             sp__write_pending(s) - (r->w.len - r->w.done));
    emit_tls(s, "close_notify_queued", msg);
    return 1;
}

void sp__tls_withhold_notify(struct sp_sock *s)
{
    if (s->tls != NULL)
        s->tls->withhold = 1;
}

void sp__tls_eof(struct sp_sock *s)
{
    struct sp_tls *t = s->tls;
    if (t == NULL || t->ssl == NULL || t->failed)
        return;
    t->truncated = !t->notify_rcvd;
    if (!t->hs_done)
        emit_tls(s, "truncated",
                 "the peer closed TCP (FIN) in the middle of the handshake: no TLS session");
    else if (!t->notify_rcvd)
        emit_tls(s, "truncated",
                 "the peer closed TCP (FIN) without close_notify: its data may be cut short, an "
                 "application must treat this as an error (truncation)");
}

void sp__tls_close(struct sp_sock *s, int abortive)
{
    struct sp_tls *t = s->tls;
    if (t == NULL)
        return;
    /* A graceful close says goodbye at the TLS level first. */
    if (!abortive && s->handle_open) {
        t->closing = 1;
        sp__tls_close_notify(s, NULL);
        t->closing = 0;
    }
}

static void tls_destroy(struct sp_tls *t)
{
    if (t->ssl != NULL)
        SSL_free(t->ssl); /* frees both BIOs */
    SSL_CTX_free(t->ctx);
    free(t->cache_key);
    free(t);
}

void sp__tls_free(struct sp_sock *s)
{
    struct sp_tls *t = s->tls;
    if (t == NULL)
        return;
    s->tls = NULL;
    tls_destroy(t);
}

/* "h2,http/1.1" in ALPN wire format (length-prefixed). -1 if malformed. */
static int alpn_wire(const char *list, unsigned char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    const char *p = list;
    while (*p != '\0') {
        const char *c = strchr(p, ',');
        size_t k = c != NULL ? (size_t)(c - p) : strlen(p);
        if (k == 0 || k > 255 || n + 1 + k > cap)
            return -1;
        out[n++] = (unsigned char)k;
        memcpy(out + n, p, k);
        n += k;
        p += k;
        if (*p == ',')
            p++;
    }
    *len = n;
    return n > 0 ? 0 : -1;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    struct sp_tls *t = tls_of(ssl);
    unsigned char wire[256];
    size_t wlen;
    if (t == NULL || alpn_wire(t->alpn_offer, wire, sizeof wire, &wlen) != 0)
        return SSL_TLSEXT_ERR_NOACK;
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, wire, (unsigned)wlen, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        note(t, "alpn_mismatch", "the client offered no protocol of ours (%s)", t->alpn_offer);
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    /* sel points into wire (ours first): find the same bytes in the
     * client's list, which outlives this callback. */
    for (unsigned i = 0; i < inlen;) {
        unsigned k = in[i];
        if (k == *outlen && i + 1 + k <= inlen && memcmp(in + i + 1, sel, k) == 0) {
            *out = in + i + 1;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + k;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* A throwaway self-signed certificate for localhost, made in memory. */
static int self_signed(struct sp_tls *t, char *err, size_t errlen)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int ok = pkey != NULL && x != NULL;
    if (ok) {
        unsigned char serial[8];
        RAND_bytes(serial, sizeof serial);
        serial[0] &= 0x7f;
        BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
        ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
        BN_free(bn);
    }
    if (ok) {
        X509_set_version(x, 2);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 7L * 24 * 3600);
        X509_set_pubkey(x, pkey);
        X509_NAME *name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                   -1, 0);
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)"sockpit throwaway", -1, -1, 0);
        X509_set_issuer_name(x, name);
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
                                                  "DNS:localhost,IP:127.0.0.1,IP:::1");
        ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
        X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(x, pkey, EVP_sha256()) > 0 && SSL_CTX_use_certificate(t->ctx, x) == 1 &&
         SSL_CTX_use_PrivateKey(t->ctx, pkey) == 1;
    if (ok) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        X509_digest(x, EVP_sha256(), md, &mdlen);
        size_t at = 0;
        for (unsigned i = 0; i < mdlen && at + 4 < sizeof t->fingerprint; i++)
            at += (size_t)snprintf(t->fingerprint + at, sizeof t->fingerprint - at, "%s%02X",
                                   i ? ":" : "", md[i]);
    } else {
        char reason[160];
        ssl_reason(reason, sizeof reason);
        sp__seterr(err, errlen, "cannot make a self-signed certificate: %s", reason);
    }
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ok ? 0 : -1;
}

/* A file named by an option can be read: OpenSSL's own reason for a
 * missing file is only "system lib". */
static int readable(const char *opt, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        sp__seterr(err, errlen, "%s %.200s: %s", opt, path, strerror(e));
        return -1;
    }
    fclose(f);
    return 0;
}

static int load_cert(struct sp_tls *t, const struct sp_tls_opts *o, char *err, size_t errlen)
{
    if (o->cert == NULL && o->key == NULL)
        return 0;
    if (o->cert == NULL || o->key == NULL) {
        sp__seterr(err, errlen, "--cert and --key go together");
        return -1;
    }
    if (readable("--cert", o->cert, err, errlen) != 0 ||
        readable("--key", o->key, err, errlen) != 0)
        return -1;
    char reason[160];
    if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert) != 1) {
        ssl_reason(reason, sizeof reason);
        sp__seterr(err, errlen, "--cert %.200s: %s", o->cert, reason);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(reason, sizeof reason);
        sp__seterr(err, errlen, "--key %.200s: %s", o->key, reason);
        return -1;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        ssl_reason(reason, sizeof reason);
        sp__seterr(err, errlen, "--key does not match --cert: %s", reason);
        return -1;
    }
    return 0;
}

static struct sp_tls *tls_new(const struct sp_tls_opts *o, int server, char *err, size_t errlen)
{
    struct sp_tls *t = sp_xcalloc(1, sizeof *t);
    t->server = server != 0;
    t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (t->ctx == NULL) {
        sp__seterr(err, errlen, "OpenSSL: cannot make a TLS context");
        free(t);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_info_callback(t->ctx, info_cb);
    SSL_CTX_set_msg_callback(t->ctx, msg_cb);
    const char *kl = o->keylog != NULL ? o->keylog : getenv("SSLKEYLOGFILE");
    if (kl != NULL && kl[0] != '\0') {
        snprintf(t->keylog, sizeof t->keylog, "%s", kl);
        SSL_CTX_set_keylog_callback(t->ctx, keylog_cb);
    }
    if (o->alpn != NULL) {
        unsigned char wire[256];
        size_t wlen;
        if (strlen(o->alpn) >= sizeof t->alpn_offer ||
            alpn_wire(o->alpn, wire, sizeof wire, &wlen) != 0) {
            sp__seterr(err, errlen, "bad --alpn \"%.80s\": comma-separated names of 1-255 bytes",
                       o->alpn);
            tls_destroy(t);
            return NULL;
        }
        snprintf(t->alpn_offer, sizeof t->alpn_offer, "%s", o->alpn);
    }
    if (load_cert(t, o, err, errlen) != 0) {
        SSL_CTX_free(t->ctx);
        free(t);
        return NULL;
    }
    return t;
}

/* The SSL of one connection, its BIOs and record decoders. */
static void tls_attach(struct sp_tls *t, struct sp_sock *s)
{
    t->s = s;
    s->tls = t;
    t->ssl = SSL_new(t->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    /* An empty read BIO means "wait for more", not EOF. */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_app_data(t->ssl, s);
    sp_tlsrec_init(&t->din, on_record_in, t);
    sp_tlsrec_init(&t->dout, on_record_out, t);
}

/* The client side: trust, verification, and what the ClientHello carries. */
static int client_prepare(struct sp_tls *t, const struct sp_addr *addr, const struct sp_tls_opts *o,
                          char *err, size_t errlen)
{
    t->insecure = o->insecure != 0;
    if (o->ca != NULL) {
        if (readable("--ca", o->ca, err, errlen) != 0)
            return -1;
        if (SSL_CTX_load_verify_locations(t->ctx, o->ca, NULL) != 1) {
            char reason[160];
            ssl_reason(reason, sizeof reason);
            sp__seterr(err, errlen, "--ca %.200s: %s", o->ca, reason);
            return -1;
        }
    } else {
        SSL_CTX_set_default_verify_paths(t->ctx);
    }
    SSL_CTX_set_verify(t->ctx, t->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    snprintf(t->host, sizeof t->host, "%s", addr->host);
    unsigned char ip[16];
    t->literal =
        inet_pton(AF_INET, addr->host, ip) == 1 || inet_pton(AF_INET6, addr->host, ip) == 1;
    const char *sni = o->sni != NULL ? o->sni : t->literal ? NULL : addr->host;
    if (!o->no_sni && sni != NULL)
        snprintf(t->sni, sizeof t->sni, "%s", sni);
    snprintf(t->target, sizeof t->target, strchr(addr->host, ':') ? "[%s]:%u" : "%s:%u", addr->host,
             addr->port);
    /* Everything a session must not be carried across is in its key. */
    struct sp_buf key;
    sp_buf_init(&key);
    sp_buf_appendf(&key, "%s\n%s\n%s\n%s\n%d\n%s\n%s", t->target, t->sni, t->alpn_offer,
                   o->ca != NULL ? o->ca : "", t->insecure, o->cert != NULL ? o->cert : "",
                   o->key != NULL ? o->key : "");
    t->cache_key = sp_xstrdup(sp_buf_str(&key));
    sp_buf_cleanup(&key);
    t->no_resume = o->no_resume != 0;
    SSL_CTX_set_session_cache_mode(t->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->ctx, new_session_cb);
    return 0;
}

struct sp_tls *sp__tls_prepare(const struct sp_addr *addr, const struct sp_tls_opts *o,
                               int listener, char *err, size_t errlen)
{
    static const struct sp_tls_opts none;
    if (o == NULL)
        o = &none;
    struct sp_tls *t = tls_new(o, listener, err, errlen);
    if (t == NULL)
        return NULL;
    if (listener) {
        t->listener = 1;
        if (o->cert == NULL && self_signed(t, err, errlen) != 0) {
            tls_destroy(t);
            return NULL;
        }
        if (t->alpn_offer[0] != '\0')
            SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, NULL);
        return t;
    }
    if (client_prepare(t, addr, o, err, errlen) != 0) {
        tls_destroy(t);
        return NULL;
    }
    return t;
}

void sp__tls_discard(struct sp_tls *t)
{
    if (t != NULL)
        tls_destroy(t);
}

static void keylog_notice(struct sp_sock *s, const struct sp_tls *t)
{
    if (t->keylog[0] == '\0')
        return;
    char msg[sizeof t->keylog + 64];
    snprintf(msg, sizeof msg, "TLS key log: secrets written to %s", t->keylog);
    sp__emit_notice(s, msg);
}

/* A listener says what it serves. */
static void listener_attach(struct sp_sock *s, struct sp_tls *t)
{
    t->s = s;
    s->tls = t;
    char msg[400];
    if (t->fingerprint[0] != '\0')
        snprintf(msg, sizeof msg,
                 "TLS with a throwaway self-signed certificate for localhost (made now, valid 7 "
                 "days), SHA-256 fingerprint %s",
                 t->fingerprint);
    else
        snprintf(msg, sizeof msg, "TLS with the certificate given (--cert)");
    sp__emit_notice(s, msg);
    keylog_notice(s, t);
}

void sp__tls_attach(struct sp_sock *s, struct sp_tls *t)
{
    if (t->listener) {
        listener_attach(s, t);
        return;
    }
    tls_attach(t, s);
    /* The SSL keeps its own reference to the context. */
    SSL_CTX_free(t->ctx);
    t->ctx = NULL;
    SSL_set_connect_state(t->ssl);
    if (t->literal)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), t->host);
    else
        SSL_set1_host(t->ssl, t->host);
    if (t->sni[0] != '\0')
        SSL_set_tlsext_host_name(t->ssl, t->sni);
    if (t->alpn_offer[0] != '\0') {
        unsigned char wire[256];
        size_t wlen = 0;
        alpn_wire(t->alpn_offer, wire, sizeof wire, &wlen);
        SSL_set_alpn_protos(t->ssl, wire, (unsigned)wlen);
    }
    if (!t->no_resume) {
        SSL_SESSION *sess = sp__tls_cache_take(s->eng, t->cache_key);
        if (sess != NULL) {
            t->offered = SSL_set_session(t->ssl, sess) == 1;
            SSL_SESSION_free(sess);
        }
    }
    if (t->insecure)
        sp__emit_notice(s, "TLS --insecure: the server's certificate is checked and the result "
                           "shown, but a failure does not stop the connection");
    keylog_notice(s, t);
}

void sp__tls_accepted(struct sp_sock *c, struct sp_sock *l)
{
    struct sp_tls *lt = l->tls;
    if (lt == NULL)
        return;
    struct sp_tls *t = sp_xcalloc(1, sizeof *t);
    t->server = 1;
    memcpy(t->keylog, lt->keylog, sizeof t->keylog);
    memcpy(t->alpn_offer, lt->alpn_offer, sizeof t->alpn_offer);
    t->ctx = lt->ctx;
    tls_attach(t, c);
    t->ctx = NULL; /* the listener's; the SSL holds its own reference */
    SSL_set_accept_state(t->ssl);
}

const char *sp__tls_state(const struct sp_sock *s, char *buf, size_t len)
{
    struct sp_tls *t = s->tls;
    if (t == NULL)
        return NULL;
    if (t->listener)
        snprintf(buf, len, "TLS listener");
    else if (t->failed)
        snprintf(buf, len, "TLS failed%s", t->fatal_alert ? " (fatal alert)" : "");
    else if (!t->hs_done)
        snprintf(buf, len, "TLS handshake: %s", SSL_state_string_long(t->ssl));
    else
        snprintf(buf, len, "%s%s%s%s%s", SSL_get_version(t->ssl),
                 t->notify_sent ? ", close_notify sent" : "",
                 t->withhold ? ", close_notify withheld (relay: a truncation passed on)" : "",
                 t->notify_rcvd ? ", close_notify received" : "",
                 t->truncated ? ", FIN without close_notify" : "");
    return buf;
}

int sp__tls_handshaking(const struct sp_sock *s)
{
    /* A failed handshake is still not done: the socket closes right after. */
    return s->tls != NULL && s->tls->ssl != NULL && !s->tls->hs_done && !s->closed;
}

int sp__tls_insecure(const struct sp_sock *s)
{
    return s->tls != NULL && s->tls->insecure;
}

/* One certificate's lines for `info`. */
static void cert_lines(struct sp_buf *out, X509 *x, int depth)
{
    BIO *b = BIO_new(BIO_s_mem());
    sp_buf_appendf(out, "  cert %d subject ", depth);
    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
    BIO_puts(b, "\n    issuer ");
    X509_NAME_print_ex(b, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253);
    BIO_puts(b, "\n    valid ");
    ASN1_TIME_print(b, X509_get0_notBefore(x));
    BIO_puts(b, " to ");
    ASN1_TIME_print(b, X509_get0_notAfter(x));
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        BIO_puts(b, " (EXPIRED)");
    else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
        BIO_puts(b, " (NOT YET VALID)");
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (sans != NULL) {
        BIO_puts(b, "\n    SANs");
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
            BIO_puts(b, i ? ", " : " ");
            if (g->type == GEN_DNS) {
                BIO_puts(b, "DNS:");
                BIO_write(b, ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName));
            } else if (g->type == GEN_IPADD) {
                char ip[INET6_ADDRSTRLEN] = "?";
                int n = ASN1_STRING_length(g->d.iPAddress);
                inet_ntop(n == 16 ? AF_INET6 : AF_INET, ASN1_STRING_get0_data(g->d.iPAddress), ip,
                          sizeof ip);
                BIO_printf(b, "IP:%s", ip);
            } else {
                BIO_puts(b, "(other)");
            }
        }
        GENERAL_NAMES_free(sans);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    X509_digest(x, EVP_sha256(), md, &mdlen);
    BIO_puts(b, "\n    sha256 ");
    for (unsigned i = 0; i < mdlen; i++)
        BIO_printf(b, "%s%02X", i ? ":" : "", md[i]);
    BIO_puts(b, "\n");
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n > 0)
        sp_buf_append(out, p, (size_t)n);
    BIO_free(b);
}

int sp_engine_tls_info(struct sp_engine *eng, uint32_t id, struct sp_buf *out)
{
    struct sp_sock *s = sp__sock_get(eng, id);
    if (s == NULL || s->tls == NULL)
        return -1;
    struct sp_tls *t = s->tls;
    char st[160];
    sp_buf_appendf(out, "  tls %s\n", sp__tls_state(s, st, sizeof st));
    if (t->listener) {
        if (t->fingerprint[0] != '\0')
            sp_buf_appendf(out, "  certificate: throwaway self-signed for localhost, sha256 %s\n",
                           t->fingerprint);
        if (t->alpn_offer[0] != '\0')
            sp_buf_appendf(out, "  ALPN offered %s\n", t->alpn_offer);
        return 0;
    }
    if (t->hs_done) {
        char sum[400];
        summary(t, sum, sizeof sum);
        sp_buf_appendf(out, "  %s\n", sum);
    } else if (!t->server) {
        sp_buf_appendf(out, "  verification %s\n",
                       t->insecure ? "not enforced (--insecure)" : "enforced");
    }
    X509 *leaf = SSL_get0_peer_certificate(t->ssl);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl);
    if (leaf == NULL) {
        sp_buf_appends(out,
                       t->server ? "  no client certificate\n" : "  no peer certificate yet\n");
        return 0;
    }
    int depth = 0;
    cert_lines(out, leaf, depth++);
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        if (X509_cmp(x, leaf) == 0)
            continue;
        cert_lines(out, x, depth++);
    }
    return 0;
}
