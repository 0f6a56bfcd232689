/* Internals of the protocol layer (src/buf*.c, frame*.c, escape*.c, render*.c,
 * hexdump*.c, addr*.c), defined in proto sources only so that sockpit_proto
 * keeps linking nothing. Core's command parser uses the word splitter too. */
#ifndef SOCKPIT_PROTO_INT_H
#define SOCKPIT_PROTO_INT_H

#include <stddef.h>

struct sp_buf;

/* printf into err (when err != NULL and errlen > 0) and return -1: the error
 * path of the parsers and encoders. Defined in buf.c. */
int sp__fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One word found by sp__split_words(). */
struct sp__word {
    size_t start; /* offset in out of its first byte */
    size_t len;   /* bytes, without the NUL that ends it */
    size_t col;   /* 0-based column of its first character in the line */
    int quoted;   /* had a double quote */
};

#define SP__SPLIT_TOO_MANY (-1) /* *errpos: the first word that does not fit */
#define SP__SPLIT_QUOTE    (-2) /* *errpos: the quote never closed */

/* The word splitter behind sp_tokenize() and the command parser (the rules
 * are documented at sp_tokenize()). Appends every word and its NUL to out;
 * fills words[] when not NULL; calls col(ctx, c) when not NULL once for every
 * byte appended, c being the column it came from (for a NUL: the column just
 * past the word). Returns the word count or an SP__SPLIT_ code. In escape.c. */
int sp__split_words(const char *line, struct sp_buf *out, struct sp__word *words, int max,
                    void (*col)(void *ctx, size_t c), void *ctx, size_t *errpos);

#endif
