/* Control messages (cmsg.h): control buffers built here the way the kernel
 * lays them out (CMSG_* macros), decoded whole, at every truncation (right
 * before a PROT_NONE page, so an over-read crashes), split at every byte,
 * and with broken headers and garbage, which must be reported, never
 * trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "sockpit/proto/buf.h"
#include "sockpit/proto/cmsg.h"
#include "sockpit/proto/event.h"
#include "testutil.h"

/* A control buffer being built, aligned as the kernel's is. */
struct ctl {
    union {
        unsigned char b[4096];
        struct cmsghdr align;
    } u;
    size_t len;
};

static void add(struct ctl *c, int level, int type, const void *data, size_t n)
{
    assert_true(c->len + CMSG_SPACE(n) <= sizeof c->u.b);
    struct cmsghdr h;
    memset(&h, 0, sizeof h);
    h.cmsg_len = CMSG_LEN(n);
    h.cmsg_level = level;
    h.cmsg_type = type;
    memset(c->u.b + c->len, 0, CMSG_SPACE(n));
    memcpy(c->u.b + c->len, &h, sizeof h);
    memcpy(c->u.b + c->len + CMSG_LEN(0), data, n);
    c->len += CMSG_SPACE(n);
}

/* One of every kind the parser decodes, in one buffer. */
static void build_all(struct ctl *c)
{
    memset(c, 0, sizeof *c);
    struct ucred u = {.pid = 4242, .uid = 1000, .gid = 100};
    add(c, SOL_SOCKET, SCM_CREDENTIALS, &u, sizeof u);
    int fds[3] = {7, 8, 9};
    add(c, SOL_SOCKET, SCM_RIGHTS, fds, sizeof fds);
    struct in_pktinfo pi;
    memset(&pi, 0, sizeof pi);
    pi.ipi_ifindex = 1;
    inet_pton(AF_INET, "127.0.0.5", &pi.ipi_addr);
    add(c, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    int ttl = 7;
    add(c, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    unsigned char tos = 0x10;
    add(c, IPPROTO_IP, IP_TOS, &tos, 1);
    struct timespec ts = {.tv_sec = 1700000000, .tv_nsec = 123456789};
    add(c, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof ts);
    struct {
        struct sock_extended_err ee;
        struct sockaddr_in off;
    } err;
    memset(&err, 0, sizeof err);
    err.ee.ee_errno = ECONNREFUSED;
    err.ee.ee_origin = SO_EE_ORIGIN_ICMP;
    err.ee.ee_type = 3;
    err.ee.ee_code = 3;
    err.off.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &err.off.sin_addr);
    add(c, IPPROTO_IP, IP_RECVERR, &err, sizeof err);
    struct in6_pktinfo pi6;
    memset(&pi6, 0, sizeof pi6);
    pi6.ipi6_ifindex = 1;
    inet_pton(AF_INET6, "::1", &pi6.ipi6_addr);
    add(c, IPPROTO_IPV6, IPV6_PKTINFO, &pi6, sizeof pi6);
    int hl = 9, tc = 0x20;
    add(c, IPPROTO_IPV6, IPV6_HOPLIMIT, &hl, sizeof hl);
    add(c, IPPROTO_IPV6, IPV6_TCLASS, &tc, sizeof tc);
    unsigned char other[5] = {1, 2, 3, 4, 5};
    add(c, 99, 77, other, sizeof other);
}

/* The records build_all() yields, in order: 13. */
#define ALL_RECORDS 13

static size_t parse_guarded(const void *p, size_t n, struct sp_cmsg *out, size_t max, size_t *more)
{
    unsigned char *g = tu_guard_copy(p, n);
    size_t k = sp_cmsg_parse(g, n, out, max, more);
    tu_guard_free(g, n);
    return k;
}

static void test_every_kind_decoded(void **state)
{
    (void)state;
    struct ctl c;
    build_all(&c);
    struct sp_cmsg r[SP_CMSG_MAX];
    size_t more = 99;
    size_t n = parse_guarded(c.u.b, c.len, r, SP_CMSG_MAX, &more);
    assert_int_equal(n, ALL_RECORDS);
    assert_int_equal(more, 0);
    assert_int_equal(r[0].kind, SP_CMSG_CREDS);
    assert_string_equal(sp_cmsg_name(&r[0]), "SCM_CREDENTIALS");
    assert_int_equal(r[0].pid, 4242);
    assert_int_equal(r[0].uid, 1000);
    assert_int_equal(r[0].gid, 100);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[1 + i].kind, SP_CMSG_RIGHTS);
        assert_int_equal(r[1 + i].fd, 7 + i);
        assert_string_equal(sp_cmsg_name(&r[1 + i]), "SCM_RIGHTS");
    }
    assert_int_equal(r[4].kind, SP_CMSG_PKTINFO);
    assert_string_equal(r[4].addr, "127.0.0.5");
    assert_int_equal(r[4].ifindex, 1);
    assert_int_equal(r[5].kind, SP_CMSG_TTL);
    assert_int_equal(r[5].value, 7);
    assert_string_equal(sp_cmsg_name(&r[5]), "IP_TTL");
    assert_int_equal(r[6].kind, SP_CMSG_TOS);
    assert_int_equal(r[6].value, 0x10);
    assert_int_equal(r[7].kind, SP_CMSG_TIMESTAMP);
    assert_int_equal(r[7].sec, 1700000000);
    assert_int_equal(r[7].nsec, 123456789);
    assert_int_equal(r[8].kind, SP_CMSG_ERR);
    assert_int_equal(r[8].ee_errno, ECONNREFUSED);
    assert_int_equal(r[8].origin, SP_EE_ORIGIN_ICMP);
    assert_string_equal(r[8].addr, "127.0.0.1");
    assert_string_equal(sp_cmsg_icmp_text(&r[8]), "port unreachable");
    assert_string_equal(sp_cmsg_origin_name(r[8].origin), "icmp");
    assert_int_equal(r[9].kind, SP_CMSG_PKTINFO);
    assert_true(r[9].v6);
    assert_string_equal(r[9].addr, "::1");
    assert_string_equal(sp_cmsg_name(&r[9]), "IPV6_PKTINFO");
    assert_int_equal(r[10].kind, SP_CMSG_TTL);
    assert_int_equal(r[10].value, 9);
    assert_string_equal(sp_cmsg_name(&r[10]), "IPV6_HOPLIMIT");
    assert_int_equal(r[11].kind, SP_CMSG_TOS);
    assert_int_equal(r[11].value, 0x20);
    assert_string_equal(sp_cmsg_name(&r[11]), "IPV6_TCLASS");
    assert_int_equal(r[12].kind, SP_CMSG_OTHER);
    assert_int_equal(r[12].level, 99);
    assert_int_equal(r[12].type, 77);
    assert_int_equal(r[12].len, 5);
    assert_null(sp_cmsg_name(&r[12]));
}

