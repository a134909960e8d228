/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_kdp_afp: kdp's ethdev driver for Linux interfaces (pod veths, a kernel
 * uplink), over AF_PACKET sockets with memory-mapped TPACKET_V2 rings and
 * PACKET_VNET_HDR.
 *
 * Why kdp has its own: a kernel sender with checksum offload (every veth by
 * default) leaves TCP/UDP checksums partial, and with TSO/GSO hands over
 * frames of up to 64 KiB. AF_PACKET says so only per frame (tp_status, the
 * virtio_net_hdr); DPDK 22.11's net_af_packet drops that information and cuts
 * large frames to its ring slot, so NATed flows got wrong checksums and large
 * segments were lost. Here a partial checksum is reported as
 * RTE_MBUF_F_RX_L4_CKSUM_NONE, a super-frame is cut into MTU-sized segments
 * (kdp_afp_offload.c), and transmit honours RTE_MBUF_F_TX_{TCP,UDP}_CKSUM by
 * handing the kernel a virtio_net_hdr with VIRTIO_NET_HDR_F_NEEDS_CSUM, so a
 * partial checksum travels on as the kernel itself forwards one.
 *
 * devargs: net_kdp_afp<N>,iface=<name>[,qpairs=<n>][,framesz=<bytes>]
 *          [,framecnt=<frames>][,blocksz=<bytes>][,qdisc_bypass=0|1]
 *          [,rxqs=<n>][,txframecnt=<frames>]
 * rxqs (default qpairs): how many of the queue pairs receive; the others
 * only transmit (a socket with a TX ring alone): a pod needs one RX queue
 * but a TX queue per worker. txframecnt (default framecnt): TX ring slots.
 * One socket per queue pair, in one PACKET_FANOUT_HASH group when there are
 * several (a flow stays on one queue; IP fragments are not reassembled). Frames too large for a ring slot
 * (super-frames) come through the socket's receive queue
 * (PACKET_COPY_THRESH): with TCP LRO on and a second, larger pool given
 * (rx_mempools), straight into a large mbuf, a TCP super-frame then
 * delivered whole (RTE_MBUF_F_RX_LRO, tso_segsz); otherwise into a per-queue
 * buffer and cut. On transmit, a TCP super-frame (RTE_MBUF_F_TX_TCP_SEG, TSO
 * enabled) goes to the kernel whole with VIRTIO_NET_HDR_GSO_TCPV4 or _TCPV6, and a
 * frame larger than a ring slot leaves by sendmsg() on a ring-less socket.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "kdp_afp_offload.h"
#include "kdp_vdev_args.h"

#define AFP_DRIVER net_kdp_afp
#define AFP_MAX_QUEUES 16
#define AFP_DEFAULT_FRAMESZ 2048
#define AFP_DEFAULT_FRAMECNT 512
/* A super-frame read through the receive queue: 64 KiB of GSO plus headers;
 * larger ones (BIG TCP) are counted as truncated. */
#define AFP_BIG_LEN (256 * 1024)
/* Receive-queue room for super-frames waiting to be read. */
#define AFP_RCVBUF (8 * 1024 * 1024)
/* Where a frame starts in a TX ring slot (no PACKET_TX_HAS_OFF). */
#define AFP_TX_DATA_OFF (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))
#define AFP_VNET_LEN ((uint32_t)sizeof(struct virtio_net_hdr))

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

RTE_LOG_REGISTER_DEFAULT(afp_logtype, NOTICE);
#define AFP_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, afp_logtype, "net_kdp_afp: " fmt "\n", ##__VA_ARGS__)

/* Per-queue counters, each written by the queue's one poller. */
#define AFP_RX_XSTATS(X)                                                        \
	X(rx_csum_partial, "frames with a partial L4 checksum (kept partial)")   \
	X(rx_gso_frames, "GSO/GRO super-frames received")                         \
	X(rx_gso_whole, "TCP super-frames delivered whole (LRO)")                  \
	X(rx_gso_segments, "segments cut from super-frames")                       \
	X(rx_drop_truncated, "frames larger than the ring slot and the buffer")    \
	X(rx_drop_gso_unsupported, "super-frames of a GSO type kdp does not cut")  \
	X(rx_drop_gso_malformed, "super-frames whose headers do not match")        \
	X(rx_drop_oversize, "frames larger than an mbuf")                          \
	X(rx_drop_csum_offsets, "partial checksums with offsets outside the frame")\
	X(rx_drop_nombuf, "frames dropped for want of an mbuf")                    \
	X(rx_outgoing_skipped, "frames this host sent (not received)")
#define AFP_TX_XSTATS(X)                                                        \
	X(tx_csum_offload, "frames sent with a partial checksum for the kernel")   \
	X(tx_tso, "TCP super-frames handed to the kernel whole (TSO)")             \
	X(tx_large, "frames larger than a ring slot, sent by sendmsg()")           \
	X(tx_drop_oversize, "frames larger than the ring slot (no large path)")    \
	X(tx_drop_large, "sendmsg() failures of large frames")                     \
	X(tx_kick_errors, "sendto() failures kicking the TX ring")

#define AFP_FIELD(n, d) uint64_t n;
struct afp_rx_stats {
	uint64_t pkts, bytes;
	AFP_RX_XSTATS(AFP_FIELD)
};
struct afp_tx_stats {
	uint64_t pkts, bytes, errs;
	AFP_TX_XSTATS(AFP_FIELD)
};

struct afp_ring {
	uint8_t **frame;   /* slot addresses */
	uint32_t count;
	uint32_t next;
	uint32_t size;     /* bytes per slot */
};

struct afp_rxq {
	int fd;
	struct afp_ring ring;
	struct rte_mempool *mp;
	struct rte_mempool *mp_big; /* LRO: frames larger than mp's room (NULL: none) */
	uint32_t room, room_big;
	uint16_t port;
	bool lro;                 /* TCP super-frames delivered whole */
	uint8_t *big;             /* without mp_big: a frame read from the receive queue */
	struct rte_mbuf *gso_src; /* with mp_big: the mbuf holding what is being cut */
	struct kdp_gso gso;       /* being cut; gso.pkt NULL when none */
	struct afp_rx_stats st;
	uint64_t kernel_drops;    /* PACKET_STATISTICS tp_drops, control thread */
} __rte_cache_aligned;

