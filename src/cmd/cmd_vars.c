/* Variables: what expect --capture took from a message, used as ${NAME} in
 * the DATA words of later lines. A leaf of the command layer: the parser
 * (cmd__data) and the rules expand words through it. */
#include "cmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/escape.h"

int cmd__var_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > CMD_VAR_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
        if (!alpha && !(i > 0 && ch >= '0' && ch <= '9'))
            return 0;
    }
    return 1;
}

static struct cmd_var *find(const struct sp_cmdq *q, const char *name, size_t nlen)
{
    for (size_t i = 0; i < q->nvars; i++)
        if (strlen(q->vars[i].name) == nlen && memcmp(q->vars[i].name, name, nlen) == 0)
            return &q->vars[i];
    return NULL;
}

int cmd__var_set(struct sp_cmdq *q, const char *name, const void *p, size_t n, char *err,
                 size_t errlen)
{
    size_t nlen = strlen(name);
    if (n > CMD_VAR_BYTES_MAX) {
        snprintf(err, errlen, "capture %s is %zu bytes (a variable holds at most %u)", name, n,
                 CMD_VAR_BYTES_MAX);
        return -1;
    }
    struct cmd_var *v = find(q, name, nlen);
    if (v == NULL) {
        if (q->nvars >= CMD_VARS_MAX) {
            snprintf(err, errlen, "too many variables (at most %d)", CMD_VARS_MAX);
            return -1;
        }
        q->vars = sp_xreallocarray(q->vars, q->nvars + 1, sizeof *q->vars);
        v = &q->vars[q->nvars++];
        memset(v, 0, sizeof *v);
        memcpy(v->name, name, nlen);
    }
    free(v->val);
    v->val = sp_xmalloc(n ? n : 1);
    if (n > 0)
        memcpy(v->val, p, n);
    v->len = n;
    return 0;
}

void cmd__vars_free(struct sp_cmdq *q)
{
    for (size_t i = 0; i < q->nvars; i++)
        free(q->vars[i].val);
    free(q->vars);
    q->vars = NULL;
    q->nvars = 0;
}

int cmd__var_resolve(void *ud, const char *name, size_t nlen, struct sp_buf *out, char *err,
                     size_t errlen)
{
    const struct cmd_var *v = find(ud, name, nlen);
    if (v == NULL) {
        snprintf(err, errlen, "unknown variable ${%.*s} (expect --capture sets variables)",
                 (int)nlen, name);
        return -1;
    }
    sp_buf_append(out, v->val, v->len);
    return 0;
}

/* The literal part s[a..b) of a word. */
static int literal(const char *s, size_t a, size_t b, int hex, struct sp_buf *out, size_t *errpos,
                   char *err, size_t errlen)
{
    if (a == b)
        return 0;
    size_t pos = 0;
    int r = hex ? sp_hex_parse(s + a, b - a, out, &pos, err, errlen)
                : sp_unescape(s + a, b - a, out, &pos, err, errlen);
    if (r != 0)
        *errpos = a + pos;
    return r;
}

int cmd__expand(const char *s, size_t n, int hex, cmd_resolve_fn resolve, void *ud,
                struct sp_buf *out, size_t *errpos, char *err, size_t errlen)
{
    size_t lit = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '$' || i + 1 >= n || (s[i + 1] != '$' && s[i + 1] != '{'))
            continue;
        /* A backslash before the $ belongs to an escape of the literal
         * part (\$ is not one: the unescape says so). */
        if (literal(s, lit, i, hex, out, errpos, err, errlen) != 0)
            return -1;
        if (s[i + 1] == '$') {
            sp_buf_appendc(out, '$');
            lit = ++i + 1;
            continue;
        }
        const char *close = memchr(s + i + 2, '}', n - i - 2);
        if (close == NULL) {
            *errpos = i;
            snprintf(err, errlen, "unterminated ${ (a variable is ${NAME}; $$ is a $)");
            return -1;
        }
        size_t nlen = (size_t)(close - (s + i + 2));
        if (!cmd__var_name_ok(s + i + 2, nlen)) {
            *errpos = i + 2;
            snprintf(err, errlen,
                     "bad variable name \"%.*s\" (letters, digits, _; at most %d characters)",
                     (int)(nlen > 40 ? 40 : nlen), s + i + 2, CMD_VAR_NAME_MAX);
            return -1;
        }
        if (resolve(ud, s + i + 2, nlen, out, err, errlen) != 0) {
            *errpos = i;
            return -1;
        }
        i += 2 + nlen;
        lit = i + 1;
    }
    return literal(s, lit, n, hex, out, errpos, err, errlen);
}
