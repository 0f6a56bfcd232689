/* Engine core over loopback TCP: the round trip, recv sizes and
 * boundaries, pause/resume/manual recv, errors, descriptors. */
#include "test_engine_util.h"

#include <sys/resource.h>

#include "testutil.h"

/* listen, connect, accept, data both ways, close: the events and their order. */
static void test_tcp_round_trip(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    unsigned port;
    uint32_t l = te_listen(eng, &r, NULL, &port);
    assert_int_equal(l, 1);
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
    assert_int_equal(c, 2);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    const struct rec *acc = te_nth(&r, SP_EV_ACCEPTED, 0, 0);
    uint32_t a = acc->ev.sock;
    assert_int_equal(a, 3);
    assert_int_equal(acc->ev.parent, l);
    const struct rec *con = te_nth(&r, SP_EV_CONNECTED, c, 0);
    /* Each side's local is the other's peer. */
    assert_string_equal(con->local, acc->peer);
    assert_string_equal(con->peer, acc->local);
    assert_true(te_wait_state(eng, &r, c, "ESTABLISHED", 1000));
    assert_true(te_saw_state(&r, l, "LISTEN"));

    te_send(eng, c, "hello", 5);
    assert_true(te_wait(eng, &r, SP_EV_RECV, a, 1, 2000));
    const struct rec *rv = te_nth(&r, SP_EV_RECV, a, 0);
    assert_int_equal(rv->ev.len, 5);
    assert_int_equal(rv->ev.seq, 1);
    assert_int_equal(rv->ev.off, 0);
    assert_int_equal(rv->ev.unread, -1);
    assert_memory_equal(rv->data, "hello", 5);
    assert_true(te_wait(eng, &r, SP_EV_SEND, c, 1, 2000));
    const struct rec *sd = te_nth(&r, SP_EV_SEND, c, 0);
    assert_int_equal(sd->ev.len, 5);
    assert_int_equal(sd->ev.writes, 1);
    assert_int_equal(sd->ev.seq, 1);

    te_send(eng, a, "world!", 6);
    assert_true(te_wait(eng, &r, SP_EV_RECV, c, 1, 2000));
    assert_memory_equal(te_nth(&r, SP_EV_RECV, c, 0)->data, "world!", 6);

    char err[200];
    assert_int_equal(sp_engine_close(eng, c, err, sizeof err), 0);
    assert_non_null(te_nth(&r, SP_EV_CLOSED, c, 0));
    assert_string_equal(te_nth(&r, SP_EV_CLOSED, c, 0)->reason, "closed by us");
    /* summary always follows closed */
    long ic = te_index(&r, SP_EV_CLOSED, c), is = te_index(&r, SP_EV_SUMMARY, c);
    assert_true(is == ic + 1);
    const struct rec *sum = te_nth(&r, SP_EV_SUMMARY, c, 0);
    assert_int_equal(sum->ev.bytes_in, 6);
    assert_int_equal(sum->ev.bytes_out, 5);
    assert_int_equal(sum->ev.chunks, 1);
    assert_true(te_wait(eng, &r, SP_EV_EOF, a, 1, 2000));

    struct sp_sock_info info;
    assert_int_equal(sp_engine_sock_info(eng, a, &info), 0);
    assert_true(info.peers & SP_PEER_FIN);
    assert_int_equal(info.ours, 0);
    assert_int_equal(info.parent, l);
    assert_true(info.open);
    assert_int_equal(sp_engine_sock_info(eng, c, &info), 0);
    assert_false(info.open);
    assert_true(info.ours & SP_OURS_CLOSED);

    uint32_t ids[8];
    assert_int_equal(sp_engine_sock_ids(eng, ids, 8), 3);
    assert_int_equal(sp_engine_last_id(eng), 3);
    /* The closed socket's history stays readable. */
    assert_true(sp_hist_end(eng, c) > 3);
    struct sp_event ev;
    assert_int_equal(sp_hist_get(eng, c, 0, &ev), 0);
    assert_int_equal(ev.type, SP_EV_CONNECTED);
    assert_string_equal(ev.peer, con->peer);

    sp_engine_close_all(eng);
    assert_int_equal(sp_engine_sock_info(eng, l, &info), 0);
    assert_false(info.open);
    te_done(eng, &r);
}

/* recvsize 7 and one 100-byte write: every recv is one read of <= 7 bytes,
 * seq and offsets consecutive, payload intact. */
