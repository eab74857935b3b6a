/* Virtual SVM's rules (svm_nested.h).  References: AMD APM Vol. 2 (24593), chapter 15
 * and appendices B and C; Vol. 3 (24594), the SVM instructions and appendix E. */
#include "svm_nested.h"

#define BIT64(n) (1ull << (n))

#define CR0_PE  BIT64(0)
#define CR0_NW  BIT64(29)
#define CR0_CD  BIT64(30)
#define CR0_PG  BIT64(31)
#define CR4_PAE BIT64(5)
#define EFER_LME BIT64(8)
#define EFER_LMA BIT64(10)

#define MISC2_VMRUN 1u                  /* bit 0 of the second vector: exit code 0x80 */

#define IOPM_BYTES  (12u * 1024)        /* APM 15.10.1: 12 KiB, 4 KiB aligned */
#define MSRPM_BYTES (8u * 1024)         /* APM 15.11: 8 KiB, 4 KiB aligned */

bool svm_is_svm_instruction(uint64_t exit_code)
{
    return exit_code == SVM_EXIT_INVLPGA ||
           (exit_code >= SVM_EXIT_VMRUN && exit_code <= SVM_EXIT_SKINIT && exit_code != SVM_EXIT_VMMCALL);
}

/* ---- VMRUN's consistency checks -------------------------------------------------------- */

static bool beyond_width(uint64_t address, unsigned phys_bits)
{
    return phys_bits < 64 && (address >> phys_bits) != 0;
}

/* A table of `bytes` at the page of `base` (the low 12 bits are ignored, APM 15.10.1)
 * must end below the top of the physical-address space. */
static bool bitmap_beyond(uint64_t base, uint64_t bytes, unsigned phys_bits)
{
    uint64_t start = base & ~0xfffull;
    return start + bytes < start || beyond_width(start + bytes - 1, phys_bits);
}

/* EVENTINJ (APM 15.20): type 1 is reserved; an exception's vector is below 32 and is
 * not 2 (an NMI has a type of its own). */
static bool event_bad(uint64_t event)
{
    if (!(event & BIT64(31)))
        return false;
    unsigned type = (event >> 8) & 7, vector = event & 0xff;
    if (type == 1 || type > 4)
        return true;
    return type == 3 && (vector > 31 || vector == 2);
}

static enum svm_vmcb12_problem check_save_area(const uint8_t *vmcb, const struct svm_nested_limits *l)
{
    uint64_t efer = vmcb12_get(vmcb, VMCB12_EFER, 8), cr0 = vmcb12_get(vmcb, VMCB12_CR0, 8),
             cr3 = vmcb12_get(vmcb, VMCB12_CR3, 8), cr4 = vmcb12_get(vmcb, VMCB12_CR4, 8);
    uint64_t cs_attributes = vmcb12_get(vmcb, VMCB12_CS + 2, 2);
    bool long_paging = (efer & EFER_LME) && (cr0 & CR0_PG);
    if (!(efer & EFER_SVME_BIT))
        return VMCB12_SVME_CLEAR;
    if (!(cr0 & CR0_CD) && (cr0 & CR0_NW))
        return VMCB12_CR0_NW_WITHOUT_CD;
    if (cr0 >> 32)
        return VMCB12_CR0_HIGH;
    if (long_paging ? beyond_width(cr3, l->phys_bits) : (cr3 >> 32) != 0)
        return VMCB12_CR3_RESERVED;
    if (cr4 & ~l->cr4_allowed)
        return VMCB12_CR4_RESERVED;
    if (vmcb12_get(vmcb, VMCB12_DR6, 8) >> 32)
        return VMCB12_DR6_HIGH;
    if (vmcb12_get(vmcb, VMCB12_DR7, 8) >> 32)
        return VMCB12_DR7_HIGH;
    if (efer & ~l->efer_allowed)
        return VMCB12_EFER_RESERVED;
    if ((efer & (EFER_LME | EFER_LMA)) && !l->long_mode)
        return VMCB12_NO_LONG_MODE;
    if (long_paging && !(cr4 & CR4_PAE))
        return VMCB12_LONG_WITHOUT_PAE;
    if (long_paging && !(cr0 & CR0_PE))
        return VMCB12_LONG_WITHOUT_PE;
    /* CS attributes in the VMCB layout: L is bit 9, D/B bit 10 (descriptor bits 53, 54). */
    if (long_paging && (cs_attributes & BIT64(9)) && (cs_attributes & BIT64(10)))
        return VMCB12_CS_L_AND_D;
    return VMCB12_OK;
}

