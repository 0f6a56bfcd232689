/* Running a lab (`lab NAME`): the `lab` line waits (PEND_LAB) while the lab
 * feeds its command lines, one at a time, to a queue of its own, so each
 * line's `$N` references are expanded once the sockets before it exist.
 * While a step runs, the lab counts the engine events its checks ask about
 * (what the kernel did, not what the script sent); when the step's last
 * line is done it publishes the `note` event and one `check` event per
 * check. With a step key (the TUI) it stops before a step that asks for a
 * prediction and after every step; headless it runs straight through and
 * the `lab` line fails, naming the checks, if any check failed. */
#include "cmd_int.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/cmd/lab.h"
#include "sockpit/engine/engine.h"
#include "sockpit/engine/qdisc.h"
#include "sockpit/proto/cmsg.h"
#include "sockpit/proto/labfile.h"

#define FOUND_MAX 160

struct cmd_lab {
    struct sp_cmdq *q;   /* the queue whose `lab` line waits */
    struct sp_cmdq *sub; /* runs the lab's command lines */
    struct sp_labdef *def;
    char name[64];
    char origin[256]; /* "lab split" or the file path, for error origins */
    int interactive;
    int sub_ev;
    struct sp_watch *kick, *reap;
    size_t cmd; /* next command line of the step */
    int quit, finished;

    /* The lab's sockets: socks[0] is $1. A socket belongs to the lab when a
     * step created it (a command made it or a lab listener accepted it
     * while the step ran). */
    uint32_t socks[SP_LAB_SOCKS_MAX];
    size_t nsocks;
    uint32_t last_seen;
    size_t first_rel[SP_LAB_STEPS_MAX]; /* sockets before each step */
    /* Totals of the lab's sockets when the step (or its repeat) started:
     * `wait $N bytes:+K` in a lab counts from there. */
    uint64_t base_bytes[SP_LAB_SOCKS_MAX], base_msgs[SP_LAB_SOCKS_MAX];

    uint64_t counts[SP_LAB_CHECKS_MAX][2]; /* per check: lhs, rhs event counts */
    int held[SP_LAB_CHECKS_MAX];
    char found[SP_LAB_CHECKS_MAX][FOUND_MAX];
    const char *foundp[SP_LAB_CHECKS_MAX];
    signed char results[SP_LAB_STEPS_MAX][SP_LAB_CHECKS_MAX]; /* -1 not run, 0, 1 */
    struct sp_buf x_title, x_ask, x_note, x_choices[SP_LAB_CHOICES_MAX];
    const char *choicep[SP_LAB_CHOICES_MAX];
    struct sp_lab_view view;
    struct sp_qdisc qdisc0; /* lo's qdisc at the start (`needs: loss`) */
};

static void expand_view(struct cmd_lab *l);
static void expand_text(const struct cmd_lab *l, const char *s, struct sp_buf *out);

static void lab_changed(struct cmd_lab *l)
{
    l->view.generation++;
    l->view.nsocks = l->nsocks;
    if (l->def != NULL && l->def->nsteps > 0)
        expand_view(l);
}

/* Takes every socket created since the last look as the lab's next ones. */
static void adopt_new_socks(struct cmd_lab *l)
{
    uint32_t last = sp_engine_last_id(l->q->eng);
    while (l->last_seen < last && l->nsocks < SP_LAB_SOCKS_MAX) {
        l->socks[l->nsocks++] = ++l->last_seen;
        lab_changed(l);
    }
    l->last_seen = last;
}

static uint32_t sock_of(const struct cmd_lab *l, unsigned rel)
{
    return rel >= 1 && rel <= l->nsocks ? l->socks[rel - 1] : 0;
}

static int is_lab_sock(const struct cmd_lab *l, uint32_t id)
{
    for (size_t i = 0; i < l->nsocks; i++)
        if (l->socks[i] == id)
            return 1;
    return 0;
}

static const struct sp_lab_step *cur_step(const struct cmd_lab *l)
{
    return &l->def->steps[l->view.step];
}

/* A segment's flags ("SYN|ACK") or marks ("retransmission dup-ack") as
 * text for a check's filter. */
