/*
 * The scheduler: fixed priorities 0..255, round robin within a priority, a timeslice
 * of TIMESLICE_TICKS ticks of time actually run.  Each CPU charges the time between
 * two departures to user mode to the thread that left the first time (cpu.charged),
 * whatever took the CPU in between, so a thread preempted again and again before any
 * tick still uses up its slice and goes behind its peers.  Each CPU has its own ready queues and runs the threads
 * whose affinity (t->cpu) it is; the running thread is not in a ready queue.  Every
 * kernel entry ends in sched_return_to_user(), which picks the thread to run; with
 * nothing runnable the CPU idles without the big lock until an interrupt comes.
 *
 * All of it runs under the big kernel lock, so one CPU may look at and change
 * another's queues; only a thread another CPU is running needs that CPU's help
 * (sched_recall).
 */
#include "kernel.h"
#include "../arch/x86_64/arch.h"
#include "../arch/x86_64/x86.h"

#define SYSCALL_INSN_LENGTH 2   /* 0f 05 */

static struct cpu *cpu_of(const struct thread *t) { return &cpus[t->cpu]; }

static uint64_t slice_tsc(void) { return timer_tsc_hz() / (1000000000ull / TICK_NS) * TIMESLICE_TICKS; }

/* The time since the last charge goes to c->charged; from now on `next` pays (NULL:
 * nobody, the CPU idles). */
static void charge(struct cpu *c, struct thread *next)
{
    uint64_t now = rdtsc();
    if (c->charged)
        c->charged->slice_used += now - c->charged_since;
    c->charged = next;
    c->charged_since = now;
}

/* A thread whose slice is used up starts a new one behind its peers; true if it did. */
static bool slice_over(struct cpu *c, struct thread *t)
{
    if (t->slice_used < slice_tsc())
        return false;
    t->slice_used = 0;
    schedq_remove(&c->ready, t);
    schedq_push_back(&c->ready, t);
    return true;
}

/* On its own CPU's queue; that CPU, if another, hears of it when t outranks what it
 * runs (choose() there preempts its current thread). */
void sched_make_runnable(struct thread *t)
{
    struct cpu *c = cpu_of(t);
    t->state = THREAD_RUNNABLE;
    if (t == c->current || t->in_ready_queue)
        return;
    schedq_push_back(&c->ready, t);
    if (c != this_cpu() && (!c->current || t->priority > c->current->priority))
        smp_reschedule(c);
}

/* Take a thread out of the running set: it is blocked or suspended. */
void sched_block(struct thread *t, enum thread_state state)
{
    t->state = (uint8_t)state;
    schedq_remove(&cpu_of(t)->ready, t);
}

void sched_remove(struct thread *t)
{
    struct cpu *c = cpu_of(t);
    schedq_remove(&c->ready, t);
    if (c->current == t)
        c->current = NULL;
    for (unsigned i = 0; i < MAX_CPUS; i++)     /* no CPU charges a TCB that is gone */
        if (cpus[i].charged == t)
            cpus[i].charged = NULL;
}

/* t may be running on another CPU: in user mode, in a guest, or entering the kernel
 * and waiting for the lock.  Make that CPU let go of it and wait until it has: then
 * t's registers and FPU state are all in the TCB, and the CPU, once it has the lock,
 * finds no current thread and chooses again.  A system call t was entering is
 * started again when t next runs (its rip goes back over the SYSCALL). */
void sched_recall(struct thread *t)
{
    struct cpu *c = cpu_of(t);
    if (c == this_cpu() || c->current != t)
        return;
    smp_request(c, CPU_REQUEST_SAVE_FPU);
    c->current = NULL;
    if (!t->vcpu && t->regs.vector == VECTOR_SYSCALL)
        t->regs.rip -= SYSCALL_INSN_LENGTH;
    if (t->state == THREAD_RUNNABLE)
        schedq_push_front(&c->ready, t);
}

/* Thread.set_affinity: t runs on `cpu` from now on.  A blocked thread simply wakes
 * there; a runnable one moves to that CPU's queue, after its old CPU let go of it. */
void sched_migrate(struct thread *t, unsigned cpu)
{
    struct cpu *from = cpu_of(t), *to = &cpus[cpu];
    if (from == to)
        return;
    sched_recall(t);
    if (from->current == t)         /* the caller moves itself */
        from->current = NULL;
    schedq_remove(&from->ready, t);
    arch_release_fpu(t);
    t->cpu = (uint8_t)cpu;
    if (t->state == THREAD_RUNNABLE)
        sched_make_runnable(t);
}

