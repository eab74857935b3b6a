/*
 * The cascaded pair of 8259A programmable interrupt controllers (Intel 8259A/8259A-2
 * datasheet) with the per-input edge/level control that PCI-era chipsets added (Intel
 * 82371AB PIIX4 datasheet, ELCR1/ELCR2).  pic_acknowledge stands for the two INTA
 * cycles: it resolves priority, moves the winner from IRR to ISR, and returns the
 * vector the master, or through the cascade the slave, would put on the bus.
 *
 * Priority is fixed, IR0 highest (the state after ICW1).  Not modelled, as no PC guest
 * we run needs them: rotation, special mask mode, poll mode, special fully nested
 * mode, buffered mode and the 8080 call format.
 */
#include "pic8259.h"

#define ICW1            0x10    /* A0=0, D4=1 */
#define ICW1_IC4        0x01
#define ICW1_SNGL       0x02
#define ICW1_LTIM       0x08
#define ICW4_AEOI       0x02
#define OCW3            0x08    /* A0=0, D4=0, D3=1; otherwise OCW2 */
#define OCW3_RR         0x02
#define OCW3_RIS        0x01
#define OCW2_EOI        0x20
#define OCW2_SL         0x40

#define CASCADE_IR      2
#define SPURIOUS_IR     7       /* datasheet: no request left at INTA answers IR7 */

/* PIIX4 ELCR: IRQ 0, 1, 2, 8 and 13 are edge-triggered only, their bits reserved. */
#define ELCR_MASTER_WRITABLE    0xf8
#define ELCR_SLAVE_WRITABLE     0xde

enum { EXPECT_NOTHING, EXPECT_ICW2, EXPECT_ICW3, EXPECT_ICW4 };

static uint8_t chip_level_mask(const struct pic_chip *c)
{
    return c->all_level ? 0xff : c->elcr;
}

/* The IRR as the datasheet means it: latched edges, plus the level inputs held high. */
static uint8_t chip_requests(const struct pic_chip *c)
{
    uint8_t level = chip_level_mask(c);
    return (uint8_t)((c->irr & ~level) | (c->input & level));
}

/* The unmasked request of highest priority above everything in service, or -1. */
static int chip_winner(const struct pic_chip *c, uint8_t requests)
{
    unsigned above_service = c->isr ? (unsigned)(c->isr & -c->isr) - 1 : 0xff;
    unsigned candidates = requests & ~c->imr & above_service;
    for (int ir = 0; ir < 8; ir++)
        if (candidates & (1u << ir))
            return ir;
    return -1;
}

/* The slave's INT is a level on the master's IR2 for as long as it has a winner. */
static uint8_t master_requests(const struct pic *pic)
{
    uint8_t requests = chip_requests(&pic->master) & (uint8_t)~(1u << CASCADE_IR);
    if (chip_winner(&pic->slave, chip_requests(&pic->slave)) >= 0)
        requests |= 1u << CASCADE_IR;
    return requests;
}

static void update_intr(struct pic *pic)
{
    bool level = chip_winner(&pic->master, master_requests(pic)) >= 0;
    if (level != pic->intr_level) {
        pic->intr_level = level;
        irq_line_set(&pic->intr, level);
    }
}

/* Masked until the guest programs it: an unprogrammed chip has no vectors to give.  The
 * pins keep the levels the devices drive. */
static void chip_reset(struct pic_chip *c)
{
    *c = (struct pic_chip){ .imr = 0xff, .input = c->input };
}

/* ICW1 (datasheet, "Initialization Command Words"): clears the IMR and the edge
 * latches, so an input must rise again to be seen; status reads select the IRR. */
static void chip_start_init(struct pic_chip *c, uint8_t icw1)
{
    c->irr = 0;
    c->isr = 0;
    c->imr = 0;
    c->read_isr = false;
    c->auto_eoi = false;
    c->single = icw1 & ICW1_SNGL;
    c->needs_icw4 = icw1 & ICW1_IC4;
    c->all_level = icw1 & ICW1_LTIM;
    c->expect = EXPECT_ICW2;
}

static uint8_t expect_after_icw3(const struct pic_chip *c)
{
    return c->needs_icw4 ? EXPECT_ICW4 : EXPECT_NOTHING;
}

static void chip_write_data(struct pic_chip *c, uint8_t value)
{
    switch (c->expect) {
    case EXPECT_ICW2:
        c->vector_base = value & 0xf8;
        c->expect = c->single ? expect_after_icw3(c) : EXPECT_ICW3;
        break;
    case EXPECT_ICW3:
        c->cascade = value;
        c->expect = expect_after_icw3(c);
        break;
    case EXPECT_ICW4:
        c->auto_eoi = value & ICW4_AEOI;
        c->expect = EXPECT_NOTHING;
        break;
    default:
        c->imr = value;     /* OCW1 */
        break;
    }
}

/* OCW2: only the EOI bit matters without rotation; SL picks the specific level. */
static void chip_eoi(struct pic_chip *c, uint8_t ocw2)
{
    if (!(ocw2 & OCW2_EOI))
        return;
    if (ocw2 & OCW2_SL)
        c->isr &= (uint8_t)~(1u << (ocw2 & 7));
    else
        c->isr &= (uint8_t)(c->isr - 1);    /* the highest priority in service */
}

static void chip_write_command(struct pic_chip *c, uint8_t value)
{
    if (value & ICW1)
        chip_start_init(c, value);
    else if (value & OCW3) {
        if (value & OCW3_RR)
            c->read_isr = value & OCW3_RIS;
    } else
        chip_eoi(c, value);
}

