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

/* CRC32-C of one 8-byte word: the crc32 instruction itself where the build
 * targets SSE4.2 (DPDK's x86-64 baseline), without rte_hash_crc's test of
 * the CPU at every call; the same value either way. */
static inline uint32_t kdp_hash_crc8(uint64_t v, uint32_t init)
{
#if defined(RTE_ARCH_X86_64) && defined(__SSE4_2__)
	return (uint32_t)__builtin_ia32_crc32di(init, v);
#else
	return rte_hash_crc_8byte(v, init);
#endif
}

/** rte_hash_function: CRC32-C of @p len bytes at @p data, seeded. */
static inline uint32_t kdp_hash_crc(const void *data, uint32_t len, uint32_t init)
{
	const uint8_t *p = data;
	uint32_t i;

	if (likely(len == 16)) { /* an IPv4 conntrack key */
		uint64_t a, b;

		memcpy(&a, p, sizeof(a));
		memcpy(&b, p + 8, sizeof(b));
		return kdp_hash_crc8(b, kdp_hash_crc8(a, init));
	}
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, sizeof(v));
		init = kdp_hash_crc8(v, init);
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
