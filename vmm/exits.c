/*
 * The exit loop (vm.h): wait for an exit or a timer deadline, emulate, reply.
 *
 * The VMM thread has the timer notification bound, so its receive on the exit
 * endpoint returns either an exit (a Call from the vCPU thread) or the deadline's bit.
 * A deadline marks the timer interrupt pending; it is injected on the next reply to
 * an exit when the guest can take it, else an interrupt window is requested.  If the
 * guest is running when the deadline arrives, a recall brings it back with a RECALL
 * exit.  A HLT exit is answered only when an interrupt is pending: until then the
 * VMM waits on the notification and the vCPU thread waits for the reply.
 */
#include <pith/printf.h>
#include <pith/string.h>

#include "cpuid.h"
#include "decode.h"
#include "interrupt.h"
#include "vm.h"

/* What the loop does after a handler. */
enum next_step {
    STEP_RESUME,                    /* reply and let the guest run */
    STEP_HALT,                      /* reply once an interrupt is pending */
    STEP_STOP,                      /* the guest is finished */
};

/* The reply being prepared: an event a handler wants injected (an exception). */
struct reply {
    uint64_t inject, error_code, windows;
};

static uint64_t *gprs(struct vm *vm)
{
    return &vm->exit.mr[VM_GPR(0)];
}

/* The emulated instruction is done: move past it.  Completing an instruction also
 * ends an STI or MOV SS interrupt shadow, which covered only that instruction. */
static void skip_instruction(struct vm *vm, uint64_t length)
{
    vm->exit.mr[VM_RIP] += length;
    vm->exit.mr[VM_INTERRUPTIBILITY] &= ~INTERRUPT_SHADOW;
}

