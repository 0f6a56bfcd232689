/* The lab catalogue: the built-in labs (compiled in from src/cmd/labs/) and
 * loading a lab by name or from a teacher's file. */
#include "sockpit/cmd/lab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/labfile.h"

const struct sp_lab_src *sp_lab_find(const char *name)
{
    for (size_t i = 0; sp_lab_builtin[i].name != NULL; i++)
        if (strcmp(sp_lab_builtin[i].name, name) == 0)
            return &sp_lab_builtin[i];
    return NULL;
}

void sp_lab_list(struct sp_buf *out)
{
    for (size_t i = 0; sp_lab_builtin[i].name != NULL; i++) {
        const struct sp_lab_src *s = &sp_lab_builtin[i];
        struct sp_labdef *d;
        struct sp_lab_error e;
        if (sp_labfile_parse(s->text, s->len, &d, &e) != 0) {
            /* A test parses every built-in lab: this cannot ship. */
            sp_buf_appendf(out, "%-18s (broken: line %zu: %s)\n", s->name, e.line, e.msg);
            continue;
        }
        sp_buf_appendf(out, "%-18s %s (%s)\n", s->name, d->summary,
                       d->duration[0] ? d->duration : "?");
        sp_labfile_free(d);
    }
    sp_buf_appends(out, "Run one with `sockpit --lab NAME` or `:lab NAME`; `--lab ./FILE.lab` runs "
                        "your own.\n");
}

void sp_lab_unknown(const char *name, char *err, size_t errlen)
{
    size_t l = (size_t)snprintf(err, errlen, "no lab \"%.40s\" (labs:", name);
    for (size_t i = 0; sp_lab_builtin[i].name != NULL && l < errlen; i++)
        l += (size_t)snprintf(err + l, errlen - l, " %s", sp_lab_builtin[i].name);
    if (l < errlen)
        snprintf(err + l, errlen - l, "; a file path needs a / or .lab)");
}

int sp_lab_is_path(const char *arg)
{
    size_t n = strlen(arg);
    return strchr(arg, '/') != NULL || (n > 4 && strcmp(arg + n - 4, ".lab") == 0);
}

/* Reads a whole file of at most SP_LAB_SIZE_MAX bytes. */
static int read_file(const char *path, struct sp_buf *b, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open lab file %.200s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[16384];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len + r > SP_LAB_SIZE_MAX) {
            snprintf(err, errlen, "%.200s: a lab file has at most %u bytes", path, SP_LAB_SIZE_MAX);
            fclose(f);
            return -1;
        }
        sp_buf_append(b, chunk, r);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "cannot read lab file %.200s", path);
        return -1;
    }
    return 0;
}

int sp_lab_load(const char *arg, struct sp_labdef **out, char *err, size_t errlen)
{
    struct sp_lab_error e;
    if (!sp_lab_is_path(arg)) {
        const struct sp_lab_src *s = sp_lab_find(arg);
        if (s == NULL) {
            sp_lab_unknown(arg, err, errlen);
            return -1;
        }
        if (sp_labfile_parse(s->text, s->len, out, &e) != 0) {
            snprintf(err, errlen, "lab %s:%zu:%zu: %s", s->name, e.line, e.col, e.msg);
            return -1;
        }
        return 0;
    }
    struct sp_buf b;
    sp_buf_init(&b);
    int r = read_file(arg, &b, err, errlen);
    if (r == 0 && sp_labfile_parse((const char *)b.data, b.len, out, &e) != 0) {
        snprintf(err, errlen, "%.200s:%zu:%zu: %s", arg, e.line, e.col, e.msg);
        r = -1;
    }
    sp_buf_cleanup(&b);
    return r;
}
