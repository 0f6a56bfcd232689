/* Escape syntax, hex input and the command tokenizer (DESIGN §4). Every input
 * sits right before a PROT_NONE page so that an over-read crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/escape.h"
#include "sockpit/proto/frame.h"
#include "sockpit/proto/render.h"
#include "testutil.h"

/* Runs sp_unescape on a guarded copy of s[0..n). */
static int unescape_guarded(const char *s, size_t n, struct sp_buf *out, size_t *errpos, char *err,
                            size_t errlen)
{
    unsigned char *g = tu_guard_copy(s, n);
    int rc = sp_unescape((const char *)g, n, out, errpos, err, errlen);
    tu_guard_free(g, n);
    return rc;
}

static int hex_guarded(const char *s, size_t n, struct sp_buf *out, size_t *errpos, char *err,
                       size_t errlen)
{
    unsigned char *g = tu_guard_copy(s, n);
    int rc = sp_hex_parse((const char *)g, n, out, errpos, err, errlen);
    tu_guard_free(g, n);
    return rc;
}

struct good {
    const char *in;
    const char *out;
    size_t outlen;
};

static void test_unescape_vectors(void **state)
{
    static const struct good v[] = {
        {"", "", 0},
        {"hello", "hello", 5},
        {"a\\nb", "a\nb", 3},
        {"\\r\\n", "\r\n", 2},
        {"\\t", "\t", 1},
        {"\\0", "\0", 1},
        {"\\01",
         "\0"
         "1",
         2}, /* no octal: \0 is one NUL, then '1' */
        {"\\\\", "\\", 1},
        {"\\e[2J", "\x1b[2J", 4},
        {"\\x41\\x7a", "Az", 2},
        {"\\xFF\\xfe", "\xff\xfe", 2},
        {"\\x412", "A2", 2}, /* exactly two digits */
        {"\\\"q\\\"", "\"q\"", 3},
        {"\"bare quotes\"", "\"bare quotes\"", 13},
        {"caf\xc3\xa9", "caf\xc3\xa9", 5},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct sp_buf b;
        sp_buf_init(&b);
        size_t errpos = 99;
        char err[128] = "";
        int rc = unescape_guarded(v[i].in, strlen(v[i].in), &b, &errpos, err, sizeof err);
        if (rc != 0)
            fail_msg("vector %zu (%s): %s", i, v[i].in, err);
        assert_int_equal(b.len, v[i].outlen);
        if (v[i].outlen > 0)
            assert_memory_equal(b.data, v[i].out, v[i].outlen);
        sp_buf_cleanup(&b);
    }
}

struct bad {
    const char *in;
    size_t errpos;
    const char *word;
};

