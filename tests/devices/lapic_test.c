/* The local APIC: registers, priority, EOI, IPIs, LINT pins, the timer, x2APIC. */
#include "harness.h"
#include "dev/lapic.h"

#define TIMER_HZ 100000000ull       /* 10 ns per tick before the divider */
#define TSC_HZ   2000000000ull      /* 2 TSC ticks per ns */
#define ICR_LOGICAL_TEST (1u << 11)

static struct lapic_ipi last_ipi;
static int ipis, eois;
static uint8_t last_eoi;

static void record_ipi(void *ctx, const struct lapic_ipi *ipi) { (void)ctx; last_ipi = *ipi; ipis++; }
static void record_eoi(void *ctx, uint8_t vector) { (void)ctx; last_eoi = vector; eois++; }

static void make(struct lapic *l, uint32_t id)
{
    struct lapic_config cfg = {
        .id = id, .bsp = id == 0, .timer_hz = TIMER_HZ, .tsc_hz = TSC_HZ,
        .send_ipi = record_ipi, .eoi_broadcast = record_eoi,
    };
    lapic_init(l, &cfg);
    ipis = eois = 0;
}

static uint32_t rd(struct lapic *l, unsigned offset) { return (uint32_t)lapic_mmio_ops.read(l, offset, 4); }
static void wr(struct lapic *l, unsigned offset, uint32_t v) { lapic_mmio_ops.write(l, offset, 4, v); }
static void enable(struct lapic *l) { wr(l, LAPIC_SVR, 0x1ff); }

static void power_up_state(void)
{
    struct lapic l;
    uint64_t base;
    make(&l, 0);
    CHECK(lapic_msr_read(&l, MSR_IA32_APIC_BASE, &base));
    CHECK_EQ(base, 0xfee00000u | APIC_BASE_ENABLE | APIC_BASE_BSP);
    CHECK_EQ(lapic_mmio_base(&l), 0xfee00000u);
    CHECK_EQ(rd(&l, LAPIC_VERSION), 0x50014);       /* integrated, 6 LVT entries */
    CHECK_EQ(rd(&l, LAPIC_SVR), 0xff);
    CHECK_EQ(rd(&l, LAPIC_DFR), 0xffffffff);
    for (unsigned off = LAPIC_LVT_TIMER; off <= LAPIC_LVT_ERROR; off += 16)
        CHECK_EQ(rd(&l, off), APIC_LVT_MASKED);
    make(&l, 3);
    CHECK_EQ(rd(&l, LAPIC_ID), 3u << 24);
    CHECK(lapic_msr_read(&l, MSR_IA32_APIC_BASE, &base));
    CHECK(!(base & APIC_BASE_BSP));
}

static void software_disable_drops_and_masks(void)
{
    struct lapic l;
    make(&l, 0);
    CHECK(!lapic_set_irq(&l, 0x40, false));         /* SVR bit 8 clear at reset */
    wr(&l, LAPIC_LVT_LINT0, 0x30);
    CHECK_EQ(rd(&l, LAPIC_LVT_LINT0), APIC_LVT_MASKED | 0x30);
    enable(&l);
    wr(&l, LAPIC_LVT_LINT0, 0x30);
    CHECK_EQ(rd(&l, LAPIC_LVT_LINT0), 0x30);
    CHECK(lapic_set_irq(&l, 0x40, false));
    CHECK_EQ(lapic_has_interrupt(&l), 0x40);
    wr(&l, LAPIC_SVR, 0xff);
    CHECK(rd(&l, LAPIC_LVT_LINT0) & APIC_LVT_MASKED);
    CHECK_EQ(lapic_has_interrupt(&l), 0x40);        /* what was pending stays pending */
}

