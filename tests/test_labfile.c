/* The lab file format: what parses into what, each refusal's line, column
 * and reason, and that every built-in lab parses and names real commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmd_int.h"
#include "sockpit/cmd/lab.h"
#include "sockpit/proto/buf.h"
#include "sockpit/proto/labfile.h"
#include "testutil.h"

#define HEAD "lab: demo\nsummary: a demo\nduration: 1 min\n"

static struct sp_labdef *parse_ok(const char *text)
{
    struct sp_labdef *d = NULL;
    struct sp_lab_error e;
    /* Right before a PROT_NONE page: an over-read crashes. */
    size_t n = strlen(text);
    unsigned char *g = tu_guard_copy(text, n);
    int r = sp_labfile_parse((const char *)g, n, &d, &e);
    if (r != 0)
        fail_msg("refused at %zu:%zu: %s", e.line, e.col, e.msg);
    tu_guard_free(g, n);
    return d;
}

static void test_labfile_parses_every_part(void **state)
{
    struct sp_labdef *d = parse_ok(HEAD "\n# a comment\n"
                                        "step: First\n"
                                        "  listen tcp:0\n"
                                        "connect $1.addr\r\n"
                                        "send $2 \"a b\" $$5\n"
                                        "ask: How many?\n"
                                        "ask: Really?\n"
                                        "choice: one\n"
                                        "choice: several\n"
                                        "answer: 2\n"
                                        "note: Look at $3.\n"
                                        "note:\n"
                                        "note: Second paragraph.\n"
                                        "check: several recv $3 > 1\n"
                                        "check: rel recv $3 >= msg $3 len<=16\n"
                                        "check: bare eof $3\n"
                                        "check: err error $3 code=ECONNRESET op~re\n"
                                        "check: tw now $2 tcp=TIME_WAIT unread=0\n"
                                        "step: Second\n");
    assert_string_equal(d->name, "demo");
    assert_string_equal(d->summary, "a demo");
    assert_string_equal(d->duration, "1 min");
    assert_int_equal(d->needs, 0);
    assert_int_equal(d->nsteps, 2);
    const struct sp_lab_step *s = &d->steps[0];
    assert_string_equal(s->title, "First");
    assert_int_equal(s->line, 6);
    assert_int_equal(s->ncmds, 3);
    assert_string_equal(s->cmds[0].text, "listen tcp:0");
    assert_string_equal(s->cmds[1].text, "connect $1.addr");
    assert_int_equal(s->cmds[1].line, 8);
    assert_string_equal(s->cmds[2].text, "send $2 \"a b\" $$5");
    assert_string_equal(s->ask, "How many?\nReally?");
    assert_int_equal(s->nchoices, 2);
    assert_string_equal(s->choices[1], "several");
    assert_int_equal(s->answer, 2);
    assert_string_equal(s->note, "Look at $3.\n\nSecond paragraph.");
    assert_int_equal(s->nchecks, 5);
    const struct sp_lab_check *c = &s->checks[0];
    assert_string_equal(c->name, "several");
    assert_string_equal(c->expr, "recv $3 > 1");
    assert_true(c->lhs.is_count);
    assert_string_equal(c->lhs.event, "recv");
    assert_int_equal(c->lhs.sock, 3);
    assert_int_equal(c->op, SP_LAB_GT);
    assert_false(c->rhs.is_count);
    assert_int_equal(c->rhs.num, 1);
    c = &s->checks[1];
    assert_int_equal(c->op, SP_LAB_GE);
    assert_string_equal(c->rhs.event, "msg");
    assert_int_equal(c->rhs.nfilters, 1);
    assert_string_equal(c->rhs.filters[0].field, "len");
    assert_int_equal(c->rhs.filters[0].op, SP_LAB_LE);
    assert_int_equal(c->rhs.filters[0].num, 16);
    c = &s->checks[2]; /* a lone term means "at least one" */
    assert_int_equal(c->op, SP_LAB_GE);
    assert_int_equal(c->rhs.num, 1);
    c = &s->checks[3];
    assert_string_equal(c->lhs.filters[0].text, "ECONNRESET");
    assert_int_equal(c->lhs.filters[1].op, SP_LAB_HAS);
    c = &s->checks[4];
    assert_string_equal(c->lhs.event, "now");
    assert_int_equal(c->lhs.nfilters, 2);
    assert_string_equal(d->steps[1].note, "");
    assert_null(d->steps[1].ask);
    sp_labfile_free(d);
}

