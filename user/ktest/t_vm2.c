/*
 * Virtual machines, second part: the life of vCPUs and guest spaces (creation,
 * destruction while a guest runs, revoking the memory under it), recall, scheduling of
 * guests that never exit, and guest-physical isolation.
 */
#include "vm.h"

static pith_cap_t nap(struct pith_test_ctx *ctx)
{
    static pith_cap_t note;
    if (!note)
        note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    return note;
}

static void sleep_ms(struct pith_test_ctx *ctx, uint64_t ms)
{
    vm_sleep_ms(nap(ctx), ms);
}

/* A guest that never exits: it counts in the dword at 0x2000. */
VM_GUEST(vmg_loop, ".code16",
    "1: incl 0x2000\n"
    "jmp 1b\n");

/* The loop runs with IF=1 (nothing is ever injected): see vm_guest_cli_loop_preempted
 * for a guest with interrupts disabled. */
static volatile uint32_t *loop_create(struct pith_test_ctx *ctx, struct kt_vm *vm)
{
    uint64_t rip[2] = { VM_CODE_GPA, 0x202 };
    if (!vm_create(ctx, vm, VM_CODE(vmg_loop), 0) || !vm_write(ctx, vm, PITH_VM_GROUP_RIP, rip))
        return NULL;
    return (volatile uint32_t *)vm_map_page(ctx, vm, VM_DATA_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
}

/* Whether the looping guest counts past `seen`: looked at every 3 ms for up to a
 * second, as the emulated CPU itself may be descheduled by a busy host for a while. */
static bool counts_past(struct pith_test_ctx *ctx, volatile uint32_t *counter, uint32_t seen)
{
    for (unsigned i = 0; i < 333 && *counter <= seen; i++)
        sleep_ms(ctx, 3);
    return *counter > seen;
}

/* Start the looping guest and let it run a little: it must have counted. */
static bool loop_run(struct pith_test_ctx *ctx, struct kt_vm *vm, volatile uint32_t *counter)
{
    if (!vm_go(ctx, vm))
        return false;
    return pith_expect(ctx, counts_past(ctx, counter, 0), "the looping guest never ran");
}

/* The guest does not run any more: its counter stays put. */
static void expect_stopped(struct pith_test_ctx *ctx, volatile uint32_t *counter, const char *what)
{
    uint32_t before = *counter;
    sleep_ms(ctx, 5);
    pith_expect(ctx, *counter == before, "%s: the guest still counts (%u -> %u)", what, before, *counter);
}

static bool rip_in_loop(uint64_t rip)
{
    return rip == VM_CODE_GPA || rip == VM_CODE_GPA + 5;
}

/* A thread that, after a delay, deletes a capability or recalls a vCPU. */
struct helper {
    struct kt_thread t;
    pith_cap_t nap, done;
    uint64_t delay_ms;
    bool recall;
    pith_cap_t target;
    volatile uint64_t finished;
    volatile enum pith_error err;
};

static void helper_body(uint64_t arg)
{
    struct helper *h = (struct helper *)arg;
    vm_sleep_ms(h->nap, h->delay_ms);
    h->err = h->recall ? pith_vcpu_recall(h->target) : pith_cnode_delete(KT_CNODE, h->target);
    h->finished = 1;
    pith_signal(h->done);
}

static bool helper_start(struct pith_test_ctx *ctx, struct helper *h, bool recall, pith_cap_t target,
                         uint64_t delay_ms)
{
    *h = (struct helper){ .recall = recall, .target = target, .delay_ms = delay_ms,
                          .err = PITH_E_COUNT };
    h->nap = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    h->done = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    return h->nap && h->done && kt_thread_start(ctx, &h->t, helper_body, (uint64_t)h, 60, 0);
}

static void helper_destroy(struct helper *h)
{
    kt_thread_destroy(&h->t);
    kt_delete(h->nap);
    kt_delete(h->done);
}

/* ---- Creation and destruction ---------------------------------------------------------- */

/* vCPUs and guest spaces come and go in any order; a vCPU whose thread went away takes
 * a new one; a thread whose vCPU went away cannot run as one. */
static void vm_create_destroy(struct pith_test_ctx *ctx)
{
    for (unsigned order = 0; order < 3; order++) {
        pith_cap_t space = kt_new(ctx, PITH_OBJ_GUEST_SPACE, 0);
        pith_cap_t vcpu = kt_new(ctx, PITH_OBJ_VCPU, 0);
        pith_cap_t thread = kt_new(ctx, PITH_OBJ_THREAD, 0);
        pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
        if (!space || !vcpu || !thread || !ep)
            return;
        if (!pith_expect_ok(ctx, pith_vcpu_configure(vcpu, thread, space, ep, VM_MASK, 0), "configure"))
            return;
        switch (order) {
        case 0:     /* the vCPU first: its thread is no vCPU thread any more */
            kt_delete(vcpu);
            pith_expect_err(ctx, pith_thread_resume(thread), PITH_E_INVALID_ARG,
                            "resuming a thread whose vCPU is gone");
            kt_delete(thread);
            kt_delete(space);
            break;
        case 1: {   /* the thread first: the vCPU takes another */
            kt_delete(thread);
            pith_cap_t other = kt_new(ctx, PITH_OBJ_THREAD, 0);
            pith_expect_ok(ctx, pith_vcpu_configure(vcpu, other, space, ep, VM_MASK, 0),
                           "configuring the vCPU with a new thread");
            kt_delete(other);
            kt_delete(vcpu);
            kt_delete(space);
            break;
        }
        default:    /* the guest space first: the thread still holds it */
            kt_delete(space);
            pith_expect_ok(ctx, pith_vcpu_recall(vcpu), "the vCPU still works");
            kt_delete(vcpu);
            kt_delete(thread);
            break;
        }
        kt_delete(ep);
    }
    /* Many at once, then all gone. */
    pith_cap_t vcpus[8], spaces[8];
    for (unsigned i = 0; i < 8; i++) {
        vcpus[i] = kt_new(ctx, PITH_OBJ_VCPU, 0);
        spaces[i] = kt_new(ctx, PITH_OBJ_GUEST_SPACE, 0);
    }
    for (unsigned i = 0; i < 8; i++) {
        pith_expect(ctx, vcpus[i] && spaces[i], "eight vCPUs and guest spaces");
        kt_delete(vcpus[i]);
        kt_delete(spaces[i]);
    }
}

static volatile uint64_t reuse_flag;

static void reuse_body(uint64_t arg)
{
    reuse_flag = arg;
    for (;;) {
        struct pith_msg msg;
        pith_recv(kt_graveyard, &msg);
    }
}

/* After its vCPU is destroyed, a vCPU thread is an ordinary thread again. */
static void vm_thread_reuse(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0xf4 };
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0) || !vm_start(ctx, &vm) ||
        !vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "hlt"))
        goto done;
    kt_delete(vm.vcpu);
    vm.vcpu = 0;
    pith_expect_err(ctx, pith_vm_reply(&vm.exit, 0, 0, 0, 0), PITH_E_NO_REPLY,
                    "the exit went away with the vCPU");
    pith_expect_err(ctx, pith_thread_resume(vm.thread), PITH_E_INVALID_ARG, "no vCPU, no address space");
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t ipc = kt_window();
    uint64_t *stack = pith_alloc_pages(4);
    if (!frame || !stack || !pith_expect_ok(ctx, kt_map(frame, ipc, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "ipc map"))
        goto done;
    ((struct pith_ipc_buffer *)ipc)->user[0] = ipc;
    if (!pith_expect_ok(ctx, pith_thread_configure(vm.thread, KT_CNODE, KT_SPACE, ipc, frame, 0),
                        "configuring it as a user thread"))
        goto done;
    uint64_t regs[PITH_REG_COUNT] = { 0 };
    regs[PITH_REG_RIP] = (uint64_t)reuse_body;
    regs[PITH_REG_RSP] = (uint64_t)(stack + 4 * 512 - 1);
    regs[PITH_REG_RFLAGS] = 0x202;
    regs[PITH_REG_RDI] = 0x5eed;
    reuse_flag = 0;
    if (pith_expect_ok(ctx, pith_thread_write_registers(vm.thread, regs, PITH_REG_RDI + 1), "registers") &&
        pith_expect_ok(ctx, pith_thread_set_priority(vm.thread, KT_ROOT_PRIORITY), "priority") &&
        pith_expect_ok(ctx, pith_thread_resume(vm.thread), "resume")) {
        pith_expect(ctx, kt_wait_flag(&reuse_flag, 100), "the thread never ran its user code");
        pith_expect_eq(ctx, reuse_flag, 0x5eed, "its argument");
    }
done:
    vm_destroy(&vm);
}

VM_GUEST(vmg_two_hlts, ".code16",
    "inc %bx\n"
    "hlt\n"
    "inc %bx\n"
    "hlt\n");

/* The vCPU thread is deleted while its exit waits for the reply: the reply finds nobody;
 * the vCPU, bound to a new thread, goes on from the state it had. */
