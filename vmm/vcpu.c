/*
 * A guest's vCPUs and the VMM threads that serve them (vm.h).
 *
 * Each vCPU has its own vCPU thread, exit endpoint and VMM thread: vCPU 0 is served by
 * the VMM's first thread, vCPU n by a thread made here with its own stack and IPC
 * buffer, whose bound notification carries its deadlines and kicks.  Both threads of
 * a vCPU run on the same host CPU (the `cpus` key of the configuration, else spread).
 *
 * Everything the vCPUs share (device models, the record, each vCPU's state word) is
 * touched only under one VMM-wide lock: an atomic count of users and a notification
 * waiters block on, handed from holder to waiter, so a waiting thread sleeps instead
 * of spinning on a CPU the holder may need.  Unlocking wakes every vCPU that has
 * something new (an interrupt, NMI, INIT or start-up IPI, or the guest's end): a vCPU
 * in the guest with a recall, a halted or waiting one by signalling its notification.
 */
#include <pith/alloc.h>
#include <pith/printf.h>
#include <pith/string.h>

#include "gdbstub.h"
#include "interrupt.h"
#include "nested.h"
#include "nested_svm.h"
#include "vm.h"

#define VMM_THREAD_PRIORITY 100         /* above the vCPU threads (99) */
#define VMM_STACK_PAGES     16
#define VMM_IPC_BUFFERS     0x0000700000000000ull   /* one page per extra VMM thread */

/* ---- Placement ------------------------------------------------------------------- */

/* vCPU n on the n-th CPU of the mask (round again when there are more vCPUs), or on
 * CPU n mod the CPU count. */
void vm_place_vcpus(struct vm *vm, uint64_t mask, unsigned host_cpus)
{
    if (host_cpus == 0)
        host_cpus = 1;
    if (host_cpus < 64)
        mask &= (1ull << host_cpus) - 1;
    unsigned listed[64], n = 0;
    for (unsigned cpu = 0; cpu < 64; cpu++)
        if ((mask >> cpu) & 1)
            listed[n++] = cpu;
    for (unsigned i = 0; i < vm->vcpu_count; i++)
        vm->cpus[i].host_cpu = n ? listed[i % n] : i % host_cpus;
}

/* ---- The lock ---------------------------------------------------------------------- */

void vm_lock(struct vm *vm, struct vcpu *cpu)
{
    if (__atomic_fetch_add(&vm->lock_users, 1, __ATOMIC_ACQUIRE) != 0) {
        uint64_t bits;
        pith_wait(vm->lock_notification, &bits);    /* the holder hands it over */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    }
    vm->cpu = cpu;
}

enum pith_error vcpu_recall(struct vcpu *c, pith_cap_t target)
{
    c->recall_requested = true;
    c->vm->record.recalls++;
    return pith_vcpu_recall(target);
}

void vcpu_set_deadline(struct vcpu *c, uint64_t tsc)
{
    if (tsc == c->deadline)
        return;
    c->deadline = tsc;
    pith_notification_set_deadline(c->notification, tsc);
}

/* Does the vCPU have something its VMM thread must act on? */
bool vcpu_wants_attention(struct vcpu *c)
{
    struct vm *vm = c->vm;
    if (vm->stopped || c->init_pending || (c->index == 0 && gdb_stop_wanted(vm)))
        return true;
    if (gdb_stepping(vm, c->index))
        return false;
    if (c->state == VCPU_WAIT_SIPI)
        return c->sipi_pending;
    if (nested_svm_gif_clear(c))
        return false;               /* interrupts wait for STGI (nested_svm.h) */
    if (vm_nmi(vm, c->index, false))
        return true;
    return !c->halted_interrupts_off && vm->platform->interrupt(vm, c->index, false) >= 0;
}

