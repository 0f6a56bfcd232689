/* The command layer: splitting (words with their columns), the table (prefixes, help, completion),
 * and the queue against the real engine on loopback: bad lines change nothing, options stand
 * anywhere, the [ID] rule, expect order, wait timeouts and keep-going. */
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

#include "cmd_int.h"
#include "sockpit/proto/buf.h"
#include "sockpit/cmd/cmd.h"
#include "sockpit/engine/engine.h"
#include "sockpit/proto/escape.h"
#include "testutil.h"

/* One line and the words it must split into: the words joined by '|', and
 * each word's column; or an error (nwords -1) at errcol. Written out by
 * hand, so a change to the splitting rules shows up here. */
struct split_case {
    const char *line;
    int nwords;
    const char *words; /* words joined by '|' */
    size_t cols[6];
    size_t errcol;
};

static const struct split_case split_cases[] = {
    {"", 0, "", {0}, 0},
    {"   \t ", 0, "", {0}, 0},
    {"send hi", 2, "send|hi", {0, 5}, 0},
    {"  send \t hi  ", 2, "send|hi", {2, 9}, 0},
    {"send \"a b\" c", 3, "send|a b|c", {0, 5, 11}, 0},
    {"a\"b c\"d", 1, "ab cd", {0}, 0},
    {"send \"\"", 2, "send|", {0, 5}, 0},
    {"send a\\ b", 2, "send|a\\ b", {0, 5}, 0},
    {"send \\\"x", 2, "send|\\\"x", {0, 5}, 0},
    {"send \"a\\\"b\"", 2, "send|a\\\"b", {0, 5}, 0},
    {"send \\n\\x41", 2, "send|\\n\\x41", {0, 5}, 0},
    {"send # a comment", 1, "send", {0}, 0},
    {"# only a comment", 0, "", {0}, 0},
    {"send a#b", 2, "send|a#b", {0, 5}, 0},
    {"send \"#\"", 2, "send|#", {0, 5}, 0},
    {"a\tb\rc\nd", 4, "a|b|c|d", {0, 2, 4, 6}, 0},
    {"send \"open", -1, "", {0}, 5},
    {"a b \"c d", -1, "", {0}, 4},
    {"x \"\\\"", -1, "", {0}, 2},
    {"trail\\", 1, "trail\\", {0}, 0},
};

static void test_cmd_split_table_of_lines_and_words(void **state)
{
    struct cmd_split sp;
    cmd__split_init(&sp);
    for (size_t k = 0; k < sizeof split_cases / sizeof split_cases[0]; k++) {
        const struct split_case *tc = &split_cases[k];
        size_t col = 0;
        char err[128];
        int n = cmd__split(&sp, tc->line, &col, err, sizeof err);
        if (n != tc->nwords)
            fail_msg("\"%s\": %d words, expected %d", tc->line, n, tc->nwords);
        if (n < 0) {
            if (col != tc->errcol)
                fail_msg("\"%s\": error at %zu, expected %zu", tc->line, col, tc->errcol);
            continue;
        }
        struct sp_buf joined;
        sp_buf_init(&joined);
        for (int w = 0; w < n; w++) {
            if (w > 0)
                sp_buf_appendc(&joined, '|');
            sp_buf_append(&joined, sp.words[w].s, sp.words[w].len);
            if (sp.words[w].col != tc->cols[w])
                fail_msg("\"%s\": word %d at column %zu, expected %zu", tc->line, w,
                         sp.words[w].col, tc->cols[w]);
            /* every byte maps back to the same character in the line */
            for (size_t i = 0; i < sp.words[w].len; i++)
                assert_int_equal(tc->line[cmd__word_col(&sp, &sp.words[w], i)], sp.words[w].s[i]);
        }
        if (strcmp(sp_buf_str(&joined), tc->words) != 0)
            fail_msg("\"%s\": words \"%s\", expected \"%s\"", tc->line, sp_buf_str(&joined),
                     tc->words);
        /* the plain splitter gives the same words */
        struct sp_buf tb;
        sp_buf_init(&tb);
        const char *words[CMD_WORDS_MAX];
        size_t pos;
        assert_int_equal(tu_tokenize(tc->line, &tb, words, CMD_WORDS_MAX, &pos), n);
        for (int w = 0; w < n; w++)
            assert_string_equal(words[w], sp.words[w].s);
        sp_buf_cleanup(&tb);
        sp_buf_cleanup(&joined);
    }
    cmd__split_cleanup(&sp);
}

static void test_cmd_split_marks_quoted_words(void **state)
{
    struct cmd_split sp;
    size_t col;
    char err[64];
    cmd__split_init(&sp);
    assert_int_equal(cmd__split(&sp, "send  \"--raw\" 2 a\"b c\"d", &col, err, sizeof err), 4);
    assert_false(sp.words[0].quoted);
    assert_true(sp.words[1].quoted);
    assert_string_equal(sp.words[1].s, "--raw");
    assert_int_equal(sp.words[1].col, 6);
    assert_false(sp.words[2].quoted);
    assert_string_equal(sp.words[3].s, "ab cd");
    assert_int_equal(cmd__word_col(&sp, &sp.words[3], 4), 22); /* the d after the quote */
    assert_int_equal(cmd__split(&sp, "send \"open", &col, err, sizeof err), -1);
    assert_int_equal(col, 5);
    cmd__split_cleanup(&sp);
}