static void vm_vcpu_rebind(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_two_hlts), 0) || !vm_start(ctx, &vm) ||
        !vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "first hlt"))
        goto done;
    kt_delete(vm.thread);
    vm.thread = 0;
    pith_expect_err(ctx, pith_vm_reply(&vm.exit, 0, 0, 0, 0), PITH_E_NO_REPLY, "reply to a deleted thread");
    vm_expect_quiet(ctx, &vm, "after the thread was deleted");
    vm.thread = kt_new(ctx, PITH_OBJ_THREAD, 0);
    if (!vm.thread ||
        !pith_expect_ok(ctx, pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.exit_ep, VM_MASK, 0),
                        "binding a new thread") ||
        !pith_expect_ok(ctx, pith_thread_set_priority(vm.thread, 50), "priority"))
        goto done;
    uint64_t rip[2];
    if (!vm_read(ctx, &vm, PITH_VM_GROUP_RIP, rip))
        goto done;
    pith_expect_eq(ctx, rip[0], VM_CODE_GPA + 1, "rip kept at the hlt");
    rip[0] += 1;
    if (vm_write(ctx, &vm, PITH_VM_GROUP_RIP, rip) && vm_start(ctx, &vm) &&
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "second hlt")) {
        pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA + 3, "rip");
        pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RBX)] & 0xffff, 2, "bx kept across threads");
    }
done:
    vm_destroy(&vm);
}

/* Invalid arguments to the VCpu methods change nothing. */
static void vm_vcpu_bad_arguments(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0xf4 };
    struct kt_vm vm, other;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    if (!vm_create(ctx, &other, code, sizeof(code), 0))
        goto done;
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t fresh = kt_new(ctx, PITH_OBJ_VCPU, 0);
    pith_cap_t thread = kt_new(ctx, PITH_OBJ_THREAD, 0);
    pith_cap_t ro_vcpu = kt_slot(), ro_ep = kt_slot();
    pith_cnode_copy(KT_CNODE, ro_vcpu, KT_CNODE, vm.vcpu, PITH_RIGHT_READ);
    pith_cnode_copy(KT_CNODE, ro_ep, KT_CNODE, vm.exit_ep, PITH_RIGHT_READ);
    pith_expect_err(ctx, pith_vcpu_configure(fresh, vm.exit_ep, vm.space, vm.exit_ep, VM_MASK, 0),
                    PITH_E_INVALID_CAP, "an endpoint as the thread");
    pith_expect_err(ctx, pith_vcpu_configure(fresh, thread, KT_SPACE, vm.exit_ep, VM_MASK, 0),
                    PITH_E_INVALID_CAP, "an address space as the guest space");
    pith_expect_err(ctx, pith_vcpu_configure(fresh, thread, vm.space, note, VM_MASK, 0),
                    PITH_E_INVALID_CAP, "a notification as the exit endpoint");
    pith_expect_err(ctx, pith_vcpu_configure(fresh, thread, vm.space, ro_ep, VM_MASK, 0),
                    PITH_E_RIGHTS, "an exit endpoint without the write right");
    pith_expect_err(ctx, pith_vcpu_configure(fresh, vm.thread, vm.space, vm.exit_ep, VM_MASK, 0),
                    PITH_E_BUSY, "a thread bound to another vCPU");
    pith_expect_err(ctx, pith_vcpu_configure(vm.vcpu, thread, vm.space, vm.exit_ep, VM_MASK, 0),
                    PITH_E_BUSY, "a vCPU bound to another thread");
    pith_expect_err(ctx, pith_vcpu_configure(ro_vcpu, vm.thread, vm.space, vm.exit_ep, VM_MASK, 0),
                    PITH_E_RIGHTS, "a read-only vCPU capability");
    pith_expect_err(ctx, pith_vcpu_recall(ro_vcpu), PITH_E_RIGHTS, "recall needs the write right");
    uint64_t words[16] = { 0 };
    pith_expect_err(ctx, pith_vcpu_read_state(vm.vcpu, 1ull << PITH_VM_GROUP_COUNT, words, 1), PITH_E_INVALID_ARG,
                    "reading an unknown group");
    pith_expect_err(ctx, pith_vcpu_write_state(vm.vcpu, 1ull << PITH_VM_GROUP_COUNT, words, 1), PITH_E_INVALID_ARG,
                    "writing an unknown group");
    pith_expect_err(ctx, pith_vcpu_write_state(vm.vcpu, PITH_VM_GROUP_GPR, words, 3), PITH_E_TRUNCATED,
                    "a GPR group of three words");
    pith_expect_err(ctx, pith_vcpu_recall(vm.thread), PITH_E_ILLEGAL_OP, "recall on a thread");
    /* A thread running as a vCPU (here: waiting in its exit) cannot be reconfigured. */
    if (vm_start(ctx, &other) && vm_expect_exit(ctx, &other, PITH_EXIT_HLT, "hlt"))
        pith_expect_err(ctx, pith_vcpu_configure(other.vcpu, other.thread, other.space, other.exit_ep,
                                                 VM_MASK, 0), PITH_E_BUSY, "a vCPU thread that is not inactive");
    /* Nothing changed: the first VM still runs. */
    if (vm_start(ctx, &vm))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "the untouched VM still runs");
    kt_delete(ro_vcpu);
    kt_delete(ro_ep);
    kt_delete(note);
    kt_delete(fresh);
    kt_delete(thread);
    vm_destroy(&other);
done:
    vm_destroy(&vm);
}

/* Another thread deletes the vCPU thread while the guest loops. */
static void vm_destroy_thread_while_running(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    struct helper h;
    volatile uint32_t *counter = loop_create(ctx, &vm);
    if (!counter || !vm_go(ctx, &vm) || !helper_start(ctx, &h, false, vm.thread, 3))
        goto done;
    uint64_t bits;
    pith_wait(h.done, &bits);
    pith_expect(ctx, h.finished, "the helper never finished");
    pith_expect_ok(ctx, h.err, "deleting the running vCPU thread");
    pith_expect(ctx, *counter > 0, "the guest never ran");
    vm.thread = 0;
    expect_stopped(ctx, counter, "after the thread was deleted");
    vm_expect_quiet(ctx, &vm, "after the thread was deleted");
    helper_destroy(&h);
done:
    vm_destroy(&vm);
}

/* The VCpu object is deleted under a looping guest: the thread stops and cannot be
 * resumed as a vCPU thread. */
static void vm_destroy_vcpu_while_running(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    volatile uint32_t *counter = loop_create(ctx, &vm);
    if (!counter || !loop_run(ctx, &vm, counter))
        goto done;
    kt_delete(vm.vcpu);
    vm.vcpu = 0;
    expect_stopped(ctx, counter, "after the vCPU was deleted");
    pith_expect_err(ctx, pith_thread_resume(vm.thread), PITH_E_INVALID_ARG, "resuming the orphaned thread");
    vm_expect_quiet(ctx, &vm, "after the vCPU was deleted");
done:
    vm_destroy(&vm);
}

/* Recall, then destroy the thread while the RECALL exit waits for its reply. */
static void vm_destroy_after_recall(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    volatile uint32_t *counter = loop_create(ctx, &vm);
    if (!counter || !loop_run(ctx, &vm, counter))
        goto done;
    if (!pith_expect_ok(ctx, pith_vcpu_recall(vm.vcpu), "recall") ||
        !pith_expect_ok(ctx, pith_vm_wait_exit(vm.exit_ep, &vm.exit), "wait") ||
        !vm_expect_exit(ctx, &vm, PITH_EXIT_RECALL, "recall"))
        goto done;
    kt_delete(vm.thread);
    vm.thread = 0;
    pith_expect_err(ctx, pith_vm_reply(&vm.exit, 0, 0, 0, 0), PITH_E_NO_REPLY, "reply after the delete");
    expect_stopped(ctx, counter, "after the delete");
    vm_expect_quiet(ctx, &vm, "after the delete");
done:
    vm_destroy(&vm);
}

/* Revoking the guest space stops the guest; with a new space the vCPU runs again. */
static void vm_revoke_guest_space_while_running(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    volatile uint32_t *counter = loop_create(ctx, &vm);
    if (!counter || !loop_run(ctx, &vm, counter))
        goto done;
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, vm.space), "revoking the guest space");
    expect_stopped(ctx, counter, "after the revoke");
    pith_expect_err(ctx, pith_thread_resume(vm.thread), PITH_E_INVALID_ARG, "resuming without a guest space");
    vm_expect_quiet(ctx, &vm, "after the revoke");
    kt_delete(vm.space);
    /* A new space with a hlt at 0x1000. */
    vm.space = kt_new(ctx, PITH_OBJ_GUEST_SPACE, 0);
    uint8_t *code = vm.space ? vm_map_page(ctx, &vm, VM_CODE_GPA, PITH_RIGHTS_ALL) : NULL;
    if (!code)
        goto done;
    code[0] = 0xf4;
    uint64_t rip[2] = { VM_CODE_GPA, 2 };
    if (pith_expect_ok(ctx, pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.exit_ep, VM_MASK, 0),
                       "a new guest space") &&
        vm_write(ctx, &vm, PITH_VM_GROUP_RIP, rip) && vm_start(ctx, &vm))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "the vCPU runs in the new space");
