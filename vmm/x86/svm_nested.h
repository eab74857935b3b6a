/*
 * Virtual SVM for a guest hypervisor (docs/nested.md): the pure rules the VMM applies
 * when the guest uses the SVM instructions and MSRs, kept apart from the exit loop so
 * they are tested on the host.
 *
 *  - the VMCB layout the guest's VMCB ("VMCB12") is read and written with (APM Vol. 2,
 *    appendix B);
 *  - VMRUN's consistency checks (APM Vol. 2, 15.5.1), each failure named;
 *  - intercepts: the guest's read from its VMCB, merged with the VMM's own, and the
 *    question "does the guest intercept this exit of its guest" (APM 15.9-15.12);
 *  - the faults of the SVM instructions (#UD without EFER.SVME, #GP at CPL > 0);
 *  - EFER.SVME, VM_CR and VM_HSAVE_PA (APM 15.30);
 *  - what CPUID says about SVM under `nested on` (APM Vol. 3, appendix E, 8000_000Ah).
 */
#ifndef VMM_DEV_SVM_NESTED_H
#define VMM_DEV_SVM_NESTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msr.h"                /* enum msr_claim */

#define SVM_VMCB_SIZE 4096u

/* ---- The VMCB (APM Vol. 2, appendix B, tables B-1 and B-2) ------------------------ */

/* Control area */
#define VMCB12_INTERCEPT_CR     0x000   /* reads in bits 0-15, writes in 16-31 */
#define VMCB12_INTERCEPT_DR     0x004   /* likewise */
#define VMCB12_INTERCEPT_EXC    0x008   /* bit n: exception vector n */
#define VMCB12_INTERCEPT_MISC1  0x00c   /* bit n: exit code 0x60 + n */
#define VMCB12_INTERCEPT_MISC2  0x010   /* bit n: exit code 0x80 + n */
#define VMCB12_INTERCEPT_MISC3  0x014   /* bit n: exit code 0xa0 + n */
#define VMCB12_IOPM_BASE        0x040
#define VMCB12_MSRPM_BASE       0x048
#define VMCB12_TSC_OFFSET       0x050
#define VMCB12_ASID             0x058   /* 32 bits */
#define VMCB12_TLB_CONTROL      0x05c   /* 8 bits */
#define VMCB12_INT_CTL          0x060   /* bit 8: V_IRQ */
#define VMCB12_INT_SHADOW       0x068
#define VMCB12_EXITCODE         0x070
#define VMCB12_EXITINFO1        0x078
#define VMCB12_EXITINFO2        0x080
#define VMCB12_EXITINTINFO      0x088
#define VMCB12_NP_CONTROL       0x090   /* bit 0: nested paging */
#define VMCB12_EVENTINJ         0x0a8
#define VMCB12_N_CR3            0x0b0
#define VMCB12_CLEAN            0x0c0
#define VMCB12_NRIP             0x0c8

/* State-save area: segments are selector (16), attributes (16), limit (32), base (64) */
#define VMCB12_ES               0x400
#define VMCB12_CS               0x410
#define VMCB12_SS               0x420
#define VMCB12_DS               0x430
#define VMCB12_FS               0x440
#define VMCB12_GS               0x450
#define VMCB12_GDTR             0x460
#define VMCB12_LDTR             0x470
#define VMCB12_IDTR             0x480
#define VMCB12_TR               0x490
#define VMCB12_CPL              0x4cb
#define VMCB12_EFER             0x4d0
#define VMCB12_CR4              0x548
#define VMCB12_CR3              0x550
#define VMCB12_CR0              0x558
#define VMCB12_DR7              0x560
#define VMCB12_DR6              0x568
#define VMCB12_RFLAGS           0x570
#define VMCB12_RIP              0x578
#define VMCB12_RSP              0x5d8
#define VMCB12_RAX              0x5f8
#define VMCB12_STAR             0x600
#define VMCB12_LSTAR            0x608
#define VMCB12_CSTAR            0x610
#define VMCB12_SFMASK           0x618
#define VMCB12_KERNEL_GS_BASE   0x620
#define VMCB12_SYSENTER_CS      0x628
#define VMCB12_SYSENTER_ESP     0x630
#define VMCB12_SYSENTER_EIP     0x638
#define VMCB12_CR2              0x640
#define VMCB12_G_PAT            0x668

static inline uint64_t vmcb12_get(const uint8_t *vmcb, unsigned offset, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)vmcb[offset + i] << (8 * i);
    return v;
}

static inline void vmcb12_put(uint8_t *vmcb, unsigned offset, unsigned size, uint64_t v)
{
    for (unsigned i = 0; i < size; i++)
        vmcb[offset + i] = (uint8_t)(v >> (8 * i));
}

