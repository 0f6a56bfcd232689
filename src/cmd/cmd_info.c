/* `list` (a table of sockets) and `info` (the kernel's view of one). Both
 * print through the output hook; addresses and paths can come from peers,
 * so they are rendered safe before they are padded into columns. */
#include "cmd_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockpit/proto/addr.h"
#include "sockpit/engine/engine.h"
#include "sockpit/engine/tls.h"
#include "sockpit/proto/render.h"

#define LIST_COLS 9

/* Our one-word summary of a socket's life, both directions. */
static void state_text(const struct sp_sock_info *in, char *buf, size_t len)
{
    const char *base;
    if (in->connecting)
        base = "connecting";
    else if (!in->open)
        base = "closed";
    else if (sp_kind_is_listener(in->kind))
        base = "listening";
    else
        base = "open";
    snprintf(buf, len, "%s%s%s%s%s%s%s%s%s%s%s", base,
             (in->ours & SP_OURS_SHUT_WR) && in->open ? ",wr-shut" : "",
             (in->ours & SP_OURS_SHUT_WAIT) && in->open ? ",wr-shut-waiting" : "",
             (in->ours & SP_OURS_FIN_QUEUED) && in->open ? ",fin-queued" : "",
             (in->ours & SP_OURS_SHUT_RD) && in->open ? ",rd-shut" : "",
             (in->ours & SP_OURS_RST) ? ",rst-sent" : "",
             (in->peers & SP_PEER_FIN) ? ",peer-fin" : "",
             (in->peers & SP_PEER_FIN_WAITING) ? ",peer-fin-waiting" : "",
             (in->peers & SP_PEER_RST) ? ",rst" : "",
             (in->peers & SP_PEER_RST_WAITING) ? ",peer-rst-waiting" : "",
             in->paused && in->open ? ",paused" : "");
}

static void cell_safe(struct sp_buf *b, const char *s)
{
    sp_render(b, s, strlen(s), SP_RENDER_UTF8);
}

/* An address, whole (an abstract Unix name holds NULs), or "-" if none. */
static void cell_addr(struct sp_buf *b, const char *s, size_t len)
{
    if (s[0] == '\0' && len == 0)
        sp_buf_appends(b, "-");
    else
        sp_render(b, s, sp_addr_text_len(s, len), SP_RENDER_UTF8);
}

/* Says how many closed sockets are no longer listed, if any. */
static void forgotten_line(struct cmd_ctx *c)
{
    uint64_t n = sp_engine_forgotten(c->eng);
    if (n == 0)
        return;
    char line[160];
    snprintf(line, sizeof line,
             "%" PRIu64 " older closed socket%s forgotten (the last %zu closed are kept: set "
             "keep-closed N)",
             n, n == 1 ? "" : "s", sp_engine_keep_closed(c->eng));
    cmd__out(c->q, line);
}

static const char *const fin_words[] = {"pass", "hold", "reset"};

/* After the table of `list`: each relay, its faults and its pairs of legs. */
static void relay_lines(struct cmd_ctx *c, const uint32_t *ids, size_t n)
{
    struct sp_buf b;
    sp_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        struct sp_relay_info ri;
        if (sp_engine_relay_info(c->eng, ids[i], &ri) != 0)
            continue;
        sp_buf_reset(&b);
        if (ri.listener == ids[i]) {
            char up[160], down[160];
            sp_fault_format(&ri.up, up, sizeof up);
            sp_fault_format(&ri.down, down, sizeof down);
            sp_buf_appendf(&b, "relay %" PRIu32 " -> ", ri.listener);
            sp_render(&b, ri.target_addr, strlen(ri.target_addr), SP_RENDER_ASCII);
            sp_buf_appendf(&b, ": fin %s, faults up: %s, down: %s", fin_words[ri.fin], up, down);
        } else if (ri.client == ids[i]) {
            sp_buf_appendf(&b, "  relay %" PRIu32 " leg %" PRIu32 " <-> %" PRIu32, ri.listener,
                           ri.client, ri.target);
            if (ri.target_addr[0] != '\0') {
                char up[160], down[160];
                sp_fault_format(&ri.up, up, sizeof up);
                sp_fault_format(&ri.down, down, sizeof down);
                sp_buf_appendf(&b, " (up: %s, down: %s)", up, down);
            } else {
                sp_buf_appends(&b, " (closed)");
            }
        } else {
            continue;
        }
        cmd__out(c->q, sp_buf_str(&b));
    }
    sp_buf_cleanup(&b);
}

