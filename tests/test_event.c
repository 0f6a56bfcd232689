/* Event names and formatting: the text line of DESIGN §6, and JSON that is
 * valid (checked by a strict parser below) for any payload bytes, with
 * `hex` the exact bytes and `text` their safe rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/event.h"
#include "sockpit/proto/render.h"
#include "testutil.h"

/* A strict JSON checker (RFC 8259) for one object whose values are strings,
 * numbers, booleans or arrays of numbers. It records each member so tests
 * can look at them; string values are decoded. */
struct member {
    char key[32];
    struct sp_buf val; /* decoded string, or the raw text of other values */
    int is_string;
};

struct jp {
    const unsigned char *p;
    size_t n, i;
    struct member m[48];
    int nm;
};

static int jp_ws(struct jp *j)
{
    while (j->i < j->n &&
           (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r'))
        j->i++;
    return 0;
}

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Validates one UTF-8 sequence at p[i]; returns its length or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static int jp_string(struct jp *j, struct sp_buf *out)
{
    if (j->i >= j->n || j->p[j->i] != '"')
        return -1;
    j->i++;
    while (j->i < j->n) {
        unsigned char c = j->p[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (j->i + 1 >= j->n)
                return -1;
            unsigned char e = j->p[j->i + 1];
            const char *simple = "\"\\/bfnrt";
            const char *map = "\"\\/\b\f\n\r\t";
            const char *s = strchr(simple, e);
            if (e != 'u' && (s == NULL || e == 0))
                return -1;
            if (e == 'u') {
                if (j->i + 6 > j->n)
                    return -1;
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexv(j->p[j->i + 2 + k]);
                    if (h < 0)
                        return -1;
                    v = v << 4 | (unsigned)h;
                }
                if (v >= 0x80) /* our output never needs more */
                    return -1;
                sp_buf_appendc(out, (unsigned char)v);
                j->i += 6;
            } else {
                sp_buf_appendc(out, (unsigned char)map[s - simple]);
                j->i += 2;
            }
            continue;
        }
        size_t l = utf8_len(j->p + j->i, j->n - j->i);
        if (l == 0)
            return -1;
        sp_buf_append(out, j->p + j->i, l);
        j->i += l;
    }
    return -1;
}

static int jp_number(struct jp *j, struct sp_buf *out)
{
    size_t s = j->i;
    if (j->i < j->n && j->p[j->i] == '-')
        j->i++;
    if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9')
        return -1;
    if (j->p[j->i] == '0' && j->i + 1 < j->n && j->p[j->i + 1] >= '0' && j->p[j->i + 1] <= '9')
        return -1;
    while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9')
        j->i++;
    if (j->i < j->n && j->p[j->i] == '.') {
        j->i++;
        if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9')
            return -1;
        while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9')
            j->i++;
    }
    sp_buf_append(out, j->p + s, j->i - s);
    return 0;
}

static int jp_value(struct jp *j, struct member *m)
{
    jp_ws(j);
    if (j->i >= j->n)
        return -1;
    unsigned char c = j->p[j->i];
    if (c == '"') {
        m->is_string = 1;
        return jp_string(j, &m->val);
    }
    if (c == 't' && j->n - j->i >= 4 && memcmp(j->p + j->i, "true", 4) == 0) {
        sp_buf_appends(&m->val, "true");
        j->i += 4;
        return 0;
    }
    if (c == 'f' && j->n - j->i >= 5 && memcmp(j->p + j->i, "false", 5) == 0) {
        sp_buf_appends(&m->val, "false");
        j->i += 5;
        return 0;
    }
    if (c == '[') {
        sp_buf_appendc(&m->val, '[');
        j->i++;
        jp_ws(j);
        if (j->i < j->n && j->p[j->i] == ']') {
            j->i++;
            sp_buf_appendc(&m->val, ']');
            return 0;
        }
        for (;;) {
            jp_ws(j);
            if (jp_number(j, &m->val) != 0)
                return -1;
            jp_ws(j);
            if (j->i < j->n && j->p[j->i] == ',') {
                sp_buf_appendc(&m->val, ',');
                j->i++;
                continue;
            }
            if (j->i < j->n && j->p[j->i] == ']') {
                sp_buf_appendc(&m->val, ']');
                j->i++;
                return 0;
            }
            return -1;
        }
    }
    return jp_number(j, &m->val);
}

/* Parses one object covering all of p[0..n); 0 or -1. */
static int jp_parse(struct jp *j, const void *p, size_t n)
{
    memset(j, 0, sizeof *j);
    j->p = p;
    j->n = n;
    jp_ws(j);
    if (j->i >= n || j->p[j->i] != '{')
        return -1;
    j->i++;
    for (;;) {
        jp_ws(j);
        if (j->nm >= 48)
            return -1;
        struct member *m = &j->m[j->nm++];
        sp_buf_init(&m->val);
        struct sp_buf key;
        sp_buf_init(&key);
        if (jp_string(j, &key) != 0 || key.len >= sizeof m->key) {
            sp_buf_cleanup(&key);
            return -1;
        }
        memcpy(m->key, sp_buf_str(&key), key.len + 1);
        sp_buf_cleanup(&key);
        for (int k = 0; k < j->nm - 1; k++)
            if (strcmp(j->m[k].key, m->key) == 0)
                return -1; /* duplicate key */
        jp_ws(j);
        if (j->i >= n || j->p[j->i] != ':')
            return -1;
        j->i++;
        if (jp_value(j, m) != 0)
            return -1;
        jp_ws(j);
        if (j->i < n && j->p[j->i] == ',') {
            j->i++;
            continue;
        }
        if (j->i < n && j->p[j->i] == '}') {
            j->i++;
            jp_ws(j);
            return j->i == n ? 0 : -1;
        }
        return -1;
    }
}

static void jp_free(struct jp *j)
{
    for (int k = 0; k < j->nm; k++)
        sp_buf_cleanup(&j->m[k].val);
}

static const struct member *jp_get(const struct jp *j, const char *key)
{
    for (int k = 0; k < j->nm; k++)
        if (strcmp(j->m[k].key, key) == 0)
            return &j->m[k];
    return NULL;
}

static void init_ev(struct sp_event *ev, enum sp_ev_type type)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->unread = -1;
    ev->sock = 3;
    ev->t_ns = 12345678;
}

