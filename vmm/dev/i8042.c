/*
 * 8042 keyboard controller (IBM PC/AT technical reference; the command set Linux's
 * i8042 driver and the BIOS use): the status register, the configuration byte,
 * self-test, command 0xfe (the pulse on the CPU reset line that PCs have used to
 * reboot since the AT), and, when a keyboard is attached, its bytes through the
 * output buffer: translated to set 1 when configuration bit 6 says so, interrupting
 * on IRQ 1 when bit 0 does, held back while bit 4 disables the keyboard.
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
#define CMD_WRITE_KBD_OUT   0xd2    /* the next data byte appears as if from the keyboard */
#define CMD_PULSE_RESET     0xfe

#define CONFIG_KBD_IRQ      0x01
#define CONFIG_KBD_DISABLED 0x10
#define CONFIG_TRANSLATE    0x40

void i8042_init(struct i8042 *k, void (*reset_machine)(void *ctx), void *ctx)
{
    *k = (struct i8042){ .config = 0x45, .reset_machine = reset_machine, .ctx = ctx };
}

void i8042_attach_keyboard(struct i8042 *k, struct irq_line irq)
{
    k->has_keyboard = true;
    k->irq = irq;
    ps2_keyboard_init(&k->keyboard);
}

static void put_output(struct i8042 *k, uint8_t value)
{
    k->output = value;
    k->output_full = true;
}

/* An empty output buffer takes the keyboard's next byte (one that produces a byte
 * through the translation), and interrupts if the configuration asks. */
static void pull_keyboard(struct i8042 *k)
{
    if (!k->has_keyboard || k->output_full || (k->config & CONFIG_KBD_DISABLED))
        return;
    uint8_t byte;
    while (ps2_keyboard_pop(&k->keyboard, &byte)) {
        uint8_t out = byte;
        if ((k->config & CONFIG_TRANSLATE) && !ps2_translate(&k->translate_state, byte, &out))
            continue;
        put_output(k, out);
        if (k->config & CONFIG_KBD_IRQ)
            irq_line_set(&k->irq, true);
        return;
    }
}

bool i8042_type(struct i8042 *k, int ch)
{
    if (!k->has_keyboard || !ps2_keyboard_type(&k->keyboard, ch))
        return false;
    pull_keyboard(k);
    return true;
}

static void command(struct i8042 *k, uint8_t cmd)
{
    switch (cmd) {
    case CMD_READ_CONFIG:
        put_output(k, k->config);
        break;
    case CMD_WRITE_CONFIG:
    case CMD_WRITE_OUTPUT:
    case CMD_WRITE_KBD_OUT:
        k->pending_command = cmd;
        break;
    case CMD_DISABLE_KBD:
        k->config |= CONFIG_KBD_DISABLED;
        break;
    case CMD_ENABLE_KBD:
        k->config &= (uint8_t)~CONFIG_KBD_DISABLED;
        pull_keyboard(k);
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
    if (cmd == CMD_WRITE_CONFIG) {
        k->config = value;
        pull_keyboard(k);
    } else if (cmd == CMD_WRITE_OUTPUT) {
        if (!(value & 1) && k->reset_machine)
            k->reset_machine(k->ctx);   /* output port bit 0 low: CPU reset */
    } else if (cmd == CMD_WRITE_KBD_OUT) {
        put_output(k, value);
        if (k->has_keyboard && (k->config & CONFIG_KBD_IRQ))
            irq_line_set(&k->irq, true);
    } else if (k->has_keyboard) {
        ps2_keyboard_write(&k->keyboard, value);    /* a command for the keyboard */
        pull_keyboard(k);
    }
    /* without a keyboard, bytes for it are dropped */
}

static uint64_t i8042_read(void *dev, uint64_t offset, unsigned size)
{
    struct i8042 *k = dev;
    (void)size;
    if (offset == 4)
        return STATUS_SYSTEM_FLAG | (k->output_full ? STATUS_OUTPUT_FULL : 0) |
               (k->pending_command ? STATUS_COMMAND : 0);
    if (offset == 0) {
        uint8_t value = k->output;
        k->output_full = false;
        if (k->has_keyboard) {
            irq_line_set(&k->irq, false);
            pull_keyboard(k);           /* the next byte, with a new edge */
        }
        return value;
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
    bool keyboard = k->has_keyboard;
    struct irq_line irq = k->irq;
    i8042_init(k, k->reset_machine, k->ctx);
    if (keyboard)
        i8042_attach_keyboard(k, irq);
}

const struct device_ops i8042_ops = { "i8042", i8042_read, i8042_write, i8042_reset };