static const char *seg_text(const struct sp_event *ev, int marks, char *buf, size_t len)
{
    static const char *const names[8] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    static const int order[8] = {1, 0, 2, 3, 4, 5, 6, 7};
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < (marks ? 16u : 8u); i++) {
        const char *w = NULL;
        if (marks && (ev->seg.marks & (1u << i)))
            w = sp_seg_mark_name(1u << i);
        else if (!marks && (ev->seg.flags & (1u << order[i])))
            w = names[order[i]];
        if (w != NULL && n < len)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? (marks ? " " : "|") : "", w);
    }
    return buf;
}

/* cmsg=NAME (or ~PART) holds when one of the event's control messages is
 * named so; cmsg!=NAME when none is. */
static int cmsg_holds(const struct sp_lab_filter *f, const struct sp_event *ev)
{
    int any = 0;
    for (size_t i = 0; ev->cmsg != NULL && i < ev->ncmsg && !any; i++) {
        const char *name = sp_cmsg_name(&ev->cmsg[i]);
        any = sp_lab_op_holds_text(f->op == SP_LAB_NE ? SP_LAB_EQ : f->op, name != NULL ? name : "",
                                   f->text);
    }
    return f->op == SP_LAB_NE ? !any : any;
}

static int filter_holds(const struct sp_lab_filter *f, const struct sp_event *ev)
{
    uint64_t v = 0;
    const char *s = NULL;
    char text[128];
    if (strcmp(f->field, "cmsg") == 0)
        return cmsg_holds(f, ev);
    if (strcmp(f->field, "len") == 0)
        v = ev->len;
    else if (strcmp(f->field, "truncated") == 0)
        v = (uint64_t)(ev->truncated != 0);
    else if (strcmp(f->field, "unread") == 0) {
        if (ev->unread < 0)
            return 0;
        v = (uint64_t)ev->unread;
    } else if (strcmp(f->field, "chunks") == 0)
        v = ev->chunk_last >= ev->chunk_first ? ev->chunk_last - ev->chunk_first + 1 : 0;
    else if (strcmp(f->field, "blocks") == 0)
        v = ev->nblocks;
    else if (strcmp(f->field, "writes") == 0)
        v = ev->writes;
    else if (strcmp(f->field, "code") == 0)
        s = ev->code;
    else if (strcmp(f->field, "op") == 0)
        s = ev->op;
    else if (strcmp(f->field, "tcp") == 0)
        s = ev->tcp;
    else if (strcmp(f->field, "how") == 0)
        s = ev->how;
    else if (strcmp(f->field, "reason") == 0)
        s = ev->reason;
    else if (strcmp(f->field, "flags") == 0 || strcmp(f->field, "marks") == 0)
        s = seg_text(ev, f->field[0] == 'm', text, sizeof text);
    else if (strcmp(f->field, "dir") == 0)
        s = ev->seg.out ? "out" : "in";
    else
        return 0;
    if (f->numeric)
        return sp_lab_op_holds(f->op, v, f->num);
    return sp_lab_op_holds_text(f->op, s != NULL ? s : "", f->text);
}

static int term_matches(const struct cmd_lab *l, const struct sp_lab_term *t,
                        const struct sp_event *ev)
{
    if (!t->is_count || strcmp(t->event, sp_event_name(ev->type)) != 0)
        return 0;
    if (t->sock != 0 ? ev->sock != sock_of(l, t->sock) || ev->sock == 0 : !is_lab_sock(l, ev->sock))
        return 0;
    for (size_t i = 0; i < t->nfilters; i++)
        if (!filter_holds(&t->filters[i], ev))
            return 0;
    return 1;
}

