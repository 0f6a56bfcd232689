/* Message assembly: drives a socket's frame decoder (frame.h) with every recv
 * chunk and turns its callbacks into `msg` and `frame_error` events, with the
 * chunk span, the recv boundaries inside each message (cuts) and, for blocks
 * framing, the block lengths. The message bytes are gathered only while
 * someone wants them, and only as many as the most anyone reads (the history
 * keeps 1 MiB of an event, the TUI reads no more): a 256 MiB message shown
 * in the TUI costs 1 MiB, not 256. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Message bodies kept above this size are not kept around between messages. */
#define BODY_KEEP_CAP (1024u * 1024)

struct sp_framer {
    struct sp_frame_dec dec;
    int active;          /* dec is initialised and being fed */
    int lost;            /* a length error stopped decoding (the spec still encodes) */
    uint64_t chunk_base; /* recv seq = chunk_base + decoder chunk number */
    uint64_t off_base;   /* stream offset = off_base + decoder offset */
    uint64_t cur_chunk;  /* recv seq of the chunk being fed */
    int want_meta, want_data;
    int feeding;
    int pending; /* a spec change asked for from inside a callback */
    struct sp_frame_spec next;

    /* The message in progress. */
    int meta;    /* its positions are being tracked (someone wanted msg events at BEGIN) */
    int collect; /* gathering its bytes (decided at BEGIN) */
    uint64_t chunk_first, off, len, last_chunk;
    uint32_t first_off;
    struct sp_buf body; /* its first bytes: all of them while body.len == len */
    size_t spec_max;    /* the most the spec lets a message hold */
    size_t keep_max;    /* the most anyone reads now (at most spec_max) */
    uint32_t cuts[SP_EV_CUTS_MAX];
    size_t ncuts;
    uint64_t *blocks;
    size_t nblocks, capblocks;
};

/* The stream the decoder is fed: the recv chunks, or on a TLS socket the
 * plaintext reads (SSL_read results). */
static uint64_t fed_chunks(const struct sp_sock *s)
{
    return s->tls != NULL ? s->pt_chunks : s->chunks;
}

static uint64_t fed_bytes(const struct sp_sock *s)
{
    return s->tls != NULL ? s->pt_bytes : s->bytes_in;
}

static void on_frame(void *ud, const struct sp_frame_ev *fev)
{
    struct sp_sock *s = ud;
    struct sp_framer *fr = s->fr;
    struct sp_engine *eng = s->eng;
    /* A subscriber closed the socket mid-chunk: `closed` and `summary` were
     * its last events, so the rest of the chunk is not decoded into more. */
    if (s->closed)
        return;
    /* The fast path when only the count matters (headless --quiet): the
     * decoder then reports only END and ERROR (SP_FRAME_DEC_ENDS_ONLY). A
     * message that began meanwhile is not tracked (meta is 0 after every
     * END and ERROR, and only a BEGIN seen with want_meta sets it). */
    if (!fr->want_meta && fev->type == SP_FRAME_EV_END) {
        s->msgs++;
        fr->meta = 0;
        return;
    }
    if (!fr->want_meta && fev->type != SP_FRAME_EV_ERROR)
        return; /* a BEGIN, DATA or BLOCK fed before the flag took effect */
    switch (fev->type) {
    case SP_FRAME_EV_BEGIN:
        fr->meta = 1;
        fr->chunk_first = fr->chunk_base + fev->chunk;
        fr->first_off = (uint32_t)fev->chunk_off;
        fr->off = fr->off_base + fev->off;
        fr->len = 0;
        fr->ncuts = 0;
        fr->nblocks = 0;
        fr->last_chunk = fr->cur_chunk;
        fr->collect = fr->want_data;
        sp_buf_reset(&fr->body);
        break;
    case SP_FRAME_EV_DATA:
        if (fr->want_meta && fr->len > 0 && fr->cur_chunk != fr->last_chunk &&
            fr->ncuts < SP_EV_CUTS_MAX)
            fr->cuts[fr->ncuts++] = (uint32_t)fr->len;
        fr->last_chunk = fr->cur_chunk;
        /* Only a prefix is kept: once a byte was left out (the cap, or nobody
         * wanted the bytes for a while), nothing after it is. */
        if (fr->collect && fr->want_data && fr->body.len == fr->len &&
            fr->body.len < fr->keep_max) {
            size_t n = fev->len;
            if (n > fr->keep_max - fr->body.len)
                n = fr->keep_max - fr->body.len;
            sp_buf_append(&fr->body, fev->data, n);
        }
        fr->len += fev->len;
        break;
    case SP_FRAME_EV_BLOCK:
        if (fr->want_meta && fr->nblocks < SP_EV_BLOCKS_MAX) {
            if (fr->nblocks == fr->capblocks) {
                size_t ncap = fr->capblocks ? fr->capblocks * 2 : 16;
                fr->blocks = sp_xreallocarray(fr->blocks, ncap, sizeof *fr->blocks);
                fr->capblocks = ncap;
            }
            fr->blocks[fr->nblocks++] = fev->block_len;
        }
        break;
    case SP_FRAME_EV_END:
        s->msgs++;
        if (fr->meta && sp__wants(eng, SP_EV_MSG)) {
            struct sp_event ev = {.type = SP_EV_MSG, .unread = -1};
            ev.seq = s->msgs;
            ev.len = fev->msg_len;
            if (fr->collect) {
                ev.data = fr->body.data != NULL ? fr->body.data : (const unsigned char *)"";
                ev.data_len = fr->body.len;
            }
            ev.truncated = fev->truncated;
            ev.off = fr->off;
            ev.end_off = fr->off_base + fev->off;
            ev.chunk_first = fr->chunk_first;
            ev.chunk_first_off = fr->first_off;
            ev.chunk_last = fr->chunk_base + fev->chunk;
            ev.chunk_last_end = (uint32_t)fev->chunk_off;
            ev.cuts = fr->ncuts ? fr->cuts : NULL;
            ev.ncuts = fr->ncuts;
            if (s->spec.kind == SP_FRAME_BLOCKS) {
                ev.blocks = fr->blocks;
                ev.nblocks = fr->nblocks;
            }
            sp__emit(eng, s, &ev);
        }
        fr->meta = 0;
        if (fr->body.cap > BODY_KEEP_CAP)
            sp_buf_cleanup(&fr->body);
        break;
    case SP_FRAME_EV_ERROR:
        fr->meta = 0;
        if (sp__wants(eng, SP_EV_FRAME_ERROR)) {
            struct sp_event ev = {.type = SP_EV_FRAME_ERROR, .unread = -1};
            ev.off = fr->off_base + fev->off;
            ev.reason = fev->reason;
            sp__emit(eng, s, &ev);
        }
        if (fev->to_raw) {
            /* The decoder lost the stream position: what arrives from now on
             * is shown as raw chunks. `send` keeps framing with the spec the
             * user chose; only decoding stopped. */
            fr->active = 0;
            fr->lost = 1;
            char spec[SP_FRAME_SPEC_TEXT_MAX], msg[SP_FRAME_SPEC_TEXT_MAX + 160];
            sp_frame_spec_format(&s->spec, spec, sizeof spec);
            snprintf(msg, sizeof msg,
                     "decoding switched to raw: message boundaries were lost after a length "
                     "error; send still frames with %s (`framing SPEC` restarts decoding)",
                     spec);
            sp__emit_notice(s, msg);
        }
        break;
    }
}

