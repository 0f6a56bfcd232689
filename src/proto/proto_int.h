/* Internals of the protocol layer, shared by the files of src/proto/ only:
 * nothing outside this folder sees them (its include directory is PRIVATE). */
#ifndef SOCKPIT_PROTO_INT_H
#define SOCKPIT_PROTO_INT_H

#include <stddef.h>

struct sp_buf;

/* printf into err (when err != NULL and errlen > 0) and return -1: the error
 * path of the parsers and encoders. Defined in buf.c. */
int sp__fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
