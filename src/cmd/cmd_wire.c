/* `wire [ID] [on|off]`: the wire view of a TCP socket, or without on/off
 * what it captured and missed; `set wire-buffer`: the capture's buffer
 * (engine_wire.c does the capturing; these are the commands). */
#include "cmd_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sockpit/engine/engine.h"
#include "sockpit/proto/render.h"

void cmd__wire_line(struct sp_buf *b, const struct sp_wire_info *wi)
{
    /* The drops are the capture's, shared by every socket on it: which
     * socket's segments they were, nobody can know. */
    sp_buf_appends(b, "wire on ");
    sp_render(b, wi->ifname, strlen(wi->ifname), SP_RENDER_UTF8);
    sp_buf_appendf(b,
                   ": %" PRIu64 " segments%s, the capture dropped %" PRIu64
                   " (of any socket it watches), the interface dropped %" PRIu64,
                   wi->segments, wi->listener_watch ? " (and its connections')" : "", wi->dropped,
                   wi->ifdropped);
}

static int status(struct cmd_ctx *c, uint32_t id)
{
    struct sp_wire_info wi;
    if (!sp_engine_wire_info(c->eng, id, &wi)) {
        char line[64];
        snprintf(line, sizeof line, "wire off (socket %" PRIu32 ")", id);
        cmd__out(c->q, line);
        return CMD_OK;
    }
    struct sp_buf b;
    sp_buf_init(&b);
    cmd__wire_line(&b, &wi);
    sp_buf_appendf(&b, "; filter: %s (%zu characters, compiled %" PRIu64 " times) for %u %s",
                   wi.filter, wi.filter_len, wi.recompiles, wi.watched,
                   wi.watched == 1 ? "socket" : "sockets");
    cmd__out(c->q, sp_buf_str(&b));
    sp_buf_cleanup(&b);
    return CMD_OK;
}

int cmd__exec_wire(struct cmd_ctx *c)
{
    uint32_t id;
    if (cmd__take_id(c, 0, &id) != 0 || cmd__want_args(c, 0, 1) != 0)
        return CMD_FAIL;
    struct sp_sock_info in;
    if (cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    if (cmd__nargs(c) == 0)
        return status(c, id);
    const struct cmd_word *w = cmd__arg(c, 0);
    int on = cmd__is(w, "on") ? 1 : cmd__is(w, "off") ? 0 : -1;
    if (on < 0)
        return cmd__fail(c, w, 0, "expected on or off");
    char err[800] = "";
    if (sp_engine_wire(c->eng, id, on, err, sizeof err) != 0)
        return cmd__fail(c, NULL, 0, "%s", err);
    return CMD_OK;
}

/* set wire-buffer BYTES|off: for the captures opened from now on. */
int cmd__set_wire_buffer(struct cmd_ctx *c)
{
    if (cmd__want_args(c, 2, 2) != 0)
        return CMD_FAIL;
    const struct cmd_word *v = cmd__arg(c, 1);
    uint64_t n = 0;
    if (!cmd__is(v, "off") && cmd__number(c, v, 0, 1u << 30, 0, &n) != 0)
        return CMD_FAIL;
    sp_engine_set_wire_buffer(c->eng, (int)n);
    return CMD_OK;
}
