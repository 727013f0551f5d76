/* TCP connect's state afterwards, as a blocking connect leaves it: a
 * connected socket says EISCONN to another connect (also once the peer has
 * gone); after a refused connect the socket is unconnected again, so the
 * next connect is checked afresh (a bad family: EAFNOSUPPORT). */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(void){
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int srv = socket(AF_INET, SOCK_STREAM, 0);
	bind(srv, (struct sockaddr *)&a, sizeof a);
	listen(srv, 4);
	getsockname(srv, (struct sockaddr *)&a, &len);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECKN("connect", connect(c, (struct sockaddr *)&a, sizeof a));
	CHECKN("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
	int acc = accept(srv, NULL, NULL);
	close(acc);
	usleep(50000);
	CHECKN("connect after the peer closed", connect(c, (struct sockaddr *)&a, sizeof a));

	/* A port nothing listens on: the listener's, once closed. */
	struct sockaddr_in closed = a;
	close(srv);
	int d = socket(AF_INET, SOCK_STREAM, 0);
	CHECKN("connect refused", connect(d, (struct sockaddr *)&closed, sizeof closed));
	struct sockaddr_in odd = {.sin_family = 47};
	CHECKN("bad family after the refusal", connect(d, (struct sockaddr *)&odd, sizeof odd));
	CHECKN("refused again", connect(d, (struct sockaddr *)&closed, sizeof closed));
	return 0;
}
