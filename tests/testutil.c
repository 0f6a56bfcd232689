/* Helpers shared by the cmocka tests. */
#include "testutil.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/escape.h"

#include <cmocka.h>

uint64_t tu_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

unsigned char *tu_guard_copy(const void *p, size_t n)
{
    size_t ps = page_size();
    size_t data_pages = (n + ps - 1) / ps;
    if (data_pages == 0)
        data_pages = 1;
    size_t total = (data_pages + 1) * ps;
    unsigned char *base =
        mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        abort();
    if (mprotect(base + data_pages * ps, ps, PROT_NONE) != 0)
        abort();
    unsigned char *dst = base + data_pages * ps - n;
    if (n > 0)
        memcpy(dst, p, n);
    return dst;
}

void tu_guard_free(unsigned char *p, size_t n)
{
    size_t ps = page_size();
    size_t data_pages = (n + ps - 1) / ps;
    if (data_pages == 0)
        data_pages = 1;
    unsigned char *base = p + n - data_pages * ps;
    munmap(base, (data_pages + 1) * ps);
}

int tu_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream itself */
}

int tu_tokenize(const char *line, struct sp_buf *out, const char **words, int max, size_t *errpos)
{
    size_t base = out->len, pos = 0;
    int count = sp_split_words(line, out, NULL, max, NULL, NULL, &pos);
    if (count < 0) {
        if (errpos != NULL)
            *errpos = pos;
        return -1;
    }
    /* Pointers are set only now because appending may move out->data. */
    const char *w = (const char *)out->data + base;
    for (int k = 0; k < count; k++) {
        words[k] = w;
        w += strlen(w) + 1;
    }
    return count;
}

size_t tu_unhex(const char *h, unsigned char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; h[i] != '\0' && h[i + 1] != '\0';) {
        if (h[i] == ' ') {
            i++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(h + i, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (unsigned char)v;
        i += 2;
    }
    return n;
}
