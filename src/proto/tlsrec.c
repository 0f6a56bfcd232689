/* The TLS record-layer decoder (tlsrec.h): a push state machine over one
 * direction's byte stream, resumable at any byte, never allocating. */
#include "sockpit/proto/tlsrec.h"

#include <stdio.h>
#include <string.h>

void sp_tlsrec_init(struct sp_tlsrec_dec *d, sp_tlsrec_cb cb, void *ud)
{
    memset(d, 0, sizeof *d);
    d->cb = cb;
    d->ud = ud;
}

void sp_tlsrec_set_tls13(struct sp_tlsrec_dec *d)
{
    d->tls13 = 1;
}

size_t sp_tlsrec_pending(const struct sp_tlsrec_dec *d)
{
    if (d->lost || d->hdr_have == 0)
        return 0;
    return d->hdr_have + (d->hdr_have == SP_TLSREC_HEADER ? d->cur.len - d->body_left : 0);
}

/* d->err says what is wrong: the decoder stops here. */
static void fail(struct sp_tlsrec_dec *d)
{
    d->cur.error = d->err;
    d->cur.end_off = d->cur.off;
    d->cur.chunk_last = d->chunk;
    d->lost = 1;
    d->cb(d->ud, &d->cur);
}

static void complete(struct sp_tlsrec_dec *d)
{
    struct sp_tlsrec *r = &d->cur;
    r->end_off = d->off;
    r->chunk_last = d->chunk;
    if (r->type == SP_TLS_CT_ALERT && !r->encrypted && d->alert_have == 2) {
        r->alert_level = d->alert[0];
        r->alert_desc = d->alert[1];
    }
    if (r->type == SP_TLS_CT_CCS)
        d->after_ccs = 1;
    d->hdr_have = 0;
    d->cb(d->ud, r);
}

/* The header is complete: check it and start the body. 0, or -1 when the
 * bytes are not a TLS record. */
static int header(struct sp_tlsrec_dec *d)
{
    struct sp_tlsrec *r = &d->cur;
    const unsigned char *h = d->hdr;
    if (h[0] < SP_TLS_CT_CCS || h[0] > SP_TLS_CT_HEARTBEAT) {
        if (h[0] & 0x80)
            snprintf(d->err, sizeof d->err, "byte 0x%02x: an SSLv2-style header, not a TLS record",
                     h[0]);
        else
            snprintf(d->err, sizeof d->err, "content type %u is not a TLS record type (20-24)",
                     h[0]);
        fail(d);
        return -1;
    }
    if (h[1] != 3) {
        snprintf(d->err, sizeof d->err, "version major %u is not TLS (3)", h[1]);
        fail(d);
        return -1;
    }
    r->type = h[0];
    r->version = (uint16_t)(h[1] << 8 | h[2]);
    r->len = (uint16_t)(h[3] << 8 | h[4]);
    if (r->len > SP_TLSREC_LEN_MAX) {
        snprintf(d->err, sizeof d->err, "record length %u is over the %u TLS allows", r->len,
                 SP_TLSREC_LEN_MAX);
        fail(d);
        return -1;
    }
    int sealed_type = r->type == SP_TLS_CT_HANDSHAKE || r->type == SP_TLS_CT_ALERT;
    r->encrypted = r->type == SP_TLS_CT_APPDATA || (sealed_type && d->after_ccs && !d->tls13);
    if (r->type == SP_TLS_CT_HANDSHAKE && !r->encrypted)
        r->hs_cont = d->hsh_have > 0 || d->hs_left > 0;
    d->body_left = r->len;
    d->alert_have = 0;
    return 0;
}

static void hs_type(struct sp_tlsrec *r, uint8_t t)
{
    if (r->nhs < SP_TLSREC_HS_MAX)
        r->hs[r->nhs++] = t;
    else
        r->hs_more++;
}

/* Plaintext handshake bytes: messages of a 4-byte header (type, 24-bit
 * length) and a body, spanning records freely. */
