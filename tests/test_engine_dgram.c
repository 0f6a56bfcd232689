/* Datagram sockets over loopback: UDP (bind, connect, sendto, truncation,
 * empty datagrams) and Unix datagram sockets (bind, sendto, connect with an
 * automatic abstract address). */
#include "test_engine_util.h"

#include <sys/stat.h>

static int raw_udp(struct sockaddr_in *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof *bound;
    getsockname(fd, (struct sockaddr *)bound, &len);
    return fd;
}

static struct sockaddr_in loop4(unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* 5 bytes, an empty datagram and one larger than the recv size: recv
 * events of 5, 0 and recvsize bytes, the last marked truncated. */
static void test_udp_sizes_empty_and_truncated(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    struct sp_addr a = te_addr("udp:127.0.0.1:0");
    uint32_t id;
    char err[200];
    assert_int_equal(sp_engine_bind(eng, &a, NULL, &id, err, sizeof err), 0);
    const struct rec *b = te_nth(&r, SP_EV_BOUND, id, 0);
    assert_non_null(b);
    unsigned port = te_port(b->local);
    assert_int_equal(sp_engine_set_recvsize(eng, id, 8, err, sizeof err), 0);
    struct sockaddr_in me;
    int fd = raw_udp(&me);
    struct sockaddr_in to = loop4(port);
    assert_int_equal(sendto(fd, "hello", 5, 0, (struct sockaddr *)&to, sizeof to), 5);
    assert_int_equal(sendto(fd, "", 0, 0, (struct sockaddr *)&to, sizeof to), 0);
    assert_int_equal(sendto(fd, "0123456789abcdef", 16, 0, (struct sockaddr *)&to, sizeof to), 16);
    assert_true(te_wait(eng, &r, SP_EV_RECV, id, 3, 2000));
    const struct rec *x0 = te_nth(&r, SP_EV_RECV, id, 0), *x1 = te_nth(&r, SP_EV_RECV, id, 1),
                     *x2 = te_nth(&r, SP_EV_RECV, id, 2);
    assert_int_equal(x0->ev.len, 5);
    assert_false(x0->ev.truncated);
    assert_memory_equal(x0->data, "hello", 5);
    assert_int_equal(x1->ev.len, 0);
    assert_false(x1->ev.truncated);
    assert_int_equal(x2->ev.len, 8);
    assert_true(x2->ev.truncated);
    assert_memory_equal(x2->data, "01234567", 8);
    char from[64];
    snprintf(from, sizeof from, "127.0.0.1:%u", ntohs(me.sin_port));
    assert_string_equal(x0->from, from);
    assert_string_equal(x2->from, from);
    assert_int_equal(x2->ev.seq, 3);

    /* sendto back: one datagram per send, and per piece with split. */
    struct sp_addr back = te_addr(strcat(strcpy((char[80]){0}, "udp:"), from));
    const unsigned char *parts[2] = {(const unsigned char *)"ab", (const unsigned char *)"cd"};
    size_t lens[2] = {2, 2};
    struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 2, .to = &back};
    assert_int_equal(sp_engine_send(eng, id, &req, err, sizeof err), 0);
    req.split = 3;
    assert_int_equal(sp_engine_send(eng, id, &req, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SEND, id, 3, 2000));
    char buf[16];
    assert_int_equal(recv(fd, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "abcd", 4);
    assert_int_equal(recv(fd, buf, sizeof buf, 0), 3);
    assert_int_equal(recv(fd, buf, sizeof buf, 0), 1);
    /* Each datagram is its own send event: seq, offset and bytes. */
    for (size_t i = 1; i < 3; i++) {
        const struct rec *x = te_nth(&r, SP_EV_SEND, id, i);
        assert_int_equal(x->ev.writes, 1);
        assert_int_equal(x->ev.seq, i + 1);
        assert_int_equal(x->ev.off, 4 + 3 * (i - 1));
        assert_int_equal(x->data_len, i == 1 ? 3 : 1);
        assert_memory_equal(x->data, i == 1 ? "abc" : "d", x->data_len);
    }
    /* No destination: refused. */
    req.to = NULL;
    assert_int_equal(sp_engine_send(eng, id, &req, err, sizeof err), -EDESTADDRREQ);
    /* manual recv reports the size of the waiting datagram */
    assert_int_equal(sp_engine_pause(eng, id, err, sizeof err), 0);
    assert_int_equal(sendto(fd, "xyz", 3, 0, (struct sockaddr *)&to, sizeof to), 3);
    te_run_for(eng, 20);
    assert_int_equal(sp_engine_recv_once(eng, id, 0, err, sizeof err), 0);
    const struct rec *x3 = te_nth(&r, SP_EV_RECV, id, 3);
    assert_int_equal(x3->ev.len, 3);
    assert_int_equal(x3->ev.unread, 3);
    assert_int_equal(sp_engine_recv_once(eng, id, 0, err, sizeof err), 0);
    assert_string_equal(te_nth(&r, SP_EV_ERROR, id, 0)->code, "EAGAIN");
    close(fd);
    te_done(eng, &r);
}

/* A connected UDP socket sends to its peer without --to and hears back. */
static void test_udp_connect_round_trip(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct sockaddr_in peer;
    int fd = raw_udp(&peer);
    char text[64];
    snprintf(text, sizeof text, "udp:127.0.0.1:%u", ntohs(peer.sin_port));
    struct sp_addr a = te_addr(text);
    uint32_t id;
    char err[200];
    assert_int_equal(sp_engine_connect(eng, &a, NULL, &id, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, id, 1, 2000));
    const struct rec *c = te_nth(&r, SP_EV_CONNECTED, id, 0);
    assert_string_equal(c->peer, text + 4);
    te_send(eng, id, "ping", 4);
    char buf[16];
    struct sockaddr_in src;
    socklen_t sl = sizeof src;
    assert_int_equal(recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&src, &sl), 4);
    assert_int_equal(sendto(fd, "pong", 4, 0, (struct sockaddr *)&src, sl), 4);
    assert_true(te_wait(eng, &r, SP_EV_RECV, id, 1, 2000));
    assert_string_equal(te_nth(&r, SP_EV_RECV, id, 0)->from, text + 4);
    /* --to on a connected UDP socket is refused */
    struct sp_send_req req = {.to = &a};
    assert_true(sp_engine_send(eng, id, &req, err, sizeof err) < 0);
    close(fd);
    te_done(eng, &r);
}

