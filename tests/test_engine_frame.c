/* Framing on live sockets: msg events with chunk spans and cuts, errors
 * that switch the socket to raw, live switching, eof and blocks framing,
 * and the encoder on send. */
#include "test_engine_util.h"

#include "history.h"

static struct sp_frame_spec spec_of(const char *text)
{
    struct sp_frame_spec s;
    char err[200];
    if (sp_frame_spec_parse(&s, text, err, sizeof err) != 0)
        fail_msg("spec %s: %s", text, err);
    return s;
}

/* A listener with framing; returns the accepted socket and the raw client. */
static uint32_t framed_pair(struct sp_engine *eng, struct recorder *r, const char *framing,
                            int *client)
{
    struct sp_frame_spec spec = spec_of(framing);
    struct sp_sock_opts o = {.framing = &spec};
    unsigned port;
    te_listen(eng, r, &o, &port);
    *client = raw_connect(port);
    assert_true(*client >= 0);
    assert_true(te_wait(eng, r, SP_EV_ACCEPTED, 0, 1, 2000));
    return te_nth(r, SP_EV_ACCEPTED, 0, 0)->ev.sock;
}

/* Writes one piece and waits until the engine has read it as one chunk. */
static void piece(struct sp_engine *eng, struct recorder *r, uint32_t s, int fd, const char *p)
{
    size_t before = te_count(r, SP_EV_RECV, s);
    assert_int_equal(send(fd, p, strlen(p), 0), (ssize_t)strlen(p));
    assert_true(te_wait(eng, r, SP_EV_RECV, s, before + 1, 2000));
}

static void test_line_msgs_with_chunk_spans_and_cuts(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    int fd;
    uint32_t s = framed_pair(eng, &r, "line", &fd);
    piece(eng, &r, s, fd, "hel");
    assert_int_equal(te_count(&r, SP_EV_MSG, s), 0);
    piece(eng, &r, s, fd, "lo\r\nwor");
    piece(eng, &r, s, fd, "ld\n");
    assert_int_equal(te_count(&r, SP_EV_MSG, s), 2);
    const struct rec *m1 = te_nth(&r, SP_EV_MSG, s, 0), *m2 = te_nth(&r, SP_EV_MSG, s, 1);
    assert_int_equal(m1->ev.seq, 1);
    assert_int_equal(m1->ev.len, 5);
    assert_int_equal(m1->data_len, 5);
    assert_memory_equal(m1->data, "hello", 5);
    assert_int_equal(m1->ev.chunk_first, 1);
    assert_int_equal(m1->ev.chunk_first_off, 0);
    assert_int_equal(m1->ev.chunk_last, 2);
    assert_int_equal(m1->ev.chunk_last_end, 4);
    assert_int_equal(m1->ev.off, 0);
    assert_int_equal(m1->ev.end_off, 7);
    assert_int_equal(m1->ncuts, 1);
    assert_int_equal(m1->cuts[0], 3);
    assert_int_equal(m2->ev.seq, 2);
    assert_memory_equal(m2->data, "world", 5);
    assert_int_equal(m2->ev.chunk_first, 2);
    assert_int_equal(m2->ev.chunk_first_off, 4);
    assert_int_equal(m2->ev.chunk_last, 3);
    assert_int_equal(m2->ev.chunk_last_end, 3);
    assert_int_equal(m2->ev.off, 7);
    assert_int_equal(m2->ev.end_off, 13);
    assert_int_equal(m2->ncuts, 1);
    assert_int_equal(m2->cuts[0], 3);
    /* Each msg comes right after the recv it was completed by. */
    long r2 = -1, r3 = -1;
    for (size_t i = 0; i < r.n; i++)
        if (r.v[i].ev.type == SP_EV_RECV && r.v[i].ev.sock == s) {
            if (r.v[i].ev.seq == 2)
                r2 = (long)i;
            if (r.v[i].ev.seq == 3)
                r3 = (long)i;
        }
    assert_true(r2 >= 0 && r3 >= 0);
    assert_int_equal(r.v[r2 + 1].ev.type, SP_EV_MSG);
    assert_int_equal(r.v[r3 + 1].ev.type, SP_EV_MSG);
    /* The history kept the msg with its cuts. */
    uint64_t b = sp_hist_begin(eng, s), e = sp_hist_end(eng, s);
    int found = 0;
    for (uint64_t i = b; i < e; i++) {
        struct sp_event ev;
        assert_int_equal(sp_hist_get(eng, s, i, &ev), 0);
        if (ev.type == SP_EV_MSG && ev.seq == 2) {
            found = 1;
            assert_int_equal(ev.ncuts, 1);
            assert_int_equal(ev.cuts[0], 3);
            assert_memory_equal(ev.data, "world", 5);
        }
    }
    assert_true(found);
    close(fd);
    te_done(eng, &r);
}

