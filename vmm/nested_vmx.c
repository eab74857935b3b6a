/* Virtual VMX in the VMM (nested_vmx.h).  The rules are x86/vmx_nested.h's; this file
 * reaches the guest's state and memory.  Section numbers are those of the SDM editions
 * of 2016-2022, Vol. 3C: 24 the VMCS, 26 VM entries, 27 VM exits, 30 the instructions. */
#include <pith/alloc.h>
#include <pith/string.h>

#include "x86/ept_walk.h"
#include "x86/guest_walk.h"
#include "x86/vmx_nested.h"
#include "x86/x86_decode.h"
#include "emulate.h"
#include "interrupt.h"
#include "nested.h"
#include "nested_shadow.h"
#include "nested_vmx.h"
#include "vm.h"

#define VECTOR_UD 6
#define VECTOR_GP 13
#define CR4_VMXE  (1ull << 13)
#define SEG_ATTR_L (1ull << 9)          /* pith/vm.h attributes: 64-bit code */

/* The VMX instructions' basic exit reasons (appendix C) besides vmx_nested.h's. */
#define EXIT_VMLAUNCH 20u
#define EXIT_VMPTRLD  21u
#define EXIT_VMPTRST  22u
#define EXIT_VMREAD   23u
#define EXIT_VMRESUME 24u
#define EXIT_VMWRITE  25u
#define EXIT_VMXOFF   26u

/* The guest's guest of one vCPU: the L2 vCPUs it runs on, and what its entry owes it. */
struct vmx_l2 {
    struct nested_l2_run run;
    struct nested_l2_cpu cpus[2];       /* without EPT (in the guest's own space), with */
    bool ept;                           /* the one that runs: EPT on */
    struct nested_shadow shadow;        /* with EPT: L2 runs here (nested_shadow.h) */
    uint64_t eptp;                      /* what the shadow is of */
    uint64_t exceptions[2];             /* the exception bitmap each L2 vCPU has */
    pith_cap_t endpoint;
    bool entry_pending;                 /* L2 was recalled to take VMCS12's event */
    struct nested_l2_reply entry;
    uint64_t entries, exits;            /* L2 started; VM exits into L1 (from L2 or not) */
    uint64_t instructions;              /* VMX instructions emulated */
};

/* What each vCPU of the guest has of virtual VMX.  VMCS12 lives in the guest's page
 * at cpu.current_vmcs; the VMM works on a copy, written back when another is made
 * current, the page is cleared, or VMX is left (SDM 24.11.1 allows a processor the
 * same: the guest must not touch a current VMCS with ordinary stores). */
struct vmx_vcpu {
    struct vmx_nested_cpu cpu;
    bool cached;                        /* vmcs holds the current VMCS12 */
    uint8_t vmcs[VMX_VMCS_SIZE];
    struct vmx_l2 l2;
};
/* On the heap for a guest with virtual VMX only: 35 KiB that every other guest's VMM
 * would carry in its image (guest_overhead_kib, docs/benchmarks.md).  Without it every
 * vCPU sees `off`: VMX off, nothing cached, no L2. */
static struct vmx_vcpu *vmx_vcpus, off;
static struct vmx_nested_caps caps;
static bool host_vmx;                   /* the host is a VMX host (its exits' MR0 are VMX reasons) */

static struct vmx_vcpu *vmx_of(const struct vcpu *c)
{
    return vmx_vcpus ? &vmx_vcpus[c->index] : &off;
}

/* The L2 vCPU and thread of the last entry (with EPT or without). */
static struct nested_l2_cpu *l2_cpu(struct vmx_l2 *l2)
{
    return &l2->cpus[l2->ept];
}

static void host_cpuid(uint32_t leaf, uint32_t out[4])
{
    __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3])
                     : "a"(leaf), "c"(0));
}

/* The CR4 bits a vCPU may have (docs/vm.md, "State groups": those this CPU has but
 * VMXE, SMXE and CET), which the offer's CR4_FIXED1 names with VMXE. */
#define NESTED_CR4_SUPPORTED 0x7ffull   /* VME ... OSXMMEXCPT: what CPUID offers enables no more */

void nested_vmx_setup(struct vm *vm, bool nested)
{
    uint32_t r[4];
    host_cpuid(1, r);
    host_vmx = (r[2] >> 5) & 1;
    vm->nested_vmx = nested && host_vmx;
    host_cpuid(0x80000008u, r);
    vmx_nested_caps_init(&caps, (r[0] & 0xff) ? r[0] & 0xff : 36, NESTED_CR4_SUPPORTED, true);
    vmx_nested_reset(&off.cpu);
    if (vm->nested_vmx && !vmx_vcpus) {
        if ((vmx_vcpus = pith_malloc(VM_MAX_VCPUS * sizeof(*vmx_vcpus))) != NULL)
            memset(vmx_vcpus, 0, VM_MAX_VCPUS * sizeof(*vmx_vcpus));
        else
            vm_log(vm, "no memory for virtual VMX: the guest runs without it");
        vm->nested_vmx = vmx_vcpus != NULL;
    }
    for (unsigned i = 0; vmx_vcpus && i < VM_MAX_VCPUS; i++) {
        vmx_nested_reset(&vmx_vcpus[i].cpu);
        vmx_vcpus[i].cached = false;
    }
}

void nested_vmx_cpuid(struct vm *vm, uint32_t leaf, uint32_t out[4])
{
    if (vm->nested_vmx)
        vmx_nested_cpuid(leaf, out);
}

bool nested_vmx_msr_read(struct vm *vm, uint32_t index, uint64_t *value, bool *ok)
{
    if (!vm->nested_vmx)
        return false;
    enum msr_claim r = vmx_nested_msr_read(&caps, index, value);
    *ok = r == MSR_DONE;
    return r != MSR_NOT_MINE;
}

bool nested_vmx_msr_write(struct vm *vm, uint32_t index, bool *ok)
{
    if (!vm->nested_vmx)
        return false;
    enum msr_claim r = vmx_nested_msr_write(index);
    *ok = r == MSR_DONE;
    return r != MSR_NOT_MINE;
}

/* CR4.VMXE: on a VMX host the CR group holds the bit the guest reads (docs/vm.md), so
 * the VMM keeps nothing of its own; it refuses the bit where VMX is not offered, and
 * its clearing in VMX operation (SDM 23.8). */
