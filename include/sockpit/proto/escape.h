/* Typed data: escape syntax and hex (DESIGN §4). */
#ifndef SOCKPIT_ESCAPE_H
#define SOCKPIT_ESCAPE_H

#include <stddef.h>

struct sp_buf;

/* Appends the bytes that s[0..n) denotes in escape syntax: `\n \r \t \0 \\ \e
 * \xHH` and `\"`; any other byte stands for itself. Quotes are not special
 * here (the command tokenizer removes them). Returns 0, or -1 with a reason in
 * err and the index of the offending character in *errpos (out may then hold
 * a partial result).
 * The offending character of a bad escape (`\q`, a lone trailing backslash,
 * `\x` without two hex digits) is its backslash; err says e.g.
 * `bad escape "\q" ... at column 5` where the column is *errpos + 1.
 * `\0` is always a single NUL (no octal), `\xHH` takes exactly two digits. */
int sp_unescape(const char *s, size_t n, struct sp_buf *out, size_t *errpos, char *err,
                size_t errlen);
/* Appends the bytes of hex digits in s[0..n); spaces, tabs, ':' and '-' are
 * separators; an odd digit count is an error. Same error reporting. A digit
 * pair may not straddle a separator ("de ad" is fine, "d ead" is an error at
 * the unpaired digit); a non-hex character (also the x of "0x") is an error
 * at that character. */
int sp_hex_parse(const char *s, size_t n, struct sp_buf *out, size_t *errpos, char *err,
                 size_t errlen);
/* Appends p[0..n) in escape syntax such that sp_unescape() gives it back
 * (used to show specs and to write scripts): printable ASCII other than `\`
 * and `"` as is, `\\ \" \n \r \t \0 \e`, everything else `\xHH` lowercase. */
void sp_escape(const void *p, size_t n, struct sp_buf *out);

/* One word found by sp_split_words(). */
struct sp_word {
    size_t start; /* offset in out of its first byte */
    size_t len;   /* bytes, without the NUL that ends it */
    size_t col;   /* 0-based column of its first character in the line */
    int quoted;   /* had a double quote */
};

#define SP_SPLIT_TOO_MANY (-1) /* *errpos: the first word that does not fit */
#define SP_SPLIT_QUOTE    (-2) /* *errpos: the quote never closed */

/* Splits a command line into words, for the command parser. Double quotes
 * group words (and may stand inside a word: a"b c"d is one word); a
 * backslash keeps the next character in the word with the backslash, so
 * escape syntax survives for sp_unescape(). An unquoted '#' at the start of
 * a word starts a comment. Spaces, tabs, CR and LF separate words; "" is an
 * empty word; `\"` never opens or closes a quote. Appends every word and its NUL to out;
 * fills words[] when not NULL; calls col(ctx, c) when not NULL once for every
 * byte appended, c being the column it came from (for a NUL: the column just
 * past the word). Returns the word count or an SP_SPLIT_ code. */
int sp_split_words(const char *line, struct sp_buf *out, struct sp_word *words, int max,
                   void (*col)(void *ctx, size_t c), void *ctx, size_t *errpos);

#endif
