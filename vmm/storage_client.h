/* A guest's disk on a host partition: the VMM's end of a storage channel
 * (pith/storage.h, docs/storage.md).  Requests are synchronous: the vCPU that asked
 * waits for the server's answer. */
#ifndef VMM_STORAGE_CLIENT_H
#define VMM_STORAGE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pith/storage.h>

struct vm;

struct storage_client {
    struct vm *vm;                     /* whose guest: its lines go through vm_log */
    volatile struct pith_storage_control *control;
    uint8_t *data;                     /* the channel's data frames: PITH_STORAGE_DATA_BYTES */
    uint64_t notification, server;     /* capability slots */
    uint32_t seq;
    uint64_t sectors;
    uint64_t patience;                 /* TSC ticks a request waits before asking again */
    uint32_t asked_again;              /* requests the server was signalled twice for */
};

/* Maps the channel whose capabilities start at `first_slot` at `vaddr` and waits for the
 * server's verdict; false when it refused (it said why) or the channel is missing.
 * `tsc_hz` times the patience: a request unanswered after STORAGE_CLIENT_PATIENCE_MS
 * signals the server again (and says so, the first few times), so a lost signal costs
 * a delay, not the guest. */
#define STORAGE_CLIENT_PATIENCE_MS 2000
bool storage_client_open(struct storage_client *s, struct vm *vm, uint64_t first_slot, uint64_t vaddr,
                         uint64_t tsc_hz);

/* virtio-blk's disk callbacks (dev/virtio_blk.h): whole sectors at a byte offset.  With
 * `data` as the disk's stage, buf is data itself and nothing is copied. */
bool storage_client_read(void *ctx, uint64_t offset, void *buf, size_t length);
bool storage_client_write(void *ctx, uint64_t offset, const void *buf, size_t length);
bool storage_client_flush(void *ctx);

#endif
