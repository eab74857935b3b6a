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

/* message.c: capability lookups in a thread's space, here a flat array per thread. */
struct cap *thread_cspace_slot(struct thread *t, uint64_t cptr)
{
    const struct cap *cs = &t->slots[TSLOT_CSPACE];
    if (cptr == 0 || cptr >= BIT(cap_size_bits(cs)))
        return NULL;
    return (struct cap *)cs->object + cptr;
}

struct cap *thread_cspace_lookup(struct thread *t, uint64_t cptr, int *err)
{
    struct cap *c = thread_cspace_slot(t, cptr);
    if (!c) {
        *err = cptr == 0 ? PITH_E_INVALID_CAP : PITH_E_RANGE;
        return NULL;
    }
    *err = cap_is_empty(c) ? PITH_E_INVALID_CAP : PITH_OK;
    return cap_is_empty(c) ? NULL : c;
}

/* sched.c: a preemption point that says "stop" on its n-th visit (0: never). */
unsigned preempt_after, preempt_visits;

bool preemption_point(void)
{
    preempt_visits++;
    return preempt_after && preempt_visits % preempt_after == 0;
}