static void priority_acknowledge_eoi(void)
{
    struct lapic l;
    make(&l, 0);
    enable(&l);
    lapic_set_irq(&l, 0x31, false);
    lapic_set_irq(&l, 0x52, false);
    CHECK_EQ(rd(&l, LAPIC_IRR + 0x10 * (0x52 / 32)), 1u << (0x52 % 32));
    CHECK_EQ(lapic_has_interrupt(&l), 0x52);
    lapic_acknowledge(&l, 0x52);
    CHECK_EQ(rd(&l, LAPIC_ISR + 0x10 * (0x52 / 32)), 1u << (0x52 % 32));
    CHECK_EQ(rd(&l, LAPIC_PPR), 0x50);
    CHECK_EQ(lapic_has_interrupt(&l), -1);          /* 0x31 is below the in-service class */
    lapic_set_irq(&l, 0x5f, false);
    CHECK_EQ(lapic_has_interrupt(&l), -1);          /* same class as 0x52: no nesting */
    lapic_set_irq(&l, 0x61, false);
    CHECK_EQ(lapic_has_interrupt(&l), 0x61);
    lapic_acknowledge(&l, 0x61);
    wr(&l, LAPIC_EOI, 0);                           /* retires 0x61, the highest */
    CHECK_EQ(rd(&l, LAPIC_PPR), 0x50);
    wr(&l, LAPIC_EOI, 0);
    CHECK_EQ(rd(&l, LAPIC_PPR), 0);
    CHECK_EQ(lapic_has_interrupt(&l), 0x5f);
    wr(&l, LAPIC_TPR, 0x60);                        /* the TPR holds back both */
    CHECK_EQ(rd(&l, LAPIC_PPR), 0x60);
    CHECK_EQ(lapic_has_interrupt(&l), -1);
    wr(&l, LAPIC_TPR, 0x40);
    CHECK_EQ(lapic_has_interrupt(&l), 0x5f);
    CHECK_EQ(eois, 0);                              /* edge-triggered: nothing broadcast */
}

static void level_eoi_is_broadcast(void)
{
    struct lapic l;
    make(&l, 0);
    enable(&l);
    lapic_set_irq(&l, 0x70, true);
    CHECK_EQ(rd(&l, LAPIC_TMR + 0x10 * (0x70 / 32)), 1u << (0x70 % 32));
    lapic_acknowledge(&l, 0x70);
    wr(&l, LAPIC_EOI, 0);
    CHECK_EQ(eois, 1);
    CHECK_EQ(last_eoi, 0x70);
    wr(&l, LAPIC_EOI, 0);                           /* nothing in service */
    CHECK_EQ(eois, 1);
}

static void illegal_vectors_and_errors(void)
{
    struct lapic l;
    make(&l, 0);
    enable(&l);
    wr(&l, LAPIC_LVT_ERROR, 0xfe);
    CHECK(!lapic_set_irq(&l, 7, false));
    CHECK_EQ(rd(&l, LAPIC_ESR), 0);                 /* visible only after a write */
    wr(&l, LAPIC_ESR, 0);
    CHECK_EQ(rd(&l, LAPIC_ESR), 0x40);              /* received illegal vector */
    CHECK_EQ(lapic_has_interrupt(&l), 0xfe);        /* through the error LVT */
    wr(&l, LAPIC_ICR_LOW, 0x40005);                 /* self IPI, vector 5 */
    rd(&l, 0x2f0);                                  /* no CMCI entry: illegal register */
    wr(&l, LAPIC_ESR, 0);
    CHECK_EQ(rd(&l, LAPIC_ESR), 0xa0);
    wr(&l, LAPIC_ESR, 0);
    CHECK_EQ(rd(&l, LAPIC_ESR), 0);
}