static void hs_bytes(struct sp_tlsrec_dec *d, const unsigned char *p, size_t n)
{
    while (n > 0) {
        if (d->hs_left > 0) {
            size_t k = n < d->hs_left ? n : d->hs_left;
            d->hs_left -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        if (d->hsh_have == 0)
            hs_type(&d->cur, p[0]);
        d->hsh[d->hsh_have++] = *p++;
        n--;
        if (d->hsh_have == 4) {
            d->hs_left = (uint32_t)d->hsh[1] << 16 | (uint32_t)d->hsh[2] << 8 | d->hsh[3];
            d->hsh_have = 0;
        }
    }
}

static void body_bytes(struct sp_tlsrec_dec *d, const unsigned char *p, size_t n)
{
    struct sp_tlsrec *r = &d->cur;
    if (r->encrypted)
        return;
    if (r->type == SP_TLS_CT_HANDSHAKE) {
        hs_bytes(d, p, n);
    } else if (r->type == SP_TLS_CT_ALERT) {
        for (size_t i = 0; i < n && d->alert_have < 2; i++)
            d->alert[d->alert_have++] = p[i];
    }
}

void sp_tlsrec_feed(struct sp_tlsrec_dec *d, const unsigned char *p, size_t n)
{
    d->chunk++;
    while (n > 0 && !d->lost) {
        if (d->hdr_have < SP_TLSREC_HEADER) {
            if (d->hdr_have == 0) {
                memset(&d->cur, 0, sizeof d->cur);
                d->cur.off = d->off;
                d->cur.chunk_first = d->chunk;
                d->cur.alert_level = d->cur.alert_desc = -1;
            }
            size_t k = SP_TLSREC_HEADER - d->hdr_have;
            if (k > n)
                k = n;
            memcpy(d->hdr + d->hdr_have, p, k);
            d->hdr_have += k;
            d->off += k;
            p += k;
            n -= k;
            if (d->hdr_have < SP_TLSREC_HEADER || header(d) != 0)
                continue;
            if (d->body_left == 0)
                complete(d);
            continue;
        }
        size_t k = n < d->body_left ? n : d->body_left;
        body_bytes(d, p, k);
        d->body_left -= k;
        d->off += k;
        p += k;
        n -= k;
        if (d->body_left == 0)
            complete(d);
    }
}

const char *sp_tls_ct_name(uint8_t type)
{
    switch (type) {
    case SP_TLS_CT_CCS:
        return "change_cipher_spec";
    case SP_TLS_CT_ALERT:
        return "alert";
    case SP_TLS_CT_HANDSHAKE:
        return "handshake";
    case SP_TLS_CT_APPDATA:
        return "application_data";
    case SP_TLS_CT_HEARTBEAT:
        return "heartbeat";
    }
    return NULL;
}

const char *sp_tls_hs_name(uint8_t type)
{
    static const char *const names[] = {
        [0] = "HelloRequest",           [1] = "ClientHello",       [2] = "ServerHello",
        [3] = "HelloVerifyRequest",     [4] = "NewSessionTicket",  [5] = "EndOfEarlyData",
        [8] = "EncryptedExtensions",    [11] = "Certificate",      [12] = "ServerKeyExchange",
        [13] = "CertificateRequest",    [14] = "ServerHelloDone",  [15] = "CertificateVerify",
        [16] = "ClientKeyExchange",     [20] = "Finished",         [21] = "CertificateURL",
        [22] = "CertificateStatus",     [23] = "SupplementalData", [24] = "KeyUpdate",
        [25] = "CompressedCertificate",
    };
    if (type == 254)
        return "MessageHash";
    return type < sizeof names / sizeof names[0] ? names[type] : NULL;
}

const char *sp_tls_alert_name(int desc)
{
    static const struct {
        int code;
        const char *name;
    } alerts[] = {
        {0, "close_notify"},
        {10, "unexpected_message"},
        {20, "bad_record_mac"},
        {21, "decryption_failed"},
        {22, "record_overflow"},
        {30, "decompression_failure"},
        {40, "handshake_failure"},
        {41, "no_certificate"},
        {42, "bad_certificate"},
        {43, "unsupported_certificate"},
        {44, "certificate_revoked"},
        {45, "certificate_expired"},
        {46, "certificate_unknown"},
        {47, "illegal_parameter"},
        {48, "unknown_ca"},
        {49, "access_denied"},
        {50, "decode_error"},
        {51, "decrypt_error"},
        {60, "export_restriction"},
        {70, "protocol_version"},
        {71, "insufficient_security"},
        {80, "internal_error"},
        {86, "inappropriate_fallback"},
        {90, "user_canceled"},
        {100, "no_renegotiation"},
        {109, "missing_extension"},
        {110, "unsupported_extension"},
        {111, "certificate_unobtainable"},
        {112, "unrecognized_name"},
        {113, "bad_certificate_status_response"},
        {114, "bad_certificate_hash_value"},
        {115, "unknown_psk_identity"},
        {116, "certificate_required"},
        {120, "no_application_protocol"},
    };
    for (size_t i = 0; i < sizeof alerts / sizeof alerts[0]; i++)
        if (alerts[i].code == desc)
            return alerts[i].name;
    return NULL;
}

const char *sp_tls_alert_level_name(int level)
{
    return level == 1 ? "warning" : level == 2 ? "fatal" : NULL;
}

const char *sp_tls_version_name(uint16_t version)
{
    switch (version) {
    case 0x0300:
        return "SSL3.0";
    case 0x0301:
        return "TLS1.0";
    case 0x0302:
        return "TLS1.1";
    case 0x0303:
        return "TLS1.2";
    case 0x0304:
        return "TLS1.3";
    }
    return NULL;
}

/* Appends text to buf[*at..len), never past the end. */
static void put(char *buf, size_t len, size_t *at, const char *text)
{
    size_t n = strlen(text);
    if (*at + 1 >= len)
        return;
    if (n > len - *at - 1)
        n = len - *at - 1;
    memcpy(buf + *at, text, n);
    *at += n;
    buf[*at] = '\0';
}

/* Appends a fixed word followed by a number: "alert_77". */
static void put_num(char *buf, size_t len, size_t *at, const char *word, unsigned v)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%s%u", word, v);
    put(buf, len, at, tmp);
}

