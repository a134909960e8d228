/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Per-packet metadata kept in the mbuf private area (the pool is created
 * with KDP_MBUF_PRIV_SIZE). Written by the stage that learns a fact, read by
 * the later ones; never shared between packets.
 */
#ifndef KDP_META_H
#define KDP_META_H

#include <stdint.h>
#include <rte_mbuf.h>

/** What the parse stage found. */
enum kdp_pkt_kind {
	KDP_PKT_IPV4 = 0,
	KDP_PKT_ARP = 1,
	KDP_PKT_IPV6 = 2,
	KDP_PKT_ND = 3, /**< IPv6 neighbour solicitation or advertisement */
};

/** Why a packet goes to the control thread. */
enum kdp_punt {
	KDP_PUNT_NONE = 0,
	KDP_PUNT_ARP,   /**< ARP frame received on in_port */
	KDP_PUNT_NEIGH, /**< ready to send on out_port, next hop nh_ip unresolved */
	KDP_PUNT_ND,    /**< neighbour discovery message received on in_port */
	KDP_PUNT_NEIGH6, /**< IPv6: ready to send on out_port, next hop nh_ip6 unresolved */
	KDP_PUNT_CT_RENEW, /**< a SYN reusing a closed flow whose backend is gone:
			    * the control thread deletes the entry, then the
			    * packet runs through the pipeline again */
};

#define KDP_META_F_LATER_FRAG 0x01 /**< fragment with offset > 0 */
#define KDP_META_F_FRAG6 0x02      /**< IPv6 with a fragment header (any offset) */

struct kdp_meta {
	union {
		uint32_t nh_ip;     /**< next hop to resolve, host order */
		uint8_t nh_ip6[16]; /**< IPv6 next hop to resolve, network order */
	};
	uint16_t in_port;  /**< port the packet came in on */
	uint16_t out_port; /**< port chosen by the route stage */
	uint16_t l4_off;   /**< offset of the L4 header from the frame start */
	uint8_t kind;      /**< enum kdp_pkt_kind */
	uint8_t l4_proto;  /**< IPPROTO_* of the payload (IPv6: after the
			    *   extension headers) */
	uint8_t flags;     /**< KDP_META_F_* */
	uint8_t punt;      /**< enum kdp_punt */
	uint8_t mon_idx;   /**< flow monitor: index of its pre-rewrite tuple */
};

/*
 * The private area is a whole cache line: with the default headroom the
 * frame then starts on a line of its own, so Ethernet, IP and UDP or TCP
 * headers share one line (a 16-byte area, as before IPv6 made the metadata
 * 28 bytes, started frames 16 bytes into a line; 32 would put the IPv4
 * destination across two lines).
 */
#define KDP_MBUF_PRIV_SIZE RTE_CACHE_LINE_SIZE
_Static_assert(sizeof(struct kdp_meta) <= KDP_MBUF_PRIV_SIZE, "kdp_meta fits the private area");

/** The metadata block of @p m. */
static inline struct kdp_meta *kdp_meta(struct rte_mbuf *m)
{
	return (struct kdp_meta *)rte_mbuf_to_priv(m);
}

#endif
