/* The matcher of `expect` and `on` (match.h). A regex runs in the C locale
 * so that it matches bytes, whatever the terminal's locale: payloads are
 * bytes from a peer, not text in the user's encoding. */
#include "sockpit/proto/match.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/xmalloc.h"

static void clear(struct sp_match *m)
{
    memset(m, 0, sizeof *m);
}

int sp_match_bytes(struct sp_match *m, enum sp_match_where where, const void *p, size_t n)
{
    clear(m);
    m->kind = SP_MATCH_BYTES;
    m->where = where;
    m->pat = sp_xmalloc(n ? n : 1);
    if (n > 0)
        memcpy(m->pat, p, n);
    m->len = n;
    return 0;
}

static int nibble(char ch, unsigned *val, unsigned *care)
{
    if (ch == '?') {
        *val = *care = 0;
        return 0;
    }
    *care = 0xf;
    if (ch >= '0' && ch <= '9')
        *val = (unsigned)(ch - '0');
    else if (ch >= 'a' && ch <= 'f')
        *val = (unsigned)(ch - 'a' + 10);
    else if (ch >= 'A' && ch <= 'F')
        *val = (unsigned)(ch - 'A' + 10);
    else
        return -1;
    return 0;
}

static int is_sep(char ch)
{
    return ch == ' ' || ch == '\t' || ch == ':' || ch == '-';
}

int sp_match_mask(struct sp_match *m, enum sp_match_where where, const char *s, size_t n,
                  size_t *errpos, char *err, size_t errlen)
{
    clear(m);
    struct sp_buf val, care;
    sp_buf_init(&val);
    sp_buf_init(&care);
    size_t i = 0;
    while (i < n) {
        if (is_sep(s[i])) {
            i++;
            continue;
        }
        unsigned v1, c1, v2, c2;
        if (nibble(s[i], &v1, &c1) != 0) {
            *errpos = i;
            snprintf(err, errlen, "not a hex digit or ? in a hex mask: '%c'",
                     (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?');
            goto fail;
        }
        if (i + 1 >= n || is_sep(s[i + 1])) {
            *errpos = i;
            snprintf(err, errlen, "a hex mask byte takes two characters (hex digits or ?)");
            goto fail;
        }
        if (nibble(s[i + 1], &v2, &c2) != 0) {
            *errpos = i + 1;
            snprintf(err, errlen, "not a hex digit or ? in a hex mask: '%c'",
                     (s[i + 1] >= 0x20 && s[i + 1] < 0x7f) ? s[i + 1] : '?');
            goto fail;
        }
        sp_buf_appendc(&val, (unsigned char)(v1 << 4 | v2));
        sp_buf_appendc(&care, (unsigned char)(c1 << 4 | c2));
        i += 2;
    }
    if (val.len == 0) {
        *errpos = 0;
        snprintf(err, errlen, "empty hex mask (bytes like \"01 ?? 03\")");
        goto fail;
    }
    m->kind = SP_MATCH_MASK;
    m->where = where;
    m->len = val.len;
    m->pat = sp_xmalloc(val.len);
    m->care = sp_xmalloc(val.len);
    memcpy(m->pat, val.data, val.len);
    memcpy(m->care, care.data, val.len);
    sp_buf_cleanup(&val);
    sp_buf_cleanup(&care);
    return 0;
fail:
    sp_buf_cleanup(&val);
    sp_buf_cleanup(&care);
    return -1;
}

/* The C locale, made once: regcomp and regexec run under it. */
static locale_t c_locale(void)
{
    static locale_t loc;
    if (loc == (locale_t)0)
        loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    return loc;
}

static int hexval(char ch)
{
    unsigned v, care;
    return ch != '?' && nibble(ch, &v, &care) == 0 ? (int)v : -1;
}

/* sockpit's own escapes for bytes a regex cannot spell (\n \r \t \e \xHH)
 * become those bytes; every other backslash pair is the regex's, kept. */
static int regex_bytes(const char *s, size_t n, struct sp_buf *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            sp_buf_appendc(out, (unsigned char)s[i]);
            continue;
        }
        char e = s[++i];
        if (e == 'n' || e == 'r' || e == 't' || e == 'e') {
            sp_buf_appendc(out, e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0x1b);
        } else if (e == 'x') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                snprintf(err, errlen, "\\x takes two hex digits in a regex");
                return -1;
            }
            sp_buf_appendc(out, (unsigned char)(hi << 4 | lo));
            i += 2;
        } else {
            sp_buf_appendc(out, '\\');
            sp_buf_appendc(out, (unsigned char)e);
        }
    }
    return 0;
}

