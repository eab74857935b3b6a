/*
 * The exit loop of one vCPU (vm.h): wait for an exit or a timer deadline, emulate,
 * reply.  Every vCPU has its own VMM thread running this loop (vcpu.c); each step
 * after a receive is done under the VMM lock, with vm->cpu the vCPU it is for.
 *
 * The VMM thread has its vCPU's notification bound, so its receive on the exit
 * endpoint returns either an exit (a Call from the vCPU thread) or the notification's
 * bits: a deadline, or a kick from another VMM thread.
 * A deadline brings the platform's timers up to date (test platform: the periodic
 * timer; PC: PIT, RTC, local APIC, console input), which may leave an interrupt
 * pending; it is injected on the next reply to an exit when the guest can take it,
 * else an interrupt window is requested.  If the guest is running when the deadline
 * arrives, a recall brings it back with a RECALL exit (vm_unlock sends it).  A HLT
 * exit is answered only when an interrupt is pending: until then the VMM thread waits
 * on the notification and the vCPU thread waits for the reply.
 */
#include <pith/guest.h>
#include <pith/printf.h>
#include <pith/string.h>

#include "x86/cpuid.h"
#include "emulate.h"
#include "gdbstub.h"
#include "interrupt.h"
#include "nested_svm.h"
#include "nested_vmx.h"
#include "vm.h"

/* What the loop does after a handler. */
enum next_step {
    STEP_RESUME,                    /* reply and let the guest run */
    STEP_HALT,                      /* reply once an interrupt is pending */
    STEP_STOP,                      /* the guest is finished */
    STEP_SWITCHED,                  /* VMRUN: the vCPU waits suspended, no reply */
};

/* The reply being prepared: an event a handler wants injected (an exception). */
struct reply {
    uint64_t inject, error_code, windows;
};

static uint64_t *gprs(struct vm *vm)
{
    return &vm->cpu->exit.mr[VM_GPR(0)];
}

/* The emulated instruction is done: move past it.  Completing an instruction also
 * ends an STI or MOV SS interrupt shadow, which covered only that instruction. */
static void skip_instruction(struct vm *vm, uint64_t length)
{
    vm->cpu->exit.mr[VM_RIP] += length;
    vm->cpu->exit.mr[VM_INTERRUPTIBILITY] &= ~INTERRUPT_SHADOW;
}

static void inject_exception(struct reply *reply, uint8_t vector, bool error_code)
{
    reply->inject = exception_event(vector, error_code);
    reply->error_code = 0;
}

static void inject_gp(struct vm *vm, struct reply *reply)
{
    inject_exception(reply, 13, true);
    vm->record.gp_injected++;
}

/* ---- CPUID ------------------------------------------------------------------------ */

static void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(out[CPUID_EAX]), "=b"(out[CPUID_EBX]), "=c"(out[CPUID_ECX]),
                       "=d"(out[CPUID_EDX])
                     : "a"(leaf), "c"(subleaf));
}

/* What vCPU c's CPUID(leaf, subleaf) reads. */
static void guest_cpuid(struct vm *vm, const struct vcpu *c, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    cpuid_guest_with(host_cpuid, vm->platform->cpuid_emulates, leaf, subleaf, out);
    nested_svm_cpuid(vm, leaf, out);
    nested_vmx_cpuid(vm, leaf, out);
    if (leaf == 1)                      /* the initial APIC ID: the vCPU's index */
        out[CPUID_EBX] = (out[CPUID_EBX] & 0xffffff) | c->index << 24;
}

/* The kernel answers vCPU c's CPUIDs (VCpu.SET_CPUID): a shortcut per range of leaves
 * over which the answer is the same (cpuid_guest_ranges).  The gaps between the leaves
 * cpuid.c names read as zero unless nested SVM answers some of them: then they keep
 * exiting.  L2's vCPUs have none of these, so an L2's CPUID still reaches L1. */
static void set_cpuid_shortcuts(struct vm *vm, const struct vcpu *c)
{
    struct cpuid_range ranges[CPUID_RANGES];
    unsigned n = cpuid_guest_ranges(ranges), set = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t out[4];
        if (ranges[i].gap && vm->nested_svm)
            continue;
        guest_cpuid(vm, c, ranges[i].first, 0, out);
        if (pith_vcpu_set_cpuid(c->vcpu, ranges[i].first, ranges[i].last, out) == PITH_OK)
            set++;
    }
    if (set < n && !vm->nested_svm)
        vm_log(vm, "vCPU %u: %u of %u CPUID shortcuts taken", c->index, set, n);
}

