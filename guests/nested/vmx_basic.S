/*
 * vmx_basic: a flat test guest (boot flat, loaded at 0x100000, entered in 32-bit
 * protected mode with paging off) for a guest with `nested on` on a VMX host
 * (docs/nested.md).  It is a small guest hypervisor ("L1") that checks, one step at a
 * time, what the VMM's virtual VMX (vmm/x86/vmx_nested.h) promises, then runs a guest
 * of its own ("L2") in 32-bit protected mode with paging, without EPT:
 *   1 CPUID.1:ECX offers VMX, IA32_FEATURE_CONTROL is locked with VMX outside SMX,
 *     IA32_VMX_BASIC has revision 1 and the TRUE_ control MSRs
 *   2 VMXON with CR4.VMXE clear raises #UD
 *   3 with paging (one 4 MiB page), CR0.NE and CR4.VMXE: VMXON of a region with a
 *     wrong revision is VMfailInvalid
 *   4 VMXON of a region with revision 1 succeeds; a second VMXON is VMfailInvalid
 *     (no current VMCS to hold the error)
 *   5 VMREAD without a current VMCS is VMfailInvalid; VMCLEAR and VMPTRLD of a VMCS
 *     succeed and VMPTRST stores its address
 *   6 VMWRITE and VMREAD of guest RIP; a 64-bit field written from 32-bit code (the
 *     full encoding clears the high half, encoding + 1 is the high half); VMWRITE of
 *     the VM-instruction error field: VMfailValid 13, or a plain write when
 *     IA32_VMX_MISC[29] allows it; VMREAD of 0x0001 and VMWRITE of 0x7fff (encodings
 *     no field has): VMfailValid 12, which a VMWRITE that succeeds leaves in place
 *   7 VMLAUNCH with pin-based controls 0: VMfailValid 7; VMPTRLD of the VMXON region:
 *     VMfailValid 10
 *   8 VMLAUNCH of a full VMCS (HLT and unconditional I/O exiting): L2's CPUID is a VM
 *     exit (reason 10, length 2, guest RIP at the CPUID), L1 gets back at HOST_RIP with
 *     RFLAGS 2, HOST_RSP, the host selectors and TR, and L2's GPRs (ESI, EAX 0: the
 *     CPUID was not carried out)
 *   9 VMRESUME past it with L1's answer in EBX: L2 sees L1's EBX, and its OUT to port
 *     0x80 is a VM exit (reason 30, the port, size 1, out) with L2's ESI, EDI and AL
 *  10 VMRESUME past the OUT: L2's HLT is the next VM exit (reason 12, length 1), guest
 *     RSP as L2 had it
 *  11 VMLAUNCH of the launched VMCS: VMfailValid 4
 *  12 VMCLEAR and VMPTRLD keep the fields; with a guest CR0 with PG but not PE the
 *     VM entry fails and L1 is back at HOST_RIP with exit reason 0x80000021 (33 and
 *     bit 31), qualification 0
 *  13 VMCLEAR and VMXOFF succeed; VMREAD then raises #UD; no #GP came at any step
 * Each step prints "V" and a letter (b for step 1 ...) on COM1; the verdict on port
 * 0xf4 is 0 when all pass, else the number of the step that failed.  Without
 * `nested on` it fails at step 1.  An exception no step asked for, or a VM exit no
 * step waits for, fails the current step.
 */
#define PD          0x300000        /* L1's page directory: 0-4 MiB as one 4 MiB page */
#define VMXON_REGION 0x301000
#define VMCS        0x302000
#define BAD_REGION  0x303000        /* a VMXON region with a wrong revision */
#define TSS         0x304000        /* 104 bytes: L1's TR, and L2's */
#define L2_STACK    0x3f0000
#define L1_ANSWER   0x4c31c0de      /* what L1 puts in EBX for L2's CPUID */

/* The outcome of the VMX instruction just before: VMsucceed clears CF and ZF,
 * VMfailInvalid sets CF, VMfailValid sets ZF. */
.macro vm_ok
    jbe fail                    /* CF or ZF */
.endm
.macro vm_fail_invalid
    jnc fail
    jz fail
