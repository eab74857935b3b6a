/*
 * vmx_basic: a flat test guest (boot flat, loaded at 0x100000, entered in 32-bit
 * protected mode with paging off) for a guest with `nested on` on a VMX host
 * (docs/nested.md).  It is a small guest hypervisor ("L1") that checks, one step at a
 * time, what the VMM's virtual VMX (vmm/x86/vmx_nested.h) promises, then runs a guest
 * of its own ("L2"), first in 32-bit protected mode with paging, without EPT (steps
 * 8-12), then in real mode on EPT with unrestricted guest (steps 13-20):
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
 *  10 VMRESUME past the OUT: L2 writes KERNEL_GS_BASE and CR2, and its HLT is the next
 *     VM exit (reason 12, length 1), guest RSP as L2 had it; L1 reads L2's
 *     KERNEL_GS_BASE and CR2 (no VM exit switches them)
 *  11 VMLAUNCH of the launched VMCS: VMfailValid 4
 *  12 VMCLEAR and VMPTRLD keep the fields; with a guest CR0 with PG but not PE the
 *     VM entry fails and L1 is back at HOST_RIP with exit reason 0x80000021 (33 and
 *     bit 31), qualification 0
 *  13 the secondary controls offer EPT and unrestricted guest, IA32_VMX_EPT_VPID_CAP
 *     a 4-level write-back EPT and single-context INVEPT; with both on, a real-mode
 *     L2 whose code page (L2-physical 0x8000) and data page (0x9000) L1's EPT puts
 *     elsewhere in L1's memory runs from there; its write lands in the remapped page,
 *     its OUT is a VM exit (30) and, L1 resuming it, its HLT (12)
 *  14 an L2 write to a page the EPT does not map: EPT violation (48), the address in
 *     the guest-physical address field, the qualification a write to nothing present
 *  15 a write to a page the EPT maps read and execute only: EPT violation with the
 *     write and what the entries allow (readable, executable, not writable)
 *  16 L1 moves 0x9000 to another page and INVEPT (single-context, its EPTP) drops
 *     what the processor kept: L2's next write lands in the page's new place
 *  17 a leaf that allows write but not read: EPT misconfiguration (49) with the address
 *  18 an external interrupt in the VM-entry interruption-information field: L2 takes
 *     it through its real-mode IVT before its first instruction (its handler's OUT is
 *     the VM exit, the interrupt's frame on L2's stack) and the field reads back
 *     without its valid bit
 *  19 interrupt-window exiting with L2's IF clear: STI; NOP; HLT is a VM exit (7)
 *     after the NOP, once the STI's shadow is over
 *  20 interrupt-window exiting with IF clear, an OUT (a VM exit), the control cleared:
 *     STI; NOP; HLT is a VM exit for the HLT, no window exit for what L1 took back
 *  21 VMCLEAR and VMXOFF succeed; VMREAD then raises #UD; no #GP came at any step
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
#define MSR_KERNEL_GS_BASE 0xc0000102
#define L2_KGS_LOW  0x4b475342      /* what L2 writes there (step 10) */
#define L2_KGS_HIGH 0x00007f12
#define L2_CR2      0x0badf00c      /* and CR2 */
/* Steps 13-20: L1's EPT (PML4, PDPT, PD, PT) and the pages of L1 it gives L2 */
#define EPT         0x310000
#define EPT_PT      (EPT + 0x3000)
#define EPTP        (EPT | 0x1e)    /* write-back (6), a 4-level walk (3 << 3) */
#define NP_CODE     0x320000        /* L2-physical 0x8000 */
#define NP_DATA     0x322000        /* ... 0x9000, until step 16 moves it */
#define NP_MOVED    0x323000
#define NP_RO       0x324000        /* 0xb000: read and execute only */
#define NP_BAD      0x325000        /* 0xc000: write without read (step 17) */
#define NP_IVT      0x326000        /* 0x0000: L2's IVT (step 18) */
#define NP_STACK    0x327000        /* 0x6000: L2's stack below 0x7000 (step 18) */
#define LEAF_RWX    0x37            /* an EPT leaf: read, write, execute, write-back */
#define LEAF_RX     0x35
#define LEAF_W      0x32            /* write without read: misconfigured */
#define PROC2_EPT_UG ((1 << 1) | (1 << 7))  /* enable EPT, unrestricted guest */
/* IA32_VMX_EPT_VPID_CAP: 4-level walk, WB, INVEPT, single-context INVEPT */
#define EPT_CAPS    ((1 << 6) | (1 << 14) | (1 << 20) | (1 << 25))
#include "flat.inc"
#include "vmx.inc"

    flat_start
    flat_segments
    flat_fault_gates fault_handler  /* any exception fails the step ... */
    flat_skip_gates             /* ... but #UD and #GP, which a step may ask for */
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
    vmx_paging PD
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
    vmwrite_each 8, $vmcs_fields_end
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
    movl $MSR_KERNEL_GS_BASE, %ecx  /* what L2 wrote, L1's now */
    rdmsr
    cmpl $L2_KGS_LOW, %eax
    jne fail
    cmpl $L2_KGS_HIGH, %edx
    jne fail
    movl %cr2, %eax             /* likewise CR2 */
    cmpl $L2_CR2, %eax
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

    movb $13, step              /* EPT, unrestricted guest: a real-mode L2 where L1's EPT puts it */
    call mark
    movl $0x48b, %ecx           /* secondary controls: EPT and unrestricted guest may be 1 */
    rdmsr
    andl $PROC2_EPT_UG, %edx
    cmpl $PROC2_EPT_UG, %edx
    jne fail
    movl $0x48c, %ecx           /* 4 levels, write-back, INVEPT single-context */
    rdmsr
    andl $EPT_CAPS, %eax
    cmpl $EPT_CAPS, %eax
    jne fail
    movl $0x48e, %ecx           /* the primary controls may activate the secondary ones */
    rdmsr
    testl $1 << 31, %edx
    jz fail
    movl $EPT, %edi             /* the EPT, zeroed */
    movl $0x4000 / 4, %ecx
    xorl %eax, %eax
    rep stosl
    movl $NP_CODE, %edi         /* L2's pages, zeroed */
    movl $0x8000 / 4, %ecx
    rep stosl
    movl $EPT + 0x1007, EPT                 /* PML4[0] -> PDPT: read, write, execute */
    movl $EPT + 0x2007, EPT + 0x1000        /* PDPT[0] -> PD */
    movl $EPT + 0x3007, EPT + 0x2000        /* PD[0] -> PT */
    movl $NP_CODE + LEAF_RWX, EPT_PT + 8 * 8    /* 0x8000 -> NP_CODE */
    movl $NP_DATA + LEAF_RWX, EPT_PT + 9 * 8    /* 0x9000 -> NP_DATA */
    movl $NP_RO + LEAF_RX, EPT_PT + 11 * 8      /* 0xb000 -> NP_RO, read and execute */
    movl $l2_ept_code, %esi     /* L2's programs, at L2-physical 0x8000 */
    movl $NP_CODE, %edi
    movl $l2_ept_end - l2_ept_code, %ecx
    rep movsb
    movw $0, 0x9000             /* L1's own 0x9000, which L2's write must not reach */
    vmclear vmcs_ptr            /* the VMCS of step 8 again, clear, with a real-mode guest */
    vm_ok
    vmptrld vmcs_ptr
    vm_ok
    movl $ept_fields, %esi
    movl $ept_fields_end, %edi
    call vmwrite_table
    vmr 0x4002                  /* HLT and I/O exiting as before, the secondary controls */
    orl $1 << 31, %ebx
    movl %ebx, %ecx
    vmw 0x4002, %ecx
    movl $exit_ept_out, exit_next
    vmlaunch
    jmp fail

