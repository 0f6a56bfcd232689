/* The lab file parser (labfile.h). Line by line: a directive line starts
 * with a keyword and a colon, anything else inside a step is a command line.
 * Every error names the line and the column of the offending character. */
#include "sockpit/proto/labfile.h"
#include "sockpit/proto/xmalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The fields a check may test, and on which kind of term. */
struct field_def {
    const char *name;
    int numeric;
    const char *events; /* space-separated event names */
};

static const struct field_def fields[] = {
    {"len", 1, "recv msg send segment"},
    {"truncated", 1, "recv msg"},
    {"unread", 1, "recv now"},
    {"chunks", 1, "msg"},
    {"blocks", 1, "msg"},
    {"writes", 1, "send"},
    {"unsent", 1, "now"},
    {"queued", 1, "now"},
    {"open", 1, "now"},
    {"code", 0, "error"},
    {"op", 0, "error"},
    {"tcp", 0, "state now"},
    {"how", 0, "shutdown"},
    {"reason", 0, "closed frame_error"},
    {"cmsg", 0, "recv send"},
    {"flags", 0, "segment"},
    {"dir", 0, "segment"},
    {"marks", 0, "segment"},
};

static const char *const events[] = {
    "listening", "connected", "accepted", "bound", "recv",   "msg", "frame_error", "send",
    "eof",       "shutdown",  "state",    "error", "closed", "now", "segment",     NULL,
};

struct parser {
    size_t line;    /* current line number */
    const char *ls; /* start of the current line */
    struct sp_lab_error *err;
    struct sp_labdef *def;
    struct sp_lab_step *step; /* the step being read, or NULL (header) */
};

/* Records an error at pointer at (inside the current line). Returns -1. */
__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, const char *at,
                                                      const char *fmt, ...)
{
    va_list ap;
    p->err->line = p->line;
    p->err->col = at != NULL && at >= p->ls ? (size_t)(at - p->ls) + 1 : 1;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

const char *sp_lab_op_name(enum sp_lab_op op)
{
    static const char *const names[] = {"=", "!=", "<", "<=", ">", ">=", "~"};
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

int sp_lab_op_holds(enum sp_lab_op op, uint64_t a, uint64_t b)
{
    switch (op) {
    case SP_LAB_EQ:
        return a == b;
    case SP_LAB_NE:
        return a != b;
    case SP_LAB_LT:
        return a < b;
    case SP_LAB_LE:
        return a <= b;
    case SP_LAB_GT:
        return a > b;
    case SP_LAB_GE:
        return a >= b;
    case SP_LAB_HAS:
        return 0;
    }
    return 0;
}

int sp_lab_op_holds_text(enum sp_lab_op op, const char *a, const char *b)
{
    switch (op) {
    case SP_LAB_EQ:
        return strcasecmp(a, b) == 0;
    case SP_LAB_NE:
        return strcasecmp(a, b) != 0;
    case SP_LAB_HAS:
        return strstr(a, b) != NULL;
    default:
        return 0;
    }
}

int sp_lab_field_numeric(const char *field)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].name, field) == 0)
            return fields[i].numeric;
    return 0;
}

static const struct field_def *find_field(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strlen(fields[i].name) == n && strncmp(fields[i].name, name, n) == 0)
            return &fields[i];
    return NULL;
}

/* Is ev one of the space-separated words of list? */
static int in_list(const char *list, const char *ev)
{
    size_t n = strlen(ev);
    for (const char *s = list; *s != '\0';) {
        const char *e = strchr(s, ' ');
        size_t l = e != NULL ? (size_t)(e - s) : strlen(s);
        if (l == n && strncmp(s, ev, n) == 0)
            return 1;
        s += l;
        while (*s == ' ')
            s++;
    }
    return 0;
}