static enum svm_vmcb12_problem check_control_area(const uint8_t *vmcb, const struct svm_nested_limits *l)
{
    if (!(vmcb12_get(vmcb, VMCB12_INTERCEPT_MISC2, 4) & MISC2_VMRUN))
        return VMCB12_NO_VMRUN_INTERCEPT;
    if (vmcb12_get(vmcb, VMCB12_ASID, 4) == 0)
        return VMCB12_ASID_ZERO;
    if (bitmap_beyond(vmcb12_get(vmcb, VMCB12_IOPM_BASE, 8), IOPM_BYTES, l->phys_bits) ||
        bitmap_beyond(vmcb12_get(vmcb, VMCB12_MSRPM_BASE, 8), MSRPM_BYTES, l->phys_bits))
        return VMCB12_BITMAP_BEYOND_MEMORY;
    if (event_bad(vmcb12_get(vmcb, VMCB12_EVENTINJ, 8)))
        return VMCB12_BAD_EVENT;
    if (vmcb12_get(vmcb, VMCB12_NP_CONTROL, 8) & 1) {
        if (!l->nested_paging || beyond_width(vmcb12_get(vmcb, VMCB12_N_CR3, 8), l->phys_bits))
            return VMCB12_NESTED_PAGING;
    }
    return VMCB12_OK;
}

enum svm_vmcb12_problem svm_vmcb12_check(const uint8_t vmcb[SVM_VMCB_SIZE],
                                         const struct svm_nested_limits *limits)
{
    enum svm_vmcb12_problem p = check_save_area(vmcb, limits);
    return p != VMCB12_OK ? p : check_control_area(vmcb, limits);
}

const char *svm_vmcb12_problem_name(enum svm_vmcb12_problem p)
{
    static const char *const names[VMCB12_PROBLEM_COUNT] = {
        [VMCB12_OK] = "ok",
        [VMCB12_SVME_CLEAR] = "EFER.SVME clear",
        [VMCB12_CR0_NW_WITHOUT_CD] = "CR0.NW without CR0.CD",
        [VMCB12_CR0_HIGH] = "CR0[63:32] set",
        [VMCB12_CR3_RESERVED] = "CR3 reserved bits",
        [VMCB12_CR4_RESERVED] = "CR4 reserved bits",
        [VMCB12_DR6_HIGH] = "DR6[63:32] set",
        [VMCB12_DR7_HIGH] = "DR7[63:32] set",
        [VMCB12_EFER_RESERVED] = "EFER reserved bits",
        [VMCB12_NO_LONG_MODE] = "long mode not offered",
        [VMCB12_LONG_WITHOUT_PAE] = "long mode without CR4.PAE",
        [VMCB12_LONG_WITHOUT_PE] = "long mode without CR0.PE",
        [VMCB12_CS_L_AND_D] = "long mode with CS.L and CS.D",
        [VMCB12_NO_VMRUN_INTERCEPT] = "VMRUN not intercepted",
        [VMCB12_ASID_ZERO] = "ASID 0",
        [VMCB12_BITMAP_BEYOND_MEMORY] = "IOPM or MSRPM beyond the address width",
        [VMCB12_BAD_EVENT] = "illegal EVENTINJ",
        [VMCB12_NESTED_PAGING] = "nested paging not offered or nCR3 too wide",
    };
    return (unsigned)p < VMCB12_PROBLEM_COUNT ? names[p] : "?";
}