static void count_fd(int fd, void *ud)
{
    int *seen = ud;
    seen[fd]++;
}

/* Records past max are counted, and every descriptor is still found (the
 * receiver closes them all). */
static void test_records_past_max_are_counted_and_every_fd_found(void **state)
{
    (void)state;
    struct ctl c;
    memset(&c, 0, sizeof c);
    int fds[40];
    for (int i = 0; i < 40; i++)
        fds[i] = 10 + i;
    add(&c, SOL_SOCKET, SCM_RIGHTS, fds, 20 * sizeof(int));
    add(&c, SOL_SOCKET, SCM_RIGHTS, fds + 20, 20 * sizeof(int));
    struct sp_cmsg r[SP_CMSG_MAX];
    size_t more = 0;
    assert_int_equal(parse_guarded(c.u.b, c.len, r, SP_CMSG_MAX, &more), SP_CMSG_MAX);
    assert_int_equal(more, 40 - SP_CMSG_MAX);
    int seen[64] = {0};
    assert_int_equal(sp_cmsg_each_fd(c.u.b, c.len, count_fd, seen), 40);
    for (int i = 0; i < 64; i++)
        assert_int_equal(seen[i], i >= 10 && i < 50 ? 1 : 0);
    assert_int_equal(sp_cmsg_parse(c.u.b, c.len, NULL, 0, &more), 0);
    assert_int_equal(more, 40);
}

