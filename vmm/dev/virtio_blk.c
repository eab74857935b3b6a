/*
 * virtio-blk (Virtio 1.x §5.2): one request queue; a request is a chain of a
 * driver-written header {type, reserved, sector}, data buffers, and a one-byte status
 * the device writes.  The configuration space starts with the capacity in sectors.
 * A writable disk offers VIRTIO_BLK_F_FLUSH (§5.2.3): the driver then sends
 * VIRTIO_BLK_T_FLUSH and relies on every write completed before it being durable,
 * which is what the disk's flush callback promises when it returns true.
 */
#include "virtio_blk.h"

#define SECTOR 512u
#define CHUNK 4096u                 /* bytes per disk callback: the bounce buffer on the stack */

static uint8_t blk_config_read(struct virtio_device *d, unsigned offset)
{
    const struct virtio_blk *b = d->impl;
    return offset < 8 ? (uint8_t)(b->sectors >> (8 * offset)) : 0;
}

/* Move `length` bytes between the disk at `offset` and guest memory at `gpa`. */
static bool transfer(struct virtio_blk *b, bool to_guest, uint64_t offset, uint64_t gpa, uint32_t length)
{
    uint8_t bounce[CHUNK];
    while (length) {
        uint32_t n = length < CHUNK ? length : CHUNK;
        if (to_guest) {
            if (!b->disk_read(b->disk_ctx, offset, bounce, n) ||
                !b->dev.memory.write(b->dev.memory.ctx, gpa, bounce, n))
                return false;
        } else {
            if (!b->dev.memory.read(b->dev.memory.ctx, gpa, bounce, n) ||
                !b->disk_write(b->disk_ctx, offset, bounce, n))
                return false;
        }
        offset += n;
        gpa += n;
        length -= n;
    }
    return true;
}

static uint8_t execute(struct virtio_blk *b, const struct virtio_chain *c, uint32_t *written)
{
    struct { uint32_t type, reserved; uint64_t sector; } header;
    if (c->count < 2 || c->buf[0].device_writes || c->buf[0].length < sizeof(header) ||
        !b->dev.memory.read(b->dev.memory.ctx, c->buf[0].gpa, &header, sizeof(header)))
        return VIRTIO_BLK_S_IOERR;
    uint64_t offset = header.sector * SECTOR;
    for (unsigned i = 1; i + 1 < c->count; i++) {
        uint32_t length = c->buf[i].length;
        bool in = header.type == VIRTIO_BLK_T_IN;
        if (header.type != VIRTIO_BLK_T_IN && header.type != VIRTIO_BLK_T_OUT)
            break;
        if (in != c->buf[i].device_writes || length % SECTOR ||
            offset + length > b->sectors * SECTOR || offset + length < offset)
            return VIRTIO_BLK_S_IOERR;
        if (!in && b->read_only)
            return VIRTIO_BLK_S_IOERR;
        if (!transfer(b, in, offset, c->buf[i].gpa, length))
            return VIRTIO_BLK_S_IOERR;
        if (in)
            *written += length;
        offset += length;
    }
    switch (header.type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_FLUSH:
        return !b->disk_flush || b->disk_flush(b->disk_ctx) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
    case VIRTIO_BLK_T_GET_ID: {
        static const char id[20] = "pith-virtio-disk";
        if (c->count < 3 || !c->buf[1].device_writes)
            return VIRTIO_BLK_S_IOERR;
        uint32_t n = c->buf[1].length < sizeof(id) ? c->buf[1].length : sizeof(id);
        b->dev.memory.write(b->dev.memory.ctx, c->buf[1].gpa, id, n);
        *written += n;
        return VIRTIO_BLK_S_OK;
    }
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}

static void blk_notify(struct virtio_device *d, unsigned q)
{
    struct virtio_blk *b = d->impl;
    struct virtio_chain c;
    while (virtio_queue_pop(d, q, &c)) {
        uint32_t written = 0;
        uint8_t status = execute(b, &c, &written);
        const struct virtio_buffer *last = &c.buf[c.count - 1];
        if (c.count && last->device_writes && last->length >= 1)
            d->memory.write(d->memory.ctx, last->gpa, &status, 1);
        virtio_queue_push(d, q, &c, written + 1);
    }
}

static const struct virtio_ops blk_ops_rw = {
    .features = VIRTIO_BLK_F_FLUSH, .queues = 1, .config_size = 8, .config_read = blk_config_read,
    .notify = blk_notify };
static const struct virtio_ops blk_ops_ro = {
    .features = VIRTIO_BLK_F_RO, .queues = 1, .config_size = 8, .config_read = blk_config_read,
    .notify = blk_notify };

void virtio_blk_init(struct virtio_blk *b, struct guest_memory memory, struct irq_line irq,
                     uint64_t bytes, bool read_only)
{
    b->sectors = bytes / SECTOR;
    b->read_only = read_only;
    b->disk_flush = NULL;
    virtio_init(&b->dev, read_only ? &blk_ops_ro : &blk_ops_rw, b, memory, irq);
}
