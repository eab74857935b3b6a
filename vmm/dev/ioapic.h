/*
 * The I/O APIC (Intel 82093AA datasheet): 24 input pins, each with a redirection
 * entry that turns an assertion into an interrupt message for the local APICs.
 * Registers are reached indirectly: IOREGSEL at +0x00 picks one, IOWIN at +0x10
 * reads or writes it.
 *
 * Inputs are in asserted/deasserted terms: the VMM's devices say "asserted", so the
 * entry's polarity bit is kept for the guest to read back but not applied.
 */
#ifndef VMM_IOAPIC_H
#define VMM_IOAPIC_H

#include "device.h"

#define IOAPIC_DEFAULT_BASE     0xfec00000u
#define IOAPIC_WINDOW_SIZE      0x1000u
#define IOAPIC_PINS             24
#define IOAPIC_IOREGSEL         0x00
#define IOAPIC_IOWIN            0x10

/* Register indexes behind IOREGSEL (datasheet §3.2) */
#define IOAPIC_REG_ID           0x00
#define IOAPIC_REG_VERSION      0x01
#define IOAPIC_REG_ARBITRATION  0x02
#define IOAPIC_REG_REDIRECTION  0x10    /* pin n: low dword 0x10 + 2n, high 0x11 + 2n */

/* Redirection entry bits (datasheet §3.2.4) */
#define IOAPIC_VECTOR_MASK      0xffull
#define IOAPIC_DELIVERY_SHIFT   8
#define IOAPIC_LOGICAL          (1ull << 11)
#define IOAPIC_DELIVERY_STATUS  (1ull << 12)
#define IOAPIC_ACTIVE_LOW       (1ull << 13)
#define IOAPIC_REMOTE_IRR       (1ull << 14)
#define IOAPIC_LEVEL_TRIGGERED  (1ull << 15)
#define IOAPIC_MASKED           (1ull << 16)
#define IOAPIC_DEST_SHIFT       56

/* An interrupt message on its way to the local APICs. */
struct ioapic_message {
    uint8_t vector;
    uint8_t delivery_mode;      /* 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT */
    uint8_t destination;        /* APIC ID, or logical mask when logical */
    bool logical;
    bool level_triggered;
    unsigned pin;
};

struct ioapic {
    uint8_t id, initial_id;
    uint8_t select;                             /* IOREGSEL */
    uint64_t redirection[IOAPIC_PINS];
    uint32_t asserted;                          /* bit n: pin n is asserted */
    /* true when a local APIC took the message; only then is remote IRR set */
    bool (*deliver)(void *ctx, const struct ioapic_message *m);
    void *ctx;
};

extern const struct device_ops ioapic_ops;      /* window: IOAPIC_WINDOW_SIZE at its base */

void ioapic_init(struct ioapic *io, uint8_t id,
                 bool (*deliver)(void *ctx, const struct ioapic_message *m), void *ctx);
void ioapic_reset(struct ioapic *io);

/* With an irq_line's signature: struct irq_line { ioapic_set_irq, &ioapic, pin }. */
void ioapic_set_irq(void *ioapic, unsigned pin, bool level);
/* With lapic_config.eoi_broadcast's signature: an EOI for vector reached the bus. */
void ioapic_eoi(void *ioapic, uint8_t vector);

#endif
