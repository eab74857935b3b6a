/*
 * void vmx_enter(struct vcpu *v, bool launched)
 * Load the guest's registers and enter it with VMLAUNCH or VMRESUME (SDM 27).  The
 * VM exit (SDM 28.5) lands in vmx_exit with RSP = HOST_RSP, which points at the vcpu
 * pushed here; the guest's registers are saved and C continues on a fresh kernel
 * stack in vcpu_exited(v), which never returns.  An entry the CPU refuses falls
 * through (VMfailInvalid or VMfailValid, SDM 31.2) and is marked by vmx_entry_failed.
 * Guest registers: ../guest_gprs.h; RAX is kept in gpr[0], RSP in the VMCS.
 * The big kernel lock is released right before the entry and taken again after the
 * exit (or a refused entry), once vcpu_arch_after_exit has taken everything of the
 * exit out of the CPU: from then on another CPU may own the vCPU.
 */
#include "vmcs.h"
#include "../guest_gprs.h"

    .text
    .global vmx_enter
vmx_enter:
    push %rdi
    push %rsi
    sub $8, %rsp                    /* 16-byte aligned for the call */
    call kernel_unlock_from_asm
    add $8, %rsp
    pop %rsi
    pop %rdi
    push %rdi
    mov $VMCS_HOST_RSP, %eax
    vmwrite %rsp, %rax
    test %sil, %sil                 /* ZF survives the loads below */
    mov GPR(0)(%rdi), %rax
    GUEST_LOAD_GPRS
    jnz 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  mov (%rsp), %rbx              /* the vcpu */
    mov %gs:8, %rsp                 /* cpu.kernel_stack_top */
    xor %ebp, %ebp
    mov %rbx, %rdi
    call vmx_entry_failed
    jmp 3f

    .global vmx_exit
vmx_exit:
    push %rax                       /* the guest's rax, while the macro needs rax */
    GUEST_SAVE_GPRS 8               /* the vcpu: at HOST_RSP, below the rax pushed */
    pop %rax
    mov %rax, GPR(0)(%rdi)
    mov %gs:8, %rsp
    xor %ebp, %ebp
    mov %rdi, %rbx
3:  mov %rbx, %rdi
    call vcpu_arch_after_exit
    call kernel_lock
    mov %rbx, %rdi
    call vcpu_exited
    ud2

    .section .note.GNU-stack, "", @progbits