/* The kernel answers RDMSR of the MSRs whose value never changes (VCpu.SET_MSR):
 * DEBUGCTL, which reads 0 and takes only 0 (msr.h), and which a guest hypervisor reads
 * around every entry of its guest (Linux's KVM: once per L2 exit). */
static void set_msr_shortcuts(struct vm *vm, const struct vcpu *c)
{
    if (pith_vcpu_set_msr(c->vcpu, MSR_IA32_DEBUGCTL, PITH_VM_MSR_READ, 0) != PITH_OK)
        vm_log(vm, "vCPU %u: no MSR shortcut for DEBUGCTL", c->index);
}

static enum next_step handle_cpuid(struct vm *vm)
{
    uint32_t leaf = (uint32_t)vm->cpu->exit.mr[1], out[4];
    guest_cpuid(vm, vm->cpu, leaf, (uint32_t)vm->cpu->exit.mr[2], out);
    if (leaf < 32)
        vm->record.cpuid_leaves |= 1ull << leaf;
    else if (leaf == CPUID_HYPERVISOR_LEAF)
        vm->record.cpuid_leaves |= 1ull << 32;
    gprs(vm)[VM_RAX] = out[CPUID_EAX];
    gprs(vm)[VM_RBX] = out[CPUID_EBX];
    gprs(vm)[VM_RCX] = out[CPUID_ECX];
    gprs(vm)[VM_RDX] = out[CPUID_EDX];
    skip_instruction(vm, vm->cpu->exit.mr[3]);
    return STEP_RESUME;
}

/* ---- Port I/O --------------------------------------------------------------------- */

static enum next_step after_emulation(struct vm *vm, enum emulate_result r, struct reply *reply);

/* IN writes AL or AX and keeps the rest of RAX; IN EAX zero-extends into RAX. */
static uint64_t in_merge(uint64_t rax, unsigned size, uint64_t value)
{
    if (size >= 4)
        return (uint32_t)value;
    uint64_t mask = size == 2 ? 0xffffull : 0xffull;
    return (rax & ~mask) | (value & mask);
}

static enum next_step handle_io(struct vm *vm, struct reply *reply)
{
    uint64_t q = vm->cpu->exit.mr[1];
    unsigned port = q & 0xffff, size = (q >> 16) & 0xff;
    struct device_window scratch;
    const struct device_window *w = vm_port_window(vm, (uint16_t)port, &scratch);
    if (q & (PITH_VM_IO_STRING | PITH_VM_IO_REP)) {
        enum emulate_result r = emulate_string_io(vm, (uint16_t)port, size, q & PITH_VM_IO_IN,
                                                  q & PITH_VM_IO_REP, &reply->inject, &reply->error_code);
        return after_emulation(vm, r, reply);
    }
    if (q & PITH_VM_IO_IN)
        gprs(vm)[VM_RAX] = in_merge(gprs(vm)[VM_RAX], size, vm_device_read(w, port, size));
    else
        vm_device_write(w, port, size, vm->cpu->exit.mr[2]);
    skip_instruction(vm, vm->cpu->exit.mr[3]);
    return vm->stopped ? STEP_STOP : STEP_RESUME;
}

/* ---- Port shortcuts ------------------------------------------------------------------ */

#define UART_PORT 0x3f8

/* The guest's writes the kernel kept for us (VCpu.SET_PORT), before the exit they came
 * with: in the order written, as if each had exited. */
static void perform_port_writes(struct vm *vm)
{
    uint16_t port;
    uint8_t bytes[PITH_VM_PORT_BUFFER_BYTES];
    unsigned n = pith_vm_exit_port_writes(&vm->cpu->exit, &port, bytes);
    struct device_window scratch;
    const struct device_window *w = n ? vm_port_window(vm, port, &scratch) : NULL;
    for (unsigned i = 0; i < n && !vm->stopped; i++)
        vm_device_write(w, port, 1, bytes[i]);
}

/* The COM1 accesses of a guest printing (an LSR read and a THR write per character)
 * answered by the kernel while that changes nothing the guest could see before its
 * next exit (uart16550_lsr_constant, uart16550_thr_deferrable): set on every vCPU
 * whenever the answer changes, when vm->port_shortcuts is set: unless the guest's
 * command line says pith.port_shortcuts=0 (docs/vm.md, "Port shortcuts"). */
