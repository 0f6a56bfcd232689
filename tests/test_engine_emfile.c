/* Running out of descriptors while connections arrive: accept fails with
 * EMFILE, the engine reports it once, keeps the connections waiting in the
 * backlog, and accepts them once descriptors are free again. */
#include "test_engine_util.h"

#include <dirent.h>
#include <sys/resource.h>

#define CLIENTS 12

static int max_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    int m = -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && atoi(de->d_name) > m)
            m = atoi(de->d_name);
    closedir(d);
    return m;
}

static void test_emfile_on_accept_survived(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    uint32_t l = te_listen(eng, &r, NULL, &port);
    char err[200];

    /* Warm up: libuv's reserve descriptor and the engine's netlink socket
     * are opened once, before the limit bites. */
    int w = raw_connect(port);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    uint32_t first = te_nth(&r, SP_EV_ACCEPTED, 0, 0)->ev.sock;
    sp_engine_reset(eng, first, err, sizeof err);
    assert_true(te_wait_state(eng, &r, first, "gone", 2000));
    close(w);

    /* The flood: the kernel completes them into the listener's backlog. */
    int cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = raw_connect(port);
        assert_true(cl[i] >= 0);
    }
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    /* Fill the holes below the highest descriptor so that exactly three
     * more fit under the limit. */
    int top = max_fd(), nholes = 0;
    int *holes = calloc((size_t)top + 1, sizeof *holes);
    for (int d; nholes <= top && (d = dup(0)) >= 0;) {
        if (d > top) {
            close(d);
            break;
        }
        holes[nholes++] = d;
    }
    low.rlim_cur = (rlim_t)top + 1 + 3; /* room for three more */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

    assert_true(te_wait(eng, &r, SP_EV_ERROR, l, 1, 2000));
    const struct rec *e = te_nth(&r, SP_EV_ERROR, l, 0);
    assert_string_equal(e->code, "EMFILE");
    assert_string_equal(e->op, "accept");
    size_t got = te_count(&r, SP_EV_ACCEPTED, 0) - 1;
    assert_int_equal(got, 3);
    te_run_for(eng, 300);
    /* Reported once per shortage, not once per retry. */
    assert_int_equal(te_count(&r, SP_EV_ERROR, l), 1);
    assert_int_equal(te_count(&r, SP_EV_ACCEPTED, 0) - 1, 3);

    /* Free descriptors by closing what was accepted: the listener resumes. */
    for (size_t i = 1; i <= got; i++)
        sp_engine_close(eng, te_nth(&r, SP_EV_ACCEPTED, 0, i)->ev.sock, err, sizeof err);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1 + got + 1, 2000));
    /* And with the old limit back, every remaining connection comes in. */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1 + CLIENTS, 3000));
    assert_non_null(strstr(te_nth(&r, SP_EV_NOTICE, l, 0)->message, "accepting again"));
    struct sp_sock_info info;
    sp_engine_sock_info(eng, l, &info);
    assert_true(info.open);
    assert_int_equal(info.accepted, 1 + CLIENTS);
    /* The accepted connections work. */
    uint32_t last = te_nth(&r, SP_EV_ACCEPTED, 0, CLIENTS)->ev.sock;
    te_send(eng, last, "ok", 2);
    int echoed = 0;
    for (int i = 0; i < CLIENTS && !echoed; i++) {
        char b[2];
        if (raw_read_n(eng, cl[i], b, 2, 50) == 2)
            echoed = 1;
    }
    assert_true(echoed);
    for (int i = 0; i < CLIENTS; i++)
        close(cl[i]);
    for (int i = 0; i < nholes; i++)
        close(holes[i]);
    free(holes);
    te_done(eng, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emfile_on_accept_survived),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
