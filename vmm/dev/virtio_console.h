/* A virtio console (Virtio 1.x §5.3), one port, no multiport feature. */
#ifndef VMM_VIRTIO_CONSOLE_H
#define VMM_VIRTIO_CONSOLE_H

#include "virtio.h"

struct virtio_console {
    struct virtio_device dev;
    void (*output)(void *ctx, const char *bytes, size_t length);
    void *output_ctx;
};

void virtio_console_init(struct virtio_console *c, struct guest_memory memory, struct irq_line irq,
                         void (*output)(void *ctx, const char *bytes, size_t length), void *ctx);
/* Typed input for the guest: returns how many bytes the driver had room for. */
size_t virtio_console_input(struct virtio_console *c, const char *bytes, size_t length);

#endif