/* Parses an operator at s; returns its length (0: none). */
static size_t parse_op(const char *s, size_t n, enum sp_lab_op *op)
{
    if (n >= 2 && s[0] == '!' && s[1] == '=')
        return *op = SP_LAB_NE, 2;
    if (n >= 2 && s[0] == '<' && s[1] == '=')
        return *op = SP_LAB_LE, 2;
    if (n >= 2 && s[0] == '>' && s[1] == '=')
        return *op = SP_LAB_GE, 2;
    if (n >= 1 && s[0] == '=')
        return *op = SP_LAB_EQ, 1;
    if (n >= 1 && s[0] == '<')
        return *op = SP_LAB_LT, 1;
    if (n >= 1 && s[0] == '>')
        return *op = SP_LAB_GT, 1;
    if (n >= 1 && s[0] == '~')
        return *op = SP_LAB_HAS, 1;
    return 0;
}

/* A decimal number of n characters (at most 18 digits). */
static int parse_num(const char *s, size_t n, uint64_t *v)
{
    if (n == 0 || n > 18)
        return -1;
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        r = r * 10 + (uint64_t)(s[i] - '0');
    }
    *v = r;
    return 0;
}

/* `$N`: a lab socket number 1..SP_LAB_SOCKS_MAX; returns the characters
 * used, or 0 when s is not one. */
static size_t parse_sockref(const char *s, size_t n, unsigned *sock)
{
    if (n < 2 || s[0] != '$' || s[1] < '1' || s[1] > '9')
        return 0;
    size_t i = 1;
    unsigned v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && v <= SP_LAB_SOCKS_MAX) {
        v = v * 10 + (unsigned)(s[i] - '0');
        i++;
    }
    if (v > SP_LAB_SOCKS_MAX)
        return 0;
    *sock = v;
    return i;
}

/* One whitespace-separated word of a check expression. */
struct word {
    const char *s;
    size_t n;
};

static int is_op_word(const struct word *w, enum sp_lab_op *op)
{
    return w->n > 0 && parse_op(w->s, w->n, op) == w->n && *op != SP_LAB_HAS;
}

static int parse_filter(struct parser *p, const struct word *w, const char *event,
                        struct sp_lab_filter *f)
{
    size_t i = 0;
    while (i < w->n && (isalnum((unsigned char)w->s[i]) || w->s[i] == '_'))
        i++;
    const struct field_def *fd = find_field(w->s, i);
    if (fd == NULL)
        return fail(p, w->s,
                    "unknown field \"%.*s\" (len truncated unread chunks blocks writes unsent "
                    "queued open code op tcp how reason cmsg flags dir marks)",
                    (int)(w->n > 32 ? 32 : w->n), w->s);
    if (!in_list(fd->events, event))
        return fail(p, w->s, "%s events have no field %s (it belongs to: %s)", event, fd->name,
                    fd->events);
    memset(f, 0, sizeof *f);
    memcpy(f->field, fd->name, strlen(fd->name) + 1);
    f->numeric = fd->numeric;
    if (i == w->n) {
        if (!fd->numeric)
            return fail(p, w->s + i, "%s needs a value (%s=NAME)", fd->name, fd->name);
        f->op = SP_LAB_NE;
        f->num = 0;
        return 0;
    }
    size_t ol = parse_op(w->s + i, w->n - i, &f->op);
    if (ol == 0)
        return fail(p, w->s + i, "expected an operator (= != < <= > >= ~) after %s", fd->name);
    const char *v = w->s + i + ol;
    size_t vn = w->n - i - ol;
    if (vn == 0)
        return fail(p, v, "%s%s needs a value", fd->name, sp_lab_op_name(f->op));
    if (fd->numeric) {
        if (f->op == SP_LAB_HAS)
            return fail(p, w->s + i, "~ compares names, not numbers");
        if (parse_num(v, vn, &f->num) != 0)
            return fail(p, v, "%s wants a number", fd->name);
        return 0;
    }
    if (f->op != SP_LAB_EQ && f->op != SP_LAB_NE && f->op != SP_LAB_HAS)
        return fail(p, w->s + i, "%s is a name: use = != or ~", fd->name);
    if (vn >= sizeof f->text)
        return fail(p, v, "value too long (at most %zu characters)", sizeof f->text - 1);
    for (size_t k = 0; k < vn; k++)
        if (!isalnum((unsigned char)v[k]) && v[k] != '_' && v[k] != '-')
            return fail(p, v + k, "a value is letters, digits, - and _");
    memcpy(f->text, v, vn);
    f->text[vn] = '\0';
    return 0;
}

