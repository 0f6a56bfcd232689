/* Frame summaries (pktsum.h): known frames in one piece, every truncation of
 * each (right before a PROT_NONE page, so an over-read crashes), and
 * malformed headers said plainly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/pktsum.h"
#include "testutil.h"

/* Frames are written as hex text in the vectors: easy to check against a
 * capture. */
static void summary_of(const unsigned char *p, size_t n, enum sp_pkt_link link, char *out,
                       size_t len)
{
    unsigned char *g = tu_guard_copy(p, n);
    size_t k = sp_pktsum(g, n, n, link, out, len);
    assert_int_equal(k, strlen(out));
    tu_guard_free(g, n);
}

#define ETH_LO "000000000000 000000000000"
#define ETH_V  "0a0000000002 0a0000000001"

struct vec {
    const char *hex;
    enum sp_pkt_link link;
    const char *want;
};

static const struct vec vecs[] = {
    /* IPv4 UDP 127.0.0.1:40000 > 127.0.0.1:9, "hello" */
    {ETH_LO " 0800 4500 0021 1234 4000 4011 0000 7f000001 7f000001 9c40 0009 000d 0000 "
            "68656c6c6f",
     SP_PKT_LINK_ETH,
     "00:00:00:00:00:00 > 00:00:00:00:00:00 IPv4 127.0.0.1 > 127.0.0.1 ttl 64 len 33 UDP "
     "40000 > 9 len 5"},
    /* IPv4 TCP SYN with 4 bytes of options */
    {ETH_V " 0800 4500 002c 0001 4000 4006 0000 0a000001 0a000002 c000 0050 00000064 00000000 "
           "6002 faf0 0000 0000 020405b4",
     SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 0a:00:00:00:00:02 IPv4 10.0.0.1 > 10.0.0.2 ttl 64 len 44 TCP 49152 > "
     "80 [S] seq 100 win 64240 len 0"},
    /* IPv4 TCP PSH|ACK with 3 bytes of data */
    {ETH_V " 0800 4500 002b 0001 4000 4006 0000 0a000001 0a000002 c000 0050 00000065 000000c8 "
           "5018 0200 0000 0000 616263",
     SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 0a:00:00:00:00:02 IPv4 10.0.0.1 > 10.0.0.2 ttl 64 len 43 TCP 49152 > "
     "80 [PA] seq 101 ack 200 win 512 len 3"},
    /* ICMP echo request */
    {ETH_V " 0800 4500 001c 0000 0000 4001 0000 0a000001 0a000002 0800 0000 0007 0001",
     SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 0a:00:00:00:00:02 IPv4 10.0.0.1 > 10.0.0.2 ttl 64 len 28 ICMP echo "
     "request id 7 seq 1"},
    /* ARP request, broadcast */
    {"ffffffffffff 0a0000000001 0806 0001 0800 06 04 0001 0a0000000001 0a000001 000000000000 "
     "0a000002",
     SP_PKT_LINK_ETH, "0a:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.0.2 tell 10.0.0.1"},
    /* ARP reply */
    {ETH_V " 0806 0001 0800 06 04 0002 0a0000000002 0a000002 0a0000000001 0a000001",
     SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 0a:00:00:00:00:02 ARP reply 10.0.0.2 is-at 0a:00:00:00:00:02"},
    /* IPv6 UDP fe80::1 > ff02::1 */
    {"333300000001 0a0000000001 86dd 60000000 000a 11 ff fe800000000000000000000000000001 "
     "ff020000000000000000000000000001 0222 0223 000a 0000 6869",
     SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 33:33:00:00:00:01 IPv6 fe80::1 > ff02::1 hlim 255 len 10 UDP 546 > "
     "547 len 2"},
    /* IPv6 hop-by-hop then ICMPv6 neighbor solicitation (MLD style chain) */
    {"333300000001 0a0000000001 86dd 60000000 0020 00 01 00000000000000000000000000000000 "
     "ff0200000000000000000001ff000002 3a00 0000 0000 0000 8700 0000 00000000 "
     "fe800000000000000000000000000002",
     SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 33:33:00:00:00:01 IPv6 :: > ff02::1:ff00:2 hlim 1 len 32 hop-by-hop "
     "ICMPv6 neighbor solicitation fe80::2"},
    /* IPv6 fragment header, first fragment of UDP */
    {ETH_V " 86dd 60000000 0010 2c 40 20010db8000000000000000000000001 "
           "20010db8000000000000000000000002 1100 0001 0000002a 1234 0035 0008 0000",
     SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 0a:00:00:00:00:02 IPv6 2001:db8::1 > 2001:db8::2 hlim 64 len 16 "
     "fragment id 42 off 0+ UDP 4660 > 53 len 0"},
    /* IPv6 ICMPv6 echo request */
    {ETH_LO " 86dd 60000000 0008 3a 40 00000000000000000000000000000001 "
            "00000000000000000000000000000001 8000 0000 0003 0009",
     SP_PKT_LINK_ETH,
     "00:00:00:00:00:00 > 00:00:00:00:00:00 IPv6 ::1 > ::1 hlim 64 len 8 ICMPv6 echo request id "
     "3 seq 9"},
    /* VLAN 5 tag around IPv4 UDP */
    {ETH_V " 8100 0005 0800 4500 001c 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0008 0000",
     SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 0a:00:00:00:00:02 vlan 5 IPv4 10.0.0.1 > 10.0.0.2 ttl 64 len 28 UDP 7 "
     "> 7 len 0"},
    /* LLDP: an EtherType not decoded */
    {"0180c200000e 0a0000000001 88cc 0207 0400", SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 01:80:c2:00:00:0e ethertype 0x88cc (not decoded), 4 bytes"},
    /* 802.3 length field */
    {"0180c2000000 0a0000000001 0026 4242 03", SP_PKT_LINK_ETH,
     "0a:00:00:00:00:01 > 01:80:c2:00:00:00 802.3 length 38 (not decoded)"},
    /* A bare IP packet (tun) */
    {"4500 001c 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0008 0000", SP_PKT_LINK_IP,
     "IPv4 10.0.0.1 > 10.0.0.2 ttl 64 len 28 UDP 7 > 7 len 0"},
};

static void test_pktsum_vectors_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        unsigned char f[256];
        size_t n = tu_unhex(vecs[i].hex, f, sizeof f);
        char out[SP_PKTSUM_MAX];
        summary_of(f, n, vecs[i].link, out, sizeof out);
        if (strcmp(out, vecs[i].want) != 0)
            fail_msg("vector %zu:\n got  %s\n want %s", i, out, vecs[i].want);
    }
}