static void inject_gp(struct vm *vm, struct reply *reply)
{
    reply->inject = exception_event(13, true);
    reply->error_code = 0;
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

static enum next_step handle_cpuid(struct vm *vm)
{
    uint32_t leaf = (uint32_t)vm->exit.mr[1], out[4];
    cpuid_guest(host_cpuid, leaf, (uint32_t)vm->exit.mr[2], out);
    if (leaf < 32)
        vm->record.cpuid_leaves |= 1ull << leaf;
    else if (leaf == CPUID_HYPERVISOR_LEAF)
        vm->record.cpuid_leaves |= 1ull << 32;
    gprs(vm)[VM_RAX] = out[CPUID_EAX];
    gprs(vm)[VM_RBX] = out[CPUID_EBX];
    gprs(vm)[VM_RCX] = out[CPUID_ECX];
    gprs(vm)[VM_RDX] = out[CPUID_EDX];
    skip_instruction(vm, vm->exit.mr[3]);
    return STEP_RESUME;
}

/* ---- Devices ---------------------------------------------------------------------- */

static const struct device_window *window_at(const struct device_window *windows, unsigned count,
                                             uint64_t address)
{
    for (unsigned i = 0; i < count; i++)
        if (address >= windows[i].base && address - windows[i].base < windows[i].length)
            return &windows[i];
    return NULL;
}

/* What a read from nothing returns: all ones (an open bus). */
static uint64_t open_bus(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint64_t device_read(const struct device_window *w, uint64_t address, unsigned size)
{
    return w && w->ops->read ? w->ops->read(w->dev, address - w->base, size) : open_bus(size);
}

static void device_write(const struct device_window *w, uint64_t address, unsigned size,
                         uint64_t value)
{
    if (w && w->ops->write)
        w->ops->write(w->dev, address - w->base, size, value & open_bus(size));
}

/* ---- Port I/O --------------------------------------------------------------------- */

static enum next_step handle_io(struct vm *vm)
{
    uint64_t q = vm->exit.mr[1];
    unsigned port = q & 0xffff, size = (q >> 16) & 0xff;
    if (q & (PITH_VM_IO_STRING | PITH_VM_IO_REP)) {
        vm_stop(vm, "string I/O on port 0x%x is not emulated", port);
        return STEP_STOP;
    }
    const struct device_window *w = window_at(vm->ports, VM_PORT_WINDOWS, port);
    if (q & PITH_VM_IO_IN)
        gprs(vm)[VM_RAX] = gpr_merge(gprs(vm)[VM_RAX], size, device_read(w, port, size));
    else
        device_write(w, port, size, vm->exit.mr[2]);
    skip_instruction(vm, vm->exit.mr[3]);
    return vm->testdev.verdict_written ? STEP_STOP : STEP_RESUME;
}

/* ---- MSRs ------------------------------------------------------------------------- */

/* The words of one state group that is not in the transfer mask. */
static bool read_group(struct vm *vm, uint64_t group, uint64_t *words)
{
    unsigned n = pith_vm_groups_length(group);
    enum pith_error err = pith_vcpu_read_state(vm->vcpu, group, words, n);
    if (err != PITH_OK)
        vm_stop(vm, "reading vCPU state: %s", pith_error_name(err));
    return err == PITH_OK;
}

static bool write_group(struct vm *vm, uint64_t group, const uint64_t *words)
{
    unsigned n = pith_vm_groups_length(group);
    enum pith_error err = pith_vcpu_write_state(vm->vcpu, group, words, n);
    if (err != PITH_OK)
        vm_stop(vm, "writing vCPU state: %s", pith_error_name(err));
    return err == PITH_OK;
}

static bool msr_read(struct vm *vm, uint32_t index, uint64_t *value)
{
    struct msr_place place = msr_lookup(index);
    uint64_t words[16];
    switch (place.kind) {
    case MSR_IN_STATE:
        if (!read_group(vm, place.group, words))
            return false;
        *value = words[place.word];
        return true;
    case MSR_TSC:
        vm->record.tsc_reads++;
        *value = msr_tsc_read(pith_rdtsc(), vm->tsc_offset);
        return true;
    case MSR_EMULATED:
        return msr_emulated_read(&vm->msrs, index, value);
    default:
        return false;
    }
}

static bool msr_write(struct vm *vm, uint32_t index, uint64_t value)
{
    struct msr_place place = msr_lookup(index);
    uint64_t words[16];
    switch (place.kind) {
    case MSR_IN_STATE:
        if (!msr_state_write_valid(index, value) || !read_group(vm, place.group, words))
            return false;
        words[place.word] = value;
        return write_group(vm, place.group, words);
    case MSR_TSC:
        vm->tsc_offset = msr_tsc_offset_for(pith_rdtsc(), value);
        return write_group(vm, PITH_VM_GROUP_TSC, &vm->tsc_offset);
    case MSR_EMULATED:
        return msr_emulated_write(&vm->msrs, index, value);
    default:
        return false;
    }
}

/* RDMSR and WRMSR: edx:eax is the value, ecx the MSR; #GP(0) for what is not there. */
static enum next_step handle_msr(struct vm *vm, struct reply *reply)
{
    uint32_t index = (uint32_t)vm->exit.mr[1];
    bool ok;
    if (vm->exit.reason == PITH_EXIT_MSR_READ) {
        uint64_t value = 0;
        ok = msr_read(vm, index, &value);
        if (ok) {
            gprs(vm)[VM_RAX] = (uint32_t)value;
            gprs(vm)[VM_RDX] = value >> 32;
        }
    } else {
        ok = msr_write(vm, index, vm->exit.mr[2]);
    }
    if (vm->stopped)
        return STEP_STOP;
    if (!ok) {
        vm->record.last_gp_msr = index;
        inject_gp(vm, reply);
        return STEP_RESUME;
    }
    skip_instruction(vm, vm->exit.mr[3]);
    return STEP_RESUME;
}

/* ---- MMIO ------------------------------------------------------------------------- */

#define CR0_PG          (1ull << 31)
#define EFER_LMA        (1ull << 10)
#define SEG_ATTR_L      (1ull << 9)
#define SEG_ATTR_DB     (1ull << 10)

/* The processor mode and the linear address of the instruction at RIP. */
static bool instruction_address(struct vm *vm, enum decode_mode *mode, uint64_t *linear)
{
    uint64_t cr[6], seg[16];
    if (!read_group(vm, PITH_VM_GROUP_CR, cr) || !read_group(vm, PITH_VM_GROUP_SEG, seg))
        return false;
    if (cr[0] & CR0_PG) {
        vm_stop(vm, "MMIO with guest paging on: the decoder does not walk page tables yet");
        return false;
    }
    uint64_t cs_attributes = (seg[2] >> 16) & 0xffff, cs_base = seg[3];
    if ((cr[4] & EFER_LMA) && (cs_attributes & SEG_ATTR_L))
        *mode = DECODE_MODE_64;
    else
        *mode = (cs_attributes & SEG_ATTR_DB) ? DECODE_MODE_32 : DECODE_MODE_16;
    *linear = cs_base + vm->exit.mr[VM_RIP];
    if (*mode != DECODE_MODE_64)
        *linear &= 0xffffffffull;
    return true;
}

/* Reads and decodes the instruction that made the access. */
static bool fetch_and_decode(struct vm *vm, struct mmio_instruction *insn)
{
    enum decode_mode mode;
    uint64_t linear;
    if (!instruction_address(vm, &mode, &linear))
        return false;
    if (linear >= VM_RAM_SIZE) {
        vm_stop(vm, "MMIO instruction at 0x%lx is outside RAM", linear);
        return false;
    }
    uint64_t available = VM_RAM_SIZE - linear;
    const uint8_t *code = vm->ram + linear;
    if (!decode_mmio(code, available < DECODE_MAX_LENGTH ? (unsigned)available : DECODE_MAX_LENGTH,
                     mode, insn)) {
        vm_stop(vm, "cannot emulate the instruction at 0x%lx (%02x %02x %02x %02x)", linear,
                code[0], code[1], code[2], code[3]);
        return false;
    }
    return true;
}

static enum next_step handle_mmio(struct vm *vm)
{
    uint64_t gpa = vm->exit.mr[1], access = vm->exit.mr[2];
    if (access & PITH_VM_ACCESS_EXECUTE) {
        vm_stop(vm, "the guest jumped to 0x%lx, where there is no memory", gpa);
        return STEP_STOP;
    }
    struct mmio_instruction insn;
    if (!fetch_and_decode(vm, &insn))
        return STEP_STOP;
    if (insn.store != ((access & PITH_VM_ACCESS_WRITE) != 0)) {
        vm_stop(vm, "MMIO at 0x%lx: the instruction and the exit disagree on the direction", gpa);
        return STEP_STOP;
    }
    const struct device_window *w = window_at(vm->mmio, VM_MMIO_WINDOWS, gpa);
    if (insn.store)
        device_write(w, gpa, insn.size, mmio_store_value(&insn, gprs(vm)));
    else
        mmio_complete_load(&insn, gprs(vm), device_read(w, gpa, insn.size));
    vm->record.mmio_done++;
    skip_instruction(vm, insn.length);
    return STEP_RESUME;
}

/* ---- The timer -------------------------------------------------------------------- */

/* The deadline's bit arrived (or may have): count ended periods, re-arm. */
static void timer_check(struct vm *vm)
{
    uint64_t now = pith_rdtsc();
    uint64_t periods = periodic_expire(&vm->timer, now);
    if (periods) {
        vm->record.ticks += periods;
        vm->interrupt_pending = true;
    }
    pith_notification_set_deadline(vm->timer_notification, vm->timer.next);
    if (now >= vm->give_up_at)
        vm_stop(vm, "no verdict after %u s", VM_TIME_LIMIT_S);
}

/* Before a reply: take a deadline bit that arrived while the VMM was busy. */
static void timer_poll(struct vm *vm)
{
    uint64_t bits;
    if (pith_poll(vm->timer_notification, &bits) == PITH_OK)
        timer_check(vm);
}

/* A HLT: the vCPU thread waits for the reply, the VMM for the next interrupt. */
static void wait_for_interrupt(struct vm *vm)
{
    if (!(vm->exit.mr[VM_RFLAGS] & RFLAGS_IF) && !vm->interrupt_pending) {
        vm_stop(vm, "HLT with interrupts disabled at 0x%lx", vm->exit.mr[VM_RIP]);
        return;
    }
    while (!vm->interrupt_pending && !vm->stopped) {
        uint64_t bits;
        pith_wait(vm->timer_notification, &bits);
        timer_check(vm);
    }
}

/* The interrupt rides on this reply if the guest can take it; otherwise the guest
 * exits again as soon as it can.  An event whose delivery the exit interrupted goes
 * first (the hardware does not redo it). */
static void plan_injection(struct vm *vm, struct reply *reply)
{
    uint64_t delivering = vm->exit.mr[VM_DELIVERING];
    if (!reply->inject && (delivering & PITH_VM_EVENT_VALID)) {
        reply->inject = delivering;
        reply->error_code = 0;      /* not part of the exit message (see docs/vmm.md) */
    }
    if (!vm->interrupt_pending)
        return;
    if (!reply->inject && interrupt_deliverable(vm->exit.mr[VM_RFLAGS],
                                                vm->exit.mr[VM_INTERRUPTIBILITY], delivering)) {
        reply->inject = interrupt_event(VM_TIMER_VECTOR);
        vm->interrupt_pending = false;
        vm->record.injected_at[vm->exit.reason]++;
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
    [PITH_EXIT_OTHER] = "OTHER",
};

const char *vm_exit_name(uint64_t reason)
{
    return reason < PITH_EXIT_COUNT && exit_names[reason] ? exit_names[reason] : "?";
}

static enum next_step handle_exit(struct vm *vm, struct reply *reply)
{
    switch (vm->exit.reason) {
    case PITH_EXIT_CPUID:
        return handle_cpuid(vm);
    case PITH_EXIT_IO:
        return handle_io(vm);
    case PITH_EXIT_MSR_READ:
    case PITH_EXIT_MSR_WRITE:
        return handle_msr(vm, reply);
    case PITH_EXIT_MMIO:
        return handle_mmio(vm);
    case PITH_EXIT_HLT:
        skip_instruction(vm, vm->exit.mr[3]);
        return STEP_HALT;
    case PITH_EXIT_RECALL:
        vm->recall_requested = false;
        return STEP_RESUME;
    case PITH_EXIT_INTERRUPT_WINDOW:
    case PITH_EXIT_PAUSE:
        skip_instruction(vm, 0);
        return STEP_RESUME;
    default:
        vm_stop(vm, "unexpected exit %s (raw 0x%lx, qualification 0x%lx 0x%lx) at rip 0x%lx",
                vm_exit_name(vm->exit.reason), vm->exit.mr[0], vm->exit.mr[1], vm->exit.mr[2],
                vm->exit.mr[VM_RIP]);
        return STEP_STOP;
    }
}

/* A receive that returned the bound notification's bits rather than a Call: its
 * label is 0, which no exit reason uses (PITH_MSG_FROM_NOTIFICATION, pith/abi.h). */
static bool is_deadline(const struct vm *vm)
{
    return vm->exit.reason == 0;
}

/* The guest runs; the deadline came: get it back to take the interrupt. */
static void recall_for_interrupt(struct vm *vm)
{
    if (!vm->interrupt_pending || vm->recall_requested)
        return;
    vm->recall_requested = true;
    vm->record.recalls++;
    pith_vcpu_recall(vm->vcpu);
}

static void start(struct vm *vm)
{
    uint64_t now = pith_rdtsc(), bits;
    pith_poll(vm->timer_notification, &bits);      /* nothing left from an earlier guest */
    periodic_start(&vm->timer, now, vm->tsc_hz / 1000 * VM_TIMER_PERIOD_MS);
    vm->give_up_at = now + vm->tsc_hz * VM_TIME_LIMIT_S;
    pith_notification_set_deadline(vm->timer_notification, vm->timer.next);
    enum pith_error err = pith_thread_resume(vm->thread);
    if (err == PITH_OK)
        err = pith_vm_wait_exit(vm->exit_endpoint, &vm->exit);
    if (err != PITH_OK)
        vm_stop(vm, "starting the vCPU: %s", pith_error_name(err));
}

void vm_run(struct vm *vm)
{
    start(vm);
    while (!vm->stopped) {
        enum pith_error err;
        if (is_deadline(vm)) {
            timer_check(vm);
            recall_for_interrupt(vm);
            err = pith_vm_wait_exit(vm->exit_endpoint, &vm->exit);
        } else {
            struct reply reply = { 0 };
            vm->record.exits[vm->exit.reason < PITH_EXIT_COUNT ? vm->exit.reason : 0]++;
            enum next_step step = handle_exit(vm, &reply);
            if (step == STEP_HALT)
                wait_for_interrupt(vm);
            if (step == STEP_STOP || vm->stopped)
                break;
            timer_poll(vm);
            plan_injection(vm, &reply);
            err = pith_vm_reply_wait(vm->exit_endpoint, &vm->exit, VM_TRANSFER_MASK, reply.inject,
                                     reply.error_code, reply.windows);
        }
        if (err != PITH_OK)
            vm_stop(vm, "waiting for an exit: %s", pith_error_name(err));
    }
    vm->stopped = true;
    pith_thread_suspend(vm->thread);
    pith_notification_set_deadline(vm->timer_notification, 0);
    console_flush(&vm->console);
}
