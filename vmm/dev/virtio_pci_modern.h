/*
 * The modern virtio PCI transport (Virtio 1.x §4.1): a non-transitional function
 * (device ID 0x1040 + type, revision 1) whose registers live in one 64-bit memory BAR,
 * found through vendor-specific PCI capabilities (§4.1.4): common configuration,
 * notifications, ISR status and device configuration; with MSI-X (PCI Local Bus 3.0
 * §6.8.2) whose table and pending bits sit in the same BAR.  Interrupts go out as MSI
 * messages through a callback while MSI-X is enabled, through the INTx line otherwise.
 * Pure, like the devices it carries: the VMM routes MMIO of the BAR to
 * virtio_modern_ops and registers the pci_function with the host bridge.
 */
#ifndef VMM_VIRTIO_PCI_MODERN_H
#define VMM_VIRTIO_PCI_MODERN_H

#include "pci_host.h"
#include "virtio.h"

#define VIRTIO_MODERN_BAR           4
#define VIRTIO_MODERN_BAR_SIZE      0x8000
#define VIRTIO_MODERN_COMMON        0x0000      /* struct virtio_pci_common_cfg */
#define VIRTIO_MODERN_ISR           0x1000
#define VIRTIO_MODERN_DEVICE        0x2000
#define VIRTIO_MODERN_NOTIFY        0x3000      /* queue q at + 4 q */
#define VIRTIO_MODERN_NOTIFY_MULTIPLIER 4
#define VIRTIO_MODERN_MSIX_TABLE    0x4000
#define VIRTIO_MODERN_MSIX_PBA      0x5000
#define VIRTIO_MODERN_VECTORS       (VIRTIO_QUEUES_MAX + 1)
#define VIRTIO_MSI_NO_VECTOR        0xffff
#define VIRTIO_F_VERSION_1          (1ull << 32)
#define VIRTIO_PCI_DEVICE_MODERN(type) (0x1040 + (type))

/* Capability offsets in configuration space: MSI-X, then the four virtio ones. */
#define VIRTIO_MODERN_CAP_MSIX      0x40
#define VIRTIO_MODERN_CAP_COMMON    0x50
#define VIRTIO_MODERN_CAP_ISR       0x60
#define VIRTIO_MODERN_CAP_DEVICE    0x70
#define VIRTIO_MODERN_CAP_NOTIFY    0x80

struct msix_entry {
    uint64_t address;
    uint32_t data;
    uint32_t control;                   /* bit 0: masked */
};

struct virtio_modern {
    struct virtio_device *dev;
    struct pci_function pci;
    uint32_t device_feature_select, driver_feature_select;
    uint64_t driver_features;
    uint16_t config_vector;
    uint16_t queue_vector[VIRTIO_QUEUES_MAX];
    uint8_t config_generation;
    unsigned vectors;                   /* MSI-X table entries, at most VIRTIO_MODERN_VECTORS */
    struct msix_entry msix[VIRTIO_MODERN_VECTORS];
    uint32_t msix_pending;              /* bit per vector: raised while masked */
    /* an MSI: a write of `data` to `address` (the LAPIC model decodes it) */
    void (*msi_send)(void *ctx, uint64_t address, uint32_t data);
    void *msi_ctx;
    uint64_t interrupts_lost;           /* MSI-X on but no usable vector for the source */
};

extern const struct device_ops virtio_modern_ops;      /* the BAR, offset from its base */

/* Put device `d` (type `type`, §5: 1 network, 2 block, 3 console) behind the modern
 * transport; `class_code` for its PCI header. */
void virtio_modern_init(struct virtio_modern *m, struct virtio_device *d, unsigned type,
                        uint32_t class_code,
                        void (*msi_send)(void *ctx, uint64_t address, uint32_t data), void *ctx);
/* Offer `count` MSI-X vectors (1 to VIRTIO_MODERN_VECTORS; the default is one per
 * queue and one for configuration changes).  Before the driver looks: a driver that
 * wants a vector per queue and finds too few shares one among the queues (Linux does,
 * virtio_pci_common.c), so one message then tells of every queue's news. */
void virtio_modern_set_vectors(struct virtio_modern *m, unsigned count);
/* Where the guest put the BAR (0: not yet). */
uint64_t virtio_modern_bar(const struct virtio_modern *m);
bool virtio_modern_msix_enabled(const struct virtio_modern *m);

#endif
