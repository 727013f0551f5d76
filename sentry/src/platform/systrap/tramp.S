# The systrap syscall-site trampoline and the patcher's store site (x86-64,
# Intel syntax), embedded in the stub image by patch.rs at TRAMP_OFF. Not
# assembled at build time: patch.rs holds the bytes;
# `as tramp.S -o t.o && objdump -d -M intel t.o` regenerates them.
#
# Entry (from a per-site thunk in the patch area): eax = the call's number,
# rcx = the address after the patched site, every other register the app's.
# rdi = this thread's trampoline slot (chunk + 128), found from the GS base
# the sentry set to the thread's chunk. Calls are handed over exactly as the
# SIGSYS handler does, without a signal; any doubt (GS not a chunk, thread
# traced, slot busy: a signal handler nested in a call) and any "execute it
# again" reply re-issue the call at `site`, a plain trapping syscall. After
# publishing it reads the traced word again: if the sentry is going traced
# and has not taken the request (REQUEST -> TAKEN), it is withdrawn
# (REQUEST -> IDLE) and re-issued at `site`. States: slot.rs, and CLAIMED 5,
# TAKEN 6, TAKEN_WAIT 7 (patch.rs).
.intel_syntax noprefix
.globl tramp
tramp:
    lea rsp, [rsp-128]
    pushfq
    push rcx
    push rax
    push rdi
    push rsi
    push rdx
    push r10
    rdgsbase rdi
    mov rcx, rdi
    movabs rax, 0x600000000000
    sub rcx, rax
    shr rcx, 34
    jnz fallback
    test edi, 0xffff
    jnz fallback
    add rdi, 128
    cmp dword ptr [rdi+112], 0
    jne fallback
    xor eax, eax
    mov ecx, 5
    lock cmpxchg [rdi], ecx
    jne fallback
    mov rax, [rsp+32]
    mov [rdi+8], rax
    mov rax, [rsp+24]
    mov [rdi+16], rax
    mov rax, [rsp+16]
    mov [rdi+24], rax
    mov rax, [rsp+8]
    mov [rdi+32], rax
    mov [rdi+40], r10
    mov [rdi+48], r8
    mov [rdi+56], r9
    mov rax, [rsp+40]
    mov [rdi+64], rax
    lea rax, [rsp+184]
    mov [rdi+72], rax
    mov qword ptr [rdi+104], 0
    rdtscp
    mov [rdi+88], ecx
    mov eax, 1
    xchg eax, [rdi]
    cmp dword ptr [rdi+112], 0
    je wake
    mov eax, 1
    xor ecx, ecx
    lock cmpxchg [rdi], ecx
    je fallback
wake:
    mov eax, 3
    xor ecx, ecx
    lock cmpxchg [rdi-128], ecx
    jne respin
    sub rdi, 128
    mov esi, 1
    mov edx, 1
    mov eax, 202
    syscall
    add rdi, 128
respin:
    mov ecx, [rdi+4]
    or ecx, 1
check:
    mov eax, [rdi]
    cmp eax, 2
    je done
    pause
    dec ecx
    jnz check
park:
    mov eax, [rdi]
    cmp eax, 2
    je done
    mov edx, eax
    cmp eax, 1
    je sleep_req
    cmp eax, 6
    jne sleep
    mov edx, 7
    lock cmpxchg [rdi], edx
    jne park
    jmp sleep
sleep_req:
    mov edx, 4
    lock cmpxchg [rdi], edx
    jne park
sleep:
    xor esi, esi
    xor r10d, r10d
    mov eax, 202
    syscall
    jmp respin
done:
    mov rax, [rdi+80]
    mov rcx, [rdi+96]
    mov dword ptr [rdi], 0
    test rcx, rcx
    jnz fallback
epilogue:
    pop r10
    pop rdx
    pop rsi
    pop rdi
    lea rsp, [rsp+8]
    pop rcx
    pop r11
    push r11
    popfq
    lea rsp, [rsp+128]
    jmp rcx
fallback:
    mov r10, [rsp]
    mov rdx, [rsp+8]
    mov rsi, [rsp+16]
    mov rdi, [rsp+24]
    mov rax, [rsp+32]
site:
    syscall
    jmp epilogue
.align 16
store:
    mov rax, rdx
    lock cmpxchg [rdi], rsi
    int3
