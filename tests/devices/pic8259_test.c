/* The 8259A pair: Linux's initialisation, cascade delivery, priority, EOI, masking,
 * edge and level inputs, spurious interrupts, auto-EOI, and the register reads. */
#include "harness.h"
#include "dev/pic8259.h"

struct intr_probe {
    bool level;
    unsigned rises;
};

static void probe_set(void *ctx, unsigned line, bool level)
{
    struct intr_probe *p = ctx;
    (void)line;
    if (level && !p->level)
        p->rises++;
    p->level = level;
}

static struct intr_probe probe;

static void out(struct pic *pic, uint16_t port, uint8_t value)
{
    pic_port_write(pic, port, value);
}

static uint8_t in(struct pic *pic, uint16_t port)
{
    return pic_port_read(pic, port);
}

/* arch/x86/kernel/i8259.c, init_8259A: ICW1 0x11, vectors 0x30/0x38, slave on IR2,
 * 8086 mode, auto-EOI on the master only if asked; then all masked but the cascade. */
static void linux_init(struct pic *pic, bool auto_eoi)
{
    probe = (struct intr_probe){ 0 };
    pic_init(pic, (struct irq_line){ probe_set, &probe, 0 });
    out(pic, 0x21, 0xff);
    out(pic, 0x20, 0x11);
    out(pic, 0x21, 0x30);
    out(pic, 0x21, 0x04);
    out(pic, 0x21, auto_eoi ? 0x03 : 0x01);
    out(pic, 0xa0, 0x11);
    out(pic, 0xa1, 0x38);
    out(pic, 0xa1, 0x02);
    out(pic, 0xa1, 0x01);
    out(pic, 0x21, 0xfb);
    out(pic, 0xa1, 0xff);
}

static uint8_t read_isr(struct pic *pic, uint16_t command_port)
{
    out(pic, command_port, 0x0b);
    return in(pic, command_port);
}

static uint8_t read_irr(struct pic *pic, uint16_t command_port)
{
    out(pic, command_port, 0x0a);
    return in(pic, command_port);
}

static void pulse(struct pic *pic, unsigned line)
{
    pic_set_irq(pic, line, true);
    pic_set_irq(pic, line, false);
}

static void cascade_delivers_irq9(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0xa1, 0xfd);                  /* unmask IRQ 9 */
    CHECK(!pic_has_interrupt(&pic));
    pulse(&pic, 9);
    CHECK(pic_has_interrupt(&pic));
    CHECK(probe.level);
    CHECK_EQ(pic_acknowledge(&pic), 0x39);
    CHECK(!pic_has_interrupt(&pic));
    CHECK_EQ(read_isr(&pic, 0x20), 0x04);   /* the cascade is in service on the master */
    CHECK_EQ(read_isr(&pic, 0xa0), 0x02);
    out(&pic, 0xa0, 0x61);                  /* specific EOI, as Linux sends them */
    out(&pic, 0x20, 0x62);
    CHECK_EQ(read_isr(&pic, 0x20), 0);
    CHECK_EQ(read_isr(&pic, 0xa0), 0);
}

static void priority_and_nesting(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0x21, 0x00);
    pulse(&pic, 3);
    pulse(&pic, 1);
    CHECK_EQ(pic_acknowledge(&pic), 0x31);  /* IR1 outranks IR3 */
    CHECK(!pic_has_interrupt(&pic));        /* IR3 waits behind IR1 in service */
    pulse(&pic, 0);
    CHECK(pic_has_interrupt(&pic));         /* IR0 nests above IR1 */
    CHECK_EQ(pic_acknowledge(&pic), 0x30);
    CHECK_EQ(read_isr(&pic, 0x20), 0x03);
    out(&pic, 0x20, 0x20);                  /* non-specific EOI ends IR0, the highest */
    CHECK_EQ(read_isr(&pic, 0x20), 0x02);
    CHECK(!pic_has_interrupt(&pic));
    out(&pic, 0x20, 0x20);
    CHECK(pic_has_interrupt(&pic));
    CHECK_EQ(pic_acknowledge(&pic), 0x33);
}

