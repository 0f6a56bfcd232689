/* Framing specs: parsing "KIND[:ARG][,OPT=VAL]..." and the canonical text.
 *
 * The delimiter argument uses the escape syntax of the command language
 * (escape.h); the formatter emits the same syntax and also escapes ',' (it
 * ends the argument), quotes and spaces, so the canonical text is one word
 * that parses back to the same spec. */
#include "sockpit/proto/frame.h"

#include "sockpit/proto/buf.h"
#include "sockpit/proto/escape.h"
#include "sockpit/proto/num.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto_int.h"

void sp_frame_spec_raw(struct sp_frame_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->kind = SP_FRAME_RAW;
}

static const struct {
    const char *name;
    enum sp_frame_kind kind;
} kinds[] = {
    {"raw", SP_FRAME_RAW},
    {"eof", SP_FRAME_EOF},
    {"fixed", SP_FRAME_FIXED},
    {"line", SP_FRAME_LINE},
    {"delim", SP_FRAME_DELIM},
    {"len", SP_FRAME_LEN},
    {"netstring", SP_FRAME_NETSTRING},
    {"decimal", SP_FRAME_DECIMAL},
    {"blocks", SP_FRAME_BLOCKS},
};

static const char *kind_name(enum sp_frame_kind k)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == k)
            return kinds[i].name;
    return "?";
}

/* Unescapes s[0..n) into out (at most SP_FRAME_DELIM_MAX bytes), with the
 * command language's escape syntax. */
static int unescape_delim(const char *s, size_t n, unsigned char *out, size_t *outlen, char *err,
                          size_t errlen)
{
    struct sp_buf b;
    sp_buf_init(&b);
    size_t pos;
    char why[160];
    int r = 0;
    if (sp_unescape(s, n, &b, &pos, why, sizeof why) != 0) {
        /* The command layer adds the column in the whole line. */
        char *at = strstr(why, " at column ");
        if (at != NULL)
            *at = '\0';
        r = sp__fail(err, errlen, "delimiter: %s", why);
    } else if (b.len == 0)
        r = sp__fail(err, errlen, "empty delimiter (write a comma as \\x2c)");
    else if (b.len > SP_FRAME_DELIM_MAX)
        r = sp__fail(err, errlen, "delimiter longer than %d bytes", SP_FRAME_DELIM_MAX);
    else {
        memcpy(out, b.data, b.len);
        *outlen = b.len;
    }
    sp_buf_cleanup(&b);
    return r;
}

/* Parses a decimal number with an optional K or M suffix (binary units) in
 * s[0..n). what names the value in errors. */
static int parse_size(const char *s, size_t n, int suffix_ok, const char *what, uint64_t *out,
                      char *err, size_t errlen)
{
    size_t pos;
    switch (sp_parse_u64(s, n, suffix_ok, out, &pos)) {
    case 0:
        return 0;
    case SP_NUM_EMPTY:
        return sp__fail(err, errlen, "missing number for %s", what);
    case SP_NUM_TOO_LARGE:
        return sp__fail(err, errlen, "number too large for %s", what);
    default:
        if (pos > 0 && suffix_ok)
            return sp__fail(err, errlen, "bad size suffix in '%.*s' for %s (use K or M)", (int)n, s,
                            what);
        return sp__fail(err, errlen, "bad number '%.*s' for %s", (int)n, s, what);
    }
}

