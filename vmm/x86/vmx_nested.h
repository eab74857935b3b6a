/*
 * Virtual VMX for a guest hypervisor (docs/nested.md): the pure rules the VMM would
 * apply when a guest on an Intel host uses the VMX instructions and MSRs, kept apart
 * from any exit loop so they are tested on the host.  Nothing here is wired to the
 * VMM's runtime yet.
 *
 *  - what the virtual CPU says about VMX: CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL and
 *    the VMX capability MSRs (SDM Vol. 3D, appendix A);
 *  - the guest's VMCS ("VMCS12"), a 4 KiB page of the guest's memory in a layout of
 *    the VMM's choosing, and VMREAD/VMWRITE on it (SDM Vol. 3C 24.11.2, appendix B);
 *  - the VMX instructions' outcomes: #UD, #GP(0), VMfailInvalid, VMfailValid(n) or
 *    success (SDM Vol. 3C 30.2-30.4 and the instruction pages of chapter 30);
 *  - the checks VMLAUNCH and VMRESUME make on VMCS12 (SDM Vol. 3C 26.2 and 26.3),
 *    each failure named;
 *  - the question "does the guest hypervisor want this exit of its guest" (SDM Vol. 3C
 *    25.1-25.2).
 *
 * Chapter and section numbers are those of the SDM editions of 2016-2022 (Vol. 3C:
 * 24 the VMCS, 25 non-root operation, 26 VM entries, 30 the instructions); later
 * editions moved each chapter up by one.
 *
 * What is offered, and why.  The VMM runs the guest's guest ("L2") on a vCPU of its
 * own whose intercepts are the kernel's superset, and keeps VMCS12 in software, so
 * every exiting control costs nothing: each is offered.  Features that would need the
 * VMM to emulate hardware assists inside L2 are not: no VMCS shadowing, no posted
 * interrupts, no APIC virtualization or TPR shadow, no VMX-preemption timer, no
 * monitor trap flag, no PML, no VM functions, no dual-monitor treatment, no INS/OUTS
 * instruction information.  The secondary controls offer VPID (L2's TLB tags are names
 * the VMM maps, like SVM's ASIDs) and, when the caller asks for it, EPT (4 levels,
 * write-back or uncacheable, 2 MiB and 1 GiB pages, no accessed/dirty flags) with
 * unrestricted guest, which needs EPT (SDM 26.2.1.1) and spares L1 from running a
 * real-mode L2 in virtual-8086 mode.  VMWRITE to the exit-information fields is
 * offered (IA32_VMX_MISC[29]): in a software VMCS it is a store like any other.  So
 * is IA32_VMX_MISC[5], which obliges the VMM, at each VM exit it gives L1, to store
 * L2's EFER.LMA in VMCS12's "IA-32e mode guest" entry control.
 */
#ifndef VMM_X86_VMX_NESTED_H
#define VMM_X86_VMX_NESTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msr.h"                /* enum msr_claim */

#define VMX_VMCS_SIZE           4096u
#define VMX_NESTED_REVISION     0x1u    /* IA32_VMX_BASIC[30:0]; bit 31 is the shadow-VMCS flag */
#define VMX_NO_VMCS             0xffffffffffffffffull   /* the invalid current-VMCS pointer */

/* ---- MSRs (SDM Vol. 4, table 2-2; Vol. 3D appendix A) ---------------------------- */

#define MSR_IA32_VMX_BASIC              0x480u
#define MSR_IA32_VMX_PINBASED_CTLS      0x481u
#define MSR_IA32_VMX_PROCBASED_CTLS     0x482u
#define MSR_IA32_VMX_EXIT_CTLS          0x483u
#define MSR_IA32_VMX_ENTRY_CTLS         0x484u
#define MSR_IA32_VMX_MISC               0x485u
#define MSR_IA32_VMX_CR0_FIXED0         0x486u
#define MSR_IA32_VMX_CR0_FIXED1         0x487u
#define MSR_IA32_VMX_CR4_FIXED0         0x488u
#define MSR_IA32_VMX_CR4_FIXED1         0x489u
#define MSR_IA32_VMX_VMCS_ENUM          0x48au
#define MSR_IA32_VMX_PROCBASED_CTLS2    0x48bu
#define MSR_IA32_VMX_EPT_VPID_CAP       0x48cu
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48du
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48eu
#define MSR_IA32_VMX_TRUE_EXIT_CTLS     0x48fu
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS    0x490u
#define MSR_IA32_VMX_VMFUNC             0x491u

/* IA32_FEATURE_CONTROL (0x3a, msr.h's MSR_IA32_FEATURE_CONTROL): SDM Vol. 3C 23.7 */
#define FEATURE_CONTROL_LOCK            (1ull << 0)
#define FEATURE_CONTROL_VMX_IN_SMX      (1ull << 1)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ull << 2)

/* IA32_VMX_BASIC (A.1) */
#define VMX_BASIC_SIZE_SHIFT            32      /* bits 44:32: bytes of a VMCS region */
#define VMX_BASIC_MEMTYPE_SHIFT         50      /* bits 53:50: 6 = write-back */
#define VMX_BASIC_INOUT                 (1ull << 54)
#define VMX_BASIC_TRUE_CONTROLS         (1ull << 55)

