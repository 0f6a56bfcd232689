/* The qdisc query (engine_qdisc.c): what it says a qdisc does with
 * packets, and a real RTM_GETQDISC dump of this namespace's lo. The drop
 * counts against tc and the netns cases are in tests/integration/test_loss.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/engine/qdisc.h"

static int loses(const char *kind, uint32_t ppm, int model, char *why, size_t n)
{
    struct sp_qdisc q;
    memset(&q, 0, sizeof q);
    snprintf(q.kind, sizeof q.kind, "%s", kind);
    q.netem_loss_ppm = ppm;
    q.netem_loss_model = model;
    return sp_qdisc_loses(&q, why, n);
}

static void test_qdisc_says_what_loses_packets(void **state)
{
    (void)state;
    char why[160];
    assert_int_equal(loses("netem", 100000, 0, why, sizeof why), 1);
    assert_string_equal(why, "netem drops 10% of the packets at random");
    assert_int_equal(loses("netem", 12500, 0, why, sizeof why), 1);
    assert_string_equal(why, "netem drops 1.25% of the packets at random");
    assert_int_equal(loses("netem", 1, 0, why, sizeof why), 1);
    assert_string_equal(why, "netem drops 0.0001% of the packets at random");
    assert_int_equal(loses("netem", 0, 1, why, sizeof why), 1);
    assert_non_null(strstr(why, "loss model"));
    assert_int_equal(loses("netem", 0, 0, why, sizeof why), 0);
    assert_string_equal(why, "netem is there but its loss is 0%");
    assert_int_equal(loses("tbf", 0, 0, why, sizeof why), 1);
    assert_non_null(strstr(why, "tail drop"));
    assert_int_equal(loses("noqueue", 0, 0, why, sizeof why), 0);
    assert_string_equal(why, "its root qdisc is noqueue, neither netem with loss nor tbf");
    assert_int_equal(loses("pfifo", 0, 0, why, sizeof why), 0);
}

static void test_qdisc_of_lo_and_of_no_interface(void **state)
{
    (void)state;
    struct sp_qdisc q;
    char err[200];
    /* lo always has a root qdisc (noqueue unless someone added one). */
    assert_int_equal(sp_qdisc_root("lo", &q, err, sizeof err), 0);
    assert_true(q.kind[0] != '\0');
    assert_int_equal(sp_qdisc_root("sockpit-none0", &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "no interface sockpit-none0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qdisc_says_what_loses_packets),
        cmocka_unit_test(test_qdisc_of_lo_and_of_no_interface),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