bool nested_vmx_cr4_write(struct vm *vm, uint64_t *value)
{
    bool vmxe = (*value & CR4_VMXE) != 0;
    if (vmxe && !vm->nested_vmx)
        return false;
    return vmxe || !vmx_of(vm->cpu)->cpu.vmxon;
}

/* ---- L1's state as the instructions see it ------------------------------------------- */

static uint64_t seg_word(struct vm *vm, unsigned segment)
{
    return vm->cpu->exit.mr[VM_SEG(2 * segment)];
}

static unsigned code_size(struct vm *vm)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    return x86_code_size(mr[VM_CR(VM_CR0)], mr[VM_CR(VM_EFER)], mr[VM_RFLAGS],
                         (unsigned)(seg_word(vm, GUEST_SEG_CS) >> 16) & 0xfff);
}

static struct vmx_l1_mode l1_mode(struct vm *vm)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    return (struct vmx_l1_mode){
        .cr0 = mr[VM_CR(VM_CR0)],
        .cr4 = mr[VM_CR(VM_CR4)],
        .v8086 = (mr[VM_RFLAGS] & GUEST_RFLAGS_VM) != 0,
        .lma = (mr[VM_CR(VM_EFER)] & GUEST_EFER_LMA) != 0,
        .cs_l = ((seg_word(vm, GUEST_SEG_CS) >> 16) & SEG_ATTR_L) != 0,
        .cpl = guest_cpl(mr[VM_CR(VM_CR0)], mr[VM_RFLAGS], (unsigned)(seg_word(vm, GUEST_SEG_SS) >> 16) & 0xfff),
    };
}

static bool read_phys(void *ctx, uint64_t address, void *buf, size_t length)
{
    return vm_read_phys(ctx, address, buf, length);
}

/* ---- Operands (SDM 27.2.1 and 27.2.4: the qualification is the displacement, the
 * VM-exit instruction information names the registers) ------------------------------- */

struct operand {
    bool is_register;
    unsigned reg;                       /* reg1 (VMREAD/VMWRITE) when is_register */
    uint64_t linear;                    /* the memory operand's linear address otherwise */
    unsigned reg2;                      /* VMREAD/VMWRITE: the encoding; INVEPT/INVVPID: the type */
};

static struct operand operand_of(struct vm *vm)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    uint64_t info = mr[2], displacement = mr[1];
    unsigned scale = info & 3, address_size = (info >> 7) & 7, segment = (info >> 15) & 7;
    struct operand o = {
        .is_register = (info >> 10) & 1, .reg = (info >> 3) & 15, .reg2 = (info >> 28) & 15,
    };
    if (o.is_register)
        return o;
    uint64_t ea = displacement;
    if (!((info >> 22) & 1))
        ea += mr[VM_GPR((info >> 18) & 15)] << scale;
    if (!((info >> 27) & 1))
        ea += mr[VM_GPR((info >> 23) & 15)];
    ea &= address_size == 0 ? 0xffffull : address_size == 1 ? 0xffffffffull : ~0ull;
    o.linear = guest_segment_linear(code_size(vm) == 8, segment, mr[VM_SEG(2 * segment + 1)], ea);
    return o;
}

static bool operand_access(struct vm *vm, const struct operand *o, void *buf, unsigned size, bool write,
                           uint64_t *inject)
{
    uint64_t error_code = 0;
    if (vm_linear_access(vm, o->linear, buf, size, write, inject, &error_code))
        return true;
    *inject |= error_code << 32;
    return false;
}

/* ---- VMCS12: the current one's copy ---------------------------------------------------- */

static bool vmcs_write_back(struct vm *vm)
{
    struct vmx_vcpu *x = vmx_of(vm->cpu);
    if (!x->cached)
        return true;
    x->cached = false;
    return vm_write_phys(vm, x->cpu.current_vmcs, x->vmcs, VMX_VMCS_SIZE);
}

/* The current VMCS12, read in once; NULL when there is none. */
static uint8_t *current_vmcs(struct vm *vm)
{
    struct vmx_vcpu *x = vmx_of(vm->cpu);
    if (x->cpu.current_vmcs == VMX_NO_VMCS)
        return NULL;
    if (!x->cached && vm_read_phys(vm, x->cpu.current_vmcs, x->vmcs, VMX_VMCS_SIZE))
        x->cached = true;
    return x->cached ? x->vmcs : NULL;
}

/* ---- Entries and exits of L2 ------------------------------------------------------------ */

/* pith/vm.h segment attributes <-> VMX access rights (24.4.1): a descriptor's bits
 * 40-47 and 52-55 at bits 0-7 and 12-15 of the rights, 8-11 of the attributes. */
#define ACCESS_UNUSABLE (1ull << 16)

static uint64_t attributes_of(uint64_t rights)
{
    return (rights & 0xff) | ((rights >> 4) & 0xf00) | (rights & ACCESS_UNUSABLE ? PITH_VM_SEG_UNUSABLE : 0);
}

static uint64_t rights_of(uint64_t attributes)
{
    bool usable = (attributes & 0x80) && !(attributes & PITH_VM_SEG_UNUSABLE);
    return (attributes & 0xff) | ((attributes & 0xf00) << 4) | (usable ? 0 : ACCESS_UNUSABLE);
}

#define SYS_WORDS 9                     /* pith/vm.h SYS group */
enum { SYS_SYSENTER_CS, SYS_SYSENTER_ESP, SYS_SYSENTER_EIP, SYS_PAT = 8 };

/* An L1 or L2 vCPU's state as the VMM moves it: the groups GPR ... TSC in pith/vm.h's
 * order, so that one READ_STATE or WRITE_STATE carries them all. */
#define STATE_GROUPS (PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR | PITH_VM_GROUP_SEG | \
                      PITH_VM_GROUP_DTR | PITH_VM_GROUP_SYS | PITH_VM_GROUP_INTR | PITH_VM_GROUP_TSC)
#define STATE_WORDS 56
union state_words {
    struct {
        uint64_t gpr[16], rip[2], cr[6], seg[16], dtr[4], sys[SYS_WORDS], intr[2], tsc;
    };
    uint64_t words[STATE_WORDS];
};
_Static_assert(sizeof(union state_words) == STATE_WORDS * 8, "the groups' words, nothing between");

