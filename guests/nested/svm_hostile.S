/*
 * svm_hostile: a flat test guest with `nested on` (docs/nested.md) that treats the
 * VMM's shadow nested table the way a hostile guest hypervisor would:
 *   1 nested tables that send every L2-physical address below 4 GiB to one page (one
 *     PD for all four PDPT entries, one PT for all its entries), and a 32-bit L2 that
 *     writes to 2000 pages 2 MiB + 4 KiB apart: more pages and more page tables than
 *     the shadow holds, so it is dropped and refilled many times; the last write must
 *     land in the one page, and the L2 ends in its HLT
 *   2 nCR3 outside the guest's RAM: the first fetch is #VMEXIT(NPF), not present
 *   3 a leaf with a reserved address bit: #VMEXIT(NPF) with P and RSV
 *   4 3000 VMRUNs in a row, each asking for a TLB flush, of an L2 that halts at once
 * Each step prints "H" and a letter (b for step 1 ...) on COM1; the verdict on port
 * 0xf4 is 0 when all pass, else the step that failed.  tests/nested.sh also checks
 * that the VMM's shadow was flushed again and again, and that the neighbours ran on.
 */
#define VMCB      0x300000
#define IOPM      0x304000          /* 12 KiB */
#define MSRPM     0x308000          /* 8 KiB */
#define NPT       0x310000          /* PML4, PDPT, PD, PT */
#define DATA      0x320000          /* the one L1 page every L2 address reaches */
#define OUTSIDE   0x7ff00000        /* far beyond the guest's 4 MiB */
#define L2_HLT    23                /* the HLT in l2_code */
#include "flat.inc"

    flat_start                  /* in the flat segments it was entered with; no IDT */
    movl $0xc0000080, %ecx      /* EFER.SVME */
    rdmsr
    orl $0x1000, %eax
    wrmsr
    cld
    movl $VMCB, %edi            /* VMCB, IOPM, MSRPM and the tables, zeroed */
    movl $(0x14000) / 4, %ecx
    xorl %eax, %eax
    rep stosl

    movb $1, step               /* the shadow dropped and refilled */
    call mark
    movl $NPT + 0x1007, NPT
    movl $NPT + 0x2007, NPT + 0x1000        /* PDPT[0..3]: all the same PD */
    movl $NPT + 0x2007, NPT + 0x1008
    movl $NPT + 0x2007, NPT + 0x1010
    movl $NPT + 0x2007, NPT + 0x1018
    movl $NPT + 0x2000, %edi    /* PD[*]: the same PT */
    movl $NPT + 0x3007, %eax
    movl $512, %ecx
1:  movl %eax, (%edi)
    addl $8, %edi
    loop 1b
    movl $NPT + 0x3000, %edi    /* PT[*]: DATA */
    movl $DATA + 7, %eax
    movl $512, %ecx
1:  movl %eax, (%edi)
    addl $8, %edi
    loop 1b
    movl $l2_code, %esi
    movl $DATA, %edi
    movl $l2_end - l2_code, %ecx
    rep movsb
    movl $1 << 24, VMCB + 0x0c  /* HLT */
    movl $1, VMCB + 0x10        /* VMRUN */
    movl $IOPM, VMCB + 0x40
    movl $MSRPM, VMCB + 0x48
    movl $1, VMCB + 0x58        /* ASID */
    movl $1, VMCB + 0x90        /* nested paging */
    movl $NPT, VMCB + 0xb0
    movl $(0x0c9b << 16) | 0x08, VMCB + 0x410   /* CS: flat 32-bit code */
    movl $0xffffffff, VMCB + 0x414
    movl $(0x0c93 << 16) | 0x10, VMCB + 0x400   /* ES, SS, DS: flat data */
    movl $0xffffffff, VMCB + 0x404
    movl $(0x0c93 << 16) | 0x10, VMCB + 0x420
    movl $0xffffffff, VMCB + 0x424
    movl $(0x0c93 << 16) | 0x10, VMCB + 0x430
    movl $0xffffffff, VMCB + 0x434
    movl $0xffff, VMCB + 0x464  /* GDTR, IDTR limits */
    movl $0xffff, VMCB + 0x484
    movl $0x1000, VMCB + 0x4d0  /* EFER.SVME */
    movl $0x11, VMCB + 0x558    /* CR0: PE, ET */
    movl $0x400, VMCB + 0x560   /* DR7 */
    movl $0xffff0ff0, VMCB + 0x568
    movl $2, VMCB + 0x570       /* RFLAGS */
    movl $0, VMCB + 0x578       /* RIP: l2_code at L2-physical 0 */
    movl $VMCB, %eax
    vmrun
    stgi
    cmpl $0x78, VMCB + 0x70     /* its HLT */
    jne fail
    cmpl $L2_HLT, VMCB + 0x578
    jne fail
    cmpl $1999, DATA + 0x800    /* the last of its writes, through the one page */
    jne fail

    movb $2, step               /* nCR3 outside RAM: #VMEXIT(NPF), not present */
    call mark
    movl $OUTSIDE, VMCB + 0xb0
    movl $0, VMCB + 0x578
    movl $VMCB, %eax
    vmrun
    stgi
    cmpl $0x400, VMCB + 0x70
    jne fail
    testl $1, VMCB + 0x78       /* P clear */
    jnz fail
    cmpl $0, VMCB + 0x80        /* at L2-physical 0 */
    jne fail

    movb $3, step               /* a reserved address bit in a leaf: NPF with P and RSV */
    call mark
    movl $NPT, VMCB + 0xb0
    movl $0x00080000, NPT + 0x3000 + 4      /* PT[0] bit 51 */
    movb $1, VMCB + 0x5c        /* flush */
    movl $VMCB, %eax
    vmrun
    stgi
    cmpl $0x400, VMCB + 0x70
    jne fail
    movl VMCB + 0x78, %eax
    andl $9, %eax
    cmpl $9, %eax
    jne fail
    movl $0, NPT + 0x3000 + 4

    movb $4, step               /* a flood of VMRUNs, each flushing */
    call mark
    movl $3000, %ebx
1:  movl $L2_HLT, VMCB + 0x578
    movb $1, VMCB + 0x5c
    movl $VMCB, %eax
    vmrun
    stgi
    cmpl $0x78, VMCB + 0x70
    jne fail
    decl %ebx
    jnz 1b

    movb $0, step
    call mark
#define STEP_LETTER 'H'
#include "steps.inc"

/* L2, 32-bit flat, at L2-physical 0: 2000 writes 2 MiB + 4 KiB apart, then HLT. */
l2_code:
    .byte 0x31, 0xc9                            /* 0: xor %ecx, %ecx */
    .byte 0xb8, 0x00, 0x08, 0x00, 0x00          /* 2: mov $0x800, %eax */
    .byte 0x89, 0x08                            /* 7: mov %ecx, (%eax) */
    .byte 0x41                                  /* 9: inc %ecx */
    .byte 0x05, 0x00, 0x10, 0x20, 0x00          /* 10: add $0x201000, %eax */
    .byte 0x81, 0xf9, 0xd0, 0x07, 0x00, 0x00    /* 15: cmp $2000, %ecx */
    .byte 0x75, 0xf0                            /* 21: jne 7 */
    .byte 0xf4                                  /* 23: hlt */
l2_end:

step:     .long 0
    .align 16
    .fill 4096, 1, 0
stack_top:
