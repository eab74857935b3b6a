/* Virtual VMX's rules (vmx_nested.h).  References: Intel SDM Vol. 3C chapters 23-27 and
 * 30, Vol. 3D appendices A-C (2016-2022 numbering), Vol. 4 for the MSR numbers. */
#include "vmx_nested.h"
#include "msr.h"                /* MSR_IA32_FEATURE_CONTROL */

#define BIT64(n) (1ull << (n))

#define CR0_PE          BIT64(0)
#define CR0_TS          BIT64(3)
#define CR0_NE          BIT64(5)
#define CR0_PG          BIT64(31)
#define CR4_PAE         BIT64(5)
#define CR4_VMXE        BIT64(13)
#define CR4_PCIDE       BIT64(17)
#define EFER_LME        BIT64(8)
#define EFER_LMA        BIT64(10)
#define EFER_ALLOWED    0xd01ull        /* SCE LME LMA NXE: what an Intel CPU's EFER holds */
#define RFLAGS_CF       BIT64(0)
#define RFLAGS_ZF       BIT64(6)
#define RFLAGS_TF       BIT64(8)
#define RFLAGS_IF       BIT64(9)
#define RFLAGS_VM       BIT64(17)
#define RFLAGS_STATUS   0x8d5ull        /* CF PF AF ZF SF OF */
#define DEBUGCTL_BTF    BIT64(1)
#define DEBUGCTL_ALLOWED 0ull           /* the VMM's DEBUGCTL takes only 0 (msr_pc_write) */

/* ---- The offer ------------------------------------------------------------------------ */

static uint64_t ctls(uint32_t must_be_1, uint32_t may_be_1)
{
    return (uint64_t)may_be_1 << 32 | must_be_1;
}

void vmx_nested_caps_init(struct vmx_nested_caps *c, unsigned phys_bits, uint64_t cr4_supported,
                          bool ept)
{
    uint32_t pin = PIN_DEFAULT1 | PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS;
    uint32_t proc = PROC_DEFAULT1 | PROC_INTERRUPT_WINDOW_EXITING | PROC_TSC_OFFSETTING |
                    PROC_HLT_EXITING | PROC_INVLPG_EXITING | PROC_MWAIT_EXITING | PROC_RDPMC_EXITING |
                    PROC_RDTSC_EXITING | PROC_CR3_LOAD_EXITING | PROC_CR3_STORE_EXITING |
                    PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING | PROC_NMI_WINDOW_EXITING |
                    PROC_MOV_DR_EXITING | PROC_UNCONDITIONAL_IO_EXITING | PROC_USE_IO_BITMAPS |
                    PROC_USE_MSR_BITMAPS | PROC_MONITOR_EXITING | PROC_PAUSE_EXITING |
                    PROC_SECONDARY_CONTROLS;
    uint32_t proc2 = PROC2_ENABLE_VPID | (ept ? PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST : 0);
    uint32_t exit = EXIT_DEFAULT1 | EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_ACK_INTERRUPT |
                    EXIT_SAVE_PAT | EXIT_LOAD_PAT | EXIT_SAVE_EFER | EXIT_LOAD_EFER;
    uint32_t entry = ENTRY_DEFAULT1 | ENTRY_IA32E_MODE_GUEST | ENTRY_LOAD_PAT | ENTRY_LOAD_EFER;
    uint64_t vpid_caps = VPID_CAP_INVVPID | VPID_CAP_INVVPID_TYPE(0) | VPID_CAP_INVVPID_TYPE(1) |
                         VPID_CAP_INVVPID_TYPE(2) | VPID_CAP_INVVPID_TYPE(3);
    uint64_t ept_caps = EPT_CAP_WALK_4 | EPT_CAP_UC | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_1G |
                        EPT_CAP_INVEPT | EPT_CAP_INVEPT_TYPE(1) | EPT_CAP_INVEPT_TYPE(2);
    *c = (struct vmx_nested_caps){
        .feature_control = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX,
        /* A.1: the revision, a 4 KiB region, write-back (type 6), true controls */
        .basic = VMX_NESTED_REVISION | (uint64_t)VMX_VMCS_SIZE << VMX_BASIC_SIZE_SHIFT |
                 6ull << VMX_BASIC_MEMTYPE_SHIFT | VMX_BASIC_TRUE_CONTROLS,
        /* A.6: no preemption timer (rate 0), HLT the only other activity state, four
         * CR3 targets, 512 MSRs per list (bits 27:25 = 0) */
        .misc = VMX_MISC_EFER_LMA_SAVED | VMX_MISC_ACTIVITY_HLT |
                (uint64_t)VMX_NESTED_CR3_TARGETS << VMX_MISC_CR3_TARGETS_SHIFT |
                VMX_MISC_VMWRITE_ANY,
        .vmcs_enum = (uint64_t)vmcs12_highest_index() << 1,
        .ept_vpid = vpid_caps | (ept ? ept_caps : 0),
        .pinbased = ctls(PIN_DEFAULT1, pin),
        .procbased = ctls(PROC_DEFAULT1, proc),
        .exit = ctls(EXIT_DEFAULT1, exit),
        .entry = ctls(ENTRY_DEFAULT1, entry),
        .procbased2 = ctls(0, proc2),
        .true_pinbased = ctls(PIN_DEFAULT1, pin),
        .true_procbased = ctls(PROC_TRUE_DEFAULT1, proc),
        .true_exit = ctls(EXIT_TRUE_DEFAULT1, exit),
        .true_entry = ctls(ENTRY_TRUE_DEFAULT1, entry),
        /* A.7, A.8: PE, NE and PG must be 1 in VMX operation, VMXE too */
        .cr0_fixed0 = CR0_PE | CR0_NE | CR0_PG,
        .cr0_fixed1 = 0xffffffffull,
        .cr4_fixed0 = CR4_VMXE,
        .cr4_fixed1 = cr4_supported | CR4_VMXE,
        .phys_bits = phys_bits,
    };
}

static bool offers_secondary(const struct vmx_nested_caps *c)
{
    return vmx_ctls_may_be_1(c->procbased) & PROC_SECONDARY_CONTROLS;
}

enum msr_claim vmx_nested_msr_read(const struct vmx_nested_caps *c, uint32_t index,
                                        uint64_t *value)
{
    bool true_ctls = c->basic & VMX_BASIC_TRUE_CONTROLS;
    uint32_t proc2 = offers_secondary(c) ? vmx_ctls_may_be_1(c->procbased2) : 0;
    switch (index) {
    case MSR_IA32_FEATURE_CONTROL:      *value = c->feature_control; break;
    case MSR_IA32_VMX_BASIC:            *value = c->basic; break;
    case MSR_IA32_VMX_PINBASED_CTLS:    *value = c->pinbased; break;
    case MSR_IA32_VMX_PROCBASED_CTLS:   *value = c->procbased; break;
    case MSR_IA32_VMX_EXIT_CTLS:        *value = c->exit; break;
    case MSR_IA32_VMX_ENTRY_CTLS:       *value = c->entry; break;
    case MSR_IA32_VMX_MISC:             *value = c->misc; break;
    case MSR_IA32_VMX_CR0_FIXED0:       *value = c->cr0_fixed0; break;
    case MSR_IA32_VMX_CR0_FIXED1:       *value = c->cr0_fixed1; break;
    case MSR_IA32_VMX_CR4_FIXED0:       *value = c->cr4_fixed0; break;
    case MSR_IA32_VMX_CR4_FIXED1:       *value = c->cr4_fixed1; break;
    case MSR_IA32_VMX_VMCS_ENUM:        *value = c->vmcs_enum; break;
    case MSR_IA32_VMX_PROCBASED_CTLS2:
        if (!offers_secondary(c))
            return MSR_GP;
        *value = c->procbased2;
        break;
    case MSR_IA32_VMX_EPT_VPID_CAP:
        if (!(proc2 & (PROC2_ENABLE_EPT | PROC2_ENABLE_VPID)))
            return MSR_GP;
        *value = c->ept_vpid;
        break;
    case MSR_IA32_VMX_TRUE_PINBASED_CTLS:
    case MSR_IA32_VMX_TRUE_PROCBASED_CTLS:
    case MSR_IA32_VMX_TRUE_EXIT_CTLS:
    case MSR_IA32_VMX_TRUE_ENTRY_CTLS: {
        const uint64_t *v[] = { &c->true_pinbased, &c->true_procbased, &c->true_exit, &c->true_entry };
        if (!true_ctls)
            return MSR_GP;
        *value = *v[index - MSR_IA32_VMX_TRUE_PINBASED_CTLS];
        break;
    }
    case MSR_IA32_VMX_VMFUNC:           /* VM functions are not offered */
        return MSR_GP;
    default:
        return MSR_NOT_MINE;
    }
    return MSR_DONE;
}

enum msr_claim vmx_nested_msr_write(uint32_t index)
{
    if (index == MSR_IA32_FEATURE_CONTROL ||
        (index >= MSR_IA32_VMX_BASIC && index <= MSR_IA32_VMX_VMFUNC))
        return MSR_GP;
    return MSR_NOT_MINE;
}

void vmx_nested_cpuid(uint32_t leaf, uint32_t out[4])
{
    if (leaf == 1)
        out[2] |= 1u << 5;
}

/* ---- VMCS12 --------------------------------------------------------------------------- */

/* Every field the virtual CPU supports, sorted, each even (the full access).  A field
 * of a feature that is not offered is absent, so VMREAD and VMWRITE of it fail as on a
 * CPU without the feature. */
static const uint16_t vmcs12_encodings[] = {
    VMCS12_VPID,
    0x0800, 0x0802, 0x0804, 0x0806, 0x0808, 0x080a, 0x080c, 0x080e,     /* guest selectors */
    0x0c00, 0x0c02, 0x0c04, 0x0c06, 0x0c08, 0x0c0a, 0x0c0c,             /* host selectors */
    VMCS12_IO_BITMAP_A, VMCS12_IO_BITMAP_B, VMCS12_MSR_BITMAP, VMCS12_EXIT_MSR_STORE_ADDRESS,
    VMCS12_EXIT_MSR_LOAD_ADDRESS, VMCS12_ENTRY_MSR_LOAD_ADDRESS, VMCS12_EXECUTIVE_VMCS,
    VMCS12_TSC_OFFSET, VMCS12_EPT_POINTER,
    VMCS12_GUEST_PHYSICAL_ADDRESS,
    VMCS12_LINK_POINTER, VMCS12_GUEST_DEBUGCTL, VMCS12_GUEST_PAT, VMCS12_GUEST_EFER,
    0x280a, 0x280c, 0x280e, 0x2810,                                     /* PDPTEs */
    VMCS12_HOST_PAT, VMCS12_HOST_EFER,
    0x4000, 0x4002, 0x4004, 0x4006, 0x4008, 0x400a, 0x400c, 0x400e,     /* 32-bit controls */
    0x4010, 0x4012, 0x4014, 0x4016, 0x4018, 0x401a, VMCS12_PROC_CONTROLS2,
    0x4400, 0x4402, 0x4404, 0x4406, 0x4408, 0x440a, 0x440c, 0x440e,     /* exit information */
    0x4800, 0x4802, 0x4804, 0x4806, 0x4808, 0x480a, 0x480c, 0x480e,     /* guest limits */
    VMCS12_GUEST_GDTR_LIMIT, VMCS12_GUEST_IDTR_LIMIT,
    0x4814, 0x4816, 0x4818, 0x481a, 0x481c, 0x481e, 0x4820, 0x4822,     /* access rights */
    VMCS12_GUEST_INTERRUPTIBILITY, VMCS12_GUEST_ACTIVITY_STATE, VMCS12_GUEST_SMBASE,
    VMCS12_GUEST_SYSENTER_CS,
    VMCS12_HOST_SYSENTER_CS,
    0x6000, 0x6002, 0x6004, 0x6006, 0x6008, 0x600a, 0x600c, 0x600e,     /* masks, shadows, targets */
    0x6400, 0x6402, 0x6404, 0x6406, 0x6408, 0x640a,                     /* exit information */
    0x6800, 0x6802, 0x6804, 0x6806, 0x6808, 0x680a, 0x680c, 0x680e,     /* CRs, bases */
    0x6810, 0x6812, 0x6814, 0x6816, 0x6818, 0x681a, 0x681c, 0x681e,
    0x6820, 0x6822, 0x6824, 0x6826,
    0x6c00, 0x6c02, 0x6c04, 0x6c06, 0x6c08, 0x6c0a, 0x6c0c, 0x6c0e,     /* host state */
    0x6c10, 0x6c12, 0x6c14, 0x6c16,
};

#define VMCS12_FIELD_COUNT (sizeof(vmcs12_encodings) / sizeof(vmcs12_encodings[0]))
_Static_assert(VMCS12_FIELDS_OFFSET + 8 * VMCS12_FIELD_COUNT <= VMX_VMCS_SIZE,
               "every VMCS12 field has a slot in the page");

enum { WIDTH_16, WIDTH_64, WIDTH_32, WIDTH_NATURAL };
#define ENCODING_VALID_BITS 0x6fffull   /* bit 12 and bits 31:15 are reserved (24.11.2) */

