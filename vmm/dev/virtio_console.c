/*
 * virtio-console (Virtio 1.x §5.3): queue 0 receives (device writes what was typed
 * into buffers the driver posted), queue 1 transmits (the driver's bytes go out).
 */
#include "virtio_console.h"

#define RECEIVEQ 0
#define TRANSMITQ 1

static void console_notify(struct virtio_device *d, unsigned q)
{
    struct virtio_console *con = d->impl;
    struct virtio_chain c;
    if (q != TRANSMITQ)
        return;         /* new receive buffers: used when input arrives */
    while (virtio_queue_pop(d, q, &c)) {
        for (unsigned i = 0; i < c.count; i++) {
            char chunk[256];
            uint64_t gpa = c.buf[i].gpa;
            uint32_t left = c.buf[i].device_writes ? 0 : c.buf[i].length;
            while (left) {
                uint32_t n = left < sizeof(chunk) ? left : sizeof(chunk);
                if (!d->memory.read(d->memory.ctx, gpa, chunk, n))
                    break;
                con->output(con->output_ctx, chunk, n);
                gpa += n;
                left -= n;
            }
        }
        virtio_queue_push(d, q, &c, 0);
    }
}

static const struct virtio_ops console_ops = { .features = 0, .queues = 2, .notify = console_notify };

void virtio_console_init(struct virtio_console *c, struct guest_memory memory, struct irq_line irq,
                         void (*output)(void *ctx, const char *bytes, size_t length), void *ctx)
{
    c->output = output;
    c->output_ctx = ctx;
    virtio_init(&c->dev, &console_ops, c, memory, irq);
}

size_t virtio_console_input(struct virtio_console *c, const char *bytes, size_t length)
{
    size_t done = 0;
    struct virtio_chain chain;
    while (done < length && virtio_queue_pop(&c->dev, RECEIVEQ, &chain)) {
        uint32_t written = 0;
        for (unsigned i = 0; i < chain.count && done < length; i++) {
            if (!chain.buf[i].device_writes)
                continue;
            uint32_t n = chain.buf[i].length;
            if (n > length - done)
                n = (uint32_t)(length - done);
            c->dev.memory.write(c->dev.memory.ctx, chain.buf[i].gpa, bytes + done, n);
            done += n;
            written += n;
        }
        virtio_queue_push(&c->dev, RECEIVEQ, &chain, written);
    }
    return done;
}
