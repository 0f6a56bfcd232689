/* Internals of the command layer (src/cmd*.c): the table entry, a parsed
 * line, the queue and the one command that may be waiting. Not installed:
 * front ends use include/sockpit/cmd.h only. */
#ifndef SOCKPIT_CMD_INT_H
#define SOCKPIT_CMD_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/xmalloc.h"
#include "sockpit/proto/num.h"
#include "sockpit/cmd/cmd.h"
#include "sockpit/proto/event.h"
#include "sockpit/proto/match.h"

struct sp_engine;
struct sp_watch;

#define CMD_WORDS_MAX 256
#define CMD_OPTS_MAX  24
#define CMD_ERR_MAX   512

/* What an exec function returns. */
#define CMD_OK      0
#define CMD_FAIL    (-1)
#define CMD_PENDING 1 /* the queue waits until cmd__finish() */

/* One option a command accepts. */
struct cmd_opt {
    const char *name; /* "--framing" */
    const char *arg;  /* value placeholder ("SPEC"), NULL for a flag */
    const char *help;
};

#define CMD_F_UI 0x1 /* front-end command: handed to hooks->ui_command */

struct cmd_ctx;

/* One command (tmux's cmd_entry). usage is the full synopsis shown by help
 * and the README; a unit test checks that it names every option. */
struct cmd_entry {
    const char *name;
    const char *usage;
    const char *summary;        /* one line */
    const char *help;           /* more, or NULL */
    const struct cmd_opt *opts; /* ends with a NULL name; NULL for none */
    int min_args, max_args;     /* positional words including [ID]; max -1: any */
    unsigned flags;
    int (*exec)(struct cmd_ctx *c);
};

/* A word of a line as the tokenizer sees it, plus where it stood. */
struct cmd_word {
    const char *s; /* quotes removed, backslash escapes kept */
    size_t len;
    size_t col;     /* 0-based column of its first character */
    size_t cols_at; /* index into cmd_split.cols of the column of s[0] */
    int quoted;     /* had a double quote: never an option or an ID */
};

/* A split line. Words point into text; cols maps every word byte (and each
 * word's terminator) to its column in the line, so errors inside a word
 * point at the right character even after quotes were removed. */
struct cmd_split {
    struct sp_buf text;
    size_t *cols;
    size_t ncols, capcols;
    struct cmd_word words[CMD_WORDS_MAX];
    int n;
};

void cmd__split_init(struct cmd_split *sp);
void cmd__split_cleanup(struct cmd_split *sp);
/* Splits line by the rules of sp_split_words(); returns the word count or -1
 * with a reason in err and the column in *errcol. */
int cmd__split(struct cmd_split *sp, const char *line, size_t *errcol, char *err, size_t errlen);
/* Column in the line of byte i of w. */
size_t cmd__word_col(const struct cmd_split *sp, const struct cmd_word *w, size_t i);

/* A parsed line being executed. */
struct cmd_ctx {
    struct sp_cmdq *q;
    struct sp_engine *eng;
    const struct cmd_entry *ent;
    const char *line;
    const char *origin;
    struct cmd_split *sp;
    const struct cmd_word *argv[CMD_WORDS_MAX]; /* positional words */
    int argc;
    int arg0;                                  /* first positional not yet consumed */
    const struct cmd_word *optv[CMD_OPTS_MAX]; /* value (or the flag word itself) */
    char err[CMD_ERR_MAX];
    size_t errcol; /* SIZE_MAX: no column */
};

/* Records an error (printf-style, our own format) at byte i of w (w may be
 * NULL: no column). Returns CMD_FAIL. */
