/* Allocation that cannot fail. sockpit has one out-of-memory policy, tmux's:
 * every size it allocates is bounded by a configured cap, so running out of
 * memory means the machine is in trouble, and the program says so on stderr
 * and aborts rather than carry on with half-built state. */
#ifndef SOCKPIT_XMALLOC_H
#define SOCKPIT_XMALLOC_H

#include <stddef.h>

/* Each returns usable memory or aborts with "sockpit: out of memory"; a size
 * of 0 still returns a unique pointer that free() accepts. */
void *sp_xmalloc(size_t size);
void *sp_xcalloc(size_t n, size_t size);
/* n * size is checked for overflow (which also aborts). */
void *sp_xreallocarray(void *p, size_t n, size_t size);
char *sp_xstrdup(const char *s);
char *sp_xstrndup(const char *s, size_t n);

#endif
