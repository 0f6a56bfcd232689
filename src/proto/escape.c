/* Escape syntax, hex input and command-line words (DESIGN §4). */
#include "sockpit/proto/escape.h"

#include <stdio.h>
#include <string.h>

#include "proto_int.h"
#include "sockpit/proto/buf.h"

/* Value of a hex digit, or -1. */
static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Writes the character c for an error message: as itself when printable,
 * else as 0xHH, so user or peer text never reaches a terminal raw through an
 * error string. */
static void describe_char(unsigned char c, char *buf, size_t len)
{
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, len, "\"%c\"", c);
    else
        snprintf(buf, len, "byte 0x%02x", c);
}

/* Reports an error at index pos (shown 1-based as a column): "WHAT at
 * column N" followed by an optional hint. */
static int fail_at(size_t *errpos, size_t pos, char *err, size_t errlen, const char *what,
                   const char *hint)
{
    if (errpos != NULL)
        *errpos = pos;
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s at column %zu%s", what, pos + 1, hint);
    return -1;
}

/* The error for a character that is not a hex digit. */
static int fail_not_hex(size_t *errpos, size_t pos, unsigned char c, char *err, size_t errlen)
{
    char d[16], what[48];
    describe_char(c, d, sizeof d);
    snprintf(what, sizeof what, "not a hex digit: %s", d);
    return fail_at(errpos, pos, err, errlen, what, "");
}

int sp_unescape(const char *s, size_t n, struct sp_buf *out, size_t *errpos, char *err,
                size_t errlen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* Copy the run up to the next backslash in one append. */
        const unsigned char *bs = memchr(p + i, '\\', n - i);
        size_t run = bs != NULL ? (size_t)(bs - (p + i)) : n - i;
        if (run > 0) {
            sp_buf_append(out, p + i, run);
            i += run;
            continue;
        }
        if (i + 1 >= n)
            return fail_at(errpos, i, err, errlen, "lone backslash at end",
                           " (write \\\\ for a backslash)");
        unsigned char c = p[i + 1], v;
        switch (c) {
        case 'n':
            v = '\n';
            break;
        case 'r':
            v = '\r';
            break;
        case 't':
            v = '\t';
            break;
        case '0':
            v = '\0';
            break;
        case 'e':
            v = 0x1b;
            break;
        case '\\':
        case '"':
            v = c;
            break;
        case 'x': {
            int hi = i + 2 < n ? hexval(p[i + 2]) : -1;
            int lo = i + 3 < n ? hexval(p[i + 3]) : -1;
            if (hi < 0 || lo < 0)
                return fail_at(errpos, i, err, errlen, "bad escape \"\\x\"",
                               " (two hex digits must follow)");
            sp_buf_appendc(out, (unsigned char)(hi << 4 | lo));
            i += 4;
            continue;
        }
        default: {
            char what[64], d[16];
            if (c > 0x20 && c < 0x7f) {
                snprintf(what, sizeof what, "bad escape \"\\%c\"", c);
            } else {
                describe_char(c, d, sizeof d);
                snprintf(what, sizeof what, "bad escape: \"\\\" then %s", d);
            }
            return fail_at(errpos, i, err, errlen, what,
                           " (valid: \\n \\r \\t \\0 \\\\ \\e \\\" \\xHH)");
        }
        }
        sp_buf_appendc(out, v);
        i += 2;
    }
    return 0;
}

static int is_hex_sep(unsigned char c)
{
    return c == ' ' || c == '\t' || c == ':' || c == '-';
}