static void test_recvsize_7_splits_100_bytes(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    int lfd = raw_listen(AF_INET, &port, 4);
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
    char err[200];
    assert_int_equal(sp_engine_set_recvsize(eng, c, 7, err, sizeof err), 0);
    assert_int_equal(sp_engine_set_recvsize(eng, c, 0, err, sizeof err), -EINVAL);
    assert_int_equal(sp_engine_set_recvsize(eng, c, SP_RECVSIZE_MAX + 1, err, sizeof err), -EINVAL);
    int fd = raw_accept(eng, lfd, 2000);
    assert_true(fd >= 0);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    unsigned char msg[100];
    for (int i = 0; i < 100; i++)
        msg[i] = (unsigned char)i;
    assert_int_equal(write(fd, msg, 100), 100);
    assert_true(te_wait_bytes(eng, &r, c, 100, 2000));
    size_t n = te_count(&r, SP_EV_RECV, c);
    assert_true(n >= 15);
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rec *x = te_nth(&r, SP_EV_RECV, c, i);
        assert_int_equal(x->ev.seq, i + 1);
        assert_int_equal(x->ev.off, off);
        assert_true(x->ev.len >= 1 && x->ev.len <= 7);
        assert_memory_equal(x->data, msg + off, x->ev.len);
        off += x->ev.len;
    }
    assert_int_equal(off, 100);
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

/* Paused, the bytes of three writes pile up in the kernel; resumed, they
 * arrive in fewer reads than there were writes. */
static void test_pause_three_writes_resume_coalesces(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, fd;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &fd);
    char err[200];
    assert_int_equal(sp_engine_pause(eng, c, err, sizeof err), 0);
    assert_int_equal(write(fd, "one", 3), 3);
    assert_int_equal(write(fd, "two", 3), 3);
    assert_int_equal(write(fd, "three", 5), 5);
    te_run_for(eng, 50);
    assert_int_equal(te_count(&r, SP_EV_RECV, c), 0);
    assert_int_equal(sp_engine_resume(eng, c, err, sizeof err), 0);
    assert_true(te_wait_bytes(eng, &r, c, 11, 2000));
    assert_true(te_count(&r, SP_EV_RECV, c) < 3);
    assert_memory_equal(te_nth(&r, SP_EV_RECV, c, 0)->data, "onetwo", 6);
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

/* A manual recv while paused takes up to N bytes and reports how many were
 * unread just before. */
static void test_manual_recv_reports_unread(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, fd;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &fd);
    char err[200];
    /* Not paused: refused. */
    assert_true(sp_engine_recv_once(eng, c, 4, err, sizeof err) < 0);
    assert_int_equal(sp_engine_pause(eng, c, err, sizeof err), 0);
    /* An empty queue: the call is made and fails with EAGAIN, an event. */
    assert_int_equal(sp_engine_recv_once(eng, c, 4, err, sizeof err), 0);
    assert_string_equal(te_nth(&r, SP_EV_ERROR, c, 0)->code, "EAGAIN");
    assert_string_equal(te_nth(&r, SP_EV_ERROR, c, 0)->op, "recv");
    assert_int_equal(write(fd, "0123456789", 10), 10);
    te_run_for(eng, 30);
    assert_int_equal(sp_engine_recv_once(eng, c, 4, err, sizeof err), 0);
    const struct rec *x = te_nth(&r, SP_EV_RECV, c, 0);
    assert_non_null(x);
    assert_int_equal(x->ev.len, 4);
    assert_int_equal(x->ev.unread, 10);
    assert_memory_equal(x->data, "0123", 4);
    assert_int_equal(sp_engine_recv_once(eng, c, 0, err, sizeof err), 0);
    x = te_nth(&r, SP_EV_RECV, c, 1);
    assert_int_equal(x->ev.len, 6);
    assert_int_equal(x->ev.unread, 6);
    assert_int_equal(x->ev.off, 4);
    assert_int_equal(x->ev.seq, 2);
    close(fd);
    te_run_for(eng, 20);
    assert_int_equal(sp_engine_recv_once(eng, c, 0, err, sizeof err), 0);
    assert_int_equal(te_count(&r, SP_EV_EOF, c), 1);
    close(lfd);
    te_done(eng, &r);
}

