/*
 * void vmx_enter(struct vcpu *v, bool launched)
 * Load the guest's registers and enter it with VMLAUNCH or VMRESUME (SDM 27).  The
 * VM exit (SDM 28.5) lands in vmx_exit with RSP = HOST_RSP, which points at the vcpu
 * pushed here; the guest's registers are saved and C continues on a fresh kernel
 * stack in vcpu_exited(v), which never returns.  An entry the CPU refuses falls
 * through (VMfailInvalid or VMfailValid, SDM 31.2) and continues in vmx_entry_failed.
 * Offsets: struct vcpu.gpr[] starts at 8 (after the thread pointer), in the order
 * rax rcx rdx rbx rsp rbp rsi rdi r8..r15; the guest's RSP lives in the VMCS.
 */
#include "vmcs.h"

#define GPR(n) (8 + 8 * (n))

    .text
    .global vmx_enter
vmx_enter:
    push %rdi
    mov $VMCS_HOST_RSP, %eax
    vmwrite %rsp, %rax
    test %sil, %sil                 /* ZF survives the loads below */
    mov GPR(0)(%rdi), %rax
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
    jnz 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  mov (%rsp), %rdi
    mov %gs:8, %rsp                 /* cpu.kernel_stack_top */
    xor %ebp, %ebp
    call vmx_entry_failed
    ud2

    .global vmx_exit
vmx_exit:
    push %rdi
    mov 8(%rsp), %rdi               /* the vcpu */
    mov %rax, GPR(0)(%rdi)
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
    mov %gs:8, %rsp
    xor %ebp, %ebp
    call vcpu_exited
    ud2

    .section .note.GNU-stack, "", @progbits