done:
    vm_destroy(&vm);
}

/* Every object of a running VM comes from one untyped; revoking it stops the guest,
 * the whole untyped is free again and a new VM made from it runs. */
static void vm_revoke_untyped_while_running(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 20);
    if (!ut)
        return;
    struct kt_vm vm;
    vm_use_untyped(ut);
    volatile uint32_t *counter = loop_create(ctx, &vm);
    vm_use_untyped(0);
    if (!counter || !loop_run(ctx, &vm, counter))
        goto done;
    if (!pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoking the untyped"))
        goto done;
    pith_expect_err(ctx, pith_vcpu_recall(vm.vcpu), PITH_E_INVALID_CAP, "the vCPU is gone");
    pith_expect_err(ctx, pith_thread_resume(vm.thread), PITH_E_INVALID_CAP, "the thread is gone");
    pith_expect_err(ctx, pith_frame_address(vm.code_frame, &(uint64_t){ 0 }), PITH_E_INVALID_CAP,
                    "the guest memory is gone");
    sleep_ms(ctx, 3);                                           /* the kernel runs on */
    pith_cap_t whole = kt_slot();
    if (pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_UNTYPED, 20, KT_CNODE, whole, 1),
                       "all of the untyped is free again"))
        kt_delete(whole);
    /* A new VM from the same memory. */
    static const uint8_t code[] = { 0xf4 };
    vm_use_untyped(ut);
    bool made = vm_create(ctx, &vm, code, sizeof(code), 0);
    vm_use_untyped(0);
    if (made && vm_start(ctx, &vm))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "a VM made from the reused memory");
    vm_destroy(&vm);
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoking again");
    kt_delete(ut);
    return;
done:
    vm_use_untyped(0);
    pith_cnode_revoke(KT_CNODE, ut);
    kt_delete(ut);
}

VM_GUEST(vmg_out_loop, ".code16",
    "1: inc %bx\n"
    "out %al, $0x80\n"
    "jmp 1b\n");

/* The exit endpoint is destroyed while the vCPU waits to send an exit: the vCPU stops
 * (it cannot deliver exits) and works again with a new endpoint. */
static void vm_exit_endpoint_deleted(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_out_loop), 0) || !vm_go(ctx, &vm))
        goto done;
    sleep_ms(ctx, 2);                                           /* it waits in its exit */
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, vm.exit_ep), "revoking the endpoint");
    kt_delete(vm.exit_ep);
    sleep_ms(ctx, 2);
    vm.exit_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!vm.exit_ep ||
        !pith_expect_ok(ctx, pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.exit_ep, VM_MASK, 0),
                        "the vCPU thread stopped: it can be configured"))
        goto done;
    if (vm_start(ctx, &vm) && vm_expect_io(ctx, &vm, 0x80, "exits reach the new endpoint")) {
        pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RBX)] & 0xffff, 1, "the out was never completed");
    }
done:
    vm_destroy(&vm);
}

/* ---- Suspend, resume, recall ------------------------------------------------------------ */

static void vm_suspend_resume_running(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    volatile uint32_t *counter = loop_create(ctx, &vm);
    if (!counter || !loop_run(ctx, &vm, counter))
        goto done;
    pith_expect_ok(ctx, pith_thread_suspend(vm.thread), "suspend");
    expect_stopped(ctx, counter, "suspended");
    uint64_t rip[2];
    if (vm_read(ctx, &vm, PITH_VM_GROUP_RIP, rip))
        pith_expect(ctx, rip_in_loop(rip[0]), "rip 0x%lx is not in the loop", rip[0]);
    uint32_t before = *counter;
    pith_expect_ok(ctx, pith_thread_resume(vm.thread), "resume");
    pith_expect(ctx, counts_past(ctx, counter, before), "the guest did not go on after resume");
    vm_expect_quiet(ctx, &vm, "a loop never exits");
done:
    vm_destroy(&vm);
}

VM_GUEST(vmg_inc_out, ".code16",
    "inc %bx\n"
    "out %al, $0x80\n"
    "hlt\n");

/* Suspended while its exit waits: the reply finds nobody; resumed, the vCPU re-executes
 * the instruction that exited. */
static void vm_suspend_during_exit(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_inc_out), 0) || !vm_start(ctx, &vm) ||
        !vm_expect_io(ctx, &vm, 0x80, "out"))
        goto done;
    pith_expect_ok(ctx, pith_thread_suspend(vm.thread), "suspend");
    pith_expect_err(ctx, pith_vm_reply(&vm.exit, 0, 0, 0, 0), PITH_E_NO_REPLY, "reply to a suspended vCPU");
    if (!vm_start(ctx, &vm) || !vm_expect_io(ctx, &vm, 0x80, "the out again"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA + 1, "same rip");
    pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RBX)] & 0xffff, 1, "inc ran once");
    if (vm_resume(ctx, &vm, 2, 0))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "then hlt");
done:
    vm_destroy(&vm);
}

static void vm_recall_before_start(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0xf4 };
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    if (!pith_expect_ok(ctx, pith_vcpu_recall(vm.vcpu), "recall") || !vm_start(ctx, &vm) ||
        !vm_expect_exit(ctx, &vm, PITH_EXIT_RECALL, "the first exit is the recall"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA, "nothing ran");
    pith_expect_eq(ctx, vm.exit.mr[3], 0, "no instruction length");
    if (vm_reply(ctx, &vm, 0, 0, 0, 0)) {
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "then the guest runs");
        pith_expect_eq(ctx, vm.exit.mr[VM_RIP], VM_CODE_GPA, "rip of the hlt");
    }
done:
    vm_destroy(&vm);
}

/* The VMM thread itself recalls the looping guest, twice. */
static void vm_recall_running(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    volatile uint32_t *counter = loop_create(ctx, &vm);
    if (!counter || !loop_run(ctx, &vm, counter))
        goto done;
    for (unsigned i = 0; i < 2; i++) {
        if (!pith_expect_ok(ctx, pith_vcpu_recall(vm.vcpu), "recall") ||
            !pith_expect_ok(ctx, pith_vm_wait_exit(vm.exit_ep, &vm.exit), "wait") ||
            !vm_expect_exit(ctx, &vm, PITH_EXIT_RECALL, "recall"))
            goto done;
        pith_expect(ctx, rip_in_loop(vm.exit.mr[VM_RIP]), "rip 0x%lx is not in the loop", vm.exit.mr[VM_RIP]);
        uint32_t seen = *counter;
        if (!pith_expect_ok(ctx, pith_vm_reply(&vm.exit, 0, 0, 0, 0), "reply"))
            goto done;
        pith_expect(ctx, counts_past(ctx, counter, seen), "the guest goes on after a recall");
    }
    vm_expect_quiet(ctx, &vm, "one exit per recall");
done:
    vm_destroy(&vm);
}

/* Another thread recalls the guest while the VMM thread waits for exits. */
static void vm_recall_from_thread(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    struct helper h;
    volatile uint32_t *counter = loop_create(ctx, &vm);
    if (!counter || !vm_go(ctx, &vm) || !helper_start(ctx, &h, true, vm.vcpu, 3))
        goto done;
    if (pith_expect_ok(ctx, pith_vm_wait_exit(vm.exit_ep, &vm.exit), "wait") &&
        vm_expect_exit(ctx, &vm, PITH_EXIT_RECALL, "the helper's recall")) {
        pith_expect_ok(ctx, h.err, "the helper's recall call");
        pith_expect(ctx, *counter > 0, "the guest ran before the recall");
        pith_expect(ctx, rip_in_loop(vm.exit.mr[VM_RIP]), "rip 0x%lx is not in the loop", vm.exit.mr[VM_RIP]);
    }
    helper_destroy(&h);
done:
    vm_destroy(&vm);
}

/* ---- Scheduling ----------------------------------------------------------------------- */

static volatile uint64_t spin_count, high_count;

static void spin_body(uint64_t arg)
{
    (void)arg;
    for (;;)
        spin_count++;
}

static void high_body(uint64_t arg)
{
    for (unsigned i = 0; i < 5; i++) {
        vm_sleep_ms(arg, 1);
        high_count++;
    }
}

/* A guest that never exits is preempted like any thread: a higher-priority thread
 * sleeping on deadlines wakes on time, a thread of the same priority gets its turns. */