/* `now $N ...`: the socket's kernel view as the check runs. */
static uint64_t now_value(struct cmd_lab *l, const struct sp_lab_term *t)
{
    struct sp_sock_info in;
    uint32_t id = sock_of(l, t->sock);
    if (id == 0 || sp_engine_sock_info(l->q->eng, id, &in) != 0)
        return 0;
    /* The engine's TCP state already follows the connection past close
     * (TIME_WAIT while the descriptor is open, via sock_diag); unread and
     * unsent are asked of the kernel now. */
    struct sp_kinfo k;
    char err[128];
    int fresh = 0, asked = 0;
    for (size_t i = 0; i < t->nfilters; i++) {
        const struct sp_lab_filter *f = &t->filters[i];
        int64_t v = -1;
        if (strcmp(f->field, "tcp") == 0) {
            if (!sp_lab_op_holds_text(f->op, in.tcp, f->text))
                return 0;
            continue;
        }
        if (!asked && (strcmp(f->field, "unread") == 0 || strcmp(f->field, "unsent") == 0)) {
            asked = 1;
            fresh = in.open && sp_engine_kinfo(l->q->eng, id, &k, err, sizeof err) == 0;
        }
        if (strcmp(f->field, "unread") == 0)
            v = fresh ? k.unread : in.unread;
        else if (strcmp(f->field, "unsent") == 0)
            v = fresh ? k.unsent : in.unsent;
        else if (strcmp(f->field, "queued") == 0)
            v = (int64_t)in.queued;
        else if (strcmp(f->field, "open") == 0)
            v = in.open;
        if (v < 0 || !sp_lab_op_holds(f->op, (uint64_t)v, f->num))
            return 0;
    }
    return 1;
}

static uint64_t term_value(struct cmd_lab *l, const struct sp_lab_term *t, uint64_t count)
{
    if (!t->is_count)
        return t->num;
    if (strcmp(t->event, "now") == 0)
        return now_value(l, t);
    return count;
}

static void on_event(void *ud, const struct sp_event *ev)
{
    struct cmd_lab *l = ud;
    if (l->view.phase != SP_LAB_RUNNING || ev->sock == 0)
        return;
    adopt_new_socks(l);
    const struct sp_lab_step *st = cur_step(l);
    for (size_t i = 0; i < st->nchecks; i++) {
        if (term_matches(l, &st->checks[i].lhs, ev))
            l->counts[i][0]++;
        if (term_matches(l, &st->checks[i].rhs, ev))
            l->counts[i][1]++;
    }
}

static void emit_note(struct cmd_lab *l)
{
    expand_view(l);
    struct sp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SP_EV_NOTE;
    ev.unread = -1;
    ev.lab = l->name;
    ev.seq = l->view.step + 1;
    ev.steps = l->def->nsteps;
    ev.title = l->view.title;
    ev.message = l->view.note;
    sp_engine_emit(l->q->eng, &ev);
}

static void count_results(struct cmd_lab *l)
{
    l->view.checks_held = l->view.checks_failed = 0;
    for (size_t i = 0; i < l->def->nsteps; i++)
        for (size_t k = 0; k < l->def->steps[i].nchecks; k++) {
            if (l->results[i][k] == 1)
                l->view.checks_held++;
            else if (l->results[i][k] == 0)
                l->view.checks_failed++;
        }
}

/* Evaluates the step's checks and publishes them. */
static void run_checks(struct cmd_lab *l)
{
    const struct sp_lab_step *st = cur_step(l);
    for (size_t i = 0; i < st->nchecks; i++) {
        const struct sp_lab_check *c = &st->checks[i];
        uint64_t a = term_value(l, &c->lhs, l->counts[i][0]);
        uint64_t b = term_value(l, &c->rhs, l->counts[i][1]);
        int held = sp_lab_op_holds(c->op, a, b);
        l->held[i] = held;
        struct sp_buf x;
        sp_buf_init(&x);
        expand_text(l, c->expr, &x);
        if (c->rhs.is_count)
            snprintf(l->found[i], FOUND_MAX, "%s (found %" PRIu64 " and %" PRIu64 ")",
                     sp_buf_str(&x), a, b);
        else
            snprintf(l->found[i], FOUND_MAX, "%s (found %" PRIu64 ")", sp_buf_str(&x), a);
        sp_buf_cleanup(&x);
        l->results[l->view.step][i] = (signed char)held;
        struct sp_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SP_EV_CHECK;
        ev.unread = -1;
        ev.lab = l->name;
        ev.seq = l->view.step + 1;
        ev.steps = l->def->nsteps;
        ev.title = l->view.title;
        ev.name = c->name;
        ev.held = held;
        ev.line = c->expr;
        ev.message = l->found[i];
        sp_engine_emit(l->q->eng, &ev);
    }
    count_results(l);
    lab_changed(l);
}