static void sync_port_shortcuts(struct vm *vm)
{
    if (!vm->port_shortcuts)
        return;
    int lsr = uart16550_lsr_constant(&vm->uart);
    bool thr = uart16550_thr_deferrable(&vm->uart);
    if (vm->shortcuts.known && lsr == vm->shortcuts.lsr && thr == vm->shortcuts.thr)
        return;
    for (unsigned i = 0; i < vm->vcpu_count; i++) {
        pith_cap_t vcpu = vm->cpus[i].vcpu;
        enum pith_error err = PITH_OK;
        if (!vm->shortcuts.known || lsr != vm->shortcuts.lsr)
            err = pith_vcpu_set_port(vcpu, UART_PORT + UART_LSR, lsr < 0 ? PITH_VM_PORT_EXIT : PITH_VM_PORT_READ,
                                     lsr < 0 ? 0 : (uint64_t)lsr);
        if (err == PITH_OK && (!vm->shortcuts.known || thr != vm->shortcuts.thr))
            err = pith_vcpu_set_port(vcpu, UART_PORT + UART_RBR_THR_DLL,
                                     thr ? PITH_VM_PORT_BUFFER : PITH_VM_PORT_EXIT, 0);
        if (err != PITH_OK) {
            vm_stop(vm, VM_END_ERROR, "setting vCPU %u's port shortcuts: %s", i, pith_error_name(err));
            return;
        }
    }
    vm->shortcuts.known = true;
    vm->shortcuts.lsr = lsr;
    vm->shortcuts.thr = thr;
}

/* ---- MSRs ------------------------------------------------------------------------- */

/* The words of one state group that is not in the transfer mask. */
static bool read_group(struct vm *vm, uint64_t group, uint64_t *words)
{
    unsigned n = pith_vm_groups_length(group);
    enum pith_error err = pith_vcpu_read_state(vm->cpu->vcpu, group, words, n);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "reading vCPU state: %s", pith_error_name(err));
    return err == PITH_OK;
}

static bool write_group(struct vm *vm, uint64_t group, const uint64_t *words)
{
    unsigned n = pith_vm_groups_length(group);
    enum pith_error err = pith_vcpu_write_state(vm->cpu->vcpu, group, words, n);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "writing vCPU state: %s", pith_error_name(err));
    return err == PITH_OK;
}

/* A state-group word: from the exit message when the group came with it. */
static uint64_t *exit_word(struct vm *vm, uint64_t group, unsigned word)
{
    if (!(VM_TRANSFER_MASK & group))
        return NULL;
    return &vm->cpu->exit.mr[pith_vm_group_at(VM_TRANSFER_MASK, group) + word];
}

static bool msr_read(struct vm *vm, uint32_t index, uint64_t *value)
{
    bool ok;
    if (nested_svm_msr_read(vm, index, value, &ok) || nested_vmx_msr_read(vm, index, value, &ok))
        return ok;
    if (vm->platform->msr_read && vm->platform->msr_read(vm, index, value, &ok))
        return ok;
    struct msr_place place = msr_lookup(index);
    uint64_t words[16], *word;
    switch (place.kind) {
    case MSR_IN_STATE:
        if ((word = exit_word(vm, place.group, place.word)) != NULL) {
            *value = *word;
            return true;
        }
        if (!read_group(vm, place.group, words))
            return false;
        *value = words[place.word];
        return true;
    case MSR_TSC:
        vm->record.tsc_reads++;
        *value = msr_tsc_read(pith_rdtsc(), vm->cpu->tsc_offset);
        return true;
    case MSR_EMULATED:
        return msr_emulated_read(&vm->msrs, index, value);
    default:
        return false;
    }
}

