/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Drop reasons of every pipeline stage.
 *
 * Each stage owns one X-macro list, `_(NAME, "wire_name", "help")`. From the
 * lists come the enum, the names shown by the API/CLI/metrics and the stage a
 * reason belongs to, so a drop is never a bare number.
 */
#ifndef KDP_DROP_H
#define KDP_DROP_H

#include <stdint.h>

/** Parse stage: frames that are not well-formed Ethernet/ARP/IPv4/IPv6/L4. */
#define KDP_PARSE_DROPS(_)                                                     \
	_(ETH_TRUNCATED, "eth_truncated", "frame shorter than an Ethernet header") \
	_(ETHERTYPE_UNSUPPORTED, "ethertype_unsupported",                      \
	  "neither IPv4, IPv6 nor ARP (VLAN, LLDP...)")                        \
	_(ARP_MALFORMED, "arp_malformed", "ARP that is not Ethernet/IPv4")      \
	_(IP_TRUNCATED, "ip_truncated", "IPv4 header cut short")                \
	_(IP_BAD_VERSION, "ip_bad_version",                                    \
	  "IP version does not match the ethertype")                          \
	_(IP_BAD_IHL, "ip_bad_ihl", "IHL below 5 or beyond the frame")         \
	_(IP_BAD_TOTAL_LENGTH, "ip_bad_total_length",                          \
	  "total length below the header or beyond the frame")                 \
	_(IP_BAD_CHECKSUM, "ip_bad_checksum", "IPv4 header checksum wrong")    \
	_(IP_BAD_SOURCE, "ip_bad_source",                                      \
	  "source is 0/8, loopback, multicast or broadcast")                   \
	_(L4_TRUNCATED, "l4_truncated", "TCP/UDP/ICMP header cut short")      \
	_(CSUM_PARTIAL_UNSUPPORTED, "csum_partial_unsupported",                \
	  "partial L4 checksum on a packet that is not unfragmented TCP/UDP")   \
	_(MULTISEG, "multi_segment", "chained mbufs are not supported")         \
	_(IP6_TRUNCATED, "ip6_truncated", "IPv6 header cut short")              \
	_(IP6_BAD_PAYLOAD_LENGTH, "ip6_bad_payload_length",                    \
	  "IPv6 payload length beyond the frame (or a jumbogram)")             \
	_(IP6_BAD_SOURCE, "ip6_bad_source",                                    \
	  "IPv6 source is ::, ::1, multicast or IPv4-mapped")                  \
	_(IP6_EXT_TRUNCATED, "ip6_ext_truncated",                              \
	  "an IPv6 extension header runs past the packet")                    \
	_(IP6_EXT_CHAIN_TOO_LONG, "ip6_ext_chain_too_long",                    \
	  "more than 8 IPv6 extension headers or 512 bytes of them")          \
	_(IP6_HOP_BY_HOP_MISPLACED, "ip6_hop_by_hop_misplaced",                \
	  "Hop-by-Hop options not right after the IPv6 header")               \
	_(IP6_ROUTING_HEADER, "ip6_routing_header",                            \
	  "IPv6 routing header with segments left (source routing)")           \
	_(IP6_FRAG_BAD, "ip6_frag_bad",                                        \
	  "IPv6 fragment not a multiple of 8 bytes, or past 65535")           \
	_(ND_MALFORMED, "nd_malformed",                                        \
	  "neighbour discovery message failing RFC 4861 checks")

/** Ingress stage: checks tied to the port a packet came in on. */
#define KDP_INGRESS_DROPS(_)                                                   \
	_(UNKNOWN_PORT, "port_unknown", "received on a port with no role")     \
	_(L2_NOT_FOR_US, "l2_not_for_us",                                      \
	  "unicast to another MAC on the uplink")                               \
	_(SPOOFED_SOURCE, "spoofed_source",                                    \
	  "pod port sent a source IP that is not the pod's")

/** Conntrack stage. */
#define KDP_CT_DROPS(_)                                                        \
	_(CT_FULL, "ct_full", "conntrack table full: new flow refused")        \
	_(CT_CLASH, "ct_clash",                                                \
	  "the translated tuple is already another flow's")                   \
	_(CT_UNTRACKABLE, "ct_untrackable",                                    \
	  "fragment or non-echo ICMP to a service address")                    \
	_(ICMP_QUOTE_BAD, "icmp_quote_bad",                                    \
	  "ICMP error quoting too little of its packet to translate")

/** Service stage: load balancing (DNAT) and the SNAT it may need. */
#define KDP_SVC_DROPS(_)                                                       \
	_(SVC_NO_BACKEND, "svc_no_backend",                                    \
	  "service has no usable backend (rejected: RST or ICMP)")           \
	_(SVC_BACKEND_GONE, "svc_backend_gone",                                \
	  "established flow whose backend was removed")                       \
	_(SVC_UNKNOWN, "svc_unknown",                                          \
	  "to the service CIDR but no such service port")                       \
	_(SVC_SOURCE_RANGE, "svc_source_range",                                \
	  "new flow from outside the service's loadBalancerSourceRanges")