static void mmio_access_widths(void)
{
    struct lapic l;
    make(&l, 0x12);
    CHECK_EQ(lapic_mmio_ops.read(&l, LAPIC_ID + 3, 1), 0x12);
    CHECK_EQ(lapic_mmio_ops.read(&l, LAPIC_VERSION + 2, 2), 0x5);
    CHECK_EQ(lapic_mmio_ops.read(&l, LAPIC_VERSION + 4, 4), 0);     /* past the dword */
    lapic_mmio_ops.write(&l, LAPIC_TPR, 1, 0x20);                   /* not 32-bit: dropped */
    CHECK_EQ(rd(&l, LAPIC_TPR), 0);
    wr(&l, LAPIC_TPR, 0x1a5);
    CHECK_EQ(rd(&l, LAPIC_TPR), 0xa5);
    wr(&l, LAPIC_ID, 0);                                            /* read-only */
    CHECK_EQ(rd(&l, LAPIC_ID), 0x12u << 24);
    wr(&l, LAPIC_LDR, 0x04ffffff);
    CHECK_EQ(rd(&l, LAPIC_LDR), 0x04000000);
    wr(&l, LAPIC_DFR, 0);
    CHECK_EQ(rd(&l, LAPIC_DFR), 0x0fffffff);                        /* cluster model */
}

static void ipis_to_self_and_others(void)
{
    struct lapic l;
    make(&l, 2);
    enable(&l);
    wr(&l, LAPIC_ICR_HIGH, 2u << 24);
    wr(&l, LAPIC_ICR_LOW, 0x41);                    /* fixed, physical, to APIC 2: me */
    CHECK_EQ(lapic_has_interrupt(&l), 0x41);
    CHECK_EQ(ipis, 0);
    CHECK_EQ(rd(&l, LAPIC_ICR_LOW) & APIC_DELIVERY_STATUS, 0);
    wr(&l, LAPIC_ICR_HIGH, 5u << 24);
    wr(&l, LAPIC_ICR_LOW, 0x42);                    /* to APIC 5 */
    CHECK_EQ(ipis, 1);
    CHECK_EQ(last_ipi.destination, 5);
    CHECK_EQ(last_ipi.vector, 0x42);
    CHECK_EQ(last_ipi.source, 2);
    CHECK(!last_ipi.delivered_here);
    wr(&l, LAPIC_ICR_LOW, 0x80000 | 0x43);          /* all including self */
    CHECK_EQ(ipis, 2);
    CHECK(last_ipi.delivered_here);
    CHECK_EQ(last_ipi.shorthand, 2);
    CHECK_EQ(lapic_has_interrupt(&l), 0x43);
    wr(&l, LAPIC_ICR_LOW, 0xc0000 | 0x44);          /* all excluding self */
    CHECK_EQ(ipis, 3);
    CHECK(!last_ipi.delivered_here);
    wr(&l, LAPIC_ICR_HIGH, 6u << 24);
    wr(&l, LAPIC_ICR_LOW, 0x4500);                  /* INIT assert to APIC 6 */
    CHECK_EQ(last_ipi.delivery_mode, APIC_INIT);
    CHECK(last_ipi.assert);
    wr(&l, LAPIC_ICR_LOW, 0x40400);                 /* NMI to self */
    CHECK(lapic_take_nmi(&l));
    CHECK(!lapic_take_nmi(&l));
    CHECK_EQ(ipis, 4);
}

static void logical_destinations(void)
{
    struct lapic l;
    make(&l, 0);
    enable(&l);
    wr(&l, LAPIC_LDR, 0x04u << 24);                 /* flat model, bit 2 */
    wr(&l, LAPIC_ICR_HIGH, 0x06u << 24);
    wr(&l, LAPIC_ICR_LOW, ICR_LOGICAL_TEST | 0x50);
    CHECK_EQ(lapic_has_interrupt(&l), 0x50);
    CHECK_EQ(ipis, 1);                              /* bit 1 may be another CPU */
    CHECK(last_ipi.delivered_here && last_ipi.logical);
    wr(&l, LAPIC_ICR_HIGH, 0x01u << 24);
    wr(&l, LAPIC_ICR_LOW, ICR_LOGICAL_TEST | 0x60);
    CHECK_EQ(lapic_has_interrupt(&l), 0x50);
    wr(&l, LAPIC_DFR, 0);                           /* cluster: high nibble is the cluster */
    wr(&l, LAPIC_LDR, 0x31u << 24);
    wr(&l, LAPIC_ICR_HIGH, 0x21u << 24);
    wr(&l, LAPIC_ICR_LOW, ICR_LOGICAL_TEST | 0x70);
    CHECK_EQ(lapic_has_interrupt(&l), 0x50);
    wr(&l, LAPIC_ICR_HIGH, 0x33u << 24);
    wr(&l, LAPIC_ICR_LOW, ICR_LOGICAL_TEST | 0x70);
    CHECK_EQ(lapic_has_interrupt(&l), 0x70);
}

