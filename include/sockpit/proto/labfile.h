/* The lab file format (README "Teaching with sockpit"): a lesson as plain
 * text. A header names the lab; each step has a title, the command lines
 * that stage it, an optional prediction with choices, the note shown after
 * it ran, and checks on the events the kernel produced:
 *
 *   lab: split
 *   summary: one send is not one recv
 *   duration: 2 min
 *
 *   step: One big send, small reads
 *   listen tcp:0
 *   connect $1.addr
 *   ask: How many recv() calls will the server see?
 *   choice: one
 *   choice: several
 *   answer: 2
 *   note: Look at socket $3: four recv rows.
 *   check: several-recvs recv $3 > 1
 *
 * A directive is a line whose first word is one of the keywords below
 * followed by ':'; any other line inside a step is a command line of the
 * command language. `$N` in a command line is the lab's N-th socket,
 * `$N.addr` its address (tcp:127.0.0.1:PORT), `$N.port` its port, `$$` a
 * dollar sign. Parsing is pure: no I/O, no engine. */
#ifndef SOCKPIT_LABFILE_H
#define SOCKPIT_LABFILE_H

#include <stddef.h>
#include <stdint.h>

#define SP_LAB_SIZE_MAX    (1024u * 1024)
#define SP_LAB_LINE_MAX    4096
#define SP_LAB_STEPS_MAX   100
#define SP_LAB_CMDS_MAX    200 /* per step */
#define SP_LAB_CHECKS_MAX  32  /* per step */
#define SP_LAB_CHOICES_MAX 9
#define SP_LAB_FILTERS_MAX 8
#define SP_LAB_SOCKS_MAX   99 /* $1 .. $99 */

enum sp_lab_op { SP_LAB_EQ, SP_LAB_NE, SP_LAB_LT, SP_LAB_LE, SP_LAB_GT, SP_LAB_GE, SP_LAB_HAS };

/* A condition on one field of an event: `len>16`, `code=ECONNRESET`,
 * `truncated` (the same as truncated!=0), `reason~reset` (contains). */
struct sp_lab_filter {
    char field[16];
    enum sp_lab_op op;
    int numeric; /* the field is a number: num holds the value */
    uint64_t num;
    char text[64]; /* a name field: the value as written */
};

/* One side of a check: a number, or how many events of one kind (on one lab
 * socket, or on any) matched every filter during the step; `now` is 1 when
 * the socket's kernel view matches the filters when the check runs. */
struct sp_lab_term {
    int is_count;
    uint64_t num;
    char event[16]; /* "recv", "state", ..., "now" */
    unsigned sock;  /* lab socket number, 0: any of the lab's sockets */
    struct sp_lab_filter filters[SP_LAB_FILTERS_MAX];
    size_t nfilters;
};

struct sp_lab_check {
    char *name;
    char *expr; /* as written, for messages */
    struct sp_lab_term lhs, rhs;
    enum sp_lab_op op;
    size_t line;
};

struct sp_lab_cmd {
    char *text;  /* as written; $ references are expanded when it runs */
    size_t line; /* line number in the file */
};

struct sp_lab_step {
    char *title;
    size_t line;
    struct sp_lab_cmd *cmds;
    size_t ncmds;
    char *ask; /* NULL: no prediction */
    char *choices[SP_LAB_CHOICES_MAX];
    size_t nchoices;
    unsigned answer; /* 1-based choice, 0: none given */
    char *note;      /* lines joined with '\n'; "" when none */
    struct sp_lab_check *checks;
    size_t nchecks;
};

/* What a lab needs of the machine before its first step (`needs: loss`):
 * the runner checks it with the kernel and refuses to start without it. */
#define SP_LAB_NEEDS_LOSS 1u /* lo's root qdisc drops packets (netem loss, tbf) */

struct sp_labdef {
    char *name;
    char *summary;
    char *duration; /* "" when not given */
    unsigned needs; /* SP_LAB_NEEDS_* bits */
    struct sp_lab_step *steps;
    size_t nsteps;
};

/* Where and why a lab file was refused; line and col count from 1. */
struct sp_lab_error {
    size_t line, col;
    char msg[256];
};

/* Parses a whole lab file. Returns 0 and a new definition in *out, or -1
 * with err filled in (nothing allocated). Never reads past len; NUL bytes
 * are refused. */
int sp_labfile_parse(const char *text, size_t len, struct sp_labdef **out,
                     struct sp_lab_error *err);
void sp_labfile_free(struct sp_labdef *def);

/* The symbol of an operator ("=", "!=", "<", "<=", ">", ">=", "~"). */
const char *sp_lab_op_name(enum sp_lab_op op);
/* Does `a op b` hold (numbers)? */
int sp_lab_op_holds(enum sp_lab_op op, uint64_t a, uint64_t b);
/* Does a (for "=" and "!=" case-insensitively) op b hold (names)? */
int sp_lab_op_holds_text(enum sp_lab_op op, const char *a, const char *b);
/* Is the filter field numeric for this kind of term? Known fields are
 * listed in labfile.c; the parser refuses the others. */
int sp_lab_field_numeric(const char *field);

#endif