.endm
.macro vm_fail_valid
    jnz fail
    jc fail
.endm
/* VMWRITE of field `enc` := `val` (an immediate, memory, or a register other than
 * eax), which must succeed; clobbers eax and ebx. */
.macro vmw enc, val
    movl $\enc, %eax
    movl \val, %ebx
    vmwrite %ebx, %eax          /* value ebx, encoding eax */
    vm_ok
.endm
/* VMREAD of field `enc` into ebx, which must succeed; clobbers eax. */
.macro vmr enc
    movl $\enc, %eax
    vmread %eax, %ebx           /* encoding eax, value to ebx */
    vm_ok
.endm
/* The VM-instruction error field (0x4400) must hold `n`; clobbers eax and ebx. */
.macro vm_error n
    vmr 0x4400
    cmpl $\n, %ebx
    jne fail
.endm

    .code32
    .text
    .globl _start
_start:
    cli
    movl $stack_top, %esp
    lgdt gdt_desc
    ljmp $0x08, $1f
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    xorl %ebx, %ebx             /* vectors 0-31: any exception fails the step ... */
1:  movl $fault_handler, %eax
    call set_gate
    incl %ebx
    cmpl $32, %ebx
    jb 1b
    movl $ud_handler, %eax      /* ... but #UD and #GP, which a step may ask for */
    movl $6, %ebx
    call set_gate
    movl $gp_handler, %eax
    movl $13, %ebx
    call set_gate
    lidt idt_desc
    cld
    movl $TSS, %edi             /* the TSS, zeroed; TR names it (the host TR must not be null) */
    movl $104 / 4, %ecx
    xorl %eax, %eax
    rep stosl
    movw $0x18, %ax
    ltr %ax

    movb $1, step               /* CPUID and the MSRs offer VMX */
    call mark
    movl $1, %eax
    cpuid
    testl $1 << 5, %ecx
    jz fail
    movl $0x3a, %ecx            /* IA32_FEATURE_CONTROL: locked, VMX outside SMX */
    rdmsr
    andl $5, %eax
    cmpl $5, %eax
    jne fail
    movl $0x480, %ecx           /* IA32_VMX_BASIC: revision 1, TRUE_ controls (bit 55) */
    rdmsr
    andl $0x7fffffff, %eax
    cmpl $1, %eax
    jne fail
    testl $1 << (55 - 32), %edx
    jz fail

    movb $2, step               /* VMXON without CR4.VMXE: #UD */
    call mark
    movl $8, skip
    vmxon vmxon_ptr
    movl $0, skip
    cmpl $1, ud_count
    jne fail

    movb $3, step               /* paging, NE, VMXE; VMXON of a wrong revision: VMfailInvalid */
    call mark
    movl $PD, %edi              /* the page directory: entry 0 maps 0-4 MiB */
    movl $1024, %ecx
    xorl %eax, %eax
    rep stosl
    movl $0x83, PD              /* present, writable, 4 MiB */
    movl %cr4, %eax
    orl $1 << 4, %eax           /* PSE */
    movl %eax, %cr4
    movl $PD, %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80000020, %eax       /* PG, NE: CR0_FIXED0 with PE */
    movl %eax, %cr0
    movl %cr4, %eax
    orl $1 << 13, %eax          /* VMXE */
    movl %eax, %cr4
    movl $VMXON_REGION, %edi    /* the VMXON region, the VMCS and the bad region, zeroed */
    movl $3 * 4096 / 4, %ecx
    xorl %eax, %eax
    rep stosl
    movl $0x12345, BAD_REGION
    vmxon bad_ptr
    vm_fail_invalid

    movb $4, step               /* VMXON with revision 1; again: VMfailInvalid */
    call mark
    movl $1, VMXON_REGION
    vmxon vmxon_ptr
    vm_ok
    vmxon vmxon_ptr
    vm_fail_invalid

    movb $5, step               /* no current VMCS for VMREAD; VMCLEAR, VMPTRLD, VMPTRST */
    call mark
    movl $0x681e, %eax
    vmread %eax, %ebx
    vm_fail_invalid
    movl $1, VMCS               /* the revision, before the VMCS is used */
    vmclear vmcs_ptr
    vm_ok
    vmptrld vmcs_ptr
    vm_ok
    vmptrst vmptrst_out
    vm_ok
    cmpl $VMCS, vmptrst_out
    jne fail
    cmpl $0, vmptrst_out + 4
    jne fail

    movb $6, step               /* VMWRITE and VMREAD; the error field; unsupported fields */
    call mark
    vmw 0x681e, $0x12345678     /* guest RIP */
    vmr 0x681e
    cmpl $0x12345678, %ebx
    jne fail
    vmw 0x2801, $0xaaaa5555     /* the link pointer's high half ... */
    vmw 0x2800, $0x11223344     /* ... cleared by a write of the full field */
    vmr 0x2801
    testl %ebx, %ebx
    jnz fail
    vmw 0x2801, $0x55667788     /* the high half alone */
    vmr 0x2800
    cmpl $0x11223344, %ebx
    jne fail
    vmr 0x2801
    cmpl $0x55667788, %ebx
    jne fail
    movl $0x485, %ecx           /* IA32_VMX_MISC[29]: VMWRITE to exit-information fields */
    rdmsr
    testl $1 << 29, %eax
    jnz 1f
    movl $0x4400, %eax          /* not offered: VMWRITE of a read-only field, VMfailValid 13 */
    movl $0x77, %ebx
    vmwrite %ebx, %eax
    vm_fail_valid
    vm_error 13
    jmp 2f