static void test_connect_refused(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    int lfd = raw_listen(AF_INET, &port, 1);
    close(lfd); /* nobody listens there now */
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c, 1, 2000));
    const struct rec *e = te_nth(&r, SP_EV_ERROR, c, 0);
    assert_non_null(e);
    assert_string_equal(e->code, "ECONNREFUSED");
    assert_string_equal(e->op, "connect");
    assert_true(strlen(e->message) > 0);
    assert_string_equal(te_nth(&r, SP_EV_CLOSED, c, 0)->reason, "connect failed");
    assert_true(te_index(&r, SP_EV_ERROR, c) < te_index(&r, SP_EV_CLOSED, c));
    assert_int_equal(te_count(&r, SP_EV_SUMMARY, c), 1);
    te_done(eng, &r);
}

/* A port in use fails the listen call itself, and changes nothing. */
static void test_listen_address_in_use(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    int lfd = raw_listen(AF_INET, &port, 1);
    char text[64], err[200] = "";
    snprintf(text, sizeof text, "tcp:127.0.0.1:%u", port);
    struct sp_addr a = te_addr(text);
    uint32_t id = 99;
    assert_int_equal(sp_engine_listen(eng, &a, NULL, &id, err, sizeof err), -EADDRINUSE);
    assert_non_null(strstr(err, "in use"));
    assert_int_equal(id, 99);
    assert_int_equal(sp_engine_last_id(eng), 0);
    assert_int_equal(r.n, 0);
    close(lfd);
    te_done(eng, &r);
}

/* A listener whose backlog is full drops SYNs: the connect times out after
 * its own timeout, not before, and before a longer one. Wall-clock upper
 * bounds fail on a loaded machine; the order of the two timeouts does not. */
static void test_connect_timeout(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    int lfd = raw_listen(AF_INET, &port, 0);
    int fill[3];
    raw_fill_backlog(lfd, port, fill, 3, 5000);
    struct sp_sock_opts o = {.timeout_ms = 300}, longer = {.timeout_ms = 1500};
    uint64_t t0 = te_ms();
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, &o);
    uint32_t c2 = te_connect(eng, "tcp:127.0.0.1", port, &longer);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c, 1, 20000));
    uint64_t took = te_ms() - t0;
    /* libuv timers count whole milliseconds from the cached loop time */
    assert_true(took >= 240);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c2, 1, 20000));
    uint64_t took2 = te_ms() - t0;
    assert_true(took2 >= 1440);
    /* The kernel alone would keep retrying the SYN for minutes. */
    assert_true(took2 < 20000);
    assert_true(te_index(&r, SP_EV_CLOSED, c) < te_index(&r, SP_EV_CLOSED, c2));
    for (uint32_t id = c; id <= c2; id++) {
        const struct rec *e = te_nth(&r, SP_EV_ERROR, id, 0);
        assert_non_null(e);
        assert_string_equal(e->code, "ETIMEDOUT");
        assert_string_equal(te_nth(&r, SP_EV_CLOSED, id, 0)->reason, "connect timed out");
    }
    for (int i = 0; i < 3; i++)
        if (fill[i] >= 0)
            close(fill[i]);
    close(lfd);
    te_done(eng, &r);
}

/* Echo on a listener applies to every accepted connection. */
static void test_echo_listener(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    struct sp_sock_opts lo = {.echo = 1};
    te_listen(eng, &r, &lo, &port);
    int fd = raw_connect(port);
    assert_true(fd >= 0);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    assert_int_equal(send(fd, "ping\n", 5, 0), 5);
    char buf[16];
    assert_int_equal(raw_read_n(eng, fd, buf, 5, 2000), 5);
    assert_memory_equal(buf, "ping\n", 5);
    uint32_t a = te_nth(&r, SP_EV_ACCEPTED, 0, 0)->ev.sock;
    assert_true(te_wait(eng, &r, SP_EV_SEND, a, 1, 1000));
    /* Turned off: nothing comes back. */
    char err[200];
    assert_int_equal(sp_engine_set_echo(eng, 1, 0, err, sizeof err), 0);
    assert_int_equal(send(fd, "x", 1, 0), 1);
    assert_true(te_wait_bytes(eng, &r, a, 6, 2000));
    te_run_for(eng, 30);
    assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1);
    close(fd);
    te_done(eng, &r);
}

