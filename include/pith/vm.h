/*
 * The virtual-machine exit protocol, the same on VMX and SVM.
 *
 * When a guest exits for a reason the kernel does not keep, the vCPU thread makes a
 * Call on its exit endpoint with this message:
 *   label  PITH_EXIT_* (arch-neutral reason)
 *   MR0    raw vendor reason (VMX basic exit reason, SVM EXITCODE)
 *   MR1    qualification (below, per reason)
 *   MR2    second qualification
 *   MR3    instruction length in bytes, 0 when the kernel cannot know it
 *   MR4..  the state groups selected by the vCPU's transfer mask, in bit order
 *   then, when the guest wrote to a buffered port since the last exit (VCpu.SET_PORT),
 *          one word PITH_VM_PORT_WRITES_WORD(port, count) and the count bytes, eight
 *          to a word from the lowest byte on: the VMM performs them before the exit
 * The VMM replies with
 *   label  mask of the groups it changed
 *   MR0    event to inject (PITH_VM_EVENT_*), 0 = none; MR1 its error code
 *   MR2    window requests (PITH_VM_WINDOW_*)
 *   MR3    0
 *   MR4..  the changed groups, in bit order
 * and the kernel writes them back and enters the guest again.  A reply only moves
 * RIP when the VMM writes PITH_VM_GROUP_RIP: to skip an emulated instruction, add MR3
 * to the RIP it received.
 */
#ifndef PITH_VM_H
#define PITH_VM_H

enum pith_exit {
    PITH_EXIT_CPUID = 1,        /* MR1 = eax (leaf), MR2 = ecx (subleaf) */
    PITH_EXIT_IO,               /* MR1 = port | size << 16 | in << 24 | string << 25 | rep << 26;
                                 * MR2 = value written (out, not string) */
    PITH_EXIT_MMIO,             /* guest-physical access to nothing mapped, or a denied
                                 * access: MR1 = guest-physical address, MR2 = access
                                 * (PITH_VM_ACCESS_*) */
    PITH_EXIT_MSR_READ,         /* MR1 = MSR number */
    PITH_EXIT_MSR_WRITE,        /* MR1 = MSR number, MR2 = value (edx:eax) */
    PITH_EXIT_HLT,
    PITH_EXIT_INTERRUPT_WINDOW, /* the guest can take an external interrupt now */
    PITH_EXIT_NMI_WINDOW,
    PITH_EXIT_RECALL,           /* VCpu.RECALL */
    PITH_EXIT_EXCEPTION,        /* MR1 = vector, MR2 = error code */
    PITH_EXIT_SHUTDOWN,         /* triple fault */
    PITH_EXIT_INVALID_STATE,    /* the guest state was refused at entry */
    PITH_EXIT_VMCALL,           /* VMCALL / VMMCALL */
    PITH_EXIT_INVD,
    PITH_EXIT_WBINVD,
    PITH_EXIT_XSETBV,           /* MR1 = ecx, MR2 = edx:eax */
    PITH_EXIT_CR_ACCESS,        /* MR1 = control register (or PITH_VM_CR_ACCESS_DR7),
                                 * MR2 = 1 for a write */
    PITH_EXIT_PAUSE,
    PITH_EXIT_INIT,
    PITH_EXIT_OTHER,            /* any other reason: see MR0 */
    PITH_EXIT_PORT_WRITES,      /* nothing but buffered port writes to hand over (they
                                 * follow the groups, as with every exit) */
    PITH_EXIT_COUNT
};
/* CR_ACCESS's MR1 for a MOV to DR7, which exits on SVM (docs/vm.md). */
#define PITH_VM_CR_ACCESS_DR7 0x107


#define PITH_VM_IO_IN       (1ull << 24)
#define PITH_VM_IO_STRING   (1ull << 25)
#define PITH_VM_IO_REP      (1ull << 26)

#define PITH_VM_ACCESS_READ    1u
#define PITH_VM_ACCESS_WRITE   2u
#define PITH_VM_ACCESS_EXECUTE 4u
#define PITH_VM_ACCESS_PRESENT 8u  /* something was mapped, the rights did not allow it */

