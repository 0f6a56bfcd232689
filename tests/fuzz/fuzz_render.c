/* Fuzz target: the safe renderer (DESIGN §8). Whatever the input, the output
 * holds nothing a terminal interprets, unescapes to the input, and column
 * limits hold. The checks here are written independently of render.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/escape.h"
#include "sockpit/proto/hexdump.h"
#include "sockpit/proto/render.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The code points §8 names as never shown raw. */
static int forbidden(uint32_t c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
           (c >= 0x200b && c <= 0x200d) || (c >= 0x2060 && c <= 0x2064) || c == 0xfeff ||
           (c >= 0xfff9 && c <= 0xfffb) || c == 0x00ad || c == 0x180e ||
           (c >= 0x0300 && c <= 0x036f) || (c >= 0x1ab0 && c <= 0x1aff) ||
           (c >= 0x20d0 && c <= 0x20ff) || (c >= 0xfe20 && c <= 0xfe2f);
}

/* Strict UTF-8 check of rendered output; no byte below 0x20 or 0x7f, and
 * (ASCII mode) none at or above 0x80. */
static void check_output(const unsigned char *s, size_t n, enum sp_render_mode mode)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        CHECK(c >= 0x20 && c != 0x7f);
        if (c < 0x80) {
            i++;
            continue;
        }
        CHECK(mode == SP_RENDER_UTF8);
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        CHECK(c >= 0xc2 && c <= 0xf4);
        CHECK(i + len <= n);
        uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
        for (size_t k = 1; k < len; k++) {
            CHECK((s[i + k] & 0xc0) == 0x80);
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        CHECK(cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u));
        CHECK(cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff));
        CHECK(!forbidden(cp));
        i += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int m = 0; m < 2; m++) {
        enum sp_render_mode mode = m ? SP_RENDER_UTF8 : SP_RENDER_ASCII;
        struct sp_buf out, back;
        sp_buf_init(&out);
        sp_buf_init(&back);
        size_t w = sp_render(&out, data, size, mode);
        check_output(out.data, out.len, mode);
        CHECK(out.data[out.len] == '\0');
        CHECK(strlen((const char *)out.data) == out.len);
        CHECK(w == sp_render_width((const char *)out.data, out.len));
        CHECK(w <= out.len);
        CHECK(sp_unescape((const char *)out.data, out.len, &back, NULL, NULL, 0) == 0);
        CHECK(back.len == size);
        CHECK(size == 0 || memcmp(back.data, data, size) == 0);

        /* Line by line with a column limit taken from the input: every line
         * fits, and the lines join to the whole rendering. */
        size_t max_cols = size > 0 ? 16 + data[0] % 64 : 16;
        struct sp_buf joined;
        sp_buf_init(&joined);
        size_t off = 0;
        while (off < size) {
            struct sp_buf line;
            sp_buf_init(&line);
            size_t used = 0;
            size_t lw = sp_render_cols(&line, data + off, size - off, mode, max_cols, &used);
            CHECK(lw <= max_cols);
            CHECK(used > 0 && used <= size - off);
            CHECK(lw == sp_render_width((const char *)line.data, line.len));
            sp_buf_append(&joined, line.data, line.len);
            off += used;
            sp_buf_cleanup(&line);
        }
        CHECK(joined.len == out.len);
        CHECK(out.len == 0 || memcmp(joined.data, out.data, out.len) == 0);

        /* A tiny limit may render nothing, but never more than allowed. */
        struct sp_buf tiny;
        sp_buf_init(&tiny);
        size_t used = 0;
        size_t tw = sp_render_cols(&tiny, data, size, mode, size % 5, &used);
        CHECK(tw <= size % 5 && used <= size);
        sp_buf_cleanup(&tiny);

        sp_buf_cleanup(&joined);
        sp_buf_cleanup(&out);
        sp_buf_cleanup(&back);
    }

    struct sp_buf hex;
    sp_buf_init(&hex);
    sp_hex_append(&hex, data, size);
    CHECK(hex.len == 2 * size);
    sp_hexdump(&hex, data, size, 0, size > 0 ? data[0] % 33 : 16);
    for (size_t i = 0; i < hex.len; i++)
        CHECK(hex.data[i] == '\n' || (hex.data[i] >= 0x20 && hex.data[i] < 0x7f));
    sp_buf_cleanup(&hex);
    return 0;
}
