/*
 * vmx_hostile: a flat test guest with `nested on` on a VMX host (docs/nested.md), the
 * VMX twin of svm_hostile.S: a guest hypervisor ("L1") that treats the VMM's shadow EPT
 * and its virtual VMCS the way a hostile one would.  L1 runs with paging (one 4 MiB
 * page), as VMX operation asks; its guest ("L2") runs with EPT and unrestricted guest,
 * 32-bit protected mode without paging, IDTR limit 0 (so any exception of L2 ends in a
 * triple fault):
 *   1 an EPT that sends every L2-physical address below 4 GiB to one page (one PD for
 *     all four PDPT entries, one PT for all its entries), and an L2 that writes to 2000
 *     pages 2 MiB + 4 KiB apart: more pages and more page tables than the shadow
 *     holds, so it is dropped and refilled many times; the last write must land in the
 *     one page, and L2 ends in its HLT (VM exit 12)
 *   2 an EPT pointer whose PML4 is outside the guest's RAM: L2's first fetch is an EPT
 *     violation (48) at L2-physical 0, an instruction fetch of nothing present
 *   3 a leaf with a reserved address bit (the lowest above MAXPHYADDR, CPUID
 *     8000_0008h): an EPT misconfiguration (49) at L2-physical 0
 *   4 3000 VMRESUMEs in a row, each after an INVEPT of all contexts, of an L2 that
 *     halts at once
 *   5 200 VMLAUNCHes (each after VMCLEAR and VMPTRLD) of a VMCS whose guest state a
 *     xorshift generator garbles (CR0, CR4, the segments' access rights, RFLAGS,
 *     interruptibility, activity state, the VM-entry interruption information), the
 *     host state kept valid, every L2-physical page an all-HLT page L2 may read and
 *     execute: each ends in VMfail or at the host RIP with some exit reason, and L1
 *     survives them all; the outcomes are counted and printed
 * L1 keeps its interrupts off and leaves external-interrupt exiting off (the pin-based
 * controls are the must-be-1 bits): the test platform's timer ticks stay pending for
 * L1 while L2 runs, far longer in step 1 than the VMM's quantum, and L2 must go on.
 * Each step prints "X" and a letter (b for step 1 ...) on COM1, step 5 its outcomes
 * ("outcomes: VMfail N, entry failed N, HLT N, triple fault N, other N (reasons
 * 0x<bit mask of the other basic exit reasons>)"); the verdict on port 0xf4 is 0 when
 * all pass, else the step that failed.  An exception in L1, or a VM exit no step waits
 * for, fails the current step.
 */
