/* Fuzz target: frame summaries. Any bytes, as an Ethernet frame and as a
 * bare IP packet: the summary is terminated, its length is what was returned,
 * it fits, and it is plain printable ASCII (it is made of numbers and fixed
 * words, never of the frame's bytes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/pktsum.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size, enum sp_pkt_link link)
{
    /* An exact copy, so an over-read past size is caught by ASan. */
    uint8_t *p = malloc(size > 0 ? size : 1);
    CHECK(p != NULL);
    memcpy(p, data, size);
    char out[SP_PKTSUM_MAX];
    /* The first two bytes pick how much longer the frame was on the wire. */
    size_t extra = size >= 2 ? (size_t)data[0] << 8 | data[1] : 0;
    size_t n = sp_pktsum(p, size, size + extra, link, out, sizeof out);
    CHECK(n < sizeof out && n == strlen(out) && n > 0);
    for (size_t i = 0; i < n; i++)
        CHECK(out[i] >= 0x20 && out[i] < 0x7f);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, SP_PKT_LINK_ETH);
    one(data, size, SP_PKT_LINK_IP);
    return 0;
}