int cmd__exec_list(struct cmd_ctx *c)
{
    if (cmd__nargs(c) == 1) {
        if (!cmd__is(cmd__arg(c, 0), "rules"))
            return cmd__fail(c, cmd__arg(c, 0), 0, "list what? (list, or list rules)");
        return cmd__rules_list(c);
    }
    size_t n = sp_engine_sock_ids(c->eng, NULL, 0);
    if (n == 0) {
        if (sp_engine_forgotten(c->eng) == 0)
            cmd__out(c->q, "no sockets (create one with listen, connect or bind)");
        forgotten_line(c);
        return CMD_OK;
    }
    uint32_t *ids = sp_xcalloc(n, sizeof *ids);
    struct sp_buf *cells = sp_xcalloc((n + 1) * LIST_COLS, sizeof *cells);
    n = sp_engine_sock_ids(c->eng, ids, n);
    static const char *const head[LIST_COLS] = {"ID",    "KIND", "LOCAL", "PEER", "FRAMING",
                                                "STATE", "TCP",  "IN",    "OUT"};
    size_t width[LIST_COLS] = {0};
    size_t rows = 0;
    for (int k = 0; k < LIST_COLS; k++)
        sp_buf_appends(&cells[k], head[k]);
    rows++;
    for (size_t i = 0; i < n; i++) {
        struct sp_sock_info in;
        if (sp_engine_sock_info(c->eng, ids[i], &in) != 0)
            continue;
        struct sp_buf *r = &cells[rows * LIST_COLS];
        char st[192];
        state_text(&in, st, sizeof st);
        if (in.parent != 0)
            sp_buf_appendf(&r[0], "%" PRIu32 "<%" PRIu32, in.id, in.parent);
        else
            sp_buf_appendf(&r[0], "%" PRIu32, in.id);
        sp_buf_appends(&r[1], sp_sock_kind_name(in.kind));
        cell_addr(&r[2], in.local, in.local_len);
        cell_addr(&r[3], in.peer, in.peer_len);
        cell_safe(&r[4], in.framing[0] ? in.framing : "raw");
        if (in.decode_lost)
            sp_buf_appends(&r[4], " (decoding raw)");
        sp_buf_appends(&r[5], st);
        cell_safe(&r[6], in.tcp[0] ? in.tcp : "-");
        if (in.tls[0] != '\0') {
            sp_buf_appends(&r[6], " ");
            cell_safe(&r[6], in.tls);
        }
        sp_buf_appendf(&r[7], "%" PRIu64, in.bytes_in);
        sp_buf_appendf(&r[8], "%" PRIu64, in.bytes_out);
        rows++;
    }
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < LIST_COLS; k++) {
            const struct sp_buf *b = &cells[r * LIST_COLS + k];
            size_t w = sp_render_width(sp_buf_str(b), b->len);
            if (w > width[k])
                width[k] = w;
        }
    struct sp_buf line;
    sp_buf_init(&line);
    for (size_t r = 0; r < rows; r++) {
        sp_buf_reset(&line);
        for (int k = 0; k < LIST_COLS; k++) {
            const struct sp_buf *b = &cells[r * LIST_COLS + k];
            size_t w = sp_render_width(sp_buf_str(b), b->len);
            int right = k == 0 || k >= 7; /* numbers line up on the right */
            if (right)
                for (size_t s = w; s < width[k]; s++)
                    sp_buf_appendc(&line, ' ');
            sp_buf_append(&line, b->data, b->len);
            if (k < LIST_COLS - 1 && !right)
                for (size_t s = w; s < width[k]; s++)
                    sp_buf_appendc(&line, ' ');
            if (k < LIST_COLS - 1)
                sp_buf_appends(&line, "  ");
        }
        /* Trailing spaces from empty last columns help nobody. */
        while (line.len > 0 && line.data[line.len - 1] == ' ')
            line.data[--line.len] = '\0';
        cmd__out(c->q, sp_buf_str(&line));
    }
    sp_buf_cleanup(&line);
    relay_lines(c, ids, n);
    forgotten_line(c);
    for (size_t i = 0; i < (n + 1) * LIST_COLS; i++)
        sp_buf_cleanup(&cells[i]);
    free(cells);
    free(ids);
    return CMD_OK;
}

/* "N" or "n/a" for values the kernel did not report. */
static const char *num(char *buf, size_t len, int64_t v)
{
    if (v < 0)
        return "n/a";
    snprintf(buf, len, "%" PRId64, v);
    return buf;
}

static const char *flag(int64_t v)
{
    return v < 0 ? "n/a" : v ? "on" : "off";
}

/* ", name value" for each field the kernel reported (>= 0). */
static void kv(struct sp_buf *b, const char *name, int64_t v)
{
    if (v >= 0)
        sp_buf_appendf(b, "%s%s %" PRId64, b->len > 2 ? ", " : "", name, v);
}

