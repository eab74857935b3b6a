/* Virtual SVM in the VMM (nested_svm.h).  The rules are x86/svm_nested.h's; this file
 * reaches the guest's state and memory.  References: AMD APM Vol. 2, chapter 15;
 * Vol. 3, the SVM instructions. */
#include <pith/alloc.h>
#include <pith/string.h>

#include "x86/guest_walk.h"
#include "x86/npt_walk.h"
#include "x86/x86_decode.h"
#include "interrupt.h"
#include "x86/msr.h"
#include "nested.h"
#include "nested_shadow.h"
#include "nested_svm.h"
#include "vm.h"

#define VECTOR_UD 6
#define VECTOR_GP 13
#define CR0_PE    1ull

/* What the virtual CPU offers a VMCB12 against (svm_vmcb12_check): the guest's own
 * physical-address width; CR4 bits 0-10 (VME ... OSXMMEXCPT: CPUID offers nothing
 * that enables the others); EFER's SCE, LME, LMA, NXE and SVME, which is what the
 * kernel lets a vCPU have besides SVME (docs/vm.md, "State groups"). */
#define NESTED_CR4_ALLOWED  0x7ffull
#define NESTED_EFER_ALLOWED 0x1d01ull

static void host_cpuid(uint32_t leaf, uint32_t out[4])
{
    __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3])
                     : "a"(leaf), "c"(0));
}

static unsigned phys_bits(void)
{
    uint32_t r[4];
    host_cpuid(0x80000008u, r);
    return (r[0] & 0xff) ? r[0] & 0xff : 36;
}

void nested_svm_setup(struct vm *vm, bool nested)
{
    uint32_t r[4];
    host_cpuid(0x80000001u, r);
    vm->nested_svm = nested && (r[2] & (1u << 2));
    for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
        svm_nested_reset(&vm->cpus[i].svm);
    /* The guest's STGI and CLGI without exits where the CPU has a virtual GIF; the
     * kernel refuses the option where it has not, and the vCPU stays as it was. */
    for (unsigned i = 0; vm->nested_svm && i < vm->vcpu_count; i++) {
        struct vcpu *c = &vm->cpus[i];
        if (pith_vcpu_configure(c->vcpu, c->thread, vm->space, c->exit_endpoint,
                                VM_TRANSFER_MASK | PITH_VM_OPTION_VIRTUAL_GIF, vm->exception_bitmap) == PITH_OK)
            c->options = PITH_VM_OPTION_VIRTUAL_GIF;
    }
    if (vm->nested_svm)
        vm_log(vm, "virtual SVM, %s", (vm->cpus[0].options & PITH_VM_OPTION_VIRTUAL_GIF)
                                          ? "STGI and CLGI without exits (the CPU's virtual GIF)"
                                          : "STGI and CLGI exit (the CPU has no virtual GIF)");
}

void nested_svm_cpuid(struct vm *vm, uint32_t leaf, uint32_t out[4])
{
    if (vm->nested_svm)
        svm_nested_cpuid(leaf, out);
}

/* ---- MSRs ------------------------------------------------------------------------------ */

bool nested_svm_msr_read(struct vm *vm, uint32_t index, uint64_t *value, bool *ok)
{
    if (!vm->nested_svm)
        return false;
    enum msr_claim r = svm_nested_msr_read(&vm->cpu->svm, index, value);
    *ok = r == MSR_DONE;
    return r != MSR_NOT_MINE;
}

bool nested_svm_msr_write(struct vm *vm, uint32_t index, uint64_t value, bool *ok)
{
    if (!vm->nested_svm)
        return false;
    enum msr_claim r = svm_nested_msr_write(&vm->cpu->svm, index, value, phys_bits());
    *ok = r == MSR_DONE;
    return r != MSR_NOT_MINE;
}

uint64_t nested_svm_efer_read(struct vm *vm, uint64_t efer)
{
    return svm_nested_efer_read(&vm->cpu->svm, efer);
}

bool nested_svm_efer_write(struct vm *vm, uint64_t *value)
{
    return svm_nested_efer_write(&vm->cpu->svm, vm->nested_svm, value);
}

static bool virtual_gif(const struct vcpu *c)
{
    return c->options & PITH_VM_OPTION_VIRTUAL_GIF;
}

bool nested_svm_stgi_silent(const struct vcpu *c)
{
    return c->vm->nested_svm && virtual_gif(c);
}

bool nested_svm_gif(struct vm *vm)
{
    return !vm->nested_svm || vm->cpu->svm.gif;
}

bool nested_svm_gif_clear(const struct vcpu *c)
{
    return c->vm->nested_svm && !c->svm.gif && (!virtual_gif(c) || c->state == VCPU_HALTED);
}

bool nested_svm_window_for_stgi(const struct vcpu *c)
{
    return c->vm->nested_svm && virtual_gif(c) && !c->svm.gif &&
           (c->reply_windows & PITH_VM_WINDOW_INTERRUPT);
}

void nested_svm_exit_gif(struct vcpu *c)
{
    if (virtual_gif(c))
        c->svm.gif = !(c->exit.mr[VM_INTERRUPTIBILITY] & PITH_VM_INTR_GIF_CLEAR);
}

/* GIF as the reply to the exit leaves it: with the virtual GIF in the INTR group the
 * reply writes (VM_REPLY_MASK). */