1:  vmw 0x4400, $0x77           /* offered: a write like any other */
    vm_error 0x77
2:  movl $0x0001, %eax          /* an odd encoding of a 16-bit field: VMfailValid 12 */
    vmread %eax, %ebx
    vm_fail_valid
    vm_error 12
    vmw 0x681e, $0              /* a VMWRITE that succeeds leaves the error field alone */
    vm_error 12
    movl $0x7fff, %eax          /* reserved bit 12: VMfailValid 12 */
    movl $0, %ebx
    vmwrite %ebx, %eax
    vm_fail_valid
    vm_error 12

    movb $7, step               /* pin-based controls 0: VMfailValid 7; VMPTRLD of VMXON's region: 10 */
    call mark
    vmw 0x4000, $0
    movl $fail, exit_next       /* no VM exit is expected */
    vmlaunch
    vm_fail_valid
    vm_error 7
    vmptrld vmxon_ptr
    vm_fail_valid
    vm_error 10

    movb $8, step               /* a full VMCS; L2's CPUID is the first VM exit */
    call mark
    movl $vmcs_fields, %esi     /* the fixed fields, from the table */
1:  movl (%esi), %eax
    movl 4(%esi), %ebx
    vmwrite %ebx, %eax
    vm_ok
    addl $8, %esi
    cmpl $vmcs_fields_end, %esi
    jb 1b
    movl %cr0, %ecx             /* guest and host control registers: L1's */
    vmw 0x6800, %ecx
    vmw 0x6c00, %ecx
    vmw 0x6004, %ecx            /* CR0 read shadow (the mask is 0) */
    movl %cr3, %ecx
    vmw 0x6802, %ecx
    vmw 0x6c02, %ecx
    movl %cr4, %ecx             /* with VMXE, which CR4_FIXED0 asks of the guest too */
    vmw 0x6804, %ecx
    vmw 0x6c04, %ecx
    vmw 0x6006, %ecx
    movl $0x48d, %ecx           /* pin-based: the bits that must be 1 */
    rdmsr
    movl %eax, %edx
    vmw 0x4000, %edx
    movl $0x48e, %ecx           /* primary processor-based: those, HLT and I/O exiting */
    rdmsr
    movl $(1 << 7) | (1 << 24), %ecx
    movl %edx, %ebx             /* both may be 1 */
    andl %ecx, %ebx
    cmpl %ecx, %ebx
    jne fail
    orl %eax, %ecx
    vmw 0x4002, %ecx
    movl $0x48f, %ecx           /* exit controls: the must-be-1 bits (a 32-bit host) */
    rdmsr
    testl $1 << 9, %eax
    jnz fail
    movl %eax, %edx
    vmw 0x400c, %edx
    movl $0x490, %ecx           /* entry controls: the must-be-1 bits (not IA-32e) */
    rdmsr
    testl $1 << 9, %eax
    jnz fail
    movl %eax, %edx
    vmw 0x4012, %edx
    movl $exit_cpuid, exit_next
    vmlaunch
    jmp fail                    /* VMLAUNCH fell through: VMfail */

