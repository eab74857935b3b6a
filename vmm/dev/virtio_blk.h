/* A virtio block device (Virtio 1.x §5.2) over a disk the VMM provides. */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

#include "virtio.h"

struct virtio_blk {
    struct virtio_device dev;
    uint64_t sectors;                   /* capacity in 512-byte sectors */
    bool read_only;
    /* the disk: whole sectors at a byte offset */
    bool (*disk_read)(void *ctx, uint64_t offset, void *buf, size_t length);
    bool (*disk_write)(void *ctx, uint64_t offset, const void *buf, size_t length);
    /* optional: makes every write acknowledged so far durable (NULL: nothing to do) */
    bool (*disk_flush)(void *ctx);
    void *disk_ctx;
    /* optional: the buffer the disk wants its data in (a storage channel's data frames),
     * whole sectors; a request's data moves through it in runs of up to this many bytes,
     * one disk call per run.  NULL: runs of 4 KiB through a buffer on the stack. */
    void *disk_stage;
    size_t disk_stage_bytes;
};

void virtio_blk_init(struct virtio_blk *b, struct guest_memory memory, struct irq_line irq,
                     uint64_t bytes, bool read_only);

#define VIRTIO_TYPE_BLK     2       /* the device type (§5.1): the modern device ID is 0x1040 + 2 */
#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_F_SEG_MAX (1u << 2)
#define VIRTIO_BLK_F_RO     (1u << 5)
#define VIRTIO_BLK_SEG_MAX  (VIRTIO_CHAIN_MAX - 2)  /* data buffers in one request */
#define VIRTIO_BLK_F_FLUSH  (1u << 9)

#endif