static void slave_priority_sits_at_ir2(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0x21, 0x00);
    out(&pic, 0xa1, 0x00);
    pulse(&pic, 3);
    pulse(&pic, 12);
    pulse(&pic, 8);
    CHECK_EQ(pic_acknowledge(&pic), 0x38);  /* IRQ 8-15 rank between IRQ 1 and IRQ 3 */
    CHECK(!pic_has_interrupt(&pic));        /* the master holds IR2 in service */
    out(&pic, 0xa0, 0x20);
    out(&pic, 0x20, 0x20);
    CHECK_EQ(pic_acknowledge(&pic), 0x3c);
    out(&pic, 0xa0, 0x20);
    out(&pic, 0x20, 0x20);
    CHECK_EQ(pic_acknowledge(&pic), 0x33);
}

static void mask_holds_request_in_irr(void)
{
    struct pic pic;
    linux_init(&pic, false);
    pulse(&pic, 4);
    CHECK(!pic_has_interrupt(&pic));
    CHECK_EQ(read_irr(&pic, 0x20) & 0x10, 0x10);
    CHECK_EQ(in(&pic, 0x21), 0xfb);
    out(&pic, 0x21, 0xeb);
    CHECK(pic_has_interrupt(&pic));
    CHECK_EQ(probe.rises, 1);
    CHECK_EQ(pic_acknowledge(&pic), 0x34);
    CHECK_EQ(read_irr(&pic, 0x20) & 0x10, 0);
}

static void edge_input_fires_once(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0x21, 0x00);
    pic_set_irq(&pic, 4, true);
    CHECK_EQ(pic_acknowledge(&pic), 0x34);
    out(&pic, 0x20, 0x20);
    CHECK(!pic_has_interrupt(&pic));        /* still high, but no new edge */
    pic_set_irq(&pic, 4, false);
    pic_set_irq(&pic, 4, true);
    CHECK(pic_has_interrupt(&pic));
}

static void level_input_follows_line(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0x21, 0x00);
    out(&pic, 0xa1, 0x00);
    out(&pic, 0x4d0, 0xff);
    out(&pic, 0x4d1, 0xff);
    CHECK_EQ(in(&pic, 0x4d0), 0xf8);        /* IRQ 0-2 cannot be level-triggered */
    CHECK_EQ(in(&pic, 0x4d1), 0xde);        /* nor IRQ 8 and 13 */
    pic_set_irq(&pic, 11, true);
    CHECK_EQ(pic_acknowledge(&pic), 0x3b);
    out(&pic, 0xa0, 0x20);
    out(&pic, 0x20, 0x20);
    CHECK(pic_has_interrupt(&pic));         /* the device still asserts it */
    CHECK_EQ(pic_acknowledge(&pic), 0x3b);
    pic_set_irq(&pic, 11, false);
    out(&pic, 0xa0, 0x20);
    out(&pic, 0x20, 0x20);
    CHECK(!pic_has_interrupt(&pic));
    CHECK_EQ(read_irr(&pic, 0xa0), 0);
}

static void vanished_request_is_spurious_irq7(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0x21, 0x00);
    out(&pic, 0x4d0, 0x20);
    pic_set_irq(&pic, 5, true);
    CHECK(pic_has_interrupt(&pic));
    pic_set_irq(&pic, 5, false);            /* gone before the INTA cycles */
    CHECK(!pic_has_interrupt(&pic));
    CHECK(!probe.level);
    CHECK_EQ(pic_acknowledge(&pic), 0x37);
    CHECK_EQ(read_isr(&pic, 0x20), 0);      /* a spurious IR7 is not put in service */
}

static void auto_eoi_leaves_nothing_in_service(void)
{
    struct pic pic;
    linux_init(&pic, true);
    out(&pic, 0x21, 0x00);
    out(&pic, 0xa1, 0x00);
    pulse(&pic, 1);
    CHECK_EQ(pic_acknowledge(&pic), 0x31);
    CHECK_EQ(read_isr(&pic, 0x20), 0);
    pulse(&pic, 3);
    CHECK(pic_has_interrupt(&pic));         /* no EOI needed for a lower priority */
    CHECK_EQ(pic_acknowledge(&pic), 0x33);
    pulse(&pic, 14);
    CHECK_EQ(pic_acknowledge(&pic), 0x3e);
    CHECK_EQ(read_isr(&pic, 0x20), 0);
    CHECK_EQ(read_isr(&pic, 0xa0), 0x40);   /* Linux leaves the slave in normal EOI */
}

static void specific_eoi_leaves_others(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0x21, 0x00);
    pulse(&pic, 6);
    CHECK_EQ(pic_acknowledge(&pic), 0x36);
    pulse(&pic, 4);
    CHECK_EQ(pic_acknowledge(&pic), 0x34);
    out(&pic, 0x20, 0x66);                  /* end IR6, the lower of the two */
    CHECK_EQ(read_isr(&pic, 0x20), 0x10);
    out(&pic, 0x20, 0x64);
    CHECK_EQ(read_isr(&pic, 0x20), 0);
}

