/* What the pure kernel files call in the rest of the kernel, recorded for the tests. */
#include "unit.h"

unsigned destroyed_count;
struct cap destroyed_last;
unsigned slot_cleared_count;

void object_destroy(const struct cap *last)
{
    destroyed_count++;
    destroyed_last = *last;
}

void object_slot_cleared(struct cap *slot)
{
    (void)slot;
    slot_cleared_count++;
}

void vspace_unmap_cap(struct cap *c)
{
    (void)c;
}

/* sched.c: a preemption point that says "stop" on its n-th visit (0: never). */
unsigned preempt_after, preempt_visits;

bool preemption_point(void)
{
    preempt_visits++;
    return preempt_after && preempt_visits % preempt_after == 0;
}

/* thread.c: a waiter of a destroyed queue woken, recorded; off the test's queue
 * (threads linked by qnext from the head the zombie names). */
unsigned waiters_woken;
struct thread **waiter_queue;

void thread_wait_deleted(struct thread *t)
{
    waiters_woken++;
    if (waiter_queue && *waiter_queue == t)
        *waiter_queue = t->qnext;
}