struct bad {
    const char *text;
    size_t line, col;
    const char *msg; /* a part of the reason */
};

static void test_labfile_refusals_say_where_and_why(void **state)
{
    static const struct bad bad[] = {
        {"", 1, 1, "no lab: NAME"},
        {"summary: s\n", 1, 1, "no lab: NAME"},
        {"lab: x\nsummary: s\n", 2, 1, "at least one step"},
        {"lab: Bad\n", 1, 6, "lower-case"},
        {"lab: x\nlab: y\n", 2, 1, "given twice"},
        {"lab: x\nstep: t\n", 2, 1, "summary:"},
        {HEAD "listen tcp:0\n", 4, 1, "outside a step"},
        {HEAD "  bogus: 1\n", 4, 3, "unknown directive \"bogus:\""},
        {HEAD "step: t\nduration: 2\n", 5, 1, "before the first step"},
        {HEAD "step:\n", 4, 6, "needs text"},
        {HEAD "step: t\nchoice: a\n", 5, 1, "needs an ask"},
        {HEAD "step: t\nask: q\nchoice: a\nanswer: 2\n", 7, 9, "1 .. 1"},
        {HEAD "step: t\nask: q\nchoice: a\nask: more\n", 7, 1, "before the choices"},
        {HEAD "step: t\nsend $0 x\n", 5, 6, "socket number"},
        {HEAD "step: t\nsend 1 5$\n", 5, 9, "$$ is"},
        {HEAD "step: t\nconnect $1.adr\n", 5, 12, "addr or port"},
        {HEAD "step: t\ncheck:\n", 5, 7, "wants a name"},
        {HEAD "step: t\ncheck: c\n", 5, 9, "what should hold"},
        {HEAD "step: t\ncheck: c! recv\n", 5, 9, "check name"},
        {HEAD "step: t\ncheck: c 5\n", 5, 10, "lone number"},
        {HEAD "step: t\ncheck: c recvd $3\n", 5, 10, "unknown event \"recvd\""},
        {HEAD "step: t\ncheck: c recv $0\n", 5, 15, "$1 .."},
        {HEAD "step: t\ncheck: c recv $3 colour=red\n", 5, 18, "unknown field"},
        {HEAD "step: t\ncheck: c recv $3 code=X\n", 5, 18, "recv events have no field code"},
        {HEAD "step: t\ncheck: c recv $3 flags~SYN\n", 5, 18, "recv events have no field flags"},
        {HEAD "step: t\ncheck: c recv $3 len=x\n", 5, 22, "wants a number"},
        {HEAD "step: t\ncheck: c recv $3 len!\n", 5, 21, "expected an operator"},
        {HEAD "step: t\ncheck: c error $3 code>E\n", 5, 23, "is a name"},
        {HEAD "step: t\ncheck: c error $3 code\n", 5, 23, "needs a value"},
        {HEAD "step: t\ncheck: c now tcp=X\n", 5, 13, "now needs a socket"},
        {HEAD "step: t\ncheck: c recv > 1 > 2\n", 5, 19, "one comparison"},
        {HEAD "step: t\ncheck: c recv >\n", 5, 16, "expected a number"},
        {HEAD "step: t\ncheck: c eof\nstep: u\ncheck: c eof\n", 7, 8, "exists already"},
        {HEAD "needs: loss lots\n", 4, 13, "unknown need \"lots\" (loss)"},
        {HEAD "needs:\n", 4, 7, "needs: needs text"},
        {HEAD "step: t\nneeds: loss\n", 5, 1, "needs: belongs before the first step"},
        {HEAD "step: t\nsend a\x1b[2J\n", 5, 7, "control character 0x1b"},
        {HEAD "step: t\nsend a\0b\n", 5, 7, "control character 0x00"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i].text);
        if (strstr(bad[i].text, "send a") != NULL && i == sizeof bad / sizeof bad[0] - 1)
            n = strlen(HEAD "step: t\nsend a") + 3;
        struct sp_labdef *d = (struct sp_labdef *)1;
        struct sp_lab_error e;
        int r = sp_labfile_parse(bad[i].text, n, &d, &e);
        if (r == 0 || e.line != bad[i].line || e.col != bad[i].col ||
            strstr(e.msg, bad[i].msg) == NULL)
            fail_msg("case %zu: got %d at %zu:%zu \"%s\", want %zu:%zu \"%s\"", i, r, e.line, e.col,
                     e.msg, bad[i].line, bad[i].col, bad[i].msg);
        assert_null(d);
    }
}

