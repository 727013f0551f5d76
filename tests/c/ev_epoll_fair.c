/* Level-triggered epoll with more ready entries than maxevents: the ready
 * entries take turns (Linux moves each reported entry to the tail of its
 * ready list), so repeated waits report every entry equally often. */
#include "common.h"
#include <sys/epoll.h>
#define N 13
#define MAX 3
int main(void){
	int ep = epoll_create1(0), p[N][2], count[N] = {0};
	for (int i = 0; i < N; i++) {
		if (pipe(p[i]) || write(p[i][1], "x", 1) != 1) return 1;
		struct epoll_event ev = {EPOLLIN, {.u64 = i}};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, p[i][0], &ev)) return 1;
	}
	struct epoll_event out[MAX];
	for (int round = 0; round < 4 * N / MAX + 1; round++) {
		int n = epoll_wait(ep, out, MAX, 0);
		printf("wait %d:", n);
		for (int j = 0; j < n; j++) {
			printf(" %d", (int)out[j].data.u64);
			count[out[j].data.u64]++;
		}
		printf("\n");
	}
	/* Drained entries drop out of the rotation; the rest still alternate. */
	char c;
	for (int i = 0; i < N - 2; i++) read(p[i][0], &c, 1);
	for (int round = 0; round < 3; round++) {
		int n = epoll_wait(ep, out, 1, 0);
		printf("after drain %d: %d\n", n, n > 0 ? (int)out[0].data.u64 : -1);
	}
	for (int i = 0; i < N; i++) printf("%d ", count[i]);
	printf("\n");
	return 0;
}
