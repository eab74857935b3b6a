/*
 * The modern virtio PCI transport with MSI-X (virtio_pci_modern.h).
 *
 * Common configuration (§4.1.4.3), offsets in the BAR's first page:
 *   0x00 device_feature_select  0x04 device_feature   0x08 driver_feature_select
 *   0x0c driver_feature         0x10 config_msix_vector  0x12 num_queues
 *   0x14 device_status          0x15 config_generation   0x16 queue_select
 *   0x18 queue_size             0x1a queue_msix_vector   0x1c queue_enable
 *   0x1e queue_notify_off       0x20 queue_desc   0x28 queue_driver   0x30 queue_device
 * Everything the driver writes is checked: a queue size that is not a power of two
 * within the maximum, a vector beyond the table, features not offered, or FEATURES_OK
 * without VIRTIO_F_VERSION_1 are refused the way §4.1.4.3.2 and §3.1.1 say (the value
 * reads back changed, the driver notices).
 */
#include "virtio_pci_modern.h"

#define STATUS_FEATURES_OK  8
#define CAP_VENDOR          0x09        /* PCI capability ID: vendor specific */
#define CAP_MSIX            0x11
#define CFG_COMMON          1           /* virtio_pci_cap.cfg_type (§4.1.4) */
#define CFG_NOTIFY          2
#define CFG_ISR             3
#define CFG_DEVICE          4
#define MSIX_ENABLE         0x8000      /* message control bits (PCI 3.0 §6.8.2.3) */
#define MSIX_FUNCTION_MASK  0x4000
#define MSIX_ENTRY_MASKED   1

static void put(uint8_t *bytes, unsigned offset, unsigned size, uint64_t value)
{
    for (unsigned i = 0; i < size; i++)
        bytes[offset + i] = (uint8_t)(value >> (8 * i));
}

static uint16_t msix_control(const struct virtio_modern *m)
{
    return (uint16_t)(m->pci.config[VIRTIO_MODERN_CAP_MSIX + 2] |
                      m->pci.config[VIRTIO_MODERN_CAP_MSIX + 3] << 8);
}

bool virtio_modern_msix_enabled(const struct virtio_modern *m)
{
    return msix_control(m) & MSIX_ENABLE;
}

uint64_t virtio_modern_bar(const struct virtio_modern *m)
{
    return pci_function_bar_address(&m->pci, VIRTIO_MODERN_BAR);
}

/* ---- Interrupts -------------------------------------------------------------------- */

static bool vector_masked(const struct virtio_modern *m, unsigned v)
{
    return (msix_control(m) & MSIX_FUNCTION_MASK) || (m->msix[v].control & MSIX_ENTRY_MASKED);
}

static void msix_fire(struct virtio_modern *m, unsigned v)
{
    if (vector_masked(m, v)) {
        m->msix_pending |= 1u << v;     /* sent when unmasked (§6.8.2.9) */
        return;
    }
    m->msix_pending &= ~(1u << v);
    if (m->msi_send)
        m->msi_send(m->msi_ctx, m->msix[v].address, m->msix[v].data);
}

/* Send what became deliverable after an unmask. */
static void msix_flush(struct virtio_modern *m)
{
    if (!virtio_modern_msix_enabled(m))
        return;
    for (unsigned v = 0; v < m->vectors; v++)
        if ((m->msix_pending & (1u << v)) && !vector_masked(m, v))
            msix_fire(m, v);
}

static void modern_interrupt(void *ctx, int source)
{
    struct virtio_modern *m = ctx;
    struct virtio_device *d = m->dev;
    if (!virtio_modern_msix_enabled(m)) {
        d->isr |= source == VIRTIO_INTERRUPT_CONFIG ? 2 : 1;
        irq_line_set(&d->irq, true);
        return;
    }
    uint16_t v = source == VIRTIO_INTERRUPT_CONFIG ? m->config_vector
               : (unsigned)source < VIRTIO_QUEUES_MAX ? m->queue_vector[source] : VIRTIO_MSI_NO_VECTOR;
    if (v >= m->vectors) {
        m->interrupts_lost++;
        return;
    }
    if (source == VIRTIO_INTERRUPT_CONFIG)
        d->isr |= 2;                    /* the ISR still tells a config change (§4.1.4.5) */
    msix_fire(m, v);
}

/* ---- Configuration space ----------------------------------------------------------- */

static void msix_config_written(void *ctx, unsigned offset, unsigned size)
{
    (void)offset;
    (void)size;
    msix_flush(ctx);                    /* the function mask may have been cleared */
}