static void test_labfile_needs(void **state)
{
    (void)state;
    struct sp_labdef *d = parse_ok(HEAD "needs: loss\nneeds:  loss \nstep: t\n");
    assert_int_equal(d->needs, SP_LAB_NEEDS_LOSS);
    sp_labfile_free(d);
}

static void test_labfile_limits(void **state)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appends(&b, HEAD "step: ");
    for (int i = 0; i < SP_LAB_LINE_MAX + 10; i++)
        sp_buf_appendc(&b, 'x');
    struct sp_labdef *d;
    struct sp_lab_error e;
    assert_int_equal(sp_labfile_parse((const char *)b.data, b.len, &d, &e), -1);
    assert_int_equal(e.line, 4);
    assert_int_equal(e.col, SP_LAB_LINE_MAX + 1);
    sp_buf_reset(&b);
    sp_buf_appends(&b, HEAD);
    for (int i = 0; i <= SP_LAB_STEPS_MAX; i++)
        sp_buf_appends(&b, "step: s\n");
    assert_int_equal(sp_labfile_parse((const char *)b.data, b.len, &d, &e), -1);
    assert_int_equal(e.line, 4 + SP_LAB_STEPS_MAX);
    assert_non_null(strstr(e.msg, "at most"));
    sp_buf_cleanup(&b);
}

static void test_labfile_op_helpers(void **state)
{
    assert_true(sp_lab_op_holds(SP_LAB_GT, 2, 1));
    assert_false(sp_lab_op_holds(SP_LAB_GT, 1, 1));
    assert_true(sp_lab_op_holds(SP_LAB_LE, 1, 1));
    assert_true(sp_lab_op_holds(SP_LAB_NE, 0, 1));
    assert_true(sp_lab_op_holds_text(SP_LAB_EQ, "time_wait", "TIME_WAIT"));
    assert_true(sp_lab_op_holds_text(SP_LAB_HAS, "reset by peer", "reset"));
    assert_false(sp_lab_op_holds_text(SP_LAB_LT, "a", "b"));
    assert_string_equal(sp_lab_op_name(SP_LAB_GE), ">=");
}

/* Every built-in lab parses, is listed, and each of its command lines names
 * a command of the table. */
static void test_labfile_builtin_labs_are_sound(void **state)
{
    size_t n = 0;
    for (const struct sp_lab_src *s = sp_lab_builtin; s->name != NULL; s++, n++) {
        struct sp_labdef *d;
        char err[512];
        if (sp_lab_load(s->name, &d, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_string_equal(d->name, s->name);
        assert_true(d->duration[0] != '\0');
        for (size_t i = 0; i < d->nsteps; i++) {
            assert_true(d->steps[i].note[0] != '\0');
            for (size_t k = 0; k < d->steps[i].ncmds; k++) {
                char word[64];
                const char *text = d->steps[i].cmds[k].text;
                if (text[0] == '!') /* may fail on purpose */
                    text += 1 + strspn(text + 1, " ");
                sscanf(text, "%63s", word);
                if (cmd__find(word, err, sizeof err) == NULL)
                    fail_msg("lab %s:%zu: %s", s->name, d->steps[i].cmds[k].line, err);
            }
        }
        sp_labfile_free(d);
    }
    assert_true(n >= 1);
    struct sp_buf b;
    sp_buf_init(&b);
    sp_lab_list(&b);
    assert_non_null(strstr(sp_buf_str(&b), "split "));
    assert_null(strstr(sp_buf_str(&b), "broken"));
    sp_buf_cleanup(&b);
    char err[512];
    struct sp_labdef *d;
    assert_int_equal(sp_lab_load("nosuch", &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "no lab \"nosuch\""));
    assert_int_equal(sp_lab_load("./nosuch.lab", &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labfile_parses_every_part),
        cmocka_unit_test(test_labfile_refusals_say_where_and_why),
        cmocka_unit_test(test_labfile_needs),
        cmocka_unit_test(test_labfile_limits),
        cmocka_unit_test(test_labfile_op_helpers),
        cmocka_unit_test(test_labfile_builtin_labs_are_sound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