static void set_gif(struct vcpu *c, bool gif)
{
    c->svm.gif = gif;
    if (virtual_gif(c))
        c->exit.mr[VM_INTERRUPTIBILITY] = (c->exit.mr[VM_INTERRUPTIBILITY] & ~PITH_VM_INTR_GIF_CLEAR) |
                                          (gif ? 0 : PITH_VM_INTR_GIF_CLEAR);
}

/* ---- The instructions --------------------------------------------------------------------- */

bool nested_svm_is_instruction_exit(struct vm *vm)
{
    /* MR0 is the SVM exit code on an SVM host; VMX's basic exit reasons stay below
     * 0x7a, so nothing on a VMX host looks like one. */
    return vm->cpu->exit.reason == PITH_EXIT_OTHER && svm_is_svm_instruction(vm->cpu->exit.mr[0]);
}

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

static unsigned cpl(struct vm *vm)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    return guest_cpl(mr[VM_CR(VM_CR0)], mr[VM_RFLAGS], (unsigned)(seg_word(vm, GUEST_SEG_SS) >> 16) & 0xfff);
}

/* The instruction at CS:RIP is an SVM instruction (0f 01 d8-df) after its prefixes:
 * its length, 0 when it cannot be read or is something else.  *address_override: a
 * 0x67 prefix, which changes how much of rAX the address is. */
static unsigned instruction_length(struct vm *vm, bool *address_override)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    struct guest_paging paging = {
        .cr0 = mr[VM_CR(VM_CR0)], .cr3 = mr[VM_CR(VM_CR3)], .cr4 = mr[VM_CR(VM_CR4)],
        .efer = mr[VM_CR(VM_EFER)], .rflags = mr[VM_RFLAGS], .cpl = cpl(vm),
        .maxphyaddr = 0, .read_phys = vm_read_phys, .ctx = vm,
    };
    unsigned size = code_size(vm);
    uint64_t rip = mr[VM_RIP];
    if (size < 8)
        rip &= size == 4 ? 0xffffffffull : 0xffffull;
    uint64_t linear = guest_segment_linear(size == 8, GUEST_SEG_CS, mr[VM_SEG(2 * GUEST_SEG_CS + 1)], rip);
    uint8_t b[X86_MAX_LENGTH];
    size_t got = 0;
    struct guest_translation fault;
    guest_copy_from_linear(&paging, linear, GUEST_ACCESS_FETCH, b, sizeof(b), &got, &fault);
    unsigned i = 0;
    *address_override = false;
    while (i < got && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3 || b[i] == 0xf0 ||
                       b[i] == 0x2e || b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 ||
                       b[i] == 0x64 || b[i] == 0x65)) {
        *address_override |= b[i] == 0x67;
        i++;
    }
    if (i < got && size == 8 && (b[i] & 0xf0) == 0x40)
        i++;
    if (i + 2 < got && b[i] == 0x0f && b[i + 1] == 0x01 && b[i + 2] >= 0xd8)
        return i + 3;
    return 0;
}

/* rAX as an address: its width is the address size (APM Vol. 3, VMRUN: "rAX"). */
static uint64_t rax_address(struct vm *vm, bool address_override)
{
    uint64_t rax = vm->cpu->exit.mr[VM_GPR(VM_RAX)];
    unsigned size = code_size(vm);
    if (address_override)
        size = size == 8 ? 4 : size == 4 ? 2 : 4;
    return size == 8 ? rax : size == 4 ? (uint32_t)rax : (uint16_t)rax;
}

/* The page rAX names: 4 KiB aligned and in the guest's RAM, else #GP (APM Vol. 3,
 * VMRUN/VMLOAD/VMSAVE; the VMM has nothing to read elsewhere). */
static bool read_vmcb(struct vm *vm, uint64_t address, uint8_t *vmcb)
{
    return !(address & 0xfff) && vm_read_phys(vm, address, vmcb, SVM_VMCB_SIZE);
}

/* The state VMLOAD and VMSAVE move (APM 15.5.2): FS, GS, TR and LDTR with their hidden
 * parts, then KernelGsBase, STAR, LSTAR, CSTAR, SFMASK and the SYSENTER MSRs, which
 * are the first eight words of the SYS group (pith/vm.h) but for the order. */
#define SEGMENT_TR 7                        /* in the SEG group: ES CS SS DS FS GS LDTR TR */
static const struct { unsigned segment, offset; } moved_segments[] = {
    { 4, VMCB12_FS }, { 5, VMCB12_GS }, { 6, VMCB12_LDTR }, { 7, VMCB12_TR },
};
static const unsigned moved_sys[8] = {
    VMCB12_SYSENTER_CS, VMCB12_SYSENTER_ESP, VMCB12_SYSENTER_EIP, VMCB12_STAR,
    VMCB12_LSTAR, VMCB12_CSTAR, VMCB12_SFMASK, VMCB12_KERNEL_GS_BASE,
};
#define SYS_WORDS 9

static bool sys_state(struct vm *vm, uint64_t *words, bool write)
{
    enum pith_error err = write ? pith_vcpu_write_state(vm->cpu->vcpu, PITH_VM_GROUP_SYS, words, SYS_WORDS)
                                : pith_vcpu_read_state(vm->cpu->vcpu, PITH_VM_GROUP_SYS, words, SYS_WORDS);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "VMLOAD/VMSAVE: the SYS group: %s", pith_error_name(err));
    return err == PITH_OK;
}

