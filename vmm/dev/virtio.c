/*
 * The legacy virtio PCI transport and split virtqueues (virtio.h).  Register offsets
 * of the legacy I/O window (Virtio 1.x §4.1.4.8): 0x00 device features, 0x04 driver
 * features, 0x08 queue address (page frame number), 0x0c queue size, 0x0e queue
 * select, 0x10 queue notify, 0x12 device status, 0x13 ISR status (read clears), then
 * the device configuration (no MSI-X).
 */
#include "virtio.h"

#define REG_DEVICE_FEATURES 0x00
#define REG_GUEST_FEATURES  0x04
#define REG_QUEUE_PFN       0x08
#define REG_QUEUE_SIZE      0x0c
#define REG_QUEUE_SELECT    0x0e
#define REG_QUEUE_NOTIFY    0x10
#define REG_STATUS          0x12
#define REG_ISR             0x13

#define DESC_F_NEXT         1
#define DESC_F_WRITE        2

/* Legacy split-ring layout for a queue of VIRTIO_QUEUE_SIZE entries (§2.7, legacy):
 * 16-byte descriptors, then the available ring (flags, idx, ring[], used_event), then
 * padding to VIRTIO_LEGACY_ALIGN, then the used ring (flags, idx, {id, len}[]).  The
 * modern transport sets the three addresses one by one instead. */
static void legacy_layout(struct virtqueue *q, uint32_t pfn)
{
    uint64_t desc = (uint64_t)pfn * 4096, avail = desc + 16 * VIRTIO_QUEUE_SIZE;
    uint64_t end_of_avail = avail + 4 + 2 * VIRTIO_QUEUE_SIZE + 2;
    uint64_t used = (end_of_avail + VIRTIO_LEGACY_ALIGN - 1) & ~(uint64_t)(VIRTIO_LEGACY_ALIGN - 1);
    *q = (struct virtqueue){ .pfn = pfn, .desc = desc, .avail = avail, .used = used,
                             .size = VIRTIO_QUEUE_SIZE, .ready = pfn != 0 };
}

void virtio_init(struct virtio_device *d, const struct virtio_ops *ops, void *impl,
                 struct guest_memory memory, struct irq_line irq)
{
    *d = (struct virtio_device){ .ops = ops, .impl = impl, .memory = memory, .irq = irq };
    for (unsigned i = 0; i < VIRTIO_QUEUES_MAX; i++)
        d->queue[i].size = VIRTIO_QUEUE_SIZE;
}

void virtio_device_reset(struct virtio_device *d)
{
    d->guest_features = 0;
    d->status = d->isr = 0;
    d->queue_select = 0;
    d->version_1 = false;
    for (unsigned i = 0; i < VIRTIO_QUEUES_MAX; i++)
        d->queue[i] = (struct virtqueue){ .size = VIRTIO_QUEUE_SIZE };
    irq_line_set(&d->irq, false);
    if (d->ops->reset)
        d->ops->reset(d);
}

static void reset(struct virtio_device *d) { virtio_device_reset(d); }

void virtio_interrupt(struct virtio_device *d, int source)
{
    if (d->interrupt) {
        d->interrupt(d->interrupt_ctx, source);
        return;
    }
    d->isr |= source == VIRTIO_INTERRUPT_CONFIG ? 2 : 1;
    irq_line_set(&d->irq, true);
}

static struct virtqueue *selected(struct virtio_device *d)
{
    return d->queue_select < d->ops->queues ? &d->queue[d->queue_select] : NULL;
}

static uint64_t virtio_read(void *dev, uint64_t offset, unsigned size)
{
    struct virtio_device *d = dev;
    struct virtqueue *q = selected(d);
    if (offset >= VIRTIO_LEGACY_REGISTERS) {
        uint64_t value = 0;
        for (unsigned i = 0; i < size; i++) {
            unsigned at = (unsigned)offset - VIRTIO_LEGACY_REGISTERS + i;
            uint8_t byte = at < d->ops->config_size && d->ops->config_read ? d->ops->config_read(d, at) : 0;
            value |= (uint64_t)byte << (8 * i);
        }
        return value;
    }
    switch (offset) {
    case REG_DEVICE_FEATURES: return virtio_device_features(d);
    case REG_GUEST_FEATURES:  return d->guest_features;
    case REG_QUEUE_PFN:       return q ? q->pfn : 0;
    case REG_QUEUE_SIZE:      return q ? VIRTIO_QUEUE_SIZE : 0;
    case REG_QUEUE_SELECT:    return d->queue_select;
    case REG_STATUS:          return d->status;
    case REG_ISR: {
        uint8_t isr = d->isr;
        d->isr = 0;
        irq_line_set(&d->irq, false);
        return isr;
    }
    default:
        return 0;
    }
}

static void virtio_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct virtio_device *d = dev;
    struct virtqueue *q = selected(d);
    if (offset >= VIRTIO_LEGACY_REGISTERS) {
        for (unsigned i = 0; i < size; i++) {
            unsigned at = (unsigned)offset - VIRTIO_LEGACY_REGISTERS + i;
            if (at < d->ops->config_size && d->ops->config_write)
                d->ops->config_write(d, at, (uint8_t)(value >> (8 * i)));
        }
        return;
    }
    switch (offset) {
    case REG_GUEST_FEATURES:
        d->guest_features = (uint32_t)value & virtio_device_features(d);
        break;
    case REG_QUEUE_PFN:
        if (q)
            legacy_layout(q, (uint32_t)value);
        break;
    case REG_QUEUE_SELECT:
        d->queue_select = (uint16_t)value;
        break;
    case REG_QUEUE_NOTIFY:
        if ((uint16_t)value < d->ops->queues && d->queue[(uint16_t)value].ready && d->ops->notify)
            d->ops->notify(d, (uint16_t)value);
        break;
    case REG_STATUS:
        d->status = (uint8_t)value;
        if (d->status == 0)         /* writing 0 resets the device (§2.1) */
            reset(d);
        break;
    default:
        break;
    }
}