struct afp_txq {
	int fd;
	int fd_large;             /* the device's ring-less socket, for frames over a slot */
	bool tso;                 /* RTE_ETH_TX_OFFLOAD_TCP_TSO enabled */
	struct afp_ring ring;
	struct afp_tx_stats st;
} __rte_cache_aligned;

struct afp_dev {
	char iface[IF_NAMESIZE];
	int ifindex;
	unsigned int nq;               /* queue pairs (TX queues) */
	unsigned int nrxq;             /* the first nrxq of them also receive */
	struct rte_ether_addr mac;
	struct tpacket_req req;        /* RX ring */
	struct tpacket_req treq;       /* TX ring */
	uint8_t *map[AFP_MAX_QUEUES];
	size_t map_len[AFP_MAX_QUEUES];
	int fd_large;
	struct afp_rxq rxq[AFP_MAX_QUEUES];
	struct afp_txq txq[AFP_MAX_QUEUES];
	bool promisc;
};

/* ---- receive ---- */

static inline struct tpacket2_hdr *rx_slot(struct afp_rxq *q)
{
	return (struct tpacket2_hdr *)q->ring.frame[q->ring.next];
}

static inline void rx_release(struct afp_rxq *q, struct tpacket2_hdr *h)
{
	__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	if (++q->ring.next == q->ring.count)
		q->ring.next = 0;
}

static void rx_refused(struct afp_rxq *q, enum kdp_afp_refuse r)
{
	switch (r) {
	case KDP_AFP_CSUM_BAD_OFFSETS:
		q->st.rx_drop_csum_offsets++;
		break;
	case KDP_AFP_GSO_UNSUPPORTED:
		q->st.rx_drop_gso_unsupported++;
		break;
	case KDP_AFP_GSO_MALFORMED:
		q->st.rx_drop_gso_malformed++;
		break;
	case KDP_AFP_GSO_TOO_BIG:
		q->st.rx_drop_oversize++;
		break;
	default:
		break;
	}
}

/* Segments of the super-frame being cut, as many as fit in @p n. */
static uint16_t rx_gso_emit(struct afp_rxq *q, struct rte_mbuf **bufs, uint16_t n)
{
	uint16_t k = kdp_gso_next(&q->gso, q->mp, q->port, bufs, n);

	q->st.rx_gso_segments += k;
	for (uint16_t i = 0; i < k; i++)
		q->st.bytes += bufs[i]->pkt_len;
	if (k < n && !kdp_gso_done(&q->gso)) {
		/* Out of mbufs: the rest of this super-frame is lost. */
		q->st.rx_drop_nombuf++;
		q->gso.pkt = NULL;
	}
	if (kdp_gso_done(&q->gso))
		q->gso.pkt = NULL;
	if (q->gso.pkt == NULL && q->gso_src != NULL) {
		rte_pktmbuf_free(q->gso_src);
		q->gso_src = NULL;
	}
	return k;
}

/* A frame the ring slot could not hold: read it whole from the receive
 * queue (TP_STATUS_COPY). Returns its length after the vnet header, or 0. */
static uint32_t rx_read_big(struct afp_rxq *q)
{
	ssize_t n = recv(q->fd, q->big, AFP_BIG_LEN, MSG_DONTWAIT | MSG_TRUNC);

	if (n < (ssize_t)AFP_VNET_LEN + RTE_ETHER_HDR_LEN || n > AFP_BIG_LEN) {
		q->st.rx_drop_truncated++;
		return 0;
	}
	return (uint32_t)n - AFP_VNET_LEN;
}

/* A large mbuf with no headroom: all of its 64 KiB for the frame. */
static inline struct rte_mbuf *large_alloc(struct afp_rxq *q)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(q->mp_big);

	if (m != NULL)
		m->data_off = 0;
	return m;
}

/* With a large pool: a frame the ring slot could not hold, read from the
 * receive queue straight into a large mbuf (its only copy). NULL when it
 * could not be (counted; the queue is kept in step). */
static struct rte_mbuf *rx_recv_mbuf(struct afp_rxq *q, struct virtio_net_hdr *vh)
{
	struct rte_mbuf *m = large_alloc(q);
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;

	if (unlikely(m == NULL)) {
		q->st.rx_drop_nombuf++;
		(void)recv(q->fd, vh, sizeof(*vh), MSG_DONTWAIT | MSG_TRUNC);
		return NULL;
	}
	iov[0].iov_base = vh;
	iov[0].iov_len = AFP_VNET_LEN;
	iov[1].iov_base = rte_pktmbuf_mtod(m, void *);
	iov[1].iov_len = q->room_big;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	n = recvmsg(q->fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
	if (n < (ssize_t)AFP_VNET_LEN + RTE_ETHER_HDR_LEN ||
	    n > (ssize_t)(AFP_VNET_LEN + q->room_big)) {
		q->st.rx_drop_truncated++;
		rte_pktmbuf_free(m);
		return NULL;
	}
	m->data_len = (uint16_t)(n - AFP_VNET_LEN);
	m->pkt_len = m->data_len;
	return m;
}

/* LRO: a TCP super-frame (or, in @p m, any frame too large for a slot)
 * delivered whole, in @p m or copied into a new mbuf, its checksum partial. */
static struct rte_mbuf *rx_whole(struct afp_rxq *q, uint8_t *data, uint32_t len,
				 const struct virtio_net_hdr *vh, struct rte_mbuf *m)
{
	uint64_t ol = 0;
	enum kdp_afp_refuse r = kdp_afp_rx_csum(data, len, vh, 1, &ol);

	if (r != KDP_AFP_OK) {
		rx_refused(q, r);
		rte_pktmbuf_free(m);
		return NULL;
	}
	if (m == NULL) {
		m = len <= q->room ? rte_pktmbuf_alloc(q->mp) : large_alloc(q);
		if (unlikely(m == NULL)) {
			q->st.rx_drop_nombuf++;
			return NULL;
		}
		rte_memcpy(rte_pktmbuf_mtod(m, void *), data, len);
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
	}
	m->port = q->port;
	m->ol_flags = ol;
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		m->ol_flags |= RTE_MBUF_F_RX_LRO;
		m->tso_segsz = vh->gso_size;
		q->st.rx_gso_whole++;
	}
	if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE)
		q->st.rx_csum_partial++;
	return m;
}

