/* TCP segments from captured frames and the connection tracker (tcpseg.h).
 * The vectors are real captures (tcpdump on lo and on "any" as LINUX_SLL2):
 * each parsed whole, at every truncation (before a PROT_NONE page, so an
 * over-read crashes), then run through the tracker as one connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockpit/proto/tcpseg.h"
#include "testutil.h"

/* 127.0.0.1:43204 -> 127.0.0.1:47123 on lo (DLT_EN10MB): handshake, "hello",
 * the client's FIN, the server's FIN. Client is "ours" (out) below. */
static const char *const v4[] = {
    "000000000000000000000000 0800 4500003c4ccc40004006efed7f0000017f000001 "
    "a8c4b813fc25302500000000a002ffd7fe3000000204ffd70402080a2964f95c000000000103030a",
    "000000000000000000000000 0800 4500003c0000400040063cba7f0000017f000001 "
    "b813a8c45b23b418fc253026a012ffcbfe3000000204ffd70402080a9f1091df2964f95c0103030a",
    "000000000000000000000000 0800 450000344ccd40004006eff47f0000017f000001 "
    "a8c4b813fc2530265b23b41980100040fe2800000101080a2964f95c9f1091df",
    "000000000000000000000000 0800 450000394cce40004006efee7f0000017f000001 "
    "a8c4b813fc2530265b23b41980180040fe2d00000101080a2964f95c9f1091df68656c6c6f",
    "000000000000000000000000 0800 4500003419f64000400622cc7f0000017f000001 "
    "b813a8c45b23b419fc25302b80100040fe2800000101080a9f1091df2964f95c",
    "000000000000000000000000 0800 450000344ccf40004006eff27f0000017f000001 "
    "a8c4b813fc25302b5b23b41980110040fe2800000101080a2964f98f9f1091df",
    "000000000000000000000000 0800 4500003419f74000400622cb7f0000017f000001 "
    "b813a8c45b23b419fc25302c80100040fe2800000101080a9f10923e2964f98f",
    "000000000000000000000000 0800 4500003419f84000400622ca7f0000017f000001 "
    "b813a8c45b23b419fc25302c80110040fe2800000101080a9f1092442964f98f",
    "000000000000000000000000 0800 450000340000400040063cc27f0000017f000001 "
    "a8c4b813fc25302c5b23b41a80100040879700000101080a2964f9c19f109244",
};

/* ::1:37616 -> ::1:47124 on "any" (LINUX_SLL2): handshake, "hi", RST. */
static const char *const v6[] = {
    "86dd0000000000010304000600000000000000006004a3eb002806400000000000000000000000000000000100"
    "00000000000000000000000000000192f0b8143b37cbdb00000000a002ffc4003000000204ffc40402080af414"
    "8c04000000000103030a",
    "86dd000000000001030400060000000000000000600d4fe90028064000000000000000000000000000000001000"
    "00000000000000000000000000001b81492f0c50ef37d3b37cbdca012ffb8003000000204ffc40402080a2df6d5"
    "8bf4148c040103030a",
    "86dd0000000000010304000600000000000000006004a3eb002006400000000000000000000000000000000100"
    "00000000000000000000000000000192f0b8143b37cbdcc50ef37e80100040002800000101080af4148c042df6"
    "d58b",
    "86dd0000000000010304000600000000000000006004a3eb002206400000000000000000000000000000000100"
    "00000000000000000000000000000192f0b8143b37cbdcc50ef37e80180040002a00000101080af4148c042df6"
    "d58b6869",
    "86dd000000000001030400060000000000000000600d4fe90020064000000000000000000000000000000001000"
    "00000000000000000000000000001b81492f0c50ef37e3b37cbde80100040002800000101080a2df6d58bf4148"
    "c04",
    "86dd0000000000010304000600000000000000006004a3eb002006400000000000000000000000000000000100"
    "00000000000000000000000000000192f0b8143b37cbdec50ef37e80140040002800000101080af4148c362df6"
    "d58b",
};

/* 127.0.0.1 on lo with tbf dropping (tcpdump): the receiver's duplicate
 * ACKs naming what arrived past a hole, one SACK block, then two. */
