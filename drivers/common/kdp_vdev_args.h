/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What kdp's own vdev drivers share to read their devargs.
 */
#ifndef KDP_VDEV_ARGS_H
#define KDP_VDEV_ARGS_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <rte_log.h>

/**
 * An unsigned decimal of @p key's @p value into *@p out; otherwise logs
 * "<driver>: <key>: '<value>' is not a number" at ERR on @p logtype and
 * returns -EINVAL.
 */
static inline int kdp_vdev_arg_uint(const char *driver, int logtype, const char *key,
				    const char *value, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v > UINT32_MAX) {
		rte_log(RTE_LOG_ERR, (uint32_t)logtype, "%s: %s: '%s' is not a number\n", driver,
			key, value);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

#endif