#define PD          0x300000        /* L1's page directory: 0-4 MiB as one 4 MiB page */
#define VMXON_REGION 0x301000
#define VMCS        0x302000
#define TSS         0x304000        /* 104 bytes: L1's TR, and L2's */
#define EPT         0x310000        /* PML4, PDPT, PD, PT */
#define EPT_PDPT    (EPT + 0x1000)
#define EPT_PD      (EPT + 0x2000)
#define EPT_PT      (EPT + 0x3000)
#define EPTP        (EPT|0x1e)      /* write-back (6), a 4-level walk (3 << 3) */
#define DATA        0x320000        /* the one L1 page every L2 address reaches (steps 1-4) */
#define HLT_PAGE    0x321000        /* ... in step 5: 4 KiB of HLT */
#define OUTSIDE     0x7ff00000      /* far beyond the guest's 4 MiB */
#define LEAF_RWX    0x37            /* an EPT leaf: read, write, execute, write-back */
#define LEAF_RX     0x35
#define PROC2_EPT_UG 0x82           /* enable EPT (bit 1), unrestricted guest (bit 7) */
#define L2_RIP_GARBAGE 0x1000       /* step 5: anywhere, every page is HLT */
#define FLOOD       3000
#define GARBAGE_RUNS 200
#include "flat.inc"
#include "vmx.inc"

    flat_start
    movb $1, step               /* a failure in the set-up below is step 1's, never a pass */
    flat_segments
    flat_fault_gates fail       /* any exception of L1 fails the step */
    lidt idt_desc
    cld
    movl $PD, %edi              /* PD, VMXON region, VMCS, TSS: zeroed */
    movl $0x5000 / 4, %ecx
    xorl %eax, %eax
    rep stosl
    movl $EPT, %edi             /* the EPT, DATA and the HLT page: zeroed */
    movl $0x12000 / 4, %ecx
    rep stosl
    movw $0x18, %ax
    ltr %ax
    vmx_paging PD
    movl $1, VMXON_REGION       /* revision 1 */
    movl $1, VMCS
    vmxon vmxon_ptr
    vm_ok
    vmclear vmcs_ptr
    vm_ok
    vmptrld vmcs_ptr
    vm_ok
    movl $host_fields, %esi     /* host state and the fixed controls */
    movl $host_fields_end, %edi
    call vmwrite_table
    movl $guest_fields, %esi    /* L2: flat 32-bit, paging off, at L2-physical 0 */
    movl $guest_fields_end, %edi
    call vmwrite_table
    movl $garbled, %esi         /* the rest of its state: the valid values */
    vmwrite_each 12, $garbled_end
    movl %cr0, %ecx             /* host control registers: L1's */
    vmw 0x6c00, %ecx
    movl %cr3, %ecx
    vmw 0x6c02, %ecx
    movl %cr4, %ecx
    vmw 0x6c04, %ecx
    movl $0x48d, %ecx           /* pin-based: the bits that must be 1 */
    rdmsr
    movl %eax, %edx
    vmw 0x4000, %edx
    movl $0x48e, %ecx           /* primary: those, HLT and I/O exiting, the secondary controls */
    rdmsr
    movl $(1 << 7) | (1 << 24) | (1 << 31), %ecx
    movl %edx, %ebx
    andl %ecx, %ebx
    cmpl %ecx, %ebx
    jne fail
    orl %eax, %ecx
    vmw 0x4002, %ecx
    movl $0x48b, %ecx           /* secondary: EPT and unrestricted guest */
    rdmsr
    andl $PROC2_EPT_UG, %edx
    cmpl $PROC2_EPT_UG, %edx
    jne fail
    vmw 0x401e, $PROC2_EPT_UG
    movl $0x48f, %ecx           /* exit controls: the must-be-1 bits (a 32-bit host) */
    rdmsr
    movl %eax, %edx
    vmw 0x400c, %edx
    movl $0x490, %ecx           /* entry controls: the must-be-1 bits (not IA-32e) */
    rdmsr
    movl %eax, %edx
    vmw 0x4012, %edx

    movb $1, step               /* the shadow dropped and refilled */
    call mark
    movl $EPT_PDPT + 7, EPT                 /* PML4[0] -> PDPT */
    movl $EPT_PD + 7, EPT_PDPT              /* PDPT[0..3]: all the same PD */
    movl $EPT_PD + 7, EPT_PDPT + 8
    movl $EPT_PD + 7, EPT_PDPT + 16
    movl $EPT_PD + 7, EPT_PDPT + 24
    movl $EPT_PD, %edi          /* PD[*]: the same PT */
    movl $EPT_PT + 7, %eax
    movl $512, %ecx
1:  movl %eax, (%edi)
    addl $8, %edi
    loop 1b
    movl $DATA + LEAF_RWX, %eax /* PT[*]: DATA */
    call fill_pt
    movl $l2_code, %esi         /* L2's program, at L2-physical 0 (DATA + 0) */
    movl $DATA, %edi
    movl $l2_end - l2_code, %ecx
    rep movsb
    vmw 0x201a, $EPTP
    vmw 0x201b, $0
    movl $exit_refilled, exit_next
    vmlaunch
    jmp fail

exit_refilled:
    vmr 0x4402                  /* its HLT */
    cmpl $12, %ebx
    jne fail
    vmr 0x681e
    cmpl $l2_hlt - l2_code, %ebx
    jne fail
    cmpl $1999, DATA + 0x800    /* the last of its writes, through the one page */
    jne fail

    movb $2, step               /* the PML4 outside RAM: EPT violation, not present */
    call mark
    vmw 0x201a, $(OUTSIDE|0x1e)
    vmw 0x681e, $0
    movl $exit_outside, exit_next
    vmresume
    jmp fail

