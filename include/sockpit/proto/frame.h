/* Framing: spec parsing, push decoders and encoders (DESIGN §3).
 *
 * A decoder is a push parser. The caller owns struct sp_frame_dec, feeds it
 * each recv chunk with sp_frame_feed() and calls sp_frame_finish() at EOF.
 * The decoder reports what it finds through one callback; it never sees a
 * socket, never allocates, and never trusts a length a peer announced: a
 * length over max is rejected as soon as the header is complete. */
#ifndef SOCKPIT_FRAME_H
#define SOCKPIT_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum sp_frame_kind {
    SP_FRAME_RAW,
    SP_FRAME_EOF,
    SP_FRAME_FIXED,
    SP_FRAME_LINE,
    SP_FRAME_DELIM,
    SP_FRAME_LEN,
    SP_FRAME_NETSTRING,
    SP_FRAME_DECIMAL,
    SP_FRAME_BLOCKS,
};

#define SP_FRAME_DELIM_MAX       16
#define SP_FRAME_OFFSET_MAX      64 /* header bytes before a length field */
#define SP_FRAME_MAX_CEILING     (256u * 1024 * 1024)
#define SP_FRAME_LEN_MAX_DEFAULT (4u * 1024 * 1024)
#define SP_FRAME_MAX_DEFAULT     (64u * 1024)
#define SP_FRAME_SPEC_TEXT_MAX   128

/* strip value meaning "the whole header" (offset + length field). It is the
 * default for varint fields, whose width varies from frame to frame. */
#define SP_FRAME_STRIP_HEADER 0xFFFFFFFFu
/* Bounds of adjust (either sign): enough for any real protocol, and small
 * enough that value + adjust never overflows. */
#define SP_FRAME_ADJUST_MAX ((int64_t)SP_FRAME_MAX_CEILING)

/* A parsed framing spec. Plain data: copy it freely. */
struct sp_frame_spec {
    enum sp_frame_kind kind;
    unsigned width;    /* len/blocks: 1, 2, 3, 4 or 8 bytes; 0 = varint (LEB128) */
    int little_endian; /* len/blocks: 1 for the `le` suffix */
    uint64_t fixed;    /* fixed:N */
    unsigned char delim[SP_FRAME_DELIM_MAX]; /* delim:SEQ, decimal:SEQ; line: "\n" */
    size_t delim_len;
    uint64_t max;    /* largest message body accepted (blocks: the whole series) */
    unsigned offset; /* len/blocks: header bytes before the length field */
    int64_t adjust;  /* len/blocks: added to the length value */
    unsigned strip;  /* len/blocks: frame bytes dropped from the message (per block),
                        or SP_FRAME_STRIP_HEADER */
};

/* Parses text such as "len:u32le,max=1M,offset=2" into spec (defaults filled
 * in). Returns 0, or -1 with a one-line reason in err. */
int sp_frame_spec_parse(struct sp_frame_spec *spec, const char *text, char *err, size_t errlen);
/* The canonical text of spec, options only where they differ from defaults;
 * delimiters in escape syntax. Always NUL-terminates; returns strlen. */
size_t sp_frame_spec_format(const struct sp_frame_spec *spec, char *buf, size_t len);
/* The raw spec. */
void sp_frame_spec_raw(struct sp_frame_spec *spec);

/* What the decoder reports, in stream order, for each message:
 *   BEGIN, then zero or more DATA (and, for blocks, one BLOCK per non-empty
 *   block before its DATA), then END;
 * or ERROR, which abandons the message in progress (no END follows it).
 * BEGIN comes with the frame's first byte, so every ERROR follows a BEGIN.
 * Chunks are counted from 1 (one sp_frame_feed() call = one chunk, even an
 * empty one). Errors: a length-prefix error (len, blocks, netstring,
 * decimal) sets to_raw and the decoder becomes raw; a delimiter (line,
 * delim) not found within max bytes is reported once, then the decoder
 * drops bytes up to the next delimiter and starts afresh after it. Under
 * raw the decoder reports nothing (the caller shows the chunks). With
 * SP_FRAME_DEC_ENDS_ONLY only the END and ERROR events of this sequence are
 * reported. With SP_FRAME_DEC_DGRAM each chunk is a datagram, framed on its
 * own: see that flag. */