/* split, chunks and delay: separate writes, one send event with the count. */
static void test_send_split_chunks_delay(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, fd;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &fd);
    char err[200];

    const unsigned char *parts[2] = {(const unsigned char *)"abcde",
                                     (const unsigned char *)"fghij"};
    size_t lens[2] = {5, 5};
    struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 2, .split = 3};
    assert_int_equal(sp_engine_send(eng, c, &req, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SEND, c, 1, 2000));
    const struct rec *s1 = te_nth(&r, SP_EV_SEND, c, 0);
    assert_int_equal(s1->ev.writes, 4);
    assert_int_equal(s1->ev.len, 10);
    assert_memory_equal(s1->data, "abcdefghij", 10);

    size_t chunks[2] = {2, 3};
    struct sp_send_req rq2 = {
        .parts = parts, .lens = lens, .nparts = 2, .chunks = chunks, .nchunks = 2, .delay_ms = 40};
    uint64_t t0 = te_ms();
    assert_int_equal(sp_engine_send(eng, c, &rq2, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SEND, c, 2, 2000));
    assert_true(te_ms() - t0 >= 75); /* two delays between three writes */
    const struct rec *s2 = te_nth(&r, SP_EV_SEND, c, 1);
    assert_int_equal(s2->ev.writes, 3);
    assert_int_equal(s2->ev.off, 10);
    assert_int_equal(s2->ev.seq, 2);
    /* With delays the peer sees the pieces separately. */
    char buf[64];
    assert_int_equal(raw_read_n(eng, fd, buf, 20, 2000), 20);
    assert_memory_equal(buf, "abcdefghijabcdefghij", 20);

    /* repeat 3 every 10 ms: three send events */
    struct sp_send_req rq3 = {
        .parts = parts, .lens = lens, .nparts = 1, .repeat = 3, .every_ms = 10};
    assert_int_equal(sp_engine_send(eng, c, &rq3, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SEND, c, 5, 2000));
    assert_int_equal(raw_read_n(eng, fd, buf, 15, 2000), 15);
    assert_memory_equal(buf, "abcdeabcdeabcde", 15);

    /* Bad requests change nothing. */
    struct sp_send_req bad = {
        .parts = parts, .lens = lens, .nparts = 1, .split = 2, .chunks = chunks, .nchunks = 1};
    assert_true(sp_engine_send(eng, c, &bad, err, sizeof err) < 0);
    struct sp_send_req pad = {.parts = parts, .lens = lens, .nparts = 1, .pad = 1};
    assert_true(sp_engine_send(eng, c, &pad, err, sizeof err) < 0);
    assert_non_null(strstr(err, "fixed"));
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

/* A repetition that would push the queue past 8 MiB (filled meanwhile by
 * another send) is dropped with an error event, so whoever waits for the
 * last repetition learns it never comes. */
static void test_repeat_over_the_queue_cap_is_an_error(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, fd;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &fd);
    char err[300];
    size_t one = 1u << 20;
    unsigned char *p = calloc(1, one);
    const unsigned char *parts[1] = {p};
    size_t lens[1] = {one};
    struct sp_send_req rep = {
        .parts = parts, .lens = lens, .nparts = 1, .repeat = 4, .every_ms = 500};
    assert_int_equal(sp_engine_send(eng, c, &rep, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SEND, c, 1, 2000)); /* the first repetition */
    /* The peer reads nothing: fill the kernel and then our queue with other
     * sends until the cap refuses one, before the next repetition is due. */
    int refused = 0;
    for (int i = 0; i < 64 && !refused; i++) {
        refused =
            sp_engine_send(eng, c, &(struct sp_send_req){.parts = parts, .lens = lens, .nparts = 1},
                           err, sizeof err) != 0;
        te_run_for(eng, 2);
    }
    assert_true(refused);
    assert_true(te_wait(eng, &r, SP_EV_ERROR, c, 1, 3000));
    const struct rec *e = te_nth(&r, SP_EV_ERROR, c, 0);
    assert_string_equal(e->op, "send");
    assert_string_equal(e->code, "ENOBUFS");
    struct sp_sock_info info;
    assert_int_equal(sp_engine_sock_info(eng, c, &info), 0);
    assert_true(info.open); /* the socket itself is fine */
    free(p);
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

/* A send that would push the queue past 8 MiB is refused before anything
 * is queued. */