/* TR as L1 has it architecturally, and what its vCPU can hold.  VMLOAD and #VMEXIT
 * give L1 a TR that may be a real-mode L2's 16-bit TSS, but a long-mode vCPU may not be
 * entered with a TR that is not a 64-bit TSS (docs/vm.md: the kernel refuses it).  Its
 * vCPU then holds the same selector, base and limit as a busy 64-bit TSS, and VMSAVE
 * and VMRUN, finding it unchanged, use the real one: nothing can use TR in between
 * (hypervisors VMLOAD their own before STGI lets an interrupt in), and an LTR in
 * between changes it and ends the substitution. */
#define SEG_ATTR_SHIFT 16
#define SEG_ATTR_MASK  (0xfffull << SEG_ATTR_SHIFT)
#define TSS64_BUSY     0x8bull              /* present, system, type 11 */

struct held_tr {
    uint64_t given, real;
};
static struct held_tr held_trs[VM_MAX_VCPUS];

/* The TR a vCPU in long mode (or not) can be entered with: a 64-bit TSS as it is,
 * anything else as a busy 64-bit TSS with the same selector, base and limit. */
static uint64_t tr_enterable(uint64_t tr, bool long_mode)
{
    unsigned attr = (unsigned)(tr >> SEG_ATTR_SHIFT) & 0xfff, type = attr & 0x1f;
    if (!long_mode || ((attr & 0x80) && (type == 9 || type == 11)))
        return tr;
    return (tr & ~SEG_ATTR_MASK) | TSS64_BUSY << SEG_ATTR_SHIFT;
}

static uint64_t tr_hold(struct vm *vm, uint64_t real, uint64_t l1_efer)
{
    struct held_tr *h = &held_trs[vm->cpu->index];
    h->real = real;
    h->given = tr_enterable(real, (l1_efer & GUEST_EFER_LMA) != 0);
    return h->given;
}

static uint64_t tr_real(struct vm *vm, uint64_t word)
{
    struct held_tr *h = &held_trs[vm->cpu->index];
    return word == h->given ? h->real : word;
}

static bool vmsave(struct vm *vm, uint64_t address, uint8_t *vmcb)
{
    uint64_t sys[SYS_WORDS];
    if (!sys_state(vm, sys, false))
        return false;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t word = vm->cpu->exit.mr[VM_SEG(2 * moved_segments[i].segment)];
        if (moved_segments[i].segment == SEGMENT_TR)
            word = tr_real(vm, word);
        unsigned at = moved_segments[i].offset;
        vmcb12_put(vmcb, at, 2, word & 0xffff);
        vmcb12_put(vmcb, at + 2, 2, (word >> 16) & 0xfff);
        vmcb12_put(vmcb, at + 4, 4, word >> 32);
        vmcb12_put(vmcb, at + 8, 8, vm->cpu->exit.mr[VM_SEG(2 * moved_segments[i].segment + 1)]);
    }
    for (unsigned i = 0; i < 8; i++)
        vmcb12_put(vmcb, moved_sys[i], 8, sys[i]);
    return vm_write_phys(vm, address, vmcb, SVM_VMCB_SIZE);
}

static bool vmload(struct vm *vm, const uint8_t *vmcb)
{
    uint64_t sys[SYS_WORDS];
    if (!sys_state(vm, sys, false))
        return false;
    for (unsigned i = 0; i < 4; i++) {
        unsigned at = moved_segments[i].offset;
        vm->cpu->exit.mr[VM_SEG(2 * moved_segments[i].segment)] =
            vmcb12_get(vmcb, at, 2) | (vmcb12_get(vmcb, at + 2, 2) & 0xfff) << 16 | vmcb12_get(vmcb, at + 4, 4) << 32;
        vm->cpu->exit.mr[VM_SEG(2 * moved_segments[i].segment + 1)] = vmcb12_get(vmcb, at + 8, 8);
    }
    vm->cpu->exit.mr[VM_SEG(2 * SEGMENT_TR)] = tr_hold(vm, vm->cpu->exit.mr[VM_SEG(2 * SEGMENT_TR)],
                                                       vm->cpu->exit.mr[VM_CR(VM_EFER)]);
    vm->cpu->reply_groups |= PITH_VM_GROUP_SEG;
    for (unsigned i = 0; i < 8; i++)
        sys[i] = vmcb12_get(vmcb, moved_sys[i], 8);
    return sys_state(vm, sys, true);
}

/* VMRUN: the checks of APM 15.5.1 on the guest's VMCB.  A failure is a #VMEXIT with
 * VMEXIT_INVALID: the exit fields written to the guest's VMCB, the guest going on
 * after its VMRUN with its own state (the host state VMRUN saved is the state it has)
 * and GIF clear, as after every #VMEXIT (APM 15.17). */
static bool l2_run(struct vm *vm, uint64_t address, const uint8_t *vmcb, unsigned length);

static bool vmrun(struct vm *vm, uint64_t address, uint8_t *vmcb, unsigned length, bool *switched)
{
    struct svm_nested_limits limits = {
        .phys_bits = phys_bits(), .cr4_allowed = NESTED_CR4_ALLOWED,
        .efer_allowed = NESTED_EFER_ALLOWED, .long_mode = true,
        .nested_paging = (SVM_NESTED_FEATURES & 1) != 0,
    };
    enum svm_vmcb12_problem problem = svm_vmcb12_check(vmcb, &limits);
    if (problem == VMCB12_OK) {
        *switched = l2_run(vm, address, vmcb, length);
        return *switched;
    }
    svm_vmcb12_write_invalid(vmcb);
    set_gif(vm->cpu, false);
    return vm_write_phys(vm, address + VMCB12_EXITCODE, vmcb + VMCB12_EXITCODE, 32);
}

