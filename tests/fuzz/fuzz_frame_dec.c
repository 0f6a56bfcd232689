/* Fuzzes the framing decoders. The first SPEC_BYTES input bytes choose a
 * spec among all kinds, widths, byte orders and options (small max values so
 * the limits are reached); the rest is fed in pieces, each a length byte
 * (0..31, 0 = an empty chunk) followed by that many bytes; then finish.
 * Every event is checked against the decoder's contract; a violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/frame.h"

#define SPEC_BYTES 11

/* END and ERROR events, compared between the full decoder and one in
 * SP_FRAME_DEC_ENDS_ONLY mode fed the same chunks: the engine uses the
 * latter when nobody wants message bytes, and both must agree. */
struct endrec {
    int type, truncated;
    uint64_t off, chunk, msg_len;
    size_t chunk_off;
};
struct endlog {
    struct endrec *e;
    size_t n, cap;
};

struct fz {
    struct sp_frame_dec dec;
    struct endlog full_ends;
    const unsigned char *chunk; /* the piece being fed */
    size_t chunk_len;
    uint64_t fed;     /* chunks fed */
    uint64_t *starts; /* stream offset of each chunk */
    size_t *lens;
    uint64_t total; /* bytes fed */
    int in_msg, raw;
    uint64_t sum, data_total, blocks, last_off, last_chunk;
    int body_bounded; /* the message can only hold body bytes */
    uint64_t max;
    enum sp_frame_kind kind;
};

static void check(int ok)
{
    if (!ok)
        abort();
}

/* The byte at stream offset o is at chunk_off inside chunk (END: o is the
 * last byte and chunk_off is just past it). */
static void check_pos(const struct fz *f, uint64_t chunk, size_t chunk_off, uint64_t o, int end)
{
    check(chunk >= 1 && chunk <= f->fed);
    uint64_t st = f->starts[chunk - 1];
    check(o >= st && o < st + f->lens[chunk - 1]);
    check(chunk_off == o - st + (uint64_t)end);
}

static void endlog_add(struct endlog *l, const struct sp_frame_ev *ev)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->e = realloc(l->e, l->cap * sizeof *l->e);
        check(l->e != NULL);
    }
    struct endrec r = {(int)ev->type, ev->truncated, ev->off,
                       ev->chunk,     ev->msg_len,   ev->chunk_off};
    if (ev->type == SP_FRAME_EV_ERROR)
        r.msg_len = 0;
    l->e[l->n++] = r;
}

static void on_end_only(void *ud, const struct sp_frame_ev *ev)
{
    check(ev->type == SP_FRAME_EV_END || ev->type == SP_FRAME_EV_ERROR);
    endlog_add(ud, ev);
}

static void on_event(void *ud, const struct sp_frame_ev *ev)
{
    struct fz *f = ud;
    check(!f->raw);
    switch (ev->type) {
    case SP_FRAME_EV_BEGIN:
        check(!f->in_msg);
        check_pos(f, ev->chunk, ev->chunk_off, ev->off, 0);
        check(ev->off >= f->last_off && ev->chunk >= f->last_chunk);
        f->in_msg = 1;
        f->sum = 0;
        f->blocks = 0;
        break;
    case SP_FRAME_EV_DATA: {
        check(f->in_msg && ev->len > 0 && ev->data != NULL);
        const unsigned char *d = ev->data;
        const unsigned char *lo = (const unsigned char *)&f->dec;
        int in_chunk = f->chunk != NULL && d >= f->chunk && d + ev->len <= f->chunk + f->chunk_len;
        int in_dec = d >= lo && d + ev->len <= lo + sizeof f->dec;
        int held_cr = f->kind == SP_FRAME_LINE && ev->len == 1 && d[0] == '\r';
        check(in_chunk || in_dec || held_cr);
        f->sum += ev->len;
        f->data_total += ev->len;
        check(f->data_total <= f->total);
        break;
    }
    case SP_FRAME_EV_BLOCK:
        check(f->in_msg && f->kind == SP_FRAME_BLOCKS && ev->block_len > 0);
        f->blocks += ev->block_len;
        check(f->blocks <= f->max);
        break;
    case SP_FRAME_EV_END:
        endlog_add(&f->full_ends, ev);
        check(f->in_msg);
        check(ev->msg_len == f->sum);
        check(ev->off >= 1 && ev->off <= f->total);
        check_pos(f, ev->chunk, ev->chunk_off, ev->off - 1, 1);
        check(ev->off >= f->last_off && ev->chunk >= f->last_chunk);
        if (f->body_bounded)
            check(ev->msg_len <= f->max);
        if (f->kind == SP_FRAME_EOF)
            check(!ev->truncated);
        f->in_msg = 0;
        f->last_off = ev->off;
        f->last_chunk = ev->chunk;
        break;
    case SP_FRAME_EV_ERROR:
        endlog_add(&f->full_ends, ev);
        check(f->in_msg && ev->reason != NULL);
        check_pos(f, ev->chunk, ev->chunk_off, ev->off, 0);
        check(ev->off >= f->last_off);
        check(f->kind != SP_FRAME_RAW && f->kind != SP_FRAME_EOF && f->kind != SP_FRAME_FIXED);
        /* Only the length-prefix family loses the stream position. */
        check(ev->to_raw == (f->kind != SP_FRAME_LINE && f->kind != SP_FRAME_DELIM));
        f->in_msg = 0;
        f->raw = ev->to_raw;
        f->last_off = ev->off;
        break;
    default:
        check(0);
    }
}

