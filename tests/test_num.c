/* The one number parser: every caller (command arguments, framing specs,
 * ports, socket IDs) gets the same answer and the same error position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/num.h"

struct num_case {
    const char *s;
    int suffixes;
    int r;
    uint64_t v;
    size_t pos;
};

static const struct num_case cases[] = {
    {"0", 0, 0, 0, 0},
    {"007", 0, 0, 7, 0},
    {"65535", 0, 0, 65535, 0},
    {"18446744073709551615", 0, 0, UINT64_MAX, 0},
    {"18446744073709551616", 0, SP_NUM_TOO_LARGE, 0, 19},
    {"99999999999999999999999", 0, SP_NUM_TOO_LARGE, 0, 19},
    {"", 0, SP_NUM_EMPTY, 0, 0},
    {"", 1, SP_NUM_EMPTY, 0, 0},
    {"x", 0, SP_NUM_NOT_DIGIT, 0, 0},
    {"-1", 0, SP_NUM_NOT_DIGIT, 0, 0},
    {"+1", 0, SP_NUM_NOT_DIGIT, 0, 0},
    {" 1", 0, SP_NUM_NOT_DIGIT, 0, 0},
    {"1 ", 0, SP_NUM_NOT_DIGIT, 0, 1},
    {"12Q", 0, SP_NUM_NOT_DIGIT, 0, 2},
    {"1e3", 0, SP_NUM_NOT_DIGIT, 0, 1},
    {"0x10", 0, SP_NUM_NOT_DIGIT, 0, 1},
    {"4K", 0, SP_NUM_NOT_DIGIT, 0, 1},
    {"4K", 1, 0, 4096, 0},
    {"4k", 1, 0, 4096, 0},
    {"4M", 1, 0, 4194304, 0},
    {"4m", 1, 0, 4194304, 0},
    {"4G", 1, SP_NUM_NOT_DIGIT, 0, 1},
    {"4KK", 1, SP_NUM_NOT_DIGIT, 0, 1},
    {"K", 1, SP_NUM_NOT_DIGIT, 0, 0},
    {"17592186044416M", 1, SP_NUM_TOO_LARGE, 0, 14},
    {"17592186044415M", 1, 0, 17592186044415ull * 1048576ull, 0},
};

static void test_num_table(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct num_case *c = &cases[i];
        uint64_t v = 12345;
        size_t pos = 99;
        int r = sp_parse_u64(c->s, strlen(c->s), c->suffixes, &v, &pos);
        if (r != c->r)
            fail_msg("\"%s\": %d, expected %d", c->s, r, c->r);
        if (r == 0 && v != c->v)
            fail_msg("\"%s\": %llu, expected %llu", c->s, (unsigned long long)v,
                     (unsigned long long)c->v);
        if (r != 0 && (v != 12345 || pos != c->pos))
            fail_msg("\"%s\": error at %zu (expected %zu), value touched: %d", c->s, pos, c->pos,
                     v != 12345);
    }
}

/* Only n bytes are read: a number inside a longer text ends where told. */
static void test_num_reads_only_n_bytes(void **state)
{
    uint64_t v;
    size_t pos;
    assert_int_equal(sp_parse_u64("123,456", 3, 0, &v, &pos), 0);
    assert_int_equal(v, 123);
    assert_int_equal(sp_parse_u64("8Kx", 2, 1, &v, &pos), 0);
    assert_int_equal(v, 8192);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_table),
        cmocka_unit_test(test_num_reads_only_n_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
