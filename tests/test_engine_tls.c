/* TLS in the engine (tls.h), both ends in one engine on loopback: the
 * records of both directions lie end to end on each direction's ciphertext
 * stream, which is exactly what the recv events carried; plaintext comes
 * as messages with offsets on the plaintext stream; close_notify and a bare
 * FIN are told apart; bytes that are not TLS stop the handshake with a
 * reason; bad settings refuse the call and make nothing. Every test ends
 * with every handle closed (uv_loop_close() == 0). */
#include "test_engine_util.h"

#include <openssl/ssl.h>
#include <time.h>

#include "engine_int.h"
#include "sockpit/engine/tls.h"
#include "sockpit/proto/buf.h"

static const struct rec *tls_stage(const struct recorder *r, uint32_t sock, const char *stage)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].ev.type == SP_EV_TLS && r->v[i].ev.sock == sock &&
            strcmp(r->v[i].code, stage) == 0)
            return &r->v[i];
    return NULL;
}

static int wait_stage(struct sp_engine *eng, const struct recorder *r, uint32_t sock,
                      const char *stage, uint64_t ms)
{
    uint64_t end = te_ms() + ms;
    while (tls_stage(r, sock, stage) == NULL) {
        if (te_ms() > end)
            return 0;
        sp_engine_poll(eng);
        usleep(500);
    }
    return 1;
}

/* A TLS listener (throwaway certificate, line framing) and a client that
 * does not enforce verification; both handshakes done. */
static void tls_pair(struct sp_engine *eng, struct recorder *r, uint32_t *server, uint32_t *client)
{
    struct sp_frame_spec line;
    char err[200] = "";
    assert_int_equal(sp_frame_spec_parse(&line, "line", err, sizeof err), 0);
    struct sp_tls_opts lt = {0}, ct = {.insecure = 1};
    struct sp_sock_opts lo = {.framing = &line, .tls = &lt}, co = {.tls = &ct};
    struct sp_addr a = te_addr("tls:127.0.0.1:0");
    uint32_t l = 0;
    if (sp_engine_listen(eng, &a, &lo, &l, err, sizeof err) != 0)
        fail_msg("listen: %s", err);
    unsigned port = te_port(te_nth(r, SP_EV_LISTENING, l, 0)->local);
    *client = te_connect(eng, "tls:127.0.0.1", port, &co);
    assert_true(te_wait(eng, r, SP_EV_ACCEPTED, 0, 1, 2000));
    *server = te_nth(r, SP_EV_ACCEPTED, 0, 0)->ev.sock;
    assert_true(wait_stage(eng, r, *client, "handshake_done", 3000));
    assert_true(wait_stage(eng, r, *server, "handshake_done", 3000));
}

/* The records of one direction of sock: end to end from offset 0, chunk
 * numbers within the chunks, and together exactly `total` bytes. */
static void check_records(const struct recorder *r, uint32_t sock, int out, uint64_t total,
                          uint64_t chunks)
{
    uint64_t at = 0, nrec = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct sp_event *ev = &r->v[i].ev;
        if (ev->type != SP_EV_TLS_RECORD || ev->sock != sock || ev->tls_out != out)
            continue;
        assert_int_equal(ev->off, at);
        assert_int_equal(ev->end_off - ev->off, 5 + ev->len);
        assert_true(ev->chunk_first >= 1 && ev->chunk_first <= ev->chunk_last);
        assert_true(ev->chunk_last <= chunks);
        at = ev->end_off;
        nrec++;
    }
    assert_true(nrec > 0);
    assert_int_equal(at, total);
}

