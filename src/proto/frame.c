/* Framing push decoders (DESIGN §3).
 *
 * One decoder per socket direction, fed each recv chunk. The state is a few
 * counters plus at most one header and one delimiter prefix, so a decoder is
 * resumable at any byte and never allocates. Message bodies are never
 * copied: DATA events point into the chunk being fed, except for the few
 * bytes that had to be held back across a chunk boundary (a delimiter prefix,
 * a header), which are re-emitted from the spec's delimiter or the header
 * copy inside the decoder. */
#include "sockpit/proto/frame.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
    ST_IDLE,   /* between frames */
    ST_HDR,    /* len/blocks: reading offset bytes and the length field */
    ST_BODY,   /* body bytes counted by need */
    ST_DIGITS, /* netstring/decimal: the ASCII length */
    ST_SEP,    /* decimal: the separator after the length */
    ST_COMMA,  /* netstring: the ',' after the body */
};

static const unsigned char cr_byte[1] = {'\r'};

/* Sets every field of ev: the ones a type does not use are 0. Assigning
 * them one by one is far cheaper than zero-filling the whole struct first,
 * which the compiler does with a slow string store at every event. */
static inline void ev_fill(struct sp_frame_ev *ev, enum sp_frame_ev_type type, uint64_t chunk,
                           size_t chunk_off, uint64_t off)
{
    ev->type = type;
    ev->data = NULL;
    ev->len = 0;
    ev->chunk = chunk;
    ev->chunk_off = chunk_off;
    ev->off = off;
    ev->msg_len = 0;
    ev->block_len = 0;
    ev->truncated = 0;
    ev->reason = NULL;
    ev->to_raw = 0;
}

/* Does the caller want BEGIN, DATA and BLOCK events? */
static inline int wants_parts(const struct sp_frame_dec *dec)
{
    return !(dec->flags & SP_FRAME_DEC_ENDS_ONLY);
}

/* The event emitters fill positions from the index i inside the current
 * chunk, so every position is exact whatever the chunking was. */
static void emit_begin(struct sp_frame_dec *dec, size_t i)
{
    dec->in_msg = 1;
    dec->msg_len = 0;
    dec->body_len = 0;
    if (wants_parts(dec)) {
        struct sp_frame_ev ev;
        ev_fill(&ev, SP_FRAME_EV_BEGIN, dec->chunk, i, dec->base + i);
        dec->cb(dec->ud, &ev);
    }
}

static void emit_data(struct sp_frame_dec *dec, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    dec->msg_len += n;
    if (wants_parts(dec)) {
        struct sp_frame_ev ev;
        ev_fill(&ev, SP_FRAME_EV_DATA, dec->chunk, 0, 0);
        ev.data = p;
        ev.len = n;
        dec->cb(dec->ud, &ev);
    }
}

static void emit_block(struct sp_frame_dec *dec, uint64_t len)
{
    if (wants_parts(dec)) {
        struct sp_frame_ev ev;
        ev_fill(&ev, SP_FRAME_EV_BLOCK, dec->chunk, 0, 0);
        ev.block_len = len;
        dec->cb(dec->ud, &ev);
    }
}

/* end is the chunk offset just past the frame's last byte. */
static void emit_end(struct sp_frame_dec *dec, size_t end)
{
    struct sp_frame_ev ev;
    ev_fill(&ev, SP_FRAME_EV_END, dec->chunk, end, dec->base + end);
    ev.msg_len = dec->msg_len;
    dec->in_msg = 0;
    dec->state = ST_IDLE;
    dec->cb(dec->ud, &ev);
}

/* Finds the chunk holding the byte at stream offset o: the current chunk, or
 * for a held-back delimiter byte one of the last non-empty chunks (at most
 * SP_FRAME_DELIM_MAX - 1 bytes are ever held, each in a non-empty chunk). */
