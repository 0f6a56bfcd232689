/* TLS on stream sockets (tls:HOST:PORT): OpenSSL drives the handshake and
 * the crypto through memory BIOs while the socket stays the engine's, so
 * every kernel read is still one `recv` event of ciphertext. What OpenSSL
 * hands back (each SSL_read) is the plaintext the framing decodes into `msg`
 * events; the record layer is shown by our own decoder (tlsrec.h) as
 * `tls_record` events, and what OpenSSL reports (handshake result, alerts,
 * close_notify, truncation) as `tls` events. */
#ifndef SOCKPIT_ENGINE_TLS_H
#define SOCKPIT_ENGINE_TLS_H

#include <stddef.h>
#include <stdint.h>

struct sp_engine;
struct sp_buf;

/* TLS settings of a connect or listen on a tls: address. Strings are copied;
 * NULL means the default. */
struct sp_tls_opts {
    const char *sni;    /* client: server name sent (default: the host, unless an IP literal) */
    int no_sni;         /* client: send no server name */
    const char *alpn;   /* comma-separated protocols, "h2,http/1.1" */
    const char *ca;     /* client: trust these CAs (PEM file) instead of the system store */
    int insecure;       /* client: do not enforce verification (the result is still shown) */
    const char *cert;   /* PEM certificate (chain); listener default: a throwaway self-signed */
    const char *key;    /* PEM private key */
    const char *keylog; /* NSS key log file (default: $SSLKEYLOGFILE, if set) */
    int no_resume;      /* client: offer no session kept from an earlier connect */
};

/* What `info` shows of a TLS socket, as lines of raw text (peer-controlled
 * names in them: render before showing). Returns 0, or -1 when id is not a
 * TLS socket. */
int sp_engine_tls_info(struct sp_engine *eng, uint32_t id, struct sp_buf *out);

#endif
