/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_kdp_replay: a benchmark port whose I/O costs what a NIC's costs the
 * CPU, so that a benchmark through the real daemon measures kdp and not its
 * test driver. Not for nodes: it is in no default allowedDrivers.
 *
 * Receive takes mbufs from the queue's pool in bulk and sets only the
 * fields of their first cache line, from a template word, as the vector
 * receive paths of NIC PMDs rearm theirs (a freed mbuf already has one
 * segment and no next), and writes one frame of a pcap into each (where a
 * NIC would have DMAed it; here a copy of a cache line or two), in a loop
 * over the file. With RX IPv4 checksum offload on (kdp asks for it), each
 * IPv4 frame comes flagged RX_IP_CKSUM_GOOD or _BAD as a NIC's hardware
 * would flag it: the header sums are taken once, when the file is read.
 * Transmit frees the mbufs in bulk, as a NIC's PMD
 * does when its descriptors complete, and counts them. net_pcap, by
 * contrast, copies each frame into an mbuf allocated one at a time and
 * frees what it "sends" one at a time, with per-packet statistics.
 *
 * devargs: net_kdp_replay<N>,pcap=<file>[,queues=<n>][,loop=0|1]
 *   pcap    classic pcap (microsecond or nanosecond, either byte order)
 *   queues  RX queues (1-16); frame i goes to queue i mod n, as RSS would
 *           spread distinct flows. TX queues: always 16.
 *   loop    1 (default): replay the file forever; 0: once, then nothing
 *           (e.g. the ARP frames an uplink learns its neighbours from)
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_malloc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "common/kdp_csum.h"
#include "kdp_vdev_args.h"

#define RPL_DRIVER net_kdp_replay
#define RPL_MAX_QUEUES 16
#define RPL_MAX_FRAME 2048
/* The 8 bytes a receive path rearms: data_off, refcnt, nb_segs, port. */
#define REARM_OFF offsetof(struct rte_mbuf, data_off)

RTE_LOG_REGISTER_DEFAULT(rpl_logtype, NOTICE);
#define RPL_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, rpl_logtype, "net_kdp_replay: " fmt "\n", ##__VA_ARGS__)

/* An IPv4 header's checksum, as a NIC reports it (index of ipc_flags). */
enum { RPL_IPC_UNKNOWN, RPL_IPC_GOOD, RPL_IPC_BAD };

/* One frame of the file. */
struct rpl_frame {
	uint32_t off; /* into the queue's data */
	uint16_t len;
	uint8_t ipc; /* RPL_IPC_* */
};

struct rpl_rxq {
	struct rte_mempool *mp;
	const uint8_t *data;
	const struct rpl_frame *frames;
	uint32_t n, next;
	bool loop;
	uint16_t port;
	uint64_t rearm; /* data_off, refcnt 1, nb_segs 1, port */
	uint64_t ipc_flags[3]; /* ol_flags by RPL_IPC_*: all 0 without the offload */
	uint64_t pkts, bytes, nombuf;
} __rte_cache_aligned;

struct rpl_txq {
	uint64_t pkts, bytes;
} __rte_cache_aligned;

struct rpl_dev {
	struct rpl_rxq rxq[RPL_MAX_QUEUES];
	struct rpl_txq txq[RPL_MAX_QUEUES];
	unsigned int nrxq;
	uint8_t *data[RPL_MAX_QUEUES];
	struct rpl_frame *frames[RPL_MAX_QUEUES];
	struct rte_ether_addr mac;
};

