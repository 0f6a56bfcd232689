/* Address parsing and formatting (DESIGN §2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <linux/if_packet.h>

#include <cmocka.h>

#include "sockpit/proto/addr.h"
#include "testutil.h"

struct good {
    const char *in;
    enum sp_addr_kind kind;
    const char *host_or_path;
    unsigned port;
    int family;
    int wildcard;
    const char *canonical;
};

static void test_addr_parse_good_table(void **state)
{
    static const struct good v[] = {
        {"tcp:9000", SP_ADDR_TCP, "127.0.0.1", 9000, AF_INET, 0, "tcp:127.0.0.1:9000"},
        {"udp:0", SP_ADDR_UDP, "127.0.0.1", 0, AF_INET, 0, "udp:127.0.0.1:0"},
        {"tcp:127.0.0.1:80", SP_ADDR_TCP, "127.0.0.1", 80, AF_INET, 0, "tcp:127.0.0.1:80"},
        {"tcp:0.0.0.0:65535", SP_ADDR_TCP, "0.0.0.0", 65535, AF_INET, 1, "tcp:0.0.0.0:65535"},
        {"tcp:[::1]:9000", SP_ADDR_TCP, "::1", 9000, AF_INET6, 0, "tcp:[::1]:9000"},
        {"udp:[::]:53", SP_ADDR_UDP, "::", 53, AF_INET6, 1, "udp:[::]:53"},
        {"tcp:[0:0::0:1]:7", SP_ADDR_TCP, "::1", 7, AF_INET6, 0, "tcp:[::1]:7"},
        {"tcp:[::ffff:10.0.0.1]:7", SP_ADDR_TCP, "::ffff:10.0.0.1", 7, AF_INET6, 0,
         "tcp:[::ffff:10.0.0.1]:7"},
        {"tcp:localhost:80", SP_ADDR_TCP, "localhost", 80, AF_UNSPEC, 0, "tcp:localhost:80"},
        {"tls:example.com:443", SP_ADDR_TCP, "example.com", 443, AF_UNSPEC, 0,
         "tls:example.com:443"},
        {"TLS:[::1]:8443", SP_ADDR_TCP, "::1", 8443, AF_INET6, 0, "tls:[::1]:8443"},
        {"tls:4443", SP_ADDR_TCP, "127.0.0.1", 4443, AF_INET, 0, "tls:127.0.0.1:4443"},
        {"udp:my-host.example_1.org:0080", SP_ADDR_UDP, "my-host.example_1.org", 80, AF_UNSPEC, 0,
         "udp:my-host.example_1.org:80"},
        {"TCP:1", SP_ADDR_TCP, "127.0.0.1", 1, AF_INET, 0, "tcp:127.0.0.1:1"},
        {"unix:/tmp/s.sock", SP_ADDR_UNIX, "/tmp/s.sock", 0, AF_UNIX, 0, "unix:/tmp/s.sock"},
        {"unix-dgram:rel/path", SP_ADDR_UNIX_DGRAM, "rel/path", 0, AF_UNIX, 0,
         "unix-dgram:rel/path"},
        {"unix:@abstract", SP_ADDR_UNIX, "@abstract", 0, AF_UNIX, 0, "unix:@abstract"},
        /* A bare '@': an abstract name the kernel picks (autobind). */
        {"unix:@", SP_ADDR_UNIX, "@", 0, AF_UNIX, 0, "unix:@"},
        {"unix:with:colon", SP_ADDR_UNIX, "with:colon", 0, AF_UNIX, 0, "unix:with:colon"},
        {"unix-seqpacket:/tmp/q.sock", SP_ADDR_UNIX_SEQPACKET, "/tmp/q.sock", 0, AF_UNIX, 0,
         "unix-seqpacket:/tmp/q.sock"},
        {"Unix-SeqPacket:@rec", SP_ADDR_UNIX_SEQPACKET, "@rec", 0, AF_UNIX, 0,
         "unix-seqpacket:@rec"},
        {"unix-seqpacket:a:b", SP_ADDR_UNIX_SEQPACKET, "a:b", 0, AF_UNIX, 0, "unix-seqpacket:a:b"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct sp_addr a;
        char err[256] = "";
        if (sp_addr_parse(&a, v[i].in, err, sizeof err) != 0)
            fail_msg("%s: %s", v[i].in, err);
        assert_int_equal(a.kind, v[i].kind);
        if (v[i].kind == SP_ADDR_TCP || v[i].kind == SP_ADDR_UDP) {
            assert_string_equal(a.host, v[i].host_or_path);
            assert_int_equal(a.port, v[i].port);
        } else {
            assert_string_equal(a.path, v[i].host_or_path);
        }
        assert_int_equal(a.family, v[i].family);
        assert_int_equal(a.wildcard, v[i].wildcard);
        assert_int_equal(a.tls, strncasecmp(v[i].in, "tls:", 4) == 0);
        char text[SP_ADDR_TEXT_MAX];
        size_t n = sp_addr_format(&a, text, sizeof text);
        assert_int_equal(n, strlen(v[i].canonical));
        assert_string_equal(text, v[i].canonical);
        /* the canonical text parses back to the same fields */
        struct sp_addr b;
        assert_int_equal(sp_addr_parse(&b, text, err, sizeof err), 0);
        assert_int_equal(b.kind, a.kind);
        assert_string_equal(b.host, a.host);
        assert_string_equal(b.path, a.path);
        assert_int_equal(b.port, a.port);
        assert_int_equal(b.family, a.family);
        assert_int_equal(b.wildcard, a.wildcard);
    }
}