exit_outside:
    vmr 0x4402
    cmpl $48, %ebx
    jne fail
    vm_gpa 0                    /* at L2-physical 0 */
    vmr 0x6400                  /* a fetch (bit 2) of nothing (bits 3-5 clear) */
    andl $0x3c, %ebx
    cmpl $0x04, %ebx
    jne fail

    movb $3, step               /* a reserved address bit in a leaf: EPT misconfiguration */
    call mark
    movl $0x80000008, %eax      /* MAXPHYADDR: bits from there to 51 are reserved */
    cpuid
    movzbl %al, %ecx
    cmpl $52, %ecx
    jae fail                    /* none reserved: nothing to test */
    cmpl $32, %ecx
    jb fail                     /* (no CPU with VMX has fewer than 36) */
    subl $32, %ecx
    movl $1, %eax
    shll %cl, %eax
    orl %eax, EPT_PT + 4        /* PT[0]: L2-physical 0 (and every 2 MiB after it) */
    vmw 0x201a, $EPTP
    call invept_all
    vmw 0x681e, $0
    movl $exit_reserved, exit_next
    vmresume
    jmp fail

exit_reserved:
    vmr 0x4402
    cmpl $49, %ebx
    jne fail
    vm_gpa 0
    movl $0, EPT_PT + 4

    movb $4, step               /* a flood of VMRESUMEs, each after INVEPT of all contexts */
    call mark
    call invept_all
    vmw 0x681e, $(l2_hlt-l2_code)
    movl $FLOOD, count
flood:
    call invept_all
    movl $exit_flood, exit_next
    vmresume
    jmp fail

exit_flood:
    vmr 0x4402
    cmpl $12, %ebx
    jne fail
    decl count
    jnz flood

    movb $5, step               /* garbage in the guest state: VMfail or an exit, never worse */
    call mark
    movl $HLT_PAGE, %edi        /* every L2-physical page: HLT, read and execute only */
    movl $4096, %ecx
    movb $0xf4, %al
    rep stosb
    movl $HLT_PAGE + LEAF_RX, %eax
    call fill_pt
    call invept_all
    movl $GARBAGE_RUNS, count
garbage:
    vmclear vmcs_ptr
    vm_ok
    vmptrld vmcs_ptr
    vm_ok
    movl $guest_fields, %esi    /* the valid guest state (an exit rewrote it) ... */
    movl $guest_fields_end, %edi
    call vmwrite_table
    vmw 0x681e, $L2_RIP_GARBAGE
    movl $garbled, %esi         /* ... then some of it garbled */
1:  call xorshift
    movl %eax, %edx             /* edx: how (bits 4:0) and which bit (9:5) */
    movl 4(%esi), %ebx          /* the valid value */
    andl $31, %eax
    jnz 2f
    call xorshift               /* 1 in 32: all random */
    movl %eax, %ebx
    jmp 4f
2:  cmpl $2, %eax
    ja 3f
    call xorshift               /* 2 in 32: random within the field's defined bits */
    andl 8(%esi), %eax
    xorl %eax, %ebx
    jmp 4f
3:  cmpl $3, %eax
    jne 4f
    movl %edx, %ecx             /* 1 in 32: one bit flipped; else (28 in 32) kept */
    shrl $5, %ecx
    andl $31, %ecx
    movl $1, %eax
    shll %cl, %eax
    xorl %eax, %ebx
4:  cmpl $0x4826, (%esi)        /* activity HLT: L2 would wait for an event that never */
    jne 5f                      /* comes (L1 has no timer), so it stays active */
    cmpl $1, %ebx
    jne 5f
    xorl %ebx, %ebx
