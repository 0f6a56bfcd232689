/* Half-close, close and reset over loopback TCP, with the kernel's TCP
 * states observed through the engine's `state` events. */
#include "test_engine_util.h"

#include "kstate.h"

/* We SHUT_WR: the peer sees EOF, our side goes FIN_WAIT2, and we still
 * receive what the peer sends. */
static void test_shutdown_wr_fin_wait2_still_receives(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    char err[200];
    assert_int_equal(sp_engine_shutdown(eng, c, SP_SHUT_WR, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SHUTDOWN, c, 1, 2000));
    assert_string_equal(te_nth(&r, SP_EV_SHUTDOWN, c, 0)->how, "wr");
    assert_int_equal(raw_wait_end(eng, peer, 2000), 0); /* the peer got our FIN */
    assert_true(te_wait_state(eng, &r, c, "FIN_WAIT2", 2000));
    assert_int_equal(send(peer, "still", 5, 0), 5);
    assert_true(te_wait_bytes(eng, &r, c, 5, 2000));
    assert_memory_equal(te_nth(&r, SP_EV_RECV, c, 0)->data, "still", 5);
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_int_equal(info.ours, SP_OURS_SHUT_WR);
    assert_int_equal(info.peers, 0);
    assert_string_equal(info.tcp, "FIN_WAIT2");
    /* Writing is over: send is refused, a second shutdown wr too. */
    const unsigned char *parts[1] = {(const unsigned char *)"x"};
    size_t lens[1] = {1};
    struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 1};
    assert_true(sp_engine_send(eng, c, &req, err, sizeof err) < 0);
    assert_true(sp_engine_shutdown(eng, c, SP_SHUT_WR, err, sizeof err) < 0);
    /* The peer's FIN moves the connection to TIME_WAIT while our descriptor
     * is still open (TCP_INFO alone would say CLOSE). */
    close(peer);
    assert_true(te_wait(eng, &r, SP_EV_EOF, c, 1, 2000));
    assert_true(te_wait_state(eng, &r, c, "TIME_WAIT", 2000));
    close(lfd);
    te_done(eng, &r);
}

/* The peer SHUT_WRs: eof event, our side CLOSE_WAIT, and we still send. */
static void test_peer_shutdown_close_wait_still_sends(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    assert_int_equal(shutdown(peer, SHUT_WR), 0);
    assert_true(te_wait(eng, &r, SP_EV_EOF, c, 1, 2000));
    assert_true(te_wait_state(eng, &r, c, "CLOSE_WAIT", 2000));
    te_send(eng, c, "reply", 5);
    char buf[8];
    assert_int_equal(raw_read_n(eng, peer, buf, 5, 2000), 5);
    assert_memory_equal(buf, "reply", 5);
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_int_equal(info.peers, SP_PEER_FIN);
    assert_int_equal(info.ours, 0);
    close(peer);
    close(lfd);
    te_done(eng, &r);
}

/* shutdown rd then wr, and both at once. */
static void test_shutdown_rd_and_both(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    char err[200];
    assert_int_equal(sp_engine_shutdown(eng, c, SP_SHUT_RD, err, sizeof err), 0);
    assert_string_equal(te_nth(&r, SP_EV_SHUTDOWN, c, 0)->how, "rd");
    te_run_for(eng, 30);
    assert_int_equal(te_count(&r, SP_EV_EOF, c), 0); /* our own SHUT_RD is not the peer's FIN */
    te_send(eng, c, "w", 1);
    char b;
    assert_int_equal(raw_read_n(eng, peer, &b, 1, 2000), 1);
    assert_int_equal(sp_engine_shutdown(eng, c, SP_SHUT_BOTH, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SHUTDOWN, c, 2, 2000));
    assert_string_equal(te_nth(&r, SP_EV_SHUTDOWN, c, 1)->how, "both");
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_int_equal(info.ours, SP_OURS_SHUT_WR | SP_OURS_SHUT_RD);
    assert_int_equal(raw_wait_end(eng, peer, 2000), 0);

    /* both at once on a fresh connection */
    int lfd2, peer2;
    uint32_t c2 = te_raw_pair(eng, &r, &lfd2, &peer2);
    assert_int_equal(sp_engine_shutdown(eng, c2, SP_SHUT_BOTH, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SHUTDOWN, c2, 1, 2000));
    assert_string_equal(te_nth(&r, SP_EV_SHUTDOWN, c2, 0)->how, "both");
    assert_int_equal(te_count(&r, SP_EV_SHUTDOWN, c2), 1);
    close(peer);
    close(lfd);
    close(peer2);
    close(lfd2);
    te_done(eng, &r);
}

