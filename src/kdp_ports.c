/* SPDX-License-Identifier: BSD-3-Clause */
/* Ports: every port is a DPDK vdev opened from a devargs string at start-up
 * (uplink, host tap) or at run time (endpoints, by hot-plug). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_log.h>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/kdp_addr.h"
#include "kdp_devargs.h"
#include "kdp.h"

#define RX_DESC_UPLINK 1024
#define RX_DESC_OTHER 256
#define TX_DESC 512
#define KDP_POD_TX_FRAMES 128u

/* Writes the devargs kdp probes: a unique name for a bare driver name, one
 * queue pair per worker for af_packet unless the caller chose, and for a
 * pod's net_kdp_afp port, unless its devargs say: one receiving queue (a
 * pod's traffic is one worker's; the others only transmit to it), an RX ring
 * of tables.podRingFrames slots and TX rings of KDP_POD_TX_FRAMES (kdp kicks
 * the kernel after every burst). Each ring is frames x 2 KiB of memory. */
static int make_devargs(struct kdp *k, const char *devargs, enum kdp_port_role role,
			char *out, size_t len, char *name, size_t nlen)
{
	size_t n = strcspn(devargs, ",");
	const char *rest = devargs + n;
	int w;

	if (n >= nlen)
		return -ENAMETOOLONG;
	memcpy(name, devargs, n);
	name[n] = '\0';
	for (unsigned int i = 0; i < k->cfg.n_drivers; i++)
		if (strcmp(name, k->cfg.drivers[i]) == 0) {
			if (snprintf(name, nlen, "%s_kdp%u", k->cfg.drivers[i],
				     k->port_seq++) >= (int)nlen)
				return -ENAMETOOLONG;
			break;
		}
	w = snprintf(out, len, "%s%s", name, rest);
	if ((strncmp(name, "net_af_packet", 13) == 0 || strncmp(name, "net_kdp_afp", 11) == 0) &&
	    !strstr(rest, "qpairs="))
		w = snprintf(out, len, "%s%s,qpairs=%u", name, rest,
			     k->cfg.workers);
	if (role == KDP_PORT_POD && strncmp(name, "net_kdp_afp", 11) == 0) {
		if (w < (int)len && !strstr(rest, ",rxqs="))
			w += snprintf(out + w, len - (size_t)w, ",rxqs=1");
		if (w < (int)len && !strstr(rest, ",framecnt="))
			w += snprintf(out + w, len - (size_t)w, ",framecnt=%u,txframecnt=%u",
				      k->cfg.pod_ring_frames,
				      RTE_MIN(k->cfg.pod_ring_frames, KDP_POD_TX_FRAMES));
	}
	return w >= (int)len ? -ENAMETOOLONG : 0;
}

/* A host tap that already exists (another kdp has it: a hand-over) keeps
 * its MAC: net_tap would give it a random one, and the node's stack would
 * drop what the other kdp still sends it. */
static void keep_tap_mac(const char *devargs, char *args, size_t len)
{
	char iface[IF_NAMESIZE + 1], mac[KDP_MAC_STRLEN];
	struct ifreq ifr;
	size_t used = strlen(args);
	int s;

	if (strncmp(devargs, "net_tap", 7) != 0 || strstr(devargs, "mac=") != NULL ||
	    !kdp_devargs_iface(devargs, iface, sizeof(iface)) || if_nametoindex(iface) == 0)
		return;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	if (s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0) {
		kdp_addr_fmt_mac((const struct rte_ether_addr *)ifr.ifr_hwaddr.sa_data, mac,
				 sizeof(mac));
		snprintf(args + used, len - used, ",mac=%s", mac);
	}
	if (s >= 0)
		close(s);
}

static void unplug(const char *name)
{
	rte_eal_hotplug_remove("vdev", name);
}