/* A length over max: frame_error, then the socket is raw (with a notice). */
/* A length error stops decoding (what arrives is shown raw), but send
 * keeps framing with the chosen spec, and the reason names its figures. */
static void test_len_error_switches_decoding_to_raw(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int fd;
    uint32_t s = framed_pair(eng, &r, "len:u32be,max=1K", &fd);
    assert_int_equal(send(fd, "\0\0\0\2hi\0\0\xff\xff", 10, 0), 10);
    assert_true(te_wait(eng, &r, SP_EV_FRAME_ERROR, s, 1, 2000));
    const struct rec *m = te_nth(&r, SP_EV_MSG, s, 0);
    assert_non_null(m);
    assert_memory_equal(m->data, "hi", 2);
    const struct rec *fe = te_nth(&r, SP_EV_FRAME_ERROR, s, 0);
    assert_string_equal(fe->reason, "length 65535 over max 1024");
    assert_true(fe->ev.off >= 6 && fe->ev.off <= 9);
    const char *note = te_nth(&r, SP_EV_NOTICE, s, 0)->message;
    assert_non_null(strstr(note, "decoding switched to raw"));
    assert_non_null(strstr(note, "send still frames with len:u32,max=1K"));
    struct sp_sock_info info;
    sp_engine_sock_info(eng, s, &info);
    assert_int_equal(info.spec.kind, SP_FRAME_LEN);
    assert_int_equal(info.decode_lost, 1);
    assert_true(info.open);
    piece(eng, &r, s, fd, "more");
    assert_int_equal(te_count(&r, SP_EV_MSG, s), 1);
    const unsigned char *parts[1] = {(const unsigned char *)"ok"};
    size_t lens[1] = {2};
    struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 1};
    char err[200], buf[8];
    assert_int_equal(sp_engine_send(eng, s, &req, err, sizeof err), 0);
    assert_int_equal(raw_read_n(eng, fd, buf, 6, 2000), 6);
    assert_memory_equal(buf, "\0\0\0\2ok", 6);
    /* Setting a framing again restarts decoding. */
    struct sp_frame_spec line = spec_of("line");
    assert_int_equal(sp_engine_set_framing(eng, s, &line, err, sizeof err), 0);
    sp_engine_sock_info(eng, s, &info);
    assert_int_equal(info.decode_lost, 0);
    piece(eng, &r, s, fd, "x\n");
    assert_int_equal(te_count(&r, SP_EV_MSG, s), 2);
    close(fd);
    te_done(eng, &r);
}

/* Switching framing on a live socket takes effect at the next byte; stream
 * offsets and chunk numbers stay those of the socket. */
static void test_live_switch_keeps_offsets(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int fd;
    uint32_t s = framed_pair(eng, &r, "raw", &fd);
    piece(eng, &r, s, fd, "abc");
    struct sp_frame_spec line = spec_of("line");
    char err[200];
    assert_int_equal(sp_engine_set_framing(eng, s, &line, err, sizeof err), 0);
    piece(eng, &r, s, fd, "xy\nz");
    const struct rec *m = te_nth(&r, SP_EV_MSG, s, 0);
    assert_non_null(m);
    assert_memory_equal(m->data, "xy", 2);
    assert_int_equal(m->ev.off, 3);
    assert_int_equal(m->ev.end_off, 6);
    assert_int_equal(m->ev.chunk_first, 2);
    assert_int_equal(m->ev.chunk_last, 2);
    /* back to raw: the unfinished "z" ends truncated */
    struct sp_frame_spec raw = spec_of("raw");
    assert_int_equal(sp_engine_set_framing(eng, s, &raw, err, sizeof err), 0);
    const struct rec *t = te_nth(&r, SP_EV_MSG, s, 1);
    assert_non_null(t);
    assert_true(t->ev.truncated);
    piece(eng, &r, s, fd, "q\n");
    assert_int_equal(te_count(&r, SP_EV_MSG, s), 2);
    close(fd);
    te_done(eng, &r);
}

