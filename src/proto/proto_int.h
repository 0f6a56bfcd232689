/* Internals of the protocol layer, shared by the files of src/proto/ only:
 * nothing outside this folder sees them (its include directory is PRIVATE). */
#ifndef SOCKPIT_PROTO_INT_H
#define SOCKPIT_PROTO_INT_H

#include <stddef.h>
#include <stdint.h>

struct sp_buf;

/* printf into err (when err != NULL and errlen > 0) and return -1: the error
 * path of the parsers and encoders. Defined in buf.c. */
int sp__fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the escape of the byte c into e (room for 4 bytes): `\\ \n \r \t
 * \0 \e` by name, every other byte `\xHH` (lowercase). Returns its length.
 * The one escaper behind sp_escape(), the framing spec text and the safe
 * renderer. Defined in escape.c. */
size_t sp__escape_byte(unsigned char c, char *e);

/* Appends p[0..n) in escape syntax: printable ASCII passes except `\` and
 * `"` (`\"`), every byte listed in hex_also (may be NULL) is written `\xHH`,
 * every other byte as sp__escape_byte() writes it. Defined in escape.c. */
void sp__escape_set(const void *p, size_t n, struct sp_buf *out, const char *hex_also);

/* Big-endian fields of packet headers (pktsum.c, tcpseg.c). */
static inline unsigned sp__be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static inline uint32_t sp__be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* IPv6 extension headers (RFC 8200 §4) walked to reach the transport
 * header: is nh one, and how long is the one at h (its first 8 bytes
 * there)? A fragment header is 8 bytes, AH counts 4-byte units, the rest
 * 8-byte units. */
static inline int sp__ip6_is_ext(unsigned nh)
{
    return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135;
}

static inline size_t sp__ip6_ext_len(unsigned nh, const unsigned char *h)
{
    return nh == 44 ? 8 : nh == 51 ? ((size_t)h[1] + 2) * 4 : ((size_t)h[1] + 1) * 8;
}

/* At most this many IPv6 extension headers are walked: a chain of hundreds
 * of empty ones is a malformed packet, not a reason to loop. */
#define SP__IP6_EXT_MAX 8

#endif
