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

#define MSR_IA32_TSC            0x10u
#define MSR_IA32_APIC_BASE      0x1bu
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
};

#define APIC_BASE_BSP       (1ull << 8)
#define APIC_BASE_ENABLE    (1ull << 11)
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

#endif
