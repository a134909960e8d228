/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Incremental Internet checksum updates (RFC 1624, eqn. 3):
 * HC' = ~(~HC + ~m + m'). Values are taken as they sit in the packet
 * (network order), so no byte swapping is needed.
 */
#ifndef KDP_CSUM_H
#define KDP_CSUM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <netinet/in.h>

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "common/kdp_meta.h"

/** Loads a 16-bit word from any alignment, as it sits in memory. */
static inline uint16_t kdp_load16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint16_t kdp_csum_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/**
 * True when the IPv4 header at @p ip (@p ihl bytes, a multiple of 4 ≥ 20)
 * has a valid checksum. A 20-byte header is summed as five 32-bit words.
 */
static inline bool kdp_csum_ipv4_ok(const void *ip, uint32_t ihl)
{
	if (likely(ihl == 20)) {
		uint32_t w[5];
		uint64_t s;

		memcpy(w, ip, sizeof(w));
		s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
		s = (s & 0xffffffff) + (s >> 32);
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		return s == 0xffff;
	}
	return rte_raw_cksum(ip, ihl) == 0xffff;
}

/**
 * Ones'-complement sum of the @p len bytes at @p p (any alignment), folded to
 * 16 bits, not complemented: what rte_raw_cksum() returns, summed 8 bytes at
 * a time into two 64-bit accumulators instead of 2 (about 3x fewer cycles on
 * a 1,500-byte packet).
 */
static inline uint16_t kdp_csum_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t s = 0, t = 0;

	for (; len >= 16; b += 16, len -= 16) {
		uint64_t x, y;

		memcpy(&x, b, 8);
		memcpy(&y, b + 8, 8);
		s += (x & 0xffffffff) + (x >> 32);
		t += (y & 0xffffffff) + (y >> 32);
	}
	s += t;
	for (; len >= 4; b += 4, len -= 4) {
		uint32_t x;

		memcpy(&x, b, 4);
		s += x;
	}
	if (len >= 2) {
		s += kdp_load16(b);
		b += 2;
		len -= 2;
	}
	if (len) {
		uint16_t x = 0;

		memcpy(&x, b, 1); /* the odd byte, as rte_raw_cksum() takes it */
		s += x;
	}
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return kdp_csum_fold((uint32_t)s);
}

/** New checksum after a 16-bit field changed from @p old to @p new. */
static inline uint16_t kdp_csum_update16(uint16_t csum, uint16_t old,
					 uint16_t new)
{
	uint32_t s = (uint16_t)~csum;
	s += (uint16_t)~old;
	s += new;
	return (uint16_t)~kdp_csum_fold(s);
}

/** New checksum after a 32-bit field changed from @p old to @p new. */
static inline uint16_t kdp_csum_update32(uint16_t csum, uint32_t old,
					 uint32_t new)
{
	uint32_t s = (uint16_t)~csum;
	s += (uint16_t)~(old >> 16);
	s += (uint16_t)~(old & 0xffff);
	s += new >> 16;
	s += new & 0xffff;
	return (uint16_t)~kdp_csum_fold(s);
}

/**
 * Ones'-complement sum (not complemented, folded) of the IPv6 pseudo-header
 * (RFC 8200 §8.1): addresses @p src and @p dst (16 bytes each, network
 * order), upper-layer length @p len and next header @p proto.
 */
static inline uint16_t kdp_csum_ipv6_pseudo(const uint8_t *src, const uint8_t *dst,
					    uint32_t len, uint8_t proto)
{
	uint64_t s = 0;
	uint32_t w;

	for (int i = 0; i < 16; i += 4) {
		memcpy(&w, src + i, 4);
		s += w;
		memcpy(&w, dst + i, 4);
		s += w;
	}
	s += rte_cpu_to_be_32(len);
	s += rte_cpu_to_be_32((uint32_t)proto);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return kdp_csum_fold((uint32_t)s);
}

/** Adds two folded ones'-complement sums. */
static inline uint16_t kdp_csum_add(uint16_t a, uint16_t b)
{
	return kdp_csum_fold((uint32_t)a + b);
}

/**
 * New checksum after a 128-bit field (an IPv6 address) changed from @p old
 * to @p new (16 bytes each, as they sit in the packet).
 */
static inline uint16_t kdp_csum_update128(uint16_t csum, const uint8_t *old,
					  const uint8_t *new)
{
	uint64_t s = (uint16_t)~csum;
	uint32_t o, n;

	for (int i = 0; i < 16; i += 4) {
		memcpy(&o, old + i, 4);
		memcpy(&n, new + i, 4);
		s += (uint32_t)~o;
		s += n;
	}
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return (uint16_t)~kdp_csum_fold((uint32_t)s);
}

/** A partial (pseudo-header) sum after a 128-bit pseudo-header field changed. */
static inline uint16_t kdp_csum_partial_update128(uint16_t psum, const uint8_t *old,
						  const uint8_t *new)
{
	return (uint16_t)~kdp_csum_update128((uint16_t)~psum, old, new);
}

/*
 * Partial checksums. A kernel sender with checksum offload (a veth's default)
 * leaves in the TCP/UDP checksum field only the sum of the pseudo-header, not
 * complemented, and lets the device finish it. A port that knows says so with
 * RTE_MBUF_F_RX_L4_CKSUM_NONE (DPDK: "not correct in the data, integrity
 * verified"). kdp keeps such a field a pseudo-header sum: NAT adds the address
 * change to it (a port change needs nothing: the ports are data the final sum
 * covers), and at transmit the egress port finishes it (TX offload) or kdp
 * does, over the L4 bytes, as the kernel's skb_checksum_help().
 */

