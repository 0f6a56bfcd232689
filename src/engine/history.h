/* Bounded per-socket event logs (DESIGN §9): a ring of fixed-size records
 * plus a ring of bytes for each record's strings, payload and arrays, so
 * logging an event never costs a malloc of its own. Both rings grow by
 * doubling up to the per-socket caps and, past those (or past the global
 * cap shared by every socket), drop the oldest events. */
#ifndef SOCKPIT_HISTORY_H
#define SOCKPIT_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "sockpit/proto/event.h"

/* Payload bytes kept for one event at most; longer payloads keep a prefix
 * (data_len < len), so one big message cannot flush a whole log. */
#define SP_HIST_EVENT_DATA_MAX (1024u * 1024)

/* Memory accounting shared by every log of an engine. */
struct sp_hist_pool {
    size_t used; /* bytes held by all logs */
    size_t max;  /* growth stops here; logs then drop their own oldest events */
};

struct sp_hist;

/* Appends a copy of ev (strings, payload, cuts and blocks included; payload
 * only if keep_data) to *h, creating the log on first use. */
void sp__hist_push(struct sp_hist **h, struct sp_hist_pool *pool, const struct sp_event *ev,
                   int keep_data, size_t events_max, size_t bytes_max);
void sp__hist_free(struct sp_hist *h, struct sp_hist_pool *pool);
/* Absolute index of the oldest kept event (= events dropped so far). */
uint64_t sp__hist_begin(const struct sp_hist *h);
/* One past the newest event. */
uint64_t sp__hist_end(const struct sp_hist *h);
/* Fills out with event idx, pointers into the log (valid until the next
 * push). Returns 0, or -1 if idx is not kept. */
int sp__hist_get(const struct sp_hist *h, uint64_t idx, struct sp_event *out);
/* Bytes this log holds (records and data). */
size_t sp__hist_mem(const struct sp_hist *h);

#endif