/* Parses a len/blocks width: u8, u16, u24, u32, u64 (+ be/le) or varint. */
static int parse_width(struct sp_frame_spec *spec, const char *s, size_t n, char *err,
                       size_t errlen)
{
    static const struct {
        const char *name;
        unsigned width;
    } widths[] = {{"u8", 1}, {"u16", 2}, {"u24", 3}, {"u32", 4}, {"u64", 8}};
    if (n == 6 && memcmp(s, "varint", 6) == 0) {
        spec->width = 0;
        return 0;
    }
    if (n > 6 && memcmp(s, "varint", 6) == 0)
        return sp__fail(err, errlen, "bad width '%.*s': be/le do not apply to varint", (int)n, s);
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        size_t wl = strlen(widths[i].name);
        if (n < wl || memcmp(s, widths[i].name, wl) != 0)
            continue;
        const char *suf = s + wl;
        size_t sl = n - wl;
        if (sl == 0 || (sl == 2 && memcmp(suf, "be", 2) == 0)) {
            spec->little_endian = 0;
        } else if (sl == 2 && memcmp(suf, "le", 2) == 0) {
            spec->little_endian = 1;
        } else {
            continue;
        }
        spec->width = widths[i].width;
        /* Byte order means nothing for one byte; keep one canonical form. */
        if (spec->width == 1)
            spec->little_endian = 0;
        return 0;
    }
    return sp__fail(err, errlen,
                    "bad width '%.*s' (use u8, u16, u24, u32, u64 with optional be/le, or varint)",
                    (int)n, s);
}

static int parse_int(const char *s, size_t n, const char *what, int64_t lo, int64_t hi,
                     int64_t *out, char *err, size_t errlen)
{
    int neg = 0;
    size_t i = 0;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    uint64_t v;
    if (parse_size(s + i, n - i, 0, what, &v, err, errlen) < 0)
        return -1;
    if (v > (uint64_t)INT64_MAX)
        return sp__fail(err, errlen, "%s out of range", what);
    int64_t sv = neg ? -(int64_t)v : (int64_t)v;
    if (sv < lo || sv > hi)
        return sp__fail(err, errlen, "%s=%" PRId64 " out of range (%" PRId64 "..%" PRId64 ")", what,
                        sv, lo, hi);
    *out = sv;
    return 0;
}

/* Applies one "name=value" option. seen is a bit set against repeats. */
static int parse_option(struct sp_frame_spec *spec, const char *s, size_t n, unsigned *seen,
                        char *err, size_t errlen)
{
    static const char *const names[] = {"max", "offset", "adjust", "strip"};
    const char *eq = memchr(s, '=', n);
    if (n == 0)
        return sp__fail(err, errlen, "empty option (stray ',')");
    size_t nl = eq != NULL ? (size_t)(eq - s) : n;
    int which = -1;
    for (int k = 0; k < 4; k++)
        if (strlen(names[k]) == nl && memcmp(s, names[k], nl) == 0)
            which = k;
    if (which < 0)
        return sp__fail(err, errlen, "unknown option '%.*s' (options: max, offset, adjust, strip)",
                        (int)nl, s);
    int lenlike = spec->kind == SP_FRAME_LEN || spec->kind == SP_FRAME_BLOCKS;
    if (spec->kind == SP_FRAME_RAW || spec->kind == SP_FRAME_EOF || (which > 0 && !lenlike))
        return sp__fail(err, errlen, "option %s is not valid for %s", names[which],
                        kind_name(spec->kind));
    if (eq == NULL)
        return sp__fail(err, errlen, "option %s needs a value (%s=N)", names[which], names[which]);
    if (*seen & 1u << which)
        return sp__fail(err, errlen, "option %s given twice", names[which]);
    *seen |= 1u << which;
    const char *v = eq + 1;
    size_t vn = n - nl - 1;
    uint64_t u;
    int64_t sv;
    switch (which) {
    case 0:
        if (parse_size(v, vn, 1, "max", &u, err, errlen) < 0)
            return -1;
        if (u == 0)
            return sp__fail(err, errlen, "max must be at least 1");
        if (u > SP_FRAME_MAX_CEILING)
            return sp__fail(err, errlen, "max over the ceiling of 256M");
        spec->max = u;
        return 0;
    case 1:
        if (parse_int(v, vn, "offset", 0, SP_FRAME_OFFSET_MAX, &sv, err, errlen) < 0)
            return -1;
        spec->offset = (unsigned)sv;
        return 0;
    case 2:
        if (parse_int(v, vn, "adjust", -SP_FRAME_ADJUST_MAX, SP_FRAME_ADJUST_MAX, &sv, err,
                      errlen) < 0)
            return -1;
        spec->adjust = sv;
        return 0;
    default:
        if (parse_int(v, vn, "strip", 0, SP_FRAME_MAX_CEILING, &sv, err, errlen) < 0)
            return -1;
        spec->strip = (unsigned)sv;
        return 0;
    }
}