/* We close first, the peer closes after: our connection goes through
 * FIN_WAIT2 into TIME_WAIT, seen after our descriptor is gone. */
static void test_close_then_time_wait(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    char err[200];
    /* Shown in a pane: its queue sizes are polled while it is open. */
    sp_engine_set_watched(eng, c, 1);
    te_run_for(eng, 3 * SP_KSTATE_POLL_MS);
    struct sp_sock_info before;
    sp_engine_sock_info(eng, c, &before);
    assert_int_equal(before.unread, 0);
    assert_int_equal(sp_engine_close(eng, c, err, sizeof err), 0);
    assert_int_equal(raw_wait_end(eng, peer, 10000), 0);

    /* After close the state comes from sock_diag dumps of every TCP
     * connection on the machine, one per poll tick: on a loaded machine
     * with many connections (other tests' TIME_WAITs) a dump takes long,
     * and the peer's delayed ACK of our FIN may come later still. */
    assert_true(te_wait_state(eng, &r, c, "FIN_WAIT2", 10000));
    close(peer);
    assert_true(te_wait_state(eng, &r, c, "TIME_WAIT", 10000));
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_string_equal(info.tcp, "TIME_WAIT");
    assert_false(info.open);
    /* Queue sizes of a descriptor that is gone are unknown, not stale. */
    assert_int_equal(info.unread, -1);
    assert_int_equal(info.unsent, -1);
    /* state events come after closed */
    assert_true(te_index(&r, SP_EV_CLOSED, c) < te_index(&r, SP_EV_STATE, c) ||
                te_saw_state(&r, c, "ESTABLISHED"));
    close(lfd);
    te_done(eng, &r);
}

/* The peer closes first, then we do: LAST_ACK if the kernel shows it, and
 * in any case "gone" once the kernel forgets the connection. */
static void test_peer_closes_first_then_gone(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    close(peer);
    assert_true(te_wait(eng, &r, SP_EV_EOF, c, 1, 2000));
    assert_true(te_wait_state(eng, &r, c, "CLOSE_WAIT", 2000));
    char err[200];
    assert_int_equal(sp_engine_close(eng, c, err, sizeof err), 0);
    assert_true(te_wait_state(eng, &r, c, "gone", 2000));
    size_t nstate = te_count(&r, SP_EV_STATE, c);
    assert_string_equal(te_nth(&r, SP_EV_STATE, c, nstate - 1)->tcp, "gone");
    close(lfd);
    te_done(eng, &r);
}

/* close() with unread data makes the kernel send RST: the peer sees
 * ECONNRESET. */
static void test_close_with_unread_data_sends_rst(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    char err[200];
    assert_int_equal(sp_engine_pause(eng, c, err, sizeof err), 0);
    assert_int_equal(send(peer, "unread", 6, 0), 6);
    te_run_for(eng, 30);
    assert_int_equal(sp_engine_close(eng, c, err, sizeof err), 0);
    assert_int_equal(raw_wait_end(eng, peer, 2000), -ECONNRESET);
    /* The closing side is told, before `closed`. */
    const struct rec *n = te_nth(&r, SP_EV_NOTICE, c, 1);
    assert_non_null(n);
    assert_string_equal(n->message,
                        "closed with 6 unread bytes: the kernel sent RST instead of FIN");
    assert_true(n < te_nth(&r, SP_EV_CLOSED, c, 0));
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_int_equal(info.ours, SP_OURS_CLOSED | SP_OURS_RST); /* no FIN was sent */
    assert_true(te_wait_state(eng, &r, c, "gone", 2000));
    close(peer);
    close(lfd);
    te_done(eng, &r);
}

/* reset = SO_LINGER 0: RST at once, reason "reset by us". */
static void test_reset_sends_rst(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    char err[200];
    assert_int_equal(sp_engine_reset(eng, c, err, sizeof err), 0);
    assert_string_equal(te_nth(&r, SP_EV_CLOSED, c, 0)->reason, "reset by us");
    assert_int_equal(raw_wait_end(eng, peer, 2000), -ECONNRESET);
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_int_equal(info.ours, SP_OURS_CLOSED | SP_OURS_RST); /* RST, no FIN */
    assert_true(sp_engine_reset(eng, c, err, sizeof err) < 0); /* no double close */
    assert_true(sp_engine_close(eng, c, err, sizeof err) < 0);
    close(peer);
    close(lfd);
    te_done(eng, &r);
}