static bool msr_write(struct vm *vm, uint32_t index, uint64_t value)
{
    bool ok;
    if (nested_svm_msr_write(vm, index, value, &ok) || nested_vmx_msr_write(vm, index, &ok))
        return ok;
    if (vm->platform->msr_write && vm->platform->msr_write(vm, index, value, &ok))
        return ok;
    struct msr_place place = msr_lookup(index);
    uint64_t words[16], *word;
    switch (place.kind) {
    case MSR_IN_STATE:
        if (!msr_state_write_valid(index, value))
            return false;
        if ((word = exit_word(vm, place.group, place.word)) != NULL) {
            if (index == MSR_EFER)      /* LMA is the processor's: kept as it is */
                value = (value & ~(1ull << 10)) | (*word & (1ull << 10));
            *word = value;
            vm->cpu->reply_groups |= place.group;
            return true;
        }
        if (!read_group(vm, place.group, words))
            return false;
        words[place.word] = value;
        return write_group(vm, place.group, words);
    case MSR_TSC:
        vm->cpu->tsc_offset = msr_tsc_offset_for(pith_rdtsc(), value);
        return write_group(vm, PITH_VM_GROUP_TSC, &vm->cpu->tsc_offset);
    case MSR_EMULATED:
        return msr_emulated_write(&vm->msrs, index, value);
    default:
        return false;
    }
}

/* RDMSR and WRMSR: edx:eax is the value, ecx the MSR; #GP(0) for what is not there. */
static enum next_step handle_msr(struct vm *vm, struct reply *reply)
{
    uint32_t index = (uint32_t)vm->cpu->exit.mr[1];
    bool ok;
    if (vm->cpu->exit.reason == PITH_EXIT_MSR_READ) {
        uint64_t value = 0;
        ok = msr_read(vm, index, &value);
        if (ok && index == MSR_EFER)
            value = nested_svm_efer_read(vm, value);
        if (ok) {
            gprs(vm)[VM_RAX] = (uint32_t)value;
            gprs(vm)[VM_RDX] = value >> 32;
        }
    } else {
        uint64_t value = vm->cpu->exit.mr[2];
        struct svm_nested_cpu before = vm->cpu->svm;
        ok = (index != MSR_EFER || nested_svm_efer_write(vm, &value)) && msr_write(vm, index, value);
        if (!ok)
            vm->cpu->svm = before;      /* a refused EFER write keeps SVME too */
    }
    if (vm->stopped)
        return STEP_STOP;
    if (!ok) {
        vm->record.last_gp_msr = index;
        inject_gp(vm, reply);
        return STEP_RESUME;
    }
    skip_instruction(vm, vm->cpu->exit.mr[3]);
    return STEP_RESUME;
}

/* ---- MMIO and other emulated instructions ------------------------------------------ */

static enum next_step after_emulation(struct vm *vm, enum emulate_result r, struct reply *reply)
{
    switch (r) {
    case EMULATE_DONE:
        vm->cpu->exit.mr[VM_INTERRUPTIBILITY] &= ~INTERRUPT_SHADOW;
        return vm->stopped ? STEP_STOP : STEP_RESUME;
    case EMULATE_AGAIN:
    case EMULATE_FAULT:
        (void)reply;
        return vm->stopped ? STEP_STOP : STEP_RESUME;
    default:
        return STEP_STOP;
    }
}

static enum next_step handle_mmio(struct vm *vm, struct reply *reply)
{
    uint64_t gpa = vm->cpu->exit.mr[1], access = vm->cpu->exit.mr[2];
    if (access & PITH_VM_ACCESS_EXECUTE) {
        vm_stop(vm, VM_END_ERROR, "the guest jumped to 0x%lx, where there is no memory", gpa);
        return STEP_STOP;
    }
    enum emulate_result r = emulate_mmio(vm, gpa, access & PITH_VM_ACCESS_WRITE, &reply->inject,
                                         &reply->error_code);
    return after_emulation(vm, r, reply);
}

static enum next_step handle_cr_access(struct vm *vm, struct reply *reply)
{
    return after_emulation(vm, emulate_cr_access(vm, &reply->inject, &reply->error_code), reply);
}

/* ---- Time -------------------------------------------------------------------------- */

/* Arms the notification of the lock holder's vCPU for its next event (host TSC). */
static void arm_deadline(struct vm *vm, uint64_t tsc)
{
    struct vcpu *c = vm->cpu;
    if (c->index == 0)
        tsc = gdb_deadline(vm, tsc);    /* the debugger's UART is polled too */
    vcpu_set_deadline(c, tsc);
}

/* Everything time-driven up to now (the platform's timers, console input); then the
 * deadline for what comes next. */
static void update_time(struct vm *vm)
{
    uint64_t next = vm->platform->update(vm, vm->cpu->index);
    uint64_t recall = nested_deadline(vm->cpu);
    arm_deadline(vm, recall && (!next || recall < next) ? recall : next);
}

