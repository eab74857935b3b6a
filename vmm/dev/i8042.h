/* The 8042 keyboard controller (ports 0x60 data, 0x64 status/command): what a PC guest
 * needs to reset the machine, and either no keyboard or a PS/2 keyboard
 * (dev/ps2_keyboard.h) on IRQ 1 with the set 2 -> set 1 translation. */
#ifndef VMM_I8042_H
#define VMM_I8042_H

#include "device.h"
#include "ps2_keyboard.h"

struct i8042 {
    uint8_t config;             /* the controller's configuration byte */
    uint8_t output;             /* the byte waiting at port 0x60 */
    bool output_full;
    uint8_t pending_command;    /* a command waiting for its data byte, 0 for none */
    void (*reset_machine)(void *ctx);
    void *ctx;
    /* the keyboard, when attached */
    bool has_keyboard;
    struct ps2_keyboard keyboard;
    struct irq_line irq;        /* IRQ 1 */
    uint8_t translate_state;
};

extern const struct device_ops i8042_ops;  /* window: ports 0x60..0x64, offset = port - 0x60 */
void i8042_init(struct i8042 *k, void (*reset_machine)(void *ctx), void *ctx);
/* Plugs a keyboard in: its bytes reach port 0x60, interrupting on irq. */
void i8042_attach_keyboard(struct i8042 *k, struct irq_line irq);
/* A character typed on the guest's console; false when there is no keyboard, no such
 * key, or no room (the caller keeps it for later). */
bool i8042_type(struct i8042 *k, int ch);

#endif