int sp_frame_spec_parse(struct sp_frame_spec *spec, const char *text, char *err, size_t errlen)
{
    struct sp_frame_spec s;
    sp_frame_spec_raw(&s);
    size_t tl = strlen(text);
    if (tl == 0)
        return sp__fail(err, errlen, "empty framing spec");
    if (tl >= SP_FRAME_SPEC_TEXT_MAX)
        return sp__fail(err, errlen, "framing spec too long");
    /* The kind runs to ':' or ','; the argument to the first ',' (a comma
     * inside a delimiter is written \x2c). */
    size_t kl = strcspn(text, ":,");
    int found = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].name) == kl && memcmp(text, kinds[i].name, kl) == 0) {
            s.kind = kinds[i].kind;
            found = 1;
        }
    if (!found)
        return sp__fail(err, errlen,
                        "unknown framing kind '%.*s' (raw, eof, fixed:N, line, delim:SEQ, len:W, "
                        "netstring, decimal:SEQ, blocks:W)",
                        (int)kl, text);
    const char *p = text + kl;
    const char *arg = NULL;
    size_t argl = 0;
    if (*p == ':') {
        arg = p + 1;
        argl = strcspn(arg, ",");
        p = arg + argl;
    }
    int needs_arg = s.kind == SP_FRAME_FIXED || s.kind == SP_FRAME_DELIM ||
                    s.kind == SP_FRAME_DECIMAL || s.kind == SP_FRAME_LEN ||
                    s.kind == SP_FRAME_BLOCKS;
    const char *name = kind_name(s.kind);
    if (needs_arg && (arg == NULL || argl == 0)) {
        if (s.kind == SP_FRAME_FIXED)
            return sp__fail(err, errlen, "missing size: write fixed:N");
        if (s.kind == SP_FRAME_LEN || s.kind == SP_FRAME_BLOCKS)
            return sp__fail(err, errlen, "missing width: write %s:u32 (u8 u16 u24 u32 u64 varint)",
                            name);
        return sp__fail(err, errlen, "empty delimiter: write %s:SEQ, e.g. %s:\\r\\n", name, name);
    }
    if (!needs_arg && arg != NULL)
        return sp__fail(err, errlen, "%s takes no argument (trailing ':%.*s')", name, (int)argl,
                        arg);

    if (s.kind == SP_FRAME_LEN || s.kind == SP_FRAME_BLOCKS) {
        s.max = SP_FRAME_LEN_MAX_DEFAULT;
        if (parse_width(&s, arg, argl, err, errlen) < 0)
            return -1;
    } else if (s.kind != SP_FRAME_RAW && s.kind != SP_FRAME_EOF) {
        s.max = SP_FRAME_MAX_DEFAULT;
    }
    if (s.kind == SP_FRAME_DELIM || s.kind == SP_FRAME_DECIMAL) {
        if (unescape_delim(arg, argl, s.delim, &s.delim_len, err, errlen) < 0)
            return -1;
        if (s.kind == SP_FRAME_DECIMAL && s.delim[0] >= '0' && s.delim[0] <= '9')
            return sp__fail(err, errlen, "decimal separator must not start with a digit");
    }
    if (s.kind == SP_FRAME_LINE) {
        s.delim[0] = '\n';
        s.delim_len = 1;
    }
    if (s.kind == SP_FRAME_FIXED) {
        if (parse_size(arg, argl, 1, "fixed:N", &s.fixed, err, errlen) < 0)
            return -1;
        if (s.fixed == 0)
            return sp__fail(err, errlen, "fixed:N needs N of at least 1");
    }

    unsigned seen = 0;
    while (*p == ',') {
        const char *opt = p + 1;
        size_t ol = strcspn(opt, ",");
        if (parse_option(&s, opt, ol, &seen, err, errlen) < 0)
            return -1;
        p = opt + ol;
    }

    if (s.kind == SP_FRAME_FIXED && s.fixed > s.max)
        return sp__fail(err, errlen, "fixed:%" PRIu64 " exceeds max=%" PRIu64 " (raise max)",
                        s.fixed, s.max);
    if ((s.kind == SP_FRAME_LEN || s.kind == SP_FRAME_BLOCKS) && !(seen & 1u << 3))
        s.strip = s.width ? s.offset + s.width : SP_FRAME_STRIP_HEADER;
    *spec = s;
    return 0;
}