/* ---- Exit codes (APM Vol. 2, appendix C) ------------------------------------------ */

#define SVM_EXIT_EXCEPTION_0    0x40u
#define SVM_EXIT_INTR           0x60u
#define SVM_EXIT_NMI            0x61u
#define SVM_EXIT_VINTR          0x64u
#define SVM_EXIT_CPUID          0x72u
#define SVM_EXIT_HLT            0x78u
#define SVM_EXIT_INVLPGA        0x7au
#define SVM_EXIT_IOIO           0x7bu
#define SVM_EXIT_MSR            0x7cu
#define SVM_EXIT_SHUTDOWN       0x7fu
#define SVM_EXIT_VMRUN          0x80u
#define SVM_EXIT_VMMCALL        0x81u
#define SVM_EXIT_VMLOAD         0x82u
#define SVM_EXIT_VMSAVE         0x83u
#define SVM_EXIT_STGI           0x84u
#define SVM_EXIT_CLGI           0x85u
#define SVM_EXIT_SKINIT         0x86u
#define SVM_EXIT_NPF            0x400u
#define SVM_EXIT_INVALID        0xffffffffffffffffull   /* VMEXIT_INVALID, -1 */

/* The SVM instructions an exit code names (VMRUN ... SKINIT, INVLPGA). */
bool svm_is_svm_instruction(uint64_t exit_code);

/* ---- VMRUN's consistency checks (APM 15.5.1) -------------------------------------- */

/* What the virtual CPU offers, against which a VMCB12 is judged. */
struct svm_nested_limits {
    unsigned phys_bits;         /* physical-address width (CPUID 8000_0008h EAX[7:0]) */
    uint64_t cr4_allowed;       /* CR4 bits a guest may set; the rest must be zero */
    uint64_t efer_allowed;      /* EFER bits likewise (SVME among them) */
    bool long_mode;             /* CPUID 8000_0001h EDX.LM */
    bool nested_paging;         /* NP offered in 8000_000Ah EDX */
};

enum svm_vmcb12_problem {
    VMCB12_OK,
    VMCB12_SVME_CLEAR,          /* EFER.SVME is zero */
    VMCB12_CR0_NW_WITHOUT_CD,   /* CR0.CD zero and CR0.NW set */
    VMCB12_CR0_HIGH,            /* CR0[63:32] not zero */
    VMCB12_CR3_RESERVED,        /* CR3 beyond the physical-address width */
    VMCB12_CR4_RESERVED,
    VMCB12_DR6_HIGH,            /* DR6[63:32] not zero */
    VMCB12_DR7_HIGH,
    VMCB12_EFER_RESERVED,
    VMCB12_NO_LONG_MODE,        /* EFER.LME or LMA on a CPU without long mode */
    VMCB12_LONG_WITHOUT_PAE,    /* EFER.LME and CR0.PG, CR4.PAE clear */
    VMCB12_LONG_WITHOUT_PE,     /* EFER.LME and CR0.PG, CR0.PE clear */
    VMCB12_CS_L_AND_D,          /* long mode with CS.L and CS.D both set */
    VMCB12_NO_VMRUN_INTERCEPT,  /* the VMRUN intercept bit is clear */
    VMCB12_ASID_ZERO,
    VMCB12_BITMAP_BEYOND_MEMORY, /* the IOPM or MSRPM reaches past the address width */
    VMCB12_BAD_EVENT,           /* EVENTINJ: reserved type, or an exception above 31 or 2 */
    VMCB12_NESTED_PAGING,       /* NP enabled where it is not offered, or nCR3 too wide */
    VMCB12_PROBLEM_COUNT,
};

/* The first check `vmcb` fails, in the order above; VMCB12_OK when it passes them all. */
enum svm_vmcb12_problem svm_vmcb12_check(const uint8_t vmcb[SVM_VMCB_SIZE],
                                         const struct svm_nested_limits *limits);
const char *svm_vmcb12_problem_name(enum svm_vmcb12_problem p);

/* A failed VMRUN reports VMEXIT_INVALID in the guest's VMCB (APM 15.5.1): exit code
 * -1, no exit information, no event pending. */
void svm_vmcb12_write_invalid(uint8_t vmcb[SVM_VMCB_SIZE]);

/* ---- Intercepts (APM 15.9-15.12) -------------------------------------------------- */

struct svm_intercepts {
    uint32_t cr, dr, exceptions, misc1, misc2, misc3;
};

struct svm_intercepts svm_intercepts_of(const uint8_t vmcb[SVM_VMCB_SIZE]);
struct svm_intercepts svm_intercepts_merge(struct svm_intercepts a, struct svm_intercepts b);

