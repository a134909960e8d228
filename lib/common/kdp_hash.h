/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The hash function of kdp's rte_hash tables: CRC32-C over the key
 * (SSE4.2 crc32 when the CPU has it, as rte_hash_crc), with the key read
 * through memcpy so a key at any alignment is a defined load (rte_hash_crc
 * dereferences a uint64_t pointer, which UBSan reports for our 4-byte
 * aligned keys).
 */
#ifndef KDP_HASH_H
#define KDP_HASH_H

#include <stdint.h>
#include <string.h>

#include <rte_hash_crc.h>

/** rte_hash_function: CRC32-C of @p len bytes at @p data, seeded. */
static inline uint32_t kdp_hash_crc(const void *data, uint32_t len, uint32_t init)
{
	const uint8_t *p = data;
	uint32_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, sizeof(v));
		init = rte_hash_crc_8byte(v, init);
	}
	if (i + 4 <= len) {
		uint32_t v;

		memcpy(&v, p + i, sizeof(v));
		init = rte_hash_crc_4byte(v, init);
		i += 4;
	}
	for (; i < len; i++)
		init = rte_hash_crc_1byte(p[i], init);
	return init;
}

#endif