/** True when the L4 checksum field of @p m holds a partial (pseudo-header) sum. */
static inline bool kdp_csum_is_partial(const struct rte_mbuf *m)
{
	return (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE;
}

/** Forgets that @p m's L4 checksum is partial (kdp rewrote it whole). */
static inline void kdp_csum_clear_partial(struct rte_mbuf *m)
{
	m->ol_flags &= ~RTE_MBUF_F_RX_L4_CKSUM_MASK;
}

/** A partial (pseudo-header) sum after a 32-bit pseudo-header field changed
 *  from @p old to @p new: the sum moves the other way from a checksum. */
static inline uint16_t kdp_csum_partial_update32(uint16_t psum, uint32_t old,
						 uint32_t new)
{
	return (uint16_t)~kdp_csum_update32((uint16_t)~psum, old, new);
}

/** A super-frame's (RTE_MBUF_F_RX_LRO) largest packet on the wire: its IP and
 *  TCP headers plus tso_segsz, at most @p tot (the whole packet). */
static inline uint32_t kdp_csum_lro_seg_len(const struct rte_mbuf *m, uint32_t tot)
{
	const struct kdp_meta *md = kdp_meta((struct rte_mbuf *)(uintptr_t)m);
	const uint8_t *l4 = rte_pktmbuf_mtod_offset(m, const uint8_t *, md->l4_off);
	uint32_t hdr = md->l4_off - RTE_ETHER_HDR_LEN + (uint32_t)(l4[12] >> 4) * 4;

	return RTE_MIN(tot, hdr + m->tso_segsz);
}

/**
 * The largest IPv4 packet @p m (IPv4 header @p ip) puts on the wire: its
 * total length, or for a TCP super-frame kept whole (RTE_MBUF_F_RX_LRO) the
 * headers plus one segment of tso_segsz bytes, which the MTU rule checks.
 */
static inline uint32_t kdp_csum_seg_len(const struct rte_mbuf *m,
					const struct rte_ipv4_hdr *ip)
{
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);

	if (likely(!(m->ol_flags & RTE_MBUF_F_RX_LRO)))
		return tot;
	return kdp_csum_lro_seg_len(m, tot);
}

/**
 * The largest IPv6 packet @p m (IPv6 header @p ip) puts on the wire: as
 * kdp_csum_seg_len, from the payload length.
 */
static inline uint32_t kdp_csum_seg_len6(const struct rte_mbuf *m,
					 const struct rte_ipv6_hdr *ip)
{
	uint32_t tot = 40u + rte_be_to_cpu_16(ip->payload_len);

	if (likely(!(m->ol_flags & RTE_MBUF_F_RX_LRO)))
		return tot;
	return kdp_csum_lro_seg_len(m, tot);
}

/**
 * Readies a TCP super-frame kept whole (RTE_MBUF_F_RX_LRO, its checksum
 * partial) for a port with TSO: the port cuts it into tso_segsz segments
 * and finishes each checksum.
 */
static inline void kdp_csum_tx_tso(struct rte_mbuf *m)
{
	const struct kdp_meta *md = kdp_meta(m);
	const uint8_t *l4 = rte_pktmbuf_mtod_offset(m, const uint8_t *, md->l4_off);

	m->ol_flags &= ~(RTE_MBUF_F_RX_L4_CKSUM_MASK | RTE_MBUF_F_RX_LRO);
	m->l2_len = RTE_ETHER_HDR_LEN;
	m->l3_len = (uint64_t)(md->l4_off - RTE_ETHER_HDR_LEN) & 0x1ff;
	m->l4_len = (uint64_t)(l4[12] >> 4) * 4;
	m->ol_flags |= (md->kind == KDP_PKT_IPV6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4) |
		       RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM;
}

/**
 * Readies @p m (a parsed IPv4 or IPv6 frame) for a port: a partial TCP/UDP checksum
 * is handed to the port's offload when @p port_csum (RTE_MBUF_F_TX_*_CKSUM,
 * the field already holds the pseudo-header sum the device starts from), else
 * finished here over the L4 bytes (a UDP result of 0 is sent as 0xffff).
 * Costs one flag test for any other packet.
 */
static inline void kdp_csum_tx_prep(struct rte_mbuf *m, bool port_csum)
{
	const struct kdp_meta *md;
	uint8_t *l4;
	uint16_t c, at;

	if (likely(!kdp_csum_is_partial(m)))
		return;
	md = kdp_meta(m);
	at = md->l4_proto == IPPROTO_TCP ? 16 : 6;
	kdp_csum_clear_partial(m);
	if (port_csum) {
		m->l2_len = RTE_ETHER_HDR_LEN;
		m->l3_len = (uint64_t)(md->l4_off - RTE_ETHER_HDR_LEN) & 0x1ff;
		m->ol_flags |= (md->kind == KDP_PKT_IPV6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4) |
			       (md->l4_proto == IPPROTO_TCP ? RTE_MBUF_F_TX_TCP_CKSUM
							    : RTE_MBUF_F_TX_UDP_CKSUM);
		return;
	}
	l4 = rte_pktmbuf_mtod_offset(m, uint8_t *, md->l4_off);
	c = (uint16_t)~kdp_csum_sum(l4, (size_t)(rte_pktmbuf_data_len(m) - md->l4_off));
	if (c == 0 && md->l4_proto == IPPROTO_UDP)
		c = 0xffff;
	memcpy(l4 + at, &c, sizeof(c));
}

#endif
