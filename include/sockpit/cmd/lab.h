/* Lessons (`lab NAME`, `--lab NAME|FILE|list`). A lab is a lab file
 * (proto/labfile.h): the built-in ones are src/cmd/labs/NAME.lab, compiled
 * into the binary; a teacher's own is read from a path. The command queue
 * runs a lab step by step (src/cmd/lab_run.c): it stages each step with its
 * command lines, then checks what the kernel did (the step's engine events)
 * and publishes a `note` event and one `check` event per check. */
#ifndef SOCKPIT_LAB_H
#define SOCKPIT_LAB_H

#include <stddef.h>
#include <stdint.h>

struct sp_buf;
struct sp_labdef;
struct sp_cmdq;

/* A built-in lab's source text. */
struct sp_lab_src {
    const char *name;
    const char *text;
    size_t len;
};

/* The built-in labs (generated from src/cmd/labs/ *.lab), NULL-name ended. */
extern const struct sp_lab_src sp_lab_builtin[];

/* The built-in lab called name, or NULL. */
const struct sp_lab_src *sp_lab_find(const char *name);
/* Appends one line per built-in lab: name, summary, duration. */
void sp_lab_list(struct sp_buf *out);
/* Writes why name is not a built-in lab into err. */
void sp_lab_unknown(const char *name, char *err, size_t errlen);
/* Does arg name a lab file rather than a built-in (it contains a '/' or ends
 * in ".lab")? */
int sp_lab_is_path(const char *arg);
/* Loads a lab by built-in name or file path. Returns 0 and the definition,
 * or -1 with "FILE:LINE:COL: reason" (or why it cannot be read) in err. */
int sp_lab_load(const char *arg, struct sp_labdef **out, char *err, size_t errlen);
/* Does this machine offer what the lab needs (`needs:`), asked of the
 * kernel now? 1, or 0 with what is missing and how to get it in err. */
int sp_lab_needs_met(const struct sp_labdef *def, char *err, size_t errlen);

/* What a front end shows of the lab a queue runs (or ran last). */
enum sp_lab_phase {
    SP_LAB_ASKING,  /* the step's prediction is shown; its commands have not run */
    SP_LAB_RUNNING, /* the step's commands are running */
    SP_LAB_SHOWING, /* the step ran: its note and checks are shown */
    SP_LAB_DONE,    /* the last step ran (or the lab stopped) */
};

#define SP_LAB_CHECK_PENDING (-1)

struct sp_lab_view {
    const struct sp_labdef *def;
    size_t step; /* index into def->steps */
    enum sp_lab_phase phase;
    /* The step's texts with $N replaced by socket numbers (not rendered:
     * lab files may come from anyone, render before showing). */
    const char *title, *ask, *note; /* ask: NULL when the step asks nothing */
    const char *const *choices;
    size_t nchoices;
    unsigned answer;          /* 1-based, 0: none */
    const int *held;          /* per check of the current step: 1, 0, or SP_LAB_CHECK_PENDING */
    const char *const *found; /* per check: what it found ("" before it ran) */
    unsigned checks_held, checks_failed; /* over the whole lab so far */
    const uint32_t *socks;               /* the lab's sockets: socks[0] is $1 */
    size_t nsocks;
    int failed;          /* a command of the lab failed: the lab stopped */
    unsigned generation; /* changes whenever anything above changes */
};

/* The lab q runs, or the last one it ran; NULL if none. Valid until the
 * queue runs again. */
const struct sp_lab_view *sp_cmdq_lab(struct sp_cmdq *q);

#endif