/* IA32_VMX_MISC (A.6) */
#define VMX_MISC_EFER_LMA_SAVED         (1ull << 5)     /* exit stores EFER.LMA in the entry control */
#define VMX_MISC_ACTIVITY_HLT           (1ull << 6)
#define VMX_MISC_CR3_TARGETS_SHIFT      16              /* bits 24:16 */
#define VMX_MISC_VMWRITE_ANY            (1ull << 29)
#define VMX_NESTED_CR3_TARGETS          4u

/* IA32_VMX_EPT_VPID_CAP (A.10) */
#define EPT_CAP_WALK_4                  (1ull << 6)
#define EPT_CAP_UC                      (1ull << 8)
#define EPT_CAP_WB                      (1ull << 14)
#define EPT_CAP_2M                      (1ull << 16)
#define EPT_CAP_1G                      (1ull << 17)
#define EPT_CAP_INVEPT                  (1ull << 20)
#define EPT_CAP_AD                      (1ull << 21)
#define EPT_CAP_INVEPT_TYPE(t)          (1ull << (24 + (t)))    /* 1 single-context, 2 all */
#define VPID_CAP_INVVPID                (1ull << 32)
#define VPID_CAP_INVVPID_TYPE(t)        (1ull << (40 + (t)))    /* 0 address .. 3 retaining globals */

/* ---- VM-execution, exit and entry controls (SDM Vol. 3C 24.6-24.8) ---------------- */

#define PIN_EXTERNAL_INTERRUPT_EXITING  (1u << 0)
#define PIN_NMI_EXITING                 (1u << 3)
#define PIN_VIRTUAL_NMIS                (1u << 5)
#define PIN_PREEMPTION_TIMER            (1u << 6)
#define PIN_DEFAULT1                    0x16u           /* bits 1, 2, 4 (A.3.1) */

#define PROC_INTERRUPT_WINDOW_EXITING   (1u << 2)
#define PROC_TSC_OFFSETTING             (1u << 3)
#define PROC_HLT_EXITING                (1u << 7)
#define PROC_INVLPG_EXITING             (1u << 9)
#define PROC_MWAIT_EXITING              (1u << 10)
#define PROC_RDPMC_EXITING              (1u << 11)
#define PROC_RDTSC_EXITING              (1u << 12)
#define PROC_CR3_LOAD_EXITING           (1u << 15)
#define PROC_CR3_STORE_EXITING          (1u << 16)
#define PROC_CR8_LOAD_EXITING           (1u << 19)
#define PROC_CR8_STORE_EXITING          (1u << 20)
#define PROC_TPR_SHADOW                 (1u << 21)
#define PROC_NMI_WINDOW_EXITING         (1u << 22)
#define PROC_MOV_DR_EXITING             (1u << 23)
#define PROC_UNCONDITIONAL_IO_EXITING   (1u << 24)
#define PROC_USE_IO_BITMAPS             (1u << 25)
#define PROC_MONITOR_TRAP_FLAG          (1u << 27)
#define PROC_USE_MSR_BITMAPS            (1u << 28)
#define PROC_MONITOR_EXITING            (1u << 29)
#define PROC_PAUSE_EXITING              (1u << 30)
#define PROC_SECONDARY_CONTROLS         (1u << 31)
#define PROC_DEFAULT1                   0x0401e172u     /* bits 1, 4-6, 8, 13-16, 26 (A.3.2) */
#define PROC_TRUE_DEFAULT1              0x04006172u     /* CR3-load and -store exiting may be 0 */

#define PROC2_DESCRIPTOR_TABLE_EXITING  (1u << 2)
#define PROC2_ENABLE_EPT                (1u << 1)
#define PROC2_ENABLE_VPID               (1u << 5)
#define PROC2_WBINVD_EXITING            (1u << 6)
#define PROC2_UNRESTRICTED_GUEST        (1u << 7)
#define PROC2_RDRAND_EXITING            (1u << 11)
#define PROC2_RDSEED_EXITING            (1u << 16)

#define EXIT_SAVE_DEBUG_CONTROLS        (1u << 2)
#define EXIT_HOST_ADDRESS_SPACE_SIZE    (1u << 9)
#define EXIT_ACK_INTERRUPT              (1u << 15)
#define EXIT_SAVE_PAT                   (1u << 18)
#define EXIT_LOAD_PAT                   (1u << 19)
#define EXIT_SAVE_EFER                  (1u << 20)
#define EXIT_LOAD_EFER                  (1u << 21)
#define EXIT_DEFAULT1                   0x00036dffu     /* bits 0-8, 10, 11, 13, 14, 16, 17 (A.4) */
#define EXIT_TRUE_DEFAULT1              0x00036dfbu     /* save debug controls may be 0 */

#define ENTRY_LOAD_DEBUG_CONTROLS       (1u << 2)
#define ENTRY_IA32E_MODE_GUEST          (1u << 9)
#define ENTRY_TO_SMM                    (1u << 10)
#define ENTRY_LOAD_PAT                  (1u << 14)
#define ENTRY_LOAD_EFER                 (1u << 15)
#define ENTRY_DEFAULT1                  0x000011ffu     /* bits 0-8, 12 (A.5) */
#define ENTRY_TRUE_DEFAULT1             0x000011fbu     /* load debug controls may be 0 */