exit_ept_out:
    cmpw $0x1234, %ax           /* L2's AX */
    jne fail
    vmr 0x4402                  /* I/O instruction */
    cmpl $30, %ebx
    jne fail
    vmr 0x681e                  /* guest RIP: the OUT */
    cmpl $0x8006, %ebx
    jne fail
    cmpw $0x1234, NP_DATA       /* the write went where L1's EPT put 0x9000 */
    jne fail
    cmpw $0, 0x9000
    jne fail
    call l2_next
    movl $exit_ept_hlt, exit_next
    vmresume
    jmp fail

exit_ept_hlt:
    vmr 0x4402                  /* HLT */
    cmpl $12, %ebx
    jne fail
    vmr 0x681e
    cmpl $0x8008, %ebx
    jne fail

    movb $14, step              /* a write where the EPT maps nothing: EPT violation */
    call mark
    vmw 0x681e, $0x8010         /* program B: mov %ax, 0xa000; hlt */
    movl $exit_ept_unmapped, exit_next
    vmresume
    jmp fail

exit_ept_unmapped:
    vmr 0x4402                  /* EPT violation */
    cmpl $48, %ebx
    jne fail
    vm_gpa 0xa000               /* the guest-physical address */
    vmr 0x6400                  /* a write (bit 1); nothing readable, writable, executable */
    andl $0x3a, %ebx
    cmpl $0x02, %ebx
    jne fail
    vmr 0x681e                  /* L2 stopped at the write */
    cmpl $0x8010, %ebx
    jne fail

    movb $15, step              /* a write to a page mapped read and execute only */
    call mark
    vmw 0x681e, $0x8020         /* program C: mov %ax, 0xb000; hlt */
    movl $exit_ept_read_only, exit_next
    vmresume
    jmp fail