/* The notification's bits came (taken by the receive, the wait or the poll): a
 * deadline, a kick from another VMM thread, which needs nothing here, COM2 given or
 * taken, or (vCPU 0's) what the platform takes: the network switch's signal (frames
 * may wait for the guest), the power button. */
static void notified(struct vm *vm, uint64_t bits)
{
    vm->cpu->kicked = false;
    if (bits & PITH_DEADLINE_BIT) {
        vm->cpu->deadline = 0;
        if (vm->cpu->index == 0)
            gdb_poll(vm);
        update_time(vm);
    }
    if (vm->platform->signalled)
        vm->platform->signalled(vm, bits);
    if ((bits & PITH_GUEST_GDB_BADGE) && vm->cpu->index == 0)
        gdb_grant_changed(vm);      /* the control shell gave or took COM2 */
    sync_port_shortcuts(vm);            /* typed input changes LSR */
}

/* Before a reply: take a deadline bit that arrived while the VMM was busy. */
static void poll_deadline(struct vm *vm)
{
    uint64_t bits;
    if (pith_poll(vm->cpu->notification, &bits) == PITH_OK && bits)
        notified(vm, bits);
    update_time(vm);                    /* the exit may have changed a device's timer */
}

/* ---- Interrupts -------------------------------------------------------------------- */

static bool interrupt_waiting(struct vm *vm)
{
    return vm->platform->interrupt(vm, vm->cpu->index, false) >= 0;
}

static uint8_t take_interrupt(struct vm *vm)
{
    return (uint8_t)vm->platform->interrupt(vm, vm->cpu->index, true);
}

/* Waits, without the lock, for the vCPU's notification (a deadline or a kick). */
static void wait_notified(struct vm *vm)
{
    struct vcpu *c = vm->cpu;
    uint64_t bits = 0;
    vm_unlock(vm);
    pith_wait(c->notification, &bits);
    vm_lock(vm, c);
    notified(vm, bits);
}

/* A HLT: the vCPU thread waits for the reply, its VMM thread for the next interrupt.
 * With interrupts off only an NMI or INIT can wake it: on a machine with one vCPU that
 * is the end; with several it is how Linux parks the others when it powers off. */
static void wait_for_interrupt(struct vm *vm)
{
    struct vcpu *c = vm->cpu;
    bool interrupts_off = !(c->exit.mr[VM_RFLAGS] & RFLAGS_IF);
    if (interrupts_off && vm->vcpu_count == 1) {
        vm_stop(vm, VM_END_HALTED, "HLT with interrupts disabled at 0x%lx", c->exit.mr[VM_RIP]);
        return;
    }
    vm_output_flush(vm);
    if (vm->platform->halted)
        vm->platform->halted(vm, c->index);
    c->halted_interrupts_off = interrupts_off;
    c->state = VCPU_HALTED;
    uint64_t halted = pith_rdtsc();
    while (!vcpu_wants_attention(c))
        wait_notified(vm);
    if (vm->stats)
        vm->stats->halted_tsc += pith_rdtsc() - halted;
    c->state = VCPU_HANDLING;
    c->halted_interrupts_off = false;
}

/* The interrupt rides on this reply if the guest can take it; otherwise the guest
 * exits again as soon as it can.  An event whose delivery the exit interrupted goes
 * first (the hardware does not redo it); an NMI before an external interrupt. */
static void plan_injection(struct vm *vm, struct reply *reply)
{
    struct vcpu *c = vm->cpu;
    uint64_t delivering = c->exit.mr[VM_DELIVERING];
    if (!reply->inject && (delivering & PITH_VM_EVENT_VALID)) {
        reply->inject = delivering & 0xffffffffull;
        reply->error_code = delivering >> 32;
    }
    if (!nested_svm_gif(vm)) {      /* GIF clear: interrupts and NMIs wait (APM 15.17), */
        if (nested_svm_stgi_silent(c) &&                    /* for a window after STGI */
            (vm_nmi(vm, c->index, false) || interrupt_waiting(vm)))
            reply->windows |= PITH_VM_WINDOW_INTERRUPT;
        return;
    }
    if (vm_nmi(vm, c->index, false)) {
        if (!reply->inject && !(c->exit.mr[VM_INTERRUPTIBILITY] & INTERRUPT_NMI_BLOCKED)) {
            vm_nmi(vm, c->index, true);
            reply->inject = PITH_VM_EVENT_VALID | PITH_VM_EVENT_NMI | 2;
            return;
        }
        reply->windows |= PITH_VM_WINDOW_NMI;
    }
    if (!interrupt_waiting(vm) || gdb_stepping(vm, vm->cpu->index))     /* a step is one instruction */
        return;
    if (!reply->inject && interrupt_deliverable(c->exit.mr[VM_RFLAGS],
                                                c->exit.mr[VM_INTERRUPTIBILITY], delivering)) {
        reply->inject = interrupt_event(take_interrupt(vm));
        vm->record.interrupts++;
        vm->record.injected_at[c->exit.reason < PITH_EXIT_COUNT ? c->exit.reason : 0]++;
    } else {
        reply->windows |= PITH_VM_WINDOW_INTERRUPT;
    }
}

