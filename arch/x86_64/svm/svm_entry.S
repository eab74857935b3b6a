/*
 * void svm_enter(struct vcpu *v, uint64_t vmcb_phys, uint64_t host_vmcb_phys)
 * Load the guest's registers, run it with VMRUN (APM 15.5), save them again and
 * continue in C on a fresh kernel stack: vcpu_exited(v) never returns here.
 * Host interrupts: GIF is cleared around the switch and IF set, so an interrupt for
 * the host ends the guest with an INTR exit and waits until we take it.
 * Offsets: struct vcpu.gpr[] starts at 8 (after the thread pointer), in the order
 * rax rcx rdx rbx rsp rbp rsi rdi r8..r15.
 */
#define GPR(n) (8 + 8 * (n))

    .text
    .global svm_enter
svm_enter:
    push %rdi                       /* the vcpu, found again after the exit */
    push %rsi                       /* the guest VMCB */
    mov %rdx, %rax
    vmsave                          /* host FS, GS, TR, LDTR, KernelGsBase, STAR... */
    push %rax                       /* the host save VMCB */
    clgi
    sti
    mov 8(%rsp), %rax
    vmload                          /* the guest's */
    mov GPR(1)(%rdi), %rcx
    mov GPR(2)(%rdi), %rdx
    mov GPR(3)(%rdi), %rbx
    mov GPR(5)(%rdi), %rbp
    mov GPR(6)(%rdi), %rsi
    mov GPR(8)(%rdi), %r8
    mov GPR(9)(%rdi), %r9
    mov GPR(10)(%rdi), %r10
    mov GPR(11)(%rdi), %r11
    mov GPR(12)(%rdi), %r12
    mov GPR(13)(%rdi), %r13
    mov GPR(14)(%rdi), %r14
    mov GPR(15)(%rdi), %r15
    mov GPR(7)(%rdi), %rdi
    vmrun                           /* rax = guest VMCB; rax and rsp come from it */
    push %rdi
    mov 24(%rsp), %rdi              /* the vcpu */
    mov %rcx, GPR(1)(%rdi)
    mov %rdx, GPR(2)(%rdi)
    mov %rbx, GPR(3)(%rdi)
    mov %rbp, GPR(5)(%rdi)
    mov %rsi, GPR(6)(%rdi)
    mov %r8, GPR(8)(%rdi)
    mov %r9, GPR(9)(%rdi)
    mov %r10, GPR(10)(%rdi)
    mov %r11, GPR(11)(%rdi)
    mov %r12, GPR(12)(%rdi)
    mov %r13, GPR(13)(%rdi)
    mov %r14, GPR(14)(%rdi)
    mov %r15, GPR(15)(%rdi)
    pop %rax
    mov %rax, GPR(7)(%rdi)
    mov 8(%rsp), %rax               /* the guest VMCB */
    vmsave
    mov (%rsp), %rax                /* the host save VMCB */
    vmload
    cli
    stgi
    mov %gs:8, %rsp                 /* cpu.kernel_stack_top */
    xor %ebp, %ebp
    call vcpu_exited
    ud2

    .section .note.GNU-stack, "", @progbits
