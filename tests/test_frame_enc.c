/* Framing encoders: exact wire bytes for each spec, the refusals, and a
 * round trip of random messages through the decoder of every spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/frame.h"
#include "testutil.h"

static void parse_spec(const char *text, struct sp_frame_spec *spec)
{
    char err[200];
    if (sp_frame_spec_parse(spec, text, err, sizeof err) != 0)
        fail_msg("spec '%s': %s", text, err);
}

/* Each message encodes to exactly these wire bytes. */
static const struct {
    const char *spec;
    const char *msg;
    size_t msg_len;
    unsigned flags;
    const char *wire;
    size_t wire_len;
} wires[] = {
#define W(spec, msg, flags, wire)                                                                  \
    {                                                                                              \
        spec, msg, sizeof(msg) - 1, flags, wire, sizeof(wire) - 1                                  \
    }
    W("raw", "hi\n", 0, "hi\n"),
    W("eof", "hi", 0, "hi"),
    W("fixed:3", "abc", 0, "abc"),
    W("fixed:5", "ab", SP_FRAME_ENC_PAD, "ab\0\0\0"),
    W("line", "hi", 0, "hi\n"),
    W("line", "", 0, "\n"),
    W("delim:\\r\\n", "hi", 0, "hi\r\n"),
    W("delim:\\0", "a", 0, "a\0"),
    W("len:u8", "hello", 0, "\x05hello"),
    W("len:u16", "hi", 0, "\x00\x02hi"),
    W("len:u16le", "hi", 0, "\x02\x00hi"),
    W("len:u24", "hi", 0, "\x00\x00\x02hi"),
    W("len:u24le", "hi", 0, "\x02\x00\x00hi"),
    W("len:u32", "hi", 0, "\x00\x00\x00\x02hi"),
    W("len:u32le", "", 0, "\x00\x00\x00\x00"),
    W("len:u64", "hi", 0, "\0\0\0\0\0\0\0\x02hi"),
    W("len:u64le", "hi", 0, "\x02\0\0\0\0\0\0\0hi"),
    W("len:varint", "hi", 0, "\x02hi"),
    W("len:varint,adjust=-128", "hi", 0, "\x82\x01hi"),
    W("len:u16,offset=2", "hi", 0, "\0\0\x00\x02hi"),
    W("len:u16,adjust=-2", "hi", 0, "\x00\x04hi"),
    W("len:u8,adjust=2", "hi", 0, "\x00hi"),
    W("netstring", "hello", 0, "5:hello,"),
    W("netstring", "", 0, "0:,"),
    W("decimal:\\n", "hello", 0, "5\nhello"),
    W("decimal:\\r\\n", "", 0, "0\r\n"),
    W("blocks:u8", "abc", 0,
      "\x03"
      "abc"),
    W("blocks:u8", "abc", SP_FRAME_ENC_END,
      "\x03"
      "abc\x00"),
    W("blocks:u8", "", SP_FRAME_ENC_END, "\x00"),
    W("blocks:u16le,offset=1", "a", SP_FRAME_ENC_END,
      "\0\x01\x00"
      "a\0\x00\x00"),
    W("blocks:u8,adjust=-1", "ab", SP_FRAME_ENC_END,
      "\x03"
      "ab\x01"),
#undef W
};

static void test_encoders_produce_exact_wire_bytes(void **state)
{
    for (size_t i = 0; i < sizeof wires / sizeof wires[0]; i++) {
        struct sp_frame_spec spec;
        parse_spec(wires[i].spec, &spec);
        struct sp_buf out;
        sp_buf_init(&out);
        char err[200] = "";
        if (sp_frame_encode_buf(&spec, (const unsigned char *)wires[i].msg, wires[i].msg_len,
                                wires[i].flags, &out, err, sizeof err) != 0)
            fail_msg("%s: refused: %s", wires[i].spec, err);
        if (out.len != wires[i].wire_len || memcmp(out.data, wires[i].wire, out.len) != 0)
            fail_msg("%s: wrong wire bytes (%zu bytes, want %zu)", wires[i].spec, out.len,
                     wires[i].wire_len);
        sp_buf_cleanup(&out);
    }
}

static void test_wire_parts_let_the_body_go_uncopied(void **state)
{
    struct sp_frame_spec spec;
    struct sp_frame_wire w;
    char err[200];
    parse_spec("blocks:u8", &spec);
    assert_int_equal(sp_frame_encode(&spec, 0, SP_FRAME_ENC_END, &w, err, sizeof err), 0);
    assert_int_equal(w.body, 0);
    assert_int_equal(w.head_len, 1);
    assert_int_equal(w.tail_len, 0);
    parse_spec("fixed:8", &spec);
    assert_int_equal(sp_frame_encode(&spec, 3, SP_FRAME_ENC_PAD, &w, err, sizeof err), 0);
    assert_int_equal(w.body, 1);
    assert_int_equal(w.head_len + w.tail_len, 0);
    assert_int_equal(w.pad_len, 5);
    /* The largest head and tail: offset 64 and a 10-byte varint. */
    parse_spec("blocks:varint,offset=64,adjust=-268435456", &spec);
    assert_int_equal(sp_frame_encode(&spec, 10, SP_FRAME_ENC_END, &w, err, sizeof err), 0);
    assert_int_equal(w.head_len, 64 + 5);
    assert_int_equal(w.tail_len, 64 + 5);
}

