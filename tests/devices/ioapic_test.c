/* The I/O APIC: registers, redirection entries, edge and level delivery, EOI. */
#include "harness.h"
#include "dev/ioapic.h"

static struct ioapic_message sent[8];
static int count;
static bool refuse;

static bool record(void *ctx, const struct ioapic_message *m)
{
    (void)ctx;
    if (count < 8)
        sent[count] = *m;
    count++;
    return !refuse;
}

static void make(struct ioapic *io)
{
    ioapic_init(io, 1, record, NULL);
    count = 0;
    refuse = false;
}

static uint32_t reg_read(struct ioapic *io, uint8_t reg)
{
    ioapic_ops.write(io, IOAPIC_IOREGSEL, 4, reg);
    return (uint32_t)ioapic_ops.read(io, IOAPIC_IOWIN, 4);
}

static void reg_write(struct ioapic *io, uint8_t reg, uint32_t value)
{
    ioapic_ops.write(io, IOAPIC_IOREGSEL, 4, reg);
    ioapic_ops.write(io, IOAPIC_IOWIN, 4, value);
}

static void route(struct ioapic *io, unsigned pin, uint32_t low, uint8_t dest)
{
    reg_write(io, IOAPIC_REG_REDIRECTION + 2 * pin + 1, (uint32_t)dest << 24);
    reg_write(io, IOAPIC_REG_REDIRECTION + 2 * pin, low);
}

static void identification_registers(void)
{
    struct ioapic io;
    make(&io);
    CHECK_EQ(reg_read(&io, IOAPIC_REG_ID), 1u << 24);
    CHECK_EQ(reg_read(&io, IOAPIC_REG_VERSION), 0x00170011);     /* 24 entries, 82093AA */
    CHECK_EQ(reg_read(&io, IOAPIC_REG_ARBITRATION), 1u << 24);
    reg_write(&io, IOAPIC_REG_ID, 0xff000000);
    CHECK_EQ(reg_read(&io, IOAPIC_REG_ID), 0x0f000000);          /* 4-bit ID */
    reg_write(&io, IOAPIC_REG_VERSION, 0);
    CHECK_EQ(reg_read(&io, IOAPIC_REG_VERSION), 0x00170011);
    CHECK_EQ(ioapic_ops.read(&io, IOAPIC_IOREGSEL, 4), IOAPIC_REG_VERSION);
    CHECK_EQ(reg_read(&io, 0x40), 0);                           /* past the table */
    CHECK_EQ(ioapic_ops.read(&io, 0x20, 4), 0);
    ioapic_ops.reset(&io);
    CHECK_EQ(reg_read(&io, IOAPIC_REG_ID), 1u << 24);
}

static void redirection_entries(void)
{
    struct ioapic io;
    make(&io);
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
        CHECK_EQ(reg_read(&io, IOAPIC_REG_REDIRECTION + 2 * pin), IOAPIC_MASKED);
    reg_write(&io, IOAPIC_REG_REDIRECTION + 2 * 23, 0xffffffff);
    CHECK_EQ(reg_read(&io, IOAPIC_REG_REDIRECTION + 2 * 23), 0x1afff);  /* no status, no remote IRR */
    reg_write(&io, IOAPIC_REG_REDIRECTION + 2 * 23 + 1, 0xffffffff);
    CHECK_EQ(reg_read(&io, IOAPIC_REG_REDIRECTION + 2 * 23 + 1), 0xff000000);
    CHECK_EQ(reg_read(&io, IOAPIC_REG_REDIRECTION + 2 * 22), IOAPIC_MASKED);
}

static void edge_pin(void)
{
    struct ioapic io;
    make(&io);
    route(&io, 4, 0x24, 0);
    ioapic_set_irq(&io, 4, true);
    CHECK_EQ(count, 1);
    CHECK_EQ(sent[0].vector, 0x24);
    CHECK(!sent[0].level_triggered);
    CHECK_EQ(sent[0].pin, 4);
    ioapic_set_irq(&io, 4, true);                   /* held high: no new edge */
    CHECK_EQ(count, 1);
    ioapic_set_irq(&io, 4, false);
    ioapic_set_irq(&io, 4, true);
    CHECK_EQ(count, 2);
    CHECK(!(reg_read(&io, IOAPIC_REG_REDIRECTION + 8) & IOAPIC_REMOTE_IRR));
    ioapic_set_irq(&io, 4, false);
    route(&io, 4, IOAPIC_MASKED | 0x24, 0);
    ioapic_set_irq(&io, 4, true);                   /* masked edges are lost */
    route(&io, 4, 0x24, 0);
    CHECK_EQ(count, 2);
}