/* ---- Running the guest's guest ------------------------------------------------------------
 *
 * A VMRUN that passes its checks runs L2 on a vCPU object of the VMM's own, bound to
 * a thread of its own, whose exits come to the same exit endpoint under their own
 * badge (docs/nested.md, "Running L2 without a kernel change").  The VMM thread owes
 * one reply at a time, so the vCPU that does not run is suspended (Thread.SUSPEND
 * takes it out of its Call, as INIT does) and its state written before it is resumed.
 * An L2 without nested paging has L1's physical memory, so it runs in L1's own guest
 * space; one with nested paging runs in the shadow (nested_shadow.h), on a vCPU and
 * thread of its own (a vCPU's guest space is fixed when it is configured), whose
 * faults the VMM fills from L1's nested tables or reflects as #VMEXIT(NPF).  Every
 * other L2 exit must be one L1 intercepts (or a CPUID); it becomes a #VMEXIT into L1. */

struct nested_l2 {
    struct nested_l2_run run;
    struct nested_l2_cpu cpus[2];       /* without, with nested paging */
    bool np;                            /* the one that runs: nested paging on */
    pith_cap_t endpoint;                /* the badged exit endpoint both use */
    struct nested_shadow shadow;
    uint64_t ncr3;                      /* what the shadow is of: L1's nested root ... */
    uint32_t asid;                      /* ... and the ASID it gave L2 */
    bool nx;                            /* L1's EFER.NXE at VMRUN (the walk's NX) */
    uint64_t vmcb;                      /* the guest's VMCB (VMCB12) */
    bool entry_pending;                 /* L2 was recalled to take ... */
    struct nested_l2_reply entry;       /* ... VMCB12's EVENTINJ and V_IRQ window */
    uint64_t host_rip, host_rax, host_rsp;  /* L1 after its VMRUN (APM 15.5.1: saved by VMRUN) */
    uint64_t host_efer;
    struct svm_intercepts intercepts;
    uint64_t iopm;
};
static struct nested_l2 nested_l2s[VM_MAX_VCPUS];

static struct nested_l2 *l2_of(struct vcpu *c)
{
    return &nested_l2s[c->index];
}

/* The L2 vCPU and thread of the last VMRUN (with nested paging or without). */
static struct nested_l2_cpu *l2_running(struct nested_l2 *l2)
{
    return &l2->cpus[l2->np];
}

bool nested_svm_is_l2_exit(struct vcpu *c)
{
    return c->exit.reason != 0 && c->exit.badge == NESTED_L2_BADGE && l2_of(c)->run.running;
}

/* Nested paging at VMRUN: the shadow is of (nCR3, ASID); another pair, or a TLB flush
 * VMRUN asks for (TLB_CONTROL, APM 15.16), drops it, as the TLB entries it stands for
 * would be (docs/nested.md, "Flushing"). */
static enum pith_error l2_shadow_enter(struct vm *vm, struct nested_l2 *l2, const uint8_t *vmcb)
{
    enum pith_error err = shadow_setup(&l2->shadow);
    if (err)
        return err;
    uint64_t ncr3 = vmcb12_get(vmcb, VMCB12_N_CR3, 8);
    uint32_t asid = (uint32_t)vmcb12_get(vmcb, VMCB12_ASID, 4);
    if (ncr3 != l2->ncr3 || asid != l2->asid || vmcb12_get(vmcb, VMCB12_TLB_CONTROL, 1))
        shadow_flush(&l2->shadow);
    l2->ncr3 = ncr3;
    l2->asid = asid;
    l2->nx = (vm->cpu->exit.mr[VM_CR(VM_EFER)] & GUEST_EFER_NXE) != 0;
    return PITH_OK;
}

static void vmcb_segment_to_words(const uint8_t *vmcb, unsigned at, uint64_t *word, uint64_t *base)
{
    *word = vmcb12_get(vmcb, at, 2) | (vmcb12_get(vmcb, at + 2, 2) & 0xfff) << 16 | vmcb12_get(vmcb, at + 4, 4) << 32;
    *base = vmcb12_get(vmcb, at + 8, 8);
}

static void words_to_vmcb_segment(uint8_t *vmcb, unsigned at, uint64_t word, uint64_t base)
{
    vmcb12_put(vmcb, at, 2, word & 0xffff);
    vmcb12_put(vmcb, at + 2, 2, (word >> 16) & 0xfff);
    vmcb12_put(vmcb, at + 4, 4, word >> 32);
    vmcb12_put(vmcb, at + 8, 8, base);
}

static const unsigned vmrun_segments[4] = { VMCB12_ES, VMCB12_CS, VMCB12_SS, VMCB12_DS };

/* The state VMRUN loads (APM 15.5.1): ES, CS, SS, DS, GDTR, IDTR, the control
 * registers, EFER, DR7, RFLAGS, RIP, RSP, RAX from VMCB12; the other registers stay
 * what L1 had, FS, GS, TR, LDTR and the SYSCALL MSRs included (VMLOAD's business). */
