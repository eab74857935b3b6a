/* isa-debug-exit: the status a write produces, once. */
#include "harness.h"
#include "dev/debug_exit.h"

static uint32_t seen;
static int calls;
static void on_exit(void *ctx, uint32_t status) { (void)ctx; seen = status; calls++; }

static void status_is_value_shifted_with_low_bit(void)
{
    struct debug_exit d;
    debug_exit_init(&d, on_exit, NULL);
    calls = 0;
    CHECK_EQ(debug_exit_ops.read(&d, 0, 1), 0xff);
    debug_exit_ops.write(&d, 1, 1, 5);                  /* not the port */
    CHECK_EQ(calls, 0);
    debug_exit_ops.write(&d, 0, 1, 0x10);
    CHECK_EQ(calls, 1);
    CHECK_EQ(seen, 0x21);
    CHECK(d.written);
    debug_exit_ops.write(&d, 0, 1, 0);                  /* only the first counts */
    CHECK_EQ(calls, 1);
    CHECK_EQ(d.status, 0x21);
    debug_exit_ops.reset(&d);
    CHECK(!d.written);
    debug_exit_ops.write(&d, 0, 1, 0x1ff);              /* a byte write keeps a byte */
    CHECK_EQ(seen, 0x1ff);
    debug_exit_ops.reset(&d);
    debug_exit_ops.write(&d, 0, 2, 0x1234);
    CHECK_EQ(seen, 0x2469);
    debug_exit_ops.reset(&d);
    debug_exit_ops.write(&d, 0, 1, 0);
    CHECK_EQ(seen, 1);                                  /* 0 is status 1, never 0 */
    struct debug_exit quiet;
    debug_exit_init(&quiet, NULL, NULL);
    debug_exit_ops.write(&quiet, 0, 4, 7);
    CHECK_EQ(quiet.status, 15);
}

DEVICE_TESTS(debug_exit, { "debug_exit_status", status_is_value_shifted_with_low_bit })