static void locate(const struct sp_frame_dec *dec, uint64_t o, uint64_t *chunk, size_t *chunk_off)
{
    *chunk = dec->chunk;
    *chunk_off = 0;
    if (o >= dec->base) {
        *chunk_off = (size_t)(o - dec->base);
        return;
    }
    for (unsigned k = 1; k <= SP_FRAME_DELIM_MAX; k++) {
        unsigned e = (dec->ring_pos - k) % SP_FRAME_DELIM_MAX;
        if (dec->ring_chunk[e] != 0 && dec->ring_base[e] <= o) {
            *chunk = dec->ring_chunk[e];
            *chunk_off = (size_t)(o - dec->ring_base[e]);
            return;
        }
    }
}

/* Reports the bad byte at stream offset o, the reason formatted into
 * dec->reason with its figures. A length-prefix error loses the stream
 * position for good, so the decoder turns raw; a missing delimiter only
 * costs the current message. In a datagram the position comes back with
 * the next datagram: only the rest of this one is lost (the caller stops
 * feeding it). */
static void emit_error(struct sp_frame_dec *dec, uint64_t o, int to_raw, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void emit_error(struct sp_frame_dec *dec, uint64_t o, int to_raw, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dec->reason, sizeof dec->reason, fmt, ap);
    va_end(ap);
    int dgram = (dec->flags & SP_FRAME_DEC_DGRAM) != 0;
    if (dgram && to_raw && n >= 0 && (size_t)n < sizeof dec->reason)
        snprintf(dec->reason + n, sizeof dec->reason - (size_t)n, "; rest of the datagram dropped");
    struct sp_frame_ev ev;
    ev_fill(&ev, SP_FRAME_EV_ERROR, 0, 0, o);
    locate(dec, o, &ev.chunk, &ev.chunk_off);
    ev.reason = dec->reason;
    ev.to_raw = to_raw && !dgram;
    dec->in_msg = 0;
    dec->state = ST_IDLE;
    if (ev.to_raw)
        sp_frame_spec_raw(&dec->spec);
    dec->cb(dec->ud, &ev);
}

static void end_partial(struct sp_frame_dec *dec, int truncated);

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* The length value (after adjust) over max, at the byte at index i. */
static void error_over_max(struct sp_frame_dec *dec, size_t i, uint64_t len)
{
    if (dec->spec.kind == SP_FRAME_BLOCKS)
        emit_error(dec, dec->base + i, 1, "blocks add up to %llu bytes, over max %llu", ull(len),
                   ull(dec->spec.max));
    else
        emit_error(dec, dec->base + i, 1, "length %llu over max %llu", ull(len),
                   ull(dec->spec.max));
}

/* Clears the per-message state, keeping chunk and offset counting. */
static void reset_state(struct sp_frame_dec *dec)
{
    dec->state = ST_IDLE;
    dec->in_msg = 0;
    dec->skipping = 0;
    dec->cr_pending = 0;
    dec->need = 0;
    dec->skip = 0;
    dec->msg_len = 0;
    dec->body_len = 0;
    dec->value = 0;
    dec->digits = 0;
    dec->hdr_len = 0;
    dec->match = 0;
}

/* KMP failure function: kmp[k] is the length of the longest proper prefix of
 * delim[0..k] that is also its suffix, so a failed partial match falls back
 * without re-reading bytes (they may belong to an earlier chunk). */
static void build_kmp(struct sp_frame_dec *dec)
{
    const unsigned char *d = dec->spec.delim;
    size_t n = dec->spec.delim_len;
    memset(dec->kmp, 0, sizeof dec->kmp);
    unsigned k = 0;
    for (size_t q = 1; q < n; q++) {
        while (k > 0 && d[q] != d[k])
            k = dec->kmp[k - 1];
        if (d[q] == d[k])
            k++;
        dec->kmp[q] = (unsigned char)k;
    }
}

void sp_frame_dec_init(struct sp_frame_dec *dec, const struct sp_frame_spec *spec, sp_frame_cb cb,
                       void *ud)
{
    memset(dec, 0, sizeof *dec);
    dec->spec = *spec;
    dec->cb = cb;
    dec->ud = ud;
    reset_state(dec);
    build_kmp(dec);
}

