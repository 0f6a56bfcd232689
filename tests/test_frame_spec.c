/* Framing specs: good specs parse with the right fields and round-trip
 * through their canonical text; every bad spec gives a one-line error that
 * names the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/frame.h"

static void assert_same_spec(const struct sp_frame_spec *a, const struct sp_frame_spec *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->little_endian, b->little_endian);
    assert_int_equal(a->fixed, b->fixed);
    assert_int_equal(a->delim_len, b->delim_len);
    assert_memory_equal(a->delim, b->delim, a->delim_len);
    assert_int_equal(a->max, b->max);
    assert_int_equal(a->offset, b->offset);
    assert_int_equal(a->adjust, b->adjust);
    assert_int_equal(a->strip, b->strip);
}

/* Each text parses, formats to the canonical form, and that parses back to
 * the same spec (and formats to itself). */
static const struct {
    const char *text, *canon;
} good[] = {
    {"raw", "raw"},
    {"eof", "eof"},
    {"fixed:10", "fixed:10"},
    {"fixed:1K", "fixed:1024"},
    {"fixed:100000,max=1M", "fixed:100000,max=1M"},
    {"line", "line"},
    {"line,max=65536", "line"},
    {"line,max=100", "line,max=100"},
    {"line,max=2k", "line,max=2K"},
    {"delim:\\r\\n", "delim:\\r\\n"},
    {"delim:\\0", "delim:\\0"},
    {"delim:\\x00\\x2C", "delim:\\0\\x2c"},
    {"delim:END", "delim:END"},
    {"delim:\\e\\t\\\\", "delim:\\e\\t\\\\"},
    {"delim:\\x20\\x22\\xff", "delim:\\x20\\x22\\xff"},
    {"delim:0123456789abcdef", "delim:0123456789abcdef"},
    {"len:u8", "len:u8"},
    {"len:u8le", "len:u8"},
    {"len:u16", "len:u16"},
    {"len:u16be", "len:u16"},
    {"len:u16le", "len:u16le"},
    {"len:u24", "len:u24"},
    {"len:u24le", "len:u24le"},
    {"len:u32be", "len:u32"},
    {"len:u32le", "len:u32le"},
    {"len:u64", "len:u64"},
    {"len:u64le", "len:u64le"},
    {"len:varint", "len:varint"},
    {"len:u32,max=4M", "len:u32"},
    {"len:u32,max=256M", "len:u32,max=256M"},
    {"len:u32,max=1000", "len:u32,max=1000"},
    {"len:u32le,max=1M,offset=2", "len:u32le,max=1M,offset=2"},
    {"len:u16,offset=2,strip=4", "len:u16,offset=2"},
    {"len:u16,offset=2,strip=0", "len:u16,offset=2,strip=0"},
    {"len:u16,adjust=-2", "len:u16,adjust=-2"},
    {"len:u16,adjust=+3", "len:u16,adjust=3"},
    {"len:varint,strip=0", "len:varint,strip=0"},
    {"len:u32,strip=1,adjust=-4,offset=64", "len:u32,offset=64,adjust=-4,strip=1"},
    {"netstring", "netstring"},
    {"netstring,max=1M", "netstring,max=1M"},
    {"decimal:\\n", "decimal:\\n"},
    {"decimal:\\r\\n,max=1K", "decimal:\\r\\n,max=1K"},
    {"blocks:u16", "blocks:u16"},
    {"blocks:varint,max=64K", "blocks:varint,max=64K"},
    {"blocks:u32le,offset=1,adjust=1", "blocks:u32le,offset=1,adjust=1"},
};

static void test_good_specs_round_trip(void **state)
{
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct sp_frame_spec a, b;
        char err[200] = "", text[SP_FRAME_SPEC_TEXT_MAX], again[SP_FRAME_SPEC_TEXT_MAX];
        if (sp_frame_spec_parse(&a, good[i].text, err, sizeof err) != 0)
            fail_msg("'%s' rejected: %s", good[i].text, err);
        size_t n = sp_frame_spec_format(&a, text, sizeof text);
        assert_int_equal(n, strlen(text));
        if (strcmp(text, good[i].canon) != 0)
            fail_msg("'%s' formats as '%s', want '%s'", good[i].text, text, good[i].canon);
        if (sp_frame_spec_parse(&b, text, err, sizeof err) != 0)
            fail_msg("canonical '%s' rejected: %s", text, err);
        assert_same_spec(&a, &b);
        sp_frame_spec_format(&b, again, sizeof again);
        assert_string_equal(again, text);
    }
}