static void test_cmd_find_exact_prefix_and_ambiguous(void **state)
{
    char err[256];
    assert_string_equal(cmd__find("list", err, sizeof err)->name, "list");
    assert_string_equal(cmd__find("liste", err, sizeof err)->name, "listen");
    assert_string_equal(cmd__find("recv", err, sizeof err)->name, "recv");
    assert_string_equal(cmd__find("recvs", err, sizeof err)->name, "recvsize");
    assert_string_equal(cmd__find("sh", err, sizeof err)->name, "shutdown");
    assert_null(cmd__find("l", err, sizeof err));
    assert_non_null(strstr(err, "ambiguous"));
    assert_non_null(strstr(err, "listen"));
    assert_non_null(strstr(err, "log"));
    assert_null(cmd__find("frobnicate", err, sizeof err));
    assert_non_null(strstr(err, "unknown command"));
}

static void test_cmd_table_is_consistent(void **state)
{
    static const char *const design[] = {
        "listen",  "connect",  "bind",   "send",  "framing", "recvsize", "pause", "resume",
        "recv",    "shutdown", "close",  "reset", "set",     "echo",     "list",  "info",
        "log",     "wait",     "expect", "sleep", "lab",     "help",     "quit",  "split",
        "unsplit", "view",     "hex",    "focus", NULL,
    };
    for (size_t i = 0; design[i] != NULL; i++) {
        char err[128];
        const struct cmd_entry *e = cmd__find(design[i], err, sizeof err);
        assert_non_null(e);
        assert_string_equal(e->name, design[i]);
    }
    for (size_t i = 0; i < cmd__table_len; i++) {
        const struct cmd_entry *e = &cmd__table[i];
        if (i > 0)
            assert_true(strcmp(cmd__table[i - 1].name, e->name) < 0);
        assert_int_equal(strncmp(e->usage, e->name, strlen(e->name)), 0);
        for (size_t k = 0; e->opts != NULL && e->opts[k].name != NULL; k++) {
            assert_true(k < CMD_OPTS_MAX);
            if (strstr(e->usage, e->opts[k].name) == NULL)
                fail_msg("usage of %s does not name %s", e->name, e->opts[k].name);
        }
        struct sp_buf b;
        sp_buf_init(&b);
        assert_int_equal(sp_cmd_help(&b, e->name), 0);
        assert_non_null(strstr(sp_buf_str(&b), e->usage));
        sp_buf_cleanup(&b);
    }
    struct sp_buf b;
    sp_buf_init(&b);
    assert_int_equal(sp_cmd_help(&b, NULL), 0);
    for (size_t i = 0; i < cmd__table_len; i++)
        assert_non_null(strstr(sp_buf_str(&b), cmd__table[i].name));
    sp_buf_reset(&b);
    assert_int_equal(sp_cmd_help(&b, "nosuch"), -1);
    sp_buf_reset(&b);
    sp_cmd_reference_md(&b);
    for (size_t i = 0; i < cmd__table_len; i++)
        assert_non_null(strstr(sp_buf_str(&b), cmd__table[i].usage));
    /* The man page's section: every usage, escaped for roff, as a tagged
     * paragraph of its own. */
    sp_buf_reset(&b);
    sp_cmd_reference_man(&b);
    for (size_t i = 0; i < cmd__table_len; i++) {
        struct sp_buf want;
        sp_buf_init(&want);
        sp_buf_appends(&want, ".TP\n.B ");
        sp_cmd_roff(&want, cmd__table[i].usage);
        sp_buf_appendc(&want, '\n');
        assert_non_null(strstr(sp_buf_str(&b), sp_buf_str(&want)));
        sp_buf_cleanup(&want);
    }
    sp_buf_reset(&b);
    sp_cmd_roff(&b, ".x `a-b` \\ `");
    assert_string_equal(sp_buf_str(&b), "\\&.x \\fBa\\-b\\fR \\e `");
    sp_buf_cleanup(&b);
}

/* Completion words for line, as one string "a,b,c". */
static void completions(const char *line, char *out, size_t len)
{
    struct sp_buf b;
    sp_buf_init(&b);
    size_t n = sp_cmd_complete(NULL, line, &b);
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] == '\n') {
            b.data[i] = ',';
            lines++;
        }
    }
    assert_int_equal(n, lines);
    if (b.len > 0)
        b.data[--b.len] = '\0';
    snprintf(out, len, "%s", sp_buf_str(&b));
    sp_buf_cleanup(&b);
}

