/*
 * Interrupts and exceptions.  From user mode: an exception becomes a fault message,
 * an IRQ signals its notification, the timer ticks the scheduler and fires
 * deadlines; then the scheduler picks what runs.  In the kernel only interrupts can
 * arrive (an exception there is a kernel bug): while the CPU idles, without the big
 * lock, or at a preemption point or after a VM exit, with the lock already held.
 *
 * Each CPU ticks its own round robin with its own LAPIC timer; notification
 * deadlines live on CPU 0's list, CPU 0 arms its timer for the earliest even while it
 * idles, and any CPU's timer interrupt fires those that have passed.
 */
#include "arch.h"
#include "x86.h"

static uint64_t tick_tsc;       /* the same on every CPU */

static bool keeps_deadlines(const struct cpu *c) { return c == &cpus[0]; }

static void timer_interrupt(void)
{
    struct cpu *c = this_cpu();
    lapic_eoi();
    uint64_t now = rdtsc();
    if (now >= c->next_tick) {
        sched_tick();
        c->next_tick += tick_tsc;
        if (c->next_tick <= now)
            c->next_tick = now + tick_tsc;
    }
    notification_check_deadlines(now);     /* CPU 0 arms for them; any CPU's tick fires */
    c->timer_armed = 0;
    timer_reprogram();
}

/* Arm this CPU's timer for its next tick or (CPU 0) the earliest deadline, whichever
 * is first.  A CPU with nothing to run does not tick: the IPI that gives it a thread
 * arms the timer again (handle_interrupt). */
void timer_reprogram(void)
{
    struct cpu *c = this_cpu();
    if (!tick_tsc)
        tick_tsc = timer_tsc_hz() / (1000000000ull / TICK_NS);
    if (!c->next_tick)
        c->next_tick = rdtsc() + tick_tsc;
    bool idle = !c->current && !schedq_highest(&c->ready);
    uint64_t when = idle ? 0 : c->next_tick;
    uint64_t deadline = keeps_deadlines(c) ? notification_earliest_deadline() : 0;
    if (deadline && (!when || deadline < when))
        when = deadline;
    if (when != c->timer_armed) {
        c->timer_armed = when;
        timer_arm(when);
    }
}

static bool handle_interrupt(uint64_t vector)
{
    if (vector == VECTOR_TIMER) {
        timer_interrupt();
        return true;
    }
    if (vector == VECTOR_IPI) {     /* choosing again and serving requests is done */
        lapic_eoi();                /* on the way in and out; a deadline may be new */
        timer_reprogram();
        return true;
    }
    if (vector >= VECTOR_IRQ_BASE && vector < VECTOR_IRQ_BASE + PITH_IRQ_LINES) {
        irq_handle((unsigned)(vector - VECTOR_IRQ_BASE));
        return true;
    }
    return vector == VECTOR_SPURIOUS;
}

/* What the entry saved is read before the lock: until this CPU has the lock, no other
 * CPU can have taken the thread away (sched_recall waits for us to get that far), and
 * afterwards it may have, and an interrupt must not be lost with it. */
void trap_from_user(void)
{
    struct cpu *c = this_cpu();
    struct thread *t = c->current;
    uint64_t vector = t->regs.vector, error = t->regs.error;
    uint64_t address = vector == 14 ? read_cr2() : 0;
    kernel_lock();
    if (vector >= 32) {
        if (!handle_interrupt(vector))
            kwarn("pith: unexpected vector %lu from user mode\n", vector);
    } else if (c->current == t) {
        thread_user_fault(t, vector, error, address);
    }
    sched_return_to_user();
}

/* An idle CPU does not hold the lock and takes it for the interrupt; one at a
 * preemption point or after a VM exit holds it already. */
void trap_from_kernel(struct user_regs *frame)
{
    if (frame->vector < 32)
        panic("exception %lu in the kernel at rip %lx, error %lx, cr2 %lx", frame->vector,
              frame->rip, frame->error, read_cr2());
    struct cpu *c = this_cpu();
    bool idle = c->idle;
    if (idle)
        kernel_lock();
    if (!handle_interrupt(frame->vector))
        kprintf("pith: unexpected vector %lu in the kernel\n", frame->vector);
    if (idle)
        kernel_unlock();
}

/* An NMI (on its own stack, possibly between SYSCALL and the stack switch): nothing
 * in the system raises one on purpose, so it reports a hardware problem.  Only the
 * console is touched; the interrupted code goes on undisturbed. */
void trap_nmi(struct user_regs *frame)
{
    kprintf("pith: NMI at rip %lx (%s mode), ignored\n", frame->rip,
            frame->cs & 3 ? "user" : "kernel");
}

/* A debug exception in the kernel (on its own stack).  The kernel sets no breakpoints
 * and never single-steps itself: what arrives is the single-step trap of a SYSCALL made
 * with TF set (SDM 17.3.1.4), delivered at syscall_entry while RSP is still the
 * user's.  The entry goes on; TF is already clear in the kernel's RFLAGS.  Anything else
 * is reported and ignored the same way.  No lock, no %gs: like an NMI. */
void trap_debug_kernel(struct user_regs *frame)
{
    extern char syscall_entry[];
    frame->rflags &= ~RFLAGS_TF;
    if (frame->rip != (uint64_t)syscall_entry)
        kprintf("pith: debug exception in the kernel at rip %lx, ignored\n", frame->rip);
}

/* Double fault or machine check (on its own stack): nothing can be trusted any more. */
void trap_fatal(struct user_regs *frame)
{
    panic("fatal exception %lu at rip %lx, rsp %lx, cs %lx, error %lx", frame->vector,
          frame->rip, frame->rsp, frame->cs, frame->error);
}
