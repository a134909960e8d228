/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-pktgen: kdp's DPDK traffic generator.
 *
 *   kdp-pktgen generate|receive|reflect --port DEVARGS [--port DEVARGS]
 *              [traffic and run options] [--json FILE] [-- EAL options]
 *
 * generate sends prepared frames (one template mbuf per flow, reused with a
 * refcount bump, so nothing is copied per packet) paced by the TSC, and may
 * receive on the rx port at the same time (--rx) for loss and latency.
 * receive counts, verifies checksums and measures latency from the sender's
 * 48-bit TSC stamped at the start of the L4 payload. reflect answers like a
 * backend would: MACs, IPs and ports swapped, checksums recomputed.
 * Everything runs on the main lcore. See README.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <rte_arp.h>
#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#define KDP_PKTGEN_MAX_FLOWS (1u << 20)
#define KDP_PKTGEN_RX_MBUFS 8191
#define KDP_PKTGEN_DESC 1024
#define KDP_PKTGEN_MAX_BURST 256
#define KDP_PKTGEN_TS_LEN 6 /* 48-bit TSC at the start of the L4 payload */
#define KDP_PKTGEN_TS_MASK ((1ull << 48) - 1)
/* Latency histogram: 0-100 us by 0.1 us, to 10 ms by 10 us, to 1 s by 1 ms. */
#define KDP_PKTGEN_HIST 3001
#define KDP_PKTGEN_FCS 4

enum kdp_pktgen_mode { KDP_PKTGEN_GENERATE, KDP_PKTGEN_RECEIVE, KDP_PKTGEN_REFLECT };
enum kdp_pktgen_proto { KDP_PKTGEN_UDP, KDP_PKTGEN_TCP_SYN, KDP_PKTGEN_TCP_ACK, KDP_PKTGEN_ICMP };

static const char *const mode_names[] = {"generate", "receive", "reflect"};
static const char *const proto_names[] = {"udp", "tcp-syn", "tcp-ack", "icmp"};

/* What to do, from flags and --profile. Addresses and ports in host order. */
struct kdp_pktgen_cfg {
	enum kdp_pktgen_mode mode;
	const char *port[2];
	int n_ports;
	const char *reflect_port; /* generate: also reflect on this port */
	bool rx; /* generate: also receive */
	bool no_ts;
	uint32_t flows;
	uint32_t src_lo, src_hi, dst;
	uint16_t sport_lo, sport_hi, dport;
	enum kdp_pktgen_proto proto;
	uint32_t size; /* incl. FCS */
	uint64_t rate; /* pps, 0 = line */
	double duration; /* s, 0 = count or until signal */
	double warmup; /* generate: s sent first and left out of every figure */
	uint64_t count;
	uint32_t burst;
	double link_wait;
	struct rte_ether_addr smac, dmac;
	const char *json;
};

struct kdp_pktgen_stats {
	uint64_t tx_pkts, tx_bytes, tx_drops;
	uint64_t rx_pkts, rx_bytes, rx_bad_ip, rx_bad_l4, rx_other;
	uint64_t refl_pkts; /* generate --reflect-port: frames answered */
	uint64_t tx_t0, tx_t1, rx_t0, rx_t1; /* TSC of first/last */
	uint64_t lat_n, lat_min, lat_max; /* cycles */
	/* generate: loop passes over 100 us (this process kept off its CPU) */
	uint64_t stalls, stall_cyc, stall_max;
	uint64_t hist[KDP_PKTGEN_HIST + 1];
};

static volatile sig_atomic_t quit;
static uint64_t hz;
static uint64_t ns_mul; /* ns = (cycles * ns_mul) >> 32 */
static char *json_strs[64]; /* strings from --profile, freed at exit */
static int n_json_strs;

static void on_signal(int sig)
{
	quit = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kdp-pktgen generate|receive|reflect --port DEVARGS [options] [-- EAL options]\n"
		"  --port DEVARGS       tx port (first), rx port (second, optional); probed with\n"
		"                       rte_dev_probe, e.g. net_null0,no-rx=1 or net_memif0,socket=/tmp/m.sock\n"
		"  --rx-port DEVARGS    separate rx port (same as a second --port); implies --rx\n"
		"  --rx                 generate: also receive on the rx port (loss, latency)\n"
		"  --reflect-port DEVARGS  generate: also act as the reflector on this port, in\n"
		"                       the same loop (one core for both ends of a round trip)\n"
		"  --profile FILE.json  the same keys as these flags; later flags win\n"
		"  --flows N            flows (src IP x source port combinations) [1]\n"
		"  --src A[-B]          source IPv4 or range [172.20.1.236]\n"
		"  --dst A              destination IPv4 [10.96.152.212]\n"
		"  --sport-range A[-B]  source ports [1024-65535]\n"
		"  --dport P            destination port [80]\n"
		"  --proto P            udp|tcp-syn|tcp-ack|icmp [udp]\n"
		"  --size B             frame size incl. FCS, 64-1518 [64]\n"
		"  --rate PPS           packets per second, 0 = as fast as possible [0]\n"
		"  --duration S         seconds to run [10 for generate without --count]\n"
		"  --warmup S           generate: send at the same rate for S seconds first and\n"
		"                       leave them out of every count and the latency (pages\n"
		"                       of fresh rings, e.g. a memif's, faulted in) [0]\n"
		"  --count N            packets to send (generate) or receive (receive)\n"
		"  --src-mac/--dst-mac  MACs [02:00:00:00:00:01 / 02:00:00:00:00:02]\n"
		"  --burst N            burst size [32]\n"
		"  --no-timestamp       do not stamp the TSC into the payload\n"
		"  --link-wait S        wait this long for link up [10]\n"
		"  --json FILE          write results as JSON\n"
		"EAL options follow --; --no-pci is added unless -a/-b/--no-pci is given.\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

/* "A" or "A-B" of IPv4 addresses (@p ip) or numbers up to @p max. */
static int parse_range(const char *s, bool ip, uint64_t max, uint64_t *lo, uint64_t *hi)
{
	char buf[64], *dash;
	uint32_t a;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash != NULL)
		*dash++ = '\0';
	if (ip) {
		if (parse_ip(buf, &a))
			return -1;
		*lo = a;
		if (dash != NULL && parse_ip(dash, &a))
			return -1;
		*hi = dash != NULL ? a : *lo;
	} else {
		if (parse_u64(buf, max, lo))
			return -1;
		*hi = *lo;
		if (dash != NULL && parse_u64(dash, max, hi))
			return -1;
	}
	return *hi < *lo ? -1 : 0;
}

