/* Control buffers and control messages: the buffer every recvmsg() of a
 * socket that wants ancillary data gets, what is done with what comes back
 * (each passed descriptor described, then closed unread; the rest decoded by
 * cmsg.c), and the one SCM_RIGHTS message `send --fd` attaches. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sockpit/proto/cmsg.h"

/* The control buffer of every socket that did not set its own size: what
 * comes back in it is used up (decoded, descriptors closed) before the recv
 * event is published, so one buffer serves every socket, and a Unix
 * connection costs no buffer of its own. */
static _Thread_local uint64_t default_cbuf[SP_CMSGBUF_DEFAULT / sizeof(uint64_t)];

struct sp__anc *sp__anc_get(struct sp_sock *s)
{
    if (s->anc == NULL) {
        struct sp__anc *a = sp_xcalloc(1, sizeof *a);
        a->s = s;
        a->fd = -1;
        a->cbuf_len = SP_CMSGBUF_DEFAULT;
        s->anc = a;
    }
    return s->anc;
}

void *sp__cmsg_cbuf(struct sp_sock *s, size_t *len)
{
    *len = 0;
    /* Seqpacket records are read by engine_seqpacket.c, with this buffer. */
    if (!sp__anc_reads(s) && s->kind != SP_SOCK_SEQPACKET)
        return NULL;
    struct sp__anc *a = sp__anc_get(s);
    *len = a->cbuf_len;
    return a->cbuf_set ? a->cbuf : default_cbuf;
}

/* What a descriptor we were passed points to, while we still hold it. */
static void describe_fd(struct sp_cmsg *c)
{
    char link[64];
    char target[SP_CMSG_TARGET_MAX + 1];
    snprintf(link, sizeof link, "/proc/self/fd/%d", c->fd);
    ssize_t n = readlink(link, target, sizeof target);
    if (n > 0) {
        c->target_cut = (size_t)n > SP_CMSG_TARGET_MAX - 1;
        size_t keep = c->target_cut ? SP_CMSG_TARGET_MAX - 1 : (size_t)n;
        memcpy(c->target, target, keep);
        c->target[keep] = '\0';
    }
    struct stat st;
    if (fstat(c->fd, &st) == 0)
        c->mode = st.st_mode;
}

/* How long the bytes waited between the kernel's stamp and now. Both
 * clocks are CLOCK_REALTIME; a stamp from the future (the clock was set
 * back) tells nothing. */
static void stamp_waited(struct sp_cmsg *c, const struct timespec *now)
{
    int64_t d = ((int64_t)now->tv_sec - c->sec) * 1000000000 + ((int64_t)now->tv_nsec - c->nsec);
    if (d >= 0) {
        c->waited_ns = d;
        c->waited_known = 1;
    }
}

/* What the parser cannot know: the kernel's view of each record. */
static void complete(struct sp_cmsg *cm, size_t n)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (size_t i = 0; i < n; i++) {
        struct sp_cmsg *c = &cm[i];
        if (c->kind == SP_CMSG_RIGHTS)
            describe_fd(c);
        else if (c->kind == SP_CMSG_PKTINFO && c->ifindex != 0 &&
                 if_indextoname(c->ifindex, c->ifname) == NULL)
            c->ifname[0] = '\0';
        else if (c->kind == SP_CMSG_TIMESTAMP)
            stamp_waited(c, &now);
    }
}

static void close_fd(int fd, void *ud)
{
    (void)ud;
    if (fd >= 0)
        close(fd);
}

void sp__cmsg_take(struct sp_sock *s, const struct msghdr *msg, struct sp_cmsg *cm,
                   struct sp__rx *rx)
{
    if (msg->msg_control == NULL || msg->msg_controllen == 0)
        return;
    if (sp__wants(s->eng, SP_EV_RECV)) {
        size_t more = 0;
        size_t n = sp_cmsg_parse(msg->msg_control, msg->msg_controllen, cm, SP_CMSG_MAX, &more);
        complete(cm, n);
        rx->cmsg = cm;
        rx->ncmsg = n;
        rx->cmsg_more = (uint32_t)more;
    }
    /* Every one, described or not: a descriptor kept would leak, and one
     * read would let a peer make us read what it likes. */
    sp_cmsg_each_fd(msg->msg_control, msg->msg_controllen, close_fd, NULL);
}

int sp__cmsg_fd_open(const struct sp_sock *s, const char *path, char *err, size_t errlen)
{
    if (s->kind != SP_SOCK_UNIX && s->kind != SP_SOCK_UNIX_DGRAM && s->kind != SP_SOCK_SEQPACKET) {
        sp__seterr(err, errlen, "--fd: descriptors pass over Unix sockets only; socket %u is %s",
                   s->id, sp_sock_kind_name(s->kind));
        return -EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        char shown[96];
        snprintf(shown, sizeof shown, "%s", path);
        sp__seterr(err, errlen, "--fd %s: cannot open: %s (nothing sent)", shown, strerror(e));
        return -e;
    }
    return fd;
}

void sp__cmsg_fd_attach(struct msghdr *msg, void *ctl, int fd, struct sp_cmsg *c)
{
    msg->msg_control = ctl;
    msg->msg_controllen = CMSG_SPACE(sizeof fd);
    struct cmsghdr *h = CMSG_FIRSTHDR(msg);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof fd);
    memcpy(CMSG_DATA(h), &fd, sizeof fd);
    memset(c, 0, sizeof *c);
    c->kind = SP_CMSG_RIGHTS;
    c->level = SOL_SOCKET;
    c->type = SCM_RIGHTS;
    c->len = sizeof fd;
    c->fd = fd;
    describe_fd(c);
}