static enum pith_error l2_enter_state(struct vm *vm, struct nested_l2 *l2, const uint8_t *vmcb)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    uint64_t gpr[16], rip[2], cr[6], seg[16], dtr[4], sys[9], tsc;
    for (unsigned i = 0; i < 16; i++)
        gpr[i] = mr[VM_GPR(i)];
    gpr[0] = vmcb12_get(vmcb, VMCB12_RAX, 8);
    gpr[4] = vmcb12_get(vmcb, VMCB12_RSP, 8);
    rip[0] = vmcb12_get(vmcb, VMCB12_RIP, 8);
    rip[1] = vmcb12_get(vmcb, VMCB12_RFLAGS, 8);
    cr[0] = vmcb12_get(vmcb, VMCB12_CR0, 8);
    cr[1] = vmcb12_get(vmcb, VMCB12_CR2, 8);
    cr[2] = vmcb12_get(vmcb, VMCB12_CR3, 8);
    cr[3] = vmcb12_get(vmcb, VMCB12_CR4, 8);
    cr[4] = vmcb12_get(vmcb, VMCB12_EFER, 8) & ~EFER_SVME_BIT;
    cr[5] = vmcb12_get(vmcb, VMCB12_DR7, 8);
    for (unsigned i = 0; i < 4; i++)
        vmcb_segment_to_words(vmcb, vmrun_segments[i], &seg[2 * i], &seg[2 * i + 1]);
    for (unsigned i = 8; i < 16; i++)
        seg[i] = mr[VM_SEG(i)];
    /* L2 gets L1's TR (VMRUN does not switch it); a long-mode L2 whose TR is a 16-bit
     * TSS, which SVM's VMRUN does not check but the kernel refuses, gets it as a
     * 64-bit one (tr_enterable), and L1 finds that one at #VMEXIT. */
    bool l2_long_mode = (cr[4] & GUEST_EFER_LMA) || ((cr[4] & GUEST_EFER_LME) && (cr[0] & GUEST_CR0_PG));
    seg[2 * SEGMENT_TR] = tr_enterable(tr_real(vm, seg[2 * SEGMENT_TR]), l2_long_mode);
    dtr[0] = vmcb12_get(vmcb, VMCB12_GDTR + 8, 8);
    dtr[1] = vmcb12_get(vmcb, VMCB12_GDTR + 4, 4);
    dtr[2] = vmcb12_get(vmcb, VMCB12_IDTR + 8, 8);
    dtr[3] = vmcb12_get(vmcb, VMCB12_IDTR + 4, 4);
    enum pith_error err = pith_vcpu_read_state(vm->cpu->vcpu, PITH_VM_GROUP_SYS, sys, SYS_WORDS);
    if (!err)
        err = pith_vcpu_read_state(vm->cpu->vcpu, PITH_VM_GROUP_TSC, &tsc, 1);
    tsc += vmcb12_get(vmcb, VMCB12_TSC_OFFSET, 8);
    /* VMRUN loads the interrupt shadow; the INTR group written also drops whatever an
     * earlier run of this vCPU left reported (docs/vm.md) */
    uint64_t intr[2] = { vmcb12_get(vmcb, VMCB12_INT_SHADOW, 8) & INTERRUPT_SHADOW, 0 };
    static const uint64_t groups[] = { PITH_VM_GROUP_GPR, PITH_VM_GROUP_RIP, PITH_VM_GROUP_CR,
                                       PITH_VM_GROUP_SEG, PITH_VM_GROUP_DTR, PITH_VM_GROUP_SYS,
                                       PITH_VM_GROUP_INTR, PITH_VM_GROUP_TSC };
    const uint64_t *words[] = { gpr, rip, cr, seg, dtr, sys, intr, &tsc };
    for (unsigned i = 0; i < 8 && !err; i++)
        err = pith_vcpu_write_state(l2_running(l2)->vcpu, groups[i], words[i], pith_vm_groups_length(groups[i]));
    return err;
}

/* What VMRUN delivers as L2 starts (APM 15.20-15.21): EVENTINJ, and with V_IRQ set
 * and VINTR intercepted, an exit as soon as L2 can take an interrupt (the interrupt
 * window; KVM asks for it so).  A thread resumed after SUSPEND has no exit to reply
 * to, so L2 is recalled first: its RECALL exit, before it runs anything, is answered
 * with the event and the window (nested_svm_l2_exit). */
#define INT_CTL_V_IRQ (1ull << 8)

static enum pith_error l2_entry_event(struct nested_l2 *l2, const uint8_t *vmcb)
{
    uint64_t event = vmcb12_get(vmcb, VMCB12_EVENTINJ, 8);
    bool window = (vmcb12_get(vmcb, VMCB12_INT_CTL, 8) & INT_CTL_V_IRQ) &&
                  svm_intercepts_cover(&l2->intercepts, SVM_EXIT_VINTR);
    l2->entry = (struct nested_l2_reply){
        .inject = (event & PITH_VM_EVENT_VALID) ? event & 0xffffffffull : 0,
        .error_code = event >> 32,
        .windows = window ? PITH_VM_WINDOW_INTERRUPT : 0,
    };
    l2->entry_pending = l2->entry.inject || l2->entry.windows;
    return l2->entry_pending ? pith_vcpu_recall(l2_running(l2)->vcpu) : PITH_OK;
}

/* VMRUN of a VMCB that passed its checks: L1 stops where it is, L2 starts.  false:
 * the guest was stopped (what L2 needs is not there yet, or an object failed). */