void sp_frame_dec_set_flags(struct sp_frame_dec *dec, unsigned flags)
{
    dec->flags = flags;
}

enum sp_frame_kind sp_frame_dec_kind(const struct sp_frame_dec *dec)
{
    return dec->spec.kind;
}

/* Body bytes of a delimited message, checked against max. o is the stream
 * offset of p[0]: p lies in the chunk, or it is held-back delimiter bytes
 * that turned out to be body. Once the message is too long it is reported
 * at its first byte beyond max, and the decoder skips to the next
 * delimiter. */
static void delim_body(struct sp_frame_dec *dec, const unsigned char *p, size_t n, uint64_t o)
{
    if (dec->skipping || n == 0)
        return;
    uint64_t room = dec->spec.max - dec->body_len;
    if (n <= room) {
        dec->body_len += n;
        emit_data(dec, p, n);
        return;
    }
    emit_data(dec, p, (size_t)room);
    emit_error(dec, o + room, 0, "delimiter not found within max %llu bytes", ull(dec->spec.max));
    dec->skipping = 1;
}

/* The delimiter ended at chunk index end: the message is complete, or the
 * resynchronisation after an over-long message is. */
static void delim_done(struct sp_frame_dec *dec, size_t end)
{
    dec->match = 0;
    if (dec->skipping)
        dec->skipping = 0;
    else
        emit_end(dec, end);
}

static void feed_delim(struct sp_frame_dec *dec, const unsigned char *p, size_t n)
{
    const unsigned char *d = dec->spec.delim;
    unsigned dl = (unsigned)dec->spec.delim_len;
    size_t i = 0;
    while (i < n) {
        if (!dec->in_msg && !dec->skipping)
            emit_begin(dec, i);
        if (dec->match == 0) {
            const unsigned char *q = memchr(p + i, d[0], n - i);
            size_t end = q != NULL ? (size_t)(q - p) : n;
            delim_body(dec, p + i, end - i, dec->base + i);
            if (q == NULL)
                return;
            i = end + 1;
            dec->match = 1;
            if (dl == 1)
                delim_done(dec, i);
            continue;
        }
        unsigned char c = p[i];
        if (c == d[dec->match]) {
            i++;
            if (++dec->match == dl)
                delim_done(dec, i);
            continue;
        }
        /* Mismatch: keep the longest held suffix that is still a delimiter
         * prefix; the bytes before it are body, and equal d[0..released). */
        unsigned m = dec->match;
        while (m > 0 && d[m] != c)
            m = dec->kmp[m - 1];
        unsigned released = dec->match - m;
        uint64_t held_off = dec->base + i - dec->match;
        if (d[m] == c) {
            /* m < match here, so c extends the kept prefix. */
            dec->match = m + 1;
            delim_body(dec, d, released, held_off);
            i++;
            if (dec->match == dl)
                delim_done(dec, i);
        } else {
            dec->match = 0;
            delim_body(dec, d, released, held_off);
            /* c is looked at again with match 0. */
        }
    }
}

static void feed_line(struct sp_frame_dec *dec, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (!dec->in_msg && !dec->skipping)
            emit_begin(dec, i);
        if (dec->cr_pending) {
            dec->cr_pending = 0;
            if (p[i] == '\n') {
                i++;
                delim_done(dec, i);
            } else {
                delim_body(dec, cr_byte, 1, dec->base + i - 1);
            }
            continue;
        }
        const unsigned char *q = memchr(p + i, '\n', n - i);
        if (q != NULL) {
            size_t nl = (size_t)(q - p);
            size_t body_end = nl > i && p[nl - 1] == '\r' ? nl - 1 : nl;
            delim_body(dec, p + i, body_end - i, dec->base + i);
            i = nl + 1;
            delim_done(dec, i);
        } else {
            /* A '\r' at the chunk end may precede a '\n': hold it. */
            size_t body_end = p[n - 1] == '\r' ? n - 1 : n;
            delim_body(dec, p + i, body_end - i, dec->base + i);
            dec->cr_pending = body_end < n;
            return;
        }
    }
}

