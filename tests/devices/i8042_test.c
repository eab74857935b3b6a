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

DEVICE_TESTS(i8042,
    { "i8042_status_after_init", status_after_init },
    { "i8042_config_byte_round_trip", config_byte_round_trip },
    { "i8042_self_test", self_test_answers_0x55 },
    { "i8042_reset_pulse", reset_pulse },
    { "i8042_keyboard_bytes_dropped", keyboard_bytes_dropped },
)