int kdp_port_open(struct kdp *k, const char *devargs, enum kdp_port_role role,
		  char *err)
{
	char args[KDP_DEVARGS_LEN + 32], name[RTE_DEV_NAME_MAX_LEN];
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_eth_rxconf rxconf;
	struct rte_mempool *pools[2] = {k->pool, k->pool_large};
	bool lro = false;
	uint16_t pid, nrxq, ntxq = (uint16_t)k->cfg.workers;
	struct kdp_port *p;
	int ret, sock;

	ret = make_devargs(k, devargs, role, args, sizeof(args), name, sizeof(name));
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "devargs: '%s' is too long", devargs);
		return ret;
	}
	if (role == KDP_PORT_HOST)
		keep_tap_mac(devargs, args, sizeof(args));
	if (rte_eth_dev_get_port_by_name(name, &pid) == 0) {
		snprintf(err, KDP_ERR_LEN, "devargs: a port named '%s' is already open",
			 name);
		return -EEXIST;
	}
	ret = rte_dev_probe(args);
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "devargs: DPDK could not open '%s': %s%s", args,
			 rte_strerror(-ret),
			 ret == -ENODEV ? " (no such interface, or not in kdp's network namespace)" : "");
		return ret;
	}
	if (rte_eth_dev_get_port_by_name(name, &pid) != 0) {
		snprintf(err, KDP_ERR_LEN, "devargs: '%s' did not create an ethdev port",
			 args);
		unplug(name);
		return -ENODEV;
	}
	ret = rte_eth_dev_info_get(pid, &info);
	if (ret != 0)
		goto fail_info;
	if (info.max_tx_queues < ntxq) {
		snprintf(err, KDP_ERR_LEN,
			 "devargs: '%s' has %u TX queue(s); kdp needs one per worker (%u)",
			 args, info.max_tx_queues, ntxq);
		ret = -ENOTSUP;
		goto fail;
	}
	nrxq = (uint16_t)RTE_MIN(info.max_rx_queues, ntxq);
	memset(&conf, 0, sizeof(conf));
	/* Partial L4 checksums (from kernel senders with checksum offload) are
	 * handed to a port that can finish them; kdp finishes them for others. */
	if ((info.tx_offload_capa & KDP_PORT_TX_CSUM) == KDP_PORT_TX_CSUM)
		conf.txmode.offloads |= KDP_PORT_TX_CSUM;
	/* A NIC checks IPv4 header checksums as it receives and says so in
	 * each mbuf (RX_IP_CKSUM_GOOD or _BAD): parse then skips its own sum.
	 * net_tap's "offload" is that sum in software, over the L4 bytes too,
	 * and takes the kernel's partial checksums for bad ones: not asked. */
	if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) &&
	    strcmp(info.driver_name, "net_tap") != 0)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	/* TCP super-frames kept whole from a kernel sender to a kernel
	 * receiver: a port that delivers them in a second, large pool (LRO)
	 * and takes them back whole (TSO). Only kdp's own driver for now: a
	 * NIC's TSO wants another pseudo-header sum and was not tested. */
	if (strcmp(info.driver_name, "net_kdp_afp") == 0 && k->pool_large != NULL &&
	    (conf.txmode.offloads & KDP_PORT_TX_CSUM)) {
		lro = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_LRO) &&
		      info.max_rx_mempools >= 2;
		if (lro) {
			conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_LRO;
			conf.rxmode.max_lro_pkt_size = info.max_lro_pkt_size;
		}
		if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO)
			conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
	}
	memset(&rxconf, 0, sizeof(rxconf));
	rxconf.offloads = conf.rxmode.offloads;
	rxconf.rx_mempools = pools;
	rxconf.rx_nmempool = 2;
	sock = rte_eth_dev_socket_id(pid);
	if (sock < 0)
		sock = 0;
	ret = rte_eth_dev_configure(pid, nrxq, ntxq, &conf);
	for (uint16_t q = 0; ret == 0 && q < nrxq; q++)
		ret = rte_eth_rx_queue_setup(pid, q,
					     role == KDP_PORT_UPLINK ? RX_DESC_UPLINK
								     : RX_DESC_OTHER,
					     (unsigned int)sock, lro ? &rxconf : NULL,
					     lro ? NULL : k->pool);
	for (uint16_t q = 0; ret == 0 && q < ntxq; q++)
		ret = rte_eth_tx_queue_setup(pid, q, TX_DESC, (unsigned int)sock,
					     NULL);
	if (ret == 0)
		ret = rte_eth_dev_start(pid);
	if (ret != 0)
		goto fail_info;
	rte_eth_promiscuous_enable(pid); /* not every PMD has it; fine */
	if (strncmp(name, "net_af_packet", 13) == 0)
		RTE_LOG(WARNING, USER1,
			"port %s: DPDK's net_af_packet does not tell partial checksums or "
			"GSO frames; NATed traffic from kernel senders with checksum offload "
			"(veths by default) breaks. Use net_kdp_afp for kernel interfaces.\n",
			name);

	p = &k->ports[pid];
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->role = (uint8_t)role;
	p->nrxq = nrxq;
	p->ntxq = ntxq;
	p->tx_csum = (conf.txmode.offloads & KDP_PORT_TX_CSUM) == KDP_PORT_TX_CSUM;
	p->rx_lro = lro;
	p->tx_tso = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0;
	p->rx_ip_csum = (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->devargs, sizeof(p->devargs), "%s", devargs);
	rte_eth_macaddr_get(pid, &p->mac);
	return pid;

fail_info:
	snprintf(err, KDP_ERR_LEN, "devargs: could not set up '%s': %s", args,
		 rte_strerror(-ret));
fail:
	rte_eth_dev_stop(pid);
	rte_eth_dev_close(pid);
	unplug(name);
	return ret;
}

void kdp_port_close(struct kdp *k, uint16_t port)
{
	struct kdp_port *p = &k->ports[port];
	char name[RTE_DEV_NAME_MAX_LEN];

	if (!p->used)
		return;
	snprintf(name, sizeof(name), "%s", p->name);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	unplug(name);
	memset(p, 0, sizeof(*p));
}

unsigned int kdp_port_max_endpoints(const struct kdp *k)
{
	unsigned int fixed = 1 + (k->cfg.host_devargs[0] != '\0');
	return RTE_MAX_ETHPORTS - fixed;
}