static void vm_guest_loop_preempted(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    struct kt_thread spin = { 0 }, high = { 0 };
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    volatile uint32_t *counter = loop_create(ctx, &vm);
    spin_count = high_count = 0;
    if (!note || !counter || !vm_go(ctx, &vm) ||
        !kt_thread_start(ctx, &spin, spin_body, 0, 50, 0) ||
        !kt_thread_start(ctx, &high, high_body, note, 60, 0))
        goto done;
    uint64_t start = pith_rdtsc();
    /* Five sleeps of 1 ms take 5 ms and a few ticks; give a busy host up to a second. */
    sleep_ms(ctx, 40);
    for (unsigned i = 0; i < 48 && high_count < 5; i++)
        sleep_ms(ctx, 20);
    pith_expect_eq(ctx, high_count, 5, "wake-ups of the higher-priority thread");
    pith_expect(ctx, spin_count > 0, "the thread of the guest's priority never ran");
    pith_expect(ctx, *counter > 0, "the guest never ran");
    /* Both advance again.  A timeslice is 5 ms, but the emulated CPU may itself be
     * descheduled by a busy host for longer than that: look again every 20 ms for up
     * to a second, so only a thread that never gets its turn again fails. */
    uint32_t seen = *counter;
    uint64_t spun = spin_count;
    for (unsigned i = 0; i < 50 && !(*counter > seen && spin_count > spun); i++)
        sleep_ms(ctx, 20);
    pith_expect(ctx, *counter > seen && spin_count > spun, "both go on taking turns");
    pith_expect(ctx, pith_rdtsc() - start < vm_tsc_ms(3000), "the sleeps took too long");
    vm_expect_quiet(ctx, &vm, "a loop never exits");
done:
    kt_thread_destroy(&spin);
    kt_thread_destroy(&high);
    kt_delete(note);
    vm_destroy(&vm);
}

VM_GUEST(vmg_cli_loop, ".code16",
    "cli\n"
    "mov $0x2000000, %ecx\n"
    "1: addr32 loop 1b\n"              /* long, but not forever */
    "hlt\n");

/* A guest with interrupts disabled does not keep host interrupts out: the VMM thread's
 * 3 ms deadline wakes it while the guest still loops (no exit has come yet).  (A VMX
 * entry must not leave external interrupts blocked by the guest's RFLAGS.IF: SDM
 * 26.3, pin-based control "external-interrupt exiting".) */
static void vm_guest_cli_loop_preempted(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_cli_loop), 0) || !vm_go(ctx, &vm))
        goto done;
    uint64_t start = pith_rdtsc();
    sleep_ms(ctx, 3);
    uint64_t slept = pith_rdtsc() - start;
    struct pith_msg msg;
    enum pith_error err = pith_nb_recv(vm.exit_ep, &msg);
    pith_expect(ctx, err == PITH_E_WOULD_BLOCK, "the guest was not preempted: it ran to its exit (label %lu) "
                "and a 3 ms sleep took %lu us", err == PITH_OK ? pith_msginfo_label(msg.info) : 0,
                slept / (kt_bootinfo->tsc_hz / 1000000));
    uint64_t rip[2];
    if (err == PITH_E_WOULD_BLOCK && vm_read(ctx, &vm, PITH_VM_GROUP_RIP, rip)) {
        pith_expect_eq(ctx, rip[1] & VM_RFLAGS_IF, 0, "IF clear in the guest");
        pith_expect(ctx, rip[0] == VM_CODE_GPA + 7, "rip 0x%lx not in the loop", rip[0]);
    }
done:
    vm_destroy(&vm);
}

/* ---- Guest memory --------------------------------------------------------------------- */

VM_GUEST(vmg_isolated, ".code16",
    "mov 0x2000, %ax\n"
    "out %ax, $0x80\n"
    "mov %bx, 0x2000\n"
    "mov 0x9000, %ax\n"                 /* 0x1009: mapped in the first guest only */
    "out %ax, $0x81\n"
    "hlt\n");

/* Two guests, two guest spaces, the same guest-physical addresses: each sees its own
 * memory, and what only one has mapped is nothing for the other. */
static void vm_two_guests_isolated(struct pith_test_ctx *ctx)
{
    struct kt_vm a, b;
    if (!vm_create(ctx, &a, VM_CODE(vmg_isolated), 0))
        return;
    if (!vm_create(ctx, &b, VM_CODE(vmg_isolated), 0))
        goto done_a;
    uint8_t *da = vm_map_page(ctx, &a, VM_DATA_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    uint8_t *db = vm_map_page(ctx, &b, VM_DATA_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    uint8_t *only = vm_map_page(ctx, &a, 0x9000, PITH_RIGHT_READ);
    if (!da || !db || !only)
        goto done;
    *(uint16_t *)da = 0x1111, *(uint16_t *)db = 0x2222, *(uint16_t *)only = 0x9999;
    uint64_t gpr[16] = { 0 };
    gpr[VM_RSP] = 0x8000;
    gpr[VM_RBX] = 0xaaaa;
    if (!vm_write(ctx, &a, PITH_VM_GROUP_GPR, gpr))
        goto done;
    gpr[VM_RBX] = 0xbbbb;
    if (!vm_write(ctx, &b, PITH_VM_GROUP_GPR, gpr))
        goto done;
    /* A runs to its end, then B (a VMM thread answers one exit at a time). */
    if (!vm_start(ctx, &a) || !vm_expect_io(ctx, &a, 0x80, "guest A reads"))
        goto done;
    pith_expect_eq(ctx, a.exit.mr[2] & 0xffff, 0x1111, "A sees its page");
    if (!vm_resume(ctx, &a, 2, 0) || !vm_expect_io(ctx, &a, 0x81, "A reads its private page"))
        goto done;
    pith_expect_eq(ctx, a.exit.mr[2] & 0xffff, 0x9999, "A's private page");
    pith_expect_eq(ctx, *(volatile uint16_t *)da, 0xaaaa, "A wrote its page");
    pith_expect_eq(ctx, *(volatile uint16_t *)db, 0x2222, "B's page untouched by A");
    if (!vm_start(ctx, &b) || !vm_expect_io(ctx, &b, 0x80, "guest B reads"))
        goto done;
    pith_expect_eq(ctx, b.exit.mr[2] & 0xffff, 0x2222, "B sees its page");
    if (!vm_resume(ctx, &b, 2, 0) || !vm_expect_exit(ctx, &b, PITH_EXIT_MMIO, "B has nothing there"))
        goto done;
    pith_expect_eq(ctx, b.exit.mr[1], 0x9000, "B's access");
    pith_expect_eq(ctx, b.exit.mr[VM_RIP], 0x1009, "rip");
    pith_expect_eq(ctx, *(volatile uint16_t *)db, 0xbbbb, "B wrote its page");
    pith_expect_eq(ctx, *(volatile uint16_t *)da, 0xaaaa, "A's page untouched by B");
done:
    vm_destroy(&b);
done_a:
    vm_destroy(&a);
}

VM_GUEST(vmg_shared_a, ".code16",
    "mov 0x2000, %ax\n"                 /* what the other vCPU stored */
    "out %ax, $0x80\n"
    "hlt\n"
    ".org 0x100\n"                      /* the second vCPU starts here */
    "movw $0xb0b0, 0x2000\n"
    "hlt\n");

/* Two vCPUs in one guest space see the same memory. */
static void vm_shared_guest_space(struct pith_test_ctx *ctx)
{
    struct kt_vm a, b;
    if (!vm_create(ctx, &a, VM_CODE(vmg_shared_a), 0))
        return;
    uint8_t *data = vm_map_page(ctx, &a, VM_DATA_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    if (!data || !vm_create_shared(ctx, &b, &a, 0x1100))
        goto done;
    if (!vm_start(ctx, &b) || !vm_expect_exit(ctx, &b, PITH_EXIT_HLT, "B stored"))
        goto done;
    pith_expect_eq(ctx, *(volatile uint16_t *)data, 0xb0b0, "B's store in the shared page");
    pith_expect_eq(ctx, b.exit.mr[VM_RIP], 0x1106, "B's rip");
    if (vm_start(ctx, &a) && vm_expect_io(ctx, &a, 0x80, "A reads"))
        pith_expect_eq(ctx, a.exit.mr[2] & 0xffff, 0xb0b0, "A sees B's store");
done:
    vm_destroy(&b);
    vm_destroy(&a);
}

VM_GUEST(vmg_host_phys, ".code32",
    "mov 0x2000, %ebx\n"                /* the host-physical address the test put there */
    "movl $0xdeadbeef, (%ebx)\n"        /* 0x1006 */
    "mov (%ebx), %eax\n"                /* 0x100c */
    "hlt\n");

/* A guest-physical address that is some host frame's physical address reaches
 * nothing: the accesses exit and the host frame keeps its contents. */
static void vm_unmapped_never_reaches_host(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t view = kt_window(), phys = 0;
    if (!frame || !pith_expect_ok(ctx, kt_map(frame, view, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "view") ||
        !pith_expect_ok(ctx, pith_frame_address(frame, &phys), "address"))
        return;
    if (!pith_expect(ctx, phys < 0x100000000ull, "frame above 4 GiB"))
        return;
    memset((void *)view, 0x5a, 4096);
    if (!vm_create(ctx, &vm, VM_CODE(vmg_host_phys), 0) || !vm_protected(ctx, &vm))
        goto done;
    uint8_t *data = vm_map_page(ctx, &vm, VM_DATA_GPA, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    if (!data)
        goto done;
    *(uint32_t *)data = (uint32_t)phys;
    if (!vm_start(ctx, &vm) || !vm_expect_exit(ctx, &vm, PITH_EXIT_MMIO, "the write"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], phys, "guest-physical address");
    pith_expect_eq(ctx, vm.exit.mr[2] & (PITH_VM_ACCESS_WRITE | PITH_VM_ACCESS_PRESENT), PITH_VM_ACCESS_WRITE,
                   "a write to nothing");
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], 0x1006, "rip");
    if (!vm_resume(ctx, &vm, 6, 0) || !vm_expect_exit(ctx, &vm, PITH_EXIT_MMIO, "the read"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], phys, "guest-physical address");
    pith_expect_eq(ctx, vm.exit.mr[2] & (PITH_VM_ACCESS_WRITE | PITH_VM_ACCESS_PRESENT), 0, "a read of nothing");
    vm.exit.mr[VM_GPR(VM_RAX)] = 0x77;
    if (vm_resume(ctx, &vm, 2, 0) && vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "hlt"))
        pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RAX)] & 0xffffffff, 0x77, "eax: the VMM's value");
    bool intact = true;
    for (unsigned i = 0; i < 4096; i++)
        intact &= ((volatile uint8_t *)view)[i] == 0x5a;
    pith_expect(ctx, intact, "the host frame was changed by the guest");
