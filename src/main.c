/* sockpit: parses the program options (DESIGN §5) and hands the command
 * lines to the TUI or to the headless front end. */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/render.h"
#include "sockpit/proto/xmalloc.h"
#include "sockpit/cmd/cmd.h"
#include "sockpit/engine/engine.h"
#include "sockpit/headless/headless.h"
#include "sockpit/cmd/lab.h"
#include "sockpit/proto/labfile.h"
#include "sockpit/ui/tui.h"

#include "progdoc.h"
#include "sp_build.h" /* generated at build time: SP_BUILD */

#define SCRIPT_MAX (16u * 1024 * 1024)

static const char usage_text[] =
    "usage: sockpit [options]\n"
    "\n"
    "  sockpit                    TUI, empty workbench\n"
    "  sockpit --demo             TUI playground: echo listener and a connected client\n"
    "  sockpit -e CMD [-e CMD]...  run commands, then stay interactive (TUI) or keep running\n"
    "  sockpit --script FILE      the same, from a file (\"-\" = stdin; # comments)\n"
    "  sockpit [-u] ADDR | HOST PORT       connect (as nc HOST PORT)\n"
    "  sockpit -l [-u] ADDR | [HOST] PORT  listen (any number of clients, as nc -lk)\n"
    "\n"
    "ADDR is tcp:HOST:PORT, udp:HOST:PORT, unix:PATH, unix-dgram:PATH,\n"
    "unix-seqpacket:PATH, HOST:PORT or a bare PORT (tcp:, or udp: with -u). A bare\n"
    "port means 127.0.0.1: unlike nc, a listener binds loopback unless told\n"
    "otherwise (all addresses: -l 0.0.0.0 PORT or -l tcp:[::]:PORT).\n"
    "\n"
    "options:\n"
    "  -e CMD             run a command line (repeatable; in order with --script)\n"
    "  --script FILE|-    run the lines of FILE, or of stdin\n"
    "  --headless         no TUI (automatic when stdout is not a terminal)\n"
    "  --json             headless: one JSON object per event per line\n"
    "  --quiet            headless: no recv/msg/send events; lifecycle and a summary per "
    "socket\n"
    "  --timeout SEC      exit 1 if still running after SEC seconds\n"
    "  --keep-going       a failed line does not stop the script (exit status 1 at the end)\n"
    "  --reset-on-fail    a failed script resets its connections (default: closes them\n"
    "                     as quit does, delivering what is queued)\n"
    "  --lab NAME|FILE|list  run a lesson (built-in, or a lab file), or list them\n"
    "  --demo             the TUI playground\n"
    "  -l                 listen on ADDR (udp: binds it)\n"
    "  -u                 UDP for a bare PORT or HOST PORT\n"
    "  --once             -l: serve the first client only, then stop listening (plain nc)\n"
    "  --framing SPEC     ADDR's framing (listen/connect --framing)\n"
    "  --echo             echo what arrives (listen --echo; echo on)\n"
    "  --close-on-eof     -l: close each connection after the peer's EOF\n"
    "  --relay TARGET     -l: relay each connection to TARGET (the relay command;\n"
    "                     --framing is the client legs')\n"
    "  --stdio            a data pipe, as nc: stdin is sent (a line per message under a\n"
    "                     line-wise framing, chunks as read under raw), what arrives goes\n"
    "                     to stdout as bytes; events go to stderr (errors only without -v).\n"
    "                     Automatic headless with an ADDR, no -e/--script, stdin not a\n"
    "                     terminal. With -l it serves one client (--once).\n"
    "  --no-stdio         not even then: events on stdout\n"
    "  --hex              stdio: stdin lines are hex, stdout gets one hex line per message\n"
    "  -v                 stdio: every event to stderr (text, or --json)\n"
    "  -q SEC             stdio: end SEC seconds after stdin's EOF (else at the peer's EOF)\n"
    "  --replay FILE      after the other lines, play the logged side of a conversation\n"
    "                     recorded by `log` on the current socket (the ADDR's; with -l,\n"
    "                     its first client): `replay FILE`\n"
    "  --replay-peer FILE the same, playing the other end (a mock): `replay FILE --as peer`\n"
    "  --help-commands-md  print the command reference in Markdown (the README's)\n"
    "  --help-man         print the man page sockpit(1) (roff)\n"
    "  --completion bash|zsh  print the shell's completion script\n"
    "  -h, --help         this help\n"
    "  --version          print the version, the build and the libraries' versions\n"
    "\n"
    "Headless runs end at `quit`, when every socket is closed after the script ended, or at\n"
    "--timeout. Exit status: 0 ok, 1 a command, wait or expect failed (or timeout), 2 usage.\n"
    "In text mode a failure's reason also goes to stderr (unless events already go there).\n"
    "A --stdio run ends at the peer's EOF (or -q SEC after stdin's): 0 when it ended so,\n"
    "1 when the connection failed, was reset, or a line of stdin could not be sent.\n"
    "\n";

