/* Built-in lessons (`lab NAME`, `--lab NAME`): each is a short script of
 * commands the command queue runs. The lessons themselves come in a later
 * release; until then the list is empty and every lookup says so. */
#ifndef SOCKPIT_LAB_H
#define SOCKPIT_LAB_H

#include <stddef.h>

struct sp_buf;

struct sp_lab {
    const char *name;
    const char *title;
    const char *const *lines; /* NULL-terminated command lines */
};

/* The lesson called name, or NULL. */
const struct sp_lab *sp_lab_find(const char *name);
/* Appends the list of lessons (one per line), or a line saying there are none
 * yet. */
void sp_lab_list(struct sp_buf *out);
/* Writes why name is not a lesson (unknown, or no lessons yet) into err. */
void sp_lab_unknown(const char *name, char *err, size_t errlen);

#endif
