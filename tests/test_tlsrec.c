/* The TLS record-layer decoder (tlsrec.h): every vector whole, byte by byte
 * and at every two-way split gives the same records; each fed chunk is an
 * exact copy before a PROT_NONE page, so an over-read crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/tlsrec.h"
#include "testutil.h"

/* Each record as one line: "type version len off-end: what". */
static void collect(void *ud, const struct sp_tlsrec *r)
{
    struct sp_buf *out = ud;
    char what[256], line[400];
    sp_tlsrec_describe(r, what, sizeof what);
    if (r->error != NULL) {
        snprintf(line, sizeof line, "error @%llu: %s\n", (unsigned long long)r->off, what);
    } else {
        const char *t = sp_tls_ct_name(r->type), *v = sp_tls_version_name(r->version);
        snprintf(line, sizeof line, "%s %s %u %llu-%llu: %s\n", t ? t : "?", v ? v : "?", r->len,
                 (unsigned long long)r->off, (unsigned long long)r->end_off, what);
    }
    sp_buf_append(out, line, strlen(line));
}

struct vec {
    const char *hex;
    int tls13;
    const char *want;
};

static const struct vec vecs[] = {
    /* A ClientHello in a TLS1.0 record (as clients send it). */
    {"16 0301 0008 01 000004 03030000", 0, "handshake TLS1.0 8 0-13: ClientHello\n"},
    /* TLS 1.2 server flight: three messages in one record, then the CCS,
     * the encrypted Finished and application data. */
    {"16 0303 0010 02 000002 0303 0b 000002 0000 0e 000000"
     " 14 0303 0001 01"
     " 16 0303 0004 deadbeef"
     " 17 0303 0003 616263",
     0,
     "handshake TLS1.2 16 0-21: ServerHello, Certificate, ServerHelloDone\n"
     "change_cipher_spec TLS1.2 1 21-27: \n"
     "handshake TLS1.2 4 27-36: encrypted\n"
     "application_data TLS1.2 3 36-44: encrypted\n"},
    /* A Certificate message spanning two records, the second also holding
     * the start of another message whose header spans into the third. */
    {"16 0303 000a 0b 00000a 010203040506"
     " 16 0303 0006 0708090a 0e 00"
     " 16 0303 0002 0000",
     0,
     "handshake TLS1.2 10 0-15: Certificate\n"
     "handshake TLS1.2 6 15-26: (rest of a message), ServerHelloDone\n"
     "handshake TLS1.2 2 26-33: (rest of a message)\n"},
    /* Plaintext alerts before any CCS; an unknown description. */
    {"15 0303 0002 0228 15 0303 0002 0100 15 0303 0002 0277", 0,
     "alert TLS1.2 2 0-7: fatal handshake_failure\n"
     "alert TLS1.2 2 7-14: warning close_notify\n"
     "alert TLS1.2 2 14-21: fatal alert_119\n"},
    /* After a TLS 1.2 CCS an alert is encrypted. */
    {"14 0303 0001 01 15 0303 0012 000102030405060708090a0b0c0d0e0f1011", 0,
     "change_cipher_spec TLS1.2 1 0-6: \n"
     "alert TLS1.2 18 6-29: encrypted\n"},
    /* TLS 1.3: the compat CCS does not hide later plaintext handshake
     * records (a second ClientHello after HelloRetryRequest); the rest is
     * application_data. */
    {"14 0303 0001 01 16 0303 0004 01 000000 17 0303 0002 aabb", 1,
     "change_cipher_spec TLS1.2 1 0-6: \n"
     "handshake TLS1.2 4 6-15: ClientHello\n"
     "application_data TLS1.2 2 15-22: encrypted\n"},
    /* Many messages in one record: the first eight are named. */
    {"16 0303 0028 00000000 00000000 00000000 00000000 00000000 00000000 00000000"
     " 00000000 00000000 00000000",
     0,
     "handshake TLS1.2 40 0-45: HelloRequest, HelloRequest, HelloRequest, HelloRequest, "
     "HelloRequest, HelloRequest, HelloRequest, HelloRequest +2 more\n"},
    /* An empty record, a heartbeat, unknown handshake type, a short alert. */
    {"17 0303 0000 18 0303 0001 01 16 0303 0004 63 000000 15 0303 0001 02", 0,
     "application_data TLS1.2 0 0-5: encrypted\n"
     "heartbeat TLS1.2 1 5-11: \n"
     "handshake TLS1.2 4 11-20: handshake_type_99\n"
     "alert TLS1.2 1 20-26: (short alert)\n"},
    /* Not TLS: HTTP, an SSLv2 header, a wrong major version, a length over
     * the limit. The decoder stops at the first. */
    {"474554202f20485454502f312e310d0a", 0,
     "error @0: content type 71 is not a TLS record type (20-24)\n"},
    {"17 0303 0001 00 8077 0103 01", 0,
     "application_data TLS1.2 1 0-6: encrypted\n"
     "error @6: byte 0x80: an SSLv2-style header, not a TLS record\n"},
    {"16 0203 0001 00", 0, "error @0: version major 2 is not TLS (3)\n"},
    {"17 0303 4801 00", 0, "error @0: record length 18433 is over the 18432 TLS allows\n"},
    /* A record cut short reports nothing. */
    {"16 0303 0010 0100000c", 0, ""},
};

