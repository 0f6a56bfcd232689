/* Running labs through the command queue on loopback, as the TUI does (with
 * a step key): a step that asks waits before it runs, Space moves on, r runs
 * the step again, `step` lines wait; a failing command stops the lab; a
 * queue freed in the middle of a lab leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockpit/cmd/cmd.h"
#include "sockpit/cmd/lab.h"
#include "sockpit/engine/engine.h"
#include "sockpit/proto/labfile.h"
#include "testutil.h"

struct harness {
    struct sp_engine *eng;
    struct sp_cmdq *q;
    int notes, checks_held, checks_failed, errors, idle_calls, idle_failed;
};

static void h_event(void *ud, const struct sp_event *ev)
{
    struct harness *h = ud;
    if (ev->type == SP_EV_NOTE)
        h->notes++;
    else if (ev->type == SP_EV_CHECK)
        ev->held ? h->checks_held++ : h->checks_failed++;
    else if (ev->type == SP_EV_CMD_ERROR)
        h->errors++;
}

static void h_idle(void *ud, int failed)
{
    struct harness *h = ud;
    h->idle_calls++;
    h->idle_failed |= failed;
}

static void h_init(struct harness *h, int stepping)
{
    memset(h, 0, sizeof *h);
    struct sp_engine_opts o;
    memset(&o, 0, sizeof o);
    assert_int_equal(sp_engine_new(&h->eng, &o), 0);
    sp_engine_subscribe(h->eng, SP_EV_MASK_ALL, h_event, h);
    struct sp_cmd_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hooks.stepping = stepping;
    h->q = sp_cmdq_new(h->eng, &hooks, h);
    assert_non_null(h->q);
    sp_cmdq_on_idle(h->q, h_idle, h);
}

static void h_free(struct harness *h)
{
    sp_cmdq_free(h->q);
    assert_int_equal(sp_engine_destroy(h->eng), 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the loop until the lab is in phase at step (index), at most 5 s. */
static const struct sp_lab_view *until(struct harness *h, size_t step, enum sp_lab_phase phase)
{
    double end = now_s() + 5;
    while (now_s() < end) {
        sp_engine_poll(h->eng);
        const struct sp_lab_view *v = sp_cmdq_lab(h->q);
        if (v != NULL && v->step == step && v->phase == phase)
            return v;
    }
    const struct sp_lab_view *v = sp_cmdq_lab(h->q);
    fail_msg("lab not in phase %d of step %zu (now %d of %zu)", (int)phase, step,
             v ? (int)v->phase : -1, v ? v->step : 0);
    return NULL;
}

static void spin(struct harness *h, int ms)
{
    double end = now_s() + ms / 1000.0;
    while (now_s() < end)
        sp_engine_poll(h->eng);
}

static void test_lab_run_stops_asks_and_repeats_with_a_step_key(void **state)
{
    struct harness h;
    h_init(&h, 1);
    sp_cmdq_push(h.q, "lab split", "t");
    /* Step 1 asks nothing: it runs, then waits with its note shown. */
    const struct sp_lab_view *v = until(&h, 0, SP_LAB_SHOWING);
    assert_int_equal(h.notes, 1);
    assert_int_equal(v->checks_held, 1);
    assert_int_equal(v->nsocks, 3);
    assert_true(sp_cmdq_step_waiting(h.q));
    assert_int_equal(sp_cmdq_step(h.q), 0);
    /* Step 2 asks first: nothing has run. */
    v = until(&h, 1, SP_LAB_ASKING);
    assert_non_null(v->ask);
    assert_int_equal(v->nchoices, 3);
    assert_int_equal(v->answer, 2);
    assert_int_equal(v->held[0], SP_LAB_CHECK_PENDING);
    spin(&h, 50);
    assert_int_equal(h.notes, 1);
    assert_int_equal(sp_cmdq_step(h.q), 0);
    v = until(&h, 1, SP_LAB_SHOWING);
    assert_int_equal(v->held[0], 1);
    assert_int_equal(v->checks_held, 3);
    assert_non_null(strstr(v->note, "recv #1..#4"));
    /* r runs it again: the checks are counted afresh, not twice. */
    assert_int_equal(sp_cmdq_step_repeat(h.q), 0);
    v = until(&h, 1, SP_LAB_SHOWING);
    assert_int_equal(h.notes, 3);
    assert_int_equal(v->checks_held, 3);
    assert_int_equal(v->held[0], 1);
    assert_int_equal(sp_cmdq_step(h.q), 0);
    until(&h, 2, SP_LAB_ASKING);
    assert_int_equal(sp_cmdq_step(h.q), 0);
    until(&h, 2, SP_LAB_SHOWING);
    assert_int_equal(sp_cmdq_step(h.q), 0); /* step 4 asks nothing */
    until(&h, 3, SP_LAB_SHOWING);
    assert_int_equal(sp_cmdq_step(h.q), 0);
    v = until(&h, 3, SP_LAB_DONE);
    spin(&h, 20);
    assert_int_equal(v->checks_failed, 0);
    assert_int_equal(h.checks_failed, 0);
    assert_int_equal(h.errors, 0);
    assert_false(sp_cmdq_step_waiting(h.q));
    assert_int_equal(sp_cmdq_step(h.q), -1);
    assert_true(h.idle_calls > 0 && !h.idle_failed);
    h_free(&h);
}

