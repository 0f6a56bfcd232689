/* Helpers shared by the cmocka tests. */
#ifndef SOCKPIT_TESTUTIL_H
#define SOCKPIT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Hex digits (spaces between bytes allowed) to bytes; fails the test on
 * anything else or when more than cap bytes would be written. */
size_t tu_unhex(const char *hex, unsigned char *out, size_t cap);
/* Deterministic PRNG (xorshift64*) so failures reproduce. */
uint64_t tu_rand(uint64_t *state);
/* Copies n bytes to the end of a page followed by a PROT_NONE page, so an
 * over-read crashes. Free with tu_guard_free(). */
unsigned char *tu_guard_copy(const void *p, size_t n);
void tu_guard_free(unsigned char *p, size_t n);
/* Number of open file descriptors of this process (/proc/self/fd). */
int tu_count_fds(void);

struct sp_buf;
/* sp_split_words() with the words as C strings: returns the word count
 * (words[i] point into out->data, valid until out changes), or -1 with the
 * column of the error in *errpos (when not NULL). */
int tu_tokenize(const char *line, struct sp_buf *out, const char **words, int max, size_t *errpos);

#endif