static int encoding_slot(uint16_t encoding)
{
    unsigned lo = 0, hi = VMCS12_FIELD_COUNT;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (vmcs12_encodings[mid] == encoding)
            return (int)mid;
        if (vmcs12_encodings[mid] < encoding)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool vmcs12_field_lookup(uint64_t encoding, struct vmcs12_field *field)
{
    static const uint8_t bytes[] = { [WIDTH_16] = 2, [WIDTH_64] = 8, [WIDTH_32] = 4, [WIDTH_NATURAL] = 8 };
    if (encoding & ~ENCODING_VALID_BITS)
        return false;
    unsigned width = (encoding >> 13) & 3;
    bool high = encoding & 1;
    if (high && width != WIDTH_64)
        return false;
    int slot = encoding_slot((uint16_t)(encoding & ~1ull));
    if (slot < 0)
        return false;
    *field = (struct vmcs12_field){
        .offset = (uint16_t)(VMCS12_FIELDS_OFFSET + 8 * slot + (high ? 4 : 0)),
        .bytes = high ? 4 : bytes[width],
        .high = high,
        .read_only = ((encoding >> 10) & 3) == 1,
    };
    return true;
}

unsigned vmcs12_highest_index(void)
{
    unsigned highest = 0;
    for (unsigned i = 0; i < VMCS12_FIELD_COUNT; i++) {
        unsigned index = (vmcs12_encodings[i] >> 1) & 0x1ff;
        if (index > highest)
            highest = index;
    }
    return highest;
}

static uint64_t load(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void store(uint8_t *p, unsigned bytes, uint64_t v)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t vmcs12_get(const uint8_t vmcs[VMX_VMCS_SIZE], uint32_t encoding)
{
    struct vmcs12_field f;
    return vmcs12_field_lookup(encoding, &f) ? load(vmcs + f.offset, f.bytes) : 0;
}

void vmcs12_set(uint8_t vmcs[VMX_VMCS_SIZE], uint32_t encoding, uint64_t value)
{
    struct vmcs12_field f;
    if (vmcs12_field_lookup(encoding, &f))
        store(vmcs + f.offset, f.bytes, value);
}

uint32_t vmcs12_revision(const uint8_t vmcs[VMX_VMCS_SIZE])
{
    return (uint32_t)load(vmcs + VMCS12_REVISION_OFFSET, 4);
}

bool vmcs12_launched(const uint8_t vmcs[VMX_VMCS_SIZE])
{
    return vmcs[VMCS12_LAUNCH_STATE_OFFSET] != 0;
}

void vmcs12_set_launched(uint8_t vmcs[VMX_VMCS_SIZE], bool launched)
{
    vmcs[VMCS12_LAUNCH_STATE_OFFSET] = launched;
}

unsigned vmcs12_read(const uint8_t vmcs[VMX_VMCS_SIZE], uint64_t encoding, unsigned operand_bytes,
                     uint64_t *value)
{
    struct vmcs12_field f;
    if (!vmcs12_field_lookup(encoding, &f))
        return VMXERR_UNSUPPORTED_FIELD;
    uint64_t v = load(vmcs + f.offset, f.bytes);
    *value = operand_bytes == 8 ? v : v & 0xffffffffull;
    return 0;
}

unsigned vmcs12_write(uint8_t vmcs[VMX_VMCS_SIZE], uint64_t encoding, unsigned operand_bytes,
                      uint64_t value, const struct vmx_nested_caps *caps)
{
    struct vmcs12_field f;
    if (!vmcs12_field_lookup(encoding, &f))
        return VMXERR_UNSUPPORTED_FIELD;
    if (f.read_only && !(caps->misc & VMX_MISC_VMWRITE_ANY))
        return VMXERR_VMWRITE_READ_ONLY;
    /* A 32-bit operand fills a wider field with zeros above it. */
    store(vmcs + f.offset, f.bytes, operand_bytes == 8 ? value : value & 0xffffffffull);
    return 0;
}

/* ---- The VMX instructions ------------------------------------------------------------- */

static bool beyond_width(uint64_t address, unsigned phys_bits)
{
    return phys_bits < 64 && (address >> phys_bits) != 0;
}

/* A 48-bit linear address space: LA57 is not offered. */
static bool canonical(uint64_t address)
{
    return (uint64_t)((int64_t)(address << 16) >> 16) == address;
}

static bool page_address_ok(uint64_t address, unsigned phys_bits)
{
    return (address & 0xfff) == 0 && !beyond_width(address, phys_bits);
}

static bool fixed_ok(uint64_t value, uint64_t fixed0, uint64_t fixed1)
{
    return (value & fixed0) == fixed0 && (value & ~fixed1) == 0;
}

static struct vmx_outcome outcome(enum vmx_verdict verdict, unsigned error)
{
    return (struct vmx_outcome){ verdict, error };
}

/* VMfail(n) (30.2): valid when there is a current VMCS to record n in. */
static struct vmx_outcome vmfail(const struct vmx_nested_cpu *cpu, unsigned error)
{
    if (cpu->current_vmcs == VMX_NO_VMCS)
        return outcome(VMX_FAIL_INVALID, 0);
    return outcome(VMX_FAIL_VALID, error);
}

uint64_t vmx_rflags_after(uint64_t rflags, struct vmx_outcome o)
{
    switch (o.verdict) {
    case VMX_SUCCEED:       return rflags & ~RFLAGS_STATUS;
    case VMX_FAIL_INVALID:  return (rflags & ~RFLAGS_STATUS) | RFLAGS_CF;
    case VMX_FAIL_VALID:    return (rflags & ~RFLAGS_STATUS) | RFLAGS_ZF;
    default:                return rflags;
    }
}

void vmx_outcome_record(uint8_t current_vmcs[VMX_VMCS_SIZE], struct vmx_outcome o)
{
    if (o.verdict == VMX_FAIL_VALID)
        vmcs12_set(current_vmcs, VMCS12_VM_INSTRUCTION_ERROR, o.error);
}

void vmx_nested_reset(struct vmx_nested_cpu *cpu)
{
    *cpu = (struct vmx_nested_cpu){ .current_vmcs = VMX_NO_VMCS };
}

/* Real mode, virtual-8086 mode and compatibility mode know no VMX instruction. */
static bool mode_lacks_vmx(const struct vmx_l1_mode *m)
{
    return !(m->cr0 & CR0_PE) || m->v8086 || (m->lma && !m->cs_l);
}

/* What every VMX instruction but VMXON checks first: #UD outside VMX operation or in
 * the modes above, then #GP(0) at CPL > 0.  (In VMX non-root operation they exit
 * instead; that is L2's case, vmx_l1_wants_exit.)  VMX_SUCCEED: go on. */
static enum vmx_verdict common_faults(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m)
{
    if (!cpu->vmxon || mode_lacks_vmx(m))
        return VMX_UD;
    return m->cpl > 0 ? VMX_GP : VMX_SUCCEED;
}

static unsigned operand_bytes(const struct vmx_l1_mode *m)
{
    return m->lma && m->cs_l ? 8 : 4;
}

/* The 32 bits at the start of a region; all ones where there is no RAM to read. */
static uint32_t region_revision(vmx_read_phys_fn *read, void *ctx, uint64_t address)
{
    uint8_t b[4];
    return read(ctx, address, b, 4) ? (uint32_t)load(b, 4) : 0xffffffffu;
}

/* Without VMCS shadowing a region's bit 31 must be clear too, so the whole dword is
 * compared. */
static bool revision_ok(uint32_t revision)
{
    return revision == VMX_NESTED_REVISION;
}

struct vmx_outcome vmx_vmxon(struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                             const struct vmx_nested_caps *caps, uint64_t region,
                             vmx_read_phys_fn *read, void *ctx)
{
    if (mode_lacks_vmx(m) || !(m->cr4 & CR4_VMXE))
        return outcome(VMX_UD, 0);
    if (cpu->vmxon)
        return m->cpl > 0 ? outcome(VMX_GP, 0) : vmfail(cpu, VMXERR_VMXON_IN_ROOT);
    uint64_t need = FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
    if (m->cpl > 0 || !fixed_ok(m->cr0, caps->cr0_fixed0, caps->cr0_fixed1) ||
        !fixed_ok(m->cr4, caps->cr4_fixed0, caps->cr4_fixed1) ||
        (caps->feature_control & need) != need)
        return outcome(VMX_GP, 0);
    if (!page_address_ok(region, caps->phys_bits) || !revision_ok(region_revision(read, ctx, region)))
        return outcome(VMX_FAIL_INVALID, 0);
    /* point of no return */
    cpu->vmxon = true;
    cpu->vmxon_region = region;
    cpu->current_vmcs = VMX_NO_VMCS;
    return outcome(VMX_SUCCEED, 0);
}

struct vmx_outcome vmx_vmxoff(struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m)
{
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    cpu->vmxon = false;
    return outcome(VMX_SUCCEED, 0);
}

struct vmx_outcome vmx_vmclear(struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                               const struct vmx_nested_caps *caps, uint64_t address)
{
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    if (!page_address_ok(address, caps->phys_bits))
        return vmfail(cpu, VMXERR_VMCLEAR_BAD_ADDRESS);
    if (address == cpu->vmxon_region)
        return vmfail(cpu, VMXERR_VMCLEAR_VMXON_POINTER);
    if (address == cpu->current_vmcs)
        cpu->current_vmcs = VMX_NO_VMCS;
    return outcome(VMX_SUCCEED, 0);
}

struct vmx_outcome vmx_vmptrld(struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                               const struct vmx_nested_caps *caps, uint64_t address,
                               vmx_read_phys_fn *read, void *ctx)
{
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    if (!page_address_ok(address, caps->phys_bits))
        return vmfail(cpu, VMXERR_VMPTRLD_BAD_ADDRESS);
    if (address == cpu->vmxon_region)
        return vmfail(cpu, VMXERR_VMPTRLD_VMXON_POINTER);
    if (!revision_ok(region_revision(read, ctx, address)))
        return vmfail(cpu, VMXERR_VMPTRLD_BAD_REVISION);
    cpu->current_vmcs = address;
    return outcome(VMX_SUCCEED, 0);
}

struct vmx_outcome vmx_vmptrst(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m)
{
    return outcome(common_faults(cpu, m), 0);
}

/* VMREAD and VMWRITE (30.3): outside 64-bit mode only bits 31:0 of the encoding
 * register count; in it, bits 63:32 must be zero. */
static bool encoding_operand(const struct vmx_l1_mode *m, uint64_t *encoding)
{
    if (operand_bytes(m) == 4) {
        *encoding &= 0xffffffffull;
        return true;
    }
    return (*encoding >> 32) == 0;
}

struct vmx_outcome vmx_vmread(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                              const uint8_t vmcs[VMX_VMCS_SIZE], uint64_t encoding,
                              uint64_t *value)
{
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    if (cpu->current_vmcs == VMX_NO_VMCS)
        return outcome(VMX_FAIL_INVALID, 0);
    if (!encoding_operand(m, &encoding))
        return vmfail(cpu, VMXERR_UNSUPPORTED_FIELD);
    unsigned error = vmcs12_read(vmcs, encoding, operand_bytes(m), value);
    return error ? vmfail(cpu, error) : outcome(VMX_SUCCEED, 0);
}

struct vmx_outcome vmx_vmwrite(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                               const struct vmx_nested_caps *caps, uint8_t vmcs[VMX_VMCS_SIZE],
                               uint64_t encoding, uint64_t value)
{
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    if (cpu->current_vmcs == VMX_NO_VMCS)
        return outcome(VMX_FAIL_INVALID, 0);
    if (!encoding_operand(m, &encoding))
        return vmfail(cpu, VMXERR_UNSUPPORTED_FIELD);
    unsigned error = vmcs12_write(vmcs, encoding, operand_bytes(m), value, caps);
    return error ? vmfail(cpu, error) : outcome(VMX_SUCCEED, 0);
}

struct vmx_outcome vmx_vmlaunch(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                                const uint8_t vmcs[VMX_VMCS_SIZE], bool resume,
                                bool blocked_by_mov_ss)
{
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    if (cpu->current_vmcs == VMX_NO_VMCS)
        return outcome(VMX_FAIL_INVALID, 0);
    if (blocked_by_mov_ss)
        return vmfail(cpu, VMXERR_ENTRY_MOV_SS_BLOCKING);
    if (!resume && vmcs12_launched(vmcs))
        return vmfail(cpu, VMXERR_VMLAUNCH_NOT_CLEAR);
    if (resume && !vmcs12_launched(vmcs))
        return vmfail(cpu, VMXERR_VMRESUME_NOT_LAUNCHED);
    return outcome(VMX_SUCCEED, 0);
}

struct vmx_outcome vmx_vmcall(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m)
{
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    return vmfail(cpu, VMXERR_VMCALL_IN_ROOT);
}

static bool eptp_ok(const struct vmx_nested_caps *c, uint64_t eptp);

/* An instruction type names a bit of IA32_VMX_EPT_VPID_CAP (30.3, INVEPT and INVVPID);
 * the register is 64 bits wide, so a huge type must not become a shift. */
static bool type_offered(const struct vmx_nested_caps *c, uint64_t type, unsigned first_bit)
{
    return type < 4 && (c->ept_vpid & BIT64(first_bit + type));
}

struct vmx_outcome vmx_invept(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                              const struct vmx_nested_caps *caps, uint64_t type, uint64_t eptp,
                              enum vmx_flush *flush)
{
    *flush = VMX_FLUSH_NONE;
    if (!(caps->ept_vpid & EPT_CAP_INVEPT))
        return outcome(VMX_UD, 0);              /* a CPU without INVEPT */
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    if (!type_offered(caps, type, 24) || (type == 1 && !eptp_ok(caps, eptp)))
        return vmfail(cpu, VMXERR_INVALID_INVEPT_INVVPID);
    *flush = type == 1 ? VMX_FLUSH_CONTEXT : VMX_FLUSH_ALL;
    return outcome(VMX_SUCCEED, 0);
}

struct vmx_outcome vmx_invvpid(const struct vmx_nested_cpu *cpu, const struct vmx_l1_mode *m,
                               const struct vmx_nested_caps *caps, uint64_t type,
                               const uint64_t descriptor[2], enum vmx_flush *flush)
{
    static const enum vmx_flush flushes[] = { VMX_FLUSH_ADDRESS, VMX_FLUSH_CONTEXT, VMX_FLUSH_ALL,
                                              VMX_FLUSH_CONTEXT_NONGLOBAL };
    *flush = VMX_FLUSH_NONE;
    if (!(caps->ept_vpid & VPID_CAP_INVVPID))
        return outcome(VMX_UD, 0);
    enum vmx_verdict v = common_faults(cpu, m);
    if (v != VMX_SUCCEED)
        return outcome(v, 0);
    uint64_t vpid = descriptor[0] & 0xffff;
    if (!type_offered(caps, type, 40) || (descriptor[0] >> 16) != 0 ||
        (type != 2 && vpid == 0) || (type == 0 && !canonical(descriptor[1])))
        return vmfail(cpu, VMXERR_INVALID_INVEPT_INVVPID);
    *flush = flushes[type];
    return outcome(VMX_SUCCEED, 0);
}

/* ---- VM-entry checks: controls (26.2.1) ----------------------------------------------- */

static uint64_t get(const uint8_t *vmcs, uint32_t encoding)
{
    return vmcs12_get(vmcs, encoding);
}

static bool ctls_ok(uint32_t value, uint64_t ctls)
{
    uint32_t must = vmx_ctls_must_be_1(ctls), may = vmx_ctls_may_be_1(ctls);
    return (value & must) == must && (value & ~may) == 0;
}

/* 26.2.1.1: memory type UC or WB as offered, a 4-level walk, accessed/dirty flags only
 * if offered, bits 11:7 reserved, the table within the physical-address width. */
static bool eptp_ok(const struct vmx_nested_caps *c, uint64_t eptp)
{
    unsigned type = eptp & 7, walk = (eptp >> 3) & 7;
    bool type_ok = (type == 0 && (c->ept_vpid & EPT_CAP_UC)) || (type == 6 && (c->ept_vpid & EPT_CAP_WB));
    return type_ok && walk == 3 && (c->ept_vpid & EPT_CAP_WALK_4) &&
           (!(eptp & BIT64(6)) || (c->ept_vpid & EPT_CAP_AD)) && (eptp & 0xf80) == 0 &&
           !beyond_width(eptp, c->phys_bits);
}

/* 26.2.1.2-3: an MSR list of `count` 16-byte entries, 16-byte aligned, its last byte
 * within the physical-address width. */
static bool msr_area_ok(uint64_t address, uint32_t count, unsigned phys_bits)
{
    if (count == 0)
        return true;
    uint64_t last = address + (uint64_t)count * 16 - 1;
    return (address & 0xf) == 0 && last > address && !beyond_width(address, phys_bits) &&
           !beyond_width(last, phys_bits);
}

static uint32_t secondary_controls(const uint8_t *vmcs)
{
    return (get(vmcs, VMCS12_PROC_CONTROLS) & PROC_SECONDARY_CONTROLS) ?
           (uint32_t)get(vmcs, VMCS12_PROC_CONTROLS2) : 0;
}

static enum vmx_entry_problem check_execution_controls(const uint8_t *v, const struct vmx_nested_caps *c)
{
    uint32_t pin = (uint32_t)get(v, VMCS12_PIN_CONTROLS), proc = (uint32_t)get(v, VMCS12_PROC_CONTROLS);
    uint32_t proc2 = secondary_controls(v);
    unsigned cr3_targets = (c->misc >> VMX_MISC_CR3_TARGETS_SHIFT) & 0x1ff;
    if (!ctls_ok(pin, c->true_pinbased))
        return VMX_ENTRY_PIN_RESERVED;
    if (!ctls_ok(proc, c->true_procbased))
        return VMX_ENTRY_PROC_RESERVED;
    if ((proc & PROC_SECONDARY_CONTROLS) && !ctls_ok(proc2, c->procbased2))
        return VMX_ENTRY_PROC2_RESERVED;
    if (get(v, VMCS12_CR3_TARGET_COUNT) > cr3_targets)
        return VMX_ENTRY_CR3_TARGET_COUNT;
    if ((proc & PROC_USE_IO_BITMAPS) && (!page_address_ok(get(v, VMCS12_IO_BITMAP_A), c->phys_bits) ||
                                         !page_address_ok(get(v, VMCS12_IO_BITMAP_B), c->phys_bits)))
        return VMX_ENTRY_IO_BITMAP_ADDRESS;
    if ((proc & PROC_USE_MSR_BITMAPS) && !page_address_ok(get(v, VMCS12_MSR_BITMAP), c->phys_bits))
        return VMX_ENTRY_MSR_BITMAP_ADDRESS;
    if (!(pin & PIN_NMI_EXITING) && (pin & PIN_VIRTUAL_NMIS))
        return VMX_ENTRY_VIRTUAL_NMIS_WITHOUT_NMI_EXITING;
    if (!(pin & PIN_VIRTUAL_NMIS) && (proc & PROC_NMI_WINDOW_EXITING))
        return VMX_ENTRY_NMI_WINDOW_WITHOUT_VIRTUAL_NMIS;
    if ((proc2 & PROC2_ENABLE_VPID) && get(v, VMCS12_VPID) == 0)
        return VMX_ENTRY_VPID_ZERO;
    if ((proc2 & PROC2_ENABLE_EPT) && !eptp_ok(c, get(v, VMCS12_EPT_POINTER)))
        return VMX_ENTRY_EPT_POINTER;
    if ((proc2 & PROC2_UNRESTRICTED_GUEST) && !(proc2 & PROC2_ENABLE_EPT))
        return VMX_ENTRY_UNRESTRICTED_WITHOUT_EPT;
    return VMX_ENTRY_OK;
}

static enum vmx_entry_problem check_exit_controls(const uint8_t *v, const struct vmx_nested_caps *c)
{
    if (!ctls_ok((uint32_t)get(v, VMCS12_EXIT_CONTROLS), c->true_exit))
        return VMX_ENTRY_EXIT_RESERVED;
    if (!msr_area_ok(get(v, VMCS12_EXIT_MSR_STORE_ADDRESS), (uint32_t)get(v, VMCS12_EXIT_MSR_STORE_COUNT),
                     c->phys_bits))
        return VMX_ENTRY_EXIT_MSR_STORE_AREA;
    if (!msr_area_ok(get(v, VMCS12_EXIT_MSR_LOAD_ADDRESS), (uint32_t)get(v, VMCS12_EXIT_MSR_LOAD_COUNT),
                     c->phys_bits))
        return VMX_ENTRY_EXIT_MSR_LOAD_AREA;
    return VMX_ENTRY_OK;
}

#define EVENT_VALID             BIT64(31)
#define EVENT_DELIVER_ERROR     BIT64(11)
#define EVENT_TYPE(info)        (((info) >> 8) & 7)
#define EVENT_VECTOR(info)      ((info) & 0xff)
enum { EVENT_EXTERNAL, EVENT_RESERVED_1, EVENT_NMI, EVENT_HARDWARE_EXCEPTION, EVENT_SOFTWARE_INTERRUPT,
       EVENT_PRIVILEGED_SOFTWARE_EXCEPTION, EVENT_SOFTWARE_EXCEPTION, EVENT_OTHER };

/* #DF, #TS, #NP, #SS, #GP, #PF and #AC push an error code. */
static bool pushes_error_code(unsigned vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
}

/* 26.2.1.3: the event to inject.  Type 7 (other event) needs the monitor trap flag,
 * which is not offered; instruction length 0 needs IA32_VMX_MISC[30], likewise. */
static enum vmx_entry_problem check_event(const uint8_t *v, const struct vmx_nested_caps *c)
{
    uint64_t info = get(v, VMCS12_ENTRY_INTERRUPTION_INFO);
    if (!(info & EVENT_VALID))
        return VMX_ENTRY_OK;
    unsigned type = EVENT_TYPE(info), vector = EVENT_VECTOR(info);
    bool mtf = vmx_ctls_may_be_1(c->true_procbased) & PROC_MONITOR_TRAP_FLAG;
    if (type == EVENT_RESERVED_1 || (type == EVENT_OTHER && !mtf))
        return VMX_ENTRY_EVENT_TYPE;
    if ((type == EVENT_NMI && vector != 2) || (type == EVENT_HARDWARE_EXCEPTION && vector > 31) ||
        (type == EVENT_OTHER && vector != 0))
        return VMX_ENTRY_EVENT_VECTOR;
    bool protected_mode = !(secondary_controls(v) & PROC2_UNRESTRICTED_GUEST) ||
                          (get(v, VMCS12_GUEST_CR0) & CR0_PE);
    bool error_code = type == EVENT_HARDWARE_EXCEPTION && protected_mode && pushes_error_code(vector);
    if (((info & EVENT_DELIVER_ERROR) != 0) != error_code)
        return VMX_ENTRY_EVENT_ERROR_CODE_BIT;
    if (info & 0x7ffff000ull)
        return VMX_ENTRY_EVENT_RESERVED;
    if ((info & EVENT_DELIVER_ERROR) && (get(v, VMCS12_ENTRY_ERROR_CODE) >> 16))
        return VMX_ENTRY_EVENT_ERROR_CODE;
    uint64_t length = get(v, VMCS12_ENTRY_INSTRUCTION_LENGTH);
    if (type >= EVENT_SOFTWARE_INTERRUPT && type <= EVENT_SOFTWARE_EXCEPTION && (length < 1 || length > 15))
        return VMX_ENTRY_EVENT_LENGTH;
    return VMX_ENTRY_OK;
}

static enum vmx_entry_problem check_entry_controls(const uint8_t *v, const struct vmx_nested_caps *c)
{
    if (!ctls_ok((uint32_t)get(v, VMCS12_ENTRY_CONTROLS), c->true_entry))
        return VMX_ENTRY_ENTRY_RESERVED;
    enum vmx_entry_problem p = check_event(v, c);
    if (p != VMX_ENTRY_OK)
        return p;
    if (!msr_area_ok(get(v, VMCS12_ENTRY_MSR_LOAD_ADDRESS), (uint32_t)get(v, VMCS12_ENTRY_MSR_LOAD_COUNT),
                     c->phys_bits))
        return VMX_ENTRY_ENTRY_MSR_LOAD_AREA;
    return VMX_ENTRY_OK;
}

/* ---- VM-entry checks: host state (26.2.2-26.2.4) --------------------------------------- */

/* Each byte a memory type: UC, WC, WT, WP, WB or UC- (0, 1, 4, 5, 6, 7). */
static bool pat_ok(uint64_t pat)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned type = (pat >> (8 * i)) & 0xff;
        if (type == 2 || type == 3 || type > 7)
            return false;
    }
    return true;
}

