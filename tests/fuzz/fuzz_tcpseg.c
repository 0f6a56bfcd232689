/* Fuzz target: TCP segments from captured frames and the connection
 * tracker. The first byte picks the link type, the second how much longer
 * the frame was on the wire; the rest is the frame. A parsed segment is fed
 * to a tracker both ways, and the tracker is fed the input again cut into
 * 64-byte frames, so its state meets many segments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockpit/proto/tcpseg.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {SP_LINK_EN10MB,    SP_LINK_RAW,        SP_LINK_NULL,
                            SP_LINK_LINUX_SLL, SP_LINK_LINUX_SLL2, SP_LINK_DLT_RAW};

static void one(struct sp_tcpflow *f, const uint8_t *data, size_t size, int link, size_t extra,
                uint64_t now)
{
    /* An exact copy, so an over-read past size is caught by ASan. */
    uint8_t *p = malloc(size > 0 ? size : 1);
    CHECK(p != NULL);
    memcpy(p, data, size);
    struct sp_tcp_pkt t;
    const char *why = NULL;
    if (sp_tcp_parse(p, size, size + extra, link, &t, &why) == 0) {
        CHECK(t.ip_off <= size);
        CHECK(t.len <= t.ip_len);
        struct sp_seg seg;
        uint64_t off;
        sp_tcpflow_add(f, &t, (int)(now & 1), now, &seg, &off);
        CHECK(seg.flags == t.flags);
        for (unsigned bit = 1u << 7; bit < 1u << 16; bit <<= 1)
            CHECK(!(seg.marks & bit));
    } else {
        CHECK(why != NULL && why[0] != '\0');
    }
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int link = links[data[0] % (sizeof links / sizeof links[0])];
    size_t extra = data[1];
    struct sp_tcpflow f;
    sp_tcpflow_init(&f);
    one(&f, data + 2, size - 2, link, extra, 1);
    one(&f, data + 2, size - 2, link, extra, 2);
    for (size_t i = 2, k = 3; i < size; i += 64, k++)
        one(&f, data + i, size - i < 64 ? size - i : 64, link, 0, k);
    return 0;
}