static int parse_name(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int load_profile(struct kdp_pktgen_cfg *c, const char *file, char *err, size_t elen);

/* Applies one option by its long name; @p v is NULL for flags. 0 or -1. */
static int set_opt(struct kdp_pktgen_cfg *c, const char *name, const char *v,
		   char *err, size_t elen)
{
	uint64_t lo, hi;
	int i;
	char *end;

	if (strcmp(name, "port") == 0 || strcmp(name, "rx-port") == 0) {
		if (c->n_ports == 2) {
			snprintf(err, elen, "at most two ports");
			return -1;
		}
		if (strcmp(name, "rx-port") == 0) {
			if (c->n_ports == 0) {
				snprintf(err, elen, "--rx-port needs a --port (tx) before it");
				return -1;
			}
			c->rx = true;
		}
		c->port[c->n_ports++] = v;
	} else if (strcmp(name, "reflect-port") == 0) {
		c->reflect_port = v;
	} else if (strcmp(name, "mode") == 0) {
		if ((i = parse_name(v, mode_names, 3)) < 0)
			goto bad;
		c->mode = (enum kdp_pktgen_mode)i;
	} else if (strcmp(name, "rx") == 0) {
		c->rx = true;
	} else if (strcmp(name, "no-timestamp") == 0) {
		c->no_ts = true;
	} else if (strcmp(name, "profile") == 0) {
		return load_profile(c, v, err, elen);
	} else if (strcmp(name, "flows") == 0) {
		if (parse_u64(v, KDP_PKTGEN_MAX_FLOWS, &lo) || lo == 0)
			goto bad;
		c->flows = (uint32_t)lo;
	} else if (strcmp(name, "src") == 0) {
		if (parse_range(v, true, 0, &lo, &hi))
			goto bad;
		c->src_lo = (uint32_t)lo;
		c->src_hi = (uint32_t)hi;
	} else if (strcmp(name, "dst") == 0) {
		if (parse_ip(v, &c->dst))
			goto bad;
	} else if (strcmp(name, "sport-range") == 0) {
		if (parse_range(v, false, 65535, &lo, &hi) || lo == 0)
			goto bad;
		c->sport_lo = (uint16_t)lo;
		c->sport_hi = (uint16_t)hi;
	} else if (strcmp(name, "dport") == 0) {
		if (parse_u64(v, 65535, &lo) || lo == 0)
			goto bad;
		c->dport = (uint16_t)lo;
	} else if (strcmp(name, "proto") == 0) {
		if ((i = parse_name(v, proto_names, 4)) < 0)
			goto bad;
		c->proto = (enum kdp_pktgen_proto)i;
	} else if (strcmp(name, "size") == 0) {
		if (parse_u64(v, RTE_ETHER_MAX_LEN, &lo) || lo < RTE_ETHER_MIN_LEN)
			goto bad;
		c->size = (uint32_t)lo;
	} else if (strcmp(name, "rate") == 0) {
		if (parse_u64(v, 1000000000ull, &c->rate))
			goto bad;
	} else if (strcmp(name, "duration") == 0) {
		c->duration = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || !(c->duration > 0 && c->duration < 1e6))
			goto bad;
	} else if (strcmp(name, "warmup") == 0) {
		c->warmup = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || !(c->warmup >= 0 && c->warmup < 1e6))
			goto bad;
	} else if (strcmp(name, "count") == 0) {
		if (parse_u64(v, UINT64_MAX, &c->count) || c->count == 0)
			goto bad;
	} else if (strcmp(name, "burst") == 0) {
		if (parse_u64(v, KDP_PKTGEN_MAX_BURST, &lo) || lo == 0)
			goto bad;
		c->burst = (uint32_t)lo;
	} else if (strcmp(name, "link-wait") == 0) {
		c->link_wait = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || !(c->link_wait >= 0 && c->link_wait < 3600))
			goto bad;
	} else if (strcmp(name, "src-mac") == 0) {
		if (rte_ether_unformat_addr(v, &c->smac))
			goto bad;
	} else if (strcmp(name, "dst-mac") == 0) {
		if (rte_ether_unformat_addr(v, &c->dmac))
			goto bad;
	} else if (strcmp(name, "json") == 0) {
		c->json = v;
	} else {
		snprintf(err, elen, "unknown option --%s", name);
		return -1;
	}
	return 0;
bad:
	snprintf(err, elen, "bad value for --%s: '%s'", name, v ? v : "");
	return -1;
}

/* Keeps a string from the profile alive until exit. */
static const char *keep(const char *s)
{
	if (n_json_strs == (int)RTE_DIM(json_strs))
		return NULL;
	return json_strs[n_json_strs++] = strdup(s);
}

static int load_profile(struct kdp_pktgen_cfg *c, const char *file, char *err, size_t elen)
{
	json_error_t je;
	json_t *root = json_load_file(file, 0, &je), *v, *e;
	const char *key;
	char num[64];
	size_t i;
	int ret = 0;

	if (root == NULL || !json_is_object(root)) {
		snprintf(err, elen, "profile %s: %s (line %d)", file,
			 root ? "not a JSON object" : je.text, je.line);
		json_decref(root);
		return -1;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "profile") == 0) {
			snprintf(err, elen, "profile %s: nested \"profile\"", file);
			ret = -1;
		} else if (json_is_true(v)) {
			ret = set_opt(c, key, NULL, err, elen);
		} else if (json_is_false(v)) {
			ret = 0;
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			ret = set_opt(c, key, keep(num), err, elen);
		} else if (json_is_real(v)) {
			snprintf(num, sizeof(num), "%.17g", json_real_value(v));
			ret = set_opt(c, key, keep(num), err, elen);
		} else if (json_is_string(v)) {
			ret = set_opt(c, key, keep(json_string_value(v)), err, elen);
		} else if (json_is_array(v) && strcmp(key, "port") == 0) {
			json_array_foreach(v, i, e) {
				if (ret == 0 && json_is_string(e))
					ret = set_opt(c, key, keep(json_string_value(e)), err, elen);
				else if (ret == 0)
					ret = -1;
			}
		} else {
			ret = -1;
		}
		if (ret != 0) {
			if (strncmp(err, "profile", 7) != 0) {
				char tmp[256];

				snprintf(tmp, sizeof(tmp), "%s", err[0] ? err : "bad value");
				snprintf(err, elen, "profile %s: key \"%s\": %s", file, key, tmp);
			}
			break;
		}
	}
	json_decref(root);
	return ret;
}