/* ---- The capability the virtual CPU offers ------------------------------------------ */

/* Every value a guest reads from the VMX MSRs; the VM-entry checks judge VMCS12
 * against the same values, so what is read and what is enforced cannot disagree.
 * Each *_ctls word holds the allowed-0 settings in bits 31:0 (a 1 there: the control
 * must be 1) and the allowed-1 settings in bits 63:32 (a 0 there: it must be 0). */
struct vmx_nested_caps {
    uint64_t feature_control;
    uint64_t basic, misc, vmcs_enum, ept_vpid;
    uint64_t pinbased, procbased, exit, entry, procbased2;
    uint64_t true_pinbased, true_procbased, true_exit, true_entry;
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    unsigned phys_bits;         /* MAXPHYADDR (CPUID 8000_0008h EAX[7:0]) */
};

/* The offer described at the top of this file.  `cr4_supported`: the CR4 bits the
 * virtual CPU implements (CR4_FIXED1 adds VMXE); `ept`: offer EPT and unrestricted
 * guest. */
void vmx_nested_caps_init(struct vmx_nested_caps *c, unsigned phys_bits, uint64_t cr4_supported,
                          bool ept);

/* The allowed-0 and allowed-1 halves a VMCS12 control word is checked against: the
 * TRUE_ MSRs, since IA32_VMX_BASIC[55] is offered (A.2). */
static inline uint32_t vmx_ctls_must_be_1(uint64_t ctls) { return (uint32_t)ctls; }
static inline uint32_t vmx_ctls_may_be_1(uint64_t ctls) { return (uint32_t)(ctls >> 32); }

/* RDMSR of IA32_FEATURE_CONTROL and the VMX MSRs.  An MSR that the offer says does
 * not exist (PROCBASED_CTLS2 without the secondary controls, EPT_VPID_CAP without EPT
 * or VPID, VMFUNC without VM functions) raises #GP as on such a CPU (A.3.3, A.10, A.11). */
enum msr_claim vmx_nested_msr_read(const struct vmx_nested_caps *c, uint32_t index,
                                        uint64_t *value);
/* WRMSR: the capability MSRs are read-only and IA32_FEATURE_CONTROL is locked, so
 * whatever the value: #GP for those, MSR_NOT_MINE for every other MSR. */
enum msr_claim vmx_nested_msr_write(uint32_t index);

/* Adds CPUID.1:ECX.VMX (bit 5) to the answer `out` (eax, ebx, ecx, edx) the VMM
 * computed for CPUID(leaf); other leaves are left alone. */
void vmx_nested_cpuid(uint32_t leaf, uint32_t out[4]);

/* ---- VMCS12 field encodings (SDM Vol. 3C appendix B) ---------------------------------- *
 * An encoding: bit 0 access type (1: the high half of a 64-bit field), bits 9:1 index,
 * bits 11:10 type (0 control, 1 exit information, 2 guest state, 3 host state), bit 12
 * reserved, bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural width), bits
 * 31:15 reserved (24.11.2). */

/* Segments in the order their guest fields use, stride 2 (B.1.2, B.3.3, B.4.3) */
enum vmx_segment { VMX_ES, VMX_CS, VMX_SS, VMX_DS, VMX_FS, VMX_GS, VMX_LDTR, VMX_TR, VMX_SEGMENTS };
#define VMCS12_GUEST_SELECTOR(s)        (0x0800u + 2 * (s))
#define VMCS12_GUEST_LIMIT(s)           (0x4800u + 2 * (s))
#define VMCS12_GUEST_ACCESS(s)          (0x4814u + 2 * (s))
#define VMCS12_GUEST_BASE(s)            (0x6806u + 2 * (s))

#define VMCS12_VPID                     0x0000u
#define VMCS12_HOST_SELECTOR(s)         (0x0c00u + 2 * (s))     /* ES .. GS; not LDTR */
#define VMCS12_HOST_TR_SELECTOR         0x0c0cu

#define VMCS12_IO_BITMAP_A              0x2000u
#define VMCS12_IO_BITMAP_B              0x2002u
#define VMCS12_MSR_BITMAP               0x2004u
#define VMCS12_EXIT_MSR_STORE_ADDRESS   0x2006u
#define VMCS12_EXIT_MSR_LOAD_ADDRESS    0x2008u
#define VMCS12_ENTRY_MSR_LOAD_ADDRESS   0x200au
#define VMCS12_EXECUTIVE_VMCS           0x200cu
#define VMCS12_TSC_OFFSET               0x2010u
#define VMCS12_EPT_POINTER              0x201au
#define VMCS12_GUEST_PHYSICAL_ADDRESS   0x2400u
#define VMCS12_LINK_POINTER             0x2800u
#define VMCS12_GUEST_DEBUGCTL           0x2802u
#define VMCS12_GUEST_PAT                0x2804u
#define VMCS12_GUEST_EFER               0x2806u
#define VMCS12_GUEST_PDPTE(n)           (0x280au + 2 * (n))
#define VMCS12_HOST_PAT                 0x2c00u
#define VMCS12_HOST_EFER                0x2c02u