/* Writing after the peer closed: the kernel answers with RST and the next
 * write fails with EPIPE or ECONNRESET: an event, and we live on. */
static void test_write_after_peer_closed_is_an_event(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    close(peer);
    assert_true(te_wait(eng, &r, SP_EV_EOF, c, 1, 2000));
    char err[200];
    int refused = 0;
    for (int i = 0; i < 20 && te_count(&r, SP_EV_ERROR, c) == 0 && !refused; i++) {
        const unsigned char *parts[1] = {(const unsigned char *)"data"};
        size_t lens[1] = {4};
        struct sp_send_req req = {.parts = parts, .lens = lens, .nparts = 1};
        refused = sp_engine_send(eng, c, &req, err, sizeof err) != 0;
        te_run_for(eng, 20);
    }
    const struct rec *e = te_nth(&r, SP_EV_ERROR, c, 0);
    assert_non_null(e);
    assert_true(strcmp(e->code, "EPIPE") == 0 || strcmp(e->code, "ECONNRESET") == 0);
    assert_string_equal(e->op, "send");
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c, 1, 1000));
    assert_string_equal(te_nth(&r, SP_EV_CLOSED, c, 0)->reason, "peer reset");
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_true(info.peers & SP_PEER_RST);
    close(lfd);
    te_done(eng, &r);
}

/* A peer's RST while we read: ECONNRESET, then closed "peer reset". */
static void test_peer_reset_while_reading(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    struct linger lg = {1, 0};
    setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(peer);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c, 1, 2000));
    const struct rec *e = te_nth(&r, SP_EV_ERROR, c, 0);
    assert_non_null(e);
    assert_string_equal(e->code, "ECONNRESET");
    assert_string_equal(e->op, "recv");
    assert_string_equal(te_nth(&r, SP_EV_CLOSED, c, 0)->reason, "peer reset");
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_true(info.peers & SP_PEER_RST);
    close(lfd);
    te_done(eng, &r);
}

/* Graceful close delivers what is still queued (here: split with delays)
 * before closing. */
static void test_close_delivers_queued_writes(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    const unsigned char *parts[1] = {(const unsigned char *)"0123456789"};
    size_t lens[1] = {10};
    struct sp_send_req req = {.parts = parts,
                              .lens = lens,
                              .nparts = 1,
                              .split = 2,
                              .delay_ms = 10,
                              .repeat = 5,
                              .every_ms = 10};
    char err[200];
    assert_int_equal(sp_engine_send(eng, c, &req, err, sizeof err), 0);
    assert_int_equal(sp_engine_close(eng, c, err, sizeof err), 0);
    assert_int_equal(te_count(&r, SP_EV_CLOSED, c), 0); /* still delivering */
    assert_true(sp_engine_send(eng, c, &req, err, sizeof err) < 0);
    char buf[64];
    ssize_t n = raw_read_n(eng, peer, buf, sizeof buf, 2000);
    assert_int_equal(n, 10); /* the first repetition; later ones were dropped */
    assert_memory_equal(buf, "0123456789", 10);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c, 1, 2000));
    assert_int_equal(te_nth(&r, SP_EV_SEND, c, 0)->ev.writes, 5);
    close(peer);
    close(lfd);
    te_done(eng, &r);
}