/* ---- frames ---- */

static inline uint16_t l4_hdr_len(enum kdp_pktgen_proto p)
{
	return p == KDP_PKTGEN_TCP_SYN || p == KDP_PKTGEN_TCP_ACK ? 20 : 8;
}

static inline uint16_t fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Writes flow @p i's frame (timestamp 0) into @p m. */
static void build_frame(const struct kdp_pktgen_cfg *c, uint32_t i, struct rte_mbuf *m)
{
	uint32_t nsrc = c->src_hi - c->src_lo + 1;
	uint32_t src = c->src_lo + i % nsrc;
	uint16_t sport = (uint16_t)(c->sport_lo + (i / nsrc) % (c->sport_hi - c->sport_lo + 1u));
	uint16_t len = (uint16_t)(c->size - KDP_PKTGEN_FCS);
	uint16_t ip_len = (uint16_t)(len - sizeof(struct rte_ether_hdr));
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	void *l4 = ip + 1;

	memset(p, 0, len);
	eth->dst_addr = c->dmac;
	eth->src_addr = c->smac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(ip_len);
	ip->packet_id = rte_cpu_to_be_16((uint16_t)i);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(c->dst);
	switch (c->proto) {
	case KDP_PKTGEN_UDP: {
		struct rte_udp_hdr *u = l4;

		ip->next_proto_id = IPPROTO_UDP;
		u->src_port = rte_cpu_to_be_16(sport);
		u->dst_port = rte_cpu_to_be_16(c->dport);
		u->dgram_len = rte_cpu_to_be_16((uint16_t)(ip_len - sizeof(*ip)));
		u->dgram_cksum = rte_ipv4_udptcp_cksum(ip, u);
		break;
	}
	case KDP_PKTGEN_TCP_SYN:
	case KDP_PKTGEN_TCP_ACK: {
		struct rte_tcp_hdr *t = l4;

		ip->next_proto_id = IPPROTO_TCP;
		t->src_port = rte_cpu_to_be_16(sport);
		t->dst_port = rte_cpu_to_be_16(c->dport);
		t->sent_seq = rte_cpu_to_be_32(0x10000000u + i);
		t->data_off = 5 << 4;
		if (c->proto == KDP_PKTGEN_TCP_SYN) {
			t->tcp_flags = RTE_TCP_SYN_FLAG;
		} else {
			t->tcp_flags = RTE_TCP_ACK_FLAG;
			t->recv_ack = rte_cpu_to_be_32(0x20000000u + i);
		}
		t->rx_win = rte_cpu_to_be_16(65535);
		t->cksum = rte_ipv4_udptcp_cksum(ip, t);
		break;
	}
	case KDP_PKTGEN_ICMP: {
		struct rte_icmp_hdr *h = l4;

		ip->next_proto_id = IPPROTO_ICMP;
		h->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
		h->icmp_ident = rte_cpu_to_be_16(sport);
		h->icmp_seq_nb = rte_cpu_to_be_16(1);
		h->icmp_cksum = (uint16_t)~rte_raw_cksum(h, ip_len - sizeof(*ip));
		break;
	}
	}
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	m->data_len = len;
	m->pkt_len = len;
}

/* Offset of the L4 checksum and of the timestamp in the template frame. */
static void frame_offsets(const struct kdp_pktgen_cfg *c, uint16_t *ck, uint16_t *ts)
{
	uint16_t l4 = sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr);

	*ts = (uint16_t)(l4 + l4_hdr_len(c->proto));
	*ck = (uint16_t)(l4 + (c->proto == KDP_PKTGEN_UDP ? 6 :
			       c->proto == KDP_PKTGEN_ICMP ? 2 : 16));
}

/* Stamps the low 48 bits of @p tsc at @p ts and fixes the L4 checksum at @p ck
 * incrementally (RFC 1624: HC' = ~(~HC + ~m + m')). */
static inline void stamp(struct rte_mbuf *m, uint16_t ck, uint16_t ts, uint64_t tsc, bool udp)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t w[3], o[3], old, c;
	uint32_t s;

	memcpy(&old, p + ck, 2);
	memcpy(o, p + ts, KDP_PKTGEN_TS_LEN);
	memcpy(p + ts, &tsc, KDP_PKTGEN_TS_LEN);
	memcpy(w, p + ts, KDP_PKTGEN_TS_LEN);
	if (udp && old == 0) /* no checksum */
		return;
	s = (uint16_t)~old;
	s += (uint32_t)(uint16_t)~o[0] + (uint16_t)~o[1] + (uint16_t)~o[2];
	s += (uint32_t)w[0] + w[1] + w[2];
	c = (uint16_t)~fold(s);
	if (udp && c == 0)
		c = 0xffff;
	memcpy(p + ck, &c, 2);
}

/* ---- receive side ---- */

static inline void lat_add(struct kdp_pktgen_stats *st, uint64_t cyc)
{
	uint64_t ns = (cyc * ns_mul) >> 32;
	uint64_t b;

	if (ns < 100000)
		b = ns / 100;
	else if (ns < 10000000)
		b = 1000 + (ns - 100000) / 9900;
	else
		b = 2000 + (ns - 10000000) / 990000;
	if (b > KDP_PKTGEN_HIST)
		b = KDP_PKTGEN_HIST;
	st->hist[b]++;
	if (st->lat_n == 0 || cyc < st->lat_min)
		st->lat_min = cyc;
	if (cyc > st->lat_max)
		st->lat_max = cyc;
	st->lat_n++;
}

/* Upper bound of bucket @p b in microseconds. */
static double bucket_us(uint64_t b)
{
	if (b < 1000)
		return (double)(b + 1) * 0.1;
	if (b < 2000)
		return 100 + (double)(b - 1000 + 1) * 9.9;
	return 10000 + (double)(b - 2000 + 1) * 990;
}

