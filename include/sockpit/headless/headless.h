/* The headless front end (DESIGN §5): runs command lines without a terminal
 * and prints every event as a text line or a JSON object. */
#ifndef SOCKPIT_HEADLESS_H
#define SOCKPIT_HEADLESS_H

#include <stddef.h>

struct sp_headless_opts {
    int json;                   /* one JSON object per event per line */
    int quiet;                  /* no recv/msg/send events; summaries still printed */
    int keep_going;             /* a failed line does not stop the script */
    int reset_on_fail;          /* a failed script resets its sockets (else it closes them) */
    double timeout_s;           /* > 0: exit 1 if still running after this long */
    const char *const *lines;   /* -e / --script lines, in order */
    const char *const *origins; /* where each came from ("-e 1", "x.sp:3") */
    size_t nlines;
    int out_fd; /* where events go (normally 1; 2 with stdio) */
    /* The data pipe (--stdio): stdin is sent on the first socket that
     * connects or is accepted, what it receives goes to stdout as bytes. */
    int stdio;
    int stdio_hex;       /* stdin lines are hex; stdout gets hex, one line each */
    int verbose;         /* stdio: print events (to out_fd), not only errors */
    double quit_after_s; /* stdio: after stdin's EOF end the run this much later; < 0: at
                            the peer's EOF */
};

/* Creates the engine, runs the lines, prints events to out_fd until `quit`,
 * until every socket is closed after the script ended, or until the
 * timeout. Returns the exit status: 0 ok, 1 a line failed or timeout. */
int sp_headless_main(const struct sp_headless_opts *opts);

#endif