static enum pith_error state_read(pith_cap_t vcpu, union state_words *st)
{
    return pith_vcpu_read_state(vcpu, STATE_GROUPS, st->words, STATE_WORDS);
}

static enum pith_error state_write(pith_cap_t vcpu, const union state_words *st)
{
    return pith_vcpu_write_state(vcpu, STATE_GROUPS, st->words, STATE_WORDS);
}

/* The guest-state fields VM entry loads and VM exit stores as they are (24.4). */
#define AT(member, i) (offsetof(union state_words, member) / 8 + (i))
static const struct { uint32_t field; uint8_t word; } plain_fields[] = {
    { VMCS12_GUEST_RSP, AT(gpr, 4) }, { VMCS12_GUEST_RIP, AT(rip, 0) }, { VMCS12_GUEST_RFLAGS, AT(rip, 1) },
    { VMCS12_GUEST_CR0, AT(cr, VM_CR0) }, { VMCS12_GUEST_CR3, AT(cr, VM_CR3) },
    { VMCS12_GUEST_CR4, AT(cr, VM_CR4) }, { VMCS12_GUEST_GDTR_BASE, AT(dtr, 0) },
    { VMCS12_GUEST_GDTR_LIMIT, AT(dtr, 1) }, { VMCS12_GUEST_IDTR_BASE, AT(dtr, 2) },
    { VMCS12_GUEST_IDTR_LIMIT, AT(dtr, 3) }, { VMCS12_GUEST_SYSENTER_CS, AT(sys, SYS_SYSENTER_CS) },
    { VMCS12_GUEST_SYSENTER_ESP, AT(sys, SYS_SYSENTER_ESP) },
    { VMCS12_GUEST_SYSENTER_EIP, AT(sys, SYS_SYSENTER_EIP) },
};

static void plain_fields_move(uint8_t *v, union state_words *st, bool to_vmcs12)
{
    for (unsigned i = 0; i < sizeof(plain_fields) / sizeof(plain_fields[0]); i++) {
        if (to_vmcs12)
            vmcs12_set(v, plain_fields[i].field, st->words[plain_fields[i].word]);
        else
            st->words[plain_fields[i].word] = vmcs12_get(v, plain_fields[i].field);
    }
}

/* The state VM entry loads from VMCS12's guest area (26.3.2), onto L2's vCPU: RSP,
 * RIP, RFLAGS, the control registers, DR7 and DEBUGCTL-free debug state, segments,
 * descriptor tables, SYSENTER, EFER and PAT as the entry controls say; the other
 * registers stay L1's (VMX switches no other GPR, nor the SYSCALL MSRs). */
static enum pith_error l2_enter_state(struct vm *vm, struct vmx_vcpu *x, uint8_t *v)
{
    uint64_t entry = vmcs12_get(v, VMCS12_ENTRY_CONTROLS), proc = vmcs12_get(v, VMCS12_PROC_CONTROLS);
    union state_words st;                /* L1's, then what VMCS12 gives L2 */
    enum pith_error err = state_read(vm->cpu->vcpu, &st);
    if (err)
        return err;
    plain_fields_move(v, &st, false);
    uint64_t efer = (entry & ENTRY_LOAD_EFER) ? vmcs12_get(v, VMCS12_GUEST_EFER) : st.cr[VM_EFER];
    efer &= ~(GUEST_EFER_LMA | (entry & ENTRY_LOAD_EFER ? 0 : GUEST_EFER_LME));
    if (entry & ENTRY_IA32E_MODE_GUEST) /* 26.3.2.1: LMA is the control; LME too unless loaded */
        efer |= GUEST_EFER_LMA | ((st.cr[VM_CR0] & GUEST_CR0_PG) ? GUEST_EFER_LME : 0);
    st.cr[VM_EFER] = efer;
    if (entry & ENTRY_LOAD_DEBUG_CONTROLS)
        st.cr[VM_DR7] = vmcs12_get(v, VMCS12_GUEST_DR7);
    for (unsigned s = 0; s < VMX_SEGMENTS; s++) {
        st.seg[2 * s] = vmcs12_get(v, VMCS12_GUEST_SELECTOR(s)) |
                        attributes_of(vmcs12_get(v, VMCS12_GUEST_ACCESS(s))) << 16 |
                        vmcs12_get(v, VMCS12_GUEST_LIMIT(s)) << 32;
        st.seg[2 * s + 1] = vmcs12_get(v, VMCS12_GUEST_BASE(s));
    }
    if (entry & ENTRY_LOAD_PAT)
        st.sys[SYS_PAT] = vmcs12_get(v, VMCS12_GUEST_PAT);
    if (proc & PROC_TSC_OFFSETTING)
        st.tsc += vmcs12_get(v, VMCS12_TSC_OFFSET);
    uint64_t blocking = vmcs12_get(v, VMCS12_GUEST_INTERRUPTIBILITY);
    st.intr[0] = (blocking & 3 ? INTERRUPT_SHADOW : 0) | (blocking & 8 ? 2 : 0);
    st.intr[1] = 0;
    return state_write(l2_cpu(&x->l2)->vcpu, &st);
}

/* L1's exception bitmap applied to L2's vCPU, which VCpu.CONFIGURE sets (its thread is
 * suspended here, as CONFIGURE needs): the kernel's own exceptions (NMI, #MC) stay
 * the host's, and #PF stays L2's, since the kernel's exception exit does not carry the
 * faulting address (docs/nested.md, limits). */
#define ERROR_CODE_VECTORS 0x27d00u     /* #DF, #TS, #NP, #SS, #GP, #PF, #AC */
#define VECTOR_PF 14

static enum pith_error l2_exceptions(struct vm *vm, struct vmx_l2 *l2, const uint8_t *v)
{
    uint64_t bitmap = vmcs12_get(v, VMCS12_EXCEPTION_BITMAP) & ~(uint64_t)(PITH_VM_HOST_EXCEPTIONS | 1u << VECTOR_PF);
    if (bitmap == l2->exceptions[l2->ept])
        return PITH_OK;
    struct nested_l2_cpu *cpu = l2_cpu(l2);
    enum pith_error err = pith_vcpu_configure(cpu->vcpu, cpu->thread, l2->ept ? l2->shadow.space : vm->space,
                                              l2->endpoint, VM_TRANSFER_MASK, bitmap);
    if (!err)
        l2->exceptions[l2->ept] = bitmap;
    return err;
}

