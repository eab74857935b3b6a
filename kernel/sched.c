/*
 * The scheduler: fixed priorities 0..255, round robin within a priority, a timeslice
 * of TIMESLICE_TICKS ticks.  The running thread is not in a ready queue.  Every
 * kernel entry ends in sched_return_to_user(), which picks the thread to run; with
 * nothing runnable the CPU idles in the kernel until an interrupt makes a thread
 * runnable.
 */
#include "kernel.h"
#include "../arch/x86_64/arch.h"
#include "../arch/x86_64/x86.h"

void sched_make_runnable(struct thread *t)
{
    struct cpu *c = this_cpu();
    t->state = THREAD_RUNNABLE;
    if (t == c->current || t->in_ready_queue)
        return;
    schedq_push_back(&c->ready, t);     /* choose() preempts current if t outranks it */
}

/* Take a thread out of the running set: it is blocked or suspended. */
void sched_block(struct thread *t, enum thread_state state)
{
    t->state = (uint8_t)state;
    schedq_remove(&this_cpu()->ready, t);
}

void sched_remove(struct thread *t)
{
    struct cpu *c = this_cpu();
    schedq_remove(&c->ready, t);
    if (c->current == t)
        c->current = NULL;
}

void sched_yield(void)
{
    struct cpu *c = this_cpu();
    struct thread *t = c->current;
    if (!t)
        return;
    t->ticks_left = TIMESLICE_TICKS;
    schedq_push_back(&c->ready, t);
    c->current = NULL;
}

/* Timer tick: account the timeslice; deadlines are checked by the caller. */
void sched_tick(void)
{
    struct cpu *c = this_cpu();
    struct thread *t = c->current;
    if (t && t->state == THREAD_RUNNABLE && t->ticks_left && --t->ticks_left == 0) {
        t->ticks_left = TIMESLICE_TICKS;
        c->current = NULL;
        schedq_push_back(&c->ready, t);
    }
}

/* A preemption point of a long operation (revoke, zombie reaping, retype's zeroing):
 * let pending interrupts in, and stop if they made another thread more deserving than
 * the caller — its timeslice ended, or a higher priority woke.  The operation then
 * returns KERNEL_RESTART and its system call starts again when the caller next runs. */
bool preemption_point(void)
{
    struct cpu *c = this_cpu();
    arch_take_interrupts();
    struct thread *t = c->current;
    if (!t || t->state != THREAD_RUNNABLE)
        return true;
    struct thread *best = schedq_highest(&c->ready);
    return best && best->priority > t->priority;
}

static struct thread *choose(struct cpu *c)
{
    struct thread *cur = c->current;
    if (cur && cur->state != THREAD_RUNNABLE)
        cur = NULL;
    struct thread *best = schedq_highest(&c->ready);
    if (cur && (!best || best->priority <= cur->priority))
        return cur;
    if (cur)    /* preempted by a higher priority: keep its place at the front */
        schedq_push_front(&c->ready, cur);
    if (best) {
        schedq_remove(&c->ready, best);
        if (!best->ticks_left)
            best->ticks_left = TIMESLICE_TICKS;
    }
    return best;
}

/* SYSRET and IRETQ to a non-canonical rip fault in ring 0 (on Intel SYSRET with the
 * user's stack already loaded), so a thread never leaves for an address outside user
 * space: a SYSCALL in the last bytes below PITH_USER_TOP, a fault reply or a register
 * write could put it there.  It takes a #GP at that rip instead, as if the CPU had
 * raised it in user mode: its fault handler may reply with a new rip.  False when t
 * faulted (it blocked on its handler or was suspended) and something else must run. */
static bool may_leave_to(struct thread *t)
{
    if (t->vcpu || t->regs.rip < PITH_USER_TOP)
        return true;
    this_cpu()->current = t;
    thread_user_fault(t, 13, 0, 0);
    return false;
}

static NORETURN void leave_to(struct thread *t)
{
    if (t->vcpu)
        vcpu_enter(t->vcpu);
    this_cpu()->current = t;
    arch_load_thread(t);
    restore_user(&t->regs);
}

/* A loop, not recursion, over threads that cannot leave: any number of them may be
 * ready at once. */
void sched_return_to_user(void)
{
    struct cpu *c = this_cpu();
    for (;;) {
        struct thread *t = choose(c);
        while (!t) {
            c->current = NULL;
            sti_hlt();
            t = choose(c);
        }
        if (may_leave_to(t))
            leave_to(t);
    }
}

/* Run t now: the caller has decided (the IPC fast path does, without the queues). */
void sched_switch_to(struct thread *t)
{
    if (!may_leave_to(t))
        sched_return_to_user();
    leave_to(t);
}