static void test_records_plaintext_and_close_notify(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    uint32_t srv, cli;
    tls_pair(eng, &r, &srv, &cli);
    /* The first record each way: the hellos, in plaintext. */
    const struct rec *first = te_nth(&r, SP_EV_TLS_RECORD, srv, 0);
    assert_int_equal(first->ev.tls_out, 0);
    assert_int_equal(first->ev.tls_type, 22);
    assert_int_equal(first->ev.tls_hs & 0xff, 1); /* ClientHello */
    assert_int_equal(first->ev.chunk_first, 1);
    assert_false(first->ev.tls_encrypted);
    te_send(eng, cli, "hello\nwor", 9);
    te_send(eng, cli, "ld\n", 3);
    assert_true(te_wait(eng, &r, SP_EV_MSG, srv, 2, 3000));
    const struct rec *m1 = te_nth(&r, SP_EV_MSG, srv, 0), *m2 = te_nth(&r, SP_EV_MSG, srv, 1);
    assert_memory_equal(m1->data, "hello", 5);
    assert_memory_equal(m2->data, "world", 5);
    /* Offsets on the plaintext stream, not the ciphertext one. */
    assert_int_equal(m1->ev.off, 0);
    assert_int_equal(m1->ev.end_off, 6);
    assert_int_equal(m2->ev.off, 6);
    assert_int_equal(m2->ev.end_off, 12);
    /* Every recv of a TLS socket is ciphertext, marked as decoded. */
    for (size_t i = 0; i < r.n; i++)
        if (r.v[i].ev.type == SP_EV_RECV && r.v[i].ev.sock == srv)
            assert_true(r.v[i].ev.framed);
    /* Raw framing on the client: one msg per plaintext read. */
    te_send(eng, srv, "pong\n", 5);
    assert_true(te_wait(eng, &r, SP_EV_MSG, cli, 1, 3000));
    const struct rec *pong = te_nth(&r, SP_EV_MSG, cli, 0);
    assert_int_equal(pong->ev.len, 5);
    assert_memory_equal(pong->data, "pong\n", 5);
    /* shutdown wr: close_notify, then FIN; the server sees both, in order. */
    char err[200] = "";
    assert_int_equal(sp_engine_shutdown(eng, cli, SP_SHUT_WR, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_EOF, srv, 1, 3000));
    assert_non_null(tls_stage(&r, cli, "close_notify_sent"));
    assert_non_null(tls_stage(&r, srv, "close_notify"));
    assert_null(tls_stage(&r, srv, "truncated"));
    assert_true(te_index(&r, SP_EV_EOF, srv) > (long)(tls_stage(&r, srv, "close_notify") - r.v));
    struct sp_sock_info si;
    assert_int_equal(sp_engine_sock_info(eng, srv, &si), 0);
    assert_non_null(strstr(si.tls, "close_notify received"));
    /* Both directions' records add up to the bytes each side read. */
    assert_int_equal(sp_engine_sock_info(eng, srv, &si), 0);
    check_records(&r, srv, 0, si.bytes_in, si.chunks);
    struct sp_sock_info ci;
    assert_int_equal(sp_engine_sock_info(eng, cli, &ci), 0);
    check_records(&r, cli, 0, ci.bytes_in, ci.chunks);
    assert_true(ci.tls_insecure);
    /* What one side wrote is what the other read, record for record. */
    uint64_t wrote = 0;
    for (size_t i = 0; i < r.n; i++)
        if (r.v[i].ev.type == SP_EV_TLS_RECORD && r.v[i].ev.sock == cli && r.v[i].ev.tls_out)
            wrote = r.v[i].ev.end_off;
    assert_int_equal(wrote, si.bytes_in);
    /* info names the version and the peer's certificate. */
    struct sp_buf b;
    sp_buf_init(&b);
    assert_int_equal(sp_engine_tls_info(eng, cli, &b), 0);
    assert_non_null(strstr(sp_buf_str(&b), "TLSv1.3"));
    assert_non_null(strstr(sp_buf_str(&b), "CN=localhost"));
    assert_non_null(strstr(sp_buf_str(&b), "DNS:localhost, IP:127.0.0.1"));
    assert_non_null(strstr(sp_buf_str(&b), "verify FAILED (unknown CA"));
    sp_buf_cleanup(&b);
    te_done(eng, &r);
}

static void test_send_before_the_handshake_is_refused(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct sp_tls_opts lt = {0}, ct = {.insecure = 1};
    struct sp_sock_opts lo = {.tls = &lt}, co = {.tls = &ct};
    struct sp_addr a = te_addr("tls:127.0.0.1:0");
    uint32_t l = 0;
    char err[200] = "";
    assert_int_equal(sp_engine_listen(eng, &a, &lo, &l, err, sizeof err), 0);
    unsigned port = te_port(te_nth(&r, SP_EV_LISTENING, l, 0)->local);
    uint32_t c = te_connect(eng, "tls:127.0.0.1", port, &co);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    struct sp_sock_info si;
    assert_int_equal(sp_engine_sock_info(eng, c, &si), 0);
    if (si.connecting) { /* still in the handshake, as almost always here */
        const unsigned char *parts[1] = {(const unsigned char *)"x"};
        size_t lens[1] = {1};
        struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 1};
        assert_true(sp_engine_send(eng, c, &req, err, sizeof err) < 0);
        assert_non_null(strstr(err, "TLS handshake is not done"));
    }
    assert_true(wait_stage(eng, &r, c, "handshake_done", 3000));
    /* --once would write around TLS. */
    const unsigned char *parts[1] = {(const unsigned char *)"x"};
    size_t lens[1] = {1};
    struct sp_send_req once = {.parts = parts, .lens = lens, .nparts = 1, .once = 1};
    assert_true(sp_engine_send(eng, c, &once, err, sizeof err) < 0);
    assert_non_null(strstr(err, "not on a TLS socket"));
    te_done(eng, &r);
}