static void test_cmd_complete_commands_options_and_words(void **state)
{
    char got[512];
    completions("se", got, sizeof got);
    assert_string_equal(got, "send,set");
    completions("send 2 hi --sp", got, sizeof got);
    assert_string_equal(got, "--split");
    completions("shutdown ", got, sizeof got);
    assert_string_equal(got, "wr,rd,both");
    completions("wait st", got, sizeof got);
    assert_string_equal(got, "state:");
    completions("connect tcp:1 --framing len:u3", got, sizeof got);
    assert_string_equal(got, "len:u32,len:u32le");
    completions("help rec", got, sizeof got);
    assert_string_equal(got, "recv,recvsize");
    completions("frob ", got, sizeof got);
    assert_string_equal(got, "");
    completions("list r", got, sizeof got);
    assert_string_equal(got, "rules");
    completions("on PING re", got, sizeof got);
    assert_string_equal(got, "reply");
    completions("expect --re", got, sizeof got);
    assert_string_equal(got, "--regex");
    completions("expect --hex-", got, sizeof got);
    assert_string_equal(got, "--hex-mask");
    completions("replay f.jsonl --as ", got, sizeof got);
    assert_string_equal(got, "logged,peer");
    completions("relay t", got, sizeof got);
    assert_string_equal(got, "tcp:");
    completions("relay tcp:1 tcp:2 --fin h", got, sizeof got);
    assert_string_equal(got, "hold");
    completions("relay 3 set --dir ", got, sizeof got);
    assert_string_equal(got, "up,down,both");
}

/* Issue 11's options and address complete like the others. */
static void test_cmd_complete_beneath_recv_options(void **state)
{
    char got[512];
    completions("recv --", got, sizeof got);
    for (const char *o = "--iov\0--peek\0--waitall\0--oob\0--trunc\0--block\0"; *o;
         o += strlen(o) + 1)
        assert_non_null(strstr(got, o));
    completions("send hi --on", got, sizeof got);
    assert_string_equal(got, "--once");
    completions("send hi --oo", got, sizeof got);
    assert_string_equal(got, "--oob");
    completions("listen unix-s", got, sizeof got);
    assert_string_equal(got, "unix-seqpacket:");
}

struct harness {
    struct sp_engine *eng;
    struct sp_cmdq *q;
    struct sp_buf out;    /* output lines, '\n'-separated */
    struct sp_buf errors; /* cmd_error messages, '\n'-separated */
    struct sp_buf lines;  /* the cmd_error lines as written */
    struct sp_buf sends;  /* "sock:bytes\n" per send event */
    struct sp_buf hexes;  /* "sock:hex\n" per send event, for binary data */
    int nerrors;
    int idle_calls, idle_failed;
    uint32_t current;
    int stall_ms; /* the next output line keeps the loop busy this long */
};

static void h_output(void *ud, const char *line)
{
    struct harness *h = ud;
    sp_buf_appends(&h->out, line);
    sp_buf_appendc(&h->out, '\n');
    if (h->stall_ms > 0) {
        struct timespec ts = {h->stall_ms / 1000, (long)(h->stall_ms % 1000) * 1000000L};
        h->stall_ms = 0;
        nanosleep(&ts, NULL);
    }
}

static uint32_t h_current(void *ud)
{
    return ((struct harness *)ud)->current;
}

static void h_event(void *ud, const struct sp_event *ev)
{
    struct harness *h = ud;
    if (ev->type == SP_EV_CMD_ERROR) {
        h->nerrors++;
        sp_buf_appends(&h->errors, ev->message);
        sp_buf_appendc(&h->errors, '\n');
        sp_buf_appends(&h->lines, ev->line);
        sp_buf_appendc(&h->lines, '\n');
    } else if (ev->type == SP_EV_SEND) {
        sp_buf_appendf(&h->sends, "%u:", (unsigned)ev->sock);
        sp_buf_append(&h->sends, ev->data, ev->data_len);
        sp_buf_appendc(&h->sends, '\n');
        sp_buf_appendf(&h->hexes, "%u:", (unsigned)ev->sock);
        for (size_t i = 0; i < ev->data_len; i++)
            sp_buf_appendf(&h->hexes, "%02x", ev->data[i]);
        sp_buf_appendc(&h->hexes, '\n');
    }
}

static void h_idle(void *ud, int failed)
{
    struct harness *h = ud;
    h->idle_calls++;
    h->idle_failed |= failed;
}

/* An engine that keeps history (as the TUI's) or not (headless). */
static void h_init_hist(struct harness *h, int history)
{
    memset(h, 0, sizeof *h);
    struct sp_engine_opts o;
    memset(&o, 0, sizeof o);
    o.keep_history = history;
    o.keep_data = history;
    assert_int_equal(sp_engine_new(&h->eng, &o), 0);
    sp_engine_subscribe(h->eng, SP_EV_MASK_ALL, h_event, h);
    struct sp_cmd_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hooks.output = h_output;
    hooks.current = h_current;
    h->q = sp_cmdq_new(h->eng, &hooks, h);
    assert_non_null(h->q);
    sp_cmdq_on_idle(h->q, h_idle, h);
}