/* Every prefix of the buffer: the whole messages before the cut decode as
 * they did, the cut one is SHORT (payload cut, as MSG_CTRUNC leaves it) or
 * BAD (header cut), and nothing is read past the end. */
static void test_every_truncation(void **state)
{
    (void)state;
    struct ctl c;
    build_all(&c);
    struct sp_cmsg whole[SP_CMSG_MAX];
    size_t nwhole = sp_cmsg_parse(c.u.b, c.len, whole, SP_CMSG_MAX, NULL);
    for (size_t cut = 0; cut <= c.len; cut++) {
        struct sp_cmsg r[SP_CMSG_MAX];
        size_t n = parse_guarded(c.u.b, cut, r, SP_CMSG_MAX, NULL);
        assert_true(n <= nwhole + 1);
        for (size_t i = 0; i < n; i++) {
            if (r[i].kind == SP_CMSG_BAD) {
                assert_int_equal(i, n - 1);
                break;
            }
            if (r[i].off + CMSG_LEN(0) + r[i].len > cut)
                fail_msg("record %zu reaches past the cut at %zu", i, cut);
            /* A whole message decodes the same as in the whole buffer. */
            if (r[i].kind != SP_CMSG_SHORT && r[i].kind != SP_CMSG_OTHER)
                assert_int_equal(r[i].kind, whole[i].kind);
        }
        int seen[64] = {0};
        assert_true(sp_cmsg_each_fd(c.u.b, cut, count_fd, seen) <= 3);
    }
}

/* The buffer split in two at every byte: parsing the first part alone
 * never reads past it, and the first part's complete records are a prefix
 * of the whole buffer's. */
static void test_split_at_every_byte(void **state)
{
    (void)state;
    struct ctl c;
    build_all(&c);
    struct sp_cmsg whole[SP_CMSG_MAX];
    size_t nwhole = sp_cmsg_parse(c.u.b, c.len, whole, SP_CMSG_MAX, NULL);
    assert_int_equal(nwhole, ALL_RECORDS);
    for (size_t cut = 0; cut <= c.len; cut++) {
        struct sp_cmsg a[SP_CMSG_MAX];
        size_t na = parse_guarded(c.u.b, cut, a, SP_CMSG_MAX, NULL);
        size_t complete = 0;
        while (complete < na && a[complete].kind != SP_CMSG_BAD &&
               a[complete].kind != SP_CMSG_SHORT &&
               (a[complete].kind != SP_CMSG_OTHER || whole[complete].kind == SP_CMSG_OTHER))
            complete++;
        for (size_t i = 0; i < complete; i++) {
            assert_int_equal(a[i].kind, whole[i].kind);
            assert_int_equal(a[i].off, whole[i].off);
            assert_int_equal(a[i].fd, whole[i].fd);
            assert_int_equal(a[i].value, whole[i].value);
            assert_int_equal(a[i].pid, whole[i].pid);
            assert_string_equal(a[i].addr, whole[i].addr);
        }
        /* The second part on its own is garbage at most: no crash. */
        struct sp_cmsg b[SP_CMSG_MAX];
        parse_guarded(c.u.b + cut, c.len - cut, b, SP_CMSG_MAX, NULL);
    }
}

static void put_hdr(unsigned char *p, size_t len, int level, int type)
{
    struct cmsghdr h;
    memset(&h, 0, sizeof h);
    h.cmsg_len = len;
    h.cmsg_level = level;
    h.cmsg_type = type;
    memcpy(p, &h, sizeof h);
}