static void lint_pins(void)
{
    struct lapic l;
    make(&l, 0);
    lapic_set_lint(&l, 0, true);
    CHECK(!lapic_extint_pending(&l));               /* LINT0 masked at reset */
    lapic_enable_virtual_wire(&l);
    CHECK(lapic_extint_pending(&l));
    lapic_set_lint(&l, 0, false);
    CHECK(!lapic_extint_pending(&l));
    lapic_set_lint(&l, 1, true);
    CHECK(lapic_take_nmi(&l));
    lapic_set_lint(&l, 1, true);                    /* still high: no new edge */
    CHECK(!lapic_take_nmi(&l));
    lapic_set_lint(&l, 1, false);

    enable(&l);                                     /* LINT1 fixed, level: remote IRR */
    wr(&l, LAPIC_LVT_LINT1, APIC_LEVEL_TRIGGERED | 0x90);
    lapic_set_lint(&l, 1, true);
    CHECK(rd(&l, LAPIC_LVT_LINT1) & APIC_REMOTE_IRR);
    CHECK_EQ(lapic_has_interrupt(&l), 0x90);
    lapic_acknowledge(&l, 0x90);
    wr(&l, LAPIC_EOI, 0);                           /* still asserted: taken again */
    CHECK(rd(&l, LAPIC_LVT_LINT1) & APIC_REMOTE_IRR);
    CHECK_EQ(lapic_has_interrupt(&l), 0x90);
    lapic_set_lint(&l, 1, false);
    lapic_acknowledge(&l, 0x90);
    wr(&l, LAPIC_EOI, 0);
    CHECK(!(rd(&l, LAPIC_LVT_LINT1) & APIC_REMOTE_IRR));
    CHECK_EQ(lapic_has_interrupt(&l), -1);
}

static void hardware_disable_passes_lint_through(void)
{
    struct lapic l;
    make(&l, 0);
    enable(&l);
    wr(&l, LAPIC_TPR, 0x30);
    CHECK(lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000));
    CHECK(!lapic_set_irq(&l, 0x40, false));
    CHECK_EQ(rd(&l, LAPIC_TPR), 0);                 /* no page while disabled */
    lapic_set_lint(&l, 0, true);
    CHECK(lapic_extint_pending(&l));                /* LINT0 is INTR */
    lapic_set_lint(&l, 1, true);
    CHECK(lapic_take_nmi(&l));                      /* LINT1 is NMI */
    CHECK(lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_ENABLE));
    CHECK_EQ(rd(&l, LAPIC_SVR), 0xff);              /* registers came back at reset values */
    CHECK_EQ(rd(&l, LAPIC_TPR), 0);
}

