/* The lesson catalogue. Lessons arrive in a later release; the command, the
 * option and the lookups exist now so that scripts and the TUI can name them
 * and get a clear answer. */
#include "sockpit/cmd/lab.h"

#include <stdio.h>
#include <string.h>

#include "sockpit/proto/buf.h"

/* Empty for now: one entry per lesson goes here. */
static const struct sp_lab lessons[] = {
    {NULL, NULL, NULL},
};

const struct sp_lab *sp_lab_find(const char *name)
{
    for (size_t i = 0; lessons[i].name != NULL; i++)
        if (strcmp(lessons[i].name, name) == 0)
            return &lessons[i];
    return NULL;
}

void sp_lab_list(struct sp_buf *out)
{
    if (lessons[0].name == NULL) {
        sp_buf_appends(out, "No lessons are built in yet: they come in a later release.\n");
        return;
    }
    for (size_t i = 0; lessons[i].name != NULL; i++)
        sp_buf_appendf(out, "%-16s %s\n", lessons[i].name, lessons[i].title);
}

void sp_lab_unknown(const char *name, char *err, size_t errlen)
{
    if (lessons[0].name == NULL)
        snprintf(err, errlen,
                 "no lesson \"%.40s\": no lessons are built in yet (they come in a later "
                 "release)",
                 name);
    else
        snprintf(err, errlen, "no lesson \"%.40s\" (see lab list)", name);
}