exit_cpuid:                     /* L2's GPRs first, before L1 uses them */
    cmpl $0x600dc0de, %esi
    jne fail
    testl %eax, %eax            /* L2's EAX: the CPUID was not carried out */
    jnz fail
    vmr 0x4402                  /* exit reason: CPUID */
    cmpl $10, %ebx
    jne fail
    vmr 0x440c                  /* instruction length */
    cmpl $2, %ebx
    jne fail
    vmr 0x681e                  /* guest RIP: the CPUID */
    cmpl $l2_cpuid, %ebx
    jne fail

    movb $9, step               /* VMRESUME past the CPUID; L2's OUT is the next VM exit */
    call mark
    call l2_next
    movl $exit_out, exit_next
    movl $L1_ANSWER, %ebx       /* for L2: VMRESUME leaves the GPRs as L1 has them */
    vmresume
    jmp fail

exit_out:
    cmpb $0x5a, %al             /* L2's AL, ESI and EDI (a copy of L1's EBX) */
    jne fail
    cmpl $0x600dc0de, %esi
    jne fail
    cmpl $L1_ANSWER, %edi
    jne fail
    vmr 0x4402                  /* exit reason: I/O instruction */
    cmpl $30, %ebx
    jne fail
    vmr 0x6400                  /* qualification: port 0x80, 1 byte, out, not string or REP */
    andl $~0x40, %ebx           /* (bit 6, the immediate operand, not asked for) */
    cmpl $0x00800000, %ebx
    jne fail
    vmr 0x440c
    cmpl $2, %ebx
    jne fail
    vmr 0x681e
    cmpl $l2_out, %ebx
    jne fail

    movb $10, step              /* VMRESUME past the OUT: L2's HLT is the next VM exit */
    call mark
    call l2_next
    movl $exit_hlt, exit_next
    vmresume
    jmp fail

exit_hlt:
    vmr 0x4402                  /* exit reason: HLT */
    cmpl $12, %ebx
    jne fail
    vmr 0x440c
    cmpl $1, %ebx
    jne fail
    vmr 0x681e
    cmpl $l2_hlt, %ebx
    jne fail
    vmr 0x681c                  /* guest RSP: as L2 had it */
    cmpl $L2_STACK, %ebx
    jne fail

    movb $11, step              /* VMLAUNCH of a launched VMCS: VMfailValid 4 */
    call mark
    movl $fail, exit_next
    vmlaunch
    vm_fail_valid
    vm_error 4

    movb $12, step              /* guest CR0.PG without PE: the entry fails, a VM exit to L1 */
    call mark
    vmclear vmcs_ptr            /* clear again, so VMLAUNCH is the right instruction */
    vm_ok
    vmptrld vmcs_ptr
    vm_ok
    vmr 0x6800                  /* the fields outlived VMCLEAR */
    movl %cr0, %ecx
    cmpl %ecx, %ebx
    jne fail
    andl $~1, %ebx
    vmw 0x6800, %ebx
    movl $exit_invalid, exit_next
    vmlaunch
    jmp fail

exit_invalid:
    vmr 0x4402                  /* invalid guest state (33), VM-entry failure (bit 31) */
    cmpl $0x80000021, %ebx
    jne fail
    vmr 0x6400                  /* qualification 0: not the PDPTEs, NMI blocking or link pointer */
    testl %ebx, %ebx
    jnz fail
    movl %cr0, %ecx             /* guest CR0 as it was */
    vmw 0x6800, %ecx

    movb $13, step              /* VMCLEAR, VMXOFF; then VMREAD is #UD */
    call mark
    vmclear vmcs_ptr
    vm_ok
    vmxoff
    vm_ok
    movl $3, skip
    movl $0x681e, %eax
    vmread %eax, %ebx
    movl $0, skip
    cmpl $2, ud_count
    jne fail
    cmpl $0, gp_count
    jne fail

    movb $0, step
    call mark