#define VMCS12_PIN_CONTROLS             0x4000u
#define VMCS12_PROC_CONTROLS            0x4002u
#define VMCS12_EXCEPTION_BITMAP         0x4004u
#define VMCS12_PF_ERROR_MASK            0x4006u
#define VMCS12_PF_ERROR_MATCH           0x4008u
#define VMCS12_CR3_TARGET_COUNT         0x400au
#define VMCS12_EXIT_CONTROLS            0x400cu
#define VMCS12_EXIT_MSR_STORE_COUNT     0x400eu
#define VMCS12_EXIT_MSR_LOAD_COUNT      0x4010u
#define VMCS12_ENTRY_CONTROLS           0x4012u
#define VMCS12_ENTRY_MSR_LOAD_COUNT     0x4014u
#define VMCS12_ENTRY_INTERRUPTION_INFO  0x4016u
#define VMCS12_ENTRY_ERROR_CODE         0x4018u
#define VMCS12_ENTRY_INSTRUCTION_LENGTH 0x401au
#define VMCS12_PROC_CONTROLS2           0x401eu
#define VMCS12_VM_INSTRUCTION_ERROR     0x4400u
#define VMCS12_EXIT_REASON              0x4402u
#define VMCS12_EXIT_INTERRUPTION_INFO   0x4404u
#define VMCS12_EXIT_INTERRUPTION_ERROR  0x4406u
#define VMCS12_IDT_VECTORING_INFO       0x4408u
#define VMCS12_IDT_VECTORING_ERROR      0x440au
#define VMCS12_EXIT_INSTRUCTION_LENGTH  0x440cu
#define VMCS12_EXIT_INSTRUCTION_INFO    0x440eu
#define VMCS12_GUEST_GDTR_LIMIT         0x4810u
#define VMCS12_GUEST_IDTR_LIMIT         0x4812u
#define VMCS12_GUEST_INTERRUPTIBILITY   0x4824u
#define VMCS12_GUEST_ACTIVITY_STATE     0x4826u
#define VMCS12_GUEST_SMBASE             0x4828u
#define VMCS12_GUEST_SYSENTER_CS        0x482au
#define VMCS12_HOST_SYSENTER_CS         0x4c00u

#define VMCS12_CR0_GUEST_HOST_MASK      0x6000u
#define VMCS12_CR4_GUEST_HOST_MASK      0x6002u
#define VMCS12_CR0_READ_SHADOW          0x6004u
#define VMCS12_CR4_READ_SHADOW          0x6006u
#define VMCS12_CR3_TARGET(n)            (0x6008u + 2 * (n))
#define VMCS12_EXIT_QUALIFICATION       0x6400u
#define VMCS12_IO_RCX                   0x6402u
#define VMCS12_IO_RSI                   0x6404u
#define VMCS12_IO_RDI                   0x6406u
#define VMCS12_IO_RIP                   0x6408u
#define VMCS12_GUEST_LINEAR_ADDRESS     0x640au
#define VMCS12_GUEST_CR0                0x6800u
#define VMCS12_GUEST_CR3                0x6802u
#define VMCS12_GUEST_CR4                0x6804u
#define VMCS12_GUEST_GDTR_BASE          0x6816u
#define VMCS12_GUEST_IDTR_BASE          0x6818u
#define VMCS12_GUEST_DR7                0x681au
#define VMCS12_GUEST_RSP                0x681cu
#define VMCS12_GUEST_RIP                0x681eu
#define VMCS12_GUEST_RFLAGS             0x6820u
#define VMCS12_GUEST_PENDING_DEBUG      0x6822u
#define VMCS12_GUEST_SYSENTER_ESP       0x6824u
#define VMCS12_GUEST_SYSENTER_EIP       0x6826u
#define VMCS12_HOST_CR0                 0x6c00u
#define VMCS12_HOST_CR3                 0x6c02u
#define VMCS12_HOST_CR4                 0x6c04u
#define VMCS12_HOST_FS_BASE             0x6c06u
#define VMCS12_HOST_GS_BASE             0x6c08u
#define VMCS12_HOST_TR_BASE             0x6c0au
#define VMCS12_HOST_GDTR_BASE           0x6c0cu
#define VMCS12_HOST_IDTR_BASE           0x6c0eu
#define VMCS12_HOST_SYSENTER_ESP        0x6c10u
#define VMCS12_HOST_SYSENTER_EIP        0x6c12u
#define VMCS12_HOST_RSP                 0x6c14u
#define VMCS12_HOST_RIP                 0x6c16u

/* ---- The VMCS12 page ----------------------------------------------------------------- *
 * Bytes 0-3 hold the revision identifier (bit 31: shadow VMCS) and 4-7 the VMX-abort
 * indicator, as the SDM fixes them (24.2); the rest is the VMM's: the launch state at
 * byte 8, then one 8-byte slot per field in the order of the encoding table. */
#define VMCS12_REVISION_OFFSET          0u
#define VMCS12_ABORT_OFFSET             4u
#define VMCS12_LAUNCH_STATE_OFFSET      8u
#define VMCS12_FIELDS_OFFSET            16u

struct vmcs12_field {
    uint16_t offset;            /* byte offset in the page */
    uint8_t bytes;              /* 2, 4 or 8; 4 for the high half of a 64-bit field */
    bool high;                  /* an access to bits 63:32 of a 64-bit field */
    bool read_only;             /* an exit-information field (type 1) */
};