enum sp_frame_ev_type {
    SP_FRAME_EV_BEGIN,
    SP_FRAME_EV_DATA,
    SP_FRAME_EV_BLOCK,
    SP_FRAME_EV_END,
    SP_FRAME_EV_ERROR,
};

/* Fields not meaningful for an event's type are 0 (NULL). */
struct sp_frame_ev {
    enum sp_frame_ev_type type;
    /* DATA: message bytes (after strip and \r removal), borrowed for the call.
     * They point into the fed chunk, into the spec's constant delimiter (bytes
     * held back as a possible delimiter that turned out to be body), or into
     * the decoder's copy of a header that arrived split across chunks. */
    const unsigned char *data;
    size_t len;
    /* BEGIN: chunk and offset inside it of the frame's first byte (header
     * included). END: chunk holding the frame's last byte and the offset just
     * past it. ERROR: where the bad byte is. */
    uint64_t chunk;
    size_t chunk_off;
    /* Stream offset (bytes since the decoder was created or reset) of the
     * frame's first byte (BEGIN), just past its last byte (END), or of the bad
     * byte (ERROR). */
    uint64_t off;
    uint64_t msg_len;   /* END: message bytes delivered as DATA */
    uint64_t block_len; /* BLOCK: this block's length */
    int truncated;      /* END: 0, or what cut the message short (SP_FRAME_CUT_*) */
    const char *reason; /* ERROR: what was wrong, with its figures ("length 300 over max
                           100"); valid for the call */
    int to_raw;         /* ERROR: the decoder lost the stream position and is now raw */
};

/* What ended a message before its frame was complete (END's truncated). */
enum sp_frame_cut {
    SP_FRAME_CUT_NONE,
    SP_FRAME_CUT_EOF,      /* sp_frame_finish(): the peer's EOF */
    SP_FRAME_CUT_SPEC,     /* sp_frame_dec_set_spec(): the framing changed */
    SP_FRAME_CUT_DATAGRAM, /* SP_FRAME_DEC_DGRAM: the datagram ended */
};
/* "EOF", "the framing change", "the datagram's end": what a cut is called
 * in "truncated by ...". */
const char *sp_frame_cut_name(int cut);

/* Longest ERROR reason, terminator included. */
#define SP_FRAME_REASON_MAX 96

typedef void (*sp_frame_cb)(void *ud, const struct sp_frame_ev *ev);

/* Decoder state. Caller-owned; all fields private. O(1) in size: nothing a
 * peer sends makes it grow, and the decoder never allocates. */
struct sp_frame_dec {
    struct sp_frame_spec spec;
    sp_frame_cb cb;
    void *ud;
    unsigned flags;      /* SP_FRAME_DEC_* */
    uint64_t chunk;      /* number of the chunk being fed */
    uint64_t off;        /* stream offset of the next byte */
    uint64_t base;       /* stream offset of the current chunk's first byte */
    uint64_t last_chunk; /* the last chunk that held a byte, and the offset past it */
    size_t last_end;
    int state;
    int in_msg;
    int skipping;      /* resynchronising after an over-long message */
    int cr_pending;    /* line: a '\r' held until the next byte decides */
    uint64_t need;     /* body bytes still expected */
    uint64_t skip;     /* body bytes still to drop (strip reaching into the body) */
    uint64_t msg_len;  /* bytes delivered as DATA in this message */
    uint64_t body_len; /* delim/line: body bytes so far; blocks: sum of block lengths */
    uint64_t value;    /* netstring/decimal: length being parsed */
    unsigned digits;
    unsigned hdr_len; /* len/blocks: header bytes gathered when split across chunks */
    unsigned char hdr[SP_FRAME_OFFSET_MAX + 16];
    unsigned match;                        /* delimiter bytes matched (held back) */
    unsigned char kmp[SP_FRAME_DELIM_MAX]; /* failure function of the delimiter */
    /* line/delim: number and start offset of the last non-empty chunks, so an
     * error on a held-back byte from an earlier chunk is placed exactly. */
    uint64_t ring_chunk[SP_FRAME_DELIM_MAX];
    uint64_t ring_base[SP_FRAME_DELIM_MAX];
    unsigned ring_pos;
    char reason[SP_FRAME_REASON_MAX]; /* the last ERROR's text */
};