/* Writes the size in the shortest exact form: 4M, 64K or plain bytes. */
static void format_size(char *out, size_t n, uint64_t v)
{
    if (v >= 1024 * 1024 && v % (1024 * 1024) == 0)
        snprintf(out, n, "%" PRIu64 "M", v / (1024 * 1024));
    else if (v >= 1024 && v % 1024 == 0)
        snprintf(out, n, "%" PRIu64 "K", v / 1024);
    else
        snprintf(out, n, "%" PRIu64, v);
}

size_t sp_frame_spec_format(const struct sp_frame_spec *spec, char *buf, size_t len)
{
    char t[256], num[32];
    size_t k = 0;
    const struct sp_frame_spec *s = spec;
    k += (size_t)snprintf(t + k, sizeof t - k, "%s", kind_name(s->kind));
    switch (s->kind) {
    case SP_FRAME_FIXED:
        k += (size_t)snprintf(t + k, sizeof t - k, ":%" PRIu64, s->fixed);
        break;
    case SP_FRAME_DELIM:
    case SP_FRAME_DECIMAL: {
        /* One command word: also ',' (it ends the argument), spaces, quotes
         * and '#' (a comment) are written as \xHH. */
        struct sp_buf d;
        sp_buf_init(&d);
        sp__escape_set(s->delim, s->delim_len, &d, " ,\"'#");
        k += (size_t)snprintf(t + k, sizeof t - k, ":%s", sp_buf_str(&d));
        sp_buf_cleanup(&d);
        break;
    }
    case SP_FRAME_LEN:
    case SP_FRAME_BLOCKS:
        if (s->width == 0)
            k += (size_t)snprintf(t + k, sizeof t - k, ":varint");
        else
            k += (size_t)snprintf(t + k, sizeof t - k, ":u%u%s", s->width * 8,
                                  s->little_endian && s->width > 1 ? "le" : "");
        break;
    default:
        break;
    }
    if (s->kind != SP_FRAME_RAW && s->kind != SP_FRAME_EOF) {
        int lenlike = s->kind == SP_FRAME_LEN || s->kind == SP_FRAME_BLOCKS;
        uint64_t defmax = lenlike ? SP_FRAME_LEN_MAX_DEFAULT : SP_FRAME_MAX_DEFAULT;
        if (s->max != defmax) {
            format_size(num, sizeof num, s->max);
            k += (size_t)snprintf(t + k, sizeof t - k, ",max=%s", num);
        }
        if (lenlike) {
            unsigned defstrip = s->width ? s->offset + s->width : SP_FRAME_STRIP_HEADER;
            if (s->offset != 0)
                k += (size_t)snprintf(t + k, sizeof t - k, ",offset=%u", s->offset);
            if (s->adjust != 0)
                k += (size_t)snprintf(t + k, sizeof t - k, ",adjust=%" PRId64, s->adjust);
            if (s->strip != defstrip && s->strip != SP_FRAME_STRIP_HEADER)
                k += (size_t)snprintf(t + k, sizeof t - k, ",strip=%u", s->strip);
        }
    }
    if (len == 0)
        return 0;
    if (k >= len)
        k = len - 1;
    memcpy(buf, t, k);
    buf[k] = '\0';
    return k;
}
