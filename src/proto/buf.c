/* Growable byte buffer. */
#include "sockpit/proto/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/xmalloc.h"
#include "proto_int.h"

void sp_buf_init(struct sp_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void sp_buf_cleanup(struct sp_buf *b)
{
    free(b->data);
    sp_buf_init(b);
}

void sp_buf_reset(struct sp_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void sp_buf_reserve(struct sp_buf *b, size_t n)
{
    if (b->cap - b->len > n) /* room for n bytes and the terminator */
        return;
    size_t want = b->len + n + 1;
    if (want < b->len) /* overflow: only a broken caller gets here */
        abort();
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap = cap * 2 > cap ? cap * 2 : want;
    b->data = sp_xreallocarray(b->data, cap, 1);
    b->cap = cap;
}

void sp_buf_append(struct sp_buf *b, const void *p, size_t n)
{
    sp_buf_reserve(b, n);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sp_buf_appendc(struct sp_buf *b, unsigned char c)
{
    sp_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void sp_buf_appends(struct sp_buf *b, const char *s)
{
    sp_buf_append(b, s, strlen(s));
}

void sp_buf_appendf(struct sp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sp_buf_append(b, small, (size_t)n);
        return;
    }
    sp_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *sp_buf_str(const struct sp_buf *b)
{
    return b->data != NULL ? (const char *)b->data : "";
}

/* In the proto layer, not next to core's sp__seterr(): proto links nothing. */
int sp__fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}