/* State groups (transfer mask bits) and their words, in order. */
#define PITH_VM_GROUP_GPR   (1u << 0)   /* 16: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
#define PITH_VM_GROUP_RIP   (1u << 1)   /* 2: rip rflags */
#define PITH_VM_GROUP_CR    (1u << 2)   /* 6: cr0 cr2 cr3 cr4 efer dr7 */
#define PITH_VM_GROUP_SEG   (1u << 3)   /* 16: es cs ss ds fs gs ldtr tr, each two words:
                                         * selector | attributes << 16 | limit << 32, base */
#define PITH_VM_GROUP_DTR   (1u << 4)   /* 4: gdtr base, gdtr limit, idtr base, idtr limit */
#define PITH_VM_GROUP_SYS   (1u << 5)   /* 9: sysenter cs esp eip, star lstar cstar sfmask,
                                         * kernel gs base, pat */
#define PITH_VM_GROUP_INTR  (1u << 6)   /* 2: interruptibility (bit 0 interrupt shadow, bit 1
                                         * NMI blocked, bit 2 GIF clear with the virtual GIF
                                         * option), event being delivered at the exit
                                         * (PITH_VM_EVENT_* format, 0 = none) */
#define PITH_VM_GROUP_TSC   (1u << 7)   /* 1: TSC offset */
#define PITH_VM_GROUP_DR    (1u << 8)   /* 5: dr0 dr1 dr2 dr3 dr6; READ_STATE and
                                         * WRITE_STATE only, never in an exit message */
#define PITH_VM_GROUP_COUNT 9
/* The groups an exit message (the transfer mask) and a reply can carry: all but DR,
 * which would take the message past PITH_MSG_MAX words. */
#define PITH_VM_GROUP_ALL   0xffu
#define PITH_VM_GROUP_ALL_WORDS 56      /* their words together */
/* The INTR group's first word (interruptibility). */
#define PITH_VM_INTR_SHADOW      (1ull << 0)    /* after STI or MOV SS */
#define PITH_VM_INTR_NMI_BLOCKED (1ull << 1)    /* VMX */
#define PITH_VM_INTR_GIF_CLEAR   (1ull << 2)    /* PITH_VM_OPTION_VIRTUAL_GIF only */

/* VCpu.CONFIGURE's options, in MR3 above the transfer mask (bits 0..7). */
#define PITH_VM_OPTION_VIRTUAL_GIF (1ull << 32) /* SVM's virtual GIF: the guest's STGI and CLGI
                                                 * run without exits, its GIF in the INTR group */
#define PITH_VM_OPTIONS            PITH_VM_OPTION_VIRTUAL_GIF

/* The groups VCpu.READ_STATE and VCpu.WRITE_STATE take. */
#define PITH_VM_STATE_GROUPS (PITH_VM_GROUP_ALL | PITH_VM_GROUP_DR)

/* The number g of a group (PITH_VM_GROUP_* is bit g), by which pith_vm_group_words
 * and the kernel's group accessors know it. */
static inline unsigned pith_vm_group_index(uint64_t group)
{
    return (unsigned)__builtin_ctzll(group);
}

/* Words of group g (bit g of a transfer mask), and of all the groups of a mask: the
 * kernel lays out and reads the groups by these, and so does a VMM. */
static inline unsigned pith_vm_group_words(unsigned g)
{
    static const unsigned char words[PITH_VM_GROUP_COUNT] = { 16, 2, 6, 16, 4, 9, 2, 1, 5 };
    _Static_assert(16 + 2 + 6 + 16 + 4 + 9 + 2 + 1 == PITH_VM_GROUP_ALL_WORDS, "the words below, but DR");
    return g < PITH_VM_GROUP_COUNT ? words[g] : 0;
}

static inline unsigned pith_vm_groups_length(uint64_t mask)
{
    unsigned n = 0;
    for (mask &= (1ull << PITH_VM_GROUP_COUNT) - 1; mask; mask &= mask - 1)
        n += pith_vm_group_words((unsigned)__builtin_ctzll(mask));
    return n;
}

/* Segment attributes: descriptor bits 40..47 as bits 0..7 (type, S, DPL, P) and
 * 52..55 as bits 8..11 (AVL, L, D/B, G); bit 12 = unusable (VMX; SVM ignores it). */