static void oneshot_timer(void)
{
    struct lapic l;
    make(&l, 0);
    enable(&l);
    lapic_update(&l, 1000);
    wr(&l, LAPIC_TIMER_DIVIDE, 0xb);                /* divide by 1 */
    wr(&l, LAPIC_LVT_TIMER, 0x20);
    wr(&l, LAPIC_TIMER_INITIAL, 1000);              /* 1000 ticks of 10 ns */
    CHECK_EQ(lapic_next_event(&l), 1000 + 10000);
    lapic_update(&l, 6000);
    CHECK_EQ(rd(&l, LAPIC_TIMER_CURRENT), 500);
    lapic_update(&l, 10999);
    CHECK_EQ(rd(&l, LAPIC_TIMER_CURRENT), 1);
    CHECK_EQ(lapic_has_interrupt(&l), -1);
    lapic_update(&l, 11000);
    CHECK_EQ(lapic_has_interrupt(&l), 0x20);
    CHECK_EQ(rd(&l, LAPIC_TIMER_CURRENT), 0);
    CHECK_EQ(rd(&l, LAPIC_TIMER_INITIAL), 1000);
    CHECK_EQ(lapic_next_event(&l), LAPIC_NO_EVENT);
    wr(&l, LAPIC_TIMER_DIVIDE, 0x0);                /* divide by 2 */
    wr(&l, LAPIC_TIMER_INITIAL, 1000);
    CHECK_EQ(lapic_next_event(&l), 11000 + 20000);
    wr(&l, LAPIC_TIMER_INITIAL, 0);                 /* 0 stops it */
    CHECK_EQ(lapic_next_event(&l), LAPIC_NO_EVENT);
}

static void timer_divide_values(void)
{
    static const struct { uint32_t dcr; uint64_t ns; } table[] = {
        { 0x0, 20 }, { 0x1, 40 }, { 0x2, 80 }, { 0x3, 160 },
        { 0x8, 320 }, { 0x9, 640 }, { 0xa, 1280 }, { 0xb, 10 },
    };
    struct lapic l;
    make(&l, 0);
    enable(&l);
    for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        wr(&l, LAPIC_TIMER_DIVIDE, table[i].dcr);
        wr(&l, LAPIC_TIMER_INITIAL, 1);
        CHECK_EQ(lapic_next_event(&l), table[i].ns);
    }
    wr(&l, LAPIC_TIMER_DIVIDE, 0xb);                /* changed mid-count: the rest slows */
    wr(&l, LAPIC_TIMER_INITIAL, 100);
    lapic_update(&l, 500);
    wr(&l, LAPIC_TIMER_DIVIDE, 0x0);
    CHECK_EQ(rd(&l, LAPIC_TIMER_CURRENT), 50);
    CHECK_EQ(lapic_next_event(&l), 500 + 50 * 20);
}

static void periodic_timer(void)
{
    struct lapic l;
    make(&l, 0);
    enable(&l);
    wr(&l, LAPIC_TIMER_DIVIDE, 0xb);
    wr(&l, LAPIC_LVT_TIMER, (LAPIC_TIMER_PERIODIC << APIC_TIMER_MODE_SHIFT) | 0x30);
    wr(&l, LAPIC_TIMER_INITIAL, 100);               /* period 1000 ns */
    lapic_update(&l, 1000);
    CHECK_EQ(lapic_has_interrupt(&l), 0x30);
    CHECK_EQ(rd(&l, LAPIC_TIMER_CURRENT), 100);
    CHECK_EQ(lapic_next_event(&l), 2000);
    lapic_acknowledge(&l, 0x30);
    wr(&l, LAPIC_EOI, 0);
    lapic_update(&l, 5500);                         /* four periods late: one interrupt */
    CHECK_EQ(lapic_has_interrupt(&l), 0x30);
    CHECK_EQ(rd(&l, LAPIC_TIMER_CURRENT), 50);
    CHECK_EQ(lapic_next_event(&l), 6000);
    wr(&l, LAPIC_LVT_TIMER, APIC_LVT_MASKED | (LAPIC_TIMER_PERIODIC << APIC_TIMER_MODE_SHIFT) | 0x30);
    lapic_acknowledge(&l, 0x30);
    wr(&l, LAPIC_EOI, 0);
    lapic_update(&l, 6000);                         /* masked: counts on, no interrupt */
    CHECK_EQ(lapic_has_interrupt(&l), -1);
    CHECK_EQ(lapic_next_event(&l), 7000);
}