/* UDP echo answers each datagram to its sender. */
static void test_udp_echo(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct sp_addr a = te_addr("udp:127.0.0.1:0");
    struct sp_sock_opts o = {.echo = 1};
    uint32_t id;
    char err[200];
    assert_int_equal(sp_engine_bind(eng, &a, &o, &id, err, sizeof err), 0);
    struct sockaddr_in me;
    int fd = raw_udp(&me);
    struct sockaddr_in to = loop4(te_port(te_nth(&r, SP_EV_BOUND, id, 0)->local));
    assert_int_equal(sendto(fd, "echo", 4, 0, (struct sockaddr *)&to, sizeof to), 4);
    assert_true(te_wait(eng, &r, SP_EV_SEND, id, 1, 2000));
    char buf[8];
    assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), 4);
    assert_memory_equal(buf, "echo", 4);
    close(fd);
    te_done(eng, &r);
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "/tmp/sp-test-%d-%s", (int)getpid(), name);
    unlink(buf);
}

/* Unix datagrams both ways between a bound engine socket and a raw one. */
static void test_unix_dgram_round_trip(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char path[108], cpath[108], text[128];
    tmp_path(path, sizeof path, "dg");
    tmp_path(cpath, sizeof cpath, "dgc");
    snprintf(text, sizeof text, "unix-dgram:%s", path);
    struct sp_addr a = te_addr(text);
    uint32_t id;
    char err[200];
    assert_int_equal(sp_engine_bind(eng, &a, NULL, &id, err, sizeof err), 0);
    assert_string_equal(te_nth(&r, SP_EV_BOUND, id, 0)->local, path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un me = {.sun_family = AF_UNIX}, srv = {.sun_family = AF_UNIX};
    strcpy(me.sun_path, cpath);
    strcpy(srv.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
    assert_int_equal(sendto(fd, "unix!", 5, 0, (struct sockaddr *)&srv, sizeof srv), 5);
    assert_int_equal(sendto(fd, "", 0, 0, (struct sockaddr *)&srv, sizeof srv), 0);
    assert_true(te_wait(eng, &r, SP_EV_RECV, id, 2, 2000));
    const struct rec *x = te_nth(&r, SP_EV_RECV, id, 0);
    assert_int_equal(x->ev.len, 5);
    assert_string_equal(x->from, cpath);
    assert_int_equal(te_nth(&r, SP_EV_RECV, id, 1)->ev.len, 0);

    snprintf(text, sizeof text, "unix-dgram:%s", cpath);
    struct sp_addr back = te_addr(text);
    const unsigned char *parts[1] = {(const unsigned char *)"reply"};
    size_t lens[1] = {5};
    struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 1, .to = &back};
    assert_int_equal(sp_engine_send(eng, id, &req, err, sizeof err), 0);
    /* The send event never precedes the call that caused it. */
    assert_int_equal(te_count(&r, SP_EV_SEND, id), 0);
    assert_true(te_wait(eng, &r, SP_EV_SEND, id, 1, 2000));
    char buf[16];
    assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), 5);
    assert_memory_equal(buf, "reply", 5);

    /* a destination nobody bound: the error is an event */
    snprintf(text, sizeof text, "unix-dgram:%s-nobody", path);
    struct sp_addr nowhere = te_addr(text);
    req.to = &nowhere;
    assert_int_equal(sp_engine_send(eng, id, &req, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_ERROR, id, 1, 2000));
    assert_string_equal(te_nth(&r, SP_EV_ERROR, id, 0)->code, "ENOENT");

    assert_int_equal(sp_engine_close(eng, id, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), -1); /* our socket file is removed */
    close(fd);
    unlink(cpath);
    te_done(eng, &r);
}