static void feed_fixed(struct sp_frame_dec *dec, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (!dec->in_msg) {
            emit_begin(dec, i);
            dec->need = dec->spec.fixed;
        }
        size_t k = n - i < dec->need ? n - i : (size_t)dec->need;
        emit_data(dec, p + i, k);
        i += k;
        dec->need -= k;
        if (dec->need == 0)
            emit_end(dec, i);
    }
}

static void feed_eof(struct sp_frame_dec *dec, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    if (!dec->in_msg)
        emit_begin(dec, 0);
    emit_data(dec, p, n);
}

/* Largest header: offset bytes plus the widest length field (a varint of
 * 10 bytes; fixed fields are at most 8). */
static size_t hdr_max(const struct sp_frame_spec *s)
{
    return s->offset + (s->width ? s->width : 10);
}

/* Parses a header from h[0..avail). Returns 1 with *value and *hlen when
 * complete, 0 when more bytes are needed (all of h is header so far), or -1
 * with *reason and *hlen = index of the bad byte + 1. */
static int parse_hdr(const struct sp_frame_spec *s, const unsigned char *h, size_t avail,
                     uint64_t *value, size_t *hlen, const char **reason)
{
    const unsigned char *f = h + s->offset;
    uint64_t v = 0;
    if (s->width != 0) {
        size_t total = s->offset + s->width;
        if (avail < total)
            return 0;
        if (s->little_endian) {
            for (unsigned k = s->width; k-- > 0;)
                v = v << 8 | f[k];
        } else {
            for (unsigned k = 0; k < s->width; k++)
                v = v << 8 | f[k];
        }
        *value = v;
        *hlen = total;
        return 1;
    }
    for (size_t k = 0; s->offset + k < avail; k++) {
        unsigned char b = f[k];
        if (k == 9 && b > 1) {
            /* A 10th byte above 1 overflows 64 bits (and 0x80 and up would
             * ask for an 11th byte). */
            *hlen = s->offset + k + 1;
            *reason = "varint longer than 64 bits";
            return -1;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80)) {
            *value = v;
            *hlen = s->offset + k + 1;
            return 1;
        }
    }
    return 0;
}

/* The header h[0..hlen) is complete, its last byte at chunk index last.
 * Validates the length before anything of the body is trusted, shows what
 * strip leaves of the header, and sets up the body. Returns -1 after an
 * error (the decoder is then raw). */
static int hdr_done(struct sp_frame_dec *dec, const unsigned char *h, size_t hlen, uint64_t value,
                    size_t last)
{
    const struct sp_frame_spec *s = &dec->spec;
    /* Anything near 2^63 is far over any max; stopping here keeps value +
     * adjust in range (|adjust| <= SP_FRAME_ADJUST_MAX). */
    if (value > (UINT64_C(1) << 62)) {
        error_over_max(dec, last, value);
        return -1;
    }
    int64_t body = (int64_t)value + s->adjust;
    if (body < 0) {
        emit_error(dec, dec->base + last, 1, "length %llu with adjust %lld is negative", ull(value),
                   (long long)s->adjust);
        return -1;
    }
    uint64_t total = (s->kind == SP_FRAME_BLOCKS ? dec->body_len : 0) + (uint64_t)body;
    if (total > s->max) {
        error_over_max(dec, last, total);
        return -1;
    }
    dec->body_len = total;
    if (s->kind == SP_FRAME_BLOCKS && body > 0)
        emit_block(dec, (uint64_t)body);
    size_t strip = s->strip == SP_FRAME_STRIP_HEADER ? hlen : s->strip;
    if (strip < hlen)
        emit_data(dec, h + strip, hlen - strip);
    uint64_t skip = strip > hlen ? strip - hlen : 0;
    dec->skip = skip < (uint64_t)body ? skip : (uint64_t)body;
    dec->need = (uint64_t)body;
    dec->hdr_len = 0;
    if (body == 0)
        emit_end(dec, last + 1); /* len: an empty message; blocks: the zero block */
    else
        dec->state = ST_BODY;
    return 0;
}