static uint16_t rpl_rx_burst(void *queue, struct rte_mbuf **bufs, uint16_t n)
{
	struct rpl_rxq *q = queue;
	uint64_t bytes = 0;

	if (q->n == 0 || (!q->loop && q->next >= q->n))
		return 0;
	if (!q->loop && n > q->n - q->next)
		n = (uint16_t)(q->n - q->next);
	if (rte_mempool_get_bulk(q->mp, (void **)bufs, n) != 0) {
		q->nombuf += n;
		return 0;
	}
	for (uint16_t i = 0; i < n; i++) {
		const struct rpl_frame *f = &q->frames[q->next];
		struct rte_mbuf *m = bufs[i];

		*(uint64_t *)RTE_PTR_ADD(m, REARM_OFF) = q->rearm;
		m->ol_flags = q->ipc_flags[f->ipc];
		m->packet_type = 0;
		m->pkt_len = f->len;
		m->data_len = f->len;
		m->vlan_tci = 0;
		m->hash.rss = 0;
		rte_memcpy((uint8_t *)m->buf_addr + RTE_PKTMBUF_HEADROOM, q->data + f->off, f->len);
		bytes += f->len;
		if (++q->next == q->n && q->loop)
			q->next = 0;
	}
	q->pkts += n;
	q->bytes += bytes;
	return n;
}

static uint16_t rpl_tx_burst(void *queue, struct rte_mbuf **bufs, uint16_t n)
{
	struct rpl_txq *q = queue;

	for (uint16_t i = 0; i < n; i++)
		q->bytes += bufs[i]->pkt_len;
	q->pkts += n;
	rte_pktmbuf_free_bulk(bufs, n);
	return n;
}

static int rpl_configure(struct rte_eth_dev *dev)
{
	return 0;
}

static int rpl_info(struct rte_eth_dev *dev, struct rte_eth_dev_info *info)
{
	struct rpl_dev *r = dev->data->dev_private;

	info->max_mac_addrs = 1;
	info->max_rx_pktlen = RPL_MAX_FRAME;
	info->max_rx_queues = (uint16_t)r->nrxq;
	info->max_tx_queues = RPL_MAX_QUEUES;
	info->min_rx_bufsize = 0;
	info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	return 0;
}

static int rpl_set_state(struct rte_eth_dev *dev, bool up)
{
	uint8_t st = up ? RTE_ETH_QUEUE_STATE_STARTED : RTE_ETH_QUEUE_STATE_STOPPED;

	dev->data->dev_link.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		dev->data->rx_queue_state[i] = st;
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++)
		dev->data->tx_queue_state[i] = st;
	return 0;
}

static int rpl_start(struct rte_eth_dev *dev)
{
	return rpl_set_state(dev, true);
}

static int rpl_stop(struct rte_eth_dev *dev)
{
	return rpl_set_state(dev, false);
}

static void rpl_free(struct rpl_dev *r)
{
	for (unsigned int i = 0; i < RPL_MAX_QUEUES; i++) {
		rte_free(r->data[i]);
		rte_free(r->frames[i]);
		r->data[i] = NULL;
		r->frames[i] = NULL;
	}
}

static int rpl_close(struct rte_eth_dev *dev)
{
	if (rte_eal_process_type() == RTE_PROC_PRIMARY) {
		rpl_free(dev->data->dev_private);
		dev->data->mac_addrs = NULL; /* in dev_private */
	}
	return 0;
}

static int rpl_rx_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
			unsigned int socket, const struct rte_eth_rxconf *conf,
			struct rte_mempool *mp)
{
	struct rpl_dev *r = dev->data->dev_private;

	if (qid >= r->nrxq)
		return -EINVAL;
	if (mp == NULL && conf != NULL && conf->rx_nmempool >= 1)
		mp = conf->rx_mempools[0];
	if (mp == NULL)
		return -EINVAL;
	struct rte_mbuf tpl;

	memset(&tpl, 0, sizeof(tpl));
	tpl.data_off = RTE_PKTMBUF_HEADROOM;
	tpl.nb_segs = 1;
	tpl.port = dev->data->port_id;
	rte_mbuf_refcnt_set(&tpl, 1);
	memcpy(&r->rxq[qid].rearm, RTE_PTR_ADD(&tpl, REARM_OFF), sizeof(uint64_t));
	r->rxq[qid].mp = mp;
	r->rxq[qid].port = dev->data->port_id;
	memset(r->rxq[qid].ipc_flags, 0, sizeof(r->rxq[qid].ipc_flags));
	if ((dev->data->dev_conf.rxmode.offloads | (conf != NULL ? conf->offloads : 0)) &
	    RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
		r->rxq[qid].ipc_flags[RPL_IPC_GOOD] = RTE_MBUF_F_RX_IP_CKSUM_GOOD;
		r->rxq[qid].ipc_flags[RPL_IPC_BAD] = RTE_MBUF_F_RX_IP_CKSUM_BAD;
	}
	dev->data->rx_queues[qid] = &r->rxq[qid];
	return 0;
}

