/* SPDX-License-Identifier: BSD-3-Clause */
#include <stddef.h>
#include <netinet/in.h>

#include <rte_errno.h>

#include "kdp_ct6.h"

_Static_assert(sizeof(struct kdp_ct6_key) == 40, "IPv6 tuple layout");
_Static_assert(offsetof(struct kdp_ct6_key, proto) == sizeof(struct kdp_ct6_key) - 4,
	       "the protocol where kdp_ct.c looks for it");
_Static_assert(sizeof(struct kdp_ct6_entry) == 144, "IPv6 entry layout");
_Static_assert(offsetof(struct kdp_ct6_entry, st) == 2 * sizeof(struct kdp_ct6_key) &&
	       offsetof(struct kdp_ct6_entry, check) ==
		       offsetof(struct kdp_ct6_entry, st) + offsetof(struct kdp_ct_state, check),
	       "IPv6 entry = tuples + state");
_Static_assert(offsetof(struct kdp_ct6, c) == 0, "a struct kdp_ct");

struct kdp_ct6 *kdp_ct6_create(const char *name, const struct kdp_ct_params *p)
{
	if (p->max_flows > (1u << 24)) {
		rte_errno = EINVAL;
		return NULL;
	}
	return (struct kdp_ct6 *)kdp_ct_create_any(name, p, sizeof(struct kdp_ct6_key),
						   sizeof(struct kdp_ct6_entry), IPPROTO_ICMPV6);
}

struct foreach6 {
	int (*fn)(const struct kdp_ct6_entry *e, void *arg);
	void *arg;
};

static int foreach6_one(const void *e, void *arg)
{
	struct foreach6 *f = arg;

	return f->fn(e, f->arg);
}

int kdp_ct6_foreach(struct kdp_ct6 *ct, int (*fn)(const struct kdp_ct6_entry *e, void *arg),
		    void *arg)
{
	struct foreach6 f = {fn, arg};

	return kdp_ct_foreach_any(&ct->c, foreach6_one, &f);
}