/* TERM := NUMBER | EVENT [$N] [FILTER...]; consumes words up to an
 * operator word or the end. */
static int parse_term(struct parser *p, const struct word *w, size_t nw, size_t *at,
                      struct sp_lab_term *t)
{
    memset(t, 0, sizeof *t);
    enum sp_lab_op op;
    if (*at >= nw)
        return fail(p, nw > 0 ? w[nw - 1].s + w[nw - 1].n : NULL,
                    "expected a number or an event name");
    const struct word *first = &w[*at];
    if (first->s[0] >= '0' && first->s[0] <= '9') {
        if (parse_num(first->s, first->n, &t->num) != 0)
            return fail(p, first->s, "not a number");
        (*at)++;
        return 0;
    }
    size_t k = 0;
    while (events[k] != NULL &&
           !(strlen(events[k]) == first->n && strncmp(events[k], first->s, first->n) == 0))
        k++;
    if (events[k] == NULL)
        return fail(p, first->s,
                    "unknown event \"%.*s\" (recv msg send eof state error closed shutdown "
                    "frame_error accepted connected listening bound now segment)",
                    (int)(first->n > 32 ? 32 : first->n), first->s);
    t->is_count = 1;
    memcpy(t->event, events[k], strlen(events[k]) + 1);
    (*at)++;
    if (*at < nw && w[*at].s[0] == '$') {
        size_t used = parse_sockref(w[*at].s, w[*at].n, &t->sock);
        if (used == 0 || used != w[*at].n)
            return fail(p, w[*at].s, "a socket is $1 .. $%d", SP_LAB_SOCKS_MAX);
        (*at)++;
    }
    if (strcmp(t->event, "now") == 0 && t->sock == 0)
        return fail(p, first->s + first->n, "now needs a socket ($N)");
    while (*at < nw && !is_op_word(&w[*at], &op)) {
        if (t->nfilters == SP_LAB_FILTERS_MAX)
            return fail(p, w[*at].s, "at most %d conditions per term", SP_LAB_FILTERS_MAX);
        if (parse_filter(p, &w[*at], t->event, &t->filters[t->nfilters]) != 0)
            return -1;
        t->nfilters++;
        (*at)++;
    }
    return 0;
}

/* check: NAME TERM [OP TERM] */
static int parse_check(struct parser *p, const char *s, const char *end, struct sp_lab_check *c)
{
    struct word w[64];
    size_t nw = 0;
    while (s < end) {
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (s == end)
            break;
        const char *b = s;
        while (s < end && *s != ' ' && *s != '\t')
            s++;
        if (nw == sizeof w / sizeof w[0])
            return fail(p, b, "check too long");
        w[nw].s = b;
        w[nw].n = (size_t)(s - b);
        nw++;
    }
    if (nw == 0)
        return fail(p, end, "check: wants a name and a condition (check: NAME recv $3 > 1)");
    for (size_t i = 0; i < w[0].n; i++)
        if (!isalnum((unsigned char)w[0].s[i]) && w[0].s[i] != '-' && w[0].s[i] != '_')
            return fail(p, w[0].s + i, "a check name is letters, digits, - and _");
    if (w[0].n > 40)
        return fail(p, w[0].s + 40, "a check name has at most 40 characters");
    if (nw == 1)
        return fail(p, w[0].s + w[0].n, "check %.*s: what should hold? (e.g. recv $3 > 1)",
                    (int)w[0].n, w[0].s);
    size_t at = 1;
    if (parse_term(p, w, nw, &at, &c->lhs) != 0)
        return -1;
    if (at == nw) {
        if (!c->lhs.is_count)
            return fail(p, w[1].s, "a lone number is not a condition");
        c->op = SP_LAB_GE;
        c->rhs.num = 1;
    } else {
        is_op_word(&w[at], &c->op);
        at++;
        if (parse_term(p, w, nw, &at, &c->rhs) != 0)
            return -1;
        if (at < nw)
            return fail(p, w[at].s, "one comparison per check (split it into two checks)");
    }
    c->name = sp_xstrndup(w[0].s, w[0].n);
    const char *es = w[1].s;
    c->expr = sp_xstrndup(es, (size_t)(w[nw - 1].s + w[nw - 1].n - es));
    c->line = p->line;
    return 0;
}

