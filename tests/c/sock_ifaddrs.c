/* Interface discovery the way programs do it: getifaddrs (netlink),
 * if_nametoindex/if_indextoname, and the SIOCGIF* ioctls. Only loopback is
 * printed, so the host's other interfaces do not matter. */
#include "common.h"
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ifaddrs(void)
{
	struct ifaddrs *list;
	if (getifaddrs(&list) < 0)
		die("getifaddrs");
	char *lines[64];
	int n = 0;
	for (struct ifaddrs *i = list; i && n < 64; i = i->ifa_next) {
		if (strcmp(i->ifa_name, "lo") != 0 || !i->ifa_addr)
			continue;
		char h[64] = "?", mask[64] = "?";
		int fam = i->ifa_addr->sa_family;
		if (fam == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, h, sizeof h);
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, mask, sizeof mask);
		} else if (fam == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, h, sizeof h);
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr, mask, sizeof mask);
		} else if (fam == AF_PACKET) {
			strcpy(h, "link");
			strcpy(mask, "-");
		}
		lines[n] = malloc(200);
		snprintf(lines[n], 200, "%s family=%d addr=%s mask=%s up=%d loopback=%d", i->ifa_name, fam, h, mask,
			 !!(i->ifa_flags & IFF_UP), !!(i->ifa_flags & IFF_LOOPBACK));
		n++;
	}
	freeifaddrs(list);
	qsort(lines, n, sizeof lines[0], cmp_line);
	for (int i = 0; i < n; i++) {
		printf("ifaddr %s\n", lines[i]);
		free(lines[i]);
	}
}

static void names(void)
{
	unsigned idx = if_nametoindex("lo");
	printf("if_nametoindex(lo) = %u\n", idx);
	char name[IF_NAMESIZE];
	printf("if_indextoname = %s\n", if_indextoname(idx, name) ? name : errname(errno));
	printf("if_nametoindex(nosuch0) = %u\n", if_nametoindex("nosuch0"));
}

static void ioctls(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq r;
	memset(&r, 0, sizeof r);
	strcpy(r.ifr_name, "lo");
	CHECK(ioctl(s, SIOCGIFFLAGS, &r));
	printf("lo flags up=%d loopback=%d\n", !!(r.ifr_flags & IFF_UP), !!(r.ifr_flags & IFF_LOOPBACK));
	CHECK(ioctl(s, SIOCGIFINDEX, &r));
	printf("lo index = %d\n", r.ifr_ifindex);
	CHECK(ioctl(s, SIOCGIFADDR, &r));
	char h[32];
	printf("lo addr = %s\n", inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_addr)->sin_addr, h, sizeof h));
	CHECK(ioctl(s, SIOCGIFMTU, &r));
	printf("lo mtu = %d\n", r.ifr_mtu);
	strcpy(r.ifr_name, "nosuch0");
	CHECK(ioctl(s, SIOCGIFFLAGS, &r) /* no such interface */);
	struct ifconf conf = { 0 };
	CHECK(ioctl(s, SIOCGIFCONF, &conf));
	printf("ifconf size query positive: %d\n", conf.ifc_len > 0);
	char buf[4096];
	conf.ifc_len = sizeof buf;
	conf.ifc_buf = buf;
	CHECK(ioctl(s, SIOCGIFCONF, &conf));
	int found = 0;
	for (int off = 0; off + (int)sizeof(struct ifreq) <= conf.ifc_len; off += sizeof(struct ifreq)) {
		struct ifreq *e = (struct ifreq *)(buf + off);
		if (strcmp(e->ifr_name, "lo") == 0)
			found = 1;
	}
	printf("ifconf lists lo: %d\n", found);
	close(s);
}

/* A raw RTM_GETLINK dump for lo's index through a netlink socket. */
static void netlink(void)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		die("netlink socket");
	struct sockaddr_nl me = { .nl_family = AF_NETLINK };
	CHECK(bind(s, (struct sockaddr *)&me, sizeof me));
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { 0 };
	req.h.nlmsg_len = sizeof req;
	req.h.nlmsg_type = RTM_GETLINK;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.h.nlmsg_seq = 42;
	req.i.ifi_family = AF_UNSPEC;
	req.i.ifi_index = (int)if_nametoindex("lo");
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	CHECKV(sendto(s, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) > 0);
	char buf[8192];
	struct sockaddr_nl from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	printf("netlink reply ok=%d type=%d seq=%u from-kernel=%d\n", n > 0 && NLMSG_OK(h, n), h->nlmsg_type,
	       h->nlmsg_seq, from.nl_pid == 0);
	if (h->nlmsg_type == RTM_NEWLINK) {
		struct ifinfomsg *ifi = NLMSG_DATA(h);
		printf("link index matches: %d\n", ifi->ifi_index == req.i.ifi_index);
	}
	close(s);
	CHECK(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
	CHECK(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE) /* bad type */);
}

int main(void)
{
	ifaddrs();
	names();
	ioctls();
	netlink();
	return 0;
}
