/*
 * Virtio devices over the legacy PCI transport (Virtio 1.x specification §4.1.4.8
 * "Legacy Interfaces: A Note on PCI Device Layout", and §2.7 split virtqueues in their
 * legacy layout), which Linux drives through virtio-pci's legacy path: registers in an
 * I/O BAR, so every access is a port exit the VMM handles without decoding
 * instructions.  The model is pure: guest memory is reached through callbacks.
 */
#ifndef VMM_VIRTIO_H
#define VMM_VIRTIO_H

#include "device.h"

#define VIRTIO_QUEUES_MAX       2
#define VIRTIO_QUEUE_SIZE       128     /* entries per queue (a power of two) */
#define VIRTIO_LEGACY_ALIGN     4096    /* the used ring starts on this boundary */

/* Guest-physical memory as a device sees it (DMA). */
struct guest_memory {
    bool (*read)(void *ctx, uint64_t gpa, void *buf, size_t length);
    bool (*write)(void *ctx, uint64_t gpa, const void *buf, size_t length);
    void *ctx;
};

struct virtqueue {
    uint64_t pfn;                       /* legacy: guest page of the ring, 0 = not set up */
    uint64_t desc, avail, used;         /* guest-physical addresses of the three parts */
    uint16_t size;                      /* entries, a power of two <= VIRTIO_QUEUE_SIZE */
    bool ready;                         /* the driver set it up: the device may use it */
    uint16_t last_avail;                /* next available entry we will take */
    uint16_t used_index;
    bool notify_off;                    /* the device polls: it asks for no notify */
};

/* A chain of buffers the driver made available: up to VIRTIO_CHAIN_MAX pieces (a
 * block request's header, its VIRTIO_BLK_SEG_MAX data buffers and its status; a packet
 * of Linux's takes at most 19: its header, linear part and 17 page fragments). */
#define VIRTIO_CHAIN_MAX        66
struct virtio_buffer {
    uint64_t gpa;
    uint32_t length;
    bool device_writes;
};
struct virtio_chain {
    uint16_t head;
    unsigned count;
    struct virtio_buffer buf[VIRTIO_CHAIN_MAX];
};

struct virtio_device;
struct virtio_ops {
    uint32_t features;                  /* device feature bits offered */
    unsigned queues;
    unsigned config_size;               /* bytes of device configuration */
    uint8_t (*config_read)(struct virtio_device *d, unsigned offset);
    void (*config_write)(struct virtio_device *d, unsigned offset, uint8_t value);
    /* the driver notified queue q: process what is available */
    void (*notify)(struct virtio_device *d, unsigned q);
    void (*reset)(struct virtio_device *d);
};

struct virtio_device {
    const struct virtio_ops *ops;
    void *impl;                         /* the device type's own state */
    struct guest_memory memory;
    struct irq_line irq;
    uint32_t guest_features;
    uint8_t status, isr;
    uint16_t queue_select;
    struct virtqueue queue[VIRTIO_QUEUES_MAX];
    bool version_1;                     /* VIRTIO_F_VERSION_1 negotiated (modern transport) */
    /* A transport that delivers interrupts its own way (MSI-X) sets this; otherwise an
     * interrupt sets the ISR bit and raises irq. */
    void (*interrupt)(void *ctx, int source);
    void *interrupt_ctx;
};

/* Interrupt sources: a queue's index, or a configuration change. */
#define VIRTIO_INTERRUPT_CONFIG (-1)
void virtio_interrupt(struct virtio_device *d, int source);
/* The device's reset (§2.1): queues, features and status cleared, the type's reset. */
void virtio_device_reset(struct virtio_device *d);

/* The legacy register window (I/O BAR 0): 0x14 bytes of common registers then the
 * device's configuration. */
extern const struct device_ops virtio_pci_ops;
void virtio_init(struct virtio_device *d, const struct virtio_ops *ops, void *impl,
                 struct guest_memory memory, struct irq_line irq);

/* Notification suppression (§2.7.7, §2.7.10), offered by every device on both
 * transports.  Without VIRTIO_RING_F_EVENT_IDX the driver's NO_INTERRUPT flag is
 * honoured; with it, the driver names the used index it wants an interrupt after
 * (used_event) and the device names the available index it wants a notify at
 * (avail_event).  A driver that polls (Linux's NAPI) then takes frames and completions
 * without an interrupt, a VM exit and an EOI for each. */
#define VIRTIO_RING_F_EVENT_IDX (1u << 29)
#define VIRTIO_AVAIL_F_NO_INTERRUPT 1
/* The feature bits a device offers: its type's and the transport-independent ones. */
uint32_t virtio_device_features(const struct virtio_device *d);

#define VIRTIO_USED_F_NO_NOTIFY 1
/* Whether the driver should notify when it makes entries available on queue q
 * (§2.7.7, §2.7.10): off while the device looks by itself; on again, it must look
 * once more (virtio_queue_pop), for an entry made while the driver saw it off. */
void virtio_queue_set_notify(struct virtio_device *d, unsigned q, bool on);

/* Take the next chain the driver made available on queue q; false when none (then,
 * with event indexes and notifies on, the driver is asked to notify at its next
 * entry). */
bool virtio_queue_pop(struct virtio_device *d, unsigned q, struct virtio_chain *chain);
/* Give a chain back with `written` bytes filled in, and interrupt the driver unless
 * it asked for no interrupt now. */
void virtio_queue_push(struct virtio_device *d, unsigned q, const struct virtio_chain *chain,
                       uint32_t written);
/* The same without the interrupt: returns whether the driver asked for one, which the
 * device then owes it (virtio_interrupt, now or a little later). */
bool virtio_queue_push_quiet(struct virtio_device *d, unsigned q, const struct virtio_chain *chain,
                             uint32_t written);

/* PCI identity of a legacy ("transitional") virtio function (§4.1.2.3). */
#define VIRTIO_PCI_VENDOR       0x1af4
#define VIRTIO_PCI_DEVICE_BLK   0x1001
#define VIRTIO_PCI_DEVICE_CONSOLE 0x1003
#define VIRTIO_SUBSYSTEM_BLK    2
#define VIRTIO_SUBSYSTEM_CONSOLE 3
#define VIRTIO_LEGACY_REGISTERS 0x14

#endif