/* kinfo and setopt on a live connection. */
static void test_kinfo_and_setopt(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    char err[200];
    struct sp_kinfo k;
    assert_int_equal(sp_engine_setopt(eng, c, SP_OPT_NODELAY, 1, err, sizeof err), 0);
    assert_int_equal(sp_engine_setopt(eng, c, SP_OPT_KEEPALIVE, 1, err, sizeof err), 0);
    assert_int_equal(sp_engine_setopt(eng, c, SP_OPT_LINGER, 5, err, sizeof err), 0);
    assert_int_equal(sp_engine_setopt(eng, c, SP_OPT_RCVBUF, 65536, err, sizeof err), 0);
    assert_true(sp_engine_setopt(eng, c, SP_OPT_RCVBUF, 0, err, sizeof err) < 0);
    assert_int_equal(sp_engine_pause(eng, c, err, sizeof err), 0);
    assert_int_equal(send(peer, "12345", 5, 0), 5);
    te_run_for(eng, 20);
    assert_int_equal(sp_engine_kinfo(eng, c, &k, err, sizeof err), 0);
    assert_string_equal(k.tcp, "ESTABLISHED");
    assert_int_equal(k.nodelay, 1);
    assert_int_equal(k.keepalive, 1);
    assert_int_equal(k.linger, 5);
    assert_int_equal(k.cork, 0);
    assert_int_equal(k.unread, 5);
    assert_int_equal(k.unsent, 0);
    assert_true(k.rcvbuf >= 65536);
    assert_true(k.rtt_us >= 0);
    assert_true(k.cwnd > 0);
    /* watched: unread follows the kernel every 100 ms */
    sp_engine_set_watched(eng, c, 1);
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_int_equal(info.unread, 5);
    sp_engine_set_watched(eng, c, 0);
    close(peer);
    close(lfd);
    te_done(eng, &r);
}

/* Past keep_closed the oldest closed sockets are forgotten between loop
 * iterations, history and all; one shown (watched) is kept while shown; the
 * ids left are the kept ones, in order, and a forgotten id says so. */
static void test_closed_records_past_the_cap_are_forgotten(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 1);
    sp_engine_set_keep_closed(eng, 2);
    unsigned port;
    uint32_t l = te_listen(eng, &r, NULL, &port);
    char err[200];
    uint32_t c[6];
    for (int i = 0; i < 6; i++) {
        c[i] = te_connect(eng, "tcp:127.0.0.1", port, NULL);
        assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, (size_t)i + 1, 2000));
        uint32_t a = te_nth(&r, SP_EV_ACCEPTED, 0, (size_t)i)->ev.sock;
        if (i == 1)
            sp_engine_set_watched(eng, c[i], 1);
        assert_int_equal(sp_engine_reset(eng, c[i], err, sizeof err), 0);
        assert_int_equal(sp_engine_close(eng, a, err, sizeof err), 0);
    }
    /* Handles finish closing on later loop turns (a loaded machine may need
     * more than one): bounded. */
    for (uint64_t end = te_ms() + 2000; sp_engine_sock_ids(eng, NULL, 0) > 3 && te_ms() < end;)
        te_run_for(eng, 5);
    /* 12 closed, 2 kept: the shown one and the newest. */
    uint32_t ids[16];
    size_t n = sp_engine_sock_ids(eng, ids, 16);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], l);
    assert_int_equal(ids[1], c[1]);
    assert_int_equal(ids[2], c[5] + 1);
    assert_int_equal(sp_engine_forgotten(eng), 10);
    assert_int_equal(sp_engine_last_id(eng), c[5] + 1);
    struct sp_sock_info info;
    assert_int_equal(sp_engine_sock_info(eng, c[0], &info), -ENOENT);
    assert_true(sp_engine_sock_forgotten(eng, c[0]));
    assert_false(sp_engine_sock_forgotten(eng, l));
    assert_false(sp_engine_sock_forgotten(eng, c[5] + 2));
    assert_int_equal(sp_hist_end(eng, c[0]), 0);
    assert_true(sp_hist_end(eng, c[1]) > 0);
    assert_int_not_equal(sp_engine_close(eng, c[2], err, sizeof err), 0);
    assert_non_null(strstr(err, "closed and forgotten"));
    /* No longer shown, it is the oldest to go when the next one closes. */
    sp_engine_set_watched(eng, c[1], 0);
    assert_int_equal(sp_engine_close(eng, l, err, sizeof err), 0);
    te_run_for(eng, 10);
    n = sp_engine_sock_ids(eng, ids, 16);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], l);
    assert_int_equal(ids[1], c[5] + 1);
    assert_int_equal(sp_engine_forgotten(eng), 11);
    te_done(eng, &r);
}

/* An echo server echoes the EOF too: after the peer's FIN and the echo,
 * our FIN; the socket closes and the kernel leaves no CLOSE_WAIT. A
 * --close-on-eof listener's connections close the same way; a plain one's
 * stay half-open. */
