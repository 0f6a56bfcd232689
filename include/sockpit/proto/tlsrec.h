/* The TLS record layer, decoded for the view (RFC 5246 §6.2, RFC 8446 §5):
 * the 5-byte header of every record (content type, record-layer version,
 * length) and, where the body is plaintext, the handshake messages that begin
 * in it and the alert it carries.
 *
 * A push decoder like the framings': the caller feeds one direction's
 * ciphertext stream chunk by chunk, the decoder reports each record once its
 * last byte has arrived. It never allocates and never trusts a length beyond
 * what TLS allows.
 *
 * What it cannot see it says it cannot see. After a change_cipher_spec in a
 * TLS 1.2 stream, handshake and alert records are encrypted; in TLS 1.3
 * every record after the ServerHello travels as application_data (the real
 * content type is inside the encryption), and the change_cipher_spec is a
 * no-op for middleboxes. The decoder marks such records `encrypted` and does
 * not guess what they hold; the engine, which drives OpenSSL, reports what
 * OpenSSL decrypted in its own events. */
#ifndef SOCKPIT_TLSREC_H
#define SOCKPIT_TLSREC_H

#include <stddef.h>
#include <stdint.h>

#define SP_TLSREC_HEADER 5
/* The largest body a record may have: 2^14 bytes of plaintext plus 2048 of
 * protection (TLSCiphertext in RFC 5246 §6.2.3; TLS 1.3 allows less). */
#define SP_TLSREC_LEN_MAX (16384u + 2048u)
/* Handshake message types listed per record; more are counted in hs_more. */
#define SP_TLSREC_HS_MAX 8

enum sp_tls_ct {
    SP_TLS_CT_CCS = 20,
    SP_TLS_CT_ALERT = 21,
    SP_TLS_CT_HANDSHAKE = 22,
    SP_TLS_CT_APPDATA = 23,
    SP_TLS_CT_HEARTBEAT = 24,
};

/* One record, or the error that stopped the decoder (error != NULL). */
struct sp_tlsrec {
    uint64_t off;                     /* stream offset of the header's first byte */
    uint64_t end_off;                 /* just past the record */
    uint64_t chunk_first, chunk_last; /* the feeds (from 1) holding its first and last byte */
    uint8_t type;                     /* content type as on the wire */
    uint16_t version;                 /* record-layer version as on the wire */
    uint16_t len;                     /* body length */
    int encrypted;                    /* the body is ciphertext: its content is not known */
    /* Plaintext handshake records: the types of the messages that begin in
     * this record, in order (nhs of them, hs_more beyond those listed), and
     * whether the record begins with the rest of a message begun earlier. */
    uint8_t hs[SP_TLSREC_HS_MAX];
    size_t nhs;
    size_t hs_more;
    int hs_cont;
    /* Plaintext alerts: level (1 warning, 2 fatal) and description, or -1. */
    int alert_level, alert_desc;
    /* Set when the bytes at off are not a TLS record: the decoder stops
     * (every later feed is ignored) and this is the last report. */
    const char *error;
};

typedef void (*sp_tlsrec_cb)(void *ud, const struct sp_tlsrec *rec);

struct sp_tlsrec_dec {
    sp_tlsrec_cb cb;
    void *ud;
    uint64_t off;   /* stream offset of the next byte fed */
    uint64_t chunk; /* feeds so far */
    unsigned char hdr[SP_TLSREC_HEADER];
    size_t hdr_have;
    size_t body_left;
    struct sp_tlsrec cur;
    int after_ccs; /* a change_cipher_spec was seen */
    int tls13;     /* the connection negotiated TLS 1.3 (told by the caller) */
    int lost;
    /* The handshake message stream, across records. */
    unsigned char hsh[4];
    size_t hsh_have;
    uint32_t hs_left;
    unsigned char alert[2];
    size_t alert_have;
    char err[96];
};

void sp_tlsrec_init(struct sp_tlsrec_dec *d, sp_tlsrec_cb cb, void *ud);
/* Feeds the next n bytes of the stream (one chunk: chunk numbers count these
 * calls). Reports every record completed by them, in order. */
void sp_tlsrec_feed(struct sp_tlsrec_dec *d, const unsigned char *p, size_t n);
/* The connection negotiated TLS 1.3: a change_cipher_spec then no longer
 * starts encryption of handshake and alert records (they are plaintext or
 * travel as application_data). */
void sp_tlsrec_set_tls13(struct sp_tlsrec_dec *d);
/* Bytes of an incomplete record held back (header or body), 0 between
 * records. */
size_t sp_tlsrec_pending(const struct sp_tlsrec_dec *d);

/* "handshake", "alert", ... or NULL for a type TLS does not define. */
const char *sp_tls_ct_name(uint8_t type);
/* "ClientHello", "Finished", ... or NULL. */
const char *sp_tls_hs_name(uint8_t type);
/* "close_notify", "handshake_failure", ... or NULL. */
const char *sp_tls_alert_name(int desc);
/* "warning", "fatal" or NULL. */
const char *sp_tls_alert_level_name(int level);
/* "TLS1.2", "SSL3.0", ... or NULL. */
const char *sp_tls_version_name(uint16_t version);
/* What the record holds in words, for events: "ClientHello",
 * "ServerHello, Certificate (+2)", "... (continued)", "fatal
 * handshake_failure", "encrypted", "" for application data. Always
 * terminated; returns strlen. */
size_t sp_tlsrec_describe(const struct sp_tlsrec *rec, char *buf, size_t len);

struct sp_buf;
struct sp_event;
/* The text and JSON forms of tls_record and tls events (event.c calls
 * them): every string passes through sp_render(). */
void sp_tls_event_text(struct sp_buf *out, const struct sp_event *ev, int utf8);
void sp_tls_event_json(struct sp_buf *out, const struct sp_event *ev);
/* The event fields of a record (summary not set). */
void sp_tlsrec_to_event(const struct sp_tlsrec *rec, struct sp_event *ev);

#endif
