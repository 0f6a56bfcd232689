/* The one parser of decimal numbers typed by a user: command arguments,
 * framing spec values, ports and socket IDs all go through it, so "12K",
 * "007" or "1e3" mean the same everywhere. */
#ifndef SOCKPIT_NUM_H
#define SOCKPIT_NUM_H

#include <stddef.h>
#include <stdint.h>

#define SP_NUM_EMPTY     (-1) /* no characters at all */
#define SP_NUM_NOT_DIGIT (-2) /* *pos: the first character that is not a digit (or suffix) */
#define SP_NUM_TOO_LARGE (-3) /* *pos: the digit or suffix that overflowed 64 bits */

/* Parses s[0..n): decimal digits only (no sign, no spaces), and with
 * suffixes != 0 one trailing K or M (either case) multiplying by 1024 or
 * 1024 * 1024. Returns 0 with the value in *out, or an SP_NUM_ code with the
 * offending index in *pos (0 for SP_NUM_EMPTY). Callers word the error. */
int sp_parse_u64(const char *s, size_t n, int suffixes, uint64_t *out, size_t *pos);

#endif
