/* The APIC bus: IPIs between local APICs written through their ICRs (fixed, lowest
 * priority, NMI, INIT, start-up; physical, logical flat and cluster, broadcast and
 * shorthands) and I/O APIC redirections to any destination. */
#include "harness.h"
#include "dev/apic_bus.h"
#include "dev/ioapic.h"

#define CPUS 4
#define ICR_LOGICAL_MODE (1u << 11)
#define ICR_SHORTHAND(s) ((uint32_t)(s) << 18)
#define DELIVERY(m)      ((uint32_t)(m) << APIC_DELIVERY_SHIFT)

static struct lapic lapics[CPUS];
static struct apic_bus bus;
static struct ioapic io;
static int inits[CPUS], startups[CPUS];
static uint8_t startup_vector[CPUS];

static void on_init(void *ctx, unsigned index) { (void)ctx; inits[index]++; }
static void on_startup(void *ctx, unsigned index, uint8_t vector)
{
    (void)ctx;
    startups[index]++;
    startup_vector[index] = vector;
}

static bool ioapic_to_bus(void *ctx, const struct ioapic_message *m)
{
    struct apic_message message = {
        .vector = m->vector, .delivery_mode = m->delivery_mode, .logical = m->logical,
        .level_triggered = m->level_triggered, .assert = true, .destination = m->destination,
        .source = APIC_BUS_FROM_IOAPIC,
    };
    return apic_bus_deliver(ctx, &message) != 0;
}

static void wr(unsigned cpu, unsigned offset, uint32_t v) { lapic_mmio_ops.write(&lapics[cpu], offset, 4, v); }
static uint32_t rd(unsigned cpu, unsigned offset) { return (uint32_t)lapic_mmio_ops.read(&lapics[cpu], offset, 4); }

/* Four enabled APICs, IDs 0-3, flat logical mode with LDR bit n for CPU n. */
static void machine(void)
{
    bus = (struct apic_bus){ .count = CPUS, .init = on_init, .startup = on_startup, .ctx = NULL };
    for (unsigned i = 0; i < CPUS; i++) {
        struct lapic_config cfg = { .id = i, .bsp = i == 0, .timer_hz = 1000000000ull,
                                    .tsc_hz = 1000000000ull, .send_ipi = apic_bus_send_ipi, .ctx = &bus };
        lapic_init(&lapics[i], &cfg);
        bus.lapic[i] = &lapics[i];
        wr(i, LAPIC_SVR, 0x1ff);
        wr(i, LAPIC_LDR, 1u << (24 + i));
        inits[i] = startups[i] = 0;
        startup_vector[i] = 0;
    }
    ioapic_init(&io, 0, ioapic_to_bus, &bus);
}

static void ipi(unsigned from, uint32_t dest, uint32_t low)
{
    wr(from, LAPIC_ICR_HIGH, dest << 24);
    wr(from, LAPIC_ICR_LOW, low);
}

/* Which APICs have vector v pending (bit n: APIC n); takes it from them. */
static unsigned pending(uint8_t v)
{
    unsigned mask = 0;
    for (unsigned i = 0; i < CPUS; i++) {
        if (lapic_has_interrupt(&lapics[i]) == v) {
            mask |= 1u << i;
            lapic_acknowledge(&lapics[i], v);
            wr(i, LAPIC_EOI, 0);
        }
    }
    return mask;
}

static void fixed_physical(void)
{
    machine();
    ipi(0, 2, 0x41);
    CHECK_EQ(pending(0x41), 1u << 2);
    ipi(3, 0, 0x42);                        /* an application processor to the BSP */
    CHECK_EQ(pending(0x42), 1u << 0);
    ipi(1, 1, 0x43);                        /* to itself by its own ID */
    CHECK_EQ(pending(0x43), 1u << 1);
    ipi(1, 7, 0x44);                        /* nobody has APIC ID 7 */
    CHECK_EQ(pending(0x44), 0);
    ipi(0, 0xff, 0x45);                     /* physical broadcast */
    CHECK_EQ(pending(0x45), 0xf);
}

