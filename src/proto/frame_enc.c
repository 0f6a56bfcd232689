/* Framing encoders: what `send` writes under each spec (DESIGN §3).
 *
 * The wire form is head + body + pad + tail so the engine can writev() the
 * user's bytes without copying them; sp_frame_encode_buf() glues the parts
 * for previews and tests. Every frame the encoder produces is one the
 * decoder of the same spec accepts, except where the user asked for bytes
 * that break the framing (a delimiter inside a line or delim body). */
#include "sockpit/proto/buf.h"
#include "sockpit/proto/frame.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto_int.h"

/* Writes offset zero bytes and the length field holding value + adjust's
 * inverse, i.e. the field value for a body of body bytes. Returns the number
 * of bytes written, or -1 with a reason. */
static int put_header(const struct sp_frame_spec *s, uint64_t body, unsigned char *out,
                      const char *what, char *err, size_t errlen)
{
    int64_t value = (int64_t)body - s->adjust;
    if (value < 0)
        return sp__fail(err, errlen,
                        "%s of %" PRIu64 " bytes: adjust=%" PRId64
                        " makes the length field negative",
                        what, body, s->adjust);
    uint64_t v = (uint64_t)value;
    if (s->width > 0 && s->width < 8 && v >> (8 * s->width) != 0)
        return sp__fail(err, errlen, "%s of %" PRIu64 " bytes does not fit a %u-byte length field",
                        what, body, s->width);
    size_t k = 0;
    memset(out, 0, s->offset);
    k += s->offset;
    if (s->width == 0) {
        do {
            unsigned char b = v & 0x7f;
            v >>= 7;
            out[k++] = (unsigned char)(b | (v ? 0x80 : 0));
        } while (v != 0);
    } else {
        for (unsigned i = 0; i < s->width; i++) {
            unsigned shift = s->little_endian ? 8 * i : 8 * (s->width - 1 - i);
            out[k++] = (unsigned char)(v >> shift);
        }
    }
    return (int)k;
}

int sp_frame_encode(const struct sp_frame_spec *spec, size_t len, unsigned flags,
                    struct sp_frame_wire *wire, char *err, size_t errlen)
{
    const struct sp_frame_spec *s = spec;
    wire->head_len = 0;
    wire->pad_len = 0;
    wire->tail_len = 0;
    wire->body = 1;
    if (s->kind != SP_FRAME_RAW && s->kind != SP_FRAME_EOF && s->kind != SP_FRAME_FIXED &&
        len > s->max)
        return sp__fail(err, errlen, "message of %zu bytes is over max=%" PRIu64, len, s->max);
    switch (s->kind) {
    case SP_FRAME_RAW:
    case SP_FRAME_EOF:
        return 0;
    case SP_FRAME_FIXED:
        if (len > s->fixed)
            return sp__fail(err, errlen, "message of %zu bytes is longer than fixed:%" PRIu64, len,
                            s->fixed);
        if (len < s->fixed && !(flags & SP_FRAME_ENC_PAD))
            return sp__fail(err, errlen,
                            "message of %zu bytes is shorter than fixed:%" PRIu64
                            " (--pad pads with NUL)",
                            len, s->fixed);
        wire->pad_len = (size_t)s->fixed - len;
        return 0;
    case SP_FRAME_LINE:
        wire->tail[0] = '\n';
        wire->tail_len = 1;
        return 0;
    case SP_FRAME_DELIM:
        memcpy(wire->tail, s->delim, s->delim_len);
        wire->tail_len = s->delim_len;
        return 0;
    case SP_FRAME_NETSTRING:
        wire->head_len = (size_t)snprintf((char *)wire->head, sizeof wire->head, "%zu:", len);
        wire->tail[0] = ',';
        wire->tail_len = 1;
        return 0;
    case SP_FRAME_DECIMAL:
        wire->head_len = (size_t)snprintf((char *)wire->head, sizeof wire->head, "%zu", len);
        memcpy(wire->head + wire->head_len, s->delim, s->delim_len);
        wire->head_len += s->delim_len;
        return 0;
    case SP_FRAME_LEN: {
        int k = put_header(s, len, wire->head, "message", err, errlen);
        if (k < 0)
            return -1;
        wire->head_len = (size_t)k;
        return 0;
    }
    case SP_FRAME_BLOCKS: {
        if (len == 0 && !(flags & SP_FRAME_ENC_END))
            return sp__fail(err, errlen, "an empty block ends the series: send --end to finish it");
        if (len > 0) {
            int k = put_header(s, len, wire->head, "block", err, errlen);
            if (k < 0)
                return -1;
            wire->head_len = (size_t)k;
        }
        if (flags & SP_FRAME_ENC_END) {
            unsigned char *zero = len > 0 ? wire->tail : wire->head;
            int k = put_header(s, 0, zero, "end block", err, errlen);
            if (k < 0)
                return -1;
            if (len > 0) {
                wire->tail_len = (size_t)k;
            } else {
                wire->head_len = (size_t)k;
                wire->body = 0;
            }
        }
        return 0;
    }
    }
    return sp__fail(err, errlen, "unknown framing kind");
}

int sp_frame_encode_buf(const struct sp_frame_spec *spec, const unsigned char *msg, size_t len,
                        unsigned flags, struct sp_buf *out, char *err, size_t errlen)
{
    struct sp_frame_wire w;
    if (sp_frame_encode(spec, len, flags, &w, err, errlen) < 0)
        return -1;
    sp_buf_append(out, w.head, w.head_len);
    if (w.body)
        sp_buf_append(out, msg, len);
    sp_buf_reserve(out, w.pad_len);
    for (size_t i = 0; i < w.pad_len; i++)
        sp_buf_appendc(out, 0);
    sp_buf_append(out, w.tail, w.tail_len);
    return 0;
}