static enum vmx_entry_problem check_host_registers(const uint8_t *v, const struct vmx_nested_caps *c)
{
    uint32_t exit = (uint32_t)get(v, VMCS12_EXIT_CONTROLS);
    bool host64 = exit & EXIT_HOST_ADDRESS_SPACE_SIZE;
    if (!fixed_ok(get(v, VMCS12_HOST_CR0), c->cr0_fixed0, c->cr0_fixed1))
        return VMX_ENTRY_HOST_CR0;
    if (!fixed_ok(get(v, VMCS12_HOST_CR4), c->cr4_fixed0, c->cr4_fixed1))
        return VMX_ENTRY_HOST_CR4;
    if (beyond_width(get(v, VMCS12_HOST_CR3), c->phys_bits))
        return VMX_ENTRY_HOST_CR3;
    if (!canonical(get(v, VMCS12_HOST_SYSENTER_ESP)) || !canonical(get(v, VMCS12_HOST_SYSENTER_EIP)))
        return VMX_ENTRY_HOST_SYSENTER;
    if ((exit & EXIT_LOAD_PAT) && !pat_ok(get(v, VMCS12_HOST_PAT)))
        return VMX_ENTRY_HOST_PAT;
    if (exit & EXIT_LOAD_EFER) {
        uint64_t efer = get(v, VMCS12_HOST_EFER);
        if ((efer & ~EFER_ALLOWED) || ((efer & EFER_LMA) != 0) != host64 ||
            ((efer & EFER_LME) != 0) != host64)
            return VMX_ENTRY_HOST_EFER;
    }
    return VMX_ENTRY_OK;
}

/* 26.2.3: selectors with RPL 0 and TI 0, CS and TR never null, SS null only for a
 * 64-bit host; the bases in the 64-bit host state canonical. */
