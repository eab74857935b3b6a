/*
 * What a VMM may ask a guest to run with: the architectural rules for the state it
 * writes (the groups of pith/vm.h) and for the events it injects.  The rules are the
 * union of what VMRUN checks (APM Vol. 2, 15.5.1 "canonicalization and consistency
 * checks") and what VM entry checks (SDM Vol. 3C, 27.2.1.3 for events, 27.3.1 for guest
 * state, with unrestricted guest), plus what the kernel later puts in host registers
 * itself (the VMX backend loads STAR, LSTAR, CSTAR, SFMASK and KERNEL_GS_BASE with
 * WRMSR, which faults on a non-canonical address).  The kernel checks before entering,
 * so neither an emulator's gaps nor a WRMSR fault can turn a VMM's mistake into a host
 * failure.  Pure functions of the words: no hardware access.
 */
#include "arch.h"
#include "x86.h"

#define CR0_ET          (1ull << 4)
#define CR0_AM          (1ull << 18)
#define CR0_DEFINED     (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | \
                         CR0_AM | CR0_NW | CR0_CD | CR0_PG)
#define CR4_PCIDE       (1ull << 17)
#define EFER_LMA        (1ull << 10)

/* Segment attributes (pith/vm.h): descriptor bits 52..55 at 8..11, unusable at 12. */
#define ATTR_DEFINED    0x1fffull
#define ATTR_TYPE       0xfull
#define ATTR_S          (1ull << 4)
#define ATTR_P          (1ull << 7)
#define ATTR_UNUSABLE   (1ull << 12)
#define ATTR_L          (1ull << 9)
#define ATTR_DB         (1ull << 10)

/* RFLAGS: bit 1 is always set; 3, 5, 15 and 22..63 are reserved (SDM 27.3.1.4). */
#define RFLAGS_FIXED1   (1ull << 1)
#define RFLAGS_RESERVED (~0x3fffffull | (1ull << 3) | (1ull << 5) | (1ull << 15))

enum { ES, CS, SS, DS, FS, GS, LDTR, TR };

static bool long_mode(const uint64_t *cr) { return cr[4] & EFER_LMA; }

static uint64_t attributes(uint64_t segment_word) { return (segment_word >> 16) & 0xffff; }

/* CR0, CR3, CR4, EFER and DR7 each, then together (APM 15.5.1; SDM 27.3.1.1). */
static bool control_valid(const uint64_t *cr, const struct vcpu_guest_limits *limits)
{
    uint64_t cr0 = cr[0], cr3 = cr[2], cr4 = cr[3], efer = cr[4], dr7 = cr[5];
    bool paging = cr0 & CR0_PG, lme = efer & EFER_LME;
    if ((cr0 & ~CR0_DEFINED) || (cr4 & ~limits->cr4_allowed) || (efer & ~limits->efer_allowed))
        return false;
    if ((cr3 >> limits->phys_bits) || (dr7 >> 32))
        return false;
    if (((cr0 & CR0_NW) && !(cr0 & CR0_CD)) || (paging && !(cr0 & CR0_PE)))
        return false;
    /* Long mode is active exactly when LME and paging are both on, and needs PAE;
     * PCIDE exists only in long mode. */
    if (long_mode(cr) != (paging && lme))
        return false;
    if (long_mode(cr) && !(cr4 & CR4_PAE))
        return false;
    /* Stricter than the CPU where the backend asks: LME without paging is valid, but
     * with PAE clear QEMU's #VMEXIT keeps the guest's CR0 for the host (svm.c). */
    if (limits->lme_needs_pae && lme && !(cr4 & CR4_PAE))
        return false;
    return !(cr4 & CR4_PCIDE) || long_mode(cr);
}

/* Attributes within the defined bits; ES..DS bases 32-bit, the others canonical; no
 * code segment both 64-bit and 32-bit default size in long mode. */
static bool segments_valid(const uint64_t *seg, const uint64_t *cr)
{
    for (unsigned i = ES; i <= TR; i++) {
        uint64_t base = seg[2 * i + 1];
        if (attributes(seg[2 * i]) & ~ATTR_DEFINED)
            return false;
        if (i <= DS ? base >> 32 != 0 : !is_canonical(base))
            return false;
    }
    uint64_t cs = attributes(seg[2 * CS]);
    if (long_mode(cr) && (cs & ATTR_L) && (cs & ATTR_DB))
        return false;
    /* TR: a present, usable TSS, 16- or 32-bit (32-bit in long mode).  SVM's VMRUN does
     * not check it, and QEMU stops the whole emulator ("invalid tss") when a guest above
     * CPL 0 takes an interrupt with any other TR (the fuzzer found it).  Available
     * types pass too: QEMU's LTR leaves the available type in TR (only the descriptor
     * in memory becomes busy), so a Linux guest's TR reads back as 9 there; VM entry
     * on VMX wants the busy type and refuses the rest itself (SDM 27.3.1.2). */
    uint64_t tr = attributes(seg[2 * TR]), type = tr & ATTR_TYPE;
    bool tss = type == 11 || type == 9 || (!long_mode(cr) && (type == 3 || type == 1));
    return (tr & ATTR_P) && !(tr & (ATTR_S | ATTR_UNUSABLE)) && tss;
}

