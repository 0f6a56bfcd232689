/* Helpers shared by the cmocka tests. */
#ifndef SOCKPIT_TESTUTIL_H
#define SOCKPIT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Deterministic PRNG (xorshift64*) so failures reproduce. */
uint64_t tu_rand(uint64_t *state);
/* Copies n bytes to the end of a page followed by a PROT_NONE page, so an
 * over-read crashes. Free with tu_guard_free(). */
unsigned char *tu_guard_copy(const void *p, size_t n);
void tu_guard_free(unsigned char *p, size_t n);
/* Number of open file descriptors of this process (/proc/self/fd). */
int tu_count_fds(void);

#endif
