/* Event names and the two printed forms of an event (DESIGN §6): the
 * socat-like text line and the JSON object. Every string that could come from
 * a peer (payloads, addresses, Unix paths, error text) goes through
 * sp_render() before it is printed, in both forms. */
#include "sockpit/proto/event.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>

#include "sockpit/proto/addr.h"
#include "sockpit/proto/buf.h"
#include "sockpit/proto/cmsg.h"
#include "sockpit/proto/frame.h"
#include "sockpit/proto/pktsum.h"
#include "sockpit/proto/render.h"
#include "sockpit/proto/tlsrec.h"

static const char *const ev_names[SP_EV__COUNT] = {
    [SP_EV_LISTENING] = "listening",
    [SP_EV_CONNECTED] = "connected",
    [SP_EV_ACCEPTED] = "accepted",
    [SP_EV_BOUND] = "bound",
    [SP_EV_RECV] = "recv",
    [SP_EV_MSG] = "msg",
    [SP_EV_FRAME_ERROR] = "frame_error",
    [SP_EV_SEND] = "send",
    [SP_EV_EOF] = "eof",
    [SP_EV_SHUTDOWN] = "shutdown",
    [SP_EV_STATE] = "state",
    [SP_EV_ERROR] = "error",
    [SP_EV_CLOSED] = "closed",
    [SP_EV_SUMMARY] = "summary",
    [SP_EV_CMD_ERROR] = "cmd_error",
    [SP_EV_NOTICE] = "notice",
    [SP_EV_DROPPED] = "dropped",
    [SP_EV_NOTE] = "note",
    [SP_EV_CHECK] = "check",
    [SP_EV_EXPECT] = "expect",
    [SP_EV_RULE] = "rule",
    [SP_EV_SEGMENT] = "segment",
    [SP_EV_TLS_RECORD] = "tls_record",
    [SP_EV_TLS] = "tls",
    [SP_EV_ICMP_ERROR] = "icmp_error",
};

const char *sp_event_name(enum sp_ev_type type)
{
    if ((unsigned)type >= SP_EV__COUNT)
        return "unknown";
    return ev_names[type];
}

static const char *cut_key(int cut)
{
    switch (cut) {
    case SP_FRAME_CUT_EOF:
        return "eof";
    case SP_FRAME_CUT_SPEC:
        return "framing";
    case SP_FRAME_CUT_DATAGRAM:
        return "datagram";
    default:
        return "";
    }
}

const char *sp_sock_kind_name(enum sp_sock_kind kind)
{
    switch (kind) {
    case SP_SOCK_TCP_LISTEN:
        return "tcp-listen";
    case SP_SOCK_TCP:
        return "tcp";
    case SP_SOCK_UDP:
        return "udp";
    case SP_SOCK_UNIX_LISTEN:
        return "unix-listen";
    case SP_SOCK_UNIX:
        return "unix";
    case SP_SOCK_UNIX_DGRAM:
        return "unix-dgram";
    case SP_SOCK_PACKET:
        return "packet";
    case SP_SOCK_SEQPACKET_LISTEN:
        return "unix-seqpacket-listen";
    case SP_SOCK_SEQPACKET:
        return "unix-seqpacket";
    }
    return "unknown";
}

/* The errno names a write call can return (the rest as numbers). */
static const char *errno_name(int64_t e)
{
    switch (e) {
    case EAGAIN:
        return "EAGAIN";
    case EPIPE:
        return "EPIPE";
    case ECONNRESET:
        return "ECONNRESET";
    case EINTR:
        return "EINTR";
    case ENOBUFS:
        return "ENOBUFS";
    case EMSGSIZE:
        return "EMSGSIZE";
    case ECONNREFUSED:
        return "ECONNREFUSED";
    case ENOTCONN:
        return "ENOTCONN";
    case EHOSTUNREACH:
        return "EHOSTUNREACH";
    case ENETUNREACH:
        return "ENETUNREACH";
    case EPROTO:
        return "EPROTO";
    default:
        return NULL;
    }
}

/* An errno as its name, or "errno N" when it has none here; quoted when
 * quote (JSON). */
static void put_errno(struct sp_buf *out, int64_t e, int quote)
{
    const char *n = errno_name(e);
    const char *q = quote ? "\"" : "";
    if (n != NULL)
        sp_buf_appendf(out, "%s%s%s", q, n, q);
    else
        sp_buf_appendf(out, "%serrno %" PRId64 "%s", q, e, q);
}

/* NULL strings print as empty: the engine may leave a field unset. */
static const char *nz(const char *s)
{
    return s != NULL ? s : "";
}

/* Appends a peer-controlled string rendered safe. */
/* The EtherType by name when it has one ("ipv4"), else in hex. */
static void put_ethertype(struct sp_buf *out, uint16_t type)
{
    const char *name = sp_ethertype_name(type);
    if (name != NULL)
        sp_buf_appends(out, name);
    else
        sp_buf_appendf(out, "0x%04x", (unsigned)type);
}

static void put_pkttype(struct sp_buf *out, int pkttype)
{
    const char *name = sp_pkttype_name(pkttype);
    if (name != NULL)
        sp_buf_appends(out, name);
    else
        sp_buf_appendf(out, "type %d", pkttype);
}

static void put_safe(struct sp_buf *out, const char *s, int utf8);

/* " on lo outgoing ipv4": where a packet socket saw the frame. */
static void put_link(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    sp_buf_appends(out, " on ");
    put_safe(out, ev->ifname, utf8);
    sp_buf_appendc(out, ' ');
    put_pkttype(out, ev->pkttype);
    sp_buf_appendc(out, ' ');
    put_ethertype(out, ev->protocol);
}

static void put_safe(struct sp_buf *out, const char *s, int utf8)
{
    s = nz(s);
    sp_render(out, s, strlen(s), utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
}

/* An address (local, peer, from) with its length: abstract Unix names hold
 * NULs and are shown whole. */
static void put_addr(struct sp_buf *out, const char *s, size_t len, int utf8)
{
    s = nz(s);
    sp_render(out, s, sp_addr_text_len(s, len), utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
}

/* Appends the payload of a data event in double quotes; an elided tail (only
 * a prefix was kept) is marked after the closing quote. */
static void put_payload(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    sp_buf_appendc(out, '"');
    if (ev->data != NULL && ev->data_len > 0)
        sp_render(out, ev->data, ev->data_len, utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
    sp_buf_appendc(out, '"');
    if (ev->data_len < ev->len)
        sp_buf_appendf(out, "... (%" PRIu64 " more bytes not kept)",
                       ev->len - (uint64_t)ev->data_len);
}

static const struct {
    int bit;
    const char *name;
} msg_flag_names[] = {
    {MSG_OOB, "MSG_OOB"},
    {MSG_PEEK, "MSG_PEEK"},
    {MSG_DONTROUTE, "MSG_DONTROUTE"},
    {MSG_CTRUNC, "MSG_CTRUNC"},
    {MSG_TRUNC, "MSG_TRUNC"},
    {MSG_DONTWAIT, "MSG_DONTWAIT"},
    {MSG_EOR, "MSG_EOR"},
    {MSG_WAITALL, "MSG_WAITALL"},
    {MSG_ERRQUEUE, "MSG_ERRQUEUE"},
    {MSG_NOSIGNAL, "MSG_NOSIGNAL"},
    {MSG_MORE, "MSG_MORE"},
    {MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"},
};

void sp_msg_flags_format(struct sp_buf *out, int flags, const char *sep)
{
    unsigned left = (unsigned)flags;
    int first = 1;
    for (size_t i = 0; i < sizeof msg_flag_names / sizeof msg_flag_names[0]; i++) {
        if (!(left & (unsigned)msg_flag_names[i].bit))
            continue;
        left &= ~(unsigned)msg_flag_names[i].bit;
        sp_buf_appendf(out, "%s%s", first ? "" : sep, msg_flag_names[i].name);
        first = 0;
    }
    if (left != 0)
        sp_buf_appendf(out, "%s0x%x", first ? "" : sep, left);
}

/* What each write call returned, when one took less than asked or failed:
 * "[5, 3]", "[4096, EAGAIN]". Shown only when a call fell short, so the
 * common one-call send keeps its short line. */
static void format_calls(struct sp_buf *out, const struct sp_event *ev)
{
    if (ev->calls == NULL || ev->ncalls == 0 ||
        (ev->ncalls == 1 && ev->calls[0] >= 0 && (uint64_t)ev->calls[0] == ev->len))
        return;
    sp_buf_appends(out, " [");
    for (size_t i = 0; i < ev->ncalls; i++) {
        if (i > 0)
            sp_buf_appends(out, ", ");
        if (ev->calls[i] >= 0)
            sp_buf_appendf(out, "%" PRId64, ev->calls[i]);
        else
            put_errno(out, -ev->calls[i], 0);
    }
    sp_buf_appendc(out, ']');
    if (ev->ncalls < ev->writes)
        sp_buf_appendf(out, " (first %zu)", ev->ncalls);
}

/* The recv-only details in text: buffers, returned flags, mark, wait. */
static void format_recv_details(struct sp_buf *out, const struct sp_event *ev)
{
    if (ev->iov != NULL && ev->niov > 0) {
        uint64_t left = ev->data_len;
        sp_buf_appends(out, " iov [");
        for (size_t i = 0; i < ev->niov; i++) {
            uint64_t got = left < ev->iov[i] ? left : ev->iov[i];
            left -= got;
            sp_buf_appendf(out, "%s%" PRIu64 "/%" PRIu32, i ? " " : "", got, ev->iov[i]);
        }
        sp_buf_appendc(out, ']');
    }
    if (ev->msg_flags != 0) {
        sp_buf_appends(out, " flags ");
        sp_msg_flags_format(out, ev->msg_flags, "|");
    }
    if (ev->atmark > 0)
        sp_buf_appends(out, " (at the urgent mark)");
    if (ev->blocked)
        sp_buf_appendf(out, " (blocked %" PRIu64 ".%03" PRIu64 " s)", ev->blocked_ns / 1000000000u,
                       ev->blocked_ns % 1000000000u / 1000000u);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* One control message in words (cmsg.h), for the line under its recv. */
static void format_cmsg(struct sp_buf *out, const struct sp_cmsg *c, int sent, int utf8)
{
    const char *name = sp_cmsg_name(c);
    switch (c->kind) {
    case SP_CMSG_RIGHTS:
        sp_buf_appendf(out, "%s fd %d -> ", name, c->fd);
        if (c->target[0] != '\0') {
            put_safe(out, c->target, utf8);
            if (c->target_cut)
                sp_buf_appends(out, "...");
        } else {
            sp_buf_appends(out, "(target unknown)");
        }
        if (c->mode != 0)
            sp_buf_appendf(out, " (%s, mode %04o)", sp_cmsg_file_type(c->mode),
                           (unsigned)(c->mode & 07777));
        sp_buf_appends(out, sent ? ", passed" : ", closed unread");
        break;
    case SP_CMSG_CREDS:
        sp_buf_appendf(out, "%s pid %" PRId64 " uid %" PRId64 " gid %" PRId64, name, c->pid, c->uid,
                       c->gid);
        break;
    case SP_CMSG_PKTINFO:
        sp_buf_appendf(out, "%s to %s on ", name, c->addr);
        if (c->ifname[0] != '\0')
            put_safe(out, c->ifname, utf8);
        else
            sp_buf_appends(out, "?");
        sp_buf_appendf(out, " (ifindex %" PRIu32 ")", c->ifindex);
        break;
    case SP_CMSG_TTL:
        sp_buf_appendf(out, "%s %d", name, c->value);
        break;
    case SP_CMSG_TOS:
        sp_buf_appendf(out, "%s 0x%02x", name, (unsigned)c->value);
        break;
    case SP_CMSG_TIMESTAMP:
        sp_buf_appendf(out, "%s %" PRId64 ".%09" PRId64, name, c->sec, c->nsec);
        if (c->waited_known)
            sp_buf_appendf(out,
                           " (waited %" PRId64 ".%03" PRId64 " ms in the kernel before this read)",
                           c->waited_ns / 1000000, c->waited_ns % 1000000 / 1000);
        break;
    case SP_CMSG_ERR: {
        sp_buf_appendf(out, "%s ", name);
        put_errno(out, c->ee_errno, 0);
        const char *what = sp_cmsg_icmp_text(c);
        const char *origin = sp_cmsg_origin_name(c->origin);
        if (origin != NULL)
            sp_buf_appendf(out, " origin %s", origin);
        else
            sp_buf_appendf(out, " origin %u", (unsigned)c->origin);
        sp_buf_appendf(out, " type %u code %u", (unsigned)c->icmp_type, (unsigned)c->icmp_code);
        if (what != NULL)
            sp_buf_appendf(out, " (%s)", what);
        if (c->addr[0] != '\0')
            sp_buf_appendf(out, " from %s", c->addr);
        if (c->info != 0)
            sp_buf_appendf(out, " info %" PRIu32, c->info);
        break;
    }
    case SP_CMSG_OTHER:
        sp_buf_appendf(out, "level %d type %d, %" PRIu32 " %s (not decoded)", c->level, c->type,
                       c->len, plural(c->len, "byte", "bytes"));
        break;
    case SP_CMSG_SHORT:
        sp_buf_appendf(out, "%s cut short: %" PRIu32 " of %d bytes", name != NULL ? name : "?",
                       c->len, c->value);
        break;
    case SP_CMSG_BAD:
        sp_buf_appendf(
            out, "malformed control message header at byte %" PRIu32 " (%" PRIu32 " bytes left)",
            c->off, c->len);
        break;
    }
}

size_t sp_event_cmsg_lines(const struct sp_event *ev)
{
    if (ev->type != SP_EV_RECV && ev->type != SP_EV_SEND)
        return 0;
    return (ev->cmsg != NULL ? ev->ncmsg : 0) + (ev->cmsg_more > 0) +
           ((ev->msg_flags & MSG_CTRUNC) != 0);
}

/* Line i: the control messages, then how many more were only counted,
 * then what MSG_CTRUNC means when the kernel had more than the buffer
 * held. */
void sp_event_cmsg_line(struct sp_buf *out, const struct sp_event *ev, size_t i, int utf8)
{
    size_t n = ev->cmsg != NULL ? ev->ncmsg : 0;
    if (i < n) {
        sp_buf_appends(out, "cmsg ");
        format_cmsg(out, &ev->cmsg[i], ev->type == SP_EV_SEND, utf8);
        return;
    }
    if (i == n && ev->cmsg_more > 0) {
        sp_buf_appendf(out, "cmsg ... %" PRIu32 " more not described (closed unread)",
                       ev->cmsg_more);
        return;
    }
    sp_buf_appends(out, "cmsg MSG_CTRUNC: the control buffer was too small; what did not fit is "
                        "lost (descriptors: closed by the kernel)");
}

/* The lines under a recv, each indented on its own line. */
static void format_cmsgs(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    size_t n = sp_event_cmsg_lines(ev);
    for (size_t i = 0; i < n; i++) {
        sp_buf_appends(out, "\n    ");
        sp_event_cmsg_line(out, ev, i, utf8);
    }
}

/* icmp_error: the error, what the ICMP message said, who sent it, and the
 * datagram it is about (the kernel returns its destination and bytes). */
static void format_icmp_error(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    sp_buf_appendc(out, ' ');
    put_safe(out, ev->code, utf8);
    const struct sp_cmsg *c = ev->cmsg != NULL && ev->ncmsg > 0 ? &ev->cmsg[0] : NULL;
    if (ev->message != NULL && ev->message[0] != '\0') {
        sp_buf_appends(out, " ");
        put_safe(out, ev->message, utf8);
    }
    if (c != NULL && (c->origin == SP_EE_ORIGIN_ICMP || c->origin == SP_EE_ORIGIN_ICMP6))
        sp_buf_appendf(out, " (%s type %u code %u)", sp_cmsg_origin_name(c->origin),
                       (unsigned)c->icmp_type, (unsigned)c->icmp_code);
    if (c != NULL && c->addr[0] != '\0')
        sp_buf_appendf(out, " from %s", c->addr);
    if (ev->peer != NULL && ev->peer[0] != '\0') {
        sp_buf_appends(out, " for a datagram to ");
        put_addr(out, ev->peer, ev->peer_len, utf8);
    }
    sp_buf_appendf(out, " (%" PRIu64 " %s): ", ev->len, plural(ev->len, "byte", "bytes"));
    put_payload(out, ev, utf8);
}

/* The note on one line (its line breaks become spaces); the headless
 * front end prints notes as an indented block instead. */
/* " msg #2 matched regex, 1.234 ms after send #1 (captured ...)" */
static void format_expect(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    sp_buf_appendc(out, ' ');
    put_safe(out, ev->op, utf8);
    sp_buf_appendf(out, " #%" PRIu64 " matched ", ev->seq);
    put_safe(out, ev->mode, utf8);
    if (ev->latency_ns >= 0)
        sp_buf_appendf(out, ", %" PRId64 ".%03" PRId64 " ms after send #%" PRIu64,
                       ev->latency_ns / 1000000, ev->latency_ns % 1000000 / 1000, ev->send_seq);
    else
        sp_buf_appends(out, ", no send before it");
    if (ev->message != NULL && ev->message[0] != '\0') {
        sp_buf_appends(out, " (captured ");
        put_safe(out, ev->message, utf8);
        sp_buf_appendc(out, ')');
    }
}

/* " 1 fired on msg #2 (3 times): replied 5 bytes, closing" */
static void format_rule(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    sp_buf_appendf(out, " %" PRIu32 " (", ev->rule);
    put_safe(out, ev->mode, utf8);
    sp_buf_appends(out, ") fired on ");
    put_safe(out, ev->op, utf8);
    sp_buf_appendf(out, " #%" PRIu64 " (%" PRIu64 " %s): replied %" PRIu64 " %s%s", ev->seq,
                   ev->fired, plural(ev->fired, "time", "times"), ev->len,
                   plural(ev->len, "byte", "bytes"), ev->then_close ? ", closing" : "");
}

static void format_note(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    sp_buf_appendc(out, ' ');
    put_safe(out, ev->lab, utf8);
    sp_buf_appendf(out, " %" PRIu64 "/%" PRIu64 " ", ev->seq, ev->steps);
    put_safe(out, ev->title, utf8);
    const char *s = nz(ev->message);
    if (*s != '\0')
        sp_buf_appends(out, ":");
    while (*s != '\0') {
        const char *nl = strchr(s, '\n');
        size_t n = nl != NULL ? (size_t)(nl - s) : strlen(s);
        sp_buf_appendc(out, ' ');
        sp_render(out, s, n, utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
        s += n;
        if (*s == '\n')
            s++;
    }
}

static const char *const tcp_flag_names[8] = {"FIN", "SYN", "RST", "PSH",
                                              "ACK", "URG", "ECE", "CWR"};

/* "SYN|ACK" in the order tcpdump prints them (SYN, FIN, RST, PSH, ACK, ...). */
static void put_tcp_flags(struct sp_buf *out, unsigned flags, const char *sep, const char *q)
{
    static const int order[8] = {1, 0, 2, 3, 4, 5, 6, 7};
    int first = 1;
    for (int i = 0; i < 8; i++)
        if (flags & (1u << order[i])) {
            sp_buf_appendf(out, "%s%s%s%s", first ? "" : sep, q, tcp_flag_names[order[i]], q);
            first = 0;
        }
    if (first && *q == '\0')
        sp_buf_appends(out, "none");
}

static void put_seg_marks(struct sp_buf *out, const struct sp_seg *g, const char *sep,
                          const char *q)
{
    int first = 1;
    for (unsigned bit = 1; bit <= SP_SEG_GAP; bit <<= 1) {
        if (!(g->marks & bit))
            continue;
        sp_buf_appendf(out, "%s%s%s%s", first ? "" : sep, q, sp_seg_mark_name(bit), q);
        if (bit == SP_SEG_DUPACK && *q == '\0')
            sp_buf_appendf(out, " #%" PRIu32, g->dupack);
        first = 0;
    }
}

/* " 1001-2001 3001-4001": the SACK blocks, [left, right). */
static void put_sack(struct sp_buf *out, const struct sp_seg *g)
{
    for (size_t k = 0; k < g->nsack && k < SP_SACK_MAX; k++)
        sp_buf_appendf(out, " %" PRIu32 "-%" PRIu32, g->sack[k][0], g->sack[k][1]);
}

/* segment in [SYN|ACK] seq 0 ack 1 win 65483 len 0 @0 <mss 65495,sackOK,ts
 * 5 3,wscale 7> (retransmission) */
static void format_segment(struct sp_buf *out, const struct sp_event *ev)
{
    const struct sp_seg *g = &ev->seg;
    sp_buf_appendf(out, " #%" PRIu64 " %s [", ev->seq, g->out ? "out" : "in");
    put_tcp_flags(out, g->flags, "|", "");
    sp_buf_appendf(out, "] seq %" PRIu32, g->rel_seq);
    if (g->flags & SP_TCP_ACK)
        sp_buf_appendf(out, " ack %" PRIu32, g->rel_ack);
    sp_buf_appendf(out, " win %" PRIu32 "%s len %" PRIu64 " @%" PRIu64, g->win,
                   g->win_scaled ? "" : " (unscaled)", ev->len, ev->off);
    if (g->mss != 0 || g->wscale >= 0 || g->sack_ok || g->has_ts || g->nsack > 0) {
        const char *sep = "";
        sp_buf_appends(out, " <");
        if (g->mss != 0) {
            sp_buf_appendf(out, "mss %u", (unsigned)g->mss);
            sep = ",";
        }
        if (g->sack_ok) {
            sp_buf_appendf(out, "%ssackOK", sep);
            sep = ",";
        }
        if (g->has_ts) {
            sp_buf_appendf(out, "%sts %" PRIu32 " %" PRIu32, sep, g->tsval, g->tsecr);
            sep = ",";
        }
        if (g->wscale >= 0) {
            sp_buf_appendf(out, "%swscale %d", sep, g->wscale);
            sep = ",";
        }
        if (g->nsack > 0) {
            sp_buf_appendf(out, "%ssack", sep);
            put_sack(out, g);
        }
        sp_buf_appendc(out, '>');
    }
    if (g->marks != 0) {
        sp_buf_appends(out, " (");
        put_seg_marks(out, g, ", ", "");
        sp_buf_appendc(out, ')');
    }
    if (!g->isn_known)
        sp_buf_appends(out, " (SYN not seen: seq and @ count from the first segment seen)");
}

void sp_event_format_text(struct sp_buf *out, const struct sp_event *ev, int utf8)
{
    sp_buf_appendf(out, "%" PRIu64 ".%06" PRIu64 " ", ev->t_ns / 1000000000u,
                   ev->t_ns % 1000000000u / 1000u);
    if (ev->sock != 0)
        sp_buf_appendf(out, "[%" PRIu32 "] ", ev->sock);
    sp_buf_appends(out, sp_event_name(ev->type));
    switch (ev->type) {
    case SP_EV_LISTENING:
    case SP_EV_BOUND:
        sp_buf_appendf(out, " %s ", sp_sock_kind_name(ev->kind));
        put_addr(out, ev->local, ev->local_len, utf8);
        break;
    case SP_EV_CONNECTED:
        sp_buf_appendf(out, " %s ", sp_sock_kind_name(ev->kind));
        put_addr(out, ev->local, ev->local_len, utf8);
        sp_buf_appends(out, " -> ");
        put_addr(out, ev->peer, ev->peer_len, utf8);
        break;
    case SP_EV_ACCEPTED:
        sp_buf_appendf(out, " %s on [%" PRIu32 "] ", sp_sock_kind_name(ev->kind), ev->parent);
        put_addr(out, ev->local, ev->local_len, utf8);
        sp_buf_appends(out, " <- ");
        put_addr(out, ev->peer, ev->peer_len, utf8);
        break;
    case SP_EV_RECV:
        if (ev->asked & MSG_OOB)
            sp_buf_appends(out, " urgent");
        else if (ev->asked & MSG_PEEK)
            sp_buf_appends(out, " peek");
        else
            sp_buf_appendf(out, " #%" PRIu64, ev->seq);
        sp_buf_appendf(out, " %" PRIu64 " %s @%" PRIu64, ev->len, plural(ev->len, "byte", "bytes"),
                       ev->off);
        if (ev->kind == SP_SOCK_PACKET)
            put_link(out, ev, utf8);
        if (ev->from != NULL && ev->from[0] != '\0') {
            sp_buf_appends(out, " from ");
            put_addr(out, ev->from, ev->from_len, utf8);
        }
        if (ev->truncated)
            sp_buf_appends(out, " (truncated)");
        format_recv_details(out, ev);
        if (ev->unread >= 0)
            sp_buf_appendf(out, " (%" PRId64 " unread before)", ev->unread);
        if (ev->kind == SP_SOCK_PACKET) {
            sp_buf_appends(out, " | ");
            put_safe(out, ev->summary, utf8);
        }
        sp_buf_appends(out, ": ");
        put_payload(out, ev, utf8);
        format_cmsgs(out, ev, utf8);
        break;
    case SP_EV_MSG:
        sp_buf_appendf(out, " #%" PRIu64 " %" PRIu64 " %s chunks %" PRIu64 "..%" PRIu64, ev->seq,
                       ev->len, plural(ev->len, "byte", "bytes"), ev->chunk_first, ev->chunk_last);
        if (ev->nblocks > 0 && ev->blocks != NULL) {
            sp_buf_appends(out, " blocks [");
            for (size_t i = 0; i < ev->nblocks; i++)
                sp_buf_appendf(out, "%s%" PRIu64, i ? "," : "", ev->blocks[i]);
            sp_buf_appendc(out, ']');
        }
        if (ev->truncated)
            sp_buf_appendf(out, " (truncated by %s)", sp_frame_cut_name(ev->truncated));
        sp_buf_appends(out, ": ");
        put_payload(out, ev, utf8);
        break;
    case SP_EV_FRAME_ERROR:
        sp_buf_appendf(out, " @%" PRIu64 ": ", ev->off);
        put_safe(out, ev->reason, utf8);
        break;
    case SP_EV_SEND:
        sp_buf_appendf(out, " #%" PRIu64 "%s %" PRIu64 " %s @%" PRIu64 " in %" PRIu32 " %s",
                       ev->seq, (ev->asked & MSG_OOB) ? " urgent" : "", ev->len,
                       plural(ev->len, "byte", "bytes"), ev->off, ev->writes,
                       plural(ev->writes, "write", "writes"));
        format_calls(out, ev);
        if (ev->wanted > 0 && ev->wanted != ev->len)
            sp_buf_appendf(out, " (%" PRIu64 " of %" PRIu64 " bytes taken)", ev->len, ev->wanted);
        if (sp_kind_is_dgram(ev->kind) && ev->peer != NULL && ev->peer[0] != '\0') {
            sp_buf_appends(out, " to ");
            put_addr(out, ev->peer, ev->peer_len, utf8);
        }
        sp_buf_appends(out, ": ");
        put_payload(out, ev, utf8);
        format_cmsgs(out, ev, utf8);
        break;
    case SP_EV_EOF:
        break;
    case SP_EV_SHUTDOWN:
        sp_buf_appendc(out, ' ');
        put_safe(out, ev->how, utf8);
        if (ev->unsent > 0)
            sp_buf_appendf(out, " (FIN queued behind %" PRId64 " unsent %s)", ev->unsent,
                           plural((uint64_t)ev->unsent, "byte", "bytes"));
        else if (ev->unsent == 0)
            sp_buf_appends(out, " (FIN sent)");
        break;
    case SP_EV_STATE:
        sp_buf_appendc(out, ' ');
        put_safe(out, ev->tcp, utf8);
        break;
    case SP_EV_ERROR:
        sp_buf_appendc(out, ' ');
        put_safe(out, ev->op, utf8);
        sp_buf_appendc(out, ' ');
        put_safe(out, ev->code, utf8);
        sp_buf_appends(out, ": ");
        put_safe(out, ev->message, utf8);
        break;
    case SP_EV_CLOSED:
        sp_buf_appends(out, ": ");
        put_safe(out, ev->reason, utf8);
        break;
    case SP_EV_SUMMARY:
        sp_buf_appendf(out,
                       " in %" PRIu64 " bytes (%" PRIu64 " chunks, %" PRIu64 " msgs), out %" PRIu64
                       " bytes",
                       ev->bytes_in, ev->chunks, ev->msgs, ev->bytes_out);
        break;
    case SP_EV_CMD_ERROR:
        if (ev->expected)
            sp_buf_appends(out, " (expected)");
        sp_buf_appends(out, ": ");
        put_safe(out, ev->message, utf8);
        sp_buf_appends(out, " in \"");
        put_safe(out, ev->line, utf8);
        sp_buf_appendc(out, '"');
        break;
    case SP_EV_NOTICE:
        sp_buf_appends(out, ": ");
        put_safe(out, ev->message, utf8);
        break;
    case SP_EV_DROPPED:
        sp_buf_appendf(out, " %" PRIu64 " %s", ev->dropped, plural(ev->dropped, "event", "events"));
        break;
    case SP_EV_NOTE:
        format_note(out, ev, utf8);
        break;
    case SP_EV_CHECK:
        sp_buf_appendc(out, ' ');
        put_safe(out, ev->lab, utf8);
        sp_buf_appendf(out, " %" PRIu64 "/%" PRIu64 " ", ev->seq, ev->steps);
        put_safe(out, ev->name, utf8);
        sp_buf_appends(out, ev->held ? " held: " : " FAILED: ");
        put_safe(out, ev->message, utf8);
        break;
    case SP_EV_EXPECT:
        format_expect(out, ev, utf8);
        break;
    case SP_EV_RULE:
        format_rule(out, ev, utf8);
        break;
    case SP_EV_SEGMENT:
        format_segment(out, ev);
        break;
    case SP_EV_TLS_RECORD:
    case SP_EV_TLS:
        sp_tls_event_text(out, ev, utf8);
        break;
    case SP_EV_ICMP_ERROR:
        format_icmp_error(out, ev, utf8);
        break;
    case SP_EV__COUNT:
        break;
    }
}

static void json_string(struct sp_buf *out, const void *p, size_t n)
{
    struct sp_buf r;
    sp_buf_init(&r);
    if (n > 0)
        sp_render(&r, p, n, SP_RENDER_UTF8);
    sp_json_quote(out, (const char *)r.data, r.len);
    sp_buf_cleanup(&r);
}

/* ,"key":"safe text" */
static void jstr(struct sp_buf *out, const char *key, const char *s)
{
    s = nz(s);
    sp_buf_appendf(out, ",\"%s\":", key);
    json_string(out, s, strlen(s));
}

static void jaddr(struct sp_buf *out, const char *key, const char *s, size_t len)
{
    s = nz(s);
    sp_buf_appendf(out, ",\"%s\":", key);
    json_string(out, s, sp_addr_text_len(s, len));
}

static void ju64(struct sp_buf *out, const char *key, uint64_t v)
{
    sp_buf_appendf(out, ",\"%s\":%" PRIu64, key, v);
}

static void jbool(struct sp_buf *out, const char *key, int v)
{
    sp_buf_appendf(out, ",\"%s\":%s", key, v ? "true" : "false");
}

/* hex (exact kept bytes), text (their safe rendering), and "kept" when only
 * a prefix of len bytes was kept. */
static void jpayload(struct sp_buf *out, const struct sp_event *ev)
{
    size_t n = ev->data != NULL ? ev->data_len : 0;
    sp_buf_appends(out, ",\"hex\":\"");
    sp_hex_append(out, ev->data, n);
    sp_buf_appendc(out, '"');
    sp_buf_appends(out, ",\"text\":");
    json_string(out, ev->data, n);
    if (n < ev->len)
        ju64(out, "kept", n);
}

/* ,"key":["MSG_TRUNC",...] */
static void jflags(struct sp_buf *out, const char *key, int flags)
{
    sp_buf_appendf(out, ",\"%s\":[", key);
    if (flags != 0) {
        sp_buf_appendc(out, '"');
        sp_msg_flags_format(out, flags, "\",\"");
        sp_buf_appendc(out, '"');
    }
    sp_buf_appendc(out, ']');
}

/* ,"iov":[{"size":4,"len":4},...]: how the kernel filled each buffer. */
static void jiov(struct sp_buf *out, const struct sp_event *ev)
{
    sp_buf_appends(out, ",\"iov\":[");
    uint64_t left = ev->data_len;
    for (size_t i = 0; ev->iov != NULL && i < ev->niov; i++) {
        uint64_t got = left < ev->iov[i] ? left : ev->iov[i];
        left -= got;
        sp_buf_appendf(out, "%s{\"size\":%" PRIu32 ",\"len\":%" PRIu64 "}", i ? "," : "",
                       ev->iov[i], got);
    }
    sp_buf_appendc(out, ']');
}

/* ,"calls":[5,3,"EAGAIN"]: each write call's return. */
static void jcalls(struct sp_buf *out, const struct sp_event *ev)
{
    sp_buf_appends(out, ",\"calls\":[");
    for (size_t i = 0; ev->calls != NULL && i < ev->ncalls; i++) {
        if (i > 0)
            sp_buf_appendc(out, ',');
        if (ev->calls[i] >= 0)
            sp_buf_appendf(out, "%" PRId64, ev->calls[i]);
        else
            put_errno(out, -ev->calls[i], 1);
    }
    sp_buf_appendc(out, ']');
}

/* One control message as a JSON object: "name" (or null), level, type,
 * len, and the fields of its kind. */
static void jcmsg_one(struct sp_buf *out, const struct sp_cmsg *c)
{
    const char *name = sp_cmsg_name(c);
    sp_buf_appends(out, "{\"name\":");
    if (name != NULL)
        sp_buf_appendf(out, "\"%s\"", name);
    else
        sp_buf_appends(out, "null");
    sp_buf_appendf(out, ",\"level\":%d,\"type\":%d,\"len\":%" PRIu32, c->level, c->type, c->len);
    switch (c->kind) {
    case SP_CMSG_RIGHTS:
        sp_buf_appendf(out, ",\"fd\":%d", c->fd);
        jstr(out, "target", c->target);
        jbool(out, "target_cut", c->target_cut);
        jstr(out, "file_type", sp_cmsg_file_type(c->mode));
        sp_buf_appendf(out, ",\"mode\":\"%04o\"", (unsigned)(c->mode & 07777));
        jbool(out, "closed", 1);
        break;
    case SP_CMSG_CREDS:
        sp_buf_appendf(out, ",\"pid\":%" PRId64 ",\"uid\":%" PRId64 ",\"gid\":%" PRId64, c->pid,
                       c->uid, c->gid);
        break;
    case SP_CMSG_PKTINFO:
        jstr(out, "dst", c->addr);
        ju64(out, "ifindex", c->ifindex);
        jstr(out, "ifname", c->ifname);
        break;
    case SP_CMSG_TTL:
        sp_buf_appendf(out, ",\"ttl\":%d", c->value);
        break;
    case SP_CMSG_TOS:
        sp_buf_appendf(out, ",\"tos\":%d", c->value);
        break;
    case SP_CMSG_TIMESTAMP:
        sp_buf_appendf(out, ",\"sec\":%" PRId64 ",\"nsec\":%" PRId64, c->sec, c->nsec);
        if (c->waited_known)
            sp_buf_appendf(out, ",\"waited_ms\":%" PRId64 ".%06" PRId64, c->waited_ns / 1000000,
                           c->waited_ns % 1000000);
        break;
    case SP_CMSG_ERR: {
        sp_buf_appends(out, ",\"errno\":");
        put_errno(out, c->ee_errno, 1);
        const char *origin = sp_cmsg_origin_name(c->origin);
        if (origin != NULL)
            jstr(out, "origin", origin);
        else
            sp_buf_appendf(out, ",\"origin\":%u", (unsigned)c->origin);
        sp_buf_appendf(out, ",\"icmp_type\":%u,\"icmp_code\":%u,\"info\":%" PRIu32,
                       (unsigned)c->icmp_type, (unsigned)c->icmp_code, c->info);
        jstr(out, "what", sp_cmsg_icmp_text(c));
        jstr(out, "offender", c->addr);
        break;
    }
    case SP_CMSG_OTHER:
        break;
    case SP_CMSG_SHORT:
        jbool(out, "short", 1);
        sp_buf_appendf(out, ",\"needs\":%d", c->value);
        break;
    case SP_CMSG_BAD:
        jbool(out, "malformed", 1);
        ju64(out, "at", c->off);
        break;
    }
    sp_buf_appendc(out, '}');
}

/* ,"cmsg":[{...},...] and, when some were only counted, "cmsg_more". */
static void jcmsg(struct sp_buf *out, const struct sp_event *ev)
{
    sp_buf_appends(out, ",\"cmsg\":[");
    for (size_t i = 0; ev->cmsg != NULL && i < ev->ncmsg; i++) {
        if (i > 0)
            sp_buf_appendc(out, ',');
        jcmsg_one(out, &ev->cmsg[i]);
    }
    sp_buf_appendc(out, ']');
    if (ev->cmsg_more > 0)
        ju64(out, "cmsg_more", ev->cmsg_more);
}

/* A packet socket's recv: "link": {ifname, ifindex, pkttype, protocol
 * (hex, with its name in ethertype when it has one), mac} and "summary". */
static void jlink(struct sp_buf *out, const struct sp_event *ev)
{
    sp_buf_appends(out, ",\"link\":{\"ifname\":");
    const char *ifname = nz(ev->ifname);
    json_string(out, ifname, strlen(ifname));
    ju64(out, "ifindex", ev->ifindex);
    const char *pt = sp_pkttype_name(ev->pkttype);
    if (pt != NULL)
        jstr(out, "pkttype", pt);
    else
        sp_buf_appendf(out, ",\"pkttype\":\"type %d\"", ev->pkttype);
    sp_buf_appendf(out, ",\"protocol\":\"0x%04x\"", (unsigned)ev->protocol);
    jstr(out, "ethertype", sp_ethertype_name(ev->protocol));
    jstr(out, "mac", ev->from);
    sp_buf_appendc(out, '}');
    jstr(out, "summary", ev->summary);
}

/* A segment's fields (DESIGN §11, issue 12): n is its number on the
 * socket, seq and ack are relative TCP sequence numbers. */
static void jsegment(struct sp_buf *out, const struct sp_event *ev)
{
    const struct sp_seg *g = &ev->seg;
    ju64(out, "n", ev->seq);
    jstr(out, "dir", g->out ? "out" : "in");
    sp_buf_appends(out, ",\"flags\":[");
    put_tcp_flags(out, g->flags, ",", "\"");
    sp_buf_appendc(out, ']');
    ju64(out, "seq", g->rel_seq);
    ju64(out, "ack", g->rel_ack);
    ju64(out, "win", g->win);
    jbool(out, "win_scaled", g->win_scaled);
    ju64(out, "len", ev->len);
    ju64(out, "off", ev->off);
    jbool(out, "isn_known", g->isn_known);
    if (g->flags & SP_TCP_SYN) {
        ju64(out, "mss", g->mss);
        sp_buf_appendf(out, ",\"wscale\":%d", g->wscale);
        jbool(out, "sack_ok", g->sack_ok);
    }
    if (g->has_ts)
        sp_buf_appendf(out, ",\"ts\":[%" PRIu32 ",%" PRIu32 "]", g->tsval, g->tsecr);
    if (g->nsack > 0) {
        sp_buf_appends(out, ",\"sack\":[");
        for (size_t k = 0; k < g->nsack && k < SP_SACK_MAX; k++)
            sp_buf_appendf(out, "%s[%" PRIu32 ",%" PRIu32 "]", k ? "," : "", g->sack[k][0],
                           g->sack[k][1]);
        sp_buf_appendc(out, ']');
    }
    sp_buf_appends(out, ",\"marks\":[");
    put_seg_marks(out, g, ",", "\"");
    sp_buf_appendc(out, ']');
    if (g->marks & SP_SEG_DUPACK)
        ju64(out, "dupack", g->dupack);
    ju64(out, "ip_len", g->ip_len);
    sp_buf_appendf(out, ",\"t_cap\":%" PRIu64 ".%06" PRIu64, g->cap_ns / 1000000000u,
                   g->cap_ns % 1000000000u / 1000u);
}

void sp_event_format_json(struct sp_buf *out, const struct sp_event *ev)
{
    sp_buf_appendf(out, "{\"t\":%" PRIu64 ".%06" PRIu64 ",\"ev\":\"%s\"", ev->t_ns / 1000000000u,
                   ev->t_ns % 1000000000u / 1000u, sp_event_name(ev->type));
    if (ev->sock != 0 ||
        (ev->type != SP_EV_CMD_ERROR && ev->type != SP_EV_NOTICE && ev->type != SP_EV_ERROR &&
         ev->type != SP_EV_NOTE && ev->type != SP_EV_CHECK))
        ju64(out, "sock", ev->sock);
    switch (ev->type) {
    case SP_EV_LISTENING:
    case SP_EV_BOUND:
        jstr(out, "kind", sp_sock_kind_name(ev->kind));
        jaddr(out, "local", ev->local, ev->local_len);
        break;
    case SP_EV_CONNECTED:
        jstr(out, "kind", sp_sock_kind_name(ev->kind));
        jaddr(out, "local", ev->local, ev->local_len);
        jaddr(out, "peer", ev->peer, ev->peer_len);
        break;
    case SP_EV_ACCEPTED:
        ju64(out, "parent", ev->parent);
        jstr(out, "kind", sp_sock_kind_name(ev->kind));
        jaddr(out, "local", ev->local, ev->local_len);
        jaddr(out, "peer", ev->peer, ev->peer_len);
        break;
    case SP_EV_RECV:
        ju64(out, "seq", ev->seq);
        ju64(out, "len", ev->len);
        ju64(out, "off", ev->off);
        jpayload(out, ev);
        jflags(out, "flags", ev->msg_flags);
        jflags(out, "asked", ev->asked);
        jiov(out, ev);
        if (ev->atmark != 0)
            jbool(out, "atmark", ev->atmark > 0);
        if (ev->blocked)
            sp_buf_appendf(out, ",\"blocked_ms\":%" PRIu64 ".%03" PRIu64, ev->blocked_ns / 1000000u,
                           ev->blocked_ns % 1000000u / 1000u);
        if (sp_kind_is_dgram(ev->kind))
            jaddr(out, "from", ev->from, ev->from_len);
        if (sp_kind_has_records(ev->kind))
            jbool(out, "truncated", ev->truncated);
        if (ev->kind == SP_SOCK_PACKET)
            jlink(out, ev);
        if (ev->unread >= 0)
            ju64(out, "unread", (uint64_t)ev->unread);
        jcmsg(out, ev);
        break;
    case SP_EV_MSG:
        ju64(out, "seq", ev->seq);
        ju64(out, "len", ev->len);
        jpayload(out, ev);
        sp_buf_appendf(out, ",\"chunks\":[%" PRIu64 ",%" PRIu64 "]", ev->chunk_first,
                       ev->chunk_last);
        ju64(out, "chunk_first_off", ev->chunk_first_off);
        ju64(out, "chunk_last_end", ev->chunk_last_end);
        ju64(out, "off", ev->off);
        ju64(out, "end_off", ev->end_off);
        jbool(out, "truncated", ev->truncated);
        jstr(out, "cut", cut_key(ev->truncated));
        if (ev->cuts != NULL) {
            sp_buf_appends(out, ",\"cuts\":[");
            for (size_t i = 0; i < ev->ncuts; i++)
                sp_buf_appendf(out, "%s%" PRIu32, i ? "," : "", ev->cuts[i]);
            sp_buf_appendc(out, ']');
        }
        if (ev->blocks != NULL) {
            sp_buf_appends(out, ",\"blocks\":[");
            for (size_t i = 0; i < ev->nblocks; i++)
                sp_buf_appendf(out, "%s%" PRIu64, i ? "," : "", ev->blocks[i]);
            sp_buf_appendc(out, ']');
        }
        break;
    case SP_EV_FRAME_ERROR:
        jstr(out, "reason", ev->reason);
        ju64(out, "off", ev->off);
        break;
    case SP_EV_SEND:
        ju64(out, "seq", ev->seq);
        ju64(out, "len", ev->len);
        ju64(out, "off", ev->off);
        if (sp_kind_is_dgram(ev->kind) && ev->peer != NULL && ev->peer[0] != '\0')
            jaddr(out, "to", ev->peer, ev->peer_len);
        jpayload(out, ev);
        ju64(out, "writes", ev->writes);
        jcalls(out, ev);
        jflags(out, "flags", ev->asked);
        if (ev->wanted > 0)
            ju64(out, "wanted", ev->wanted);
        jcmsg(out, ev);
        break;
    case SP_EV_EOF:
        break;
    case SP_EV_SHUTDOWN:
        jstr(out, "how", ev->how);
        if (ev->unsent >= 0)
            ju64(out, "unsent", (uint64_t)ev->unsent);
        break;
    case SP_EV_STATE:
        jstr(out, "tcp", ev->tcp);
        break;
    case SP_EV_ERROR:
        jstr(out, "op", ev->op);
        jstr(out, "code", ev->code);
        jstr(out, "message", ev->message);
        break;
    case SP_EV_CLOSED:
        jstr(out, "reason", ev->reason);
        break;
    case SP_EV_SUMMARY:
        ju64(out, "bytes_in", ev->bytes_in);
        ju64(out, "bytes_out", ev->bytes_out);
        ju64(out, "chunks", ev->chunks);
        ju64(out, "msgs", ev->msgs);
        break;
    case SP_EV_CMD_ERROR:
        jstr(out, "line", ev->line);
        jstr(out, "message", ev->message);
        if (ev->expected)
            jbool(out, "expected", 1);
        break;
    case SP_EV_NOTICE:
        jstr(out, "message", ev->message);
        break;
    case SP_EV_DROPPED:
        ju64(out, "dropped", ev->dropped);
        break;
    case SP_EV_NOTE:
        jstr(out, "lab", ev->lab);
        ju64(out, "step", ev->seq);
        ju64(out, "steps", ev->steps);
        jstr(out, "title", ev->title);
        jstr(out, "text", ev->message);
        break;
    case SP_EV_CHECK:
        jstr(out, "lab", ev->lab);
        ju64(out, "step", ev->seq);
        ju64(out, "steps", ev->steps);
        jstr(out, "name", ev->name);
        jbool(out, "held", ev->held);
        jstr(out, "check", ev->line);
        jstr(out, "found", ev->message);
        break;
    case SP_EV_EXPECT:
        jstr(out, "what", ev->op);
        ju64(out, "seq", ev->seq);
        ju64(out, "len", ev->len);
        jstr(out, "mode", ev->mode);
        if (ev->latency_ns >= 0) {
            sp_buf_appendf(out, ",\"latency_ms\":%" PRId64 ".%06" PRId64, ev->latency_ns / 1000000,
                           ev->latency_ns % 1000000);
            ju64(out, "send", ev->send_seq);
        } else {
            sp_buf_appends(out, ",\"latency_ms\":null,\"send\":null");
        }
        jstr(out, "captured", ev->message);
        break;
    case SP_EV_RULE:
        ju64(out, "rule", ev->rule);
        jstr(out, "what", ev->op);
        ju64(out, "seq", ev->seq);
        jstr(out, "mode", ev->mode);
        ju64(out, "fired", ev->fired);
        ju64(out, "len", ev->len);
        jbool(out, "close", ev->then_close);
        break;
    case SP_EV_SEGMENT:
        jsegment(out, ev);
        break;
    case SP_EV_TLS_RECORD:
    case SP_EV_TLS:
        sp_tls_event_json(out, ev);
        break;
    case SP_EV_ICMP_ERROR: {
        jstr(out, "code", ev->code);
        jstr(out, "message", ev->message);
        const struct sp_cmsg *c = ev->cmsg != NULL && ev->ncmsg > 0 ? &ev->cmsg[0] : NULL;
        const char *origin = c != NULL ? sp_cmsg_origin_name(c->origin) : NULL;
        jstr(out, "origin", origin);
        ju64(out, "icmp_type", c != NULL ? c->icmp_type : 0);
        ju64(out, "icmp_code", c != NULL ? c->icmp_code : 0);
        jstr(out, "offender", c != NULL ? c->addr : "");
        jaddr(out, "to", ev->peer, ev->peer_len);
        ju64(out, "len", ev->len);
        jpayload(out, ev);
        jcmsg(out, ev);
        break;
    }
    case SP_EV__COUNT:
        break;
    }
    sp_buf_appendc(out, '}');
}
