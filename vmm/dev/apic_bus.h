/*
 * The APIC bus between the local APICs of a guest's vCPUs and its I/O APIC (Intel SDM
 * Vol. 3A §10.6 "Issuing Interprocessor Interrupts", §10.6.2 "Determining IPI
 * Destination"; 82093AA datasheet §3.2.4): a message names its destinations by
 * shorthand (self, all, all but self), by physical APIC ID (0xff: everyone) or by a
 * logical address that each local APIC matches against its LDR and DFR (flat or
 * cluster); lowest-priority messages go to the one destination whose processor
 * priority is lowest (ties in turn); fixed and lowest-priority messages set IRR, NMI
 * sets the NMI line, INIT resets the local APIC and the VMM puts the vCPU into
 * wait-for-SIPI, a start-up IPI starts a waiting vCPU at vector << 12.
 *
 * Local APIC n is the one with APIC ID n (the vCPU index).  Pure: the VMM supplies
 * the INIT and start-up actions.
 */
#ifndef VMM_APIC_BUS_H
#define VMM_APIC_BUS_H

#include "lapic.h"

#define APIC_BUS_MAX            8
#define APIC_BUS_FROM_IOAPIC    0xffffffffu     /* apic_message.source of an I/O APIC message */

enum { APIC_SHORTHAND_NONE, APIC_SHORTHAND_SELF, APIC_SHORTHAND_ALL, APIC_SHORTHAND_OTHERS };

/* One message on the bus: an ICR write or an I/O APIC redirection. */
struct apic_message {
    uint8_t vector;
    uint8_t delivery_mode;      /* enum apic_delivery_mode */
    uint8_t shorthand;          /* APIC_SHORTHAND_* (an I/O APIC sends none) */
    bool logical;
    bool level_triggered;
    bool assert;                /* false: an INIT level de-assert, which only resynchronises */
    uint32_t destination;       /* 8 bits in xAPIC mode */
    uint32_t source;            /* APIC ID of the sender, or APIC_BUS_FROM_IOAPIC */
    bool source_done;           /* the sender already took its own copy */
};

struct apic_bus {
    struct lapic *lapic[APIC_BUS_MAX];
    unsigned count;
    unsigned next_lowest;       /* where the next lowest-priority tie starts */
    void (*init)(void *ctx, unsigned index);
    void (*startup)(void *ctx, unsigned index, uint8_t vector);
    void *ctx;
};

/* The local APICs the message is for (bit n: APIC ID n), before lowest-priority
 * arbitration. */
uint32_t apic_bus_destinations(const struct apic_bus *bus, const struct apic_message *m);

/* Delivers the message; returns the APICs that took it (a refused fixed vector, a
 * disabled APIC, a de-assert or an unknown delivery mode take nothing). */
uint32_t apic_bus_deliver(struct apic_bus *bus, const struct apic_message *m);

/* A message signalled interrupt (SDM Vol. 3A §10.11): the write of `data` to `address`
 * in 0xfee00000-0xfeefffff.  Address bits 19:12 are the destination, bit 2 (DM) makes
 * it a logical one whether or not bit 3 (RH) is set, as chipsets and other VMMs
 * treat it (Linux's logical flat mode sends DM without RH); data bits 7:0 the vector,
 * 10:8 the delivery mode, 15 the trigger mode.  Fixed, lowest-priority and NMI messages are delivered; anything else
 * (SMI, INIT, start-up, ExtINT, an address outside the range, a vector below 16) is
 * dropped.  Returns the APICs that took it. */
#define APIC_MSI_BASE           0xfee00000u
uint32_t apic_bus_msi(struct apic_bus *bus, uint64_t address, uint32_t data);

/* With lapic_config.send_ipi's signature (ctx: the bus). */
void apic_bus_send_ipi(void *bus, const struct lapic_ipi *ipi);

#endif
