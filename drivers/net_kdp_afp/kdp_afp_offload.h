/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What net_kdp_afp does with the offload metadata a kernel sender leaves on a
 * frame (the virtio_net_hdr that PACKET_VNET_HDR puts before each frame):
 *
 * - a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum field
 *   holds only the pseudo-header sum) of IPv4 or IPv6 TCP/UDP (IPv6 without
 *   extension headers) is kept as it is and
 *   flagged RTE_MBUF_F_RX_L4_CKSUM_NONE, DPDK's mark for "not correct in the
 *   data, integrity verified"; kdp keeps the field a pseudo-header sum
 *   through NAT and completes it, or hands it to the egress port's offload,
 *   at transmit (kdp_csum_tx_prep). Any other partial checksum is completed
 *   here, in software, as the kernel's skb_checksum_help() would.
 * - a TCP TSO/GSO/GRO super-frame (IPv4 or IPv6) is delivered whole when the
 *   port has TCP LRO on and a pool large enough (kdp_afp_tso_whole checks
 *   it): flagged RTE_MBUF_F_RX_LRO with tso_segsz = gso_size, checksum
 *   partial as above. Otherwise, and for UDP (UDP_SEGMENT, over either
 *   family), it is cut into segments of gso_size bytes of payload
 *   (common/kdp_gso.h), each a frame of its own with its headers fixed (IPv4 total length, ID, checksum,
 *   or IPv6 payload length; TCP sequence and flags; UDP length) and a partial
 *   L4 checksum over its own pseudo-header. Other GSO types are refused.
 *
 * Pure functions on memory and mbufs, no sockets: unit-tested on their own.
 */
#ifndef KDP_AFP_OFFLOAD_H
#define KDP_AFP_OFFLOAD_H

#include <stdint.h>

#include <linux/virtio_net.h>
#include <rte_mbuf.h>

#include "common/kdp_gso.h"

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* UDP_SEGMENT (USO); older uapi headers lack it */
#endif

/** Why a frame was not delivered (each one an xstat of the port). */
enum kdp_afp_refuse {
	KDP_AFP_OK = 0,
	KDP_AFP_CSUM_BAD_OFFSETS,  /**< csum_start/csum_offset outside the frame */
	KDP_AFP_GSO_UNSUPPORTED,   /**< a GSO type other than TCPv4, TCPv6 or UDP_L4 */
	KDP_AFP_GSO_MALFORMED,     /**< headers that do not match the GSO type */
	KDP_AFP_GSO_TOO_BIG,       /**< one segment does not fit in an mbuf */
};

/**
 * Applies the checksum part of @p vh (host byte order, as PACKET_VNET_HDR
 * gives it) to the @p len bytes at @p frame: nothing, the partial flag in
 * *@p ol_flags (only with @p keep_partial), or a checksum completed in place.
 * @return KDP_AFP_OK or KDP_AFP_CSUM_BAD_OFFSETS.
 */
enum kdp_afp_refuse kdp_afp_rx_csum(uint8_t *frame, uint32_t len,
				    const struct virtio_net_hdr *vh, int keep_partial,
				    uint64_t *ol_flags);

/**
 * Starts cutting the @p len byte frame @p pkt that @p vh says is a GSO
 * super-frame into segments of at most @p room bytes (an mbuf's data room);
 * kdp_gso_next() makes them. @return KDP_AFP_OK, or why it cannot be.
 */
enum kdp_afp_refuse kdp_afp_gso_init(struct kdp_gso *g, const uint8_t *pkt,
				     uint32_t len, const struct virtio_net_hdr *vh,
				     uint32_t room);

/**
 * Checks that the super-frame @p pkt (@p len bytes, @p vh) can travel whole:
 * TCP/IPv4 (VIRTIO_NET_HDR_GSO_TCPV4) or TCP/IPv6 (VIRTIO_NET_HDR_GSO_TCPV6)
 * with its checksum partial at the TCP header, headers that match the type.
 * *@p hdr gets the header bytes (Ethernet + IP + TCP). @return KDP_AFP_OK, KDP_AFP_GSO_UNSUPPORTED (another GSO type) or
 * KDP_AFP_GSO_MALFORMED.
 */
enum kdp_afp_refuse kdp_afp_tso_whole(const uint8_t *pkt, uint32_t len,
				      const struct virtio_net_hdr *vh, uint32_t *hdr);

/** Largest frame a segment may be: the pool's data room. */
static inline uint32_t kdp_afp_room(struct rte_mempool *mp)
{
	return rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM;
}

#endif
