/*
 * Threads: creation, configuration, registers, resume and suspend, destruction, and
 * turning a user fault into a message to the thread's fault endpoint.
 */
#include "kernel.h"
#include <arch.h>

void thread_init(struct thread *t)
{
    t->state = THREAD_INACTIVE;
    for (unsigned i = 0; i < TSLOT_COUNT; i++)
        t->slots[i].owner = t;
    arch_thread_init(t);
}

void thread_set_result(struct thread *t, uint64_t error)
{
    arch_set_result(t, error);
    arch_set_msg_info(t, 0);
}

void thread_wake_with_error(struct thread *t, uint64_t error)
{
    t->blocked_on = NULL;
    t->replier = NULL;
    t->fault_label = 0;
    thread_set_result(t, error);
    sched_make_runnable(t);
}

/* t waits on an endpoint or notification that is destroyed: off its queue, awake. */
void thread_wait_deleted(struct thread *t)
{
    if (t->state == THREAD_BLOCKED_NOTIFICATION)
        notification_cancel(t);
    else
        endpoint_cancel(t);
    thread_wake_with_error(t, PITH_E_DELETED);
}

struct address_space *vspace_of_thread(const struct thread *t)
{
    return (struct address_space *)t->slots[TSLOT_VSPACE].object;
}

/* Leave every queue and wait; the thread stays where it is, inactive. */
void thread_suspend(struct thread *t)
{
    /* A thread stopped in a fault (or a VM exit) holds the registers of the faulting
     * instruction, not a system call's: they stay exactly as they were. */
    bool in_call = !t->fault_label;
    sched_recall(t);            /* another CPU may be running it */
    switch (t->state) {
    case THREAD_BLOCKED_SEND:
    case THREAD_BLOCKED_RECV:
    case THREAD_BLOCKED_REPLY:
        endpoint_cancel(t);
        if (in_call)
            thread_set_result(t, PITH_E_INTERRUPTED);
        break;
    case THREAD_BLOCKED_NOTIFICATION:
        notification_cancel(t);
        thread_set_result(t, PITH_E_INTERRUPTED);
        break;
    default:
        break;
    }
    t->fault_label = 0;
    sched_block(t, THREAD_INACTIVE);
}

void thread_destroy(struct thread *t)
{
    if (t->console_used) {      /* its unfinished line, ended (a full one is out already) */
        t->console_line[t->console_used++] = '\n';
        thread_console_flush(t);
    }
    thread_suspend(t);
    if (t->caller) {
        thread_wake_with_error(t->caller, PITH_E_DELETED);
        t->caller = NULL;
    }
    if (t->bound)
        notification_unbind(t->bound);
    if (t->vcpu)
        vcpu_unbind_thread(t);
    sched_remove(t);
    arch_forget_thread(t);
    /* Its own capabilities go later, as a zombie's: deleting them here could destroy
     * a CNode, and a revoke deleting this thread relies on no other capability
     * disappearing under it. */
    for (unsigned i = 0; i < TSLOT_COUNT; i++)
        t->slots[i].owner = NULL;
    t->ipc_buffer = NULL;
    zombie_add(&t->zombie, t->slots, TSLOT_COUNT);
}

/* One of the thread's own capabilities went away (deleted or revoked elsewhere). */
void thread_slot_cleared(struct thread *t, struct cap *slot)
{
    unsigned i = (unsigned)(slot - t->slots);
    if (i == TSLOT_IPC_BUFFER)
        t->ipc_buffer = NULL;
    if (i == TSLOT_CSPACE || i == TSLOT_VSPACE)
        thread_suspend(t);
}

void thread_user_fault(struct thread *t, uint64_t vector, uint64_t error, uint64_t addr)
{
    struct cap *handler = &t->slots[TSLOT_FAULT];
    if (handler->type != PITH_OBJ_ENDPOINT) {
        kwarn("pith: thread %p: unhandled %s %lu at rip %lx, address %lx, error %lx; suspended\n",
                (void *)t, vector == 14 ? "page fault" : "exception", vector, arch_user_ip(t),
                addr, error);
        thread_suspend(t);
        return;
    }
    t->fault_label = vector == 14 ? PITH_FAULT_PAGE : PITH_FAULT_EXCEPTION;
    t->fault_mr[0] = arch_user_ip(t);
    t->fault_mr[1] = addr;
    t->fault_mr[2] = error;
    t->fault_mr[3] = vector;
    endpoint_send((struct endpoint *)handler->object, t, handler->data, false, true, true);
}

/* ---- Invocations ------------------------------------------------------------------ */

