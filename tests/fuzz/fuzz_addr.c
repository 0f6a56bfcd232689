/* Fuzz target: address parsing. Whatever parses formats to a canonical text
 * that parses back to the same fields; kernel address formatting never reads
 * past the given length. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "sockpit/proto/addr.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';

    struct sp_addr a, b;
    char err[256];
    err[0] = '\0';
    if (sp_addr_parse(&a, text, err, sizeof err) == 0) {
        char f1[SP_ADDR_TEXT_MAX], f2[SP_ADDR_TEXT_MAX];
        size_t n1 = sp_addr_format(&a, f1, sizeof f1);
        CHECK(n1 < sizeof f1 && n1 == strlen(f1));
        CHECK(sp_addr_parse(&b, f1, err, sizeof err) == 0);
        CHECK(a.kind == b.kind && a.port == b.port && a.family == b.family &&
              a.wildcard == b.wildcard);
        CHECK(strcmp(a.host, b.host) == 0 && strcmp(a.path, b.path) == 0);
        CHECK(strcmp(a.ifname, b.ifname) == 0 && a.ethertype == b.ethertype && a.tls == b.tls);
        size_t n2 = sp_addr_format(&b, f2, sizeof f2);
        CHECK(n1 == n2 && strcmp(f1, f2) == 0);
    } else {
        CHECK(err[0] != '\0' && strlen(err) < sizeof err);
    }
    free(text);

    /* The raw bytes as a kernel address, at the length given. */
    struct sockaddr_storage ss;
    size_t salen = size < sizeof ss ? size : sizeof ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, data, salen);
    char out[SP_ADDR_TEXT_MAX];
    size_t n = sp_sockaddr_format((const struct sockaddr *)&ss, salen, out, sizeof out);
    CHECK(n < sizeof out);
    return 0;
}
