/*
 * VM-exit round trips: a real-mode guest (guests.h) exits on every iteration, the
 * kernel turns the exit into a Call on the vCPU's exit endpoint, this thread (the
 * VMM, priority 100) receives it, emulates the instruction, replies and waits for the
 * next exit; the vCPU thread (priority 50) enters the guest again.  The figure is the
 * time per exit, guest instructions included, measured from the VMM.
 *
 * Each guest gets the transfer mask its VMM needs and no more: the port write only
 * RIP (to step over the instruction; the port and value come in the header), CPUID
 * the general registers and RIP (it writes eax, ebx, ecx, edx).  vm_exit_cpuid is a
 * CPUID the kernel answers (VCpu.SET_CPUID, as Pith's VMM sets it up for its guests),
 * vm_exit_cpuid_vmm one this VMM answers.
 */
#include "bench.h"
#include "guests.h"
#include <pith/cpu.h>
#include <pith/alloc.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/string.h>
#include <pith/vmexit.h>

struct bench_vm {
    pith_cap_t space, vcpu, thread, exit_ep;
    struct pith_vm_exit exit;
    volatile uint8_t *code;         /* the guest's page at GUEST_CODE_GPA, as we see it */
    unsigned rip;                   /* index of RIP in the exit message */
    unsigned gpr;                   /* index of rax, when the mask has the GPR group */
};

static bool vm_fail(const char *what, enum pith_error err)
{
    pith_printf("bench: vm: %s: %s\n", what, pith_error_name(err));
    return false;
}