/* glibc's regcomp copies a repeated part once per repetition (a+ is aa*,
 * a{3} is aaa), so nested repetitions multiply, and every part that may
 * match nothing (x*, x?, the copies of x{0,n}) makes the closures regcomp
 * and regexec compute grow with the square of their number: (a?){2000}
 * takes seconds and hundreds of MB, a++??+++… minutes. These bounds keep
 * every accepted regex cheap; they are checked before regcomp sees it. */
#define REGEX_PARTS_MAX    20000u
#define REGEX_OPTIONAL_MAX 256u
#define GROUPS_MAX         64

static size_t sat_mul(size_t a, size_t b)
{
    return b != 0 && a > 4 * REGEX_PARTS_MAX / b ? 4 * REGEX_PARTS_MAX : a * b;
}

/* {m}, {m,} or {m,n} at s[i]: its bounds (*hi SIZE_MAX when open) and where
 * it ends; 0 when it is not one (then { is a literal, or regcomp's error). */
static int brace_bounds(const char *s, size_t n, size_t *i, size_t *lo, size_t *hi)
{
    size_t j = *i + 1, v = 0;
    int digits = 0, comma = 0;
    *lo = 0;
    for (; j < n && s[j] != '}'; j++) {
        if (s[j] >= '0' && s[j] <= '9') {
            v = v * 10 + (size_t)(s[j] - '0');
            if (v > 100000)
                v = 100000;
            digits = 1;
        } else if (s[j] == ',' && !comma) {
            *lo = v;
            v = 0;
            comma = 1;
        } else {
            return 0;
        }
    }
    if (j >= n || !digits)
        return 0;
    if (!comma)
        *lo = v;
    *hi = !comma ? v : v == 0 && s[j - 1] == ',' ? SIZE_MAX : v;
    *i = j;
    return 1;
}

/* The cost of one atom or group: parts after regcomp's copies, how many of
 * them may match nothing, and whether the whole may match nothing (then
 * each copy of it is such a part too: ((a{0}){99}){99} is as costly as
 * (a?){9801}). */
struct cost {
    size_t parts, optional;
    int nullable;
};

/* Applies a repeat of lo..hi (hi SIZE_MAX: open) to c, as regcomp expands
 * it: x{lo,} is lo copies and a starred one, x{lo,hi} lo copies and hi - lo
 * optional ones. */
static void repeat(struct cost *c, size_t lo, size_t hi)
{
    size_t copies = hi == SIZE_MAX ? lo + 1 : (hi > 0 ? hi : 1);
    size_t opt_copies = hi == SIZE_MAX ? 1 : hi - (lo < hi ? lo : hi);
    c->optional = sat_mul(c->optional, copies) + (c->nullable ? copies : opt_copies);
    c->parts = sat_mul(c->parts, copies);
    c->nullable = c->nullable || lo == 0;
}

/* One level of groups: the sum so far, and whether the branch being read
 * (seq) or an earlier one (any) may match nothing. */
struct level {
    struct cost sum;
    int seq, any;
};

/* 0, or -1 with err: too costly to compile, a repeat of a repeat, or a
 * back-reference. */
