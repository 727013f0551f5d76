# The systrap SIGSYS handler and its sigreturn trampoline (x86-64, Intel
# syntax), as embedded in the stub image by handler.rs. Not assembled at build
# time: handler.rs holds the bytes; `as handler.S -o h.o && objdump -d h.o`
# regenerates them after an edit.
#
# Entry (SA_SIGINFO|SA_ONSTACK, every signal blocked): rdi = signo,
# rsi = siginfo, rdx = ucontext. r12 = this thread's slot, found as the base
# of its 64 KiB-aligned alternate signal stack; r13 = ucontext gregs.
# Every register is free: rt_sigreturn restores them all from the ucontext.
.intel_syntax noprefix
.globl handler
handler:
    mov r12, rsp
    and r12, -65536
    lea r13, [rdx+40]
    mov [r12+104], rdx
    movsxd rax, dword ptr [rsi+24]
    mov [r12+8], rax
    mov rax, [r13+64]
    mov [r12+16], rax
    mov rax, [r13+72]
    mov [r12+24], rax
    mov rax, [r13+96]
    mov [r12+32], rax
    mov rax, [r13+16]
    mov [r12+40], rax
    mov rax, [r13+0]
    mov [r12+48], rax
    mov rax, [r13+8]
    mov [r12+56], rax
    mov rax, [r13+128]
    mov [r12+64], rax
    mov rax, [r13+120]
    mov [r12+72], rax
    rdtscp
    mov [r12+88], ecx
publish:
    mov eax, 1
    xchg eax, [r12]
    cmp eax, 3
    jne respin
    mov rdi, r12
    mov esi, 1
    mov edx, 1
    mov eax, 202
    syscall
respin:
    mov r14d, [r12+4]
    or r14d, 1
check:
    mov eax, [r12]
    cmp eax, 2
    je done
    cmp eax, 8
    je exec
    cmp eax, 10
    je exec
    pause
    dec r14d
    jnz check
    mov eax, 1
    mov ecx, 4
    lock cmpxchg [r12], ecx
    jne respin
    mov rdi, r12
    xor esi, esi
    mov edx, 4
    xor r10d, r10d
    mov eax, 202
    syscall
    jmp respin
done:
    mov rax, [r12+80]
    mov [r13+104], rax
    mov rax, [r12+96]
    sub [r13+128], rax
    mov dword ptr [r12], 0
    ret
# The sentry's EXEC command (8): mark it taken (9), run the call it wrote
# into the slot's number and argument fields, publish the result as a
# request. The address after this `syscall` is the filter's exec site.
# REPLY_COPY (10) runs its call the same way, then answers the app's
# request (see `copied`).
exec:
    mov r15d, eax
    mov dword ptr [r12], 9
    mov rax, [r12+8]
    mov rdi, [r12+16]
    mov rsi, [r12+24]
    mov rdx, [r12+32]
    mov r10, [r12+40]
    mov r8, [r12+48]
    mov r9, [r12+56]
    syscall
    mov [r12+80], rax
    cmp r15d, 10
    je copied
    jmp publish
# REPLY_COPY's call was the request's last copy-out: the answer is the
# slot's final result (offset 120) if the call returned the length at
# offset 112, else -EFAULT, as from a copy-out that faulted.
copied:
    cmp rax, [r12+112]
    mov rax, -14
    cmove rax, [r12+120]
    mov [r12+80], rax
    jmp done
.align 16
restorer:
    mov eax, 15
    syscall
    hlt