static bool l2_run(struct vm *vm, uint64_t address, const uint8_t *vmcb, unsigned length)
{
    struct vcpu *c = vm->cpu;
    struct nested_l2 *l2 = l2_of(c);
    l2->np = vmcb12_get(vmcb, VMCB12_NP_CONTROL, 8) & 1;
    enum pith_error err = l2->np ? l2_shadow_enter(vm, l2, vmcb) : PITH_OK;
    struct nested_l2_cpu *cpu = &l2->cpus[l2->np];
    if (!err && !cpu->created)
        err = nested_l2_cpu_create(c, &l2->endpoint, cpu, l2->np ? l2->shadow.space : vm->space);
    if (!err)
        err = l2_enter_state(vm, l2, vmcb);
    if (err) {
        vm_stop(vm, VM_END_ERROR, "VMRUN: the guest's guest: %s", pith_error_name(err));
        return false;
    }
    l2->vmcb = address;
    l2->host_rip = c->exit.mr[VM_RIP] + length;
    l2->host_rax = c->exit.mr[VM_GPR(VM_RAX)];
    l2->host_rsp = c->exit.mr[VM_GPR(4)];
    l2->host_efer = c->exit.mr[VM_CR(VM_EFER)];
    l2->intercepts = svm_intercepts_of(vmcb);
    l2->iopm = vmcb12_get(vmcb, VMCB12_IOPM_BASE, 8);
    c->svm.gif = true;                  /* VMRUN sets GIF (APM 15.17) */
    nested_l2_run_start(&l2->run);
    err = l2_entry_event(l2, vmcb);
    if (!err)
        err = nested_l2_switch(c->thread, l2_running(l2)->thread);
    if (err)
        vm_stop(vm, VM_END_ERROR, "VMRUN: switching to the guest's guest: %s", pith_error_name(err));
    return !err;
}

/* An L2 I/O exit in SVM's EXITINFO1 layout (APM 15.10.2): type, string, rep, size,
 * address size (16 bits in real mode, else 32, or 64 in long mode), port. */
static uint64_t io_exitinfo1(uint64_t q, uint64_t cr0, uint64_t efer)
{
    unsigned size = (q >> 16) & 0xff;
    uint64_t address = !(cr0 & CR0_PE) ? 1u << 7 : (efer & (1u << 10)) ? 1u << 9 : 1u << 8;
    return ((q & PITH_VM_IO_IN) ? 1 : 0) | ((q & PITH_VM_IO_STRING) ? 4 : 0) | ((q & PITH_VM_IO_REP) ? 8 : 0) |
           (size == 1 ? 0x10 : size == 2 ? 0x20 : 0x40) | address | (q & 0xffff) << 16;
}

static bool l1_intercepts(struct vm *vm, struct nested_l2 *l2, uint64_t code)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    if (code == SVM_EXIT_IOIO)
        return svm_intercepts_cover(&l2->intercepts, code) &&
               svm_iopm_intercepts(vm_read_phys, vm, l2->iopm, (uint16_t)mr[1], (mr[1] >> 16) & 0xff);
    return svm_intercepts_cover(&l2->intercepts, code);
}

/* #VMEXIT (APM 15.6-15.7): L2's state and the exit written to VMCB12; L1 resumes after
 * its VMRUN with its RAX, RSP and RIP as VMRUN saved them, L2's other registers (VMRUN
 * does not switch them), and GIF clear. */
