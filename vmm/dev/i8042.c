/*
 * 8042 keyboard controller (IBM PC/AT technical reference; the command set Linux's
 * i8042 driver and the BIOS use).  Only what a guest needs: the status register, the
 * configuration byte, self-test, and command 0xfe, the pulse on the CPU reset line
 * that PCs have used to reboot since the AT.
 */
#include "i8042.h"

#define STATUS_OUTPUT_FULL  0x01
#define STATUS_SYSTEM_FLAG  0x04    /* set after a successful self-test */
#define STATUS_COMMAND      0x08    /* the last write went to port 0x64 */

#define CMD_READ_CONFIG     0x20
#define CMD_WRITE_CONFIG    0x60
#define CMD_SELF_TEST       0xaa
#define CMD_PORT_TEST       0xab
#define CMD_DISABLE_KBD     0xad
#define CMD_ENABLE_KBD      0xae
#define CMD_WRITE_OUTPUT    0xd1
#define CMD_PULSE_RESET     0xfe

void i8042_init(struct i8042 *k, void (*reset_machine)(void *ctx), void *ctx)
{
    *k = (struct i8042){ .config = 0x45, .reset_machine = reset_machine, .ctx = ctx };
}

static void put_output(struct i8042 *k, uint8_t value)
{
    k->output = value;
    k->output_full = true;
}

static void command(struct i8042 *k, uint8_t cmd)
{
    switch (cmd) {
    case CMD_READ_CONFIG:
        put_output(k, k->config);
        break;
    case CMD_WRITE_CONFIG:
    case CMD_WRITE_OUTPUT:
        k->pending_command = cmd;
        break;
    case CMD_SELF_TEST:
        put_output(k, 0x55);
        break;
    case CMD_PORT_TEST:
        put_output(k, 0x00);
        break;
    case CMD_PULSE_RESET:
        if (k->reset_machine)
            k->reset_machine(k->ctx);
        break;
    default:    /* enable/disable and the rest: accepted, nothing to do */
        break;
    }
}

static void data(struct i8042 *k, uint8_t value)
{
    uint8_t cmd = k->pending_command;
    k->pending_command = 0;
    if (cmd == CMD_WRITE_CONFIG)
        k->config = value;
    else if (cmd == CMD_WRITE_OUTPUT && !(value & 1) && k->reset_machine)
        k->reset_machine(k->ctx);   /* output port bit 0 low: CPU reset */
    /* bytes for a keyboard that is not there are dropped */
}

static uint64_t i8042_read(void *dev, uint64_t offset, unsigned size)
{
    struct i8042 *k = dev;
    (void)size;
    if (offset == 4)
        return STATUS_SYSTEM_FLAG | (k->output_full ? STATUS_OUTPUT_FULL : 0) |
               (k->pending_command ? STATUS_COMMAND : 0);
    if (offset == 0) {
        k->output_full = false;
        return k->output;
    }
    return 0xff;
}

static void i8042_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    (void)size;
    if (offset == 4)
        command(dev, (uint8_t)value);
    else if (offset == 0)
        data(dev, (uint8_t)value);
}

static void i8042_reset(void *dev)
{
    struct i8042 *k = dev;
    i8042_init(k, k->reset_machine, k->ctx);
}

const struct device_ops i8042_ops = { "i8042", i8042_read, i8042_write, i8042_reset };
