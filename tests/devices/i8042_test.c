/* The 8042: status, configuration byte, self-test, and the reset line. */
#include "harness.h"
#include "dev/i8042.h"

static int resets;
static void count_reset(void *ctx) { (void)ctx; resets++; }

static void status_after_init(void)
{
    struct i8042 k;
    i8042_init(&k, count_reset, NULL);
    CHECK_EQ(i8042_ops.read(&k, 4, 1) & 0x05, 0x04);     /* self-tested, nothing to read */
}

static void config_byte_round_trip(void)
{
    struct i8042 k;
    i8042_init(&k, count_reset, NULL);
    i8042_ops.write(&k, 4, 1, 0x60);
    CHECK(i8042_ops.read(&k, 4, 1) & 0x08);
    i8042_ops.write(&k, 0, 1, 0x21);
    i8042_ops.write(&k, 4, 1, 0x20);
    CHECK(i8042_ops.read(&k, 4, 1) & 0x01);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x21);
    CHECK(!(i8042_ops.read(&k, 4, 1) & 0x01));
}

static void self_test_answers_0x55(void)
{
    struct i8042 k;
    i8042_init(&k, count_reset, NULL);
    i8042_ops.write(&k, 4, 1, 0xaa);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x55);
}

static void reset_pulse(void)
{
    struct i8042 k;
    resets = 0;
    i8042_init(&k, count_reset, NULL);
    i8042_ops.write(&k, 4, 1, 0xfe);
    CHECK_EQ(resets, 1);
    i8042_ops.write(&k, 4, 1, 0xd1);        /* output port with bit 0 low */
    i8042_ops.write(&k, 0, 1, 0xfe);
    CHECK_EQ(resets, 2);
    i8042_ops.write(&k, 4, 1, 0xd1);        /* bit 0 high: no reset */
    i8042_ops.write(&k, 0, 1, 0xff);
    CHECK_EQ(resets, 2);
}

static void keyboard_bytes_dropped(void)
{
    struct i8042 k;
    resets = 0;
    i8042_init(&k, count_reset, NULL);
    i8042_ops.write(&k, 0, 1, 0xf4);        /* "enable scanning" to a keyboard */
    CHECK_EQ(resets, 0);
    CHECK(!(i8042_ops.read(&k, 4, 1) & 0x01));
    CHECK_EQ(i8042_ops.read(&k, 2, 1), 0xff);
}

static int irq1, irq1_edges;
static void set_irq1(void *ctx, unsigned line, bool level)
{
    (void)ctx; (void)line;
    if (level && !irq1)
        irq1_edges++;
    irq1 = level;
}

/* What a BIOS does: reset the keyboard, read 0xfa 0xaa; then a typed key arrives
 * translated to set 1 with an interrupt for each byte. */
static void keyboard_reset_and_typing(void)
{
    struct i8042 k;
    i8042_init(&k, count_reset, NULL);
    i8042_attach_keyboard(&k, (struct irq_line){ set_irq1, NULL, 1 });
    irq1 = irq1_edges = 0;
    i8042_ops.write(&k, 0, 1, 0xff);
    CHECK(i8042_ops.read(&k, 4, 1) & 0x01);
    CHECK(irq1);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0xfa);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0xaa);               /* translated unchanged */
    CHECK(!irq1);
    CHECK(!(i8042_ops.read(&k, 4, 1) & 0x01));
    irq1_edges = 0;
    CHECK(i8042_type(&k, 'a'));
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x1e);               /* set 1 make */
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x9e);               /* break: F0 1C became 9E */
    CHECK_EQ(irq1_edges, 2);
    CHECK(!(i8042_ops.read(&k, 4, 1) & 0x01));
    CHECK(i8042_type(&k, '\n'));
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x1c);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x9c);
}

static void keyboard_untranslated_disabled_and_masked(void)
{
    struct i8042 k;
    i8042_init(&k, count_reset, NULL);
    i8042_attach_keyboard(&k, (struct irq_line){ set_irq1, NULL, 1 });
    irq1 = irq1_edges = 0;
    i8042_ops.write(&k, 4, 1, 0x60);                        /* config: no translation, no IRQ */
    i8042_ops.write(&k, 0, 1, 0x04);
    CHECK(i8042_type(&k, 'a'));
    CHECK(!irq1);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x1c);               /* set 2 as sent */
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0xf0);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x1c);
    i8042_ops.write(&k, 4, 1, 0xad);                        /* keyboard disabled: held back */
    CHECK(i8042_type(&k, 'b'));
    CHECK(!(i8042_ops.read(&k, 4, 1) & 0x01));
    i8042_ops.write(&k, 4, 1, 0xae);
    CHECK(i8042_ops.read(&k, 4, 1) & 0x01);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x32);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0xf0);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x32);
    CHECK(!(i8042_ops.read(&k, 4, 1) & 0x01));
    i8042_ops.write(&k, 4, 1, 0xd2);                        /* write the keyboard output buffer */
    i8042_ops.write(&k, 0, 1, 0x77);
    CHECK_EQ(i8042_ops.read(&k, 0, 1), 0x77);
    /* no keyboard: nothing typed */
    struct i8042 none;
    i8042_init(&none, count_reset, NULL);
    CHECK(!i8042_type(&none, 'a'));
    /* a reset keeps the keyboard plugged in */
    i8042_ops.reset(&k);
    CHECK(i8042_type(&k, 'a'));
    CHECK(i8042_ops.read(&k, 4, 1) & 0x01);
}

DEVICE_TESTS(i8042,
    { "i8042_keyboard_reset_and_typing", keyboard_reset_and_typing },
    { "i8042_keyboard_untranslated_disabled_and_masked", keyboard_untranslated_disabled_and_masked },
    { "i8042_status_after_init", status_after_init },
    { "i8042_config_byte_round_trip", config_byte_round_trip },
    { "i8042_self_test", self_test_answers_0x55 },
    { "i8042_reset_pulse", reset_pulse },
    { "i8042_keyboard_bytes_dropped", keyboard_bytes_dropped },
)
