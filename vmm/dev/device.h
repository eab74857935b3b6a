/*
 * The interface every emulated platform device has, so that adding a device touches
 * its own file and one table in the VMM: register accesses (port or MMIO, an offset
 * into the device's window), interrupt lines it drives, and reset.  Device models are
 * pure: time comes in as an argument (nanoseconds of guest time), interrupts go out
 * through an irq_line, so every model is unit-tested on the host.
 */
#ifndef VMM_DEVICE_H
#define VMM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a device's interrupt output goes (the PIC, the IOAPIC, a test). */
struct irq_line {
    void (*set)(void *ctx, unsigned line, bool level);
    void *ctx;
    unsigned line;
};

static inline void irq_line_set(const struct irq_line *l, bool level)
{
    if (l->set)
        l->set(l->ctx, l->line, level);
}

/* An edge: raise and lower at once (what an edge-triggered input sees). */
static inline void irq_line_pulse(const struct irq_line *l)
{
    irq_line_set(l, true);
    irq_line_set(l, false);
}

struct device_ops {
    const char *name;
    /* offset: from the start of the device's window; size: 1, 2, 4 or 8 bytes */
    uint64_t (*read)(void *dev, uint64_t offset, unsigned size);
    void (*write)(void *dev, uint64_t offset, unsigned size, uint64_t value);
    void (*reset)(void *dev);
};

/* One window of a device in the guest's port or physical address space. */
struct device_window {
    uint64_t base, length;
    const struct device_ops *ops;
    void *dev;
};

#endif