struct bad {
    const char *in;
    const char *word;
};

static void test_addr_parse_bad_table(void **state)
{
    static const struct bad v[] = {
        {"", "empty address"},
        {"9000", "missing scheme"},
        {"sctp:1.2.3.4:5", "unknown scheme \"sctp\""},
        {"foo:1", "tcp:, udp:, unix:, unix-dgram:"},
        {"tcp:", "missing port"},
        {"tcp:localhost", "missing port"},
        {"tcp:1.2.3.4", "missing port"},
        {"tcp:host:", "missing port"},
        {"tcp:host:http", "not a number"},
        {"tcp:host:-1", "not a number"},
        {"tcp:host:+80", "not a number"},
        {"tcp:host:80 ", "not a number"},
        {"tcp:80x", "missing port"},
        {"tcp:host:65536", "out of range"},
        {"tcp:host:99999999999999999999999", "out of range"},
        {"tcp::80", "empty host"},
        {"tcp:[]:80", "empty host"},
        {"tcp:::1:80", "brackets: tcp:[::1]:80"},
        {"udp:::1", "brackets: udp:[::1]:PORT"},
        {"tcp:fe80::1:80", "brackets"},
        {"tcp:[::1:80", "unbalanced brackets"},
        {"tcp:::1]:80", "unbalanced brackets"},
        {"tcp:[[::1]]:80", "unbalanced brackets"},
        {"tcp:[::1]", "missing port"},
        {"tcp:[::1]:", "missing port"},
        {"tcp:[::1]x:80", "after ']'"},
        {"tcp:[::1]80", "after ']'"},
        {"tcp:[localhost]:80", "not an IPv6 address"},
        {"tcp:[1.2.3.4]:80", "not an IPv6 address"},
        {"tcp:1.2.3.256:80", "not a valid IPv4"},
        {"tcp:bad host:80", "invalid character"},
        {"tcp:h\x1bq:80", "invalid character (byte 0x1b)"},
        {"tcp:a/b:80", "invalid character \"/\""},
        {"unix:", "empty Unix socket path"},
        {"unix-dgram:", "empty Unix socket path"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct sp_addr a;
        memset(&a, 0x5a, sizeof a);
        char err[256] = "";
        assert_int_equal(sp_addr_parse(&a, v[i].in, err, sizeof err), -1);
        if (strstr(err, v[i].word) == NULL)
            fail_msg("\"%s\": error \"%s\" lacks \"%s\"", v[i].in, err, v[i].word);
        assert_int_equal(a.port, 0x5a5a); /* untouched on failure */
    }
}

static void test_addr_unix_path_length_limit(void **state)
{
    char text[16 + SP_ADDR_PATH_MAX];
    char err[256];
    struct sp_addr a;
    /* 107 bytes plus the terminator fill sun_path exactly: accepted */
    strcpy(text, "unix:");
    memset(text + 5, 'p', SP_ADDR_PATH_MAX - 1);
    text[5 + SP_ADDR_PATH_MAX - 1] = '\0';
    assert_int_equal(sp_addr_parse(&a, text, err, sizeof err), 0);
    assert_int_equal(strlen(a.path), SP_ADDR_PATH_MAX - 1);
    /* one more byte would be truncated by the kernel: refused */
    text[5 + SP_ADDR_PATH_MAX - 1] = 'p';
    text[5 + SP_ADDR_PATH_MAX] = '\0';
    assert_int_equal(sp_addr_parse(&a, text, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
    assert_non_null(strstr(err, "108 bytes"));

    char host[300];
    strcpy(host, "tcp:");
    memset(host + 4, 'h', 260);
    strcpy(host + 264, ":80");
    assert_int_equal(sp_addr_parse(&a, host, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
}

/* Each kind formats with the name it is parsed by. */
static void test_addr_kind_names(void **state)
{
    static const struct {
        const char *text;
        enum sp_addr_kind kind;
    } cases[] = {{"tcp:127.0.0.1:1", SP_ADDR_TCP},
                 {"udp:127.0.0.1:1", SP_ADDR_UDP},
                 {"unix:/tmp/x", SP_ADDR_UNIX},
                 {"unix-dgram:/tmp/x", SP_ADDR_UNIX_DGRAM},
                 {"unix-seqpacket:/tmp/x", SP_ADDR_UNIX_SEQPACKET},
                 {"unix-seqpacket:@x", SP_ADDR_UNIX_SEQPACKET}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sp_addr a;
        char buf[128];
        assert_int_equal(sp_addr_parse(&a, cases[i].text, NULL, 0), 0);
        assert_int_equal(a.kind, cases[i].kind);
        sp_addr_format(&a, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
}

static void test_addr_format_truncates_safely(void **state)
{
    struct sp_addr a;
    assert_int_equal(sp_addr_parse(&a, "tcp:[::1]:9000", NULL, 0), 0);
    char small[6];
    size_t n = sp_addr_format(&a, small, sizeof small);
    assert_int_equal(n, strlen("tcp:[::1]:9000"));
    assert_string_equal(small, "tcp:[");
}

static void test_sockaddr_format_inet(void **state)
{
    char buf[SP_ADDR_TEXT_MAX];
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    s4.sin_port = htons(8080);
    inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
    assert_int_equal(sp_sockaddr_format((struct sockaddr *)&s4, sizeof s4, buf, sizeof buf),
                     strlen("10.1.2.3:8080"));
    assert_string_equal(buf, "10.1.2.3:8080");

    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(443);
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    sp_sockaddr_format((struct sockaddr *)&s6, sizeof s6, buf, sizeof buf);
    assert_string_equal(buf, "[::1]:443");
    inet_pton(AF_INET6, "fe80::1", &s6.sin6_addr);
    s6.sin6_scope_id = 2;
    sp_sockaddr_format((struct sockaddr *)&s6, sizeof s6, buf, sizeof buf);
    assert_string_equal(buf, "[fe80::1%2]:443");

    /* a length too short for the family is not read past */
    sp_sockaddr_format((struct sockaddr *)&s4, sizeof s4 - 1, buf, sizeof buf);
    assert_string_equal(buf, "(invalid)");
}

static void test_sockaddr_format_unix(void **state)
{
    char buf[SP_ADDR_TEXT_MAX];
    struct sockaddr_un su;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    memset(&su, 0, sizeof su);
    su.sun_family = AF_UNIX;
    strcpy(su.sun_path, "/tmp/x.sock");
    assert_int_equal(sp_sockaddr_format((struct sockaddr *)&su, sizeof su, buf, sizeof buf), 11);
    assert_string_equal(buf, "/tmp/x.sock");
    /* the kernel's length without the terminator */
    assert_int_equal(sp_sockaddr_format((struct sockaddr *)&su, off + 11, buf, sizeof buf), 11);
    assert_string_equal(buf, "/tmp/x.sock");

    assert_int_equal(sp_sockaddr_format((struct sockaddr *)&su, off, buf, sizeof buf), 9);
    assert_string_equal(buf, "(unnamed)");

    memset(su.sun_path, 0, sizeof su.sun_path);
    memcpy(su.sun_path, "\0ab\0c", 5);
    size_t n = sp_sockaddr_format((struct sockaddr *)&su, off + 5, buf, sizeof buf);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "@ab\0c", 5);

    /* a full, unterminated sun_path is not read past */
    unsigned char *g = tu_guard_copy(&su, sizeof su);
    memset(((struct sockaddr_un *)g)->sun_path, 'q', sizeof su.sun_path);
    n = sp_sockaddr_format((struct sockaddr *)g, sizeof su, buf, sizeof buf);
    assert_int_equal(n, sizeof su.sun_path);
    tu_guard_free(g, sizeof su);
}

static void test_addr_packet(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *ifname;
        unsigned ethertype;
        const char *canonical;
    } v[] = {
        {"packet:lo", "lo", 0x0003, "packet:lo:all"},
        {"PACKET:veth0:ipv4", "veth0", 0x0800, "packet:veth0:ipv4"},
        {"packet:eth0:0x86DD", "eth0", 0x86dd, "packet:eth0:ipv6"},
        {"packet:br-lan:0x88cc", "br-lan", 0x88cc, "packet:br-lan:0x88cc"},
        {"packet:wlp2s0:2054", "wlp2s0", 0x0806, "packet:wlp2s0:arp"},
        {"packet:abcdefghijklmno", "abcdefghijklmno", 0x0003, "packet:abcdefghijklmno:all"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct sp_addr a, b;
        char err[256] = "";
        assert_int_equal(sp_addr_parse(&a, v[i].in, err, sizeof err), 0);
        assert_int_equal(a.kind, SP_ADDR_PACKET);
        assert_string_equal(a.ifname, v[i].ifname);
        assert_int_equal(a.ethertype, v[i].ethertype);
        char text[SP_ADDR_TEXT_MAX];
        assert_int_equal(sp_addr_format(&a, text, sizeof text), strlen(v[i].canonical));
        assert_string_equal(text, v[i].canonical);
        assert_int_equal(sp_addr_parse(&b, text, err, sizeof err), 0);
        assert_string_equal(b.ifname, a.ifname);
        assert_int_equal(b.ethertype, a.ethertype);
    }
    static const struct bad bad[] = {
        {"packet:", "missing interface"},
        {"packet::ipv4", "missing interface"},
        {"packet:abcdefghijklmnop", "interface name too long"},
        {"packet:a/b", "invalid character \"/\""},
        {"packet:a b", "byte 0x20"},
        {"packet:lo:ip", "EtherType \"ip\""},
        {"packet:lo:0x10000", "EtherType"},
        {"packet:lo:", "EtherType"},
        {"packet:lo:0", "EtherType"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sp_addr a;
        char err[256] = "";
        assert_int_equal(sp_addr_parse(&a, bad[i].in, err, sizeof err), -1);
        if (strstr(err, bad[i].word) == NULL)
            fail_msg("%s: want \"%s\" in \"%s\"", bad[i].in, bad[i].word, err);
    }
}

static void test_sockaddr_format_packet(void **state)
{
    (void)state;
    struct sockaddr_ll ll;
    memset(&ll, 0, sizeof ll);
    ll.sll_family = AF_PACKET;
    ll.sll_halen = 6;
    memcpy(ll.sll_addr, "\x0a\x00\x00\xab\xcd\xef", 6);
    char out[SP_ADDR_TEXT_MAX];
    assert_int_equal(sp_sockaddr_format((struct sockaddr *)&ll, sizeof ll, out, sizeof out), 17);
    assert_string_equal(out, "0a:00:00:ab:cd:ef");
    ll.sll_halen = 0;
    sp_sockaddr_format((struct sockaddr *)&ll, sizeof ll, out, sizeof out);
    assert_string_equal(out, "(no link address)");
    /* a length that ends inside the address is not read past */
    ll.sll_halen = 6;
    sp_sockaddr_format((struct sockaddr *)&ll, offsetof(struct sockaddr_ll, sll_addr) + 3, out,
                       sizeof out);
    assert_string_equal(out, "(no link address)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse_good_table),
        cmocka_unit_test(test_addr_parse_bad_table),
        cmocka_unit_test(test_addr_unix_path_length_limit),
        cmocka_unit_test(test_addr_kind_names),
        cmocka_unit_test(test_addr_format_truncates_safely),
        cmocka_unit_test(test_sockaddr_format_inet),
        cmocka_unit_test(test_sockaddr_format_unix),
        cmocka_unit_test(test_addr_packet),
        cmocka_unit_test(test_sockaddr_format_packet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