static void reap_cb(void *ud)
{
    struct cmd_lab *l = ud;
    sp_watch_stop(l->reap);
    l->reap = NULL;
    if (l->sub != NULL) {
        sp_cmdq_free(l->sub);
        l->sub = NULL;
    }
}

/* The lab is over: the `lab` line ends (failed when a check failed or a
 * command failed). The lab stays for the front end to show. */
static void finish(struct cmd_lab *l, int cmd_failed, const char *why)
{
    if (l->finished)
        return;
    l->finished = 1;
    l->view.phase = SP_LAB_DONE;
    l->view.failed = cmd_failed;
    lab_changed(l);
    cmd__lab_needs_end(l->q, l->def, &l->qdisc0);
    if (l->sub_ev > 0) {
        sp_engine_unsubscribe(l->q->eng, l->sub_ev);
        l->sub_ev = 0;
    }
    /* The line queue may be inside its own callback: free it later. */
    if (l->reap == NULL)
        l->reap = sp_engine_watch_timer(l->q->eng, 0, 0, reap_cb, l);
    if (l->q->pend.kind != PEND_LAB)
        return;
    if (cmd_failed) {
        char msg[CMD_ERR_MAX];
        snprintf(msg, sizeof msg, "lab %s stopped in step %zu (%s): %s", l->name, l->view.step + 1,
                 cur_step(l)->title, why);
        cmd__finish(l->q, 0, msg);
        return;
    }
    if (l->view.checks_failed == 0) {
        cmd__finish(l->q, 1, NULL);
        return;
    }
    /* Name every failed check (the check events say what each found). */
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appendf(&b, "lab %s: %u of %u checks failed:", l->name, l->view.checks_failed,
                   l->view.checks_failed + l->view.checks_held);
    for (size_t i = 0; i < l->def->nsteps; i++)
        for (size_t k = 0; k < l->def->steps[i].nchecks; k++)
            if (l->results[i][k] == 0)
                sp_buf_appendf(&b, " %s (step %zu: %s)", l->def->steps[i].checks[k].name, i + 1,
                               l->def->steps[i].checks[k].expr);
    cmd__finish(l->q, 0, sp_buf_str(&b));
    sp_buf_cleanup(&b);
}

static void enter_step(struct cmd_lab *l, size_t k);
static void feed(struct cmd_lab *l);

static void kick_cb(void *ud)
{
    struct cmd_lab *l = ud;
    sp_watch_stop(l->kick);
    l->kick = NULL;
    feed(l);
}

/* Runs the step's command lines (again, for a repeat: its sockets are
 * replaced by the ones the repeat creates). */
static void run_step(struct cmd_lab *l)
{
    size_t k = l->view.step;
    l->nsocks = l->first_rel[k];
    l->last_seen = sp_engine_last_id(l->q->eng);
    memset(l->counts, 0, sizeof l->counts);
    for (size_t i = 0; i < SP_LAB_CHECKS_MAX; i++) {
        l->held[i] = SP_LAB_CHECK_PENDING;
        l->found[i][0] = '\0';
    }
    l->cmd = 0;
    memset(l->base_bytes, 0, sizeof l->base_bytes);
    memset(l->base_msgs, 0, sizeof l->base_msgs);
    for (size_t i = 0; i < l->nsocks; i++) {
        struct sp_sock_info in;
        if (sp_engine_sock_info(l->q->eng, l->socks[i], &in) == 0) {
            l->base_bytes[i] = in.bytes_in;
            l->base_msgs[i] = in.msgs;
        }
    }
    l->view.phase = SP_LAB_RUNNING;
    lab_changed(l);
    if (l->kick == NULL)
        l->kick = sp_engine_watch_timer(l->q->eng, 0, 0, kick_cb, l);
}