/* eof framing: the whole stream is one message, after the eof event. */
static void test_eof_framing(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int fd;
    uint32_t s = framed_pair(eng, &r, "eof", &fd);
    piece(eng, &r, s, fd, "part one, ");
    piece(eng, &r, s, fd, "part two");
    shutdown(fd, SHUT_WR);
    assert_true(te_wait(eng, &r, SP_EV_MSG, s, 1, 2000));
    const struct rec *m = te_nth(&r, SP_EV_MSG, s, 0);
    assert_int_equal(m->ev.len, 18);
    assert_memory_equal(m->data, "part one, part two", 18);
    assert_false(m->ev.truncated);
    assert_int_equal(m->ncuts, 1);
    assert_int_equal(m->cuts[0], 10);
    assert_true(te_index(&r, SP_EV_EOF, s) < te_index(&r, SP_EV_MSG, s));
    close(fd);
    te_done(eng, &r);
}

static void test_blocks_framing_reports_block_lengths(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int fd;
    uint32_t s = framed_pair(eng, &r, "blocks:u8", &fd);
    assert_int_equal(send(fd, "\3abc\2de\0", 8, 0), 8);
    assert_true(te_wait(eng, &r, SP_EV_MSG, s, 1, 2000));
    const struct rec *m = te_nth(&r, SP_EV_MSG, s, 0);
    assert_memory_equal(m->data, "abcde", 5);
    assert_int_equal(m->nblocks, 2);
    assert_int_equal(m->blocks[0], 3);
    assert_int_equal(m->blocks[1], 2);
    close(fd);
    te_done(eng, &r);
}

/* send goes through the socket's encoder as one writev; --raw bypasses it. */
static void test_send_through_encoder(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int fd;
    uint32_t s = framed_pair(eng, &r, "len:u16be", &fd);
    const unsigned char *parts[2] = {(const unsigned char *)"ab", (const unsigned char *)"cde"};
    size_t lens[2] = {2, 3};
    struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 2};
    char err[200];
    assert_int_equal(sp_engine_send(eng, s, &req, err, sizeof err), 0);
    req.raw = 1;
    assert_int_equal(sp_engine_send(eng, s, &req, err, sizeof err), 0);
    char buf[16];
    assert_int_equal(raw_read_n(eng, fd, buf, 12, 2000), 12);
    assert_memory_equal(buf, "\0\5abcdeabcde", 12);
    assert_true(te_wait(eng, &r, SP_EV_SEND, s, 2, 2000));
    assert_int_equal(te_nth(&r, SP_EV_SEND, s, 0)->ev.len, 7);
    assert_int_equal(te_nth(&r, SP_EV_SEND, s, 0)->ev.writes, 1);
    /* fixed:4 refuses a 5-byte message and pads a short one with --pad */
    struct sp_frame_spec fx = spec_of("fixed:4");
    assert_int_equal(sp_engine_set_framing(eng, s, &fx, err, sizeof err), 0);
    req.raw = 0;
    assert_true(sp_engine_send(eng, s, &req, err, sizeof err) < 0);
    req.nparts = 1;
    req.pad = 1;
    assert_int_equal(sp_engine_send(eng, s, &req, err, sizeof err), 0);
    assert_int_equal(raw_read_n(eng, fd, buf, 4, 2000), 4);
    assert_memory_equal(buf, "ab\0\0", 4);
    close(fd);
    te_done(eng, &r);
}

/* Nobody wants msg events and there is no history: messages are counted
 * (summary) but not gathered. */
static int closed_count;
static uint64_t summary_msgs;
static void lifecycle(void *ud, const struct sp_event *ev)
{
    if (ev->type == SP_EV_SUMMARY && ev->sock == 2)
        summary_msgs = ev->msgs;
    if (ev->type == SP_EV_CLOSED)
        closed_count++;
}

