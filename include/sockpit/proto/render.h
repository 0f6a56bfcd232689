/* Safe rendering (DESIGN §8): the one function every peer-controlled string
 * passes through before it is shown, in the TUI, headless text and JSON.
 * A security boundary: its output never contains a byte that a terminal
 * interprets (C0, DEL, C1, ESC sequences, bidi or zero-width controls). */
#ifndef SOCKPIT_RENDER_H
#define SOCKPIT_RENDER_H

#include <stddef.h>

struct sp_buf;

enum sp_render_mode {
    SP_RENDER_ASCII, /* every byte >= 0x80 becomes \xHH */
    SP_RENDER_UTF8,  /* valid, harmless UTF-8 passes through */
};

/* Appends the safe rendering of p[0..n) to out. Printable ASCII passes and
 * `\` becomes `\\`; newline, CR, tab, NUL and ESC become `\n \r \t \0 \e`;
 * every other C0 byte, DEL, C1 control (in UTF-8 mode U+0080-U+009F), bidi
 * control (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069), zero-width or
 * format character (U+200B-U+200D, U+2060-U+2064, U+FEFF, U+FFF9-U+FFFB,
 * U+00AD, U+180E) and every byte of invalid UTF-8 (overlong, surrogate,
 * > U+10FFFF, truncated, stray continuation) becomes `\xHH` per byte. The
 * output is valid in escape syntax (sp_unescape() gives the bytes back).
 * In UTF-8 mode every combining mark (Mn, Me), every format character (Cf)
 * and U+2028/U+2029 are escaped as well: a mark after one of our escapes or
 * at the start of a line would alter what is shown; so are unassigned code
 * points and noncharacters, and anything else wcwidth() rejects or calls
 * zero-width. Every character passed has the width wcwidth() gives it in a
 * UTF-8 locale (tools/gen_render_tables.py); escapes count their length.
 * Returns the display width in terminal columns of what was appended. */
size_t sp_render(struct sp_buf *out, const void *p, size_t n, enum sp_render_mode mode);

/* Like sp_render() but stops before the output would exceed max_cols columns,
 * never cutting an escape or a character in half. *consumed (if not NULL)
 * receives the number of input bytes rendered (a caller continues from there
 * on the next line). Returns the width used (<= max_cols). */
size_t sp_render_cols(struct sp_buf *out, const void *p, size_t n, enum sp_render_mode mode,
                      size_t max_cols, size_t *consumed);

/* Display width of already-rendered text (UTF-8 from sp_render). Bytes that
 * are not valid UTF-8 count one column each, controls none. */
size_t sp_render_width(const char *s, size_t n);

/* The first character of s[0..n) (n > 0) under the renderer's width model:
 * returns its length in bytes and sets *width to its columns, or to -1 when
 * sp_render() would not pass it (a control, an invalid byte, a mark, an
 * unassigned code point). Front ends measure and clip text with this, so
 * they count columns exactly as the renderer did. */
size_t sp_render_char(const char *s, size_t n, int *width);

/* Appends lowercase hex without spaces (the JSON `hex` field). */
void sp_hex_append(struct sp_buf *out, const void *p, size_t n);

#endif