static int regex_check(const char *s, size_t n, char *err, size_t errlen)
{
    struct level lv[GROUPS_MAX + 1];
    int depth = 0, quantified = 0;
    lv[0] = (struct level){{0, 0, 1}, 1, 0};
    struct cost last = {0, 0, 1}; /* the atom a repeat would repeat */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        size_t lo = 0, hi = 0;
        int quant =
            c == '*' || c == '+' || c == '?' || (c == '{' && brace_bounds(s, n, &i, &lo, &hi));
        if (quant) {
            if (quantified) {
                snprintf(err, errlen,
                         "a repeat of a repeat (a+?, a**, a{2}{3}) is undefined in "
                         "POSIX regexes: group it, (a+)?");
                return -1;
            }
            if (c == '*')
                lo = 0, hi = SIZE_MAX;
            else if (c == '+')
                lo = 1, hi = SIZE_MAX;
            else if (c == '?')
                lo = 0, hi = 1;
            struct cost before = last;
            repeat(&last, lo, hi);
            lv[depth].sum.parts += last.parts - before.parts;
            lv[depth].sum.optional += last.optional - before.optional;
            quantified = 1;
        } else {
            quantified = 0;
            /* The element before is complete: it joins its branch. */
            lv[depth].seq = lv[depth].seq && last.nullable;
            last = (struct cost){1, 0, 0};
            if (c == '\\' && i + 1 < n) {
                if (s[i + 1] >= '1' && s[i + 1] <= '9') {
                    snprintf(err, errlen,
                             "back-references (\\%c) are refused: their matching "
                             "time can grow exponentially",
                             s[i + 1]);
                    return -1;
                }
                i++;
            } else if (c == '[') {
                /* A bracket expression is one atom: ] first is a member. */
                size_t j = i + 1;
                if (j < n && s[j] == '^')
                    j++;
                if (j < n && s[j] == ']')
                    j++;
                for (; j < n && s[j] != ']'; j++)
                    if (s[j] == '[' && j + 1 < n &&
                        (s[j + 1] == ':' || s[j + 1] == '.' || s[j + 1] == '=')) {
                        const char *e = memchr(s + j + 2, s[j + 1], n - j - 2);
                        j = e != NULL ? (size_t)(e - s) + 1 : n;
                    }
                i = j;
            } else if (c == '(') {
                if (depth == GROUPS_MAX) {
                    snprintf(err, errlen, "regex groups nested deeper than %d", GROUPS_MAX);
                    return -1;
                }
                lv[++depth] = (struct level){{0, 0, 1}, 1, 0};
                last = (struct cost){0, 0, 1};
                continue;
            } else if (c == ')' && depth > 0) {
                last = lv[depth].sum;
                last.nullable = lv[depth].seq || lv[depth].any;
                if (last.parts == 0)
                    last.parts = 1;
                depth--;
            } else if (c == '|') {
                lv[depth].any = lv[depth].any || lv[depth].seq;
                lv[depth].seq = 1;
                last = (struct cost){0, 0, 1};
            } else if (c == '^' || c == '$') {
                last = (struct cost){0, 0, 1};
            }
            lv[depth].sum.parts += last.parts;
            lv[depth].sum.optional += last.optional;
        }
        if (lv[depth].sum.parts > REGEX_PARTS_MAX || last.parts > REGEX_PARTS_MAX ||
            lv[depth].sum.optional > REGEX_OPTIONAL_MAX || last.optional > REGEX_OPTIONAL_MAX) {
            snprintf(err, errlen,
                     "regex too costly: its repeats would expand to more than %u parts, or "
                     "more than %u that may match nothing (nested repeats multiply)",
                     REGEX_PARTS_MAX, REGEX_OPTIONAL_MAX);
            return -1;
        }
    }
    return 0;
}

int sp_match_regex(struct sp_match *m, const char *s, size_t n, char *err, size_t errlen)
{
    clear(m);
    struct sp_buf b;
    sp_buf_init(&b);
    if (regex_bytes(s, n, &b, err, errlen) != 0) {
        sp_buf_cleanup(&b);
        return -1;
    }
    if (b.len == 0 || memchr(b.data, '\0', b.len) != NULL) {
        snprintf(err, errlen, b.len == 0 ? "empty regex" : "a regex cannot hold a NUL byte");
        sp_buf_cleanup(&b);
        return -1;
    }
    if (regex_check((const char *)b.data, b.len, err, errlen) != 0) {
        sp_buf_cleanup(&b);
        return -1;
    }
    /* The regex as written, for messages. */
    m->src = sp_xmalloc(n + 1);
    memcpy(m->src, s, n);
    m->src[n] = '\0';
    locale_t old = uselocale(c_locale());
    int r = regcomp(&m->re, sp_buf_str(&b), REG_EXTENDED);
    uselocale(old);
    sp_buf_cleanup(&b);
    if (r != 0) {
        char why[160];
        regerror(r, &m->re, why, sizeof why);
        snprintf(err, errlen, "bad regex: %s", why);
        free(m->src);
        clear(m);
        return -1;
    }
    m->kind = SP_MATCH_REGEX;
    m->groups = m->re.re_nsub;
    return 0;
}