static void tsc_deadline_timer(void)
{
    struct lapic l;
    uint64_t v;
    make(&l, 0);
    enable(&l);
    CHECK(lapic_msr_write(&l, MSR_IA32_TSC_DEADLINE, 5000));    /* one-shot mode: ignored */
    CHECK(lapic_msr_read(&l, MSR_IA32_TSC_DEADLINE, &v));
    CHECK_EQ(v, 0);
    wr(&l, LAPIC_LVT_TIMER, (LAPIC_TIMER_TSC_DEADLINE << APIC_TIMER_MODE_SHIFT) | 0xec);
    wr(&l, LAPIC_TIMER_INITIAL, 10);                /* ignored in this mode */
    CHECK_EQ(rd(&l, LAPIC_TIMER_INITIAL), 0);
    lapic_msr_write(&l, MSR_IA32_TSC_DEADLINE, 3001);
    CHECK_EQ(lapic_next_event(&l), 1501);           /* 2 TSC ticks per ns, rounded up */
    lapic_update(&l, 1500);
    CHECK_EQ(lapic_has_interrupt(&l), -1);
    lapic_update(&l, 1501);
    CHECK_EQ(lapic_has_interrupt(&l), 0xec);
    CHECK(lapic_msr_read(&l, MSR_IA32_TSC_DEADLINE, &v));
    CHECK_EQ(v, 0);                                 /* disarmed once it fired */
    CHECK_EQ(lapic_next_event(&l), LAPIC_NO_EVENT);
    lapic_acknowledge(&l, 0xec);
    wr(&l, LAPIC_EOI, 0);
    lapic_msr_write(&l, MSR_IA32_TSC_DEADLINE, 1000);   /* already past: fires at once */
    CHECK_EQ(lapic_has_interrupt(&l), 0xec);
    lapic_msr_write(&l, MSR_IA32_TSC_DEADLINE, 100000);
    wr(&l, LAPIC_LVT_TIMER, 0xec);                  /* leaving the mode disarms */
    CHECK_EQ(lapic_next_event(&l), LAPIC_NO_EVENT);
}

static void x2apic_mode_switch(void)
{
    struct lapic l;
    uint64_t v;
    make(&l, 0x25);
    CHECK(!lapic_msr_read(&l, MSR_X2APIC_FIRST + 2, &v));          /* not in x2APIC mode yet */
    CHECK(!lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_X2APIC));  /* EXTD without EN */
    CHECK(!lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_ENABLE | 0x200));  /* reserved */
    CHECK(lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_ENABLE | APIC_BASE_X2APIC));
    CHECK(lapic_x2apic_mode(&l));
    CHECK(lapic_msr_read(&l, 0x802, &v));
    CHECK_EQ(v, 0x25);                              /* the full ID, not shifted */
    CHECK(lapic_msr_read(&l, 0x80d, &v));
    CHECK_EQ(v, (2u << 16) | (1u << 5));            /* cluster 2, bit 5 */
    CHECK_EQ(lapic_mmio_ops.read(&l, LAPIC_VERSION, 4), 0);        /* the page is gone */
    CHECK(!lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_ENABLE));  /* not straight back */
    CHECK(lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000));
    CHECK(!lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_ENABLE | APIC_BASE_X2APIC));
    CHECK(lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_ENABLE));
    CHECK_EQ(rd(&l, LAPIC_ID), 0x25u << 24);
}

