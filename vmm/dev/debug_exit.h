/*
 * QEMU's isa-debug-exit device, which test kernels use to report a verdict: writing v
 * to its port (0xf4 here) ends the guest with exit status (v << 1) | 1, so a status
 * is never 0 and every value written can be told apart.
 */
#ifndef VMM_DEBUG_EXIT_H
#define VMM_DEBUG_EXIT_H

#include "device.h"

#define DEBUG_EXIT_PORT     0xf4

struct debug_exit {
    bool written;
    uint32_t status;            /* (value << 1) | 1 once written */
    void (*exit)(void *ctx, uint32_t status);
    void *ctx;
};

extern const struct device_ops debug_exit_ops;  /* one port, offset 0; 1, 2 or 4 bytes */
void debug_exit_init(struct debug_exit *d, void (*exit)(void *ctx, uint32_t status), void *ctx);

#endif