static void test_echo_and_close_on_eof_close_after_the_peers_eof(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    struct sp_sock_opts echo = {.echo = 1}, coe = {.close_on_eof = 1};
    unsigned pe, pc, pp;
    uint32_t le = te_listen(eng, &r, &echo, &pe);
    uint32_t lc = te_listen(eng, &r, &coe, &pc);
    uint32_t lp = te_listen(eng, &r, NULL, &pp);
    int fe = raw_connect(pe), fc = raw_connect(pc), fp = raw_connect(pp);
    assert_true(fe >= 0 && fc >= 0 && fp >= 0);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 3, 2000));
    for (int i = 0; i < 3; i++) {
        int fd = i == 0 ? fe : i == 1 ? fc : fp;
        while (send(fd, "hi", 2, 0) != 2)
            te_run_for(eng, 1);
        shutdown(fd, SHUT_WR);
    }
    char buf[8];
    assert_int_equal(raw_read_n(eng, fe, buf, 2, 2000), 2);
    assert_memory_equal(buf, "hi", 2);
    assert_int_equal(raw_wait_end(eng, fe, 2000), 0); /* the echoed EOF */
    assert_int_equal(raw_wait_end(eng, fc, 2000), 0);
    assert_int_equal(raw_wait_end(eng, fp, 200), 1); /* no FIN from a plain listener */
    uint32_t ids[3] = {0, 0, 0};
    for (size_t i = 0; i < 3; i++) {
        const struct rec *a = te_nth(&r, SP_EV_ACCEPTED, 0, i);
        uint32_t l = a->ev.parent;
        ids[l == le ? 0 : l == lc ? 1 : 2] = a->ev.sock;
    }
    assert_true(lp != 0);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, ids[0], 1, 2000));
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, ids[1], 1, 2000));
    assert_string_equal(te_nth(&r, SP_EV_CLOSED, ids[0], 0)->reason, "closed after the peer's EOF");
    assert_string_equal(te_nth(&r, SP_EV_CLOSED, ids[1], 0)->reason, "closed after the peer's EOF");
    assert_true(te_wait_state(eng, &r, ids[2], "CLOSE_WAIT", 2000));
    assert_int_equal(te_count(&r, SP_EV_CLOSED, ids[2]), 0);
    close(fe);
    close(fc);
    close(fp);
    te_done(eng, &r);
}

struct syn_count {
    unsigned port;
    int n;
};

static void count_syn_sent(void *ud, const struct sp_kdiag_ent *ent)
{
    struct syn_count *c = ud;
    if (ent->rport == c->port && ent->state == TCP_SYN_SENT)
        c->n++;
}

/* Connections the kernel has in SYN_SENT towards 127.0.0.1:port. */
static int kernel_syn_sent(unsigned port)
{
    int nl = sp__kdiag_open();
    assert_true(nl >= 0);
    struct syn_count c = {port, 0};
    assert_int_equal(sp__kdiag_dump(nl, AF_INET, count_syn_sent, &c), 0);
    close(nl);
    return c.n;
}

/* A connect that times out in SYN_SENT does not keep showing SYN_SENT: once
 * closed, the kernel has forgotten it, and so does its state ("gone"). */
static void test_failed_connect_does_not_stay_syn_sent(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    int lfd = raw_listen(AF_INET, &port, 0);
    int fill[3];
    raw_fill_backlog(lfd, port, fill, 3, 5000);
    struct sp_sock_opts o = {.timeout_ms = 400};
    uint32_t c = te_connect(eng, "tcp:127.0.0.1", port, &o);
    sp_engine_set_watched(eng, c, 1); /* shown in a pane: polled */
    assert_true(te_wait_state(eng, &r, c, "SYN_SENT", 2000));
    int before = kernel_syn_sent(port);
    assert_true(before >= 1);
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c, 1, 3000));
    te_run_for(eng, 20);
    assert_int_equal(kernel_syn_sent(port), before - 1);
    struct sp_sock_info info;
    sp_engine_sock_info(eng, c, &info);
    assert_string_equal(info.tcp, "gone");
    for (int i = 0; i < 3; i++)
        if (fill[i] >= 0)
            close(fill[i]);
    close(lfd);
    te_done(eng, &r);
}

/* shutdown wr during a --repeat send: writing ends there, the remaining
 * repetitions are dropped (a notice says how many) and none of them fails
 * later with EPIPE; the peer reads what was sent, then EOF. */