static void virtio_reset_op(void *dev) { reset(dev); }

const struct device_ops virtio_pci_ops = { "virtio-pci", virtio_read, virtio_write, virtio_reset_op };

uint32_t virtio_device_features(const struct virtio_device *d)
{
    return d->ops->features | VIRTIO_RING_F_EVENT_IDX;
}

static bool read16(struct virtio_device *d, uint64_t gpa, uint16_t *v)
{
    return d->memory.read(d->memory.ctx, gpa, v, 2);
}

static bool event_indexes(const struct virtio_device *d)
{
    return d->guest_features & VIRTIO_RING_F_EVENT_IDX;
}

/* The two event words sit after each ring's entries: used_event after the available
 * ring's, avail_event after the used ring's. */
static uint64_t used_event_at(const struct virtqueue *q) { return q->avail + 4 + 2 * (uint64_t)q->size; }
static uint64_t avail_event_at(const struct virtqueue *q) { return q->used + 4 + 8 * (uint64_t)q->size; }

/* Has the driver made an entry available that the device has not taken?  With event
 * indexes an empty queue asks for a notify at the next entry, then looks once more:
 * the driver may have added one before it could see the request (§2.7.10).  With
 * notifies off it names the entry before the last taken instead, which the driver's
 * index has passed: no notify (the driver notifies when its index moves past the
 * word, from where it was to where it is). */
static bool entry_available(struct virtio_device *d, struct virtqueue *q)
{
    uint16_t avail_index;
    if (!read16(d, q->avail + 2, &avail_index))
        return false;
    if (avail_index != q->last_avail || !event_indexes(d))
        return avail_index != q->last_avail;
    uint16_t wanted = q->notify_off ? (uint16_t)(q->last_avail - 1) : q->last_avail;
    d->memory.write(d->memory.ctx, avail_event_at(q), &wanted, 2);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return read16(d, q->avail + 2, &avail_index) && avail_index != q->last_avail;
}

void virtio_queue_set_notify(struct virtio_device *d, unsigned qi, bool on)
{
    struct virtqueue *q = &d->queue[qi];
    if (!q->ready)
        return;
    q->notify_off = !on;
    if (event_indexes(d)) {
        uint16_t wanted = on ? q->last_avail : (uint16_t)(q->last_avail - 1);
        d->memory.write(d->memory.ctx, avail_event_at(q), &wanted, 2);
    } else {
        uint16_t flags = on ? 0 : VIRTIO_USED_F_NO_NOTIFY;
        d->memory.write(d->memory.ctx, q->used, &flags, 2);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtio_queue_pop(struct virtio_device *d, unsigned qi, struct virtio_chain *chain)
{
    struct virtqueue *q = &d->queue[qi];
    if (!q->ready || !entry_available(d, q))
        return false;
    uint16_t head;
    if (!read16(d, q->avail + 4 + 2 * (q->last_avail % q->size), &head))
        return false;
    q->last_avail++;
    chain->head = head;
    chain->count = 0;
    uint16_t index = head;
    for (unsigned hops = 0; hops < q->size; hops++) {
        struct { uint64_t addr; uint32_t len; uint16_t flags, next; } desc;
        if (index >= q->size || chain->count == VIRTIO_CHAIN_MAX ||
            !d->memory.read(d->memory.ctx, q->desc + 16 * index, &desc, sizeof(desc)))
            return false;       /* a malformed chain is dropped, not followed */
        chain->buf[chain->count].gpa = desc.addr;
        chain->buf[chain->count].length = desc.len;
        chain->buf[chain->count].device_writes = desc.flags & DESC_F_WRITE;
        chain->count++;
        if (!(desc.flags & DESC_F_NEXT))
            return true;
        index = desc.next;
    }
    return false;
}

/* Checked at every push, so the interrupt is due when this push reached the driver's
 * used_event (§2.7.10: the index moved past it); a word the device cannot read counts
 * as a wish for the interrupt. */
static bool driver_wants_interrupt(struct virtio_device *d, const struct virtqueue *q)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* the used index out before the wish is read */
    uint16_t word;
    if (event_indexes(d))
        return !read16(d, used_event_at(q), &word) || (uint16_t)(q->used_index - 1) == word;
    return !read16(d, q->avail, &word) || !(word & VIRTIO_AVAIL_F_NO_INTERRUPT);
}

bool virtio_queue_push_quiet(struct virtio_device *d, unsigned qi, const struct virtio_chain *chain,
                             uint32_t written)
{
    struct virtqueue *q = &d->queue[qi];
    uint32_t element[2] = { chain->head, written };
    d->memory.write(d->memory.ctx, q->used + 4 + 8 * (q->used_index % q->size),
                    element, sizeof(element));
    q->used_index++;
    d->memory.write(d->memory.ctx, q->used + 2, &q->used_index, 2);
    return driver_wants_interrupt(d, q);
}

void virtio_queue_push(struct virtio_device *d, unsigned qi, const struct virtio_chain *chain,
                       uint32_t written)
{
    if (virtio_queue_push_quiet(d, qi, chain, written))
        virtio_interrupt(d, (int)qi);
}