/* Checks the $ references of a command line: $N, $N.addr, $N.port, $$. */
static int check_refs(struct parser *p, const char *s, const char *end)
{
    for (const char *c = s; c < end; c++) {
        if (*c != '$')
            continue;
        if (c + 1 < end && c[1] == '$') {
            c++;
            continue;
        }
        unsigned sock;
        size_t used = parse_sockref(c, (size_t)(end - c), &sock);
        if (used == 0)
            return fail(p, c,
                        "$ must be followed by a socket number ($1 .. $%d) or $ ($$ is "
                        "a dollar sign)",
                        SP_LAB_SOCKS_MAX);
        c += used - 1;
        if (c + 1 < end && c[1] == '.') {
            const char *sfx = c + 2;
            size_t n = 0;
            while (sfx + n < end && isalpha((unsigned char)sfx[n]))
                n++;
            if (!((n == 4 && strncmp(sfx, "addr", 4) == 0) ||
                  (n == 4 && strncmp(sfx, "port", 4) == 0)))
                return fail(p, sfx, "after $N. comes addr or port");
            c = sfx + n - 1;
        }
    }
    return 0;
}

static char *append_line(char *old, const char *s, size_t n)
{
    size_t ol = old != NULL ? strlen(old) : 0;
    char *r = sp_xreallocarray(old, ol + (ol > 0 || old != NULL ? 1 : 0) + n + 1, 1);
    if (old != NULL) {
        r[ol++] = '\n';
    }
    memcpy(r + ol, s, n);
    r[ol + n] = '\0';
    return r;
}