static void status_read_select_sticks(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0x21, 0x00);
    pulse(&pic, 5);
    pulse(&pic, 7);
    CHECK_EQ(pic_acknowledge(&pic), 0x35);
    out(&pic, 0x20, 0x0b);
    CHECK_EQ(in(&pic, 0x20), 0x20);
    CHECK_EQ(in(&pic, 0x20), 0x20);         /* OCW3 stays in force */
    CHECK_EQ(in(&pic, 0x21), 0x00);         /* the odd port always reads the IMR */
    out(&pic, 0x20, 0x0a);
    CHECK_EQ(in(&pic, 0x20), 0x80);
    out(&pic, 0x20, 0x08);                  /* RR=0: no change */
    CHECK_EQ(in(&pic, 0x20), 0x80);
}

static void icw1_needs_a_new_edge(void)
{
    struct pic pic;
    linux_init(&pic, false);
    out(&pic, 0x21, 0x00);
    pic_set_irq(&pic, 3, true);
    CHECK(pic_has_interrupt(&pic));
    out(&pic, 0x20, 0x11);                  /* initialise the master again */
    out(&pic, 0x21, 0x40);
    out(&pic, 0x21, 0x04);
    out(&pic, 0x21, 0x01);
    CHECK_EQ(in(&pic, 0x21), 0x00);         /* ICW1 cleared the IMR */
    CHECK(!pic_has_interrupt(&pic));        /* and the edge latch */
    pic_set_irq(&pic, 3, false);
    pic_set_irq(&pic, 3, true);
    CHECK_EQ(pic_acknowledge(&pic), 0x43);
}

static void unprogrammed_pair_stays_quiet(void)
{
    struct pic pic;
    probe = (struct intr_probe){ 0 };
    pic_init(&pic, (struct irq_line){ probe_set, &probe, 0 });
    pulse(&pic, 0);
    pulse(&pic, 9);
    CHECK(!pic_has_interrupt(&pic));
    CHECK_EQ(probe.rises, 0);
    pic_set_irq(&pic, 2, true);             /* the cascade input is not a device line */
    pic_set_irq(&pic, 16, true);
    CHECK(!pic_has_interrupt(&pic));
}

static void windows_and_reset(void)
{
    struct pic pic;
    linux_init(&pic, false);
    pic_master_ops.write(&pic, 1, 1, 0x5a);
    CHECK_EQ(in(&pic, 0x21), 0x5a);
    pic_slave_ops.write(&pic, 1, 1, 0xa5);
    CHECK_EQ(pic_slave_ops.read(&pic, 1, 1), 0xa5);
    pic_elcr_ops.write(&pic, 0, 2, 0x0c20);     /* both ELCRs in one access */
    CHECK_EQ(in(&pic, 0x4d0), 0x20);
    CHECK_EQ(in(&pic, 0x4d1), 0x0c);
    CHECK_EQ(pic_elcr_ops.read(&pic, 0, 2), 0x0c20);
    pic_master_ops.reset(&pic);
    CHECK_EQ(in(&pic, 0x21), 0xff);
    CHECK_EQ(in(&pic, 0x4d0), 0x00);
    pulse(&pic, 1);
    CHECK(!pic_has_interrupt(&pic));
}

DEVICE_TESTS(pic8259,
    { "pic_cascade_delivers_irq9", cascade_delivers_irq9 },
    { "pic_priority_and_nesting", priority_and_nesting },
    { "pic_slave_priority_sits_at_ir2", slave_priority_sits_at_ir2 },
    { "pic_mask_holds_request_in_irr", mask_holds_request_in_irr },
    { "pic_edge_input_fires_once", edge_input_fires_once },
    { "pic_level_input_follows_line", level_input_follows_line },
    { "pic_vanished_request_is_spurious_irq7", vanished_request_is_spurious_irq7 },
    { "pic_auto_eoi", auto_eoi_leaves_nothing_in_service },
    { "pic_specific_eoi_leaves_others", specific_eoi_leaves_others },
    { "pic_status_read_select_sticks", status_read_select_sticks },
    { "pic_icw1_needs_a_new_edge", icw1_needs_a_new_edge },
    { "pic_unprogrammed_pair_stays_quiet", unprogrammed_pair_stays_quiet },
    { "pic_windows_and_reset", windows_and_reset },
)
