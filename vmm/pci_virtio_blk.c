/*
 * The PC's virtio-blk at 00:02.0 on the modern virtio 1.x transport
 * (dev/virtio_pci_modern.h): a 64-bit memory BAR at PC_PCI_MMIO_BASE + 2 MiB (the guest
 * may move it) and MSI-X, so a completed request costs the guest one message and its
 * EOI, without reading the ISR or the I/O APIC's state; INTA# while the driver leaves
 * MSI-X off.  The guest's `disk`: a boot module
 * the guest writes in its own copy in this VMM's memory (gone at power-off), a
 * read-only module, or a host partition through the storage server (storage_client.h,
 * which brings its own read, write and flush).
 */
#include <pith/alloc.h>
#include <pith/string.h>

#include "dev/virtio_blk.h"
#include "dev/virtio_pci_modern.h"
#include "vm.h"

struct blk {
    struct virtio_blk blk;
    struct virtio_modern modern;
    struct pc_disk disk;
};

static bool module_read(void *context, uint64_t offset, void *buf, size_t length)
{
    const struct pc_disk *d = context;
    if (offset > d->size || length > d->size - offset)
        return false;
    memcpy(buf, d->data + offset, length);
    return true;
}

static bool module_write(void *context, uint64_t offset, const void *buf, size_t length)
{
    struct pc_disk *d = context;
    if (!d->writable || offset > d->size || length > d->size - offset)
        return false;
    memcpy(d->data + offset, buf, length);
    return true;
}

static bool create(struct vm *vm, const struct pc_setup *setup, struct pc_pci_device *d)
{
    const struct pc_disk *disk = setup->disk;
    if (!disk || (!disk->data && !disk->read))
        return true;
    struct blk *b = pith_malloc(sizeof(*b));
    if (!b)
        return false;
    memset(b, 0, sizeof(*b));
    b->disk = *disk;
    virtio_blk_init(&b->blk, pc_dma(vm), pc_pci_line(vm, d->kind->slot), disk->size & ~511ull,
                    !disk->writable);
    bool remote = disk->read != NULL;
    b->blk.disk_read = remote ? disk->read : module_read;
    b->blk.disk_write = remote ? disk->write : module_write;
    b->blk.disk_flush = remote ? disk->flush : NULL;
    b->blk.disk_ctx = remote ? disk->ctx : &b->disk;
    /* a module disk gets no stage: its calls are memcpys, so larger runs would save
     * little and cost every guest the stage's memory */
    b->blk.disk_stage = remote ? disk->stage : NULL;
    b->blk.disk_stage_bytes = remote ? disk->stage_bytes : 0;
    d->state = b;
    virtio_modern_init(&b->modern, &b->blk.dev, VIRTIO_TYPE_BLK, 0x010000, pc_msi, vm);
    pc_modern_function(d, &b->modern, &virtio_modern_ops, &b->modern);
    return true;
}

const struct pc_pci_kind pci_virtio_blk = { .name = "virtio-blk", .slot = 2, .create = create };