static void test_shutdown_during_repeats_drops_the_rest(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    const unsigned char *parts[1] = {(const unsigned char *)"x"};
    size_t lens[1] = {1};
    struct sp_send_req req = {
        .parts = parts, .lens = lens, .nparts = 1, .repeat = 5, .every_ms = 100};
    char err[200];
    assert_int_equal(sp_engine_send(eng, c, &req, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SEND, c, 1, 2000));
    assert_int_equal(sp_engine_shutdown(eng, c, SP_SHUT_WR, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_SHUTDOWN, c, 1, 2000));
    char buf[8];
    ssize_t n = raw_read_n(eng, peer, buf, sizeof buf, 1000);
    assert_int_equal(n, (ssize_t)te_count(&r, SP_EV_SEND, c));
    assert_int_equal(raw_wait_end(eng, peer, 1000), 0);
    te_run_for(eng, 500);
    assert_int_equal(te_count(&r, SP_EV_ERROR, c), 0);
    assert_int_equal(te_count(&r, SP_EV_CLOSED, c), 0);
    char want[64];
    snprintf(want, sizeof want, "shutdown(SHUT_WR): %zu later repetitions dropped",
             5 - te_count(&r, SP_EV_SEND, c));
    int found = 0;
    for (size_t i = 0; i < te_count(&r, SP_EV_NOTICE, c); i++)
        found |= strcmp(te_nth(&r, SP_EV_NOTICE, c, i)->message, want) == 0;
    assert_true(found);
    close(peer);
    close(lfd);
    te_done(eng, &r);
}

/* What a blocking connect to 127.0.0.1:port got the moment a socket's
 * `closed` event came out. */
struct connect_at_close {
    uint32_t sock;
    unsigned port;
    int calls;
    int err; /* 0: connected, else errno */
};

static void connect_on_closed(void *ud, const struct sp_event *ev)
{
    struct connect_at_close *c = ud;
    if (ev->type != SP_EV_CLOSED || ev->sock != c->sock)
        return;
    c->calls++;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->err = connect(fd, (struct sockaddr *)&s4, sizeof s4) == 0 ? 0 : errno;
    close(fd);
}

/* After a listener's `closed` the kernel has no listening socket any more:
 * a connect made right then, from inside the event, is refused. */
static void test_closed_listener_refuses_at_once(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    unsigned port;
    uint32_t l = te_listen(eng, &r, NULL, &port);
    struct connect_at_close c = {.sock = l, .port = port};
    assert_true(sp_engine_subscribe(eng, SP_EV_MASK(SP_EV_CLOSED), connect_on_closed, &c) > 0);
    char err[200];
    assert_int_equal(sp_engine_close(eng, l, err, sizeof err), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.err, ECONNREFUSED);
    te_done(eng, &r);
}

struct diag_state {
    unsigned lport, rport;
    int state; /* -1: not found */
};

static void find_pair(void *ud, const struct sp_kdiag_ent *ent)
{
    struct diag_state *d = ud;
    if (ent->lport == d->lport && ent->rport == d->rport)
        d->state = ent->state;
}

/* The kernel's own state for the connection 127.0.0.1:lport -> :rport, as
 * `ss -tan` shows it, or "" if it has none. */
static const char *kernel_state(unsigned lport, unsigned rport)
{
    int nl = sp__kdiag_open();
    assert_true(nl >= 0);
    struct diag_state d = {lport, rport, -1};
    assert_int_equal(sp__kdiag_dump(nl, AF_INET, find_pair, &d), 0);
    close(nl);
    return d.state < 0 ? "" : sp__kstate_name(d.state);
}