bool kdp_port_is_up(const struct kdp *k, uint16_t port)
{
	const struct kdp_port *p = &k->ports[port];
	char name[IF_NAMESIZE + 1];
	struct rte_eth_link link;

	/* af_packet and tap report their link as always up: look at the
	 * kernel interface they sit on, which may have been deleted. */
	if (strstr(p->devargs, "iface=") != NULL &&
	    (!kdp_devargs_iface(p->devargs, name, sizeof(name)) || if_nametoindex(name) == 0))
		return false;
	if (rte_eth_link_get_nowait(port, &link) != 0)
		return false;
	return link.link_status == RTE_ETH_LINK_UP;
}

void kdp_port_watch(struct kdp *k)
{
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		struct kdp_port *kp = &k->ports[p];
		bool up;

		if (!kp->used)
			continue;
		up = kdp_port_is_up(k, p);
		if (up != !kp->down) {
			RTE_LOG(WARNING, USER1, "port %s (%s) is %s\n", kp->name, kp->devargs,
				up ? "up again" : "down: its interface is gone or down");
			kp->down = !up;
		}
	}
}

/* ethdev's own names, which the other port counters already show. */
static bool generic_xstat(const char *n)
{
	static const char *const basic[] = {
		"rx_good_packets", "tx_good_packets", "rx_good_bytes", "tx_good_bytes",
		"rx_missed_errors", "rx_errors", "tx_errors", "rx_mbuf_allocation_errors"};

	for (size_t i = 0; i < RTE_DIM(basic); i++)
		if (strcmp(n, basic[i]) == 0)
			return true;
	return (strncmp(n, "rx_q", 4) == 0 || strncmp(n, "tx_q", 4) == 0) &&
	       n[4] >= '0' && n[4] <= '9';
}

int kdp_port_driver_counters(uint16_t port,
			     void (*fn)(void *arg, const char *name, uint64_t value),
			     void *arg)
{
	int n = rte_eth_xstats_get_names(port, NULL, 0), got;
	struct rte_eth_xstat_name *names;
	struct rte_eth_xstat *vals;

	if (n <= 0)
		return n;
	names = calloc((size_t)n, sizeof(*names));
	vals = calloc((size_t)n, sizeof(*vals));
	if (names == NULL || vals == NULL) {
		free(names);
		free(vals);
		return -ENOMEM;
	}
	got = rte_eth_xstats_get_names(port, names, (unsigned int)n);
	if (got == n)
		got = rte_eth_xstats_get(port, vals, (unsigned int)n);
	for (int i = 0; got == n && i < n; i++)
		if (vals[i].id < (uint64_t)n && !generic_xstat(names[vals[i].id].name))
			fn(arg, names[vals[i].id].name, vals[i].value);
	free(names);
	free(vals);
	return got == n ? 0 : -EIO;
}

const char *kdp_port_role_name(uint8_t role)
{
	switch (role) {
	case KDP_PORT_UPLINK:
		return "uplink";
	case KDP_PORT_HOST:
		return "host";
	case KDP_PORT_POD:
		return "endpoint";
	default:
		return "none";
	}
}

int kdp_port_tap_detach(const struct kdp *k, uint16_t port, int *fds, unsigned int max)
{
	char iface[IF_NAMESIZE + 1], link[64], path[64];
	unsigned int n = 0;
	struct dirent *de;
	DIR *d;

	if (!kdp_devargs_iface(k->ports[port].devargs, iface, sizeof(iface)))
		return 0;
	d = opendir("/proc/self/fd");
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL && n < max) {
		struct ifreq ifr;
		int fd = atoi(de->d_name);
		ssize_t l;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0 || fd <= 2)
			continue;
		link[l] = '\0';
		memset(&ifr, 0, sizeof(ifr));
		/* A queue fd of our tap (a detached one, such as net_tap's
		 * keep-alive fd, answers TUNGETIFF with an error). */
		if (strcmp(link, "/dev/net/tun") != 0 || ioctl(fd, TUNGETIFF, &ifr) != 0 ||
		    strncmp(ifr.ifr_name, iface, IF_NAMESIZE) != 0)
			continue;
		ifr.ifr_flags = IFF_DETACH_QUEUE;
		if (ioctl(fd, TUNSETQUEUE, &ifr) == 0)
			fds[n++] = fd;
	}
	closedir(d);
	return (int)n;
}

void kdp_port_tap_attach(const int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct ifreq ifr;

		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_ATTACH_QUEUE;
		if (ioctl(fds[i], TUNSETQUEUE, &ifr) != 0)
			RTE_LOG(WARNING, USER1, "host tap: cannot attach queue fd %d again: %s\n",
				fds[i], strerror(errno));
	}
}

uint64_t kdp_port_missed(const struct kdp *k)
{
	uint64_t n = 0;

	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		struct rte_eth_stats es;

		if (k->ports[p].used && rte_eth_stats_get(p, &es) == 0)
			n += es.imissed;
	}
	return n;
}
