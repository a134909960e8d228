/* SPDX-License-Identifier: BSD-3-Clause */
/* kdp-cni: links, addresses and routes over rtnetlink; namespaces. */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kdp_cni.h"

struct req {
	struct nlmsghdr h;
	char buf[2048];
};

/* Appends an attribute to the request (the buffer is far larger than any
 * request here: a full one is a bug, and aborts). */
static void attr(struct req *r, unsigned short type, const void *data, size_t len)
{
	char *base = (char *)r;
	size_t off = NLMSG_ALIGN(r->h.nlmsg_len);
	struct rtattr *a = (struct rtattr *)(base + off);

	if (off + RTA_SPACE(len) > sizeof(*r))
		abort();
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = (uint32_t)(off + RTA_ALIGN(a->rta_len));
}

static struct rtattr *nest(struct req *r, unsigned short type)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	attr(r, type, NULL, 0);
	return a;
}

static void nest_end(struct req *r, struct rtattr *a)
{
	a->rta_len = (unsigned short)((char *)r + r->h.nlmsg_len - (char *)a);
}

/* Sends one request and reads its acknowledgement. 0 or -errno. */
static int talk(struct nlmsghdr *h)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	char buf[4096];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), ret = -EIO;
	ssize_t n;

	if (fd < 0)
		return -errno;
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = 1;
	if (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (unsigned int)n);
		     r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(r))->error;
				close(fd);
				return ret;
			}
		}
	}
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int kdp_cni_veth_create(const char *host, const char *peer, int netns_fd, unsigned int mtu)
{
	struct req r;
	struct ifinfomsg *ifi, *pifi;
	struct rtattr *li, *data, *pa;
	int fd = netns_fd;

	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r.h.nlmsg_type = RTM_NEWLINK;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifi = NLMSG_DATA(&r.h);
	ifi->ifi_family = AF_UNSPEC;
	attr(&r, IFLA_IFNAME, host, strlen(host) + 1);
	attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	li = nest(&r, IFLA_LINKINFO);
	attr(&r, IFLA_INFO_KIND, "veth", 4);
	data = nest(&r, IFLA_INFO_DATA);
	pa = nest(&r, VETH_INFO_PEER);
	/* the peer's attributes follow its own ifinfomsg */
	pifi = (struct ifinfomsg *)((char *)&r.h + r.h.nlmsg_len);
	memset(pifi, 0, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	r.h.nlmsg_len += NLMSG_ALIGN(sizeof(*pifi));
	attr(&r, IFLA_IFNAME, peer, strlen(peer) + 1);
	attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	attr(&r, IFLA_NET_NS_FD, &fd, sizeof(fd));
	nest_end(&r, pa);
	nest_end(&r, data);
	nest_end(&r, li);
	return talk(&r.h);
}

int kdp_cni_link_del(const char *name)
{
	struct req r;
	struct ifinfomsg *ifi;
	int ret;

	if (if_nametoindex(name) == 0)
		return -ENODEV;
	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r.h.nlmsg_type = RTM_DELLINK;
	ifi = NLMSG_DATA(&r.h);
	ifi->ifi_family = AF_UNSPEC;
	attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	ret = talk(&r.h);
	return ret == -ENOENT ? -ENODEV : ret;
}

int kdp_cni_link_up(const char *name, bool noarp)
{
	struct req r;
	struct ifinfomsg *ifi;
	unsigned int idx = if_nametoindex(name);

	if (idx == 0)
		return -ENODEV;
	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r.h.nlmsg_type = RTM_NEWLINK;
	ifi = NLMSG_DATA(&r.h);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)idx;
	ifi->ifi_flags = IFF_UP | (noarp ? IFF_NOARP : 0);
	ifi->ifi_change = IFF_UP | (noarp ? IFF_NOARP : 0);
	return talk(&r.h);
}

int kdp_cni_link_info(const char *name, char *mac, size_t len, int *ifindex)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;
	unsigned char *m;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) {
		ret = -errno;
		goto out;
	}
	*ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) {
		ret = -errno;
		goto out;
	}
	m = (unsigned char *)ifr.ifr_hwaddr.sa_data;
	snprintf(mac, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
out:
	close(fd);
	return ret;
}

