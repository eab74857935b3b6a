/*
 * svm_basic: a flat test guest (boot flat, loaded at 0x100000, entered in 32-bit
 * protected mode) for a guest with `nested on` on an SVM host (docs/nested.md).  It
 * checks, one step at a time, what the VMM's virtual SVM promises without running a
 * guest of its own:
 *   1 CPUID offers SVM (8000_0001h ECX.SVM, leaf 8000_000Ah revision 1)
 *   2 VMRUN with EFER.SVME clear raises #UD
 *   3 EFER.SVME can be set and reads back
 *   4 VM_HSAVE_PA takes a page address and refuses another with #GP
 *   5 VMRUN of a VMCB with EFER.SVME clear ends in VMEXIT_INVALID (exit code -1 in it)
 *   6 STGI and CLGI run (and a clear GIF does not stop the guest from running)
 *   7 VMSAVE stores STAR
 *   8 VMLOAD loads STAR
 *   9 VMLOAD of an address that is not page aligned raises #GP
 *  10 with EFER.SVME clear again, VMSAVE raises #UD
 *  11 VMRUN runs a real-mode guest of its own (no nested paging) whose CPUID, which
 *     L1 does not intercept, the VMM answers, and whose OUT to port 0x80 comes back
 *     as #VMEXIT(IOIO) with the exit information and L2's state
 *  12 resumed past it, that guest's HLT is the next #VMEXIT
 *  13 a guest state the kernel refuses to enter (CR0.PG without PE) is VMEXIT_INVALID
 *  14 with nested paging: a real-mode L2 whose code and data pages L1's nested tables
 *     put elsewhere in L1's memory runs from there, and its write lands there; the
 *     walk set the accessed and dirty bits in L1's tables (the VMM's shadow)
 *  15 an L2 write to a page L1's nested tables do not map is #VMEXIT(NPF) with the
 *     address and the error code (not present, write, user, final translation)
 *  16 a write to a page they map read-only is #VMEXIT(NPF) with P set
 *  17 L1 moves a page and VMRUN asks for a TLB flush: L2's next write lands in the
 *     page's new place
 *  18 VMRUN with an interrupt in EVENTINJ: L2 takes it before its first instruction
 *     (its handler's OUT is the #VMEXIT) and EVENTINJ reads back clear
 *  19 VMRUN with V_IRQ set and VINTR intercepted: #VMEXIT(VINTR) once L2 sets IF
 *  20 the same with IF clear and an OUT first (#VMEXIT(IOIO)); L1 takes V_IRQ and the
 *     intercept back: STI; NOP; HLT is #VMEXIT(HLT), no VINTR for what L1 took back
 * Each step prints "S" and a letter (b for step 1 ...) on COM1; the verdict on port
 * 0xf4 is 0 when all pass, else the number of the step that failed.  Without
 * `nested on` it fails at step 1.  How to run it: docs/nested.md, "Tests".
 */