void svm_vmcb12_write_invalid(uint8_t vmcb[SVM_VMCB_SIZE])
{
    vmcb12_put(vmcb, VMCB12_EXITCODE, 8, SVM_EXIT_INVALID);
    vmcb12_put(vmcb, VMCB12_EXITINFO1, 8, 0);
    vmcb12_put(vmcb, VMCB12_EXITINFO2, 8, 0);
    vmcb12_put(vmcb, VMCB12_EXITINTINFO, 8, 0);
}

/* ---- Intercepts ------------------------------------------------------------------------ */

const struct svm_intercepts svm_vmm_intercepts = {
    /* INTR, NMI, SMI, INIT (0x60-0x63), SHUTDOWN (0x7f); VMRUN (0x80) */
    .misc1 = 0xfu | (1u << 31),
    .misc2 = 1u,
};

struct svm_intercepts svm_intercepts_of(const uint8_t vmcb[SVM_VMCB_SIZE])
{
    return (struct svm_intercepts){
        .cr = (uint32_t)vmcb12_get(vmcb, VMCB12_INTERCEPT_CR, 4),
        .dr = (uint32_t)vmcb12_get(vmcb, VMCB12_INTERCEPT_DR, 4),
        .exceptions = (uint32_t)vmcb12_get(vmcb, VMCB12_INTERCEPT_EXC, 4),
        .misc1 = (uint32_t)vmcb12_get(vmcb, VMCB12_INTERCEPT_MISC1, 4),
        .misc2 = (uint32_t)vmcb12_get(vmcb, VMCB12_INTERCEPT_MISC2, 4),
        .misc3 = (uint32_t)vmcb12_get(vmcb, VMCB12_INTERCEPT_MISC3, 4),
    };
}

struct svm_intercepts svm_intercepts_merge(struct svm_intercepts a, struct svm_intercepts b)
{
    return (struct svm_intercepts){ a.cr | b.cr, a.dr | b.dr, a.exceptions | b.exceptions,
                                    a.misc1 | b.misc1, a.misc2 | b.misc2, a.misc3 | b.misc3 };
}

/* Exit codes 0x00-0x0f read CRn, 0x10-0x1f write it, 0x20-0x3f likewise for DRn
 * (the vectors' low and high halves), 0x40-0x5f are exceptions, then one bit per code
 * in the three instruction vectors (APM appendix C). */
bool svm_intercepts_cover(const struct svm_intercepts *i, uint64_t code)
{
    if (code < 0x20)
        return (i->cr >> (code < 0x10 ? code : 16 + code - 0x10)) & 1;
    if (code < 0x40)
        return (i->dr >> (code < 0x30 ? code - 0x20 : 16 + code - 0x30)) & 1;
    if (code < 0x60)
        return (i->exceptions >> (code - 0x40)) & 1;
    if (code < 0x80)
        return (i->misc1 >> (code - 0x60)) & 1;
    if (code < 0xa0)
        return (i->misc2 >> (code - 0x80)) & 1;
    if (code < 0xc0)
        return (i->misc3 >> (code - 0xa0)) & 1;
    return false;
}

bool svm_iopm_intercepts(svm_read_phys_fn *read, void *ctx, uint64_t iopm_base,
                         uint16_t port, unsigned size)
{
    uint64_t base = iopm_base & ~0xfffull;
    for (unsigned p = port; p < (unsigned)port + size; p++) {
        uint8_t byte;
        if (!read(ctx, base + p / 8, &byte, 1) || ((byte >> (p % 8)) & 1))
            return true;
    }
    return false;
}