/* Each message is refused with an error holding the given word. */
static const struct {
    const char *spec;
    size_t len;
    unsigned flags;
    const char *word;
} refusals[] = {
    {"fixed:4", 3, 0, "--pad"},
    {"fixed:4", 5, 0, "longer"},
    {"fixed:4", 5, SP_FRAME_ENC_PAD, "longer"},
    {"len:u8", 256, 0, "does not fit"},
    {"len:u16", 65536, 0, "does not fit"},
    {"len:u24,max=32M", 1 << 24, 0, "does not fit"},
    {"len:u8,adjust=-1", 255, 0, "does not fit"},
    {"len:u8,adjust=3", 2, 0, "negative"},
    {"len:u32,max=10", 11, 0, "max"},
    {"line,max=10", 11, 0, "max"},
    {"netstring,max=10", 11, 0, "max"},
    {"blocks:u8", 0, 0, "--end"},
    {"blocks:u8,adjust=1", 3, SP_FRAME_ENC_END, "negative"},
};

static void test_encoders_refuse_what_does_not_fit(void **state)
{
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        struct sp_frame_spec spec;
        parse_spec(refusals[i].spec, &spec);
        struct sp_frame_wire w;
        char err[200] = "";
        if (sp_frame_encode(&spec, refusals[i].len, refusals[i].flags, &w, err, sizeof err) != -1)
            fail_msg("%s: %zu bytes accepted", refusals[i].spec, refusals[i].len);
        if (strstr(err, refusals[i].word) == NULL)
            fail_msg("%s: error '%s' lacks '%s'", refusals[i].spec, err, refusals[i].word);
    }
    /* max itself is fine. */
    struct sp_frame_spec spec;
    struct sp_frame_wire w;
    char err[200];
    parse_spec("len:u8,max=255", &spec);
    assert_int_equal(sp_frame_encode(&spec, 255, 0, &w, err, sizeof err), 0);
}

/* Collects decoded messages as "len:bytes" records in one buffer. */
struct msgs {
    struct sp_buf all;
    struct sp_buf cur;
    int errors, truncated;
    uint64_t blocks;
};

static void msgs_cb(void *ud, const struct sp_frame_ev *ev)
{
    struct msgs *m = ud;
    switch (ev->type) {
    case SP_FRAME_EV_BEGIN:
        sp_buf_reset(&m->cur);
        break;
    case SP_FRAME_EV_DATA:
        sp_buf_append(&m->cur, ev->data, ev->len);
        break;
    case SP_FRAME_EV_BLOCK:
        m->blocks++;
        break;
    case SP_FRAME_EV_END:
        m->truncated += ev->truncated;
        sp_buf_appendf(&m->all, "%zu:", m->cur.len);
        sp_buf_append(&m->all, m->cur.data, m->cur.len);
        break;
    case SP_FRAME_EV_ERROR:
        m->errors++;
        break;
    }
}

/* A random body that the spec can carry intact: under line/delim the
 * delimiter must first appear at the end of body + delimiter. */
static size_t random_body(const struct sp_frame_spec *s, uint64_t *seed, unsigned char *out,
                          size_t maxlen)
{
    for (;;) {
        size_t n = (size_t)(tu_rand(seed) % (maxlen + 1));
        if (s->kind == SP_FRAME_FIXED)
            n = (size_t)s->fixed;
        /* A small alphabet makes partial delimiter matches common. */
        int small = (tu_rand(seed) & 1) != 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = tu_rand(seed);
            out[i] = small ? (unsigned char)("\r\n\0ab,"[r % 6]) : (unsigned char)r;
        }
        /* Repair rather than reject (a long body from the small alphabet
         * almost always holds a delimiter): 'Z' is in no delimiter used. */
        if (s->kind == SP_FRAME_LINE) {
            for (size_t i = 0; i < n; i++)
                if (out[i] == '\n')
                    out[i] = 'Z';
            if (n > 0 && out[n - 1] == '\r')
                out[n - 1] = 'Z';
        }
        if (s->kind == SP_FRAME_DELIM) {
            unsigned char tmp[600];
            for (;;) {
                memcpy(tmp, out, n);
                memcpy(tmp + n, s->delim, s->delim_len);
                const unsigned char *hit = memmem(tmp, n + s->delim_len, s->delim, s->delim_len);
                if (hit == tmp + n)
                    break;
                out[hit - tmp] = 'Z';
            }
        }
        /* An empty block ends a series; an empty eof stream is no message. */
        if ((s->kind == SP_FRAME_BLOCKS || s->kind == SP_FRAME_EOF) && n == 0)
            continue;
        return n;
    }
}