static void h_init(struct harness *h)
{
    h_init_hist(h, 1);
}

static void h_free(struct harness *h)
{
    sp_cmdq_free(h->q);
    /* every watch and handle the queue used is closed */
    assert_int_equal(sp_engine_destroy(h->eng), 0);
    sp_buf_cleanup(&h->out);
    sp_buf_cleanup(&h->errors);
    sp_buf_cleanup(&h->lines);
    sp_buf_cleanup(&h->sends);
    sp_buf_cleanup(&h->hexes);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the loop until the queue is idle (and extra_ms more), at most 5 s. */
static void h_run(struct harness *h, int extra_ms)
{
    double start = now_s(), idle_at = 0;
    for (;;) {
        sp_engine_poll(h->eng);
        double t = now_s();
        assert_true(t - start < 5.0);
        if (sp_cmdq_idle(h->q) && h->q->kick == NULL) {
            if (idle_at == 0)
                idle_at = t;
            if ((t - idle_at) * 1000 >= extra_ms)
                return;
        } else {
            idle_at = 0;
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

static void test_cmd_bad_lines_are_reported_and_change_nothing(void **state)
{
    static const char *const bad[] = {
        "frobnicate 1",
        "listen tcp:99999",
        "listen tcp:[::1:80",
        "connect",
        "send 9 hi",
        "framing 1 len:u33",
        "recvsize 1 0",
        "shutdown 1 sideways",
        "send 1 \"abc\\q\"",
        "send 1 --hex 0g",
        "listen tcp:0 --framing",
        "listen tcp:0 --nosuch",
        "wait 1 bogus",
        "set 1 nodelay maybe",
        "send 1 x --split 0",
        "l",
        "bind tcp:0",
        "send \"unterminated",
        "split",
    };
    struct harness h;
    h_init(&h);
    sp_cmdq_set_keep_going(h.q, 1);
    sp_cmdq_push(h.q, "listen tcp:0", "t:1");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 0);
    assert_int_equal(sp_engine_last_id(h.eng), 1);
    struct sp_sock_info before;
    assert_int_equal(sp_engine_sock_info(h.eng, 1, &before), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        sp_cmdq_push(h.q, bad[i], "bad");
    sp_cmdq_push(h.q, "list", "t:2");
    h_run(&h, 20);
    assert_int_equal(h.nerrors, (int)(sizeof bad / sizeof bad[0]));
    assert_int_equal(sp_cmdq_failures(h.q), sizeof bad / sizeof bad[0]);
    /* each error carries its line as written and its origin */
    const char *l = sp_buf_str(&h.lines);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]);
        assert_int_equal(strncmp(l, bad[i], n), 0);
        assert_int_equal(l[n], '\n');
        l += n + 1;
    }
    const char *e = sp_buf_str(&h.errors);
    for (const char *p = e; *p != '\0'; p = strchr(p, '\n') + 1)
        assert_int_equal(strncmp(p, "bad: ", 5), 0);
    /* nothing changed: no new socket, same framing and recv size */
    assert_int_equal(sp_engine_last_id(h.eng), 1);
    struct sp_sock_info after;
    assert_int_equal(sp_engine_sock_info(h.eng, 1, &after), 0);
    assert_string_equal(before.framing, after.framing);
    assert_int_equal(before.recvsize, after.recvsize);
    assert_int_equal(after.open, 1);
    /* keep-going: the list after them ran */
    assert_non_null(strstr(sp_buf_str(&h.out), "tcp-listen"));
    h_free(&h);
}

static void test_cmd_errors_point_at_the_bad_character(void **state)
{
    struct harness h;
    h_init(&h);
    sp_cmdq_set_keep_going(h.q, 1);
    sp_cmdq_push(h.q, "listen tcp:0", "x");
    sp_cmdq_push(h.q, "send \"ab\"\"c\\q\"", "x");  /* the \ is column 12 */
    sp_cmdq_push(h.q, "send --hex \"00 1z\"", "x"); /* z is column 17 */
    sp_cmdq_push(h.q, "recvsize 12Q", "x");         /* Q is column 12 */
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 3);
    const char *e = sp_buf_str(&h.errors);
    assert_non_null(strstr(e, "at column 12\n"));
    assert_non_null(strstr(e, "at column 17\n"));
    assert_non_null(strstr(e, "\"Q\""));
    h_free(&h);
}

/* One "no socket N" lookup: every command names the missing socket the
 * same way, whether the ID was typed or is the current socket. */