/* len, decoder idle at chunk index i: handles every frame lying wholly in
 * the chunk from i on, header and body, and returns the index past the
 * last one. Each frame is parsed in place and reported straight from
 * locals, as hdr_done and the body state would report it; anything else (a
 * frame cut by the chunk end, a bad length) is left to the state machine,
 * which starts over at the returned index. This is the hot path of a
 * stream of small messages, where the per-byte state machine's stores and
 * reloads of need and skip cost more than the work itself. */
static size_t len_whole_frames(struct sp_frame_dec *dec, const unsigned char *p, size_t n, size_t i)
{
    const struct sp_frame_spec *s = &dec->spec;
    int parts = wants_parts(dec);
    struct sp_frame_ev ev;
    while (i < n) {
        const unsigned char *h = p + i;
        uint64_t value = 0;
        size_t hlen = 0;
        const char *reason = NULL;
        if (parse_hdr(s, h, n - i, &value, &hlen, &reason) != 1 || value > (UINT64_C(1) << 62))
            break;
        int64_t body = (int64_t)value + s->adjust;
        if (body < 0 || (uint64_t)body > s->max || (uint64_t)body > n - i - hlen)
            break;
        size_t strip = s->strip == SP_FRAME_STRIP_HEADER ? hlen : s->strip;
        size_t head = strip < hlen ? hlen - strip : 0; /* header bytes kept */
        size_t skip = strip > hlen ? strip - hlen : 0; /* body bytes dropped */
        if (skip > (size_t)body)
            skip = (size_t)body;
        size_t rest = (size_t)body - skip, end = i + hlen + (size_t)body;
        if (parts) {
            ev_fill(&ev, SP_FRAME_EV_BEGIN, dec->chunk, i, dec->base + i);
            dec->cb(dec->ud, &ev);
            if (head > 0) {
                ev_fill(&ev, SP_FRAME_EV_DATA, dec->chunk, 0, 0);
                ev.data = h + strip;
                ev.len = head;
                dec->cb(dec->ud, &ev);
            }
            if (rest > 0) {
                ev_fill(&ev, SP_FRAME_EV_DATA, dec->chunk, 0, 0);
                ev.data = h + hlen + skip;
                ev.len = rest;
                dec->cb(dec->ud, &ev);
            }
        }
        ev_fill(&ev, SP_FRAME_EV_END, dec->chunk, end, dec->base + end);
        ev.msg_len = head + rest;
        dec->cb(dec->ud, &ev);
        i = end;
    }
    return i;
}