static int rpl_tx_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
			unsigned int socket, const struct rte_eth_txconf *conf)
{
	struct rpl_dev *r = dev->data->dev_private;

	if (qid >= RPL_MAX_QUEUES)
		return -EINVAL;
	dev->data->tx_queues[qid] = &r->txq[qid];
	return 0;
}

static void rpl_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
}

static int rpl_link_update(struct rte_eth_dev *dev, int wait)
{
	return 0;
}

static int rpl_promisc(struct rte_eth_dev *dev)
{
	return 0;
}

static int rpl_mac_set(struct rte_eth_dev *dev, struct rte_ether_addr *mac)
{
	struct rpl_dev *r = dev->data->dev_private;

	rte_ether_addr_copy(mac, &r->mac);
	return 0;
}

static int rpl_stats(struct rte_eth_dev *dev, struct rte_eth_stats *s)
{
	struct rpl_dev *r = dev->data->dev_private;

	for (unsigned int i = 0; i < RPL_MAX_QUEUES; i++) {
		const struct rpl_rxq *q = &r->rxq[i];
		const struct rpl_txq *t = &r->txq[i];

		s->ipackets += q->pkts;
		s->ibytes += q->bytes;
		s->rx_nombuf += q->nombuf;
		s->opackets += t->pkts;
		s->obytes += t->bytes;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			s->q_ipackets[i] = q->pkts;
			s->q_ibytes[i] = q->bytes;
			s->q_opackets[i] = t->pkts;
			s->q_obytes[i] = t->bytes;
		}
	}
	return 0;
}

static int rpl_stats_reset(struct rte_eth_dev *dev)
{
	struct rpl_dev *r = dev->data->dev_private;

	for (unsigned int i = 0; i < RPL_MAX_QUEUES; i++) {
		r->rxq[i].pkts = r->rxq[i].bytes = r->rxq[i].nombuf = 0;
		r->txq[i].pkts = r->txq[i].bytes = 0;
	}
	return 0;
}

static const struct eth_dev_ops rpl_ops = {
	.dev_configure = rpl_configure,
	.dev_start = rpl_start,
	.dev_stop = rpl_stop,
	.dev_close = rpl_close,
	.dev_infos_get = rpl_info,
	.rx_queue_setup = rpl_rx_setup,
	.tx_queue_setup = rpl_tx_setup,
	.rx_queue_release = rpl_queue_release,
	.tx_queue_release = rpl_queue_release,
	.link_update = rpl_link_update,
	.promiscuous_enable = rpl_promisc,
	.promiscuous_disable = rpl_promisc,
	.mac_addr_set = rpl_mac_set,
	.stats_get = rpl_stats,
	.stats_reset = rpl_stats_reset,
};

/* ---- the file ---- */

/* What a NIC's checksum offload says of frame @p d (@p len bytes). */
static uint8_t ip_csum_class(const uint8_t *d, uint32_t len)
{
	uint32_t ihl;

	if (len < RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) ||
	    d[12] != 0x08 || d[13] != 0x00 || (d[14] >> 4) != 4)
		return RPL_IPC_UNKNOWN;
	ihl = (uint32_t)(d[14] & 0xf) * 4;
	if (ihl < sizeof(struct rte_ipv4_hdr) || RTE_ETHER_HDR_LEN + ihl > len)
		return RPL_IPC_UNKNOWN;
	return kdp_csum_ipv4_ok(d + RTE_ETHER_HDR_LEN, ihl) ? RPL_IPC_GOOD : RPL_IPC_BAD;
}

