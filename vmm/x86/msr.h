/*
 * Where the guest's MSRs live.  Every RDMSR and WRMSR exits (the kernel passes no MSR
 * through), and most MSRs a guest kernel uses are fields of the vCPU's state groups
 * (pith/vm.h): EFER in CR, the SYSCALL/SYSENTER MSRs and PAT in SYS, FS and GS base in
 * SEG, the TSC as the TSC offset.  msr_lookup names the group and word; the VMM reads
 * or writes that word.  The few MSRs the VMM keeps itself (the APIC base) are
 * emulated here; every other MSR raises #GP, as on a CPU that lacks it.  Pure.
 */
#ifndef VMM_MSR_H
#define VMM_MSR_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/lapic.h"      /* MSR_IA32_APIC_BASE and its bits */

#define MSR_IA32_TSC            0x10u
#define MSR_IA32_SYSENTER_CS    0x174u
#define MSR_IA32_SYSENTER_ESP   0x175u
#define MSR_IA32_SYSENTER_EIP   0x176u
#define MSR_IA32_PAT            0x277u
#define MSR_EFER                0xc0000080u
#define MSR_STAR                0xc0000081u
#define MSR_LSTAR               0xc0000082u
#define MSR_CSTAR               0xc0000083u
#define MSR_SFMASK              0xc0000084u
#define MSR_FS_BASE             0xc0000100u
#define MSR_GS_BASE             0xc0000101u
#define MSR_KERNEL_GS_BASE      0xc0000102u

enum msr_kind {
    MSR_UNKNOWN,                    /* #GP */
    MSR_IN_STATE,                   /* word `word` of state group `group` */
    MSR_TSC,                        /* host TSC + the vCPU's TSC offset */
    MSR_EMULATED,                   /* kept in struct msr_file */
};

struct msr_place {
    enum msr_kind kind;
    uint64_t group;                 /* PITH_VM_GROUP_* (MSR_IN_STATE) */
    unsigned word;
};

struct msr_place msr_lookup(uint32_t index);

/* The MSRs the VMM emulates itself. */
struct msr_file {
    uint64_t apic_base;
    /* the PC platform's (msr_pc_read) */
    uint64_t mtrr_def_type, misc_enable, tsc_aux, amd_hwcr, amd_de_cfg;
};

#define MSR_IA32_FEATURE_CONTROL 0x3au
#define MSR_IA32_UCODE_REV      0x8bu   /* AMD: the patch level */
#define MSR_IA32_MTRRCAP        0xfeu
#define MSR_IA32_MISC_ENABLE    0x1a0u
#define MSR_IA32_DEBUGCTL       0x1d9u  /* reads 0: no branch or debug-store tracing */
#define MSR_IA32_MTRR_DEF_TYPE  0x2ffu
#define MSR_TSC_AUX             0xc0000103u
#define MSR_AMD_HWCR            0xc0010015u
#define MSR_AMD_INT_PENDING     0xc0010055u   /* interrupt pending message (C1E): 0 */
#define MSR_AMD_DE_CFG          0xc0011029u

#define MTRR_DEF_TYPE_DEFAULT   0x806u  /* MTRRs enabled, no fixed ranges, default WB */
#define MISC_ENABLE_FAST_STRING 1u

/*
 * The machine-level MSRs a PC guest's kernel reads while it identifies the CPU: MTRRs
 * that exist but have no ranges (MTRRCAP 0; everything is the default type, write-back),
 * IA32_MISC_ENABLE with fast strings, a locked IA32_FEATURE_CONTROL without VMX, a
 * microcode revision of 0, TSC_AUX, AMD's HWCR and DE_CFG as plain storage, AMD's
 * interrupt-pending message register reading 0 (no C1E), and DEBUGCTL reading 0 and
 * taking only 0 (a guest hypervisor saves and restores it around VMRUN).
 * false: not one of these (or a reserved value): #GP.
 */
bool msr_pc_read(const struct msr_file *f, uint32_t index, uint64_t *value);
bool msr_pc_write(struct msr_file *f, uint32_t index, uint64_t value);

#define APIC_BASE_DEFAULT   (0xfee00000ull | APIC_BASE_ENABLE | APIC_BASE_BSP)

void msr_file_reset(struct msr_file *f);

/* An emulated MSR: false means #GP (unknown MSR or reserved bits set). */
bool msr_emulated_read(const struct msr_file *f, uint32_t index, uint64_t *value);
bool msr_emulated_write(struct msr_file *f, uint32_t index, uint64_t value);

/* Whether a value may be written to a state-group MSR: false means #GP. */
bool msr_state_write_valid(uint32_t index, uint64_t value);

/* The TSC as the guest reads it, and the offset that makes it read `value` now. */
static inline uint64_t msr_tsc_read(uint64_t host_tsc, uint64_t offset)
{
    return host_tsc + offset;
}
static inline uint64_t msr_tsc_offset_for(uint64_t host_tsc, uint64_t value)
{
    return value - host_tsc;
}

/* What a set of MSR rules (virtual SVM's, virtual VMX's) says of an access. */
enum msr_claim {
    MSR_NOT_MINE,                   /* not one of its MSRs: the VMM's other rules apply */
    MSR_DONE,
    MSR_GP,                         /* one of its MSRs, but the access raises #GP(0) */
};

#endif