struct lines {
    char **line;
    char **origin;
    size_t n, cap;
};

static void add_line(struct lines *l, const char *text, size_t len, const char *origin)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        l->line = sp_xreallocarray(l->line, cap, sizeof *l->line);
        l->origin = sp_xreallocarray(l->origin, cap, sizeof *l->origin);
        l->cap = cap;
    }
    l->line[l->n] = sp_xstrndup(text, len);
    l->origin[l->n] = sp_xstrdup(origin);
    l->n++;
}

static void free_lines(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->line[i]);
        free(l->origin[i]);
    }
    free(l->line);
    free(l->origin);
}

/* Prints "sockpit: MESSAGE" and tail on stderr. The message quotes
 * arguments, script paths and lesson names, which may hold any bytes (a
 * pasted escape sequence): it goes through the safe renderer (DESIGN §8),
 * like every other string sockpit shows. */
static void print_err(const char *fmt, va_list ap, const char *tail)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const char *cs = nl_langinfo(CODESET);
    int utf8 = cs != NULL && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appends(&b, "sockpit: ");
    sp_render(&b, msg, strlen(msg), utf8 ? SP_RENDER_UTF8 : SP_RENDER_ASCII);
    sp_buf_appends(&b, tail);
    fputs(sp_buf_str(&b), stderr);
    sp_buf_cleanup(&b);
}

__attribute__((format(printf, 1, 2))) static void err_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_err(fmt, ap, "\n");
    va_end(ap);
}

/* A usage error: the message with a pointer to --help; returns status 2. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_err(fmt, ap, " (try sockpit --help)\n");
    va_end(ap);
    return 2;
}

/* Reads a whole script (to EOF: stdin scripts are read before they run) and
 * adds its lines with "FILE:N" origins. */
static int read_script(struct lines *l, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    if (f == NULL) {
        err_line("cannot open script %s: %s", path, strerror(errno));
        return 2;
    }
    struct sp_buf b;
    sp_buf_init(&b);
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + r > SCRIPT_MAX) {
            err_line("script %s is larger than 16 MiB", path);
            sp_buf_cleanup(&b);
            if (f != stdin)
                fclose(f);
            return 2;
        }
        sp_buf_append(&b, chunk, r);
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        err_line("cannot read script %s", path);
        sp_buf_cleanup(&b);
        return 2;
    }
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    size_t start = 0, lineno = 0;
    for (size_t i = 0; i <= b.len; i++) {
        if (i < b.len && b.data[i] != '\n')
            continue;
        if (i == b.len && i == start)
            break;
        size_t end = i;
        if (end > start && b.data[end - 1] == '\r')
            end--;
        char origin[512];
        snprintf(origin, sizeof origin, "%s:%zu", name, ++lineno);
        /* A NUL inside a line would silently cut it; say so instead. */
        if (memchr(b.data + start, '\0', end - start) != NULL) {
            err_line("%s: NUL byte in the script", origin);
            sp_buf_cleanup(&b);
            return 2;
        }
        add_line(l, (const char *)b.data + start, end - start, origin);
        start = i + 1;
    }
    sp_buf_cleanup(&b);
    return 0;
}

enum {
    OPT_SCRIPT = 256,
    OPT_HEADLESS,
    OPT_JSON,
    OPT_QUIET,
    OPT_KEEP_GOING,
    OPT_DEMO,
    OPT_TIMEOUT,
    OPT_LAB,
    OPT_HELP_MD,
    OPT_VERSION,
    OPT_ONCE,
    OPT_FRAMING,
    OPT_ECHO,
    OPT_CLOSE_ON_EOF,
    OPT_STDIO,
    OPT_NO_STDIO,
    OPT_HEX,
    OPT_RESET_ON_FAIL,
    OPT_REPLAY,
    OPT_REPLAY_PEER,
    OPT_HELP_MAN,
    OPT_COMPLETION,
    OPT_RELAY,
};

