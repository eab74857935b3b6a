/*
 * Guest general-purpose registers around VMRUN and VMLAUNCH/VMRESUME, shared by the
 * two entry stubs (svm/svm_entry.S, vmx/vmx_entry.S).  struct vcpu_x86.gpr[] starts at 8
 * in struct vcpu (VCPU_X86_GPR_OFFSET, checked in vcpu_arch.c), in the order rax rcx rdx rbx rsp rbp rsi rdi r8..r15.
 * RAX and RSP are each backend's business (SVM keeps both in the VMCB, VMX keeps RSP
 * in the VMCS); RDI holds the vcpu, so it is loaded last and saved through the stack.
 */
#ifndef ARCH_GUEST_GPRS_H
#define ARCH_GUEST_GPRS_H

#define GPR(n) (8 + 8 * (n))

/* rdi = the vcpu: load rcx..r15 except rsp, then rdi itself. */
.macro GUEST_LOAD_GPRS
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
.endm

/* After the exit, with the guest's rdi pushed and the vcpu at \vcpu_at(%rsp): save
 * rcx..r15 except rsp, and rdi; leaves rdi = the vcpu and the stack as before the push.
 * Clobbers rax. */
.macro GUEST_SAVE_GPRS vcpu_at
    push %rdi
    mov \vcpu_at+8(%rsp), %rdi
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
.endm

#endif
