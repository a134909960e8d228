/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Neighbour stage: IPv4 → MAC for next hops on the uplink, resolved by ARP,
 * and (a table of its own, family AF_INET6) IPv6 → MAC resolved by neighbour
 * discovery (RFC 4861).
 *
 * Workers only read: kdp_neigh_lookup_bulk() on an rte_hash in lock-free
 * read/write concurrency mode whose data word holds the MAC itself, so a
 * reader sees either the old or the new MAC, never a torn one. Misses are
 * punted to the control thread, the single writer, which keeps the state
 * machine (incomplete → reachable → probing → gone), a bounded queue of
 * waiting packets per entry, and frees deleted keys through RCU.
 *
 * Ageing: an entry is reachable for `reachable_ms` after its last
 * confirmation; then it is still used but probed (ARP request, every
 * `retrans_ms`, `max_probes` times) and deleted when nobody answers.
 */
#ifndef KDP_NEIGH_H
#define KDP_NEIGH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "common/kdp_addr.h"
#include "common/kdp_drop.h"

#define KDP_NEIGH_VALID (1ull << 63)
/** Packets kept per unresolved neighbour (Linux keeps 101; we keep fewer). */
#define KDP_NEIGH_QLEN 16

enum kdp_neigh_state {
	KDP_NEIGH_FREE = 0,
	KDP_NEIGH_INCOMPLETE, /**< ARP sent, no answer yet */
	KDP_NEIGH_REACHABLE,  /**< confirmed recently */
	KDP_NEIGH_PROBE,      /**< still used, being re-confirmed */
};

/** Control-thread view of one neighbour. */
struct kdp_neigh_entry {
	union {
		uint32_t ip;         /**< AF_INET: host order */
		struct kdp_in6 ip6;  /**< AF_INET6: network order */
	};
	uint16_t port;
	uint8_t state; /**< enum kdp_neigh_state */
	uint8_t probes;
	struct rte_ether_addr mac;
	uint64_t confirmed_ms; /**< last confirmation */
	uint64_t next_ms;      /**< next timer action */
	uint16_t nq;
	struct rte_mbuf *q[KDP_NEIGH_QLEN];
};

/** What the table asks its owner to do; all called on the control thread. */
struct kdp_neigh_ops {
	/** Send an ARP request for @p ip on @p port (to @p dst, or broadcast). */
	void (*request)(void *ctx, uint16_t port, uint32_t ip,
			const struct rte_ether_addr *dst);
	/** Send a waiting packet now that its next hop has @p mac. */
	void (*send)(void *ctx, struct rte_mbuf *m,
		     const struct rte_ether_addr *mac);
	/** Free a packet that will not be sent, counting @p reason. */
	void (*drop)(void *ctx, struct rte_mbuf *m, enum kdp_drop reason);
	void *ctx;
	/** AF_INET6 tables: send a neighbour solicitation for @p ip on @p port
	 *  (to @p dst, or to its solicited-node multicast address). */
	void (*request6)(void *ctx, uint16_t port, const struct kdp_in6 *ip,
			 const struct rte_ether_addr *dst);
};

struct kdp_neigh_params {
	uint32_t size;         /**< max neighbours */
	uint32_t reachable_ms; /**< [30000] */
	uint32_t retrans_ms;   /**< [1000] */
	uint32_t max_probes;   /**< [3] */
	int socket;
	struct rte_rcu_qsbr *qsbr; /**< readers' RCU variable (NULL: no readers) */
	int family;            /**< AF_INET [0 means AF_INET] or AF_INET6 */
};

struct kdp_neigh {
	struct rte_hash *h;
	struct kdp_neigh_entry *e; /**< by hash key position */
	struct kdp_neigh_params p;
	struct kdp_neigh_ops ops;
	uint32_t count;
	uint64_t due_ms; /**< no entry's timer fires before (kdp_neigh_tick skips) */
};

/**
 * Creates a table for p->family. An AF_INET6 table needs ops->request6.
 * @return it, or NULL with rte_errno set (EINVAL, ENOMEM, EEXIST for a name
 * in use).
 */