static void test_spec_fields_and_defaults(void **state)
{
    struct sp_frame_spec s;
    char err[200];
    assert_int_equal(sp_frame_spec_parse(&s, "len:u32le,max=1M,offset=2", err, sizeof err), 0);
    assert_int_equal(s.kind, SP_FRAME_LEN);
    assert_int_equal(s.width, 4);
    assert_int_equal(s.little_endian, 1);
    assert_int_equal(s.max, 1024 * 1024);
    assert_int_equal(s.offset, 2);
    assert_int_equal(s.adjust, 0);
    assert_int_equal(s.strip, 6); /* default: offset + width, the body only */

    assert_int_equal(sp_frame_spec_parse(&s, "len:varint", err, sizeof err), 0);
    assert_int_equal(s.width, 0);
    assert_int_equal(s.max, SP_FRAME_LEN_MAX_DEFAULT);
    assert_int_equal(s.strip, SP_FRAME_STRIP_HEADER);

    assert_int_equal(sp_frame_spec_parse(&s, "delim:\\r\\n", err, sizeof err), 0);
    assert_int_equal(s.delim_len, 2);
    assert_memory_equal(s.delim, "\r\n", 2);
    assert_int_equal(s.max, SP_FRAME_MAX_DEFAULT);

    assert_int_equal(sp_frame_spec_parse(&s, "delim:\\x00\\xfF", err, sizeof err), 0);
    assert_int_equal(s.delim_len, 2);
    assert_memory_equal(s.delim, "\x00\xff", 2);

    assert_int_equal(sp_frame_spec_parse(&s, "len:u16,max=256M", err, sizeof err), 0);
    assert_int_equal(s.max, SP_FRAME_MAX_CEILING);
    assert_int_equal(sp_frame_spec_parse(&s, "len:u16,adjust=-268435456", err, sizeof err), 0);
    assert_int_equal(s.adjust, -SP_FRAME_ADJUST_MAX);
    assert_int_equal(sp_frame_spec_parse(&s, "fixed:65536", err, sizeof err), 0);
    assert_int_equal(s.fixed, 65536);

    sp_frame_spec_raw(&s);
    assert_int_equal(s.kind, SP_FRAME_RAW);
    char text[SP_FRAME_SPEC_TEXT_MAX];
    assert_int_equal(sp_frame_spec_format(&s, text, sizeof text), 3);
    assert_string_equal(text, "raw");
}

static void test_format_truncates_and_terminates(void **state)
{
    struct sp_frame_spec s;
    char err[200], small[6];
    assert_int_equal(sp_frame_spec_parse(&s, "netstring,max=1M", err, sizeof err), 0);
    memset(small, 'x', sizeof small);
    assert_int_equal(sp_frame_spec_format(&s, small, sizeof small), 5);
    assert_string_equal(small, "netst");
}

/* Each bad spec is refused with an error holding the given word, and the
 * spec passed in is left untouched. */
static const struct {
    const char *text, *word;
} bad[] = {
    {"", "empty"},
    {"bogus", "unknown framing kind"},
    {"LEN:u32", "unknown framing kind"},
    {"fixed", "missing size"},
    {"fixed:", "missing size"},
    {"fixed:0", "at least 1"},
    {"fixed:abc", "bad number"},
    {"fixed:10x", "suffix"},
    {"fixed:10KB", "suffix"},
    {"fixed:65537", "exceeds max"},
    {"fixed:99999999999999999999999", "too large"},
    {"len", "missing width"},
    {"len:", "missing width"},
    {"len:u12", "bad width"},
    {"len:u32xx", "bad width"},
    {"len:u32 ", "bad width"},
    {"len:i32", "bad width"},
    {"len:varintle", "varint"},
    {"blocks:u128", "bad width"},
    {"len:u32,bogus=1", "unknown option"},
    {"len:u32,max", "needs a value"},
    {"len:u32,max=", "missing number"},
    {"len:u32,max=0", "at least 1"},
    {"len:u32,max=1G", "suffix"},
    {"len:u32,max=4X", "suffix"},
    {"len:u32,max=257M", "ceiling"},
    {"len:u32,max=268435457", "ceiling"},
    {"len:u32,max=1M,max=2M", "twice"},
    {"len:u32,offset=65", "out of range"},
    {"len:u32,offset=-1", "out of range"},
    {"len:u32,offset=x", "bad number"},
    {"len:u32,adjust=268435457", "out of range"},
    {"len:u32,adjust=--1", "bad number"},
    {"len:u32,strip=-1", "out of range"},
    {"len:u32,", "empty option"},
    {"len:u32,,max=1", "empty option"},
    {"line,offset=1", "not valid for line"},
    {"netstring,strip=0", "not valid for netstring"},
    {"delim:x,adjust=1", "not valid for delim"},
    {"raw,max=1", "not valid for raw"},
    {"eof,max=1", "not valid for eof"},
    {"line:x", "takes no argument"},
    {"raw:", "takes no argument"},
    {"netstring:5", "takes no argument"},
    {"delim", "empty delimiter"},
    {"delim:", "empty delimiter"},
    {"delim:,", "empty delimiter"},
    {"delim:0123456789abcdefX", "longer than 16"},
    {"delim:\\q", "bad escape"},
    {"delim:\\x4", "bad escape"},
    {"delim:\\xzz", "bad escape"},
    {"delim:ab\\", "backslash"},
    {"decimal:", "empty delimiter"},
    {"decimal:1", "digit"},
    {"decimal:\\n,max=300M", "ceiling"},
};

static void test_bad_specs_give_clear_errors(void **state)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sp_frame_spec s;
        sp_frame_spec_raw(&s);
        s.max = 12345;
        char err[200] = "";
        if (sp_frame_spec_parse(&s, bad[i].text, err, sizeof err) != -1)
            fail_msg("'%s' accepted", bad[i].text);
        if (strstr(err, bad[i].word) == NULL)
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].text, err, bad[i].word);
        assert_null(strchr(err, '\n'));
        assert_int_equal(s.kind, SP_FRAME_RAW);
        assert_int_equal(s.max, 12345);
    }
}

static void test_overlong_spec_text_is_refused(void **state)
{
    char text[SP_FRAME_SPEC_TEXT_MAX + 10];
    memcpy(text, "len:u32", 7);
    memset(text + 7, ' ', sizeof text - 8);
    text[sizeof text - 1] = '\0';
    struct sp_frame_spec s;
    char err[200] = "";
    assert_int_equal(sp_frame_spec_parse(&s, text, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_specs_round_trip),
        cmocka_unit_test(test_spec_fields_and_defaults),
        cmocka_unit_test(test_format_truncates_and_terminates),
        cmocka_unit_test(test_bad_specs_give_clear_errors),
        cmocka_unit_test(test_overlong_spec_text_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