#define PITH_VM_SEG_UNUSABLE (1u << 12)

/* Events to inject (reply MR0) and the delivering event of PITH_VM_GROUP_INTR. */
#define PITH_VM_EVENT_VALID       (1ull << 31)
#define PITH_VM_EVENT_ERROR_CODE  (1ull << 11)
#define PITH_VM_EVENT_EXTINT      (0ull << 8)
#define PITH_VM_EVENT_NMI         (2ull << 8)
#define PITH_VM_EVENT_EXCEPTION   (3ull << 8)
#define PITH_VM_EVENT_SOFT_INT    (4ull << 8)

#define PITH_VM_WINDOW_INTERRUPT  1u
#define PITH_VM_WINDOW_NMI        2u

#define PITH_VM_EXIT_HEADER 4           /* MR0..3 before the groups */

/* Port shortcuts (VCpu.SET_PORT): a byte IN or OUT (not string, not single-stepped) on
 * such a port is answered by the kernel and the guest goes on without an exit.  At most
 * PITH_VM_PORT_SHORTCUTS ports per vCPU, one of them buffered. */
#define PITH_VM_PORT_EXIT     0         /* the port exits again (the default) */
#define PITH_VM_PORT_READ     1         /* an IN reads the given byte */
#define PITH_VM_PORT_BUFFER   2         /* an OUT's byte is kept for the VMM: it comes with
                                         * the next exit; with PITH_VM_PORT_BUFFER_BYTES
                                         * kept, the next OUT there exits as usual, and a
                                         * host interrupt once the first has waited 1 ms
                                         * makes a PITH_EXIT_PORT_WRITES exit */
#define PITH_VM_PORT_SHORTCUTS 4
#define PITH_VM_PORT_BUFFER_BYTES 24
#define PITH_VM_PORT_WRITES_WORD(port, count) ((uint64_t)(count) | (uint64_t)(port) << 16)

/* CPUID shortcuts (VCpu.SET_CPUID): a CPUID (not single-stepped) whose EAX lies in a
 * shortcut's range of leaves gets the shortcut's answer from the kernel (RAX..RDX, the
 * upper halves clear) and the guest goes on without an exit.  At most
 * PITH_VM_CPUID_SHORTCUTS ranges per vCPU, none overlapping another. */
#define PITH_VM_CPUID_SHORTCUTS 16

/* MSR shortcuts (VCpu.SET_MSR): an RDMSR (not single-stepped) of such an MSR reads the
 * shortcut's value from the kernel (EDX:EAX, the upper halves clear) and the guest goes
 * on without an exit; a WRMSR of it exits as before.  At most PITH_VM_MSR_SHORTCUTS
 * MSRs per vCPU. */
#define PITH_VM_MSR_EXIT      0         /* RDMSR exits again (the default) */
#define PITH_VM_MSR_READ      1         /* RDMSR reads the given value */
#define PITH_VM_MSR_SHORTCUTS 8

/* PITH_EXIT_INVALID_STATE with MR0 = 0: the kernel, not the CPU, refused to enter the
 * guest; MR1 says why.  The state stays as it was; the VMM's reply can correct it. */
#define PITH_VM_REFUSED_EVENT    1      /* the last reply's event (nothing of it applied) */
#define PITH_VM_REFUSED_CONTROL  2      /* CR0, CR3, CR4, EFER, DR7 alone or together */
#define PITH_VM_REFUSED_RIP      3      /* RIP for the mode, or reserved RFLAGS bits */
#define PITH_VM_REFUSED_SEGMENT  4      /* segment attributes or bases, CS.L with CS.D */
#define PITH_VM_REFUSED_TABLE    5      /* GDTR or IDTR base or limit */
#define PITH_VM_REFUSED_SYS      6      /* a non-canonical or reserved SYS group word */
#define PITH_VM_REFUSED_DEBUG    7      /* DR0..DR3 not canonical, or DR6 bits 63..32 set */

/* Exceptions VCpu.CONFIGURE refuses in its bitmap: NMI and #MC belong to the host. */
#define PITH_VM_HOST_EXCEPTIONS  ((1u << 2) | (1u << 18))

#endif
