/*
 * Notifications: a word of signal bits.  Signal ORs bits in and wakes one waiter
 * (who takes the whole word); a thread bound to the notification also receives it
 * while it waits on an endpoint.  A deadline armed on a notification signals
 * PITH_DEADLINE_BIT once the TSC passes it: the kernel's only timer service.
 */
#include "kernel.h"
#include <arch.h>

static void deliver(struct thread *t, uint64_t word, uint64_t info)
{
    arch_set_result(t, PITH_OK);
    arch_set_badge(t, word);
    arch_set_msg_info(t, info);
    t->blocked_on = NULL;
    sched_make_runnable(t);
}

void notification_signal(struct notification *n, uint64_t bits)
{
    if (n->head) {
        struct thread *t = n->head;
        n->head = t->qnext;
        if (n->head)
            n->head->qprev = NULL;
        else
            n->tail = NULL;
        t->qnext = t->qprev = NULL;
        uint64_t word = n->word | bits;
        n->word = 0;
        deliver(t, word, 0);
        return;
    }
    struct thread *b = n->bound;
    if (b && b->state == THREAD_BLOCKED_RECV) {
        endpoint_cancel(b);
        uint64_t word = n->word | bits;
        n->word = 0;
        deliver(b, word, PITH_MSG_FROM_NOTIFICATION);
        return;
    }
    n->word |= bits;
}

void notification_wait(struct notification *n, struct thread *t, bool block)
{
    if (!n->word && !block) {
        thread_set_result(t, PITH_E_WOULD_BLOCK);
        arch_set_badge(t, 0);
        return;
    }
    if (n->word) {
        arch_set_result(t, PITH_OK);
        arch_set_badge(t, n->word);
        arch_set_msg_info(t, 0);
        n->word = 0;
        return;
    }
    sched_block(t, THREAD_BLOCKED_NOTIFICATION);   /* first: the queues share t's links */
    t->qnext = NULL;
    t->qprev = n->tail;
    if (n->tail)
        n->tail->qnext = t;
    else
        n->head = t;
    n->tail = t;
    t->blocked_on = n;
}

void notification_cancel(struct thread *t)
{
    struct notification *n = t->blocked_on;
    if (t->qprev)
        t->qprev->qnext = t->qnext;
    else
        n->head = t->qnext;
    if (t->qnext)
        t->qnext->qprev = t->qprev;
    else
        n->tail = t->qprev;
    t->qnext = t->qprev = NULL;
    t->blocked_on = NULL;
}

/* ---- Deadlines: a tree ordered by TSC value (deadline.c); CPU 0 keeps it and arms
 * its timer for the earliest (the woken thread runs on its own CPU). ----------------- */

static struct cpu *deadline_cpu(void) { return &cpus[0]; }

uint64_t notification_earliest_deadline(void)
{
    struct notification *n = deadline_cpu()->deadlines.first;
    return n ? n->deadline : 0;
}

/* At most this many fire per timer interrupt: deadlines a task armed for one instant
 * by the thousand fire in batches, the lock let go between them (the timer is armed
 * again for the rest at once, timer_reprogram). */
#define DEADLINES_PER_INTERRUPT 32

void notification_check_deadlines(uint64_t now)
{
    struct deadline_tree *t = &deadline_cpu()->deadlines;
    for (unsigned fired = 0; fired < DEADLINES_PER_INTERRUPT && t->first && t->first->deadline <= now; fired++) {
        struct notification *n = t->first;
        deadline_tree_set(t, n, 0);
        notification_signal(n, PITH_DEADLINE_BIT);
    }
}

int notification_set_deadline(struct notification *n, uint64_t tsc)
{
    deadline_tree_set(&deadline_cpu()->deadlines, n, tsc);
    if (this_cpu() == deadline_cpu())
        timer_reprogram();
    else
        smp_reschedule(deadline_cpu());     /* its IPI handler arms the timer again */
    return PITH_OK;
}

void notification_unbind(struct notification *n)
{
    if (n->bound) {
        n->bound->bound = NULL;
        n->bound = NULL;
    }
}

/* Unbound, out of the deadline tree and away from its IRQs at once; its waiters wake
 * as an endpoint's do (endpoint_destroy), in the memory the tree links leave free. */
void notification_destroy(struct notification *n)
{
    notification_unbind(n);
    deadline_tree_set(&deadline_cpu()->deadlines, n, 0);
    irq_notification_destroyed(n);
    if (n->head)
        zombie_add_waiters(&n->zombie, &n->head);
}

int notification_invoke(struct invocation *inv)
{
    struct notification *n = (struct notification *)inv->cap->object;
    switch (inv->label) {
    case PITH_NOTIFICATION_SET_DEADLINE:
        if (!(inv->cap->rights & PITH_RIGHT_WRITE))
            return PITH_E_RIGHTS;
        return notification_set_deadline(n, inv_arg(inv, 0));
    default:
        return PITH_E_ILLEGAL_OP;
    }
}