static const struct option long_opts[] = {
    {"script", required_argument, NULL, OPT_SCRIPT},
    {"headless", no_argument, NULL, OPT_HEADLESS},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
    {"demo", no_argument, NULL, OPT_DEMO},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"lab", required_argument, NULL, OPT_LAB},
    {"help-commands-md", no_argument, NULL, OPT_HELP_MD},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"once", no_argument, NULL, OPT_ONCE},
    {"framing", required_argument, NULL, OPT_FRAMING},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"close-on-eof", no_argument, NULL, OPT_CLOSE_ON_EOF},
    {"stdio", no_argument, NULL, OPT_STDIO},
    {"no-stdio", no_argument, NULL, OPT_NO_STDIO},
    {"hex", no_argument, NULL, OPT_HEX},
    {"reset-on-fail", no_argument, NULL, OPT_RESET_ON_FAIL},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"replay-peer", required_argument, NULL, OPT_REPLAY_PEER},
    {"help-man", no_argument, NULL, OPT_HELP_MAN},
    {"completion", required_argument, NULL, OPT_COMPLETION},
    {"relay", required_argument, NULL, OPT_RELAY},
    {NULL, 0, NULL, 0},
};

/* What a missing argument means, for the usage error. */
static const char *needs(int opt)
{
    switch (opt) {
    case 'e':
        return "a command";
    case OPT_SCRIPT:
        return "a file (or -)";
    case OPT_TIMEOUT:
        return "seconds";
    case OPT_FRAMING:
        return "a framing spec";
    case 'q':
        return "seconds";
    case OPT_COMPLETION:
        return "a shell (bash or zsh)";
    default:
        return "a lesson name (or list)";
    }
}

/* The nc-style forms: `sockpit ADDR`, `sockpit HOST PORT`, `-l`, `-u`, and
 * the options they pass on to the command they become. */
struct posit {
    int listen, udp, once, echo, close_on_eof;
    int stdio;
    const char *framing;
    const char *relay; /* -l ADDR --relay TARGET */
    char addr[1100];
    char target[1100];
};

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* -l ADDR --relay TARGET: TARGET is written as ADDR is (a bare PORT or
 * HOST:PORT is TCP); both must be streams. */
static int posit_relay(struct posit *p)
{
    struct sp_addr a;
    char err[256];
    const char *w = p->relay;
    if (!p->listen || p->udp || p->once || p->echo || p->close_on_eof || p->stdio)
        return usage_error("--relay needs -l and a stream ADDR (no -u, --once, --echo, "
                           "--close-on-eof, --stdio)");
    if (!all_digits(w) && sp_addr_parse(&a, w, err, sizeof err) == 0)
        snprintf(p->target, sizeof p->target, "%.1024s", w);
    else
        snprintf(p->target, sizeof p->target, "tcp:%.1024s", w);
    if (strchr(p->target, '"') != NULL || sp_addr_parse(&a, p->target, err, sizeof err) != 0)
        return usage_error("bad --relay target \"%s\"", w);
    if (a.kind != SP_ADDR_TCP && a.kind != SP_ADDR_UNIX)
        return usage_error("--relay needs a stream target (tcp: or unix:)");
    return 0;
}

/* Builds the address text of the positional words: an address as
 * sockpit writes it, a bare PORT, HOST:PORT, or HOST PORT. Returns 0 or 2
 * (usage error said). */
static int posit_addr(struct posit *p, char **words, int n)
{
    const char *proto = p->udp ? "udp" : "tcp";
    const char *w = words[0];
    struct sp_addr a;
    char err[256];
    if (n > 2)
        return usage_error("unexpected argument \"%s\" (commands go after -e)", words[2]);
    if (n == 2) {
        if (!all_digits(words[1]))
            return usage_error("bad port \"%s\"", words[1]);
        int v6 = strchr(w, ':') != NULL && w[0] != '[';
        snprintf(p->addr, sizeof p->addr, "%s:%s%.512s%s:%s", proto, v6 ? "[" : "", w,
                 v6 ? "]" : "", words[1]);
    } else if (!all_digits(w) && sp_addr_parse(&a, w, err, sizeof err) == 0) {
        snprintf(p->addr, sizeof p->addr, "%.1024s", w); /* tcp:..., unix:..., any kind */
    } else {
        snprintf(p->addr, sizeof p->addr, "%s:%.1024s", proto, w); /* PORT, HOST:PORT */
    }
    if (strchr(p->addr, '"') != NULL)
        return usage_error("bad address \"%s\": no quotes in addresses", p->addr);
    if (sp_addr_parse(&a, p->addr, err, sizeof err) != 0)
        return usage_error("bad address \"%s\": %s", w, err);
    if (p->once && (!p->listen || a.kind == SP_ADDR_UDP || a.kind == SP_ADDR_UNIX_DGRAM))
        return usage_error("--once needs -l and a stream address (tcp: or unix:)");
    if (p->close_on_eof && (!p->listen || a.kind == SP_ADDR_UDP || a.kind == SP_ADDR_UNIX_DGRAM))
        return usage_error("--close-on-eof needs -l and a stream address (tcp: or unix:)");
    p->udp = a.kind == SP_ADDR_UDP || a.kind == SP_ADDR_UNIX_DGRAM;
    return p->relay != NULL ? posit_relay(p) : 0;
}

