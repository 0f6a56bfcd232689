/* The headless front end (DESIGN §5): runs command lines without a terminal
 * and prints every event as a text line or a JSON object. */
#ifndef SOCKPIT_HEADLESS_H
#define SOCKPIT_HEADLESS_H

#include <stddef.h>

struct sp_headless_opts {
    int json;                   /* one JSON object per event per line */
    int quiet;                  /* no recv/msg/send events; summaries still printed */
    int keep_going;             /* a failed line does not stop the script */
    double timeout_s;           /* > 0: exit 1 if still running after this long */
    const char *const *lines;   /* -e / --script lines, in order */
    const char *const *origins; /* where each came from ("-e 1", "x.sp:3") */
    size_t nlines;
    int out_fd; /* where events go (normally 1) */
};

/* Creates the engine, runs the lines, prints events to out_fd until `quit`,
 * until every socket is closed after the script ended, or until the
 * timeout. Returns the exit status: 0 ok, 1 a line failed or timeout. */
int sp_headless_main(const struct sp_headless_opts *opts);

#endif