static const char *const sack[] = {
    "000000000000000000000000 0800 450000406a3e40004006d2777f0000017f000001 "
    "1b58e1a092186ee7670ef3efb010004bfe3400000101080a6448d0cd78468d920101050a670eff3f670f04e7",
    "000000000000000000000000 0800 450000486a3f40004006d26e7f0000017f000001 "
    "1b58e1a092186ee7670ef3efd010004efe3c00000101080a6448d0ce78468d9201010512670f1b87670f212f"
    "670eff3f670f04e7",
};

static int parse(const char *hex, int link, struct sp_tcp_pkt *p)
{
    unsigned char f[256];
    size_t n = tu_unhex(hex, f, sizeof f);
    unsigned char *g = tu_guard_copy(f, n);
    const char *why = NULL;
    int r = sp_tcp_parse(g, n, n, link, p, &why);
    tu_guard_free(g, n);
    if (r != 0)
        print_message("not parsed: %s\n", why);
    return r;
}

static void test_tcpseg_syn_options(void **state)
{
    struct sp_tcp_pkt p;
    assert_int_equal(parse(v4[0], SP_LINK_EN10MB, &p), 0);
    assert_int_equal(p.v6, 0);
    assert_memory_equal(p.src, "\x7f\x00\x00\x01", 4);
    assert_int_equal(p.sport, 43204);
    assert_int_equal(p.dport, 47123);
    assert_int_equal(p.seq, 4230295589u);
    assert_int_equal(p.flags, SP_TCP_SYN);
    assert_int_equal(p.win, 65495);
    assert_int_equal(p.len, 0);
    assert_int_equal(p.mss, 65495);
    assert_int_equal(p.wscale, 10);
    assert_int_equal(p.sack_ok, 1);
    assert_int_equal(p.has_ts, 1);
    assert_int_equal(p.tsval, 694483292u);
    assert_int_equal(p.tsecr, 0);
    assert_int_equal(p.ip_off, 14);
    assert_int_equal(p.ip_len, 60);

    assert_int_equal(parse(v4[3], SP_LINK_EN10MB, &p), 0);
    assert_int_equal(p.flags, SP_TCP_PSH | SP_TCP_ACK);
    assert_int_equal(p.len, 5);
    assert_int_equal(p.mss, 0); /* options that mean something on SYNs only */
    assert_int_equal(p.wscale, -1);
    assert_int_equal(p.has_ts, 1);

    assert_int_equal(parse(v6[1], SP_LINK_LINUX_SLL2, &p), 0);
    assert_int_equal(p.v6, 1);
    assert_memory_equal(p.dst, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    assert_int_equal(p.flags, SP_TCP_SYN | SP_TCP_ACK);
    assert_int_equal(p.mss, 65476);
    assert_int_equal(p.ip_off, 20);
    assert_int_equal(p.ip_len, 80);
    assert_int_equal(parse(v6[3], SP_LINK_LINUX_SLL2, &p), 0);
    assert_int_equal(p.len, 2);
}

static void test_tcpseg_sack_blocks(void **state)
{
    struct sp_tcp_pkt p;
    assert_int_equal(parse(sack[0], SP_LINK_EN10MB, &p), 0);
    assert_int_equal(p.flags, SP_TCP_ACK);
    assert_int_equal(p.ack, 0x670ef3efu);
    assert_int_equal(p.nsack, 1);
    assert_int_equal(p.sack[0][0], 0x670eff3fu);
    assert_int_equal(p.sack[0][1], 0x670f04e7u);
    assert_int_equal(p.has_ts, 1);
    assert_int_equal(parse(sack[1], SP_LINK_EN10MB, &p), 0);
    assert_int_equal(p.nsack, 2);
    assert_int_equal(p.sack[0][0], 0x670f1b87u);
    assert_int_equal(p.sack[0][1], 0x670f212fu);
    assert_int_equal(p.sack[1][0], 0x670eff3fu);
    assert_int_equal(p.sack[1][1], 0x670f04e7u);
    assert_int_equal(parse(v4[2], SP_LINK_EN10MB, &p), 0);
    assert_int_equal(p.nsack, 0);
}

/* The same packets under every link type sockpit meets: the IP packet is
 * the same, only the header before it changes. */
static void test_tcpseg_link_types(void **state)
{
    unsigned char f[256], g[300];
    size_t n = tu_unhex(v4[3], f, sizeof f);
    struct sp_tcp_pkt p;
    const char *why;
    struct {
        int link;
        const char *head;
        size_t hlen;
    } links[] = {
        {SP_LINK_RAW, "", 0},
        {SP_LINK_DLT_RAW, "", 0},
        {SP_LINK_NULL, "\x02\0\0\0", 4},
        {SP_LINK_NULL, "\0\0\0\x02", 4},
        {SP_LINK_LINUX_SLL, "\0\0\x03\x04\0\x06\0\0\0\0\0\0\0\0\x08\x00", 16},
        {SP_LINK_LINUX_SLL2, "\x08\x00\0\0\0\0\0\x01\x03\x04\x00\x06\0\0\0\0\0\0\0\0", 20},
        {SP_LINK_EN10MB, "\0\0\0\0\0\0\0\0\0\0\0\0\x81\x00\x00\x05\x08\x00", 18},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        memcpy(g, links[i].head, links[i].hlen);
        memcpy(g + links[i].hlen, f + 14, n - 14);
        size_t m = links[i].hlen + n - 14;
        unsigned char *c = tu_guard_copy(g, m);
        assert_int_equal(sp_tcp_parse(c, m, m, links[i].link, &p, &why), 0);
        assert_int_equal(p.len, 5);
        assert_int_equal(p.ip_off, links[i].hlen);
        tu_guard_free(c, m);
    }
    assert_int_equal(sp_tcp_parse(f, n, n, 9999, &p, &why), -1);
    assert_string_equal(why, "link type not decoded");
}

/* Cut anywhere: never a read past the captured bytes; once the TCP header
 * is whole the segment is parsed with its true payload length. */
static void test_tcpseg_every_truncation(void **state)
{
    const char *const *sets[] = {v4, v6, sack};
    size_t counts[] = {sizeof v4 / sizeof v4[0], sizeof v6 / sizeof v6[0],
                       sizeof sack / sizeof sack[0]};
    int links[] = {SP_LINK_EN10MB, SP_LINK_LINUX_SLL2, SP_LINK_EN10MB};
    for (int s = 0; s < 3; s++)
        for (size_t v = 0; v < counts[s]; v++) {
            unsigned char f[256];
            size_t n = tu_unhex(sets[s][v], f, sizeof f);
            struct sp_tcp_pkt whole, p;
            const char *why;
            assert_int_equal(sp_tcp_parse(f, n, n, links[s], &whole, &why), 0);
            size_t tcp_at = whole.ip_off + (whole.v6 ? 40 : 20);
            for (size_t k = 0; k <= n; k++) {
                unsigned char *g = tu_guard_copy(f, k);
                int r = sp_tcp_parse(g, k, n, links[s], &p, &why);
                tu_guard_free(g, k);
                if (k >= tcp_at + 20) {
                    assert_int_equal(r, 0);
                    assert_int_equal(p.len, whole.len);
                    assert_int_equal(p.seq, whole.seq);
                    assert_int_equal(p.flags, whole.flags);
                    /* A SACK option cut short is left unread, never half read. */
                    assert_true(p.nsack == 0 || p.nsack == whole.nsack);
                    if (p.nsack != 0)
                        assert_memory_equal(p.sack, whole.sack, sizeof p.sack);
                } else {
                    assert_int_equal(r, -1);
                    assert_non_null(why);
                }
            }
        }
}

static void test_tcpseg_malformed(void **state)
{
    unsigned char f[256];
    struct sp_tcp_pkt p;
    const char *why;
    size_t n = tu_unhex(v4[3], f, sizeof f);
    f[14 + 20 + 12] = 0x40; /* data offset 16 < 20 */
    assert_int_equal(sp_tcp_parse(f, n, n, SP_LINK_EN10MB, &p, &why), -1);
    assert_string_equal(why, "bad TCP data offset");
    f[14 + 20 + 12] = 0xf0; /* 60 > the 25 bytes the packet has */
    assert_int_equal(sp_tcp_parse(f, n, n, SP_LINK_EN10MB, &p, &why), -1);
    assert_string_equal(why, "TCP header longer than the packet");
    n = tu_unhex(v4[3], f, sizeof f);
    f[14 + 6] = 0x20; /* more fragments */
    assert_int_equal(sp_tcp_parse(f, n, n, SP_LINK_EN10MB, &p, &why), -1);
    assert_string_equal(why, "IPv4 fragment");
    n = tu_unhex(v4[3], f, sizeof f);
    f[14 + 9] = 17;
    assert_int_equal(sp_tcp_parse(f, n, n, SP_LINK_EN10MB, &p, &why), -1);
    assert_string_equal(why, "not TCP");
    n = tu_unhex(v4[3], f, sizeof f);
    f[14 + 2] = 0x10; /* total length 4096: past the frame */
    assert_int_equal(sp_tcp_parse(f, n, n, SP_LINK_EN10MB, &p, &why), -1);
    assert_string_equal(why, "bad IPv4 total length");
    n = tu_unhex(v4[3], f, sizeof f);
    f[12] = 0x08;
    f[13] = 0x06; /* ARP */
    assert_int_equal(sp_tcp_parse(f, n, n, SP_LINK_EN10MB, &p, &why), -1);
    assert_string_equal(why, "not IP");
    /* An option whose length runs past the header ends the list quietly. */
    n = tu_unhex(v4[0], f, sizeof f);
    f[14 + 20 + 20] = 2;
    f[14 + 20 + 21] = 40;
    assert_int_equal(sp_tcp_parse(f, n, n, SP_LINK_EN10MB, &p, &why), 0);
    assert_int_equal(p.mss, 0);
    assert_int_equal(p.wscale, -1);
    /* An IPv6 fragment header is not reassembled. */
    n = tu_unhex(v6[3], f, sizeof f);
    f[20 + 6] = 44;
    assert_int_equal(sp_tcp_parse(f, n, n, SP_LINK_LINUX_SLL2, &p, &why), -1);
    assert_string_equal(why, "IPv6 fragment");
}

struct seen {
    struct sp_seg seg;
    uint64_t off;
};

static void track(const char *const *vec, size_t count, int link, uint16_t our_port,
                  struct seen *out)
{
    struct sp_tcpflow f;
    sp_tcpflow_init(&f);
    for (size_t i = 0; i < count; i++) {
        struct sp_tcp_pkt p;
        assert_int_equal(parse(vec[i], link, &p), 0);
        sp_tcpflow_add(&f, &p, p.sport == our_port, 1000 * (i + 1), &out[i].seg, &out[i].off);
    }
}

static void test_tcpflow_connection_v4(void **state)
{
    struct seen s[9];
    track(v4, 9, SP_LINK_EN10MB, 43204, s);
    /* SYN, SYN-ACK, ACK */
    assert_int_equal(s[0].seg.out, 1);
    assert_int_equal(s[0].seg.flags, SP_TCP_SYN);
    assert_int_equal(s[0].seg.rel_seq, 0);
    assert_int_equal(s[0].seg.win, 65495); /* SYNs are never scaled */
    assert_int_equal(s[0].seg.wscale, 10);
    assert_int_equal(s[1].seg.out, 0);
    assert_int_equal(s[1].seg.rel_seq, 0);
    assert_int_equal(s[1].seg.rel_ack, 1);
    assert_int_equal(s[2].seg.rel_seq, 1);
    assert_int_equal(s[2].seg.rel_ack, 1);
    assert_int_equal(s[2].seg.win, 64 << 10);
    assert_int_equal(s[2].off, 0);
    /* "hello" at stream offset 0, acked to 6 */
    assert_int_equal(s[3].seg.rel_seq, 1);
    assert_int_equal(s[3].off, 0);
    assert_int_equal(s[4].seg.rel_ack, 6);
    /* FINs: ours after 5 bytes, the peer's after none */
    assert_int_equal(s[5].seg.flags, SP_TCP_FIN | SP_TCP_ACK);
    assert_int_equal(s[5].seg.rel_seq, 6);
    assert_int_equal(s[5].off, 5);
    assert_int_equal(s[7].seg.flags, SP_TCP_FIN | SP_TCP_ACK);
    assert_int_equal(s[7].seg.rel_seq, 1);
    assert_int_equal(s[7].off, 0);
    assert_int_equal(s[8].seg.rel_ack, 2);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(s[i].seg.isn_known, 1);
        assert_int_equal(s[i].seg.win_scaled, 1);
        assert_int_equal(s[i].seg.marks, 0);
    }
    /* The peer's two ACKs of 7 (one bare, then the FIN): the FIN is no
     * duplicate ACK (it carries a FIN). */
    assert_int_equal(s[6].seg.rel_ack, 7);
}

