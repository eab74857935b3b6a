/*
 * Kernel entry and exit.  One kernel stack per CPU: on entry from user mode the
 * user registers are pushed straight into the current thread's struct user_regs
 * (TSS.RSP0 and cpu.current_regs_top point just past it), then we switch to the
 * CPU's kernel stack and call C, which never returns: it leaves through
 * restore_user().  Interrupts taken in the kernel (only while idle) nest on the
 * kernel stack and return with IRETQ.
 *
 * What every entry guarantees C code: DF clear (the kernel's string operations run
 * forwards, SysV ABI 3.2.1), AC clear (SMAP protects the kernel even when user mode
 * set AC), the kernel's GS base, and a kernel stack.  RFLAGS come from SFMASK on
 * SYSCALL (cpu.c) and from a POPFQ of a known value on interrupts and exceptions,
 * which do not clear DF or AC themselves (SDM 6.12.1.3).
 *
 * NMI, #DF and #MC arrive on stacks of their own (IST, cpu.c) wherever they hit: in
 * the SYSCALL window before the stack switch, or with the user's GS base loaded just
 * before SYSRET.  Their handlers therefore never use %gs, nor does the C they call
 * (this_cpu() reads %gs), and never assume the interrupted stack is the kernel's, so
 * no SWAPGS needs balancing there.
 *
 * struct cpu field offsets (kernel.h checks them): 0 self, 8 kernel_stack_top,
 * 16 user_rsp, 24 current_regs_top, 32 current.
 */
#define VECTOR_SYSCALL 0x100
#define SYS_CALL 1                          /* PITH_SYS_CALL, PITH_SYS_REPLY_RECV */
#define SYS_REPLY_RECV 2                    /* (kernel.h checks them) */
#define CPU_CURRENT 32                      /* struct cpu's current */
#define SEL_USER_DS 0x23
#define SEL_USER_CS 0x2b
#define USER_REGS_SIZE (22 * 8)             /* struct user_regs (kernel.h checks it) */
#define RFLAGS_KERNEL 0x2                   /* IF, DF, AC, TF clear; bit 1 reads as one */

.macro PUSH_GPRS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
.endm

.macro POP_GPRS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
.endm

/* RFLAGS as the kernel wants them; interrupts stay off (every gate is an interrupt gate). */
.macro KERNEL_FLAGS
    push $RFLAGS_KERNEL
    popfq
.endm

    .text
    .global syscall_entry
syscall_entry:
    /* SFMASK cleared IF, TF, DF, AC; until the stack switch below only an NMI or #MC
     * can arrive, and both run on their own stacks. */
    swapgs
    mov %rsp, %gs:16
    mov %gs:24, %rsp
    push $SEL_USER_DS
    push %gs:16
    push %r11
    push $SEL_USER_CS
    push %rcx
    push $0
    push $VECTOR_SYSCALL
    PUSH_GPRS
    mov %gs:8, %rsp
    cld                                     /* again, should SFMASK ever lose DF */
    xor %ebp, %ebp
    /* The big kernel lock (kernel_lock written out: its ticket in ECX, RAX still the
     * system call's number), then Call and ReplyRecv straight to their fast paths
     * and the rest to syscall_slow.  The fast paths touch no object that destruction
     * could leave half done; what they cannot take they pass to syscall_slow. */
    mov $1, %ecx
    lock xadd %ecx, big_lock(%rip)
    cmp big_lock+4(%rip), %ecx
    jne 2f
1:  push $3f                                /* a return address, as a call leaves one */
    mov %gs:CPU_CURRENT, %rdi
    test %rdi, %rdi                         /* another CPU took the thread away while */
    jz sched_return_to_user                 /* we waited (it wound RIP back over SYSCALL) */
    cmp $SYS_CALL, %rax
    je fastpath_call
    cmp $SYS_REPLY_RECV, %rax
    je fastpath_reply_recv
    jmp syscall_slow
2:  push %rax                               /* the number, across the wait; the second */
    push %rax                               /* push keeps the stack 16-byte aligned */
    mov %ecx, %edi
    call kernel_lock_wait
    pop %rax
    pop %rax
    jmp 1b
3:  ud2                                     /* none of them returns */

/* Exceptions without an error code push a zero so every frame looks the same. */
.macro VECTOR n
    .align 16
    .if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
    push $0
    .endif
    push $\n
    jmp interrupt_common
.endm

    .align 16
    .global vector_table_start
vector_table_start:
.altmacro
.set i, 0
.rept 256
    VECTOR %i
