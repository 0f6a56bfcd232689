/* `relay LISTEN TARGET [options]` and `relay [ID] set [faults]`: the words of
 * the relay and its faults, checked before the engine is called. */
#include "cmd_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "sockpit/engine/engine.h"
#include "sockpit/engine/tls.h"
#include "sockpit/proto/addr.h"
#include "sockpit/proto/frame.h"

#define MS_MAX (1000ull * 3600 * 24 * 365)
#define BIG    (1ull << 50)

static int number_opt(struct cmd_ctx *c, const char *name, uint64_t hi, uint64_t *out, int *given)
{
    const struct cmd_word *w = cmd__opt(c, name);
    *given = w != NULL;
    return w == NULL ? 0 : cmd__number(c, w, 0, hi, 1, out);
}

/* The fault options into f (f->set says which were given); *dirs from --dir. */
static int faults(struct cmd_ctx *c, struct sp_fault *f, unsigned *dirs, int live)
{
    memset(f, 0, sizeof *f);
    *dirs = SP_RELAY_UP | SP_RELAY_DOWN;
    const struct cmd_word *w = cmd__opt(c, "--dir");
    if (w != NULL) {
        if (cmd__is(w, "up"))
            *dirs = SP_RELAY_UP;
        else if (cmd__is(w, "down"))
            *dirs = SP_RELAY_DOWN;
        else if (!cmd__is(w, "both"))
            return cmd__fail(c, w, 0, "--dir takes up, down or both");
    }
    static const struct {
        const char *name;
        unsigned bit;
        uint64_t hi;
    } nums[] = {
        {"--delay", SP_FAULT_DELAY, MS_MAX},
        {"--rate", SP_FAULT_RATE, BIG},
        {"--resplit", SP_FAULT_RESPLIT, SP_WRITE_QUEUE_MAX},
        {"--drop-msg", SP_FAULT_DROP, BIG},
        {"--reset-after", SP_FAULT_RESET_AFTER, BIG},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        uint64_t v = 0;
        int given = 0;
        if (number_opt(c, nums[i].name, nums[i].hi, &v, &given) != 0)
            return -1;
        if (!given)
            continue;
        f->set |= nums[i].bit;
        switch (nums[i].bit) {
        case SP_FAULT_DELAY:
            f->delay_ms = v;
            break;
        case SP_FAULT_RATE:
            f->rate = v;
            break;
        case SP_FAULT_RESPLIT:
            f->resplit = v;
            break;
        case SP_FAULT_DROP:
            f->drop_msg = v;
            break;
        default:
            f->reset_after = v;
            break;
        }
    }
    const struct cmd_word *stall = cmd__opt(c, "--stall"), *go = cmd__opt(c, "--unstall");
    if (stall != NULL && go != NULL)
        return cmd__fail(c, go, 0, "--stall and --unstall contradict each other");
    if (stall != NULL || go != NULL) {
        f->set |= SP_FAULT_STALL;
        f->stall = stall != NULL;
    }
    if (cmd__opt(c, "--clear") != NULL) {
        if (!live)
            return cmd__fail(c, cmd__opt(c, "--clear"), 0, "--clear belongs to `relay ID set`");
        /* Every fault not given on the line is turned off. */
        f->set = SP_FAULT_DELAY | SP_FAULT_RATE | SP_FAULT_RESPLIT | SP_FAULT_DROP |
                 SP_FAULT_RESET_AFTER | SP_FAULT_STALL;
    }
    return 0;
}

static int set_faults(struct cmd_ctx *c)
{
    static const char *const only_create[] = {
        "--framing", "--framing-back", "--fin", "--cert",   "--key",      "--keylog",
        "--ca",      "--insecure",     "--sni", "--no-sni", "--no-resume"};
    for (size_t i = 0; i < sizeof only_create / sizeof only_create[0]; i++)
        if (cmd__opt(c, only_create[i]) != NULL)
            return cmd__fail(c, cmd__opt(c, only_create[i]), 0,
                             "%s is given when the relay is made, not with set", only_create[i]);
    uint32_t id = 0;
    if (cmd__take_id(c, 1, &id) != 0 || cmd__want_args(c, 1, 1) != 0)
        return CMD_FAIL;
    struct sp_fault f;
    unsigned dirs;
    if (faults(c, &f, &dirs, 1) != 0)
        return CMD_FAIL;
    if (f.set == 0)
        return cmd__fail(c, NULL, 0,
                         "say which fault to change (--delay, --rate, --resplit, --drop-msg, "
                         "--reset-after, --stall, --unstall, --clear)");
    char err[256] = "";
    if (sp_engine_relay_fault(c->eng, id, dirs, &f, err, sizeof err) != 0)
        return cmd__fail(c, NULL, 0, "%s", err);
    return CMD_OK;
}

static int spec_opt(struct cmd_ctx *c, const char *name, struct sp_frame_spec *spec)
{
    sp_frame_spec_raw(spec);
    const struct cmd_word *w = cmd__opt(c, name);
    char err[256];
    if (w != NULL && sp_frame_spec_parse(spec, w->s, err, sizeof err) != 0)
        return cmd__fail(c, w, 0, "bad framing \"%.80s\": %s", w->s, err);
    return 0;
}

static int stream_addr(struct cmd_ctx *c, const struct cmd_word *w, struct sp_addr *a)
{
    char err[256];
    if (sp_addr_parse(a, w->s, err, sizeof err) != 0)
        return cmd__fail(c, w, 0, "bad address \"%.80s\": %s", w->s, err);
    if (a->kind != SP_ADDR_TCP && a->kind != SP_ADDR_UNIX)
        return cmd__fail(c, w, 0, "a relay joins stream sockets: tcp:, tls: or unix:");
    return 0;
}