static void test_cmd_no_socket_is_one_message(void **state)
{
    static const char *const lines[] = {"send 9 hi", "info 9", "wait 9 eof", "log 9 /dev/null",
                                        "close 9"};
    struct harness h;
    h_init(&h);
    sp_cmdq_set_keep_going(h.q, 1);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        sp_cmdq_push(h.q, lines[i], "t");
    h.current = 7; /* the front end's current socket is gone */
    sp_cmdq_push(h.q, "info", "t");
    sp_cmdq_push(h.q, "wait eof", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 7);
    const char *e = sp_buf_str(&h.errors);
    for (int k = 0; k < 5; k++) {
        const char *nl = strchr(e, '\n');
        assert_non_null(strstr(e, "no socket 9 (see `list`)"));
        assert_true(strstr(e, "no socket 9 (see `list`)") < nl);
        e = nl + 1;
    }
    for (int k = 0; k < 2; k++) {
        const char *nl = strchr(e, '\n');
        assert_true(strstr(e, "no socket 7 (see `list`)") < nl);
        assert_non_null(strstr(e, "no socket 7 (see `list`)"));
        e = nl + 1;
    }
    h_free(&h);
}

/* Loopback pair: 1 listener, 2 client, 3 accepted. */
static void make_pair(struct harness *h, const char *framing)
{
    char line[128];
    snprintf(line, sizeof line, "listen tcp:0%s%s", framing ? " --framing " : "",
             framing ? framing : "");
    sp_cmdq_push(h->q, line, "t");
    h_run(h, 0);
    struct sp_sock_info in;
    assert_int_equal(sp_engine_sock_info(h->eng, 1, &in), 0);
    const char *port = strrchr(in.local, ':');
    assert_non_null(port);
    snprintf(line, sizeof line, "connect tcp:127.0.0.1%s%s%s", port, framing ? " --framing " : "",
             framing ? framing : "");
    sp_cmdq_push(h->q, line, "t");
    h_run(h, 0);
    double start = now_s();
    while (sp_engine_last_id(h->eng) < 3) {
        sp_engine_poll(h->eng);
        assert_true(now_s() - start < 5.0);
    }
    assert_int_equal(h->nerrors, 0);
}

static void test_cmd_options_anywhere_and_the_id_rule(void **state)
{
    struct harness h;
    h_init(&h);
    make_pair(&h, "line");
    h.current = 2;
    sp_cmdq_push(h.q, "send 2 --raw a1", "t");  /* options before data */
    sp_cmdq_push(h.q, "send 2 a2 --raw", "t");  /* ... and after */
    sp_cmdq_push(h.q, "send 2 -- --raw", "t");  /* -- ends options: data "--raw" */
    sp_cmdq_push(h.q, "send 3", "t");           /* one word: data "3" to the current socket */
    sp_cmdq_push(h.q, "send \"3\" x", "t");     /* quoted digits are data */
    sp_cmdq_push(h.q, "send 3 to3 \\x21", "t"); /* ID 3, two parts, one message */
    sp_cmdq_push(h.q, "send --rep 2 r", "t");   /* option prefix */
    sp_cmdq_push(h.q, "wait sent", "t");
    h_run(&h, 50);
    assert_int_equal(h.nerrors, 0);
    /* Writes on different sockets complete in any order: compare per socket. */
    struct sp_buf s2, s3;
    sp_buf_init(&s2);
    sp_buf_init(&s3);
    for (const char *p = sp_buf_str(&h.sends); *p != '\0';) {
        /* each record is "id:bytes\n", the bytes themselves may end in \n */
        const char *end = strchr(p + 2, '\n');
        if (end[1] == '\n')
            end++;
        sp_buf_append(p[0] == '2' ? &s2 : &s3, p + 2, (size_t)(end + 1 - (p + 2)));
        p = end + 1;
    }
    assert_string_equal(sp_buf_str(&s2), "a1\na2\n--raw\n\n3\n\n3x\n\nr\n\nr\n\n");
    assert_string_equal(sp_buf_str(&s3), "to3!\n\n");
    sp_buf_cleanup(&s2);
    sp_buf_cleanup(&s3);
    h_free(&h);
}

/* Hex data is data: under --hex no word written after the flag is an ID
 * (a byte such as 01 or 10 used to be taken for a socket), an ID goes
 * before --hex, and what stays ambiguous is refused. */
