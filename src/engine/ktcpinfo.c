/* TCP_INFO in full: the kernel's struct tcp_info (linux/tcp.h) has fields
 * libc's copy in netinet/tcp.h lacks, and the two headers cannot meet in
 * one file, so this one reads it. */
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "kstate.h"

/* TCP_INFO as far as this kernel fills it (older kernels return a shorter
 * struct: fields past the returned length stay -1). */
void sp__ktcp_info_more(int fd, struct sp_kinfo *out)
{
    /* Room for fields newer than these headers. */
    unsigned char raw[sizeof(struct tcp_info) + 64];
    socklen_t len = sizeof raw;
    memset(raw, 0, sizeof raw);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, raw, &len) != 0)
        return;
    struct tcp_info ti;
    memcpy(&ti, raw, sizeof ti);
#define HAS(f) (len >= offsetof(struct tcp_info, f) + sizeof ti.f)
    out->mss = ti.tcpi_snd_mss;
    out->advmss = ti.tcpi_advmss;
    out->rcv_mss = ti.tcpi_rcv_mss;
    out->ssthresh = ti.tcpi_snd_ssthresh;
    out->rcv_space = ti.tcpi_rcv_space;
    out->retransmits = ti.tcpi_retransmits;
    out->lost = ti.tcpi_lost;
    out->sacked = ti.tcpi_sacked;
    out->reordering = ti.tcpi_reordering;
    out->probes = ti.tcpi_probes;
    out->backoff = ti.tcpi_backoff;
    out->last_data_recv_ms = ti.tcpi_last_data_recv;
    out->last_data_sent_ms = ti.tcpi_last_data_sent;
    out->last_ack_recv_ms = ti.tcpi_last_ack_recv;
    if (HAS(tcpi_bytes_received)) {
        out->bytes_acked = (int64_t)ti.tcpi_bytes_acked;
        out->bytes_received = (int64_t)ti.tcpi_bytes_received;
    }
    if (HAS(tcpi_segs_in)) {
        out->segs_in = ti.tcpi_segs_in;
        out->segs_out = ti.tcpi_segs_out;
    }
    if (HAS(tcpi_data_segs_out)) {
        out->data_segs_in = ti.tcpi_data_segs_in;
        out->data_segs_out = ti.tcpi_data_segs_out;
    }
    if (HAS(tcpi_min_rtt))
        out->min_rtt_us = ti.tcpi_min_rtt;
    if (HAS(tcpi_delivery_rate))
        out->delivery_rate = (int64_t)ti.tcpi_delivery_rate;
    if (HAS(tcpi_snd_wnd))
        out->snd_wnd = ti.tcpi_snd_wnd;
    /* tcpi_rcv_wnd (Linux 6.2) follows tcpi_snd_wnd; these headers may
     * predate it while the running kernel fills it. */
    size_t rcv_wnd_at = offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof ti.tcpi_snd_wnd;
    if (len >= rcv_wnd_at + sizeof(uint32_t)) {
        uint32_t w;
        memcpy(&w, raw + rcv_wnd_at, sizeof w);
        out->rcv_wnd = w;
    }
#undef HAS
}