int sp_hex_parse(const char *s, size_t n, struct sp_buf *out, size_t *errpos, char *err,
                 size_t errlen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (is_hex_sep(p[i])) {
            i++;
            continue;
        }
        /* A pair never straddles a separator: "de ad" is two bytes, "d ead"
         * is an error rather than a silent regrouping. */
        int hi = hexval(p[i]);
        if (hi < 0)
            return fail_not_hex(errpos, i, p[i], err, errlen);
        if (i + 1 >= n || is_hex_sep(p[i + 1]))
            return fail_at(errpos, i, err, errlen, "odd number of hex digits (unpaired digit)", "");
        int lo = hexval(p[i + 1]);
        if (lo < 0)
            return fail_not_hex(errpos, i + 1, p[i + 1], err, errlen);
        sp_buf_appendc(out, (unsigned char)(hi << 4 | lo));
        i += 2;
    }
    return 0;
}

static size_t hex_escape(unsigned char c, char *e)
{
    static const char hex[] = "0123456789abcdef";
    e[0] = '\\';
    e[1] = 'x';
    e[2] = hex[c >> 4];
    e[3] = hex[c & 15];
    return 4;
}

size_t sp__escape_byte(unsigned char c, char *e)
{
    e[0] = '\\';
    switch (c) {
    case '\\':
        e[1] = '\\';
        return 2;
    case '\n':
        e[1] = 'n';
        return 2;
    case '\r':
        e[1] = 'r';
        return 2;
    case '\t':
        e[1] = 't';
        return 2;
    case '\0':
        e[1] = '0';
        return 2;
    case 0x1b:
        e[1] = 'e';
        return 2;
    default:
        return hex_escape(c, e);
    }
}

void sp__escape_set(const void *p, size_t n, struct sp_buf *out, const char *hex_also)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && b[j] >= 0x20 && b[j] < 0x7f && b[j] != '\\' && b[j] != '"' &&
               (hex_also == NULL || strchr(hex_also, b[j]) == NULL))
            j++;
        if (j > i) {
            sp_buf_append(out, b + i, j - i);
            i = j;
            continue;
        }
        char e[4];
        size_t el;
        if (b[i] != 0 && hex_also != NULL && strchr(hex_also, b[i]) != NULL) {
            el = hex_escape(b[i], e);
        } else if (b[i] == '"') {
            e[0] = '\\';
            e[1] = '"';
            el = 2;
        } else {
            el = sp__escape_byte(b[i], e);
        }
        sp_buf_append(out, e, el);
        i++;
    }
}

void sp_escape(const void *p, size_t n, struct sp_buf *out)
{
    sp__escape_set(p, n, out, NULL);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int sp_split_words(const char *line, struct sp_buf *out, struct sp_word *words, int max,
                   void (*col)(void *ctx, size_t c), void *ctx, size_t *errpos)
{
    int count = 0;
    size_t i = 0;
    for (;;) {
        while (is_space(line[i]))
            i++;
        if (line[i] == '\0' || line[i] == '#')
            break;
        if (count >= max) {
            *errpos = i;
            return SP_SPLIT_TOO_MANY;
        }
        struct sp_word w = {.start = out->len, .col = i};
        size_t quote = 0;
        int in_quote = 0;
        for (; line[i] != '\0'; i++) {
            char c = line[i];
            if (!in_quote && is_space(c))
                break;
            if (c == '"') {
                in_quote = !in_quote;
                w.quoted = 1;
                quote = i;
                continue;
            }
            if (c == '\\' && line[i + 1] != '\0') {
                /* Both characters stay, so that sp_unescape() sees the escape
                 * and an escaped quote never opens or closes a group. */
                sp_buf_append(out, line + i, 2);
                if (col != NULL) {
                    col(ctx, i);
                    col(ctx, i + 1);
                }
                i++;
                continue;
            }
            sp_buf_appendc(out, (unsigned char)c);
            if (col != NULL)
                col(ctx, i);
        }
        if (in_quote) {
            *errpos = quote;
            return SP_SPLIT_QUOTE;
        }
        w.len = out->len - w.start;
        sp_buf_appendc(out, '\0');
        if (col != NULL)
            col(ctx, i);
        if (words != NULL)
            words[count] = w;
        count++;
    }
    return count;
}