static int decode_configure(struct invocation *inv, struct thread *t, struct cap **cs,
                            struct cap **vs, struct cap **buf, struct cap **fault)
{
    int err;
    if (t->state != THREAD_INACTIVE)
        return PITH_E_BUSY;
    if (!(*cs = inv_cap_arg(inv, 0, PITH_OBJ_CNODE, 0, &err)))
        return err;
    if (!(*vs = inv_cap_arg(inv, 1, PITH_OBJ_ADDRESS_SPACE, 0, &err)))
        return err;
    uint64_t buffer = inv_arg(inv, 2);
    *buf = NULL;
    if (buffer) {
        if (buffer & (PAGE_SIZE - 1))
            return PITH_E_ALIGNMENT;
        if (buffer >= PITH_USER_TOP)
            return PITH_E_BAD_ADDRESS;
        if (!(*buf = inv_cap_arg(inv, 3, PITH_OBJ_FRAME_4K, PITH_RIGHT_WRITE, &err)))
            return err;
        if ((*buf)->aux & CAP_AUX_DEVICE)
            return PITH_E_INVALID_ARG;
    }
    *fault = NULL;
    if (inv_arg(inv, 4) && !(*fault = inv_cap_arg(inv, 4, PITH_OBJ_ENDPOINT, PITH_RIGHT_WRITE, &err)))
        return err;
    if (!cap_can_derive_from(*cs) || !cap_can_derive_from(*vs) ||
        (*buf && !cap_can_derive_from(*buf)) || (*fault && !cap_can_derive_from(*fault)))
        return PITH_E_RANGE;
    return PITH_OK;
}

static void set_slot(struct thread *t, enum thread_slot i, struct cap *src)
{
    cap_delete(&t->slots[i]);
    if (src) {
        struct cap value = *src;
        cap_prepare_copy(&value);
        cap_insert_child(src, &t->slots[i], &value);
    }
}

static int thread_configure(struct invocation *inv, struct thread *t)
{
    struct cap *cs = NULL, *vs = NULL, *buf = NULL, *fault = NULL;
    int err = decode_configure(inv, t, &cs, &vs, &buf, &fault);
    if (err)
        return err;
    /* point of no return */
    if (t->vcpu)        /* an ordinary thread again: the vCPU no longer runs on it */
        vcpu_unbind_thread(t);
    set_slot(t, TSLOT_CSPACE, cs);
    set_slot(t, TSLOT_VSPACE, vs);
    set_slot(t, TSLOT_IPC_BUFFER, buf);
    set_slot(t, TSLOT_FAULT, fault);
    t->ipc_buffer_vaddr = buf ? inv_arg(inv, 2) : 0;
    t->fs_base = t->ipc_buffer_vaddr;   /* the runtime finds its IPC buffer through FS */
    arch_bases_written(t);
    t->ipc_buffer = buf ? (struct pith_ipc_buffer *)buf->object : NULL;
    return PITH_OK;
}

static int thread_set_priority(struct invocation *inv, struct thread *t)
{
    uint64_t prio = inv_arg(inv, 0);
    if (prio > PITH_PRIORITY_MAX)
        return PITH_E_RANGE;
    if (prio > inv->caller->mcp)
        return PITH_E_RIGHTS;
    struct cpu *c = &cpus[t->cpu];
    bool queued = t->in_ready_queue;
    if (queued)
        schedq_remove(&c->ready, t);
    t->priority = (uint8_t)prio;
    if (t != inv->caller)       /* what another thread gives is also the most it may give */
        t->mcp = (uint8_t)prio;
    if (queued)
        sched_make_runnable(t);
    return PITH_OK;
}

/* Any online CPU; a vCPU thread any on which VMX/SVM is on (every one, normally).  A
 * vCPU's hardware state follows it to the new CPU at its next entry (vcpu_arch_*). */
static int thread_set_affinity(struct invocation *inv, struct thread *t)
{
    uint64_t cpu = inv_arg(inv, 0);
    if (cpu >= cpus_online)
        return PITH_E_RANGE;
    if (t->vcpu && !vcpu_may_run_on((unsigned)cpu))
        return PITH_E_INVALID_ARG;
    /* point of no return */
    sched_migrate(t, (unsigned)cpu);
    return PITH_OK;
}