/* VMCS12's event injection (26.5): delivered as L2 starts.  A thread resumed after
 * SUSPEND has no exit to reply to, so L2 is recalled first and its RECALL, before it
 * runs anything, is answered with the event (nested_vmx_l2_exit).  VMX's types 5 and 6
 * (privileged and other software exceptions) are hardware exceptions to the kernel;
 * type 4 (software interrupt) keeps its length in the kernel's own handling. */
#define EVENT_VALID (1ull << 31)

static enum pith_error l2_entry_event(struct vmx_l2 *l2, const uint8_t *v)
{
    uint64_t info = vmcs12_get(v, VMCS12_ENTRY_INTERRUPTION_INFO);
    uint64_t type = (info >> 8) & 7;
    if (type == 5 || type == 6)
        info = (info & ~0x700ull) | 3ull << 8;
    uint64_t windows = (vmcs12_get(v, VMCS12_PROC_CONTROLS) & PROC_INTERRUPT_WINDOW_EXITING)
                           ? PITH_VM_WINDOW_INTERRUPT : 0;
    l2->entry = (struct nested_l2_reply){
        .inject = (info & EVENT_VALID) ? info & 0xffffffffull : 0,
        .error_code = vmcs12_get(v, VMCS12_ENTRY_ERROR_CODE),
        .windows = windows,
    };
    l2->entry_pending = l2->entry.inject || l2->entry.windows;
    return l2->entry_pending ? pith_vcpu_recall(l2_cpu(l2)->vcpu) : PITH_OK;
}

/* EPT at entry: the shadow is of one EPTP; another drops it, as INVEPT does
 * (nested_vmx_instruction), since L1 may have changed its tables in between. */
static enum pith_error l2_shadow_enter(struct vmx_l2 *l2, uint64_t eptp)
{
    enum pith_error err = shadow_setup(&l2->shadow);
    if (err)
        return err;
    if (eptp != l2->eptp)
        shadow_flush(&l2->shadow);
    l2->eptp = eptp;
    return PITH_OK;
}

static bool l2_run(struct vm *vm, struct vmx_vcpu *x, uint8_t *v)
{
    struct vcpu *c = vm->cpu;
    struct vmx_l2 *l2 = &x->l2;
    enum pith_error err = PITH_OK;
    uint64_t proc = vmcs12_get(v, VMCS12_PROC_CONTROLS);
    uint64_t proc2 = (proc & PROC_SECONDARY_CONTROLS) ? vmcs12_get(v, VMCS12_PROC_CONTROLS2) : 0;
    l2->ept = (proc2 & PROC2_ENABLE_EPT) != 0;
    if (l2->ept)
        err = l2_shadow_enter(l2, vmcs12_get(v, VMCS12_EPT_POINTER));
    struct nested_l2_cpu *cpu = l2_cpu(l2);
    if (!err && !cpu->created)
        err = nested_l2_cpu_create(c, &l2->endpoint, cpu, l2->ept ? l2->shadow.space : vm->space);
    if (!err)
        err = l2_exceptions(vm, l2, v);
    if (!err)
        err = l2_enter_state(vm, x, v);
    if (err) {
        vm_stop(vm, VM_END_ERROR, "VMLAUNCH: the guest's guest: %s", pith_error_name(err));
        return false;
    }
    vmcs12_set_launched(v, true);
    l2->entries++;
    nested_l2_run_start(&l2->run);
    err = l2_entry_event(l2, v);
    /* the next VM exit finds the event field's valid bit clear (SDM 27.2.3) */
    vmcs12_set(v, VMCS12_ENTRY_INTERRUPTION_INFO, vmcs12_get(v, VMCS12_ENTRY_INTERRUPTION_INFO) & ~EVENT_VALID);
    if (!err)
        err = nested_l2_switch(c->thread, l2_cpu(l2)->thread);
    if (err)
        vm_stop(vm, VM_END_ERROR, "VMLAUNCH: switching to the guest's guest: %s", pith_error_name(err));
    return !err;
}

/* L1 after a VM exit (27.5): VMCS12's host state.  `gpr`: the GPRs L1 goes on with
 * (L2's: VMX does not switch them), RSP replaced by the host RSP.  `l2`: L2's state
 * after an exit from L2 (NULL when L1 never left), for what no VM exit switches: CR2,
 * KERNEL_GS_BASE, STAR, LSTAR, CSTAR and SFMASK stay as L2 left them, and PAT unless
 * the exit loads it.  L2 changes CR2 (a page fault) and KERNEL_GS_BASE (SWAPGS)
 * without an exit, and L1's hypervisor reads both back after every run of its guest. */
