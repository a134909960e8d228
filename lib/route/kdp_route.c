/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "common/kdp_lpm.h"
#include "kdp_route.h"

struct kdp_route_table *kdp_route_create(const char *name, uint32_t max_routes,
					 int socket)
{
	struct kdp_route_table *rt;

	if (max_routes == 0 || max_routes > (1u << 24)) {
		rte_errno = EINVAL;
		return NULL;
	}
	rt = rte_zmalloc_socket("kdp_route", sizeof(*rt), 0, socket);
	if (rt == NULL)
		goto nomem;
	rt->max_routes = max_routes;
	rt->default_nh = KDP_ROUTE_MISS;
	rt->refs = 1;
	rt->nh = rte_zmalloc_socket("kdp_route_nh",
				    sizeof(*rt->nh) * max_routes, 0, socket);
	rt->routes = rte_zmalloc_socket("kdp_route_list",
					sizeof(*rt->routes) * max_routes, 0,
					socket);
	if (rt->nh == NULL || rt->routes == NULL)
		goto nomem;
	rt->lpm = kdp_lpm_create(name, max_routes, socket);
	if (rt->lpm == NULL) {
		int err = rte_errno;
		kdp_route_free(rt);
		rte_errno = err;
		return NULL;
	}
	return rt;
nomem:
	kdp_route_free(rt);
	rte_errno = ENOMEM;
	return NULL;
}

void kdp_route_free(struct kdp_route_table *rt)
{
	if (rt == NULL)
		return;
	rte_lpm_free(rt->lpm);
	rte_free(rt->nh);
	rte_free(rt->routes);
	rte_free(rt);
}

void kdp_route_reset(struct kdp_route_table *rt)
{
	for (uint32_t i = 0; i < rt->n_routes; i++)
		if (rt->routes[i].depth > 0)
			rte_lpm_delete(rt->lpm, rt->routes[i].prefix, rt->routes[i].depth);
	rt->n_routes = 0;
	rt->default_nh = KDP_ROUTE_MISS;
	rt->refs = 1;
	rt->sig = 0;
}

int kdp_route_add(struct kdp_route_table *rt, uint32_t prefix, uint8_t depth,
		  enum kdp_route_kind kind, const struct kdp_nexthop *nh,
		  const char *target)
{
	struct kdp_route_entry *e = NULL;
	int ret;

	if (depth > 32)
		return -EINVAL;
	prefix = kdp_lpm_mask(prefix, depth);
	for (uint32_t i = 0; i < rt->n_routes; i++)
		if (rt->routes[i].prefix == prefix &&
		    rt->routes[i].depth == depth)
			e = &rt->routes[i];
	if (e == NULL) {
		if (rt->n_routes == rt->max_routes)
			return -ENOSPC;
		e = &rt->routes[rt->n_routes];
		e->nh = rt->n_routes++;
	}
	e->prefix = prefix;
	e->depth = depth;
	e->kind = (uint8_t)kind;
	snprintf(e->target, sizeof(e->target), "%s", target ? target : "");
	rt->nh[e->nh] = *nh;
	if (depth == 0) {
		rt->default_nh = e->nh;
		return 0;
	}
	ret = rte_lpm_add(rt->lpm, prefix, depth, e->nh);
	return ret < 0 ? ret : 0;
}

const char *kdp_route_kind_name(enum kdp_route_kind kind)
{
	static const char *const names[] = {
		[KDP_RK_ENDPOINT] = "endpoint",
		[KDP_RK_REMOTE_NODE] = "remote-node",
		[KDP_RK_GATEWAY] = "gateway",
		[KDP_RK_CONNECTED] = "connected",
		[KDP_RK_HOST] = "host",
		[KDP_RK_LOCAL] = "local",
		[KDP_RK_LOCAL_PODCIDR] = "local-podcidr",
	};
	return (unsigned int)kind < RTE_DIM(names) ? names[kind] : "unknown";
}

struct kdp_route6_table *kdp_route6_create(const char *name, uint32_t max_routes,
					   int socket)
{
	struct rte_lpm6_config cfg = {
		.max_rules = max_routes,
		/* A prefix takes up to 13 tbl8 groups, but routes share the
		 * groups of their common leading bytes: pods of one /64 and
		 * podCIDRs of one cluster pool need a few each. */
		.number_tbl8s = max_routes < 1024 ? 1024 : max_routes,
	};
	struct kdp_route6_table *rt;

	if (max_routes == 0 || max_routes > (1u << 20)) {
		rte_errno = EINVAL;
		return NULL;
	}
	rt = rte_zmalloc_socket("kdp_route6", sizeof(*rt), 0, socket);
	if (rt == NULL)
		goto nomem;
	rt->max_routes = max_routes;
	rt->default_nh = KDP_ROUTE_MISS;
	rt->refs = 1;
	rt->nh = rte_zmalloc_socket("kdp_route6_nh", sizeof(*rt->nh) * max_routes, 0, socket);
	rt->routes = rte_zmalloc_socket("kdp_route6_list", sizeof(*rt->routes) * max_routes,
					0, socket);
	if (rt->nh == NULL || rt->routes == NULL)
		goto nomem;
	rt->lpm = rte_lpm6_create(name, socket, &cfg);
	if (rt->lpm == NULL) {
		int err = rte_errno;
		kdp_route6_free(rt);
		rte_errno = err;
		return NULL;
	}
	return rt;
nomem:
	kdp_route6_free(rt);
	rte_errno = ENOMEM;
	return NULL;
}

void kdp_route6_free(struct kdp_route6_table *rt)
{
	if (rt == NULL)
		return;
	rte_lpm6_free(rt->lpm);
	rte_free(rt->nh);
	rte_free(rt->routes);
	rte_free(rt);
}

int kdp_route6_add(struct kdp_route6_table *rt, const struct kdp_in6 *prefix,
		   uint8_t depth, enum kdp_route_kind kind, const struct kdp_nexthop6 *nh,
		   const char *target)
{
	struct kdp_route6_entry *e = NULL;
	struct kdp_in6 p = *prefix;
	int ret;

	if (depth > 128)
		return -EINVAL;
	kdp_addr6_mask(&p, depth);
	for (uint32_t i = 0; i < rt->n_routes; i++)
		if (rt->routes[i].depth == depth && kdp_addr6_eq(&rt->routes[i].prefix, &p))
			e = &rt->routes[i];
	if (e == NULL) {
		if (rt->n_routes == rt->max_routes)
			return -ENOSPC;
		e = &rt->routes[rt->n_routes];
		e->nh = rt->n_routes++;
	}
	e->prefix = p;
	e->depth = depth;
	e->kind = (uint8_t)kind;
	snprintf(e->target, sizeof(e->target), "%s", target ? target : "");
	rt->nh[e->nh] = *nh;
	if (depth == 0) {
		rt->default_nh = e->nh;
		return 0;
	}
	ret = rte_lpm6_add(rt->lpm, p.b, depth, e->nh);
	return ret < 0 ? ret : 0;
}
