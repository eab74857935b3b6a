/*
 * Time and interrupt controllers: the local APIC timer drives the scheduler tick and
 * notification deadlines; the legacy 8259 pair delivers device IRQs 0..15 at vectors
 * 0x20..0x2f through LINT0 in ExtINT mode.  The TSC frequency is measured against
 * PIT channel 2 (8254 datasheet, mode 0 with the gate on port 0x61).
 */
#include "arch.h"
#include "x86.h"

#define LAPIC_PHYS      0xfee00000ull
#define LAPIC_ID        0x020
#define LAPIC_TPR       0x080
#define LAPIC_EOI       0x0b0
#define LAPIC_SVR       0x0f0
#define LAPIC_ICR_LOW   0x300
#define LAPIC_ICR_HIGH  0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_INITIAL   0x380
#define LAPIC_CURRENT   0x390
#define LAPIC_DIVIDE    0x3e0
#define LVT_MASKED      BIT(16)
#define LVT_PERIODIC    (1u << 17)
#define LVT_TSC_DEADLINE (2u << 17)
#define ICR_INIT        (5u << 8)       /* SDM 10.6.1: delivery modes */
#define ICR_STARTUP     (6u << 8)
#define ICR_PENDING     BIT(12)         /* delivery status: send pending */
#define ICR_ASSERT      BIT(14)

static uint64_t tsc_hz, lapic_hz;
static uint32_t lapic_min_count;     /* 10 us: the shortest period the timer gets */
static uint64_t lapic_per_tsc_q32;   /* LAPIC ticks per TSC tick, 32.32 fixed point */
static bool use_tsc_deadline;

static volatile uint32_t *lapic_reg(unsigned off) { return (volatile uint32_t *)phys_to_virt(LAPIC_PHYS + off); }
static void lapic_write(unsigned off, uint32_t v) { *lapic_reg(off) = v; }
static uint32_t lapic_read(unsigned off) { return *lapic_reg(off); }

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

/* Before the CPU halts: the task priority is written again (it is always 0).  Under
 * QEMU a timer interrupt was once found waiting in the IRR of a halted CPU that had
 * lost its request for it (docs/security.md); a TPR write makes the emulated LAPIC
 * look at its IRR again, and costs real hardware nothing. */
void lapic_before_idle(void) { lapic_write(LAPIC_TPR, 0); }
uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }

static uint8_t pic_masks[2] = { 0xff, 0xff };

static void pic_write_masks(void)
{
    outb(0x21, pic_masks[0]);
    outb(0xa1, pic_masks[1]);
}

static void pic_init(void)
{
    /* ICW1..4: edge triggered, cascade, vectors 0x20 and 0x28, 8086 mode. */
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, VECTOR_IRQ_BASE); outb(0xa1, VECTOR_IRQ_BASE + 8);
    outb(0x21, 4); outb(0xa1, 2);
    outb(0x21, 1); outb(0xa1, 1);
    pic_masks[0] = 0xff & ~BIT(2);      /* cascade line stays open */
    pic_masks[1] = 0xff;
    pic_write_masks();
}

void pic_mask(unsigned line) { pic_masks[line >> 3] |= (uint8_t)BIT(line & 7); pic_write_masks(); }
void pic_unmask(unsigned line) { pic_masks[line >> 3] &= (uint8_t)~BIT(line & 7); pic_write_masks(); }
/* The I/O APIC delivers the lines instead: every 8259 input masked, the cascade too,
 * and LINT0, where the 8259 reached the local APIC. */
void pic_disable(void)
{
    pic_masks[0] = pic_masks[1] = 0xff;
    pic_write_masks();
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
}

void pic_eoi(unsigned line)
{
    if (line >= 8)
        outb(0xa0, 0x20);
    outb(0x20, 0x20);
}

/* Count TSC and LAPIC ticks over one 10 ms window of PIT channel 2 (1193182 Hz). */
static void measure_window(uint64_t *tsc_ticks, uint64_t *lapic_ticks)
{
    const uint16_t pit_count = 11932;
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);     /* gate on, speaker off */
    outb(0x43, 0xb0);                           /* channel 2, lo/hi, mode 0 */
    outb(0x42, pit_count & 0xff);
    outb(0x42, pit_count >> 8);
    lapic_write(LAPIC_DIVIDE, 0xb);             /* divide by 1 */
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    outb(0x61, inb(0x61) & ~0x01);              /* restart the count: gate low, then high */
    outb(0x61, inb(0x61) | 0x01);
    lapic_write(LAPIC_INITIAL, 0xffffffff);
    uint64_t t0 = rdtsc();
    while (!(inb(0x61) & 0x20))
        ;
    uint64_t t1 = rdtsc();
    *lapic_ticks = 0xffffffff - lapic_read(LAPIC_CURRENT);
    *tsc_ticks = t1 - t0;
}

/* The shortest of a few windows: an emulator that was descheduled during one makes
 * that window look long, never short. */
static void calibrate(void)
{
    uint64_t best_tsc = ~0ull, best_lapic = 0;
    for (unsigned i = 0; i < 5; i++) {
        uint64_t tsc, lapic;
        measure_window(&tsc, &lapic);
        if (tsc < best_tsc) {
            best_tsc = tsc;
            best_lapic = lapic;
        }
    }
    tsc_hz = best_tsc * 100;
    lapic_hz = best_lapic * 100;
    if (tsc_hz == 0)
        tsc_hz = 1000000000;
    if (lapic_hz == 0)
        lapic_hz = 1000000000;
    lapic_per_tsc_q32 = (lapic_hz << 32) / tsc_hz;
}