size_t sp_tlsrec_describe(const struct sp_tlsrec *rec, char *buf, size_t len)
{
    size_t at = 0;
    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (rec->error != NULL) {
        put(buf, len, &at, rec->error);
        return at;
    }
    if (rec->encrypted) {
        put(buf, len, &at, "encrypted");
        return at;
    }
    if (rec->type == SP_TLS_CT_HANDSHAKE) {
        if (rec->hs_cont)
            put(buf, len, &at, rec->nhs > 0 ? "(rest of a message), " : "(rest of a message)");
        for (size_t i = 0; i < rec->nhs; i++) {
            const char *name = sp_tls_hs_name(rec->hs[i]);
            if (i > 0)
                put(buf, len, &at, ", ");
            if (name != NULL)
                put(buf, len, &at, name);
            else
                put_num(buf, len, &at, "handshake_type_", rec->hs[i]);
        }
        if (rec->hs_more > 0) {
            put_num(buf, len, &at, " +", (unsigned)rec->hs_more);
            put(buf, len, &at, " more");
        }
    } else if (rec->type == SP_TLS_CT_ALERT) {
        if (rec->alert_level < 0) {
            put(buf, len, &at, "(short alert)");
            return at;
        }
        const char *lv = sp_tls_alert_level_name(rec->alert_level);
        const char *ds = sp_tls_alert_name(rec->alert_desc);
        if (lv != NULL)
            put(buf, len, &at, lv);
        else
            put_num(buf, len, &at, "level_", (unsigned)rec->alert_level);
        put(buf, len, &at, " ");
        if (ds != NULL)
            put(buf, len, &at, ds);
        else
            put_num(buf, len, &at, "alert_", (unsigned)rec->alert_desc);
    }
    return at;
}