exit_ept_read_only:
    vmr 0x4402
    cmpl $48, %ebx
    jne fail
    vm_gpa 0xb000
    vmr 0x6400                  /* a write; readable (bit 3) and executable (bit 5), not writable */
    andl $0x3a, %ebx
    cmpl $0x2a, %ebx
    jne fail
    vmr 0x681e
    cmpl $0x8020, %ebx
    jne fail

    movb $16, step              /* 0x9000 moved, INVEPT of the EPTP: the write follows it */
    call mark
    movl $NP_MOVED + LEAF_RWX, EPT_PT + 9 * 8
    movl $1, %eax               /* single-context */
    invept invept_desc, %eax
    vm_ok
    vmw 0x681e, $0x8030         /* program D: mov $0x5678, %ax; mov %ax, 0x9000; out; hlt */
    movl $exit_ept_moved, exit_next
    vmresume
    jmp fail

exit_ept_moved:
    cmpw $0x5678, %ax
    jne fail
    vmr 0x4402
    cmpl $30, %ebx
    jne fail
    cmpw $0x5678, NP_MOVED      /* the page's new place */
    jne fail
    cmpw $0x1234, NP_DATA       /* the old place keeps what step 13 wrote */
    jne fail

    movb $17, step              /* a leaf with write but not read: EPT misconfiguration */
    call mark
    movl $NP_BAD + LEAF_W, EPT_PT + 12 * 8      /* 0xc000 */
    vmw 0x681e, $0x8040         /* program E: mov %ax, 0xc000; hlt */
    movl $exit_ept_misconfig, exit_next
    vmresume
    jmp fail

exit_ept_misconfig:
    vmr 0x4402                  /* EPT misconfiguration */
    cmpl $49, %ebx
    jne fail
    vm_gpa 0xc000
    vmr 0x681e
    cmpl $0x8040, %ebx
    jne fail

    movb $18, step              /* an injected interrupt, taken before L2's first instruction */
    call mark
    movl $NP_IVT + LEAF_RWX, EPT_PT + 0 * 8     /* 0x0000: L2's IVT */
    movl $NP_STACK + LEAF_RWX, EPT_PT + 6 * 8   /* 0x6000: L2's stack */
    movl $0x8050, NP_IVT + 0x20 * 4 /* vector 0x20 at 0:8050 */
    vmw 0x681e, $0x8060         /* a HLT L2 does not reach */
    vmw 0x681c, $0x7000         /* RSP */
    vmw 0x6820, $0x202          /* RFLAGS: IF, which injecting an external interrupt asks */
    vmw 0x4016, $0x80000020     /* valid, external interrupt (type 0), vector 0x20 */
    movl $exit_ept_event, exit_next
    vmresume
    jmp fail