static void add_virtio_cap(struct pci_function *f, unsigned at, unsigned next, uint8_t type,
                           uint32_t offset, uint32_t length, unsigned cap_length)
{
    uint8_t *c = f->config + at;
    c[0] = CAP_VENDOR;
    c[1] = (uint8_t)next;
    c[2] = (uint8_t)cap_length;
    c[3] = type;
    c[4] = VIRTIO_MODERN_BAR;
    put(c, 8, 4, offset);
    put(c, 12, 4, length);
}

void virtio_modern_init(struct virtio_modern *m, struct virtio_device *d, unsigned type,
                        uint32_t class_code,
                        void (*msi_send)(void *ctx, uint64_t address, uint32_t data), void *ctx)
{
    *m = (struct virtio_modern){ .dev = d, .msi_send = msi_send, .msi_ctx = ctx,
                                 .config_vector = VIRTIO_MSI_NO_VECTOR, .vectors = VIRTIO_MODERN_VECTORS };
    for (unsigned q = 0; q < VIRTIO_QUEUES_MAX; q++)
        m->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
    for (unsigned v = 0; v < VIRTIO_MODERN_VECTORS; v++)
        m->msix[v].control = MSIX_ENTRY_MASKED;
    d->interrupt = modern_interrupt;
    d->interrupt_ctx = m;

    struct pci_function *f = &m->pci;
    pci_function_init(f, VIRTIO_PCI_VENDOR, (uint16_t)VIRTIO_PCI_DEVICE_MODERN(type), class_code, 1);
    put(f->config, PCI_SUBSYSTEM_VENDOR_ID, 2, VIRTIO_PCI_VENDOR);
    put(f->config, PCI_SUBSYSTEM_ID, 2, 0x40);      /* §4.1.2.1: at least 0x40 when modern */
    pci_function_set_bar(f, VIRTIO_MODERN_BAR, VIRTIO_MODERN_BAR_SIZE, PCI_BAR_MEM64);
    put(f->config, PCI_STATUS, 2, PCI_STATUS_CAPABILITIES);
    f->config[PCI_CAPABILITY_LIST] = VIRTIO_MODERN_CAP_MSIX;

    uint8_t *x = f->config + VIRTIO_MODERN_CAP_MSIX;
    x[0] = CAP_MSIX;
    x[1] = VIRTIO_MODERN_CAP_COMMON;
    put(x, 2, 2, VIRTIO_MODERN_VECTORS - 1);        /* table size - 1 */
    put(x, 4, 4, VIRTIO_MODERN_MSIX_TABLE | VIRTIO_MODERN_BAR);
    put(x, 8, 4, VIRTIO_MODERN_MSIX_PBA | VIRTIO_MODERN_BAR);
    put(f->writable, VIRTIO_MODERN_CAP_MSIX + 2, 2, MSIX_ENABLE | MSIX_FUNCTION_MASK);

    add_virtio_cap(f, VIRTIO_MODERN_CAP_COMMON, VIRTIO_MODERN_CAP_ISR, CFG_COMMON,
                   VIRTIO_MODERN_COMMON, 0x38, 16);
    add_virtio_cap(f, VIRTIO_MODERN_CAP_ISR, VIRTIO_MODERN_CAP_DEVICE, CFG_ISR,
                   VIRTIO_MODERN_ISR, 1, 16);
    add_virtio_cap(f, VIRTIO_MODERN_CAP_DEVICE, VIRTIO_MODERN_CAP_NOTIFY, CFG_DEVICE,
                   VIRTIO_MODERN_DEVICE, d->ops->config_size ? d->ops->config_size : 4, 16);
    add_virtio_cap(f, VIRTIO_MODERN_CAP_NOTIFY, 0, CFG_NOTIFY, VIRTIO_MODERN_NOTIFY,
                   VIRTIO_MODERN_NOTIFY_MULTIPLIER * VIRTIO_QUEUES_MAX, 20);
    put(f->config, VIRTIO_MODERN_CAP_NOTIFY + 16, 4, VIRTIO_MODERN_NOTIFY_MULTIPLIER);
    f->config_written = msix_config_written;
    f->ctx = m;
}

void virtio_modern_set_vectors(struct virtio_modern *m, unsigned count)
{
    if (count < 1 || count > VIRTIO_MODERN_VECTORS)
        return;
    m->vectors = count;
    put(m->pci.config, VIRTIO_MODERN_CAP_MSIX + 2, 2, (msix_control(m) & ~0x7ffu) | (count - 1));
}

/* ---- The BAR ------------------------------------------------------------------------ */

static uint64_t device_features(const struct virtio_modern *m)
{
    return virtio_device_features(m->dev) | VIRTIO_F_VERSION_1;
}