struct kdp_neigh *kdp_neigh_create(const char *name,
				   const struct kdp_neigh_params *p,
				   const struct kdp_neigh_ops *ops);

/** Frees the table and every packet still waiting (NULL is fine). */
void kdp_neigh_free(struct kdp_neigh *nt);

/**
 * Fast path: MACs of @p n (≤ 64) next hops, host order. macs[i] is
 * KDP_NEIGH_VALID | MAC in the low 48 bits, or 0 when unknown/unresolved.
 * A burst usually goes to few next hops: a next hop equal to the one
 * before reuses its answer, and only the others are looked up.
 */
static inline void kdp_neigh_lookup_bulk(const struct kdp_neigh *nt,
					 const uint32_t *ips, unsigned int n,
					 uint64_t *macs)
{
	const void *keys[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t first[RTE_HASH_LOOKUP_BULK_MAX]; /* packet -> its unique key */
	uint64_t hits = 0;
	unsigned int nu = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (i == 0 || ips[i] != ips[i - 1])
			keys[nu++] = &ips[i];
		first[i] = (uint8_t)(nu - 1);
	}
	rte_hash_lookup_bulk_data(nt->h, keys, nu, &hits, data);
	for (unsigned int i = 0; i < n; i++)
		macs[i] = (hits >> first[i]) & 1 ? (uint64_t)(uintptr_t)data[first[i]] : 0;
}

/**
 * kdp_neigh_lookup_bulk() of an AF_INET6 table: @p n (≤ 64) IPv6 next hops.
 */
