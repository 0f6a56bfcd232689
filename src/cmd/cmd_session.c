/* Commands about the session rather than one socket: help, quit, and the
 * front end's own commands (handed to hooks->ui_command); lab and step are in
 * lab_run.c. */
#include "cmd_int.h"

#include <stdio.h>
#include <string.h>

#include "sockpit/engine/engine.h"

/* Prints text line by line as command output; cuts b's lines in place. */
static void out_lines(struct cmd_ctx *c, struct sp_buf *b)
{
    char *s = (char *)b->data;
    while (s != NULL && *s != '\0') {
        char *nl = strchr(s, '\n');
        if (nl != NULL)
            *nl = '\0';
        cmd__out(c->q, s);
        s = nl != NULL ? nl + 1 : NULL;
    }
}

int cmd__exec_help(struct cmd_ctx *c)
{
    struct sp_buf b;
    sp_buf_init(&b);
    const struct cmd_word *w = cmd__arg(c, 0);
    int r = sp_cmd_help(&b, w != NULL ? w->s : NULL);
    if (r != 0) {
        sp_buf_cleanup(&b);
        return cmd__fail(c, w, 0, "no command \"%.40s\" to explain", w->s);
    }
    out_lines(c, &b);
    sp_buf_cleanup(&b);
    return CMD_OK;
}

int cmd__exec_quit(struct cmd_ctx *c)
{
    sp_engine_close_all(c->eng);
    cmd__drop_queue(c->q);
    if (c->q->hooks.quit != NULL)
        c->q->hooks.quit(c->q->ud);
    return CMD_OK;
}

int cmd__exec_ui(struct cmd_ctx *c)
{
    if (c->q->hooks.ui_command == NULL)
        return cmd__fail(c, &c->sp->words[0], 0, "%s works only in the TUI", c->ent->name);
    const char *argv[CMD_WORDS_MAX + 1];
    int argc = 0;
    argv[argc++] = c->ent->name;
    for (int i = 1; i < c->sp->n; i++)
        argv[argc++] = c->sp->words[i].s;
    argv[argc] = NULL;
    char err[256] = "";
    if (c->q->hooks.ui_command(c->q->ud, argc, argv, err, sizeof err) != 0)
        return cmd__fail(c, NULL, 0, "%s", err[0] ? err : "failed");
    return CMD_OK;
}