static void enter_step(struct cmd_lab *l, size_t k)
{
    l->view.step = k;
    l->first_rel[k] = l->nsocks;
    for (size_t i = 0; i < SP_LAB_CHECKS_MAX; i++) {
        l->held[i] = SP_LAB_CHECK_PENDING;
        l->found[i][0] = '\0';
    }
    if (l->interactive && l->def->steps[k].ask != NULL) {
        l->view.phase = SP_LAB_ASKING;
        lab_changed(l);
        return;
    }
    run_step(l);
}

static void next_step(struct cmd_lab *l)
{
    if (l->view.step + 1 >= l->def->nsteps)
        finish(l, 0, NULL);
    else
        enter_step(l, l->view.step + 1);
}

/* The step's lines all ran. */
static void step_done(struct cmd_lab *l)
{
    adopt_new_socks(l);
    emit_note(l);
    run_checks(l);
    if (l->interactive) {
        l->view.phase = SP_LAB_SHOWING;
        lab_changed(l);
        return;
    }
    next_step(l);
}

/* Expands $N, $N.addr, $N.port and $$ (the parser checked the syntax). */
static int expand(struct cmd_lab *l, const char *s, struct sp_buf *out, char *err, size_t errlen)
{
    while (*s != '\0') {
        if (*s != '$') {
            sp_buf_appendc(out, (unsigned char)*s++);
            continue;
        }
        if (s[1] == '$') {
            sp_buf_appendc(out, '$');
            s += 2;
            continue;
        }
        unsigned rel = 0;
        s++;
        while (*s >= '0' && *s <= '9')
            rel = rel * 10 + (unsigned)(*s++ - '0');
        uint32_t id = sock_of(l, rel);
        if (id == 0) {
            snprintf(err, errlen, "$%u: the lab has made %zu socket%s so far", rel, l->nsocks,
                     l->nsocks == 1 ? "" : "s");
            return -1;
        }
        if (strncmp(s, ".addr", 5) != 0 && strncmp(s, ".port", 5) != 0) {
            sp_buf_appendf(out, "%" PRIu32, id);
            continue;
        }
        struct sp_sock_info in;
        if (sp_engine_sock_info(l->q->eng, id, &in) != 0 || in.local[0] == '\0') {
            snprintf(err, errlen, "$%u (socket %" PRIu32 ") has no local address yet", rel, id);
            return -1;
        }
        if (strncmp(s, ".port", 5) == 0) {
            const char *colon = strrchr(in.local, ':');
            if (colon == NULL) {
                snprintf(err, errlen, "$%u (socket %" PRIu32 ") has no port", rel, id);
                return -1;
            }
            sp_buf_appends(out, colon + 1);
        } else {
            static const char *const prefix[] = {
                [SP_SOCK_TCP_LISTEN] = "tcp:",
                [SP_SOCK_TCP] = "tcp:",
                [SP_SOCK_UDP] = "udp:",
                [SP_SOCK_UNIX_LISTEN] = "unix:",
                [SP_SOCK_UNIX] = "unix:",
                [SP_SOCK_UNIX_DGRAM] = "unix-dgram:",
                [SP_SOCK_PACKET] = "packet:",
                [SP_SOCK_SEQPACKET_LISTEN] = "unix-seqpacket:",
                [SP_SOCK_SEQPACKET] = "unix-seqpacket:",
            };
            sp_buf_appends(out, prefix[in.kind]);
            sp_buf_appends(out, in.local);
        }
        s += 5;
    }
    return 0;
}

/* Text for people (titles, questions, notes, checks): $N becomes the
 * socket's number where the lab has that socket, $$ a dollar sign; anything
 * else stays as written. */
static void expand_text(const struct cmd_lab *l, const char *s, struct sp_buf *out)
{
    while (*s != '\0') {
        if (s[0] == '$' && s[1] == '$') {
            sp_buf_appendc(out, '$');
            s += 2;
            continue;
        }
        if (s[0] == '$' && s[1] >= '1' && s[1] <= '9') {
            const char *e = s + 1;
            unsigned rel = 0;
            while (*e >= '0' && *e <= '9' && rel <= SP_LAB_SOCKS_MAX)
                rel = rel * 10 + (unsigned)(*e++ - '0');
            uint32_t id = sock_of(l, rel);
            if (id != 0) {
                sp_buf_appendf(out, "%" PRIu32, id);
                s = e;
                continue;
            }
        }
        sp_buf_appendc(out, (unsigned char)*s++);
    }
}