static uint32_t rd32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

/*
 * Reads @p path into the queues of @p r, frame i to queue i mod nrxq.
 * Frames over RPL_MAX_FRAME or cut short by the capture are refused.
 */
static int rpl_load(struct rpl_dev *r, const char *path, int socket)
{
	uint32_t count[RPL_MAX_QUEUES] = {0}, used[RPL_MAX_QUEUES] = {0}, off[RPL_MAX_QUEUES] = {0};
	uint64_t size[RPL_MAX_QUEUES] = {0};
	uint8_t hdr[24], rec[16];
	FILE *f = fopen(path, "rb");
	uint32_t magic, i = 0;
	bool swap;
	int ret = -EINVAL;

	if (f == NULL) {
		RPL_LOG(ERR, "pcap %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr)) {
		RPL_LOG(ERR, "pcap %s: shorter than a pcap header", path);
		goto out;
	}
	magic = rd32(hdr, false);
	swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
	if (!swap && magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
		RPL_LOG(ERR, "pcap %s: not a classic pcap file (magic %08x)", path, magic);
		goto out;
	}
	if (rd32(hdr + 20, swap) != 1 /* LINKTYPE_ETHERNET */) {
		RPL_LOG(ERR, "pcap %s: link type %u, not Ethernet", path, rd32(hdr + 20, swap));
		goto out;
	}
	/* Two passes: sizes per queue, then the frames. */
	for (int pass = 0; pass < 2; pass++) {
		fseek(f, (long)sizeof(hdr), SEEK_SET);
		for (i = 0; fread(rec, 1, sizeof(rec), f) == sizeof(rec); i++) {
			uint32_t cap = rd32(rec + 8, swap), len = rd32(rec + 12, swap);
			unsigned int q = i % r->nrxq;

			if (cap != len || cap < RTE_ETHER_HDR_LEN || cap > RPL_MAX_FRAME) {
				RPL_LOG(ERR, "pcap %s: frame %u: %u of %u bytes captured (whole frames of 14-%u bytes only)",
					path, i, cap, len, RPL_MAX_FRAME);
				goto out;
			}
			if (pass == 0) {
				count[q]++;
				size[q] += cap;
				if (fseek(f, (long)cap, SEEK_CUR) != 0)
					goto short_file;
				continue;
			}
			r->frames[q][used[q]].off = off[q];
			r->frames[q][used[q]].len = (uint16_t)cap;
			if (fread(r->data[q] + off[q], 1, cap, f) != cap)
				goto short_file;
			r->frames[q][used[q]].ipc = ip_csum_class(r->data[q] + off[q], cap);
			off[q] += cap;
			used[q]++;
		}
		if (pass == 1)
			break;
		for (unsigned int q = 0; q < r->nrxq; q++) {
			if (size[q] > UINT32_MAX) {
				RPL_LOG(ERR, "pcap %s: more than 4 GiB for one queue", path);
				goto out;
			}
			r->data[q] = rte_malloc_socket("kdp_replay", size[q] + 1, RTE_CACHE_LINE_SIZE,
						       socket);
			r->frames[q] = rte_malloc_socket("kdp_replay", sizeof(struct rpl_frame) *
							 (count[q] + 1), 0, socket);
			if (r->data[q] == NULL || r->frames[q] == NULL) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
	for (unsigned int q = 0; q < r->nrxq; q++) {
		r->rxq[q].data = r->data[q];
		r->rxq[q].frames = r->frames[q];
		r->rxq[q].n = used[q];
	}
	ret = 0;
	goto out;
short_file:
	RPL_LOG(ERR, "pcap %s: frame %u cut short by the end of the file", path, i);
out:
	fclose(f);
	return ret;
}

/* ---- probe ---- */

struct rpl_args {
	char pcap[4096];
	unsigned int queues, loop;
};

static int arg_uint(const char *key, const char *value, void *out)
{
	return kdp_vdev_arg_uint("net_kdp_replay", rpl_logtype, key, value, out);
}

static int arg_path(const char *key, const char *value, void *out)
{
	if (value[0] == '\0' || strlen(value) >= sizeof(((struct rpl_args *)0)->pcap)) {
		RPL_LOG(ERR, "%s: '%s' is not a file name", key, value);
		return -EINVAL;
	}
	snprintf(out, sizeof(((struct rpl_args *)0)->pcap), "%s", value);
	return 0;
}

static int parse_args(const char *params, struct rpl_args *a)
{
	static const char *const keys[] = {"pcap", "queues", "loop", NULL};
	struct rte_kvargs *kv = rte_kvargs_parse(params == NULL ? "" : params, keys);
	int ret = 0;

	memset(a, 0, sizeof(*a));
	a->queues = 1;
	a->loop = 1;
	if (kv == NULL) {
		RPL_LOG(ERR, "cannot parse '%s' (keys: pcap queues loop)", params);
		return -EINVAL;
	}
	if (rte_kvargs_count(kv, "pcap") != 1) {
		RPL_LOG(ERR, "pcap=<file> is required, once");
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = rte_kvargs_process(kv, "pcap", arg_path, a->pcap);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "queues", arg_uint, &a->queues);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "loop", arg_uint, &a->loop);
	rte_kvargs_free(kv);
	if (ret == 0 && (a->queues < 1 || a->queues > RPL_MAX_QUEUES)) {
		RPL_LOG(ERR, "queues: %u is not 1-%u", a->queues, RPL_MAX_QUEUES);
		ret = -EINVAL;
	}
	if (ret == 0 && a->loop > 1) {
		RPL_LOG(ERR, "loop: %u is not 0 or 1", a->loop);
		ret = -EINVAL;
	}
	return ret;
}

static int rpl_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct rte_eth_dev *dev;
	struct rpl_args args;
	struct rpl_dev *r;
	int ret, socket = (int)rte_socket_id();

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		RPL_LOG(ERR, "%s: only a primary process may open it", name);
		return -ENOTSUP;
	}
	ret = parse_args(rte_vdev_device_args(vdev), &args);
	if (ret != 0)
		return ret;
	dev = rte_eth_vdev_allocate(vdev, sizeof(*r));
	if (dev == NULL)
		return -ENOMEM;
	r = dev->data->dev_private;
	r->nrxq = args.queues;
	for (unsigned int i = 0; i < RPL_MAX_QUEUES; i++)
		r->rxq[i].loop = args.loop != 0;
	ret = rpl_load(r, args.pcap, socket);
	if (ret != 0) {
		rpl_free(r);
		rte_eth_dev_release_port(dev);
		return ret;
	}
	rte_eth_random_addr(r->mac.addr_bytes);
	dev->dev_ops = &rpl_ops;
	dev->rx_pkt_burst = rpl_rx_burst;
	dev->tx_pkt_burst = rpl_tx_burst;
	dev->data->mac_addrs = &r->mac;
	dev->data->dev_link.link_status = RTE_ETH_LINK_DOWN;
	dev->data->dev_link.link_speed = RTE_ETH_SPEED_NUM_10G;
	dev->data->dev_link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
	rte_eth_dev_probing_finish(dev);
	RPL_LOG(INFO, "%s: %s in %u queue(s), %s", name, args.pcap, r->nrxq,
		args.loop ? "looped" : "once");
	return 0;
}

static int rpl_remove(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));

	if (dev == NULL)
		return 0;
	rpl_close(dev);
	return rte_eth_dev_release_port(dev);
}

static struct rte_vdev_driver rpl_driver = {
	.probe = rpl_probe,
	.remove = rpl_remove,
};

RTE_PMD_REGISTER_VDEV(RPL_DRIVER, rpl_driver);
RTE_PMD_REGISTER_PARAM_STRING(RPL_DRIVER, "pcap=<file> queues=<int> loop=<0|1>");