static void test_lab_run_step_lines_wait_only_with_a_step_key(void **state)
{
    struct harness h;
    h_init(&h, 1);
    sp_cmdq_push(h.q, "step", "t");
    sp_cmdq_push(h.q, "help step", "t");
    spin(&h, 30);
    assert_true(sp_cmdq_step_waiting(h.q));
    assert_false(sp_cmdq_idle(h.q));
    assert_int_equal(sp_cmdq_step_repeat(h.q), -1);
    assert_int_equal(sp_cmdq_step(h.q), 0);
    spin(&h, 30);
    assert_true(sp_cmdq_idle(h.q));
    h_free(&h);

    h_init(&h, 0);
    sp_cmdq_push(h.q, "step the class thinks", "t");
    spin(&h, 30);
    assert_true(sp_cmdq_idle(h.q));
    assert_false(sp_cmdq_step_waiting(h.q));
    assert_int_equal(h.errors, 0);
    h_free(&h);
}

static const char failing_lab[] = "lab: failing\nsummary: s\n"
                                  "step: one\nlisten tcp:0\nclose $1\nnote: n\n"
                                  "step: two\nsend $1 x\nnote: never\ncheck: c eof $1\n";

static void test_lab_run_a_failing_command_stops_the_lab(void **state)
{
    char path[] = "/tmp/sockpit-lab-XXXXXX.lab";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, failing_lab, sizeof failing_lab - 1),
                     (ssize_t)(sizeof failing_lab - 1));
    close(fd);
    struct harness h;
    h_init(&h, 0);
    char line[128];
    snprintf(line, sizeof line, "lab %s", path);
    sp_cmdq_push(h.q, line, "t");
    const struct sp_lab_view *v = until(&h, 1, SP_LAB_DONE);
    spin(&h, 20);
    assert_true(v->failed);
    assert_int_equal(h.notes, 1);  /* step two never got to its note */
    assert_int_equal(h.errors, 2); /* the send, then the lab line */
    assert_true(h.idle_failed);
    h_free(&h);
    unlink(path);
}

/* Freed while a step runs, while it waits at a prediction, and a lab
 * replaced by the next: ASan and uv_loop_close() see nothing left. */
static void test_lab_run_freed_midway_leaves_nothing(void **state)
{
    struct harness h;
    h_init(&h, 1);
    sp_cmdq_push(h.q, "lab teardown", "t");
    spin(&h, 5);
    h_free(&h);

    h_init(&h, 1);
    sp_cmdq_push(h.q, "lab split", "t");
    until(&h, 0, SP_LAB_SHOWING);
    assert_int_equal(sp_cmdq_step(h.q), 0);
    until(&h, 1, SP_LAB_ASKING);
    h_free(&h);

    h_init(&h, 0);
    sp_cmdq_push(h.q, "lab framing-eof", "t");
    sp_cmdq_push(h.q, "lab udp", "t");
    until(&h, 4, SP_LAB_DONE);
    spin(&h, 20);
    assert_int_equal(h.checks_failed, 0);
    h_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lab_run_stops_asks_and_repeats_with_a_step_key),
        cmocka_unit_test(test_lab_run_step_lines_wait_only_with_a_step_key),
        cmocka_unit_test(test_lab_run_a_failing_command_stops_the_lab),
        cmocka_unit_test(test_lab_run_freed_midway_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