/* Refreshes the view's texts of the current step. */
static void expand_view(struct cmd_lab *l)
{
    const struct sp_lab_step *st = cur_step(l);
    struct sp_buf *b[] = {&l->x_title, &l->x_ask, &l->x_note};
    const char *src[] = {st->title, st->ask != NULL ? st->ask : "", st->note};
    for (size_t i = 0; i < 3; i++) {
        sp_buf_reset(b[i]);
        expand_text(l, src[i], b[i]);
        sp_buf_str(b[i]);
    }
    for (size_t i = 0; i < st->nchoices; i++) {
        sp_buf_reset(&l->x_choices[i]);
        expand_text(l, st->choices[i], &l->x_choices[i]);
        l->choicep[i] = sp_buf_str(&l->x_choices[i]);
    }
    l->view.title = sp_buf_str(&l->x_title);
    l->view.ask = st->ask != NULL ? sp_buf_str(&l->x_ask) : NULL;
    l->view.note = sp_buf_str(&l->x_note);
    l->view.choices = l->choicep;
    l->view.nchoices = st->nchoices;
    l->view.answer = st->answer;
}

/* In a lab, `wait $N bytes:+K` and `msgs:+K` count from the start of the
 * step: the word becomes the absolute total, so a repeated step waits for
 * its own bytes and a wait that starts after they came still holds. */
static void relative_counts(struct cmd_lab *l, const char *text, struct sp_buf *out)
{
    unsigned rel = 0;
    const char *w = text + strspn(text, " \t");
    if (strncmp(w, "wait ", 5) == 0) {
        w += 5 + strspn(w + 5, " \t");
        uint64_t v;
        size_t pos;
        if (w[0] == '$' && sp_parse_u64(w + 1, strspn(w + 1, "0123456789"), 0, &v, &pos) == 0 &&
            v <= UINT_MAX)
            rel = (unsigned)v;
    }
    const char *s = text;
    while (*s != '\0') {
        const char *b = strstr(s, "bytes:+"), *m = strstr(s, "msgs:+");
        const char *hit = b != NULL && (m == NULL || b < m) ? b : m;
        if (hit == NULL || rel == 0 || rel > l->nsocks) {
            sp_buf_appends(out, s);
            return;
        }
        int bytes = hit == b;
        const char *num = hit + (bytes ? 7 : 6);
        const char *end = num + strspn(num, "0123456789");
        uint64_t k = 0;
        size_t pos;
        sp_buf_append(out, s, (size_t)(hit - s));
        if (sp_parse_u64(num, (size_t)(end - num), 0, &k, &pos) != 0) {
            sp_buf_append(out, hit, (size_t)(num - hit));
            s = num;
            continue;
        }
        uint64_t base = bytes ? l->base_bytes[rel - 1] : l->base_msgs[rel - 1];
        sp_buf_appendf(out, "%s:%llu", bytes ? "bytes" : "msgs", (unsigned long long)(base + k));
        s = end;
    }
}

/* Gives the line queue the step's next line, or ends the step. */
static void feed(struct cmd_lab *l)
{
    if (l->finished)
        return;
    const struct sp_lab_step *st = cur_step(l);
    if (l->cmd >= st->ncmds) {
        step_done(l);
        return;
    }
    const struct sp_lab_cmd *c = &st->cmds[l->cmd++];
    /* "! LINE": the line may fail (a connect that must be refused): its
     * error is shown and the lab goes on. */
    const char *text = c->text;
    int may_fail = text[0] == '!';
    if (may_fail)
        text += 1 + strspn(text + 1, " \t");
    sp_cmdq_set_keep_going(l->sub, may_fail);
    l->sub->may_fail = may_fail;
    char origin[300];
    snprintf(origin, sizeof origin, "%s:%zu", l->origin, c->line);
    struct sp_buf line;
    sp_buf_init(&line);
    char err[256];
    adopt_new_socks(l);
    struct sp_buf abs;
    sp_buf_init(&abs);
    relative_counts(l, text, &abs);
    if (expand(l, sp_buf_str(&abs), &line, err, sizeof err) != 0) {
        cmd__report(l->q, c->text, origin, err);
        sp_buf_cleanup(&abs);
        sp_buf_cleanup(&line);
        finish(l, 1, err);
        return;
    }
    sp_buf_cleanup(&abs);
    sp_cmdq_push(l->sub, sp_buf_str(&line), origin);
    sp_buf_cleanup(&line);
}

