/* Internals of the protocol layer, shared by the files of src/proto/ only:
 * nothing outside this folder sees them (its include directory is PRIVATE). */
#ifndef SOCKPIT_PROTO_INT_H
#define SOCKPIT_PROTO_INT_H

#include <stddef.h>

struct sp_buf;

/* printf into err (when err != NULL and errlen > 0) and return -1: the error
 * path of the parsers and encoders. Defined in buf.c. */
int sp__fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the escape of the byte c into e (room for 4 bytes): `\\ \n \r \t
 * \0 \e` by name, every other byte `\xHH` (lowercase). Returns its length.
 * The one escaper behind sp_escape(), the framing spec text and the safe
 * renderer. Defined in escape.c. */
size_t sp__escape_byte(unsigned char c, char *e);

/* Appends p[0..n) in escape syntax: printable ASCII passes except `\` and
 * `"` (`\"`), every byte listed in hex_also (may be NULL) is written `\xHH`,
 * every other byte as sp__escape_byte() writes it. Defined in escape.c. */
void sp__escape_set(const void *p, size_t n, struct sp_buf *out, const char *hex_also);

#endif