/* The command lines the positional form stands for; they run before any
 * -e line, so the socket they make is socket 1. */
static void posit_lines(const struct posit *p, struct lines *l)
{
    /* The pipe has one socket: a listener serves its first client. */
    int once = p->once || (p->stdio && p->listen && !p->udp);
    struct sp_buf b;
    sp_buf_init(&b);
    const char *verb = !p->listen ? "connect" : p->udp ? "bind" : "listen";
    if (p->relay != NULL)
        sp_buf_appendf(&b, "relay \"%s\" \"%s\"", p->addr, p->target);
    else
        sp_buf_appendf(&b, "%s \"%s\"", verb, p->addr);
    if (p->framing != NULL)
        sp_buf_appendf(&b, " --framing \"%s\"", p->framing);
    int echo_cmd = p->echo && !(p->listen && !p->udp);
    if (p->echo && !echo_cmd)
        sp_buf_appends(&b, " --echo");
    /* --once ends when its one client has gone, as nc does at the peer's
     * EOF. */
    if (p->close_on_eof || once)
        sp_buf_appends(&b, " --close-on-eof");
    add_line(l, sp_buf_str(&b), b.len, "ADDR");
    if (echo_cmd)
        add_line(l, "echo 1 on", 9, "--echo");
    if (once) {
        /* plain nc: the first client is served, the listener goes; the run
         * ends when that connection has closed. */
        const char *w = "wait 1 accepted --timeout 0";
        add_line(l, w, strlen(w), "--once");
        add_line(l, "close 1", 7, "--once");
    }
    sp_buf_cleanup(&b);
}

/* --replay and --replay-peer: the replay line, after the others; a listener
 * without --once serves its first client (and stops listening, as the
 * replay is one conversation). */
static void replay_lines(struct lines *l, const char *path, int peer, int wait_client)
{
    if (wait_client) {
        add_line(l, "wait 1 accepted --timeout 0", 27, "--replay");
        add_line(l, "close 1", 7, "--replay");
    }
    struct sp_buf b;
    sp_buf_init(&b);
    sp_buf_appendf(&b, "replay \"%s\"%s", path, peer ? " --as peer" : "");
    add_line(l, sp_buf_str(&b), b.len, peer ? "--replay-peer" : "--replay");
    sp_buf_cleanup(&b);
}

/* Puts the last k lines of l first, in their order. */
static void lines_to_front(struct lines *l, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        char *ln = l->line[l->n - 1], *o = l->origin[l->n - 1];
        memmove(l->line + 1, l->line, (l->n - 1) * sizeof *l->line);
        memmove(l->origin + 1, l->origin, (l->n - 1) * sizeof *l->origin);
        l->line[0] = ln;
        l->origin[0] = o;
    }
}

/* Prints what --help, --version, --help-commands-md, --help-man or
 * --completion ask for. Returns the exit status. */
static int print_info(int opt, const char *arg)
{
    struct sp_buf b;
    sp_buf_init(&b);
    int status = 0;
    char err[256];
    if (opt == 'h') {
        fputs(usage_text, stdout);
        sp_cmd_help(&b, NULL);
    } else if (opt == OPT_VERSION) {
        sp_buf_appendf(&b, "sockpit %s (%s)\nbuilt with %s\n", SP_VERSION, SP_BUILD, SP_COMPILER);
        sp_engine_lib_versions(&b);
        sp_buf_appendc(&b, '\n');
    } else if (opt == OPT_HELP_MD) {
        sp_cmd_reference_md(&b);
    } else if (sp_progdoc(&b, opt == OPT_HELP_MAN ? "man" : arg, usage_text, long_opts, SP_VERSION,
                          err, sizeof err) != 0) {
        status = usage_error("%s", err);
    }
    if (status == 0)
        fputs(sp_buf_str(&b), stdout);
    sp_buf_cleanup(&b);
    return status;
}

