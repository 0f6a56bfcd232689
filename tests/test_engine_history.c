/* Bounded event logs: the ring logic against a model, the per-socket caps
 * (events and bytes) with drop markers, and the global cap. */
#include "test_engine_util.h"

#include "history.h"
#include "testutil.h"

static void fill_pattern(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i);
}

/* Random sizes through a small log: every kept event reads back exactly,
 * the newest is always kept, and the caps hold. */
static void test_ring_matches_model(void **state)
{
    struct sp_hist_pool pool = {.used = 0, .max = 1u << 30};
    struct sp_hist *h = NULL;
    uint64_t rng = 42;
    unsigned char data[3000], check[3000];
    const size_t events_max = 100, bytes_max = 16384;
    size_t sizes[2000];
    for (uint64_t i = 0; i < 2000; i++) {
        size_t n = tu_rand(&rng) % 3000;
        if (i % 7 == 0)
            n = 0;
        sizes[i] = n;
        fill_pattern(data, n, i);
        char msg[32];
        snprintf(msg, sizeof msg, "event %llu", (unsigned long long)i);
        uint32_t cuts[3] = {1, 2, (uint32_t)i};
        struct sp_event ev = {.type = SP_EV_RECV,
                              .seq = i + 1,
                              .len = n,
                              .data = data,
                              .data_len = n,
                              .message = msg,
                              .cuts = cuts,
                              .ncuts = 3};
        sp__hist_push(&h, &pool, &ev, 1, events_max, bytes_max);
        assert_int_equal(sp__hist_end(h), i + 1);
        uint64_t b = sp__hist_begin(h);
        assert_true(i + 1 - b <= events_max);
        assert_true(sp__hist_mem(h) <= sizeof(struct sp_event) * 2 * events_max + bytes_max + 4096);
        for (uint64_t k = b; k <= i; k++) {
            struct sp_event out;
            assert_int_equal(sp__hist_get(h, k, &out), 0);
            assert_int_equal(out.seq, k + 1);
            assert_int_equal(out.len, sizes[k]);
            snprintf(msg, sizeof msg, "event %llu", (unsigned long long)k);
            assert_string_equal(out.message, msg);
            assert_int_equal(out.ncuts, 3);
            assert_int_equal(out.cuts[2], (uint32_t)k);
            assert_null(out.local);
            /* payloads are kept whole here (each is < bytes_max / 2) */
            assert_int_equal(out.data_len, sizes[k]);
            fill_pattern(check, sizes[k], k);
            assert_memory_equal(out.data, check, sizes[k]);
        }
        if (b > 0) {
            struct sp_event out;
            assert_int_equal(sp__hist_get(h, b - 1, &out), -1);
        }
    }
    assert_true(sp__hist_begin(h) > 0);
    size_t used = pool.used;
    assert_int_equal(used, sp__hist_mem(h));
    sp__hist_free(h, &pool);
    assert_int_equal(pool.used, 0);
}

/* Two logs under a small global cap: growth stops at the cap and each log
 * then drops its own oldest events. */
static void test_global_cap(void **state)
{
    struct sp_hist_pool pool = {.used = 0, .max = 256 * 1024};
    struct sp_hist *a = NULL, *b = NULL;
    unsigned char data[4096];
    memset(data, 'x', sizeof data);
    for (int i = 0; i < 2000; i++) {
        struct sp_event ev = {.type = SP_EV_RECV,
                              .seq = (uint64_t)i + 1,
                              .len = sizeof data,
                              .data = data,
                              .data_len = sizeof data};
        sp__hist_push(i % 2 ? &a : &b, &pool, &ev, 1, SP_HIST_EVENTS_MAX, SP_HIST_BYTES_MAX);
    }
    assert_true(pool.used <= pool.max + 2 * 8192);
    assert_true(sp__hist_begin(a) > 0 && sp__hist_begin(b) > 0);
    struct sp_event out;
    assert_int_equal(sp__hist_get(a, sp__hist_end(a) - 1, &out), 0);
    assert_int_equal(out.seq, 2000); /* the newest is kept */
    assert_int_equal(out.data_len, sizeof data);
    sp__hist_free(a, &pool);
    sp__hist_free(b, &pool);
    assert_int_equal(pool.used, 0);
}

/* A socket with more than 10,000 events keeps the newest 10,000 and says
 * how many were dropped. */
