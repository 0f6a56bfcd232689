/* The data pipe of `--stdio` (nc's habit): stdin's bytes go out through one
 * socket's framing, what it receives comes out on stdout as bytes. */
#ifndef SOCKPIT_HEADLESS_PIPE_H
#define SOCKPIT_HEADLESS_PIPE_H

#include "sockpit/headless/headless.h"

struct sp_engine;
struct hpipe;

/* Subscribes to eng; the pipe takes the first socket that connects, is
 * accepted or is bound, and starts reading stdin once it has one. */
struct hpipe *hpipe_new(struct sp_engine *eng, const struct sp_headless_opts *opts);
/* 1 if the pipe's run ended badly (reset, refused, a send refused). */
int hpipe_failed(const struct hpipe *p);
/* Stops reading, writes what is still buffered for stdout (bounded) and
 * frees the pipe. Before the engine is freed. */
void hpipe_free(struct hpipe *p);

#endif