/* A server that answers in plain HTTP: the record decoder says what it
 * is, OpenSSL fails the handshake, the socket closes with a reason. */
static void test_not_tls_fails_the_handshake(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 1), 0);
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    struct sp_tls_opts ct = {.insecure = 1};
    struct sp_sock_opts co = {.tls = &ct};
    uint32_t c = te_connect(eng, "tls:127.0.0.1", ntohs(sa.sin_port), &co);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    const char *http = "HTTP/1.1 400 Bad Request\r\n\r\n";
    assert_int_equal(send(fd, http, strlen(http), 0), (ssize_t)strlen(http));
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c, 1, 3000));
    const struct rec *bad = NULL;
    for (size_t i = 0; i < r.n; i++)
        if (r.v[i].ev.type == SP_EV_TLS_RECORD && r.v[i].ev.sock == c && !r.v[i].ev.tls_out)
            bad = &r.v[i];
    assert_non_null(bad);
    assert_int_equal(bad->ev.off, 0);
    assert_non_null(tls_stage(&r, c, "handshake_failed"));
    assert_non_null(strstr(te_nth(&r, SP_EV_CLOSED, c, 0)->reason, "TLS handshake failed"));
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

static void test_bad_settings_make_nothing(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct sp_addr a = te_addr("tls:127.0.0.1:0");
    char err[200] = "";
    uint32_t id = 0;
    struct sp_tls_opts bad_cert = {.cert = "/nonexistent.pem", .key = "/nonexistent.key"};
    struct sp_sock_opts o = {.tls = &bad_cert};
    assert_true(sp_engine_listen(eng, &a, &o, &id, err, sizeof err) < 0);
    assert_non_null(strstr(err, "--cert /nonexistent.pem"));
    struct sp_tls_opts bad_alpn = {.alpn = "h2,,x"};
    o.tls = &bad_alpn;
    assert_true(sp_engine_connect(eng, &a, &o, &id, err, sizeof err) < 0);
    assert_non_null(strstr(err, "--alpn"));
    assert_int_equal(sp_engine_last_id(eng), 0);
    assert_int_equal(r.n, 0);
    te_done(eng, &r);
}

static SSL_SESSION *resumable_session(unsigned n)
{
    SSL_SESSION *s = SSL_SESSION_new();
    unsigned char id[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n};
    assert_int_equal(SSL_SESSION_set1_id(s, id, sizeof id), 1);
    SSL_SESSION_set_time(s, (long)time(NULL));
    SSL_SESSION_set_timeout(s, 300);
    return s;
}

/* The client's kept sessions: at most 64 targets, the oldest stored goes
 * first, a session is handed out once, an expired one never. */
static void test_session_cache_is_bounded(void **state)
{
    (void)state;
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char key[32];
    size_t kept = 0;
    for (unsigned i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "target-%u", i);
        kept = sp__tls_cache_put(eng, key, resumable_session(i));
        assert_true(kept <= 64);
    }
    assert_int_equal(kept, 64);
    assert_null(sp__tls_cache_take(eng, "target-35"));
    SSL_SESSION *s = sp__tls_cache_take(eng, "target-36");
    assert_non_null(s);
    SSL_SESSION_free(s);
    assert_null(sp__tls_cache_take(eng, "target-36"));
    /* Storing again under a key replaces its session, not a slot more. */
    assert_int_equal(sp__tls_cache_put(eng, "target-99", resumable_session(1000)), 63);
    SSL_SESSION *old = resumable_session(7);
    SSL_SESSION_set_time(old, (long)time(NULL) - 1000);
    sp__tls_cache_put(eng, "expired", old);
    assert_null(sp__tls_cache_take(eng, "expired"));
    te_done(eng, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_plaintext_and_close_notify),
        cmocka_unit_test(test_send_before_the_handshake_is_refused),
        cmocka_unit_test(test_not_tls_fails_the_handshake),
        cmocka_unit_test(test_bad_settings_make_nothing),
        cmocka_unit_test(test_session_cache_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
