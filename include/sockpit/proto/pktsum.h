/* One-line summaries of link-layer frames, as an AF_PACKET socket receives
 * them: Ethernet (with up to two VLAN tags), ARP, IPv4, IPv6 (walking its
 * extension headers), TCP, UDP, ICMP and ICMPv6. A parser of peer bytes:
 * it reads only p[0..n), never allocates, and says plainly when a frame is
 * short, malformed or of a kind it does not decode. The text it writes is
 * made of numbers, addresses it formats itself and fixed words; it still goes
 * through sp_render() wherever it is shown. */
#ifndef SOCKPIT_PKTSUM_H
#define SOCKPIT_PKTSUM_H

#include <stddef.h>
#include <stdint.h>

/* Room for any summary, terminator included (longer ones are clipped). */
#define SP_PKTSUM_MAX 256

enum sp_pkt_link {
    SP_PKT_LINK_ETH, /* a 14-byte Ethernet header first (Ethernet, loopback, veth) */
    SP_PKT_LINK_IP,  /* the IP header first (tun, some tunnels): version from the first nibble */
};

/* Writes the summary of the frame p[0..n) into buf (len bytes, always
 * terminated when len > 0). wire_len is the frame's real length: when it is
 * more than n the capture was cut (by the recv size), so lengths in the
 * headers that reach past n are the cut's doing, not the frame's fault, and
 * the summary ends with "[captured N of M bytes]". Returns the length of the
 * summary written. */
size_t sp_pktsum(const unsigned char *p, size_t n, size_t wire_len, enum sp_pkt_link link,
                 char *buf, size_t len);

/* "ipv4", "ipv6", "arp", "vlan", "all" or NULL: the name of an EtherType
 * sockpit knows by name (used by the packet: address and the events). */
const char *sp_ethertype_name(uint16_t type);
/* Parses "ipv4", "ipv6", "arp", "vlan", "all" (ETH_P_ALL, 0x0003) or a number
 * ("0x0800", "2048"; 1-65535). Returns 0, or -1 when text is none of them. */
int sp_ethertype_parse(const char *text, uint16_t *type);

/* "host", "broadcast", "multicast", "otherhost", "outgoing" for the
 * sll_pkttype values 0-4; "type N" style text is the caller's business. */
const char *sp_pkttype_name(int pkttype);

#endif
