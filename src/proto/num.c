/* Decimal numbers with optional binary-unit suffixes (num.h). */
#include "sockpit/proto/num.h"

static uint64_t suffix_mul(char c)
{
    if (c == 'k' || c == 'K')
        return 1024u;
    if (c == 'm' || c == 'M')
        return 1024u * 1024u;
    return 0;
}

int sp_parse_u64(const char *s, size_t n, int suffixes, uint64_t *out, size_t *pos)
{
    *pos = 0;
    if (n == 0)
        return SP_NUM_EMPTY;
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            *pos = i;
            return SP_NUM_TOO_LARGE;
        }
        v = v * 10 + d;
    }
    if (i == 0) {
        *pos = 0;
        return SP_NUM_NOT_DIGIT;
    }
    if (i < n) {
        uint64_t mul = suffixes && i + 1 == n ? suffix_mul(s[i]) : 0;
        *pos = i;
        if (mul == 0)
            return SP_NUM_NOT_DIGIT;
        if (v > UINT64_MAX / mul)
            return SP_NUM_TOO_LARGE;
        v *= mul;
    }
    *out = v;
    return 0;
}