#define STEP_LETTER 'V'
#include "steps.inc"

/* Where every VM exit (and a VM entry that fails on guest state) brings L1: HOST_RIP,
 * with ESP = HOST_RSP, RFLAGS 2, the segment registers and TR loaded from the host
 * selectors, and the other GPRs as L2 left them.  It records what it found, loads the
 * segment registers and the stack anyway, checks the record, and goes on where
 * `exit_next` says, keeping EAX, EBX, ESI and EDI for the step's own checks. */
l2_exited:
    movw %ss, %cx               /* SS as the exit loaded it */
    movw $0x10, %dx
    movw %dx, %ss
    movl %esp, %ebp             /* ESP as the exit loaded it */
    movl $stack_top, %esp
    pushfl                      /* RFLAGS: nothing above has changed it */
    shll $16, %ecx
    movw %ds, %cx               /* ECX: SS in 31:16, DS in 15:0 */
    movw %dx, %ds
    movw %dx, %es
    movw %dx, %fs
    movw %dx, %gs
    popl %edx
    cmpl $2, %edx               /* RFLAGS: only the reserved bit 1 */
    jne fail
    cmpl $stack_top, %ebp       /* HOST_RSP */
    jne fail
    cmpl $0x00100010, %ecx      /* host SS and DS selectors */
    jne fail
    movw %cs, %cx
    cmpw $0x08, %cx
    jne fail
    str %cx                     /* host TR selector */
    cmpw $0x18, %cx
    jne fail
    movl exit_next, %ecx
    movl $fail, exit_next       /* the next VM exit must be asked for */
    jmp *%ecx

/* Guest RIP += the VM-exit instruction length; clobbers eax, ebx, ecx. */
l2_next:
    vmr 0x440c
    movl %ebx, %ecx
    vmr 0x681e
    addl %ecx, %ebx
    vmw 0x681e, %ebx
    ret

set_gate:                       /* eax handler, ebx vector */
    movw %ax, idt(,%ebx,8)
    movw $0x08, idt + 2(,%ebx,8)
    movw $0x8e00, idt + 4(,%ebx,8)
    shrl $16, %eax
    movw %ax, idt + 6(,%ebx,8)
    ret

/* #UD and #GP: counted, and `skip` bytes stepped over; with `skip` 0 no step asked
 * for one, and the step fails. */
ud_handler:
    incl ud_count
    cmpl $0, skip
    je fail
    pushl %eax
    movl skip, %eax
    addl %eax, 4(%esp)
    popl %eax
    iret
gp_handler:
    incl gp_count
    cmpl $0, skip
    je fail
    addl $4, %esp               /* the error code */
    pushl %eax
    movl skip, %eax
    addl %eax, 4(%esp)
    popl %eax
    iret
fault_handler:                  /* any other exception */
    jmp fail

/* L2: 32-bit protected mode with paging, L1's segments, page directory and IDT. */
l2_code:
    movl $0x600dc0de, %esi
    xorl %eax, %eax
l2_cpuid:
    cpuid                       /* VM exit: CPUID */
    movl %ebx, %edi             /* what L1 left in EBX */
    movb $0x5a, %al
l2_out:
    outb %al, $0x80             /* VM exit: I/O */
l2_hlt:
    hlt                         /* VM exit: HLT */
    jmp .

/* The VMCS fields step 8 writes from a table: encoding, value. */
.macro field enc, value
    .long \enc, \value
.endm
    .align 4