void sched_yield(void)
{
    struct cpu *c = this_cpu();
    struct thread *t = c->current;
    if (!t)
        return;
    t->slice_used = 0;
    schedq_push_back(&c->ready, t);
    c->current = NULL;
}

/* Timer tick: the running thread goes behind its peers once it has run its slice;
 * deadlines are checked by the caller. */
void sched_tick(void)
{
    struct cpu *c = this_cpu();
    struct thread *t = c->current;
    if (!t || t->state != THREAD_RUNNABLE)
        return;
    charge(c, t);
    if (t->slice_used >= slice_tsc()) {
        t->slice_used = 0;
        c->current = NULL;
        schedq_push_back(&c->ready, t);
    }
}

/* A preemption point of a long operation (revoke, zombie reaping, retype's zeroing):
 * let pending interrupts in, and stop if they made another thread more deserving than
 * the caller — its timeslice ended, or a higher priority woke — or if another CPU has
 * waited CONTENDED_MOST_US for the kernel lock, which this CPU holds all along: a task
 * must not make every CPU wait for as long as its own operation lasts.  The operation
 * then returns KERNEL_RESTART and its system call starts again when the caller next
 * runs (after the waiting CPU, whose ticket comes first).  Every operation does at
 * least a step between points, so CPUs that take turns still get on. */
#define CONTENDED_MOST_US 50

static bool lock_waited_for(struct cpu *c)
{
    if (__atomic_load_n(&big_lock.next_ticket, __ATOMIC_RELAXED) == big_lock.serving + 1) {
        if (c->contended_since)
            c->contended_since = 0;
        return false;
    }
    uint64_t now = arch_timestamp();
    if (!c->contended_since || c->contended_serving != big_lock.serving) {   /* (seen in an earlier hold) */
        c->contended_since = now;
        c->contended_serving = big_lock.serving;
        return false;
    }
    if (now - c->contended_since < timer_tsc_hz() / 1000000 * CONTENDED_MOST_US)
        return false;
    c->contended_since = 0;
    return true;
}

bool preemption_point(void)
{
    struct cpu *c = this_cpu();
    arch_take_interrupts();
    if (lock_waited_for(c))
        return true;
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
    if (cur) {  /* it competes from the front of its queue, keeping its place */
        c->current = NULL;
        if (!best || best->priority <= cur->priority) {
            /* the common case, as after a direct switch: it wins at once, unless
             * its slice is over (then slice_over below sends it behind its peers) */
            if (cur->slice_used < slice_tsc())
                return cur;
            best = cur;
        }
        schedq_push_front(&c->ready, cur);
    }
    while (best && slice_over(c, best))     /* ends: a new slice is never over */
        best = schedq_highest(&c->ready);
    if (best)
        schedq_remove(&c->ready, best);
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

/* The lock is released last: from then on another CPU that wants t back (to suspend
 * or move it) waits until t has entered the kernel again (sched_recall), so t's
 * registers are never read here and changed there at once.  A vCPU thread releases
 * it in the entry stub, right before VMRUN or VMLAUNCH. */
static NORETURN void leave_to(struct thread *t)
{
    charge(this_cpu(), t);
    if (t->vcpu)
        vcpu_enter(t->vcpu);
    this_cpu()->current = t;
    arch_load_thread(t);
    kernel_unlock();
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
            charge(c, NULL);
            cpu_idle(c);
            t = choose(c);
        }
        if (may_leave_to(t))
            leave_to(t);
    }
}

/* Run t now: the caller has decided (the IPC fast path does, without the queues).
 * The common case, a user thread going back to a user rip, is leave_to() written out,
 * leaving through restore_current_user: the fast path saves no registers for it. */
void sched_switch_to(struct thread *t)
{
    if (__builtin_expect(t->vcpu != NULL || t->regs.rip >= PITH_USER_TOP, 0)) {
        if (!may_leave_to(t))
            sched_return_to_user();
        leave_to(t);
    }
    struct cpu *c = this_cpu();
    charge(c, t);
    c->current = t;
    arch_load_thread(t);
    kernel_unlock();
    restore_current_user();
}
