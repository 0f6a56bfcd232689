/* Fuzz target: the hex-mask parser and the regex spec never crash; a mask
 * that parses prints back to one that parses the same, and matches its own
 * bytes; any subject (NULs included) runs through every matcher. Input:
 * a mode byte, the spec, a NUL, the subject. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/match.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* sp_match_regex bounds what it hands regcomp (a regex whose compile or
 * match cost would explode is refused): any regex up to this length must
 * compile and run quickly. */
#define REGEX_MAX 200

static void check_mask(const char *spec, size_t n, const unsigned char *subj, size_t sn,
                       enum sp_match_where where)
{
    struct sp_match m, again;
    size_t pos = 0;
    char err[128];
    if (sp_match_mask(&m, where, spec, n, &pos, err, sizeof err) != 0) {
        CHECK(pos <= n);
        CHECK(err[0] != '\0');
        return;
    }
    CHECK(m.len > 0 && m.len <= n / 2);
    struct sp_buf d;
    sp_buf_init(&d);
    sp_match_describe(&d, &m);
    CHECK(sp_match_mask(&again, where, (const char *)d.data, d.len, &pos, err, sizeof err) == 0);
    CHECK(again.len == m.len);
    CHECK(memcmp(again.care, m.care, m.len) == 0);
    for (size_t i = 0; i < m.len; i++)
        CHECK((again.pat[i] & m.care[i]) == (m.pat[i] & m.care[i]));
    CHECK(sp_match_exec(&m, m.pat, m.len, NULL) == 1);
    struct sp_match_cap caps[SP_MATCH_GROUPS];
    if (sp_match_exec(&m, subj, sn, caps) == 1)
        CHECK(caps[0].so >= 0 && (size_t)caps[0].eo <= sn &&
              caps[0].eo - caps[0].so == (long)m.len);
    sp_buf_cleanup(&d);
    sp_match_free(&again);
    sp_match_free(&m);
}

static void check_regex(const char *spec, size_t n, const unsigned char *subj, size_t sn)
{
    struct sp_match m;
    char err[160];
    if (n > REGEX_MAX)
        return;
    if (sp_match_regex(&m, spec, n, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
        return;
    }
    struct sp_match_cap caps[SP_MATCH_GROUPS];
    if (sp_match_exec(&m, subj, sn, caps) == 1)
        for (size_t g = 0; g < SP_MATCH_GROUPS; g++)
            CHECK(caps[g].so == -1 || (caps[g].so <= caps[g].eo && (size_t)caps[g].eo <= sn));
    sp_match_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0] % 4;
    const char *spec = (const char *)data + 1;
    const unsigned char *nul = memchr(data + 1, 0, size - 1);
    size_t n = nul != NULL ? (size_t)(nul - (data + 1)) : size - 1;
    const unsigned char *subj = nul != NULL ? nul + 1 : data + size;
    size_t sn = (size_t)(data + size - subj);
    if (mode == 3)
        check_regex(spec, n, subj, sn);
    else
        check_mask(spec, n, subj, sn, (enum sp_match_where)mode);
    /* Bytes patterns: the spec's bytes against the subject in each place. */
    for (int w = 0; w < 3; w++) {
        struct sp_match m;
        sp_match_bytes(&m, (enum sp_match_where)w, spec, n);
        sp_match_exec(&m, subj, sn, NULL);
        CHECK(sp_match_exec(&m, (const unsigned char *)spec, n, NULL) == 1);
        sp_match_free(&m);
    }
    return 0;
}