static double lat_pct(const struct kdp_pktgen_stats *st, double q)
{
	double x = q * (double)st->lat_n;
	uint64_t want = (uint64_t)x, acc = 0;

	if ((double)want < x || want == 0)
		want++;
	for (uint64_t b = 0; b <= KDP_PKTGEN_HIST; b++) {
		acc += st->hist[b];
		if (acc >= want) {
			double us = bucket_us(b), max = (double)st->lat_max * 1e6 / (double)hz;

			return us > max ? max : us;
		}
	}
	return (double)st->lat_max * 1e6 / (double)hz;
}

/* Parses @p m as Ethernet/IPv4; returns the IPv4 header or NULL. */
static inline struct rte_ipv4_hdr *ipv4_of(struct rte_mbuf *m, uint16_t *ihl)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);

	if (m->data_len < sizeof(*eth) + sizeof(*ip) ||
	    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    (ip->version_ihl >> 4) != 4)
		return NULL;
	*ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	if (*ihl < sizeof(*ip) || rte_be_to_cpu_16(ip->total_length) < *ihl ||
	    m->data_len < sizeof(*eth) + rte_be_to_cpu_16(ip->total_length))
		return NULL;
	return ip;
}

/* Counts, verifies and times the received burst, then frees it. */
static void rx_account(struct kdp_pktgen_stats *st, struct rte_mbuf **pk, uint16_t n, uint64_t now)
{
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pk[i];
		uint16_t ihl, ip_len, l4_len, hl = 0;
		struct rte_ipv4_hdr *ip = ipv4_of(m, &ihl);
		uint8_t *l4;
		bool ok = true;

		st->rx_pkts++;
		st->rx_bytes += m->pkt_len;
		if (ip == NULL) {
			st->rx_other++;
			continue;
		}
		if (rte_raw_cksum(ip, ihl) != 0xffff)
			st->rx_bad_ip++;
		ip_len = rte_be_to_cpu_16(ip->total_length);
		l4 = (uint8_t *)ip + ihl;
		l4_len = (uint16_t)(ip_len - ihl);
		switch (ip->next_proto_id) {
		case IPPROTO_UDP:
			hl = 8;
			if (l4_len >= hl && ((struct rte_udp_hdr *)l4)->dgram_cksum != 0)
				ok = rte_ipv4_udptcp_cksum_verify(ip, l4) == 0;
			break;
		case IPPROTO_TCP:
			hl = 20;
			if (l4_len >= hl)
				hl = (uint16_t)((((struct rte_tcp_hdr *)l4)->data_off >> 4) * 4);
			ok = l4_len >= hl && rte_ipv4_udptcp_cksum_verify(ip, l4) == 0;
			break;
		case IPPROTO_ICMP:
			hl = 8;
			ok = rte_raw_cksum(l4, l4_len) == 0xffff;
			break;
		default:
			st->rx_other++;
			continue;
		}
		if (!ok)
			st->rx_bad_l4++;
		if (l4_len >= hl + KDP_PKTGEN_TS_LEN) {
			uint64_t ts = 0, d;

			memcpy(&ts, l4 + hl, KDP_PKTGEN_TS_LEN);
			d = (now - ts) & KDP_PKTGEN_TS_MASK;
			if (ts != 0 && d < hz) /* stamps older than 1 s are not ours */
				lat_add(st, d);
		}
	}
	rte_pktmbuf_free_bulk(pk, n);
}

/* Answers an ARP request for any address with @p mac, as the remote hosts
 * behind the reflector would. */
static bool reflect_arp(struct rte_mbuf *m, const struct rte_ether_addr *mac)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	uint32_t ip;

	if (m->data_len < sizeof(*eth) + sizeof(*a) ||
	    a->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST))
		return false;
	eth->dst_addr = eth->src_addr;
	eth->src_addr = *mac;
	a->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	a->arp_data.arp_tha = a->arp_data.arp_sha;
	a->arp_data.arp_sha = *mac;
	ip = a->arp_data.arp_tip;
	a->arp_data.arp_tip = a->arp_data.arp_sip;
	a->arp_data.arp_sip = ip;
	return true;
}

/* Turns a received frame into the answer a backend would send (an ARP
 * reply from @p mac for an ARP request). */
static bool reflect_one(struct rte_mbuf *m, const struct rte_ether_addr *mac)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ether_addr ea;
	uint16_t ihl, l4_len;
	struct rte_ipv4_hdr *ip;
	uint32_t a;
	uint8_t *l4;

	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP))
		return reflect_arp(m, mac);
	ip = ipv4_of(m, &ihl);
	if (ip == NULL)
		return false;
	l4 = (uint8_t *)ip + ihl;
	l4_len = (uint16_t)(rte_be_to_cpu_16(ip->total_length) - ihl);
	ea = eth->src_addr;
	eth->src_addr = eth->dst_addr;
	eth->dst_addr = ea;
	a = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = a;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	switch (ip->next_proto_id) {
	case IPPROTO_UDP: {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		uint16_t p;

		if (l4_len < sizeof(*u))
			return false;
		p = u->src_port;
		u->src_port = u->dst_port;
		u->dst_port = p;
		/* Swapping words leaves the sum unchanged. */
		break;
	}
	case IPPROTO_TCP: {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		uint16_t p;
		uint32_t seq;

		if (l4_len < sizeof(*t))
			return false;
		p = t->src_port;
		t->src_port = t->dst_port;
		t->dst_port = p;
		seq = t->sent_seq;
		if ((t->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG) {
			t->tcp_flags = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
			t->sent_seq = rte_cpu_to_be_32(0x30000000u);
		} else {
			t->sent_seq = t->recv_ack;
		}
		t->recv_ack = rte_cpu_to_be_32(rte_be_to_cpu_32(seq) + 1);
		t->cksum = 0;
		t->cksum = rte_ipv4_udptcp_cksum(ip, t);
		break;
	}
	case IPPROTO_ICMP: {
		struct rte_icmp_hdr *h = (struct rte_icmp_hdr *)l4;

		if (l4_len < sizeof(*h) || h->icmp_type != RTE_IP_ICMP_ECHO_REQUEST)
			return false;
		h->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
		h->icmp_cksum = 0;
		h->icmp_cksum = (uint16_t)~rte_raw_cksum(h, l4_len);
		break;
	}
	default:
		return false;
	}
	return true;
}

