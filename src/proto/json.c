/* The one JSON string escaper (event.h), shared by the event formats. */
#include "sockpit/proto/buf.h"
#include "sockpit/proto/event.h"

void sp_json_quote(struct sp_buf *out, const char *s, size_t n)
{
    /* Safe text is printable ASCII plus harmless UTF-8, so only the quote
     * and the backslash remain to escape; the \u form is a second line of
     * defence that keeps any control byte out of the JSON. */
    const unsigned char *p = (const unsigned char *)s;
    sp_buf_appendc(out, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f)
            continue;
        sp_buf_append(out, p + start, i - start);
        if (c == '"' || c == '\\') {
            sp_buf_appendc(out, '\\');
            sp_buf_appendc(out, c);
        } else {
            sp_buf_appendf(out, "\\u%04x", c);
        }
        start = i + 1;
    }
    sp_buf_append(out, p + start, n - start);
    sp_buf_appendc(out, '"');
}