static void test_write_queue_cap_refuses(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, fd;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &fd);
    char err[300];
    size_t big = 3u * 1024 * 1024;
    unsigned char *p = calloc(1, big);
    const unsigned char *parts[1] = {p};
    size_t lens[1] = {big};
    struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 1};
    /* The peer reads nothing: the kernel takes a few MiB at most and the
     * rest stays in our queue. */
    int ok = 0, refused = 0;
    for (int i = 0; i < 8 && !refused; i++) {
        int rc = sp_engine_send(eng, c, &req, err, sizeof err);
        if (rc == 0)
            ok++;
        else
            refused = rc;
        te_run_for(eng, 5);
    }
    assert_int_equal(refused, -ENOBUFS);
    assert_non_null(strstr(err, "write queue full"));
    struct sp_sock_info info;
    assert_int_equal(sp_engine_sock_info(eng, c, &info), 0);
    assert_true(info.queued <= SP_WRITE_QUEUE_MAX);
    assert_true(info.queued + big > SP_WRITE_QUEUE_MAX);
    /* Everything accepted is delivered once the peer reads. */
    size_t want = (size_t)ok * big, got = 0;
    unsigned char *buf = malloc(1 << 16);
    uint64_t end = te_ms() + 5000;
    while (got < want && te_ms() < end) {
        ssize_t n = recv(fd, buf, 1 << 16, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        else
            sp_engine_poll(eng);
    }
    assert_int_equal(got, want);
    assert_true(te_wait(eng, &r, SP_EV_SEND, c, (size_t)ok, 2000));
    free(buf);
    free(p);
    close(fd);
    close(lfd);
    te_done(eng, &r);
}

/* 1,000 listen/connect/accept/close cycles leave no descriptor behind. */
static void test_open_close_cycles_leak_no_fds(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    unsigned port;
    uint32_t l = te_listen(eng, &r, NULL, &port);
    /* Warm-up: libuv's reserve descriptor and the netlink socket open once. */
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    char err[200];
    sp_engine_close(eng, c, err, sizeof err);
    te_run_for(eng, 250);
    int before = tu_count_fds();
    for (int i = 0; i < 1000; i++) {
        c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
        assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, (size_t)i + 2, 2000));
        uint32_t a = te_nth(&r, SP_EV_ACCEPTED, 0, (size_t)i + 1)->ev.sock;
        if (i % 2)
            sp_engine_reset(eng, c, err, sizeof err);
        else
            sp_engine_close(eng, c, err, sizeof err);
        sp_engine_close(eng, a, err, sizeof err);
    }
    te_run_for(eng, 50);
    assert_int_equal(tu_count_fds(), before);
    assert_int_equal(sp_engine_last_id(eng), 3 + 2000);
    sp_engine_close(eng, l, err, sizeof err);
    te_done(eng, &r);
}

/* Subscribers may unsubscribe themselves and others, and call the engine,
 * from inside a callback. */
struct reent {
    struct sp_engine *eng;
    int self, other;
    int self_calls, other_calls;
};

static void reent_self(void *ud, const struct sp_event *ev)
{
    struct reent *x = ud;
    x->self_calls++;
    if (ev->type == SP_EV_ACCEPTED) {
        sp_engine_unsubscribe(x->eng, x->self);
        sp_engine_unsubscribe(x->eng, x->other);
        te_send(x->eng, ev->sock, "hi", 2);
        char err[100];
        sp_engine_close(x->eng, ev->sock, err, sizeof err);
    }
}

static void reent_other(void *ud, const struct sp_event *ev)
{
    struct reent *x = ud;
    x->other_calls++;
}

static void test_reentrant_subscribers(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    struct reent x = {.eng = eng};
    x.self = sp_engine_subscribe(eng, SP_EV_MASK_ALL, reent_self, &x);
    x.other = sp_engine_subscribe(eng, SP_EV_MASK_ALL, reent_other, &x);
    unsigned port;
    te_listen(eng, &r, NULL, &port);
    int fd = raw_connect(port);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    int self_then = x.self_calls, other_then = x.other_calls;
    char buf[4];
    assert_int_equal(raw_read_n(eng, fd, buf, 2, 2000), 2);
    assert_memory_equal(buf, "hi", 2);
    /* The close waited for the queued "hi", then happened. */
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, 2, 1, 2000));
    assert_int_equal(raw_wait_end(eng, fd, 2000), 0);
    assert_int_equal(x.self_calls, self_then);
    assert_int_equal(x.other_calls, other_then);
    close(fd);
    te_done(eng, &r);
}