/* Every prefix of every vector: never an over-read, always a summary, and a
 * cut inside a header is said to be one. */
static void test_pktsum_every_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        unsigned char f[256];
        size_t n = tu_unhex(vecs[i].hex, f, sizeof f);
        for (size_t k = 0; k < n; k++) {
            char out[SP_PKTSUM_MAX];
            summary_of(f, k, vecs[i].link, out, sizeof out);
            assert_true(out[0] != '\0');
            if (vecs[i].link == SP_PKT_LINK_ETH && k < 14)
                assert_non_null(strstr(out, "Ethernet header truncated"));
            /* A frame decoded only up to its link header reads the same cut. */
            if (strcmp(out, vecs[i].want) == 0 && strstr(out, "(not decoded)") == NULL)
                fail_msg("vector %zu cut at %zu reads as whole: %s", i, k, out);
        }
    }
}

static void check(const char *hex, const char *needle)
{
    unsigned char f[256];
    size_t n = tu_unhex(hex, f, sizeof f);
    char out[SP_PKTSUM_MAX];
    summary_of(f, n, SP_PKT_LINK_ETH, out, sizeof out);
    if (strstr(out, needle) == NULL)
        fail_msg("want \"%s\" in: %s", needle, out);
}

static void test_pktsum_malformed_headers(void **state)
{
    (void)state;
    /* IHL 4 (16 bytes) */
    check(ETH_V " 0800 4400 001c 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0008 0000",
          "IHL 4 < 5 (bad header)");
    /* IHL 15: 60 bytes of header, the frame has 28 */
    check(ETH_V " 0800 4f00 001c 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0008 0000",
          "options past the end (header 60 of 28 bytes)");
    /* total length 200 past the 28 bytes there */
    check(ETH_V " 0800 4500 00c8 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0008 0000",
          "total length past the end: 28 bytes");
    /* total length 10 < header */
    check(ETH_V " 0800 4500 000a 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0008 0000",
          "total length 10 < header 20");
    /* version 6 under EtherType IPv4 */
    check(ETH_V " 0800 6500 001c 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0008 0000",
          "IPv4 with version 6 (bad header)");
    /* UDP length 4 < 8 */
    check(ETH_V " 0800 4500 001c 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0004 0000",
          "bad length 4 < 8");
    /* UDP length 100 past the end */
    check(ETH_V " 0800 4500 001c 0000 0000 4011 0000 0a000001 0a000002 0007 0007 0064 0000",
          "length 100 past the end: 8 bytes");
    /* TCP data offset 2 (8 bytes) */
    check(ETH_V " 0800 4500 0028 0000 0000 4006 0000 0a000001 0a000002 0001 0002 00000000 "
                "00000000 2002 0000 0000 0000",
          "bad data offset 8 (< 20)");
    /* TCP data offset 15 (60 bytes) with 20 there */
    check(ETH_V " 0800 4500 0028 0000 0000 4006 0000 0a000001 0a000002 0001 0002 00000000 "
                "00000000 f002 0000 0000 0000",
          "options past the end (header 60 of 20 bytes)");
    /* later IPv4 fragment: no transport header to read */
    check(ETH_V " 0800 4500 001c 0000 00b9 4011 0000 0a000001 0a000002 0007 0007 0008 0000",
          "frag id 0 off 1480 protocol 17");
    /* IPv6 payload length past the end */
    check(ETH_V " 86dd 60000000 0100 11 40 20010db8000000000000000000000001 "
                "20010db8000000000000000000000002 0007 0007 0008 0000",
          "payload length past the end: 8 bytes");
    /* IPv6 routing header claiming 8 * (1 + 4) = 40 bytes with 8 there */
    check(ETH_V " 86dd 60000000 0008 2b 40 20010db8000000000000000000000001 "
                "20010db8000000000000000000000002 1104 0000 0000 0000",
          "routing header past the end (8 of 40 bytes)");
    /* IPv6 extension header cut short */
    check(ETH_V " 86dd 60000000 0004 00 40 20010db8000000000000000000000001 "
                "20010db8000000000000000000000002 1100 0000",
          "hop-by-hop header truncated (4 of 8 bytes)");
    /* IPv6 later fragment */
    check(ETH_V " 86dd 60000000 0010 2c 40 20010db8000000000000000000000001 "
                "20010db8000000000000000000000002 1100 00b8 0000002a 1234 0035 0010 0000",
          "fragment id 42 off 184 protocol 17");
    /* unknown transport protocol */
    check(ETH_V " 0800 4500 0018 0000 0000 4084 0000 0a000001 0a000002 0102 0304",
          "protocol 132 (not decoded), 4 bytes");
    /* ARP with other hardware */
    check(ETH_V " 0806 0006 0800 06 04 0001", "ARP op 1 for hardware 6 protocol 0x0800");
    /* VLAN tag cut short */
    check(ETH_V " 8100 00", "VLAN tag truncated (1 of 4 bytes)");
}