/* Sets up dec for spec; cb is called from feed/finish/set_spec only, and must
 * not call back into the same decoder. */
void sp_frame_dec_init(struct sp_frame_dec *dec, const struct sp_frame_spec *spec, sp_frame_cb cb,
                       void *ud);
/* Switches to a new spec at the next byte. A message in progress is abandoned
 * (reported as END with truncated SP_FRAME_CUT_SPEC); chunk and offset
 * counting go on. */
void sp_frame_dec_set_spec(struct sp_frame_dec *dec, const struct sp_frame_spec *spec);
/* Decoder flag: report only END and ERROR, no BEGIN, DATA or BLOCK, for a
 * caller that only needs message boundaries (a message counter). END is
 * exactly as without the flag (positions, msg_len, truncated), and the
 * decoder skips bodies without a call per message part. */
#define SP_FRAME_DEC_ENDS_ONLY 0x1u
/* Decoder flag: every chunk is one datagram (UDP, Unix datagram sockets),
 * and a frame never spans two. A message still open at the end of a chunk
 * ends there (truncated SP_FRAME_CUT_DATAGRAM; under `eof` the datagram is
 * the message, complete). A length-prefix error costs only the rest of its
 * datagram (to_raw is 0): the next chunk is decoded afresh. */
#define SP_FRAME_DEC_DGRAM 0x2u
/* Sets the SP_FRAME_DEC_* flags (0 after init), effective from the next
 * event; may change between any two feeds, also inside a message: END's
 * msg_len still counts the whole message. */
void sp_frame_dec_set_flags(struct sp_frame_dec *dec, unsigned flags);
/* Feeds one chunk. Never fails: bad input is reported as ERROR events. */
void sp_frame_feed(struct sp_frame_dec *dec, const unsigned char *p, size_t n);
/* The peer sent EOF: a message in progress ends (for `eof` normally,
 * otherwise truncated SP_FRAME_CUT_EOF). */
void sp_frame_finish(struct sp_frame_dec *dec);
/* The current spec kind (it becomes raw after a length-prefix error). */
enum sp_frame_kind sp_frame_dec_kind(const struct sp_frame_dec *dec);

/* Encoding: the wire form is head + body + pad_len NUL bytes + tail, so the
 * caller can writev() the body without copying it. */
#define SP_FRAME_HEAD_MAX (SP_FRAME_OFFSET_MAX + 48)
/* Room for a delimiter, a ',' or a whole zero block (offset + length field). */
#define SP_FRAME_TAIL_MAX (SP_FRAME_OFFSET_MAX + 16)
struct sp_frame_wire {
    unsigned char head[SP_FRAME_HEAD_MAX];
    size_t head_len;
    size_t pad_len;
    unsigned char tail[SP_FRAME_TAIL_MAX];
    size_t tail_len;
    int body; /* 0 when the body is not sent (blocks --end without data) */
};

#define SP_FRAME_ENC_PAD 0x1 /* fixed: pad a short message with NUL bytes */
#define SP_FRAME_ENC_END 0x2 /* blocks: finish the series (zero block after the data, if any) */

/* Frames one message of len bytes. Returns 0, or -1 with a reason in err (too
 * long for max or the field width, wrong size for fixed, ...). With
 * SP_FRAME_ENC_END and len 0 only the zero block is produced; blocks refuses
 * an empty message without it (an empty block would end the series). Under
 * line/delim a body that contains the delimiter is framed anyway: the user
 * asked for exactly these bytes, and the peer will see several messages. */
int sp_frame_encode(const struct sp_frame_spec *spec, size_t len, unsigned flags,
                    struct sp_frame_wire *wire, char *err, size_t errlen);
/* Convenience for previews and tests: appends the whole wire form of msg. */
struct sp_buf;
int sp_frame_encode_buf(const struct sp_frame_spec *spec, const unsigned char *msg, size_t len,
                        unsigned flags, struct sp_buf *out, char *err, size_t errlen);

#endif