exit_ept_event:
    cmpb $0x42, %al             /* AL of the handler */
    jne fail
    vmr 0x4402                  /* the handler's OUT */
    cmpl $30, %ebx
    jne fail
    vmr 0x681e
    cmpl $0x8052, %ebx
    jne fail
    vmr 0x0802                  /* CS: the IVT's segment */
    testl %ebx, %ebx
    jnz fail
    vmr 0x6820                  /* the delivery cleared IF */
    testl $0x200, %ebx
    jnz fail
    vmr 0x681c                  /* the frame: IP, CS, FLAGS below 0x7000 */
    cmpl $0x6ffa, %ebx
    jne fail
    cmpw $0x8060, NP_STACK + 0xffa
    jne fail
    cmpw $0, NP_STACK + 0xffc
    jne fail
    cmpw $0x202, NP_STACK + 0xffe
    jne fail
    vmr 0x4016                  /* the entry consumed the event */
    testl $0x80000000, %ebx
    jnz fail

    movb $19, step              /* interrupt-window exiting: a VM exit once L2 sets IF */
    call mark
    vmr 0x4002
    orl $1 << 2, %ebx
    movl %ebx, %ecx
    vmw 0x4002, %ecx
    vmw 0x681e, $0x8070         /* program G: sti; nop; hlt */
    vmw 0x6820, $2              /* IF clear */
    movl $exit_ept_window, exit_next
    vmresume
    jmp fail

exit_ept_window:
    vmr 0x4402                  /* interrupt window */
    cmpl $7, %ebx
    jne fail
    vmr 0x681e                  /* after the STI and the NOP its shadow covers */
    cmpl $0x8072, %ebx
    jne fail
    vmr 0x6820
    testl $0x200, %ebx
    jz fail
    vmr 0x4002
    andl $~(1 << 2), %ebx
    movl %ebx, %ecx
    vmw 0x4002, %ecx

    movb $20, step              /* a window L1 takes back before it opens: no exit for it */
    call mark
    vmr 0x4002
    orl $1 << 2, %ebx
    movl %ebx, %ecx
    vmw 0x4002, %ecx
    vmw 0x681e, $0x8080         /* program H: out; sti; nop; hlt */
    vmw 0x6820, $2              /* IF clear: the OUT comes first */
    movl $exit_window_out, exit_next
    vmresume
    jmp fail

exit_window_out:
    vmr 0x4402
    cmpl $30, %ebx
    jne fail
    vmr 0x4002                  /* the window no longer wanted */
    andl $~(1 << 2), %ebx
    movl %ebx, %ecx
    vmw 0x4002, %ecx
    vmw 0x681e, $0x8082         /* past the OUT */
    movl $exit_window_hlt, exit_next
    vmresume
    jmp fail

exit_window_hlt:
    vmr 0x4402                  /* the HLT, not the window */
    cmpl $12, %ebx
    jne fail
    vmr 0x681e
    cmpl $0x8084, %ebx
    jne fail

    movb $21, step              /* VMCLEAR, VMXOFF; then VMREAD is #UD */
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

    vmx_vmwrite_table

/* Guest RIP += the VM-exit instruction length; clobbers eax, ebx, ecx. */
l2_next:
    vmr 0x440c
    movl %ebx, %ecx
    vmr 0x681e
    addl %ecx, %ebx
    vmw 0x681e, %ebx
    ret

    flat_set_gate
    flat_skip_handlers 1        /* #UD and #GP that no step asked for fail it */
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
    movl $MSR_KERNEL_GS_BASE, %ecx
    movl $L2_KGS_LOW, %eax
    movl $L2_KGS_HIGH, %edx
    wrmsr                       /* L2's own MSR (docs/nested.md): no VM exit */
    movl $L2_CR2, %eax
    movl %eax, %cr2             /* no VM exit either */
l2_hlt:
    hlt                         /* VM exit: HLT */
    jmp .

/* L2's real-mode programs for the EPT steps, 16 bytes apart from L2-physical 0x8000
 * (CS 0, IP the L2-physical address). */
    .balign 16, 0xf4            /* the programs' .balign counts from here */
    .code16
l2_ept_code:
    movw $0x1234, %ax           /* 0x8000, A: the write, OUT at 0x8006, HLT at 0x8008 */
    movw %ax, 0x9000
    outb %al, $0x80
    hlt
    .balign 16, 0xf4
    movw %ax, 0xa000            /* 0x8010, B: a write where nothing is mapped */
    hlt
    .balign 16, 0xf4
    movw %ax, 0xb000            /* 0x8020, C: a write to a read-only page */
    hlt
    .balign 16, 0xf4
    movw $0x5678, %ax           /* 0x8030, D: the write after the move */
    movw %ax, 0x9000
    outb %al, $0x80
    hlt
    .balign 16, 0xf4
    movw %ax, 0xc000            /* 0x8040, E: a write through a misconfigured leaf */
    hlt
    .balign 16, 0xf4
    movb $0x42, %al             /* 0x8050, F: the handler of vector 0x20, OUT at 0x8052 */
    outb %al, $0x80
    hlt
    .balign 16, 0xf4
    hlt                         /* 0x8060: where the injected interrupt comes first */
    .balign 16, 0xf4
    sti                         /* 0x8070, G: the window opens after the NOP */
    nop
    hlt                         /* 0x8072 */
    .balign 16, 0xf4
    outb %al, $0x80             /* 0x8080, H: an exit with IF clear, then as G */
    sti
    nop
    hlt                         /* 0x8084 */
