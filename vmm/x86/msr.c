/* Guest MSRs (msr.h).  Numbers and layouts: SDM Vol. 4; AMD APM Vol. 2, appendix A. */
#include "msr.h"
#include "pith/vm.h"

/* The state-group MSRs: group words as pith/vm.h lists them. */
static const struct {
    uint32_t index;
    uint64_t group;
    unsigned word;
} in_state[] = {
    { MSR_EFER, PITH_VM_GROUP_CR, 4 },
    { MSR_IA32_SYSENTER_CS, PITH_VM_GROUP_SYS, 0 },
    { MSR_IA32_SYSENTER_ESP, PITH_VM_GROUP_SYS, 1 },
    { MSR_IA32_SYSENTER_EIP, PITH_VM_GROUP_SYS, 2 },
    { MSR_STAR, PITH_VM_GROUP_SYS, 3 },
    { MSR_LSTAR, PITH_VM_GROUP_SYS, 4 },
    { MSR_CSTAR, PITH_VM_GROUP_SYS, 5 },
    { MSR_SFMASK, PITH_VM_GROUP_SYS, 6 },
    { MSR_KERNEL_GS_BASE, PITH_VM_GROUP_SYS, 7 },
    { MSR_IA32_PAT, PITH_VM_GROUP_SYS, 8 },
    { MSR_FS_BASE, PITH_VM_GROUP_SEG, 9 },        /* fs is segment 4: words 8 and 9 */
    { MSR_GS_BASE, PITH_VM_GROUP_SEG, 11 },       /* gs is segment 5 */
};

struct msr_place msr_lookup(uint32_t index)
{
    for (unsigned i = 0; i < sizeof(in_state) / sizeof(in_state[0]); i++)
        if (in_state[i].index == index)
            return (struct msr_place){ MSR_IN_STATE, in_state[i].group, in_state[i].word };
    if (index == MSR_IA32_TSC)
        return (struct msr_place){ MSR_TSC, 0, 0 };
    if (index == MSR_IA32_APIC_BASE)
        return (struct msr_place){ MSR_EMULATED, 0, 0 };
    return (struct msr_place){ MSR_UNKNOWN, 0, 0 };
}

void msr_file_reset(struct msr_file *f)
{
    *f = (struct msr_file){ .apic_base = APIC_BASE_DEFAULT, .mtrr_def_type = MTRR_DEF_TYPE_DEFAULT,
                            .misc_enable = MISC_ENABLE_FAST_STRING };
}

bool msr_pc_read(const struct msr_file *f, uint32_t index, uint64_t *value)
{
    switch (index) {
    case MSR_IA32_FEATURE_CONTROL: *value = 1; return true;     /* locked, VMX off */
    case MSR_IA32_UCODE_REV:       *value = 0; return true;
    case MSR_IA32_MTRRCAP:         *value = 0; return true;
    case MSR_IA32_MISC_ENABLE:     *value = f->misc_enable; return true;
    case MSR_IA32_MTRR_DEF_TYPE:   *value = f->mtrr_def_type; return true;
    case MSR_TSC_AUX:              *value = f->tsc_aux; return true;
    case MSR_AMD_HWCR:             *value = f->amd_hwcr; return true;
    case MSR_AMD_DE_CFG:           *value = f->amd_de_cfg; return true;
    case MSR_AMD_INT_PENDING:      *value = 0; return true;
    case MSR_IA32_DEBUGCTL:        *value = 0; return true;
    default:                       return false;
    }
}

/* MTRR_DEF_TYPE (SDM Vol. 3, 12.11.2.1): type in bits 0..7 (0, 1, 4, 5, 6), FE bit 10,
 * E bit 11. */
static bool mtrr_type_valid(uint64_t type)
{
    return type == 0 || type == 1 || (type >= 4 && type <= 6);
}

bool msr_pc_write(struct msr_file *f, uint32_t index, uint64_t value)
{
    switch (index) {
    case MSR_IA32_UCODE_REV:
        return true;                                    /* "load the update": nothing */
    case MSR_IA32_DEBUGCTL:
        return value == 0;
    case MSR_IA32_MISC_ENABLE:
        f->misc_enable = value;
        return true;
    case MSR_IA32_MTRR_DEF_TYPE:
        if ((value & ~0xcffull) || !mtrr_type_valid(value & 0xff))
            return false;
        f->mtrr_def_type = value;
        return true;
    case MSR_TSC_AUX:
        if (value >> 32)
            return false;
        f->tsc_aux = value;
        return true;
    case MSR_AMD_HWCR:
        f->amd_hwcr = value;
        return true;
    case MSR_AMD_DE_CFG:
        f->amd_de_cfg = value;
        return true;
    default:
        return false;
    }
}

bool msr_emulated_read(const struct msr_file *f, uint32_t index, uint64_t *value)
{
    if (index != MSR_IA32_APIC_BASE)
        return false;
    *value = f->apic_base;
    return true;
}

/* IA32_APIC_BASE (SDM Vol. 3, 11.4.4): BSP is read-only, x2APIC mode (bit 10) is not
 * offered, bits 12..35 move the base (36-bit physical addresses at most here). */
#define APIC_BASE_WRITABLE  (APIC_BASE_ENABLE | 0x0000000ffffff000ull)

bool msr_emulated_write(struct msr_file *f, uint32_t index, uint64_t value)
{
    if (index != MSR_IA32_APIC_BASE || (value & ~(APIC_BASE_WRITABLE | APIC_BASE_BSP)))
        return false;
    f->apic_base = (value & APIC_BASE_WRITABLE) | APIC_BASE_BSP;
    return true;
}

/* EFER: SCE, LME, LMA, NXE; SVME and the rest are not the guest's (APM Vol. 2, 3.1.7).
 * PAT: each byte a memory type 0, 1, 4, 5, 6 or 7 (SDM Vol. 3, 11.12.2).
 * Segment bases and the SYSCALL targets: canonical addresses. */
bool msr_state_write_valid(uint32_t index, uint64_t value)
{
    switch (index) {
    case MSR_EFER:
        return (value & ~0xd01ull) == 0;
    case MSR_IA32_PAT:
        for (unsigned i = 0; i < 8; i++) {
            uint8_t type = (uint8_t)(value >> (8 * i));
            if (type == 2 || type == 3 || type > 7)
                return false;
        }
        return true;
    case MSR_LSTAR: case MSR_CSTAR: case MSR_FS_BASE: case MSR_GS_BASE:
    case MSR_KERNEL_GS_BASE: case MSR_IA32_SYSENTER_ESP: case MSR_IA32_SYSENTER_EIP: {
        uint64_t top = value >> 47;                 /* bits 47..63 all equal */
        return top == 0 || top == 0x1ffff;
    }
    default:
        return true;
    }
}
