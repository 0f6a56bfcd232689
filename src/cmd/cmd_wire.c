/* `wire [ID] on|off`: the wire view of a TCP socket (engine_wire.c does the
 * capturing; this is the command). */
#include "cmd_int.h"

#include "sockpit/engine/engine.h"

int cmd__exec_wire(struct cmd_ctx *c)
{
    uint32_t id;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0)
        return CMD_FAIL;
    const struct cmd_word *w = cmd__arg(c, 0);
    int on = cmd__is(w, "on") ? 1 : cmd__is(w, "off") ? 0 : -1;
    if (on < 0)
        return cmd__fail(c, w, 0, "expected on or off");
    struct sp_sock_info in;
    if (cmd__sock_info(c, NULL, id, &in) != 0)
        return CMD_FAIL;
    char err[800] = "";
    if (sp_engine_wire(c->eng, id, on, err, sizeof err) != 0)
        return cmd__fail(c, NULL, 0, "%s", err);
    return CMD_OK;
}