/* IPv6 loopback works the same way. */
static void test_tcp_ipv6(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct sp_addr a = te_addr("tcp:[::1]:0");
    uint32_t l = 0;
    char err[200] = "";
    if (sp_engine_listen(eng, &a, NULL, &l, err, sizeof err) != 0) {
        te_done(eng, &r);
        skip(); /* no IPv6 on this machine */
    }
    const struct rec *lr = te_nth(&r, SP_EV_LISTENING, l, 0);
    assert_non_null(strstr(lr->local, "[::1]:"));
    uint32_t c = te_connect(eng, "tcp:[::1]", te_port(lr->local), NULL);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    te_send(eng, c, "v6", 2);
    assert_true(te_wait(eng, &r, SP_EV_RECV, 3, 1, 2000));
    te_done(eng, &r);
}

/* Host names resolve asynchronously; a name that does not resolve is an
 * error event, then closed. */
static void test_resolve_localhost_and_failure(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    te_listen(eng, &r, NULL, &port);
    uint32_t c = te_connect(eng, "tcp:localhost", port, NULL);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 3000));
    uint32_t bad = te_connect(eng, "tcp:no-such-host.invalid", port, NULL);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, bad, 1, 5000));
    const struct rec *e = te_nth(&r, SP_EV_ERROR, bad, 0);
    assert_non_null(e);
    assert_string_equal(e->op, "resolve");
    assert_non_null(strstr(e->code, "EAI_"));
    te_done(eng, &r);
}

/* The loop watches front ends use instead of libuv. */
struct watches {
    int fd_calls, timer_calls, prepare_calls, once_calls;
    struct sp_watch *fdw, *oncew;
    int pipefd[2];
};

static void on_fd(void *ud)
{
    struct watches *w = ud;
    char c;
    if (read(w->pipefd[0], &c, 1) == 1)
        w->fd_calls++;
}

static void on_timer(void *ud)
{
    ((struct watches *)ud)->timer_calls++;
}

static void on_prepare(void *ud)
{
    ((struct watches *)ud)->prepare_calls++;
}

static void on_once_stop_self(void *ud)
{
    struct watches *w = ud;
    w->once_calls++;
    sp_watch_stop(w->oncew); /* from inside its own callback */
}

static void test_watches(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct watches w = {0};
    assert_int_equal(pipe(w.pipefd), 0);
    w.fdw = sp_engine_watch_fd(eng, w.pipefd[0], on_fd, &w);
    assert_non_null(w.fdw);
    struct sp_watch *tw = sp_engine_watch_timer(eng, 5, 5, on_timer, &w);
    struct sp_watch *pw = sp_engine_watch_prepare(eng, on_prepare, &w);
    w.oncew = sp_engine_watch_timer(eng, 1, 1, on_once_stop_self, &w);
    assert_int_equal(write(w.pipefd[1], "ab", 2), 2);
    te_run_for(eng, 60);
    assert_int_equal(w.fd_calls, 2);
    assert_true(w.timer_calls >= 3);
    assert_true(w.prepare_calls > 0);
    assert_int_equal(w.once_calls, 1);
    sp_watch_stop(tw);
    sp_watch_stop(pw);
    int t = w.timer_calls;
    te_run_for(eng, 20);
    assert_int_equal(w.timer_calls, t);
    /* the fd watch is left for sp_engine_destroy() to close */
    te_done(eng, &r);
    close(w.pipefd[0]);
    close(w.pipefd[1]);
}

/* A callback that keeps the loop busy, then starts a timer: the timer counts
 * from when it was started, not from the stale time the loop iteration
 * began with (else it fires at once). */
struct stale {
    struct sp_engine *eng;
    struct sp_watch *first, *second;
    uint64_t started_ns, fired_ns;
};

static void on_stale_fired(void *ud)
{
    struct stale *st = ud;
    st->fired_ns = sp_engine_now_ns(st->eng);
    sp_watch_stop(st->second);
}

static void on_busy(void *ud)
{
    struct stale *st = ud;
    sp_watch_stop(st->first);
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    st->started_ns = sp_engine_now_ns(st->eng);
    st->second = sp_engine_watch_timer(st->eng, 200, 0, on_stale_fired, st);
}