static size_t keep_max(const struct sp_frame_spec *spec)
{
    if (spec->kind == SP_FRAME_EOF)
        return SP_HIST_BYTES_MAX;
    return spec->max > 0 && spec->max < SP_FRAME_MAX_CEILING ? (size_t)spec->max
                                                             : SP_FRAME_MAX_CEILING;
}

static void apply(struct sp_sock *s, const struct sp_frame_spec *spec)
{
    struct sp_framer *fr = s->fr;
    s->spec = *spec;
    if (fr != NULL)
        fr->lost = 0;
    if (spec->kind == SP_FRAME_RAW) {
        if (fr != NULL && fr->active) {
            /* Ends a message in progress (as truncated) before going raw. */
            fr->feeding = 1;
            sp_frame_dec_set_spec(&fr->dec, spec);
            fr->feeding = 0;
            fr->active = 0;
        }
        return;
    }
    if (fr == NULL) {
        fr = sp_xcalloc(1, sizeof *fr);
        s->fr = fr;
    }
    fr->spec_max = keep_max(spec);
    fr->keep_max = 0;
    if (!fr->active) {
        sp_frame_dec_init(&fr->dec, spec, on_frame, s);
        fr->chunk_base = fed_chunks(s);
        fr->off_base = fed_bytes(s);
        fr->active = 1;
    } else {
        fr->feeding = 1;
        sp_frame_dec_set_spec(&fr->dec, spec);
        fr->feeding = 0;
    }
}

void sp__framer_set(struct sp_sock *s, const struct sp_frame_spec *spec)
{
    if (s->fr != NULL && s->fr->feeding) {
        /* Asked from a msg callback: the decoder is mid-chunk. */
        s->fr->pending = 1;
        s->fr->next = *spec;
        return;
    }
    apply(s, spec);
}

static void after_feed(struct sp_sock *s)
{
    struct sp_framer *fr = s->fr;
    fr->feeding = 0;
    if (fr->pending) {
        fr->pending = 0;
        struct sp_frame_spec next = fr->next;
        apply(s, &next);
    }
}

/* Looks up who wants msg events now. With nobody (headless --quiet) only
 * the count is kept, so the decoder is told to skip everything but END. */
static void wants(struct sp_sock *s)
{
    struct sp_framer *fr = s->fr;
    fr->want_meta = sp__wants(s->eng, SP_EV_MSG);
    size_t need = sp__msg_data_need(s->eng);
    fr->keep_max = need < fr->spec_max ? need : fr->spec_max;
    fr->want_data = fr->want_meta && fr->keep_max > 0;
    /* Each datagram or seqpacket record is framed on its own: a frame
     * never spans two. */
    unsigned dgram = sp_kind_has_records(s->kind) ? SP_FRAME_DEC_DGRAM : 0;
    sp_frame_dec_set_flags(&fr->dec, dgram | (fr->want_meta ? 0 : SP_FRAME_DEC_ENDS_ONLY));
}

void sp__framer_feed(struct sp_sock *s, const unsigned char *p, size_t n)
{
    struct sp_framer *fr = s->fr;
    if (!fr->active)
        return;
    fr->cur_chunk = fed_chunks(s);
    wants(s);
    fr->feeding = 1;
    sp_frame_feed(&fr->dec, p, n);
    after_feed(s);
}

void sp__framer_finish(struct sp_sock *s)
{
    struct sp_framer *fr = s->fr;
    if (fr == NULL || !fr->active)
        return;
    wants(s);
    fr->feeding = 1;
    sp_frame_finish(&fr->dec);
    after_feed(s);
}

int sp__framer_lost(const struct sp_sock *s)
{
    return s->fr != NULL && s->fr->lost;
}

void sp__framer_release(struct sp_sock *s)
{
    struct sp_framer *fr = s->fr;
    if (fr == NULL)
        return;
    sp_buf_cleanup(&fr->body);
    free(fr->blocks);
    free(fr);
    s->fr = NULL;
}

void sp__framer_free(struct sp_sock *s)
{
    sp__framer_release(s);
}
