/* Framing decoders: every spec replayed whole, byte by byte, at every two-way
 * split and at random multi-way splits, each time compared to one normalised
 * event log. Every piece is fed from right before a PROT_NONE page, so any
 * over-read crashes, and every event's chunk position is checked against the
 * actual chunking. Each feeding is repeated with SP_FRAME_DEC_ENDS_ONLY, on
 * throughout and toggled chunk by chunk, and must give the same END and
 * ERROR events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/frame.h"
#include "testutil.h"

/* The normalised log: B@off (begin), D'bytes' (all DATA up to the next event,
 * coalesced, non-printables as \xHH), Kn (block of n bytes), E@off:len with
 * T when truncated by EOF (Ts: by a framing change, Td: by a datagram's end), X@off'reason' with R
 * when the decoder went raw. Stream offsets do not depend on chunking, so one log serves every
 * feeding; chunk numbers and chunk offsets do, and are checked separately in rec_cb. */
enum rec_mode {
    REC_FULL,      /* every event */
    REC_ENDS_ONLY, /* SP_FRAME_DEC_ENDS_ONLY: BEGIN, DATA and BLOCK are bugs */
    REC_MIXED,     /* the flag toggled between chunks: parts are ignored */
};

struct rec {
    enum rec_mode mode;
    struct sp_buf log;
    struct sp_buf ends; /* the E and X tokens alone, as in log */
    struct sp_buf data; /* DATA not yet written to the log */
    int have_data;
    const size_t *starts; /* the current feeding: chunk k starts at starts[k-1] */
    const size_t *lens;
    uint64_t fed; /* chunks fed so far */
    int in_msg, raw;
    uint64_t sum;  /* DATA bytes in the current message */
    char bad[256]; /* the first broken invariant */
};

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof *r);
    sp_buf_init(&r->log);
    sp_buf_init(&r->ends);
    sp_buf_init(&r->data);
}

static void rec_cleanup(struct rec *r)
{
    sp_buf_cleanup(&r->log);
    sp_buf_cleanup(&r->ends);
    sp_buf_cleanup(&r->data);
}

static void rec_bad(struct rec *r, const char *what, uint64_t a, uint64_t b)
{
    if (r->bad[0] == '\0')
        snprintf(r->bad, sizeof r->bad, "%s (%llu, %llu)", what, (unsigned long long)a,
                 (unsigned long long)b);
}

static void buf_token(struct sp_buf *b, const char *tok)
{
    if (b->len > 0)
        sp_buf_appendc(b, ' ');
    sp_buf_appends(b, tok);
}

static void rec_token(struct rec *r, const char *tok)
{
    buf_token(&r->log, tok);
    if (tok[0] == 'E' || tok[0] == 'X')
        buf_token(&r->ends, tok);
}