/* One non-GSO frame into one mbuf (the VLAN tag the kernel took off put
 * back, so the pipeline sees the frame as it was sent). */
static struct rte_mbuf *rx_one(struct afp_rxq *q, const struct tpacket2_hdr *h,
			       uint8_t *data, uint32_t len,
			       const struct virtio_net_hdr *vh)
{
	bool vlan = (h->tp_status & TP_STATUS_VLAN_VALID) != 0;
	uint32_t extra = vlan ? 4 : 0;
	enum kdp_afp_refuse r;
	struct rte_mbuf *m;
	uint64_t ol = 0;
	uint8_t *d;

	if (len + extra > q->room) {
		q->st.rx_drop_oversize++;
		return NULL;
	}
	/* csum_start counts from the untagged frame; a tagged frame gets its
	 * checksum completed (kdp drops VLAN frames, but never a wrong sum). */
	r = kdp_afp_rx_csum(data, len, vh, !vlan, &ol);
	if (r != KDP_AFP_OK) {
		rx_refused(q, r);
		return NULL;
	}
	m = rte_pktmbuf_alloc(q->mp);
	if (unlikely(m == NULL)) {
		q->st.rx_drop_nombuf++;
		return NULL;
	}
	d = rte_pktmbuf_mtod(m, uint8_t *);
	if (vlan) {
		uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) && h->tp_vlan_tpid
					? h->tp_vlan_tpid : RTE_ETHER_TYPE_VLAN;
		uint16_t tag[2] = {htons(tpid), htons(h->tp_vlan_tci)};

		memcpy(d, data, 12);
		memcpy(d + 12, tag, 4);
		rte_memcpy(d + 16, data + 12, len - 12);
	} else {
		rte_memcpy(d, data, len);
	}
	m->data_len = (uint16_t)(len + extra);
	m->pkt_len = m->data_len;
	m->port = q->port;
	m->ol_flags = ol;
	if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE)
		q->st.rx_csum_partial++;
	return m;
}

static uint16_t afp_rx_burst(void *queue, struct rte_mbuf **bufs, uint16_t n)
{
	struct afp_rxq *q = queue;
	uint16_t got = 0;

	if (unlikely(q->gso.pkt != NULL))
		got = rx_gso_emit(q, bufs, n);
	while (got < n && q->gso.pkt == NULL) {
		struct tpacket2_hdr *h = rx_slot(q);
		uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		const struct sockaddr_ll *sll;
		const struct virtio_net_hdr *vh;
		struct virtio_net_hdr vhl;
		struct rte_mbuf *src = NULL; /* a large mbuf the frame is in */
		uint8_t *data;
		uint32_t len, hdr;
		bool vlan;

		if (!(status & TP_STATUS_USER))
			break;
		sll = (const struct sockaddr_ll *)((uint8_t *)h +
						   TPACKET_ALIGN(sizeof(*h)));
		if (unlikely(sll->sll_pkttype == PACKET_OUTGOING)) {
			q->st.rx_outgoing_skipped++;
			if (status & TP_STATUS_COPY) /* keep the queue in step */
				(void)recv(q->fd, &vhl, sizeof(vhl), MSG_DONTWAIT | MSG_TRUNC);
			rx_release(q, h);
			continue;
		}
		vh = (const struct virtio_net_hdr *)((uint8_t *)h + h->tp_mac - AFP_VNET_LEN);
		data = (uint8_t *)h + h->tp_mac;
		len = h->tp_snaplen;
		vlan = (status & TP_STATUS_VLAN_VALID) != 0;
		if (unlikely(status & TP_STATUS_COPY)) {
			if (q->mp_big != NULL) {
				src = rx_recv_mbuf(q, &vhl);
				vh = &vhl;
				data = src ? rte_pktmbuf_mtod(src, uint8_t *) : NULL;
				len = src ? src->data_len : 0;
			} else {
				len = rx_read_big(q);
				vh = (const struct virtio_net_hdr *)q->big;
				data = q->big + AFP_VNET_LEN;
			}
		} else if (unlikely(len < h->tp_len)) {
			q->st.rx_drop_truncated++;
			len = 0;
		}
		if (len == 0) {
			rx_release(q, h);
			continue;
		}
		q->st.pkts++;
		if (q->lro && !vlan &&
		    (vh->gso_type == VIRTIO_NET_HDR_GSO_NONE ? src != NULL
		     : kdp_afp_tso_whole(data, len, vh, &hdr) == KDP_AFP_OK)) {
			/* Whole: a TCP super-frame, or a frame only a large mbuf holds. */
			if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
				q->st.rx_gso_frames++;
			bufs[got] = rx_whole(q, data, len, vh, src);
			rx_release(q, h);
			if (bufs[got] != NULL)
				q->st.bytes += bufs[got++]->pkt_len;
			continue;
		}
		if (unlikely(vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)) {
			enum kdp_afp_refuse r = KDP_AFP_GSO_MALFORMED;

			q->st.rx_gso_frames++;
			if (src == NULL && q->big == NULL) {
				/* In the ring, no buffer: a large mbuf holds it while cut. */
				src = large_alloc(q);
				if (src == NULL) {
					q->st.rx_drop_nombuf++;
					rx_release(q, h);
					continue;
				}
				memcpy(&vhl, vh, AFP_VNET_LEN);
				rte_memcpy(rte_pktmbuf_mtod(src, void *), data, len);
				vh = &vhl;
				data = rte_pktmbuf_mtod(src, uint8_t *);
			} else if (src == NULL && data != q->big + AFP_VNET_LEN) {
				/* Still in the ring: copy it out before the slot goes back. */
				memcpy(q->big, vh, AFP_VNET_LEN);
				memcpy(q->big + AFP_VNET_LEN, data, len);
				vh = (const struct virtio_net_hdr *)q->big;
				data = q->big + AFP_VNET_LEN;
			}
			if (!vlan)
				r = kdp_afp_gso_init(&q->gso, data, len, vh, q->room);
			rx_release(q, h);
			if (r != KDP_AFP_OK) {
				rx_refused(q, r == KDP_AFP_GSO_MALFORMED && vlan
						      ? KDP_AFP_GSO_UNSUPPORTED : r);
				q->gso.pkt = NULL;
				rte_pktmbuf_free(src);
				continue;
			}
			q->gso_src = src;
			got += rx_gso_emit(q, bufs + got, n - got);
			continue;
		}
		bufs[got] = rx_one(q, h, data, len, vh);
		rx_release(q, h);
		rte_pktmbuf_free(src); /* a large frame on a port without LRO */
		if (bufs[got] != NULL)
			q->st.bytes += bufs[got++]->pkt_len;
	}
	return got;
}