/* Where `encoding` lives; false for an encoding the virtual CPU does not support
 * (reserved bits, an odd encoding of a field that is not 64 bits wide, a field of a
 * feature not offered). */
bool vmcs12_field_lookup(uint64_t encoding, struct vmcs12_field *field);

/* The highest index of any supported encoding (IA32_VMX_VMCS_ENUM[9:1], A.9). */
unsigned vmcs12_highest_index(void);

/* The VMM's own access to a supported field: whole width, no read-only rule; an
 * unsupported encoding reads 0 and is not written. */
uint64_t vmcs12_get(const uint8_t vmcs[VMX_VMCS_SIZE], uint32_t encoding);
void vmcs12_set(uint8_t vmcs[VMX_VMCS_SIZE], uint32_t encoding, uint64_t value);

uint32_t vmcs12_revision(const uint8_t vmcs[VMX_VMCS_SIZE]);
bool vmcs12_launched(const uint8_t vmcs[VMX_VMCS_SIZE]);
void vmcs12_set_launched(uint8_t vmcs[VMX_VMCS_SIZE], bool launched);

/* VMREAD and VMWRITE of one field with an operand of `operand_bytes` (8 in 64-bit
 * mode, else 4), SDM 30.3: a narrower field is zero-extended on read and the
 * operand's high bits ignored on write; a wider one is truncated on read and its high
 * bits cleared on write; a high-half access touches bits 63:32 only.  The result is 0
 * or the VM-instruction error number (12 unsupported field, 13 read-only field). */
unsigned vmcs12_read(const uint8_t vmcs[VMX_VMCS_SIZE], uint64_t encoding, unsigned operand_bytes,
                     uint64_t *value);
unsigned vmcs12_write(uint8_t vmcs[VMX_VMCS_SIZE], uint64_t encoding, unsigned operand_bytes,
                      uint64_t value, const struct vmx_nested_caps *caps);

/* ---- The VMX instructions (SDM Vol. 3C 30.2-30.4, chapter 30's pages) ----------------- */

/* VM-instruction error numbers (30.4) */
enum vmx_instruction_error {
    VMXERR_VMCALL_IN_ROOT = 1,
    VMXERR_VMCLEAR_BAD_ADDRESS = 2,
    VMXERR_VMCLEAR_VMXON_POINTER = 3,
    VMXERR_VMLAUNCH_NOT_CLEAR = 4,
    VMXERR_VMRESUME_NOT_LAUNCHED = 5,
    VMXERR_ENTRY_BAD_CONTROLS = 7,
    VMXERR_ENTRY_BAD_HOST_STATE = 8,
    VMXERR_VMPTRLD_BAD_ADDRESS = 9,
    VMXERR_VMPTRLD_VMXON_POINTER = 10,
    VMXERR_VMPTRLD_BAD_REVISION = 11,
    VMXERR_UNSUPPORTED_FIELD = 12,
    VMXERR_VMWRITE_READ_ONLY = 13,
    VMXERR_VMXON_IN_ROOT = 15,
    VMXERR_ENTRY_MOV_SS_BLOCKING = 26,
    VMXERR_INVALID_INVEPT_INVVPID = 28,
};

enum vmx_verdict {
    VMX_SUCCEED,
    VMX_UD,                     /* #UD */
    VMX_GP,                     /* #GP(0) */
    VMX_FAIL_INVALID,           /* CF=1: there is no current VMCS to hold an error */
    VMX_FAIL_VALID,             /* ZF=1, the error number in the current VMCS */
};

struct vmx_outcome {
    enum vmx_verdict verdict;
    unsigned error;             /* VMX_FAIL_VALID's number, 0 otherwise */
};

/* RFLAGS after an instruction with this outcome (30.2): success clears CF, PF, AF, ZF,
 * SF and OF; VMfailInvalid sets CF and VMfailValid ZF, clearing the others; a fault
 * leaves RFLAGS as it was. */
uint64_t vmx_rflags_after(uint64_t rflags, struct vmx_outcome o);

/* On VMfailValid, stores the error number in VMCS12's VM-instruction error field. */
void vmx_outcome_record(uint8_t current_vmcs[VMX_VMCS_SIZE], struct vmx_outcome o);

/* L1's state as the VMX instructions see it. */
struct vmx_l1_mode {
    uint64_t cr0, cr4;
    bool v8086;                 /* RFLAGS.VM */
    bool lma;                   /* EFER.LMA */
    bool cs_l;                  /* CS.L: 64-bit code */
    unsigned cpl;
};

/* The VMX state of one virtual CPU in root operation (L1 running). */
struct vmx_nested_cpu {
    bool vmxon;                 /* in VMX operation */
    uint64_t vmxon_region;
    uint64_t current_vmcs;      /* VMX_NO_VMCS when none */
};

void vmx_nested_reset(struct vmx_nested_cpu *cpu);

/* Reads `length` bytes of the guest's physical memory; false when it is not RAM. */
typedef bool vmx_read_phys_fn(void *ctx, uint64_t address, void *buf, size_t length);

/* Each rule decides first and changes `cpu` only on success.  Memory operands have
 * been read by the caller (their own #GP/#PF are the caller's); regions are read
 * through `read`, and a region outside RAM reads as all ones, as on the hardware. */