static int thread_read_registers(struct invocation *inv, struct thread *t)
{
    uint64_t count = inv_arg(inv, 0);
    if (count == 0 || count > PITH_REG_COUNT)
        return PITH_E_RANGE;
    if (count > PITH_MSG_REGS_IN_CPU && !inv->caller->ipc_buffer)
        return PITH_E_TRUNCATED;
    uint64_t values[PITH_REG_COUNT];
    for (unsigned i = 0; i < count; i++)
        values[i] = *arch_thread_register(t, i);
    for (unsigned i = 0; i < count; i++)
        thread_set_mr(inv->caller, i, values[i]);
    inv_reply(inv, (unsigned)count);
    return PITH_OK;
}

static int thread_write_registers(struct invocation *inv, struct thread *t)
{
    uint64_t count = inv->length;
    if (count == 0 || count > PITH_REG_COUNT)
        return PITH_E_RANGE;
    if (t == inv->caller)
        return PITH_E_INVALID_ARG;
    uint64_t v[PITH_REG_COUNT];
    for (unsigned i = 0; i < count; i++)
        v[i] = inv_arg(inv, i);
    if (v[PITH_REG_RIP] >= PITH_USER_TOP)
        return PITH_E_BAD_ADDRESS;
    if (count > PITH_REG_FS_BASE && (!is_canonical(v[PITH_REG_FS_BASE]) || v[PITH_REG_FS_BASE] >= PITH_USER_TOP))
        return PITH_E_BAD_ADDRESS;
    if (count > PITH_REG_GS_BASE && (!is_canonical(v[PITH_REG_GS_BASE]) || v[PITH_REG_GS_BASE] >= PITH_USER_TOP))
        return PITH_E_BAD_ADDRESS;
    /* point of no return.  A rip or base that is not a user address would make SYSRET,
     * IRETQ or WRMSR fault in ring 0; rsp is the thread's own business (only the CPU
     * in user mode uses it). */
    if (count > PITH_REG_RFLAGS)
        v[PITH_REG_RFLAGS] = arch_user_rflags(v[PITH_REG_RFLAGS]);
    /* A thread another CPU runs would save its registers over these at its next entry
     * there; a vCPU thread's entries and exits never touch them. */
    if (!t->vcpu)
        sched_recall(t);
    for (unsigned i = 0; i < count; i++)
        *arch_thread_register(t, i) = v[i];
    arch_registers_written(t);
    if (count > PITH_REG_FS_BASE)
        arch_bases_written(t);
    return PITH_OK;
}

static int thread_resume(struct thread *t)
{
    bool runs_guest = t->vcpu && t->slots[TSLOT_VSPACE].type == PITH_OBJ_GUEST_SPACE;
    bool runs_user = t->slots[TSLOT_CSPACE].type == PITH_OBJ_CNODE &&
                     t->slots[TSLOT_VSPACE].type == PITH_OBJ_ADDRESS_SPACE;
    if (!runs_guest && !runs_user)
        return PITH_E_INVALID_ARG;
    if (t->state == THREAD_INACTIVE)
        sched_make_runnable(t);
    return PITH_OK;
}

static int thread_bind(struct invocation *inv, struct thread *t)
{
    int err;
    struct cap *nc = inv_cap_arg(inv, 0, PITH_OBJ_NOTIFICATION, PITH_RIGHT_READ, &err);
    if (!nc)
        return err;
    struct notification *n = (struct notification *)nc->object;
    if (n->bound || t->bound)
        return PITH_E_BUSY;
    n->bound = t;
    t->bound = n;
    return PITH_OK;
}

int thread_invoke(struct invocation *inv)
{
    struct thread *t = (struct thread *)inv->cap->object;
    if (!(inv->cap->rights & PITH_RIGHT_WRITE))
        return PITH_E_RIGHTS;
    switch (inv->label) {
    case PITH_THREAD_CONFIGURE:
        return thread_configure(inv, t);
    case PITH_THREAD_SET_PRIORITY:
        return thread_set_priority(inv, t);
    case PITH_THREAD_READ_REGISTERS:
        return thread_read_registers(inv, t);
    case PITH_THREAD_WRITE_REGISTERS:
        return thread_write_registers(inv, t);
    case PITH_THREAD_RESUME:
        return thread_resume(t);
    case PITH_THREAD_SUSPEND:
        thread_suspend(t);
        return PITH_OK;
    case PITH_THREAD_BIND_NOTIFICATION:
        return thread_bind(inv, t);
    case PITH_THREAD_UNBIND_NOTIFICATION:
        if (!t->bound)
            return PITH_E_INVALID_ARG;
        notification_unbind(t->bound);
        return PITH_OK;
    case PITH_THREAD_SET_AFFINITY:
        return thread_set_affinity(inv, t);
    default:
        return PITH_E_ILLEGAL_OP;
    }
}