/* ---- ports ---- */

/* Probes @p devargs, sets up one rx and one tx queue and starts the port. */
static int port_open(const char *devargs, struct rte_mempool *mp, uint16_t *pid)
{
	struct rte_eth_conf conf = {0};
	uint16_t nrx = KDP_PKTGEN_DESC, ntx = KDP_PKTGEN_DESC;
	char name[RTE_DEV_NAME_MAX_LEN];
	size_t n = strcspn(devargs, ",");
	int ret;

	if (n == 0 || n >= sizeof(name)) {
		fprintf(stderr, "kdp-pktgen: port '%s': no device name\n", devargs);
		return -EINVAL;
	}
	memcpy(name, devargs, n);
	name[n] = '\0';
	ret = rte_dev_probe(devargs);
	if (ret != 0 && ret != -EEXIST) {
		fprintf(stderr, "kdp-pktgen: port '%s': probe failed: %s\n", devargs,
			rte_strerror(-ret));
		return ret;
	}
	ret = rte_eth_dev_get_port_by_name(name, pid);
	if (ret == 0)
		ret = rte_eth_dev_configure(*pid, 1, 1, &conf);
	if (ret == 0)
		ret = rte_eth_dev_adjust_nb_rx_tx_desc(*pid, &nrx, &ntx);
	if (ret == 0)
		ret = rte_eth_rx_queue_setup(*pid, 0, nrx, rte_eth_dev_socket_id(*pid), NULL, mp);
	if (ret == 0)
		ret = rte_eth_tx_queue_setup(*pid, 0, ntx, rte_eth_dev_socket_id(*pid), NULL);
	/* A memif client fails to start until its server listens: retry. */
	for (int i = 0; ret == 0; i++) {
		ret = rte_eth_dev_start(*pid);
		if (ret == 0 || strncmp(name, "net_memif", 9) != 0 || i == 500 || quit)
			break;
		ret = 0;
		rte_delay_ms(20);
	}
	if (ret != 0) {
		fprintf(stderr, "kdp-pktgen: port '%s': setup failed: %s\n", devargs,
			rte_strerror(ret < 0 ? -ret : ret));
		return ret;
	}
	rte_eth_promiscuous_enable(*pid);
	return 0;
}

static int link_wait(uint16_t pid, const char *devargs, double secs)
{
	uint64_t end = rte_get_tsc_cycles() + (uint64_t)(secs * (double)hz);
	struct rte_eth_link l;

	for (;;) {
		if (rte_eth_link_get_nowait(pid, &l) == 0 && l.link_status == RTE_ETH_LINK_UP)
			return 0;
		if (quit || rte_get_tsc_cycles() > end)
			break;
		rte_delay_ms(10);
	}
	fprintf(stderr, "kdp-pktgen: port '%s': link down after %.1f s\n", devargs, secs);
	return -1;
}

/* ---- run loops ---- */

struct kdp_pktgen_run {
	const struct kdp_pktgen_cfg *c;
	struct kdp_pktgen_stats st;
	uint16_t tx_port, rx_port;
	uint16_t refl_port; /* valid when c->reflect_port */
	struct rte_ether_addr refl_mac;
	struct rte_mbuf **slots; /* one prepared frame per flow */
	uint32_t n_slots;
};

static uint64_t end_tsc(const struct kdp_pktgen_cfg *c, uint64_t t0)
{
	return c->duration > 0 ? t0 + (uint64_t)(c->duration * (double)hz) : UINT64_MAX;
}

/* One burst in on @p in, answered (reflect_one) out on @p out; returns how
 * many came in. Unanswerable frames are counted in *other and freed. */
static uint16_t reflect_burst(uint16_t in, uint16_t out, const struct rte_ether_addr *mac,
			      uint16_t burst, uint64_t *in_bytes, uint64_t *other,
			      uint64_t *sent_pkts, uint64_t *sent_bytes, uint64_t *drops)
{
	struct rte_mbuf *b[KDP_PKTGEN_MAX_BURST], *o[KDP_PKTGEN_MAX_BURST];
	uint16_t n = rte_eth_rx_burst(in, 0, b, burst), k = 0, sent;

	for (uint16_t i = 0; i < n; i++) {
		*in_bytes += b[i]->pkt_len;
		if (reflect_one(b[i], mac)) {
			o[k++] = b[i];
		} else {
			(*other)++;
			rte_pktmbuf_free(b[i]);
		}
	}
	sent = k ? rte_eth_tx_burst(out, 0, o, k) : 0;
	for (uint16_t i = 0; i < sent; i++)
		*sent_bytes += o[i]->pkt_len;
	*sent_pkts += sent;
	if (sent < k) {
		*drops += k - sent;
		rte_pktmbuf_free_bulk(o + sent, k - sent);
	}
	return n;
}