static enum pith_error load_host_state(struct vm *vm, const uint8_t *v, const uint64_t *gpr,
                                       const union state_words *l2)
{
    struct vcpu *c = vm->cpu;
    uint64_t exit = vmcs12_get(v, VMCS12_EXIT_CONTROLS);
    bool long_mode = exit & EXIT_HOST_ADDRESS_SPACE_SIZE;
    union state_words st;
    enum pith_error err = state_read(c->vcpu, &st);
    if (err)
        return err;
    memcpy(st.gpr, gpr, sizeof(st.gpr));
    if (l2) {
        st.cr[VM_CR2] = l2->cr[VM_CR2];
        memcpy(st.sys, l2->sys, sizeof(st.sys));
    }
    st.cr[VM_CR0] = vmcs12_get(v, VMCS12_HOST_CR0);
    st.cr[VM_CR3] = vmcs12_get(v, VMCS12_HOST_CR3);
    st.cr[VM_CR4] = vmcs12_get(v, VMCS12_HOST_CR4);
    st.cr[VM_DR7] = 0x400;              /* 27.5.1 */
    if (exit & EXIT_LOAD_EFER)
        st.cr[VM_EFER] = vmcs12_get(v, VMCS12_HOST_EFER);
    else if (long_mode)
        st.cr[VM_EFER] |= GUEST_EFER_LMA | GUEST_EFER_LME;
    else
        st.cr[VM_EFER] &= ~(GUEST_EFER_LMA | GUEST_EFER_LME);
    st.gpr[4] = vmcs12_get(v, VMCS12_HOST_RSP);
    st.rip[0] = vmcs12_get(v, VMCS12_HOST_RIP);
    st.rip[1] = 2;
    /* 27.5.2: flat segments from the host selectors, CS 64-bit or 32-bit as the exit
     * control says, a null data selector unusable, TR a busy TSS of 0x67 bytes, LDTR
     * unusable; FS, GS and TR bases from their fields. */
    for (unsigned s = 0; s < VMX_SEGMENTS; s++) {
        uint64_t selector = s == VMX_TR ? vmcs12_get(v, VMCS12_HOST_TR_SELECTOR)
                          : s == VMX_LDTR ? 0 : vmcs12_get(v, VMCS12_HOST_SELECTOR(s));
        uint64_t rights = 0xc093, limit = 0xffffffff, base = 0;   /* in VMX's layout */
        if (s == VMX_CS)
            rights = long_mode ? 0xa09b : 0xc09b;
        else if (s == VMX_TR) {
            rights = 0x8b;
            limit = 0x67;
            base = vmcs12_get(v, VMCS12_HOST_TR_BASE);
        } else if (s == VMX_LDTR || (selector == 0 && s != VMX_SS))
            rights = ACCESS_UNUSABLE;
        if (s == VMX_FS)
            base = vmcs12_get(v, VMCS12_HOST_FS_BASE);
        if (s == VMX_GS)
            base = vmcs12_get(v, VMCS12_HOST_GS_BASE);
        st.seg[2 * s] = (selector & 0xfff8) | attributes_of(rights) << 16 | limit << 32;
        st.seg[2 * s + 1] = base;
    }
    st.dtr[0] = vmcs12_get(v, VMCS12_HOST_GDTR_BASE);
    st.dtr[1] = 0xffff;
    st.dtr[2] = vmcs12_get(v, VMCS12_HOST_IDTR_BASE);
    st.dtr[3] = 0xffff;
    st.sys[SYS_SYSENTER_CS] = vmcs12_get(v, VMCS12_HOST_SYSENTER_CS);
    st.sys[SYS_SYSENTER_ESP] = vmcs12_get(v, VMCS12_HOST_SYSENTER_ESP);
    st.sys[SYS_SYSENTER_EIP] = vmcs12_get(v, VMCS12_HOST_SYSENTER_EIP);
    if (exit & EXIT_LOAD_PAT)
        st.sys[SYS_PAT] = vmcs12_get(v, VMCS12_HOST_PAT);
    st.intr[0] = st.intr[1] = 0;
    return state_write(c->vcpu, &st);
}

/* L2's state into VMCS12's guest area (27.3), from L2's vCPU, and all of it into st. */
static enum pith_error save_guest_state(struct vmx_l2 *l2, uint8_t *v, union state_words *l2_state)
{
    union state_words st;
    enum pith_error err = state_read(l2_cpu(l2)->vcpu, &st);
    if (err)
        return err;
    *l2_state = st;
    uint64_t exit = vmcs12_get(v, VMCS12_EXIT_CONTROLS), entry = vmcs12_get(v, VMCS12_ENTRY_CONTROLS);
    plain_fields_move(v, &st, true);
    if (exit & EXIT_SAVE_DEBUG_CONTROLS)
        vmcs12_set(v, VMCS12_GUEST_DR7, st.cr[VM_DR7]);
    if (exit & EXIT_SAVE_EFER)
        vmcs12_set(v, VMCS12_GUEST_EFER, st.cr[VM_EFER]);
    if (exit & EXIT_SAVE_PAT)
        vmcs12_set(v, VMCS12_GUEST_PAT, st.sys[SYS_PAT]);
    /* IA32_VMX_MISC[5]: L2's EFER.LMA in the "IA-32e mode guest" entry control */
    entry = (entry & ~(uint64_t)ENTRY_IA32E_MODE_GUEST) |
            (st.cr[VM_EFER] & GUEST_EFER_LMA ? ENTRY_IA32E_MODE_GUEST : 0);
    vmcs12_set(v, VMCS12_ENTRY_CONTROLS, entry);
    for (unsigned s = 0; s < VMX_SEGMENTS; s++) {
        vmcs12_set(v, VMCS12_GUEST_SELECTOR(s), st.seg[2 * s] & 0xffff);
        vmcs12_set(v, VMCS12_GUEST_ACCESS(s), rights_of((st.seg[2 * s] >> 16) & 0xffff));
        vmcs12_set(v, VMCS12_GUEST_LIMIT(s), st.seg[2 * s] >> 32);
        vmcs12_set(v, VMCS12_GUEST_BASE(s), st.seg[2 * s + 1]);
    }
    vmcs12_set(v, VMCS12_GUEST_INTERRUPTIBILITY, ((st.intr[0] & INTERRUPT_SHADOW) ? 1 : 0) | ((st.intr[0] & 2) ? 8 : 0));
    vmcs12_set(v, VMCS12_GUEST_ACTIVITY_STATE, 0);
    return PITH_OK;
}

/* The exit-information fields (27.2).  `delivering`: the event whose delivery the exit
 * cut short (the INTR group's word, in the IDT-vectoring layout). */
static void write_exit_information(uint8_t *v, const struct vmx_l2_exit *e, uint64_t length, uint64_t delivering)
{
    vmcs12_set(v, VMCS12_EXIT_REASON, e->reason);
    vmcs12_set(v, VMCS12_EXIT_QUALIFICATION, e->qualification);
    vmcs12_set(v, VMCS12_EXIT_INSTRUCTION_LENGTH, length);
    vmcs12_set(v, VMCS12_EXIT_INSTRUCTION_INFO, 0);
    vmcs12_set(v, VMCS12_EXIT_INTERRUPTION_INFO, e->interruption_info);
    vmcs12_set(v, VMCS12_EXIT_INTERRUPTION_ERROR, e->error_code);
    vmcs12_set(v, VMCS12_IDT_VECTORING_INFO, delivering & 0xffffffffull);
    vmcs12_set(v, VMCS12_IDT_VECTORING_ERROR, delivering >> 32);
}

/* A VM exit into L1: from L2 (`from_l2`), or an entry that failed its guest-state
 * checks, where L1 never left.  VMCS12 must be the current copy. */