static void test_event_names_are_the_design_names(void **state)
{
    static const char *const want[] = {
        "listening", "connected",  "accepted", "bound",      "recv",  "msg",    "frame_error",
        "send",      "eof",        "shutdown", "state",      "error", "closed", "summary",
        "cmd_error", "notice",     "dropped",  "note",       "check", "expect", "rule",
        "segment",   "tls_record", "tls",      "icmp_error",
    };
    assert_int_equal(sizeof want / sizeof want[0], SP_EV__COUNT);
    for (int t = 0; t < SP_EV__COUNT; t++)
        assert_string_equal(sp_event_name((enum sp_ev_type)t), want[t]);
    assert_string_equal(sp_event_name(SP_EV__COUNT), "unknown");
    assert_string_equal(sp_sock_kind_name(SP_SOCK_TCP_LISTEN), "tcp-listen");
    assert_string_equal(sp_sock_kind_name(SP_SOCK_UNIX_DGRAM), "unix-dgram");
}

static void test_event_text_matches_design_example(void **state)
{
    struct sp_event ev;
    init_ev(&ev, SP_EV_RECV);
    ev.seq = 4;
    ev.len = 7;
    ev.data = (const unsigned char *)"hello\r\n";
    ev.data_len = 7;
    ev.off = 120;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_string_equal(sp_buf_str(&b), "0.012345 [3] recv #4 7 bytes @120: \"hello\\r\\n\"");
    sp_buf_cleanup(&b);
}

