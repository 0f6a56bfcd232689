/* The man page and the shell completions, generated at build time by the
 * program itself (`sockpit --help-man`, `--completion bash|zsh`) from what
 * it already has: the usage text and option table of main.c, the command
 * table (its man section and its completion words) and the built-in labs.
 * Nothing here is a second copy of a list. */
#include "progdoc.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/cmd/cmd.h"
#include "sockpit/cmd/lab.h"
#include "sockpit/proto/buf.h"
#include "sockpit/proto/xmalloc.h"

#define OPTS_MAX  64
#define NAMES_MAX 4

/* One entry of the usage text's options paragraph: "  -h, --help  text"
 * (the text may go on over more indented lines). */
struct doc_opt {
    char names[NAMES_MAX][32];
    int nnames;
    char arg[48]; /* "FILE|-", "" for a flag */
    struct sp_buf help;
};

struct doc {
    struct doc_opt opt[OPTS_MAX];
    size_t nopt;
    const char *synopsis; /* the paragraph of "  sockpit ..." lines */
    size_t synopsis_len;
};

static void doc_cleanup(struct doc *d)
{
    for (size_t i = 0; i < d->nopt; i++)
        sp_buf_cleanup(&d->opt[i].help);
}

/* Parses "  -h, --help   text": the flags end at the first two spaces. */
static int parse_opt_line(struct doc_opt *o, const char *line, size_t len, char *err, size_t errlen)
{
    const char *p = line + 2, *end = line + len;
    const char *gap = p;
    while (gap < end && !(gap[0] == ' ' && gap + 1 < end && gap[1] == ' '))
        gap++;
    char flags[128];
    snprintf(flags, sizeof flags, "%.*s", (int)(gap - p), p);
    memset(o, 0, sizeof *o);
    sp_buf_init(&o->help);
    while (gap < end && *gap == ' ')
        gap++;
    sp_buf_append(&o->help, gap, (size_t)(end - gap));
    /* flags: "-h, --help" or "--lab NAME|FILE|list" or "-q SEC" */
    char *save = NULL;
    for (char *w = strtok_r(flags, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        size_t wl = strlen(w);
        if (w[0] == '-') {
            if (wl > 0 && w[wl - 1] == ',')
                w[--wl] = '\0';
            if (o->nnames == NAMES_MAX || wl >= sizeof o->names[0]) {
                snprintf(err, errlen, "usage text: bad option line \"%.60s\"", line);
                return -1;
            }
            memcpy(o->names[o->nnames++], w, wl + 1);
        } else {
            snprintf(o->arg, sizeof o->arg, "%s", w);
        }
    }
    if (o->nnames == 0) {
        snprintf(err, errlen, "usage text: no option in \"%.60s\"", line);
        return -1;
    }
    return 0;
}

static int starts(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(p, prefix, n) == 0;
}

/* Splits the usage text into its paragraphs and reads the options one. */
static int parse_usage(struct doc *d, const char *usage, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    const char *opts = strstr(usage, "\noptions:\n");
    const char *syn = strstr(usage, "\n  sockpit ");
    if (opts == NULL || syn == NULL) {
        snprintf(err, errlen, "usage text: no options or synopsis paragraph");
        return -1;
    }
    d->synopsis = syn + 1;
    const char *syn_end = strstr(d->synopsis, "\n\n");
    d->synopsis_len = syn_end ? (size_t)(syn_end - d->synopsis) + 1 : strlen(d->synopsis);
    const char *p = opts + strlen("\noptions:\n");
    while (*p != '\0' && *p != '\n') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (starts(p, len, "  -")) {
            if (d->nopt == OPTS_MAX) {
                snprintf(err, errlen, "usage text: more than %d options", OPTS_MAX);
                return -1;
            }
            if (parse_opt_line(&d->opt[d->nopt], p, len, err, errlen) != 0)
                return -1;
            d->nopt++;
        } else if (d->nopt > 0 && starts(p, len, "    ")) {
            size_t i = 0;
            while (i < len && p[i] == ' ')
                i++;
            sp_buf_appendc(&d->opt[d->nopt - 1].help, '\n');
            sp_buf_append(&d->opt[d->nopt - 1].help, p + i, len - i);
        } else {
            snprintf(err, errlen, "usage text: unexpected line \"%.*s\"", (int)len, p);
            return -1;
        }
        p = nl ? nl + 1 : p + len;
    }
    return 0;
}