static void test_msgs_counted_without_subscribers(void **state)
{
    struct sp_engine *eng;
    struct sp_engine_opts o = {0};
    assert_int_equal(sp_engine_new(&eng, &o), 0);
    sp_engine_subscribe(eng, SP_EV_MASK_ALL & ~SP_EV_MASK_DATA, lifecycle, NULL);
    struct sp_frame_spec spec = spec_of("len:u8");
    struct sp_sock_opts so = {.framing = &spec};
    struct sp_addr a = te_addr("tcp:127.0.0.1:0");
    uint32_t l;
    char err[200];
    assert_int_equal(sp_engine_listen(eng, &a, &so, &l, err, sizeof err), 0);
    struct sp_sock_info info;
    sp_engine_sock_info(eng, l, &info);
    int fd = raw_connect(te_port(info.local));
    unsigned char buf[3000];
    for (int i = 0; i < 1000; i++) {
        buf[3 * i] = 2;
        buf[3 * i + 1] = 'o';
        buf[3 * i + 2] = 'k';
    }
    uint64_t end = te_ms() + 2000;
    while (sp_engine_sock_info(eng, 2, &info) != 0 && te_ms() < end)
        sp_engine_poll(eng);
    assert_int_equal(send(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    while ((sp_engine_sock_info(eng, 2, &info), info.msgs < 1000) && te_ms() < end)
        sp_engine_poll(eng);
    assert_int_equal(info.msgs, 1000);
    assert_int_equal(sp_engine_close(eng, 2, err, sizeof err), 0);
    assert_int_equal(summary_msgs, 1000);
    close(fd);
    assert_int_equal(sp_engine_destroy(eng), 0);
}

/* A subscriber may switch framing from inside a msg callback: it applies
 * after the chunk being decoded. */
struct switcher {
    struct sp_engine *eng;
    int done;
};
static void switch_on_msg(void *ud, const struct sp_event *ev)
{
    struct switcher *x = ud;
    if (ev->type == SP_EV_MSG && !x->done) {
        x->done = 1;
        struct sp_frame_spec raw = spec_of("raw");
        char err[100];
        sp_engine_set_framing(x->eng, ev->sock, &raw, err, sizeof err);
    }
}

static void test_switch_framing_inside_callback(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct switcher x = {.eng = eng};
    sp_engine_subscribe(eng, SP_EV_MASK(SP_EV_MSG), switch_on_msg, &x);
    int fd;
    uint32_t s = framed_pair(eng, &r, "line", &fd);
    piece(eng, &r, s, fd, "a\nb\n");
    piece(eng, &r, s, fd, "c\n");
    assert_int_equal(te_count(&r, SP_EV_MSG, s), 2); /* a and b: the rest of that chunk */
    struct sp_sock_info info;
    sp_engine_sock_info(eng, s, &info);
    assert_int_equal(info.spec.kind, SP_FRAME_RAW);
    close(fd);
    te_done(eng, &r);
}

/* Closes the socket from inside the first event of the given type. */
struct closer {
    struct sp_engine *eng;
    enum sp_ev_type type;
    int fired;
};

static void close_on(void *ud, const struct sp_event *ev)
{
    struct closer *x = ud;
    if (x->fired || ev->type != x->type || ev->sock == 0)
        return;
    x->fired = 1;
    char err[100];
    assert_int_equal(sp_engine_close(x->eng, ev->sock, err, sizeof err), 0);
}

/* A socket closed by a subscriber mid-chunk publishes nothing more from that
 * chunk: `closed` and `summary` are its last events, and the summary counts
 * every msg that was published. */
static void test_close_inside_callback_ends_the_messages(void **state)
{
    static const struct {
        enum sp_ev_type type;
        const char *framing, *data;
    } cases[] = {
        {SP_EV_RECV, "line", "a\nb\nc\n"},
        {SP_EV_MSG, "line", "a\nb\nc\n"},
        {SP_EV_MSG, "fixed:1", "abc"},
        {SP_EV_FRAME_ERROR, "line,max=2", "aaaaaaa\nb\nc\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct recorder r;
        struct sp_engine *eng = te_engine(&r, 1);
        struct closer x = {.eng = eng, .type = cases[k].type};
        int fd;
        uint32_t s = framed_pair(eng, &r, cases[k].framing, &fd);
        sp_engine_subscribe(eng, SP_EV_MASK_ALL, close_on, &x);
        size_t n = strlen(cases[k].data);
        assert_int_equal(send(fd, cases[k].data, n, 0), (ssize_t)n);
        assert_true(te_wait(eng, &r, SP_EV_SUMMARY, s, 1, 2000));
        te_run_for(eng, 20);
        long closed = te_index(&r, SP_EV_CLOSED, s);
        assert_true(closed >= 0);
        for (size_t i = (size_t)closed + 1; i < r.n; i++)
            if (r.v[i].ev.sock == s)
                assert_true(r.v[i].ev.type == SP_EV_SUMMARY || r.v[i].ev.type == SP_EV_STATE);
        const struct rec *sum = te_nth(&r, SP_EV_SUMMARY, s, 0);
        assert_int_equal(sum->ev.msgs, te_count(&r, SP_EV_MSG, s));
        close(fd);
        te_done(eng, &r);
    }
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = atol(line + 6);
    if (f != NULL)
        fclose(f);
    return v;
}

/* Writes n bytes of the pattern (byte i of the stream = i % 251) from *at,
 * running the loop while the kernel is full. */
static void pump(struct sp_engine *eng, int fd, uint64_t *at, uint64_t n)
{
    static unsigned char chunk[65536];
    uint64_t end = *at + n, deadline = te_ms() + 20000;
    while (*at < end) {
        size_t k = end - *at < sizeof chunk ? (size_t)(end - *at) : sizeof chunk;
        for (size_t i = 0; i < k; i++)
            chunk[i] = (unsigned char)((*at + i) % 251);
        ssize_t w = send(fd, chunk, k, MSG_DONTWAIT);
        if (w > 0)
            *at += (uint64_t)w;
        sp_engine_poll(eng);
        assert_true(te_ms() < deadline);
    }
}

/* A message body is kept as far as someone shows it: with only the history
 * reading msg events (the TUI's case) that is its 1 MiB per event, not the
 * 48 MiB the message announced; lengths stay exact. A subscriber to msg
 * events still gets every byte. */
static void test_message_body_kept_only_as_far_as_shown(void **state)
{
    struct sp_engine *eng;
    struct sp_engine_opts o = {.keep_history = 1, .keep_data = 1};
    assert_int_equal(sp_engine_new(&eng, &o), 0);
    sp_engine_subscribe(eng, SP_EV_MASK_ALL & ~SP_EV_MASK_DATA, lifecycle, NULL);
    struct sp_frame_spec spec = spec_of("len:u32be,max=64M");
    struct sp_sock_opts so = {.framing = &spec};
    struct sp_addr a = te_addr("tcp:127.0.0.1:0");
    uint32_t l;
    char err[200];
    assert_int_equal(sp_engine_listen(eng, &a, &so, &l, err, sizeof err), 0);
    struct sp_sock_info info;
    sp_engine_sock_info(eng, l, &info);
    int fd = raw_connect(te_port(info.local));
    uint64_t end = te_ms() + 2000;
    while (sp_engine_sock_info(eng, 2, &info) != 0 && te_ms() < end)
        sp_engine_poll(eng);
    const uint32_t len = 48u << 20;
    unsigned char hdr[4] = {len >> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff};
    assert_int_equal(send(fd, hdr, 4, 0), 4);
    uint64_t at = 0;
    pump(eng, fd, &at, 1 << 20);
    long before = rss_kib();
    pump(eng, fd, &at, 40u << 20);
    te_run_for(eng, 50);
    long grew = rss_kib() - before;
    /* Before: the body grew to what had arrived, 40 MiB and counting. */
    assert_true(grew < 16 * 1024);
    pump(eng, fd, &at, len - at);
    while ((sp_engine_sock_info(eng, 2, &info), info.msgs < 1) && te_ms() < end + 20000)
        sp_engine_poll(eng);
    assert_int_equal(info.msgs, 1);
    struct sp_event ev;
    uint64_t i, hend = sp_hist_end(eng, 2);
    for (i = sp_hist_begin(eng, 2); i < hend; i++)
        if (sp_hist_get(eng, 2, i, &ev) == 0 && ev.type == SP_EV_MSG)
            break;
    assert_true(i < hend);
    assert_int_equal(ev.len, len);
    assert_int_equal(ev.data_len, SP_HIST_EVENT_DATA_MAX);
    for (size_t k = 0; k < ev.data_len; k++)
        assert_int_equal(ev.data[k], k % 251);

    /* A subscriber to msg events (headless printing them) gets them whole. */
    struct recorder r;
    memset(&r, 0, sizeof r);
    sp_engine_subscribe(eng, SP_EV_MASK(SP_EV_MSG), te_record, &r);
    const uint32_t len2 = 3u << 20;
    unsigned char hdr2[4] = {len2 >> 24, (len2 >> 16) & 0xff, (len2 >> 8) & 0xff, len2 & 0xff};
    assert_int_equal(send(fd, hdr2, 4, 0), 4);
    at = 0;
    pump(eng, fd, &at, len2);
    assert_true(te_wait(eng, &r, SP_EV_MSG, 2, 1, 5000));
    const struct rec *m = te_nth(&r, SP_EV_MSG, 2, 0);
    assert_int_equal(m->ev.len, len2);
    assert_int_equal(m->data_len, len2);
    for (size_t k = 0; k < len2; k++)
        assert_int_equal(m->data[k], k % 251);
    te_rec_free(&r);
    close(fd);
    assert_int_equal(sp_engine_destroy(eng), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_body_kept_only_as_far_as_shown),
        cmocka_unit_test(test_line_msgs_with_chunk_spans_and_cuts),
        cmocka_unit_test(test_len_error_switches_decoding_to_raw),
        cmocka_unit_test(test_live_switch_keeps_offsets),
        cmocka_unit_test(test_eof_framing),
        cmocka_unit_test(test_blocks_framing_reports_block_lengths),
        cmocka_unit_test(test_send_through_encoder),
        cmocka_unit_test(test_msgs_counted_without_subscribers),
        cmocka_unit_test(test_switch_framing_inside_callback),
        cmocka_unit_test(test_close_inside_callback_ends_the_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