static struct virtqueue *selected(struct virtio_modern *m)
{
    struct virtio_device *d = m->dev;
    return d->queue_select < d->ops->queues ? &d->queue[d->queue_select] : NULL;
}

static void modern_reset(struct virtio_modern *m)
{
    virtio_device_reset(m->dev);
    m->driver_features = 0;
    m->device_feature_select = m->driver_feature_select = 0;
    m->config_vector = VIRTIO_MSI_NO_VECTOR;
    for (unsigned q = 0; q < VIRTIO_QUEUES_MAX; q++)
        m->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
}

static uint64_t common_read(struct virtio_modern *m, unsigned offset)
{
    struct virtio_device *d = m->dev;
    struct virtqueue *q = selected(m);
    unsigned qi = d->queue_select;
    switch (offset) {
    case 0x00: return m->device_feature_select;
    case 0x04: return m->device_feature_select < 2 ?
                      (uint32_t)(device_features(m) >> (32 * m->device_feature_select)) : 0;
    case 0x08: return m->driver_feature_select;
    case 0x0c: return m->driver_feature_select < 2 ?
                      (uint32_t)(m->driver_features >> (32 * m->driver_feature_select)) : 0;
    case 0x10: return m->config_vector;
    case 0x12: return d->ops->queues;
    case 0x14: return d->status;
    case 0x15: return m->config_generation;
    case 0x16: return d->queue_select;
    case 0x18: return q ? q->size : 0;
    case 0x1a: return q ? m->queue_vector[qi] : VIRTIO_MSI_NO_VECTOR;
    case 0x1c: return q ? q->ready : 0;
    case 0x1e: return q ? qi : 0;
    case 0x20: return q ? q->desc : 0;
    case 0x24: return q ? q->desc >> 32 : 0;
    case 0x28: return q ? q->avail : 0;
    case 0x2c: return q ? q->avail >> 32 : 0;
    case 0x30: return q ? q->used : 0;
    case 0x34: return q ? q->used >> 32 : 0;
    default:   return 0;
    }
}

static void set_half(uint64_t *field, unsigned offset, unsigned size, uint64_t value)
{
    if (size == 8)
        *field = value;
    else if (offset & 4)
        *field = (*field & 0xffffffffull) | value << 32;
    else
        *field = (*field & ~0xffffffffull) | (uint32_t)value;
}

static void write_status(struct virtio_modern *m, uint8_t status)
{
    struct virtio_device *d = m->dev;
    if (status == 0) {                  /* §4.1.4.3.1: writing 0 resets */
        modern_reset(m);
        return;
    }
    if ((status & STATUS_FEATURES_OK) && !(d->status & STATUS_FEATURES_OK)) {
        if (!(m->driver_features & VIRTIO_F_VERSION_1))
            status &= (uint8_t)~STATUS_FEATURES_OK;      /* §3.1.1: refused, it reads back clear */
        else
            d->version_1 = true;
    }
    d->status = status;
}

static void common_write(struct virtio_modern *m, unsigned offset, unsigned size, uint64_t value)
{
    struct virtio_device *d = m->dev;
    struct virtqueue *q = selected(m);
    switch (offset & ~7u) {
    case 0x20: if (q && !q->ready) set_half(&q->desc, offset, size, value); return;
    case 0x28: if (q && !q->ready) set_half(&q->avail, offset, size, value); return;
    case 0x30: if (q && !q->ready) set_half(&q->used, offset, size, value); return;
    default: break;
    }
    switch (offset) {
    case 0x00: m->device_feature_select = (uint32_t)value; break;
    case 0x08: m->driver_feature_select = (uint32_t)value; break;
    case 0x0c:
        if (m->driver_feature_select < 2 && !(d->status & STATUS_FEATURES_OK)) {
            unsigned shift = 32 * m->driver_feature_select;
            m->driver_features = (m->driver_features & ~(0xffffffffull << shift)) |
                                 ((uint64_t)(uint32_t)value << shift);
            m->driver_features &= device_features(m);
            d->guest_features = (uint32_t)m->driver_features;
        }
        break;
    case 0x10:
        m->config_vector = value < m->vectors ? (uint16_t)value : VIRTIO_MSI_NO_VECTOR;
        break;
    case 0x14: write_status(m, (uint8_t)value); break;
    case 0x16: d->queue_select = (uint16_t)value; break;
    case 0x18:
        if (q && !q->ready && value && value <= VIRTIO_QUEUE_SIZE && !(value & (value - 1)))
            q->size = (uint16_t)value;
        break;
    case 0x1a:
        if (q)
            m->queue_vector[d->queue_select] =
                value < m->vectors ? (uint16_t)value : VIRTIO_MSI_NO_VECTOR;
        break;
    case 0x1c:
        if (q && value == 1)            /* §4.1.4.3.2: the driver never writes 0 */
            q->ready = true;
        break;
    default: break;
    }
}