static void shorthands(void)
{
    machine();
    ipi(1, 0, ICR_SHORTHAND(APIC_SHORTHAND_OTHERS) | 0x50);
    CHECK_EQ(pending(0x50), 0xd);
    ipi(2, 0, ICR_SHORTHAND(APIC_SHORTHAND_ALL) | 0x51);
    CHECK_EQ(pending(0x51), 0xf);
    ipi(3, 0, ICR_SHORTHAND(APIC_SHORTHAND_SELF) | 0x52);
    CHECK_EQ(pending(0x52), 1u << 3);
    /* The destination field means nothing with a shorthand. */
    ipi(0, 3, ICR_SHORTHAND(APIC_SHORTHAND_OTHERS) | 0x53);
    CHECK_EQ(pending(0x53), 0xe);
}

static void logical_flat_and_cluster(void)
{
    machine();
    ipi(0, 0x5, ICR_LOGICAL_MODE | 0x60);   /* LDR bits 0 and 2 */
    CHECK_EQ(pending(0x60), 0x5);
    ipi(3, 0x8, ICR_LOGICAL_MODE | 0x61);
    CHECK_EQ(pending(0x61), 1u << 3);
    ipi(1, 0xff, ICR_LOGICAL_MODE | 0x62);  /* everyone */
    CHECK_EQ(pending(0x62), 0xf);
    /* Cluster model: LDR = cluster << 28 | member bit << 24. */
    for (unsigned i = 0; i < CPUS; i++) {
        wr(i, LAPIC_DFR, 0x0fffffff);
        wr(i, LAPIC_LDR, ((i / 2) << 28) | (1u << (24 + i % 2)));
    }
    ipi(0, 0x12, ICR_LOGICAL_MODE | 0x63);  /* cluster 1, member 1: APIC 3 */
    CHECK_EQ(pending(0x63), 1u << 3);
    ipi(0, 0x03, ICR_LOGICAL_MODE | 0x64);  /* cluster 0, both members */
    CHECK_EQ(pending(0x64), 0x3);
}

/* SDM §10.6.2.4: the destination with the lowest processor priority; ties in turn. */
static void lowest_priority(void)
{
    machine();
    wr(0, LAPIC_TPR, 0x30);
    wr(1, LAPIC_TPR, 0x20);
    wr(2, LAPIC_TPR, 0x10);
    wr(3, LAPIC_TPR, 0x40);
    ipi(0, 0xf, ICR_LOGICAL_MODE | DELIVERY(APIC_LOWEST_PRIORITY) | 0x70);
    CHECK_EQ(pending(0x70), 1u << 2);
    ipi(2, 0xb, ICR_LOGICAL_MODE | DELIVERY(APIC_LOWEST_PRIORITY) | 0x71);     /* 0, 1, 3 */
    CHECK_EQ(pending(0x71), 1u << 1);
    for (unsigned i = 0; i < CPUS; i++)
        wr(i, LAPIC_TPR, 0);
    unsigned seen = 0;
    for (unsigned n = 0; n < CPUS; n++) {
        ipi(0, 0xf, ICR_LOGICAL_MODE | DELIVERY(APIC_LOWEST_PRIORITY) | 0x72);
        unsigned got = pending(0x72);
        CHECK_EQ(__builtin_popcount(got), 1);       /* exactly one takes each */
        seen |= got;
    }
    CHECK_EQ(seen, 0xf);                            /* and equals take turns */
    /* A software-disabled APIC takes nothing; the message goes to no one else. */
    wr(1, LAPIC_SVR, 0xff);
    struct apic_message m = { .vector = 0x73, .delivery_mode = APIC_FIXED, .destination = 1,
                              .assert = true, .source = 0 };
    CHECK_EQ(apic_bus_deliver(&bus, &m), 0);
}