static const struct doc_opt *find_opt(const struct doc *d, const char *name)
{
    for (size_t i = 0; i < d->nopt; i++)
        for (int k = 0; k < d->opt[i].nnames; k++)
            if (strcmp(d->opt[i].names[k], name) == 0)
                return &d->opt[i];
    return NULL;
}

/* Every option getopt knows must be documented, and documented as taking
 * an argument exactly when it does: the build fails otherwise. */
static int check_table(const struct doc *d, const struct option *opts, char *err, size_t errlen)
{
    for (size_t i = 0; opts[i].name != NULL; i++) {
        char name[64];
        snprintf(name, sizeof name, "--%s", opts[i].name);
        const struct doc_opt *o = find_opt(d, name);
        if (o == NULL) {
            snprintf(err, errlen, "option %s is missing from the usage text", name);
            return -1;
        }
        if ((o->arg[0] != '\0') != (opts[i].has_arg == required_argument)) {
            snprintf(err, errlen, "option %s: its argument differs in the usage text", name);
            return -1;
        }
    }
    return 0;
}

/* The paragraphs of the usage text that are neither synopsis nor options,
 * for the description. */
static void man_paragraphs(struct sp_buf *out, const char *usage)
{
    const char *p = usage;
    while (*p != '\0') {
        const char *end = strstr(p, "\n\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && !starts(p, len, "usage:") && !starts(p, len, "  sockpit ") &&
            !starts(p, len, "options:")) {
            char *para = sp_xstrndup(p, len);
            sp_buf_appends(out, ".PP\n");
            sp_cmd_roff(out, para);
            sp_buf_appendc(out, '\n');
            free(para);
        }
        p += len;
        while (*p == '\n')
            p++;
    }
}

/* The synopsis lines "  sockpit FORM   what it does", split at the first
 * two spaces after the form. */
static void synopsis_line(const char *line, size_t len, struct sp_buf *form, struct sp_buf *what)
{
    const char *p = line + 2, *end = line + len;
    const char *gap = p;
    while (gap < end && !(gap[0] == ' ' && gap + 1 < end && gap[1] == ' '))
        gap++;
    sp_buf_reset(form);
    sp_buf_reset(what);
    sp_buf_append(form, p, (size_t)(gap - p));
    while (gap < end && *gap == ' ')
        gap++;
    sp_buf_append(what, gap, (size_t)(end - gap));
}

static void man_synopsis(struct sp_buf *out, const struct doc *d, int described)
{
    struct sp_buf form, what;
    sp_buf_init(&form);
    sp_buf_init(&what);
    sp_buf_appends(out, described ? "" : ".nf\n");
    const char *p = d->synopsis, *end = d->synopsis + d->synopsis_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        synopsis_line(p, len, &form, &what);
        const char *args = sp_buf_str(&form) + strlen("sockpit");
        sp_buf_appends(out, described ? ".TP\n\\fBsockpit\\fR" : "\\fBsockpit\\fR");
        sp_cmd_roff(out, args);
        sp_buf_appendc(out, '\n');
        if (described) {
            sp_cmd_roff(out, sp_buf_str(&what));
            sp_buf_appendc(out, '\n');
        }
        p += len + 1;
    }
    sp_buf_appends(out, described ? "" : ".fi\n");
    sp_buf_cleanup(&form);
    sp_buf_cleanup(&what);
}