static void rec_flush(struct rec *r)
{
    if (!r->have_data)
        return;
    if (r->log.len > 0)
        sp_buf_appendc(&r->log, ' ');
    sp_buf_appends(&r->log, "D'");
    for (size_t i = 0; i < r->data.len; i++) {
        unsigned char c = r->data.data[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            sp_buf_appendc(&r->log, c);
        else
            sp_buf_appendf(&r->log, "\\x%02x", c);
    }
    sp_buf_appendc(&r->log, '\'');
    sp_buf_reset(&r->data);
    r->have_data = 0;
}

/* The byte at stream offset o must be at chunk_off inside chunk (for END,
 * o is the frame's last byte and chunk_off points just past it). */
static void rec_check_pos(struct rec *r, uint64_t chunk, size_t chunk_off, uint64_t o, int end)
{
    if (chunk < 1 || chunk > r->fed) {
        rec_bad(r, "chunk number out of range", chunk, r->fed);
        return;
    }
    size_t st = r->starts[chunk - 1], ln = r->lens[chunk - 1];
    if (o < st || o >= st + ln)
        rec_bad(r, "byte not in the reported chunk", o, chunk);
    else if (chunk_off != o - st + (size_t)end)
        rec_bad(r, "chunk_off wrong", chunk_off, o - st + (size_t)end);
}

static void rec_cb(void *ud, const struct sp_frame_ev *ev)
{
    struct rec *r = ud;
    char tok[200];
    if (r->raw)
        rec_bad(r, "event after the decoder went raw", ev->type, 0);
    int part = ev->type == SP_FRAME_EV_BEGIN || ev->type == SP_FRAME_EV_DATA ||
               ev->type == SP_FRAME_EV_BLOCK;
    if (r->mode == REC_ENDS_ONLY && part)
        rec_bad(r, "BEGIN, DATA or BLOCK with SP_FRAME_DEC_ENDS_ONLY", ev->type, 0);
    if (r->mode != REC_FULL) {
        /* Without BEGIN and DATA the in-message and msg_len checks have
         * nothing to go by: the END and ERROR tokens are compared with the
         * full feeding's instead. */
        if (part)
            return;
        r->in_msg = 1;
        r->sum = ev->msg_len;
    }
    if (ev->type == SP_FRAME_EV_DATA) {
        if (!r->in_msg)
            rec_bad(r, "DATA outside a message", ev->len, 0);
        if (ev->len == 0 || ev->data == NULL)
            rec_bad(r, "empty DATA", ev->len, 0);
        sp_buf_append(&r->data, ev->data, ev->len);
        r->have_data = 1;
        r->sum += ev->len;
        return;
    }
    rec_flush(r);
    switch (ev->type) {
    case SP_FRAME_EV_BEGIN:
        if (r->in_msg)
            rec_bad(r, "BEGIN inside a message", ev->off, 0);
        rec_check_pos(r, ev->chunk, ev->chunk_off, ev->off, 0);
        r->in_msg = 1;
        r->sum = 0;
        snprintf(tok, sizeof tok, "B@%llu", (unsigned long long)ev->off);
        break;
    case SP_FRAME_EV_BLOCK:
        if (!r->in_msg || ev->block_len == 0)
            rec_bad(r, "bad BLOCK", ev->block_len, 0);
        snprintf(tok, sizeof tok, "K%llu", (unsigned long long)ev->block_len);
        break;
    case SP_FRAME_EV_END:
        if (!r->in_msg)
            rec_bad(r, "END outside a message", ev->off, 0);
        if (ev->msg_len != r->sum)
            rec_bad(r, "msg_len is not the sum of DATA", ev->msg_len, r->sum);
        if (ev->off == 0)
            rec_bad(r, "END at offset 0", 0, 0);
        else
            rec_check_pos(r, ev->chunk, ev->chunk_off, ev->off - 1, 1);
        r->in_msg = 0;
        snprintf(tok, sizeof tok, "E@%llu:%llu%s", (unsigned long long)ev->off,
                 (unsigned long long)ev->msg_len,
                 ev->truncated == SP_FRAME_CUT_EOF        ? "T"
                 : ev->truncated == SP_FRAME_CUT_SPEC     ? "Ts"
                 : ev->truncated == SP_FRAME_CUT_DATAGRAM ? "Td"
                 : ev->truncated                          ? "T?"
                                                          : "");
        break;
    case SP_FRAME_EV_ERROR:
        if (!r->in_msg)
            rec_bad(r, "ERROR outside a message", ev->off, 0);
        rec_check_pos(r, ev->chunk, ev->chunk_off, ev->off, 0);
        r->in_msg = 0;
        r->raw = ev->to_raw;
        snprintf(tok, sizeof tok, "X@%llu'%s'%s", (unsigned long long)ev->off, ev->reason,
                 ev->to_raw ? "R" : "");
        break;
    default:
        rec_bad(r, "unknown event", ev->type, 0);
        return;
    }
    rec_token(r, tok);
}

static void parse_spec(const char *text, struct sp_frame_spec *spec)
{
    char err[200];
    if (sp_frame_spec_parse(spec, text, err, sizeof err) != 0)
        fail_msg("spec '%s': %s", text, err);
}

/* Decoder flags every feeding adds (SP_FRAME_DEC_DGRAM for datagrams). */
static unsigned feed_flags;

/* Feeds in[] cut into pieces of lens[0..k) (chunk c starts at starts[c]) in
 * the given mode, then finishes; r gets the log. */
static void feed_mode(const struct sp_frame_spec *spec, const unsigned char *in,
                      const size_t *starts, const size_t *lens, size_t k, enum rec_mode mode,
                      struct rec *r)
{
    rec_init(r);
    r->mode = mode;
    r->starts = starts;
    r->lens = lens;
    struct sp_frame_dec dec;
    sp_frame_dec_init(&dec, spec, rec_cb, r);
    sp_frame_dec_set_flags(&dec, feed_flags | (mode == REC_ENDS_ONLY ? SP_FRAME_DEC_ENDS_ONLY : 0));
    for (size_t c = 0; c < k; c++) {
        if (mode == REC_MIXED)
            sp_frame_dec_set_flags(&dec, feed_flags | (c % 2 == 0 ? SP_FRAME_DEC_ENDS_ONLY : 0));
        unsigned char *g = tu_guard_copy(in + starts[c], lens[c]);
        r->fed = c + 1;
        sp_frame_feed(&dec, g, lens[c]);
        tu_guard_free(g, lens[c]);
    }
    if (mode == REC_MIXED)
        sp_frame_dec_set_flags(&dec, feed_flags | (k % 2 == 0 ? SP_FRAME_DEC_ENDS_ONLY : 0));
    sp_frame_finish(&dec);
    rec_flush(r);
}

/* Feeds in[0..n) cut into pieces of lens[0..k), then finishes; checks the
 * log (unless want is NULL) and the invariants, then that the ends-only modes report the same
 * END and ERROR events (positions, chunk spans, msg_len) as the full one. */
static void run_feeding(const char *spec_text, const unsigned char *in, size_t n,
                        const size_t *lens, size_t k, const char *want, const char *how)
{
    struct sp_frame_spec spec;
    parse_spec(spec_text, &spec);
    size_t *starts = calloc(k + 1, sizeof *starts);
    assert_non_null(starts);
    size_t pos = 0;
    for (size_t c = 0; c < k; c++) {
        starts[c] = pos;
        pos += lens[c];
    }
    assert_int_equal(pos, n);
    struct rec r;
    feed_mode(&spec, in, starts, lens, k, REC_FULL, &r);
    if (r.bad[0] != '\0')
        fail_msg("%s fed %s: %s", spec_text, how, r.bad);
    if (want != NULL && strcmp(sp_buf_str(&r.log), want) != 0)
        fail_msg("%s fed %s:\n  got  %s\n  want %s", spec_text, how, sp_buf_str(&r.log), want);
    static const char *const names[] = {"", "ends only", "ends only toggled"};
    for (enum rec_mode m = REC_ENDS_ONLY; m <= REC_MIXED; m++) {
        struct rec e;
        feed_mode(&spec, in, starts, lens, k, m, &e);
        if (e.bad[0] != '\0')
            fail_msg("%s fed %s, %s: %s", spec_text, how, names[m], e.bad);
        if (strcmp(sp_buf_str(&e.ends), sp_buf_str(&r.ends)) != 0)
            fail_msg("%s fed %s, %s:\n  got  %s\n  want %s", spec_text, how, names[m],
                     sp_buf_str(&e.ends), sp_buf_str(&r.ends));
        rec_cleanup(&e);
    }
    rec_cleanup(&r);
    free(starts);
}

/* Replays one vector in every feeding the house style asks for. */
static void replay(const char *spec, const unsigned char *in, size_t n, const char *want)
{
    size_t whole[1] = {n};
    run_feeding(spec, in, n, whole, 1, want, "whole");

    size_t *lens = calloc(n + 2, sizeof *lens);
    assert_non_null(lens);
    for (size_t i = 0; i < n; i++)
        lens[i] = 1;
    if (n > 0)
        run_feeding(spec, in, n, lens, n, want, "byte by byte");

    for (size_t i = 0; i <= n; i++) {
        size_t two[2] = {i, n - i};
        char how[64];
        snprintf(how, sizeof how, "split at %zu", i);
        run_feeding(spec, in, n, two, 2, want, how);
    }

    uint64_t seed = 0x5eed0000u + n;
    for (int t = 0; t < 16; t++) {
        size_t k = 0, pos = 0;
        while (pos < n) {
            size_t l = (size_t)(tu_rand(&seed) % 5); /* 0: an empty chunk */
            if (l > n - pos)
                l = n - pos;
            lens[k++] = l;
            pos += l;
            if (k == n + 1) {
                lens[k - 1] += n - pos;
                pos = n;
            }
        }
        char how[64];
        snprintf(how, sizeof how, "random split #%d", t);
        run_feeding(spec, in, n, lens, k, want, how);
    }
    free(lens);
}

struct vec {
    const char *spec;
    const char *in;
    size_t len;
    const char *want;
};

/* sizeof keeps embedded NUL bytes in the input. */
#define V(spec, in, want)                                                                          \
    {                                                                                              \
        spec, in, sizeof(in) - 1, want                                                             \
    }

/* Errors name their figures: the length read and the max it broke. */
#define OVER(len, max) "'length " #len " over max " #max "'R"
#define NODELIM(max)   "'delimiter not found within max " #max " bytes'"
#define OVER_ALL_BITS  "'length 18446744073709551615 over max 4194304'R"

static const struct vec raw_eof_fixed[] = {
    V("raw", "hello\n", ""),
    V("eof", "hello world", "B@0 D'hello world' E@11:11"),
    V("eof", "", ""),
    V("fixed:4", "abcdefghij", "B@0 D'abcd' E@4:4 B@4 D'efgh' E@8:4 B@8 D'ij' E@10:2T"),
    V("fixed:1", "ab", "B@0 D'a' E@1:1 B@1 D'b' E@2:1"),
    V("fixed:3", "", ""),
};

static const struct vec lines[] = {
    V("line", "hello\nworld\r\n\nx\r\ry\n",
      "B@0 D'hello' E@6:5 B@6 D'world' E@13:5 B@13 E@14:0 B@14 D'x\\x0d\\x0dy' E@19:4"),
    V("line", "a\r\r\n\r\n", "B@0 D'a\\x0d' E@4:2 B@4 E@6:0"),
    V("line", "abc\r", "B@0 D'abc\\x0d' E@4:4T"),
    V("line", "\r", "B@0 D'\\x0d' E@1:1T"),
    V("line", "ab", "B@0 D'ab' E@2:2T"),
    V("line", "\r\r\r\n", "B@0 D'\\x0d\\x0d' E@4:2"),
    /* max: a message of exactly max passes; one more byte is an error, then
     * the decoder skips to the next '\n' and starts afresh after it. */
    V("line,max=4", "abcd\nabcde\nxy\n",
      "B@0 D'abcd' E@5:4 B@5 D'abcd' X@9" NODELIM(4) " B@11 D'xy' E@14:2"),
    V("line,max=3", "abc\r\nabc\rd\nz\n",
      "B@0 D'abc' E@5:3 B@5 D'abc' X@8" NODELIM(3) " B@11 D'z' E@13:1"),
    V("line,max=2", "abcdef", "B@0 D'ab' X@2" NODELIM(2)),
    V("line,max=2", "ab\r", "B@0 D'ab' E@3:2T"),
    V("line,max=1", "abc\r\r\n\n", "B@0 D'a' X@1" NODELIM(1) " B@6 E@7:0"),
};

static const struct vec delims[] = {
    V("delim:\\r\\n", "ab\r\ncd\r\r\n\r\n", "B@0 D'ab' E@4:2 B@4 D'cd\\x0d' E@9:3 B@9 E@11:0"),
    V("delim:aab", "xaaab", "B@0 D'xa' E@5:2"),
    V("delim:abab", "abaabababx", "B@0 D'aba' E@7:3 B@7 D'abx' E@10:3T"),
    V("delim:END", "helloEN", "B@0 D'helloEN' E@7:7T"),
    V("delim:\\0", "a\0b\0", "B@0 D'a' E@2:1 B@2 D'b' E@4:1"),
    V("delim:\\x2c", "a,,b", "B@0 D'a' E@2:1 B@2 E@3:0 B@3 D'b' E@4:1T"),
    V("delim:0123456789abcdef", "hi0123456789abcdef0123", "B@0 D'hi' E@18:2 B@18 D'0123' E@22:4T"),
    /* The byte over max is a held-back 'a' that turned out to be body. */
    V("delim:ab,max=3", "xxxaabcab", "B@0 D'xxx' X@3" NODELIM(3) " B@6 D'c' E@9:1"),
    V("delim:abc,max=4",
      "ababab"
      "abc"
      "q"
      "abc",
      "B@0 D'abab' X@4" NODELIM(4) " B@9 D'q' E@13:1"),
};

static const struct vec lens[] = {
    V("len:u8", "\x05hello\x00\x02hi", "B@0 D'hello' E@6:5 B@6 E@7:0 B@7 D'hi' E@10:2"),
    V("len:u16",
      "\x00\x03"
      "abc",
      "B@0 D'abc' E@5:3"),
    V("len:u16le",
      "\x03\x00"
      "abc\x01\x00z",
      "B@0 D'abc' E@5:3 B@5 D'z' E@8:1"),
    V("len:u24", "\x00\x00\x02hi\x00\x00\x01", "B@0 D'hi' E@5:2 B@5 E@8:0T"),
    V("len:u24le", "\x02\x00\x00hi\x01\x01\x00", "B@0 D'hi' E@5:2 B@5 E@8:0T"),
    V("len:u32", "\x00\x00\x00\x05hello\x00\x00", "B@0 D'hello' E@9:5 B@9 E@11:0T"),
    V("len:u32le", "\x05\x00\x00\x00hello", "B@0 D'hello' E@9:5"),
    V("len:u64", "\0\0\0\0\0\0\0\x02hi", "B@0 D'hi' E@10:2"),
    V("len:u64le", "\x02\0\0\0\0\0\0\0hi", "B@0 D'hi' E@10:2"),
    V("len:u32",
      "\x00\x00\x01\x00"
      "abc",
      "B@0 D'abc' E@7:3T"),
    /* varint: multi-byte (130 = 0x82 0x01), non-canonical, limits. */
    V("len:varint,adjust=-126",
      "\x82\x01"
      "abcd",
      "B@0 D'abcd' E@6:4"),
    V("len:varint",
      "\x83\x00"
      "abc\x00",
      "B@0 D'abc' E@5:3 B@5 E@6:0"),
    V("len:varint", "\x82", "B@0 E@1:0T"),
    V("len:varint", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "B@0 X@9" OVER_ALL_BITS),
    V("len:varint", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",
      "B@0 X@9'varint longer than 64 bits'R"),
    V("len:varint", "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00",
      "B@0 X@9'varint longer than 64 bits'R"),
    V("len:varint,offset=1", "H\x02hi", "B@0 D'hi' E@4:2"),
    V("len:u64",
      "\xff\xff\xff\xff\xff\xff\xff\xff"
      "abc",
      "B@0 X@7" OVER_ALL_BITS),
    /* max: equal passes, one more is rejected at the header's last byte and
     * the rest of the stream is raw (no more events). */
    V("len:u8,max=3",
      "\x03"
      "abc\x04"
      "abcd\x01x",
      "B@0 D'abc' E@4:3 B@4 X@4" OVER(4, 3)),
    V("len:u16,max=1K", "\x04\x01", "B@0 X@1" OVER(1025, 1024)),
    /* offset, strip, adjust. */
    V("len:u16,offset=2", "XY\x00\x02hi", "B@0 D'hi' E@6:2"),
    V("len:u16,offset=2,strip=0", "XY\x00\x02hi", "B@0 D'XY\\x00\\x02hi' E@6:6"),
    V("len:u8,offset=1,strip=1", "Z\x02hi", "B@0 D'\\x02hi' E@4:3"),
    V("len:u8,strip=3",
      "\x04"
      "abcd",
      "B@0 D'cd' E@5:2"),
    V("len:u8,strip=9",
      "\x02"
      "ab\x01"
      "c",
      "B@0 E@3:0 B@3 E@5:0"),
    V("len:u16,adjust=-2", "\x00\x04hi", "B@0 D'hi' E@4:2"),
    V("len:u16,adjust=-2", "\x00\x01", "B@0 X@1'length 1 with adjust -2 is negative'R"),
    V("len:u8,adjust=2",
      "\x00"
      "ab",
      "B@0 D'ab' E@3:2"),
    V("len:u8,max=4,adjust=2",
      "\x02"
      "abcd\x03",
      "B@0 D'abcd' E@5:4 B@5 X@5" OVER(5, 4)),
    /* EOF inside a header or body. */
    V("len:u32", "\x00\x00", "B@0 E@2:0T"),
    V("len:u16,strip=0", "\x00", "B@0 D'\\x00' E@1:1T"),
    V("len:u8", "\x05he", "B@0 D'he' E@3:2T"),
};

static const struct vec blocks[] = {
    V("blocks:u8",
      "\x03"
      "abc\x02"
      "de\x00\x01x\x00",
      "B@0 K3 D'abc' K2 D'de' E@8:5 B@8 K1 D'x' E@11:1"),
    V("blocks:u16", "\x00\x00", "B@0 E@2:0"),
    V("blocks:u16le", "\x02\x00hi\x00\x00", "B@0 K2 D'hi' E@6:2"),
    V("blocks:u8,max=4",
      "\x03"
      "abc\x02"
      "de",
      "B@0 K3 D'abc' X@4'blocks add up to 5 bytes, over max 4'R"),
    V("blocks:u8,max=5",
      "\x03"
      "abc\x02"
      "de\x00",
      "B@0 K3 D'abc' K2 D'de' E@8:5"),
    V("blocks:u8",
      "\x02"
      "ab\x01",
      "B@0 K2 D'ab' K1 E@4:2T"),
    V("blocks:u8,strip=0",
      "\x01"
      "a\x00",
      "B@0 K1 D'\\x01a\\x00' E@3:3"),
    V("blocks:u8,adjust=-1",
      "\x03"
      "ab\x01",
      "B@0 K2 D'ab' E@4:2"),
    V("blocks:varint,adjust=-126",
      "\x82\x01"
      "abcd\x7e",
      "B@0 K4 D'abcd' E@7:4"),
    V("blocks:u32le,offset=1",
      "T\x01\x00\x00\x00"
      "aT\x00\x00\x00\x00",
      "B@0 K1 D'a' E@11:1"),
};

static const struct vec texts[] = {
    V("netstring", "5:hello,0:,", "B@0 D'hello' E@8:5 B@8 E@11:0"),
    V("netstring", "05:hello,", "B@0 D'hello' E@9:5"),
    V("netstring", "5:hello;", "B@0 D'hello' X@7'missing ',' after body'R"),
    V("netstring", "x:", "B@0 X@0'bad digit in length'R"),
    V("netstring", ":", "B@0 X@0'bad digit in length'R"),
    V("netstring", "12a", "B@0 X@2'missing ':' after length'R"),
    V("netstring,max=5", "6:abcdef,", "B@0 X@0'length at least 6, over max 5'R"),
    V("netstring,max=5", "5:abcde,", "B@0 D'abcde' E@8:5"),
    V("netstring,max=10", "100:", "B@0 X@2'length at least 100, over max 10'R"),
    V("netstring", "3:ab", "B@0 D'ab' E@4:2T"),
    V("netstring", "3:abc", "B@0 D'abc' E@5:3T"),
    V("decimal:\\n", "5\nhello0\n2\nhi", "B@0 D'hello' E@7:5 B@7 E@9:0 B@9 D'hi' E@13:2"),
    V("decimal:\\r\\n", "3\r\nabc", "B@0 D'abc' E@6:3"),
    V("decimal:\\r\\n", "3\rxabc", "B@0 X@2'bad separator after length'R"),
    V("decimal:\\n", "3x", "B@0 X@1'bad digit in length'R"),
    V("decimal:\\n", "\n", "B@0 X@0'bad digit in length'R"),
    V("decimal:\\n,max=9", "10\n", "B@0 X@1'length at least 10, over max 9'R"),
    V("decimal:\\n", "4\nab", "B@0 D'ab' E@4:2T"),
};

static void replay_table(const struct vec *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        replay(v[i].spec, (const unsigned char *)v[i].in, v[i].len, v[i].want);
}

#define TABLE(t) replay_table(t, sizeof t / sizeof t[0])

static void test_raw_eof_fixed_vectors_every_split(void **state)
{
    TABLE(raw_eof_fixed);
}

static void test_line_vectors_every_split(void **state)
{
    TABLE(lines);
}

static void test_delim_vectors_every_split(void **state)
{
    TABLE(delims);
}

static void test_len_vectors_every_split(void **state)
{
    TABLE(lens);
}

static void test_blocks_vectors_every_split(void **state)
{
    TABLE(blocks);
}

static void test_netstring_decimal_vectors_every_split(void **state)
{
    TABLE(texts);
}

/* Datagrams: each chunk is framed on its own. A frame cut by the
 * datagram's end is a truncated message, never completed by the next
 * datagram; a length error costs only the rest of its datagram. */
struct dgram_vec {
    const char *spec;
    const char *dgrams[4]; /* NULL-terminated */
    size_t lens[4];        /* their sizes (NUL bytes inside) */
    const char *want;
};

static void test_dgram_frames_each_datagram_on_its_own(void **state)
{
    static const struct dgram_vec vecs[] = {
        /* Two senders: "abc" then "def\n" were one message "abcdef". */
        {"line", {"abc", "def\n", NULL}, {3, 4}, "B@0 D'abc' E@3:3Td B@3 D'def' E@7:3"},
        /* A length announced in one datagram was completed by the next. */
        {"len:u8",
         {"\x05"
          "ab",
          "\x03"
          "cde",
          NULL},
         {3, 4},
         "B@0 D'ab' E@3:2Td B@3 D'cde' E@7:3"},
        {"len:u8",
         {"\x01"
          "a"
          "\x01",
          "\x00", NULL},
         {3, 1},
         "B@0 D'a' E@2:1 B@2 E@3:0Td B@3 E@4:0"},
        {"line", {"a\r", "\nb\n", NULL}, {2, 3}, "B@0 D'a\\x0d' E@2:2Td B@2 E@3:0 B@3 D'b' E@5:1"},
        {"delim:END", {"xEN", "D", NULL}, {3, 1}, "B@0 D'xEN' E@3:3Td B@3 D'D' E@4:1Td"},
        {"fixed:2",
         {"abc", "d", NULL},
         {3, 1},
         "B@0 D'ab' E@2:2 B@2 D'c' E@3:1Td B@3 D'd' E@4:1Td"},
        {"netstring",
         {"3:ab", "c,", NULL},
         {4, 2},
         "B@0 D'ab' E@4:2Td B@4 X@4'bad digit in length; rest of the datagram dropped'"},
        {"blocks:u8",
         {"\x01"
          "a",
          "\x00", NULL},
         {2, 1},
         "B@0 K1 D'a' E@2:1Td B@2 E@3:0"},
        /* Under eof each datagram is a whole message. */
        {"eof", {"hello", "", "x", NULL}, {5, 0, 1}, "B@0 D'hello' E@5:5 B@5 D'x' E@6:1"},
        /* A bad length drops the rest of its datagram only: no raw. */
        {"len:u8,max=3",
         {"\x09"
          "abc"
          "\x01"
          "q",
          "\x01"
          "z",
          NULL},
         {6, 2},
         "B@0 X@0'length 9 over max 3; rest of the datagram dropped' B@6 D'z' E@8:1"},
        /* An over-long line resynchronises at the next datagram. */
        {"line,max=2",
         {"abcdef", "xy\n", NULL},
         {6, 3},
         "B@0 D'ab' X@2'delimiter not found within max 2 bytes' B@6 D'xy' E@9:2"},
    };
    feed_flags = SP_FRAME_DEC_DGRAM;
    for (size_t v = 0; v < sizeof vecs / sizeof vecs[0]; v++) {
        unsigned char in[64];
        size_t k = 0, n = 0;
        for (; vecs[v].dgrams[k] != NULL; k++) {
            memcpy(in + n, vecs[v].dgrams[k], vecs[v].lens[k]);
            n += vecs[v].lens[k];
        }
        run_feeding(vecs[v].spec, in, n, vecs[v].lens, k, vecs[v].want, "as datagrams");
    }
    feed_flags = 0;
}

/* Collects raw events for the tests that look at exact fields. */
struct evlog {
    struct sp_frame_ev ev[32];
    size_t n;
};

static void evlog_cb(void *ud, const struct sp_frame_ev *ev)
{
    struct evlog *l = ud;
    assert_true(l->n < 32);
    l->ev[l->n] = *ev;
    l->ev[l->n].data = NULL; /* borrowed: not valid after the call */
    l->n++;
}

static void feed_str(struct sp_frame_dec *dec, const char *s)
{
    size_t n = strlen(s);
    unsigned char *g = tu_guard_copy(s, n);
    sp_frame_feed(dec, g, n);
    tu_guard_free(g, n);
}

static void test_empty_chunks_are_counted(void **state)
{
    struct sp_frame_spec spec;
    parse_spec("line", &spec);
    struct evlog l = {0};
    struct sp_frame_dec dec;
    sp_frame_dec_init(&dec, &spec, evlog_cb, &l);
    feed_str(&dec, "");
    feed_str(&dec, "ab");
    feed_str(&dec, "");
    feed_str(&dec, "c\n");
    assert_int_equal(l.n, 4); /* B D D E */
    assert_int_equal(l.ev[0].type, SP_FRAME_EV_BEGIN);
    assert_int_equal(l.ev[0].chunk, 2);
    assert_int_equal(l.ev[0].chunk_off, 0);
    assert_int_equal(l.ev[0].off, 0);
    assert_int_equal(l.ev[3].type, SP_FRAME_EV_END);
    assert_int_equal(l.ev[3].chunk, 4);
    assert_int_equal(l.ev[3].chunk_off, 2);
    assert_int_equal(l.ev[3].off, 4);
    assert_int_equal(l.ev[3].msg_len, 3);
}

static void test_finish_end_points_at_last_byte(void **state)
{
    struct sp_frame_spec spec;
    parse_spec("eof", &spec);
    struct evlog l = {0};
    struct sp_frame_dec dec;
    sp_frame_dec_init(&dec, &spec, evlog_cb, &l);
    feed_str(&dec, "ab");
    feed_str(&dec, "cde");
    feed_str(&dec, ""); /* an empty chunk after the last byte */
    sp_frame_finish(&dec);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.ev[3].type, SP_FRAME_EV_END);
    assert_int_equal(l.ev[3].truncated, 0);
    assert_int_equal(l.ev[3].chunk, 2);
    assert_int_equal(l.ev[3].chunk_off, 3);
    assert_int_equal(l.ev[3].off, 5);
    assert_int_equal(l.ev[3].msg_len, 5);
}