/* Without TSC deadlines the LAPIC timer runs periodic, not one-shot, although the
 * kernel re-arms it at every expiry (timer_interrupt): should an expiry be lost, the
 * next period raises it again.  Under QEMU a halted CPU once kept an expired timer's
 * vector in its IRR without waking (docs/security.md); a second expiry is what woke
 * it.  The period is never shorter than lapic_min_count, so an interrupt that waits
 * behind a long stretch with interrupts off costs one IRR bit, not a storm. */
static uint32_t timer_lvt(void)
{
    return VECTOR_TIMER | (use_tsc_deadline ? LVT_TSC_DEADLINE : LVT_PERIODIC);
}

void timer_init(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, base | BIT(11));       /* xAPIC enabled */
    lapic_write(LAPIC_SVR, 0x100 | VECTOR_SPURIOUS);
    lapic_write(LAPIC_LVT_LINT0, 0x700);        /* ExtINT: the 8259 */
    lapic_write(LAPIC_LVT_LINT1, 0x400);        /* NMI */
    pic_init();
    calibrate();
    use_tsc_deadline = (cpu_features() & PITH_CPU_TSC_DEADLINE) != 0;
    lapic_min_count = (uint32_t)(lapic_hz / 100000 + 1);
    lapic_write(LAPIC_LVT_TIMER, timer_lvt());
    kprintf("timer: tsc %lu kHz, lapic %lu kHz, %s\n", tsc_hz / 1000, lapic_hz / 1000,
            use_tsc_deadline ? "tsc-deadline mode" : "periodic mode, re-armed at every expiry");
}

uint64_t timer_tsc_hz(void) { return tsc_hz; }

/* Interrupt when the TSC reaches the deadline (at once if it has passed); 0 stops the
 * timer. */
void timer_arm(uint64_t deadline)
{
    if (use_tsc_deadline) {
        wrmsr(MSR_TSC_DEADLINE, deadline);
        return;
    }
    if (!deadline) {
        lapic_write(LAPIC_INITIAL, 0);
        return;
    }
    uint64_t now = rdtsc();
    uint64_t delta = deadline > now ? deadline - now : 1;
    if (delta > 0x7fffffffull)
        delta = 0x7fffffffull;
    uint64_t count = (delta * lapic_per_tsc_q32) >> 32;
    if (count < lapic_min_count)
        count = lapic_min_count;
    if (count > 0xffffffffull)
        count = 0xffffffffull;
    lapic_write(LAPIC_INITIAL, (uint32_t)count);
}

void tsc_delay_us(uint64_t us)
{
    uint64_t end = rdtsc() + tsc_hz / 1000000 * us;
    while (rdtsc() < end)
        __asm__ volatile("pause");
}

/* An application processor's LAPIC: software-enabled so it accepts IPIs later, with
 * the timer and both local lines masked (the 8259 and NMI pins belong to the
 * bootstrap processor). */
void lapic_init_ap(void)
{
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | BIT(11));
    lapic_write(LAPIC_SVR, 0x100 | VECTOR_SPURIOUS);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
}

/* An AP's timer: the same mode and vector as the bootstrap processor's. */
void timer_init_ap(void)
{
    lapic_write(LAPIC_DIVIDE, 0xb);             /* divide by 1, as calibrated */
    lapic_write(LAPIC_LVT_TIMER, timer_lvt());
}

/* Send an IPI and wait (at most 10 ms) until the LAPIC has sent it. */
static bool lapic_send(uint32_t apic_id, uint32_t command)
{
    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, command);
    uint64_t end = rdtsc() + tsc_hz / 100;
    while (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING)
        if (rdtsc() > end)
            return false;
    return true;
}

void lapic_reset_cpu(uint32_t apic_id) { lapic_send(apic_id, ICR_INIT | ICR_ASSERT); }

/* A fixed interrupt for one CPU (SDM 10.6.1: delivery mode 0, physical destination). */
void lapic_send_ipi(uint32_t apic_id, unsigned vector)
{
    if (!lapic_send(apic_id, ICR_ASSERT | vector))
        kprintf("pith: IPI %u to APIC ID %u not sent\n", vector, apic_id);
}

/* INIT, then two STARTUP IPIs whose vector is the page of the real-mode code, with the
 * delays of SDM 8.4.4.1 (10 ms after INIT, 200 µs after each STARTUP).  A processor
 * already running ignores the second STARTUP. */
bool lapic_start_cpu(uint32_t apic_id, uint64_t trampoline_phys)
{
    if (apic_id > 0xff || trampoline_phys >= 0x100000 || (trampoline_phys & 0xfff))
        return false;                           /* xAPIC destinations are 8 bits */
    if (!lapic_send(apic_id, ICR_INIT | ICR_ASSERT))
        return false;
    tsc_delay_us(10000);
    for (unsigned i = 0; i < 2; i++) {
        if (!lapic_send(apic_id, ICR_STARTUP | (uint32_t)(trampoline_phys >> 12)))
            return false;
        tsc_delay_us(200);
    }
    return true;
}
