/* The relay's life in the engine: pairing, what `relay_info` says, faults
 * refused on other sockets, and teardown with bytes still held by a fault
 * (every timer and buffer freed: sp_engine_destroy() returns 0, and ASan
 * finds no leak). The peers are raw loopback sockets. */
#include "test_engine_util.h"

/* A plain listening socket on 127.0.0.1; returns its descriptor. */
static int raw_server(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int raw_client(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* A relay from 127.0.0.1:0 to the raw server at sport; returns its id. */
static uint32_t relay_to(struct sp_engine *eng, const struct recorder *r, unsigned sport,
                         const struct sp_relay_opts *o, unsigned *port)
{
    struct sp_addr la = te_addr("tcp:127.0.0.1:0");
    char text[64], err[200] = "";
    snprintf(text, sizeof text, "tcp:127.0.0.1:%u", sport);
    struct sp_addr ta = te_addr(text);
    uint32_t id = 0;
    if (sp_engine_relay(eng, &la, &ta, o, &id, err, sizeof err) != 0)
        fail_msg("relay: %s", err);
    *port = te_port(te_nth(r, SP_EV_LISTENING, id, 0)->local);
    return id;
}

static void test_pairing_and_info(void **state)
{
    (void)state;
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned sport, port;
    int srv = raw_server(&sport);
    uint32_t l = relay_to(eng, &r, sport, NULL, &port);
    int cli = raw_client(port);
    /* The client leg (2) is accepted, the target leg (3) connects. */
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, 3, 1, 2000));
    struct sp_relay_info ri;
    assert_int_equal(sp_engine_relay_info(eng, l, &ri), 0);
    assert_int_equal(ri.listener, l);
    assert_int_equal(ri.client, 0);
    assert_int_equal(sp_engine_relay_info(eng, 3, &ri), 0);
    assert_int_equal(ri.client, 2);
    assert_int_equal(ri.target, 3);
    assert_int_equal(ri.fin, SP_FIN_PASS);
    /* Faults are only for relays. */
    char err[200] = "";
    struct sp_fault f = {.set = SP_FAULT_DELAY, .delay_ms = 5};
    assert_int_equal(sp_engine_relay_fault(eng, 3, SP_RELAY_UP, &f, err, sizeof err), 0);
    assert_int_equal(sp_engine_relay_info(eng, 2, &ri), 0);
    assert_int_equal(ri.up.delay_ms, 5);
    assert_int_equal(ri.down.delay_ms, 0);
    assert_true(sp_engine_relay_fault(eng, 99, SP_RELAY_UP, &f, err, sizeof err) < 0);
    struct sp_addr la = te_addr("tcp:127.0.0.1:0");
    uint32_t plain = 0;
    assert_int_equal(sp_engine_listen(eng, &la, NULL, &plain, err, sizeof err), 0);
    assert_true(sp_engine_relay_fault(eng, plain, SP_RELAY_UP, &f, err, sizeof err) < 0);
    assert_non_null(strstr(err, "not a relay"));
    assert_int_equal(sp_engine_relay_info(eng, plain, &ri), -1);
    close(cli);
    close(srv);
    te_done(eng, &r);
}

/* Bytes held by a 10 s delay, the listener closed first: the engine still
 * frees everything when destroyed. */
static void test_teardown_with_held_bytes(void **state)
{
    (void)state;
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned sport, port;
    int srv = raw_server(&sport);
    struct sp_relay_opts o = {.up = {.set = SP_FAULT_DELAY, .delay_ms = 10000}};
    uint32_t l = relay_to(eng, &r, sport, &o, &port);
    int cli = raw_client(port);
    assert_int_equal(send(cli, "held", 4, 0), 4);
    assert_true(te_wait_bytes(eng, &r, 2, 4, 2000));
    char err[200];
    assert_int_equal(sp_engine_close(eng, l, err, sizeof err), 0);
    te_run_for(eng, 20);
    /* Nothing was forwarded yet, and the pair lives on without its listener. */
    assert_int_equal(te_count(&r, SP_EV_SEND, 3), 0);
    struct sp_relay_info ri;
    assert_int_equal(sp_engine_relay_info(eng, 2, &ri), 0);
    assert_int_equal(ri.target, 3);
    close(cli);
    close(srv);
    te_done(eng, &r);
}

/* A target nobody listens on: the client leg is reset and nothing stays. */
static void test_refused_target_resets_the_client(void **state)
{
    (void)state;
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned sport, port;
    int srv = raw_server(&sport);
    close(srv); /* refused from now on */
    relay_to(eng, &r, sport, NULL, &port);
    int cli = raw_client(port);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, 2, 1, 2000));
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, 3, 1, 2000));
    struct sp_sock_info si;
    assert_int_equal(sp_engine_sock_info(eng, 2, &si), 0);
    assert_true(si.ours & SP_OURS_RST);
    close(cli);
    te_done(eng, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairing_and_info),
        cmocka_unit_test(test_teardown_with_held_bytes),
        cmocka_unit_test(test_refused_target_resets_the_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
