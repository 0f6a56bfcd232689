/* The command table (tmux style): one entry per command with its usage, a
 * description, the options it accepts and its exec function. Lookup, help,
 * completion and the README reference are all generated from it. */
#include "cmd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/engine/engine.h"

static const struct cmd_opt listen_opts[] = {
    {"--framing", "SPEC", "framing of the accepted connections (default raw)"},
    {"--echo", NULL,
     "echo what every accepted connection receives; after the peer's EOF it echoes that too "
     "(our FIN once the echo is written) and closes"},
    {"--close-on-eof", NULL,
     "close each accepted connection after the peer's EOF, once what is queued is written "
     "(without it a connection stays half-open, in CLOSE_WAIT, until closed)"},
    {"--backlog", "N", "listen(2) backlog (default 511)"},
    {"--reuseport", NULL, "SO_REUSEPORT before bind: listeners that all set it share the port"},
    {"--v6only", NULL, "IPV6_V6ONLY before bind: an IPv6 listener that takes no IPv4"},
    {"--wire", NULL,
     "show the TCP segments of every accepted connection, handshake included (wire view; "
     "needs CAP_NET_RAW)"},
    {"--cert", "FILE", "tls: the certificate (PEM chain; default: a throwaway self-signed one)"},
    {"--key", "FILE", "tls: its private key (PEM)"},
    {"--alpn", "LIST", "tls: protocols we accept, in our order (h2,http/1.1)"},
    {"--keylog", "FILE", "tls: append NSS key log lines (default $SSLKEYLOGFILE)"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt connect_opts[] = {
    {"--framing", "SPEC", "framing (default raw)"},
    {"--timeout", "MS", "give up connecting after MS milliseconds (default 10000)"},
    {"--bind", "ADDR",
     "bind to this source address first (tcp:/udp: HOST:PORT, the scheme may be left out; port "
     "0: the kernel picks one)"},
    {"--reuseport", NULL, "SO_REUSEPORT before bind"},
    {"--v6only", NULL, "IPV6_V6ONLY before connect"},
    {"--wire", NULL, "show its TCP segments from the SYN on (wire view; needs CAP_NET_RAW)"},
    {"--sni", "NAME", "tls: the server name sent (default: the host, unless an IP address)"},
    {"--no-sni", NULL, "tls: send no server name"},
    {"--alpn", "LIST", "tls: protocols offered (h2,http/1.1)"},
    {"--ca", "FILE", "tls: trust these CAs (PEM) instead of the system store"},
    {"--insecure", NULL, "tls: show the verification result but do not enforce it"},
    {"--no-resume", NULL,
     "tls: do not offer the session an earlier connect to this target was given (a full "
     "handshake)"},
    {"--cert", "FILE", "tls: a client certificate (PEM)"},
    {"--key", "FILE", "tls: its private key (PEM)"},
    {"--keylog", "FILE", "tls: append NSS key log lines (default $SSLKEYLOGFILE)"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt bind_opts[] = {
    {"--framing", "SPEC", "framing (default raw)"},
    {"--reuseport", NULL, "SO_REUSEPORT before bind: sockets that all set it share the port"},
    {"--v6only", NULL, "IPV6_V6ONLY before bind: an IPv6 socket that takes no IPv4"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt send_opts[] = {
    {"--hex", NULL,
     "DATA words are hex digits (spaces, ':' and '-' allowed); every word after --hex is data, "
     "an ID goes before it"},
    {"--file", "PATH", "send the file's bytes (after any DATA; at most 8 MiB)"},
    {"--raw", NULL, "bypass the socket's framing: the bytes go out as given"},
    {"--to", "ADDR", "datagram sockets: the destination"},
    {"--split", "N", "cut the wire bytes into writes of at most N bytes"},
    {"--chunks", "A,B,C", "cut the wire bytes into writes of these sizes (rest in a last write)"},
    {"--delay", "MS", "pause between the writes of --split/--chunks"},
    {"--repeat", "N", "send the whole N times"},
    {"--every", "MS", "pause between repetitions"},
    {"--end", NULL, "blocks framing: end the series with the zero block"},
    {"--pad", NULL, "fixed framing: pad a short message with NUL bytes"},
    {"--once", NULL,
     "exactly one non-blocking write (sendmsg for several DATA words): the send shows what it "
     "took (all, a part, or EAGAIN); the rest is not sent"},
    {"--oob", NULL, "TCP: send one byte with MSG_OOB (urgent data), in one call as --once"},
    {"--fd", "PATH",
     "Unix sockets: pass an open descriptor of PATH (read-only) with SCM_RIGHTS, on one "
     "sendmsg() as --once"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt recv_opts[] = {
    {"--iov", "A,B,C",
     "one recvmsg() into these buffers (1 .. 16 of them); the event shows how the kernel filled "
     "each"},
    {"--peek", NULL, "MSG_PEEK: look without taking; the next recv sees the same bytes"},
    {"--waitall", NULL,
     "MSG_WAITALL (streams): wait until every buffer can be filled, or EOF; says how long"},
    {"--oob", NULL, "MSG_OOB (TCP): read the urgent byte out of band"},
    {"--trunc", NULL, "MSG_TRUNC (datagrams): the datagram's real length even when cut short"},
    {"--block", NULL,
     "wait (the loop goes on) until the kernel has data, as a blocking recv() would; says how "
     "long"},
    {"--timeout", "MS",
     "give up --block/--waitall after MS milliseconds (default 10000; 0 = forever)"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt log_opts[] = {
    {"--pcap", "FILE",
     "write the captured TCP segments (wire view) as a pcap file instead: of socket ID (a "
     "listener: and its connections), or without ID of every watched socket"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt wait_opts[] = {
    {"--timeout", "MS", "fail after MS milliseconds (default 10000; 0 = forever)"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt expect_opts[] = {
    {"--timeout", "MS", "fail after MS milliseconds (default 10000; 0 = forever)"},
    {"--hex", NULL,
     "DATA words are hex digits; every word after --hex is data, an ID goes before it"},
    {"--prefix", NULL, "the message must start with DATA (or the --hex-mask)"},
    {"--contains", NULL, "the message must contain DATA (or the --hex-mask) somewhere"},
    {"--regex", "RE",
     "the message must match RE, a POSIX extended regex searched anywhere in it (anchor with ^ "
     "and $); bytes, not characters; \\n \\r \\t \\e \\xHH are those bytes, other "
     "backslashes the regex's; the whole message is the subject, NUL bytes included"},
    {"--hex-mask", "MASK",
     "bytes as hex pairs where ? is a don't-care nibble: \"01 ?? 03\" is 3 bytes, any middle "
     "one; 4? is 0x40 .. 0x4f (spaces, : and - separate bytes); whole message unless --prefix "
     "or --contains"},
    {"--capture", "NAME[=N],...",
     "with --regex: group N (default 1, then 2 ... for the next names; 0 the whole match) "
     "becomes the variable ${NAME} for later DATA words (empty if the group took no part)"},
    {"--within", "MS",
     "the match must come at most MS ms after our last send on the socket (without a send, "
     "after the expect line); fails as soon as that time is over"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt replay_opts[] = {
    {"--as", "logged|peer",
     "logged (default): play the socket the log was written for (its sends are sent, what it "
     "received is expected); peer: play the other end (a mock of the logged socket's peer)"},
    {"--timeout", "MS", "each expect and wait fails after MS milliseconds (default 10000)"},
    {NULL, NULL, NULL},
};
static const struct cmd_opt on_opts[] = {
    {"--hex", NULL, "DATA words of both the match and the reply are hex digits"},
    {"--prefix", NULL, "the message must start with DATA (or the --hex-mask)"},
    {"--contains", NULL, "the message must contain DATA (or the --hex-mask) somewhere"},
    {"--regex", "RE", "the message must match RE (as expect --regex)"},
    {"--hex-mask", "MASK", "bytes with don't-care nibbles (as expect --hex-mask)"},
    {"--capture", "NAME[=N],...",
     "with --regex: group N becomes ${NAME} in this rule's reply (set anew at each match)"},
    {"--delay", "MS", "reply MS milliseconds after the message came"},
    {"--close", NULL, "close the connection gracefully after the reply is written"},
    {NULL, NULL, NULL},
};

static const struct cmd_opt relay_opts[] = {
    {"--framing", "SPEC", "the client legs' framing: up-direction faults count its messages"},
    {"--framing-back", "SPEC",
     "the target legs' framing: down-direction faults count its messages"},
    {"--fin", "pass|hold|reset",
     "a FIN read on one leg: pass it on as shutdown wr on the other (default, as socat), hold "
     "it (the other leg stays open for writing), or reset both legs"},
    {"--dir", "up|down|both",
     "the direction the faults on this line act on: up (client to target), down (target "
     "back to the client) or both (default)"},
    {"--delay", "MS", "each message (raw: recv chunk) leaves MS milliseconds after it arrived"},
    {"--rate", "BYTES/S", "forward at most this many bytes a second (K/M suffixes)"},
    {"--resplit", "N", "forward in write calls of at most N bytes (see each send's calls)"},
    {"--drop-msg", "N", "do not forward message (raw: recv chunk) number N of the source leg"},
    {"--reset-after", "BYTES", "reset both legs once BYTES bytes went through"},
    {"--stall", NULL, "forward nothing and stop reading the source leg: the sender's window fills"},
    {"--unstall", NULL, "set: forward again"},
    {"--clear", NULL, "set: turn off every fault not given on the line"},
    {"--cert", "FILE",
     "tls: listen address: the certificate clients see (PEM chain; default: a throwaway "
     "self-signed one)"},
    {"--key", "FILE", "tls: listen address: its private key (PEM)"},
    {"--ca", "FILE", "tls: target: trust these CAs (PEM) instead of the system store"},
    {"--insecure", NULL, "tls: target: show the verification result but do not enforce it"},
    {"--sni", "NAME", "tls: target: the server name sent (default: the host, unless an IP)"},
    {"--no-sni", NULL, "tls: target: send no server name"},
    {"--no-resume", NULL, "tls: target: offer no session kept from an earlier target leg"},
    {"--keylog", "FILE", "tls: legs: append NSS key log lines (default $SSLKEYLOGFILE)"},
    {NULL, NULL, NULL},
};

/* Sorted by name: help lists the table in this order. */
const struct cmd_entry cmd__table[] = {
    {"bind", "bind ADDR [--framing SPEC] [--reuseport] [--v6only]",
     "open a datagram socket (udp:, unix-dgram:) or a packet socket (packet:IFACE[:ETHERTYPE])",
     "Receives from anyone; `send --to ADDR` chooses the destination. `packet:IFACE[:ETHERTYPE]` "
     "(ETHERTYPE 0x0800 or ipv4, ipv6, arp, vlan, all; default all) receives every frame of "
     "that interface with its link layer and a summary, and `send --hex ...` sends a whole "
     "frame out of it; it needs CAP_NET_RAW (root, or `setcap cap_net_raw+ep $(command -v "
     "sockpit)`).",
     bind_opts, 1, 1, 0, cmd__exec_bind},
    {"close", "close [ID]", "close the socket after delivering what is queued",
     "close(2): the kernel sends RST instead of FIN if unread data remains (a notice says "
     "so).",
     NULL, 0, 1, 0, cmd__exec_close},
    {"confirm", "confirm on|off", "ask before c closes and X resets (TUI only)",
     "On by default; off makes c and X act at once (q still asks while sockets are open).", NULL, 1,
     1, CMD_F_UI, cmd__exec_ui},
    {"connect",
     "connect ADDR [--framing SPEC] [--timeout MS] [--bind ADDR] [--reuseport] [--v6only] "
     "[--wire] [--sni NAME] [--no-sni] [--alpn LIST] [--ca FILE] [--insecure] [--no-resume] "
     "[--cert FILE] [--key FILE] [--keylog FILE]",
     "connect to a server",
     "In a script the next line runs once connected (tls: once the handshake is done); a "
     "refused or timed-out connect, or a failed handshake, fails the line. A tls: connect "
     "offers the session the last connect to the same target (and the same TLS options) was "
     "given, unless --no-resume; the handshake_done event says whether the server accepted "
     "it.",
     connect_opts, 1, 1, 0, cmd__exec_connect},
    {"echo", "echo [ID] on|off", "send back what arrives",
     "On a listener: for every connection it accepts from now on. A stream connection that "
     "echoes echoes the EOF too: after the peer's EOF, once the echo is written, it closes "
     "(our FIN).",
     NULL, 1, 2, 0, cmd__exec_echo},
    {"expect",
     "expect [ID] DATA... [--hex] [--prefix | --contains] [--regex RE [--capture NAME[=N],...]] "
     "[--hex-mask MASK] [--within MS] [--timeout MS]",
     "the next message must equal (or match) DATA",
     "Takes the oldest message (under raw: recv chunk) not yet taken by an earlier expect on "
     "the socket, including messages that arrived before it ran; waits for one if none is "
     "there. A message that does not match fails the line. A match is an expect event with "
     "how it matched, what it captured and the latency from our last send to the message. "
     "DATA words of any later line may use ${NAME} for a captured variable ($$ is a $; an "
     "unknown name fails the line).",
     expect_opts, 0, -1, 0, cmd__exec_expect},
    {"focus", "focus ID", "show socket ID in the focused pane (TUI only)", NULL, NULL, 0, -1,
     CMD_F_UI, cmd__exec_ui},
    {"framing", "framing [ID] SPEC", "set the socket's framing (takes effect at the next byte)",
     "SPEC: raw eof fixed:N line delim:SEQ len:W netstring decimal:SEQ blocks:W, options after "
     "commas (max=SIZE offset=N adjust=N strip=N). On a datagram socket each datagram is framed "
     "on its own: a frame its end cuts short is a truncated message, never joined to the next "
     "datagram.",
     NULL, 1, 2, 0, cmd__exec_framing},
    {"help", "help [COMMAND]", "list the commands, or explain one", NULL, NULL, 0, 1, 0,
     cmd__exec_help},
    {"hex", "hex [on|off]", "show payloads as hex in the focused pane (TUI only)", NULL, NULL, 0,
     -1, CMD_F_UI, cmd__exec_ui},
    {"info", "info [ID]",
     "kernel view: TCP state, TCP_INFO in full, unread, unsent, buffers, options, SO_PEERCRED, "
     "bound device, ancillary options and control buffer",
     NULL, NULL, 0, 1, 0, cmd__exec_info},
    {"lab", "lab NAME|FILE|list", "run a lesson (a built-in lab, or a lab file)",
     "Stages each step, then checks what the kernel did and prints a note and a check line "
     "per check; the TUI stops at each step (Space: next, r: repeat, N: notes). `lab list` "
     "names the built-in labs; a FILE has a / or ends in .lab.",
     NULL, 1, 1, 0, cmd__exec_lab},
    {"list", "list [rules]", "table of sockets, or of the `on` rules", NULL, NULL, 0, 1, 0,
     cmd__exec_list},
    {"listen",
     "listen ADDR [--framing SPEC] [--echo] [--close-on-eof] [--backlog N] [--reuseport] "
     "[--v6only] [--wire] [--cert FILE] [--key FILE] [--alpn LIST] [--keylog FILE]",
     "listen for connections (tcp:, tls:, unix:, unix-seqpacket:)",
     "Each accepted connection becomes a socket with the next id. A host name is resolved "
     "first; the next line runs once listening.",
     listen_opts, 1, 1, 0, cmd__exec_listen},
    {"log", "log [ID] PATH | log [ID] --pcap FILE", "write the socket's events as JSON lines",
     "The events so far (from the history), then every new one, flushed one by one, until "
     "the socket closes. The TUI always keeps history; a headless run keeps it only when its "
     "script has a log line, and then from the first event on. With --pcap: the segments the "
     "wire view captured so far and from now on, as a pcap file (raw IP, headers only) that "
     "tcpdump -r and Wireshark read; without ID, of every watched socket.",
     log_opts, 0, 2, 0, cmd__exec_log},
    {"on",
     "on [ID] MATCH... reply DATA... [--hex] [--prefix | --contains] "
     "[--regex RE [--capture NAME[=N],...]] [--hex-mask MASK] [--delay MS] [--close] | "
     "on [ID] off",
     "auto-reply: a message that matches gets DATA as the answer",
     "MATCH is DATA words (exact, or with --prefix/--contains), or nothing with --regex or "
     "--hex-mask, as expect matches. On a listener the rule applies to every connection it "
     "accepted, before or after. Each incoming message (under raw: each recv chunk) is checked "
     "against the socket's rules, then its listener's, in the order they were made; the first "
     "that matches replies through the socket's framing (a datagram socket answers the "
     "sender) and shows a rule event. The reply may use the rule's captures and variables as "
     "${NAME}. `on [ID] off` removes the socket's rules; `list rules` shows them and how often "
     "each fired. At most 256 rules, and 1024 replies (16 MiB) waiting to go out.",
     on_opts, 1, -1, 0, cmd__exec_on},
    {"pause", "pause [ID]", "stop reading (data piles up in the kernel)", NULL, NULL, 0, 1, 0,
     cmd__exec_pause},
    {"quit", "quit", "close every socket (as close does) and exit", NULL, NULL, 0, 0, 0,
     cmd__exec_quit},
    {"recv",
     "recv [ID] [N] [--iov A,B,C] [--peek] [--waitall] [--oob] [--trunc] [--block] [--timeout MS]",
     "one manual recvmsg() of up to N bytes while paused",
     "With one number, it is the ID; say `recv ID N` to give N. The recv event shows what the "
     "call returned: the bytes, msg_flags (MSG_TRUNC, MSG_CTRUNC, MSG_OOB, MSG_EOR), the sender of "
     "a datagram, and on TCP whether the urgent mark was reached (SIOCATMARK). On an empty queue "
     "the call fails with EAGAIN: an error event, the line itself succeeds. A peek or the urgent "
     "byte takes no chunk number and does not move the stream offset.",
     recv_opts, 0, 2, 0, cmd__exec_recv},
    {"recvsize", "recvsize [ID] N", "bytes asked of each recv (1 .. 1M, K/M suffixes)", NULL, NULL,
     1, 2, 0, cmd__exec_recvsize},
    {"relay",
     "relay LISTEN TARGET [--framing SPEC] [--framing-back SPEC] [--fin pass|hold|reset] "
     "[--dir up|down|both] [--delay MS] [--rate BYTES/S] [--resplit N] [--drop-msg N] "
     "[--reset-after BYTES] [--stall] [--cert FILE --key FILE] [--ca FILE] [--insecure] "
     "[--sni NAME] [--no-sni] [--no-resume] [--keylog FILE] | relay [ID] set "
     "[--dir up|down|both] [faults] [--unstall] [--clear]",
     "sit between a client and a server: every connection to LISTEN opens one to TARGET",
     "Both legs are ordinary sockets (the accepted client leg, then the target leg with the "
     "next id): each shows its own recv boundaries, messages and half-close, and every "
     "command works on it. What one leg receives is written to the other: under a framing "
     "whole messages (a message waits until complete), raw each recv chunk, and faults count "
     "those. The client leg is read once the target connected; a failed connect resets it. "
     "An RST on one leg resets the other. A direction holding 256 KiB (with the other leg's "
     "write queue) stops reading its source until 64 KiB are left. `relay ID set` changes the "
     "faults live: on the relay's listener for its connections now and later, on a leg for "
     "that connection; 0 turns a fault off. Notices say when a fault acted. A tls: LISTEN "
     "terminates TLS from the clients, a tls: TARGET originates TLS to the server: the relay "
     "forwards the plaintext (each leg's plaintext reads, or its messages under a framing), "
     "faults act on it, and --fin pass on a tls: leg sends close_notify, then the FIN. A tls: "
     "target is connected once its handshake is done; a failed handshake resets the client leg.",
     relay_opts, 1, 2, 0, cmd__exec_relay},
    {"replay", "replay [ID] FILE [--as logged|peer] [--timeout MS]",
     "play one side of a conversation recorded by log",
     "FILE is the JSON lines `log` wrote for one socket. Its lines run next, on socket ID (made "
     "first, with the framing of the recording): the played side's writes as `send --raw --hex` "
     "(the exact bytes, one write each), the other side's bytes, cut into messages by socket "
     "ID's framing, as `expect --hex` (under raw, each recorded chunk or write is one expect: "
     "use a framing for a replay that does not depend on how TCP cut the bytes); a FIN as "
     "`shutdown wr` or `wait eof`. Errors name FILE:LINE of the log. `sockpit --replay FILE` "
     "and `--replay-peer FILE` are this line.",
     replay_opts, 1, 2, 0, cmd__exec_replay},
    {"reset", "reset [ID]", "abortive close: SO_LINGER 0, queued data dropped, RST sent", NULL,
     NULL, 0, 1, 0, cmd__exec_reset},
    {"resume", "resume [ID]", "start reading again", NULL, NULL, 0, 1, 0, cmd__exec_resume},
    {"send",
     "send [ID] DATA... [--hex] [--file PATH] [--raw] [--to ADDR] "
     "[--split N | --chunks A,B,C] [--delay MS] [--repeat N --every MS] [--end] [--pad] "
     "[--once] [--oob] [--fd PATH]",
     "send one message",
     "DATA uses escapes (\\n \\r \\t \\0 \\\\ \\e \\xHH); double quotes keep spaces. Several "
     "DATA words are parts of one message, joined without spaces and written with one writev. "
     "The socket's framing wraps the message unless --raw. On a datagram socket each write "
     "(each piece of --split/--chunks) is one datagram with its own outcome: a send event if "
     "the kernel took it, an error if it refused it, and the pieces after a refused one still "
     "go. Without --once a send finishes the write as sendall() does.",
     send_opts, 0, -1, 0, cmd__exec_send},
    {"set",
     "set [ID] nodelay|cork|keepalive|oobinline on|off | set [ID] rcvbuf|sndbuf|linger N | "
     "set keep-closed N | set [ID] broadcast|v6only|reuseport on|off | set [ID] ttl|tos N | "
     "set [ID] bindtodevice IFACE|off | set [ID] mcast-join GROUP[%IFACE] | set [ID] mss N | "
     "set [ID] passcred|pktinfo|recvttl|recvtos|timestamp|recverr on|off | set [ID] cmsgbuf N | "
     "set wire-buffer BYTES|off",
     "set a socket option, or how many closed sockets are kept",
     "linger takes seconds, or off. keep-closed (no ID) is how many closed sockets list, info "
     "and their history keep (default 1000); older ones are forgotten, their history freed. "
     "From the command line: -e 'set keep-closed N'. ttl (IP_TTL, IPv6 hop limit) and tos "
     "(IP_TOS, IPv6 traffic class) take 0 .. 255; bindtodevice is SO_BINDTODEVICE (changing a "
     "binding needs CAP_NET_RAW); mcast-join joins a multicast group on a udp: socket "
     "(IP_ADD_MEMBERSHIP, "
     "IPV6_JOIN_GROUP), on IFACE or where the kernel routes the group. v6only and reuseport "
     "count at bind: give them to listen/bind/connect as --v6only/--reuseport (the kernel "
     "refuses v6only on a bound socket). mss (TCP_MAXSEG, 88 .. 32767, 0 or off for the "
     "kernel's) without ID is stored and set on every TCP socket made from then on, before "
     "its connect or listen; with ID on that socket now (a listener advertises it in the "
     "SYN-ACKs of the connections it accepts). "
     "Ancillary data, shown under each recv "
     "(JSON cmsg): passcred (Unix: SCM_CREDENTIALS pid, uid, gid of the sender), pktinfo "
     "(UDP: the address the datagram was sent to and the interface), recvttl (UDP: TTL or hop "
     "limit), recvtos (UDP: TOS or traffic class), timestamp (UDP, Unix datagrams: the "
     "kernel's receive time and how long the bytes waited), recverr (UDP: ICMP errors from the "
     "error queue as icmp_error events). Unix sockets always show passed descriptors "
     "(SCM_RIGHTS: what each pointed to; closed unread). cmsgbuf is the control buffer of each "
     "recvmsg() (0 .. 65536 bytes, default 2048): what does not fit is cut (MSG_CTRUNC). "
     "wire-buffer (no ID) is the kernel buffer of the wire view's captures opened from then "
     "on, in bytes (default 8 MiB, off for it): a small one drops segments under a flood, "
     "which notices, info and wire count (tcpdump -B).",
     NULL, 2, 3, 0, cmd__exec_set},
    {"shutdown", "shutdown [ID] wr|rd|both", "shut down one or both directions",
     "wr sends FIN (the peer sees EOF; we can still read); rd stops our reading. The FIN "
     "follows what is still queued: a shutdown wr waits for our write queue, then the kernel "
     "sends the FIN after its unsent bytes; notices say how many.",
     NULL, 1, 2, 0, cmd__exec_shutdown},
    {"sleep", "sleep MS", "pause the script for MS milliseconds", NULL, NULL, 1, 1, 0,
     cmd__exec_sleep},
    {"split", "split [rows|cols] [ID]", "add a pane (TUI only)", NULL, NULL, 0, -1, CMD_F_UI,
     cmd__exec_ui},
    {"step", "step [TEXT...]", "wait for the step key (Space) in the TUI; nothing headless",
     "Lets a script stop where the teacher wants to talk instead of guessing sleeps.", NULL, 0, -1,
     0, cmd__exec_step},
    {"unsplit", "unsplit", "remove the focused pane (TUI only)", NULL, NULL, 0, -1, CMD_F_UI,
     cmd__exec_ui},
    {"view", "view chunks|msgs|both|wire", "choose the focused pane's timeline (TUI only)", NULL,
     NULL, 0, -1, CMD_F_UI, cmd__exec_ui},
    {"wait", "wait [ID] EVENT [--timeout MS]", "wait for an event",
     "EVENT: connected accepted recv msg eof closed sent state:NAME bytes:N msgs:N. recv and "
     "msg wait for the next one; accepted takes one connection no earlier wait took (so it "
     "holds at once if the connection came first); connected, eof and closed hold at once if "
     "already true; sent holds once the write queue is empty; bytes:N and msgs:N once the "
     "totals reach N; state:NAME once the kernel reports that TCP state.",
     wait_opts, 1, 2, 0, cmd__exec_wait},
    {"wire", "wire [ID] [on|off]", "show the socket's TCP segments (wire view)",
     "Captures the socket's own segments with libpcap (a listener: those of every connection "
     "it accepts) and publishes each as a segment event: direction, flags, relative seq and "
     "ack, window, length, SYN options, marks (retransmission, out-of-order, gap, dup-ack, "
     "zero-window, window-update, keep-alive) and its stream offset. Turned on after the "
     "handshake, seq counts from the first segment seen (said so); off and on again, a "
     "connection keeps its ISNs and segment numbers. Needs CAP_NET_RAW: "
     "`sudo setcap cap_net_raw,cap_net_admin+ep $(command -v sockpit)`, or root. Without on or "
     "off: what the capture saw and missed (the capture's drops, the interface's) and its "
     "filter (address pairs, past 16 sockets their ports, past 32 ports all TCP).",
     NULL, 0, 2, 0, cmd__exec_wire},
};
const size_t cmd__table_len = sizeof cmd__table / sizeof cmd__table[0];

const char cmd__id_rule[] =
    "ID: a socket number (see list). Omitted, it means the current socket (the focused pane; "
    "in a script the newest socket a listen, connect or bind created, or the connection the last "
    "`wait accepted` took). A leading unquoted number without a leading zero is taken as the ID "
    "when the command's other arguments still follow it, so `send 2 hi` sends \"hi\" to socket "
    "2, while `send 2` sends \"2\"; quote it (`send \"2\" x`) to send digits. Data is never "
    "read as an ID: with --hex every word after --hex is data and only the ID may stand before "
    "it (`send 2 --hex 00 05` sends 2 bytes to socket 2, `send --hex 01 02` 2 bytes to the "
    "current socket); a number with a leading zero (01) is never an ID.";

const struct cmd_entry *cmd__find(const char *name, char *err, size_t errlen)
{
    const struct cmd_entry *found = NULL;
    size_t n = strlen(name), count = 0;
    for (size_t i = 0; i < cmd__table_len; i++) {
        if (strcmp(cmd__table[i].name, name) == 0)
            return &cmd__table[i];
        if (n > 0 && strncmp(cmd__table[i].name, name, n) == 0) {
            found = &cmd__table[i];
            count++;
        }
    }
    if (count == 1)
        return found;
    if (count == 0) {
        snprintf(err, errlen, "unknown command \"%.40s\" (try help)", name);
        return NULL;
    }
    size_t l = (size_t)snprintf(err, errlen, "ambiguous command \"%.40s\":", name);
    for (size_t i = 0; i < cmd__table_len && l < errlen; i++)
        if (strncmp(cmd__table[i].name, name, n) == 0)
            l += (size_t)snprintf(err + l, errlen - l, " %s", cmd__table[i].name);
    return NULL;
}

static int takes_id(const struct cmd_entry *e)
{
    return strstr(e->usage, "[ID]") != NULL;
}

int sp_cmd_help(struct sp_buf *out, const char *name)
{
    if (name == NULL || name[0] == '\0') {
        sp_buf_appends(out, "Commands (`help COMMAND` for one; unique prefixes work):\n");
        for (size_t i = 0; i < cmd__table_len; i++)
            sp_buf_appendf(out, "  %-9s %s\n", cmd__table[i].name, cmd__table[i].summary);
        sp_buf_appends(out, "Options (--name) may stand anywhere on the line; -- ends them.\n");
        return 0;
    }
    char err[256];
    const struct cmd_entry *e = cmd__find(name, err, sizeof err);
    if (e == NULL) {
        sp_buf_appends(out, err);
        sp_buf_appendc(out, '\n');
        return -1;
    }
    sp_buf_appendf(out, "%s\n  %s.\n", e->usage, e->summary);
    if (e->help != NULL)
        sp_buf_appendf(out, "  %s\n", e->help);
    for (size_t i = 0; e->opts != NULL && e->opts[i].name != NULL; i++) {
        char o[64];
        snprintf(o, sizeof o, "%s%s%s", e->opts[i].name, e->opts[i].arg ? " " : "",
                 e->opts[i].arg ? e->opts[i].arg : "");
        sp_buf_appendf(out, "  %-16s %s\n", o, e->opts[i].help);
    }
    if (takes_id(e))
        sp_buf_appendf(out, "  %s\n", cmd__id_rule);
    return 0;
}

void sp_cmd_reference_md(struct sp_buf *out)
{
    sp_buf_appends(out, "Generated from the command table (`sockpit --help-commands-md`); a "
                        "test keeps this section and the table in step.\n\n");
    for (size_t i = 0; i < cmd__table_len; i++) {
        const struct cmd_entry *e = &cmd__table[i];
        sp_buf_appendf(out, "- `%s` — %s.", e->usage, e->summary);
        if (e->help != NULL)
            sp_buf_appendf(out, " %s", e->help);
        sp_buf_appendc(out, '\n');
        for (size_t k = 0; e->opts != NULL && e->opts[k].name != NULL; k++)
            sp_buf_appendf(out, "  - `%s%s%s`: %s\n", e->opts[k].name, e->opts[k].arg ? " " : "",
                           e->opts[k].arg ? e->opts[k].arg : "", e->opts[k].help);
    }
    sp_buf_appendf(out, "\n%s\n", cmd__id_rule);
}

static const char *const framing_words[] = {
    "raw",       "eof",      "fixed:",     "line",       "delim:",    "len:u8",    "len:u16",
    "len:u24",   "len:u32",  "len:u64",    "len:varint", "len:u16le", "len:u32le", "len:u64le",
    "netstring", "decimal:", "blocks:u16", "blocks:u32", NULL,
};
static const char *const wait_words[] = {
    "connected", "accepted", "recv",   "msg",   "eof", "closed",
    "sent",      "state:",   "bytes:", "msgs:", NULL,
};
static const char *const set_words[] = {
    "nodelay",     "cork",    "keepalive",   "oobinline", "rcvbuf",  "sndbuf",    "linger",
    "keep-closed", "ttl",     "tos",         "broadcast", "v6only",  "reuseport", "bindtodevice",
    "mcast-join",  "mss",     "passcred",    "pktinfo",   "recvttl", "recvtos",   "timestamp",
    "recverr",     "cmsgbuf", "wire-buffer", NULL,
};
static const char *const onoff_words[] = {"on", "off", NULL};
static const char *const list_words[] = {"rules", NULL};
static const char *const rule_words[] = {"reply", "off", NULL};
static const char *const as_words[] = {"logged", "peer", NULL};
static const char *const shut_words[] = {"wr", "rd", "both", NULL};
static const char *const addr_words[] = {
    "tcp:", "udp:", "unix:", "unix-dgram:", "unix-seqpacket:", "packet:", NULL};

static size_t add_matches(struct sp_buf *out, const char *const *words, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (size_t i = 0; words[i] != NULL; i++) {
        if (strncmp(words[i], prefix, pl) == 0) {
            sp_buf_appends(out, words[i]);
            sp_buf_appendc(out, '\n');
            n++;
        }
    }
    return n;
}

size_t sp_cmd_complete(struct sp_engine *eng, const char *line, struct sp_buf *out)
{
    struct cmd_split sp;
    size_t col;
    char err[128];
    size_t n = 0;
    cmd__split_init(&sp);
    int nw = cmd__split(&sp, line, &col, err, sizeof err);
    size_t ll = strlen(line);
    int fresh = ll == 0 || line[ll - 1] == ' ' || line[ll - 1] == '\t';
    if (nw < 0)
        goto done;
    const char *last = (nw > 0 && !fresh) ? sp.words[nw - 1].s : "";
    int idx = (nw > 0 && !fresh) ? nw - 1 : nw; /* index of the word being completed */
    if (idx == 0) {
        for (size_t i = 0; i < cmd__table_len; i++) {
            if (strncmp(cmd__table[i].name, last, strlen(last)) == 0) {
                sp_buf_appends(out, cmd__table[i].name);
                sp_buf_appendc(out, '\n');
                n++;
            }
        }
        goto done;
    }
    const struct cmd_entry *e = cmd__find(sp.words[0].s, err, sizeof err);
    if (e == NULL)
        goto done;
    const char *prev = sp.words[idx - 1].s;
    if (last[0] == '-' && e->opts != NULL) {
        for (size_t i = 0; e->opts[i].name != NULL; i++) {
            if (strncmp(e->opts[i].name, last, strlen(last)) == 0) {
                sp_buf_appends(out, e->opts[i].name);
                sp_buf_appendc(out, '\n');
                n++;
            }
        }
        goto done;
    }
    if (strcmp(prev, "--framing") == 0 || strcmp(e->name, "framing") == 0) {
        n += add_matches(out, framing_words, last);
        if (strcmp(prev, "--framing") == 0)
            goto done;
    }
    if (strcmp(prev, "--as") == 0) {
        n += add_matches(out, as_words, last);
        goto done;
    }
    if (strcmp(prev, "--fin") == 0 || strcmp(prev, "--dir") == 0) {
        static const char *const fin_words[] = {"pass", "hold", "reset", NULL};
        static const char *const dir_words[] = {"up", "down", "both", NULL};
        n += add_matches(out, prev[2] == 'f' ? fin_words : dir_words, last);
        goto done;
    }
    if (strcmp(e->name, "listen") == 0 || strcmp(e->name, "connect") == 0 ||
        strcmp(e->name, "relay") == 0 || strcmp(e->name, "bind") == 0 ||
        strcmp(prev, "--to") == 0) {
        n += add_matches(out, addr_words, last);
        goto done;
    }
    if (strcmp(e->name, "wait") == 0)
        n += add_matches(out, wait_words, last);
    else if (strcmp(e->name, "set") == 0 && idx <= 2)
        n += add_matches(out, set_words, last);
    else if (strcmp(e->name, "set") == 0 || strcmp(e->name, "echo") == 0 ||
             strcmp(e->name, "wire") == 0)
        n += add_matches(out, onoff_words, last);
    else if (strcmp(e->name, "shutdown") == 0)
        n += add_matches(out, shut_words, last);
    else if (strcmp(e->name, "list") == 0 && idx == 1)
        n += add_matches(out, list_words, last);
    else if (strcmp(e->name, "on") == 0 && last[0] != '\0')
        n += add_matches(out, rule_words, last);
    else if (strcmp(e->name, "help") == 0 && idx == 1)
        for (size_t i = 0; i < cmd__table_len; i++)
            if (strncmp(cmd__table[i].name, last, strlen(last)) == 0) {
                sp_buf_appends(out, cmd__table[i].name);
                sp_buf_appendc(out, '\n');
                n++;
            }
    if (takes_id(e) && idx == 1 && eng != NULL) {
        uint32_t ids[1024];
        size_t cnt = sp_engine_sock_ids(eng, ids, 1024);
        for (size_t i = 0; i < cnt && i < 1024; i++) {
            char b[16];
            snprintf(b, sizeof b, "%u", (unsigned)ids[i]);
            if (strncmp(b, last, strlen(last)) == 0) {
                sp_buf_appends(out, b);
                sp_buf_appendc(out, '\n');
                n++;
            }
        }
    }
done:
    cmd__split_cleanup(&sp);
    return n;
}