#define VMCB_BAD   0x300000
#define VMCB_SAVE  0x301000
#define VMCB_LOAD  0x302000
#define VMCB_L2    0x303000
#define IOPM       0x304000         /* 12 KiB */
#define MSRPM      0x308000
#define L2_CODE    0x8000
#define VMCB_NP    0x30a000         /* the nested-paging steps' VMCB */
#define NPT        0x310000         /* L1's nested tables: PML4, PDPT, PD, PT */
#define NP_CODE    0x320000         /* where L2-physical 0x8000 is in L1's memory */
#define NP_DATA    0x322000         /* ... and 0x9000, until step 17 moves it */
#define NP_MOVED   0x323000
#define NP_RO      0x324000         /* L2-physical 0xb000, read-only */
#include "flat.inc"

    flat_start
    flat_segments
    flat_skip_gates
    lidt idt_desc

    movb $1, step               /* CPUID offers SVM */
    call mark
    movl $0x80000001, %eax
    cpuid
    testl $4, %ecx
    jz fail
    movl $0x8000000a, %eax
    cpuid
    cmpl $1, %eax
    jne fail

    movb $2, step               /* VMRUN without EFER.SVME: #UD */
    call mark
    movl $3, skip
    movl $VMCB_BAD, %eax
    vmrun
    cmpl $1, ud_count
    jne fail

    movb $3, step               /* EFER.SVME set and read back */
    call mark
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x1000, %eax
    wrmsr
    rdmsr
    testl $0x1000, %eax
    jz fail

    movb $4, step               /* VM_HSAVE_PA: a page address; else #GP */
    call mark
    movl $0xc0010117, %ecx
    xorl %edx, %edx
    movl $0x2ff000, %eax
    wrmsr
    movl $2, skip
    movl $0x2ff008, %eax
    wrmsr
    cmpl $1, gp_count
    jne fail
    rdmsr
    cmpl $0x2ff000, %eax
    jne fail

    movb $5, step               /* VMRUN of a VMCB with EFER.SVME clear: VMEXIT_INVALID */
    call mark
    movl $0x12345, VMCB_BAD + 0x70
    movl $VMCB_BAD, %eax
    vmrun
    cmpl $0xffffffff, VMCB_BAD + 0x70
    jne fail
    cmpl $0xffffffff, VMCB_BAD + 0x74
    jne fail

    movb $6, step               /* STGI and CLGI run */
    call mark
    stgi
    clgi
    stgi
    cmpl $1, ud_count
    jne fail

    movb $7, step               /* VMSAVE stores STAR */
    call mark
    movl $0xc0000081, %ecx
    movl $0x00230010, %edx
    movl $0x00000000, %eax
    wrmsr
    movl $VMCB_SAVE, %eax
    vmsave
    cmpl $0x00230010, VMCB_SAVE + 0x604
    jne fail

    movb $8, step               /* VMLOAD loads STAR */
    call mark
    movl $VMCB_LOAD, %eax
    vmsave
    movl $0x55667788, VMCB_LOAD + 0x600
    movl $0x11223344, VMCB_LOAD + 0x604
    movl $VMCB_LOAD, %eax
    vmload
    movl $0xc0000081, %ecx
    rdmsr
    cmpl $0x55667788, %eax
    jne fail
    cmpl $0x11223344, %edx
    jne fail

    movb $9, step               /* VMLOAD of an unaligned address: #GP */
    call mark
    movl $3, skip
    movl $VMCB_LOAD + 8, %eax
    vmload
    cmpl $2, gp_count
    jne fail

    movb $10, step              /* EFER.SVME off again: VMSAVE is #UD */
    call mark
    movl $0xc0000080, %ecx
    rdmsr
    andl $~0x1000, %eax
    wrmsr
    movl $VMCB_SAVE, %eax
    vmsave
    cmpl $2, ud_count
    jne fail

    movb $11, step              /* VMRUN runs a real-mode guest; its OUT is a #VMEXIT */
    call mark
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x1000, %eax
    wrmsr
    cld
    movl $VMCB_L2, %edi         /* the VMCB and the I/O permission map, zeroed */
    movl $(0x1000 + 0x3000) / 4, %ecx
    xorl %eax, %eax
    rep stosl
    movb $1, IOPM + 0x80 / 8    /* port 0x80 */
    movl $0x0fc03166, L2_CODE   /* xor %eax, %eax; cpuid (not intercepted: the VMM answers) */
    movl $0xf480e6a2, L2_CODE + 4   /* out %al, $0x80; hlt */
    movl $(1 << 27) | (1 << 24), VMCB_L2 + 0x0c /* IOIO, HLT */
    movl $1, VMCB_L2 + 0x10     /* VMRUN */
    movl $IOPM, VMCB_L2 + 0x40
    movl $MSRPM, VMCB_L2 + 0x48
    movl $1, VMCB_L2 + 0x58     /* ASID */
    movl $0x1000, VMCB_L2 + 0x4d0   /* EFER.SVME */
    movl $0x10, VMCB_L2 + 0x558     /* CR0: real mode */
    movl $0x400, VMCB_L2 + 0x560    /* DR7 */
    movl $0xffff0ff0, VMCB_L2 + 0x568
    movl $2, VMCB_L2 + 0x570        /* RFLAGS */
    movl $0x7000, VMCB_L2 + 0x5d8   /* RSP */
    movl $0x0093 << 16, VMCB_L2 + 0x400     /* ES, SS, DS: selector 0, data */
    movl $0xffff, VMCB_L2 + 0x404
    movl $0x0093 << 16, VMCB_L2 + 0x420
    movl $0xffff, VMCB_L2 + 0x424
    movl $0x0093 << 16, VMCB_L2 + 0x430
    movl $0xffff, VMCB_L2 + 0x434
    movl $(0x009b << 16) | (L2_CODE >> 4), VMCB_L2 + 0x410  /* CS */
    movl $0xffff, VMCB_L2 + 0x414
    movl $L2_CODE, VMCB_L2 + 0x418
    movl $0xffff, VMCB_L2 + 0x464   /* GDTR, IDTR limits */
    movl $0xffff, VMCB_L2 + 0x484
    movl $0x5a5a5a5a, %esi      /* not switched by VMRUN: L2 sees it, L1 gets it back */
    movl $VMCB_L2, %eax
    vmrun
    cmpl $VMCB_L2, %eax         /* RAX is L1's again */
    jne fail
    cmpl $0x5a5a5a5a, %esi
    jne fail
    cmpl $0x68747541, %ebx      /* "Auth": L2's CPUID wrote EBX, and L1 gets L2's EBX */
    jne fail
    cmpl $0x7b, VMCB_L2 + 0x70  /* IOIO */
    jne fail
    movl VMCB_L2 + 0x78, %eax   /* EXITINFO1: port 0x80, OUT, 8 bits, 16-bit addresses */
    cmpl $0x00800090, %eax
    jne fail
    cmpl $7, VMCB_L2 + 0x80     /* EXITINFO2: the next RIP */
    jne fail
    cmpl $5, VMCB_L2 + 0x578    /* the RIP of the OUT */
    jne fail
    cmpl $1, VMCB_L2 + 0x5f8    /* L2's EAX: CPUID leaf 0's highest leaf, as L1 sees it */
    jne fail

    movb $12, step              /* on past the OUT: the HLT is the next #VMEXIT */
    call mark
    stgi
    movl $7, VMCB_L2 + 0x578
    movl $VMCB_L2, %eax
    vmrun
    cmpl $0x78, VMCB_L2 + 0x70
    jne fail
    cmpl $7, VMCB_L2 + 0x578
    jne fail
    stgi

    movb $13, step              /* a state the kernel refuses (CR0.PG without PE): VMEXIT_INVALID */
    call mark
    movl $0x80000010, VMCB_L2 + 0x558
    movl $VMCB_L2, %eax
    vmrun
    cmpl $0xffffffff, VMCB_L2 + 0x70
    jne fail
    cmpl $0xffffffff, VMCB_L2 + 0x74
    jne fail
    stgi

    movb $14, step              /* nested paging: L2's pages where L1's nested tables say */
    call mark
    movl $NPT, %edi             /* the tables, zeroed */
    movl $0x4000 / 4, %ecx
    xorl %eax, %eax
    rep stosl
    movl $NPT + 0x1007, NPT                 /* PML4[0] -> PDPT, present, writable, user */
    movl $NPT + 0x2007, NPT + 0x1000        /* PDPT[0] -> PD */
    movl $NPT + 0x3007, NPT + 0x2000        /* PD[0] -> PT */
    movl $NP_CODE + 7, NPT + 0x3000 + 8 * 8     /* 0x8000 -> NP_CODE */
    movl $NP_DATA + 7, NPT + 0x3000 + 9 * 8     /* 0x9000 -> NP_DATA */
    movl $NP_RO + 5, NPT + 0x3000 + 11 * 8      /* 0xb000 -> NP_RO, read-only */
    movl $l2_np_code, %esi      /* L2's programs, at L2-physical 0x8000 */
    movl $NP_CODE, %edi
    movl $l2_np_end - l2_np_code, %ecx
    rep movsb
    movl $0, NP_DATA
    movl $VMCB_L2, %esi         /* the VMCB of step 11, with nested paging on */
    movl $VMCB_NP, %edi
    movl $0x1000 / 4, %ecx
    rep movsl
    movl $1, VMCB_NP + 0x90     /* NP_ENABLE */
    movl $NPT, VMCB_NP + 0xb0   /* nCR3 */
    movl $0x10, VMCB_NP + 0x558 /* CR0: real mode again */
    movl $0x009b << 16, VMCB_NP + 0x410     /* CS: selector 0, base 0 */
    movl $0, VMCB_NP + 0x418
    movl $0x8000, VMCB_NP + 0x578   /* program A: mov $0x1234, %ax; mov %ax, 0x9000; out; hlt */
    movl $VMCB_NP, %eax
    vmrun
    stgi
    cmpl $0x7b, VMCB_NP + 0x70  /* IOIO */
    jne fail
    cmpl $0x8006, VMCB_NP + 0x578
    jne fail
    cmpw $0x1234, NP_DATA       /* the write went where L1's tables put 0x9000 */
    jne fail
    movl NPT + 0x3000 + 9 * 8, %eax
    andl $0x60, %eax            /* accessed and dirty */
    cmpl $0x60, %eax
    jne fail
    movl NPT + 0x3000 + 8 * 8, %eax
    andl $0x60, %eax            /* the code page: accessed, not dirty */
    cmpl $0x20, %eax
    jne fail

    movb $15, step              /* a write where L1's tables map nothing: #VMEXIT(NPF) */
    call mark
    movl $0x8010, VMCB_NP + 0x578   /* program B: mov %ax, 0xa000; hlt */
    movl $VMCB_NP, %eax
    vmrun
    stgi
    cmpl $0x400, VMCB_NP + 0x70 /* NPF */
    jne fail
    cmpl $6, VMCB_NP + 0x78     /* EXITINFO1: write, user, not present ... */
    jne fail
    cmpl $1, VMCB_NP + 0x7c     /* ... in the final translation */
    jne fail
    cmpl $0xa000, VMCB_NP + 0x80    /* EXITINFO2: the L2-physical address */
    jne fail
    cmpl $0, VMCB_NP + 0x84
    jne fail
    cmpl $0x8010, VMCB_NP + 0x578   /* L2 stopped at the write */
    jne fail

    movb $16, step              /* a write to a read-only page: #VMEXIT(NPF), present */
    call mark
    movl $0x8020, VMCB_NP + 0x578   /* program C: mov %ax, 0xb000; hlt */
    movl $VMCB_NP, %eax
    vmrun
    stgi
    cmpl $0x400, VMCB_NP + 0x70
    jne fail
    cmpl $7, VMCB_NP + 0x78
    jne fail
    cmpl $0xb000, VMCB_NP + 0x80
    jne fail

    movb $17, step              /* 0x9000 moved, a flush asked for: the write follows it */
    call mark
    movl $NP_MOVED + 7, NPT + 0x3000 + 9 * 8
    movl $0, NP_MOVED
    movb $1, VMCB_NP + 0x5c     /* TLB_CONTROL: flush all */
    movl $0x8030, VMCB_NP + 0x578   /* program D: mov $0x5678, %ax; mov %ax, 0x9000; out; hlt */
    movl $VMCB_NP, %eax
    vmrun
    stgi
    cmpl $0x7b, VMCB_NP + 0x70
    jne fail
    cmpw $0x5678, NP_MOVED
    jne fail
    cmpw $0x1234, NP_DATA       /* the old place keeps what step 14 wrote */
    jne fail

    movb $18, step              /* an interrupt in EVENTINJ, taken before L2's first instruction */
    call mark
    movl $l2_event_code, %esi   /* L2 (without nested paging) at 0x8000 again */
    movl $L2_CODE, %edi
    movl $l2_event_end - l2_event_code, %ecx
    rep movsb
    movl $L2_CODE + 0x10, 0x40 * 4  /* L2's real-mode IVT: vector 0x40 at 0:8010 */
    movl $0x10, VMCB_L2 + 0x558     /* CR0: real mode (step 13 left it refused) */
    movl $L2_CODE, VMCB_L2 + 0x418  /* CS base */
    movl $(0x009b << 16) | (L2_CODE >> 4), VMCB_L2 + 0x410
    movl $0, VMCB_L2 + 0x578        /* RIP: the HLT at CS:0 */
    movl $2, VMCB_L2 + 0x570        /* RFLAGS: IF clear, which an injected event ignores */
    movl $0x80000040, VMCB_L2 + 0xa8    /* EVENTINJ: valid, external interrupt, vector 0x40 */
    movl $VMCB_L2, %eax
    vmrun
    stgi
    cmpl $0x7b, VMCB_L2 + 0x70  /* the handler's OUT */
    jne fail
    cmpb $0x42, VMCB_L2 + 0x5f8 /* AL of the handler */
    jne fail
    cmpl $0x8012, VMCB_L2 + 0x578   /* RIP: the OUT in the handler, CS 0 (the IVT's segment) */
    jne fail
    cmpl $0, VMCB_L2 + 0xa8     /* EVENTINJ consumed */
    jne fail

    movb $19, step              /* V_IRQ with VINTR intercepted: an exit once L2 sets IF */
    call mark
    movl $(0x009b << 16) | (L2_CODE >> 4), VMCB_L2 + 0x410
    movl $L2_CODE, VMCB_L2 + 0x418
    movl $0x20, VMCB_L2 + 0x578     /* cli; nop; sti; nop; hlt */
    orl $1 << 4, VMCB_L2 + 0x0c     /* intercept VINTR */
    movl $1 << 8, VMCB_L2 + 0x60    /* V_IRQ */
    movl $VMCB_L2, %eax
    vmrun
    stgi
    cmpl $0x64, VMCB_L2 + 0x70  /* VINTR */
    jne fail
    movl VMCB_L2 + 0x578, %eax  /* after STI and the instruction its shadow covers */
    cmpl $0x24, %eax
    je 1f
    cmpl $0x23, %eax
    jne fail