static void run_generate(struct kdp_pktgen_run *r)
{
	const struct kdp_pktgen_cfg *c = r->c;
	struct kdp_pktgen_stats *st = &r->st;
	struct rte_mbuf *b[KDP_PKTGEN_MAX_BURST], *rxb[KDP_PKTGEN_MAX_BURST];
	uint64_t t0 = rte_get_tsc_cycles(), end = end_tsc(c, t0), now = t0;
	uint64_t limit = c->count ? c->count : UINT64_MAX;
	double per_cyc = (double)c->rate / (double)hz;
	uint16_t ck, tso, rx;
	bool udp = c->proto == KDP_PKTGEN_UDP, ts = !c->no_ts;
	uint32_t idx = 0, len = c->size - KDP_PKTGEN_FCS;
	uint64_t refl_bytes = 0, refl_drops = 0, prev = t0, stall = hz / 10000;

	frame_offsets(c, &ck, &tso);
	st->tx_t0 = t0;
	while (!quit && st->tx_pkts < limit && now < end) {
		uint64_t want = c->burst;
		uint16_t n, sent;

		if (c->rate) {
			uint64_t due = (uint64_t)((double)(now - t0) * per_cyc);

			want = due > st->tx_pkts ? due - st->tx_pkts : 0;
			if (want > c->burst)
				want = c->burst;
		}
		if (want > limit - st->tx_pkts)
			want = limit - st->tx_pkts;
		n = (uint16_t)want;
		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = r->slots[idx];

			if (++idx == r->n_slots)
				idx = 0;
			/* refcnt 1: only we hold it, so the stamp may be rewritten. */
			if (ts && rte_mbuf_refcnt_read(m) == 1)
				stamp(m, ck, tso, now, udp);
			rte_mbuf_refcnt_update(m, 1);
			b[i] = m;
		}
		sent = n ? rte_eth_tx_burst(r->tx_port, 0, b, n) : 0;
		if (sent < n) {
			/* Give the unsent back and resend them next round. */
			for (uint16_t i = sent; i < n; i++)
				rte_mbuf_refcnt_update(b[i], -1);
			idx = (idx + r->n_slots - (n - sent)) % r->n_slots;
			st->tx_drops += n - sent;
		}
		st->tx_pkts += sent;
		if (c->rx) {
			rx = rte_eth_rx_burst(r->rx_port, 0, rxb, KDP_PKTGEN_MAX_BURST);
			now = rte_get_tsc_cycles();
			if (rx) {
				if (st->rx_pkts == 0)
					st->rx_t0 = now;
				rx_account(st, rxb, rx, now);
				st->rx_t1 = now;
			}
		} else {
			now = rte_get_tsc_cycles();
		}
		if (unlikely(now - prev > stall)) {
			st->stalls++;
			st->stall_cyc += now - prev;
			st->stall_max = RTE_MAX(st->stall_max, now - prev);
		}
		prev = now;
		if (c->reflect_port)
			reflect_burst(r->refl_port, r->refl_port, &r->refl_mac, KDP_PKTGEN_MAX_BURST,
				      &refl_bytes, &st->rx_other, &st->refl_pkts, &refl_bytes,
				      &refl_drops);
	}
	st->tx_t1 = now;
	st->tx_bytes = st->tx_pkts * len;
	/* Drain what is still in flight for a little while. */
	end = now + hz / 5;
	while (c->rx && !quit && (now = rte_get_tsc_cycles()) < end) {
		if (c->reflect_port)
			reflect_burst(r->refl_port, r->refl_port, &r->refl_mac, KDP_PKTGEN_MAX_BURST,
				      &refl_bytes, &st->rx_other, &st->refl_pkts, &refl_bytes,
				      &refl_drops);
		rx = rte_eth_rx_burst(r->rx_port, 0, rxb, KDP_PKTGEN_MAX_BURST);
		if (rx) {
			if (st->rx_pkts == 0)
				st->rx_t0 = now;
			rx_account(st, rxb, rx, now);
			st->rx_t1 = now;
		}
	}
}

/* --warmup: the same traffic for that long, then every figure from zero
 * (what is still in flight is drained by run_generate's tail). */
static void warm_up(struct kdp_pktgen_run *r)
{
	const struct kdp_pktgen_cfg *c = r->c;
	struct kdp_pktgen_cfg w;

	if (c->warmup <= 0)
		return;
	w = *c;
	w.duration = c->warmup;
	w.count = 0;
	r->c = &w;
	run_generate(r);
	r->c = c;
	memset(&r->st, 0, sizeof(r->st));
	/* for a caller reading its own counters over the measured part */
	printf("warm-up done after %.1f s\n", c->warmup);
	fflush(stdout);
}

/* receive (@p reflect false) or reflect until the duration, count or a signal. */
static void run_rx(struct kdp_pktgen_run *r, bool reflect)
{
	const struct kdp_pktgen_cfg *c = r->c;
	struct kdp_pktgen_stats *st = &r->st;
	struct rte_mbuf *b[KDP_PKTGEN_MAX_BURST];
	uint64_t t0 = rte_get_tsc_cycles(), end = end_tsc(c, t0), now = t0;
	struct rte_ether_addr mac;

	rte_eth_macaddr_get(r->tx_port, &mac);
	while (!quit && now < end && (c->count == 0 || st->rx_pkts < c->count)) {
		uint64_t sent0 = st->tx_pkts;
		uint16_t n;

		if (reflect) {
			n = reflect_burst(r->rx_port, r->tx_port, &mac, (uint16_t)c->burst,
					  &st->rx_bytes, &st->rx_other, &st->tx_pkts, &st->tx_bytes,
					  &st->tx_drops);
		} else {
			n = rte_eth_rx_burst(r->rx_port, 0, b, (uint16_t)c->burst);
		}
		now = rte_get_tsc_cycles();
		if (n == 0)
			continue;
		if (st->rx_pkts == 0)
			st->rx_t0 = now;
		st->rx_t1 = now;
		if (!reflect) {
			rx_account(st, b, n, now);
			continue;
		}
		st->rx_pkts += n;
		if (sent0 == 0 && st->tx_pkts)
			st->tx_t0 = now;
		st->tx_t1 = now;
	}
}

/* ---- output ---- */

static double secs(uint64_t a, uint64_t b)
{
	return b > a ? (double)(b - a) / (double)hz : 0;
}

static double mpps(uint64_t pkts, uint64_t a, uint64_t b)
{
	double s = secs(a, b);

	return s > 0 ? (double)pkts / s / 1e6 : 0;
}

static double cyc_us(uint64_t cyc)
{
	return (double)cyc * 1e6 / (double)hz;
}

