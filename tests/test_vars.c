/* ${NAME} in DATA words (cmd_vars.c): expansion in escape and hex words,
 * $$, a lone $, names, and every error with its offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmd_int.h"

/* x is "a\0b" (3 bytes, a NUL inside), long_name is "L"; anything else is
 * unknown. */
static int resolve(void *ud, const char *name, size_t nlen, struct sp_buf *out, char *err,
                   size_t errlen)
{
    (void)ud;
    if (nlen == 1 && name[0] == 'x') {
        sp_buf_append(out, "a\0b", 3);
        return 0;
    }
    if (nlen == 9 && memcmp(name, "long_name", 9) == 0) {
        sp_buf_appendc(out, 'L');
        return 0;
    }
    snprintf(err, errlen, "unknown variable ${%.*s}", (int)nlen, name);
    return -1;
}

static int expand(const char *s, int hex, struct sp_buf *out, size_t *pos, char *err)
{
    sp_buf_reset(out);
    *pos = 999;
    return cmd__expand(s, strlen(s), hex, resolve, NULL, out, pos, err, 160);
}

static void test_expand_words(void **state)
{
    (void)state;
    struct sp_buf b;
    sp_buf_init(&b);
    size_t pos;
    char err[160];
    assert_int_equal(expand("<${x}>\\n", 0, &b, &pos, err), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "<a\0b>\n", 6);
    assert_int_equal(expand("$$5 $9 $ ${long_name}$", 0, &b, &pos, err), 0);
    assert_string_equal(sp_buf_str(&b), "$5 $9 $ L$");
    /* The variable's bytes are taken as they are, never unescaped again. */
    assert_int_equal(expand("de${x}ad", 1, &b, &pos, err), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data,
                        "\xde"
                        "a\0b"
                        "\xad",
                        5);
    assert_int_equal(expand("", 0, &b, &pos, err), 0);
    assert_int_equal(b.len, 0);
    sp_buf_cleanup(&b);
}

static void test_expand_errors(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int hex;
        size_t pos;
        const char *msg;
    } bad[] = {
        {"ab${nope}", 0, 2, "unknown variable ${nope}"},
        {"ab${x", 0, 2, "unterminated ${"},
        {"${}", 0, 2, "bad variable name"},
        {"${9a}", 0, 2, "bad variable name"},
        {"${a-b}", 0, 2, "bad variable name"},
        {"${abcdefghijabcdefghijabcdefghijab}", 0, 2, "at most 31"},
        {"\\q${x}", 0, 0, "bad escape"},
        {"0${x}1", 1, 0, ""},
        {"${x}zz", 1, 4, ""},
    };
    struct sp_buf b;
    sp_buf_init(&b);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t pos;
        char err[160] = "";
        assert_int_equal(expand(bad[i].s, bad[i].hex, &b, &pos, err), -1);
        assert_int_equal(pos, bad[i].pos);
        assert_non_null(strstr(err, bad[i].msg));
        assert_true(err[0] != '\0');
    }
    sp_buf_cleanup(&b);
}

static void test_var_names(void **state)
{
    (void)state;
    assert_true(cmd__var_name_ok("a", 1));
    assert_true(cmd__var_name_ok("_x9", 3));
    assert_false(cmd__var_name_ok("9x", 2));
    assert_false(cmd__var_name_ok("", 0));
    assert_false(cmd__var_name_ok("a.b", 3));
    assert_true(cmd__var_name_ok("abcdefghijabcdefghijabcdefghija", 31));
    assert_false(cmd__var_name_ok("abcdefghijabcdefghijabcdefghijab", 32));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand_words),
        cmocka_unit_test(test_expand_errors),
        cmocka_unit_test(test_var_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
