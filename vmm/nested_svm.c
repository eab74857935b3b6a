/* Virtual SVM in the VMM (nested_svm.h).  The rules are dev/svm_nested.h's; this file
 * reaches the guest's state and memory.  References: AMD APM Vol. 2, chapter 15;
 * Vol. 3, the SVM instructions. */
#include <pith/string.h>

#include "dev/guest_walk.h"
#include "dev/x86_decode.h"
#include "interrupt.h"
#include "msr.h"
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
    enum svm_msr_result r = svm_nested_msr_read(&vm->cpu->svm, index, value);
    *ok = r == SVM_MSR_DONE;
    return r != SVM_MSR_NOT_MINE;
}

bool nested_svm_msr_write(struct vm *vm, uint32_t index, uint64_t value, bool *ok)
{
    if (!vm->nested_svm)
        return false;
    enum svm_msr_result r = svm_nested_msr_write(&vm->cpu->svm, index, value, phys_bits());
    *ok = r == SVM_MSR_DONE;
    return r != SVM_MSR_NOT_MINE;
}

uint64_t nested_svm_efer_read(struct vm *vm, uint64_t efer)
{
    return svm_nested_efer_read(&vm->cpu->svm, efer);
}

bool nested_svm_efer_write(struct vm *vm, uint64_t *value)
{
    return svm_nested_efer_write(&vm->cpu->svm, vm->nested_svm, value);
}

bool nested_svm_gif(struct vm *vm)
{
    return !vm->nested_svm || vm->cpu->svm.gif;
}

bool nested_svm_gif_clear(const struct vcpu *c)
{
    return c->vm->nested_svm && !c->svm.gif;
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

static bool vmsave(struct vm *vm, uint64_t address, uint8_t *vmcb)
{
    uint64_t sys[SYS_WORDS];
    if (!sys_state(vm, sys, false))
        return false;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t word = vm->cpu->exit.mr[VM_SEG(2 * moved_segments[i].segment)];
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
    vm->cpu->reply_groups |= PITH_VM_GROUP_SEG;
    for (unsigned i = 0; i < 8; i++)
        sys[i] = vmcb12_get(vmcb, moved_sys[i], 8);
    return sys_state(vm, sys, true);
}

/* VMRUN: the checks of APM 15.5.1 on the guest's VMCB.  A failure is a #VMEXIT with
 * VMEXIT_INVALID: the exit fields written to the guest's VMCB, the guest going on
 * after its VMRUN with its own state (the host state VMRUN saved is the state it has)
 * and GIF clear, as after every #VMEXIT (APM 15.17). */
static bool vmrun(struct vm *vm, uint64_t address, uint8_t *vmcb)
{
    struct svm_nested_limits limits = {
        .phys_bits = phys_bits(), .cr4_allowed = NESTED_CR4_ALLOWED,
        .efer_allowed = NESTED_EFER_ALLOWED, .long_mode = true,
        .nested_paging = (SVM_NESTED_FEATURES & 1) != 0,
    };
    enum svm_vmcb12_problem problem = svm_vmcb12_check(vmcb, &limits);
    if (problem == VMCB12_OK) {
        vm_stop(vm, VM_END_ERROR, "VMRUN at rip 0x%lx: the VMCB at 0x%lx passes its checks, and running "
                "the guest's own guest is not implemented yet (docs/nested.md)",
                vm->cpu->exit.mr[VM_RIP], address);
        return false;
    }
    svm_vmcb12_write_invalid(vmcb);
    vm->cpu->svm.gif = false;
    return vm_write_phys(vm, address + VMCB12_EXITCODE, vmcb + VMCB12_EXITCODE, 32);
}

bool nested_svm_instruction(struct vm *vm, uint64_t *inject)
{
    struct vcpu *c = vm->cpu;
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
        c->svm.gif = true;
        break;
    case SVM_EXIT_CLGI:
        c->svm.gif = false;
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
        done = code == SVM_EXIT_VMRUN ? vmrun(vm, address, vmcb)
             : code == SVM_EXIT_VMLOAD ? vmload(vm, vmcb) : vmsave(vm, address, vmcb);
        break;
    }
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