static void test_tcpflow_connection_v6_rst(void **state)
{
    struct seen s[6];
    track(v6, 6, SP_LINK_LINUX_SLL2, 37616, s);
    assert_int_equal(s[3].off, 0);
    assert_int_equal(s[5].seg.flags, SP_TCP_RST | SP_TCP_ACK);
    assert_int_equal(s[5].seg.rel_seq, 3);
    assert_int_equal(s[5].off, 2);
    assert_int_equal(s[5].seg.marks, 0);
}

/* 127.0.0.1:44912 -> 127.0.0.1:7999 on lo, no listener: our SYN and the
 * kernel's RST|ACK refusing it (seq 0, as RFC 9293 3.10.7.1 has it). */
static const char *const refused[] = {
    "000000000000000000000000 0800 4500003c671040004006d5a97f0000017f000001 "
    "af701f3fdf40fe8a00000000a002ffd7fe3000000204ffd70402080a025f55fc000000000103030a",
    "000000000000000000000000 0800 450000280000400040063cce7f0000017f000001 "
    "1f3faf7000000000df40fe8b5014000005520000",
};

/* A refused connect: the RST that answers our SYN comes from a side that
 * never had a SYN, so no sequence space: its seq is shown as sent, not
 * "counted from the first segment seen", and it is no midstream guess. */