static void test_cmd_hex_words_are_never_taken_as_an_id(void **state)
{
    struct harness h;
    h_init(&h);
    make_pair(&h, NULL);
    sp_cmdq_set_keep_going(h.q, 1);
    h.current = 2;
    sp_cmdq_push(h.q, "send --hex 00 05 68 65 6c 6c 6f", "t"); /* was "no socket 00" */
    sp_cmdq_push(h.q, "send --raw --hex 01 00 02 41 42", "t"); /* was 4 bytes to socket 1 */
    sp_cmdq_push(h.q, "send --hex 03 41", "t");                /* 03 names socket 3: still data */
    sp_cmdq_push(h.q, "send 3 --hex 41 42", "t");              /* the ID before --hex */
    sp_cmdq_push(h.q, "send 01 x", "t");                       /* 01 is no ID: data "01x" */
    sp_cmdq_push(h.q, "wait 2 sent", "t");
    sp_cmdq_push(h.q, "wait 3 sent", "t");
    h_run(&h, 50);
    assert_int_equal(h.nerrors, 0);
    const char *x = sp_buf_str(&h.hexes);
    assert_non_null(strstr(x, "2:000568656c6c6f\n"));
    assert_non_null(strstr(x, "2:0100024142\n"));
    assert_non_null(strstr(x, "2:0341\n"));
    assert_non_null(strstr(x, "3:4142\n"));
    assert_non_null(strstr(x, "2:303178\n"));
    assert_null(strstr(x, "1:"));
    /* Ambiguous or wrong: refused with a reason, nothing sent. */
    sp_cmdq_push(h.q, "send 41 42 --hex", "t"); /* data before --hex */
    sp_cmdq_push(h.q, "send --hex 3", "t");     /* a lone digit is no byte; hint at the ID */
    sp_cmdq_push(h.q, "close 01", "t");         /* IDs have no leading zeros */
    h_run(&h, 20);
    assert_int_equal(h.nerrors, 3);
    const char *e = sp_buf_str(&h.errors);
    assert_non_null(strstr(e, "before --hex"));
    assert_non_null(strstr(e, "send 3 --hex"));
    assert_non_null(strstr(e, "leading zero"));
    struct sp_sock_info in;
    assert_int_equal(sp_engine_sock_info(h.eng, 1, &in), 0);
    assert_int_equal(in.open, 1);
    h_free(&h);
}

/* expect --hex compares every byte: the first one is not an ID. Socket 1
 * receives "OK:A", so taking 01 as its ID passed (a false pass). */
static void test_cmd_expect_hex_is_not_a_false_pass(void **state)
{
    struct harness h;
    h_init(&h);
    sp_cmdq_set_keep_going(h.q, 1);
    sp_cmdq_push(h.q, "bind udp:127.0.0.1:0", "t");
    h_run(&h, 0);
    struct sp_sock_info in;
    assert_int_equal(sp_engine_sock_info(h.eng, 1, &in), 0);
    char line[128];
    snprintf(line, sizeof line, "connect udp:127.0.0.1%s", strrchr(in.local, ':'));
    sp_cmdq_push(h.q, line, "t");
    h.current = 1;
    sp_cmdq_push(h.q, "send 2 OK:A", "t");
    sp_cmdq_push(h.q, "expect --hex 01 4f 4b 3a 41 --timeout 2000", "t");
    sp_cmdq_push(h.q, "send 2 OK:B", "t");
    sp_cmdq_push(h.q, "expect 1 --hex 4f 4b 3a 42 --timeout 2000", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 1);
    assert_non_null(strstr(sp_buf_str(&h.lines), "expect --hex 01"));
    h_free(&h);
}

static void test_cmd_expect_takes_messages_in_arrival_order(void **state)
{
    struct harness h;
    h_init(&h);
    make_pair(&h, "line");
    sp_cmdq_push(h.q, "send 2 one", "t");
    sp_cmdq_push(h.q, "send 2 two", "t");
    sp_cmdq_push(h.q, "send 2 three", "t");
    sp_cmdq_push(h.q, "wait 3 msgs:3", "t");
    /* all three arrived before the first expect runs */
    sp_cmdq_push(h.q, "expect 3 one", "t");
    sp_cmdq_push(h.q, "expect 3 two", "t");
    sp_cmdq_push(h.q, "expect 3 three", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 0);
    assert_int_equal(h.idle_failed, 0);
    /* a later one waits for the next message */
    sp_cmdq_push(h.q, "expect 3 four --timeout 2000", "t");
    sp_cmdq_push(h.q, "send 2 four", "t"); /* runs only after the expect... */
    h_run(&h, 0);
    /* ...so the expect timed out first */
    assert_int_equal(h.nerrors, 1);
    assert_non_null(strstr(sp_buf_str(&h.errors), "timed out after 2000 ms"));
    h_free(&h);
}

static void test_cmd_expect_mismatch_fails_and_stops_the_queue(void **state)
{
    struct harness h;
    h_init(&h);
    make_pair(&h, "line");
    sp_cmdq_push(h.q, "send 2 hello", "t");
    sp_cmdq_push(h.q, "expect 3 goodbye", "s.sp:7");
    sp_cmdq_push(h.q, "list", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 1);
    assert_int_equal(h.idle_failed, 1);
    const char *e = sp_buf_str(&h.errors);
    assert_non_null(strstr(e, "s.sp:7: "));
    assert_non_null(strstr(e, "\"hello\""));
    assert_non_null(strstr(e, "\"goodbye\""));
    assert_int_equal(h.out.len, 0); /* list was dropped */
    h_free(&h);
}

/* More messages than the tap keeps (no history: headless): expect takes
 * every kept one, then fails once instead of silently skipping the ones that
 * were not kept. */