static bool l2_exit_to_l1(struct vm *vm, struct nested_l2 *l2, uint64_t code, uint64_t info1, uint64_t info2)
{
    struct vcpu *c = vm->cpu;
    const uint64_t *mr = c->exit.mr;
    static uint8_t vmcb[SVM_VMCB_SIZE];
    uint64_t dtr[4], sys[SYS_WORDS];
    enum pith_error err = pith_vcpu_read_state(l2_running(l2)->vcpu, PITH_VM_GROUP_DTR, dtr, 4);
    if (!err)
        err = pith_vcpu_read_state(l2_running(l2)->vcpu, PITH_VM_GROUP_SYS, sys, SYS_WORDS);
    if (err || !vm_read_phys(vm, l2->vmcb, vmcb, sizeof(vmcb))) {
        vm_stop(vm, VM_END_ERROR, "#VMEXIT to the guest: %s", err ? pith_error_name(err) : "its VMCB is gone");
        return false;
    }
    for (unsigned i = 0; i < 4; i++)
        words_to_vmcb_segment(vmcb, vmrun_segments[i], mr[VM_SEG(2 * i)], mr[VM_SEG(2 * i + 1)]);
    vmcb12_put(vmcb, VMCB12_GDTR + 8, 8, dtr[0]);
    vmcb12_put(vmcb, VMCB12_GDTR + 4, 4, dtr[1]);
    vmcb12_put(vmcb, VMCB12_IDTR + 8, 8, dtr[2]);
    vmcb12_put(vmcb, VMCB12_IDTR + 4, 4, dtr[3]);
    vmcb12_put(vmcb, VMCB12_CR0, 8, mr[VM_CR(VM_CR0)]);
    vmcb12_put(vmcb, VMCB12_CR2, 8, mr[VM_CR(VM_CR2)]);
    vmcb12_put(vmcb, VMCB12_CR3, 8, mr[VM_CR(VM_CR3)]);
    vmcb12_put(vmcb, VMCB12_CR4, 8, mr[VM_CR(VM_CR4)]);
    vmcb12_put(vmcb, VMCB12_EFER, 8, mr[VM_CR(VM_EFER)] | EFER_SVME_BIT);
    vmcb12_put(vmcb, VMCB12_DR7, 8, mr[VM_CR(VM_DR7)]);
    vmcb12_put(vmcb, VMCB12_RIP, 8, mr[VM_RIP]);
    vmcb12_put(vmcb, VMCB12_RFLAGS, 8, mr[VM_RFLAGS]);
    vmcb12_put(vmcb, VMCB12_RSP, 8, mr[VM_GPR(4)]);
    vmcb12_put(vmcb, VMCB12_RAX, 8, mr[VM_GPR(VM_RAX)]);
    vmcb12_put(vmcb, VMCB12_CPL, 1, (mr[VM_SEG(2 * 2)] >> 21) & 3);
    vmcb12_put(vmcb, VMCB12_INT_SHADOW, 8, mr[VM_INTERRUPTIBILITY] & INTERRUPT_SHADOW);
    vmcb12_put(vmcb, VMCB12_EXITCODE, 8, code);
    vmcb12_put(vmcb, VMCB12_EXITINFO1, 8, info1);
    vmcb12_put(vmcb, VMCB12_EXITINFO2, 8, info2);
    vmcb12_put(vmcb, VMCB12_EXITINTINFO, 8, mr[VM_DELIVERING]);
    vmcb12_put(vmcb, VMCB12_EVENTINJ, 8, 0);
    if (!vm_write_phys(vm, l2->vmcb, vmcb, sizeof(vmcb))) {
        vm_stop(vm, VM_END_ERROR, "#VMEXIT to the guest: its VMCB is gone");
        return false;
    }
    uint64_t gpr[16], l1[18], *rip = l1, *seg = l1 + 2;    /* RIP group, then SEG */
    for (unsigned i = 0; i < 16; i++)
        gpr[i] = mr[VM_GPR(i)];
    gpr[0] = l2->host_rax;
    gpr[4] = l2->host_rsp;
    err = pith_vcpu_read_state(c->vcpu, PITH_VM_GROUP_RIP | PITH_VM_GROUP_SEG, l1, 18);
    for (unsigned i = 8; i < 16; i++)
        seg[i] = mr[VM_SEG(i)];             /* FS, GS, LDTR, TR: L2's */
    seg[2 * SEGMENT_TR] = tr_hold(vm, seg[2 * SEGMENT_TR], l2->host_efer);
    rip[0] = l2->host_rip;
    l2->run.running = false;
    l2->entry_pending = false;
    c->svm.gif = false;
    if (!err)
        err = pith_thread_suspend(l2_running(l2)->thread);
    if (!err)
        err = pith_vcpu_write_state(c->vcpu, PITH_VM_GROUP_GPR, gpr, 16);
    if (!err)
        err = pith_vcpu_write_state(c->vcpu, PITH_VM_GROUP_RIP, rip, 2);
    if (!err)
        err = pith_vcpu_write_state(c->vcpu, PITH_VM_GROUP_SEG, seg, 16);
    if (!err)
        err = pith_vcpu_write_state(c->vcpu, PITH_VM_GROUP_SYS, sys, SYS_WORDS);
    if (!err && virtual_gif(c)) {       /* no shadow after VMRUN, GIF clear */
        const uint64_t intr[2] = { PITH_VM_INTR_GIF_CLEAR, 0 };
        err = pith_vcpu_write_state(c->vcpu, PITH_VM_GROUP_INTR, intr, 2);
    }
    if (!err)
        err = pith_thread_resume(c->thread);
    /* Its STGI will not exit: an interrupt or NMI that waits for it needs an exit now,
     * whose reply asks for the window that opens after the STGI (plan_injection). */
    if (!err && virtual_gif(c) && !c->recall_requested && vcpu_wants_attention(c))
        err = vcpu_recall(c, c->vcpu);
    if (err)
        vm_stop(vm, VM_END_ERROR, "#VMEXIT to the guest: %s", pith_error_name(err));
    return !err;
}

/* An L2 access the shadow does not map (docs/nested.md, "The shadow nested page
 * table"): L1's nested tables walked as the processor would; a fault is L1's
 * #VMEXIT(NPF) (EXITINFO1 the error code, with bit 32: the final translation, since
 * the kernel does not say whether L2 was walking its own tables; EXITINFO2 the
 * address); a page of L1's RAM is mapped, writable only once written or dirty so
 * that a later write sets the dirty bit, and L2 tries again. */
#define NPF_FINAL_TRANSLATION (1ull << 32)

static enum nested_l2_step l2_nested_page_fault(struct vm *vm, struct nested_l2 *l2)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    uint64_t address = mr[1];
    unsigned access = ((mr[2] & PITH_VM_ACCESS_WRITE) ? NPT_ACCESS_WRITE : 0) |
                      ((mr[2] & PITH_VM_ACCESS_EXECUTE) ? NPT_ACCESS_EXECUTE : 0);
    struct npt_walker walker = {
        .ncr3 = l2->ncr3, .phys_bits = phys_bits(), .nx = l2->nx, .gb_pages = false,
        .read = vm_read_phys, .write = vm_write_phys, .ctx = vm,
    };
    struct npt_walk_result walk = npt_walk(&walker, address, access);
    if (walk.status == NPT_WALK_FAULT)
        return l2_exit_to_l1(vm, l2, SVM_EXIT_NPF, walk.error | NPF_FINAL_TRANSLATION, address)
                   ? NESTED_L2_TO_L1 : NESTED_L2_STOPPED;
    bool writable = walk.writable && (walk.dirty || (access & NPT_ACCESS_WRITE));
    return nested_l2_shadow_fill(vm, &l2->shadow, address, walk.address, writable, walk.executable,
                                 "nested tables");
}

