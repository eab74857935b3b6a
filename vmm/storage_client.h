/* A guest's disk on a host partition: the VMM's end of a storage channel
 * (pith/storage.h, docs/storage.md).  Requests are synchronous: the vCPU that asked
 * waits for the server's answer. */
#ifndef VMM_STORAGE_CLIENT_H
#define VMM_STORAGE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pith/storage.h>

struct storage_client {
    volatile struct pith_storage_control *control;
    uint8_t *data;
    uint64_t notification, server;     /* capability slots */
    uint32_t seq;
    uint64_t sectors;
};

/* Maps the channel whose capabilities start at `first_slot` at `vaddr` and waits for the
 * server's verdict; false when it refused (it said why) or the channel is missing. */
bool storage_client_open(struct storage_client *s, uint64_t first_slot, uint64_t vaddr);

/* virtio-blk's disk callbacks (dev/virtio_blk.h): whole sectors at a byte offset. */
bool storage_client_read(void *ctx, uint64_t offset, void *buf, size_t length);
bool storage_client_write(void *ctx, uint64_t offset, const void *buf, size_t length);
bool storage_client_flush(void *ctx);

#endif