static void kick(struct vcpu *c)
{
    struct vm *vm = c->vm;
    switch (c->state) {
    case VCPU_IN_GUEST:
        /* An interrupt window the last reply asked for brings the vCPU back as soon
         * as it can take an interrupt: a recall would only make it exit sooner, and
         * again and again while its interrupts are off.  Not while its guest's guest
         * runs: its own thread is suspended, and no window of its can open. */
        if ((c->reply_windows & PITH_VM_WINDOW_INTERRUPT) && !vm->stopped && !c->init_pending &&
            (!vm_nmi(vm, c->index, false) || nested_svm_window_for_stgi(c)) && !nested_l2_running(c))
            break;
        if (!c->recall_requested) {
            pith_cap_t target = nested_recall_target(c);
            if (!target) {
                /* its guest's guest has its quantum first: the vCPU's deadline brings
                 * the recall, even when another vCPU's thread raised the interrupt */
                uint64_t due = nested_deadline(c);
                if (due && (!c->deadline || due < c->deadline))
                    vcpu_set_deadline(c, due);
                break;
            }
            vcpu_recall(c, target);
        }
        break;
    case VCPU_HALTED:
    case VCPU_WAIT_SIPI:
        if (!c->kicked) {
            c->kicked = true;
            pith_signal(c->notification);
        }
        break;
    default:                /* its thread handles an exit: it looks before replying */
        break;
    }
}

void vm_unlock(struct vm *vm)
{
    for (unsigned i = 0; i < vm->vcpu_count; i++)
        if (vcpu_wants_attention(&vm->cpus[i]))
            kick(&vm->cpus[i]);
    vm->cpu = NULL;
    if (__atomic_fetch_sub(&vm->lock_users, 1, __ATOMIC_RELEASE) != 1)
        pith_signal(vm->lock_notification);
}

/* ---- INIT and start-up IPIs (SDM Vol. 3A §8.4.4, §10.6.1) ---------------------------- */

void vm_vcpu_init(struct vm *vm, unsigned index)
{
    struct vcpu *c = &vm->cpus[index];
    c->sipi_pending = false;
    if (c->state != VCPU_WAIT_SIPI)
        c->init_pending = true;         /* its thread parks it at the next exit */
}

/* A start-up IPI is for a processor waiting for one; others ignore it (the second
 * SIPI of the universal start-up algorithm). */
void vm_vcpu_startup(struct vm *vm, unsigned index, uint8_t vector)
{
    struct vcpu *c = &vm->cpus[index];
    if (c->state == VCPU_WAIT_SIPI && !c->sipi_pending) {
        c->sipi_pending = true;
        c->sipi_vector = vector;
    }
}

static uint64_t segment(uint16_t selector, uint16_t attributes, uint32_t limit)
{
    return selector | (uint64_t)attributes << 16 | (uint64_t)limit << 32;
}

/*
 * §8.4.4.1 and Table 9-1: after INIT the processor is in real mode as at reset; the
 * start-up IPI's vector v makes it begin at v << 12, CS selector v << 8.  Everything
 * else is the reset state: CR0 = CD | NW | ET, RFLAGS = 2, DR7 = 0x400, no EFER bits,
 * 64 KiB segments, GDTR and IDTR at 0 with limit 0xffff.
 */
enum pith_error vcpu_enter_startup(struct vcpu *c, uint8_t vector)
{
    uint64_t state[16 + 2 + 6 + 16 + 4 + 2] = { 0 };   /* ..., DTR, INTR (no shadow, GIF set) */
    uint64_t *rip = &state[16], *cr = &state[18], *seg = &state[24], *dtr = &state[40];
    rip[1] = 2;
    cr[0] = 0x60000010;
    cr[5] = 0x400;
    for (unsigned i = 0; i < 6; i++)                /* es cs ss ds fs gs: data, accessed */
        seg[2 * i] = segment(0, 0x93, 0xffff);
    seg[2] = segment((uint16_t)(vector << 8), 0x9b, 0xffff);
    seg[3] = (uint64_t)vector << 12;
    seg[12] = segment(0, 0x82, 0xffff);             /* LDTR */
    seg[14] = segment(0, 0x8b, 0xffff);             /* TR: busy TSS */
    dtr[1] = dtr[3] = 0xffff;
    uint64_t groups = PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR |
                      PITH_VM_GROUP_SEG | PITH_VM_GROUP_DTR | PITH_VM_GROUP_INTR;
    return pith_vcpu_write_state(c->vcpu, groups, state, sizeof(state) / sizeof(state[0]));
}

/* ---- VMM threads -------------------------------------------------------------------- */

static void vcpu_thread_main(uint64_t arg)
{
    struct vcpu *c = (struct vcpu *)arg;
    vcpu_run(c);
    for (;;)
        pith_thread_suspend(c->vmm_thread);
}

/* Both threads of the vCPU on its CPU.  Until the kernel runs vCPUs on every CPU it
 * refuses other CPUs for a vCPU thread: then the vCPU stays on CPU 0. */