/* Builds a valid spec from the first SPEC_BYTES bytes. */
static void make_spec(const uint8_t *b, struct sp_frame_spec *s)
{
    static const unsigned widths[] = {1, 2, 3, 4, 8, 0};
    static const uint64_t maxes[] = {0, 1, 3, 10, 64, 300, SP_FRAME_MAX_CEILING};
    sp_frame_spec_raw(s);
    s->kind = (enum sp_frame_kind)(b[0] % 9);
    int lenlike = s->kind == SP_FRAME_LEN || s->kind == SP_FRAME_BLOCKS;
    if (s->kind == SP_FRAME_RAW || s->kind == SP_FRAME_EOF)
        return;
    uint64_t m = maxes[b[2] % 7];
    s->max = m ? m : lenlike ? SP_FRAME_LEN_MAX_DEFAULT : SP_FRAME_MAX_DEFAULT;
    if (lenlike) {
        s->width = widths[b[1] % 6];
        s->little_endian = s->width > 1 && (b[1] & 0x40) != 0;
        s->offset = b[3] % 5;
        s->adjust = (int8_t)b[4] % 9;
        switch (b[5] % 4) {
        case 0:
            s->strip = s->width ? s->offset + s->width : SP_FRAME_STRIP_HEADER;
            break;
        case 1:
            s->strip = 0;
            break;
        default:
            s->strip = b[5] % 13;
        }
    }
    if (s->kind == SP_FRAME_FIXED) {
        s->fixed = b[6] % 16 + 1;
        if (s->fixed > s->max)
            s->fixed = s->max;
    }
    if (s->kind == SP_FRAME_LINE) {
        s->delim[0] = '\n';
        s->delim_len = 1;
    }
    if (s->kind == SP_FRAME_DELIM || s->kind == SP_FRAME_DECIMAL) {
        /* Delimiters from a small alphabet make partial matches likely. */
        s->delim_len = b[6] % 4 + 1;
        for (size_t i = 0; i < s->delim_len; i++)
            s->delim[i] = b[7 + i] & 0x80 ? b[7 + i] : (uint8_t)("ab\r\n"[b[7 + i] % 4]);
        if (s->kind == SP_FRAME_DECIMAL && s->delim[0] >= '0' && s->delim[0] <= '9')
            s->delim[0] = ':';
    }
}

/* The spec must survive its canonical text. */
static void check_spec_text(const struct sp_frame_spec *s)
{
    char text[SP_FRAME_SPEC_TEXT_MAX], err[200];
    struct sp_frame_spec back;
    sp_frame_spec_format(s, text, sizeof text);
    check(sp_frame_spec_parse(&back, text, err, sizeof err) == 0);
    check(back.kind == s->kind && back.width == s->width && back.max == s->max);
    check(back.little_endian == s->little_endian && back.fixed == s->fixed);
    check(back.offset == s->offset && back.adjust == s->adjust && back.strip == s->strip);
    check(back.delim_len == s->delim_len && memcmp(back.delim, s->delim, s->delim_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < SPEC_BYTES)
        return 0;
    struct fz *f = calloc(1, sizeof *f);
    check(f != NULL);
    struct sp_frame_spec spec;
    make_spec(data, &spec);
    check_spec_text(&spec);
    f->kind = spec.kind;
    f->max = spec.max;
    int default_strip =
        spec.strip == (spec.width ? spec.offset + spec.width : SP_FRAME_STRIP_HEADER);
    f->body_bounded =
        spec.kind != SP_FRAME_EOF &&
        ((spec.kind != SP_FRAME_LEN && spec.kind != SP_FRAME_BLOCKS) || default_strip);
    data += SPEC_BYTES;
    size -= SPEC_BYTES;
    f->starts = calloc(size + 1, sizeof *f->starts);
    f->lens = calloc(size + 1, sizeof *f->lens);
    check(f->starts != NULL && f->lens != NULL);
    sp_frame_dec_init(&f->dec, &spec, on_event, f);
    struct endlog ends = {0};
    struct sp_frame_dec *quick = malloc(sizeof *quick);
    check(quick != NULL);
    sp_frame_dec_init(quick, &spec, on_end_only, &ends);
    sp_frame_dec_set_flags(quick, SP_FRAME_DEC_ENDS_ONLY);
    size_t pos = 0;
    while (pos < size) {
        size_t l = data[pos++] % 32;
        if (l > size - pos)
            l = size - pos;
        f->starts[f->fed] = f->total;
        f->lens[f->fed] = l;
        f->fed++;
        f->chunk = data + pos;
        f->chunk_len = l;
        f->total += l;
        sp_frame_feed(&f->dec, data + pos, l);
        sp_frame_feed(quick, data + pos, l);
        check(!f->raw || sp_frame_dec_kind(&f->dec) == SP_FRAME_RAW);
        pos += l;
    }
    f->chunk = NULL;
    f->chunk_len = 0;
    sp_frame_finish(&f->dec);
    sp_frame_finish(quick);
    check(!f->in_msg);
    check(ends.n == f->full_ends.n);
    for (size_t i = 0; i < ends.n; i++) {
        const struct endrec *a = &ends.e[i], *b = &f->full_ends.e[i];
        check(a->type == b->type && a->truncated == b->truncated && a->off == b->off &&
              a->chunk == b->chunk && a->chunk_off == b->chunk_off && a->msg_len == b->msg_len);
    }
    free(ends.e);
    free(f->full_ends.e);
    free(quick);
    free(f->starts);
    free(f->lens);
    free(f);
    return 0;
}