1:  movl $0, VMCB_L2 + 0x60

    movb $20, step              /* a window L1 takes back before it opens: no exit for it */
    call mark
    movl $0x30, VMCB_L2 + 0x578     /* out; sti; nop; hlt */
    movl $2, VMCB_L2 + 0x570        /* IF clear: the OUT comes first */
    orl $1 << 4, VMCB_L2 + 0x0c     /* intercept VINTR */
    movl $1 << 8, VMCB_L2 + 0x60    /* V_IRQ */
    movl $VMCB_L2, %eax
    vmrun
    stgi
    cmpl $0x7b, VMCB_L2 + 0x70  /* the OUT */
    jne fail
    andl $~(1 << 4), VMCB_L2 + 0x0c /* the window no longer wanted */
    movl $0, VMCB_L2 + 0x60
    movl $0x32, VMCB_L2 + 0x578     /* past the OUT */
    movl $VMCB_L2, %eax
    vmrun
    stgi
    cmpl $0x78, VMCB_L2 + 0x70  /* the HLT, not VINTR */
    jne fail
    cmpl $0x34, VMCB_L2 + 0x578
    jne fail

    movb $0, step
    call mark
#define STEP_LETTER 'S'
#include "steps.inc"

    flat_set_gate
    flat_skip_handlers 0