static void test_timer_started_after_a_busy_stretch_counts_from_now(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct stale st = {.eng = eng};
    st.first = sp_engine_watch_timer(eng, 0, 0, on_busy, &st);
    te_run_for(eng, 800);
    assert_true(st.fired_ns > 0);
    /* libuv counts whole milliseconds: 200 ms can look like 199.x */
    assert_true(st.fired_ns - st.started_ns >= 199 * 1000000ull);
    te_done(eng, &r);
}

/* Listening on a wildcard address works but says so. */
static void test_wildcard_listen_notice(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct sp_addr a = te_addr("tcp:0.0.0.0:0");
    uint32_t id;
    char err[200];
    assert_int_equal(sp_engine_listen(eng, &a, NULL, &id, err, sizeof err), 0);
    const struct rec *n = te_nth(&r, SP_EV_NOTICE, id, 0);
    assert_non_null(n);
    assert_non_null(strstr(n->message, "every interface"));
    struct sp_sock_info info;
    sp_engine_sock_info(eng, id, &info);
    assert_true(info.wildcard);
    te_done(eng, &r);
}

/* Freeing the engine with everything in flight (a resolution, a connect, a
 * delayed send, a repeat, an accepted connection) still closes every
 * handle. */
static void test_free_with_work_in_flight(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    unsigned port;
    te_listen(eng, &r, NULL, &port);
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    const unsigned char *parts[1] = {(const unsigned char *)"abcdef"};
    size_t lens[1] = {6};
    struct sp_send_req req = {.parts = parts,
                              .lens = lens,
                              .nparts = 1,
                              .split = 1,
                              .delay_ms = 50,
                              .repeat = 100,
                              .every_ms = 100};
    char err[200];
    assert_int_equal(sp_engine_send(eng, c, &req, err, sizeof err), 0);
    te_connect(eng, "tcp:localhost", port, NULL);
    te_connect(eng, "tcp:resolving-at-exit.invalid", port, NULL);
    int lfd = raw_listen(AF_INET, &port, 0);
    int fill = raw_connect(port), fill2 = raw_connect(port);
    te_connect(eng, "tcp:127.0.0.1", port, NULL); /* stays in SYN_SENT */
    struct sp_addr u = te_addr("udp:127.0.0.1:0");
    uint32_t id;
    assert_int_equal(sp_engine_bind(eng, &u, NULL, &id, err, sizeof err), 0);
    te_run_for(eng, 5);
    te_done(eng, &r);
    close(fill);
    close(fill2);
    close(lfd);
}

/* A subscriber that stops the loop when a socket closes: during teardown
 * that asks uv_run() to stop before the closing handles were processed. */
static void stop_on_closed(void *ud, const struct sp_event *ev)
{
    if (ev->type == SP_EV_CLOSED)
        sp_engine_stop(ud);
}

/* sp_engine_destroy() still closes every handle when a subscriber calls
 * sp_engine_stop() from inside the teardown it causes. */
static void test_free_with_stop_in_subscriber(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    unsigned port;
    te_listen(eng, &r, NULL, &port);
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, NULL);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    assert_true(sp_engine_subscribe(eng, SP_EV_MASK(SP_EV_CLOSED), stop_on_closed, eng) > 0);
    te_done(eng, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_round_trip),
        cmocka_unit_test(test_recvsize_7_splits_100_bytes),
        cmocka_unit_test(test_pause_three_writes_resume_coalesces),
        cmocka_unit_test(test_manual_recv_reports_unread),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_listen_address_in_use),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_echo_listener),
        cmocka_unit_test(test_send_split_chunks_delay),
        cmocka_unit_test(test_write_queue_cap_refuses),
        cmocka_unit_test(test_repeat_over_the_queue_cap_is_an_error),
        cmocka_unit_test(test_open_close_cycles_leak_no_fds),
        cmocka_unit_test(test_reentrant_subscribers),
        cmocka_unit_test(test_tcp_ipv6),
        cmocka_unit_test(test_resolve_localhost_and_failure),
        cmocka_unit_test(test_watches),
        cmocka_unit_test(test_timer_started_after_a_busy_stretch_counts_from_now),
        cmocka_unit_test(test_free_with_work_in_flight),
        cmocka_unit_test(test_free_with_stop_in_subscriber),
        cmocka_unit_test(test_wildcard_listen_notice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
