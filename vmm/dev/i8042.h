/* The 8042 keyboard controller, as much as a PC guest needs to reset the machine and
 * to find no keyboard (ports 0x60 data, 0x64 status/command). */
#ifndef VMM_I8042_H
#define VMM_I8042_H

#include "device.h"

struct i8042 {
    uint8_t config;             /* the controller's configuration byte */
    uint8_t output;             /* the byte waiting at port 0x60 */
    bool output_full;
    uint8_t pending_command;    /* a command waiting for its data byte, 0 for none */
    void (*reset_machine)(void *ctx);
    void *ctx;
};

extern const struct device_ops i8042_ops;  /* window: ports 0x60..0x64, offset = port - 0x60 */
void i8042_init(struct i8042 *k, void (*reset_machine)(void *ctx), void *ctx);

#endif
