/* The printed forms of the two TLS events (event.h, DESIGN §6): tls_record,
 * one record of the ciphertext stream as tlsrec.c decoded it, and tls, what
 * OpenSSL reported about the handshake, alerts and teardown. Every string
 * passes through sp_render(). */
#include <inttypes.h>
#include <string.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/event.h"
#include "sockpit/proto/render.h"
#include "sockpit/proto/tlsrec.h"

static void put_safe(struct sp_buf *out, const char *s, int utf8)
{
    s = s != NULL ? s : "";
    sp_render(out, s, strlen(s), utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
}

static void jstr(struct sp_buf *out, const char *key, const char *s)
{
    struct sp_buf r;
    sp_buf_init(&r);
    s = s != NULL ? s : "";
    sp_render(&r, s, strlen(s), SP_RENDER_UTF8);
    sp_buf_appendf(out, ",\"%s\":", key);
    sp_json_quote(out, r.len ? (const char *)r.data : "", r.len);
    sp_buf_cleanup(&r);
}

void sp_tlsrec_to_event(const struct sp_tlsrec *rec, struct sp_event *ev)
{
    ev->off = rec->off;
    ev->end_off = rec->end_off;
    ev->len = rec->len;
    ev->chunk_first = rec->chunk_first;
    ev->chunk_last = rec->chunk_last;
    ev->tls_type = rec->type;
    ev->tls_version = rec->version;
    ev->tls_encrypted = rec->encrypted;
    ev->tls_alert = rec->alert_level >= 0 ? rec->alert_level << 8 | rec->alert_desc : -1;
    ev->tls_hs = 0;
    for (size_t i = 0; i < rec->nhs; i++)
        ev->tls_hs |= (uint64_t)rec->hs[i] << (8 * i);
    ev->tls_nhs = (uint32_t)(rec->nhs + rec->hs_more);
    ev->tls_hs_cont = rec->hs_cont;
}

static void put_version(struct sp_buf *out, int version)
{
    const char *v = sp_tls_version_name((uint16_t)version);
    if (v != NULL)
        sp_buf_appends(out, v);
    else
        sp_buf_appendf(out, "0x%04x", (unsigned)version & 0xffff);
}

static void put_type(struct sp_buf *out, int type)
{
    const char *t = sp_tls_ct_name((uint8_t)type);
    if (t != NULL)
        sp_buf_appends(out, t);
    else
        sp_buf_appendf(out, "type_%u", (unsigned)type & 0xff);
}

void sp_tls_event_text(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    if (ev->type == SP_EV_TLS) {
        sp_buf_appendc(out, ' ');
        put_safe(out, ev->code, utf8);
        sp_buf_appends(out, ": ");
        put_safe(out, ev->message, utf8);
        return;
    }
    sp_buf_appends(out, ev->tls_out ? " out " : " in ");
    put_type(out, ev->tls_type);
    sp_buf_appendc(out, ' ');
    put_version(out, ev->tls_version);
    sp_buf_appendf(out, " len %" PRIu64 " @%" PRIu64 "-%" PRIu64 " chunks %" PRIu64 "..%" PRIu64,
                   ev->len, ev->off, ev->end_off, ev->chunk_first, ev->chunk_last);
    if (ev->summary != NULL && ev->summary[0] != '\0') {
        sp_buf_appends(out, ": ");
        put_safe(out, ev->summary, utf8);
    }
}

void sp_tls_event_json(struct sp_buf *out, const struct sp_event *ev)
{
    if (ev->type == SP_EV_TLS) {
        jstr(out, "stage", ev->code);
        jstr(out, "message", ev->message);
        return;
    }
    jstr(out, "dir", ev->tls_out ? "out" : "in");
    struct sp_buf t;
    sp_buf_init(&t);
    put_type(&t, ev->tls_type);
    jstr(out, "type", sp_buf_str(&t));
    sp_buf_reset(&t);
    put_version(&t, ev->tls_version);
    jstr(out, "version", sp_buf_str(&t));
    sp_buf_cleanup(&t);
    sp_buf_appendf(out,
                   ",\"len\":%" PRIu64 ",\"off\":%" PRIu64 ",\"end_off\":%" PRIu64
                   ",\"chunks\":[%" PRIu64 ",%" PRIu64 "],\"encrypted\":%s",
                   ev->len, ev->off, ev->end_off, ev->chunk_first, ev->chunk_last,
                   ev->tls_encrypted ? "true" : "false");
    if (ev->tls_type == SP_TLS_CT_HANDSHAKE && !ev->tls_encrypted) {
        sp_buf_appends(out, ",\"handshake\":[");
        uint32_t listed = ev->tls_nhs < SP_TLSREC_HS_MAX ? ev->tls_nhs : SP_TLSREC_HS_MAX;
        for (uint32_t i = 0; i < listed; i++) {
            unsigned hs = (unsigned)(ev->tls_hs >> (8 * i)) & 0xff;
            const char *name = sp_tls_hs_name((uint8_t)hs);
            if (name != NULL)
                sp_buf_appendf(out, "%s\"%s\"", i ? "," : "", name);
            else
                sp_buf_appendf(out, "%s\"handshake_type_%u\"", i ? "," : "", hs);
        }
        sp_buf_appendf(out, "],\"handshake_count\":%" PRIu32 ",\"continued\":%s", ev->tls_nhs,
                       ev->tls_hs_cont ? "true" : "false");
    }
    if (ev->tls_type == SP_TLS_CT_ALERT && ev->tls_alert >= 0) {
        int level = ev->tls_alert >> 8, desc = ev->tls_alert & 0xff;
        const char *ln = sp_tls_alert_level_name(level), *dn = sp_tls_alert_name(desc);
        sp_buf_appendf(out, ",\"alert\":{\"level\":%d,\"description\":%d", level, desc);
        if (ln != NULL)
            sp_buf_appendf(out, ",\"level_name\":\"%s\"", ln);
        if (dn != NULL)
            sp_buf_appendf(out, ",\"name\":\"%s\"", dn);
        sp_buf_appendc(out, '}');
    }
    jstr(out, "what", ev->summary);
}