/* ---- transmit ---- */

static inline bool tx_slot_free(const struct tpacket2_hdr *h)
{
	uint32_t s = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
	return !(s & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING));
}

static void tx_kick(struct afp_txq *q)
{
	if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
	    errno != ENOBUFS && errno != EAGAIN)
		q->st.tx_kick_errors++;
}

/* The virtio_net_hdr of @p m for the kernel: a partial checksum to finish
 * (NEEDS_CSUM), and for a TCP super-frame (RTE_MBUF_F_TX_TCP_SEG on a queue
 * with TSO) the segment size the kernel cuts it by. */
static void tx_vnet_hdr(struct afp_txq *q, const struct rte_mbuf *m, struct virtio_net_hdr *vh)
{
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;

	memset(vh, 0, sizeof(*vh));
	if ((m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) && q->tso) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->gso_type = (m->ol_flags & RTE_MBUF_F_TX_IPV6) ? VIRTIO_NET_HDR_GSO_TCPV6
								   : VIRTIO_NET_HDR_GSO_TCPV4;
		vh->gso_size = m->tso_segsz;
		vh->hdr_len = (uint16_t)(m->l2_len + m->l3_len + m->l4_len);
		vh->csum_start = (uint16_t)(m->l2_len + m->l3_len);
		vh->csum_offset = 16;
		q->st.tx_tso++;
	} else if (l4 == RTE_MBUF_F_TX_TCP_CKSUM || l4 == RTE_MBUF_F_TX_UDP_CKSUM) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = (uint16_t)(m->l2_len + m->l3_len);
		vh->csum_offset = l4 == RTE_MBUF_F_TX_TCP_CKSUM ? 16 : 6;
		q->st.tx_csum_offload++;
	}
}

/* A frame larger than a ring slot (a TCP super-frame, a jumbo frame): one
 * sendmsg() on the device's ring-less socket, which copies it once. */
static void tx_large(struct afp_txq *q, struct rte_mbuf *m)
{
	struct iovec iov[1 + 8];
	struct virtio_net_hdr vh;
	struct msghdr mh;
	unsigned int n = 1;

	tx_vnet_hdr(q, m, &vh);
	iov[0].iov_base = &vh;
	iov[0].iov_len = AFP_VNET_LEN;
	for (struct rte_mbuf *s = m; s != NULL && n < RTE_DIM(iov); s = s->next, n++) {
		iov[n].iov_base = rte_pktmbuf_mtod(s, void *);
		iov[n].iov_len = s->data_len;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = n;
	if (m->nb_segs < RTE_DIM(iov) &&
	    sendmsg(q->fd_large, &mh, MSG_DONTWAIT) == (ssize_t)(AFP_VNET_LEN + m->pkt_len)) {
		q->st.tx_large++;
		q->st.pkts++;
		q->st.bytes += m->pkt_len;
	} else {
		q->st.tx_drop_large++;
		q->st.errs++;
	}
	rte_pktmbuf_free(m);
}

static uint16_t afp_tx_burst(void *queue, struct rte_mbuf **bufs, uint16_t n)
{
	struct afp_txq *q = queue;
	uint32_t room = q->ring.size - (uint32_t)AFP_TX_DATA_OFF - AFP_VNET_LEN;
	uint16_t i, queued = 0;
	bool kicked = false;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = bufs[i];
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)q->ring.frame[q->ring.next];
		struct virtio_net_hdr *vh;
		uint8_t *d;

		if (unlikely(m->pkt_len > room)) {
			if (q->fd_large < 0) {
				q->st.tx_drop_oversize++;
				q->st.errs++;
				rte_pktmbuf_free(m);
				continue;
			}
			/* What waits in the ring goes first: order is kept. */
			if (queued > 0)
				tx_kick(q);
			queued = 0;
			tx_large(q, m);
			continue;
		}
		if (!tx_slot_free(h)) {
			/* Ring full: let the kernel send what waits, once. */
			if (kicked)
				break;
			tx_kick(q);
			kicked = true;
			queued = 0;
			if (!tx_slot_free(h))
				break;
		}
		vh = (struct virtio_net_hdr *)((uint8_t *)h + AFP_TX_DATA_OFF);
		tx_vnet_hdr(q, m, vh);
		d = (uint8_t *)(vh + 1);
		for (struct rte_mbuf *s = m; s != NULL; s = s->next) {
			rte_memcpy(d, rte_pktmbuf_mtod(s, void *), s->data_len);
			d += s->data_len;
		}
		h->tp_len = AFP_VNET_LEN + m->pkt_len;
		h->tp_snaplen = h->tp_len;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
		if (++q->ring.next == q->ring.count)
			q->ring.next = 0;
		q->st.pkts++;
		q->st.bytes += m->pkt_len;
		queued++;
		rte_pktmbuf_free(m);
	}
	if (queued > 0)
		tx_kick(q);
	return i;
}

/* ---- device ---- */

static int afp_configure(struct rte_eth_dev *dev)
{
	return 0;
}

static int afp_info(struct rte_eth_dev *dev, struct rte_eth_dev_info *info)
{
	struct afp_dev *a = dev->data->dev_private;

	info->if_index = (uint32_t)a->ifindex;
	info->max_mac_addrs = 1;
	info->max_rx_pktlen = a->req.tp_frame_size - TPACKET2_HDRLEN - AFP_VNET_LEN;
	info->max_rx_queues = (uint16_t)a->nrxq;
	info->max_tx_queues = (uint16_t)a->nq;
	info->min_rx_bufsize = 0;
	/* LRO: TCP super-frames whole, in the larger of two pools. */
	info->max_rx_mempools = 2;
	info->max_lro_pkt_size = UINT16_MAX;
	info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM |
				RTE_ETH_RX_OFFLOAD_TCP_LRO;
	info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
				RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
				RTE_ETH_TX_OFFLOAD_TCP_TSO;
	return 0;
}

