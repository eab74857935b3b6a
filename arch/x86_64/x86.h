/* Inline wrappers for x86_64 instructions and architectural constants (SDM Vol. 3). */
#ifndef ARCH_X86_H
#define ARCH_X86_H

#include <stdint.h>

/* Segment selectors: the order SYSCALL/SYSRET require (SDM 5.8.8): kernel code, kernel
 * data, then user code32 (unused), user data, user code64 relative to STAR[63:48]. */
#define SEL_KERNEL_CS   0x08
#define SEL_KERNEL_DS   0x10
#define SEL_USER_CS32   0x18
#define SEL_USER_DS     0x23
#define SEL_USER_CS     0x2b
#define SEL_TSS         0x30

#define CR0_PE  (1ull << 0)
#define CR0_MP  (1ull << 1)
#define CR0_EM  (1ull << 2)
#define CR0_TS  (1ull << 3)
#define CR0_NE  (1ull << 5)
#define CR0_WP  (1ull << 16)
#define CR0_NW  (1ull << 29)
#define CR0_CD  (1ull << 30)
#define CR0_PG  (1ull << 31)
#define CR4_VME        (1ull << 0)
#define CR4_PVI        (1ull << 1)
#define CR4_TSD        (1ull << 2)
#define CR4_PAE        (1ull << 5)
#define CR4_PGE        (1ull << 7)
#define CR4_PCE        (1ull << 8)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP       (1ull << 11)
#define CR4_VMXE       (1ull << 13)
#define CR4_FSGSBASE   (1ull << 16)
#define CR4_SMEP       (1ull << 20)
#define CR4_SMAP       (1ull << 21)

#define MSR_APIC_BASE       0x1b
#define MSR_TSC_DEADLINE    0x6e0
#define MSR_EFER            0xc0000080
#define MSR_SYSENTER_CS     0x174
#define MSR_SYSENTER_ESP    0x175
#define MSR_SYSENTER_EIP    0x176
#define MSR_STAR            0xc0000081
#define MSR_LSTAR           0xc0000082
#define MSR_CSTAR           0xc0000083
#define MSR_FMASK           0xc0000084
#define MSR_FS_BASE         0xc0000100
#define MSR_GS_BASE         0xc0000101
#define MSR_KERNEL_GS_BASE  0xc0000102
#define EFER_SCE  (1ull << 0)
#define EFER_LME  (1ull << 8)
#define EFER_NXE  (1ull << 11)
#define EFER_SVME (1ull << 12)

#define RFLAGS_CF   (1ull << 0)
#define RFLAGS_TF   (1ull << 8)
#define RFLAGS_IF   (1ull << 9)
#define RFLAGS_DF   (1ull << 10)
#define RFLAGS_IOPL (3ull << 12)
#define RFLAGS_NT   (1ull << 14)
#define DR6_BS      (1ull << 14)        /* a single step's #DB */
#define DR7_GD      (1ull << 13)        /* general detect: a MOV with a debug register faults */
#define RFLAGS_RF   (1ull << 16)
#define RFLAGS_VM   (1ull << 17)
#define RFLAGS_AC   (1ull << 18)

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" :: "r"(va) : "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
static inline void fxsave(void *area) { __asm__ volatile("fxsaveq (%0)" :: "r"(area) : "memory"); }
static inline void fxrstor(const void *area) { __asm__ volatile("fxrstorq (%0)" :: "r"(area) : "memory"); }

#endif