static bool vm_create(struct bench_vm *vm, const uint8_t *code, size_t length, uint64_t mask)
{
    *vm = (struct bench_vm){ 0 };
    vm->exit.transfer_mask = mask;
    vm->rip = pith_vm_group_at(mask, PITH_VM_GROUP_RIP);
    vm->gpr = pith_vm_group_at(mask, PITH_VM_GROUP_GPR);
    vm->space = new_object(PITH_OBJ_GUEST_SPACE, 0);
    vm->vcpu = new_object(PITH_OBJ_VCPU, 0);
    vm->thread = new_object(PITH_OBJ_THREAD, 0);
    vm->exit_ep = new_object(PITH_OBJ_ENDPOINT, 0);
    pith_cap_t frame = new_object(PITH_OBJ_FRAME_4K, 0);
    if (!vm->space || !vm->vcpu || !vm->thread || !vm->exit_ep || !frame)
        return false;

    /* The code page: written through a view in our space, mapped at 0x1000 in the guest. */
    pith_cap_t view = pith_alloc_slot();
    pith_cnode_copy(PITH_SLOT_CNODE, view, PITH_SLOT_CNODE, frame, PITH_RIGHTS_ALL);
    uint64_t va = scratch_vaddr();
    enum pith_error err = map_in(PITH_SLOT_ADDRESS_SPACE, view, va, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    if (err)
        return vm_fail("mapping the code page", err);
    memcpy((void *)va, code, length);
    vm->code = (volatile uint8_t *)va;
    err = map_in(vm->space, frame, GUEST_CODE_GPA, PITH_RIGHTS_ALL);
    if (err)
        return vm_fail("mapping guest memory", err);

    err = pith_vcpu_configure(vm->vcpu, vm->thread, vm->space, vm->exit_ep, mask, 0);
    if (err)
        return vm_fail("configuring the vCPU", err);
    /* Real mode, every segment at 0, code at 0:1000. */
    uint64_t state[16 + 2 + 16] = { 0 };
    state[4] = 0x8000;                                          /* rsp */
    state[16] = GUEST_CODE_GPA;                                 /* rip */
    state[17] = 2;                                              /* rflags */
    uint64_t *seg = &state[18];
    for (unsigned i = 0; i < 6; i++)
        seg[2 * i] = 0x93ull << 16 | 0xffffull << 32;           /* data, 64 KiB */
    seg[2] = 0x9bull << 16 | 0xffffull << 32;                   /* cs */
    seg[12] = 0x82ull << 16 | 0xffffull << 32;                  /* ldtr */
    seg[14] = 0x8bull << 16 | 0xffffull << 32;                  /* tr */
    err = pith_vcpu_write_state(vm->vcpu, PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_SEG,
                                state, 34);
    if (!err)
        err = pith_thread_set_priority(vm->thread, 50);
    if (!err)
        err = pith_thread_resume(vm->thread);
    if (!err)
        err = pith_vm_wait_exit(vm->exit_ep, &vm->exit);
    if (err)
        return vm_fail("starting the guest", err);
    return true;
}

static void vm_destroy(struct bench_vm *vm)
{
    pith_thread_suspend(vm->thread);
    pith_cnode_delete(PITH_SLOT_CNODE, vm->thread);
    pith_cnode_delete(PITH_SLOT_CNODE, vm->vcpu);
    pith_cnode_delete(PITH_SLOT_CNODE, vm->exit_ep);
}

static bool unexpected(const struct bench_vm *vm)
{
    pith_printf("bench: vm: unexpected exit %lu (raw %lx) at rip %lx\n", vm->exit.reason,
                vm->exit.mr[0], vm->exit.mr[vm->rip]);
    return false;
}

/* The VMM's work for one exit: emulate, step over the instruction, reply, wait.
 * Port writes to GUEST_IO_PORT are dropped; CPUID answers leaf 0 for any leaf. */
static bool handle(struct bench_vm *vm)
{
    struct pith_vm_exit *e = &vm->exit;
    uint64_t changed = PITH_VM_GROUP_RIP;
    switch (e->reason) {
    case PITH_EXIT_IO:
        if ((e->mr[1] & 0xffff) != GUEST_IO_PORT || (e->mr[1] & PITH_VM_IO_IN))
            return unexpected(vm);
        break;
    case PITH_EXIT_CPUID:
        if (!(e->transfer_mask & PITH_VM_GROUP_GPR))
            return unexpected(vm);
        e->mr[vm->gpr + 0] = 1;                 /* eax: highest leaf */
        e->mr[vm->gpr + 3] = 0x68746950;        /* ebx, edx, ecx: "PithPithPith" */
        e->mr[vm->gpr + 2] = 0x68746950;
        e->mr[vm->gpr + 1] = 0x68746950;
        changed |= PITH_VM_GROUP_GPR;
        break;
    default:
        return unexpected(vm);
    }
    e->mr[vm->rip] += e->mr[3];
    enum pith_error err = pith_vm_reply_wait(vm->exit_ep, e, changed, 0, 0, 0);
    return err == PITH_OK || vm_fail("replying", err);
}

/* One window: GUEST_WINDOW_EXITS port writes, or a batch of CPUIDs up to and
 * including the port write that ends it. */
static bool io_window(struct bench_vm *vm)
{
    for (unsigned i = 0; i < GUEST_WINDOW_EXITS; i++)
        if (!handle(vm))
            return false;
    return true;
}

static bool cpuid_window(struct bench_vm *vm)
{
    do {
        if (!handle(vm))
            return false;
    } while (vm->exit.reason == PITH_EXIT_CPUID);
    return true;
}

/* kernel_answers: after the first exit, CPUID leaf 0 gets a shortcut (VCpu.SET_CPUID)
 * with the answer handle() gives, so only the port write ending a batch exits. */
static void measure(const char *name, const uint8_t *code, size_t length, uint64_t mask,
                    bool (*window)(struct bench_vm *), bool kernel_answers)
{
    static const uint32_t leaf0[4] = { 1, 0x68746950, 0x68746950, 0x68746950 };
    struct bench_vm vm;
    if (!vm_create(&vm, code, length, mask))
        return;
    enum pith_error err = kernel_answers ? pith_vcpu_set_cpuid(vm.vcpu, 0, 0, leaf0) : PITH_OK;
    bool ok = err == PITH_OK ? window(&vm) : vm_fail("setting the CPUID shortcut", err);    /* warm up */
    uint64_t total = 0, best = ~0ull;
    for (unsigned w = 0; ok && w < GUEST_WINDOWS; w++) {
        uint64_t start = pith_rdtsc();
        ok = window(&vm);
        uint64_t ticks = pith_rdtsc() - start;
        total += ticks;
        best = ticks < best ? ticks : best;
    }
    if (ok && wall_clock)
        pith_printf("bench %s_wall %lu ns\n", name, per_round_ns(best, GUEST_WINDOW_EXITS));
    else if (ok)
        pith_printf("bench %s %lu instructions\n", name, per_round_ns(total, GUEST_EXITS));
    vm_destroy(&vm);
}

/* Where a port-write round trip goes, from time stamps taken by the guest (before its
 * port write, after it) and by this VMM (when it has the exit, when it replies):
 * exit path = the guest's port write until pith_vm_reply_wait has returned the exit,
 * VMM = from there to its next reply (here: step RIP), entry path = from the reply
 * call until the guest runs again.  The guest's own stamping instructions count too,
 * so the three add up to a little more than vm_exit_io.  Windows as in measure(): the
 * average of all under -icount, the best window in wall-clock time. */
static void bench_vm_exit_split(void)
{
    struct bench_vm vm;
    if (!vm_create(&vm, guest_io_stamped_loop, sizeof(guest_io_stamped_loop), PITH_VM_GROUP_RIP))
        return;
    volatile uint32_t *before = (volatile uint32_t *)(vm.code + GUEST_STAMP_BEFORE);
    volatile uint32_t *after = (volatile uint32_t *)(vm.code + GUEST_STAMP_AFTER);
    uint64_t sum[3] = { 0 }, best[3] = { ~0ull, 0, 0 }, window[3] = { 0 };  /* exit, VMM, entry */
    uint32_t replied = 0;
    bool ok = true;
    for (unsigned i = 0; ok && i <= GUEST_EXITS; i++) {
        uint32_t received = (uint32_t)pith_rdtsc();
        if (vm.exit.reason != PITH_EXIT_IO) {
            ok = unexpected(&vm);
            break;
        }
        if (i > 0) {                            /* the first exit is the warm-up */
            window[0] += (uint32_t)(received - *before);
            window[2] += (uint32_t)(*after - replied);
        }
        vm.exit.mr[vm.rip] += vm.exit.mr[3];
        replied = (uint32_t)pith_rdtsc();
        if (i > 0)
            window[1] += (uint32_t)(replied - received);
        if (i > 0 && i % GUEST_WINDOW_EXITS == 0) {
            uint64_t total = window[0] + window[1] + window[2];
            bool better = total < best[0] + best[1] + best[2] || best[0] == ~0ull;
            for (unsigned k = 0; k < 3; k++) {
                sum[k] += window[k];
                if (better)
                    best[k] = window[k];
                window[k] = 0;
            }
        }
        enum pith_error err = pith_vm_reply_wait(vm.exit_ep, &vm.exit, PITH_VM_GROUP_RIP, 0, 0, 0);
        if (err)
            ok = vm_fail("replying", err);
    }
    if (ok && wall_clock)
        pith_printf("bench: vm_exit_io_wall split: exit path %lu, VMM %lu, entry path %lu ns\n",
                    per_round_ns(best[0], GUEST_WINDOW_EXITS), per_round_ns(best[1], GUEST_WINDOW_EXITS),
                    per_round_ns(best[2], GUEST_WINDOW_EXITS));
    else if (ok)
        pith_printf("bench: vm_exit_io split: exit path %lu, VMM %lu, entry path %lu instructions\n",
                    per_round_ns(sum[0], GUEST_EXITS), per_round_ns(sum[1], GUEST_EXITS),
                    per_round_ns(sum[2], GUEST_EXITS));
    vm_destroy(&vm);
}

void bench_vm_exits(void)
{
    uint64_t slot = 0;
    if (pith_alloc_object(PITH_OBJ_VCPU, 0, &slot) != PITH_OK) {
        pith_printf("bench: this kernel has no VMX/SVM backend for this CPU: no vm_exit figures\n");
        return;
    }
    pith_cnode_delete(PITH_SLOT_CNODE, slot);
    measure("vm_exit_io", guest_io_loop, sizeof(guest_io_loop), PITH_VM_GROUP_RIP, io_window, false);
    measure("vm_exit_cpuid", guest_cpuid_loop, sizeof(guest_cpuid_loop),
            PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP, cpuid_window, true);
    measure("vm_exit_cpuid_vmm", guest_cpuid_loop, sizeof(guest_cpuid_loop),
            PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP, cpuid_window, false);
    bench_vm_exit_split();
}