void sp_match_free(struct sp_match *m)
{
    if (m == NULL)
        return;
    if (m->kind == SP_MATCH_REGEX && m->src != NULL)
        regfree(&m->re);
    free(m->pat);
    free(m->care);
    free(m->src);
    clear(m);
}

/* Does the pattern match p at offset at (len bytes there)? */
static int equal_at(const struct sp_match *m, const unsigned char *p)
{
    if (m->kind == SP_MATCH_BYTES)
        return m->len == 0 || memcmp(p, m->pat, m->len) == 0;
    for (size_t i = 0; i < m->len; i++)
        if ((p[i] & m->care[i]) != (m->pat[i] & m->care[i]))
            return 0;
    return 1;
}

static int exec_regex(const struct sp_match *m, const unsigned char *p, size_t n,
                      struct sp_match_cap *caps)
{
    regmatch_t rm[SP_MATCH_GROUPS];
    rm[0].rm_so = 0;
    rm[0].rm_eo = (regoff_t)n;
    /* REG_STARTEND: the subject is all n bytes, not up to its first NUL.
     * It is still handed over with a NUL after it: a C string is what
     * regexec's contract (and ASan's interceptor of it) reads. */
    char small[512];
    char *subj = n < sizeof small ? small : sp_xmalloc(n + 1);
    if (n > 0)
        memcpy(subj, p, n);
    subj[n] = '\0';
    locale_t old = uselocale(c_locale());
    int r = regexec(&m->re, subj, SP_MATCH_GROUPS, rm, REG_STARTEND);
    uselocale(old);
    if (subj != small)
        free(subj);
    if (r != 0)
        return 0;
    if (caps != NULL)
        for (size_t g = 0; g < SP_MATCH_GROUPS; g++) {
            int used = g <= m->groups && rm[g].rm_so >= 0;
            caps[g].so = used ? (long)rm[g].rm_so : -1;
            caps[g].eo = used ? (long)rm[g].rm_eo : -1;
        }
    return 1;
}

int sp_match_exec(const struct sp_match *m, const unsigned char *p, size_t n,
                  struct sp_match_cap *caps)
{
    if (m->kind == SP_MATCH_REGEX)
        return exec_regex(m, p, n, caps);
    long at = -1;
    if (m->where == SP_MATCH_EXACT) {
        if (n == m->len && equal_at(m, p))
            at = 0;
    } else if (m->where == SP_MATCH_PREFIX) {
        if (n >= m->len && equal_at(m, p))
            at = 0;
    } else {
        for (size_t i = 0; n >= m->len && i <= n - m->len && at < 0; i++)
            if (equal_at(m, p + i))
                at = (long)i;
    }
    if (at < 0)
        return 0;
    if (caps != NULL) {
        for (size_t g = 0; g < SP_MATCH_GROUPS; g++)
            caps[g].so = caps[g].eo = -1;
        caps[0].so = at;
        caps[0].eo = at + (long)m->len;
    }
    return 1;
}

const char *sp_match_mode(const struct sp_match *m)
{
    static const char *const bytes[] = {"exact", "prefix", "contains"};
    static const char *const mask[] = {"hex-mask", "hex-mask prefix", "hex-mask contains"};
    if (m->kind == SP_MATCH_REGEX)
        return "regex";
    if (m->where > SP_MATCH_CONTAINS)
        return "?";
    return m->kind == SP_MATCH_MASK ? mask[m->where] : bytes[m->where];
}

void sp_match_describe(struct sp_buf *out, const struct sp_match *m)
{
    static const char hex[] = "0123456789abcdef";
    switch (m->kind) {
    case SP_MATCH_BYTES:
        sp_buf_append(out, m->pat, m->len);
        break;
    case SP_MATCH_REGEX:
        sp_buf_appendc(out, '/');
        sp_buf_appends(out, m->src);
        sp_buf_appendc(out, '/');
        break;
    case SP_MATCH_MASK:
        for (size_t i = 0; i < m->len; i++) {
            if (i > 0)
                sp_buf_appendc(out, ' ');
            sp_buf_appendc(out, (m->care[i] & 0xf0) ? hex[m->pat[i] >> 4] : '?');
            sp_buf_appendc(out, (m->care[i] & 0x0f) ? hex[m->pat[i] & 0xf] : '?');
        }
        break;
    }
}