.set i, i + 1
.endr
.noaltmacro

interrupt_common:
    PUSH_GPRS
    KERNEL_FLAGS
    testb $3, 18 * 8(%rsp)          /* CS of the interrupted context */
    jz 1f
    swapgs
    /* Neither path may run on speculatively with the wrong GS base (the SWAPGS
     * variant of Spectre v1, CVE-2019-1125). */
    lfence
    mov %gs:8, %rsp
    xor %ebp, %ebp
    call trap_from_user
    ud2
1:  lfence
    mov %rsp, %rdi
    call trap_from_kernel
    POP_GPRS
    add $16, %rsp
    iretq

/* NMI: handled on its own stack and returned from; it may have interrupted anything,
 * so every register is kept.  NMIs stay blocked until the IRETQ. */
    .global nmi_entry
nmi_entry:
    push $0
    push $2
    PUSH_GPRS
    KERNEL_FLAGS
    mov %rsp, %rdi
    call trap_nmi
    POP_GPRS
    add $16, %rsp
    iretq

/* Debug exception, on its own stack.  From user mode (single step, ICEBP) it goes the
 * way of every exception from user mode: its frame moves to the top of the thread's
 * register area, where the CPU would have put it without IST, and interrupt_common
 * takes it from there.  In the kernel the only one is the single-step trap of a
 * SYSCALL made with TF set, at the first instruction of syscall_entry with the user's
 * RSP still loaded: trap_debug_kernel lets it go on. */
    .global debug_entry
debug_entry:
    testb $3, 8(%rsp)               /* CS of the interrupted context */
    jz 1f
    push %rax
    push %rcx
    swapgs
    mov %gs:24, %rax                /* cpu.current_regs_top */
    swapgs
    mov 16(%rsp), %rcx              /* rip, cs, rflags, rsp, ss */
    mov %rcx, -40(%rax)
    mov 24(%rsp), %rcx
    mov %rcx, -32(%rax)
    mov 32(%rsp), %rcx
    mov %rcx, -24(%rax)
    mov 40(%rsp), %rcx
    mov %rcx, -16(%rax)
    mov 48(%rsp), %rcx
    mov %rcx, -8(%rax)
    mov (%rsp), %rcx                /* the user's rcx and rax, for a moment where the */
    mov %rcx, -48(%rax)             /* error code and vector will go */
    mov 8(%rsp), %rcx
    mov %rcx, -56(%rax)
    lea -56(%rax), %rsp
    pop %rax
    pop %rcx
    push $0
    push $1
    jmp interrupt_common
1:  push $0
    push $1
    PUSH_GPRS
    KERNEL_FLAGS
    mov %rsp, %rdi
    call trap_debug_kernel
    POP_GPRS
    add $16, %rsp
    iretq

/* Double fault and machine check: the machine state cannot be trusted; report and stop. */
    .global double_fault_entry
double_fault_entry:
    push $8                         /* after the CPU's error code (always zero) */
    jmp fatal_common

    .global machine_check_entry
machine_check_entry:
    push $0
    push $18
fatal_common:
    PUSH_GPRS
    KERNEL_FLAGS
    mov %rsp, %rdi
    call trap_fatal
    ud2

/* void restore_user(struct user_regs *regs): leave to user mode.  The caller has made
 * sure regs->rip is a user address (sched.c): SYSRET and IRETQ to a non-canonical rip
 * fault in ring 0, SYSRET on Intel with the user's stack already loaded (SDM SYSRET,
 * IRET: "#GP(0) if the return instruction pointer is non-canonical").
 * void restore_current_user(void): the same for the thread arch_load_thread() loaded,
 * whose frame ends at cpu.current_regs_top (struct user_regs: 22 words); the IPC
 * fast path leaves this way, without a jump. */
    .global restore_user
restore_user:
    mov %rdi, %rsp
    jmp 1f
    .global restore_current_user
restore_current_user:
    mov %gs:24, %rsp
    sub $USER_REGS_SIZE, %rsp
1:
    POP_GPRS
    cmpq $VECTOR_SYSCALL, (%rsp)
    je 2f
    add $16, %rsp
    swapgs
    iretq
2:  mov 16(%rsp), %rcx              /* rip */
    mov 32(%rsp), %r11              /* rflags */
    mov 40(%rsp), %rsp              /* user rsp: from here on only IST handlers can run */
    swapgs
    sysretq

    .section .note.GNU-stack, "", @progbits
