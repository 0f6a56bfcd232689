/* sp_buf: growth, termination, formatted appends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/buf.h"

static void test_buf_grows_and_stays_terminated(void **state)
{
    struct sp_buf b;
    sp_buf_init(&b);
    assert_string_equal(sp_buf_str(&b), "");
    for (int i = 0; i < 1000; i++)
        sp_buf_appendc(&b, (unsigned char)('a' + i % 26));
    assert_int_equal(b.len, 1000);
    assert_int_equal(b.data[1000], '\0');
    assert_int_equal(b.data[999], 'a' + 999 % 26);
    sp_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(sp_buf_str(&b), "");
    sp_buf_cleanup(&b);
}

static void test_buf_appendf_long_output(void **state)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appends(&b, "x=");
    char big[600];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sp_buf_appendf(&b, "%d:%s", 42, big);
    assert_int_equal(b.len, 2 + 3 + 599);
    assert_memory_equal(b.data, "x=42:qq", 7);
    assert_int_equal(b.data[b.len], '\0');
    sp_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_stays_terminated),
        cmocka_unit_test(test_buf_appendf_long_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