static void test_unescape_errors_name_position(void **state)
{
    static const struct bad v[] = {
        {"\\q", 0, "bad escape \"\\q\""},
        {"abcd\\q", 4, "\"\\q\" at column 5"},
        {"x\\", 1, "lone backslash"},
        {"\\", 0, "lone backslash"},
        {"ab\\x", 2, "\\x"},
        {"ab\\x4", 2, "two hex digits"},
        {"ab\\x4g", 2, "two hex digits"},
        {"\\xg1", 0, "two hex digits"},
        {"ok\\n\\\x01", 4, "byte 0x01"},
        {"\\ ", 0, "byte 0x20"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct sp_buf b;
        sp_buf_init(&b);
        size_t errpos = 99;
        char err[128] = "";
        int rc = unescape_guarded(v[i].in, strlen(v[i].in), &b, &errpos, err, sizeof err);
        assert_int_equal(rc, -1);
        if (errpos != v[i].errpos || strstr(err, v[i].word) == NULL)
            fail_msg("vector %zu: errpos %zu (want %zu), err \"%s\" (want \"%s\")", i, errpos,
                     v[i].errpos, err, v[i].word);
        char col[32];
        snprintf(col, sizeof col, "at column %zu", v[i].errpos + 1);
        assert_non_null(strstr(err, col));
        sp_buf_cleanup(&b);
    }
}

static void test_unescape_tiny_error_buffer_is_terminated(void **state)
{
    struct sp_buf b;
    sp_buf_init(&b);
    char err[8];
    memset(err, 'Z', sizeof err);
    size_t pos;
    assert_int_equal(unescape_guarded("\\q", 2, &b, &pos, err, sizeof err), -1);
    assert_int_equal(strlen(err), sizeof err - 1);
    /* NULL err and errpos are allowed */
    assert_int_equal(unescape_guarded("\\q", 2, &b, NULL, NULL, 0), -1);
    sp_buf_cleanup(&b);
}

static void test_hex_parse_vectors(void **state)
{
    static const struct good v[] = {
        {"", "", 0},
        {"00ff", "\x00\xff", 2},
        {"DEADbeef", "\xde\xad\xbe\xef", 4},
        {"de ad\tbe:ef-01", "\xde\xad\xbe\xef\x01", 5},
        {"  41  ", "A", 1},
        {"::--", "", 0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct sp_buf b;
        sp_buf_init(&b);
        char err[128] = "";
        size_t pos;
        if (hex_guarded(v[i].in, strlen(v[i].in), &b, &pos, err, sizeof err) != 0)
            fail_msg("hex vector %zu: %s", i, err);
        assert_int_equal(b.len, v[i].outlen);
        if (b.len > 0)
            assert_memory_equal(b.data, v[i].out, b.len);
        sp_buf_cleanup(&b);
    }
}

static void test_hex_parse_errors_name_position(void **state)
{
    static const struct bad v[] = {
        {"abc", 2, "odd number"},
        {"a", 0, "odd number"},
        {"de a", 3, "odd number"},
        {"d ead", 0, "odd number"},
        {"0x41", 1, "not a hex digit: \"x\""},
        {"4g", 1, "\"g\""},
        {"41 zz", 3, "\"z\""},
        {"41\n", 2, "byte 0x0a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct sp_buf b;
        sp_buf_init(&b);
        size_t errpos = 99;
        char err[128] = "";
        assert_int_equal(hex_guarded(v[i].in, strlen(v[i].in), &b, &errpos, err, sizeof err), -1);
        if (errpos != v[i].errpos || strstr(err, v[i].word) == NULL)
            fail_msg("hex %zu: errpos %zu (want %zu), err \"%s\" (want \"%s\")", i, errpos,
                     v[i].errpos, err, v[i].word);
        sp_buf_cleanup(&b);
    }
}

static void test_escape_exact_forms(void **state)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_escape("a\\b\"c\n\r\t\0\x1b\x7f\x80\xff ~", 15, &b);
    assert_string_equal(sp_buf_str(&b), "a\\\\b\\\"c\\n\\r\\t\\0\\e\\x7f\\x80\\xff ~");
    sp_buf_cleanup(&b);
}

/* Every byte value, and random strings, survive escape then unescape. */
static void test_escape_round_trip(void **state)
{
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    uint64_t seed = 42;
    for (int round = 0; round < 500; round++) {
        unsigned char in[64];
        const unsigned char *p = all;
        size_t n = sizeof all;
        if (round > 0) {
            n = tu_rand(&seed) % sizeof in;
            for (size_t k = 0; k < n; k++)
                in[k] = (unsigned char)tu_rand(&seed);
            p = in;
        }
        struct sp_buf e, d;
        sp_buf_init(&e);
        sp_buf_init(&d);
        sp_escape(p, n, &e);
        for (size_t k = 0; k < e.len; k++)
            assert_true(e.data[k] >= 0x20 && e.data[k] < 0x7f);
        char err[128];
        size_t pos;
        assert_int_equal(unescape_guarded((const char *)e.data, e.len, &d, &pos, err, sizeof err),
                         0);
        assert_int_equal(d.len, n);
        if (n > 0)
            assert_memory_equal(d.data, p, n);
        sp_buf_cleanup(&e);
        sp_buf_cleanup(&d);
    }
}

/* Tokenizes line and compares with the expected words (NULL-terminated). */
static void check_tokens(const char *line, const char *const *want)
{
    size_t n = strlen(line) + 1;
    unsigned char *g = tu_guard_copy(line, n);
    struct sp_buf b;
    sp_buf_init(&b);
    const char *words[8];
    size_t pos = 0;
    int rc = tu_tokenize((const char *)g, &b, words, 8, &pos);
    int nwant = 0;
    while (want[nwant] != NULL)
        nwant++;
    if (rc != nwant)
        fail_msg("\"%s\": %d words (want %d)", line, rc, nwant);
    for (int k = 0; k < nwant; k++)
        if (strcmp(words[k], want[k]) != 0)
            fail_msg("\"%s\" word %d: \"%s\" (want \"%s\")", line, k, words[k], want[k]);
    sp_buf_cleanup(&b);
    tu_guard_free(g, n);
}

static void test_tokenize_cases(void **state)
{
    check_tokens("", (const char *[]){NULL});
    check_tokens("   \t ", (const char *[]){NULL});
    check_tokens("send 2 hi", (const char *[]){"send", "2", "hi", NULL});
    check_tokens("  send\t 2  hi  \n", (const char *[]){"send", "2", "hi", NULL});
    check_tokens("send \"hello world\"", (const char *[]){"send", "hello world", NULL});
    check_tokens("a\"b c\"d", (const char *[]){"ab cd", NULL});
    check_tokens("x \"\" y", (const char *[]){"x", "", "y", NULL});
    /* the backslash keeps the space in the word (sp_unescape then rejects it) */
    check_tokens("send a\\ b", (const char *[]){"send", "a\\ b", NULL});
    check_tokens("send hi\\r\\n", (const char *[]){"send", "hi\\r\\n", NULL});
    check_tokens("send \"a\\\"b\"", (const char *[]){"send", "a\\\"b", NULL});
    check_tokens("send a\\\"b", (const char *[]){"send", "a\\\"b", NULL});
    check_tokens("send \\\"a b\\\"", (const char *[]){"send", "\\\"a", "b\\\"", NULL});
    check_tokens("send \"# not\" a#b # comment \"x",
                 (const char *[]){"send", "# not", "a#b", NULL});
    check_tokens("# whole line", (const char *[]){NULL});
    check_tokens("x \\", (const char *[]){"x", "\\", NULL});
    check_tokens("\"tab\there\"", (const char *[]){"tab\there", NULL});
}

/* The words survive the buffer growing while later words are appended. */
static void test_tokenize_appends_and_pointers_stay_valid(void **state)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appends(&b, "prefix");
    char line[600];
    memset(line, 'w', 300);
    line[300] = ' ';
    memset(line + 301, 'v', 298);
    line[599] = '\0';
    const char *words[2];
    assert_int_equal(tu_tokenize(line, &b, words, 2, NULL), 2);
    assert_int_equal(strlen(words[0]), 300);
    assert_int_equal(strlen(words[1]), 298);
    assert_memory_equal(b.data, "prefix", 6);
    assert_ptr_equal(words[0], (const char *)b.data + 6);
    sp_buf_cleanup(&b);
}

static void test_tokenize_errors(void **state)
{
    struct sp_buf b;
    sp_buf_init(&b);
    const char *words[3];
    size_t pos = 99;
    assert_int_equal(tu_tokenize("send \"abc", &b, words, 3, &pos), -1);
    assert_int_equal(pos, 5);

    pos = 99;
    assert_int_equal(tu_tokenize("a\"b\\\" c", &b, words, 3, &pos), -1);
    assert_int_equal(pos, 1);

    pos = 99;
    assert_int_equal(tu_tokenize("a b c  d", &b, words, 3, &pos), -1);
    assert_int_equal(pos, 7);

    assert_int_equal(tu_tokenize("a b c # d e", &b, words, 3, &pos), 3);
    assert_int_equal(tu_tokenize("x", &b, words, 0, &pos), -1);
    assert_int_equal(tu_tokenize("  ", &b, words, 0, &pos), 0);
    sp_buf_cleanup(&b);
}

/* A tokenized word goes through sp_unescape to give the intended bytes. */
static void test_tokenize_then_unescape(void **state)
{
    struct sp_buf b, d;
    sp_buf_init(&b);
    sp_buf_init(&d);
    const char *words[4];
    assert_int_equal(tu_tokenize("send \"say \\\"hi\\\"\\r\\n\"", &b, words, 4, NULL), 2);
    assert_int_equal(sp_unescape(words[1], strlen(words[1]), &d, NULL, NULL, 0), 0);
    assert_string_equal(sp_buf_str(&d), "say \"hi\"\r\n");
    sp_buf_cleanup(&b);
    sp_buf_cleanup(&d);
}

/* One escaper behind three outputs: for every byte, the command language's
 * escape (sp_escape), the safe renderer in ASCII mode and the framing spec
 * text agree, apart from their documented differences (the renderer passes
 * '"'; a spec word writes space , " ' # as \\xHH). */
static void test_escape_render_and_spec_agree_on_every_byte(void **state)
{
    for (int c = 0; c < 256; c++) {
        unsigned char b = (unsigned char)c;
        struct sp_buf e, r;
        sp_buf_init(&e);
        sp_buf_init(&r);
        sp_escape(&b, 1, &e);
        sp_render(&r, &b, 1, SP_RENDER_ASCII);
        if (c == '"')
            assert_string_equal(sp_buf_str(&r), "\"");
        else
            assert_string_equal(sp_buf_str(&e), sp_buf_str(&r));

        struct sp_frame_spec spec;
        sp_frame_spec_raw(&spec);
        spec.kind = SP_FRAME_DELIM;
        spec.delim[0] = b;
        spec.delim_len = 1;
        spec.max = SP_FRAME_MAX_DEFAULT;
        char text[64], want[64];
        sp_frame_spec_format(&spec, text, sizeof text);
        if (c == ' ' || c == ',' || c == '"' || c == '\'' || c == '#')
            snprintf(want, sizeof want, "delim:\\x%02x", c);
        else
            snprintf(want, sizeof want, "delim:%s", sp_buf_str(&e));
        assert_string_equal(text, want);
        sp_buf_cleanup(&e);
        sp_buf_cleanup(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unescape_vectors),
        cmocka_unit_test(test_unescape_errors_name_position),
        cmocka_unit_test(test_unescape_tiny_error_buffer_is_terminated),
        cmocka_unit_test(test_hex_parse_vectors),
        cmocka_unit_test(test_hex_parse_errors_name_position),
        cmocka_unit_test(test_escape_exact_forms),
        cmocka_unit_test(test_escape_round_trip),
        cmocka_unit_test(test_tokenize_cases),
        cmocka_unit_test(test_tokenize_appends_and_pointers_stay_valid),
        cmocka_unit_test(test_tokenize_errors),
        cmocka_unit_test(test_tokenize_then_unescape),
        cmocka_unit_test(test_escape_render_and_spec_agree_on_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