static void test_tcpflow_refused_connect(void **state)
{
    struct seen s[2];
    track(refused, 2, SP_LINK_EN10MB, 44912, s);
    assert_int_equal(s[0].seg.isn_known, 1);
    assert_int_equal(s[1].seg.flags, SP_TCP_RST | SP_TCP_ACK);
    assert_int_equal(s[1].seg.rel_seq, 0);
    assert_int_equal(s[1].seg.rel_ack, 1);
    assert_int_equal(s[1].seg.isn_known, 1);
    assert_int_equal(s[1].off, 0);
    assert_int_equal(s[1].seg.marks, 0);
}

/* Segments made by hand for the marks: ours sends, the peer acks. */
static struct sp_tcp_pkt seg(uint32_t seq, uint32_t ack, unsigned flags, uint32_t len, uint16_t win)
{
    struct sp_tcp_pkt p = {
        .seq = seq, .ack = ack, .flags = (uint8_t)flags, .len = len, .win = win, .wscale = -1};
    return p;
}

static unsigned add(struct sp_tcpflow *f, struct sp_tcp_pkt p, int out, uint64_t ns,
                    struct sp_seg *g)
{
    uint64_t off;
    sp_tcpflow_add(f, &p, out, ns, g, &off);
    return g->marks;
}