static void test_broken_headers_reported(void **state)
{
    (void)state;
    unsigned char b[256];
    struct sp_cmsg r[SP_CMSG_MAX];
    memset(b, 0, sizeof b);

    /* cmsg_len smaller than the header itself. */
    put_hdr(b, 4, SOL_SOCKET, SCM_RIGHTS);
    assert_int_equal(parse_guarded(b, 64, r, SP_CMSG_MAX, NULL), 1);
    assert_int_equal(r[0].kind, SP_CMSG_BAD);
    assert_int_equal(r[0].off, 0);

    /* cmsg_len reaching past the buffer. */
    put_hdr(b, 1000, SOL_SOCKET, SCM_RIGHTS);
    assert_int_equal(parse_guarded(b, 64, r, SP_CMSG_MAX, NULL), 1);
    assert_int_equal(r[0].kind, SP_CMSG_BAD);
    int seen[64] = {0};
    assert_int_equal(sp_cmsg_each_fd(b, 64, count_fd, seen), 0);

    /* A huge cmsg_len (wraps when added carelessly). */
    put_hdr(b, (size_t)-1, SOL_SOCKET, SCM_RIGHTS);
    assert_int_equal(parse_guarded(b, 64, r, SP_CMSG_MAX, NULL), 1);
    assert_int_equal(r[0].kind, SP_CMSG_BAD);

    /* A good message, then a header cut in the middle. */
    int fd = 5;
    put_hdr(b, CMSG_LEN(sizeof fd), SOL_SOCKET, SCM_RIGHTS);
    memcpy(b + CMSG_LEN(0), &fd, sizeof fd);
    size_t n = parse_guarded(b, CMSG_SPACE(sizeof fd) + 6, r, SP_CMSG_MAX, NULL);
    assert_int_equal(n, 2);
    assert_int_equal(r[0].kind, SP_CMSG_RIGHTS);
    assert_int_equal(r[0].fd, 5);
    assert_int_equal(r[1].kind, SP_CMSG_BAD);
    assert_int_equal(r[1].off, CMSG_SPACE(sizeof fd));
    assert_int_equal(r[1].len, 6);

    /* Credentials cut short, as MSG_CTRUNC leaves the last message. */
    put_hdr(b, CMSG_LEN(8), SOL_SOCKET, SCM_CREDENTIALS);
    assert_int_equal(parse_guarded(b, CMSG_LEN(8), r, SP_CMSG_MAX, NULL), 1);
    assert_int_equal(r[0].kind, SP_CMSG_SHORT);
    assert_int_equal(r[0].len, 8);
    assert_int_equal(r[0].value, sizeof(struct ucred));
    assert_string_equal(sp_cmsg_name(&r[0]), "SCM_CREDENTIALS");

    /* SCM_RIGHTS with a payload that is not whole ints: the whole ones. */
    put_hdr(b, CMSG_LEN(6), SOL_SOCKET, SCM_RIGHTS);
    memcpy(b + CMSG_LEN(0), &fd, sizeof fd);
    assert_int_equal(parse_guarded(b, CMSG_LEN(6), r, SP_CMSG_MAX, NULL), 1);
    assert_int_equal(r[0].fd, 5);

    /* Nothing at all, and a NULL buffer. */
    assert_int_equal(parse_guarded(b, 0, r, SP_CMSG_MAX, NULL), 0);
    assert_int_equal(sp_cmsg_parse(NULL, 100, r, SP_CMSG_MAX, NULL), 0);
}

/* Random bytes: whatever comes out stays inside the buffer. */
static void test_garbage_never_trusted(void **state)
{
    (void)state;
    uint64_t seed = 0x5eed;
    unsigned char b[512];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(tu_rand(&seed) % sizeof b);
        for (size_t i = 0; i < n; i++)
            b[i] = (unsigned char)tu_rand(&seed);
        /* Often a plausible length, so the walk goes on past the first. */
        if (n >= sizeof(struct cmsghdr) && (round & 1)) {
            size_t l = CMSG_LEN(tu_rand(&seed) % 64);
            memcpy(b, &l, sizeof l);
        }
        struct sp_cmsg r[SP_CMSG_MAX];
        size_t k = parse_guarded(b, n, r, SP_CMSG_MAX, NULL);
        for (size_t i = 0; i < k; i++) {
            assert_true(r[i].off <= n);
            assert_true(r[i].kind == SP_CMSG_BAD || r[i].off + CMSG_LEN(0) + r[i].len <= n);
            assert_true(memchr(r[i].addr, '\0', sizeof r[i].addr) != NULL);
        }
    }
}