static uint64_t msix_read(struct virtio_modern *m, uint64_t offset, unsigned size)
{
    if (offset >= VIRTIO_MODERN_MSIX_PBA)
        return offset == VIRTIO_MODERN_MSIX_PBA ? m->msix_pending : 0;
    unsigned v = (unsigned)(offset - VIRTIO_MODERN_MSIX_TABLE) / 16, field = (unsigned)offset % 16;
    if (v >= m->vectors)
        return 0;
    const struct msix_entry *e = &m->msix[v];
    uint64_t words[4] = { (uint32_t)e->address, e->address >> 32, e->data, e->control };
    uint64_t value = words[field / 4];
    if (size == 8 && field / 4 < 3)
        value |= words[field / 4 + 1] << 32;
    return value;
}

static void msix_write(struct virtio_modern *m, uint64_t offset, unsigned size, uint64_t value)
{
    if (offset >= VIRTIO_MODERN_MSIX_PBA)
        return;                         /* pending bits are read-only */
    unsigned v = (unsigned)(offset - VIRTIO_MODERN_MSIX_TABLE) / 16, field = (unsigned)offset % 16;
    if (v >= m->vectors)
        return;
    struct msix_entry *e = &m->msix[v];
    for (unsigned done = 0; done < size; done += 4, field += 4, value >>= 32) {
        switch (field) {
        case 0:  e->address = (e->address & ~0xffffffffull) | (uint32_t)value; break;
        case 4:  e->address = (e->address & 0xffffffffull) | (uint64_t)(uint32_t)value << 32; break;
        case 8:  e->data = (uint32_t)value; break;
        case 12: e->control = (uint32_t)value & MSIX_ENTRY_MASKED; break;
        default: return;
        }
    }
    msix_flush(m);
}

static uint64_t modern_read(void *dev, uint64_t offset, unsigned size)
{
    struct virtio_modern *m = dev;
    struct virtio_device *d = m->dev;
    if (offset < VIRTIO_MODERN_ISR)
        return common_read(m, (unsigned)offset);
    if (offset == VIRTIO_MODERN_ISR) {
        uint8_t isr = d->isr;           /* read clears, and lowers INTx (§4.1.4.5) */
        d->isr = 0;
        irq_line_set(&d->irq, false);
        return isr;
    }
    if (offset >= VIRTIO_MODERN_DEVICE && offset < VIRTIO_MODERN_NOTIFY) {
        uint64_t value = 0;
        for (unsigned i = 0; i < size; i++) {
            unsigned at = (unsigned)(offset - VIRTIO_MODERN_DEVICE) + i;
            if (at < d->ops->config_size && d->ops->config_read)
                value |= (uint64_t)d->ops->config_read(d, at) << (8 * i);
        }
        return value;
    }
    if (offset >= VIRTIO_MODERN_MSIX_TABLE && offset < VIRTIO_MODERN_BAR_SIZE)
        return msix_read(m, offset, size);
    return 0;
}

static void modern_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct virtio_modern *m = dev;
    struct virtio_device *d = m->dev;
    if (offset < VIRTIO_MODERN_ISR) {
        common_write(m, (unsigned)offset, size, value);
    } else if (offset >= VIRTIO_MODERN_DEVICE && offset < VIRTIO_MODERN_NOTIFY) {
        for (unsigned i = 0; i < size; i++) {
            unsigned at = (unsigned)(offset - VIRTIO_MODERN_DEVICE) + i;
            if (at < d->ops->config_size && d->ops->config_write)
                d->ops->config_write(d, at, (uint8_t)(value >> (8 * i)));
        }
    } else if (offset >= VIRTIO_MODERN_NOTIFY && offset < VIRTIO_MODERN_MSIX_TABLE) {
        uint64_t q = (offset - VIRTIO_MODERN_NOTIFY) / VIRTIO_MODERN_NOTIFY_MULTIPLIER;
        if (q < d->ops->queues && d->queue[q].ready && d->ops->notify)
            d->ops->notify(d, (unsigned)q);
    } else if (offset >= VIRTIO_MODERN_MSIX_TABLE && offset < VIRTIO_MODERN_BAR_SIZE) {
        msix_write(m, offset, size, value);
    }
}

static void modern_reset_op(void *dev) { modern_reset(dev); }

const struct device_ops virtio_modern_ops = { "virtio-pci-modern", modern_read, modern_write,
                                              modern_reset_op };
