/* --demo: a loopback echo listener and a client connected to it, shown side
 * by side with line framing. Everything is done with the same command lines
 * a user would type, so the demo also teaches the language. */
#include <stdio.h>
#include <string.h>

#include "sockpit/cmd/cmd.h"
#include "ui.h"

void ui_demo_start(struct sp_tui *t)
{
    t->demo = 1;
    t->demo_stage = 1;
    sp_cmdq_push(t->q, "listen tcp:0 --framing line --echo", "demo");
    sp_buf_reset(&t->hint);
    sp_buf_appends(&t->hint, "Demo: starting an echo server and a client...");
}

/* Follows the demo's sockets as their events arrive. */
void ui_demo_event(struct sp_tui *t, const struct sp_event *ev)
{
    if (!t->demo || t->demo_stage == 0)
        return;
    if (ev->type == SP_EV_CMD_ERROR || (ev->type == SP_EV_ERROR && ev->sock == t->demo_listener)) {
        t->demo_stage = 0;
        sp_buf_reset(&t->hint);
        return;
    }
    if (t->demo_stage == 1 && ev->type == SP_EV_LISTENING && ev->local) {
        t->demo_listener = ev->sock;
        t->demo_stage = 2;
        struct sp_buf line;
        sp_buf_init(&line);
        /* The listener's own address, port included: the port is ephemeral. */
        sp_buf_appendf(&line, "connect tcp:%s --framing line", ev->local);
        sp_cmdq_push(t->q, sp_buf_str(&line), "demo");
        sp_buf_cleanup(&line);
        return;
    }
    if (t->demo_stage == 2 && ev->type == SP_EV_CONNECTED)
        t->demo_client = ev->sock;
    if (t->demo_stage == 2 && ev->type == SP_EV_ACCEPTED && ev->parent == t->demo_listener)
        t->demo_accepted = ev->sock;
    if (t->demo_stage == 2 && t->demo_client && t->demo_accepted) {
        t->demo_stage = 3;
        t->npanes = 2;
        t->stacked = 0;
        ui_pane_reset(&t->panes[0], t->demo_client);
        ui_pane_reset(&t->panes[1], t->demo_accepted);
        t->panes[0].view = t->panes[1].view = UI_VIEW_BOTH;
        t->focus = 0;
        t->selected = t->demo_client;
        sp_buf_reset(&t->hint);
        sp_buf_appendf(&t->hint,
                       "Demo: client [%u] left, the echo server's side [%u] right. Press Enter, "
                       "type hello, Enter. Then try f s v x ?",
                       (unsigned)t->demo_client, (unsigned)t->demo_accepted);
    }
}
