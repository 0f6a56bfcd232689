/* Fuzz target: control buffers. Any bytes as a recvmsg() control buffer
 * (copied exactly, so an over-read past size is caught by ASan): every
 * record stays inside the buffer, the address texts are terminated, the
 * descriptors found are the ones the records name, and the recv event that
 * carries the records formats as text and JSON without a control byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/cmsg.h"
#include "sockpit/proto/event.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(int fd, void *ud)
{
    (void)fd;
    (*(size_t *)ud)++;
}

static void no_controls(const struct sp_buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = b->data[i];
        CHECK(c >= 0x20 || c == '\n');
        CHECK(c != 0x7f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size > 0 ? size : 1);
    CHECK(p != NULL);
    memcpy(p, data, size);
    struct sp_cmsg r[SP_CMSG_MAX];
    size_t more = 0;
    size_t n = sp_cmsg_parse(p, size, r, SP_CMSG_MAX, &more);
    CHECK(n <= SP_CMSG_MAX);
    size_t rights = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(r[i].off <= size);
        if (r[i].kind != SP_CMSG_BAD)
            CHECK(r[i].off + CMSG_LEN(0) + r[i].len <= size);
        CHECK(memchr(r[i].addr, '\0', sizeof r[i].addr) != NULL);
        CHECK(memchr(r[i].target, '\0', sizeof r[i].target) != NULL);
        rights += r[i].kind == SP_CMSG_RIGHTS;
    }
    size_t fds = 0;
    CHECK(sp_cmsg_each_fd(p, size, count, &fds) == fds);
    if (more == 0)
        CHECK(fds == rights);
    struct sp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SP_EV_RECV;
    ev.kind = SP_SOCK_UDP;
    ev.unread = -1;
    ev.cmsg = r;
    ev.ncmsg = n;
    ev.cmsg_more = (uint32_t)more;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_text(&b, &ev, 1);
    no_controls(&b);
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    no_controls(&b);
    ev.type = SP_EV_ICMP_ERROR;
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    no_controls(&b);
    sp_buf_cleanup(&b);
    free(p);
    return 0;
}