static enum vmx_entry_problem check_host_segments(const uint8_t *v)
{
    static const uint32_t bases[] = { VMCS12_HOST_FS_BASE, VMCS12_HOST_GS_BASE, VMCS12_HOST_TR_BASE,
                                      VMCS12_HOST_GDTR_BASE, VMCS12_HOST_IDTR_BASE };
    for (unsigned s = VMX_ES; s <= VMX_GS; s++)
        if (get(v, VMCS12_HOST_SELECTOR(s)) & 7)
            return VMX_ENTRY_HOST_SELECTOR;
    if (get(v, VMCS12_HOST_TR_SELECTOR) & 7)
        return VMX_ENTRY_HOST_SELECTOR;
    if (get(v, VMCS12_HOST_SELECTOR(VMX_CS)) == 0 || get(v, VMCS12_HOST_TR_SELECTOR) == 0)
        return VMX_ENTRY_HOST_CS_OR_TR_NULL;
    if (!(get(v, VMCS12_EXIT_CONTROLS) & EXIT_HOST_ADDRESS_SPACE_SIZE) &&
        get(v, VMCS12_HOST_SELECTOR(VMX_SS)) == 0)
        return VMX_ENTRY_HOST_SS_NULL;
    for (unsigned i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
        if (!canonical(get(v, bases[i])))
            return VMX_ENTRY_HOST_BASE;
    return VMX_ENTRY_OK;
}

/* 26.2.4: a host in IA-32e mode returns to a 64-bit host; one outside it can run
 * neither a 64-bit host nor an IA-32e guest. */
static enum vmx_entry_problem check_host_address_space(const uint8_t *v, bool l1_long_mode)
{
    bool host64 = get(v, VMCS12_EXIT_CONTROLS) & EXIT_HOST_ADDRESS_SPACE_SIZE;
    bool ia32e_guest = get(v, VMCS12_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST;
    uint64_t cr4 = get(v, VMCS12_HOST_CR4), rip = get(v, VMCS12_HOST_RIP);
    if (l1_long_mode ? !host64 : (host64 || ia32e_guest))
        return VMX_ENTRY_HOST_ADDRESS_SPACE;
    if (!host64 && (ia32e_guest || (cr4 & CR4_PCIDE) || (rip >> 32)))
        return VMX_ENTRY_HOST_32BIT;
    if (host64 && (!(cr4 & CR4_PAE) || !canonical(rip)))
        return VMX_ENTRY_HOST_64BIT;
    return VMX_ENTRY_OK;
}

/* ---- VM-entry checks: guest state (26.3.1) --------------------------------------------- */

/* What the guest checks keep asking. */
struct guest_view {
    uint32_t proc2, entry;
    bool unrestricted, ia32e, v8086;
    uint64_t cr0, rflags;
};

static struct guest_view guest_view(const uint8_t *v)
{
    uint32_t proc2 = secondary_controls(v), entry = (uint32_t)get(v, VMCS12_ENTRY_CONTROLS);
    uint64_t rflags = get(v, VMCS12_GUEST_RFLAGS);
    return (struct guest_view){
        .proc2 = proc2,
        .entry = entry,
        .unrestricted = proc2 & PROC2_UNRESTRICTED_GUEST,
        .ia32e = entry & ENTRY_IA32E_MODE_GUEST,
        .v8086 = rflags & RFLAGS_VM,
        .cr0 = get(v, VMCS12_GUEST_CR0),
        .rflags = rflags,
    };
}

/* 26.3.1.1: control registers, debug registers and MSRs.  Unrestricted guest lifts
 * CR0.PE and CR0.PG from CR0_FIXED0. */
static enum vmx_entry_problem check_guest_registers(const uint8_t *v, const struct vmx_nested_caps *c,
                                                    const struct guest_view *g)
{
    uint64_t cr4 = get(v, VMCS12_GUEST_CR4);
    uint64_t cr0_fixed0 = c->cr0_fixed0 & (g->unrestricted ? ~(CR0_PE | CR0_PG) : ~0ull);
    if (!fixed_ok(g->cr0, cr0_fixed0, c->cr0_fixed1))
        return VMX_ENTRY_GUEST_CR0;
    if ((g->cr0 & CR0_PG) && !(g->cr0 & CR0_PE))
        return VMX_ENTRY_GUEST_PG_WITHOUT_PE;
    if (!fixed_ok(cr4, c->cr4_fixed0, c->cr4_fixed1))
        return VMX_ENTRY_GUEST_CR4;
    if (g->ia32e && (!(g->cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
        return VMX_ENTRY_GUEST_IA32E_PAGING;
    if (!g->ia32e && (cr4 & CR4_PCIDE))
        return VMX_ENTRY_GUEST_PCIDE;
    if (beyond_width(get(v, VMCS12_GUEST_CR3), c->phys_bits))
        return VMX_ENTRY_GUEST_CR3;
    if ((g->entry & ENTRY_LOAD_DEBUG_CONTROLS) && (get(v, VMCS12_GUEST_DEBUGCTL) & ~DEBUGCTL_ALLOWED))
        return VMX_ENTRY_GUEST_DEBUGCTL;
    if ((g->entry & ENTRY_LOAD_DEBUG_CONTROLS) && (get(v, VMCS12_GUEST_DR7) >> 32))
        return VMX_ENTRY_GUEST_DR7;
    if (!canonical(get(v, VMCS12_GUEST_SYSENTER_ESP)) || !canonical(get(v, VMCS12_GUEST_SYSENTER_EIP)))
        return VMX_ENTRY_GUEST_SYSENTER;
    if ((g->entry & ENTRY_LOAD_PAT) && !pat_ok(get(v, VMCS12_GUEST_PAT)))
        return VMX_ENTRY_GUEST_PAT;
    if (g->entry & ENTRY_LOAD_EFER) {
        uint64_t efer = get(v, VMCS12_GUEST_EFER);
        if ((efer & ~EFER_ALLOWED) || ((efer & EFER_LMA) != 0) != g->ia32e ||
            ((g->cr0 & CR0_PG) && ((efer & EFER_LME) != 0) != g->ia32e))
            return VMX_ENTRY_GUEST_EFER;
    }
    return VMX_ENTRY_OK;
}

/* Access rights as the VMCS holds them (24.4.1) */
#define AR_TYPE(ar)     ((ar) & 0xf)
#define AR_S            BIT64(4)
#define AR_DPL(ar)      (((ar) >> 5) & 3)
#define AR_P            BIT64(7)
#define AR_L            BIT64(13)
#define AR_DB           BIT64(14)
#define AR_G            BIT64(15)
#define AR_UNUSABLE     BIT64(16)
#define AR_RESERVED     0xfffe0f00ull   /* bits 11:8 and 31:17 */

struct segment {
    uint64_t selector, base, limit, ar;
    bool usable;
};

static struct segment segment(const uint8_t *v, unsigned s)
{
    uint64_t ar = get(v, VMCS12_GUEST_ACCESS(s));
    return (struct segment){ get(v, VMCS12_GUEST_SELECTOR(s)), get(v, VMCS12_GUEST_BASE(s)),
                             get(v, VMCS12_GUEST_LIMIT(s)), ar, !(ar & AR_UNUSABLE) };
}

/* G must be 0 unless limit[11:0] is all ones, and 1 if limit[31:20] is not zero. */
static bool granularity_ok(const struct segment *s)
{
    if ((s->limit & 0xfff) != 0xfff && (s->ar & AR_G))
        return false;
    return (s->limit >> 20) == 0 || (s->ar & AR_G);
}

/* 26.3.1.2, virtual-8086 mode: every segment a 64 KiB writable data segment at
 * selector * 16, DPL 3. */
static bool v8086_segments_ok(const struct segment seg[VMX_SEGMENTS])
{
    static const unsigned real[] = { VMX_ES, VMX_CS, VMX_SS, VMX_DS, VMX_FS, VMX_GS };
    for (unsigned i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
        const struct segment *s = &seg[real[i]];
        if (s->base != s->selector << 4 || s->limit != 0xffff || s->ar != 0xf3)
            return false;
    }
    return true;
}

static bool bases_ok(const struct segment seg[VMX_SEGMENTS])
{
    if (!canonical(seg[VMX_TR].base) || !canonical(seg[VMX_FS].base) || !canonical(seg[VMX_GS].base))
        return false;
    if (seg[VMX_LDTR].usable && !canonical(seg[VMX_LDTR].base))
        return false;
    if (seg[VMX_CS].base >> 32)
        return false;
    for (unsigned s = VMX_ES; s <= VMX_DS; s++)
        if (s != VMX_CS && seg[s].usable && (seg[s].base >> 32))
            return false;
    return true;
}

/* The data segments' rules: DS, ES, FS, GS when usable. */
static enum vmx_entry_problem check_data_segment(const struct segment *s, bool unrestricted)
{
    unsigned type = AR_TYPE(s->ar);
    if (!s->usable)
        return VMX_ENTRY_OK;
    if (!(type & 1) || ((type & 8) && !(type & 2)))     /* accessed; code must be readable */
        return VMX_ENTRY_GUEST_DATA_TYPE;
    if (!(s->ar & AR_S))
        return VMX_ENTRY_GUEST_SEGMENT_S;
    if (!unrestricted && type <= 11 && AR_DPL(s->ar) < (s->selector & 3))
        return VMX_ENTRY_GUEST_DATA_DPL;
    if (!(s->ar & AR_P))
        return VMX_ENTRY_GUEST_SEGMENT_PRESENT;
    if (s->ar & AR_RESERVED)
        return VMX_ENTRY_GUEST_SEGMENT_RESERVED;
    if (!granularity_ok(s))
        return VMX_ENTRY_GUEST_SEGMENT_LIMIT;
    return VMX_ENTRY_OK;
}

static enum vmx_entry_problem check_code_and_stack(const struct segment *cs, const struct segment *ss,
                                                   const struct guest_view *g)
{
    unsigned cs_type = AR_TYPE(cs->ar), ss_type = AR_TYPE(ss->ar);
    bool cs_type_ok = cs_type == 9 || cs_type == 11 || cs_type == 13 || cs_type == 15 ||
                      (g->unrestricted && cs_type == 3);
    if (!cs_type_ok)
        return VMX_ENTRY_GUEST_CS_TYPE;
    if (ss->usable && ss_type != 3 && ss_type != 7)
        return VMX_ENTRY_GUEST_SS_TYPE;
    if (!(cs->ar & AR_S) || (ss->usable && !(ss->ar & AR_S)))
        return VMX_ENTRY_GUEST_SEGMENT_S;
    if ((cs_type == 3 && AR_DPL(cs->ar) != 0) ||
        ((cs_type == 9 || cs_type == 11) && AR_DPL(cs->ar) != AR_DPL(ss->ar)) ||
        ((cs_type == 13 || cs_type == 15) && AR_DPL(cs->ar) > AR_DPL(ss->ar)))
        return VMX_ENTRY_GUEST_CS_DPL;
    if ((!g->unrestricted && AR_DPL(ss->ar) != (ss->selector & 3)) ||
        ((cs_type == 3 || !(g->cr0 & CR0_PE)) && AR_DPL(ss->ar) != 0))
        return VMX_ENTRY_GUEST_SS_DPL;
    if (!(cs->ar & AR_P) || (ss->usable && !(ss->ar & AR_P)))
        return VMX_ENTRY_GUEST_SEGMENT_PRESENT;
    if ((cs->ar & AR_RESERVED) || (ss->usable && (ss->ar & AR_RESERVED)))
        return VMX_ENTRY_GUEST_SEGMENT_RESERVED;
    if (g->ia32e && (cs->ar & AR_L) && (cs->ar & AR_DB))
        return VMX_ENTRY_GUEST_CS_L_AND_D;
    if (!granularity_ok(cs) || (ss->usable && !granularity_ok(ss)))
        return VMX_ENTRY_GUEST_SEGMENT_LIMIT;
    return VMX_ENTRY_OK;
}

/* TR: a busy TSS (a 16-bit one only outside IA-32e mode), system, present, usable.
 * LDTR when usable: an LDT, system, present. */
static bool system_segment_ok(const struct segment *s, bool type_ok)
{
    return type_ok && !(s->ar & AR_S) && (s->ar & AR_P) && !(s->ar & AR_RESERVED) && granularity_ok(s);
}

static enum vmx_entry_problem check_guest_segments(const uint8_t *v, const struct guest_view *g)
{
    struct segment seg[VMX_SEGMENTS];
    for (unsigned s = 0; s < VMX_SEGMENTS; s++)
        seg[s] = segment(v, s);
    if ((seg[VMX_TR].selector & 4) || (seg[VMX_LDTR].usable && (seg[VMX_LDTR].selector & 4)))
        return VMX_ENTRY_GUEST_SELECTOR_TI;
    if (!g->v8086 && !g->unrestricted && (seg[VMX_SS].selector & 3) != (seg[VMX_CS].selector & 3))
        return VMX_ENTRY_GUEST_SS_RPL;
    if (g->v8086 && !v8086_segments_ok(seg))
        return VMX_ENTRY_GUEST_V8086_SEGMENT;
    if (!bases_ok(seg))
        return VMX_ENTRY_GUEST_SEGMENT_BASE;
    if (!g->v8086) {
        enum vmx_entry_problem p = check_code_and_stack(&seg[VMX_CS], &seg[VMX_SS], g);
        static const unsigned data[] = { VMX_DS, VMX_ES, VMX_FS, VMX_GS };
        for (unsigned i = 0; p == VMX_ENTRY_OK && i < sizeof(data) / sizeof(data[0]); i++)
            p = check_data_segment(&seg[data[i]], g->unrestricted);
        if (p != VMX_ENTRY_OK)
            return p;
    }
    unsigned tr_type = AR_TYPE(seg[VMX_TR].ar);
    if (!seg[VMX_TR].usable || !system_segment_ok(&seg[VMX_TR], tr_type == 11 || (tr_type == 3 && !g->ia32e)))
        return VMX_ENTRY_GUEST_TR;
    if (seg[VMX_LDTR].usable && !system_segment_ok(&seg[VMX_LDTR], AR_TYPE(seg[VMX_LDTR].ar) == 2))
        return VMX_ENTRY_GUEST_LDTR;
    return VMX_ENTRY_OK;
}

/* 26.3.1.3 and 26.3.1.4 */
static enum vmx_entry_problem check_guest_tables_rip_rflags(const uint8_t *v, const struct guest_view *g)
{
    if (!canonical(get(v, VMCS12_GUEST_GDTR_BASE)) || !canonical(get(v, VMCS12_GUEST_IDTR_BASE)) ||
        (get(v, VMCS12_GUEST_GDTR_LIMIT) >> 16) || (get(v, VMCS12_GUEST_IDTR_LIMIT) >> 16))
        return VMX_ENTRY_GUEST_DESCRIPTOR_TABLE;
    uint64_t rip = get(v, VMCS12_GUEST_RIP);
    bool code64 = g->ia32e && (get(v, VMCS12_GUEST_ACCESS(VMX_CS)) & AR_L);
    /* 64-bit code: bits 63:48 alike (the SDM asks no more of bit 47) */
    if (code64 ? ((rip >> 48) != 0 && (rip >> 48) != 0xffff) : (rip >> 32) != 0)
        return VMX_ENTRY_GUEST_RIP;
    if ((g->rflags & 0xffffffffffc08028ull) || !(g->rflags & 2))    /* 63:22, 15, 5, 3 clear; 1 set */
        return VMX_ENTRY_GUEST_RFLAGS;
    if ((g->rflags & RFLAGS_VM) && (g->ia32e || !(g->cr0 & CR0_PE)))
        return VMX_ENTRY_GUEST_RFLAGS_VM;
    uint64_t event = get(v, VMCS12_ENTRY_INTERRUPTION_INFO);
    if ((event & EVENT_VALID) && EVENT_TYPE(event) == EVENT_EXTERNAL && !(g->rflags & RFLAGS_IF))
        return VMX_ENTRY_GUEST_RFLAGS_IF;
    return VMX_ENTRY_OK;
}

enum { ACTIVITY_ACTIVE, ACTIVITY_HLT, ACTIVITY_SHUTDOWN, ACTIVITY_WAIT_FOR_SIPI };
#define BLOCKING_STI            BIT64(0)
#define BLOCKING_MOV_SS         BIT64(1)
#define BLOCKING_SMI            BIT64(2)
#define BLOCKING_NMI            BIT64(3)
#define PENDING_DEBUG_BS        BIT64(14)
#define PENDING_DEBUG_ALLOWED   0x500full       /* B3-B0, enabled breakpoint, BS (no RTM) */

/* In the HLT state only external interrupts, NMIs, #DB, #MC and a pending MTF exit
 * may be injected (26.3.1.5). */
static bool event_wakes_hlt(uint64_t event)
{
    unsigned type = EVENT_TYPE(event), vector = EVENT_VECTOR(event);
    return type == EVENT_EXTERNAL || type == EVENT_NMI || (type == EVENT_OTHER && vector == 0) ||
           (type == EVENT_HARDWARE_EXCEPTION && (vector == 1 || vector == 18));
}

/* 26.3.1.5: activity and interruptibility state, pending debug exceptions. */
static enum vmx_entry_problem check_guest_events(const uint8_t *v, const struct vmx_nested_caps *c,
                                                 const struct guest_view *g)
{
    uint64_t activity = get(v, VMCS12_GUEST_ACTIVITY_STATE), blocking = get(v, VMCS12_GUEST_INTERRUPTIBILITY);
    uint64_t event = get(v, VMCS12_ENTRY_INTERRUPTION_INFO), pending = get(v, VMCS12_GUEST_PENDING_DEBUG);
    bool injecting = event & EVENT_VALID;
    unsigned type = EVENT_TYPE(event);
    if (activity > ACTIVITY_WAIT_FOR_SIPI ||
        (activity != ACTIVITY_ACTIVE && !(c->misc & BIT64(5 + activity))))    /* A.6: bits 8:6 */
        return VMX_ENTRY_GUEST_ACTIVITY;
    if (activity == ACTIVITY_HLT && AR_DPL(get(v, VMCS12_GUEST_ACCESS(VMX_SS))) != 0)
        return VMX_ENTRY_GUEST_HLT_SS_DPL;
    if (activity != ACTIVITY_ACTIVE && (blocking & (BLOCKING_STI | BLOCKING_MOV_SS)))
        return VMX_ENTRY_GUEST_ACTIVITY_BLOCKING;
    if (injecting && activity == ACTIVITY_HLT && !event_wakes_hlt(event))
        return VMX_ENTRY_GUEST_ACTIVITY_EVENT;
    if (blocking >> 4)                                  /* 31:5 reserved, 4 needs SGX */
        return VMX_ENTRY_GUEST_INTERRUPTIBILITY;
    if ((blocking & BLOCKING_STI) && (blocking & BLOCKING_MOV_SS))
        return VMX_ENTRY_GUEST_STI_AND_MOV_SS;
    if ((blocking & BLOCKING_STI) && !(g->rflags & RFLAGS_IF))
        return VMX_ENTRY_GUEST_STI_WITH_IF_CLEAR;
    if (injecting && ((type == EVENT_EXTERNAL && (blocking & (BLOCKING_STI | BLOCKING_MOV_SS))) ||
                      (type == EVENT_NMI && (blocking & BLOCKING_MOV_SS))))
        return VMX_ENTRY_GUEST_INTERRUPT_BLOCKED;
    if (blocking & BLOCKING_SMI)                        /* the guest is never in SMM */
        return VMX_ENTRY_GUEST_SMI_BLOCKING;
    if (injecting && type == EVENT_NMI && (get(v, VMCS12_PIN_CONTROLS) & PIN_VIRTUAL_NMIS) &&
        (blocking & BLOCKING_NMI))
        return VMX_ENTRY_GUEST_NMI_BLOCKED;
    if (pending & ~PENDING_DEBUG_ALLOWED)
        return VMX_ENTRY_GUEST_PENDING_DEBUG;
    if ((blocking & (BLOCKING_STI | BLOCKING_MOV_SS)) || activity == ACTIVITY_HLT) {
        /* a single step is pending exactly when TF is set and BTF does not defer it */
        bool step = (g->rflags & RFLAGS_TF) && !(get(v, VMCS12_GUEST_DEBUGCTL) & DEBUGCTL_BTF);
        if (((pending & PENDING_DEBUG_BS) != 0) != step)
            return VMX_ENTRY_GUEST_PENDING_DEBUG_BS;
    }
    /* Implementation-specific in the SDM; this virtual CPU refuses it (qualification 3). */
    if (injecting && type == EVENT_NMI && (blocking & BLOCKING_STI))
        return VMX_ENTRY_GUEST_NMI_WITH_STI_BLOCKING;
    return VMX_ENTRY_OK;
}

/* 26.3.1.5: without VMCS shadowing the link pointer is unused, but one other than all
 * ones must still name a page holding this revision with bit 31 clear. */
static enum vmx_entry_problem check_link_pointer(const uint8_t *v, const struct vmx_nested_caps *c,
                                                 vmx_read_phys_fn *read, void *ctx)
{
    uint64_t link = get(v, VMCS12_LINK_POINTER);
    if (link == VMX_NO_VMCS)
        return VMX_ENTRY_OK;
    if (!page_address_ok(link, c->phys_bits) || !revision_ok(region_revision(read, ctx, link)))
        return VMX_ENTRY_GUEST_LINK_POINTER;
    return VMX_ENTRY_OK;
}

/* 26.3.1.6: with EPT, a PAE guest's PDPTEs come from VMCS12; each present one must
 * have its reserved bits (2:1, 8:5, above the address width) clear. */
static enum vmx_entry_problem check_pdptes(const uint8_t *v, const struct vmx_nested_caps *c,
                                           const struct guest_view *g)
{
    if (!(g->proc2 & PROC2_ENABLE_EPT) || g->ia32e || !(g->cr0 & CR0_PG) ||
        !(get(v, VMCS12_GUEST_CR4) & CR4_PAE))
        return VMX_ENTRY_OK;
    for (unsigned n = 0; n < 4; n++) {
        uint64_t pdpte = get(v, VMCS12_GUEST_PDPTE(n));
        if ((pdpte & 1) && ((pdpte & 0x1e6) || beyond_width(pdpte, c->phys_bits)))
            return VMX_ENTRY_GUEST_PDPTE;
    }
    return VMX_ENTRY_OK;
}

enum vmx_entry_problem vmx_entry_check(const uint8_t vmcs[VMX_VMCS_SIZE],
                                       const struct vmx_nested_caps *caps, bool l1_long_mode,
                                       vmx_read_phys_fn *read, void *ctx)
{
    enum vmx_entry_problem p = check_execution_controls(vmcs, caps);
    if (p == VMX_ENTRY_OK)
        p = check_exit_controls(vmcs, caps);
    if (p == VMX_ENTRY_OK)
        p = check_entry_controls(vmcs, caps);
    if (p == VMX_ENTRY_OK)
        p = check_host_registers(vmcs, caps);
    if (p == VMX_ENTRY_OK)
        p = check_host_segments(vmcs);
    if (p == VMX_ENTRY_OK)
        p = check_host_address_space(vmcs, l1_long_mode);
    if (p != VMX_ENTRY_OK)
        return p;
    struct guest_view g = guest_view(vmcs);
    p = check_guest_registers(vmcs, caps, &g);
    if (p == VMX_ENTRY_OK)
        p = check_guest_segments(vmcs, &g);
    if (p == VMX_ENTRY_OK)
        p = check_guest_tables_rip_rflags(vmcs, &g);
    if (p == VMX_ENTRY_OK)
        p = check_guest_events(vmcs, caps, &g);
    if (p == VMX_ENTRY_OK)
        p = check_link_pointer(vmcs, caps, read, ctx);
    if (p == VMX_ENTRY_OK)
        p = check_pdptes(vmcs, caps, &g);
    return p;
}

const char *vmx_entry_problem_name(enum vmx_entry_problem p)
{
    static const char *const names[VMX_ENTRY_PROBLEM_COUNT] = {
        [VMX_ENTRY_OK] = "ok",
        [VMX_ENTRY_PIN_RESERVED] = "pin-based controls against TRUE_PINBASED_CTLS",
        [VMX_ENTRY_PROC_RESERVED] = "processor-based controls against TRUE_PROCBASED_CTLS",
        [VMX_ENTRY_PROC2_RESERVED] = "secondary controls against PROCBASED_CTLS2",
        [VMX_ENTRY_CR3_TARGET_COUNT] = "CR3-target count above the offer",
        [VMX_ENTRY_IO_BITMAP_ADDRESS] = "I/O bitmap address unaligned or too wide",
        [VMX_ENTRY_MSR_BITMAP_ADDRESS] = "MSR bitmap address unaligned or too wide",
        [VMX_ENTRY_VIRTUAL_NMIS_WITHOUT_NMI_EXITING] = "virtual NMIs without NMI exiting",
        [VMX_ENTRY_NMI_WINDOW_WITHOUT_VIRTUAL_NMIS] = "NMI-window exiting without virtual NMIs",
        [VMX_ENTRY_VPID_ZERO] = "VPID enabled with VPID 0",
        [VMX_ENTRY_EPT_POINTER] = "invalid EPT pointer",
        [VMX_ENTRY_UNRESTRICTED_WITHOUT_EPT] = "unrestricted guest without EPT",
        [VMX_ENTRY_EXIT_RESERVED] = "exit controls against TRUE_EXIT_CTLS",
        [VMX_ENTRY_EXIT_MSR_STORE_AREA] = "VM-exit MSR-store area unaligned or too wide",
        [VMX_ENTRY_EXIT_MSR_LOAD_AREA] = "VM-exit MSR-load area unaligned or too wide",
        [VMX_ENTRY_ENTRY_RESERVED] = "entry controls against TRUE_ENTRY_CTLS",
        [VMX_ENTRY_EVENT_TYPE] = "injected event of a reserved type",
        [VMX_ENTRY_EVENT_VECTOR] = "injected event's vector does not fit its type",
        [VMX_ENTRY_EVENT_ERROR_CODE_BIT] = "injected event's deliver-error-code bit",
        [VMX_ENTRY_EVENT_RESERVED] = "injected event's reserved bits 30:12",
        [VMX_ENTRY_EVENT_ERROR_CODE] = "injected error code above bit 15",
        [VMX_ENTRY_EVENT_LENGTH] = "software event with instruction length outside 1-15",
        [VMX_ENTRY_ENTRY_MSR_LOAD_AREA] = "VM-entry MSR-load area unaligned or too wide",
        [VMX_ENTRY_HOST_CR0] = "host CR0 against CR0_FIXED0/1",
        [VMX_ENTRY_HOST_CR4] = "host CR4 against CR4_FIXED0/1",
        [VMX_ENTRY_HOST_CR3] = "host CR3 beyond the address width",
        [VMX_ENTRY_HOST_SYSENTER] = "host SYSENTER_ESP/EIP not canonical",
        [VMX_ENTRY_HOST_PAT] = "host PAT with an invalid type",
        [VMX_ENTRY_HOST_EFER] = "host EFER reserved bits or LMA/LME against the address-space size",
        [VMX_ENTRY_HOST_SELECTOR] = "host selector with RPL or TI set",
        [VMX_ENTRY_HOST_CS_OR_TR_NULL] = "host CS or TR null",
        [VMX_ENTRY_HOST_SS_NULL] = "host SS null for a 32-bit host",
        [VMX_ENTRY_HOST_BASE] = "host FS/GS/TR/GDTR/IDTR base not canonical",
        [VMX_ENTRY_HOST_ADDRESS_SPACE] = "host address-space size against L1's mode",
        [VMX_ENTRY_HOST_32BIT] = "32-bit host with IA-32e guest, PCIDE or RIP above 4 GiB",
        [VMX_ENTRY_HOST_64BIT] = "64-bit host without PAE or with RIP not canonical",
        [VMX_ENTRY_GUEST_CR0] = "guest CR0 against CR0_FIXED0/1",
        [VMX_ENTRY_GUEST_PG_WITHOUT_PE] = "guest CR0.PG without CR0.PE",
        [VMX_ENTRY_GUEST_CR4] = "guest CR4 against CR4_FIXED0/1",
        [VMX_ENTRY_GUEST_IA32E_PAGING] = "IA-32e guest without CR0.PG or CR4.PAE",
        [VMX_ENTRY_GUEST_PCIDE] = "guest CR4.PCIDE outside IA-32e mode",
        [VMX_ENTRY_GUEST_CR3] = "guest CR3 beyond the address width",
        [VMX_ENTRY_GUEST_DEBUGCTL] = "guest DEBUGCTL reserved bits",
        [VMX_ENTRY_GUEST_DR7] = "guest DR7[63:32] set",
        [VMX_ENTRY_GUEST_SYSENTER] = "guest SYSENTER_ESP/EIP not canonical",
        [VMX_ENTRY_GUEST_PAT] = "guest PAT with an invalid type",
        [VMX_ENTRY_GUEST_EFER] = "guest EFER reserved bits or LMA/LME against IA-32e mode",
        [VMX_ENTRY_GUEST_SELECTOR_TI] = "guest TR or LDTR selector with TI set",
        [VMX_ENTRY_GUEST_SS_RPL] = "guest SS.RPL differs from CS.RPL",
        [VMX_ENTRY_GUEST_V8086_SEGMENT] = "virtual-8086 segment not at selector*16, 64 KiB, rights 0xf3",
        [VMX_ENTRY_GUEST_SEGMENT_BASE] = "guest segment base not canonical or above 4 GiB",
        [VMX_ENTRY_GUEST_CS_TYPE] = "guest CS type",
        [VMX_ENTRY_GUEST_SS_TYPE] = "guest SS type",
        [VMX_ENTRY_GUEST_DATA_TYPE] = "guest data segment type",
        [VMX_ENTRY_GUEST_SEGMENT_S] = "guest code or data segment with S clear",
        [VMX_ENTRY_GUEST_CS_DPL] = "guest CS.DPL",
        [VMX_ENTRY_GUEST_SS_DPL] = "guest SS.DPL",
        [VMX_ENTRY_GUEST_DATA_DPL] = "guest data segment DPL below its RPL",
        [VMX_ENTRY_GUEST_SEGMENT_PRESENT] = "guest segment not present",
        [VMX_ENTRY_GUEST_SEGMENT_RESERVED] = "guest access rights reserved bits",
        [VMX_ENTRY_GUEST_CS_L_AND_D] = "IA-32e guest with CS.L and CS.D",
        [VMX_ENTRY_GUEST_SEGMENT_LIMIT] = "guest segment limit against G",
        [VMX_ENTRY_GUEST_TR] = "guest TR not a usable busy TSS",
        [VMX_ENTRY_GUEST_LDTR] = "guest LDTR not an LDT",
        [VMX_ENTRY_GUEST_DESCRIPTOR_TABLE] = "guest GDTR/IDTR base not canonical or limit above 16 bits",
        [VMX_ENTRY_GUEST_RIP] = "guest RIP too wide for its mode",
        [VMX_ENTRY_GUEST_RFLAGS] = "guest RFLAGS reserved bits",
        [VMX_ENTRY_GUEST_RFLAGS_VM] = "guest RFLAGS.VM in IA-32e mode or without CR0.PE",
        [VMX_ENTRY_GUEST_RFLAGS_IF] = "external interrupt injected with RFLAGS.IF clear",
        [VMX_ENTRY_GUEST_ACTIVITY] = "guest activity state not offered",
        [VMX_ENTRY_GUEST_HLT_SS_DPL] = "HLT state with SS.DPL not 0",
        [VMX_ENTRY_GUEST_ACTIVITY_BLOCKING] = "inactive state with STI or MOV-SS blocking",
        [VMX_ENTRY_GUEST_ACTIVITY_EVENT] = "injected event the HLT state would not take",
        [VMX_ENTRY_GUEST_INTERRUPTIBILITY] = "guest interruptibility reserved bits",
        [VMX_ENTRY_GUEST_STI_AND_MOV_SS] = "blocking by STI and by MOV SS",
        [VMX_ENTRY_GUEST_STI_WITH_IF_CLEAR] = "blocking by STI with RFLAGS.IF clear",
        [VMX_ENTRY_GUEST_INTERRUPT_BLOCKED] = "injected interrupt or NMI the blocking holds back",
        [VMX_ENTRY_GUEST_SMI_BLOCKING] = "blocking by SMI outside SMM",
        [VMX_ENTRY_GUEST_NMI_BLOCKED] = "NMI injected while virtual NMIs are blocked",
        [VMX_ENTRY_GUEST_PENDING_DEBUG] = "pending debug exceptions reserved bits",
        [VMX_ENTRY_GUEST_PENDING_DEBUG_BS] = "pending single step against RFLAGS.TF",
        [VMX_ENTRY_GUEST_NMI_WITH_STI_BLOCKING] = "NMI injected with blocking by STI",
        [VMX_ENTRY_GUEST_LINK_POINTER] = "VMCS link pointer",
        [VMX_ENTRY_GUEST_PDPTE] = "guest PDPTE reserved bits",
    };
    return (unsigned)p < VMX_ENTRY_PROBLEM_COUNT ? names[p] : "?";
}

enum vmx_entry_stage vmx_entry_problem_stage(enum vmx_entry_problem p)
{
    if (p == VMX_ENTRY_OK || (unsigned)p >= VMX_ENTRY_PROBLEM_COUNT)
        return VMX_ENTRY_PASSES;
    if (p < VMX_ENTRY_HOST_CR0)
        return VMX_ENTRY_FAILS_CONTROLS;
    return p < VMX_ENTRY_GUEST_CR0 ? VMX_ENTRY_FAILS_HOST : VMX_ENTRY_FAILS_GUEST;
}

struct vmx_outcome vmx_entry_outcome(enum vmx_entry_problem p)
{
    switch (vmx_entry_problem_stage(p)) {
    case VMX_ENTRY_FAILS_CONTROLS:  return outcome(VMX_FAIL_VALID, VMXERR_ENTRY_BAD_CONTROLS);
    case VMX_ENTRY_FAILS_HOST:      return outcome(VMX_FAIL_VALID, VMXERR_ENTRY_BAD_HOST_STATE);
    default:                        return outcome(VMX_SUCCEED, 0);
    }
}

void vmx_vmcs12_write_entry_failure(uint8_t vmcs[VMX_VMCS_SIZE], enum vmx_entry_problem p)
{
    uint64_t qualification = p == VMX_ENTRY_GUEST_PDPTE ? 2 :
                             p == VMX_ENTRY_GUEST_NMI_WITH_STI_BLOCKING ? 3 :
                             p == VMX_ENTRY_GUEST_LINK_POINTER ? 4 : 0;
    vmcs12_set(vmcs, VMCS12_EXIT_REASON, VMX_EXIT_INVALID_GUEST_STATE | VMX_EXIT_REASON_ENTRY_FAILURE);
    vmcs12_set(vmcs, VMCS12_EXIT_QUALIFICATION, qualification);
}

/* ---- Exits L1 asked for ----------------------------------------------------------------- */

/* 25.2: a #PF exits on bit 14 when (error code & mask) == match, on its inverse
 * otherwise. */
bool vmx_exception_exits(uint32_t exception_bitmap, uint32_t pf_mask, uint32_t pf_match,
                         unsigned vector, uint32_t error_code)
{
    if (vector > 31)
        return true;
    bool bit = (exception_bitmap >> vector) & 1;
    if (vector == 14 && (error_code & pf_mask) != pf_match)
        return !bit;
    return bit;
}

static bool bitmap_bit(vmx_read_phys_fn *read, void *ctx, uint64_t address, unsigned bit)
{
    uint8_t byte;
    if (!read(ctx, address + bit / 8, &byte, 1))
        return true;
    return (byte >> (bit % 8)) & 1;
}

/* 25.1.3: bitmap A covers ports 0000-7FFF, B 8000-FFFF, every port of the access
 * counts, and an access that wraps past FFFF always exits. */
bool vmx_io_bitmaps_exit(vmx_read_phys_fn *read, void *ctx, uint64_t bitmap_a, uint64_t bitmap_b,
                         uint16_t port, unsigned size)
{
    if ((unsigned)port + size > 0x10000)
        return true;
    for (unsigned p = port; p < (unsigned)port + size; p++) {
        uint64_t bitmap = (p < 0x8000 ? bitmap_a : bitmap_b) & ~0xfffull;
        if (bitmap_bit(read, ctx, bitmap, p & 0x7fff))
            return true;
    }
    return false;
}

/* 24.6.9: four 1 KiB bitmaps in one page: read low, read high, write low, write high;
 * MSRs outside 0-1FFF and C0000000-C0001FFF always exit. */
bool vmx_msr_bitmap_exits(vmx_read_phys_fn *read, void *ctx, uint64_t bitmap, uint32_t msr,
                          bool write)
{
    uint64_t offset;
    if (msr <= 0x1fffu)
        offset = 0;
    else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
        offset = 1024;
    else
        return true;
    if (write)
        offset += 2048;
    return bitmap_bit(read, ctx, (bitmap & ~0xfffull) + offset, msr & 0x1fff);
}

enum { CR_MOV_TO, CR_MOV_FROM, CR_CLTS, CR_LMSW };

/* 25.1.3: MOV to CR0/CR4 exits when it would change a bit L1 owns (set in the
 * guest/host mask) away from its read shadow; MOV to CR3 unless the value is one of
 * the CR3 targets; CLTS when L1 owns TS and its shadow has it set; LMSW when it would
 * change an owned bit of 3:0 (it can set PE but never clear it). */
bool vmx_cr_access_exits(const uint8_t vmcs12[VMX_VMCS_SIZE], uint64_t qualification, uint64_t value)
{
    unsigned cr = qualification & 0xf, access = (qualification >> 4) & 3;
    uint64_t proc = get(vmcs12, VMCS12_PROC_CONTROLS);
    uint64_t mask0 = get(vmcs12, VMCS12_CR0_GUEST_HOST_MASK), shadow0 = get(vmcs12, VMCS12_CR0_READ_SHADOW);
    switch (access) {
    case CR_MOV_TO:
        if (cr == 0)
            return ((value ^ shadow0) & mask0) != 0;
        if (cr == 4)
            return ((value ^ get(vmcs12, VMCS12_CR4_READ_SHADOW)) &
                    get(vmcs12, VMCS12_CR4_GUEST_HOST_MASK)) != 0;
        if (cr == 8)
            return proc & PROC_CR8_LOAD_EXITING;
        if (cr == 3) {
            uint64_t count = get(vmcs12, VMCS12_CR3_TARGET_COUNT);
            if (!(proc & PROC_CR3_LOAD_EXITING))
                return false;
            for (unsigned n = 0; n < count && n < VMX_NESTED_CR3_TARGETS; n++)
                if (get(vmcs12, VMCS12_CR3_TARGET(n)) == value)
                    return false;
            return true;
        }
        return true;
    case CR_MOV_FROM:
        if (cr == 3)
            return proc & PROC_CR3_STORE_EXITING;
        if (cr == 8)
            return proc & PROC_CR8_STORE_EXITING;
        return true;                            /* never reported by the hardware */
    case CR_CLTS:
        return (mask0 & CR0_TS) && (shadow0 & CR0_TS);
    default: {
        uint64_t source = (qualification >> 16) & 0xffff;
        if ((mask0 & CR0_PE) && (source & CR0_PE) && !(shadow0 & CR0_PE))
            return true;
        return ((source ^ shadow0) & mask0 & 0xe) != 0;
    }
    }
}

bool vmx_l1_wants_exit(const uint8_t vmcs12[VMX_VMCS_SIZE], const struct vmx_l2_exit *e,
                       vmx_read_phys_fn *read, void *ctx)
{
    uint64_t pin = get(vmcs12, VMCS12_PIN_CONTROLS), proc = get(vmcs12, VMCS12_PROC_CONTROLS);
    uint32_t proc2 = secondary_controls(vmcs12);
    switch (e->reason) {
    case VMX_EXIT_EXCEPTION_OR_NMI:
        if (EVENT_TYPE(e->interruption_info) == EVENT_NMI)
            return pin & PIN_NMI_EXITING;
        return vmx_exception_exits((uint32_t)get(vmcs12, VMCS12_EXCEPTION_BITMAP),
                                   (uint32_t)get(vmcs12, VMCS12_PF_ERROR_MASK),
                                   (uint32_t)get(vmcs12, VMCS12_PF_ERROR_MATCH),
                                   EVENT_VECTOR(e->interruption_info), e->error_code);
    case VMX_EXIT_EXTERNAL_INTERRUPT:   return pin & PIN_EXTERNAL_INTERRUPT_EXITING;
    case VMX_EXIT_PREEMPTION_TIMER:     return pin & PIN_PREEMPTION_TIMER;
    case VMX_EXIT_IO_SMI:
    case VMX_EXIT_OTHER_SMI:
    case VMX_EXIT_RSM:                  return false;   /* SMM is the host's */
    case VMX_EXIT_INTERRUPT_WINDOW:     return proc & PROC_INTERRUPT_WINDOW_EXITING;
    case VMX_EXIT_NMI_WINDOW:           return proc & PROC_NMI_WINDOW_EXITING;
    case VMX_EXIT_HLT:                  return proc & PROC_HLT_EXITING;
    case VMX_EXIT_INVLPG:
    case VMX_EXIT_INVPCID:              return proc & PROC_INVLPG_EXITING;
    case VMX_EXIT_RDPMC:                return proc & PROC_RDPMC_EXITING;
    case VMX_EXIT_RDTSC:
    case VMX_EXIT_RDTSCP:               return proc & PROC_RDTSC_EXITING;
    case VMX_EXIT_MOV_DR:               return proc & PROC_MOV_DR_EXITING;
    case VMX_EXIT_MWAIT:                return proc & PROC_MWAIT_EXITING;
    case VMX_EXIT_MONITOR:              return proc & PROC_MONITOR_EXITING;
    case VMX_EXIT_PAUSE:                return proc & PROC_PAUSE_EXITING;
    case VMX_EXIT_MONITOR_TRAP_FLAG:    return proc & PROC_MONITOR_TRAP_FLAG;
    case VMX_EXIT_TPR_BELOW_THRESHOLD:  return proc & PROC_TPR_SHADOW;
    case VMX_EXIT_CR_ACCESS:            return vmx_cr_access_exits(vmcs12, e->qualification, e->operand);
    case VMX_EXIT_IO:
        if (!(proc & PROC_USE_IO_BITMAPS))
            return proc & PROC_UNCONDITIONAL_IO_EXITING;
        /* qualification: size - 1 in bits 2:0, the port in 31:16 (27.2.1) */
        return vmx_io_bitmaps_exit(read, ctx, get(vmcs12, VMCS12_IO_BITMAP_A),
                                   get(vmcs12, VMCS12_IO_BITMAP_B), (uint16_t)(e->qualification >> 16),
                                   (unsigned)(e->qualification & 7) + 1);
    case VMX_EXIT_RDMSR:
    case VMX_EXIT_WRMSR:
        if (!(proc & PROC_USE_MSR_BITMAPS))
            return true;
        return vmx_msr_bitmap_exits(read, ctx, get(vmcs12, VMCS12_MSR_BITMAP), (uint32_t)e->operand,
                                    e->reason == VMX_EXIT_WRMSR);
    case VMX_EXIT_GDTR_IDTR:
    case VMX_EXIT_LDTR_TR:              return proc2 & PROC2_DESCRIPTOR_TABLE_EXITING;
    case VMX_EXIT_EPT_VIOLATION:
    case VMX_EXIT_EPT_MISCONFIG:        return proc2 & PROC2_ENABLE_EPT;
    case VMX_EXIT_WBINVD:               return proc2 & PROC2_WBINVD_EXITING;
    case VMX_EXIT_RDRAND:               return proc2 & PROC2_RDRAND_EXITING;
    case VMX_EXIT_RDSEED:               return proc2 & PROC2_RDSEED_EXITING;
    default:
        /* Triple fault, INIT, SIPI, task switch, CPUID, GETSEC, INVD, VMCALL and every
         * VMX instruction, XSETBV, the entry failures: unconditional in VMX non-root
         * operation (25.1.2); and anything this file does not know. */
        return true;
    }
}