static void x2apic_registers(void)
{
    struct lapic l;
    uint64_t v;
    make(&l, 1);
    lapic_msr_write(&l, MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
    CHECK(lapic_msr_write(&l, 0x80f, 0x1ff));       /* SVR */
    CHECK(lapic_msr_read(&l, 0x803, &v));
    CHECK_EQ(v, 0x50014);
    CHECK(lapic_msr_write(&l, 0x83f, 0x33));        /* SELF IPI */
    CHECK_EQ(lapic_has_interrupt(&l), 0x33);
    CHECK(lapic_msr_write(&l, 0x830, (1ull << 32) | 0x34));     /* ICR: fixed to ID 1 */
    CHECK_EQ(lapic_has_interrupt(&l), 0x34);
    CHECK(lapic_msr_read(&l, 0x830, &v));
    CHECK_EQ(v, (1ull << 32) | 0x34);
    CHECK(lapic_msr_write(&l, 0x830, (0x100ull << 32) | 0x35));
    CHECK_EQ(ipis, 1);
    CHECK_EQ(last_ipi.destination, 0x100);          /* 32-bit destinations */
    CHECK(last_ipi.x2apic);
    lapic_acknowledge(&l, 0x34);
    CHECK(!lapic_msr_write(&l, 0x80b, 1));          /* EOI must be written with 0 */
    CHECK(lapic_msr_write(&l, 0x80b, 0));
    CHECK(lapic_msr_read(&l, 0x810 + 0x34 / 32, &v));
    CHECK_EQ(v, 0);
    CHECK(!lapic_msr_write(&l, 0x802, 7));          /* ID is read-only */
    CHECK(!lapic_msr_read(&l, 0x83f, &v));          /* SELF IPI is write-only */
    CHECK(!lapic_msr_read(&l, 0x809, &v));          /* no APR */
    CHECK(!lapic_msr_read(&l, 0x80e, &v));          /* no DFR */
    CHECK(!lapic_msr_read(&l, 0x831, &v));          /* no ICR high half */
    CHECK(!lapic_msr_write(&l, 0x808, 0x100));      /* TPR reserved bits */
    CHECK(!lapic_msr_write(&l, 0x838, 1ull << 32));
    CHECK(lapic_msr_write(&l, 0x838, 500));         /* initial count */
    CHECK(lapic_msr_read(&l, 0x839, &v));
    CHECK_EQ(v, 500);
    CHECK(!lapic_msr_read(&l, 0x123, &v));          /* not an APIC MSR */
}

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx) { (void)ctx; return fake_now; }

static void accesses_read_the_clock(void)
{
    struct lapic l;
    struct lapic_config cfg = { .id = 0, .timer_hz = TIMER_HZ, .tsc_hz = TSC_HZ, .clock = fake_clock };
    uint64_t v;
    fake_now = 100;
    lapic_init(&l, &cfg);
    enable(&l);
    wr(&l, LAPIC_TIMER_DIVIDE, 0xb);
    wr(&l, LAPIC_LVT_TIMER, 0x40);
    wr(&l, LAPIC_TIMER_INITIAL, 300);               /* starts at 100, due at 3100 */
    CHECK_EQ(lapic_next_event(&l), 3100);
    fake_now = 1100;
    CHECK_EQ(rd(&l, LAPIC_TIMER_CURRENT), 200);
    fake_now = 4000;                                /* overdue: fires on the next access */
    CHECK(lapic_msr_read(&l, MSR_IA32_APIC_BASE, &v));
    CHECK_EQ(lapic_has_interrupt(&l), 0x40);
}

DEVICE_TESTS(lapic,
    { "lapic_power_up_state", power_up_state },
    { "lapic_software_disable", software_disable_drops_and_masks },
    { "lapic_priority_acknowledge_eoi", priority_acknowledge_eoi },
    { "lapic_level_eoi_broadcast", level_eoi_is_broadcast },
    { "lapic_illegal_vectors_and_errors", illegal_vectors_and_errors },
    { "lapic_mmio_access_widths", mmio_access_widths },
    { "lapic_ipis_to_self_and_others", ipis_to_self_and_others },
    { "lapic_logical_destinations", logical_destinations },
    { "lapic_lint_pins", lint_pins },
    { "lapic_hardware_disable", hardware_disable_passes_lint_through },
    { "lapic_oneshot_timer", oneshot_timer },
    { "lapic_timer_divide", timer_divide_values },
    { "lapic_periodic_timer", periodic_timer },
    { "lapic_tsc_deadline_timer", tsc_deadline_timer },
    { "lapic_x2apic_mode_switch", x2apic_mode_switch },
    { "lapic_x2apic_registers", x2apic_registers },
    { "lapic_accesses_read_the_clock", accesses_read_the_clock },
)
