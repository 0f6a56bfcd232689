/* The man page's COMMANDS section, generated from the command table like
 * help and the README reference, and the roff escaping the rest of the
 * page (written by the program, src/progdoc.c) uses too. */
#include "cmd_int.h"

#include <string.h>

void sp_cmd_roff(struct sp_buf *out, const char *text)
{
    /* A line starting with . or ' would be a request. */
    if (text[0] == '.' || text[0] == '\'')
        sp_buf_appends(out, "\\&");
    int bold = 0;
    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '\\':
            sp_buf_appends(out, "\\e");
            break;
        case '-':
            /* \- is the ASCII hyphen-minus a reader can paste as an option;
             * a plain - may render as a typographic hyphen. */
            sp_buf_appends(out, "\\-");
            break;
        case '`':
            /* Markdown's `code` becomes bold when it is closed. */
            if (bold || strchr(p + 1, '`') != NULL) {
                sp_buf_appends(out, bold ? "\\fR" : "\\fB");
                bold = !bold;
            } else {
                sp_buf_appendc(out, '`');
            }
            break;
        case '\n':
            sp_buf_appendc(out, ' ');
            break;
        default:
            sp_buf_appendc(out, *p);
        }
    }
}

void sp_cmd_reference_man(struct sp_buf *out)
{
    sp_buf_appends(out, ".SH COMMANDS\n"
                        "The command language of the TUI's : prompt, of \\fB\\-e\\fR and of "
                        "scripts (generated from the command table, as \\fBhelp\\fR is).\n");
    for (size_t i = 0; i < cmd__table_len; i++) {
        const struct cmd_entry *e = &cmd__table[i];
        sp_buf_appends(out, ".TP\n.B ");
        sp_cmd_roff(out, e->usage);
        sp_buf_appendc(out, '\n');
        sp_cmd_roff(out, e->summary);
        sp_buf_appendc(out, '.');
        if (e->help != NULL) {
            sp_buf_appendc(out, ' ');
            sp_cmd_roff(out, e->help);
        }
        sp_buf_appendc(out, '\n');
        if (e->opts == NULL)
            continue;
        sp_buf_appends(out, ".RS\n");
        for (size_t k = 0; e->opts[k].name != NULL; k++) {
            sp_buf_appends(out, ".TP\n.B ");
            sp_cmd_roff(out, e->opts[k].name);
            if (e->opts[k].arg != NULL) {
                sp_buf_appends(out, " \\fI");
                sp_cmd_roff(out, e->opts[k].arg);
                sp_buf_appends(out, "\\fR");
            }
            sp_buf_appendc(out, '\n');
            sp_cmd_roff(out, e->opts[k].help);
            sp_buf_appendc(out, '\n');
        }
        sp_buf_appends(out, ".RE\n");
    }
    sp_buf_appends(out, ".PP\n");
    sp_cmd_roff(out, cmd__id_rule);
    sp_buf_appendc(out, '\n');
}
