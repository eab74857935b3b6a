/*
 * Where an application processor starts (smp.c copies this to a page below 1 MiB; the
 * STARTUP IPI's vector names the page, SDM 8.4.4.1).  The AP begins in real mode at
 * CS = page >> 4, IP = 0, goes to 32-bit protected mode on the GDT of the parameter
 * block, then to long mode as SDM 9.8.5 describes: PAE, CR3, EFER.LME, CR0.PG.  The
 * page table (smp.c) maps the first 2 MiB at their own addresses, so this code keeps
 * running when paging comes on, plus the kernel's upper half, where it jumps to
 * smp_ap_main on the AP's own stack.  The code is position independent: %ebx holds
 * the page's address from real mode on.
 */
#include "trampoline.h"

#define CR0_PE      0x1
#define CR0_PG      0x80000000
#define CR4_PAE     0x20
#define MSR_EFER    0xc0000080
#define PARAM(field) (trampoline_params - trampoline_start + (field))

    .section .rodata.trampoline, "a"
    .global trampoline_start, trampoline_32, trampoline_64, trampoline_params, trampoline_end

    .code16
trampoline_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    movzwl %ax, %ebx
    shl $4, %ebx                            /* the page's physical address */
    lgdtl PARAM(TRAMPOLINE_GDT_POINTER)
    mov %cr0, %eax
    or $CR0_PE, %eax
    mov %eax, %cr0
    ljmpl *PARAM(TRAMPOLINE_JUMP32)

    .code32
trampoline_32:
    mov $TRAMPOLINE_DATA_SEL, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov PARAM(TRAMPOLINE_CR3)(%ebx), %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or PARAM(TRAMPOLINE_EFER)(%ebx), %eax   /* NXE before paging: the tables use XD */
    wrmsr
    mov %cr0, %eax
    or $CR0_PG, %eax
    mov %eax, %cr0
    ljmp *PARAM(TRAMPOLINE_JUMP64)(%ebx)

    .code64
trampoline_64:
    mov %ebx, %ebx                          /* the upper half of RBX is undefined */
    mov PARAM(TRAMPOLINE_STACK)(%rbx), %rsp
    mov PARAM(TRAMPOLINE_CPU)(%rbx), %rdi
    xor %ebp, %ebp
    push $0                                 /* as if called: smp_ap_main never returns */
    jmp *PARAM(TRAMPOLINE_ENTRY)(%rbx)

    .balign 8
trampoline_params:
    .quad 0
    .quad 0x00cf9a000000ffff                /* TRAMPOLINE_CODE32_SEL */
    .quad 0x00cf92000000ffff                /* TRAMPOLINE_DATA_SEL */
    .quad 0x00af9a000000ffff                /* TRAMPOLINE_CODE64_SEL */
    .space TRAMPOLINE_PARAMS_SIZE - 32
trampoline_end:

    .section .note.GNU-stack, "", @progbits