static int gen_man(struct sp_buf *out, const struct doc *d, const char *usage, const char *version)
{
    sp_buf_appendf(out,
                   ".TH SOCKPIT 1 \"\" \"sockpit %s\" \"User Commands\"\n"
                   ".SH NAME\n"
                   "sockpit \\- a terminal workbench for sockets\n"
                   /* technical words: no hyphenation, no stretched spaces */
                   ".nh\n.ad l\n"
                   ".SH SYNOPSIS\n",
                   version);
    man_synopsis(out, d, 0);
    sp_buf_appends(out, ".SH DESCRIPTION\n"
                        "sockpit opens, drives and watches sockets (TCP, UDP, Unix, packet) and "
                        "shows what the kernel did with each: every recv as it arrived, the "
                        "messages of a framing, the TCP state and its counters. It runs as a "
                        "TUI, or headless with text or JSON events for scripts.\n");
    man_synopsis(out, d, 1);
    man_paragraphs(out, usage);
    sp_buf_appends(out, ".SH OPTIONS\n");
    for (size_t i = 0; i < d->nopt; i++) {
        const struct doc_opt *o = &d->opt[i];
        sp_buf_appends(out, ".TP\n");
        for (int k = 0; k < o->nnames; k++) {
            sp_buf_appends(out, k ? ", \\fB" : "\\fB");
            sp_cmd_roff(out, o->names[k]);
            sp_buf_appends(out, "\\fR");
        }
        if (o->arg[0] != '\0') {
            sp_buf_appends(out, " \\fI");
            sp_cmd_roff(out, o->arg);
            sp_buf_appends(out, "\\fR");
        }
        sp_buf_appendc(out, '\n');
        sp_cmd_roff(out, sp_buf_str(&o->help));
        sp_buf_appendc(out, '\n');
    }
    sp_cmd_reference_man(out);
    sp_buf_appends(out, ".SH SEE ALSO\n"
                        ".BR nc (1),\n"
                        ".BR socat (1),\n"
                        ".BR ss (8),\n"
                        ".BR tcpdump (8),\n"
                        ".BR socket (7),\n"
                        ".BR tcp (7),\n"
                        ".BR udp (7)\n");
    return 0;
}

/* The words one kind of argument completes to, space-separated. */
enum { ARG_NONE, ARG_FILES = 1, ARG_WORDS = 2 };

static void completion_words(struct sp_buf *out, const char *line)
{
    struct sp_buf b;
    sp_buf_init(&b);
    sp_cmd_complete(NULL, line, &b);
    for (size_t i = 0; i < b.len; i++)
        sp_buf_appendc(out, b.data[i] == '\n' ? ' ' : b.data[i]);
    sp_buf_cleanup(&b);
}

/* What an option's placeholder ("NAME|FILE|list", "SPEC", "CMD") completes
 * to: the words in *words, and whether files too. */
static int arg_words(const char *placeholder, struct sp_buf *words)
{
    int kind = ARG_NONE;
    char ph[48];
    snprintf(ph, sizeof ph, "%s", placeholder);
    char *save = NULL;
    for (char *t = strtok_r(ph, "|", &save); t != NULL; t = strtok_r(NULL, "|", &save)) {
        if (strcmp(t, "FILE") == 0 || strcmp(t, "PATH") == 0) {
            kind |= ARG_FILES;
        } else if (strcmp(t, "NAME") == 0) {
            for (size_t i = 0; sp_lab_builtin[i].name != NULL; i++)
                sp_buf_appendf(words, "%s ", sp_lab_builtin[i].name);
            kind |= ARG_WORDS;
        } else if (strcmp(t, "CMD") == 0) {
            completion_words(words, "");
            kind |= ARG_WORDS;
        } else if (strcmp(t, "SPEC") == 0) {
            completion_words(words, "framing ");
            kind |= ARG_WORDS;
        } else if (!isupper((unsigned char)t[0])) {
            sp_buf_appendf(words, "%s ", t);
            kind |= ARG_WORDS;
        }
    }
    while (words->len > 0 && words->data[words->len - 1] == ' ')
        words->data[--words->len] = '\0';
    return kind;
}

