/* Allocation that cannot fail: see xmalloc.h for the policy. */
#include "sockpit/proto/xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* write(2) rather than stdio: stdio may itself need memory. */
static _Noreturn void out_of_memory(void)
{
    static const char msg[] = "sockpit: out of memory\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)r;
    abort();
}

void *sp_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        out_of_memory();
    return p;
}

void *sp_xcalloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        n = size = 1;
    void *p = calloc(n, size);
    if (p == NULL)
        out_of_memory();
    return p;
}

void *sp_xreallocarray(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        out_of_memory();
    size_t total = n * size;
    void *q = realloc(p, total ? total : 1);
    if (q == NULL)
        out_of_memory();
    return q;
}

char *sp_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(sp_xmalloc(n), s, n);
}

char *sp_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = sp_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