static void test_socket_event_cap_and_marker(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    int lfd, fd;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &fd);
    char err[200];
    struct sp_event ev;
    assert_int_equal(sp_hist_dropped(eng, c, &ev), -1);
    assert_int_equal(sp_engine_set_recvsize(eng, c, 1, err, sizeof err), 0);
    static char buf[10500];
    memset(buf, 'z', sizeof buf);
    assert_int_equal(send(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    assert_true(te_wait_bytes(eng, &r, c, sizeof buf, 10000));
    uint64_t b = sp_hist_begin(eng, c), e = sp_hist_end(eng, c);
    assert_int_equal(e - b, SP_HIST_EVENTS_MAX);
    assert_true(b > 0);
    assert_int_equal(sp_hist_get(eng, c, b - 1, &ev), -1);
    assert_int_equal(sp_hist_get(eng, c, e, &ev), -1);
    assert_int_equal(sp_hist_dropped(eng, c, &ev), 0);
    assert_int_equal(ev.type, SP_EV_DROPPED);
    assert_int_equal(ev.dropped, b);
    assert_int_equal(sp_hist_get(eng, c, e - 1, &ev), 0);
    assert_int_equal(ev.type, SP_EV_RECV);
    assert_int_equal(ev.seq, sizeof buf);
    assert_int_equal(ev.off, sizeof buf - 1);
    uint64_t prev = 0;
    for (uint64_t i = b; i < e; i++) {
        assert_int_equal(sp_hist_get(eng, c, i, &ev), 0);
        if (ev.type == SP_EV_RECV) {
            assert_true(prev == 0 || ev.seq == prev + 1);
            prev = ev.seq;
            assert_int_equal(ev.data_len, 1);
        }
    }
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

/* More than 4 MiB of payload: the oldest events go, the kept data stays
 * under the cap. */
static void test_socket_byte_cap(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    int lfd, fd;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &fd);
    size_t total = 6u * 1024 * 1024, sent = 0;
    unsigned char *buf = malloc(65536);
    memset(buf, 'q', 65536);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    uint64_t end = te_ms() + 10000;
    while (sent < total && te_ms() < end) {
        ssize_t n = send(fd, buf, 65536, 0);
        if (n > 0)
            sent += (size_t)n;
        sp_engine_poll(eng);
    }
    assert_true(te_wait_bytes(eng, &r, c, total, 10000));
    uint64_t b = sp_hist_begin(eng, c), e = sp_hist_end(eng, c);
    assert_true(b > 0);
    size_t kept = 0;
    struct sp_event ev;
    for (uint64_t i = b; i < e; i++) {
        assert_int_equal(sp_hist_get(eng, c, i, &ev), 0);
        kept += ev.data_len;
    }
    assert_true(kept <= SP_HIST_BYTES_MAX);
    assert_true(kept >= SP_HIST_BYTES_MAX / 2);
    assert_int_equal(sp_hist_get(eng, c, e - 1, &ev), 0);
    assert_int_equal(ev.type, SP_EV_RECV);
    assert_int_equal(ev.off + ev.len, total);
    free(buf);
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

/* A few small events far below both caps are all kept, whatever their
 * sizes: a byte ring that has room in all but not in one piece at its tail
 * grows instead of dropping the oldest event (it dropped a connection's SYN
 * segment after 17 events of a few dozen bytes). */
static void test_small_events_all_kept(void **state)
{
    (void)state;
    struct sp_hist_pool pool = {.used = 0, .max = 1u << 30};
    struct sp_hist *h = NULL;
    unsigned char data[200];
    memset(data, 'x', sizeof data);
    for (size_t i = 0; i < 200; i++) {
        size_t n = (i * 37) % 120;
        struct sp_event ev = {.type = SP_EV_SEGMENT, .seq = i + 1, .data = data, .data_len = n};
        sp__hist_push(&h, &pool, &ev, 1, SP_HIST_EVENTS_MAX, SP_HIST_BYTES_MAX);
        assert_int_equal(sp__hist_begin(h), 0);
        assert_int_equal(sp__hist_end(h), i + 1);
    }
    sp__hist_free(h, &pool);
}

/* keep_data = 0 keeps the metadata only. */
static void test_history_without_data(void **state)
{
    struct sp_engine *eng;
    struct sp_engine_opts o = {.keep_history = 1, .keep_data = 0};
    assert_int_equal(sp_engine_new(&eng, &o), 0);
    struct recorder r = {0};
    unsigned port;
    int lfd = raw_listen(AF_INET, &port, 4);
    sp_engine_subscribe(eng, SP_EV_MASK_ALL, te_record, &r);
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
    int fd = raw_accept(eng, lfd, 2000);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    assert_int_equal(send(fd, "abc", 3, 0), 3);
    assert_true(te_wait_bytes(eng, &r, c, 3, 2000));
    /* the subscriber saw the bytes, the log kept only the length */
    assert_memory_equal(te_nth(&r, SP_EV_RECV, c, 0)->data, "abc", 3);
    struct sp_event ev;
    int found = 0;
    for (uint64_t i = sp_hist_begin(eng, c); i < sp_hist_end(eng, c); i++) {
        sp_hist_get(eng, c, i, &ev);
        if (ev.type == SP_EV_RECV) {
            found = 1;
            assert_int_equal(ev.len, 3);
            assert_int_equal(ev.data_len, 0);
        }
    }
    assert_true(found);
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_matches_model),
        cmocka_unit_test(test_global_cap),
        cmocka_unit_test(test_socket_event_cap_and_marker),
        cmocka_unit_test(test_socket_byte_cap),
        cmocka_unit_test(test_history_without_data),
        cmocka_unit_test(test_small_events_all_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
