/* The command language (DESIGN §4), shared by the TUI prompt, `-e` and
 * scripts. One table describes every command (name, usage, flags, exec);
 * help, completion and the README's reference are generated from it.
 *
 * Lines run through a queue: a command either finishes at once or waits
 * (connect, wait, expect, sleep, send with delays) and the queue resumes
 * when it is done. A bad line never changes a socket: it is reported as a
 * `cmd_error` event carrying the line as written. */
#ifndef SOCKPIT_CMD_H
#define SOCKPIT_CMD_H

#include <stddef.h>
#include <stdint.h>

struct sp_engine;
struct sp_buf;
struct sp_cmdq;

/* What a front end lends the command layer. Every hook may be NULL. */
struct sp_cmd_hooks {
    /* Text a command prints (help, list, info): ours, with peer strings
     * already rendered safe. One call per line, without the newline. */
    void (*output)(void *ud, const char *line);
    /* The socket omitted IDs mean; 0 falls back to the most recently
     * created socket (the script rule). */
    uint32_t (*current)(void *ud);
    /* `quit` was run (after it closed every socket). */
    void (*quit)(void *ud);
    /* Front-end commands (split, unsplit, view, hex, focus, confirm). argv[0] is the
     * command name. Return 0, or -1 with a reason in err. NULL: the command
     * reports that it needs the TUI. */
    int (*ui_command)(void *ud, int argc, const char *const *argv, char *err, size_t errlen);
    /* Non-zero: the front end has a step key (the TUI). `step` lines and
     * labs then wait for sp_cmdq_step(); otherwise (headless) `step` does
     * nothing, predictions are skipped and labs run straight through. */
    int stepping;
};

struct sp_cmdq *sp_cmdq_new(struct sp_engine *eng, const struct sp_cmd_hooks *hooks, void *ud);
void sp_cmdq_free(struct sp_cmdq *q);
/* Queues one line (blank lines and `#` comments are ignored). origin names
 * where it came from for error messages ("-e 2", "script.sp:14", "prompt").
 * The queue starts running on the next loop iteration. */
void sp_cmdq_push(struct sp_cmdq *q, const char *line, const char *origin);
/* No line is running or waiting. */
int sp_cmdq_idle(const struct sp_cmdq *q);
/* Failed commands so far (errors, wait timeouts, expect mismatches). */
unsigned sp_cmdq_failures(const struct sp_cmdq *q);
/* Without keep-going (the default for scripts) a failure drops every queued
 * line after it; the front end decides what exit status that means. */
void sp_cmdq_set_keep_going(struct sp_cmdq *q, int on);
/* Called when the queue goes idle (ran out of lines) or a failure stopped it. */
void sp_cmdq_on_idle(struct sp_cmdq *q, void (*cb)(void *ud, int failed), void *ud);

/* The step key: ends a waiting `step` line, or moves the running lab on (runs
 * a step whose prediction is shown, or goes to the next step once its note
 * is shown). Returns 0, or -1 when nothing waits for it. */
int sp_cmdq_step(struct sp_cmdq *q);
/* Runs the lab's current step again (its prediction or note is shown).
 * Returns 0, or -1 when no lab waits. */
int sp_cmdq_step_repeat(struct sp_cmdq *q);
/* Does a `step` line or a lab wait for the step key? */
int sp_cmdq_step_waiting(const struct sp_cmdq *q);

/* Keeps messages for `expect` only once a line running expect (or lab) was
 * pushed, instead of from the queue's creation. The headless front end
 * pushes its whole script before the loop runs, so it loses nothing and a
 * run without expect costs nothing per recv. */
void sp_cmdq_set_lazy_tap(struct sp_cmdq *q, int on);
/* Does line run the command name (after prefix matching)? Used to scan a
 * script before running it (e.g. `log` needs the history kept). */
int sp_cmd_line_is(const char *line, const char *name);

/* Help generated from the table: the list of commands, or one command's
 * usage and description. Returns -1 for an unknown command. */
int sp_cmd_help(struct sp_buf *out, const char *name);
/* Completion for the prompt: appends to out, one per line, the words that
 * can complete the last word of line (commands, options, socket ids,
 * framing specs). Returns how many. */
size_t sp_cmd_complete(struct sp_engine *eng, const char *line, struct sp_buf *out);
/* The README's command reference (Markdown), generated from the table;
 * `sockpit --help-commands-md` prints it and a test compares it with the
 * README so the two cannot drift. */
void sp_cmd_reference_md(struct sp_buf *out);
/* The man page's COMMANDS section (roff), from the same table; a test checks
 * it names every command. */
void sp_cmd_reference_man(struct sp_buf *out);
/* Appends text escaped for roff (backslashes, hyphens, a leading . or ');
 * `code` becomes bold, newlines spaces. */
void sp_cmd_roff(struct sp_buf *out, const char *text);

#endif
