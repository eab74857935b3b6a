/*
 * Endpoints: synchronous rendezvous.  An endpoint is idle, or holds a queue of
 * senders, or a queue of receivers; send and receive are a switch on that state.
 * A Call leaves the caller blocked on the receiver's reply (the receiver's `caller`),
 * the way seL4 keeps a reply capability in the TCB.
 */
#include "kernel.h"
#include <arch.h>

static void queue_append(struct thread **head, struct thread **tail, struct thread *t)
{
    t->qnext = NULL;
    t->qprev = *tail;
    if (*tail)
        (*tail)->qnext = t;
    else
        *head = t;
    *tail = t;
}

static void queue_remove(struct thread **head, struct thread **tail, struct thread *t)
{
    if (t->qprev)
        t->qprev->qnext = t->qnext;
    else
        *head = t->qnext;
    if (t->qnext)
        t->qnext->qprev = t->qprev;
    else
        *tail = t->qprev;
    t->qnext = t->qprev = NULL;
}

static struct thread *ep_dequeue(struct endpoint *ep)
{
    struct thread *t = ep->head;
    queue_remove(&ep->head, &ep->tail, t);
    if (!ep->head)
        ep->state = EP_IDLE;
    t->blocked_on = NULL;
    return t;
}

/* Out of the ready queue first: its links are the ones the endpoint's queue uses, and a
 * thread may still be in it here (a vCPU thread the tick preempted at an exit that
 * then hands over its kept port writes: vcpu.c, vcpu_exited). */
static void ep_enqueue(struct endpoint *ep, struct thread *t, enum endpoint_state state,
                       enum thread_state tstate)
{
    sched_block(t, tstate);
    queue_append(&ep->head, &ep->tail, t);
    ep->state = state;
    t->blocked_on = ep;
}

/* The receiver now owes `sender` a reply. */
static void await_reply(struct thread *sender, struct thread *receiver)
{
    if (receiver->caller)       /* an unanswered earlier caller can never be answered now */
        thread_wake_with_error(receiver->caller, PITH_E_NO_REPLY);
    receiver->caller = sender;
    sender->replier = receiver;
    sched_block(sender, THREAD_BLOCKED_REPLY);
}

/* After a rendezvous: run the receiver at once if the sender stops (direct switch)
 * and the receiver runs on this CPU; else it wakes on its own. */
static void wake_partner(struct thread *self, struct thread *partner)
{
    struct cpu *c = this_cpu();
    if (self->state != THREAD_RUNNABLE && c->current == self && partner->cpu == c->id) {
        struct thread *best = schedq_highest(&c->ready);
        if (!best || best->priority <= partner->priority) {
            partner->state = THREAD_RUNNABLE;
            c->current = partner;
            return;
        }
    }
    sched_make_runnable(partner);
}

void endpoint_send(struct endpoint *ep, struct thread *sender, uint64_t badge, bool grant,
                   bool call, bool block)
{
    if (ep->state == EP_RECEIVING) {
        struct thread *receiver = ep_dequeue(ep);
        ipc_transfer(sender, receiver, badge, grant);
        if (call)
            await_reply(sender, receiver);
        else
            thread_set_result(sender, PITH_OK);
        wake_partner(sender, receiver);
        return;
    }
    if (!block) {
        thread_set_result(sender, PITH_E_WOULD_BLOCK);
        return;
    }
    sender->blocked_badge = badge;
    sender->blocked_grant = grant;
    sender->blocked_call = call;
    ep_enqueue(ep, sender, EP_SENDING, THREAD_BLOCKED_SEND);
}

void endpoint_receive(struct endpoint *ep, struct thread *receiver, bool block)
{
    struct notification *bound = receiver->bound;
    if (bound && bound->word) {
        arch_set_result(receiver, PITH_OK);
        arch_set_badge(receiver, bound->word);
        arch_set_msg_info(receiver, PITH_MSG_FROM_NOTIFICATION);
        bound->word = 0;
        return;
    }
    if (ep->state == EP_SENDING) {
        struct thread *sender = ep_dequeue(ep);
        ipc_transfer(sender, receiver, sender->blocked_badge, sender->blocked_grant);
        if (sender->blocked_call) {
            await_reply(sender, receiver);
        } else {
            thread_set_result(sender, PITH_OK);
            sched_make_runnable(sender);
        }
        return;
    }
    if (!block) {
        thread_set_result(receiver, PITH_E_WOULD_BLOCK);
        arch_set_msg_info(receiver, 0);
        return;
    }
    ep_enqueue(ep, receiver, EP_RECEIVING, THREAD_BLOCKED_RECV);
}

/* Reply to the thread that called us.  A faulting thread resumes: at the same rip
 * after a reply of length 0, at MR0 otherwise; a MR0 outside user space stops it. */
int ipc_reply_to_caller(struct thread *replier)
{
    struct thread *caller = replier->caller;
    if (!caller)
        return PITH_E_NO_REPLY;
    replier->caller = NULL;
    caller->replier = NULL;
    if (caller->fault_label && caller->vcpu) {
        caller->fault_label = 0;
        vcpu_take_reply(caller->vcpu, replier);
    } else if (caller->fault_label) {
        if (pith_msginfo_length(arch_msg_info(replier)) >= 1) {
            if (arch_mr_reg(replier, 0) >= PITH_USER_TOP) {
                thread_suspend(caller);     /* fault_label still set: registers kept */
                return PITH_OK;
            }
            arch_set_user_ip(caller, arch_mr_reg(replier, 0));
        }
        caller->fault_label = 0;
    } else {
        ipc_transfer(replier, caller, 0, false);
    }
    wake_partner(replier, caller);
    return PITH_OK;
}

/* Take a blocked thread off whatever endpoint queue or reply it waits on. */
void endpoint_cancel(struct thread *t)
{
    if (t->state == THREAD_BLOCKED_SEND || t->state == THREAD_BLOCKED_RECV) {
        struct endpoint *ep = t->blocked_on;
        queue_remove(&ep->head, &ep->tail, t);
        if (!ep->head)
            ep->state = EP_IDLE;
        t->blocked_on = NULL;
    } else if (t->state == THREAD_BLOCKED_REPLY && t->replier) {
        t->replier->caller = NULL;
        t->replier = NULL;
    }
}

/* Its waiters wake with PITH_E_DELETED as a zombie's, one at a time with preemption
 * points (cap.c): as many as a task made wait.  Until the last has woken, the queue
 * stays in the object's memory, which no retype hands out meanwhile. */
void endpoint_destroy(struct endpoint *ep)
{
    if (ep->head)
        zombie_add_waiters(&ep->zombie, &ep->head);
}