static bool exit_to_l1(struct vm *vm, struct vmx_vcpu *x, uint8_t *v, bool from_l2)
{
    struct vcpu *c = vm->cpu;
    union state_words l2_state;
    uint64_t gpr[16];
    enum pith_error err = PITH_OK;
    if (from_l2) {
        err = save_guest_state(&x->l2, v, &l2_state);
        if (!err)
            memcpy(gpr, l2_state.gpr, sizeof(gpr));
    } else {
        for (unsigned i = 0; i < 16; i++)
            gpr[i] = c->exit.mr[VM_GPR(i)];
    }
    x->l2.run.running = false;
    x->l2.entry_pending = false;
    x->l2.exits++;
    /* the thread in the Call the exit made: L2's, or L1's own at a failed entry */
    if (!err)
        err = pith_thread_suspend(from_l2 ? l2_cpu(&x->l2)->thread : c->thread);
    if (!err)
        err = load_host_state(vm, v, gpr, from_l2 ? &l2_state : NULL);
    if (!err)
        err = pith_thread_resume(c->thread);
    if (err)
        vm_stop(vm, VM_END_ERROR, "VM exit to the guest: %s", pith_error_name(err));
    return !err;
}

/* VMLAUNCH and VMRESUME after their own checks: the entry checks on VMCS12, then L2. */
static bool vm_entry(struct vm *vm, struct vmx_vcpu *x, uint8_t *v, struct vmx_outcome *o, bool *switched)
{
    bool l1_long = (vm->cpu->exit.mr[VM_CR(VM_EFER)] & GUEST_EFER_LMA) != 0;
    enum vmx_entry_problem p = vmx_entry_check(v, &caps, l1_long, read_phys, vm);
    switch (vmx_entry_problem_stage(p)) {
    case VMX_ENTRY_PASSES:
        *switched = l2_run(vm, x, v);
        return *switched;
    case VMX_ENTRY_FAILS_GUEST:
        vmx_vmcs12_write_entry_failure(v, p);
        *switched = exit_to_l1(vm, x, v, false);
        return *switched;
    case VMX_ENTRY_FAILS_CONTROLS:
    case VMX_ENTRY_FAILS_HOST:
        break;
    }
    *o = vmx_entry_outcome(p);
    return true;
}

/* ---- The instructions --------------------------------------------------------------------- */

static bool is_vmx_instruction(uint64_t reason)
{
    return (reason >= VMX_EXIT_VMCLEAR && reason <= VMX_EXIT_VMXON) || reason == VMX_EXIT_INVEPT ||
           reason == VMX_EXIT_INVVPID;
}

bool nested_vmx_is_instruction_exit(struct vm *vm)
{
    /* On an SVM host MR0 is an SVM exit code: VMX reasons only where VMX is the host's
     * (a guest without `nested on` there gets #UD for them). */
    return host_vmx && vm->cpu->exit.reason == PITH_EXIT_OTHER && is_vmx_instruction(vm->cpu->exit.mr[0]);
}

/* The operand of VMXON, VMCLEAR, VMPTRLD: a 64-bit physical address in memory. */
static bool pointer_operand(struct vm *vm, uint64_t *address, uint64_t *inject)
{
    struct operand o = operand_of(vm);
    *address = 0;
    return !o.is_register && operand_access(vm, &o, address, 8, false, inject);
}

