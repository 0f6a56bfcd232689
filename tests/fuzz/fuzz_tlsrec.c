/* Fuzz target: the TLS record-layer decoder. Any bytes, fed whole and cut
 * where the first byte says: the same records come out, every record lies
 * inside the stream and after the one before it, and its description fits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/tlsrec.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEEP 64

struct seen {
    uint64_t total; /* stream length */
    uint64_t last_end;
    size_t n;
    struct sp_tlsrec recs[KEEP];
    int error;
};

static void on_rec(void *ud, const struct sp_tlsrec *r)
{
    struct seen *s = ud;
    CHECK(!s->error);
    CHECK(r->off >= s->last_end && r->end_off <= s->total && r->off <= r->end_off);
    if (r->error == NULL) {
        CHECK(r->end_off - r->off == SP_TLSREC_HEADER + (uint64_t)r->len);
        CHECK(r->len <= SP_TLSREC_LEN_MAX && r->nhs <= SP_TLSREC_HS_MAX);
        CHECK(r->chunk_first <= r->chunk_last);
    } else {
        s->error = 1;
    }
    char buf[96];
    size_t k = sp_tlsrec_describe(r, buf, sizeof buf);
    CHECK(k < sizeof buf && k == strlen(buf));
    s->last_end = r->end_off;
    if (s->n < KEEP) {
        s->recs[s->n] = *r;
    }
    s->n++;
}

static void run(const uint8_t *data, size_t size, size_t step, int tls13, struct seen *s)
{
    memset(s, 0, sizeof *s);
    s->total = size;
    struct sp_tlsrec_dec d;
    sp_tlsrec_init(&d, on_rec, s);
    if (tls13)
        sp_tlsrec_set_tls13(&d);
    for (size_t at = 0; at < size;) {
        size_t k = size - at < step ? size - at : step;
        /* An exact copy of each chunk, so an over-read past it is caught. */
        uint8_t *p = malloc(k);
        CHECK(p != NULL);
        memcpy(p, data + at, k);
        sp_tlsrec_feed(&d, p, k);
        free(p);
        at += k;
    }
}

static int same(const struct sp_tlsrec *a, const struct sp_tlsrec *b)
{
    return a->off == b->off && a->end_off == b->end_off && a->type == b->type &&
           a->version == b->version && a->len == b->len && a->encrypted == b->encrypted &&
           a->nhs == b->nhs && memcmp(a->hs, b->hs, a->nhs) == 0 && a->hs_more == b->hs_more &&
           a->hs_cont == b->hs_cont && a->alert_level == b->alert_level &&
           a->alert_desc == b->alert_desc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct seen whole, cut;
    int tls13 = size > 0 && (data[0] & 1);
    size_t step = size > 0 ? 1 + data[0] % 17 : 1;
    run(data, size, size > 0 ? size : 1, tls13, &whole);
    run(data, size, step, tls13, &cut);
    CHECK(whole.n == cut.n && whole.error == cut.error);
    size_t n = whole.n < KEEP ? whole.n : KEEP;
    for (size_t i = 0; i < n; i++)
        CHECK(same(&whole.recs[i], &cut.recs[i]));
    return 0;
}