/* RIP fits the mode (64-bit code: canonical; otherwise 32 bits); RFLAGS has its fixed
 * bits, and no virtual-8086 mode outside protected mode or in long mode. */
static bool rip_valid(const uint64_t *rip, const uint64_t *cr, const uint64_t *seg)
{
    uint64_t flags = rip[1];
    if ((flags & RFLAGS_RESERVED) || !(flags & RFLAGS_FIXED1))
        return false;
    if ((flags & RFLAGS_VM) && (long_mode(cr) || !(cr[0] & CR0_PE)))
        return false;
    bool code64 = long_mode(cr) && (attributes(seg[2 * CS]) & ATTR_L);
    return code64 ? is_canonical(rip[0]) : rip[0] >> 32 == 0;
}

static bool tables_valid(const uint64_t *dtr)
{
    return is_canonical(dtr[0]) && dtr[1] <= 0xffff && is_canonical(dtr[2]) && dtr[3] <= 0xffff;
}

/* A PAT entry is UC, WC, WT, WP, WB or UC- (SDM Vol. 3A 13.12.2). */
static bool pat_valid(uint64_t pat)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned type = (pat >> (8 * i)) & 0xff;
        if (type == 2 || type == 3 || type > 7)
            return false;
    }
    return true;
}

/* sysenter cs esp eip, star lstar cstar sfmask, kernel gs base, pat: the addresses
 * canonical (WRMSR would fault), SFMASK and SYSENTER_CS within their 32 bits. */
static bool sys_valid(const uint64_t *sys)
{
    return sys[0] >> 32 == 0 && is_canonical(sys[1]) && is_canonical(sys[2]) &&
           is_canonical(sys[4]) && is_canonical(sys[5]) && sys[6] >> 32 == 0 &&
           is_canonical(sys[7]) && pat_valid(sys[8]);
}

/* dr0..dr3 are loaded with MOV, which faults on a non-canonical address (SDM Vol. 3A
 * 18.2.4 with 64-bit mode); DR6's bits 63..32 must be 0 for MOV (the VMX backend's load)
 * and for VMRUN (APM 15.5.1).  Its reserved low bits are harmless: the CPU fixes them. */
static bool debug_valid(const uint64_t *dr)
{
    for (unsigned i = 0; i < 4; i++)
        if (!is_canonical(dr[i]))
            return false;
    return dr[4] >> 32 == 0;
}

unsigned guest_state_check(const struct guest_state_words *w, uint64_t groups,
                           const struct vcpu_guest_limits *limits)
{
    if (groups & (PITH_VM_GROUP_CR | PITH_VM_GROUP_SEG | PITH_VM_GROUP_RIP)) {
        if (!control_valid(w->cr, limits))
            return PITH_VM_REFUSED_CONTROL;
        if (!segments_valid(w->seg, w->cr))
            return PITH_VM_REFUSED_SEGMENT;
        if (!rip_valid(w->rip, w->cr, w->seg))
            return PITH_VM_REFUSED_RIP;
    }
    if ((groups & PITH_VM_GROUP_DTR) && !tables_valid(w->dtr))
        return PITH_VM_REFUSED_TABLE;
    if ((groups & PITH_VM_GROUP_SYS) && !sys_valid(w->sys))
        return PITH_VM_REFUSED_SYS;
    if ((groups & PITH_VM_GROUP_DR) && !debug_valid(w->dr))
        return PITH_VM_REFUSED_DEBUG;
    return 0;
}

/* Exceptions that push an error code (SDM Vol. 3A 6.15): #DF #TS #NP #SS #GP #PF #AC #CP. */
static bool pushes_error_code(unsigned vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}

/* The event format of pith/vm.h (the EVENTINJ and VM-entry interruption-information
 * layout): only its own bits; NMI on vector 2; hardware exceptions below 32 other than
 * 2, an error code only where the exception has one; no reserved type.  Types 5
 * (ICEBP) and 6 (INT3, INTO) are VMX's and come back from the INTR group there. */
bool guest_event_valid(uint64_t event)
{
    unsigned vector = event & 0xff, type = (event >> 8) & 7;
    bool error_code = event & PITH_VM_EVENT_ERROR_CODE;
    if (event & ~(PITH_VM_EVENT_VALID | PITH_VM_EVENT_ERROR_CODE | 0x7ffull))
        return false;
    switch (type) {
    case PITH_VM_EVENT_EXTINT >> 8:
    case PITH_VM_EVENT_SOFT_INT >> 8:
        return !error_code;
    case PITH_VM_EVENT_NMI >> 8:
        return vector == 2 && !error_code;
    case PITH_VM_EVENT_EXCEPTION >> 8:
        return vector < 32 && vector != 2 && (!error_code || pushes_error_code(vector));
    case 5:
        return vector == 1 && !error_code;
    case 6:
        return (vector == 3 || vector == 4) && !error_code;
    default:
        return false;
    }
}