static void nmi_init_startup(void)
{
    machine();
    ipi(0, 2, DELIVERY(APIC_NMI));
    CHECK(lapics[2].nmi_pending && !lapics[1].nmi_pending && !lapics[0].nmi_pending);
    CHECK(lapic_take_nmi(&lapics[2]) && !lapics[2].nmi_pending);
    /* The universal start-up algorithm: INIT assert, INIT de-assert, SIPI, SIPI. */
    wr(1, LAPIC_TPR, 0x20);
    ipi(0, 1, DELIVERY(APIC_INIT) | APIC_LEVEL_TRIGGERED | APIC_LEVEL_ASSERT);
    CHECK_EQ(inits[1], 1);
    CHECK_EQ(rd(1, LAPIC_TPR), 0);                  /* INIT reset the APIC ... */
    CHECK_EQ(rd(1, LAPIC_SVR), 0xff);
    CHECK_EQ(rd(1, LAPIC_ID), 1u << 24);            /* ... but not its ID */
    ipi(0, 0, ICR_SHORTHAND(APIC_SHORTHAND_ALL) | DELIVERY(APIC_INIT) | APIC_LEVEL_TRIGGERED);
    CHECK_EQ(inits[0] + inits[1] + inits[2] + inits[3], 1);    /* a de-assert starts nothing */
    ipi(0, 1, DELIVERY(APIC_STARTUP) | 0x9a);
    ipi(0, 1, DELIVERY(APIC_STARTUP) | 0x9a);
    CHECK_EQ(startups[1], 2);                       /* the VMM ignores the second */
    CHECK_EQ(startup_vector[1], 0x9a);
    CHECK_EQ(startups[0] + startups[2] + startups[3], 0);
    /* INIT and SIPI to all the others, as Linux's old broadcast start-up does. */
    ipi(0, 0, ICR_SHORTHAND(APIC_SHORTHAND_OTHERS) | DELIVERY(APIC_INIT) | APIC_LEVEL_ASSERT);
    CHECK(inits[0] == 0 && inits[1] == 2 && inits[2] == 1 && inits[3] == 1);
    ipi(0, 0, ICR_SHORTHAND(APIC_SHORTHAND_OTHERS) | DELIVERY(APIC_STARTUP) | 0x10);
    CHECK(startups[0] == 0 && startups[2] == 1 && startups[3] == 1 && startup_vector[3] == 0x10);
}

static void route(unsigned pin, uint64_t entry)
{
    ioapic_ops.write(&io, IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDIRECTION + 2 * pin + 1);
    ioapic_ops.write(&io, IOAPIC_IOWIN, 4, entry >> 32);
    ioapic_ops.write(&io, IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDIRECTION + 2 * pin);
    ioapic_ops.write(&io, IOAPIC_IOWIN, 4, (uint32_t)entry);
}

static void ioapic_destinations(void)
{
    machine();
    route(4, 0x31 | (3ull << IOAPIC_DEST_SHIFT));                       /* physical, APIC 3 */
    ioapic_set_irq(&io, 4, true);
    ioapic_set_irq(&io, 4, false);
    CHECK_EQ(pending(0x31), 1u << 3);
    route(5, 0x32 | IOAPIC_LOGICAL | (0x6ull << IOAPIC_DEST_SHIFT));    /* logical: 1 and 2 */
    ioapic_set_irq(&io, 5, true);
    ioapic_set_irq(&io, 5, false);
    CHECK_EQ(pending(0x32), 0x6);
    route(6, 0x33 | (0xffull << IOAPIC_DEST_SHIFT));                    /* broadcast */
    ioapic_set_irq(&io, 6, true);
    ioapic_set_irq(&io, 6, false);
    CHECK_EQ(pending(0x33), 0xf);
    wr(0, LAPIC_TPR, 0x20);
    wr(1, LAPIC_TPR, 0x20);
    wr(3, LAPIC_TPR, 0x20);
    route(7, 0x34 | ((uint64_t)APIC_LOWEST_PRIORITY << IOAPIC_DELIVERY_SHIFT) | IOAPIC_LOGICAL |
             (0xfull << IOAPIC_DEST_SHIFT));
    ioapic_set_irq(&io, 7, true);
    ioapic_set_irq(&io, 7, false);
    CHECK_EQ(pending(0x34), 1u << 2);
    /* Level-triggered to APIC 1: remote IRR until APIC 1's EOI comes back (the VMM
     * wires every local APIC's EOI broadcast to the I/O APIC). */
    route(9, 0x35 | IOAPIC_LEVEL_TRIGGERED | (1ull << IOAPIC_DEST_SHIFT));
    ioapic_set_irq(&io, 9, true);
    CHECK_EQ(lapic_has_interrupt(&lapics[1]), 0x35);
    CHECK(io.redirection[9] & IOAPIC_REMOTE_IRR);
    /* To nobody: not accepted, so remote IRR stays clear. */
    route(10, 0x36 | IOAPIC_LEVEL_TRIGGERED | (9ull << IOAPIC_DEST_SHIFT));
    ioapic_set_irq(&io, 10, true);
    CHECK(!(io.redirection[10] & IOAPIC_REMOTE_IRR));
    CHECK_EQ(pending(0x36), 0);
    /* NMI through a redirection entry. */
    route(11, ((uint64_t)APIC_NMI << IOAPIC_DELIVERY_SHIFT) | (2ull << IOAPIC_DEST_SHIFT));
    ioapic_set_irq(&io, 11, true);
    CHECK(lapics[2].nmi_pending && !lapics[0].nmi_pending);
}

