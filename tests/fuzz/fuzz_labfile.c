/* Fuzz target: the lab file parser. Any input either parses into a lab whose
 * every part is present and within the limits, or is refused with a reason
 * at a line and column inside the input; it never reads past the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/labfile.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_term(const struct sp_lab_term *t)
{
    CHECK(t->nfilters <= SP_LAB_FILTERS_MAX);
    CHECK(t->sock <= SP_LAB_SOCKS_MAX);
    if (!t->is_count)
        CHECK(t->nfilters == 0 && t->sock == 0);
    else
        CHECK(t->event[0] != '\0' && memchr(t->event, '\0', sizeof t->event) != NULL);
    for (size_t i = 0; i < t->nfilters; i++)
        CHECK(t->filters[i].field[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact copy: ASan sees any read past the end. */
    char *text = malloc(size ? size : 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';

    struct sp_labdef *d = NULL;
    struct sp_lab_error e;
    if (sp_labfile_parse(text, size, &d, &e) == 0) {
        CHECK(d != NULL && d->name != NULL && d->name[0] != '\0');
        CHECK(d->summary != NULL && d->duration != NULL);
        CHECK(d->nsteps >= 1 && d->nsteps <= SP_LAB_STEPS_MAX);
        for (size_t i = 0; i < d->nsteps; i++) {
            const struct sp_lab_step *st = &d->steps[i];
            CHECK(st->title != NULL && st->title[0] != '\0' && st->note != NULL);
            CHECK(st->line >= 1 && st->line <= lines);
            CHECK(st->ncmds <= SP_LAB_CMDS_MAX && st->nchecks <= SP_LAB_CHECKS_MAX);
            CHECK(st->nchoices <= SP_LAB_CHOICES_MAX && st->answer <= st->nchoices);
            CHECK(st->nchoices == 0 || st->ask != NULL);
            for (size_t k = 0; k < st->ncmds; k++)
                CHECK(st->cmds[k].text[0] != '\0' && st->cmds[k].line > st->line);
            for (size_t k = 0; k < st->nchecks; k++) {
                CHECK(st->checks[k].name[0] != '\0' && st->checks[k].expr[0] != '\0');
                check_term(&st->checks[k].lhs);
                check_term(&st->checks[k].rhs);
            }
        }
        sp_labfile_free(d);
    } else {
        CHECK(d == NULL);
        CHECK(e.msg[0] != '\0' && memchr(e.msg, '\0', sizeof e.msg) != NULL);
        CHECK(e.line >= 1 && e.line <= lines);
        CHECK(e.col >= 1 && e.col <= SP_LAB_LINE_MAX + 2);
    }
    free(text);
    return 0;
}