done:
    vm_destroy(&vm);
}

VM_GUEST(vmg_reread, ".code16",
    "mov 0x9000, %ax\n"
    "out %ax, $0x80\n"
    "mov 0x9000, %ax\n"                 /* 0x1005 */
    "out %ax, $0x81\n"
    "hlt\n");

/* After Frame.UNMAP the page is gone for the guest at once; mapped again, it is back. */
static void vm_unmap_frame(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_reread), 0))
        return;
    uint8_t *page = vm_map_page(ctx, &vm, 0x9000, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    pith_cap_t frame = vm.last_frame;
    if (!page)
        goto done;
    *(uint16_t *)page = 0x4242;
    if (!vm_start(ctx, &vm) || !vm_expect_io(ctx, &vm, 0x80, "first read"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[2] & 0xffff, 0x4242, "through the mapping");
    pith_expect_ok(ctx, pith_frame_unmap(frame), "unmap");
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_exit(ctx, &vm, PITH_EXIT_MMIO, "read after the unmap"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 0x9000, "guest-physical address");
    pith_expect_eq(ctx, vm.exit.mr[2] & PITH_VM_ACCESS_PRESENT, 0, "nothing is there");
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], 0x1005, "rip");
    pith_expect_ok(ctx, pith_frame_map(frame, vm.space, 0x9000, PITH_RIGHT_READ, 0), "map again");
    if (vm_resume(ctx, &vm, 0, 0) && vm_expect_io(ctx, &vm, 0x81, "read after the new map"))
        pith_expect_eq(ctx, vm.exit.mr[2] & 0xffff, 0x4242, "the same page again");
done:
    vm_destroy(&vm);
}

/* Deleting the frame capability the guest mapping came from removes the mapping; the
 * frame lives on through another capability, which can be mapped in its place. */
static void vm_delete_frame_cap(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_reread), 0))
        return;
    uint8_t *page = vm_map_page(ctx, &vm, 0x9000, PITH_RIGHT_READ | PITH_RIGHT_WRITE);
    pith_cap_t frame = vm.last_frame, copy = kt_slot();
    if (!page || !pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, copy, KT_CNODE, frame, PITH_RIGHTS_ALL), "copy"))
        goto done;
    *(uint16_t *)page = 0x4343;
    if (!vm_start(ctx, &vm) || !vm_expect_io(ctx, &vm, 0x80, "first read"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[2] & 0xffff, 0x4343, "through the mapping");
    kt_delete(frame);
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_exit(ctx, &vm, PITH_EXIT_MMIO, "read after the delete"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 0x9000, "guest-physical address");
    pith_expect_eq(ctx, vm.exit.mr[2] & PITH_VM_ACCESS_PRESENT, 0, "nothing is there");
    *(volatile uint16_t *)page = 0x4444;                        /* the view still works */
    pith_expect_ok(ctx, pith_frame_map(copy, vm.space, 0x9000, PITH_RIGHT_READ, 0), "map the copy");
    if (vm_resume(ctx, &vm, 0, 0) && vm_expect_io(ctx, &vm, 0x81, "read through the copy"))
        pith_expect_eq(ctx, vm.exit.mr[2] & 0xffff, 0x4444, "the same frame");
done:
    vm_destroy(&vm);
    kt_delete(copy);
}

/* ---- One VMM thread, several vCPUs ------------------------------------------------------ */

VM_GUEST(vmg_badge, ".code16",
    "mov $0, %al\n"                     /* patched: the vCPU's number */
    "out %al, $0x80\n"
    "hlt\n");

/* Three vCPUs exit to one endpoint; the badge names each, and each exit is answered to
 * the vCPU that sent it. */
static void vm_shared_exit_endpoint(struct pith_test_ctx *ctx)
{
    struct kt_vm vm[3] = { 0 };
    pith_cap_t badged[3] = { 0 };
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!ep)
        return;
    for (unsigned i = 0; i < 3; i++) {
        if (!vm_create(ctx, &vm[i], VM_CODE(vmg_badge), 0))
            goto done;
        vm[i].code[1] = (uint8_t)(i + 1);
        badged[i] = kt_slot();
        if (!pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, badged[i], KT_CNODE, ep, PITH_RIGHTS_ALL, i + 1),
                            "mint") ||
            !pith_expect_ok(ctx, pith_vcpu_configure(vm[i].vcpu, vm[i].thread, vm[i].space, badged[i],
                                                     VM_MASK, 0), "the shared endpoint"))
            goto done;
    }
    for (unsigned i = 0; i < 3; i++)
        if (!vm_go(ctx, &vm[i]))
            goto done;
    struct pith_vm_exit exit = { .transfer_mask = VM_MASK };
    unsigned ios[4] = { 0 }, hlts[4] = { 0 };
    enum pith_error err = pith_vm_wait_exit(ep, &exit);
    for (unsigned n = 0; n < 6 && err == PITH_OK; n++) {
        if (!pith_expect(ctx, exit.badge >= 1 && exit.badge <= 3, "badge %lu", exit.badge))
            break;
        bool last = n == 5;
        if (exit.reason == PITH_EXIT_IO) {
            pith_expect_eq(ctx, exit.mr[2] & 0xff, exit.badge, "the vCPU the badge names");
            pith_expect_eq(ctx, hlts[exit.badge], 0, "its hlt came before its out");
            ios[exit.badge]++;
            exit.mr[VM_RIP] += exit.mr[3];
            err = last ? PITH_OK : pith_vm_reply_wait(ep, &exit, PITH_VM_GROUP_RIP, 0, 0, 0);
        } else {
            pith_expect_eq(ctx, exit.reason, PITH_EXIT_HLT, "the other exit is a hlt");
            pith_expect_eq(ctx, exit.mr[VM_GPR(VM_RAX)] & 0xff, exit.badge, "al of the vCPU the badge names");
            hlts[exit.badge]++;
            pith_thread_suspend(vm[exit.badge - 1].thread);     /* done with this one */
            err = last ? PITH_OK : pith_vm_wait_exit(ep, &exit);
        }
    }
    pith_expect_ok(ctx, err, "exits on the shared endpoint");
    for (unsigned i = 1; i <= 3; i++)
        pith_expect(ctx, ios[i] == 1 && hlts[i] == 1, "vCPU %u: %u outs, %u hlts", i, ios[i], hlts[i]);
done:
    for (unsigned i = 0; i < 3; i++) {
        vm_destroy(&vm[i]);
        kt_delete(badged[i]);
    }
    kt_delete(ep);
}

/* Port pass-through: only with an I/O-port capability, and only for its ports.  The
 * guest reads CMOS register 0x0d (bit 7: valid RAM and time) twice; with ports 0x70-0x71
 * passed through it never exits until its HLT. */
static void vm_io_passthrough(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0xb0, 0x0d,             /* mov al, 0x0d */
        0xe6, 0x70,             /* out 0x70, al */
        0xe4, 0x71,             /* in al, 0x71 */
        0xf4 };                 /* hlt */
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    pith_cap_t ports = kt_slot();
    pith_expect_err(ctx, pith_vcpu_set_io(vm.vcpu, vm.space, 1), PITH_E_INVALID_CAP,
                    "a capability that is not an I/O-port range");
    if (pith_expect_ok(ctx, pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x70, 0x71, ports),
                       "issuing ports 0x70-0x71") &&
        pith_expect_err(ctx, pith_vcpu_set_io(vm.vcpu, ports, 2), PITH_E_INVALID_ARG, "direct = 2") &&
        pith_expect_ok(ctx, pith_vcpu_set_io(vm.vcpu, ports, 1), "passing them through") &&
        vm_start(ctx, &vm)) {
        pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_HLT, "no I/O exit before the hlt");
        pith_expect_eq(ctx, vm.exit.mr[VM_GPR(0)] & 0x80, 0x80, "the guest read the real CMOS");
    }
    vm_destroy(&vm);
    kt_delete(ports);
}