bool nested_vmx_instruction(struct vm *vm, uint64_t *inject, bool *switched)
{
    struct vcpu *c = vm->cpu;
    struct vmx_vcpu *x = vmx_of(c);
    uint64_t *mr = c->exit.mr, reason = mr[0];
    unsigned length = (unsigned)mr[3];
    *switched = false;
    if (!vm->nested_vmx) {
        *inject = exception_event(VECTOR_UD, false);
        return true;
    }
    x->l2.instructions++;
    struct vmx_l1_mode m = l1_mode(vm);
    bool mode64 = code_size(vm) == 8;
    unsigned operand_bytes = mode64 ? 8 : 4;
    struct vmx_outcome o = { VMX_SUCCEED, 0 };
    uint64_t address = 0, value = 0;
    struct operand op = operand_of(vm);
    uint64_t encoding = mr[VM_GPR(op.reg2)];    /* VMREAD, VMWRITE */
    if (!mode64)
        encoding = (uint32_t)encoding;
    switch (reason) {
    case VMX_EXIT_VMXON:
        if (!pointer_operand(vm, &address, inject))
            return true;
        o = vmx_vmxon(&x->cpu, &m, &caps, address, read_phys, vm);
        break;
    case EXIT_VMXOFF:
        if (x->cpu.vmxon && !vmcs_write_back(vm))
            break;
        o = vmx_vmxoff(&x->cpu, &m);
        break;
    case VMX_EXIT_VMCLEAR:
        if (!pointer_operand(vm, &address, inject))
            return true;
        if (address == x->cpu.current_vmcs && !vmcs_write_back(vm))
            break;
        o = vmx_vmclear(&x->cpu, &m, &caps, address);
        if (o.verdict == VMX_SUCCEED) {     /* the region's launch state is "clear" (30.3) */
            uint8_t clear = 0;
            vm_write_phys(vm, address + VMCS12_LAUNCH_STATE_OFFSET, &clear, 1);
        }
        break;
    case EXIT_VMPTRLD:
        if (!pointer_operand(vm, &address, inject))
            return true;
        if (address != x->cpu.current_vmcs && !vmcs_write_back(vm))
            break;
        o = vmx_vmptrld(&x->cpu, &m, &caps, address, read_phys, vm);
        break;
    case EXIT_VMPTRST:
        o = vmx_vmptrst(&x->cpu, &m);
        if (o.verdict == VMX_SUCCEED && (op.is_register || !operand_access(vm, &op, &x->cpu.current_vmcs, 8, true,
                                                                            inject)))
            return true;
        break;
    case EXIT_VMREAD: {
        uint8_t *v = current_vmcs(vm);
        o = vmx_vmread(&x->cpu, &m, v ? v : x->vmcs, encoding, &value);
        if (o.verdict == VMX_SUCCEED && !v)
            o = (struct vmx_outcome){ VMX_FAIL_INVALID, 0 };
        if (o.verdict != VMX_SUCCEED)
            break;
        if (op.is_register)
            mr[VM_GPR(op.reg)] = mode64 ? value : (uint32_t)value;
        else if (!operand_access(vm, &op, &value, operand_bytes, true, inject))
            return true;
        break;
    }
    case EXIT_VMWRITE: {
        uint8_t *v = current_vmcs(vm);
        if (op.is_register)
            value = mr[VM_GPR(op.reg)];
        else if (!operand_access(vm, &op, &value, operand_bytes, false, inject))
            return true;
        if (!mode64)
            value = (uint32_t)value;
        o = vmx_vmwrite(&x->cpu, &m, &caps, v ? v : x->vmcs, encoding, value);
        break;
    }
    case EXIT_VMLAUNCH:
    case EXIT_VMRESUME: {
        uint8_t *v = current_vmcs(vm);
        bool mov_ss = false;            /* the kernel's INTR word does not tell STI from MOV SS */
        o = vmx_vmlaunch(&x->cpu, &m, v ? v : x->vmcs, reason == EXIT_VMRESUME, mov_ss);
        if (o.verdict == VMX_SUCCEED && v) {
            if (!vm_entry(vm, x, v, &o, switched))
                return false;
            if (*switched)
                return true;
        }
        break;
    }
    case VMX_EXIT_INVEPT:
    case VMX_EXIT_INVVPID: {
        uint64_t descriptor[2] = { 0, 0 };
        enum vmx_flush flush;
        if (op.is_register || !operand_access(vm, &op, descriptor, 16, false, inject))
            return true;
        uint64_t type = mr[VM_GPR(op.reg2)];
        if (!mode64)
            type = (uint32_t)type;
        /* INVEPT drops the shadow (single-context only for the EPTP it is of);
         * INVVPID has nothing to do: every entry writes L2's CR group, which gives its
         * vCPU fresh linear translations (docs/vm.md) */
        o = reason == VMX_EXIT_INVEPT ? vmx_invept(&x->cpu, &m, &caps, type, descriptor[0], &flush)
                                      : vmx_invvpid(&x->cpu, &m, &caps, type, descriptor, &flush);
        if (o.verdict == VMX_SUCCEED && reason == VMX_EXIT_INVEPT && x->l2.shadow.ready &&
            (flush == VMX_FLUSH_ALL || (descriptor[0] & ~0xfffull) == (x->l2.eptp & ~0xfffull)))
            shadow_flush(&x->l2.shadow);
        break;
    }
    }
    if (vm->stopped)
        return false;
    switch (o.verdict) {
    case VMX_UD:
        *inject = exception_event(VECTOR_UD, false);
        return true;
    case VMX_GP:
        *inject = exception_event(VECTOR_GP, true);
        return true;
    case VMX_FAIL_VALID: {
        uint8_t *v = current_vmcs(vm);
        if (v)
            vmx_outcome_record(v, o);
        break;
    }
    case VMX_SUCCEED:
    case VMX_FAIL_INVALID:
        break;
    }
    mr[VM_RFLAGS] = vmx_rflags_after(mr[VM_RFLAGS], o);
    mr[VM_RIP] += length;
    mr[VM_INTERRUPTIBILITY] &= ~INTERRUPT_SHADOW;
    c->reply_groups |= PITH_VM_GROUP_GPR;
    return true;
}

/* ---- L2's exits --------------------------------------------------------------------------- */

bool nested_vmx_is_l2_exit(struct vcpu *c)
{
    return c->exit.reason != 0 && c->exit.badge == NESTED_L2_BADGE && vmx_of(c)->l2.run.running;
}

/* An I/O exit's qualification in VMX's layout (27.2.1, table 27-5), from the kernel's
 * (docs/vm.md): size - 1, direction, string, REP, the port.  Whether the port was an
 * immediate (bit 6) the kernel does not say; it reads as DX. */
static uint64_t io_qualification(uint64_t q)
{
    unsigned size = (q >> 16) & 0xff;
    return (size ? size - 1 : 0) | ((q & PITH_VM_IO_IN) ? 8 : 0) | ((q & PITH_VM_IO_STRING) ? 16 : 0) |
           ((q & PITH_VM_IO_REP) ? 32 : 0) | (q & 0xffff) << 16;
}

static bool write_phys(void *ctx, uint64_t address, const void *buf, size_t length)
{
    return vm_write_phys(ctx, address, buf, length);
}

/* An L2 access the shadow does not map (docs/nested.md, "The shadow EPT"): L1's EPT
 * walked as the processor would; a violation or misconfiguration is L1's VM exit
 * (reason 48 or 49 with the guest-physical address; a violation's qualification
 * without a guest-linear address, which the kernel does not report); a page of L1's
 * RAM is mapped with what L1's entries allow, and L2 tries again. */
static enum nested_l2_step l2_ept_fault(struct vm *vm, struct vmx_vcpu *x, uint8_t *v)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    uint64_t address = mr[1];
    unsigned access = (mr[2] & PITH_VM_ACCESS_WRITE) ? EPT_ACCESS_WRITE
                    : (mr[2] & PITH_VM_ACCESS_EXECUTE) ? EPT_ACCESS_EXECUTE : EPT_ACCESS_READ;
    struct ept_walker walker = {
        .eptp = x->l2.eptp, .phys_bits = caps.phys_bits, .gb_pages = true, .execute_only = false,
        .ad = false, .read = read_phys, .write = write_phys, .ctx = vm,
    };
    struct ept_walk_result walk = ept_walk(&walker, address, access);
    if (walk.status != EPT_WALK_OK) {
        struct vmx_l2_exit e = {
            .reason = walk.status == EPT_WALK_MISCONFIG ? VMX_EXIT_EPT_MISCONFIG : VMX_EXIT_EPT_VIOLATION,
            .qualification = walk.status == EPT_WALK_MISCONFIG ? 0 : walk.qualification,
        };
        write_exit_information(v, &e, 0, mr[VM_DELIVERING]);
        vmcs12_set(v, VMCS12_GUEST_PHYSICAL_ADDRESS, address);
        return exit_to_l1(vm, x, v, true) ? NESTED_L2_TO_L1 : NESTED_L2_STOPPED;
    }
    return nested_l2_shadow_fill(vm, &x->l2.shadow, address, walk.address, walk.writable, walk.executable, "EPT");
}

