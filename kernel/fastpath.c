/*
 * The IPC fast path: Call and ReplyRecv with a short message (registers only, no
 * capability), and ReplyRecv answering a VM exit, between an idle endpoint's waiting
 * partner and the caller, switching
 * threads directly without touching the ready queues.  Any other case returns false
 * and takes the slow path, which gives the same result; a taken fast path does not
 * return.
 */
#include "kernel.h"
#include <arch.h>

static bool short_message(uint64_t info)
{
    return pith_msginfo_length(info) <= PITH_MSG_REGS_IN_CPU && pith_msginfo_caps(info) == 0;
}

static void copy_registers(struct thread *from, struct thread *to, uint64_t badge)
{
    arch_set_result(to, PITH_OK);
    arch_set_badge(to, badge);
    arch_set_msg_info(to, pith_msginfo(pith_msginfo_label(arch_msg_info(from)),
                                       pith_msginfo_length(arch_msg_info(from)), 0));
    arch_copy_mr_regs(from, to);
}

/* The endpoint the system call names, if the capability is an endpoint with these
 * rights. */
static struct endpoint *endpoint_named(struct thread *t, unsigned rights, uint64_t *badge)
{
    const struct cap *cs = &t->slots[TSLOT_CSPACE];
    uint64_t cptr = arch_cap_arg(t);
    if (cptr == 0 || cptr >= BIT(cap_size_bits(cs)))
        return NULL;
    const struct cap *c = (const struct cap *)cs->object + cptr;
    if (c->type != PITH_OBJ_ENDPOINT || (c->rights & rights) != rights)
        return NULL;
    *badge = c->data;
    return (struct endpoint *)c->object;
}

/* The partner may run at once only here (its affinity is this CPU) and only if
 * nothing runnable outranks it. */
static bool may_switch_to(struct thread *partner)
{
    struct cpu *c = this_cpu();
    if (partner->cpu != c->id)
        return false;
    struct thread *best = schedq_highest(&c->ready);
    return !best || best->priority <= partner->priority;
}

bool fastpath_call(struct thread *t)
{
    uint64_t badge;
    struct endpoint *ep;
    if (!short_message(arch_msg_info(t)) || !(ep = endpoint_named(t, PITH_RIGHT_WRITE, &badge)))
        return false;
    struct thread *receiver = ep->head;
    if (ep->state != EP_RECEIVING || receiver->caller || !may_switch_to(receiver))
        return false;

    /* point of no return */
    ep->head = receiver->qnext;
    if (ep->head)
        ep->head->qprev = NULL;
    else {
        ep->tail = NULL;
        ep->state = EP_IDLE;
    }
    receiver->qnext = NULL;
    receiver->blocked_on = NULL;
    copy_registers(t, receiver, badge);
    receiver->caller = t;
    t->replier = receiver;
    t->state = THREAD_BLOCKED_REPLY;
    receiver->state = THREAD_RUNNABLE;
    sched_switch_to(receiver);
}

/* The caller can take this reply here: a short message, or any answer to a VM exit
 * (the vCPU takes its state from the reply's registers and buffer). */
static bool reply_fits(const struct thread *t, const struct thread *caller)
{
    if (caller->fault_label)
        return caller->vcpu != NULL;
    return short_message(arch_msg_info(t));
}

bool fastpath_reply_recv(struct thread *t)
{
    struct thread *caller = t->caller;
    if (!caller || !reply_fits(t, caller))
        return false;
    if (t->bound && t->bound->word)
        return false;
    uint64_t badge;
    struct endpoint *ep = endpoint_named(t, PITH_RIGHT_READ, &badge);
    if (!ep || ep->state == EP_SENDING || !may_switch_to(caller))
        return false;

    /* point of no return */
    if (caller->fault_label) {
        caller->fault_label = 0;
        vcpu_take_reply(caller->vcpu, t);
    } else {
        copy_registers(t, caller, 0);
    }
    t->caller = NULL;
    caller->replier = NULL;
    caller->state = THREAD_RUNNABLE;
    t->qnext = NULL;
    t->qprev = ep->tail;
    if (ep->tail)
        ep->tail->qnext = t;
    else
        ep->head = t;
    ep->tail = t;
    ep->state = EP_RECEIVING;
    t->blocked_on = ep;
    t->state = THREAD_BLOCKED_RECV;
    sched_switch_to(caller);
}