static void test_cmd_expect_reports_messages_it_could_not_keep(void **state)
{
    struct harness h;
    h_init_hist(&h, 0);
    make_pair(&h, "line");
    struct sp_buf line;
    sp_buf_init(&line);
    sp_buf_appends(&line, "send 2 --raw ");
    for (int i = 0; i < CMD_TAP_ITEMS_MAX + 10; i++)
        sp_buf_appends(&line, "a\\n");
    sp_cmdq_push(h.q, sp_buf_str(&line), "t");
    sp_buf_cleanup(&line);
    sp_cmdq_push(h.q, "wait 3 msgs:4106", "t");
    for (int i = 0; i < CMD_TAP_ITEMS_MAX; i++)
        sp_cmdq_push(h.q, "expect 3 a", "t");
    sp_cmdq_push(h.q, "expect 3 a", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 1);
    assert_non_null(strstr(sp_buf_str(&h.errors), "10 messages were not kept"));
    /* after the report the tap keeps messages again */
    sp_cmdq_push(h.q, "send 2 b", "t");
    sp_cmdq_push(h.q, "expect 3 b", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 1);
    h_free(&h);
}

/* With the engine's history (the TUI), expect reads it: the queues keep no
 * copies of what arrives, whether or not an expect ever runs, and expect
 * still takes messages that arrived before it ran, in order. */
static void test_cmd_expect_reads_the_history_and_keeps_no_copies(void **state)
{
    struct harness h;
    h_init(&h);
    struct sp_cmd_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    struct sp_cmdq *keys = sp_cmdq_new(h.eng, &hooks, NULL); /* the TUI's second queue */
    make_pair(&h, "line");
    sp_cmdq_push(h.q, "send 2 one", "t");
    sp_cmdq_push(h.q, "send 2 two", "t");
    sp_cmdq_push(h.q, "send 2 three", "t");
    sp_cmdq_push(h.q, "wait 3 msgs:3", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 0);
    assert_int_equal(h.q->tap_bytes, 0);
    assert_int_equal(keys->tap_bytes, 0);
    sp_cmdq_push(h.q, "expect 3 one", "t");
    sp_cmdq_push(h.q, "expect 3 two", "t");
    sp_cmdq_push(h.q, "expect 3 three", "t");
    sp_cmdq_push(h.q, "expect 3 four --timeout 100", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 1);
    assert_non_null(strstr(sp_buf_str(&h.errors), "timed out after 100 ms"));
    /* raw: recv chunks are what expect compares */
    sp_cmdq_push(h.q, "framing 3 raw", "t");
    sp_cmdq_push(h.q, "send 2 --raw five", "t");
    sp_cmdq_push(h.q, "expect 3 five --timeout 2000", "t");
    sp_cmdq_push(h.q, "send 2 --raw six", "t");
    sp_cmdq_push(h.q, "expect 3 seven --timeout 2000", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 2);
    assert_non_null(strstr(sp_buf_str(&h.errors), "was \"six\", expected \"seven\""));
    assert_int_equal(h.q->tap_bytes, 0);
    sp_cmdq_free(keys);
    h_free(&h);
}

/* The history dropped events no expect took: the next expect says so once. */
static void test_cmd_expect_reports_events_the_history_dropped(void **state)
{
    struct harness h;
    h_init(&h);
    make_pair(&h, "line");
    struct sp_buf line;
    sp_buf_init(&line);
    sp_buf_appends(&line, "send 2 --raw ");
    for (int i = 0; i < SP_HIST_EVENTS_MAX + 10; i++)
        sp_buf_appends(&line, "a\\n");
    sp_cmdq_push(h.q, sp_buf_str(&line), "t");
    sp_buf_cleanup(&line);
    sp_cmdq_push(h.q, "wait 3 msgs:10010", "t");
    sp_cmdq_push(h.q, "expect 3 a", "t");
    sp_cmdq_push(h.q, "expect 3 a", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 1);
    assert_non_null(strstr(sp_buf_str(&h.errors), "dropped from the history"));
    h_free(&h);
}

static void test_cmd_wait_holds_at_once_or_times_out(void **state)
{
    struct harness h;
    h_init(&h);
    make_pair(&h, NULL);
    double t0 = now_s();
    sp_cmdq_push(h.q, "wait 2 connected", "t"); /* already true */
    sp_cmdq_push(h.q, "wait 2 sent", "t");      /* nothing queued */
    sp_cmdq_push(h.q, "wait 2 bytes:0", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 0);
    assert_true(now_s() - t0 < 1.0);
    sp_cmdq_push(h.q, "wait 2 recv --timeout 60", "t");
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 1);
    assert_non_null(strstr(sp_buf_str(&h.errors), "timed out after 60 ms"));
    /* eof holds once the peer shut down its side */
    sp_cmdq_push(h.q, "shutdown 3 wr", "t");
    sp_cmdq_push(h.q, "wait 2 eof", "t");
    sp_cmdq_push(h.q, "wait 2 eof", "t"); /* and at once the second time */
    h_run(&h, 0);
    assert_int_equal(h.nerrors, 1);
    h_free(&h);
}