int kdp_cni_link_addr(const char *name, uint32_t *addr)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_addr.sa_family = AF_INET;
	if (ioctl(fd, SIOCGIFADDR, &ifr) != 0)
		ret = -errno;
	else
		*addr = ntohl(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr);
	close(fd);
	return ret;
}

/* RTM_NEWADDR of @p len bytes @p a (network order) of @p family. */
static int addr_add(int ifindex, int family, const void *a, size_t len, unsigned int plen,
		    unsigned char flags)
{
	struct req r;
	struct ifaddrmsg *ifa;

	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
	r.h.nlmsg_type = RTM_NEWADDR;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ifa = NLMSG_DATA(&r.h);
	ifa->ifa_family = (unsigned char)family;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_flags = flags;
	ifa->ifa_index = (unsigned int)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	attr(&r, IFA_LOCAL, a, len);
	attr(&r, IFA_ADDRESS, a, len);
	return talk(&r.h);
}

int kdp_cni_addr_add(int ifindex, uint32_t addr, unsigned int plen)
{
	uint32_t a = htonl(addr);

	return addr_add(ifindex, AF_INET, &a, sizeof(a), plen, 0);
}

int kdp_cni_addr6_add(int ifindex, const struct in6_addr *addr, unsigned int plen)
{
	return addr_add(ifindex, AF_INET6, addr, sizeof(*addr), plen, IFA_F_NODAD);
}

/* RTM_NEWROUTE of the default route of @p family via @p gw (@p len bytes,
 * network order) out of @p ifindex. */
static int default_route(int ifindex, int family, const void *gw, size_t len, unsigned int flags)
{
	struct req r;
	struct rtmsg *rt;

	memset(&r, 0, sizeof(r));
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(*rt));
	r.h.nlmsg_type = RTM_NEWROUTE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	rt = NLMSG_DATA(&r.h);
	rt->rtm_family = (unsigned char)family;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	rt->rtm_flags = flags;
	attr(&r, RTA_GATEWAY, gw, len);
	attr(&r, RTA_OIF, &ifindex, sizeof(ifindex));
	return talk(&r.h);
}

int kdp_cni_default_route(int ifindex, uint32_t gw)
{
	uint32_t g = htonl(gw);

	return default_route(ifindex, AF_INET, &g, sizeof(g), RTNH_F_ONLINK);
}

int kdp_cni_default_route6(int ifindex, const struct in6_addr *gw)
{
	/* On-link like the IPv4 one: a pod has no route to a global gateway. */
	return default_route(ifindex, AF_INET6, gw, sizeof(*gw), RTNH_F_ONLINK);
}

int kdp_cni_link_has_addr6(const char *name, const struct in6_addr *addr)
{
	struct ifaddrs *all, *i;
	int found = 0;

	if (getifaddrs(&all) != 0)
		return -errno;
	for (i = all; i != NULL && !found; i = i->ifa_next)
		found = i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET6 &&
			strcmp(i->ifa_name, name) == 0 &&
			memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, addr,
			       sizeof(*addr)) == 0;
	freeifaddrs(all);
	return found;
}

int kdp_cni_sysctl(const char *path, const char *value)
{
	char p[256];
	int fd, ret = 0;

	snprintf(p, sizeof(p), "/proc/sys/%s", path);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int kdp_cni_in_netns(int netns_fd, int (*fn)(void *arg), void *arg)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ret;

	if (self < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) != 0) {
		ret = -errno;
		close(self);
		return ret;
	}
	ret = fn(arg);
	if (setns(self, CLONE_NEWNET) != 0) {
		/* nothing sensible can follow in the wrong namespace */
		fprintf(stderr, "kdp-cni: cannot return to the host network namespace: %s\n",
			strerror(errno));
		_exit(KDP_CNI_E_IO);
	}
	close(self);
	return ret;
}