static void report(const struct kdp_pktgen_run *r)
{
	const struct kdp_pktgen_cfg *c = r->c;
	const struct kdp_pktgen_stats *st = &r->st;
	bool has_tx = c->mode != KDP_PKTGEN_RECEIVE, has_rx = c->mode != KDP_PKTGEN_GENERATE || c->rx;
	bool loss = c->mode == KDP_PKTGEN_GENERATE && c->rx;
	int64_t lost = (int64_t)st->tx_pkts - (int64_t)st->rx_pkts;
	double lat[5] = {0};
	char line[640];
	size_t o = 0;

	if (st->lat_n) {
		lat[0] = cyc_us(st->lat_min);
		lat[1] = lat_pct(st, 0.50);
		lat[2] = lat_pct(st, 0.99);
		lat[3] = cyc_us(st->lat_max);
		lat[4] = lat_pct(st, 0.999);
	}
	if (has_tx) {
		double s = secs(st->tx_t0, st->tx_t1);
		double mp = mpps(st->tx_pkts, st->tx_t0, st->tx_t1);

		o += (size_t)snprintf(line + o, sizeof(line) - o,
				      "tx %" PRIu64 " pkts in %.2f s = %.2f Mpps (%.2f Gbit/s L1)",
				      st->tx_pkts, s, mp,
				      mp * (double)(c->size + 20) * 8 / 1e3);
		if (st->tx_drops)
			o += (size_t)snprintf(line + o, sizeof(line) - o, ", %" PRIu64 " tx-full",
					      st->tx_drops);
		if (st->stalls)
			o += (size_t)snprintf(line + o, sizeof(line) - o,
					      ", %" PRIu64 " stalls > 100 us (%.1f ms, longest %.1f ms)",
					      st->stalls, cyc_us(st->stall_cyc) / 1e3,
					      cyc_us(st->stall_max) / 1e3);
	}
	if (has_rx)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%srx %" PRIu64 " pkts = %.2f Mpps",
				      o ? "; " : "", st->rx_pkts,
				      mpps(st->rx_pkts, st->rx_t0, st->rx_t1));
	if (has_rx && c->mode != KDP_PKTGEN_REFLECT)
		o += (size_t)snprintf(line + o, sizeof(line) - o,
				      ", bad ip-cksum %" PRIu64 " l4-cksum %" PRIu64,
				      st->rx_bad_ip, st->rx_bad_l4);
	if (has_rx)
		o += (size_t)snprintf(line + o, sizeof(line) - o, ", other %" PRIu64, st->rx_other);
	if (loss)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "; loss %" PRId64 " (%.4f%%)",
				      lost, st->tx_pkts ? 100.0 * (double)lost / (double)st->tx_pkts : 0);
	if (st->lat_n)
		o += (size_t)snprintf(line + o, sizeof(line) - o,
				      "; latency us min %.1f p50 %.1f p99 %.1f max %.1f (%" PRIu64 " samples)",
				      lat[0], lat[1], lat[2], lat[3], st->lat_n);
	printf("%s: %s\n", mode_names[c->mode], line);
	fflush(stdout);
	if (c->json != NULL) {
		json_t *j = json_pack("{s:s, s:i, s:s, s:i, s:I}", "mode", mode_names[c->mode],
				      "flows", (json_int_t)c->flows, "proto", proto_names[c->proto],
				      "size", (json_int_t)c->size, "rate_pps", (json_int_t)c->rate);

		if (has_tx)
			json_object_set_new(j, "tx", json_pack("{s:I, s:I, s:f, s:f, s:I}",
				"packets", (json_int_t)st->tx_pkts, "bytes", (json_int_t)st->tx_bytes,
				"seconds", secs(st->tx_t0, st->tx_t1),
				"mpps", mpps(st->tx_pkts, st->tx_t0, st->tx_t1),
				"tx_full", (json_int_t)st->tx_drops));
		if (has_tx)
			json_object_set_new(j, "stalls", json_pack("{s:I, s:f, s:f}",
				"count", (json_int_t)st->stalls, "total_us", cyc_us(st->stall_cyc),
				"max_us", cyc_us(st->stall_max)));
		if (has_rx)
			json_object_set_new(j, "rx", json_pack("{s:I, s:I, s:f, s:f, s:I, s:I, s:I}",
				"packets", (json_int_t)st->rx_pkts, "bytes", (json_int_t)st->rx_bytes,
				"seconds", secs(st->rx_t0, st->rx_t1),
				"mpps", mpps(st->rx_pkts, st->rx_t0, st->rx_t1),
				"bad_ip_cksum", (json_int_t)st->rx_bad_ip,
				"bad_l4_cksum", (json_int_t)st->rx_bad_l4,
				"other", (json_int_t)st->rx_other));
		if (c->reflect_port != NULL)
			json_object_set_new(j, "reflected", json_integer((json_int_t)st->refl_pkts));
		if (loss)
			json_object_set_new(j, "loss", json_pack("{s:I, s:f}",
				"packets", (json_int_t)lost,
				"ratio", st->tx_pkts ? (double)lost / (double)st->tx_pkts : 0.0));
		if (st->lat_n)
			json_object_set_new(j, "latency_us", json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}",
				"samples", (json_int_t)st->lat_n, "min", lat[0], "p50", lat[1],
				"p99", lat[2], "p999", lat[4], "max", lat[3]));
		if (j == NULL || json_dump_file(j, c->json, JSON_INDENT(2)) != 0)
			fprintf(stderr, "kdp-pktgen: cannot write %s\n", c->json);
		json_decref(j);
	}
}

/* ---- start-up ---- */

static bool has_arg(char **argv, int argc, const char *const *names)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *n = names; *n; n++)
			if (strncmp(argv[i], *n, strlen(*n)) == 0)
				return true;
	return false;
}

static int check_cfg(struct kdp_pktgen_cfg *c, char *err, size_t elen)
{
	uint64_t combos = (uint64_t)(c->src_hi - c->src_lo + 1) * (c->sport_hi - c->sport_lo + 1u);

	if (c->n_ports == 0) {
		snprintf(err, elen, "--port is required");
		return -1;
	}
	if (c->flows > combos) {
		snprintf(err, elen, "--flows %u exceeds the %" PRIu64
			 " source IP x source port combinations", c->flows, combos);
		return -1;
	}
	if (c->reflect_port != NULL && c->mode != KDP_PKTGEN_GENERATE) {
		snprintf(err, elen, "--reflect-port is for generate (use reflect mode otherwise)");
		return -1;
	}
	if (c->mode == KDP_PKTGEN_GENERATE && c->duration == 0 && c->count == 0)
		c->duration = 10;
	return 0;
}

