/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Route stage: IPv4 longest-prefix match (rte_lpm), and IPv6 in a table of
 * its own (rte_lpm6), from destination to a next hop. A table is built whole
 * by the control thread and then only read: workers look it up without
 * locks while it is published through RCU.
 */
#ifndef KDP_ROUTE_H
#define KDP_ROUTE_H

#include <stdint.h>
#include <rte_ether.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

#include "common/kdp_addr.h"

/** What the forwarding code does with a packet that matches a route. */
enum kdp_nh_type {
	KDP_NH_ENDPOINT,    /**< local pod: its port, its MAC */
	KDP_NH_VIA,         /**< uplink, to the gateway address `gw` */
	KDP_NH_CONNECTED,   /**< uplink, the destination is on the node LAN */
	KDP_NH_HOST,        /**< the host tap (the node's own stack) */
	KDP_NH_LOCAL,       /**< an address kdp itself answers (ICMP echo) */
	KDP_NH_NO_ENDPOINT, /**< this node's podCIDR without such a pod: drop */
};

/** Why a route exists, for listings ("endpoint", "remote-node", ...). */
enum kdp_route_kind {
	KDP_RK_ENDPOINT,
	KDP_RK_REMOTE_NODE,
	KDP_RK_GATEWAY,
	KDP_RK_CONNECTED,
	KDP_RK_HOST,
	KDP_RK_LOCAL,
	KDP_RK_LOCAL_PODCIDR,
};

struct kdp_nexthop {
	uint8_t type;              /**< enum kdp_nh_type */
	uint16_t port;             /**< egress port */
	uint32_t gw;               /**< KDP_NH_VIA: gateway, host order */
	struct rte_ether_addr mac; /**< ENDPOINT/HOST: destination MAC */
};

/** One route as configured, kept for listings. */
struct kdp_route_entry {
	uint32_t prefix; /**< host order */
	uint8_t depth;
	uint8_t kind;    /**< enum kdp_route_kind */
	uint32_t nh;     /**< index into the next-hop array */
	char target[96]; /**< node or endpoint name, or "" */
};

struct kdp_route_table {
	struct rte_lpm *lpm;
	struct kdp_nexthop *nh;         /**< next hops, indexed by LPM result */
	struct kdp_route_entry *routes; /**< in insertion order */
	uint32_t n_routes;
	uint32_t max_routes;
	uint32_t default_nh; /**< next hop of 0.0.0.0/0 (rte_lpm takes depth ≥ 1) */
	uint32_t refs;       /**< snapshots sharing it (control thread) */
	uint64_t sig;        /**< hash of what it was built from */
};

#define KDP_ROUTE_MISS UINT32_MAX

/**
 * Creates an empty table for up to @p max_routes routes on @p socket.
 * @p name must be unique among live tables (it names the LPM memzone).
 * @return the table, or NULL with rte_errno set (ENOMEM, EEXIST, EINVAL).
 */
struct kdp_route_table *kdp_route_create(const char *name, uint32_t max_routes,
					 int socket);

/** Frees a table (NULL is fine). Only once no reader can still use it. */
void kdp_route_free(struct kdp_route_table *rt);

/**
 * Empties a table no reader uses any more, for reuse: its routes are
 * deleted one by one (a new table costs a 64 MiB allocation, and freeing
 * one zeroes it). refs becomes 1, sig 0.
 */
void kdp_route_reset(struct kdp_route_table *rt);

/**
 * Adds prefix/depth (host order) with next hop @p nh. A later route for the
 * same prefix replaces the earlier one. Control thread only.
 * @return 0, -ENOSPC when the table is full, -EINVAL for a bad depth.
 */
int kdp_route_add(struct kdp_route_table *rt, uint32_t prefix, uint8_t depth,
		  enum kdp_route_kind kind, const struct kdp_nexthop *nh,
		  const char *target);

/** Listing name of a route kind ("remote-node"). */
const char *kdp_route_kind_name(enum kdp_route_kind kind);

