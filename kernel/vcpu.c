/*
 * Virtual CPUs.  A VCpu is bound to a thread (the vCPU thread); when the scheduler
 * runs that thread it enters the guest instead of user mode.  An exit the kernel does
 * not keep becomes a Call from the vCPU thread to its exit endpoint (the thread's
 * fault endpoint slot) with the message of pith/vm.h; the VMM's reply is written back
 * and the thread is runnable again.  The thread's address-space slot holds the guest
 * space, so revoking the guest space or the endpoint stops the vCPU like any thread.
 * The vendor backends (arch/x86_64/svm, vmx) sit behind the vcpu_arch_* hooks.
 */
#include "kernel.h"
#include "../arch/x86_64/arch.h"

/* Words of each state group, in PITH_VM_GROUP_* bit order (pith/vm.h). */
static const uint8_t group_words[PITH_VM_GROUP_COUNT] = { 16, 2, 6, 16, 4, 9, 2, 1 };

static bool vm_available;

void vcpu_init(struct vcpu *v)
{
    vcpu_arch_init(v);
}

void vcpu_destroy(struct vcpu *v)
{
    struct thread *t = v->thread;
    if (t) {
        thread_suspend(t);
        t->vcpu = NULL;
        v->thread = NULL;
    }
    vcpu_arch_destroy(v);
}

void vcpu_unbind_thread(struct thread *t)
{
    t->vcpu->thread = NULL;
    t->vcpu = NULL;
}

/* Append the groups of `mask` to the message, from word `at`; returns the new end. */
static unsigned put_groups(struct vcpu *v, uint64_t mask, unsigned at)
{
    for (unsigned g = 0; g < PITH_VM_GROUP_COUNT; g++) {
        if (!(mask & BIT(g)))
            continue;
        vcpu_arch_read_group(v, g, &v->msg[at]);
        at += group_words[g];
    }
    return at;
}

static unsigned groups_length(uint64_t mask)
{
    unsigned n = 0;
    for (unsigned g = 0; g < PITH_VM_GROUP_COUNT; g++)
        if (mask & BIT(g))
            n += group_words[g];
    return n;
}

/* Send the exit to the VMM: a Call from the vCPU thread on its exit endpoint. */
static void deliver_exit(struct vcpu *v, const struct vcpu_exit *e)
{
    struct thread *t = v->thread;
    struct cap *ep = &t->slots[TSLOT_FAULT];
    v->msg[0] = e->raw;
    v->msg[1] = e->qualification;
    v->msg[2] = e->qualification2;
    v->msg[3] = e->length;
    v->msg_length = put_groups(v, v->transfer_mask, PITH_VM_EXIT_HEADER);
    if (ep->type != PITH_OBJ_ENDPOINT) {
        kprintf("pith: vCPU %p: exit %lu with no exit endpoint; stopped\n", (void *)v, e->reason);
        thread_suspend(t);
        return;
    }
    t->fault_label = (uint8_t)e->reason;
    endpoint_send((struct endpoint *)ep->object, t, ep->data, false, true, true);
}

void vcpu_exited(struct vcpu *v)
{
    struct vcpu_exit e;
    vcpu_arch_exit_info(v, &e);
    if (e.reason == VCPU_EXIT_KEEP_INTERRUPT)
        arch_take_interrupts();
    else if (e.reason != VCPU_EXIT_KEEP_NMI)
        deliver_exit(v, &e);
    sched_return_to_user();
}

void vcpu_enter(struct vcpu *v)
{
    struct cpu *c = this_cpu();
    struct thread *t = v->thread;
    c->current = t;
    if (c->fpu_owner != t) {
        if (c->fpu_owner)
            __asm__ volatile("fxsaveq (%0)" :: "r"(c->fpu_owner->fpu) : "memory");
        __asm__ volatile("fxrstorq (%0)" :: "r"(t->fpu) : "memory");
        c->fpu_owner = t;
    }
    if (v->recall_pending) {
        v->recall_pending = false;
        struct vcpu_exit e = { .reason = PITH_EXIT_RECALL };
        deliver_exit(v, &e);
        sched_return_to_user();
    }
    vcpu_arch_run(v);
}

/* The VMM answered an exit: write back the groups it changed, inject, open windows. */
void vcpu_take_reply(struct vcpu *v, struct thread *replier)
{
    uint64_t info = replier->regs.rsi;
    uint64_t mask = pith_msginfo_label(info) & PITH_VM_GROUP_ALL;
    unsigned length = (unsigned)pith_msginfo_length(info);
    if (length < PITH_VM_EXIT_HEADER + groups_length(mask))
        mask = 0;           /* a short reply changes no state */
    unsigned at = PITH_VM_EXIT_HEADER;
    for (unsigned g = 0; g < PITH_VM_GROUP_COUNT; g++) {
        if (!(mask & BIT(g)))
            continue;
        uint64_t words[16];
        for (unsigned i = 0; i < group_words[g]; i++)
            words[i] = thread_mr(replier, at + i);
        vcpu_arch_write_group(v, g, words);
        at += group_words[g];
    }
    if (length > 0 && (thread_mr(replier, 0) & PITH_VM_EVENT_VALID))
        vcpu_arch_inject(v, thread_mr(replier, 0), thread_mr(replier, 1));
    if (length > 2)
        vcpu_arch_request_windows(v, thread_mr(replier, 2));
}

