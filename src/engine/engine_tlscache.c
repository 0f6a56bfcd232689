/* The TLS client's session cache: the sessions servers gave us (a TLS 1.3
 * NewSessionTicket, a TLS 1.2 session), one per target, to offer on the next
 * `connect tls:` to the same target. The key holds everything a session must
 * not be carried across (host, port, SNI, ALPN, trust, --insecure, client
 * certificate), so a session made without verification is never offered by
 * a connect that verifies. Bounded: the least recently stored goes first. */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#define CACHE_MAX 64

struct entry {
    char *key;
    SSL_SESSION *sess;
    uint64_t stamp; /* when stored: the smallest is evicted first */
};

struct sp__tls_cache {
    struct entry e[CACHE_MAX];
    size_t n;
    uint64_t clock;
};

static void drop(struct sp__tls_cache *c, size_t i)
{
    free(c->e[i].key);
    SSL_SESSION_free(c->e[i].sess);
    c->e[i] = c->e[--c->n];
}

static size_t find(const struct sp__tls_cache *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0)
            return i;
    return c->n;
}

size_t sp__tls_cache_put(struct sp_engine *eng, const char *key, SSL_SESSION *sess)
{
    if (eng->tls_cache == NULL)
        eng->tls_cache = sp_xcalloc(1, sizeof *eng->tls_cache);
    struct sp__tls_cache *c = eng->tls_cache;
    size_t i = find(c, key);
    if (i < c->n) {
        SSL_SESSION_free(c->e[i].sess);
    } else {
        if (c->n == CACHE_MAX) {
            size_t old = 0;
            for (size_t k = 1; k < c->n; k++)
                if (c->e[k].stamp < c->e[old].stamp)
                    old = k;
            drop(c, old);
        }
        i = c->n++;
        c->e[i].key = sp_xstrdup(key);
    }
    c->e[i].sess = sess;
    c->e[i].stamp = ++c->clock;
    return c->n;
}

SSL_SESSION *sp__tls_cache_take(struct sp_engine *eng, const char *key)
{
    struct sp__tls_cache *c = eng->tls_cache;
    if (c == NULL)
        return NULL;
    size_t i = find(c, key);
    if (i == c->n)
        return NULL;
    SSL_SESSION *s = c->e[i].sess;
    c->e[i].sess = NULL;
    drop(c, i);
    /* A ticket is offered once (RFC 8446 C.4): the connection that uses it
     * stores the ones it is given. An expired one is not offered. */
    long now = (long)time(NULL);
    if (!SSL_SESSION_is_resumable(s) ||
        now > SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s)) {
        SSL_SESSION_free(s);
        return NULL;
    }
    return s;
}

void sp__tls_cache_free(struct sp_engine *eng)
{
    struct sp__tls_cache *c = eng->tls_cache;
    if (c == NULL)
        return;
    while (c->n > 0)
        drop(c, c->n - 1);
    free(c);
    eng->tls_cache = NULL;
}