/**
 * Looks up @p n destinations (host order) at once; @p nh_idx[i] gets the
 * next-hop index or KDP_ROUTE_MISS. Lock-free, any thread.
 */
static inline void kdp_route_lookup_bulk(const struct kdp_route_table *rt,
					 const uint32_t *ips, uint32_t *nh_idx,
					 unsigned int n)
{
	rte_lpm_lookup_bulk(rt->lpm, ips, nh_idx, n);
	for (unsigned int i = 0; i < n; i++)
		nh_idx[i] = (nh_idx[i] & RTE_LPM_LOOKUP_SUCCESS) ?
				    (nh_idx[i] & 0x00ffffff) :
				    rt->default_nh;
}

/** Single lookup; returns the next-hop index or KDP_ROUTE_MISS. */
static inline uint32_t kdp_route_lookup(const struct kdp_route_table *rt,
					uint32_t ip)
{
	uint32_t hop;
	return rte_lpm_lookup(rt->lpm, ip, &hop) == 0 ? hop : rt->default_nh;
}

/* ---- IPv6 ---- */

struct kdp_nexthop6 {
	uint8_t type;              /**< enum kdp_nh_type */
	uint16_t port;             /**< egress port */
	struct kdp_in6 gw;         /**< KDP_NH_VIA: gateway */
	struct rte_ether_addr mac; /**< ENDPOINT/HOST: destination MAC */
};

struct kdp_route6_entry {
	struct kdp_in6 prefix; /**< host bits cleared */
	uint8_t depth;
	uint8_t kind;          /**< enum kdp_route_kind */
	uint32_t nh;           /**< index into the next-hop array */
	char target[96];
};

struct kdp_route6_table {
	struct rte_lpm6 *lpm;
	struct kdp_nexthop6 *nh;
	struct kdp_route6_entry *routes;
	uint32_t n_routes;
	uint32_t max_routes;
	uint32_t default_nh; /**< next hop of ::/0 (rte_lpm6 takes depth ≥ 1) */
	uint32_t refs;
	uint64_t sig;
};

/** kdp_route_create() for IPv6 (an rte_lpm6 with @p max_routes tbl8 groups). */
struct kdp_route6_table *kdp_route6_create(const char *name, uint32_t max_routes,
					   int socket);

/** Frees an IPv6 table (NULL is fine). */
void kdp_route6_free(struct kdp_route6_table *rt);

/**
 * kdp_route_add() for IPv6: @p prefix / @p depth (0-128; host bits are
 * cleared). @return 0, -ENOSPC (routes or tbl8 groups), -EINVAL.
 */
int kdp_route6_add(struct kdp_route6_table *rt, const struct kdp_in6 *prefix,
		   uint8_t depth, enum kdp_route_kind kind, const struct kdp_nexthop6 *nh,
		   const char *target);

/** Looks up @p n IPv6 destinations at once, as kdp_route_lookup_bulk(). */
static inline void kdp_route6_lookup_bulk(const struct kdp_route6_table *rt,
					  const struct kdp_in6 *ips, uint32_t *nh_idx,
					  unsigned int n)
{
	int32_t hop[64];

	rte_lpm6_lookup_bulk_func(rt->lpm, (uint8_t(*)[RTE_LPM6_IPV6_ADDR_SIZE])(uintptr_t)ips,
				  hop, n);
	for (unsigned int i = 0; i < n; i++)
		nh_idx[i] = hop[i] >= 0 ? (uint32_t)hop[i] : rt->default_nh;
}

/** Single IPv6 lookup; the next-hop index or KDP_ROUTE_MISS. */
static inline uint32_t kdp_route6_lookup(const struct kdp_route6_table *rt,
					 const struct kdp_in6 *ip)
{
	uint32_t hop;

	return rte_lpm6_lookup(rt->lpm, ip->b, &hop) == 0 ? hop : rt->default_nh;
}

#endif