static void level_pin_and_eoi(void)
{
    struct ioapic io;
    make(&io);
    route(&io, 9, IOAPIC_LEVEL_TRIGGERED | 0x39, 0);
    ioapic_set_irq(&io, 9, true);
    CHECK_EQ(count, 1);
    CHECK(sent[0].level_triggered);
    CHECK(reg_read(&io, IOAPIC_REG_REDIRECTION + 18) & IOAPIC_REMOTE_IRR);
    ioapic_set_irq(&io, 9, false);
    ioapic_set_irq(&io, 9, true);                   /* remote IRR holds it off */
    CHECK_EQ(count, 1);
    ioapic_eoi(&io, 0x38);                          /* another vector */
    CHECK_EQ(count, 1);
    ioapic_eoi(&io, 0x39);                          /* still asserted: sent again */
    CHECK_EQ(count, 2);
    CHECK(reg_read(&io, IOAPIC_REG_REDIRECTION + 18) & IOAPIC_REMOTE_IRR);
    ioapic_set_irq(&io, 9, false);
    ioapic_eoi(&io, 0x39);
    CHECK_EQ(count, 2);
    CHECK(!(reg_read(&io, IOAPIC_REG_REDIRECTION + 18) & IOAPIC_REMOTE_IRR));
}

static void unmask_asserted_level_pin(void)
{
    struct ioapic io;
    make(&io);
    route(&io, 11, IOAPIC_MASKED | IOAPIC_LEVEL_TRIGGERED | 0x3b, 0);
    ioapic_set_irq(&io, 11, true);
    CHECK_EQ(count, 0);
    route(&io, 11, IOAPIC_LEVEL_TRIGGERED | 0x3b, 0);
    CHECK_EQ(count, 1);
    route(&io, 11, 0x3b, 0);                        /* to edge: remote IRR goes */
    CHECK(!(reg_read(&io, IOAPIC_REG_REDIRECTION + 22) & IOAPIC_REMOTE_IRR));
}

static void message_fields(void)
{
    struct ioapic io;
    make(&io);
    route(&io, 0, (7u << IOAPIC_DELIVERY_SHIFT), 0);             /* ExtINT to the 8259 */
    route(&io, 1, IOAPIC_LOGICAL | (1u << IOAPIC_DELIVERY_SHIFT) | IOAPIC_ACTIVE_LOW | 0x51, 0x0c);
    route(&io, 2, (4u << IOAPIC_DELIVERY_SHIFT), 3);              /* NMI */
    ioapic_set_irq(&io, 0, true);
    ioapic_set_irq(&io, 1, true);
    ioapic_set_irq(&io, 2, true);
    CHECK_EQ(count, 3);
    CHECK_EQ(sent[0].delivery_mode, 7);
    CHECK_EQ(sent[1].delivery_mode, 1);
    CHECK(sent[1].logical);
    CHECK_EQ(sent[1].destination, 0x0c);
    CHECK_EQ(sent[1].vector, 0x51);
    CHECK_EQ(sent[2].delivery_mode, 4);
    CHECK_EQ(sent[2].destination, 3);
    CHECK(!sent[2].logical);
}

static void shared_vector_eoi(void)
{
    struct ioapic io;
    make(&io);
    route(&io, 16, IOAPIC_LEVEL_TRIGGERED | 0x60, 0);
    route(&io, 17, IOAPIC_LEVEL_TRIGGERED | 0x60, 0);
    ioapic_set_irq(&io, 16, true);
    ioapic_set_irq(&io, 17, true);
    CHECK_EQ(count, 2);
    ioapic_set_irq(&io, 16, false);
    ioapic_eoi(&io, 0x60);                          /* one EOI clears both; 17 is still up */
    CHECK_EQ(count, 3);
    CHECK_EQ(sent[2].pin, 17);
    CHECK(!(reg_read(&io, IOAPIC_REG_REDIRECTION + 32) & IOAPIC_REMOTE_IRR));
}

static void refused_message_sets_no_remote_irr(void)
{
    struct ioapic io;
    make(&io);
    refuse = true;
    route(&io, 5, IOAPIC_LEVEL_TRIGGERED | 0x45, 0);
    ioapic_set_irq(&io, 5, true);
    CHECK_EQ(count, 1);
    CHECK(!(reg_read(&io, IOAPIC_REG_REDIRECTION + 10) & IOAPIC_REMOTE_IRR));
    refuse = false;
    route(&io, 5, IOAPIC_LEVEL_TRIGGERED | 0x45, 0);              /* rewriting retries */
    CHECK_EQ(count, 2);
    CHECK(reg_read(&io, IOAPIC_REG_REDIRECTION + 10) & IOAPIC_REMOTE_IRR);
    ioapic_set_irq(&io, 24, true);                  /* no such pin */
    ioapic_set_irq(&io, 1000, true);
    CHECK_EQ(count, 2);
}

static void irq_line_wiring(void)
{
    struct ioapic io;
    make(&io);
    route(&io, 3, 0x33, 0);
    struct irq_line line = { ioapic_set_irq, &io, 3 };
    irq_line_pulse(&line);
    CHECK_EQ(count, 1);
    CHECK_EQ(sent[0].vector, 0x33);
}

DEVICE_TESTS(ioapic,
    { "ioapic_identification_registers", identification_registers },
    { "ioapic_redirection_entries", redirection_entries },
    { "ioapic_edge_pin", edge_pin },
    { "ioapic_level_pin_and_eoi", level_pin_and_eoi },
    { "ioapic_unmask_asserted_level_pin", unmask_asserted_level_pin },
    { "ioapic_message_fields", message_fields },
    { "ioapic_shared_vector_eoi", shared_vector_eoi },
    { "ioapic_refused_message", refused_message_sets_no_remote_irr },
    { "ioapic_irq_line_wiring", irq_line_wiring },
)