vmcs_fields:
    /* guest segments: ES CS SS DS FS GS LDTR TR (selector, limit, access rights, base) */
    field 0x0800, 0x10
    field 0x0802, 0x08
    field 0x0804, 0x10
    field 0x0806, 0x10
    field 0x0808, 0x10
    field 0x080a, 0x10
    field 0x080c, 0
    field 0x080e, 0x18
    field 0x4800, 0xffffffff
    field 0x4802, 0xffffffff
    field 0x4804, 0xffffffff
    field 0x4806, 0xffffffff
    field 0x4808, 0xffffffff
    field 0x480a, 0xffffffff
    field 0x480c, 0
    field 0x480e, 0x67
    field 0x4814, 0xc093        /* data: present, writable, accessed, 32-bit, 4 KiB granular */
    field 0x4816, 0xc09b        /* code: present, readable, accessed */
    field 0x4818, 0xc093
    field 0x481a, 0xc093
    field 0x481c, 0xc093
    field 0x481e, 0xc093
    field 0x4820, 0x10000       /* LDTR unusable */
    field 0x4822, 0x8b          /* TR: a busy 32-bit TSS */
    field 0x6806, 0
    field 0x6808, 0
    field 0x680a, 0
    field 0x680c, 0
    field 0x680e, 0
    field 0x6810, 0
    field 0x6812, 0
    field 0x6814, TSS
    /* guest descriptor tables, registers, state */
    field 0x6816, gdt           /* GDTR */
    field 0x4810, (gdt_end-gdt-1)
    field 0x6818, idt           /* IDTR */
    field 0x4812, (256*8-1)
    field 0x681a, 0x400         /* DR7 */
    field 0x681c, L2_STACK      /* RSP */
    field 0x681e, l2_code       /* RIP */
    field 0x6820, 2             /* RFLAGS */
    field 0x6822, 0             /* pending debug exceptions */
    field 0x482a, 0             /* SYSENTER_CS, ESP, EIP */
    field 0x6824, 0
    field 0x6826, 0
    field 0x4824, 0             /* interruptibility */
    field 0x4826, 0             /* activity: active */
    field 0x2802, 0             /* IA32_DEBUGCTL */
    field 0x2803, 0
    field 0x2800, 0xffffffff    /* VMCS link pointer: none (all ones) */
    field 0x2801, 0xffffffff
    /* host state: L1 at l2_exited */
    field 0x0c00, 0x10          /* ES CS SS DS FS GS TR selectors */
    field 0x0c02, 0x08
    field 0x0c04, 0x10
    field 0x0c06, 0x10
    field 0x0c08, 0x10
    field 0x0c0a, 0x10
    field 0x0c0c, 0x18
    field 0x6c06, 0             /* FS, GS bases */
    field 0x6c08, 0
    field 0x6c0a, TSS           /* TR base */
    field 0x6c0c, gdt           /* GDTR, IDTR bases */
    field 0x6c0e, idt
    field 0x4c00, 0             /* SYSENTER_CS, ESP, EIP */
    field 0x6c10, 0
    field 0x6c12, 0
    field 0x6c14, stack_top     /* RSP */
    field 0x6c16, l2_exited     /* RIP */
    /* controls besides the pin, processor, exit and entry words */
    field 0x4004, 0             /* exception bitmap: L2's exceptions stay in L2 */
    field 0x4006, 0             /* page-fault error-code mask and match */
    field 0x4008, 0
    field 0x400a, 0             /* CR3-target count */
    field 0x400e, 0             /* VM-exit MSR-store and -load counts */
    field 0x4010, 0
    field 0x4014, 0             /* VM-entry MSR-load count */
    field 0x4016, 0             /* VM-entry interruption information: nothing to inject */
    field 0x6000, 0             /* CR0 and CR4 guest/host masks: L2 owns every bit */
    field 0x6002, 0
vmcs_fields_end:

    .align 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x0000893040000067    /* 0x18: 32-bit TSS at TSS (0x304000), limit 0x67 */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
idt_desc:
    .word 256 * 8 - 1
    .long idt
    .align 8
vmxon_ptr:   .quad VMXON_REGION /* the memory operands of VMXON, VMCLEAR, VMPTRLD */
vmcs_ptr:    .quad VMCS
bad_ptr:     .quad BAD_REGION
vmptrst_out: .quad 0xffffffffffffffff
step:      .long 0
skip:      .long 0
ud_count:  .long 0
gp_count:  .long 0
exit_next: .long fail           /* where l2_exited goes on */
    .align 8
idt:
    .fill 256 * 8, 1, 0
    .fill 4096, 1, 0
stack_top:
