/* A socket's life between creation and close, whatever its kind: reading
 * on and off, and the outcome of a connect. The kinds (engine_stream.c,
 * engine_dgram.c, engine_packet.c, engine_seqpacket.c) and the send path call it; it calls back
 * into the kind only to turn reading on and off. The public operations (engine_ops.c) sit above all
 * of them. */
#include "engine_int.h"

int sp__sock_read_start(struct sp_sock *s)
{
    if (s->closed || s->paused || s->reading || !s->handle_open || s->echo_blocked || s->relay_held)
        return 0;
    if (sp_kind_is_stream(s->kind) && ((s->peers & SP_PEER_FIN) || (s->ours & SP_OURS_SHUT_RD)))
        return 0;
    /* Seqpacket reads take their control messages themselves. */
    if (s->kind == SP_SOCK_SEQPACKET)
        return sp__seqpacket_read_start(s);
    if (!sp_kind_is_listener(s->kind) && s->kind != SP_SOCK_PACKET && sp__anc_reads(s))
        return sp__anc_read_start(s);
    if (sp_kind_is_stream(s->kind))
        return sp__stream_read_start(s);
    if (sp_kind_is_listener(s->kind))
        return sp__listener_start(s);
    if (s->kind == SP_SOCK_PACKET)
        return sp__packet_read_start(s);
    return sp__dgram_read_start(s);
}

void sp__sock_read_stop(struct sp_sock *s)
{
    if (!s->reading || !s->handle_open)
        return;
    if (s->anc != NULL && s->anc->active)
        sp__anc_read_stop(s);
    else if (s->kind == SP_SOCK_SEQPACKET)
        sp__seqpacket_read_stop(s);
    else if (sp_kind_is_stream(s->kind))
        sp__stream_read_stop(s);
    else if (sp_kind_is_listener(s->kind))
        sp__listener_stop(s);
    else if (s->kind == SP_SOCK_PACKET)
        sp__packet_read_stop(s);
    else
        sp__dgram_read_stop(s);
    /* Not reading, we learn of the peer's FIN or reset from the kernel's
     * state only: poll it. */
    sp__klist_update(s);
}

void sp__sock_connected(struct sp_sock *s)
{
    struct sp_engine *eng = s->eng;
    s->connecting = 0;
    s->established = 1;
    if (s->tmode == SP_T_CONNECT)
        sp__sock_timer_stop(s);
    int fd = sp__sock_fd(s);
    if (fd >= 0)
        sp__sock_names(s, fd);
    if (sp__wants(eng, SP_EV_CONNECTED)) {
        struct sp_event ev = {.type = SP_EV_CONNECTED, .unread = -1};
        ev.local = s->local;
        ev.peer = s->peer;
        sp__emit(eng, s, &ev);
    }
    if (s->closed)
        return;
    if (s->kind == SP_SOCK_UNIX_DGRAM && s->local[0] == '@')
        sp__emit_notice(s, "bound to an automatic abstract address so that replies can reach "
                           "this socket");
    sp__kcheck(s);
    sp__sock_read_start(s);
    sp__tls_start(s);
}

void sp__sock_connect_failed(struct sp_sock *s, int uverr)
{
    s->connecting = 0;
    sp__emit_error(s, "connect", uverr);
    sp__sock_close(s, uverr == UV_ETIMEDOUT ? "connect timed out" : "connect failed", 0);
}

void sp__sock_outcome(struct sp_sock *s)
{
    if (s->closed)
        return;
    if (s->outcome_err != 0)
        sp__sock_connect_failed(s, s->outcome_err);
    else
        sp__sock_connected(s);
}

void sp__sock_connect_timeout(struct sp_sock *s)
{
    if (s->closed)
        return;
    sp__emit_error(s, "connect", UV_ETIMEDOUT);
    sp__sock_close(s, "connect timed out", 0);
}