static void test_tcpflow_marks(void **state)
{
    struct sp_tcpflow f;
    struct sp_seg g;
    sp_tcpflow_init(&f);
    const unsigned A = SP_TCP_ACK;
    /* handshake: our ISN 1000, theirs 5000; RTT 1 ms */
    assert_int_equal(add(&f, seg(1000, 0, SP_TCP_SYN, 0, 100), 1, 0, &g), 0);
    assert_int_equal(add(&f, seg(5000, 1001, SP_TCP_SYN | A, 0, 100), 0, 1000000, &g), 0);
    assert_int_equal(f.rtt_ns, 1000000);
    assert_int_equal(add(&f, seg(1001, 5001, A, 0, 100), 1, 1000000, &g), 0);
    /* 100 bytes, acked */
    assert_int_equal(add(&f, seg(1001, 5001, A, 100, 100), 1, 2000000, &g), 0);
    assert_int_equal(add(&f, seg(5001, 1101, A, 0, 100), 0, 2000000, &g), 0);
    /* the same 100 bytes again: a retransmission */
    assert_int_equal(add(&f, seg(1001, 5001, A, 100, 100), 1, 3000000, &g), SP_SEG_RETRANS);
    /* the peer repeats its ACK: duplicate #1, #2 */
    assert_int_equal(add(&f, seg(5001, 1101, A, 0, 100), 0, 3000000, &g), SP_SEG_DUPACK);
    assert_int_equal(g.dupack, 1);
    assert_int_equal(add(&f, seg(5001, 1101, A, 0, 100), 0, 3000000, &g), SP_SEG_DUPACK);
    assert_int_equal(g.dupack, 2);
    /* then only its window changes: an update; then 0: zero window */
    assert_int_equal(add(&f, seg(5001, 1101, A, 0, 200), 0, 3000000, &g), SP_SEG_WINUPD);
    assert_int_equal(add(&f, seg(5001, 1101, A, 0, 0), 0, 3000000, &g), SP_SEG_ZEROWIN);
    /* a byte one below next: keep-alive, not a retransmission */
    assert_int_equal(add(&f, seg(1100, 5001, A, 1, 100), 1, 4000000, &g), SP_SEG_KEEPALIVE);
    assert_int_equal(add(&f, seg(1100, 5001, A, 0, 100), 1, 4000000, &g), SP_SEG_KEEPALIVE);
    /* 1101..1201 lost before the capture: 1201 comes with a gap */
    assert_int_equal(add(&f, seg(1201, 5001, A, 100, 100), 1, 5000000, &g), SP_SEG_GAP);
    /* the hole filled 0.1 ms later (< RTT): out of order */
    uint64_t off;
    struct sp_tcp_pkt p = seg(1101, 5001, A, 50, 100);
    sp_tcpflow_add(&f, &p, 1, 5100000, &g, &off);
    assert_int_equal(g.marks, SP_SEG_OOO);
    assert_int_equal(off, 100);
    /* the rest of it 200 ms later: sent again */
    assert_int_equal(add(&f, seg(1151, 5001, A, 50, 100), 1, 205000000, &g), SP_SEG_RETRANS);
    /* the peer's SACK blocks count from our ISN, as its ack does */
    struct sp_tcp_pkt sk = seg(5001, 1101, A, 0, 100);
    sk.nsack = 2;
    sk.sack[0][0] = 1301;
    sk.sack[0][1] = 1401;
    sk.sack[1][0] = 1201;
    sk.sack[1][1] = 1251;
    sp_tcpflow_add(&f, &sk, 0, 205500000, &g, &off);
    assert_int_equal(g.rel_ack, 101);
    assert_int_equal(g.nsack, 2);
    assert_int_equal(g.sack[0][0], 301);
    assert_int_equal(g.sack[0][1], 401);
    assert_int_equal(g.sack[1][0], 201);
    assert_int_equal(g.sack[1][1], 251);
    /* a RST below next is not a retransmission */
    assert_int_equal(add(&f, seg(1001, 0, SP_TCP_RST, 0, 0), 1, 206000000, &g), 0);
}

