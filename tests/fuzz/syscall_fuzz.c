/* Random syscalls with random arguments (random pointers, lengths, flags),
 * issued from inside the sandbox to show the sentry survives them. Calls
 * that would end or block the fuzzer itself are skipped. Usage: fuzz N SEED */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <signal.h>
#include <sys/syscall.h>
static unsigned long long s = 88172645463325252ULL;
/* A writable target for "valid" pointers: never the generator's own state. */
static char scratch[8192];
static unsigned long long rnd(void){ s ^= s<<13; s ^= s>>7; s ^= s<<17; return s; }
static unsigned long arg(void){
  switch (rnd()%8){ case 0: return 0; case 1: return rnd()%64; case 2: return (unsigned long)-1;
  case 3: return rnd(); case 4: return 0x7fff00000000ULL + rnd()%0x100000; case 5: return (unsigned long)scratch + rnd()%4096;
  case 6: return 1UL<<(rnd()%63); default: return (unsigned long)(long)-(long)(rnd()%200); } }
int main(int argc, char**argv){
  int n = argc>1?atoi(argv[1]):20000; if(argc>2) s=atoll(argv[2]);
  int skip[] = {SYS_exit, SYS_exit_group, SYS_kill, SYS_tkill, SYS_tgkill, SYS_fork, SYS_vfork, SYS_clone, SYS_clone3, SYS_execve, SYS_execveat,
    SYS_pause, SYS_rt_sigsuspend, SYS_nanosleep, SYS_clock_nanosleep, SYS_read, SYS_readv, SYS_pread64, SYS_preadv, SYS_preadv2, SYS_futex, SYS_wait4, SYS_waitid,
    SYS_rt_sigreturn, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_brk, SYS_mmap, SYS_madvise, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_sigaltstack, SYS_arch_prctl,
    SYS_rt_sigtimedwait, SYS_poll, SYS_ppoll, SYS_select, SYS_pselect6, SYS_flock, SYS_fcntl, SYS_set_tid_address, SYS_set_robust_list, SYS_rseq, SYS_prctl,
    SYS_setrlimit, SYS_prlimit64, SYS_close, SYS_close_range, SYS_dup2, SYS_dup3, SYS_setsid, SYS_chroot, SYS_chdir, SYS_fchdir, SYS_setuid, SYS_setresuid, SYS_setreuid, SYS_setfsuid,
    SYS_setgid, SYS_setresgid, SYS_setregid, SYS_setfsgid, SYS_setgroups, SYS_umask, SYS_write, SYS_writev, SYS_pwrite64, SYS_pwritev, SYS_pwritev2, SYS_sendfile, SYS_copy_file_range, SYS_ioctl,
    SYS_alarm, SYS_setitimer, SYS_timer_create, SYS_timer_settime, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo,
    /* calls that may block forever */
    SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_pwait2, SYS_msgrcv, SYS_msgsnd, SYS_semop, SYS_semtimedop, SYS_accept, SYS_accept4,
    SYS_recvfrom, SYS_recvmsg, SYS_recvmmsg, SYS_connect, SYS_mq_timedreceive, SYS_mq_timedsend};
  int issued = 0;
  for (int i=0;i<n;i++){ long nr = rnd()%335; int bad=0; for (unsigned k=0;k<sizeof skip/sizeof skip[0];k++) if (skip[k]==nr) bad=1; if(bad) continue;
    syscall(nr, arg(), arg(), arg(), arg(), arg(), arg()); issued++; }
  printf("fuzz done: %d calls\n", issued); return 0; }
