/* Hex dumps: offset, hex bytes and an ASCII column (proto layer). */
#ifndef SOCKPIT_HEXDUMP_H
#define SOCKPIT_HEXDUMP_H

#include <stddef.h>

struct sp_buf;

/* Appends a classic hex dump of p[0..n): lines of `width` bytes as
 * "OOOOOOOO  hh hh ...  |ascii|\n" where offsets start at base. The ASCII
 * column shows printable ASCII only, '.' for everything else. As in
 * `hexdump -C`, an extra space follows the first width/2 bytes and a short
 * last line is padded so its ASCII column lines up. width 0 means 16. */
void sp_hexdump(struct sp_buf *out, const void *p, size_t n, unsigned long long base,
                unsigned width);

#endif