static int afp_start(struct rte_eth_dev *dev)
{
	struct afp_dev *a = dev->data->dev_private;

	dev->data->dev_link.link_status = RTE_ETH_LINK_UP;
	for (unsigned int i = 0; i < a->nq; i++) {
		if (i < dev->data->nb_rx_queues)
			dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
		if (i < dev->data->nb_tx_queues)
			dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	}
	return 0;
}

static int afp_stop(struct rte_eth_dev *dev)
{
	struct afp_dev *a = dev->data->dev_private;

	dev->data->dev_link.link_status = RTE_ETH_LINK_DOWN;
	for (unsigned int i = 0; i < a->nq; i++) {
		if (i < dev->data->nb_rx_queues)
			dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
		if (i < dev->data->nb_tx_queues)
			dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	}
	return 0;
}

static void afp_free_queues(struct afp_dev *a)
{
	if (a->fd_large >= 0)
		close(a->fd_large);
	a->fd_large = -1;
	for (unsigned int i = 0; i < AFP_MAX_QUEUES; i++) {
		rte_pktmbuf_free(a->rxq[i].gso_src);
		a->rxq[i].gso_src = NULL;
		a->rxq[i].gso.pkt = NULL;
		a->txq[i].fd_large = -1;
		if (a->rxq[i].fd >= 0)
			close(a->rxq[i].fd);
		a->rxq[i].fd = -1;
		a->txq[i].fd = -1;
		if (a->map[i] != NULL)
			munmap(a->map[i], a->map_len[i]);
		a->map[i] = NULL;
		free(a->rxq[i].ring.frame);
		free(a->txq[i].ring.frame);
		a->rxq[i].ring.frame = NULL;
		a->txq[i].ring.frame = NULL;
		rte_free(a->rxq[i].big);
		a->rxq[i].big = NULL;
	}
}

static int afp_close(struct rte_eth_dev *dev)
{
	struct afp_dev *a = dev->data->dev_private;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 0;
	afp_free_queues(a);
	/* The MAC lives in dev_private, which DPDK frees on its own. */
	dev->data->mac_addrs = NULL;
	return 0;
}

static int afp_rx_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
			unsigned int socket, const struct rte_eth_rxconf *conf,
			struct rte_mempool *mp)
{
	struct afp_dev *a = dev->data->dev_private;
	struct afp_rxq *q;
	uint64_t off = dev->data->dev_conf.rxmode.offloads | (conf ? conf->offloads : 0);

	if (qid >= a->nrxq)
		return -EINVAL;
	q = &a->rxq[qid];
	q->mp_big = NULL;
	if (mp == NULL && conf != NULL && conf->rx_nmempool == 2) {
		/* The smaller pool for frames, the larger for super-frames. */
		struct rte_mempool **p = conf->rx_mempools;
		bool first_small = kdp_afp_room(p[0]) <= kdp_afp_room(p[1]);

		mp = first_small ? p[0] : p[1];
		if (off & RTE_ETH_RX_OFFLOAD_TCP_LRO)
			q->mp_big = first_small ? p[1] : p[0];
	} else if (mp == NULL && conf != NULL && conf->rx_nmempool == 1) {
		mp = conf->rx_mempools[0];
	}
	if (mp == NULL)
		return -EINVAL;
	q->mp = mp;
	q->room = kdp_afp_room(mp);
	q->room_big = q->mp_big ? rte_pktmbuf_data_room_size(q->mp_big) : 0;
	if (q->room_big <= q->room)
		q->mp_big = NULL;
	q->lro = q->mp_big != NULL;
	/* Without a large pool, frames over a slot are read into a buffer. */
	if (q->lro) {
		rte_free(q->big);
		q->big = NULL;
	} else if (q->big == NULL) {
		q->big = rte_malloc_socket("kdp_afp_big", AFP_BIG_LEN, RTE_CACHE_LINE_SIZE,
					   (int)socket);
		if (q->big == NULL)
			return -ENOMEM;
	}
	q->port = dev->data->port_id;
	dev->data->rx_queues[qid] = q;
	return 0;
}

static int afp_tx_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
			unsigned int socket, const struct rte_eth_txconf *conf)
{
	struct afp_dev *a = dev->data->dev_private;

	if (qid >= a->nq)
		return -EINVAL;
	a->txq[qid].tso = ((dev->data->dev_conf.txmode.offloads | (conf ? conf->offloads : 0)) &
			   RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0;
	a->txq[qid].fd_large = a->fd_large;
	dev->data->tx_queues[qid] = &a->txq[qid];
	return 0;
}

static void afp_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
}

static int afp_link_update(struct rte_eth_dev *dev, int wait)
{
	struct afp_dev *a = dev->data->dev_private;
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up = false;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->iface);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
	close(s);
	if (dev->data->dev_started == 0)
		up = false;
	dev->data->dev_link.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
	dev->data->dev_link.link_speed = RTE_ETH_SPEED_NUM_10G;
	dev->data->dev_link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
	return 0;
}

static int afp_promisc(struct rte_eth_dev *dev, bool on)
{
	struct afp_dev *a = dev->data->dev_private;
	struct packet_mreq mr;

	if (a->promisc == on)
		return 0;
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = a->ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	/* A membership of the socket: it ends with the socket, even on a crash. */
	if (setsockopt(a->rxq[0].fd, SOL_PACKET,
		       on ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr,
		       sizeof(mr)) < 0)
		return -errno;
	a->promisc = on;
	return 0;
}

static int afp_promisc_on(struct rte_eth_dev *dev)
{
	return afp_promisc(dev, true);
}

static int afp_promisc_off(struct rte_eth_dev *dev)
{
	return afp_promisc(dev, false);
}

/* The kernel's drops (ring full) since the last call, added to the queue's. */
static void afp_kernel_drops(struct afp_rxq *q)
{
	struct tpacket_stats ts;
	socklen_t l = sizeof(ts);

	if (q->fd >= 0 && getsockopt(q->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &l) == 0)
		q->kernel_drops += ts.tp_drops;
}