/* ---- The loop --------------------------------------------------------------------- */

static const char *const exit_names[PITH_EXIT_COUNT] = {
    [PITH_EXIT_CPUID] = "CPUID", [PITH_EXIT_IO] = "IO", [PITH_EXIT_MMIO] = "MMIO",
    [PITH_EXIT_MSR_READ] = "MSR_READ", [PITH_EXIT_MSR_WRITE] = "MSR_WRITE",
    [PITH_EXIT_HLT] = "HLT", [PITH_EXIT_INTERRUPT_WINDOW] = "INTERRUPT_WINDOW",
    [PITH_EXIT_NMI_WINDOW] = "NMI_WINDOW", [PITH_EXIT_RECALL] = "RECALL",
    [PITH_EXIT_EXCEPTION] = "EXCEPTION", [PITH_EXIT_SHUTDOWN] = "SHUTDOWN (triple fault)",
    [PITH_EXIT_INVALID_STATE] = "INVALID_STATE", [PITH_EXIT_VMCALL] = "VMCALL",
    [PITH_EXIT_INVD] = "INVD", [PITH_EXIT_WBINVD] = "WBINVD", [PITH_EXIT_XSETBV] = "XSETBV",
    [PITH_EXIT_CR_ACCESS] = "CR_ACCESS", [PITH_EXIT_PAUSE] = "PAUSE", [PITH_EXIT_INIT] = "INIT",
    [PITH_EXIT_OTHER] = "OTHER", [PITH_EXIT_PORT_WRITES] = "PORT_WRITES",
};

const char *vm_exit_name(uint64_t reason)
{
    return reason < PITH_EXIT_COUNT && exit_names[reason] ? exit_names[reason] : "?";
}

static enum next_step handle_exit(struct vm *vm, struct reply *reply)
{
    switch (vm->cpu->exit.reason) {
    case PITH_EXIT_CPUID:
        return handle_cpuid(vm);
    case PITH_EXIT_IO:
        return handle_io(vm, reply);
    case PITH_EXIT_MSR_READ:
    case PITH_EXIT_MSR_WRITE:
        return handle_msr(vm, reply);
    case PITH_EXIT_MMIO:
        return handle_mmio(vm, reply);
    case PITH_EXIT_CR_ACCESS:
        return handle_cr_access(vm, reply);
    case PITH_EXIT_HLT:
        skip_instruction(vm, vm->cpu->exit.mr[3]);
        return STEP_HALT;
    case PITH_EXIT_RECALL:              /* handle() took note of it */
    case PITH_EXIT_PORT_WRITES:         /* handle() performed them */
        return STEP_RESUME;
    case PITH_EXIT_INTERRUPT_WINDOW:
    case PITH_EXIT_PAUSE:
        skip_instruction(vm, 0);
        return STEP_RESUME;
    case PITH_EXIT_INVD:
    case PITH_EXIT_WBINVD:              /* guest memory is always coherent here */
        skip_instruction(vm, vm->cpu->exit.mr[3]);
        return STEP_RESUME;
    case PITH_EXIT_VMCALL:              /* no hypercalls: as on a CPU without them */
    case PITH_EXIT_XSETBV:              /* XSAVE is not offered */
        inject_exception(reply, 6, false);
        return STEP_RESUME;
    case PITH_EXIT_OTHER:
        if (!nested_is_instruction_exit(vm))
            break;
    {
        bool switched;
        if (!nested_instruction(vm, &reply->inject, &switched))
            return STEP_STOP;
        return switched ? STEP_SWITCHED : STEP_RESUME;
    }
    case PITH_EXIT_SHUTDOWN:
        vm_stop(vm, VM_END_RESET, "triple fault at rip 0x%lx", vm->cpu->exit.mr[VM_RIP]);
        return STEP_STOP;
    default:
        break;
    }
    vm_stop(vm, VM_END_ERROR, "unexpected exit %s (raw 0x%lx, qualification 0x%lx 0x%lx) at rip 0x%lx",
            vm_exit_name(vm->cpu->exit.reason), vm->cpu->exit.mr[0], vm->cpu->exit.mr[1], vm->cpu->exit.mr[2],
            vm->cpu->exit.mr[VM_RIP]);
    return STEP_STOP;
}