enum nested_l2_step nested_vmx_l2_exit(struct vm *vm, struct nested_l2_reply *reply)
{
    struct vcpu *c = vm->cpu;
    struct vmx_vcpu *x = vmx_of(c);
    const uint64_t *mr = c->exit.mr;
    uint8_t *v = current_vmcs(vm);
    if (!v) {
        vm_stop(vm, VM_END_ERROR, "an exit of the guest's guest: its VMCS is gone");
        return NESTED_L2_STOPPED;
    }
    struct vmx_l2_exit e = { .reason = (uint32_t)mr[0] };
    uint64_t length = mr[3];
    switch (c->exit.reason) {
    case PITH_EXIT_IO:
        e.qualification = io_qualification(mr[1]);
        break;
    case PITH_EXIT_MSR_READ:
    case PITH_EXIT_MSR_WRITE:
        e.operand = mr[1];
        break;
    case PITH_EXIT_INVALID_STATE:       /* the state L1 gave its guest was refused */
        e = (struct vmx_l2_exit){ .reason = VMX_EXIT_INVALID_GUEST_STATE | VMX_EXIT_REASON_ENTRY_FAILURE };
        write_exit_information(v, &e, 0, 0);
        return exit_to_l1(vm, x, v, true) ? NESTED_L2_TO_L1 : NESTED_L2_STOPPED;
    case PITH_EXIT_RECALL:
        if (x->l2.entry_pending) {      /* the entry's event (l2_entry_event) */
            *reply = x->l2.entry;
            x->l2.entry_pending = false;
            return NESTED_L2_RETRY;
        }
        /* L1's interrupt, or a recall left over: an exit only for an interrupt L1's
         * LAPIC or PIC holds, and with "acknowledge interrupt on exit" its vector
         * taken into the exit's interruption information (SDM 27.2.2), as KVM
         * requires */
        if (nested_l2_event_first(c, &x->l2.run))
            return NESTED_L2_RETRY;
        e.reason = VMX_EXIT_EXTERNAL_INTERRUPT;
        if (!vmx_l1_wants_exit(v, &e, read_phys, vm) || !vm->platform->interrupt ||
            vm->platform->interrupt(vm, c->index, false) < 0) {
            nested_l2_run_start(&x->l2.run);    /* a quantum before the next recall */
            return NESTED_L2_RETRY;
        }
        if (vmcs12_get(v, VMCS12_EXIT_CONTROLS) & EXIT_ACK_INTERRUPT)
            e.interruption_info = (uint32_t)vm->platform->interrupt(vm, c->index, true) | EVENT_VALID;
        length = 0;
        break;
    case PITH_EXIT_INTERRUPT_WINDOW:
        /* A window an earlier entry asked for, which L1 no longer wants: the kernel
         * keeps a window until it opens (docs/vm.md), and it has opened now. */
        if (!(vmcs12_get(v, VMCS12_PROC_CONTROLS) & PROC_INTERRUPT_WINDOW_EXITING))
            return NESTED_L2_RETRY;
        e.reason = VMX_EXIT_INTERRUPT_WINDOW;
        length = 0;
        break;
    case PITH_EXIT_MMIO:
        if (x->l2.ept)
            return l2_ept_fault(vm, x, v);
        break;
    case PITH_EXIT_EXCEPTION: {     /* one of L1's exception intercepts (l2_exceptions) */
        unsigned vector = (unsigned)mr[1] & 0xff;
        bool error_code = vector < 32 && ((ERROR_CODE_VECTORS >> vector) & 1);
        e.reason = VMX_EXIT_EXCEPTION_OR_NMI;       /* INT3 and INTO: software (type 6) */
        e.interruption_info = vector | (length ? 6u : 3u) << 8 | (error_code ? 1u << 11 : 0) | EVENT_VALID;
        e.error_code = error_code ? (uint32_t)mr[2] : 0;
        if (!vmx_l1_wants_exit(v, &e, read_phys, vm)) {
            *reply = (struct nested_l2_reply){ .inject = exception_event((uint8_t)vector, error_code),
                                               .error_code = e.error_code };
            return NESTED_L2_RETRY;     /* #PF's mask and match said no: L2's own again */
        }
        break;
    }
    default:
        break;
    }
    if (!vmx_l1_wants_exit(v, &e, read_phys, vm))
        return NESTED_L2_NOT_INTERCEPTED;
    write_exit_information(v, &e, length, mr[VM_DELIVERING]);
    return exit_to_l1(vm, x, v, true) ? NESTED_L2_TO_L1 : NESTED_L2_STOPPED;
}

bool nested_vmx_l2_running(struct vcpu *c)
{
    return vmx_of(c)->l2.run.running;
}

/* While L2 runs, an interrupt for L1 recalls it only when L1 asked for
 * external-interrupt exits; otherwise it waits, as on the hardware, for L2's next exit
 * (recalling L2 for it anyway starved L2: each recall came back at once). */
pith_cap_t nested_vmx_recall_target(struct vcpu *c)
{
    struct vmx_vcpu *x = vmx_of(c);
    struct vmx_l2 *l2 = &x->l2;
    if (l2->run.running && !(x->cached && (vmcs12_get(x->vmcs, VMCS12_PIN_CONTROLS) & PIN_EXTERNAL_INTERRUPT_EXITING)))
        return 0;
    return nested_l2_recall_target(c, &l2->run, l2_cpu(l2)->vcpu);
}

uint64_t nested_vmx_deadline(struct vcpu *c)
{
    return nested_l2_deadline(c, &vmx_of(c)->l2.run);
}

void nested_vmx_finish(struct vcpu *c)
{
    struct vmx_l2 *l2 = &vmx_of(c)->l2;
    for (unsigned i = 0; i < 2; i++) {
        if (l2->cpus[i].created)
            pith_thread_suspend(l2->cpus[i].thread);
    }
    l2->run.running = false;
    if (l2->entries || l2->exits)
        vm_log(c->vm, "vCPU %u: virtual VMX: %lu entries of the guest's guest, %lu VM exits to the guest",
               c->index, l2->entries, l2->exits);
    if (l2->shadow.faults)
        vm_log(c->vm, "vCPU %u: the shadow EPT: %lu pages mapped, %lu flushes", c->index, l2->shadow.faults,
               l2->shadow.flushes);
    if (l2->instructions)
        vm_log(c->vm, "vCPU %u: virtual VMX: %lu VMX instructions emulated", c->index, l2->instructions);
}