static void test_event_segment_text_and_json(void **state)
{
    struct sp_event ev;
    init_ev(&ev, SP_EV_SEGMENT);
    ev.seq = 2;
    ev.len = 0;
    ev.seg = (struct sp_seg){.rel_seq = 0,
                             .rel_ack = 1,
                             .win = 65483,
                             .mss = 65495,
                             .wscale = 7,
                             .sack_ok = 1,
                             .has_ts = 1,
                             .tsval = 5,
                             .tsecr = 3,
                             .flags = SP_TCP_SYN | SP_TCP_ACK,
                             .isn_known = 1,
                             .win_scaled = 1,
                             .ip_len = 60};
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_string_equal(sp_buf_str(&b), "0.012345 [3] segment #2 in [SYN|ACK] seq 0 ack 1 win "
                                        "65483 len 0 @0 <mss 65495,sackOK,ts 5 3,wscale 7>");
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    assert_string_equal(
        sp_buf_str(&b),
        "{\"t\":0.012345,\"ev\":\"segment\",\"sock\":3,\"n\":2,\"dir\":\"in\",\"flags\":[\"SYN\","
        "\"ACK\"],\"seq\":0,\"ack\":1,\"win\":65483,\"win_scaled\":true,\"len\":0,\"off\":0,"
        "\"isn_known\":true,\"mss\":65495,\"wscale\":7,\"sack_ok\":true,\"ts\":[5,3],\"marks\":[],"
        "\"ip_len\":60,\"t_cap\":0.000000}");
    sp_buf_reset(&b);
    ev.seg = (struct sp_seg){.rel_seq = 1,
                             .rel_ack = 1,
                             .win = 512,
                             .wscale = -1,
                             .out = 1,
                             .flags = SP_TCP_ACK,
                             .marks = SP_SEG_DUPACK | SP_SEG_ZEROWIN,
                             .dupack = 2,
                             .win_scaled = 1};
    ev.off = 0;
    sp_event_format_text(&b, &ev, 1);
    assert_string_equal(sp_buf_str(&b),
                        "0.012345 [3] segment #2 out [ACK] seq 1 ack 1 win 512 len 0 @0 "
                        "(zero-window, dup-ack #2) (SYN not seen: seq and @ count from the "
                        "first segment seen)");
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    assert_non_null(strstr(sp_buf_str(&b), "\"marks\":[\"zero-window\",\"dup-ack\"],\"dupack\":2"));
    /* SACK blocks: in the options in text, as pairs in JSON */
    ev.seg.nsack = 2;
    ev.seg.sack[0][0] = 301;
    ev.seg.sack[0][1] = 401;
    ev.seg.sack[1][0] = 201;
    ev.seg.sack[1][1] = 251;
    sp_buf_reset(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_non_null(strstr(sp_buf_str(&b), "len 0 @0 <sack 301-401 201-251> (zero-window"));
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    assert_non_null(strstr(sp_buf_str(&b), "\"sack\":[[301,401],[201,251]],\"marks\":"));
    sp_buf_cleanup(&b);
}

/* expect and rule events: the latency in text and JSON, captures rendered. */
static void test_event_expect_rule(void **state)
{
    (void)state;
    struct sp_event ev;
    init_ev(&ev, SP_EV_EXPECT);
    ev.op = "msg";
    ev.seq = 2;
    ev.len = 5;
    ev.mode = "regex";
    ev.latency_ns = 1234567;
    ev.send_seq = 1;
    ev.message = "id=4\n2";
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_string_equal(sp_buf_str(&b), "0.012345 [3] expect msg #2 matched regex, 1.234 ms after "
                                        "send #1 (captured id=4\\n2)");
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    assert_non_null(strstr(sp_buf_str(&b), "\"latency_ms\":1.234567,\"send\":1,"));
    assert_non_null(strstr(sp_buf_str(&b), "\"mode\":\"regex\""));
    ev.latency_ns = -1;
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    assert_non_null(strstr(sp_buf_str(&b), "\"latency_ms\":null,\"send\":null"));
    sp_buf_reset(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_non_null(strstr(sp_buf_str(&b), "no send before it"));

    init_ev(&ev, SP_EV_RULE);
    ev.rule = 1;
    ev.op = "msg";
    ev.seq = 7;
    ev.mode = "prefix";
    ev.fired = 3;
    ev.len = 5;
    ev.then_close = 1;
    sp_buf_reset(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_string_equal(sp_buf_str(&b), "0.012345 [3] rule 1 (prefix) fired on msg #7 (3 times): "
                                        "replied 5 bytes, closing");
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    assert_non_null(strstr(sp_buf_str(&b), "\"rule\":1,\"what\":\"msg\",\"seq\":7,"));
    assert_non_null(strstr(sp_buf_str(&b), "\"fired\":3,\"len\":5,\"close\":true}"));
    sp_buf_cleanup(&b);
}

/* Every peer-controlled string of every event kind comes out without a
 * byte a terminal would interpret. */
static void test_event_text_never_contains_control_bytes(void **state)
{
    unsigned char nasty[256];
    for (int i = 0; i < 256; i++)
        nasty[i] = (unsigned char)(255 - i);
    char s[300];
    memcpy(s, "\x1b]0;pwn\x07\x9b\xe2\x80\xae", 12);
    memcpy(s + 12, nasty, 255);
    s[12 + 255 - 1] = '\0'; /* the last of nasty is 0 */
    for (int t = 0; t < SP_EV__COUNT; t++) {
        struct sp_event ev;
        init_ev(&ev, (enum sp_ev_type)t);
        ev.data = nasty;
        ev.data_len = ev.len = sizeof nasty;
        ev.local = ev.peer = ev.from = ev.how = ev.tcp = s;
        ev.op = ev.code = ev.message = ev.reason = ev.line = s;
        ev.lab = ev.title = ev.name = ev.mode = s;
        for (int utf8 = 0; utf8 < 2; utf8++) {
            struct sp_buf b;
            sp_buf_init(&b);
            sp_event_format_text(&b, &ev, utf8);
            for (size_t i = 0; i < b.len; i++) {
                assert_true(b.data[i] >= 0x20);
                assert_true(b.data[i] != 0x7f);
                if (!utf8)
                    assert_true(b.data[i] < 0x80);
            }
            assert_null(memmem(b.data, b.len, "\xe2\x80\xae", 3));
            assert_null(memchr(b.data, 0x9b, b.len));
            sp_buf_cleanup(&b);
        }
    }
}

static void check_payload_json(const unsigned char *p, size_t n)
{
    struct sp_event ev;
    init_ev(&ev, SP_EV_RECV);
    ev.seq = 1;
    ev.data = p;
    ev.data_len = ev.len = n;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_json(&b, &ev);
    struct jp j;
    assert_int_equal(jp_parse(&j, b.data, b.len), 0);
    const struct member *hex = jp_get(&j, "hex"), *text = jp_get(&j, "text");
    assert_non_null(hex);
    assert_non_null(text);
    /* hex: exactly the bytes, lowercase */
    assert_int_equal(hex->val.len, 2 * n);
    for (size_t i = 0; i < n; i++) {
        int hi = hexv(hex->val.data[2 * i]), lo = hexv(hex->val.data[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        assert_false(hex->val.data[2 * i] >= 'A' && hex->val.data[2 * i] <= 'F');
        assert_int_equal(hi << 4 | lo, p[i]);
    }
    /* text: the safe rendering (UTF-8 mode), decoded back from JSON */
    struct sp_buf r;
    sp_buf_init(&r);
    sp_render(&r, p, n, SP_RENDER_UTF8);
    assert_int_equal(text->val.len, r.len);
    if (r.len > 0)
        assert_memory_equal(text->val.data, r.data, r.len);
    sp_buf_cleanup(&r);
    jp_free(&j);
    sp_buf_cleanup(&b);
}

static void test_event_json_valid_for_every_byte_value(void **state)
{
    for (int c = 0; c < 256; c++) {
        unsigned char one = (unsigned char)c;
        check_payload_json(&one, 1);
        unsigned char three[3] = {'a', (unsigned char)c, '"'};
        check_payload_json(three, 3);
    }
    unsigned char all[256];
    for (int c = 0; c < 256; c++)
        all[c] = (unsigned char)c;
    check_payload_json(all, 256);
    check_payload_json(NULL, 0);
}

static void test_event_json_valid_for_random_payloads(void **state)
{
    uint64_t seed = 0x5eed;
    unsigned char buf[512];
    for (int round = 0; round < 2000; round++) {
        size_t n = tu_rand(&seed) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = tu_rand(&seed);
            /* Bias towards UTF-8 lead and continuation bytes so that valid
             * and broken sequences both occur. */
            buf[i] = (r & 3) == 0   ? (unsigned char)(0x80 | (r >> 8 & 0x3f))
                     : (r & 3) == 1 ? (unsigned char)(0xc0 | (r >> 8 & 0x3f))
                                    : (unsigned char)(r >> 8);
        }
        check_payload_json(buf, n);
    }
}

/* Fields of DESIGN §6 per kind (plus t and ev in all). */
static void test_event_json_has_every_design_field(void **state)
{
    static const struct {
        enum sp_ev_type type;
        const char *fields;
    } want[] = {
        {SP_EV_LISTENING, "sock kind local"},
        {SP_EV_CONNECTED, "sock kind local peer"},
        {SP_EV_ACCEPTED, "sock parent kind local peer"},
        {SP_EV_BOUND, "sock kind local"},
        {SP_EV_RECV, "sock seq len off hex text flags asked iov"},
        {SP_EV_MSG, "sock seq len hex text chunks"},
        {SP_EV_FRAME_ERROR, "sock reason off"},
        {SP_EV_SEND, "sock seq len off hex text writes calls flags"},
        {SP_EV_EOF, "sock"},
        {SP_EV_SHUTDOWN, "sock how"},
        {SP_EV_STATE, "sock tcp"},
        {SP_EV_ERROR, "sock op code message"},
        {SP_EV_CLOSED, "sock reason"},
        {SP_EV_SUMMARY, "sock bytes_in bytes_out chunks msgs"},
        {SP_EV_CMD_ERROR, "line message"},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        struct sp_event ev;
        init_ev(&ev, want[k].type);
        if (want[k].type == SP_EV_CMD_ERROR)
            ev.sock = 0;
        ev.local = "127.0.0.1:1";
        struct sp_buf b;
        sp_buf_init(&b);
        sp_event_format_json(&b, &ev);
        struct jp j;
        assert_int_equal(jp_parse(&j, b.data, b.len), 0);
        assert_non_null(jp_get(&j, "t"));
        const struct member *evn = jp_get(&j, "ev");
        assert_non_null(evn);
        assert_string_equal(sp_buf_str(&evn->val), sp_event_name(want[k].type));
        char fields[128];
        strcpy(fields, want[k].fields);
        for (char *f = strtok(fields, " "); f != NULL; f = strtok(NULL, " ")) {
            if (jp_get(&j, f) == NULL)
                fail_msg("%s lacks %s: %s", sp_event_name(want[k].type), f, sp_buf_str(&b));
        }
        jp_free(&j);
        sp_buf_cleanup(&b);
    }
}

/* An abstract Unix name is every byte after the '@', NULs included: the
 * address lengths carry it whole into text and JSON, escaped. */
static void test_event_abstract_names_are_shown_whole(void **state)
{
    (void)state;
    struct sp_event ev;
    init_ev(&ev, SP_EV_ACCEPTED);
    ev.kind = SP_SOCK_UNIX;
    ev.parent = 1;
    ev.local = "@srv";
    ev.peer = "@n\0one";
    ev.peer_len = 6;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_non_null(strstr(sp_buf_str(&b), " @srv <- @n\\0one"));
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    struct jp j;
    assert_int_equal(jp_parse(&j, b.data, b.len), 0);
    assert_string_equal(sp_buf_str(&jp_get(&j, "peer")->val), "@n\\0one");
    jp_free(&j);

    init_ev(&ev, SP_EV_RECV);
    ev.kind = SP_SOCK_UNIX_DGRAM;
    ev.from = "@n\0two";
    ev.from_len = 6;
    sp_buf_reset(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_non_null(strstr(sp_buf_str(&b), " from @n\\0two"));
    sp_buf_cleanup(&b);
}

static void test_event_json_datagram_and_blocks_fields(void **state)
{
    struct sp_event ev;
    init_ev(&ev, SP_EV_RECV);
    ev.kind = SP_SOCK_UDP;
    ev.from = "127.0.0.1:9";
    ev.truncated = 1;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_json(&b, &ev);
    struct jp j;
    assert_int_equal(jp_parse(&j, b.data, b.len), 0);
    assert_string_equal(sp_buf_str(&jp_get(&j, "from")->val), "127.0.0.1:9");
    assert_string_equal(sp_buf_str(&jp_get(&j, "truncated")->val), "true");
    jp_free(&j);

    uint64_t blocks[] = {3, 70000};
    init_ev(&ev, SP_EV_MSG);
    ev.blocks = blocks;
    ev.nblocks = 2;
    ev.chunk_first = 2;
    ev.chunk_last = 5;
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    assert_int_equal(jp_parse(&j, b.data, b.len), 0);
    assert_string_equal(sp_buf_str(&jp_get(&j, "blocks")->val), "[3,70000]");
    assert_string_equal(sp_buf_str(&jp_get(&j, "chunks")->val), "[2,5]");
    jp_free(&j);
    sp_buf_reset(&b);
    sp_event_format_text(&b, &ev, 1);
    assert_non_null(strstr(sp_buf_str(&b), "blocks [3,70000]"));
    assert_non_null(strstr(sp_buf_str(&b), "chunks 2..5"));
    sp_buf_cleanup(&b);
}

static void test_event_json_string_escapes_quotes_and_backslashes(void **state)
{
    struct sp_event ev;
    init_ev(&ev, SP_EV_RECV);
    ev.data = (const unsigned char *)"a\"b\\c\n";
    ev.len = ev.data_len = 6;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_json(&b, &ev);
    /* render: \ -> \\ and newline -> \n; JSON then escapes each backslash */
    assert_non_null(strstr(sp_buf_str(&b), ",\"text\":\"a\\\"b\\\\\\\\c\\\\n\""));
    sp_buf_cleanup(&b);
}

/* The one JSON string escaper: quote, backslash and any control byte that
 * reached it are escaped; everything else passes unchanged. */
static void test_json_quote_escapes_only_what_json_needs(void **state)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_json_quote(&b, "a\"b\\c\x01\x7f\xc3\xa9 d", 11);
    assert_string_equal(sp_buf_str(&b), "\"a\\\"b\\\\c\\u0001\\u007f\xc3\xa9 d\"");
    sp_buf_reset(&b);
    sp_json_quote(&b, "", 0);
    assert_string_equal(sp_buf_str(&b), "\"\"");
    sp_buf_cleanup(&b);
}

/* Every kind belongs to exactly one family, and the stream/dgram split
 * matches the kind names. */
static void test_kind_families_partition_every_kind(void **state)
{
    static const enum sp_sock_kind all[] = {
        SP_SOCK_TCP_LISTEN, SP_SOCK_TCP,        SP_SOCK_UDP,    SP_SOCK_UNIX_LISTEN,
        SP_SOCK_UNIX,       SP_SOCK_UNIX_DGRAM, SP_SOCK_PACKET, SP_SOCK_SEQPACKET_LISTEN,
        SP_SOCK_SEQPACKET};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        enum sp_sock_kind k = all[i];
        assert_int_equal(sp_kind_is_listener(k) + sp_kind_is_stream(k) + sp_kind_is_dgram(k), 1);
    }
    assert_true(sp_kind_is_listener(SP_SOCK_TCP_LISTEN));
    assert_true(sp_kind_is_listener(SP_SOCK_UNIX_LISTEN));
    assert_true(sp_kind_is_stream(SP_SOCK_TCP));
    assert_true(sp_kind_is_stream(SP_SOCK_UNIX));
    assert_true(sp_kind_is_dgram(SP_SOCK_UDP));
    assert_true(sp_kind_is_dgram(SP_SOCK_UNIX_DGRAM));
    /* Seqpacket is a connection (EOF, half-close) that keeps records. */
    assert_true(sp_kind_is_listener(SP_SOCK_SEQPACKET_LISTEN));
    assert_true(sp_kind_is_stream(SP_SOCK_SEQPACKET));
    assert_true(sp_kind_has_records(SP_SOCK_SEQPACKET));
    assert_false(sp_kind_has_records(SP_SOCK_UNIX));
    assert_false(sp_kind_has_records(SP_SOCK_TCP));
    assert_string_equal(sp_sock_kind_name(SP_SOCK_SEQPACKET), "unix-seqpacket");
    assert_string_equal(sp_sock_kind_name(SP_SOCK_SEQPACKET_LISTEN), "unix-seqpacket-listen");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_names_are_the_design_names),
        cmocka_unit_test(test_event_text_matches_design_example),
        cmocka_unit_test(test_event_segment_text_and_json),
        cmocka_unit_test(test_event_expect_rule),
        cmocka_unit_test(test_event_text_never_contains_control_bytes),
        cmocka_unit_test(test_event_json_valid_for_every_byte_value),
        cmocka_unit_test(test_event_json_valid_for_random_payloads),
        cmocka_unit_test(test_event_json_has_every_design_field),
        cmocka_unit_test(test_event_json_datagram_and_blocks_fields),
        cmocka_unit_test(test_event_abstract_names_are_shown_whole),
        cmocka_unit_test(test_event_json_string_escapes_quotes_and_backslashes),
        cmocka_unit_test(test_kind_families_partition_every_kind),
        cmocka_unit_test(test_json_quote_escapes_only_what_json_needs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