/* Without the SYNs (capture started late): sequence counted from the first
 * segment seen, said so; windows scaled by what the kernel says. */
static void test_tcpflow_midstream(void **state)
{
    struct sp_tcpflow f;
    struct sp_seg g;
    uint64_t off;
    sp_tcpflow_init(&f);
    sp_tcpflow_set_scale(&f, 7, 10);
    struct sp_tcp_pkt p = seg(70000, 9000, SP_TCP_ACK, 10, 3);
    sp_tcpflow_add(&f, &p, 0, 1, &g, &off);
    assert_int_equal(g.isn_known, 0);
    assert_int_equal(g.rel_seq, 1);
    assert_int_equal(off, 0);
    assert_int_equal(g.win, 3 << 10);
    p = seg(9000, 70010, SP_TCP_ACK, 0, 5);
    sp_tcpflow_add(&f, &p, 1, 2, &g, &off);
    assert_int_equal(g.rel_ack, 11);
    assert_int_equal(g.rel_seq, 1);
    assert_int_equal(g.win, 5 << 7);
    /* sequence numbers wrapping past 2^32 keep counting the offset */
    p = seg(0xfffffff0u, 0, SP_TCP_ACK, 0, 1);
    sp_tcpflow_init(&f);
    sp_tcpflow_add(&f, &p, 0, 1, &g, &off);
    for (int i = 0; i < 4; i++) {
        p = seg(0xfffffff0u + (uint32_t)i * 0x10000u, 0, SP_TCP_ACK, 0x10000u, 1);
        sp_tcpflow_add(&f, &p, 0, 2, &g, &off);
        assert_int_equal(off, (uint64_t)i * 0x10000u);
    }
    assert_string_equal(sp_seg_mark_name(SP_SEG_GAP), "gap");
    assert_null(sp_seg_mark_name(1u << 12));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcpseg_syn_options),
        cmocka_unit_test(test_tcpseg_sack_blocks),
        cmocka_unit_test(test_tcpseg_link_types),
        cmocka_unit_test(test_tcpseg_every_truncation),
        cmocka_unit_test(test_tcpseg_malformed),
        cmocka_unit_test(test_tcpflow_connection_v4),
        cmocka_unit_test(test_tcpflow_connection_v6_rst),
        cmocka_unit_test(test_tcpflow_refused_connect),
        cmocka_unit_test(test_tcpflow_marks),
        cmocka_unit_test(test_tcpflow_midstream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