/* A receive that returned the bound notification's bits rather than a Call: its
 * label is 0, which no exit reason uses (PITH_MSG_FROM_NOTIFICATION, pith/abi.h). */
static bool is_notification(const struct vcpu *c)
{
    return c->exit.reason == 0;
}

/* The vCPU waits for a start-up IPI (an application processor, or any vCPU after
 * INIT); then it starts in real mode.  false: the guest stopped first. */
static bool wait_for_startup(struct vm *vm)
{
    struct vcpu *c = vm->cpu;
    c->state = VCPU_WAIT_SIPI;
    while (!vm->stopped && !c->sipi_pending)
        wait_notified(vm);
    if (vm->stopped)
        return false;
    c->sipi_pending = false;
    svm_nested_reset(&c->svm);          /* INIT clears EFER.SVME and sets GIF (APM 15.17) */
    c->recall_requested = false;
    c->reply_windows = 0;
    enum pith_error err = vcpu_enter_startup(c, c->sipi_vector);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "starting vCPU %u: %s", c->index, pith_error_name(err));
    c->state = VCPU_IN_GUEST;
    return err == PITH_OK;
}

/* INIT reached a vCPU that runs: it stops where it is and waits for a start-up IPI. */
static void park_for_init(struct vm *vm)
{
    struct vcpu *c = vm->cpu;
    c->init_pending = false;
    pith_thread_suspend(c->thread);
    if (wait_for_startup(vm))
        pith_thread_resume(c->thread);
}

/* Guest time starts at vm_create: the guest's TSC reads 0 there, and the devices
 * count from it.  The first vCPU runs; the others wait for their start-up IPIs. */
static enum pith_error start(struct vm *vm)
{
    struct vcpu *c = vm->cpu;
    uint64_t bits;
    pith_poll(c->notification, &bits);      /* nothing left from an earlier guest */
    if (vm->platform->start)
        vm->platform->start(vm, c->index);
    update_time(vm);
    if (c->index == 0 && vm->stats) {
        vm->stats->started_tsc = pith_rdtsc();
        vm->stats->magic = PITH_GUEST_STATS_MAGIC;
    }
    if (c->index != 0 && !wait_for_startup(vm))
        return PITH_OK;
    c->state = VCPU_IN_GUEST;
    return pith_thread_resume(c->thread);
}

/* One exit, under the lock: handle it, wait if it halted, and plan the reply. */
static bool handle(struct vm *vm, struct reply *reply)
{
    struct vcpu *c = vm->cpu;
    c->state = VCPU_HANDLING;
    c->reply_groups = 0;
    nested_svm_exit_gif(c);
    if (vm->platform->after_exit)
        vm->platform->after_exit(vm, c->index);
    perform_port_writes(vm);            /* they came before the exit */
    if (c->exit.reason == PITH_EXIT_RECALL)
        c->recall_requested = false;
    if (gdb_intercept_at_recall(vm)) {
        c->state = VCPU_IN_GUEST;
        return false;               /* no reply: it entered the guest afresh */
    }
    unsigned reason = c->exit.reason < PITH_EXIT_COUNT ? (unsigned)c->exit.reason : 0;
    vm->record.exits[reason]++;
    if (vm->stats)
        vm->stats->exits[reason]++;
    uint64_t began = pith_rdtsc();
    enum next_step step = gdb_takes_exit(vm, &reply->inject) ? STEP_RESUME : handle_exit(vm, reply);
    vm->record.exit_tsc[reason] += pith_rdtsc() - began;    /* (a halt's wait comes after) */
    if (step == STEP_SWITCHED) {
        c->state = VCPU_IN_GUEST;
        return false;
    }
    if (step == STEP_HALT && !vm->stopped)
        wait_for_interrupt(vm);
    if (step == STEP_STOP)
        vm_stop(vm, VM_END_NONE, NULL);     /* only if nothing said why before */
    if (vm->stopped)
        return false;
    uint64_t bits = gdb_stop_point(vm);     /* a breakpoint, a step or Ctrl-C: GDB's turn */
    if (bits)
        notified(vm, bits);
    if (c->init_pending) {
        park_for_init(vm);
        return false;
    }
    poll_deadline(vm);
    if (vm->stopped)
        return false;
    sync_port_shortcuts(vm);
    if (vm->stopped)
        return false;
    plan_injection(vm, reply);
    c->reply_windows = reply->windows;
    c->state = VCPU_IN_GUEST;
    return true;
}