/* L2's real-mode programs for the nested-paging steps, 16 bytes apart from 0x8000. */
l2_np_code:
    .byte 0xb8, 0x34, 0x12, 0xa3, 0x00, 0x90, 0xe6, 0x80, 0xf4  /* A: mov $0x1234, %ax; mov %ax, 0x9000; out %al, $0x80; hlt */
    .fill 7, 1, 0xf4
    .byte 0xa3, 0x00, 0xa0, 0xf4                                /* B: mov %ax, 0xa000; hlt */
    .fill 12, 1, 0xf4
    .byte 0xa3, 0x00, 0xb0, 0xf4                                /* C: mov %ax, 0xb000; hlt */
    .fill 12, 1, 0xf4
    .byte 0xb8, 0x78, 0x56, 0xa3, 0x00, 0x90, 0xe6, 0x80, 0xf4  /* D: mov $0x5678, %ax; mov %ax, 0x9000; out; hlt */
l2_np_end:
/* L2's programs for steps 18 and 19, at 0x8000 (CS base). */
l2_event_code:
    .byte 0xf4                                                  /* +0: hlt (never reached) */
    .fill 15, 1, 0xf4
    .byte 0xb0, 0x42, 0xe6, 0x80, 0xf4                          /* +0x10, vector 0x40: mov $0x42, %al; out %al, $0x80; hlt */
    .fill 11, 1, 0xf4
    .byte 0xfa, 0x90, 0xfb, 0x90, 0xf4                          /* +0x20: cli; nop; sti; nop; hlt */
    .fill 11, 1, 0xf4
    .byte 0xe6, 0x80, 0xfb, 0x90, 0xf4                          /* +0x30: out %al, $0x80; sti; nop; hlt */
l2_event_end:

    flat_gdt
step:     .long 0
skip:     .long 0
ud_count: .long 0
gp_count: .long 0
    flat_idt_stack 256