l2_ept_end:
    .code32

/* The VMCS fields step 8 writes from a table: encoding, value. */
    .align 4
vmcs_fields:
    vmx_flat_guest              /* L2 in L1's flat segments, GDT and TSS */
    /* access rights: ES CS SS DS FS GS LDTR TR */
    field 0x4814, 0xc093        /* data: present, writable, accessed, 32-bit, 4 KiB granular */
    field 0x4816, 0xc09b        /* code: present, readable, accessed */
    field 0x4818, 0xc093
    field 0x481a, 0xc093
    field 0x481c, 0xc093
    field 0x481e, 0xc093
    field 0x4820, 0x10000       /* LDTR unusable */
    field 0x4822, 0x8b          /* TR: a busy 32-bit TSS */
    field 0x6818, idt           /* IDTR */
    field 0x4812, (256*8-1)
    field 0x681c, L2_STACK      /* RSP */
    field 0x681e, l2_code       /* RIP */
    field 0x6820, 2             /* RFLAGS */
    field 0x4824, 0             /* interruptibility */
    field 0x4826, 0             /* activity: active */
    vmx_host                    /* host state: L1 at l2_exited; the other controls */
    field 0x4016, 0             /* VM-entry interruption information: nothing to inject */
vmcs_fields_end:

/* Step 13's changes: a real-mode L2 (unrestricted guest) on L1's EPT. */
ept_fields:
    field 0x0800, 0             /* ES CS SS DS FS GS: selector 0, base 0, 64 KiB */
    field 0x0802, 0
    field 0x0804, 0
    field 0x0806, 0
    field 0x0808, 0
    field 0x080a, 0
    field 0x4800, 0xffff
    field 0x4802, 0xffff
    field 0x4804, 0xffff
    field 0x4806, 0xffff
    field 0x4808, 0xffff
    field 0x480a, 0xffff
    field 0x4814, 0x93          /* data: present, writable, accessed, 16-bit */
    field 0x4816, 0x9b          /* code: present, readable, accessed */
    field 0x4818, 0x93
    field 0x481a, 0x93
    field 0x481c, 0x93
    field 0x481e, 0x93
    field 0x6806, 0
    field 0x6808, 0
    field 0x680a, 0
    field 0x680c, 0
    field 0x680e, 0
    field 0x6810, 0
    field 0x6818, 0             /* IDTR: the real-mode IVT */
    field 0x4812, 0x3ff
    field 0x6800, 0x30          /* CR0: NE, ET; neither PE nor PG */
    field 0x6802, 0
    field 0x6804, 0x2000        /* CR4: VMXE, which CR4_FIXED0 asks */
    field 0x681c, 0x7000        /* RSP */
    field 0x681e, 0x8000        /* RIP: program A */
    field 0x6820, 2             /* RFLAGS */
    field 0x401e, PROC2_EPT_UG  /* secondary controls */
    field 0x201a, EPTP          /* the EPT pointer */
    field 0x201b, 0
ept_fields_end:

    flat_gdt TSS
    .align 8
vmxon_ptr:   .quad VMXON_REGION /* the memory operands of VMXON, VMCLEAR, VMPTRLD */
vmcs_ptr:    .quad VMCS
bad_ptr:     .quad BAD_REGION
vmptrst_out: .quad 0xffffffffffffffff
invept_desc: .quad EPTP, 0      /* INVEPT's descriptor: the EPTP, then 64 reserved bits */
step:      .long 0
skip:      .long 0
ud_count:  .long 0
gp_count:  .long 0
exit_next: .long fail           /* where l2_exited goes on */
    flat_idt_stack 256