static int afp_stats(struct rte_eth_dev *dev, struct rte_eth_stats *s)
{
	struct afp_dev *a = dev->data->dev_private;

	for (unsigned int i = 0; i < a->nq; i++) {
		struct afp_rxq *r = &a->rxq[i];
		const struct afp_tx_stats *t = &a->txq[i].st;
		uint64_t rerr = r->st.rx_drop_truncated + r->st.rx_drop_gso_unsupported +
				r->st.rx_drop_gso_malformed + r->st.rx_drop_oversize +
				r->st.rx_drop_csum_offsets;

		afp_kernel_drops(r);
		s->ipackets += r->st.pkts;
		s->ibytes += r->st.bytes;
		s->ierrors += rerr;
		s->imissed += r->kernel_drops;
		s->rx_nombuf += r->st.rx_drop_nombuf;
		s->opackets += t->pkts;
		s->obytes += t->bytes;
		s->oerrors += t->errs;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			s->q_ipackets[i] = r->st.pkts;
			s->q_ibytes[i] = r->st.bytes;
			s->q_opackets[i] = t->pkts;
			s->q_obytes[i] = t->bytes;
		}
	}
	return 0;
}

static int afp_stats_reset(struct rte_eth_dev *dev)
{
	struct afp_dev *a = dev->data->dev_private;

	for (unsigned int i = 0; i < a->nq; i++) {
		afp_kernel_drops(&a->rxq[i]);
		memset(&a->rxq[i].st, 0, sizeof(a->rxq[i].st));
		a->rxq[i].kernel_drops = 0;
		memset(&a->txq[i].st, 0, sizeof(a->txq[i].st));
	}
	return 0;
}

#define AFP_NAME(n, d) #n,
static const char *const rx_xstat_names[] = {AFP_RX_XSTATS(AFP_NAME) "rx_kernel_drops"};
static const char *const tx_xstat_names[] = {AFP_TX_XSTATS(AFP_NAME)};
#define N_RX_X (RTE_DIM(rx_xstat_names))
#define N_TX_X (RTE_DIM(tx_xstat_names))

static int afp_xstats_names(struct rte_eth_dev *dev, struct rte_eth_xstat_name *names,
			    unsigned int size)
{
	if (names != NULL && size >= N_RX_X + N_TX_X) {
		for (unsigned int i = 0; i < N_RX_X; i++)
			snprintf(names[i].name, sizeof(names[i].name), "%s", rx_xstat_names[i]);
		for (unsigned int i = 0; i < N_TX_X; i++)
			snprintf(names[N_RX_X + i].name, sizeof(names[0].name), "%s",
				 tx_xstat_names[i]);
	}
	return (int)(N_RX_X + N_TX_X);
}

static int afp_xstats(struct rte_eth_dev *dev, struct rte_eth_xstat *xs, unsigned int n)
{
	struct afp_dev *a = dev->data->dev_private;
	uint64_t v[N_RX_X + N_TX_X];

	if (xs == NULL || n < N_RX_X + N_TX_X)
		return (int)(N_RX_X + N_TX_X);
	memset(v, 0, sizeof(v));
	for (unsigned int q = 0; q < a->nq; q++) {
		const struct afp_rx_stats *r = &a->rxq[q].st;
		const struct afp_tx_stats *t = &a->txq[q].st;
		unsigned int k = 0;
#define AFP_ADD_RX(name, d) v[k++] += r->name;
#define AFP_ADD_TX(name, d) v[k++] += t->name;
		AFP_RX_XSTATS(AFP_ADD_RX)
		afp_kernel_drops(&a->rxq[q]);
		v[k++] += a->rxq[q].kernel_drops;
		AFP_TX_XSTATS(AFP_ADD_TX)
	}
	for (unsigned int i = 0; i < N_RX_X + N_TX_X; i++) {
		xs[i].id = i;
		xs[i].value = v[i];
	}
	return (int)(N_RX_X + N_TX_X);
}

static const struct eth_dev_ops afp_ops = {
	.dev_configure = afp_configure,
	.dev_start = afp_start,
	.dev_stop = afp_stop,
	.dev_close = afp_close,
	.dev_infos_get = afp_info,
	.rx_queue_setup = afp_rx_setup,
	.tx_queue_setup = afp_tx_setup,
	.rx_queue_release = afp_queue_release,
	.tx_queue_release = afp_queue_release,
	.link_update = afp_link_update,
	.promiscuous_enable = afp_promisc_on,
	.promiscuous_disable = afp_promisc_off,
	.stats_get = afp_stats,
	.stats_reset = afp_stats_reset,
	.xstats_get = afp_xstats,
	.xstats_get_names = afp_xstats_names,
	.xstats_reset = afp_stats_reset,
};

/* ---- probe ---- */

struct afp_args {
	char iface[IF_NAMESIZE];
	unsigned int qpairs, framesz, framecnt, blocksz, qdisc_bypass, rxqs, txframecnt;
};

static int arg_uint(const char *key, const char *value, void *out)
{
	return kdp_vdev_arg_uint("net_kdp_afp", afp_logtype, key, value, out);
}

static int arg_iface(const char *key, const char *value, void *out)
{
	if (strlen(value) == 0 || strlen(value) >= IF_NAMESIZE) {
		AFP_LOG(ERR, "iface: '%s' is not an interface name", value);
		return -EINVAL;
	}
	snprintf(out, IF_NAMESIZE, "%s", value);
	return 0;
}