/* ---- Invocations ------------------------------------------------------------------- */

static int vcpu_configure(struct invocation *inv, struct vcpu *v)
{
    int err;
    struct cap *tc = inv_cap_arg(inv, 0, PITH_OBJ_THREAD, PITH_RIGHT_WRITE, &err);
    if (!tc)
        return err;
    struct cap *gc = inv_cap_arg(inv, 1, PITH_OBJ_GUEST_SPACE, PITH_RIGHT_WRITE, &err);
    if (!gc)
        return err;
    struct cap *ec = inv_cap_arg(inv, 2, PITH_OBJ_ENDPOINT, PITH_RIGHT_WRITE, &err);
    if (!ec)
        return err;
    struct thread *t = (struct thread *)tc->object;
    if (t->state != THREAD_INACTIVE || (t->vcpu && t->vcpu != v) || (v->thread && v->thread != t))
        return PITH_E_BUSY;
    /* point of no return */
    struct cap value;
    cap_delete(&t->slots[TSLOT_VSPACE]);
    value = *gc;
    cap_insert_child(gc, &t->slots[TSLOT_VSPACE], &value);
    cap_delete(&t->slots[TSLOT_FAULT]);
    value = *ec;
    cap_insert_child(ec, &t->slots[TSLOT_FAULT], &value);
    t->vcpu = v;
    v->thread = t;
    v->transfer_mask = inv_arg(inv, 3) & PITH_VM_GROUP_ALL;
    v->exception_bitmap = inv_arg(inv, 4) & 0xffffffffull;
    vcpu_arch_configure(v, (struct guest_space *)gc->object, v->exception_bitmap);
    return PITH_OK;
}

/* The vCPU's state may be read and written while its thread is not in the guest. */
static bool state_accessible(const struct vcpu *v)
{
    return !v->thread || v->thread != this_cpu()->current;
}

static int vcpu_read_state(struct invocation *inv, struct vcpu *v)
{
    uint64_t mask = inv_arg(inv, 0);
    if (mask & ~(uint64_t)PITH_VM_GROUP_ALL)
        return PITH_E_INVALID_ARG;
    unsigned length = groups_length(mask);
    if (length > PITH_MSG_REGS_IN_CPU && !inv->caller->ipc_buffer)
        return PITH_E_TRUNCATED;
    if (!state_accessible(v))
        return PITH_E_BUSY;
    put_groups(v, mask, 0);
    for (unsigned i = 0; i < length; i++)
        thread_set_mr(inv->caller, i, v->msg[i]);
    inv_reply(inv, length);
    return PITH_OK;
}

static int vcpu_write_state(struct invocation *inv, struct vcpu *v)
{
    uint64_t mask = inv_arg(inv, 0);
    if (mask & ~(uint64_t)PITH_VM_GROUP_ALL)
        return PITH_E_INVALID_ARG;
    if (inv->length < 1 + groups_length(mask))
        return PITH_E_TRUNCATED;
    if (!state_accessible(v))
        return PITH_E_BUSY;
    unsigned at = 1;
    for (unsigned g = 0; g < PITH_VM_GROUP_COUNT; g++) {
        if (!(mask & BIT(g)))
            continue;
        uint64_t words[16];
        for (unsigned i = 0; i < group_words[g]; i++)
            words[i] = inv_arg(inv, at + i);
        vcpu_arch_write_group(v, g, words);
        at += group_words[g];
    }
    return PITH_OK;
}

static int vcpu_set_io(struct invocation *inv, struct vcpu *v)
{
    int err;
    struct cap *io = inv_cap_arg(inv, 0, PITH_CAP_IOPORT, 0, &err);
    if (!io)
        return err;
    uint64_t direct = inv_arg(inv, 1);
    if (direct > 1)
        return PITH_E_INVALID_ARG;
    io_bitmap_set(vcpu_page(v, VCPU_PAGE_IO_BITMAP), io->data & 0xffff, (io->data >> 16) & 0xffff, direct);
    return PITH_OK;
}

int vcpu_invoke(struct invocation *inv)
{
    struct vcpu *v = vcpu_of_object(inv->cap->object);
    if (!(inv->cap->rights & PITH_RIGHT_WRITE))
        return PITH_E_RIGHTS;
    switch (inv->label) {
    case PITH_VCPU_CONFIGURE:
        return vcpu_configure(inv, v);
    case PITH_VCPU_READ_STATE:
        return vcpu_read_state(inv, v);
    case PITH_VCPU_WRITE_STATE:
        return vcpu_write_state(inv, v);
    case PITH_VCPU_RECALL:
        v->recall_pending = true;
        return PITH_OK;
    case PITH_VCPU_SET_IO:
        return vcpu_set_io(inv, v);
    default:
        return PITH_E_ILLEGAL_OP;
    }
}

/* At boot: is there a backend?  Retype of VCpu objects fails without one. */
void vcpu_boot(void)
{
    vm_available = vcpu_arch_init_cpu();
    kprintf("virtualization: %s\n", vm_available ? vcpu_arch_name() : "none (no VMX or SVM)");
}

bool vcpu_available(void) { return vm_available; }