/* A wait's timeout counts from when the wait started, even when the line
 * before it kept the loop busy (the loop's clock was stale then). */
static void test_cmd_wait_timeout_counts_from_its_start_after_a_busy_line(void **state)
{
    struct harness h;
    h_init(&h);
    make_pair(&h, NULL);
    h.stall_ms = 400;
    double t0 = now_s();
    sp_cmdq_push(h.q, "help wait", "t");
    sp_cmdq_push(h.q, "wait 2 recv --timeout 300", "t");
    h_run(&h, 0);
    double elapsed = now_s() - t0;
    assert_int_equal(h.nerrors, 1);
    assert_non_null(strstr(sp_buf_str(&h.errors), "timed out after 300 ms"));
    assert_true(elapsed >= 0.4 + 0.299);
    h_free(&h);
}

/* A repeated send whose first datagram fails (the peer is gone) ends the
 * command with the error instead of holding the queue for repetitions that
 * were dropped. */
static void test_cmd_send_repeat_fails_when_a_datagram_fails(void **state)
{
    struct harness h;
    h_init(&h);
    sp_cmdq_set_keep_going(h.q, 1);
    char line[128];
    snprintf(line, sizeof line, "bind unix-dgram:@sp-test-%d-gone", (int)getpid());
    sp_cmdq_push(h.q, line, "t");
    snprintf(line, sizeof line, "connect unix-dgram:@sp-test-%d-gone", (int)getpid());
    sp_cmdq_push(h.q, line, "t");
    sp_cmdq_push(h.q, "close 1", "t");
    sp_cmdq_push(h.q, "send 2 --repeat 3 --every 20 hi", "t");
    sp_cmdq_push(h.q, "list", "t");
    h_run(&h, 0); /* at most 5 s: the send must not wait forever */
    assert_int_equal(h.nerrors, 1);
    assert_non_null(strstr(sp_buf_str(&h.errors), "ECONNREFUSED"));
    assert_non_null(strstr(sp_buf_str(&h.lines), "send 2 --repeat"));
    assert_non_null(strstr(sp_buf_str(&h.out), "unix-dgram"));
    h_free(&h);
}

static void test_cmd_help_and_ui_commands_headless(void **state)
{
    struct harness h;
    h_init(&h);
    sp_cmdq_set_keep_going(h.q, 1);
    sp_cmdq_push(h.q, "help", "t");
    sp_cmdq_push(h.q, "help sen", "t");
    sp_cmdq_push(h.q, "split", "t");
    sp_cmdq_push(h.q, "lab list", "t");
    sp_cmdq_push(h.q, "lab tcp-basics", "t");
    h_run(&h, 0);
    assert_non_null(strstr(sp_buf_str(&h.out), "Commands"));
    assert_non_null(strstr(sp_buf_str(&h.out), "send [ID] DATA..."));
    assert_non_null(strstr(sp_buf_str(&h.out), "split "));
    assert_int_equal(h.nerrors, 2);
    assert_non_null(strstr(sp_buf_str(&h.errors), "only in the TUI"));
    assert_non_null(strstr(sp_buf_str(&h.errors), "no lab \"tcp-basics\""));
    h_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_split_table_of_lines_and_words),
        cmocka_unit_test(test_cmd_split_marks_quoted_words),
        cmocka_unit_test(test_cmd_no_socket_is_one_message),
        cmocka_unit_test(test_cmd_find_exact_prefix_and_ambiguous),
        cmocka_unit_test(test_cmd_table_is_consistent),
        cmocka_unit_test(test_cmd_complete_commands_options_and_words),
        cmocka_unit_test(test_cmd_complete_beneath_recv_options),
        cmocka_unit_test(test_cmd_bad_lines_are_reported_and_change_nothing),
        cmocka_unit_test(test_cmd_errors_point_at_the_bad_character),
        cmocka_unit_test(test_cmd_options_anywhere_and_the_id_rule),
        cmocka_unit_test(test_cmd_hex_words_are_never_taken_as_an_id),
        cmocka_unit_test(test_cmd_expect_hex_is_not_a_false_pass),
        cmocka_unit_test(test_cmd_expect_takes_messages_in_arrival_order),
        cmocka_unit_test(test_cmd_expect_mismatch_fails_and_stops_the_queue),
        cmocka_unit_test(test_cmd_expect_reports_messages_it_could_not_keep),
        cmocka_unit_test(test_cmd_expect_reads_the_history_and_keeps_no_copies),
        cmocka_unit_test(test_cmd_expect_reports_events_the_history_dropped),
        cmocka_unit_test(test_cmd_wait_holds_at_once_or_times_out),
        cmocka_unit_test(test_cmd_wait_timeout_counts_from_its_start_after_a_busy_line),
        cmocka_unit_test(test_cmd_send_repeat_fails_when_a_datagram_fails),
        cmocka_unit_test(test_cmd_help_and_ui_commands_headless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
