/* Hex output: the JSON `hex` field and classic hex dumps. */
#include "sockpit/proto/hexdump.h"
#include "sockpit/proto/render.h"

#include "sockpit/proto/buf.h"

/* Two lowercase hex digits per byte value, so each byte costs one lookup. */
static const char hexpairs[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                               "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                               "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
                               "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                               "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                               "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                               "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                               "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void sp_hex_append(struct sp_buf *out, const void *p, size_t n)
{
    const unsigned char *b = p;
    sp_buf_reserve(out, 2 * n);
    /* Written in place after reserving: this runs on every payload that is
     * logged as JSON, where per-byte appends would dominate. */
    char *d = (char *)out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        d[2 * i] = hexpairs[2 * b[i]];
        d[2 * i + 1] = hexpairs[2 * b[i] + 1];
    }
    out->len += 2 * n;
    out->data[out->len] = '\0';
}

void sp_hexdump(struct sp_buf *out, const void *p, size_t n, unsigned long long base,
                unsigned width)
{
    const unsigned char *b = p;
    if (width == 0)
        width = 16;
    unsigned half = width / 2;
    for (size_t off = 0; off < n; off += width) {
        size_t cnt = n - off < width ? n - off : width;
        sp_buf_appendf(out, "%08llx  ", base + off);
        for (unsigned k = 0; k < width; k++) {
            if (k == half && k > 0)
                sp_buf_appendc(out, ' ');
            if (k < cnt) {
                unsigned char c = b[off + k];
                char t[3] = {hexpairs[2 * c], hexpairs[2 * c + 1], ' '};
                sp_buf_append(out, t, 3);
            } else {
                sp_buf_append(out, "   ", 3); /* keeps the ASCII column aligned */
            }
        }
        sp_buf_append(out, " |", 2);
        for (size_t k = 0; k < cnt; k++) {
            unsigned char c = b[off + k];
            sp_buf_appendc(out, c >= 0x20 && c < 0x7f ? c : '.');
        }
        sp_buf_append(out, "|\n", 2);
    }
}
