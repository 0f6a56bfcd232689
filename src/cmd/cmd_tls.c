/* The TLS options of `connect` and `listen` (tls.h): checked here, before
 * the engine is called, so a bad line changes nothing. */
#include "cmd_int.h"

#include <stdio.h>
#include <string.h>

#include "sockpit/engine/tls.h"
#include "sockpit/proto/addr.h"

static const char *const client_only[] = {"--sni", "--no-sni", "--ca", "--insecure", "--no-resume"};
static const char *const both[] = {"--alpn", "--cert", "--key", "--keylog"};

/* A value option's text, or NULL when absent. */
static const char *value(struct cmd_ctx *c, const char *name)
{
    const struct cmd_word *w = cmd__opt(c, name);
    return w != NULL ? w->s : NULL;
}

int cmd__tls_opts(struct cmd_ctx *c, const struct sp_addr *addr, int listener,
                  struct sp_tls_opts *o)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
        const struct cmd_word *w = cmd__opt(c, both[i]);
        if (w != NULL && !addr->tls)
            return cmd__fail(c, w, 0, "%s is for tls: addresses", both[i]);
    }
    for (size_t i = 0; i < sizeof client_only / sizeof client_only[0]; i++) {
        const struct cmd_word *w = cmd__opt(c, client_only[i]);
        if (w != NULL && !addr->tls)
            return cmd__fail(c, w, 0, "%s is for tls: addresses", client_only[i]);
    }
    if (!addr->tls)
        return 0;
    o->alpn = value(c, "--alpn");
    o->cert = value(c, "--cert");
    o->key = value(c, "--key");
    o->keylog = value(c, "--keylog");
    if ((o->cert == NULL) != (o->key == NULL)) {
        const struct cmd_word *w = cmd__opt(c, o->cert != NULL ? "--cert" : "--key");
        return cmd__fail(c, w, 0, "--cert and --key go together");
    }
    if (listener)
        return 0;
    o->sni = value(c, "--sni");
    o->no_sni = cmd__opt(c, "--no-sni") != NULL;
    o->ca = value(c, "--ca");
    o->insecure = cmd__opt(c, "--insecure") != NULL;
    o->no_resume = cmd__opt(c, "--no-resume") != NULL;
    if (o->sni != NULL && o->no_sni)
        return cmd__fail(c, cmd__opt(c, "--no-sni"), 0, "--sni and --no-sni contradict");
    if (o->insecure && o->ca != NULL)
        return cmd__fail(c, cmd__opt(c, "--insecure"), 0,
                         "--insecure and --ca contradict: --ca is for verifying");
    return 0;
}
