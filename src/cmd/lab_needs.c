/* What a lab needs of the machine (`needs:` in its file), asked of the
 * kernel before the first step, and what it did by the end. `needs: loss`
 * wants lo's root qdisc to drop packets (netem with loss, or tbf's tail
 * drop, as tools/wire-loss.sh sets up): without it the lab's checks would
 * find no retransmission and blame the lesson, so it does not start. */
#include "cmd_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sockpit/cmd/lab.h"
#include "sockpit/engine/engine.h"
#include "sockpit/engine/qdisc.h"
#include "sockpit/proto/labfile.h"

#define HOW_TO                                                                                     \
    "run it through tools/wire-loss.sh (as root: a private network namespace whose lo drops "      \
    "packets)"

int cmd__lab_needs_check(const struct sp_labdef *def, struct sp_qdisc *base, char *err,
                         size_t errlen)
{
    memset(base, 0, sizeof *base);
    if (!(def->needs & SP_LAB_NEEDS_LOSS))
        return 0;
    char why[160], qerr[200];
    if (sp_qdisc_root("lo", base, qerr, sizeof qerr) != 0) {
        snprintf(err, errlen, "lab %s needs packet loss on lo, and lo's qdisc is unknown (%s): %s",
                 def->name, qerr, HOW_TO);
        return -1;
    }
    if (!sp_qdisc_loses(base, why, sizeof why)) {
        snprintf(err, errlen, "lab %s needs packet loss on lo, and there is none: %s; %s",
                 def->name, why, HOW_TO);
        return -1;
    }
    return 0;
}

int sp_lab_needs_met(const struct sp_labdef *def, char *err, size_t errlen)
{
    struct sp_qdisc base;
    return cmd__lab_needs_check(def, &base, err, errlen) == 0;
}

static void notice(struct sp_cmdq *q, const char *text)
{
    struct sp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SP_EV_NOTICE;
    ev.unread = ev.unsent = -1;
    ev.message = text;
    sp_engine_emit(q->eng, &ev);
}

void cmd__lab_needs_start(struct sp_cmdq *q, const struct sp_labdef *def,
                          const struct sp_qdisc *base)
{
    if (!(def->needs & SP_LAB_NEEDS_LOSS))
        return;
    char why[160], msg[400];
    sp_qdisc_loses(base, why, sizeof why);
    snprintf(msg, sizeof msg,
             "lo loses packets: its root qdisc is %s: %s (%" PRIu64 " dropped so far)", base->kind,
             why, base->drops);
    notice(q, msg);
}

void cmd__lab_needs_end(struct sp_cmdq *q, const struct sp_labdef *def, const struct sp_qdisc *base)
{
    if (!(def->needs & SP_LAB_NEEDS_LOSS))
        return;
    struct sp_qdisc now;
    char err[200], msg[400];
    if (sp_qdisc_root("lo", &now, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "lo's qdisc could not be asked again: %s", err);
    } else if (strcmp(now.kind, base->kind) != 0 || !now.has_stats) {
        snprintf(msg, sizeof msg, "lo's root qdisc is %s now (was %s): its drops are unknown",
                 now.kind, base->kind);
    } else {
        /* The kernel's counter is 32 bits wide: the difference wraps. */
        uint32_t during = (uint32_t)(now.drops - base->drops);
        snprintf(msg, sizeof msg,
                 "the qdisc on lo (%s) dropped %" PRIu32 " packet%s during the lab (%" PRIu64
                 " since it was added; sent %" PRIu64 ")",
                 now.kind, during, during == 1 ? "" : "s", now.drops, now.packets);
    }
    notice(q, msg);
}
