/*
 * Device interrupt lines 0..15 (the ISA IRQs): through the I/O APIC when the MADT lists
 * one, else through the legacy 8259 pair (apic.c).  Each line arrives at vector
 * VECTOR_IRQ_BASE + line on CPU 0, on the global system interrupt and with the polarity
 * and trigger mode that the MADT's overrides give it (the timer's IRQ 0 is on GSI 2 on
 * QEMU and Bochs).  Once the I/O APIC is in charge the 8259 is masked whole and so is
 * LINT0, its way into the local APIC.  The I/O APIC's page is the kernel's: it is kept
 * out of the device memory user space gets (boot.c), as the local APIC's is.
 *
 * Registers (82093AA datasheet): an index at offset 0, a data window at 0x10; register
 * 1 holds the number of inputs - 1 in bits 16..23; input n's redirection entry is the
 * pair 0x10 + 2n (vector, polarity bit 13, level bit 15, mask bit 16) and 0x11 + 2n
 * (destination APIC ID in bits 24..31; fixed delivery, physical destination).
 */
#include "arch.h"
#include "x86.h"
#include "../../kernel/acpi.h"

#define IOAPIC_VERSION      0x01
#define IOAPIC_REDIRECT     0x10
#define RTE_ACTIVE_LOW      (1u << 13)
#define RTE_LEVEL           (1u << 15)
#define RTE_MASKED          (1u << 16)

static struct {
    volatile uint32_t *regs;    /* NULL: the 8259 delivers the lines */
    uint64_t phys;
    unsigned inputs;
    uint32_t gsi[ACPI_ISA_IRQS];
    uint32_t low[ACPI_ISA_IRQS];    /* each line's entry, unmasked */
} io;

/* Open: a driver waits for the line's next interrupt (it acknowledged the last one). */
static struct { bool open, pending; } line_state[ACPI_ISA_IRQS];

static uint32_t ioapic_read(unsigned reg)
{
    io.regs[0] = reg;
    return io.regs[4];
}

static void ioapic_write(unsigned reg, uint32_t value)
{
    io.regs[0] = reg;
    io.regs[4] = value;
}

/* An override may give a polarity or trigger mode; otherwise ISA's: high, edge. */
static uint32_t entry_low(unsigned line, uint16_t flags)
{
    uint32_t low = VECTOR_IRQ_BASE + line;
    if ((flags & ACPI_INTI_POLARITY_MASK) == ACPI_INTI_ACTIVE_LOW)
        low |= RTE_ACTIVE_LOW;
    if ((flags & ACPI_INTI_TRIGGER_MASK) == ACPI_INTI_LEVEL)
        low |= RTE_LEVEL;
    return low;
}

/* A line keeps its own GSI unless another line was moved onto it (IRQ 0 onto GSI 2,
 * where the 8259's cascade would be): then nothing arrives on it. */
static uint32_t gsi_of(const struct acpi_cpus *found, unsigned line)
{
    uint32_t gsi = found->isa[line].gsi;
    for (unsigned other = 0; other < ACPI_ISA_IRQS; other++)
        if (other != line && found->isa[other].gsi == gsi && gsi != other)
            return UINT32_MAX;
    return gsi;
}

void irq_controller_init(const struct acpi_cpus *found, uint32_t destination_apic_id)
{
    if (!found || !found->ioapic_phys) {
        kprintf("irq: 8259 (no I/O APIC in the ACPI tables)\n");
        return;
    }
    io.regs = phys_to_virt(found->ioapic_phys);
    io.inputs = ((ioapic_read(IOAPIC_VERSION) >> 16) & 0xff) + 1;
    for (unsigned n = 0; n < io.inputs; n++)
        ioapic_write(IOAPIC_REDIRECT + 2 * n, RTE_MASKED);
    for (unsigned line = 0; line < ACPI_ISA_IRQS; line++) {
        io.gsi[line] = gsi_of(found, line);
        io.low[line] = entry_low(line, found->isa[line].flags);
        if (io.gsi[line] >= io.inputs)
            continue;
        ioapic_write(IOAPIC_REDIRECT + 2 * io.gsi[line] + 1, destination_apic_id << 24);
    }
    io.phys = found->ioapic_phys;
    pic_disable();
    kprintf("irq: I/O APIC at %lx, %u inputs, IRQ 0 on GSI %u\n", io.phys, io.inputs,
            io.gsi[0]);
}

bool irq_controller_is_ioapic(void) { return io.regs != NULL; }

uint64_t irq_controller_mmio(void) { return io.phys; }

/* A line whose GSI lies beyond the I/O APIC's inputs stays masked: nothing arrives. */
static void set_entry(unsigned line, bool masked)
{
    if (io.gsi[line] < io.inputs)
        ioapic_write(IOAPIC_REDIRECT + 2 * io.gsi[line], io.low[line] | (masked ? RTE_MASKED : 0));
}

/* An edge on a masked I/O APIC input is lost, where the 8259 keeps it in its request
 * register.  So an edge-triggered line is held in software: its input stays unmasked,
 * and the first edge while it is held is remembered (and the input masked, as more
 * would add nothing) and delivered when it opens. */
static bool held_in_software(unsigned line)
{
    return io.regs && !(io.low[line] & RTE_LEVEL);
}

bool irq_line_fired(unsigned line)
{
    bool deliver = line_state[line].open;
    irq_line_hold(line);
    if (!deliver) {             /* one is remembered: more would change nothing */
        line_state[line].pending = true;
        if (io.regs)
            set_entry(line, true);
    }
    if (io.regs)
        lapic_eoi();
    else
        pic_eoi(line);
    return deliver;
}

void irq_line_hold(unsigned line)
{
    line_state[line].open = false;
    if (held_in_software(line))
        return;
    if (io.regs)
        set_entry(line, true);
    else
        pic_mask(line);
}

bool irq_line_open(unsigned line)
{
    line_state[line].open = true;
    if (io.regs)
        set_entry(line, false);
    else
        pic_unmask(line);
    bool pending = line_state[line].pending;
    line_state[line].pending = false;
    return pending;
}

void irq_line_close(unsigned line)
{
    line_state[line].open = false;
    line_state[line].pending = false;
    if (io.regs)
        set_entry(line, true);
    else
        pic_mask(line);
}