5:  movl (%esi), %eax
    vmwrite %ebx, %eax
    vm_ok
    addl $12, %esi
    cmpl $garbled_end, %esi
    jb 1b
    movl $exit_garbage, exit_next
    vmlaunch
    jc 1f                       /* VMfailInvalid ... */
    jz 1f                       /* ... or VMfailValid; falling through otherwise is wrong */
    jmp fail
1:  incl n_vmfail
    jmp garbage_next

exit_garbage:
    vmr 0x4402
    testl %ebx, %ebx
    js 1f
    cmpl $12, %ebx
    je 2f
    cmpl $2, %ebx
    je 3f
    incl n_other
    andl $63, %ebx
    btsl %ebx, other_reasons    /* which ones, for the record */
    jmp garbage_next
1:  incl n_entry_failed
    jmp garbage_next
2:  incl n_hlt
    jmp garbage_next
3:  incl n_triple

garbage_next:
    decl count
    jnz garbage
    movl $s_outcomes, %esi      /* "outcomes: ..." */
    call puts
    movl n_vmfail, %eax
    call putdec
    movl $s_entry_failed, %esi
    call puts
    movl n_entry_failed, %eax
    call putdec
    movl $s_hlt, %esi
    call puts
    movl n_hlt, %eax
    call putdec
    movl $s_triple, %esi
    call puts
    movl n_triple, %eax
    call putdec
    movl $s_other, %esi
    call puts
    movl n_other, %eax
    call putdec
    movl $s_reasons, %esi
    call puts
    movl other_reasons + 4, %eax
    call puthex
    movl other_reasons, %eax
    call puthex
    movb $')', %al
    call putc
    movb $10, %al
    call putc
    movl n_vmfail, %eax         /* every run accounted for */
    addl n_entry_failed, %eax
    addl n_hlt, %eax
    addl n_triple, %eax
    addl n_other, %eax
    cmpl $GARBAGE_RUNS, %eax
    jne fail
    vmclear vmcs_ptr
    vm_ok
    vmxoff
    vm_ok

    movb $0, step
    call mark
#define STEP_LETTER 'X'
#include "steps.inc"

/* Every VM exit (and a VM entry that fails on guest state) brings L1 here: the host
 * state says CS, SS, DS, ES, FS, GS and TR, ESP and RIP; L1 goes on at `exit_next`. */
l2_exited:
    movw $0x10, %dx
    movw %dx, %ss
    movl $stack_top, %esp
    movw %dx, %ds
    movw %dx, %es
    movw %dx, %fs
    movw %dx, %gs
    movl exit_next, %ecx
    movl $fail, exit_next       /* the next VM exit must be asked for */
    jmp *%ecx

    vmx_vmwrite_table
    flat_set_gate

/* Every entry of the EPT's PT := eax (the high half 0); clobbers ecx, edi. */
fill_pt:
    movl $EPT_PT, %edi
    movl $512, %ecx
1:  movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $8, %edi
    loop 1b
    ret

/* INVEPT of all contexts, which must succeed; clobbers eax. */
invept_all:
    movl $2, %eax
    invept invept_desc, %eax
    vm_ok
    ret

/* eax := the next xorshift32 of `seed`. */
xorshift:
    movl seed, %eax
    movl %eax, %ecx
    shll $13, %ecx
    xorl %ecx, %eax
    movl %eax, %ecx
    shrl $17, %ecx
    xorl %ecx, %eax
    movl %eax, %ecx
    shll $5, %ecx
    xorl %ecx, %eax
    movl %eax, seed
    ret

/* COM1: putc al; puts the string at esi; putdec eax in decimal; puthex eax in 8 hex
 * digits.  They keep every register but eax (and esi for puts). */
putc:
    pushl %edx
    movw $0x3f8, %dx
    outb %al, %dx
    popl %edx
    ret
puts:
    lodsb
    testb %al, %al
    jz 1f
    call putc
    jmp puts
1:  ret
putdec:
    pushl %ebx
    pushl %ecx
    pushl %edx
    movl $10, %ebx
    xorl %ecx, %ecx
1:  xorl %edx, %edx
    divl %ebx
    pushl %edx
    incl %ecx
    testl %eax, %eax
    jnz 1b