static void kline(struct cmd_ctx *c, struct sp_buf *b)
{
    if (b->len > 2)
        cmd__out(c->q, sp_buf_str(b));
    sp_buf_reset(b);
    sp_buf_appends(b, "  ");
}

static const char *so_type_name(int64_t t)
{
    switch (t) {
    case SOCK_STREAM:
        return "SOCK_STREAM";
    case SOCK_DGRAM:
        return "SOCK_DGRAM";
    case SOCK_SEQPACKET:
        return "SOCK_SEQPACKET";
    case SOCK_RAW:
        return "SOCK_RAW";
    default:
        return "?";
    }
}

/* The rest of what the kernel reports: TCP_INFO in full, socket options,
 * SO_PEERCRED, the bound device. Only fields it reported are shown. */
static void more_kinfo(struct cmd_ctx *c, struct sp_buf *b, const struct sp_kinfo *k)
{
    sp_buf_reset(b);
    sp_buf_appends(b, "  ");
    kv(b, "mss", k->mss);
    kv(b, "advmss", k->advmss);
    kv(b, "rcv_mss", k->rcv_mss);
    kv(b, "ssthresh", k->ssthresh);
    kv(b, "snd_wnd", k->snd_wnd);
    kv(b, "rcv_wnd", k->rcv_wnd);
    kv(b, "rcv_space", k->rcv_space);
    kline(c, b);
    kv(b, "segs_in", k->segs_in);
    kv(b, "segs_out", k->segs_out);
    kv(b, "data_segs_in", k->data_segs_in);
    kv(b, "data_segs_out", k->data_segs_out);
    kv(b, "bytes_acked", k->bytes_acked);
    kv(b, "bytes_received", k->bytes_received);
    kline(c, b);
    kv(b, "retransmits", k->retransmits);
    kv(b, "lost", k->lost);
    kv(b, "sacked", k->sacked);
    kv(b, "reordering", k->reordering);
    kv(b, "probes", k->probes);
    kv(b, "backoff", k->backoff);
    kv(b, "min_rtt_us", k->min_rtt_us);
    kv(b, "delivery_rate", k->delivery_rate);
    kline(c, b);
    kv(b, "last_data_recv_ms", k->last_data_recv_ms);
    kv(b, "last_data_sent_ms", k->last_data_sent_ms);
    kv(b, "last_ack_recv_ms", k->last_ack_recv_ms);
    kline(c, b);
    if (k->so_type >= 0)
        sp_buf_appendf(b, "type %s", so_type_name(k->so_type));
    kv(b, "oobinline", k->oobinline);
    kv(b, "reuseaddr", k->reuseaddr);
    kv(b, "rcvlowat", k->rcvlowat);
    kv(b, "sndlowat", k->sndlowat);
    if (k->bound_dev[0] != '\0') {
        sp_buf_appends(b, ", bound to device ");
        cell_safe(b, k->bound_dev);
    }
    kline(c, b);
    if (k->peer_pid >= 0)
        sp_buf_appendf(
            b, "peer credentials (SO_PEERCRED): pid %" PRId64 ", uid %" PRId64 ", gid %" PRId64,
            k->peer_pid, k->peer_uid, k->peer_gid);
    kline(c, b);
}

/* A TLS socket's handshake result and the peer's certificates, line by
 * line, rendered (certificate names are the peer's). */
static void tls_lines(struct cmd_ctx *c, uint32_t id)
{
    struct sp_buf raw, b;
    sp_buf_init(&raw);
    sp_buf_init(&b);
    if (sp_engine_tls_info(c->eng, id, &raw) == 0) {
        const char *p = sp_buf_str(&raw);
        while (*p != '\0') {
            const char *nl = strchr(p, '\n');
            size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
            sp_buf_reset(&b);
            sp_render(&b, p, n, SP_RENDER_UTF8);
            cmd__out(c->q, sp_buf_str(&b));
            p += n + (nl != NULL);
        }
    }
    sp_buf_cleanup(&raw);
    sp_buf_cleanup(&b);
}

int cmd__exec_info(struct cmd_ctx *c)
{
    uint32_t id;
    if (cmd__take_id(c, 0, &id) != 0 || cmd__want_args(c, 0, 0) != 0)
        return CMD_FAIL;
    struct sp_sock_info in;
    if (cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    struct sp_kinfo k;
    char err[256] = "";
    int have_k = sp_engine_kinfo(c->eng, id, &k, err, sizeof err) == 0;
    struct sp_buf b;
    sp_buf_init(&b);
    char st[96], n1[32], n2[32], n3[32], n4[32];
    state_text(&in, st, sizeof st);
    sp_buf_appendf(&b, "socket %u %s ", (unsigned)id, sp_sock_kind_name(in.kind));
    cell_addr(&b, in.local, in.local_len);
    if (in.peer[0]) {
        sp_buf_appends(&b, " <-> ");
        cell_addr(&b, in.peer, in.peer_len);
    }
    sp_buf_appendf(&b, "  [%s]", st);
    cmd__out(c->q, sp_buf_str(&b));
    sp_buf_reset(&b);
    sp_buf_appends(&b, "  framing ");
    cell_safe(&b, in.framing[0] ? in.framing : "raw");
    if (in.decode_lost)
        sp_buf_appends(&b, " (send only: decoding is raw since a length error)");
    sp_buf_appendf(&b, ", recv size %zu, %s, echo %s", in.recvsize,
                   in.paused ? "paused" : "reading", in.echo ? "on" : "off");
    cmd__out(c->q, sp_buf_str(&b));
    sp_buf_reset(&b);
    sp_buf_appendf(&b,
                   "  in %" PRIu64 " bytes (%" PRIu64 " chunks, %" PRIu64 " msgs), out %" PRIu64
                   " bytes (%" PRIu64 " sends), %zu queued",
                   in.bytes_in, in.chunks, in.msgs, in.bytes_out, in.sends, in.queued);
    cmd__out(c->q, sp_buf_str(&b));
    struct sp_wire_info wi;
    if (sp_engine_wire_info(c->eng, id, &wi)) {
        sp_buf_reset(&b);
        sp_buf_appends(&b, "  ");
        cmd__wire_line(&b, &wi);
        cmd__out(c->q, sp_buf_str(&b));
    }
    tls_lines(c, id);
    if (!in.open && in.close_reason[0]) {
        sp_buf_reset(&b);
        sp_buf_appends(&b, "  closed: ");
        cell_safe(&b, in.close_reason);
        cmd__out(c->q, sp_buf_str(&b));
    }
    if (!have_k) {
        sp_buf_reset(&b);
        sp_buf_appends(&b, "  kernel: ");
        cell_safe(&b, err[0] ? err : "no kernel view");
        cmd__out(c->q, sp_buf_str(&b));
        sp_buf_cleanup(&b);
        return CMD_OK;
    }
    sp_buf_reset(&b);
    sp_buf_appends(&b, "  tcp state ");
    cell_safe(&b, k.tcp[0] ? k.tcp : "n/a");
    cmd__out(c->q, sp_buf_str(&b));
    sp_buf_reset(&b);
    if (k.rtt_us >= 0)
        sp_buf_appendf(&b, "  rtt %.3f ms (var %.3f ms), unacked %s, retrans %s, cwnd %s, pmtu %s",
                       (double)k.rtt_us / 1000.0,
                       (double)(k.rttvar_us < 0 ? 0 : k.rttvar_us) / 1000.0,
                       num(n1, sizeof n1, k.unacked), num(n2, sizeof n2, k.retrans),
                       num(n3, sizeof n3, k.cwnd), num(n4, sizeof n4, k.pmtu));
    else
        sp_buf_appends(&b, "  rtt n/a");
    cmd__out(c->q, sp_buf_str(&b));
    sp_buf_reset(&b);
    sp_buf_appendf(&b, "  unread %s (SIOCINQ), unsent %s (SIOCOUTQ)", num(n1, sizeof n1, k.unread),
                   num(n2, sizeof n2, k.unsent));
    cmd__out(c->q, sp_buf_str(&b));
    sp_buf_reset(&b);
    sp_buf_appendf(&b, "  rcvbuf %s, sndbuf %s", num(n1, sizeof n1, k.rcvbuf),
                   num(n2, sizeof n2, k.sndbuf));
    cmd__out(c->q, sp_buf_str(&b));
    sp_buf_reset(&b);
    sp_buf_appendf(&b, "  nodelay %s, cork %s, keepalive %s, linger %s", flag(k.nodelay),
                   flag(k.cork), flag(k.keepalive),
                   k.linger < 0 ? "off" : num(n1, sizeof n1, k.linger));
    cmd__out(c->q, sp_buf_str(&b));
    more_kinfo(c, &b, &k);
    sp_buf_reset(&b);
    if (sp_engine_ip_info(c->eng, id, &b) == 0)
        cmd__out(c->q, sp_buf_str(&b));
    sp_buf_reset(&b);
    if (sp_engine_anc_info(c->eng, id, &b) == 0)
        cmd__out(c->q, sp_buf_str(&b));
    sp_buf_cleanup(&b);
    return CMD_OK;
}