/* connect on unix-dgram binds an abstract address so the peer can reply. */
static void test_unix_dgram_connect_autobinds(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char path[108], text[128];
    tmp_path(path, sizeof path, "dgs");
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un srv = {.sun_family = AF_UNIX};
    strcpy(srv.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&srv, sizeof srv), 0);
    snprintf(text, sizeof text, "unix-dgram:%s", path);
    struct sp_addr a = te_addr(text);
    uint32_t id;
    char err[200];
    assert_int_equal(sp_engine_connect(eng, &a, NULL, &id, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, id, 1, 2000));
    const struct rec *c = te_nth(&r, SP_EV_CONNECTED, id, 0);
    assert_int_equal(c->local[0], '@');
    assert_string_equal(c->peer, path);
    assert_non_null(strstr(te_nth(&r, SP_EV_NOTICE, id, 0)->message, "abstract"));
    te_send(eng, id, "hi", 2);
    char buf[8];
    struct sockaddr_un src;
    socklen_t sl = sizeof src;
    uint64_t end = te_ms() + 2000;
    ssize_t n = -1;
    while (n < 0 && te_ms() < end) {
        n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&src, &sl);
        sp_engine_poll(eng);
    }
    assert_int_equal(n, 2);
    assert_int_equal(sendto(fd, "yo", 2, 0, (struct sockaddr *)&src, sl), 2);
    assert_true(te_wait(eng, &r, SP_EV_RECV, id, 1, 2000));
    assert_string_equal(te_nth(&r, SP_EV_RECV, id, 0)->from, path);
    close(fd);
    unlink(path);

    /* connecting where nobody listens: error then closed */
    uint32_t bad;
    struct sp_addr nob = te_addr("unix-dgram:/tmp/sp-test-nobody-here");
    assert_int_equal(sp_engine_connect(eng, &nob, NULL, &bad, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, bad, 1, 2000));
    assert_string_equal(te_nth(&r, SP_EV_ERROR, bad, 0)->code, "ENOENT");
    te_done(eng, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_sizes_empty_and_truncated),
        cmocka_unit_test(test_udp_connect_round_trip),
        cmocka_unit_test(test_udp_echo),
        cmocka_unit_test(test_unix_dgram_round_trip),
        cmocka_unit_test(test_unix_dgram_connect_autobinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