static void place(struct vm *vm, struct vcpu *c)
{
    if (c->host_cpu && pith_thread_set_affinity(c->thread, c->host_cpu) != PITH_OK) {
        c->host_cpu = 0;
        vm->cpu_fallback = true;
    }
}

/* "0,1": the host CPU of each vCPU in turn. */
static void cpu_list(const struct vm *vm, char *out, size_t size)
{
    size_t n = 0;
    for (unsigned i = 0; i < vm->vcpu_count && n + 4 < size; i++)
        n += (size_t)pith_snprintf(out + n, size - n, "%s%u", i ? "," : "", vm->cpus[i].host_cpu);
}

void vm_place_vcpus_on_host(struct vm *vm)
{
    char asked[64], got[64];
    cpu_list(vm, asked, sizeof(asked));
    for (unsigned i = 0; i < vm->vcpu_count; i++)
        place(vm, &vm->cpus[i]);
    if (vm->cpus[0].host_cpu)
        pith_thread_set_affinity(PITH_SLOT_THREAD, vm->cpus[0].host_cpu);
    cpu_list(vm, got, sizeof(got));
    if (vm->cpu_fallback)
        vm_log(vm, "%u vCPU%s on host CPU %s (asked for %s; the kernel runs vCPUs on CPU 0 only)",
               vm->vcpu_count, vm->vcpu_count > 1 ? "s" : "", got, asked);
    else
        vm_log(vm, "%u vCPU%s on host CPU %s", vm->vcpu_count, vm->vcpu_count > 1 ? "s" : "", got);
}

static enum pith_error start_vmm_thread(struct vcpu *c)
{
    uint64_t ipc_frame, ipc = VMM_IPC_BUFFERS + (uint64_t)c->index * 4096;
    uint64_t *stack = pith_alloc_pages(VMM_STACK_PAGES);
    enum pith_error err = stack ? PITH_OK : PITH_E_NO_MEMORY;
    if (!err)
        err = pith_alloc_object(PITH_OBJ_THREAD, 0, &c->vmm_thread);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &ipc_frame);
    if (!err)
        err = pith_map_frame(ipc_frame, PITH_SLOT_ADDRESS_SPACE, ipc, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0);
    if (err)
        return err;
    pith_set_ipc_buffer((struct pith_ipc_buffer *)ipc);
    err = pith_thread_configure(c->vmm_thread, PITH_SLOT_CNODE, PITH_SLOT_ADDRESS_SPACE, ipc, ipc_frame, 0);
    uint64_t *top = stack + VMM_STACK_PAGES * 4096 / 8;
    top[-1] = 0;                                    /* vcpu_thread_main never returns */
    uint64_t regs[PITH_REG_COUNT] = { 0 };
    regs[PITH_REG_RIP] = (uint64_t)vcpu_thread_main;
    regs[PITH_REG_RSP] = (uint64_t)&top[-1];        /* as right after a call */
    regs[PITH_REG_RFLAGS] = 0x202;
    regs[PITH_REG_RDI] = (uint64_t)c;
    if (!err)
        err = pith_thread_write_registers(c->vmm_thread, regs, PITH_REG_RDI + 1);
    if (!err)
        err = pith_thread_set_priority(c->vmm_thread, VMM_THREAD_PRIORITY);
    if (!err)
        err = pith_thread_bind_notification(c->vmm_thread, c->notification);
    if (!err && c->host_cpu)
        err = pith_thread_set_affinity(c->vmm_thread, c->host_cpu);
    if (!err)
        err = pith_thread_resume(c->vmm_thread);
    return err;
}

enum pith_error vm_start_vcpus(struct vm *vm)
{
    enum pith_error err = PITH_OK;
    for (unsigned i = 1; !err && i < vm->vcpu_count; i++)
        err = start_vmm_thread(&vm->cpus[i]);
    return err;
}

/* The guest is over: nothing of it runs any more but the caller, which holds the lock
 * (so no other VMM thread is inside it). */
void vm_stop_vcpus(struct vm *vm)
{
    for (unsigned i = 0; i < vm->vcpu_count; i++) {
        pith_thread_suspend(vm->cpus[i].thread);
        if (vm->cpus[i].vmm_thread)
            pith_thread_suspend(vm->cpus[i].vmm_thread);
        pith_notification_set_deadline(vm->cpus[i].notification, 0);
    }
}