static void test_length_error_turns_decoder_raw(void **state)
{
    struct sp_frame_spec spec;
    parse_spec("len:u16,max=10", &spec);
    struct evlog l = {0};
    struct sp_frame_dec dec;
    sp_frame_dec_init(&dec, &spec, evlog_cb, &l);
    assert_int_equal(sp_frame_dec_kind(&dec), SP_FRAME_LEN);
    feed_str(&dec, "ab");
    feed_str(&dec, "xyz"); /* raw now: no events */
    assert_int_equal(l.n, 2);
    assert_int_equal(l.ev[1].type, SP_FRAME_EV_ERROR);
    assert_int_equal(l.ev[1].to_raw, 1);
    assert_int_equal(l.ev[1].chunk, 1);
    assert_int_equal(l.ev[1].chunk_off, 1);
    assert_int_equal(l.ev[1].off, 1);
    assert_non_null(strstr(l.ev[1].reason, "max"));
    assert_int_equal(sp_frame_dec_kind(&dec), SP_FRAME_RAW);
    sp_frame_finish(&dec);
    assert_int_equal(l.n, 2);
}

static void test_error_on_held_byte_names_its_chunk(void **state)
{
    /* "abc" then '\r' in chunk 2, then 'd' in chunk 3: the '\r' is the byte
     * over max and sits in chunk 2. */
    struct sp_frame_spec spec;
    parse_spec("line,max=3", &spec);
    struct evlog l = {0};
    struct sp_frame_dec dec;
    sp_frame_dec_init(&dec, &spec, evlog_cb, &l);
    feed_str(&dec, "abc");
    feed_str(&dec, "\r");
    feed_str(&dec, "");
    feed_str(&dec, "d\n");
    assert_int_equal(l.n, 3);
    assert_int_equal(l.ev[2].type, SP_FRAME_EV_ERROR);
    assert_int_equal(l.ev[2].to_raw, 0);
    assert_int_equal(l.ev[2].chunk, 2);
    assert_int_equal(l.ev[2].chunk_off, 0);
    assert_int_equal(l.ev[2].off, 3);
    assert_int_equal(sp_frame_dec_kind(&dec), SP_FRAME_LINE);
}

