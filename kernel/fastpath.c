/*
 * The IPC fast path: Call and ReplyRecv with a short message (registers only, no
 * capability), and ReplyRecv answering a VM exit, between an idle endpoint's waiting
 * partner and the caller, switching threads directly without touching the ready
 * queues.  Each function checks everything first and changes nothing until its
 * "point of no return"; it then runs the partner (sched_switch_to) and does not
 * return.  Any other case returns false and takes the slow path, which gives the same
 * result.
 *
 * Every way out to the slow path: a long message or one with a capability; a
 * capability that is not an endpoint with the right (write for Call, read for
 * ReplyRecv); for Call, no receiver waiting or one that owes a reply already; for
 * ReplyRecv, no caller, a fault reply from a thread that is not a vCPU, a pending
 * notification bound to the server, or senders queued on the endpoint; for both, a
 * partner whose affinity is another CPU or a runnable thread on this CPU that
 * outranks it.  Like the slow path, all of it runs under the big kernel lock
 * (syscall_from_user took it), so no other CPU sees any of this half done.
 */
#include "kernel.h"
#include <arch.h>

/* At most PITH_MSG_REGS_IN_CPU words and no capability: the length (bits 0..6) and
 * the capability count (bits 7..8) are tested in one comparison. */
#define MSGINFO_LENGTH_AND_CAPS pith_msginfo(0, 0x7f, 3)
_Static_assert(PITH_MSG_REGS_IN_CPU < 0x80, "the length field holds it");
static bool short_message(uint64_t info)
{
    return (info & MSGINFO_LENGTH_AND_CAPS) <= PITH_MSG_REGS_IN_CPU;
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
        return false;
    const struct cap *c = (const struct cap *)cs->object + cptr;
    if (c->type != PITH_OBJ_ENDPOINT || (c->rights & rights) != rights)
        return false;
    *badge = c->data;
    return (struct endpoint *)c->object;
}

/* The partner may run at once only here (its affinity is this CPU) and only if
 * nothing runnable outranks it. */
static inline __attribute__((always_inline)) bool may_switch_to(const struct thread *partner)
{
    const struct cpu *c = this_cpu();
    if (partner->cpu != c->id)
        return false;
    return !c->ready.summary || schedq_highest_priority(&c->ready) <= partner->priority;
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

/* After the reply: the caller runs, t waits on the endpoint for the next message. */
static inline __attribute__((always_inline)) NORETURN void
reply_and_wait(struct thread *t, struct thread *caller, struct endpoint *ep)
{
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

/* The answer to a VM exit: apart, so that the common case calls nothing before the
 * switch and saves no registers. */
static __attribute__((noinline)) NORETURN void
reply_to_exit(struct thread *t, struct thread *caller, struct endpoint *ep)
{
    caller->fault_label = 0;
    vcpu_take_reply(caller->vcpu, t);
    reply_and_wait(t, caller, ep);
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
    if (caller->fault_label)
        reply_to_exit(t, caller, ep);
    copy_registers(t, caller, 0);
    reply_and_wait(t, caller, ep);
}
