/* Matching one message (or raw chunk) against what a script wants: exact
 * bytes, a prefix, a substring, a hex mask with don't-care positions, or a
 * POSIX extended regular expression with capture groups. Used by `expect`
 * and by `on` rules; pure C, no I/O. */
#ifndef SOCKPIT_MATCH_H
#define SOCKPIT_MATCH_H

#include <regex.h>
#include <stddef.h>

struct sp_buf;

enum sp_match_kind {
    SP_MATCH_BYTES, /* the pattern is bytes */
    SP_MATCH_MASK,  /* the pattern is bytes, each with the bits that must be equal */
    SP_MATCH_REGEX, /* POSIX ERE, searched anywhere in the subject */
};

/* Where bytes and masks must match; a regex has its own anchors. */
enum sp_match_where {
    SP_MATCH_EXACT,    /* the whole subject */
    SP_MATCH_PREFIX,   /* its start */
    SP_MATCH_CONTAINS, /* anywhere */
};

/* Group 0 is the whole match, 1..9 the regex's parenthesised groups. */
#define SP_MATCH_GROUPS 10

/* A group's place in the subject; so == -1 when the group took no part. */
struct sp_match_cap {
    long so, eo;
};

struct sp_match {
    enum sp_match_kind kind;
    enum sp_match_where where;
    unsigned char *pat;  /* bytes, or the mask's byte values */
    unsigned char *care; /* mask: per byte, the bits that must equal pat's */
    size_t len;
    char *src; /* a regex as written (for messages) */
    regex_t re;
    size_t groups; /* a regex's parenthesised groups */
};

/* Fill m (which needs no init) from bytes. Returns 0. */
int sp_match_bytes(struct sp_match *m, enum sp_match_where where, const void *p, size_t n);
/* Parses a hex mask: bytes as two characters each, a hex digit or `?` (a
 * don't-care nibble: `??` any byte, `4?` 0x40..0x4f); spaces, tabs, ':' and
 * '-' may separate bytes. Returns 0, or -1 with the reason in err and the
 * byte offset of the fault in *errpos (m is then left empty). */
int sp_match_mask(struct sp_match *m, enum sp_match_where where, const char *s, size_t n,
                  size_t *errpos, char *err, size_t errlen);
/* Compiles s[0..n) as a POSIX extended regex (byte semantics: the C
 * locale). sockpit's escapes \n \r \t \e \xHH become those bytes first
 * (ERE has no way to write them); every other backslash pair is left to the
 * regex (\. \( \\). An empty regex, a NUL byte (also \x00), a
 * back-reference, a repeat of a repeat (a+?), repeats that would expand
 * past 20000 parts or 256 parts that may match nothing (regcomp copies each
 * repeated part), or what regcomp refuses is an error (regerror's text in
 * err). */
int sp_match_regex(struct sp_match *m, const char *s, size_t n, char *err, size_t errlen);
void sp_match_free(struct sp_match *m);

/* Does p[0..n) match? 1 yes, 0 no. The subject may hold NUL bytes: a regex
 * sees all n bytes (REG_STARTEND), though `.` never matches a NUL. caps
 * (SP_MATCH_GROUPS entries) may be NULL; on a match it gets group 0 (the
 * matched bytes) and, for a regex, the groups. */
int sp_match_exec(const struct sp_match *m, const unsigned char *p, size_t n,
                  struct sp_match_cap *caps);
/* "exact", "prefix", "contains", "regex", "hex-mask", "hex-mask prefix"... */
const char *sp_match_mode(const struct sp_match *m);
/* Appends the pattern for a message: bytes as given (raw: the caller renders
 * them safe), a regex between slashes, a mask in its written form. */
void sp_match_describe(struct sp_buf *out, const struct sp_match *m);

#endif