/** NAT stage: source translation (masquerade, NodePort to another node). */
#define KDP_NAT_DROPS(_)                                                       \
	_(NAT_PORT_EXHAUSTED, "nat_port_exhausted",                            \
	  "no free SNAT port for a new flow")

/** Route stage: longest-prefix match and IPv4/IPv6 forwarding rules. */
#define KDP_ROUTE_DROPS(_)                                                     \
	_(NO_ROUTE, "no_route", "no route to the destination")                 \
	_(NO_ENDPOINT, "no_endpoint",                                          \
	  "destination in this node's podCIDR but no such pod")                \
	_(DST_NOT_UNICAST, "dst_not_unicast",                                  \
	  "multicast or broadcast destination")                               \
	_(LINK_LOCAL, "link_local_not_forwarded",                              \
	  "IPv6 link-local source or destination (never routed)")            \
	_(NO_HOST_PORT, "no_host_port",                                        \
	  "for the node itself and no host tap configured")                   \
	_(LOCAL_UNSUPPORTED, "local_unsupported",                              \
	  "to kdp's own address and not an ICMP echo request")                 \
	_(TTL_EXCEEDED, "ttl_exceeded",                                        \
	  "TTL or hop limit expired (ICMP time exceeded sent)")               \
	_(FRAG_NEEDED, "frag_needed",                                          \
	  "larger than the egress MTU with DF (ICMP frag needed sent)")       \
	_(MTU_EXCEEDED, "mtu_exceeded",                                        \
	  "larger than the egress MTU without DF (kdp does not fragment)")    \
	_(PKT_TOO_BIG, "pkt_too_big",                                          \
	  "IPv6 larger than the egress MTU (ICMPv6 packet too big sent)")

/** Neighbour stage: L2 resolution of next hops on the uplink (ARP, ND). */
#define KDP_NEIGH_DROPS(_)                                                     \
	_(PUNT_FULL, "punt_queue_full",                                        \
	  "slow-path ring to the control thread full")                       \
	_(NEIGH_QUEUE_FULL, "neigh_queue_full",                                \
	  "too many packets already waiting for this neighbour")               \
	_(NEIGH_UNRESOLVED, "neigh_unresolved",                                \
	  "next hop did not answer ARP")                                      \
	_(NEIGH_TABLE_FULL, "neigh_table_full", "neighbour table full")         \
	_(ARP_IGNORED, "arp_ignored",                                          \
	  "ARP not for kdp (consumed, not forwarded)")                        \
	_(ND_IGNORED, "nd_ignored",                                            \
	  "neighbour or router discovery, MLD not for kdp (consumed)")

/** TX stage. */
#define KDP_TX_DROPS(_)                                                        \
	_(TX_FULL, "tx_queue_full", "egress queue full")                       \
	_(PORT_GONE, "port_gone", "egress port was removed")                  \
	_(TX_SEGMENT, "tx_segment_failed",                                     \
	  "super-frame for a port without TSO not cut (no mbuf, bad headers)")

/** Calls `_(STAGE_MACRO, "stage")` for each stage list, in pipeline order. */
#define KDP_FOREACH_STAGE(_)                                                   \
	_(KDP_PARSE_DROPS, "parse")                                            \
	_(KDP_INGRESS_DROPS, "ingress")                                        \
	_(KDP_CT_DROPS, "ct")                                                  \
	_(KDP_SVC_DROPS, "service")                                            \
	_(KDP_NAT_DROPS, "nat")                                                \
	_(KDP_ROUTE_DROPS, "route")                                            \
	_(KDP_NEIGH_DROPS, "neigh")                                            \
	_(KDP_TX_DROPS, "tx")

#define KDP_DROP_ENUM_(n, s, h) KDP_DROP_##n,
#define KDP_DROP_STAGE_ENUM_(list, stage) list(KDP_DROP_ENUM_)

/** Every drop reason of every stage. */
enum kdp_drop {
	KDP_FOREACH_STAGE(KDP_DROP_STAGE_ENUM_)
	KDP_DROP__MAX
};

/** Returned by stage functions when the packet goes on. */
#define KDP_DROP_NONE KDP_DROP__MAX

/** Wire name of a drop reason ("spoofed_source"), or "unknown". */
const char *kdp_drop_name(unsigned int reason);
/** Stage a drop reason belongs to ("ingress"), or "unknown". */
const char *kdp_drop_stage(unsigned int reason);
/** One-line description of a drop reason. */
const char *kdp_drop_help(unsigned int reason);

#endif
