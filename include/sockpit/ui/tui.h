/* The ncurses front end's entry point (ui/). */
#ifndef SOCKPIT_TUI_H
#define SOCKPIT_TUI_H

#include <stddef.h>

struct sp_engine;

struct sp_tui_opts {
    int demo;                   /* --demo: echo listener + client, two panes */
    const char *const *lines;   /* -e / --script lines to run first */
    const char *const *origins; /* where each line came from ("-e 1", "file:3") */
    size_t nlines;
    const char *lab;  /* --lab NAME, or NULL */
    int keep_going;   /* a failed line does not drop the rest of the script */
    double timeout_s; /* > 0: leave with status 1 if still running after this long */
};

/* Takes over the terminal, runs the engine's loop until the user quits, and
 * restores the terminal. Returns the exit status (DESIGN §5): 0, or 1 when a
 * line of the script (-e, --script, --lab) failed or --timeout expired. A
 * failed script line drops the lines after it unless keep_going; the TUI
 * stays interactive either way, and what is typed later never fails the
 * exit status. */
int sp_tui_main(struct sp_engine *eng, const struct sp_tui_opts *opts);

#endif
