/* Edge-triggered epoll on files whose readiness is sentry state: a
 * signalfd reports again for each new signal, a message queue for each
 * send or receive (Linux wakes every waiter on any queue change), and
 * neither reports again without one. */
#include "common.h"
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <mqueue.h>
int main(void){
	sigset_t s; sigemptyset(&s); sigaddset(&s, SIGUSR1); sigaddset(&s, SIGUSR2); sigprocmask(SIG_BLOCK,&s,NULL);
	int sfd = signalfd(-1,&s,SFD_NONBLOCK);
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN|EPOLLET, {.u64=1}}, out[2];
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("empty %d\n", epoll_wait(ep,out,2,0));
	kill(getpid(), SIGUSR1);
	printf("usr1 %d\n", epoll_wait(ep,out,2,0));
	printf("again %d\n", epoll_wait(ep,out,2,0));
	kill(getpid(), SIGUSR2);
	printf("usr2 %d\n", epoll_wait(ep,out,2,0));
	printf("again %d\n", epoll_wait(ep,out,2,0));
	struct mq_attr a = {.mq_maxmsg=4,.mq_msgsize=8};
	mq_unlink("/etq");
	mqd_t q = mq_open("/etq", O_RDWR|O_CREAT|O_NONBLOCK, 0600, &a);
	int ep2 = epoll_create1(0);
	struct epoll_event qe = {EPOLLIN|EPOLLET, {.u64=2}};
	epoll_ctl(ep2, EPOLL_CTL_ADD, q, &qe);
	printf("mq empty %d\n", epoll_wait(ep2,out,2,0));
	mq_send(q,"a",1,0);
	printf("mq 1 %d\n", epoll_wait(ep2,out,2,0));
	printf("mq again %d\n", epoll_wait(ep2,out,2,0));
	mq_send(q,"b",1,0);
	printf("mq 2 %d\n", epoll_wait(ep2,out,2,0));
	char b[8]; mq_receive(q,b,8,NULL);
	printf("mq after recv %d\n", epoll_wait(ep2,out,2,0));
	struct epoll_event qo = {EPOLLOUT|EPOLLET, {.u64=3}};
	int ep3 = epoll_create1(0);
	epoll_ctl(ep3, EPOLL_CTL_ADD, q, &qo);
	printf("mq out %d\n", epoll_wait(ep3,out,2,0));
	printf("mq out again %d\n", epoll_wait(ep3,out,2,0));
	mq_receive(q,b,8,NULL);
	printf("mq out after recv %d\n", epoll_wait(ep3,out,2,0));
	mq_unlink("/etq");
	return 0;
}