static void vm_io_passthrough_revoked(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0xe4, 0x71, 0xf4 };     /* in al, 0x71; hlt */
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    pith_cap_t ports = kt_slot();
    pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x71, 0x71, ports);
    pith_vcpu_set_io(vm.vcpu, ports, 1);
    pith_expect_ok(ctx, pith_vcpu_set_io(vm.vcpu, ports, 0), "exits again");
    if (vm_start(ctx, &vm)) {
        pith_expect_eq(ctx, vm.exit.reason, PITH_EXIT_IO, "the port exits");
        pith_expect_eq(ctx, vm.exit.mr[1] & 0xffff, 0x71, "port 0x71");
    }
    vm_destroy(&vm);
    kt_delete(ports);
}

/* ---- Port shortcuts (VCpu.SET_PORT) ------------------------------------------------------ */

VM_GUEST(vmg_port_read, ".code16",
    "mov $0x12, %ah\n"
    "in $0x99, %al\n"          /* answered by the kernel: 0x5a */
    "mov %al, %bl\n"
    "in $0x99, %al\n"
    "add %al, %bl\n"
    "out %al, $0x80\n"         /* the first exit: ax 0x125a, bl 0xb4 */
    "in $0x99, %ax\n"          /* a word: exits */
    "in $0x99, %al\n"          /* after the shortcut is gone: exits */
    "hlt\n");

/* A byte IN on a READ port reads the byte without an exit and leaves the rest of RAX;
 * wider accesses exit; PITH_VM_PORT_EXIT takes the shortcut away. */
static void vm_port_shortcut_read(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_port_read), 0))
        return;
    if (!pith_expect_ok(ctx, pith_vcpu_set_port(vm.vcpu, 0x99, PITH_VM_PORT_READ, 0x5a), "set") ||
        !vm_start(ctx, &vm) || !vm_expect_io(ctx, &vm, 0x80, "the two byte INs did not exit"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RAX)] & 0xffff, 0x125a, "al read, ah kept");
    pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RBX)] & 0xff, 0xb4, "both INs read 0x5a");
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_io(ctx, &vm, 0x99, "a word IN exits"))
        goto done;
    pith_expect_eq(ctx, (vm.exit.mr[1] >> 16) & 0xff, 2, "two bytes wide");
    if (!pith_expect_ok(ctx, pith_vcpu_set_port(vm.vcpu, 0x99, PITH_VM_PORT_EXIT, 0), "unset") ||
        !vm_resume(ctx, &vm, vm.exit.mr[3], 0) || !vm_expect_io(ctx, &vm, 0x99, "the byte IN exits again"))
        goto done;
    if (vm_resume(ctx, &vm, vm.exit.mr[3], 0))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "then hlt");
done:
    vm_destroy(&vm);
}

VM_GUEST(vmg_port_buffer, ".code16",
    "mov $1, %al\n"
    "1: out %al, $0xe9\n"
    "inc %al\n"
    "cmp $31, %al\n"
    "jne 1b\n"
    "out %al, $0x80\n"
    "hlt\n");

/* Bytes of the exit's appendix, added to `seen`; false when it is malformed. */
static bool take_port_writes(struct pith_test_ctx *ctx, const struct kt_vm *vm, uint8_t *seen, unsigned *count)
{
    uint16_t port;
    uint8_t bytes[PITH_VM_PORT_BUFFER_BYTES];
    unsigned n = pith_vm_exit_port_writes(&vm->exit, &port, bytes);
    if (n && !pith_expect_eq(ctx, port, 0xe9, "the buffered port"))
        return false;
    for (unsigned i = 0; i < n && *count < 64; i++)
        seen[(*count)++] = bytes[i];
    return true;
}

/* OUTs to a BUFFER port come with the next exit, in order; the one that finds the
 * buffer full exits itself; a host interrupt may hand them over earlier (PORT_WRITES).
 * Whatever the timing, the VMM sees 1..30 exactly once, in order, before the exit
 * that followed them. */
static void vm_port_shortcut_buffer(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    uint8_t seen[64];
    unsigned count = 0, port_exits = 0;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_port_buffer), 0))
        return;
    if (!pith_expect_ok(ctx, pith_vcpu_set_port(vm.vcpu, 0xe9, PITH_VM_PORT_BUFFER, 0), "set") ||
        !vm_start(ctx, &vm))
        goto done;
    for (unsigned round = 0; round < 40; round++) {
        if (!take_port_writes(ctx, &vm, seen, &count))
            goto done;
        if (vm.exit.reason == PITH_EXIT_PORT_WRITES) {
            if (!vm_reply(ctx, &vm, 0, 0, 0, 0))
                goto done;
            continue;
        }
        if (!vm_expect_exit(ctx, &vm, PITH_EXIT_IO, "an OUT"))
            goto done;
        if ((vm.exit.mr[1] & 0xffff) == 0x80)
            break;
        if (!vm_expect_io(ctx, &vm, 0xe9, "the buffered port"))
            goto done;
        port_exits++;
        if (count < 64)
            seen[count++] = (uint8_t)vm.exit.mr[2];
        if (!vm_resume(ctx, &vm, vm.exit.mr[3], 0))
            goto done;
    }
    if (!vm_expect_io(ctx, &vm, 0x80, "the OUT after the loop"))
        goto done;
    pith_expect(ctx, port_exits <= 1, "%u OUTs to the buffered port exited", port_exits);
    pith_expect_eq(ctx, count, 30, "every byte once");
    for (unsigned i = 0; i < count && i < 30; i++)
        if (!pith_expect_eq(ctx, seen[i], i + 1, "the bytes in order"))
            break;
    if (vm_resume(ctx, &vm, 2, 0) && vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "then hlt")) {
        uint16_t port;
        uint8_t bytes[PITH_VM_PORT_BUFFER_BYTES];
        pith_expect_eq(ctx, pith_vm_exit_port_writes(&vm.exit, &port, bytes), 0, "nothing more kept");
    }
done:
    vm_destroy(&vm);
}

VM_GUEST(vmg_port_then_loop, ".code16",
    "mov $7, %al\n"
    "out %al, $0xe9\n"
    "inc %al\n"
    "out %al, $0xe9\n"
    "1: jmp 1b\n");

/* Bytes kept while the guest never exits again reach the VMM anyway (a host interrupt
 * after a millisecond makes a PORT_WRITES exit). */
static void vm_port_shortcut_flushed(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    uint8_t seen[64];
    unsigned count = 0;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_port_then_loop), 0))
        return;
    if (pith_expect_ok(ctx, pith_vcpu_set_port(vm.vcpu, 0xe9, PITH_VM_PORT_BUFFER, 0), "set") &&
        vm_start(ctx, &vm) && vm_expect_exit(ctx, &vm, PITH_EXIT_PORT_WRITES, "the bytes handed over") &&
        take_port_writes(ctx, &vm, seen, &count) && pith_expect_eq(ctx, count, 2, "two bytes")) {
        pith_expect_eq(ctx, seen[0], 7, "first");
        pith_expect_eq(ctx, seen[1], 8, "second");
        pith_expect(ctx, vm.exit.mr[VM_RIP] >= VM_CODE_GPA + 6, "the guest went on (rip 0x%lx)", vm.exit.mr[VM_RIP]);
    }
    vm_destroy(&vm);
}

VM_GUEST(vmg_port_trickle, ".code16",
    "1: mov $0x41, %al\n"
    "out %al, $0xe9\n"              /* kept: a byte now and then, handed over each ms */
    "mov $30000, %cx\n"
    "2: loop 2b\n"
    "jmp 1b\n");

static void count_forever(uint64_t counter)
{
    for (;;)
        (*(volatile uint64_t *)counter)++;
}

/* Kept port writes handed over while the VMM is away from the exit endpoint, by a vCPU
 * thread the tick has now and then just preempted (its slice over at the writes'
 * millisecond): the thread moves from the ready queue to the endpoint's queue, whose
 * links are the same.  Done in the other order it cut a thread of the same priority
 * (here a counter) out of the ready queue for good, and could lose the vCPU thread: a
 * guest of make test-legacy's stalled.  Over 300 rounds of 2 ms away, the counter
 * keeps counting and the vCPU keeps exiting. */
static void vm_port_flush_while_preempted(struct pith_test_ctx *ctx)
{
    static volatile uint64_t counted;
    struct kt_vm vm;
    struct kt_thread counter;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_port_trickle), 0))
        return;
    pith_cap_t note = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    if (!note || !pith_expect_ok(ctx, pith_vcpu_set_port(vm.vcpu, 0xe9, PITH_VM_PORT_BUFFER, 0), "set") ||
        !kt_thread_start(ctx, &counter, count_forever, (uint64_t)&counted, 50, 0))
        goto done;
    if (!vm_start(ctx, &vm))
        goto stop;
    unsigned flushes = 0, stalled = 0;
    for (unsigned round = 0; round < 300; round++) {
        if (vm.exit.reason == PITH_EXIT_PORT_WRITES)
            flushes++;
        else if (!vm_expect_io(ctx, &vm, 0xe9, "the kept port or a hand-over"))
            break;
        else
            vm.exit.mr[VM_RIP] += 2;
        if (!pith_expect_ok(ctx, pith_vm_reply(&vm.exit, PITH_VM_GROUP_RIP, 0, 0, 0), "reply"))
            break;
        uint64_t before = counted;
        vm_sleep_ms(note, 2);                   /* away: hand-overs queue on the endpoint */
        if (round % 10 == 9) {
            vm_sleep_ms(note, 15);              /* three slices: the counter's turn comes */
            if (counted == before)
                stalled++;
        }
        if (!pith_expect_ok(ctx, pith_vm_wait_exit(vm.exit_ep, &vm.exit), "the next exit"))
            break;
    }
    pith_expect_eq(ctx, stalled, 0, "rounds in which the counter did not count");
    pith_expect(ctx, flushes > 0, "no hand-over came");