/* Text after a directive's colon, without surrounding blanks. */
static void trim(const char **s, const char **end)
{
    while (*s < *end && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*end > *s && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
        (*end)--;
}

static int need_text(struct parser *p, const char *kw, const char *s, const char *end)
{
    if (s == end)
        return fail(p, s, "%s: needs text", kw);
    return 0;
}

/* `needs: WORD...` before the first step: what the machine must offer. */
static int needs(struct parser *p, const char *kw, const char *s, const char *end)
{
    if (p->step != NULL)
        return fail(p, kw, "needs: belongs before the first step");
    if (need_text(p, "needs", s, end))
        return -1;
    while (s < end) {
        const char *e = s;
        while (e < end && *e != ' ' && *e != '\t')
            e++;
        if (e - s == 4 && strncmp(s, "loss", 4) == 0)
            p->def->needs |= SP_LAB_NEEDS_LOSS;
        else
            return fail(p, s, "unknown need \"%.*s\" (loss)", (int)(e - s > 32 ? 32 : e - s), s);
        s = e;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
    }
    return 0;
}

static int directive(struct parser *p, const char *kw, size_t kn, const char *s, const char *end)
{
    struct sp_labdef *d = p->def;
    struct sp_lab_step *st = p->step;
    trim(&s, &end);
#define IS(k) (kn == sizeof(k) - 1 && strncmp(kw, k, kn) == 0)
    if (!(IS("lab") || IS("summary") || IS("duration") || IS("needs") || IS("step") || IS("ask") ||
          IS("choice") || IS("answer") || IS("note") || IS("check")))
        return fail(p, kw,
                    "unknown directive \"%.*s:\" (lab: summary: duration: needs: step: ask: "
                    "choice: answer: note: check:)",
                    (int)(kn > 32 ? 32 : kn), kw);
    if (IS("needs"))
        return needs(p, kw, s, end);
    if (IS("lab") || IS("summary") || IS("duration")) {
        if (st != NULL)
            return fail(p, kw, "%.*s: belongs before the first step", (int)kn, kw);
        char **slot = IS("lab") ? &d->name : IS("summary") ? &d->summary : &d->duration;
        if (*slot != NULL)
            return fail(p, kw, "%.*s: given twice", (int)kn, kw);
        if (need_text(p, IS("lab") ? "lab" : IS("summary") ? "summary" : "duration", s, end))
            return -1;
        if (IS("lab")) {
            for (const char *c = s; c < end; c++)
                if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-'))
                    return fail(p, c, "a lab name is lower-case letters, digits and -");
            if (end - s > 32)
                return fail(p, s + 32, "a lab name has at most 32 characters");
        }
        *slot = sp_xstrndup(s, (size_t)(end - s));
        return 0;
    }
    if (IS("step")) {
        if (d->name == NULL)
            return fail(p, kw, "the file must start with lab: NAME");
        if (d->summary == NULL)
            return fail(p, kw,
                        "summary: (one line saying what the lab shows) must come "
                        "before the first step");
        if (d->nsteps == SP_LAB_STEPS_MAX)
            return fail(p, kw, "at most %d steps", SP_LAB_STEPS_MAX);
        if (need_text(p, "step", s, end))
            return -1;
        d->steps = sp_xreallocarray(d->steps, d->nsteps + 1, sizeof *d->steps);
        p->step = st = &d->steps[d->nsteps++];
        memset(st, 0, sizeof *st);
        st->title = sp_xstrndup(s, (size_t)(end - s));
        st->line = p->line;
        return 0;
    }
    if (st == NULL)
        return fail(p, kw, "%.*s: belongs inside a step (step: TITLE first)", (int)kn, kw);
    if (IS("ask")) {
        if (st->nchoices > 0)
            return fail(p, kw, "ask: lines come before the choices");
        if (need_text(p, "ask", s, end))
            return -1;
        st->ask = append_line(st->ask, s, (size_t)(end - s));
        return 0;
    }
    if (IS("choice")) {
        if (st->ask == NULL)
            return fail(p, kw, "choice: needs an ask: before it");
        if (st->nchoices == SP_LAB_CHOICES_MAX)
            return fail(p, kw, "at most %d choices", SP_LAB_CHOICES_MAX);
        if (need_text(p, "choice", s, end))
            return -1;
        st->choices[st->nchoices++] = sp_xstrndup(s, (size_t)(end - s));
        return 0;
    }
    if (IS("answer")) {
        uint64_t v;
        if (st->nchoices == 0)
            return fail(p, kw, "answer: needs choices before it");
        if (st->answer != 0)
            return fail(p, kw, "one answer: per step");
        if (parse_num(s, (size_t)(end - s), &v) != 0 || v < 1 || v > st->nchoices)
            return fail(p, s, "answer: wants the number of a choice (1 .. %zu)", st->nchoices);
        st->answer = (unsigned)v;
        return 0;
    }
    if (IS("note")) {
        st->note = append_line(st->note, s, (size_t)(end - s));
        return 0;
    }
    if (IS("check")) {
        if (st->nchecks == SP_LAB_CHECKS_MAX)
            return fail(p, kw, "at most %d checks per step", SP_LAB_CHECKS_MAX);
        struct sp_lab_check c;
        memset(&c, 0, sizeof c);
        if (parse_check(p, s, end, &c) != 0)
            return -1;
        for (size_t i = 0; i < d->nsteps; i++)
            for (size_t k = 0; k < d->steps[i].nchecks; k++)
                if (strcmp(d->steps[i].checks[k].name, c.name) == 0) {
                    free(c.name);
                    free(c.expr);
                    return fail(p, s, "a check named %s exists already (line %zu)",
                                d->steps[i].checks[k].name, d->steps[i].checks[k].line);
                }
        st->checks = sp_xreallocarray(st->checks, st->nchecks + 1, sizeof *st->checks);
        st->checks[st->nchecks++] = c;
        return 0;
    }
#undef IS
    return 0;
}

static int command(struct parser *p, const char *s, const char *end)
{
    struct sp_lab_step *st = p->step;
    if (st == NULL)
        return fail(p, s, "a command outside a step (start one with step: TITLE)");
    if (st->ncmds == SP_LAB_CMDS_MAX)
        return fail(p, s, "at most %d commands per step", SP_LAB_CMDS_MAX);
    if (check_refs(p, s, end) != 0)
        return -1;
    st->cmds = sp_xreallocarray(st->cmds, st->ncmds + 1, sizeof *st->cmds);
    st->cmds[st->ncmds].text = sp_xstrndup(s, (size_t)(end - s));
    st->cmds[st->ncmds].line = p->line;
    st->ncmds++;
    return 0;
}

static int parse_line(struct parser *p, const char *s, const char *end)
{
    for (const char *c = s; c < end; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t')
            return fail(p, c, "control character 0x%02x in a lab file",
                        (unsigned)(unsigned char)*c);
    const char *b = s;
    while (b < end && (*b == ' ' || *b == '\t'))
        b++;
    if (b == end || *b == '#')
        return 0;
    const char *w = b;
    while (w < end && *w != ' ' && *w != '\t' && *w != ':')
        w++;
    if (w < end && *w == ':' && w > b) {
        int word = 1;
        for (const char *c = b; c < w; c++)
            word &= islower((unsigned char)*c) != 0;
        if (word)
            return directive(p, b, (size_t)(w - b), w + 1, end);
    }
    return command(p, b, end);
}

void sp_labfile_free(struct sp_labdef *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nsteps; i++) {
        struct sp_lab_step *st = &d->steps[i];
        free(st->title);
        for (size_t k = 0; k < st->ncmds; k++)
            free(st->cmds[k].text);
        free(st->cmds);
        free(st->ask);
        for (size_t k = 0; k < st->nchoices; k++)
            free(st->choices[k]);
        free(st->note);
        for (size_t k = 0; k < st->nchecks; k++) {
            free(st->checks[k].name);
            free(st->checks[k].expr);
        }
        free(st->checks);
    }
    free(d->steps);
    free(d->name);
    free(d->summary);
    free(d->duration);
    free(d);
}

int sp_labfile_parse(const char *text, size_t len, struct sp_labdef **out, struct sp_lab_error *err)
{
    struct parser p;
    memset(&p, 0, sizeof p);
    memset(err, 0, sizeof *err);
    p.err = err;
    p.def = sp_xcalloc(1, sizeof *p.def);
    p.line = 0;
    if (len > SP_LAB_SIZE_MAX) {
        p.line = 1;
        p.ls = text;
        fail(&p, NULL, "a lab file has at most %u bytes", SP_LAB_SIZE_MAX);
        goto fail;
    }
    size_t start = 0;
    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        p.line++;
        p.ls = text + start;
        size_t e = end;
        if (e > start && text[e - 1] == '\r')
            e--;
        if (e - start > SP_LAB_LINE_MAX) {
            fail(&p, text + start + SP_LAB_LINE_MAX, "line longer than %d characters",
                 SP_LAB_LINE_MAX);
            goto fail;
        }
        if (parse_line(&p, text + start, text + e) != 0)
            goto fail;
        start = end + 1;
    }
    /* What is missing is reported at the top (no name) or the last line. */
    p.ls = NULL;
    if (p.def->name == NULL) {
        p.line = 1;
        fail(&p, NULL, "no lab: NAME line (a lab file starts with lab: NAME)");
        goto fail;
    }
    if (p.def->nsteps == 0) {
        p.line = p.line > 0 ? p.line : 1;
        fail(&p, NULL, "a lab needs at least one step: TITLE");
        goto fail;
    }
    if (p.def->duration == NULL)
        p.def->duration = sp_xstrndup("", 0);
    for (size_t i = 0; i < p.def->nsteps; i++)
        if (p.def->steps[i].note == NULL)
            p.def->steps[i].note = sp_xstrndup("", 0);
    *out = p.def;
    return 0;
fail:
    sp_labfile_free(p.def);
    *out = NULL;
    return -1;
}