struct vmx_outcome vmx_vmxon(struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                             const struct vmx_nested_caps *caps, uint64_t region,
                             vmx_read_phys_fn *read, void *ctx);
struct vmx_outcome vmx_vmxoff(struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m);

/* VMCLEAR: on success the caller marks the region at `address` clear
 * (vmcs12_set_launched false) after writing back any copy it keeps. */
struct vmx_outcome vmx_vmclear(struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                               const struct vmx_nested_caps *caps, uint64_t address);
struct vmx_outcome vmx_vmptrld(struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                               const struct vmx_nested_caps *caps, uint64_t address,
                               vmx_read_phys_fn *read, void *ctx);
/* VMPTRST: on success the caller stores cpu->current_vmcs at the operand. */
struct vmx_outcome vmx_vmptrst(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m);

/* VMREAD/VMWRITE on the current VMCS12 `vmcs` (its page, as the caller keeps it).
 * `encoding` is the register operand whole: in 64-bit mode its bits 63:32 must be 0. */
struct vmx_outcome vmx_vmread(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                              const uint8_t vmcs[VMX_VMCS_SIZE], uint64_t encoding,
                              uint64_t *value);
struct vmx_outcome vmx_vmwrite(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                               const struct vmx_nested_caps *caps, uint8_t vmcs[VMX_VMCS_SIZE],
                               uint64_t encoding, uint64_t value);

/* VMLAUNCH/VMRESUME up to the VM-entry checks: no current VMCS, MOV-SS blocking in
 * L1, the launch state.  Success here means "go on with vmx_entry_check". */
struct vmx_outcome vmx_vmlaunch(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                                const uint8_t vmcs[VMX_VMCS_SIZE], bool resume,
                                bool blocked_by_mov_ss);

/* VMCALL in VMX root operation fails (30.3, VMCALL: there is no SMM monitor to call);
 * outside VMX operation it is #UD, as the VMM answers any VMCALL today. */
struct vmx_outcome vmx_vmcall(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m);

/* What INVEPT and INVVPID ask the VMM to forget. */
enum vmx_flush {
    VMX_FLUSH_NONE,
    VMX_FLUSH_ADDRESS,          /* one linear address of one VPID */
    VMX_FLUSH_CONTEXT,          /* one EPTP's or one VPID's translations */
    VMX_FLUSH_CONTEXT_NONGLOBAL, /* one VPID's, keeping global ones */
    VMX_FLUSH_ALL,
};

/* INVEPT (type from the register, descriptor = the 128-bit memory operand; only its
 * low quadword, the EPTP, matters) and INVVPID (descriptor: VPID in bits 15:0, bits
 * 63:16 zero, the linear address in the high quadword). */
struct vmx_outcome vmx_invept(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                              const struct vmx_nested_caps *caps, uint64_t type, uint64_t eptp,
                              enum vmx_flush *flush);
struct vmx_outcome vmx_invvpid(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                               const struct vmx_nested_caps *caps, uint64_t type,
                               const uint64_t descriptor[2], enum vmx_flush *flush);

/* ---- VM-entry checks (SDM Vol. 3C 26.2, 26.3) ---------------------------------------- */