stop:
    kt_thread_destroy(&counter);
done:
    vm_destroy(&vm);
    kt_delete(note);
}

/* Every refusal of VCpu.SET_PORT. */
static void vm_port_shortcut_bad_arguments(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    static const uint8_t code[] = { 0xf4 };
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    pith_cap_t v = vm.vcpu;
    pith_expect_err(ctx, pith_vcpu_set_port(v, 0x10000, PITH_VM_PORT_READ, 0), PITH_E_INVALID_ARG, "port past 0xffff");
    pith_expect_err(ctx, pith_vcpu_set_port(v, 0x80, 3, 0), PITH_E_INVALID_ARG, "unknown kind");
    pith_expect_err(ctx, pith_vcpu_set_port(v, 0x80, PITH_VM_PORT_READ, 0x100), PITH_E_INVALID_ARG, "value past a byte");
    pith_expect_err(ctx, pith_vcpu_set_port(v, 0x80, PITH_VM_PORT_BUFFER, 1), PITH_E_INVALID_ARG, "value with BUFFER");
    pith_expect_err(ctx, pith_vcpu_set_port(v, 0x80, PITH_VM_PORT_EXIT, ~0ull), PITH_E_INVALID_ARG, "value with EXIT");
    pith_expect_ok(ctx, pith_vcpu_set_port(v, 0x80, PITH_VM_PORT_EXIT, 0), "EXIT on a port without one");
    pith_expect_ok(ctx, pith_vcpu_set_port(v, 0x3f8, PITH_VM_PORT_BUFFER, 0), "a buffered port");
    pith_expect_err(ctx, pith_vcpu_set_port(v, 0x2f8, PITH_VM_PORT_BUFFER, 0), PITH_E_BUSY, "a second one");
    for (unsigned p = 0; p < PITH_VM_PORT_SHORTCUTS - 1; p++)
        pith_expect_ok(ctx, pith_vcpu_set_port(v, 0x60 + p, PITH_VM_PORT_READ, p), "a READ port");
    pith_expect_err(ctx, pith_vcpu_set_port(v, 0x70, PITH_VM_PORT_READ, 0), PITH_E_NO_MEMORY, "one too many");
    pith_expect_ok(ctx, pith_vcpu_set_port(v, 0x60, PITH_VM_PORT_READ, 0xff), "changing one");
    pith_expect_ok(ctx, pith_vcpu_set_port(v, 0x3f8, PITH_VM_PORT_EXIT, 0), "freeing one");
    pith_expect_ok(ctx, pith_vcpu_set_port(v, 0x70, PITH_VM_PORT_BUFFER, 0), "its slot taken again");
    if (vm_start(ctx, &vm))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "the guest runs as before");
    vm_destroy(&vm);
}

/* ---- CPUID shortcuts (VCpu.SET_CPUID) ---------------------------------------------------- */

VM_GUEST(vmg_cpuid_shortcut, ".code16",
    "out %al, $0x80\n"          /* the VMM fills the upper halves */
    "movl $0x80000002, %eax\n"
    "movl $7, %ecx\n"
    "cpuid\n"                   /* answered by the kernel, whatever ECX */
    "out %al, $0x80\n"
    "xorl %eax, %eax\n"
    "cpuid\n"                   /* leaf 0: the second range */
    "out %al, $0x80\n"
    "movl $5, %eax\n"
    "cpuid\n"                   /* no shortcut: exits */
    "movl $0x80000001, %eax\n"
    "cpuid\n"                   /* after the shortcuts are taken away: exits */
    "hlt\n");

static bool vm_expect_cpuid_answer(struct pith_test_ctx *ctx, const struct kt_vm *vm, const uint32_t want[4])
{
    return pith_expect_eq(ctx, vm->exit.mr[VM_GPR(VM_RAX)], want[0], "rax (upper half clear)") &&
           pith_expect_eq(ctx, vm->exit.mr[VM_GPR(VM_RBX)], want[1], "rbx") &&
           pith_expect_eq(ctx, vm->exit.mr[VM_GPR(VM_RCX)], want[2], "rcx") &&
           pith_expect_eq(ctx, vm->exit.mr[VM_GPR(VM_RDX)], want[3], "rdx");
}

/* A CPUID in a shortcut's range of leaves gets its answer without an exit, the four
 * registers whole; other leaves exit; clearing takes every range away. */
static void vm_cpuid_shortcut(struct pith_test_ctx *ctx)
{
    static const uint32_t brand[4] = { 0x11111111, 0x22222222, 0x33333333, 0x44444444 };
    static const uint32_t zero_leaf[4] = { 0x80000001, 0x68747541, 0x444d4163, 0x69746e65 };
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_cpuid_shortcut), 0))
        return;
    if (!pith_expect_ok(ctx, pith_vcpu_set_cpuid(vm.vcpu, 0x80000002, 0x80000004, brand), "a range") ||
        !pith_expect_ok(ctx, pith_vcpu_set_cpuid(vm.vcpu, 0, 0, zero_leaf), "one leaf") ||
        !vm_start(ctx, &vm) || !vm_expect_io(ctx, &vm, 0x80, "the first OUT"))
        goto done;
    for (unsigned r = 0; r < 4; r++)
        vm.exit.mr[VM_GPR(r)] = 0xdead000000000000ull | r;
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_io(ctx, &vm, 0x80, "the CPUID in the range did not exit") ||
        !vm_expect_cpuid_answer(ctx, &vm, brand))
        goto done;
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_io(ctx, &vm, 0x80, "nor the one of leaf 0") ||
        !vm_expect_cpuid_answer(ctx, &vm, zero_leaf))
        goto done;
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_exit(ctx, &vm, PITH_EXIT_CPUID, "leaf 5 exits"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 5, "its leaf");
    if (!pith_expect_ok(ctx, pith_vcpu_clear_cpuid(vm.vcpu), "clear") ||
        !vm_resume(ctx, &vm, 2, 0) || !vm_expect_exit(ctx, &vm, PITH_EXIT_CPUID, "a cleared leaf exits"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 0x80000001, "its leaf");
    if (vm_resume(ctx, &vm, 2, 0))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "then hlt");
done:
    vm_destroy(&vm);
}

/* Every refusal of VCpu.SET_CPUID. */
static void vm_cpuid_shortcut_bad_arguments(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    static const uint8_t code[] = { 0x31, 0xc0, 0x0f, 0xa2, 0xf4 };     /* xor ax, ax; cpuid; hlt */
    static const uint32_t answer[4] = { 1, 2, 3, 4 };
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    pith_cap_t v = vm.vcpu;
    const uint64_t reversed[] = { 5, 4, 0, 0 }, clear_with_words[] = { 1, 0, 1, 0 },
                   clear_high[] = { 1, 0, 0, 1ull << 63 }, wide[] = { 0, 1ull << 32, 0, 0 };
    pith_expect_err(ctx, pith_invoke(v, PITH_VCPU_SET_CPUID, reversed, 4, NULL), PITH_E_INVALID_ARG, "a reversed range");
    pith_expect_err(ctx, pith_invoke(v, PITH_VCPU_SET_CPUID, clear_with_words, 4, NULL), PITH_E_INVALID_ARG,
                    "clear with an answer");
    pith_expect_err(ctx, pith_invoke(v, PITH_VCPU_SET_CPUID, clear_high, 4, NULL), PITH_E_INVALID_ARG,
                    "clear with a high bit");
    pith_expect_err(ctx, pith_invoke(v, PITH_VCPU_SET_CPUID, wide, 4, NULL), PITH_E_INVALID_ARG, "a leaf past 32 bits");
    pith_expect_ok(ctx, pith_vcpu_set_cpuid(v, 0x10, 0x1f, answer), "a range");
    pith_expect_err(ctx, pith_vcpu_set_cpuid(v, 0x1f, 0x20, answer), PITH_E_BUSY, "overlapping its end");
    pith_expect_err(ctx, pith_vcpu_set_cpuid(v, 0, 0xffffffff, answer), PITH_E_BUSY, "covering it");
    pith_expect_ok(ctx, pith_vcpu_set_cpuid(v, 0xffffffff, 0xffffffff, answer), "the last leaf");
    for (unsigned i = 2; i < PITH_VM_CPUID_SHORTCUTS; i++)
        pith_expect_ok(ctx, pith_vcpu_set_cpuid(v, 0x100 + i, 0x100 + i, answer), "another");
    pith_expect_err(ctx, pith_vcpu_set_cpuid(v, 0x300, 0x300, answer), PITH_E_NO_MEMORY, "one too many");
    if (vm_start(ctx, &vm))
        vm_expect_exit(ctx, &vm, PITH_EXIT_CPUID, "leaf 0 has no shortcut: exits");
    pith_expect_ok(ctx, pith_vcpu_clear_cpuid(v), "clear");
    pith_expect_ok(ctx, pith_vcpu_set_cpuid(v, 0x300, 0x300, answer), "room again");
    vm_destroy(&vm);
}

