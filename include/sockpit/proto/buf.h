/* A growable byte buffer, the one container the protocol layer uses. */
#ifndef SOCKPIT_BUF_H
#define SOCKPIT_BUF_H

#include <stddef.h>

/* Caller-owned. data is always NUL-terminated after a successful append (the
 * terminator is not counted in len), so rendered text can be used as a C
 * string. A zeroed struct is a valid empty buffer. */
struct sp_buf {
    unsigned char *data; /* read-only: the bytes, or NULL while empty */
    size_t len;          /* read-only */
    size_t cap;          /* private */
};

void sp_buf_init(struct sp_buf *b);
void sp_buf_cleanup(struct sp_buf *b);
/* Empties the buffer but keeps its memory. */
void sp_buf_reset(struct sp_buf *b);
/* Ensures room for n more bytes plus the terminator. Aborts on out of memory:
 * every size that reaches here is bounded by a configured limit. */
void sp_buf_reserve(struct sp_buf *b, size_t n);
void sp_buf_append(struct sp_buf *b, const void *p, size_t n);
void sp_buf_appendc(struct sp_buf *b, unsigned char c);
void sp_buf_appends(struct sp_buf *b, const char *s);
/* printf-style append; fmt is always a literal of ours, never peer data. */
void sp_buf_appendf(struct sp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the text (never NULL: "" when empty). */
const char *sp_buf_str(const struct sp_buf *b);

#endif