static const char *value(struct cmd_ctx *c, const char *name)
{
    const struct cmd_word *w = cmd__opt(c, name);
    return w != NULL ? w->s : NULL;
}

/* Each TLS option belongs to one leg, which must be tls:: --cert and --key
 * to the listen address (the certificate the clients see), the verifying
 * ones to the target; --keylog to either. */
static int relay_tls(struct cmd_ctx *c, const struct sp_addr *la, const struct sp_addr *ta,
                     struct sp_tls_opts *lo, struct sp_tls_opts *to)
{
    static const char *const listen_side[] = {"--cert", "--key"};
    static const char *const target_side[] = {"--ca", "--insecure", "--sni", "--no-sni",
                                              "--no-resume"};
    memset(lo, 0, sizeof *lo);
    memset(to, 0, sizeof *to);
    for (size_t i = 0; i < sizeof listen_side / sizeof listen_side[0]; i++)
        if (cmd__opt(c, listen_side[i]) != NULL && !la->tls)
            return cmd__fail(c, cmd__opt(c, listen_side[i]), 0,
                             "%s is for a tls: listen address (the certificate clients see)",
                             listen_side[i]);
    for (size_t i = 0; i < sizeof target_side / sizeof target_side[0]; i++)
        if (cmd__opt(c, target_side[i]) != NULL && !ta->tls)
            return cmd__fail(c, cmd__opt(c, target_side[i]), 0, "%s is for a tls: target",
                             target_side[i]);
    if (cmd__opt(c, "--keylog") != NULL && !la->tls && !ta->tls)
        return cmd__fail(c, cmd__opt(c, "--keylog"), 0, "--keylog is for tls: legs");
    lo->cert = value(c, "--cert");
    lo->key = value(c, "--key");
    if ((lo->cert == NULL) != (lo->key == NULL))
        return cmd__fail(c, cmd__opt(c, lo->cert != NULL ? "--cert" : "--key"), 0,
                         "--cert and --key go together");
    lo->keylog = to->keylog = value(c, "--keylog");
    to->ca = value(c, "--ca");
    to->insecure = cmd__opt(c, "--insecure") != NULL;
    to->sni = value(c, "--sni");
    to->no_sni = cmd__opt(c, "--no-sni") != NULL;
    to->no_resume = cmd__opt(c, "--no-resume") != NULL;
    if (to->sni != NULL && to->no_sni)
        return cmd__fail(c, cmd__opt(c, "--no-sni"), 0, "--sni and --no-sni contradict");
    if (to->insecure && to->ca != NULL)
        return cmd__fail(c, cmd__opt(c, "--insecure"), 0,
                         "--insecure and --ca contradict: --ca is for verifying");
    return 0;
}

int cmd__exec_relay(struct cmd_ctx *c)
{
    int n = cmd__nargs(c);
    if (n >= 1 && cmd__is(cmd__arg(c, n - 1), "set"))
        return set_faults(c);
    if (n != 2)
        return cmd__fail(c, NULL, 0, "usage: relay LISTEN TARGET [options], or relay [ID] set ...");
    if (cmd__opt(c, "--unstall") != NULL)
        return cmd__fail(c, cmd__opt(c, "--unstall"), 0, "--unstall belongs to `relay ID set`");
    struct sp_addr la, ta;
    struct sp_frame_spec fs, fb;
    struct sp_relay_opts o;
    struct sp_tls_opts ltls, ttls;
    memset(&o, 0, sizeof o);
    if (stream_addr(c, cmd__arg(c, 0), &la) != 0 || stream_addr(c, cmd__arg(c, 1), &ta) != 0 ||
        spec_opt(c, "--framing", &fs) != 0 || spec_opt(c, "--framing-back", &fb) != 0 ||
        relay_tls(c, &la, &ta, &ltls, &ttls) != 0)
        return CMD_FAIL;
    o.listen_tls = &ltls;
    o.target_tls = &ttls;
    o.framing = &fs;
    o.framing_back = &fb;
    const struct cmd_word *w = cmd__opt(c, "--fin");
    if (w != NULL) {
        if (cmd__is(w, "pass"))
            o.fin = SP_FIN_PASS;
        else if (cmd__is(w, "hold"))
            o.fin = SP_FIN_HOLD;
        else if (cmd__is(w, "reset"))
            o.fin = SP_FIN_RESET;
        else
            return cmd__fail(c, w, 0, "--fin takes pass, hold or reset");
    }
    struct sp_fault f;
    unsigned dirs;
    if (faults(c, &f, &dirs, 0) != 0)
        return CMD_FAIL;
    if (dirs & SP_RELAY_UP)
        o.up = f;
    if (dirs & SP_RELAY_DOWN)
        o.down = f;
    char err[256] = "";
    uint32_t id = 0;
    if (sp_engine_relay(c->eng, &la, &ta, &o, &id, err, sizeof err) != 0)
        return cmd__fail(c, NULL, 0, "%s", err[0] ? err : "refused");
    c->q->current = id;
    if (la.kind == SP_ADDR_TCP && la.family == AF_UNSPEC) {
        struct cmd_pending *p = &c->q->pend;
        p->kind = PEND_CREATE;
        p->id = id;
        snprintf(p->verb, sizeof p->verb, "relay");
        return cmd__pending_start(c);
    }
    return CMD_OK;
}
