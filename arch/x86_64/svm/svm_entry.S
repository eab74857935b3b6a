/*
 * void svm_enter(struct vcpu *v, uint64_t vmcb_phys, uint64_t host_vmcb_phys)
 * Load the guest's registers, run it with VMRUN (APM 15.5), save them again and
 * continue in C on a fresh kernel stack: vcpu_exited(v) never returns here.
 * Host interrupts: GIF is cleared around the switch and IF set, so an interrupt for
 * the host ends the guest with an INTR exit and waits until we take it.
 * Guest registers: ../guest_gprs.h; RAX and RSP live in the VMCB.
 * The big kernel lock is released right before the switch and taken again after it,
 * once vcpu_arch_after_exit has taken the exit's state out of the CPU (another CPU
 * that wants this vCPU back waits for us until then, and may own it afterwards).
 */
#include "../guest_gprs.h"

    .text
    .global svm_enter
svm_enter:
    push %rdi                       /* the vcpu, found again after the exit */
    push %rsi                       /* the guest VMCB */
    mov %rdx, %rax
    vmsave                          /* host FS, GS, TR, LDTR, KernelGsBase, STAR... */
    push %rax                       /* the host save VMCB */
    call kernel_unlock_from_asm     /* the stack is 16-byte aligned here */
    clgi
    sti
    mov 16(%rsp), %rdi              /* the vcpu again: the unlock is C */
    mov 8(%rsp), %rax
    vmload                          /* the guest's */
    GUEST_LOAD_GPRS
    vmrun                           /* rax = guest VMCB; rax and rsp come from it */
    .global svm_after_vmrun         /* (named for a test's breakpoint: ktest vm_guest_breakpoint_on_host) */
svm_after_vmrun:
    GUEST_SAVE_GPRS 16              /* the vcpu: above the two VMCBs */
    mov 8(%rsp), %rax               /* the guest VMCB */
    vmsave
    mov (%rsp), %rax                /* the host save VMCB */
    vmload
    cli
    stgi
    mov %gs:8, %rsp                 /* cpu.kernel_stack_top */
    xor %ebp, %ebp
    mov %rdi, %rbx                  /* the vcpu; the guest's rbx is saved */
    call vcpu_arch_after_exit
    call kernel_lock
    mov %rbx, %rdi
    call vcpu_exited
    ud2

    .section .note.GNU-stack, "", @progbits