enum vmx_entry_problem {
    VMX_ENTRY_OK,
    /* 26.2.1: VM-execution, exit and entry controls (VMfailValid 7) */
    VMX_ENTRY_PIN_RESERVED,
    VMX_ENTRY_PROC_RESERVED,
    VMX_ENTRY_PROC2_RESERVED,
    VMX_ENTRY_CR3_TARGET_COUNT,
    VMX_ENTRY_IO_BITMAP_ADDRESS,
    VMX_ENTRY_MSR_BITMAP_ADDRESS,
    VMX_ENTRY_VIRTUAL_NMIS_WITHOUT_NMI_EXITING,
    VMX_ENTRY_NMI_WINDOW_WITHOUT_VIRTUAL_NMIS,
    VMX_ENTRY_VPID_ZERO,
    VMX_ENTRY_EPT_POINTER,
    VMX_ENTRY_UNRESTRICTED_WITHOUT_EPT,
    VMX_ENTRY_EXIT_RESERVED,
    VMX_ENTRY_EXIT_MSR_STORE_AREA,
    VMX_ENTRY_EXIT_MSR_LOAD_AREA,
    VMX_ENTRY_ENTRY_RESERVED,
    VMX_ENTRY_EVENT_TYPE,
    VMX_ENTRY_EVENT_VECTOR,
    VMX_ENTRY_EVENT_ERROR_CODE_BIT,
    VMX_ENTRY_EVENT_RESERVED,
    VMX_ENTRY_EVENT_ERROR_CODE,
    VMX_ENTRY_EVENT_LENGTH,
    VMX_ENTRY_ENTRY_MSR_LOAD_AREA,
    /* 26.2.2-26.2.4: host state (VMfailValid 8) */
    VMX_ENTRY_HOST_CR0,
    VMX_ENTRY_HOST_CR4,
    VMX_ENTRY_HOST_CR3,
    VMX_ENTRY_HOST_SYSENTER,
    VMX_ENTRY_HOST_PAT,
    VMX_ENTRY_HOST_EFER,
    VMX_ENTRY_HOST_SELECTOR,
    VMX_ENTRY_HOST_CS_OR_TR_NULL,
    VMX_ENTRY_HOST_SS_NULL,
    VMX_ENTRY_HOST_BASE,
    VMX_ENTRY_HOST_ADDRESS_SPACE,
    VMX_ENTRY_HOST_32BIT,
    VMX_ENTRY_HOST_64BIT,
    /* 26.3.1: guest state (exit reason 33) */
    VMX_ENTRY_GUEST_CR0,
    VMX_ENTRY_GUEST_PG_WITHOUT_PE,
    VMX_ENTRY_GUEST_CR4,
    VMX_ENTRY_GUEST_IA32E_PAGING,
    VMX_ENTRY_GUEST_PCIDE,
    VMX_ENTRY_GUEST_CR3,
    VMX_ENTRY_GUEST_DEBUGCTL,
    VMX_ENTRY_GUEST_DR7,
    VMX_ENTRY_GUEST_SYSENTER,
    VMX_ENTRY_GUEST_PAT,
    VMX_ENTRY_GUEST_EFER,
    VMX_ENTRY_GUEST_SELECTOR_TI,
    VMX_ENTRY_GUEST_SS_RPL,
    VMX_ENTRY_GUEST_V8086_SEGMENT,
    VMX_ENTRY_GUEST_SEGMENT_BASE,
    VMX_ENTRY_GUEST_CS_TYPE,
    VMX_ENTRY_GUEST_SS_TYPE,
    VMX_ENTRY_GUEST_DATA_TYPE,
    VMX_ENTRY_GUEST_SEGMENT_S,
    VMX_ENTRY_GUEST_CS_DPL,
    VMX_ENTRY_GUEST_SS_DPL,
    VMX_ENTRY_GUEST_DATA_DPL,
    VMX_ENTRY_GUEST_SEGMENT_PRESENT,
    VMX_ENTRY_GUEST_SEGMENT_RESERVED,
    VMX_ENTRY_GUEST_CS_L_AND_D,
    VMX_ENTRY_GUEST_SEGMENT_LIMIT,
    VMX_ENTRY_GUEST_TR,
    VMX_ENTRY_GUEST_LDTR,
    VMX_ENTRY_GUEST_DESCRIPTOR_TABLE,
    VMX_ENTRY_GUEST_RIP,
    VMX_ENTRY_GUEST_RFLAGS,
    VMX_ENTRY_GUEST_RFLAGS_VM,
    VMX_ENTRY_GUEST_RFLAGS_IF,
    VMX_ENTRY_GUEST_ACTIVITY,
    VMX_ENTRY_GUEST_HLT_SS_DPL,
    VMX_ENTRY_GUEST_ACTIVITY_BLOCKING,
    VMX_ENTRY_GUEST_ACTIVITY_EVENT,
    VMX_ENTRY_GUEST_INTERRUPTIBILITY,
    VMX_ENTRY_GUEST_STI_AND_MOV_SS,
    VMX_ENTRY_GUEST_STI_WITH_IF_CLEAR,
    VMX_ENTRY_GUEST_INTERRUPT_BLOCKED,
    VMX_ENTRY_GUEST_SMI_BLOCKING,
    VMX_ENTRY_GUEST_NMI_BLOCKED,
    VMX_ENTRY_GUEST_PENDING_DEBUG,
    VMX_ENTRY_GUEST_PENDING_DEBUG_BS,
    VMX_ENTRY_GUEST_NMI_WITH_STI_BLOCKING,   /* exit qualification 3 */
    VMX_ENTRY_GUEST_LINK_POINTER,            /* exit qualification 4 */
    VMX_ENTRY_GUEST_PDPTE,                   /* exit qualification 2 */
    VMX_ENTRY_PROBLEM_COUNT,
};

enum vmx_entry_stage {
    VMX_ENTRY_PASSES,
    VMX_ENTRY_FAILS_CONTROLS,   /* VMfailValid(7) */
    VMX_ENTRY_FAILS_HOST,       /* VMfailValid(8) */
    VMX_ENTRY_FAILS_GUEST,      /* a VM exit to L1 with reason 33 and bit 31 (26.7) */
};

/* The first check VMCS12 fails, in the order above (controls, then host state, then
 * guest state, as 26.1 orders them); VMX_ENTRY_OK when it passes them all.
 * `l1_long_mode`: L1 runs in IA-32e mode (26.2.4).  `read` fetches the VMCS link
 * pointer's region (26.3.1.5); the VM-entry MSR-load list is the caller's (26.4). */
enum vmx_entry_problem vmx_entry_check(const uint8_t vmcs[VMX_VMCS_SIZE],
                                       const struct vmx_nested_caps *caps, bool l1_long_mode,
                                       vmx_read_phys_fn *read, void *ctx);
const char *vmx_entry_problem_name(enum vmx_entry_problem p);
enum vmx_entry_stage vmx_entry_problem_stage(enum vmx_entry_problem p);

/* The outcome of VMLAUNCH/VMRESUME for a control or host failure (VMfailValid 7 or 8);
 * success otherwise, the guest-state failures being a VM exit instead. */
struct vmx_outcome vmx_entry_outcome(enum vmx_entry_problem p);