/* What the VMM itself needs intercepted while the guest's guest runs, whatever the
 * guest asked: physical interrupts, NMIs, SMIs and INIT (they are the guest's or the
 * host's, never its guest's), shutdown, and VMRUN (the APM requires it). */
extern const struct svm_intercepts svm_vmm_intercepts;

/* Whether `exit_code` is among the intercepts (CR/DR accesses, exceptions and the
 * instruction and event exits).  IOIO and MSR exits also need the permission maps
 * (below); nested page faults and VMEXIT_INVALID are never "intercepted" here. */
bool svm_intercepts_cover(const struct svm_intercepts *i, uint64_t exit_code);

/* Reads `length` bytes of the guest's physical memory; false when it is not RAM. */
typedef bool svm_read_phys_fn(void *ctx, uint64_t address, void *buf, size_t length);

/* The I/O permission map (APM 15.10.1): one bit per port, every port of a multi-byte
 * access checked.  A map the guest placed outside its RAM counts as intercepting. */
bool svm_iopm_intercepts(svm_read_phys_fn *read, void *ctx, uint64_t iopm_base,
                         uint16_t port, unsigned size);

/* The MSR permission map (APM 15.11): two bits (read, write) per MSR in three 2 KiB
 * ranges; MSRs outside them always intercepted. */
bool svm_msrpm_intercepts(svm_read_phys_fn *read, void *ctx, uint64_t msrpm_base,
                          uint32_t msr, bool write);

/* ---- The SVM instructions' faults --------------------------------------------------- */

enum svm_fault {
    SVM_FAULT_NONE,
    SVM_FAULT_UD,
    SVM_FAULT_GP,
};

/* The fault an SVM instruction raises before doing anything (APM Vol. 3, VMRUN,
 * VMLOAD, VMSAVE, STGI, CLGI, INVLPGA, SKINIT): #UD when the virtual CPU does not
 * offer SVM, EFER.SVME is clear or the CPU is not in protected mode; #GP at CPL > 0.
 * SKINIT is never offered: always #UD. */
enum svm_fault svm_instruction_fault(uint64_t exit_code, bool offered, bool svme,
                                     bool protected_mode, unsigned cpl);

/* ---- MSRs (APM 15.30) ---------------------------------------------------------------- */

#define MSR_VM_CR               0xc0010114u
#define MSR_VM_HSAVE_PA         0xc0010117u
#define VM_CR_DPD               (1u << 0)
#define VM_CR_R_INIT            (1u << 1)
#define VM_CR_DIS_A20M          (1u << 2)
#define VM_CR_LOCK              (1u << 3)
#define VM_CR_SVMDIS            (1u << 4)
#define EFER_SVME_BIT           (1ull << 12)

/* A virtual CPU's SVM state the VMM keeps (the kernel keeps EFER.SVME for itself). */
struct svm_nested_cpu {
    bool svme;                  /* the guest's EFER.SVME */
    bool gif;                   /* global interrupt flag (APM 15.17), 1 at reset */
    uint64_t vm_cr, hsave_pa;
};

void svm_nested_reset(struct svm_nested_cpu *s);

enum msr_claim svm_nested_msr_read(const struct svm_nested_cpu *s, uint32_t index,
                                        uint64_t *value);
enum msr_claim svm_nested_msr_write(struct svm_nested_cpu *s, uint32_t index, uint64_t value,
                                         unsigned phys_bits);

/* A WRMSR to EFER: takes SVME out of `value` (the kernel's EFER never shows the
 * guest's) and keeps it here.  false: #GP (SVME where SVM is not offered, or with
 * VM_CR.SVMDIS). */
bool svm_nested_efer_write(struct svm_nested_cpu *s, bool offered, uint64_t *value);

/* The EFER a guest reads: the kernel's with the guest's SVME. */
static inline uint64_t svm_nested_efer_read(const struct svm_nested_cpu *s, uint64_t efer)
{
    return s->svme ? efer | EFER_SVME_BIT : efer & ~EFER_SVME_BIT;
}

/* ---- CPUID (APM Vol. 3, appendix E) -------------------------------------------------- */

#define SVM_NESTED_REVISION     1u
#define SVM_NESTED_ASIDS        64u     /* the guest's ASIDs are its own names; the VMM maps them */
#define SVM_NESTED_FEATURES     (1u << 0)   /* EDX: NP */

/* Adds virtual SVM to the answer `out` (eax, ebx, ecx, edx) the VMM computed for
 * CPUID(leaf): 8000_0000h reaches 8000_000Ah at least, 8000_0001h ECX.SVM, and leaf
 * 8000_000Ah with the revision, the ASID count and the features above. */
void svm_nested_cpuid(uint32_t leaf, uint32_t out[4]);

#endif