static void test_set_spec_truncates_and_switches(void **state)
{
    struct sp_frame_spec line, len;
    parse_spec("line", &line);
    parse_spec("len:u8", &len);
    struct evlog l = {0};
    struct sp_frame_dec dec;
    sp_frame_dec_init(&dec, &line, evlog_cb, &l);
    feed_str(&dec, "abc");
    sp_frame_dec_set_spec(&dec, &len);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.ev[2].type, SP_FRAME_EV_END);
    assert_int_equal(l.ev[2].truncated, SP_FRAME_CUT_SPEC); /* not EOF: no EOF happened */
    assert_int_equal(l.ev[2].msg_len, 3);
    feed_str(&dec, "\x01x");
    assert_int_equal(l.n, 6);
    assert_int_equal(l.ev[3].type, SP_FRAME_EV_BEGIN);
    assert_int_equal(l.ev[3].chunk, 2);
    assert_int_equal(l.ev[3].off, 3);
    assert_int_equal(l.ev[5].type, SP_FRAME_EV_END);
    assert_int_equal(l.ev[5].off, 5);
    assert_int_equal(l.ev[5].msg_len, 1);
    assert_int_equal(sp_frame_dec_kind(&dec), SP_FRAME_LEN);
}

/* DATA must point into the fed chunk: bodies are never copied. */
struct ptrs {
    const unsigned char *lo, *hi;
    int outside;
};

