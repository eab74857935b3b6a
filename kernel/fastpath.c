/*
 * The IPC fast path: Call and ReplyRecv with a short message (registers only, no
 * capability), and ReplyRecv answering a VM exit, between an idle endpoint's waiting
 * partner and the caller, switching threads directly without touching the ready
 * queues.  syscall_entry (entry.S) hands every Call and ReplyRecv here.  Each is in two
 * parts: a check that changes nothing and finds the endpoint, and after the "point of
 * no return" the transfer and the switch, which cannot fail.  What the check refuses
 * goes to syscall_slow, which gives the same result.  Neither way returns.
 *
 * Every way out to the slow path: a long message or one with a capability; a
 * capability that is not an endpoint with the right (write for Call, read for
 * ReplyRecv); for Call, no receiver waiting or one that owes a reply already; for
 * ReplyRecv, no caller, a fault reply to a thread that is not a vCPU, a pending
 * notification bound to the server, or senders queued on the endpoint; for both, a
 * partner whose affinity is another CPU or a runnable thread on this CPU that
 * outranks it.  Like the slow path, all of it runs under the big kernel lock
 * (entry.S took it), so no other CPU sees any of this half done.
 */
#include "kernel.h"
#include <arch.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* At most PITH_MSG_REGS_IN_CPU words and no capability: the length (bits 0..6) and
 * the capability count (bits 7..8) are tested in one comparison. */
#define MSGINFO_LENGTH_AND_CAPS pith_msginfo(0, 0x7f, 3)
_Static_assert(PITH_MSG_REGS_IN_CPU < 0x80, "the length field holds it");
static bool short_message(uint64_t info)
{
    return (info & MSGINFO_LENGTH_AND_CAPS) <= PITH_MSG_REGS_IN_CPU;
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
static ALWAYS_INLINE bool may_switch_to(const struct thread *partner)
{
    const struct cpu *c = this_cpu();
    if (partner->cpu != c->id)
        return false;
    return !c->ready.summary || schedq_highest_priority(&c->ready) <= partner->priority;
}

static void copy_registers(struct thread *from, struct thread *to, uint64_t badge)
{
    arch_set_result(to, PITH_OK);
    arch_set_badge(to, badge);
    arch_set_msg_info(to, pith_msginfo(pith_msginfo_label(arch_msg_info(from)),
                                       pith_msginfo_length(arch_msg_info(from)), 0));
    arch_copy_mr_regs(from, to);
}

/* ---- Call ------------------------------------------------------------------------ */

/* The receiver waiting on ep that a Call from this CPU can switch to at once, or NULL. */
static ALWAYS_INLINE struct thread *call_partner(const struct endpoint *ep)
{
    if (ep->state != EP_RECEIVING)
        return NULL;
    struct thread *receiver = ep->head;
    return !receiver->caller && may_switch_to(receiver) ? receiver : NULL;
}

/* The endpoint whose waiting receiver t's Call can go to at once, or NULL. */
static ALWAYS_INLINE struct endpoint *call_checked(struct thread *t, uint64_t *badge)
{
    if (!short_message(arch_msg_info(t)))
        return NULL;
    struct endpoint *ep = endpoint_named(t, PITH_RIGHT_WRITE, badge);
    return ep && call_partner(ep) ? ep : NULL;
}

/* t's Call has reached ep's first receiver (its message is in the receiver's
 * registers): the receiver leaves the queue and owes t a reply, and runs. */
static ALWAYS_INLINE NORETURN void call_switch(struct thread *t, struct endpoint *ep)
{
    struct thread *receiver = ep->head;
    ep->head = receiver->qnext;
    if (ep->head)
        ep->head->qprev = NULL;
    else {
        ep->tail = NULL;
        ep->state = EP_IDLE;
    }
    receiver->qnext = NULL;
    receiver->blocked_on = NULL;
    receiver->caller = t;
    t->replier = receiver;
    t->state = THREAD_BLOCKED_REPLY;
    receiver->state = THREAD_RUNNABLE;
    sched_switch_to(receiver);
}

void fastpath_call(struct thread *t)
{
    uint64_t badge;
    struct endpoint *ep = call_checked(t, &badge);
    if (!ep) {
        syscall_slow(t);
        return;
    }

    /* point of no return */
    copy_registers(t, ep->head, badge);
    call_switch(t, ep);
}

/* The same for a VM exit (vcpu.c): the VMM waiting on the exit endpoint, if the exit
 * can go to it at once; then the switch, once vcpu.c has written the exit into it. */
struct thread *fastpath_exit_partner(const struct endpoint *ep)
{
    return call_partner(ep);
}

NORETURN void fastpath_exit_switch(struct thread *t, struct endpoint *ep)
{
    call_switch(t, ep);
}

/* ---- ReplyRecv --------------------------------------------------------------------- */

/* The caller can take this reply here: a short message, or any answer to a VM exit
 * (the vCPU takes its state from the reply's registers and buffer). */
static bool reply_fits(const struct thread *t, const struct thread *caller)
{
    if (caller->fault_label)
        return caller->vcpu != NULL;
    return short_message(arch_msg_info(t));
}

/* The endpoint t waits on once its caller has the reply and runs at once, or NULL. */
static ALWAYS_INLINE struct endpoint *reply_recv_checked(struct thread *t)
{
    struct thread *caller = t->caller;
    if (!caller || !reply_fits(t, caller) || (t->bound && t->bound->word))
        return NULL;
    uint64_t badge;
    struct endpoint *ep = endpoint_named(t, PITH_RIGHT_READ, &badge);
    if (!ep || ep->state == EP_SENDING || !may_switch_to(caller))
        return NULL;
    return ep;
}

/* After the reply: the caller runs, t waits on the endpoint for the next message. */
static ALWAYS_INLINE NORETURN void reply_and_wait(struct thread *t, struct thread *caller,
                                                  struct endpoint *ep)
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

void fastpath_reply_recv(struct thread *t)
{
    struct endpoint *ep = reply_recv_checked(t);
    if (!ep) {
        syscall_slow(t);
        return;
    }

    /* point of no return */
    struct thread *caller = t->caller;
    if (caller->fault_label)
        reply_to_exit(t, caller, ep);
    copy_registers(t, caller, 0);
    reply_and_wait(t, caller, ep);
}
