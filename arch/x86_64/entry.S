/*
 * Kernel entry and exit.  One kernel stack per CPU: on entry from user mode the
 * user registers are pushed straight into the current thread's struct user_regs
 * (TSS.RSP0 and cpu.current_regs_top point just past it), then we switch to the
 * CPU's kernel stack and call C, which never returns: it leaves through
 * restore_user().  Interrupts taken in the kernel (only while idle) nest on the
 * kernel stack and return with IRETQ.
 *
 * struct cpu field offsets (kernel.h): 8 kernel_stack_top, 16 user_rsp,
 * 24 current_regs_top.
 */
#define VECTOR_SYSCALL 0x100
#define SEL_USER_DS 0x23
#define SEL_USER_CS 0x2b

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

    .text
    .global syscall_entry
syscall_entry:
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
    xor %ebp, %ebp
    call syscall_from_user
    ud2

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
    testb $3, 18 * 8(%rsp)          /* CS of the interrupted context */
    jz 1f
    swapgs
    mov %gs:8, %rsp
    xor %ebp, %ebp
    call trap_from_user
    ud2
1:  mov %rsp, %rdi
    call trap_from_kernel
    POP_GPRS
    add $16, %rsp
    iretq

/* NMI, double fault and machine check run on their own stacks (IST). */
    .global nmi_entry
nmi_entry:
    iretq

    .global fatal_entry
fatal_entry:
    mov %rsp, %rdi
    call trap_fatal
    ud2

/* void restore_user(struct user_regs *regs): leave to user mode. */
    .global restore_user
restore_user:
    mov %rdi, %rsp
    POP_GPRS
    cmpq $VECTOR_SYSCALL, (%rsp)
    je 2f
    add $16, %rsp
    swapgs
    iretq
2:  mov 16(%rsp), %rcx              /* rip */
    mov 32(%rsp), %r11              /* rflags */
    mov 40(%rsp), %rsp              /* user rsp */
    swapgs
    sysretq

    .section .note.GNU-stack, "", @progbits
