/*
 * Interrupts and exceptions.  From user mode: an exception becomes a fault message,
 * an IRQ signals its notification, the timer ticks the scheduler and fires
 * deadlines; then the scheduler picks what runs.  In the kernel (only while idle)
 * only interrupts can arrive; an exception there is a kernel bug.
 */
#include "arch.h"
#include "x86.h"

static uint64_t tick_tsc;       /* TSC ticks in a scheduler tick, on every CPU */

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
    notification_check_deadlines(now);
    c->timer_armed = 0;
    timer_reprogram();
}

/* Arm the timer for the next tick or the earliest deadline, whichever is first. */
void timer_reprogram(void)
{
    struct cpu *c = this_cpu();
    if (!tick_tsc) {
        tick_tsc = timer_tsc_hz() / (1000000000ull / TICK_NS);
        c->next_tick = rdtsc() + tick_tsc;
    }
    uint64_t when = c->next_tick, deadline = notification_earliest_deadline();
    if (deadline && deadline < when)
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
    if (vector >= VECTOR_IRQ_BASE && vector < VECTOR_IRQ_BASE + PITH_IRQ_LINES) {
        irq_handle((unsigned)(vector - VECTOR_IRQ_BASE));
        return true;
    }
    return vector == VECTOR_SPURIOUS;
}

void trap_from_user(void)
{
    struct thread *t = this_cpu()->current;
    uint64_t vector = t->regs.vector;
    if (vector < 32)
        thread_user_fault(t, vector, t->regs.error, vector == 14 ? read_cr2() : 0);
    else if (!handle_interrupt(vector))
        kprintf("pith: unexpected vector %lu from user mode\n", vector);
    sched_return_to_user();
}

void trap_from_kernel(struct user_regs *frame)
{
    if (frame->vector < 32)
        panic("exception %lu in the kernel at rip %lx, error %lx, cr2 %lx", frame->vector,
              frame->rip, frame->error, read_cr2());
    if (!handle_interrupt(frame->vector))
        kprintf("pith: unexpected vector %lu in the kernel\n", frame->vector);
}

/* An NMI (on its own stack, possibly between SYSCALL and the stack switch): nothing
 * in the system raises one on purpose, so it reports a hardware problem.  Only the
 * console is touched; the interrupted code goes on undisturbed. */
void trap_nmi(struct user_regs *frame)
{
    kprintf("pith: NMI at rip %lx (%s mode), ignored\n", frame->rip,
            frame->cs & 3 ? "user" : "kernel");
}

/* Double fault or machine check (on its own stack): nothing can be trusted any more. */
void trap_fatal(struct user_regs *frame)
{
    panic("fatal exception %lu at rip %lx, rsp %lx, cs %lx, error %lx", frame->vector,
          frame->rip, frame->rsp, frame->cs, frame->error);
}