bool svm_msrpm_intercepts(svm_read_phys_fn *read, void *ctx, uint64_t msrpm_base,
                          uint32_t msr, bool write)
{
    uint64_t range;
    if (msr <= 0x1fff)
        range = 0;
    else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
        range = 0x800;
    else if (msr >= 0xc0010000u && msr <= 0xc0011fffu)
        range = 0x1000;
    else
        return true;
    uint64_t bit = (uint64_t)(msr & 0x1fff) * 2 + (write ? 1 : 0);
    uint8_t byte;
    if (!read(ctx, (msrpm_base & ~0xfffull) + range + bit / 8, &byte, 1))
        return true;
    return (byte >> (bit % 8)) & 1;
}

/* ---- The instructions' faults ------------------------------------------------------------ */

enum svm_fault svm_instruction_fault(uint64_t exit_code, bool offered, bool svme,
                                     bool protected_mode, unsigned cpl)
{
    if (exit_code == SVM_EXIT_SKINIT || !offered || !svme || !protected_mode)
        return SVM_FAULT_UD;
    return cpl > 0 ? SVM_FAULT_GP : SVM_FAULT_NONE;
}

/* ---- MSRs ---------------------------------------------------------------------------------- */

void svm_nested_reset(struct svm_nested_cpu *s)
{
    *s = (struct svm_nested_cpu){ .gif = true };
}

enum msr_claim svm_nested_msr_read(const struct svm_nested_cpu *s, uint32_t index,
                                        uint64_t *value)
{
    switch (index) {
    case MSR_VM_CR:
        *value = s->vm_cr;
        return MSR_DONE;
    case MSR_VM_HSAVE_PA:
        *value = s->hsave_pa;
        return MSR_DONE;
    default:
        return MSR_NOT_MINE;
    }
}

/* VM_CR (APM 15.30.1): bits 0-4; with LOCK set, LOCK and SVMDIS keep their values;
 * SVMDIS cannot be set while EFER.SVME is.  VM_HSAVE_PA (15.30.4): a page address
 * within the physical-address width. */
enum msr_claim svm_nested_msr_write(struct svm_nested_cpu *s, uint32_t index, uint64_t value,
                                         unsigned phys_bits)
{
    switch (index) {
    case MSR_VM_CR: {
        uint64_t writable = VM_CR_DPD | VM_CR_R_INIT | VM_CR_DIS_A20M | VM_CR_LOCK | VM_CR_SVMDIS;
        if (value & ~writable)
            return MSR_GP;
        if (s->vm_cr & VM_CR_LOCK)
            writable &= ~(uint64_t)(VM_CR_LOCK | VM_CR_SVMDIS);
        uint64_t next = (s->vm_cr & ~writable) | (value & writable);
        if ((next & VM_CR_SVMDIS) && s->svme)
            return MSR_GP;
        s->vm_cr = next;
        return MSR_DONE;
    }
    case MSR_VM_HSAVE_PA:
        if ((value & 0xfff) || beyond_width(value, phys_bits))
            return MSR_GP;
        s->hsave_pa = value;
        return MSR_DONE;
    default:
        return MSR_NOT_MINE;
    }
}

bool svm_nested_efer_write(struct svm_nested_cpu *s, bool offered, uint64_t *value)
{
    bool svme = (*value & EFER_SVME_BIT) != 0;
    if (svme && (!offered || (s->vm_cr & VM_CR_SVMDIS)))
        return false;
    s->svme = svme;
    *value &= ~EFER_SVME_BIT;
    return true;
}

/* ---- CPUID ---------------------------------------------------------------------------------- */

void svm_nested_cpuid(uint32_t leaf, uint32_t out[4])
{
    switch (leaf) {
    case 0x80000000u:
        if (out[0] < 0x8000000au)
            out[0] = 0x8000000au;
        break;
    case 0x80000001u:
        out[2] |= 1u << 2;              /* ECX.SVM */
        break;
    case 0x8000000au:
        out[0] = SVM_NESTED_REVISION;
        out[1] = SVM_NESTED_ASIDS;
        out[2] = 0;
        out[3] = SVM_NESTED_FEATURES;
        break;
    default:
        break;
    }
}