static int parse_args(const char *params, struct afp_args *a)
{
	static const char *const keys[] = {"iface", "qpairs", "framesz", "framecnt",
					   "blocksz", "qdisc_bypass", "rxqs", "txframecnt", NULL};
	struct rte_kvargs *kv = rte_kvargs_parse(params == NULL ? "" : params, keys);
	int ret = 0;

	memset(a, 0, sizeof(*a));
	a->qpairs = 1;
	a->framesz = AFP_DEFAULT_FRAMESZ;
	a->framecnt = AFP_DEFAULT_FRAMECNT;
	if (kv == NULL) {
		AFP_LOG(ERR, "cannot parse '%s' (keys: iface qpairs framesz framecnt blocksz qdisc_bypass rxqs txframecnt)",
			params);
		return -EINVAL;
	}
	if (rte_kvargs_count(kv, "iface") != 1) {
		AFP_LOG(ERR, "iface=<interface> is required, once");
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = rte_kvargs_process(kv, "iface", arg_iface, a->iface);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "qpairs", arg_uint, &a->qpairs);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "framesz", arg_uint, &a->framesz);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "framecnt", arg_uint, &a->framecnt);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "blocksz", arg_uint, &a->blocksz);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "qdisc_bypass", arg_uint, &a->qdisc_bypass);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "rxqs", arg_uint, &a->rxqs);
	if (ret == 0)
		ret = rte_kvargs_process(kv, "txframecnt", arg_uint, &a->txframecnt);
	rte_kvargs_free(kv);
	if (ret != 0)
		return ret;
	if (a->qpairs < 1 || a->qpairs > AFP_MAX_QUEUES) {
		AFP_LOG(ERR, "qpairs: %u is not 1-%u", a->qpairs, AFP_MAX_QUEUES);
		return -EINVAL;
	}
	if (a->framesz < 1024 || a->framesz > 65536 || a->framesz % TPACKET_ALIGNMENT) {
		AFP_LOG(ERR, "framesz: %u is not a multiple of %u in 1024-65536", a->framesz,
			TPACKET_ALIGNMENT);
		return -EINVAL;
	}
	if (a->blocksz == 0)
		a->blocksz = RTE_MAX((unsigned int)getpagesize(), a->framesz);
	if (a->blocksz % (unsigned int)getpagesize() || a->blocksz % a->framesz) {
		AFP_LOG(ERR, "blocksz: %u must be a multiple of the page size and of framesz %u",
			a->blocksz, a->framesz);
		return -EINVAL;
	}
	if (a->framecnt < 16 || a->framecnt % (a->blocksz / a->framesz)) {
		AFP_LOG(ERR, "framecnt: %u must be at least 16 and fill whole blocks (%u frames)",
			a->framecnt, a->blocksz / a->framesz);
		return -EINVAL;
	}
	if (a->rxqs == 0)
		a->rxqs = a->qpairs;
	if (a->rxqs > a->qpairs) {
		AFP_LOG(ERR, "rxqs: %u is not 1-%u (qpairs)", a->rxqs, a->qpairs);
		return -EINVAL;
	}
	if (a->txframecnt == 0)
		a->txframecnt = a->framecnt;
	if (a->txframecnt < 16 || a->txframecnt % (a->blocksz / a->framesz)) {
		AFP_LOG(ERR, "txframecnt: %u must be at least 16 and fill whole blocks (%u frames)",
			a->txframecnt, a->blocksz / a->framesz);
		return -EINVAL;
	}
	if (a->qdisc_bypass > 1) {
		AFP_LOG(ERR, "qdisc_bypass: %u is not 0 or 1", a->qdisc_bypass);
		return -EINVAL;
	}
	return 0;
}

static int sockopt(int fd, int level, int name, int v, const char *what, const char *iface)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)) == 0)
		return 0;
	AFP_LOG(ERR, "%s: cannot set %s: %s", iface, what, strerror(errno));
	return -errno;
}

static uint8_t **ring_slots(uint8_t *base, const struct tpacket_req *req)
{
	uint8_t **f = calloc(req->tp_frame_nr, sizeof(*f));
	unsigned int per_block = req->tp_block_size / req->tp_frame_size;

	if (f == NULL)
		return NULL;
	for (unsigned int i = 0; i < req->tp_frame_nr; i++)
		f[i] = base + (size_t)(i / per_block) * req->tp_block_size +
		       (size_t)(i % per_block) * req->tp_frame_size;
	return f;
}

/* One socket with its RX and TX rings for queue pair @p i, bound to the
 * interface, in the fanout group @p fanout when there are several. */
static int open_queue(struct afp_dev *a, unsigned int i, const struct afp_args *args,
		      int fanout, int numa)
{
	struct afp_rxq *r = &a->rxq[i];
	struct afp_txq *t = &a->txq[i];
	struct sockaddr_ll sll;
	size_t rx_len;
	bool rx;
	int fd, ret;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* receives nothing until bound */
	if (fd < 0) {
		AFP_LOG(ERR, "%s: cannot open an AF_PACKET socket: %s", a->iface, strerror(errno));
		return -errno;
	}
	r->fd = fd;
	t->fd = fd;
	if ((ret = sockopt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION", a->iface)) ||
	    (ret = sockopt(fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", a->iface)) ||
	    (ret = sockopt(fd, SOL_PACKET, PACKET_LOSS, 1, "PACKET_LOSS", a->iface)) ||
	    (ret = sockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, 1, "PACKET_COPY_THRESH", a->iface)))
		return ret;
	/* What this host sends on the interface is not received traffic; the
	 * ring check on sll_pkttype covers kernels without this option. */
	(void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &(int){1}, sizeof(int));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){AFP_RCVBUF}, sizeof(int)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){AFP_RCVBUF}, sizeof(int));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){AFP_RCVBUF}, sizeof(int)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){AFP_RCVBUF}, sizeof(int));
	if (args->qdisc_bypass &&
	    (ret = sockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS", a->iface)))
		return ret;
	/* A queue pair past nrxq only transmits: a TX ring alone, bound with
	 * protocol 0 so the kernel queues nothing for it. */
	rx = i < a->nrxq;
	if ((rx && setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &a->req, sizeof(a->req)) < 0) ||
	    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &a->treq, sizeof(a->treq)) < 0) {
		ret = -errno;
		AFP_LOG(ERR, "%s: cannot set up the rings (%u/%u frames of %u bytes): %s", a->iface,
			a->req.tp_frame_nr, a->treq.tp_frame_nr, a->req.tp_frame_size,
			strerror(errno));
		return ret;
	}
	rx_len = rx ? (size_t)a->req.tp_block_size * a->req.tp_block_nr : 0;
	a->map_len[i] = rx_len + (size_t)a->treq.tp_block_size * a->treq.tp_block_nr;
	a->map[i] = mmap(NULL, a->map_len[i], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED,
			 fd, 0);
	if (a->map[i] == MAP_FAILED)
		a->map[i] = mmap(NULL, a->map_len[i], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a->map[i] == MAP_FAILED) {
		ret = -errno;
		a->map[i] = NULL;
		AFP_LOG(ERR, "%s: cannot map the rings: %s", a->iface, strerror(errno));
		return ret;
	}
	if (rx) {
		r->ring.frame = ring_slots(a->map[i], &a->req);
		r->ring.count = a->req.tp_frame_nr;
		r->ring.size = a->req.tp_frame_size;
		r->ring.next = 0;
	}
	t->ring.frame = ring_slots(a->map[i] + rx_len, &a->treq);
	if ((rx && r->ring.frame == NULL) || t->ring.frame == NULL) {
		AFP_LOG(ERR, "%s: out of memory", a->iface);
		return -ENOMEM;
	}
	t->ring.count = a->treq.tp_frame_nr;
	t->ring.size = a->treq.tp_frame_size;
	t->ring.next = 0;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = rx ? htons(ETH_P_ALL) : 0;
	sll.sll_ifindex = a->ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		AFP_LOG(ERR, "%s: cannot bind: %s", a->iface, strerror(errno));
		return ret;
	}
	/* No PACKET_FANOUT_FLAG_DEFRAG: it reassembles IP fragments before the
	 * fanout, and a router forwards fragments as they are. Fragments hash
	 * on their addresses alone, so one datagram's stay on one queue. */
	if (rx && a->nrxq > 1 &&
	    (ret = sockopt(fd, SOL_PACKET, PACKET_FANOUT, fanout | (PACKET_FANOUT_HASH << 16),
			   "PACKET_FANOUT", a->iface)))
		return ret;
	return 0;
}