#define VMX_EXIT_REASON_ENTRY_FAILURE   (1u << 31)

/* A guest-state failure as L1 sees it (26.7): exit reason 33 with bit 31, the
 * qualification naming the PDPTEs (2), an NMI blocked by STI (3) or the link pointer
 * (4), else 0.  The caller then loads L1's host state as on any VM exit. */
void vmx_vmcs12_write_entry_failure(uint8_t vmcs[VMX_VMCS_SIZE], enum vmx_entry_problem p);

/* ---- Exits L1 asked for (SDM Vol. 3C 25.1-25.2; reasons: appendix C) ----------------- */

#define VMX_EXIT_EXCEPTION_OR_NMI       0u
#define VMX_EXIT_EXTERNAL_INTERRUPT     1u
#define VMX_EXIT_TRIPLE_FAULT           2u
#define VMX_EXIT_INIT                   3u
#define VMX_EXIT_SIPI                   4u
#define VMX_EXIT_IO_SMI                 5u
#define VMX_EXIT_OTHER_SMI              6u
#define VMX_EXIT_INTERRUPT_WINDOW       7u
#define VMX_EXIT_NMI_WINDOW             8u
#define VMX_EXIT_TASK_SWITCH            9u
#define VMX_EXIT_CPUID                  10u
#define VMX_EXIT_GETSEC                 11u
#define VMX_EXIT_HLT                    12u
#define VMX_EXIT_INVD                   13u
#define VMX_EXIT_INVLPG                 14u
#define VMX_EXIT_RDPMC                  15u
#define VMX_EXIT_RDTSC                  16u
#define VMX_EXIT_RSM                    17u
#define VMX_EXIT_VMCALL                 18u
#define VMX_EXIT_VMCLEAR                19u
#define VMX_EXIT_VMXON                  27u
#define VMX_EXIT_CR_ACCESS              28u
#define VMX_EXIT_MOV_DR                 29u
#define VMX_EXIT_IO                     30u
#define VMX_EXIT_RDMSR                  31u
#define VMX_EXIT_WRMSR                  32u
#define VMX_EXIT_INVALID_GUEST_STATE    33u
#define VMX_EXIT_MSR_LOADING            34u
#define VMX_EXIT_MWAIT                  36u
#define VMX_EXIT_MONITOR_TRAP_FLAG      37u
#define VMX_EXIT_MONITOR                39u
#define VMX_EXIT_PAUSE                  40u
#define VMX_EXIT_MACHINE_CHECK          41u
#define VMX_EXIT_TPR_BELOW_THRESHOLD    43u
#define VMX_EXIT_APIC_ACCESS            44u
#define VMX_EXIT_GDTR_IDTR              46u
#define VMX_EXIT_LDTR_TR                47u
#define VMX_EXIT_EPT_VIOLATION          48u
#define VMX_EXIT_EPT_MISCONFIG          49u
#define VMX_EXIT_INVEPT                 50u
#define VMX_EXIT_RDTSCP                 51u
#define VMX_EXIT_PREEMPTION_TIMER       52u
#define VMX_EXIT_INVVPID                53u
#define VMX_EXIT_WBINVD                 54u
#define VMX_EXIT_XSETBV                 55u
#define VMX_EXIT_RDRAND                 57u
#define VMX_EXIT_INVPCID                58u
#define VMX_EXIT_VMFUNC                 59u
#define VMX_EXIT_RDSEED                 61u
#define VMX_EXIT_XSAVES                 63u
#define VMX_EXIT_XRSTORS                64u

/* An exit of L2 as the virtual CPU would report it to L1. */
struct vmx_l2_exit {
    uint32_t reason;            /* basic exit reason, bits 15:0 */
    uint64_t qualification;
    uint32_t interruption_info; /* exception or NMI: vector 7:0, type 10:8 */
    uint32_t error_code;        /* its error code (#PF's meets the mask and match) */
    uint64_t operand;           /* MOV to CR: the value; RDMSR/WRMSR: ECX */
};

/* Whether L1's VMCS12 asks for this exit (then the VMM reflects it as a VM exit into
 * L1); false means the VMM completes it for L2 as the hardware would without the
 * control.  Bitmaps are read through `read`; one the VMM cannot read counts as
 * asking for the exit.  A reason this file does not know is reflected. */
bool vmx_l1_wants_exit(const uint8_t vmcs12[VMX_VMCS_SIZE], const struct vmx_l2_exit *e,
                       vmx_read_phys_fn *read, void *ctx);

/* The pieces of that decision, for the VMM and the tests. */
bool vmx_exception_exits(uint32_t exception_bitmap, uint32_t pf_mask, uint32_t pf_match,
                         unsigned vector, uint32_t error_code);
bool vmx_io_bitmaps_exit(vmx_read_phys_fn *read, void *ctx, uint64_t bitmap_a, uint64_t bitmap_b,
                         uint16_t port, unsigned size);
bool vmx_msr_bitmap_exits(vmx_read_phys_fn *read, void *ctx, uint64_t bitmap, uint32_t msr,
                          bool write);
bool vmx_cr_access_exits(const uint8_t vmcs12[VMX_VMCS_SIZE], uint64_t qualification,
                         uint64_t value);

#endif