static int prepare_slots(struct kdp_pktgen_run *r, struct rte_mempool **tpl)
{
	const struct kdp_pktgen_cfg *c = r->c;
	uint32_t n = c->flows;

	/* Small data rooms: a million flows fit in a few hundred MiB. */
	*tpl = rte_pktmbuf_pool_create("kdp_pktgen_tpl", n, 0, 0,
				       (uint16_t)(RTE_PKTMBUF_HEADROOM + RTE_ALIGN(c->size, 64)),
				       (int)rte_socket_id());
	r->slots = calloc(n, sizeof(*r->slots));
	if (*tpl == NULL || r->slots == NULL ||
	    rte_pktmbuf_alloc_bulk(*tpl, r->slots, n) != 0) {
		fprintf(stderr, "kdp-pktgen: cannot allocate %u template mbufs: %s (raise EAL -m)\n",
			n, rte_strerror(rte_errno));
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		build_frame(c, i, r->slots[i]);
	r->n_slots = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 0},
		{"rx-port", required_argument, NULL, 0},
		{"reflect-port", required_argument, NULL, 0},
		{"rx", no_argument, NULL, 0},
		{"mode", required_argument, NULL, 0},
		{"profile", required_argument, NULL, 0},
		{"flows", required_argument, NULL, 0},
		{"src", required_argument, NULL, 0},
		{"dst", required_argument, NULL, 0},
		{"sport-range", required_argument, NULL, 0},
		{"dport", required_argument, NULL, 0},
		{"proto", required_argument, NULL, 0},
		{"size", required_argument, NULL, 0},
		{"rate", required_argument, NULL, 0},
		{"duration", required_argument, NULL, 0},
		{"warmup", required_argument, NULL, 0},
		{"count", required_argument, NULL, 0},
		{"src-mac", required_argument, NULL, 0},
		{"dst-mac", required_argument, NULL, 0},
		{"burst", required_argument, NULL, 0},
		{"no-timestamp", no_argument, NULL, 0},
		{"link-wait", required_argument, NULL, 0},
		{"json", required_argument, NULL, 0},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const allow[] = {"-a", "--allow", "--no-pci", "-b", "--block", NULL};
	static struct kdp_pktgen_run r;
	struct kdp_pktgen_cfg c = {
		.mode = KDP_PKTGEN_GENERATE,
		.flows = 1,
		.src_lo = RTE_IPV4(172, 20, 1, 236), .src_hi = RTE_IPV4(172, 20, 1, 236),
		.dst = RTE_IPV4(10, 96, 152, 212),
		.sport_lo = 1024, .sport_hi = 65535, .dport = 80,
		.size = 64, .burst = 32, .link_wait = 10,
		.smac = {{0x02, 0, 0, 0, 0, 0x01}},
		.dmac = {{0x02, 0, 0, 0, 0, 0x02}},
	};
	struct rte_mempool *rxp = NULL, *tpl = NULL;
	char err[512] = "", **ev;
	int opt, idx, ec = 0, ret = 1;

	if (argc > 1 && argv[1][0] != '-') {
		if (set_opt(&c, "mode", argv[1], err, sizeof(err)) != 0) {
			fprintf(stderr, "kdp-pktgen: unknown mode '%s'\n", argv[1]);
			usage(stderr);
			return 2;
		}
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	while ((opt = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt != 0 || set_opt(&c, opts[idx].name, optarg, err, sizeof(err)) != 0) {
			if (err[0])
				fprintf(stderr, "kdp-pktgen: %s\n", err);
			usage(stderr);
			return 2;
		}
	}
	if (check_cfg(&c, err, sizeof(err)) != 0) {
		fprintf(stderr, "kdp-pktgen: %s\n", err);
		usage(stderr);
		return 2;
	}
	r.c = &c;
	ev = calloc((size_t)(argc - optind) + 3, sizeof(char *));
	if (ev == NULL)
		return 1;
	ev[ec++] = argv[0];
	for (int i = optind; i < argc; i++)
		ev[ec++] = argv[i];
	if (!has_arg(ev + 1, ec - 1, allow))
		ev[ec++] = (char *)"--no-pci";
	if (rte_eal_init(ec, ev) < 0) {
		fprintf(stderr, "kdp-pktgen: EAL init failed: %s\n", rte_strerror(rte_errno));
		free(ev);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	hz = rte_get_tsc_hz();
	ns_mul = (uint64_t)((1e9 * 4294967296.0) / (double)hz);
	rxp = rte_pktmbuf_pool_create("kdp_pktgen_rx", KDP_PKTGEN_RX_MBUFS, 256, 0,
				      RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (rxp == NULL) {
		fprintf(stderr, "kdp-pktgen: cannot create rx mbufs: %s (raise EAL -m)\n",
			rte_strerror(rte_errno));
		goto out;
	}
	if (port_open(c.port[0], rxp, &r.tx_port) != 0)
		goto out;
	r.rx_port = r.tx_port;
	if (c.n_ports == 2 && strcmp(c.port[0], c.port[1]) != 0 &&
	    port_open(c.port[1], rxp, &r.rx_port) != 0)
		goto out;
	if (link_wait(r.tx_port, c.port[0], c.link_wait) != 0 ||
	    (r.rx_port != r.tx_port && link_wait(r.rx_port, c.port[1], c.link_wait) != 0))
		goto out;
	if (c.reflect_port != NULL &&
	    (port_open(c.reflect_port, rxp, &r.refl_port) != 0 ||
	     link_wait(r.refl_port, c.reflect_port, c.link_wait) != 0))
		goto out;
	if (c.reflect_port != NULL)
		rte_eth_macaddr_get(r.refl_port, &r.refl_mac);
	if (c.mode == KDP_PKTGEN_GENERATE) {
		if (prepare_slots(&r, &tpl) != 0)
			goto out;
		warm_up(&r);
		run_generate(&r);
	} else {
		run_rx(&r, c.mode == KDP_PKTGEN_REFLECT);
	}
	report(&r);
	ret = 0;
out:
	if (r.slots != NULL) {
		for (uint32_t i = 0; i < r.n_slots; i++)
			rte_pktmbuf_free(r.slots[i]);
		free(r.slots);
	}
	{
		uint16_t pid;

		RTE_ETH_FOREACH_DEV(pid) {
			rte_eth_dev_stop(pid);
			rte_eth_dev_close(pid);
		}
	}
	rte_mempool_free(tpl);
	rte_mempool_free(rxp);
	rte_eal_cleanup();
	for (int i = 0; i < n_json_strs; i++)
		free(json_strs[i]);
	free(ev);
	return ret;
}
