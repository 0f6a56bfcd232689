/* Fuzz target: escape syntax, hex input and the tokenizer never crash, and
 * sp_escape() output always unescapes to what was escaped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/escape.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* escape(p) must unescape to p exactly. */
static void check_round_trip(const void *p, size_t n)
{
    struct sp_buf e, d;
    sp_buf_init(&e);
    sp_buf_init(&d);
    sp_escape(p, n, &e);
    size_t pos = 0;
    char err[128];
    CHECK(sp_unescape((const char *)e.data, e.len, &d, &pos, err, sizeof err) == 0);
    CHECK(d.len == n);
    CHECK(n == 0 || memcmp(d.data, p, n) == 0);
    sp_buf_cleanup(&e);
    sp_buf_cleanup(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sp_buf out;
    size_t pos = 0;
    char err[128];

    sp_buf_init(&out);
    if (sp_unescape((const char *)data, size, &out, &pos, err, sizeof err) != 0) {
        CHECK(pos < size);
        CHECK(data[pos] == '\\');
        CHECK(strlen(err) < sizeof err);
    } else {
        CHECK(out.len <= size);
        check_round_trip(out.data, out.len);
    }
    sp_buf_cleanup(&out);

    sp_buf_init(&out);
    if (sp_hex_parse((const char *)data, size, &out, &pos, err, sizeof err) != 0)
        CHECK(pos < size);
    else
        CHECK(out.len <= size / 2);
    sp_buf_cleanup(&out);

    check_round_trip(data, size);

    /* The tokenizer reads a C string: the input up to its first NUL. */
    char *line = malloc(size + 1);
    CHECK(line != NULL);
    memcpy(line, data, size);
    line[size] = '\0';
    struct sp_word words[8];
    sp_buf_init(&out);
    int nw = sp_split_words(line, &out, words, 8, NULL, NULL, &pos);
    if (nw < 0) {
        CHECK(pos < strlen(line));
    } else {
        CHECK(nw <= 8);
        size_t total = 0;
        for (int k = 0; k < nw; k++) {
            CHECK(words[k].start == total);
            CHECK(out.data[words[k].start + words[k].len] == '\0');
            CHECK(memchr(out.data + words[k].start, '\0', words[k].len) == NULL);
            total += words[k].len + 1;
        }
        CHECK(total == out.len);
        CHECK(out.len <= strlen(line) + (size_t)nw);
    }
    sp_buf_cleanup(&out);
    free(line);
    return 0;
}