int cmd__fail(struct cmd_ctx *c, const struct cmd_word *w, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The word given for option name (its value, or the flag word), or NULL. */
const struct cmd_word *cmd__opt(const struct cmd_ctx *c, const char *name);
/* Positional words left after the ones consumed. */
int cmd__nargs(const struct cmd_ctx *c);
const struct cmd_word *cmd__arg(const struct cmd_ctx *c, int i);
/* The [ID] rule: the first positional word is a socket id when it is all
 * digits, unquoted, and at least min_rest words follow it; it must then
 * name a socket, and a leading zero is refused. Otherwise the current
 * socket is meant. */
int cmd__take_id(struct cmd_ctx *c, int min_rest, uint32_t *id);
/* The one "no socket N" lookup: fills *in, or fails the command (the error
 * points at w when not NULL; it says when the socket was closed and
 * forgotten). */
struct sp_sock_info;
int cmd__sock_info(struct cmd_ctx *c, const struct cmd_word *w, uint32_t id,
                   struct sp_sock_info *in);
/* The [ID] rule of commands whose words are data (send, expect): data is
 * never read as an ID. Without --hex the first word is the ID when it is a
 * plain decimal number (no leading zero, unquoted) and at least min_rest
 * words follow it. With --hex every word after the flag is data, and only
 * an ID (a plain number naming a socket) may stand before it; anything else
 * before it is refused as ambiguous. */
int cmd__take_data_id(struct cmd_ctx *c, int min_rest, uint32_t *id);
/* After the ID: between lo and hi positional words must remain. */
int cmd__want_args(struct cmd_ctx *c, int lo, int hi);
/* Starts waiting for q->pend (filled in by the caller): CMD_OK if it already
 * holds, CMD_FAIL if it never can, else CMD_PENDING. */
int cmd__pending_start(struct cmd_ctx *c);
/* --timeout MS (default 10 s; 0 means forever) into *ms; -1 after cmd__fail. */
int cmd__timeout_opt(struct cmd_ctx *c, uint64_t *ms);
/* Parses w as a decimal number in [lo, hi]; suffixes: K/M (x1024) when
 * allowed. */
int cmd__number(struct cmd_ctx *c, const struct cmd_word *w, uint64_t lo, uint64_t hi, int suffixes,
                uint64_t *out);
/* Appends the bytes a data word denotes (escape syntax, or hex digits). */
int cmd__data(struct cmd_ctx *c, const struct cmd_word *w, int hex, struct sp_buf *out);
/* Is w exactly s (case-sensitive)? */
int cmd__is(const struct cmd_word *w, const char *s);

/* The table (cmd_table.c). */
extern const struct cmd_entry cmd__table[];
extern const size_t cmd__table_len;
/* What an omitted or leading-number ID means (help, README, man page). */
extern const char cmd__id_rule[];
/* set's IP-layer options (cmd_setip.c): is name one of them, and set it. */
int cmd__is_ipopt(const struct cmd_word *name);
int cmd__set_ipopt(struct cmd_ctx *c, uint32_t id, const struct cmd_word *name,
                   const struct cmd_word *val);
/* Finds a command by name or unique prefix; on failure err says why (unknown,
 * or ambiguous with the candidates). */
const struct cmd_entry *cmd__find(const char *name, char *err, size_t errlen);

/* What the one running command waits for. */
enum cmd_pend_kind {
    PEND_NONE,
    PEND_CONNECT, /* connected, or error/closed */
    PEND_CREATE,  /* listening/bound after name resolution */
    PEND_SLEEP,
    PEND_WAIT,
    PEND_EXPECT,
    PEND_SEND, /* n more send events (delayed or repeated sends) */
    PEND_LAB,  /* a lab runs (lab_run.c ends it) */
    PEND_STEP, /* `step`: until the step key */
    PEND_RECV, /* a blocking manual recv: until its recv, eof or error event */
};

enum cmd_wait_what {
    WAIT_CONNECTED,
    WAIT_ACCEPTED,
    WAIT_RECV,
    WAIT_MSG,
    WAIT_EOF,
    WAIT_CLOSED,
    WAIT_SENT,
    WAIT_STATE,
    WAIT_BYTES,
    WAIT_MSGS,
};

/* Variables (cmd_vars.c): set by expect --capture, used as ${NAME} in DATA. */
#define CMD_VAR_NAME_MAX  31
#define CMD_VARS_MAX      256
#define CMD_VAR_BYTES_MAX (64u * 1024)
struct cmd_var {
    char name[CMD_VAR_NAME_MAX + 1];
    unsigned char *val;
    size_t len;
};
/* What a ${NAME} in a DATA word stands for: appends its bytes to out, or
 * returns -1 with the reason in err. */
typedef int (*cmd_resolve_fn)(void *ud, const char *name, size_t nlen, struct sp_buf *out,
                              char *err, size_t errlen);
/* The bytes of a DATA word (escape syntax, or hex digits when hex) with
 * ${NAME} replaced through resolve and $$ read as one $ (a $ before
 * anything else is itself). Returns 0, or -1 with err and the byte offset
 * in the word in *errpos. */
int cmd__expand(const char *s, size_t n, int hex, cmd_resolve_fn resolve, void *ud,
                struct sp_buf *out, size_t *errpos, char *err, size_t errlen);
/* The queue's variables as a resolver (ud is the queue). */
int cmd__var_resolve(void *ud, const char *name, size_t nlen, struct sp_buf *out, char *err,
                     size_t errlen);
/* Is s[0..n) a variable name: a letter or _, then letters, digits, _? */
int cmd__var_name_ok(const char *s, size_t n);
/* Sets (or replaces) a variable; -1 with err when there are too many or the
 * value is too long. */
int cmd__var_set(struct sp_cmdq *q, const char *name, const void *p, size_t n, char *err,
                 size_t errlen);
void cmd__vars_free(struct sp_cmdq *q);

/* A parsed match (cmd_match.c): how, and which regex groups become which
 * variables. */
struct cmd_matchspec {
    struct sp_match m;
    int ncaps;
    char capname[SP_MATCH_GROUPS][CMD_VAR_NAME_MAX + 1];
    int capgroup[SP_MATCH_GROUPS];
};
/* The match options of expect and on (--prefix --contains --regex RE
 * --hex-mask MASK --hex --capture NAME[=N],...) with the DATA words
 * cmd__arg(c, from) .. cmd__arg(c, to - 1). 0, or -1 after cmd__fail. */
int cmd__match_parse(struct cmd_ctx *c, int from, int to, struct cmd_matchspec *ms);
void cmd__match_free(struct cmd_matchspec *ms);
/* The value of capture k of a match of p (empty when its group took no
 * part). */
void cmd__match_cap(const struct cmd_matchspec *ms, int k, const unsigned char *p,
                    const struct sp_match_cap *caps, const unsigned char **v, size_t *vn);
/* A match failed: appends why, e.g. `"abc", expected prefix "ab"`. */
void cmd__match_why(struct sp_buf *b, const struct cmd_matchspec *ms);

struct cmd_pending {
    enum cmd_pend_kind kind;
    uint32_t id;
    enum cmd_wait_what what;
    uint64_t n;         /* bytes:N / msgs:N target, baseline count, or sends left */
    char name[32];      /* state:NAME */
    struct sp_buf data; /* expect: the bytes */
    struct sp_watch *timer;
    uint64_t timeout_ms;
    char verb[64];            /* for messages: "wait recv", "connect" */
    struct cmd_matchspec *ms; /* expect: how to match (data holds exact bytes too) */
    uint64_t within_ms;       /* expect --within: at most this long after our last send */
    uint64_t start_ns;        /* when the waiting line started */
};

/* One message (or raw recv chunk) kept for expect. */
struct cmd_item {
    TAILQ_ENTRY(cmd_item) entry;
    uint64_t seq;
    int is_msg;
    uint64_t len; /* full length; data holds the kept prefix */
    uint64_t t_ns;
    uint64_t send_ns, send_seq; /* our last send before it (send_seq 0: none) */
    size_t data_len;
    unsigned char data[];
};

/* Per socket: what expect and `wait accepted` took so far. Without the
 * engine's history, also the messages not yet taken by an expect (copies). */
struct cmd_tap {
    uint32_t id;
    uint64_t cursor; /* with history: the next history index expect looks at */
    TAILQ_HEAD(cmd_items, cmd_item) items; /* oldest first */
    size_t count, bytes;
    uint64_t lost;                        /* not kept because the tap was full */
    uint64_t accepted_taken;              /* listener: connections taken by `wait accepted` */
    uint32_t accepted_last;               /* listener: the id of the last one taken */
    uint64_t last_send_ns, last_send_seq; /* our latest send event (seq 0: none yet) */
};

#define CMD_TAP_ITEMS_MAX 4096
#define CMD_TAP_BYTES_MAX (8u * 1024 * 1024)
/* Over all sockets: a TUI watching many streams never takes expect into
 * account, so what it keeps for expect must stay small. */
#define CMD_TAP_GLOBAL_MAX (64u * 1024 * 1024)

struct cmd_line {
    TAILQ_ENTRY(cmd_line) entry;
    char *line;
    char *origin;
};

struct cmd_log;
struct cmd_lab;

struct sp_cmdq {
    struct sp_engine *eng;
    struct sp_cmd_hooks hooks;
    void *ud;
    TAILQ_HEAD(cmd_lines, cmd_line) lines; /* waiting to run, in order */
    struct sp_watch *kick;
    unsigned failures;
    int keep_going;
    int may_fail; /* the current line is allowed to fail (a lab's "!" line) */
    int stopped;  /* a failure dropped the queue; reported once to on_idle */
    void (*idle_cb)(void *ud, int failed);
    void *idle_ud;
    int in_run;

    /* The line running now (kept for error messages while it waits). */
    char *cur_line, *cur_origin;
    struct cmd_pending pend;

    int sub_life, sub_data;
    int lazy_tap, tap_on;
    /* expect reads the engine's history (the TUI, or a run with `log`), so
     * nothing is copied for it; else the tap copies what arrives. */
    int hist_expect;
    struct cmd_tap **taps; /* sorted by id; only sockets that need one */
    size_t ntaps, captaps;
    size_t taps_swept; /* ntaps after the last sweep of forgotten sockets' taps */
    size_t tap_bytes;  /* over all taps */

    TAILQ_HEAD(cmd_logs, cmd_log) logs;
    /* The script's current socket: the newest one a command created or a
     * `wait accepted` took (0: none yet). */
    uint32_t current;

    /* The lab this queue runs or ran last (lab_run.c); in_lab marks the
     * queue a lab runs its command lines in. */
    struct cmd_lab *lab;
    int in_lab;

    /* expect --capture's variables (cmd_vars.c), `on` rules (cmd_rules.c). */
    struct cmd_var *vars;
    size_t nvars;
    struct cmd_rules *rules;
};

/* Ends the waiting command: ok, or failed with msg. Resumes the queue. */
void cmd__finish(struct sp_cmdq *q, int ok, const char *msg);
/* Re-evaluates what the subscription masks must be (data events are only
 * asked for while something needs them). */
void cmd__update_subs(struct sp_cmdq *q);
/* The pending command's reaction to an event (NULL: check the state now). */
void cmd__pending_event(struct sp_cmdq *q, const struct sp_event *ev);
/* Whether the pending command needs data (recv/msg/send) events. */
int cmd__pending_needs_data(const struct sp_cmdq *q);
void cmd__pending_clear(struct sp_cmdq *q);
/* Expect's queue for a socket (created on demand), or NULL on id 0. */
struct cmd_tap *cmd__tap(struct sp_cmdq *q, uint32_t id);

/* Drops every line still queued (quit, or a failure without keep-going). */
void cmd__drop_queue(struct sp_cmdq *q);

/* Prints one line of output through the hook. */
void cmd__out(struct sp_cmdq *q, const char *line);

/* Labs (lab_run.c). */
void cmd__lab_free(struct cmd_lab *lab);
/* What a lab needs (lab_needs.c): checked with the kernel before the first
 * step (0, or -1 with err saying what is missing and how to get it), then
 * a notice at the start and one at the end saying what the kernel did. */
struct sp_labdef;
struct sp_qdisc;
int cmd__lab_needs_check(const struct sp_labdef *def, struct sp_qdisc *base, char *err,
                         size_t errlen);
void cmd__lab_needs_start(struct sp_cmdq *q, const struct sp_labdef *def,
                          const struct sp_qdisc *base);
void cmd__lab_needs_end(struct sp_cmdq *q, const struct sp_labdef *def,
                        const struct sp_qdisc *base);

/* Publishes a cmd_error for the line as written. */
void cmd__report(struct sp_cmdq *q, const char *line, const char *origin, const char *msg);

/* Runs one line (cmd_run.c); CMD_OK, CMD_FAIL (reported here) or
 * CMD_PENDING. */
int cmd__run_line(struct sp_cmdq *q, const char *line, const char *origin);

/* Logs (cmd_log.c). */
void cmd__logs_free(struct sp_cmdq *q);

/* Rules (cmd_rules.c): freed with the queue; `list rules` prints them. */
struct cmd_rules;
void cmd__rules_free(struct sp_cmdq *q);
int cmd__rules_list(struct cmd_ctx *c);

/* Exec functions, one per command. */
int cmd__exec_listen(struct cmd_ctx *c);
int cmd__exec_connect(struct cmd_ctx *c);
int cmd__exec_bind(struct cmd_ctx *c);
int cmd__exec_send(struct cmd_ctx *c);
int cmd__exec_framing(struct cmd_ctx *c);
int cmd__exec_recvsize(struct cmd_ctx *c);
int cmd__exec_pause(struct cmd_ctx *c);
int cmd__exec_resume(struct cmd_ctx *c);
int cmd__exec_recv(struct cmd_ctx *c);
int cmd__exec_shutdown(struct cmd_ctx *c);
int cmd__exec_close(struct cmd_ctx *c);
int cmd__exec_reset(struct cmd_ctx *c);
int cmd__exec_set(struct cmd_ctx *c);
int cmd__exec_echo(struct cmd_ctx *c);
int cmd__exec_list(struct cmd_ctx *c);
int cmd__exec_info(struct cmd_ctx *c);
int cmd__exec_log(struct cmd_ctx *c);
int cmd__exec_wire(struct cmd_ctx *c);
/* cmd_wire.c: the wire view's line of `info` and `wire`; set wire-buffer. */
struct sp_wire_info;
void cmd__wire_line(struct sp_buf *b, const struct sp_wire_info *wi);
int cmd__set_wire_buffer(struct cmd_ctx *c);
int cmd__exec_wait(struct cmd_ctx *c);
int cmd__exec_expect(struct cmd_ctx *c);
int cmd__exec_sleep(struct cmd_ctx *c);
int cmd__exec_on(struct cmd_ctx *c);
int cmd__exec_replay(struct cmd_ctx *c);
int cmd__exec_lab(struct cmd_ctx *c);
int cmd__exec_step(struct cmd_ctx *c);
int cmd__exec_help(struct cmd_ctx *c);
int cmd__exec_quit(struct cmd_ctx *c);
int cmd__exec_ui(struct cmd_ctx *c);
int cmd__exec_relay(struct cmd_ctx *c);

/* cmd_tls.c: the TLS options of connect/listen into o (refused on a
 * non-tls: address). 0, or CMD_FAIL after cmd__fail(). */
struct sp_tls_opts;
struct sp_addr;
int cmd__tls_opts(struct cmd_ctx *c, const struct sp_addr *addr, int listener,
                  struct sp_tls_opts *o);

#endif