2:  popl %eax
    addb $'0', %al
    call putc
    loop 2b
    popl %edx
    popl %ecx
    popl %ebx
    ret
puthex:
    pushl %ecx
    pushl %edx
    movl %eax, %edx
    movl $8, %ecx
1:  roll $4, %edx
    movl %edx, %eax
    andl $15, %eax
    movb hex_digits(%eax), %al
    call putc
    loop 1b
    popl %edx
    popl %ecx
    ret

/* L2, 32-bit flat, at L2-physical 0: 2000 writes 2 MiB + 4 KiB apart, then HLT. */
l2_code:
    xorl %ecx, %ecx
    movl $0x800, %eax
1:  movl %ecx, (%eax)
    incl %ecx
    addl $0x201000, %eax
    cmpl $2000, %ecx
    jne 1b
l2_hlt:
    hlt
    jmp l2_hlt
l2_end:

    .align 4
/* Host state (L1 at l2_exited) and the controls besides the five control words. */
host_fields:
    vmx_host
host_fields_end:

/* L2's state: flat 32-bit protected mode without paging (unrestricted guest), L1's
 * GDT selectors, IDTR limit 0: any exception ends in a triple fault. */
guest_fields:
    vmx_flat_guest
    field 0x6818, 0             /* IDTR: limit 0 */
    field 0x4812, 0
    field 0x681c, 0             /* RSP: L2 has no stack */
    field 0x681e, 0             /* RIP */
    field 0x6802, 0             /* CR3 */
    field 0x4018, 0             /* VM-entry exception error code, instruction length */
    field 0x401a, 1
guest_fields_end:
/* The rest of L2's state, the fields step 5 garbles: encoding, valid value, the bits
 * the field defines. */
.macro garble enc, value, defined
    .long \enc, \value, \defined
.endm
garbled:
    garble 0x6800, 0x31, 0xe005003f     /* CR0: PE, ET, NE; no paging */
    garble 0x6804, 0x2000, 0x3fffff     /* CR4: VMXE */
    garble 0x4814, 0xc093, 0x1f0ff      /* ES: data, present, writable, accessed, 32-bit, 4 KiB granular */
    garble 0x4816, 0xc09b, 0x1f0ff      /* CS: code, readable, accessed */
    garble 0x4818, 0xc093, 0x1f0ff      /* SS */
    garble 0x481a, 0xc093, 0x1f0ff      /* DS */
    garble 0x481c, 0xc093, 0x1f0ff      /* FS */
    garble 0x481e, 0xc093, 0x1f0ff      /* GS */
    garble 0x4820, 0x10000, 0x1f0ff     /* LDTR: unusable */
    garble 0x4822, 0x8b, 0x1f0ff        /* TR: a busy 32-bit TSS */
    garble 0x6820, 2, 0x3f7fd5          /* RFLAGS */
    garble 0x4824, 0, 0x1f              /* interruptibility */
    garble 0x4826, 0, 3                 /* activity: active */
    garble 0x4016, 0, 0x80000fff        /* VM-entry interruption information: nothing */
garbled_end:

    flat_gdt TSS
    .align 8
vmxon_ptr:   .quad VMXON_REGION
vmcs_ptr:    .quad VMCS
invept_desc: .quad 0, 0         /* INVEPT of all contexts: the EPTP is not looked at */
other_reasons: .quad 0
step:        .long 0
exit_next:   .long fail
count:       .long 0
seed:        .long 0x2545f491
n_vmfail:    .long 0
n_entry_failed: .long 0
n_hlt:       .long 0
n_triple:    .long 0
n_other:     .long 0
hex_digits:  .ascii "0123456789abcdef"
s_outcomes:  .asciz "outcomes: VMfail "
s_entry_failed: .asciz ", entry failed "
s_hlt:       .asciz ", HLT "
s_triple:    .asciz ", triple fault "
s_other:     .asciz ", other "
s_reasons:   .asciz " (reasons 0x"
    flat_idt_stack 32