static void local_and_peer(int fd, struct sockaddr_storage *la, struct sockaddr_storage *pa)
{
    socklen_t l = sizeof *la;
    assert_int_equal(getsockname(fd, (struct sockaddr *)la, &l), 0);
    l = sizeof *pa;
    assert_int_equal(getpeername(fd, (struct sockaddr *)pa, &l), 0);
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* The exact lookup (no dump of the host's connections) agrees with the dump
 * `ss` reads: ESTABLISHED, TIME_WAIT after the close, and nothing, not the
 * listener the kernel's lookup falls back to, once a connection is gone. */
static void test_exact_lookup_agrees_with_the_dump(void **state)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(lfd, 4), 0);
    socklen_t sl = sizeof sin;
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof sin), 0);
    int a = accept(lfd, NULL, NULL);
    assert_true(a >= 0);
    struct sockaddr_storage cla, cpa, ala, apa;
    local_and_peer(c, &cla, &cpa);
    local_and_peer(a, &ala, &apa);
    int nl = sp__kdiag_open();
    assert_true(nl >= 0);

    assert_int_equal(sp__kdiag_lookup(nl, &cla, &cpa), TCP_ESTABLISHED);
    assert_int_equal(sp__kdiag_lookup(nl, &ala, &apa), TCP_ESTABLISHED);
    assert_string_equal(kernel_state(port_of(&cla), port_of(&cpa)), "ESTABLISHED");

    close(c); /* our FIN first: the client's side ends in TIME_WAIT */
    char b;
    assert_int_equal(read(a, &b, 1), 0);
    close(a);
    for (int i = 0; i < 100 && strcmp(kernel_state(port_of(&ala), port_of(&apa)), "") != 0; i++)
        usleep(10000);
    assert_string_equal(kernel_state(port_of(&cla), port_of(&cpa)), "TIME_WAIT");
    assert_int_equal(sp__kdiag_lookup(nl, &cla, &cpa), TCP_TIME_WAIT);
    assert_string_equal(kernel_state(port_of(&ala), port_of(&apa)), "");
    assert_int_equal(sp__kdiag_lookup(nl, &ala, &apa), -ENOENT);

    struct sockaddr_in *nowhere = (struct sockaddr_in *)&cpa;
    nowhere->sin_port = htons(1);
    assert_int_equal(sp__kdiag_lookup(nl, &cla, &cpa), -ENOENT);
    close(nl);
    close(lfd);
}

/* The connection went to TIME_WAIT while our descriptor is still open (its
 * own socket then says CLOSE): info reports what the kernel holds for the
 * connection, and asking emits no state change. */
static void test_info_in_time_wait_with_open_descriptor(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    int lfd, peer;
    uint32_t c = te_raw_pair(eng, &r, &lfd, &peer);
    char err[200];
    assert_int_equal(sp_engine_shutdown(eng, c, SP_SHUT_WR, err, sizeof err), 0);
    assert_int_equal(raw_wait_end(eng, peer, 2000), 0);
    close(peer);
    assert_true(te_wait_state(eng, &r, c, "TIME_WAIT", 2000));
    struct sp_sock_info si;
    sp_engine_sock_info(eng, c, &si);
    assert_true(si.open);
    const struct rec *conn = te_nth(&r, SP_EV_CONNECTED, c, 0);
    assert_non_null(conn);
    unsigned lport = te_port(conn->local), rport = te_port(conn->peer);
    assert_string_equal(kernel_state(lport, rport), "TIME_WAIT");
    size_t nstate = te_count(&r, SP_EV_STATE, c);
    struct sp_kinfo k;
    assert_int_equal(sp_engine_kinfo(eng, c, &k, err, sizeof err), 0);
    assert_string_equal(k.tcp, "TIME_WAIT");
    assert_int_equal(te_count(&r, SP_EV_STATE, c), nstate);
    te_run_for(eng, 3 * SP_KSTATE_POLL_MS);
    assert_false(te_saw_state(&r, c, "CLOSE"));
    sp_engine_sock_info(eng, c, &si);
    assert_string_equal(si.tcp, "TIME_WAIT");
    close(lfd);
    te_done(eng, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shutdown_wr_fin_wait2_still_receives),
        cmocka_unit_test(test_closed_records_past_the_cap_are_forgotten),
        cmocka_unit_test(test_peer_shutdown_close_wait_still_sends),
        cmocka_unit_test(test_shutdown_rd_and_both),
        cmocka_unit_test(test_close_then_time_wait),
        cmocka_unit_test(test_peer_closes_first_then_gone),
        cmocka_unit_test(test_close_with_unread_data_sends_rst),
        cmocka_unit_test(test_reset_sends_rst),
        cmocka_unit_test(test_write_after_peer_closed_is_an_event),
        cmocka_unit_test(test_peer_reset_while_reading),
        cmocka_unit_test(test_close_delivers_queued_writes),
        cmocka_unit_test(test_kinfo_and_setopt),
        cmocka_unit_test(test_echo_and_close_on_eof_close_after_the_peers_eof),
        cmocka_unit_test(test_failed_connect_does_not_stay_syn_sent),
        cmocka_unit_test(test_shutdown_during_repeats_drops_the_rest),
        cmocka_unit_test(test_closed_listener_refuses_at_once),
        cmocka_unit_test(test_info_in_time_wait_with_open_descriptor),
        cmocka_unit_test(test_exact_lookup_agrees_with_the_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