static void ptrs_cb(void *ud, const struct sp_frame_ev *ev)
{
    struct ptrs *p = ud;
    if (ev->type == SP_FRAME_EV_DATA && (ev->data < p->lo || ev->data + ev->len > p->hi))
        p->outside++;
}

static void test_len_body_is_not_copied(void **state)
{
    struct sp_frame_spec spec;
    parse_spec("len:u32", &spec);
    unsigned char in[64 * 68];
    for (size_t i = 0; i < 64; i++) {
        unsigned char *f = in + i * 68;
        f[0] = f[1] = f[2] = 0;
        f[3] = 64;
        memset(f + 4, (int)i, 64);
    }
    struct ptrs p = {in, in + sizeof in, 0};
    struct sp_frame_dec dec;
    sp_frame_dec_init(&dec, &spec, ptrs_cb, &p);
    sp_frame_feed(&dec, in, sizeof in);
    assert_int_equal(p.outside, 0);
}

/* A long stream of frames of random lengths, many to a chunk and some cut
 * by chunk ends, read under several len and blocks specs (some of which
 * lose the stream on a bad length and turn raw): with or without
 * SP_FRAME_DEC_ENDS_ONLY, the same END and ERROR events. */
static void test_ends_only_matches_full_on_random_streams(void **state)
{
    static const char *const specs[] = {"len:u8",
                                        "len:u8,strip=0",
                                        "len:u8,strip=3",
                                        "len:u16le",
                                        "len:u8,offset=1,adjust=1",
                                        "len:varint",
                                        "len:u8,max=200",
                                        "blocks:u8",
                                        "len:u8,offset=2,strip=1",
                                        "len:u8,adjust=-1"};
    enum { FRAMES = 400 };
    unsigned char *in = malloc(FRAMES * 260);
    size_t *cuts = calloc(FRAMES * 260, sizeof *lens);
    assert_non_null(in);
    assert_non_null(cuts);
    uint64_t seed = 0xe4d5u;
    size_t n = 0;
    for (int f = 0; f < FRAMES; f++) {
        /* Mostly short bodies, some empty, a few long. */
        size_t body =
            (size_t)(tu_rand(&seed) % 8 == 0 ? tu_rand(&seed) % 250 : tu_rand(&seed) % 12);
        in[n++] = (unsigned char)body;
        for (size_t b = 0; b < body; b++)
            in[n++] = (unsigned char)tu_rand(&seed);
    }
    for (size_t sp = 0; sp < sizeof specs / sizeof specs[0]; sp++) {
        for (int t = 0; t < 8; t++) {
            size_t k = 0, pos = 0;
            size_t top = t == 0 ? n : (size_t)1 << (2 * t); /* 1 chunk, then up to 4..16K */
            while (pos < n) {
                size_t l = (size_t)(tu_rand(&seed) % (top + 1));
                if (l > n - pos)
                    l = n - pos;
                cuts[k++] = l;
                pos += l;
                if (k == n) {
                    cuts[k - 1] += n - pos;
                    pos = n;
                }
            }
            char how[64];
            snprintf(how, sizeof how, "random stream, split #%d", t);
            run_feeding(specs[sp], in, n, cuts, k, NULL, how);
        }
    }
    free(cuts);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_eof_fixed_vectors_every_split),
        cmocka_unit_test(test_line_vectors_every_split),
        cmocka_unit_test(test_delim_vectors_every_split),
        cmocka_unit_test(test_len_vectors_every_split),
        cmocka_unit_test(test_blocks_vectors_every_split),
        cmocka_unit_test(test_netstring_decimal_vectors_every_split),
        cmocka_unit_test(test_dgram_frames_each_datagram_on_its_own),
        cmocka_unit_test(test_empty_chunks_are_counted),
        cmocka_unit_test(test_finish_end_points_at_last_byte),
        cmocka_unit_test(test_length_error_turns_decoder_raw),
        cmocka_unit_test(test_error_on_held_byte_names_its_chunk),
        cmocka_unit_test(test_set_spec_truncates_and_switches),
        cmocka_unit_test(test_len_body_is_not_copied),
        cmocka_unit_test(test_ends_only_matches_full_on_random_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