/* ---- MSR shortcuts (VCpu.SET_MSR) -------------------------------------------------------- */

VM_GUEST(vmg_msr_shortcut, ".code16",
    "out %al, $0x80\n"          /* the VMM fills the upper halves */
    "movl $0x1d9, %ecx\n"
    "rdmsr\n"                   /* answered by the kernel */
    "out %al, $0x80\n"
    "wrmsr\n"                   /* a WRMSR of it still exits */
    "movl $0x10, %ecx\n"
    "rdmsr\n"                   /* no shortcut: exits */
    "movl $0x1d9, %ecx\n"
    "rdmsr\n"                   /* after the shortcut is taken away: exits */
    "hlt\n");

/* An RDMSR of an MSR with a shortcut reads its value without an exit, RAX and RDX
 * whole; a WRMSR of it and an RDMSR of another exit; taking it away makes it exit. */
static void vm_msr_shortcut(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    if (!vm_create(ctx, &vm, VM_CODE(vmg_msr_shortcut), 0))
        return;
    if (!pith_expect_ok(ctx, pith_vcpu_set_msr(vm.vcpu, 0x1d9, PITH_VM_MSR_READ, 0x1234567890abcdefull), "set") ||
        !pith_expect_ok(ctx, pith_vcpu_set_msr(vm.vcpu, 0x1d9, PITH_VM_MSR_READ, 0x0badcafe8badf00dull),
                        "changed in place") ||
        !vm_start(ctx, &vm) || !vm_expect_io(ctx, &vm, 0x80, "the first OUT"))
        goto done;
    vm.exit.mr[VM_GPR(VM_RAX)] = 0xdead000000000000ull;
    vm.exit.mr[VM_GPR(VM_RDX)] = 0xdead000000000002ull;
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_io(ctx, &vm, 0x80, "the RDMSR did not exit"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RAX)], 0x8badf00d, "rax: the low half, the upper half clear");
    pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RDX)], 0x0badcafe, "rdx: the high half, the upper half clear");
    pith_expect_eq(ctx, vm.exit.mr[VM_RIP], 0x1000 + 2 + 6 + 2, "rip past the RDMSR");
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_exit(ctx, &vm, PITH_EXIT_MSR_WRITE, "the WRMSR exits"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 0x1d9, "its MSR");
    pith_expect_eq(ctx, vm.exit.mr[2], 0x0badcafe8badf00dull, "the value it read");
    if (!vm_resume(ctx, &vm, 2, 0) || !vm_expect_exit(ctx, &vm, PITH_EXIT_MSR_READ, "MSR 0x10 exits"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 0x10, "its MSR");
    if (!pith_expect_ok(ctx, pith_vcpu_set_msr(vm.vcpu, 0x1d9, PITH_VM_MSR_EXIT, 0), "taken away") ||
        !vm_resume(ctx, &vm, 2, 0) || !vm_expect_exit(ctx, &vm, PITH_EXIT_MSR_READ, "then it exits"))
        goto done;
    pith_expect_eq(ctx, vm.exit.mr[1], 0x1d9, "its MSR");
    if (vm_resume(ctx, &vm, 2, 0))
        vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "then hlt");
done:
    vm_destroy(&vm);
}

/* Every refusal of VCpu.SET_MSR, and a full table. */
static void vm_msr_shortcut_bad_arguments(struct pith_test_ctx *ctx)
{
    struct kt_vm vm;
    static const uint8_t code[] = { 0x66, 0xb9, 0xd9, 0x01, 0x00, 0x00,    /* mov ecx, 0x1d9 */
                                    0x0f, 0x32, 0xf4 };                    /* rdmsr; hlt */
    if (!vm_create(ctx, &vm, code, sizeof(code), 0))
        return;
    pith_cap_t v = vm.vcpu;
    pith_expect_err(ctx, pith_vcpu_set_msr(v, 1ull << 32 | 0x1d9, PITH_VM_MSR_READ, 0), PITH_E_INVALID_ARG,
                    "an index past 32 bits");
    pith_expect_err(ctx, pith_vcpu_set_msr(v, 0x1d9, PITH_VM_MSR_READ + 1, 0), PITH_E_INVALID_ARG, "an unknown kind");
    pith_expect_err(ctx, pith_vcpu_set_msr(v, 0x1d9, 1ull << 63, 0), PITH_E_INVALID_ARG, "a kind with a high bit");
    pith_expect_err(ctx, pith_vcpu_set_msr(v, 0x1d9, PITH_VM_MSR_EXIT, 1), PITH_E_INVALID_ARG, "EXIT with a value");
    pith_expect_ok(ctx, pith_vcpu_set_msr(v, 0x1d9, PITH_VM_MSR_EXIT, 0), "taking away one that is not there");
    for (unsigned i = 0; i < PITH_VM_MSR_SHORTCUTS; i++)
        pith_expect_ok(ctx, pith_vcpu_set_msr(v, 0xc0010000 + i, PITH_VM_MSR_READ, i), "a shortcut");
    pith_expect_err(ctx, pith_vcpu_set_msr(v, 0x1d9, PITH_VM_MSR_READ, 0), PITH_E_NO_MEMORY, "one too many");
    pith_expect_ok(ctx, pith_vcpu_set_msr(v, 0xc0010003, PITH_VM_MSR_READ, 7), "a full table changes a value");
    if (vm_start(ctx, &vm) && vm_expect_exit(ctx, &vm, PITH_EXIT_MSR_READ, "0x1d9 has no shortcut: exits"))
        pith_expect_eq(ctx, vm.exit.mr[1], 0x1d9, "its MSR");
    pith_expect_ok(ctx, pith_vcpu_set_msr(v, 0xc0010003, PITH_VM_MSR_EXIT, 0), "one taken away");
    pith_expect_ok(ctx, pith_vcpu_set_msr(v, 0x1d9, PITH_VM_MSR_READ, 0x55), "room again");
    /* The RDMSR exited with RIP at it: entered again, it reads the shortcut. */
    if (vm_resume(ctx, &vm, 0, 0) && vm_expect_exit(ctx, &vm, PITH_EXIT_HLT, "now it does not exit"))
        pith_expect_eq(ctx, vm.exit.mr[VM_GPR(VM_RAX)], 0x55, "the value it read");
    vm_destroy(&vm);
}

KT_TABLE(vm2,
    { "vm_io_passthrough", vm_io_passthrough },
    { "vm_io_passthrough_revoked", vm_io_passthrough_revoked },
    { "vm_create_destroy", vm_create_destroy },
    { "vm_thread_reuse", vm_thread_reuse },
    { "vm_vcpu_rebind", vm_vcpu_rebind },
    { "vm_vcpu_bad_arguments", vm_vcpu_bad_arguments },
    { "vm_destroy_thread_while_running", vm_destroy_thread_while_running },
    { "vm_destroy_vcpu_while_running", vm_destroy_vcpu_while_running },
    { "vm_destroy_after_recall", vm_destroy_after_recall },
    { "vm_revoke_guest_space_while_running", vm_revoke_guest_space_while_running },
    { "vm_revoke_untyped_while_running", vm_revoke_untyped_while_running },
    { "vm_exit_endpoint_deleted", vm_exit_endpoint_deleted },
    { "vm_suspend_resume_running", vm_suspend_resume_running },
    { "vm_suspend_during_exit", vm_suspend_during_exit },
    { "vm_recall_before_start", vm_recall_before_start },
    { "vm_recall_running", vm_recall_running },
    { "vm_recall_from_thread", vm_recall_from_thread },
    { "vm_guest_loop_preempted", vm_guest_loop_preempted },
    { "vm_guest_cli_loop_preempted", vm_guest_cli_loop_preempted },
    { "vm_two_guests_isolated", vm_two_guests_isolated },
    { "vm_shared_guest_space", vm_shared_guest_space },
    { "vm_unmapped_never_reaches_host", vm_unmapped_never_reaches_host },
    { "vm_unmap_frame", vm_unmap_frame },
    { "vm_delete_frame_cap", vm_delete_frame_cap },
    { "vm_shared_exit_endpoint", vm_shared_exit_endpoint },
    { "vm_port_shortcut_read", vm_port_shortcut_read },
    { "vm_port_shortcut_buffer", vm_port_shortcut_buffer },
    { "vm_port_shortcut_flushed", vm_port_shortcut_flushed },
    { "vm_port_shortcut_bad_arguments", vm_port_shortcut_bad_arguments },
    { "vm_port_flush_while_preempted", vm_port_flush_while_preempted },
    { "vm_cpuid_shortcut", vm_cpuid_shortcut },
    { "vm_cpuid_shortcut_bad_arguments", vm_cpuid_shortcut_bad_arguments },
    { "vm_msr_shortcut", vm_msr_shortcut },
    { "vm_msr_shortcut_bad_arguments", vm_msr_shortcut_bad_arguments },
)