static void run(const unsigned char *p, size_t n, const size_t *cuts, size_t ncuts, int tls13,
                struct sp_buf *out)
{
    struct sp_tlsrec_dec d;
    sp_tlsrec_init(&d, collect, out);
    if (tls13)
        sp_tlsrec_set_tls13(&d);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        unsigned char *g = tu_guard_copy(p + at, end - at);
        sp_tlsrec_feed(&d, g, end - at);
        tu_guard_free(g, end - at);
        at = end;
    }
}

static void check(const struct vec *v, const struct sp_buf *got)
{
    size_t wl = strlen(v->want);
    if (got->len != wl || (wl > 0 && memcmp(got->data, v->want, wl) != 0)) {
        fprintf(stderr, "vector %s\nwant:\n%s\ngot:\n%.*s\n", v->hex, v->want, (int)got->len,
                (const char *)got->data);
        fail();
    }
}

static void test_whole_bytewise_splits(void **state)
{
    for (size_t k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
        const struct vec *v = &vecs[k];
        unsigned char p[512];
        size_t n = tu_unhex(v->hex, p, sizeof p);
        struct sp_buf out;
        sp_buf_init(&out);
        run(p, n, NULL, 0, v->tls13, &out);
        check(v, &out);
        sp_buf_reset(&out);
        size_t cuts[512];
        for (size_t i = 1; i < n; i++)
            cuts[i - 1] = i;
        run(p, n, cuts, n > 0 ? n - 1 : 0, v->tls13, &out);
        check(v, &out);
        for (size_t i = 0; i <= n; i++) {
            sp_buf_reset(&out);
            run(p, n, &i, 1, v->tls13, &out);
            check(v, &out);
        }
        sp_buf_cleanup(&out);
    }
}

struct chunks {
    uint64_t first[8], last[8];
    size_t n;
};

static void collect_chunks(void *ud, const struct sp_tlsrec *r)
{
    struct chunks *c = ud;
    assert_true(c->n < 8);
    c->first[c->n] = r->chunk_first;
    c->last[c->n++] = r->chunk_last;
}

/* Chunk numbers count feeds (an empty feed too), like recv seq. */
static void test_chunks_and_pending(void **state)
{
    unsigned char p[64];
    size_t n = tu_unhex("17 0303 0003 616263 17 0303 0001 00", p, sizeof p);
    struct chunks c = {0};
    struct sp_tlsrec_dec d;
    sp_tlsrec_init(&d, collect_chunks, &c);
    sp_tlsrec_feed(&d, p, 3);
    assert_int_equal(sp_tlsrec_pending(&d), 3);
    sp_tlsrec_feed(&d, p + 3, 0);
    sp_tlsrec_feed(&d, p + 3, 4);
    assert_int_equal(sp_tlsrec_pending(&d), 7);
    sp_tlsrec_feed(&d, p + 7, 2);
    assert_int_equal(sp_tlsrec_pending(&d), 1);
    assert_int_equal(c.n, 1);
    sp_tlsrec_feed(&d, p + 9, n - 9);
    assert_int_equal(sp_tlsrec_pending(&d), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.first[0], 1);
    assert_int_equal(c.last[0], 4);
    assert_int_equal(c.first[1], 4);
    assert_int_equal(c.last[1], 5);
}

static void test_names(void **state)
{
    assert_string_equal(sp_tls_hs_name(1), "ClientHello");
    assert_string_equal(sp_tls_hs_name(4), "NewSessionTicket");
    assert_string_equal(sp_tls_hs_name(24), "KeyUpdate");
    assert_string_equal(sp_tls_hs_name(254), "MessageHash");
    assert_null(sp_tls_hs_name(6));
    assert_null(sp_tls_hs_name(200));
    assert_string_equal(sp_tls_alert_name(48), "unknown_ca");
    assert_string_equal(sp_tls_alert_name(120), "no_application_protocol");
    assert_null(sp_tls_alert_name(255));
    assert_string_equal(sp_tls_version_name(0x0304), "TLS1.3");
    assert_null(sp_tls_version_name(0x0305));
    assert_null(sp_tls_ct_name(25));
    /* describe never writes past a small buffer. */
    struct sp_tlsrec r = {.type = SP_TLS_CT_HANDSHAKE, .nhs = 2, .hs = {1, 2}};
    char small[8];
    size_t k = sp_tlsrec_describe(&r, small, sizeof small);
    assert_int_equal(k, 7);
    assert_string_equal(small, "ClientH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_bytewise_splits),
        cmocka_unit_test(test_chunks_and_pending),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