static void gen_bash(struct sp_buf *out, const struct doc *d)
{
    struct sp_buf words, all, addr;
    sp_buf_init(&words);
    sp_buf_init(&all);
    sp_buf_init(&addr);
    completion_words(&addr, "connect ");
    sp_buf_appends(out,
                   "# bash completion for sockpit(1), generated by `sockpit --completion bash`\n"
                   "# from its option table, command table and built-in labs.\n"
                   "_sockpit()\n"
                   "{\n"
                   "    local line=${COMP_LINE:0:COMP_POINT}\n"
                   "    local cur=${line##*[[:space:]]}\n"
                   "    local head=${line%\"$cur\"}\n"
                   "    head=${head%\"${head##*[![:space:]]}\"}\n"
                   "    local prev=${head##*[[:space:]]}\n"
                   "    local words= files=0 nospace=0 w\n"
                   "    COMPREPLY=()\n"
                   "    case $prev in\n");
    for (size_t i = 0; i < d->nopt; i++) {
        const struct doc_opt *o = &d->opt[i];
        for (int k = 0; k < o->nnames; k++)
            sp_buf_appendf(&all, "%s%s", all.len ? " " : "", o->names[k]);
        if (o->arg[0] == '\0')
            continue;
        sp_buf_appends(out, "    ");
        for (int k = 0; k < o->nnames; k++)
            sp_buf_appendf(out, "%s%s", k ? "|" : "", o->names[k]);
        sp_buf_reset(&words);
        int kind = arg_words(o->arg, &words);
        sp_buf_appends(out, ")");
        if (kind & ARG_WORDS)
            sp_buf_appendf(out, " words='%s';", sp_buf_str(&words));
        if (kind & ARG_FILES)
            sp_buf_appends(out, " files=1;");
        if (kind == ARG_NONE)
            sp_buf_appends(out, " return 0;");
        sp_buf_appends(out, ";\n");
    }
    sp_buf_appendf(
        out,
        "    *)\n"
        "        case $cur in\n"
        "        -*) words='%s';;\n"
        "        unix:*|unix-dgram:*|unix-seqpacket:*)\n"
        "            local scheme=${cur%%%%:*}:\n"
        "            while IFS= read -r w; do COMPREPLY+=(\"$scheme$w\"); done < <(compgen "
        "-f -- \"${cur#*:}\")\n"
        "            compopt -o filenames 2>/dev/null; nospace=1;;\n"
        "        *) words='%s';;\n"
        "        esac;;\n"
        "    esac\n",
        sp_buf_str(&all), sp_buf_str(&addr));
    sp_buf_appends(
        out,
        "    if [[ -n $words ]]; then\n"
        "        while IFS= read -r w; do COMPREPLY+=(\"$w\"); done < <(compgen -W \"$words\" -- "
        "\"$cur\")\n"
        "    fi\n"
        "    if ((files)); then\n"
        "        while IFS= read -r w; do COMPREPLY+=(\"$w\"); done < <(compgen -f -- \"$cur\")\n"
        "        compopt -o filenames 2>/dev/null\n"
        "    fi\n"
        "    # A word ending in ':' (tcp:, delim:) goes on: no space after it.\n"
        "    for w in \"${COMPREPLY[@]}\"; do [[ $w == *: ]] && nospace=1; done\n"
        "    ((nospace)) && compopt -o nospace 2>/dev/null\n"
        "    # bash splits words at ':' (COMP_WORDBREAKS): answer for the part after it.\n"
        "    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then\n"
        "        local pre=${cur%\"${cur##*:}\"} i\n"
        "        for i in \"${!COMPREPLY[@]}\"; do COMPREPLY[i]=${COMPREPLY[i]#\"$pre\"}; done\n"
        "    fi\n"
        "    return 0\n"
        "}\n"
        "complete -F _sockpit sockpit\n");
    sp_buf_cleanup(&words);
    sp_buf_cleanup(&all);
    sp_buf_cleanup(&addr);
}