static inline void kdp_neigh_lookup_bulk6(const struct kdp_neigh *nt,
					  const struct kdp_in6 *ips, unsigned int n,
					  uint64_t *macs)
{
	const void *keys[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t first[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0;
	unsigned int nu = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (i == 0 || !kdp_addr6_eq(&ips[i], &ips[i - 1]))
			keys[nu++] = &ips[i];
		first[i] = (uint8_t)(nu - 1);
	}
	rte_hash_lookup_bulk_data(nt->h, keys, nu, &hits, data);
	for (unsigned int i = 0; i < n; i++)
		macs[i] = (hits >> first[i]) & 1 ? (uint64_t)(uintptr_t)data[first[i]] : 0;
}

/** Packs a MAC into a data word (VALID bit set). */
static inline uint64_t kdp_neigh_pack(const struct rte_ether_addr *mac)
{
	uint64_t v = 0;
	for (int i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		v = (v << 8) | mac->addr_bytes[i];
	return v | KDP_NEIGH_VALID;
}

/** Writes a packed MAC into @p mac (a byte swap and a 6-byte store, per packet). */
static inline void kdp_neigh_unpack(uint64_t v, struct rte_ether_addr *mac)
{
	/* The MAC's first byte is bits 47-40: shifted to the top and swapped
	 * to network order, the six bytes are the word's first six in memory. */
	uint64_t be = rte_cpu_to_be_64(v << 16);

	memcpy(mac->addr_bytes, &be, RTE_ETHER_ADDR_LEN);
}

/**
 * Control thread: a worker could not resolve @p ip for packet @p m bound to
 * @p port. Sends it at once if the entry became valid meanwhile, else queues
 * it (starting resolution). Consumes @p m in every case.
 */
void kdp_neigh_resolve(struct kdp_neigh *nt, uint32_t ip, uint16_t port,
		       struct rte_mbuf *m, uint64_t now_ms);

/**
 * Control thread: learn @p ip at @p mac on @p port from an ARP frame.
 * With @p create false only an existing entry is updated (a request not
 * aimed at us). Flushes the packets waiting for it.
 * @return 0, or -ENOSPC when a new entry did not fit.
 */
int kdp_neigh_learn(struct kdp_neigh *nt, uint32_t ip, uint16_t port,
		    const struct rte_ether_addr *mac, bool create,
		    uint64_t now_ms);

/** kdp_neigh_resolve() of an AF_INET6 table. */
void kdp_neigh_resolve6(struct kdp_neigh *nt, const struct kdp_in6 *ip, uint16_t port,
			struct rte_mbuf *m, uint64_t now_ms);

/** kdp_neigh_learn() of an AF_INET6 table (from a neighbour solicitation or
 *  advertisement). */
int kdp_neigh_learn6(struct kdp_neigh *nt, const struct kdp_in6 *ip, uint16_t port,
		     const struct rte_ether_addr *mac, bool create, uint64_t now_ms);

/** Control thread: runs due timers (retransmit, probe, expire). */
void kdp_neigh_tick(struct kdp_neigh *nt, uint64_t now_ms);

/** Control thread: forgets every entry on @p port (port removed). */
void kdp_neigh_flush_port(struct kdp_neigh *nt, uint16_t port);

/** Control thread: calls @p fn for each entry; stops when it returns != 0. */
int kdp_neigh_foreach(const struct kdp_neigh *nt,
		      int (*fn)(const struct kdp_neigh_entry *e, void *arg),
		      void *arg);

/** Name of a state ("reachable"). */
const char *kdp_neigh_state_name(enum kdp_neigh_state s);

/**
 * Writes an Ethernet+ARP frame into @p m (reset first): @p op is
 * RTE_ARP_OP_REQUEST or RTE_ARP_OP_REPLY. @p eth_dst NULL means broadcast;
 * @p tha NULL means zero. IPs in host order. @return 0 or -ENOSPC.
 */
int kdp_neigh_arp_build(struct rte_mbuf *m, uint16_t op,
			const struct rte_ether_addr *sha, uint32_t sip,
			const struct rte_ether_addr *eth_dst,
			const struct rte_ether_addr *tha, uint32_t tip);

/** Turns a parsed ARP request into its reply, in place, answering @p mac. */
void kdp_neigh_arp_reply_in_place(struct rte_mbuf *m,
				  const struct rte_ether_addr *mac);

/* ---- neighbour discovery messages (RFC 4861 §4.3, §4.4) ---- */

/** Ethernet multicast of an IPv6 multicast address (RFC 2464 §7). */
void kdp_neigh_nd_mcast_mac(const struct kdp_in6 *ip, struct rte_ether_addr *mac);

/** Solicited-node multicast address of @p ip (ff02::1:ffXX:XXXX). */
void kdp_neigh_nd_solicited(const struct kdp_in6 *ip, struct kdp_in6 *out);

/**
 * Writes a neighbour solicitation for @p target into @p m (reset first):
 * from @p sip / @p sha (whose source link-layer option it carries) to
 * @p eth_dst and the target itself (a unicast probe), or, with @p eth_dst
 * NULL, to the target's solicited-node multicast address.
 * @return 0 or -ENOSPC.
 */
int kdp_neigh_nd_build_ns(struct rte_mbuf *m, const struct rte_ether_addr *sha,
			  const struct kdp_in6 *sip, const struct rte_ether_addr *eth_dst,
			  const struct kdp_in6 *target);

/**
 * What a parsed neighbour solicitation or advertisement @p m says: its type
 * (135 or 136), target, the IPv6 source, and the link-layer address of its
 * source (NS) or target (NA) option in @p lla (@p has_lla false when it has
 * none). For NA, @p na_flags gets the R/S/O bits. @return 0, or -EINVAL
 * when an option is malformed (length 0 or past the end).
 */
int kdp_neigh_nd_read(const struct rte_mbuf *m, uint8_t *type, struct kdp_in6 *target,
		      struct kdp_in6 *src, struct rte_ether_addr *lla, bool *has_lla,
		      uint8_t *na_flags);

/** NA flags (first byte of the reserved word). */
#define KDP_ND_NA_ROUTER 0x80
#define KDP_ND_NA_SOLICITED 0x40
#define KDP_ND_NA_OVERRIDE 0x20

/**
 * Turns parsed neighbour solicitation @p m into the solicited advertisement
 * that answers it, in place: target and source = the solicited target,
 * sent to the solicitor (its address and MAC, the option's or the frame's),
 * with @p mac as target link-layer address and the router flag when
 * @p router. The solicitation must not come from :: (the caller ignores
 * those). @return 0 or -ENOSPC.
 */
int kdp_neigh_nd_reply_in_place(struct rte_mbuf *m, const struct rte_ether_addr *mac,
				bool router);

#endif