/* The socket frames larger than a ring slot leave by (sendmsg copies them
 * once): no rings, bound with protocol 0 so it receives nothing. */
static int open_large(struct afp_dev *a, const struct afp_args *args)
{
	struct sockaddr_ll sll;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), ret;

	if (fd < 0) {
		AFP_LOG(ERR, "%s: cannot open an AF_PACKET socket: %s", a->iface, strerror(errno));
		return -errno;
	}
	a->fd_large = fd;
	if ((ret = sockopt(fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", a->iface)))
		return ret;
	if (args->qdisc_bypass &&
	    (ret = sockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS", a->iface)))
		return ret;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){AFP_RCVBUF}, sizeof(int)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){AFP_RCVBUF}, sizeof(int));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = 0;
	sll.sll_ifindex = a->ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		AFP_LOG(ERR, "%s: cannot bind: %s", a->iface, strerror(errno));
		return ret;
	}
	return 0;
}

static int afp_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct rte_eth_dev *dev;
	struct afp_args args;
	struct afp_dev *a;
	struct ifreq ifr;
	int s, ret, numa = rte_socket_id() == (unsigned int)SOCKET_ID_ANY ? 0 : (int)rte_socket_id();

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		AFP_LOG(ERR, "%s: only a primary process may open it", name);
		return -ENOTSUP;
	}
	ret = parse_args(rte_vdev_device_args(vdev), &args);
	if (ret != 0)
		return ret;
	dev = rte_eth_vdev_allocate(vdev, sizeof(*a));
	if (dev == NULL)
		return -ENOMEM;
	a = dev->data->dev_private;
	for (unsigned int i = 0; i < AFP_MAX_QUEUES; i++)
		a->rxq[i].fd = a->txq[i].fd = a->txq[i].fd_large = -1;
	a->fd_large = -1;
	snprintf(a->iface, sizeof(a->iface), "%s", args.iface);
	a->nq = args.qpairs;
	a->nrxq = args.rxqs;
	a->ifindex = (int)if_nametoindex(args.iface);
	if (a->ifindex == 0) {
		ret = -errno;
		AFP_LOG(ERR, "%s: interface '%s': %s", name, args.iface, strerror(errno));
		goto fail;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", args.iface);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
		ret = -errno;
		AFP_LOG(ERR, "%s: cannot read the MAC of '%s': %s", name, args.iface,
			strerror(errno));
		if (s >= 0)
			close(s);
		goto fail;
	}
	close(s);
	memcpy(a->mac.addr_bytes, ifr.ifr_hwaddr.sa_data, RTE_ETHER_ADDR_LEN);
	a->req.tp_block_size = args.blocksz;
	a->req.tp_frame_size = args.framesz;
	a->req.tp_frame_nr = args.framecnt;
	a->req.tp_block_nr = args.framecnt / (args.blocksz / args.framesz);
	a->treq = a->req;
	a->treq.tp_frame_nr = args.txframecnt;
	a->treq.tp_block_nr = args.txframecnt / (args.blocksz / args.framesz);
	for (unsigned int i = 0; i < a->nq; i++) {
		ret = open_queue(a, i, &args, (int)((getpid() ^ a->ifindex) & 0xffff), numa);
		if (ret != 0)
			goto fail;
	}
	ret = open_large(a, &args);
	if (ret != 0)
		goto fail;
	dev->dev_ops = &afp_ops;
	dev->rx_pkt_burst = afp_rx_burst;
	dev->tx_pkt_burst = afp_tx_burst;
	dev->data->mac_addrs = &a->mac;
	dev->data->dev_link.link_status = RTE_ETH_LINK_DOWN;
	dev->data->dev_flags |= RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS;
	rte_eth_dev_probing_finish(dev);
	AFP_LOG(INFO, "%s on %s: %u queue pair(s) (%u receive), %u RX and %u TX frames of %u bytes",
		name, a->iface, a->nq, a->nrxq, a->req.tp_frame_nr, a->treq.tp_frame_nr,
		a->req.tp_frame_size);
	return 0;
fail:
	afp_free_queues(a);
	dev->data->mac_addrs = NULL;
	rte_eth_dev_release_port(dev);
	return ret;
}

static int afp_remove(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));

	if (dev == NULL)
		return 0; /* already gone */
	afp_close(dev);
	return rte_eth_dev_release_port(dev);
}

static struct rte_vdev_driver afp_driver = {
	.probe = afp_probe,
	.remove = afp_remove,
};

RTE_PMD_REGISTER_VDEV(AFP_DRIVER, afp_driver);
RTE_PMD_REGISTER_PARAM_STRING(AFP_DRIVER,
			      "iface=<string> qpairs=<int> framesz=<int> framecnt=<int> "
			      "blocksz=<int> qdisc_bypass=<0|1> rxqs=<int> txframecnt=<int>");