/* A chain of empty extension headers (dest-opts pointing at dest-opts) is
 * walked a bounded number of times. */
static void test_pktsum_ipv6_extension_chain_bounded(void **state)
{
    (void)state;
    unsigned char f[14 + 40 + 8 * 40];
    memset(f, 0, sizeof f);
    f[12] = 0x86;
    f[13] = 0xdd;
    f[14] = 0x60;
    f[14 + 4] = (8 * 40) >> 8;
    f[14 + 5] = (8 * 40) & 0xff;
    f[14 + 6] = 60;
    for (int i = 0; i < 40; i++)
        f[14 + 40 + 8 * i] = 60;
    char out[SP_PKTSUM_MAX];
    summary_of(f, sizeof f, SP_PKT_LINK_ETH, out, sizeof out);
    assert_non_null(strstr(out, "more than 8 extension headers"));
}

static void test_pktsum_small_buffer_clips(void **state)
{
    (void)state;
    unsigned char f[256];
    size_t n = tu_unhex(vecs[0].hex, f, sizeof f);
    char out[12];
    summary_of(f, n, SP_PKT_LINK_ETH, out, sizeof out);
    assert_string_equal(out, "00:00:00:00");
    char none[1] = {'x'};
    assert_int_equal(sp_pktsum(f, n, n, SP_PKT_LINK_ETH, none, 0), 0);
    assert_int_equal(none[0], 'x');
}