static void destinations_skip_what_the_sender_took(void)
{
    machine();
    struct apic_message m = { .vector = 0x80, .delivery_mode = APIC_FIXED,
                              .shorthand = APIC_SHORTHAND_ALL, .assert = true, .source = 2 };
    CHECK_EQ(apic_bus_destinations(&bus, &m), 0xf);
    m.source_done = true;
    CHECK_EQ(apic_bus_destinations(&bus, &m), 0xb);
    m.shorthand = APIC_SHORTHAND_NONE;
    m.destination = 0xff;
    CHECK_EQ(apic_bus_destinations(&bus, &m), 0xb);
    m.source = APIC_BUS_FROM_IOAPIC;
    CHECK_EQ(apic_bus_destinations(&bus, &m), 0xf);
}

/* MSIs: physical and logical destinations, NMI, and what is dropped. */
static void msi_messages(void)
{
    machine();
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE | 2u << 12, 0x51), 1u << 2);
    CHECK_EQ(pending(0x51), 1u << 2);
    /* RH and DM: logical flat, LDR bits 1 and 3 */
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE | 0x0au << 12 | 0xc, 0x52), 0xa);
    CHECK_EQ(pending(0x52), 0xa);
    /* DM without RH is logical too (what Linux's flat mode sends): LDR bit 0 */
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE | 1u << 12 | 0x4, 0x53), 1u << 0);
    CHECK_EQ(pending(0x53), 1u << 0);
    /* without DM, physical: APIC ID 1 */
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE | 1u << 12, 0x53), 1u << 1);
    CHECK_EQ(pending(0x53), 1u << 1);
    /* lowest priority to a logical set reaches exactly one */
    uint32_t one = apic_bus_msi(&bus, APIC_MSI_BASE | 0x0fu << 12 | 0xc, 0x100 | 0x54);
    CHECK(one && !(one & (one - 1)));
    CHECK_EQ(pending(0x54), one);
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE | 3u << 12, (uint32_t)APIC_NMI << 8), 1u << 3);
    CHECK(lapics[3].nmi_pending);
    /* dropped: outside the range, INIT/SMI/ExtINT/start-up, vectors below 16 */
    CHECK_EQ(apic_bus_msi(&bus, 0xfec00000u | 2u << 12, 0x55), 0);
    CHECK_EQ(apic_bus_msi(&bus, 0x1fee00000ull, 0x55), 0);
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE, (uint32_t)APIC_INIT << 8), 0);
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE, (uint32_t)APIC_SMI << 8 | 0x55), 0);
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE, (uint32_t)APIC_STARTUP << 8 | 0x55), 0);
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE, (uint32_t)APIC_EXTINT << 8), 0);
    CHECK_EQ(apic_bus_msi(&bus, APIC_MSI_BASE, 0x0f), 0);
    CHECK_EQ(inits[0] + startups[0], 0);
    CHECK_EQ(pending(0x55), 0);
}

DEVICE_TESTS(apic_bus,
    { "apic_bus_fixed_physical", fixed_physical },
    { "apic_bus_shorthands", shorthands },
    { "apic_bus_logical_flat_and_cluster", logical_flat_and_cluster },
    { "apic_bus_lowest_priority", lowest_priority },
    { "apic_bus_nmi_init_startup", nmi_init_startup },
    { "apic_bus_ioapic_destinations", ioapic_destinations },
    { "apic_bus_destinations_skip_sender", destinations_skip_what_the_sender_took },
    { "apic_bus_msi_messages", msi_messages },
)