/* The line queue ran the line (or a failure stopped it). */
static void sub_idle(void *ud, int failed)
{
    struct cmd_lab *l = ud;
    if (l->finished)
        return;
    adopt_new_socks(l);
    if (l->quit) {
        finish(l, 0, NULL);
        return;
    }
    if (failed) {
        finish(l, 1, "a command failed (see the error above)");
        return;
    }
    feed(l);
}

/* The line queue's hooks: what it prints and the front-end commands go to
 * the front end; headless, front-end commands (split, view) are skipped so
 * a lab runs the same everywhere. */
static void sub_output(void *ud, const char *line)
{
    struct cmd_lab *l = ud;
    cmd__out(l->q, line);
}

static void sub_quit(void *ud)
{
    struct cmd_lab *l = ud;
    l->quit = 1;
    if (l->q->hooks.quit != NULL)
        l->q->hooks.quit(l->q->ud);
}

static int sub_ui(void *ud, int argc, const char *const *argv, char *err, size_t errlen)
{
    struct cmd_lab *l = ud;
    if (l->q->hooks.ui_command == NULL)
        return 0;
    return l->q->hooks.ui_command(l->q->ud, argc, argv, err, errlen);
}

void cmd__lab_free(struct cmd_lab *l)
{
    if (l == NULL)
        return;
    if (l->sub_ev > 0)
        sp_engine_unsubscribe(l->q->eng, l->sub_ev);
    if (l->kick != NULL)
        sp_watch_stop(l->kick);
    if (l->reap != NULL)
        sp_watch_stop(l->reap);
    if (l->sub != NULL)
        sp_cmdq_free(l->sub);
    sp_labfile_free(l->def);
    sp_buf_cleanup(&l->x_title);
    sp_buf_cleanup(&l->x_ask);
    sp_buf_cleanup(&l->x_note);
    for (size_t i = 0; i < SP_LAB_CHOICES_MAX; i++)
        sp_buf_cleanup(&l->x_choices[i]);
    free(l);
}

static struct cmd_lab *lab_new(struct sp_cmdq *q, struct sp_labdef *def, const char *arg)
{
    struct cmd_lab *l = sp_xcalloc(1, sizeof *l);
    l->q = q;
    l->def = def;
    snprintf(l->name, sizeof l->name, "%s", def->name);
    if (sp_lab_is_path(arg))
        snprintf(l->origin, sizeof l->origin, "%.250s", arg);
    else
        snprintf(l->origin, sizeof l->origin, "lab %s", def->name);
    l->interactive = q->hooks.stepping;
    struct sp_cmd_hooks h;
    memset(&h, 0, sizeof h);
    h.output = sub_output;
    h.quit = sub_quit;
    h.ui_command = sub_ui;
    h.stepping = q->hooks.stepping;
    l->sub = sp_cmdq_new(q->eng, &h, l);
    l->sub->in_lab = 1;
    sp_cmdq_set_lazy_tap(l->sub, 1);
    sp_cmdq_set_keep_going(l->sub, 0);
    sp_cmdq_on_idle(l->sub, sub_idle, l);
    l->sub_ev = sp_engine_subscribe(q->eng, SP_EV_MASK_ALL, on_event, l);
    l->last_seen = sp_engine_last_id(q->eng);
    for (size_t i = 0; i < SP_LAB_CHECKS_MAX; i++)
        l->foundp[i] = l->found[i];
    memset(l->results, -1, sizeof l->results);
    sp_buf_init(&l->x_title);
    sp_buf_init(&l->x_ask);
    sp_buf_init(&l->x_note);
    for (size_t i = 0; i < SP_LAB_CHOICES_MAX; i++)
        sp_buf_init(&l->x_choices[i]);
    l->view.def = def;
    l->view.held = l->held;
    l->view.found = l->foundp;
    l->view.socks = l->socks;
    return l;
}