/* Text inside a single-quoted zsh _arguments description. */
static void zsh_desc(struct sp_buf *out, const char *help)
{
    for (const char *p = help; *p != '\0' && *p != '\n'; p++) {
        if (*p == '\'')
            sp_buf_appends(out, "'\\''");
        else if (*p == '[' || *p == ']' || *p == ':' || *p == '\\')
            sp_buf_appendf(out, "\\%c", *p);
        else
            sp_buf_appendc(out, *p);
    }
}

static void gen_zsh(struct sp_buf *out, const struct doc *d)
{
    struct sp_buf words, addr;
    sp_buf_init(&words);
    sp_buf_init(&addr);
    completion_words(&addr, "connect ");
    sp_buf_appendf(out,
                   "#compdef sockpit\n"
                   "# zsh completion for sockpit(1), generated by `sockpit --completion zsh`\n"
                   "# from its option table, command table and built-in labs.\n"
                   "_sockpit_addr() {\n"
                   "  if compset -P '(unix|unix-dgram|unix-seqpacket):'; then\n"
                   "    _files\n"
                   "  else\n"
                   "    compadd -S '' -- %s\n"
                   "  fi\n"
                   "}\n"
                   "_sockpit_words() {\n"
                   "  compadd -S '' -- ${(M)@:#*:}\n"
                   "  compadd -- ${@:#*:}\n"
                   "}\n"
                   "_arguments -s -S \\\n",
                   sp_buf_str(&addr));
    for (size_t i = 0; i < d->nopt; i++) {
        const struct doc_opt *o = &d->opt[i];
        for (int k = 0; k < o->nnames; k++) {
            sp_buf_appendf(out, "  '*%s[", o->names[k]);
            zsh_desc(out, sp_buf_str(&o->help));
            sp_buf_appendc(out, ']');
            if (o->arg[0] != '\0') {
                sp_buf_reset(&words);
                int kind = arg_words(o->arg, &words);
                sp_buf_appends(out, ":");
                zsh_desc(out, o->arg);
                sp_buf_appends(out, ":");
                if (kind == (ARG_WORDS | ARG_FILES))
                    sp_buf_appendf(out, "{_sockpit_words %s; _files}", sp_buf_str(&words));
                else if (kind == ARG_WORDS)
                    sp_buf_appendf(out, "{_sockpit_words %s}", sp_buf_str(&words));
                else if (kind == ARG_FILES)
                    sp_buf_appends(out, "_files");
                else
                    sp_buf_appends(out, " ");
            }
            sp_buf_appends(out, "' \\\n");
        }
    }
    sp_buf_appends(out, "  '*:address:_sockpit_addr'\n");
    sp_buf_cleanup(&words);
    sp_buf_cleanup(&addr);
}

int sp_progdoc(struct sp_buf *out, const char *what, const char *usage, const struct option *opts,
               const char *version, char *err, size_t errlen)
{
    struct doc d;
    int rc = parse_usage(&d, usage, err, errlen);
    if (rc == 0)
        rc = check_table(&d, opts, err, errlen);
    if (rc == 0) {
        if (strcmp(what, "man") == 0)
            gen_man(out, &d, usage, version);
        else if (strcmp(what, "bash") == 0)
            gen_bash(out, &d);
        else if (strcmp(what, "zsh") == 0)
            gen_zsh(out, &d);
        else
            rc = -1, snprintf(err, errlen, "no completion for \"%s\" (bash or zsh)", what);
    }
    doc_cleanup(&d);
    return rc;
}