void vcpu_run(struct vcpu *c)
{
    struct vm *vm = c->vm;
    vm_lock(vm, c);
    enum pith_error err = start(vm);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "starting vCPU %u: %s", c->index, pith_error_name(err));
    vm_unlock(vm);
    if (!vm->stopped)
        err = pith_vm_wait_exit(c->exit_endpoint, &c->exit);
    while (!vm->stopped && err == PITH_OK) {
        vm_lock(vm, c);
        if (is_notification(c)) {
            notified(vm, c->exit.badge);
            vm_unlock(vm);
            err = pith_vm_wait_exit(c->exit_endpoint, &c->exit);
            continue;
        }
        if (nested_is_l2_exit(c)) {         /* the guest's guest (nested.h) */
            if (c->exit.reason == PITH_EXIT_RECALL)
                c->recall_requested = false;
            struct nested_l2_reply l2_reply = { 0 };
            enum nested_l2_step step = nested_l2_exit(vm, &l2_reply);
            bool reply_l2 = step == NESTED_L2_RETRY;
            if (step == NESTED_L2_NOT_INTERCEPTED) {
                reply_l2 = c->exit.reason == PITH_EXIT_CPUID;   /* answered as for the guest */
                if (reply_l2)
                    handle_cpuid(vm);
                else
                    nested_not_emulated(vm);
            }
            vm_unlock(vm);
            if (vm->stopped)
                break;
            err = reply_l2 ? pith_vm_reply_wait(c->exit_endpoint, &c->exit, VM_REPLY_MASK, l2_reply.inject,
                                                l2_reply.error_code, l2_reply.windows)
                           : pith_vm_wait_exit(c->exit_endpoint, &c->exit);
            continue;
        }
        struct reply reply = { 0 };
        uint64_t arrived = pith_rdtsc(), halted = vm->stats ? vm->stats->halted_tsc : 0;
        bool reply_now = handle(vm, &reply);
        if (vm->stats) {   /* another vCPU's halt may end meanwhile: never more than the whole */
            uint64_t whole = pith_rdtsc() - arrived, less = vm->stats->halted_tsc - halted;
            vm->stats->vmm_tsc += whole - (less < whole ? less : whole);
        }
        vm_unlock(vm);
        if (vm->stopped)
            break;
        if (!reply_now)         /* parked by INIT and started again: a fresh entry */
            err = pith_vm_wait_exit(c->exit_endpoint, &c->exit);
        else
            err = pith_vm_reply_wait(c->exit_endpoint, &c->exit, VM_REPLY_MASK | c->reply_groups,
                                     reply.inject, reply.error_code, reply.windows);
    }
    vm_lock(vm, c);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "waiting for an exit of vCPU %u: %s", c->index, pith_error_name(err));
    c->finished = true;
    pith_thread_suspend(c->thread);
    nested_finish(c);
    vm_unlock(vm);
}

void vm_run(struct vm *vm)
{
    struct vcpu *c = &vm->cpus[0];
    if (vm->platform->places_vcpus)
        vm_place_vcpus_on_host(vm);
    if (vm->platform->kernel_answers)
        for (unsigned i = 0; i < vm->vcpu_count; i++) {
            set_cpuid_shortcuts(vm, &vm->cpus[i]);
            set_msr_shortcuts(vm, &vm->cpus[i]);
        }
    enum pith_error err = vm_start_vcpus(vm);
    if (err != PITH_OK) {
        vm_stop(vm, VM_END_ERROR, "starting the VMM threads: %s", pith_error_name(err));
        return;
    }
    vcpu_run(c);
    vm_lock(vm, c);
    vm->stopped = true;
    vm_stop_vcpus(vm);
    vcpu_set_deadline(c, 0);
    console_flush(&vm->console);
    vm_output_flush(vm);
    vm_unlock(vm);
}