static void out_text(struct cmd_ctx *c, struct sp_buf *b)
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

int cmd__exec_lab(struct cmd_ctx *c)
{
    const struct cmd_word *w = cmd__arg(c, 0);
    if (cmd__is(w, "list")) {
        struct sp_buf b;
        sp_buf_init(&b);
        sp_lab_list(&b);
        out_text(c, &b);
        sp_buf_cleanup(&b);
        return CMD_OK;
    }
    if (c->q->in_lab)
        return cmd__fail(c, &c->sp->words[0], 0, "a lab cannot start another lab");
    struct sp_labdef *def;
    char err[CMD_ERR_MAX - 64];
    if (sp_lab_load(w->s, &def, err, sizeof err) != 0)
        return cmd__fail(c, w, 0, "%s", err);
    struct sp_qdisc qdisc0;
    if (cmd__lab_needs_check(def, &qdisc0, err, sizeof err) != 0) {
        sp_labfile_free(def);
        return cmd__fail(c, w, 0, "%s", err);
    }
    cmd__lab_free(c->q->lab);
    struct cmd_lab *l = lab_new(c->q, def, w->s);
    l->qdisc0 = qdisc0;
    cmd__lab_needs_start(c->q, def, &qdisc0);
    c->q->lab = l;
    struct cmd_pending *p = &c->q->pend;
    p->kind = PEND_LAB;
    p->timeout_ms = 0;
    snprintf(p->verb, sizeof p->verb, "lab %.40s", l->name);
    int r = cmd__pending_start(c);
    /* The first step starts on the next loop iteration, after this line
     * became the waiting one. */
    enter_step(l, 0);
    return r;
}

int cmd__exec_step(struct cmd_ctx *c)
{
    if (!c->q->hooks.stepping)
        return CMD_OK;
    struct cmd_pending *p = &c->q->pend;
    p->kind = PEND_STEP;
    p->timeout_ms = 0;
    snprintf(p->verb, sizeof p->verb, "step");
    return cmd__pending_start(c);
}

int sp_cmdq_step_waiting(const struct sp_cmdq *q)
{
    if (q->pend.kind == PEND_STEP)
        return 1;
    if (q->pend.kind != PEND_LAB || q->lab == NULL || q->lab->finished)
        return 0;
    if (q->lab->view.phase == SP_LAB_ASKING || q->lab->view.phase == SP_LAB_SHOWING)
        return 1;
    return q->lab->sub != NULL && sp_cmdq_step_waiting(q->lab->sub);
}

int sp_cmdq_step(struct sp_cmdq *q)
{
    if (q->pend.kind == PEND_STEP) {
        cmd__finish(q, 1, NULL);
        return 0;
    }
    struct cmd_lab *l = q->lab;
    if (q->pend.kind != PEND_LAB || l == NULL || l->finished)
        return -1;
    switch (l->view.phase) {
    case SP_LAB_ASKING:
        run_step(l);
        return 0;
    case SP_LAB_SHOWING:
        next_step(l);
        return 0;
    case SP_LAB_RUNNING:
        return l->sub != NULL ? sp_cmdq_step(l->sub) : -1;
    case SP_LAB_DONE:
        break;
    }
    return -1;
}

int sp_cmdq_step_repeat(struct sp_cmdq *q)
{
    struct cmd_lab *l = q->lab;
    if (q->pend.kind != PEND_LAB || l == NULL || l->finished)
        return -1;
    if (l->view.phase != SP_LAB_ASKING && l->view.phase != SP_LAB_SHOWING)
        return -1;
    run_step(l);
    return 0;
}

const struct sp_lab_view *sp_cmdq_lab(struct sp_cmdq *q)
{
    return q->lab != NULL ? &q->lab->view : NULL;
}
