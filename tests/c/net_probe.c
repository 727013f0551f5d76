/* Network isolation probe, run only under rvisor by tests/tests/net.rs (its
 * output differs from a native run on purpose). Prints the interfaces the
 * program can see and what happens to privileged requests. */
#include "common.h"
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct if_nameindex *list = if_nameindex();
	char *names[64];
	int n = 0;
	for (struct if_nameindex *i = list; i && i->if_index && n < 64; i++)
		names[n++] = strdup(i->if_name);
	if_freenameindex(list);
	qsort(names, n, sizeof names[0], cmp_str);
	for (int i = 0; i < n; i++)
		printf("if %s\n", names[i]);
	if (argc > 1 && strcmp(argv[1], "interfaces") == 0)
		return 0;

	int r = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	printf("raw: %s\n", r < 0 ? errname(errno) : "ok");
	int p = socket(AF_PACKET, SOCK_DGRAM, 0);
	printf("packet: %s\n", p < 0 ? errname(errno) : "ok");

	/* A no-op link change for lo: refused before it reaches the kernel. */
	int nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { 0 };
	req.h.nlmsg_len = sizeof req;
	req.h.nlmsg_type = RTM_NEWLINK;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.i.ifi_index = (int)if_nametoindex("lo");
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t s = sendto(nl, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel);
	printf("netlink newlink: %s\n", s < 0 ? errname(errno) : "sent");
	struct sockaddr_nl other = { .nl_family = AF_NETLINK, .nl_pid = 12345 };
	req.h.nlmsg_type = RTM_GETLINK;
	s = sendto(nl, &req, sizeof req, 0, (struct sockaddr *)&other, sizeof other);
	printf("netlink to another port: %s\n", s < 0 ? errname(errno) : "sent");

	int t = socket(AF_INET, SOCK_STREAM, 0);
	int mark = 1;
	printf("SO_MARK: %s\n", setsockopt(t, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0 ? errname(errno) : "ok");
	printf("SO_RCVBUFFORCE: %s\n",
	       setsockopt(t, SOL_SOCKET, SO_RCVBUFFORCE, &mark, sizeof mark) < 0 ? errname(errno) : "ok");
	return 0;
}
