/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The ip-masq-agent config (the file of the kube-system/ip-masq-agent
 * ConfigMap, or PUT /v1/ipmasq) and the non-masquerade set it gives.
 * Control thread only; nothing here is on the fast path.
 *
 * What the references say (checked against the sources, not guessed):
 *
 * - Cilium docs (network/concepts/masquerading, "eBPF-based"): the eBPF
 *   ip-masq-agent (ipMasqAgent.enabled=true) supports nonMasqueradeCIDRs,
 *   masqLinkLocal and masqLinkLocalIPv6. "If the configuration file is
 *   empty, the agent will provision the following non-masquerade CIDRs":
 *   10/8, 172.16/12, 192.168/16, 100.64/10, 192.0.0/24, 192.0.2/24,
 *   192.88.99/24, 198.18/15, 198.51.100/24, 203.0.113/24, 240/4. "In
 *   addition, if the masqLinkLocal is not set or set to false, then
 *   169.254.0.0/16 is appended". resyncInterval is unnecessary (fsnotify).
 *   Without the agent, pods' packets to the native routing CIDR and to
 *   other cluster nodes are not masqueraded.
 * - Cilium pkg/ipmasq/ipmasq.go: a zero-byte file, or a missing file, is
 *   "empty" (defaults); any other file is read as YAML-or-JSON and its
 *   nonMasqueradeCIDRs used as given, so a file without the key (or with
 *   "{}" or "nonMasqueradeCIDRs: []") gives no defaults, only link-local.
 *   Unknown keys are ignored; host bits of a CIDR are masked off.
 * - kubernetes-sigs/ip-masq-agent README and cmd/ip-masq-agent: keys
 *   nonMasqueradeCIDRs, cidrLimit [64], masqLinkLocal [false],
 *   masqLinkLocalIPv6 [false], resyncInterval [60s, a Go duration]. It
 *   starts from its defaults (RFC 1918 only, or all reserved ranges with
 *   --nomasq-all-reserved-ranges) and a file overrides only the keys it
 *   gives; a missing file keeps the defaults; a CIDR with host bits is an
 *   error ("not aligned to a CIDR block"). 169.254.0.0/16 is non-masquerade
 *   unless masqLinkLocal is true.
 *
 * kdp follows DESIGN.md §2, which is Cilium's behaviour: no config (the agent
 * off) adds nothing; an empty config gives the eleven reserved ranges; a
 * config without nonMasqueradeCIDRs gives none; any config adds
 * 169.254.0.0/16 unless masqLinkLocal. Where kdp is stricter than both
 * agents: unknown keys are errors; CIDRs must have no host bits (as the
 * Kubernetes agent); a text of only blanks and comments is "empty" (Cilium
 * only counts a zero-byte file).
 *
 * IPv6 (Cilium's pkg/ipmasq with IPv6 on): nonMasqueradeCIDRs may hold IPv6
 * prefixes, which go to the IPv6 set; an empty config gives no IPv6
 * reserved ranges; any config adds fe80::/10 unless masqLinkLocalIPv6. The
 * IPv6 set always holds the IPv6 native routing CIDR and every node's IPv6
 * address.
 */
#ifndef KDP_IPMASQ_H
#define KDP_IPMASQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "kdp_json.h"
#include "masq/kdp_masq.h"

/** Most nonMasqueradeCIDRs a config may list. */
#define KDP_IPMASQ_MAX 4096

/** Most IPv6 nonMasqueradeCIDRs a config may list. */
#define KDP_IPMASQ_MAX6 1024

/** Prefixes an empty config gives (the reserved ranges). */
#define KDP_IPMASQ_N_DEFAULTS 11

struct kdp_ipmasq {
	bool present;         /**< a config exists (false: the agent is off) */
	bool empty;           /**< it exists but holds nothing: the defaults */
	bool has_cidrs;       /**< the nonMasqueradeCIDRs key was given */
	unsigned int n_cidrs;
	uint32_t cidr[KDP_IPMASQ_MAX]; /**< host order, as given */
	uint8_t plen[KDP_IPMASQ_MAX];
	unsigned int n_cidrs6;     /**< IPv6 ones (n_cidrs + n_cidrs6 ≤ KDP_IPMASQ_MAX) */
	struct kdp_in6 cidr6[KDP_IPMASQ_MAX6];
	uint8_t plen6[KDP_IPMASQ_MAX6];
	bool masq_link_local;      /**< masqLinkLocal [false] */
	bool masq_link_local_ipv6; /**< masqLinkLocalIPv6 [false] */
	/** The text it was parsed from (a JSON string, referenced by the
	 *  states holding it), or NULL when it came as an object. The parse
	 *  functions leave it NULL; whoever keeps the config sets it. */
	json_t *text;
};

/**
 * Parses the config file text (@p len bytes, NUL not needed). Text whose
 * first non-blank character is '{' is JSON; anything else is the YAML subset
 * the ConfigMap file uses: top-level "key: value" lines, a block list of
 * "- a.b.c.d/n" lines (any indentation) or a flow list "[a, b]" for
 * nonMasqueradeCIDRs, '#' comments, blank lines, optional quotes around
 * strings. Keys: nonMasqueradeCIDRs (strict IPv4 or IPv6 CIDRs), masqLinkLocal and
 * masqLinkLocalIPv6 (true/false), resyncInterval (a string, ignored).
 * Empty text, or only blanks and comments, is an empty config.
 * On success @p out->present is true.
 * @return 0, or -EINVAL with @p err naming the field ("line 3:
 * nonMasqueradeCIDRs[1]: not a CIDR ..." for YAML).
 */
int kdp_ipmasq_parse(const char *text, size_t len, struct kdp_ipmasq *out,
		     char *err);

/**
 * Parses the config given inside a JSON document (the ipMasqAgent of PUT
 * /v1/state): an object with the agent's keys, or a string holding the whole
 * file text (parsed as kdp_ipmasq_parse does; "" is the empty config).
 * Errors are prefixed with @p path ("ipMasqAgent.nonMasqueradeCIDRs[0]").
 * @return 0 or -EINVAL with @p err.
 */
int kdp_ipmasq_parse_json(const json_t *v, const char *path,
			  struct kdp_ipmasq *out, char *err);

/**
 * The config for GET /v1/ipmasq and the state file, so that parsing it back
 * gives the same set: JSON null when @p cfg is NULL or not present; the
 * string "" for an empty config (an object with keys would not be empty);
 * otherwise an object with nonMasqueradeCIDRs (when given), masqLinkLocal,
 * and masqLinkLocalIPv6 when true. New reference, or NULL on ENOMEM.
 */
json_t *kdp_ipmasq_json(const struct kdp_ipmasq *cfg);

/** Distinct prefixes kdp_ipmasq_build may add: size for kdp_masq_set_create. */
uint32_t kdp_ipmasq_set_size(const struct kdp_ipmasq *cfg, unsigned int n_nodes);

/**
 * Fills the (new, empty) non-masquerade set @p out: always the native
 * routing CIDR and every node IP as a /32; then, when @p cfg is present
 * (NULL or !present: the agent is off, nothing more), its
 * nonMasqueradeCIDRs, or the KDP_IPMASQ_N_DEFAULTS reserved ranges when it
 * is empty, and 169.254.0.0/16 unless masqLinkLocal.
 * @return 0, -ENOSPC when @p out is too small (see kdp_ipmasq_set_size),
 * -EINVAL for a bad prefix length.
 */
int kdp_ipmasq_build(const struct kdp_ipmasq *cfg, uint32_t native_cidr,
		     uint8_t native_plen, const uint32_t *node_ips,
		     unsigned int n_nodes, struct kdp_masq_set *out);

/** IPv6 prefixes kdp_ipmasq_build6 may add: size for kdp_masq_set6_create. */
uint32_t kdp_ipmasq_set6_size(const struct kdp_ipmasq *cfg, unsigned int n_nodes);

/**
 * kdp_ipmasq_build() for the IPv6 set @p out: the IPv6 native routing CIDR,
 * each of the @p n_nodes node addresses as a /128, then (config present)
 * its IPv6 nonMasqueradeCIDRs and fe80::/10 unless masqLinkLocalIPv6. An
 * empty config adds no IPv6 reserved range (as Cilium).
 * @return 0, -ENOSPC, -ENOMEM or -EINVAL.
 */
int kdp_ipmasq_build6(const struct kdp_ipmasq *cfg, const struct kdp_in6 *native_cidr,
		      uint8_t native_plen, const struct kdp_in6 *node_ips, unsigned int n_nodes,
		      struct kdp_masq_set6 *out);

#endif
