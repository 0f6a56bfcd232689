/* The man page and shell completions the program writes about itself
 * (progdoc.c). */
#ifndef SOCKPIT_PROGDOC_H
#define SOCKPIT_PROGDOC_H

#include <stddef.h>

struct sp_buf;
struct option;

/* Appends what ("man", "bash" or "zsh") generated from the usage text (its
 * synopsis and options paragraphs), getopt's table (every long option must
 * be in the usage text) and the command table. Returns 0, or -1 with the
 * reason in err. */
int sp_progdoc(struct sp_buf *out, const char *what, const char *usage, const struct option *opts,
               const char *version, char *err, size_t errlen);

#endif
