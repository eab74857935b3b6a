/* The APIC bus (apic_bus.h). */
#include "apic_bus.h"

uint32_t apic_bus_destinations(const struct apic_bus *bus, const struct apic_message *m)
{
    uint32_t mask = 0;
    for (unsigned i = 0; i < bus->count; i++) {
        bool to = false;
        switch (m->shorthand) {
        case APIC_SHORTHAND_SELF:   to = i == m->source; break;
        case APIC_SHORTHAND_ALL:    to = true; break;
        case APIC_SHORTHAND_OTHERS: to = i != m->source; break;
        default:                    to = lapic_accepts(bus->lapic[i], m->destination, m->logical);
        }
        if (to && !(m->source_done && i == m->source))
            mask |= 1u << i;
    }
    return mask;
}

/* §10.6.2.4: the destination whose PPR is lowest; among equals, in turn (the
 * arbitration priority rotates on real buses, which has the same effect). */
static uint32_t lowest_priority(struct apic_bus *bus, uint32_t mask)
{
    int best = -1;
    for (unsigned k = 0; k < bus->count; k++) {
        unsigned i = (bus->next_lowest + k) % bus->count;
        if ((mask >> i) & 1 && (best < 0 || lapic_ppr(bus->lapic[i]) < lapic_ppr(bus->lapic[best])))
            best = (int)i;
    }
    if (best < 0)
        return 0;
    bus->next_lowest = ((unsigned)best + 1) % bus->count;
    return 1u << best;
}

static bool deliver_one(struct apic_bus *bus, unsigned i, const struct apic_message *m)
{
    struct lapic *l = bus->lapic[i];
    switch (m->delivery_mode) {
    case APIC_FIXED:
    case APIC_LOWEST_PRIORITY:
        return lapic_set_irq(l, m->vector, m->level_triggered);
    case APIC_NMI:
        l->nmi_pending = true;
        return true;
    case APIC_INIT:             /* §10.4.7.3: the APIC is reset, its ID kept */
        if (!m->assert)
            return false;
        lapic_reset(l);
        if (bus->init)
            bus->init(bus->ctx, i);
        return true;
    case APIC_STARTUP:
        if (bus->startup)
            bus->startup(bus->ctx, i, m->vector);
        return true;
    default:                    /* SMI, ExtINT: not on this bus */
        return false;
    }
}

uint32_t apic_bus_deliver(struct apic_bus *bus, const struct apic_message *m)
{
    uint32_t mask = apic_bus_destinations(bus, m), taken = 0;
    if (m->delivery_mode == APIC_LOWEST_PRIORITY)
        mask = lowest_priority(bus, mask);
    for (unsigned i = 0; i < bus->count; i++)
        if ((mask >> i) & 1 && deliver_one(bus, i, m))
            taken |= 1u << i;
    return taken;
}

uint32_t apic_bus_msi(struct apic_bus *bus, uint64_t address, uint32_t data)
{
    if ((address & ~0xfffffull) != APIC_MSI_BASE)
        return 0;
    uint8_t mode = (data >> 8) & 7, vector = data & 0xff;
    if (mode != APIC_FIXED && mode != APIC_LOWEST_PRIORITY && mode != APIC_NMI)
        return 0;
    if (mode != APIC_NMI && vector < 16)
        return 0;                   /* an illegal vector: no APIC would accept it */
    struct apic_message m = {
        .vector = vector, .delivery_mode = mode,
        .logical = address & (1u << 2),     /* DM, whatever RH says: Linux's flat mode */
        .level_triggered = data & (1u << 15), .assert = true,
        .destination = (address >> 12) & 0xff, .source = APIC_BUS_FROM_IOAPIC,
    };
    return apic_bus_deliver(bus, &m);
}

void apic_bus_send_ipi(void *context, const struct lapic_ipi *ipi)
{
    struct apic_message m = {
        .vector = ipi->vector, .delivery_mode = ipi->delivery_mode, .shorthand = ipi->shorthand,
        .logical = ipi->logical, .level_triggered = ipi->level_triggered, .assert = ipi->assert,
        .destination = ipi->destination, .source = ipi->source, .source_done = ipi->delivered_here,
    };
    apic_bus_deliver(context, &m);
}