enum nested_l2_step nested_svm_l2_exit(struct vm *vm, struct nested_l2_reply *reply)
{
    struct vcpu *c = vm->cpu;
    struct nested_l2 *l2 = l2_of(c);
    const uint64_t *mr = c->exit.mr;
    uint64_t code = mr[0], info1 = 0, info2 = 0;
    switch (c->exit.reason) {
    case PITH_EXIT_IO:
        info1 = io_exitinfo1(mr[1], mr[VM_CR(VM_CR0)], mr[VM_CR(VM_EFER)]);
        info2 = mr[VM_RIP] + mr[3];
        break;
    case PITH_EXIT_INVALID_STATE:       /* the state L1 gave its guest was refused */
        return l2_exit_to_l1(vm, l2, SVM_EXIT_INVALID, 0, 0) ? NESTED_L2_TO_L1 : NESTED_L2_STOPPED;
    case PITH_EXIT_RECALL:
        if (l2->entry_pending) {        /* VMRUN's event and window (l2_entry_event) */
            *reply = l2->entry;
            l2->entry_pending = false;
            return NESTED_L2_RETRY;
        }
        code = SVM_EXIT_INTR;           /* L1's interrupt, or a recall left over: harmless */
        if (nested_l2_event_first(vm->cpu, &l2->run))
            return NESTED_L2_RETRY;
        if (!l1_intercepts(vm, l2, code)) {
            nested_l2_run_start(&l2->run);  /* a quantum before the next recall */
            return NESTED_L2_RETRY;
        }
        break;
    case PITH_EXIT_MMIO:
        if (l2->np)
            return l2_nested_page_fault(vm, l2);
        break;
    case PITH_EXIT_INTERRUPT_WINDOW:
        /* A window an earlier VMRUN asked for, which L1 no longer wants: the kernel
         * keeps a window until it opens (docs/vm.md), and it has opened now. */
        if (!l1_intercepts(vm, l2, SVM_EXIT_VINTR))
            return NESTED_L2_RETRY;
        break;
    default:
        break;
    }
    if (!l1_intercepts(vm, l2, code))
        return NESTED_L2_NOT_INTERCEPTED;
    return l2_exit_to_l1(vm, l2, code, info1, info2) ? NESTED_L2_TO_L1 : NESTED_L2_STOPPED;
}

bool nested_svm_l2_running(struct vcpu *c)
{
    return l2_of(c)->run.running;
}

pith_cap_t nested_svm_recall_target(struct vcpu *c)
{
    struct nested_l2 *l2 = l2_of(c);
    return nested_l2_recall_target(c, &l2->run, l2_running(l2)->vcpu);
}

uint64_t nested_svm_deadline(struct vcpu *c)
{
    return nested_l2_deadline(c, &l2_of(c)->run);
}

void nested_svm_finish(struct vcpu *c)
{
    struct nested_l2 *l2 = l2_of(c);
    for (unsigned i = 0; i < 2; i++) {
        if (l2->cpus[i].created)
            pith_thread_suspend(l2->cpus[i].thread);
    }
    l2->run.running = false;
    if (l2->shadow.faults)
        vm_log(c->vm, "vCPU %u: the shadow nested table: %lu pages mapped, %lu flushes", c->index,
               l2->shadow.faults, l2->shadow.flushes);
}

bool nested_svm_instruction(struct vm *vm, uint64_t *inject, bool *switched)
{
    struct vcpu *c = vm->cpu;
    *switched = false;
    uint64_t code = c->exit.mr[0];
    bool protected_mode = (c->exit.mr[VM_CR(VM_CR0)] & CR0_PE) != 0;
    switch (svm_instruction_fault(code, vm->nested_svm, c->svm.svme, protected_mode, cpl(vm))) {
    case SVM_FAULT_UD:
        *inject = exception_event(VECTOR_UD, false);
        return true;
    case SVM_FAULT_GP:
        *inject = exception_event(VECTOR_GP, true);
        return true;
    case SVM_FAULT_NONE:
        break;
    }
    bool address_override;
    unsigned length = instruction_length(vm, &address_override);
    if (length == 0) {
        vm_stop(vm, VM_END_ERROR, "SVM exit 0x%lx at rip 0x%lx, where there is no SVM instruction",
                code, c->exit.mr[VM_RIP]);
        return false;
    }
    uint64_t address = rax_address(vm, address_override);
    static uint8_t vmcb[SVM_VMCB_SIZE];     /* under the VMM lock */
    bool done = true;
    switch (code) {
    case SVM_EXIT_STGI:
        set_gif(c, true);
        break;
    case SVM_EXIT_CLGI:
        set_gif(c, false);
        break;
    case SVM_EXIT_INVLPGA:          /* no guest of the guest runs: nothing is cached */
        break;
    case SVM_EXIT_VMRUN:
    case SVM_EXIT_VMLOAD:
    case SVM_EXIT_VMSAVE:
        if (!read_vmcb(vm, address, vmcb)) {
            *inject = exception_event(VECTOR_GP, true);
            return true;
        }
        done = code == SVM_EXIT_VMRUN ? vmrun(vm, address, vmcb, length, switched)
             : code == SVM_EXIT_VMLOAD ? vmload(vm, vmcb) : vmsave(vm, address, vmcb);
        break;
    }
    if (*switched)
        return true;                /* L1 waits, suspended, for its #VMEXIT */
    if (!done) {
        if (!vm->stopped)
            vm_stop(vm, VM_END_ERROR, "SVM exit 0x%lx at rip 0x%lx: guest memory at 0x%lx", code,
                    c->exit.mr[VM_RIP], address);
        return false;
    }
    c->exit.mr[VM_RIP] += length;
    c->exit.mr[VM_INTERRUPTIBILITY] &= ~INTERRUPT_SHADOW;
    return true;
}