static void feed_len(struct sp_frame_dec *dec, const unsigned char *p, size_t n)
{
    const struct sp_frame_spec *s = &dec->spec;
    size_t i = 0;
    while (i < n) {
        switch (dec->state) {
        case ST_IDLE:
            if (s->kind == SP_FRAME_LEN) {
                i = len_whole_frames(dec, p, n, i);
                if (i == n)
                    return;
            }
            emit_begin(dec, i);
            dec->state = ST_HDR;
            dec->hdr_len = 0;
            /* fall through */
        case ST_HDR: {
            size_t maxh = hdr_max(s), old = dec->hdr_len, hlen = 0;
            const unsigned char *h;
            size_t avail;
            if (old == 0 && n - i >= maxh) {
                /* The whole header is in this chunk: parse it in place. */
                h = p + i;
                avail = maxh;
            } else {
                size_t k = maxh - old < n - i ? maxh - old : n - i;
                memcpy(dec->hdr + old, p + i, k);
                dec->hdr_len = (unsigned)(old + k);
                h = dec->hdr;
                avail = dec->hdr_len;
            }
            uint64_t value = 0;
            const char *reason = NULL;
            int r = parse_hdr(s, h, avail, &value, &hlen, &reason);
            if (r == 0)
                return; /* every byte left in the chunk went into hdr */
            size_t last = i + (hlen - old) - 1;
            if (r < 0) {
                emit_error(dec, dec->base + last, 1, "%s", reason);
                return;
            }
            i = last + 1;
            if (hdr_done(dec, h, hlen, value, last) < 0)
                return;
            break;
        }
        case ST_BODY: {
            size_t avail = n - i;
            if (dec->skip > 0) {
                size_t k = avail < dec->skip ? avail : (size_t)dec->skip;
                dec->skip -= k;
                dec->need -= k;
                i += k;
                avail -= k;
            }
            size_t k = avail < dec->need ? avail : (size_t)dec->need;
            emit_data(dec, p + i, k);
            i += k;
            dec->need -= k;
            if (dec->need == 0) {
                if (s->kind == SP_FRAME_BLOCKS) {
                    dec->state = ST_HDR;
                    dec->hdr_len = 0;
                } else {
                    emit_end(dec, i);
                }
            }
            break;
        }
        default:
            assert(0);
            return;
        }
    }
}

/* Sets up the body after the length and its separator; an empty body ends
 * (decimal) or waits for its ',' (netstring) right away. */
static void text_body(struct sp_frame_dec *dec, size_t i)
{
    dec->need = dec->value;
    if (dec->need > 0)
        dec->state = ST_BODY;
    else if (dec->spec.kind == SP_FRAME_NETSTRING)
        dec->state = ST_COMMA;
    else
        emit_end(dec, i);
}

static void feed_text(struct sp_frame_dec *dec, const unsigned char *p, size_t n)
{
    const struct sp_frame_spec *s = &dec->spec;
    int ns = s->kind == SP_FRAME_NETSTRING;
    size_t i = 0;
    while (i < n) {
        switch (dec->state) {
        case ST_IDLE:
            emit_begin(dec, i);
            dec->state = ST_DIGITS;
            dec->value = 0;
            dec->digits = 0;
            /* fall through */
        case ST_DIGITS: {
            unsigned char c = p[i];
            if (c >= '0' && c <= '9') {
                /* max <= 256M, so checking each digit also rules out overflow
                 * and rejects an over-long length before it is complete. */
                dec->value = dec->value * 10 + (unsigned)(c - '0');
                dec->digits++;
                if (dec->value > s->max) {
                    /* More digits may follow: the value so far is a bound. */
                    emit_error(dec, dec->base + i, 1, "length at least %llu, over max %llu",
                               ull(dec->value), ull(s->max));
                    return;
                }
                i++;
                break;
            }
            if (dec->digits == 0) {
                emit_error(dec, dec->base + i, 1, "bad digit in length");
                return;
            }
            if (ns) {
                if (c != ':') {
                    emit_error(dec, dec->base + i, 1, "missing ':' after length");
                    return;
                }
                i++;
                text_body(dec, i);
            } else {
                dec->state = ST_SEP;
                dec->match = 0;
            }
            break;
        }
        case ST_SEP:
            if (p[i] != s->delim[dec->match]) {
                emit_error(dec, dec->base + i, 1, "%s",
                           dec->match == 0 ? "bad digit in length" : "bad separator after length");
                return;
            }
            i++;
            if (++dec->match == s->delim_len) {
                dec->match = 0;
                text_body(dec, i);
            }
            break;
        case ST_BODY: {
            size_t k = n - i < dec->need ? n - i : (size_t)dec->need;
            emit_data(dec, p + i, k);
            i += k;
            dec->need -= k;
            if (dec->need == 0) {
                if (ns)
                    dec->state = ST_COMMA;
                else
                    emit_end(dec, i);
            }
            break;
        }
        case ST_COMMA:
            if (p[i] != ',') {
                emit_error(dec, dec->base + i, 1, "missing ',' after body");
                return;
            }
            i++;
            emit_end(dec, i);
            break;
        default:
            assert(0);
            return;
        }
    }
}

