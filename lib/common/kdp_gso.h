/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Segmentation of a TCP or UDP super-frame over IPv4 or IPv6 (what a kernel
 * sender with TSO/GSO hands over, up to 64 KiB) into frames of at most
 * @c mss bytes of payload, as the kernel's own segmentation does: IPv4 total
 * length, ID (+1 per segment) and header checksum, or the IPv6 payload
 * length; TCP sequence (+payload), FIN and PSH on the last segment only, CWR
 * on the first only; UDP length. Each segment's L4 checksum is left partial
 * (the pseudo-header sum of its own length, IPv4's or IPv6's) and
 * flagged RTE_MBUF_F_RX_L4_CKSUM_NONE, for kdp_csum_tx_prep() to finish.
 *
 * Used by net_kdp_afp on receive (when a super-frame is not delivered whole)
 * and by the workers on transmit (a super-frame for a port without TSO).
 * Pure functions on memory and mbufs; no locks.
 */
#ifndef KDP_GSO_H
#define KDP_GSO_H

#include <stdint.h>

#include <rte_mbuf.h>

/** Why a super-frame cannot be cut. */
enum kdp_gso_refuse {
	KDP_GSO_OK = 0,
	KDP_GSO_MALFORMED, /**< not unfragmented IPv4, or IPv6 without extension
			    *   headers, carrying TCP/UDP as announced */
	KDP_GSO_TOO_BIG,   /**< one segment does not fit in the room given */
};

/** A super-frame being cut. */
struct kdp_gso {
	const uint8_t *pkt; /**< the whole frame (stays valid until done) */
	uint32_t len;
	uint32_t off;       /**< offset of the next segment's payload */
	uint16_t hdr;       /**< Ethernet + IP + L4 header bytes */
	uint16_t l4;        /**< offset of the L4 header */
	uint16_t mss;       /**< payload bytes per segment */
	uint16_t seg;       /**< segments made so far */
	uint8_t proto;      /**< IPPROTO_TCP or IPPROTO_UDP */
	uint8_t v6;         /**< an IPv6 frame */
};

/**
 * Header bytes (Ethernet + IP + TCP/UDP) of the @p len byte frame @p pkt,
 * which must be unfragmented IPv4, or IPv6 without extension headers,
 * carrying @p proto; 0 when it is not. *@p l4 gets the L4 header's offset,
 * *@p v6 whether it is IPv6.
 */
uint32_t kdp_gso_headers(const uint8_t *pkt, uint32_t len, uint8_t proto, uint32_t *l4,
			 uint8_t *v6);

/**
 * Starts cutting the @p len byte frame @p pkt (IPv4 or IPv6 carrying @p proto) into
 * segments of @p mss payload bytes, none larger than @p room bytes.
 */
enum kdp_gso_refuse kdp_gso_init(struct kdp_gso *g, const uint8_t *pkt, uint32_t len,
				 uint8_t proto, uint16_t mss, uint32_t room);

/** True when every segment has been made. */
static inline int kdp_gso_done(const struct kdp_gso *g)
{
	return g->off >= g->len;
}

/**
 * Makes up to @p n next segments of @p g into mbufs from @p mp, each with
 * RTE_MBUF_F_RX_L4_CKSUM_NONE and @p port. Stops early when @p mp is empty.
 * @return segments made.
 */
uint16_t kdp_gso_next(struct kdp_gso *g, struct rte_mempool *mp, uint16_t port,
		      struct rte_mbuf **out, uint16_t n);

#endif