/* Switching an input's trigger drops its stale edge latch. */
static void chip_write_elcr(struct pic_chip *c, uint8_t value, uint8_t writable)
{
    value &= writable;
    c->irr &= (uint8_t)~(c->elcr ^ value);
    c->elcr = value;
}

static void chip_accept(struct pic_chip *c, int ir)
{
    c->irr &= (uint8_t)~(1u << ir);
    if (!c->auto_eoi)
        c->isr |= (uint8_t)(1u << ir);
}

static uint8_t acknowledge_slave(struct pic *pic)
{
    int ir = chip_winner(&pic->slave, chip_requests(&pic->slave));
    if (ir < 0)
        return pic->slave.vector_base | SPURIOUS_IR;
    chip_accept(&pic->slave, ir);
    return (uint8_t)(pic->slave.vector_base | ir);
}

static bool master_has_slave_on_ir2(const struct pic_chip *master)
{
    return !master->single && (master->cascade & (1u << CASCADE_IR));
}

uint8_t pic_acknowledge(struct pic *pic)
{
    int ir = chip_winner(&pic->master, master_requests(pic));
    uint8_t vector;
    if (ir < 0) {
        vector = pic->master.vector_base | SPURIOUS_IR;     /* nothing goes in service */
    } else {
        chip_accept(&pic->master, ir);
        if (ir == CASCADE_IR && master_has_slave_on_ir2(&pic->master))
            vector = acknowledge_slave(pic);
        else
            vector = (uint8_t)(pic->master.vector_base | ir);
    }
    update_intr(pic);
    return vector;
}

void pic_set_irq(void *opaque, unsigned line, bool level)
{
    struct pic *pic = opaque;
    if (line >= 16 || line == CASCADE_IR)
        return;
    struct pic_chip *c = line < 8 ? &pic->master : &pic->slave;
    uint8_t bit = (uint8_t)(1u << (line & 7));
    if (level && !(c->input & bit))
        c->irr |= bit;
    if (level)
        c->input |= bit;
    else
        c->input &= (uint8_t)~bit;
    update_intr(pic);
}

bool pic_has_interrupt(const struct pic *pic)
{
    return pic->intr_level;
}

uint8_t pic_port_read(struct pic *pic, uint16_t port)
{
    switch (port) {
    case 0x20:
        return pic->master.read_isr ? pic->master.isr : master_requests(pic);
    case 0x21:
        return pic->master.imr;
    case 0xa0:
        return pic->slave.read_isr ? pic->slave.isr : chip_requests(&pic->slave);
    case 0xa1:
        return pic->slave.imr;
    case 0x4d0:
        return pic->master.elcr;
    case 0x4d1:
        return pic->slave.elcr;
    default:
        return 0xff;
    }
}

void pic_port_write(struct pic *pic, uint16_t port, uint8_t value)
{
    switch (port) {
    case 0x20:
        chip_write_command(&pic->master, value);
        break;
    case 0x21:
        chip_write_data(&pic->master, value);
        break;
    case 0xa0:
        chip_write_command(&pic->slave, value);
        break;
    case 0xa1:
        chip_write_data(&pic->slave, value);
        break;
    case 0x4d0:
        chip_write_elcr(&pic->master, value, ELCR_MASTER_WRITABLE);
        break;
    case 0x4d1:
        chip_write_elcr(&pic->slave, value, ELCR_SLAVE_WRITABLE);
        break;
    default:
        return;
    }
    update_intr(pic);
}

void pic_init(struct pic *pic, struct irq_line intr)
{
    *pic = (struct pic){ .intr = intr };
    chip_reset(&pic->master);
    chip_reset(&pic->slave);
}

/* A wider access touches consecutive ports, one byte each, as on the ISA bus. */
static uint64_t read_window(struct pic *pic, uint16_t base, uint64_t offset, unsigned size)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < size; i++)
        value |= (uint64_t)pic_port_read(pic, (uint16_t)(base + offset + i)) << (8 * i);
    return value;
}

static void write_window(struct pic *pic, uint16_t base, uint64_t offset, unsigned size,
                         uint64_t value)
{
    for (unsigned i = 0; i < size; i++)
        pic_port_write(pic, (uint16_t)(base + offset + i), (uint8_t)(value >> (8 * i)));
}

static uint64_t master_read(void *dev, uint64_t offset, unsigned size)
{
    return read_window(dev, 0x20, offset, size);
}

static void master_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    write_window(dev, 0x20, offset, size, value);
}

static uint64_t slave_read(void *dev, uint64_t offset, unsigned size)
{
    return read_window(dev, 0xa0, offset, size);
}

static void slave_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    write_window(dev, 0xa0, offset, size, value);
}

static uint64_t elcr_read(void *dev, uint64_t offset, unsigned size)
{
    return read_window(dev, 0x4d0, offset, size);
}

static void elcr_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    write_window(dev, 0x4d0, offset, size, value);
}

/* One reset for the pair; the three windows share it, and running it twice is harmless. */
static void pic_reset(void *dev)
{
    struct pic *pic = dev;
    chip_reset(&pic->master);
    chip_reset(&pic->slave);
    update_intr(pic);
}

const struct device_ops pic_master_ops = { "pic-master", master_read, master_write, pic_reset };
const struct device_ops pic_slave_ops = { "pic-slave", slave_read, slave_write, pic_reset };
const struct device_ops pic_elcr_ops = { "pic-elcr", elcr_read, elcr_write, pic_reset };
