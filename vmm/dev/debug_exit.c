/* isa-debug-exit: the first write ends the guest; reads see nothing there. */
#include "debug_exit.h"

void debug_exit_init(struct debug_exit *d, void (*exit)(void *ctx, uint32_t status), void *ctx)
{
    *d = (struct debug_exit){ .exit = exit, .ctx = ctx };
}

static uint64_t debug_exit_read(void *dev, uint64_t offset, unsigned size)
{
    (void)dev;
    (void)offset;
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static void debug_exit_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct debug_exit *d = dev;
    if (offset != 0 || d->written)
        return;
    uint32_t v = size >= 4 ? (uint32_t)value : (uint32_t)value & ((1u << (8 * size)) - 1);
    d->written = true;
    d->status = v << 1 | 1;
    if (d->exit)
        d->exit(d->ctx, d->status);
}

static void debug_exit_reset(void *dev)
{
    struct debug_exit *d = dev;
    debug_exit_init(d, d->exit, d->ctx);
}

const struct device_ops debug_exit_ops = { "isa-debug-exit", debug_exit_read, debug_exit_write, debug_exit_reset };
