/*
 * I/O APIC (82093AA datasheet).  An edge-triggered pin sends one message per rising
 * edge; a level-triggered pin sends one and then waits, remote IRR set, until a local
 * APIC's EOI for that vector comes back; if the pin is still asserted it sends again.
 */
#include "ioapic.h"

/* Version register (§3.2.2): 82093AA version 0x11, highest entry 23 in bits 23:16.
 * Below 0x20 there is no EOI register, so Linux relies on the LAPIC's EOI broadcast. */
#define VERSION_VALUE           (0x11u | ((IOAPIC_PINS - 1u) << 16))
#define ID_MASK                 0x0f000000u

/* Vector, delivery mode, destination mode, polarity, trigger, mask; delivery status
 * and remote IRR are the I/O APIC's own. */
#define RTE_LOW_WRITABLE        0x1afffull
#define RTE_HIGH_WRITABLE       0xff00000000000000ull

void ioapic_reset(struct ioapic *io)
{
    io->id = io->initial_id;
    io->select = 0;
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
        io->redirection[pin] = IOAPIC_MASKED;   /* §3.2.4: masked after reset */
}

void ioapic_init(struct ioapic *io, uint8_t id,
                 bool (*deliver)(void *ctx, const struct ioapic_message *m), void *ctx)
{
    *io = (struct ioapic){ .initial_id = id & 0xf, .deliver = deliver, .ctx = ctx };
    ioapic_reset(io);
}

static bool is_asserted(const struct ioapic *io, unsigned pin)
{
    return (io->asserted >> pin) & 1;
}

static void send(struct ioapic *io, unsigned pin)
{
    uint64_t *rte = &io->redirection[pin];
    struct ioapic_message m = {
        .vector = *rte & IOAPIC_VECTOR_MASK,
        .delivery_mode = (*rte >> IOAPIC_DELIVERY_SHIFT) & 7,
        .destination = (uint8_t)(*rte >> IOAPIC_DEST_SHIFT),
        .logical = *rte & IOAPIC_LOGICAL,
        .level_triggered = *rte & IOAPIC_LEVEL_TRIGGERED,
        .pin = pin,
    };
    bool accepted = io->deliver && io->deliver(io->ctx, &m);
    if (m.level_triggered && accepted)
        *rte |= IOAPIC_REMOTE_IRR;
}

static void service_level(struct ioapic *io, unsigned pin)
{
    uint64_t rte = io->redirection[pin];
    if ((rte & IOAPIC_LEVEL_TRIGGERED) && !(rte & (IOAPIC_MASKED | IOAPIC_REMOTE_IRR)) &&
        is_asserted(io, pin))
        send(io, pin);
}

/* §3.2.4: an edge on a masked pin is ignored, not held pending. */
void ioapic_set_irq(void *ioapic, unsigned pin, bool level)
{
    struct ioapic *io = ioapic;
    if (pin >= IOAPIC_PINS)
        return;
    bool rising = level && !is_asserted(io, pin);
    io->asserted = level ? io->asserted | 1u << pin : io->asserted & ~(1u << pin);
    uint64_t rte = io->redirection[pin];
    if (rte & IOAPIC_LEVEL_TRIGGERED)
        service_level(io, pin);
    else if (rising && !(rte & IOAPIC_MASKED))
        send(io, pin);
}

void ioapic_eoi(void *ioapic, uint8_t vector)
{
    struct ioapic *io = ioapic;
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t *rte = &io->redirection[pin];
        if ((*rte & IOAPIC_REMOTE_IRR) && (*rte & IOAPIC_VECTOR_MASK) == vector) {
            *rte &= ~IOAPIC_REMOTE_IRR;
            service_level(io, pin);
        }
    }
}

/* Unmasking an asserted level pin sends at once; remote IRR means nothing for an
 * edge-triggered pin, so going to edge clears it. */
static void write_redirection(struct ioapic *io, unsigned pin, bool high, uint32_t value)
{
    uint64_t *rte = &io->redirection[pin];
    if (high) {
        *rte = (*rte & ~RTE_HIGH_WRITABLE) | ((uint64_t)value << 32 & RTE_HIGH_WRITABLE);
        return;
    }
    *rte = (*rte & ~RTE_LOW_WRITABLE) | (value & RTE_LOW_WRITABLE);
    if (!(*rte & IOAPIC_LEVEL_TRIGGERED))
        *rte &= ~IOAPIC_REMOTE_IRR;
    service_level(io, pin);
}

static bool redirection_register(uint8_t reg, unsigned *pin, bool *high)
{
    if (reg < IOAPIC_REG_REDIRECTION || reg >= IOAPIC_REG_REDIRECTION + 2 * IOAPIC_PINS)
        return false;
    *pin = (reg - IOAPIC_REG_REDIRECTION) / 2;
    *high = reg & 1;
    return true;
}

static uint32_t read_register(const struct ioapic *io, uint8_t reg)
{
    unsigned pin;
    bool high;
    switch (reg) {
    case IOAPIC_REG_ID:
    case IOAPIC_REG_ARBITRATION:        /* §3.2.3: loaded from the ID */
        return (uint32_t)io->id << 24;
    case IOAPIC_REG_VERSION:
        return VERSION_VALUE;
    default:
        if (!redirection_register(reg, &pin, &high))
            return 0;
        return high ? (uint32_t)(io->redirection[pin] >> 32) : (uint32_t)io->redirection[pin];
    }
}

static void write_register(struct ioapic *io, uint8_t reg, uint32_t value)
{
    unsigned pin;
    bool high;
    if (reg == IOAPIC_REG_ID)
        io->id = (value & ID_MASK) >> 24;
    else if (redirection_register(reg, &pin, &high))
        write_redirection(io, pin, high, value);
}

static uint64_t ioapic_read(void *dev, uint64_t offset, unsigned size)
{
    struct ioapic *io = dev;
    (void)size;
    if (offset == IOAPIC_IOREGSEL)
        return io->select;
    if (offset == IOAPIC_IOWIN)
        return read_register(io, io->select);
    return 0;
}

static void ioapic_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct ioapic *io = dev;
    (void)size;
    if (offset == IOAPIC_IOREGSEL)
        io->select = (uint8_t)value;
    else if (offset == IOAPIC_IOWIN)
        write_register(io, io->select, (uint32_t)value);
}

static void ioapic_ops_reset(void *dev)
{
    ioapic_reset(dev);
}

const struct device_ops ioapic_ops = { "ioapic", ioapic_read, ioapic_write, ioapic_ops_reset };