static const char *const round_trip_specs[] = {
    "fixed:7",
    "line",
    "delim:\\r\\n",
    "delim:\\0",
    "delim:aab",
    "delim:abab",
    "delim:0123456789abcdef",
    "len:u8",
    "len:u16",
    "len:u16le",
    "len:u24",
    "len:u24le",
    "len:u32",
    "len:u32le",
    "len:u64",
    "len:u64le",
    "len:varint",
    "len:u16,offset=3",
    "len:u16,adjust=-2",
    "len:u32le,offset=2,adjust=-6",
    "len:u8,max=200",
    "netstring",
    "decimal:\\n",
    "decimal:\\r\\n",
    "blocks:u8",
    "blocks:u16le",
    "blocks:varint",
    "blocks:u32,offset=1,adjust=-5",
    "eof",
};

static void round_trip(const char *text, uint64_t seed)
{
    struct sp_frame_spec spec;
    parse_spec(text, &spec);
    struct sp_buf wire, want;
    sp_buf_init(&wire);
    sp_buf_init(&want);
    unsigned char body[600];
    int count = spec.kind == SP_FRAME_EOF ? 1 : 40;
    uint64_t nblocks = 0;
    for (int k = 0; k < count; k++) {
        char err[200] = "";
        if (spec.kind == SP_FRAME_BLOCKS) {
            /* A message is 1..3 blocks, the last one carrying the zero block. */
            struct sp_buf series;
            sp_buf_init(&series);
            int nb = 1 + (int)(tu_rand(&seed) % 3);
            for (int b = 0; b < nb; b++) {
                size_t n = random_body(&spec, &seed, body, 180);
                unsigned fl = b == nb - 1 ? SP_FRAME_ENC_END : 0;
                if (sp_frame_encode_buf(&spec, body, n, fl, &wire, err, sizeof err) != 0)
                    fail_msg("%s: %s", text, err);
                sp_buf_append(&series, body, n);
                nblocks++;
            }
            sp_buf_appendf(&want, "%zu:", series.len);
            sp_buf_append(&want, series.data, series.len);
            sp_buf_cleanup(&series);
            continue;
        }
        size_t maxlen = spec.width == 1 ? 255 : 500;
        if (spec.max != 0 && spec.max < maxlen) /* eof has no max */
            maxlen = (size_t)spec.max;
        size_t n = random_body(&spec, &seed, body, maxlen);
        if (sp_frame_encode_buf(&spec, body, n, 0, &wire, err, sizeof err) != 0)
            fail_msg("%s: %s", text, err);
        sp_buf_appendf(&want, "%zu:", n);
        sp_buf_append(&want, body, n);
    }
    /* Decode the whole stream in random pieces from guarded copies. */
    struct msgs m = {0};
    struct sp_frame_dec dec;
    sp_frame_dec_init(&dec, &spec, msgs_cb, &m);
    size_t pos = 0;
    while (pos < wire.len) {
        size_t l = 1 + (size_t)(tu_rand(&seed) % 97);
        if (l > wire.len - pos)
            l = wire.len - pos;
        unsigned char *g = tu_guard_copy(wire.data + pos, l);
        sp_frame_feed(&dec, g, l);
        tu_guard_free(g, l);
        pos += l;
    }
    sp_frame_finish(&dec);
    assert_int_equal(m.errors, 0);
    assert_int_equal(m.truncated, 0);
    if (m.all.len != want.len || memcmp(m.all.data, want.data, want.len) != 0)
        fail_msg("%s: decoded messages differ from what was encoded", text);
    if (spec.kind == SP_FRAME_BLOCKS)
        assert_int_equal(m.blocks, nblocks); /* every block here is non-empty */
    sp_buf_cleanup(&m.all);
    sp_buf_cleanup(&m.cur);
    sp_buf_cleanup(&wire);
    sp_buf_cleanup(&want);
}

static void test_random_messages_round_trip_every_spec(void **state)
{
    uint64_t seed = 0xF4A3E5ull;
    for (size_t i = 0; i < sizeof round_trip_specs / sizeof round_trip_specs[0]; i++)
        round_trip(round_trip_specs[i], seed + i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoders_produce_exact_wire_bytes),
        cmocka_unit_test(test_wire_parts_let_the_body_go_uncopied),
        cmocka_unit_test(test_encoders_refuse_what_does_not_fit),
        cmocka_unit_test(test_random_messages_round_trip_every_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