void sp_frame_feed(struct sp_frame_dec *dec, const unsigned char *p, size_t n)
{
    dec->chunk++;
    dec->base = dec->off;
    switch (dec->spec.kind) {
    case SP_FRAME_RAW:
        break; /* no per-byte work: the caller shows chunks itself */
    case SP_FRAME_EOF:
        feed_eof(dec, p, n);
        break;
    case SP_FRAME_FIXED:
        feed_fixed(dec, p, n);
        break;
    case SP_FRAME_LINE:
        feed_line(dec, p, n);
        break;
    case SP_FRAME_DELIM:
        feed_delim(dec, p, n);
        break;
    case SP_FRAME_LEN:
    case SP_FRAME_BLOCKS:
        feed_len(dec, p, n);
        break;
    case SP_FRAME_NETSTRING:
    case SP_FRAME_DECIMAL:
        feed_text(dec, p, n);
        break;
    }
    dec->off = dec->base + n;
    if (n > 0) {
        dec->last_chunk = dec->chunk;
        dec->last_end = n;
        dec->ring_chunk[dec->ring_pos % SP_FRAME_DELIM_MAX] = dec->chunk;
        dec->ring_base[dec->ring_pos % SP_FRAME_DELIM_MAX] = dec->base;
        dec->ring_pos++;
    }
    if (dec->flags & SP_FRAME_DEC_DGRAM) {
        /* The datagram is over: nothing of its frame can follow. */
        end_partial(dec,
                    dec->spec.kind == SP_FRAME_EOF ? SP_FRAME_CUT_NONE : SP_FRAME_CUT_DATAGRAM);
        reset_state(dec);
    }
}

/* Ends the message in progress at the last byte received: what was held
 * back is delivered (within max), then END with truncated = the cut. */
static void end_partial(struct sp_frame_dec *dec, int truncated)
{
    const struct sp_frame_spec *s = &dec->spec;
    if (!dec->in_msg)
        return;
    if (s->kind == SP_FRAME_DELIM || s->kind == SP_FRAME_LINE) {
        const unsigned char *held = s->kind == SP_FRAME_LINE ? cr_byte : s->delim;
        uint64_t n = s->kind == SP_FRAME_LINE ? (uint64_t)dec->cr_pending : dec->match;
        uint64_t room = s->max - dec->body_len;
        emit_data(dec, held, (size_t)(n < room ? n : room));
    } else if (dec->state == ST_HDR && dec->hdr_len > 0) {
        size_t strip = s->strip == SP_FRAME_STRIP_HEADER ? SIZE_MAX : s->strip;
        if (strip < dec->hdr_len)
            emit_data(dec, dec->hdr + strip, dec->hdr_len - strip);
    }
    struct sp_frame_ev ev;
    ev_fill(&ev, SP_FRAME_EV_END, dec->last_chunk, dec->last_end, dec->off);
    ev.msg_len = dec->msg_len;
    ev.truncated = truncated;
    dec->in_msg = 0;
    dec->cb(dec->ud, &ev);
}

void sp_frame_finish(struct sp_frame_dec *dec)
{
    end_partial(dec, dec->spec.kind == SP_FRAME_EOF ? SP_FRAME_CUT_NONE : SP_FRAME_CUT_EOF);
    reset_state(dec);
}

const char *sp_frame_cut_name(int cut)
{
    switch (cut) {
    case SP_FRAME_CUT_EOF:
        return "EOF";
    case SP_FRAME_CUT_SPEC:
        return "the framing change";
    case SP_FRAME_CUT_DATAGRAM:
        return "the datagram's end";
    default:
        return "nothing";
    }
}

void sp_frame_dec_set_spec(struct sp_frame_dec *dec, const struct sp_frame_spec *spec)
{
    end_partial(dec, SP_FRAME_CUT_SPEC);
    reset_state(dec);
    dec->spec = *spec;
    build_kmp(dec);
}