static void test_names_and_texts(void **state)
{
    (void)state;
    assert_string_equal(sp_cmsg_file_type(S_IFREG | 0644), "regular file");
    assert_string_equal(sp_cmsg_file_type(S_IFSOCK), "socket");
    assert_string_equal(sp_cmsg_file_type(0), "unknown");
    assert_null(sp_cmsg_origin_name(9));
    struct sp_cmsg c;
    memset(&c, 0, sizeof c);
    c.kind = SP_CMSG_ERR;
    c.origin = SP_EE_ORIGIN_ICMP6;
    c.icmp_type = 1;
    c.icmp_code = 4;
    assert_string_equal(sp_cmsg_icmp_text(&c), "port unreachable");
    c.origin = SP_EE_ORIGIN_ICMP;
    c.icmp_type = 11;
    c.icmp_code = 0;
    assert_string_equal(sp_cmsg_icmp_text(&c), "TTL exceeded in transit");
}

/* The recv event's text puts each control message on its own line under
 * the recv, and JSON carries them as a cmsg array; peer-chosen strings (a
 * passed descriptor's path) go through the safe renderer. */
static void test_event_forms(void **state)
{
    (void)state;
    struct sp_cmsg c[2];
    memset(c, 0, sizeof c);
    c[0].kind = SP_CMSG_CREDS;
    c[0].level = SOL_SOCKET;
    c[0].type = SCM_CREDENTIALS;
    c[0].pid = 77;
    c[1].kind = SP_CMSG_RIGHTS;
    c[1].level = SOL_SOCKET;
    c[1].type = SCM_RIGHTS;
    c[1].fd = 9;
    c[1].mode = S_IFREG | 0600;
    snprintf(c[1].target, sizeof c[1].target, "/tmp/evil\x1b[2J\"name");
    struct sp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SP_EV_RECV;
    ev.kind = SP_SOCK_UNIX;
    ev.sock = 2;
    ev.seq = 1;
    ev.len = 2;
    ev.data = (const unsigned char *)"hi";
    ev.data_len = 2;
    ev.unread = -1;
    ev.cmsg = c;
    ev.ncmsg = 2;
    ev.msg_flags = MSG_CTRUNC;
    struct sp_buf b;
    sp_buf_init(&b);
    sp_event_format_text(&b, &ev, 1);
    const char *t = sp_buf_str(&b);
    assert_non_null(strstr(t, "\"hi\"\n    cmsg SCM_CREDENTIALS pid 77 uid 0 gid 0\n"));
    assert_non_null(strstr(t, "    cmsg SCM_RIGHTS fd 9 -> /tmp/evil\\e[2J\"name (regular file, "
                              "mode 0600), closed unread"));
    assert_non_null(strstr(t, "MSG_CTRUNC"));
    assert_null(strchr(t, '\x1b'));
    sp_buf_reset(&b);
    sp_event_format_json(&b, &ev);
    t = sp_buf_str(&b);
    assert_non_null(strstr(t, "\"cmsg\":[{\"name\":\"SCM_CREDENTIALS\""));
    assert_non_null(strstr(t, "\"pid\":77"));
    assert_non_null(strstr(t, "\"target\":\"/tmp/evil\\\\e[2J\\\"name\""));
    assert_non_null(strstr(t, "\"file_type\":\"regular file\",\"mode\":\"0600\""));
    assert_non_null(strstr(t, "\"flags\":[\"MSG_CTRUNC\"]"));
    assert_null(strchr(t, '\x1b'));
    sp_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_decoded),
        cmocka_unit_test(test_records_past_max_are_counted_and_every_fd_found),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_broken_headers_reported),
        cmocka_unit_test(test_garbage_never_trusted),
        cmocka_unit_test(test_names_and_texts),
        cmocka_unit_test(test_event_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
