/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * kdp-cni: the CNI plugin (spec 1.0.0) that plugs a pod into kdp: a veth
 * pair whose host side kdp opens with its AF_PACKET driver, an address from
 * the IPAM plugin (host-local), a default route through kdp's pod gateway,
 * and the endpoint registered with kdp.
 *
 * The parts, one file each:
 *   kdp_cni.c          the commands (ADD, DEL, CHECK, VERSION), config, result
 *   kdp_cni_netlink.c  links, addresses, routes (rtnetlink), network namespaces
 *   kdp_cni_http.c     HTTP/1.1 over kdp's control socket, and its lock file
 *   kdp_cni_exec.c     running the IPAM plugin as the spec says
 * The binary is linked statically: it runs on the host, whatever the host has.
 */
#ifndef KDP_CNI_H
#define KDP_CNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <jansson.h>

#define KDP_CNI_ERR_LEN 512

/** The CNI error codes this plugin uses (the spec's well-known ones, then its own). */
enum kdp_cni_code {
	KDP_CNI_E_VERSION = 1,	    /**< incompatible CNI version */
	KDP_CNI_E_FIELD = 2,	    /**< unsupported field in the network configuration */
	KDP_CNI_E_UNKNOWN = 3,	    /**< container unknown or does not exist */
	KDP_CNI_E_ENV = 4,	    /**< invalid necessary environment variables */
	KDP_CNI_E_IO = 5,	    /**< I/O failure */
	KDP_CNI_E_DECODE = 6,	    /**< failed to decode content */
	KDP_CNI_E_CONFIG = 7,	    /**< invalid network config */
	KDP_CNI_E_AGAIN = 11,	    /**< try again later (kdp unreachable or busy) */
	KDP_CNI_E_KDP = 100,	    /**< kdp refused the endpoint */
	KDP_CNI_E_NETLINK = 101,    /**< the kernel refused a link, address or route */
	KDP_CNI_E_CHECK = 102,	    /**< CHECK found the container's network not as set up */
};

/* ---- netlink and namespaces (kdp_cni_netlink.c) ---- */

/**
 * Creates the veth pair @p host (in the current namespace) <-> @p peer,
 * created directly in the namespace of @p netns_fd, both with @p mtu.
 * 0 or -errno.
 */
int kdp_cni_veth_create(const char *host, const char *peer, int netns_fd, unsigned int mtu);

/** Deletes link @p name of the current namespace. 0, -ENODEV when missing, or -errno. */
int kdp_cni_link_del(const char *name);

/** Sets link @p name up, with ARP off when @p noarp. 0 or -errno. */
int kdp_cni_link_up(const char *name, bool noarp);

/** The MAC ("aa:bb:...") and ifindex of link @p name. 0 or -errno. */
int kdp_cni_link_info(const char *name, char *mac, size_t len, int *ifindex);

/** The first IPv4 address of link @p name (host order). 0 or -errno. */
int kdp_cni_link_addr(const char *name, uint32_t *addr);

/** Adds @p addr/@p plen (host order) to link @p ifindex. 0 or -errno. */
int kdp_cni_addr_add(int ifindex, uint32_t addr, unsigned int plen);

/** Adds the default route via @p gw, on-link, out of @p ifindex. 0 or -errno. */
int kdp_cni_default_route(int ifindex, uint32_t gw);

/** Adds IPv6 @p addr/@p plen to link @p ifindex, without duplicate address
 *  detection (the IPAM plugin made it unique). 0 or -errno. */
int kdp_cni_addr6_add(int ifindex, const struct in6_addr *addr, unsigned int plen);

/** Adds the IPv6 default route via @p gw, on-link, out of @p ifindex. 0 or -errno. */
int kdp_cni_default_route6(int ifindex, const struct in6_addr *gw);

/** 1 when link @p name has IPv6 address @p addr, 0 when not, or -errno. */
int kdp_cni_link_has_addr6(const char *name, const struct in6_addr *addr);

/** Writes @p value to /proc/sys/@p path (of the current namespace). 0 or -errno. */
int kdp_cni_sysctl(const char *path, const char *value);

/**
 * Runs in the namespace of @p netns_fd: enters it, calls @p fn, returns to
 * the namespace the plugin started in. Returns fn's result, or -errno when
 * a namespace could not be entered.
 */
int kdp_cni_in_netns(int netns_fd, int (*fn)(void *arg), void *arg);

/* ---- kdp (kdp_cni_http.c) ---- */

/**
 * One request to the control socket @p sock. 0 with the status in @p code
 * and the JSON answer in @p out (when there is one and out is not NULL), or
 * -1 when kdp could not be reached (@p err says why).
 */
int kdp_cni_kdp_call(const char *sock, const char *method, const char *path, const char *body,
		     long *code, json_t **out, char *err);

/** Takes the lock file shared (the agent takes it exclusively); -1 if none. */
int kdp_cni_lock(const char *path);
void kdp_cni_unlock(int fd);

/* ---- the IPAM plugin (kdp_cni_exec.c) ---- */

/**
 * Runs the plugin @p type, found in CNI_PATH, with the environment of this
 * process but CNI_COMMAND=@p command and @p conf on its standard input.
 * 0 with its standard output in @p out (a new string), or: -1 when it could
 * not run (@p err), 1 when it failed (its error JSON in @p out).
 */
int kdp_cni_exec_plugin(const char *type, const char *command, const char *conf, char **out,
			char *err);

#endif
