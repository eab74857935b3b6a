/*
 * virtio-blk (Virtio 1.x §5.2): one request queue; a request is a chain of a
 * driver-written header {type, reserved, sector}, data buffers, and a one-byte status
 * the device writes.  The configuration space holds the capacity in sectors and (at 12)
 * seg_max, the data buffers a request may have: without it Linux sends one buffer per
 * request (one physically contiguous piece, often a single page).
 * A writable disk offers VIRTIO_BLK_F_FLUSH (§5.2.3): the driver then sends
 * VIRTIO_BLK_T_FLUSH and relies on every write completed before it being durable,
 * which is what the disk's flush callback promises when it returns true.
 */
#include "virtio_blk.h"

#define SECTOR 512u
#define BOUNCE 4096u                /* the stage of a disk without its own: on the stack */

static uint8_t blk_config_read(struct virtio_device *d, unsigned offset)
{
    const struct virtio_blk *b = d->impl;
    if (offset < 8)
        return (uint8_t)(b->sectors >> (8 * offset));
    if (offset >= 12 && offset < 16)
        return (uint8_t)(VIRTIO_BLK_SEG_MAX >> (8 * (offset - 12)));
    return 0;
}

/* A read or write's data buffers are c->buf[1 .. count - 2]; checked before any byte
 * moves: each goes the request's way (the device writes a read's) in whole sectors, and
 * together they fit the disk from `sector` on.  Their total length: `*bytes`. */
static bool data_valid(const struct virtio_blk *b, const struct virtio_chain *c, bool in, uint64_t sector,
                       uint64_t *bytes)
{
    if (!in && b->read_only)
        return false;
    uint64_t total = 0;                 /* at most VIRTIO_CHAIN_MAX * 4 GiB: cannot wrap */
    for (unsigned i = 1; i + 1 < c->count; i++) {
        if (c->buf[i].device_writes != in || c->buf[i].length % SECTOR)
            return false;
        total += c->buf[i].length;
    }
    if (sector > b->sectors || total / SECTOR > b->sectors - sector)
        return false;
    *bytes = total;
    return true;
}

/* How far a transfer has come through the data buffers. */
struct data_cursor {
    unsigned index;                     /* the buffer in the chain */
    uint32_t offset;                    /* bytes of it already moved */
};

/* Copies the next `length` bytes of the data buffers from the cursor on to the stage
 * (a write) or from the stage into them (a read: counted in `*written`), crossing
 * from one buffer to the next as each runs out. */
static bool copy_run(struct virtio_blk *b, const struct virtio_chain *c, struct data_cursor *at, bool to_guest,
                     uint8_t *stage, size_t length, uint32_t *written)
{
    const struct guest_memory *m = &b->dev.memory;
    while (length) {
        const struct virtio_buffer *d = &c->buf[at->index];
        size_t n = d->length - at->offset < length ? d->length - at->offset : length;
        uint64_t gpa = d->gpa + at->offset;
        if (!(to_guest ? m->write(m->ctx, gpa, stage, n) : m->read(m->ctx, gpa, stage, n)))
            return false;
        if (to_guest)
            *written += (uint32_t)n;
        stage += n;
        length -= n;
        at->offset += (uint32_t)n;
        if (at->offset == d->length)
            *at = (struct data_cursor){ at->index + 1, 0 };
    }
    return true;
}

/* Moves a validated request's `bytes` between the disk at `offset` and the data
 * buffers, a run at a time: a write gathers up to a stageful from the buffers and makes
 * one disk_write, a read makes one disk_read and scatters it.  Runs ignore the buffers'
 * bounds because a disk call may be a round trip to the storage server and Linux's
 * direct I/O sends one 4 KiB buffer per page.  Every buffer is whole sectors, so is
 * every run; a buffer larger than the stage spans runs. */
static bool move_data(struct virtio_blk *b, const struct virtio_chain *c, bool to_guest, uint64_t offset,
                      uint64_t bytes, uint32_t *written)
{
    uint8_t bounce[BOUNCE];
    uint8_t *stage = b->disk_stage;
    size_t stage_bytes = b->disk_stage_bytes / SECTOR * SECTOR;
    if (!stage || !stage_bytes) {
        stage = bounce;
        stage_bytes = sizeof(bounce);
    }
    struct data_cursor at = { 1, 0 };
    while (bytes) {
        size_t run = bytes < stage_bytes ? (size_t)bytes : stage_bytes;
        if (to_guest) {
            if (!b->disk_read(b->disk_ctx, offset, stage, run) || !copy_run(b, c, &at, true, stage, run, written))
                return false;
        } else {
            if (!copy_run(b, c, &at, false, stage, run, written) || !b->disk_write(b->disk_ctx, offset, stage, run))
                return false;
        }
        offset += run;
        bytes -= run;
    }
    return true;
}

static uint8_t execute(struct virtio_blk *b, const struct virtio_chain *c, uint32_t *written)
{
    struct { uint32_t type, reserved; uint64_t sector; } header;
    if (c->count < 2 || c->buf[0].device_writes || c->buf[0].length < sizeof(header) ||
        !b->dev.memory.read(b->dev.memory.ctx, c->buf[0].gpa, &header, sizeof(header)))
        return VIRTIO_BLK_S_IOERR;
    switch (header.type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT: {
        bool in = header.type == VIRTIO_BLK_T_IN;
        uint64_t bytes;
        if (!data_valid(b, c, in, header.sector, &bytes) ||
            !move_data(b, c, in, header.sector * SECTOR, bytes, written))
            return VIRTIO_BLK_S_IOERR;
        return VIRTIO_BLK_S_OK;
    }
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
    .features = VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_SEG_MAX, .queues = 1, .config_size = 16,
    .config_read = blk_config_read, .notify = blk_notify };
static const struct virtio_ops blk_ops_ro = {
    .features = VIRTIO_BLK_F_RO | VIRTIO_BLK_F_SEG_MAX, .queues = 1, .config_size = 16,
    .config_read = blk_config_read, .notify = blk_notify };

void virtio_blk_init(struct virtio_blk *b, struct guest_memory memory, struct irq_line irq,
                     uint64_t bytes, bool read_only)
{
    b->sectors = bytes / SECTOR;
    b->read_only = read_only;
    b->disk_flush = NULL;
    b->disk_stage = NULL;
    b->disk_stage_bytes = 0;
    virtio_init(&b->dev, read_only ? &blk_ops_ro : &blk_ops_rw, b, memory, irq);
}