/* A frame cut by the recv size: the lengths its headers give are the
 * frame's, not errors, and the summary says how much was captured. */
static void test_pktsum_cut_by_capture(void **state)
{
    (void)state;
    unsigned char f[256];
    size_t n = tu_unhex(vecs[2].hex, f, sizeof f); /* TCP, 3 bytes of data */
    char out[SP_PKTSUM_MAX];
    unsigned char *g = tu_guard_copy(f, n - 3);
    sp_pktsum(g, n - 3, n, SP_PKT_LINK_ETH, out, sizeof out);
    tu_guard_free(g, n - 3);
    assert_string_equal(out, "0a:00:00:00:00:01 > 0a:00:00:00:00:02 IPv4 10.0.0.1 > 10.0.0.2 ttl "
                             "64 len 43 TCP 49152 > 80 [PA] seq 101 ack 200 win 512 len 3 "
                             "[captured 54 of 57 bytes]");
    /* The same bytes with nothing cut away: the IPv4 length is past the end. */
    g = tu_guard_copy(f, n - 3);
    sp_pktsum(g, n - 3, n - 3, SP_PKT_LINK_ETH, out, sizeof out);
    tu_guard_free(g, n - 3);
    assert_non_null(strstr(out, "(total length past the end: 40 bytes)"));
    /* Cut, but the IPv4 length reaches past even the real frame. */
    f[14 + 3] = 200;
    g = tu_guard_copy(f, n - 3);
    sp_pktsum(g, n - 3, n, SP_PKT_LINK_ETH, out, sizeof out);
    tu_guard_free(g, n - 3);
    assert_non_null(strstr(out, "(total length past the end: 43 bytes)"));
    /* IPv6 UDP cut inside its payload */
    n = tu_unhex(vecs[6].hex, f, sizeof f);
    g = tu_guard_copy(f, n - 1);
    sp_pktsum(g, n - 1, n, SP_PKT_LINK_ETH, out, sizeof out);
    tu_guard_free(g, n - 1);
    assert_non_null(strstr(out, "len 10 UDP 546 > 547 len 2 [captured 63 of 64 bytes]"));
}

static void test_ethertype_names(void **state)
{
    (void)state;
    uint16_t t = 0;
    assert_int_equal(sp_ethertype_parse("ipv4", &t), 0);
    assert_int_equal(t, 0x0800);
    assert_int_equal(sp_ethertype_parse("IPv6", &t), 0);
    assert_int_equal(t, 0x86dd);
    assert_int_equal(sp_ethertype_parse("all", &t), 0);
    assert_int_equal(t, 0x0003);
    assert_int_equal(sp_ethertype_parse("0x88cc", &t), 0);
    assert_int_equal(t, 0x88cc);
    assert_int_equal(sp_ethertype_parse("2054", &t), 0);
    assert_int_equal(t, 0x0806);
    assert_int_equal(sp_ethertype_parse("0x", &t), -1);
    assert_int_equal(sp_ethertype_parse("0x10000", &t), -1);
    assert_int_equal(sp_ethertype_parse("65536", &t), -1);
    assert_int_equal(sp_ethertype_parse("0", &t), -1);
    assert_int_equal(sp_ethertype_parse("ip", &t), -1);
    assert_int_equal(sp_ethertype_parse("", &t), -1);
    assert_string_equal(sp_ethertype_name(0x0806), "arp");
    assert_null(sp_ethertype_name(0x88cc));
    assert_string_equal(sp_pkttype_name(4), "outgoing");
    assert_string_equal(sp_pkttype_name(0), "host");
    assert_null(sp_pkttype_name(7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pktsum_vectors_whole),
        cmocka_unit_test(test_pktsum_every_truncation),
        cmocka_unit_test(test_pktsum_malformed_headers),
        cmocka_unit_test(test_pktsum_ipv6_extension_chain_bounded),
        cmocka_unit_test(test_pktsum_small_buffer_clips),
        cmocka_unit_test(test_pktsum_cut_by_capture),
        cmocka_unit_test(test_ethertype_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