int main(int argc, char **argv)
{
    setlocale(LC_CTYPE, "");
    struct lines lines = {0};
    int headless = 0, json = 0, quiet = 0, keep_going = 0, demo = 0;
    double timeout = 0;
    const char *lab = NULL;
    int status = 0, ecount = 0;
    struct posit posit;
    memset(&posit, 0, sizeof posit);
    int reset_on_fail = 0;
    int stdio = 0, stdio_hex = 0, verbose = 0, script_stdin = 0;
    double quit_after = -1;
    const char *replay_path = NULL;
    int replay_peer = 0;

    /* getopt's own messages would echo argv raw: ours are rendered. */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":he:luvq:", long_opts, NULL)) != -1) {
        /* The option in error: a short one by its letter, a long one as
         * written (getopt has moved past it). */
        char shortopt[3] = {'-', (char)optopt, '\0'};
        const char *last = argv[optind - 1];
        const char *arg =
            strncmp(last, "--", 2) == 0 || optopt <= 0 || optopt >= 256 ? last : shortopt;
        switch (opt) {
        case 'h':
        case OPT_VERSION:
        case OPT_HELP_MD:
        case OPT_HELP_MAN:
        case OPT_COMPLETION:
            status = print_info(opt, optarg);
            goto out;
        case 'e': {
            char origin[32];
            snprintf(origin, sizeof origin, "-e %d", ++ecount);
            add_line(&lines, optarg, strlen(optarg), origin);
            break;
        }
        case OPT_SCRIPT:
            script_stdin |= strcmp(optarg, "-") == 0;
            if ((status = read_script(&lines, optarg)) != 0)
                goto out;
            break;
        case OPT_HEADLESS:
            headless = 1;
            break;
        case OPT_JSON:
            json = headless = 1;
            break;
        case OPT_QUIET:
            quiet = headless = 1;
            break;
        case OPT_KEEP_GOING:
            keep_going = 1;
            break;
        case OPT_DEMO:
            demo = 1;
            break;
        case OPT_TIMEOUT: {
            char *end;
            errno = 0;
            timeout = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(timeout > 0) || timeout > 1e7) {
                status = usage_error("bad --timeout \"%s\": seconds > 0 expected", optarg);
                goto out;
            }
            break;
        }
        case OPT_LAB:
            lab = optarg;
            break;
        case 'l':
            posit.listen = 1;
            break;
        case 'u':
            posit.udp = 1;
            break;
        case OPT_ONCE:
            posit.once = 1;
            break;
        case OPT_STDIO:
            stdio = 1;
            break;
        case OPT_NO_STDIO:
            stdio = -1;
            break;
        case OPT_HEX:
            stdio_hex = 1;
            break;
        case OPT_RESET_ON_FAIL:
            reset_on_fail = 1;
            break;
        case OPT_REPLAY:
        case OPT_REPLAY_PEER:
            if (replay_path != NULL) {
                status = usage_error("one --replay or --replay-peer, not two");
                goto out;
            }
            if (strchr(optarg, '"') != NULL) {
                status = usage_error("bad --replay file \"%s\": no quotes", optarg);
                goto out;
            }
            replay_path = optarg;
            replay_peer = opt == OPT_REPLAY_PEER;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'q': {
            char *end;
            errno = 0;
            quit_after = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(quit_after >= 0) ||
                quit_after > 1e6) {
                status = usage_error("bad -q \"%s\": seconds >= 0 expected", optarg);
                goto out;
            }
            break;
        }
        case OPT_ECHO:
            posit.echo = 1;
            break;
        case OPT_CLOSE_ON_EOF:
            posit.close_on_eof = 1;
            break;
        case OPT_RELAY:
            posit.relay = optarg;
            break;
        case OPT_FRAMING:
            if (strchr(optarg, '"') != NULL) {
                status = usage_error("bad --framing \"%s\"", optarg);
                goto out;
            }
            posit.framing = optarg;
            break;
        case ':':
            status = usage_error("%s needs %s", arg, needs(optopt));
            goto out;
        default:
            status = usage_error("unknown option \"%s\"", arg);
            goto out;
        }
    }
    int positional = optind < argc;
    if (!isatty(STDOUT_FILENO) || stdio == 1)
        headless = 1;
    if (stdio == 0)
        stdio = positional && headless && lines.n == 0 && replay_path == NULL &&
                posit.relay == NULL && !isatty(STDIN_FILENO);
    stdio = stdio == 1;
    if (stdio && script_stdin) {
        status = usage_error("--script - and --stdio both want stdin");
        goto out;
    }
    if ((stdio_hex || verbose || quit_after >= 0) && !stdio) {
        status = usage_error("--hex, -v and -q belong to a --stdio run");
        goto out;
    }
    posit.stdio = stdio;
    if (positional) {
        if ((status = posit_addr(&posit, argv + optind, argc - optind)) != 0)
            goto out;
        size_t before = lines.n;
        posit_lines(&posit, &lines);
        lines_to_front(&lines, lines.n - before);
    } else if (posit.listen || posit.udp || posit.once || posit.echo || posit.close_on_eof ||
               posit.framing != NULL || posit.relay != NULL) {
        status =
            usage_error("-l, -u, --once, --echo, --framing, --close-on-eof, --relay need an ADDR");
        goto out;
    }
    if (replay_path != NULL)
        replay_lines(&lines, replay_path, replay_peer,
                     positional && posit.listen && !posit.udp && !posit.once);

    if (lab != NULL) {
        if (strcmp(lab, "list") == 0) {
            struct sp_buf b;
            sp_buf_init(&b);
            sp_lab_list(&b);
            fputs(sp_buf_str(&b), stdout);
            sp_buf_cleanup(&b);
            goto out;
        }
        /* Refuse a bad lab before any terminal or socket is touched. */
        struct sp_labdef *def;
        char err[512];
        if (sp_lab_load(lab, &def, err, sizeof err) != 0) {
            err_line("%s", err);
            status = 2;
            goto out;
        }
        /* A lab that needs what this machine lacks (loss on lo) would
         * only fail its checks: say what is missing instead. */
        int met = sp_lab_needs_met(def, err, sizeof err);
        sp_labfile_free(def);
        if (!met) {
            err_line("%s", err);
            status = 1;
            goto out;
        }
    }
    if (headless && demo) {
        status = usage_error("%s needs the TUI (a terminal on stdout)", "--demo");
        goto out;
    }

    if (headless) {
        if (lab != NULL) {
            /* The lesson runs first, before any -e lines; alone, it ends the
             * run when it is over. */
            if (lines.n == 0)
                add_line(&lines, "quit", 4, "--lab");
            char line[4200];
            snprintf(line, sizeof line, "lab \"%.4000s\"", lab);
            add_line(&lines, line, strlen(line), "--lab");
            char *l0 = lines.line[lines.n - 1], *o0 = lines.origin[lines.n - 1];
            memmove(lines.line + 1, lines.line, (lines.n - 1) * sizeof *lines.line);
            memmove(lines.origin + 1, lines.origin, (lines.n - 1) * sizeof *lines.origin);
            lines.line[0] = l0;
            lines.origin[0] = o0;
        }
        struct sp_headless_opts ho;
        memset(&ho, 0, sizeof ho);
        ho.json = json;
        ho.quiet = quiet;
        ho.keep_going = keep_going;
        ho.reset_on_fail = reset_on_fail;
        ho.timeout_s = timeout;
        ho.lines = (const char *const *)lines.line;
        ho.origins = (const char *const *)lines.origin;
        ho.nlines = lines.n;
        ho.out_fd = stdio ? STDERR_FILENO : STDOUT_FILENO;
        ho.stdio = stdio;
        ho.stdio_hex = stdio_hex;
        ho.verbose = verbose;
        ho.quit_after_s = quit_after;
        status = sp_headless_main(&ho);
        goto out;
    }

    struct sp_engine *eng = NULL;
    struct sp_engine_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.keep_history = 1;
    eo.keep_data = 1;
    if (sp_engine_new(&eng, &eo) != 0) {
        err_line("cannot start the engine");
        status = 1;
        goto out;
    }
    struct sp_tui_opts to;
    memset(&to, 0, sizeof to);
    to.demo = demo;
    to.lines = (const char *const *)lines.line;
    to.origins = (const char *const *)lines.origin;
    to.nlines = lines.n;
    to.lab = lab;
    to.keep_going = keep_going;
    to.timeout_s = timeout;
    status = sp_tui_main(eng, &to);
    sp_engine_free(eng);
out:
    free_lines(&lines);
    return status;
}
